//! A pool's Sync settings (one [`IdentityPoolSyncConfig`] item, written with version checks),
//! and the checks the configuration and device operations share.

use crate::error::{Error, Result};
use crate::model::{keys, IdentityPoolSyncConfig};
use crate::service::Service;
use crate::store::{Item, StoreError, Write};

/// The push platforms Cognito Sync registers devices for.
pub(super) const PLATFORMS: &[&str] = &["APNS", "APNS_SANDBOX", "GCM", "ADM"];

/// The one Cognito Events event.
pub(super) const SYNC_TRIGGER: &str = "SyncTrigger";

/// Tries of a version-checked write that lost a race (merging writes only).
pub(super) const ATTEMPTS: usize = 5;

/// The pool's Sync settings and the version they were read at (None: never written).
pub(super) async fn load_config(
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
pub(super) async fn save_config(
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

/// ResourceNotFoundException (`IdentityPool '…' not found.`) unless the identity pool exists.
pub(super) async fn require_identity_pool(svc: &Service, identity_pool_id: &str) -> Result<()> {
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

/// The identity pool and the identity (`Identity '…' not found.`) must exist.
pub(super) async fn require_identity(svc: &Service, identity_pool_id: &str, identity_id: &str) -> Result<()> {
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

/// `arn:aws:sns:{region}:{account}:app/{PLATFORM}/{name}` → PLATFORM, when the ARN has that form.
pub(super) fn application_platform(arn: &str) -> Option<&str> {
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
}
