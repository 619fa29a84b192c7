//! The identity records: the identity (`IDENTITY#pool#id`: its linked logins, dates, and when
//! merged away, disabled with the id it merged into), its listing entry (`IDENTITIES#pool`, sk =
//! id), an index entry naming its pool (the public operations name only the identity), and one item
//! per linked login (`IDLOGIN#pool#provider#userId` → identity id). A login item is created with
//! `Cond::NotExists`, so a login links to one identity only; every change to an identity's logins
//! writes the identity and the login items in one transaction.

use super::errors::identity_not_found;
use super::pool::IdentityPool;
use crate::error::{Error, Result};
use crate::model::keys;
use crate::service::Service;
use crate::store::{Cond, Item, Write};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::BTreeSet;

/// Tries of a write that lost a race with another before giving up.
pub(super) const ATTEMPTS: usize = 3;

/// merged_into hops followed before a chain is considered broken.
const MAX_MERGE_HOPS: usize = 8;

/// A login linked to an identity: the provider name and the provider's id for the user.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub(super) struct LinkedLogin {
    pub provider: String,
    pub user_id: String,
}

/// One identity of an identity pool.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Identity {
    pub identity_id: String,
    pub identity_pool_id: String,
    /// Authenticated iff not empty.
    #[serde(default)]
    pub logins: Vec<LinkedLogin>,
    /// Epoch ms.
    pub created: i64,
    pub modified: i64,
    /// Merged into another identity, or stripped of its last login: no tokens any more.
    #[serde(default)]
    pub disabled: bool,
    /// The identity this one was merged into (it then holds this one's logins and datasets).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merged_into: Option<String>,
}

impl Identity {
    pub(super) fn is_authenticated(&self) -> bool {
        !self.logins.is_empty()
    }

    /// The model's `IdentityDescription`.
    pub(super) fn describe(&self) -> Value {
        let mut out = json!({
            "IdentityId": self.identity_id,
            "CreationDate": self.created as f64 / 1000.0,
            "LastModifiedDate": self.modified as f64 / 1000.0,
        });
        if self.is_authenticated() {
            out["Logins"] = json!(self.providers());
        }
        out
    }

    /// The providers of the linked logins, each once.
    fn providers(&self) -> Vec<String> {
        let mut seen = BTreeSet::new();
        self.logins.iter().filter(|l| seen.insert(&l.provider)).map(|l| l.provider.clone()).collect()
    }
}

/// An identity, when it exists in the pool.
pub(super) async fn load_identity(
    svc: &Service,
    identity_pool_id: &str,
    identity_id: &str,
) -> Result<Option<(Identity, u64)>> {
    svc.get_json::<Identity>(&keys::identity(identity_pool_id, identity_id), keys::IDENTITY_SK).await
}

/// An identity found by its id alone, or ResourceNotFoundException.
pub(super) async fn find_identity(svc: &Service, identity_id: &str) -> Result<(Identity, u64)> {
    let pool_id = svc
        .get_json::<Value>(&keys::identity_pool_of(identity_id), keys::IDENTITY_POOL_OF_SK)
        .await?
        .and_then(|(v, _)| v.get("IdentityPoolId").and_then(Value::as_str).map(str::to_string))
        .ok_or_else(|| identity_not_found(identity_id))?;
    load_identity(svc, &pool_id, identity_id).await?.ok_or_else(|| identity_not_found(identity_id))
}

/// The identity, or the one it was merged into (following the chain).
pub(super) async fn load_live(
    svc: &Service,
    identity_pool_id: &str,
    identity_id: &str,
) -> Result<Option<(Identity, u64)>> {
    let mut found = load_identity(svc, identity_pool_id, identity_id).await?;
    for _ in 0..MAX_MERGE_HOPS {
        match found {
            Some((ref identity, _)) if identity.disabled => match identity.merged_into.clone() {
                Some(parent) => found = load_identity(svc, identity_pool_id, &parent).await?,
                None => return Ok(found),
            },
            _ => return Ok(found),
        }
    }
    Ok(found)
}

pub(super) fn login_key(identity_pool_id: &str, login: &LinkedLogin) -> String {
    keys::identity_login(identity_pool_id, &login.provider, &login.user_id)
}

/// The identity a login item names, and the item's version.
pub(super) async fn login_owner(
    svc: &Service,
    identity_pool_id: &str,
    login: &LinkedLogin,
) -> Result<Option<(String, u64)>> {
    let item =
        svc.store.get(&login_key(identity_pool_id, login), keys::IDENTITY_LOGIN_SK, svc.now_secs()).await?;
    Ok(item.and_then(|i| {
        let owner = i.body.get("IdentityId").and_then(Value::as_str)?.to_string();
        Some((owner, i.version))
    }))
}

/// A login item naming `identity_id`, written with `cond` at item version `version`.
pub(super) fn login_put(
    identity_pool_id: &str,
    login: &LinkedLogin,
    identity_id: &str,
    cond: Cond,
    version: u64,
) -> Write {
    let mut item = Item::new(
        login_key(identity_pool_id, login),
        keys::IDENTITY_LOGIN_SK,
        json!({"IdentityId": identity_id}),
    );
    item.version = version;
    Write::put(item, cond)
}

/// The identity's item, conditional on `version` (`None`: new).
pub(super) fn identity_put(identity: &Identity, version: Option<u64>) -> Result<Write> {
    let item = Item::new(
        keys::identity(&identity.identity_pool_id, &identity.identity_id),
        keys::IDENTITY_SK,
        serde_json::to_value(identity).map_err(Error::internal)?,
    );
    Ok(Write::put_versioned(item, version))
}

/// A new identity's item, listing entry and index entry (its logins are the caller's).
pub(super) fn new_identity_writes(identity: &Identity) -> Result<Vec<Write>> {
    Ok(vec![
        identity_put(identity, None)?,
        Write::put(
            Item::new(keys::pool_identities(&identity.identity_pool_id), &identity.identity_id, json!({})),
            Cond::NotExists,
        ),
        Write::put(
            Item::new(
                keys::identity_pool_of(&identity.identity_id),
                keys::IDENTITY_POOL_OF_SK,
                json!({"IdentityPoolId": identity.identity_pool_id}),
            ),
            Cond::NotExists,
        ),
    ])
}

/// Everything that makes up an identity, deleted (conditional on `version` when given).
pub(super) fn delete_identity_writes(identity: &Identity, version: Option<u64>) -> Vec<Write> {
    let pool = &identity.identity_pool_id;
    let mut writes = vec![
        Write::delete(
            keys::identity(pool, &identity.identity_id),
            keys::IDENTITY_SK,
            version.map(Cond::Version).unwrap_or(Cond::None),
        ),
        Write::delete(keys::pool_identities(pool), &identity.identity_id, Cond::None),
        Write::delete(keys::identity_pool_of(&identity.identity_id), keys::IDENTITY_POOL_OF_SK, Cond::None),
    ];
    for login in &identity.logins {
        writes.push(Write::delete(login_key(pool, login), keys::IDENTITY_LOGIN_SK, Cond::None));
    }
    writes
}

/// A new identity of the pool, with no logins (not yet written).
pub(super) fn new_identity(svc: &Service, pool: &IdentityPool) -> Identity {
    let region = pool.identity_pool_id.split(':').next().unwrap_or(&svc.config.region);
    let now = svc.clock.now_millis();
    Identity {
        identity_id: format!("{region}:{}", svc.rng.uuid()),
        identity_pool_id: pool.identity_pool_id.clone(),
        logins: Vec::new(),
        created: now,
        modified: now,
        disabled: false,
        merged_into: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn login(p: &str, u: &str) -> LinkedLogin {
        LinkedLogin { provider: p.into(), user_id: u.into() }
    }

    #[test]
    fn descriptions_name_each_provider_once() {
        let identity = Identity {
            identity_id: "us-east-1:i".into(),
            identity_pool_id: "us-east-1:p".into(),
            logins: vec![login("dev", "1"), login("dev", "2"), login("host/us-east-1_a", "s")],
            created: 1_500,
            modified: 2_000,
            disabled: false,
            merged_into: None,
        };
        let d = identity.describe();
        assert_eq!(d["Logins"], json!(["dev", "host/us-east-1_a"]));
        assert_eq!(d["CreationDate"], json!(1.5));
        let guest = Identity { logins: vec![], ..identity };
        assert!(guest.describe().get("Logins").is_none());
    }
}
