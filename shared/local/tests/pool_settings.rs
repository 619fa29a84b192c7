//! `tessera pool-settings` (docs/sign-in-settings.md) on the embedded store: the dry run lists
//! the conflicts and writes nothing, the change is refused until they are resolved, a change
//! stopped part-way resumes when the command runs again without changes; and `tessera cost`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::{json, Value};
use std::path::Path;
use std::sync::Arc;
use tessera_core::Service;
use tessera_local::embedded::EmbeddedStore;

mod common;
use common::{tessera, Scratch};

fn service(dir: &Path, key_file: &Path) -> Arc<Service> {
    let key = tessera_local::server::load_or_create_key(key_file).unwrap();
    tessera_local::backup::service(Arc::new(EmbeddedStore::open(dir).unwrap()), &key).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_refusal_and_a_resumed_change() {
    let scratch = Scratch::new("pool-settings");
    let dir = scratch.0.join("data");
    let key_file = scratch.0.join("data.key");
    let (pool, client) = {
        let svc = service(&dir, &key_file);
        let users = ["Ann", "ann", "Bob", "Cid", "Dee"];
        common::pool_with_users(&svc, "ps", &["ALLOW_ADMIN_USER_PASSWORD_AUTH"], &users).await
    };
    let store =
        ["--data-dir", dir.to_str().unwrap(), "--key-file", key_file.to_str().unwrap(), "--user-pool", &pool];

    let (ok, out, err) =
        tessera(&[&["pool-settings", "--case-sensitive", "false", "--dry-run"], &store[..]].concat());
    assert!(ok, "{err}");
    let plan: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(plan["UnresolvedConflictCount"], 1, "{plan}");
    assert_eq!(plan["Conflicts"][0]["Usernames"], json!(["Ann", "ann"]));
    let (ok, _, err) = tessera(&[&["pool-settings", "--case-sensitive", "false"], &store[..]].concat());
    assert!(!ok && err.contains("USERNAMES_FOLD_TO_ONE"), "{err}");

    {
        let svc = service(&dir, &key_file);
        assert!(common::admin_sign_in(&svc, &pool, &client, "BOB").await.is_err(), "still case-sensitive");
        tessera_core::user_pool::admin_delete_user(&svc, &json!({"UserPoolId": pool, "Username": "ann"}))
            .await
            .unwrap();
        // Started, and stopped after one step (as a killed command would leave it).
        let start = json!({"UserPoolId": pool, "CaseSensitive": false});
        tessera_core::tessera_service::start_user_pool_settings_change(&svc, &start).await.unwrap();
        let step = json!({"UserPoolId": pool, "MaxUsers": 2});
        let out =
            tessera_core::tessera_service::continue_user_pool_settings_change(&svc, &step).await.unwrap();
        assert_eq!(out["Status"], "IN_PROGRESS");
        assert!(common::admin_sign_in(&svc, &pool, &client, "ANN").await.is_ok(), "a moved user, mid-change");
        assert!(
            common::admin_sign_in(&svc, &pool, &client, "Dee").await.is_ok(),
            "a user not moved yet, mid-change"
        );
    }
    let (ok, out, err) = tessera(&[&["pool-settings", "--step", "1"], &store[..]].concat());
    assert!(ok, "{err}");
    assert!(out.contains("COMPLETE"), "{out}");
    let (ok, _, err) = tessera(&[&["pool-settings"], &store[..]].concat());
    assert!(!ok && err.contains("No sign-in settings change"), "{err}");
    let svc = service(&dir, &key_file);
    for name in ["ANN", "bob", "CID", "dee"] {
        common::admin_sign_in(&svc, &pool, &client, name).await.unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

#[test]
fn cost_prints_the_bill_beside_cognitos() {
    let (ok, out, err) = tessera(&["cost", "--mau", "100000"]);
    assert!(ok, "{err}");
    assert!(
        out.contains("essentials")
            && out.contains("1350.00")
            && out.contains("Tessera costs less than Essentials from"),
        "{out}"
    );
    let (ok, out, _) = tessera(&["cost", "--mau", "250000", "--json"]);
    assert!(ok);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert!(v["tessera_usd"].as_f64().unwrap() < v["cognito_usd"]["essentials"].as_f64().unwrap());
    let (ok, _, err) = tessera(&["cost"]);
    assert!(!ok && err.contains("--mau"), "{err}");
}
