//! The silent push after a dataset changes: every device subscribed to the dataset but the one that
//! made the change gets a push telling it to sync.

use super::push::{load_device, partition_items, Subscription};
use super::settings::load_config;
use crate::error::Result;
use crate::keys;
use crate::service::Service;
use serde_json::{json, Value};

/// Pushes sent at once after a change.
const PUBLISH_CONCURRENCY: usize = 8;

/// The SNS `MessageStructure=json` document Cognito Sync sends one device: the platform's
/// payload under its key, and the bare data as `default` (SNS requires one).
fn push_message(
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
    let pk = keys::push::devices(identity_pool_id, identity_id);
    let subscriptions =
        partition_items(svc, &pk, &keys::push::dataset_subscriptions_prefix(dataset_name)).await?;
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

#[cfg(test)]
mod tests {
    use super::*;

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
