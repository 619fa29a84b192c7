//! Signing-key rotation (docs/keys.md): through `TesseraService.RotateSigningKeys` and the
//! schedule, while a verifier that shares no code with the server (jsonwebtoken over the JWKS,
//! refetched only every six hours, as a caching API gateway would) checks every token issued so
//! far. No token fails while it is valid; the server accepts tokens of retired keys until they
//! expire; and the keys are published a day before they sign.

use crate::common::*;
use crate::on_both_stores;
use aws_sdk_cognitoidentityprovider as cip;
use serde_json::{json, Value};
use std::collections::HashMap;
use tessera_core::ports::Clock as _;

/// A client's view of the JWKS: fetched, then kept for `ttl` seconds of the server's clock.
struct CachingVerifier {
    issuer: String,
    jwks_path: String,
    ttl: i64,
    fetched_at: i64,
    keys: HashMap<String, jsonwebtoken::DecodingKey>,
    fetches: usize,
}

impl CachingVerifier {
    async fn new(env: &TestEnv, pool: &str, ttl: i64) -> Self {
        let mut v = CachingVerifier {
            issuer: format!("{}/{pool}", env.url),
            jwks_path: format!("/{pool}/.well-known/jwks.json"),
            ttl,
            fetched_at: i64::MIN,
            keys: HashMap::new(),
            fetches: 0,
        };
        v.refresh(env).await;
        v
    }

    async fn jwks(env: &TestEnv, path: &str) -> Value {
        let (status, _, body) = raw_http(&env.url, "GET", path, &[], b"").await;
        assert_eq!(status, 200);
        serde_json::from_slice(&body).unwrap()
    }

    async fn refresh(&mut self, env: &TestEnv) {
        let jwks = Self::jwks(env, &self.jwks_path).await;
        self.keys = jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| {
                let key = jsonwebtoken::DecodingKey::from_rsa_components(
                    k["n"].as_str().unwrap(),
                    k["e"].as_str().unwrap(),
                )
                .unwrap();
                (k["kid"].as_str().unwrap().to_string(), key)
            })
            .collect();
        self.fetched_at = env.clock.now_secs();
        self.fetches += 1;
    }

    /// Verifies a token as of the server's clock: Ok(false) when it has expired.
    async fn verify(&mut self, env: &TestEnv, token: &str) -> Result<bool, String> {
        // An expired token is refused before its key is looked for (its key may be gone).
        if crate::tokens::payload(token)["exp"].as_i64().unwrap() <= env.clock.now_secs() {
            return Ok(false);
        }
        if env.clock.now_secs() - self.fetched_at >= self.ttl {
            self.refresh(env).await;
        }
        let header = jsonwebtoken::decode_header(token).map_err(|e| e.to_string())?;
        let kid = header.kid.ok_or("no kid")?;
        let key = self.keys.get(&kid).ok_or_else(|| format!("kid {kid} is not in the cached JWKS"))?;
        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
        validation.set_issuer(&[&self.issuer]);
        validation.validate_exp = false;
        validation.validate_aud = false;
        let data = jsonwebtoken::decode::<Value>(token, key, &validation).map_err(|e| e.to_string())?;
        Ok(data.claims["exp"].as_i64().unwrap() > env.clock.now_secs())
    }
}

fn kid(token: &str) -> String {
    jsonwebtoken::decode_header(token).unwrap().kid.unwrap()
}

/// A pool with a client whose tokens live a day (the longest), and a user: (pool, client).
async fn setup(env: &TestEnv) -> (String, String) {
    let pool = env.email_pool().await;
    let client = env
        .client
        .create_user_pool_client()
        .user_pool_id(&pool)
        .client_name("app")
        .explicit_auth_flows(cip::types::ExplicitAuthFlowsType::AllowUserPasswordAuth)
        .explicit_auth_flows(cip::types::ExplicitAuthFlowsType::AllowRefreshTokenAuth)
        .access_token_validity(24)
        .id_token_validity(24)
        .send()
        .await
        .unwrap()
        .user_pool_client()
        .unwrap()
        .client_id()
        .unwrap()
        .to_string();
    env.confirmed_user(&client, "ann@example.com").await;
    (pool, client)
}

/// Signs ann in: (access token, ID token).
async fn sign_in(env: &TestEnv, client: &str) -> (String, String) {
    let t = env.password_sign_in(client, "ann@example.com", PASSWORD).await.unwrap();
    (t.access_token().unwrap().to_string(), t.id_token().unwrap().to_string())
}

async fn get_user(env: &TestEnv, access: &str) -> Result<(), String> {
    env.client.get_user().access_token(access).send().await.map(|_| ()).map_err(err_name)
}

fn svc(env: &TestEnv) -> &tessera_core::Service {
    &env.server.state.frontend.service
}

async fn statuses(env: &TestEnv, pool: &str) -> Vec<(String, String)> {
    let out = tessera_core::tessera_service::describe_signing_keys(svc(env), &json!({"UserPoolId": pool}))
        .await
        .unwrap();
    out["SigningKeys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| (k["Use"].as_str().unwrap().to_string(), k["Status"].as_str().unwrap().to_string()))
        .collect()
}

/// Every token issued so far that has not expired verifies.
async fn all_verify(env: &TestEnv, verifier: &mut CachingVerifier, tokens: &[String]) -> usize {
    let mut live = 0;
    for t in tokens {
        match verifier.verify(env, t).await {
            Ok(true) => live += 1,
            Ok(false) => {}
            Err(e) => panic!("a valid token failed to verify: {e}"),
        }
    }
    live
}

on_both_stores!(rotation_on_demand_publishes_first_and_retires_late, |env| {
    let (pool, client) = setup(env).await;
    let mut verifier = CachingVerifier::new(env, &pool, 6 * 3600).await;
    let (access_a, id_a) = sign_in(env, &client).await;
    let old_kid = kid(&access_a);
    let mut tokens = vec![access_a.clone(), id_a];

    // Tessera's own namespace, signed with the admin keys; never a Cognito operation.
    let body = json!({"UserPoolId": pool}).to_string();
    let (status, answer) = admin_signed_request(
        env,
        "cognito-idp",
        "POST",
        "/",
        Some("TesseraService.RotateSigningKeys"),
        &body,
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    let next: Vec<&Value> =
        answer["SigningKeys"].as_array().unwrap().iter().filter(|k| k["Status"] == "NEXT").collect();
    assert_eq!(next.len(), 2, "{answer}");
    let (status, answer) = admin_signed_request(
        env,
        "cognito-idp",
        "POST",
        "/",
        Some("AWSCognitoIdentityProviderService.RotateSigningKeys"),
        &body,
    )
    .await;
    assert_eq!((status, error_parts(&answer).0.as_str()), (400, "UnknownOperationException"), "{answer}");
    let (status, _, _) = raw_http(
        &env.url,
        "POST",
        "/",
        &[
            ("x-amz-target", "TesseraService.RotateSigningKeys"),
            ("content-type", "application/x-amz-json-1.1"),
        ],
        body.as_bytes(),
    )
    .await;
    assert_eq!(status, 400, "an unsigned call is refused");
    let jwks = CachingVerifier::jwks(env, &format!("/{pool}/.well-known/jwks.json")).await;
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 4, "published before it signs: {jwks}");

    // Staged keys sign nothing yet; activating early is refused unless asked.
    let (access_b, id_b) = sign_in(env, &client).await;
    assert_eq!(kid(&access_b), old_kid);
    tokens.extend([access_b.clone(), id_b]);
    let rotate = |activate: bool| {
        let input = json!({"UserPoolId": pool, "Activate": activate});
        async move { tessera_core::tessera_service::rotate_signing_keys(svc(env), &input).await }
    };
    env.clock.advance_secs(6 * 3600);
    assert_eq!(all_verify(env, &mut verifier, &tokens).await, 4);
    let e = rotate(false).await.unwrap_err();
    assert!(e.message().contains("Pass Activate"), "{}", e.message());

    // A day after publishing: the next keys sign; the old ones are retired, still good.
    env.clock.advance_secs(17 * 3600 + 1800);
    let (access_c, _) = sign_in(env, &client).await; // the last token of the old key
    assert_eq!(kid(&access_c), old_kid);
    env.clock.advance_secs(1800);
    rotate(false).await.expect("activates after the day");
    let (access_d, id_d) = sign_in(env, &client).await;
    assert_ne!(kid(&access_d), old_kid);
    assert_eq!(verifier.fetches, 2, "no refetch was needed for the new key: it was published first");
    tokens.extend([access_c.clone(), access_d.clone(), id_d]);
    assert!(all_verify(env, &mut verifier, &tokens).await >= 3);
    get_user(env, &access_c).await.expect("a token of the retired key is accepted");
    get_user(env, &access_d).await.expect("a token of the new key");
    let mut now = statuses(env, &pool).await;
    now.sort();
    assert_eq!(
        now,
        [("access", "ACTIVE"), ("access", "RETIRED"), ("id", "ACTIVE"), ("id", "RETIRED")]
            .map(|(a, b)| (a.to_string(), b.to_string()))
    );

    // Once every token of the old key has expired, it is gone from the JWKS and the server.
    env.clock.advance_secs(24 * 3600 + 301);
    let (access_e, _) = sign_in(env, &client).await;
    tokens.push(access_e);
    assert_eq!(all_verify(env, &mut verifier, &tokens).await, 1, "all but the newest have expired");
    rotate(false).await.expect("stages again, dropping the retired keys");
    let jwks = CachingVerifier::jwks(env, &format!("/{pool}/.well-known/jwks.json")).await;
    let kids: Vec<&str> =
        jwks["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap()).collect();
    assert!(!kids.contains(&old_kid.as_str()), "{kids:?}");
    assert_eq!(
        get_user(env, &access_c).await.unwrap_err(),
        "NotAuthorizedException: Access Token has expired"
    );
});

on_both_stores!(a_schedule_rotates_as_tokens_are_issued, |env| {
    let (pool, client) = setup(env).await;
    let body = json!({"UserPoolId": pool, "RotationDays": 30}).to_string();
    let (status, answer) = admin_signed_request(
        env,
        "cognito-idp",
        "POST",
        "/",
        Some("TesseraService.SetSigningKeyRotation"),
        &body,
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["RotationDays"], 30);
    let bad = json!({"UserPoolId": pool, "RotationDays": 4000}).to_string();
    let (status, answer) = admin_signed_request(
        env,
        "cognito-idp",
        "POST",
        "/",
        Some("TesseraService.SetSigningKeyRotation"),
        &bad,
    )
    .await;
    assert_eq!((status, error_parts(&answer).0.as_str()), (400, "InvalidParameterException"), "{answer}");

    let mut verifier = CachingVerifier::new(env, &pool, 6 * 3600).await;
    let mut tokens = Vec::new();
    let first = sign_in(env, &client).await.0;
    let old_kid = kid(&first);
    tokens.push(first);
    // Sign-ins every 6 hours for 31 days: the keys are staged on day 29, sign from day 30.
    let mut changed_at = None;
    for step in 1..=(31 * 4) {
        env.clock.advance_secs(6 * 3600);
        let (access, id) = sign_in(env, &client).await;
        if changed_at.is_none() && kid(&access) != old_kid {
            changed_at = Some(step);
        }
        tokens.extend([access, id]);
        all_verify(env, &mut verifier, &tokens).await;
        // Keep the list short: drop what has expired.
        let now = env.clock.now_secs();
        tokens.retain(|t| crate::tokens::payload(t)["exp"].as_i64().unwrap() > now);
    }
    let step = changed_at.expect("the schedule rotated the keys");
    // Staged at the first sign-in of day 29, signing from the first of day 30 (± one step).
    assert!((30 * 4..=30 * 4 + 1).contains(&step), "rotated at step {step}");
    assert_eq!(statuses(env, &pool).await.iter().filter(|(_, s)| s == "ACTIVE").count(), 2);
});
