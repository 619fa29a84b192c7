//! boto3, the AWS CLI and PyJWT against the local server (tests/clients/boto3_and_cli.py).

use crate::common::*;
use std::process::Command;

/// The Python with boto3, awscli and PyJWT: `TESSERA_TEST_PYTHON` (CI sets it, so there the
/// test cannot skip), else `.venv/bin/python` when it has them.
fn python() -> Option<String> {
    if let Ok(p) = std::env::var("TESSERA_TEST_PYTHON") {
        return Some(p);
    }
    let venv = concat!(env!("CARGO_MANIFEST_DIR"), "/../.venv/bin/python");
    let ok = Command::new(venv).args(["-c", "import boto3, jwt, awscli"]).status().is_ok_and(|s| s.success());
    ok.then(|| venv.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn boto3_and_aws_cli() {
    let Some(python) = python() else {
        eprintln!("skipped: no Python with boto3, awscli and PyJWT (set TESSERA_TEST_PYTHON)");
        return;
    };
    let env = TestEnv::start(Backend::Embedded).await.unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/clients/boto3_and_cli.py");
    let url = env.url.clone();
    let out = tokio::task::spawn_blocking(move || {
        Command::new(python)
            .arg(script)
            .env("TESSERA_URL", url)
            .env("TESSERA_KEY_ID", ADMIN_KEY)
            .env("TESSERA_SECRET", ADMIN_SECRET)
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .output()
    })
    .await
    .unwrap()
    .expect("python runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "client script failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("all checks passed"));
}

/// Authlib's client_credentials against the token endpoint (tests/clients/oauth_authlib.py).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authlib_client_credentials_with_custom_scopes() {
    let Some(python) = python() else {
        eprintln!("skipped: no Python with Authlib (set TESSERA_TEST_PYTHON)");
        return;
    };
    let env = TestEnv::start(Backend::Embedded).await.unwrap();
    let (pool, _prefix) = crate::oauth_token::pool_with_domain(&env).await;
    crate::oauth_token::resource_server(&env, &pool, &["read", "write"]).await;
    let (id, secret) = crate::oauth_token::m2m_client(&env, &pool, &["read", "write"]).await;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/clients/oauth_authlib.py");
    let scope = format!("{0}/read {0}/write", crate::oauth_token::API);
    let url = env.url.clone();
    let out = tokio::task::spawn_blocking(move || {
        Command::new(python)
            .arg(script)
            .env("TESSERA_URL", url)
            .env("TESSERA_POOL", pool)
            .env("TESSERA_CLIENT_ID", id)
            .env("TESSERA_CLIENT_SECRET", secret)
            .env("TESSERA_SCOPE", scope)
            .output()
    })
    .await
    .unwrap()
    .expect("python runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "authlib script failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("all checks passed"));
}
