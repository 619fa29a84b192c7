//! GetId, GetOpenIdToken, GetCredentialsForIdentity, GetOpenIdTokenForDeveloperIdentity,
//! LookupDeveloperIdentity, MergeDeveloperIdentities, UnlinkDeveloperIdentity, UnlinkIdentity,
//! DescribeIdentity, ListIdentities, DeleteIdentities (spec D §1.5, §1.6).
//!
//! Layout: the identity (`IDENTITY#pool#id`: its linked logins, dates, and when merged away,
//! disabled with the id it merged into), its listing entry (`IDENTITIES#pool`, sk = id), an
//! index entry naming its pool (the public operations name only the identity), and one item
//! per linked login (`IDLOGIN#pool#provider#userId` → identity id). A login item is created
//! with `Cond::NotExists`, so a login links to one identity only; every change to an identity's
//! logins writes the identity and the login items in one transaction.
//!
//! Linking and merging (spec D §1.6): logins nobody holds link to the identity; logins that
//! other identities hold merge those identities into one survivor, which then holds every
//! login; the others are disabled and remember the survivor. In the public operations the
//! survivor is an identity that already held a presented login (the oldest, if several) other
//! than the one the caller named; the developer operations keep the identity they name. One
//! login per public provider per identity; at most 20 logins in all.

use super::identity_logins::{
    is_identity_token_key, verify_identity_token, verify_public_logins, VerifiedLogin,
};
use super::identity_pools::{load_identity_pool, max_results, IdentityPool};
use super::identity_roles;
use crate::error::{Error, Result};
use crate::model::keys;
use crate::service::{decode_next_token, encode_next_token, Input, Service};
use crate::store::{Cond, Item, StoreError, Write};
use crate::CallContext;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, BTreeSet};

/// The pool an identity belongs to, by identity id.
pub fn identity_pool_of(identity_id: &str) -> String {
    format!("IDENTITYOF#{identity_id}")
}
pub const IDENTITY_POOL_OF_SK: &str = "IDENTITYOF";

/// GetOpenIdToken's tokens last 10 minutes.
const OPEN_ID_TOKEN_SECS: i64 = 600;
/// GetOpenIdTokenForDeveloperIdentity's default TokenDuration: 15 minutes (at most 24 hours).
const DEVELOPER_TOKEN_SECS: i64 = 900;
const MAX_DEVELOPER_TOKEN_SECS: i64 = 86_400;
/// Logins one identity may hold, merges included.
pub const MAX_LINKED_LOGINS: usize = 20;
/// Tries of a link that lost a race with another before giving up.
const ATTEMPTS: usize = 3;
/// merged_into hops followed before a chain is considered broken.
const MAX_MERGE_HOPS: usize = 8;

/// A login linked to an identity: the provider name and the provider's id for the user.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct LinkedLogin {
    pub provider: String,
    pub user_id: String,
}

/// One identity of an identity pool.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
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
    pub fn is_authenticated(&self) -> bool {
        !self.logins.is_empty()
    }

    /// The model's `IdentityDescription`.
    pub fn describe(&self) -> Value {
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

fn identity_not_found(identity_id: &str) -> Error {
    Error::ResourceNotFoundException(format!("Identity '{identity_id}' not found."))
}

fn forbidden(identity_id: &str) -> Error {
    Error::not_authorized(format!("Access to Identity '{identity_id}' is forbidden."))
}

fn logins_dont_match() -> Error {
    Error::not_authorized(
        "Logins don't match. Please include at least one valid login for this identity or identity pool.",
    )
}

fn unauthenticated_not_supported() -> Error {
    Error::not_authorized("Unauthenticated access is not supported for this identity pool.")
}

fn developer_provider_not_supported() -> Error {
    Error::not_authorized("This identity pool does not support the specified developer provider.")
}

fn raced() -> Error {
    Error::ResourceConflictException(
        "The identity's logins were changed by another request at the same time. Try again.".into(),
    )
}

/// An identity, when it exists in the pool.
pub async fn load_identity(
    svc: &Service,
    identity_pool_id: &str,
    identity_id: &str,
) -> Result<Option<(Identity, u64)>> {
    svc.get_json::<Identity>(&keys::identity(identity_pool_id, identity_id), keys::IDENTITY_SK).await
}

/// An identity found by its id alone, or ResourceNotFoundException.
async fn find_identity(svc: &Service, identity_id: &str) -> Result<(Identity, u64)> {
    let pool_id = svc
        .get_json::<Value>(&identity_pool_of(identity_id), IDENTITY_POOL_OF_SK)
        .await?
        .and_then(|(v, _)| v.get("IdentityPoolId").and_then(Value::as_str).map(str::to_string))
        .ok_or_else(|| identity_not_found(identity_id))?;
    load_identity(svc, &pool_id, identity_id).await?.ok_or_else(|| identity_not_found(identity_id))
}

/// The identity, or the one it was merged into (following the chain).
async fn load_live(
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

fn login_key(identity_pool_id: &str, login: &LinkedLogin) -> String {
    keys::identity_login(identity_pool_id, &login.provider, &login.user_id)
}

/// The identity a login item names, and the item's version.
async fn login_owner(
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

fn login_put(
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

fn identity_put(identity: &Identity, version: Option<u64>) -> Result<Write> {
    let item = Item::new(
        keys::identity(&identity.identity_pool_id, &identity.identity_id),
        keys::IDENTITY_SK,
        serde_json::to_value(identity).map_err(Error::internal)?,
    );
    Ok(Write::put_versioned(item, version))
}

/// A new identity's item, listing entry and index entry (its logins are the caller's).
fn new_identity_writes(identity: &Identity) -> Result<Vec<Write>> {
    Ok(vec![
        identity_put(identity, None)?,
        Write::put(
            Item::new(keys::pool_identities(&identity.identity_pool_id), &identity.identity_id, json!({})),
            Cond::NotExists,
        ),
        Write::put(
            Item::new(
                identity_pool_of(&identity.identity_id),
                IDENTITY_POOL_OF_SK,
                json!({"IdentityPoolId": identity.identity_pool_id}),
            ),
            Cond::NotExists,
        ),
    ])
}

/// Everything that makes up an identity, deleted (conditional on `version` when given).
pub(crate) fn delete_identity_writes(identity: &Identity, version: Option<u64>) -> Vec<Write> {
    let pool = &identity.identity_pool_id;
    let mut writes = vec![
        Write::delete(
            keys::identity(pool, &identity.identity_id),
            keys::IDENTITY_SK,
            version.map(Cond::Version).unwrap_or(Cond::None),
        ),
        Write::delete(keys::pool_identities(pool), &identity.identity_id, Cond::None),
        Write::delete(identity_pool_of(&identity.identity_id), IDENTITY_POOL_OF_SK, Cond::None),
    ];
    for login in &identity.logins {
        writes.push(Write::delete(login_key(pool, login), keys::IDENTITY_LOGIN_SK, Cond::None));
    }
    writes
}

fn new_identity(svc: &Service, pool: &IdentityPool) -> Identity {
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

async fn create_unauthenticated(svc: &Service, pool: &IdentityPool) -> Result<Identity> {
    let identity = new_identity(svc, pool);
    match svc.store.transact(new_identity_writes(&identity)?, svc.now_secs()).await {
        Ok(()) => Ok(identity),
        Err(StoreError::ConditionFailed { .. }) => Err(Error::internal("identity id collision")),
        Err(e) => Err(e.into()),
    }
}

/// How a link treats the identity the caller names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// GetId, GetOpenIdToken, GetCredentialsForIdentity: an authenticated identity must be
    /// shown one of its own logins; an identity already holding a presented login survives.
    Public,
    /// GetOpenIdTokenForDeveloperIdentity: the named identity survives; its developer user must
    /// not belong to another identity.
    Developer,
    /// MergeDeveloperIdentities: the named identity survives.
    Merge,
}

enum Attempt {
    Done(Identity),
    Lost,
}

/// Links `logins` to the identity `named` (or to the identity holding them, or a new one),
/// merging identities as the module documentation says. Answers the identity that holds them
/// all afterwards.
async fn link(
    svc: &Service,
    pool: &IdentityPool,
    named: Option<&str>,
    logins: &[VerifiedLogin],
    mode: Mode,
) -> Result<Identity> {
    for _ in 0..ATTEMPTS {
        if let Attempt::Done(identity) = try_link(svc, pool, named, logins, mode).await? {
            return Ok(identity);
        }
    }
    Err(raced())
}

async fn try_link(
    svc: &Service,
    pool: &IdentityPool,
    named: Option<&str>,
    logins: &[VerifiedLogin],
    mode: Mode,
) -> Result<Attempt> {
    let pool_id = pool.identity_pool_id.as_str();
    let presented: Vec<LinkedLogin> = logins
        .iter()
        .map(|l| LinkedLogin { provider: l.provider.clone(), user_id: l.user_id.clone() })
        .collect();

    // Who holds each presented login now.
    let mut identities: BTreeMap<String, (Identity, u64)> = BTreeMap::new();
    let mut holders: Vec<Option<String>> = Vec::with_capacity(presented.len());
    let mut unheld: Vec<(LinkedLogin, Option<u64>)> = Vec::new();
    for login in &presented {
        let owner = login_owner(svc, pool_id, login).await?;
        let live = match &owner {
            Some((id, _)) => load_live(svc, pool_id, id).await?.filter(|(i, _)| !i.disabled),
            None => None,
        };
        match live {
            Some((identity, version)) => {
                holders.push(Some(identity.identity_id.clone()));
                identities.insert(identity.identity_id.clone(), (identity, version));
            }
            None => {
                holders.push(None);
                // Never linked, or left behind by an identity that is gone.
                unheld.push((login.clone(), owner.map(|(_, v)| v)));
            }
        }
    }

    let current = match named {
        Some(id) => {
            let (identity, version) =
                load_live(svc, pool_id, id).await?.ok_or_else(|| identity_not_found(id))?;
            if identity.disabled {
                return Err(forbidden(id));
            }
            Some((identity, version))
        }
        None => None,
    };
    let current_id = current.as_ref().map(|(i, _)| i.identity_id.clone());

    if let Some((identity, _)) = &current {
        match mode {
            Mode::Public => {
                if identity.is_authenticated()
                    && !holders.iter().flatten().any(|h| *h == identity.identity_id)
                {
                    return Err(logins_dont_match());
                }
            }
            Mode::Developer => {
                let developer = pool.developer_provider_name.as_deref();
                let taken = presented.iter().zip(&holders).any(|(login, holder)| {
                    Some(login.provider.as_str()) == developer
                        && holder.as_ref().is_some_and(|h| *h != identity.identity_id)
                });
                if taken {
                    return Err(Error::DeveloperUserAlreadyRegisteredException(
                        "The developer user identifier is already registered with a different identity."
                            .into(),
                    ));
                }
            }
            Mode::Merge => {}
        }
    }

    // The identities holding presented logins, other than the named one, oldest first.
    let mut others: Vec<(Identity, u64)> =
        identities.into_values().filter(|(i, _)| Some(&i.identity_id) != current_id.as_ref()).collect();
    others.sort_by(|(a, _), (b, _)| (a.created, &a.identity_id).cmp(&(b.created, &b.identity_id)));
    let (survivor, survivor_version, losers) = match (mode, current) {
        (Mode::Developer | Mode::Merge, Some((c, v))) => (c, Some(v), others),
        (Mode::Public, Some((c, v))) if others.is_empty() => (c, Some(v), others),
        (Mode::Public, Some(c)) => {
            let mut rest = others;
            let (first, v) = rest.remove(0);
            rest.push(c);
            (first, Some(v), rest)
        }
        (_, None) if others.is_empty() => (new_identity(svc, pool), None, others),
        (_, None) => {
            let mut rest = others;
            let (first, v) = rest.remove(0);
            (first, Some(v), rest)
        }
    };

    // The survivor's logins afterwards.
    let mut all = survivor.logins.clone();
    for login in losers.iter().flat_map(|(l, _)| &l.logins).chain(unheld.iter().map(|(l, _)| l)) {
        if !all.contains(login) {
            all.push(login.clone());
        }
    }
    check_logins(pool, &all)?;
    if all == survivor.logins && losers.is_empty() && survivor_version.is_some() {
        return Ok(Attempt::Done(survivor));
    }

    let now = svc.clock.now_millis();
    let mut writes = Vec::new();
    for (loser, version) in &losers {
        for login in &loser.logins {
            let cond = match login_owner(svc, pool_id, login).await? {
                Some((_, v)) => Cond::Version(v),
                None => Cond::NotExists,
            };
            let next = match cond {
                Cond::Version(v) => v + 1,
                _ => 1,
            };
            writes.push(login_put(pool_id, login, &survivor.identity_id, cond, next));
        }
        let mut merged = loser.clone();
        merged.logins.clear();
        merged.disabled = true;
        merged.merged_into = Some(survivor.identity_id.clone());
        merged.modified = now;
        writes.push(identity_put(&merged, Some(*version))?);
    }
    for (login, stale) in &unheld {
        let (cond, next) = match stale {
            Some(v) => (Cond::Version(*v), v + 1),
            None => (Cond::NotExists, 1),
        };
        writes.push(login_put(pool_id, login, &survivor.identity_id, cond, next));
    }
    let mut linked = survivor;
    linked.logins = all;
    linked.modified = now;
    match survivor_version {
        Some(v) => writes.push(identity_put(&linked, Some(v))?),
        None => writes.extend(new_identity_writes(&linked)?),
    }
    match svc.store.transact(writes, svc.now_secs()).await {
        Ok(()) => {}
        Err(StoreError::ConditionFailed { .. }) => return Ok(Attempt::Lost),
        Err(e) => return Err(e.into()),
    }
    for (loser, _) in &losers {
        tracing::info!(pool = pool_id, merged = %loser.identity_id, into = %linked.identity_id, "identities merged");
        super::sync_records::move_datasets_on_merge(svc, pool_id, &loser.identity_id, &linked.identity_id)
            .await?;
        super::sync_push::move_devices_on_merge(svc, pool_id, &loser.identity_id, &linked.identity_id)
            .await?;
    }
    Ok(Attempt::Done(linked))
}

/// One login per public provider, and at most [`MAX_LINKED_LOGINS`] in all. A developer
/// provider may hold several users of one identity (MergeDeveloperIdentities).
fn check_logins(pool: &IdentityPool, logins: &[LinkedLogin]) -> Result<()> {
    let mut providers = BTreeSet::new();
    for login in logins {
        if Some(login.provider.as_str()) != pool.developer_provider_name.as_deref()
            && !providers.insert(login.provider.as_str())
        {
            return Err(Error::ResourceConflictException(format!(
                "Only one login of provider {} can be linked to an identity, and the identity already has one.",
                login.provider
            )));
        }
    }
    if logins.len() > MAX_LINKED_LOGINS {
        return Err(Error::ResourceConflictException(format!(
            "An identity can have at most {MAX_LINKED_LOGINS} linked logins."
        )));
    }
    Ok(())
}

fn logins_of(input: &Value) -> Map<String, Value> {
    input.get("Logins").and_then(Value::as_object).cloned().unwrap_or_default()
}

/// `["authenticated", provider…]` of the logins a call presented.
fn authenticated_amr(logins: &[VerifiedLogin]) -> Vec<String> {
    let providers: BTreeSet<&str> = logins.iter().map(|l| l.provider.as_str()).collect();
    std::iter::once("authenticated").chain(providers).map(str::to_string).collect()
}

pub async fn get_id(svc: &Service, ctx: &CallContext, input: &Value) -> Result<Value> {
    let (pool, _) = load_identity_pool(svc, input.req_str("IdentityPoolId")?).await?;
    let logins = logins_of(input);
    let identity = if logins.is_empty() {
        if !pool.allow_unauthenticated_identities {
            return Err(unauthenticated_not_supported());
        }
        // Every unauthenticated GetId makes a new identity: the app keeps the id it gets.
        create_unauthenticated(svc, &pool).await?
    } else {
        let verified = verify_public_logins(svc, ctx, &pool, &logins).await?;
        link(svc, &pool, None, &verified, Mode::Public).await?
    };
    Ok(json!({"IdentityId": identity.identity_id}))
}

/// The identity a token or credentials are for, after the call's logins were checked and
/// linked, with what the token will say about it.
struct Resolved {
    pool: IdentityPool,
    identity: Identity,
    /// None: unauthenticated.
    logins: Option<Vec<VerifiedLogin>>,
    amr: Vec<String>,
}

async fn resolve(svc: &Service, ctx: &CallContext, input: &Value, basic_flow: bool) -> Result<Resolved> {
    let identity_id = input.req_str("IdentityId")?;
    let (named, _) = find_identity(svc, identity_id).await?;
    let (pool, _) = load_identity_pool(svc, &named.identity_pool_id)
        .await
        .map_err(|_| identity_not_found(identity_id))?;
    // Absent means off, as in Cognito: the basic flow hands the OpenID token to the caller.
    if basic_flow && pool.allow_classic_flow != Some(true) {
        return Err(Error::invalid("Basic (classic) flow is not enabled, please use enhanced flow."));
    }
    let logins = logins_of(input);
    if logins.is_empty() {
        // Only a guest's id alone is enough: an identity with logins must show one.
        if named.disabled || named.is_authenticated() {
            return Err(forbidden(identity_id));
        }
        if !pool.allow_unauthenticated_identities {
            return Err(unauthenticated_not_supported());
        }
        return Ok(Resolved { pool, identity: named, logins: None, amr: vec!["unauthenticated".into()] });
    }
    let verified = verify_public_logins(svc, ctx, &pool, &logins).await?;
    let identity = link(svc, &pool, Some(identity_id), &verified, Mode::Public).await?;
    let amr = authenticated_amr(&verified);
    Ok(Resolved { pool, identity, logins: Some(verified), amr })
}

pub async fn get_open_id_token(svc: &Service, ctx: &CallContext, input: &Value) -> Result<Value> {
    let r = resolve(svc, ctx, input, true).await?;
    let token = crate::identity_tokens::open_id_token(
        svc,
        ctx,
        &r.pool.identity_pool_id,
        &r.identity.identity_id,
        &r.amr,
        OPEN_ID_TOKEN_SECS,
    )
    .await?;
    Ok(json!({"IdentityId": r.identity.identity_id, "Token": token}))
}

pub async fn get_credentials_for_identity(svc: &Service, ctx: &CallContext, input: &Value) -> Result<Value> {
    let custom_role = input.str_of("CustomRoleArn");
    let logins = logins_of(input);
    let r = match logins.keys().find(|k| is_identity_token_key(ctx, k)) {
        Some(key) => resolve_developer_token(svc, ctx, input, &logins, key).await?,
        None => resolve(svc, ctx, input, false).await?,
    };
    let role = match &r.logins {
        None => identity_roles::unauthenticated_role(&r.pool.roles)?,
        Some(logins) => {
            // Several logins: the first (by provider name) that has a role mapping decides.
            let mut sorted: Vec<&VerifiedLogin> = logins.iter().collect();
            sorted.sort_by(|a, b| a.provider.cmp(&b.provider));
            let mapped = sorted.iter().find_map(|l| r.pool.role_mappings.get(&l.mapping_key).map(|m| (l, m)));
            match mapped {
                Some((login, mapping)) => identity_roles::authenticated_role(
                    &r.pool.roles,
                    Some(mapping),
                    &login.mapping_key,
                    &login.claims,
                    custom_role,
                )?,
                None => {
                    identity_roles::authenticated_role(&r.pool.roles, None, "", &Value::Null, custom_role)?
                }
            }
        }
    };
    let credentials = crate::identity_tokens::credentials_for_role(
        svc,
        ctx,
        &r.pool.identity_pool_id,
        &r.identity.identity_id,
        &role,
        &r.amr,
    )
    .await?;
    Ok(json!({
        "IdentityId": r.identity.identity_id,
        "Credentials": {
            "AccessKeyId": credentials.access_key_id,
            "SecretKey": credentials.secret_key,
            "SessionToken": credentials.session_token,
            "Expiration": credentials.expiration,
        }
    }))
}

/// The developer flow's second step: the token GetOpenIdTokenForDeveloperIdentity returned,
/// under the `cognito-identity.amazonaws.com` key, vouches for its identity by itself.
async fn resolve_developer_token(
    svc: &Service,
    ctx: &CallContext,
    input: &Value,
    logins: &Map<String, Value>,
    key: &str,
) -> Result<Resolved> {
    let identity_id = input.req_str("IdentityId")?;
    let (named, _) = find_identity(svc, identity_id).await?;
    let (pool, _) = load_identity_pool(svc, &named.identity_pool_id)
        .await
        .map_err(|_| identity_not_found(identity_id))?;
    if logins.len() > 1 {
        return Err(Error::invalid(format!(
            "The {key} login carries the identity's own token and cannot be combined with other logins."
        )));
    }
    let token = logins.get(key).and_then(Value::as_str).unwrap_or_default();
    let claims = verify_identity_token(svc, ctx, &pool, token).await?;
    let (identity, _) = load_live(svc, &pool.identity_pool_id, identity_id)
        .await?
        .filter(|(i, _)| !i.disabled)
        .ok_or_else(|| forbidden(identity_id))?;
    if claims.get("sub").and_then(Value::as_str) != Some(identity.identity_id.as_str()) {
        return Err(logins_dont_match());
    }
    let amr: Vec<String> = claims
        .get("amr")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
        .unwrap_or_default();
    if amr.first().map(String::as_str) != Some("authenticated") {
        // An unauthenticated identity's token vouches for nothing a guest cannot do without it.
        return Err(Error::not_authorized("Invalid login token. Not an authenticated identity's token."));
    }
    let login = VerifiedLogin {
        provider: key.to_string(),
        user_id: identity.identity_id.clone(),
        mapping_key: key.to_string(),
        claims,
    };
    Ok(Resolved { pool, identity, logins: Some(vec![login]), amr })
}

pub async fn get_open_id_token_for_developer_identity(
    svc: &Service,
    ctx: &CallContext,
    input: &Value,
) -> Result<Value> {
    let (pool, _) = load_identity_pool(svc, input.req_str("IdentityPoolId")?).await?;
    let mut logins = logins_of(input);
    let developer = pool.developer_provider_name.clone().ok_or_else(developer_provider_not_supported)?;
    let user = match logins.remove(&developer) {
        Some(Value::String(u)) => u,
        _ => return Err(developer_provider_not_supported()),
    };
    check_developer_user(&user)?;
    let duration = match input.get("TokenDuration") {
        None | Some(Value::Null) => DEVELOPER_TOKEN_SECS,
        Some(v) => match v.as_i64() {
            Some(n @ 1..=MAX_DEVELOPER_TOKEN_SECS) => n,
            _ => {
                return Err(Error::invalid(format!(
                    "1 validation error detected: Value '{v}' at 'tokenDuration' failed to satisfy constraint: Member must have value between 1 and {MAX_DEVELOPER_TOKEN_SECS}"
                )))
            }
        },
    };
    let named = match input.str_of("IdentityId") {
        Some(id) => {
            let (identity, _) = find_identity(svc, id).await?;
            if identity.identity_pool_id != pool.identity_pool_id {
                return Err(identity_not_found(id));
            }
            Some(id)
        }
        None => None,
    };
    let mut verified = vec![VerifiedLogin {
        provider: developer.clone(),
        user_id: user,
        mapping_key: developer.clone(),
        claims: json!({}),
    }];
    verified.extend(verify_public_logins(svc, ctx, &pool, &logins).await?);
    let identity = link(svc, &pool, named, &verified, Mode::Developer).await?;
    let amr = authenticated_amr(&verified);
    let token = crate::identity_tokens::developer_open_id_token(
        svc,
        ctx,
        &pool.identity_pool_id,
        &identity.identity_id,
        &amr,
        &developer,
        duration,
    )
    .await?;
    Ok(json!({"IdentityId": identity.identity_id, "Token": token}))
}

fn check_developer_user(user: &str) -> Result<()> {
    if user.is_empty() || user.chars().count() > 1024 {
        return Err(Error::invalid("A developer user identifier has 1 to 1024 characters."));
    }
    Ok(())
}

/// The pool's developer provider, which the request must name.
fn developer_provider<'a>(pool: &'a IdentityPool, named: &str) -> Result<&'a str> {
    match pool.developer_provider_name.as_deref() {
        Some(d) if d == named => Ok(d),
        _ => Err(developer_provider_not_supported()),
    }
}

/// The live identity a developer user is linked to.
async fn developer_user_identity(
    svc: &Service,
    pool: &IdentityPool,
    developer: &str,
    user: &str,
) -> Result<Option<(Identity, u64)>> {
    let login = LinkedLogin { provider: developer.to_string(), user_id: user.to_string() };
    match login_owner(svc, &pool.identity_pool_id, &login).await? {
        Some((id, _)) => Ok(load_live(svc, &pool.identity_pool_id, &id).await?.filter(|(i, _)| !i.disabled)),
        None => Ok(None),
    }
}

pub async fn lookup_developer_identity(svc: &Service, input: &Value) -> Result<Value> {
    let (pool, _) = load_identity_pool(svc, input.req_str("IdentityPoolId")?).await?;
    let developer = pool.developer_provider_name.clone().ok_or_else(developer_provider_not_supported)?;
    let max = match input.get("MaxResults") {
        None | Some(Value::Null) => 60,
        Some(_) => max_results(input)?,
    };
    let identity_id = input.str_of("IdentityId");
    let (identity, users) = match (identity_id, input.str_of("DeveloperUserIdentifier")) {
        (None, None) => {
            return Err(Error::invalid("Either IdentityId or DeveloperUserIdentifier must be provided."))
        }
        (_, Some(user)) => {
            let (identity, _) =
                developer_user_identity(svc, &pool, &developer, user).await?.ok_or_else(|| {
                    Error::ResourceNotFoundException("DeveloperUserIdentifier not found.".into())
                })?;
            if identity_id.is_some_and(|id| id != identity.identity_id) {
                return Err(Error::ResourceConflictException(
                    "The DeveloperUserIdentifier is not linked to the IdentityId.".into(),
                ));
            }
            (identity, vec![user.to_string()])
        }
        (Some(id), None) => {
            let (identity, _) = load_identity(svc, &pool.identity_pool_id, id)
                .await?
                .ok_or_else(|| identity_not_found(id))?;
            let mut users: Vec<String> = identity
                .logins
                .iter()
                .filter(|l| l.provider == developer)
                .map(|l| l.user_id.clone())
                .collect();
            users.sort();
            (identity, users)
        }
    };
    let start = input.str_of("NextToken").map(decode_next_token).transpose()?;
    let rest: Vec<String> =
        users.into_iter().filter(|u| start.as_ref().is_none_or(|s| u.as_str() > s.as_str())).collect();
    let page: Vec<String> = rest.iter().take(max).cloned().collect();
    let mut out = json!({"IdentityId": identity.identity_id, "DeveloperUserIdentifierList": page});
    if rest.len() > max {
        if let Some(last) = page.last() {
            out["NextToken"] = json!(encode_next_token(last));
        }
    }
    Ok(out)
}

pub async fn merge_developer_identities(svc: &Service, input: &Value) -> Result<Value> {
    let (pool, _) = load_identity_pool(svc, input.req_str("IdentityPoolId")?).await?;
    let developer = developer_provider(&pool, input.req_str("DeveloperProviderName")?)?.to_string();
    let source = input.req_str("SourceUserIdentifier")?;
    let destination = input.req_str("DestinationUserIdentifier")?;
    let (target, _) = developer_user_identity(svc, &pool, &developer, destination)
        .await?
        .ok_or_else(|| Error::ResourceNotFoundException("DestinationUserIdentifier not found.".into()))?;
    if developer_user_identity(svc, &pool, &developer, source).await?.is_none() {
        return Err(Error::ResourceNotFoundException("SourceUserIdentifier not found.".into()));
    }
    let login = VerifiedLogin {
        provider: developer.clone(),
        user_id: source.to_string(),
        mapping_key: developer,
        claims: json!({}),
    };
    let merged = link(svc, &pool, Some(&target.identity_id), &[login], Mode::Merge).await?;
    Ok(json!({"IdentityId": merged.identity_id}))
}

/// Removes logins from an identity (and their login items) in one transaction. An identity
/// left without logins is disabled: it can no longer be reached (the API reference: "the
/// Cognito identity becomes inaccessible").
async fn remove_logins(
    svc: &Service,
    mut identity: Identity,
    version: u64,
    remove: impl Fn(&LinkedLogin) -> bool,
) -> Result<()> {
    let (gone, kept): (Vec<LinkedLogin>, Vec<LinkedLogin>) =
        identity.logins.drain(..).partition(|l| remove(l));
    if gone.is_empty() {
        return Ok(());
    }
    identity.logins = kept;
    identity.disabled = identity.logins.is_empty();
    identity.modified = svc.clock.now_millis();
    let mut writes = vec![identity_put(&identity, Some(version))?];
    for login in &gone {
        writes.push(Write::delete(
            login_key(&identity.identity_pool_id, login),
            keys::IDENTITY_LOGIN_SK,
            Cond::None,
        ));
    }
    match svc.store.transact(writes, svc.now_secs()).await {
        Ok(()) => Ok(()),
        Err(StoreError::ConditionFailed { .. }) => Err(raced()),
        Err(e) => Err(e.into()),
    }
}

pub async fn unlink_developer_identity(svc: &Service, input: &Value) -> Result<Value> {
    let (pool, _) = load_identity_pool(svc, input.req_str("IdentityPoolId")?).await?;
    let developer = developer_provider(&pool, input.req_str("DeveloperProviderName")?)?.to_string();
    let identity_id = input.req_str("IdentityId")?;
    let user = input.req_str("DeveloperUserIdentifier")?;
    let (identity, version) = load_identity(svc, &pool.identity_pool_id, identity_id)
        .await?
        .ok_or_else(|| identity_not_found(identity_id))?;
    let login = LinkedLogin { provider: developer, user_id: user.to_string() };
    if !identity.logins.contains(&login) {
        return Err(Error::ResourceConflictException(
            "The DeveloperUserIdentifier is not linked to the IdentityId.".into(),
        ));
    }
    remove_logins(svc, identity, version, |l| *l == login).await?;
    Ok(json!({}))
}

pub async fn unlink_identity(svc: &Service, ctx: &CallContext, input: &Value) -> Result<Value> {
    let identity_id = input.req_str("IdentityId")?;
    let (identity, version) = find_identity(svc, identity_id).await?;
    if identity.disabled {
        return Err(forbidden(identity_id));
    }
    let (pool, _) = load_identity_pool(svc, &identity.identity_pool_id)
        .await
        .map_err(|_| identity_not_found(identity_id))?;
    let logins = logins_of(input);
    if logins.is_empty() {
        return Err(logins_dont_match());
    }
    let verified = verify_public_logins(svc, ctx, &pool, &logins).await?;
    // Only the identity's own user may change it.
    let proven = verified
        .iter()
        .any(|v| identity.logins.iter().any(|l| l.provider == v.provider && l.user_id == v.user_id));
    if !proven {
        return Err(logins_dont_match());
    }
    let to_remove: BTreeSet<String> = input
        .get("LoginsToRemove")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
        .unwrap_or_default();
    if let Some(developer) = pool.developer_provider_name.as_deref() {
        if to_remove.contains(developer) {
            return Err(Error::invalid(format!(
                "Logins of the developer provider {developer} are removed with UnlinkDeveloperIdentity."
            )));
        }
    }
    remove_logins(svc, identity, version, |l| to_remove.contains(&l.provider)).await?;
    Ok(json!({}))
}

pub async fn describe_identity(svc: &Service, input: &Value) -> Result<Value> {
    let (identity, _) = find_identity(svc, input.req_str("IdentityId")?).await?;
    Ok(identity.describe())
}

pub async fn list_identities(svc: &Service, input: &Value) -> Result<Value> {
    let (pool, _) = load_identity_pool(svc, input.req_str("IdentityPoolId")?).await?;
    let max = max_results(input)?;
    let hide_disabled = input.bool_of("HideDisabled").unwrap_or(false);
    let listing = keys::pool_identities(&pool.identity_pool_id);
    let mut after = input.str_of("NextToken").map(decode_next_token).transpose()?;
    let mut found = Vec::new();
    // Hidden identities leave a page short: read on until it is full or the listing ends.
    let next = loop {
        let page = svc.store.query(&listing, "", after.as_deref(), max - found.len(), svc.now_secs()).await?;
        for entry in &page.items {
            if let Some((identity, _)) = load_identity(svc, &pool.identity_pool_id, &entry.sk).await? {
                if !(hide_disabled && identity.disabled) {
                    found.push(identity.describe());
                }
            }
        }
        after = page.next;
        if after.is_none() || found.len() >= max {
            break after;
        }
    };
    let mut out = json!({"IdentityPoolId": pool.identity_pool_id, "Identities": found});
    if let Some(n) = next {
        out["NextToken"] = json!(encode_next_token(&n));
    }
    Ok(out)
}

pub async fn delete_identities(svc: &Service, input: &Value) -> Result<Value> {
    let ids: Vec<String> = input
        .get("IdentityIdsToDelete")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
        .unwrap_or_default();
    if ids.is_empty() || ids.len() > 60 {
        return Err(Error::invalid("IdentityIdsToDelete holds 1 to 60 identity ids."));
    }
    let mut unprocessed = Vec::new();
    for id in &ids {
        if let Err(e) = delete_identity(svc, id).await {
            tracing::warn!(identity = %id, error = %e, "identity not deleted");
            unprocessed.push(json!({"IdentityId": id, "ErrorCode": "InternalServerError"}));
        }
    }
    Ok(json!({"UnprocessedIdentityIds": unprocessed}))
}

/// Deletes one identity with its logins; an identity that does not exist is already deleted.
async fn delete_identity(svc: &Service, identity_id: &str) -> Result<()> {
    for _ in 0..ATTEMPTS {
        let (identity, version) = match find_identity(svc, identity_id).await {
            Ok(found) => found,
            Err(Error::ResourceNotFoundException(_)) => return Ok(()),
            Err(e) => return Err(e),
        };
        match svc.store.transact(delete_identity_writes(&identity, Some(version)), svc.now_secs()).await {
            Ok(()) => {
                let pool_id = &identity.identity_pool_id;
                super::sync_records::delete_identity_data(svc, pool_id, identity_id).await?;
                super::sync_push::delete_identity_devices(svc, pool_id, identity_id).await?;
                return Ok(());
            }
            Err(StoreError::ConditionFailed { .. }) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(raced())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn pool(developer: Option<&str>) -> IdentityPool {
        serde_json::from_value(json!({
            "IdentityPoolId": "us-east-1:00000000-0000-4000-8000-000000000000",
            "IdentityPoolName": "p",
            "AllowUnauthenticatedIdentities": true,
            "DeveloperProviderName": developer,
        }))
        .unwrap()
    }

    fn login(p: &str, u: &str) -> LinkedLogin {
        LinkedLogin { provider: p.into(), user_id: u.into() }
    }

    #[test]
    fn one_login_per_public_provider_any_number_of_developer_users() {
        let p = pool(Some("login.dev"));
        assert!(check_logins(&p, &[login("a", "1"), login("b", "1")]).is_ok());
        let e = check_logins(&p, &[login("a", "1"), login("a", "2")]).unwrap_err();
        assert_eq!(e.name(), "ResourceConflictException");
        assert!(check_logins(&p, &[login("login.dev", "1"), login("login.dev", "2")]).is_ok());
        let many: Vec<LinkedLogin> = (0..21).map(|i| login("login.dev", &i.to_string())).collect();
        assert_eq!(check_logins(&p, &many).unwrap_err().name(), "ResourceConflictException");
        assert!(check_logins(&p, &many[..20]).is_ok());
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

    #[test]
    fn amr_lists_the_presented_providers() {
        let v = |p: &str| VerifiedLogin {
            provider: p.into(),
            user_id: "u".into(),
            mapping_key: p.into(),
            claims: json!({}),
        };
        assert_eq!(authenticated_amr(&[v("b"), v("a"), v("b")]), vec!["authenticated", "a", "b"]);
    }
}
