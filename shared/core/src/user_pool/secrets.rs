//! A password's stored secrets (argon2id hash and SRP verifier), the password history, and
//! temporary passwords' validity.

use crate::error::{Error, Result};
use crate::model::SrpVerifier;
use crate::model::User;
use crate::model::UserPool;
use crate::Service;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
/// Hash, SRP verifier and salt for a new password, computed off the executor.
pub async fn password_secrets(
    svc: &Service,
    pool: &UserPool,
    username: &str,
    password: &str,
) -> Result<(String, SrpVerifier)> {
    let params = svc.config.hash_params;
    let argon_salt = svc.rng.bytes(16);
    let srp_salt = svc.rng.bytes(16);
    let suffix = crate::ids::pool_suffix(&pool.id).to_string();
    let (username, password) = (username.to_string(), password.to_string());
    let cipher = svc.cipher.clone();
    svc.cpu(move || -> Result<(String, SrpVerifier)> {
        let hash = params.hash(&password, &argon_salt)?;
        let (salt, v) = crate::srp::verifier(&suffix, &username, &password, &srp_salt);
        let sealed = cipher.seal(crate::ports::sealed::SRP_VERIFIER, &v.to_bytes_be())?;
        Ok((hash, SrpVerifier { salt_hex: salt.to_str_radix(16), sealed_verifier: STANDARD.encode(sealed) }))
    })
    .await?
}

/// PasswordHistorySize n: a new password may match none of the user's last n passwords (the
/// current one and the n−1 before it), checked against their stored hashes.
pub(crate) async fn check_password_history(
    svc: &Service,
    pool: &UserPool,
    user: &User,
    password: &str,
) -> Result<()> {
    let n = pool.password_policy.password_history_size.unwrap_or(0) as usize;
    if n == 0 {
        return Ok(());
    }
    let hashes: Vec<String> =
        user.password_hash.iter().chain(&user.password_history).take(n).cloned().collect();
    let (params, password) = (svc.config.hash_params, password.to_string());
    let reused = svc
        .cpu(move || {
            hashes.iter().any(|h| {
                if h.starts_with("$argon2id$") {
                    params.verify(&password, h)
                } else {
                    crate::password::legacy::verify(&password, h)
                }
            })
        })
        .await?;
    if reused {
        return Err(Error::PasswordHistoryPolicyViolationException(format!(
            "The password history policy was violated: the password matches one of the last {n} passwords."
        )));
    }
    Ok(())
}

/// Keeps the hash being replaced, as far back as the pool's PasswordHistorySize reaches.
pub(crate) fn remember_password(pool: &UserPool, user: &mut User) {
    let keep = pool.password_policy.password_history_size.unwrap_or(0).saturating_sub(1) as usize;
    if let Some(current) = user.password_hash.clone().filter(|_| keep > 0) {
        user.password_history.insert(0, current);
    }
    user.password_history.truncate(keep);
}

/// How long a temporary password lasts: `PasswordPolicy.TemporaryPasswordValidityDays`, or the
/// legacy `AdminCreateUserConfig.UnusedAccountValidityDays` when a pool set only that.
/// When a temporary password set now stops working (epoch seconds).
pub(crate) fn temporary_password_expiry(svc: &Service, pool: &UserPool) -> i64 {
    svc.now_secs() + temporary_password_validity_days(pool) * 86_400
}

pub(crate) fn temporary_password_validity_days(pool: &UserPool) -> i64 {
    let policy_days = i64::from(pool.password_policy.temporary_password_validity_days);
    let legacy = pool
        .settings
        .admin_create_user_config
        .as_ref()
        .and_then(|c| c.unused_account_validity_days)
        .filter(|d| *d > 0);
    match legacy {
        // 7 is the policy's default: a pool that set only the legacy field gets that instead.
        Some(days) if policy_days == 7 => days,
        _ => policy_days,
    }
}
