//! `tessera restore`: two passes over the same archive.
//!
//! The first pass reads everything and writes nothing: the header, every item's place (an
//! item may only land under the keys of a pool the header names, so an archive cannot write
//! elsewhere in the store), the end line's count and SHA-256, and the conflicts with what the
//! store holds. The second pass writes. The records that make a pool visible (the pool and
//! its listing entry) are written last, after the end line is checked again: a restore that
//! stops early leaves no pool anyone can reach, and running it again finishes it.

use super::{seal_secrets, Archived, Digest, Header, Kind, Line, FORMAT, VERSION};
use crate::error::{Error, Result};
use crate::keys;
use crate::model::{User, UserPool};
use crate::store::{Cond, Item, Write, MAX_TRANSACTION_WRITES};
use crate::Service;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};

/// New ids for what the archive holds.
#[derive(Debug, Clone, Default)]
pub struct Remap {
    /// Old user pool id → new. A new id with the same part after `_` (another region) keeps
    /// the SRP verifiers; another part drops them (SRP's "pool name" is that part), and
    /// each user's next password sign-in makes a new one.
    pub user_pools: BTreeMap<String, String>,
    /// Give every app client a new id (needed to restore a copy beside the original).
    pub new_client_ids: bool,
}

#[derive(Debug, Clone, Default)]
pub struct RestoreOptions {
    /// Replace pools that exist (deleted first, with everything they hold).
    pub replace: bool,
    pub remap: Remap,
}

/// What a restore wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RestoreReport {
    pub user_pools: Vec<String>,
    pub identity_pools: Vec<String>,
    pub users: u64,
    pub items: u64,
    /// Pools that existed and were replaced.
    pub replaced: Vec<String>,
    /// Why the deployment's identity-token key was not restored, if it was not.
    pub kept_deployment_key: bool,
}

#[derive(PartialEq, Eq)]
enum Pass {
    Check,
    Apply,
}

/// Reads an archive line by line: [`Restorer::check`] each line, [`Restorer::checked`], then
/// [`Restorer::apply`] each line again and [`Restorer::finish`].
pub struct Restorer<'a> {
    svc: &'a Service,
    opts: RestoreOptions,
    pass: Pass,
    header: Option<Header>,
    digest: Digest,
    ended: bool,
    /// Old → new, for every id string the archive holds (pool ids, client ids).
    renames: Vec<(String, String)>,
    client_renames: BTreeMap<String, String>,
    drop_srp: BTreeSet<String>,
    /// The restored pools by (new) id, for rebuilding their users' indexes.
    pools: BTreeMap<String, UserPool>,
    existing_user_pools: BTreeSet<String>,
    existing_identity_pools: BTreeSet<String>,
    batch: Vec<Write>,
    commits: Vec<Archived>,
    report: RestoreReport,
}

impl<'a> Restorer<'a> {
    pub fn new(svc: &'a Service, opts: RestoreOptions) -> Self {
        Restorer {
            svc,
            opts,
            pass: Pass::Check,
            header: None,
            digest: Digest::default(),
            ended: false,
            renames: Vec::new(),
            client_renames: BTreeMap::new(),
            drop_srp: BTreeSet::new(),
            pools: BTreeMap::new(),
            existing_user_pools: BTreeSet::new(),
            existing_identity_pools: BTreeSet::new(),
            batch: Vec::new(),
            commits: Vec::new(),
            report: RestoreReport::default(),
        }
    }

    /// The archive's header, once read.
    pub fn header(&self) -> Option<&Header> {
        self.header.as_ref()
    }

    /// First pass: one line, nothing written.
    pub async fn check(&mut self, line: &[u8]) -> Result<()> {
        debug_assert!(self.pass == Pass::Check);
        if let Some(mut item) = self.read(line)? {
            self.check_item(&mut item).await?;
        }
        Ok(())
    }

    /// The end of the first pass: the archive is whole, and nothing in the store stands in
    /// the way (or `replace` was asked for, and what stood in the way is deleted now).
    pub async fn checked(&mut self) -> Result<()> {
        self.read_to_end()?;
        let blocking: Vec<String> =
            self.existing_user_pools.iter().chain(&self.existing_identity_pools).cloned().collect();
        if !blocking.is_empty() && !self.opts.replace {
            return Err(Error::ResourceConflictException(format!(
                "{} already exist{} in this store; restore does not overwrite a pool unless asked to \
                 (--replace), or restores beside it under new ids (--new-ids)",
                blocking.join(", "),
                if blocking.len() == 1 { "s" } else { "" }
            )));
        }
        for id in self.existing_user_pools.clone() {
            let pool = self.svc.pool(&id).await?;
            crate::user_pool::pools::purge_user_pool(self.svc, &pool).await?;
            self.report.replaced.push(id);
        }
        for id in self.existing_identity_pools.clone() {
            crate::identity::delete_identity_pool(self.svc, &json!({"IdentityPoolId": id})).await?;
            self.report.replaced.push(id);
        }
        self.pass = Pass::Apply;
        self.header = None;
        self.digest = Digest::default();
        self.ended = false;
        Ok(())
    }

    /// Second pass: one line, written (in batches).
    pub async fn apply(&mut self, line: &[u8]) -> Result<()> {
        debug_assert!(self.pass == Pass::Apply);
        if let Some(mut item) = self.read(line)? {
            self.rename(&mut item);
            self.write_item(item).await?;
        }
        Ok(())
    }

    /// The end of the second pass: the last writes, then the pools made visible.
    pub async fn finish(mut self) -> Result<RestoreReport> {
        self.read_to_end()?;
        self.flush().await?;
        let now = self.svc.now_secs();
        // Each pool with its listing entry in one transaction.
        let commits = std::mem::take(&mut self.commits);
        let mut by_pool: BTreeMap<String, Vec<Write>> = BTreeMap::new();
        for c in commits {
            let id = match c.kind {
                Kind::UserPool => c.pk.trim_start_matches("POOL#").to_string(),
                Kind::IdentityPool => c.pk.trim_start_matches("IDPOOL#").to_string(),
                _ => c.sk.clone(),
            };
            by_pool.entry(id).or_default().push(put(c));
        }
        for (id, writes) in by_pool {
            self.svc.store.transact(writes, now).await?;
            self.svc.forget_pool(&id);
        }
        let header = self.header.take().unwrap_or_else(unreachable_header);
        self.report.user_pools = header.user_pools.iter().map(|p| self.new_id(p)).collect();
        self.report.identity_pools = header.identity_pools;
        Ok(self.report)
    }

    fn new_id(&self, old: &str) -> String {
        self.opts.remap.user_pools.get(old).cloned().unwrap_or_else(|| old.to_string())
    }

    /// Parses a line in order: header first, items, the end line last.
    fn read(&mut self, line: &[u8]) -> Result<Option<Archived>> {
        if self.ended {
            return Err(corrupt("there are lines after its end"));
        }
        let parsed: Line = serde_json::from_slice(line)
            .map_err(|e| corrupt(&format!("a line is not an archive line ({e})")))?;
        match (parsed, &self.header) {
            (Line::Header(h), None) => {
                if h.format != FORMAT {
                    return Err(corrupt("it is not a Tessera archive"));
                }
                if h.version != VERSION {
                    return Err(Error::invalid(format!(
                        "the archive is format version {}; this Tessera reads version {VERSION}",
                        h.version
                    )));
                }
                if self.pass == Pass::Check {
                    self.plan_renames(&h)?;
                }
                self.header = Some(h);
                Ok(None)
            }
            (_, None) => Err(corrupt("it does not begin with a header")),
            (Line::Header(_), Some(_)) => Err(corrupt("it has a second header")),
            (Line::Item(item), Some(_)) => {
                self.digest.add(line);
                Ok(Some(item))
            }
            (Line::End(end), Some(_)) => {
                let mine = std::mem::take(&mut self.digest).end();
                if mine != end {
                    return Err(corrupt("its items do not match its end line (altered, or cut and mended)"));
                }
                self.ended = true;
                Ok(None)
            }
        }
    }

    fn read_to_end(&self) -> Result<()> {
        if self.header.is_none() {
            return Err(corrupt("it is empty"));
        }
        if !self.ended {
            return Err(corrupt("it ends early (no end line)"));
        }
        Ok(())
    }

    fn plan_renames(&mut self, header: &Header) -> Result<()> {
        for old in &header.user_pools {
            let new = self.new_id(old);
            if !crate::ids::is_pool_id(&new) {
                return Err(Error::invalid(format!("{new} is not a user pool id")));
            }
            if crate::ids::pool_suffix(&new) != crate::ids::pool_suffix(old) {
                self.drop_srp.insert(new.clone());
            }
            if &new != old {
                self.renames.push((old.clone(), new));
            }
        }
        Ok(())
    }

    fn rename(&self, item: &mut Archived) {
        if self.renames.is_empty() && self.client_renames.is_empty() {
            return;
        }
        let swap = |s: &mut String| {
            for (old, new) in self.renames.iter().map(|(o, n)| (o, n)).chain(&self.client_renames) {
                if s.contains(old.as_str()) {
                    *s = s.replace(old.as_str(), new);
                }
            }
        };
        swap(&mut item.pk);
        swap(&mut item.sk);
        fn walk(v: &mut Value, swap: &dyn Fn(&mut String)) {
            match v {
                Value::String(s) => swap(s),
                Value::Array(a) => a.iter_mut().for_each(|x| walk(x, swap)),
                Value::Object(m) => m.values_mut().for_each(|x| walk(x, swap)),
                _ => {}
            }
        }
        walk(&mut item.body, &swap);
    }

    async fn check_item(&mut self, item: &mut Archived) -> Result<()> {
        let header = self.header.clone().unwrap_or_else(unreachable_header);
        if !belongs(item, &header) {
            return Err(corrupt(&format!(
                "a {:?} item under {} / {} belongs to no pool the archive names",
                item.kind, item.pk, item.sk
            )));
        }
        if let Some(why) = super::secrets_misfit(item) {
            return Err(corrupt(&format!("a {:?} item has {why}", item.kind)));
        }
        if item.kind == Kind::AppClient && self.opts.remap.new_client_ids {
            let old = item.pk.trim_start_matches("CLIENT#").to_string();
            let new = crate::ids::client_id(self.svc.rng.as_ref());
            self.client_renames.insert(old, new);
        }
        self.rename(item);
        let now = self.svc.now_secs();
        let restored = self.pools_restored(&header);
        let ours = |pool_id: Option<&str>| pool_id.is_some_and(|p| restored.contains(p));
        match item.kind {
            Kind::UserPool => {
                let pool: UserPool = serde_json::from_value(item.body.clone())
                    .map_err(|e| corrupt(&format!("a user pool does not read ({e})")))?;
                if self.svc.store.get(&item.pk, &item.sk, now).await?.is_some() {
                    self.existing_user_pools.insert(pool.id.clone());
                }
            }
            Kind::User => {
                serde_json::from_value::<User>(item.body.clone())
                    .map_err(|e| corrupt(&format!("a user does not read ({e})")))?;
            }
            Kind::IdentityPool => {
                let held = self.svc.store.get(&item.pk, &item.sk, now).await?;
                if held.is_some() {
                    self.existing_identity_pools.insert(item.pk.trim_start_matches("IDPOOL#").to_string());
                }
            }
            Kind::AppClient | Kind::Domain => {
                if let Some(held) = self.svc.store.get(&item.pk, &item.sk, now).await? {
                    let owner = held.body.get("pool_id").and_then(Value::as_str);
                    if !ours(owner) {
                        return Err(Error::ResourceConflictException(format!(
                            "{} is held by user pool {} in this store{}",
                            item.pk,
                            owner.unwrap_or("?"),
                            if item.kind == Kind::AppClient {
                                " (restore with --new-ids to give the clients new ids)"
                            } else {
                                ""
                            }
                        )));
                    }
                }
            }
            Kind::IdentityPoolOf => {
                if let Some(held) = self.svc.store.get(&item.pk, &item.sk, now).await? {
                    if held.body != item.body {
                        return Err(Error::ResourceConflictException(format!(
                            "identity {} belongs to another identity pool in this store",
                            item.pk.trim_start_matches("IDENTITYOF#")
                        )));
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// The ids the archive's pools get here.
    fn pools_restored(&self, header: &Header) -> BTreeSet<String> {
        header
            .user_pools
            .iter()
            .map(|p| self.new_id(p))
            .chain(header.identity_pools.iter().cloned())
            .collect()
    }

    async fn write_item(&mut self, mut item: Archived) -> Result<()> {
        self.report.items += 1;
        if item.kind == Kind::User {
            return self.write_user(item).await;
        }
        if item.kind == Kind::IdentityTokenKey {
            let now = self.svc.now_secs();
            if self.svc.store.get(&item.pk, &item.sk, now).await?.is_some() {
                // The deployment's own key stays: tokens it signed keep verifying.
                self.report.kept_deployment_key = true;
                return Ok(());
            }
        }
        seal_secrets(self.svc.cipher.as_ref(), &mut item)?;
        if item.kind == Kind::UserPool {
            let pool: UserPool = serde_json::from_value(item.body.clone()).map_err(Error::internal)?;
            self.pools.insert(pool.id.clone(), pool);
        }
        if item.kind.commits() {
            self.commits.push(item);
            return Ok(());
        }
        self.push(vec![put(item)]).await
    }

    async fn write_user(&mut self, mut item: Archived) -> Result<()> {
        let pool_id = self
            .pools
            .keys()
            .find(|id| item.pk.starts_with(&keys::user(id, "")))
            .cloned()
            .ok_or_else(|| corrupt("a user comes before its pool"))?;
        if self.drop_srp.contains(&pool_id) {
            item.secrets.remove("/srp/sealed_verifier");
            item.body["srp"] = Value::Null;
        }
        seal_secrets(self.svc.cipher.as_ref(), &mut item)?;
        let pool = &self.pools[&pool_id];
        let mut user: User =
            serde_json::from_value(item.body).map_err(|e| corrupt(&format!("a user does not read ({e})")))?;
        user.codes.clear();
        user.owned = crate::user_index::desired(pool, &user);
        let key = pool.username_key(&user.username);
        let mut writes = vec![
            Write::put(
                Item::new(
                    keys::user(&pool.id, &key),
                    keys::USER_SK,
                    serde_json::to_value(&user).map_err(Error::internal)?,
                ),
                Cond::None,
            ),
            Write::put(Item::new(keys::pool_users(&pool.id), key, json!({})), Cond::None),
        ];
        let index = crate::user_index::diff(pool, &user, &Default::default(), &user.owned);
        // Over what an interrupted restore of this archive left: nothing else can be there,
        // the pool not being visible yet.
        writes.extend(index.writes.into_iter().map(|w| match w {
            Write::Put { item, .. } => Write::put(item, Cond::None),
            other => other,
        }));
        self.report.users += 1;
        self.push(writes).await
    }

    async fn push(&mut self, writes: Vec<Write>) -> Result<()> {
        if self.batch.len() + writes.len() > MAX_TRANSACTION_WRITES {
            self.flush().await?;
        }
        self.batch.extend(writes);
        Ok(())
    }

    async fn flush(&mut self) -> Result<()> {
        if self.batch.is_empty() {
            return Ok(());
        }
        let writes = std::mem::take(&mut self.batch);
        self.svc.store.transact(writes, self.svc.now_secs()).await?;
        Ok(())
    }
}

fn put(item: Archived) -> Write {
    let mut stored = Item::new(item.pk, item.sk, item.body);
    stored.expires_at = item.expires_at;
    Write::put(stored, Cond::None)
}

fn corrupt(why: &str) -> Error {
    Error::invalid(format!("The archive cannot be restored: {why}. Nothing was written."))
}

fn unreachable_header() -> Header {
    Header {
        format: FORMAT.into(),
        version: VERSION,
        created: 0,
        tessera: String::new(),
        user_pools: Vec::new(),
        identity_pools: Vec::new(),
        deployment_keys: false,
    }
}

/// Whether an item's keys are among those of a pool the header names.
fn belongs(item: &Archived, header: &Header) -> bool {
    let (pk, sk) = (item.pk.as_str(), item.sk.as_str());
    let pool_of_body = |member: &str| item.body.get(member).and_then(Value::as_str);
    let user_pool = |p: &String| -> bool {
        match item.kind {
            Kind::UserPool => pk == keys::pool(p) && sk == keys::POOL_SK,
            Kind::UserPoolListing => pk == keys::POOLS && sk == p,
            Kind::AppClient => {
                pk.starts_with("CLIENT#") && sk == keys::CLIENT_SK && pool_of_body("pool_id") == Some(p)
            }
            Kind::AppClientListing => pk == keys::pool(p) && sk.starts_with(keys::POOL_CLIENT_PREFIX),
            Kind::Domain => {
                pk.starts_with("DOMAIN#")
                    && sk == keys::USER_POOL_DOMAIN_SK
                    && pool_of_body("pool_id") == Some(p)
            }
            Kind::ResourceServer => pk == keys::resource_servers(p),
            Kind::IdentityProvider => pk == keys::identity_providers(p),
            Kind::IdpIdentifier => pk == keys::idp_identifiers(p),
            Kind::SamlKeys => pk == keys::saml_sp_keys(p),
            Kind::UiCustomization => pk == keys::ui_customizations(p),
            Kind::ProviderLink => pk.starts_with(&format!("IDPLINK#{p}#")),
            Kind::Group => pk.starts_with(&keys::group(p, "")),
            Kind::GroupListing => pk == keys::pool_groups(p),
            Kind::GroupCount => pk == keys::pool_group_count(p),
            Kind::GroupMember => pk.starts_with(&keys::group_members(p, "")),
            Kind::UserGroup => pk.starts_with(&keys::user_groups(p, "")),
            Kind::User => pk.starts_with(&keys::user(p, "")) && sk == keys::USER_SK,
            Kind::Device => pk.starts_with(&keys::user_devices(p, "")),
            _ => false,
        }
    };
    let identity_pool = |p: &String| -> bool {
        match item.kind {
            Kind::IdentityPool => pk == keys::identity_pool(p) && sk == keys::IDENTITY_POOL_SK,
            Kind::IdentityPoolListing => pk == keys::IDENTITY_POOLS && sk == p,
            Kind::IdentityPoolSyncConfig => pk == keys::identity_pool_sync_config(p),
            Kind::Identity => pk.starts_with(&keys::identity(p, "")),
            Kind::IdentityListing => pk == keys::pool_identities(p),
            Kind::IdentityPoolOf => {
                pk.starts_with("IDENTITYOF#") && pool_of_body("IdentityPoolId") == Some(p)
            }
            Kind::IdentityLogin => pk.starts_with(&format!("IDLOGIN#{p}#")),
            Kind::SyncDataset => pk.starts_with(&keys::sync::datasets(p, "")),
            Kind::SyncRecord => pk.starts_with(&format!("SYNCREC#{p}#")),
            Kind::SyncIdentityCount => pk == keys::sync::identities(p),
            Kind::SyncUsage => pk == keys::sync::usage(p),
            Kind::SyncPush => pk.starts_with(&keys::push::devices(p, "")),
            _ => false,
        }
    };
    if item.kind == Kind::IdentityTokenKey {
        return header.deployment_keys
            && pk == crate::identity::TOKEN_KEY_PK
            && sk == crate::identity::TOKEN_KEY_SK;
    }
    header.user_pools.iter().any(user_pool) || header.identity_pools.iter().any(identity_pool)
}
