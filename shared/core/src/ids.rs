//! Identifier formats clients depend on.

use crate::ports::Rng;

const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const LOWER_ALNUM: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";

/// `{region}_{9 alphanumerics}`; the SRP proof uses the part after `_`.
pub fn user_pool_id(rng: &dyn Rng, region: &str) -> String {
    format!("{region}_{}", rng.string_from(ALNUM, 9))
}

/// 26 lowercase alphanumerics, like Cognito's.
pub fn client_id(rng: &dyn Rng) -> String {
    rng.string_from(LOWER_ALNUM, 26)
}

/// 52 lowercase alphanumerics, like Cognito's generated secrets.
pub fn client_secret(rng: &dyn Rng) -> String {
    rng.string_from(LOWER_ALNUM, 52)
}

/// A six-digit verification code.
pub fn code(rng: &dyn Rng) -> String {
    rng.string_from(b"0123456789", 6)
}

/// The part of a pool id after `_`, used by SRP as the "pool name".
pub fn pool_suffix(pool_id: &str) -> &str {
    pool_id.split_once('_').map(|(_, s)| s).unwrap_or(pool_id)
}

/// The region a pool id was made in.
pub fn pool_region(pool_id: &str) -> &str {
    pool_id.split_once('_').map(|(r, _)| r).unwrap_or("us-east-1")
}

/// An AWS account id as ARNs carry it: exactly 12 decimal digits.
pub fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

/// A pool id has the shape `{region}_{alphanumerics}`.
pub fn is_pool_id(s: &str) -> bool {
    match s.split_once('_') {
        Some((r, suffix)) => {
            !r.is_empty()
                && r.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !suffix.is_empty()
                && suffix.chars().all(|c| c.is_ascii_alphanumeric())
        }
        None => false,
    }
}
