//! The wire protocol: SigV4 on admin operations, JSON 1.1 errors, routing, CORS, dev outbox.

use crate::common::*;
use crate::on_both_stores;
use serde_json::Value;

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

#[tokio::test]
async fn admin_calls_need_a_valid_signature() {
    let env = TestEnv::start(Backend::Embedded).await.unwrap();
    // Unsigned.
    let (status, body, headers) = raw_call(&env.url, "ListUserPools", r#"{"MaxResults": 10}"#).await;
    assert_eq!(status, 400);
    assert_eq!(body["__type"], "MissingAuthenticationTokenException");
    assert_eq!(
        header(&headers, "x-amzn-errortype").map(|s| s.trim_end_matches(':')),
        Some("MissingAuthenticationTokenException")
    );
    // Signed with an unknown key.
    let stranger = sdk_client(&env.url, "AKIAUNKNOWN000000000", "whatever").await;
    let e = stranger.list_user_pools().max_results(10).send().await.map_err(err_name).unwrap_err();
    assert_eq!(e, "UnrecognizedClientException: The security token included in the request is invalid.");
    // The right key id with the wrong secret.
    let wrong = sdk_client(&env.url, ADMIN_KEY, "not-the-secret").await;
    let e = wrong.list_user_pools().max_results(10).send().await.map_err(err_name).unwrap_err();
    assert!(
        e.starts_with("InvalidSignatureException: The request signature we calculated does not match"),
        "{e}"
    );
    // A signature from the past.
    let (status, body, _) = {
        let (s, _, b) = raw_http(
            &env.url,
            "POST",
            "/",
            &[
                ("Content-Type", "application/x-amz-json-1.1"),
                ("X-Amz-Target", "AWSCognitoIdentityProviderService.ListUserPools"),
                ("X-Amz-Date", "20200101T000000Z"),
                ("Authorization", &format!("AWS4-HMAC-SHA256 Credential={ADMIN_KEY}/20200101/us-east-1/cognito-idp/aws4_request, SignedHeaders=host;x-amz-date, Signature=00")),
            ],
            br#"{"MaxResults":10}"#,
        )
        .await;
        (s, serde_json::from_slice::<Value>(&b).unwrap(), ())
    };
    assert_eq!(status, 400);
    assert_eq!(body["__type"], "InvalidSignatureException");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .starts_with("Signature expired: 20200101T000000Z is now earlier than"),
        "{body}"
    );
    // The right keys work; unsigned public operations need no signature.
    env.client.list_user_pools().max_results(10).send().await.unwrap();
    let (status, body, _) = raw_call(
        &env.url,
        "SignUp",
        r#"{"ClientId":"nosuchclient0000000000000a","Username":"u","Password":"Correct-Horse-9"}"#,
    )
    .await;
    assert_eq!((status, body["__type"].as_str()), (400, Some("ResourceNotFoundException")));
}

#[tokio::test]
async fn protocol_errors_are_cognitos() {
    let env = TestEnv::start(Backend::Embedded).await.unwrap();
    let (status, body, headers) = raw_call(&env.url, "SignUp", "{not json").await;
    assert_eq!(status, 400);
    assert_eq!(body["__type"], "SerializationException");
    assert_eq!(header(&headers, "content-type"), Some("application/x-amz-json-1.1"));
    assert!(header(&headers, "x-amzn-requestid").is_some_and(|v| v.len() == 36));
    assert!(header(&headers, "date").is_some_and(|v| v.ends_with(" GMT")));

    let (_, body, _) = raw_call(&env.url, "SignUp", r#"{"Username":"u","Password":"Correct-Horse-9"}"#).await;
    assert_eq!(body["__type"], "InvalidParameterException");
    assert_eq!(body["message"], "1 validation error detected: Value null at 'clientId' failed to satisfy constraint: Member must not be null");
    let (_, body, _) = raw_call(&env.url, "SignUp", r#"{"ClientId":5,"Username":"u","Password":"p"}"#).await;
    assert_eq!(body["__type"], "SerializationException");
    let (_, body, _) = raw_call(&env.url, "NoSuchOperation", "{}").await;
    assert_eq!(body["__type"], "UnknownOperationException");
    // An operation of the model that this version does not serve says so clearly.
    let (_, body, _) = raw_call(&env.url, "ListWebAuthnCredentials", r#"{"AccessToken":"abc"}"#).await;
    assert_eq!(body["__type"], "UnsupportedOperationException");
    assert_eq!(body["message"], "ListWebAuthnCredentials is not implemented by this version of Tessera.");
    // The per-operation route serves the same operation without a target header.
    let (status, _, b) = raw_http(
        &env.url,
        "POST",
        "/cognito-idp/SignUp",
        &[("Content-Type", "application/x-amz-json-1.1")],
        br#"{"ClientId":"nosuchclient0000000000000a","Username":"u","Password":"Correct-Horse-9"}"#,
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(serde_json::from_slice::<Value>(&b).unwrap()["__type"], "ResourceNotFoundException");
}

#[tokio::test]
async fn browsers_get_cors() {
    let env = TestEnv::start(Backend::Embedded).await.unwrap();
    let (status, headers, _) = raw_http(
        &env.url,
        "OPTIONS",
        "/",
        &[
            ("Origin", "http://localhost:3000"),
            ("Access-Control-Request-Method", "POST"),
            ("Access-Control-Request-Headers", "content-type,x-amz-target,x-amz-user-agent"),
        ],
        b"",
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(header(&headers, "access-control-allow-origin"), Some("http://localhost:3000"));
    let allowed = header(&headers, "access-control-allow-headers").unwrap();
    for h in [
        "content-type",
        "x-amz-target",
        "x-amz-user-agent",
        "authorization",
        "x-amz-date",
        "x-amz-client-context",
    ] {
        assert!(allowed.contains(h), "{h} allowed");
    }
    let (_, _, headers) = raw_call(&env.url, "SignUp", "{").await;
    assert!(header(&headers, "access-control-allow-origin").is_none(), "no Origin, no CORS headers");
    let (_, headers, _) = raw_http(
        &env.url,
        "POST",
        "/",
        &[("Origin", "http://127.0.0.1:5173"), ("X-Amz-Target", "AWSCognitoIdentityProviderService.SignUp")],
        b"{",
    )
    .await;
    let exposed = header(&headers, "access-control-expose-headers").unwrap();
    for h in ["x-amzn-errortype", "x-amzn-requestid", "date"] {
        assert!(exposed.contains(h));
    }
    // Other sites' pages get no CORS headers by default (tests/e2e/local_safety.rs).
    let (_, headers, _) = raw_http(
        &env.url,
        "POST",
        "/",
        &[("Origin", "http://app.test"), ("X-Amz-Target", "AWSCognitoIdentityProviderService.SignUp")],
        b"{",
    )
    .await;
    assert!(header(&headers, "access-control-allow-origin").is_none());
}

on_both_stores!(dev_outbox_lists_messages, |env| {
    let pool = env.email_pool().await;
    let (client_id, _) = env.app_client(&pool, &[], false).await;
    env.client
        .sign_up()
        .client_id(&client_id)
        .username("out@example.com")
        .password(PASSWORD)
        .send()
        .await
        .unwrap();
    let (status, _, body) = raw_http(&env.url, "GET", "/_dev/messages", &[], b"").await;
    assert_eq!(status, 200);
    let list: Vec<Value> = serde_json::from_slice(&body).unwrap();
    let m = list.iter().find(|m| m["destination"] == "out@example.com").expect("message listed");
    assert_eq!(m["poolId"], pool.as_str());
    assert_eq!(m["channel"], "EMAIL");
    assert_eq!(m["code"].as_str().unwrap().len(), 6);
    assert!(m["body"].as_str().unwrap().contains(m["code"].as_str().unwrap()));
    assert!(m["sentAt"].is_i64());
    assert_eq!(m["subject"], "Your verification code");
    assert!(m["username"].is_string());
});

#[tokio::test]
async fn state_survives_a_restart() {
    let dir = std::env::temp_dir().join(unique("tessera-restart-"));
    let _cleanup = TempDir(dir.clone());
    let start = |dir: std::path::PathBuf| async move {
        let mut cfg = tessera_local::LocalConfig::new(dir.clone());
        cfg.key_file = Some(dir.with_extension("key"));
        cfg.bind = "127.0.0.1:0".parse().unwrap();
        cfg.admin_keys = [(ADMIN_KEY.to_string(), ADMIN_SECRET.to_string())].into();
        cfg.service.hash_params = tessera_core::password::HashParams { m_kib: 1024, t: 1, p: 1 };
        tessera_local::start(cfg).await.unwrap()
    };
    let server = start(dir.clone()).await;
    let client = sdk_client(&server.url(), ADMIN_KEY, ADMIN_SECRET).await;
    let pool = client
        .create_user_pool()
        .pool_name("durable")
        .send()
        .await
        .unwrap()
        .user_pool()
        .unwrap()
        .id()
        .unwrap()
        .to_string();
    let cid = client
        .create_user_pool_client()
        .user_pool_id(&pool)
        .client_name("c")
        .explicit_auth_flows(
            aws_sdk_cognitoidentityprovider::types::ExplicitAuthFlowsType::AllowUserPasswordAuth,
        )
        .send()
        .await
        .unwrap();
    let cid = cid.user_pool_client().unwrap().client_id().unwrap().to_string();
    client.sign_up().client_id(&cid).username("dora").password(PASSWORD).send().await.unwrap();
    client.admin_confirm_sign_up().user_pool_id(&pool).username("dora").send().await.unwrap();
    server.stop().await;

    let server = start(dir.clone()).await;
    let client = sdk_client(&server.url(), ADMIN_KEY, ADMIN_SECRET).await;
    let out = client
        .initiate_auth()
        .client_id(&cid)
        .auth_flow(aws_sdk_cognitoidentityprovider::types::AuthFlowType::UserPasswordAuth)
        .auth_parameters("USERNAME", "dora")
        .auth_parameters("PASSWORD", PASSWORD)
        .send()
        .await
        .unwrap();
    client
        .get_user()
        .access_token(out.authentication_result().unwrap().access_token().unwrap())
        .send()
        .await
        .unwrap();
    server.stop().await;
}

/// Identity pools: JSON 1.1 under their own target prefix and SigV4 service name; Sync:
/// REST-JSON by method and path, every call signed, authentication failures as 403.
#[tokio::test]
async fn identity_and_sync_are_routed_and_signed_as_aws_does() {
    let env = TestEnv::start(Backend::Embedded).await.unwrap();
    // A developer operation of cognito-identity, unsigned.
    let (status, _, body) = raw_http(
        &env.url,
        "POST",
        "/",
        &[
            ("Content-Type", "application/x-amz-json-1.1"),
            ("X-Amz-Target", "AWSCognitoIdentityService.ListIdentityPools"),
        ],
        br#"{"MaxResults": 10}"#,
    )
    .await;
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!((status, body["__type"].as_str()), (400, Some("MissingAuthenticationTokenException")));
    // Signed for the wrong service (the admin keys, scoped to cognito-idp).
    let (status, _, body) = raw_http(
        &env.url,
        "POST",
        "/cognito-identity/ListIdentityPools",
        &[
            ("Content-Type", "application/x-amz-json-1.1"),
            ("X-Amz-Date", "20261126T000000Z"),
            ("Authorization", &format!("AWS4-HMAC-SHA256 Credential={ADMIN_KEY}/20261126/us-east-1/cognito-idp/aws4_request, SignedHeaders=host;x-amz-date, Signature=00")),
        ],
        br#"{"MaxResults": 10}"#,
    )
    .await;
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(status, 400);
    assert_eq!(body["__type"], "InvalidSignatureException");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("Credential should be scoped to correct service: 'cognito-identity'"),
        "{body}"
    );

    // Sync, unsigned: 403 with the error type in the header, as REST services answer.
    let (status, headers, body) = raw_http(
        &env.url,
        "GET",
        "/identitypools/us-east-1%3Aabc/identities/us-east-1%3Adef/datasets",
        &[],
        b"",
    )
    .await;
    assert_eq!(status, 403);
    assert_eq!(
        header(&headers, "x-amzn-errortype").map(|s| s.trim_end_matches(':')),
        Some("MissingAuthenticationTokenException")
    );
    assert!(serde_json::from_slice::<Value>(&body).unwrap()["message"].is_string());
    // Signed with keys nobody issued.
    let stranger = sync_client(&env.url, "ASIAUNKNOWN000000000", "whatever", Some("token")).await;
    let e = stranger
        .list_datasets()
        .identity_pool_id("us-east-1:abc")
        .identity_id("us-east-1:def")
        .send()
        .await
        .map_err(err_name)
        .unwrap_err();
    assert_eq!(e, "UnrecognizedClientException: The security token included in the request is invalid.");
    // No operation at that path.
    let (status, _, _) = raw_http(&env.url, "GET", "/identitypools/p/nothing-here", &[], b"").await;
    assert_eq!(status, 404);
}
