//! The auth domain's API endpoints: `/oauth2/token` (client_credentials, refresh_token and
//! their errors), `/oauth2/userInfo`, `/oauth2/revoke`, and the openid-configuration that
//! points at them; the domain reached by path and by host.

use crate::common::*;
use crate::on_both_stores;
use aws_sdk_cognitoidentityprovider as cip;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use cip::types::{OAuthFlowType, ResourceServerScopeType};
use serde_json::Value;

pub const API: &str = "https://photos.example.com";

/// A pool with a prefix domain; returns (pool id, prefix).
pub async fn pool_with_domain(env: &TestEnv) -> (String, String) {
    let pool = env.pool(|b| b).await;
    let prefix = unique("d").to_lowercase();
    env.client.create_user_pool_domain().user_pool_id(&pool).domain(&prefix).send().await.unwrap();
    (pool, prefix)
}

pub async fn resource_server(env: &TestEnv, pool: &str, scopes: &[&str]) {
    let mut b = env.client.create_resource_server().user_pool_id(pool).identifier(API).name("Photos");
    for s in scopes {
        b = b
            .scopes(ResourceServerScopeType::builder().scope_name(*s).scope_description(*s).build().unwrap());
    }
    b.send().await.unwrap();
}

/// A machine client: a secret, client_credentials, the given custom scopes.
pub async fn m2m_client(env: &TestEnv, pool: &str, scopes: &[&str]) -> (String, String) {
    let mut b = env
        .client
        .create_user_pool_client()
        .user_pool_id(pool)
        .client_name("m2m")
        .generate_secret(true)
        .allowed_o_auth_flows(OAuthFlowType::ClientCredentials)
        .allowed_o_auth_flows_user_pool_client(true);
    for s in scopes {
        b = b.allowed_o_auth_scopes(format!("{API}/{s}"));
    }
    let c = b.send().await.unwrap();
    let c = c.user_pool_client().unwrap();
    (c.client_id().unwrap().to_string(), c.client_secret().unwrap().to_string())
}

pub fn basic(id: &str, secret: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{id}:{secret}")))
}

pub fn form(fields: &[(&str, &str)]) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in fields {
        s.append_pair(k, v);
    }
    s.finish()
}

/// POST to the domain's path (path-scoped form), form-encoded.
pub async fn post_form(
    env: &TestEnv,
    prefix: &str,
    path: &str,
    auth: Option<&str>,
    body: &str,
) -> (u16, Vec<(String, String)>, Value) {
    let mut headers = vec![("Content-Type", "application/x-www-form-urlencoded")];
    if let Some(a) = auth {
        headers.push(("Authorization", a));
    }
    let (status, h, body) =
        raw_http(&env.url, "POST", &format!("/_auth/{prefix}{path}"), &headers, body.as_bytes()).await;
    (status, h, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

pub fn claims(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

on_both_stores!(client_credentials_grant, |env| {
    let (pool, prefix) = pool_with_domain(env).await;
    resource_server(env, &pool, &["read", "write"]).await;
    let (id, secret) = m2m_client(env, &pool, &["read", "write"]).await;
    let auth = basic(&id, &secret);

    // No scope: every custom scope of the client.
    let (status, headers, body) =
        post_form(env, &prefix, "/oauth2/token", Some(&auth), &form(&[("grant_type", "client_credentials")]))
            .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(header(&headers, "cache-control").map(|c| c.contains("no-store")), Some(true));
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3600);
    assert!(body.get("refresh_token").is_none() && body.get("id_token").is_none(), "{body}");
    let c = claims(body["access_token"].as_str().unwrap());
    assert_eq!(c["sub"], id.as_str());
    assert_eq!(c["client_id"], id.as_str());
    assert_eq!(c["token_use"], "access");
    assert_eq!(c["scope"], format!("{API}/read {API}/write"));
    assert_eq!(c["iss"], format!("{}/{pool}", env.url));
    assert!(c.get("username").is_none());
    // The token verifies against the pool's JWKS (RS256).
    let (_, _, jwks) = raw_http(&env.url, "GET", &format!("/{pool}/.well-known/jwks.json"), &[], b"").await;
    let jwks: jsonwebtoken::jwk::JwkSet = serde_json::from_slice(&jwks).unwrap();
    let token = body["access_token"].as_str().unwrap();
    let kid = jsonwebtoken::decode_header(token).unwrap().kid.unwrap();
    let key = jsonwebtoken::DecodingKey::from_jwk(jwks.find(&kid).unwrap()).unwrap();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.validate_aud = false;
    jsonwebtoken::decode::<Value>(token, &key, &validation).expect("verifies");
    // Such a token has no user: the user API refuses it.
    let e = env.client.get_user().access_token(token).send().await.map_err(err_name).unwrap_err();
    assert!(e.starts_with("NotAuthorizedException"), "{e}");

    // One scope asked for; client_secret_post works as well as Basic.
    let (status, _, body) = post_form(
        env,
        &prefix,
        "/oauth2/token",
        None,
        &form(&[
            ("grant_type", "client_credentials"),
            ("client_id", &id),
            ("client_secret", &secret),
            ("scope", &format!("{API}/read")),
        ]),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(claims(body["access_token"].as_str().unwrap())["scope"], format!("{API}/read"));

    // The errors of RFC 6749, each a 400 with Cognito's code.
    let cc = form(&[("grant_type", "client_credentials")]);
    for (auth, body, error) in [
        (None, cc.clone(), "invalid_client"),
        (Some(basic(&id, "wrong-secret")), cc.clone(), "invalid_client"),
        (Some(basic("nosuchclient", &secret)), cc.clone(), "invalid_client"),
        (Some(auth.clone()), form(&[("grant_type", "password")]), "unsupported_grant_type"),
        (Some(auth.clone()), form(&[("scope", "x")]), "invalid_request"),
        (
            Some(auth.clone()),
            form(&[("grant_type", "client_credentials"), ("scope", "openid")]),
            "invalid_scope",
        ),
        (
            Some(auth.clone()),
            form(&[("grant_type", "client_credentials"), ("scope", &format!("{API}/delete"))]),
            "invalid_scope",
        ),
        (
            Some(auth.clone()),
            form(&[("grant_type", "client_credentials"), ("grant_type", "client_credentials")]),
            "invalid_request",
        ),
        (Some(auth.clone()), form(&[("grant_type", "authorization_code")]), "unauthorized_client"),
    ] {
        let (status, _, answer) = post_form(env, &prefix, "/oauth2/token", auth.as_deref(), &body).await;
        assert_eq!((status, answer["error"].as_str()), (400, Some(error)), "{body}: {answer}");
    }
    // Not a form: invalid_request.
    let (status, _, answer) = raw_http(
        &env.url,
        "POST",
        &format!("/_auth/{prefix}/oauth2/token"),
        &[("Content-Type", "application/json"), ("Authorization", &auth)],
        br#"{"grant_type":"client_credentials"}"#,
    )
    .await;
    let answer: Value = serde_json::from_slice(&answer).unwrap();
    assert_eq!((status, answer["error"].as_str()), (400, Some("invalid_request")));

    // A scope deleted from its server is dropped; with none left, the grant is refused.
    env.client
        .update_resource_server()
        .user_pool_id(&pool)
        .identifier(API)
        .name("Photos")
        .scopes(ResourceServerScopeType::builder().scope_name("read").scope_description("r").build().unwrap())
        .send()
        .await
        .unwrap();
    let (status, _, body) = post_form(env, &prefix, "/oauth2/token", Some(&auth), &cc).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(claims(body["access_token"].as_str().unwrap())["scope"], format!("{API}/read"));
    env.client.delete_resource_server().user_pool_id(&pool).identifier(API).send().await.unwrap();
    let (status, _, body) = post_form(env, &prefix, "/oauth2/token", Some(&auth), &cc).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_scope")), "{body}");

    // The domain by host: {prefix}.auth.localhost on the server's port.
    resource_server(env, &pool, &["read"]).await;
    let host = format!("{prefix}.auth.localhost:{}", env.server.addr.port());
    let (status, _, body) = raw_http(
        &env.url,
        "POST",
        "/oauth2/token",
        &[("Host", &host), ("Content-Type", "application/x-www-form-urlencoded"), ("Authorization", &auth)],
        cc.as_bytes(),
    )
    .await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    // Grants within a second share one token (one signature), its expiry counting down; a
    // grant after that window gets a new one.
    let (_, _, first) = post_form(env, &prefix, "/oauth2/token", Some(&auth), &cc).await;
    let (_, _, second) = post_form(env, &prefix, "/oauth2/token", Some(&auth), &cc).await;
    assert_eq!(first["access_token"], second["access_token"]);
    assert!(second["expires_in"].as_i64() <= first["expires_in"].as_i64());
    env.clock.advance_secs(2);
    let (_, _, third) = post_form(env, &prefix, "/oauth2/token", Some(&auth), &cc).await;
    assert_ne!(first["access_token"], third["access_token"]);
    assert_eq!(third["expires_in"], 3600);
    // An unknown domain is a 404 page.
    let (status, _, _) = post_form(env, "no-such-domain", "/oauth2/token", Some(&auth), &cc).await;
    assert_eq!(status, 404);
});

on_both_stores!(refresh_userinfo_and_revoke, |env| {
    let (pool, prefix) = pool_with_domain(env).await;
    let client = env
        .client
        .create_user_pool_client()
        .user_pool_id(&pool)
        .client_name("web")
        .explicit_auth_flows(cip::types::ExplicitAuthFlowsType::AllowAdminUserPasswordAuth)
        .explicit_auth_flows(cip::types::ExplicitAuthFlowsType::AllowRefreshTokenAuth)
        .allowed_o_auth_flows(OAuthFlowType::Code)
        .allowed_o_auth_scopes("openid")
        .allowed_o_auth_scopes("email")
        .callback_urls("https://app.example.com/cb")
        .allowed_o_auth_flows_user_pool_client(true)
        .send()
        .await
        .unwrap();
    let client_id = client.user_pool_client().unwrap().client_id().unwrap().to_string();
    let email = format!("{}@example.com", unique("u"));
    env.client
        .admin_create_user()
        .user_pool_id(&pool)
        .username("alice")
        .user_attributes(attr("email", &email))
        .user_attributes(attr("email_verified", "true"))
        .message_action(cip::types::MessageActionType::Suppress)
        .send()
        .await
        .unwrap();
    env.client
        .admin_set_user_password()
        .user_pool_id(&pool)
        .username("alice")
        .password(PASSWORD)
        .permanent(true)
        .send()
        .await
        .unwrap();
    let signed_in = env.admin_sign_in(&pool, &client_id, "alice").await;
    let refresh = signed_in.refresh_token().unwrap().to_string();

    // refresh_token grant: new access and ID tokens, no new refresh token (no rotation).
    let grant =
        form(&[("grant_type", "refresh_token"), ("client_id", &client_id), ("refresh_token", &refresh)]);
    let (status, _, body) = post_form(env, &prefix, "/oauth2/token", None, &grant).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.get("refresh_token").is_none(), "{body}");
    let access = body["access_token"].as_str().unwrap().to_string();
    assert_eq!(claims(body["id_token"].as_str().unwrap())["cognito:username"], "alice");

    // userInfo: the attributes, Cognito's string booleans, `username`.
    let bearer = format!("Bearer {access}");
    let (status, _, info) = raw_http(
        &env.url,
        "GET",
        &format!("/_auth/{prefix}/oauth2/userInfo"),
        &[("Authorization", &bearer)],
        b"",
    )
    .await;
    assert_eq!(status, 200);
    let info: Value = serde_json::from_slice(&info).unwrap();
    assert_eq!(info["email"], email.as_str());
    assert_eq!(info["email_verified"], "true");
    assert_eq!(info["username"], "alice");
    assert!(info["sub"].as_str().is_some());
    // POST with the Bearer header, and POST with the token in the form (RFC 6750 §2.2): the same.
    let (status, _, posted) = raw_http(
        &env.url,
        "POST",
        &format!("/_auth/{prefix}/oauth2/userInfo"),
        &[("Authorization", &bearer)],
        b"",
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(serde_json::from_slice::<Value>(&posted).unwrap(), info);
    let (status, _, posted) =
        post_form(env, &prefix, "/oauth2/userInfo", None, &form(&[("access_token", &access)])).await;
    assert_eq!(status, 200, "{posted}");
    assert_eq!(posted, info);
    let (status, headers, _) = raw_http(
        &env.url,
        "GET",
        &format!("/_auth/{prefix}/oauth2/userInfo"),
        &[("Authorization", "Bearer not.a.token")],
        b"",
    )
    .await;
    assert_eq!(status, 401);
    assert!(header(&headers, "www-authenticate").unwrap().contains("invalid_token"));
    let (status, _, _) =
        raw_http(&env.url, "GET", &format!("/_auth/{prefix}/oauth2/userInfo"), &[], b"").await;
    assert_eq!(status, 400);

    // Revoke ends the family: the refresh token no longer works, nor its access tokens.
    let (status, _, body) = post_form(
        env,
        &prefix,
        "/oauth2/revoke",
        None,
        &form(&[("token", &refresh), ("client_id", &client_id)]),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, _, body) = post_form(env, &prefix, "/oauth2/token", None, &grant).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")), "{body}");
    let (status, _, _) = raw_http(
        &env.url,
        "GET",
        &format!("/_auth/{prefix}/oauth2/userInfo"),
        &[("Authorization", &bearer)],
        b"",
    )
    .await;
    assert_eq!(status, 401);
    // Revoking an access token is not supported.
    let (status, _, body) = post_form(
        env,
        &prefix,
        "/oauth2/revoke",
        None,
        &form(&[("token", &access), ("client_id", &client_id)]),
    )
    .await;
    assert_eq!((status, body["error"].as_str()), (400, Some("unsupported_token_type")), "{body}");

    // A global sign-out ends refresh too.
    let again = env.admin_sign_in(&pool, &client_id, "alice").await;
    env.client.admin_user_global_sign_out().user_pool_id(&pool).username("alice").send().await.unwrap();
    let grant = form(&[
        ("grant_type", "refresh_token"),
        ("client_id", &client_id),
        ("refresh_token", again.refresh_token().unwrap()),
    ]);
    let (status, _, body) = post_form(env, &prefix, "/oauth2/token", None, &grant).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")), "{body}");

    // The openid-configuration lists the domain's endpoints (path-scoped on the local server).
    let (_, _, doc) =
        raw_http(&env.url, "GET", &format!("/{pool}/.well-known/openid-configuration"), &[], b"").await;
    let doc: Value = serde_json::from_slice(&doc).unwrap();
    let base = format!("{}/_auth/{prefix}", env.url);
    assert_eq!(doc["token_endpoint"], format!("{base}/oauth2/token"));
    assert_eq!(doc["authorization_endpoint"], format!("{base}/oauth2/authorize"));
    assert_eq!(doc["userinfo_endpoint"], format!("{base}/oauth2/userInfo"));
    assert_eq!(doc["issuer"], format!("{}/{pool}", env.url));
});

/// The endpoints browser apps fetch (Amplify's code exchange sends `x-amz-user-agent`) answer
/// preflights and any origin, without credentials; the pages get no CORS headers at all.
#[tokio::test]
async fn browser_apps_may_fetch_the_token_endpoints_but_not_read_the_pages() {
    let env = TestEnv::start(Backend::Embedded).await.unwrap();
    let (pool, prefix) = pool_with_domain(&env).await;
    resource_server(&env, &pool, &["read"]).await;
    let (id, secret) = m2m_client(&env, &pool, &["read"]).await;
    let origin = "https://app.example.com";
    let header = |headers: &[(String, String)], name: &str| {
        headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.clone())
    };
    for path in ["/oauth2/token", "/oauth2/revoke", "/oauth2/userInfo"] {
        let (status, headers, _) = raw_http(
            &env.url,
            "OPTIONS",
            &format!("/_auth/{prefix}{path}"),
            &[
                ("Origin", origin),
                ("Access-Control-Request-Method", "POST"),
                ("Access-Control-Request-Headers", "content-type,x-amz-user-agent"),
            ],
            b"",
        )
        .await;
        assert_eq!(status, 204, "{path}");
        assert_eq!(header(&headers, "access-control-allow-origin").as_deref(), Some(origin), "{path}");
        assert_eq!(
            header(&headers, "access-control-allow-headers").as_deref(),
            Some("content-type,x-amz-user-agent"),
            "{path}"
        );
        assert_eq!(header(&headers, "access-control-allow-credentials"), None, "{path}: no cookies");
    }
    let (status, headers, _) = raw_http(
        &env.url,
        "POST",
        &format!("/_auth/{prefix}/oauth2/token"),
        &[
            ("Origin", origin),
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("Authorization", &basic(&id, &secret)),
        ],
        form(&[("grant_type", "client_credentials")]).as_bytes(),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(header(&headers, "access-control-allow-origin").as_deref(), Some(origin));
    // A page a script could read cross-origin would hand it the form's CSRF token: never.
    for (method, path) in [("GET", "/login"), ("OPTIONS", "/login"), ("GET", "/oauth2/authorize")] {
        let (_, headers, _) =
            raw_http(&env.url, method, &format!("/_auth/{prefix}{path}"), &[("Origin", origin)], b"").await;
        assert_eq!(header(&headers, "access-control-allow-origin"), None, "{method} {path}");
    }
    // Not even for the loopback origins the JSON API allows.
    let (_, headers, _) = raw_http(
        &env.url,
        "GET",
        &format!("/_auth/{prefix}/login"),
        &[("Origin", "http://localhost:3000")],
        b"",
    )
    .await;
    assert_eq!(header(&headers, "access-control-allow-origin"), None);
}
