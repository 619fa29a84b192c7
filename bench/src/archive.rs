//! `archive`: `tessera export` and `tessera restore` of a pool of N users (100,000 by default),
//! each run as its own process under `/usr/bin/time`, for users per second and peak memory
//! (maximum resident set). The pool is seeded straight through the service on an embedded
//! store: every user gets a real argon2id hash and a sealed SRP verifier (one computed, the
//! same for all, so seeding takes seconds), every tenth a TOTP secret.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Instant;
use tessera_core::model::User;

fn user(i: usize, prefix: &str, hash: &str, srp: &serde_json::Value, totp: &str) -> Result<User, String> {
    let sub = format!("00000000-0000-4000-8000-{i:012}");
    let mut u: User = serde_json::from_value(serde_json::json!({
        "username": format!("{prefix}{i:06}"), "sub": sub, "attributes": {
            "sub": sub, "email": format!("user{i}@example.com"), "email_verified": "true",
            "given_name": "Alice", "family_name": format!("Family{:04}", i % 1000),
        },
        "status": "CONFIRMED", "enabled": true, "created": 0, "modified": 0,
        "password_hash": hash, "srp": srp,
    }))
    .map_err(|e| e.to_string())?;
    if i.is_multiple_of(10) {
        u.mfa.software_token = Some(totp.to_string());
        u.mfa.software_token_enabled = true;
    }
    Ok(u)
}

/// Seeds `dir` (its key beside it) with one pool of `users` users; returns the pool id.
async fn seed(dir: &Path, users: usize) -> Result<String, String> {
    seed_named(dir, users, "user").await
}

/// [`seed`] with usernames `{prefix}{i:06}`.
pub(crate) async fn seed_named(dir: &Path, users: usize, prefix: &str) -> Result<String, String> {
    let key = tessera_local::server::load_or_create_key(&dir.with_extension("key"))?;
    let store = Arc::new(tessera_local::embedded::EmbeddedStore::open(dir).map_err(|e| e.to_string())?);
    let svc = tessera_local::backup::service(store, &key)?;
    let created =
        tessera_core::user_pool::create_user_pool(&svc, &serde_json::json!({"PoolName": "archive-bench"}))
            .await
            .map_err(|e| e.to_string())?;
    let pool_id = created["UserPool"]["Id"].as_str().unwrap_or_default().to_string();
    let pool = svc.pool(&pool_id).await.map_err(|e| e.to_string())?;
    let (hash, srp) =
        tessera_core::user_pool::secrets::password_secrets(&svc, &pool, "user000000", "Correct-Horse-9")
            .await
            .map_err(|e| e.to_string())?;
    let srp = serde_json::to_value(srp).map_err(|e| e.to_string())?;
    use base64::Engine as _;
    let totp = base64::engine::general_purpose::STANDARD.encode(
        svc.cipher.seal(tessera_core::ports::sealed::TOTP_SECRET, &[7u8; 20]).map_err(|e| e.to_string())?,
    );
    let mut batch = Vec::new();
    for i in 0..users {
        let (writes, _) =
            svc.new_user_writes(&pool, &user(i, prefix, &hash, &srp, &totp)?).map_err(|e| e.to_string())?;
        if batch.len() + writes.len() > tessera_core::store::MAX_TRANSACTION_WRITES {
            svc.store.transact(std::mem::take(&mut batch), 0).await.map_err(|e| e.to_string())?;
        }
        batch.extend(writes);
    }
    if !batch.is_empty() {
        svc.store.transact(batch, 0).await.map_err(|e| e.to_string())?;
    }
    Ok(pool_id)
}

/// Runs `tessera <args>` under `/usr/bin/time`: (seconds, peak resident MB, stdout).
pub(crate) fn timed(tessera: &Path, args: &[String]) -> Result<(f64, f64, String), String> {
    let out = Command::new("/usr/bin/time")
        .arg("-f")
        .arg("TIME %e %M")
        .arg(tessera)
        .args(args)
        .env_remove("TESSERA_KEY_FILE")
        .output()
        .map_err(|e| format!("cannot run /usr/bin/time {}: {e}", tessera.display()))?;
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    if !out.status.success() {
        return Err(format!("tessera {} failed: {stderr}", args.join(" ")));
    }
    let line = stderr.lines().rev().find(|l| l.starts_with("TIME ")).ok_or("no /usr/bin/time line")?;
    let mut parts = line.split_whitespace().skip(1);
    let secs: f64 = parts.next().and_then(|s| s.parse().ok()).ok_or("no elapsed time")?;
    let kb: f64 = parts.next().and_then(|s| s.parse().ok()).ok_or("no peak memory")?;
    Ok((secs, kb / 1024.0, String::from_utf8_lossy(&out.stdout).into_owned()))
}

/// Runs `measure` in a fresh scratch directory under the system's temporary one, removed after.
pub async fn in_scratch_dir<F: std::future::Future<Output = Result<(), String>>>(
    name: &str,
    measure: impl FnOnce(PathBuf) -> F,
) -> Result<(), String> {
    let root = std::env::temp_dir().join(format!("tessera-bench-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).map_err(|e| e.to_string())?;
    let result = measure(root.clone()).await;
    let _ = std::fs::remove_dir_all(&root);
    result
}

pub async fn run(users: usize, tessera: PathBuf) -> Result<(), String> {
    in_scratch_dir("archive", |root| async move { measure(&root, users, &tessera).await }).await
}

async fn measure(root: &Path, users: usize, tessera: &Path) -> Result<(), String> {
    let source = root.join("source");
    let t = Instant::now();
    let pool = seed(&source, users).await?;
    println!("seeded {users} users in {:.1} s", t.elapsed().as_secs_f64());

    let identity = root.join("archive.key");
    let (_, _, out) =
        timed(tessera, &["archive-keygen".into(), "--out".into(), identity.display().to_string()])?;
    let recipient = out
        .lines()
        .find_map(|l| l.strip_prefix("recipient (for --recipient): "))
        .ok_or("archive-keygen printed no recipient")?
        .to_string();
    let archive = root.join("pool.tessera");
    let store = |dir: &Path| {
        vec![
            "--data-dir".to_string(),
            dir.display().to_string(),
            "--key-file".into(),
            dir.with_extension("key").display().to_string(),
        ]
    };
    let mut export = vec!["export".to_string(), "--user-pool".into(), pool, "--recipient".into(), recipient];
    export.extend(store(&source));
    export.extend(["--out".into(), archive.display().to_string()]);
    let (secs, mb, _) = timed(tessera, &export)?;
    let bytes = std::fs::metadata(&archive).map_err(|e| e.to_string())?.len();
    println!(
        "export:  {users} users in {secs:.1} s = {:.0} users/s, peak {mb:.0} MB resident; archive {:.1} MB ({:.0} bytes/user)",
        users as f64 / secs,
        bytes as f64 / 1e6,
        bytes as f64 / users as f64
    );
    let target = root.join("target");
    let mut restore = vec!["restore".to_string(), archive.display().to_string(), "--identity".into()];
    restore.push(identity.display().to_string());
    restore.extend(store(&target));
    let (secs, mb, out) = timed(tessera, &restore)?;
    if !out.contains(&format!("{users} users")) {
        return Err(format!("restore did not report {users} users: {out}"));
    }
    println!(
        "restore: {users} users in {secs:.1} s = {:.0} users/s, peak {mb:.0} MB resident",
        users as f64 / secs
    );
    Ok(())
}
