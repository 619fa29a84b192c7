//! A real OpenID Connect relying party, the `openidconnect` crate, unpatched: discovery from
//! the issuer, the authorization-code flow with PKCE (the sign-in page driven as a browser
//! would), ID token validation (signature against the JWKS, issuer, audience, expiry, nonce,
//! at_hash), the refresh grant and userinfo.

use crate::common::*;
use crate::oauth_code::{action, field, fields_of, hidden, user, web_client, Browser, CALLBACK};
use crate::oauth_token::{form, pool_with_domain};
use crate::on_both_stores;
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata, CoreUserInfoClaims};
use openidconnect::{
    AccessTokenHash, AuthorizationCode, ClientId, CsrfToken, IssuerUrl, Nonce, OAuth2TokenResponse,
    PkceCodeChallenge, RedirectUrl, Scope, TokenResponse,
};

/// The relying party's HTTP client: the test harness's own, so nothing else is in between.
fn http(
    base: String,
) -> impl Fn(
    openidconnect::HttpRequest,
) -> std::pin::Pin<
    Box<dyn std::future::Future<Output = Result<openidconnect::HttpResponse, std::io::Error>>>,
> {
    move |req: openidconnect::HttpRequest| {
        let base = base.clone();
        Box::pin(async move {
            let uri = req.uri().to_string();
            let path =
                uri.strip_prefix(&base).unwrap_or_else(|| panic!("{uri} is not on {base}")).to_string();
            let headers: Vec<(String, String)> = req
                .headers()
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or_default().to_string()))
                .collect();
            let refs: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            let (status, headers, body) =
                raw_http(&base, req.method().as_str(), &path, &refs, req.body()).await;
            let mut response = http::Response::builder().status(status);
            for (k, v) in headers {
                response = response.header(k, v);
            }
            Ok(response.body(body).expect("a response"))
        }) as std::pin::Pin<Box<dyn std::future::Future<Output = _>>>
    }
}

on_both_stores!(openidconnect_crate_signs_in_refreshes_and_reads_userinfo, |env| {
    let (pool, prefix) = pool_with_domain(env).await;
    let client_id = web_client(env, &pool).await;
    user(env, &pool, "grace").await;
    let http = http(env.url.clone());

    let issuer = IssuerUrl::new(format!("{}/{pool}", env.url)).unwrap();
    let metadata = CoreProviderMetadata::discover_async(issuer, &http).await.expect("discovery");
    assert!(metadata.token_endpoint().unwrap().as_str().contains(&format!("/_auth/{prefix}/")));
    let client = CoreClient::from_provider_metadata(metadata, ClientId::new(client_id.clone()), None)
        .set_redirect_uri(RedirectUrl::new(CALLBACK.to_string()).unwrap());
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, state, nonce) = client
        .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
        .add_scope(Scope::new("email".into()))
        .add_scope(Scope::new("profile".into()))
        .set_pkce_challenge(challenge)
        .url();

    // The user, in a browser: the sign-in page and its form.
    let mut browser = Browser::default();
    let to_login = browser.get(env, url.as_str().trim_start_matches(&env.url)).await;
    let login = browser.get(env, to_login.location.unwrap().trim_start_matches(&env.url)).await;
    let body =
        form(&[("_csrf", &hidden(&login.body, "_csrf")), ("username", "grace"), ("password", PASSWORD)]);
    let back = browser.post(env, &action(env, &login.body), &body).await;
    let back = fields_of(&back.location.expect("redirected to the app"), false);
    assert_eq!(field(&back, "state").as_deref(), Some(state.secret().as_str()));
    let code = field(&back, "code").unwrap();

    let tokens = client
        .exchange_code(AuthorizationCode::new(code))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .expect("code exchange");
    let id_token = tokens.id_token().expect("an ID token with openid");
    let id_verifier = client.id_token_verifier();
    let claims = id_token.claims(&id_verifier, &nonce).expect("a valid ID token");
    assert_eq!(claims.email().map(|e| e.as_str().to_string()), Some("grace@example.com".into()));
    let at_hash = AccessTokenHash::from_token(
        tokens.access_token(),
        id_token.signing_alg().unwrap(),
        id_token.signing_key(&id_verifier).unwrap(),
    )
    .unwrap();
    assert_eq!(claims.access_token_hash(), Some(&at_hash));
    // The wrong nonce is caught by the library.
    assert!(id_token.claims(&id_verifier, &Nonce::new("another".into())).is_err());

    let info: CoreUserInfoClaims = client
        .user_info(tokens.access_token().clone(), None)
        .unwrap()
        .request_async(&http)
        .await
        .expect("userinfo");
    assert_eq!(info.email_verified(), Some(true));
    assert_eq!(info.subject().as_str(), claims.subject().as_str());

    let refreshed = client
        .exchange_refresh_token(tokens.refresh_token().expect("a refresh token"))
        .unwrap()
        .request_async(&http)
        .await
        .expect("refresh");
    assert!(refreshed.refresh_token().is_none(), "no rotation: the refresh token stays");
    let again = refreshed.id_token().unwrap();
    // A refreshed ID token has no nonce: the library takes any.
    let refreshed_claims =
        again.claims(&id_verifier, |_: Option<&Nonce>| Ok(())).expect("a valid refreshed ID token");
    assert_eq!(refreshed_claims.subject(), info.subject());
    assert_eq!(refreshed_claims.auth_time(), claims.auth_time(), "auth_time stays the sign-in's");
});
