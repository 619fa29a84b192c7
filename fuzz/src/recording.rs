//! A store layer that remembers what each call wrote, with the value it replaced, so the
//! harness can tell a refused call's legitimate bookkeeping from a partial write.

use async_trait::async_trait;
use serde_json::Value;
use std::sync::{Arc, Mutex};
use tessera_core::store::{Item, Page, Store, StoreError, Write};

/// One committed write: the item before and after (None: absent).
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub pk: String,
    pub sk: String,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

pub struct RecordingStore {
    inner: Arc<dyn Store>,
    log: Mutex<Vec<Change>>,
    /// Calls made by the service: (gets, queries, transactions), the latter two counted once
    /// each however many items they touch.
    calls: Mutex<(u64, u64, u64)>,
}

impl RecordingStore {
    pub fn new(inner: Arc<dyn Store>) -> Self {
        RecordingStore { inner, log: Mutex::new(vec![]), calls: Mutex::new((0, 0, 0)) }
    }

    /// The service's store calls since the last look: (gets, queries, transactions).
    pub fn take_calls(&self) -> (u64, u64, u64) {
        self.calls.lock().map(|mut c| std::mem::take(&mut *c)).unwrap_or_default()
    }

    fn count(&self, f: impl FnOnce(&mut (u64, u64, u64))) {
        if let Ok(mut c) = self.calls.lock() {
            f(&mut c);
        }
    }

    /// The writes committed since the last call.
    pub fn take(&self) -> Vec<Change> {
        self.log.lock().map(|mut l| std::mem::take(&mut *l)).unwrap_or_default()
    }
}

#[async_trait]
impl Store for RecordingStore {
    async fn get(&self, pk: &str, sk: &str, now_secs: i64) -> Result<Option<Item>, StoreError> {
        self.count(|c| c.0 += 1);
        self.inner.get(pk, sk, now_secs).await
    }

    async fn query(
        &self,
        pk: &str,
        sk_prefix: &str,
        start_after: Option<&str>,
        limit: usize,
        now_secs: i64,
    ) -> Result<Page, StoreError> {
        self.count(|c| c.1 += 1);
        self.inner.query(pk, sk_prefix, start_after, limit, now_secs).await
    }

    async fn transact(&self, writes: Vec<Write>, now_secs: i64) -> Result<(), StoreError> {
        self.count(|c| c.2 += 1);
        let mut changes = Vec::with_capacity(writes.len());
        for w in &writes {
            let (pk, sk) = w.key();
            let before = self.inner.get(pk, sk, now_secs).await?.map(|i| i.body);
            let after = match w {
                Write::Put { item, .. } => Some(item.body.clone()),
                Write::Delete { .. } => None,
            };
            changes.push(Change { pk: pk.to_string(), sk: sk.to_string(), before, after });
        }
        self.inner.transact(writes, now_secs).await?;
        if let Ok(mut log) = self.log.lock() {
            log.extend(changes);
        }
        Ok(())
    }
}

/// Writes a refused call may make: counting the attempt (a sign-in failure, a code guess, a
/// send) on the user or on an unknown name's record, so a refusal cannot be retried without
/// limit. Anything else a refused call wrote is a partial write.
pub fn is_attempt_bookkeeping(change: &Change) -> bool {
    if change.sk == tessera_core::model::keys::NAME_ATTEMPTS_SK {
        return true;
    }
    match (&change.before, &change.after) {
        (Some(before), Some(after)) => without_counters(before) == without_counters(after),
        _ => false,
    }
}

fn without_counters(body: &Value) -> Value {
    let mut body = body.clone();
    if let Some(map) = body.as_object_mut() {
        map.remove("code_guards");
        // The pending code's own count of wrong guesses, and the MFA set-up's.
        if let Some(codes) = map.get_mut("codes").and_then(Value::as_object_mut) {
            for code in codes.values_mut().filter_map(Value::as_object_mut) {
                code.remove("failed_attempts");
            }
        }
        if let Some(mfa) = map.get_mut("mfa").and_then(Value::as_object_mut) {
            mfa.remove("pending_failed_attempts");
        }
        if let Some(state) = map.get_mut("password_state").and_then(Value::as_object_mut) {
            for counter in ["failed_sign_ins", "last_failed_ms", "locked_until_ms"] {
                state.remove(counter);
            }
        }
    }
    body
}

/// The members (dotted paths) where two bodies differ, for a finding's report.
pub fn differences(before: Option<&Value>, after: Option<&Value>) -> Vec<String> {
    fn walk(path: &str, a: Option<&Value>, b: Option<&Value>, out: &mut Vec<String>) {
        match (a, b) {
            (Some(Value::Object(x)), Some(Value::Object(y))) => {
                for k in x.keys().chain(y.keys().filter(|k| !x.contains_key(*k))) {
                    walk(&format!("{path}.{k}"), x.get(k), y.get(k), out);
                }
            }
            (x, y) if x != y => out.push(path.to_string()),
            _ => {}
        }
    }
    let mut out = vec![];
    walk("", before, after, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn change(before: Value, after: Value) -> Change {
        Change { pk: "POOL#x#USER#alice".into(), sk: "USER".into(), before: Some(before), after: Some(after) }
    }

    #[test]
    fn counting_an_attempt_is_bookkeeping() {
        let before = json!({"username": "alice", "password_state": {"failed_sign_ins": 1}});
        let after = json!({"username": "alice", "password_state": {"failed_sign_ins": 2, "last_failed_ms": 5},
                           "code_guards": {"forgot": {"failed": 1}}});
        assert!(is_attempt_bookkeeping(&change(before, after)));
    }

    #[test]
    fn anything_else_is_a_partial_write() {
        let before = json!({"username": "alice", "attributes": {"email": "a@example.com"}});
        let after = json!({"username": "alice", "attributes": {"email": "eve@example.com"}});
        assert!(!is_attempt_bookkeeping(&change(before, after)));
        let created = Change { pk: "p".into(), sk: "s".into(), before: None, after: Some(json!({})) };
        assert!(!is_attempt_bookkeeping(&created));
        let deleted = Change { pk: "p".into(), sk: "s".into(), before: Some(json!({})), after: None };
        assert!(!is_attempt_bookkeeping(&deleted));
    }
}
