//! `GET`/`POST /oauth2/userInfo` (spec A §2.3): the signed-in user's attributes for a Bearer
//! access token of this pool, filtered by the client's read permissions and the token's scopes.
//! Errors are in `WWW-Authenticate`, as Cognito's.

use super::endpoint::{DomainRequest, DomainResponse};
use crate::error::{Error, Result};
use crate::service::{CallContext, Service};
use crate::user_pool::access::{access_session, token_client};
use crate::user_pool::domains::records::UserPoolDomain;
use serde_json::{json, Map, Value};

const INVALID_TOKEN: &str =
    "Access token is expired, disabled, or deleted, or the user has globally signed out.";

fn invalid_request() -> DomainResponse {
    let mut r =
        DomainResponse::oauth_error(400, "invalid_request", "Bad OAuth2 request at UserInfo Endpoint");
    r.www_authenticate = Some(
        r#"error="invalid_request", error_description="Bad OAuth2 request at UserInfo Endpoint""#.into(),
    );
    r
}

fn invalid_token() -> DomainResponse {
    let mut r = DomainResponse::oauth_error(401, "invalid_token", INVALID_TOKEN);
    r.www_authenticate = Some(format!(r#"error="invalid_token", error_description="{INVALID_TOKEN}""#));
    r
}

/// The token: `Authorization: Bearer …`, or (POST) the form's `access_token` (RFC 6750 §2.2).
fn bearer(req: &DomainRequest) -> Option<String> {
    if let Some(h) = req.authorization.as_deref() {
        let (scheme, token) = h.trim().split_once(' ')?;
        return scheme.eq_ignore_ascii_case("bearer").then(|| token.trim().to_string());
    }
    req.form_one("access_token").ok().flatten().map(str::to_string)
}

/// Which attributes a scope shows: `email` and `phone` their two each, `profile` the rest;
/// the API scope (`aws.cognito.signin.user.admin`) all of them.
fn shown_by(scopes: &[&str], attribute: &str) -> bool {
    if scopes.contains(&"aws.cognito.signin.user.admin") {
        return true;
    }
    match attribute {
        "email" | "email_verified" => scopes.contains(&"email"),
        "phone_number" | "phone_number_verified" => scopes.contains(&"phone"),
        _ => scopes.contains(&"profile"),
    }
}

pub(super) async fn user_info(
    svc: &Service,
    ctx: &CallContext,
    domain: &UserPoolDomain,
    req: &DomainRequest,
) -> Result<DomainResponse> {
    let Some(token) = bearer(req).filter(|t| !t.is_empty()) else { return Ok(invalid_request()) };
    let session = match access_session(svc, ctx, &token).await {
        Ok(s) if s.pool.id == domain.pool_id => s,
        Ok(_) => return Ok(invalid_token()),
        Err(Error::NotAuthorizedException(_) | Error::UserNotFoundException(_)) => return Ok(invalid_token()),
        Err(e) => return Err(e),
    };
    let scope_claim = session.claims.get("scope").and_then(Value::as_str).unwrap_or_default().to_string();
    let scopes: Vec<&str> = scope_claim.split(' ').collect();
    if !scopes.iter().any(|s| matches!(*s, "openid" | "aws.cognito.signin.user.admin")) {
        return Ok(invalid_token());
    }
    let client = match token_client(svc, &session).await {
        Ok(c) => c,
        Err(Error::NotAuthorizedException(_)) => return Ok(invalid_token()),
        Err(e) => return Err(e),
    };
    let mut out = Map::new();
    for (name, value) in &session.user.attributes {
        if name != "sub" && shown_by(&scopes, name) && crate::attribute_rules::can_read(&client, name) {
            // Cognito's userInfo gives every value as a string, email_verified too ("true").
            out.insert(name.clone(), json!(value));
        }
    }
    out.insert("sub".into(), json!(session.user.sub));
    out.insert("username".into(), json!(session.user.username));
    Ok(DomainResponse::json(200, Value::Object(out)))
}
