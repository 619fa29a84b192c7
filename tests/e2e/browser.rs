//! The hosted pages in a real browser (Debian's Chromium through playwright-core,
//! tests/js/browser-flows.mjs): sign-up, confirmation, sign-in, single sign-on, sign-out, forgot
//! password, NEW_PASSWORD_REQUIRED, authenticator setup and TOTP sign-in, with axe-core on every
//! page (no serious or critical violation).

use crate::common::*;
use aws_sdk_cognitoidentityprovider as cip;
use cip::types::{OAuthFlowType, SoftwareTokenMfaConfigType, UserPoolMfaType};
use serde_json::json;

/// A web client whose callback and sign-out pages are the script's app on localhost.
async fn web_client(env: &TestEnv, pool: &str, app_port: u16) -> String {
    let c = env
        .client
        .create_user_pool_client()
        .user_pool_id(pool)
        .client_name("browser")
        .allowed_o_auth_flows(OAuthFlowType::Code)
        .allowed_o_auth_scopes("openid")
        .allowed_o_auth_scopes("email")
        .allowed_o_auth_scopes("profile")
        .callback_urls(format!("http://localhost:{app_port}/callback"))
        .logout_urls(format!("http://localhost:{app_port}/bye"))
        .supported_identity_providers("COGNITO")
        .allowed_o_auth_flows_user_pool_client(true)
        .send()
        .await
        .unwrap();
    c.user_pool_client().unwrap().client_id().unwrap().to_string()
}

/// A port nothing listens on now (the script's app takes it).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Chromium: `TESSERA_TEST_CHROMIUM` (CI sets it, so there the test cannot skip), else
/// /usr/bin/chromium when it is installed.
pub fn chromium() -> Option<String> {
    if let Ok(path) = std::env::var("TESSERA_TEST_CHROMIUM") {
        return Some(path);
    }
    std::path::Path::new("/usr/bin/chromium").exists().then(|| "/usr/bin/chromium".to_string())
}

async fn domain(env: &TestEnv, pool: &str, prefix: &str) {
    env.client.create_user_pool_domain().user_pool_id(pool).domain(prefix).send().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hosted_pages_in_chromium() {
    let Some(chromium) = chromium() else {
        eprintln!("skipped: no Chromium (apt-get install chromium, or set TESSERA_TEST_CHROMIUM)");
        return;
    };
    let env = TestEnv::start(Backend::Embedded).await.unwrap();
    let app_port = free_port();
    // An email pool: sign-up, confirmation, password reset, an invited user.
    let email_pool = env.email_pool().await;
    let email_prefix = unique("web").to_lowercase();
    domain(&env, &email_pool, &email_prefix).await;
    let email_client = web_client(&env, &email_pool, app_port).await;
    let invited = format!("{}@example.com", unique("invited"));
    env.client
        .admin_create_user()
        .user_pool_id(&email_pool)
        .username(&invited)
        .user_attributes(attr("email", &invited))
        .user_attributes(attr("email_verified", "true"))
        .temporary_password("Temp-Pass-123")
        .message_action(cip::types::MessageActionType::Suppress)
        .send()
        .await
        .unwrap();
    // A pool with MFA required by authenticator app.
    let mfa_pool = env.pool(|b| b).await;
    env.client
        .set_user_pool_mfa_config()
        .user_pool_id(&mfa_pool)
        .mfa_configuration(UserPoolMfaType::On)
        .software_token_mfa_configuration(SoftwareTokenMfaConfigType::builder().enabled(true).build())
        .send()
        .await
        .unwrap();
    let mfa_prefix = unique("mfa").to_lowercase();
    domain(&env, &mfa_pool, &mfa_prefix).await;
    let mfa_client = web_client(&env, &mfa_pool, app_port).await;
    crate::oauth_code::user(&env, &mfa_pool, "totp-user").await;

    let input = json!({
        "server": env.url,
        "port": env.server.addr.port(),
        "chromium": chromium,
        "appPort": app_port,
        "email": {"prefix": email_prefix, "clientId": email_client},
        "mfa": {"prefix": mfa_prefix, "clientId": mfa_client, "username": "totp-user", "password": PASSWORD},
        "invited": {"username": invited, "temporaryPassword": "Temp-Pass-123"},
    });
    let out = run_node("browser-flows.mjs", &["playwright-core", "axe-core"], input).await;
    assert_eq!(out["ok"], true, "{out:#}");
    let pages: Vec<&str> =
        out["pages"].as_array().unwrap().iter().filter_map(|p| p["page"].as_str()).collect();
    for page in [
        "login",
        "signup",
        "confirm",
        "forgotPassword",
        "confirmForgotPassword",
        "newPassword",
        "mfaSetup",
        "mfa",
    ] {
        assert!(pages.contains(&page), "axe-core ran on {page}: {out}");
    }
}

/// openid-client (npm, tests/js/openid-client-flow.mjs) as a relying party: discovery, code +
/// PKCE with state and nonce (the sign-in in Chromium), the ID token's checks, userinfo, the
/// refresh grant and revocation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openid_client_relying_party() {
    let Some(chromium) = chromium() else {
        eprintln!("skipped: no Chromium (apt-get install chromium, or set TESSERA_TEST_CHROMIUM)");
        return;
    };
    let env = TestEnv::start(Backend::Embedded).await.unwrap();
    let app_port = free_port();
    let pool = env.pool(|b| b).await;
    domain(&env, &pool, &unique("oc").to_lowercase()).await;
    let client_id = web_client(&env, &pool, app_port).await;
    crate::oauth_code::user(&env, &pool, "olivia").await;
    let input = json!({
        "issuer": format!("{}/{pool}", env.url),
        "clientId": client_id,
        "username": "olivia",
        "password": PASSWORD,
        "appPort": app_port,
        "chromium": chromium,
    });
    let out = run_node("openid-client-flow.mjs", &["openid-client", "playwright-core"], input).await;
    assert_eq!(out["ok"], true, "{out:#}");
    assert_eq!(out["claims"]["email"], "olivia@example.com");
    assert_eq!(out["userinfo"]["email_verified"], "true", "Cognito's string, read by openid-client");
}

/// Amplify v6's `signInWithRedirect` (tests/js/amplify-redirect.mjs, the app bundled with
/// esbuild) in Chromium against the server's HTTPS (`--tls`), trusting only the server's
/// generated certificate: the hosted sign-in, Amplify's own code exchange (a cross-origin fetch
/// to /oauth2/token), the session and the user's attributes, signOut (the refresh token revoked
/// by RevokeToken, the hosted session ended at /logout).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn amplify_sign_in_with_redirect_over_tls() {
    let Some(chromium) = chromium() else {
        eprintln!("skipped: no Chromium (apt-get install chromium, or set TESSERA_TEST_CHROMIUM)");
        return;
    };
    let env =
        TestEnv::start_local(Backend::Embedded, |cfg| cfg.tls = Some(Default::default())).await.unwrap();
    let cert_file = env.server.tls_cert.clone().expect("the server serves TLS");
    let app_port = free_port();
    let app_url = format!("http://localhost:{app_port}/");
    let pool = env.pool(|b| b).await;
    let prefix = unique("amp").to_lowercase();
    domain(&env, &pool, &prefix).await;
    let client = env
        .client
        .create_user_pool_client()
        .user_pool_id(&pool)
        .client_name("amplify-web")
        .allowed_o_auth_flows(OAuthFlowType::Code)
        .set_allowed_o_auth_scopes(Some(
            ["openid", "email", "profile", "aws.cognito.signin.user.admin"].map(String::from).to_vec(),
        ))
        .callback_urls(&app_url)
        .logout_urls(&app_url)
        .supported_identity_providers("COGNITO")
        .allowed_o_auth_flows_user_pool_client(true)
        .send()
        .await
        .unwrap();
    let client_id = client.user_pool_client().unwrap().client_id().unwrap().to_string();
    crate::oauth_code::user(&env, &pool, "amelia").await;

    // The discovery document advertises the domain's https endpoints.
    let (status, _, body) =
        raw_http(&env.url, "GET", &format!("/{pool}/.well-known/openid-configuration"), &[], b"").await;
    assert_eq!(status, 200);
    let discovery: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let port = env.server.addr.port();
    let https_base = env.url.replace("http://", "https://");
    assert_eq!(discovery["authorization_endpoint"], format!("{https_base}/_auth/{prefix}/oauth2/authorize"));
    assert_eq!(discovery["token_endpoint"], format!("{https_base}/_auth/{prefix}/oauth2/token"));

    let input = json!({
        "server": env.url,
        "port": port,
        "prefix": prefix,
        "userPoolId": pool,
        "clientId": client_id,
        "username": "amelia",
        "password": PASSWORD,
        "certFile": cert_file,
        "appPort": app_port,
        "chromium": chromium,
    });
    let out = run_node("amplify-redirect.mjs", &["aws-amplify", "esbuild", "playwright-core"], input).await;
    assert_eq!(out["ok"], true, "{out:#}");
    // Amplify's own authorize request: code flow with PKCE S256, over https.
    assert_eq!(out["authorize"]["response_type"], "code", "{out:#}");
    assert_eq!(out["authorize"]["code_challenge_method"], "S256", "{out:#}");
    let state = &out["state"];
    assert_eq!(state["username"], "amelia", "{out:#}");
    assert_eq!(state["idToken"]["iss"], format!("{}/{pool}", env.url));
    assert_eq!(state["idToken"]["aud"], client_id.as_str());
    assert_eq!(state["idToken"]["cognito:username"], "amelia");
    assert!(state["idToken"]["at_hash"].is_string(), "{state}");
    let scope = state["accessToken"]["scope"].as_str().unwrap_or_default();
    assert!(scope.split(' ').any(|s| s == "aws.cognito.signin.user.admin"), "{scope}");
    // fetchUserAttributes went through GetUser with the hosted sign-in's access token.
    assert_eq!(state["attributes"]["email"], "amelia@example.com", "{state}");
    let requests = out["requests"].as_array().unwrap();
    let served = |method: &str, path: &str, status: u64| {
        requests.iter().any(|r| {
            r["method"] == method
                && r["url"] == format!("https://{prefix}.auth.localhost:{port}{path}")
                && r["status"] == status
        })
    };
    assert!(served("POST", "/oauth2/token", 200), "Amplify's code exchange: {out:#}");
    let called = |operation: &str| requests.iter().any(|r| r["operation"] == operation && r["status"] == 200);
    assert!(called("GetUser"), "fetchUserAttributes: {out:#}");
    assert!(called("RevokeToken"), "signOut revoked the refresh token: {out:#}");
    assert!(served("GET", "/logout", 302), "signOut ended the hosted session: {out:#}");
    assert_eq!(out["afterSignOut"], "UserUnAuthenticatedException", "{out:#}");
    assert_eq!(out["secondSignInPage"], "/login", "no session cookie left after /logout: {out:#}");
    // The revoked refresh token no longer refreshes.
    let refresh = out["refreshToken"].as_str().expect("Amplify kept a refresh token").to_string();
    let refreshed = env
        .client
        .initiate_auth()
        .client_id(&client_id)
        .auth_flow(cip::types::AuthFlowType::RefreshTokenAuth)
        .auth_parameters("REFRESH_TOKEN", refresh)
        .send()
        .await;
    let err = refreshed.expect_err("revoked").into_service_error();
    assert!(err.is_not_authorized_exception(), "{err:?}");
}
