//! The bundled pre-signup hook behind a pool (issue 14, finding 2): a sign-up that only
//! *claims* an address at a trusted domain gets no verified email and takes no alias.

use crate::common::*;
use crate::lambda_double::{arn, Reply};
use crate::on_both_stores;
use aws_sdk_cognitoidentityprovider as cip;
use tessera_hooks::config::{vars_map, Vars};
use tessera_hooks::pre_signup::PreSignUpConfig;

async fn attribute(env: &TestEnv, pool: &str, username: &str, name: &str) -> Option<String> {
    let u = env.client.admin_get_user().user_pool_id(pool).username(username).send().await.unwrap();
    u.user_attributes().iter().find(|a| a.name() == name).and_then(|a| a.value()).map(str::to_string)
}

on_both_stores!(a_claimed_trusted_address_is_neither_verified_nor_stolen, |env| {
    let pool = env
        .pool(|b| {
            b.alias_attributes(cip::types::AliasAttributeType::Email)
                .auto_verified_attributes(cip::types::VerifiedAttributeType::Email)
                .lambda_config(cip::types::LambdaConfigType::builder().pre_sign_up(arn("pre-signup")).build())
        })
        .await;
    let (client_id, _) = env.app_client(&pool, &["ALLOW_USER_PASSWORD_AUTH"], false).await;
    // The bundled function, configured as generously as it goes: corp.com trusted and
    // auto-confirmed. (Before the fix these variables made it verify the address too.)
    let vars = vars_map(&[
        ("TESSERA_PRE_SIGNUP_TRUSTED_DOMAINS", "corp.com"),
        ("TESSERA_PRE_SIGNUP_TRUSTED_AUTO_CONFIRM", "true"),
    ]);
    let cfg = PreSignUpConfig::from_vars(&Vars::map(&vars)).unwrap();
    env.lambda.on(move |_, e| match tessera_hooks::lambda::pre_signup_event(&cfg, e.clone()) {
        Ok(out) => Reply::Payload(serde_json::to_vec(&out).unwrap()),
        Err(r) => Reply::Fail(r.message),
    });
    let sign_up = |username: &'static str| {
        env.client
            .sign_up()
            .client_id(&client_id)
            .username(username)
            .password(PASSWORD)
            .user_attributes(attr("email", "ceo@corp.com"))
            .send()
    };

    // The real holder signs up, proves the address by code, and signs in with it.
    let out = sign_up("ceo").await.unwrap();
    assert!(out.user_confirmed(), "auto-confirmed by the (unsafe) setting");
    assert_eq!(attribute(env, &pool, "ceo", "email_verified").await, None, "a domain proves nothing");
    let e = env.password_sign_in(&client_id, "ceo@corp.com", PASSWORD).await.unwrap_err();
    assert_eq!(e, "UserNotFoundException: User does not exist.", "no alias before proof");
    env.client
        .admin_update_user_attributes()
        .user_pool_id(&pool)
        .username("ceo")
        .user_attributes(attr("email_verified", "true"))
        .send()
        .await
        .unwrap();
    env.password_sign_in(&client_id, "ceo@corp.com", PASSWORD).await.unwrap();

    // Eve claims the same address.
    let out = sign_up("eve").await.unwrap();
    assert!(out.user_confirmed());
    assert_eq!(attribute(env, &pool, "eve", "email_verified").await, None, "eve's claim is not verified");
    // The alias still belongs to its holder: signing in with it is ceo's password, not eve's,
    // and the holder's address is still verified.
    let tokens = env.password_sign_in(&client_id, "ceo@corp.com", PASSWORD).await.unwrap();
    let me = env.client.get_user().access_token(tokens.access_token().unwrap()).send().await.unwrap();
    assert_eq!(me.username(), "ceo");
    assert_eq!(attribute(env, &pool, "ceo", "email_verified").await.as_deref(), Some("true"));
    let u = env.client.admin_get_user().user_pool_id(&pool).username("ceo@corp.com").send().await.unwrap();
    assert_eq!(u.username(), "ceo");
});

on_both_stores!(by_default_a_trusted_domain_is_admitted_but_must_confirm_by_code, |env| {
    let pool = env
        .pool(|b| {
            b.username_attributes(cip::types::UsernameAttributeType::Email)
                .auto_verified_attributes(cip::types::VerifiedAttributeType::Email)
                .lambda_config(cip::types::LambdaConfigType::builder().pre_sign_up(arn("pre-signup")).build())
        })
        .await;
    let (client_id, _) = env.app_client(&pool, &["ALLOW_USER_PASSWORD_AUTH"], false).await;
    let vars = vars_map(&[
        ("TESSERA_PRE_SIGNUP_ALLOWED_DOMAINS", "partner.org"),
        ("TESSERA_PRE_SIGNUP_TRUSTED_DOMAINS", "corp.com"),
    ]);
    let cfg = PreSignUpConfig::from_vars(&Vars::map(&vars)).unwrap();
    env.lambda.on(move |_, e| match tessera_hooks::lambda::pre_signup_event(&cfg, e.clone()) {
        Ok(out) => Reply::Payload(serde_json::to_vec(&out).unwrap()),
        Err(r) => Reply::Fail(r.message),
    });
    let out = env.sign_up(&client_id, "jane@corp.com").await.unwrap();
    assert!(!out.user_confirmed(), "confirmed by code, not by domain");
    assert!(out.code_delivery_details().is_some());
    env.confirm(&client_id, "jane@corp.com", &env.last_code("jane@corp.com")).await.unwrap();
    assert_eq!(attribute(env, &pool, "jane@corp.com", "email_verified").await.as_deref(), Some("true"));
    let e = env.sign_up(&client_id, "bob@else.org").await.unwrap_err();
    assert_eq!(
        e,
        "UserLambdaValidationException: PreSignUp failed with error Sign-up is limited to approved email \
         domains, and else.org is not one of them."
    );
});
