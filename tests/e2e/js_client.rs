//! amazon-cognito-identity-js, the reference client of Amplify and most web apps, signs in to a
//! real server over HTTP: its default USER_SRP_AUTH flow, a TOTP MFA sign-in and a remembered
//! device. The node script tests/js/cognito-client.mjs drives the SDK; these tests set the pool up
//! with the Rust SDK, run the script and check what it reports. One store is enough here: the SRP
//! maths and the stores are covered by srp.rs on both.

use crate::common::*;
use aws_sdk_cognitoidentityprovider as cip;
use serde_json::{json, Value};

/// Runs the node script with one JSON argument and returns the JSON line it prints.
async fn run_js(input: Value) -> Value {
    run_node("cognito-client.mjs", &["amazon-cognito-identity-js"], input).await
}

/// The script's input for a sign-in to `pool` through `client_id`.
fn sign_in(
    env: &TestEnv,
    pool: &str,
    client_id: &str,
    scenario: &str,
    username: &str,
    password: &str,
) -> Value {
    json!({
        "endpoint": format!("{}/", env.url),
        "userPoolId": pool,
        "clientId": client_id,
        "username": username,
        "password": password,
        "scenario": scenario,
    })
}

fn challenges(v: &Value) -> Vec<&str> {
    v["challengesSeen"].as_array().map(|a| a.iter().filter_map(Value::as_str).collect()).unwrap_or_default()
}

/// The operations (and challenge names answered) of each request the SDK made.
fn calls(v: &Value) -> Vec<String> {
    v["requests"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|r| match r["challengeName"].as_str().or(r["authFlow"].as_str()) {
                    Some(what) => format!("{} {what}", r["operation"].as_str().unwrap_or("?")),
                    None => r["operation"].as_str().unwrap_or("?").to_string(),
                })
                .collect()
        })
        .unwrap_or_default()
}

fn params_sent(request: &Value) -> Vec<&str> {
    request["parameters"].as_array().map(|a| a.iter().filter_map(Value::as_str).collect()).unwrap_or_default()
}

/// Turns on software-token MFA for the pool (OPTIONAL) and for one user, verifying the token with
/// a code the node script computes (RFC 6238 in its own code). Returns the TOTP secret and the
/// 30-second step whose code is now used.
async fn totp_user(env: &TestEnv, pool: &str, client_id: &str, username: &str) -> (String, i64) {
    env.client
        .set_user_pool_mfa_config()
        .user_pool_id(pool)
        .software_token_mfa_configuration(
            cip::types::SoftwareTokenMfaConfigType::builder().enabled(true).build(),
        )
        .mfa_configuration(cip::types::UserPoolMfaType::Optional)
        .send()
        .await
        .expect("SetUserPoolMfaConfig");
    let tokens = env.admin_sign_in(pool, client_id, username).await;
    let access = tokens.access_token().expect("access token");
    let secret = env
        .client
        .associate_software_token()
        .access_token(access)
        .send()
        .await
        .expect("AssociateSoftwareToken")
        .secret_code()
        .expect("secret")
        .to_string();
    let code = run_js(json!({"scenario": "totp-code", "totpSecret": secret})).await;
    let verified = env
        .client
        .verify_software_token()
        .access_token(access)
        .user_code(code["code"].as_str().expect("code"))
        .friendly_device_name("phone")
        .send()
        .await
        .expect("VerifySoftwareToken");
    assert_eq!(verified.status(), Some(&cip::types::VerifySoftwareTokenResponseType::Success));
    env.client
        .set_user_mfa_preference()
        .access_token(access)
        .software_token_mfa_settings(
            cip::types::SoftwareTokenMfaSettingsType::builder().enabled(true).preferred_mfa(true).build(),
        )
        .send()
        .await
        .expect("SetUserMFAPreference");
    (secret, code["step"].as_i64().expect("step"))
}

async fn env() -> TestEnv {
    TestEnv::start(Backend::Embedded).await.expect("server")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn js_client_signs_in_by_srp() {
    let env = env().await;
    let pool = env.email_pool().await;
    // No ExplicitAuthFlows and no secret, as an Amplify app's client is set up.
    let (client_id, _) = env.app_client(&pool, &[], false).await;
    let sub = env.confirmed_user(&client_id, "amy@example.com").await;

    let out = run_js(sign_in(&env, &pool, &client_id, "password", "amy@example.com", PASSWORD)).await;
    assert_eq!(out["ok"], true, "{out}");
    assert_eq!(challenges(&out), ["PASSWORD_VERIFIER"], "{out}");
    assert_eq!(calls(&out), ["InitiateAuth USER_SRP_AUTH", "RespondToAuthChallenge PASSWORD_VERIFIER"]);
    assert_eq!(params_sent(&out["requests"][0]), ["SRP_A", "USERNAME"]);
    assert_eq!(
        params_sent(&out["requests"][1]),
        ["PASSWORD_CLAIM_SECRET_BLOCK", "PASSWORD_CLAIM_SIGNATURE", "TIMESTAMP", "USERNAME"]
    );
    assert_eq!(out["idTokenPayload"]["cognito:username"], sub.as_str());
    assert_eq!(out["idTokenPayload"]["email"], "amy@example.com");

    let out = run_js(sign_in(&env, &pool, &client_id, "password", "amy@example.com", "Wrong-Horse-9")).await;
    assert_eq!(out["ok"], false, "{out}");
    assert_eq!(
        out["error"],
        json!({"code": "NotAuthorizedException", "message": "Incorrect username or password."})
    );
    assert_eq!(challenges(&out), ["PASSWORD_VERIFIER"], "the wrong password is found at the proof");

    let out = run_js(sign_in(&env, &pool, &client_id, "password", "nobody@example.com", PASSWORD)).await;
    assert_eq!(out["error"], json!({"code": "UserNotFoundException", "message": "User does not exist."}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn js_client_sets_a_new_password_after_srp() {
    let env = env().await;
    let pool = env.pool(|b| b).await;
    let (client_id, _) = env.app_client(&pool, &[], false).await;
    let temp = "Temp-Horse-9";
    env.client
        .admin_create_user()
        .user_pool_id(&pool)
        .username("ivy")
        .temporary_password(temp)
        .message_action(cip::types::MessageActionType::Suppress)
        .send()
        .await
        .unwrap();
    let mut input = sign_in(&env, &pool, &client_id, "password", "ivy", temp);
    input["newPassword"] = json!(PASSWORD);
    let out = run_js(input).await;
    assert_eq!(out["ok"], true, "{out}");
    assert_eq!(challenges(&out), ["PASSWORD_VERIFIER", "NEW_PASSWORD_REQUIRED"], "{out}");
    assert_eq!(out["idTokenPayload"]["cognito:username"], "ivy");
    let out = run_js(sign_in(&env, &pool, &client_id, "password", "ivy", PASSWORD)).await;
    assert_eq!(out["ok"], true, "{out}");
    assert_eq!(challenges(&out), ["PASSWORD_VERIFIER"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn js_client_passes_totp_mfa() {
    let env = env().await;
    let pool = env.email_pool().await;
    let (client_id, _) = env
        .app_client(
            &pool,
            &["ALLOW_USER_SRP_AUTH", "ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
            false,
        )
        .await;
    let sub = env.confirmed_user(&client_id, "tom@example.com").await;
    let (secret, step) = totp_user(&env, &pool, &client_id, "tom@example.com").await;

    let mut input = sign_in(&env, &pool, &client_id, "totp", "tom@example.com", PASSWORD);
    input["totpSecret"] = json!(secret);
    input["totpAfterStep"] = json!(step);
    let out = run_js(input).await;
    assert_eq!(out["ok"], true, "{out}");
    assert_eq!(challenges(&out), ["PASSWORD_VERIFIER", "SOFTWARE_TOKEN_MFA"], "{out}");
    assert_eq!(
        calls(&out),
        [
            "InitiateAuth USER_SRP_AUTH",
            "RespondToAuthChallenge PASSWORD_VERIFIER",
            "RespondToAuthChallenge SOFTWARE_TOKEN_MFA"
        ]
    );
    assert_eq!(out["idTokenPayload"]["cognito:username"], sub.as_str());

    // The password alone is not enough: the SDK is asked for the code.
    let out = run_js(sign_in(&env, &pool, &client_id, "password", "tom@example.com", PASSWORD)).await;
    assert_eq!(out["ok"], false, "{out}");
    assert_eq!(out["error"]["code"], "UnexpectedChallenge");
    assert_eq!(challenges(&out), ["PASSWORD_VERIFIER", "SOFTWARE_TOKEN_MFA"]);
}

/// A pool that tracks devices; `opt_in`: remembered only when the user says so.
async fn device_pool(env: &TestEnv, opt_in: bool) -> String {
    env.pool(|b| {
        b.username_attributes(cip::types::UsernameAttributeType::Email)
            .auto_verified_attributes(cip::types::VerifiedAttributeType::Email)
            .device_configuration(
                cip::types::DeviceConfigurationType::builder()
                    .challenge_required_on_new_device(true)
                    .device_only_remembered_on_user_prompt(opt_in)
                    .build(),
            )
    })
    .await
}

/// What the device scenario must show: the first sign-in got a device and the SDK confirmed it;
/// both later sign-ins went through DEVICE_SRP_AUTH and DEVICE_PASSWORD_VERIFIER without MFA.
async fn check_device_sign_ins(env: &TestEnv, pool: &str, out: &Value, first_challenges: &[&str]) {
    assert_eq!(out["ok"], true, "{out}");
    let device_key = out["deviceKey"].as_str().expect("device key").to_string();
    assert!(device_key.starts_with("us-east-1_"), "device keys are region-prefixed: {device_key}");
    let first = &out["signIns"][0];
    assert_eq!(challenges(first), first_challenges, "{out}");
    assert!(calls(first).contains(&"ConfirmDevice".to_string()), "{out}");
    // Between the sign-ins the script marks the device remembered, as an app does when asked.
    assert!(calls(out).contains(&"UpdateDeviceStatus".to_string()), "{out}");
    for (i, later) in out["signIns"].as_array().expect("sign-ins")[1..].iter().enumerate() {
        assert_eq!(
            challenges(later),
            ["PASSWORD_VERIFIER", "DEVICE_SRP_AUTH", "DEVICE_PASSWORD_VERIFIER"],
            "sign-in {}: {out}",
            i + 2
        );
        assert_eq!(
            calls(later),
            [
                "InitiateAuth USER_SRP_AUTH",
                "RespondToAuthChallenge PASSWORD_VERIFIER",
                "RespondToAuthChallenge DEVICE_SRP_AUTH",
                "RespondToAuthChallenge DEVICE_PASSWORD_VERIFIER"
            ]
        );
        assert!(params_sent(&later["requests"][1]).contains(&"DEVICE_KEY"));
        assert_eq!(params_sent(&later["requests"][2]), ["DEVICE_KEY", "SRP_A", "USERNAME"]);
        assert_eq!(
            params_sent(&later["requests"][3]),
            [
                "DEVICE_KEY",
                "PASSWORD_CLAIM_SECRET_BLOCK",
                "PASSWORD_CLAIM_SIGNATURE",
                "TIMESTAMP",
                "USERNAME"
            ]
        );
        assert_eq!(later["accessTokenPayload"]["device_key"], device_key.as_str());
    }
    // The same CognitoUser sends DEVICE_KEY with InitiateAuth as well.
    assert!(params_sent(&out["signIns"][2]["requests"][0]).contains(&"DEVICE_KEY"), "{out}");
    let user = out["signIns"][0]["idTokenPayload"]["cognito:username"].as_str().expect("username");
    let devices = env
        .client
        .admin_list_devices()
        .user_pool_id(pool)
        .username(user)
        .send()
        .await
        .expect("AdminListDevices");
    let keys: Vec<_> = devices.devices().iter().filter_map(|d| d.device_key()).collect();
    assert_eq!(keys, [device_key.as_str()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn js_client_signs_in_with_a_remembered_device() {
    let env = env().await;
    let pool = device_pool(&env, false).await;
    let (client_id, _) = env.app_client(&pool, &[], false).await;
    env.confirmed_user(&client_id, "dee@example.com").await;

    let out = run_js(sign_in(&env, &pool, &client_id, "device", "dee@example.com", PASSWORD)).await;
    check_device_sign_ins(&env, &pool, &out, &["PASSWORD_VERIFIER"]).await;
    // Always remembered: ConfirmDevice asks nothing of the user.
    assert_eq!(out["userConfirmationNecessary"], false, "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn js_client_remembered_device_skips_totp() {
    let env = env().await;
    let pool = device_pool(&env, true).await;
    let (client_id, _) = env
        .app_client(
            &pool,
            &["ALLOW_USER_SRP_AUTH", "ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
            false,
        )
        .await;
    env.confirmed_user(&client_id, "tia@example.com").await;
    let (secret, step) = totp_user(&env, &pool, &client_id, "tia@example.com").await;

    let mut input = sign_in(&env, &pool, &client_id, "device", "tia@example.com", PASSWORD);
    input["totpSecret"] = json!(secret);
    input["totpAfterStep"] = json!(step);
    let out = run_js(input).await;
    // The first sign-in on the new device needs the code; the remembered device then does not.
    check_device_sign_ins(&env, &pool, &out, &["PASSWORD_VERIFIER", "SOFTWARE_TOKEN_MFA"]).await;
    // Remembered only on the user's say-so: the SDK is told to ask, and the script says yes.
    assert_eq!(out["userConfirmationNecessary"], true, "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn js_client_tracked_device_not_remembered_still_needs_totp() {
    let env = env().await;
    let pool = device_pool(&env, true).await;
    let (client_id, _) = env
        .app_client(
            &pool,
            &["ALLOW_USER_SRP_AUTH", "ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
            false,
        )
        .await;
    env.confirmed_user(&client_id, "ned@example.com").await;
    let (secret, step) = totp_user(&env, &pool, &client_id, "ned@example.com").await;

    let mut input = sign_in(&env, &pool, &client_id, "device", "ned@example.com", PASSWORD);
    input["totpSecret"] = json!(secret);
    input["totpAfterStep"] = json!(step);
    input["remember"] = json!(false);
    let out = run_js(input).await;
    assert_eq!(out["ok"], true, "{out}");
    assert_eq!(challenges(&out["signIns"][0]), ["PASSWORD_VERIFIER", "SOFTWARE_TOKEN_MFA"], "{out}");
    // A tracked device that is not remembered does not stand in for MFA; after the code the
    // tokens come (no DEVICE_SRP_AUTH after MFA: sendMFACode would answer it with the spent
    // session), for the same device.
    assert_eq!(challenges(&out["signIns"][1]), ["PASSWORD_VERIFIER", "SOFTWARE_TOKEN_MFA"], "{out}");
    assert_eq!(out["signIns"][1]["accessTokenPayload"]["device_key"], out["deviceKey"]);
}
