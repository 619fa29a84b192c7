//! Counters written with the data: the pool's usage (sync sessions, data storage), sharded, and
//! each identity's dataset count (the 20-dataset limit).

use super::model::secs;
use super::read::read_partition;
use crate::error::{Error, Result};
use crate::keys;
use crate::retry::{retry_on_conflict, Attempt};
use crate::service::Service;
use crate::store::{Item, StoreError, Write};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// Items of the pool-usage counters.
const USAGE_SHARDS: u8 = 8;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct UsageShard {
    #[serde(default)]
    sessions: u64,
    #[serde(default)]
    data_storage: i64,
    /// Epoch milliseconds of the last data change.
    #[serde(default)]
    last_modified: i64,
}

/// The write that adds to one (random) usage shard, conditional on the version read.
async fn usage_write(svc: &Service, pool: &str, sessions: u64, storage: i64) -> Result<Write> {
    let shard = svc.rng.bytes(1).first().copied().unwrap_or(0) % USAGE_SHARDS;
    let sk = format!("{shard:02}");
    let pk = keys::sync::usage(pool);
    let (mut usage, version) = match svc.get_json::<UsageShard>(&pk, &sk).await? {
        Some((u, v)) => (u, Some(v)),
        None => (UsageShard::default(), None),
    };
    usage.sessions += sessions;
    usage.data_storage += storage;
    // Counting a session is no data change; every other caller changes data.
    if sessions == 0 {
        usage.last_modified = svc.clock.now_millis();
    }
    let item = Item::new(pk, sk, serde_json::to_value(&usage).map_err(Error::internal)?);
    Ok(Write::put_versioned(item, version))
}

/// How a guarded transaction ended.
pub(crate) enum Committed {
    Done,
    /// Another request changed one of the conditioned items first.
    Raced,
}

/// Runs `writes` plus a usage-shard change in one transaction; a shard another request just
/// changed is re-read (another one) and the transaction tried again.
pub(crate) async fn transact_with_usage(
    svc: &Service,
    pool: &str,
    writes: Vec<Write>,
    sessions: u64,
    storage: i64,
) -> Result<Committed> {
    // Only a lost race on the usage shard is retried (with another shard); any other lost
    // condition is the caller's race.
    let writes = &writes;
    let committed = retry_on_conflict(usize::from(USAGE_SHARDS) * 2, || async move {
        let mut all = writes.clone();
        all.push(usage_write(svc, pool, sessions, storage).await?);
        let shard = all.len() - 1;
        match svc.store.transact(all, svc.now_secs()).await {
            Ok(()) => Ok(Attempt::Done(Committed::Done)),
            Err(StoreError::ConditionFailed { index }) if index == shard => Ok(Attempt::Raced),
            Err(StoreError::ConditionFailed { .. }) => Ok(Attempt::Done(Committed::Raced)),
            Err(e) => Err(e.into()),
        }
    });
    committed.await?.ok_or_else(|| {
        Error::TooManyRequestsException(
            "Too many concurrent Sync updates in this identity pool. Try again.".into(),
        )
    })
}

/// Counts a new sync session.
pub(crate) async fn count_session(svc: &Service, pool: &str) -> Result<()> {
    match transact_with_usage(svc, pool, Vec::new(), 1, 0).await? {
        Committed::Done => Ok(()),
        Committed::Raced => Err(Error::internal("a usage shard write without other writes raced")),
    }
}

/// The pool's usage, as DescribeIdentityPoolUsage answers it.
pub(crate) async fn pool_usage(svc: &Service, pool: &str) -> Result<Value> {
    let mut total = UsageShard::default();
    for item in read_partition(svc, &keys::sync::usage(pool)).await? {
        let shard: UsageShard = serde_json::from_value(item.body).map_err(Error::internal)?;
        total.sessions += shard.sessions;
        total.data_storage += shard.data_storage;
        total.last_modified = total.last_modified.max(shard.last_modified);
    }
    let mut out = json!({
        "IdentityPoolId": pool,
        "SyncSessionsCount": total.sessions,
        "DataStorage": total.data_storage.max(0),
    });
    if total.last_modified > 0 {
        out["LastModifiedDate"] = json!(secs(total.last_modified));
    }
    Ok(out)
}

/// The identity's dataset count item, and the write that changes it by `delta`.
pub(crate) async fn dataset_count_write(
    svc: &Service,
    pool: &str,
    identity: &str,
    delta: i64,
) -> Result<(u64, Write)> {
    let pk = keys::sync::identities(pool);
    let (count, version) = match svc.get_json::<Value>(&pk, identity).await? {
        Some((b, v)) => (b.get("datasets").and_then(Value::as_u64).unwrap_or(0), Some(v)),
        None => (0, None),
    };
    let new = count.saturating_add_signed(delta);
    let item = Item::new(pk, identity, json!({ "datasets": new }));
    Ok((count, Write::put_versioned(item, version)))
}
