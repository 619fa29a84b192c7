//! The whole story with the official SDKs: a user-pool sign-in becomes an identity,
//! gets an OpenID token and credentials, and two devices of that identity sync a dataset
//! through a conflict, the bundled `sync-trigger` function rewrites and rejects records, a
//! subscribed device gets the push, and another identity cannot read the data.

use crate::common::*;
use crate::lambda_double::{arn, Reply};
use crate::on_both_stores;
use aws_sdk_cognitoidentity as ci;
use aws_sdk_cognitosync as cs;
use base64::Engine;
use serde_json::{json, Value};
use std::collections::HashMap;

const AUTH_ROLE: &str = "arn:aws:iam::000000000000:role/tessera-authenticated";
const UNAUTH_ROLE: &str = "arn:aws:iam::000000000000:role/tessera-unauthenticated";
const GCM_APP: &str = "arn:aws:sns:us-east-1:000000000000:app/GCM/tessera-app";

fn claims(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).unwrap())
        .unwrap()
}

/// An identity's Sync client, from GetCredentialsForIdentity's answer.
async fn identity_sync(url: &str, c: &ci::types::Credentials) -> cs::Client {
    sync_client(url, c.access_key_id().unwrap(), c.secret_key().unwrap(), c.session_token()).await
}

fn replace(key: &str, value: &str, sync_count: i64) -> cs::types::RecordPatch {
    cs::types::RecordPatch::builder()
        .op(cs::types::Operation::Replace)
        .key(key)
        .value(value)
        .sync_count(sync_count)
        .build()
        .unwrap()
}

fn values(records: &[cs::types::Record]) -> HashMap<String, Option<String>> {
    records.iter().map(|r| (r.key().unwrap().to_string(), r.value().map(str::to_string))).collect()
}

/// One "device": lists the dataset from its last count, then writes its patches.
async fn sync_once(
    sync: &cs::Client,
    pool: &str,
    identity: &str,
    last_sync_count: i64,
    patches: Vec<cs::types::RecordPatch>,
    device_id: Option<&str>,
) -> Result<(cs::operation::list_records::ListRecordsOutput, Vec<cs::types::Record>), String> {
    let listed = sync
        .list_records()
        .identity_pool_id(pool)
        .identity_id(identity)
        .dataset_name("profile")
        .last_sync_count(last_sync_count)
        .send()
        .await
        .map_err(err_name)?;
    let mut update = sync
        .update_records()
        .identity_pool_id(pool)
        .identity_id(identity)
        .dataset_name("profile")
        .sync_session_token(listed.sync_session_token().unwrap())
        .set_record_patches(Some(patches));
    if let Some(d) = device_id {
        update = update.device_id(d);
    }
    let written = update.send().await.map_err(err_name)?;
    Ok((listed, written.records().to_vec()))
}

fn pushes(env: &TestEnv) -> Vec<Value> {
    let outbox = env.server.state.outbox.as_ref().map(|o| o.messages()).unwrap_or_default();
    outbox
        .into_iter()
        .filter(|m| m.channel == "PUSH")
        .map(|m| serde_json::from_str(&m.body).unwrap())
        .collect()
}

on_both_stores!(a_signed_in_user_syncs_across_devices, |env| {
    // The user pool and a signed-in user.
    let user_pool = env.email_pool().await;
    let (client_id, _) = env.app_client(&user_pool, &["ALLOW_ADMIN_USER_PASSWORD_AUTH"], false).await;
    env.confirmed_user(&client_id, "sam@example.com").await;
    let tokens = env.admin_sign_in(&user_pool, &client_id, "sam@example.com").await;
    let id_token = tokens.id_token().unwrap().to_string();
    let provider = claims(&id_token)["iss"].as_str().unwrap().trim_start_matches("http://").to_string();

    // The identity pool trusting that user pool, with roles, push sync and the trigger.
    let admin = identity_client(&env.url, ADMIN_KEY, ADMIN_SECRET).await;
    let pool = admin
        .create_identity_pool()
        .identity_pool_name("flow")
        .allow_unauthenticated_identities(true)
        // The flow below also takes GetOpenIdToken's token (the basic flow), off unless set.
        .allow_classic_flow(true)
        .cognito_identity_providers(
            ci::types::CognitoIdentityProvider::builder()
                .provider_name(&provider)
                .client_id(&client_id)
                .server_side_token_check(true)
                .build(),
        )
        .send()
        .await
        .unwrap()
        .identity_pool_id()
        .to_string();
    admin
        .set_identity_pool_roles()
        .identity_pool_id(&pool)
        .roles("authenticated", AUTH_ROLE)
        .roles("unauthenticated", UNAUTH_ROLE)
        .send()
        .await
        .unwrap();
    let sync_admin = sync_client(&env.url, ADMIN_KEY, ADMIN_SECRET, None).await;
    sync_admin
        .set_identity_pool_configuration()
        .identity_pool_id(&pool)
        .push_sync(cs::types::PushSync::builder().application_arns(GCM_APP).role_arn(AUTH_ROLE).build())
        .send()
        .await
        .unwrap();

    // Sign-in → identity → token → credentials (the enhanced flow), unsigned as apps call it.
    let public = identity_client(&env.url, "unused", "unused").await;
    let identity = public
        .get_id()
        .identity_pool_id(&pool)
        .logins(&provider, &id_token)
        .send()
        .await
        .unwrap()
        .identity_id()
        .unwrap()
        .to_string();
    assert!(identity.starts_with("us-east-1:"), "{identity}");
    let again = public.get_id().identity_pool_id(&pool).logins(&provider, &id_token).send().await.unwrap();
    assert_eq!(again.identity_id(), Some(identity.as_str()), "the same login, the same identity");
    let token =
        public.get_open_id_token().identity_id(&identity).logins(&provider, &id_token).send().await.unwrap();
    let token_claims = claims(token.token().unwrap());
    assert_eq!(token_claims["aud"], pool);
    assert_eq!(token_claims["sub"], identity);
    assert_eq!(token_claims["iss"], format!("{}/cognito-identity", env.url));
    assert_eq!(token_claims["amr"][0], "authenticated");
    let creds = public
        .get_credentials_for_identity()
        .identity_id(&identity)
        .logins(&provider, &id_token)
        .send()
        .await
        .unwrap();
    assert_eq!(creds.identity_id(), Some(identity.as_str()));
    let creds = creds.credentials().unwrap().clone();

    // Two devices of the identity, each with its own credentials and push registration.
    let phone = identity_sync(&env.url, &creds).await;
    let tablet_creds = public
        .get_credentials_for_identity()
        .identity_id(&identity)
        .logins(&provider, &id_token)
        .send()
        .await
        .unwrap()
        .credentials()
        .unwrap()
        .clone();
    let tablet = identity_sync(&env.url, &tablet_creds).await;
    let register = |c: &cs::Client, token: &'static str| {
        c.register_device()
            .identity_pool_id(&pool)
            .identity_id(&identity)
            .platform(cs::types::Platform::Gcm)
            .token(token)
            .send()
    };
    let phone_device = register(&phone, "phone-token").await.unwrap().device_id().unwrap().to_string();
    let tablet_device = register(&tablet, "tablet-token").await.unwrap().device_id().unwrap().to_string();
    assert_ne!(phone_device, tablet_device);

    // The phone writes first: the dataset is created at sync count 1.
    let (listed, written) = sync_once(
        &phone,
        &pool,
        &identity,
        0,
        vec![replace("color", "blue", 0), replace("level", "1", 0)],
        Some(&phone_device),
    )
    .await
    .unwrap();
    assert!(!listed.dataset_exists());
    assert_eq!(listed.dataset_sync_count(), Some(0));
    assert!(written.iter().all(|r| r.sync_count() == Some(1)), "{written:?}");
    phone
        .subscribe_to_dataset()
        .identity_pool_id(&pool)
        .identity_id(&identity)
        .dataset_name("profile")
        .device_id(&phone_device)
        .send()
        .await
        .unwrap();
    // Each device subscribes itself (identity credentials only).
    tablet
        .subscribe_to_dataset()
        .identity_pool_id(&pool)
        .identity_id(&identity)
        .dataset_name("profile")
        .device_id(&tablet_device)
        .send()
        .await
        .unwrap();

    // The tablet catches up, then both change `color`: the phone wins the race, the tablet
    // gets a 409 and nothing of its request is written.
    let (caught_up, _) = sync_once(&tablet, &pool, &identity, 0, vec![], None).await.unwrap();
    assert_eq!(values(caught_up.records())["color"].as_deref(), Some("blue"));
    assert_eq!(caught_up.dataset_sync_count(), Some(1));
    let pushes_before = pushes(env).len();
    sync_once(&phone, &pool, &identity, 1, vec![replace("color", "green", 1)], Some(&phone_device))
        .await
        .unwrap();
    let conflict = sync_once(
        &tablet,
        &pool,
        &identity,
        1,
        vec![replace("color", "red", 1), replace("level", "2", 1)],
        Some(&tablet_device),
    )
    .await
    .unwrap_err();
    assert!(conflict.starts_with("ResourceConflictException"), "{conflict}");

    // The push for the phone's write went to the tablet (subscribed), not to the phone.
    let new_pushes: Vec<Value> = pushes(env).into_iter().skip(pushes_before).collect();
    assert_eq!(new_pushes.len(), 1, "{new_pushes:?}");
    let gcm: Value = serde_json::from_str(new_pushes[0]["GCM"].as_str().unwrap()).unwrap();
    assert_eq!(
        gcm["data"],
        json!({"source": "cognito-sync", "identityPoolId": pool, "identityId": identity, "datasetName": "profile", "syncCount": "2"})
    );

    // The documented resolution: list the changes since the last count, resolve (here the
    // device keeps its own value, "last writer wins"), write with the server's counts.
    let (listed, written) = sync_once(
        &tablet,
        &pool,
        &identity,
        1,
        vec![replace("color", "red", 2), replace("level", "2", 1)],
        Some(&tablet_device),
    )
    .await
    .unwrap();
    assert_eq!(
        values(listed.records())["color"].as_deref(),
        Some("green"),
        "the remote change, before resolving"
    );
    assert!(written.iter().all(|r| r.sync_count() == Some(3)), "{written:?}");
    let (current, _) = sync_once(&phone, &pool, &identity, 2, vec![], None).await.unwrap();
    assert_eq!(current.dataset_sync_count(), Some(3));
    let now = values(current.records());
    assert_eq!((now["color"].as_deref(), now["level"].as_deref()), (Some("red"), Some("2")));

    // The bundled sync-trigger function in the Invoke path: it trims values (a rewrite) and
    // refuses the key "admin" (a rejection writes nothing).
    let hook_vars: HashMap<String, String> = [
        ("TESSERA_SYNC_TRIM_VALUES".to_string(), "true".to_string()),
        ("TESSERA_SYNC_DENIED_KEYS".to_string(), "admin".to_string()),
    ]
    .into();
    let hook =
        tessera_hooks::sync::SyncConfig::from_vars(&tessera_hooks::config::Vars::map(&hook_vars)).unwrap();
    env.lambda.on(move |function, event| {
        assert_eq!(function, "sync-trigger");
        match tessera_hooks::lambda::sync_trigger_event(&hook, event.clone()) {
            Ok(answer) => Reply::Payload(serde_json::to_vec(&answer).unwrap()),
            Err(rejection) => Reply::Fail(rejection.message),
        }
    });
    sync_admin
        .set_cognito_events()
        .identity_pool_id(&pool)
        .events("SyncTrigger", arn("sync-trigger"))
        .send()
        .await
        .unwrap();
    let (_, written) =
        sync_once(&phone, &pool, &identity, 3, vec![replace("nickname", "  sammy  ", 0)], None)
            .await
            .unwrap();
    assert_eq!(values(&written)["nickname"].as_deref(), Some("sammy"), "rewritten by the trigger");
    let event = env.lambda.events("sync-trigger").pop().unwrap();
    assert_eq!(event["version"], 2);
    assert_eq!(event["eventType"], "SyncTrigger");
    assert_eq!(event["identityId"], identity);
    assert_eq!(event["datasetRecords"]["nickname"]["newValue"], "  sammy  ");
    assert_eq!(event["datasetRecords"]["color"]["oldValue"], "red", "all records go to the trigger");
    let refused =
        sync_once(&phone, &pool, &identity, 4, vec![replace("admin", "yes", 0)], None).await.unwrap_err();
    assert!(refused.starts_with("InvalidLambdaFunctionOutputException"), "{refused}");
    let (after, _) = sync_once(&phone, &pool, &identity, 0, vec![], None).await.unwrap();
    assert_eq!(after.dataset_sync_count(), Some(4), "the refused write left no trace");
    assert!(!values(after.records()).contains_key("admin"));
    // Developer credentials bypass the trigger, as in Cognito.
    let calls = env.lambda.calls().len();
    let admin_listed = sync_admin
        .list_records()
        .identity_pool_id(&pool)
        .identity_id(&identity)
        .dataset_name("profile")
        .send()
        .await
        .unwrap();
    sync_admin
        .update_records()
        .identity_pool_id(&pool)
        .identity_id(&identity)
        .dataset_name("profile")
        .sync_session_token(admin_listed.sync_session_token().unwrap())
        .record_patches(replace("admin", "set by the developer", 0))
        .send()
        .await
        .unwrap();
    assert_eq!(env.lambda.calls().len(), calls);

    // Another identity (a guest of the same pool) cannot read or write this identity's data.
    let guest =
        public.get_id().identity_pool_id(&pool).send().await.unwrap().identity_id().unwrap().to_string();
    assert_ne!(guest, identity);
    let guest_creds = public.get_credentials_for_identity().identity_id(&guest).send().await.unwrap();
    let intruder = identity_sync(&env.url, guest_creds.credentials().unwrap()).await;
    let e = intruder
        .list_records()
        .identity_pool_id(&pool)
        .identity_id(&identity)
        .dataset_name("profile")
        .send()
        .await
        .unwrap_err();
    assert!(err_name(e).starts_with("NotAuthorizedException"));
    let e = intruder.list_datasets().identity_pool_id(&pool).identity_id(&identity).send().await.unwrap_err();
    assert!(err_name(e).starts_with("NotAuthorizedException"));
    // Its own data is its own.
    let own = intruder.list_datasets().identity_pool_id(&pool).identity_id(&guest).send().await.unwrap();
    assert_eq!(own.count(), 0);
});
