//! Planning a commit: the items of record versions (values too large for one item cut into
//! parts), and which items one update writes, supersedes and leaves dead. Pure: the commit is
//! [`super::commit`]'s.

use super::model::{DatasetHead, RecordState, VersionHead, VersionPart};
use super::read::{visible_version, Snapshot};
use crate::error::{Error, Result};
use crate::store::{Item, Write};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};

/// Escaped JSON bytes of value text per item (DynamoDB items hold 400 KB).
pub(super) const PART_BYTES: usize = 256 * 1024;

/// Keys up to this many bytes appear in the sort key as they are.
const PLAIN_KEY_BYTES: usize = 512;

/// The sort-key stem of a key's versions.
fn kid(key: &str) -> String {
    if key.len() <= PLAIN_KEY_BYTES && !key.contains('|') {
        format!("K{key}")
    } else {
        format!("H{}", hex::encode(Sha256::digest(key.as_bytes())))
    }
}

fn version_sk(key: &str, count: u64) -> String {
    format!("{}|{count:016x}", kid(key))
}

/// Bytes a character takes in a JSON string.
fn escaped_len(c: char) -> usize {
    match c {
        '"' | '\\' | '\n' | '\r' | '\t' | '\u{8}' | '\u{c}' => 2,
        c if (c as u32) < 0x20 => 6,
        c => c.len_utf8(),
    }
}

/// A value cut into pieces of at most [`PART_BYTES`] escaped bytes (one piece if it fits).
fn split_value(value: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut size = 0;
    for (i, c) in value.char_indices() {
        let n = escaped_len(c);
        if size + n > PART_BYTES {
            out.push(&value[start..i]);
            start = i;
            size = 0;
        }
        size += n;
    }
    out.push(&value[start..]);
    out
}

/// The items of one new version.
pub(crate) fn version_items(pk: &str, state: &RecordState) -> Result<Vec<Item>> {
    let sk = version_sk(&state.key, state.sync_count);
    let mut head = VersionHead {
        k: state.key.clone(),
        c: state.sync_count,
        v: None,
        parts: 0,
        del: state.value.is_none(),
        lm: state.last_modified,
        lmb: state.last_modified_by.clone(),
        dlm: state.device_last_modified,
    };
    let mut items = Vec::new();
    if let Some(value) = &state.value {
        let pieces = split_value(value);
        if pieces.len() == 1 {
            head.v = Some(value.clone());
        } else {
            head.parts = u32::try_from(pieces.len()).map_err(Error::internal)?;
            for (i, piece) in pieces.into_iter().enumerate() {
                let part = VersionPart {
                    k: state.key.clone(),
                    c: state.sync_count,
                    p: u32::try_from(i).map_err(Error::internal)?,
                    d: piece.to_string(),
                };
                items.push(Item::new(
                    pk,
                    format!("{sk}|{i:04}"),
                    serde_json::to_value(&part).map_err(Error::internal)?,
                ));
            }
        }
    }
    items.insert(0, Item::new(pk, sk, serde_json::to_value(&head).map_err(Error::internal)?));
    Ok(items)
}

/// One update's writes, before they are cut into transactions.
pub(crate) struct Plan {
    /// The head as read, and its version (`None`: the dataset has no head yet).
    pub(super) old_head: Option<(DatasetHead, u64)>,
    /// The head once committed.
    pub(crate) head: DatasetHead,
    pub(super) records_pk: String,
    /// New versions.
    pub(super) puts: Vec<Item>,
    /// Items no reader sees: orphans above the committed count (not overwritten by `puts`),
    /// versions of a deleted incarnation, superseded versions a clean-up left behind.
    pub(super) dead: Vec<String>,
    /// The versions this commit supersedes: deleted once it is committed.
    pub(super) superseded: Vec<String>,
    /// The identity's dataset count write, when the update creates the dataset.
    pub(crate) dataset_count: Option<Write>,
    pub(super) storage_delta: i64,
}

/// The items a commit leaves to delete, and those it may delete at once (see [`Plan`]).
fn classify(snap: &Snapshot, written: &BTreeSet<&str>, puts: &[Item]) -> (Vec<String>, Vec<String>) {
    let (floor, committed) = snap.range();
    let put_sks: BTreeSet<&str> = puts.iter().map(|i| i.sk.as_str()).collect();
    let mut dead = Vec::new();
    let mut superseded = Vec::new();
    for (key, versions) in &snap.versions {
        let visible = visible_version(versions, floor, committed).map(|(c, _)| *c);
        for (count, v) in versions {
            let sks = v.sks.iter().filter(|sk| !put_sks.contains(sk.as_str())).cloned();
            if *count > committed || *count <= floor || visible.is_some_and(|vc| *count < vc) {
                dead.extend(sks);
            } else if Some(*count) == visible && written.contains(key.as_str()) {
                superseded.extend(sks);
            }
        }
    }
    (dead, superseded)
}

/// One round of UpdateRecords, as resolved: what to write, how large the dataset will be, who
/// writes, when.
pub(crate) struct Change<'a> {
    pub(crate) name: &'a str,
    /// The dataset's record partition.
    pub(crate) records_pk: String,
    /// Key → (the value, `None` for a removal; the device's date, when the client sent one).
    pub(crate) writes: &'a BTreeMap<String, (Option<String>, Option<i64>)>,
    /// Live records and their bytes once written.
    pub(crate) size: (u64, u64),
    /// Who the change is attributed to.
    pub(crate) by: &'a str,
    /// Epoch milliseconds.
    pub(crate) now: i64,
}

/// The writes of one update on top of `snap`: every written key gets a version at the next sync
/// count, which the new head commits (keeping the floor, and the creation date of a live
/// dataset); the versions they supersede and the items no reader sees are listed for deletion.
/// Answers the records as written, and the plan without the identity's dataset count (a new
/// dataset adds it).
pub(crate) fn plan_update(snap: &Snapshot, change: Change<'_>) -> Result<(Vec<RecordState>, Plan)> {
    let Change { name, records_pk, writes, size, by, now } = change;
    let live = snap.head().filter(|h| h.live);
    let (floor, committed) = snap.range();
    let new_count = committed + 1;
    let mut written = Vec::new();
    let mut puts = Vec::new();
    for (key, (value, device)) in writes {
        let state = RecordState {
            key: key.clone(),
            value: value.clone(),
            sync_count: new_count,
            last_modified: now,
            last_modified_by: by.to_string(),
            device_last_modified: device.unwrap_or(now),
        };
        puts.extend(version_items(&records_pk, &state)?);
        written.push(state);
    }
    let keys_written: BTreeSet<&str> = writes.keys().map(String::as_str).collect();
    let (dead, superseded) = classify(snap, &keys_written, &puts);
    let head = DatasetHead {
        name: name.to_string(),
        sync_count: new_count,
        floor,
        live: true,
        created: live.map(|h| h.created).unwrap_or(now),
        last_modified: now,
        last_modified_by: by.to_string(),
        data_storage: size.1,
        num_records: size.0,
        claim: None,
    };
    let storage_delta = i64::try_from(size.1).unwrap_or(i64::MAX)
        - i64::try_from(live.map(|h| h.data_storage).unwrap_or(0)).unwrap_or(i64::MAX);
    let plan = Plan {
        old_head: snap.head.clone(),
        head,
        records_pk,
        puts,
        dead,
        superseded,
        dataset_count: None,
        storage_delta,
    };
    Ok((written, plan))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::super::read::group_versions;
    use super::*;

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

    #[test]
    fn large_values_split_into_parts_and_join_back() {
        let big = "é\"".repeat(100_000); // 300,000 escaped bytes... and more
        let pieces = split_value(&big);
        assert!(pieces.len() > 1);
        assert_eq!(pieces.concat(), big);
        assert!(pieces.iter().all(|p| p.chars().map(escaped_len).sum::<usize>() <= PART_BYTES));
        let s = RecordState { value: Some(big.clone()), ..state("k", None, 7) };
        let items = version_items("pk", &s).unwrap();
        assert_eq!(items.len(), pieces.len() + 1);
        let versions = group_versions(items).unwrap();
        assert_eq!(versions["k"][&7].value().unwrap(), Some(big));
        let small = version_items("pk", &state("k", Some("v"), 2)).unwrap();
        assert_eq!(small.len(), 1);
        assert_eq!(small[0].sk, "Kk|0000000000000002");
        let tomb = version_items("pk", &state("a|b", None, 3)).unwrap();
        assert!(tomb[0].sk.starts_with('H'), "keys holding the separator are hashed");
        assert_eq!(group_versions(tomb).unwrap()["a|b"][&3].value().unwrap(), None);
    }

    #[test]
    fn visibility_follows_the_committed_count_and_the_floor() {
        let mut items = Vec::new();
        for (key, value, count) in
            [("a", Some("1"), 1), ("a", Some("2"), 3), ("a", Some("orphan"), 4), ("b", Some("old"), 1)]
        {
            items.extend(version_items("pk", &state(key, value, count)).unwrap());
        }
        let head =
            |count, floor| DatasetHead { sync_count: count, floor, live: true, ..DatasetHead::empty("d") };
        let snap = Snapshot { head: Some((head(3, 0), 1)), versions: group_versions(items.clone()).unwrap() };
        let v = snap.visible().unwrap();
        assert_eq!(v["a"].value.as_deref(), Some("2"));
        assert_eq!(v["a"].sync_count, 3);
        assert_eq!(v["b"].value.as_deref(), Some("old"));
        let written: BTreeSet<&str> = ["a"].into();
        let (dead, superseded) = classify(&snap, &written, &[]);
        assert_eq!(dead, vec!["Ka|0000000000000001".to_string(), "Ka|0000000000000004".to_string()]);
        assert_eq!(superseded, vec!["Ka|0000000000000003".to_string()]);
        // After a deletion at 3, nothing at or below 3 is visible.
        let snap = Snapshot { head: Some((head(3, 3), 1)), versions: group_versions(items).unwrap() };
        assert!(snap.visible().unwrap().is_empty());
    }

    /// A snapshot of `head` (read at version 4) over the versions `records` (key, value, count).
    fn snapshot(head: Option<DatasetHead>, records: &[(&str, Option<&str>, u64)]) -> Snapshot {
        let mut items = Vec::new();
        for (key, value, count) in records {
            items.extend(version_items("pk", &state(key, *value, *count)).unwrap());
        }
        Snapshot { head: head.map(|h| (h, 4)), versions: group_versions(items).unwrap() }
    }

    type Writes = BTreeMap<String, (Option<String>, Option<i64>)>;

    fn writes(list: &[(&str, Option<&str>, Option<i64>)]) -> Writes {
        list.iter().map(|(k, v, d)| (k.to_string(), (v.map(str::to_string), *d))).collect()
    }

    fn change<'a>(writes: &'a Writes, size: (u64, u64)) -> Change<'a> {
        Change { name: "d", records_pk: "pk".into(), writes, size, by: "me", now: 9_000 }
    }

    fn sks(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn an_update_writes_the_next_count_and_supersedes_what_it_replaces() {
        let head = DatasetHead {
            sync_count: 3,
            floor: 1,
            live: true,
            created: 1_000,
            last_modified_by: "before".into(),
            data_storage: 10,
            num_records: 2,
            ..DatasetHead::empty("d")
        };
        // a: 1 is below the floor, 2 is visible, 4 a failed writer's orphan; b: 3 visible;
        // c: an orphan at 4.
        let snap = snapshot(
            Some(head),
            &[
                ("a", Some("1"), 1),
                ("a", Some("2"), 2),
                ("a", Some("orphan"), 4),
                ("b", Some("x"), 3),
                ("c", Some("o"), 4),
            ],
        );
        let w = writes(&[("a", Some("new"), Some(5_000)), ("b", None, None)]);
        let (written, plan) = plan_update(&snap, change(&w, (1, 4))).unwrap();
        let expected = DatasetHead {
            name: "d".into(),
            sync_count: 4,
            floor: 1,
            live: true,
            created: 1_000,
            last_modified: 9_000,
            last_modified_by: "me".into(),
            data_storage: 4,
            num_records: 1,
            claim: None,
        };
        assert_eq!(plan.head, expected);
        assert_eq!(plan.old_head.as_ref().map(|(h, v)| (h.sync_count, *v)), Some((3, 4)));
        assert_eq!(plan.storage_delta, 4 - 10);
        assert_eq!(
            written[0],
            RecordState {
                key: "a".into(),
                value: Some("new".into()),
                sync_count: 4,
                last_modified: 9_000,
                last_modified_by: "me".into(),
                device_last_modified: 5_000,
            }
        );
        // Without a device date: the server's time.
        assert_eq!(
            written[1],
            RecordState {
                key: "b".into(),
                value: None,
                sync_count: 4,
                last_modified: 9_000,
                last_modified_by: "me".into(),
                device_last_modified: 9_000,
            }
        );
        assert_eq!(written.len(), 2);
        assert_eq!(
            plan.puts.iter().map(|i| i.sk.as_str()).collect::<Vec<_>>(),
            vec!["Ka|0000000000000004", "Kb|0000000000000004"]
        );
        // The orphan of a at 4 is overwritten by the new version, so it is not deleted.
        assert_eq!(plan.dead, sks(&["Ka|0000000000000001", "Kc|0000000000000004"]));
        assert_eq!(plan.superseded, sks(&["Ka|0000000000000002", "Kb|0000000000000003"]));
        assert!(plan.dataset_count.is_none());
    }

    #[test]
    fn a_deleted_dataset_comes_back_above_its_floor() {
        // Only a live head's creation date and storage carry over, whatever a deleted one says.
        let head = DatasetHead {
            sync_count: 5,
            floor: 5,
            live: false,
            created: 1_000,
            data_storage: 99,
            ..DatasetHead::empty("d")
        };
        let snap = snapshot(Some(head), &[("a", Some("old"), 5)]);
        let w = writes(&[("a", Some("again"), None)]);
        let (written, plan) = plan_update(&snap, change(&w, (1, 6))).unwrap();
        assert_eq!((plan.head.sync_count, plan.head.floor), (6, 5));
        assert!(plan.head.live);
        assert_eq!(plan.head.created, 9_000, "a new incarnation, created now");
        assert_eq!(plan.storage_delta, 6, "a deleted dataset stores nothing");
        assert_eq!(written[0].sync_count, 6);
        // The deleted incarnation's version is dead, not superseded.
        assert_eq!(plan.dead, sks(&["Ka|0000000000000005"]));
        assert!(plan.superseded.is_empty());
    }

    #[test]
    fn the_first_update_makes_the_head() {
        let snap = snapshot(None, &[]);
        let big = "v".repeat(PART_BYTES + 1);
        let w = writes(&[("k", Some(&big), None)]);
        let (written, plan) = plan_update(&snap, change(&w, (1, 1 + big.len() as u64))).unwrap();
        assert!(plan.old_head.is_none());
        assert_eq!((plan.head.sync_count, plan.head.floor, plan.head.created), (1, 0, 9_000));
        assert_eq!(plan.storage_delta, 1 + big.len() as i64);
        assert_eq!(written.len(), 1);
        assert_eq!(plan.puts.len(), 3, "a value too large for one item: a head and two parts");
        assert!(plan.dead.is_empty() && plan.superseded.is_empty());
    }
}
