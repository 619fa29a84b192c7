//! Leaving Cognito without resetting passwords (docs/migrate-from-cognito.md): the bundled
//! user-migration hook in `cognito` mode, pointed at a second Tessera server that plays the old
//! Cognito pool (Tessera speaks Cognito's protocol, so the hook cannot tell). The new pool's
//! Lambda double runs the hook's own handler (`tessera_hooks::lambda::user_migration_event`).

use crate::common::*;
use crate::lambda_double::{arn, Reply};
use crate::on_both_stores;
use crate::srp::{srp_sign_in, App};
use aws_sdk_cognitoidentityprovider as cip;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tessera_hooks::migration::{CognitoDirectory, CognitoSource, FinalStatus, LegacySource, MigrationConfig};

/// The old pool: users ann (group admins, email verified), bob (for a forgotten password),
/// carol (who will type a wrong password), dave (group readers).
struct OldPool {
    env: TestEnv,
    pool: String,
    client: String,
    secret: String,
}

async fn old_pool() -> OldPool {
    let env = TestEnv::start(Backend::Embedded).await.expect("old server");
    let pool = env.pool(|b| b.alias_attributes(cip::types::AliasAttributeType::Email)).await;
    let (client, secret) =
        env.app_client(&pool, &["ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_USER_PASSWORD_AUTH"], true).await;
    for group in ["admins", "readers"] {
        env.client.create_group().user_pool_id(&pool).group_name(group).send().await.unwrap();
    }
    for (user, group) in [("ann", Some("admins")), ("bob", None), ("carol", None), ("dave", Some("readers"))]
    {
        env.client
            .admin_create_user()
            .user_pool_id(&pool)
            .username(user)
            .user_attributes(attr("email", &format!("{user}@example.com")))
            .user_attributes(attr("email_verified", "true"))
            .user_attributes(attr("name", &format!("{user} old")))
            .message_action(cip::types::MessageActionType::Suppress)
            .send()
            .await
            .unwrap();
        env.client
            .admin_set_user_password()
            .user_pool_id(&pool)
            .username(user)
            .password(PASSWORD)
            .permanent(true)
            .send()
            .await
            .unwrap();
        if let Some(g) = group {
            env.client
                .admin_add_user_to_group()
                .user_pool_id(&pool)
                .username(user)
                .group_name(g)
                .send()
                .await
                .unwrap();
        }
    }
    OldPool { env, pool, client, secret: secret.unwrap() }
}

/// The new server's Lambda double answers the migration trigger with the hook, in the admin
/// flow or (when `user_flow` is set) the user flow.
fn wire_hook(new: &TestEnv, old: &OldPool, user_flow: Arc<AtomicBool>) {
    let source = |admin: bool| CognitoSource {
        user_pool_id: old.pool.clone(),
        client_id: old.client.clone(),
        client_secret: Some(old.secret.clone()),
        admin,
        region: "us-east-1".into(),
        endpoint: Some(old.env.url.clone()),
    };
    let cfg = |admin: bool| MigrationConfig {
        source: LegacySource::Cognito(source(admin)),
        attribute_map: Vec::new(),
        final_status: FinalStatus::Confirmed,
        email_verified: true,
        phone_verified: false,
        lowercase_username: false,
        force_alias_creation: false,
        copy_all: true,
    };
    let url = old.env.url.clone();
    let sources = (source(true), source(false));
    let cfgs = Arc::new((cfg(true), cfg(false)));
    new.lambda.on(move |function, event| {
        assert_eq!(function, "user-migration");
        let admin = !user_flow.load(Ordering::SeqCst);
        let (cfgs, url, event) = (cfgs.clone(), url.clone(), event.clone());
        let source = if admin { sources.0.clone() } else { sources.1.clone() };
        let answer = tokio::task::block_in_place(|| {
            tokio::runtime::Handle::current().block_on(async move {
                // The old pool's admin calls are signed with its admin keys (the function's IAM
                // role in AWS).
                let directory =
                    CognitoDirectory { client: sdk_client(&url, ADMIN_KEY, ADMIN_SECRET).await, source };
                let cfg = if admin { &cfgs.0 } else { &cfgs.1 };
                tessera_hooks::lambda::user_migration_event(cfg, &directory, event).await
            })
        });
        match answer {
            Ok(out) => Reply::Payload(serde_json::to_vec(&out).unwrap()),
            Err(rejection) => Reply::Fail(rejection.message),
        }
    });
}

async fn new_pool(env: &TestEnv) -> (String, String) {
    let pool = env
        .pool(|b| {
            b.alias_attributes(cip::types::AliasAttributeType::Email).lambda_config(
                cip::types::LambdaConfigType::builder().user_migration(arn("user-migration")).build(),
            )
        })
        .await;
    env.client.create_group().user_pool_id(&pool).group_name("admins").send().await.unwrap();
    env.client.create_group().user_pool_id(&pool).group_name("readers").send().await.unwrap();
    let (client, _) = env
        .app_client(
            &pool,
            &["ALLOW_USER_PASSWORD_AUTH", "ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
            false,
        )
        .await;
    (pool, client)
}

async fn groups_of(env: &TestEnv, pool: &str, user: &str) -> Vec<String> {
    let out = env.client.admin_list_groups_for_user().user_pool_id(pool).username(user).send().await.unwrap();
    out.groups().iter().map(|g| g.group_name().unwrap().to_string()).collect()
}

async fn user_status(env: &TestEnv, pool: &str, user: &str) -> Result<String, String> {
    let out = env.client.admin_get_user().user_pool_id(pool).username(user).send().await.map_err(err_name)?;
    Ok(out.user_status().unwrap().as_str().to_string())
}

on_both_stores!(users_move_from_the_old_pool_on_sign_in, |env| {
    let old = old_pool().await;
    let user_flow = Arc::new(AtomicBool::new(false));
    wire_hook(env, &old, user_flow.clone());
    let (pool, client) = new_pool(env).await;

    // ann: her old password signs her in; attributes and groups came along.
    let tokens = env.password_sign_in(&client, "ann", PASSWORD).await.expect("ann migrates");
    let claims = crate::tokens::payload(tokens.id_token().unwrap());
    assert_eq!(claims["cognito:groups"], serde_json::json!(["admins"]));
    assert_eq!(claims["email"], "ann@example.com");
    assert_eq!(claims["email_verified"], true);
    assert_eq!(claims["name"], "ann old");
    assert_eq!(user_status(env, &pool, "ann").await.unwrap(), "CONFIRMED");
    // Afterwards SRP works (the hook is not asked again), and by her email alias too.
    let calls = env.lambda.calls().len();
    let app = App { pool: &pool, client_id: &client, secret: None };
    srp_sign_in(env, app, "ann", PASSWORD).await.expect("SRP after migration");
    env.password_sign_in(&client, "ann@example.com", PASSWORD).await.expect("by email alias");
    assert_eq!(env.lambda.calls().len(), calls, "a migrated user is not migrated again");

    // carol, with a wrong password: refused, and nobody is made.
    let e = env.password_sign_in(&client, "carol", "Wrong-Horse-9").await.unwrap_err();
    // Cognito's answer when the migration function refuses (PreventUserExistenceErrors off).
    assert_eq!(
        e,
        "UserLambdaValidationException: UserMigration failed with error Incorrect username or password."
    );
    assert_eq!(
        user_status(env, &pool, "carol").await.unwrap_err(),
        "UserNotFoundException: User does not exist."
    );
    // Someone the old pool does not know.
    assert!(env.password_sign_in(&client, "zoe", PASSWORD).await.is_err());

    // bob forgot his password: he is moved over, RESET_REQUIRED, and the code goes to his email.
    env.client.forgot_password().client_id(&client).username("bob").send().await.expect("forgot password");
    assert_eq!(user_status(env, &pool, "bob").await.unwrap(), "RESET_REQUIRED");
    env.client
        .confirm_forgot_password()
        .client_id(&client)
        .username("bob")
        .confirmation_code(env.last_code("bob@example.com"))
        .password("Brand-New-Horse-7")
        .send()
        .await
        .expect("reset");
    env.password_sign_in(&client, "bob", "Brand-New-Horse-7").await.expect("bob's new password");

    // The user flow (InitiateAuth, no IAM): dave's groups come from his old access token.
    user_flow.store(true, Ordering::SeqCst);
    let tokens = env.password_sign_in(&client, "dave", PASSWORD).await.expect("dave migrates");
    assert_eq!(
        crate::tokens::payload(tokens.access_token().unwrap())["cognito:groups"],
        serde_json::json!(["readers"])
    );
    assert_eq!(groups_of(env, &pool, "dave").await, vec!["readers".to_string()]);

    // A user already here without a password (imported): the hook vouches for it once.
    let svc = &env.server.state.frontend.service;
    let new_pool = svc.pool(&pool).await.unwrap();
    let attributes = [("email", "carol@example.com"), ("email_verified", "true")]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .chain([("sub".to_string(), "c0ffee00-0000-4000-8000-000000000001".to_string())])
        .collect();
    let imported = tessera_core::model::User::new(
        "carol".into(),
        "c0ffee00-0000-4000-8000-000000000001".into(),
        attributes,
        tessera_core::model::UserStatus::RESET_REQUIRED,
        0,
    );
    user_flow.store(false, Ordering::SeqCst);
    svc.insert_user(&new_pool, &imported, vec![]).await.unwrap();
    let e = env.password_sign_in(&client, "carol", "Wrong-Horse-9").await.unwrap_err();
    assert!(e.starts_with("NotAuthorizedException"), "{e}");
    assert_eq!(user_status(env, &pool, "carol").await.unwrap(), "RESET_REQUIRED");
    env.password_sign_in(&client, "carol", PASSWORD).await.expect("carol's old password");
    assert_eq!(user_status(env, &pool, "carol").await.unwrap(), "CONFIRMED");
    srp_sign_in(env, app, "carol", PASSWORD).await.expect("then SRP");
});
