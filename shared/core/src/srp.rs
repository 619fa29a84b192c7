//! SRP-6a as Cognito and its SDKs do it (spec C §5.2). This issue writes the per-user verifier
//! whenever a password is set; the USER_SRP_AUTH exchange itself builds on these pieces.

use num_bigint::BigUint;
use sha2::{Digest, Sha256};

/// The 3072-bit MODP prime of RFC 3526 / RFC 5054.
const N_HEX: &str = concat!(
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74",
    "020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F1437",
    "4FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED",
    "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF05",
    "98DA48361C55D39A69163FA8FD24CF5F83655D23DCA3AD961C62F356208552BB",
    "9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B",
    "E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF695581718",
    "3995497CEA956AE515D2261898FA051015728E5A8AAAC42DAD33170D04507A33",
    "A85521ABDF1CBA64ECFB850458DBEF0A8AEA71575D060C7DB3970F85A6E1E4C7",
    "ABF5AE8CDB0933D71E8C94E04A25619DCEE3D2261AD2EE6BF12FFA06D98A0864",
    "D87602733EC86A64521F2B18177B200CBBE117577A615D6C770988C0BAD946E2",
    "08E24FA074E5AB3143DB5BFCE0FD108E4B82D120A93AD2CAFFFFFFFFFFFFFFFF"
);

pub fn n() -> BigUint {
    BigUint::parse_bytes(N_HEX.as_bytes(), 16).unwrap_or_default()
}

pub fn g() -> BigUint {
    BigUint::from(2u32)
}

/// The SDKs' padHex: even length, and a leading `00` when the first nibble is ≥ 8.
pub fn pad_hex(x: &BigUint) -> String {
    let mut s = x.to_str_radix(16);
    if s.len() % 2 == 1 {
        s.insert(0, '0');
    } else if s.as_bytes().first().is_some_and(|c| b"89abcdef".contains(c)) {
        s.insert_str(0, "00");
    }
    s
}

fn hash_hex(hex_str: &str) -> [u8; 32] {
    let bytes = hex::decode(hex_str).unwrap_or_default();
    Sha256::digest(bytes).into()
}

/// x = H(padHex(salt) || H(poolName || userIdForSrp || ":" || password)).
pub fn private_key_x(pool_suffix: &str, user_id_for_srp: &str, password: &str, salt: &BigUint) -> BigUint {
    let inner = Sha256::digest(format!("{pool_suffix}{user_id_for_srp}:{password}").as_bytes());
    let mut hex_str = pad_hex(salt);
    hex_str.push_str(&hex::encode(inner));
    BigUint::from_bytes_be(&hash_hex(&hex_str))
}

/// The verifier v = g^x mod N, and its salt, for a password. The salt is 16 random bytes.
pub fn verifier(
    pool_suffix: &str,
    user_id_for_srp: &str,
    password: &str,
    salt_bytes: &[u8],
) -> (BigUint, BigUint) {
    let salt = BigUint::from_bytes_be(salt_bytes);
    let x = private_key_x(pool_suffix, user_id_for_srp, password, &salt);
    (salt.clone(), g().modpow(&x, &n()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pad_hex_follows_the_sdk() {
        assert_eq!(pad_hex(&BigUint::from(0x1u32)), "01");
        assert_eq!(pad_hex(&BigUint::from(0x7fu32)), "7f");
        assert_eq!(pad_hex(&BigUint::from(0x80u32)), "0080");
        assert_eq!(pad_hex(&BigUint::from(0x123u32)), "0123");
        assert!(n().bits() == 3072);
    }

    #[test]
    fn verifier_depends_on_every_input() {
        let salt = [9u8; 16];
        let (_, v) = verifier("Abc", "user", "pw", &salt);
        assert_ne!(v, verifier("Abd", "user", "pw", &salt).1);
        assert_ne!(v, verifier("Abc", "usex", "pw", &salt).1);
        assert_ne!(v, verifier("Abc", "user", "px", &salt).1);
        assert_ne!(v, verifier("Abc", "user", "pw", &[8u8; 16]).1);
        assert!(v < n());
    }
}
