//! GetSigningCertificate, and the pool's SAML service-provider key pairs: one signs
//! AuthnRequests (its certificate is what GetSigningCertificate answers, for IdPs that want
//! signed requests), one decrypts encrypted assertions (its certificate is a SAML provider's
//! `ActiveEncryptionCertificate`). Made with the pool's first SAML need: RSA 2048, self-signed
//! certificates valid 10 years (as Cognito's), private keys stored sealed by the master key.

use crate::error::{Error, Result};
use crate::input::Input;
use crate::keys;
use crate::service::Service;
use crate::store::{Cond, Item, StoreError, Write};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

pub(crate) const SEAL_PURPOSE: &str = "saml-sp-key";
const VALID_DAYS: i64 = 3650;

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Stored {
    signing_certificate: String,
    /// PKCS#8 PEM, sealed, base64.
    signing_key: String,
    encryption_certificate: String,
    encryption_key: String,
    created: i64,
}

/// A pool's SAML key pairs, opened: certificates and PKCS#8 private keys, PEM.
#[derive(Clone)]
pub struct SpKeys {
    pub signing_certificate: String,
    pub signing_key: String,
    pub encryption_certificate: String,
    pub encryption_key: String,
}

impl std::fmt::Debug for SpKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SpKeys(<redacted>)")
    }
}

/// The pool's key pairs, made on first use (two racing requests: the first write wins and both
/// use its keys).
pub async fn pool_keys(svc: &Service, pool_id: &str) -> Result<SpKeys> {
    let key = keys::saml_sp_keys(pool_id);
    if let Some((stored, _)) = svc.get_json::<Stored>(&key, keys::SAML_SP_KEYS_SK).await? {
        return open(svc, &stored);
    }
    let stored = generate(svc, pool_id)?;
    let item = Item::new(
        key.clone(),
        keys::SAML_SP_KEYS_SK,
        serde_json::to_value(&stored).map_err(Error::internal)?,
    );
    match svc.store.transact(vec![Write::put(item, Cond::NotExists)], svc.now_secs()).await {
        Ok(()) => open(svc, &stored),
        Err(StoreError::ConditionFailed { .. }) => {
            let (stored, _) = svc
                .get_json::<Stored>(&key, keys::SAML_SP_KEYS_SK)
                .await?
                .ok_or_else(|| Error::internal("the pool's SAML keys vanished"))?;
            open(svc, &stored)
        }
        Err(e) => Err(e.into()),
    }
}

fn open(svc: &Service, stored: &Stored) -> Result<SpKeys> {
    let open_key = |sealed: &str| -> Result<String> {
        let bytes = STANDARD.decode(sealed).map_err(Error::internal)?;
        String::from_utf8(svc.cipher.open(SEAL_PURPOSE, &bytes)?).map_err(Error::internal)
    };
    Ok(SpKeys {
        signing_certificate: stored.signing_certificate.clone(),
        signing_key: open_key(&stored.signing_key)?,
        encryption_certificate: stored.encryption_certificate.clone(),
        encryption_key: open_key(&stored.encryption_key)?,
    })
}

fn generate(svc: &Service, pool_id: &str) -> Result<Stored> {
    let now = svc.now_secs();
    let (signing_certificate, signing_key) = key_pair(pool_id, "signing", now)?;
    let (encryption_certificate, encryption_key) = key_pair(pool_id, "encryption", now)?;
    let seal =
        |pem: &str| -> Result<String> { Ok(STANDARD.encode(svc.cipher.seal(SEAL_PURPOSE, pem.as_bytes())?)) };
    Ok(Stored {
        signing_key: seal(&signing_key)?,
        encryption_key: seal(&encryption_key)?,
        signing_certificate,
        encryption_certificate,
        created: svc.clock.now_millis(),
    })
}

/// An RSA 2048 key pair and its self-signed certificate: (certificate PEM, PKCS#8 key PEM).
fn key_pair(pool_id: &str, usage: &str, now: i64) -> Result<(String, String)> {
    let fail = |e: rcgen::Error| Error::internal(format!("cannot make the pool's SAML {usage} key: {e}"));
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256).map_err(fail)?;
    let mut params = rcgen::CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.distinguished_name.push(rcgen::DnType::CommonName, format!("urn:amazon:cognito:sp:{pool_id}"));
    params.distinguished_name.push(rcgen::DnType::OrganizationName, format!("Tessera SAML {usage}"));
    let now = time::OffsetDateTime::from_unix_timestamp(now).map_err(Error::internal)?;
    params.not_before = now - time::Duration::days(1);
    params.not_after = now + time::Duration::days(VALID_DAYS);
    params.key_usages = vec![if usage == "signing" {
        rcgen::KeyUsagePurpose::DigitalSignature
    } else {
        rcgen::KeyUsagePurpose::KeyEncipherment
    }];
    let cert = params.self_signed(&key).map_err(fail)?;
    Ok((cert.pem(), key.serialize_pem()))
}

/// A PEM certificate as Cognito shows certificates: its base64 DER alone, on one line.
pub fn bare(pem: &str) -> String {
    pem.lines().filter(|l| !l.starts_with("-----")).map(str::trim).collect()
}

pub async fn get_signing_certificate(svc: &Service, input: &Value) -> Result<Value> {
    let pool = svc.pool(input.req_str("UserPoolId")?).await?;
    let keys = pool_keys(svc, &pool.id).await?;
    Ok(json!({"Certificate": bare(&keys.signing_certificate)}))
}
