//! A pool's auth domain over HTTP: which requests are for one, their query, form, cookies and
//! credentials read into the domain's [`DomainRequest`], and its [`DomainResponse`] written
//! back with Cognito's headers (JSON or HTML, redirects, cookies, no caching, no framing).
//!
//! A domain is reached by host (`p.auth.localhost:9229` for prefix `p`, a custom domain by its
//! own name) on the auth domain's paths, or on any host by path: `/_auth/{domain}/…`, for the
//! HTTP clients that cannot resolve `*.localhost`.

use crate::http::{host_name, Frontend, WireRequest, WireResponse};
use tessera_core::user_pool::domains::records;
use tessera_core::user_pool::oauth::endpoint::{self, Body, DomainRequest, DomainResponse};

/// The path-scoped form's first segment.
pub const PATH_PREFIX: &str = "/_auth/";

/// Paths a domain serves (besides `/oauth2/*` and `/saml2/*`).
const PAGES: &[&str] = &[
    "/login",
    "/logout",
    "/signup",
    "/confirm",
    "/forgotPassword",
    "/confirmForgotPassword",
    "/resetPassword",
    "/mfa",
    "/mfaSetup",
    "/selectMfa",
    "/newPassword",
    "/error",
];

fn is_domain_path(path: &str) -> bool {
    path.starts_with("/oauth2/") || path.starts_with("/saml2/") || PAGES.contains(&path)
}

/// Which domain a request is for: (domain name, the base URL it was reached at, the path
/// below the domain, the cookies' path).
pub struct Target {
    pub domain: String,
    pub base_url: String,
    pub path: String,
    pub cookie_path: String,
}

impl Frontend {
    fn request_host<'a>(&self, req: &'a WireRequest) -> &'a str {
        req.header("x-tessera-original-host")
            .or_else(|| req.header("x-forwarded-host"))
            .or_else(|| req.header("host"))
            .unwrap_or("")
    }

    fn request_scheme(&self, req: &WireRequest) -> &'static str {
        let configured = self.issuer_base.as_deref().unwrap_or("https://");
        match req.header("x-forwarded-proto") {
            Some(p) if p.eq_ignore_ascii_case("http") => "http",
            Some(_) => "https",
            None if configured.starts_with("http://") => "http",
            None => "https",
        }
    }

    /// The auth domain a request is for, if any.
    pub fn auth_domain_target(&self, req: &WireRequest) -> Option<Target> {
        let host = self.request_host(req);
        let scheme = self.request_scheme(req);
        if let Some(rest) = req.path.strip_prefix(PATH_PREFIX) {
            let (domain, path) = match rest.split_once('/') {
                Some((d, p)) => (d, format!("/{p}")),
                None => (rest, "/".to_string()),
            };
            if domain.is_empty() {
                return None;
            }
            let base = format!("{PATH_PREFIX}{domain}");
            return Some(Target {
                domain: domain.to_ascii_lowercase(),
                base_url: format!("{scheme}://{host}{base}"),
                path,
                cookie_path: base,
            });
        }
        if !is_domain_path(&req.path) {
            return None;
        }
        let name = host_name(host)?;
        let domain = records::domain_of_host(&self.service, &name)?;
        Some(Target {
            domain,
            base_url: format!("{scheme}://{host}"),
            path: req.path.clone(),
            cookie_path: "/".into(),
        })
    }

    /// Serves a request to an auth domain (what the deployed auth domain functions serve):
    /// anything else answers a 404 page.
    pub async fn handle_auth_domain(&self, req: &WireRequest) -> WireResponse {
        let mut resp = match self.auth_domain_target(req) {
            Some(target) => Box::pin(self.serve_auth_domain(req, target)).await,
            None => {
                let page = tessera_core::user_pool::hosted::pages::error_page(
                    tessera_core::user_pool::hosted::text::EN.not_found,
                );
                write(DomainResponse::html(404, page), "/")
            }
        };
        resp.headers.push(("x-amzn-RequestId".into(), self.service.rng.uuid().to_string()));
        resp
    }

    /// Serves a request [`Self::auth_domain_target`] found a domain for.
    pub async fn serve_auth_domain(&self, req: &WireRequest, target: Target) -> WireResponse {
        let origin = req.header("origin").filter(|_| is_fetched_endpoint(&target.path));
        if req.method.eq_ignore_ascii_case("OPTIONS") {
            let mut resp = WireResponse { status: 204, headers: vec![], body: vec![] };
            if let Some(origin) = origin {
                allow_origin(&mut resp, origin);
                resp.headers.push(("Access-Control-Allow-Methods".into(), "GET, POST, OPTIONS".into()));
                // Whatever headers the app sends (Amplify adds x-amz-user-agent): no credentials
                // ride on them, and the endpoint reads only its own.
                let asked = req
                    .header("access-control-request-headers")
                    .filter(|h| h.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_, ".contains(&b)));
                let allowed = asked.unwrap_or("authorization, content-type").to_string();
                resp.headers.push(("Access-Control-Allow-Headers".into(), allowed));
                resp.headers.push(("Access-Control-Max-Age".into(), "600".into()));
            }
            return resp;
        }
        let mut resp = self.serve_domain_request(req, target).await;
        if let Some(origin) = origin {
            allow_origin(&mut resp, origin);
        }
        resp
    }

    async fn serve_domain_request(&self, req: &WireRequest, target: Target) -> WireResponse {
        let domain = match records::resolve(&self.service, &target.domain).await {
            Ok(d) => d,
            Err(tessera_core::Error::ResourceNotFoundException(_)) => {
                let page = tessera_core::user_pool::hosted::pages::error_page(
                    tessera_core::user_pool::hosted::text::EN.not_found,
                );
                return write(DomainResponse::html(404, page), &target.cookie_path);
            }
            Err(e) => {
                tracing::error!(error = %e.message(), "auth domain lookup failed");
                let page = tessera_core::user_pool::hosted::pages::error_page(
                    tessera_core::user_pool::hosted::text::EN.server_error,
                );
                return write(DomainResponse::html(500, page), &target.cookie_path);
            }
        };
        let is_form = req
            .header("content-type")
            .is_some_and(|t| t.trim().to_ascii_lowercase().starts_with("application/x-www-form-urlencoded"));
        let request = DomainRequest {
            method: req.method.to_ascii_uppercase(),
            path: target.path,
            query: fields(req.query.as_bytes()),
            form: is_form.then(|| fields(&req.body)),
            authorization: req.header("authorization").map(str::to_string),
            cookies: cookies(req),
            base_url: target.base_url,
        };
        let ctx = self.context(req);
        write(endpoint::serve(&self.service, &ctx, &domain, &request).await, &target.cookie_path)
    }
}

/// The endpoints browser apps call with `fetch` (Amplify's code exchange and sign-out, SPA OIDC
/// libraries): readable from any origin, as Cognito's are. Never with credentials: they take no
/// cookies, only a code with its PKCE verifier, a token or a client secret. The pages get no
/// CORS headers at all.
fn is_fetched_endpoint(path: &str) -> bool {
    matches!(path, "/oauth2/token" | "/oauth2/revoke" | "/oauth2/userInfo" | "/oauth2/userinfo")
}

fn allow_origin(resp: &mut WireResponse, origin: &str) {
    resp.headers.push(("Access-Control-Allow-Origin".into(), origin.to_string()));
    resp.headers.push(("Vary".into(), "Origin".into()));
}

fn fields(encoded: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(encoded).map(|(k, v)| (k.into_owned(), v.into_owned())).collect()
}

fn cookies(req: &WireRequest) -> Vec<(String, String)> {
    req.headers
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case("cookie"))
        .flat_map(|(_, v)| v.split(';'))
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().trim_matches('"').to_string()))
        .collect()
}

/// The HTTP form of an answer.
fn write(answer: DomainResponse, cookie_path: &str) -> WireResponse {
    let mut headers: Vec<(String, String)> = vec![
        ("Cache-Control".into(), "no-cache, no-store, max-age=0, must-revalidate".into()),
        ("Pragma".into(), "no-cache".into()),
        ("X-Content-Type-Options".into(), "nosniff".into()),
        ("X-Frame-Options".into(), "DENY".into()),
        ("Referrer-Policy".into(), "no-referrer".into()),
    ];
    let body = match answer.body {
        Body::Json(v) => {
            headers.push(("Content-Type".into(), "application/json;charset=UTF-8".into()));
            serde_json::to_vec(&v).unwrap_or_default()
        }
        Body::Html(page) => {
            headers.push(("Content-Type".into(), "text/html;charset=UTF-8".into()));
            // Pages have no scripts; styles and the logo are inline.
            headers.push((
                "Content-Security-Policy".into(),
                "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'; base-uri 'none'"
                    .into(),
            ));
            page.into_bytes()
        }
        Body::Empty => vec![],
    };
    if let Some(location) = answer.location {
        headers.push(("Location".into(), location));
    }
    if let Some(challenge) = answer.www_authenticate {
        headers.push(("WWW-Authenticate".into(), challenge));
    }
    for c in answer.cookies {
        let max_age = c.max_age_secs.map(|s| format!("; Max-Age={s}")).unwrap_or_default();
        let same_site = if c.cross_site { "None" } else { "Lax" };
        headers.push((
            "Set-Cookie".into(),
            format!(
                "{}={}{max_age}; Path={cookie_path}; Secure; HttpOnly; SameSite={same_site}",
                c.name, c.value
            ),
        ));
    }
    WireResponse { status: answer.status, headers, body }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domain_paths() {
        assert!(is_domain_path("/oauth2/token"));
        assert!(is_domain_path("/login"));
        assert!(!is_domain_path("/"));
        assert!(!is_domain_path("/us-east-1_abc/.well-known/jwks.json"));
    }

    #[test]
    fn cookies_are_read_from_every_header() {
        let req = WireRequest {
            headers: vec![("Cookie".into(), "a=1; b=\"2\"".into()), ("cookie".into(), "c=3".into())],
            ..Default::default()
        };
        assert_eq!(
            cookies(&req),
            [("a".into(), "1".into()), ("b".into(), "2".into()), ("c".into(), "3".into())]
        );
    }

    #[test]
    fn answers_are_never_cached_or_framed() {
        let mut answer = DomainResponse::redirect("https://app.example.com/cb?code=x".into());
        answer.cookies.push(endpoint::SetCookie {
            name: "cognito".into(),
            value: "v".into(),
            max_age_secs: Some(3600),
            cross_site: false,
        });
        let w = write(answer, "/_auth/p");
        assert_eq!(w.status, 302);
        assert_eq!(w.header("location"), Some("https://app.example.com/cb?code=x"));
        assert_eq!(w.header("x-frame-options"), Some("DENY"));
        assert_eq!(
            w.header("set-cookie"),
            Some("cognito=v; Max-Age=3600; Path=/_auth/p; Secure; HttpOnly; SameSite=Lax")
        );
    }
}
