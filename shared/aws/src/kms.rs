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

async fn create_ciphertext(
    kms: &aws_sdk_kms::Client,
    store: &dyn Store,
    kms_key_id: &str,
    now_secs: i64,
) -> Result<Vec<u8>, Error> {
    let out = kms
        .generate_data_key()
        .key_id(kms_key_id)
        .key_spec(DataKeySpec::Aes256)
        .send()
        .await
        .map_err(|e| Error::internal(format!("KMS GenerateDataKey: {}", DisplayErrorContext(&e))))?;
    let ciphertext = out
        .ciphertext_blob()
        .map(|b| b.as_ref().to_vec())
        .ok_or_else(|| Error::internal("KMS GenerateDataKey returned no ciphertext"))?;
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
