//! Per-pool RSA signing keys, JWT issuing and checking, JWKS.

use crate::error::{Error, Result};
use crate::ports::SecretCipher;
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::signature::KeyPair as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// One RSA key as stored in the pool record: the private half sealed by the master key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredKey {
    pub kid: String,
    /// Base64url modulus and exponent, as the JWKS shows them.
    pub n: String,
    pub e: String,
    /// PKCS#1 DER of the private key, sealed, base64.
    pub sealed_private: String,
}

/// The key pairs of a pool: ID tokens and access tokens are signed with different kids.
///
/// Rotation (`tessera_service::signing_keys`) goes in two steps: new pairs are published as `next`
/// (in the JWKS, signing nothing), and later take over; the pairs they replace move to
/// `retired`, still published and still accepted until the last token they signed has
/// expired.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PoolKeys {
    pub id: StoredKey,
    pub access: StoredKey,
    /// Published ahead of signing; epoch seconds since.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<NextKeys>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub retired: Vec<RetiredKey>,
    /// When `id` and `access` began to sign (epoch seconds; 0 = at the pool's creation).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub since: i64,
    /// Rotate every this many days, by itself (None: on demand only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotation_days: Option<u32>,
    /// What unknown users' stand-in SRP salts derive from; kept across rotations so that they
    /// do not change (a change would tell unknown names from known ones). Absent: the
    /// first `id` key's sealed private half, which is what it was before rotation existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stand_in_seed: Option<String>,
}

fn is_zero(n: &i64) -> bool {
    *n == 0
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NextKeys {
    pub id: StoredKey,
    pub access: StoredKey,
    pub published: i64,
}

/// Which tokens a key signs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyUse {
    Id,
    Access,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetiredKey {
    pub key: StoredKey,
    #[serde(rename = "use")]
    pub key_use: KeyUse,
    /// Published and accepted until then (epoch seconds).
    pub until: i64,
}

impl PoolKeys {
    pub fn generate(cipher: &dyn SecretCipher) -> Result<PoolKeys> {
        Ok(PoolKeys {
            id: generate_key(cipher)?,
            access: generate_key(cipher)?,
            next: None,
            retired: Vec::new(),
            since: 0,
            rotation_days: None,
            stand_in_seed: None,
        })
    }

    /// Every published key: the signing pairs, the next ones, the retired ones still valid.
    pub fn jwks(&self) -> Value {
        let jwk = |k: &StoredKey| json!({"alg": "RS256", "e": k.e, "kid": k.kid, "kty": "RSA", "n": k.n, "use": "sig"});
        let mut keys = vec![jwk(&self.id), jwk(&self.access)];
        if let Some(next) = &self.next {
            keys.extend([jwk(&next.id), jwk(&next.access)]);
        }
        keys.extend(self.retired.iter().map(|r| jwk(&r.key)));
        json!({"keys": keys})
    }

    /// The stand-in seed (see the field).
    pub fn stand_in_seed(&self) -> &str {
        self.stand_in_seed.as_deref().unwrap_or(&self.id.sealed_private)
    }
}

fn generate_key(cipher: &dyn SecretCipher) -> Result<StoredKey> {
    let kp = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).map_err(Error::internal)?;
    let pkcs8 = kp.as_der().map_err(Error::internal)?;
    let pkcs1 =
        pkcs1_from_pkcs8(pkcs8.as_ref()).ok_or_else(|| Error::internal("unexpected PKCS#8 layout"))?;
    let public = kp.public_key();
    let n = public.modulus().big_endian_without_leading_zero().to_vec();
    let e = public.exponent().big_endian_without_leading_zero().to_vec();
    // Stable, base64-looking kid, like Cognito's.
    let kid = STANDARD.encode(Sha256::digest(&n));
    Ok(StoredKey {
        kid,
        n: URL_SAFE_NO_PAD.encode(&n),
        e: URL_SAFE_NO_PAD.encode(&e),
        sealed_private: STANDARD.encode(cipher.seal(crate::ports::sealed::SIGNING_KEY, pkcs1)?),
    })
}

/// Reads one DER TLV at the start of `b`: (tag, content, rest).
fn der_tlv(b: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let tag = *b.first()?;
    let first = *b.get(1)? as usize;
    let (len, hdr) = if first < 0x80 {
        (first, 2)
    } else {
        let n = first & 0x7f;
        let mut len = 0usize;
        for i in 0..n {
            len = (len << 8) | *b.get(2 + i)? as usize;
        }
        (len, 2 + n)
    };
    let content = b.get(hdr..hdr + len)?;
    Some((tag, content, b.get(hdr + len..)?))
}

/// PrivateKeyInfo ::= SEQUENCE { version, algorithm, privateKey OCTET STRING (RSAPrivateKey) }.
fn pkcs1_from_pkcs8(pkcs8: &[u8]) -> Option<&[u8]> {
    let (0x30, seq, _) = der_tlv(pkcs8)? else { return None };
    let (0x02, _, rest) = der_tlv(seq)? else { return None };
    let (0x30, _, rest) = der_tlv(rest)? else { return None };
    let (0x04, key, _) = der_tlv(rest)? else { return None };
    Some(key)
}

/// A key ready to sign, and its verifying half.
pub struct SigningKey {
    pub kid: String,
    /// Parsed once: jsonwebtoken's encoder re-parses and re-validates the RSA key on every
    /// signature (~0.4 ms each), so signing goes straight to aws-lc with the parsed key.
    pair: aws_lc_rs::signature::RsaKeyPair,
    /// `base64url({"alg":"RS256","kid":…})`, the same for every token.
    header_b64: String,
    pub decoding: jsonwebtoken::DecodingKey,
}

impl SigningKey {
    pub fn open(stored: &StoredKey, cipher: &dyn SecretCipher) -> Result<SigningKey> {
        let sealed = STANDARD.decode(&stored.sealed_private).map_err(Error::internal)?;
        let der = cipher.open(crate::ports::sealed::SIGNING_KEY, &sealed)?;
        Ok(SigningKey {
            kid: stored.kid.clone(),
            pair: aws_lc_rs::signature::RsaKeyPair::from_der(&der).map_err(Error::internal)?,
            header_b64: URL_SAFE_NO_PAD.encode(
                serde_json::to_vec(&json!({"alg": "RS256", "kid": stored.kid})).map_err(Error::internal)?,
            ),
            decoding: jsonwebtoken::DecodingKey::from_rsa_components(&stored.n, &stored.e)
                .map_err(Error::internal)?,
        })
    }

    /// A compact JWS with only `kid` and `alg` in its header, as Cognito's.
    pub fn sign(&self, claims: &Value) -> Result<String> {
        let payload = serde_json::to_vec(claims).map_err(Error::internal)?;
        let mut jws = format!("{}.{}", self.header_b64, URL_SAFE_NO_PAD.encode(payload));
        let mut signature = vec![0u8; self.pair.public_modulus_len()];
        self.pair
            .sign(
                &aws_lc_rs::signature::RSA_PKCS1_SHA256,
                &aws_lc_rs::rand::SystemRandom::new(),
                jws.as_bytes(),
                &mut signature,
            )
            .map_err(Error::internal)?;
        jws.push('.');
        jws.push_str(&URL_SAFE_NO_PAD.encode(signature));
        Ok(jws)
    }

    /// Signature, `iss` and expiry checked; returns the claims.
    pub fn verify(&self, token: &str, issuer: &str, now_secs: i64) -> Option<Value> {
        let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
        v.set_issuer(&[issuer]);
        v.validate_aud = false;
        v.validate_exp = false;
        v.required_spec_claims.clear();
        let header = jsonwebtoken::decode_header(token).ok()?;
        if header.kid.as_deref() != Some(self.kid.as_str()) {
            return None;
        }
        let data = jsonwebtoken::decode::<Value>(token, &self.decoding, &v).ok()?;
        let exp = data.claims.get("exp")?.as_i64()?;
        (exp > now_secs).then_some(data.claims)
    }
}

/// How far a token's `iat`/`nbf` may lie ahead of this server's clock: the difference
/// tolerated between nodes' clocks, as for SigV4's `X-Amz-Date`.
pub const MAX_CLOCK_AHEAD_SECS: i64 = 300;

/// Whether a verified token claims to be issued, or valid only from, later than `now_secs`
/// allows. Only the key holder can sign such a token: one minted by a node whose clock ran
/// ahead, which would otherwise outlive its validity here.
pub fn not_yet_valid(claims: &Value, now_secs: i64) -> bool {
    ["iat", "nbf"]
        .into_iter()
        .filter_map(|c| claims.get(c).and_then(Value::as_i64))
        .any(|t| t > now_secs.saturating_add(MAX_CLOCK_AHEAD_SECS))
}

/// The pool a JWT claims to come from, read from its unverified `iss`.
pub fn unverified_pool_id(token: &str) -> Option<String> {
    let payload = token.split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(payload).ok()?;
    let claims: Value = serde_json::from_slice(&bytes).ok()?;
    let iss = claims.get("iss")?.as_str()?;
    iss.rsplit('/').next().map(str::to_string)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::ports::AesGcmCipher;

    #[test]
    fn keys_sign_and_verify_with_distinct_kids() {
        let cipher = AesGcmCipher::new(&[1u8; 32]).unwrap();
        let keys = PoolKeys::generate(&cipher).unwrap();
        assert_ne!(keys.id.kid, keys.access.kid);
        let id = SigningKey::open(&keys.id, &cipher).unwrap();
        let access = SigningKey::open(&keys.access, &cipher).unwrap();
        let claims = json!({"iss": "http://x/us-east-1_a", "exp": 2000, "sub": "s"});
        let t = id.sign(&claims).unwrap();
        let header: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(t.split('.').next().unwrap()).unwrap()).unwrap();
        assert_eq!(header, json!({"alg": "RS256", "kid": keys.id.kid}));
        assert_eq!(id.verify(&t, "http://x/us-east-1_a", 1999).unwrap()["sub"], "s");
        assert!(id.verify(&t, "http://x/us-east-1_a", 2000).is_none(), "expired");
        assert!(id.verify(&t, "http://x/other", 1999).is_none(), "wrong issuer");
        assert!(access.verify(&t, "http://x/us-east-1_a", 1999).is_none(), "wrong key");
        assert_eq!(unverified_pool_id(&t).as_deref(), Some("us-east-1_a"));
        assert_eq!(keys.jwks()["keys"].as_array().unwrap().len(), 2);
    }

    #[test]
    fn tokens_from_the_future_are_not_yet_valid() {
        let now = 1_000_000;
        assert!(!not_yet_valid(&json!({"iat": now, "exp": now + 3600}), now));
        assert!(!not_yet_valid(&json!({"iat": now + MAX_CLOCK_AHEAD_SECS}), now));
        assert!(not_yet_valid(&json!({"iat": now + MAX_CLOCK_AHEAD_SECS + 1}), now));
        assert!(not_yet_valid(&json!({"iat": now, "nbf": now + 600}), now));
        assert!(!not_yet_valid(&json!({}), now));
    }
}
