//! The `tessera` binary's `archive-keygen`, `export` and `restore`: a pool written by one
//! embedded store, exported to an age-encrypted file, restored into a second embedded store
//! and — as an operator would promote it to AWS — into a DynamoDB table whose master key is
//! the KMS data key the Lambda functions read (moto's DynamoDB and KMS).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use tessera_core::Service;
use tessera_local::embedded::EmbeddedStore;

mod common;
use common::{tessera_with as tessera, Scratch};

fn key_file(dir: &Path) -> PathBuf {
    dir.with_extension("key")
}

fn service_on(dir: &Path) -> Arc<Service> {
    let key = tessera_local::server::load_or_create_key(&key_file(dir)).unwrap();
    tessera_local::backup::service(Arc::new(EmbeddedStore::open(dir).unwrap()), &key).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_then_restore_with_the_binary() {
    let scratch = Scratch::new("archive");
    let source = scratch.path("source");
    let (pool, client) = {
        let svc = service_on(&source);
        let flows = ["ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"];
        let (pool, client) = common::pool_with_users(&svc, "cli", &flows, &["ann"]).await;
        common::admin_sign_in(&svc, &pool, &client, "ann").await.expect("the source signs in");
        (pool, client)
    }; // The store closes: the binary opens it next.

    let identity = scratch.path("archive.key");
    let (ok, out, err) = tessera(&["archive-keygen", "--out", identity.to_str().unwrap()], &[]);
    assert!(ok, "{err}");
    let recipient =
        out.lines().find_map(|l| l.strip_prefix("recipient (for --recipient): ")).unwrap().to_string();
    assert!(recipient.starts_with("age1"), "{out}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(std::fs::metadata(&identity).unwrap().permissions().mode() & 0o777, 0o600);
    }
    let (ok, _, err) = tessera(&["archive-keygen", "--out", identity.to_str().unwrap()], &[]);
    assert!(!ok && err.contains("cannot create"), "never over an existing key: {err}");

    let archive = scratch.path("pool.tessera");
    let store_args = |dir: &Path| -> Vec<String> {
        vec![
            "--data-dir".into(),
            dir.display().to_string(),
            "--key-file".into(),
            key_file(dir).display().to_string(),
        ]
    };
    let mut export: Vec<String> = vec!["export".into(), "--user-pool".into(), pool.clone()];
    export.extend(store_args(&source));
    export.extend(["--out".into(), archive.display().to_string()]);
    // Neither a recipient nor a passphrase nor --unencrypted: refused.
    let (ok, _, err) = tessera(&export.iter().map(String::as_str).collect::<Vec<_>>(), &[]);
    assert!(!ok && err.contains("--recipient"), "{err}");
    assert!(!archive.exists());
    export.extend(["--recipient".into(), recipient]);
    let (ok, out, err) = tessera(&export.iter().map(String::as_str).collect::<Vec<_>>(), &[]);
    assert!(ok, "{err}");
    assert!(out.contains("exported"), "{out}");
    assert!(std::fs::read(&archive).unwrap().starts_with(b"age-encryption.org/v1"));

    // Into a new embedded store.
    let target = scratch.path("target");
    let mut restore: Vec<String> = vec!["restore".into(), archive.display().to_string()];
    restore.extend(store_args(&target));
    let (ok, _, err) = tessera(&restore.iter().map(String::as_str).collect::<Vec<_>>(), &[]);
    assert!(!ok && err.contains("--identity"), "{err}");
    restore.extend(["--identity".into(), identity.display().to_string()]);
    let (ok, out, err) = tessera(&restore.iter().map(String::as_str).collect::<Vec<_>>(), &[]);
    assert!(ok, "{err}");
    assert!(out.contains(&format!("restored user pools [{pool}]")) && out.contains("1 users"), "{out}");
    // Again: the pool exists now.
    let (ok, _, err) = tessera(&restore.iter().map(String::as_str).collect::<Vec<_>>(), &[]);
    assert!(!ok && err.contains("--replace"), "{err}");
    {
        let svc = service_on(&target);
        common::admin_sign_in(&svc, &pool, &client, "ann").await.expect("the restored store signs ann in");
    }

    // Into DynamoDB with the stack's KMS key (moto), as `tessera restore` runs from an
    // operator's machine; then read back as a function's cold start reads its master key.
    let Some(endpoint) = std::env::var("TESSERA_TEST_DYNAMODB_ENDPOINT").ok().filter(|e| !e.is_empty())
    else {
        eprintln!("skipped the DynamoDB part: TESSERA_TEST_DYNAMODB_ENDPOINT is not set");
        return;
    };
    let sdk = tessera_aws::config::loader(Some(&endpoint), "us-east-1").load().await;
    let kms = aws_sdk_kms::Client::new(&sdk);
    let kms_key = kms.create_key().send().await.unwrap().key_metadata.unwrap().key_id;
    let table = format!("tessera-archive-{}", std::process::id());
    let restore: Vec<String> = vec![
        "restore".into(),
        archive.display().to_string(),
        "--identity".into(),
        identity.display().to_string(),
        "--store".into(),
        "dynamodb".into(),
        "--dynamodb-endpoint".into(),
        endpoint.clone(),
        "--table".into(),
        table.clone(),
        "--kms-key-id".into(),
        kms_key.clone(),
    ];
    let aws_env = [
        ("AWS_ENDPOINT_URL_KMS", endpoint.as_str()),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("AWS_EC2_METADATA_DISABLED", "true"),
    ];
    let (ok, out, err) = tessera(&restore.iter().map(String::as_str).collect::<Vec<_>>(), &aws_env);
    assert!(ok, "{err}");
    assert!(out.contains("1 users"), "{out}");
    let ddb = tessera_aws::config::dynamodb_client(Some(&endpoint), "us-east-1").await;
    let store: Arc<dyn tessera_core::store::Store> =
        Arc::new(tessera_aws::dynamo::DynamoStore::new(ddb, table));
    let key = tessera_aws::kms::load_or_create_data_key(&kms, store.as_ref(), &kms_key, 0).await.unwrap();
    let svc = tessera_local::backup::service(store, &key).unwrap();
    let tokens = common::admin_sign_in(&svc, &pool, &client, "ann")
        .await
        .expect("the table signs ann in with the KMS data key");
    assert!(tokens["AuthenticationResult"]["AccessToken"].is_string(), "{tokens}");
}
