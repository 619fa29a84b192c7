//! CreateIdentityPool, DescribeIdentityPool, UpdateIdentityPool, DeleteIdentityPool,
//! ListIdentityPools, SetIdentityPoolRoles, GetIdentityPoolRoles.

use super::input::max_results;
use super::pool::{load_identity_pool, pool_not_found, pool_writes, save_identity_pool};
use super::pool_config::{check_role_arn, check_role_mapping, configuration, MAX_ROLE_MAPPINGS};
use super::records::{delete_identity_writes, load_identity};
use super::roles::{RoleMapping, AUTHENTICATED, UNAUTHENTICATED};
use crate::error::{Error, Result};
use crate::input::{decode_next_token, encode_next_token, Input};
use crate::model::keys;
use crate::service::Service;
use crate::store::{Cond, StoreError, Write, MAX_TRANSACTION_WRITES};
use crate::sync::cleanup::{delete_identity_devices, delete_pool_data};
use serde_json::{json, Value};
use std::collections::BTreeMap;

pub async fn create_identity_pool(svc: &Service, input: &Value) -> Result<Value> {
    let id = format!("{}:{}", svc.config.region, svc.rng.uuid());
    let pool = configuration(svc, input, id, None).await?;
    match svc.store.transact(pool_writes(&pool, None)?, svc.now_secs()).await {
        Ok(()) => Ok(pool.describe()),
        // A fresh random id already taken: not a caller's fault, and never expected.
        Err(StoreError::ConditionFailed { .. }) => Err(Error::internal("identity pool id collision")),
        Err(e) => Err(e.into()),
    }
}

pub async fn describe_identity_pool(svc: &Service, input: &Value) -> Result<Value> {
    let (pool, _) = load_identity_pool(svc, input.req_str("IdentityPoolId")?).await?;
    Ok(pool.describe())
}

/// Replaces the whole configuration, as Cognito does: members left out go back to their
/// defaults. The roles, role mappings and (when not given) tags stay; the developer provider
/// name can never change once set.
pub async fn update_identity_pool(svc: &Service, input: &Value) -> Result<Value> {
    let id = input.req_str("IdentityPoolId")?;
    let (current, version) = load_identity_pool(svc, id).await?;
    let mut pool = configuration(svc, input, id.to_string(), Some(&current)).await?;
    pool.roles = current.roles.clone();
    pool.role_mappings = current.role_mappings.clone();
    save_identity_pool(svc, &pool, version).await?;
    Ok(pool.describe())
}

/// Deletes the pool, then every identity with its linked logins, and the pool's Sync data.
pub async fn delete_identity_pool(svc: &Service, input: &Value) -> Result<Value> {
    let id = input.req_str("IdentityPoolId")?;
    let (pool, _) = load_identity_pool(svc, id).await?;
    // The pool goes first, so nothing can reach or add identities while they go. A change made
    // meanwhile does not stop the deletion (DeleteIdentityPool has no concurrency error); a
    // deletion that came first makes this one not find the pool.
    let gone = svc
        .store
        .transact(
            vec![
                Write::delete(keys::identity_pool(id), keys::IDENTITY_POOL_SK, Cond::Exists),
                Write::delete(keys::IDENTITY_POOLS, id, Cond::None),
            ],
            svc.now_secs(),
        )
        .await;
    match gone {
        Ok(()) => {}
        Err(StoreError::ConditionFailed { .. }) => return Err(pool_not_found(id)),
        Err(e) => return Err(e.into()),
    }
    let listing = keys::pool_identities(&pool.identity_pool_id);
    loop {
        let page = svc.store.query(&listing, "", None, 20, svc.now_secs()).await?;
        if page.items.is_empty() {
            break;
        }
        let mut writes = Vec::new();
        for entry in &page.items {
            delete_identity_devices(svc, id, &entry.sk).await?;
            let identity = load_identity(svc, id, &entry.sk).await?;
            let more = match identity {
                Some((identity, _)) => delete_identity_writes(&identity, None),
                // A listing entry whose identity is already gone.
                None => vec![Write::delete(listing.clone(), entry.sk.clone(), Cond::None)],
            };
            if writes.len() + more.len() > MAX_TRANSACTION_WRITES {
                svc.store.transact(std::mem::take(&mut writes), svc.now_secs()).await?;
            }
            writes.extend(more);
        }
        svc.store.transact(writes, svc.now_secs()).await?;
    }
    delete_pool_data(svc, id).await?;
    Ok(json!({}))
}

pub async fn list_identity_pools(svc: &Service, input: &Value) -> Result<Value> {
    let max = max_results(input)?;
    let start = input.str_of("NextToken").map(decode_next_token).transpose()?;
    let page = svc.store.query(keys::IDENTITY_POOLS, "", start.as_deref(), max, svc.now_secs()).await?;
    let pools: Vec<Value> = page
        .items
        .iter()
        .map(|entry| {
            json!({
                "IdentityPoolId": entry.sk,
                "IdentityPoolName": entry.body.get("IdentityPoolName").cloned().unwrap_or(Value::Null),
            })
        })
        .collect();
    let mut out = json!({"IdentityPools": pools});
    if let Some(next) = page.next {
        out["NextToken"] = json!(encode_next_token(&next));
    }
    Ok(out)
}

pub async fn set_identity_pool_roles(svc: &Service, input: &Value) -> Result<Value> {
    let id = input.req_str("IdentityPoolId")?;
    let (mut pool, version) = load_identity_pool(svc, id).await?;
    let roles = input.get("Roles").and_then(Value::as_object).ok_or_else(|| {
        Error::invalid(crate::input::validation_message("Roles", None, crate::input::MUST_NOT_BE_NULL))
    })?;
    let mut new_roles = BTreeMap::new();
    for (kind, arn) in roles {
        if kind != AUTHENTICATED && kind != UNAUTHENTICATED {
            return Err(Error::invalid(format!(
                "Invalid role type '{kind}': use authenticated or unauthenticated."
            )));
        }
        let arn = arn.as_str().unwrap_or_default();
        check_role_arn(arn)?;
        new_roles.insert(kind.clone(), arn.to_string());
    }
    let mut mappings = BTreeMap::new();
    if let Some(given) = input.get("RoleMappings").and_then(Value::as_object) {
        if given.len() > MAX_ROLE_MAPPINGS {
            return Err(Error::invalid(format!(
                "An identity pool can hold at most {MAX_ROLE_MAPPINGS} role mappings."
            )));
        }
        for (key, value) in given {
            if !pool.is_role_mapping_key(key) {
                return Err(Error::invalid(format!(
                    "{key} is not a valid RoleMapping ProviderName or is not a configured provider."
                )));
            }
            let mapping: RoleMapping = serde_json::from_value(value.clone())
                .map_err(|_| Error::invalid(format!("Invalid role mapping for {key}.")))?;
            check_role_mapping(key, &mapping)?;
            mappings.insert(key.clone(), mapping);
        }
    }
    pool.roles = new_roles;
    pool.role_mappings = mappings;
    save_identity_pool(svc, &pool, version).await?;
    Ok(json!({}))
}

pub async fn get_identity_pool_roles(svc: &Service, input: &Value) -> Result<Value> {
    let (pool, _) = load_identity_pool(svc, input.req_str("IdentityPoolId")?).await?;
    let mut out = json!({"IdentityPoolId": pool.identity_pool_id, "Roles": pool.roles});
    if !pool.role_mappings.is_empty() {
        out["RoleMappings"] = json!(pool.role_mappings);
    }
    Ok(out)
}
