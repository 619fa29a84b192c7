//! ForgotPassword / ConfirmForgotPassword, ChangePassword, AdminSetUserPassword,
//! AdminResetUserPassword, lockout after failed sign-ins, PreventUserExistenceErrors.

use crate::admin_users::{create_user, new_password_session, respond_new_password, status, TEMP};
use crate::common::*;
use crate::on_both_stores;
use aws_sdk_cognitoidentityprovider as cip;
use cip::types::{MessageActionType, UserStatusType};

const NEW: &str = "Better-Horse-42";

async fn forgot(
    env: &TestEnv,
    client_id: &str,
    username: &str,
) -> Result<cip::types::CodeDeliveryDetailsType, String> {
    env.client
        .forgot_password()
        .client_id(client_id)
        .username(username)
        .send()
        .await
        .map_err(err_name)
        .map(|o| o.code_delivery_details().cloned().expect("delivery"))
}

async fn confirm_forgot(
    env: &TestEnv,
    client_id: &str,
    username: &str,
    code: &str,
    password: &str,
) -> Result<(), String> {
    env.client
        .confirm_forgot_password()
        .client_id(client_id)
        .username(username)
        .confirmation_code(code)
        .password(password)
        .send()
        .await
        .map(|_| ())
        .map_err(err_name)
}

/// A code that is not `code`.
fn other_code(code: &str) -> String {
    if code == "000000" {
        "111111".into()
    } else {
        "000000".into()
    }
}

on_both_stores!(forgot_password_resets_with_the_emailed_code, |env| {
    let pool = env.email_pool().await;
    let (client_id, _) = env.app_client(&pool, &["ALLOW_USER_PASSWORD_AUTH"], false).await;
    env.confirmed_user(&client_id, "eve@example.com").await;
    let details = forgot(env, &client_id, "eve@example.com").await.unwrap();
    assert_eq!(details.destination(), Some("e***@e***"));
    assert_eq!(details.delivery_medium(), Some(&cip::types::DeliveryMediumType::Email));
    assert_eq!(details.attribute_name(), Some("email"));
    let sent = env.messages_to("eve@example.com");
    assert_eq!(sent.len(), 2, "sign-up code, then the reset code");
    let code = env.last_code("eve@example.com");
    assert_eq!(sent[1].body, format!("Your verification code is {code}. "));

    // A wrong code changes nothing: the old password still works.
    let e = confirm_forgot(env, &client_id, "eve@example.com", &other_code(&code), NEW).await.unwrap_err();
    assert_eq!(e, "CodeMismatchException: Invalid verification code provided, please try again.");
    env.password_sign_in(&client_id, "eve@example.com", PASSWORD).await.unwrap();
    // A password the policy refuses does not use up the code.
    let e = confirm_forgot(env, &client_id, "eve@example.com", &code, "weak").await.unwrap_err();
    assert_eq!(e, "InvalidPasswordException: Password did not conform with policy: Password not long enough");

    confirm_forgot(env, &client_id, "eve@example.com", &code, NEW).await.unwrap();
    env.password_sign_in(&client_id, "eve@example.com", NEW).await.unwrap();
    let e = env.password_sign_in(&client_id, "eve@example.com", PASSWORD).await.unwrap_err();
    assert_eq!(e, "NotAuthorizedException: Incorrect username or password.");
    let e = confirm_forgot(env, &client_id, "eve@example.com", &code, PASSWORD).await.unwrap_err();
    assert!(e.starts_with("CodeMismatchException: "), "codes are single use: {e}");

    // Codes live one hour.
    forgot(env, &client_id, "eve@example.com").await.unwrap();
    let code = env.last_code("eve@example.com");
    env.clock.advance_secs(3601);
    let e = confirm_forgot(env, &client_id, "eve@example.com", &code, PASSWORD).await.unwrap_err();
    assert_eq!(e, "ExpiredCodeException: Invalid code provided, please request a code again.");
    env.password_sign_in(&client_id, "eve@example.com", NEW).await.unwrap();
});

on_both_stores!(forgot_password_needs_a_verified_channel_and_a_resettable_user, |env| {
    let c = &env.client;
    let pool = env.email_pool().await;
    let (client_id, _) = env.app_client(&pool, &["ALLOW_USER_PASSWORD_AUTH"], false).await;
    // Confirmed by an administrator: the email was never verified.
    env.client
        .sign_up()
        .client_id(&client_id)
        .username("fay@example.com")
        .password(PASSWORD)
        .send()
        .await
        .unwrap();
    c.admin_confirm_sign_up().user_pool_id(&pool).username("fay@example.com").send().await.unwrap();
    let e = forgot(env, &client_id, "fay@example.com").await.unwrap_err();
    assert_eq!(
        e,
        "InvalidParameterException: Cannot reset password for the user as there is no registered/verified email or phone_number"
    );
    // An invited user still on the temporary password cannot use it.
    create_user(env, &pool, "gil@example.com", Some(TEMP), Some(MessageActionType::Suppress)).await.unwrap();
    let e = forgot(env, &client_id, "gil@example.com").await.unwrap_err();
    assert_eq!(e, "NotAuthorizedException: User password cannot be reset in the current state.");
    // Disabled users cannot.
    env.confirmed_user(&client_id, "hal@example.com").await;
    c.admin_disable_user().user_pool_id(&pool).username("hal@example.com").send().await.unwrap();
    let e = forgot(env, &client_id, "hal@example.com").await.unwrap_err();
    assert_eq!(e, "NotAuthorizedException: User is disabled.");
    // Unknown users, by default, are named as such.
    let e = forgot(env, &client_id, "nobody@example.com").await.unwrap_err();
    assert_eq!(e, "UserNotFoundException: Username/client id combination not found.");
    // A secret client needs its SECRET_HASH.
    let (secret_client, _) = env.app_client(&pool, &["ALLOW_USER_PASSWORD_AUTH"], true).await;
    let e = forgot(env, &secret_client, "hal@example.com").await.unwrap_err();
    assert!(e.contains("configured for secret but secret was not received"), "{e}");
});

on_both_stores!(change_password_needs_the_previous_one, |env| {
    let c = &env.client;
    let pool = env.email_pool().await;
    let (client_id, _) = env.app_client(&pool, &["ALLOW_USER_PASSWORD_AUTH"], false).await;
    env.confirmed_user(&client_id, "ian@example.com").await;
    let tokens = env.password_sign_in(&client_id, "ian@example.com", PASSWORD).await.unwrap();
    let access = tokens.access_token().unwrap();
    let change = |previous: &'static str, proposed: &'static str| {
        c.change_password()
            .access_token(access)
            .previous_password(previous)
            .proposed_password(proposed)
            .send()
    };
    let e = change("Wrong-Horse-9", NEW).await.map_err(err_name).unwrap_err();
    assert_eq!(e, "NotAuthorizedException: Incorrect username or password.");
    let e = change(PASSWORD, "nouppercase1!").await.map_err(err_name).unwrap_err();
    assert_eq!(e, "InvalidPasswordException: Password did not conform with policy: Password must have uppercase characters");
    env.password_sign_in(&client_id, "ian@example.com", PASSWORD).await.unwrap();
    change(PASSWORD, NEW).await.unwrap();
    env.password_sign_in(&client_id, "ian@example.com", NEW).await.unwrap();
    let e = env.password_sign_in(&client_id, "ian@example.com", PASSWORD).await.unwrap_err();
    assert_eq!(e, "NotAuthorizedException: Incorrect username or password.");
    // Existing sessions stay signed in.
    c.get_user().access_token(access).send().await.unwrap();
    // Wrong previous passwords count toward the lockout (the eighth locks for 8 s, long enough
    // to observe on a slow store). A successful sign-in first clears the earlier failure.
    env.password_sign_in(&client_id, "ian@example.com", NEW).await.unwrap();
    for n in 1..=8 {
        let e = change("Wrong-Horse-9", PASSWORD).await.map_err(err_name).unwrap_err();
        assert_eq!(e, "NotAuthorizedException: Incorrect username or password.");
        if (5..8).contains(&n) {
            env.clock.advance_secs(1 << (n - 4));
        }
    }
    let e = change(NEW, PASSWORD).await.map_err(err_name).unwrap_err();
    assert_eq!(e, "LimitExceededException: Attempt limit exceeded, please try after some time.");
    let e = env.password_sign_in(&client_id, "ian@example.com", NEW).await.unwrap_err();
    assert_eq!(e, "NotAuthorizedException: Password attempts exceeded");
    env.clock.advance_secs(9);
    change(NEW, PASSWORD).await.unwrap();
    let e = c
        .change_password()
        .access_token("not-a-token")
        .previous_password(NEW)
        .proposed_password(PASSWORD)
        .send()
        .await;
    assert_eq!(e.map_err(err_name).unwrap_err(), "NotAuthorizedException: Invalid Access Token");
});

on_both_stores!(admin_set_user_password_permanent_or_temporary, |env| {
    let c = &env.client;
    let pool = env.pool(|b| b).await;
    let (client_id, _) = env.app_client(&pool, &["ALLOW_USER_PASSWORD_AUTH"], false).await;
    env.sign_up(&client_id, "jo").await.unwrap();
    let set = |password: &'static str, permanent: bool| {
        c.admin_set_user_password()
            .user_pool_id(&pool)
            .username("jo")
            .password(password)
            .permanent(permanent)
            .send()
    };
    let e = set("short", true).await.map_err(err_name).unwrap_err();
    assert_eq!(e, "InvalidPasswordException: Password did not conform with policy: Password not long enough");
    set(NEW, true).await.unwrap();
    assert_eq!(status(env, &pool, "jo").await.0, UserStatusType::Confirmed, "permanent confirms");
    env.password_sign_in(&client_id, "jo", NEW).await.unwrap();

    set(TEMP, false).await.unwrap();
    assert_eq!(status(env, &pool, "jo").await.0, UserStatusType::ForceChangePassword);
    let e = env.password_sign_in(&client_id, "jo", NEW).await.unwrap_err();
    assert_eq!(e, "NotAuthorizedException: Incorrect username or password.");
    let session = new_password_session(env, &client_id, "jo", TEMP).await;
    respond_new_password(env, &client_id, &session, "jo", PASSWORD, &[]).await.unwrap();
    assert_eq!(status(env, &pool, "jo").await.0, UserStatusType::Confirmed);
    let e = c
        .admin_set_user_password()
        .user_pool_id(&pool)
        .username("nobody")
        .password(NEW)
        .permanent(true)
        .send()
        .await;
    assert_eq!(e.map_err(err_name).unwrap_err(), "UserNotFoundException: User does not exist.");
});

on_both_stores!(admin_reset_requires_a_reset_by_code, |env| {
    let c = &env.client;
    let pool = env.email_pool().await;
    let (client_id, _) = env.app_client(&pool, &["ALLOW_USER_PASSWORD_AUTH"], false).await;
    env.confirmed_user(&client_id, "kai@example.com").await;
    let before = env.messages_to("kai@example.com").len();
    c.admin_reset_user_password().user_pool_id(&pool).username("kai@example.com").send().await.unwrap();
    assert_eq!(status(env, &pool, "kai@example.com").await.0, UserStatusType::ResetRequired);
    assert_eq!(env.messages_to("kai@example.com").len(), before + 1, "a code goes out at once");
    let code = env.last_code("kai@example.com");
    let e = env.password_sign_in(&client_id, "kai@example.com", PASSWORD).await.unwrap_err();
    assert_eq!(e, "PasswordResetRequiredException: Password reset required for the user");
    let e = env.password_sign_in(&client_id, "kai@example.com", "Wrong-Horse-9").await.unwrap_err();
    assert_eq!(e, "NotAuthorizedException: Incorrect username or password.");
    confirm_forgot(env, &client_id, "kai@example.com", &code, NEW).await.unwrap();
    assert_eq!(status(env, &pool, "kai@example.com").await.0, UserStatusType::Confirmed);
    env.password_sign_in(&client_id, "kai@example.com", NEW).await.unwrap();

    // A user in RESET_REQUIRED may ask for a new code with ForgotPassword.
    c.admin_reset_user_password().user_pool_id(&pool).username("kai@example.com").send().await.unwrap();
    forgot(env, &client_id, "kai@example.com").await.unwrap();
    let code = env.last_code("kai@example.com");
    confirm_forgot(env, &client_id, "kai@example.com", &code, PASSWORD).await.unwrap();
    env.password_sign_in(&client_id, "kai@example.com", PASSWORD).await.unwrap();

    // No verified channel, no reset.
    env.sign_up(&client_id, "lia@example.com").await.unwrap();
    c.admin_confirm_sign_up().user_pool_id(&pool).username("lia@example.com").send().await.unwrap();
    let e = c.admin_reset_user_password().user_pool_id(&pool).username("lia@example.com").send().await;
    assert_eq!(
        e.map_err(err_name).unwrap_err(),
        "InvalidParameterException: Cannot reset password for the user as there is no registered/verified email or phone_number"
    );
    assert_eq!(status(env, &pool, "lia@example.com").await.0, UserStatusType::Confirmed);
});

on_both_stores!(repeated_failures_lock_sign_in_for_a_while, |env| {
    let pool = env.email_pool().await;
    let (client_id, _) = env.app_client(&pool, &["ALLOW_USER_PASSWORD_AUTH"], false).await;
    env.confirmed_user(&client_id, "max@example.com").await;
    let wrong = |n: usize| wrong_passwords(env, &client_id, "max@example.com", n);
    let exceeded = "NotAuthorizedException: Password attempts exceeded";
    // Four failures, then success: the count starts over.
    wrong(4).await;
    env.password_sign_in(&client_id, "max@example.com", PASSWORD).await.unwrap();
    // From the fifth failure on, each locks for 1 s, then 2 s, 4 s, 8 s, …
    wrong(4).await;
    for lock in [1, 2, 4] {
        wrong(1).await;
        env.clock.advance_secs(lock + 1);
    }
    wrong(1).await;
    // Locked for 8 s: even the right password is refused, and wrong ones are not counted.
    let e = env.password_sign_in(&client_id, "max@example.com", PASSWORD).await.unwrap_err();
    assert_eq!(e, exceeded);
    env.clock.advance_secs(5);
    let e = env.password_sign_in(&client_id, "max@example.com", "Wrong-Horse-9").await.unwrap_err();
    assert_eq!(e, exceeded);
    let e = env.password_sign_in(&client_id, "max@example.com", PASSWORD).await.unwrap_err();
    assert_eq!(e, exceeded);
    env.clock.advance_secs(4);
    env.password_sign_in(&client_id, "max@example.com", PASSWORD).await.unwrap();
    // Success reset the count: four more failures do not lock.
    wrong(4).await;
    env.password_sign_in(&client_id, "max@example.com", PASSWORD).await.unwrap();
});

async fn wrong_passwords(env: &TestEnv, client_id: &str, username: &str, n: usize) {
    for _ in 0..n {
        let e = env.password_sign_in(client_id, username, "Wrong-Horse-9").await;
        assert_eq!(e.unwrap_err(), "NotAuthorizedException: Incorrect username or password.");
    }
}

on_both_stores!(prevent_user_existence_errors_hides_unknown_users, |env| {
    let c = &env.client;
    let pool = env.email_pool().await;
    let prevent = c
        .create_user_pool_client()
        .user_pool_id(&pool)
        .client_name("prevent")
        .explicit_auth_flows(cip::types::ExplicitAuthFlowsType::AllowUserPasswordAuth)
        .prevent_user_existence_errors(cip::types::PreventUserExistenceErrorTypes::Enabled)
        .send()
        .await
        .unwrap();
    let prevent = prevent.user_pool_client().unwrap().client_id().unwrap().to_string();
    let (legacy, _) = env.app_client(&pool, &["ALLOW_USER_PASSWORD_AUTH"], false).await;
    env.confirmed_user(&legacy, "ned@example.com").await;

    // ForgotPassword: the same shape for a real user and an unknown one.
    let real = forgot(env, &prevent, "ned@example.com").await.unwrap();
    let fake = forgot(env, &prevent, "nobody@example.com").await.unwrap();
    assert_eq!(real.delivery_medium(), fake.delivery_medium());
    assert_eq!(real.attribute_name(), fake.attribute_name());
    assert_eq!(fake.destination(), Some("n***@e***"));
    assert!(env.messages_to("nobody@example.com").is_empty());
    let e = forgot(env, &legacy, "nobody@example.com").await.unwrap_err();
    assert_eq!(e, "UserNotFoundException: Username/client id combination not found.");

    // ConfirmForgotPassword: a wrong code, as far as anyone can tell.
    let e = confirm_forgot(env, &prevent, "nobody@example.com", "123456", NEW).await.unwrap_err();
    assert_eq!(e, "CodeMismatchException: Invalid verification code provided, please try again.");
    let e = confirm_forgot(env, &legacy, "nobody@example.com", "123456", NEW).await.unwrap_err();
    assert_eq!(e, "UserNotFoundException: Username/client id combination not found.");

    // ConfirmSignUp and ResendConfirmationCode likewise.
    let e = env.confirm(&prevent, "nobody@example.com", "123456").await.unwrap_err();
    assert_eq!(e, "CodeMismatchException: Invalid verification code provided, please try again.");
    let e = env.confirm(&legacy, "nobody@example.com", "123456").await.unwrap_err();
    assert_eq!(e, "UserNotFoundException: User does not exist.");
    let out =
        c.resend_confirmation_code().client_id(&prevent).username("nobody@example.com").send().await.unwrap();
    assert_eq!(out.code_delivery_details().and_then(|d| d.destination()), Some("n***@e***"));
    let e = c.resend_confirmation_code().client_id(&legacy).username("nobody@example.com").send().await;
    assert_eq!(e.map_err(err_name).unwrap_err(), "UserNotFoundException: User does not exist.");

    // Sign-in, as before.
    let e = env.password_sign_in(&prevent, "nobody@example.com", PASSWORD).await.unwrap_err();
    assert_eq!(e, "NotAuthorizedException: Incorrect username or password.");
});
