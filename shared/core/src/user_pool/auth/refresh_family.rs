//! A sign-in's session family (its [`Origin`]): the refresh tokens it holds, rotation with a
//! grace period, and reuse detection. A refresh token is `{origin_jti}.{secret}`; the family
//! keeps only hashes.

use crate::error::{Error, Result};
use crate::model::keys;
use crate::retry::{retry_on_conflict, Attempt};
use crate::store::Cond;
use crate::store::Write;
use crate::Service;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// One sign-in's session family: its refresh token and the access tokens it issued.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Origin {
    pub pool_id: String,
    pub client_id: String,
    pub username: String,
    /// The user's `sub`: a later user given the same username never inherits the family.
    #[serde(default)]
    pub sub: String,
    pub refresh_hash: String,
    pub auth_time: i64,
    /// When the family began (epoch ms); a global sign-out at or after this revokes it.
    pub created_ms: i64,
    /// The device the sign-in used: its access tokens carry it as `device_key`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_key: Option<String>,
    /// The scopes an OAuth 2.0 sign-in (the auth domain's code or implicit grant) granted; its
    /// refreshed tokens keep them. None: a sign-in through the API
    /// (`aws.cognito.signin.user.admin`, and an ID token).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
    /// Refresh tokens still accepted besides `refresh_hash` (rotation's grace period; see
    /// [`rotate`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub also_live: Vec<LiveRefresh>,
    /// Hash prefixes of rotated-out refresh tokens, oldest first: presenting one is reuse.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub spent: Vec<String>,
}

/// How many rotated-out tokens a family remembers for reuse detection; an older one is only
/// "Invalid Refresh Token" (no revocation).
pub(crate) const SPENT_KEPT: usize = 64;

/// How many tokens of one family may be live at once (branches made by retries in the grace period).
pub(crate) const LIVE_KEPT: usize = 4;

/// Attempts at the family's conditional write before giving up (concurrent refreshes).
pub(crate) const ROTATE_ATTEMPTS: usize = 6;

/// A token of the family that is still accepted besides the newest one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiveRefresh {
    pub hash: String,
    /// The end of its grace period (epoch ms); `None` for a sibling issued by a retry, which
    /// lives until it is itself rotated out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until_ms: Option<i64>,
}

pub(crate) fn refresh_hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// The part of a hash kept in the spent list (128 bits).
pub(crate) fn spent_id(hash: &str) -> String {
    hash.chars().take(32).collect()
}

pub(crate) fn same(a: &str, b: &str) -> bool {
    subtle::ConstantTimeEq::ct_eq(a.as_bytes(), b.as_bytes()).into()
}

/// `{origin_jti}.{secret}`: opaque to clients, stored only as a hash.
pub(crate) fn split_refresh_token(token: &str) -> Option<(&str, &str)> {
    let (origin, secret) = token.split_once('.')?;
    (uuid::Uuid::parse_str(origin).is_ok() && !secret.is_empty() && !secret.contains('.'))
        .then_some((origin, secret))
}

/// What a presented token is to its family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Presented {
    /// The newest token.
    Current,
    /// `also_live[i]`: in its grace period, or a retry's sibling.
    Live(usize),
    /// Rotated out and past its grace period: reuse.
    Spent,
    /// Never issued by this family (or forgotten long ago).
    Unknown,
}

impl Presented {
    pub fn is_live(self) -> bool {
        matches!(self, Presented::Current | Presented::Live(_))
    }
}

/// Compares against every hash the family holds (no early exit).
pub fn classify(origin: &Origin, hash: &str, now_ms: i64) -> Presented {
    let mut found = Presented::Unknown;
    if same(hash, &origin.refresh_hash) {
        found = Presented::Current;
    }
    for (i, live) in origin.also_live.iter().enumerate() {
        if same(hash, &live.hash) {
            found = match live.until_ms {
                Some(until) if until <= now_ms => Presented::Spent,
                _ => Presented::Live(i),
            };
        }
    }
    let id = spent_id(hash);
    for spent in &origin.spent {
        if same(&id, spent) && found == Presented::Unknown {
            found = Presented::Spent;
        }
    }
    found
}

/// The family after `presented` (live) was exchanged for the token hashed `next`.
pub fn rotate(origin: &Origin, presented: Presented, next: String, grace_secs: i64, now_ms: i64) -> Origin {
    let mut out = origin.clone();
    let spend = |out: &mut Origin, hash: &str| out.spent.push(spent_id(hash));
    let grace_until = (grace_secs > 0).then_some(now_ms + grace_secs * 1000);
    let mut live = Vec::new();
    for (i, entry) in origin.also_live.iter().enumerate() {
        let used_now = presented == Presented::Live(i);
        match (entry.until_ms, used_now) {
            (Some(until), _) if until <= now_ms => spend(&mut out, &entry.hash),
            // A retry in the grace period: the token keeps its deadline.
            (Some(_), true) => live.push(entry.clone()),
            // A sibling rotated out now.
            (None, true) => match grace_until {
                Some(until) => live.push(LiveRefresh { hash: entry.hash.clone(), until_ms: Some(until) }),
                None => spend(&mut out, &entry.hash),
            },
            (_, false) => live.push(entry.clone()),
        }
    }
    match presented {
        Presented::Current => match grace_until {
            Some(until) => {
                live.push(LiveRefresh { hash: origin.refresh_hash.clone(), until_ms: Some(until) })
            }
            None => spend(&mut out, &origin.refresh_hash),
        },
        // A retry (or a sibling's refresh): the newest token so far stays usable; the two
        // clients that raced each keep theirs.
        _ => live.push(LiveRefresh { hash: origin.refresh_hash.clone(), until_ms: None }),
    }
    // Bounded: the oldest siblings go first.
    while live.iter().filter(|l| l.until_ms.is_none()).count() > LIVE_KEPT {
        if let Some(pos) = live.iter().position(|l| l.until_ms.is_none()) {
            let gone = live.remove(pos);
            spend(&mut out, &gone.hash);
        }
    }
    let excess = out.spent.len().saturating_sub(SPENT_KEPT);
    out.spent.drain(..excess);
    out.also_live = live;
    out.refresh_hash = next;
    out
}

/// The session family a refresh token names, with the item's version and what the token is to it.
pub(crate) async fn load_family(
    svc: &Service,
    token: &str,
) -> Result<Option<(String, Origin, u64, Presented)>> {
    let Some((origin_jti, secret)) = split_refresh_token(token) else { return Ok(None) };
    let Some((origin, version)) = svc.get_json::<Origin>(&keys::origin(origin_jti), keys::ORIGIN_SK).await?
    else {
        return Ok(None);
    };
    let presented = classify(&origin, &refresh_hash(secret), svc.clock.now_millis());
    Ok(Some((origin_jti.to_string(), origin, version, presented)))
}

/// Ends a family whose rotated-out token came back: whoever holds it, the session is compromised.
pub(crate) async fn revoke_for_reuse(svc: &Service, origin_jti: &str) -> Error {
    let write = Write::delete(keys::origin(origin_jti), keys::ORIGIN_SK, Cond::None);
    if let Err(e) = svc.store.transact(vec![write], svc.now_secs()).await {
        return e.into();
    }
    Error::RefreshTokenReuseException(
        "Refresh token has been revoked: it was used after it was rotated out, so every token of its session is revoked."
            .into(),
    )
}

/// Stores the family's next refresh token in place of the presented one (conditional on the
/// version read; a concurrent refresh makes it read again and reclassify). Returns the new token.
pub(crate) async fn rotate_family(
    svc: &Service,
    origin_jti: &str,
    token: &str,
    grace_secs: i64,
) -> Result<String> {
    let invalid = || Error::not_authorized("Invalid Refresh Token");
    let secret = split_refresh_token(token).map(|(_, s)| s).ok_or_else(invalid)?;
    let presented_hash = refresh_hash(secret);
    let (pk, sk) = (keys::origin(origin_jti), keys::ORIGIN_SK);
    let (pk, presented_hash) = (&pk, &presented_hash);
    let rotated = retry_on_conflict(ROTATE_ATTEMPTS, || async move {
        let now = svc.now_secs();
        let item = svc.store.get(pk, sk, now).await?.ok_or_else(invalid)?;
        let origin: Origin = serde_json::from_value(item.body.clone()).map_err(Error::internal)?;
        let now_ms = svc.clock.now_millis();
        let presented = match classify(&origin, presented_hash, now_ms) {
            Presented::Spent => return Err(revoke_for_reuse(svc, origin_jti).await),
            Presented::Unknown => return Err(invalid()),
            presented => presented,
        };
        let next_secret =
            base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, svc.rng.bytes(32));
        let next = rotate(&origin, presented, refresh_hash(&next_secret), grace_secs, now_ms);
        let mut updated = item.clone();
        updated.body = serde_json::to_value(&next).map_err(Error::internal)?;
        let write = svc.store.transact(vec![Write::put_versioned(updated, Some(item.version))], now).await;
        Attempt::of_write(write, format!("{origin_jti}.{next_secret}"))
    });
    rotated.await?.ok_or_else(|| {
        Error::TooManyRequestsException("Too many concurrent refreshes of one session; try again.".into())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin(current: &str) -> Origin {
        Origin {
            pool_id: "p".into(),
            client_id: "c".into(),
            username: "u".into(),
            sub: "s".into(),
            refresh_hash: refresh_hash(current),
            auth_time: 0,
            created_ms: 0,
            device_key: None,
            scopes: None,
            also_live: vec![],
            spent: vec![],
        }
    }

    #[test]
    fn rotation_without_grace_spends_the_token_at_once() {
        let o = origin("a");
        assert_eq!(classify(&o, &refresh_hash("a"), 0), Presented::Current);
        let o = rotate(&o, Presented::Current, refresh_hash("b"), 0, 1000);
        assert_eq!(classify(&o, &refresh_hash("a"), 1000), Presented::Spent);
        assert_eq!(classify(&o, &refresh_hash("b"), 1000), Presented::Current);
        assert_eq!(classify(&o, &refresh_hash("x"), 1000), Presented::Unknown);
    }

    #[test]
    fn the_grace_period_lets_a_retry_through_then_ends() {
        let o = rotate(&origin("a"), Presented::Current, refresh_hash("b"), 10, 1000);
        // Within the grace period the old token is live; a retry makes a sibling of "b".
        let p = classify(&o, &refresh_hash("a"), 5000);
        assert!(matches!(p, Presented::Live(_)));
        let o2 = rotate(&o, p, refresh_hash("c"), 10, 5000);
        assert_eq!(classify(&o2, &refresh_hash("c"), 5000), Presented::Current);
        assert!(classify(&o2, &refresh_hash("b"), 5000).is_live());
        // The retry did not extend the old token's grace period.
        assert_eq!(classify(&o2, &refresh_hash("a"), 11_000), Presented::Spent);
        assert!(classify(&o2, &refresh_hash("b"), 11_000).is_live());
        // Pruned into the spent list at the next rotation, still recognised.
        let o3 = rotate(&o2, Presented::Current, refresh_hash("d"), 10, 12_000);
        assert!(o3.also_live.iter().all(|l| l.hash != refresh_hash("a")));
        assert_eq!(classify(&o3, &refresh_hash("a"), 12_000), Presented::Spent);
    }

    #[test]
    fn families_stay_bounded() {
        let mut o = origin("t0");
        for i in 1..200 {
            let p = classify(&o, &o.refresh_hash.clone(), i * 1000);
            assert_eq!(p, Presented::Current);
            o = rotate(&o, p, refresh_hash(&format!("t{i}")), 0, i * 1000);
        }
        assert!(o.spent.len() <= SPENT_KEPT);
        assert_eq!(classify(&o, &refresh_hash("t198"), 200_000), Presented::Spent);
        // Forgotten: no longer reuse, only invalid.
        assert_eq!(classify(&o, &refresh_hash("t1"), 200_000), Presented::Unknown);
        // Siblings are capped too.
        let mut o = origin("s0");
        o = rotate(&o, Presented::Current, refresh_hash("s1"), 60, 0);
        for i in 2..20 {
            let p = classify(&o, &refresh_hash("s0"), 1000);
            o = rotate(&o, p, refresh_hash(&format!("s{i}")), 60, 1000);
        }
        assert!(o.also_live.iter().filter(|l| l.until_ms.is_none()).count() <= LIVE_KEPT);
    }

    #[test]
    fn refresh_tokens_split_strictly() {
        let jti = "0b6f1c9e-3d0a-4a7e-9a51-5d9d8a1f2c3b";
        assert!(split_refresh_token(&format!("{jti}.abc")).is_some());
        assert!(split_refresh_token(&format!("{jti}.")).is_none());
        assert!(split_refresh_token(&format!("{jti}.a.b")).is_none());
        assert!(split_refresh_token("not-a-uuid.abc").is_none());
    }
}
