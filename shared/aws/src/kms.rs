//! The master key that seals secrets at rest, held as a KMS data key.
//!
//! The store keeps only the data key's ciphertext (item `CONFIG`/`DATAKEY`, body
//! `{"ciphertext": "<base64 CiphertextBlob>"}`); the 32 plaintext bytes exist only in memory,
//! after KMS `Decrypt`. Hand them to [`tessera_core::ports::AesGcmCipher::new`].

use aws_sdk_kms::error::DisplayErrorContext;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::DataKeySpec;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde_json::json;
use tessera_core::store::{Cond, Item, Store, StoreError, Write};
use tessera_core::Error;

/// Partition and sort key of the item holding the encrypted data key.
pub const DATA_KEY_PK: &str = "CONFIG";
pub const DATA_KEY_SK: &str = "DATAKEY";

/// Length of the AES-256 data key.
const KEY_LEN: usize = 32;

/// Returns the deployment's 32-byte master key: the data key stored under
/// `CONFIG`/`DATAKEY`, decrypted with KMS. On first use a new AES-256 data key is generated
/// under `kms_key_id` (key ID, ARN or alias) and its ciphertext stored with a `NotExists`
/// condition; when several cold starts race, the first writer's key wins and everyone uses it.
pub async fn load_or_create_data_key(
    kms: &aws_sdk_kms::Client,
    store: &dyn Store,
    kms_key_id: &str,
    now_secs: i64,
) -> Result<Vec<u8>, Error> {
    let ciphertext = match read_ciphertext(store, now_secs).await? {
        Some(c) => c,
        None => create_ciphertext(kms, store, kms_key_id, now_secs).await?,
    };
    let out =
        kms.decrypt().key_id(kms_key_id).ciphertext_blob(Blob::new(ciphertext)).send().await.map_err(
            |e| Error::internal(format!("KMS Decrypt of the data key: {}", DisplayErrorContext(&e))),
        )?;
    let key = out
        .plaintext()
        .map(|p| p.as_ref().to_vec())
        .ok_or_else(|| Error::internal("KMS Decrypt returned no plaintext"))?;
    if key.len() != KEY_LEN {
        return Err(Error::internal(format!("the data key is {} bytes, expected {KEY_LEN}", key.len())));
    }
    Ok(key)
}

async fn read_ciphertext(store: &dyn Store, now_secs: i64) -> Result<Option<Vec<u8>>, Error> {
    let Some(item) = store.get(DATA_KEY_PK, DATA_KEY_SK, now_secs).await? else {
        return Ok(None);
    };
    let encoded = item
        .body
        .get("ciphertext")
        .and_then(|c| c.as_str())
        .ok_or_else(|| Error::internal("the stored data key has no ciphertext"))?;
    let bytes = STANDARD
        .decode(encoded)
        .map_err(|e| Error::internal(format!("the stored data key is not base64: {e}")))?;
    Ok(Some(bytes))
}

/// A new AES-256 data key under `kms_key_id`, as KMS encrypted it (the plaintext is not kept).
async fn generate_data_key(kms: &aws_sdk_kms::Client, kms_key_id: &str) -> Result<Vec<u8>, Error> {
    let out = kms
        .generate_data_key()
        .key_id(kms_key_id)
        .key_spec(DataKeySpec::Aes256)
        .send()
        .await
        .map_err(|e| Error::internal(format!("KMS GenerateDataKey: {}", DisplayErrorContext(&e))))?;
    out.ciphertext_blob()
        .map(|b| b.as_ref().to_vec())
        .ok_or_else(|| Error::internal("KMS GenerateDataKey returned no ciphertext"))
}

async fn create_ciphertext(
    kms: &aws_sdk_kms::Client,
    store: &dyn Store,
    kms_key_id: &str,
    now_secs: i64,
) -> Result<Vec<u8>, Error> {
    let ciphertext = generate_data_key(kms, kms_key_id).await?;
    let item = Item::new(DATA_KEY_PK, DATA_KEY_SK, json!({ "ciphertext": STANDARD.encode(&ciphertext) }));
    match store.transact(vec![Write::put(item, Cond::NotExists)], now_secs).await {
        Ok(()) => {
            tracing::info!("generated and stored a new KMS data key");
            Ok(ciphertext)
        }
        Err(StoreError::ConditionFailed { .. }) => {
            // Another instance stored its key first: use that one.
            read_ciphertext(store, now_secs)
                .await?
                .ok_or_else(|| Error::internal("the data key vanished after a lost creation race"))
        }
        Err(e) => Err(e.into()),
    }
}

// ---- Rotation (docs/keys.md, "Rotating the KMS data key") ---------------------------------
//
// The item grows: `{"ciphertext", "version", "previous": [{"version", "ciphertext"}],
// "next": {"version", "ciphertext", "staged"}}`. `ciphertext`/`version` is the key that
// seals; `previous` keys still open what is not yet re-sealed; `next` is staged: instances
// started after staging open with it, nothing seals with it until it is activated.

/// Every data key of the item, decrypted, and the version that seals.
pub struct DataKeys {
    pub sealing: u8,
    pub keys: Vec<(u8, Vec<u8>)>,
}

impl DataKeys {
    pub fn cipher(&self) -> Result<tessera_core::ports::AesGcmCipher, Error> {
        let keys: Vec<(u8, &[u8])> = self.keys.iter().map(|(v, k)| (*v, k.as_slice())).collect();
        tessera_core::ports::AesGcmCipher::ring_sealing_with(&keys, self.sealing)
    }
}

fn version_of(v: &serde_json::Value) -> u8 {
    v.get("version").and_then(serde_json::Value::as_u64).and_then(|n| u8::try_from(n).ok()).unwrap_or(1)
}

async fn decrypt(kms: &aws_sdk_kms::Client, kms_key_id: &str, b64: &str) -> Result<Vec<u8>, Error> {
    let blob =
        STANDARD.decode(b64).map_err(|e| Error::internal(format!("a stored data key is not base64: {e}")))?;
    let out =
        kms.decrypt().key_id(kms_key_id).ciphertext_blob(Blob::new(blob)).send().await.map_err(|e| {
            Error::internal(format!("KMS Decrypt of a data key: {}", DisplayErrorContext(&e)))
        })?;
    let key = out
        .plaintext()
        .map(|p| p.as_ref().to_vec())
        .ok_or_else(|| Error::internal("KMS Decrypt returned no plaintext"))?;
    if key.len() != KEY_LEN {
        return Err(Error::internal(format!("a data key is {} bytes, expected {KEY_LEN}", key.len())));
    }
    Ok(key)
}

/// The deployment's data keys (made on first use, as [`load_or_create_data_key`]).
pub async fn load_data_keys(
    kms: &aws_sdk_kms::Client,
    store: &dyn Store,
    kms_key_id: &str,
    now_secs: i64,
) -> Result<DataKeys, Error> {
    load_or_create_data_key(kms, store, kms_key_id, now_secs).await?;
    let item = store
        .get(DATA_KEY_PK, DATA_KEY_SK, now_secs)
        .await?
        .ok_or_else(|| Error::internal("the data key vanished"))?;
    let body = &item.body;
    let sealing = version_of(body);
    let mut keys = Vec::new();
    let current =
        body.get("ciphertext").and_then(|c| c.as_str()).ok_or_else(|| Error::internal("no ciphertext"))?;
    keys.push((sealing, decrypt(kms, kms_key_id, current).await?));
    for entry in body.get("previous").and_then(|p| p.as_array()).into_iter().flatten().chain(body.get("next"))
    {
        if let Some(ct) = entry.get("ciphertext").and_then(|c| c.as_str()) {
            keys.push((version_of(entry), decrypt(kms, kms_key_id, ct).await?));
        }
    }
    Ok(DataKeys { sealing, keys })
}

/// How long a staged data key is loaded by new instances before it may seal: Lambda instances
/// started before the staging do not know it (a redeploy replaces them all at once).
pub const STAGE_LEAD_SECS: i64 = 24 * 3600;

async fn update_item(
    store: &dyn Store,
    now_secs: i64,
    change: impl FnOnce(&mut serde_json::Map<String, serde_json::Value>) -> Result<(), Error>,
) -> Result<(), Error> {
    let item = store
        .get(DATA_KEY_PK, DATA_KEY_SK, now_secs)
        .await?
        .ok_or_else(|| Error::invalid("this table has no data key yet"))?;
    let mut body = item.body.as_object().cloned().unwrap_or_default();
    change(&mut body)?;
    let new = Item::new(DATA_KEY_PK, DATA_KEY_SK, serde_json::Value::Object(body));
    store.transact(vec![Write::put_versioned(new, Some(item.version))], now_secs).await.map_err(|e| match e {
        StoreError::ConditionFailed { .. } => {
            Error::ConcurrentModificationException("the data key changed meanwhile".into())
        }
        e => e.into(),
    })
}

/// Stages a new data key (GenerateDataKey under `kms_key_id`): returns its version.
pub async fn stage_data_key(
    kms: &aws_sdk_kms::Client,
    store: &dyn Store,
    kms_key_id: &str,
    now_secs: i64,
) -> Result<u8, Error> {
    let ciphertext = STANDARD.encode(generate_data_key(kms, kms_key_id).await?);
    let mut staged = 0;
    update_item(store, now_secs, |body| {
        if body.contains_key("next") {
            return Err(Error::invalid("a data key is staged already: activate it first"));
        }
        let newest = std::iter::once(version_of(&serde_json::Value::Object(body.clone())))
            .chain(body.get("previous").and_then(|p| p.as_array()).into_iter().flatten().map(version_of))
            .max()
            .unwrap_or(1);
        staged = newest
            .checked_add(1)
            .ok_or_else(|| Error::invalid("255 data key versions: drop old ones first"))?;
        body.insert("next".into(), json!({"version": staged, "ciphertext": ciphertext, "staged": now_secs}));
        Ok(())
    })
    .await?;
    Ok(staged)
}

/// Makes the staged key the sealing one (after [`STAGE_LEAD_SECS`], or at once with `force`);
/// the old one moves to `previous`. Returns the new sealing version.
pub async fn activate_data_key(store: &dyn Store, now_secs: i64, force: bool) -> Result<u8, Error> {
    let mut active = 0;
    update_item(store, now_secs, |body| {
        let next = body.remove("next").ok_or_else(|| Error::invalid("no data key is staged"))?;
        let staged = next.get("staged").and_then(serde_json::Value::as_i64).unwrap_or(0);
        if !force && now_secs < staged + STAGE_LEAD_SECS {
            return Err(Error::invalid(format!(
                "the staged data key may seal from {} (a day after staging, so every running instance loaded it); \
                 pass --force after redeploying the functions",
                staged + STAGE_LEAD_SECS
            )));
        }
        let old = json!({"version": version_of(&serde_json::Value::Object(body.clone())), "ciphertext": body.get("ciphertext").cloned()});
        let previous = body.entry("previous").or_insert_with(|| json!([]));
        if let Some(list) = previous.as_array_mut() {
            list.push(old);
        }
        active = version_of(&next);
        body.insert("ciphertext".into(), next.get("ciphertext").cloned().unwrap_or_default());
        body.insert("version".into(), json!(active));
        Ok(())
    })
    .await?;
    Ok(active)
}

/// Forgets the previous data keys (after a finished re-seal).
pub async fn drop_previous_data_keys(store: &dyn Store, now_secs: i64) -> Result<(), Error> {
    update_item(store, now_secs, |body| {
        body.remove("previous");
        Ok(())
    })
    .await
}
