//! The authorization-code and implicit flows through the hosted sign-in page, driven over HTTP
//! as a browser drives them (cookies, the form's CSRF token, redirects): PKCE, nonce and
//! at_hash, single-use codes, single sign-on, sign-out, the authorize errors, and the abuse
//! cases (a replayed code, a forged form, guessed passwords).

use crate::common::*;
use crate::oauth_token::{claims, form, pool_with_domain, post_form};
use crate::on_both_stores;
use aws_sdk_cognitoidentityprovider as cip;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use cip::types::OAuthFlowType;
use serde_json::Value;
use sha2::{Digest, Sha256};

pub const CALLBACK: &str = "https://app.example.com/callback";
pub const SIGNED_OUT: &str = "https://app.example.com/bye";
pub const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

/// A browser: its cookies for the server.
#[derive(Default)]
pub struct Browser {
    pub cookies: Vec<(String, String)>,
}

pub struct Page {
    pub status: u16,
    pub location: Option<String>,
    pub body: String,
}

impl Browser {
    fn remember(&mut self, headers: &[(String, String)]) {
        for (k, v) in headers {
            if k != "set-cookie" {
                continue;
            }
            let pair = v.split(';').next().unwrap_or_default();
            let Some((name, value)) = pair.split_once('=') else { continue };
            self.cookies.retain(|(n, _)| n != name);
            let cleared = v.contains("Max-Age=0");
            if !cleared {
                self.cookies.push((name.to_string(), value.to_string()));
            }
        }
    }

    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.cookies.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    fn cookie_header(&self) -> String {
        self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ")
    }

    pub async fn get(&mut self, env: &TestEnv, path: &str) -> Page {
        let cookie = self.cookie_header();
        let (status, headers, body) = raw_http(&env.url, "GET", path, &[("Cookie", &cookie)], b"").await;
        self.remember(&headers);
        let location = headers.iter().find(|(k, _)| k == "location").map(|(_, v)| v.clone());
        Page { status, location, body: String::from_utf8_lossy(&body).into_owned() }
    }

    pub async fn post(&mut self, env: &TestEnv, path: &str, body: &str) -> Page {
        let cookie = self.cookie_header();
        let headers = [("Cookie", cookie.as_str()), ("Content-Type", "application/x-www-form-urlencoded")];
        let (status, headers, body) = raw_http(&env.url, "POST", path, &headers, body.as_bytes()).await;
        self.remember(&headers);
        let location = headers.iter().find(|(k, _)| k == "location").map(|(_, v)| v.clone());
        Page { status, location, body: String::from_utf8_lossy(&body).into_owned() }
    }
}

/// The value of a hidden input (`name="…" value="…"`) in a page.
pub fn hidden(page: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = page.find(&marker).map(|i| i + marker.len()).unwrap_or_else(|| panic!("no {name} in {page}"));
    let end = page[start..].find('"').unwrap() + start;
    page[start..end].replace("&amp;", "&").replace("&quot;", "\"")
}

/// The form's action (a path below the server, HTML-unescaped).
pub fn action(env: &TestEnv, page: &str) -> String {
    let start = page.find("action=\"").unwrap() + 8;
    let end = page[start..].find('"').unwrap() + start;
    page[start..end].replace("&amp;", "&").trim_start_matches(&env.url).to_string()
}

/// The query fields of a URL (or its fragment's, with `#`).
pub fn fields_of(url: &str, fragment: bool) -> Vec<(String, String)> {
    let part =
        if fragment { url.split_once('#').map(|(_, f)| f) } else { url.split_once('?').map(|(_, q)| q) };
    form_urlencoded::parse(part.unwrap_or_default().as_bytes()).into_owned().collect()
}

pub fn field(fields: &[(String, String)], name: &str) -> Option<String> {
    fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
}

/// A public web client of the pool: code and implicit, the reserved scopes.
pub async fn web_client(env: &TestEnv, pool: &str) -> String {
    let c = env
        .client
        .create_user_pool_client()
        .user_pool_id(pool)
        .client_name("web")
        .allowed_o_auth_flows(OAuthFlowType::Code)
        .allowed_o_auth_flows(OAuthFlowType::Implicit)
        .allowed_o_auth_scopes("openid")
        .allowed_o_auth_scopes("email")
        .allowed_o_auth_scopes("profile")
        .allowed_o_auth_scopes("aws.cognito.signin.user.admin")
        .callback_urls(CALLBACK)
        .logout_urls(SIGNED_OUT)
        .supported_identity_providers("COGNITO")
        .allowed_o_auth_flows_user_pool_client(true)
        .send()
        .await
        .unwrap();
    c.user_pool_client().unwrap().client_id().unwrap().to_string()
}

/// A confirmed user with a permanent password and a verified email.
pub async fn user(env: &TestEnv, pool: &str, name: &str) {
    env.client
        .admin_create_user()
        .user_pool_id(pool)
        .username(name)
        .user_attributes(attr("email", &format!("{name}@example.com")))
        .user_attributes(attr("email_verified", "true"))
        .message_action(cip::types::MessageActionType::Suppress)
        .send()
        .await
        .unwrap();
    env.client
        .admin_set_user_password()
        .user_pool_id(pool)
        .username(name)
        .password(PASSWORD)
        .permanent(true)
        .send()
        .await
        .unwrap();
}

pub fn authorize_query(client_id: &str, extra: &[(&str, &str)]) -> String {
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(VERIFIER.as_bytes()));
    let mut fields = vec![
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", CALLBACK),
        ("state", "st&te"),
        ("scope", "openid email profile"),
        ("nonce", "n-0S6_WzA2Mj"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    for (k, v) in extra {
        fields.retain(|(n, _)| n != k);
        if !v.is_empty() {
            fields.push((k, v));
        }
    }
    form(&fields)
}

/// Authorize → sign-in page → POST /login: the redirect the browser ends at.
pub async fn sign_in(
    env: &TestEnv,
    browser: &mut Browser,
    prefix: &str,
    query: &str,
    username: &str,
    password: &str,
) -> Page {
    let first = browser.get(env, &format!("/_auth/{prefix}/oauth2/authorize?{query}")).await;
    assert_eq!(first.status, 302, "{}", first.body);
    let login = first.location.unwrap();
    assert!(login.contains("/login?"), "{login}");
    let page = browser.get(env, login.trim_start_matches(&env.url)).await;
    assert_eq!(page.status, 200);
    let body =
        form(&[("_csrf", &hidden(&page.body, "_csrf")), ("username", username), ("password", password)]);
    browser.post(env, &action(env, &page.body), &body).await
}

on_both_stores!(code_flow_with_pkce_sso_and_logout, |env| {
    let (pool, prefix) = pool_with_domain(env).await;
    let client_id = web_client(env, &pool).await;
    user(env, &pool, "alice").await;
    let mut browser = Browser::default();
    let done =
        sign_in(env, &mut browser, &prefix, &authorize_query(&client_id, &[]), "alice", PASSWORD).await;
    assert_eq!(done.status, 302, "{}", done.body);
    let location = done.location.unwrap();
    assert!(location.starts_with(&format!("{CALLBACK}?")), "{location}");
    let back = fields_of(&location, false);
    assert_eq!(field(&back, "state").as_deref(), Some("st&te"));
    let code = field(&back, "code").unwrap();
    assert!(browser.cookie("cognito").is_some(), "a hosted session");

    // The exchange needs the verifier and the same redirect URI.
    let exchange = form(&[
        ("grant_type", "authorization_code"),
        ("client_id", &client_id),
        ("code", &code),
        ("redirect_uri", CALLBACK),
        ("code_verifier", VERIFIER),
    ]);
    let (status, _, tokens) = post_form(env, &prefix, "/oauth2/token", None, &exchange).await;
    assert_eq!(status, 200, "{tokens}");
    let id = claims(tokens["id_token"].as_str().unwrap());
    let access_token = tokens["access_token"].as_str().unwrap();
    let access = claims(access_token);
    assert_eq!(id["nonce"], "n-0S6_WzA2Mj");
    assert_eq!(id["cognito:username"], "alice");
    assert_eq!(id["aud"], client_id.as_str());
    let digest = Sha256::digest(access_token.as_bytes());
    assert_eq!(id["at_hash"], URL_SAFE_NO_PAD.encode(&digest[..16]));
    assert_eq!(access["scope"], "openid email profile");
    assert!(id["auth_time"].as_i64().is_some());
    let refresh = tokens["refresh_token"].as_str().unwrap().to_string();
    // Without aws.cognito.signin.user.admin, the user API refuses the access token.
    let e = env.client.get_user().access_token(access_token).send().await.map_err(err_name).unwrap_err();
    assert_eq!(e, "NotAuthorizedException: Access Token does not have required scopes");

    // A replayed code: refused, and the tokens of its first exchange are revoked.
    let (status, _, again) = post_form(env, &prefix, "/oauth2/token", None, &exchange).await;
    assert_eq!((status, again["error"].as_str()), (400, Some("invalid_grant")));
    let grant =
        form(&[("grant_type", "refresh_token"), ("client_id", &client_id), ("refresh_token", &refresh)]);
    let (status, _, refused) = post_form(env, &prefix, "/oauth2/token", None, &grant).await;
    assert_eq!((status, refused["error"].as_str()), (400, Some("invalid_grant")), "{refused}");

    // Single sign-on: the session answers the next authorize at once, with the API scope (and
    // the scopes in another order: OpenID's oidcc-ensure-other-scope-order-succeeds).
    let query =
        authorize_query(&client_id, &[("scope", "aws.cognito.signin.user.admin openid"), ("nonce", "")]);
    let sso = browser.get(env, &format!("/_auth/{prefix}/oauth2/authorize?{query}")).await;
    assert_eq!(sso.status, 302);
    let location = sso.location.unwrap();
    let code = field(&fields_of(&location, false), "code").expect("a code without the sign-in page");
    let exchange = form(&[
        ("grant_type", "authorization_code"),
        ("client_id", &client_id),
        ("code", &code),
        ("redirect_uri", CALLBACK),
        ("code_verifier", VERIFIER),
    ]);
    let (status, _, tokens) = post_form(env, &prefix, "/oauth2/token", None, &exchange).await;
    assert_eq!(status, 200, "{tokens}");
    let me =
        env.client.get_user().access_token(tokens["access_token"].as_str().unwrap()).send().await.unwrap();
    assert_eq!(me.username(), "alice");
    // The refresh grant keeps the sign-in's scopes.
    let grant = form(&[
        ("grant_type", "refresh_token"),
        ("client_id", &client_id),
        ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
    ]);
    let (_, _, refreshed) = post_form(env, &prefix, "/oauth2/token", None, &grant).await;
    assert_eq!(
        claims(refreshed["access_token"].as_str().unwrap())["scope"],
        "aws.cognito.signin.user.admin openid"
    );

    // The verifier must match; a wrong one spends the code.
    let sso = browser
        .get(env, &format!("/_auth/{prefix}/oauth2/authorize?{}", authorize_query(&client_id, &[])))
        .await;
    let code = field(&fields_of(&sso.location.unwrap(), false), "code").unwrap();
    let wrong = form(&[
        ("grant_type", "authorization_code"),
        ("client_id", &client_id),
        ("code", &code),
        ("redirect_uri", CALLBACK),
        ("code_verifier", &"x".repeat(43)),
    ]);
    let (status, _, answer) = post_form(env, &prefix, "/oauth2/token", None, &wrong).await;
    assert_eq!((status, answer["error"].as_str()), (400, Some("invalid_grant")));
    let right = wrong.replace(&"x".repeat(43), VERIFIER);
    let (status, _, answer) = post_form(env, &prefix, "/oauth2/token", None, &right).await;
    assert_eq!((status, answer["error"].as_str()), (400, Some("invalid_grant")), "one guess per code");

    // Sign out and sign in as someone else: the sign-in page with the same parameters.
    let again =
        browser.get(env, &format!("/_auth/{prefix}/logout?{}", authorize_query(&client_id, &[]))).await;
    assert_eq!(again.status, 302);
    assert!(again.location.unwrap().contains(&format!("/_auth/{prefix}/login?")));
    assert!(browser.cookie("cognito").is_none(), "the session is over");
    let done =
        sign_in(env, &mut browser, &prefix, &authorize_query(&client_id, &[]), "alice", PASSWORD).await;
    assert!(done.location.unwrap().starts_with(CALLBACK));
    // Sign-out: to a sign-out URL only; the session is over.
    let bad = browser
        .get(
            env,
            &format!(
                "/_auth/{prefix}/logout?{}",
                form(&[("client_id", &client_id), ("logout_uri", CALLBACK)])
            ),
        )
        .await;
    assert_eq!((bad.status, bad.location), (400, None));
    let out = browser
        .get(
            env,
            &format!(
                "/_auth/{prefix}/logout?{}",
                form(&[("client_id", &client_id), ("logout_uri", SIGNED_OUT)])
            ),
        )
        .await;
    assert_eq!((out.status, out.location.as_deref()), (302, Some(SIGNED_OUT)));
    assert!(browser.cookie("cognito").is_none());
    let after = browser
        .get(env, &format!("/_auth/{prefix}/oauth2/authorize?{}", authorize_query(&client_id, &[])))
        .await;
    assert!(after.location.unwrap().contains("/login?"), "signed out: the sign-in page again");
});

on_both_stores!(implicit_flow_and_authorize_errors, |env| {
    let (pool, prefix) = pool_with_domain(env).await;
    let client_id = web_client(env, &pool).await;
    user(env, &pool, "bob").await;
    let mut browser = Browser::default();
    let query = authorize_query(
        &client_id,
        &[("response_type", "token"), ("code_challenge", ""), ("code_challenge_method", "")],
    );
    let done = sign_in(env, &mut browser, &prefix, &query, "bob", PASSWORD).await;
    let location = done.location.unwrap();
    assert!(location.starts_with(&format!("{CALLBACK}#")), "tokens in the fragment: {location}");
    let back = fields_of(&location, true);
    assert_eq!(field(&back, "token_type").as_deref(), Some("Bearer"));
    assert_eq!(field(&back, "state").as_deref(), Some("st&te"));
    assert!(field(&back, "refresh_token").is_none());
    let id = claims(&field(&back, "id_token").unwrap());
    assert_eq!(id["nonce"], "n-0S6_WzA2Mj");
    // Without openid: an access token only.
    let query = authorize_query(
        &client_id,
        &[
            ("response_type", "token"),
            ("scope", "aws.cognito.signin.user.admin"),
            ("code_challenge", ""),
            ("code_challenge_method", ""),
        ],
    );
    let sso = browser.get(env, &format!("/_auth/{prefix}/oauth2/authorize?{query}")).await;
    let back = fields_of(&sso.location.unwrap(), true);
    assert!(field(&back, "id_token").is_none() && field(&back, "access_token").is_some());

    // Before the client and redirect URI are known good: a page, never a redirect.
    let fresh = &mut Browser::default();
    for q in [
        authorize_query("nosuchclient", &[]),
        authorize_query(&client_id, &[("redirect_uri", "https://evil.example.com/cb")]),
        authorize_query(&client_id, &[("redirect_uri", "")]),
        format!("{}&client_id={client_id}", authorize_query(&client_id, &[])),
    ] {
        let p = fresh.get(env, &format!("/_auth/{prefix}/oauth2/authorize?{q}")).await;
        assert_eq!((p.status, p.location.as_deref()), (400, None), "{q}");
    }
    // After: a redirect to the client with the error and the state.
    for (extra, error) in [
        (vec![("code_challenge_method", "plain")], "invalid_request"),
        (vec![("code_challenge_method", "")], "invalid_request"),
        (vec![("response_type", "")], "invalid_request"),
        (vec![("response_type", "id_token")], "unsupported_response_type"),
        (vec![("scope", "email")], "invalid_scope"),
        (vec![("scope", "openid phone")], "invalid_scope"),
        (vec![("scope", "openid nosuch")], "invalid_scope"),
        (vec![("identity_provider", "Google")], "invalid_request"),
    ] {
        let q = authorize_query(&client_id, &extra);
        let p = fresh.get(env, &format!("/_auth/{prefix}/oauth2/authorize?{q}")).await;
        assert_eq!(p.status, 302, "{q}");
        let location = p.location.unwrap();
        assert!(location.starts_with(&format!("{CALLBACK}?")), "{location}");
        let back = fields_of(&location, false);
        assert_eq!(field(&back, "error").as_deref(), Some(error), "{q}");
        assert_eq!(field(&back, "state").as_deref(), Some("st&te"));
    }
});

on_both_stores!(sign_in_page_abuse, |env| {
    let (pool, prefix) = pool_with_domain(env).await;
    let client_id = web_client(env, &pool).await;
    user(env, &pool, "carol").await;
    let query = authorize_query(&client_id, &[]);
    let mut browser = Browser::default();
    let page = browser.get(env, &format!("/_auth/{prefix}/login?{query}")).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("<label for=\"field-0\""));
    // OIDC's login_hint fills in the username, escaped: a hint cannot write markup into the page.
    let hinted = authorize_query(&client_id, &[("login_hint", "carol\"><script>x()</script>")]);
    let first = browser.get(env, &format!("/_auth/{prefix}/oauth2/authorize?{hinted}")).await;
    let login = first.location.unwrap();
    assert!(login.contains("login_hint="), "the hint rides along to the page: {login}");
    let page = browser.get(env, login.trim_start_matches(&env.url)).await;
    assert!(page.body.contains("value=\"carol&quot;&gt;&lt;script&gt;x()&lt;/script&gt;\""), "{}", page.body);
    assert!(!page.body.contains("<script>"));
    // A forged form (no CSRF token, or another one) is refused and signs no one in.
    let forged = form(&[("username", "carol"), ("password", PASSWORD)]);
    let p = browser.post(env, &format!("/_auth/{prefix}/login?{query}"), &forged).await;
    assert_eq!((p.status, p.location), (403, None));
    let other =
        form(&[("_csrf", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"), ("username", "carol"), ("password", PASSWORD)]);
    let p = browser.post(env, &format!("/_auth/{prefix}/login?{query}"), &other).await;
    assert_eq!(p.status, 403);
    // Wrong passwords: Cognito's message, then the lockout, which the right password does not lift.
    let mut last = String::new();
    for _ in 0..7 {
        let p = sign_in(env, &mut Browser::default(), &prefix, &query, "carol", "Wrong-Password-1").await;
        assert_eq!((p.status, p.location), (200, None));
        last = p.body;
    }
    assert!(last.contains("Password attempts exceeded"), "{last}");
    let p = sign_in(env, &mut Browser::default(), &prefix, &query, "carol", PASSWORD).await;
    assert!(p.location.is_none() && p.body.contains("Password attempts exceeded"), "{}", p.body);
    let _: Option<Value> = None;
});
