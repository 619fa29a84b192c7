//! amazon-cognito-js, the Cognito Sync Manager of the AWS SDK for JavaScript (v2), against a real
//! server: the SDK's credentials provider gets an identity and credentials (GetId +
//! GetCredentialsForIdentity), and two devices of that identity, each a Sync Manager with its own
//! local store, open a dataset, put records, synchronize, resolve a conflict and see a removal.
//! The node script tests/js/sync-client.mjs drives the SDK; these tests set the identity pool up
//! with the Rust SDK, run the script, and check what it reports and what the server holds.

use crate::common::*;
use crate::on_both_stores;
use aws_sdk_cognitoidentity as ci;
use base64::Engine;
use serde_json::{json, Value};
use std::collections::BTreeMap;

const AUTH_ROLE: &str = "arn:aws:iam::000000000000:role/tessera-js-authenticated";
const UNAUTH_ROLE: &str = "arn:aws:iam::000000000000:role/tessera-js-unauthenticated";

/// Runs the node script with one JSON argument and returns the JSON line it prints.
async fn run_js(input: Value) -> Value {
    run_node("sync-client.mjs", &["amazon-cognito-js", "aws-sdk"], input).await
}

fn claims(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).unwrap())
        .unwrap()
}

/// An identity pool with both roles, unauthenticated identities allowed, trusting `provider`
/// (a Tessera user pool: `host:port/poolId`) through `client_id`.
async fn identity_pool(env: &TestEnv, provider: Option<(&str, &str)>) -> String {
    let admin = identity_client(&env.url, ADMIN_KEY, ADMIN_SECRET).await;
    let mut create =
        admin.create_identity_pool().identity_pool_name("js_sync").allow_unauthenticated_identities(true);
    if let Some((name, client_id)) = provider {
        create = create.cognito_identity_providers(
            ci::types::CognitoIdentityProvider::builder()
                .provider_name(name)
                .client_id(client_id)
                .server_side_token_check(true)
                .build(),
        );
    }
    let pool = create.send().await.expect("CreateIdentityPool").identity_pool_id().to_string();
    admin
        .set_identity_pool_roles()
        .identity_pool_id(&pool)
        .roles("authenticated", AUTH_ROLE)
        .roles("unauthenticated", UNAUTH_ROLE)
        .send()
        .await
        .expect("SetIdentityPoolRoles");
    pool
}

fn step<'a>(out: &'a Value, name: &str) -> &'a Value {
    out["steps"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["name"] == name))
        .unwrap_or_else(|| panic!("no step {name}: {out}"))
}

/// The operations the SDK called in a step.
fn operations(step: &Value) -> Vec<&str> {
    step["requests"].as_array().unwrap().iter().map(|r| r["operation"].as_str().unwrap()).collect()
}

/// The (op, key, syncCount) of the patches of every UpdateRecords of a step, sorted by key.
fn patches(step: &Value) -> Vec<(String, String, i64)> {
    let mut all: Vec<_> = step["requests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["operation"] == "updateRecords")
        .flat_map(|r| r["patches"].as_array().unwrap().iter())
        .map(|p| {
            (
                p["op"].as_str().unwrap().to_string(),
                p["key"].as_str().unwrap().to_string(),
                p["syncCount"].as_i64().unwrap(),
            )
        })
        .collect();
    all.sort_by(|a, b| a.1.cmp(&b.1));
    all
}

/// (step, operation, Logins keys) of the calls the credentials provider made, all answered 200.
fn credential_calls(out: &Value) -> Vec<(String, String, Vec<String>)> {
    out["credentialRequests"]
        .as_array()
        .unwrap_or_else(|| panic!("{out}"))
        .iter()
        .map(|r| {
            assert_eq!(r["status"], 200, "{r}");
            let logins = r["logins"].as_array().unwrap().iter().map(|l| l.as_str().unwrap().to_string());
            (
                r["step"].as_str().unwrap().to_string(),
                r["operation"].as_str().unwrap().to_string(),
                logins.collect(),
            )
        })
        .collect()
}

/// The record sync counts a device holds after a step.
fn local_counts(step: &Value) -> BTreeMap<String, i64> {
    step["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["key"].as_str().unwrap().to_string(), r["syncCount"].as_i64().unwrap()))
        .collect()
}

/// Checks the script's report of the scenario (see tests/js/sync-client.mjs) and what the server
/// holds afterwards.
async fn check_scenario(env: &TestEnv, pool: &str, out: &Value) -> String {
    assert_eq!(out["ok"], true, "{out}");
    let identity = out["identityIds"]["A"].as_str().unwrap().to_string();
    assert!(identity.starts_with("us-east-1:"), "{identity}");
    assert_eq!(out["identityIds"]["B"], identity.as_str(), "both devices are the same identity");
    assert_eq!(out["accessKeyIdsDiffer"], true, "each device got its own credentials");

    // A1: a new dataset (ListRecords answers for it), three records written at sync count 1.
    let a1 = step(out, "A1");
    assert_eq!(operations(a1), ["listRecords", "updateRecords"], "{a1}");
    assert_eq!(a1["requests"][0]["datasetExists"], false);
    assert_eq!(a1["requests"][0]["datasetSyncCount"], 0);
    assert_eq!(a1["requests"][0]["sessionToken"], true);
    assert_eq!(
        patches(a1),
        [
            ("replace".into(), "color".into(), 0),
            ("replace".into(), "level".into(), 0),
            ("replace".into(), "name".into(), 0)
        ]
    );
    assert_eq!(a1["lastSyncCount"], 1);

    // B1: the other device gets A's values.
    let b1 = step(out, "B1");
    assert_eq!(b1["values"], json!({"name": "Amy", "color": "green", "level": "1"}), "{b1}");
    assert_eq!(b1["lastSyncCount"], 1);
    assert_eq!(b1["requests"][0]["lastSyncCount"], 0);

    let a2 = step(out, "A2");
    assert_eq!(
        patches(a2),
        [("replace".into(), "color".into(), 1), ("replace".into(), "nickname".into(), 0)]
    );
    assert_eq!(a2["lastSyncCount"], 2);

    // B2: both changed color and nickname; A synced first, so B's sync stops at onConflict.
    // color is resolved with the remote record, nickname with the local one, which is then
    // written at the remote record's count with B's other change (level).
    let b2 = step(out, "B2");
    let mut conflicts: Vec<Value> = b2["conflicts"].as_array().unwrap().clone();
    conflicts.sort_by_key(|c| c["key"].as_str().unwrap().to_string());
    assert_eq!(
        conflicts,
        [
            json!({"key": "color", "local": "blue", "remote": "red", "remoteSyncCount": 2, "resolvedWith": "remote"}),
            json!({"key": "nickname", "local": "Bee", "remote": "Ace", "remoteSyncCount": 2, "resolvedWith": "local"}),
        ],
        "{b2}"
    );
    assert_eq!(
        patches(b2),
        [("replace".into(), "level".into(), 1), ("replace".into(), "nickname".into(), 2)],
        "{b2}"
    );
    assert_eq!(b2["values"], json!({"name": "Amy", "color": "red", "nickname": "Bee", "level": "2"}), "{b2}");
    assert_eq!(b2["lastSyncCount"], 3);

    // A3: A gets B's resolution.
    let a3 = step(out, "A3");
    assert_eq!(a3["values"], b2["values"], "{a3}");
    assert_eq!(a3["lastSyncCount"], 3);

    // A4 and B3: a removal, written as Op "remove" and delivered to B as a record without a
    // value (this client keeps it locally with the value "").
    let a4 = step(out, "A4");
    assert_eq!(patches(a4), [("remove".into(), "level".into(), 3)], "{a4}");
    assert_eq!(a4["lastSyncCount"], 4);
    let b3 = step(out, "B3");
    let delivered = b3["requests"][0]["records"].as_array().unwrap();
    assert_eq!(delivered, &[json!({"key": "level", "value": null, "syncCount": 4})], "{b3}");
    assert_eq!(b3["values"], json!({"name": "Amy", "color": "red", "nickname": "Bee", "level": ""}), "{b3}");
    assert_eq!(b3["lastSyncCount"], 4);
    let counts = local_counts(b3);
    assert_eq!(counts, local_counts(step(out, "A4")), "both devices hold the same sync counts");
    assert_eq!(
        counts,
        [("color", 2), ("level", 4), ("name", 1), ("nickname", 3)].map(|(k, c)| (k.to_string(), c)).into()
    );

    // What the server holds, read with the developer's keys.
    let admin = sync_client(&env.url, ADMIN_KEY, ADMIN_SECRET, None).await;
    let listed = admin
        .list_records()
        .identity_pool_id(pool)
        .identity_id(&identity)
        .dataset_name("profile")
        .send()
        .await
        .expect("ListRecords");
    assert_eq!(listed.dataset_sync_count(), Some(4));
    assert!(listed.dataset_exists());
    let mut records: Vec<(String, Option<String>, Option<i64>)> = listed
        .records()
        .iter()
        .map(|r| (r.key().unwrap().to_string(), r.value().map(str::to_string), r.sync_count()))
        .collect();
    records.sort();
    assert_eq!(
        records,
        [
            ("color".to_string(), Some("red".to_string()), Some(2)),
            ("level".to_string(), None, Some(4)),
            ("name".to_string(), Some("Amy".to_string()), Some(1)),
            ("nickname".to_string(), Some("Bee".to_string()), Some(3)),
        ]
    );
    let dataset = admin
        .describe_dataset()
        .identity_pool_id(pool)
        .identity_id(&identity)
        .dataset_name("profile")
        .send()
        .await
        .expect("DescribeDataset");
    let dataset = dataset.dataset().unwrap();
    assert_eq!(dataset.num_records(), Some(3), "the removed record is not counted");
    // Key and value bytes of the live records: name+Amy, color+red, nickname+Bee.
    assert_eq!(dataset.data_storage(), Some(7 + 8 + 11));
    check_deletion(env, pool, &identity, out, 1).await;
    let datasets = admin.list_datasets().identity_pool_id(pool).identity_id(&identity).send().await.unwrap();
    let names: Vec<_> = datasets.datasets().iter().filter_map(|d| d.dataset_name()).collect();
    assert_eq!(names, ["profile"], "the deleted dataset is not listed");
    identity
}

/// The deletion steps D1–D4 on the dataset "scratch": written at sync count `count`, deleted by A
/// through the Sync Manager (DeleteDataset), reported deleted to B.
async fn check_deletion(env: &TestEnv, pool: &str, identity: &str, out: &Value, count: i64) {
    let d1 = step(out, "D1");
    assert_eq!(d1["requests"][0]["datasetExists"], false, "{d1}");
    assert_eq!(d1["requests"][0]["datasetDeletedAfterRequestedSyncCount"], false, "{d1}");
    assert_eq!(patches(d1), [("replace".into(), "draft".into(), 0)]);
    assert_eq!(d1["requests"][1]["records"], json!([{"key": "draft", "value": "x", "syncCount": count}]));
    let d2 = step(out, "D2");
    assert_eq!(d2["values"], json!({"draft": "x"}), "{d2}");
    let d3 = step(out, "D3");
    assert_eq!(operations(d3), ["deleteDataset"], "{d3}");
    assert_eq!(d3["requests"][0]["status"], 200);
    assert_eq!(d3["values"], json!({}));
    // B, last synced at `count`, is told the dataset was deleted after it.
    let d4 = step(out, "D4");
    assert_eq!(d4["datasetDeleted"], "scratch", "{d4}");
    let listed = &d4["requests"][0];
    assert_eq!(listed["lastSyncCount"], count);
    assert_eq!(listed["datasetExists"], false, "{d4}");
    assert_eq!(listed["datasetDeletedAfterRequestedSyncCount"], true, "{d4}");
    let admin = sync_client(&env.url, ADMIN_KEY, ADMIN_SECRET, None).await;
    let e = admin
        .describe_dataset()
        .identity_pool_id(pool)
        .identity_id(identity)
        .dataset_name("scratch")
        .send()
        .await
        .unwrap_err();
    assert!(err_name(e).starts_with("ResourceNotFoundException"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn js_sync_manager_syncs_an_unauthenticated_identity() {
    let env = TestEnv::start(Backend::Embedded).await.expect("server");
    let pool = identity_pool(&env, None).await;
    let out = run_js(json!({"endpoint": env.url, "region": "us-east-1", "identityPoolId": pool})).await;
    let identity = check_scenario(&env, &pool, &out).await;
    // Device A called GetId; device B was given A's IdentityId, as an app restores it.
    assert_eq!(
        credential_calls(&out),
        [
            ("credentials A".to_string(), "getId".to_string(), vec![]),
            ("credentials A".to_string(), "getCredentialsForIdentity".to_string(), vec![]),
            ("credentials B".to_string(), "getCredentialsForIdentity".to_string(), vec![]),
        ]
    );
    let admin = identity_client(&env.url, ADMIN_KEY, ADMIN_SECRET).await;
    let described = admin.describe_identity().identity_id(&identity).send().await.expect("DescribeIdentity");
    assert!(described.logins().is_empty(), "unauthenticated: {described:?}");
}

on_both_stores!(js_sync_manager_syncs_a_signed_in_user, |env| {
    let user_pool = env.email_pool().await;
    let (client_id, _) = env.app_client(&user_pool, &["ALLOW_ADMIN_USER_PASSWORD_AUTH"], false).await;
    env.confirmed_user(&client_id, "jo@example.com").await;
    let tokens = env.admin_sign_in(&user_pool, &client_id, "jo@example.com").await;
    let id_token = tokens.id_token().unwrap().to_string();
    // The Logins key, as Amplify builds it: the token's issuer without the scheme.
    let provider = claims(&id_token)["iss"].as_str().unwrap().trim_start_matches("http://").to_string();
    assert_eq!(provider, format!("{}/{user_pool}", env.url.trim_start_matches("http://")));
    let pool = identity_pool(env, Some((&provider, &client_id))).await;

    let out = run_js(json!({
        "endpoint": env.url,
        "region": "us-east-1",
        "identityPoolId": pool,
        "logins": {provider.clone(): id_token},
    }))
    .await;
    let identity = check_scenario(env, &pool, &out).await;
    // Both devices called GetId with the login and got the same identity, linked to it.
    let with_login = |device: &str, op: &str| (device.to_string(), op.to_string(), vec![provider.clone()]);
    assert_eq!(
        credential_calls(&out),
        [
            with_login("credentials A", "getId"),
            with_login("credentials A", "getCredentialsForIdentity"),
            with_login("credentials B", "getId"),
            with_login("credentials B", "getCredentialsForIdentity"),
        ]
    );
    let admin = identity_client(&env.url, ADMIN_KEY, ADMIN_SECRET).await;
    let described = admin.describe_identity().identity_id(&identity).send().await.expect("DescribeIdentity");
    assert_eq!(described.logins(), std::slice::from_ref(&provider));

    // A later run with the same login (new devices, another dataset) is the same identity.
    let again = run_js(json!({
        "endpoint": env.url,
        "region": "us-east-1",
        "identityPoolId": pool,
        "logins": {provider: tokens.id_token().unwrap()},
        "dataset": "settings",
    }))
    .await;
    assert_eq!(again["ok"], true, "{again}");
    assert_eq!(again["identityIds"]["A"], identity.as_str());
    // "scratch" again: written anew after its deletion, its sync count goes on from there, so
    // a device that saw the old one would still learn of the deletion.
    check_deletion(env, &pool, &identity, &again, 2).await;
    let admin_sync = sync_client(&env.url, ADMIN_KEY, ADMIN_SECRET, None).await;
    let datasets =
        admin_sync.list_datasets().identity_pool_id(&pool).identity_id(&identity).send().await.unwrap();
    let mut names: Vec<_> = datasets.datasets().iter().filter_map(|d| d.dataset_name()).collect();
    names.sort();
    assert_eq!(names, ["profile", "settings"]);
});
