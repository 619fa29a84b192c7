//! The store contract (tessera-core's `store_contract_tests!`) against a DynamoDB-compatible
//! endpoint: `TESSERA_TEST_DYNAMODB_ENDPOINT`, e.g. `http://127.0.0.1:5005` for
//! `moto_server -H 127.0.0.1 -p 5005`. Each test creates its own table, so they run in parallel.
//! Without the variable every test prints that it is skipped and passes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use serde_json::json;
use tessera_aws::dynamo::{create_table, DynamoStore};
use tessera_core::store::{Cond, Item, Store, StoreError, Write, MAX_TRANSACTION_WRITES};

/// A fresh store, or return from the calling test when no endpoint is configured.
macro_rules! store_or_skip {
    ($name:expr) => {
        match crate::common::fresh_store($name).await {
            Some(s) => s,
            None => return,
        }
    };
}

tessera_core::store_contract_tests!(store_or_skip!(module_path!()));

const NOW: i64 = 1_800_000_000;

#[tokio::test]
async fn create_table_is_idempotent_and_enables_ttl() {
    let Some(ep) = common::endpoint("create_table_is_idempotent_and_enables_ttl") else {
        return;
    };
    let client = common::dynamodb(&ep);
    let table = common::unique_name("tessera-test");
    create_table(&client, &table).await.unwrap();
    create_table(&client, &table).await.unwrap();
    let ttl = client.describe_time_to_live().table_name(&table).send().await.unwrap();
    let d = ttl.time_to_live_description().unwrap();
    assert_eq!(d.attribute_name(), Some("ttl"));
    let t = client.describe_table().table_name(&table).send().await.unwrap();
    let t = t.table().unwrap();
    assert!(t.global_secondary_indexes().is_empty());
    let keys: Vec<_> = t.key_schema().iter().map(|k| k.attribute_name().to_owned()).collect();
    assert_eq!(keys, ["pk", "sk"]);
    // moto supports point-in-time recovery, so create_table must have turned it on.
    let backups = client.describe_continuous_backups().table_name(&table).send().await.unwrap();
    let pitr = backups
        .continuous_backups_description()
        .and_then(|d| d.point_in_time_recovery_description())
        .and_then(|p| p.point_in_time_recovery_status());
    assert_eq!(pitr, Some(&aws_sdk_dynamodb::types::PointInTimeRecoveryStatus::Enabled));
}

#[tokio::test]
async fn stored_layout() {
    let s = store_or_skip!("stored_layout");
    let mut it = Item::new("p", "s", json!({"a": 1}));
    it.version = 7;
    it.expires_at = Some(NOW + 60);
    s.transact(vec![Write::put(it, Cond::None)], NOW).await.unwrap();
    let client = common::dynamodb(&common::endpoint("stored_layout").unwrap());
    let out = client
        .get_item()
        .table_name(s.table())
        .key("pk", aws_sdk_dynamodb::types::AttributeValue::S("p".into()))
        .key("sk", aws_sdk_dynamodb::types::AttributeValue::S("s".into()))
        .send()
        .await
        .unwrap();
    let m = out.item().unwrap();
    assert_eq!(m["v"].as_n().unwrap(), "7");
    assert_eq!(m["ttl"].as_n().unwrap(), &(NOW + 60).to_string());
    assert_eq!(m["body"].as_s().unwrap(), r#"{"a":1}"#);
}

#[tokio::test]
async fn transaction_validation() {
    let s = store_or_skip!("transaction_validation");
    s.transact(vec![], NOW).await.unwrap();
    let w = |sk: &str| Write::put(Item::new("p", sk, json!({})), Cond::None);
    let e = s.transact(vec![w("a"), w("a")], NOW).await;
    assert!(matches!(e, Err(StoreError::Invalid(_))), "{e:?}");
    let many: Vec<Write> = (0..=MAX_TRANSACTION_WRITES).map(|i| w(&i.to_string())).collect();
    let e = s.transact(many, NOW).await;
    assert!(matches!(e, Err(StoreError::Invalid(_))), "{e:?}");
    // Exactly the maximum goes through in one transaction.
    let max: Vec<Write> = (0..MAX_TRANSACTION_WRITES).map(|i| w(&format!("{i:03}"))).collect();
    s.transact(max, NOW).await.unwrap();
    assert_eq!(s.query("p", "", None, 1000, NOW).await.unwrap().items.len(), MAX_TRANSACTION_WRITES);
}

#[tokio::test]
async fn delete_conditions_in_a_transaction() {
    let s = store_or_skip!("delete_conditions_in_a_transaction");
    s.transact(vec![Write::put(Item::new("p", "a", json!({})), Cond::NotExists)], NOW).await.unwrap();
    let e = s
        .transact(
            vec![
                Write::put(Item::new("p", "b", json!({})), Cond::None),
                Write::delete("p", "a", Cond::Version(2)),
            ],
            NOW,
        )
        .await;
    assert_eq!(e, Err(StoreError::ConditionFailed { index: 1 }));
    assert_eq!(s.get("p", "b", NOW).await.unwrap(), None);
    s.transact(
        vec![
            Write::put(Item::new("p", "b", json!({})), Cond::NotExists),
            Write::delete("p", "a", Cond::Version(1)),
        ],
        NOW,
    )
    .await
    .unwrap();
    assert_eq!(s.get("p", "a", NOW).await.unwrap(), None);
    assert!(s.get("p", "b", NOW).await.unwrap().is_some());
}

/// Expired items are still returned by DynamoDB and count against `Limit`: pages must still be
/// full and `next` exact.
#[tokio::test]
async fn query_skips_expired_items_without_short_pages() {
    let s = store_or_skip!("query_skips_expired_items_without_short_pages");
    let mut writes = Vec::new();
    for i in 0..30 {
        let mut it = Item::new("p", format!("U#{i:03}"), json!({}));
        if i % 3 != 0 {
            it.expires_at = Some(NOW - 1);
        }
        writes.push(Write::put(it, Cond::None));
    }
    s.transact(writes, NOW).await.unwrap();
    // Live: 000, 003, …, 027 (10 items).
    let p1 = s.query("p", "U#", None, 4, NOW).await.unwrap();
    let sks: Vec<_> = p1.items.iter().map(|i| i.sk.as_str()).collect();
    assert_eq!(sks, ["U#000", "U#003", "U#006", "U#009"]);
    assert_eq!(p1.next.as_deref(), Some("U#009"));
    let p2 = s.query("p", "U#", p1.next.as_deref(), 6, NOW).await.unwrap();
    assert_eq!(p2.items.len(), 6);
    assert_eq!(p2.items.last().unwrap().sk, "U#027");
    assert_eq!(p2.next, None, "the partition is exhausted");
    // A start key that no longer exists, or lies outside the prefix, still works.
    let p3 = s.query("p", "U#", Some("U#010"), 100, NOW).await.unwrap();
    assert_eq!(p3.items.first().unwrap().sk, "U#012");
    assert_eq!(s.query("p", "U#", Some("A"), 100, NOW).await.unwrap().items.len(), 10);
    assert!(s.query("p", "U#", Some("Z"), 100, NOW).await.unwrap().items.is_empty());
}

#[tokio::test]
async fn unavailable_table_is_an_infrastructure_error() {
    let Some(ep) = common::endpoint("unavailable_table_is_an_infrastructure_error") else {
        return;
    };
    let s = DynamoStore::new(common::dynamodb(&ep), common::unique_name("missing"));
    assert!(matches!(s.get("p", "a", NOW).await, Err(StoreError::Unavailable(_))));
    let e = s.transact(vec![Write::put(Item::new("p", "a", json!({})), Cond::None)], NOW).await;
    assert!(matches!(e, Err(StoreError::Unavailable(_))), "{e:?}");
}
