//! CSV user import: GetCSVHeader, the job lifecycle, the upload through the pre-signed URL, row
//! rules, RESET_REQUIRED users, and users imported with password hashes.

use crate::common::*;
use crate::on_both_stores;
use argon2::password_hash::{PasswordHasher as _, SaltString};
use aws_sdk_cognitoidentityprovider as cip;
use cip::types::{UserImportJobStatusType as Status, UserImportJobType};
use std::time::Duration;

const ROLE: &str = "arn:aws:iam::123456789012:role/CognitoImportLogs";
const OLD_PASSWORD: &str = "Legacy-Pass-7";

/// A pool with plain usernames, email auto-verified, and one custom attribute.
async fn import_pool(env: &TestEnv) -> String {
    env.pool(|b| {
        b.auto_verified_attributes(cip::types::VerifiedAttributeType::Email).schema(
            cip::types::SchemaAttributeType::builder()
                .name("tier")
                .attribute_data_type(cip::types::AttributeDataType::String)
                .build(),
        )
    })
    .await
}

async fn create_job(env: &TestEnv, pool: &str) -> UserImportJobType {
    env.client
        .create_user_import_job()
        .user_pool_id(pool)
        .job_name(unique("job"))
        .cloud_watch_logs_role_arn(ROLE)
        .send()
        .await
        .expect("create job")
        .user_import_job()
        .cloned()
        .expect("job")
}

async fn header(env: &TestEnv, pool: &str) -> Vec<String> {
    env.client.get_csv_header().user_pool_id(pool).send().await.expect("header").csv_header().to_vec()
}

/// A file with the pool's header (plus the hash column when asked) and one line per row; each
/// row names only the columns it sets.
fn csv(header: &[String], with_hash: bool, rows: &[Vec<(&str, String)>]) -> String {
    let mut cols: Vec<String> = header.to_vec();
    if with_hash {
        cols.push("tessera:password_hash".into());
    }
    let mut out = cols.join(",") + "\n";
    for row in rows {
        let line: Vec<String> = cols
            .iter()
            .map(|c| row.iter().find(|(k, _)| k == c).map(|(_, v)| v.replace(',', "\\,")).unwrap_or_default())
            .collect();
        out += &line.join(",");
        out += "\n";
    }
    out
}

fn user_row(name: &str) -> Vec<(&'static str, String)> {
    vec![
        ("cognito:username", name.to_string()),
        ("cognito:mfa_enabled", "FALSE".into()),
        ("email", format!("{name}@example.com")),
        ("email_verified", "TRUE".into()),
    ]
}

/// PUTs a file to a pre-signed URL the way Cognito's guide does (`curl -T` with SSE-KMS).
async fn upload(url: &str, body: &str) -> u16 {
    let rest = url.strip_prefix("http://").expect("http url");
    let (host, path) = rest.split_at(rest.find('/').expect("path"));
    let (status, _, _) = raw_http(
        &format!("http://{host}"),
        "PUT",
        path,
        &[("x-amz-server-side-encryption", "aws:kms"), ("Content-Type", "text/csv")],
        body.as_bytes(),
    )
    .await;
    status
}

async fn describe(env: &TestEnv, pool: &str, job_id: &str) -> UserImportJobType {
    env.client
        .describe_user_import_job()
        .user_pool_id(pool)
        .job_id(job_id)
        .send()
        .await
        .expect("describe")
        .user_import_job()
        .cloned()
        .expect("job")
}

async fn wait_done(env: &TestEnv, pool: &str, job_id: &str) -> UserImportJobType {
    for _ in 0..1200 {
        let job = describe(env, pool, job_id).await;
        if matches!(job.status(), Some(Status::Succeeded | Status::Failed | Status::Stopped)) {
            return job;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("job {job_id} did not finish");
}

async fn start(env: &TestEnv, pool: &str, job_id: &str) -> Result<UserImportJobType, String> {
    env.client
        .start_user_import_job()
        .user_pool_id(pool)
        .job_id(job_id)
        .send()
        .await
        .map(|o| o.user_import_job().cloned().expect("job"))
        .map_err(err_name)
}

/// Creates a job, uploads the file, starts it and waits for the end.
async fn run_import(env: &TestEnv, pool: &str, body: &str) -> UserImportJobType {
    let job = create_job(env, pool).await;
    assert_eq!(upload(job.pre_signed_url().unwrap(), body).await, 200);
    let started = start(env, pool, job.job_id().unwrap()).await.unwrap();
    assert!(matches!(started.status(), Some(Status::Pending | Status::InProgress)), "{started:?}");
    assert!(started.start_date().is_some());
    wait_done(env, pool, job.job_id().unwrap()).await
}

fn import_log(env: &TestEnv, pool: &str, job_id: &str) -> String {
    std::fs::read_to_string(env.data_dir().join("import-logs").join(pool).join(format!("{job_id}.log")))
        .unwrap_or_default()
}

on_both_stores!(csv_header_is_cognitos, |env| {
    let pool = import_pool(env).await;
    let out = env.client.get_csv_header().user_pool_id(&pool).send().await.unwrap();
    assert_eq!(out.user_pool_id(), Some(pool.as_str()));
    let expected =
        "name,given_name,family_name,middle_name,nickname,preferred_username,profile,picture,website,\
        email,email_verified,gender,birthdate,zoneinfo,locale,phone_number,phone_number_verified,address,\
        updated_at,custom:tier,cognito:mfa_enabled,cognito:username";
    assert_eq!(out.csv_header().join(","), expected);
    let e = env.client.get_csv_header().user_pool_id("us-east-1_Nope12345").send().await.map_err(err_name);
    assert!(e.unwrap_err().starts_with("ResourceNotFoundException"));
});

on_both_stores!(jobs_are_created_described_and_listed, |env| {
    let pool = import_pool(env).await;
    let first = create_job(env, &pool).await;
    assert_eq!(first.status(), Some(&Status::Created));
    assert!(first.job_id().unwrap().starts_with("import-"));
    assert_eq!(first.cloud_watch_logs_role_arn(), Some(ROLE));
    assert!(first.pre_signed_url().unwrap().contains("/_import/"));
    assert_eq!((first.imported_users(), first.skipped_users(), first.failed_users()), (0, 0, 0));
    assert!(first.creation_date().is_some() && first.start_date().is_none());
    let described = describe(env, &pool, first.job_id().unwrap()).await;
    assert_eq!(described.job_name(), first.job_name());
    tokio::time::sleep(Duration::from_millis(5)).await;
    let second = create_job(env, &pool).await;
    tokio::time::sleep(Duration::from_millis(5)).await;
    let third = create_job(env, &pool).await;

    let page = env.client.list_user_import_jobs().user_pool_id(&pool).max_results(2).send().await.unwrap();
    let ids: Vec<&str> = page.user_import_jobs().iter().filter_map(|j| j.job_id()).collect();
    assert_eq!(ids, vec![third.job_id().unwrap(), second.job_id().unwrap()], "newest first");
    let token = page.pagination_token().expect("more");
    let rest = env
        .client
        .list_user_import_jobs()
        .user_pool_id(&pool)
        .max_results(2)
        .pagination_token(token)
        .send()
        .await
        .unwrap();
    let ids: Vec<&str> = rest.user_import_jobs().iter().filter_map(|j| j.job_id()).collect();
    assert_eq!(ids, vec![first.job_id().unwrap()]);
    assert!(rest.pagination_token().is_none());

    let e = env
        .client
        .create_user_import_job()
        .user_pool_id(&pool)
        .job_name("x")
        .cloud_watch_logs_role_arn("arn:aws:s3:::123456789012:bucket")
        .send()
        .await
        .map_err(err_name)
        .unwrap_err();
    assert!(e.starts_with("InvalidParameterException"), "{e}");
    let e = env
        .client
        .describe_user_import_job()
        .user_pool_id(&pool)
        .job_id("import-Nope000000")
        .send()
        .await
        .map_err(err_name)
        .unwrap_err();
    assert_eq!(e, "ResourceNotFoundException: Import job import-Nope000000 does not exist.");
});

on_both_stores!(import_rows_succeed_fail_and_skip, |env| {
    let pool = import_pool(env).await;
    let (client_id, _) = env.app_client(&pool, &["ALLOW_USER_PASSWORD_AUTH"], false).await;
    // An existing user: its row is skipped, not overwritten.
    env.client
        .sign_up()
        .client_id(&client_id)
        .username("existing")
        .password(PASSWORD)
        .user_attributes(attr("email", "existing@example.com"))
        .send()
        .await
        .unwrap();
    let h = header(env, &pool).await;
    let mut full = user_row("ann");
    full.extend([
        ("name", "Ann, the First".to_string()),
        ("birthdate", "02/01/1985".into()),
        ("updated_at", "1471453471".into()),
        ("custom:tier", "  gold  ".into()),
    ]);
    let mut no_username = user_row("x");
    no_username[0].1 = String::new();
    let mut unverified = user_row("carl");
    unverified[3].1 = "FALSE".into();
    let mut bad_hash = user_row("dora");
    bad_hash.push((
        "tessera:password_hash",
        "$2b$31$notarealhashnotarealhashnotarealhashnotarealhashnotar".into(),
    ));
    let body = csv(
        &h,
        true,
        &[full, user_row("bob"), no_username, unverified, user_row("existing"), bad_hash, user_row("bob")],
    );
    let job = run_import(env, &pool, &body).await;
    assert_eq!(job.status(), Some(&Status::Succeeded), "{job:?}");
    assert_eq!((job.imported_users(), job.skipped_users(), job.failed_users()), (2, 2, 3));
    assert!(job.completion_date().is_some() && job.completion_message().is_some());

    let ann = env.client.admin_get_user().user_pool_id(&pool).username("ann").send().await.unwrap();
    assert_eq!(ann.user_status(), Some(&cip::types::UserStatusType::ResetRequired));
    let attr_of = |n: &str| {
        ann.user_attributes().iter().find(|a| a.name() == n).and_then(|a| a.value()).map(str::to_string)
    };
    assert_eq!(attr_of("name").as_deref(), Some("Ann, the First"));
    assert_eq!(attr_of("birthdate").as_deref(), Some("1985-02-01"));
    assert_eq!(attr_of("custom:tier").as_deref(), Some("gold"));
    assert_eq!(attr_of("email_verified").as_deref(), Some("true"));
    assert!(attr_of("sub").is_some());
    // The existing user is untouched.
    let existing = env.client.admin_get_user().user_pool_id(&pool).username("existing").send().await.unwrap();
    assert_eq!(existing.user_status(), Some(&cip::types::UserStatusType::Unconfirmed));

    // RESET_REQUIRED: sign-in says the password must be reset, whatever was typed.
    let e = env.password_sign_in(&client_id, "ann", "Anything-1").await.unwrap_err();
    assert_eq!(e, "PasswordResetRequiredException: Password reset required for the user");

    let log = import_log(env, &pool, job.job_id().unwrap());
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(lines.len(), 7, "{log}");
    assert_eq!(lines[0], "[SUCCEEDED] Line Number 2 - The import succeeded.");
    assert!(lines[2].starts_with("[FAILED] Line Number 4 - The User Record does not set cognito:username"));
    assert!(lines[3]
        .starts_with("[FAILED] Line Number 5 - The User Record does not set any of the auto verified"));
    assert_eq!(lines[4], "[SKIPPED] Line Number 6 - The user already exists.");
    assert!(lines[5].starts_with("[FAILED] Line Number 7 - The password hash"));
    assert_eq!(lines[6], "[SKIPPED] Line Number 8 - The user already exists.");
    assert!(!log.contains("example.com") && !log.contains("ann") && !log.contains("$2b$"), "no user data");
    // The uploaded file (user data) is gone once the job ends.
    assert!(!env
        .data_dir()
        .join("imports")
        .join(&pool)
        .join(format!("{}.csv", job.job_id().unwrap()))
        .exists());
});

on_both_stores!(bad_files_fail_the_job, |env| {
    let pool = import_pool(env).await;
    let h = header(env, &pool).await;
    // A column missing from the header.
    let short: Vec<String> = h.iter().filter(|c| *c != "website").cloned().collect();
    let job = run_import(env, &pool, &csv(&short, false, &[user_row("a")])).await;
    assert_eq!(job.status(), Some(&Status::Failed));
    assert_eq!(job.completion_message(), Some("The CSV header does not have every column of GetCSVHeader."));
    // A byte order mark.
    let job = run_import(env, &pool, &format!("\u{feff}{}", csv(&h, false, &[user_row("a")]))).await;
    assert_eq!(job.status(), Some(&Status::Failed));
    // Every row failed or skipped.
    let mut bad = user_row("b");
    bad[3].1 = "no".into();
    let job = run_import(env, &pool, &csv(&h, false, &[bad])).await;
    assert_eq!(job.status(), Some(&Status::Failed));
    assert_eq!(
        job.completion_message(),
        Some("Too many users have failed or been skipped during the import.")
    );
    // Columns in another order, values padded: fine.
    let mut reordered = h.clone();
    reordered.reverse();
    let job =
        run_import(env, &pool, &csv(&reordered, false, &[user_row("c")]).replace(",c,", ",  c  ,")).await;
    assert_eq!(job.status(), Some(&Status::Succeeded), "{job:?}");
    env.client.admin_get_user().user_pool_id(&pool).username("c").send().await.unwrap();
});

fn hashes() -> Vec<(&'static str, String)> {
    let salt = SaltString::encode_b64(&[7u8; 16]).unwrap();
    let bcrypt =
        bcrypt::hash_with_salt(OLD_PASSWORD, 5, [1u8; 16]).unwrap().format_for_version(bcrypt::Version::TwoB);
    let argon = argon2::Argon2::new(
        argon2::Algorithm::Argon2id,
        argon2::Version::V0x13,
        argon2::Params::new(2048, 1, 1, None).unwrap(),
    )
    .hash_password(OLD_PASSWORD.as_bytes(), &salt)
    .unwrap()
    .to_string();
    let scrypt = scrypt::Scrypt
        .hash_password_customized(
            OLD_PASSWORD.as_bytes(),
            None,
            None,
            scrypt::Params::new(10, 8, 1, 32).unwrap(),
            &salt,
        )
        .unwrap()
        .to_string();
    let pbkdf2 = pbkdf2::Pbkdf2
        .hash_password_customized(
            OLD_PASSWORD.as_bytes(),
            Some(pbkdf2::Algorithm::Pbkdf2Sha256.ident()),
            None,
            pbkdf2::Params { rounds: 10_000, output_length: 32 },
            &salt,
        )
        .unwrap()
        .to_string();
    vec![("bcrypt", bcrypt), ("argon", argon), ("scrypt", scrypt), ("pbkdf", pbkdf2)]
}

on_both_stores!(hash_users_sign_in_with_their_old_password, |env| {
    let pool = import_pool(env).await;
    let (client_id, _) = env.app_client(&pool, &["ALLOW_USER_PASSWORD_AUTH"], false).await;
    let h = header(env, &pool).await;
    let rows: Vec<Vec<(&str, String)>> = hashes()
        .into_iter()
        .map(|(name, hash)| {
            let mut r = user_row(name);
            r.push(("tessera:password_hash", hash));
            r
        })
        .collect();
    let job = run_import(env, &pool, &csv(&h, true, &rows)).await;
    assert_eq!((job.imported_users(), job.failed_users()), (4, 0), "{job:?}");
    for (name, _) in hashes() {
        let user = env.client.admin_get_user().user_pool_id(&pool).username(name).send().await.unwrap();
        assert_eq!(user.user_status(), Some(&cip::types::UserStatusType::Confirmed), "{name}");
        let e = env.password_sign_in(&client_id, name, "Wrong-Pass-7").await.unwrap_err();
        assert_eq!(e, "NotAuthorizedException: Incorrect username or password.", "{name}");
        let tokens = env.password_sign_in(&client_id, name, OLD_PASSWORD).await.expect(name);
        assert!(tokens.access_token().is_some());
        // Upgraded to Tessera's own hash: signing in again still works, the wrong one still fails.
        env.password_sign_in(&client_id, name, OLD_PASSWORD).await.expect(name);
        assert!(env.password_sign_in(&client_id, name, "Wrong-Pass-7").await.is_err());
    }
});

on_both_stores!(job_algorithm_must_match_hashes, |env| {
    let pool = import_pool(env).await;
    let h = header(env, &pool).await;
    let job = env
        .client
        .create_user_import_job()
        .user_pool_id(&pool)
        .job_name("bcrypt-only")
        .cloud_watch_logs_role_arn(ROLE)
        .password_hashing_algorithm(cip::types::PasswordHashingAlgorithmType::Bcrypt)
        .send()
        .await
        .unwrap()
        .user_import_job()
        .cloned()
        .unwrap();
    assert_eq!(job.password_hashing_algorithm(), Some(&cip::types::PasswordHashingAlgorithmType::Bcrypt));
    let rows: Vec<Vec<(&str, String)>> = hashes()
        .into_iter()
        .map(|(name, hash)| {
            let mut r = user_row(name);
            r.push(("tessera:password_hash", hash));
            r
        })
        .collect();
    assert_eq!(upload(job.pre_signed_url().unwrap(), &csv(&h, true, &rows)).await, 200);
    start(env, &pool, job.job_id().unwrap()).await.unwrap();
    let done = wait_done(env, &pool, job.job_id().unwrap()).await;
    assert_eq!((done.imported_users(), done.failed_users()), (1, 3), "{done:?}");
});

/// Enough rows that a job is still running when the test acts on it.
fn big_file(h: &[String], n: usize) -> String {
    let rows: Vec<Vec<(&str, String)>> = (0..n).map(|i| user_row(&format!("u{i}"))).collect();
    csv(h, false, &rows)
}

on_both_stores!(stop_one_active_job_and_no_restart, |env| {
    let pool = import_pool(env).await;
    let h = header(env, &pool).await;
    let body = big_file(&h, 20_000);
    let job = create_job(env, &pool).await;
    let other = create_job(env, &pool).await;
    let id = job.job_id().unwrap();
    assert_eq!(upload(job.pre_signed_url().unwrap(), &body).await, 200);
    start(env, &pool, id).await.unwrap();
    let e = start(env, &pool, id).await.unwrap_err();
    assert!(e.starts_with("PreconditionNotMetException"), "{e}");
    let e = start(env, &pool, other.job_id().unwrap()).await.unwrap_err();
    assert_eq!(e, "LimitExceededException: A user import job is already in progress for this user pool.");
    // The pool cannot be deleted or reconfigured under a running job.
    let e = env.client.delete_user_pool().user_pool_id(&pool).send().await.map_err(err_name).unwrap_err();
    assert!(e.starts_with("UserImportInProgressException: "), "{e}");
    let e = env.client.update_user_pool().user_pool_id(&pool).send().await.map_err(err_name).unwrap_err();
    assert!(e.starts_with("UserImportInProgressException: "), "{e}");

    let stopped = env.client.stop_user_import_job().user_pool_id(&pool).job_id(id).send().await.unwrap();
    let status = stopped.user_import_job().and_then(|j| j.status()).cloned();
    assert!(matches!(status, Some(Status::Stopping | Status::Stopped)), "{status:?}");
    let done = wait_done(env, &pool, id).await;
    assert_eq!(done.status(), Some(&Status::Stopped));
    assert_eq!(done.completion_message(), Some("The Import Job was stopped by the developer."));
    assert!(done.imported_users() < 20_000, "{done:?}");
    let e = start(env, &pool, id).await.unwrap_err();
    assert!(e.starts_with("PreconditionNotMetException"), "a stopped job cannot restart: {e}");
    let e = env.client.stop_user_import_job().user_pool_id(&pool).job_id(id).send().await.map_err(err_name);
    assert!(e.unwrap_err().starts_with("PreconditionNotMetException"));

    // The pool is free again: the other job runs (and finds nothing uploaded).
    let other_started = start(env, &pool, other.job_id().unwrap()).await.unwrap();
    assert_eq!(other_started.status(), Some(&Status::Pending));
    let other_done = wait_done(env, &pool, other.job_id().unwrap()).await;
    assert_eq!(other_done.status(), Some(&Status::Failed));
    assert_eq!(other_done.completion_message(), Some("No CSV file was uploaded for the import job."));
});

on_both_stores!(urls_and_jobs_expire, |env| {
    let pool = import_pool(env).await;
    let h = header(env, &pool).await;
    let job = create_job(env, &pool).await;
    let url = job.pre_signed_url().unwrap().to_string();
    assert_eq!(upload(&url.replace("signature=", "signature=00"), "x").await, 403, "tampered");
    env.clock.advance_secs(16 * 60);
    assert_eq!(upload(&url, &csv(&h, false, &[user_row("late")])).await, 403, "the URL lives 15 minutes");
    env.clock.advance_secs(24 * 3600);
    let expired = describe(env, &pool, job.job_id().unwrap()).await;
    assert_eq!(expired.status(), Some(&Status::Expired));
    let e = start(env, &pool, job.job_id().unwrap()).await.unwrap_err();
    assert!(e.starts_with("PreconditionNotMetException"), "{e}");
    let e = start(env, &pool, "import-Nope000000").await.unwrap_err();
    assert!(e.starts_with("ResourceNotFoundException"), "{e}");
});

on_both_stores!(pools_without_auto_verification_cannot_import, |env| {
    let pool = env.pool(|b| b).await;
    let job = create_job(env, &pool).await;
    let e = start(env, &pool, job.job_id().unwrap()).await.unwrap_err();
    assert!(
        e.starts_with("PreconditionNotMetException: The user pool has no auto-verified attributes"),
        "{e}"
    );
});

on_both_stores!(email_username_pools_import_by_email, |env| {
    let pool = env.email_pool().await;
    let (client_id, _) = env.app_client(&pool, &["ALLOW_USER_PASSWORD_AUTH"], false).await;
    let h = header(env, &pool).await;
    let mut row = vec![
        ("cognito:username", "eve@example.com".to_string()),
        ("cognito:mfa_enabled", "false".into()),
        ("email_verified", "true".into()),
    ];
    row.push(("tessera:password_hash", hashes().remove(0).1));
    let job = run_import(env, &pool, &csv(&h, true, &[row])).await;
    assert_eq!(job.imported_users(), 1, "{job:?}");
    let user =
        env.client.admin_get_user().user_pool_id(&pool).username("eve@example.com").send().await.unwrap();
    assert_ne!(user.username(), "eve@example.com", "the internal username is the sub");
    env.password_sign_in(&client_id, "eve@example.com", OLD_PASSWORD).await.unwrap();
    // Importing the same email again is a skip.
    let again = run_import(
        env,
        &pool,
        &csv(
            &h,
            false,
            &[vec![
                ("cognito:username", "eve@example.com".to_string()),
                ("cognito:mfa_enabled", "false".into()),
                ("email_verified", "true".into()),
            ]],
        ),
    )
    .await;
    assert_eq!((again.imported_users(), again.skipped_users()), (0, 1));
});

on_both_stores!(a_stalled_job_frees_its_pool, |env| {
    use tessera_core::ports::Clock;
    use tessera_core::store::{Cond, Item, Write};
    let pool = import_pool(env).await;
    let dead = create_job(env, &pool).await;
    let next = create_job(env, &pool).await;
    // A job whose runner died mid-way (a crashed worker, a stopped server): InProgress, holding
    // the pool, saving no more progress.
    let store = env.server.state.frontend.service.store.clone();
    let pk = format!("IMPORTJOBS#{pool}");
    let sk = format!("JOB#{}", dead.job_id().unwrap());
    let mut item = store.get(&pk, &sk, 0).await.unwrap().unwrap();
    let now_ms = env.clock.now_millis();
    item.body["status"] = "InProgress".into();
    item.body["start_ms"] = now_ms.into();
    item.body["heartbeat_ms"] = now_ms.into();
    item.version += 1;
    let lock = Item::new(pk.clone(), "ACTIVE", serde_json::json!({"jobId": dead.job_id().unwrap()}));
    store.transact(vec![Write::put(item, Cond::None), Write::put(lock, Cond::None)], 0).await.unwrap();

    let e = start(env, &pool, next.job_id().unwrap()).await.unwrap_err();
    assert!(e.starts_with("LimitExceededException"), "{e}");
    env.clock.advance_secs(21 * 60);
    start(env, &pool, next.job_id().unwrap()).await.expect("the stalled job no longer holds the pool");
    let failed = describe(env, &pool, dead.job_id().unwrap()).await;
    assert_eq!(failed.status(), Some(&Status::Failed));
    assert_eq!(failed.completion_message(), Some("The import job stopped responding."));
});
