//! The social providers: Google and Sign in with Apple (OpenID Connect: their ID token checked;
//! Apple's client secret an ES256 JWT, its answer a form_post with the user's name), Facebook
//! and Login with Amazon (OAuth 2.0 and a profile call). Their real endpoints cannot be reached
//! here: the local server points each type at a stand-in (ServiceConfig::social_endpoints) that
//! answers as they do and records what it was asked.

use crate::common::*;
use crate::oauth_code::Browser;
use crate::oauth_token::{claims, form, post_form};
use aws_sdk_cognitoidentityprovider as cip;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use cip::types::{IdentityProviderTypeType, OAuthFlowType};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tessera_core::user_pool::federation::discovery::Endpoints;

const CALLBACK: &str = "https://app.example.com/callback";

/// A request the stand-in got: (method, path and query, body, authorization header).
type Seen = (String, String, String, String);

/// The stand-in: one ES256 key for its ID tokens, the answers the test sets, and the requests
/// it got.
#[derive(Clone, Default)]
struct StandIn {
    url: String,
    token_answer: Arc<Mutex<Value>>,
    profile_answer: Arc<Mutex<Value>>,
    requests: Arc<Mutex<Vec<Seen>>>,
}

fn json_answer(v: &Value) -> ([(http::header::HeaderName, &'static str); 1], String) {
    ([(http::header::CONTENT_TYPE, "application/json")], v.to_string())
}

/// An ES256 key: (its PKCS#8 PEM, the signing key, its public JWK).
fn es256() -> (String, jsonwebtoken::EncodingKey, Value) {
    use aws_lc_rs::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
    let rng = aws_lc_rs::rand::SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
    let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref()).unwrap();
    let point = pair.public_key().as_ref().to_vec();
    let jwk = json!({
        "kty": "EC", "crv": "P-256", "kid": "k1", "alg": "ES256", "use": "sig",
        "x": URL_SAFE_NO_PAD.encode(&point[1..33]), "y": URL_SAFE_NO_PAD.encode(&point[33..65]),
    });
    // The PEM label is put together: no key is stored in the repository, and a scan for
    // committed keys need not stop at this generator.
    let label = ["PRIVATE", "KEY"].join(" ");
    let pem =
        format!("-----BEGIN {label}-----\n{}\n-----END {label}-----\n", STANDARD.encode(pkcs8.as_ref()));
    (pem, jsonwebtoken::EncodingKey::from_ec_der(pkcs8.as_ref()), jwk)
}

impl StandIn {
    async fn start(jwk: Value) -> StandIn {
        use axum::extract::{Request, State};
        use axum::routing::any;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let stand_in =
            StandIn { url: format!("http://{}", listener.local_addr().unwrap()), ..Default::default() };
        async fn answer(
            State((s, jwk)): State<(StandIn, Value)>,
            req: Request,
        ) -> impl axum::response::IntoResponse {
            let method = req.method().to_string();
            let target = req.uri().to_string();
            let auth =
                req.headers().get("authorization").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
            let body = axum::body::to_bytes(req.into_body(), 1 << 20).await.unwrap_or_default();
            s.requests.lock().unwrap().push((
                method,
                target.clone(),
                String::from_utf8_lossy(&body).into(),
                auth,
            ));
            let path = target.split('?').next().unwrap_or_default();
            match path {
                "/jwks" => json_answer(&json!({"keys": [jwk]})),
                "/token" => json_answer(&s.token_answer.lock().unwrap()),
                _ => json_answer(&s.profile_answer.lock().unwrap()),
            }
        }
        let app = axum::Router::new().fallback(any(answer)).with_state((stand_in.clone(), jwk));
        tokio::spawn(async move { axum::serve(listener, app).await });
        stand_in
    }

    fn endpoints(&self, issuer: &str, userinfo: Option<&str>, pkce: bool) -> Endpoints {
        Endpoints {
            issuer: format!("{}/{issuer}", self.url),
            authorize: format!("{}/authorize", self.url),
            token: format!("{}/token", self.url),
            userinfo: userinfo.map(|p| format!("{}/{p}", self.url)),
            jwks: format!("{}/jwks", self.url),
            pkce,
        }
    }

    /// The last request to `path`: (method, path and query, body, authorization).
    fn last(&self, path: &str) -> Seen {
        let requests = self.requests.lock().unwrap();
        requests
            .iter()
            .rev()
            .find(|r| r.1.split('?').next() == Some(path))
            .cloned()
            .unwrap_or_else(|| panic!("no request to {path}"))
    }
}

fn details(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

async fn provider(
    env: &TestEnv,
    pool: &str,
    kind: IdentityProviderTypeType,
    pairs: &[(&str, &str)],
    mapping: &[(&str, &str)],
) -> HashMap<String, String> {
    let mut b = env
        .client
        .create_identity_provider()
        .user_pool_id(pool)
        .provider_name(kind.as_str())
        .provider_type(kind)
        .set_provider_details(Some(details(pairs)));
    for (k, v) in mapping {
        b = b.attribute_mapping(*k, *v);
    }
    let created = b.send().await.unwrap();
    created.identity_provider().unwrap().provider_details().unwrap().clone()
}

/// Starts a sign-in at `name`: the query the stand-in's authorize endpoint got, and the
/// `cognito-fed` cookie's header.
async fn start(
    env: &TestEnv,
    prefix: &str,
    client_id: &str,
    name: &str,
    browser: &mut Browser,
) -> (HashMap<String, String>, String) {
    let query = form(&[
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", CALLBACK),
        ("scope", "openid"),
        ("state", "app-state"),
        ("identity_provider", name),
    ]);
    let path = format!("/_auth/{prefix}/oauth2/authorize?{query}");
    let (status, headers, _) = raw_http(&env.url, "GET", &path, &[], b"").await;
    assert_eq!(status, 302, "{name}");
    let location = headers.iter().find(|(k, _)| k == "location").map(|(_, v)| v.clone()).unwrap();
    let cookie = headers
        .iter()
        .find(|(k, v)| k == "set-cookie" && v.starts_with("cognito-fed="))
        .map(|(_, v)| v.clone())
        .unwrap();
    let value = cookie.split(';').next().unwrap().split_once('=').unwrap().1.to_string();
    browser.cookies.push(("cognito-fed".into(), value));
    let fields =
        form_urlencoded::parse(location.split_once('?').unwrap().1.as_bytes()).into_owned().collect();
    (fields, cookie)
}

async fn tokens(env: &TestEnv, prefix: &str, client_id: &str, location: &str) -> Value {
    let query: HashMap<String, String> =
        form_urlencoded::parse(location.split_once('?').unwrap().1.as_bytes()).into_owned().collect();
    let code = query.get("code").unwrap_or_else(|| panic!("no code: {location}"));
    let body = form(&[
        ("grant_type", "authorization_code"),
        ("client_id", client_id),
        ("code", code),
        ("redirect_uri", CALLBACK),
    ]);
    let (status, _, tokens) = post_form(env, prefix, "/oauth2/token", None, &body).await;
    assert_eq!(status, 200, "{tokens}");
    tokens
}

fn id_token(key: &jsonwebtoken::EncodingKey, claims: Value) -> String {
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
    header.kid = Some("k1".into());
    jsonwebtoken::encode(&header, &claims, key).unwrap()
}

async fn sign_in_with_social_providers(backend: Backend) {
    let (_, idp_key, jwk) = es256();
    let stand_in = StandIn::start(jwk).await;
    let (apple_pem, _, apple_jwk) = es256();
    let endpoints = [
        ("Google", stand_in.endpoints("google", Some("userinfo"), true)),
        ("SignInWithApple", stand_in.endpoints("apple", None, false)),
        ("Facebook", stand_in.endpoints("facebook", Some("profile"), false)),
        ("LoginWithAmazon", stand_in.endpoints("amazon", Some("profile"), false)),
    ];
    let Some(env) = TestEnv::start_local(backend, |c| {
        c.service.social_endpoints = endpoints.iter().map(|(k, e)| (k.to_string(), e.clone())).collect();
    })
    .await
    else {
        return;
    };
    let env = &env;
    let pool = env.pool(|b| b).await;
    let prefix = unique("social").to_lowercase();
    env.client.create_user_pool_domain().user_pool_id(&pool).domain(&prefix).send().await.unwrap();
    let google = provider(
        env,
        &pool,
        IdentityProviderTypeType::Google,
        &[
            ("client_id", "g-client"),
            ("client_secret", "g-secret"),
            ("authorize_scopes", "openid email profile"),
        ],
        &[("email", "email"), ("name", "name")],
    )
    .await;
    // Describe shows Cognito's values for the type.
    assert_eq!(
        google.get("authorize_url").map(String::as_str),
        Some("https://accounts.google.com/o/oauth2/v2/auth")
    );
    assert_eq!(google.get("attributes_url_add_attributes").map(String::as_str), Some("true"));
    let apple = provider(
        env,
        &pool,
        IdentityProviderTypeType::SignInWithApple,
        &[
            ("client_id", "com.example.app"),
            ("team_id", "TEAM123"),
            ("key_id", "KEY456"),
            ("private_key", &apple_pem),
            ("authorize_scopes", "email name"),
        ],
        &[("email", "email"), ("name", "name")],
    )
    .await;
    assert!(!apple.contains_key("private_key"), "Apple's key is never shown");
    assert_eq!(apple.get("oidc_issuer").map(String::as_str), Some("https://appleid.apple.com"));
    let facebook = provider(
        env,
        &pool,
        IdentityProviderTypeType::Facebook,
        &[
            ("client_id", "fb-app"),
            ("client_secret", "fb-secret"),
            ("authorize_scopes", "public_profile,email"),
            ("api_version", "v19.0"),
        ],
        &[("email", "email"), ("name", "name")],
    )
    .await;
    assert_eq!(
        facebook.get("token_url").map(String::as_str),
        Some("https://graph.facebook.com/v19.0/oauth/access_token")
    );
    provider(
        env,
        &pool,
        IdentityProviderTypeType::LoginWithAmazon,
        &[("client_id", "amzn-app"), ("client_secret", "amzn-secret"), ("authorize_scopes", "profile")],
        &[("email", "email"), ("name", "name")],
    )
    .await;
    let bad_key = env
        .client
        .update_identity_provider()
        .user_pool_id(&pool)
        .provider_name("SignInWithApple")
        .set_provider_details(Some(details(&[
            ("client_id", "c"),
            ("team_id", "T"),
            ("key_id", "K"),
            ("private_key", "not a key"),
            ("authorize_scopes", "email"),
        ])))
        .send()
        .await;
    assert!(err_name(bad_key.unwrap_err()).contains("ES256 private key"));
    let client = env
        .client
        .create_user_pool_client()
        .user_pool_id(&pool)
        .client_name("web")
        .allowed_o_auth_flows(OAuthFlowType::Code)
        .allowed_o_auth_scopes("openid")
        .callback_urls(CALLBACK)
        .set_supported_identity_providers(Some(
            ["Google", "SignInWithApple", "Facebook", "LoginWithAmazon"].map(String::from).to_vec(),
        ))
        .allowed_o_auth_flows_user_pool_client(true)
        .send()
        .await
        .unwrap();
    let client_id = client.user_pool_client().unwrap().client_id().unwrap().to_string();
    let now = tessera_core::ports::Clock::now_secs(env.clock.as_ref());

    // Google: OIDC with PKCE, its ID token and userinfo.
    let mut browser = Browser::default();
    let (asked, _) = start(env, &prefix, &client_id, "Google", &mut browser).await;
    assert_eq!(asked["scope"], "openid email profile");
    assert!(asked.contains_key("nonce") && asked.contains_key("code_challenge"), "{asked:?}");
    *stand_in.token_answer.lock().unwrap() = json!({"access_token": "g-at", "token_type": "Bearer", "id_token": id_token(&idp_key, json!({
        "iss": format!("{}/google", stand_in.url), "aud": "g-client", "sub": "g-1", "email": "gina@gmail.example",
        "nonce": asked["nonce"], "iat": now, "exp": now + 300}))});
    *stand_in.profile_answer.lock().unwrap() = json!({"sub": "g-1", "name": "Gina"});
    let page = browser
        .get(
            env,
            &format!(
                "/_auth/{prefix}/oauth2/idpresponse?{}",
                form(&[("code", "g-code"), ("state", &asked["state"])])
            ),
        )
        .await;
    let id =
        claims(tokens(env, &prefix, &client_id, &page.location.unwrap()).await["id_token"].as_str().unwrap());
    assert_eq!(
        (id["cognito:username"].as_str(), id["email"].as_str(), id["name"].as_str()),
        (Some("Google_g-1"), Some("gina@gmail.example"), Some("Gina"))
    );
    assert_eq!(id["identities"][0]["providerType"], "Google");
    assert_eq!(stand_in.last("/userinfo").3, "Bearer g-at");

    // Apple: form_post (so the state cookie is SameSite=None), the client secret a JWT signed
    // with the team's key, the name from the `user` field of the first answer.
    let mut browser = Browser::default();
    let (asked, cookie) = start(env, &prefix, &client_id, "SignInWithApple", &mut browser).await;
    assert_eq!(asked.get("response_mode").map(String::as_str), Some("form_post"));
    assert!(cookie.contains("SameSite=None") && cookie.contains("Secure"), "{cookie}");
    *stand_in.token_answer.lock().unwrap() = json!({"access_token": "a-at", "token_type": "Bearer", "id_token": id_token(&idp_key, json!({
        "iss": format!("{}/apple", stand_in.url), "aud": "com.example.app", "sub": "000123.abc", "email": "x@privaterelay.appleid.com",
        "email_verified": "true", "nonce": asked["nonce"], "iat": now, "exp": now + 300}))});
    let user =
        json!({"name": {"firstName": "Ann", "lastName": "Apple"}, "email": "x@privaterelay.appleid.com"})
            .to_string();
    let posted = form(&[("code", "a-code"), ("state", &asked["state"]), ("user", &user)]);
    let page = browser.post(env, &format!("/_auth/{prefix}/oauth2/idpresponse"), &posted).await;
    let id =
        claims(tokens(env, &prefix, &client_id, &page.location.unwrap()).await["id_token"].as_str().unwrap());
    assert_eq!(
        (id["cognito:username"].as_str(), id["name"].as_str()),
        (Some("SignInWithApple_000123.abc"), Some("Ann Apple"))
    );
    let (method, _, body, _) = stand_in.last("/token");
    assert_eq!(method, "POST");
    let sent: HashMap<String, String> = form_urlencoded::parse(body.as_bytes()).into_owned().collect();
    let secret = &sent["client_secret"];
    let header = jsonwebtoken::decode_header(secret).unwrap();
    assert_eq!((header.alg, header.kid.as_deref()), (jsonwebtoken::Algorithm::ES256, Some("KEY456")));
    let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(apple_jwk).unwrap();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
    validation.set_audience(&[format!("{}/apple", stand_in.url)]);
    validation.set_issuer(&["TEAM123"]);
    let secret_claims = jsonwebtoken::decode::<Value>(
        secret,
        &jsonwebtoken::DecodingKey::from_jwk(&jwk).unwrap(),
        &validation,
    )
    .unwrap()
    .claims;
    assert_eq!(secret_claims["sub"], "com.example.app");

    // Facebook: the code exchanged by GET, the Graph API asked for the mapped fields.
    let mut browser = Browser::default();
    let (asked, _) = start(env, &prefix, &client_id, "Facebook", &mut browser).await;
    assert_eq!(asked["scope"], "public_profile,email");
    assert!(!asked.contains_key("nonce"));
    *stand_in.token_answer.lock().unwrap() =
        json!({"access_token": "f-at", "token_type": "bearer", "expires_in": 5000});
    *stand_in.profile_answer.lock().unwrap() =
        json!({"id": "10158", "email": "fay@fb.example", "name": "Fay"});
    let page = browser
        .get(
            env,
            &format!(
                "/_auth/{prefix}/oauth2/idpresponse?{}",
                form(&[("code", "f-code"), ("state", &asked["state"])])
            ),
        )
        .await;
    let id =
        claims(tokens(env, &prefix, &client_id, &page.location.unwrap()).await["id_token"].as_str().unwrap());
    assert_eq!(
        (id["cognito:username"].as_str(), id["email"].as_str()),
        (Some("Facebook_10158"), Some("fay@fb.example"))
    );
    let (method, target, _, _) = stand_in.last("/token");
    assert_eq!(method, "GET");
    assert!(target.contains("client_secret=fb-secret") && target.contains("code=f-code"), "{target}");
    let (_, target, _, auth) = stand_in.last("/profile");
    assert!(
        target.contains("fields=id%2C") && target.contains("email") && target.contains("name"),
        "{target}"
    );
    assert_eq!(auth, "Bearer f-at");

    // Login with Amazon: POST exchange, the profile's user_id.
    let mut browser = Browser::default();
    let (asked, _) = start(env, &prefix, &client_id, "LoginWithAmazon", &mut browser).await;
    *stand_in.token_answer.lock().unwrap() = json!({"access_token": "amzn-at", "token_type": "bearer"});
    *stand_in.profile_answer.lock().unwrap() =
        json!({"user_id": "amzn1.account.AF2", "email": "al@amazon.example", "name": "Al"});
    let page = browser
        .get(
            env,
            &format!(
                "/_auth/{prefix}/oauth2/idpresponse?{}",
                form(&[("code", "l-code"), ("state", &asked["state"])])
            ),
        )
        .await;
    let id =
        claims(tokens(env, &prefix, &client_id, &page.location.unwrap()).await["id_token"].as_str().unwrap());
    assert_eq!(
        (id["cognito:username"].as_str(), id["name"].as_str()),
        (Some("LoginWithAmazon_amzn1.account.AF2"), Some("Al"))
    );

    // A Facebook answer without an id (nothing to name the user by): refused, no user.
    let mut browser = Browser::default();
    let (asked, _) = start(env, &prefix, &client_id, "Facebook", &mut browser).await;
    *stand_in.profile_answer.lock().unwrap() = json!({"email": "nobody@fb.example"});
    let page = browser
        .get(
            env,
            &format!(
                "/_auth/{prefix}/oauth2/idpresponse?{}",
                form(&[("code", "f-code"), ("state", &asked["state"])])
            ),
        )
        .await;
    assert!(page.location.unwrap().contains("error=invalid_request"));
    let users = env.client.list_users().user_pool_id(&pool).send().await.unwrap();
    assert_eq!(users.users().len(), 4, "one user per provider");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn social_providers_embedded() {
    sign_in_with_social_providers(Backend::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn social_providers_dynamodb() {
    sign_in_with_social_providers(Backend::DynamoDb).await;
}

/// Google in a real browser: oidc-provider (npm) stands in for accounts.google.com with
/// Google's claims, through its own sign-in and consent pages; the code flow with PKCE toward
/// it, its ID token checked, the user `Google_<sub>`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn google_through_oidc_provider_in_chromium() {
    let Some(chromium) = crate::browser::chromium() else { return };
    // The domain's port first: the provider must know its redirect URI, and the server its
    // Google endpoints, before either starts.
    let port = crate::browser::free_port();
    let prefix = unique("google").to_lowercase();
    let idp = crate::federation_oidc::Idp::start(
        "g-client",
        "g-secret",
        &format!("http://{prefix}.auth.localhost:{port}/oauth2/idpresponse"),
    );
    let (_, _, doc) = raw_http(
        &format!("http://127.0.0.1:{}", idp.port),
        "GET",
        "/.well-known/openid-configuration",
        &[],
        b"",
    )
    .await;
    let doc: Value = serde_json::from_slice(&doc).unwrap();
    let member = |k: &str| doc[k].as_str().unwrap().to_string();
    let google = Endpoints {
        issuer: idp.issuer.clone(),
        authorize: member("authorization_endpoint"),
        token: member("token_endpoint"),
        userinfo: Some(member("userinfo_endpoint")),
        jwks: member("jwks_uri"),
        pkce: true,
    };
    let env = TestEnv::start_local(Backend::Embedded, |c| {
        c.bind = format!("127.0.0.1:{port}").parse().unwrap();
        c.service.social_endpoints = [("Google".to_string(), google)].into();
    })
    .await
    .unwrap();
    let pool = env.pool(|b| b).await;
    env.client.create_user_pool_domain().user_pool_id(&pool).domain(&prefix).send().await.unwrap();
    provider(
        &env,
        &pool,
        IdentityProviderTypeType::Google,
        &[
            ("client_id", "g-client"),
            ("client_secret", "g-secret"),
            ("authorize_scopes", "openid email profile"),
        ],
        &[("email", "email"), ("name", "name"), ("given_name", "given_name"), ("picture", "picture")],
    )
    .await;
    idp.account(
        "ada",
        json!({"email": "ada@gmail.example", "email_verified": true, "name": "Ada G", "given_name": "Ada",
               "picture": "https://lh3.googleusercontent.example/a.png"}),
    )
    .await;
    let app_port = crate::browser::free_port();
    let callback = format!("http://localhost:{app_port}/callback");
    let client = env
        .client
        .create_user_pool_client()
        .user_pool_id(&pool)
        .client_name("web")
        .allowed_o_auth_flows(OAuthFlowType::Code)
        .allowed_o_auth_scopes("openid")
        .callback_urls(&callback)
        .supported_identity_providers("Google")
        .allowed_o_auth_flows_user_pool_client(true)
        .send()
        .await
        .unwrap();
    let client_id = client.user_pool_client().unwrap().client_id().unwrap().to_string();
    let query = form(&[
        ("response_type", "code"),
        ("client_id", &client_id),
        ("redirect_uri", &callback),
        ("scope", "openid"),
        ("state", "app-state"),
        ("identity_provider", "Google"),
    ]);
    let input = json!({
        "authorizeUrl": format!("http://{prefix}.auth.localhost:{port}/oauth2/authorize?{query}"),
        "viaButton": null,
        "login": "ada",
        "password": "any",
        "appPort": app_port,
        "chromium": chromium,
    });
    let out = run_node("federation-flow.mjs", &["playwright-core", "axe-core"], input).await;
    assert_eq!(out["ok"], true, "{out:#}");
    let back = out["callback"].as_str().unwrap();
    let query: HashMap<String, String> =
        form_urlencoded::parse(back.split_once('?').unwrap().1.as_bytes()).into_owned().collect();
    let body = form(&[
        ("grant_type", "authorization_code"),
        ("client_id", &client_id),
        ("code", &query["code"]),
        ("redirect_uri", &callback),
    ]);
    let (status, _, tokens) = post_form(&env, &prefix, "/oauth2/token", None, &body).await;
    assert_eq!(status, 200, "{tokens}");
    let id = claims(tokens["id_token"].as_str().unwrap());
    assert_eq!(id["cognito:username"], "Google_ada");
    assert_eq!((id["email"].as_str(), id["given_name"].as_str()), (Some("ada@gmail.example"), Some("Ada")));
    assert_eq!(id["identities"][0]["providerName"], "Google");
}
