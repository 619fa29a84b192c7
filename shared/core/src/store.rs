//! The narrow storage port. Items live in partitions (`pk`) ordered by sort key (`sk`); every
//! write is part of an atomic, conditional transaction. Uniqueness (usernames, aliases) is a
//! `Cond::NotExists` put, never a read-then-write.

use async_trait::async_trait;
use serde_json::Value;

/// One stored item.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub pk: String,
    pub sk: String,
    /// Optimistic-concurrency counter; writers choose the new value (usually old + 1).
    pub version: u64,
    /// Epoch seconds after which the item is gone (DynamoDB TTL). Expired items read as absent.
    pub expires_at: Option<i64>,
    pub body: Value,
}

impl Item {
    pub fn new(pk: impl Into<String>, sk: impl Into<String>, body: Value) -> Self {
        Item { pk: pk.into(), sk: sk.into(), version: 1, expires_at: None, body }
    }

    pub fn is_live(&self, now_secs: i64) -> bool {
        self.expires_at.is_none_or(|t| t > now_secs)
    }
}

/// An item as [`Store::get_raw`] reads it: the body as the store holds it.
pub struct RawItem {
    pub version: u64,
    pub body: RawBody,
}

pub enum RawBody {
    Value(Value),
    /// JSON text, decoded straight into the reader's type.
    Json(Box<serde_json::value::RawValue>),
}

impl RawItem {
    pub fn decode<T: serde::de::DeserializeOwned>(self) -> Result<T, serde_json::Error> {
        match self.body {
            RawBody::Value(v) => serde_json::from_value(v),
            RawBody::Json(text) => serde_json::from_str(text.get()),
        }
    }
}

/// A condition on the item currently stored under a write's key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cond {
    /// Always write.
    None,
    /// No live item has this key (an expired item counts as absent).
    NotExists,
    /// A live item with exactly this version exists.
    Version(u64),
    /// Some live item exists.
    Exists,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Write {
    Put { item: Item, cond: Cond },
    Delete { pk: String, sk: String, cond: Cond },
}

impl Write {
    pub fn put(item: Item, cond: Cond) -> Self {
        Write::Put { item, cond }
    }
    /// Replaces the item read at `version` (creates it when `None`): the write carries the next
    /// version and fails if another write came first.
    pub fn put_versioned(mut item: Item, version: Option<u64>) -> Self {
        let cond = match version {
            Some(v) => {
                item.version = v + 1;
                Cond::Version(v)
            }
            None => Cond::NotExists,
        };
        Write::Put { item, cond }
    }
    pub fn delete(pk: impl Into<String>, sk: impl Into<String>, cond: Cond) -> Self {
        Write::Delete { pk: pk.into(), sk: sk.into(), cond }
    }
    pub fn key(&self) -> (&str, &str) {
        match self {
            Write::Put { item, .. } => (&item.pk, &item.sk),
            Write::Delete { pk, sk, .. } => (pk, sk),
        }
    }
}

/// A page of a partition query, in ascending sort-key order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Page {
    pub items: Vec<Item>,
    /// The sort key to start after for the next page, when there may be more.
    pub next: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreError {
    /// The transaction was not applied because the condition of write `index` failed.
    ConditionFailed { index: usize },
    /// Too many items in one transaction, or an item too large.
    Invalid(String),
    /// Infrastructure failure; the message is for logs only.
    Unavailable(String),
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreError::ConditionFailed { index } => write!(f, "condition failed on write {index}"),
            StoreError::Invalid(m) => write!(f, "invalid store request: {m}"),
            StoreError::Unavailable(m) => write!(f, "store unavailable: {m}"),
        }
    }
}

impl std::error::Error for StoreError {}

impl From<StoreError> for crate::Error {
    fn from(e: StoreError) -> Self {
        crate::Error::internal(e)
    }
}

/// Most writes a transaction may hold (DynamoDB's TransactWriteItems limit).
pub const MAX_TRANSACTION_WRITES: usize = 100;

#[async_trait]
pub trait Store: Send + Sync {
    /// The live item under (pk, sk), if any. `now_secs` decides expiry.
    async fn get(&self, pk: &str, sk: &str, now_secs: i64) -> Result<Option<Item>, StoreError>;

    /// [`Store::get`] for a reader that decodes the body into its own type at once. A store
    /// that keeps JSON text hands the body over as text, so no `Value` is built in between (on
    /// the hot path, GetUser reads two items this way).
    async fn get_raw(&self, pk: &str, sk: &str, now_secs: i64) -> Result<Option<RawItem>, StoreError> {
        Ok(self
            .get(pk, sk, now_secs)
            .await?
            .map(|i| RawItem { version: i.version, body: RawBody::Value(i.body) }))
    }

    /// Live items of partition `pk` whose sort key starts with `sk_prefix`, strictly after
    /// `start_after` when given, at most `limit` of them.
    async fn query(
        &self,
        pk: &str,
        sk_prefix: &str,
        start_after: Option<&str>,
        limit: usize,
        now_secs: i64,
    ) -> Result<Page, StoreError>;

    /// Applies every write or none. At most [`MAX_TRANSACTION_WRITES`] writes, each key once.
    async fn transact(&self, writes: Vec<Write>, now_secs: i64) -> Result<(), StoreError>;
}

#[cfg(any(test, feature = "test-support"))]
pub mod contract;
