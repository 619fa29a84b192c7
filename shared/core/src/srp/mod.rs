//! SRP-6a as Cognito and its SDKs do it (docs/sign-in.md, "USER_SRP_AUTH"): the per-user (and per-device) verifier,
//! the server's ephemeral B, and the check of the client's PASSWORD_CLAIM_SIGNATURE.
//!
//! The server ephemeral `b` is 256 bits (enough for a 128-bit security level in a 3072-bit
//! group, and a quarter of the exponentiation cost of a full-length one). The three
//! exponentiations of a sign-in run in aws-lc (see [`modexp`]).

mod modexp;

use hmac::{Hmac, Mac};
use num_bigint::BigUint;
use sha2::{Digest, Sha256};
use std::sync::OnceLock;

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
    static N: OnceLock<BigUint> = OnceLock::new();
    N.get_or_init(|| BigUint::parse_bytes(N_HEX.as_bytes(), 16).unwrap_or_default()).clone()
}

fn n_bytes() -> &'static [u8] {
    static N: OnceLock<Vec<u8>> = OnceLock::new();
    N.get_or_init(|| n().to_bytes_be())
}

/// k = H(padHex(N) || padHex(g)).
pub fn k() -> &'static BigUint {
    static K: OnceLock<BigUint> = OnceLock::new();
    K.get_or_init(|| {
        let mut hex_str = pad_hex(&n());
        hex_str.push_str(&pad_hex(&g()));
        BigUint::from_bytes_be(&hash_hex(&hex_str))
    })
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

/// `base^exp mod N`. `base` is reduced first.
fn pow_mod_n(base: &BigUint, exp: &BigUint) -> Option<BigUint> {
    let base = base % n();
    modexp::mod_exp(&base.to_bytes_be(), &exp.to_bytes_be(), n_bytes()).map(|b| BigUint::from_bytes_be(&b))
}

/// The group's size in bytes.
pub const GROUP_BYTES: usize = modexp::LEN;

/// Bytes of the server's secret ephemeral `b`.
pub const EPHEMERAL_BYTES: usize = 32;

/// The server's public ephemeral B = (k·v + g^b) mod N, for a verifier and a secret `b`.
pub fn server_public(v: &BigUint, b: &[u8]) -> Option<BigUint> {
    let g_b = pow_mod_n(&g(), &BigUint::from_bytes_be(b))?;
    let big_b = (k() * v + g_b) % n();
    (big_b != BigUint::default()).then_some(big_b)
}

/// Whether a client's A is acceptable: A mod N must not be 0.
pub fn valid_client_public(a: &BigUint) -> bool {
    a % n() != BigUint::default()
}

/// What a PASSWORD_VERIFIER (or DEVICE_PASSWORD_VERIFIER) answer is checked against.
pub struct Claim<'a> {
    /// The pool-id suffix (or, for a device, its DeviceGroupKey).
    pub pool_name: &'a str,
    /// USER_ID_FOR_SRP (or, for a device, its DeviceKey).
    pub user_id: &'a str,
    pub verifier: &'a BigUint,
    pub client_public: &'a BigUint,
    pub server_secret: &'a [u8],
    pub server_public: &'a BigUint,
    /// The SECRET_BLOCK bytes the challenge carried.
    pub secret_block: &'a [u8],
    pub timestamp: &'a str,
    /// PASSWORD_CLAIM_SIGNATURE, base64.
    pub signature: &'a str,
}

/// Whether the client proved knowledge of the password: recomputes S = (A·v^u)^b mod N, the
/// key K = HKDF(S, u, "Caldera Derived Key")[..16], and compares HMAC(K, poolName || userId ||
/// secretBlock || timestamp) with the signature in constant time.
pub fn claim_is_valid(claim: &Claim<'_>) -> bool {
    use base64::Engine;
    let Ok(signature) = base64::engine::general_purpose::STANDARD.decode(claim.signature.trim()) else {
        return false;
    };
    if !valid_client_public(claim.client_public) {
        return false;
    }
    let u = scrambler(claim.client_public, claim.server_public);
    if u == BigUint::default() {
        return false;
    }
    let Some(v_u) = pow_mod_n(claim.verifier, &u) else { return false };
    let base = (claim.client_public * v_u) % n();
    let Some(s) = pow_mod_n(&base, &BigUint::from_bytes_be(claim.server_secret)) else { return false };
    let key = derive_key(&s, &u);
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&key) else { return false };
    mac.update(claim.pool_name.as_bytes());
    mac.update(claim.user_id.as_bytes());
    mac.update(claim.secret_block);
    mac.update(claim.timestamp.as_bytes());
    mac.verify_slice(&signature).is_ok()
}

/// u = H(padHex(A) || padHex(B)).
pub fn scrambler(client_public: &BigUint, server_public: &BigUint) -> BigUint {
    let mut u_hex = pad_hex(client_public);
    u_hex.push_str(&pad_hex(server_public));
    BigUint::from_bytes_be(&hash_hex(&u_hex))
}

/// HKDF-SHA256 with ikm = padHex(S) bytes, salt = padHex(u) bytes, info = "Caldera Derived Key",
/// first 16 bytes (one expand block).
pub fn derive_key(s: &BigUint, u: &BigUint) -> [u8; 16] {
    let ikm = hex::decode(pad_hex(s)).unwrap_or_default();
    let salt = hex::decode(pad_hex(u)).unwrap_or_default();
    let mut key = [0u8; 16];
    let Ok(mut extract) = Hmac::<Sha256>::new_from_slice(&salt) else { return key };
    extract.update(&ikm);
    let prk = extract.finalize().into_bytes();
    let Ok(mut expand) = Hmac::<Sha256>::new_from_slice(&prk) else { return key };
    expand.update(b"Caldera Derived Key\x01");
    key.copy_from_slice(&expand.finalize().into_bytes()[..16]);
    key
}

/// Parses the SDKs' TIMESTAMP, `EEE MMM d HH:mm:ss UTC yyyy` (day not zero-padded; a padded day
/// is accepted too), into epoch seconds.
pub fn parse_timestamp(s: &str) -> Option<i64> {
    const MONTHS: [&str; 12] =
        ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    let parts: Vec<&str> = s.split(' ').filter(|p| !p.is_empty()).collect();
    let [dow, month, day, time, zone, year] = parts.as_slice() else { return None };
    if !DAYS.contains(dow) || *zone != "UTC" {
        return None;
    }
    let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit() || b == b':');
    if ![*day, *time, *year].iter().all(|t| digits(t)) {
        return None;
    }
    let month = MONTHS.iter().position(|m| m == month)? as i64 + 1;
    let day: i64 = day.parse().ok().filter(|d| (1..=31).contains(d))?;
    let year: i64 = year.parse().ok().filter(|y| (1970..=9999).contains(y))?;
    let hms: Vec<i64> = time.split(':').map(|p| p.parse().ok()).collect::<Option<Vec<_>>>()?;
    let [h, m, sec] = hms.as_slice() else { return None };
    if *h > 23 || *m > 59 || *sec > 60 {
        return None;
    }
    Some(days_from_civil(year, month, day) * 86400 + h * 3600 + m * 60 + sec)
}

/// The SDKs' TIMESTAMP for epoch seconds, `EEE MMM d HH:mm:ss UTC yyyy` with an unpadded day
/// (what clients sign; the server only parses, so the tools and tests share this one).
pub fn format_timestamp(secs: i64) -> String {
    const MONTHS: [&str; 12] =
        ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    let days = secs.div_euclid(86400);
    let rem = secs.rem_euclid(86400);
    // Civil from days (Howard Hinnant's algorithm, the inverse of `days_from_civil`).
    let z = days + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{} {} {} {:02}:{:02}:{:02} UTC {}",
        DAYS[days.rem_euclid(7) as usize],
        MONTHS[((m - 1).clamp(0, 11)) as usize],
        d,
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        y
    )
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
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
    let v = pow_mod_n(&g(), &x).unwrap_or_else(|| g().modpow(&x, &n()));
    (salt, v)
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

    /// The client's side, written from the spec with num-bigint only.
    #[allow(clippy::too_many_arguments)]
    fn client_signature(
        pool: &str,
        user: &str,
        pw: &str,
        salt: &BigUint,
        a: &BigUint,
        big_b: &BigUint,
        block: &[u8],
        ts: &str,
    ) -> String {
        use base64::Engine;
        let big_a = g().modpow(a, &n());
        let u = scrambler(&big_a, big_b);
        let x = private_key_x(pool, user, pw, salt);
        let g_x = g().modpow(&x, &n());
        let kgx = (k() * g_x) % n();
        let base = (big_b + n() - kgx) % n();
        let s = base.modpow(&(a + &u * &x), &n());
        let key = derive_key(&s, &u);
        let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
        mac.update(pool.as_bytes());
        mac.update(user.as_bytes());
        mac.update(block);
        mac.update(ts.as_bytes());
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    }

    #[test]
    fn a_client_that_knows_the_password_proves_it() {
        let salt_bytes = [7u8; 16];
        let (salt, v) = verifier("Example", "jane", "Correct-Horse-9", &salt_bytes);
        let a = BigUint::from_bytes_be(&[0x5a; 128]);
        let big_a = g().modpow(&a, &n());
        let b = [0x33u8; EPHEMERAL_BYTES];
        let big_b = server_public(&v, &b).unwrap();
        assert_eq!(big_b, (k() * &v + g().modpow(&BigUint::from_bytes_be(&b), &n())) % n());
        let ts = "Tue Sep 3 09:04:05 UTC 2019";
        let block = b"opaque block";
        let claim = |signature: &str, user: &str| {
            claim_is_valid(&Claim {
                pool_name: "Example",
                user_id: user,
                verifier: &v,
                client_public: &big_a,
                server_secret: &b,
                server_public: &big_b,
                secret_block: block,
                timestamp: ts,
                signature,
            })
        };
        let good = client_signature("Example", "jane", "Correct-Horse-9", &salt, &a, &big_b, block, ts);
        assert!(claim(&good, "jane"));
        assert!(!claim(&good, "john"), "the user id is signed");
        let wrong = client_signature("Example", "jane", "Correct-Horse-8", &salt, &a, &big_b, block, ts);
        assert!(!claim(&wrong, "jane"));
        assert!(!claim("not base64!", "jane"));
        assert!(!valid_client_public(&n()));
        assert!(!valid_client_public(&BigUint::default()));
    }

    #[test]
    fn timestamps_parse_as_the_sdks_write_them() {
        assert_eq!(parse_timestamp("Thu Jan 1 00:00:00 UTC 1970"), Some(0));
        assert_eq!(parse_timestamp("Tue Sep 3 09:04:05 UTC 2019"), Some(1_567_501_445));
        assert_eq!(parse_timestamp("Tue Sep 03 09:04:05 UTC 2019"), Some(1_567_501_445));
        assert_eq!(parse_timestamp("Thu Nov 26 16:20:00 UTC 2026"), Some(1_795_710_000));
        assert_eq!(parse_timestamp("Tue Sep 3 09:04:05 GMT 2019"), None);
        assert_eq!(parse_timestamp("2019-09-03T09:04:05Z"), None);
        assert_eq!(parse_timestamp("Tue Sep 3 25:04:05 UTC 2019"), None);
        assert_eq!(format_timestamp(1_567_501_445), "Tue Sep 3 09:04:05 UTC 2019");
        for secs in [0, 951_782_400, 1_567_501_445, 1_795_710_000, 4_102_444_799] {
            assert_eq!(parse_timestamp(&format_timestamp(secs)), Some(secs));
        }
        assert_eq!(parse_timestamp("Tue Sep +3 09:04:05 UTC 2019"), None);
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
