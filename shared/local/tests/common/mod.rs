//! What the command-line tests share: a scratch directory, and `tessera` run as a process.

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};

/// A scratch directory, removed when dropped.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(name: &str) -> Scratch {
        static N: AtomicU64 = AtomicU64::new(0);
        let n = N.fetch_add(1, Ordering::SeqCst);
        let dir = std::env::temp_dir().join(format!("tessera-{name}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `tessera <args>` without the caller's Tessera settings; (success, stdout, stderr).
pub fn tessera(args: &[&str]) -> (bool, String, String) {
    tessera_with(args, &[])
}

/// [`tessera`] with these environment variables.
pub fn tessera_with(args: &[&str], env: &[(&str, &str)]) -> (bool, String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tessera"));
    cmd.args(args);
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy().into_owned();
        if name.starts_with("TESSERA_") {
            cmd.env_remove(name);
        }
    }
    cmd.envs(env.iter().copied());
    let out = cmd.output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// ADMIN_USER_PASSWORD_AUTH of `username` with the tests' password, in process.
pub async fn admin_sign_in(
    svc: &tessera_core::Service,
    pool: &str,
    client: &str,
    username: &str,
) -> Result<serde_json::Value, String> {
    let input = serde_json::json!({
        "UserPoolId": pool, "ClientId": client, "AuthFlow": "ADMIN_USER_PASSWORD_AUTH",
        "AuthParameters": {"USERNAME": username, "PASSWORD": "Correct-Horse-9"}
    });
    let ctx = tessera_core::CallContext::new("http://localhost:9229");
    tessera_core::user_pool::admin_initiate_auth(svc, &ctx, &input)
        .await
        .map_err(|e| format!("{}: {}", e.name(), e.message()))
}

/// A pool named `name`, an app client with `flows`, and confirmed `users` with the tests'
/// password, made in process: (pool id, client id).
pub async fn pool_with_users(
    svc: &tessera_core::Service,
    name: &str,
    flows: &[&str],
    users: &[&str],
) -> (String, String) {
    use serde_json::json;
    use tessera_core::user_pool as up;
    let pool = up::create_user_pool(svc, &json!({"PoolName": name})).await.unwrap();
    let pool = pool["UserPool"]["Id"].as_str().unwrap().to_string();
    let client = up::create_user_pool_client(
        svc,
        &json!({"UserPoolId": pool, "ClientName": "app", "ExplicitAuthFlows": flows}),
    )
    .await
    .unwrap();
    let client = client["UserPoolClient"]["ClientId"].as_str().unwrap().to_string();
    for user in users {
        up::admin_create_user(
            svc,
            &json!({"UserPoolId": pool, "Username": user, "MessageAction": "SUPPRESS"}),
        )
        .await
        .unwrap();
        up::admin_set_user_password(
            svc,
            &json!({"UserPoolId": pool, "Username": user, "Password": "Correct-Horse-9", "Permanent": true}),
        )
        .await
        .unwrap();
    }
    (pool, client)
}
