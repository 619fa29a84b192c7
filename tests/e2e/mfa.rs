//! MFA outside the sign-in flow: the pool's MFA configuration (SetUserPoolMfaConfig,
//! GetUserPoolMfaConfig, CreateUserPool/UpdateUserPool), software tokens (AssociateSoftwareToken,
//! VerifySoftwareToken, with an access token and with an MFA_SETUP session), the users' MFA
//! preferences (SetUserMFAPreference, AdminSetUserMFAPreference, the legacy SetUserSettings and
//! AdminSetUserSettings) as GetUser/AdminGetUser show them, and the SMS MFA code the sign-in
//! flow sends.

use crate::common::*;
use crate::lambda_double::{arn, Reply};
use crate::on_both_stores;
use aws_sdk_cognitoidentityprovider as cip;
use cip::types::{
    DeliveryMediumType, EmailMfaConfigType, EmailMfaSettingsType, LambdaConfigType, MfaOptionType,
    SmsConfigurationType, SmsMfaConfigType, SmsMfaSettingsType, SoftwareTokenMfaConfigType,
    SoftwareTokenMfaSettingsType, UserPoolMfaType, VerifySoftwareTokenResponseType,
};
use serde_json::json;
use tessera_core::ports::Clock;
use tessera_core::user_pool::mfa::totp::software_token_code;

const PHONE: &str = "+15555550100";

fn sms_config() -> SmsConfigurationType {
    SmsConfigurationType::builder()
        .sns_caller_arn("arn:aws:iam::123456789012:role/tessera-sms")
        .external_id("tessera")
        .build()
}

fn totp(enabled: bool) -> SoftwareTokenMfaConfigType {
    SoftwareTokenMfaConfigType::builder().enabled(enabled).build()
}

fn sms_settings(enabled: bool, preferred: bool) -> SmsMfaSettingsType {
    SmsMfaSettingsType::builder().enabled(enabled).preferred_mfa(preferred).build()
}

fn token_settings(enabled: bool, preferred: bool) -> SoftwareTokenMfaSettingsType {
    SoftwareTokenMfaSettingsType::builder().enabled(enabled).preferred_mfa(preferred).build()
}

fn sms_option() -> MfaOptionType {
    MfaOptionType::builder().delivery_medium(DeliveryMediumType::Sms).attribute_name("phone_number").build()
}

/// The authenticator's code for a SecretCode, by the server's (test) clock.
fn code_now(env: &TestEnv, secret: &str) -> String {
    software_token_code(secret, env.clock.now_secs()).expect("base32 secret")
}

/// A code the server cannot accept now (none of the steps it would try).
fn wrong_code(env: &TestEnv, secret: &str) -> String {
    let now = env.clock.now_secs();
    let valid: Vec<String> =
        [-30, 0, 30].iter().map(|d| software_token_code(secret, now + d).expect("secret")).collect();
    ["000000", "111111", "222222", "333333"]
        .iter()
        .find(|c| !valid.contains(&c.to_string()))
        .unwrap()
        .to_string()
}

/// An email pool with OPTIONAL MFA and software tokens on, a client for password sign-in, and a
/// signed-in user: (pool, client, access token).
async fn totp_pool_user(env: &TestEnv, email: &str) -> (String, String, String) {
    let pool = env.email_pool().await;
    env.client
        .set_user_pool_mfa_config()
        .user_pool_id(&pool)
        .mfa_configuration(UserPoolMfaType::Optional)
        .software_token_mfa_configuration(totp(true))
        .send()
        .await
        .expect("set mfa config");
    let (client, _) =
        env.app_client(&pool, &["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"], false).await;
    env.confirmed_user(&client, email).await;
    let tokens = env.password_sign_in(&client, email, PASSWORD).await.expect("sign in");
    (pool, client, tokens.access_token().unwrap().to_string())
}

/// A confirmed user with a phone number in an email pool whose MFA is OPTIONAL over SMS.
async fn sms_pool_user(env: &TestEnv, email: &str, lambda: Option<LambdaConfigType>) -> (String, String) {
    let pool = env
        .pool(|b| {
            let b = b
                .username_attributes(cip::types::UsernameAttributeType::Email)
                .auto_verified_attributes(cip::types::VerifiedAttributeType::Email)
                .mfa_configuration(UserPoolMfaType::Optional)
                .sms_configuration(sms_config());
            match lambda {
                Some(l) => b.lambda_config(l),
                None => b,
            }
        })
        .await;
    let (client, _) = env.app_client(&pool, &["ALLOW_USER_PASSWORD_AUTH"], false).await;
    env.confirmed_user(&client, email).await;
    env.client
        .admin_update_user_attributes()
        .user_pool_id(&pool)
        .username(email)
        .user_attributes(attr("phone_number", PHONE))
        .send()
        .await
        .expect("phone");
    (pool, client)
}

/// GetUser's view of the user's MFA: (MFAOptions count, UserMFASettingList, PreferredMfaSetting).
async fn own_mfa(env: &TestEnv, access_token: &str) -> (usize, Vec<String>, Option<String>) {
    let u = env.client.get_user().access_token(access_token).send().await.expect("get user");
    (u.mfa_options().len(), u.user_mfa_setting_list().to_vec(), u.preferred_mfa_setting().map(str::to_string))
}

async fn admin_mfa(env: &TestEnv, pool: &str, username: &str) -> (usize, Vec<String>, Option<String>) {
    let u =
        env.client.admin_get_user().user_pool_id(pool).username(username).send().await.expect("admin get");
    (u.mfa_options().len(), u.user_mfa_setting_list().to_vec(), u.preferred_mfa_setting().map(str::to_string))
}

on_both_stores!(pool_mfa_configuration, |env| {
    let pool = env.email_pool().await;
    let get = |pool: String| async move {
        env.client.get_user_pool_mfa_config().user_pool_id(pool).send().await.expect("get mfa config")
    };
    let fresh = get(pool.clone()).await;
    assert_eq!(fresh.mfa_configuration(), Some(&UserPoolMfaType::Off));
    assert!(!fresh.software_token_mfa_configuration().is_some_and(|t| t.enabled()));
    assert!(fresh.sms_mfa_configuration().is_none());

    // Software tokens only.
    let set = env
        .client
        .set_user_pool_mfa_config()
        .user_pool_id(&pool)
        .mfa_configuration(UserPoolMfaType::Optional)
        .software_token_mfa_configuration(totp(true))
        .send()
        .await
        .unwrap();
    assert_eq!(set.mfa_configuration(), Some(&UserPoolMfaType::Optional));
    assert!(set.software_token_mfa_configuration().unwrap().enabled());
    assert!(set.sms_mfa_configuration().is_none());
    let got = get(pool.clone()).await;
    assert_eq!(got.mfa_configuration(), Some(&UserPoolMfaType::Optional));
    assert!(got.software_token_mfa_configuration().unwrap().enabled());
    let described = env.client.describe_user_pool().user_pool_id(&pool).send().await.unwrap();
    assert_eq!(described.user_pool().unwrap().mfa_configuration(), Some(&UserPoolMfaType::Optional));

    // Both factors, required, with the pool's own SMS text.
    let sms = SmsMfaConfigType::builder()
        .sms_authentication_message("Your Example code is {####}")
        .sms_configuration(sms_config())
        .build();
    env.client
        .set_user_pool_mfa_config()
        .user_pool_id(&pool)
        .mfa_configuration(UserPoolMfaType::On)
        .sms_mfa_configuration(sms)
        .software_token_mfa_configuration(totp(true))
        .send()
        .await
        .unwrap();
    let got = get(pool.clone()).await;
    assert_eq!(got.mfa_configuration(), Some(&UserPoolMfaType::On));
    let sms = got.sms_mfa_configuration().expect("sms mfa");
    assert_eq!(sms.sms_authentication_message(), Some("Your Example code is {####}"));
    assert_eq!(
        sms.sms_configuration().map(|c| c.sns_caller_arn()),
        Some("arn:aws:iam::123456789012:role/tessera-sms")
    );
    let described = env.client.describe_user_pool().user_pool_id(&pool).send().await.unwrap();
    let p = described.user_pool().unwrap();
    assert_eq!(p.mfa_configuration(), Some(&UserPoolMfaType::On));
    assert_eq!(p.sms_authentication_message(), Some("Your Example code is {####}"));
    assert_eq!(p.sms_configuration().map(|c| c.external_id()), Some(Some("tessera")));

    // Leaving SMS out turns it off; the pool keeps its SMS configuration for other messages.
    env.client
        .set_user_pool_mfa_config()
        .user_pool_id(&pool)
        .mfa_configuration(UserPoolMfaType::Optional)
        .software_token_mfa_configuration(totp(true))
        .send()
        .await
        .unwrap();
    assert!(get(pool.clone()).await.sms_mfa_configuration().is_none());

    // The refused configurations change nothing.
    let refuse =
        |b: cip::operation::set_user_pool_mfa_config::builders::SetUserPoolMfaConfigFluentBuilder| {
            let pool = pool.clone();
            async move { b.user_pool_id(pool).send().await.map(|_| ()).map_err(err_name) }
        };
    let c = &env.client;
    assert_eq!(
        refuse(c.set_user_pool_mfa_config().mfa_configuration(UserPoolMfaType::Off).software_token_mfa_configuration(totp(true))).await,
        Err("InvalidParameterException: Invalid MFA configuration given, can't turn off MFA and configure an MFA together.".into())
    );
    assert_eq!(
        refuse(c.set_user_pool_mfa_config().mfa_configuration(UserPoolMfaType::On).software_token_mfa_configuration(totp(false))).await,
        Err("InvalidParameterException: Invalid MFA configuration given, can't disable all MFAs with a required or optional configuration.".into())
    );
    let email_mfa = EmailMfaConfigType::builder().message("Code {####}").subject("Code").build();
    let e = refuse(
        c.set_user_pool_mfa_config()
            .mfa_configuration(UserPoolMfaType::Optional)
            .software_token_mfa_configuration(totp(true))
            .email_mfa_configuration(email_mfa),
    )
    .await
    .unwrap_err();
    assert!(e.starts_with("InvalidParameterException: Email MFA") && e.contains("not supported"), "{e}");
    for bad in ["No placeholder here", &format!("{{####}}{}", "x".repeat(135))] {
        let sms = SmsMfaConfigType::builder()
            .sms_authentication_message(bad)
            .sms_configuration(sms_config())
            .build();
        let e = refuse(
            c.set_user_pool_mfa_config()
                .mfa_configuration(UserPoolMfaType::Optional)
                .sms_mfa_configuration(sms),
        )
        .await
        .unwrap_err();
        assert!(
            e.starts_with("InvalidParameterException:")
                && e.to_lowercase().contains("smsauthenticationmessage"),
            "{e}"
        );
    }
    let got = get(pool.clone()).await;
    assert_eq!(got.mfa_configuration(), Some(&UserPoolMfaType::Optional));
    assert!(got.software_token_mfa_configuration().unwrap().enabled());
    // A pool without an SMS configuration cannot turn SMS MFA on.
    let bare = env.email_pool().await;
    let e = env
        .client
        .set_user_pool_mfa_config()
        .user_pool_id(&bare)
        .mfa_configuration(UserPoolMfaType::Optional)
        .sms_mfa_configuration(SmsMfaConfigType::builder().sms_authentication_message("Code {####}").build())
        .send()
        .await
        .map_err(err_name)
        .unwrap_err();
    assert!(e.starts_with("InvalidParameterException: SMS MFA needs an SmsConfiguration"), "{e}");
    let e = env
        .client
        .get_user_pool_mfa_config()
        .user_pool_id("us-east-1_Nope12345")
        .send()
        .await
        .map_err(err_name);
    assert_eq!(e.unwrap_err(), "ResourceNotFoundException: User pool us-east-1_Nope12345 does not exist.");
});

on_both_stores!(create_and_update_pool_mfa, |env| {
    let needs_sms = "InvalidParameterException: SMS configuration and Auto verification for phone_number are required when MFA is required/optional";
    for mode in [UserPoolMfaType::On, UserPoolMfaType::Optional] {
        let e = env
            .client
            .create_user_pool()
            .pool_name(unique("mfa"))
            .mfa_configuration(mode)
            .send()
            .await
            .map_err(err_name)
            .unwrap_err();
        assert_eq!(e, needs_sms);
    }
    let pool = env
        .pool(|b| {
            b.mfa_configuration(UserPoolMfaType::On)
                .sms_configuration(sms_config())
                .sms_authentication_message("Sign-in code {####}")
        })
        .await;
    let got = env.client.get_user_pool_mfa_config().user_pool_id(&pool).send().await.unwrap();
    assert_eq!(got.mfa_configuration(), Some(&UserPoolMfaType::On));
    assert_eq!(
        got.sms_mfa_configuration().and_then(|s| s.sms_authentication_message()),
        Some("Sign-in code {####}")
    );
    assert!(!got.software_token_mfa_configuration().is_some_and(|t| t.enabled()));

    // UpdateUserPool resets what it is not given: no SMS configuration, no MFA.
    let e = env
        .client
        .update_user_pool()
        .user_pool_id(&pool)
        .mfa_configuration(UserPoolMfaType::Optional)
        .send()
        .await
        .map_err(err_name)
        .unwrap_err();
    assert_eq!(e, needs_sms);
    env.client.update_user_pool().user_pool_id(&pool).send().await.unwrap();
    let got = env.client.get_user_pool_mfa_config().user_pool_id(&pool).send().await.unwrap();
    assert_eq!(got.mfa_configuration(), Some(&UserPoolMfaType::Off));
    assert!(got.sms_mfa_configuration().is_none());

    // With software tokens on, MFA can stay on without SMS.
    env.client
        .set_user_pool_mfa_config()
        .user_pool_id(&pool)
        .mfa_configuration(UserPoolMfaType::Optional)
        .software_token_mfa_configuration(totp(true))
        .send()
        .await
        .unwrap();
    env.client
        .update_user_pool()
        .user_pool_id(&pool)
        .mfa_configuration(UserPoolMfaType::On)
        .send()
        .await
        .unwrap();
    let got = env.client.get_user_pool_mfa_config().user_pool_id(&pool).send().await.unwrap();
    assert_eq!(got.mfa_configuration(), Some(&UserPoolMfaType::On));
    assert!(got.software_token_mfa_configuration().unwrap().enabled());
    // Turning MFA off through UpdateUserPool forgets the factors.
    env.client
        .update_user_pool()
        .user_pool_id(&pool)
        .mfa_configuration(UserPoolMfaType::Off)
        .send()
        .await
        .unwrap();
    let got = env.client.get_user_pool_mfa_config().user_pool_id(&pool).send().await.unwrap();
    assert!(!got.software_token_mfa_configuration().unwrap().enabled());
    let e = env
        .client
        .update_user_pool()
        .user_pool_id(&pool)
        .mfa_configuration(UserPoolMfaType::On)
        .send()
        .await
        .map_err(err_name)
        .unwrap_err();
    assert_eq!(e, needs_sms);
});

on_both_stores!(software_token_with_access_token, |env| {
    let email = "totp@example.com";
    let pool = env.email_pool().await;
    let (client, _) = env.app_client(&pool, &["ALLOW_USER_PASSWORD_AUTH"], false).await;
    env.confirmed_user(&client, email).await;
    let token =
        env.password_sign_in(&client, email, PASSWORD).await.unwrap().access_token().unwrap().to_string();

    // The pool has not turned software tokens on.
    let not_enabled =
        "SoftwareTokenMFANotFoundException: Software Token MFA has not been enabled by the userPool";
    let e = env.client.associate_software_token().access_token(&token).send().await.map_err(err_name);
    assert_eq!(e.unwrap_err(), not_enabled);
    let e = env.client.verify_software_token().access_token(&token).user_code("123456").send().await;
    assert_eq!(e.map_err(err_name).unwrap_err(), not_enabled);
    env.client
        .set_user_pool_mfa_config()
        .user_pool_id(&pool)
        .mfa_configuration(UserPoolMfaType::Optional)
        .software_token_mfa_configuration(totp(true))
        .send()
        .await
        .unwrap();

    // Exactly one of AccessToken and Session.
    let one = "InvalidParameterException: Exactly one of AccessToken and Session must be provided.";
    let e = env.client.associate_software_token().send().await.map_err(err_name);
    assert_eq!(e.unwrap_err(), one);
    let e = env.client.associate_software_token().access_token(&token).session("s".repeat(40)).send().await;
    assert_eq!(e.map_err(err_name).unwrap_err(), one);
    let e = env.client.verify_software_token().user_code("123456").send().await.map_err(err_name);
    assert_eq!(e.unwrap_err(), one);
    let e = env.client.associate_software_token().access_token("not-a-token").send().await.map_err(err_name);
    assert_eq!(e.unwrap_err(), "NotAuthorizedException: Invalid Access Token");

    // Nothing to verify yet.
    let e = env.client.verify_software_token().access_token(&token).user_code("123456").send().await;
    let e = e.map_err(err_name).unwrap_err();
    assert!(e.starts_with("EnableSoftwareTokenMFAException: No software token"), "{e}");

    let out = env.client.associate_software_token().access_token(&token).send().await.unwrap();
    let secret = out.secret_code().unwrap().to_string();
    assert!(out.session().is_none());
    assert_eq!(secret.len(), 52, "256 random bits in base32: {secret}");
    assert!(secret.chars().all(|c| c.is_ascii_uppercase() || ('2'..='7').contains(&c)), "{secret}");

    let mismatch = "EnableSoftwareTokenMFAException: Code mismatch and fail enable Software Token MFA";
    let e = env
        .client
        .verify_software_token()
        .access_token(&token)
        .user_code(wrong_code(env, &secret))
        .send()
        .await;
    assert_eq!(e.map_err(err_name).unwrap_err(), mismatch);
    let out = env
        .client
        .verify_software_token()
        .access_token(&token)
        .user_code(code_now(env, &secret))
        .friendly_device_name("Jane's phone")
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), Some(&VerifySoftwareTokenResponseType::Success));
    assert!(out.session().is_none());
    // Verified, but not enabled until the user says so.
    assert_eq!(own_mfa(env, &token).await, (0, vec![], None));
    env.client
        .set_user_mfa_preference()
        .access_token(&token)
        .software_token_mfa_settings(token_settings(true, true))
        .send()
        .await
        .unwrap();
    let enabled = (0, vec!["SOFTWARE_TOKEN_MFA".to_string()], Some("SOFTWARE_TOKEN_MFA".to_string()));
    assert_eq!(own_mfa(env, &token).await, enabled);
    assert_eq!(admin_mfa(env, &pool, email).await, enabled);

    // A new association leaves the verified token in place until it is verified itself.
    let second = env.client.associate_software_token().access_token(&token).send().await.unwrap();
    let second = second.secret_code().unwrap().to_string();
    assert_ne!(second, secret);
    assert_eq!(admin_mfa(env, &pool, email).await, enabled);
    env.clock.advance_secs(60);
    let out = env
        .client
        .verify_software_token()
        .access_token(&token)
        .user_code(code_now(env, &second))
        .send()
        .await;
    assert_eq!(out.unwrap().status(), Some(&VerifySoftwareTokenResponseType::Success));
    assert_eq!(admin_mfa(env, &pool, email).await, enabled);
    // Only one pending token can be verified, once.
    let e = env
        .client
        .verify_software_token()
        .access_token(&token)
        .user_code(code_now(env, &second))
        .send()
        .await;
    assert!(e
        .map_err(err_name)
        .unwrap_err()
        .starts_with("EnableSoftwareTokenMFAException: No software token"));

    // Five wrong codes discard the pending token: the right code no longer helps.
    let third = env.client.associate_software_token().access_token(&token).send().await.unwrap();
    let third = third.secret_code().unwrap().to_string();
    for _ in 0..5 {
        let e = env
            .client
            .verify_software_token()
            .access_token(&token)
            .user_code(wrong_code(env, &third))
            .send()
            .await;
        assert_eq!(e.map_err(err_name).unwrap_err(), mismatch);
    }
    let e =
        env.client.verify_software_token().access_token(&token).user_code(code_now(env, &third)).send().await;
    assert!(e
        .map_err(err_name)
        .unwrap_err()
        .starts_with("EnableSoftwareTokenMFAException: No software token"));
    assert_eq!(admin_mfa(env, &pool, email).await, enabled, "the verified token is untouched");

    // The pool turning software tokens off stops new associations, not the verified token.
    env.client
        .set_user_pool_mfa_config()
        .user_pool_id(&pool)
        .mfa_configuration(UserPoolMfaType::Off)
        .send()
        .await
        .unwrap();
    let e = env.client.associate_software_token().access_token(&token).send().await.map_err(err_name);
    assert_eq!(e.unwrap_err(), not_enabled);
    assert_eq!(admin_mfa(env, &pool, email).await, enabled);
});

on_both_stores!(software_token_during_mfa_setup, |env| {
    use tessera_core::user_pool::auth::session::{
        store_challenge_session, take_any_challenge_session, ChallengeSession, Pending, Progress,
    };
    let email = "setup@example.com";
    let (pool_id, client_id, _) = totp_pool_user(env, email).await;
    // MFA required and the user has none: what an MFA_SETUP session is for.
    env.client
        .set_user_pool_mfa_config()
        .user_pool_id(&pool_id)
        .mfa_configuration(UserPoolMfaType::On)
        .software_token_mfa_configuration(totp(true))
        .send()
        .await
        .unwrap();
    // The sign-in flow opens MFA_SETUP sessions; here one is opened as it would.
    let svc = env.server.state.frontend.service.clone();
    let pool = svc.pool(&pool_id).await.unwrap();
    let client = svc.client(&client_id).await.unwrap();
    let (user, _) = svc.require_user(&pool, email).await.unwrap();
    let now = svc.clock.now_millis();
    let progress = Progress { device_key: Some("carried".into()), ..Progress::default() };
    let setup = Pending::MfaSetup { software_token_verified: false };
    let setup = ChallengeSession::new(&pool, &client, &user, now, progress.clone(), setup);
    let session = store_challenge_session(&svc, &client, &setup).await.unwrap();
    let other =
        ChallengeSession::new(&pool, &client, &user, now, Progress::default(), Pending::NewPasswordRequired);
    let other = store_challenge_session(&svc, &client, &other).await.unwrap();

    let invalid = "NotAuthorizedException: Invalid session for the user.";
    let e = env.client.associate_software_token().session(&other).send().await.map_err(err_name);
    assert_eq!(e.unwrap_err(), invalid, "only an MFA_SETUP session");
    let e = env.client.associate_software_token().session("x".repeat(40)).send().await.map_err(err_name);
    assert_eq!(e.unwrap_err(), invalid);

    let out = env.client.associate_software_token().session(&session).send().await.unwrap();
    let secret = out.secret_code().unwrap().to_string();
    let session2 = out.session().expect("a new session").to_string();
    assert_ne!(session2, session);
    let e = env.client.associate_software_token().session(&session).send().await.map_err(err_name);
    assert_eq!(e.unwrap_err(), invalid, "the session was used up");
    let (carried, _) = take_any_challenge_session(&svc, &session2).await.unwrap();
    assert_eq!((carried.challenge().as_str(), carried.client_id.as_str()), ("MFA_SETUP", client_id.as_str()));
    assert_eq!(carried.progress, progress);

    // A wrong code leaves the session usable.
    let e = env
        .client
        .verify_software_token()
        .session(&session2)
        .user_code(wrong_code(env, &secret))
        .send()
        .await;
    assert_eq!(
        e.map_err(err_name).unwrap_err(),
        "EnableSoftwareTokenMFAException: Code mismatch and fail enable Software Token MFA"
    );
    let out = env
        .client
        .verify_software_token()
        .session(&session2)
        .user_code(code_now(env, &secret))
        .friendly_device_name("Authenticator")
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), Some(&VerifySoftwareTokenResponseType::Success));
    let session3 = out.session().expect("a session for RespondToAuthChallenge").to_string();
    let e =
        env.client.verify_software_token().session(&session2).user_code(code_now(env, &secret)).send().await;
    assert_eq!(e.map_err(err_name).unwrap_err(), invalid);
    let (carried, _) = take_any_challenge_session(&svc, &session3).await.unwrap();
    assert_eq!(carried.pending, Pending::MfaSetup { software_token_verified: true });
    assert_eq!(carried.progress, progress);
    // Set up during sign-in: enabled and preferred at once.
    let enabled = (0, vec!["SOFTWARE_TOKEN_MFA".to_string()], Some("SOFTWARE_TOKEN_MFA".to_string()));
    assert_eq!(admin_mfa(env, &pool_id, email).await, enabled);
    // The sign-in flow's check: the code used to verify cannot be used again.
    let (mut user, _) = svc.require_user(&pool, email).await.unwrap();
    assert!(!tessera_core::user_pool::mfa::totp::check_software_token_code(
        &svc,
        &mut user,
        &code_now(env, &secret)
    )
    .unwrap());
    env.clock.advance_secs(30);
    assert!(tessera_core::user_pool::mfa::totp::check_software_token_code(
        &svc,
        &mut user,
        &code_now(env, &secret)
    )
    .unwrap());
    assert!(!tessera_core::user_pool::mfa::totp::check_software_token_code(
        &svc,
        &mut user,
        &code_now(env, &secret)
    )
    .unwrap());
});

on_both_stores!(mfa_preferences, |env| {
    let email = "prefs@example.com";
    let (pool, _client, token) = totp_pool_user(env, email).await;
    let set = |sms: Option<SmsMfaSettingsType>, tok: Option<SoftwareTokenMfaSettingsType>| {
        let token = token.clone();
        async move {
            env.client
                .set_user_mfa_preference()
                .access_token(token)
                .set_sms_mfa_settings(sms)
                .set_software_token_mfa_settings(tok)
                .send()
                .await
                .map(|_| ())
                .map_err(err_name)
        }
    };
    let admin_set = |sms: Option<SmsMfaSettingsType>, tok: Option<SoftwareTokenMfaSettingsType>| {
        let pool = pool.clone();
        async move {
            env.client
                .admin_set_user_mfa_preference()
                .user_pool_id(pool)
                .username(email)
                .set_sms_mfa_settings(sms)
                .set_software_token_mfa_settings(tok)
                .send()
                .await
                .map(|_| ())
                .map_err(err_name)
        }
    };
    let no_token =
        "InvalidParameterException: User does not have delivery config set to turn on SOFTWARE_TOKEN_MFA";
    let no_phone = "InvalidParameterException: User does not have delivery config set to turn on SMS_MFA";
    assert_eq!(set(None, Some(token_settings(true, true))).await, Err(no_token.into()));
    assert_eq!(admin_set(None, Some(token_settings(true, false))).await, Err(no_token.into()));
    assert_eq!(set(Some(sms_settings(true, false)), None).await, Err(no_phone.into()));
    assert_eq!(admin_set(Some(sms_settings(true, true)), None).await, Err(no_phone.into()));
    let e = env
        .client
        .set_user_mfa_preference()
        .access_token(&token)
        .email_mfa_settings(EmailMfaSettingsType::builder().enabled(true).build())
        .send()
        .await
        .map_err(err_name)
        .unwrap_err();
    assert!(e.starts_with("InvalidParameterException: Email MFA") && e.contains("not supported"), "{e}");
    // Disabling what is not on is fine.
    assert_eq!(set(Some(sms_settings(false, false)), Some(token_settings(false, false))).await, Ok(()));
    assert_eq!(own_mfa(env, &token).await, (0, vec![], None));

    // With a phone number and a verified token.
    env.client
        .admin_update_user_attributes()
        .user_pool_id(&pool)
        .username(email)
        .user_attributes(attr("phone_number", PHONE))
        .send()
        .await
        .unwrap();
    let secret = env.client.associate_software_token().access_token(&token).send().await.unwrap();
    let secret = secret.secret_code().unwrap().to_string();
    env.client
        .verify_software_token()
        .access_token(&token)
        .user_code(code_now(env, &secret))
        .send()
        .await
        .unwrap();

    assert_eq!(
        set(Some(sms_settings(true, true)), Some(token_settings(true, true))).await,
        Err("InvalidParameterException: Only one MFA method can be preferred.".into())
    );
    assert_eq!(
        set(Some(sms_settings(false, true)), None).await,
        Err("InvalidParameterException: SMS_MFA cannot be the preferred MFA method while it is disabled."
            .into())
    );
    assert_eq!(own_mfa(env, &token).await, (0, vec![], None), "refused calls change nothing");

    assert_eq!(set(Some(sms_settings(true, true)), Some(token_settings(true, false))).await, Ok(()));
    let both = vec!["SMS_MFA".to_string(), "SOFTWARE_TOKEN_MFA".to_string()];
    assert_eq!(own_mfa(env, &token).await, (1, both.clone(), Some("SMS_MFA".into())));
    let u = env.client.get_user().access_token(&token).send().await.unwrap();
    assert_eq!(u.mfa_options()[0].delivery_medium(), Some(&DeliveryMediumType::Sms));
    assert_eq!(u.mfa_options()[0].attribute_name(), Some("phone_number"));
    // The preference moves; a member left out changes nothing.
    assert_eq!(admin_set(None, Some(token_settings(true, true))).await, Ok(()));
    assert_eq!(admin_mfa(env, &pool, email).await, (1, both.clone(), Some("SOFTWARE_TOKEN_MFA".into())));
    // Turning off the preferred method clears the preference.
    assert_eq!(set(None, Some(token_settings(false, false))).await, Ok(()));
    assert_eq!(own_mfa(env, &token).await, (1, vec!["SMS_MFA".to_string()], None));
    assert_eq!(admin_set(Some(sms_settings(true, true)), None).await, Ok(()));
    assert_eq!(admin_set(Some(sms_settings(false, false)), None).await, Ok(()));
    assert_eq!(admin_mfa(env, &pool, email).await, (0, vec![], None));
    let e = env
        .client
        .admin_set_user_mfa_preference()
        .user_pool_id(&pool)
        .username("nobody@example.com")
        .sms_mfa_settings(sms_settings(false, false))
        .send()
        .await
        .map_err(err_name);
    assert_eq!(e.unwrap_err(), "UserNotFoundException: User does not exist.");
});

on_both_stores!(legacy_user_settings, |env| {
    let email = "legacy@example.com";
    let (pool, client) = sms_pool_user(env, email, None).await;
    let token =
        env.password_sign_in(&client, email, PASSWORD).await.unwrap().access_token().unwrap().to_string();
    env.client.set_user_settings().access_token(&token).mfa_options(sms_option()).send().await.unwrap();
    assert_eq!(own_mfa(env, &token).await, (1, vec!["SMS_MFA".to_string()], None));
    env.client.set_user_settings().access_token(&token).set_mfa_options(Some(vec![])).send().await.unwrap();
    assert_eq!(own_mfa(env, &token).await, (0, vec![], None));

    env.client
        .admin_set_user_settings()
        .user_pool_id(&pool)
        .username(email)
        .mfa_options(sms_option())
        .send()
        .await
        .unwrap();
    assert_eq!(admin_mfa(env, &pool, email).await, (1, vec!["SMS_MFA".to_string()], None));
    // Turning SMS off the legacy way drops it as the preference too.
    env.client
        .admin_set_user_mfa_preference()
        .user_pool_id(&pool)
        .username(email)
        .sms_mfa_settings(sms_settings(true, true))
        .send()
        .await
        .unwrap();
    env.client
        .admin_set_user_settings()
        .user_pool_id(&pool)
        .username(email)
        .set_mfa_options(Some(vec![]))
        .send()
        .await
        .unwrap();
    assert_eq!(admin_mfa(env, &pool, email).await, (0, vec![], None));

    let email_option =
        MfaOptionType::builder().delivery_medium(DeliveryMediumType::Email).attribute_name("email").build();
    let e = env.client.set_user_settings().access_token(&token).mfa_options(email_option).send().await;
    assert!(e
        .map_err(err_name)
        .unwrap_err()
        .starts_with("InvalidParameterException: MFAOptions can only turn on SMS"));
    // No phone number, no SMS MFA.
    env.client
        .admin_delete_user_attributes()
        .user_pool_id(&pool)
        .username(email)
        .user_attribute_names("phone_number")
        .send()
        .await
        .unwrap();
    let e = env
        .client
        .admin_set_user_settings()
        .user_pool_id(&pool)
        .username(email)
        .mfa_options(sms_option())
        .send()
        .await;
    assert_eq!(
        e.map_err(err_name).unwrap_err(),
        "InvalidParameterException: User does not have delivery config set to turn on SMS_MFA"
    );
    let e = env.client.set_user_settings().access_token("nope").mfa_options(sms_option()).send().await;
    assert_eq!(e.map_err(err_name).unwrap_err(), "NotAuthorizedException: Invalid Access Token");
});

on_both_stores!(sms_mfa_code_for_sign_in, |env| {
    use tessera_core::user_pool::mfa::factors::{send_sms_mfa_code, sms_code_matches};
    let email = "sms@example.com";
    let (pool_id, client_id) = sms_pool_user(env, email, None).await;
    let svc = env.server.state.frontend.service.clone();
    let pool = svc.pool(&pool_id).await.unwrap();
    let (user, _) = svc.require_user(&pool, email).await.unwrap();
    let input = json!({});
    let caller = tessera_core::triggers::Caller::new(Some(client_id.as_str()), &input);
    let (params, hash) = send_sms_mfa_code(&svc, &pool, &user, &caller).await.unwrap();
    assert_eq!(
        params,
        json!({"CODE_DELIVERY_DELIVERY_MEDIUM": "SMS", "CODE_DELIVERY_DESTINATION": "+*******0100"})
    );
    let sent = env.messages_to(PHONE).last().cloned().unwrap();
    let code = sent.code.clone().unwrap();
    assert_eq!(
        (sent.channel.as_str(), sent.body.clone()),
        ("SMS", format!("Your authentication code is {code}. "))
    );
    let cipher = svc.cipher.as_ref();
    assert!(sms_code_matches(cipher, &hash, &code).unwrap());
    assert!(!sms_code_matches(cipher, &hash, if code == "000000" { "000001" } else { "000000" }).unwrap());
    assert!(!hash.contains(&code), "only a hash is kept");

    // The pool's own text, rewritten by its CustomMessage function (CustomMessage_Authentication).
    let (pool_id, client_id) = sms_pool_user(
        env,
        "sms2@example.com",
        Some(LambdaConfigType::builder().custom_message(arn("message")).build()),
    )
    .await;
    env.client
        .set_user_pool_mfa_config()
        .user_pool_id(&pool_id)
        .mfa_configuration(UserPoolMfaType::Optional)
        .sms_mfa_configuration(
            SmsMfaConfigType::builder().sms_authentication_message("Example: {####}").build(),
        )
        .send()
        .await
        .unwrap();
    env.lambda.on(|_, event| {
        if event["triggerSource"] == "CustomMessage_Authentication" {
            Reply::Respond(json!({"smsMessage": format!("Sign in with {}", event["request"]["codeParameter"].as_str().unwrap())}))
        } else {
            Reply::Respond(json!({}))
        }
    });
    let pool = svc.pool(&pool_id).await.unwrap();
    let (user, _) = svc.require_user(&pool, "sms2@example.com").await.unwrap();
    let input = json!({"ClientMetadata": {"app": "web"}});
    let caller = tessera_core::triggers::Caller::new(Some(client_id.as_str()), &input);
    let (_, hash) = send_sms_mfa_code(&svc, &pool, &user, &caller).await.unwrap();
    let sent = env.messages_to(PHONE).last().cloned().unwrap();
    let code = sent.code.clone().unwrap();
    assert_eq!(sent.body, format!("Sign in with {code}"));
    assert!(sms_code_matches(svc.cipher.as_ref(), &hash, &code).unwrap());
    let event = env.lambda.events("message").last().cloned().unwrap();
    assert_eq!(event["triggerSource"], "CustomMessage_Authentication");
    assert_eq!(event["request"]["clientMetadata"], json!({"app": "web"}));
    assert_eq!(event["request"]["userAttributes"]["phone_number"], PHONE);
    // Without the function's text, the pool's template.
    env.lambda.on(|_, _| Reply::Respond(json!({})));
    send_sms_mfa_code(&svc, &pool, &user, &caller).await.unwrap();
    let sent = env.messages_to(PHONE).last().cloned().unwrap();
    assert_eq!(sent.body, format!("Example: {}", sent.code.clone().unwrap()));
    // A user without a phone number gets no code.
    let mut phoneless = user.clone();
    phoneless.attributes.remove("phone_number");
    let e = send_sms_mfa_code(&svc, &pool, &phoneless, &caller).await.unwrap_err();
    assert_eq!(e.name(), "CodeDeliveryFailureException");
});

on_both_stores!(totp_guessing_across_new_sign_ins_runs_into_the_limit, |env| {
    // The attacker knows the password and signs in again and again for fresh sessions.
    let email = "totp-victim@example.com";
    let (_pool, client, token) = totp_pool_user(env, email).await;
    let secret = env.client.associate_software_token().access_token(&token).send().await.unwrap();
    let secret = secret.secret_code().unwrap().to_string();
    env.client
        .verify_software_token()
        .access_token(&token)
        .user_code(code_now(env, &secret))
        .send()
        .await
        .unwrap();
    env.client
        .set_user_mfa_preference()
        .access_token(&token)
        .software_token_mfa_settings(token_settings(true, true))
        .send()
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let (mut mismatches, mut exceeded) = (0u64, 0u64);
    'rounds: for _ in 0..20 {
        let out = env
            .client
            .initiate_auth()
            .client_id(&client)
            .auth_flow(cip::types::AuthFlowType::UserPasswordAuth)
            .auth_parameters("USERNAME", email)
            .auth_parameters("PASSWORD", PASSWORD)
            .send()
            .await;
        let out = match out.map_err(err_name) {
            Ok(out) => out,
            Err(e) if e == "NotAuthorizedException: Password attempts exceeded" => {
                exceeded += 1;
                continue;
            }
            Err(e) => panic!("{e}"),
        };
        assert_eq!(out.challenge_name(), Some(&cip::types::ChallengeNameType::SoftwareTokenMfa));
        let session = out.session().unwrap().to_string();
        for _ in 0..5 {
            let e = env
                .client
                .respond_to_auth_challenge()
                .client_id(&client)
                .challenge_name(cip::types::ChallengeNameType::SoftwareTokenMfa)
                .session(&session)
                .challenge_responses("USERNAME", email)
                .challenge_responses("SOFTWARE_TOKEN_MFA_CODE", wrong_code(env, &secret))
                .send()
                .await
                .map_err(err_name)
                .unwrap_err();
            match e.as_str() {
                "CodeMismatchException: Invalid code or auth state for the user." => mismatches += 1,
                "NotAuthorizedException: Password attempts exceeded" => {
                    exceeded += 1;
                    continue 'rounds;
                }
                // The session's own five tries ran out.
                e if e.starts_with("NotAuthorizedException: Invalid session") => continue 'rounds,
                e => panic!("{e}"),
            }
        }
    }
    let schedule = tessera_core::lockout::Backoff {
        free_failures: 5,
        max_lockout_secs: 3600,
        forget_after_secs: 86_400,
    };
    let allowed = schedule.max_failures_in(started.elapsed().as_secs() as i64 + 1).unwrap();
    // a25d902: 100 codes checked here (5 per session, 20 sessions: the password lockout of 1 s,
    // 2 s, … was over by the next sign-in on a slow store).
    assert!(mismatches <= allowed, "{mismatches} codes checked, {allowed} allowed");
    assert!(exceeded > 0);
});

on_both_stores!(a_reused_totp_code_is_expired_and_no_wrong_guess, |env| {
    let used = "ExpiredCodeException: Your software token has already been used once.";
    // Two users of one pool with verified, preferred tokens: (client, secret, code verified with).
    let (pool, client, token) = totp_pool_user(env, "reuse@example.com").await;
    let mut users = Vec::new();
    for email in ["reuse@example.com", "guess@example.com"] {
        let token = if email == "reuse@example.com" {
            token.clone()
        } else {
            env.confirmed_user(&client, email).await;
            let t = env.password_sign_in(&client, email, PASSWORD).await.unwrap();
            t.access_token().unwrap().to_string()
        };
        let secret = env.client.associate_software_token().access_token(&token).send().await.unwrap();
        let secret = secret.secret_code().unwrap().to_string();
        let code = code_now(env, &secret);
        env.client.verify_software_token().access_token(&token).user_code(&code).send().await.unwrap();
        env.client
            .set_user_mfa_preference()
            .access_token(&token)
            .software_token_mfa_settings(token_settings(true, true))
            .send()
            .await
            .unwrap();
        users.push((email, secret, code));
    }
    let client = client.as_str();
    let sign_in = |email: &'static str| async move {
        env.client
            .initiate_auth()
            .client_id(client)
            .auth_flow(cip::types::AuthFlowType::UserPasswordAuth)
            .auth_parameters("USERNAME", email)
            .auth_parameters("PASSWORD", PASSWORD)
            .send()
            .await
            .map_err(err_name)
    };
    let answer = |email: &'static str, session: String, code: String| async move {
        env.client
            .respond_to_auth_challenge()
            .client_id(client)
            .challenge_name(cip::types::ChallengeNameType::SoftwareTokenMfa)
            .session(session)
            .challenge_responses("USERNAME", email)
            .challenge_responses("SOFTWARE_TOKEN_MFA_CODE", code)
            .send()
            .await
            .map_err(err_name)
    };
    const N: usize = 12;

    // The code VerifySoftwareToken accepted, sent again at sign-in (moto's AWS-verified case),
    // N times: each answer says so, and nothing counts (no lockout, the session stays).
    let (email, secret, verified_code) = users[0].clone();
    let email: &'static str = email;
    let session = sign_in(email).await.unwrap().session().unwrap().to_string();
    for i in 0..N {
        let e = answer(email, session.clone(), verified_code.clone()).await.unwrap_err();
        assert_eq!(e, used, "reuse {i}");
    }
    env.clock.advance_secs(30);
    let fresh = code_now(env, &secret);
    let out = answer(email, session, fresh.clone()).await.unwrap();
    assert!(out.authentication_result().is_some());
    // A code accepted at sign-in is spent the same way, in a new sign-in.
    let session = sign_in(email).await.unwrap().session().unwrap().to_string();
    for _ in 0..N {
        assert_eq!(answer(email, session.clone(), fresh.clone()).await.unwrap_err(), used);
    }
    let u = env.client.admin_get_user().user_pool_id(&pool).username(email).send().await.unwrap();
    assert!(u.enabled());
    env.clock.advance_secs(30);
    assert!(answer(email, session, code_now(env, &secret)).await.unwrap().authentication_result().is_some());

    // N wrong codes, by contrast, run into the lockout.
    let (email, secret, _) = users[1].clone();
    let email: &'static str = email;
    let (mut wrong, mut locked) = (0, false);
    'rounds: while wrong < N {
        let session = match sign_in(email).await {
            Ok(out) => out.session().unwrap().to_string(),
            Err(e) if e == "NotAuthorizedException: Password attempts exceeded" => {
                locked = true;
                break;
            }
            Err(e) => panic!("{e}"),
        };
        while wrong < N {
            match answer(email, session.clone(), wrong_code(env, &secret)).await.unwrap_err().as_str() {
                "CodeMismatchException: Invalid code or auth state for the user." => wrong += 1,
                "NotAuthorizedException: Password attempts exceeded" => {
                    locked = true;
                    break 'rounds;
                }
                e if e.starts_with("NotAuthorizedException: Invalid session") => continue 'rounds,
                e => panic!("{e}"),
            }
        }
    }
    assert!(locked, "{wrong} wrong codes and no lockout");
});
