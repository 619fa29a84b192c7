//! Amplify JS v6 (`aws-amplify`), the client most Cognito apps use, keeps its session: it signs
//! in by SRP, then refreshes with GetTokensFromRefreshToken when asked (forceRefresh) and when its
//! clock says the tokens have expired, and carries on with the new tokens (fetchUserAttributes).
//! With rotation on, each refresh must use the refresh token the previous one returned. The node
//! script tests/js/amplify-client.mjs drives Amplify; one store is enough (refresh_rotation.rs
//! covers both).

use crate::common::*;
use aws_sdk_cognitoidentityprovider as cip;
use serde_json::{json, Value};

/// Runs the Amplify script with one JSON argument and returns the JSON line it prints.
async fn run_amplify(input: Value) -> Value {
    run_node("amplify-client.mjs", &["aws-amplify"], input).await
}

/// Signs in through Amplify and lives four (Amplify) hours; returns what the script reported.
async fn amplify_session(rotation: bool) -> (Value, String) {
    let env = TestEnv::start(Backend::Embedded).await.expect("server");
    let pool = env.email_pool().await;
    let mut b = env
        .client
        .create_user_pool_client()
        .user_pool_id(&pool)
        .client_name("web")
        .explicit_auth_flows(cip::types::ExplicitAuthFlowsType::AllowUserSrpAuth)
        .explicit_auth_flows(cip::types::ExplicitAuthFlowsType::AllowRefreshTokenAuth);
    if rotation {
        b = b.refresh_token_rotation(
            cip::types::RefreshTokenRotationType::builder()
                .feature(cip::types::FeatureType::Enabled)
                .build()
                .unwrap(),
        );
    }
    let client_id = b.send().await.unwrap().user_pool_client().unwrap().client_id().unwrap().to_string();
    env.confirmed_user(&client_id, "amy@example.com").await;
    let report = run_amplify(json!({
        "endpoint": format!("{}/", env.url),
        "userPoolId": pool,
        "clientId": client_id,
        "username": "amy@example.com",
        "password": PASSWORD,
    }))
    .await;
    (report, client_id)
}

fn refreshes(report: &Value) -> Vec<&Value> {
    report["requests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["operation"] == "GetTokensFromRefreshToken")
        .collect()
}

fn check_session(report: &Value) {
    assert_eq!(report["ok"], true, "{report:#}");
    let steps = report["steps"].as_array().unwrap();
    let names: Vec<&str> = steps.iter().map(|s| s["step"].as_str().unwrap()).collect();
    assert_eq!(names, ["fetchAuthSession", "forceRefresh", "after2h", "after4h"]);
    // Each refresh gave Amplify a new access token, and it used it.
    let jtis: std::collections::BTreeSet<&str> =
        steps.iter().map(|s| s["accessJti"].as_str().unwrap()).collect();
    assert_eq!(jtis.len(), 4, "{report:#}");
    assert_eq!(steps[2]["email"], "amy@example.com");
    assert_eq!(steps[3]["email"], "amy@example.com");
    let refreshes = refreshes(report);
    assert_eq!(refreshes.len(), 3, "forceRefresh and two expiries: {report:#}");
    assert!(refreshes.iter().all(|r| r["status"] == 200), "{report:#}");
    let failed: Vec<&Value> =
        report["requests"].as_array().unwrap().iter().filter(|r| r["status"] != 200).collect();
    assert!(failed.is_empty(), "{failed:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn amplify_v6_keeps_its_session_by_refreshing() {
    let (report, _) = amplify_session(false).await;
    check_session(&report);
    // Without rotation: the one refresh token from the sign-in, every time.
    let sent: Vec<&Value> = refreshes(&report).iter().map(|r| &r["sentRefreshToken"]).collect();
    assert!(sent.windows(2).all(|w| w[0] == w[1]), "{report:#}");
    assert!(refreshes(&report).iter().all(|r| r["gotRefreshToken"].is_null()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn amplify_v6_follows_refresh_token_rotation() {
    let (report, _) = amplify_session(true).await;
    check_session(&report);
    // Each refresh sent the token the previous one returned (a spent one would have been reuse,
    // and the whole session revoked).
    let r = refreshes(&report);
    for pair in r.windows(2) {
        assert!(!pair[0]["gotRefreshToken"].is_null(), "{report:#}");
        assert_eq!(pair[1]["sentRefreshToken"], pair[0]["gotRefreshToken"], "{report:#}");
    }
}
