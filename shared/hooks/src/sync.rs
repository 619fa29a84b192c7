//! The Cognito Sync trigger (`SyncTrigger`, Cognito Events): validates and normalises the records
//! a user writes to a dataset, and answers the event with `datasetRecords` changed.
//!
//! Only the records the user changed are checked: a `replace` whose `newValue` differs from its
//! `oldValue` (or a new key). Unchanged records pass through as they are (a rule added later
//! never locks a dataset), and removals are always allowed. For each changed record, in order:
//! 1. normalise the value: trim surrounding whitespace (`TESSERA_SYNC_TRIM_VALUES`); an empty
//!    value then becomes a removal when `TESSERA_SYNC_EMPTY_AS_REMOVE` is on;
//! 2. refuse a deny-listed key, a key not matching `TESSERA_SYNC_KEY_PATTERN` (whole key), or a
//!    value over `TESSERA_SYNC_MAX_VALUE_BYTES` (UTF-8 bytes, after normalising).
//!
//! A refusal is a function error (Cognito answers InvalidLambdaFunctionOutputException and writes
//! nothing) when `TESSERA_SYNC_ON_VIOLATION=reject` (the default), or, with `drop`, the record is
//! left out of the answer, which the Sync contract reads as "ignore this change" (the stored
//! value stays). All other fields of the event are returned unchanged: they are read-only.
//! `TESSERA_SYNC_DATASET_PATTERN` limits the rules to datasets whose name matches it.

use crate::config::{ConfigError, Vars};
use crate::Rejection;
use aws_lambda_events::event::cognito::CognitoEvent;
use regex::Regex;
use std::collections::BTreeSet;

/// The `errorType` of a refused record.
pub const REFUSED: &str = "SyncRecordRefused";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnViolation {
    Reject,
    Drop,
}

#[derive(Debug, Clone)]
pub struct SyncConfig {
    pub max_value_bytes: Option<usize>,
    /// Anchored: the whole key must match.
    pub key_pattern: Option<Regex>,
    pub denied_keys: BTreeSet<String>,
    pub trim_values: bool,
    pub empty_as_remove: bool,
    pub on_violation: OnViolation,
    /// Anchored; None means every dataset.
    pub dataset_pattern: Option<Regex>,
}

impl Default for SyncConfig {
    fn default() -> Self {
        SyncConfig {
            max_value_bytes: None,
            key_pattern: None,
            denied_keys: BTreeSet::new(),
            trim_values: false,
            empty_as_remove: false,
            on_violation: OnViolation::Reject,
            dataset_pattern: None,
        }
    }
}

/// `^(?:pattern)$`, so the whole name must match.
pub fn anchored(name: &str, pattern: &str) -> Result<Regex, ConfigError> {
    Regex::new(&format!("^(?:{pattern})$")).map_err(|e| ConfigError(format!("{name}: {e}")))
}

impl SyncConfig {
    /// `TESSERA_SYNC_MAX_VALUE_BYTES`, `TESSERA_SYNC_KEY_PATTERN` (regex), `TESSERA_SYNC_DENIED_KEYS`
    /// (comma separated), `TESSERA_SYNC_TRIM_VALUES` (default false),
    /// `TESSERA_SYNC_EMPTY_AS_REMOVE` (default false), `TESSERA_SYNC_ON_VIOLATION` (`reject` or
    /// `drop`, default `reject`), `TESSERA_SYNC_DATASET_PATTERN` (regex, default every dataset).
    pub fn from_vars(vars: &Vars) -> Result<Self, ConfigError> {
        let regex = |name: &str| vars.get(name).map(|p| anchored(name, &p)).transpose();
        Ok(SyncConfig {
            max_value_bytes: vars.number("TESSERA_SYNC_MAX_VALUE_BYTES")?,
            key_pattern: regex("TESSERA_SYNC_KEY_PATTERN")?,
            denied_keys: vars.list("TESSERA_SYNC_DENIED_KEYS").into_iter().collect(),
            trim_values: vars.bool("TESSERA_SYNC_TRIM_VALUES", false)?,
            empty_as_remove: vars.bool("TESSERA_SYNC_EMPTY_AS_REMOVE", false)?,
            on_violation: match vars
                .get("TESSERA_SYNC_ON_VIOLATION")
                .map(|v| v.to_ascii_lowercase())
                .as_deref()
            {
                None | Some("reject") => OnViolation::Reject,
                Some("drop") => OnViolation::Drop,
                Some(other) => {
                    return Err(ConfigError(format!(
                        "TESSERA_SYNC_ON_VIOLATION must be reject or drop, not {other:?}"
                    )))
                }
            },
            dataset_pattern: regex("TESSERA_SYNC_DATASET_PATTERN")?,
        })
    }

    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(&Vars::env())
    }
}

/// Why a record is refused, or None.
fn violation(cfg: &SyncConfig, key: &str, value: &str) -> Option<String> {
    if cfg.denied_keys.contains(key) {
        return Some(format!("The key {key:?} may not be written"));
    }
    if cfg.key_pattern.as_ref().is_some_and(|p| !p.is_match(key)) {
        return Some(format!("The key {key:?} is not an allowed record key"));
    }
    match cfg.max_value_bytes {
        Some(max) if value.len() > max => {
            Some(format!("The value of {key:?} is {} bytes, over the limit of {max}", value.len()))
        }
        _ => None,
    }
}

/// The hook: the event with its records checked and normalised, or the refusal.
pub fn apply(cfg: &SyncConfig, mut event: CognitoEvent) -> Result<CognitoEvent, Rejection> {
    if event.event_type.as_deref() != Some("SyncTrigger") {
        return Err(Rejection::new(REFUSED, format!("Unexpected eventType {:?}", event.event_type)));
    }
    let dataset = event.dataset_name.clone().unwrap_or_default();
    if cfg.dataset_pattern.as_ref().is_some_and(|p| !p.is_match(&dataset)) {
        return Ok(event);
    }
    let mut keys: Vec<String> = event.dataset_records.keys().cloned().collect();
    keys.sort();
    for key in keys {
        let Some(record) = event.dataset_records.get_mut(&key) else { continue };
        let removal = record.op.as_deref() == Some("remove") || record.new_value.is_none();
        if removal || record.new_value == record.old_value {
            continue;
        }
        let mut value = record.new_value.clone().unwrap_or_default();
        if cfg.trim_values {
            value = value.trim().to_string();
        }
        if cfg.empty_as_remove && value.is_empty() {
            record.new_value = None;
            record.op = Some("remove".into());
            continue;
        }
        if let Some(why) = violation(cfg, &key, &value) {
            match cfg.on_violation {
                OnViolation::Reject => return Err(Rejection::new(REFUSED, why)),
                OnViolation::Drop => {
                    tracing::info!(dataset = %dataset, reason = %why, "dropping a record change");
                    event.dataset_records.remove(&key);
                    continue;
                }
            }
        }
        record.new_value = Some(value);
        record.op = Some("replace".into());
    }
    Ok(event)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use crate::config::vars_map;
    use crate::lambda::sync_trigger_event;
    use serde_json::{json, Value};

    fn sample() -> Value {
        serde_json::from_str(include_str!("../../../events/sync-trigger/sync.json")).unwrap()
    }

    fn denied_sample() -> Value {
        serde_json::from_str(include_str!("../../../events/sync-trigger/denied-key.json")).unwrap()
    }

    /// The configuration the samples are written for.
    fn cfg() -> SyncConfig {
        let vars = vars_map(&[
            ("TESSERA_SYNC_MAX_VALUE_BYTES", "64"),
            ("TESSERA_SYNC_KEY_PATTERN", "[A-Za-z][A-Za-z0-9_]{0,63}"),
            ("TESSERA_SYNC_DENIED_KEYS", "isAdmin, credits"),
            ("TESSERA_SYNC_TRIM_VALUES", "true"),
            ("TESSERA_SYNC_EMPTY_AS_REMOVE", "true"),
        ]);
        let cfg = SyncConfig::from_vars(&Vars::map(&vars)).unwrap();
        cfg
    }

    fn out(cfg: &SyncConfig, event: Value) -> Value {
        serde_json::to_value(sync_trigger_event(cfg, event).unwrap()).unwrap()
    }

    #[test]
    fn sample_is_normalised_as_expected() {
        let expected: Value =
            serde_json::from_str(include_str!("../../../events/sync-trigger/sync.expected.json")).unwrap();
        assert_eq!(out(&cfg(), sample()), expected);
    }

    #[test]
    fn read_only_fields_come_back_unchanged() {
        let input = sample();
        let output = out(&cfg(), input.clone());
        for field in ["version", "eventType", "region", "identityPoolId", "identityId", "datasetName"] {
            assert_eq!(output[field], input[field], "{field}");
        }
        assert_eq!(output["version"], json!(2));
    }

    #[test]
    fn denied_key_is_rejected_or_dropped() {
        let err = sync_trigger_event(&cfg(), denied_sample()).unwrap_err();
        assert_eq!(err.kind, REFUSED);
        assert_eq!(err.message, "The key \"isAdmin\" may not be written");
        let drop = SyncConfig { on_violation: OnViolation::Drop, ..cfg() };
        let o = out(&drop, denied_sample());
        assert!(o["datasetRecords"].get("isAdmin").is_none());
        assert_eq!(o["datasetRecords"]["theme"]["newValue"], "dark");
        // Removing a denied key is always allowed.
        let mut e = sample();
        e["datasetRecords"]["credits"] = json!({"oldValue": "100", "newValue": null, "op": "remove"});
        assert_eq!(out(&cfg(), e)["datasetRecords"]["credits"]["op"], "remove");
    }

    #[test]
    fn key_pattern_is_anchored() {
        for key in ["bad key", "1abc", "abc!", "x".repeat(65).as_str()] {
            let mut e = sample();
            e["datasetRecords"][key] = json!({"newValue": "v", "op": "replace"});
            let err = sync_trigger_event(&cfg(), e).unwrap_err();
            assert!(err.message.contains("is not an allowed record key"), "{key}: {}", err.message);
        }
        let mut e = sample();
        e["datasetRecords"]["good_key2"] = json!({"newValue": "v", "op": "replace"});
        assert_eq!(out(&cfg(), e)["datasetRecords"]["good_key2"]["newValue"], "v");
        assert!(SyncConfig::from_vars(&Vars::map(&vars_map(&[("TESSERA_SYNC_KEY_PATTERN", "([")]))).is_err());
    }

    #[test]
    fn value_size_is_counted_in_bytes_after_trimming() {
        let c = SyncConfig { max_value_bytes: Some(4), ..cfg() };
        let mut e = sample();
        e["datasetRecords"]["theme"]["newValue"] = json!("  dark  ");
        assert_eq!(out(&c, e.clone())["datasetRecords"]["theme"]["newValue"], "dark");
        e["datasetRecords"]["theme"]["newValue"] = json!("éé€");
        let err = sync_trigger_event(&c, e).unwrap_err();
        assert_eq!(err.message, "The value of \"theme\" is 7 bytes, over the limit of 4");
    }

    #[test]
    fn unchanged_records_pass_even_when_they_break_a_rule() {
        let c = SyncConfig { max_value_bytes: Some(1), ..cfg() };
        let mut e = sample();
        e["datasetRecords"].as_object_mut().unwrap().retain(|k, _| k == "language" || k == "lastScore");
        e["datasetRecords"]["isAdmin"] = json!({"oldValue": "false", "newValue": "false", "op": "replace"});
        let o = out(&c, e.clone());
        assert_eq!(o["datasetRecords"], e["datasetRecords"]);
    }

    /// The event as the typed round trip writes it: a missing `oldValue` (a new key) comes back
    /// as `null`, which the Sync contract reads the same way.
    fn with_null_old_values(mut e: Value) -> Value {
        for r in e["datasetRecords"].as_object_mut().unwrap().values_mut() {
            r.as_object_mut().unwrap().entry("oldValue").or_insert(Value::Null);
        }
        e
    }

    #[test]
    fn no_rules_changes_nothing_and_dataset_pattern_scopes() {
        let input = sample();
        assert_eq!(out(&SyncConfig::default(), input.clone()), with_null_old_values(input));
        let scoped = SyncConfig { dataset_pattern: Some(anchored("p", "game-.*").unwrap()), ..cfg() };
        assert_eq!(out(&scoped, denied_sample()), with_null_old_values(denied_sample()));
    }

    #[test]
    fn other_event_types_are_refused() {
        let mut e = sample();
        e["eventType"] = json!("SomethingElse");
        assert!(sync_trigger_event(&cfg(), e).is_err());
        assert!(
            SyncConfig::from_vars(&Vars::map(&vars_map(&[("TESSERA_SYNC_ON_VIOLATION", "ignore")]))).is_err()
        );
    }
}
