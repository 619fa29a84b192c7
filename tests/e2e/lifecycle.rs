//! Rules that cut across operations: a deleted user's tokens, codes that stop proving anything
//! once the address changes, the challenge's attribute rules, existence hiding.

use crate::admin_users::{create_user, new_password_session, TEMP};
use crate::common::*;
use crate::on_both_stores;
use aws_sdk_cognitoidentityprovider as cip;
use cip::types::{ChallengeNameType, DeliveryMediumType, VerifiedAttributeType};

const FLOWS: &[&str] = &["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"];

async fn attribute(env: &TestEnv, pool: &str, username: &str, name: &str) -> Option<String> {
    let u = env.client.admin_get_user().user_pool_id(pool).username(username).send().await.unwrap();
    u.user_attributes().iter().find(|a| a.name() == name).and_then(|a| a.value()).map(str::to_string)
}

on_both_stores!(tokens_of_a_deleted_user_never_reach_a_new_user_of_that_name, |env| {
    let pool = env.pool(|b| b).await;
    let (client_id, _) = env.app_client(&pool, FLOWS, false).await;
    env.sign_up(&client_id, "bob").await.unwrap();
    env.client.admin_confirm_sign_up().user_pool_id(&pool).username("bob").send().await.unwrap();
    let old = env.password_sign_in(&client_id, "bob", PASSWORD).await.unwrap();
    env.client.admin_delete_user().user_pool_id(&pool).username("bob").send().await.unwrap();
    // Someone else gets the name.
    env.sign_up(&client_id, "bob").await.unwrap();
    env.client.admin_confirm_sign_up().user_pool_id(&pool).username("bob").send().await.unwrap();

    let e = env.refresh(&client_id, old.refresh_token().unwrap()).await.unwrap_err();
    assert_eq!(e, "NotAuthorizedException: Refresh Token has been revoked");
    let e = env.client.get_user().access_token(old.access_token().unwrap()).send().await.map_err(err_name);
    assert_eq!(e.unwrap_err(), "NotAuthorizedException: Access Token has been revoked");
    // The new bob's own tokens work.
    let new = env.password_sign_in(&client_id, "bob", PASSWORD).await.unwrap();
    env.client.get_user().access_token(new.access_token().unwrap()).send().await.unwrap();
});

on_both_stores!(new_password_challenge_cannot_bring_a_verified_email, |env| {
    let pool = env.pool(|b| b.auto_verified_attributes(VerifiedAttributeType::Email)).await;
    let (client_id, _) = env.app_client(&pool, FLOWS, false).await;
    let username =
        create_user(env, &pool, "carl", Some(TEMP), None).await.unwrap().username().unwrap().to_string();
    env.client
        .admin_update_user_attributes()
        .user_pool_id(&pool)
        .username(&username)
        .user_attributes(attr("email", "carl@example.com"))
        .user_attributes(attr("email_verified", "true"))
        .send()
        .await
        .unwrap();
    let session = new_password_session(env, &client_id, &username, TEMP).await;
    // Answering the challenge with someone else's address: it is taken unverified, and a code
    // goes to it; the alias and the verified flag stay with nobody until it is verified.
    let out = env
        .client
        .respond_to_auth_challenge()
        .client_id(&client_id)
        .challenge_name(ChallengeNameType::NewPasswordRequired)
        .session(session)
        .challenge_responses("USERNAME", &username)
        .challenge_responses("NEW_PASSWORD", PASSWORD)
        .challenge_responses("userAttributes.email", "victim@example.com")
        .send()
        .await
        .unwrap();
    assert!(out.authentication_result().is_some());
    assert_eq!(attribute(env, &pool, &username, "email").await.as_deref(), Some("victim@example.com"));
    assert_eq!(attribute(env, &pool, &username, "email_verified").await.as_deref(), Some("false"));
    assert_eq!(env.messages_to("victim@example.com").len(), 1, "a verification code went to the new address");
});

on_both_stores!(a_sign_up_code_stops_working_when_the_address_changes, |env| {
    let pool = env.pool(|b| b.auto_verified_attributes(VerifiedAttributeType::Email)).await;
    let (client_id, _) = env.app_client(&pool, FLOWS, false).await;
    env.client
        .sign_up()
        .client_id(&client_id)
        .username("dora")
        .password(PASSWORD)
        .user_attributes(attr("email", "dora@example.com"))
        .send()
        .await
        .unwrap();
    let code = env.last_code("dora@example.com");
    env.client
        .admin_update_user_attributes()
        .user_pool_id(&pool)
        .username("dora")
        .user_attributes(attr("email", "other@example.com"))
        .send()
        .await
        .unwrap();
    let e = env.confirm(&client_id, "dora", &code).await.unwrap_err();
    assert_eq!(e, "CodeMismatchException: Invalid verification code provided, please try again.");
    assert_eq!(attribute(env, &pool, "dora", "email_verified").await.as_deref(), Some("false"));
});

on_both_stores!(sign_up_codes_go_to_the_phone_when_both_are_verified, |env| {
    let pool = env
        .pool(|b| {
            b.auto_verified_attributes(VerifiedAttributeType::Email)
                .auto_verified_attributes(VerifiedAttributeType::PhoneNumber)
        })
        .await;
    let (client_id, _) = env.app_client(&pool, FLOWS, false).await;
    let out = env
        .client
        .sign_up()
        .client_id(&client_id)
        .username("eve")
        .password(PASSWORD)
        .user_attributes(attr("email", "eve@example.com"))
        .user_attributes(attr("phone_number", "+15555550123"))
        .send()
        .await
        .unwrap();
    let details = out.code_delivery_details().unwrap();
    assert_eq!(details.delivery_medium(), Some(&DeliveryMediumType::Sms));
    assert_eq!(details.attribute_name(), Some("phone_number"));
    assert!(env.messages_to("eve@example.com").is_empty());
    env.confirm(&client_id, "eve", &env.last_code("+15555550123")).await.unwrap();
    assert_eq!(attribute(env, &pool, "eve", "phone_number_verified").await.as_deref(), Some("true"));
    assert_eq!(attribute(env, &pool, "eve", "email_verified").await, None);
});

on_both_stores!(confirm_forgot_password_answers_alike_for_unknown_users, |env| {
    let pool = env.pool(|b| b.auto_verified_attributes(VerifiedAttributeType::Email)).await;
    let client_id = env
        .client
        .create_user_pool_client()
        .user_pool_id(&pool)
        .client_name("app")
        .prevent_user_existence_errors(cip::types::PreventUserExistenceErrorTypes::Enabled)
        .send()
        .await
        .unwrap()
        .user_pool_client()
        .unwrap()
        .client_id()
        .unwrap()
        .to_string();
    env.sign_up(&client_id, "fay").await.unwrap();
    let confirm = |user: &'static str, password: &'static str| {
        env.client
            .confirm_forgot_password()
            .client_id(&client_id)
            .username(user)
            .confirmation_code("123456")
            .password(password)
            .send()
    };
    // A weak password is refused the same way whether or not the user exists…
    let known = confirm("fay", "weak").await.map_err(err_name).unwrap_err();
    let unknown = confirm("nobody", "weak").await.map_err(err_name).unwrap_err();
    assert!(known.starts_with("InvalidPasswordException: "), "{known}");
    assert_eq!(known, unknown);
    // …and so is a wrong code.
    let known = confirm("fay", PASSWORD).await.map_err(err_name).unwrap_err();
    let unknown = confirm("nobody", PASSWORD).await.map_err(err_name).unwrap_err();
    assert_eq!(known, "CodeMismatchException: Invalid verification code provided, please try again.");
    assert_eq!(known, unknown);
});
