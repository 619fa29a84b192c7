//! `GET /oauth2/authorize` (spec A §2.1) and what the hosted pages share with it: checking an
//! authorize request's parameters, and answering it for an authenticated user (a code in the
//! query, or implicit tokens in the fragment).
//!
//! The order matters (§13.2): until `client_id` and `redirect_uri` are known good, every error
//! is a page and never a redirect (no open redirector); after that every error, `server_error`
//! included, is a redirect to the client with `error` and `state` in the query.

use super::codes::{self, AuthorizationCode};
use super::endpoint::{DomainRequest, DomainResponse};
use super::scopes::{self, GrantKind};
use crate::error::Result;
use crate::model::{AppClient, User};
use crate::service::{CallContext, Service};
use crate::user_pool::auth::issue::{issue_family, Family, IssuedDevice, OAuthGrant};
use crate::user_pool::auth::sign_in::SignIn;
use crate::user_pool::domains::records::UserPoolDomain;
use crate::user_pool::federation;
use crate::user_pool::hosted::{pages, session, text::EN};
use crate::user_pool::triggers::token_generation::{Occasion, TokenSource};
use std::sync::Arc;

/// The parameters an authorize request carries through the hosted pages.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthorizeParams {
    pub response_type: Option<String>,
    pub client_id: String,
    pub redirect_uri: String,
    pub state: Option<String>,
    pub scope: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub identity_provider: Option<String>,
    pub idp_identifier: Option<String>,
    /// OIDC's `login_hint`: the sign-in page's username, filled in.
    pub login_hint: Option<String>,
}

const NAMES: &[&str] = &[
    "response_type",
    "client_id",
    "redirect_uri",
    "state",
    "scope",
    "nonce",
    "code_challenge",
    "code_challenge_method",
    "identity_provider",
    "idp_identifier",
    "login_hint",
];

impl AuthorizeParams {
    /// The query string that carries them from page to page.
    pub fn query(&self) -> String {
        let mut q = form_urlencoded::Serializer::new(String::new());
        for (k, v) in self.fields() {
            q.append_pair(k, v);
        }
        q.finish()
    }

    /// The parameters given, by name.
    pub fn fields(&self) -> Vec<(&'static str, &str)> {
        let fields = [
            ("response_type", self.response_type.as_deref()),
            ("client_id", Some(self.client_id.as_str())),
            ("redirect_uri", Some(self.redirect_uri.as_str())),
            ("state", self.state.as_deref()),
            ("scope", self.scope.as_deref()),
            ("nonce", self.nonce.as_deref()),
            ("code_challenge", self.code_challenge.as_deref()),
            ("code_challenge_method", self.code_challenge_method.as_deref()),
            ("identity_provider", self.identity_provider.as_deref()),
            ("idp_identifier", self.idp_identifier.as_deref()),
            ("login_hint", self.login_hint.as_deref()),
        ];
        fields.into_iter().filter_map(|(k, v)| v.map(|v| (k, v))).collect()
    }
}

/// An authorize request that passed every check.
#[derive(Debug, Clone)]
pub struct ValidAuthorize {
    pub params: AuthorizeParams,
    pub client: Arc<AppClient>,
    pub scopes: Vec<String>,
    /// `token` (implicit) rather than `code`.
    pub implicit: bool,
    /// The identity provider to sign in at: asked for (`identity_provider`, `idp_identifier`),
    /// or the client's only one when it cannot sign in with the pool itself.
    pub federated: Option<crate::user_pool::federation::records::IdentityProvider>,
    /// A provider of the client has IdpIdentifiers: the sign-in page asks for an email and goes
    /// to the provider of its domain (spec A §9.3).
    pub identifier_box: bool,
}

/// A redirect to the client: `params` in the query (or, for implicit tokens, the fragment).
pub fn redirect_to(redirect_uri: &str, params: &[(&str, &str)], fragment: bool) -> DomainResponse {
    let mut q = form_urlencoded::Serializer::new(String::new());
    for (k, v) in params {
        q.append_pair(k, v);
    }
    let encoded = q.finish();
    let location = if fragment {
        format!("{redirect_uri}#{encoded}")
    } else if redirect_uri.contains('?') {
        format!("{redirect_uri}&{encoded}")
    } else {
        format!("{redirect_uri}?{encoded}")
    };
    DomainResponse::redirect(location)
}

/// An error delivered to the (already checked) redirect URI, in the query, with the state.
pub fn error_redirect(params: &AuthorizeParams, error: &str, description: &str) -> DomainResponse {
    let mut fields = vec![("error", error), ("error_description", description)];
    if let Some(state) = params.state.as_deref() {
        fields.push(("state", state));
    }
    redirect_to(&params.redirect_uri, &fields, false)
}

fn bad_request_page(detail: &str) -> DomainResponse {
    DomainResponse::html(400, pages::message_page(EN.bad_request.title, detail))
}

/// Checks an authorize request's parameters (from `/oauth2/authorize`, `/login` or a page's
/// form action). `Err` is the answer to give instead: a page or a redirect.
pub async fn check(
    svc: &Service,
    domain: &UserPoolDomain,
    fields: &[(String, String)],
) -> Result<std::result::Result<ValidAuthorize, DomainResponse>> {
    let mut params = AuthorizeParams::default();
    let mut repeated: Option<&str> = None;
    for name in NAMES {
        let mut values = fields.iter().filter(|(k, _)| k == name).map(|(_, v)| v.clone());
        let value = values.next();
        if values.next().is_some() {
            repeated.get_or_insert(name);
        }
        let slot = match *name {
            "response_type" => &mut params.response_type,
            "state" => &mut params.state,
            "scope" => &mut params.scope,
            "nonce" => &mut params.nonce,
            "code_challenge" => &mut params.code_challenge,
            "code_challenge_method" => &mut params.code_challenge_method,
            "identity_provider" => &mut params.identity_provider,
            "idp_identifier" => &mut params.idp_identifier,
            "login_hint" => &mut params.login_hint,
            "client_id" => {
                params.client_id = value.unwrap_or_default();
                continue;
            }
            _ => {
                params.redirect_uri = value.unwrap_or_default();
                continue;
            }
        };
        *slot = value;
    }
    // 1. The client and its redirect URI: errors are pages.
    if matches!(repeated, Some("client_id" | "redirect_uri")) {
        return Ok(Err(bad_request_page(EN.repeated_client_or_redirect)));
    }
    if params.client_id.is_empty() {
        return Ok(Err(bad_request_page(EN.missing_client)));
    }
    let client = match svc.client(&params.client_id).await {
        Ok(c) if c.pool_id == domain.pool_id => c,
        Ok(_) | Err(crate::Error::ResourceNotFoundException(_)) => {
            return Ok(Err(bad_request_page(EN.unknown_client)));
        }
        Err(e) => return Err(e),
    };
    if client.settings.allowed_oauth_flows_user_pool_client != Some(true) {
        return Ok(Err(bad_request_page(EN.client_not_oauth)));
    }
    // Without a redirect_uri, the client's DefaultRedirectURI (one of its callback URLs) stands in.
    if params.redirect_uri.is_empty() {
        params.redirect_uri = client.settings.default_redirect_uri.clone().unwrap_or_default();
    }
    let callbacks = client.settings.callback_urls.as_deref().unwrap_or_default();
    if params.redirect_uri.is_empty() || !callbacks.contains(&params.redirect_uri) {
        return Ok(Err(bad_request_page(EN.redirect_mismatch)));
    }
    // 2. Everything else: redirects to the client.
    if let Some(name) = repeated {
        return Ok(Err(error_redirect(&params, "invalid_request", &format!("{name} may be given once."))));
    }
    let implicit = match params.response_type.as_deref() {
        None | Some("") => {
            return Ok(Err(error_redirect(&params, "invalid_request", "response_type is required.")))
        }
        Some("code") => false,
        Some("token") => true,
        Some(_) => {
            return Ok(Err(error_redirect(
                &params,
                "unsupported_response_type",
                "response_type must be code or token.",
            )))
        }
    };
    let flow = if implicit { "implicit" } else { "code" };
    if !client.settings.allowed_oauth_flows.as_deref().unwrap_or_default().iter().any(|f| f == flow) {
        return Ok(Err(error_redirect(
            &params,
            "unauthorized_client",
            &format!("The client is not allowed the {flow} flow."),
        )));
    }
    match (params.code_challenge.as_deref(), params.code_challenge_method.as_deref()) {
        (None, None) => {}
        (Some(_), Some("S256")) => {}
        (Some(_), None) => {
            return Ok(Err(error_redirect(&params, "invalid_request", "code_challenge_method is required.")));
        }
        (None, Some(_)) => {
            return Ok(Err(error_redirect(&params, "invalid_request", "code_challenge is required.")));
        }
        (Some(_), Some(_)) => {
            return Ok(Err(error_redirect(&params, "invalid_request", "Only S256 is supported for PKCE.")));
        }
    }
    let providers = client.settings.supported_identity_providers.as_deref().unwrap_or_default();
    let not_enabled = |provider: &str| {
        error_redirect(
            &params,
            "invalid_request",
            &format!("The identity provider {provider} is not enabled for this client."),
        )
    };
    let mut federated = None;
    if let Some(provider) = params.identity_provider.as_deref() {
        if !providers.iter().any(|p| p == provider) {
            return Ok(Err(not_enabled(provider)));
        }
        if provider != "COGNITO" {
            match federation::records::find(svc, &domain.pool_id, provider).await? {
                Some((p, _)) => federated = Some(p),
                None => return Ok(Err(not_enabled(provider))),
            }
        }
    } else if let Some(identifier) = params.idp_identifier.as_deref() {
        // An email (the sign-in page's box) is routed by its domain.
        let identifier = identifier.rsplit_once('@').map_or(identifier, |(_, domain)| domain);
        match federation::records::provider_of_identifier(svc, &domain.pool_id, identifier).await? {
            Some(p) if providers.contains(&p.name) => federated = Some(p),
            _ => {
                return Ok(Err(error_redirect(
                    &params,
                    "invalid_request",
                    &format!("No identity provider of this client has the identifier {identifier}."),
                )))
            }
        }
    }
    if providers.is_empty() {
        return Ok(Err(error_redirect(
            &params,
            "unauthorized_client",
            "The client has no identity provider to sign in with (SupportedIdentityProviders).",
        )));
    }
    // Without the pool's own sign-in and with one provider, there is nothing to choose.
    if federated.is_none() && params.identity_provider.is_none() && !providers.iter().any(|p| p == "COGNITO")
    {
        if let [only] = providers {
            federated = federation::records::find(svc, &domain.pool_id, only).await?.map(|(p, _)| p);
        }
    }
    let scopes = match scopes::grant(svc, &client, params.scope.as_deref(), GrantKind::User).await? {
        Ok(s) => s,
        Err(invalid) => return Ok(Err(error_redirect(&params, "invalid_scope", &invalid.0))),
    };
    let identifier_box = federated.is_none()
        && providers.iter().any(|p| p != "COGNITO")
        && federation::records::has_identifiers(svc, &domain.pool_id, providers).await?;
    Ok(Ok(ValidAuthorize { params, client, scopes, implicit, federated, identifier_box }))
}

/// `GET /oauth2/authorize`: a live hosted session answers at once (single sign-on); otherwise
/// the sign-in page, with the same parameters.
pub async fn authorize(
    svc: &Service,
    ctx: &CallContext,
    domain: &UserPoolDomain,
    req: &DomainRequest,
) -> Result<DomainResponse> {
    let valid = match check(svc, domain, &req.query).await? {
        Ok(v) => v,
        Err(answer) => return Ok(answer),
    };
    // A provider asked for by name or identifier: straight to it (it keeps its own session).
    let asked = valid.params.identity_provider.is_some() || valid.params.idp_identifier.is_some();
    if let (Some(provider), true) = (&valid.federated, asked) {
        return federation::flow::start(svc, req, &valid, provider).await;
    }
    match session::current(svc, domain, req).await {
        Ok(Some((signed_in, user))) => answer(svc, ctx, &valid, &user, signed_in.auth_time, vec![]).await,
        Ok(None) => match &valid.federated {
            Some(provider) => federation::flow::start(svc, req, &valid, provider).await,
            None => Ok(DomainResponse::redirect(format!("{}/login?{}", req.base_url, valid.params.query()))),
        },
        Err(e) => {
            tracing::error!(error = %e.message(), "authorize failed");
            Ok(error_redirect(&valid.params, "server_error", "The server could not answer the request."))
        }
    }
}

/// Answers a checked authorize request for an authenticated user: a code in the query, or the
/// tokens (implicit) in the fragment; `cookies` (a new hosted session) go with it. A failure
/// is a `server_error` redirect, never a 500 page.
pub async fn answer(
    svc: &Service,
    ctx: &CallContext,
    valid: &ValidAuthorize,
    user: &User,
    auth_time: i64,
    cookies: Vec<super::endpoint::SetCookie>,
) -> Result<DomainResponse> {
    let answered = if valid.implicit {
        implicit_tokens(svc, ctx, valid, user, auth_time).await
    } else {
        let code = AuthorizationCode {
            pool_id: valid.client.pool_id.clone(),
            client_id: valid.client.client_id.clone(),
            redirect_uri: valid.params.redirect_uri.clone(),
            scopes: valid.scopes.clone(),
            username: user.username.clone(),
            sub: user.sub.clone(),
            auth_time,
            nonce: valid.params.nonce.clone(),
            code_challenge: valid.params.code_challenge.clone(),
            spent: None,
        };
        codes::issue(svc, &code).await.map(|code| {
            let mut fields = vec![("code", code.as_str())];
            if let Some(state) = valid.params.state.as_deref() {
                fields.push(("state", state));
            }
            redirect_to(&valid.params.redirect_uri, &fields, false)
        })
    };
    let mut response = match answered {
        Ok(r) => r,
        Err(crate::Error::InternalErrorException(m)) => {
            tracing::error!(error = %m, "authorize answer failed");
            error_redirect(&valid.params, "server_error", "The server could not answer the request.")
        }
        // A trigger refused (PreTokenGeneration): the client hears why, as access_denied.
        Err(e) => error_redirect(&valid.params, "access_denied", e.message()),
    };
    response.cookies.extend(cookies);
    Ok(response)
}

/// The implicit grant: access token (and ID token with `openid`) in the fragment, no refresh
/// token.
async fn implicit_tokens(
    svc: &Service,
    ctx: &CallContext,
    valid: &ValidAuthorize,
    user: &User,
    auth_time: i64,
) -> Result<DomainResponse> {
    let pool = svc.pool(&valid.client.pool_id).await?;
    let grant = OAuthGrant {
        scopes: valid.scopes.clone(),
        nonce: valid.params.nonce.clone(),
        family_id: None,
        auth_time: Some(auth_time),
    };
    let s = SignIn::starting(svc, ctx, &valid.client, pool);
    let occasion = Occasion::without_metadata(TokenSource::HostedAuth);
    let result = issue_family(&s, user, Family::New, occasion, IssuedDevice::default(), Some(&grant)).await?;
    let r = &result["AuthenticationResult"];
    let expires_in = r["ExpiresIn"].as_i64().unwrap_or(3600).to_string();
    let mut fields: Vec<(&str, &str)> = Vec::new();
    if let Some(id) = r["IdToken"].as_str() {
        fields.push(("id_token", id));
    }
    fields.push(("access_token", r["AccessToken"].as_str().unwrap_or_default()));
    fields.push(("token_type", "Bearer"));
    fields.push(("expires_in", &expires_in));
    if let Some(state) = valid.params.state.as_deref() {
        fields.push(("state", state));
    }
    Ok(redirect_to(&valid.params.redirect_uri, &fields, true))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirects_put_codes_in_the_query_and_tokens_in_the_fragment() {
        let r = redirect_to("https://app.example.com/cb", &[("code", "c1"), ("state", "a b")], false);
        assert_eq!(r.location.as_deref(), Some("https://app.example.com/cb?code=c1&state=a+b"));
        let r = redirect_to("https://app.example.com/cb?x=1", &[("code", "c1")], false);
        assert_eq!(r.location.as_deref(), Some("https://app.example.com/cb?x=1&code=c1"));
        let r = redirect_to("myapp://cb", &[("access_token", "t")], true);
        assert_eq!(r.location.as_deref(), Some("myapp://cb#access_token=t"));
    }

    #[test]
    fn the_query_carries_every_parameter_given() {
        let p = AuthorizeParams {
            response_type: Some("code".into()),
            client_id: "c".into(),
            redirect_uri: "https://a/cb".into(),
            state: Some("s&t".into()),
            ..Default::default()
        };
        assert_eq!(p.query(), "response_type=code&client_id=c&redirect_uri=https%3A%2F%2Fa%2Fcb&state=s%26t");
    }
}
