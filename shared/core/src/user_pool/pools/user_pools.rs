//! CreateUserPool, DescribeUserPool, UpdateUserPool, DeleteUserPool, ListUserPools,
//! AddCustomAttributes.

use crate::error::{Error, Result};
use crate::model::{keys, UserPool};
use crate::service::{Input, Service};
use serde_json::{json, Value};

pub async fn add_custom_attributes(svc: &Service, input: &Value) -> Result<Value> {
    let pool_id = input.req_str("UserPoolId")?;
    let (mut pool, version) = svc
        .get_json::<UserPool>(&keys::pool(pool_id), keys::POOL_SK)
        .await?
        .ok_or_else(|| Error::ResourceNotFoundException(format!("User pool {pool_id} does not exist.")))?;
    let requested = input.get("CustomAttributes").and_then(Value::as_array).cloned().unwrap_or_default();
    if requested.is_empty() {
        return Err(Error::invalid("CustomAttributes must name at least one attribute."));
    }
    crate::attributes::add_custom_attributes(
        &mut pool.custom_schema,
        &requested,
        svc.config.limits.custom_attributes_per_pool,
    )?;
    pool.modified = svc.clock.now_millis();
    svc.save_pool(&pool, version, vec![]).await?;
    Ok(json!({}))
}
