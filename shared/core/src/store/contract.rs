//! The store contract: every implementation must pass these. Run them through
//! [`crate::store_contract_tests!`] with a constructor for a fresh, empty store.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;
use serde_json::json;
use std::sync::Arc;

const NOW: i64 = 1_800_000_000;

fn item(pk: &str, sk: &str, v: u64) -> Item {
    Item { pk: pk.into(), sk: sk.into(), version: v, expires_at: None, body: json!({"v": v, "sk": sk}) }
}

pub async fn contract_put_get_roundtrip<S: Store>(s: S) {
    assert_eq!(s.get("p", "a", NOW).await.unwrap(), None);
    let mut it = item("p", "a", 1);
    it.body = json!({"nested": {"list": [1, "two", null, true]}, "unicode": "ü€😀"});
    s.transact(vec![Write::put(it.clone(), Cond::NotExists)], NOW).await.unwrap();
    assert_eq!(s.get("p", "a", NOW).await.unwrap(), Some(it.clone()));
    assert_eq!(s.get("p", "b", NOW).await.unwrap(), None);
    assert_eq!(s.get("q", "a", NOW).await.unwrap(), None);
    // The raw read decodes to the same body and version.
    let raw = s.get_raw("p", "a", NOW).await.unwrap().unwrap();
    assert_eq!(raw.version, it.version);
    assert_eq!(raw.decode::<Value>().unwrap(), it.body);
    assert!(s.get_raw("p", "b", NOW).await.unwrap().is_none());
}

pub async fn contract_conditions<S: Store>(s: S) {
    s.transact(vec![Write::put(item("p", "a", 1), Cond::NotExists)], NOW).await.unwrap();
    let e = s.transact(vec![Write::put(item("p", "a", 2), Cond::NotExists)], NOW).await;
    assert_eq!(e, Err(StoreError::ConditionFailed { index: 0 }));
    let e = s.transact(vec![Write::put(item("p", "a", 3), Cond::Version(7))], NOW).await;
    assert_eq!(e, Err(StoreError::ConditionFailed { index: 0 }));
    s.transact(vec![Write::put(item("p", "a", 2), Cond::Version(1))], NOW).await.unwrap();
    assert_eq!(s.get("p", "a", NOW).await.unwrap().unwrap().version, 2);
    let e = s.transact(vec![Write::put(item("p", "zz", 1), Cond::Exists)], NOW).await;
    assert_eq!(e, Err(StoreError::ConditionFailed { index: 0 }));
    s.transact(vec![Write::put(item("p", "a", 3), Cond::Exists)], NOW).await.unwrap();
    let e = s.transact(vec![Write::delete("p", "a", Cond::Version(1))], NOW).await;
    assert_eq!(e, Err(StoreError::ConditionFailed { index: 0 }));
    s.transact(vec![Write::delete("p", "a", Cond::Version(3))], NOW).await.unwrap();
    assert_eq!(s.get("p", "a", NOW).await.unwrap(), None);
    // Deleting an absent item without a condition is fine.
    s.transact(vec![Write::delete("p", "a", Cond::None)], NOW).await.unwrap();
}

pub async fn contract_transaction_is_atomic<S: Store>(s: S) {
    s.transact(vec![Write::put(item("p", "taken", 1), Cond::NotExists)], NOW).await.unwrap();
    let e = s
        .transact(
            vec![
                Write::put(item("p", "new1", 1), Cond::NotExists),
                Write::put(item("q", "new2", 1), Cond::None),
                Write::put(item("p", "taken", 9), Cond::NotExists),
            ],
            NOW,
        )
        .await;
    assert_eq!(e, Err(StoreError::ConditionFailed { index: 2 }));
    assert_eq!(s.get("p", "new1", NOW).await.unwrap(), None);
    assert_eq!(s.get("q", "new2", NOW).await.unwrap(), None);
    assert_eq!(s.get("p", "taken", NOW).await.unwrap().unwrap().version, 1);
}

pub async fn contract_query_pages<S: Store>(s: S) {
    let mut writes = Vec::new();
    for i in 0..25 {
        writes.push(Write::put(item("part", &format!("U#{i:03}"), 1), Cond::NotExists));
    }
    writes.push(Write::put(item("part", "A#other", 1), Cond::NotExists));
    writes.push(Write::put(item("part", "V#after", 1), Cond::NotExists));
    writes.push(Write::put(item("other", "U#000", 1), Cond::NotExists));
    s.transact(writes, NOW).await.unwrap();
    let mut seen = Vec::new();
    let mut start: Option<String> = None;
    loop {
        let page = s.query("part", "U#", start.as_deref(), 10, NOW).await.unwrap();
        assert!(page.items.len() <= 10);
        seen.extend(page.items.iter().map(|i| i.sk.clone()));
        match page.next {
            Some(n) => start = Some(n),
            None => break,
        }
    }
    let want: Vec<String> = (0..25).map(|i| format!("U#{i:03}")).collect();
    assert_eq!(seen, want);
    let all = s.query("part", "", None, 100, NOW).await.unwrap();
    assert_eq!(all.items.len(), 27);
    assert_eq!(all.next, None);
}

pub async fn contract_expiry<S: Store>(s: S) {
    let mut it = item("p", "code", 1);
    it.expires_at = Some(NOW + 10);
    s.transact(vec![Write::put(it.clone(), Cond::NotExists)], NOW).await.unwrap();
    assert_eq!(s.get("p", "code", NOW + 9).await.unwrap(), Some(it));
    assert_eq!(s.get("p", "code", NOW + 10).await.unwrap(), None);
    assert!(s.get_raw("p", "code", NOW + 9).await.unwrap().is_some());
    assert!(s.get_raw("p", "code", NOW + 10).await.unwrap().is_none());
    assert!(s.query("p", "", None, 10, NOW + 11).await.unwrap().items.is_empty());
    // An expired item does not block a NotExists put and does not satisfy Exists.
    let e = s.transact(vec![Write::put(item("p", "code", 5), Cond::Exists)], NOW + 11).await;
    assert_eq!(e, Err(StoreError::ConditionFailed { index: 0 }));
    s.transact(vec![Write::put(item("p", "code", 2), Cond::NotExists)], NOW + 11).await.unwrap();
    assert_eq!(s.get("p", "code", NOW + 11).await.unwrap().unwrap().version, 2);
}

/// A transaction holds at most [`MAX_TRANSACTION_WRITES`] writes (DynamoDB's limit): that many
/// apply; one more is refused as `Invalid` and applies nothing.
pub async fn contract_transaction_size_limit<S: Store>(s: S) {
    let writes = |pk: &str, n: usize| -> Vec<Write> {
        (0..n).map(|i| Write::put(item(pk, &format!("k{i:03}"), 1), Cond::NotExists)).collect()
    };
    s.transact(writes("full", MAX_TRANSACTION_WRITES), NOW).await.unwrap();
    let page = s.query("full", "", None, 1000, NOW).await.unwrap();
    assert_eq!(page.items.len(), MAX_TRANSACTION_WRITES);
    let e = s.transact(writes("over", MAX_TRANSACTION_WRITES + 1), NOW).await;
    assert!(matches!(e, Err(StoreError::Invalid(_))), "{e:?}");
    assert!(s.query("over", "", None, 1000, NOW).await.unwrap().items.is_empty());
    // Deletes count the same as puts.
    let mut mixed = writes("over", MAX_TRANSACTION_WRITES);
    mixed.push(Write::delete("full", "k000", Cond::None));
    assert!(matches!(s.transact(mixed, NOW).await, Err(StoreError::Invalid(_))));
    assert!(s.get("full", "k000", NOW).await.unwrap().is_some());
    assert!(s.query("over", "", None, 1000, NOW).await.unwrap().items.is_empty());
}

/// Many concurrent creators of one key: exactly one wins.
pub async fn contract_concurrent_unique<S: Store + 'static>(s: S) {
    let s = Arc::new(s);
    let mut handles = Vec::new();
    for i in 0..50u64 {
        let s = s.clone();
        handles.push(tokio::spawn(async move {
            s.transact(
                vec![
                    Write::put(item("race", "unique", i + 1), Cond::NotExists),
                    Write::put(item(&format!("side{i}"), "x", 1), Cond::None),
                ],
                NOW,
            )
            .await
        }));
    }
    let mut ok = 0;
    for h in handles {
        match h.await.unwrap() {
            Ok(()) => ok += 1,
            Err(StoreError::ConditionFailed { index: 0 }) => {}
            Err(e) => panic!("unexpected {e}"),
        }
    }
    assert_eq!(ok, 1);
    let winner = s.get("race", "unique", NOW).await.unwrap().unwrap().version;
    for i in 0..50u64 {
        let side = s.get(&format!("side{i}"), "x", NOW).await.unwrap();
        assert_eq!(side.is_some(), i + 1 == winner, "side effects only from the winner");
    }
}

/// Expands to one `#[tokio::test]` per contract function for a store constructor expression.
#[macro_export]
macro_rules! store_contract_tests {
    ($make:expr) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn contract_put_get_roundtrip() {
            $crate::store::contract::contract_put_get_roundtrip($make).await
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn contract_conditions() {
            $crate::store::contract::contract_conditions($make).await
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn contract_transaction_is_atomic() {
            $crate::store::contract::contract_transaction_is_atomic($make).await
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn contract_query_pages() {
            $crate::store::contract::contract_query_pages($make).await
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn contract_expiry() {
            $crate::store::contract::contract_expiry($make).await
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn contract_transaction_size_limit() {
            $crate::store::contract::contract_transaction_size_limit($make).await
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn contract_concurrent_unique() {
            $crate::store::contract::contract_concurrent_unique($make).await
        }
    };
}
