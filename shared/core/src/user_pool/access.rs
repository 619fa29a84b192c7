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
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;
use std::sync::Arc;
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
    let session = access_session(svc, ctx, token).await?;
    let scopes = session.claims.get("scope").and_then(Value::as_str).unwrap_or_default();
    if !scopes.split(' ').any(|s| s == "aws.cognito.signin.user.admin") {
        return Err(Error::not_authorized("Access Token does not have required scopes"));
    }
    Ok(session)
}

/// Checks an access token as [`authorize_access_token`] does, whatever its scopes (the auth
/// domain's userInfo endpoint decides by scope what it shows).
pub async fn access_session(svc: &Service, ctx: &CallContext, token: &str) -> Result<AccessSession> {
    let invalid = || Error::not_authorized("Invalid Access Token");
    let (pool, claims) = svc.check_access_token(ctx, token).await?;
    if claims.get("token_use").and_then(Value::as_str) != Some("access") {
        return Err(invalid());
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
        .load_user_named(&pool, username)
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
pub async fn token_client(svc: &Service, session: &AccessSession) -> Result<Arc<AppClient>> {
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

/// `Base64(HMAC-SHA256(key = secret, message = username + clientId))`.
pub fn secret_hash(secret: &str, username: &str, client_id: &str) -> String {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        return String::new();
    };
    mac.update(username.as_bytes());
    mac.update(client_id.as_bytes());
    STANDARD.encode(mac.finalize().into_bytes())
}

/// Checks SECRET_HASH when the client has a secret, over any of the accepted usernames.
pub fn check_secret_hash(client: &AppClient, given: Option<&str>, usernames: &[&str]) -> Result<()> {
    let Some(secret) = client.secret.as_deref() else { return Ok(()) };
    let Some(given) = given else {
        return Err(Error::NotAuthorizedException(format!(
            "Client {} is configured for secret but secret was not received",
            client.client_id
        )));
    };
    let ok = usernames.iter().any(|u| {
        let want = secret_hash(secret, u, &client.client_id);
        subtle::ConstantTimeEq::ct_eq(want.as_bytes(), given.as_bytes()).into()
    });
    if ok {
        Ok(())
    } else {
        Err(Error::NotAuthorizedException(format!(
            "Unable to verify secret hash for client {}",
            client.client_id
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn client(secret: Option<&str>) -> AppClient {
        let stored = json!({"pool_id": "us-east-1_x", "client_id": "client1", "client_name": "app",
            "secret": secret, "created": 0, "modified": 0, "settings": {}});
        serde_json::from_value(stored).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn secret_hash_is_cognitos_hmac() {
        // base64(HMAC-SHA256(key = "s3cret", "jane" + "client1")), computed with Python's hmac.
        assert_eq!(secret_hash("s3cret", "jane", "client1"), "SAs0JEfREAN1qiMPnBBN6YbDbEhhfP9/eNCVAjMmsJY=");
    }

    #[test]
    fn a_client_with_a_secret_needs_the_hash_of_an_accepted_name() {
        let with = client(Some("s3cret"));
        let right = secret_hash("s3cret", "jane", "client1");
        assert!(check_secret_hash(&with, Some(&right), &["jane"]).is_ok());
        assert!(check_secret_hash(&with, Some(&right), &["alias@example.com", "jane"]).is_ok());
        let name = |r: Result<()>| r.map_err(|e| e.to_string());
        assert_eq!(
            name(check_secret_hash(&with, Some(&right), &["john"])),
            Err("NotAuthorizedException: Unable to verify secret hash for client client1".to_string())
        );
        assert_eq!(
            name(check_secret_hash(&with, None, &["jane"])),
            Err(
                "NotAuthorizedException: Client client1 is configured for secret but secret was not received"
                    .to_string()
            )
        );
        assert!(check_secret_hash(&client(None), None, &["jane"]).is_ok(), "no secret, nothing to check");
    }
}
