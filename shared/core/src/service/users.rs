//! The user records: finding a user by any sign-in name, and writing users with their index
//! items (aliases, search entries) in one transaction.

use super::Service;
use crate::error::{Error, Result};
use crate::model::{keys, User, UserPool};
use crate::store::{Cond, Item, StoreError, Write};
use serde_json::Value;
use std::collections::BTreeSet;

/// What ForceAliasCreation changes on the users who held the aliases (see `take_aliases`).
#[derive(Default)]
pub struct AliasTakeover {
    writes: Vec<Write>,
    kinds: BTreeSet<String>,
}

impl Service {
    /// The user a sign-in identifier names: the username, or a sign-in alias the pool uses
    /// (email/phone username attributes, verified email/phone or preferred_username aliases),
    /// or the `sub`.
    pub async fn find_user(&self, pool: &UserPool, identifier: &str) -> Result<Option<(User, u64)>> {
        let key = pool.username_key(identifier);
        if let Some(found) = self.get_json::<User>(&keys::user(&pool.id, &key), keys::USER_SK).await? {
            return Ok(Some(found));
        }
        // While a case change moves users, one may still (or already) be under the other rule.
        let rules = pool.lookup_case_rules();
        for other in rules.iter().map(|&rule| crate::model::fold_username(identifier, rule)) {
            if other != key {
                if let Some(found) =
                    self.get_json::<User>(&keys::user(&pool.id, &other), keys::USER_SK).await?
                {
                    return Ok(Some(found));
                }
            }
        }
        let kinds = pool.sign_in_kinds();
        // A `sub` is a UUID: any other identifier cannot be one, and skipping that read keeps an
        // unknown name's lookup as short as a known alias's (timing, PreventUserExistenceErrors).
        let sub = uuid::Uuid::parse_str(identifier).is_ok().then_some("sub");
        let mut lookups: Vec<(&str, String)> = Vec::new();
        for kind in kinds.into_iter().chain(sub) {
            for &rule in &rules {
                let value = crate::user_index::alias_value_for(rule, kind, identifier);
                if !lookups.iter().any(|(k, v)| *k == kind && *v == value) {
                    lookups.push((kind, value));
                }
            }
        }
        for (kind, value) in lookups {
            if let Some(username) = self.alias_holder(pool, kind, &value).await? {
                let found = self.load_user_named(pool, &username).await?;
                if found.is_some() {
                    return Ok(found);
                }
            }
        }
        Ok(None)
    }

    /// The user with exactly this username. While a CaseSensitive change moves users, one may
    /// have moved between the pool's read and this one: its key by the other rule is tried.
    pub async fn load_user_named(&self, pool: &UserPool, username: &str) -> Result<Option<(User, u64)>> {
        let key = pool.username_key(username);
        let found = self.get_json::<User>(&keys::user(&pool.id, &key), keys::USER_SK).await?;
        if found.is_some() || !pool.case_change_in_progress() {
            return Ok(found.filter(|(u, _)| u.username == username || !pool.case_sensitive_for(username)));
        }
        for other in
            pool.lookup_case_rules().into_iter().map(|rule| crate::model::fold_username(username, rule))
        {
            if other != key {
                let found = self.get_json::<User>(&keys::user(&pool.id, &other), keys::USER_SK).await?;
                if found.as_ref().is_some_and(|(u, _)| u.username == username) {
                    return Ok(found);
                }
            }
        }
        Ok(None)
    }

    /// The username an alias item points at.
    pub async fn alias_holder(&self, pool: &UserPool, kind: &str, value: &str) -> Result<Option<String>> {
        Ok(self
            .get_json::<Value>(&keys::alias(&pool.id, kind, value), keys::ALIAS_SK)
            .await?
            .and_then(|(a, _)| a.get("username").and_then(Value::as_str).map(str::to_string)))
    }

    pub async fn require_user(&self, pool: &UserPool, identifier: &str) -> Result<(User, u64)> {
        self.find_user(pool, identifier)
            .await?
            .ok_or_else(|| Error::UserNotFoundException("User does not exist.".into()))
    }

    /// The user item and its index changes, for one transaction. `version` None = a new user.
    /// Aliases of the `taken` kinds are written over their current holder's (ForceAliasCreation).
    fn user_writes(
        &self,
        pool: &UserPool,
        user: &User,
        version: Option<u64>,
        taken: &BTreeSet<String>,
    ) -> Result<(Vec<Write>, Vec<Option<String>>)> {
        let mut user = user.clone();
        let desired = crate::user_index::desired(pool, &user);
        let mut index = crate::user_index::diff(pool, &user, &user.owned, &desired);
        for (write, claim) in index.writes.iter_mut().zip(index.claims.iter_mut()) {
            if let (Write::Put { cond, .. }, Some(kind)) = (write, claim.as_ref()) {
                if taken.contains(kind) {
                    *cond = Cond::None;
                    *claim = None;
                }
            }
        }
        user.owned = desired;
        let item = Item::new(
            keys::user(&pool.id, &pool.username_key(&user.username)),
            keys::USER_SK,
            serde_json::to_value(&user).map_err(Error::internal)?,
        );
        let mut writes = vec![Write::put_versioned(item, version)];
        let mut claims = vec![None];
        writes.extend(index.writes);
        claims.extend(index.claims);
        Ok((writes, claims))
    }

    /// Writes a changed user with its index changes, conditional on the version read (no lost
    /// updates). A sign-in alias another user holds → AliasExistsException.
    pub async fn save_user(
        &self,
        pool: &UserPool,
        user: &User,
        version: u64,
        extra: Vec<Write>,
    ) -> Result<()> {
        self.save_user_taking(pool, user, version, AliasTakeover::default(), extra).await
    }

    /// Writes a new user with its listing entry and index items. A taken username or
    /// username attribute → UsernameExistsException; a taken alias → AliasExistsException.
    pub async fn insert_user(&self, pool: &UserPool, user: &User, extra: Vec<Write>) -> Result<()> {
        self.insert_user_taking(pool, user, AliasTakeover::default(), extra).await
    }

    /// The writes that create a user (for callers that batch several users, like imports),
    /// and the alias kind each write claims.
    pub fn new_user_writes(&self, pool: &UserPool, user: &User) -> Result<(Vec<Write>, Vec<Option<String>>)> {
        self.new_user_writes_with(pool, user, &Default::default())
    }

    fn new_user_writes_with(
        &self,
        pool: &UserPool,
        user: &User,
        taken: &BTreeSet<String>,
    ) -> Result<(Vec<Write>, Vec<Option<String>>)> {
        let (mut writes, mut claims) = self.user_writes(pool, user, None, taken)?;
        let listing =
            Item::new(keys::pool_users(&pool.id), pool.username_key(&user.username), serde_json::json!({}));
        writes.insert(1, Write::put(listing, Cond::NotExists));
        claims.insert(1, None);
        Ok((writes, claims))
    }

    /// ForceAliasCreation: for each verified email/phone alias `user` is about to claim that
    /// another user holds, that user saved with the attribute unverified. Pass the result to
    /// [`Service::save_user_taking`] / [`Service::insert_user_taking`], which move the aliases
    /// in the claimant's own transaction, so a failed claim changes nobody.
    pub async fn take_aliases(&self, pool: &UserPool, user: &User) -> Result<AliasTakeover> {
        let mut out = AliasTakeover::default();
        let desired = crate::user_index::desired(pool, user);
        for (kind, value) in &desired.aliases {
            if kind == "sub" || user.owned.aliases.get(kind) == Some(value) {
                continue;
            }
            let Some(holder) = self.alias_holder(pool, kind, value).await? else { continue };
            if holder == user.username {
                continue;
            }
            let Some((mut other, version)) = self
                .get_json::<User>(&keys::user(&pool.id, &pool.username_key(&holder)), keys::USER_SK)
                .await?
            else {
                continue;
            };
            if kind == "preferred_username" || pool.username_attributes.contains(kind) {
                // Only verified email/phone aliases move; the others stay unique.
                return Err(alias_exists(kind));
            }
            other.attributes.insert(format!("{kind}_verified"), "false".into());
            other.modified = self.clock.now_millis();
            let moved = keys::alias(&pool.id, kind, value);
            let (writes, _) = self.user_writes(pool, &other, Some(version), &Default::default())?;
            // The claimant overwrites the alias item; deleting it too would touch it twice.
            out.writes.extend(writes.into_iter().filter(|w| w.key() != (moved.as_str(), keys::ALIAS_SK)));
            out.kinds.insert(kind.clone());
        }
        Ok(out)
    }

    /// [`Service::save_user`], moving the aliases [`Service::take_aliases`] found.
    pub async fn save_user_taking(
        &self,
        pool: &UserPool,
        user: &User,
        version: u64,
        takeover: AliasTakeover,
        extra: Vec<Write>,
    ) -> Result<()> {
        let (mut writes, claims) = self.user_writes(pool, user, Some(version), &takeover.kinds)?;
        writes.extend(takeover.writes);
        writes.extend(extra);
        self.commit_user(pool, writes, claims, false).await
    }

    /// [`Service::insert_user`], moving the aliases [`Service::take_aliases`] found.
    pub async fn insert_user_taking(
        &self,
        pool: &UserPool,
        user: &User,
        takeover: AliasTakeover,
        extra: Vec<Write>,
    ) -> Result<()> {
        let (mut writes, claims) = self.new_user_writes_with(pool, user, &takeover.kinds)?;
        writes.extend(takeover.writes);
        writes.extend(extra);
        self.commit_user(pool, writes, claims, true).await
    }

    /// Runs a user's transaction and names what a failed condition means: a taken alias, a
    /// taken username (new users), or a concurrent change.
    async fn commit_user(
        &self,
        pool: &UserPool,
        writes: Vec<Write>,
        claims: Vec<Option<String>>,
        new_user: bool,
    ) -> Result<()> {
        match self.store.transact(writes, self.now_secs()).await {
            Ok(()) => Ok(()),
            Err(StoreError::ConditionFailed { index }) => match claims.get(index).cloned().flatten() {
                Some(kind) if !new_user || (!pool.username_attributes.contains(&kind) && kind != "sub") => {
                    Err(alias_exists(&kind))
                }
                _ if new_user && index < claims.len() => Err(username_exists(pool)),
                _ => Err(Error::ConcurrentModificationException(
                    "The user was modified by another request. Try again.".into(),
                )),
            },
            Err(e) => Err(e.into()),
        }
    }

    /// The writes that remove a user with its listing entry and every index item.
    pub fn delete_user_writes(&self, pool: &UserPool, user: &User, version: Option<u64>) -> Vec<Write> {
        let key = pool.username_key(&user.username);
        let cond = version.map(Cond::Version).unwrap_or(Cond::None);
        let mut writes = vec![
            Write::delete(keys::user(&pool.id, &key), keys::USER_SK, cond),
            Write::delete(keys::pool_users(&pool.id), key.clone(), Cond::None),
        ];
        writes.extend(crate::user_index::diff(pool, user, &user.owned, &Default::default()).writes);
        writes
    }
}

pub fn username_exists(pool: &UserPool) -> Error {
    let only = |kind: &str| pool.username_attributes.len() == 1 && pool.username_attributes[0] == kind;
    if only("email") {
        Error::UsernameExistsException("An account with the given email already exists.".into())
    } else if only("phone_number") {
        Error::UsernameExistsException("An account with the given phone_number already exists.".into())
    } else {
        Error::UsernameExistsException("User already exists".into())
    }
}

pub fn alias_exists(kind: &str) -> Error {
    Error::AliasExistsException(format!("An account with the given {kind} already exists."))
}
