//! SignUp, codes, confirmation, resend, admin confirm, admin get/delete.

use crate::common::*;
use crate::on_both_stores;
use aws_sdk_cognitoidentityprovider as cip;

on_both_stores!(sign_up_confirm_sign_in, |env| {
    let c = &env.client;
    let pool = env.email_pool().await;
    let (client_id, _) =
        env.app_client(&pool, &["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"], false).await;
    let email = "jane@example.com";
    let out = env.sign_up(&client_id, email).await.unwrap();
    assert!(!out.user_confirmed());
    let sub = out.user_sub().to_string();
    let details = out.code_delivery_details().unwrap();
    assert_eq!(details.destination(), Some("j***@e***"));
    assert_eq!(details.delivery_medium(), Some(&cip::types::DeliveryMediumType::Email));
    assert_eq!(details.attribute_name(), Some("email"));

    let msgs = env.messages_to(email);
    assert_eq!(msgs.len(), 1);
    let code = msgs[0].code.clone().unwrap();
    assert_eq!(code.len(), 6);
    assert!(code.chars().all(|ch| ch.is_ascii_digit()));
    assert!(msgs[0].body.contains(&code));
    assert_eq!(msgs[0].subject.as_deref(), Some("Your verification code"));

    let e = env.password_sign_in(&client_id, email, PASSWORD).await.unwrap_err();
    assert_eq!(e, "UserNotConfirmedException: User is not confirmed.");
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let e = env.confirm(&client_id, email, wrong).await.unwrap_err();
    assert_eq!(e, "CodeMismatchException: Invalid verification code provided, please try again.");
    c.confirm_sign_up().client_id(&client_id).username(email).confirmation_code(&code).send().await.unwrap();
    let e = env.confirm(&client_id, email, &code).await.unwrap_err();
    assert_eq!(
        e, "NotAuthorizedException: User cannot be confirmed. Current status is CONFIRMED",
        "single use"
    );

    // The internal username is the sub; email, sub and username all find the user.
    for id in [email, sub.as_str()] {
        let u = c.admin_get_user().user_pool_id(&pool).username(id).send().await.unwrap();
        assert_eq!(u.username(), sub);
        assert_eq!(u.user_status(), Some(&cip::types::UserStatusType::Confirmed));
        assert!(u.enabled());
        let attrs: Vec<(&str, &str)> =
            u.user_attributes().iter().map(|a| (a.name(), a.value().unwrap_or(""))).collect();
        assert!(attrs.contains(&("email", email)));
        assert!(attrs.contains(&("email_verified", "true")));
        assert!(attrs.contains(&("sub", sub.as_str())));
    }

    let tokens = env.password_sign_in(&client_id, email, PASSWORD).await.unwrap();
    let got = c.get_user().access_token(tokens.access_token().unwrap()).send().await.unwrap();
    assert_eq!(got.username(), sub);
    assert!(got.user_attributes().iter().any(|a| a.name() == "email" && a.value() == Some(email)));

    let e = env.sign_up(&client_id, email).await.unwrap_err();
    assert_eq!(e, "UsernameExistsException: An account with the given email already exists.");

    c.admin_delete_user().user_pool_id(&pool).username(email).send().await.unwrap();
    let e =
        c.admin_get_user().user_pool_id(&pool).username(email).send().await.map_err(err_name).unwrap_err();
    assert_eq!(e, "UserNotFoundException: User does not exist.");
    // The name is free again once the user is gone.
    env.sign_up(&client_id, email).await.unwrap();
});

on_both_stores!(sign_up_rules, |env| {
    let c = &env.client;
    let pool = env.email_pool().await;
    let (client_id, _) = env.app_client(&pool, &[], false).await;
    let e = env.sign_up(&client_id, "not-an-email").await.unwrap_err();
    assert_eq!(e, "InvalidParameterException: Username should be an email.");
    for (pw, rule) in [
        ("Short-1", "Password not long enough"),
        ("NOLOWER-123", "Password must have lowercase characters"),
        ("noupper-123", "Password must have uppercase characters"),
        ("No-Numbers-here", "Password must have numeric characters"),
        ("NoSymbols123", "Password must have symbol characters"),
    ] {
        let e = c
            .sign_up()
            .client_id(&client_id)
            .username("p@example.com")
            .password(pw)
            .send()
            .await
            .map_err(err_name)
            .unwrap_err();
        assert_eq!(e, format!("InvalidPasswordException: Password did not conform with policy: {rule}"));
    }
    let e = c
        .sign_up()
        .client_id(&client_id)
        .username("q@example.com")
        .password(PASSWORD)
        .user_attributes(attr("favourite_colour", "blue"))
        .send()
        .await
        .map_err(err_name)
        .unwrap_err();
    assert!(e.starts_with("InvalidParameterException: Attributes did not conform to the schema"), "{e}");
    let e = env.sign_up("nosuchclient0000000000000a", "q@example.com").await.unwrap_err();
    assert_eq!(e, "ResourceNotFoundException: User pool client nosuchclient0000000000000a does not exist.");
});

on_both_stores!(codes_expire_resend_and_lock, |env| {
    let c = &env.client;
    let pool = env.email_pool().await;
    let (client_id, _) = env.app_client(&pool, &[], false).await;
    let email = "codes@example.com";
    env.sign_up(&client_id, email).await.unwrap();
    let first = env.last_code(email);
    // 24 hours later the code has expired.
    env.clock.advance_secs(24 * 3600 + 1);
    let e = env.confirm(&client_id, email, &first).await.unwrap_err();
    assert_eq!(e, "ExpiredCodeException: Invalid code provided, please request a code again.");

    let r = c.resend_confirmation_code().client_id(&client_id).username(email).send().await.unwrap();
    assert_eq!(r.code_delivery_details().unwrap().destination(), Some("c***@e***"));
    let second = env.last_code(email);
    assert_eq!(env.messages_to(email).len(), 2);
    let wrong = if second == "000000" { "111111" } else { "000000" };
    for _ in 0..5 {
        let e = env.confirm(&client_id, email, wrong).await.unwrap_err();
        assert!(e.starts_with("CodeMismatchException"), "{e}");
    }
    let e = env.confirm(&client_id, email, &second).await.unwrap_err();
    assert_eq!(
        e, "LimitExceededException: Attempt limit exceeded, please try after some time.",
        "locked even for the right code"
    );
    // A fresh code works once the lockout the fifth wrong one started (1 s) is over: wrong
    // guesses count across codes (attack_codes.rs shows the fresh code refused before).
    c.resend_confirmation_code().client_id(&client_id).username(email).send().await.unwrap();
    env.clock.advance_secs(2);
    c.confirm_sign_up()
        .client_id(&client_id)
        .username(email)
        .confirmation_code(env.last_code(email))
        .send()
        .await
        .unwrap();
    let e = c
        .resend_confirmation_code()
        .client_id(&client_id)
        .username(email)
        .send()
        .await
        .map_err(err_name)
        .unwrap_err();
    assert_eq!(e, "InvalidParameterException: User is already confirmed.");
});

on_both_stores!(admin_confirm_and_plain_usernames, |env| {
    let c = &env.client;
    let pool = env.pool(|b| b).await;
    let (client_id, _) = env.app_client(&pool, &["ALLOW_USER_PASSWORD_AUTH"], false).await;
    let out = c
        .sign_up()
        .client_id(&client_id)
        .username("bob")
        .password(PASSWORD)
        .user_attributes(attr("email", "bob@example.com"))
        .user_attributes(attr("name", "Bob"))
        .send()
        .await
        .unwrap();
    assert!(out.code_delivery_details().is_none(), "no auto-verified attribute, no code");
    assert!(env.messages_to("bob@example.com").is_empty());
    c.admin_confirm_sign_up().user_pool_id(&pool).username("bob").send().await.unwrap();
    let e = c
        .admin_confirm_sign_up()
        .user_pool_id(&pool)
        .username("bob")
        .send()
        .await
        .map_err(err_name)
        .unwrap_err();
    assert_eq!(e, "NotAuthorizedException: User cannot be confirmed. Current status is CONFIRMED");
    let u = c.admin_get_user().user_pool_id(&pool).username("bob").send().await.unwrap();
    assert_eq!(u.username(), "bob");
    assert!(
        !u.user_attributes().iter().any(|a| a.name() == "email_verified"),
        "admin confirmation verifies nothing"
    );
    env.password_sign_in(&client_id, "bob", PASSWORD).await.unwrap();
    // Usernames are case-sensitive unless the pool says otherwise.
    let e = env.password_sign_in(&client_id, "BOB", PASSWORD).await.unwrap_err();
    assert_eq!(e, "UserNotFoundException: User does not exist.");
    let e = env.sign_up(&client_id, "bob").await.unwrap_err();
    assert_eq!(e, "UsernameExistsException: User already exists");

    let ci = env
        .pool(|b| {
            b.username_configuration(
                cip::types::UsernameConfigurationType::builder().case_sensitive(false).build().unwrap(),
            )
        })
        .await;
    let (ci_client, _) = env.app_client(&ci, &["ALLOW_USER_PASSWORD_AUTH"], false).await;
    env.sign_up(&ci_client, "Carol").await.unwrap();
    c.admin_confirm_sign_up().user_pool_id(&ci).username("carol").send().await.unwrap();
    env.password_sign_in(&ci_client, "CAROL", PASSWORD).await.unwrap();
    let e = env.sign_up(&ci_client, "carol").await.unwrap_err();
    assert_eq!(e, "UsernameExistsException: User already exists");
});

on_both_stores!(secret_hash_on_sign_up, |env| {
    let c = &env.client;
    let pool = env.email_pool().await;
    let (client_id, secret) = env.app_client(&pool, &["ALLOW_USER_PASSWORD_AUTH"], true).await;
    let secret = secret.unwrap();
    let email = "sec@example.com";
    let e = env.sign_up(&client_id, email).await.unwrap_err();
    assert_eq!(
        e,
        format!(
            "NotAuthorizedException: Client {client_id} is configured for secret but secret was not received"
        )
    );
    let e = c
        .sign_up()
        .client_id(&client_id)
        .username(email)
        .password(PASSWORD)
        .secret_hash("d3Jvbmc=")
        .send()
        .await
        .map_err(err_name)
        .unwrap_err();
    assert_eq!(e, format!("NotAuthorizedException: Unable to verify secret hash for client {client_id}"));
    let hash = secret_hash(&secret, email, &client_id);
    c.sign_up()
        .client_id(&client_id)
        .username(email)
        .password(PASSWORD)
        .secret_hash(&hash)
        .send()
        .await
        .unwrap();
    let e = c
        .confirm_sign_up()
        .client_id(&client_id)
        .username(email)
        .confirmation_code(env.last_code(email))
        .send()
        .await
        .map_err(err_name)
        .unwrap_err();
    assert!(e.starts_with("NotAuthorizedException"), "{e}");
    c.confirm_sign_up()
        .client_id(&client_id)
        .username(email)
        .confirmation_code(env.last_code(email))
        .secret_hash(&hash)
        .send()
        .await
        .unwrap();
    let e = c
        .initiate_auth()
        .client_id(&client_id)
        .auth_flow(cip::types::AuthFlowType::UserPasswordAuth)
        .auth_parameters("USERNAME", email)
        .auth_parameters("PASSWORD", PASSWORD)
        .send()
        .await
        .map_err(err_name)
        .unwrap_err();
    assert!(e.starts_with("NotAuthorizedException"), "{e}");
    let ok = c
        .initiate_auth()
        .client_id(&client_id)
        .auth_flow(cip::types::AuthFlowType::UserPasswordAuth)
        .auth_parameters("USERNAME", email)
        .auth_parameters("PASSWORD", PASSWORD)
        .auth_parameters("SECRET_HASH", &hash)
        .send()
        .await
        .unwrap();
    assert!(ok.authentication_result().is_some());
});

/// Computed here independently of the server: Base64(HMAC-SHA256(secret, username + clientId)).
pub fn secret_hash(secret: &str, username: &str, client_id: &str) -> String {
    use base64::Engine;
    use hmac::Mac;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(username.as_bytes());
    mac.update(client_id.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}
