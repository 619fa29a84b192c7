//! Sync's storage engine: how datasets and their records are kept so that readers never see
//! half an update, and how an update is planned and committed. The operations (`super::*`)
//! know datasets and records; only this module knows items, versions and claims.
//!
//! Layout:
//! - `SYNCDS#{pool}#{identity}` / dataset name: the dataset's head ([`model::DatasetHead`]): its
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
//!   a few shard items so that concurrent writers rarely meet on one ([`counters`]).
//!
//! Visibility: a version is visible when `floor < count <= sync_count`; a key's state is its
//! highest visible version (a tombstone when it was removed). A commit writes the new versions
//! and then advances `sync_count` with a version condition on the head, so readers never see
//! half an update. Up to [`crate::store::MAX_TRANSACTION_WRITES`] writes this is one
//! transaction. Beyond, the writer first claims the head, writes the versions in chunks that
//! each bump the head's version (so no chunk lands once another writer has taken the head over),
//! then commits, then deletes the versions it superseded. Versions above the committed count are
//! a failed writer's orphans: invisible, and deleted (or overwritten) by the next commit.
//!
//! Rooms: [`model`] (what is stored), [`read`] (heads, partitions, snapshots), [`plan`] (the
//! pure planning of an update), [`commit`] (writing a plan, claims), [`counters`] (usage and
//! dataset counts), [`delete`] (marking a dataset deleted), [`backoff`] (pauses after lost
//! races).

pub(super) mod backoff;
pub(super) mod commit;
pub(super) mod counters;
pub(super) mod delete;
pub(super) mod model;
pub(super) mod plan;
pub(super) mod read;
