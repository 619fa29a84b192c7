//! User pools and app clients: create, describe, update, list (paginated), delete.

use crate::common::*;
use crate::on_both_stores;
use aws_sdk_cognitoidentityprovider as cip;

on_both_stores!(pool_lifecycle, |env| {
    let c = &env.client;
    let created = c
        .create_user_pool()
        .pool_name("my-app")
        .username_attributes(cip::types::UsernameAttributeType::Email)
        .policies(
            cip::types::UserPoolPolicyType::builder()
                .password_policy(
                    cip::types::PasswordPolicyType::builder()
                        .minimum_length(10)
                        .require_numbers(true)
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    let pool = created.user_pool().unwrap();
    let id = pool.id().unwrap().to_string();
    let (region, suffix) = id.split_once('_').unwrap();
    assert_eq!(region, "us-east-1");
    assert_eq!(suffix.len(), 9);
    assert!(suffix.chars().all(|ch| ch.is_ascii_alphanumeric()));
    assert_eq!(pool.arn().unwrap(), format!("arn:aws:cognito-idp:us-east-1:000000000000:userpool/{id}"));

    let described = c.describe_user_pool().user_pool_id(&id).send().await.unwrap();
    let p = described.user_pool().unwrap();
    assert_eq!(p.name(), Some("my-app"));
    let policy = p.policies().unwrap().password_policy().unwrap();
    assert_eq!(policy.minimum_length(), Some(10));
    assert!(policy.require_numbers());
    assert!(!policy.require_symbols());
    assert_eq!(p.username_attributes(), &[cip::types::UsernameAttributeType::Email]);
    assert!(p.schema_attributes().iter().any(|a| a.name() == Some("email")));
    assert_eq!(p.estimated_number_of_users(), 0);

    c.update_user_pool()
        .user_pool_id(&id)
        .auto_verified_attributes(cip::types::VerifiedAttributeType::Email)
        .deletion_protection(cip::types::DeletionProtectionType::Active)
        .send()
        .await
        .unwrap();
    let p = c.describe_user_pool().user_pool_id(&id).send().await.unwrap();
    let p = p.user_pool().unwrap();
    assert_eq!(p.auto_verified_attributes(), &[cip::types::VerifiedAttributeType::Email]);
    assert_eq!(p.username_attributes(), &[cip::types::UsernameAttributeType::Email], "not changeable, kept");

    let e = c.delete_user_pool().user_pool_id(&id).send().await.map_err(err_name).unwrap_err();
    assert!(
        e.starts_with(
            "InvalidParameterException: The user pool cannot be deleted because deletion protection"
        ),
        "{e}"
    );
    c.update_user_pool()
        .user_pool_id(&id)
        .deletion_protection(cip::types::DeletionProtectionType::Inactive)
        .send()
        .await
        .unwrap();
    c.delete_user_pool().user_pool_id(&id).send().await.unwrap();
    let e = c.describe_user_pool().user_pool_id(&id).send().await.map_err(err_name).unwrap_err();
    assert_eq!(e, format!("ResourceNotFoundException: User pool {id} does not exist."));
});

on_both_stores!(list_user_pools_pages, |env| {
    let mut ids = Vec::new();
    for _ in 0..5 {
        ids.push(env.pool(|b| b).await);
    }
    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page =
            env.client.list_user_pools().max_results(2).set_next_token(token.clone()).send().await.unwrap();
        assert!(page.user_pools().len() <= 2);
        seen.extend(page.user_pools().iter().map(|p| p.id().unwrap().to_string()));
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    ids.sort();
    seen.sort();
    assert_eq!(seen, ids);
    let e = env.client.list_user_pools().max_results(61).send().await.map_err(err_name).unwrap_err();
    assert!(
        e.starts_with("InvalidParameterException: 1 validation error detected: Value '61' at 'maxResults'"),
        "{e}"
    );
});

on_both_stores!(client_lifecycle, |env| {
    let c = &env.client;
    let pool = env.pool(|b| b).await;
    let created = c
        .create_user_pool_client()
        .user_pool_id(&pool)
        .client_name("web")
        .generate_secret(true)
        .access_token_validity(30)
        .token_validity_units(
            cip::types::TokenValidityUnitsType::builder()
                .access_token(cip::types::TimeUnitsType::Minutes)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let client = created.user_pool_client().unwrap();
    let id = client.client_id().unwrap().to_string();
    assert_eq!(id.len(), 26);
    assert!(id.chars().all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit()));
    assert!(client.client_secret().unwrap().len() >= 40);
    assert_eq!(client.refresh_token_validity(), 30);
    assert_eq!(client.access_token_validity(), Some(30));
    assert_eq!(
        client.prevent_user_existence_errors(),
        Some(&cip::types::PreventUserExistenceErrorTypes::Legacy)
    );
    assert!(client.explicit_auth_flows().is_empty(), "lists appear only when set");

    let d = c.describe_user_pool_client().user_pool_id(&pool).client_id(&id).send().await.unwrap();
    assert_eq!(d.user_pool_client().unwrap().client_secret(), client.client_secret());

    let u = c
        .update_user_pool_client()
        .user_pool_id(&pool)
        .client_id(&id)
        .client_name("web2")
        .explicit_auth_flows(cip::types::ExplicitAuthFlowsType::AllowUserPasswordAuth)
        .send()
        .await
        .unwrap();
    let u = u.user_pool_client().unwrap();
    assert_eq!(u.client_name(), Some("web2"));
    assert_eq!(u.client_secret(), client.client_secret(), "the secret never changes");
    assert_eq!(u.access_token_validity(), None, "omitted settings return to defaults");

    for _ in 0..3 {
        env.app_client(&pool, &[], false).await;
    }
    let mut seen = 0;
    let mut token = None;
    loop {
        let page = c
            .list_user_pool_clients()
            .user_pool_id(&pool)
            .max_results(3)
            .set_next_token(token)
            .send()
            .await
            .unwrap();
        seen += page.user_pool_clients().len();
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    assert_eq!(seen, 4);

    c.delete_user_pool_client().user_pool_id(&pool).client_id(&id).send().await.unwrap();
    let e = c
        .describe_user_pool_client()
        .user_pool_id(&pool)
        .client_id(&id)
        .send()
        .await
        .map_err(err_name)
        .unwrap_err();
    assert_eq!(e, format!("ResourceNotFoundException: User pool client {id} does not exist."));
    let e = c
        .create_user_pool_client()
        .user_pool_id("us-east-1_missing00")
        .client_name("x")
        .send()
        .await
        .map_err(err_name)
        .unwrap_err();
    assert_eq!(e, "ResourceNotFoundException: User pool us-east-1_missing00 does not exist.");
    let e = c
        .create_user_pool_client()
        .user_pool_id(&pool)
        .client_name("x")
        .explicit_auth_flows(cip::types::ExplicitAuthFlowsType::AdminNoSrpAuth)
        .explicit_auth_flows(cip::types::ExplicitAuthFlowsType::AllowRefreshTokenAuth)
        .send()
        .await
        .map_err(err_name)
        .unwrap_err();
    assert!(e.starts_with("InvalidParameterException"), "{e}");
});

on_both_stores!(lambda_config_never_stores_a_trigger_that_cannot_fire, |env| {
    use cip::types::{
        LambdaConfigType, PreTokenGenerationLambdaVersionType, PreTokenGenerationVersionConfigType,
    };
    const ARN: &str = "arn:aws:lambda:us-east-1:000000000000:function:hook";
    let create = |config: LambdaConfigType| {
        env.client.create_user_pool().pool_name(unique("triggers")).lambda_config(config).send()
    };
    let refused = |r: Result<_, String>| {
        r.map(|_: cip::operation::create_user_pool::CreateUserPoolOutput| ()).unwrap_err()
    };

    let e = refused(
        create(
            LambdaConfigType::builder()
                .kms_key_id("arn:aws:kms:us-east-1:000000000000:key/1234abcd-12ab")
                .build(),
        )
        .await
        .map_err(err_name),
    );
    assert_eq!(
        e,
        "InvalidParameterException: LambdaConfig.KMSKeyID: KMSKeyID only serves the custom sender triggers, which Tessera does not support."
    );
    let v3 = PreTokenGenerationVersionConfigType::builder()
        .lambda_version(PreTokenGenerationLambdaVersionType::V30)
        .lambda_arn(ARN)
        .build()
        .unwrap();
    let e = refused(
        create(LambdaConfigType::builder().pre_token_generation_config(v3).build()).await.map_err(err_name),
    );
    assert!(e.contains("LambdaVersion V3_0 is not supported"), "{e}");
    let v2 = PreTokenGenerationVersionConfigType::builder()
        .lambda_version(PreTokenGenerationLambdaVersionType::V20)
        .lambda_arn(ARN)
        .build()
        .unwrap();
    let e = refused(
        create(
            LambdaConfigType::builder()
                .pre_token_generation(format!("{ARN}-other"))
                .pre_token_generation_config(v2)
                .build(),
        )
        .await
        .map_err(err_name),
    );
    assert_eq!(
        e,
        "InvalidParameterException: LambdaConfig.PreTokenGeneration and PreTokenGenerationConfig.LambdaArn must be the same function."
    );
    // The ten classic triggers are stored and described back, on create and on update.
    let all = |suffix: &str| {
        let arn = |name: &str| format!("{ARN}-{name}{suffix}");
        LambdaConfigType::builder()
            .pre_sign_up(arn("pre-sign-up"))
            .custom_message(arn("custom-message"))
            .post_confirmation(arn("post-confirmation"))
            .pre_authentication(arn("pre-authentication"))
            .post_authentication(arn("post-authentication"))
            .define_auth_challenge(arn("define"))
            .create_auth_challenge(arn("create"))
            .verify_auth_challenge_response(arn("verify"))
            .pre_token_generation(arn("pre-token"))
            .user_migration(arn("migrate"))
            .build()
    };
    let created = create(all("")).await.unwrap();
    let pool = created.user_pool().and_then(|p| p.id()).unwrap().to_string();
    let described = env.client.describe_user_pool().user_pool_id(&pool).send().await.unwrap();
    let config = described.user_pool().and_then(|p| p.lambda_config()).unwrap();
    assert_eq!(config, &all(""));
    env.client.update_user_pool().user_pool_id(&pool).lambda_config(all("-v2")).send().await.unwrap();
    let described = env.client.describe_user_pool().user_pool_id(&pool).send().await.unwrap();
    assert_eq!(described.user_pool().and_then(|p| p.lambda_config()).unwrap(), &all("-v2"));
    // An empty LambdaConfig is no trigger at all.
    env.client
        .update_user_pool()
        .user_pool_id(&pool)
        .lambda_config(LambdaConfigType::builder().build())
        .send()
        .await
        .unwrap();
});

on_both_stores!(
    arns_carry_the_configured_account,
    config = |cfg| {
        // What `tessera serve --account-id 123456789012` (or TESSERA_ACCOUNT_ID) sets.
        cfg.account_id = "123456789012".into();
    },
    |env| {
        let created = env.client.create_user_pool().pool_name("accounted").send().await.unwrap();
        let id = created.user_pool().and_then(|p| p.id()).unwrap().to_string();
        let arn = format!("arn:aws:cognito-idp:us-east-1:123456789012:userpool/{id}");
        assert_eq!(created.user_pool().and_then(|p| p.arn()), Some(arn.as_str()));
        let described = env.client.describe_user_pool().user_pool_id(&id).send().await.unwrap();
        assert_eq!(described.user_pool().and_then(|p| p.arn()), Some(arn.as_str()));

        // Cognito Sync names the account as the modifier of a developer's (admin) write.
        use aws_sdk_cognitosync as cs;
        let identity = identity_client(&env.url, ADMIN_KEY, ADMIN_SECRET).await;
        let pool = identity
            .create_identity_pool()
            .identity_pool_name("accounted")
            .allow_unauthenticated_identities(false)
            .developer_provider_name("login.accounted")
            .send()
            .await
            .unwrap()
            .identity_pool_id()
            .to_string();
        let identity_id = identity
            .get_open_id_token_for_developer_identity()
            .identity_pool_id(&pool)
            .logins("login.accounted", "user-1")
            .send()
            .await
            .unwrap()
            .identity_id()
            .unwrap()
            .to_string();
        let sync = sync_client(&env.url, ADMIN_KEY, ADMIN_SECRET, None).await;
        let listed = sync
            .list_records()
            .identity_pool_id(&pool)
            .identity_id(&identity_id)
            .dataset_name("settings")
            .send()
            .await
            .unwrap();
        let out = sync
            .update_records()
            .identity_pool_id(&pool)
            .identity_id(&identity_id)
            .dataset_name("settings")
            .sync_session_token(listed.sync_session_token().unwrap())
            .record_patches(
                cs::types::RecordPatch::builder()
                    .op(cs::types::Operation::Replace)
                    .key("theme")
                    .value("dark")
                    .sync_count(0)
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(out.records()[0].last_modified_by(), Some("123456789012"));
    }
);

#[tokio::test]
async fn a_malformed_account_id_is_refused_at_start() {
    for bad in ["12345", "1234567890123", "12345678901a", ""] {
        let dir = std::env::temp_dir().join(unique("tessera-account-"));
        let mut cfg = tessera_local::LocalConfig::new(dir.clone());
        cfg.key_file = Some(dir.with_extension("key"));
        cfg.bind = "127.0.0.1:0".parse().unwrap();
        cfg.service.account_id = bad.into();
        let started = tessera_local::start(cfg).await;
        let _ = std::fs::remove_dir_all(&dir);
        let _ = std::fs::remove_file(dir.with_extension("key"));
        match started {
            Ok(running) => {
                running.stop().await;
                panic!("{bad:?} was accepted");
            }
            Err(e) => assert_eq!(e, format!("{bad:?} is not an AWS account id (12 digits)")),
        }
    }
}
