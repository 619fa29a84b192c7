//! CreateResourceServer, DescribeResourceServer, UpdateResourceServer, DeleteResourceServer,
//! ListResourceServers.
//!
//! A resource server's scopes are what exists; a client's AllowedOAuthScopes are what it may
//! ask for. Deleting a scope (or the server) leaves the clients' lists alone: the scope is then
//! dropped from tokens until it exists again (`scopes.rs`).

use super::scopes::{ResourceServer, ResourceServerScope};
use crate::error::{Error, Result};
use crate::input::{decode_next_token, encode_next_token, Input};
use crate::model::keys;
use crate::service::Service;
use crate::store::{Cond, Item, StoreError, Write};
use serde_json::{json, Value};

/// Resource servers one pool may hold (Cognito's quota).
pub const RESOURCE_SERVERS_PER_POOL: usize = 25;

fn scopes_of(input: &Value) -> Result<Vec<ResourceServerScope>> {
    let scopes: Vec<ResourceServerScope> = match input.get("Scopes").filter(|v| !v.is_null()) {
        Some(v) => crate::input::typed(v, "Scopes")?,
        None => vec![],
    };
    for (i, scope) in scopes.iter().enumerate() {
        if scopes[..i].iter().any(|s| s.scope_name == scope.scope_name) {
            return Err(Error::invalid(format!("Duplicate scope name: {}", scope.scope_name)));
        }
    }
    Ok(scopes)
}

fn shown(server: &ResourceServer) -> Value {
    json!({
        "UserPoolId": server.pool_id,
        "Identifier": server.identifier,
        "Name": server.name,
        "Scopes": server.scopes,
    })
}

fn not_found(identifier: &str, pool_id: &str) -> Error {
    Error::ResourceNotFoundException(format!(
        "Resource server {identifier} does not exist in user pool {pool_id}."
    ))
}

async fn read(svc: &Service, pool_id: &str, identifier: &str) -> Result<(ResourceServer, u64)> {
    svc.get_json::<ResourceServer>(&keys::resource_servers(pool_id), identifier)
        .await?
        .ok_or_else(|| not_found(identifier, pool_id))
}

fn conflict(e: StoreError, identifier: &str, pool_id: &str) -> Error {
    match e {
        StoreError::ConditionFailed { .. } => {
            Error::invalid(format!("{identifier} already exists in user pool {pool_id}."))
        }
        e => e.into(),
    }
}

pub async fn create_resource_server(svc: &Service, input: &Value) -> Result<Value> {
    let pool = svc.pool(input.req_str("UserPoolId")?).await?;
    let identifier = input.req_str("Identifier")?;
    let server = ResourceServer {
        pool_id: pool.id.clone(),
        identifier: identifier.to_string(),
        name: input.req_str("Name")?.to_string(),
        scopes: scopes_of(input)?,
    };
    let now = svc.now_secs();
    // The quota is checked against what is listed, so two creates racing for the last free
    // place may both succeed (as with groups per user).
    let held = svc.store.query(&keys::resource_servers(&pool.id), "", None, 100, now).await?;
    if held.items.iter().any(|i| i.sk == identifier) {
        return Err(Error::invalid(format!("{identifier} already exists in user pool {}.", pool.id)));
    }
    if held.items.len() >= RESOURCE_SERVERS_PER_POOL {
        return Err(Error::LimitExceededException(format!(
            "A user pool can have at most {RESOURCE_SERVERS_PER_POOL} resource servers."
        )));
    }
    let item = Item::new(
        keys::resource_servers(&pool.id),
        identifier,
        serde_json::to_value(&server).map_err(Error::internal)?,
    );
    svc.store
        .transact(vec![Write::put(item, Cond::NotExists)], now)
        .await
        .map_err(|e| conflict(e, identifier, &pool.id))?;
    Ok(json!({"ResourceServer": shown(&server)}))
}

pub async fn describe_resource_server(svc: &Service, input: &Value) -> Result<Value> {
    let pool = svc.pool(input.req_str("UserPoolId")?).await?;
    let (server, _) = read(svc, &pool.id, input.req_str("Identifier")?).await?;
    Ok(json!({"ResourceServer": shown(&server)}))
}

/// Replaces the name and the scopes (a missing Scopes member leaves none), as Cognito does.
pub async fn update_resource_server(svc: &Service, input: &Value) -> Result<Value> {
    let pool = svc.pool(input.req_str("UserPoolId")?).await?;
    let identifier = input.req_str("Identifier")?;
    let (mut server, version) = read(svc, &pool.id, identifier).await?;
    server.name = input.req_str("Name")?.to_string();
    server.scopes = scopes_of(input)?;
    let mut item = Item::new(
        keys::resource_servers(&pool.id),
        identifier,
        serde_json::to_value(&server).map_err(Error::internal)?,
    );
    item.version = version + 1;
    svc.store.transact(vec![Write::put(item, Cond::Version(version))], svc.now_secs()).await.map_err(
        |e| match e {
            StoreError::ConditionFailed { .. } => Error::ConcurrentModificationException(
                "The resource server was modified by another request. Try again.".into(),
            ),
            e => e.into(),
        },
    )?;
    Ok(json!({"ResourceServer": shown(&server)}))
}

pub async fn delete_resource_server(svc: &Service, input: &Value) -> Result<Value> {
    let pool = svc.pool(input.req_str("UserPoolId")?).await?;
    let identifier = input.req_str("Identifier")?;
    read(svc, &pool.id, identifier).await?;
    svc.store
        .transact(
            vec![Write::delete(keys::resource_servers(&pool.id), identifier, Cond::Exists)],
            svc.now_secs(),
        )
        .await
        .map_err(|e| match e {
            StoreError::ConditionFailed { .. } => not_found(identifier, &pool.id),
            e => e.into(),
        })?;
    Ok(json!({}))
}

pub async fn list_resource_servers(svc: &Service, input: &Value) -> Result<Value> {
    let pool = svc.pool(input.req_str("UserPoolId")?).await?;
    let start = input.str_of("NextToken").map(decode_next_token).transpose()?;
    let limit = input.i64_of("MaxResults").unwrap_or(50).clamp(1, 50) as usize;
    let page = svc
        .store
        .query(&keys::resource_servers(&pool.id), "", start.as_deref(), limit, svc.now_secs())
        .await?;
    let mut servers = Vec::new();
    for entry in page.items {
        let server: ResourceServer = serde_json::from_value(entry.body).map_err(Error::internal)?;
        servers.push(shown(&server));
    }
    let mut out = json!({"ResourceServers": servers});
    if let Some(next) = page.next {
        out["NextToken"] = json!(encode_next_token(&next));
    }
    Ok(out)
}
