//! Rotating a pool's token signing keys, with overlap (Tessera's own operations, in the
//! `TesseraService` namespace; Cognito never rotates them).
//!
//! A rotation has two steps. **Stage**: new ID and access key pairs are made and published in
//! the JWKS as `next`, signing nothing, so that verifiers that cache the JWKS have them before
//! any token does. **Activate**, at least [`PUBLISH_LEAD_SECS`] later (or at once when asked):
//! the next pairs sign, and the old ones are retired, still published and still accepted until
//! [`RETIRE_AFTER_SECS`] later, when the last token they signed has expired. Retired keys past
//! that are dropped at the next step.
//!
//! `RotationDays` makes it a schedule: whenever a token is signed, a pool whose keys are due
//! takes the next step (staging `PUBLISH_LEAD_SECS` before the period ends, activating when it
//! ends), so no scheduler is needed locally or in Lambda.

use crate::error::{Error, Result};
use crate::input::Input as _;
use crate::keys;
use crate::model::UserPool;
use crate::store::{Item, StoreError, Write};
use crate::tokens::{KeyUse, NextKeys, PoolKeys, RetiredKey};
use crate::Service;
use serde_json::{json, Value};

/// How long next keys are published before they sign: one day, longer than JWKS caches keep
/// a key set (aws-jwt-verify refetches on an unknown kid; others cache for minutes to hours).
pub const PUBLISH_LEAD_SECS: i64 = 24 * 3600;
/// How long a retired key stays published and accepted: the longest an ID or access token
/// lives (one day, Cognito's bound for both), plus the clock skew tokens are allowed.
pub const RETIRE_AFTER_SECS: i64 = 24 * 3600 + crate::tokens::MAX_CLOCK_AHEAD_SECS;
/// The longest schedule (ten years) and the shortest (one day, which with the lead means keys
/// are staged at once after each activation).
const MAX_ROTATION_DAYS: i64 = 3650;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Stage,
    Activate,
    /// Only drop retired keys whose tokens have all expired.
    Prune,
}

/// `RotateSigningKeys`: the next step of a rotation. Without next keys they are staged; with
/// them they are activated once published for `PUBLISH_LEAD_SECS`, or at once with
/// `Activate: true`.
pub async fn rotate_signing_keys(svc: &Service, input: &Value) -> Result<Value> {
    let pool_id = input.req_str("UserPoolId")?;
    let force = input.bool_of("Activate").unwrap_or(false);
    let now = svc.now_secs();
    let pool = svc.pool(pool_id).await?;
    let step = match &pool.keys.next {
        None => Step::Stage,
        Some(next) if force || now >= next.published + PUBLISH_LEAD_SECS => Step::Activate,
        Some(next) => {
            return Err(Error::invalid(format!(
                "The next signing keys were published at {}; they sign from {} (after {} hours in the JWKS). \
                 Pass Activate to switch now: verifiers that cached the key set before then fetch it again.",
                next.published,
                next.published + PUBLISH_LEAD_SECS,
                PUBLISH_LEAD_SECS / 3600
            )))
        }
    };
    let keys = apply(svc, pool_id, |_| Some(step)).await?;
    Ok(describe(&keys, now))
}

/// `DescribeSigningKeys`: every published key, what it does and until when.
pub async fn describe_signing_keys(svc: &Service, input: &Value) -> Result<Value> {
    let pool = svc.pool(input.req_str("UserPoolId")?).await?;
    Ok(describe(&pool.keys, svc.now_secs()))
}

/// `SetSigningKeyRotation`: `RotationDays` (1–3650) schedules rotations; 0 turns them off.
pub async fn set_signing_key_rotation(svc: &Service, input: &Value) -> Result<Value> {
    let pool_id = input.req_str("UserPoolId")?;
    let days = input
        .i64_of("RotationDays")
        .ok_or_else(|| Error::invalid("1 validation error detected: Value null at 'rotationDays' failed to satisfy constraint: Member must not be null"))?;
    if !(0..=MAX_ROTATION_DAYS).contains(&days) {
        return Err(Error::invalid(format!("RotationDays must be 0 (off) or 1 to {MAX_ROTATION_DAYS}")));
    }
    svc.pool(pool_id).await?;
    let keys = update(svc, pool_id, |keys, now| {
        keys.rotation_days = (days > 0).then_some(days as u32);
        if keys.since == 0 {
            // The schedule counts from now for keys made before schedules existed.
            keys.since = now;
        }
        true
    })
    .await?;
    Ok(describe(&keys, svc.now_secs()))
}

/// The scheduled step a pool is due for, if any (retired keys to drop count too).
fn due(keys: &PoolKeys, now: i64) -> Option<Step> {
    if let Some(days) = keys.rotation_days {
        let period = i64::from(days) * 86_400;
        match &keys.next {
            None if now >= keys.since + period - PUBLISH_LEAD_SECS => return Some(Step::Stage),
            Some(next) if now >= (next.published + PUBLISH_LEAD_SECS).max(keys.since + period) => {
                return Some(Step::Activate)
            }
            _ => {}
        }
    }
    keys.retired.iter().any(|r| r.until <= now).then_some(Step::Prune)
}

/// Called before a token is signed: takes the step a schedule is due for. Another process
/// taking it first is fine; a failure is logged and the token is signed with the current key.
pub async fn rotate_if_due(svc: &Service, pool: &UserPool) {
    if due(&pool.keys, svc.now_secs()).is_none() {
        return;
    }
    if let Err(e) = apply(svc, &pool.id, |keys| due(keys, svc.now_secs())).await {
        tracing::warn!(pool = %pool.id, error = %e, "scheduled signing-key rotation failed");
    }
}

/// Takes `step` (decided on the freshly read keys) and saves the pool.
async fn apply(svc: &Service, pool_id: &str, step: impl Fn(&PoolKeys) -> Option<Step>) -> Result<PoolKeys> {
    // New key pairs are made before the read-modify-write, off the executor (RSA generation).
    let cipher = svc.cipher.clone();
    let fresh = svc.cpu(move || PoolKeys::generate(cipher.as_ref())).await??;
    update(svc, pool_id, |keys, now| {
        let Some(step) = step(keys) else { return false };
        keys.stand_in_seed.get_or_insert_with(|| keys.id.sealed_private.clone());
        keys.retired.retain(|r| r.until > now);
        match step {
            Step::Stage => {
                keys.next =
                    Some(NextKeys { id: fresh.id.clone(), access: fresh.access.clone(), published: now })
            }
            Step::Activate => {
                if let Some(next) = keys.next.take() {
                    let until = now + RETIRE_AFTER_SECS;
                    let old_id = std::mem::replace(&mut keys.id, next.id);
                    let old_access = std::mem::replace(&mut keys.access, next.access);
                    keys.retired.push(RetiredKey { key: old_id, key_use: KeyUse::Id, until });
                    keys.retired.push(RetiredKey { key: old_access, key_use: KeyUse::Access, until });
                    keys.since = now;
                }
            }
            Step::Prune => {}
        }
        true
    })
    .await
}

/// Reads the pool, changes its keys, writes it back on the version read (retried on a race).
async fn update(
    svc: &Service,
    pool_id: &str,
    change: impl Fn(&mut PoolKeys, i64) -> bool,
) -> Result<PoolKeys> {
    for _ in 0..5 {
        let (mut pool, version) =
            svc.get_json::<UserPool>(&keys::pool(pool_id), keys::POOL_SK).await?.ok_or_else(|| {
                Error::ResourceNotFoundException(format!("User pool {pool_id} does not exist."))
            })?;
        let now = svc.now_secs();
        if !change(&mut pool.keys, now) {
            return Ok(pool.keys);
        }
        pool.modified = svc.clock.now_millis();
        let item = Item::new(
            keys::pool(pool_id),
            keys::POOL_SK,
            serde_json::to_value(&pool).map_err(Error::internal)?,
        );
        match svc.store.transact(vec![Write::put_versioned(item, Some(version))], now).await {
            Ok(()) => {
                svc.forget_pool(pool_id);
                return Ok(pool.keys);
            }
            Err(StoreError::ConditionFailed { .. }) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(Error::ConcurrentModificationException("The user pool changed while its keys were rotated.".into()))
}

fn describe(keys: &PoolKeys, now: i64) -> Value {
    let key = |k: &crate::tokens::StoredKey, key_use: &str, status: &str| json!({"Kid": k.kid, "Use": key_use, "Status": status});
    let mut out = vec![key(&keys.id, "id", "ACTIVE"), key(&keys.access, "access", "ACTIVE")];
    if let Some(next) = &keys.next {
        for (k, u) in [(&next.id, "id"), (&next.access, "access")] {
            let mut v = key(k, u, "NEXT");
            v["PublishedDate"] = json!(next.published);
            v["SignsFromDate"] = json!(next.published + PUBLISH_LEAD_SECS);
            out.push(v);
        }
    }
    for r in keys.retired.iter().filter(|r| r.until > now) {
        let mut v = key(&r.key, if r.key_use == KeyUse::Id { "id" } else { "access" }, "RETIRED");
        v["PublishedUntilDate"] = json!(r.until);
        out.push(v);
    }
    let mut answer = json!({"SigningKeys": out});
    if let Some(days) = keys.rotation_days {
        answer["RotationDays"] = json!(days);
    }
    answer
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn keys() -> PoolKeys {
        let cipher = crate::ports::AesGcmCipher::new(&[3u8; 32]).unwrap();
        PoolKeys::generate(&cipher).unwrap()
    }

    #[test]
    fn a_schedule_stages_a_day_ahead_and_activates_at_the_period() {
        let mut k = keys();
        k.since = 1_000_000;
        assert_eq!(due(&k, 2_000_000), None, "no schedule, nothing retired");
        k.rotation_days = Some(30);
        let end = 1_000_000 + 30 * 86_400;
        assert_eq!(due(&k, end - PUBLISH_LEAD_SECS - 1), None);
        assert_eq!(due(&k, end - PUBLISH_LEAD_SECS), Some(Step::Stage));
        k.next =
            Some(NextKeys { id: k.id.clone(), access: k.access.clone(), published: end - PUBLISH_LEAD_SECS });
        assert_eq!(due(&k, end - 1), None);
        assert_eq!(due(&k, end), Some(Step::Activate));
        // Staged late: still a whole lead before it signs.
        k.next.as_mut().unwrap().published = end + 10;
        assert_eq!(due(&k, end + 10 + PUBLISH_LEAD_SECS - 1), None);
        assert_eq!(due(&k, end + 10 + PUBLISH_LEAD_SECS), Some(Step::Activate));
    }

    #[test]
    fn retired_keys_past_their_tokens_are_due_to_go() {
        let mut k = keys();
        k.retired.push(RetiredKey { key: k.id.clone(), key_use: KeyUse::Id, until: 500 });
        assert_eq!(due(&k, 499), None);
        assert_eq!(due(&k, 500), Some(Step::Prune));
    }
}
