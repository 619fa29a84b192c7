//! What the pool remembers about names it does not hold: failed sign-ins, code guesses and
//! code sends, counted exactly as they are for a user.
//!
//! Two reasons. A UserMigration function checks passwords against the legacy store, which must
//! not become an unlimited password oracle. And under PreventUserExistenceErrors an unknown name
//! must lock out, refuse sends and refuse codes after the same numbers as a known one, and cost
//! the same store work, or the answers tell which names exist.

use crate::error::{Error, Result};
use crate::model::{keys, CodeGuard, UserPool};
use crate::retry::{retry_on_conflict, Attempt};
use crate::service::Service;
use crate::store::{Item, Write};
use crate::user_pool::codes::{code_backoff, limit_exceeded, MAX_CODE_ATTEMPTS};
use crate::user_pool::lockout::SIGN_IN_BACKOFF;
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

/// A name's record as read once: the lockout check and the failure count that follows share
/// it, so an unknown name costs the store the same round trips as a known user (one read of
/// the user, one conditional write), and the timing does not tell them apart.
pub(crate) struct Seen(Option<(NameRecord, u64)>);

impl Seen {
    /// True while sign-ins with the name are locked out.
    pub(crate) fn locked(&self, now_ms: i64) -> bool {
        self.0.as_ref().is_some_and(|(r, _)| r.locked_until_ms > now_ms)
    }
}

pub(crate) async fn look(svc: &Service, pool: &UserPool, name: &str) -> Result<Seen> {
    Ok(Seen(read(svc, pool, name).await?))
}

/// The user holding `name`; when none does and unknown names are `counted`, the name's record
/// instead, read so that either answer costs the store the same round trips:
/// - a pool without aliases looks at one key for a user; the record is read beside it;
/// - with aliases a known name costs a miss, the alias and the user, an unknown one a miss,
///   the alias misses and then the record (a `sub` is only looked up for a UUID).
pub(crate) async fn find_user(
    svc: &Service,
    pool: &UserPool,
    name: &str,
    counted: bool,
) -> Result<(Option<(crate::model::User, u64)>, Option<Seen>)> {
    if !counted {
        return Ok((svc.find_user(pool, name).await?, None));
    }
    if pool.username_attributes.is_empty() && pool.alias_attributes.is_empty() {
        let (user, seen) = tokio::join!(svc.find_user(pool, name), look(svc, pool, name));
        return Ok(match user? {
            Some(found) => (Some(found), None),
            None => (None, Some(seen?)),
        });
    }
    Ok(match svc.find_user(pool, name).await? {
        Some(found) => (Some(found), None),
        None => (None, Some(look(svc, pool, name).await?)),
    })
}

/// Reads (unless `seen` already did), changes and writes the record (one conditional write,
/// like a user's), re-reading on a concurrent change so nothing goes uncounted. `change` may
/// refuse.
async fn update(
    svc: &Service,
    pool: &UserPool,
    name: &str,
    seen: Option<Seen>,
    change: impl Fn(&mut NameRecord, i64) -> Result<()>,
) -> Result<()> {
    let pk = key(pool, name);
    let window_ms = i64::try_from(svc.config.limits.code_send_window_secs).unwrap_or(i64::MAX / 2000) * 1000;
    let (pk, seed, change) = (&pk, &std::sync::Mutex::new(seen), &change);
    let changed = retry_on_conflict(10, || async move {
        let taken = seed.lock().ok().and_then(|mut s| s.take());
        let current = match taken {
            Some(Seen(current)) => current,
            None => read(svc, pool, name).await?,
        };
        let (mut record, version) = match current {
            Some((r, v)) => (r, Some(v)),
            None => (NameRecord::default(), None),
        };
        let now_ms = svc.clock.now_millis();
        change(&mut record, now_ms)?;
        let mut item = Item::new(
            pk.to_string(),
            keys::NAME_ATTEMPTS_SK,
            serde_json::to_value(&record).map_err(Error::internal)?,
        );
        // Kept for as long as anything in it still matters, then the store drops it.
        let forget_ms = SIGN_IN_BACKOFF.forget_after_secs.max(code_backoff(svc).forget_after_secs) * 1000;
        let last =
            record.code_guards.values().map(|g| g.locked_until_ms.max(g.last_failed_ms)).max().unwrap_or(0);
        let until = (now_ms + window_ms).max(record.locked_until_ms.max(last).max(now_ms) + forget_ms);
        item.expires_at = Some(until / 1000 + 1);
        Attempt::of_write(
            svc.store.transact(vec![Write::put_versioned(item, version)], svc.now_secs()).await,
            (),
        )
    });
    changed.await?.ok_or_else(|| {
        Error::ConcurrentModificationException("Too many requests at once for this user. Try again.".into())
    })
}

/// Counts a failed sign-in with `name` ([`SIGN_IN_BACKOFF`]), from the record `seen` when the
/// lockout check already read it.
pub(crate) async fn record_failure(
    svc: &Service,
    pool: &UserPool,
    name: &str,
    seen: Option<Seen>,
) -> Result<()> {
    update(svc, pool, name, seen, |r, now_ms| {
        (r.failed, r.locked_until_ms) =
            SIGN_IN_BACKOFF.after_failure(r.failed, r.last_failed_ms, r.locked_until_ms, now_ms);
        r.last_failed_ms = now_ms;
        Ok(())
    })
    .await
}

/// A code "sent" to `name` for `purpose`: refused past the send quota, as a user's would be.
pub(crate) async fn record_send(
    svc: &Service,
    pool: &UserPool,
    name: &str,
    purpose: &str,
    seen: Option<Seen>,
) -> Result<()> {
    let limits = svc.config.limits;
    let window_ms = i64::try_from(limits.code_send_window_secs).unwrap_or(i64::MAX / 2000) * 1000;
    update(svc, pool, name, seen, |r, now_ms| {
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
    seen: Option<Seen>,
) -> Result<()> {
    let backoff = code_backoff(svc);
    update(svc, pool, name, seen, |r, now_ms| {
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
