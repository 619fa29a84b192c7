//! Reading datasets: heads, record versions, and consistent snapshots of both.

use super::backoff::Backoff;
use super::model::{is_identity_id, DatasetHead, RecordState, Version, VersionHead, VersionPart, Versions};
use crate::error::{Error, Result};
use crate::keys;
use crate::service::Service;
use crate::store::Item;
use std::collections::BTreeMap;

/// Items per store query when a whole dataset is read.
pub(crate) const PAGE: usize = 1000;

/// A dataset's head and its version, when it has one (deleted datasets keep theirs).
pub(crate) async fn read_head(
    svc: &Service,
    pool: &str,
    identity: &str,
    name: &str,
) -> Result<Option<(DatasetHead, u64)>> {
    svc.get_json::<DatasetHead>(&keys::sync::datasets(pool, identity), name).await
}

/// Every item of a partition.
pub(crate) async fn read_partition(svc: &Service, pk: &str) -> Result<Vec<Item>> {
    let mut out = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = svc.store.query(pk, "", after.as_deref(), PAGE, svc.now_secs()).await?;
        out.extend(page.items);
        match page.next {
            Some(n) => after = Some(n),
            None => return Ok(out),
        }
    }
}

pub(super) fn group_versions(items: Vec<Item>) -> Result<Versions> {
    let mut out = Versions::new();
    for item in items {
        if item.body.get("d").is_some() {
            let part: VersionPart = serde_json::from_value(item.body).map_err(Error::internal)?;
            let v = out.entry(part.k).or_default().entry(part.c).or_default();
            v.parts.insert(part.p, part.d);
            v.sks.push(item.sk);
        } else {
            let head: VersionHead = serde_json::from_value(item.body).map_err(Error::internal)?;
            let v = out.entry(head.k.clone()).or_default().entry(head.c).or_default();
            v.head = Some(head);
            v.sks.push(item.sk);
        }
    }
    Ok(out)
}

/// The highest version in `(floor, committed]`.
pub(super) fn visible_version(
    versions: &BTreeMap<u64, Version>,
    floor: u64,
    committed: u64,
) -> Option<(&u64, &Version)> {
    if committed <= floor {
        return None;
    }
    versions.range(floor + 1..=committed).next_back()
}

/// A dataset as of one committed count.
pub(crate) struct Snapshot {
    pub(super) head: Option<(DatasetHead, u64)>,
    pub(super) versions: Versions,
}

impl Snapshot {
    pub(crate) fn head(&self) -> Option<&DatasetHead> {
        self.head.as_ref().map(|(h, _)| h)
    }

    pub(super) fn range(&self) -> (u64, u64) {
        self.head().map(|h| (h.floor, h.sync_count)).unwrap_or((0, 0))
    }

    /// The state of every key that has one (tombstones included).
    pub(crate) fn visible(&self) -> Result<BTreeMap<String, RecordState>> {
        let (floor, committed) = self.range();
        let mut out = BTreeMap::new();
        for (key, versions) in &self.versions {
            let Some((count, v)) = visible_version(versions, floor, committed) else { continue };
            let Some(head) = &v.head else { continue };
            out.insert(
                key.clone(),
                RecordState {
                    key: key.clone(),
                    value: v.value()?,
                    sync_count: *count,
                    last_modified: head.lm,
                    last_modified_by: head.lmb.clone(),
                    device_last_modified: head.dlm,
                },
            );
        }
        Ok(out)
    }
}

/// The head, every version, and the head again: a snapshot is consistent when no commit or
/// deletion came between the two reads of the head.
pub(crate) async fn snapshot(svc: &Service, pool: &str, identity: &str, name: &str) -> Result<Snapshot> {
    snapshot_within(svc, pool, identity, name, &mut Backoff::new()).await
}

/// [`snapshot`], retrying within the caller's backoff budget.
pub(crate) async fn snapshot_within(
    svc: &Service,
    pool: &str,
    identity: &str,
    name: &str,
    backoff: &mut Backoff,
) -> Result<Snapshot> {
    let pk = keys::sync::records(pool, identity, name);
    loop {
        let head = read_head(svc, pool, identity, name).await?;
        let items = read_partition(svc, &pk).await?;
        let again = read_head(svc, pool, identity, name).await?;
        let state = |h: &Option<(DatasetHead, u64)>| h.as_ref().map(|(h, _)| (h.sync_count, h.floor, h.live));
        if state(&head) == state(&again) {
            return Ok(Snapshot { head: again, versions: group_versions(items)? });
        }
        if !backoff.pause(svc).await {
            return Err(Error::TooManyRequestsException(
                "The dataset is changing too quickly. Try again.".into(),
            ));
        }
    }
}

/// Live datasets of an identity whose names are `{name}.{identity id}`: datasets merged into
/// `name` when identities merged (MergeDeveloperIdentities; docs/identity-pools.md).
pub(crate) async fn merged_names(
    svc: &Service,
    pool: &str,
    identity: &str,
    name: &str,
) -> Result<Vec<String>> {
    let prefix = format!("{name}.");
    let mut out = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = svc
            .store
            .query(&keys::sync::datasets(pool, identity), &prefix, after.as_deref(), PAGE, svc.now_secs())
            .await?;
        for item in page.items {
            let merged = item.sk.strip_prefix(&prefix).is_some_and(is_identity_id);
            let head: DatasetHead = serde_json::from_value(item.body).map_err(Error::internal)?;
            if merged && head.live {
                out.push(head.name);
            }
        }
        match page.next {
            Some(n) => after = Some(n),
            None => return Ok(out),
        }
    }
}

pub(crate) async fn live_head(
    svc: &Service,
    pool: &str,
    identity: &str,
    name: &str,
) -> Result<(DatasetHead, u64)> {
    match read_head(svc, pool, identity, name).await? {
        Some((h, v)) if h.live => Ok((h, v)),
        _ => Err(dataset_not_found(name)),
    }
}

/// Fails with ResourceNotFoundException unless the dataset exists (has been synchronized
/// and not deleted since).
pub(crate) async fn require_dataset(svc: &Service, pool: &str, identity: &str, name: &str) -> Result<()> {
    live_head(svc, pool, identity, name).await.map(|_| ())
}

pub(crate) fn dataset_not_found(name: &str) -> Error {
    Error::ResourceNotFoundException(format!("Dataset {name} does not exist."))
}
