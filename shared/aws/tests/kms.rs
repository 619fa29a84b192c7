//! The KMS-held master key against moto's KMS and DynamoDB (`TESSERA_TEST_DYNAMODB_ENDPOINT`).
//! Without the variable every test prints that it is skipped and passes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;

use base64::Engine as _;
use tessera_aws::kms::{load_or_create_data_key, DATA_KEY_PK, DATA_KEY_SK};
use tessera_core::ports::{AesGcmCipher, SecretCipher};
use tessera_core::store::Store;

const NOW: i64 = 1_800_000_000;

async fn create_key(kms: &aws_sdk_kms::Client) -> String {
    let out = kms.create_key().description("tessera test master key").send().await.unwrap();
    out.key_metadata().unwrap().key_id().to_owned()
}

#[tokio::test]
async fn data_key_is_created_once_and_reused() {
    let Some(store) = common::fresh_store("data_key_is_created_once_and_reused").await else {
        return;
    };
    let kms = common::kms(&common::endpoint("kms").unwrap());
    let key_id = create_key(&kms).await;

    let first = load_or_create_data_key(&kms, &store, &key_id, NOW).await.unwrap();
    assert_eq!(first.len(), 32);
    let stored = store.get(DATA_KEY_PK, DATA_KEY_SK, NOW).await.unwrap().unwrap();
    let ciphertext = base64::engine::general_purpose::STANDARD
        .decode(stored.body["ciphertext"].as_str().unwrap())
        .unwrap();
    assert!(!ciphertext.windows(32).any(|w| w == first.as_slice()), "only the ciphertext is stored");

    let again = load_or_create_data_key(&kms, &store, &key_id, NOW + 3600).await.unwrap();
    assert_eq!(again, first);

    let cipher = AesGcmCipher::new(&first).unwrap();
    let sealed = cipher.seal(tessera_core::ports::sealed::SRP_VERIFIER, b"verifier").unwrap();
    let reopened =
        AesGcmCipher::new(&again).unwrap().open(tessera_core::ports::sealed::SRP_VERIFIER, &sealed).unwrap();
    assert_eq!(reopened, b"verifier");
}

#[tokio::test]
async fn racing_cold_starts_agree_on_one_key() {
    let Some(store) = common::fresh_store("racing_cold_starts_agree_on_one_key").await else {
        return;
    };
    let kms = common::kms(&common::endpoint("kms").unwrap());
    let key_id = create_key(&kms).await;
    let store = Arc::new(store);
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (kms, store, key_id) = (kms.clone(), store.clone(), key_id.clone());
        tasks.push(tokio::spawn(async move {
            load_or_create_data_key(&kms, store.as_ref(), &key_id, NOW).await.unwrap()
        }));
    }
    let mut keys = Vec::new();
    for t in tasks {
        keys.push(t.await.unwrap());
    }
    assert!(keys.windows(2).all(|w| w[0] == w[1]), "every instance uses the winner's key");
}

#[tokio::test]
async fn unknown_kms_key_is_an_internal_error() {
    let Some(store) = common::fresh_store("unknown_kms_key_is_an_internal_error").await else {
        return;
    };
    let kms = common::kms(&common::endpoint("kms").unwrap());
    let e = load_or_create_data_key(&kms, &store, "alias/does-not-exist", NOW).await;
    assert!(matches!(e, Err(tessera_core::Error::InternalErrorException(_))), "{e:?}");
    assert_eq!(store.get(DATA_KEY_PK, DATA_KEY_SK, NOW).await.unwrap(), None);
}
