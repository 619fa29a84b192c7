//! Cognito Sync's pool settings and push sync with aws-sdk-cognitosync: configuration and
//! Cognito Events, device registration and dataset subscriptions, the silent push after a
//! change (local outbox, and SNS on moto), and the streams operations' refusal.

use crate::common::*;
use crate::on_both_stores;
use aws_sdk_cognitosync as cs;
use cs::types::{CognitoStreams, Operation, Platform, PushSync, RecordPatch, StreamingStatus};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicU64, Ordering};
use tessera_core::model::keys;
use tessera_core::ports::AwsCredentials;
use tessera_core::store::{Cond, Item, Write};
use tessera_core::sync;

const ROLE: &str = "arn:aws:iam::123456789012:role/cognito-sync-push";
const GCM_APP: &str = "arn:aws:sns:us-east-1:123456789012:app/GCM/tessera-android";
const APNS_SANDBOX_APP: &str = "arn:aws:sns:us-east-1:123456789012:app/APNS_SANDBOX/tessera-ios-dev";
const ADM_APP: &str = "arn:aws:sns:us-east-1:123456789012:app/ADM/tessera-kindle";
const TRIGGER: &str = "arn:aws:lambda:us-east-1:123456789012:function:sync-trigger";

static IDS: AtomicU64 = AtomicU64::new(1);

/// A fresh `us-east-1:{uuid}`-shaped id.
fn new_id() -> String {
    let n = IDS.fetch_add(1, Ordering::SeqCst);
    format!("us-east-1:{:08x}-0000-4000-8000-{:012x}", std::process::id(), n)
}

fn svc(env: &TestEnv) -> &tessera_core::Service {
    &env.server.state.frontend.service
}

async fn put(env: &TestEnv, pk: String, sk: &str, body: Value) {
    let s = svc(env);
    s.store.transact(vec![Write::put(Item::new(pk, sk, body), Cond::None)], s.now_secs()).await.unwrap();
}

/// An identity pool as the identity-pool operations store it (Sync checks that it exists).
async fn seed_pool(env: &TestEnv) -> String {
    let pool = new_id();
    put(env, keys::identity_pool(&pool), keys::IDENTITY_POOL_SK, json!({"IdentityPoolId": pool})).await;
    pool
}

/// An identity of `pool` and a Sync client signing with credentials remembered for it.
async fn seed_identity(env: &TestEnv, pool: &str) -> (String, cs::Client) {
    let identity = new_id();
    put(env, keys::identity(pool, &identity), keys::IDENTITY_SK, json!({"IdentityId": identity})).await;
    let n = IDS.fetch_add(1, Ordering::SeqCst);
    let creds = AwsCredentials {
        access_key_id: format!("ASIATESTSYNC{n:08}"),
        secret_key: format!("secret-{n}-{}", std::process::id()),
        session_token: format!("session-token-{n}"),
        expiration: svc(env).now_secs() + 3600,
    };
    tessera_core::identity_credentials::remember(svc(env), pool, &identity, &creds).await.unwrap();
    let client =
        sync_client(&env.url, &creds.access_key_id, &creds.secret_key, Some(&creds.session_token)).await;
    (identity, client)
}

async fn admin(env: &TestEnv) -> cs::Client {
    sync_client(&env.url, ADMIN_KEY, ADMIN_SECRET, None).await
}

/// "Name: message" and the HTTP status of a failed call.
fn failure<E>(e: cs::error::SdkError<E, cs::config::http::HttpResponse>) -> (String, u16)
where
    E: cs::error::ProvideErrorMetadata + std::fmt::Debug,
{
    let status = e.raw_response().map(|r| r.status().as_u16()).unwrap_or(0);
    (err_name(e), status)
}

fn push_sync(arns: &[&str]) -> PushSync {
    let mut b = PushSync::builder().role_arn(ROLE);
    for a in arns {
        b = b.application_arns(*a);
    }
    b.build()
}

async fn set_push(client: &cs::Client, pool: &str, arns: &[&str]) -> Result<(), (String, u16)> {
    client
        .set_identity_pool_configuration()
        .identity_pool_id(pool)
        .push_sync(push_sync(arns))
        .send()
        .await
        .map(|_| ())
        .map_err(failure)
}

async fn register(
    client: &cs::Client,
    pool: &str,
    identity: &str,
    platform: Platform,
    token: &str,
) -> Result<String, (String, u16)> {
    client
        .register_device()
        .identity_pool_id(pool)
        .identity_id(identity)
        .platform(platform)
        .token(token)
        .send()
        .await
        .map(|o| o.device_id.unwrap_or_default())
        .map_err(failure)
}

async fn subscribe(
    client: &cs::Client,
    pool: &str,
    identity: &str,
    dataset: &str,
    device: &str,
) -> Result<(), (String, u16)> {
    client
        .subscribe_to_dataset()
        .identity_pool_id(pool)
        .identity_id(identity)
        .dataset_name(dataset)
        .device_id(device)
        .send()
        .await
        .map(|_| ())
        .map_err(failure)
}

async fn unsubscribe(
    client: &cs::Client,
    pool: &str,
    identity: &str,
    dataset: &str,
    device: &str,
) -> Result<(), (String, u16)> {
    client
        .unsubscribe_from_dataset()
        .identity_pool_id(pool)
        .identity_id(identity)
        .dataset_name(dataset)
        .device_id(device)
        .send()
        .await
        .map(|_| ())
        .map_err(failure)
}

/// Synchronizes `dataset` once (ListRecords, then UpdateRecords of one record), so it exists.
async fn create_dataset(client: &cs::Client, pool: &str, identity: &str, dataset: &str) {
    let listed = client
        .list_records()
        .identity_pool_id(pool)
        .identity_id(identity)
        .dataset_name(dataset)
        .send()
        .await
        .unwrap();
    let patch = RecordPatch::builder().op(Operation::Replace).key("created").value("1").sync_count(0).build();
    client
        .update_records()
        .identity_pool_id(pool)
        .identity_id(identity)
        .dataset_name(dataset)
        .sync_session_token(listed.sync_session_token().unwrap())
        .record_patches(patch.unwrap())
        .send()
        .await
        .unwrap();
}

/// The push sync payload the platforms' SDKs read: five keys, all strings.
fn data(pool: &str, identity: &str, dataset: &str, sync_count: &str) -> Value {
    json!({
        "source": "cognito-sync",
        "identityPoolId": pool,
        "identityId": identity,
        "datasetName": dataset,
        "syncCount": sync_count,
    })
}

/// The SNS message (MessageStructure=json) expected for a platform, decoded one level.
fn expected_message(platform: &str, data: &Value) -> Value {
    let payload = match platform {
        "APNS" | "APNS_SANDBOX" => json!({"aps": {"content-available": 1}, "data": data}),
        _ => json!({"data": data}),
    };
    json!({"default": data.to_string(), platform: payload.to_string()})
}

/// A message with its platform payload (a JSON string inside the JSON) decoded, for
/// comparisons that do not depend on key order.
fn decode(message: &str) -> Value {
    let mut v: Value = serde_json::from_str(message).unwrap();
    for (_, inner) in v.as_object_mut().unwrap().iter_mut() {
        *inner = serde_json::from_str(inner.as_str().unwrap()).unwrap();
    }
    v
}

fn decode_expected(platform: &str, data: &Value) -> Value {
    decode(&expected_message(platform, data).to_string())
}

fn pushes_to(env: &TestEnv, endpoint: &str) -> Vec<Value> {
    env.messages_to(endpoint)
        .into_iter()
        .inspect(|m| assert_eq!(m.channel, "PUSH"))
        .map(|m| decode(&m.body))
        .collect()
}

on_both_stores!(configuration_round_trip_and_validation, |env| {
    let admin = admin(env).await;
    let missing = new_id();
    let e = admin.get_identity_pool_configuration().identity_pool_id(&missing).send().await.unwrap_err();
    assert_eq!(failure(e), (format!("ResourceNotFoundException: IdentityPool '{missing}' not found."), 404));
    assert_eq!(
        set_push(&admin, &missing, &[GCM_APP]).await.unwrap_err().0,
        format!("ResourceNotFoundException: IdentityPool '{missing}' not found.")
    );

    let pool = seed_pool(env).await;
    let out = admin.get_identity_pool_configuration().identity_pool_id(&pool).send().await.unwrap();
    assert_eq!(out.identity_pool_id(), Some(pool.as_str()));
    assert!(out.push_sync().is_none());
    assert_eq!(out.cognito_streams().and_then(|s| s.streaming_status()), Some(&StreamingStatus::Disabled));

    let set = admin
        .set_identity_pool_configuration()
        .identity_pool_id(&pool)
        .push_sync(push_sync(&[GCM_APP, APNS_SANDBOX_APP]))
        .send()
        .await
        .unwrap();
    assert_eq!(set.push_sync().unwrap().application_arns(), [GCM_APP, APNS_SANDBOX_APP]);
    assert_eq!(set.push_sync().unwrap().role_arn(), Some(ROLE));
    let got = admin.get_identity_pool_configuration().identity_pool_id(&pool).send().await.unwrap();
    assert_eq!(got.push_sync(), set.push_sync());

    // Leaving PushSync out keeps it; streams can only be left off.
    let out = admin
        .set_identity_pool_configuration()
        .identity_pool_id(&pool)
        .cognito_streams(CognitoStreams::builder().streaming_status(StreamingStatus::Disabled).build())
        .send()
        .await
        .unwrap();
    assert_eq!(out.push_sync(), set.push_sync());
    for streams in [
        CognitoStreams::builder().streaming_status(StreamingStatus::Enabled).build(),
        CognitoStreams::builder().stream_name("my-stream").role_arn(ROLE).build(),
    ] {
        let e = admin
            .set_identity_pool_configuration()
            .identity_pool_id(&pool)
            .push_sync(push_sync(&[ADM_APP]))
            .cognito_streams(streams)
            .send()
            .await
            .unwrap_err();
        let (name, status) = failure(e);
        assert_eq!(status, 400);
        assert!(
            name.starts_with(
                "InvalidParameterException: Cognito Streams are not supported by this version of Tessera"
            ),
            "{name}"
        );
    }

    // Application ARNs: SNS platform applications of the four push platforms, one each.
    for (arns, wanted) in [
        (vec!["arn:aws:sns:us-east-1:123456789012:app/BAIDU/x"], "platform BAIDU is not supported"),
        (vec![GCM_APP, "arn:aws:sns:us-east-1:123456789012:app/GCM/other"], "more than one"),
        (vec!["arn:aws:sns:us-east-1:123456789012:topic/x"], "failed to satisfy constraint"),
    ] {
        let (name, status) = set_push(&admin, &pool, &arns).await.unwrap_err();
        assert_eq!(status, 400);
        assert!(name.starts_with("InvalidParameterException: ") && name.contains(wanted), "{name}");
    }
    let e = admin
        .set_identity_pool_configuration()
        .identity_pool_id(&pool)
        .push_sync(PushSync::builder().application_arns(GCM_APP).role_arn("arn:aws:s3:::not-a-role").build())
        .send()
        .await
        .unwrap_err();
    assert!(failure(e).0.starts_with("InvalidParameterException: "));
    // Nothing of the refused requests was stored.
    let got = admin.get_identity_pool_configuration().identity_pool_id(&pool).send().await.unwrap();
    assert_eq!(got.push_sync(), set.push_sync());

    // An empty PushSync turns push sync off.
    let out = admin
        .set_identity_pool_configuration()
        .identity_pool_id(&pool)
        .push_sync(PushSync::builder().build())
        .send()
        .await
        .unwrap();
    assert!(out.push_sync().is_none());

    // Racing writers: each wins or is told of the concurrent change, never anything else.
    let mut tasks = Vec::new();
    for arn in [GCM_APP, APNS_SANDBOX_APP, ADM_APP, GCM_APP, ADM_APP, APNS_SANDBOX_APP] {
        let (admin, pool) = (admin.clone(), pool.clone());
        tasks.push(tokio::spawn(async move { set_push(&admin, &pool, &[arn]).await }));
    }
    let mut won = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(()) => won += 1,
            Err((name, status)) => {
                assert!(name.starts_with("ConcurrentModificationException: "), "{name}");
                assert_eq!(status, 400);
            }
        }
    }
    assert!(won >= 1);
    let got = admin.get_identity_pool_configuration().identity_pool_id(&pool).send().await.unwrap();
    assert_eq!(got.push_sync().unwrap().application_arns().len(), 1);

    // Streams are not supported, so neither is bulk publishing to one.
    let e = admin.bulk_publish().identity_pool_id(&pool).send().await.unwrap_err();
    let (name, status) = failure(e);
    assert_eq!(status, 400);
    assert!(
        name.starts_with(
            "InvalidParameterException: Cognito Streams are not supported by this version of Tessera"
        ),
        "{name}"
    );
    let e = admin.get_bulk_publish_details().identity_pool_id(&pool).send().await.unwrap_err();
    assert!(failure(e).0.contains("Cognito Streams are not supported"));
    let e = admin.bulk_publish().identity_pool_id(&missing).send().await.unwrap_err();
    assert_eq!(failure(e).1, 404);
});

on_both_stores!(cognito_events_round_trip_and_validation, |env| {
    let admin = admin(env).await;
    let pool = seed_pool(env).await;
    let events = |pool: String| {
        let admin = admin.clone();
        async move {
            admin.get_cognito_events().identity_pool_id(pool).send().await.map(|o| o.events).map_err(failure)
        }
    };
    assert!(events(pool.clone()).await.unwrap().unwrap_or_default().is_empty());

    admin.set_cognito_events().identity_pool_id(&pool).events("SyncTrigger", TRIGGER).send().await.unwrap();
    let got = events(pool.clone()).await.unwrap().unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got.get("SyncTrigger").map(String::as_str), Some(TRIGGER));
    assert_eq!(sync::sync_trigger_function(svc(env), &pool).await.unwrap().as_deref(), Some(TRIGGER));

    // Setting the configuration leaves the events alone, and the other way round.
    set_push(&admin, &pool, &[GCM_APP]).await.unwrap();
    assert_eq!(
        events(pool.clone()).await.unwrap().unwrap().get("SyncTrigger").map(String::as_str),
        Some(TRIGGER)
    );

    // A function name is as good as an ARN; an empty value removes the event.
    admin
        .set_cognito_events()
        .identity_pool_id(&pool)
        .events("SyncTrigger", "my-trigger")
        .send()
        .await
        .unwrap();
    assert_eq!(
        events(pool.clone()).await.unwrap().unwrap().get("SyncTrigger").map(String::as_str),
        Some("my-trigger")
    );
    admin.set_cognito_events().identity_pool_id(&pool).events("SyncTrigger", "").send().await.unwrap();
    assert!(events(pool.clone()).await.unwrap().unwrap_or_default().is_empty());
    let got = admin.get_identity_pool_configuration().identity_pool_id(&pool).send().await.unwrap();
    assert_eq!(got.push_sync().unwrap().application_arns(), [GCM_APP]);

    for (event, function, wanted) in [
        ("DatasetDeleted", TRIGGER, "Invalid event type 'DatasetDeleted'"),
        ("SyncTrigger", "not a function!", "Invalid Lambda function"),
        ("SyncTrigger", "arn:aws:s3:::bucket", "Invalid Lambda function"),
    ] {
        let e = admin.set_cognito_events().identity_pool_id(&pool).events(event, function).send().await;
        let (name, status) = failure(e.unwrap_err());
        assert_eq!(status, 400);
        assert!(name.starts_with("InvalidParameterException: ") && name.contains(wanted), "{name}");
    }
    // The map holds one event at most (the model's limit).
    let e = admin
        .set_cognito_events()
        .identity_pool_id(&pool)
        .events("SyncTrigger", TRIGGER)
        .events("Other", TRIGGER)
        .send()
        .await
        .unwrap_err();
    assert!(failure(e).0.starts_with("InvalidParameterException: "));
    assert!(events(pool.clone()).await.unwrap().unwrap_or_default().is_empty());

    let missing = new_id();
    let (name, status) = events(missing.clone()).await.unwrap_err();
    assert_eq!(
        (name.as_str(), status),
        (format!("ResourceNotFoundException: IdentityPool '{missing}' not found.").as_str(), 404)
    );
});

on_both_stores!(who_may_call, |env| {
    let admin = admin(env).await;
    let pool = seed_pool(env).await;
    set_push(&admin, &pool, &[GCM_APP]).await.unwrap();
    let (me, mine) = seed_identity(env, &pool).await;
    let (other, _) = seed_identity(env, &pool).await;

    // Devices belong to identities: developer credentials may not register or subscribe.
    let (name, status) = register(&admin, &pool, &me, Platform::Gcm, "token-a").await.unwrap_err();
    assert_eq!(status, 403);
    assert!(name.starts_with("NotAuthorizedException: "), "{name}");
    let (name, status) = subscribe(&admin, &pool, &me, "settings", "any").await.unwrap_err();
    assert_eq!((name.starts_with("NotAuthorizedException: "), status), (true, 403));
    let (name, status) = unsubscribe(&admin, &pool, &me, "settings", "any").await.unwrap_err();
    assert_eq!((name.starts_with("NotAuthorizedException: "), status), (true, 403));

    // An identity acts for itself only, and never on the pool's settings.
    let (name, status) = register(&mine, &pool, &other, Platform::Gcm, "token-a").await.unwrap_err();
    assert_eq!((name.starts_with("NotAuthorizedException: "), status), (true, 403));
    let e = mine.get_identity_pool_configuration().identity_pool_id(&pool).send().await.unwrap_err();
    assert_eq!(failure(e).1, 403);
    let (_, status) = set_push(&mine, &pool, &[ADM_APP]).await.unwrap_err();
    assert_eq!(status, 403);
    let e = mine.set_cognito_events().identity_pool_id(&pool).events("SyncTrigger", TRIGGER).send().await;
    assert_eq!(failure(e.unwrap_err()).1, 403);
    let e = mine.bulk_publish().identity_pool_id(&pool).send().await.unwrap_err();
    assert_eq!(failure(e).1, 403);

    let device = register(&mine, &pool, &me, Platform::Gcm, "token-a").await.unwrap();
    assert!(!device.is_empty());
});

on_both_stores!(register_device_and_subscriptions, |env| {
    let admin = admin(env).await;
    let pool = seed_pool(env).await;
    let (me, client) = seed_identity(env, &pool).await;

    // No push configuration, or none for the device's platform.
    let (name, status) = register(&client, &pool, &me, Platform::Gcm, "gcm-token-1").await.unwrap_err();
    assert_eq!(status, 400);
    assert!(name.starts_with("InvalidConfigurationException: "), "{name}");
    set_push(&admin, &pool, &[GCM_APP, APNS_SANDBOX_APP]).await.unwrap();
    let (name, _) = register(&client, &pool, &me, Platform::Apns, "apns-token").await.unwrap_err();
    assert!(name.starts_with("InvalidConfigurationException: "), "{name}");

    let gcm = register(&client, &pool, &me, Platform::Gcm, "gcm-token-1").await.unwrap();
    assert_eq!(register(&client, &pool, &me, Platform::Gcm, "gcm-token-1").await.unwrap(), gcm);
    let gcm2 = register(&client, &pool, &me, Platform::Gcm, "gcm-token-2").await.unwrap();
    assert_ne!(gcm2, gcm);
    let ios = register(&client, &pool, &me, Platform::ApnsSandbox, "apns-token").await.unwrap();
    assert_ne!(ios, gcm);
    assert!((1..=256).contains(&gcm.len()));

    // Only a dataset synchronized once can be subscribed.
    let (name, status) = subscribe(&client, &pool, &me, "settings", &gcm).await.unwrap_err();
    assert_eq!((name.as_str(), status), ("ResourceNotFoundException: Dataset settings does not exist.", 404));
    create_dataset(&client, &pool, &me, "settings").await;
    subscribe(&client, &pool, &me, "settings", &gcm).await.unwrap();
    subscribe(&client, &pool, &me, "settings", &gcm).await.unwrap();
    subscribe(&client, &pool, &me, "settings", &ios).await.unwrap();
    unsubscribe(&client, &pool, &me, "settings", &gcm).await.unwrap();
    // Unsubscribing what is not subscribed changes nothing.
    unsubscribe(&client, &pool, &me, "game.state", &gcm).await.unwrap();

    let (name, status) = subscribe(&client, &pool, &me, "settings", "not-a-device").await.unwrap_err();
    assert_eq!(status, 404);
    assert_eq!(name, "ResourceNotFoundException: Device 'not-a-device' not found.");
    let (name, status) = unsubscribe(&client, &pool, &me, "settings", "not-a-device").await.unwrap_err();
    assert_eq!((name.starts_with("ResourceNotFoundException: "), status), (true, 404));
    // Another identity's device is not found under mine.
    let (other, other_client) = seed_identity(env, &pool).await;
    let theirs = register(&other_client, &pool, &other, Platform::Gcm, "gcm-token-1").await.unwrap();
    assert_ne!(theirs, gcm);
    let (name, _) = subscribe(&client, &pool, &me, "settings", &theirs).await.unwrap_err();
    assert!(name.starts_with("ResourceNotFoundException: "), "{name}");

    // Local endpoints are SNS-shaped and the same for the same token.
    let endpoint = tessera_local::push::local_endpoint_arn(GCM_APP, "gcm-token-1").unwrap();
    assert!(endpoint.starts_with("arn:aws:sns:us-east-1:123456789012:endpoint/GCM/tessera-android/"));

    // Subscriptions outlive a removed push configuration only in storage: subscribing needs it.
    admin
        .set_identity_pool_configuration()
        .identity_pool_id(&pool)
        .push_sync(PushSync::builder().build())
        .send()
        .await
        .unwrap();
    let (name, _) = subscribe(&client, &pool, &me, "settings", &gcm).await.unwrap_err();
    assert!(name.starts_with("InvalidConfigurationException: "), "{name}");
});

on_both_stores!(dataset_changes_push_to_the_other_subscribed_devices, |env| {
    let admin = admin(env).await;
    let pool = seed_pool(env).await;
    set_push(&admin, &pool, &[GCM_APP, APNS_SANDBOX_APP, ADM_APP]).await.unwrap();
    let (me, client) = seed_identity(env, &pool).await;
    let phone = register(&client, &pool, &me, Platform::Gcm, "phone-token").await.unwrap();
    let tablet = register(&client, &pool, &me, Platform::ApnsSandbox, "tablet-token").await.unwrap();
    let kindle = register(&client, &pool, &me, Platform::Adm, "kindle-token").await.unwrap();
    let unsubscribed = register(&client, &pool, &me, Platform::Gcm, "old-phone-token").await.unwrap();
    create_dataset(&client, &pool, &me, "settings").await;
    create_dataset(&client, &pool, &me, "game").await;
    for device in [&phone, &tablet, &kindle, &unsubscribed] {
        subscribe(&client, &pool, &me, "settings", device).await.unwrap();
    }
    unsubscribe(&client, &pool, &me, "settings", &unsubscribed).await.unwrap();
    subscribe(&client, &pool, &me, "game", &unsubscribed).await.unwrap();
    let ep = |app: &str, token: &str| tessera_local::push::local_endpoint_arn(app, token).unwrap();
    let (phone_ep, tablet_ep, kindle_ep, old_ep) = (
        ep(GCM_APP, "phone-token"),
        ep(APNS_SANDBOX_APP, "tablet-token"),
        ep(ADM_APP, "kindle-token"),
        ep(GCM_APP, "old-phone-token"),
    );

    // The phone changed "settings": the two other subscribed devices hear of it.
    sync::notify_dataset_changed(svc(env), &pool, &me, "settings", 5, Some(&phone)).await;
    let d = data(&pool, &me, "settings", "5");
    assert_eq!(pushes_to(env, &phone_ep), Vec::<Value>::new());
    assert_eq!(pushes_to(env, &tablet_ep), vec![decode_expected("APNS_SANDBOX", &d)]);
    assert_eq!(pushes_to(env, &kindle_ep), vec![decode_expected("ADM", &d)]);
    assert_eq!(pushes_to(env, &old_ep), Vec::<Value>::new());
    // Exactly the documented payload, as the iOS sample and the Android SDK read it.
    let raw = env.messages_to(&tablet_ep).pop().unwrap().body;
    let message: Value = serde_json::from_str(&raw).unwrap();
    let apns: Value = serde_json::from_str(message["APNS_SANDBOX"].as_str().unwrap()).unwrap();
    assert_eq!(apns["aps"]["content-available"], json!(1));
    assert_eq!(apns["data"]["syncCount"], json!("5"));
    assert_eq!(apns["data"]["source"], json!("cognito-sync"));

    // A change by a developer (no device): every subscriber, in its platform's format.
    sync::notify_dataset_changed(svc(env), &pool, &me, "settings", 6, None).await;
    let d6 = data(&pool, &me, "settings", "6");
    assert_eq!(pushes_to(env, &phone_ep), vec![decode_expected("GCM", &d6)]);
    assert_eq!(pushes_to(env, &tablet_ep).len(), 2);
    assert_eq!(pushes_to(env, &kindle_ep).pop().unwrap(), decode_expected("ADM", &d6));

    // Other datasets and other identities have their own subscribers.
    sync::notify_dataset_changed(svc(env), &pool, &me, "game", 1, None).await;
    assert_eq!(pushes_to(env, &old_ep), vec![decode_expected("GCM", &data(&pool, &me, "game", "1"))]);
    assert_eq!(pushes_to(env, &phone_ep).len(), 1);
    let (other, _) = seed_identity(env, &pool).await;
    sync::notify_dataset_changed(svc(env), &pool, &other, "settings", 9, None).await;
    sync::notify_dataset_changed(svc(env), &pool, &me, "unknown", 9, None).await;
    assert_eq!(pushes_to(env, &phone_ep).len(), 1);
    assert_eq!(pushes_to(env, &tablet_ep).len(), 2);

    // A platform application taken out of the configuration gets no more pushes.
    set_push(&admin, &pool, &[GCM_APP, ADM_APP]).await.unwrap();
    sync::notify_dataset_changed(svc(env), &pool, &me, "settings", 7, None).await;
    assert_eq!(pushes_to(env, &tablet_ep).len(), 2);
    assert_eq!(pushes_to(env, &phone_ep).len(), 2);

    // Merging moves the devices: the surviving identity's pushes reach them, once, and its
    // own registration of the same token names the moved device.
    let (survivor, survivor_client) = seed_identity(env, &pool).await;
    sync::move_devices_on_merge(svc(env), &pool, &me, &survivor).await.unwrap();
    sync::notify_dataset_changed(svc(env), &pool, &me, "settings", 8, None).await;
    assert_eq!(pushes_to(env, &phone_ep).len(), 2);
    sync::notify_dataset_changed(svc(env), &pool, &survivor, "settings", 8, None).await;
    assert_eq!(
        pushes_to(env, &phone_ep).pop().unwrap(),
        decode_expected("GCM", &data(&pool, &survivor, "settings", "8"))
    );
    assert_eq!(pushes_to(env, &phone_ep).len(), 3);
    let (name, _) = subscribe(&client, &pool, &me, "settings", &phone).await.unwrap_err();
    assert!(name.starts_with("ResourceNotFoundException: "), "{name}");
    let moved = register(&survivor_client, &pool, &survivor, Platform::Gcm, "phone-token").await.unwrap();
    unsubscribe(&survivor_client, &pool, &survivor, "settings", &moved).await.unwrap();
    sync::notify_dataset_changed(svc(env), &pool, &survivor, "settings", 9, None).await;
    assert_eq!(pushes_to(env, &phone_ep).len(), 3);
    assert_eq!(pushes_to(env, &kindle_ep).len(), 5);

    // Deleting the identity removes its devices and subscriptions.
    sync::delete_identity_devices(svc(env), &pool, &survivor).await.unwrap();
    sync::notify_dataset_changed(svc(env), &pool, &survivor, "settings", 10, None).await;
    assert_eq!(pushes_to(env, &kindle_ep).len(), 5);
    let (name, _) = subscribe(&survivor_client, &pool, &survivor, "settings", &moved).await.unwrap_err();
    assert!(name.starts_with("ResourceNotFoundException: "), "{name}");
    let left = svc(env)
        .store
        .query(&tessera_core::keys::push::devices(&pool, &survivor), "", None, 10, svc(env).clock.now_secs())
        .await
        .unwrap();
    assert!(left.items.is_empty());
});

/// moto's record of what was published to one SNS endpoint.
async fn moto_messages(moto: &str, endpoint_arn: &str) -> Vec<String> {
    let host = moto.trim_start_matches("http://");
    let (status, _, body) = raw_http(&format!("http://{host}"), "GET", "/moto-api/data.json", &[], b"").await;
    assert_eq!(status, 200);
    let data: Value = serde_json::from_slice(&body).unwrap();
    data["sns"]["PlatformEndpoint"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["arn"] == json!(endpoint_arn))
        .flat_map(|e| e["messages"].as_object().cloned().unwrap_or_default().into_values())
        .map(|m| m.as_str().unwrap_or_default().to_string())
        .collect()
}

/// Push sync through SNS: platform endpoints and publishes on moto's SNS.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_sync_through_sns() {
    let Some(moto) = dynamodb_endpoint() else {
        eprintln!("skipped: TESSERA_TEST_DYNAMODB_ENDPOINT (moto) is not set");
        return;
    };
    let env = TestEnv::start_local(Backend::Embedded, |cfg| cfg.sns_endpoint = Some(moto.clone()))
        .await
        .expect("server");
    let sns = {
        let conf = aws_sdk_sns::Config::builder()
            .behavior_version(aws_sdk_sns::config::BehaviorVersion::latest())
            .region(aws_sdk_sns::config::Region::new("us-east-1"))
            .endpoint_url(&moto)
            .credentials_provider(aws_sdk_sns::config::Credentials::new("local", "local", None, None, "test"))
            .build();
        aws_sdk_sns::Client::from_conf(conf)
    };
    let create_app = |platform: &'static str| {
        let sns = sns.clone();
        async move {
            sns.create_platform_application()
                .name(unique("tessera-push-"))
                .platform(platform)
                .attributes("PlatformCredential", "server-key")
                .send()
                .await
                .unwrap()
                .platform_application_arn
                .unwrap()
        }
    };
    let gcm_app = create_app("GCM").await;
    let apns_app = create_app("APNS").await;
    let admin = admin(&env).await;
    let pool = seed_pool(&env).await;
    set_push(&admin, &pool, &[&gcm_app, &apns_app]).await.unwrap();
    let (me, client) = seed_identity(&env, &pool).await;
    // moto matches endpoints by token across applications: tokens unique to this run.
    let (phone_token, ipad_token) = (unique("sns-phone-token-"), unique("sns-ipad-token-"));
    let phone = register(&client, &pool, &me, Platform::Gcm, &phone_token).await.unwrap();
    assert_eq!(register(&client, &pool, &me, Platform::Gcm, &phone_token).await.unwrap(), phone);
    let ipad = register(&client, &pool, &me, Platform::Apns, &ipad_token).await.unwrap();
    create_dataset(&client, &pool, &me, "settings").await;
    subscribe(&client, &pool, &me, "settings", &phone).await.unwrap();
    subscribe(&client, &pool, &me, "settings", &ipad).await.unwrap();

    // One endpoint per token, found again by the second registration.
    let endpoints = |app: String| {
        let sns = sns.clone();
        async move {
            let out = sns.list_endpoints_by_platform_application().platform_application_arn(app).send().await;
            out.unwrap().endpoints.unwrap_or_default()
        }
    };
    let gcm_endpoints = endpoints(gcm_app.clone()).await;
    assert_eq!(gcm_endpoints.len(), 1);
    let phone_ep = gcm_endpoints[0].endpoint_arn.clone().unwrap();
    assert_eq!(
        gcm_endpoints[0].attributes.as_ref().and_then(|a| a.get("Token")).map(String::as_str),
        Some(phone_token.as_str())
    );
    let ipad_ep = endpoints(apns_app.clone()).await[0].endpoint_arn.clone().unwrap();

    sync::notify_dataset_changed(svc(&env), &pool, &me, "settings", 3, Some(&ipad)).await;
    assert_eq!(moto_messages(&moto, &ipad_ep).await, Vec::<String>::new());
    let sent: Vec<Value> = moto_messages(&moto, &phone_ep).await.iter().map(|m| decode(m)).collect();
    assert_eq!(sent, vec![decode_expected("GCM", &data(&pool, &me, "settings", "3"))]);

    sync::notify_dataset_changed(svc(&env), &pool, &me, "settings", 4, Some(&phone)).await;
    let sent: Vec<Value> = moto_messages(&moto, &ipad_ep).await.iter().map(|m| decode(m)).collect();
    assert_eq!(sent, vec![decode_expected("APNS", &data(&pool, &me, "settings", "4"))]);

    // SNS disabled the phone's endpoint (the platform once refused its token): registering
    // again finds the endpoint through SNS's "already exists" answer and enables it.
    sns.set_endpoint_attributes()
        .endpoint_arn(&phone_ep)
        .attributes("Enabled", "false")
        .send()
        .await
        .unwrap();
    assert_eq!(register(&client, &pool, &me, Platform::Gcm, &phone_token).await.unwrap(), phone);
    let attrs =
        sns.get_endpoint_attributes().endpoint_arn(&phone_ep).send().await.unwrap().attributes.unwrap();
    assert_eq!(attrs.get("Enabled").map(String::as_str), Some("true"));
    assert_eq!(endpoints(gcm_app.clone()).await.len(), 1);
    sync::notify_dataset_changed(svc(&env), &pool, &me, "settings", 5, Some(&ipad)).await;
    assert_eq!(moto_messages(&moto, &phone_ep).await.len(), 2);

    // A platform application SNS does not know is a configuration problem.
    let ghost = "arn:aws:sns:us-east-1:123456789012:app/ADM/no-such-app";
    set_push(&admin, &pool, &[&gcm_app, ghost]).await.unwrap();
    let (name, status) = register(&client, &pool, &me, Platform::Adm, "adm-token").await.unwrap_err();
    assert_eq!(status, 400);
    assert!(name.starts_with("InvalidConfigurationException: "), "{name}");
}
