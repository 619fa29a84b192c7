//! The embedded store: redb in the data directory. redb gives serialisable, crash-safe write
//! transactions (one writer at a time), which is exactly the store contract's atomicity.

use async_trait::async_trait;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::sync::Arc;
use tessera_core::store::{
    Cond, Item, Page, RawBody, RawItem, Store, StoreError, Write, MAX_TRANSACTION_WRITES,
};

/// The embedded store's file in the data directory.
pub const DB_FILE: &str = "tessera.redb";

const ITEMS: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("items");

#[derive(Serialize, Deserialize)]
struct Stored {
    v: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    e: Option<i64>,
    b: serde_json::Value,
}

/// [`Stored`] with the body left as text, for [`Store::get_raw`].
#[derive(Deserialize)]
struct StoredRaw<'a> {
    v: u64,
    e: Option<i64>,
    #[serde(borrow)]
    b: &'a serde_json::value::RawValue,
}

#[derive(Clone)]
pub struct EmbeddedStore {
    db: Arc<Database>,
}

fn unavailable(e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

fn decode(pk: &str, sk: &str, bytes: &[u8]) -> Result<Item, StoreError> {
    let s: Stored = serde_json::from_slice(bytes).map_err(unavailable)?;
    Ok(Item { pk: pk.to_string(), sk: sk.to_string(), version: s.v, expires_at: s.e, body: s.b })
}

impl EmbeddedStore {
    /// Opens (or creates) `dir/tessera.redb` ([`DB_FILE`]).
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        std::fs::create_dir_all(dir).map_err(unavailable)?;
        let db = Database::create(dir.join(DB_FILE)).map_err(unavailable)?;
        Self::init(db)
    }

    /// [`EmbeddedStore::open`] for `tessera serve`: a failure is one plain line naming the file
    /// and what to do. The common one is a second server on the same data directory: redb
    /// holds an exclusive lock on the file while a server has it open.
    pub fn open_for_server(dir: &Path) -> Result<Self, String> {
        Self::open_with_cache(dir, None)
    }

    /// [`EmbeddedStore::open_for_server`] with redb's page cache bounded to `cache_bytes`
    /// (redb's default is 1 GiB): `tessera export` and `restore` read or write every page once,
    /// and a small cache keeps their memory flat however large the store.
    pub fn open_with_cache(dir: &Path, cache_bytes: Option<usize>) -> Result<Self, String> {
        let file = dir.join(DB_FILE);
        let mut builder = redb::Builder::new();
        if let Some(bytes) = cache_bytes {
            builder.set_cache_size(bytes);
        }
        let db = builder.create(&file).map_err(|e| match e {
            redb::DatabaseError::DatabaseAlreadyOpen | redb::DatabaseError::LockProtocolMismatch => format!(
                "the data directory {} is in use by another tessera server (its store {} is locked). \
                 Stop that server, or pass --data-dir with another directory",
                dir.display(),
                file.display()
            ),
            redb::DatabaseError::Storage(redb::StorageError::Io(io)) => format!(
                "cannot open the store {}: {}. Check the file's permissions, or pass --data-dir with \
                 another directory",
                file.display(),
                crate::startup::io_reason(&io)
            ),
            other => format!(
                "cannot open the store {}: {other}. Move the file away to start with an empty store \
                 (keep it if its data matters), or pass --data-dir with another directory",
                file.display()
            ),
        })?;
        Self::init(db).map_err(|e| format!("cannot open the store {}: {e}", file.display()))
    }

    fn init(db: Database) -> Result<Self, StoreError> {
        let tx = db.begin_write().map_err(unavailable)?;
        tx.open_table(ITEMS).map_err(unavailable)?;
        tx.commit().map_err(unavailable)?;
        Ok(EmbeddedStore { db: Arc::new(db) })
    }

    fn apply(db: &Database, writes: Vec<Write>, now: i64) -> Result<(), StoreError> {
        let tx = db.begin_write().map_err(unavailable)?;
        {
            let mut table = tx.open_table(ITEMS).map_err(unavailable)?;
            for (index, w) in writes.iter().enumerate() {
                let (pk, sk) = w.key();
                let current = match table.get((pk, sk)).map_err(unavailable)? {
                    Some(v) => Some(decode(pk, sk, v.value())?).filter(|i| i.is_live(now)),
                    None => None,
                };
                let cond = match w {
                    Write::Put { cond, .. } | Write::Delete { cond, .. } => *cond,
                };
                let ok = match cond {
                    Cond::None => true,
                    Cond::NotExists => current.is_none(),
                    Cond::Exists => current.is_some(),
                    Cond::Version(v) => current.as_ref().is_some_and(|c| c.version == v),
                };
                if !ok {
                    // Dropping the transaction without commit rolls everything back.
                    return Err(StoreError::ConditionFailed { index });
                }
                match w {
                    Write::Put { item, .. } => {
                        let bytes = serde_json::to_vec(&Stored {
                            v: item.version,
                            e: item.expires_at,
                            b: item.body.clone(),
                        })
                        .map_err(unavailable)?;
                        table.insert((pk, sk), bytes.as_slice()).map_err(unavailable)?;
                    }
                    Write::Delete { .. } => {
                        table.remove((pk, sk)).map_err(unavailable)?;
                    }
                }
            }
        }
        tx.commit().map_err(unavailable)
    }
}

#[async_trait]
impl Store for EmbeddedStore {
    async fn get(&self, pk: &str, sk: &str, now_secs: i64) -> Result<Option<Item>, StoreError> {
        let tx = self.db.begin_read().map_err(unavailable)?;
        let table = tx.open_table(ITEMS).map_err(unavailable)?;
        match table.get((pk, sk)).map_err(unavailable)? {
            Some(v) => Ok(Some(decode(pk, sk, v.value())?).filter(|i| i.is_live(now_secs))),
            None => Ok(None),
        }
    }

    async fn get_raw(&self, pk: &str, sk: &str, now_secs: i64) -> Result<Option<RawItem>, StoreError> {
        let tx = self.db.begin_read().map_err(unavailable)?;
        let table = tx.open_table(ITEMS).map_err(unavailable)?;
        let Some(v) = table.get((pk, sk)).map_err(unavailable)? else { return Ok(None) };
        let s: StoredRaw = serde_json::from_slice(v.value()).map_err(unavailable)?;
        if s.e.is_some_and(|t| t <= now_secs) {
            return Ok(None);
        }
        Ok(Some(RawItem { version: s.v, body: RawBody::Json(s.b.to_owned()) }))
    }

    async fn query(
        &self,
        pk: &str,
        sk_prefix: &str,
        start_after: Option<&str>,
        limit: usize,
        now_secs: i64,
    ) -> Result<Page, StoreError> {
        let tx = self.db.begin_read().map_err(unavailable)?;
        let table = tx.open_table(ITEMS).map_err(unavailable)?;
        let from = match start_after {
            Some(s) if s >= sk_prefix => s,
            _ => sk_prefix,
        };
        let range = table.range((pk, from)..).map_err(unavailable)?;
        let mut items = Vec::new();
        let mut more = false;
        for entry in range {
            let (k, v) = entry.map_err(unavailable)?;
            let (kpk, ksk) = k.value();
            if kpk != pk || !ksk.starts_with(sk_prefix) {
                break;
            }
            if start_after.is_some_and(|s| ksk <= s) {
                continue;
            }
            let item = decode(kpk, ksk, v.value())?;
            if !item.is_live(now_secs) {
                continue;
            }
            if items.len() == limit {
                more = true;
                break;
            }
            items.push(item);
        }
        let next = if more { items.last().map(|i| i.sk.clone()) } else { None };
        Ok(Page { items, next })
    }

    async fn transact(&self, writes: Vec<Write>, now_secs: i64) -> Result<(), StoreError> {
        if writes.is_empty() {
            return Ok(());
        }
        if writes.len() > MAX_TRANSACTION_WRITES {
            return Err(StoreError::Invalid(format!("{} writes in one transaction", writes.len())));
        }
        let mut keys: Vec<(&str, &str)> = writes.iter().map(Write::key).collect();
        keys.sort_unstable();
        if keys.windows(2).any(|w| w.first() == w.get(1)) {
            return Err(StoreError::Invalid("a key appears twice in one transaction".into()));
        }
        let db = self.db.clone();
        tokio::task::spawn_blocking(move || Self::apply(&db, writes, now_secs)).await.map_err(unavailable)?
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// A store on a real file whose directory is removed at once: the open file lives on
    /// (Unix) until the store drops, and no test leaves a directory behind.
    fn fresh() -> EmbeddedStore {
        let dir = std::env::temp_dir().join(format!("tessera-store-{}", uuid_like()));
        let store = EmbeddedStore::open(&dir).unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        store
    }

    /// Removes a test's data directory when dropped (also when the test fails).
    struct TempDir(std::path::PathBuf);

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn uuid_like() -> String {
        use rand::RngCore;
        let mut b = [0u8; 12];
        rand::rngs::OsRng.fill_bytes(&mut b);
        hex::encode(b)
    }

    tessera_core::store_contract_tests!(fresh());

    #[tokio::test]
    async fn state_survives_reopen() {
        let dir = std::env::temp_dir().join(format!("tessera-reopen-{}", uuid_like()));
        let _cleanup = TempDir(dir.clone());
        {
            let s = EmbeddedStore::open(&dir).unwrap();
            s.transact(
                vec![Write::put(Item::new("p", "s", serde_json::json!({"x": 1})), Cond::NotExists)],
                0,
            )
            .await
            .unwrap();
        }
        let s = EmbeddedStore::open(&dir).unwrap();
        assert_eq!(s.get("p", "s", 0).await.unwrap().unwrap().body, serde_json::json!({"x": 1}));
    }
}
