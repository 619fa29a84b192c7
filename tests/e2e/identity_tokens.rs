//! The identity service's OpenID tokens, their published keys, and credentials from STS.

use crate::common::*;
use crate::on_both_stores;
use serde_json::Value;
use tessera_core::identity_tokens;
use tessera_core::CallContext;

async fn get_json(url: &str, path: &str) -> Value {
    let (status, _, body) = raw_http(url, "GET", path, &[], b"").await;
    assert_eq!(status, 200, "GET {path}");
    serde_json::from_slice(&body).unwrap()
}

on_both_stores!(tokens_verify_with_the_published_jwks, |env| {
    let svc = &env.server.state.frontend.service;
    let ctx = CallContext::new(env.url.clone());
    let amr = vec!["authenticated".to_string(), "example.com/us-east-1_abc".to_string()];
    let token = identity_tokens::open_id_token(svc, &ctx, "us-east-1:pool", "us-east-1:identity", &amr, 600)
        .await
        .unwrap();

    let config = get_json(&env.url, "/cognito-identity/.well-known/openid-configuration").await;
    let issuer = format!("{}/cognito-identity", env.url);
    assert_eq!(config["issuer"], issuer);
    assert_eq!(config["jwks_uri"], format!("{issuer}/.well-known/jwks.json"));
    let jwks = get_json(&env.url, "/cognito-identity/.well-known/jwks.json").await;
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1);
    let key = jsonwebtoken::DecodingKey::from_rsa_components(
        keys[0]["n"].as_str().unwrap(),
        keys[0]["e"].as_str().unwrap(),
    )
    .unwrap();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.set_issuer(&[&issuer]);
    validation.set_audience(&["us-east-1:pool"]);
    let claims = jsonwebtoken::decode::<Value>(&token, &key, &validation).unwrap().claims;
    assert_eq!(claims["sub"], "us-east-1:identity");
    assert_eq!(claims["amr"], serde_json::json!(amr));
    assert_eq!(claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(), 600);

    // One key for the deployment: a second token has the same kid, and the service accepts
    // its own tokens but not one from another issuer.
    let again = identity_tokens::open_id_token(svc, &ctx, "us-east-1:pool", "us-east-1:other", &amr, 60)
        .await
        .unwrap();
    assert_eq!(
        jsonwebtoken::decode_header(&again).unwrap().kid,
        jsonwebtoken::decode_header(&token).unwrap().kid
    );
    assert!(identity_tokens::verify_open_id_token(svc, &ctx, &again).await.unwrap().is_some());
    let elsewhere = CallContext::new("https://elsewhere.example");
    assert!(identity_tokens::verify_open_id_token(svc, &elsewhere, &again).await.unwrap().is_none());
});

// Without an STS endpoint the local server makes marked credentials, and remembers them so
// that only the holder of the session token can sign with them.
on_both_stores!(local_credentials_are_marked_and_remembered, |env| {
    let svc = &env.server.state.frontend.service;
    let ctx = CallContext::new(env.url.clone());
    let role = "arn:aws:iam::000000000000:role/authenticated";
    let amr = vec!["authenticated".to_string()];
    let creds =
        identity_tokens::credentials_for_role(svc, &ctx, "us-east-1:pool", "us-east-1:id", role, &amr)
            .await
            .unwrap();
    assert!(creds.access_key_id.starts_with("ASIALOCAL"), "{}", creds.access_key_id);
    assert_eq!(creds.access_key_id.len(), 20);
    assert!(creds.session_token.starts_with("tessera-local:"));
    let in_an_hour = svc.now_secs() + 3600;
    assert!((creds.expiration - in_an_hour).abs() <= 2);

    let holder =
        tessera_core::identity_credentials::holder(svc, &creds.access_key_id, Some(&creds.session_token))
            .await
            .unwrap()
            .expect("remembered");
    assert_eq!(
        (holder.identity_pool_id.as_str(), holder.identity_id.as_str()),
        ("us-east-1:pool", "us-east-1:id")
    );
    assert_eq!(holder.secret_key, creds.secret_key);
    let wrong =
        tessera_core::identity_credentials::holder(svc, &creds.access_key_id, Some("tessera-local:x"));
    assert!(wrong.await.unwrap().is_none(), "another session token");
    let none = tessera_core::identity_credentials::holder(svc, &creds.access_key_id, None);
    assert!(none.await.unwrap().is_none(), "no session token");

    // They expire with the credentials.
    env.clock.advance_secs(3601);
    let expired =
        tessera_core::identity_credentials::holder(svc, &creds.access_key_id, Some(&creds.session_token));
    assert!(expired.await.unwrap().is_none());
});

/// With an STS endpoint (moto's server here), credentials come from AssumeRoleWithWebIdentity.
#[tokio::test]
async fn credentials_come_from_sts_when_an_endpoint_is_set() {
    let Some(moto) = dynamodb_endpoint() else {
        eprintln!("skipped: TESSERA_TEST_DYNAMODB_ENDPOINT (moto) is not set");
        return;
    };
    let env =
        TestEnv::start_local(Backend::Embedded, |cfg| cfg.sts_endpoint = Some(moto.clone())).await.unwrap();
    let svc = &env.server.state.frontend.service;
    let ctx = CallContext::new(env.url.clone());
    let role = "arn:aws:iam::123456789012:role/tessera-authenticated";
    let amr = vec!["authenticated".to_string()];
    let creds =
        identity_tokens::credentials_for_role(svc, &ctx, "us-east-1:pool", "us-east-1:id", role, &amr)
            .await
            .unwrap();
    assert!(!creds.access_key_id.starts_with("ASIALOCAL"), "from STS, not local");
    assert!(!creds.secret_key.is_empty() && !creds.session_token.is_empty());
    assert!(creds.expiration > svc.now_secs());
    let holder =
        tessera_core::identity_credentials::holder(svc, &creds.access_key_id, Some(&creds.session_token));
    assert_eq!(holder.await.unwrap().expect("remembered").identity_id, "us-east-1:id");
    assert_eq!(
        session_policy_at_sts(&moto, &creds.access_key_id).await,
        None,
        "authenticated: the role alone"
    );

    // A guest's credentials, through the API: the role narrowed to the scope-down services.
    let admin = identity_client(&env.url, ADMIN_KEY, ADMIN_SECRET).await;
    let pool = admin
        .create_identity_pool()
        .identity_pool_name(unique("guests"))
        .allow_unauthenticated_identities(true)
        .send()
        .await
        .unwrap()
        .identity_pool_id()
        .to_string();
    admin
        .set_identity_pool_roles()
        .identity_pool_id(&pool)
        .roles("unauthenticated", "arn:aws:iam::123456789012:role/tessera-guest")
        .send()
        .await
        .unwrap();
    let id = admin.get_id().identity_pool_id(&pool).send().await.unwrap().identity_id().unwrap().to_string();
    let out = admin.get_credentials_for_identity().identity_id(&id).send().await.unwrap();
    let guest_key = out.credentials().and_then(|c| c.access_key_id()).unwrap().to_string();
    let policy = session_policy_at_sts(&moto, &guest_key).await.expect("a session policy");
    let policy: Value = serde_json::from_str(&policy).unwrap();
    let statement = &policy["Statement"][0];
    assert_eq!((statement["Effect"].as_str(), statement["Resource"].as_str()), (Some("Allow"), Some("*")));
    let actions: Vec<&str> =
        statement["Action"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    for allowed in ["cognito-sync:*", "s3:*", "dynamodb:*", "mobiletargeting:*", "lambda:*"] {
        assert!(actions.contains(&allowed), "{allowed} in {actions:?}");
    }
    for denied in ["iam:*", "ec2:*", "sts:*", "cognito-idp:*"] {
        assert!(!actions.contains(&denied), "{denied} not in {actions:?}");
    }
}

/// The session policy moto's STS recorded for the role session of `access_key_id`.
async fn session_policy_at_sts(moto: &str, access_key_id: &str) -> Option<String> {
    let (status, _, body) = raw_http(moto, "GET", "/moto-api/data.json", &[], b"").await;
    assert_eq!(status, 200);
    let data: Value = serde_json::from_slice(&body).unwrap();
    let sessions = data["sts"]["AssumedRole"].as_array().cloned().unwrap_or_default();
    let session =
        sessions.iter().find(|r| r["access_key_id"].as_str() == Some(access_key_id)).expect("session");
    session["policy"].as_str().map(str::to_string)
}
