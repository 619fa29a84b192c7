//! Smaller findings of the security review (issue 14, finding 6), each as the attack.

use crate::common::*;
use crate::on_both_stores;
use aws_sdk_cognitoidentityprovider as cip;
use cip::types::AuthFlowType;

on_both_stores!(refresh_secret_hash_is_the_token_owners, |env| {
    let pool = env.pool(|b| b.alias_attributes(cip::types::AliasAttributeType::PreferredUsername)).await;
    let (client_id, secret) =
        env.app_client(&pool, &["ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"], true).await;
    let secret = secret.unwrap();
    let hash = |name: &str| tessera_core::user_pool::access::secret_hash(&secret, name, &client_id);
    env.admin_user(&pool, "alice", &[]).await;
    env.admin_user(&pool, "bob", &[]).await;
    env.client
        .admin_update_user_attributes()
        .user_pool_id(&pool)
        .username("alice")
        .user_attributes(attr("preferred_username", "ally"))
        .send()
        .await
        .unwrap();
    let tokens = env
        .client
        .admin_initiate_auth()
        .user_pool_id(&pool)
        .client_id(&client_id)
        .auth_flow(AuthFlowType::AdminUserPasswordAuth)
        .auth_parameters("USERNAME", "alice")
        .auth_parameters("PASSWORD", PASSWORD)
        .auth_parameters("SECRET_HASH", hash("alice"))
        .send()
        .await
        .unwrap();
    let refresh_token = tokens.authentication_result().unwrap().refresh_token().unwrap().to_string();
    let refresh = |username: &'static str, secret_hash: String| {
        env.client
            .initiate_auth()
            .client_id(&client_id)
            .auth_flow(AuthFlowType::RefreshTokenAuth)
            .auth_parameters("REFRESH_TOKEN", &refresh_token)
            .auth_parameters("USERNAME", username)
            .auth_parameters("SECRET_HASH", secret_hash)
            .send()
    };
    // Alice's stolen refresh token with Bob's SECRET_HASH (which Bob's app backend computes for
    // him) and Bob's name: refused (a25d902 accepted it).
    let e = refresh("bob", hash("bob")).await.map_err(err_name).unwrap_err();
    assert!(e.starts_with("NotAuthorizedException: Unable to verify secret hash"), "{e}");
    // Alice's own hash, by her username or by an alias of hers, works.
    refresh("alice", hash("alice")).await.unwrap();
    refresh("ally", hash("ally")).await.unwrap();
});

on_both_stores!(user_supplied_values_are_escaped_in_email_bodies, |env| {
    let pool = env
        .pool(|b| {
            b.auto_verified_attributes(cip::types::VerifiedAttributeType::Email)
                .verification_message_template(
                    cip::types::VerificationMessageTemplateType::builder()
                        .email_message("Hello {username}, your code is {####}")
                        .sms_message("Hello {username}, your code is {####}")
                        .build(),
                )
        })
        .await;
    let (client_id, _) = env.app_client(&pool, &[], false).await;
    let name = "<img/src=x/onerror=\"alert(1)\">{####}";
    env.client
        .sign_up()
        .client_id(&client_id)
        .username(name)
        .password(PASSWORD)
        .user_attributes(attr("email", "html@example.com"))
        .send()
        .await
        .unwrap();
    let sent = env.messages_to("html@example.com");
    let code = sent[0].code.clone().unwrap();
    assert_eq!(
        sent[0].body,
        format!("Hello &lt;img/src=x/onerror=&quot;alert(1)&quot;&gt;&#123;####&#125;, your code is {code}")
    );
    // AdminCreateUser's invitation too (the username and the temporary password).
    env.client
        .admin_create_user()
        .user_pool_id(&pool)
        .username("<i>bob</i>")
        .temporary_password("Temp<&>Pass-1")
        .user_attributes(attr("email", "bob-html@example.com"))
        .desired_delivery_mediums(cip::types::DeliveryMediumType::Email)
        .send()
        .await
        .unwrap();
    let invite = &env.messages_to("bob-html@example.com")[0];
    assert_eq!(
        invite.body,
        "Your username is &lt;i&gt;bob&lt;/i&gt; and temporary password is Temp&lt;&amp;&gt;Pass-1."
    );
});

/// Signs `user` in and returns (access token, refresh token).
async fn sessions(env: &TestEnv, client_id: &str, user: &str) -> (String, String) {
    let t = env.password_sign_in(client_id, user, PASSWORD).await.unwrap();
    (t.access_token().unwrap().to_string(), t.refresh_token().unwrap().to_string())
}

async fn session_alive(env: &TestEnv, client_id: &str, (access, refresh): &(String, String)) -> (bool, bool) {
    let got = env.client.get_user().access_token(access).send().await.is_ok();
    (got, env.refresh(client_id, refresh).await.is_ok())
}

async fn reset_by_code(env: &TestEnv, client_id: &str, user: &str) {
    env.client.forgot_password().client_id(client_id).username(user).send().await.unwrap();
    env.client
        .confirm_forgot_password()
        .client_id(client_id)
        .username(user)
        .confirmation_code(env.last_code(user))
        .password(PASSWORD)
        .send()
        .await
        .unwrap();
}

on_both_stores!(sessions_outlive_a_reset_by_default_as_in_cognito, |env| {
    let pool = env.email_pool().await;
    let (client_id, _) =
        env.app_client(&pool, &["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"], false).await;
    env.confirmed_user(&client_id, "keep@example.com").await;
    let s = sessions(env, &client_id, "keep@example.com").await;
    reset_by_code(env, &client_id, "keep@example.com").await;
    assert_eq!(session_alive(env, &client_id, &s).await, (true, true));
});

on_both_stores!(
    a_reset_ends_every_session_when_configured,
    config = |c| {
        c.sign_out_on_password_reset = true;
    },
    |env| {
        let pool = env.email_pool().await;
        let (client_id, _) =
            env.app_client(&pool, &["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"], false).await;
        let user = "stolen@example.com";
        env.confirmed_user(&client_id, user).await;
        // The thief's session, then the owner's reset by code.
        let thief = sessions(env, &client_id, user).await;
        env.clock.advance_secs(1);
        reset_by_code(env, &client_id, user).await;
        assert_eq!(session_alive(env, &client_id, &thief).await, (false, false));
        // A session begun after the reset works.
        env.clock.advance_secs(1);
        let fresh = sessions(env, &client_id, user).await;
        assert_eq!(session_alive(env, &client_id, &fresh).await, (true, true));
        // An administrator's AdminSetUserPassword ends it too.
        env.clock.advance_secs(1);
        env.client
            .admin_set_user_password()
            .user_pool_id(&pool)
            .username(user)
            .password("Other-Horse-77")
            .permanent(true)
            .send()
            .await
            .unwrap();
        assert_eq!(session_alive(env, &client_id, &fresh).await, (false, false));
    }
);
