//! Access tokens as callers present them: checked (signature, expiry, revocation, the user's
//! state) into the session an operation acts for.

use crate::error::{Error, Result};
use crate::model::keys;
use crate::model::AppClient;
use crate::model::User;
use crate::model::UserPool;
use crate::user_pool::auth::refresh_family::Origin;
use crate::CallContext;
use crate::Service;
use serde_json::Value;
/// A verified access token's user and session.
pub struct AccessSession {
    pub pool: std::sync::Arc<UserPool>,
    pub user: User,
    pub version: u64,
    pub claims: std::sync::Arc<Value>,
    pub origin_jti: String,
}

/// Checks an access token as the pool's own operations must: signature, issuer, expiry,
/// `token_use`, scope, not revoked, user present and enabled.
pub async fn authorize_access_token(svc: &Service, ctx: &CallContext, token: &str) -> Result<AccessSession> {
    let invalid = || Error::not_authorized("Invalid Access Token");
    let (pool, claims) = svc.check_access_token(ctx, token).await?;
    if claims.get("token_use").and_then(Value::as_str) != Some("access") {
        return Err(invalid());
    }
    let scopes = claims.get("scope").and_then(Value::as_str).unwrap_or_default();
    if !scopes.split(' ').any(|s| s == "aws.cognito.signin.user.admin") {
        return Err(Error::not_authorized("Access Token does not have required scopes"));
    }
    // The tokens of a deleted app client end with it.
    let client_id = claims.get("client_id").and_then(Value::as_str).ok_or_else(invalid)?;
    match svc.pool_client(&pool.id, client_id).await {
        Ok(_) => {}
        Err(Error::ResourceNotFoundException(_)) => return Err(invalid()),
        Err(e) => return Err(e),
    }
    let origin_jti = claims.get("origin_jti").and_then(Value::as_str).ok_or_else(invalid)?.to_string();
    let revoked = || Error::not_authorized("Access Token has been revoked");
    let (origin, _) =
        svc.get_json::<Origin>(&keys::origin(&origin_jti), keys::ORIGIN_SK).await?.ok_or_else(revoked)?;
    let username = claims.get("username").and_then(Value::as_str).ok_or_else(invalid)?;
    let (user, version) = svc
        .get_json::<User>(&keys::user(&pool.id, &pool.username_key(username)), keys::USER_SK)
        .await?
        .ok_or_else(|| Error::UserNotFoundException("User does not exist.".into()))?;
    let sub = claims.get("sub").and_then(Value::as_str);
    if origin.created_ms <= user.signed_out_at_ms
        || origin.username != user.username
        || origin.sub != user.sub
        || sub != Some(user.sub.as_str())
    {
        return Err(revoked());
    }
    if !user.enabled {
        return Err(Error::not_authorized("User is disabled."));
    }
    Ok(AccessSession { pool, user, version, claims, origin_jti })
}

/// The app client an access token was issued to.
pub async fn token_client(svc: &Service, session: &AccessSession) -> Result<AppClient> {
    let id = session.claims.get("client_id").and_then(Value::as_str).unwrap_or_default();
    match svc.pool_client(&session.pool.id, id).await {
        Err(Error::ResourceNotFoundException(_)) => Err(Error::not_authorized("Invalid Access Token")),
        other => other,
    }
}

/// The app client an access token was issued to.
pub(crate) fn session_client_id(claims: &Value) -> Option<String> {
    claims.get("client_id").and_then(Value::as_str).map(str::to_string)
}
