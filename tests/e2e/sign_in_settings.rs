//! Changing the settings Cognito freezes at pool creation (docs/sign-in-settings.md), through
//! `TesseraService.{Plan,Start,Continue}UserPoolSettingsChange`: each change with and without
//! conflicts, and a case-sensitivity change that moves users while they keep signing in.

use crate::common::*;
use crate::on_both_stores;
use aws_sdk_cognitoidentityprovider as cip;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde_json::{json, Value};

async fn tessera(env: &TestEnv, op: &str, body: Value) -> (u16, Value) {
    admin_signed_request(
        env,
        "cognito-idp",
        "POST",
        "/",
        Some(&format!("TesseraService.{op}")),
        &body.to_string(),
    )
    .await
}

/// Continues a started change until it completes; the number of calls.
async fn run_to_completion(env: &TestEnv, pool: &str, step: u32) -> usize {
    for calls in 1..=200 {
        let (status, answer) =
            tessera(env, "ContinueUserPoolSettingsChange", json!({"UserPoolId": pool, "MaxUsers": step}))
                .await;
        assert_eq!(status, 200, "{answer}");
        if answer["Status"] == "COMPLETE" {
            return calls;
        }
        if let Some(ms) = answer["RetryAfterMs"].as_u64() {
            tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
        }
    }
    panic!("the change did not complete");
}

fn username_of(tokens: &cip::types::AuthenticationResultType) -> String {
    crate::tokens::payload(tokens.access_token().unwrap())["username"].as_str().unwrap().to_string()
}

fn conflicts(plan: &Value) -> Vec<(String, String, Vec<String>)> {
    plan["Conflicts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["Type"].as_str().unwrap().to_string(),
                c["Value"].as_str().or(c["Attribute"].as_str()).unwrap_or_default().to_string(),
                c["Usernames"].as_array().unwrap().iter().map(|u| u.as_str().unwrap().to_string()).collect(),
            )
        })
        .collect()
}

on_both_stores!(
    case_sensitivity_changes_while_users_keep_signing_in,
    config = |cfg| {
        // The wait before each move is the pool cache's lifetime.
        cfg.pool_cache_ttl_ms = 200;
        cfg.request_time_bound_ms = 300;
    },
    |env| {
        let pool = env
            .pool(|b| {
                b.alias_attributes(cip::types::AliasAttributeType::Email)
                    .username_configuration(
                        cip::types::UsernameConfigurationType::builder()
                            .case_sensitive(true)
                            .build()
                            .unwrap(),
                    )
                    .device_configuration(
                        cip::types::DeviceConfigurationType::builder()
                            .challenge_required_on_new_device(false)
                            .device_only_remembered_on_user_prompt(false)
                            .build(),
                    )
            })
            .await;
        let (client, _) =
            env.app_client(&pool, &["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"], false).await;
        env.admin_user(&pool, "Jane", &[("email", "Jane@Example.com"), ("email_verified", "true")]).await;
        env.admin_user(&pool, "jane", &[]).await;
        env.admin_user(&pool, "Bob", &[]).await;
        for i in 0..24 {
            env.admin_user(&pool, &format!("Member{i:02}"), &[]).await;
        }
        env.client.create_group().user_pool_id(&pool).group_name("admins").send().await.unwrap();
        env.client
            .admin_add_user_to_group()
            .user_pool_id(&pool)
            .username("Bob")
            .group_name("admins")
            .send()
            .await
            .unwrap();
        assert!(env.password_sign_in(&client, "JANE", PASSWORD).await.is_err(), "case-sensitive before");
        // Bob remembers a device: it must follow him when his key changes.
        let tokens = env.password_sign_in(&client, "Bob", PASSWORD).await.unwrap();
        let device = tokens.new_device_metadata().and_then(|d| d.device_key()).unwrap().to_string();
        env.client
            .confirm_device()
            .access_token(tokens.access_token().unwrap())
            .device_key(&device)
            .device_secret_verifier_config(
                cip::types::DeviceSecretVerifierConfigType::builder()
                    .password_verifier(STANDARD.encode([0x5au8; 256]))
                    .salt(STANDARD.encode([0xa7u8; 16]))
                    .build(),
            )
            .send()
            .await
            .unwrap();

        // "Jane" and "jane" would fold to one name: reported, and the change refused.
        let change = json!({"UserPoolId": pool, "CaseSensitive": false});
        let (status, plan) = tessera(env, "PlanUserPoolSettingsChange", change.clone()).await;
        assert_eq!(status, 200, "{plan}");
        assert_eq!(
            conflicts(&plan),
            vec![(
                "USERNAMES_FOLD_TO_ONE".to_string(),
                "jane".to_string(),
                vec!["Jane".to_string(), "jane".to_string()]
            )]
        );
        assert_eq!(plan["UsersToMove"], 26, "{plan}");
        let (status, answer) = tessera(env, "StartUserPoolSettingsChange", change.clone()).await;
        assert_eq!(status, 400);
        let (kind, message) = error_parts(&answer);
        assert_eq!(kind, "InvalidParameterException");
        assert!(message.contains("USERNAMES_FOLD_TO_ONE") && message.contains("Jane, jane"), "{message}");
        let (_, still) = tessera(env, "ContinueUserPoolSettingsChange", json!({"UserPoolId": pool})).await;
        assert_eq!(error_parts(&still).0, "InvalidParameterException", "nothing was started");

        // Without the conflict it runs in steps while users sign in.
        env.client.admin_delete_user().user_pool_id(&pool).username("jane").send().await.unwrap();
        let (status, started) = tessera(env, "StartUserPoolSettingsChange", change.clone()).await;
        assert_eq!(status, 200, "{started}");
        assert_eq!(started["Status"], "IN_PROGRESS");
        let (_, again) = tessera(env, "StartUserPoolSettingsChange", change.clone()).await;
        assert!(error_parts(&again).1.contains("in progress"), "{again}");
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        async fn sign_in(client: &(cip::Client, String), name: &str) -> Result<(), String> {
            client
                .0
                .initiate_auth()
                .client_id(&client.1)
                .auth_flow(cip::types::AuthFlowType::UserPasswordAuth)
                .auth_parameters("USERNAME", name)
                .auth_parameters("PASSWORD", PASSWORD)
                .send()
                .await
                .map(|_| ())
                .map_err(err_name)
        }
        let client = (env.client.clone(), client);
        let signer = {
            let stop = stop.clone();
            let client = client.clone();
            tokio::spawn(async move {
                let mut signed_in = 0;
                let mut failures = Vec::new();
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    for name in ["Jane", "Member17", "Jane@Example.com"] {
                        match sign_in(&client, name).await {
                            Ok(()) => signed_in += 1,
                            Err(e) => failures.push(format!("{name}: {e}")),
                        }
                    }
                }
                (signed_in, failures)
            })
        };
        let calls = run_to_completion(env, &pool, 4).await;
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let (signed_in, failures) = signer.await.unwrap();
        assert!(calls >= 7, "26 users in steps of 4: {calls} calls");
        assert!(signed_in >= 3, "sign-ins ran during the change: {signed_in}");
        assert!(failures.is_empty(), "sign-ins failed during the change: {failures:?}");

        // Now any case signs in, the alias folds, and groups followed the user.
        let described = env.client.describe_user_pool().user_pool_id(&pool).send().await.unwrap();
        let up = described.user_pool().unwrap();
        assert_eq!(up.username_configuration().map(|u| u.case_sensitive()), Some(false));
        for name in ["JANE", "jane", "jane@example.com", "JANE@EXAMPLE.COM", "member03", "MEMBER23"] {
            let tokens = env.password_sign_in(&client.1, name, PASSWORD).await;
            assert!(tokens.is_ok(), "{name}: {tokens:?}");
        }
        assert_eq!(username_of(&env.password_sign_in(&client.1, "JANE", PASSWORD).await.unwrap()), "Jane");
        let groups =
            env.client.admin_list_groups_for_user().user_pool_id(&pool).username("BOB").send().await.unwrap();
        assert_eq!(groups.groups().iter().filter_map(|g| g.group_name()).collect::<Vec<_>>(), ["admins"]);
        let devices =
            env.client.admin_list_devices().user_pool_id(&pool).username("BOB").send().await.unwrap();
        assert_eq!(
            devices.devices().iter().filter_map(|d| d.device_key()).collect::<Vec<_>>(),
            [device.as_str()]
        );
        let members =
            env.client.list_users_in_group().user_pool_id(&pool).group_name("admins").send().await.unwrap();
        assert_eq!(members.users().iter().filter_map(|u| u.username()).collect::<Vec<_>>(), ["Bob"]);
        let listed =
            env.client.list_users().user_pool_id(&pool).filter("username = \"Bob\"").send().await.unwrap();
        assert_eq!(listed.users().len(), 1);
        let all = env.client.list_users().user_pool_id(&pool).send().await.unwrap();
        assert_eq!(all.users().len(), 26);
        let taken = env.sign_up(&client.1, "JANE").await;
        assert!(taken.as_ref().is_err_and(|e| e.starts_with("UsernameExistsException")), "{taken:?}");

        // And back: case-sensitive again, the users keep their names' case.
        let (status, started) =
            tessera(env, "StartUserPoolSettingsChange", json!({"UserPoolId": pool, "CaseSensitive": true}))
                .await;
        assert_eq!(status, 200, "{started}");
        run_to_completion(env, &pool, 1000).await;
        assert!(env.password_sign_in(&client.1, "Jane", PASSWORD).await.is_ok());
        assert!(env.password_sign_in(&client.1, "Jane@Example.com", PASSWORD).await.is_ok());
        assert!(env.password_sign_in(&client.1, "JANE", PASSWORD).await.is_err());
        let groups =
            env.client.admin_list_groups_for_user().user_pool_id(&pool).username("Bob").send().await.unwrap();
        assert_eq!(groups.groups().len(), 1);
    }
);

on_both_stores!(alias_and_username_attribute_changes, |env| {
    let pool = env.pool(|b| b).await;
    let (client, _) =
        env.app_client(&pool, &["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"], false).await;
    env.admin_user(&pool, "ann", &[("email", "shared@example.com"), ("email_verified", "true")]).await;
    env.admin_user(&pool, "bea", &[("email", "shared@example.com"), ("email_verified", "true")]).await;
    env.admin_user(&pool, "cid", &[("email", "cid@example.com")]).await;
    assert!(env.password_sign_in(&client, "shared@example.com", PASSWORD).await.is_err());

    // A verified email two users hold would be an alias twice.
    let alias = json!({"UserPoolId": pool, "AliasAttributes": ["email"]});
    let (_, plan) = tessera(env, "PlanUserPoolSettingsChange", alias.clone()).await;
    assert_eq!(
        conflicts(&plan),
        vec![("ALIAS_HELD_TWICE".into(), "shared@example.com".into(), vec!["ann".into(), "bea".into()])],
        "{plan}"
    );
    assert_eq!(plan["UnresolvedConflictCount"], 1);
    let (status, answer) = tessera(env, "StartUserPoolSettingsChange", alias.clone()).await;
    assert_eq!((status, error_parts(&answer).0.as_str()), (400, "InvalidParameterException"));
    let mut resolved = alias.clone();
    resolved["AliasConflicts"] = json!("KEEP_NEWEST");
    let (_, plan) = tessera(env, "PlanUserPoolSettingsChange", resolved.clone()).await;
    assert_eq!(plan["UnresolvedConflictCount"], 0, "{plan}");
    assert!(plan["Conflicts"][0]["Resolution"].as_str().unwrap().starts_with("bea keeps it"), "{plan}");
    let (status, _) = tessera(env, "StartUserPoolSettingsChange", resolved).await;
    assert_eq!(status, 200);
    run_to_completion(env, &pool, 2).await;
    let tokens = env.password_sign_in(&client, "shared@example.com", PASSWORD).await.unwrap();
    assert_eq!(username_of(&tokens), "bea");
    let ann = env.client.admin_get_user().user_pool_id(&pool).username("ann").send().await.unwrap();
    let verified =
        ann.user_attributes().iter().find(|a| a.name() == "email_verified").and_then(|a| a.value());
    assert_eq!(verified, Some("false"), "the user who yielded has the email unverified");
    assert!(
        env.password_sign_in(&client, "cid@example.com", PASSWORD).await.is_err(),
        "unverified: no alias"
    );
    let described = env.client.describe_user_pool().user_pool_id(&pool).send().await.unwrap();
    assert_eq!(described.user_pool().unwrap().alias_attributes(), [cip::types::AliasAttributeType::Email]);

    // Email as the username attribute: any email signs in, so one held twice cannot be resolved.
    let username = json!({"UserPoolId": pool, "AliasAttributes": [], "UsernameAttributes": ["email"], "AliasConflicts": "KEEP_NEWEST"});
    let (_, plan) = tessera(env, "PlanUserPoolSettingsChange", username.clone()).await;
    assert_eq!(conflicts(&plan)[0].0, "SIGN_IN_NAME_HELD_TWICE", "{plan}");
    let (status, _) = tessera(env, "StartUserPoolSettingsChange", username.clone()).await;
    assert_eq!(status, 400);
    env.client
        .admin_update_user_attributes()
        .user_pool_id(&pool)
        .username("ann")
        .user_attributes(attr("email", "ann@example.com"))
        .send()
        .await
        .unwrap();
    let (status, answer) = tessera(env, "StartUserPoolSettingsChange", username).await;
    assert_eq!(status, 200, "{answer}");
    run_to_completion(env, &pool, 500).await;
    for (name, who) in [
        ("cid@example.com", "cid"),
        ("ann@example.com", "ann"),
        ("shared@example.com", "bea"),
        ("cid", "cid"),
    ] {
        let tokens = env.password_sign_in(&client, name, PASSWORD).await;
        assert_eq!(tokens.as_ref().map(username_of).ok().as_deref(), Some(who), "{name}: {tokens:?}");
    }
    let taken = env
        .client
        .admin_update_user_attributes()
        .user_pool_id(&pool)
        .username("ann")
        .user_attributes(attr("email", "cid@example.com"))
        .send()
        .await
        .map_err(err_name);
    assert!(taken.as_ref().is_err_and(|e| e.starts_with("AliasExistsException")), "{taken:?}");
});

on_both_stores!(required_attributes_and_bad_requests, |env| {
    let pool = env.pool(|b| b).await;
    let (client, _) =
        env.app_client(&pool, &["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"], false).await;
    env.admin_user(&pool, "named", &[("name", "Named One")]).await;
    env.admin_user(&pool, "nameless", &[]).await;
    let change = json!({"UserPoolId": pool, "RequiredAttributes": ["name"]});
    let (_, plan) = tessera(env, "PlanUserPoolSettingsChange", change.clone()).await;
    assert_eq!(
        conflicts(&plan),
        vec![("MISSING_REQUIRED_ATTRIBUTE".into(), "name".into(), vec!["nameless".into()])]
    );
    let (status, _) = tessera(env, "StartUserPoolSettingsChange", change.clone()).await;
    assert_eq!(status, 400);

    for (bad, says) in [
        (json!({"UserPoolId": pool, "RequiredAttributes": ["custom:tier"]}), "custom:tier"),
        (
            json!({"UserPoolId": pool, "AliasAttributes": ["email"], "UsernameAttributes": ["email"]}),
            "Only one of",
        ),
        (json!({"UserPoolId": pool, "AliasAttributes": ["nickname"]}), "nickname"),
        (json!({"UserPoolId": pool, "CaseSensitive": true}), "changes none"),
        (
            json!({"UserPoolId": pool, "RequiredAttributes": ["name"], "MissingRequiredAttributes": "FILL"}),
            "missingRequiredAttributes",
        ),
    ] {
        let (status, answer) = tessera(env, "StartUserPoolSettingsChange", bad.clone()).await;
        assert_eq!(status, 400, "{bad}: {answer}");
        let (kind, message) = error_parts(&answer);
        assert_eq!(kind, "InvalidParameterException", "{bad}");
        assert!(message.contains(says), "{bad}: {message}");
    }
    let (status, answer) = tessera(
        env,
        "PlanUserPoolSettingsChange",
        json!({"UserPoolId": "us-east-1_Nothere1", "CaseSensitive": false}),
    )
    .await;
    assert_eq!((status, error_parts(&answer).0.as_str()), (400, "ResourceNotFoundException"));
    // Abuse: only the admin keys may change a pool's sign-in rules: an unsigned call is refused
    // and nothing starts.
    let body = json!({"UserPoolId": pool, "CaseSensitive": false}).to_string();
    let (status, _, answer) = raw_http(
        &env.url,
        "POST",
        "/",
        &[
            ("x-amz-target", "TesseraService.StartUserPoolSettingsChange"),
            ("content-type", "application/x-amz-json-1.1"),
        ],
        body.as_bytes(),
    )
    .await;
    let answer: Value = serde_json::from_slice(&answer).unwrap_or(Value::Null);
    assert_eq!(status, 400, "unsigned: {answer}");
    assert!(!error_parts(&answer).0.is_empty(), "unsigned: {answer}");
    let (status, answer) = tessera(env, "ContinueUserPoolSettingsChange", json!({"UserPoolId": pool})).await;
    assert_eq!(
        (status, error_parts(&answer).0.as_str()),
        (400, "InvalidParameterException"),
        "nothing started"
    );

    let mut allowed = change.clone();
    allowed["MissingRequiredAttributes"] = json!("ALLOW");
    let (status, answer) = tessera(env, "StartUserPoolSettingsChange", allowed).await;
    assert_eq!(status, 200, "{answer}");
    run_to_completion(env, &pool, 500).await;
    let described = env.client.describe_user_pool().user_pool_id(&pool).send().await.unwrap();
    let name =
        described.user_pool().unwrap().schema_attributes().iter().find(|a| a.name() == Some("name")).cloned();
    assert_eq!(name.and_then(|a| a.required()), Some(true));
    assert!(
        env.password_sign_in(&client, "nameless", PASSWORD).await.is_ok(),
        "existing users keep signing in"
    );
    let refused = env.sign_up(&client, "newcomer").await;
    assert!(refused.as_ref().is_err_and(|e| e.starts_with("InvalidParameterException")), "{refused:?}");
});

on_both_stores!(
    a_pool_too_large_for_one_request_is_refused_whole,
    config = |cfg| {
        // As a deployment's functions, with a budget every read of a second page overruns.
        cfg.whole_pool_read_budget_ms = Some(0);
    },
    |env| {
        let pool = env.pool(|b| b).await;
        let change = json!({"UserPoolId": pool, "AliasAttributes": ["email"]});
        // One page of users is read within any budget.
        env.admin_user(&pool, "first", &[]).await;
        let (status, answer) = tessera(env, "PlanUserPoolSettingsChange", change.clone()).await;
        assert_eq!((status, answer["UsersScanned"].as_u64()), (200, Some(1)), "{answer}");

        // More users than one page (100): the plan gives up with a clear error, not a timeout.
        for i in 0..100 {
            env.client
                .admin_create_user()
                .user_pool_id(&pool)
                .username(format!("user{i:03}"))
                .message_action(cip::types::MessageActionType::Suppress)
                .send()
                .await
                .unwrap();
        }
        for op in ["PlanUserPoolSettingsChange", "StartUserPoolSettingsChange"] {
            let (status, answer) = tessera(env, op, change.clone()).await;
            let (name, message) = error_parts(&answer);
            assert_eq!((status, name.as_str()), (400, "LimitExceededException"), "{op}: {answer}");
            assert!(message.contains("tessera pool-settings"), "{op}: {message}");
        }
        // Nothing started: the pool keeps its settings and no change is recorded.
        let described = env.client.describe_user_pool().user_pool_id(&pool).send().await.unwrap();
        assert!(described.user_pool().unwrap().alias_attributes().is_empty());
        let (status, answer) =
            tessera(env, "ContinueUserPoolSettingsChange", json!({"UserPoolId": pool})).await;
        assert_eq!((status, error_parts(&answer).0.as_str()), (400, "InvalidParameterException"), "{answer}");
    }
);
