//! `tessera export`: walks each pool's records through the store's listings, one page at a
//! time, and hands every record to the sink as it is read (memory stays flat however many
//! users a pool holds).

use super::{open_secrets, ArchiveSink, Archived, Digest, Header, Kind, Line, FORMAT, VERSION};
use crate::error::{Error, Result};
use crate::keys;
use crate::store::{Item, MAX_TRANSACTION_WRITES};
use crate::Service;
use serde_json::Value;

/// What to export.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    pub user_pools: Vec<String>,
    pub identity_pools: Vec<String>,
    /// Every pool of the store, and the deployment's identity-token key.
    pub all: bool,
}

struct Writer<'a> {
    svc: &'a Service,
    sink: &'a mut dyn ArchiveSink,
    digest: Digest,
}

impl Writer<'_> {
    fn line(&mut self, line: &Line) -> Result<()> {
        let bytes = serde_json::to_vec(line).map_err(Error::internal)?;
        if matches!(line, Line::Item(_)) {
            self.digest.add(&bytes);
        }
        self.sink.line(&bytes)
    }

    fn item(&mut self, kind: Kind, item: Item) -> Result<()> {
        let mut archived = Archived {
            kind,
            pk: item.pk,
            sk: item.sk,
            expires_at: item.expires_at,
            body: item.body,
            secrets: Default::default(),
        };
        if kind == Kind::User {
            prune_user(&mut archived.body);
        }
        if kind == Kind::UserPool {
            // The unknown-user stand-ins derive from the seed: it must outlive the re-seal.
            if let Some(keys) = archived.body.get_mut("keys").and_then(Value::as_object_mut) {
                if keys.get("stand_in_seed").is_none_or(Value::is_null) {
                    let seed =
                        keys.get("id").and_then(|k| k.get("sealed_private")).cloned().unwrap_or_default();
                    keys.insert("stand_in_seed".into(), seed);
                }
            }
        }
        open_secrets(self.svc.cipher.as_ref(), &mut archived)?;
        self.line(&Line::Item(archived))
    }

    async fn get(&mut self, kind: Kind, pk: &str, sk: &str) -> Result<Option<Item>> {
        let found = self.svc.store.get(pk, sk, self.svc.now_secs()).await?;
        if let Some(item) = found.clone() {
            self.item(kind, item)?;
        }
        Ok(found)
    }

    /// Every live item of a partition, in sort-key order; returns their sort keys when asked.
    async fn partition(&mut self, kind: Kind, pk: &str, prefix: &str) -> Result<()> {
        self.each(pk, prefix, |w, item| w.item(kind, item)).await
    }

    async fn each(
        &mut self,
        pk: &str,
        prefix: &str,
        mut f: impl FnMut(&mut Self, Item) -> Result<()>,
    ) -> Result<()> {
        let mut after: Option<String> = None;
        loop {
            let page = self
                .svc
                .store
                .query(pk, prefix, after.as_deref(), MAX_TRANSACTION_WRITES, self.svc.now_secs())
                .await?;
            for item in page.items {
                f(self, item)?;
            }
            match page.next {
                Some(next) => after = Some(next),
                None => return Ok(()),
            }
        }
    }

    /// The sort keys of a partition, one page at a time (for listings whose entries lead on).
    async fn keys_page(
        &self,
        pk: &str,
        prefix: &str,
        after: Option<&str>,
    ) -> Result<(Vec<Item>, Option<String>)> {
        let page =
            self.svc.store.query(pk, prefix, after, MAX_TRANSACTION_WRITES, self.svc.now_secs()).await?;
        Ok((page.items, page.next))
    }
}

/// Pending codes are keyed by the old master key, and the index items are rebuilt.
fn prune_user(body: &mut Value) {
    if let Some(map) = body.as_object_mut() {
        map.remove("codes");
        map.remove("owned");
    }
}

/// Writes the archive of `scope` to `sink`: header, items, end.
pub async fn export(svc: &Service, scope: &Scope, sink: &mut dyn ArchiveSink) -> Result<super::End> {
    let mut user_pools = scope.user_pools.clone();
    let mut identity_pools = scope.identity_pools.clone();
    if scope.all {
        user_pools = listing(svc, keys::POOLS).await?;
        identity_pools = listing(svc, keys::IDENTITY_POOLS).await?;
    }
    for id in &user_pools {
        svc.pool(id).await?;
    }
    for id in &identity_pools {
        if svc.store.get(&keys::identity_pool(id), keys::IDENTITY_POOL_SK, svc.now_secs()).await?.is_none() {
            return Err(Error::ResourceNotFoundException(format!("IdentityPool '{id}' not found.")));
        }
    }
    let mut w = Writer { svc, sink, digest: Digest::default() };
    w.line(&Line::Header(Header {
        format: FORMAT.into(),
        version: VERSION,
        created: svc.clock.now_millis(),
        tessera: env!("CARGO_PKG_VERSION").into(),
        user_pools: user_pools.clone(),
        identity_pools: identity_pools.clone(),
        deployment_keys: scope.all,
    }))?;
    for id in &user_pools {
        user_pool(&mut w, id).await?;
    }
    for id in &identity_pools {
        identity_pool(&mut w, id).await?;
    }
    if scope.all {
        w.get(Kind::IdentityTokenKey, crate::identity::TOKEN_KEY_PK, crate::identity::TOKEN_KEY_SK).await?;
    }
    let end = std::mem::take(&mut w.digest).end();
    w.line(&Line::End(end.clone()))?;
    Ok(end)
}

async fn listing(svc: &Service, pk: &str) -> Result<Vec<String>> {
    Ok(svc.query_all(pk).await?.into_iter().map(|i| i.sk).collect())
}

async fn user_pool(w: &mut Writer<'_>, id: &str) -> Result<()> {
    // The pool first: restore needs its settings to rebuild the users' indexes.
    let pool_item = w
        .get(Kind::UserPool, &keys::pool(id), keys::POOL_SK)
        .await?
        .ok_or_else(|| Error::ResourceNotFoundException(format!("User pool {id} does not exist.")))?;
    w.get(Kind::UserPoolListing, keys::POOLS, id).await?;
    let pool: crate::model::UserPool = serde_json::from_value(pool_item.body).map_err(Error::internal)?;

    let mut after: Option<String> = None;
    loop {
        let (entries, next) =
            w.keys_page(&keys::pool(id), keys::POOL_CLIENT_PREFIX, after.as_deref()).await?;
        for entry in entries {
            if let Some(client_id) = entry.sk.strip_prefix(keys::POOL_CLIENT_PREFIX) {
                w.get(Kind::AppClient, &keys::client(client_id), keys::CLIENT_SK).await?;
            }
            w.item(Kind::AppClientListing, entry)?;
        }
        match next {
            Some(n) => after = Some(n),
            None => break,
        }
    }
    for domain in [&pool.settings.domain, &pool.settings.custom_domain].into_iter().flatten() {
        w.get(Kind::Domain, &keys::user_pool_domain(domain), keys::USER_POOL_DOMAIN_SK).await?;
    }
    w.partition(Kind::ResourceServer, &keys::resource_servers(id), "").await?;
    w.partition(Kind::IdentityProvider, &keys::identity_providers(id), "").await?;
    w.partition(Kind::IdpIdentifier, &keys::idp_identifiers(id), "").await?;
    w.partition(Kind::SamlKeys, &keys::saml_sp_keys(id), "").await?;
    w.partition(Kind::UiCustomization, &keys::ui_customizations(id), "").await?;

    w.get(Kind::GroupCount, &keys::pool_group_count(id), keys::GROUP_COUNT_SK).await?;
    let mut after: Option<String> = None;
    loop {
        let (entries, next) = w.keys_page(&keys::pool_groups(id), "", after.as_deref()).await?;
        for entry in entries {
            let name = entry.sk.clone();
            w.item(Kind::GroupListing, entry)?;
            w.get(Kind::Group, &keys::group(id, &name), keys::GROUP_SK).await?;
            w.partition(Kind::GroupMember, &keys::group_members(id, &name), "").await?;
        }
        match next {
            Some(n) => after = Some(n),
            None => break,
        }
    }

    let mut after: Option<String> = None;
    loop {
        let (entries, next) = w.keys_page(&keys::pool_users(id), "", after.as_deref()).await?;
        for entry in entries {
            let key = entry.sk;
            let Some(user) = w.get(Kind::User, &keys::user(id, &key), keys::USER_SK).await? else { continue };
            w.partition(Kind::Device, &keys::user_devices(id, &key), "").await?;
            w.partition(Kind::UserGroup, &keys::user_groups(id, &key), "").await?;
            for (provider, subject) in linked_identities(&user.body) {
                w.get(
                    Kind::ProviderLink,
                    &keys::provider_link(id, &provider, &subject),
                    keys::PROVIDER_LINK_SK,
                )
                .await?;
            }
        }
        match next {
            Some(n) => after = Some(n),
            None => return Ok(()),
        }
    }
}

/// The (provider, subject) pairs of a user's `identities` attribute.
fn linked_identities(user: &Value) -> Vec<(String, String)> {
    let Some(text) = user.pointer("/attributes/identities").and_then(Value::as_str) else {
        return Vec::new();
    };
    let Ok(Value::Array(list)) = serde_json::from_str::<Value>(text) else { return Vec::new() };
    list.iter()
        .filter_map(|i| Some((i["providerName"].as_str()?.to_string(), i["userId"].as_str()?.to_string())))
        .collect()
}

async fn identity_pool(w: &mut Writer<'_>, id: &str) -> Result<()> {
    w.get(Kind::IdentityPool, &keys::identity_pool(id), keys::IDENTITY_POOL_SK).await?;
    w.get(Kind::IdentityPoolListing, keys::IDENTITY_POOLS, id).await?;
    w.get(
        Kind::IdentityPoolSyncConfig,
        &keys::identity_pool_sync_config(id),
        keys::IDENTITY_POOL_SYNC_CONFIG_SK,
    )
    .await?;
    w.partition(Kind::SyncUsage, &keys::sync::usage(id), "").await?;
    let mut after: Option<String> = None;
    loop {
        let (entries, next) = w.keys_page(&keys::pool_identities(id), "", after.as_deref()).await?;
        for entry in entries {
            let identity_id = entry.sk.clone();
            w.item(Kind::IdentityListing, entry)?;
            if let Some(identity) =
                w.get(Kind::Identity, &keys::identity(id, &identity_id), keys::IDENTITY_SK).await?
            {
                for login in identity.body["logins"].as_array().into_iter().flatten() {
                    let (Some(provider), Some(user_id)) =
                        (login["provider"].as_str(), login["user_id"].as_str())
                    else {
                        continue;
                    };
                    w.get(
                        Kind::IdentityLogin,
                        &keys::identity_login(id, provider, user_id),
                        keys::IDENTITY_LOGIN_SK,
                    )
                    .await?;
                }
            }
            w.get(Kind::IdentityPoolOf, &keys::identity_pool_of(&identity_id), keys::IDENTITY_POOL_OF_SK)
                .await?;
            w.get(Kind::SyncIdentityCount, &keys::sync::identities(id), &identity_id).await?;
            w.partition(Kind::SyncPush, &keys::push::devices(id, &identity_id), "").await?;
            let datasets_pk = keys::sync::datasets(id, &identity_id);
            let mut names = Vec::new();
            w.each(&datasets_pk, "", |w, item| {
                names.push(item.sk.clone());
                w.item(Kind::SyncDataset, item)
            })
            .await?;
            for name in names {
                w.partition(Kind::SyncRecord, &keys::sync::records(id, &identity_id, &name), "").await?;
            }
        }
        match next {
            Some(n) => after = Some(n),
            None => return Ok(()),
        }
    }
}
