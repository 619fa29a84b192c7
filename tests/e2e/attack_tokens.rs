//! Token forgery suite (issue 14): every forged, stale or revoked token is refused by every
//! operation that takes one, on both stores.
//!
//! Token-taking operations of the cognito-idp model and what Tessera does with them:
//! - AccessToken, implemented (all sent below): GetUser, UpdateUserAttributes,
//!   DeleteUserAttributes, DeleteUser, ChangePassword, GetUserAttributeVerificationCode,
//!   VerifyUserAttribute, SetUserMFAPreference, SetUserSettings, AssociateSoftwareToken,
//!   VerifySoftwareToken, ConfirmDevice, GetDevice, ListDevices, UpdateDeviceStatus,
//!   ForgetDevice, GlobalSignOut.
//! - AccessToken, not implemented (they answer UnsupportedOperationException whatever the
//!   token, checked in `unimplemented_token_operations`): GetUserAuthFactors,
//!   StartWebAuthnRegistration, CompleteWebAuthnRegistration, ListWebAuthnCredentials,
//!   DeleteWebAuthnCredential, ListUserSessions, RevokeUserSession.
//! - Refresh tokens: InitiateAuth and AdminInitiateAuth with REFRESH_TOKEN_AUTH / REFRESH_TOKEN,
//!   GetTokensFromRefreshToken, and RevokeToken (sent below).
//!
//! Tessera's refresh tokens are opaque (`{family}.{secret}`, stored only as a hash), so the JWT
//! forgeries apply to them only as "a JWT where a refresh token belongs"; they get their own
//! forgeries (other secret, other family, another client's token).

use crate::common::*;
use aws_sdk_cognitoidentityprovider as cip;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use tessera_core::ports::{Clock, SystemClock};

/// System time plus an offset that may move both ways: a token minted while the clock was
/// ahead, presented once it is right again, is the one honest way to hold a validly signed
/// token whose `iat` lies in the future (without the pool's private key nobody can sign one).
#[derive(Default)]
pub struct SkewClock {
    offset_ms: AtomicI64,
}

impl SkewClock {
    fn set_offset_secs(&self, secs: i64) {
        self.offset_ms.store(secs * 1000, Ordering::SeqCst);
    }
}

impl Clock for SkewClock {
    fn now_millis(&self) -> i64 {
        SystemClock.now_millis() + self.offset_ms.load(Ordering::SeqCst)
    }
}

/// One test per store, on a server whose clock the test may move both ways.
macro_rules! attack {
    ($name:ident, |$env:ident, $clock:ident| $body:block) => {
        mod $name {
            use super::*;
            async fn run($env: &TestEnv, $clock: &SkewClock) $body
            async fn start(backend: Backend) -> Option<(TestEnv, Arc<SkewClock>)> {
                let clock = Arc::new(SkewClock::default());
                let server_clock = clock.clone();
                let env = TestEnv::start_local(backend, move |cfg| {
                    cfg.clock = server_clock;
                    // Hundreds of calls with one token's signature in seconds: the per-token
                    // quota would answer some before their token is even looked at.
                    cfg.throttle = tessera_wire::throttle::ThrottleSettings::parse("off").unwrap();
                })
                .await?;
                Some((env, clock))
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn embedded() {
                let (env, clock) = start(Backend::Embedded).await.expect("server");
                run(&env, &clock).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn dynamodb() {
                if let Some((env, clock)) = start(Backend::DynamoDb).await {
                    run(&env, &clock).await;
                }
            }
        }
    };
}

/// Every implemented operation that takes an AccessToken. GlobalSignOut and DeleteUser last,
/// so that the positive control can run the list in order with one token.
const ACCESS_OPS: [&str; 17] = [
    "GetUser",
    "UpdateUserAttributes",
    "DeleteUserAttributes",
    "ChangePassword",
    "GetUserAttributeVerificationCode",
    "VerifyUserAttribute",
    "SetUserMFAPreference",
    "SetUserSettings",
    "AssociateSoftwareToken",
    "VerifySoftwareToken",
    "ConfirmDevice",
    "GetDevice",
    "ListDevices",
    "UpdateDeviceStatus",
    "ForgetDevice",
    "GlobalSignOut",
    "DeleteUser",
];

const DEVICE_KEY: &str = "us-east-1_0f2c4b8e-1111-4222-8333-444455556666";
const NEW_PASSWORD: &str = "Battery-Staple-42";

/// A valid request body of `op` around `token`: it passes model validation, so the answer is
/// about the token.
fn access_body(op: &str, token: &str) -> Value {
    let mut body = match op {
        "UpdateUserAttributes" => json!({"UserAttributes": [{"Name": "given_name", "Value": "Mallory"}]}),
        "DeleteUserAttributes" => json!({"UserAttributeNames": ["given_name"]}),
        "ChangePassword" => json!({"PreviousPassword": PASSWORD, "ProposedPassword": NEW_PASSWORD}),
        "GetUserAttributeVerificationCode" => json!({"AttributeName": "email"}),
        "VerifyUserAttribute" => json!({"AttributeName": "email", "Code": "123456"}),
        "SetUserMFAPreference" => json!({"SoftwareTokenMfaSettings": {"Enabled": false}}),
        "SetUserSettings" => json!({"MFAOptions": []}),
        "VerifySoftwareToken" => json!({"UserCode": "123456"}),
        "ConfirmDevice" => json!({"DeviceKey": DEVICE_KEY, "DeviceName": "laptop"}),
        "GetDevice" | "ForgetDevice" => json!({"DeviceKey": DEVICE_KEY}),
        "ListDevices" => json!({"Limit": 10}),
        "UpdateDeviceStatus" => json!({"DeviceKey": DEVICE_KEY, "DeviceRememberedStatus": "remembered"}),
        _ => json!({}),
    };
    body["AccessToken"] = json!(token);
    body
}

/// "Name: message" of the answer, or "OK".
async fn send(env: &TestEnv, op: &str, body: &Value) -> String {
    let (status, out, _) = raw_call(&env.url, op, &body.to_string()).await;
    if status == 200 {
        return "OK".into();
    }
    format!("{}: {}", out["__type"].as_str().unwrap_or("?"), out["message"].as_str().unwrap_or(""))
}

/// Sends `token` to every access-token operation; returns the (case, op, answer) that differ
/// from `expected`, and counts the calls.
async fn refused_everywhere(
    env: &TestEnv,
    case: &str,
    token: &str,
    expected: &str,
    sent: &mut usize,
    wrong: &mut Vec<String>,
) {
    for op in ACCESS_OPS {
        let answer = send(env, op, &access_body(op, token)).await;
        *sent += 1;
        if answer != expected {
            wrong.push(format!("{case} × {op}: got {answer:?}, want {expected:?}"));
        }
    }
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn part(token: &str, i: usize) -> Value {
    let p = token.split('.').nth(i).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(p).unwrap()).unwrap()
}

fn signature(token: &str) -> &str {
    token.rsplit('.').next().unwrap()
}

/// `header.payload.signature` from JSON parts and a raw base64url signature.
fn jws(header: &Value, payload: &Value, sig_b64: &str) -> String {
    format!("{}.{}.{sig_b64}", b64(header.to_string().as_bytes()), b64(payload.to_string().as_bytes()))
}

/// An HS256 JWS whose HMAC key is `secret`.
fn hs256(header: &Value, payload: &Value, secret: &[u8]) -> String {
    let signing_input =
        format!("{}.{}", b64(header.to_string().as_bytes()), b64(payload.to_string().as_bytes()));
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret).unwrap();
    mac.update(signing_input.as_bytes());
    format!("{signing_input}.{}", b64(&mac.finalize().into_bytes()))
}

fn der(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else if len < 0x100 {
        out.extend([0x81, len as u8]);
    } else {
        out.extend([0x82, (len >> 8) as u8, len as u8]);
    }
    out.extend_from_slice(content);
    out
}

fn der_uint(bytes: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(bytes.len() + 1);
    if bytes.first().is_some_and(|b| b & 0x80 != 0) {
        v.push(0);
    }
    v.extend_from_slice(bytes);
    der(0x02, &v)
}

fn pem(label: &str, der: &[u8]) -> String {
    let b = STANDARD.encode(der);
    let lines: Vec<&str> = b.as_bytes().chunks(64).map(|c| std::str::from_utf8(c).unwrap()).collect();
    format!("-----BEGIN {label}-----\n{}\n-----END {label}-----\n", lines.join("\n"))
}

/// The pool's public access-token key as the strings a confused verifier might use as an HMAC
/// secret: PEM and DER of SubjectPublicKeyInfo and of PKCS#1, and the JWK's `n`.
fn public_key_secrets(jwk: &Value) -> Vec<(&'static str, Vec<u8>)> {
    let n = URL_SAFE_NO_PAD.decode(jwk["n"].as_str().unwrap()).unwrap();
    let e = URL_SAFE_NO_PAD.decode(jwk["e"].as_str().unwrap()).unwrap();
    let pkcs1 = der(0x30, &[der_uint(&n), der_uint(&e)].concat());
    let rsa_oid = [0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
    let algorithm = der(0x30, &[&rsa_oid[..], &[0x05, 0x00]].concat());
    let spki = der(0x30, &[algorithm, der(0x03, &[&[0u8][..], &pkcs1].concat())].concat());
    vec![
        ("SPKI PEM", pem("PUBLIC KEY", &spki).into_bytes()),
        ("PKCS#1 PEM", pem("RSA PUBLIC KEY", &pkcs1).into_bytes()),
        ("SPKI DER", spki),
        ("PKCS#1 DER", pkcs1),
        ("JWK n", jwk["n"].as_str().unwrap().as_bytes().to_vec()),
        ("JWK JSON", jwk.to_string().into_bytes()),
    ]
}

async fn jwks(env: &TestEnv, pool: &str) -> Value {
    let (status, _, body) =
        raw_http(&env.url, "GET", &format!("/{pool}/.well-known/jwks.json"), &[], b"").await;
    assert_eq!(status, 200);
    serde_json::from_slice(&body).unwrap()
}

fn jwk_of<'a>(jwks: &'a Value, token: &str) -> &'a Value {
    let kid = part(token, 0)["kid"].as_str().unwrap().to_string();
    jwks["keys"].as_array().unwrap().iter().find(|k| k["kid"] == kid.as_str()).unwrap()
}

/// A pool whose usernames are plain names (so a re-created user keeps the username) and a
/// client with password and refresh flows.
async fn setup(env: &TestEnv) -> (String, String) {
    let pool = env.pool(|b| b).await;
    let (client, _) = env
        .app_client(
            &pool,
            &["ALLOW_USER_PASSWORD_AUTH", "ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
            false,
        )
        .await;
    (pool, client)
}

/// A confirmed user with the test password and a verified email; returns the `sub`.
async fn user(env: &TestEnv, pool: &str, name: &str) -> String {
    let out = env
        .client
        .admin_create_user()
        .user_pool_id(pool)
        .username(name)
        .message_action(cip::types::MessageActionType::Suppress)
        .user_attributes(attr("email", &format!("{name}@example.com")))
        .user_attributes(attr("email_verified", "true"))
        .user_attributes(attr("given_name", name))
        .send()
        .await
        .expect("create user");
    env.client
        .admin_set_user_password()
        .user_pool_id(pool)
        .username(name)
        .password(PASSWORD)
        .permanent(true)
        .send()
        .await
        .expect("set password");
    let attrs = out.user().unwrap().attributes();
    attrs.iter().find(|a| a.name() == "sub").and_then(|a| a.value()).unwrap().to_string()
}

async fn tokens(env: &TestEnv, pool: &str, client: &str, name: &str) -> (String, String, String) {
    let t = env.admin_sign_in(pool, client, name).await;
    (
        t.access_token().unwrap().to_string(),
        t.id_token().unwrap().to_string(),
        t.refresh_token().unwrap().to_string(),
    )
}

async fn get_user(env: &TestEnv, token: &str) -> String {
    send(env, "GetUser", &access_body("GetUser", token)).await
}

/// The refresh-token operations: (label, answer of a refresh with `token` through `client`).
async fn refresh_everywhere(env: &TestEnv, pool: &str, client: &str, token: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for flow in ["REFRESH_TOKEN_AUTH", "REFRESH_TOKEN"] {
        let body = json!({"ClientId": client, "AuthFlow": flow, "AuthParameters": {"REFRESH_TOKEN": token}});
        out.push((format!("InitiateAuth {flow}"), send(env, "InitiateAuth", &body).await));
        let answer = env
            .client
            .admin_initiate_auth()
            .user_pool_id(pool)
            .client_id(client)
            .auth_flow(cip::types::AuthFlowType::from(flow))
            .auth_parameters("REFRESH_TOKEN", token)
            .send()
            .await
            .map(|_| "OK".to_string())
            .unwrap_or_else(err_name);
        out.push((format!("AdminInitiateAuth {flow}"), answer));
    }
    let body = json!({"ClientId": client, "RefreshToken": token});
    out.push(("GetTokensFromRefreshToken".to_string(), send(env, "GetTokensFromRefreshToken", &body).await));
    out
}

fn expect_refresh_refused(
    answers: Vec<(String, String)>,
    case: &str,
    expected: &str,
    wrong: &mut Vec<String>,
) {
    for (op, answer) in answers {
        if answer != expected {
            wrong.push(format!("{case} × {op}: got {answer:?}, want {expected:?}"));
        }
    }
}

const INVALID: &str = "NotAuthorizedException: Invalid Access Token";
const REVOKED: &str = "NotAuthorizedException: Access Token has been revoked";
const EXPIRED: &str = "NotAuthorizedException: Access Token has expired";
const INVALID_REFRESH: &str = "NotAuthorizedException: Invalid Refresh Token";
const REVOKED_REFRESH: &str = "NotAuthorizedException: Refresh Token has been revoked";

// The control: a genuine token passes the token check of every operation (so the refusals
// below are about the token, not the request), and the bodies reach the operation.
attack!(genuine_tokens_are_accepted_everywhere, |env, _clock| {
    let (pool, client) = setup(env).await;
    user(env, &pool, "ctl").await;
    let (access, _, _) = tokens(env, &pool, &client, "ctl").await;
    for op in ACCESS_OPS.iter().filter(|op| **op != "DeleteUser") {
        let answer = send(env, op, &access_body(op, &access)).await;
        assert!(
            !answer.starts_with("NotAuthorizedException") && !answer.starts_with("UserNotFoundException"),
            "{op}: {answer}"
        );
        assert!(!answer.starts_with("InvalidParameterException: 1 validation error"), "{op}: {answer}");
    }
    // GlobalSignOut ended that session; DeleteUser gets a fresh one (the password changed).
    let fresh = env
        .client
        .admin_initiate_auth()
        .user_pool_id(&pool)
        .client_id(&client)
        .auth_flow(cip::types::AuthFlowType::AdminUserPasswordAuth)
        .auth_parameters("USERNAME", "ctl")
        .auth_parameters("PASSWORD", NEW_PASSWORD)
        .send()
        .await
        .expect("sign-in with the changed password");
    let fresh = fresh.authentication_result().unwrap().access_token().unwrap().to_string();
    assert_eq!(send(env, "DeleteUser", &access_body("DeleteUser", &fresh)).await, "OK");
});

attack!(forged_access_tokens_are_refused_everywhere, |env, _clock| {
    let (pool, client) = setup(env).await;
    let (_, other_client) = env.app_client(&pool, &["ALLOW_ADMIN_USER_PASSWORD_AUTH"], false).await;
    user(env, &pool, "alice").await;
    let bob_sub = user(env, &pool, "bob").await;
    let (access, id_token, _) = tokens(env, &pool, &client, "alice").await;
    let (bob_access, _, _) = tokens(env, &pool, &client, "bob").await;
    // Pool B: another tenant's pool with its own "alice", whose tokens are genuine there.
    let (pool_b, client_b) = setup(env).await;
    user(env, &pool_b, "alice").await;
    let (access_b, _, _) = tokens(env, &pool_b, &client_b, "alice").await;
    assert_eq!(get_user(env, &access_b).await, "OK");

    let header = part(&access, 0);
    let claims = part(&access, 1);
    let kid = header["kid"].as_str().unwrap().to_string();
    let keys_a = jwks(env, &pool).await;
    let keys_b = jwks(env, &pool_b).await;
    let jwk = jwk_of(&keys_a, &access);
    let kid_b = jwk_of(&keys_b, &access_b)["kid"].as_str().unwrap().to_string();

    let mut cases: Vec<(String, String)> = Vec::new();
    let mut add = |name: &str, token: String| cases.push((name.to_string(), token));

    // alg=none, with and without a signature, with and without the kid.
    add("alg none, no signature", jws(&json!({"alg": "none", "kid": kid}), &claims, ""));
    add(
        "alg none, original signature",
        jws(&json!({"alg": "none", "kid": kid}), &claims, signature(&access)),
    );
    add("alg None, no kid", jws(&json!({"alg": "None"}), &claims, ""));
    add("alg none, typ JWT", jws(&json!({"alg": "none", "typ": "JWT"}), &claims, ""));

    // HS256 keyed with the public key (algorithm confusion). The control checks that the
    // PKCS#1 DER (which the other encodings wrap) really is the pool's key: it verifies the
    // genuine token's RS256 signature.
    let secrets = public_key_secrets(jwk);
    let mut rs256 = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    rs256.validate_aud = false;
    rs256.validate_exp = false;
    for (label, secret) in &secrets {
        if *label == "PKCS#1 DER" {
            let key = jsonwebtoken::DecodingKey::from_rsa_der(secret);
            jsonwebtoken::decode::<Value>(&access, &key, &rs256)
                .expect("the secret is the pool's public key");
        }
        add(
            &format!("HS256 keyed with {label}"),
            hs256(&json!({"alg": "HS256", "kid": kid}), &claims, secret),
        );
        let with_typ = json!({"alg": "HS256", "typ": "JWT", "kid": kid});
        add(&format!("HS256 keyed with {label}, typ JWT"), hs256(&with_typ, &claims, secret));
    }

    // Another pool's kid and issuer: pool B's genuine token claiming pool A, with B's kid or
    // with A's kid; pool A's token pointing at B's kid.
    let iss_a = claims["iss"].as_str().unwrap().to_string();
    let mut b_as_a = part(&access_b, 1);
    b_as_a["iss"] = json!(iss_a);
    add("pool B token, iss rewritten to pool A", jws(&part(&access_b, 0), &b_as_a, signature(&access_b)));
    add(
        "pool B token, iss and kid rewritten to pool A",
        jws(&json!({"alg": "RS256", "kid": kid}), &b_as_a, signature(&access_b)),
    );
    add(
        "pool A token with pool B's kid",
        jws(&json!({"alg": "RS256", "kid": kid_b}), &claims, signature(&access)),
    );
    add("pool A token without kid", jws(&json!({"alg": "RS256"}), &claims, signature(&access)));

    // Modified payloads under the original signature.
    let modified: Vec<(&str, Value)> = vec![
        ("username → bob", json!({"username": "bob"})),
        ("sub → bob's", json!({"sub": bob_sub})),
        ("username and sub → bob", json!({"username": "bob", "sub": bob_sub})),
        ("scope widened", json!({"scope": "aws.cognito.signin.user.admin openid profile email phone"})),
        ("exp + 1 day", json!({"exp": claims["exp"].as_i64().unwrap() + 86_400})),
        ("client_id → another client", json!({"client_id": other_client})),
        ("origin_jti → bob's", json!({"origin_jti": part(&bob_access, 1)["origin_jti"]})),
        ("cognito:groups added", json!({"cognito:groups": ["admin"]})),
    ];
    for (label, change) in modified {
        let mut c = claims.clone();
        for (k, v) in change.as_object().unwrap() {
            c[k] = v.clone();
        }
        add(&format!("payload {label}"), jws(&header, &c, signature(&access)));
    }
    // Bob's signature under Alice's header and payload; a truncated signature; no signature.
    add("bob's signature spliced", jws(&header, &claims, signature(&bob_access)));
    let sig = signature(&access);
    add("signature truncated", jws(&header, &claims, &sig[..sig.len() - 4]));
    add("signature removed", jws(&header, &claims, ""));

    // Wrong token_use: the genuine, validly signed ID token; and the ID token's payload
    // claiming token_use=access under its own signature.
    add("ID token (token_use=id)", id_token.clone());
    let mut id_as_access = part(&id_token, 1);
    id_as_access["token_use"] = json!("access");
    id_as_access["scope"] = json!("aws.cognito.signin.user.admin");
    id_as_access["username"] = json!("alice");
    add("ID token relabelled access", jws(&part(&id_token, 0), &id_as_access, signature(&id_token)));

    let mut sent = 0;
    let mut wrong = Vec::new();
    for (case, token) in &cases {
        refused_everywhere(env, case, token, INVALID, &mut sent, &mut wrong).await;
    }
    assert_eq!(sent, cases.len() * ACCESS_OPS.len());
    assert!(
        wrong.is_empty(),
        "{} of {sent} forged calls not refused as expected:\n{}",
        wrong.len(),
        wrong.join("\n")
    );

    // None took effect: Alice's genuine token still works and her attributes are unchanged;
    // her password is unchanged and she was not signed out or deleted.
    let me = env.client.get_user().access_token(&access).send().await.expect("alice's token still works");
    let given = me.user_attributes().iter().find(|a| a.name() == "given_name").and_then(|a| a.value());
    assert_eq!(given, Some("alice"));
    env.password_sign_in(&client, "alice", PASSWORD).await.expect("password unchanged");
    assert_eq!(get_user(env, &bob_access).await, "OK");
});

attack!(expired_and_not_yet_valid_tokens_are_refused_everywhere, |env, clock| {
    let (pool, client) = setup(env).await;
    user(env, &pool, "alice").await;
    let (access, _, _) = tokens(env, &pool, &client, "alice").await;

    // A token minted while the clock ran 10 minutes ahead, presented once it is right again:
    // its iat lies 10 minutes in the future. (One minted 1 minute ahead is within the
    // tolerated skew between nodes and passes.)
    // (Signed in through unsigned InitiateAuth: the SDK's SigV4 date would be too far behind
    // the server's clock for an admin call.)
    let sign_in = || async {
        let t = env.password_sign_in(&client, "alice", PASSWORD).await.expect("sign-in");
        t.access_token().unwrap().to_string()
    };
    clock.set_offset_secs(600);
    let ahead = sign_in().await;
    clock.set_offset_secs(60);
    let slightly_ahead = sign_in().await;
    clock.set_offset_secs(0);
    assert_eq!(get_user(env, &slightly_ahead).await, "OK");

    let mut sent = 0;
    let mut wrong = Vec::new();
    refused_everywhere(env, "iat 10 minutes ahead", &ahead, INVALID, &mut sent, &mut wrong).await;

    // Past the access token's hour.
    assert_eq!(get_user(env, &access).await, "OK");
    clock.set_offset_secs(3601);
    refused_everywhere(env, "expired", &access, EXPIRED, &mut sent, &mut wrong).await;
    // The expired token with its exp pushed back is a modified payload.
    let mut c = part(&access, 1);
    c["exp"] = json!(c["exp"].as_i64().unwrap() + 7200);
    let stretched = jws(&part(&access, 0), &c, signature(&access));
    refused_everywhere(env, "expired, exp stretched", &stretched, INVALID, &mut sent, &mut wrong).await;
    assert_eq!(sent, 3 * ACCESS_OPS.len());
    assert!(
        wrong.is_empty(),
        "{} of {sent} calls not refused as expected:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
});

attack!(revoked_tokens_are_refused_everywhere, |env, _clock| {
    let (pool, client) = setup(env).await;
    let mut sent = 0;
    let mut wrong = Vec::new();

    // GlobalSignOut: every token the user held, from either sign-in.
    user(env, &pool, "gso").await;
    let (a1, _, r1) = tokens(env, &pool, &client, "gso").await;
    let (a2, _, r2) = tokens(env, &pool, &client, "gso").await;
    assert_eq!(send(env, "GlobalSignOut", &access_body("GlobalSignOut", &a1)).await, "OK");
    refused_everywhere(env, "after GlobalSignOut", &a1, REVOKED, &mut sent, &mut wrong).await;
    refused_everywhere(env, "other session after GlobalSignOut", &a2, REVOKED, &mut sent, &mut wrong).await;
    for r in [&r1, &r2] {
        let answers = refresh_everywhere(env, &pool, &client, r).await;
        expect_refresh_refused(answers, "refresh after GlobalSignOut", REVOKED_REFRESH, &mut wrong);
    }

    // RevokeToken: the refresh token and the access tokens it issued (also refreshed ones).
    user(env, &pool, "rvk").await;
    let (a, _, r) = tokens(env, &pool, &client, "rvk").await;
    let body =
        json!({"ClientId": client, "AuthFlow": "REFRESH_TOKEN_AUTH", "AuthParameters": {"REFRESH_TOKEN": r}});
    let (_, refreshed, _) = raw_call(&env.url, "InitiateAuth", &body.to_string()).await;
    let refreshed = refreshed["AuthenticationResult"]["AccessToken"].as_str().unwrap().to_string();
    let (kept, _, _) = tokens(env, &pool, &client, "rvk").await;
    assert_eq!(send(env, "RevokeToken", &json!({"ClientId": client, "Token": r})).await, "OK");
    refused_everywhere(env, "after RevokeToken", &a, REVOKED, &mut sent, &mut wrong).await;
    refused_everywhere(env, "refreshed, after RevokeToken", &refreshed, REVOKED, &mut sent, &mut wrong).await;
    let answers = refresh_everywhere(env, &pool, &client, &r).await;
    expect_refresh_refused(answers, "refresh after RevokeToken", INVALID_REFRESH, &mut wrong);
    assert_eq!(get_user(env, &kept).await, "OK", "another session of the user lives on");

    // AdminDeleteUser: Cognito answers UserNotFoundException for the access-token operations.
    user(env, &pool, "del").await;
    let (a, _, r) = tokens(env, &pool, &client, "del").await;
    env.client.admin_delete_user().user_pool_id(&pool).username("del").send().await.unwrap();
    let gone = "UserNotFoundException: User does not exist.";
    refused_everywhere(env, "after AdminDeleteUser", &a, gone, &mut sent, &mut wrong).await;
    let answers = refresh_everywhere(env, &pool, &client, &r).await;
    expect_refresh_refused(answers, "refresh after AdminDeleteUser", REVOKED_REFRESH, &mut wrong);

    // Deleted and re-created under the same username: the old tokens name the old `sub`.
    let old_sub = user(env, &pool, "again").await;
    let (a, _, r) = tokens(env, &pool, &client, "again").await;
    env.client.admin_delete_user().user_pool_id(&pool).username("again").send().await.unwrap();
    let new_sub = user(env, &pool, "again").await;
    assert_ne!(old_sub, new_sub);
    refused_everywhere(env, "after re-creation", &a, REVOKED, &mut sent, &mut wrong).await;
    let answers = refresh_everywhere(env, &pool, &client, &r).await;
    expect_refresh_refused(answers, "refresh after re-creation", REVOKED_REFRESH, &mut wrong);
    let (fresh, _, _) = tokens(env, &pool, &client, "again").await;
    assert_eq!(get_user(env, &fresh).await, "OK", "the new user's own token works");

    // A token of an app client that was deleted since.
    let (gone_client, _) =
        env.app_client(&pool, &["ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"], false).await;
    user(env, &pool, "cli").await;
    let (a, _, r) = tokens(env, &pool, &gone_client, "cli").await;
    env.client.delete_user_pool_client().user_pool_id(&pool).client_id(&gone_client).send().await.unwrap();
    refused_everywhere(env, "client deleted", &a, INVALID, &mut sent, &mut wrong).await;
    let missing = format!("ResourceNotFoundException: User pool client {gone_client} does not exist.");
    let answers = refresh_everywhere(env, &pool, &gone_client, &r).await;
    expect_refresh_refused(answers, "refresh through the deleted client", &missing, &mut wrong);
    // ... and through the surviving client, which it was not issued to.
    let answers = refresh_everywhere(env, &pool, &client, &r).await;
    expect_refresh_refused(answers, "refresh of a deleted client's token", INVALID_REFRESH, &mut wrong);

    assert_eq!(sent, 7 * ACCESS_OPS.len());
    assert!(wrong.is_empty(), "{} calls not refused as expected:\n{}", wrong.len(), wrong.join("\n"));
});

attack!(forged_refresh_tokens_are_refused, |env, _clock| {
    let (pool, client) = setup(env).await;
    let (other_client, _) =
        env.app_client(&pool, &["ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"], false).await;
    user(env, &pool, "alice").await;
    let (access, id_token, refresh) = tokens(env, &pool, &client, "alice").await;
    let (family, secret) = refresh.split_once('.').unwrap();
    let (pool_b, client_b) = setup(env).await;
    user(env, &pool_b, "alice").await;
    let (_, _, refresh_b) = tokens(env, &pool_b, &client_b, "alice").await;
    let mut flipped = secret.to_string().into_bytes();
    flipped[0] = if flipped[0] == b'A' { b'B' } else { b'A' };
    let flipped = String::from_utf8(flipped).unwrap();

    let cases: Vec<(&str, String)> = vec![
        ("secret altered", format!("{family}.{flipped}")),
        ("secret truncated", format!("{family}.{}", &secret[..secret.len() - 1])),
        ("secret extended", format!("{family}.{secret}A")),
        ("other family, same secret", format!("0f2c4b8e-1111-4222-8333-444455556666.{secret}")),
        ("family only", family.to_string()),
        ("pool B's refresh token", refresh_b.clone()),
        ("access token as refresh token", access.clone()),
        ("ID token as refresh token", id_token.clone()),
        ("alg none JWT", jws(&json!({"alg": "none"}), &part(&access, 1), "")),
    ];
    let mut wrong = Vec::new();
    for (case, token) in &cases {
        let answers = refresh_everywhere(env, &pool, &client, token).await;
        expect_refresh_refused(answers, case, INVALID_REFRESH, &mut wrong);
    }
    // Alice's genuine refresh token through another client of the same pool.
    let answers = refresh_everywhere(env, &pool, &other_client, &refresh).await;
    expect_refresh_refused(answers, "another client of the pool", INVALID_REFRESH, &mut wrong);

    // RevokeToken with forged tokens: JWTs are not its type, malformed tokens are invalid,
    // well-formed unknown ones are a no-op (RFC 7009); another client (of this pool or
    // another) may not revoke a genuine one.
    let revoke = |token: &str, client: &str| json!({"ClientId": client, "Token": token});
    let jwt_answer = "UnsupportedTokenTypeException: Unsupported token type";
    for (case, token, expected) in [
        ("secret altered", format!("{family}.{flipped}"), "OK"),
        ("other family", format!("0f2c4b8e-1111-4222-8333-444455556666.{secret}"), "OK"),
        ("family only", family.to_string(), "InvalidParameterException: Invalid token"),
        ("access token", access.clone(), jwt_answer),
        ("ID token", id_token.clone(), jwt_answer),
        (
            "pool B's refresh token",
            refresh_b.clone(),
            "UnauthorizedException: The refresh token was not issued to this client.",
        ),
    ] {
        let answer = send(env, "RevokeToken", &revoke(&token, &client)).await;
        if answer != expected {
            wrong.push(format!("RevokeToken {case}: got {answer:?}, want {expected:?}"));
        }
    }
    let answer = send(env, "RevokeToken", &revoke(&refresh, &other_client)).await;
    if answer != "UnauthorizedException: The refresh token was not issued to this client." {
        wrong.push(format!("RevokeToken through another client: got {answer:?}"));
    }
    assert!(wrong.is_empty(), "{} calls not refused as expected:\n{}", wrong.len(), wrong.join("\n"));

    // None of it took effect: Alice's refresh token and pool B's still work.
    for (label, answer) in refresh_everywhere(env, &pool, &client, &refresh).await {
        assert_eq!(answer, "OK", "{label}");
    }
    assert!(env.refresh(&client_b, &refresh_b).await.is_ok());
    assert_eq!(get_user(env, &access).await, "OK");
});

// Operations of the model that take a token but that Tessera does not implement: whatever the
// token, they answer UnsupportedOperationException (so no forgery can do anything there).
attack!(unimplemented_token_operations, |env, _clock| {
    let (pool, client) = setup(env).await;
    user(env, &pool, "alice").await;
    let (access, _, _) = tokens(env, &pool, &client, "alice").await;
    let ops: [(&str, Value); 7] = [
        ("GetUserAuthFactors", json!({"AccessToken": access})),
        ("StartWebAuthnRegistration", json!({"AccessToken": access})),
        ("CompleteWebAuthnRegistration", json!({"AccessToken": access, "Credential": {}})),
        ("ListWebAuthnCredentials", json!({"AccessToken": access})),
        ("DeleteWebAuthnCredential", json!({"AccessToken": access, "CredentialId": "c"})),
        ("ListUserSessions", json!({"AccessToken": access})),
        ("RevokeUserSession", json!({"AccessToken": access, "SessionId": "tkn0123456789abcdefghijklmno"})),
    ];
    for (op, body) in ops {
        let answer = send(env, op, &body).await;
        assert!(answer.starts_with("UnsupportedOperationException"), "{op}: {answer}");
    }
});

attack!(identity_pools_refuse_id_tokens_from_the_future, |env, clock| {
    let (pool, client) = setup(env).await;
    user(env, &pool, "alice").await;
    let provider = format!("{}/{pool}", env.url.trim_start_matches("http://"));
    let identity = identity_client(&env.url, ADMIN_KEY, ADMIN_SECRET).await;
    let identity_pool = identity
        .create_identity_pool()
        .identity_pool_name("future")
        .allow_unauthenticated_identities(false)
        .cognito_identity_providers(
            aws_sdk_cognitoidentity::types::CognitoIdentityProvider::builder()
                .provider_name(&provider)
                .client_id(&client)
                .build(),
        )
        .send()
        .await
        .unwrap()
        .identity_pool_id()
        .to_string();
    let id_token = |ahead: i64| {
        let client = client.clone();
        async move {
            clock.set_offset_secs(ahead);
            let t = env.password_sign_in(&client, "alice", PASSWORD).await.expect("sign-in");
            clock.set_offset_secs(0);
            t.id_token().unwrap().to_string()
        }
    };
    let get_id = |token: String| {
        let (identity, identity_pool, provider) = (identity.clone(), identity_pool.clone(), provider.clone());
        async move { identity.get_id().identity_pool_id(identity_pool).logins(provider, token).send().await }
    };
    // A token minted with the clock 10 minutes ahead is refused; one minted 1 minute ahead is
    // within the tolerated skew between nodes; a current one works.
    let err = get_id(id_token(600).await).await.expect_err("an ID token from the future");
    assert_eq!(err.into_service_error().meta().code(), Some("NotAuthorizedException"));
    get_id(id_token(60).await).await.expect("a minute ahead is within the skew");
    get_id(id_token(0).await).await.expect("a current token");
});
