//! `listusers`: ListUsers latency in a large pool, through the SDK against an in-process local
//! server on the embedded store. The pool is seeded straight through the service (the same
//! user and index writes SignUp makes, without the password hash), so 100,000 users take
//! seconds rather than the hours argon2 would.

use crate::{ms, percentile, sdk_client};
use std::time::{Duration, Instant};
use tessera_core::model::{User, UserStatus};

const FAMILY_NAMES: usize = 1000;
const GIVEN: &[&str] =
    &["Alice", "Albert", "Bob", "Carol", "Dave", "Erin", "Frank", "Grace", "Heidi", "Ivan"];

fn user(i: usize) -> Result<User, String> {
    let sub = format!("00000000-0000-4000-8000-{i:012}");
    let attributes = [
        ("sub", sub.clone()),
        ("email", format!("user{i}@example.com")),
        ("email_verified", "true".into()),
        ("given_name", GIVEN[i % GIVEN.len()].into()),
        ("family_name", format!("Family{:04}", i % FAMILY_NAMES)),
        ("phone_number", format!("+1555{i:07}")),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let mut u: User = serde_json::from_value(serde_json::json!({
        "username": format!("user{i:06}"), "sub": sub, "attributes": {}, "status": "CONFIRMED",
        "enabled": true, "created": 0, "modified": 0, "password_hash": null, "srp": null,
    }))
    .map_err(|e| e.to_string())?;
    u.attributes = attributes;
    if i.is_multiple_of(50) {
        u.status = UserStatus::UNCONFIRMED;
    }
    Ok(u)
}

pub async fn run(users: usize, samples: usize) -> Result<(), String> {
    let dir = std::env::temp_dir().join(format!("tessera-bench-listusers-{}", std::process::id()));
    let mut cfg = tessera_local::LocalConfig::new(dir.clone());
    cfg.key_file = Some(dir.with_extension("key"));
    cfg.bind = "127.0.0.1:0".parse().map_err(|e| format!("{e}"))?;
    let server = tessera_local::start(cfg).await?;
    let result = measure(&server, users, samples).await;
    server.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_file(dir.with_extension("key"));
    result
}

async fn measure(
    server: &tessera_local::server::Running,
    users: usize,
    samples: usize,
) -> Result<(), String> {
    let client = sdk_client(&server.url());
    let created = client
        .create_user_pool()
        .pool_name("listusers-bench")
        .send()
        .await
        .map_err(|e| format!("create pool: {e:?}"))?;
    let pool_id = created.user_pool().and_then(|p| p.id()).unwrap_or_default().to_string();
    let svc = server.state.frontend.service.clone();
    let pool = svc.pool(&pool_id).await.map_err(|e| e.to_string())?;

    let t = Instant::now();
    let mut batch = Vec::new();
    for i in 0..users {
        let (writes, _) = svc.new_user_writes(&pool, &user(i)?).map_err(|e| e.to_string())?;
        if batch.len() + writes.len() > tessera_core::store::MAX_TRANSACTION_WRITES {
            svc.store.transact(std::mem::take(&mut batch), 0).await.map_err(|e| e.to_string())?;
        }
        batch.extend(writes);
    }
    if !batch.is_empty() {
        svc.store.transact(batch, 0).await.map_err(|e| e.to_string())?;
    }
    let seeded = t.elapsed();
    println!(
        "seeded {users} users in {:.1} s ({:.0} users/s)",
        seeded.as_secs_f64(),
        users as f64 / seeded.as_secs_f64()
    );

    let cases: Vec<(String, String, i32)> = vec![
        ("exact email".into(), format!("email = \"user{}@example.com\"", users / 2), 60),
        ("exact family_name (~100 match)".into(), "family_name = \"Family0042\"".into(), 60),
        ("prefix given_name (20% match)".into(), "given_name ^= \"Al\"".into(), 60),
        ("cognito:user_status = unconfirmed".into(), "cognito:user_status = \"unconfirmed\"".into(), 60),
        ("sub".into(), format!("sub = \"00000000-0000-4000-8000-{:012}\"", users / 3), 60),
        ("no filter, first page".into(), String::new(), 60),
    ];
    println!("| ListUsers ({users} users) | p50 ms | p99 ms | users returned |");
    println!("|---|---|---|---|");
    for (name, filter, limit) in cases {
        let mut lat = Vec::with_capacity(samples);
        let mut returned = 0;
        for _ in 0..samples {
            let t = Instant::now();
            let out = client
                .list_users()
                .user_pool_id(&pool_id)
                .filter(&filter)
                .limit(limit)
                .send()
                .await
                .map_err(|e| format!("list users: {e:?}"))?;
            lat.push(t.elapsed());
            returned = out.users().len();
        }
        lat.sort();
        println!(
            "| {name} | {:.2} | {:.2} | {returned} |",
            ms(percentile(&lat, 50.0)),
            ms(percentile(&lat, 99.0))
        );
    }

    // Paging through every match of a 20% prefix, 60 at a time.
    let t = Instant::now();
    let (mut pages, mut total, mut token) = (0, 0, None::<String>);
    let mut per_page: Vec<Duration> = Vec::new();
    loop {
        let p = Instant::now();
        let out = client
            .list_users()
            .user_pool_id(&pool_id)
            .filter("given_name ^= \"Al\"")
            .set_pagination_token(token.clone())
            .send()
            .await
            .map_err(|e| format!("list users: {e:?}"))?;
        per_page.push(p.elapsed());
        pages += 1;
        total += out.users().len();
        token = out.pagination_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    per_page.sort();
    println!(
        "paged {total} users in {pages} pages in {:.1} s (p50 {:.2} ms, p99 {:.2} ms per page)",
        t.elapsed().as_secs_f64(),
        ms(percentile(&per_page, 50.0)),
        ms(percentile(&per_page, 99.0))
    );
    Ok(())
}
