//! AdminCreateUser and its invitation, the NEW_PASSWORD_REQUIRED challenge and its sessions,
//! AdminDisableUser / AdminEnableUser, DeleteUser.

use crate::common::*;
use crate::on_both_stores;
use aws_sdk_cognitoidentityprovider as cip;
use cip::types::{
    AdminCreateUserConfigType, AuthFlowType, ChallengeNameType, DeliveryMediumType, MessageActionType,
    MessageTemplateType, UserStatusType,
};

pub const TEMP: &str = "Temporary-Horse-7";

/// AdminCreateUser; an email-shaped name also gets a verified email and an emailed invitation.
pub async fn create_user(
    env: &TestEnv,
    pool: &str,
    username: &str,
    temp: Option<&str>,
    action: Option<MessageActionType>,
) -> Result<cip::types::UserType, String> {
    let mut b = env
        .client
        .admin_create_user()
        .user_pool_id(pool)
        .username(username)
        .set_temporary_password(temp.map(str::to_string))
        .set_message_action(action);
    if username.contains('@') {
        b = b
            .user_attributes(attr("email", username))
            .user_attributes(attr("email_verified", "true"))
            .desired_delivery_mediums(DeliveryMediumType::Email);
    }
    b.send().await.map_err(err_name).map(|o| o.user().cloned().expect("user"))
}

/// USER_PASSWORD_AUTH; the raw output, for challenges.
pub async fn start_sign_in(
    env: &TestEnv,
    client_id: &str,
    username: &str,
    password: &str,
) -> Result<cip::operation::initiate_auth::InitiateAuthOutput, String> {
    env.client
        .initiate_auth()
        .client_id(client_id)
        .auth_flow(AuthFlowType::UserPasswordAuth)
        .auth_parameters("USERNAME", username)
        .auth_parameters("PASSWORD", password)
        .send()
        .await
        .map_err(err_name)
}

/// The NEW_PASSWORD_REQUIRED session from signing in with a temporary password.
pub async fn new_password_session(env: &TestEnv, client_id: &str, username: &str, temp: &str) -> String {
    let out = start_sign_in(env, client_id, username, temp).await.expect("sign-in");
    assert_eq!(out.challenge_name(), Some(&ChallengeNameType::NewPasswordRequired));
    assert!(out.authentication_result().is_none());
    out.session().expect("session").to_string()
}

pub async fn respond_new_password(
    env: &TestEnv,
    client_id: &str,
    session: &str,
    username: &str,
    new_password: &str,
    extra: &[(&str, &str)],
) -> Result<cip::types::AuthenticationResultType, String> {
    let mut b = env
        .client
        .respond_to_auth_challenge()
        .client_id(client_id)
        .challenge_name(ChallengeNameType::NewPasswordRequired)
        .session(session)
        .challenge_responses("USERNAME", username)
        .challenge_responses("NEW_PASSWORD", new_password);
    for (k, v) in extra {
        b = b.challenge_responses(*k, *v);
    }
    b.send().await.map_err(err_name).map(|o| o.authentication_result().cloned().expect("tokens"))
}

pub async fn status(env: &TestEnv, pool: &str, username: &str) -> (UserStatusType, bool) {
    let u = env.client.admin_get_user().user_pool_id(pool).username(username).send().await.expect("get user");
    (u.user_status().cloned().expect("status"), u.enabled())
}

on_both_stores!(invited_user_sets_a_password_through_the_challenge, |env| {
    let pool = env.email_pool().await;
    let (client_id, _) = env.app_client(&pool, &["ALLOW_USER_PASSWORD_AUTH"], false).await;
    let user = create_user(env, &pool, "ivy@example.com", None, None).await.unwrap();
    assert_eq!(user.user_status(), Some(&UserStatusType::ForceChangePassword));
    assert!(user.enabled());
    let sub =
        user.attributes().iter().find(|a| a.name() == "sub").and_then(|a| a.value()).unwrap().to_string();
    assert_eq!(user.username(), Some(sub.as_str()), "email-as-username pools name users by sub");

    // The generated temporary password arrives in the default invitation and meets the policy.
    let sent = env.messages_to("ivy@example.com");
    assert_eq!(sent.len(), 1);
    let temp = sent[0].code.clone().unwrap();
    assert_eq!(sent[0].subject.as_deref(), Some("Your temporary password"));
    assert_eq!(
        sent[0].body,
        format!(
            "Your username is ivy@example.com and temporary password is {}.",
            tessera_core::html::escape_html(&temp)
        )
    );
    assert!(temp.len() >= 12, "{temp}");

    let e = start_sign_in(env, &client_id, "ivy@example.com", "Wrong-Horse-9").await.unwrap_err();
    assert_eq!(e, "NotAuthorizedException: Incorrect username or password.");

    let out = start_sign_in(env, &client_id, "ivy@example.com", &temp).await.unwrap();
    assert_eq!(out.challenge_name(), Some(&ChallengeNameType::NewPasswordRequired));
    let params = out.challenge_parameters().unwrap();
    assert_eq!(params["USER_ID_FOR_SRP"], sub);
    assert_eq!(params["requiredAttributes"], "[]");
    let shown: serde_json::Value = serde_json::from_str(&params["userAttributes"]).unwrap();
    assert_eq!(shown["email"], "ivy@example.com");
    assert_eq!(shown["email_verified"], "true");
    assert!(shown.get("sub").is_none());
    let session = out.session().unwrap().to_string();

    let tokens =
        respond_new_password(env, &client_id, &session, "ivy@example.com", PASSWORD, &[]).await.unwrap();
    assert!(
        tokens.access_token().is_some() && tokens.refresh_token().is_some() && tokens.id_token().is_some()
    );
    assert_eq!(status(env, &pool, "ivy@example.com").await.0, UserStatusType::Confirmed);
    env.password_sign_in(&client_id, "ivy@example.com", PASSWORD).await.unwrap();
    let e = env.password_sign_in(&client_id, "ivy@example.com", &temp).await.unwrap_err();
    assert_eq!(e, "NotAuthorizedException: Incorrect username or password.");
});

on_both_stores!(admin_respond_to_auth_challenge_completes_sign_in, |env| {
    let c = &env.client;
    let pool = env.pool(|b| b).await;
    let (client_id, _) = env.app_client(&pool, &["ALLOW_ADMIN_USER_PASSWORD_AUTH"], false).await;
    create_user(env, &pool, "kim", Some(TEMP), None).await.unwrap();
    let out = c
        .admin_initiate_auth()
        .user_pool_id(&pool)
        .client_id(&client_id)
        .auth_flow(AuthFlowType::AdminUserPasswordAuth)
        .auth_parameters("USERNAME", "kim")
        .auth_parameters("PASSWORD", TEMP)
        .send()
        .await
        .unwrap();
    assert_eq!(out.challenge_name(), Some(&ChallengeNameType::NewPasswordRequired));
    assert_eq!(out.challenge_parameters().unwrap()["USER_ID_FOR_SRP"], "kim");
    let tokens = c
        .admin_respond_to_auth_challenge()
        .user_pool_id(&pool)
        .client_id(&client_id)
        .challenge_name(ChallengeNameType::NewPasswordRequired)
        .session(out.session().unwrap())
        .challenge_responses("USERNAME", "kim")
        .challenge_responses("NEW_PASSWORD", PASSWORD)
        .send()
        .await
        .unwrap();
    assert!(tokens.authentication_result().and_then(|r| r.access_token()).is_some());
    assert_eq!(status(env, &pool, "kim").await.0, UserStatusType::Confirmed);
    env.admin_sign_in(&pool, &client_id, "kim").await;
});

on_both_stores!(challenge_sessions_are_single_use_and_expire, |env| {
    let pool = env.pool(|b| b).await;
    let (client_id, _) = env.app_client(&pool, &["ALLOW_USER_PASSWORD_AUTH"], false).await;
    let (other_client, _) = env.app_client(&pool, &["ALLOW_USER_PASSWORD_AUTH"], false).await;
    create_user(env, &pool, "lee", Some(TEMP), Some(MessageActionType::Suppress)).await.unwrap();
    let invalid = "NotAuthorizedException: Invalid session for the user.";

    let session = new_password_session(env, &client_id, "lee", TEMP).await;
    // Bad answers leave the session usable.
    let e = respond_new_password(env, &client_id, &session, "lee", "short", &[]).await.unwrap_err();
    assert_eq!(e, "InvalidPasswordException: Password did not conform with policy: Password not long enough");
    let e = env
        .client
        .respond_to_auth_challenge()
        .client_id(&client_id)
        .challenge_name(ChallengeNameType::NewPasswordRequired)
        .session(&session)
        .challenge_responses("USERNAME", "lee")
        .send()
        .await
        .map_err(err_name)
        .unwrap_err();
    assert_eq!(e, "InvalidParameterException: Missing required parameter NEW_PASSWORD");
    let e = env
        .client
        .respond_to_auth_challenge()
        .client_id(&client_id)
        .challenge_name(ChallengeNameType::SmsMfa)
        .session(&session)
        .challenge_responses("USERNAME", "lee")
        .challenge_responses("SMS_MFA_CODE", "123456")
        .send()
        .await
        .map_err(err_name)
        .unwrap_err();
    assert!(e.starts_with("InvalidParameterException: "), "{e}");
    // Another client, another user, a made-up session: all refused.
    let e = respond_new_password(env, &other_client, &session, "lee", PASSWORD, &[]).await.unwrap_err();
    assert_eq!(e, invalid);
    let e = respond_new_password(env, &client_id, &"x".repeat(40), "lee", PASSWORD, &[]).await.unwrap_err();
    assert_eq!(e, invalid);
    env.sign_up(&client_id, "mo").await.unwrap();
    let e = respond_new_password(env, &client_id, &session, "mo", PASSWORD, &[]).await.unwrap_err();
    assert_eq!(e, invalid);

    respond_new_password(env, &client_id, &session, "lee", PASSWORD, &[]).await.unwrap();
    let e = respond_new_password(env, &client_id, &session, "lee", "Other-Horse-9", &[]).await.unwrap_err();
    assert_eq!(e, invalid, "a session answers once");

    // Sessions live AuthSessionValidity minutes (3 by default).
    create_user(env, &pool, "lou", Some(TEMP), Some(MessageActionType::Suppress)).await.unwrap();
    let session = new_password_session(env, &client_id, "lou", TEMP).await;
    env.clock.advance_secs(3 * 60 + 1);
    let e = respond_new_password(env, &client_id, &session, "lou", PASSWORD, &[]).await.unwrap_err();
    assert_eq!(e, invalid);
    assert_eq!(status(env, &pool, "lou").await.0, UserStatusType::ForceChangePassword);

    let longer = env
        .client
        .create_user_pool_client()
        .user_pool_id(&pool)
        .client_name("longer")
        .explicit_auth_flows(cip::types::ExplicitAuthFlowsType::AllowUserPasswordAuth)
        .auth_session_validity(10)
        .send()
        .await
        .unwrap();
    let longer = longer.user_pool_client().unwrap().client_id().unwrap().to_string();
    let session = new_password_session(env, &longer, "lou", TEMP).await;
    env.clock.advance_secs(9 * 60);
    respond_new_password(env, &longer, &session, "lou", PASSWORD, &[]).await.unwrap();
});

on_both_stores!(new_password_challenge_collects_required_attributes, |env| {
    let pool = env
        .pool(|b| {
            b.schema(
                cip::types::SchemaAttributeType::builder()
                    .name("name")
                    .attribute_data_type(cip::types::AttributeDataType::String)
                    .required(true)
                    .mutable(true)
                    .build(),
            )
        })
        .await;
    let (client_id, _) = env.app_client(&pool, &["ALLOW_USER_PASSWORD_AUTH"], false).await;
    // Required attributes may be left to the user.
    create_user(env, &pool, "nia", Some(TEMP), Some(MessageActionType::Suppress)).await.unwrap();
    let out = start_sign_in(env, &client_id, "nia", TEMP).await.unwrap();
    assert_eq!(out.challenge_parameters().unwrap()["requiredAttributes"], r#"["userAttributes.name"]"#);
    let session = out.session().unwrap().to_string();
    let e = respond_new_password(env, &client_id, &session, "nia", PASSWORD, &[]).await.unwrap_err();
    assert_eq!(e, "InvalidParameterException: Invalid attributes given, name is missing");
    let e = respond_new_password(env, &client_id, &session, "nia", PASSWORD, &[("userAttributes.nope", "x")])
        .await
        .unwrap_err();
    assert!(e.starts_with("InvalidParameterException: Attributes did not conform to the schema"), "{e}");
    respond_new_password(env, &client_id, &session, "nia", PASSWORD, &[("userAttributes.name", "Nia Long")])
        .await
        .unwrap();
    let u = env.client.admin_get_user().user_pool_id(&pool).username("nia").send().await.unwrap();
    let name = u.user_attributes().iter().find(|a| a.name() == "name").and_then(|a| a.value());
    assert_eq!(name, Some("Nia Long"));
});

on_both_stores!(invitation_follows_the_template_and_suppress_sends_nothing, |env| {
    let template = |body: &str| {
        AdminCreateUserConfigType::builder()
            .invite_message_template(
                MessageTemplateType::builder()
                    .email_subject("Welcome aboard")
                    .email_message(body)
                    .sms_message("{username}: {####}")
                    .build(),
            )
            .build()
    };
    let pool =
        env.pool(|b| b.admin_create_user_config(template("Hello {username}, use {####} to sign in."))).await;
    create_user(env, &pool, "pat@example.com", Some(TEMP), None).await.unwrap();
    let sent = env.messages_to("pat@example.com");
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].subject.as_deref(), Some("Welcome aboard"));
    assert_eq!(sent[0].body, format!("Hello pat@example.com, use {TEMP} to sign in."));
    assert_eq!(sent[0].channel, "EMAIL");

    create_user(env, &pool, "quiet@example.com", Some(TEMP), Some(MessageActionType::Suppress))
        .await
        .unwrap();
    assert!(env.messages_to("quiet@example.com").is_empty());

    // SMS goes to the phone number, and needs one.
    let out = env
        .client
        .admin_create_user()
        .user_pool_id(&pool)
        .username("rae")
        .temporary_password(TEMP)
        .user_attributes(attr("phone_number", "+15555550123"))
        .desired_delivery_mediums(DeliveryMediumType::Sms)
        .send()
        .await;
    assert!(out.is_ok(), "{out:?}");
    let sms = env.messages_to("+15555550123");
    assert_eq!(sms.len(), 1);
    assert_eq!((sms[0].channel.as_str(), sms[0].body.as_str()), ("SMS", "rae: Temporary-Horse-7"));
    let e = env
        .client
        .admin_create_user()
        .user_pool_id(&pool)
        .username("sam")
        .desired_delivery_mediums(DeliveryMediumType::Sms)
        .send()
        .await
        .map_err(err_name)
        .unwrap_err();
    assert!(
        e.starts_with("InvalidParameterException: User has no attribute matching desired delivery mediums"),
        "{e}"
    );

    // A template without the password placeholder is not delivered.
    let silent = env.pool(|b| b.admin_create_user_config(template("Welcome, {username}!"))).await;
    create_user(env, &silent, "tia@example.com", Some(TEMP), None).await.unwrap();
    assert!(env.messages_to("tia@example.com").is_empty());
});

on_both_stores!(resend_only_while_the_password_is_temporary, |env| {
    let pool = env.pool(|b| b).await;
    let (client_id, _) = env.app_client(&pool, &["ALLOW_USER_PASSWORD_AUTH"], false).await;
    create_user(env, &pool, "uma@example.com", None, None).await.unwrap();
    let first = env.last_code("uma@example.com");
    let resent =
        create_user(env, &pool, "uma@example.com", None, Some(MessageActionType::Resend)).await.unwrap();
    assert_eq!(resent.user_status(), Some(&UserStatusType::ForceChangePassword));
    let sent = env.messages_to("uma@example.com");
    assert_eq!(sent.len(), 2);
    let second = env.last_code("uma@example.com");
    assert_ne!(first, second);
    let e = start_sign_in(env, &client_id, "uma@example.com", &first).await.unwrap_err();
    assert_eq!(e, "NotAuthorizedException: Incorrect username or password.", "the old one stops working");
    let session = new_password_session(env, &client_id, "uma@example.com", &second).await;
    respond_new_password(env, &client_id, &session, "uma@example.com", PASSWORD, &[]).await.unwrap();

    let e =
        create_user(env, &pool, "uma@example.com", None, Some(MessageActionType::Resend)).await.unwrap_err();
    assert!(e.starts_with("UnsupportedUserStateException: "), "{e}");
    let e = create_user(env, &pool, "nobody@example.com", None, Some(MessageActionType::Resend))
        .await
        .unwrap_err();
    assert_eq!(e, "UserNotFoundException: User does not exist.");
});

on_both_stores!(admin_create_user_errors, |env| {
    let pool = env.pool(|b| b).await;
    create_user(env, &pool, "vic", Some(TEMP), Some(MessageActionType::Suppress)).await.unwrap();
    let e = create_user(env, &pool, "vic", Some(TEMP), Some(MessageActionType::Suppress)).await.unwrap_err();
    assert_eq!(e, "UsernameExistsException: User account already exists");
    let e = create_user(env, &pool, "wes", Some("weakpass"), None).await.unwrap_err();
    assert_eq!(e, "InvalidPasswordException: Password did not conform with policy: Password must have uppercase characters");
    let e = env
        .client
        .admin_create_user()
        .user_pool_id(&pool)
        .username("xan")
        .user_attributes(attr("email_verified", "true"))
        .send()
        .await
        .map_err(err_name)
        .unwrap_err();
    assert!(e.starts_with("InvalidParameterException: You must provide a value for email"), "{e}");

    let email_pool = env.email_pool().await;
    let e = create_user(env, &email_pool, "yan", Some(TEMP), None).await.unwrap_err();
    assert_eq!(e, "InvalidParameterException: Username should be an email.");
    create_user(env, &email_pool, "zoe@example.com", Some(TEMP), None).await.unwrap();
    let e = create_user(env, &email_pool, "zoe@example.com", Some(TEMP), None).await.unwrap_err();
    assert_eq!(e, "UsernameExistsException: An account with the given email already exists.");
    let e = env
        .client
        .admin_create_user()
        .user_pool_id("us-east-1_Nope12345")
        .username("a")
        .send()
        .await
        .map_err(err_name)
        .unwrap_err();
    assert!(e.starts_with("ResourceNotFoundException: "), "{e}");
});

on_both_stores!(temporary_passwords_expire, |env| {
    let pool = env
        .pool(|b| {
            b.policies(
                cip::types::UserPoolPolicyType::builder()
                    .password_policy(
                        cip::types::PasswordPolicyType::builder()
                            .minimum_length(8)
                            .require_uppercase(true)
                            .require_lowercase(true)
                            .require_numbers(true)
                            .temporary_password_validity_days(2)
                            .build(),
                    )
                    .build(),
            )
        })
        .await;
    let (client_id, _) = env.app_client(&pool, &["ALLOW_USER_PASSWORD_AUTH"], false).await;
    create_user(env, &pool, "ada", Some(TEMP), Some(MessageActionType::Suppress)).await.unwrap();
    env.clock.advance_secs(86_400);
    new_password_session(env, &client_id, "ada", TEMP).await;
    env.clock.advance_secs(86_400 + 1);
    let e = start_sign_in(env, &client_id, "ada", TEMP).await.unwrap_err();
    assert_eq!(
        e,
        "NotAuthorizedException: Temporary password has expired and must be reset by an administrator."
    );
    let e = start_sign_in(env, &client_id, "ada", "Wrong-Horse-9").await.unwrap_err();
    assert_eq!(e, "NotAuthorizedException: Incorrect username or password.");
    // RESEND starts a new validity period.
    create_user(env, &pool, "ada", Some(TEMP), Some(MessageActionType::Resend)).await.unwrap();
    let session = new_password_session(env, &client_id, "ada", TEMP).await;
    respond_new_password(env, &client_id, &session, "ada", PASSWORD, &[]).await.unwrap();
    // A permanent password never expires.
    env.clock.advance_secs(30 * 86_400);
    env.password_sign_in(&client_id, "ada", PASSWORD).await.unwrap();

    // The legacy UnusedAccountValidityDays applies when the policy does not set a validity.
    let legacy = env
        .pool(|b| {
            b.admin_create_user_config(
                AdminCreateUserConfigType::builder().unused_account_validity_days(1).build(),
            )
        })
        .await;
    let (legacy_client, _) = env.app_client(&legacy, &["ALLOW_USER_PASSWORD_AUTH"], false).await;
    create_user(env, &legacy, "bo", Some(TEMP), Some(MessageActionType::Suppress)).await.unwrap();
    env.clock.advance_secs(86_400 + 1);
    let e = start_sign_in(env, &legacy_client, "bo", TEMP).await.unwrap_err();
    assert_eq!(
        e,
        "NotAuthorizedException: Temporary password has expired and must be reset by an administrator."
    );
});

on_both_stores!(disabled_users_cannot_sign_in_or_refresh, |env| {
    let c = &env.client;
    let pool = env.email_pool().await;
    let (client_id, _) =
        env.app_client(&pool, &["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"], false).await;
    env.confirmed_user(&client_id, "cy@example.com").await;
    let tokens = env.password_sign_in(&client_id, "cy@example.com", PASSWORD).await.unwrap();
    c.admin_disable_user().user_pool_id(&pool).username("cy@example.com").send().await.unwrap();
    assert_eq!(status(env, &pool, "cy@example.com").await, (UserStatusType::Confirmed, false));
    let e = env.password_sign_in(&client_id, "cy@example.com", PASSWORD).await.unwrap_err();
    assert_eq!(e, "NotAuthorizedException: User is disabled.");
    let e = env.refresh(&client_id, tokens.refresh_token().unwrap()).await.unwrap_err();
    assert_eq!(e, "NotAuthorizedException: User is disabled.");
    let e =
        c.get_user().access_token(tokens.access_token().unwrap()).send().await.map_err(err_name).unwrap_err();
    assert!(e.starts_with("NotAuthorizedException: "), "{e}");

    c.admin_enable_user().user_pool_id(&pool).username("cy@example.com").send().await.unwrap();
    assert_eq!(status(env, &pool, "cy@example.com").await, (UserStatusType::Confirmed, true));
    let fresh = env.password_sign_in(&client_id, "cy@example.com", PASSWORD).await.unwrap();
    env.refresh(&client_id, fresh.refresh_token().unwrap()).await.unwrap();
    // Disabling revoked what the user held before.
    let e = env.refresh(&client_id, tokens.refresh_token().unwrap()).await.unwrap_err();
    assert_eq!(e, "NotAuthorizedException: Refresh Token has been revoked");
    let e = c.admin_disable_user().user_pool_id(&pool).username("nobody@example.com").send().await;
    assert_eq!(e.map_err(err_name).unwrap_err(), "UserNotFoundException: User does not exist.");
});

on_both_stores!(delete_user_removes_the_caller, |env| {
    let c = &env.client;
    let pool = env.email_pool().await;
    let (client_id, _) = env.app_client(&pool, &["ALLOW_USER_PASSWORD_AUTH"], false).await;
    env.confirmed_user(&client_id, "dee@example.com").await;
    let tokens = env.password_sign_in(&client_id, "dee@example.com", PASSWORD).await.unwrap();
    c.delete_user().access_token(tokens.access_token().unwrap()).send().await.unwrap();
    let e = c.admin_get_user().user_pool_id(&pool).username("dee@example.com").send().await;
    assert_eq!(e.map_err(err_name).unwrap_err(), "UserNotFoundException: User does not exist.");
    let e = c
        .delete_user()
        .access_token(tokens.access_token().unwrap())
        .send()
        .await
        .map_err(err_name)
        .unwrap_err();
    assert!(e.starts_with("NotAuthorizedException: ") || e.starts_with("UserNotFoundException: "), "{e}");
    // The name is free again.
    env.confirmed_user(&client_id, "dee@example.com").await;
});

on_both_stores!(challenge_responses_need_the_secret_hash, |env| {
    let pool = env.pool(|b| b).await;
    let (client_id, secret) = env.app_client(&pool, &["ALLOW_ADMIN_USER_PASSWORD_AUTH"], true).await;
    let secret = secret.unwrap();
    let hash = tessera_core::user_pool::access::secret_hash(&secret, "ola", &client_id);
    create_user(env, &pool, "ola", Some(TEMP), None).await.unwrap();
    let out = env
        .client
        .admin_initiate_auth()
        .user_pool_id(&pool)
        .client_id(&client_id)
        .auth_flow(AuthFlowType::AdminUserPasswordAuth)
        .auth_parameters("USERNAME", "ola")
        .auth_parameters("PASSWORD", TEMP)
        .auth_parameters("SECRET_HASH", &hash)
        .send()
        .await
        .unwrap();
    let session = out.session().unwrap();
    let respond = |secret_hash: Option<&str>| {
        let mut b = env
            .client
            .admin_respond_to_auth_challenge()
            .user_pool_id(&pool)
            .client_id(&client_id)
            .challenge_name(ChallengeNameType::NewPasswordRequired)
            .session(session)
            .challenge_responses("USERNAME", "ola")
            .challenge_responses("NEW_PASSWORD", PASSWORD);
        if let Some(h) = secret_hash {
            b = b.challenge_responses("SECRET_HASH", h);
        }
        b.send()
    };
    let e = respond(None).await.map_err(err_name).unwrap_err();
    assert!(e.contains("configured for secret but secret was not received"), "{e}");
    let e = respond(Some("bm90LXRoZS1oYXNo")).await.map_err(err_name).unwrap_err();
    assert!(e.starts_with("NotAuthorizedException: Unable to verify secret hash"), "{e}");
    respond(Some(&hash)).await.unwrap();
    assert_eq!(status(env, &pool, "ola").await.0, UserStatusType::Confirmed);
});

on_both_stores!(admin_verified_email_claims_the_alias, |env| {
    let c = &env.client;
    let pool = env.pool(|b| b.alias_attributes(cip::types::AliasAttributeType::Email)).await;
    let (client_id, _) = env.app_client(&pool, &["ALLOW_USER_PASSWORD_AUTH"], false).await;
    let create = |name: &'static str, force: bool| {
        c.admin_create_user()
            .user_pool_id(&pool)
            .username(name)
            .temporary_password(TEMP)
            .user_attributes(attr("email", "pia@example.com"))
            .user_attributes(attr("email_verified", "true"))
            .message_action(MessageActionType::Suppress)
            .force_alias_creation(force)
            .send()
    };
    create("pia", false).await.unwrap();
    // The verified email signs the user in as an alias.
    new_password_session(env, &client_id, "pia@example.com", TEMP).await;
    let e = create("pia2", false).await.map_err(err_name).unwrap_err();
    assert_eq!(e, "AliasExistsException: An account with the given email already exists.");
    create("pia2", true).await.unwrap();
    let old = c.admin_get_user().user_pool_id(&pool).username("pia").send().await.unwrap();
    let verified =
        old.user_attributes().iter().find(|a| a.name() == "email_verified").and_then(|a| a.value());
    assert_eq!(verified, Some("false"), "the alias moved");
    let out = start_sign_in(env, &client_id, "pia@example.com", TEMP).await.unwrap();
    assert_eq!(out.challenge_parameters().unwrap()["USER_ID_FOR_SRP"], "pia2");
});
