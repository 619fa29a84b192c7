//! The record patches of UpdateRecords: read and checked, tested against the stored records,
//! resolved with the SyncTrigger's answer, and sized against the dataset limits. Pure:
//! UpdateRecords brings the records it read.

use super::engine::model::{record_size, RecordState};
use super::request::{RecordPatch, UpdateRecordsInput};
use super::trigger::{Decisions, EventRecord, MAX_KEY_CHARS, MAX_VALUE_CHARS};
use crate::error::{Error, Result};
use crate::service::Service;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// One RecordPatch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Patch {
    pub key: String,
    /// `Some` for replace, `None` for remove.
    pub value: Option<String>,
    pub sync_count: i64,
    /// Epoch milliseconds, when the client sent it.
    pub device_last_modified: Option<i64>,
}

/// Reads and checks `RecordPatches` (absent = none).
pub fn parse_patches(input: &Value) -> Result<Vec<Patch>> {
    let given: UpdateRecordsInput = crate::input::typed(input, "the request")?;
    check_record_patches(given.record_patches.unwrap_or_default())
}

/// Checks the patches as sent: keys unique and 1–1024 characters, an Op of replace (with a
/// Value) or remove, a SyncCount of 0 or more.
pub(super) fn check_record_patches(list: Vec<RecordPatch>) -> Result<Vec<Patch>> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::with_capacity(list.len());
    for p in list {
        let key = p.key.ok_or_else(|| Error::invalid("Every record patch needs a Key."))?;
        let n = key.chars().count();
        if n == 0 || n > MAX_KEY_CHARS {
            return Err(Error::invalid(format!(
                "A record key must be 1 to {MAX_KEY_CHARS} characters long."
            )));
        }
        if !seen.insert(key.clone()) {
            return Err(Error::invalid(format!("The key {key} appears in more than one record patch.")));
        }
        let sync_count = p
            .sync_count
            .filter(|c| *c >= 0)
            .ok_or_else(|| Error::invalid(format!("The patch of {key} needs a SyncCount of 0 or more.")))?;
        let value = match p.op.as_deref() {
            Some("replace") => {
                let v = p
                    .value
                    .ok_or_else(|| Error::invalid(format!("The replace patch of {key} has no Value.")))?;
                if v.chars().count() > MAX_VALUE_CHARS {
                    return Err(Error::invalid(format!(
                        "The value of {key} is longer than {MAX_VALUE_CHARS} characters."
                    )));
                }
                Some(v)
            }
            Some("remove") => None,
            _ => {
                return Err(Error::invalid(format!(
                    "The Op of the patch of {key} must be replace or remove."
                )))
            }
        };
        let device_last_modified = match p.device_last_modified_date {
            None => None,
            Some(secs) if secs.is_finite() => Some((secs * 1000.0).round() as i64),
            Some(_) => return Err(Error::invalid("DeviceLastModifiedDate must be a timestamp.")),
        };
        out.push(Patch { key, value, sync_count, device_last_modified });
    }
    Ok(out)
}

/// The optimistic-concurrency check (docs/identity-pools.md, "Cognito Sync"): every patch carries the stored
/// record's sync count (0 for a key never seen; a tombstone accepts its count or 0).
pub(super) fn check_patches(patches: &[Patch], current: &BTreeMap<String, RecordState>) -> Result<()> {
    for p in patches {
        let stored = current.get(&p.key);
        let expected = stored.map(|r| r.sync_count).unwrap_or(0);
        let tombstone = stored.is_some_and(|r| r.value.is_none());
        let ok = u64::try_from(p.sync_count).is_ok_and(|c| c == expected) || (tombstone && p.sync_count == 0);
        if !ok {
            return Err(Error::ResourceConflictException(format!(
                "Current SyncCount for: {} is: {} not: {}",
                p.key, expected, p.sync_count
            )));
        }
    }
    Ok(())
}

/// What one update writes: key → (final value or `None` for a tombstone, device date), and
/// the patched keys the trigger left out (their change is ignored).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Resolution {
    pub writes: BTreeMap<String, (Option<String>, Option<i64>)>,
    pub ignored: Vec<String>,
}

/// The event's records: every live record (unchanged ones as replace with equal values) and
/// every patched key.
pub(super) fn event_records(
    patches: &[Patch],
    current: &BTreeMap<String, RecordState>,
) -> BTreeMap<String, EventRecord> {
    let mut out: BTreeMap<String, EventRecord> = current
        .values()
        .filter_map(|r| {
            let v = r.value.clone()?;
            Some((
                r.key.clone(),
                EventRecord { old_value: Some(v.clone()), new_value: Some(v), remove: false },
            ))
        })
        .collect();
    for p in patches {
        let old = current.get(&p.key).and_then(|r| r.value.clone());
        out.insert(
            p.key.clone(),
            EventRecord { old_value: old, new_value: p.value.clone(), remove: p.value.is_none() },
        );
    }
    out
}

/// What to write (the Sync trigger's contract: docs/identity-pools.md, "Cognito Sync"): without a trigger, every patch. With one, each patched key the
/// function returned, with its decision; each other key whose decision differs from what is
/// stored (added, changed or removed by the function); patched keys it left out are ignored.
pub(super) fn resolve(
    patches: &[Patch],
    current: &BTreeMap<String, RecordState>,
    decisions: Option<&Decisions>,
) -> Resolution {
    let mut out = Resolution::default();
    let Some(decisions) = decisions else {
        for p in patches {
            out.writes.insert(p.key.clone(), (p.value.clone(), p.device_last_modified));
        }
        return out;
    };
    let patched: BTreeMap<&str, &Patch> = patches.iter().map(|p| (p.key.as_str(), p)).collect();
    for (key, decision) in decisions {
        match patched.get(key.as_str()) {
            Some(p) => {
                out.writes.insert(key.clone(), (decision.clone(), p.device_last_modified));
            }
            None => {
                let stored = current.get(key).and_then(|r| r.value.as_ref());
                if stored != decision.as_ref() {
                    out.writes.insert(key.clone(), (decision.clone(), None));
                }
            }
        }
    }
    out.ignored = patches.iter().filter(|p| !decisions.contains_key(&p.key)).map(|p| p.key.clone()).collect();
    out
}

/// Live records and their total size once `writes` apply.
pub(super) fn final_size(
    current: &BTreeMap<String, RecordState>,
    writes: &BTreeMap<String, (Option<String>, Option<i64>)>,
) -> (u64, u64) {
    let mut count = 0;
    let mut bytes = 0;
    for r in current.values() {
        if writes.contains_key(&r.key) {
            continue;
        }
        if let Some(v) = &r.value {
            count += 1;
            bytes += record_size(&r.key, v);
        }
    }
    for (key, (value, _)) in writes {
        if let Some(v) = value {
            count += 1;
            bytes += record_size(key, v);
        }
    }
    (count, bytes)
}

/// The record and size limits (Cognito Sync's quotas: docs/identity-pools.md, "Cognito Sync"), refusing only growth past them (a dataset
/// over a lowered limit can still shrink).
pub(super) fn check_limits(svc: &Service, name: &str, before: (u64, u64), after: (u64, u64)) -> Result<()> {
    let limits = &svc.config.limits;
    if after.0 > limits.sync_records_per_dataset && after.0 > before.0 {
        return Err(Error::LimitExceededException(format!(
            "The dataset {name} would hold {} records; a dataset holds at most {}.",
            after.0, limits.sync_records_per_dataset
        )));
    }
    if after.1 > limits.sync_dataset_bytes && after.1 > before.1 {
        return Err(Error::LimitExceededException(format!(
            "The dataset {name} would hold {} bytes of keys and values; a dataset holds at most {}.",
            after.1, limits.sync_dataset_bytes
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::super::testing::test_service;
    use super::*;
    use serde_json::json;

    fn state(key: &str, value: Option<&str>, count: u64) -> RecordState {
        RecordState {
            key: key.into(),
            value: value.map(str::to_string),
            sync_count: count,
            last_modified: 0,
            last_modified_by: String::new(),
            device_last_modified: 0,
        }
    }

    fn current(records: &[(&str, Option<&str>, u64)]) -> BTreeMap<String, RecordState> {
        records.iter().map(|(k, v, c)| (k.to_string(), state(k, *v, *c))).collect()
    }

    fn patch(key: &str, value: Option<&str>, count: i64) -> Patch {
        Patch {
            key: key.into(),
            value: value.map(str::to_string),
            sync_count: count,
            device_last_modified: None,
        }
    }

    #[test]
    fn patches_are_parsed_and_checked() {
        let input = json!({"RecordPatches": [
            {"Op": "replace", "Key": "a", "Value": "1", "SyncCount": 0, "DeviceLastModifiedDate": 1424801824.343},
            {"Op": "remove", "Key": "b", "SyncCount": 3},
        ]});
        let p = parse_patches(&input).unwrap();
        assert_eq!(p[0].value.as_deref(), Some("1"));
        assert_eq!(p[0].device_last_modified, Some(1_424_801_824_343));
        assert_eq!(p[1].value, None);
        assert!(parse_patches(&json!({})).unwrap().is_empty());
        for bad in [
            json!([{"Op": "replace", "Key": "a", "SyncCount": 0}]),
            json!([{"Op": "upsert", "Key": "a", "Value": "1", "SyncCount": 0}]),
            json!([{"Op": "remove", "Key": "", "SyncCount": 0}]),
            json!([{"Op": "remove", "Key": "a"}]),
            json!([{"Op": "remove", "Key": "a", "SyncCount": -1}]),
            json!([{"Op": "remove", "Key": "a", "SyncCount": 0}, {"Op": "replace", "Key": "a", "Value": "x", "SyncCount": 0}]),
            json!([{"Op": "remove", "Key": "k".repeat(1025), "SyncCount": 0}]),
        ] {
            let e = parse_patches(&json!({ "RecordPatches": bad })).unwrap_err();
            assert_eq!(e.name(), "InvalidParameterException", "{bad}");
        }
    }

    #[test]
    fn stale_sync_counts_conflict_with_the_documented_message() {
        let cur = current(&[("highScore", Some("10"), 5), ("gone", None, 4)]);
        assert!(check_patches(&[patch("highScore", Some("11"), 5), patch("new", Some("x"), 0)], &cur).is_ok());
        let e = check_patches(&[patch("highScore", Some("11"), 4)], &cur).unwrap_err();
        assert_eq!(
            e,
            Error::ResourceConflictException("Current SyncCount for: highScore is: 5 not: 4".into())
        );
        let e = check_patches(&[patch("new", Some("x"), 2)], &cur).unwrap_err();
        assert_eq!(e.message(), "Current SyncCount for: new is: 0 not: 2");
        // A tombstone accepts its own count, and 0 from a client that never saw the key.
        assert!(check_patches(&[patch("gone", Some("back"), 4)], &cur).is_ok());
        assert!(check_patches(&[patch("gone", Some("back"), 0)], &cur).is_ok());
        assert!(check_patches(&[patch("gone", Some("back"), 3)], &cur).is_err());
        // A live record does not accept 0.
        assert!(check_patches(&[patch("highScore", Some("11"), 0)], &cur).is_err());
    }

    #[test]
    fn without_a_trigger_every_patch_is_written() {
        let cur = current(&[("a", Some("1"), 1)]);
        let r = resolve(&[patch("a", None, 1), patch("b", Some("2"), 0)], &cur, None);
        assert_eq!(r.writes["a"].0, None);
        assert_eq!(r.writes["b"].0.as_deref(), Some("2"));
        assert!(r.ignored.is_empty());
    }

    #[test]
    fn the_trigger_answer_is_applied_as_the_contract_says() {
        let cur = current(&[
            ("keep", Some("k"), 1),
            ("SampleKey1", Some("old1"), 1),
            ("SampleKey2", Some("old2"), 1),
        ]);
        let patches = [
            patch("SampleKey1", Some("new1"), 1),
            patch("SampleKey2", Some("new2"), 1),
            patch("dropped", Some("d"), 0),
        ];
        let events = event_records(&patches, &cur);
        assert_eq!(events.len(), 4, "all live records plus the patched keys");
        assert_eq!(
            events["keep"],
            EventRecord { old_value: Some("k".into()), new_value: Some("k".into()), remove: false }
        );
        assert_eq!(events["dropped"].old_value, None);
        // The reference function: modify 1, remove 2, add 3; it also leaves "dropped" out.
        let decisions: Decisions = [
            ("keep".to_string(), Some("k".to_string())),
            ("SampleKey1".to_string(), Some("ModifyValue1".to_string())),
            ("SampleKey2".to_string(), None),
            ("SampleKey3".to_string(), Some("ModifyValue3".to_string())),
        ]
        .into();
        let r = resolve(&patches, &cur, Some(&decisions));
        assert_eq!(r.writes.len(), 3, "{r:?}");
        assert_eq!(r.writes["SampleKey1"].0.as_deref(), Some("ModifyValue1"));
        assert_eq!(r.writes["SampleKey2"].0, None);
        assert_eq!(r.writes["SampleKey3"].0.as_deref(), Some("ModifyValue3"));
        assert!(!r.writes.contains_key("keep"), "an unchanged record is not rewritten");
        assert_eq!(r.ignored, vec!["dropped".to_string()]);
        // A function removing a key nobody has is no write; removing an unpatched live one is.
        let decisions: Decisions = [("nothing".to_string(), None), ("keep".to_string(), None)].into();
        let r = resolve(&[], &cur, Some(&decisions));
        assert_eq!(r.writes.keys().collect::<Vec<_>>(), vec!["keep"]);
    }

    #[test]
    fn size_counts_utf8_bytes_of_live_keys_and_values() {
        let cur = current(&[("a", Some("héllo"), 1), ("t", None, 2), ("b", Some("x"), 1)]);
        assert_eq!(final_size(&cur, &BTreeMap::new()), (2, 1 + 6 + 2));
        let mut writes = BTreeMap::new();
        writes.insert("b".to_string(), (None, None));
        writes.insert("€".to_string(), (Some("12".to_string()), None));
        assert_eq!(final_size(&cur, &writes), (2, 7 + 3 + 2));
        assert_eq!(record_size("ü", "€"), 5);
    }

    #[test]
    fn limits_refuse_growth_only() {
        let svc = test_service(crate::service::Limits {
            sync_records_per_dataset: 2,
            sync_dataset_bytes: 10,
            ..Default::default()
        });
        assert!(check_limits(&svc, "d", (1, 5), (2, 10)).is_ok());
        assert_eq!(check_limits(&svc, "d", (2, 5), (3, 6)).unwrap_err().name(), "LimitExceededException");
        assert_eq!(check_limits(&svc, "d", (1, 5), (1, 11)).unwrap_err().name(), "LimitExceededException");
        // Already over a lowered limit: shrinking is allowed.
        assert!(check_limits(&svc, "d", (5, 50), (4, 40)).is_ok());
    }
}
