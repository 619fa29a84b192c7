//! Verification codes: issuing one (hashed under the master key, within the send quota), and
//! checking one (each guess counted before the comparison, lockouts that a new code cannot
//! reset). Shared by sign-up, attribute verification, password reset and SMS MFA.

use crate::error::{Error, Result};
use crate::lockout::Backoff;
use crate::model::CodeGuard;
use crate::model::PendingCode;
use crate::model::User;
use crate::model::UserPool;
use crate::ports::OutgoingMessage;
use crate::ports::SecretCipher;
use crate::retry::{retry_on_conflict, Attempt};
use crate::user_pool::delivery::mask;
use crate::user_pool::delivery::verification_channel;
use crate::user_pool::delivery::verification_message;
use crate::user_pool::delivery::Sender;
use crate::Service;
use serde_json::{json, Value};
/// Wrong guesses allowed before a code is locked.
pub const MAX_CODE_ATTEMPTS: u32 = 5;

/// The stored form of a code: keyed by the master key, so that a copy of the table alone cannot
/// try the 10^6 candidates (`salt` is the username, or a random salt for SMS MFA codes).
pub(crate) fn code_hash(cipher: &dyn SecretCipher, salt: &str, code: &str) -> Result<String> {
    Ok(hex::encode(cipher.keyed_hash("verification-code", format!("{salt}:{code}").as_bytes())?))
}

/// Whether `code` hashes to `stored` under any key of the master-key ring (a code sent just
/// before a rotation still works); each comparison in constant time.
pub(crate) fn code_matches(cipher: &dyn SecretCipher, salt: &str, code: &str, stored: &str) -> Result<bool> {
    let hashes = cipher.keyed_hashes("verification-code", format!("{salt}:{code}").as_bytes())?;
    Ok(hashes.iter().fold(false, |found, h| {
        found | bool::from(subtle::ConstantTimeEq::ct_eq(hex::encode(h).as_bytes(), stored.as_bytes()))
    }))
}

pub(crate) fn limit_exceeded() -> Error {
    Error::LimitExceededException("Attempt limit exceeded, please try after some time.".into())
}

/// The schedule for wrong codes of one purpose: `code_free_failures`, then lockouts doubling
/// up to `code_lockout_max_secs`; forgotten after a day without a wrong code.
pub fn code_backoff(svc: &Service) -> Backoff {
    let limits = &svc.config.limits;
    Backoff {
        free_failures: u32::try_from(limits.code_free_failures).unwrap_or(u32::MAX),
        max_lockout_secs: i64::try_from(limits.code_lockout_max_secs).unwrap_or(i64::MAX),
        forget_after_secs: CODE_FAILURES_FORGOTTEN_AFTER_SECS,
    }
}

/// A day without a wrong code forgets the count. Waiting that long is slower for an attacker
/// than guessing at the capped pace, so it buys them nothing.
pub const CODE_FAILURES_FORGOTTEN_AFTER_SECS: i64 = 86_400;

/// Creates a code for `purpose`, stores its hash on the user and returns (code, delivery).
/// The caller saves the user; the message is sent after the save succeeds.
pub(crate) fn new_code(
    svc: &Service,
    pool: &UserPool,
    user: &mut User,
    purpose: &str,
    ttl: i64,
) -> Result<Option<(OutgoingMessage, Value)>> {
    let Some(channel) = verification_channel(pool, user) else { return Ok(None) };
    new_code_to(svc, pool, user, purpose, ttl, channel, Sender::User).map(Some)
}

/// Like [`new_code`], to an explicit `(medium, attribute, destination)`: "EMAIL"/"SMS", the
/// attribute the code verifies, and where it goes. A user over the purpose's send quota gets
/// LimitExceededException and nothing is sent.
pub(crate) fn new_code_to(
    svc: &Service,
    pool: &UserPool,
    user: &mut User,
    purpose: &str,
    ttl: i64,
    (channel, attribute, destination): (&'static str, &'static str, String),
    sender: Sender,
) -> Result<(OutgoingMessage, Value)> {
    let now_ms = svc.clock.now_millis();
    let limits = &svc.config.limits;
    let window_ms = i64::try_from(limits.code_send_window_secs).unwrap_or(i64::MAX / 2000) * 1000;
    let guard = user.code_guards.entry(purpose.to_string()).or_default();
    guard.sent_ms.retain(|&t| now_ms.saturating_sub(t) < window_ms);
    if sender == Sender::User && guard.sent_ms.len() as u64 >= limits.code_sends_per_window {
        return Err(limit_exceeded());
    }
    guard.sent_ms.push(now_ms);
    let code = crate::ids::code(svc.rng.as_ref());
    user.codes.insert(
        purpose.to_string(),
        PendingCode {
            hash: code_hash(svc.cipher.as_ref(), &user.username, &code)?,
            expires_at: svc.now_secs() + ttl,
            failed_attempts: 0,
            pending_value: None,
        },
    );
    let shown_name = user.attr(attribute).unwrap_or(&user.username).to_string();
    let (subject, body) = verification_message(pool, channel, &code, &user.username);
    let msg = OutgoingMessage {
        pool_id: pool.id.clone(),
        username: shown_name,
        channel: channel.to_string(),
        destination: destination.clone(),
        subject,
        body,
        code: Some(code),
        sent_at: now_ms,
    };
    let details = json!({"Destination": mask(channel, &destination), "DeliveryMedium": channel, "AttributeName": attribute});
    Ok((msg, details))
}

/// Checks a submitted code against the user's pending one; on success the code is removed
/// (single use), the purpose's failure count is cleared, and the caller saves the user at
/// `version`. The attempt is counted first ([`count_attempt`]).
pub(crate) async fn consume_code(
    svc: &Service,
    pool: &UserPool,
    user: &mut User,
    version: &mut u64,
    purpose: &str,
    code: &str,
) -> Result<()> {
    if !user.codes.contains_key(purpose) {
        return Err(code_mismatch());
    }
    count_attempt(svc, pool, user, version, purpose).await?;
    let pending = user.codes.get(purpose).cloned().ok_or_else(code_mismatch)?;
    if !code_matches(svc.cipher.as_ref(), &user.username, code, &pending.hash)? {
        return Err(code_mismatch());
    }
    if pending.expires_at <= svc.now_secs() {
        // Right but too late: the holder did receive it, so the count starts over (the code
        // stays dead; a lost race here only leaves the count as it was).
        user.codes.remove(purpose);
        clear_attempts(user, purpose);
        svc.save_user(pool, user, *version, vec![]).await.ok();
        return Err(Error::ExpiredCodeException(
            "Invalid code provided, please request a code again.".into(),
        ));
    }
    user.codes.remove(purpose);
    clear_attempts(user, purpose);
    Ok(())
}

/// Counts one attempt at a code of `purpose` on the user record *before* the code is
/// compared, or refuses it (LimitExceededException) during the purpose's lockout or when the
/// pending code of that purpose (if any) has had its [`MAX_CODE_ATTEMPTS`].
///
/// Concurrent guesses are serialised by the record's version: each checks the lockout as it
/// stands after all earlier ones, and no answer (not even a lost race) tells a right code from
/// a wrong one before the attempt was counted. The count outlives any code, so requesting a new
/// one buys no new guesses ([`code_backoff`]). On return `user` and `version` are the record
/// as saved.
pub(crate) async fn count_attempt(
    svc: &Service,
    pool: &UserPool,
    user: &mut User,
    version: &mut u64,
    purpose: &str,
) -> Result<()> {
    let key = &crate::model::keys::user(&pool.id, &pool.username_key(&user.username));
    let backoff = &code_backoff(svc);
    // The first try counts on the caller's record; a lost race reads it again.
    let seed = &std::sync::Mutex::new(Some((user.clone(), *version)));
    let counted = retry_on_conflict(20, || async move {
        let taken = seed.lock().ok().and_then(|mut s| s.take());
        let (current, version) = match taken {
            Some(seeded) => seeded,
            None => {
                svc.get_json::<User>(key, crate::model::keys::USER_SK).await?.ok_or_else(code_mismatch)?
            }
        };
        let now_ms = svc.clock.now_millis();
        let guard = current.code_guards.get(purpose).cloned().unwrap_or_default();
        let spent = current.codes.get(purpose).is_some_and(|p| p.failed_attempts >= MAX_CODE_ATTEMPTS);
        if guard.locked_until_ms > now_ms || spent {
            return Err(limit_exceeded());
        }
        let mut next = current;
        if let Some(p) = next.codes.get_mut(purpose) {
            p.failed_attempts += 1;
        }
        let (failed, locked_until_ms) =
            backoff.after_failure(guard.failed, guard.last_failed_ms, guard.locked_until_ms, now_ms);
        next.code_guards.insert(
            purpose.to_string(),
            CodeGuard { failed, last_failed_ms: now_ms, locked_until_ms, ..guard },
        );
        let write = svc.save_user(pool, &next, version, vec![]).await;
        Attempt::of_save(write, (next, version + 1))
    });
    let (next, next_version) = counted.await?.ok_or_else(|| {
        Error::ConcurrentModificationException("The user was modified by another request. Try again.".into())
    })?;
    (*user, *version) = (next, next_version);
    Ok(())
}

/// A right code proves the destination: its holder starts over (the send record stays).
pub(crate) fn clear_attempts(user: &mut User, purpose: &str) {
    if let Some(guard) = user.code_guards.get_mut(purpose) {
        *guard = CodeGuard { sent_ms: std::mem::take(&mut guard.sent_ms), ..CodeGuard::default() };
        if guard.sent_ms.is_empty() {
            user.code_guards.remove(purpose);
        }
    }
}

pub(crate) fn code_mismatch() -> Error {
    Error::CodeMismatchException("Invalid verification code provided, please try again.".into())
}
