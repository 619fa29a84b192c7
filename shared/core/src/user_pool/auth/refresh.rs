//! GetTokensFromRefreshToken and InitiateAuth's REFRESH_TOKEN_AUTH: new tokens from a refresh
//! token, and the app client's refresh-token rotation.
//!
//! A refresh token is `{origin_jti}.{secret}`; its session family (an [`Origin`] item keyed by
//! `origin_jti`) keeps only hashes. With rotation on (`RefreshTokenRotation.Feature=ENABLED`),
//! every refresh returns a new refresh token and the presented one stays valid only for
//! `RetryGracePeriodSeconds` (0–60, default 0) so that a client can retry a lost answer. A token
//! presented after it was rotated out is reuse: the whole family (its refresh tokens and the access
//! tokens it issued) is revoked and the caller gets RefreshTokenReuseException. Rotation never
//! extends a family: it ends `RefreshTokenValidity` after the sign-in, as Cognito's does.

use super::issue::{issue_family, Family, IssuedDevice};
use super::parameters::AuthParameters;
use super::refresh_family::{load_family, revoke_for_reuse, same, Presented};
use super::sign_in::SignIn;
use crate::error::{Error, Result};
use crate::input::Input;
use crate::service::{CallContext, Service};
use crate::user_pool::access::check_secret_hash;
use crate::user_pool::triggers::token_generation::{Occasion, TokenSource};
use serde_json::Value;

/// How the caller proved it is the app client.
pub(crate) enum ClientProof<'a> {
    /// InitiateAuth's `SECRET_HASH` (needs the user to check), and the `USERNAME` it was made for.
    SecretHash { given: Option<&'a str>, username: Option<&'a str> },
    /// GetTokensFromRefreshToken's `ClientSecret`, already compared.
    Checked,
}

pub(crate) struct RefreshRequest<'a> {
    pub token: &'a str,
    pub proof: ClientProof<'a>,
    pub device_key: Option<&'a str>,
    pub metadata: &'a Value,
}

/// New tokens from a refresh token, for both operations; rotates when the client says so.
pub(crate) async fn refresh(s: &SignIn<'_>, request: RefreshRequest<'_>) -> Result<Value> {
    let (svc, pool, client) = (s.svc, &*s.pool, s.client);
    let invalid = || Error::not_authorized("Invalid Refresh Token");
    let (origin_jti, origin, _, presented) = load_family(svc, request.token).await?.ok_or_else(invalid)?;
    if origin.client_id != client.client_id || origin.pool_id != pool.id {
        return Err(invalid());
    }
    match presented {
        Presented::Spent => return Err(revoke_for_reuse(svc, &origin_jti).await),
        Presented::Unknown => return Err(invalid()),
        Presented::Current | Presented::Live(_) => {}
    }
    // A device-bound session refreshes only from its own device.
    if let (Some(given), Some(bound)) = (request.device_key, origin.device_key.as_deref()) {
        if !same(given, bound) {
            return Err(invalid());
        }
    }
    // By the exact username: an alias equal to it names someone else.
    let revoked = || Error::not_authorized("Refresh Token has been revoked");
    let (user, _) = svc
        .load_user_named(pool, &origin.username)
        .await?
        .filter(|(u, _)| u.sub == origin.sub)
        .ok_or_else(revoked)?;
    if let ClientProof::SecretHash { given, username } = request.proof {
        let mut names = vec![user.username.as_str(), user.sub.as_str()];
        // SDKs compute the hash from the name the user signed in with (an alias, say): accepted
        // only when that name leads to the token's own user, so another user's SECRET_HASH (one
        // an app backend computed for its own account) does not unlock a stolen refresh token.
        if let Some(u) = username.filter(|u| !names.contains(u)) {
            if svc.find_user(pool, u).await?.is_some_and(|(found, _)| found.sub == user.sub) {
                names.push(u);
            }
        }
        check_secret_hash(client, given, &names)?;
    }
    if !user.enabled {
        return Err(Error::not_authorized("User is disabled."));
    }
    if origin.created_ms <= user.signed_out_at_ms {
        return Err(revoked());
    }
    let occasion = Occasion::new(TokenSource::RefreshTokens, request.metadata);
    let device = IssuedDevice { key: origin.device_key.clone(), new_metadata: None };
    let family = match client.refresh_rotation() {
        Some(grace_secs) => {
            Family::Rotate { origin_jti: &origin_jti, origin: &origin, token: request.token, grace_secs }
        }
        None => Family::Refresh { origin_jti: &origin_jti, origin: &origin },
    };
    issue_family(s, &user, family, occasion, device, None).await
}

/// REFRESH_TOKEN_AUTH (InitiateAuth, AdminInitiateAuth). Refused on a client with rotation,
/// whose tokens must be exchanged with GetTokensFromRefreshToken.
pub(crate) async fn refresh_token_auth(s: &SignIn<'_>, params: &AuthParameters) -> Result<Value> {
    if s.client.refresh_rotation().is_some() {
        return Err(Error::invalid(
            "REFRESH_TOKEN_AUTH flow not enabled for this client: it rotates refresh tokens; use GetTokensFromRefreshToken.",
        ));
    }
    let request = RefreshRequest {
        token: params.refresh_token()?,
        proof: ClientProof::SecretHash {
            given: params.secret_hash.as_deref(),
            username: params.username.as_deref(),
        },
        device_key: params.device_key.as_deref(),
        metadata: &Value::Null,
    };
    refresh(s, request).await
}

pub async fn get_tokens_from_refresh_token(svc: &Service, ctx: &CallContext, input: &Value) -> Result<Value> {
    let token = input.req_str("RefreshToken")?;
    let client = svc.client(input.req_str("ClientId")?).await?;
    // The client secret first: without it, nothing about the token is revealed.
    if let Some(secret) = client.secret.as_deref() {
        let Some(given) = input.str_of("ClientSecret") else {
            return Err(Error::NotAuthorizedException(format!(
                "Client {} is configured for secret but secret was not received",
                client.client_id
            )));
        };
        if !same(secret, given) {
            return Err(Error::NotAuthorizedException(format!(
                "Unable to verify client secret for client {}",
                client.client_id
            )));
        }
    }
    // Without rotation this is the same exchange as REFRESH_TOKEN_AUTH, and needs its flow.
    if client.refresh_rotation().is_none() && !client.allows_flow("ALLOW_REFRESH_TOKEN_AUTH") {
        return Err(Error::invalid("REFRESH_TOKEN_AUTH flow not enabled for this client"));
    }
    let pool = svc.pool(&client.pool_id).await?;
    let empty = Value::Null;
    let request = RefreshRequest {
        token,
        proof: ClientProof::Checked,
        device_key: input.str_of("DeviceKey"),
        metadata: input.get("ClientMetadata").unwrap_or(&empty),
    };
    let result = refresh(&SignIn::starting(svc, ctx, &client, pool), request).await?;
    // GetTokensFromRefreshTokenResponse has only AuthenticationResult.
    Ok(
        serde_json::json!({ "AuthenticationResult": result.get("AuthenticationResult").cloned().unwrap_or(Value::Null) }),
    )
}

/// `grant_type=refresh_token` at the auth domain's token endpoint: the client already
/// authenticated (its secret, if it has one, was checked there).
pub(crate) async fn refresh_at_token_endpoint(
    svc: &Service,
    ctx: &CallContext,
    client: &crate::model::AppClient,
    token: &str,
) -> Result<Value> {
    let pool = svc.pool(&client.pool_id).await?;
    let request =
        RefreshRequest { token, proof: ClientProof::Checked, device_key: None, metadata: &Value::Null };
    refresh(&SignIn::starting(svc, ctx, client, pool), request).await
}
