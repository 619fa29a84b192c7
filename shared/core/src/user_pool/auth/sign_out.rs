//! GlobalSignOut, AdminUserGlobalSignOut and RevokeToken: ending a user's sessions, or one
//! session family.

use super::refresh_family::{load_family, split_refresh_token};
use crate::error::{Error, Result};
use crate::input::Input;
use crate::model::{keys, User, UserPool};
use crate::service::{CallContext, Service};
use crate::store::{Cond, StoreError, Write};
use crate::user_pool::access::authorize_access_token;
use serde_json::{json, Value};

pub async fn global_sign_out(svc: &Service, ctx: &CallContext, input: &Value) -> Result<Value> {
    let session = authorize_access_token(svc, ctx, input.req_str("AccessToken")?).await?;
    sign_out(svc, &session.pool, session.user, session.version).await
}

pub async fn admin_user_global_sign_out(svc: &Service, input: &Value) -> Result<Value> {
    let pool = svc.pool(input.req_str("UserPoolId")?).await?;
    let (user, version) = svc.require_user(&pool, input.req_str("Username")?).await?;
    sign_out(svc, &pool, user, version).await
}

async fn sign_out(svc: &Service, pool: &UserPool, mut user: User, version: u64) -> Result<Value> {
    user.signed_out_at_ms = svc.clock.now_millis();
    svc.save_user(pool, &user, version, vec![]).await?;
    Ok(json!({}))
}

pub async fn revoke_token(svc: &Service, input: &Value) -> Result<Value> {
    let token = input.req_str("Token")?;
    let client = svc.client(input.req_str("ClientId")?).await?;
    if let Some(secret) = client.secret.as_deref() {
        let given = input.str_of("ClientSecret").unwrap_or_default();
        let ok: bool = subtle::ConstantTimeEq::ct_eq(secret.as_bytes(), given.as_bytes()).into();
        if !ok {
            return Err(Error::UnauthorizedException("Client authentication failed.".into()));
        }
    }
    if token.split('.').count() == 3 {
        return Err(Error::UnsupportedTokenTypeException("Unsupported token type".into()));
    }
    if split_refresh_token(token).is_none() {
        return Err(Error::invalid("Invalid token"));
    }
    // Any live token of the family (one in rotation's grace period too) revokes it.
    let Some((origin_jti, origin, version, _)) =
        load_family(svc, token).await?.filter(|(_, _, _, presented)| presented.is_live())
    else {
        // Already revoked, expired, rotated out or never issued: revoking it again is not an
        // error (RFC 7009).
        return Ok(json!({}));
    };
    if origin.client_id != client.client_id {
        return Err(Error::UnauthorizedException("The refresh token was not issued to this client.".into()));
    }
    if client.settings.enable_token_revocation == Some(false) {
        return Err(Error::UnsupportedOperationException(
            "Token revocation is not enabled for this client.".into(),
        ));
    }
    match svc
        .store
        .transact(
            vec![Write::delete(keys::origin(&origin_jti), keys::ORIGIN_SK, Cond::Version(version))],
            svc.now_secs(),
        )
        .await
    {
        Ok(()) | Err(StoreError::ConditionFailed { .. }) => Ok(json!({})),
        Err(e) => Err(e.into()),
    }
}
