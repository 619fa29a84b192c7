//! `POST /oauth2/revoke`: RevokeToken over OAuth (RFC 7009). The client authenticates by Basic
//! header or `client_id` (+ `client_secret`); success is an empty 200, also for a token already
//! revoked.

use super::endpoint::{DomainRequest, DomainResponse};
use crate::error::{Error, Result};
use crate::service::Service;
use crate::user_pool::domains::records::UserPoolDomain;
use serde_json::json;

pub(super) async fn revoke(
    svc: &Service,
    domain: &UserPoolDomain,
    req: &DomainRequest,
) -> Result<DomainResponse> {
    let bad = |d: &str| Ok(DomainResponse::oauth_error(400, "invalid_request", d));
    if req.form.is_none() {
        return bad("The body must be application/x-www-form-urlencoded.");
    }
    let (Ok(token), Ok(body_id), Ok(body_secret)) =
        (req.form_one("token"), req.form_one("client_id"), req.form_one("client_secret"))
    else {
        return bad("token, client_id and client_secret may be given once each.");
    };
    let Some(token) = token.filter(|t| !t.is_empty()) else { return bad("token is required.") };
    let basic = req.authorization.as_deref().and_then(super::token::basic_credentials);
    let (client_id, secret) = match (&basic, body_id) {
        (Some((id, secret)), None) => (id.clone(), Some(secret.clone())),
        (Some((id, secret)), Some(body)) if id == body => (id.clone(), Some(secret.clone())),
        (None, Some(id)) => (id.to_string(), body_secret.map(str::to_string)),
        _ => return Ok(DomainResponse::oauth_error(401, "invalid_client", "The client is not identified.")),
    };
    let invalid_client =
        || Ok(DomainResponse::oauth_error(401, "invalid_client", "Client authentication failed."));
    match svc.client(&client_id).await {
        Ok(c) if c.pool_id == domain.pool_id => {
            if c.secret.is_some() && secret.is_none() {
                return invalid_client();
            }
        }
        Ok(_) | Err(Error::ResourceNotFoundException(_)) => return invalid_client(),
        Err(e) => return Err(e),
    }
    let mut input = json!({"Token": token, "ClientId": client_id});
    if let Some(s) = secret {
        input["ClientSecret"] = json!(s);
    }
    Ok(match crate::user_pool::revoke_token(svc, &input).await {
        Ok(_) => DomainResponse::empty(200),
        Err(Error::UnsupportedTokenTypeException(m)) => {
            DomainResponse::oauth_error(400, "unsupported_token_type", &m)
        }
        Err(Error::UnauthorizedException(m)) => DomainResponse::oauth_error(401, "invalid_client", &m),
        Err(Error::InvalidParameterException(m) | Error::UnsupportedOperationException(m)) => {
            DomainResponse::oauth_error(400, "invalid_request", &m)
        }
        Err(e) => return Err(e),
    })
}
