//! Authorization codes (`response_type=code`): issued to an authenticated user at
//! `/oauth2/authorize` (or after the hosted sign-in), exchanged once at `/oauth2/token`.
//!
//! A code is a random UUID (122 bits), stored only as its SHA-256, for 5 minutes. It is bound
//! to the client, the redirect URI (byte for byte), the granted scopes, the user, the time they
//! authenticated, the nonce and the PKCE challenge. The first exchange marks it spent with the
//! session family it begins; presenting it again revokes that family (RFC 6749 §4.1.2). A failed
//! exchange (wrong redirect URI or PKCE verifier) spends it too, so a stolen code gets one guess.

use super::endpoint::{DomainRequest, DomainResponse};
use super::token::{grant_error, oauth_tokens, tokens_answer};
use crate::error::{Error, Result};
use crate::model::{keys, AppClient};
use crate::service::{CallContext, Service};
use crate::store::{Cond, Item, StoreError, Write};
use crate::user_pool::auth::issue::{issue_family, Family, IssuedDevice, OAuthGrant};
use crate::user_pool::auth::sign_in::SignIn;
use crate::user_pool::triggers::token_generation::{Occasion, TokenSource};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// How long a code can be exchanged (Cognito: 5 minutes).
pub const CODE_SECS: i64 = 300;

/// What a code stands for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorizationCode {
    pub pool_id: String,
    pub client_id: String,
    pub redirect_uri: String,
    pub scopes: Vec<String>,
    pub username: String,
    pub sub: String,
    pub auth_time: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    /// PKCE's `code_challenge` (S256, the only method).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_challenge: Option<String>,
    /// Set once the code was presented: the session family its exchange began ("" when the
    /// exchange failed and nothing was issued).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spent: Option<String>,
}

fn code_hash(code: &str) -> String {
    hex::encode(Sha256::digest(code.as_bytes()))
}

/// Stores a new code and returns it.
pub async fn issue(svc: &Service, code: &AuthorizationCode) -> Result<String> {
    let value = svc.rng.uuid().to_string();
    let now = svc.now_secs();
    let mut item = Item::new(
        keys::authorization_code(&code_hash(&value)),
        keys::AUTHORIZATION_CODE_SK,
        serde_json::to_value(code).map_err(Error::internal)?,
    );
    item.expires_at = Some(now + CODE_SECS);
    svc.store.transact(vec![Write::put(item, Cond::NotExists)], now).await?;
    Ok(value)
}

/// RFC 7636 §4.6: `BASE64URL(SHA256(ASCII(code_verifier))) == code_challenge`, for a verifier
/// of 43–128 unreserved characters.
pub fn verifier_matches(verifier: &str, challenge: &str) -> bool {
    let well_formed = (43..=128).contains(&verifier.len())
        && verifier.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'));
    let computed = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    well_formed && subtle::ConstantTimeEq::ct_eq(computed.as_bytes(), challenge.as_bytes()).into()
}

fn error(code: &str, description: &str) -> DomainResponse {
    DomainResponse::oauth_error(400, code, description)
}

/// Marks the code spent (conditional on the version read). False: someone else did first.
async fn spend(
    svc: &Service,
    hash: &str,
    code: &AuthorizationCode,
    version: u64,
    family: &str,
) -> Result<bool> {
    let mut spent = code.clone();
    spent.spent = Some(family.to_string());
    let mut item = Item::new(
        keys::authorization_code(hash),
        keys::AUTHORIZATION_CODE_SK,
        serde_json::to_value(&spent).map_err(Error::internal)?,
    );
    item.version = version + 1;
    // Kept until the code would have expired anyway, so that a replay is recognised.
    item.expires_at = Some(svc.now_secs() + CODE_SECS);
    match svc.store.transact(vec![Write::put(item, Cond::Version(version))], svc.now_secs()).await {
        Ok(()) => Ok(true),
        Err(StoreError::ConditionFailed { .. }) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// `grant_type=authorization_code`.
pub(super) async fn exchange(
    svc: &Service,
    ctx: &CallContext,
    client: &AppClient,
    req: &DomainRequest,
) -> Result<DomainResponse> {
    if !client.settings.allowed_oauth_flows.as_deref().unwrap_or_default().iter().any(|f| f == "code") {
        return Ok(error("unauthorized_client", "The client is not allowed the authorization code grant."));
    }
    let (Ok(code), Ok(redirect_uri), Ok(verifier)) =
        (req.form_one("code"), req.form_one("redirect_uri"), req.form_one("code_verifier"))
    else {
        return Ok(error("invalid_request", "code, redirect_uri and code_verifier may be given once each."));
    };
    let (Some(code), Some(redirect_uri)) = (code, redirect_uri) else {
        return Ok(error("invalid_request", "code and redirect_uri are required."));
    };
    let invalid =
        || Ok(error("invalid_grant", "The authorization code is invalid, expired or already used."));
    let hash = code_hash(code);
    let Some((stored, version)) = svc
        .get_json::<AuthorizationCode>(&keys::authorization_code(&hash), keys::AUTHORIZATION_CODE_SK)
        .await?
    else {
        return invalid();
    };
    if let Some(family) = &stored.spent {
        if !family.is_empty() {
            // A replayed code: whoever holds it, the tokens of its first exchange are revoked.
            let write = Write::delete(keys::origin(family), keys::ORIGIN_SK, Cond::None);
            svc.store.transact(vec![write], svc.now_secs()).await?;
            tracing::warn!(client_id = %client.client_id, "authorization code replayed: its session family is revoked");
        }
        return invalid();
    }
    if stored.client_id != client.client_id || stored.pool_id != client.pool_id {
        return invalid();
    }
    let pkce_ok = match (&stored.code_challenge, verifier) {
        (None, _) => true,
        (Some(_), None) => {
            spend(svc, &hash, &stored, version, "").await?;
            return Ok(error("invalid_request", "code_verifier is required: the code was issued with PKCE."));
        }
        (Some(challenge), Some(v)) => verifier_matches(v, challenge),
    };
    if stored.redirect_uri != redirect_uri || !pkce_ok {
        spend(svc, &hash, &stored, version, "").await?;
        return invalid();
    }
    let family_id = svc.rng.uuid().to_string();
    if !spend(svc, &hash, &stored, version, &family_id).await? {
        return invalid();
    }
    let pool = svc.pool(&client.pool_id).await?;
    let user = match svc.load_user_named(&pool, &stored.username).await? {
        Some((user, _)) if user.sub == stored.sub && user.enabled => user,
        _ => return invalid(),
    };
    let grant = OAuthGrant {
        scopes: stored.scopes.clone(),
        nonce: stored.nonce.clone(),
        family_id: Some(family_id),
        auth_time: Some(stored.auth_time),
    };
    let s = SignIn::starting(svc, ctx, client, pool);
    let occasion = Occasion::without_metadata(TokenSource::HostedAuth);
    match issue_family(&s, &user, Family::New, occasion, IssuedDevice::default(), Some(&grant)).await {
        Ok(result) => Ok(tokens_answer(oauth_tokens(&result))),
        Err(e) => grant_error(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_s256_as_rfc_7636_appendix_b() {
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert!(verifier_matches(verifier, challenge));
        assert!(!verifier_matches(verifier, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cN"));
        assert!(!verifier_matches("short", challenge));
        assert!(!verifier_matches(&format!("{verifier}!"), challenge));
    }
}
