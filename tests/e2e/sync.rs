//! Cognito Sync's data half through aws-sdk-cognitosync: datasets, records, the sync-count
//! protocol (conflicts, tombstones, deletion and re-creation), limits, session tokens, usage,
//! updates larger than one transaction, the SyncTrigger, and who may read what.
//!
//! Identity pools and identities are seeded straight into the store (their operations belong
//! to another module; Sync only checks that they exist). Identity callers sign with
//! credentials remembered the way GetCredentialsForIdentity remembers them.

use crate::common::*;
use crate::lambda_double::{arn, Reply};
use crate::on_both_stores;
use aws_sdk_cognitosync as cs;
use cs::types::{Operation, RecordPatch};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::Arc;
use tessera_core::model::{keys, IdentityPoolSyncConfig};
use tessera_core::ports::AwsCredentials;
use tessera_core::store::{Cond, Item, Write};
use tessera_core::Service;

fn svc(env: &TestEnv) -> &Arc<Service> {
    &env.server.state.frontend.service
}

async fn put(env: &TestEnv, item: Item) {
    let s = svc(env);
    s.store.transact(vec![Write::put(item, Cond::None)], s.now_secs()).await.unwrap();
}

/// An identity pool item and its listing entry: all Sync looks at.
async fn seed_pool(env: &TestEnv) -> String {
    let pool = format!("us-east-1:{}", svc(env).rng.uuid());
    put(
        env,
        Item::new(keys::identity_pool(&pool), keys::IDENTITY_POOL_SK, json!({ "IdentityPoolId": pool })),
    )
    .await;
    put(env, Item::new(keys::IDENTITY_POOLS, pool.clone(), json!({}))).await;
    pool
}

async fn seed_identity(env: &TestEnv, pool: &str) -> String {
    let id = format!("us-east-1:{}", svc(env).rng.uuid());
    put(env, Item::new(keys::identity(pool, &id), keys::IDENTITY_SK, json!({ "IdentityId": id }))).await;
    id
}

async fn admin(env: &TestEnv) -> cs::Client {
    sync_client(&env.url, ADMIN_KEY, ADMIN_SECRET, None).await
}

/// A client signing with credentials of `identity`, as GetCredentialsForIdentity hands out.
async fn as_identity(env: &TestEnv, pool: &str, identity: &str) -> cs::Client {
    let s = svc(env);
    let n = hex::encode(s.rng.bytes(8)).to_uppercase();
    let creds = AwsCredentials {
        access_key_id: format!("ASIA{n}"),
        secret_key: format!("secret-{n}"),
        session_token: format!("session-{n}"),
        expiration: s.now_secs() + 3600,
    };
    tessera_core::identity_credentials::remember(s, pool, identity, &creds).await.unwrap();
    sync_client(&env.url, &creds.access_key_id, &creds.secret_key, Some(&creds.session_token)).await
}

/// "Name: message" and the HTTP status of a Sync error.
fn sync_err<E>(e: cs::error::SdkError<E>) -> (u16, String)
where
    E: cs::error::ProvideErrorMetadata + std::fmt::Debug,
{
    let status = e.raw_response().map(|r| r.status().as_u16()).unwrap_or(0);
    (status, err_name(e))
}

fn replace(key: &str, value: &str, count: i64) -> RecordPatch {
    RecordPatch::builder().op(Operation::Replace).key(key).value(value).sync_count(count).build().unwrap()
}

fn remove(key: &str, count: i64) -> RecordPatch {
    RecordPatch::builder().op(Operation::Remove).key(key).sync_count(count).build().unwrap()
}

struct Listing {
    records: BTreeMap<String, (Option<String>, i64)>,
    sync_count: i64,
    exists: bool,
    deleted_after: bool,
    merged: Vec<String>,
    token: String,
}

/// Every page of ListRecords after `last`.
async fn list(c: &cs::Client, pool: &str, id: &str, ds: &str, last: i64) -> Listing {
    let mut records = BTreeMap::new();
    let mut next: Option<String> = None;
    loop {
        let out = c
            .list_records()
            .identity_pool_id(pool)
            .identity_id(id)
            .dataset_name(ds)
            .last_sync_count(last)
            .set_next_token(next.clone())
            .send()
            .await
            .expect("list records");
        for r in out.records() {
            records.insert(
                r.key().unwrap().to_string(),
                (r.value().map(str::to_string), r.sync_count().unwrap()),
            );
        }
        next = out.next_token().map(str::to_string);
        if next.is_none() {
            return Listing {
                records,
                sync_count: out.dataset_sync_count().unwrap(),
                exists: out.dataset_exists(),
                deleted_after: out.dataset_deleted_after_requested_sync_count(),
                merged: out.merged_dataset_names().to_vec(),
                token: out.sync_session_token().unwrap().to_string(),
            };
        }
    }
}

/// UpdateRecords with a fresh session token: the written records, or the error.
async fn update(
    c: &cs::Client,
    pool: &str,
    id: &str,
    ds: &str,
    patches: Vec<RecordPatch>,
) -> Result<Vec<(String, Option<String>, i64)>, (u16, String)> {
    let token = list(c, pool, id, ds, 0).await.token;
    update_with(c, pool, id, ds, &token, patches).await
}

async fn update_with(
    c: &cs::Client,
    pool: &str,
    id: &str,
    ds: &str,
    token: &str,
    patches: Vec<RecordPatch>,
) -> Result<Vec<(String, Option<String>, i64)>, (u16, String)> {
    let out = c
        .update_records()
        .identity_pool_id(pool)
        .identity_id(id)
        .dataset_name(ds)
        .sync_session_token(token)
        .set_record_patches(Some(patches))
        .send()
        .await
        .map_err(sync_err)?;
    Ok(out
        .records()
        .iter()
        .map(|r| (r.key().unwrap().to_string(), r.value().map(str::to_string), r.sync_count().unwrap()))
        .collect())
}

fn live(l: &Listing) -> BTreeMap<String, String> {
    l.records.iter().filter_map(|(k, (v, _))| Some((k.clone(), v.clone()?))).collect()
}

on_both_stores!(missing_dataset_lists_empty_then_first_write_creates_it, |env| {
    let pool = seed_pool(env).await;
    let id = seed_identity(env, &pool).await;
    let c = admin(env).await;
    let l = list(&c, &pool, &id, "settings", 0).await;
    assert!(!l.exists);
    assert_eq!(l.sync_count, 0);
    assert!(l.records.is_empty() && !l.deleted_after && l.merged.is_empty());
    assert!(!l.token.is_empty());
    let e =
        c.describe_dataset().identity_pool_id(&pool).identity_id(&id).dataset_name("settings").send().await;
    assert_eq!(
        sync_err(e.unwrap_err()),
        (404, "ResourceNotFoundException: Dataset settings does not exist.".into())
    );

    // Empty patches: nothing happens, the dataset is not created.
    assert_eq!(update_with(&c, &pool, &id, "settings", &l.token, vec![]).await.unwrap(), vec![]);
    assert!(!list(&c, &pool, &id, "settings", 0).await.exists);

    let written = update_with(
        &c,
        &pool,
        &id,
        "settings",
        &l.token,
        vec![replace("theme", "dark", 0), replace("lang", "fr", 0)],
    )
    .await
    .unwrap();
    assert_eq!(
        written,
        vec![("lang".into(), Some("fr".into()), 1), ("theme".into(), Some("dark".into()), 1)]
    );
    let l = list(&c, &pool, &id, "settings", 0).await;
    assert!(l.exists);
    assert_eq!(l.sync_count, 1);
    assert_eq!(l.records.len(), 2);
    assert_eq!(l.records["theme"], (Some("dark".into()), 1));
    assert!(list(&c, &pool, &id, "settings", 1).await.records.is_empty());

    let d = c
        .describe_dataset()
        .identity_pool_id(&pool)
        .identity_id(&id)
        .dataset_name("settings")
        .send()
        .await
        .unwrap();
    let d = d.dataset().unwrap();
    assert_eq!(d.num_records(), Some(2));
    assert_eq!(d.data_storage(), Some(("theme".len() + "dark".len() + "lang".len() + "fr".len()) as i64));
    assert_eq!(d.identity_id(), Some(id.as_str()));
    assert!(d.creation_date().is_some() && d.last_modified_date().is_some());
    let all = c.list_datasets().identity_pool_id(&pool).identity_id(&id).send().await.unwrap();
    assert_eq!(all.count(), 1);
    assert_eq!(all.datasets()[0].dataset_name(), Some("settings"));
});

on_both_stores!(two_writers_conflict_and_the_loser_writes_nothing, |env| {
    let pool = seed_pool(env).await;
    let id = seed_identity(env, &pool).await;
    let c = admin(env).await;
    let a = list(&c, &pool, &id, "game", 0).await;
    let b = list(&c, &pool, &id, "game", 0).await;
    update_with(&c, &pool, &id, "game", &a.token, vec![replace("score", "10", 0)]).await.unwrap();
    // B still thinks the record is new, and adds another key in the same request.
    let e = update_with(
        &c,
        &pool,
        &id,
        "game",
        &b.token,
        vec![replace("other", "x", 0), replace("score", "99", 0)],
    )
    .await
    .unwrap_err();
    assert_eq!(e, (409, "ResourceConflictException: Current SyncCount for: score is: 1 not: 0".into()));
    let l = list(&c, &pool, &id, "game", 0).await;
    assert_eq!(l.sync_count, 1, "nothing was written");
    assert_eq!(live(&l), BTreeMap::from([("score".to_string(), "10".to_string())]));
    // B pulls, resolves, and pushes on top of the count it saw.
    let b = list(&c, &pool, &id, "game", 0).await;
    let w = update_with(
        &c,
        &pool,
        &id,
        "game",
        &b.token,
        vec![replace("other", "x", 0), replace("score", "99", 1)],
    )
    .await
    .unwrap();
    assert!(w.iter().all(|(_, _, n)| *n == 2), "{w:?}");
    let l = list(&c, &pool, &id, "game", 1).await;
    assert_eq!(l.sync_count, 2);
    assert_eq!(l.records.len(), 2);
});

// Devices of one identity writing different new keys at the same moment all get in: a lost
// commit is retried (with backoff) on top of the winner's, since none of them is stale.
on_both_stores!(concurrent_writers_of_different_keys_all_get_in, |env| {
    const WRITERS: usize = 32;
    let pool = seed_pool(env).await;
    let id = seed_identity(env, &pool).await;
    let barrier = Arc::new(tokio::sync::Barrier::new(WRITERS));
    let mut tasks = Vec::new();
    for i in 0..WRITERS {
        // Each device signs with its own credentials, as GetCredentialsForIdentity hands out.
        let device = as_identity(env, &pool, &id).await;
        let (pool, id, barrier) = (pool.clone(), id.clone(), barrier.clone());
        tasks.push(tokio::spawn(async move {
            let token = list(&device, &pool, &id, "prefs", 0).await.token;
            barrier.wait().await;
            let t = std::time::Instant::now();
            let r =
                update_with(&device, &pool, &id, "prefs", &token, vec![replace(&format!("k{i:02}"), "v", 0)])
                    .await;
            (r, t.elapsed())
        }));
    }
    let mut slowest = std::time::Duration::ZERO;
    let mut failures = Vec::new();
    for t in tasks {
        let (r, took) = t.await.unwrap();
        slowest = slowest.max(took);
        if let Err(e) = r {
            failures.push(e);
        }
    }
    eprintln!("{WRITERS} concurrent UpdateRecords: the slowest took {slowest:?}");
    assert!(failures.is_empty(), "no spurious conflicts: {failures:?}");
    let c = admin(env).await;
    let l = list(&c, &pool, &id, "prefs", 0).await;
    assert_eq!(l.records.len(), WRITERS);
    assert_eq!(l.sync_count, WRITERS as i64);
    let mut counts: Vec<i64> = l.records.values().map(|(_, n)| *n).collect();
    counts.sort_unstable();
    assert_eq!(counts, (1..=WRITERS as i64).collect::<Vec<_>>(), "one commit each");
    // A truly stale record still conflicts at once.
    let e = update(&c, &pool, &id, "prefs", vec![replace("k00", "late", 0)]).await.unwrap_err();
    assert_eq!(e.0, 409);
    assert!(e.1.starts_with("ResourceConflictException: Current SyncCount for: k00 is: "), "{e:?}");
});

on_both_stores!(removed_records_stay_as_tombstones, |env| {
    let pool = seed_pool(env).await;
    let id = seed_identity(env, &pool).await;
    let c = admin(env).await;
    update(&c, &pool, &id, "d", vec![replace("a", "1", 0), replace("b", "2", 0)]).await.unwrap();
    let w = update(&c, &pool, &id, "d", vec![remove("a", 1)]).await.unwrap();
    assert_eq!(w, vec![("a".into(), None, 2)]);
    // Another device, last synced at 1, learns of the removal.
    let l = list(&c, &pool, &id, "d", 1).await;
    assert_eq!(l.records, BTreeMap::from([("a".to_string(), (None, 2))]));
    assert_eq!(list(&c, &pool, &id, "d", 0).await.records.len(), 2, "tombstones list from 0 too");
    let d =
        c.describe_dataset().identity_pool_id(&pool).identity_id(&id).dataset_name("d").send().await.unwrap();
    assert_eq!(d.dataset().unwrap().num_records(), Some(1));
    assert_eq!(d.dataset().unwrap().data_storage(), Some(2));
    // A tombstone accepts its own count, or 0 from a device that never saw the key; not others.
    assert!(update(&c, &pool, &id, "d", vec![replace("a", "x", 1)]).await.unwrap_err().0 == 409);
    let w = update(&c, &pool, &id, "d", vec![replace("a", "back", 0)]).await.unwrap();
    assert_eq!(w, vec![("a".into(), Some("back".into()), 3)]);
    let w = update(&c, &pool, &id, "d", vec![remove("a", 3)]).await.unwrap();
    let w2 = update(&c, &pool, &id, "d", vec![replace("a", "again", 4)]).await.unwrap();
    assert_eq!((w[0].2, w2[0].2), (4, 5));
});

on_both_stores!(deleted_datasets_report_deletion_and_recreate_on_the_same_count, |env| {
    let pool = seed_pool(env).await;
    let id = seed_identity(env, &pool).await;
    let c = admin(env).await;
    update(&c, &pool, &id, "d", vec![replace("a", "1", 0)]).await.unwrap();
    update(&c, &pool, &id, "d", vec![replace("b", "2", 0)]).await.unwrap();
    let del =
        c.delete_dataset().identity_pool_id(&pool).identity_id(&id).dataset_name("d").send().await.unwrap();
    assert_eq!(del.dataset().unwrap().num_records(), Some(2), "DeleteDataset answers the dataset it deleted");
    let again = c.delete_dataset().identity_pool_id(&pool).identity_id(&id).dataset_name("d").send().await;
    assert_eq!(sync_err(again.unwrap_err()).0, 404);
    let e = c.describe_dataset().identity_pool_id(&pool).identity_id(&id).dataset_name("d").send().await;
    assert_eq!(sync_err(e.unwrap_err()).0, 404);
    assert_eq!(c.list_datasets().identity_pool_id(&pool).identity_id(&id).send().await.unwrap().count(), 0);

    // A device that synced before the deletion is told to delete its copy; a new one is not.
    let stale = list(&c, &pool, &id, "d", 2).await;
    assert!(!stale.exists && stale.deleted_after && stale.records.is_empty());
    let fresh = list(&c, &pool, &id, "d", 0).await;
    assert!(!fresh.exists && !fresh.deleted_after && fresh.records.is_empty());
    assert_eq!((stale.sync_count, fresh.sync_count), (0, 0), "a deleted dataset has no count");

    // Re-creation continues the count, so stale devices still drop their copy.
    let w = update_with(&c, &pool, &id, "d", &fresh.token, vec![replace("a", "new", 0)]).await.unwrap();
    assert_eq!(w, vec![("a".into(), Some("new".into()), 3)]);
    let l = list(&c, &pool, &id, "d", 0).await;
    assert!(l.exists && !l.deleted_after);
    assert_eq!(l.sync_count, 3);
    assert_eq!(l.records, BTreeMap::from([("a".to_string(), (Some("new".to_string()), 3))]));
    assert!(list(&c, &pool, &id, "d", 1).await.deleted_after);
    assert!(!list(&c, &pool, &id, "d", 3).await.deleted_after);
});

on_both_stores!(
    limits_are_enforced_and_nothing_is_written,
    config = |c| {
        c.limits.sync_datasets_per_identity = 2;
        c.limits.sync_records_per_dataset = 3;
        c.limits.sync_dataset_bytes = 20;
    },
    |env| {
        let pool = seed_pool(env).await;
        let id = seed_identity(env, &pool).await;
        let c = admin(env).await;
        update(&c, &pool, &id, "one", vec![replace("a", "1", 0)]).await.unwrap();
        update(&c, &pool, &id, "two", vec![replace("a", "1", 0)]).await.unwrap();
        let e = update(&c, &pool, &id, "three", vec![replace("a", "1", 0)]).await.unwrap_err();
        assert_eq!(e.0, 400);
        assert!(e.1.starts_with("LimitExceededException: "), "{e:?}");
        assert!(!list(&c, &pool, &id, "three", 0).await.exists);
        // Deleting a dataset frees its place.
        c.delete_dataset().identity_pool_id(&pool).identity_id(&id).dataset_name("two").send().await.unwrap();
        update(&c, &pool, &id, "three", vec![replace("a", "1", 0)]).await.unwrap();

        // Records: 3 live at most; a tombstone does not count.
        update(&c, &pool, &id, "one", vec![replace("b", "2", 0), replace("c", "3", 0)]).await.unwrap();
        let e = update(&c, &pool, &id, "one", vec![replace("d", "4", 0)]).await.unwrap_err();
        assert!(e.1.starts_with("LimitExceededException: The dataset one would hold 4 records"), "{e:?}");
        update(&c, &pool, &id, "one", vec![remove("c", 2), replace("d", "4", 0)]).await.unwrap();
        // Bytes: keys and values of live records, 20 at most (now a1 b2 d4 = 6).
        let e = update(&c, &pool, &id, "one", vec![replace("a", "0123456789abcdef", 1)]).await.unwrap_err();
        assert!(e.1.starts_with("LimitExceededException: The dataset one would hold 21 bytes"), "{e:?}");
        let l = list(&c, &pool, &id, "one", 0).await;
        assert_eq!(l.sync_count, 3);
        assert_eq!(live(&l).into_values().collect::<Vec<_>>(), vec!["1", "2", "4"]);
        update(&c, &pool, &id, "one", vec![replace("a", "0123456789abcde", 1)]).await.unwrap();

        // Names and patches.
        let e = update(&c, &pool, &id, "one", vec![replace("k", "1", 0), remove("k", 0)]).await.unwrap_err();
        assert!(e.1.starts_with("InvalidParameterException: "), "{e:?}");
        let no_value = RecordPatch::builder().op(Operation::Replace).key("k").sync_count(0).build().unwrap();
        let e = update(&c, &pool, &id, "one", vec![no_value]).await.unwrap_err();
        assert!(e.1.starts_with("InvalidParameterException: "), "{e:?}");
        let e =
            c.list_records().identity_pool_id(&pool).identity_id(&id).dataset_name("bad name").send().await;
        assert!(err_name(e.unwrap_err()).starts_with("InvalidParameterException"));
    }
);

on_both_stores!(an_update_larger_than_a_transaction_lands_whole, |env| {
    let pool = seed_pool(env).await;
    let id = seed_identity(env, &pool).await;
    let c = admin(env).await;
    let patches = |prefix: &str, value: &str, count: i64| -> Vec<RecordPatch> {
        (0..150).map(|i| replace(&format!("{prefix}{i:03}"), value, count)).collect()
    };
    let w = update(&c, &pool, &id, "big", patches("k", "v1", 0)).await.unwrap();
    assert_eq!(w.len(), 150);
    assert!(w.iter().all(|(_, v, n)| v.as_deref() == Some("v1") && *n == 1));
    let l = list(&c, &pool, &id, "big", 0).await;
    assert_eq!((l.records.len(), l.sync_count), (150, 1));
    // Rewriting all of them replaces every version (the old ones are cleaned up).
    update(&c, &pool, &id, "big", patches("k", "v2", 1)).await.unwrap();
    let l = list(&c, &pool, &id, "big", 0).await;
    assert_eq!(l.sync_count, 2);
    assert!(l.records.values().all(|(v, n)| v.as_deref() == Some("v2") && *n == 2));

    // Two large writers on other keys at once: both land, one after the other.
    let token = list(&c, &pool, &id, "big", 0).await.token;
    let (x, y) = tokio::join!(
        update_with(&c, &pool, &id, "big", &token, patches("x", "x", 0)),
        update_with(&c, &pool, &id, "big", &token, patches("y", "y", 0)),
    );
    let counts = [x.unwrap()[0].2, y.unwrap()[0].2];
    assert!(counts.contains(&3) && counts.contains(&4), "{counts:?}");
    let l = list(&c, &pool, &id, "big", 0).await;
    assert_eq!((l.records.len(), l.sync_count), (450, 4));
    // And two on the same keys: the second conflicts and writes nothing.
    let token = list(&c, &pool, &id, "big", 0).await.token;
    let (x, y) = tokio::join!(
        update_with(&c, &pool, &id, "big", &token, patches("k", "p", 2)),
        update_with(&c, &pool, &id, "big", &token, patches("k", "q", 2)),
    );
    assert!(
        x.is_ok() != y.is_ok(),
        "exactly one wins: {:?} {:?}",
        x.as_ref().map(|_| ()),
        y.as_ref().map(|_| ())
    );
    let loser = x.err().or(y.err()).unwrap();
    assert_eq!(loser.0, 409);
    let l = list(&c, &pool, &id, "big", 4).await;
    assert_eq!(l.sync_count, 5);
    let values: std::collections::BTreeSet<_> = l.records.values().map(|(v, _)| v.clone().unwrap()).collect();
    assert_eq!(values.len(), 1, "all 150 from one writer: {values:?}");
});

on_both_stores!(a_failed_writers_orphans_stay_invisible_and_are_cleared, |env| {
    let pool = seed_pool(env).await;
    let id = seed_identity(env, &pool).await;
    let c = admin(env).await;
    update(&c, &pool, &id, "d", vec![replace("a", "1", 0)]).await.unwrap();
    // What a large writer that died after writing part of count 2 leaves: versions above the
    // committed count (the layout of sync::engine), and an expired claim on the head.
    let records = format!("SYNCREC#{pool}#{id}#d");
    let version = |key: &str, value: &str| {
        Item::new(
            records.clone(),
            format!("K{key}|{:016x}", 2),
            json!({"k": key, "c": 2, "v": value, "lm": 1, "lmb": "dead", "dlm": 1}),
        )
    };
    put(env, version("a", "orphan")).await;
    put(env, version("ghost", "orphan")).await;
    let head_pk = format!("SYNCDS#{pool}#{id}");
    let s = svc(env);
    let head = s.store.get(&head_pk, "d", s.now_secs()).await.unwrap().unwrap();
    let mut claimed = head.clone();
    claimed.body["claim"] = json!({"id": "dead", "expires_at": s.now_secs() - 1});
    claimed.version += 1;
    s.store.transact(vec![Write::put(claimed, Cond::Version(head.version))], s.now_secs()).await.unwrap();

    let l = list(&c, &pool, &id, "d", 0).await;
    assert_eq!(l.records, BTreeMap::from([("a".to_string(), (Some("1".to_string()), 1))]));
    // The next writer takes over at count 2; the dead writer's versions never show.
    let w = update_with(&c, &pool, &id, "d", &l.token, vec![replace("b", "2", 0)]).await.unwrap();
    assert_eq!(w, vec![("b".into(), Some("2".into()), 2)]);
    let l = list(&c, &pool, &id, "d", 0).await;
    assert_eq!(
        live(&l),
        BTreeMap::from([("a".to_string(), "1".to_string()), ("b".to_string(), "2".to_string())])
    );
    let left = s.store.query(&records, "", None, 100, s.now_secs()).await.unwrap();
    let sks: Vec<&str> = left.items.iter().map(|i| i.sk.as_str()).collect();
    assert_eq!(sks, vec!["Ka|0000000000000001", "Kb|0000000000000002"], "orphans deleted");
});

on_both_stores!(session_tokens_are_required_bound_and_expire, |env| {
    let pool = seed_pool(env).await;
    let id = seed_identity(env, &pool).await;
    let c = admin(env).await;
    let no_token = c
        .update_records()
        .identity_pool_id(&pool)
        .identity_id(&id)
        .dataset_name("d")
        .record_patches(replace("a", "1", 0))
        .send()
        .await;
    let e = sync_err(no_token.unwrap_err());
    assert_eq!(e.0, 400);
    assert!(e.1.starts_with("InvalidParameterException"), "{e:?}");
    let bad = update_with(&c, &pool, &id, "d", "not-a-token", vec![replace("a", "1", 0)]).await.unwrap_err();
    assert_eq!(
        bad,
        (
            400,
            "InvalidParameterException: The SyncSessionToken is invalid, expired, or was issued for another dataset."
                .into()
        )
    );
    let other = list(&c, &pool, &id, "other", 0).await.token;
    assert!(update_with(&c, &pool, &id, "d", &other, vec![replace("a", "1", 0)]).await.is_err());
    let token = list(&c, &pool, &id, "d", 0).await.token;
    env.clock.advance_secs(3601);
    assert!(update_with(&c, &pool, &id, "d", &token, vec![replace("a", "1", 0)]).await.is_err());
    let token = list(&c, &pool, &id, "d", 0).await.token;
    update_with(&c, &pool, &id, "d", &token, vec![replace("a", "1", 0)]).await.unwrap();
    assert!(!list(&c, &pool, &id, "other", 0).await.exists);
});

on_both_stores!(pages_follow_tokens_and_one_listing_is_one_session, |env| {
    let pool = seed_pool(env).await;
    let id = seed_identity(env, &pool).await;
    let c = admin(env).await;
    let before = |u: cs::operation::describe_identity_pool_usage::DescribeIdentityPoolUsageOutput| {
        u.identity_pool_usage().unwrap().sync_sessions_count().unwrap()
    };
    update(&c, &pool, &id, "d", (0..25).map(|i| replace(&format!("k{i:02}"), "v", 0)).collect())
        .await
        .unwrap();
    update(&c, &pool, &id, "d", vec![replace("k03", "w", 1)]).await.unwrap();
    let sessions = before(c.describe_identity_pool_usage().identity_pool_id(&pool).send().await.unwrap());
    let mut keys = Vec::new();
    let mut next: Option<String> = None;
    let mut pages = 0;
    loop {
        let out = c
            .list_records()
            .identity_pool_id(&pool)
            .identity_id(&id)
            .dataset_name("d")
            .max_results(10)
            .set_next_token(next)
            .send()
            .await
            .unwrap();
        pages += 1;
        assert!(out.count() <= 10);
        keys.extend(out.records().iter().map(|r| (r.sync_count().unwrap(), r.key().unwrap().to_string())));
        next = out.next_token().map(str::to_string);
        if next.is_none() {
            break;
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(keys.len(), 25);
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted, "ordered by sync count, then key");
    assert_eq!(keys.last().unwrap(), &(2, "k03".to_string()));
    let after = before(c.describe_identity_pool_usage().identity_pool_id(&pool).send().await.unwrap());
    assert_eq!(after, sessions + 1, "one paged listing is one sync session");
    let bad = c
        .list_records()
        .identity_pool_id(&pool)
        .identity_id(&id)
        .dataset_name("d")
        .next_token("junk")
        .send()
        .await;
    assert!(err_name(bad.unwrap_err()).starts_with("InvalidParameterException"));

    for i in 0..5 {
        update(&c, &pool, &id, &format!("ds{i}"), vec![replace("a", "1", 0)]).await.unwrap();
    }
    let mut names = Vec::new();
    let mut next: Option<String> = None;
    loop {
        let out = c
            .list_datasets()
            .identity_pool_id(&pool)
            .identity_id(&id)
            .max_results(2)
            .set_next_token(next)
            .send()
            .await
            .unwrap();
        names.extend(out.datasets().iter().map(|d| d.dataset_name().unwrap().to_string()));
        next = out.next_token().map(str::to_string);
        if next.is_none() {
            break;
        }
    }
    assert_eq!(names, vec!["d", "ds0", "ds1", "ds2", "ds3", "ds4"]);
});

on_both_stores!(usage_of_identities_and_pools, |env| {
    let pool = seed_pool(env).await;
    let id = seed_identity(env, &pool).await;
    let c = admin(env).await;
    let usage = c.describe_identity_usage().identity_pool_id(&pool).identity_id(&id).send().await.unwrap();
    let u = usage.identity_usage().unwrap();
    assert_eq!((u.dataset_count(), u.data_storage()), (0, Some(0)));
    update(&c, &pool, &id, "a", vec![replace("k", "12345", 0)]).await.unwrap();
    update(&c, &pool, &id, "b", vec![replace("kk", "1", 0)]).await.unwrap();
    let usage = c.describe_identity_usage().identity_pool_id(&pool).identity_id(&id).send().await.unwrap();
    let u = usage.identity_usage().unwrap();
    assert_eq!((u.dataset_count(), u.data_storage()), (2, Some(9)));
    assert_eq!(u.identity_pool_id(), Some(pool.as_str()));
    assert!(u.last_modified_date().is_some());

    let p = c.describe_identity_pool_usage().identity_pool_id(&pool).send().await.unwrap();
    let p = p.identity_pool_usage().unwrap();
    assert_eq!(p.data_storage(), Some(9));
    assert_eq!(p.sync_sessions_count(), Some(2), "each update above listed once");
    assert!(p.last_modified_date().is_some());
    c.delete_dataset().identity_pool_id(&pool).identity_id(&id).dataset_name("a").send().await.unwrap();
    let p = c.describe_identity_pool_usage().identity_pool_id(&pool).send().await.unwrap();
    assert_eq!(p.identity_pool_usage().unwrap().data_storage(), Some(3));

    let mut found = false;
    let mut next: Option<String> = None;
    loop {
        let out = c.list_identity_pool_usage().max_results(60).set_next_token(next).send().await.unwrap();
        found |= out.identity_pool_usages().iter().any(|u| u.identity_pool_id() == Some(pool.as_str()));
        next = out.next_token().map(str::to_string);
        if next.is_none() {
            break;
        }
    }
    assert!(found);

    // Missing pools and identities.
    let ghost_pool = format!("us-east-1:{}", svc(env).rng.uuid());
    let e = c.describe_identity_pool_usage().identity_pool_id(&ghost_pool).send().await.unwrap_err();
    assert_eq!(sync_err(e).0, 404);
    let ghost = format!("us-east-1:{}", svc(env).rng.uuid());
    let e = c.list_datasets().identity_pool_id(&pool).identity_id(&ghost).send().await.unwrap_err();
    assert_eq!(sync_err(e), (404, format!("ResourceNotFoundException: Identity {ghost} does not exist.")));
    let e = c.list_records().identity_pool_id(&ghost_pool).identity_id(&id).dataset_name("a").send().await;
    assert_eq!(sync_err(e.unwrap_err()).0, 404);

    // Pool usage is for developers only.
    let me = as_identity(env, &pool, &id).await;
    let e = me.describe_identity_pool_usage().identity_pool_id(&pool).send().await.unwrap_err();
    assert_eq!(sync_err(e).0, 403);
    let e = me.list_identity_pool_usage().send().await.unwrap_err();
    assert_eq!(sync_err(e).1.split(':').next(), Some("NotAuthorizedException"));
    me.describe_identity_usage().identity_pool_id(&pool).identity_id(&id).send().await.unwrap();
});

on_both_stores!(an_identity_reaches_only_its_own_datasets, |env| {
    let pool = seed_pool(env).await;
    let me = seed_identity(env, &pool).await;
    let other = seed_identity(env, &pool).await;
    let c = admin(env).await;
    update(&c, &pool, &other, "secret", vec![replace("pin", "1234", 0)]).await.unwrap();
    let mine = as_identity(env, &pool, &me).await;
    update(&mine, &pool, &me, "mine", vec![replace("a", "1", 0)]).await.unwrap();
    assert_eq!(list(&mine, &pool, &me, "mine", 0).await.records.len(), 1);
    let e =
        mine.list_records().identity_pool_id(&pool).identity_id(&other).dataset_name("secret").send().await;
    let (status, name) = sync_err(e.unwrap_err());
    assert_eq!(status, 403);
    assert!(name.starts_with("NotAuthorizedException"), "{name}");
    let e = mine.list_datasets().identity_pool_id(&pool).identity_id(&other).send().await.unwrap_err();
    assert_eq!(sync_err(e).0, 403);
    let e =
        mine.delete_dataset().identity_pool_id(&pool).identity_id(&other).dataset_name("secret").send().await;
    assert_eq!(sync_err(e.unwrap_err()).0, 403);
    assert_eq!(list(&c, &pool, &other, "secret", 0).await.records.len(), 1);
    // Credentials of one pool do not reach the same identity id under another pool.
    let other_pool = seed_pool(env).await;
    let e = mine.list_datasets().identity_pool_id(&other_pool).identity_id(&me).send().await.unwrap_err();
    assert_eq!(sync_err(e).0, 403);
});

/// The identity pool's SyncTrigger (what SetCognitoEvents stores).
async fn set_trigger(env: &TestEnv, pool: &str, function: &str) {
    let config = IdentityPoolSyncConfig {
        events: [("SyncTrigger".to_string(), arn(function))].into(),
        ..Default::default()
    };
    put(
        env,
        Item::new(
            keys::identity_pool_sync_config(pool),
            keys::IDENTITY_POOL_SYNC_CONFIG_SK,
            serde_json::to_value(&config).unwrap(),
        ),
    )
    .await;
}

/// The reference function of the guide (the Cognito Sync developer guide's example).
fn reference_function(event: &Value) -> Value {
    let mut e = event.clone();
    if e["eventType"] == "SyncTrigger" {
        let records = e["datasetRecords"].as_object_mut().unwrap();
        if let Some(r) = records.get_mut("SampleKey1") {
            r["newValue"] = json!("ModifyValue1");
            r["op"] = json!("replace");
        }
        if let Some(r) = records.get_mut("SampleKey2") {
            r["op"] = json!("remove");
        }
        records.entry("SampleKey3").or_insert(json!({"newValue": "ModifyValue3", "op": "replace"}));
    }
    e
}

on_both_stores!(the_sync_trigger_rewrites_and_rejects_records, |env| {
    let pool = seed_pool(env).await;
    let id = seed_identity(env, &pool).await;
    let c = admin(env).await;
    update(&c, &pool, &id, "d", vec![replace("keep", "k", 0), replace("SampleKey2", "old2", 0)])
        .await
        .unwrap();
    set_trigger(env, &pool, "sync-fn").await;
    env.lambda.on(|_, e| Reply::Payload(serde_json::to_vec(&reference_function(e)).unwrap()));
    let me = as_identity(env, &pool, &id).await;

    let w = update(
        &me,
        &pool,
        &id,
        "d",
        vec![replace("SampleKey1", "mine", 0), replace("SampleKey2", "new2", 1)],
    )
    .await
    .unwrap();
    assert_eq!(
        w,
        vec![
            ("SampleKey1".into(), Some("ModifyValue1".into()), 2),
            ("SampleKey2".into(), None, 2),
            ("SampleKey3".into(), Some("ModifyValue3".into()), 2),
        ]
    );
    let events = env.lambda.events("sync-fn");
    assert_eq!(events.len(), 1);
    assert_eq!(
        events[0],
        json!({
            "version": 2,
            "eventType": "SyncTrigger",
            "region": "us-east-1",
            "identityPoolId": pool,
            "identityId": id,
            "datasetName": "d",
            "datasetRecords": {
                "keep": {"oldValue": "k", "newValue": "k", "op": "replace"},
                "SampleKey1": {"newValue": "mine", "op": "replace"},
                "SampleKey2": {"oldValue": "old2", "newValue": "new2", "op": "replace"},
            }
        })
    );
    let l = list(&me, &pool, &id, "d", 0).await;
    assert_eq!(
        live(&l),
        BTreeMap::from([
            ("SampleKey1".to_string(), "ModifyValue1".to_string()),
            ("SampleKey3".to_string(), "ModifyValue3".to_string()),
            ("keep".to_string(), "k".to_string()),
        ])
    );

    // A record the function leaves out keeps its stored value; the response says so.
    env.lambda.on(|_, e| {
        let mut e = e.clone();
        e["datasetRecords"].as_object_mut().unwrap().remove("keep");
        Reply::Payload(serde_json::to_vec(&e).unwrap())
    });
    let w = update(&me, &pool, &id, "d", vec![replace("keep", "changed", 1), replace("more", "m", 0)])
        .await
        .unwrap();
    assert_eq!(w, vec![("more".into(), Some("m".into()), 3), ("keep".into(), Some("k".into()), 1)]);

    // Failures write nothing.
    let count = list(&me, &pool, &id, "d", 0).await.sync_count;
    let cases: Vec<(Reply, &str)> = vec![
        (
            Reply::Fail("no cheating".into()),
            "InvalidLambdaFunctionOutputException: The SyncTrigger function failed with error no cheating.",
        ),
        (Reply::Payload(b"[]".to_vec()), "InvalidLambdaFunctionOutputException"),
        (Reply::Status(429, "TooManyRequestsException"), "LambdaThrottledException"),
    ];
    for (reply, want) in cases {
        let reply = Arc::new(std::sync::Mutex::new(Some(reply)));
        env.lambda.on(move |_, _| reply.lock().unwrap().take().unwrap_or(Reply::Fail("twice".into())));
        let e = update(&me, &pool, &id, "d", vec![replace("x", "1", 0)]).await.unwrap_err();
        assert!(e.1.starts_with(want), "{e:?}");
        assert_eq!(e.0, if want.starts_with("Lambda") { 429 } else { 400 });
    }
    env.lambda.on(|_, e| {
        let mut e = e.clone();
        e["datasetName"] = json!("elsewhere");
        Reply::Payload(serde_json::to_vec(&e).unwrap())
    });
    let e = update(&me, &pool, &id, "d", vec![replace("x", "1", 0)]).await.unwrap_err();
    assert!(e.1.contains("read-only field datasetName"), "{e:?}");
    // Cognito waits 5 seconds, then gives up and writes nothing.
    env.lambda.on(|_, _| Reply::Slow(std::time::Duration::from_secs(7)));
    let started = std::time::Instant::now();
    let e = update(&me, &pool, &id, "d", vec![replace("x", "1", 0)]).await.unwrap_err();
    assert_eq!(
        e,
        (
            400,
            "InvalidLambdaFunctionOutputException: The SyncTrigger function did not answer within 5 seconds."
                .into()
        )
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(7));
    let l = list(&me, &pool, &id, "d", 0).await;
    assert_eq!(l.sync_count, count);
    assert!(!l.records.contains_key("x"));

    // Developer credentials never run the trigger.
    let calls = env.lambda.calls().len();
    update(&c, &pool, &id, "d", vec![replace("x", "admin", 0)]).await.unwrap();
    assert_eq!(env.lambda.calls().len(), calls);
});

on_both_stores!(the_bundled_sync_trigger_runs_in_the_path, |env| {
    use tessera_hooks::sync::{anchored, SyncConfig};
    let pool = seed_pool(env).await;
    let id = seed_identity(env, &pool).await;
    set_trigger(env, &pool, "sync-trigger").await;
    let cfg = SyncConfig {
        trim_values: true,
        empty_as_remove: true,
        denied_keys: ["isAdmin".to_string()].into(),
        key_pattern: Some(anchored("key", "[A-Za-z][A-Za-z0-9_]*").unwrap()),
        ..SyncConfig::default()
    };
    // The function's own handler, as the sync-trigger binary runs it.
    env.lambda.on(move |_, e| match tessera_hooks::lambda::sync_trigger_event(&cfg, e.clone()) {
        Ok(out) => Reply::Payload(serde_json::to_vec(&out).unwrap()),
        Err(r) => Reply::Fail(r.message),
    });
    let me = as_identity(env, &pool, &id).await;
    let w =
        update(&me, &pool, &id, "prefs", vec![replace("theme", "  dark \n", 0), replace("nick", "   ", 0)])
            .await
            .unwrap();
    assert_eq!(w, vec![("nick".into(), None, 1), ("theme".into(), Some("dark".into()), 1)]);
    let e = update(&me, &pool, &id, "prefs", vec![replace("isAdmin", "true", 0)]).await.unwrap_err();
    assert_eq!(
        e,
        (400, "InvalidLambdaFunctionOutputException: The SyncTrigger function failed with error The key \"isAdmin\" may not be written.".into())
    );
    let l = list(&me, &pool, &id, "prefs", 0).await;
    assert_eq!(live(&l), BTreeMap::from([("theme".to_string(), "dark".to_string())]));
});

on_both_stores!(merging_identities_moves_datasets_and_deleting_clears_them, |env| {
    use tessera_core::sync;
    let pool = seed_pool(env).await;
    let from = seed_identity(env, &pool).await;
    let to = seed_identity(env, &pool).await;
    let c = admin(env).await;
    update(&c, &pool, &from, "game", vec![replace("level", "3", 0)]).await.unwrap();
    update(&c, &pool, &from, "game", vec![replace("score", "40", 0)]).await.unwrap();
    update(&c, &pool, &to, "game", vec![replace("level", "1", 0)]).await.unwrap();
    sync::move_datasets_on_merge(svc(env), &pool, &from, &to).await.unwrap();

    let merged = format!("game.{from}");
    let l = list(&c, &pool, &to, "game", 0).await;
    assert_eq!(l.merged, vec![merged.clone()]);
    let m = list(&c, &pool, &to, &merged, 0).await;
    assert_eq!(m.sync_count, 2, "counts are kept");
    assert_eq!(
        m.records,
        BTreeMap::from([
            ("level".to_string(), (Some("3".to_string()), 1)),
            ("score".to_string(), (Some("40".to_string()), 2))
        ])
    );
    assert_eq!(c.list_datasets().identity_pool_id(&pool).identity_id(&from).send().await.unwrap().count(), 0);
    assert!(list(&c, &pool, &from, "game", 0).await.records.is_empty());
    let u = c.describe_identity_usage().identity_pool_id(&pool).identity_id(&to).send().await.unwrap();
    assert_eq!(u.identity_usage().unwrap().dataset_count(), 2);
    // The app merges and deletes the merged dataset: the merge is no longer reported.
    c.delete_dataset().identity_pool_id(&pool).identity_id(&to).dataset_name(&merged).send().await.unwrap();
    assert!(list(&c, &pool, &to, "game", 0).await.merged.is_empty());

    sync::delete_identity_data(svc(env), &pool, &to).await.unwrap();
    assert_eq!(c.list_datasets().identity_pool_id(&pool).identity_id(&to).send().await.unwrap().count(), 0);
    let l = list(&c, &pool, &to, "game", 0).await;
    assert!(!l.exists && l.sync_count == 0 && l.records.is_empty());
    update(&c, &pool, &to, "other", vec![replace("a", "1", 0)]).await.unwrap();
    sync::delete_pool_data(svc(env), &pool).await.unwrap();
    let p = c.describe_identity_pool_usage().identity_pool_id(&pool).send().await.unwrap();
    assert_eq!(p.identity_pool_usage().unwrap().data_storage(), Some(0));
    assert_eq!(c.list_datasets().identity_pool_id(&pool).identity_id(&to).send().await.unwrap().count(), 0);
});

/// Rough timings on the embedded store (run with `--ignored --nocapture`): UpdateRecords of 10
/// records and ListRecords of a 1024-record dataset.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement, not a check"]
async fn timing_on_the_embedded_store() {
    let env = TestEnv::start(Backend::Embedded).await.unwrap();
    let pool = seed_pool(&env).await;
    let id = seed_identity(&env, &pool).await;
    let c = admin(&env).await;
    let patches: Vec<RecordPatch> =
        (0..1024).map(|i| replace(&format!("key{i:04}"), &"v".repeat(100), 0)).collect();
    let t = std::time::Instant::now();
    update(&c, &pool, &id, "big", patches).await.unwrap();
    eprintln!("UpdateRecords of 1024 records (with its ListRecords): {:?}", t.elapsed());
    let rounds = 20;
    let t = std::time::Instant::now();
    for _ in 0..rounds {
        assert_eq!(list(&c, &pool, &id, "big", 0).await.records.len(), 1024);
    }
    eprintln!("ListRecords of 1024 records: {:?} each", t.elapsed() / rounds);
    let token = list(&c, &pool, &id, "small", 0).await.token;
    let t = std::time::Instant::now();
    for round in 0..rounds {
        let patches = (0..10).map(|i| replace(&format!("k{i}"), "value", i64::from(round))).collect();
        update_with(&c, &pool, &id, "small", &token, patches).await.unwrap();
    }
    eprintln!("UpdateRecords of 10 records: {:?} each", t.elapsed() / rounds);
}
