//! The sign-in state machine past the password: CUSTOM_AUTH started with SRP_A, the MFA
//! challenges (SMS_MFA, SOFTWARE_TOKEN_MFA, SELECT_MFA_TYPE, MFA_SETUP) and the device ones
//! (NewDeviceMetadata, DEVICE_SRP_AUTH, DEVICE_PASSWORD_VERIFIER), with the trigger sources
//! that come with them.

use crate::common::*;
use crate::lambda_double::{arn, Reply};
use crate::on_both_stores;
use crate::srp_proof::{device_verifier, timestamp_now, SrpClient};
use aws_sdk_cognitoidentityprovider as cip;
use cip::types::{AuthFlowType, ChallengeNameType, LambdaConfigType};
use serde_json::{json, Value};
use std::collections::HashMap;

const FLOWS: &[&str] = &[
    "ALLOW_USER_SRP_AUTH",
    "ALLOW_USER_PASSWORD_AUTH",
    "ALLOW_ADMIN_USER_PASSWORD_AUTH",
    "ALLOW_CUSTOM_AUTH",
    "ALLOW_REFRESH_TOKEN_AUTH",
];

fn suffix(pool: &str) -> &str {
    pool.split_once('_').unwrap().1
}

/// InitiateAuth(USER_SRP_AUTH) and the PASSWORD_VERIFIER answer; returns the answer's output.
async fn srp_sign_in(
    env: &TestEnv,
    pool: &str,
    client_id: &str,
    username: &str,
    password: &str,
    device_key: Option<&str>,
) -> Result<cip::operation::respond_to_auth_challenge::RespondToAuthChallengeOutput, String> {
    let srp = SrpClient::new();
    let mut init = env
        .client
        .initiate_auth()
        .client_id(client_id)
        .auth_flow(AuthFlowType::UserSrpAuth)
        .auth_parameters("USERNAME", username)
        .auth_parameters("SRP_A", srp.srp_a());
    if let Some(k) = device_key {
        init = init.auth_parameters("DEVICE_KEY", k);
    }
    let out = init.send().await.map_err(err_name)?;
    assert_eq!(out.challenge_name(), Some(&ChallengeNameType::PasswordVerifier));
    let params = out.challenge_parameters().unwrap().clone();
    answer_verifier(env, pool, client_id, &srp, password, &params, out.session(), device_key).await
}

#[allow(clippy::too_many_arguments)]
async fn answer_verifier(
    env: &TestEnv,
    pool: &str,
    client_id: &str,
    srp: &SrpClient,
    password: &str,
    params: &HashMap<String, String>,
    session: Option<&str>,
    device_key: Option<&str>,
) -> Result<cip::operation::respond_to_auth_challenge::RespondToAuthChallengeOutput, String> {
    let user_id = params["USER_ID_FOR_SRP"].clone();
    let ts = timestamp_now();
    let signature = srp.signature(suffix(pool), &user_id, password, params, &ts);
    let mut answer = env
        .client
        .respond_to_auth_challenge()
        .client_id(client_id)
        .challenge_name(ChallengeNameType::PasswordVerifier)
        .set_session(session.map(str::to_string))
        .challenge_responses("USERNAME", &user_id)
        .challenge_responses("PASSWORD_CLAIM_SECRET_BLOCK", &params["SECRET_BLOCK"])
        .challenge_responses("PASSWORD_CLAIM_SIGNATURE", signature)
        .challenge_responses("TIMESTAMP", ts);
    if let Some(k) = device_key {
        answer = answer.challenge_responses("DEVICE_KEY", k);
    }
    answer.send().await.map_err(err_name)
}

fn claims(jwt: &str) -> Value {
    use base64::Engine;
    let payload = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).unwrap())
        .unwrap()
}

on_both_stores!(custom_auth_can_start_with_srp_and_the_password_verifier, |env| {
    let lambda = LambdaConfigType::builder()
        .define_auth_challenge(arn("define"))
        .create_auth_challenge(arn("create"))
        .verify_auth_challenge_response(arn("verify"))
        .build();
    let pool = env.pool(|b| b.lambda_config(lambda)).await;
    let (client_id, _) = env.app_client(&pool, FLOWS, false).await;
    env.admin_user(&pool, "ines", &[]).await;
    // Define: SRP_A → PASSWORD_VERIFIER → one CUSTOM_CHALLENGE → tokens.
    env.lambda.on(|function, e| {
        let session = e["request"]["session"].as_array().cloned().unwrap_or_default();
        let names: Vec<&str> = session.iter().filter_map(|r| r["challengeName"].as_str()).collect();
        match function {
            "define" => Reply::Respond(match names.as_slice() {
                ["SRP_A"] => json!({"challengeName": "PASSWORD_VERIFIER", "issueTokens": false}),
                ["SRP_A", "PASSWORD_VERIFIER"] => json!({"challengeName": "CUSTOM_CHALLENGE", "issueTokens": false}),
                _ if session.last().is_some_and(|r| r["challengeResult"] == json!(true)) => {
                    json!({"issueTokens": true})
                }
                _ => json!({"failAuthentication": true}),
            }),
            "create" => Reply::Respond(json!({
                "publicChallengeParameters": {"question": "2+3"},
                "privateChallengeParameters": {"answer": "5"},
            })),
            "verify" => Reply::Respond(json!({
                "answerCorrect": e["request"]["challengeAnswer"] == e["request"]["privateChallengeParameters"]["answer"]
            })),
            _ => Reply::Respond(e["response"].clone()),
        }
    });
    let start = |srp: &SrpClient| {
        env.client
            .initiate_auth()
            .client_id(&client_id)
            .auth_flow(AuthFlowType::CustomAuth)
            .auth_parameters("USERNAME", "ines")
            .auth_parameters("CHALLENGE_NAME", "SRP_A")
            .auth_parameters("SRP_A", srp.srp_a())
            .send()
    };
    // A wrong password ends the flow at the verifier.
    let srp = SrpClient::new();
    let out = start(&srp).await.unwrap();
    assert_eq!(out.challenge_name(), Some(&ChallengeNameType::PasswordVerifier));
    let params = out.challenge_parameters().unwrap().clone();
    let wrong =
        answer_verifier(env, &pool, &client_id, &srp, "Wrong-Horse-1", &params, out.session(), None).await;
    assert_eq!(wrong.unwrap_err(), "NotAuthorizedException: Incorrect username or password.");
    // The right one goes on to the custom challenge.
    env.lambda.clear();
    let srp = SrpClient::new();
    let out = start(&srp).await.unwrap();
    let params = out.challenge_parameters().unwrap().clone();
    assert_eq!(params["USER_ID_FOR_SRP"], "ines");
    let next =
        answer_verifier(env, &pool, &client_id, &srp, PASSWORD, &params, out.session(), None).await.unwrap();
    assert_eq!(next.challenge_name(), Some(&ChallengeNameType::CustomChallenge));
    assert_eq!(next.challenge_parameters().unwrap()["question"], "2+3");
    let done = env
        .client
        .respond_to_auth_challenge()
        .client_id(&client_id)
        .challenge_name(ChallengeNameType::CustomChallenge)
        .session(next.session().unwrap())
        .challenge_responses("USERNAME", "ines")
        .challenge_responses("ANSWER", "5")
        .send()
        .await
        .unwrap();
    assert!(done.authentication_result().and_then(|r| r.access_token()).is_some());
    // Define saw the SRP_A round, then the verifier's, then the custom one.
    let sessions: Vec<Vec<(String, bool)>> = env
        .lambda
        .events("define")
        .iter()
        .map(|e| {
            e["request"]["session"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| {
                    (r["challengeName"].as_str().unwrap().to_string(), r["challengeResult"] == json!(true))
                })
                .collect()
        })
        .collect();
    assert_eq!(
        sessions,
        vec![
            vec![("SRP_A".to_string(), true)],
            vec![("SRP_A".to_string(), true), ("PASSWORD_VERIFIER".to_string(), true)],
            vec![
                ("SRP_A".to_string(), true),
                ("PASSWORD_VERIFIER".to_string(), true),
                ("CUSTOM_CHALLENGE".to_string(), true)
            ],
        ]
    );
    // PASSWORD_VERIFIER anywhere else is a bad Define response.
    env.lambda.on(|_, _| Reply::Respond(json!({"challengeName": "PASSWORD_VERIFIER", "issueTokens": false})));
    let e = env
        .client
        .initiate_auth()
        .client_id(&client_id)
        .auth_flow(AuthFlowType::CustomAuth)
        .auth_parameters("USERNAME", "ines")
        .send()
        .await
        .map_err(err_name)
        .unwrap_err();
    assert_eq!(e, "InvalidLambdaResponseException: DefineAuthChallenge returned PASSWORD_VERIFIER, which can only follow SRP_A.");
});

on_both_stores!(srp_sign_in_checks_the_proof_and_the_state_around_it, |env| {
    let pool = env.pool(|b| b).await;
    let (client_id, _) = env.app_client(&pool, FLOWS, false).await;
    env.admin_user(&pool, "jana", &[]).await;
    let ok = srp_sign_in(env, &pool, &client_id, "jana", PASSWORD, None).await.unwrap();
    let tokens = ok.authentication_result().unwrap();
    assert_eq!(claims(tokens.id_token().unwrap())["cognito:username"], "jana");
    assert!(tokens.refresh_token().is_some());
    let wrong = srp_sign_in(env, &pool, &client_id, "jana", "Wrong-Horse-1", None).await;
    assert_eq!(wrong.unwrap_err(), "NotAuthorizedException: Incorrect username or password.");
    // The secret block leads back to the session: an answer without `Session` works (pycognito
    // sends none), and a used one is dead.
    let srp = SrpClient::new();
    let out = env
        .client
        .initiate_auth()
        .client_id(&client_id)
        .auth_flow(AuthFlowType::UserSrpAuth)
        .auth_parameters("USERNAME", "jana")
        .auth_parameters("SRP_A", srp.srp_a())
        .send()
        .await
        .unwrap();
    let params = out.challenge_parameters().unwrap().clone();
    let done = answer_verifier(env, &pool, &client_id, &srp, PASSWORD, &params, None, None).await;
    assert!(done.unwrap().authentication_result().is_some());
    let again = answer_verifier(env, &pool, &client_id, &srp, PASSWORD, &params, None, None).await;
    assert_eq!(again.unwrap_err(), "NotAuthorizedException: Invalid session for the user.");
    // A stale timestamp is refused.
    let srp = SrpClient::new();
    let out = env
        .client
        .initiate_auth()
        .client_id(&client_id)
        .auth_flow(AuthFlowType::UserSrpAuth)
        .auth_parameters("USERNAME", "jana")
        .auth_parameters("SRP_A", srp.srp_a())
        .send()
        .await
        .unwrap();
    let params = out.challenge_parameters().unwrap().clone();
    let old = crate::srp_proof::timestamp_at(1_000_000_000);
    let signature = srp.signature(suffix(&pool), "jana", PASSWORD, &params, &old);
    let e = env
        .client
        .respond_to_auth_challenge()
        .client_id(&client_id)
        .challenge_name(ChallengeNameType::PasswordVerifier)
        .challenge_responses("USERNAME", "jana")
        .challenge_responses("PASSWORD_CLAIM_SECRET_BLOCK", &params["SECRET_BLOCK"])
        .challenge_responses("PASSWORD_CLAIM_SIGNATURE", signature)
        .challenge_responses("TIMESTAMP", old)
        .send()
        .await
        .map_err(err_name)
        .unwrap_err();
    assert_eq!(e, "NotAuthorizedException: TIMESTAMP is more than 5 minutes away from the server's time.");
    // A = 0 (mod N) is refused before anything else.
    for bad in ["0", &tessera_core::srp::pad_hex(&tessera_core::srp::n())] {
        let e = env
            .client
            .initiate_auth()
            .client_id(&client_id)
            .auth_flow(AuthFlowType::UserSrpAuth)
            .auth_parameters("USERNAME", "jana")
            .auth_parameters("SRP_A", bad)
            .send()
            .await
            .map_err(err_name)
            .unwrap_err();
        assert_eq!(e, "InvalidParameterException: SRP_A is invalid: A mod N must not be 0.");
    }
    // Unknown users: UserNotFoundException, or with PreventUserExistenceErrors a challenge
    // that fails like a wrong password.
    let e = srp_sign_in(env, &pool, &client_id, "nobody", PASSWORD, None).await.unwrap_err();
    assert_eq!(e, "UserNotFoundException: User does not exist.");
    let (hidden, _) = env.app_client(&pool, FLOWS, false).await;
    env.client
        .update_user_pool_client()
        .user_pool_id(&pool)
        .client_id(&hidden)
        .set_explicit_auth_flows(Some(
            FLOWS.iter().map(|f| cip::types::ExplicitAuthFlowsType::from(*f)).collect(),
        ))
        .prevent_user_existence_errors(cip::types::PreventUserExistenceErrorTypes::Enabled)
        .send()
        .await
        .unwrap();
    let e = srp_sign_in(env, &pool, &hidden, "nobody", PASSWORD, None).await.unwrap_err();
    assert_eq!(e, "NotAuthorizedException: Incorrect username or password.");
    // A disabled user is refused at InitiateAuth.
    env.client.admin_disable_user().user_pool_id(&pool).username("jana").send().await.unwrap();
    let e = srp_sign_in(env, &pool, &client_id, "jana", PASSWORD, None).await.unwrap_err();
    assert_eq!(e, "NotAuthorizedException: User is disabled.");
});

/// InitiateAuth with USER_PASSWORD_AUTH and the test password: a challenge is expected.
async fn password_init(
    env: &TestEnv,
    client_id: &str,
    username: &str,
) -> cip::operation::initiate_auth::InitiateAuthOutput {
    env.client
        .initiate_auth()
        .client_id(client_id)
        .auth_flow(AuthFlowType::UserPasswordAuth)
        .auth_parameters("USERNAME", username)
        .auth_parameters("PASSWORD", PASSWORD)
        .send()
        .await
        .expect("InitiateAuth")
}

fn now_secs(env: &TestEnv) -> i64 {
    use tessera_core::ports::Clock;
    env.clock.now_millis() / 1000
}

fn sms_configuration() -> cip::types::SmsConfigurationType {
    cip::types::SmsConfigurationType::builder()
        .sns_caller_arn("arn:aws:iam::123456789012:role/tessera-sms")
        .external_id("tessera")
        .build()
}

/// Turns software-token MFA on for a pool, with `mode` (and SMS when `sms`).
async fn enable_totp(env: &TestEnv, pool: &str, mode: cip::types::UserPoolMfaType, sms: bool) {
    let mut call = env
        .client
        .set_user_pool_mfa_config()
        .user_pool_id(pool)
        .software_token_mfa_configuration(
            cip::types::SoftwareTokenMfaConfigType::builder().enabled(true).build(),
        )
        .mfa_configuration(mode);
    if sms {
        call = call.sms_mfa_configuration(
            cip::types::SmsMfaConfigType::builder().sms_configuration(sms_configuration()).build(),
        );
    }
    call.send().await.expect("SetUserPoolMfaConfig");
}

/// Associates and verifies a software token with an access token; returns its secret.
async fn add_totp(env: &TestEnv, access_token: &str) -> String {
    let secret = env
        .client
        .associate_software_token()
        .access_token(access_token)
        .send()
        .await
        .expect("associate")
        .secret_code()
        .unwrap()
        .to_string();
    let verified = env
        .client
        .verify_software_token()
        .access_token(access_token)
        .user_code(crate::srp_proof::totp(&secret, now_secs(env)))
        .friendly_device_name("phone")
        .send()
        .await
        .expect("verify");
    assert_eq!(verified.status(), Some(&cip::types::VerifySoftwareTokenResponseType::Success));
    env.clock.advance_secs(30);
    secret
}

async fn respond(
    env: &TestEnv,
    client_id: &str,
    name: ChallengeNameType,
    session: Option<&str>,
    answers: &[(&str, &str)],
) -> Result<cip::operation::respond_to_auth_challenge::RespondToAuthChallengeOutput, String> {
    let mut call = env
        .client
        .respond_to_auth_challenge()
        .client_id(client_id)
        .challenge_name(name)
        .set_session(session.map(str::to_string));
    for (k, v) in answers {
        call = call.challenge_responses(*k, *v);
    }
    call.send().await.map_err(err_name)
}

on_both_stores!(sms_mfa_sends_a_code_and_checks_it, |env| {
    let lambda = LambdaConfigType::builder().custom_message(arn("message")).build();
    let pool = env
        .pool(|b| {
            b.mfa_configuration(cip::types::UserPoolMfaType::On)
                .sms_configuration(sms_configuration())
                .lambda_config(lambda)
        })
        .await;
    let (client_id, _) = env.app_client(&pool, FLOWS, false).await;
    env.admin_user(&pool, "sami", &[("phone_number", "+15555550100")]).await;
    env.lambda.on(|_, e| {
        let mut r = e["response"].clone();
        r["smsMessage"] = json!(format!(
            "Sign-in code for {}: {}",
            e["userName"].as_str().unwrap(),
            e["request"]["codeParameter"].as_str().unwrap()
        ));
        Reply::Respond(r)
    });
    let out = password_init(env, &client_id, "sami").await;
    assert_eq!(out.challenge_name(), Some(&ChallengeNameType::SmsMfa));
    let params = out.challenge_parameters().unwrap();
    assert_eq!(params["CODE_DELIVERY_DELIVERY_MEDIUM"], "SMS");
    assert!(params["CODE_DELIVERY_DESTINATION"].ends_with("0100"), "{params:?}");
    assert!(!params["CODE_DELIVERY_DESTINATION"].contains("5555550"), "masked: {params:?}");
    let sms = env.messages_to("+15555550100");
    let code = sms.last().unwrap().code.clone().unwrap();
    assert_eq!(sms.last().unwrap().body, format!("Sign-in code for sami: {code}"));
    let event = env.lambda.events("message").pop().unwrap();
    assert_eq!(event["triggerSource"], "CustomMessage_Authentication");
    let session = out.session().unwrap();
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let e = respond(
        env,
        &client_id,
        ChallengeNameType::SmsMfa,
        Some(session),
        &[("USERNAME", "sami"), ("SMS_MFA_CODE", wrong)],
    )
    .await;
    assert_eq!(e.unwrap_err(), "CodeMismatchException: Invalid code or auth state for the user.");
    // The same session takes another try.
    let done = respond(
        env,
        &client_id,
        ChallengeNameType::SmsMfa,
        Some(session),
        &[("USERNAME", "sami"), ("SMS_MFA_CODE", &code)],
    )
    .await
    .unwrap();
    assert!(done.authentication_result().and_then(|r| r.id_token()).is_some());
    let again = respond(
        env,
        &client_id,
        ChallengeNameType::SmsMfa,
        Some(session),
        &[("USERNAME", "sami"), ("SMS_MFA_CODE", &code)],
    )
    .await;
    assert_eq!(again.unwrap_err(), "NotAuthorizedException: Invalid session for the user.");
    // The code proved the phone.
    let got = env.client.admin_get_user().user_pool_id(&pool).username("sami").send().await.unwrap();
    let verified =
        got.user_attributes().iter().find(|a| a.name() == "phone_number_verified").and_then(|a| a.value());
    assert_eq!(verified, Some("true"));
    // Five wrong codes end the session.
    let out = password_init(env, &client_id, "sami").await;
    let session = out.session().unwrap();
    let code = env.last_code("+15555550100");
    let wrong = if code == "000000" { "111111" } else { "000000" };
    for _ in 0..5 {
        let e = respond(
            env,
            &client_id,
            ChallengeNameType::SmsMfa,
            Some(session),
            &[("USERNAME", "sami"), ("SMS_MFA_CODE", wrong)],
        )
        .await;
        assert_eq!(e.unwrap_err(), "CodeMismatchException: Invalid code or auth state for the user.");
    }
    let e = respond(
        env,
        &client_id,
        ChallengeNameType::SmsMfa,
        Some(session),
        &[("USERNAME", "sami"), ("SMS_MFA_CODE", &code)],
    )
    .await;
    assert_eq!(e.unwrap_err(), "NotAuthorizedException: Invalid session for the user.");
});

on_both_stores!(software_token_mfa_after_srp_with_select_and_replay_protection, |env| {
    let pool = env.pool(|b| b.sms_configuration(sms_configuration())).await;
    enable_totp(env, &pool, cip::types::UserPoolMfaType::Optional, true).await;
    let (client_id, _) = env.app_client(&pool, FLOWS, false).await;
    env.admin_user(&pool, "toti", &[("phone_number", "+15555550111")]).await;
    // No MFA yet: tokens straight away.
    let first = srp_sign_in(env, &pool, &client_id, "toti", PASSWORD, None).await.unwrap();
    let access = first.authentication_result().unwrap().access_token().unwrap().to_string();
    let secret = add_totp(env, &access).await;
    env.client
        .set_user_mfa_preference()
        .access_token(&access)
        .software_token_mfa_settings(
            cip::types::SoftwareTokenMfaSettingsType::builder().enabled(true).preferred_mfa(true).build(),
        )
        .send()
        .await
        .unwrap();
    // PASSWORD_VERIFIER, then SOFTWARE_TOKEN_MFA.
    let out = srp_sign_in(env, &pool, &client_id, "toti", PASSWORD, None).await.unwrap();
    assert_eq!(out.challenge_name(), Some(&ChallengeNameType::SoftwareTokenMfa));
    assert_eq!(out.challenge_parameters().unwrap()["FRIENDLY_DEVICE_NAME"], "phone");
    let session = out.session().unwrap().to_string();
    let code = crate::srp_proof::totp(&secret, now_secs(env));
    let wrong = if code == "000000" { "111111" } else { "000000" };
    // SDKs send both keys; the other is ignored.
    let e = respond(
        env,
        &client_id,
        ChallengeNameType::SoftwareTokenMfa,
        Some(&session),
        &[("USERNAME", "toti"), ("SOFTWARE_TOKEN_MFA_CODE", wrong), ("SMS_MFA_CODE", wrong)],
    )
    .await;
    assert_eq!(e.unwrap_err(), "CodeMismatchException: Invalid code or auth state for the user.");
    let done = respond(
        env,
        &client_id,
        ChallengeNameType::SoftwareTokenMfa,
        Some(&session),
        &[("USERNAME", "toti"), ("SOFTWARE_TOKEN_MFA_CODE", &code), ("SMS_MFA_CODE", &code)],
    )
    .await
    .unwrap();
    assert!(done.authentication_result().and_then(|r| r.access_token()).is_some());
    // The same code does not work twice, and says so as Cognito does.
    let out = password_init(env, &client_id, "toti").await;
    let e = respond(
        env,
        &client_id,
        ChallengeNameType::SoftwareTokenMfa,
        out.session(),
        &[("USERNAME", "toti"), ("SOFTWARE_TOKEN_MFA_CODE", &code)],
    )
    .await;
    assert_eq!(e.unwrap_err(), "ExpiredCodeException: Your software token has already been used once.");
    env.clock.advance_secs(30);
    let code = crate::srp_proof::totp(&secret, now_secs(env));
    let done = respond(
        env,
        &client_id,
        ChallengeNameType::SoftwareTokenMfa,
        out.session(),
        &[("USERNAME", "toti"), ("SOFTWARE_TOKEN_MFA_CODE", &code)],
    )
    .await;
    assert!(done.unwrap().authentication_result().is_some());
    // Both methods on and none preferred: SELECT_MFA_TYPE.
    env.client
        .admin_set_user_mfa_preference()
        .user_pool_id(&pool)
        .username("toti")
        .sms_mfa_settings(
            cip::types::SmsMfaSettingsType::builder().enabled(true).preferred_mfa(false).build(),
        )
        .software_token_mfa_settings(
            cip::types::SoftwareTokenMfaSettingsType::builder().enabled(true).preferred_mfa(false).build(),
        )
        .send()
        .await
        .unwrap();
    let out = password_init(env, &client_id, "toti").await;
    assert_eq!(out.challenge_name(), Some(&ChallengeNameType::SelectMfaType));
    assert_eq!(out.challenge_parameters().unwrap()["MFAS_CAN_CHOOSE"], r#"["SMS_MFA","SOFTWARE_TOKEN_MFA"]"#);
    let e = respond(
        env,
        &client_id,
        ChallengeNameType::SelectMfaType,
        out.session(),
        &[("USERNAME", "toti"), ("ANSWER", "EMAIL_OTP")],
    )
    .await;
    assert!(e.unwrap_err().starts_with("InvalidParameterException: ANSWER must be one of"));
    let chosen = respond(
        env,
        &client_id,
        ChallengeNameType::SelectMfaType,
        out.session(),
        &[("USERNAME", "toti"), ("ANSWER", "SOFTWARE_TOKEN_MFA")],
    )
    .await
    .unwrap();
    assert_eq!(chosen.challenge_name(), Some(&ChallengeNameType::SoftwareTokenMfa));
    env.clock.advance_secs(30);
    let code = crate::srp_proof::totp(&secret, now_secs(env));
    let done = respond(
        env,
        &client_id,
        ChallengeNameType::SoftwareTokenMfa,
        chosen.session(),
        &[("USERNAME", "toti"), ("SOFTWARE_TOKEN_MFA_CODE", &code)],
    )
    .await;
    assert!(done.unwrap().authentication_result().is_some());
});

on_both_stores!(mfa_setup_during_sign_in_with_the_session, |env| {
    let pool = env
        .pool(|b| b.mfa_configuration(cip::types::UserPoolMfaType::On).sms_configuration(sms_configuration()))
        .await;
    enable_totp(env, &pool, cip::types::UserPoolMfaType::On, true).await;
    let (client_id, _) = env.app_client(&pool, FLOWS, false).await;
    env.admin_user(&pool, "newt", &[]).await;
    let out = password_init(env, &client_id, "newt").await;
    assert_eq!(out.challenge_name(), Some(&ChallengeNameType::MfaSetup));
    assert!(out.challenge_parameters().unwrap()["MFAS_CAN_SETUP"].contains("SOFTWARE_TOKEN_MFA"));
    let session = out.session().unwrap();
    let e =
        respond(env, &client_id, ChallengeNameType::MfaSetup, Some(session), &[("USERNAME", "newt")]).await;
    assert!(e.unwrap_err().starts_with("InvalidParameterException: MFA_SETUP is answered after"));
    let associated = env.client.associate_software_token().session(session).send().await.unwrap();
    let secret = associated.secret_code().unwrap().to_string();
    let verified = env
        .client
        .verify_software_token()
        .session(associated.session().unwrap())
        .user_code(crate::srp_proof::totp(&secret, now_secs(env)))
        .send()
        .await
        .unwrap();
    assert_eq!(verified.status(), Some(&cip::types::VerifySoftwareTokenResponseType::Success));
    let done =
        respond(env, &client_id, ChallengeNameType::MfaSetup, verified.session(), &[("USERNAME", "newt")])
            .await
            .unwrap();
    assert!(done.authentication_result().and_then(|r| r.access_token()).is_some());
    // From now on the token is asked for.
    env.clock.advance_secs(30);
    let out = password_init(env, &client_id, "newt").await;
    assert_eq!(out.challenge_name(), Some(&ChallengeNameType::SoftwareTokenMfa));
});

on_both_stores!(remembered_devices_prove_themselves_and_stand_in_for_mfa, |env| {
    let lambda = LambdaConfigType::builder()
        .post_authentication(arn("post"))
        .pre_token_generation(arn("tokens"))
        .build();
    let pool = env
        .pool(|b| {
            b.sms_configuration(sms_configuration()).lambda_config(lambda).device_configuration(
                cip::types::DeviceConfigurationType::builder()
                    .challenge_required_on_new_device(true)
                    .device_only_remembered_on_user_prompt(true)
                    .build(),
            )
        })
        .await;
    enable_totp(env, &pool, cip::types::UserPoolMfaType::Optional, false).await;
    let (client_id, _) = env.app_client(&pool, FLOWS, false).await;
    env.admin_user(&pool, "dora", &[]).await;
    // A first sign-in: a new device, announced to PostAuthentication.
    let first = srp_sign_in(env, &pool, &client_id, "dora", PASSWORD, None).await.unwrap();
    let result = first.authentication_result().unwrap();
    let metadata = result.new_device_metadata().expect("NewDeviceMetadata");
    let (device_key, group_key) =
        (metadata.device_key().unwrap().to_string(), metadata.device_group_key().unwrap().to_string());
    assert!(device_key.starts_with("us-east-1_"), "{device_key}");
    let access = result.access_token().unwrap().to_string();
    assert_eq!(claims(&access)["device_key"], device_key.as_str());
    assert_eq!(env.lambda.events("post").pop().unwrap()["request"]["newDeviceUsed"], true);
    let secret = add_totp(env, &access).await;
    env.client
        .set_user_mfa_preference()
        .access_token(&access)
        .software_token_mfa_settings(
            cip::types::SoftwareTokenMfaSettingsType::builder().enabled(true).preferred_mfa(true).build(),
        )
        .send()
        .await
        .unwrap();
    // The app confirms the device with its verifier and the user remembers it.
    let device_password = "device-secret-Xy9";
    let (verifier, salt) = device_verifier(&group_key, &device_key, device_password);
    let confirmed = env
        .client
        .confirm_device()
        .access_token(&access)
        .device_key(&device_key)
        .device_name("test browser")
        .device_secret_verifier_config(
            cip::types::DeviceSecretVerifierConfigType::builder()
                .password_verifier(verifier)
                .salt(salt)
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert!(confirmed.user_confirmation_necessary());
    // Not yet remembered: MFA, then tokens for the known device (no new one).
    let out = srp_sign_in(env, &pool, &client_id, "dora", PASSWORD, Some(&device_key)).await.unwrap();
    assert_eq!(out.challenge_name(), Some(&ChallengeNameType::SoftwareTokenMfa));
    let code = crate::srp_proof::totp(&secret, now_secs(env));
    let next = respond(
        env,
        &client_id,
        ChallengeNameType::SoftwareTokenMfa,
        out.session(),
        &[("USERNAME", "dora"), ("SOFTWARE_TOKEN_MFA_CODE", &code)],
    )
    .await
    .unwrap();
    let result = next.authentication_result().expect("tokens after MFA");
    assert!(result.new_device_metadata().is_none());
    assert_eq!(claims(result.access_token().unwrap())["device_key"], device_key.as_str());
    env.client
        .update_device_status()
        .access_token(&access)
        .device_key(&device_key)
        .device_remembered_status(cip::types::DeviceRememberedStatusType::Remembered)
        .send()
        .await
        .unwrap();
    // Remembered: no MFA, only DEVICE_SRP_AUTH → DEVICE_PASSWORD_VERIFIER.
    env.lambda.clear();
    let device_sign_in = |password: &'static str| {
        let (pool, client_id, device_key, group_key) =
            (pool.clone(), client_id.clone(), device_key.clone(), group_key.clone());
        async move {
            let out = srp_sign_in(env, &pool, &client_id, "dora", PASSWORD, Some(&device_key)).await.unwrap();
            assert_eq!(out.challenge_name(), Some(&ChallengeNameType::DeviceSrpAuth));
            let srp = SrpClient::new();
            let verifier = respond(
                env,
                &client_id,
                ChallengeNameType::DeviceSrpAuth,
                out.session(),
                &[("USERNAME", "dora"), ("DEVICE_KEY", &device_key), ("SRP_A", &srp.srp_a())],
            )
            .await
            .unwrap();
            assert_eq!(verifier.challenge_name(), Some(&ChallengeNameType::DevicePasswordVerifier));
            let params = verifier.challenge_parameters().unwrap().clone();
            let ts = timestamp_now();
            let signature = srp.signature(&group_key, &device_key, password, &params, &ts);
            respond(
                env,
                &client_id,
                ChallengeNameType::DevicePasswordVerifier,
                verifier.session(),
                &[
                    ("USERNAME", "dora"),
                    ("DEVICE_KEY", &device_key),
                    ("PASSWORD_CLAIM_SECRET_BLOCK", &params["SECRET_BLOCK"]),
                    ("PASSWORD_CLAIM_SIGNATURE", &signature),
                    ("TIMESTAMP", &ts),
                ],
            )
            .await
        }
    };
    let done = device_sign_in(device_password).await.unwrap();
    let result = done.authentication_result().unwrap();
    assert!(result.new_device_metadata().is_none());
    assert_eq!(claims(result.access_token().unwrap())["device_key"], device_key.as_str());
    assert_eq!(
        env.lambda.events("tokens").pop().unwrap()["triggerSource"],
        "TokenGeneration_AuthenticateDevice"
    );
    assert_eq!(env.lambda.events("post").pop().unwrap()["request"]["newDeviceUsed"], false);
    let wrong = device_sign_in("not-the-device-secret").await;
    assert_eq!(wrong.unwrap_err(), "NotAuthorizedException: Incorrect username or password.");
    // An unknown device key: "Device does not exist." before the session is spent, so the same
    // answer without the key goes through (what amazon-cognito-identity-js does).
    let srp = SrpClient::new();
    let out = env
        .client
        .initiate_auth()
        .client_id(&client_id)
        .auth_flow(AuthFlowType::UserSrpAuth)
        .auth_parameters("USERNAME", "dora")
        .auth_parameters("SRP_A", srp.srp_a())
        .auth_parameters("DEVICE_KEY", "us-east-1_00000000-0000-4000-8000-000000000000")
        .send()
        .await
        .unwrap();
    let params = out.challenge_parameters().unwrap().clone();
    let e = answer_verifier(
        env,
        &pool,
        &client_id,
        &srp,
        PASSWORD,
        &params,
        out.session(),
        Some("us-east-1_00000000-0000-4000-8000-000000000000"),
    )
    .await;
    assert_eq!(e.unwrap_err(), "ResourceNotFoundException: Device does not exist.");
    let retried = answer_verifier(env, &pool, &client_id, &srp, PASSWORD, &params, out.session(), Some(""))
        .await
        .unwrap();
    assert_eq!(retried.challenge_name(), Some(&ChallengeNameType::SoftwareTokenMfa));
});
