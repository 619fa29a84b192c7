//! What the identity operations call when identities go or merge: an identity's or a whole pool's
//! Sync data deleted, and a merged identity's datasets and push devices moved to the identity it
//! merged into.

use super::engine::commit::{busy, chunks, head_write};
use super::engine::counters::{dataset_count_write, transact_with_usage, Committed};
use super::engine::delete::mark_deleted;
use super::engine::plan::version_items;
use super::engine::read::{read_head, read_partition, snapshot};
use super::push::{device_id, load_device, partition_items, transact_chunks, PushDevice, Subscription};
use crate::error::{Error, Result};
use crate::keys;
use crate::retry::{retry_on_conflict, Attempt};
use crate::service::Service;
use crate::store::{Cond, Item, Write, MAX_TRANSACTION_WRITES};
use std::collections::BTreeMap;

/// Rounds of an identity's data clean-up lost to writers before it gives up.
const CLEANUP_ROUNDS: usize = 5;

/// Removes a dataset entirely: marks it deleted, purges its records, then drops its head.
async fn remove_dataset(svc: &Service, pool: &str, identity: &str, name: &str) -> Result<()> {
    mark_deleted(svc, pool, identity, name, false).await?;
    let pk = &keys::sync::records(pool, identity, name);
    let removed = retry_on_conflict(CLEANUP_ROUNDS, || async move {
        let Some((head, version)) = read_head(svc, pool, identity, name).await? else {
            return Ok(Attempt::Done(()));
        };
        if head.live {
            // Written again meanwhile.
            mark_deleted(svc, pool, identity, name, false).await?;
            return Ok(Attempt::Raced);
        }
        let sks: Vec<String> = read_partition(svc, pk).await?.into_iter().map(|i| i.sk).collect();
        for chunk in sks.chunks(MAX_TRANSACTION_WRITES) {
            let writes = chunk.iter().map(|sk| Write::delete(pk.clone(), sk.clone(), Cond::None)).collect();
            svc.store.transact(writes, svc.now_secs()).await?;
        }
        // The head goes last, and only as read: records never outlive their head, which
        // keeps their counts from reappearing under a new one.
        let w = Write::delete(keys::sync::datasets(pool, identity), name, Cond::Version(version));
        Attempt::of_write(svc.store.transact(vec![w], svc.now_secs()).await, ())
    });
    removed.await?.ok_or_else(busy)
}

/// Deletes all Sync data of an identity (DeleteIdentities, and identity pool deletion).
pub async fn delete_identity_data(svc: &Service, identity_pool_id: &str, identity_id: &str) -> Result<()> {
    for item in read_partition(svc, &keys::sync::datasets(identity_pool_id, identity_id)).await? {
        remove_dataset(svc, identity_pool_id, identity_id, &item.sk).await?;
    }
    let w = Write::delete(keys::sync::identities(identity_pool_id), identity_id, Cond::None);
    svc.store.transact(vec![w], svc.now_secs()).await?;
    Ok(())
}

/// Deletes all Sync data of an identity pool: every identity's datasets and the usage counters.
pub async fn delete_pool_data(svc: &Service, identity_pool_id: &str) -> Result<()> {
    for item in read_partition(svc, &keys::sync::identities(identity_pool_id)).await? {
        delete_identity_data(svc, identity_pool_id, &item.sk).await?;
    }
    let usage = keys::sync::usage(identity_pool_id);
    let sks: Vec<String> = read_partition(svc, &usage).await?.into_iter().map(|i| i.sk).collect();
    let writes = sks.iter().map(|sk| Write::delete(usage.clone(), sk.clone(), Cond::None)).collect();
    svc.store.transact(writes, svc.now_secs()).await?;
    Ok(())
}

/// When identity `from` merges into `to`, each dataset `D` of `from` reappears under `to` as
/// `D.<from>` with its records and sync counts (as Cognito merges them), and leaves `from`.
pub async fn move_datasets_on_merge(
    svc: &Service,
    identity_pool_id: &str,
    from_identity: &str,
    to_identity: &str,
) -> Result<()> {
    let pool = identity_pool_id;
    for item in read_partition(svc, &keys::sync::datasets(pool, from_identity)).await? {
        let name = item.sk;
        let snap = snapshot(svc, pool, from_identity, &name).await?;
        let Some(head) = snap.head().filter(|h| h.live).cloned() else {
            remove_dataset(svc, pool, from_identity, &name).await?;
            continue;
        };
        let target = format!("{name}.{from_identity}");
        let existing = read_head(svc, pool, to_identity, &target).await?;
        if !existing.as_ref().is_some_and(|(h, _)| h.live) {
            // Copy the visible versions, then make them visible with the head.
            let pk = keys::sync::records(pool, to_identity, &target);
            let mut items = Vec::new();
            for state in snap.visible()?.values() {
                items.extend(version_items(&pk, state)?);
            }
            let puts = items.into_iter().map(|i| Write::put(i, Cond::None)).collect();
            for chunk in chunks(puts, MAX_TRANSACTION_WRITES) {
                svc.store.transact(chunk, svc.now_secs()).await?;
            }
            let mut moved = head.clone();
            moved.name = target.clone();
            moved.claim = None;
            let (_, count) = dataset_count_write(svc, pool, to_identity, 1).await?;
            let writes = vec![head_write(&moved, to_identity, pool, existing.map(|(_, v)| v))?, count];
            let storage = i64::try_from(head.data_storage).unwrap_or(i64::MAX);
            if let Committed::Raced = transact_with_usage(svc, pool, writes, 0, storage).await? {
                return Err(Error::ResourceConflictException(format!(
                    "The dataset {target} was changed while identities merged. Try again."
                )));
            }
        }
        remove_dataset(svc, pool, from_identity, &name).await?;
    }
    Ok(())
}

/// Removes an identity's devices and subscriptions (DeleteIdentities). The SNS endpoints stay:
/// SNS answers the same endpoint for the same token, so another identity on the same phone
/// may be using it.
pub async fn delete_identity_devices(svc: &Service, identity_pool_id: &str, identity_id: &str) -> Result<()> {
    let pk = keys::push::devices(identity_pool_id, identity_id);
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
    let from_pk = keys::push::devices(identity_pool_id, from);
    let to_pk = keys::push::devices(identity_pool_id, to);
    let items = partition_items(svc, &from_pk, "").await?;
    let mut new_ids: BTreeMap<String, String> = BTreeMap::new();
    let mut puts = Vec::new();
    for item in items.iter().filter(|i| i.sk.starts_with(keys::push::DEVICE_PREFIX)) {
        let Ok(mut device) = serde_json::from_value::<PushDevice>(item.body.clone()) else { continue };
        let new_id = device_id(identity_pool_id, to, &device.platform, &device.token);
        new_ids.insert(device.device_id.clone(), new_id.clone());
        if load_device(svc, identity_pool_id, to, &new_id).await?.is_some() {
            // `to` already has this device; only its subscriptions move.
            continue;
        }
        device.device_id = new_id.clone();
        let body = serde_json::to_value(&device).map_err(Error::internal)?;
        puts.push(Write::put(Item::new(to_pk.clone(), keys::push::device_sk(&new_id), body), Cond::None));
    }
    for item in items.iter().filter(|i| i.sk.starts_with(keys::push::SUBSCRIPTION_PREFIX)) {
        let Ok(mut sub) = serde_json::from_value::<Subscription>(item.body.clone()) else { continue };
        let Some(new_id) = new_ids.get(&sub.device_id) else { continue };
        sub.device_id = new_id.clone();
        let sk = keys::push::subscription_sk(&sub.dataset_name, new_id);
        let body = serde_json::to_value(&sub).map_err(Error::internal)?;
        puts.push(Write::put(Item::new(to_pk.clone(), sk, body), Cond::None));
    }
    transact_chunks(svc, puts).await?;
    let deletes = items.into_iter().map(|item| Write::delete(item.pk, item.sk, Cond::None)).collect();
    transact_chunks(svc, deletes).await
}
