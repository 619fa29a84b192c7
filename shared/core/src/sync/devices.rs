//! RegisterDevice, SubscribeToDataset, UnsubscribeFromDataset: an identity's push devices and the
//! datasets each follows.

use super::access::{authorize, SyncAccess};
use super::engine::read::require_dataset;
use super::push::{device_id, load_device, PushDevice, Subscription};
use super::settings::{
    application_platform, load_config, require_identity, require_identity_pool, ATTEMPTS, PLATFORMS,
};
use crate::error::{Error, Result};
use crate::input::Input;
use crate::keys;
use crate::retry::{retry_on_conflict, Attempt};
use crate::service::{CallContext, Service};
use crate::store::{Cond, Item, Write};
use serde_json::{json, Value};

/// Longest push token accepted. APNs tokens are 64 hex digits and FCM tokens a few hundred
/// characters; the bound keeps a device item small.
const MAX_TOKEN_LEN: usize = 4096;

fn check_dataset_name(name: &str) -> Result<()> {
    let ok = (1..=128).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b':' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(crate::input::validation_message(
            "DatasetName",
            Some(name),
            "Member must satisfy regular expression pattern: [a-zA-Z0-9_.:-]+",
        )))
    }
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
        return Err(Error::invalid(crate::input::validation_message(
            "Platform",
            Some(platform),
            "Member must satisfy enum value set: [APNS, APNS_SANDBOX, GCM, ADM]",
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
        keys::push::devices(pool_id, identity_id),
        keys::push::device_sk(&id),
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
    require_dataset(svc, pool_id, identity_id, dataset).await?;
    let subscribed = retry_on_conflict(ATTEMPTS, || async move {
        let (device, version) = load_device(svc, pool_id, identity_id, device_id)
            .await?
            .ok_or_else(|| device_not_found(device_id))?;
        // The device is written back unchanged, conditional on its version, so a subscription
        // never outlives a device removed meanwhile.
        let mut device_item = Item::new(
            keys::push::devices(pool_id, identity_id),
            keys::push::device_sk(&device.device_id),
            serde_json::to_value(&device).map_err(Error::internal)?,
        );
        device_item.version = version + 1;
        let subscription = Subscription {
            device_id: device.device_id.clone(),
            dataset_name: dataset.to_string(),
            created: svc.clock.now_millis(),
        };
        let sub_item = Item::new(
            keys::push::devices(pool_id, identity_id),
            keys::push::subscription_sk(dataset, &device.device_id),
            serde_json::to_value(&subscription).map_err(Error::internal)?,
        );
        let writes = vec![Write::put(device_item, Cond::Version(version)), Write::put(sub_item, Cond::None)];
        Attempt::of_write(svc.store.transact(writes, svc.now_secs()).await, json!({}))
    });
    subscribed.await?.ok_or_else(|| {
        Error::TooManyRequestsException("The device is being changed by other requests. Try again.".into())
    })
}

pub async fn unsubscribe_from_dataset(svc: &Service, ctx: &CallContext, input: &Value) -> Result<Value> {
    let SubscriptionPath { pool_id, identity_id, dataset, device_id } =
        subscription_path(svc, ctx, input).await?;
    let (device, _) = load_device(svc, pool_id, identity_id, device_id)
        .await?
        .ok_or_else(|| device_not_found(device_id))?;
    // Unsubscribing a dataset the device does not follow changes nothing and succeeds.
    let write = Write::delete(
        keys::push::devices(pool_id, identity_id),
        keys::push::subscription_sk(dataset, &device.device_id),
        Cond::None,
    );
    svc.store.transact(vec![write], svc.now_secs()).await?;
    Ok(json!({}))
}
