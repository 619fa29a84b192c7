//! What the dataset and usage operations read from every request the same way: the identity
//! pool and identity in the path (checked, and the caller allowed to use them), the dataset
//! name, the page size, and who a change is attributed to.

use super::access::{authorize, SyncAccess};
use super::engine::model::is_identity_id;
use crate::error::{Error, Result};
use crate::input::Input;
use crate::model::keys;
use crate::service::{CallContext, Principal, Service};
use serde::Deserialize;
use serde_json::Value;

/// Longest dataset name.
const MAX_DATASET_NAME: usize = 128;

/// The `DatasetName` member, checked.
pub(super) fn dataset_name(input: &Value) -> Result<&str> {
    let name = input.req_str("DatasetName")?;
    check_dataset_name(name)?;
    Ok(name)
}

/// 1–128 characters of `a-z A-Z 0-9 _ . : -` (`:` for merged names holding an identity id).
fn check_dataset_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= MAX_DATASET_NAME
        && name.chars().all(|c| c.is_ascii_alphanumeric() || "_.:-".contains(c));
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "Invalid dataset name {name:?}: a dataset name is 1 to {MAX_DATASET_NAME} characters of a-z, A-Z, 0-9, '_', '.', ':' and '-'."
        )))
    }
}

/// An identity or identity pool id member, checked.
pub(super) fn id_input<'a>(input: &'a Value, member: &str) -> Result<&'a str> {
    let id = input.req_str(member)?;
    if is_identity_id(id) {
        Ok(id)
    } else {
        Err(Error::invalid(format!("Invalid {member}: {id:?}.")))
    }
}

/// The identity pool, and the identity, must exist.
pub(super) async fn require_identity(svc: &Service, pool: &str, identity: Option<&str>) -> Result<()> {
    let now = svc.now_secs();
    let pool_key = keys::identity_pool(pool);
    let pool_item = svc.store.get(&pool_key, keys::IDENTITY_POOL_SK, now);
    let found = match identity {
        Some(id) => {
            let id_key = keys::identity(pool, id);
            let (p, i) = tokio::join!(pool_item, svc.store.get(&id_key, keys::IDENTITY_SK, now));
            (p?.is_some(), i?.is_some())
        }
        None => (pool_item.await?.is_some(), true),
    };
    match found {
        (false, _) => Err(Error::ResourceNotFoundException(format!("Identity pool {pool} does not exist."))),
        (true, false) => Err(Error::ResourceNotFoundException(format!(
            "Identity {} does not exist.",
            identity.unwrap_or_default()
        ))),
        (true, true) => Ok(()),
    }
}

/// Checks the caller, then that the pool and identity exist.
pub(super) async fn access(svc: &Service, ctx: &CallContext, input: &Value) -> Result<(String, String)> {
    let pool = id_input(input, "IdentityPoolId")?;
    let identity = id_input(input, "IdentityId")?;
    authorize(ctx, SyncAccess::IdentityOrAdmin, pool, Some(identity))?;
    require_identity(svc, pool, Some(identity)).await?;
    Ok((pool.to_string(), identity.to_string()))
}

/// Who a change is attributed to: the identity itself, or the account for developer calls.
pub(super) fn modifier(svc: &Service, ctx: &CallContext) -> String {
    match &ctx.principal {
        Principal::Identity { identity_id, .. } => identity_id.clone(),
        _ => svc.config.account_id.clone(),
    }
}

/// `MaxResults`: 1–`max`, `max` when absent or not positive.
pub(super) fn page_size(input: &Value, max: usize) -> usize {
    page_size_of(input.i64_of("MaxResults"), max)
}

/// [`page_size`] of a member already read.
pub(super) fn page_size_of(max_results: Option<i64>, max: usize) -> usize {
    match max_results {
        Some(n) if n > 0 => usize::try_from(n).unwrap_or(max).min(max),
        _ => max,
    }
}

/// ListRecords' own members.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ListRecordsInput {
    pub last_sync_count: Option<i64>,
    pub next_token: Option<String>,
    pub max_results: Option<i64>,
    pub sync_session_token: Option<String>,
}

/// UpdateRecords' own members.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct UpdateRecordsInput {
    pub sync_session_token: Option<String>,
    pub device_id: Option<String>,
    pub record_patches: Option<Vec<RecordPatch>>,
}

/// One RecordPatch as sent; [`super::patches::parse_patches`] checks it into a `Patch`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct RecordPatch {
    pub op: Option<String>,
    pub key: Option<String>,
    pub value: Option<String>,
    pub sync_count: Option<i64>,
    /// Epoch seconds, with a fraction.
    pub device_last_modified_date: Option<f64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merged_dataset_names_need_an_identity_id_suffix() {
        assert!(is_identity_id("us-east-1:9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a"));
        assert!(!is_identity_id("backup"));
        assert!(!is_identity_id("us-east-1:XYZ"));
        assert!(check_dataset_name("game.us-east-1:9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a").is_ok());
        assert!(check_dataset_name("bad name").is_err());
        assert!(check_dataset_name(&"d".repeat(129)).is_err());
    }
}
