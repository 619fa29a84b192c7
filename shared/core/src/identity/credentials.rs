//! Credentials GetCredentialsForIdentity handed out, remembered so that Sync can verify the
//! SigV4 signatures made with them and tell which identity signed.
//!
//! One item per access key id: the identity pool, the identity, the secret key sealed by the
//! service's cipher (the key is kept outside the store), a SHA-256 of the session token, and a
//! TTL equal to the credentials' expiry. Secrets never appear in logs or errors.

use crate::error::{Error, Result};
use crate::model::keys;
use crate::ports::AwsCredentials;
use crate::store::{Cond, Item, Write};
use crate::Service;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

#[derive(Serialize, Deserialize)]
struct Stored {
    identity_pool_id: String,
    identity_id: String,
    /// Base64 of the sealed secret access key.
    sealed_secret: String,
    /// Hex SHA-256 of the session token.
    session_token_sha256: String,
    expires_at: i64,
}

/// A verified holder of identity credentials, with the secret to check its signature.
pub struct IdentityCredentialHolder {
    pub identity_pool_id: String,
    pub identity_id: String,
    pub secret_key: String,
}

/// Remembers credentials just handed to `identity_id` of `identity_pool_id`.
pub async fn remember(
    svc: &Service,
    identity_pool_id: &str,
    identity_id: &str,
    credentials: &AwsCredentials,
) -> Result<()> {
    let sealed =
        svc.cipher.seal(crate::ports::sealed::IDENTITY_CREDENTIALS, credentials.secret_key.as_bytes())?;
    let stored = Stored {
        identity_pool_id: identity_pool_id.to_string(),
        identity_id: identity_id.to_string(),
        sealed_secret: STANDARD.encode(sealed),
        session_token_sha256: hex::encode(Sha256::digest(credentials.session_token.as_bytes())),
        expires_at: credentials.expiration,
    };
    let mut item = Item::new(
        keys::identity_credentials(&credentials.access_key_id),
        keys::IDENTITY_CREDENTIALS_SK,
        serde_json::to_value(&stored).map_err(Error::internal)?,
    );
    item.expires_at = Some(credentials.expiration);
    svc.store.transact(vec![Write::put(item, Cond::None)], svc.now_secs()).await?;
    Ok(())
}

/// The identity that holds `access_key_id`, when the key is one this service handed out, has
/// not expired, and `session_token` is the one handed out with it. `None` otherwise.
pub async fn holder(
    svc: &Service,
    access_key_id: &str,
    session_token: Option<&str>,
) -> Result<Option<IdentityCredentialHolder>> {
    let Some((stored, _)) = svc
        .get_json::<Stored>(&keys::identity_credentials(access_key_id), keys::IDENTITY_CREDENTIALS_SK)
        .await?
    else {
        return Ok(None);
    };
    if stored.expires_at <= svc.now_secs() {
        return Ok(None);
    }
    let Some(token) = session_token else { return Ok(None) };
    let presented = hex::encode(Sha256::digest(token.as_bytes()));
    if !bool::from(presented.as_bytes().ct_eq(stored.session_token_sha256.as_bytes())) {
        return Ok(None);
    }
    let sealed = STANDARD.decode(&stored.sealed_secret).map_err(Error::internal)?;
    let secret = String::from_utf8(svc.cipher.open(crate::ports::sealed::IDENTITY_CREDENTIALS, &sealed)?)
        .map_err(Error::internal)?;
    Ok(Some(IdentityCredentialHolder {
        identity_pool_id: stored.identity_pool_id,
        identity_id: stored.identity_id,
        secret_key: secret,
    }))
}
