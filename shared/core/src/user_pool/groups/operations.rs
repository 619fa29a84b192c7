//! The group operations: CreateGroup, GetGroup, UpdateGroup, DeleteGroup, ListGroups,
//! AdminAddUserToGroup, AdminRemoveUserFromGroup, AdminListGroupsForUser, ListUsersInGroup.

use super::records::{
    belongs_to, count_write, group_changed, group_count, group_not_found, group_record, group_writes,
    load_group, membership_deletes, require_group, user_group_entries, MEMBERSHIPS_PER_BATCH,
};
use crate::error::{Error, Result};
use crate::input::{decode_next_token, encode_next_token, page_limit, Input};
use crate::model::{keys, Group, User};
use crate::retry::{retry_on_conflict, Attempt};
use crate::service::Service;
use crate::store::{Cond, Item, StoreError, Write};
use serde_json::{json, Value};

/// Tries of a write that lost a race on a version before answering ConcurrentModification.
const ATTEMPTS: usize = 5;

/// The largest `Precedence` Cognito accepts (2^31 - 1).
const MAX_PRECEDENCE: i64 = i32::MAX as i64;

/// `GroupType`.
fn group_type(g: &Group) -> Value {
    let mut out = json!({
        "GroupName": g.name,
        "UserPoolId": g.pool_id,
        "CreationDate": g.created as f64 / 1000.0,
        "LastModifiedDate": g.modified as f64 / 1000.0,
    });
    if let Some(d) = &g.description {
        out["Description"] = json!(d);
    }
    if let Some(r) = &g.role_arn {
        out["RoleArn"] = json!(r);
    }
    if let Some(p) = g.precedence {
        out["Precedence"] = json!(p);
    }
    out
}

fn precedence(input: &Value) -> Result<Option<i64>> {
    match input.get("Precedence") {
        None | Some(Value::Null) => Ok(None),
        Some(v) => match v.as_i64() {
            Some(n) if (0..=MAX_PRECEDENCE).contains(&n) => Ok(Some(n)),
            _ => Err(Error::invalid(crate::input::validation_message(
                "Precedence",
                Some(&v.to_string()),
                &format!("Member must have value less than or equal to {MAX_PRECEDENCE}"),
            ))),
        },
    }
}

pub async fn create_group(svc: &Service, input: &Value) -> Result<Value> {
    let pool = svc.pool(input.req_str("UserPoolId")?).await?;
    let name = input.req_str("GroupName")?;
    let now = svc.clock.now_millis();
    let group = Group {
        name: name.to_string(),
        pool_id: pool.id.clone(),
        description: input.str_of("Description").map(str::to_string),
        role_arn: input.str_of("RoleArn").map(str::to_string),
        precedence: precedence(input)?,
        created: now,
        modified: now,
        deleting: false,
    };
    let body = serde_json::to_value(&group).map_err(Error::internal)?;
    let exists = || Error::GroupExistsException(format!("A group with the name {name} already exists."));
    let (pool, body, group) = (&*pool, &body, &group);
    let done = retry_on_conflict(ATTEMPTS, || async move {
        if load_group(svc, &pool.id, name).await?.is_some() {
            return Err(exists());
        }
        let (count, read_at) = group_count(svc, &pool.id).await?;
        let limit = svc.config.limits.groups_per_pool;
        if count >= limit {
            return Err(Error::LimitExceededException(format!(
                "The user pool has reached its limit of {limit} groups."
            )));
        }
        let writes = vec![
            Write::put(Item::new(keys::group(&pool.id, name), keys::GROUP_SK, body.clone()), Cond::NotExists),
            Write::put(Item::new(keys::pool_groups(&pool.id), name, body.clone()), Cond::NotExists),
            count_write(&pool.id, count + 1, read_at),
        ];
        // Another group was created or deleted meanwhile, or this one: look again.
        Attempt::of_write(
            svc.store.transact(writes, svc.now_secs()).await,
            json!({"Group": group_type(group)}),
        )
    });
    done.await?.ok_or_else(group_changed)
}

pub async fn get_group(svc: &Service, input: &Value) -> Result<Value> {
    let pool = svc.pool(input.req_str("UserPoolId")?).await?;
    let (group, _) = require_group(svc, &pool.id, input.req_str("GroupName")?).await?;
    Ok(json!({"Group": group_type(&group)}))
}

/// Changes only the members the request gives.
pub async fn update_group(svc: &Service, input: &Value) -> Result<Value> {
    let pool = svc.pool(input.req_str("UserPoolId")?).await?;
    let name = input.req_str("GroupName")?;
    let new_precedence = precedence(input)?;
    let pool = &*pool;
    let done = retry_on_conflict(ATTEMPTS, || async move {
        let (mut group, version) = require_group(svc, &pool.id, name).await?;
        if let Some(d) = input.str_of("Description") {
            group.description = Some(d.to_string());
        }
        if let Some(r) = input.str_of("RoleArn") {
            group.role_arn = Some(r.to_string());
        }
        if new_precedence.is_some() {
            group.precedence = new_precedence;
        }
        group.modified = svc.clock.now_millis();
        Attempt::of_write(
            svc.store.transact(group_writes(&group, version)?, svc.now_secs()).await,
            json!({"Group": group_type(&group)}),
        )
    });
    done.await?.ok_or_else(group_changed)
}

/// First marks the group as being deleted (no member can be added from then on), then removes
/// the memberships in batches, then the group. Interrupted, it leaves the group marked, with
/// fewer members; calling it again finishes the work.
pub async fn delete_group(svc: &Service, input: &Value) -> Result<Value> {
    let pool = svc.pool(input.req_str("UserPoolId")?).await?;
    let name = input.req_str("GroupName")?;
    let members_pk = keys::group_members(&pool.id, name);
    let mut lost_races = 0;
    loop {
        let (mut group, version) = require_group(svc, &pool.id, name).await?;
        let now = svc.now_secs();
        let writes = if group.deleting {
            let page = svc.store.query(&members_pk, "", None, MEMBERSHIPS_PER_BATCH, now).await?;
            if !page.items.is_empty() {
                let writes =
                    page.items.iter().flat_map(|m| membership_deletes(&pool.id, name, &m.sk)).collect();
                svc.store.transact(writes, now).await?;
                continue;
            }
            let (count, read_at) = group_count(svc, &pool.id).await?;
            vec![
                Write::delete(keys::group(&pool.id, name), keys::GROUP_SK, Cond::Version(version)),
                Write::delete(keys::pool_groups(&pool.id), name, Cond::None),
                count_write(&pool.id, count.saturating_sub(1), read_at),
            ]
        } else {
            group.deleting = true;
            vec![group_record(&group, version, version + 1)?]
        };
        let last = writes.len() == 3;
        match svc.store.transact(writes, now).await {
            Ok(()) if last => return Ok(json!({})),
            Ok(()) => {}
            Err(StoreError::ConditionFailed { .. }) if lost_races + 1 < ATTEMPTS => lost_races += 1,
            Err(StoreError::ConditionFailed { .. }) => return Err(group_changed()),
            Err(e) => return Err(e.into()),
        }
    }
}

pub async fn list_groups(svc: &Service, input: &Value) -> Result<Value> {
    let pool = svc.pool(input.req_str("UserPoolId")?).await?;
    let start = input.str_of("NextToken").map(decode_next_token).transpose()?;
    let page = svc
        .store
        .query(&keys::pool_groups(&pool.id), "", start.as_deref(), page_limit(input), svc.now_secs())
        .await?;
    let mut groups = Vec::new();
    for entry in page.items {
        let group: Group = serde_json::from_value(entry.body).map_err(Error::internal)?;
        groups.push(group_type(&group));
    }
    let mut out = json!({"Groups": groups});
    if let Some(next) = page.next {
        out["NextToken"] = json!(encode_next_token(&next));
    }
    Ok(out)
}

/// Adds the user (any sign-in identifier) to the group; adding a member again succeeds. The
/// transaction rewrites the group record unchanged, at the version read: it fails if DeleteGroup
/// (or UpdateGroup) got there first, yet concurrent adds never conflict with each other.
/// The per-user quota is checked against the memberships read, so two adds racing for a user's
/// last free slot may both succeed.
pub async fn admin_add_user_to_group(svc: &Service, input: &Value) -> Result<Value> {
    let pool = svc.pool(input.req_str("UserPoolId")?).await?;
    let name = input.req_str("GroupName")?;
    require_group(svc, &pool.id, name).await?;
    let (user, _) = svc.require_user(&pool, input.req_str("Username")?).await?;
    let user_key = pool.username_key(&user.username);
    let (pool, user, user_key) = (&*pool, &user, &user_key);
    let done = retry_on_conflict(ATTEMPTS, || async move {
        let (group, version) = require_group(svc, &pool.id, name).await?;
        if group.deleting {
            return Err(group_not_found());
        }
        let entries = user_group_entries(svc, &pool.id, user_key).await?;
        let current: Vec<&Item> = entries.iter().filter(|e| belongs_to(e, user)).collect();
        if current.iter().any(|e| e.sk == name) {
            return Ok(Attempt::Done(json!({})));
        }
        let limit = svc.config.limits.groups_per_user;
        if current.len() as u64 >= limit {
            return Err(Error::LimitExceededException(format!(
                "The user has reached its limit of {limit} groups."
            )));
        }
        let writes = vec![
            group_record(&group, version, version)?,
            Write::put(
                Item::new(keys::user_groups(&pool.id, user_key), name, json!({"sub": user.sub})),
                Cond::None,
            ),
            Write::put(
                Item::new(
                    keys::group_members(&pool.id, name),
                    user_key,
                    json!({"sub": user.sub, "username": user.username}),
                ),
                Cond::None,
            ),
        ];
        Attempt::of_write(svc.store.transact(writes, svc.now_secs()).await, json!({}))
    });
    done.await?.ok_or_else(group_changed)
}

pub async fn admin_remove_user_from_group(svc: &Service, input: &Value) -> Result<Value> {
    let pool = svc.pool(input.req_str("UserPoolId")?).await?;
    let name = input.req_str("GroupName")?;
    require_group(svc, &pool.id, name).await?;
    let (user, _) = svc.require_user(&pool, input.req_str("Username")?).await?;
    let user_key = pool.username_key(&user.username);
    svc.store.transact(membership_deletes(&pool.id, name, &user_key).into(), svc.now_secs()).await?;
    Ok(json!({}))
}

pub async fn admin_list_groups_for_user(svc: &Service, input: &Value) -> Result<Value> {
    let pool = svc.pool(input.req_str("UserPoolId")?).await?;
    let (user, _) = svc.require_user(&pool, input.req_str("Username")?).await?;
    let start = input.str_of("NextToken").map(decode_next_token).transpose()?;
    let pk = keys::user_groups(&pool.id, &pool.username_key(&user.username));
    let page = svc.store.query(&pk, "", start.as_deref(), page_limit(input), svc.now_secs()).await?;
    let mut groups = Vec::new();
    for entry in page.items.iter().filter(|e| belongs_to(e, &user)) {
        if let Some((group, _)) = load_group(svc, &pool.id, &entry.sk).await?.filter(|(g, _)| !g.deleting) {
            groups.push(group_type(&group));
        }
    }
    let mut out = json!({"Groups": groups});
    if let Some(next) = page.next {
        out["NextToken"] = json!(encode_next_token(&next));
    }
    Ok(out)
}

pub async fn list_users_in_group(svc: &Service, input: &Value) -> Result<Value> {
    let pool = svc.pool(input.req_str("UserPoolId")?).await?;
    let name = input.req_str("GroupName")?;
    require_group(svc, &pool.id, name).await?;
    let start = input.str_of("NextToken").map(decode_next_token).transpose()?;
    let page = svc
        .store
        .query(&keys::group_members(&pool.id, name), "", start.as_deref(), page_limit(input), svc.now_secs())
        .await?;
    let mut users = Vec::new();
    for entry in &page.items {
        let found = svc.get_json::<User>(&keys::user(&pool.id, &entry.sk), keys::USER_SK).await?;
        if let Some((user, _)) = found.filter(|(u, _)| belongs_to(entry, u)) {
            users.push(user.user_type(None));
        }
    }
    let mut out = json!({"Users": users});
    if let Some(next) = page.next {
        out["NextToken"] = json!(encode_next_token(&next));
    }
    Ok(out)
}
