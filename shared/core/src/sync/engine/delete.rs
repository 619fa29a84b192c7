//! Deleting a dataset: its head stays as a marker of the count it was deleted at, and its records
//! are purged.

use super::backoff::Backoff;
use super::commit::{busy, head_write, purge, ClaimWaits};
use super::counters::{dataset_count_write, transact_with_usage, Committed};
use super::model::DatasetHead;
use super::read::snapshot_within;
use crate::error::Result;
use crate::keys;
use crate::service::Service;
use crate::store::{Cond, Write, MAX_TRANSACTION_WRITES};

/// Marks a dataset deleted at its current count and purges its records; answers the head as
/// it was, or `None` when there was no live dataset. Waits out a claim held by another
/// request (`wait`), or takes no notice of it (identity clean-up).
pub(crate) async fn mark_deleted(
    svc: &Service,
    pool: &str,
    identity: &str,
    name: &str,
    wait: bool,
) -> Result<Option<DatasetHead>> {
    let mut claim = ClaimWaits::default();
    let mut backoff = Backoff::new();
    loop {
        let snap = snapshot_within(svc, pool, identity, name, &mut backoff).await?;
        let Some((head, version)) = snap.head.clone() else { return Ok(None) };
        if !head.live {
            return Ok(None);
        }
        if wait && head.claimed(svc.now_secs()) {
            claim.wait().await?;
            continue;
        }
        let mut gone = head.clone();
        gone.live = false;
        gone.floor = head.sync_count;
        gone.data_storage = 0;
        gone.num_records = 0;
        gone.claim = None;
        gone.last_modified = svc.clock.now_millis();
        let (_, count) = dataset_count_write(svc, pool, identity, -1).await?;
        // Everything at or below the deleted count: no later version can reuse these keys.
        let pk = keys::sync::records(pool, identity, name);
        let old: Vec<String> = snap
            .versions
            .values()
            .flat_map(|vs| vs.range(..=head.sync_count))
            .flat_map(|(_, v)| v.sks.iter().cloned())
            .collect();
        let mut writes = vec![head_write(&gone, identity, pool, Some(version))?, count];
        // `<`: the usage shard joins the transaction too.
        let small = old.len() + writes.len() < MAX_TRANSACTION_WRITES;
        if small {
            writes.extend(old.iter().map(|sk| Write::delete(pk.clone(), sk.clone(), Cond::None)));
        }
        let storage = -i64::try_from(head.data_storage).unwrap_or(i64::MAX);
        match transact_with_usage(svc, pool, writes, 0, storage).await? {
            Committed::Done => {
                if !small {
                    purge(svc, &pk, &old).await;
                }
                return Ok(Some(head));
            }
            Committed::Raced => {
                if !backoff.pause(svc).await {
                    return Err(busy());
                }
            }
        }
    }
}
