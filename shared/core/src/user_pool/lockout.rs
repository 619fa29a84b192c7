//! The sign-in lockout: failed passwords counted on the user, lockouts doubling from one second
//! to fifteen minutes (docs/security.md).

use crate::error::Result;
use crate::lockout::Backoff;
use crate::model::keys;
use crate::model::PasswordState;
use crate::model::User;
use crate::model::UserPool;
use crate::retry::{retry_on_conflict, Attempt};
use crate::Service;
/// Failed sign-ins allowed before temporary lockouts begin.
pub const LOCKOUT_FREE_FAILURES: u32 = 5;

/// The longest temporary lockout.
pub const LOCKOUT_MAX_SECS: i64 = 900;

/// The quiet time (after the last failure and its lockout) after which the count starts over.
/// Cognito forgets after 15 minutes; then eleven guesses and a wait beat the lockouts (about
/// 27,700 guesses a month against one account). A day makes the 15-minute pace the best an
/// attacker can do (about 2,900 a month), and costs a user who mistypes nothing: a successful
/// sign-in clears the count.
pub const LOCKOUT_FORGET_SECS: i64 = 86_400;

/// The password (and MFA code) schedule: from the fifth consecutive failure on, a lockout of
/// 1 s, doubling with each further failure, at most [`LOCKOUT_MAX_SECS`]; forgotten after
/// [`LOCKOUT_FORGET_SECS`] without a failure.
pub const SIGN_IN_BACKOFF: Backoff = Backoff {
    free_failures: LOCKOUT_FREE_FAILURES,
    max_lockout_secs: LOCKOUT_MAX_SECS,
    forget_after_secs: LOCKOUT_FORGET_SECS,
};

/// The counters after a wrong password at `now_ms` ([`SIGN_IN_BACKOFF`]).
pub fn after_failed_sign_in(state: &PasswordState, now_ms: i64) -> PasswordState {
    let (failed, locked) = SIGN_IN_BACKOFF.after_failure(
        state.failed_sign_ins,
        state.last_failed_ms,
        state.locked_until_ms,
        now_ms,
    );
    PasswordState {
        failed_sign_ins: failed,
        last_failed_ms: now_ms,
        locked_until_ms: locked,
        ..state.clone()
    }
}

/// Counts a wrong password or MFA code on the user record, re-reading on a concurrent change so
/// no failure goes uncounted; a right password only reads. True when the record, as it stands
/// now, is locked: another attempt locked it while this one was being checked, and this one
/// must be refused whatever its password. The count starts over only when a sign-in gets its
/// tokens ([`clear_failed_sign_ins`]), so a right password does not buy fresh MFA guesses.
pub(crate) async fn record_sign_in_attempt(
    svc: &Service,
    pool: &UserPool,
    user: User,
    version: u64,
    correct: bool,
) -> Result<bool> {
    if correct {
        let key = keys::user(&pool.id, &pool.username_key(&user.username));
        let fresh = svc.get_json::<User>(&key, keys::USER_SK).await?;
        return Ok(fresh.is_some_and(|(u, _)| u.password_state.locked_until_ms > svc.clock.now_millis()));
    }
    update_failed_sign_ins(svc, pool, user, version, false).await
}

/// A sign-in got its tokens: the failure count starts over.
pub(crate) async fn clear_failed_sign_ins(svc: &Service, pool: &UserPool, user: &User) -> Result<()> {
    if user.password_state.failed_sign_ins == 0 && user.password_state.locked_until_ms == 0 {
        return Ok(());
    }
    update_failed_sign_ins(svc, pool, user.clone(), 0, true).await.map(|_| ())
}

pub(crate) async fn update_failed_sign_ins(
    svc: &Service,
    pool: &UserPool,
    mut user: User,
    mut version: u64,
    correct: bool,
) -> Result<bool> {
    let key = keys::user(&pool.id, &pool.username_key(&user.username));
    if correct {
        // The record read before hashing may be stale; a right password is judged on the latest.
        match svc.get_json::<User>(&key, keys::USER_SK).await? {
            Some((fresh, v)) => (user, version) = (fresh, v),
            None => return Ok(false),
        }
    }
    // The first try counts on the record read above; a lost race reads it again.
    let (key, seed) = (&key, &std::sync::Mutex::new(Some((user, version))));
    let locked = retry_on_conflict(5, || async move {
        let taken = seed.lock().ok().and_then(|mut s| s.take());
        let (mut user, version) = match taken {
            Some(seeded) => seeded,
            None => match svc.get_json::<User>(key, keys::USER_SK).await? {
                Some(fresh) => fresh,
                None => return Ok(Attempt::Done(false)),
            },
        };
        let now_ms = svc.clock.now_millis();
        if user.password_state.locked_until_ms > now_ms {
            return Ok(Attempt::Done(true));
        }
        let next = if correct {
            PasswordState {
                failed_sign_ins: 0,
                last_failed_ms: 0,
                locked_until_ms: 0,
                ..user.password_state.clone()
            }
        } else {
            after_failed_sign_in(&user.password_state, now_ms)
        };
        if next == user.password_state {
            return Ok(Attempt::Done(false));
        }
        user.password_state = next;
        Attempt::of_save(svc.save_user(pool, &user, version, vec![]).await, false)
    });
    Ok(locked.await?.unwrap_or(false))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::PasswordState;

    #[test]
    fn lockouts_double_from_one_second_to_fifteen_minutes() {
        let mut state = PasswordState::default();
        let mut now = 1_000_000_000i64;
        let mut locks = Vec::new();
        for _ in 0..16 {
            state = after_failed_sign_in(&state, now);
            locks.push((state.locked_until_ms - now).max(0) / 1000);
            now = state.locked_until_ms.max(now) + 1;
        }
        assert_eq!(locks, vec![0, 0, 0, 0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 900, 900]);
        // Fifteen quiet minutes are not enough (they are in Cognito); a quiet day starts over.
        let later = after_failed_sign_in(&state, now + LOCKOUT_MAX_SECS * 1000 + 1);
        assert_eq!(later.failed_sign_ins, 17);
        let later = after_failed_sign_in(&state, now + LOCKOUT_FORGET_SECS * 1000 + 1);
        assert_eq!(later.failed_sign_ins, 1);
        assert!(SIGN_IN_BACKOFF.max_failures_in(30 * 86_400).is_some_and(|n| n < 2_900));
    }
}
