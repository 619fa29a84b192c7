//! Telling known from unknown users (issue 14, finding 5), and guessing passwords through a
//! UserMigration function (finding 6): unknown names are counted and locked out like users.

use crate::common::*;
use crate::lambda_double::{arn, Reply};
use crate::on_both_stores;
use aws_sdk_cognitoidentityprovider as cip;
use cip::types::{AuthFlowType, ExplicitAuthFlowsType, PreventUserExistenceErrorTypes};

const INCORRECT: &str = "NotAuthorizedException: Incorrect username or password.";
const EXCEEDED: &str = "NotAuthorizedException: Password attempts exceeded";

async fn hiding_client(env: &TestEnv, pool: &str) -> String {
    let out = env
        .client
        .create_user_pool_client()
        .user_pool_id(pool)
        .client_name("hiding")
        .explicit_auth_flows(ExplicitAuthFlowsType::AllowUserPasswordAuth)
        .explicit_auth_flows(ExplicitAuthFlowsType::AllowUserSrpAuth)
        .explicit_auth_flows(ExplicitAuthFlowsType::AllowRefreshTokenAuth)
        .prevent_user_existence_errors(PreventUserExistenceErrorTypes::Enabled)
        .send()
        .await
        .unwrap();
    out.user_pool_client().unwrap().client_id().unwrap().to_string()
}

/// The answers to `n` wrong passwords in a row.
async fn answers(env: &TestEnv, client_id: &str, name: &str, n: usize) -> Vec<String> {
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(env.password_sign_in(client_id, name, "Wrong-Horse-1").await.unwrap_err());
    }
    out
}

on_both_stores!(unknown_users_lock_out_like_known_ones, |env| {
    let pool = env.email_pool().await;
    let client_id = hiding_client(env, &pool).await;
    env.confirmed_user(&client_id, "known@example.com").await;
    let known = answers(env, &client_id, "known@example.com", 6).await;
    let unknown = answers(env, &client_id, "ghost@example.com", 6).await;
    // a25d902 answered "Incorrect username or password." forever for the unknown name.
    assert_eq!(known, unknown);
    assert_eq!(&known[..5], &[INCORRECT; 5]);
    assert_eq!(known[5], EXCEEDED);
    // Both come back after the lockout, and both count on.
    env.clock.advance_secs(2);
    assert_eq!(answers(env, &client_id, "ghost@example.com", 1).await, [INCORRECT]);
    assert_eq!(answers(env, &client_id, "known@example.com", 1).await, [INCORRECT]);
});

on_both_stores!(srp_user_id_of_an_unknown_alias_is_not_the_alias, |env| {
    let pool = env.pool(|b| b.alias_attributes(cip::types::AliasAttributeType::Email)).await;
    let client_id = hiding_client(env, &pool).await;
    let start = |name: &'static str| {
        env.client
            .initiate_auth()
            .client_id(&client_id)
            .auth_flow(AuthFlowType::UserSrpAuth)
            .auth_parameters("USERNAME", name)
            .auth_parameters("SRP_A", "2")
            .send()
    };
    // A real user signing in by an email alias gets their username back, and usernames here
    // cannot look like an email: echoing the address told that nobody holds it.
    let out = start("nobody@example.com").await.unwrap();
    let id = out.challenge_parameters().unwrap()["USER_ID_FOR_SRP"].clone();
    assert!(!id.contains('@'), "{id}");
    let again = start("nobody@example.com").await.unwrap();
    assert_eq!(again.challenge_parameters().unwrap()["USER_ID_FOR_SRP"], id, "stable per name");
    // A plain name is what a real username would be, so it is echoed.
    let out = start("nobody").await.unwrap();
    assert_eq!(out.challenge_parameters().unwrap()["USER_ID_FOR_SRP"], "nobody");
});

on_both_stores!(user_migration_is_not_an_unlimited_password_oracle, |env| {
    let pool = env
        .pool(|b| {
            b.username_attributes(cip::types::UsernameAttributeType::Email)
                .lambda_config(cip::types::LambdaConfigType::builder().user_migration(arn("migrate")).build())
        })
        .await;
    let (client_id, _) = env.app_client(&pool, &["ALLOW_USER_PASSWORD_AUTH"], false).await;
    env.lambda.on(|_, event| {
        if event["request"]["password"] == "Legacy-pass1" {
            Reply::Respond(serde_json::json!({
                "userAttributes": {"email": event["userName"], "email_verified": "true"},
                "finalUserStatus": "CONFIRMED",
                "messageAction": "SUPPRESS"
            }))
        } else {
            Reply::Fail("Bad password".into())
        }
    });
    let legacy = "legacy@example.com";
    let refused = "UserLambdaValidationException: UserMigration failed with error Bad password.";
    for _ in 0..5 {
        assert_eq!(env.password_sign_in(&client_id, legacy, "Guess-1234").await.unwrap_err(), refused);
    }
    env.lambda.clear();
    // Locked: the function is not asked, not even with the right password (a25d902 asked it
    // every time, so the legacy store's passwords could be guessed without limit).
    assert_eq!(env.password_sign_in(&client_id, legacy, "Legacy-pass1").await.unwrap_err(), EXCEEDED);
    assert!(env.lambda.calls().is_empty());
    env.clock.advance_secs(2);
    env.password_sign_in(&client_id, legacy, "Legacy-pass1").await.unwrap();
});
