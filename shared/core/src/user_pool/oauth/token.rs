//! `POST /oauth2/token` (spec A §2.2): the grants `authorization_code`, `refresh_token` and
//! `client_credentials`, client authentication by Basic header or by body secret, and RFC 6749
//! error answers (400, `{"error", "error_description"}`).

use super::codes;
use super::endpoint::{DomainRequest, DomainResponse};
use super::scopes::{self, GrantKind};
use crate::error::{Error, Result};
use crate::model::AppClient;
use crate::service::{CallContext, Service};
use crate::user_pool::domains::records::UserPoolDomain;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::{json, Value};
use std::sync::Arc;

fn error(code: &str, description: &str) -> DomainResponse {
    DomainResponse::oauth_error(400, code, description)
}

/// A client secret compared in constant time.
fn same_secret(expected: &str, given: &str) -> bool {
    subtle::ConstantTimeEq::ct_eq(expected.as_bytes(), given.as_bytes()).into()
}

/// `Authorization: Basic base64(urlencode(id):urlencode(secret))` (RFC 6749 §2.3.1).
pub(super) fn basic_credentials(header: &str) -> Option<(String, String)> {
    let (scheme, value) = header.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(STANDARD.decode(value.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    let unescape =
        |s: &str| form_urlencoded::parse(format!("v={s}").as_bytes()).next().map(|(_, v)| v.into_owned());
    Some((unescape(id)?, unescape(secret)?))
}

/// The client a token request authenticates as, or the `invalid_client` (or `invalid_request`)
/// answer. A client with a secret must present it (Basic, or `client_secret` in the body); a
/// client without one must not claim one.
pub(super) async fn authenticate_client(
    svc: &Service,
    domain: &UserPoolDomain,
    req: &DomainRequest,
) -> Result<std::result::Result<Arc<AppClient>, DomainResponse>> {
    let invalid_client = |why: &str| Ok(Err(error("invalid_client", why)));
    let (Ok(body_id), Ok(body_secret)) = (req.form_one("client_id"), req.form_one("client_secret")) else {
        return Ok(Err(error("invalid_request", "client_id and client_secret may be given once each.")));
    };
    let basic = match req.authorization.as_deref() {
        Some(h) if h.trim_start().to_ascii_lowercase().starts_with("basic") => match basic_credentials(h) {
            Some(pair) => Some(pair),
            None => return invalid_client("The Authorization header is not valid Basic authentication."),
        },
        _ => None,
    };
    let (client_id, secret) = match (&basic, body_id) {
        (Some((id, _)), Some(body)) if id != body => {
            return invalid_client("client_id differs from the client the Authorization header names.");
        }
        (Some((id, secret)), _) => {
            if body_secret.is_some() {
                return Ok(Err(error("invalid_request", "Authenticate the client one way only.")));
            }
            (id.as_str(), Some(secret.as_str()))
        }
        (None, Some(id)) => (id, body_secret),
        (None, None) => {
            return invalid_client("The client is not identified: send client_id or Basic authentication.")
        }
    };
    let client = match svc.client(client_id).await {
        Ok(c) if c.pool_id == domain.pool_id => c,
        Ok(_) | Err(Error::ResourceNotFoundException(_)) => return invalid_client("Unknown client."),
        Err(e) => return Err(e),
    };
    match (client.secret.as_deref(), secret) {
        (Some(expected), Some(given)) if same_secret(expected, given) => {}
        (Some(_), Some(_)) => return invalid_client("Client authentication failed."),
        (Some(_), None) => return invalid_client("The client has a secret: authenticate with it."),
        (None, Some(_)) => return invalid_client("The client has no secret."),
        (None, None) => {}
    }
    if client.settings.allowed_oauth_flows_user_pool_client != Some(true) {
        return Ok(Err(error("unauthorized_client", "The client is not enabled for OAuth 2.0 flows.")));
    }
    Ok(Ok(client))
}

fn allows(client: &AppClient, flow: &str) -> bool {
    client.settings.allowed_oauth_flows.as_deref().unwrap_or_default().iter().any(|f| f == flow)
}

pub(super) async fn token(
    svc: &Service,
    ctx: &CallContext,
    domain: &UserPoolDomain,
    req: &DomainRequest,
) -> Result<DomainResponse> {
    if req.form.is_none() {
        return Ok(error("invalid_request", "The body must be application/x-www-form-urlencoded."));
    }
    let grant_type = match req.form_one("grant_type") {
        Ok(Some(g)) => g,
        Ok(None) => return Ok(error("invalid_request", "grant_type is required.")),
        Err(_) => return Ok(error("invalid_request", "grant_type may be given once.")),
    };
    if !matches!(grant_type, "authorization_code" | "refresh_token" | "client_credentials") {
        return Ok(error(
            "unsupported_grant_type",
            "grant_type must be authorization_code, refresh_token or client_credentials.",
        ));
    }
    let client = match authenticate_client(svc, domain, req).await? {
        Ok(c) => c,
        Err(answer) => return Ok(answer),
    };
    let answer = match grant_type {
        "client_credentials" => client_credentials(svc, ctx, &client, req).await?,
        "refresh_token" => refresh_token(svc, ctx, &client, req).await?,
        _ => codes::exchange(svc, ctx, &client, req).await?,
    };
    Ok(answer)
}

async fn client_credentials(
    svc: &Service,
    ctx: &CallContext,
    client: &AppClient,
    req: &DomainRequest,
) -> Result<DomainResponse> {
    if !allows(client, "client_credentials") || client.secret.is_none() {
        return Ok(error("unauthorized_client", "The client is not allowed the client_credentials grant."));
    }
    let Ok(requested) = req.form_one("scope") else {
        return Ok(error("invalid_request", "scope may be given once."));
    };
    let granted = match scopes::grant(svc, client, requested, GrantKind::ClientCredentials).await? {
        Ok(g) => g,
        Err(invalid) => return Ok(error("invalid_scope", &invalid.0)),
    };
    let pool = svc.pool(&client.pool_id).await?;
    crate::tessera_service::signing_keys::rotate_if_due(svc, &pool).await;
    let keys = svc.open_keys(&pool)?;
    let scope = granted.join(" ");
    let now_ms = svc.clock.now_millis();
    let now = now_ms.div_euclid(1000);
    // The same client, scopes, key and issuer within the reuse window: the same token.
    let reuse_key = format!("{}\n{}\n{}\n{}", client.client_id, keys.access.kid, ctx.issuer(&pool.id), scope);
    let window = svc.config.client_credentials_reuse_ms;
    if window > 0 {
        let cached = svc.machine_tokens.lock().ok().and_then(|c| c.get(&reuse_key).cloned());
        if let Some(t) =
            cached.filter(|t| now_ms - t.issued_ms < window && now_ms >= t.issued_ms && t.exp > now)
        {
            return Ok(tokens_answer(
                json!({"access_token": t.token, "expires_in": t.exp - now, "token_type": "Bearer"}),
            ));
        }
    }
    let expires_in = client.settings.validity_secs(crate::model::TokenKind::Access);
    let claims = json!({
        "sub": client.client_id,
        "token_use": "access",
        "scope": scope,
        "auth_time": now,
        "iss": ctx.issuer(&pool.id),
        "exp": now + expires_in,
        "iat": now,
        "version": 2,
        "jti": svc.rng.uuid().to_string(),
        "client_id": client.client_id,
    });
    let access_token = keys.access.sign(&claims)?;
    if window > 0 {
        if let Ok(mut cache) = svc.machine_tokens.lock() {
            if cache.len() >= 10_000 {
                cache.retain(|_, t| now_ms - t.issued_ms < window);
            }
            let kept =
                super::MachineToken { token: access_token.clone(), issued_ms: now_ms, exp: now + expires_in };
            cache.insert(reuse_key, kept);
        }
    }
    Ok(tokens_answer(json!({"access_token": access_token, "expires_in": expires_in, "token_type": "Bearer"})))
}

/// A successful token answer: JSON, never cached.
pub(super) fn tokens_answer(body: Value) -> DomainResponse {
    DomainResponse::json(200, body)
}

/// The OAuth form of an `AuthenticationResult`.
pub(super) fn oauth_tokens(result: &Value) -> Value {
    let r = &result["AuthenticationResult"];
    let mut out = json!({
        "access_token": r["AccessToken"],
        "expires_in": r["ExpiresIn"],
        "token_type": "Bearer",
    });
    if let Some(id) = r.get("IdToken").filter(|v| !v.is_null()) {
        out["id_token"] = id.clone();
    }
    if let Some(refresh) = r.get("RefreshToken").filter(|v| !v.is_null()) {
        out["refresh_token"] = refresh.clone();
    }
    out
}

/// What a grant's failure in the domain means to an OAuth client.
pub(super) fn grant_error(e: Error) -> Result<DomainResponse> {
    match e {
        Error::NotAuthorizedException(m)
        | Error::RefreshTokenReuseException(m)
        | Error::UserNotFoundException(m)
        | Error::UserNotConfirmedException(m)
        | Error::PasswordResetRequiredException(m) => Ok(error("invalid_grant", &m)),
        Error::InternalErrorException(_) => Err(e),
        other => Ok(error("invalid_request", other.message())),
    }
}

async fn refresh_token(
    svc: &Service,
    ctx: &CallContext,
    client: &AppClient,
    req: &DomainRequest,
) -> Result<DomainResponse> {
    let token = match req.form_one("refresh_token") {
        Ok(Some(t)) if !t.is_empty() => t,
        Ok(_) => return Ok(error("invalid_request", "refresh_token is required.")),
        Err(_) => return Ok(error("invalid_request", "refresh_token may be given once.")),
    };
    if client.refresh_rotation().is_none() && !client.allows_flow("ALLOW_REFRESH_TOKEN_AUTH") {
        return Ok(error("unauthorized_client", "The client is not allowed to refresh tokens."));
    }
    match crate::user_pool::auth::refresh::refresh_at_token_endpoint(svc, ctx, client, token).await {
        Ok(result) => Ok(tokens_answer(oauth_tokens(&result))),
        Err(e) => grant_error(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_are_decoded_and_unescaped() {
        let header = format!("Basic {}", STANDARD.encode("client:s%2Fecret"));
        assert_eq!(basic_credentials(&header), Some(("client".into(), "s/ecret".into())));
        assert_eq!(basic_credentials("Basic !!"), None);
        assert_eq!(basic_credentials(&format!("Basic {}", STANDARD.encode("no-colon"))), None);
        assert_eq!(basic_credentials("Bearer abc"), None);
    }
}
