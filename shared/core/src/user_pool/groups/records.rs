//! Groups and memberships as stored, and the writes that keep them.
//!
//! Layout: the group record (`GROUP#pool#name`), the pool's listing (`GROUPS#pool`, sk = name,
//! holding a copy of the group so a page is one query) and its count (`GROUPCOUNT#pool`), and
//! every membership twice, written in one transaction: under the group (`MEMBERS#pool#name`,
//! sk = username key) and under the user (`MEMBEROF#pool#userkey`, sk = group name). Membership
//! items carry the user's `sub`, so an entry a deleted user left behind never attaches to a later
//! user of the same name.

use crate::error::{Error, Result};
use crate::model::{keys, Group, User, UserPool};
use crate::service::Service;
use crate::store::{Cond, Item, Write, MAX_TRANSACTION_WRITES};
use serde_json::{json, Value};

/// Memberships removed per transaction: each is two deletes.
pub(super) const MEMBERSHIPS_PER_BATCH: usize = MAX_TRANSACTION_WRITES / 2;

pub(super) fn group_not_found() -> Error {
    Error::ResourceNotFoundException("Group not found.".into())
}

pub(super) fn group_changed() -> Error {
    Error::ConcurrentModificationException("The group was modified by another request. Try again.".into())
}

pub(super) async fn load_group(svc: &Service, pool_id: &str, name: &str) -> Result<Option<(Group, u64)>> {
    svc.get_json::<Group>(&keys::group(pool_id, name), keys::GROUP_SK).await
}

pub(super) async fn require_group(svc: &Service, pool_id: &str, name: &str) -> Result<(Group, u64)> {
    load_group(svc, pool_id, name).await?.ok_or_else(group_not_found)
}

/// The group record stored at `new_version`, conditional on the `version` it was read at.
pub(super) fn group_record(group: &Group, version: u64, new_version: u64) -> Result<Write> {
    let body = serde_json::to_value(group).map_err(Error::internal)?;
    let mut item = Item::new(keys::group(&group.pool_id, &group.name), keys::GROUP_SK, body);
    item.version = new_version;
    Ok(Write::put(item, Cond::Version(version)))
}

/// The changed group record, conditional on the version read, and its listing copy.
pub(super) fn group_writes(group: &Group, version: u64) -> Result<Vec<Write>> {
    let body = serde_json::to_value(group).map_err(Error::internal)?;
    Ok(vec![
        group_record(group, version, version + 1)?,
        Write::put(Item::new(keys::pool_groups(&group.pool_id), &group.name, body), Cond::None),
    ])
}

/// The pool's group count and the version it was read at (None: no group yet).
pub(super) async fn group_count(svc: &Service, pool_id: &str) -> Result<(u64, Option<u64>)> {
    let item = svc.store.get(&keys::pool_group_count(pool_id), keys::GROUP_COUNT_SK, svc.now_secs()).await?;
    Ok(match item {
        Some(i) => (i.body.get("count").and_then(Value::as_u64).unwrap_or(0), Some(i.version)),
        None => (0, None),
    })
}

pub(super) fn count_write(pool_id: &str, count: u64, read_at: Option<u64>) -> Write {
    let mut item = Item::new(keys::pool_group_count(pool_id), keys::GROUP_COUNT_SK, json!({"count": count}));
    match read_at {
        Some(v) => {
            item.version = v + 1;
            Write::put(item, Cond::Version(v))
        }
        None => Write::put(item, Cond::NotExists),
    }
}

/// Every entry of a user's membership partition, stale ones included.
pub(super) async fn user_group_entries(
    svc: &Service,
    pool_id: &str,
    username_key: &str,
) -> Result<Vec<Item>> {
    svc.query_all(&keys::user_groups(pool_id, username_key)).await
}

pub(super) fn belongs_to(entry: &Item, user: &User) -> bool {
    entry.body.get("sub").and_then(Value::as_str) == Some(user.sub.as_str())
}

/// Both sides of one membership.
pub(super) fn membership_deletes(pool_id: &str, group_name: &str, username_key: &str) -> [Write; 2] {
    [
        Write::delete(keys::group_members(pool_id, group_name), username_key, Cond::None),
        Write::delete(keys::user_groups(pool_id, username_key), group_name, Cond::None),
    ]
}

/// Adds the deletes of a user's memberships (both sides) to the writes that delete the user, as
/// far as they fit; the rest come back as further batches to apply once the user is gone.
/// Leftovers a failure might strand carry the old `sub` and attach to no later user.
pub(crate) async fn with_membership_deletes(
    svc: &Service,
    pool: &UserPool,
    username_key: &str,
    mut writes: Vec<Write>,
) -> Result<(Vec<Write>, Vec<Vec<Write>>)> {
    let mut later: Vec<Vec<Write>> = Vec::new();
    for entry in user_group_entries(svc, &pool.id, username_key).await? {
        let pair = membership_deletes(&pool.id, &entry.sk, username_key);
        if writes.len() + pair.len() <= MAX_TRANSACTION_WRITES {
            writes.extend(pair);
            continue;
        }
        match later.last_mut() {
            Some(batch) if batch.len() + pair.len() <= MAX_TRANSACTION_WRITES => batch.extend(pair),
            _ => later.push(pair.into()),
        }
    }
    Ok((writes, later))
}

/// Applies batches from [`with_membership_deletes`], one transaction each.
pub(crate) async fn apply_batches(svc: &Service, batches: Vec<Vec<Write>>) -> Result<()> {
    for batch in batches {
        svc.store.transact(batch, svc.now_secs()).await?;
    }
    Ok(())
}

/// Deletes every group of a pool with its memberships, and the pool's group count
/// (DeleteUserPool, once the pool itself is gone).
pub(crate) async fn delete_pool_groups(svc: &Service, pool_id: &str) -> Result<()> {
    let listing_pk = keys::pool_groups(pool_id);
    loop {
        let now = svc.now_secs();
        let page = svc.store.query(&listing_pk, "", None, 20, now).await?;
        if page.items.is_empty() {
            break;
        }
        for entry in &page.items {
            let members_pk = keys::group_members(pool_id, &entry.sk);
            loop {
                let members = svc.store.query(&members_pk, "", None, MEMBERSHIPS_PER_BATCH, now).await?;
                if members.items.is_empty() {
                    break;
                }
                let writes = members
                    .items
                    .iter()
                    .flat_map(|m| membership_deletes(pool_id, &entry.sk, &m.sk))
                    .collect();
                svc.store.transact(writes, now).await?;
            }
            svc.store
                .transact(
                    vec![
                        Write::delete(keys::group(pool_id, &entry.sk), keys::GROUP_SK, Cond::None),
                        Write::delete(listing_pk.clone(), entry.sk.clone(), Cond::None),
                    ],
                    now,
                )
                .await?;
        }
    }
    svc.store
        .transact(
            vec![Write::delete(keys::pool_group_count(pool_id), keys::GROUP_COUNT_SK, Cond::None)],
            svc.now_secs(),
        )
        .await?;
    Ok(())
}
