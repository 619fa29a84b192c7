//! `tessera master-key`: a key file gains a version, every sealed value is re-sealed with it
//! (resumably), the old version is dropped, and the store still works: sign-in (SRP verifier,
//! signing keys), a TOTP secret, a device verifier. Values sealed by a dropped key no longer open.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use base64::Engine as _;
use serde_json::json;
use std::path::Path;
use std::sync::Arc;
use tessera_core::ports::AesGcmCipher;
use tessera_core::store::{Cond, Item, Write};
use tessera_core::Service;
use tessera_local::embedded::EmbeddedStore;

mod common;
use common::{tessera, Scratch};

fn service(dir: &Path, key_file: &Path) -> Arc<Service> {
    let ring = tessera_local::server::load_key_ring(key_file).unwrap();
    tessera_local::backup::service_with(
        Arc::new(EmbeddedStore::open(dir).unwrap()),
        tessera_local::server::ring_cipher(&ring).unwrap(),
    )
    .unwrap()
}

/// The key versions of ann's sealed SRP verifier and of the pool's ID signing key.
async fn versions_of(svc: &Service, pool: &str) -> (Option<u8>, Option<u8>) {
    let version = |b64: &str| {
        AesGcmCipher::sealed_version(&base64::engine::general_purpose::STANDARD.decode(b64).unwrap())
    };
    let user = svc.store.get(&format!("USER#{pool}#ann"), "USER", 0).await.unwrap().unwrap();
    let pool_item = svc.store.get(&format!("POOL#{pool}"), "POOL", 0).await.unwrap().unwrap();
    (
        version(user.body["srp"]["sealed_verifier"].as_str().unwrap()),
        version(pool_item.body["keys"]["id"]["sealed_private"].as_str().unwrap()),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotate_reseal_and_drop_the_old_key() {
    let scratch = Scratch::new("master-key");
    let dir = scratch.0.join("data");
    let key_file = scratch.0.join("data.key");
    tessera_local::server::load_or_create_key(&key_file).unwrap();
    let (pool, client) = {
        let svc = service(&dir, &key_file);
        let (pool, client) =
            common::pool_with_users(&svc, "mk", &["ALLOW_ADMIN_USER_PASSWORD_AUTH"], &["ann"]).await;
        common::admin_sign_in(&svc, &pool, &client, "ann").await.expect("signs in");
        assert_eq!(versions_of(&svc, &pool).await, (Some(1), Some(1)));
        (pool, client)
    };
    let store_args = ["--data-dir", dir.to_str().unwrap(), "--key-file", key_file.to_str().unwrap()];

    // Rotate: version 2 seals, everything is re-sealed with it, version 1 still opens.
    let (ok, out, err) = tessera(&[&["master-key", "--rotate"], &store_args[..]].concat());
    assert!(ok, "{err}");
    assert!(out.contains("version 2 added") && out.contains("re-sealed"), "{out}");
    let ring = tessera_local::server::load_key_ring(&key_file).unwrap();
    assert_eq!(ring.iter().map(|(v, _)| *v).collect::<Vec<_>>(), [1, 2]);
    let version_1 = ring[0].1.clone();
    {
        let svc = service(&dir, &key_file);
        assert_eq!(versions_of(&svc, &pool).await, (Some(2), Some(2)));
        common::admin_sign_in(&svc, &pool, &client, "ann").await.expect("signs in after the re-seal");
        // A stopped re-seal resumes from its cursor.
        let cursor = Item::new("CONFIG", "RESEAL", json!({"version": 2, "pool": pool, "user_after": null}));
        svc.store.transact(vec![Write::put(cursor, Cond::None)], 0).await.unwrap();
    }
    let (ok, _, err) = tessera(&[&["master-key", "--drop-old"], &store_args[..]].concat());
    assert!(!ok && err.contains("has not finished"), "{err}");
    let (ok, out, err) = tessera(&[&["master-key", "--reseal"], &store_args[..]].concat());
    assert!(ok, "{err}");
    assert!(out.contains("(resumed)"), "{out}");

    // Drop version 1: the store works with version 2 alone.
    let (ok, out, err) = tessera(&[&["master-key", "--drop-old"], &store_args[..]].concat());
    assert!(ok, "{err}");
    assert!(out.contains("only version 2 kept"), "{out}");
    let ring = tessera_local::server::load_key_ring(&key_file).unwrap();
    assert_eq!(ring.iter().map(|(v, _)| *v).collect::<Vec<_>>(), [2]);
    let svc = service(&dir, &key_file);
    common::admin_sign_in(&svc, &pool, &client, "ann").await.expect("signs in with version 2 alone");
    // A value sealed by the dropped key no longer opens.
    let old = AesGcmCipher::new(&version_1).unwrap();
    let sealed =
        tessera_core::ports::SecretCipher::seal(&old, tessera_core::ports::sealed::TOTP_SECRET, b"x")
            .unwrap();
    assert!(tessera_core::ports::SecretCipher::open(
        svc.cipher.as_ref(),
        tessera_core::ports::sealed::TOTP_SECRET,
        &sealed
    )
    .is_err());
}

/// The KMS data key of a DynamoDB table (moto's DynamoDB and KMS): staged, refused to activate
/// early, activated (forced, as after a redeploy) and re-sealed, the previous key dropped; each
/// step read back as a function's cold start reads its keys (`load_data_keys`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kms_data_key_is_staged_activated_and_dropped() {
    let Some(endpoint) = std::env::var("TESSERA_TEST_DYNAMODB_ENDPOINT").ok().filter(|e| !e.is_empty())
    else {
        eprintln!("skipped: TESSERA_TEST_DYNAMODB_ENDPOINT is not set");
        return;
    };
    let sdk = tessera_aws::config::loader(Some(&endpoint), "us-east-1").load().await;
    let kms = aws_sdk_kms::Client::new(&sdk);
    let kms_key = kms.create_key().send().await.unwrap().key_metadata.unwrap().key_id;
    let table = format!("tessera-master-key-{}", std::process::id());
    let ddb = tessera_aws::config::dynamodb_client(Some(&endpoint), "us-east-1").await;
    tessera_aws::dynamo::create_table(&ddb, &table).await.unwrap();
    let store: Arc<dyn tessera_core::store::Store> =
        Arc::new(tessera_aws::dynamo::DynamoStore::new(ddb, table.clone()));
    // As a cold start: the keys the table lists.
    let cold_start = || async {
        let keys = tessera_aws::kms::load_data_keys(&kms, store.as_ref(), &kms_key, 0).await.unwrap();
        let versions: Vec<u8> = keys.keys.iter().map(|(v, _)| *v).collect();
        (
            tessera_local::backup::service_with(store.clone(), keys.cipher().unwrap()).unwrap(),
            keys.sealing,
            versions,
        )
    };
    let (svc, sealing, versions) = cold_start().await;
    assert_eq!((sealing, versions), (1, vec![1]));
    let (pool, client) =
        common::pool_with_users(&svc, "mk", &["ALLOW_ADMIN_USER_PASSWORD_AUTH"], &["ann"]).await;

    let run = |extra: &[&str]| {
        let args = [
            &["master-key", "--store", "dynamodb", "--dynamodb-endpoint", &endpoint, "--table", &table][..],
            &["--kms-key-id", &kms_key],
            extra,
        ]
        .concat();
        let env = [
            ("AWS_ENDPOINT_URL_KMS", endpoint.as_str()),
            ("AWS_ACCESS_KEY_ID", "test"),
            ("AWS_SECRET_ACCESS_KEY", "test"),
            ("AWS_EC2_METADATA_DISABLED", "true"),
        ];
        common::tessera_with(&args, &env)
    };

    let (ok, out, err) = run(&["--stage"]);
    assert!(ok && out.contains("version 2 staged"), "{out}{err}");
    let (svc, sealing, versions) = cold_start().await;
    assert_eq!((sealing, versions), (1, vec![1, 2]), "staged: loaded, not sealing");
    common::admin_sign_in(&svc, &pool, &client, "ann").await.expect("signs in while staged");
    assert_eq!(versions_of(&svc, &pool).await, (Some(1), Some(1)));

    let (ok, _, err) = run(&["--activate"]);
    assert!(!ok && err.contains("a day after staging"), "{err}");
    let (ok, out, err) = run(&["--activate", "--force"]);
    assert!(ok && out.contains("version 2 seals") && out.contains("re-sealed"), "{out}{err}");
    let (svc, sealing, versions) = cold_start().await;
    assert_eq!((sealing, versions), (2, vec![2, 1]));
    assert_eq!(versions_of(&svc, &pool).await, (Some(2), Some(2)));
    common::admin_sign_in(&svc, &pool, &client, "ann").await.expect("signs in after the re-seal");

    let (ok, out, err) = run(&["--drop-old"]);
    assert!(ok && out.contains("dropped"), "{out}{err}");
    let (svc, sealing, versions) = cold_start().await;
    assert_eq!((sealing, versions), (2, vec![2]));
    common::admin_sign_in(&svc, &pool, &client, "ann").await.expect("signs in with the new data key alone");
}
