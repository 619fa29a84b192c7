//! Sign-in identifiers: aliases (active only while verified, unique, ForceAliasCreation) and
//! case-insensitive usernames.

use crate::common::*;
use crate::on_both_stores;
use aws_sdk_cognitoidentityprovider as cip;

async fn alias_pool(env: &TestEnv) -> (String, String) {
    let pool = env
        .pool(|b| {
            b.alias_attributes(cip::types::AliasAttributeType::Email)
                .alias_attributes(cip::types::AliasAttributeType::PreferredUsername)
                .auto_verified_attributes(cip::types::VerifiedAttributeType::Email)
        })
        .await;
    let (client_id, _) = env.app_client(&pool, &["ALLOW_USER_PASSWORD_AUTH"], false).await;
    (pool, client_id)
}

async fn sign_up_with_email(
    env: &TestEnv,
    client_id: &str,
    username: &str,
    email: &str,
) -> Result<(), String> {
    env.client
        .sign_up()
        .client_id(client_id)
        .username(username)
        .password(PASSWORD)
        .user_attributes(attr("email", email))
        .send()
        .await
        .map(|_| ())
        .map_err(err_name)
}

async fn attribute(env: &TestEnv, pool: &str, username: &str, name: &str) -> Option<String> {
    let u = env.client.admin_get_user().user_pool_id(pool).username(username).send().await.unwrap();
    u.user_attributes().iter().find(|a| a.name() == name).and_then(|a| a.value()).map(str::to_string)
}

on_both_stores!(email_alias_signs_in_only_once_verified, |env| {
    let (pool, client_id) = alias_pool(env).await;
    let e = sign_up_with_email(env, &client_id, "jane@example.com", "jane@example.com").await.unwrap_err();
    assert_eq!(
        e,
        "InvalidParameterException: Username cannot be of email format, since user pool is configured for email alias."
    );
    sign_up_with_email(env, &client_id, "jane", "jane@example.com").await.unwrap();
    let e = env.password_sign_in(&client_id, "jane@example.com", PASSWORD).await.unwrap_err();
    assert_eq!(e, "UserNotFoundException: User does not exist.", "unverified email is no alias");
    env.confirm(&client_id, "jane", &env.last_code("jane@example.com")).await.unwrap();
    let tokens = env.password_sign_in(&client_id, "jane@example.com", PASSWORD).await.unwrap();
    let me = env.client.get_user().access_token(tokens.access_token().unwrap()).send().await.unwrap();
    assert_eq!(me.username(), "jane");
    // Admin APIs take the alias too.
    let u =
        env.client.admin_get_user().user_pool_id(&pool).username("jane@example.com").send().await.unwrap();
    assert_eq!(u.username(), "jane");
});

on_both_stores!(confirming_a_taken_alias_needs_force_alias_creation, |env| {
    let (pool, client_id) = alias_pool(env).await;
    let email = "shared@example.com";
    sign_up_with_email(env, &client_id, "first", email).await.unwrap();
    env.confirm(&client_id, "first", &env.last_code(email)).await.unwrap();
    // Signing up with an email another user holds as an alias succeeds…
    sign_up_with_email(env, &client_id, "second", email).await.unwrap();
    let code = env.last_code(email);
    // …but confirming fails and changes nothing.
    let e = env.confirm(&client_id, "second", &code).await.unwrap_err();
    assert_eq!(e, "AliasExistsException: An account with the given email already exists.");
    let u = env.client.admin_get_user().user_pool_id(&pool).username("second").send().await.unwrap();
    assert_eq!(u.user_status(), Some(&cip::types::UserStatusType::Unconfirmed));
    env.password_sign_in(&client_id, email, PASSWORD).await.unwrap();
    let who = env.client.admin_get_user().user_pool_id(&pool).username(email).send().await.unwrap();
    assert_eq!(who.username(), "first");

    // With ForceAliasCreation the alias moves and the old holder's email is unverified.
    env.client
        .confirm_sign_up()
        .client_id(&client_id)
        .username("second")
        .confirmation_code(&code)
        .force_alias_creation(true)
        .send()
        .await
        .unwrap();
    let who = env.client.admin_get_user().user_pool_id(&pool).username(email).send().await.unwrap();
    assert_eq!(who.username(), "second");
    assert_eq!(attribute(env, &pool, "first", "email_verified").await.as_deref(), Some("false"));
    assert_eq!(attribute(env, &pool, "second", "email_verified").await.as_deref(), Some("true"));
    // "first" still signs in with its username.
    env.password_sign_in(&client_id, "first", PASSWORD).await.unwrap();
});

on_both_stores!(case_insensitive_pools_fold_usernames, |env| {
    let pool = env
        .pool(|b| {
            b.username_configuration(
                cip::types::UsernameConfigurationType::builder().case_sensitive(false).build().unwrap(),
            )
        })
        .await;
    let (client_id, _) = env.app_client(&pool, &["ALLOW_USER_PASSWORD_AUTH"], false).await;
    env.sign_up(&client_id, "Jane").await.unwrap();
    let e = env.sign_up(&client_id, "jANE").await.unwrap_err();
    assert_eq!(e, "UsernameExistsException: User already exists");
    env.client.admin_confirm_sign_up().user_pool_id(&pool).username("JANE").send().await.unwrap();
    env.password_sign_in(&client_id, "jane", PASSWORD).await.unwrap();
    let u = env.client.admin_get_user().user_pool_id(&pool).username("jAnE").send().await.unwrap();
    assert_eq!(u.username(), "Jane", "the username keeps the case it was created with");

    // The default (no UsernameConfiguration) is case-sensitive, as the API model says.
    let strict = env.pool(|b| b).await;
    let (strict_client, _) = env.app_client(&strict, &[], false).await;
    env.sign_up(&strict_client, "Jane").await.unwrap();
    env.sign_up(&strict_client, "jane").await.unwrap();
    let e = env.client.admin_get_user().user_pool_id(&strict).username("JANE").send().await.map_err(err_name);
    assert_eq!(e.unwrap_err(), "UserNotFoundException: User does not exist.");
});

on_both_stores!(a_failed_force_alias_creation_changes_nobody, |env| {
    let (pool, client_id) = alias_pool(env).await;
    let email = "held@example.com";
    sign_up_with_email(env, &client_id, "holder", email).await.unwrap();
    env.confirm(&client_id, "holder", &env.last_code(email)).await.unwrap();
    // Taking the alias while creating a user whose name is taken fails as a whole.
    let e = env
        .client
        .admin_create_user()
        .user_pool_id(&pool)
        .username("holder")
        .user_attributes(attr("email", email))
        .user_attributes(attr("email_verified", "true"))
        .force_alias_creation(true)
        .message_action(cip::types::MessageActionType::Suppress)
        .send()
        .await
        .map_err(err_name)
        .unwrap_err();
    assert!(e.starts_with("UsernameExistsException: "), "{e}");
    assert_eq!(attribute(env, &pool, "holder", "email_verified").await.as_deref(), Some("true"));
    let who = env.client.admin_get_user().user_pool_id(&pool).username(email).send().await.unwrap();
    assert_eq!(who.username(), "holder");
    // The same call for a free name moves the alias in one step.
    env.client
        .admin_create_user()
        .user_pool_id(&pool)
        .username("taker")
        .user_attributes(attr("email", email))
        .user_attributes(attr("email_verified", "true"))
        .force_alias_creation(true)
        .message_action(cip::types::MessageActionType::Suppress)
        .send()
        .await
        .unwrap();
    let who = env.client.admin_get_user().user_pool_id(&pool).username(email).send().await.unwrap();
    assert_eq!(who.username(), "taker");
    assert_eq!(attribute(env, &pool, "holder", "email_verified").await.as_deref(), Some("false"));
});
