//! Push devices and their dataset subscriptions, as stored. An identity's push devices and their
//! subscriptions share one partition (`SYNCDEV#pool#identity`): `DEVICE#{deviceId}` items and
//! `SUB#{dataset}#{deviceId}` items, so a dataset's subscribers are one prefix query and an
//! identity's whole push state is one partition to delete or move. Device ids are derived from
//! (pool, identity, platform, token), so registering the same token again answers the same id, and
//! a merge lands a device on the id the surviving identity would register it under.

use crate::error::Result;
use crate::keys;
use crate::service::Service;
use crate::store::{Item, Write, MAX_TRANSACTION_WRITES};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// One registered device of one identity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct PushDevice {
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
pub(super) struct Subscription {
    pub(super) device_id: String,
    pub(super) dataset_name: String,
    pub(super) created: i64,
}

/// Cognito-style device id: a UUID derived from who registered which token, so the same
/// registration always answers the same id.
pub(super) fn device_id(identity_pool_id: &str, identity_id: &str, platform: &str, token: &str) -> String {
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

/// A device of the identity, with its item version.
pub(super) async fn load_device(
    svc: &Service,
    identity_pool_id: &str,
    identity_id: &str,
    device_id: &str,
) -> Result<Option<(PushDevice, u64)>> {
    svc.get_json::<PushDevice>(
        &keys::push::devices(identity_pool_id, identity_id),
        &keys::push::device_sk(device_id),
    )
    .await
}

/// Every stored item of one partition (all pages).
pub(super) async fn partition_items(svc: &Service, pk: &str, prefix: &str) -> Result<Vec<Item>> {
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

/// Writes in as many transactions as they need.
pub(super) async fn transact_chunks(svc: &Service, writes: Vec<Write>) -> Result<()> {
    let mut writes = writes.into_iter().peekable();
    while writes.peek().is_some() {
        let chunk: Vec<Write> = writes.by_ref().take(MAX_TRANSACTION_WRITES).collect();
        svc.store.transact(chunk, svc.now_secs()).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_ids_are_stable_per_registration() {
        let a = device_id("p", "i", "GCM", "t");
        assert_eq!(a, device_id("p", "i", "GCM", "t"));
        assert_ne!(a, device_id("p", "j", "GCM", "t"));
        assert_ne!(a, device_id("p", "i", "ADM", "t"));
        assert_ne!(a, device_id("p", "i", "GCM", "u"));
        assert!(uuid::Uuid::parse_str(&a).is_ok());
    }
}
