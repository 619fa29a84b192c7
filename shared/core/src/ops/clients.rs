//! CreateUserPoolClient, DescribeUserPoolClient, UpdateUserPoolClient, DeleteUserPoolClient,
//! ListUserPoolClients.

use super::pools::client_listing;
use crate::error::{Error, Result};
use crate::model::{keys, unit_secs, AppClient};
use crate::service::{decode_next_token, encode_next_token, Input, Service};
use crate::store::{Cond, Item, StoreError, Write};
use serde_json::{json, Map, Value};

/// Members that are the client's settings (everything but identifiers and GenerateSecret).
const SETTINGS: &[&str] = &[
    "RefreshTokenValidity",
    "AccessTokenValidity",
    "IdTokenValidity",
    "TokenValidityUnits",
    "ReadAttributes",
    "WriteAttributes",
    "ExplicitAuthFlows",
    "SupportedIdentityProviders",
    "CallbackURLs",
    "LogoutURLs",
    "DefaultRedirectURI",
    "AllowedOAuthFlows",
    "AllowedOAuthScopes",
    "AllowedOAuthFlowsUserPoolClient",
    "AnalyticsConfiguration",
    "PreventUserExistenceErrors",
    "EnableTokenRevocation",
    "EnablePropagateAdditionalUserContextData",
    "AuthSessionValidity",
    "RefreshTokenRotation",
];

const LEGACY_FLOWS: &[&str] = &["ADMIN_NO_SRP_AUTH", "CUSTOM_AUTH_FLOW_ONLY", "USER_PASSWORD_AUTH"];

fn validate(settings: &Map<String, Value>) -> Result<()> {
    if let Some(flows) = settings.get("ExplicitAuthFlows").and_then(Value::as_array) {
        let names: Vec<&str> = flows.iter().filter_map(Value::as_str).collect();
        let legacy = names.iter().any(|f| LEGACY_FLOWS.contains(f));
        let allow = names.iter().any(|f| f.starts_with("ALLOW_"));
        if legacy && allow {
            return Err(Error::invalid(
                "ExplicitAuthFlow values cannot mix legacy values (ADMIN_NO_SRP_AUTH, CUSTOM_AUTH_FLOW_ONLY, USER_PASSWORD_AUTH) with ALLOW_ values.",
            ));
        }
    }
    let unit = |kind: &str, default: &str| {
        settings
            .get("TokenValidityUnits")
            .and_then(|u| u.get(format!("{kind}Token")))
            .and_then(Value::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| default.to_string())
    };
    for (kind, default_unit, min, max) in
        [("Access", "hours", 300, 86400), ("Id", "hours", 300, 86400), ("Refresh", "days", 3600, 315_360_000)]
    {
        if let Some(v) = settings.get(&format!("{kind}TokenValidity")).and_then(Value::as_i64) {
            let secs = v * unit_secs(&unit(kind, default_unit));
            if secs < min || secs > max {
                return Err(Error::invalid(format!(
                    "Invalid range for token validity: {kind}TokenValidity must be between {} and {} seconds.",
                    min, max
                )));
            }
        }
    }
    if let Some(v) = settings.get("AuthSessionValidity").and_then(Value::as_i64) {
        if !(3..=15).contains(&v) {
            return Err(Error::invalid("AuthSessionValidity must be between 3 and 15 minutes."));
        }
    }
    Ok(())
}

fn settings_from(input: &Value) -> Map<String, Value> {
    input
        .as_object()
        .map(|o| {
            o.iter()
                .filter(|(k, _)| SETTINGS.contains(&k.as_str()))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
        .unwrap_or_default()
}

/// `UserPoolClientType`: the lists appear only when set, the defaults as Cognito shows them.
pub fn describe(client: &AppClient) -> Value {
    let mut out = client.settings.clone();
    out.insert("UserPoolId".into(), json!(client.pool_id));
    out.insert("ClientName".into(), json!(client.client_name));
    out.insert("ClientId".into(), json!(client.client_id));
    if let Some(s) = &client.secret {
        out.insert("ClientSecret".into(), json!(s));
    }
    out.insert("CreationDate".into(), json!(client.created as f64 / 1000.0));
    out.insert("LastModifiedDate".into(), json!(client.modified as f64 / 1000.0));
    out.entry("RefreshTokenValidity").or_insert(json!(30));
    out.entry("AllowedOAuthFlowsUserPoolClient").or_insert(json!(false));
    out.entry("EnableTokenRevocation").or_insert(json!(true));
    out.entry("EnablePropagateAdditionalUserContextData").or_insert(json!(false));
    out.entry("AuthSessionValidity").or_insert(json!(3));
    out.entry("PreventUserExistenceErrors").or_insert(json!("LEGACY"));
    Value::Object(out)
}

pub async fn create_user_pool_client(svc: &Service, input: &Value) -> Result<Value> {
    let pool = svc.pool(input.req_str("UserPoolId")?).await?;
    let settings = settings_from(input);
    validate(&settings)?;
    crate::attributes::check_client_lists(&pool, &settings, true)?;
    let now = svc.clock.now_millis();
    let client = AppClient {
        pool_id: pool.id.clone(),
        client_id: crate::ids::client_id(svc.rng.as_ref()),
        client_name: input.req_str("ClientName")?.to_string(),
        secret: (input.bool_of("GenerateSecret") == Some(true))
            .then(|| crate::ids::client_secret(svc.rng.as_ref())),
        created: now,
        modified: now,
        settings,
    };
    let body = serde_json::to_value(&client).map_err(Error::internal)?;
    svc.store
        .transact(
            vec![
                Write::put(
                    Item::new(keys::client(&client.client_id), keys::CLIENT_SK, body),
                    Cond::NotExists,
                ),
                Write::put(client_listing(&client), Cond::NotExists),
                // The pool must still exist when the client lands.
                Write::put(pool_item(svc, &pool.id).await?, Cond::Exists),
            ],
            svc.now_secs(),
        )
        .await
        .map_err(|e| match e {
            StoreError::ConditionFailed { index: 2 } => {
                Error::ResourceNotFoundException(format!("User pool {} does not exist.", pool.id))
            }
            e => e.into(),
        })?;
    Ok(json!({"UserPoolClient": describe(&client)}))
}

/// The pool record as stored, rewritten unchanged: lets a transaction require the pool.
async fn pool_item(svc: &Service, pool_id: &str) -> Result<Item> {
    svc.store
        .get(&keys::pool(pool_id), keys::POOL_SK, svc.now_secs())
        .await?
        .ok_or_else(|| Error::ResourceNotFoundException(format!("User pool {pool_id} does not exist.")))
}

pub async fn describe_user_pool_client(svc: &Service, input: &Value) -> Result<Value> {
    let pool_id = input.req_str("UserPoolId")?;
    svc.pool(pool_id).await?;
    let client = svc.pool_client(pool_id, input.req_str("ClientId")?).await?;
    Ok(json!({"UserPoolClient": describe(&client)}))
}

pub async fn update_user_pool_client(svc: &Service, input: &Value) -> Result<Value> {
    let pool_id = input.req_str("UserPoolId")?;
    let pool = svc.pool(pool_id).await?;
    let client_id = input.req_str("ClientId")?;
    let (mut client, version) = svc
        .get_json::<AppClient>(&keys::client(client_id), keys::CLIENT_SK)
        .await?
        .filter(|(c, _)| c.pool_id == pool_id)
        .ok_or_else(|| {
            Error::ResourceNotFoundException(format!("User pool client {client_id} does not exist."))
        })?;
    let settings = settings_from(input);
    validate(&settings)?;
    crate::attributes::check_client_lists(&pool, &settings, false)?;
    // Like Cognito, members left out return to their defaults.
    client.settings = settings;
    if let Some(name) = input.str_of("ClientName") {
        client.client_name = name.to_string();
    }
    client.modified = svc.clock.now_millis();
    let mut item = Item::new(
        keys::client(client_id),
        keys::CLIENT_SK,
        serde_json::to_value(&client).map_err(Error::internal)?,
    );
    item.version = version + 1;
    let result = svc
        .store
        .transact(
            vec![Write::put(item, Cond::Version(version)), Write::put(client_listing(&client), Cond::None)],
            svc.now_secs(),
        )
        .await;
    svc.forget_client(&client.client_id);
    match result {
        Ok(()) => Ok(json!({"UserPoolClient": describe(&client)})),
        Err(StoreError::ConditionFailed { .. }) => Err(Error::ConcurrentModificationException(
            "The client was modified by another request. Try again.".into(),
        )),
        Err(e) => Err(e.into()),
    }
}

pub async fn delete_user_pool_client(svc: &Service, input: &Value) -> Result<Value> {
    let pool_id = input.req_str("UserPoolId")?;
    svc.pool(pool_id).await?;
    let client = svc.pool_client(pool_id, input.req_str("ClientId")?).await?;
    svc.store
        .transact(
            vec![
                Write::delete(keys::client(&client.client_id), keys::CLIENT_SK, Cond::None),
                Write::delete(keys::pool(pool_id), keys::pool_client_sk(&client.client_id), Cond::None),
            ],
            svc.now_secs(),
        )
        .await?;
    svc.forget_client(&client.client_id);
    Ok(json!({}))
}

pub async fn list_user_pool_clients(svc: &Service, input: &Value) -> Result<Value> {
    let pool_id = input.req_str("UserPoolId")?;
    svc.pool(pool_id).await?;
    let max = input.i64_of("MaxResults").unwrap_or(60).clamp(1, 60) as usize;
    let start =
        input.str_of("NextToken").map(decode_next_token).transpose()?.map(|cid| keys::pool_client_sk(&cid));
    let page =
        svc.store.query(&keys::pool(pool_id), "CLIENT#", start.as_deref(), max, svc.now_secs()).await?;
    let clients: Vec<Value> = page.items.iter().map(|i| i.body.clone()).collect();
    let mut out = json!({"UserPoolClients": clients});
    if let Some(next) = page.next.as_deref().and_then(|sk| sk.strip_prefix("CLIENT#")) {
        out["NextToken"] = json!(encode_next_token(next));
    }
    Ok(out)
}
