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

/// A CONFIRMED user with the test password and these attributes.
async fn user(env: &TestEnv, pool: &str, username: &str, attrs: &[(&str, &str)]) {
    let mut create = env
        .client
        .admin_create_user()
        .user_pool_id(pool)
        .username(username)
        .message_action(cip::types::MessageActionType::Suppress);
    for (k, v) in attrs {
        create = create.user_attributes(attr(k, v));
    }
    create.send().await.expect("create user");
    env.client
        .admin_set_user_password()
        .user_pool_id(pool)
        .username(username)
        .password(PASSWORD)
        .permanent(true)
        .send()
        .await
        .expect("set password");
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
    user(env, &pool, "ines", &[]).await;
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
    user(env, &pool, "jana", &[]).await;
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
