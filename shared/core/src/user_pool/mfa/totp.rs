//! TOTP (software token MFA): the sealed secret, RFC 6238 codes, and one use per time step.

use crate::error::{Error, Result};
use crate::model::User;
use crate::Service;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;

/// TOTP parameters (RFC 6238 as authenticator apps and Cognito use them).
pub(crate) const TOTP_DIGITS: usize = 6;

pub(crate) const TOTP_PERIOD_SECS: u64 = 30;

/// Random bytes in a software-token secret (52 base32 characters, like Cognito's).
pub const SOFTWARE_TOKEN_SECRET_BYTES: usize = 32;

/// Seals a TOTP secret for storage on the user.
pub fn seal_secret(svc: &Service, secret: &[u8]) -> Result<String> {
    Ok(STANDARD.encode(svc.cipher.seal(crate::ports::sealed::TOTP_SECRET, secret)?))
}

pub fn open_secret(svc: &Service, sealed: &str) -> Result<Vec<u8>> {
    let bytes = STANDARD.decode(sealed).map_err(Error::internal)?;
    svc.cipher.open(crate::ports::sealed::TOTP_SECRET, &bytes)
}

/// The RFC 6238 code of `secret` for time step `step`.
pub(crate) fn totp_at(secret: &[u8], step: u64) -> String {
    let totp = totp_rs::Builder::new()
        .with_algorithm(totp_rs::Algorithm::SHA1)
        .with_digits(TOTP_DIGITS as u8)
        .with_step_duration(TOTP_PERIOD_SECS)
        .with_skew(0)
        .with_secret(totp_rs::Secret::new(secret.to_vec().into_boxed_slice()))
        .build_noncompliant();
    totp.generate(step.saturating_mul(TOTP_PERIOD_SECS)).to_string()
}

/// The time step (current ±1) at which `code` is `secret`'s TOTP, skipping steps at or
/// before `after` (codes already used). Compares in constant time.
pub fn totp_matching_step(secret: &[u8], code: &str, now_secs: i64, after: Option<u64>) -> Option<u64> {
    let code = code.trim();
    if code.len() != TOTP_DIGITS || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let current = (now_secs.max(0) as u64) / TOTP_PERIOD_SECS;
    let mut found = None;
    for step in current.saturating_sub(1)..=current.saturating_add(1) {
        if after.is_some_and(|a| step <= a) {
            continue;
        }
        let matches: bool =
            subtle::ConstantTimeEq::ct_eq(totp_at(secret, step).as_bytes(), code.as_bytes()).into();
        if matches && found.is_none() {
            found = Some(step);
        }
    }
    found
}

/// Checks a SOFTWARE_TOKEN_MFA code against the user's verified token: RFC 6238 (HMAC-SHA1,
/// 6 digits, 30 s steps from T0 = 0), the current step ±1, and never a step at or before the
/// last one accepted (a code works once). On success records the step on `user`; the caller
/// saves the user. `Ok(false)` for a wrong, reused or malformed code, or a user without a token.
pub fn check_software_token_code(svc: &Service, user: &mut User, code: &str) -> Result<bool> {
    let Some(sealed) = user.mfa.software_token.as_deref() else { return Ok(false) };
    let secret = open_secret(svc, sealed)?;
    match totp_matching_step(&secret, code, svc.now_secs(), user.mfa.last_totp_step) {
        Some(step) => {
            user.mfa.last_totp_step = Some(step);
            Ok(true)
        }
        None => Ok(false),
    }
}

/// Whether `code` is the user's TOTP code for a step already used (at or before the last one
/// accepted, by VerifySoftwareToken or a sign-in) and for no step still open. Cognito answers
/// such a code with ExpiredCodeException, and it is no guess: whoever sends it saw the code.
pub fn software_token_code_reused(svc: &Service, user: &User, code: &str) -> Result<bool> {
    let (Some(sealed), Some(last)) = (user.mfa.software_token.as_deref(), user.mfa.last_totp_step) else {
        return Ok(false);
    };
    let secret = open_secret(svc, sealed)?;
    let now = svc.now_secs();
    Ok(totp_matching_step(&secret, code, now, Some(last)).is_none()
        && totp_matching_step(&secret, code, now, None).is_some())
}

/// The answer to a reused software token code.
pub fn software_token_code_used() -> Error {
    Error::ExpiredCodeException("Your software token has already been used once.".into())
}

/// The RFC 6238 code for a `SecretCode` as AssociateSoftwareToken returns it (base32) at
/// `unix_secs`: what an authenticator app shows. None when the secret is not base32.
pub fn software_token_code(secret_code: &str, unix_secs: i64) -> Option<String> {
    let secret = totp_rs::Secret::try_from_base32(secret_code).ok()?;
    Some(totp_at(secret.as_bytes(), (unix_secs.max(0) as u64) / TOTP_PERIOD_SECS))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 Appendix B's SHA-1 seed.
    const RFC_SECRET: &[u8] = b"12345678901234567890";

    #[test]
    fn rfc6238_sha1_vectors() {
        // The RFC's 8-digit values, last 6 digits.
        for (t, want) in
            [(59u64, "287082"), (1111111109, "081804"), (1234567890, "005924"), (2000000000, "279037")]
        {
            assert_eq!(totp_at(RFC_SECRET, t / 30), want, "T={t}");
        }
    }

    #[test]
    fn accepts_one_step_either_side_and_never_twice() {
        let now = 1_234_567_890i64;
        let step = now as u64 / 30;
        for s in [step - 1, step, step + 1] {
            assert_eq!(totp_matching_step(RFC_SECRET, &totp_at(RFC_SECRET, s), now, None), Some(s));
        }
        for s in [step - 2, step + 2] {
            assert_eq!(totp_matching_step(RFC_SECRET, &totp_at(RFC_SECRET, s), now, None), None);
        }
        let code = totp_at(RFC_SECRET, step);
        assert_eq!(totp_matching_step(RFC_SECRET, &code, now, Some(step)), None, "replayed");
        assert_eq!(totp_matching_step(RFC_SECRET, &code, now, Some(step - 1)), Some(step));
        assert_eq!(
            totp_matching_step(RFC_SECRET, &totp_at(RFC_SECRET, step - 1), now, Some(step)),
            None,
            "older than the last accepted"
        );
        for bad in ["", "12345", "1234567", "abcdef", "00592a"] {
            assert_eq!(totp_matching_step(RFC_SECRET, bad, now, None), None, "{bad:?}");
        }
    }
}
