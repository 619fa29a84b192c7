//! Checking the `Logins` map of the public identity operations (docs/identity-pools.md, "Tokens and credentials"): every token must
//! be valid for a provider the identity pool trusts, or the whole call fails.
//!
//! Supported: Tessera user pools (the key is the ID token's `iss` without its scheme, as Amplify
//! builds it, and must be one of the pool's CognitoIdentityProviders) and, in
//! GetCredentialsForIdentity, the identity service's own token from
//! GetOpenIdTokenForDeveloperIdentity. Public providers, OpenID Connect and SAML providers can
//! be configured but their tokens are refused with a clear error: this version cannot verify
//! them.

use super::pool::{oidc_provider_name, CognitoIdentityProvider, IdentityPool};
use super::tokens::{verify_open_id_token, DEVELOPER_PROVIDER_CLAIM};
use crate::error::{Error, Result};
use crate::model::{keys, UserPool};
use crate::service::Service;
use crate::CallContext;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{Map, Value};

/// The Logins key of the developer flow's token, as AWS SDKs send it.
const AWS_IDENTITY_TOKEN_KEY: &str = "cognito-identity.amazonaws.com";

/// A login whose token checked out: who the provider says the user is.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct VerifiedLogin {
    /// The provider name: the Logins key (the developer provider name for developer users).
    pub provider: String,
    /// The provider's id for the user: a user pool's `sub`, a developer user identifier.
    pub user_id: String,
    /// The RoleMappings key of this login: `{ProviderName}:{ClientId}` for user pools.
    pub mapping_key: String,
    /// The token's verified claims, for role rules.
    pub claims: Value,
}

/// Whether a Logins key names the identity service's own tokens: AWS's name, or this
/// deployment's identity issuer without its scheme.
pub(super) fn is_identity_token_key(ctx: &CallContext, key: &str) -> bool {
    key == AWS_IDENTITY_TOKEN_KEY || key == without_scheme(&ctx.identity_issuer())
}

fn without_scheme(url: &str) -> &str {
    url.strip_prefix("https://").or_else(|| url.strip_prefix("http://")).unwrap_or(url)
}

fn invalid_token(why: &str) -> Error {
    Error::not_authorized(format!("Invalid login token. {why}"))
}

fn unsupported_provider() -> Error {
    Error::not_authorized("Token is not from a supported provider of this identity pool.")
}

/// Checks every login of a public operation. The developer provider is never accepted here:
/// its users are vouched for only by a signed GetOpenIdTokenForDeveloperIdentity.
pub(super) async fn verify_public_logins(
    svc: &Service,
    ctx: &CallContext,
    pool: &IdentityPool,
    logins: &Map<String, Value>,
) -> Result<Vec<VerifiedLogin>> {
    let mut out = Vec::with_capacity(logins.len());
    for (key, token) in logins {
        let token = token.as_str().filter(|t| !t.is_empty()).ok_or_else(|| invalid_token("Empty token."))?;
        if is_identity_token_key(ctx, key) {
            return Err(Error::not_authorized(format!(
                "Logins of {key} (tokens of GetOpenIdTokenForDeveloperIdentity) are only accepted by GetCredentialsForIdentity."
            )));
        }
        if pool.developer_provider_name.as_deref() == Some(key.as_str()) {
            return Err(Error::not_authorized(format!(
                "Logins of the developer provider {key} are only accepted from GetOpenIdTokenForDeveloperIdentity."
            )));
        }
        out.push(verify_login(svc, pool, key, token).await?);
    }
    Ok(out)
}

/// One public-provider login.
async fn verify_login(svc: &Service, pool: &IdentityPool, key: &str, token: &str) -> Result<VerifiedLogin> {
    let entries: Vec<&CognitoIdentityProvider> =
        pool.cognito_identity_providers.iter().filter(|p| p.provider_name == key).collect();
    if !entries.is_empty() {
        return verify_user_pool_token(svc, &entries, key, token).await;
    }
    let other_kind = if pool.supported_login_providers.contains_key(key) {
        Some("public login provider")
    } else if pool.open_id_connect_provider_arns.iter().any(|arn| oidc_provider_name(arn) == Some(key)) {
        Some("OpenID Connect provider")
    } else if pool.saml_provider_arns.iter().any(|arn| arn == key) {
        Some("SAML provider")
    } else {
        None
    };
    match other_kind {
        Some(kind) => Err(Error::invalid(format!(
            "Logins of {key} ({kind}) are not supported by this version of Tessera, which verifies tokens of \
             Tessera user pools and developer-authenticated identities only."
        ))),
        None => Err(unsupported_provider()),
    }
}

/// A JWT's payload, unverified (only to find who should verify it).
fn unverified_claims(token: &str) -> Option<Value> {
    let mut parts = token.split('.');
    let (_, payload, _, None) = (parts.next()?, parts.next()?, parts.next()?, parts.next()) else {
        return None;
    };
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()
}

/// A Tessera user pool's ID token: issuer = the Logins key, signed by that user pool's ID-token
/// key, not expired, `aud` one of the app clients the identity pool names for it, and with
/// ServerSideTokenCheck, a user who still exists, is enabled and has not signed out since.
async fn verify_user_pool_token(
    svc: &Service,
    entries: &[&CognitoIdentityProvider],
    key: &str,
    token: &str,
) -> Result<VerifiedLogin> {
    let unverified = unverified_claims(token)
        .ok_or_else(|| invalid_token("Not a valid OpenId Connect identity token."))?;
    let iss = unverified
        .get("iss")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid_token("Missing a required claim: iss"))?;
    if iss == without_scheme(iss) || without_scheme(iss) != key {
        return Err(invalid_token("Issuer doesn't match providerName"));
    }
    let user_pool_id = key.rsplit('/').next().unwrap_or_default();
    let cannot_verify = || invalid_token("Couldn't verify signed token.");
    let user_pool = svc.pool(user_pool_id).await.map_err(|_| cannot_verify())?;
    let signing = svc.open_keys(&user_pool)?;
    // Signature and issuer first; expiry below, so that the message can say why.
    let now = svc.now_secs();
    let claims = match signing.verify(crate::tokens::KeyUse::Id, token, iss, now) {
        Some(claims) => claims,
        // An access token: signed by the pool, but it has no audience.
        None if signing.verify(crate::tokens::KeyUse::Access, token, iss, now).is_some() => {
            return Err(invalid_token("Missing a required claim: aud"))
        }
        None => return Err(cannot_verify()),
    };
    if claims.get("token_use").and_then(Value::as_str) != Some("id") {
        return Err(invalid_token("Not an ID token."));
    }
    let now = svc.now_secs();
    let exp = claims.get("exp").and_then(Value::as_i64).unwrap_or(i64::MIN);
    if now >= exp {
        return Err(invalid_token(&format!("Token expired: {now} >= {exp}")));
    }
    // Issued ahead of this clock by more than the skew between nodes: as the user-pool API.
    if crate::tokens::not_yet_valid(&claims, now) {
        return Err(cannot_verify());
    }
    let aud = claims
        .get("aud")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid_token("Missing a required claim: aud"))?;
    let entry = entries.iter().find(|e| e.client_id == aud).ok_or_else(unsupported_provider)?;
    let sub = claims
        .get("sub")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid_token("Missing a required claim: sub"))?;
    if entry.server_side_token_check {
        check_session(svc, &user_pool, &claims, sub).await?;
    }
    Ok(VerifiedLogin {
        provider: key.to_string(),
        user_id: sub.to_string(),
        mapping_key: format!("{key}:{aud}"),
        claims: claims.clone(),
    })
}

/// ServerSideTokenCheck: the token's user still exists (the same user, by `sub`), is enabled,
/// and its sign-in session was neither revoked nor ended by a global sign-out.
async fn check_session(svc: &Service, pool: &UserPool, claims: &Value, sub: &str) -> Result<()> {
    let username = claims.get("cognito:username").and_then(Value::as_str).unwrap_or_default();
    let user = svc
        .load_user_named(pool, username)
        .await?
        .map(|(u, _)| u)
        .filter(|u| u.sub == sub)
        .ok_or_else(|| invalid_token("User does not exist."))?;
    if !user.enabled {
        return Err(invalid_token("User is disabled."));
    }
    let revoked = || invalid_token("Token has been revoked.");
    let origin_jti = claims.get("origin_jti").and_then(Value::as_str).ok_or_else(revoked)?;
    let (origin, _) = svc
        .get_json::<crate::user_pool::auth::refresh_family::Origin>(
            &keys::origin(origin_jti),
            keys::ORIGIN_SK,
        )
        .await?
        .ok_or_else(revoked)?;
    if origin.created_ms <= user.signed_out_at_ms || origin.sub != user.sub {
        return Err(revoked());
    }
    Ok(())
}

/// The developer flow's token (GetOpenIdTokenForDeveloperIdentity): this service's own token,
/// for this identity pool, naming the pool's developer provider. Answers its claims.
pub(super) async fn verify_identity_token(
    svc: &Service,
    ctx: &CallContext,
    pool: &IdentityPool,
    token: &str,
) -> Result<Value> {
    // Only developer-authenticated identities log in with the identity service's own token.
    let Some(developer) = pool.developer_provider_name.as_deref() else {
        return Err(unsupported_provider());
    };
    let unverified = unverified_claims(token)
        .ok_or_else(|| invalid_token("Not a valid OpenId Connect identity token."))?;
    let claims = verify_open_id_token(svc, ctx, token).await?.ok_or_else(|| {
        match unverified.get("exp").and_then(Value::as_i64) {
            Some(exp) if exp <= svc.now_secs() => {
                invalid_token(&format!("Token expired: {} >= {exp}", svc.now_secs()))
            }
            _ => invalid_token("Couldn't verify signed token."),
        }
    })?;
    if claims.get("aud").and_then(Value::as_str) != Some(pool.identity_pool_id.as_str()) {
        return Err(invalid_token("Incorrect token audience."));
    }
    // A GetOpenIdToken token is signed by the same key, but vouches for no login: only a token
    // GetOpenIdTokenForDeveloperIdentity made for this pool's developer provider counts.
    if claims.get(DEVELOPER_PROVIDER_CLAIM).and_then(Value::as_str) != Some(developer) {
        return Err(unsupported_provider());
    }
    Ok(claims)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn identity_token_keys() {
        let ctx = CallContext::new("http://127.0.0.1:9229");
        assert!(is_identity_token_key(&ctx, "cognito-identity.amazonaws.com"));
        assert!(is_identity_token_key(&ctx, "127.0.0.1:9229/cognito-identity"));
        assert!(!is_identity_token_key(&ctx, "127.0.0.1:9229/us-east-1_abc"));
    }

    #[test]
    fn unverified_claims_need_three_parts() {
        let payload = URL_SAFE_NO_PAD.encode(br#"{"iss":"x"}"#);
        assert_eq!(unverified_claims(&format!("h.{payload}.s")).unwrap()["iss"], "x");
        assert!(unverified_claims(&format!("h.{payload}")).is_none());
        assert!(unverified_claims(&format!("h.{payload}.s.t")).is_none());
        assert!(unverified_claims("not a token").is_none());
    }
}
