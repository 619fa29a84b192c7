//! Committing a plan: one transaction when it fits; beyond, claim the head, write the versions
//! in chunks that each move the head's version on, commit, then delete what the commit
//! superseded (see [`super`]).

use super::counters::{transact_with_usage, Committed};
use super::model::{Claim, DatasetHead};
use super::plan::Plan;
use crate::error::{Error, Result};
use crate::keys;
use crate::service::Service;
use crate::store::{Cond, Item, StoreError, Write, MAX_TRANSACTION_WRITES};
use std::time::Duration;

/// How long a large update may hold its dataset before another writer may take over.
const CLAIM_SECS: i64 = 30;

/// Pauses while another request holds the dataset, before giving up.
const CLAIM_WAITS: usize = 100;
const CLAIM_PAUSE: Duration = Duration::from_millis(100);

/// Bytes of items one transaction carries at most (DynamoDB takes 4 MB; room for overhead).
const TRANSACTION_BYTES: usize = 3 * 1024 * 1024;

/// The write of a dataset head, conditional on `version` (`None`: a new head).
pub(crate) fn head_write(
    head: &DatasetHead,
    identity: &str,
    pool: &str,
    version: Option<u64>,
) -> Result<Write> {
    let item = Item::new(
        keys::sync::datasets(pool, identity),
        head.name.clone(),
        serde_json::to_value(head).map_err(Error::internal)?,
    );
    Ok(Write::put_versioned(item, version))
}

/// How a commit attempt ended.
pub(crate) enum Outcome {
    Done,
    /// Another request got there first: read again.
    Raced,
}

/// Commits a plan: one transaction when it fits, else claim, chunks, commit, clean-up.
pub(crate) async fn commit(svc: &Service, pool: &str, identity: &str, plan: Plan) -> Result<Outcome> {
    let head_version = plan.old_head.as_ref().map(|(_, v)| *v);
    // Head, usage shard and maybe the dataset count go with the commit.
    let extra = 2 + usize::from(plan.dataset_count.is_some());
    let pk = &plan.records_pk;
    let delete = |sk: &String| Write::delete(pk.clone(), sk.clone(), Cond::None);
    let put_bytes: usize = plan.puts.iter().map(item_bytes).sum();
    let writes = plan.puts.len() + plan.dead.len() + plan.superseded.len() + extra;
    if writes <= MAX_TRANSACTION_WRITES && put_bytes <= TRANSACTION_BYTES {
        let mut writes = vec![head_write(&plan.head, identity, pool, head_version)?];
        writes.extend(plan.dataset_count.clone());
        writes.extend(plan.puts.iter().cloned().map(|i| Write::put(i, Cond::None)));
        writes.extend(plan.dead.iter().chain(&plan.superseded).map(delete));
        return match transact_with_usage(svc, pool, writes, 0, plan.storage_delta).await? {
            Committed::Done => Ok(Outcome::Done),
            Committed::Raced => Ok(Outcome::Raced),
        };
    }
    // Claim the head (its committed state unchanged): from here on only this writer's chunks
    // land, each moving the head's version on.
    let mut claimed =
        plan.old_head.as_ref().map(|(h, _)| h.clone()).unwrap_or_else(|| DatasetHead::empty(&plan.head.name));
    claimed.claim = Some(Claim { id: svc.rng.uuid().to_string(), expires_at: svc.now_secs() + CLAIM_SECS });
    match svc.store.transact(vec![head_write(&claimed, identity, pool, head_version)?], svc.now_secs()).await
    {
        Ok(()) => {}
        Err(StoreError::ConditionFailed { .. }) => return Ok(Outcome::Raced),
        Err(e) => return Err(e.into()),
    }
    let mut version = head_version.map(|v| v + 1).unwrap_or(1);
    let pending: Vec<Write> = plan
        .puts
        .iter()
        .cloned()
        .map(|i| Write::put(i, Cond::None))
        .chain(plan.dead.iter().map(delete))
        .collect();
    for chunk in chunks(pending, MAX_TRANSACTION_WRITES - 1) {
        let mut writes = vec![head_write(&claimed, identity, pool, Some(version))?];
        writes.extend(chunk);
        match svc.store.transact(writes, svc.now_secs()).await {
            Ok(()) => version += 1,
            // Taken over after the claim expired: this writer's versions stay invisible.
            Err(StoreError::ConditionFailed { index: 0 }) => return Ok(Outcome::Raced),
            Err(e) => {
                release(svc, identity, pool, &claimed, version).await;
                return Err(e.into());
            }
        }
    }
    let mut writes = vec![head_write(&plan.head, identity, pool, Some(version))?];
    writes.extend(plan.dataset_count.clone());
    match transact_with_usage(svc, pool, writes, 0, plan.storage_delta).await {
        Ok(Committed::Done) => {}
        Ok(Committed::Raced) => {
            release(svc, identity, pool, &claimed, version).await;
            return Ok(Outcome::Raced);
        }
        Err(e) => {
            release(svc, identity, pool, &claimed, version).await;
            return Err(e);
        }
    }
    purge(svc, pk, &plan.superseded).await;
    Ok(Outcome::Done)
}

/// About the bytes an item takes in a transaction.
fn item_bytes(item: &Item) -> usize {
    item.pk.len() + item.sk.len() + serde_json::to_string(&item.body).map(|b| b.len()).unwrap_or(0)
}

/// Writes cut into transactions of at most `max` writes and [`TRANSACTION_BYTES`] bytes.
pub(crate) fn chunks(writes: Vec<Write>, max: usize) -> Vec<Vec<Write>> {
    let mut out: Vec<Vec<Write>> = Vec::new();
    let mut current = Vec::new();
    let mut bytes = 0;
    for w in writes {
        let n = match &w {
            Write::Put { item, .. } => item_bytes(item),
            Write::Delete { pk, sk, .. } => pk.len() + sk.len(),
        };
        if !current.is_empty() && (current.len() == max || bytes + n > TRANSACTION_BYTES) {
            out.push(std::mem::take(&mut current));
            bytes = 0;
        }
        bytes += n;
        current.push(w);
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// Gives a claim back after a failure, so others need not wait for it to expire (best effort:
/// it expires anyway; what was written stays invisible).
async fn release(svc: &Service, identity: &str, pool: &str, claimed: &DatasetHead, version: u64) {
    let mut head = claimed.clone();
    head.claim = None;
    if let Ok(w) = head_write(&head, identity, pool, Some(version)) {
        if let Err(e) = svc.store.transact(vec![w], svc.now_secs()).await {
            tracing::warn!(error = %e, "could not release a dataset claim");
        }
    }
}

/// Deletes invisible items (superseded or deleted versions), in transactions of the largest
/// size. Best effort: what stays is invisible and the next commit deletes it.
pub(super) async fn purge(svc: &Service, pk: &str, sks: &[String]) {
    for chunk in sks.chunks(MAX_TRANSACTION_WRITES) {
        let writes = chunk.iter().map(|sk| Write::delete(pk, sk.clone(), Cond::None)).collect();
        if let Err(e) = svc.store.transact(writes, svc.now_secs()).await {
            tracing::warn!(error = %e, "could not delete superseded record versions");
            return;
        }
    }
}

/// The dataset is held by another request for longer than a request may wait.
pub(crate) fn busy() -> Error {
    Error::ResourceConflictException("The dataset is being updated by another request. Try again.".into())
}

/// Pauses while another request holds a dataset (a large update being written), until it has
/// waited [`CLAIM_WAITS`] times: then the dataset is [`busy`].
#[derive(Debug, Default)]
pub(crate) struct ClaimWaits(usize);

impl ClaimWaits {
    pub(crate) async fn wait(&mut self) -> Result<()> {
        self.0 += 1;
        if self.0 > CLAIM_WAITS {
            return Err(busy());
        }
        tokio::time::sleep(CLAIM_PAUSE).await;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::plan::PART_BYTES;
    use super::*;
    use serde_json::json;

    #[test]
    fn chunks_respect_write_count_and_bytes() {
        let put = |i: usize, size: usize| {
            Write::put(Item::new("p", format!("{i:04}"), json!({ "d": "x".repeat(size) })), Cond::None)
        };
        let small: Vec<Write> = (0..250).map(|i| put(i, 10)).collect();
        let sizes: Vec<usize> = chunks(small, 99).iter().map(Vec::len).collect();
        assert_eq!(sizes, vec![99, 99, 52]);
        let big: Vec<Write> = (0..30).map(|i| put(i, PART_BYTES)).collect();
        let cut = chunks(big, 99);
        assert!(cut.len() >= 3);
        for c in &cut {
            let bytes: usize = c
                .iter()
                .map(|w| match w {
                    Write::Put { item, .. } => item_bytes(item),
                    Write::Delete { .. } => 0,
                })
                .sum();
            assert!(bytes <= TRANSACTION_BYTES);
        }
        assert_eq!(cut.iter().map(Vec::len).sum::<usize>(), 30);
    }
}
