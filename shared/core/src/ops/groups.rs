//! CreateGroup, GetGroup, UpdateGroup, DeleteGroup, ListGroups, AdminAddUserToGroup,
//! AdminRemoveUserFromGroup, AdminListGroupsForUser, ListUsersInGroup; and the group claims of
//! tokens.
//!
//! Layout: the group record (`GROUP#pool#name`), the pool's listing (`GROUPS#pool`, sk = name,
//! holding a copy of the group so a page is one query) and its count (`GROUPCOUNT#pool`), and
//! every membership twice, written in one transaction: under the group (`MEMBERS#pool#name`,
//! sk = username key) and under the user (`MEMBEROF#pool#userkey`, sk = group name). Membership
//! items carry the user's `sub`, so an entry a deleted user left behind never attaches to a later
//! user of the same name.

use crate::error::{Error, Result};
use crate::model::{keys, Group, User, UserPool};
use crate::service::{decode_next_token, encode_next_token, page_limit, Input, Service};
use crate::store::{Cond, Item, StoreError, Write, MAX_TRANSACTION_WRITES};
use serde_json::{json, Map, Value};

/// Tries of a write that lost a race on a version before answering ConcurrentModification.
const ATTEMPTS: usize = 5;

/// Memberships removed per transaction: each is two deletes.
const MEMBERSHIPS_PER_BATCH: usize = MAX_TRANSACTION_WRITES / 2;

/// The largest `Precedence` Cognito accepts (2^31 - 1).
const MAX_PRECEDENCE: i64 = i32::MAX as i64;

fn group_not_found() -> Error {
    Error::ResourceNotFoundException("Group not found.".into())
}

fn group_changed() -> Error {
    Error::ConcurrentModificationException("The group was modified by another request. Try again.".into())
}

/// `GroupType`.
pub fn group_type(g: &Group) -> Value {
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
            _ => Err(Error::invalid(format!(
                "1 validation error detected: Value '{v}' at 'precedence' failed to satisfy constraint: Member must have value less than or equal to {MAX_PRECEDENCE}"
            ))),
        },
    }
}

/// `Limit` of the list operations: 1–60, 60 when absent or 0.
async fn load_group(svc: &Service, pool_id: &str, name: &str) -> Result<Option<(Group, u64)>> {
    svc.get_json::<Group>(&keys::group(pool_id, name), keys::GROUP_SK).await
}

async fn require_group(svc: &Service, pool_id: &str, name: &str) -> Result<(Group, u64)> {
    load_group(svc, pool_id, name).await?.ok_or_else(group_not_found)
}

/// The group record stored at `new_version`, conditional on the `version` it was read at.
fn group_record(group: &Group, version: u64, new_version: u64) -> Result<Write> {
    let body = serde_json::to_value(group).map_err(Error::internal)?;
    let mut item = Item::new(keys::group(&group.pool_id, &group.name), keys::GROUP_SK, body);
    item.version = new_version;
    Ok(Write::put(item, Cond::Version(version)))
}

/// The changed group record, conditional on the version read, and its listing copy.
fn group_writes(group: &Group, version: u64) -> Result<Vec<Write>> {
    let body = serde_json::to_value(group).map_err(Error::internal)?;
    Ok(vec![
        group_record(group, version, version + 1)?,
        Write::put(Item::new(keys::pool_groups(&group.pool_id), &group.name, body), Cond::None),
    ])
}

/// The pool's group count and the version it was read at (None: no group yet).
async fn group_count(svc: &Service, pool_id: &str) -> Result<(u64, Option<u64>)> {
    let item = svc.store.get(&keys::pool_group_count(pool_id), keys::GROUP_COUNT_SK, svc.now_secs()).await?;
    Ok(match item {
        Some(i) => (i.body.get("count").and_then(Value::as_u64).unwrap_or(0), Some(i.version)),
        None => (0, None),
    })
}

fn count_write(pool_id: &str, count: u64, read_at: Option<u64>) -> Write {
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
async fn user_group_entries(svc: &Service, pool_id: &str, username_key: &str) -> Result<Vec<Item>> {
    let pk = keys::user_groups(pool_id, username_key);
    let mut out = Vec::new();
    let mut start: Option<String> = None;
    loop {
        let page = svc.store.query(&pk, "", start.as_deref(), 1000, svc.now_secs()).await?;
        out.extend(page.items);
        match page.next {
            Some(s) => start = Some(s),
            None => return Ok(out),
        }
    }
}

fn belongs_to(entry: &Item, user: &User) -> bool {
    entry.body.get("sub").and_then(Value::as_str) == Some(user.sub.as_str())
}

/// Both sides of one membership.
fn membership_deletes(pool_id: &str, group_name: &str, username_key: &str) -> [Write; 2] {
    [
        Write::delete(keys::group_members(pool_id, group_name), username_key, Cond::None),
        Write::delete(keys::user_groups(pool_id, username_key), group_name, Cond::None),
    ]
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
    for _ in 0..ATTEMPTS {
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
        match svc.store.transact(writes, svc.now_secs()).await {
            Ok(()) => return Ok(json!({"Group": group_type(&group)})),
            // Another group was created or deleted meanwhile, or this one: look again.
            Err(StoreError::ConditionFailed { .. }) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(group_changed())
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
    for _ in 0..ATTEMPTS {
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
        match svc.store.transact(group_writes(&group, version)?, svc.now_secs()).await {
            Ok(()) => return Ok(json!({"Group": group_type(&group)})),
            Err(StoreError::ConditionFailed { .. }) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(group_changed())
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
    for _ in 0..ATTEMPTS {
        let (group, version) = require_group(svc, &pool.id, name).await?;
        if group.deleting {
            return Err(group_not_found());
        }
        let entries = user_group_entries(svc, &pool.id, &user_key).await?;
        let current: Vec<&Item> = entries.iter().filter(|e| belongs_to(e, &user)).collect();
        if current.iter().any(|e| e.sk == name) {
            return Ok(json!({}));
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
                Item::new(keys::user_groups(&pool.id, &user_key), name, json!({"sub": user.sub})),
                Cond::None,
            ),
            Write::put(
                Item::new(
                    keys::group_members(&pool.id, name),
                    &user_key,
                    json!({"sub": user.sub, "username": user.username}),
                ),
                Cond::None,
            ),
        ];
        match svc.store.transact(writes, svc.now_secs()).await {
            Ok(()) => return Ok(json!({})),
            Err(StoreError::ConditionFailed { .. }) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(group_changed())
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

/// `cognito:preferred_role`: among the groups that have a role, those with the lowest
/// precedence (any number beats none) decide; if they disagree on the role, there is none.
pub fn preferred_role<'a>(
    groups: impl IntoIterator<Item = (Option<i64>, Option<&'a str>)>,
) -> Option<&'a str> {
    let rank = |p: Option<i64>| (p.is_none(), p.unwrap_or(0));
    let mut best: Option<((bool, i64), &'a str)> = None;
    let mut tie_disagrees = false;
    for (precedence, role) in groups {
        let Some(role) = role else { continue };
        let r = rank(precedence);
        match best {
            Some((best_rank, best_role)) if r == best_rank => tie_disagrees |= role != best_role,
            Some((best_rank, _)) if r > best_rank => {}
            _ => {
                best = Some((r, role));
                tie_disagrees = false;
            }
        }
    }
    if tie_disagrees {
        None
    } else {
        best.map(|(_, role)| role)
    }
}

/// The group claims of a user's tokens: `cognito:groups` (both tokens), `cognito:roles` and
/// `cognito:preferred_role` (ID token). Also the `groupConfiguration` of the pre token
/// generation event, and what its `groupOverrideDetails` replaces.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupClaims {
    pub groups: Vec<String>,
    pub roles: Vec<String>,
    pub preferred_role: Option<String>,
}

impl GroupClaims {
    /// Sets the claims, replacing any there; an empty list or no role is no claim.
    pub fn apply(&self, access: &mut Map<String, Value>, id: &mut Map<String, Value>) {
        for claim in ["cognito:groups", "cognito:roles", "cognito:preferred_role"] {
            access.remove(claim);
            id.remove(claim);
        }
        if !self.groups.is_empty() {
            access.insert("cognito:groups".into(), json!(self.groups));
            id.insert("cognito:groups".into(), json!(self.groups));
        }
        if !self.roles.is_empty() {
            id.insert("cognito:roles".into(), json!(self.roles));
        }
        if let Some(role) = &self.preferred_role {
            id.insert("cognito:preferred_role".into(), json!(role));
        }
    }
}

/// The user's current groups (one query, then one read per group), ordered by precedence (none
/// last), then name; their distinct roles in that order; and the preferred role.
pub async fn group_claims(svc: &Service, pool: &UserPool, user: &User) -> Result<GroupClaims> {
    let pk = keys::user_groups(&pool.id, &pool.username_key(&user.username));
    let bound = usize::try_from(svc.config.limits.groups_per_user).unwrap_or(usize::MAX);
    let page = svc.store.query(&pk, "", None, bound, svc.now_secs()).await?;
    let mut groups = Vec::new();
    for entry in page.items.iter().filter(|e| belongs_to(e, user)) {
        // A group DeleteGroup has begun removing no longer counts.
        if let Some((group, _)) = load_group(svc, &pool.id, &entry.sk).await?.filter(|(g, _)| !g.deleting) {
            groups.push(group);
        }
    }
    if groups.is_empty() {
        return Ok(GroupClaims::default());
    }
    groups.sort_by(|a, b| {
        (a.precedence.is_none(), a.precedence, &a.name).cmp(&(b.precedence.is_none(), b.precedence, &b.name))
    });
    let mut roles: Vec<String> = Vec::new();
    for role in groups.iter().filter_map(|g| g.role_arn.as_deref()) {
        if !roles.iter().any(|r| r == role) {
            roles.push(role.to_string());
        }
    }
    let preferred_role =
        preferred_role(groups.iter().map(|g| (g.precedence, g.role_arn.as_deref()))).map(str::to_string);
    Ok(GroupClaims { groups: groups.into_iter().map(|g| g.name).collect(), roles, preferred_role })
}

/// Adds the deletes of a user's memberships (both sides) to the writes that delete the user, as
/// far as they fit; the rest come back as further batches to apply once the user is gone.
/// Leftovers a failure might strand carry the old `sub` and attach to no later user.
pub async fn with_membership_deletes(
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
pub async fn apply_batches(svc: &Service, batches: Vec<Vec<Write>>) -> Result<()> {
    for batch in batches {
        svc.store.transact(batch, svc.now_secs()).await?;
    }
    Ok(())
}

/// Deletes every group of a pool with its memberships, and the pool's group count
/// (DeleteUserPool, once the pool itself is gone).
pub async fn delete_pool_groups(svc: &Service, pool_id: &str) -> Result<()> {
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

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "arn:aws:iam::123456789012:role/a";
    const B: &str = "arn:aws:iam::123456789012:role/b";

    #[test]
    fn lowest_precedence_wins() {
        assert_eq!(preferred_role([(Some(5), Some(A)), (Some(1), Some(B))]), Some(B));
        assert_eq!(preferred_role([(Some(0), Some(A)), (Some(1), Some(B))]), Some(A));
    }

    #[test]
    fn no_precedence_loses_to_any_number() {
        assert_eq!(preferred_role([(None, Some(A)), (Some(1_000_000), Some(B))]), Some(B));
        assert_eq!(preferred_role([(Some(7), Some(B)), (None, Some(A))]), Some(B));
    }

    #[test]
    fn only_groups_with_a_role_count() {
        assert_eq!(preferred_role([(Some(0), None), (Some(3), Some(A))]), Some(A));
        assert_eq!(preferred_role([(Some(0), None), (None, None)]), None);
        assert_eq!(preferred_role(std::iter::empty()), None);
    }

    #[test]
    fn a_tie_with_the_same_role_keeps_it() {
        assert_eq!(preferred_role([(Some(2), Some(A)), (Some(2), Some(A)), (Some(9), Some(B))]), Some(A));
        assert_eq!(preferred_role([(None, Some(A)), (None, Some(A))]), Some(A));
    }

    #[test]
    fn a_tie_with_different_roles_omits_the_claim() {
        assert_eq!(preferred_role([(Some(2), Some(A)), (Some(2), Some(B))]), None);
        assert_eq!(preferred_role([(None, Some(A)), (None, Some(B))]), None, "all null: one tie class");
        assert_eq!(
            preferred_role([(Some(2), Some(A)), (Some(2), Some(B)), (Some(2), Some(A))]),
            None,
            "a third agreeing group does not undo the disagreement"
        );
    }

    #[test]
    fn a_lower_precedence_breaks_an_earlier_tie() {
        assert_eq!(preferred_role([(Some(2), Some(A)), (Some(2), Some(B)), (Some(1), Some(B))]), Some(B));
    }
}
