//! Cognito Sync's pool settings and push sync (spec D §2.9, §2.13, §3.2, §4):
//! Get/SetIdentityPoolConfiguration, Get/SetCognitoEvents, RegisterDevice, SubscribeToDataset,
//! UnsubscribeFromDataset, the silent push after a dataset changes, and BulkPublish /
//! GetBulkPublishDetails, which answer that Cognito Streams are not supported.
//!
//! Layout: the pool's settings are one [`IdentityPoolSyncConfig`] item, written with version
//! checks. An identity's push devices and their dataset subscriptions share one partition
//! (`SYNCDEV#pool#identity`): `DEVICE#{deviceId}` items and `SUB#{dataset}#{deviceId}` items, so
//! a dataset's subscribers are one prefix query and an identity's whole push state is one
//! partition to delete or move. Device ids are derived from (pool, identity, platform, token),
//! so registering the same token again answers the same id, and a merge lands a device on the
//! id the surviving identity would register it under.

use crate::error::{Error, Result};
use crate::model::{keys, IdentityPoolSyncConfig, PushSync};
use crate::ops::sync_access::{authorize, SyncAccess};
use crate::service::{CallContext, Input, Service};
use crate::store::{Cond, Item, StoreError, Write, MAX_TRANSACTION_WRITES};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// The push platforms Cognito Sync registers devices for.
pub const PLATFORMS: &[&str] = &["APNS", "APNS_SANDBOX", "GCM", "ADM"];

/// The one Cognito Events event.
pub const SYNC_TRIGGER: &str = "SyncTrigger";

/// Tries of a version-checked write that lost a race (merging writes only).
const ATTEMPTS: usize = 5;

/// Longest push token accepted. APNs tokens are 64 hex digits and FCM tokens a few hundred
/// characters; the bound keeps a device item small.
const MAX_TOKEN_LEN: usize = 4096;

/// Pushes sent at once after a change.
const PUBLISH_CONCURRENCY: usize = 8;

/// Store keys of this module.
pub mod push_keys {
    /// An identity's push devices and subscriptions.
    pub fn devices(identity_pool_id: &str, identity_id: &str) -> String {
        format!("SYNCDEV#{identity_pool_id}#{identity_id}")
    }
    pub const DEVICE_PREFIX: &str = "DEVICE#";
    pub fn device_sk(device_id: &str) -> String {
        format!("DEVICE#{device_id}")
    }
    pub const SUBSCRIPTION_PREFIX: &str = "SUB#";
    /// Dataset names never contain `#`, so `SUB#{dataset}#` lists exactly one dataset's devices.
    pub fn dataset_subscriptions_prefix(dataset_name: &str) -> String {
        format!("SUB#{dataset_name}#")
    }
    pub fn subscription_sk(dataset_name: &str, device_id: &str) -> String {
        format!("SUB#{dataset_name}#{device_id}")
    }
}

/// One registered device of one identity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushDevice {
    pub device_id: String,
    /// APNS, APNS_SANDBOX, GCM or ADM.
    pub platform: String,
    /// The platform's push token (never logged).
    pub token: String,
    /// The SNS platform application the endpoint was created under.
    pub application_arn: String,
    pub endpoint_arn: String,
    /// Epoch ms.
    pub created: i64,
    pub modified: i64,
}

/// One dataset subscription of one device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Subscription {
    device_id: String,
    dataset_name: String,
    created: i64,
}

// ---- pool settings ----

/// The pool's Sync settings and the version they were read at (None: never written).
pub async fn load_config(
    svc: &Service,
    identity_pool_id: &str,
) -> Result<(IdentityPoolSyncConfig, Option<u64>)> {
    Ok(
        match svc
            .get_json::<IdentityPoolSyncConfig>(
                &keys::identity_pool_sync_config(identity_pool_id),
                keys::IDENTITY_POOL_SYNC_CONFIG_SK,
            )
            .await?
        {
            Some((config, version)) => (config, Some(version)),
            None => (IdentityPoolSyncConfig::default(), None),
        },
    )
}

/// The Lambda function (name or ARN) the pool's SyncTrigger event names, if any.
pub async fn sync_trigger_function(svc: &Service, identity_pool_id: &str) -> Result<Option<String>> {
    Ok(load_config(svc, identity_pool_id).await?.0.events.get(SYNC_TRIGGER).cloned())
}

/// Writes the settings read at `version`. A lost race is `Ok(false)`.
async fn save_config(
    svc: &Service,
    identity_pool_id: &str,
    config: &IdentityPoolSyncConfig,
    version: Option<u64>,
) -> Result<bool> {
    let item = Item::new(
        keys::identity_pool_sync_config(identity_pool_id),
        keys::IDENTITY_POOL_SYNC_CONFIG_SK,
        serde_json::to_value(config).map_err(Error::internal)?,
    );
    match svc.store.transact(vec![Write::put_versioned(item, version)], svc.now_secs()).await {
        Ok(()) => Ok(true),
        Err(StoreError::ConditionFailed { .. }) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

async fn require_identity_pool(svc: &Service, identity_pool_id: &str) -> Result<()> {
    match svc
        .store
        .get(&keys::identity_pool(identity_pool_id), keys::IDENTITY_POOL_SK, svc.now_secs())
        .await?
    {
        Some(_) => Ok(()),
        None => {
            Err(Error::ResourceNotFoundException(format!("IdentityPool '{identity_pool_id}' not found.")))
        }
    }
}

async fn require_identity(svc: &Service, identity_pool_id: &str, identity_id: &str) -> Result<()> {
    require_identity_pool(svc, identity_pool_id).await?;
    match svc
        .store
        .get(&keys::identity(identity_pool_id, identity_id), keys::IDENTITY_SK, svc.now_secs())
        .await?
    {
        Some(_) => Ok(()),
        None => Err(Error::ResourceNotFoundException(format!("Identity '{identity_id}' not found."))),
    }
}

fn streams_unsupported(what: &str) -> Error {
    Error::invalid(format!("Cognito Streams are not supported by this version of Tessera{what}."))
}

/// The configuration as the API shows it. Streams are never configured here.
fn configuration_output(identity_pool_id: &str, config: &IdentityPoolSyncConfig) -> Value {
    let mut out = json!({
        "IdentityPoolId": identity_pool_id,
        "CognitoStreams": {"StreamingStatus": "DISABLED"},
    });
    if let Some(push) = &config.push_sync {
        let mut p = json!({"ApplicationArns": push.application_arns});
        if let Some(role) = &push.role_arn {
            p["RoleArn"] = json!(role);
        }
        out["PushSync"] = p;
    }
    out
}

pub async fn get_identity_pool_configuration(
    svc: &Service,
    ctx: &CallContext,
    input: &Value,
) -> Result<Value> {
    let pool_id = input.req_str("IdentityPoolId")?;
    authorize(ctx, SyncAccess::AdminOnly, pool_id, None)?;
    require_identity_pool(svc, pool_id).await?;
    let (config, _) = load_config(svc, pool_id).await?;
    Ok(configuration_output(pool_id, &config))
}

/// `arn:aws:sns:{region}:{account}:app/{PLATFORM}/{name}` → PLATFORM, when the ARN has that form.
pub fn application_platform(arn: &str) -> Option<&str> {
    let rest = arn.strip_prefix("arn:aws:sns:")?;
    let (region, rest) = rest.split_once(':')?;
    let (account, resource) = rest.split_once(':')?;
    let (platform, name) = resource.strip_prefix("app/")?.split_once('/')?;
    let ok = !region.is_empty()
        && region.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !account.is_empty()
        && account.bytes().all(|b| b.is_ascii_digit())
        && !platform.is_empty()
        && platform.bytes().all(|b| b.is_ascii_uppercase() || b == b'_')
        && !name.is_empty()
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
    ok.then_some(platform)
}

fn parse_push_sync(value: &Value) -> Result<Option<PushSync>> {
    let Some(obj) = value.as_object() else {
        return Err(Error::invalid("PushSync must be a structure."));
    };
    let arns: Vec<String> = match obj.get("ApplicationArns") {
        None | Some(Value::Null) => vec![],
        Some(Value::Array(list)) => list
            .iter()
            .map(|a| {
                a.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| Error::invalid("ApplicationArns must be strings."))
            })
            .collect::<Result<_>>()?,
        Some(_) => return Err(Error::invalid("ApplicationArns must be a list.")),
    };
    let mut platforms = std::collections::BTreeSet::new();
    for arn in &arns {
        let platform = application_platform(arn).ok_or_else(|| {
            Error::invalid(format!(
                "Invalid ApplicationArn '{arn}': expected an SNS platform application ARN \
                 (arn:aws:sns:<region>:<account>:app/<PLATFORM>/<name>)."
            ))
        })?;
        if !PLATFORMS.contains(&platform) {
            return Err(Error::invalid(format!(
                "Invalid ApplicationArn '{arn}': platform {platform} is not supported by push sync \
                 (APNS, APNS_SANDBOX, GCM, ADM)."
            )));
        }
        if !platforms.insert(platform) {
            return Err(Error::invalid(format!(
                "ApplicationArns names more than one platform application for {platform}."
            )));
        }
    }
    let role_arn = match obj.get("RoleArn") {
        None | Some(Value::Null) => None,
        Some(Value::String(role)) if is_role_arn(role) => Some(role.clone()),
        Some(other) => {
            return Err(Error::invalid(format!(
                "Invalid RoleArn {other}: expected an IAM role ARN (arn:aws:iam::<account>:role/<name>)."
            )))
        }
    };
    if arns.is_empty() && role_arn.is_none() {
        // An empty PushSync turns push sync off.
        return Ok(None);
    }
    Ok(Some(PushSync { application_arns: arns, role_arn }))
}

fn is_role_arn(arn: &str) -> bool {
    let Some(rest) = arn.strip_prefix("arn:aws:iam::") else { return false };
    let Some((account, _)) = rest.split_once(":role/") else { return false };
    (20..=2048).contains(&arn.len()) && !account.is_empty() && account.bytes().all(|b| b.is_ascii_digit())
}

/// Streams settings are accepted only when they leave streams off.
fn check_streams(value: &Value) -> Result<()> {
    let Some(obj) = value.as_object() else {
        return Err(Error::invalid("CognitoStreams must be a structure."));
    };
    let enabled = obj.get("StreamingStatus").and_then(Value::as_str) == Some("ENABLED");
    let named = obj.get("StreamName").is_some_and(|n| !n.is_null());
    if enabled || named {
        return Err(streams_unsupported(": CognitoStreams cannot be enabled or given a stream"));
    }
    Ok(())
}

pub async fn set_identity_pool_configuration(
    svc: &Service,
    ctx: &CallContext,
    input: &Value,
) -> Result<Value> {
    let pool_id = input.req_str("IdentityPoolId")?;
    authorize(ctx, SyncAccess::AdminOnly, pool_id, None)?;
    if let Some(streams) = input.get("CognitoStreams").filter(|v| !v.is_null()) {
        check_streams(streams)?;
    }
    let push_sync = match input.get("PushSync").filter(|v| !v.is_null()) {
        Some(p) => Some(parse_push_sync(p)?),
        None => None,
    };
    require_identity_pool(svc, pool_id).await?;
    let (mut config, version) = load_config(svc, pool_id).await?;
    // Settings the request leaves out keep their values.
    if let Some(push_sync) = push_sync {
        config.push_sync = push_sync;
        config.last_modified = svc.clock.now_millis();
        if !save_config(svc, pool_id, &config, version).await? {
            return Err(Error::ConcurrentModificationException(
                "The identity pool configuration was modified by another request. Try again.".into(),
            ));
        }
    }
    Ok(configuration_output(pool_id, &config))
}

/// A Lambda function as Invoke names it: a name, a name with a qualifier, or a function ARN
/// (optionally qualified).
pub fn is_lambda_function(s: &str) -> bool {
    let name_ok = |n: &str| {
        (1..=64).contains(&n.len()) && n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    let qualifier_ok = |q: &str| {
        q == "$LATEST"
            || ((1..=128).contains(&q.len())
                && q.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
    };
    let parts: Vec<&str> = s.split(':').collect();
    match parts.as_slice() {
        [name] => name_ok(name),
        [name, qualifier] => name_ok(name) && qualifier_ok(qualifier),
        ["arn", partition, "lambda", region, account, "function", rest @ ..] => {
            partition.starts_with("aws")
                && !region.is_empty()
                && region.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && account.len() == 12
                && account.bytes().all(|b| b.is_ascii_digit())
                && match rest {
                    [name] => name_ok(name),
                    [name, qualifier] => name_ok(name) && qualifier_ok(qualifier),
                    _ => false,
                }
        }
        _ => false,
    }
}

pub async fn get_cognito_events(svc: &Service, ctx: &CallContext, input: &Value) -> Result<Value> {
    let pool_id = input.req_str("IdentityPoolId")?;
    authorize(ctx, SyncAccess::AdminOnly, pool_id, None)?;
    require_identity_pool(svc, pool_id).await?;
    let (config, _) = load_config(svc, pool_id).await?;
    Ok(json!({"Events": config.events}))
}

pub async fn set_cognito_events(svc: &Service, ctx: &CallContext, input: &Value) -> Result<Value> {
    let pool_id = input.req_str("IdentityPoolId")?;
    authorize(ctx, SyncAccess::AdminOnly, pool_id, None)?;
    let events = input.get("Events").and_then(Value::as_object).ok_or_else(|| {
        Error::invalid(
            "1 validation error detected: Value null at 'events' failed to satisfy constraint: Member must not be null",
        )
    })?;
    let mut changes: BTreeMap<String, Option<String>> = BTreeMap::new();
    for (event, function) in events {
        if event != SYNC_TRIGGER {
            return Err(Error::invalid(format!(
                "Invalid event type '{event}': the only Cognito Event is SyncTrigger."
            )));
        }
        let function = function.as_str().unwrap_or_default();
        if function.is_empty() {
            changes.insert(event.clone(), None);
        } else if is_lambda_function(function) {
            changes.insert(event.clone(), Some(function.to_string()));
        } else {
            return Err(Error::invalid(format!(
                "Invalid Lambda function '{function}' for {event}: expected a function name or ARN."
            )));
        }
    }
    require_identity_pool(svc, pool_id).await?;
    // Only the given events change, so a lost race is simply tried again on fresh settings.
    for _ in 0..ATTEMPTS {
        let (mut config, version) = load_config(svc, pool_id).await?;
        for (event, function) in &changes {
            match function {
                Some(f) => config.events.insert(event.clone(), f.clone()),
                None => config.events.remove(event),
            };
        }
        config.last_modified = svc.clock.now_millis();
        if save_config(svc, pool_id, &config, version).await? {
            return Ok(json!({}));
        }
    }
    Err(Error::TooManyRequestsException(
        "The identity pool's Cognito Events are being changed by other requests. Try again.".into(),
    ))
}

/// Bulk publish sends a pool's data to its Cognito stream, and streams are not supported.
pub async fn bulk_publish(svc: &Service, ctx: &CallContext, input: &Value) -> Result<Value> {
    let pool_id = input.req_str("IdentityPoolId")?;
    authorize(ctx, SyncAccess::AdminOnly, pool_id, None)?;
    require_identity_pool(svc, pool_id).await?;
    Err(streams_unsupported(", so there is no stream to bulk publish to"))
}

pub async fn get_bulk_publish_details(svc: &Service, ctx: &CallContext, input: &Value) -> Result<Value> {
    let pool_id = input.req_str("IdentityPoolId")?;
    authorize(ctx, SyncAccess::AdminOnly, pool_id, None)?;
    require_identity_pool(svc, pool_id).await?;
    Err(streams_unsupported(", so bulk publish is not available"))
}

// ---- devices ----

/// Cognito-style device id: a UUID derived from who registered which token, so the same
/// registration always answers the same id.
pub fn device_id(identity_pool_id: &str, identity_id: &str, platform: &str, token: &str) -> String {
    let mut h = Sha256::new();
    for part in [identity_pool_id, identity_id, platform, token] {
        h.update(part.as_bytes());
        h.update([0u8]);
    }
    let digest = h.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(digest.get(..16).unwrap_or(&[0u8; 16]));
    uuid::Builder::from_custom_bytes(bytes).into_uuid().to_string()
}

fn check_dataset_name(name: &str) -> Result<()> {
    let ok = (1..=128).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b':' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "1 validation error detected: Value '{name}' at 'datasetName' failed to satisfy constraint: \
             Member must satisfy regular expression pattern: [a-zA-Z0-9_.:-]+"
        )))
    }
}

async fn load_device(
    svc: &Service,
    identity_pool_id: &str,
    identity_id: &str,
    device_id: &str,
) -> Result<Option<(PushDevice, u64)>> {
    svc.get_json::<PushDevice>(
        &push_keys::devices(identity_pool_id, identity_id),
        &push_keys::device_sk(device_id),
    )
    .await
}

fn device_not_found(device_id: &str) -> Error {
    Error::ResourceNotFoundException(format!("Device '{device_id}' not found."))
}

pub async fn register_device(svc: &Service, ctx: &CallContext, input: &Value) -> Result<Value> {
    let pool_id = input.req_str("IdentityPoolId")?;
    let identity_id = input.req_str("IdentityId")?;
    authorize(ctx, SyncAccess::IdentityOnly, pool_id, Some(identity_id))?;
    let platform = input.req_str("Platform")?;
    if !PLATFORMS.contains(&platform) {
        return Err(Error::invalid(format!(
            "1 validation error detected: Value '{platform}' at 'platform' failed to satisfy constraint: \
             Member must satisfy enum value set: [APNS, APNS_SANDBOX, GCM, ADM]"
        )));
    }
    let token = input.req_str("Token")?;
    if token.is_empty() || token.len() > MAX_TOKEN_LEN {
        return Err(Error::invalid(format!("The push token must be 1 to {MAX_TOKEN_LEN} characters long.")));
    }
    require_identity(svc, pool_id, identity_id).await?;
    let (config, _) = load_config(svc, pool_id).await?;
    let application_arn = config
        .push_sync
        .as_ref()
        .and_then(|p| p.application_arns.iter().find(|a| application_platform(a) == Some(platform)))
        .cloned()
        .ok_or_else(|| {
            Error::InvalidConfigurationException(format!(
                "Push sync is not configured for platform {platform} in identity pool {pool_id}."
            ))
        })?;
    let endpoint_arn = svc.push()?.create_platform_endpoint(&application_arn, token).await?;
    let id = device_id(pool_id, identity_id, platform, token);
    let now = svc.clock.now_millis();
    let existing = load_device(svc, pool_id, identity_id, &id).await?;
    let device = PushDevice {
        device_id: id.clone(),
        platform: platform.to_string(),
        token: token.to_string(),
        application_arn,
        endpoint_arn,
        created: existing.as_ref().map(|(d, _)| d.created).unwrap_or(now),
        modified: now,
    };
    let mut item = Item::new(
        push_keys::devices(pool_id, identity_id),
        push_keys::device_sk(&id),
        serde_json::to_value(&device).map_err(Error::internal)?,
    );
    // Registering is idempotent: a concurrent registration of the same device writes the same.
    item.version = existing.map(|(_, v)| v + 1).unwrap_or(1);
    svc.store.transact(vec![Write::put(item, Cond::None)], svc.now_secs()).await?;
    Ok(json!({"DeviceId": id}))
}

/// The path of Subscribe/UnsubscribeFromDataset, checked: the caller is the identity itself,
/// the dataset name is valid and the identity pool exists.
struct SubscriptionPath<'a> {
    pool_id: &'a str,
    identity_id: &'a str,
    dataset: &'a str,
    device_id: &'a str,
}

async fn subscription_path<'a>(
    svc: &Service,
    ctx: &CallContext,
    input: &'a Value,
) -> Result<SubscriptionPath<'a>> {
    let pool_id = input.req_str("IdentityPoolId")?;
    let identity_id = input.req_str("IdentityId")?;
    authorize(ctx, SyncAccess::IdentityOnly, pool_id, Some(identity_id))?;
    let dataset = input.req_str("DatasetName")?;
    check_dataset_name(dataset)?;
    let device_id = input.req_str("DeviceId")?;
    require_identity_pool(svc, pool_id).await?;
    Ok(SubscriptionPath { pool_id, identity_id, dataset, device_id })
}

pub async fn subscribe_to_dataset(svc: &Service, ctx: &CallContext, input: &Value) -> Result<Value> {
    let SubscriptionPath { pool_id, identity_id, dataset, device_id } =
        subscription_path(svc, ctx, input).await?;
    let (config, _) = load_config(svc, pool_id).await?;
    if config.push_sync.as_ref().is_none_or(|p| p.application_arns.is_empty()) {
        return Err(Error::InvalidConfigurationException(format!(
            "Push sync is not configured for identity pool {pool_id}."
        )));
    }
    // Clients subscribe datasets they have synchronized once (the SDKs' subscribeAll says so).
    crate::ops::sync_records::require_dataset(svc, pool_id, identity_id, dataset).await?;
    for _ in 0..ATTEMPTS {
        let (device, version) = load_device(svc, pool_id, identity_id, device_id)
            .await?
            .ok_or_else(|| device_not_found(device_id))?;
        // The device is written back unchanged, conditional on its version, so a subscription
        // never outlives a device removed meanwhile.
        let mut device_item = Item::new(
            push_keys::devices(pool_id, identity_id),
            push_keys::device_sk(&device.device_id),
            serde_json::to_value(&device).map_err(Error::internal)?,
        );
        device_item.version = version + 1;
        let subscription = Subscription {
            device_id: device.device_id.clone(),
            dataset_name: dataset.to_string(),
            created: svc.clock.now_millis(),
        };
        let sub_item = Item::new(
            push_keys::devices(pool_id, identity_id),
            push_keys::subscription_sk(dataset, &device.device_id),
            serde_json::to_value(&subscription).map_err(Error::internal)?,
        );
        let writes = vec![Write::put(device_item, Cond::Version(version)), Write::put(sub_item, Cond::None)];
        match svc.store.transact(writes, svc.now_secs()).await {
            Ok(()) => return Ok(json!({})),
            Err(StoreError::ConditionFailed { .. }) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(Error::TooManyRequestsException("The device is being changed by other requests. Try again.".into()))
}

pub async fn unsubscribe_from_dataset(svc: &Service, ctx: &CallContext, input: &Value) -> Result<Value> {
    let SubscriptionPath { pool_id, identity_id, dataset, device_id } =
        subscription_path(svc, ctx, input).await?;
    let (device, _) = load_device(svc, pool_id, identity_id, device_id)
        .await?
        .ok_or_else(|| device_not_found(device_id))?;
    // Unsubscribing a dataset the device does not follow changes nothing and succeeds.
    let write = Write::delete(
        push_keys::devices(pool_id, identity_id),
        push_keys::subscription_sk(dataset, &device.device_id),
        Cond::None,
    );
    svc.store.transact(vec![write], svc.now_secs()).await?;
    Ok(json!({}))
}

// ---- the silent push ----

/// The SNS `MessageStructure=json` document of spec D §2.13 for one device: the platform's
/// payload under its key, and the bare data as `default` (SNS requires one).
pub fn push_message(
    platform: &str,
    identity_pool_id: &str,
    identity_id: &str,
    dataset_name: &str,
    sync_count: i64,
) -> String {
    // Every value a string: Android reads them as string extras (Long.parseLong("syncCount")).
    let data = json!({
        "source": "cognito-sync",
        "identityPoolId": identity_pool_id,
        "identityId": identity_id,
        "datasetName": dataset_name,
        "syncCount": sync_count.to_string(),
    });
    let payload = match platform {
        "APNS" | "APNS_SANDBOX" => json!({"aps": {"content-available": 1}, "data": data}),
        _ => json!({"data": data}),
    };
    let mut message = serde_json::Map::new();
    message.insert("default".into(), Value::String(data.to_string()));
    message.insert(platform.to_string(), Value::String(payload.to_string()));
    Value::Object(message).to_string()
}

/// Every stored item of one partition (all pages).
async fn partition_items(svc: &Service, pk: &str, prefix: &str) -> Result<Vec<Item>> {
    let mut items = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = svc.store.query(pk, prefix, after.as_deref(), 100, svc.now_secs()).await?;
        items.extend(page.items);
        match page.next {
            Some(next) => after = Some(next),
            None => return Ok(items),
        }
    }
}

/// After a committed change to a dataset: the silent push to every device subscribed to it
/// but the one that made the change. Never fails the caller; failures are logged (no tokens,
/// no message bodies).
pub async fn notify_dataset_changed(
    svc: &Service,
    identity_pool_id: &str,
    identity_id: &str,
    dataset_name: &str,
    sync_count: i64,
    origin_device_id: Option<&str>,
) {
    if let Err(e) =
        try_notify(svc, identity_pool_id, identity_id, dataset_name, sync_count, origin_device_id).await
    {
        tracing::warn!(identity_pool_id, dataset_name, error = %e, "push sync notification failed");
    }
}

async fn try_notify(
    svc: &Service,
    identity_pool_id: &str,
    identity_id: &str,
    dataset_name: &str,
    sync_count: i64,
    origin_device_id: Option<&str>,
) -> Result<()> {
    use futures_util::StreamExt;
    let pk = push_keys::devices(identity_pool_id, identity_id);
    let subscriptions =
        partition_items(svc, &pk, &push_keys::dataset_subscriptions_prefix(dataset_name)).await?;
    let targets: Vec<String> = subscriptions
        .iter()
        .filter_map(|item| serde_json::from_value::<Subscription>(item.body.clone()).ok())
        .map(|s| s.device_id)
        .filter(|id| Some(id.as_str()) != origin_device_id)
        .collect();
    if targets.is_empty() {
        return Ok(());
    }
    let Ok(push) = svc.push() else {
        tracing::debug!(identity_pool_id, "push sync notifications skipped: no push notifier");
        return Ok(());
    };
    // Devices of an application ARN the pool no longer lists get no more pushes.
    let (config, _) = load_config(svc, identity_pool_id).await?;
    let configured = config.push_sync.map(|p| p.application_arns).unwrap_or_default();
    futures_util::stream::iter(targets)
        .for_each_concurrent(PUBLISH_CONCURRENCY, |device_id| {
            let configured = &configured;
            async move {
                let device = match load_device(svc, identity_pool_id, identity_id, &device_id).await {
                    Ok(Some((device, _))) => device,
                    Ok(None) => return,
                    Err(e) => {
                        tracing::warn!(identity_pool_id, device_id, error = %e, "push sync: device unreadable");
                        return;
                    }
                };
                if !configured.contains(&device.application_arn) {
                    return;
                }
                let message =
                    push_message(&device.platform, identity_pool_id, identity_id, dataset_name, sync_count);
                if let Err(e) = push.publish(&device.endpoint_arn, &message).await {
                    tracing::warn!(
                        identity_pool_id,
                        device_id,
                        error = e.name(),
                        "push sync notification not delivered"
                    );
                }
            }
        })
        .await;
    Ok(())
}

// ---- identities going away or merging ----

async fn transact_chunks(svc: &Service, writes: Vec<Write>) -> Result<()> {
    let mut writes = writes.into_iter().peekable();
    while writes.peek().is_some() {
        let chunk: Vec<Write> = writes.by_ref().take(MAX_TRANSACTION_WRITES).collect();
        svc.store.transact(chunk, svc.now_secs()).await?;
    }
    Ok(())
}

/// Removes an identity's devices and subscriptions (DeleteIdentities). The SNS endpoints stay:
/// SNS answers the same endpoint for the same token, so another identity on the same phone
/// may be using it.
pub async fn delete_identity_devices(svc: &Service, identity_pool_id: &str, identity_id: &str) -> Result<()> {
    let pk = push_keys::devices(identity_pool_id, identity_id);
    let items = partition_items(svc, &pk, "").await?;
    let writes = items.into_iter().map(|item| Write::delete(item.pk, item.sk, Cond::None)).collect();
    transact_chunks(svc, writes).await
}

/// Moves `from`'s devices and subscriptions to `to` when `from` is merged into `to`. Each
/// device takes the id `to` would get registering it, so a later RegisterDevice by the
/// surviving identity finds it. Everything is written under `to` before anything of `from` is
/// removed, so a repeated call after a failure completes the move.
pub async fn move_devices_on_merge(
    svc: &Service,
    identity_pool_id: &str,
    from: &str,
    to: &str,
) -> Result<()> {
    if from == to {
        return Ok(());
    }
    let from_pk = push_keys::devices(identity_pool_id, from);
    let to_pk = push_keys::devices(identity_pool_id, to);
    let items = partition_items(svc, &from_pk, "").await?;
    let mut new_ids: BTreeMap<String, String> = BTreeMap::new();
    let mut puts = Vec::new();
    for item in items.iter().filter(|i| i.sk.starts_with(push_keys::DEVICE_PREFIX)) {
        let Ok(mut device) = serde_json::from_value::<PushDevice>(item.body.clone()) else { continue };
        let new_id = device_id(identity_pool_id, to, &device.platform, &device.token);
        new_ids.insert(device.device_id.clone(), new_id.clone());
        if load_device(svc, identity_pool_id, to, &new_id).await?.is_some() {
            // `to` already has this device; only its subscriptions move.
            continue;
        }
        device.device_id = new_id.clone();
        let body = serde_json::to_value(&device).map_err(Error::internal)?;
        puts.push(Write::put(Item::new(to_pk.clone(), push_keys::device_sk(&new_id), body), Cond::None));
    }
    for item in items.iter().filter(|i| i.sk.starts_with(push_keys::SUBSCRIPTION_PREFIX)) {
        let Ok(mut sub) = serde_json::from_value::<Subscription>(item.body.clone()) else { continue };
        let Some(new_id) = new_ids.get(&sub.device_id) else { continue };
        sub.device_id = new_id.clone();
        let sk = push_keys::subscription_sk(&sub.dataset_name, new_id);
        let body = serde_json::to_value(&sub).map_err(Error::internal)?;
        puts.push(Write::put(Item::new(to_pk.clone(), sk, body), Cond::None));
    }
    transact_chunks(svc, puts).await?;
    let deletes = items.into_iter().map(|item| Write::delete(item.pk, item.sk, Cond::None)).collect();
    transact_chunks(svc, deletes).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn application_arns() {
        assert_eq!(application_platform("arn:aws:sns:us-east-1:123456789012:app/GCM/my-app"), Some("GCM"));
        assert_eq!(
            application_platform("arn:aws:sns:eu-west-1:123456789012:app/APNS_SANDBOX/My.App_1"),
            Some("APNS_SANDBOX")
        );
        for bad in [
            "arn:aws:sns:us-east-1:123456789012:endpoint/GCM/app/x",
            "arn:aws:sns:us-east-1:12345678901a:app/GCM/x",
            "arn:aws:sns:us-east-1:123456789012:app/GCM/",
            "arn:aws:sns:us-east-1:123456789012:app/gcm/x",
            "arn:aws:sqs:us-east-1:123456789012:app/GCM/x",
        ] {
            assert_eq!(application_platform(bad), None, "{bad}");
        }
    }

    #[test]
    fn lambda_functions() {
        for good in [
            "my-function",
            "my_function:prod",
            "arn:aws:lambda:us-east-1:123456789012:function:my-function",
            "arn:aws:lambda:us-east-1:123456789012:function:my-function:$LATEST",
        ] {
            assert!(is_lambda_function(good), "{good}");
        }
        for bad in [
            "",
            "my function",
            "arn:aws:lambda:us-east-1:1234:function:f",
            "arn:aws:s3:::bucket",
            "arn:aws:lambda:us-east-1:123456789012:layer:f",
            "a:b:c",
        ] {
            assert!(!is_lambda_function(bad), "{bad}");
        }
    }

    #[test]
    fn device_ids_are_stable_per_registration() {
        let a = device_id("p", "i", "GCM", "t");
        assert_eq!(a, device_id("p", "i", "GCM", "t"));
        assert_ne!(a, device_id("p", "j", "GCM", "t"));
        assert_ne!(a, device_id("p", "i", "ADM", "t"));
        assert_ne!(a, device_id("p", "i", "GCM", "u"));
        assert!(uuid::Uuid::parse_str(&a).is_ok());
    }

    #[test]
    fn push_messages_carry_string_values() {
        let m: Value = serde_json::from_str(&push_message("APNS", "p", "i", "d", 7)).unwrap_or_default();
        let apns: Value = serde_json::from_str(m["APNS"].as_str().unwrap_or_default()).unwrap_or_default();
        assert_eq!(apns["aps"], json!({"content-available": 1}));
        assert_eq!(
            apns["data"],
            json!({"source": "cognito-sync", "identityPoolId": "p", "identityId": "i", "datasetName": "d", "syncCount": "7"})
        );
        let gcm: Value = serde_json::from_str(&push_message("GCM", "p", "i", "d", 7)).unwrap_or_default();
        let payload: Value =
            serde_json::from_str(gcm["GCM"].as_str().unwrap_or_default()).unwrap_or_default();
        assert_eq!(payload, json!({"data": apns["data"].clone()}));
        assert!(gcm.get("default").is_some_and(Value::is_string));
    }
}
