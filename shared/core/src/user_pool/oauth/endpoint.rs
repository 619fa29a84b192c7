//! A request to a pool's auth domain and its answer, as plain data: the wire reads HTTP into a
//! [`DomainRequest`] and writes a [`DomainResponse`] back (headers, cookie attributes,
//! security headers). [`serve`] routes by method and path.

use crate::error::Error;
use crate::service::{CallContext, Service};
use crate::user_pool::domains::records::UserPoolDomain;
use crate::user_pool::hosted;
use serde_json::{json, Value};

/// One request to an auth domain.
#[derive(Debug, Clone, Default)]
pub struct DomainRequest {
    /// `GET`, `POST`, … in upper case.
    pub method: String,
    /// The path below the domain, e.g. `/oauth2/token`.
    pub path: String,
    /// The query's fields, decoded, in order (a name may repeat).
    pub query: Vec<(String, String)>,
    /// The body's fields when it is `application/x-www-form-urlencoded`; None for any other
    /// body (or none).
    pub form: Option<Vec<(String, String)>>,
    /// The `Authorization` header.
    pub authorization: Option<String>,
    /// The request's cookies.
    pub cookies: Vec<(String, String)>,
    /// Where the domain was reached, without a final slash: `https://p.auth.example.com`, or
    /// the local server's path-scoped form `http://localhost:9229/_auth/p`.
    pub base_url: String,
}

impl DomainRequest {
    /// The single value of a query field; None when absent. A repeated field is `Err`.
    pub fn query_one(&self, name: &str) -> Result<Option<&str>, Repeated> {
        one(&self.query, name)
    }

    /// The single value of a form field (see [`Self::query_one`]).
    pub fn form_one(&self, name: &str) -> Result<Option<&str>, Repeated> {
        one(self.form.as_deref().unwrap_or_default(), name)
    }

    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.cookies.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// A field given more than once where OAuth allows one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repeated(pub String);

fn one<'a>(fields: &'a [(String, String)], name: &str) -> Result<Option<&'a str>, Repeated> {
    let mut found = fields.iter().filter(|(k, _)| k == name).map(|(_, v)| v.as_str());
    let first = found.next();
    if found.next().is_some() {
        return Err(Repeated(name.to_string()));
    }
    Ok(first)
}

/// What an answer carries.
#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    Json(Value),
    Html(String),
    Empty,
}

/// A cookie to set (or, with `max_age_secs: Some(0)`, to clear). The wire adds `Path`,
/// `Secure`, `HttpOnly` and `SameSite=Lax`, or `SameSite=None` when `cross_site`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetCookie {
    pub name: String,
    pub value: String,
    pub max_age_secs: Option<i64>,
    /// Sent with cross-site POSTs too: a SAML IdP posts its answer from its own site. Only for a
    /// cookie whose value binds a sign-in to the browser (it proves nothing by itself).
    pub cross_site: bool,
}

/// One answer of an auth domain.
#[derive(Debug, Clone, PartialEq)]
pub struct DomainResponse {
    pub status: u16,
    pub body: Body,
    /// A redirect's target (with status 302).
    pub location: Option<String>,
    /// userInfo's errors are in this header.
    pub www_authenticate: Option<String>,
    pub cookies: Vec<SetCookie>,
}

impl DomainResponse {
    pub fn json(status: u16, body: Value) -> Self {
        DomainResponse {
            status,
            body: Body::Json(body),
            location: None,
            www_authenticate: None,
            cookies: vec![],
        }
    }

    pub fn html(status: u16, page: String) -> Self {
        DomainResponse {
            status,
            body: Body::Html(page),
            location: None,
            www_authenticate: None,
            cookies: vec![],
        }
    }

    pub fn redirect(location: String) -> Self {
        DomainResponse {
            status: 302,
            body: Body::Empty,
            location: Some(location),
            www_authenticate: None,
            cookies: vec![],
        }
    }

    pub fn empty(status: u16) -> Self {
        DomainResponse { status, body: Body::Empty, location: None, www_authenticate: None, cookies: vec![] }
    }

    /// An RFC 6749 error answer: `{"error", "error_description"}`, 400 unless said otherwise.
    pub fn oauth_error(status: u16, error: &str, description: &str) -> Self {
        Self::json(status, json!({"error": error, "error_description": description}))
    }

    pub fn with_cookie(mut self, cookie: SetCookie) -> Self {
        self.cookies.push(cookie);
        self
    }
}

/// Serves one request to `domain`. Errors of the store and the like become a 500 answer in
/// Cognito's form for the endpoint (JSON for the API endpoints, a page for the browser ones),
/// except where a redirect is owed (`/oauth2/authorize` redirects `server_error`).
pub async fn serve(
    svc: &Service,
    ctx: &CallContext,
    domain: &UserPoolDomain,
    req: &DomainRequest,
) -> DomainResponse {
    let path = req.path.as_str();
    let method = req.method.as_str();
    // Each endpoint's future boxed: their states differ a lot in size.
    let answer = match (method, path) {
        ("POST", "/oauth2/token") => Box::pin(super::token::token(svc, ctx, domain, req)).await,
        (_, "/oauth2/token") => Ok(method_not_allowed()),
        ("GET" | "POST", "/oauth2/userInfo" | "/oauth2/userinfo") => {
            Box::pin(super::userinfo::user_info(svc, ctx, domain, req)).await
        }
        ("POST", "/oauth2/revoke") => Box::pin(super::revoke::revoke(svc, domain, req)).await,
        ("GET" | "POST", "/oauth2/idpresponse") => {
            Box::pin(crate::user_pool::federation::oidc::idp_response(svc, ctx, domain, req)).await
        }
        ("POST", "/saml2/idpresponse") => {
            Box::pin(crate::user_pool::federation::saml::idp_response(svc, ctx, domain, req)).await
        }
        ("POST", "/saml2/logout") => {
            Box::pin(crate::user_pool::federation::saml::logout_response(svc, domain, req)).await
        }
        _ => match Box::pin(hosted::route(svc, ctx, domain, req)).await {
            Some(answer) => answer,
            None => Ok(DomainResponse::html(404, hosted::pages::error_page(hosted::text::EN.not_found))),
        },
    };
    answer.unwrap_or_else(|e| internal(&e, path))
}

fn method_not_allowed() -> DomainResponse {
    DomainResponse::oauth_error(405, "invalid_request", "This endpoint takes POST only.")
}

fn internal(e: &Error, path: &str) -> DomainResponse {
    tracing::error!(error = %e.message(), name = e.name(), path, "auth domain request failed");
    if path.starts_with("/oauth2/") && path != "/oauth2/authorize" {
        DomainResponse::oauth_error(500, "server_error", "The server could not answer the request.")
    } else {
        DomainResponse::html(500, hosted::pages::error_page(hosted::text::EN.server_error))
    }
}
