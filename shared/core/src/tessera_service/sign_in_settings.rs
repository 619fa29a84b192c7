//! Changing the settings Cognito freezes when a pool is made — `UsernameAttributes`,
//! `AliasAttributes`, `UsernameConfiguration.CaseSensitive` and which standard attributes are
//! required — as Tessera's own operations (`TesseraService`, docs/sign-in-settings.md).
//!
//! **Plan** (a dry run) reads every user and reports each conflict the change would create: two
//! users whose names fold to one, a sign-in name or alias held twice, users without a newly
//! required attribute. **Start** plans again and refuses while a conflict has no resolution;
//! otherwise the pool takes the new settings at once and records the change
//! ([`SignInSettingsChange`]). **Continue** re-indexes the next users, in the order of their
//! stored keys, each in one transaction: their aliases and ListUsers entries follow the new
//! settings, and under a CaseSensitive change the user moves to its new key with its groups
//! and devices. The pool serves throughout: lookups try the aliases of the old settings and
//! both case rules until the last step, which flips `CaseSensitive` and drops the record. A
//! stopped change resumes at its cursor.
//!
//! A case change publishes, before it moves a batch, that the batch's users follow the new rule
//! (`moving_through`), and waits out the processes' pool caches, so every process computes the
//! same key for a user as the move does.

use crate::error::{Error, Result};
use crate::input::Input as _;
use crate::keys;
use crate::model::{fold_username, SignInSettings, SignInSettingsChange, User, UserPool};
use crate::store::{Cond, Item, StoreError, Write, MAX_TRANSACTION_WRITES};
use crate::Service;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};

/// Alias attributes Cognito allows.
const ALIAS_ATTRIBUTES: &[&str] = &["email", "phone_number", "preferred_username"];
/// Conflicts listed in one answer (all are counted).
const LISTED_CONFLICTS: usize = 100;
/// Users one change may resolve against (the pool record carries them while it runs).
const MAX_YIELDING: usize = 1000;
/// Users one Continue re-indexes unless told otherwise, and at most.
const DEFAULT_STEP: usize = 500;
const MAX_STEP: usize = 1000;
/// How long one Continue call re-indexes users (Lambda functions time out after 10 s).
const STEP_BUDGET_MS: i64 = 5_000;
/// A wait a Continue call sits out itself rather than answering `RetryAfterMs`.
const MAX_IN_CALL_WAIT_MS: i64 = 2_000;

/// How an alias held by several users after the change is resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AliasResolution {
    /// The user changed last keeps it, as when a second user verifies an alias in Cognito.
    KeepNewest,
    /// Nobody keeps it.
    UnverifyAll,
}

struct Request {
    to: SignInSettings,
    alias_resolution: Option<AliasResolution>,
    allow_missing_required: bool,
}

fn list(input: &Value, name: &str) -> Result<Option<Vec<String>>> {
    match input.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| Error::invalid(format!("{name} must be a list of strings.")))
            })
            .collect::<Result<Vec<_>>>()
            .map(Some),
        Some(_) => Err(Error::invalid(format!("{name} must be a list of strings."))),
    }
}

fn request(pool: &UserPool, input: &Value) -> Result<Request> {
    let from = pool.sign_in_settings();
    let mut to = from.clone();
    if let Some(v) = list(input, "UsernameAttributes")? {
        to.username_attributes = v;
    }
    if let Some(v) = list(input, "AliasAttributes")? {
        to.alias_attributes = v;
    }
    if let Some(v) = input.get("CaseSensitive").filter(|v| !v.is_null()) {
        to.case_sensitive = v.as_bool().ok_or_else(|| Error::invalid("CaseSensitive must be a boolean."))?;
    }
    if let Some(v) = list(input, "RequiredAttributes")? {
        to.required_attributes = v;
    }
    crate::user_pool::pools::check_sign_in_settings(
        &to.username_attributes,
        &to.alias_attributes,
        &pool.auto_verified_attributes,
    )?;
    for a in &to.alias_attributes {
        if !ALIAS_ATTRIBUTES.contains(&a.as_str()) {
            return Err(Error::invalid(format!("Invalid alias attribute: {a}")));
        }
    }
    for a in &to.required_attributes {
        if !crate::schema::is_standard(a) || a == "sub" {
            return Err(Error::invalid(format!(
                "RequiredAttributes: {a} is not a standard attribute that can be required (custom attributes cannot be required)."
            )));
        }
    }
    for list in [&mut to.username_attributes, &mut to.alias_attributes, &mut to.required_attributes] {
        list.sort();
        list.dedup();
    }
    let mut same = from.clone();
    for list in [&mut same.username_attributes, &mut same.alias_attributes, &mut same.required_attributes] {
        list.sort();
    }
    if same == to {
        return Err(Error::invalid("The request changes none of the pool's sign-in settings."));
    }
    let alias_resolution = match input.str_of("AliasConflicts") {
        None => None,
        Some("KEEP_NEWEST") => Some(AliasResolution::KeepNewest),
        Some("UNVERIFY_ALL") => Some(AliasResolution::UnverifyAll),
        Some(other) => {
            return Err(Error::invalid(format!(
                "AliasConflicts: {other} is not one of KEEP_NEWEST, UNVERIFY_ALL."
            )))
        }
    };
    let allow_missing_required = match input.str_of("MissingRequiredAttributes") {
        None => false,
        Some("ALLOW") => true,
        Some(other) => {
            return Err(Error::invalid(format!("MissingRequiredAttributes: {other} is not ALLOW.")))
        }
    };
    Ok(Request { to, alias_resolution, allow_missing_required })
}

/// The pool as it will be once the change is done (for computing users' new index items).
fn pool_after(pool: &UserPool, to: &SignInSettings) -> UserPool {
    let mut p = pool.clone();
    p.username_attributes = to.username_attributes.clone();
    p.alias_attributes = to.alias_attributes.clone();
    p.required_attributes = to.required_attributes.clone();
    p.case_sensitive = to.case_sensitive;
    p.settings_change = None;
    p
}

struct Conflict {
    kind: &'static str,
    attribute: Option<String>,
    value: Option<String>,
    usernames: Vec<String>,
    resolution: Option<String>,
}

struct Plan {
    users: u64,
    to_move: u64,
    to_reindex: u64,
    conflicts: Vec<Conflict>,
    unresolved: u64,
    yielding: BTreeMap<String, Vec<String>>,
}

impl Plan {
    fn json(&self) -> Value {
        json!({
            "UsersScanned": self.users,
            "UsersToMove": self.to_move,
            "UsersToReindex": self.to_reindex,
            "ConflictCount": self.conflicts.len(),
            "UnresolvedConflictCount": self.unresolved,
            "Conflicts": self.conflicts.iter().take(LISTED_CONFLICTS).map(|c| {
                let mut v = json!({"Type": c.kind, "Usernames": c.usernames});
                if let Some(a) = &c.attribute { v["Attribute"] = json!(a); }
                if let Some(x) = &c.value { v["Value"] = json!(x); }
                match &c.resolution {
                    Some(r) => v["Resolution"] = json!(r),
                    None => v["Resolution"] = Value::Null,
                }
                v
            }).collect::<Vec<_>>(),
        })
    }
}

/// Every user of the pool, a page at a time, in the order of their stored keys.
async fn users_page(
    svc: &Service,
    pool_id: &str,
    after: Option<&str>,
    limit: usize,
) -> Result<(Vec<(String, User, u64)>, bool)> {
    let page = svc.store.query(&keys::pool_users(pool_id), "", after, limit, svc.now_secs()).await?;
    let pks: Vec<String> = page.items.iter().map(|e| keys::user(pool_id, &e.sk)).collect();
    let reads = pks.iter().map(|pk| svc.get_json::<User>(pk, keys::USER_SK));
    let users = futures_util::future::join_all(reads).await;
    let mut out = Vec::new();
    for (entry, user) in page.items.iter().zip(users) {
        if let Some((user, version)) = user? {
            out.push((entry.sk.clone(), user, version));
        }
    }
    Ok((out, page.next.is_none()))
}

async fn plan(svc: &Service, pool: &UserPool, req: &Request) -> Result<Plan> {
    let from = pool.sign_in_settings();
    let after = pool_after(pool, &req.to);
    let folds = from.case_sensitive && !req.to.case_sensitive;
    let newly_required: Vec<&String> =
        req.to.required_attributes.iter().filter(|a| !from.required_attributes.contains(a)).collect();
    let mut out = Plan {
        users: 0,
        to_move: 0,
        to_reindex: 0,
        conflicts: Vec::new(),
        unresolved: 0,
        yielding: BTreeMap::new(),
    };
    let mut names: HashMap<String, Vec<String>> = HashMap::new();
    let mut aliases: HashMap<(String, String), Vec<(i64, String)>> = HashMap::new();
    let mut missing: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut cursor: Option<String> = None;
    let started = std::time::Instant::now();
    loop {
        if let Some(budget) = svc.config.whole_pool_read_budget_ms {
            if cursor.is_some() && started.elapsed() > std::time::Duration::from_millis(budget) {
                return Err(Error::LimitExceededException(format!(
                    "User pool {} has more users than one request can read in its time ({} read in {budget} ms). \
                     Run `tessera pool-settings` against the stack's table from an operator's machine \
                     (docs/sign-in-settings.md); it has no such limit.",
                    pool.id, out.users
                )));
            }
        }
        let (page, last) = users_page(svc, &pool.id, cursor.as_deref(), MAX_TRANSACTION_WRITES).await?;
        for (key, user, _) in &page {
            out.users += 1;
            let new_key = fold_username(&user.username, req.to.case_sensitive);
            if folds {
                names.entry(new_key.clone()).or_default().push(user.username.clone());
            }
            let desired = crate::user_index::desired(&after, user);
            if &new_key != key {
                out.to_move += 1;
            } else if desired.aliases != user.owned.aliases || desired.search != user.owned.search {
                out.to_reindex += 1;
            }
            for (kind, value) in desired.aliases.iter().filter(|(k, _)| k.as_str() != "sub") {
                aliases
                    .entry((kind.clone(), value.clone()))
                    .or_default()
                    .push((user.modified, user.username.clone()));
            }
            let federated = user.status == crate::model::UserStatus::EXTERNAL_PROVIDER;
            for a in newly_required.iter().filter(|_| !federated) {
                if user.attr(a).is_none_or(str::is_empty) {
                    missing.entry(a.to_string()).or_default().push(user.username.clone());
                }
            }
        }
        cursor = page.last().map(|(k, ..)| k.clone()).or(cursor);
        if last {
            break;
        }
    }
    let mut folded: Vec<_> = names.into_iter().filter(|(_, v)| v.len() > 1).collect();
    folded.sort();
    for (key, usernames) in folded {
        out.unresolved += 1;
        out.conflicts.push(Conflict {
            kind: "USERNAMES_FOLD_TO_ONE",
            attribute: None,
            value: Some(key),
            usernames,
            resolution: None,
        });
    }
    let mut held: Vec<_> = aliases.into_iter().filter(|(_, v)| v.len() > 1).collect();
    held.sort();
    for ((kind, value), mut holders) in held {
        holders.sort();
        let usernames: Vec<String> = holders.iter().map(|(_, u)| u.clone()).collect();
        if req.to.username_attributes.contains(&kind) {
            out.unresolved += 1;
            out.conflicts.push(Conflict {
                kind: "SIGN_IN_NAME_HELD_TWICE",
                attribute: Some(kind),
                value: Some(value),
                usernames,
                resolution: None,
            });
            continue;
        }
        let yielders: Vec<String> = match req.alias_resolution {
            None => {
                out.unresolved += 1;
                Vec::new()
            }
            Some(AliasResolution::KeepNewest) => usernames[..usernames.len() - 1].to_vec(),
            Some(AliasResolution::UnverifyAll) => usernames.clone(),
        };
        let how = if kind == "preferred_username" { "lose preferred_username" } else { "have it unverified" };
        let resolution = req.alias_resolution.map(|r| match r {
            AliasResolution::KeepNewest => {
                format!("{} keeps it; {} {how}", usernames[usernames.len() - 1], yielders.join(", "))
            }
            AliasResolution::UnverifyAll => format!("every holder will {how}"),
        });
        for u in &yielders {
            out.yielding.entry(u.clone()).or_default().push(kind.clone());
        }
        out.conflicts.push(Conflict {
            kind: "ALIAS_HELD_TWICE",
            attribute: Some(kind),
            value: Some(value),
            usernames,
            resolution,
        });
    }
    for (attribute, usernames) in missing {
        if !req.allow_missing_required {
            out.unresolved += 1;
        }
        out.conflicts.push(Conflict {
            kind: "MISSING_REQUIRED_ATTRIBUTE",
            attribute: Some(attribute),
            value: None,
            usernames,
            resolution: req
                .allow_missing_required
                .then(|| "the users keep signing in without it".to_string()),
        });
    }
    Ok(out)
}

async fn read_pool(svc: &Service, pool_id: &str) -> Result<(UserPool, u64)> {
    svc.get_json::<UserPool>(&keys::pool(pool_id), keys::POOL_SK)
        .await?
        .ok_or_else(|| Error::ResourceNotFoundException(format!("User pool {pool_id} does not exist.")))
}

fn in_progress(pool: &UserPool) -> Error {
    Error::invalid(format!(
        "A sign-in settings change of user pool {} is in progress; finish it with ContinueUserPoolSettingsChange.",
        pool.id
    ))
}

/// `PlanUserPoolSettingsChange`: the dry run.
pub async fn plan_user_pool_settings_change(svc: &Service, input: &Value) -> Result<Value> {
    let (pool, _) = read_pool(svc, input.req_str("UserPoolId")?).await?;
    if pool.settings_change.is_some() {
        return Err(in_progress(&pool));
    }
    let req = request(&pool, input)?;
    Ok(plan(svc, &pool, &req).await?.json())
}

/// `StartUserPoolSettingsChange`: plans, and when every conflict has a resolution gives the
/// pool its new settings and records the change for `ContinueUserPoolSettingsChange`.
pub async fn start_user_pool_settings_change(svc: &Service, input: &Value) -> Result<Value> {
    let (mut pool, version) = read_pool(svc, input.req_str("UserPoolId")?).await?;
    if pool.settings_change.is_some() {
        return Err(in_progress(&pool));
    }
    let req = request(&pool, input)?;
    let plan = plan(svc, &pool, &req).await?;
    if plan.unresolved > 0 {
        let first = plan.conflicts.iter().find(|c| c.resolution.is_none()).map(|c| {
            format!(
                "{} {}{} ({})",
                c.kind,
                c.attribute.as_deref().unwrap_or(""),
                c.value.as_deref().map(|v| format!(" {v}")).unwrap_or_default(),
                c.usernames.join(", ")
            )
        });
        return Err(Error::invalid(format!(
            "The change would create {} unresolved conflict(s), first: {}. Run PlanUserPoolSettingsChange for the list; \
             resolve them (AliasConflicts, MissingRequiredAttributes) or change those users first.",
            plan.unresolved,
            first.unwrap_or_default()
        )));
    }
    if plan.yielding.len() > MAX_YIELDING {
        return Err(Error::invalid(format!(
            "The change resolves against {} users; at most {MAX_YIELDING} can be in one change. Change some of those users first.",
            plan.yielding.len()
        )));
    }
    let from = pool.sign_in_settings();
    let req_case_change = from.case_sensitive != req.to.case_sensitive;
    pool.username_attributes = req.to.username_attributes.clone();
    pool.alias_attributes = req.to.alias_attributes.clone();
    pool.required_attributes = req.to.required_attributes.clone();
    pool.modified = svc.clock.now_millis();
    pool.settings_change = Some(Box::new(SignInSettingsChange {
        from,
        to: req.to,
        yielding: plan.yielding.clone(),
        allow_missing_required: req.allow_missing_required,
        done_through: None,
        moving_through: None,
        moving_all: false,
        users_done: 0,
        started: pool.modified,
        // Processes that cached the pool before the change let it go within their cache's life.
        not_before: if req_case_change { pool.modified + svc.config.pool_cache_ttl_ms + 500 } else { 0 },
    }));
    svc.save_pool(&pool, version, Vec::new()).await?;
    let mut out = plan.json();
    out["Status"] = json!("IN_PROGRESS");
    Ok(out)
}

/// `ContinueUserPoolSettingsChange`: re-indexes the next `MaxUsers` users (500 by default), for
/// at most [`STEP_BUDGET_MS`] (so a call fits a Lambda function's timeout); the call that
/// reaches the last one finishes the change. A CaseSensitive change makes two passes: the
/// second, once every request that read the pool during the first has ended, moves the users a
/// request made meanwhile under the old rule. While the change must wait, a call answers at once
/// with `RetryAfterMs` (or waits itself when that is short).
pub async fn continue_user_pool_settings_change(svc: &Service, input: &Value) -> Result<Value> {
    let pool_id = input.req_str("UserPoolId")?;
    let limit = match input.i64_of("MaxUsers") {
        None => DEFAULT_STEP,
        Some(n) if (1..=MAX_STEP as i64).contains(&n) => n as usize,
        Some(_) => return Err(Error::invalid(format!("MaxUsers must be 1 to {MAX_STEP}."))),
    };
    let (pool, _) = read_pool(svc, pool_id).await?;
    let Some(change) = pool.settings_change.clone() else {
        return Err(Error::invalid(format!(
            "No sign-in settings change of user pool {pool_id} is in progress."
        )));
    };
    let wait = change.not_before - svc.clock.now_millis();
    if wait > MAX_IN_CALL_WAIT_MS {
        return Ok(json!({"Status": "IN_PROGRESS", "UsersDone": change.users_done, "RetryAfterMs": wait}));
    }
    wait_ms(wait).await;
    let case_change = pool.case_change_in_progress();
    let started = std::time::Instant::now();
    let (page, mut last) = users_page(svc, pool_id, change.done_through.as_deref(), limit).await?;
    let mut through = None;
    for (key, _, _) in &page {
        if through.is_some() && started.elapsed().as_millis() as i64 > STEP_BUDGET_MS {
            last = false;
            break;
        }
        reindex(svc, pool_id, key).await?;
        through = Some(key.clone());
    }
    let done = page.iter().take_while(|(k, ..)| through.as_ref().is_some_and(|t| k <= t)).count() as u64;
    let mut out = json!({"Status": "IN_PROGRESS", "UsersDone": change.users_done + done});
    if !last {
        update_change(svc, pool_id, |c| {
            c.done_through = through.clone().or(c.done_through.take());
            c.users_done += done;
        })
        .await?;
    } else if case_change && !change.moving_all {
        let settle = svc.config.request_time_bound_ms + svc.config.pool_cache_ttl_ms;
        let now = svc.clock.now_millis();
        update_change(svc, pool_id, |c| {
            c.moving_all = true;
            c.done_through = None;
            c.users_done += done;
            c.not_before = now + settle;
        })
        .await?;
        out["RetryAfterMs"] = json!(settle);
    } else {
        finish(svc, pool_id).await?;
        out["Status"] = json!("COMPLETE");
    }
    Ok(out)
}

async fn wait_ms(ms: i64) {
    tokio::time::sleep(std::time::Duration::from_millis(ms.max(0) as u64)).await;
}

/// Changes the recorded change on the pool's current version (retried on a race).
async fn update_change(svc: &Service, pool_id: &str, f: impl Fn(&mut SignInSettingsChange)) -> Result<()> {
    for _ in 0..5 {
        let (mut pool, version) = read_pool(svc, pool_id).await?;
        let Some(change) = pool.settings_change.as_deref_mut() else {
            return Err(Error::invalid(format!(
                "No sign-in settings change of user pool {pool_id} is in progress."
            )));
        };
        f(change);
        match svc.save_pool(&pool, version, Vec::new()).await {
            Err(Error::ConcurrentModificationException(_)) => continue,
            other => return other,
        }
    }
    Err(Error::ConcurrentModificationException("The user pool kept changing; try again.".into()))
}

async fn finish(svc: &Service, pool_id: &str) -> Result<()> {
    for _ in 0..5 {
        let (mut pool, version) = read_pool(svc, pool_id).await?;
        let Some(change) = pool.settings_change.take() else { return Ok(()) };
        pool.case_sensitive = change.to.case_sensitive;
        pool.modified = svc.clock.now_millis();
        match svc.save_pool(&pool, version, Vec::new()).await {
            Err(Error::ConcurrentModificationException(_)) => continue,
            other => return other,
        }
    }
    Err(Error::ConcurrentModificationException("The user pool kept changing; try again.".into()))
}

/// Brings the user stored under `key` in line with the new settings: the alias resolution,
/// then its index items, and under a case change its key. Under a case change the pool's
/// cursor moves past the user in the same transaction, so a request that reads the pool then
/// the user finds it where the pool says (and one that raced the move finds it by the other
/// rule, or has its write refused and retried). Retried when the user or pool changes.
async fn reindex(svc: &Service, pool_id: &str, key: &str) -> Result<()> {
    for _ in 0..10 {
        let (mut pool, pool_version) = read_pool(svc, pool_id).await?;
        let Some((mut user, version)) =
            svc.get_json::<User>(&keys::user(pool_id, key), keys::USER_SK).await?
        else {
            return Ok(());
        };
        let case_change = pool.case_change_in_progress();
        if let Some(c) = pool.settings_change.as_deref_mut() {
            if case_change && !c.moving_all && c.moving_through.as_deref().is_none_or(|m| m < key) {
                c.moving_through = Some(key.to_string());
            }
        }
        let before = user.attributes.clone();
        for kind in
            pool.settings_change.as_deref().and_then(|c| c.yielding.get(&user.username)).into_iter().flatten()
        {
            if kind == "preferred_username" {
                user.attributes.remove(kind);
            } else if user.attr(&format!("{kind}_verified")) == Some("true") {
                user.attributes.insert(format!("{kind}_verified"), "false".into());
            }
        }
        let new_key = pool.username_key(&user.username);
        let extra = if case_change { vec![svc.pool_write(&pool, pool_version)?] } else { Vec::new() };
        let result = if new_key == key {
            let desired = crate::user_index::desired(&pool, &user);
            if user.attributes == before && desired == user.owned {
                return Ok(());
            }
            svc.save_user(&pool, &user, version, extra).await
        } else {
            move_user(svc, &pool, key, &new_key, &user, version, extra).await
        };
        if case_change {
            svc.forget_pool(pool_id);
        }
        match result {
            Err(Error::ConcurrentModificationException(_)) => continue,
            Err(Error::AliasExistsException(m)) | Err(Error::UsernameExistsException(m)) => {
                return Err(Error::invalid(format!(
                    "User {} cannot be re-indexed: {m} (another user took the name since the change was planned). \
                     Change one of the two users, then continue.",
                    user.username
                )))
            }
            other => return other,
        }
    }
    Err(Error::ConcurrentModificationException(format!("The user at {key} kept changing; continue again.")))
}

/// Moves a user to its key under the new case rule, with its index items, listing entry,
/// group memberships and devices, in one transaction with `extra`.
async fn move_user(
    svc: &Service,
    pool: &UserPool,
    old: &str,
    new: &str,
    user: &User,
    version: u64,
    extra: Vec<Write>,
) -> Result<()> {
    let now = svc.now_secs();
    let mut moved = user.clone();
    moved.owned = crate::user_index::desired(pool, user);
    let mut item = Item::new(
        keys::user(&pool.id, new),
        keys::USER_SK,
        serde_json::to_value(&moved).map_err(Error::internal)?,
    );
    item.version = version + 1;
    let mut writes = vec![
        Write::delete(keys::user(&pool.id, old), keys::USER_SK, Cond::Version(version)),
        Write::put(item, Cond::NotExists),
        Write::delete(keys::pool_users(&pool.id), old, Cond::None),
        Write::put(Item::new(keys::pool_users(&pool.id), new, json!({})), Cond::NotExists),
    ];
    let taken = [1, 3];
    let mut claims = Vec::new();
    for (kind, value) in &user.owned.aliases {
        if moved.owned.aliases.get(kind) != Some(value) {
            writes.push(Write::delete(keys::alias(&pool.id, kind, value), keys::ALIAS_SK, Cond::None));
        }
    }
    for (kind, value) in &moved.owned.aliases {
        if user.owned.aliases.get(kind) != Some(value) {
            let item = Item::new(
                keys::alias(&pool.id, kind, value),
                keys::ALIAS_SK,
                json!({"username": user.username}),
            );
            claims.push(writes.len());
            writes.push(Write::put(item, Cond::NotExists));
        }
    }
    for (attribute, value) in &user.owned.search {
        writes.push(Write::delete(
            keys::search(&pool.id, attribute),
            keys::search_sk(value, old),
            Cond::None,
        ));
    }
    for (attribute, value) in &moved.owned.search {
        let item = Item::new(
            keys::search(&pool.id, attribute),
            keys::search_sk(value, new),
            json!({"username": user.username}),
        );
        writes.push(Write::put(item, Cond::None));
    }
    // Memberships and devices, each moved as a whole (both sides of a membership together).
    let mut satellites: Vec<Vec<Write>> = Vec::new();
    let mut back: Vec<Vec<Write>> = Vec::new();
    for entry in svc.query_all(&keys::user_groups(&pool.id, old)).await? {
        if entry.body.get("sub").and_then(Value::as_str) != Some(user.sub.as_str()) {
            continue;
        }
        let group = entry.sk.clone();
        let member = json!({"sub": user.sub, "username": user.username});
        let membership = |from: &str, to: &str| {
            vec![
                Write::delete(keys::user_groups(&pool.id, from), &group, Cond::None),
                Write::put(
                    Item::new(keys::user_groups(&pool.id, to), &group, entry.body.clone()),
                    Cond::None,
                ),
                Write::delete(keys::group_members(&pool.id, &group), from, Cond::None),
                Write::put(Item::new(keys::group_members(&pool.id, &group), to, member.clone()), Cond::None),
            ]
        };
        satellites.push(membership(old, new));
        back.push(membership(new, old));
    }
    for device in svc.query_all(&keys::user_devices(&pool.id, old)).await? {
        let mut copy = device.clone();
        copy.pk = keys::user_devices(&pool.id, new);
        back.push(vec![
            Write::delete(&copy.pk, &copy.sk, Cond::None),
            Write::put(device.clone(), Cond::None),
        ]);
        satellites
            .push(vec![Write::delete(&device.pk, &device.sk, Cond::None), Write::put(copy, Cond::None)]);
    }
    let extra_at = writes.len();
    writes.extend(extra);
    let fits = writes.len() + satellites.iter().map(Vec::len).sum::<usize>() <= MAX_TRANSACTION_WRITES;
    if fits {
        writes.extend(satellites.drain(..).flatten());
        back.clear();
    } else {
        // Too many for one transaction (a user in many groups, or with many devices): they move
        // first, in batches, and move back if the user cannot follow. Meanwhile the user's
        // groups and devices are briefly split between its two keys.
        if svc.store.get(&keys::user(&pool.id, new), keys::USER_SK, now).await?.is_some() {
            return Err(Error::UsernameExistsException(format!("the name {new} is taken")));
        }
        apply_batches(svc, satellites, now).await?;
    }
    let result = match svc.store.transact(writes, now).await {
        Ok(()) => Ok(()),
        Err(StoreError::ConditionFailed { index }) if taken.contains(&index) => {
            Err(Error::UsernameExistsException(format!("the name {new} is taken")))
        }
        Err(StoreError::ConditionFailed { index }) if claims.contains(&index) => {
            Err(Error::AliasExistsException("an alias it would hold is taken".into()))
        }
        Err(StoreError::ConditionFailed { index }) if index == 0 || index >= extra_at => {
            Err(Error::ConcurrentModificationException("The user or the pool changed meanwhile.".into()))
        }
        Err(StoreError::ConditionFailed { .. }) => {
            Err(Error::ConcurrentModificationException("The user changed meanwhile.".into()))
        }
        Err(e) => Err(e.into()),
    };
    if result.is_err() && !back.is_empty() {
        apply_batches(svc, back, now).await?;
    }
    result
}

/// Applies groups of writes in transactions of at most [`MAX_TRANSACTION_WRITES`], keeping each
/// group in one transaction.
async fn apply_batches(svc: &Service, groups: Vec<Vec<Write>>, now: i64) -> Result<()> {
    let mut batch: Vec<Write> = Vec::new();
    for group in groups {
        if batch.len() + group.len() > MAX_TRANSACTION_WRITES {
            svc.store.transact(std::mem::take(&mut batch), now).await?;
        }
        batch.extend(group);
    }
    if !batch.is_empty() {
        svc.store.transact(batch, now).await?;
    }
    Ok(())
}
