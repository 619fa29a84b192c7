//! Cognito Sync's data half (spec D §2): ListDatasets, DescribeDataset, DeleteDataset,
//! ListRecords, UpdateRecords, DescribeIdentityUsage, DescribeIdentityPoolUsage and
//! ListIdentityPoolUsage; and the clean-up the identity-pool operations call
//! ([`delete_identity_data`], [`delete_pool_data`], [`move_datasets_on_merge`]).
//!
//! Layout:
//! - `SYNCDS#{pool}#{identity}` / dataset name: the dataset's head ([`DatasetHead`]): its
//!   committed sync count, the count it was last deleted at (`floor`), whether it exists, its
//!   statistics, and the claim of an update too large for one transaction while it is written.
//! - `SYNCREC#{pool}#{identity}#{dataset}` / `{kid}|{count:016x}`: one immutable version of a
//!   record, written at the sync count of the update that wrote it; values too large for one
//!   item continue in part items `…|{count:016x}|{part:04}`. `kid` is `K{key}` for short keys
//!   without `|`, else `H{sha256(key)}` (a sort key holds at most 1024 bytes).
//! - `SYNCIDS#{pool}` / identity id: how many datasets the identity has (the 20-dataset limit,
//!   written in the same transaction as every dataset creation and deletion); also the index
//!   of identities holding Sync data.
//! - `SYNCUSAGE#{pool}` / shard: the pool's usage counters (sync sessions, data storage), in
//!   [`USAGE_SHARDS`] items so that concurrent writers rarely meet on one.
//!
//! Visibility: a version is visible when `floor < count <= sync_count`; a key's state is its
//! highest visible version (a tombstone when it was removed). A commit writes the new versions
//! and then advances `sync_count` with a version condition on the head, so readers never see
//! half an update. Up to [`MAX_TRANSACTION_WRITES`] writes this is one transaction. Beyond, the
//! writer first claims the head, writes the versions in chunks that each bump the head's version
//! (so no chunk lands once another writer has taken the head over), then commits, then deletes
//! the versions it superseded. Versions above the committed count are a failed writer's orphans:
//! invisible, and deleted (or overwritten) by the next commit.

use crate::error::{Error, Result};
use crate::model::{keys, IdentityPoolSyncConfig};
use crate::ops::sync_access::{authorize, SyncAccess};
use crate::ops::sync_trigger::{self, EventRecord, EventScope, MAX_KEY_CHARS, MAX_VALUE_CHARS};
use crate::service::{CallContext, Caller, Input, Service};
use crate::store::{Cond, Item, StoreError, Write, MAX_TRANSACTION_WRITES};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

/// Items of the pool-usage counters.
pub const USAGE_SHARDS: u8 = 8;
/// How long a SyncSessionToken is accepted: a client may sit in a conflict dialog between
/// ListRecords and UpdateRecords (spec D §2.6 recommends 60 minutes).
pub const SESSION_SECS: i64 = 3600;
/// How long a large update may hold its dataset before another writer may take over.
const CLAIM_SECS: i64 = 30;
/// How long UpdateRecords keeps retrying a commit it lost to a concurrent writer of other keys
/// (a stale record is a conflict at once), from the start of the call. Inside the function's
/// 29-second timeout and API Gateway's 30 seconds, with room left for a SyncTrigger.
const RACE_BUDGET: Duration = Duration::from_secs(10);
/// Backoff after a lost commit: a random pause below `RACE_PAUSE_FIRST · 2^lost`, at most
/// `RACE_PAUSE_CAP` ("full jitter", so racing writers spread out instead of meeting again).
const RACE_PAUSE_FIRST: Duration = Duration::from_millis(10);
const RACE_PAUSE_CAP: Duration = Duration::from_secs(1);
/// Rounds of an identity's data clean-up lost to writers before it gives up.
const CLEANUP_ROUNDS: usize = 5;
/// Pauses while another request holds the dataset, before giving up.
const CLAIM_WAITS: usize = 100;
const CLAIM_PAUSE: Duration = Duration::from_millis(100);
/// Items per store query when a whole dataset is read.
const PAGE: usize = 1000;
/// Escaped JSON bytes of value text per item (DynamoDB items hold 400 KB).
const PART_BYTES: usize = 256 * 1024;
/// Bytes of items one transaction carries at most (DynamoDB takes 4 MB; room for overhead).
const TRANSACTION_BYTES: usize = 3 * 1024 * 1024;
/// Keys up to this many bytes appear in the sort key as they are.
const PLAIN_KEY_BYTES: usize = 512;
/// ListRecords pages hold at most this many records (the SDKs ask for 1024).
const MAX_RECORDS_PAGE: usize = 1024;
/// ListDatasets pages (the SDKs ask for 64).
const MAX_DATASETS_PAGE: usize = 64;
/// ListIdentityPoolUsage pages.
const MAX_POOLS_PAGE: usize = 60;
/// Longest dataset name.
const MAX_DATASET_NAME: usize = 128;

mod skeys {
    pub fn datasets(pool: &str, identity: &str) -> String {
        format!("SYNCDS#{pool}#{identity}")
    }
    pub fn records(pool: &str, identity: &str, dataset: &str) -> String {
        format!("SYNCREC#{pool}#{identity}#{dataset}")
    }
    pub fn identities(pool: &str) -> String {
        format!("SYNCIDS#{pool}")
    }
    pub fn usage(pool: &str) -> String {
        format!("SYNCUSAGE#{pool}")
    }
}

/// A dataset's head item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct DatasetHead {
    name: String,
    /// The committed sync count: versions above it are not visible (yet).
    sync_count: u64,
    /// Versions at or below this count belong to a deleted incarnation of the dataset.
    #[serde(default)]
    floor: u64,
    /// Created and not deleted.
    live: bool,
    /// Epoch milliseconds.
    created: i64,
    last_modified: i64,
    #[serde(default)]
    last_modified_by: String,
    data_storage: u64,
    num_records: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    claim: Option<Claim>,
}

/// A large update being written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Claim {
    id: String,
    /// Epoch seconds after which another writer may take the dataset over.
    expires_at: i64,
}

impl DatasetHead {
    fn empty(name: &str) -> Self {
        DatasetHead {
            name: name.to_string(),
            sync_count: 0,
            floor: 0,
            live: false,
            created: 0,
            last_modified: 0,
            last_modified_by: String::new(),
            data_storage: 0,
            num_records: 0,
            claim: None,
        }
    }

    fn claimed(&self, now_secs: i64) -> bool {
        self.claim.as_ref().is_some_and(|c| c.expires_at > now_secs)
    }

    /// `Dataset` of the API.
    fn to_api(&self, identity: &str) -> Value {
        json!({
            "IdentityId": identity,
            "DatasetName": self.name,
            "CreationDate": secs(self.created),
            "LastModifiedDate": secs(self.last_modified),
            "LastModifiedBy": self.last_modified_by,
            "DataStorage": self.data_storage,
            "NumRecords": self.num_records,
        })
    }
}

/// The head item of one record version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct VersionHead {
    k: String,
    c: u64,
    /// The value when it fits here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    v: Option<String>,
    /// Part items holding the value, when it does not.
    #[serde(default, skip_serializing_if = "is_zero")]
    parts: u32,
    /// A removed record.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    del: bool,
    /// Epoch milliseconds.
    lm: i64,
    lmb: String,
    dlm: i64,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// A part of a large value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct VersionPart {
    k: String,
    c: u64,
    p: u32,
    d: String,
}

/// The items of one record version found in the store.
#[derive(Debug, Default)]
struct Version {
    head: Option<VersionHead>,
    parts: BTreeMap<u32, String>,
    sks: Vec<String>,
}

impl Version {
    fn value(&self) -> Result<Option<String>> {
        let Some(head) = &self.head else { return Err(Error::internal("a record version has no head")) };
        if head.del {
            return Ok(None);
        }
        if head.parts == 0 {
            return Ok(Some(head.v.clone().unwrap_or_default()));
        }
        let mut out = String::new();
        for p in 0..head.parts {
            out.push_str(self.parts.get(&p).ok_or_else(|| Error::internal("a record version lacks a part"))?);
        }
        Ok(Some(out))
    }
}

/// Every version of every key of a dataset, by key and count.
type Versions = BTreeMap<String, BTreeMap<u64, Version>>;

/// A record as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordState {
    pub key: String,
    /// `None` for a removed record (a tombstone).
    pub value: Option<String>,
    pub sync_count: u64,
    /// Epoch milliseconds.
    pub last_modified: i64,
    pub last_modified_by: String,
    pub device_last_modified: i64,
}

impl RecordState {
    fn to_api(&self) -> Value {
        let mut out = json!({
            "Key": self.key,
            "SyncCount": self.sync_count,
            "LastModifiedDate": secs(self.last_modified),
            "LastModifiedBy": self.last_modified_by,
            "DeviceLastModifiedDate": secs(self.device_last_modified),
        });
        if let Some(v) = &self.value {
            out["Value"] = json!(v);
        }
        out
    }
}

fn secs(ms: i64) -> f64 {
    ms as f64 / 1000.0
}

/// UTF-8 bytes a live record counts toward the dataset's size (the SDKs' `computeRecordSize`).
pub fn record_size(key: &str, value: &str) -> u64 {
    (key.len() + value.len()) as u64
}

// ---------------------------------------------------------------------------------------------
// Names, access, tokens

fn dataset_name(input: &Value) -> Result<&str> {
    let name = input.req_str("DatasetName")?;
    check_dataset_name(name)?;
    Ok(name)
}

/// 1–128 characters of `a-z A-Z 0-9 _ . : -` (`:` for merged names holding an identity id).
pub fn check_dataset_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= MAX_DATASET_NAME
        && name.chars().all(|c| c.is_ascii_alphanumeric() || "_.:-".contains(c));
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "Invalid dataset name {name:?}: a dataset name is 1 to {MAX_DATASET_NAME} characters of a-z, A-Z, 0-9, '_', '.', ':' and '-'."
        )))
    }
}

/// `[\w-]+:[0-9a-f-]+`, 1–55 characters (identity and identity pool ids).
fn is_identity_id(s: &str) -> bool {
    match s.split_once(':') {
        Some((region, rest)) => {
            s.len() <= 55
                && !region.is_empty()
                && region.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
                && !rest.is_empty()
                && rest.chars().all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c) || c == '-')
        }
        None => false,
    }
}

fn id_input<'a>(input: &'a Value, member: &str) -> Result<&'a str> {
    let id = input.req_str(member)?;
    if is_identity_id(id) {
        Ok(id)
    } else {
        Err(Error::invalid(format!("Invalid {member}: {id:?}.")))
    }
}

/// The identity pool, and the identity, must exist.
async fn require_identity(svc: &Service, pool: &str, identity: Option<&str>) -> Result<()> {
    let now = svc.now_secs();
    let pool_key = keys::identity_pool(pool);
    let pool_item = svc.store.get(&pool_key, keys::IDENTITY_POOL_SK, now);
    let found = match identity {
        Some(id) => {
            let id_key = keys::identity(pool, id);
            let (p, i) = tokio::join!(pool_item, svc.store.get(&id_key, keys::IDENTITY_SK, now));
            (p?.is_some(), i?.is_some())
        }
        None => (pool_item.await?.is_some(), true),
    };
    match found {
        (false, _) => Err(Error::ResourceNotFoundException(format!("Identity pool {pool} does not exist."))),
        (true, false) => Err(Error::ResourceNotFoundException(format!(
            "Identity {} does not exist.",
            identity.unwrap_or_default()
        ))),
        (true, true) => Ok(()),
    }
}

/// Checks the caller, then that the pool and identity exist.
async fn access(svc: &Service, ctx: &CallContext, input: &Value) -> Result<(String, String)> {
    let pool = id_input(input, "IdentityPoolId")?;
    let identity = id_input(input, "IdentityId")?;
    authorize(ctx, SyncAccess::IdentityOrAdmin, pool, Some(identity))?;
    require_identity(svc, pool, Some(identity)).await?;
    Ok((pool.to_string(), identity.to_string()))
}

/// Who a change is attributed to: the identity itself, or the account for developer calls.
fn modifier(svc: &Service, ctx: &CallContext) -> String {
    match &ctx.caller {
        Caller::Identity { identity_id, .. } => identity_id.clone(),
        _ => svc.config.account_id.clone(),
    }
}

/// What a sealed token holds: its purpose, what it is bound to, and its content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Sealed {
    /// "session" or "records-page".
    t: String,
    p: String,
    i: String,
    d: String,
    /// The sync session's id.
    s: String,
    /// Epoch seconds (sessions).
    #[serde(default)]
    e: i64,
    /// ListRecords paging: the lastSyncCount asked for, and the last record returned.
    #[serde(default)]
    l: i64,
    #[serde(default)]
    c: u64,
    #[serde(default)]
    k: String,
}

fn seal(svc: &Service, token: &Sealed) -> Result<String> {
    let bytes = serde_json::to_vec(token).map_err(Error::internal)?;
    Ok(URL_SAFE_NO_PAD.encode(svc.cipher.seal(crate::ports::sealed::SYNC_TOKEN, &bytes)?))
}

/// The token's content when it is one of ours, of this purpose, for this dataset.
fn unseal(
    svc: &Service,
    token: &str,
    purpose: &str,
    pool: &str,
    identity: &str,
    dataset: &str,
) -> Option<Sealed> {
    let sealed = URL_SAFE_NO_PAD.decode(token).ok()?;
    // The caller's input: one that does not open is a bad token (answered as such by the
    // operation), not a server fault, so it is neither an error in the log nor logged itself.
    let Some(opened) = svc.cipher.open_untrusted(crate::ports::sealed::SYNC_TOKEN, &sealed) else {
        tracing::debug!(purpose, "a client's sealed token did not open");
        return None;
    };
    let t: Sealed = serde_json::from_slice(&opened).ok()?;
    (t.t == purpose && t.p == pool && t.i == identity && t.d == dataset).then_some(t)
}

/// A session token, valid [`SESSION_SECS`].
fn session_token(svc: &Service, pool: &str, identity: &str, dataset: &str, session: &str) -> Result<String> {
    seal(
        svc,
        &Sealed {
            t: "session".into(),
            p: pool.into(),
            i: identity.into(),
            d: dataset.into(),
            s: session.into(),
            e: svc.now_secs() + SESSION_SECS,
            l: 0,
            c: 0,
            k: String::new(),
        },
    )
}

/// The session of a token issued by ListRecords for this dataset that has not expired.
fn open_session(svc: &Service, token: &str, pool: &str, identity: &str, dataset: &str) -> Option<String> {
    unseal(svc, token, "session", pool, identity, dataset).filter(|t| t.e > svc.now_secs()).map(|t| t.s)
}

// ---------------------------------------------------------------------------------------------
// Reading

async fn read_head(
    svc: &Service,
    pool: &str,
    identity: &str,
    name: &str,
) -> Result<Option<(DatasetHead, u64)>> {
    svc.get_json::<DatasetHead>(&skeys::datasets(pool, identity), name).await
}

/// Every item of a partition.
async fn read_partition(svc: &Service, pk: &str) -> Result<Vec<Item>> {
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

fn group_versions(items: Vec<Item>) -> Result<Versions> {
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
fn visible_version(
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
struct Snapshot {
    head: Option<(DatasetHead, u64)>,
    versions: Versions,
}

impl Snapshot {
    fn head(&self) -> Option<&DatasetHead> {
        self.head.as_ref().map(|(h, _)| h)
    }

    fn range(&self) -> (u64, u64) {
        self.head().map(|h| (h.floor, h.sync_count)).unwrap_or((0, 0))
    }

    /// The state of every key that has one (tombstones included).
    fn visible(&self) -> Result<BTreeMap<String, RecordState>> {
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
async fn snapshot(svc: &Service, pool: &str, identity: &str, name: &str) -> Result<Snapshot> {
    snapshot_within(svc, pool, identity, name, &mut Backoff::new()).await
}

/// [`snapshot`], retrying within the caller's backoff budget.
async fn snapshot_within(
    svc: &Service,
    pool: &str,
    identity: &str,
    name: &str,
    backoff: &mut Backoff,
) -> Result<Snapshot> {
    let pk = skeys::records(pool, identity, name);
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
/// `name` when identities merged (spec D §2.12).
async fn merged_names(svc: &Service, pool: &str, identity: &str, name: &str) -> Result<Vec<String>> {
    let prefix = format!("{name}.");
    let mut out = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = svc
            .store
            .query(&skeys::datasets(pool, identity), &prefix, after.as_deref(), PAGE, svc.now_secs())
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

// ---------------------------------------------------------------------------------------------
// Usage counters

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
    let pk = skeys::usage(pool);
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
enum Committed {
    Done,
    /// Another request changed one of the conditioned items first.
    Raced,
}

/// Runs `writes` plus a usage-shard change in one transaction; a shard another request just
/// changed is re-read (another one) and the transaction tried again.
async fn transact_with_usage(
    svc: &Service,
    pool: &str,
    writes: Vec<Write>,
    sessions: u64,
    storage: i64,
) -> Result<Committed> {
    for _ in 0..usize::from(USAGE_SHARDS) * 2 {
        let mut all = writes.clone();
        all.push(usage_write(svc, pool, sessions, storage).await?);
        let shard = all.len() - 1;
        match svc.store.transact(all, svc.now_secs()).await {
            Ok(()) => return Ok(Committed::Done),
            Err(StoreError::ConditionFailed { index }) if index == shard => continue,
            Err(StoreError::ConditionFailed { .. }) => return Ok(Committed::Raced),
            Err(e) => return Err(e.into()),
        }
    }
    Err(Error::TooManyRequestsException(
        "Too many concurrent Sync updates in this identity pool. Try again.".into(),
    ))
}

/// Counts a new sync session.
async fn count_session(svc: &Service, pool: &str) -> Result<()> {
    match transact_with_usage(svc, pool, Vec::new(), 1, 0).await? {
        Committed::Done => Ok(()),
        Committed::Raced => Err(Error::internal("a usage shard write without other writes raced")),
    }
}

async fn pool_usage(svc: &Service, pool: &str) -> Result<Value> {
    let mut total = UsageShard::default();
    for item in read_partition(svc, &skeys::usage(pool)).await? {
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
async fn dataset_count_write(svc: &Service, pool: &str, identity: &str, delta: i64) -> Result<(u64, Write)> {
    let pk = skeys::identities(pool);
    let (count, version) = match svc.get_json::<Value>(&pk, identity).await? {
        Some((b, v)) => (b.get("datasets").and_then(Value::as_u64).unwrap_or(0), Some(v)),
        None => (0, None),
    };
    let new = count.saturating_add_signed(delta);
    let item = Item::new(pk, identity, json!({ "datasets": new }));
    Ok((count, Write::put_versioned(item, version)))
}

fn head_write(head: &DatasetHead, identity: &str, pool: &str, version: Option<u64>) -> Result<Write> {
    let item = Item::new(
        skeys::datasets(pool, identity),
        head.name.clone(),
        serde_json::to_value(head).map_err(Error::internal)?,
    );
    Ok(Write::put_versioned(item, version))
}

// ---------------------------------------------------------------------------------------------
// Patches

/// One RecordPatch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Patch {
    pub key: String,
    /// `Some` for replace, `None` for remove.
    pub value: Option<String>,
    pub sync_count: i64,
    /// Epoch milliseconds, when the client sent it.
    pub device_last_modified: Option<i64>,
}

/// Reads and checks `RecordPatches` (absent = none).
pub fn parse_patches(input: &Value) -> Result<Vec<Patch>> {
    let list = match input.get("RecordPatches") {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(list)) => list,
        Some(_) => return Err(Error::invalid("RecordPatches must be a list.")),
    };
    let mut seen = BTreeSet::new();
    let mut out = Vec::with_capacity(list.len());
    for p in list {
        let key = p.str_of("Key").ok_or_else(|| Error::invalid("Every record patch needs a Key."))?;
        let n = key.chars().count();
        if n == 0 || n > MAX_KEY_CHARS {
            return Err(Error::invalid(format!(
                "A record key must be 1 to {MAX_KEY_CHARS} characters long."
            )));
        }
        if !seen.insert(key) {
            return Err(Error::invalid(format!("The key {key} appears in more than one record patch.")));
        }
        let sync_count = p
            .i64_of("SyncCount")
            .filter(|c| *c >= 0)
            .ok_or_else(|| Error::invalid(format!("The patch of {key} needs a SyncCount of 0 or more.")))?;
        let value = match p.str_of("Op") {
            Some("replace") => {
                let v = p
                    .str_of("Value")
                    .ok_or_else(|| Error::invalid(format!("The replace patch of {key} has no Value.")))?;
                if v.chars().count() > MAX_VALUE_CHARS {
                    return Err(Error::invalid(format!(
                        "The value of {key} is longer than {MAX_VALUE_CHARS} characters."
                    )));
                }
                Some(v.to_string())
            }
            Some("remove") => None,
            _ => {
                return Err(Error::invalid(format!(
                    "The Op of the patch of {key} must be replace or remove."
                )))
            }
        };
        let device_last_modified = match p.get("DeviceLastModifiedDate") {
            None | Some(Value::Null) => None,
            Some(v) => Some(
                v.as_f64()
                    .filter(|s| s.is_finite())
                    .map(|s| (s * 1000.0).round() as i64)
                    .ok_or_else(|| Error::invalid("DeviceLastModifiedDate must be a timestamp."))?,
            ),
        };
        out.push(Patch { key: key.to_string(), value, sync_count, device_last_modified });
    }
    Ok(out)
}

/// The optimistic-concurrency check (spec D §2.7 step 4): every patch carries the stored
/// record's sync count (0 for a key never seen; a tombstone accepts its count or 0).
pub fn check_patches(patches: &[Patch], current: &BTreeMap<String, RecordState>) -> Result<()> {
    for p in patches {
        let stored = current.get(&p.key);
        let expected = stored.map(|r| r.sync_count).unwrap_or(0);
        let tombstone = stored.is_some_and(|r| r.value.is_none());
        let ok = u64::try_from(p.sync_count).is_ok_and(|c| c == expected) || (tombstone && p.sync_count == 0);
        if !ok {
            return Err(Error::ResourceConflictException(format!(
                "Current SyncCount for: {} is: {} not: {}",
                p.key, expected, p.sync_count
            )));
        }
    }
    Ok(())
}

/// What one update writes: key → (final value or `None` for a tombstone, device date), and
/// the patched keys the trigger left out (their change is ignored).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resolution {
    pub writes: BTreeMap<String, (Option<String>, Option<i64>)>,
    pub ignored: Vec<String>,
}

/// The event's records: every live record (unchanged ones as replace with equal values) and
/// every patched key.
pub fn event_records(
    patches: &[Patch],
    current: &BTreeMap<String, RecordState>,
) -> BTreeMap<String, EventRecord> {
    let mut out: BTreeMap<String, EventRecord> = current
        .values()
        .filter_map(|r| {
            let v = r.value.clone()?;
            Some((
                r.key.clone(),
                EventRecord { old_value: Some(v.clone()), new_value: Some(v), remove: false },
            ))
        })
        .collect();
    for p in patches {
        let old = current.get(&p.key).and_then(|r| r.value.clone());
        out.insert(
            p.key.clone(),
            EventRecord { old_value: old, new_value: p.value.clone(), remove: p.value.is_none() },
        );
    }
    out
}

/// What to write (spec D §3.5): without a trigger, every patch. With one, each patched key the
/// function returned, with its decision; each other key whose decision differs from what is
/// stored (added, changed or removed by the function); patched keys it left out are ignored.
pub fn resolve(
    patches: &[Patch],
    current: &BTreeMap<String, RecordState>,
    decisions: Option<&sync_trigger::Decisions>,
) -> Resolution {
    let mut out = Resolution::default();
    let Some(decisions) = decisions else {
        for p in patches {
            out.writes.insert(p.key.clone(), (p.value.clone(), p.device_last_modified));
        }
        return out;
    };
    let patched: BTreeMap<&str, &Patch> = patches.iter().map(|p| (p.key.as_str(), p)).collect();
    for (key, decision) in decisions {
        match patched.get(key.as_str()) {
            Some(p) => {
                out.writes.insert(key.clone(), (decision.clone(), p.device_last_modified));
            }
            None => {
                let stored = current.get(key).and_then(|r| r.value.as_ref());
                if stored != decision.as_ref() {
                    out.writes.insert(key.clone(), (decision.clone(), None));
                }
            }
        }
    }
    out.ignored = patches.iter().filter(|p| !decisions.contains_key(&p.key)).map(|p| p.key.clone()).collect();
    out
}

/// Live records and their total size once `writes` apply.
pub fn final_size(
    current: &BTreeMap<String, RecordState>,
    writes: &BTreeMap<String, (Option<String>, Option<i64>)>,
) -> (u64, u64) {
    let mut count = 0;
    let mut bytes = 0;
    for r in current.values() {
        if writes.contains_key(&r.key) {
            continue;
        }
        if let Some(v) = &r.value {
            count += 1;
            bytes += record_size(&r.key, v);
        }
    }
    for (key, (value, _)) in writes {
        if let Some(v) = value {
            count += 1;
            bytes += record_size(key, v);
        }
    }
    (count, bytes)
}

/// The record and size limits (spec D §2.3, §5.4), refusing only growth past them (a dataset
/// over a lowered limit can still shrink).
fn check_limits(svc: &Service, name: &str, before: (u64, u64), after: (u64, u64)) -> Result<()> {
    let limits = &svc.config.limits;
    if after.0 > limits.sync_records_per_dataset && after.0 > before.0 {
        return Err(Error::LimitExceededException(format!(
            "The dataset {name} would hold {} records; a dataset holds at most {}.",
            after.0, limits.sync_records_per_dataset
        )));
    }
    if after.1 > limits.sync_dataset_bytes && after.1 > before.1 {
        return Err(Error::LimitExceededException(format!(
            "The dataset {name} would hold {} bytes of keys and values; a dataset holds at most {}.",
            after.1, limits.sync_dataset_bytes
        )));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Writing

/// The sort-key stem of a key's versions.
fn kid(key: &str) -> String {
    if key.len() <= PLAIN_KEY_BYTES && !key.contains('|') {
        format!("K{key}")
    } else {
        format!("H{}", hex::encode(Sha256::digest(key.as_bytes())))
    }
}

fn version_sk(key: &str, count: u64) -> String {
    format!("{}|{count:016x}", kid(key))
}

/// Bytes a character takes in a JSON string.
fn escaped_len(c: char) -> usize {
    match c {
        '"' | '\\' | '\n' | '\r' | '\t' | '\u{8}' | '\u{c}' => 2,
        c if (c as u32) < 0x20 => 6,
        c => c.len_utf8(),
    }
}

/// A value cut into pieces of at most [`PART_BYTES`] escaped bytes (one piece if it fits).
fn split_value(value: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut size = 0;
    for (i, c) in value.char_indices() {
        let n = escaped_len(c);
        if size + n > PART_BYTES {
            out.push(&value[start..i]);
            start = i;
            size = 0;
        }
        size += n;
    }
    out.push(&value[start..]);
    out
}

/// The items of one new version.
fn version_items(pk: &str, state: &RecordState) -> Result<Vec<Item>> {
    let sk = version_sk(&state.key, state.sync_count);
    let mut head = VersionHead {
        k: state.key.clone(),
        c: state.sync_count,
        v: None,
        parts: 0,
        del: state.value.is_none(),
        lm: state.last_modified,
        lmb: state.last_modified_by.clone(),
        dlm: state.device_last_modified,
    };
    let mut items = Vec::new();
    if let Some(value) = &state.value {
        let pieces = split_value(value);
        if pieces.len() == 1 {
            head.v = Some(value.clone());
        } else {
            head.parts = u32::try_from(pieces.len()).map_err(Error::internal)?;
            for (i, piece) in pieces.into_iter().enumerate() {
                let part = VersionPart {
                    k: state.key.clone(),
                    c: state.sync_count,
                    p: u32::try_from(i).map_err(Error::internal)?,
                    d: piece.to_string(),
                };
                items.push(Item::new(
                    pk,
                    format!("{sk}|{i:04}"),
                    serde_json::to_value(&part).map_err(Error::internal)?,
                ));
            }
        }
    }
    items.insert(0, Item::new(pk, sk, serde_json::to_value(&head).map_err(Error::internal)?));
    Ok(items)
}

/// One update's writes, before they are cut into transactions.
struct Plan {
    /// The head as read, and its version (`None`: the dataset has no head yet).
    old_head: Option<(DatasetHead, u64)>,
    /// The head once committed.
    head: DatasetHead,
    records_pk: String,
    /// New versions.
    puts: Vec<Item>,
    /// Items no reader sees: orphans above the committed count (not overwritten by `puts`),
    /// versions of a deleted incarnation, superseded versions a clean-up left behind.
    dead: Vec<String>,
    /// The versions this commit supersedes: deleted once it is committed.
    superseded: Vec<String>,
    /// The identity's dataset count write, when the update creates the dataset.
    dataset_count: Option<Write>,
    storage_delta: i64,
}

/// The items a commit leaves to delete, and those it may delete at once (see [`Plan`]).
fn classify(snap: &Snapshot, written: &BTreeSet<&str>, puts: &[Item]) -> (Vec<String>, Vec<String>) {
    let (floor, committed) = snap.range();
    let put_sks: BTreeSet<&str> = puts.iter().map(|i| i.sk.as_str()).collect();
    let mut dead = Vec::new();
    let mut superseded = Vec::new();
    for (key, versions) in &snap.versions {
        let visible = visible_version(versions, floor, committed).map(|(c, _)| *c);
        for (count, v) in versions {
            let sks = v.sks.iter().filter(|sk| !put_sks.contains(sk.as_str())).cloned();
            if *count > committed || *count <= floor || visible.is_some_and(|vc| *count < vc) {
                dead.extend(sks);
            } else if Some(*count) == visible && written.contains(key.as_str()) {
                superseded.extend(sks);
            }
        }
    }
    (dead, superseded)
}

/// How a commit attempt ended.
enum Outcome {
    Done,
    /// Another request got there first: read again.
    Raced,
}

/// Commits a plan: one transaction when it fits, else claim, chunks, commit, clean-up.
async fn commit(svc: &Service, pool: &str, identity: &str, plan: Plan) -> Result<Outcome> {
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
fn chunks(writes: Vec<Write>, max: usize) -> Vec<Vec<Write>> {
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
async fn purge(svc: &Service, pk: &str, sks: &[String]) {
    for chunk in sks.chunks(MAX_TRANSACTION_WRITES) {
        let writes = chunk.iter().map(|sk| Write::delete(pk, sk.clone(), Cond::None)).collect();
        if let Err(e) = svc.store.transact(writes, svc.now_secs()).await {
            tracing::warn!(error = %e, "could not delete superseded record versions");
            return;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Operations

/// `ListDatasets`.
pub async fn list_datasets(svc: &Service, ctx: &CallContext, input: &Value) -> Result<Value> {
    let (pool, identity) = access(svc, ctx, input).await?;
    let limit = page_size(input, MAX_DATASETS_PAGE);
    let mut after = match input.str_of("NextToken") {
        Some(t) => Some(crate::service::decode_next_token(t)?),
        None => None,
    };
    let pk = skeys::datasets(&pool, &identity);
    let mut out = Vec::new();
    let mut next = None;
    'pages: loop {
        let page = svc.store.query(&pk, "", after.as_deref(), PAGE, svc.now_secs()).await?;
        for item in &page.items {
            let head: DatasetHead = serde_json::from_value(item.body.clone()).map_err(Error::internal)?;
            if !head.live {
                continue;
            }
            if out.len() == limit {
                next = after.clone();
                break 'pages;
            }
            out.push(head.to_api(&identity));
            after = Some(item.sk.clone());
        }
        match page.next {
            Some(n) => after = Some(n),
            None => break,
        }
    }
    let mut resp = json!({ "Count": out.len(), "Datasets": out });
    if let Some(n) = next {
        resp["NextToken"] = json!(crate::service::encode_next_token(&n));
    }
    Ok(resp)
}

/// `MaxResults`: 1–`max`, `max` when absent or not positive.
fn page_size(input: &Value, max: usize) -> usize {
    match input.i64_of("MaxResults") {
        Some(n) if n > 0 => usize::try_from(n).unwrap_or(max).min(max),
        _ => max,
    }
}

async fn live_head(svc: &Service, pool: &str, identity: &str, name: &str) -> Result<(DatasetHead, u64)> {
    match read_head(svc, pool, identity, name).await? {
        Some((h, v)) if h.live => Ok((h, v)),
        _ => Err(dataset_not_found(name)),
    }
}

/// Fails with ResourceNotFoundException unless the dataset exists (has been synchronized
/// and not deleted since).
pub async fn require_dataset(svc: &Service, pool: &str, identity: &str, name: &str) -> Result<()> {
    live_head(svc, pool, identity, name).await.map(|_| ())
}

fn dataset_not_found(name: &str) -> Error {
    Error::ResourceNotFoundException(format!("Dataset {name} does not exist."))
}

/// Retries of work a concurrent writer got in before: exponential backoff with full jitter,
/// until [`RACE_BUDGET`] from the start of the request has gone.
struct Backoff {
    deadline: Instant,
    lost: u32,
}

impl Backoff {
    fn new() -> Self {
        Backoff { deadline: Instant::now() + RACE_BUDGET, lost: 0 }
    }

    /// Waits before the next try; `false` (at once) when the pause would end past the budget.
    async fn pause(&mut self, svc: &Service) -> bool {
        let pause = full_jitter(svc, self.lost);
        self.lost = self.lost.saturating_add(1);
        if Instant::now() + pause >= self.deadline {
            return false;
        }
        tokio::time::sleep(pause).await;
        true
    }
}

/// The pause after the `lost`-th lost race (from 0): uniform in [0, min(cap, first · 2^lost)].
fn full_jitter(svc: &Service, lost: u32) -> Duration {
    let ceiling = RACE_PAUSE_FIRST.saturating_mul(1u32 << lost.min(16)).min(RACE_PAUSE_CAP);
    let mut b = [0u8; 8];
    svc.rng.fill(&mut b);
    let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
    Duration::from_nanos(u64::from_le_bytes(b) % nanos.saturating_add(1))
}

fn busy() -> Error {
    Error::ResourceConflictException("The dataset is being updated by another request. Try again.".into())
}

/// `DescribeDataset`.
pub async fn describe_dataset(svc: &Service, ctx: &CallContext, input: &Value) -> Result<Value> {
    let (pool, identity) = access(svc, ctx, input).await?;
    let name = dataset_name(input)?;
    let (head, _) = live_head(svc, &pool, &identity, name).await?;
    Ok(json!({ "Dataset": head.to_api(&identity) }))
}

/// `DeleteDataset`: the dataset stops existing; its head stays as a marker of the count it was
/// deleted at (spec D §2.8) and its records are purged.
pub async fn delete_dataset(svc: &Service, ctx: &CallContext, input: &Value) -> Result<Value> {
    let (pool, identity) = access(svc, ctx, input).await?;
    let name = dataset_name(input)?;
    let before =
        mark_deleted(svc, &pool, &identity, name, true).await?.ok_or_else(|| dataset_not_found(name))?;
    Ok(json!({ "Dataset": before.to_api(&identity) }))
}

/// Marks a dataset deleted at its current count and purges its records; answers the head as
/// it was, or `None` when there was no live dataset. Waits out a claim held by another
/// request (`wait`), or takes no notice of it (identity clean-up).
async fn mark_deleted(
    svc: &Service,
    pool: &str,
    identity: &str,
    name: &str,
    wait: bool,
) -> Result<Option<DatasetHead>> {
    let mut waits = 0;
    let mut backoff = Backoff::new();
    loop {
        let snap = snapshot_within(svc, pool, identity, name, &mut backoff).await?;
        let Some((head, version)) = snap.head.clone() else { return Ok(None) };
        if !head.live {
            return Ok(None);
        }
        if wait && head.claimed(svc.now_secs()) {
            waits += 1;
            if waits > CLAIM_WAITS {
                return Err(busy());
            }
            tokio::time::sleep(CLAIM_PAUSE).await;
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
        let pk = skeys::records(pool, identity, name);
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

/// `ListRecords`: the records changed after `LastSyncCount`, and a session token for
/// UpdateRecords. A dataset that does not exist is listed as empty (that is how its first
/// write starts).
pub async fn list_records(svc: &Service, ctx: &CallContext, input: &Value) -> Result<Value> {
    let (pool, identity) = access(svc, ctx, input).await?;
    let name = dataset_name(input)?;
    let last = input.i64_of("LastSyncCount").unwrap_or(0);
    if last < 0 {
        return Err(Error::invalid("LastSyncCount must be 0 or more."));
    }
    let limit = page_size(input, MAX_RECORDS_PAGE);
    let page_token = match input.str_of("NextToken") {
        Some(t) => Some(
            unseal(svc, t, "records-page", &pool, &identity, name)
                .filter(|p| p.l == last)
                .ok_or_else(|| Error::invalid("Invalid NextToken."))?,
        ),
        None => None,
    };
    let given = input.str_of("SyncSessionToken").and_then(|t| open_session(svc, t, &pool, &identity, name));
    let session = match given.or_else(|| page_token.as_ref().map(|p| p.s.clone())) {
        Some(s) => s,
        None => {
            count_session(svc, &pool).await?;
            svc.rng.uuid().to_string()
        }
    };
    let snap = snapshot(svc, &pool, &identity, name).await?;
    let mut records: Vec<RecordState> = snap
        .visible()?
        .into_values()
        .filter(|r| i64::try_from(r.sync_count).is_ok_and(|c| c > last))
        .collect();
    records.sort_by(|a, b| (a.sync_count, &a.key).cmp(&(b.sync_count, &b.key)));
    if let Some(p) = &page_token {
        records.retain(|r| (r.sync_count, &r.key) > (p.c, &p.k));
    }
    let more = records.len() > limit;
    records.truncate(limit);
    let head = snap.head();
    let exists = head.is_some_and(|h| h.live);
    let floor = head.map(|h| h.floor).unwrap_or(0);
    let mut out = json!({
        "Records": records.iter().map(RecordState::to_api).collect::<Vec<_>>(),
        "Count": records.len(),
        // 0 while the dataset does not exist, deleted or not: a client that took the deleted
        // count as its own would be told of the deletion again on every sync.
        "DatasetSyncCount": head.filter(|h| h.live).map(|h| h.sync_count).unwrap_or(0),
        "MergedDatasetNames": merged_names(svc, &pool, &identity, name).await?,
        "DatasetExists": exists,
        "DatasetDeletedAfterRequestedSyncCount": last > 0 && u64::try_from(last).is_ok_and(|l| l <= floor),
        "SyncSessionToken": session_token(svc, &pool, &identity, name, &session)?,
    });
    if let Some(h) = head.filter(|h| !h.last_modified_by.is_empty()) {
        out["LastModifiedBy"] = json!(h.last_modified_by);
    }
    if let (true, Some(r)) = (more, records.last()) {
        let token = Sealed {
            t: "records-page".into(),
            p: pool.clone(),
            i: identity.clone(),
            d: name.to_string(),
            s: session,
            e: 0,
            l: last,
            c: r.sync_count,
            k: r.key.clone(),
        };
        out["NextToken"] = json!(seal(svc, &token)?);
    }
    Ok(out)
}

/// The SyncTrigger function of the pool, when one is configured.
async fn sync_trigger_arn(svc: &Service, pool: &str) -> Result<Option<String>> {
    let config = svc
        .get_json::<IdentityPoolSyncConfig>(
            &keys::identity_pool_sync_config(pool),
            keys::IDENTITY_POOL_SYNC_CONFIG_SK,
        )
        .await?;
    Ok(config.and_then(|(c, _)| c.events.get("SyncTrigger").filter(|a| !a.is_empty()).cloned()))
}

/// `UpdateRecords` (spec D §2.7).
pub async fn update_records(svc: &Service, ctx: &CallContext, input: &Value) -> Result<Value> {
    let (pool, identity) = access(svc, ctx, input).await?;
    let name = dataset_name(input)?;
    let token = input
        .str_of("SyncSessionToken")
        .ok_or_else(|| Error::invalid("UpdateRecords needs the SyncSessionToken of a ListRecords call."))?;
    if open_session(svc, token, &pool, &identity, name).is_none() {
        return Err(Error::invalid(
            "The SyncSessionToken is invalid, expired, or was issued for another dataset.",
        ));
    }
    let device_id = match input.str_of("DeviceId") {
        Some(d) if d.is_empty() || d.chars().count() > 256 => {
            return Err(Error::invalid("DeviceId must be 1 to 256 characters long."))
        }
        d => d,
    };
    let patches = parse_patches(input)?;
    if patches.is_empty() {
        return Ok(json!({ "Records": [] }));
    }
    // The trigger runs for callers with an identity's credentials only (spec D §3.3).
    let trigger = match &ctx.caller {
        Caller::Identity { .. } => sync_trigger_arn(svc, &pool).await?,
        _ => None,
    };
    let by = modifier(svc, ctx);
    let mut waits = 0;
    let mut backoff = Backoff::new();
    loop {
        let snap = snapshot_within(svc, &pool, &identity, name, &mut backoff).await?;
        if snap.head().is_some_and(|h| h.claimed(svc.now_secs())) {
            waits += 1;
            if waits > CLAIM_WAITS {
                return Err(busy());
            }
            tokio::time::sleep(CLAIM_PAUSE).await;
            continue;
        }
        let current = snap.visible()?;
        check_patches(&patches, &current)?;
        let decisions = match &trigger {
            Some(arn) => {
                let scope = EventScope {
                    region: pool.split_once(':').map(|(r, _)| r).unwrap_or(&svc.config.region),
                    identity_pool_id: &pool,
                    identity_id: &identity,
                    dataset_name: name,
                };
                let event = sync_trigger::event(&scope, &event_records(&patches, &current));
                let answer = sync_trigger::invoke(svc, arn, &event).await?;
                Some(sync_trigger::read_answer(&event, &answer)?)
            }
            None => None,
        };
        let resolution = resolve(&patches, &current, decisions.as_ref());
        let ignored: Vec<Value> =
            resolution.ignored.iter().filter_map(|k| current.get(k)).map(RecordState::to_api).collect();
        if resolution.writes.is_empty() {
            return Ok(json!({ "Records": ignored }));
        }
        let before = final_size(&current, &BTreeMap::new());
        let after = final_size(&current, &resolution.writes);
        check_limits(svc, name, before, after)?;
        let old_head = snap.head().cloned();
        let creating = !old_head.as_ref().is_some_and(|h| h.live);
        let dataset_count = if creating {
            let (count, write) = dataset_count_write(svc, &pool, &identity, 1).await?;
            let limit = svc.config.limits.sync_datasets_per_identity;
            if count >= limit {
                return Err(Error::LimitExceededException(format!(
                    "The identity {identity} already has {count} datasets; an identity holds at most {limit}."
                )));
            }
            Some(write)
        } else {
            None
        };
        let now = svc.clock.now_millis();
        let (floor, committed) = snap.range();
        let new_count = committed + 1;
        let pk = skeys::records(&pool, &identity, name);
        let mut written = Vec::new();
        let mut puts = Vec::new();
        for (key, (value, device)) in &resolution.writes {
            let state = RecordState {
                key: key.clone(),
                value: value.clone(),
                sync_count: new_count,
                last_modified: now,
                last_modified_by: by.clone(),
                device_last_modified: device.unwrap_or(now),
            };
            puts.extend(version_items(&pk, &state)?);
            written.push(state);
        }
        let keys_written: BTreeSet<&str> = resolution.writes.keys().map(String::as_str).collect();
        let (dead, superseded) = classify(&snap, &keys_written, &puts);
        let head = DatasetHead {
            name: name.to_string(),
            sync_count: new_count,
            floor,
            live: true,
            created: old_head.as_ref().filter(|h| h.live).map(|h| h.created).unwrap_or(now),
            last_modified: now,
            last_modified_by: by.clone(),
            data_storage: after.1,
            num_records: after.0,
            claim: None,
        };
        let storage_delta = i64::try_from(after.1).unwrap_or(i64::MAX)
            - i64::try_from(old_head.as_ref().filter(|h| h.live).map(|h| h.data_storage).unwrap_or(0))
                .unwrap_or(i64::MAX);
        let plan = Plan {
            old_head: snap.head.clone(),
            head,
            records_pk: pk,
            puts,
            dead,
            superseded,
            dataset_count,
            storage_delta,
        };
        match commit(svc, &pool, &identity, plan).await? {
            Outcome::Done => {
                tracing::debug!(
                    dataset = name,
                    sync_count = new_count,
                    records = written.len(),
                    "sync commit"
                );
                super::sync_push::notify_dataset_changed(
                    svc,
                    &pool,
                    &identity,
                    name,
                    new_count as i64,
                    device_id,
                )
                .await;
                let mut records: Vec<Value> = written.iter().map(RecordState::to_api).collect();
                records.extend(ignored);
                return Ok(json!({ "Records": records }));
            }
            Outcome::Raced => {
                // Another writer committed first. The next round re-reads the dataset: a record
                // it changed makes this update stale (409 there); otherwise it goes in on top.
                if !backoff.pause(svc).await {
                    tracing::warn!(
                        dataset = name,
                        lost = backoff.lost,
                        "UpdateRecords lost every commit race within its budget"
                    );
                    return Err(Error::TooManyRequestsException(format!(
                        "Too many concurrent updates of this dataset: this update lost every commit to other \
                         requests for {} seconds. Try again.",
                        RACE_BUDGET.as_secs()
                    )));
                }
            }
        }
    }
}

/// `DescribeIdentityUsage`.
pub async fn describe_identity_usage(svc: &Service, ctx: &CallContext, input: &Value) -> Result<Value> {
    let (pool, identity) = access(svc, ctx, input).await?;
    let mut count = 0u64;
    let mut storage = 0u64;
    let mut modified = 0i64;
    for item in read_partition(svc, &skeys::datasets(&pool, &identity)).await? {
        let head: DatasetHead = serde_json::from_value(item.body).map_err(Error::internal)?;
        modified = modified.max(head.last_modified);
        if head.live {
            count += 1;
            storage += head.data_storage;
        }
    }
    let mut usage = json!({
        "IdentityId": identity,
        "IdentityPoolId": pool,
        "DatasetCount": count,
        "DataStorage": storage,
    });
    if modified > 0 {
        usage["LastModifiedDate"] = json!(secs(modified));
    }
    Ok(json!({ "IdentityUsage": usage }))
}

/// `DescribeIdentityPoolUsage`.
pub async fn describe_identity_pool_usage(svc: &Service, ctx: &CallContext, input: &Value) -> Result<Value> {
    let pool = id_input(input, "IdentityPoolId")?;
    authorize(ctx, SyncAccess::AdminOnly, pool, None)?;
    require_identity(svc, pool, None).await?;
    Ok(json!({ "IdentityPoolUsage": pool_usage(svc, pool).await? }))
}

/// `ListIdentityPoolUsage`.
pub async fn list_identity_pool_usage(svc: &Service, ctx: &CallContext, input: &Value) -> Result<Value> {
    authorize(ctx, SyncAccess::AdminOnly, "", None)?;
    let limit = page_size(input, MAX_POOLS_PAGE);
    let after = match input.str_of("NextToken") {
        Some(t) => Some(crate::service::decode_next_token(t)?),
        None => None,
    };
    let page = svc.store.query(keys::IDENTITY_POOLS, "", after.as_deref(), limit, svc.now_secs()).await?;
    let mut usages = Vec::with_capacity(page.items.len());
    for item in &page.items {
        usages.push(pool_usage(svc, &item.sk).await?);
    }
    let mut out = json!({ "IdentityPoolUsages": usages, "MaxResults": limit, "Count": usages.len() });
    if let Some(n) = page.next {
        out["NextToken"] = json!(crate::service::encode_next_token(&n));
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Clean-up for the identity-pool operations

/// Removes a dataset entirely: marks it deleted, purges its records, then drops its head.
async fn remove_dataset(svc: &Service, pool: &str, identity: &str, name: &str) -> Result<()> {
    mark_deleted(svc, pool, identity, name, false).await?;
    let pk = skeys::records(pool, identity, name);
    for _ in 0..CLEANUP_ROUNDS {
        let Some((head, version)) = read_head(svc, pool, identity, name).await? else { return Ok(()) };
        if head.live {
            // Written again meanwhile.
            mark_deleted(svc, pool, identity, name, false).await?;
            continue;
        }
        let sks: Vec<String> = read_partition(svc, &pk).await?.into_iter().map(|i| i.sk).collect();
        for chunk in sks.chunks(MAX_TRANSACTION_WRITES) {
            let writes = chunk.iter().map(|sk| Write::delete(pk.clone(), sk.clone(), Cond::None)).collect();
            svc.store.transact(writes, svc.now_secs()).await?;
        }
        // The head goes last, and only as read: records never outlive their head, which
        // keeps their counts from reappearing under a new one.
        let w = Write::delete(skeys::datasets(pool, identity), name, Cond::Version(version));
        match svc.store.transact(vec![w], svc.now_secs()).await {
            Ok(()) => return Ok(()),
            Err(StoreError::ConditionFailed { .. }) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(busy())
}

/// Deletes all Sync data of an identity (DeleteIdentities, and identity pool deletion).
pub async fn delete_identity_data(svc: &Service, identity_pool_id: &str, identity_id: &str) -> Result<()> {
    for item in read_partition(svc, &skeys::datasets(identity_pool_id, identity_id)).await? {
        remove_dataset(svc, identity_pool_id, identity_id, &item.sk).await?;
    }
    let w = Write::delete(skeys::identities(identity_pool_id), identity_id, Cond::None);
    svc.store.transact(vec![w], svc.now_secs()).await?;
    Ok(())
}

/// Deletes all Sync data of an identity pool: every identity's datasets and the usage counters.
pub async fn delete_pool_data(svc: &Service, identity_pool_id: &str) -> Result<()> {
    for item in read_partition(svc, &skeys::identities(identity_pool_id)).await? {
        delete_identity_data(svc, identity_pool_id, &item.sk).await?;
    }
    let usage = skeys::usage(identity_pool_id);
    let sks: Vec<String> = read_partition(svc, &usage).await?.into_iter().map(|i| i.sk).collect();
    let writes = sks.iter().map(|sk| Write::delete(usage.clone(), sk.clone(), Cond::None)).collect();
    svc.store.transact(writes, svc.now_secs()).await?;
    Ok(())
}

/// When identity `from` merges into `to`, each dataset `D` of `from` reappears under `to` as
/// `D.<from>` with its records and sync counts (spec D §2.12), and leaves `from`.
pub async fn move_datasets_on_merge(
    svc: &Service,
    identity_pool_id: &str,
    from_identity: &str,
    to_identity: &str,
) -> Result<()> {
    let pool = identity_pool_id;
    for item in read_partition(svc, &skeys::datasets(pool, from_identity)).await? {
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
            let pk = skeys::records(pool, to_identity, &target);
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    fn state(key: &str, value: Option<&str>, count: u64) -> RecordState {
        RecordState {
            key: key.into(),
            value: value.map(str::to_string),
            sync_count: count,
            last_modified: 0,
            last_modified_by: String::new(),
            device_last_modified: 0,
        }
    }

    fn current(records: &[(&str, Option<&str>, u64)]) -> BTreeMap<String, RecordState> {
        records.iter().map(|(k, v, c)| (k.to_string(), state(k, *v, *c))).collect()
    }

    fn patch(key: &str, value: Option<&str>, count: i64) -> Patch {
        Patch {
            key: key.into(),
            value: value.map(str::to_string),
            sync_count: count,
            device_last_modified: None,
        }
    }

    #[test]
    fn patches_are_parsed_and_checked() {
        let input = json!({"RecordPatches": [
            {"Op": "replace", "Key": "a", "Value": "1", "SyncCount": 0, "DeviceLastModifiedDate": 1424801824.343},
            {"Op": "remove", "Key": "b", "SyncCount": 3},
        ]});
        let p = parse_patches(&input).unwrap();
        assert_eq!(p[0].value.as_deref(), Some("1"));
        assert_eq!(p[0].device_last_modified, Some(1_424_801_824_343));
        assert_eq!(p[1].value, None);
        assert!(parse_patches(&json!({})).unwrap().is_empty());
        for bad in [
            json!([{"Op": "replace", "Key": "a", "SyncCount": 0}]),
            json!([{"Op": "upsert", "Key": "a", "Value": "1", "SyncCount": 0}]),
            json!([{"Op": "remove", "Key": "", "SyncCount": 0}]),
            json!([{"Op": "remove", "Key": "a"}]),
            json!([{"Op": "remove", "Key": "a", "SyncCount": -1}]),
            json!([{"Op": "remove", "Key": "a", "SyncCount": 0}, {"Op": "replace", "Key": "a", "Value": "x", "SyncCount": 0}]),
            json!([{"Op": "remove", "Key": "k".repeat(1025), "SyncCount": 0}]),
        ] {
            let e = parse_patches(&json!({ "RecordPatches": bad })).unwrap_err();
            assert_eq!(e.name(), "InvalidParameterException", "{bad}");
        }
    }

    #[test]
    fn stale_sync_counts_conflict_with_the_documented_message() {
        let cur = current(&[("highScore", Some("10"), 5), ("gone", None, 4)]);
        assert!(check_patches(&[patch("highScore", Some("11"), 5), patch("new", Some("x"), 0)], &cur).is_ok());
        let e = check_patches(&[patch("highScore", Some("11"), 4)], &cur).unwrap_err();
        assert_eq!(
            e,
            Error::ResourceConflictException("Current SyncCount for: highScore is: 5 not: 4".into())
        );
        let e = check_patches(&[patch("new", Some("x"), 2)], &cur).unwrap_err();
        assert_eq!(e.message(), "Current SyncCount for: new is: 0 not: 2");
        // A tombstone accepts its own count, and 0 from a client that never saw the key.
        assert!(check_patches(&[patch("gone", Some("back"), 4)], &cur).is_ok());
        assert!(check_patches(&[patch("gone", Some("back"), 0)], &cur).is_ok());
        assert!(check_patches(&[patch("gone", Some("back"), 3)], &cur).is_err());
        // A live record does not accept 0.
        assert!(check_patches(&[patch("highScore", Some("11"), 0)], &cur).is_err());
    }

    #[test]
    fn without_a_trigger_every_patch_is_written() {
        let cur = current(&[("a", Some("1"), 1)]);
        let r = resolve(&[patch("a", None, 1), patch("b", Some("2"), 0)], &cur, None);
        assert_eq!(r.writes["a"].0, None);
        assert_eq!(r.writes["b"].0.as_deref(), Some("2"));
        assert!(r.ignored.is_empty());
    }

    #[test]
    fn the_trigger_answer_is_applied_as_the_contract_says() {
        let cur = current(&[
            ("keep", Some("k"), 1),
            ("SampleKey1", Some("old1"), 1),
            ("SampleKey2", Some("old2"), 1),
        ]);
        let patches = [
            patch("SampleKey1", Some("new1"), 1),
            patch("SampleKey2", Some("new2"), 1),
            patch("dropped", Some("d"), 0),
        ];
        let events = event_records(&patches, &cur);
        assert_eq!(events.len(), 4, "all live records plus the patched keys");
        assert_eq!(
            events["keep"],
            EventRecord { old_value: Some("k".into()), new_value: Some("k".into()), remove: false }
        );
        assert_eq!(events["dropped"].old_value, None);
        // The reference function: modify 1, remove 2, add 3; it also leaves "dropped" out.
        let decisions: sync_trigger::Decisions = [
            ("keep".to_string(), Some("k".to_string())),
            ("SampleKey1".to_string(), Some("ModifyValue1".to_string())),
            ("SampleKey2".to_string(), None),
            ("SampleKey3".to_string(), Some("ModifyValue3".to_string())),
        ]
        .into();
        let r = resolve(&patches, &cur, Some(&decisions));
        assert_eq!(r.writes.len(), 3, "{r:?}");
        assert_eq!(r.writes["SampleKey1"].0.as_deref(), Some("ModifyValue1"));
        assert_eq!(r.writes["SampleKey2"].0, None);
        assert_eq!(r.writes["SampleKey3"].0.as_deref(), Some("ModifyValue3"));
        assert!(!r.writes.contains_key("keep"), "an unchanged record is not rewritten");
        assert_eq!(r.ignored, vec!["dropped".to_string()]);
        // A function removing a key nobody has is no write; removing an unpatched live one is.
        let decisions: sync_trigger::Decisions =
            [("nothing".to_string(), None), ("keep".to_string(), None)].into();
        let r = resolve(&[], &cur, Some(&decisions));
        assert_eq!(r.writes.keys().collect::<Vec<_>>(), vec!["keep"]);
    }

    #[test]
    fn size_counts_utf8_bytes_of_live_keys_and_values() {
        let cur = current(&[("a", Some("héllo"), 1), ("t", None, 2), ("b", Some("x"), 1)]);
        assert_eq!(final_size(&cur, &BTreeMap::new()), (2, 1 + 6 + 2));
        let mut writes = BTreeMap::new();
        writes.insert("b".to_string(), (None, None));
        writes.insert("€".to_string(), (Some("12".to_string()), None));
        assert_eq!(final_size(&cur, &writes), (2, 7 + 3 + 2));
        assert_eq!(record_size("ü", "€"), 5);
    }

    #[test]
    fn limits_refuse_growth_only() {
        let svc = test_service(crate::service::Limits {
            sync_records_per_dataset: 2,
            sync_dataset_bytes: 10,
            ..Default::default()
        });
        assert!(check_limits(&svc, "d", (1, 5), (2, 10)).is_ok());
        assert_eq!(check_limits(&svc, "d", (2, 5), (3, 6)).unwrap_err().name(), "LimitExceededException");
        assert_eq!(check_limits(&svc, "d", (1, 5), (1, 11)).unwrap_err().name(), "LimitExceededException");
        // Already over a lowered limit: shrinking is allowed.
        assert!(check_limits(&svc, "d", (5, 50), (4, 40)).is_ok());
    }

    fn test_service(limits: crate::service::Limits) -> Service {
        service_with(false, limits)
    }

    /// A service over a store that holds nothing, or (`found`) has every item asked for (empty).
    fn service_with(found: bool, limits: crate::service::Limits) -> Service {
        struct NoStore(bool);
        #[async_trait::async_trait]
        impl crate::store::Store for NoStore {
            async fn get(&self, pk: &str, sk: &str, _: i64) -> Result<Option<Item>, StoreError> {
                Ok(self.0.then(|| Item::new(pk, sk, json!({}))))
            }
            async fn query(
                &self,
                _: &str,
                _: &str,
                _: Option<&str>,
                _: usize,
                _: i64,
            ) -> Result<crate::store::Page, StoreError> {
                Ok(Default::default())
            }
            async fn transact(&self, _: Vec<Write>, _: i64) -> Result<(), StoreError> {
                Ok(())
            }
        }
        struct NoMessenger;
        #[async_trait::async_trait]
        impl crate::ports::Messenger for NoMessenger {
            async fn send(&self, _: Option<&str>, _: &crate::ports::OutgoingMessage) -> Result<()> {
                Ok(())
            }
        }
        let config = crate::ServiceConfig { limits, ..Default::default() };
        Service::new(
            std::sync::Arc::new(NoStore(found)),
            std::sync::Arc::new(NoMessenger),
            std::sync::Arc::new(crate::ports::SystemClock),
            std::sync::Arc::new(crate::ports::SystemRng),
            std::sync::Arc::new(crate::ports::AesGcmCipher::new(&[7u8; 32]).unwrap()),
            config,
        )
    }

    #[test]
    fn session_tokens_are_bound_and_expire() {
        let svc = test_service(Default::default());
        let t = session_token(&svc, "us-east-1:ab", "us-east-1:cd", "ds", "s1").unwrap();
        assert_eq!(open_session(&svc, &t, "us-east-1:ab", "us-east-1:cd", "ds").as_deref(), Some("s1"));
        assert_eq!(open_session(&svc, &t, "us-east-1:ab", "us-east-1:cd", "other"), None);
        assert_eq!(open_session(&svc, &t, "us-east-1:ab", "us-east-1:ce", "ds"), None);
        assert_eq!(open_session(&svc, "garbage", "us-east-1:ab", "us-east-1:cd", "ds"), None);
        let mut tampered = URL_SAFE_NO_PAD.decode(&t).unwrap();
        if let Some(b) = tampered.last_mut() {
            *b ^= 1;
        }
        assert_eq!(
            open_session(&svc, &URL_SAFE_NO_PAD.encode(tampered), "us-east-1:ab", "us-east-1:cd", "ds"),
            None
        );
        let expired = Sealed {
            t: "session".into(),
            p: "us-east-1:ab".into(),
            i: "us-east-1:cd".into(),
            d: "ds".into(),
            s: "s1".into(),
            e: svc.now_secs() - 1,
            l: 0,
            c: 0,
            k: String::new(),
        };
        let expired = seal(&svc, &expired).unwrap();
        assert_eq!(open_session(&svc, &expired, "us-east-1:ab", "us-east-1:cd", "ds"), None);
        // A page token is not a session token.
        let page = Sealed {
            t: "records-page".into(),
            e: svc.now_secs() + 100,
            ..serde_json::from_slice(
                &svc.cipher
                    .open(crate::ports::sealed::SYNC_TOKEN, &URL_SAFE_NO_PAD.decode(&t).unwrap())
                    .unwrap(),
            )
            .unwrap()
        };
        let page = seal(&svc, &page).unwrap();
        assert_eq!(open_session(&svc, &page, "us-east-1:ab", "us-east-1:cd", "ds"), None);
    }

    /// Every event logged while installed: its level and its fields as text.
    #[derive(Clone, Default)]
    struct Captured(std::sync::Arc<std::sync::Mutex<Vec<(tracing::Level, String)>>>);

    impl tracing::Subscriber for Captured {
        fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
            true
        }
        fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
            tracing::span::Id::from_u64(1)
        }
        fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
        fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
        fn event(&self, event: &tracing::Event<'_>) {
            struct Text(String);
            impl tracing::field::Visit for Text {
                fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
                    self.0.push_str(&format!(" {}={value:?}", field.name()));
                }
            }
            let mut text = Text(String::new());
            event.record(&mut text);
            self.0.lock().unwrap().push((*event.metadata().level(), text.0));
        }
        fn enter(&self, _: &tracing::span::Id) {}
        fn exit(&self, _: &tracing::span::Id) {}
    }

    impl Captured {
        fn at(&self, level: tracing::Level) -> Vec<String> {
            self.0.lock().unwrap().iter().filter(|(l, _)| *l == level).map(|(_, t)| t.clone()).collect()
        }
        fn all(&self) -> String {
            self.0.lock().unwrap().iter().map(|(_, t)| t.as_str()).collect::<Vec<_>>().join("\n")
        }
    }

    // A caller's garbage NextToken or SyncSessionToken is its bad input: the operation's 400,
    // and no "wrong master key" alarm in the log. A stored secret that does not open still is one.
    #[tokio::test]
    async fn garbage_client_tokens_are_no_server_errors() {
        let svc = service_with(true, Default::default());
        let (pool, identity) = (
            "us-east-1:0f5e7a3c-1d2b-4c5d-8e9f-0a1b2c3d4e5f",
            "us-east-1:5b1e0c2a-7d4f-4e8b-9a6c-3f2d1e0b9c8a",
        );
        let mut ctx = CallContext::new("http://127.0.0.1");
        ctx.caller = Caller::Identity { identity_pool_id: pool.into(), identity_id: identity.into() };
        // Base64 of 40 bytes that are no sealed token of ours; and one sealed under another key.
        let garbage = URL_SAFE_NO_PAD.encode([0x5au8; 40]);
        let other_key = crate::ports::AesGcmCipher::new(&[9u8; 32]).unwrap();
        let foreign = URL_SAFE_NO_PAD.encode(
            crate::ports::SecretCipher::seal(&other_key, crate::ports::sealed::SYNC_TOKEN, b"{}").unwrap(),
        );
        let log = Captured::default();
        let _installed = tracing::subscriber::set_default(log.clone());
        for token in [&garbage, &foreign] {
            let base = json!({"IdentityPoolId": pool, "IdentityId": identity, "DatasetName": "d"});
            let mut input = base.clone();
            input["NextToken"] = json!(token);
            let e = list_records(&svc, &ctx, &input).await.unwrap_err();
            assert_eq!(e, Error::invalid("Invalid NextToken."));
            let mut input = base.clone();
            input["SyncSessionToken"] = json!(token);
            input["RecordPatches"] = json!([{"Op": "replace", "Key": "a", "Value": "1", "SyncCount": 0}]);
            let e = update_records(&svc, &ctx, &input).await.unwrap_err();
            assert_eq!(e.name(), "InvalidParameterException");
            assert!(e.message().starts_with("The SyncSessionToken is invalid"), "{e}");
        }
        assert!(log.at(tracing::Level::ERROR).is_empty(), "{}", log.all());
        assert!(!log.all().contains(&garbage) && !log.all().contains(&foreign), "tokens are never logged");
        // A stored secret sealed under another master key is a server fault, logged as one.
        let stored =
            crate::ports::SecretCipher::seal(&other_key, crate::ports::sealed::SRP_VERIFIER, b"secret")
                .unwrap();
        let e = svc.cipher.open(crate::ports::sealed::SRP_VERIFIER, &stored).unwrap_err();
        assert_eq!(e.name(), "InternalErrorException");
        let errors = log.at(tracing::Level::ERROR);
        assert_eq!(errors.len(), 1, "{}", log.all());
        assert!(errors[0].contains("wrong master key"), "{errors:?}");
    }

    #[test]
    fn large_values_split_into_parts_and_join_back() {
        let big = "é\"".repeat(100_000); // 300,000 escaped bytes... and more
        let pieces = split_value(&big);
        assert!(pieces.len() > 1);
        assert_eq!(pieces.concat(), big);
        assert!(pieces.iter().all(|p| p.chars().map(escaped_len).sum::<usize>() <= PART_BYTES));
        let s = RecordState { value: Some(big.clone()), ..state("k", None, 7) };
        let items = version_items("pk", &s).unwrap();
        assert_eq!(items.len(), pieces.len() + 1);
        let versions = group_versions(items).unwrap();
        assert_eq!(versions["k"][&7].value().unwrap(), Some(big));
        let small = version_items("pk", &state("k", Some("v"), 2)).unwrap();
        assert_eq!(small.len(), 1);
        assert_eq!(small[0].sk, "Kk|0000000000000002");
        let tomb = version_items("pk", &state("a|b", None, 3)).unwrap();
        assert!(tomb[0].sk.starts_with('H'), "keys holding the separator are hashed");
        assert_eq!(group_versions(tomb).unwrap()["a|b"][&3].value().unwrap(), None);
    }

    #[test]
    fn visibility_follows_the_committed_count_and_the_floor() {
        let mut items = Vec::new();
        for (key, value, count) in
            [("a", Some("1"), 1), ("a", Some("2"), 3), ("a", Some("orphan"), 4), ("b", Some("old"), 1)]
        {
            items.extend(version_items("pk", &state(key, value, count)).unwrap());
        }
        let head =
            |count, floor| DatasetHead { sync_count: count, floor, live: true, ..DatasetHead::empty("d") };
        let snap = Snapshot { head: Some((head(3, 0), 1)), versions: group_versions(items.clone()).unwrap() };
        let v = snap.visible().unwrap();
        assert_eq!(v["a"].value.as_deref(), Some("2"));
        assert_eq!(v["a"].sync_count, 3);
        assert_eq!(v["b"].value.as_deref(), Some("old"));
        let written: BTreeSet<&str> = ["a"].into();
        let (dead, superseded) = classify(&snap, &written, &[]);
        assert_eq!(dead, vec!["Ka|0000000000000001".to_string(), "Ka|0000000000000004".to_string()]);
        assert_eq!(superseded, vec!["Ka|0000000000000003".to_string()]);
        // After a deletion at 3, nothing at or below 3 is visible.
        let snap = Snapshot { head: Some((head(3, 3), 1)), versions: group_versions(items).unwrap() };
        assert!(snap.visible().unwrap().is_empty());
    }

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

    #[test]
    fn merged_dataset_names_need_an_identity_id_suffix() {
        assert!(is_identity_id("us-east-1:9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a"));
        assert!(!is_identity_id("backup"));
        assert!(!is_identity_id("us-east-1:XYZ"));
        assert!(check_dataset_name("game.us-east-1:9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a").is_ok());
        assert!(check_dataset_name("bad name").is_err());
        assert!(check_dataset_name(&"d".repeat(129)).is_err());
    }
}
