//! ListRecords and UpdateRecords: a sync session reads the records changed since the client's last
//! sync, then writes the client's patches, after the pool's SyncTrigger (when there is one) had its
//! say, and pushes the change to the identity's other devices.

use super::engine::backoff::{Backoff, RACE_BUDGET};
use super::engine::commit::{commit, ClaimWaits, Outcome};
use super::engine::counters::{count_session, dataset_count_write};
use super::engine::model::RecordState;
use super::engine::plan::{plan_update, Change};
use super::engine::read::{merged_names, snapshot, snapshot_within};
use super::notify::notify_dataset_changed;
use super::patches::{check_limits, check_patches, check_record_patches, event_records, final_size, resolve};
use super::request::{access, dataset_name, modifier, page_size_of, ListRecordsInput, UpdateRecordsInput};
use super::tokens::{open_session, seal, session_token, unseal, Sealed};
use super::trigger::{self as sync_trigger, EventScope};
use crate::error::{Error, Result};
use crate::model::{keys, IdentityPoolSyncConfig};
use crate::service::{CallContext, Principal, Service};
use crate::store::Write;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// ListRecords pages hold at most this many records (the SDKs ask for 1024).
const MAX_RECORDS_PAGE: usize = 1024;

/// `ListRecords`: the records changed after `LastSyncCount`, and a session token for
/// UpdateRecords. A dataset that does not exist is listed as empty (that is how its first
/// write starts).
pub async fn list_records(svc: &Service, ctx: &CallContext, input: &Value) -> Result<Value> {
    let (pool, identity) = access(svc, ctx, input).await?;
    let name = dataset_name(input)?;
    let given: ListRecordsInput = crate::input::typed(input, "the request")?;
    let last = given.last_sync_count.unwrap_or(0);
    if last < 0 {
        return Err(Error::invalid("LastSyncCount must be 0 or more."));
    }
    let limit = page_size_of(given.max_results, MAX_RECORDS_PAGE);
    let page_token = match given.next_token.as_deref() {
        Some(t) => Some(
            unseal(svc, t, "records-page", &pool, &identity, name)
                .filter(|p| p.l == last)
                .ok_or_else(|| Error::invalid("Invalid NextToken."))?,
        ),
        None => None,
    };
    let given =
        given.sync_session_token.as_deref().and_then(|t| open_session(svc, t, &pool, &identity, name));
    let session = match given.or_else(|| page_token.as_ref().map(|p| p.s.clone())) {
        Some(s) => s,
        None => {
            count_session(svc, &pool).await?;
            svc.rng.uuid().to_string()
        }
    };
    let snap = snapshot(svc, &pool, &identity, name).await?;
    let mut records: Vec<RecordState> = snap
        .visible()?
        .into_values()
        .filter(|r| i64::try_from(r.sync_count).is_ok_and(|c| c > last))
        .collect();
    records.sort_by(|a, b| (a.sync_count, &a.key).cmp(&(b.sync_count, &b.key)));
    if let Some(p) = &page_token {
        records.retain(|r| (r.sync_count, &r.key) > (p.c, &p.k));
    }
    let more = records.len() > limit;
    records.truncate(limit);
    let head = snap.head();
    let exists = head.is_some_and(|h| h.live);
    let floor = head.map(|h| h.floor).unwrap_or(0);
    let mut out = json!({
        "Records": records.iter().map(RecordState::to_api).collect::<Vec<_>>(),
        "Count": records.len(),
        // 0 while the dataset does not exist, deleted or not: a client that took the deleted
        // count as its own would be told of the deletion again on every sync.
        "DatasetSyncCount": head.filter(|h| h.live).map(|h| h.sync_count).unwrap_or(0),
        "MergedDatasetNames": merged_names(svc, &pool, &identity, name).await?,
        "DatasetExists": exists,
        "DatasetDeletedAfterRequestedSyncCount": last > 0 && u64::try_from(last).is_ok_and(|l| l <= floor),
        "SyncSessionToken": session_token(svc, &pool, &identity, name, &session)?,
    });
    if let Some(h) = head.filter(|h| !h.last_modified_by.is_empty()) {
        out["LastModifiedBy"] = json!(h.last_modified_by);
    }
    if let (true, Some(r)) = (more, records.last()) {
        let token = Sealed {
            t: "records-page".into(),
            p: pool.clone(),
            i: identity.clone(),
            d: name.to_string(),
            s: session,
            e: 0,
            l: last,
            c: r.sync_count,
            k: r.key.clone(),
        };
        out["NextToken"] = json!(seal(svc, &token)?);
    }
    Ok(out)
}

/// The SyncTrigger function of the pool, when one is configured.
async fn sync_trigger_arn(svc: &Service, pool: &str) -> Result<Option<String>> {
    let config = svc
        .get_json::<IdentityPoolSyncConfig>(
            &keys::identity_pool_sync_config(pool),
            keys::IDENTITY_POOL_SYNC_CONFIG_SK,
        )
        .await?;
    Ok(config.and_then(|(c, _)| c.events.get("SyncTrigger").filter(|a| !a.is_empty()).cloned()))
}

/// `UpdateRecords` (docs/identity-pools.md, "Cognito Sync").
pub async fn update_records(svc: &Service, ctx: &CallContext, input: &Value) -> Result<Value> {
    let (pool, identity) = access(svc, ctx, input).await?;
    let name = dataset_name(input)?;
    let given: UpdateRecordsInput = crate::input::typed(input, "the request")?;
    let token = given
        .sync_session_token
        .as_deref()
        .ok_or_else(|| Error::invalid("UpdateRecords needs the SyncSessionToken of a ListRecords call."))?;
    if open_session(svc, token, &pool, &identity, name).is_none() {
        return Err(Error::invalid(
            "The SyncSessionToken is invalid, expired, or was issued for another dataset.",
        ));
    }
    let device_id = match given.device_id.as_deref() {
        Some(d) if d.is_empty() || d.chars().count() > 256 => {
            return Err(Error::invalid("DeviceId must be 1 to 256 characters long."))
        }
        d => d,
    };
    let patches = check_record_patches(given.record_patches.unwrap_or_default())?;
    if patches.is_empty() {
        return Ok(json!({ "Records": [] }));
    }
    // The trigger runs for callers with an identity's credentials only (as Cognito runs it).
    let trigger = match &ctx.principal {
        Principal::Identity { .. } => sync_trigger_arn(svc, &pool).await?,
        _ => None,
    };
    let by = modifier(svc, ctx);
    let mut claim = ClaimWaits::default();
    let mut backoff = Backoff::new();
    loop {
        let snap = snapshot_within(svc, &pool, &identity, name, &mut backoff).await?;
        if snap.head().is_some_and(|h| h.claimed(svc.now_secs())) {
            claim.wait().await?;
            continue;
        }
        let current = snap.visible()?;
        check_patches(&patches, &current)?;
        let decisions = match &trigger {
            Some(arn) => {
                let scope = EventScope {
                    region: pool.split_once(':').map(|(r, _)| r).unwrap_or(&svc.config.region),
                    identity_pool_id: &pool,
                    identity_id: &identity,
                    dataset_name: name,
                };
                let event = sync_trigger::event(&scope, &event_records(&patches, &current));
                let answer = sync_trigger::invoke(svc, arn, &event).await?;
                Some(sync_trigger::read_answer(&event, &answer)?)
            }
            None => None,
        };
        let resolution = resolve(&patches, &current, decisions.as_ref());
        let ignored: Vec<Value> =
            resolution.ignored.iter().filter_map(|k| current.get(k)).map(RecordState::to_api).collect();
        if resolution.writes.is_empty() {
            return Ok(json!({ "Records": ignored }));
        }
        let before = final_size(&current, &BTreeMap::new());
        let after = final_size(&current, &resolution.writes);
        check_limits(svc, name, before, after)?;
        let creating = !snap.head().is_some_and(|h| h.live);
        let dataset_count =
            if creating { Some(count_new_dataset(svc, &pool, &identity).await?) } else { None };
        let change = Change {
            name,
            records_pk: keys::sync::records(&pool, &identity, name),
            writes: &resolution.writes,
            size: after,
            by: &by,
            now: svc.clock.now_millis(),
        };
        let (written, mut plan) = plan_update(&snap, change)?;
        plan.dataset_count = dataset_count;
        let new_count = plan.head.sync_count;
        match commit(svc, &pool, &identity, plan).await? {
            Outcome::Done => {
                tracing::debug!(
                    dataset = name,
                    sync_count = new_count,
                    records = written.len(),
                    "sync commit"
                );
                notify_dataset_changed(svc, &pool, &identity, name, new_count as i64, device_id).await;
                let mut records: Vec<Value> = written.iter().map(RecordState::to_api).collect();
                records.extend(ignored);
                return Ok(json!({ "Records": records }));
            }
            Outcome::Raced => {
                // Another writer committed first. The next round re-reads the dataset: a record
                // it changed makes this update stale (409 there); otherwise it goes in on top.
                if !backoff.pause(svc).await {
                    tracing::warn!(
                        dataset = name,
                        lost = backoff.lost,
                        "UpdateRecords lost every commit race within its budget"
                    );
                    return Err(Error::TooManyRequestsException(format!(
                        "Too many concurrent updates of this dataset: this update lost every commit to other \
                         requests for {} seconds. Try again.",
                        RACE_BUDGET.as_secs()
                    )));
                }
            }
        }
    }
}

/// The write that counts a new dataset of the identity, unless it already has as many as it
/// may hold.
async fn count_new_dataset(svc: &Service, pool: &str, identity: &str) -> Result<Write> {
    let (count, write) = dataset_count_write(svc, pool, identity, 1).await?;
    let limit = svc.config.limits.sync_datasets_per_identity;
    if count >= limit {
        return Err(Error::LimitExceededException(format!(
            "The identity {identity} already has {count} datasets; an identity holds at most {limit}."
        )));
    }
    Ok(write)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::super::testing::service_with;
    use super::*;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;

    /// Every event logged while installed: its level and its fields as text.
    #[derive(Clone, Default)]
    struct Captured(std::sync::Arc<std::sync::Mutex<Vec<(tracing::Level, String)>>>);

    impl tracing::Subscriber for Captured {
        fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
            true
        }
        fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
            tracing::span::Id::from_u64(1)
        }
        fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
        fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
        fn event(&self, event: &tracing::Event<'_>) {
            struct Text(String);
            impl tracing::field::Visit for Text {
                fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
                    self.0.push_str(&format!(" {}={value:?}", field.name()));
                }
            }
            let mut text = Text(String::new());
            event.record(&mut text);
            self.0.lock().unwrap().push((*event.metadata().level(), text.0));
        }
        fn enter(&self, _: &tracing::span::Id) {}
        fn exit(&self, _: &tracing::span::Id) {}
    }

    impl Captured {
        fn at(&self, level: tracing::Level) -> Vec<String> {
            self.0.lock().unwrap().iter().filter(|(l, _)| *l == level).map(|(_, t)| t.clone()).collect()
        }
        fn all(&self) -> String {
            self.0.lock().unwrap().iter().map(|(_, t)| t.as_str()).collect::<Vec<_>>().join("\n")
        }
    }

    // A caller's garbage NextToken or SyncSessionToken is its bad input: the operation's 400,
    // and no "wrong master key" alarm in the log. A stored secret that does not open still is one.
    #[tokio::test]
    async fn garbage_client_tokens_are_no_server_errors() {
        let svc = service_with(true, Default::default());
        let (pool, identity) = (
            "us-east-1:0f5e7a3c-1d2b-4c5d-8e9f-0a1b2c3d4e5f",
            "us-east-1:5b1e0c2a-7d4f-4e8b-9a6c-3f2d1e0b9c8a",
        );
        let mut ctx = CallContext::new("http://127.0.0.1");
        ctx.principal = Principal::Identity { identity_pool_id: pool.into(), identity_id: identity.into() };
        // Base64 of 40 bytes that are no sealed token of ours; and one sealed under another key.
        let garbage = URL_SAFE_NO_PAD.encode([0x5au8; 40]);
        let other_key = crate::ports::AesGcmCipher::new(&[9u8; 32]).unwrap();
        let foreign = URL_SAFE_NO_PAD.encode(
            crate::ports::SecretCipher::seal(&other_key, crate::ports::sealed::SYNC_TOKEN, b"{}").unwrap(),
        );
        let log = Captured::default();
        let _installed = tracing::subscriber::set_default(log.clone());
        for token in [&garbage, &foreign] {
            let base = json!({"IdentityPoolId": pool, "IdentityId": identity, "DatasetName": "d"});
            let mut input = base.clone();
            input["NextToken"] = json!(token);
            let e = list_records(&svc, &ctx, &input).await.unwrap_err();
            assert_eq!(e, Error::invalid("Invalid NextToken."));
            let mut input = base.clone();
            input["SyncSessionToken"] = json!(token);
            input["RecordPatches"] = json!([{"Op": "replace", "Key": "a", "Value": "1", "SyncCount": 0}]);
            let e = update_records(&svc, &ctx, &input).await.unwrap_err();
            assert_eq!(e.name(), "InvalidParameterException");
            assert!(e.message().starts_with("The SyncSessionToken is invalid"), "{e}");
        }
        assert!(log.at(tracing::Level::ERROR).is_empty(), "{}", log.all());
        assert!(!log.all().contains(&garbage) && !log.all().contains(&foreign), "tokens are never logged");
        // A stored secret sealed under another master key is a server fault, logged as one.
        let stored =
            crate::ports::SecretCipher::seal(&other_key, crate::ports::sealed::SRP_VERIFIER, b"secret")
                .unwrap();
        let e = svc.cipher.open(crate::ports::sealed::SRP_VERIFIER, &stored).unwrap_err();
        assert_eq!(e.name(), "InternalErrorException");
        let errors = log.at(tracing::Level::ERROR);
        assert_eq!(errors.len(), 1, "{}", log.all());
        assert!(errors[0].contains("wrong master key"), "{errors:?}");
    }
}
