//! What the engine stores: the dataset head, record versions (and the parts of large values),
//! the record state readers see, and the partitions they live in (see the layout in
//! [`super`]).

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// A dataset's head item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct DatasetHead {
    pub(crate) name: String,
    /// The committed sync count: versions above it are not visible (yet).
    pub(crate) sync_count: u64,
    /// Versions at or below this count belong to a deleted incarnation of the dataset.
    #[serde(default)]
    pub(crate) floor: u64,
    /// Created and not deleted.
    pub(crate) live: bool,
    /// Epoch milliseconds.
    pub(crate) created: i64,
    pub(crate) last_modified: i64,
    #[serde(default)]
    pub(crate) last_modified_by: String,
    pub(crate) data_storage: u64,
    pub(crate) num_records: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) claim: Option<Claim>,
}

/// A large update being written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Claim {
    pub(super) id: String,
    /// Epoch seconds after which another writer may take the dataset over.
    pub(super) expires_at: i64,
}

impl DatasetHead {
    pub(super) fn empty(name: &str) -> Self {
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

    pub(crate) fn claimed(&self, now_secs: i64) -> bool {
        self.claim.as_ref().is_some_and(|c| c.expires_at > now_secs)
    }

    /// `Dataset` of the API.
    pub(crate) fn to_api(&self, identity: &str) -> Value {
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
pub(super) struct VersionHead {
    pub(super) k: String,
    pub(super) c: u64,
    /// The value when it fits here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) v: Option<String>,
    /// Part items holding the value, when it does not.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub(super) parts: u32,
    /// A removed record.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub(super) del: bool,
    /// Epoch milliseconds.
    pub(super) lm: i64,
    pub(super) lmb: String,
    pub(super) dlm: i64,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// A part of a large value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct VersionPart {
    pub(super) k: String,
    pub(super) c: u64,
    pub(super) p: u32,
    pub(super) d: String,
}

/// The items of one record version found in the store.
#[derive(Debug, Default)]
pub(super) struct Version {
    pub(super) head: Option<VersionHead>,
    pub(super) parts: BTreeMap<u32, String>,
    pub(super) sks: Vec<String>,
}

impl Version {
    pub(super) fn value(&self) -> Result<Option<String>> {
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
pub(super) type Versions = BTreeMap<String, BTreeMap<u64, Version>>;

/// A record as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RecordState {
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
    pub(crate) fn to_api(&self) -> Value {
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

pub(crate) fn secs(ms: i64) -> f64 {
    ms as f64 / 1000.0
}

/// UTF-8 bytes a live record counts toward the dataset's size (the SDKs' `computeRecordSize`).
pub(crate) fn record_size(key: &str, value: &str) -> u64 {
    (key.len() + value.len()) as u64
}

/// `[\w-]+:[0-9a-f-]+`, 1–55 characters (identity and identity pool ids).
pub(crate) fn is_identity_id(s: &str) -> bool {
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
