//! A small SRP client for the flow tests (custom auth with SRP_A, device challenges), written
//! from docs/sign-in.md ("USER_SRP_AUTH") with num-bigint. The independent implementations (the aws-cognito-srp
//! crate, amazon-cognito-identity-js) prove the maths; this one drives the flows around them.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use num_bigint::BigUint;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use tessera_core::srp;

pub struct SrpClient {
    a: BigUint,
    pub big_a: BigUint,
}

fn random_bytes(n: usize) -> Vec<u8> {
    (0..n).map(|_| rand::random::<u8>()).collect()
}

/// H(hex bytes).
fn hash_hex(h: &str) -> Vec<u8> {
    Sha256::digest(hex::decode(h).unwrap()).to_vec()
}

fn x_of(pool_name: &str, user_id: &str, password: &str, salt: &BigUint) -> BigUint {
    let inner = Sha256::digest(format!("{pool_name}{user_id}:{password}").as_bytes());
    BigUint::from_bytes_be(&hash_hex(&(srp::pad_hex(salt) + &hex::encode(inner))))
}

impl SrpClient {
    pub fn new() -> SrpClient {
        let a = BigUint::from_bytes_be(&random_bytes(128));
        let big_a = srp::g().modpow(&a, &srp::n());
        SrpClient { a, big_a }
    }

    pub fn srp_a(&self) -> String {
        self.big_a.to_str_radix(16)
    }

    /// PASSWORD_CLAIM_SIGNATURE for a challenge's SALT, SRP_B and SECRET_BLOCK.
    pub fn signature(
        &self,
        pool_name: &str,
        user_id: &str,
        password: &str,
        params: &HashMap<String, String>,
        timestamp: &str,
    ) -> String {
        let n = srp::n();
        let salt = BigUint::parse_bytes(params["SALT"].as_bytes(), 16).unwrap();
        let big_b = BigUint::parse_bytes(params["SRP_B"].as_bytes(), 16).unwrap();
        let block = STANDARD.decode(&params["SECRET_BLOCK"]).unwrap();
        let u = BigUint::from_bytes_be(&hash_hex(&(srp::pad_hex(&self.big_a) + &srp::pad_hex(&big_b))));
        let x = x_of(pool_name, user_id, password, &salt);
        let k = BigUint::from_bytes_be(&hash_hex(&(srp::pad_hex(&n) + &srp::pad_hex(&srp::g()))));
        let kgx = (k * srp::g().modpow(&x, &n)) % &n;
        let s = ((&big_b + &n - kgx) % &n).modpow(&(&self.a + &u * &x), &n);
        let prk = {
            let mut m = Hmac::<Sha256>::new_from_slice(&hex::decode(srp::pad_hex(&u)).unwrap()).unwrap();
            m.update(&hex::decode(srp::pad_hex(&s)).unwrap());
            m.finalize().into_bytes()
        };
        let mut m = Hmac::<Sha256>::new_from_slice(&prk).unwrap();
        m.update(b"Caldera Derived Key\x01");
        let key = m.finalize().into_bytes();
        let mut m = Hmac::<Sha256>::new_from_slice(&key[..16]).unwrap();
        m.update(pool_name.as_bytes());
        m.update(user_id.as_bytes());
        m.update(&block);
        m.update(timestamp.as_bytes());
        STANDARD.encode(m.finalize().into_bytes())
    }
}

/// ConfirmDevice's DeviceSecretVerifierConfig as amazon-cognito-identity-js makes it: a random
/// salt and the verifier over DeviceGroupKey || DeviceKey || ":" || password, each base64 of
/// the bytes of its padHex.
pub fn device_verifier(group_key: &str, device_key: &str, password: &str) -> (String, String) {
    let salt = BigUint::from_bytes_be(&random_bytes(16));
    let x = x_of(group_key, device_key, password, &salt);
    let v = srp::g().modpow(&x, &srp::n());
    let b64 = |n: &BigUint| STANDARD.encode(hex::decode(srp::pad_hex(n)).unwrap());
    (b64(&v), b64(&salt))
}

/// The SDKs' TIMESTAMP, `EEE MMM d HH:mm:ss UTC yyyy`, for `secs` since the epoch.
pub fn timestamp_at(secs: i64) -> String {
    srp::format_timestamp(secs)
}

pub fn timestamp_now() -> String {
    use tessera_core::ports::Clock;
    timestamp_at(tessera_core::ports::SystemClock.now_millis() / 1000)
}

#[test]
fn timestamps_look_like_the_sdks() {
    assert_eq!(timestamp_at(1_567_501_445), "Tue Sep 3 09:04:05 UTC 2019");
    assert_eq!(timestamp_at(0), "Thu Jan 1 00:00:00 UTC 1970");
}

/// RFC 4648 base32 (no padding), as AssociateSoftwareToken's SecretCode.
pub fn base32_decode(s: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = Vec::new();
    let (mut buffer, mut bits) = (0u64, 0u32);
    for c in s.trim_end_matches('=').bytes() {
        let v = ALPHABET.iter().position(|a| *a == c.to_ascii_uppercase()).unwrap() as u64;
        buffer = (buffer << 5) | v;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
        }
    }
    out
}

/// The RFC 6238 code (HMAC-SHA1, 6 digits, 30 s) of a base32 secret at `unix_secs`.
pub fn totp(secret_b32: &str, unix_secs: i64) -> String {
    use aws_lc_rs::hmac;
    let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, &base32_decode(secret_b32));
    let tag = hmac::sign(&key, &((unix_secs / 30) as u64).to_be_bytes());
    let h = tag.as_ref();
    let off = (h[19] & 0x0f) as usize;
    let bin = u32::from_be_bytes([h[off] & 0x7f, h[off + 1], h[off + 2], h[off + 3]]);
    format!("{:06}", bin % 1_000_000)
}

#[test]
fn totp_matches_rfc_6238() {
    // RFC 6238 Appendix B, SHA-1 seed "12345678901234567890" (base32 below), 8 digits there: the
    // last six of 94287082 at T = 59.
    assert_eq!(totp("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ", 59), "287082");
    assert_eq!(totp("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ", 1_111_111_109), "081804");
}
