//! DescribeIdentityUsage, DescribeIdentityPoolUsage, ListIdentityPoolUsage.

use super::access::{authorize, SyncAccess};
use super::engine::counters::pool_usage;
use super::engine::model::{secs, DatasetHead};
use super::engine::read::read_partition;
use super::request::{access, id_input, page_size, require_identity};
use crate::error::{Error, Result};
use crate::input::Input;
use crate::model::keys;
use crate::service::{CallContext, Service};
use serde_json::{json, Value};

/// ListIdentityPoolUsage pages.
const MAX_POOLS_PAGE: usize = 60;

/// `DescribeIdentityUsage`.
pub async fn describe_identity_usage(svc: &Service, ctx: &CallContext, input: &Value) -> Result<Value> {
    let (pool, identity) = access(svc, ctx, input).await?;
    let mut count = 0u64;
    let mut storage = 0u64;
    let mut modified = 0i64;
    for item in read_partition(svc, &keys::sync::datasets(&pool, &identity)).await? {
        let head: DatasetHead = serde_json::from_value(item.body).map_err(Error::internal)?;
        modified = modified.max(head.last_modified);
        if head.live {
            count += 1;
            storage += head.data_storage;
        }
    }
    let mut usage = json!({
        "IdentityId": identity,
        "IdentityPoolId": pool,
        "DatasetCount": count,
        "DataStorage": storage,
    });
    if modified > 0 {
        usage["LastModifiedDate"] = json!(secs(modified));
    }
    Ok(json!({ "IdentityUsage": usage }))
}

/// `DescribeIdentityPoolUsage`.
pub async fn describe_identity_pool_usage(svc: &Service, ctx: &CallContext, input: &Value) -> Result<Value> {
    let pool = id_input(input, "IdentityPoolId")?;
    authorize(ctx, SyncAccess::AdminOnly, pool, None)?;
    require_identity(svc, pool, None).await?;
    Ok(json!({ "IdentityPoolUsage": pool_usage(svc, pool).await? }))
}

/// `ListIdentityPoolUsage`.
pub async fn list_identity_pool_usage(svc: &Service, ctx: &CallContext, input: &Value) -> Result<Value> {
    authorize(ctx, SyncAccess::AdminOnly, "", None)?;
    let limit = page_size(input, MAX_POOLS_PAGE);
    let after = match input.str_of("NextToken") {
        Some(t) => Some(crate::input::decode_next_token(t)?),
        None => None,
    };
    let page = svc.store.query(keys::IDENTITY_POOLS, "", after.as_deref(), limit, svc.now_secs()).await?;
    let mut usages = Vec::with_capacity(page.items.len());
    for item in &page.items {
        usages.push(pool_usage(svc, &item.sk).await?);
    }
    let mut out = json!({ "IdentityPoolUsages": usages, "MaxResults": limit, "Count": usages.len() });
    if let Some(n) = page.next {
        out["NextToken"] = json!(crate::input::encode_next_token(&n));
    }
    Ok(out)
}
