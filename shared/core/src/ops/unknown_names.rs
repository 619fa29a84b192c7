//! What the pool remembers about names it does not hold: failed sign-ins, code guesses and
//! code sends, counted exactly as they are for a user.
//!
//! Two reasons. A UserMigration function checks passwords against the legacy store, which must
//! not become an unlimited password oracle. And under PreventUserExistenceErrors an unknown name
//! must lock out, refuse sends and refuse codes after the same numbers as a known one, and cost
//! the same store work, or the answers tell which names exist.

use super::auth::SIGN_IN_BACKOFF;
use super::users::{code_backoff, limit_exceeded, MAX_CODE_ATTEMPTS};
use crate::error::{Error, Result};
use crate::model::{keys, CodeGuard, UserPool};
use crate::service::Service;
use crate::store::{Item, Write};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct NameRecord {
    #[serde(default)]
    failed: u32,
    #[serde(default)]
    last_failed_ms: i64,
    #[serde(default)]
    locked_until_ms: i64,
    /// Per code purpose, as on a user (`User::code_guards`).
    #[serde(default)]
    code_guards: BTreeMap<String, CodeGuard>,
    /// Guesses since the last "send" per purpose: a user's code dies after five.
    #[serde(default)]
    code_attempts: BTreeMap<String, u32>,
}

/// Whether sign-ins with an unknown name are counted: only when a secret is checked for it
/// (a migration function) or the answer must look like a known user's.
pub(crate) fn counted(pool: &UserPool, prevent_user_existence_errors: bool) -> bool {
    prevent_user_existence_errors || crate::triggers::Trigger::UserMigration.configured(pool)
}

fn key(pool: &UserPool, name: &str) -> String {
    keys::name_attempts(&pool.id, &pool.username_key(name))
}

async fn read(svc: &Service, pool: &UserPool, name: &str) -> Result<Option<(NameRecord, u64)>> {
    svc.get_json::<NameRecord>(&key(pool, name), keys::NAME_ATTEMPTS_SK).await
}

/// True while sign-ins with `name` are locked out.
pub(crate) async fn locked(svc: &Service, pool: &UserPool, name: &str) -> Result<bool> {
    let now_ms = svc.clock.now_millis();
    Ok(read(svc, pool, name).await?.is_some_and(|(r, _)| r.locked_until_ms > now_ms))
}

/// Reads, changes and writes the record (one conditional write, like a user's), re-reading on
/// a concurrent change so nothing goes uncounted. `change` may refuse.
async fn update(
    svc: &Service,
    pool: &UserPool,
    name: &str,
    change: impl Fn(&mut NameRecord, i64) -> Result<()>,
) -> Result<()> {
    let pk = key(pool, name);
    let window_ms = i64::try_from(svc.config.limits.code_send_window_secs).unwrap_or(i64::MAX / 2000) * 1000;
    for _ in 0..10 {
        let (mut record, version) = match read(svc, pool, name).await? {
            Some((r, v)) => (r, Some(v)),
            None => (NameRecord::default(), None),
        };
        let now_ms = svc.clock.now_millis();
        change(&mut record, now_ms)?;
        let mut item = Item::new(
            pk.clone(),
            keys::NAME_ATTEMPTS_SK,
            serde_json::to_value(&record).map_err(Error::internal)?,
        );
        // Kept for as long as anything in it still matters, then the store drops it.
        let forget_ms = SIGN_IN_BACKOFF.forget_after_secs.max(code_backoff(svc).forget_after_secs) * 1000;
        let last =
            record.code_guards.values().map(|g| g.locked_until_ms.max(g.last_failed_ms)).max().unwrap_or(0);
        let until = (now_ms + window_ms).max(record.locked_until_ms.max(last).max(now_ms) + forget_ms);
        item.expires_at = Some(until / 1000 + 1);
        match svc.store.transact(vec![Write::put_versioned(item, version)], svc.now_secs()).await {
            Ok(()) => return Ok(()),
            Err(crate::store::StoreError::ConditionFailed { .. }) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(Error::ConcurrentModificationException("Too many requests at once for this user. Try again.".into()))
}

/// Counts a failed sign-in with `name` ([`SIGN_IN_BACKOFF`]).
pub(crate) async fn record_failure(svc: &Service, pool: &UserPool, name: &str) -> Result<()> {
    update(svc, pool, name, |r, now_ms| {
        (r.failed, r.locked_until_ms) =
            SIGN_IN_BACKOFF.after_failure(r.failed, r.last_failed_ms, r.locked_until_ms, now_ms);
        r.last_failed_ms = now_ms;
        Ok(())
    })
    .await
}

/// A code "sent" to `name` for `purpose`: refused past the send quota, as a user's would be.
pub(crate) async fn record_send(svc: &Service, pool: &UserPool, name: &str, purpose: &str) -> Result<()> {
    let limits = svc.config.limits;
    let window_ms = i64::try_from(limits.code_send_window_secs).unwrap_or(i64::MAX / 2000) * 1000;
    update(svc, pool, name, |r, now_ms| {
        let guard = r.code_guards.entry(purpose.to_string()).or_default();
        guard.sent_ms.retain(|&t| now_ms.saturating_sub(t) < window_ms);
        if guard.sent_ms.len() as u64 >= limits.code_sends_per_window {
            return Err(limit_exceeded());
        }
        guard.sent_ms.push(now_ms);
        r.code_attempts.insert(purpose.to_string(), 0);
        Ok(())
    })
    .await
}

/// A code guessed for `name`: counted and refused as a user's would be (see
/// `users::count_attempt`). Ok means "answer as for a wrong code".
pub(crate) async fn record_code_guess(
    svc: &Service,
    pool: &UserPool,
    name: &str,
    purpose: &str,
) -> Result<()> {
    let backoff = code_backoff(svc);
    update(svc, pool, name, |r, now_ms| {
        let guard = r.code_guards.entry(purpose.to_string()).or_default();
        let attempts = r.code_attempts.entry(purpose.to_string()).or_default();
        if guard.locked_until_ms > now_ms || *attempts >= MAX_CODE_ATTEMPTS {
            return Err(limit_exceeded());
        }
        *attempts += 1;
        (guard.failed, guard.locked_until_ms) =
            backoff.after_failure(guard.failed, guard.last_failed_ms, guard.locked_until_ms, now_ms);
        guard.last_failed_ms = now_ms;
        Ok(())
    })
    .await
}
