//! Federation with an OIDC provider: the identity-provider operations with Cognito's errors,
//! and sign-in through a real provider (oidc-provider from npm, tests/js/oidc-idp.mjs) in
//! Chromium: the federated user `<Provider>_<sub>`, its mapped attributes (updated at each
//! sign-in), the `identities` claim, and the hosted page's provider button.

use crate::browser::{chromium, free_port};
use crate::common::*;
use crate::oauth_code::VERIFIER;
use crate::oauth_token::{claims, form, post_form};
use crate::on_both_stores;
use aws_sdk_cognitoidentityprovider as cip;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use cip::types::{IdentityProviderTypeType, OAuthFlowType};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::HashMap;

/// The provider, a child process killed when dropped.
pub(crate) struct Idp {
    _server: ChildServer,
    pub(crate) issuer: String,
    pub(crate) port: u16,
}

impl Idp {
    /// oidc-provider with one client whose callback is `redirect_uri`.
    pub(crate) fn start(client_id: &str, client_secret: &str, redirect_uri: &str) -> Idp {
        let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("js");
        assert!(
            dir.join("node_modules/oidc-provider/package.json").is_file(),
            "oidc-provider is not installed: run `npm ci --prefix tests/js`"
        );
        let port = free_port();
        let input = json!({
            "port": port,
            "clients": [{"client_id": client_id, "client_secret": client_secret, "redirect_uris": [redirect_uri]}],
        });
        let mut command = std::process::Command::new("node");
        command.arg(dir.join("oidc-idp.mjs")).arg(input.to_string());
        let server = ChildServer::start(command, "the OIDC provider (node tests/js/oidc-idp.mjs)");
        Idp { issuer: server.text("issuer"), _server: server, port }
    }

    /// Sets what the provider says about `login`.
    pub(crate) async fn account(&self, login: &str, claims: Value) {
        let path = format!("/_test/accounts/{login}");
        let (status, _, _) = raw_http(
            &format!("http://127.0.0.1:{}", self.port),
            "PUT",
            &path,
            &[],
            claims.to_string().as_bytes(),
        )
        .await;
        assert_eq!(status, 204);
    }
}

fn details(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn oidc_details(issuer: &str) -> HashMap<String, String> {
    details(&[
        ("client_id", "tessera"),
        ("client_secret", "provider-secret"),
        ("authorize_scopes", "openid email profile"),
        ("attributes_request_method", "GET"),
        ("oidc_issuer", issuer),
    ])
}

on_both_stores!(identity_provider_operations, |env| {
    let pool = env.pool(|b| b).await;
    // Without a reachable discovery document, the four URLs must be given.
    let manual = details(&[
        ("client_id", "tessera"),
        ("client_secret", "provider-secret"),
        ("authorize_scopes", "openid email"),
        ("attributes_request_method", "POST"),
        ("oidc_issuer", "https://idp.example.com"),
        ("authorize_url", "https://idp.example.com/authorize"),
        ("token_url", "https://idp.example.com/token"),
        ("attributes_url", "https://idp.example.com/userinfo"),
        ("jwks_uri", "https://idp.example.com/jwks"),
    ]);
    let created = env
        .client
        .create_identity_provider()
        .user_pool_id(&pool)
        .provider_name("Corp")
        .provider_type(IdentityProviderTypeType::Oidc)
        .set_provider_details(Some(manual.clone()))
        .attribute_mapping("email", "email")
        .idp_identifiers("corp.example")
        .send()
        .await
        .unwrap();
    let p = created.identity_provider().unwrap();
    assert_eq!(p.provider_name(), Some("Corp"));
    let shown = p.provider_details().unwrap();
    assert_eq!(
        shown.get("client_secret").map(String::as_str),
        Some("provider-secret"),
        "echoed, as Cognito does"
    );
    assert_eq!(shown.get("attributes_url_add_attributes").map(String::as_str), Some("false"));
    // The default username mapping is added.
    assert_eq!(p.attribute_mapping().unwrap().get("username").map(String::as_str), Some("sub"));

    let err = |r: Result<_, _>| {
        err_name(
            r.map(|_: cip::operation::create_identity_provider::CreateIdentityProviderOutput| ())
                .unwrap_err(),
        )
    };
    let create = || {
        env.client
            .create_identity_provider()
            .user_pool_id(&pool)
            .provider_type(IdentityProviderTypeType::Oidc)
            .set_provider_details(Some(manual.clone()))
    };
    assert_eq!(
        err(create().provider_name("Corp").send().await),
        format!("DuplicateProviderException: Corp already exists in user pool {pool}")
    );
    assert_eq!(
        err(create().provider_name("Other").idp_identifiers("CORP.example").send().await),
        format!(
            "DuplicateProviderException: The identifier CORP.example is already used by another identity provider in user pool {pool}."
        )
    );
    let mut no_issuer = manual.clone();
    no_issuer.remove("oidc_issuer");
    let e = err(env
        .client
        .create_identity_provider()
        .user_pool_id(&pool)
        .provider_name("Other")
        .provider_type(IdentityProviderTypeType::Oidc)
        .set_provider_details(Some(no_issuer))
        .send()
        .await);
    assert!(e.starts_with("InvalidParameterException: client_id, authorize_scopes, oidc_issuer and attributes_request_method are all required"), "{e}");
    let mut http_issuer = manual.clone();
    http_issuer.insert("oidc_issuer".into(), "http://idp.example.com".into());
    let e = err(create().provider_name("Other").set_provider_details(Some(http_issuer)).send().await);
    assert!(e.contains("oidc_issuer must be an https URL"), "{e}");
    let e = err(create().provider_name("Other").attribute_mapping("custom:nope", "x").send().await);
    assert_eq!(e, "InvalidParameterException: AttributeMapping contains invalid mapping: [custom:nope]");
    let e = err(create().provider_name("Other").attribute_mapping("username", "email").send().await);
    assert!(
        e.starts_with("InvalidParameterException: AttributeMapping contains invalid mapping: [username]"),
        "{e}"
    );
    let e = err(env
        .client
        .create_identity_provider()
        .user_pool_id(&pool)
        .provider_name("MyGoogle")
        .provider_type(IdentityProviderTypeType::Google)
        .set_provider_details(Some(details(&[
            ("client_id", "a"),
            ("client_secret", "b"),
            ("authorize_scopes", "email"),
        ])))
        .send()
        .await);
    assert_eq!(e, "InvalidParameterException: Provider MyGoogle cannot be of type Google.");
    // Google reads its user from Google's ID token: openid is required.
    let e = err(env
        .client
        .create_identity_provider()
        .user_pool_id(&pool)
        .provider_name("Google")
        .provider_type(IdentityProviderTypeType::Google)
        .set_provider_details(Some(details(&[
            ("client_id", "a"),
            ("client_secret", "b"),
            ("authorize_scopes", "email"),
        ])))
        .send()
        .await);
    assert!(e.contains("must include openid"), "{e}");
    // An unreachable discovery document: Cognito's message.
    let e = err(create()
        .provider_name("Other")
        .set_provider_details(Some(oidc_details("https://127.0.0.1:1")))
        .send()
        .await);
    assert!(e.starts_with("InvalidParameterException: Unable to contact well-known endpoint"), "{e}");

    // Identifier lookup, listing, update, delete.
    let by_id = env
        .client
        .get_identity_provider_by_identifier()
        .user_pool_id(&pool)
        .idp_identifier("Corp.Example")
        .send()
        .await
        .unwrap();
    assert_eq!(by_id.identity_provider().unwrap().provider_name(), Some("Corp"));
    let listed = env.client.list_identity_providers().user_pool_id(&pool).send().await.unwrap();
    let names: Vec<_> = listed.providers().iter().filter_map(|p| p.provider_name()).collect();
    assert_eq!(names, ["Corp"]);
    let mut without_secret = manual.clone();
    without_secret.remove("client_secret");
    let updated = env
        .client
        .update_identity_provider()
        .user_pool_id(&pool)
        .provider_name("Corp")
        .set_provider_details(Some(without_secret))
        .idp_identifiers("corp.example.org")
        .send()
        .await
        .unwrap();
    let shown = updated.identity_provider().unwrap().provider_details().unwrap();
    assert_eq!(
        shown.get("client_secret").map(String::as_str),
        Some("provider-secret"),
        "a secret not given is kept"
    );
    let gone = env
        .client
        .get_identity_provider_by_identifier()
        .user_pool_id(&pool)
        .idp_identifier("corp.example")
        .send()
        .await;
    assert!(err_name(gone.unwrap_err()).starts_with("ResourceNotFoundException"));
    // A client may name the provider; an unknown one is refused with Cognito's message.
    let e = env
        .client
        .create_user_pool_client()
        .user_pool_id(&pool)
        .client_name("web")
        .supported_identity_providers("Nope")
        .send()
        .await
        .map_err(err_name)
        .unwrap_err();
    assert_eq!(
        e,
        format!("InvalidParameterException: The provider Nope does not exist for User Pool {pool}.")
    );
    env.client
        .create_user_pool_client()
        .user_pool_id(&pool)
        .client_name("web")
        .supported_identity_providers("Corp")
        .send()
        .await
        .unwrap();
    env.client.delete_identity_provider().user_pool_id(&pool).provider_name("Corp").send().await.unwrap();
    let e = env.client.describe_identity_provider().user_pool_id(&pool).provider_name("Corp").send().await;
    assert_eq!(
        err_name(e.unwrap_err()),
        format!("ResourceNotFoundException: Identity provider Corp does not exist in user pool {pool}.")
    );
    let e = env.client.delete_identity_provider().user_pool_id(&pool).provider_name("COGNITO").send().await;
    assert!(err_name(e.unwrap_err()).starts_with("UnsupportedIdentityProviderException"));
});

/// The app's authorize request (code + PKCE) at the domain's host form.
fn authorize_url(port: u16, prefix: &str, client_id: &str, callback: &str, provider: Option<&str>) -> String {
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(VERIFIER.as_bytes()));
    let mut fields = vec![
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", callback),
        ("scope", "openid email profile"),
        ("state", "app-state"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    if let Some(p) = provider {
        fields.push(("identity_provider", p));
    }
    format!("http://{prefix}.auth.localhost:{port}/oauth2/authorize?{}", form(&fields))
}

/// Runs the browser flow and exchanges the app's code: the tokens.
async fn federated_sign_in(
    env: &TestEnv,
    prefix: &str,
    client_id: &str,
    app_port: u16,
    via_button: bool,
    chromium: &str,
) -> Value {
    let callback = format!("http://localhost:{app_port}/callback");
    let provider = (!via_button).then_some("Corp");
    let input = json!({
        "authorizeUrl": authorize_url(env.server.addr.port(), prefix, client_id, &callback, provider),
        "viaButton": via_button.then_some("Corp"),
        "login": "ada",
        "password": "any",
        "appPort": app_port,
        "chromium": chromium,
    });
    let out = run_node("federation-flow.mjs", &["playwright-core", "axe-core"], input).await;
    assert_eq!(out["ok"], true, "{out:#}");
    if via_button {
        let serious: Vec<_> = out["violations"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|v| v["impact"] == "serious" || v["impact"] == "critical")
            .collect();
        assert!(serious.is_empty(), "axe-core on the sign-in page with a provider button: {serious:?}");
    }
    let back = out["callback"].as_str().unwrap();
    let query = back.split_once('?').unwrap().1;
    let fields: HashMap<String, String> = form_urlencoded::parse(query.as_bytes()).into_owned().collect();
    assert_eq!(fields.get("state").map(String::as_str), Some("app-state"), "{back}");
    let code = fields.get("code").unwrap_or_else(|| panic!("no code: {back}"));
    let exchange = form(&[
        ("grant_type", "authorization_code"),
        ("client_id", client_id),
        ("code", code),
        ("redirect_uri", &callback),
        ("code_verifier", VERIFIER),
    ]);
    let (status, _, tokens) = post_form(env, prefix, "/oauth2/token", None, &exchange).await;
    assert_eq!(status, 200, "{tokens}");
    tokens
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_through_an_oidc_provider_in_chromium() {
    let Some(chromium) = chromium() else {
        eprintln!("skipped: no Chromium (apt-get install chromium, or set TESSERA_TEST_CHROMIUM)");
        return;
    };
    let env = TestEnv::start(Backend::Embedded).await.unwrap();
    let pool = env.pool(|b| b).await;
    let prefix = unique("fed").to_lowercase();
    env.client.create_user_pool_domain().user_pool_id(&pool).domain(&prefix).send().await.unwrap();
    let port = env.server.addr.port();
    let idp = Idp::start(
        "tessera",
        "provider-secret",
        &format!("http://{prefix}.auth.localhost:{port}/oauth2/idpresponse"),
    );
    idp.account("ada", json!({"email": "ada@corp.example", "email_verified": true, "name": "Ada"})).await;
    // Discovery from the provider's issuer (http on loopback: the local server's rule).
    env.client
        .create_identity_provider()
        .user_pool_id(&pool)
        .provider_name("Corp")
        .provider_type(IdentityProviderTypeType::Oidc)
        .set_provider_details(Some(oidc_details(&idp.issuer)))
        .attribute_mapping("email", "email")
        .attribute_mapping("email_verified", "email_verified")
        .attribute_mapping("name", "name")
        .send()
        .await
        .unwrap();
    let app_port = free_port();
    let client = env
        .client
        .create_user_pool_client()
        .user_pool_id(&pool)
        .client_name("web")
        .allowed_o_auth_flows(OAuthFlowType::Code)
        .set_allowed_o_auth_scopes(Some(["openid", "email", "profile"].map(String::from).to_vec()))
        .callback_urls(format!("http://localhost:{app_port}/callback"))
        .supported_identity_providers("COGNITO")
        .supported_identity_providers("Corp")
        .allowed_o_auth_flows_user_pool_client(true)
        .send()
        .await
        .unwrap();
    let client_id = client.user_pool_client().unwrap().client_id().unwrap().to_string();

    // First sign-in: straight to the provider (identity_provider=Corp); the user is made.
    let tokens = federated_sign_in(&env, &prefix, &client_id, app_port, false, &chromium).await;
    let id = claims(tokens["id_token"].as_str().unwrap());
    assert_eq!(id["cognito:username"], "Corp_ada", "{id}");
    assert_eq!(id["email"], "ada@corp.example");
    assert_eq!(id["email_verified"], true);
    assert_eq!(id["name"], "Ada");
    let identities = &id["identities"][0];
    assert_eq!(identities["providerName"], "Corp", "{id}");
    assert_eq!(identities["providerType"], "OIDC");
    assert_eq!(identities["userId"], "ada");
    assert_eq!(identities["primary"], "true", "a string in the token, as Cognito's");
    assert!(identities["dateCreated"].as_str().is_some_and(|d| d.parse::<i64>().is_ok()), "{id}");
    // The provider's group, made with its first user.
    assert_eq!(id["cognito:groups"], json!([format!("{pool}_Corp")]), "{id}");
    let groups = env.client.list_groups().user_pool_id(&pool).send().await.unwrap();
    assert_eq!(
        groups.groups().iter().filter_map(|g| g.group_name()).collect::<Vec<_>>(),
        [format!("{pool}_Corp")]
    );
    // The federated user's ID token is a login for an identity pool, as any user-pool token.
    let identity = identity_client(&env.url, ADMIN_KEY, ADMIN_SECRET).await;
    let provider_name = format!("{}/{pool}", env.url.trim_start_matches("http://"));
    let identity_pool = identity
        .create_identity_pool()
        .identity_pool_name(unique("fedpool"))
        .allow_unauthenticated_identities(false)
        .cognito_identity_providers(
            aws_sdk_cognitoidentity::types::CognitoIdentityProvider::builder()
                .provider_name(&provider_name)
                .client_id(&client_id)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let id_token = tokens["id_token"].as_str().unwrap();
    let got = identity
        .get_id()
        .identity_pool_id(identity_pool.identity_pool_id())
        .logins(&provider_name, id_token)
        .send()
        .await
        .unwrap();
    let described =
        identity.describe_identity().identity_id(got.identity_id().unwrap()).send().await.unwrap();
    assert_eq!(described.logins(), std::slice::from_ref(&provider_name));
    let user = env.client.admin_get_user().user_pool_id(&pool).username("Corp_ada").send().await.unwrap();
    assert_eq!(user.user_status().map(|s| s.as_str()), Some("EXTERNAL_PROVIDER"));
    let attribute = |user: &cip::operation::admin_get_user::AdminGetUserOutput, name: &str| {
        user.user_attributes().iter().find(|a| a.name() == name).and_then(|a| a.value()).map(str::to_string)
    };
    let listed: Value = serde_json::from_str(&attribute(&user, "identities").unwrap()).unwrap();
    assert_eq!(listed[0]["primary"], true, "a boolean in the attribute, as Cognito's");

    // The provider changes its claims; the next sign-in (through the page's button) rewrites them.
    idp.account("ada", json!({"email": "ada@corp.example", "email_verified": true, "name": "Ada Lovelace"}))
        .await;
    let tokens = federated_sign_in(&env, &prefix, &client_id, app_port, true, &chromium).await;
    assert_eq!(claims(tokens["id_token"].as_str().unwrap())["name"], "Ada Lovelace");
    let user = env.client.admin_get_user().user_pool_id(&pool).username("Corp_ada").send().await.unwrap();
    assert_eq!(attribute(&user, "name").as_deref(), Some("Ada Lovelace"));
    let users = env.client.list_users().user_pool_id(&pool).send().await.unwrap();
    assert_eq!(users.users().len(), 1, "the second sign-in found the same user");
}

/// The client signs in only through Corp: authorize goes straight there, with state, nonce and
/// the provider's scopes, and a cookie that ties the answer to this browser. The state.
async fn start_at_provider(
    env: &TestEnv,
    browser: &mut crate::oauth_code::Browser,
    prefix: &str,
    client_id: &str,
    callback: &str,
) -> String {
    let query = form(&[
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", callback),
        ("scope", "openid"),
        ("state", "app-state"),
    ]);
    let page = browser.get(env, &format!("/_auth/{prefix}/oauth2/authorize?{query}")).await;
    assert_eq!(page.status, 302, "{}", page.body);
    let location = page.location.unwrap();
    assert!(location.starts_with("https://idp.example.com/authorize?"), "{location}");
    let fields: HashMap<String, String> =
        form_urlencoded::parse(location.split_once('?').unwrap().1.as_bytes()).into_owned().collect();
    assert_eq!(fields["redirect_uri"], format!("{}/_auth/{prefix}/oauth2/idpresponse", env.url));
    assert!(fields.contains_key("nonce") && fields["scope"] == "openid email profile", "{fields:?}");
    fields["state"].clone()
}

async fn idp_answer(
    env: &TestEnv,
    browser: &mut crate::oauth_code::Browser,
    prefix: &str,
    query: String,
) -> crate::oauth_code::Page {
    browser.get(env, &format!("/_auth/{prefix}/oauth2/idpresponse?{query}")).await
}

// The provider's answer is checked before anything is believed: a state this domain did not
// issue, a state spent already, a state arriving in another browser (no cookie), and the
// provider's own refusal reach no sign-in.
on_both_stores!(provider_answers_that_sign_no_one_in, |env| {
    use crate::oauth_code::Browser;
    let pool = env.pool(|b| b).await;
    let prefix = unique("fedx").to_lowercase();
    env.client.create_user_pool_domain().user_pool_id(&pool).domain(&prefix).send().await.unwrap();
    let mut manual = oidc_details("https://idp.example.com");
    for (k, v) in [
        ("authorize_url", "https://idp.example.com/authorize"),
        ("token_url", "https://127.0.0.1:1/token"),
        ("attributes_url", "https://idp.example.com/userinfo"),
        ("jwks_uri", "https://idp.example.com/jwks"),
    ] {
        manual.insert(k.into(), v.into());
    }
    env.client
        .create_identity_provider()
        .user_pool_id(&pool)
        .provider_name("Corp")
        .provider_type(IdentityProviderTypeType::Oidc)
        .set_provider_details(Some(manual))
        .send()
        .await
        .unwrap();
    let callback = "https://app.example.com/callback";
    let client = env
        .client
        .create_user_pool_client()
        .user_pool_id(&pool)
        .client_name("web")
        .allowed_o_auth_flows(OAuthFlowType::Code)
        .allowed_o_auth_scopes("openid")
        .callback_urls(callback)
        .supported_identity_providers("Corp")
        .allowed_o_auth_flows_user_pool_client(true)
        .send()
        .await
        .unwrap();
    let client_id = client.user_pool_client().unwrap().client_id().unwrap().to_string();
    let mut browser = Browser::default();
    let state = start_at_provider(env, &mut browser, &prefix, &client_id, callback).await;
    assert!(browser.cookie("cognito-fed").is_some());
    // A state this domain never issued.
    let page = idp_answer(env, &mut browser, &prefix, form(&[("code", "x"), ("state", "made-up")])).await;
    assert_eq!(page.status, 400, "{}", page.body);
    // The right state in another browser (no cookie): refused, and the state is spent.
    let page =
        idp_answer(env, &mut Browser::default(), &prefix, form(&[("code", "x"), ("state", &state)])).await;
    assert_eq!(page.status, 400);
    assert!(page.body.contains("started in another browser"), "{}", page.body);
    let page = idp_answer(env, &mut browser, &prefix, form(&[("code", "x"), ("state", &state)])).await;
    assert_eq!(page.status, 400);
    assert!(page.body.contains("expired or was already used"), "{}", page.body);
    // The provider's refusal reaches the app as an error, with the app's state.
    let state = start_at_provider(env, &mut browser, &prefix, &client_id, callback).await;
    let page =
        idp_answer(env, &mut browser, &prefix, form(&[("error", "access_denied"), ("state", &state)])).await;
    let location = page.location.unwrap();
    assert!(location.starts_with(&format!("{callback}?error=invalid_request")), "{location}");
    assert!(location.contains("state=app-state"), "{location}");
    // A token endpoint that does not answer: an error for the app, no user.
    let state = start_at_provider(env, &mut browser, &prefix, &client_id, callback).await;
    let page = idp_answer(env, &mut browser, &prefix, form(&[("code", "x"), ("state", &state)])).await;
    let location = page.location.unwrap();
    assert!(
        location.contains("error=invalid_request") && location.contains("could+not+be+reached"),
        "{location}"
    );
    // The client takes no password sign-in: the page offers its provider, a posted password is
    // refused, and the pool's own pages are not the app's.
    let query = form(&[("response_type", "code"), ("client_id", &client_id), ("redirect_uri", callback)]);
    let page = browser.get(env, &format!("/_auth/{prefix}/login?{query}")).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains(">Corp</a>") && !page.body.contains("type=\"password\""), "{}", page.body);
    let posted = form(&[("username", "someone"), ("password", "Passw0rd!")]);
    let page = browser.post(env, &format!("/_auth/{prefix}/login?{query}"), &posted).await;
    assert_eq!((page.status, page.location), (403, None));
    for path in ["/signup", "/forgotPassword"] {
        let page = browser.get(env, &format!("/_auth/{prefix}{path}?{query}")).await;
        assert_eq!(page.status, 403, "{path}");
    }
    let users = env.client.list_users().user_pool_id(&pool).send().await.unwrap();
    assert!(users.users().is_empty());
});

/// A provider the test controls (axum on loopback): discovery, one ES256 key, and a token
/// endpoint that answers whatever ID token the test set. For the forgeries a real provider
/// would never send.
struct FakeIdp {
    url: String,
    id_token: std::sync::Arc<std::sync::Mutex<String>>,
    userinfo_sub: std::sync::Arc<std::sync::Mutex<String>>,
    key: jsonwebtoken::EncodingKey,
    other_key: jsonwebtoken::EncodingKey,
}

fn json_answer(v: &Value) -> ([(http::header::HeaderName, &'static str); 1], String) {
    ([(http::header::CONTENT_TYPE, "application/json")], v.to_string())
}

fn es256_key() -> (jsonwebtoken::EncodingKey, Value) {
    use aws_lc_rs::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
    let rng = aws_lc_rs::rand::SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
    let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref()).unwrap();
    let point = pair.public_key().as_ref().to_vec();
    let jwk = json!({
        "kty": "EC", "crv": "P-256", "kid": "k1", "alg": "ES256", "use": "sig",
        "x": URL_SAFE_NO_PAD.encode(&point[1..33]), "y": URL_SAFE_NO_PAD.encode(&point[33..65]),
    });
    (jsonwebtoken::EncodingKey::from_ec_der(pkcs8.as_ref()), jwk)
}

impl FakeIdp {
    async fn start() -> FakeIdp {
        use axum::routing::{get, post};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (key, jwk) = es256_key();
        let (other_key, _) = es256_key();
        let id_token = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let userinfo_sub = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let discovery = json!({
            "issuer": url,
            "authorization_endpoint": format!("{url}/authorize"),
            "token_endpoint": format!("{url}/token"),
            "userinfo_endpoint": format!("{url}/userinfo"),
            "jwks_uri": format!("{url}/jwks"),
            "code_challenge_methods_supported": ["S256"],
        });
        let (token, sub) = (id_token.clone(), userinfo_sub.clone());
        let app = axum::Router::new()
            .route("/.well-known/openid-configuration", get(move || async move { json_answer(&discovery) }))
            .route("/jwks", get(move || async move { json_answer(&json!({"keys": [jwk]})) }))
            .route(
                "/token",
                post(move || async move {
                    let id_token = token.lock().unwrap().clone();
                    json_answer(&json!({"access_token": "at", "token_type": "Bearer", "id_token": id_token}))
                }),
            )
            .route(
                "/userinfo",
                get(move || async move { json_answer(&json!({"sub": sub.lock().unwrap().clone()})) }),
            );
        tokio::spawn(async move { axum::serve(listener, app).await });
        FakeIdp { url, id_token, userinfo_sub, key, other_key }
    }

    fn sign(&self, alg: jsonwebtoken::Algorithm, claims: &Value, key: &jsonwebtoken::EncodingKey) -> String {
        let mut header = jsonwebtoken::Header::new(alg);
        header.kid = Some("k1".into());
        jsonwebtoken::encode(&header, claims, key).unwrap()
    }
}

/// The ID token `case` forges, for a sign-in whose nonce is `nonce`.
fn forged(idp: &FakeIdp, case: &str, nonce: &str, now: i64) -> String {
    use jsonwebtoken::Algorithm::{ES256, HS256};
    // The subject is the one userinfo speaks of (the test sets it).
    let sub = idp.userinfo_sub.lock().unwrap().clone();
    let mut claims =
        json!({"iss": idp.url, "aud": "tessera", "sub": sub, "exp": now + 300, "iat": now, "nonce": nonce});
    match case {
        "genuine" => {}
        // The token is about u1 whatever userinfo says.
        "userinfo about another" => claims["sub"] = json!("u1"),
        "another nonce" => claims["nonce"] = json!("not-this-sign-in"),
        "no nonce" => _ = claims.as_object_mut().unwrap().remove("nonce"),
        "another audience" => claims["aud"] = json!("someone-else"),
        "another issuer" => claims["iss"] = json!("https://evil.example.com"),
        "expired" => claims["exp"] = json!(now - 3600),
        "another key" => return idp.sign(ES256, &claims, &idp.other_key),
        // HMAC keyed with something public: the algorithm-confusion forgery.
        "HS256" => return idp.sign(HS256, &claims, &jsonwebtoken::EncodingKey::from_secret(b"tessera")),
        "unsigned" => {
            let part = |v: &Value| URL_SAFE_NO_PAD.encode(v.to_string());
            return format!("{}.{}.", part(&json!({"alg": "none", "kid": "k1"})), part(&claims));
        }
        other => panic!("no case {other}"),
    }
    idp.sign(ES256, &claims, &idp.key)
}

/// One sign-in through the fake provider: authorize → the provider (its nonce read from the
/// redirect) → the provider's answer with the forged token. Where the browser is sent.
async fn forged_sign_in(env: &TestEnv, idp: &FakeIdp, prefix: &str, client_id: &str, case: &str) -> String {
    let mut browser = crate::oauth_code::Browser::default();
    let query = form(&[
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", FAKE_CALLBACK),
        ("scope", "openid"),
    ]);
    let page = browser.get(env, &format!("/_auth/{prefix}/oauth2/authorize?{query}")).await;
    let location = page.location.unwrap();
    let fields: HashMap<String, String> =
        form_urlencoded::parse(location.split_once('?').unwrap().1.as_bytes()).into_owned().collect();
    assert!(fields.contains_key("code_challenge"), "PKCE toward a provider that lists S256");
    *idp.id_token.lock().unwrap() =
        forged(idp, case, &fields["nonce"], tessera_core::ports::Clock::now_secs(env.clock.as_ref()));
    let answer = form(&[("code", "c"), ("state", &fields["state"])]);
    browser.get(env, &format!("/_auth/{prefix}/oauth2/idpresponse?{answer}")).await.location.unwrap()
}

const FAKE_CALLBACK: &str = "https://app.example.com/callback";

// The provider's ID token is believed only when its signature, issuer, audience, expiry and
// nonce all hold, and userinfo speaks of the same user: each forgery is refused and no user is
// made; the genuine token then signs in.
on_both_stores!(forged_provider_tokens_are_refused, |env| {
    let idp = FakeIdp::start().await;
    let pool = env.pool(|b| b).await;
    let prefix = unique("fedf").to_lowercase();
    env.client.create_user_pool_domain().user_pool_id(&pool).domain(&prefix).send().await.unwrap();
    env.client
        .create_identity_provider()
        .user_pool_id(&pool)
        .provider_name("Corp")
        .provider_type(IdentityProviderTypeType::Oidc)
        .set_provider_details(Some(oidc_details(&idp.url)))
        .send()
        .await
        .unwrap();
    let client = env
        .client
        .create_user_pool_client()
        .user_pool_id(&pool)
        .client_name("web")
        .allowed_o_auth_flows(OAuthFlowType::Code)
        .allowed_o_auth_scopes("openid")
        .callback_urls(FAKE_CALLBACK)
        .supported_identity_providers("Corp")
        .allowed_o_auth_flows_user_pool_client(true)
        .send()
        .await
        .unwrap();
    let client_id = client.user_pool_client().unwrap().client_id().unwrap().to_string();
    *idp.userinfo_sub.lock().unwrap() = "u1".into();
    for (case, why) in [
        ("another nonce", "nonce"),
        ("no nonce", "nonce"),
        ("another audience", "InvalidAudience"),
        ("another issuer", "InvalidIssuer"),
        ("expired", "expired"),
        ("another key", "InvalidSignature"),
        ("HS256", "not+a+public-key+algorithm"),
        ("unsigned", "malformed"),
    ] {
        let location = forged_sign_in(env, &idp, &prefix, &client_id, case).await;
        assert!(
            location.starts_with(&format!("{FAKE_CALLBACK}?error=invalid_request")),
            "{case}: {location}"
        );
        assert!(location.contains(why), "{case}: {location}");
    }
    // userinfo about someone else: refused.
    *idp.userinfo_sub.lock().unwrap() = "u2".into();
    let location = forged_sign_in(env, &idp, &prefix, &client_id, "userinfo about another").await;
    assert!(location.contains("error=invalid_request") && location.contains("another+user"), "{location}");
    let users = env.client.list_users().user_pool_id(&pool).send().await.unwrap();
    assert!(users.users().is_empty(), "no forgery made a user");
    // The genuine token signs in.
    *idp.userinfo_sub.lock().unwrap() = "u1".into();
    let location = forged_sign_in(env, &idp, &prefix, &client_id, "genuine").await;
    assert!(location.starts_with(&format!("{FAKE_CALLBACK}?code=")), "{location}");
    let user = env.client.admin_get_user().user_pool_id(&pool).username("Corp_u1").send().await.unwrap();
    assert_eq!(user.user_status().map(|s| s.as_str()), Some("EXTERNAL_PROVIDER"));
});

// Linking: a provider identity linked to an existing user signs in as that user; the refusals
// Cognito gives; unlinking sends the next sign-in to a user of its own; disabling a
// provider-made user stops its sign-ins.
on_both_stores!(linked_identities_land_on_the_existing_user, |env| {
    let idp = FakeIdp::start().await;
    let pool = env.pool(|b| b).await;
    let prefix = unique("fedl").to_lowercase();
    env.client.create_user_pool_domain().user_pool_id(&pool).domain(&prefix).send().await.unwrap();
    env.client
        .create_identity_provider()
        .user_pool_id(&pool)
        .provider_name("Corp")
        .provider_type(IdentityProviderTypeType::Oidc)
        .set_provider_details(Some(oidc_details(&idp.url)))
        .send()
        .await
        .unwrap();
    let client = env
        .client
        .create_user_pool_client()
        .user_pool_id(&pool)
        .client_name("web")
        .allowed_o_auth_flows(OAuthFlowType::Code)
        .allowed_o_auth_scopes("openid")
        .callback_urls(FAKE_CALLBACK)
        .supported_identity_providers("Corp")
        .allowed_o_auth_flows_user_pool_client(true)
        .send()
        .await
        .unwrap();
    let client_id = client.user_pool_client().unwrap().client_id().unwrap().to_string();
    crate::oauth_code::user(env, &pool, "grace").await;
    let identifier = |provider: &str, value: &str| {
        cip::types::ProviderUserIdentifierType::builder()
            .provider_name(provider)
            .provider_attribute_name("Cognito_Subject")
            .provider_attribute_value(value)
            .build()
    };
    let destination = cip::types::ProviderUserIdentifierType::builder()
        .provider_name("Cognito")
        .provider_attribute_value("grace")
        .build();
    let link = |source: cip::types::ProviderUserIdentifierType| {
        env.client
            .admin_link_provider_for_user()
            .user_pool_id(&pool)
            .destination_user(destination.clone())
            .source_user(source)
            .send()
    };
    link(identifier("Corp", "u7")).await.unwrap();
    let e = link(identifier("Corp", "u7")).await.map_err(err_name).unwrap_err();
    assert_eq!(e, "InvalidParameterException: SourceUser is already linked to DestinationUser");
    let e = link(identifier("Cognito", "someone")).await.map_err(err_name).unwrap_err();
    assert!(e.starts_with("InvalidParameterException: Invalid SourceUser: Cognito users"), "{e}");
    // A provider identity that signed in already (a user of its own) cannot be merged.
    *idp.userinfo_sub.lock().unwrap() = "u1".into();
    let location = forged_sign_in(env, &idp, &prefix, &client_id, "genuine").await;
    assert!(location.starts_with(&format!("{FAKE_CALLBACK}?code=")), "{location}");
    let e = link(identifier("Corp", "u1")).await.map_err(err_name).unwrap_err();
    assert!(e.starts_with("InvalidParameterException: Merging is not currently supported"), "{e}");

    // The linked identity signs in as grace: no Corp_u7 user.
    *idp.userinfo_sub.lock().unwrap() = "u7".into();
    let location = forged_sign_in(env, &idp, &prefix, &client_id, "genuine").await;
    let code = form_urlencoded::parse(location.split_once('?').unwrap().1.as_bytes())
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| panic!("{location}"));
    let exchange = form(&[
        ("grant_type", "authorization_code"),
        ("client_id", &client_id),
        ("code", &code),
        ("redirect_uri", FAKE_CALLBACK),
    ]);
    let (status, _, tokens) = post_form(env, &prefix, "/oauth2/token", None, &exchange).await;
    assert_eq!(status, 200, "{tokens}");
    let id = claims(tokens["id_token"].as_str().unwrap());
    assert_eq!(id["cognito:username"], "grace", "{id}");
    assert_eq!(id["identities"][0]["userId"], "u7", "{id}");
    assert_eq!(id["identities"][0]["primary"], "false");
    let e = env.client.admin_get_user().user_pool_id(&pool).username("Corp_u7").send().await;
    assert!(err_name(e.unwrap_err()).starts_with("UserNotFoundException"));

    // Unlinked: the next sign-in makes a user of its own.
    let disable = |value: &str| {
        env.client
            .admin_disable_provider_for_user()
            .user_pool_id(&pool)
            .user(identifier("Corp", value))
            .send()
    };
    disable("u7").await.unwrap();
    let location = forged_sign_in(env, &idp, &prefix, &client_id, "genuine").await;
    assert!(location.starts_with(&format!("{FAKE_CALLBACK}?code=")), "{location}");
    env.client.admin_get_user().user_pool_id(&pool).username("Corp_u7").send().await.unwrap();
    // Disabling a provider-made user: its sign-ins are refused.
    disable("u7").await.unwrap();
    let location = forged_sign_in(env, &idp, &prefix, &client_id, "genuine").await;
    assert!(location.contains("error=invalid_request") && location.contains("disabled"), "{location}");
});

// The triggers of a federated first sign-in, with Cognito's sources: PreSignUp_ExternalProvider
// (which may refuse the user), PostConfirmation_ConfirmSignUp, then TokenGeneration_HostedAuth
// at the code exchange; a returning user fires no sign-up trigger again.
#[tokio::test]
async fn federated_sign_ins_fire_the_triggers_with_cognitos_sources() {
    use crate::lambda_double::{arn, Reply};
    let env = TestEnv::start(Backend::Embedded).await.unwrap();
    let idp = FakeIdp::start().await;
    let config = cip::types::LambdaConfigType::builder()
        .pre_sign_up(arn("pre"))
        .post_confirmation(arn("post"))
        .pre_token_generation(arn("token"))
        .build();
    let pool = env.pool(|b| b.lambda_config(config)).await;
    let prefix = unique("fedt").to_lowercase();
    env.client.create_user_pool_domain().user_pool_id(&pool).domain(&prefix).send().await.unwrap();
    env.client
        .create_identity_provider()
        .user_pool_id(&pool)
        .provider_name("Corp")
        .provider_type(IdentityProviderTypeType::Oidc)
        .set_provider_details(Some(oidc_details(&idp.url)))
        .send()
        .await
        .unwrap();
    let client = env
        .client
        .create_user_pool_client()
        .user_pool_id(&pool)
        .client_name("web")
        .allowed_o_auth_flows(OAuthFlowType::Code)
        .allowed_o_auth_scopes("openid")
        .callback_urls(FAKE_CALLBACK)
        .supported_identity_providers("Corp")
        .allowed_o_auth_flows_user_pool_client(true)
        .send()
        .await
        .unwrap();
    let client_id = client.user_pool_client().unwrap().client_id().unwrap().to_string();
    // A PreSignUp that refuses: no user, the app told why.
    env.lambda.on(|name, e| {
        if name == "pre" {
            Reply::Fail("Not from this company".into())
        } else {
            Reply::Respond(e.get("response").cloned().unwrap_or(Value::Null))
        }
    });
    *idp.userinfo_sub.lock().unwrap() = "u9".into();
    let location = forged_sign_in(&env, &idp, &prefix, &client_id, "genuine").await;
    assert!(location.contains("error=") && location.contains("Not+from+this+company"), "{location}");
    assert_eq!(env.lambda.sources(), ["PreSignUp_ExternalProvider"]);
    assert!(env.client.list_users().user_pool_id(&pool).send().await.unwrap().users().is_empty());
    // Accepted: the user is made, confirmed, and its tokens generated.
    env.lambda.clear();
    env.lambda.on(|_, e| Reply::Respond(e.get("response").cloned().unwrap_or(Value::Null)));
    let location = forged_sign_in(&env, &idp, &prefix, &client_id, "genuine").await;
    let code = form_urlencoded::parse(location.split_once('?').unwrap().1.as_bytes())
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| panic!("{location}"));
    let exchange = form(&[
        ("grant_type", "authorization_code"),
        ("client_id", &client_id),
        ("code", &code),
        ("redirect_uri", FAKE_CALLBACK),
    ]);
    let (status, _, tokens) = post_form(&env, &prefix, "/oauth2/token", None, &exchange).await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(
        env.lambda.sources(),
        ["PreSignUp_ExternalProvider", "PostConfirmation_ConfirmSignUp", "TokenGeneration_HostedAuth"]
    );
    let pre = &env.lambda.events("pre")[0];
    assert_eq!(pre["userName"], "Corp_u9", "{pre}");
    assert_eq!(pre["callerContext"]["clientId"], client_id.as_str(), "{pre}");
    // A returning user: no sign-up triggers.
    env.lambda.clear();
    forged_sign_in(&env, &idp, &prefix, &client_id, "genuine").await;
    assert!(env
        .lambda
        .sources()
        .iter()
        .all(|s| !s.starts_with("PreSignUp") && !s.starts_with("PostConfirmation")));
}
