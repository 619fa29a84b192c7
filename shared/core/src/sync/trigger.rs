//! The Cognito Sync trigger (Cognito Events `SyncTrigger`; docs/identity-pools.md, "Cognito Sync"): the event UpdateRecords
//! sends, the one synchronous invocation, and how the function's answer is read.
//!
//! The event is built as JSON (so a new key has no `oldValue` at all, as Cognito sends it); a
//! test checks that it parses as `aws_lambda_events`' `CognitoEvent`, the type the bundled
//! `sync-trigger` function reads.

use crate::error::{Error, Result};
use crate::ports::{Invocation, InvokeFailure};
use crate::service::Service;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::time::Duration;

/// Cognito waits 5 seconds for the function (this cannot be raised) and does not retry within
/// the request: the client retries the sync.
const TIMEOUT: Duration = crate::triggers::ATTEMPT_TIMEOUT;

/// The event fields a function may not change (only `datasetRecords` is writable).
const READ_ONLY: [&str; 6] =
    ["version", "eventType", "region", "identityPoolId", "identityId", "datasetName"];

/// Longest record key and value the Sync API accepts (in characters).
pub(super) const MAX_KEY_CHARS: usize = 1024;
pub(super) const MAX_VALUE_CHARS: usize = 1_048_575;

/// Which dataset the event is about.
#[derive(Debug, Clone, Copy)]
pub(super) struct EventScope<'a> {
    pub region: &'a str,
    pub identity_pool_id: &'a str,
    pub identity_id: &'a str,
    pub dataset_name: &'a str,
}

/// One entry of `datasetRecords`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct EventRecord {
    /// The value stored now; `None` for a key with no live value (omitted from the entry).
    pub old_value: Option<String>,
    /// The value after the user's change; `None` for a removal.
    pub new_value: Option<String>,
    /// `op: "remove"` (else `"replace"`).
    pub remove: bool,
}

/// The event, exactly as the Cognito Sync developer guide gives it: `version` the number 2, `datasetRecords` an
/// object keyed by record key.
pub(super) fn event(scope: &EventScope<'_>, records: &BTreeMap<String, EventRecord>) -> Value {
    let mut out = Map::new();
    for (key, r) in records {
        let mut entry = Map::new();
        if let Some(old) = &r.old_value {
            entry.insert("oldValue".into(), Value::String(old.clone()));
        }
        entry.insert("newValue".into(), r.new_value.clone().map(Value::String).unwrap_or(Value::Null));
        entry.insert("op".into(), Value::String(if r.remove { "remove" } else { "replace" }.into()));
        out.insert(key.clone(), Value::Object(entry));
    }
    json!({
        "version": 2,
        "eventType": "SyncTrigger",
        "region": scope.region,
        "identityPoolId": scope.identity_pool_id,
        "identityId": scope.identity_id,
        "datasetName": scope.dataset_name,
        "datasetRecords": out,
    })
}

/// What the function decided for each key it returned: `Some(value)` to store it, `None` to
/// delete it. Keys it left out are not in the map: their change is ignored.
pub(super) type Decisions = BTreeMap<String, Option<String>>;

fn bad_output(why: impl std::fmt::Display) -> Error {
    Error::InvalidLambdaFunctionOutputException(format!(
        "The SyncTrigger function returned invalid output: {why}"
    ))
}

/// Reads the function's answer to `event` (the guide's rules for a trigger's answer): the read-only fields must come back
/// unchanged; each returned record is a replace (`op: "replace"` with a string `newValue`) or
/// a removal (`op: "remove"`, or a null `newValue`).
pub(super) fn read_answer(event: &Value, answer: &Value) -> Result<Decisions> {
    let Some(answer) = answer.as_object() else { return Err(bad_output("not a JSON object")) };
    for field in READ_ONLY {
        if answer.get(field) != event.get(field) {
            return Err(bad_output(format!("the read-only field {field} was changed")));
        }
    }
    let records = match answer.get("datasetRecords") {
        Some(Value::Object(m)) => m,
        _ => return Err(bad_output("datasetRecords is not an object")),
    };
    let mut out = Decisions::new();
    for (key, record) in records {
        let n = key.chars().count();
        if n == 0 || n > MAX_KEY_CHARS {
            return Err(bad_output(format!("a record key must be 1 to {MAX_KEY_CHARS} characters long")));
        }
        let Some(record) = record.as_object() else {
            return Err(bad_output(format!("the record {key:?} is not an object")));
        };
        let op = match record.get("op") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if s == "replace" || s == "remove" => Some(s.as_str()),
            Some(other) => {
                return Err(bad_output(format!("the op {other} of {key:?} is not replace or remove")))
            }
        };
        let decision = match (op, record.get("newValue")) {
            (Some("remove"), _) | (_, None | Some(Value::Null)) => None,
            (Some("replace"), Some(Value::String(v))) => {
                if v.chars().count() > MAX_VALUE_CHARS {
                    return Err(bad_output(format!(
                        "the value of {key:?} is longer than {MAX_VALUE_CHARS} characters"
                    )));
                }
                Some(v.clone())
            }
            (None, Some(_)) => return Err(bad_output(format!("the record {key:?} has no op"))),
            (_, Some(other)) => {
                return Err(bad_output(format!("the newValue of {key:?} is {other}, not a string")))
            }
        };
        out.insert(key.clone(), decision);
    }
    Ok(out)
}

/// Invokes the function once with `event` and answers what it returned. A function error or
/// unusable answer is InvalidLambdaFunctionOutputException; throttling (or a Lambda fault worth
/// retrying) is LambdaThrottledException, which tells the client to retry the sync.
pub(super) async fn invoke(svc: &Service, function_arn: &str, event: &Value) -> Result<Value> {
    let Some(invoker) = svc.invoker() else {
        return Err(Error::InvalidLambdaFunctionOutputException(format!(
            "The SyncTrigger function could not be invoked: this deployment has no Lambda endpoint to invoke {function_arn}."
        )));
    };
    let payload = serde_json::to_vec(event).map_err(Error::internal)?;
    match tokio::time::timeout(TIMEOUT, invoker.invoke(function_arn, payload)).await {
        Ok(Ok(Invocation::Response(bytes))) => {
            serde_json::from_slice::<Value>(&bytes).map_err(|_| bad_output("the answer is not JSON"))
        }
        Ok(Ok(Invocation::FunctionError(bytes))) => Err(function_error(&bytes)),
        Ok(Err(failure)) => Err(invoke_failure(&failure)),
        Err(_) => {
            tracing::warn!("the SyncTrigger function timed out");
            Err(Error::InvalidLambdaFunctionOutputException(format!(
                "The SyncTrigger function did not answer within {} seconds.",
                TIMEOUT.as_secs()
            )))
        }
    }
}

/// The function threw: its `errorMessage` in Cognito's error.
fn function_error(bytes: &[u8]) -> Error {
    let message = crate::triggers::function_error_message(bytes);
    Error::InvalidLambdaFunctionOutputException(format!(
        "The SyncTrigger function failed with error {message}."
    ))
}

fn invoke_failure(failure: &InvokeFailure) -> Error {
    tracing::warn!(code = %failure.code, "the SyncTrigger function could not be invoked");
    let throttled = failure.code.contains("TooManyRequests") || failure.code.contains("Throttl");
    if throttled || failure.retryable {
        Error::LambdaThrottledException(format!(
            "The SyncTrigger function could not run now ({}). Retry the sync.",
            failure.code
        ))
    } else {
        Error::InvalidLambdaFunctionOutputException(format!(
            "The SyncTrigger function could not be invoked ({}).",
            failure.code
        ))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use aws_lambda_events::event::cognito::CognitoEvent;

    fn scope() -> EventScope<'static> {
        EventScope {
            region: "us-east-1",
            identity_pool_id: "us-east-1:4a2b6c8d-0e1f-4a3b-8c5d-6e7f8a9b0c1d",
            identity_id: "us-east-1:9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a",
            dataset_name: "preferences",
        }
    }

    fn sample() -> Value {
        let mut records = BTreeMap::new();
        let rec = |old: Option<&str>, new: Option<&str>, remove| EventRecord {
            old_value: old.map(str::to_string),
            new_value: new.map(str::to_string),
            remove,
        };
        records.insert("theme".to_string(), rec(Some("light"), Some("dark"), false));
        records.insert("language".to_string(), rec(Some("en"), Some("en"), false));
        records.insert("nickname".to_string(), rec(None, Some("neo"), false));
        records.insert("lastScore".to_string(), rec(Some("1200"), None, true));
        event(&scope(), &records)
    }

    #[test]
    fn the_event_is_the_documented_json_and_parses_as_cognito_event() {
        let e = sample();
        assert_eq!(e["version"], json!(2));
        assert_eq!(e["eventType"], "SyncTrigger");
        assert_eq!(e["datasetName"], "preferences");
        assert_eq!(
            e["datasetRecords"]["theme"],
            json!({"oldValue": "light", "newValue": "dark", "op": "replace"})
        );
        assert_eq!(e["datasetRecords"]["nickname"], json!({"newValue": "neo", "op": "replace"}));
        assert_eq!(
            e["datasetRecords"]["lastScore"],
            json!({"oldValue": "1200", "newValue": null, "op": "remove"})
        );
        let parsed: CognitoEvent = serde_json::from_value(e.clone()).unwrap();
        assert_eq!(parsed.version, 2);
        assert_eq!(parsed.event_type.as_deref(), Some("SyncTrigger"));
        assert_eq!(parsed.identity_pool_id.as_deref(), Some(scope().identity_pool_id));
        assert_eq!(parsed.dataset_records.len(), 4);
        assert_eq!(parsed.dataset_records["lastScore"].op.as_deref(), Some("remove"));
        // What a typed function sends back reads as the same decisions.
        let back = serde_json::to_value(&parsed).unwrap();
        let d = read_answer(&e, &back).unwrap();
        assert_eq!(d["theme"], Some("dark".to_string()));
        assert_eq!(d["nickname"], Some("neo".to_string()));
        assert_eq!(d["lastScore"], None);
    }

    #[test]
    fn the_reference_function_modifies_removes_and_adds() {
        // The guide's reference function, applied to the event.
        let e = sample();
        let mut a = e.clone();
        a["datasetRecords"]["theme"]["newValue"] = json!("ModifyValue1");
        a["datasetRecords"]["language"]["op"] = json!("remove");
        a["datasetRecords"]["SampleKey3"] = json!({"newValue": "ModifyValue3", "op": "replace"});
        a["datasetRecords"].as_object_mut().unwrap().remove("nickname");
        let d = read_answer(&e, &a).unwrap();
        assert_eq!(d.len(), 4);
        assert_eq!(d["theme"], Some("ModifyValue1".into()));
        assert_eq!(d["language"], None);
        assert_eq!(d["SampleKey3"], Some("ModifyValue3".into()));
        assert_eq!(d["lastScore"], None);
        assert!(!d.contains_key("nickname"), "an omitted record is not a decision");
    }

    #[test]
    fn a_null_new_value_deletes_even_with_replace() {
        let e = sample();
        let mut a = e.clone();
        a["datasetRecords"]["theme"]["newValue"] = Value::Null;
        assert_eq!(read_answer(&e, &a).unwrap()["theme"], None);
    }

    #[test]
    fn read_only_fields_and_bad_records_are_invalid_output() {
        let e = sample();
        for (field, value) in [
            ("version", json!("2")),
            ("eventType", json!("Other")),
            ("region", json!("eu-west-1")),
            ("identityPoolId", json!("us-east-1:00000000-0000-0000-0000-000000000000")),
            ("identityId", json!("x")),
            ("datasetName", json!("other")),
            ("datasetRecords", json!(["not", "a", "map"])),
        ] {
            let mut a = e.clone();
            a[field] = value;
            let err = read_answer(&e, &a).unwrap_err();
            assert_eq!(err.name(), "InvalidLambdaFunctionOutputException", "{field}");
        }
        let mut a = e.clone();
        a.as_object_mut().unwrap().remove("region");
        assert!(read_answer(&e, &a).is_err());
        for record in [
            json!({"newValue": "v", "op": "upsert"}),
            json!({"newValue": "v"}),
            json!({"newValue": 5, "op": "replace"}),
            json!("v"),
        ] {
            let mut a = e.clone();
            a["datasetRecords"]["theme"] = record.clone();
            assert!(read_answer(&e, &a).is_err(), "{record}");
        }
        let mut a = e.clone();
        a["datasetRecords"][""] = json!({"newValue": "v", "op": "replace"});
        assert!(read_answer(&e, &a).is_err());
        assert!(read_answer(&e, &json!("event")).is_err());
    }

    #[test]
    fn function_errors_and_invoke_failures_map_to_sync_errors() {
        let e = function_error(br#"{"errorMessage":"score too high","errorType":"Error"}"#);
        assert_eq!(
            e,
            Error::InvalidLambdaFunctionOutputException(
                "The SyncTrigger function failed with error score too high.".into()
            )
        );
        let t = invoke_failure(&InvokeFailure { code: "TooManyRequestsException".into(), retryable: true });
        assert_eq!(t.name(), "LambdaThrottledException");
        let m = invoke_failure(&InvokeFailure { code: "ResourceNotFoundException".into(), retryable: false });
        assert_eq!(m.name(), "InvalidLambdaFunctionOutputException");
    }
}
