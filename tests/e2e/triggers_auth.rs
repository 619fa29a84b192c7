//! The sign-in triggers against the Lambda double: PreAuthentication, PostAuthentication and
//! the CUSTOM_AUTH flow (DefineAuthChallenge, CreateAuthChallenge, VerifyAuthChallengeResponse):
//! when each fires, the exact events, what their responses do, and what a failing one changes.

use crate::common::*;
use crate::lambda_double::{arn, Reply};
use crate::on_both_stores;
use aws_sdk_cognitoidentityprovider as cip;
use cip::types::{AuthFlowType, ChallengeNameType, LambdaConfigType};
use serde_json::{json, Value};

const FLOWS: &[&str] = &[
    "ALLOW_USER_PASSWORD_AUTH",
    "ALLOW_ADMIN_USER_PASSWORD_AUTH",
    "ALLOW_CUSTOM_AUTH",
    "ALLOW_REFRESH_TOKEN_AUTH",
];

fn all_triggers() -> LambdaConfigType {
    LambdaConfigType::builder()
        .pre_authentication(arn("pre"))
        .post_authentication(arn("post"))
        .define_auth_challenge(arn("define"))
        .create_auth_challenge(arn("create"))
        .verify_auth_challenge_response(arn("verify"))
        .build()
}

/// A pool where email is an alias, with these triggers, and a client allowing every flow used here.
async fn setup(env: &TestEnv, lambda: LambdaConfigType) -> (String, String) {
    let pool =
        env.pool(|b| b.alias_attributes(cip::types::AliasAttributeType::Email).lambda_config(lambda)).await;
    let (client_id, _) = env.app_client(&pool, FLOWS, false).await;
    (pool, client_id)
}

/// The refresh-token origins (session families) stored for `username`, read straight from this
/// server's DynamoDB table; None on the embedded store, which cannot be listed while it is open.
async fn stored_origins(env: &TestEnv, username: &str) -> Option<usize> {
    use aws_sdk_dynamodb::types::AttributeValue;
    if env.data_dir().join("tessera.redb").exists() {
        return None;
    }
    let endpoint = dynamodb_endpoint()?;
    let ddb = tessera_aws::config::dynamodb_client(Some(&endpoint), "us-east-1").await;
    // This process's tables only (see TestEnv::start_configured).
    let prefix = format!("tessera-e2e-{}", std::process::id());
    let tables: Vec<String> = ddb
        .list_tables()
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .unwrap()
        .into_iter()
        .filter(|t| t.starts_with(&prefix))
        .collect();
    let mut count = 0;
    for table in tables {
        let pages = ddb
            .scan()
            .table_name(table)
            .filter_expression("begins_with(pk, :origin) AND contains(body, :user)")
            .expression_attribute_values(":origin", AttributeValue::S("ORIGIN#".into()))
            .expression_attribute_values(":user", AttributeValue::S(format!("\"username\":\"{username}\"")))
            .into_paginator()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .unwrap();
        count += pages.iter().map(|p| p.items().len()).sum::<usize>();
    }
    Some(count)
}

fn sorted_keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v.as_object().expect("an object").keys().cloned().collect();
    k.sort();
    k
}

/// The common header, exactly: every key, its JSON type and value.
fn assert_header(e: &Value, source: &str, pool: &str, username: &str, client_id: &str) {
    assert_eq!(
        sorted_keys(e),
        [
            "callerContext",
            "region",
            "request",
            "response",
            "triggerSource",
            "userName",
            "userPoolId",
            "version"
        ],
        "{e}"
    );
    assert_eq!(e["version"], json!("1"));
    assert_eq!(e["triggerSource"], json!(source));
    assert_eq!(e["region"], json!("us-east-1"));
    assert_eq!(e["userPoolId"], json!(pool));
    assert_eq!(e["userName"], json!(username));
    assert_eq!(sorted_keys(&e["callerContext"]), ["awsSdkVersion", "clientId"]);
    assert!(e["callerContext"]["awsSdkVersion"].as_str().unwrap().starts_with("aws-sdk-rust-"), "{e}");
    assert_eq!(e["callerContext"]["clientId"], json!(client_id));
}

/// `request.userAttributes` of the users made by [`user`]: strings only, with Cognito's
/// pseudo-attributes.
fn assert_user_attributes(attrs: &Value, email: &str) {
    let m = attrs.as_object().expect("userAttributes");
    assert!(m.values().all(Value::is_string), "{attrs}");
    assert_eq!(m["email"], json!(email));
    assert_eq!(m["email_verified"], json!("true"));
    assert_eq!(m["cognito:user_status"], json!("CONFIRMED"));
    assert_eq!(m["cognito:email_alias"], json!(email));
    assert!(m["sub"].as_str().is_some_and(|s| s.len() == 36));
}

fn metadata(pairs: &[(&str, &str)]) -> Option<std::collections::HashMap<String, String>> {
    (!pairs.is_empty()).then(|| pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect())
}

async fn password_sign_in_with(
    env: &TestEnv,
    client_id: &str,
    username: &str,
    password: &str,
    meta: &[(&str, &str)],
) -> Result<cip::types::AuthenticationResultType, String> {
    env.client
        .initiate_auth()
        .client_id(client_id)
        .auth_flow(AuthFlowType::UserPasswordAuth)
        .auth_parameters("USERNAME", username)
        .auth_parameters("PASSWORD", password)
        .set_client_metadata(metadata(meta))
        .send()
        .await
        .map_err(err_name)
        .map(|o| o.authentication_result().cloned().expect("tokens"))
}

async fn custom_start(
    env: &TestEnv,
    client_id: &str,
    username: &str,
    meta: &[(&str, &str)],
) -> Result<cip::operation::initiate_auth::InitiateAuthOutput, String> {
    env.client
        .initiate_auth()
        .client_id(client_id)
        .auth_flow(AuthFlowType::CustomAuth)
        .auth_parameters("USERNAME", username)
        .set_client_metadata(metadata(meta))
        .send()
        .await
        .map_err(err_name)
}

async fn custom_answer(
    env: &TestEnv,
    client_id: &str,
    username: &str,
    session: &str,
    answer: &str,
    meta: &[(&str, &str)],
) -> Result<cip::operation::respond_to_auth_challenge::RespondToAuthChallengeOutput, String> {
    env.client
        .respond_to_auth_challenge()
        .client_id(client_id)
        .challenge_name(ChallengeNameType::CustomChallenge)
        .session(session)
        .challenge_responses("USERNAME", username)
        .challenge_responses("ANSWER", answer)
        .set_client_metadata(metadata(meta))
        .send()
        .await
        .map_err(err_name)
}

/// The guide's CAPTCHA example: Define asks for a challenge until one is answered right (three
/// tries), Create shows a picture and keeps the answer private, Verify compares.
fn captcha(function: &str, e: &Value) -> Reply {
    let request = &e["request"];
    match function {
        "define" => {
            let session = request["session"].as_array().unwrap();
            if session.last().is_some_and(|r| r["challengeResult"] == json!(true)) {
                Reply::Respond(
                    json!({"challengeName": null, "issueTokens": true, "failAuthentication": false}),
                )
            } else if session.len() >= 3 {
                Reply::Respond(
                    json!({"challengeName": null, "issueTokens": false, "failAuthentication": true}),
                )
            } else {
                Reply::Respond(
                    json!({"challengeName": "CUSTOM_CHALLENGE", "issueTokens": false, "failAuthentication": false}),
                )
            }
        }
        "create" => Reply::Respond(json!({
            "publicChallengeParameters": {"captchaUrl": "url/123.jpg"},
            "privateChallengeParameters": {"answer": "5"},
            "challengeMetadata": "CAPTCHA_CHALLENGE",
        })),
        "verify" => Reply::Respond(json!({
            "answerCorrect": request["challengeAnswer"] == request["privateChallengeParameters"]["answer"]
        })),
        _ => Reply::Respond(e["response"].clone()),
    }
}

on_both_stores!(pre_and_post_authentication_on_password_sign_in_not_on_refresh, |env| {
    let (pool, client_id) = setup(
        env,
        LambdaConfigType::builder().pre_authentication(arn("pre")).post_authentication(arn("post")).build(),
    )
    .await;
    env.admin_user(&pool, "carol", &[("email", "carol@example.com"), ("email_verified", "true")]).await;

    // Signing in by the alias: the events name the user by the real username.
    let tokens = password_sign_in_with(env, &client_id, "carol@example.com", PASSWORD, &[("app", "web")])
        .await
        .unwrap();
    assert_eq!(
        env.lambda.sources(),
        ["PreAuthentication_Authentication", "PostAuthentication_Authentication"]
    );

    let pre = &env.lambda.events("pre")[0];
    assert_header(pre, "PreAuthentication_Authentication", &pool, "carol", &client_id);
    assert_eq!(sorted_keys(&pre["request"]), ["userAttributes", "userNotFound", "validationData"]);
    assert_user_attributes(&pre["request"]["userAttributes"], "carol@example.com");
    // InitiateAuth's ClientMetadata is PreAuthentication's validationData.
    assert_eq!(pre["request"]["validationData"], json!({"app": "web"}));
    assert_eq!(pre["request"]["userNotFound"], json!(false));
    assert_eq!(pre["response"], json!({}));

    let post = &env.lambda.events("post")[0];
    assert_header(post, "PostAuthentication_Authentication", &pool, "carol", &client_id);
    assert_eq!(sorted_keys(&post["request"]), ["clientMetadata", "newDeviceUsed", "userAttributes"]);
    assert_user_attributes(&post["request"]["userAttributes"], "carol@example.com");
    assert_eq!(post["request"]["newDeviceUsed"], json!(false));
    // …and is not passed on to PostAuthentication.
    assert_eq!(post["request"]["clientMetadata"], json!({}));
    assert_eq!(post["response"], json!({}));

    // Refreshing is not a sign-in.
    env.lambda.clear();
    env.refresh(&client_id, tokens.refresh_token().unwrap()).await.unwrap();
    assert!(env.lambda.calls().is_empty(), "{:?}", env.lambda.sources());

    // AdminInitiateAuth, the same pair.
    env.client
        .admin_initiate_auth()
        .user_pool_id(&pool)
        .client_id(&client_id)
        .auth_flow(AuthFlowType::AdminUserPasswordAuth)
        .auth_parameters("USERNAME", "carol")
        .auth_parameters("PASSWORD", PASSWORD)
        .client_metadata("via", "admin")
        .send()
        .await
        .unwrap();
    assert_eq!(
        env.lambda.sources(),
        ["PreAuthentication_Authentication", "PostAuthentication_Authentication"]
    );
    assert_eq!(env.lambda.events("pre")[0]["request"]["validationData"], json!({"via": "admin"}));

    // A wrong password: pre-auth ran (before the result was known), post-auth did not.
    env.lambda.clear();
    let e = password_sign_in_with(env, &client_id, "carol", "Wrong-Horse-9", &[]).await.unwrap_err();
    assert_eq!(e, "NotAuthorizedException: Incorrect username or password.");
    assert_eq!(env.lambda.sources(), ["PreAuthentication_Authentication"]);
    assert_eq!(env.lambda.events("pre")[0]["request"]["validationData"], json!({}));

    // An unknown user fires nothing.
    env.lambda.clear();
    let e = password_sign_in_with(env, &client_id, "nobody", PASSWORD, &[]).await.unwrap_err();
    assert_eq!(e, "UserNotFoundException: User does not exist.");
    assert!(env.lambda.calls().is_empty());
});

on_both_stores!(failing_pre_authentication_refuses_and_is_not_an_attempt, |env| {
    let (pool, client_id) =
        setup(env, LambdaConfigType::builder().pre_authentication(arn("pre")).build()).await;
    env.admin_user(&pool, "dave", &[("email", "dave@example.com"), ("email_verified", "true")]).await;
    // The function refuses sign-ins whose metadata asks it to.
    env.lambda.on(|_, e| {
        if e["request"]["validationData"]["block"] == json!("yes") {
            Reply::Fail("Cannot authenticate users from this user pool app client".into())
        } else {
            Reply::Respond(e["response"].clone())
        }
    });
    let blocked = [("block", "yes")];
    let e = password_sign_in_with(env, &client_id, "dave", PASSWORD, &blocked).await.unwrap_err();
    assert_eq!(
        e,
        "UserLambdaValidationException: PreAuthentication failed with error Cannot authenticate users from this user pool app client."
    );

    // Four wrong passwords: one short of a lockout.
    for _ in 0..4 {
        let e = password_sign_in_with(env, &client_id, "dave", "Wrong-Horse-9", &[]).await.unwrap_err();
        assert_eq!(e, "NotAuthorizedException: Incorrect username or password.");
    }
    // Refused sign-ins do not count, whatever their password…
    for _ in 0..5 {
        let e = password_sign_in_with(env, &client_id, "dave", "Wrong-Horse-9", &blocked).await.unwrap_err();
        assert!(e.starts_with("UserLambdaValidationException: PreAuthentication failed"), "{e}");
    }
    // …so the right password still signs in.
    password_sign_in_with(env, &client_id, "dave", PASSWORD, &[]).await.unwrap();

    // Nor does a refused sign-in with the right password clear the count.
    env.clock.advance_secs(1000);
    for _ in 0..4 {
        password_sign_in_with(env, &client_id, "dave", "Wrong-Horse-9", &[]).await.unwrap_err();
    }
    let e = password_sign_in_with(env, &client_id, "dave", PASSWORD, &blocked).await.unwrap_err();
    assert!(e.starts_with("UserLambdaValidationException"), "{e}");
    let e = password_sign_in_with(env, &client_id, "dave", "Wrong-Horse-9", &[]).await.unwrap_err();
    assert_eq!(e, "NotAuthorizedException: Incorrect username or password.");
    // The fifth failure locked the account.
    let e = password_sign_in_with(env, &client_id, "dave", PASSWORD, &[]).await.unwrap_err();
    assert_eq!(e, "NotAuthorizedException: Password attempts exceeded");

    // A function Lambda cannot reach: UnexpectedLambdaException, nothing issued.
    env.clock.advance_secs(1000);
    env.lambda.on(|_, _| Reply::Status(404, "ResourceNotFoundException"));
    let e = password_sign_in_with(env, &client_id, "dave", PASSWORD, &[]).await.unwrap_err();
    assert_eq!(
        e,
        "UnexpectedLambdaException: PreAuthentication invocation failed due to error ResourceNotFoundException."
    );
});

on_both_stores!(post_authentication_after_every_challenge_and_its_failure_withholds_tokens, |env| {
    let (pool, client_id) =
        setup(env, LambdaConfigType::builder().post_authentication(arn("post")).build()).await;
    let erin = unique("erin");
    env.admin_user(&pool, &erin, &[("email", "erin@example.com"), ("email_verified", "true")]).await;
    // A successful sign-in stores its session family (where the store can be listed).
    password_sign_in_with(env, &client_id, &erin, PASSWORD, &[]).await.unwrap();
    let before = stored_origins(env, &erin).await;
    assert!(before.is_none_or(|n| n == 1), "{before:?}");
    env.lambda.clear();
    env.lambda.on(|_, e| {
        if e["request"]["userAttributes"]["email"] == json!("erin@example.com") {
            Reply::Fail("Audit log unavailable".into())
        } else {
            Reply::Respond(e["response"].clone())
        }
    });
    let e = password_sign_in_with(env, &client_id, &erin, PASSWORD, &[]).await.unwrap_err();
    assert_eq!(
        e,
        "UserLambdaValidationException: PostAuthentication failed with error Audit log unavailable."
    );
    assert_eq!(env.lambda.sources(), ["PostAuthentication_Authentication"]);
    // …and a refused one stores nothing: post-auth runs before the refresh token exists.
    assert_eq!(stored_origins(env, &erin).await, before);

    // NEW_PASSWORD_REQUIRED: post-auth once the challenge is answered, with its ClientMetadata.
    env.client
        .admin_create_user()
        .user_pool_id(&pool)
        .username("frank")
        .temporary_password("Temp-Pass-123")
        .message_action(cip::types::MessageActionType::Suppress)
        .send()
        .await
        .unwrap();
    env.lambda.clear();
    let out = env
        .client
        .initiate_auth()
        .client_id(&client_id)
        .auth_flow(AuthFlowType::UserPasswordAuth)
        .auth_parameters("USERNAME", "frank")
        .auth_parameters("PASSWORD", "Temp-Pass-123")
        .send()
        .await
        .unwrap();
    assert_eq!(out.challenge_name(), Some(&ChallengeNameType::NewPasswordRequired));
    assert!(env.lambda.calls().is_empty(), "no post-auth before the challenge is answered");
    let answered = env
        .client
        .respond_to_auth_challenge()
        .client_id(&client_id)
        .challenge_name(ChallengeNameType::NewPasswordRequired)
        .session(out.session().unwrap())
        .challenge_responses("USERNAME", "frank")
        .challenge_responses("NEW_PASSWORD", PASSWORD)
        .client_metadata("step", "new-password")
        .send()
        .await
        .unwrap();
    assert!(answered.authentication_result().and_then(|r| r.refresh_token()).is_some());
    let post = env.lambda.events("post");
    assert_eq!(post.len(), 1);
    assert_header(&post[0], "PostAuthentication_Authentication", &pool, "frank", &client_id);
    assert_eq!(post[0]["request"]["clientMetadata"], json!({"step": "new-password"}));
    assert_eq!(post[0]["request"]["userAttributes"]["cognito:user_status"], json!("CONFIRMED"));

    // The same with a failing post-auth: the new password is set, but no tokens.
    env.client
        .admin_create_user()
        .user_pool_id(&pool)
        .username("gina")
        .temporary_password("Temp-Pass-123")
        .user_attributes(attr("email", "erin@example.com"))
        .message_action(cip::types::MessageActionType::Suppress)
        .send()
        .await
        .unwrap();
    let out = env
        .client
        .admin_initiate_auth()
        .user_pool_id(&pool)
        .client_id(&client_id)
        .auth_flow(AuthFlowType::AdminUserPasswordAuth)
        .auth_parameters("USERNAME", "gina")
        .auth_parameters("PASSWORD", "Temp-Pass-123")
        .send()
        .await
        .unwrap();
    let e = env
        .client
        .admin_respond_to_auth_challenge()
        .user_pool_id(&pool)
        .client_id(&client_id)
        .challenge_name(ChallengeNameType::NewPasswordRequired)
        .session(out.session().unwrap())
        .challenge_responses("USERNAME", "gina")
        .challenge_responses("NEW_PASSWORD", PASSWORD)
        .send()
        .await
        .map_err(err_name)
        .unwrap_err();
    assert_eq!(
        e,
        "UserLambdaValidationException: PostAuthentication failed with error Audit log unavailable."
    );
    let e = password_sign_in_with(env, &client_id, "gina", "Temp-Pass-123", &[]).await.unwrap_err();
    assert_eq!(e, "NotAuthorizedException: Incorrect username or password.");
});

on_both_stores!(custom_auth_captcha_loop_to_tokens, |env| {
    let (pool, client_id) = setup(env, all_triggers()).await;
    env.admin_user(&pool, "hana", &[("email", "hana@example.com"), ("email_verified", "true")]).await;
    env.lambda.on(captcha);

    let out = custom_start(env, &client_id, "hana@example.com", &[("from", "initiate")]).await.unwrap();
    assert_eq!(out.challenge_name(), Some(&ChallengeNameType::CustomChallenge));
    assert!(out.authentication_result().is_none());
    let params = out.challenge_parameters().unwrap();
    assert_eq!(params.len(), 2, "{params:?}");
    assert_eq!(params["captchaUrl"], "url/123.jpg");
    assert_eq!(params["USERNAME"], "hana");
    let first = out.session().unwrap().to_string();
    assert_eq!(
        env.lambda.sources(),
        [
            "PreAuthentication_Authentication",
            "DefineAuthChallenge_Authentication",
            "CreateAuthChallenge_Authentication"
        ]
    );
    let pre = &env.lambda.events("pre")[0];
    assert_eq!(pre["request"]["validationData"], json!({"from": "initiate"}));

    let define = &env.lambda.events("define")[0];
    assert_header(define, "DefineAuthChallenge_Authentication", &pool, "hana", &client_id);
    assert_eq!(
        sorted_keys(&define["request"]),
        ["clientMetadata", "session", "userAttributes", "userNotFound"]
    );
    assert_user_attributes(&define["request"]["userAttributes"], "hana@example.com");
    assert_eq!(define["request"]["session"], json!([]));
    // InitiateAuth's metadata does not reach the challenge triggers.
    assert_eq!(define["request"]["clientMetadata"], json!({}));
    assert_eq!(define["request"]["userNotFound"], json!(false));
    assert_eq!(
        define["response"],
        json!({"challengeName": null, "issueTokens": false, "failAuthentication": false})
    );

    let create = &env.lambda.events("create")[0];
    assert_header(create, "CreateAuthChallenge_Authentication", &pool, "hana", &client_id);
    assert_eq!(
        sorted_keys(&create["request"]),
        ["challengeName", "clientMetadata", "session", "userAttributes", "userNotFound"]
    );
    assert_eq!(create["request"]["challengeName"], json!("CUSTOM_CHALLENGE"));
    assert_eq!(create["request"]["session"], json!([]));
    assert_eq!(create["request"]["clientMetadata"], json!({}));
    assert_eq!(create["request"]["userNotFound"], json!(false));
    assert_eq!(
        create["response"],
        json!({"publicChallengeParameters": {}, "privateChallengeParameters": {}, "challengeMetadata": null})
    );

    // A wrong answer does not fail the flow: Define asks again, with a new session.
    env.lambda.clear();
    let out = custom_answer(env, &client_id, "hana", &first, "4", &[("from", "respond")]).await.unwrap();
    assert_eq!(out.challenge_name(), Some(&ChallengeNameType::CustomChallenge));
    let second = out.session().unwrap().to_string();
    assert_ne!(second, first);
    assert!(!format!("{out:?}").contains("\"5\""), "private parameters never reach the client");
    assert_eq!(
        env.lambda.sources(),
        [
            "VerifyAuthChallengeResponse_Authentication",
            "DefineAuthChallenge_Authentication",
            "CreateAuthChallenge_Authentication"
        ]
    );
    let verify = &env.lambda.events("verify")[0];
    assert_header(verify, "VerifyAuthChallengeResponse_Authentication", &pool, "hana", &client_id);
    assert_eq!(
        sorted_keys(&verify["request"]),
        ["challengeAnswer", "clientMetadata", "privateChallengeParameters", "userAttributes", "userNotFound"]
    );
    assert_eq!(verify["request"]["privateChallengeParameters"], json!({"answer": "5"}));
    assert_eq!(verify["request"]["challengeAnswer"], json!("4"));
    assert_eq!(verify["request"]["clientMetadata"], json!({"from": "respond"}));
    assert_eq!(verify["request"]["userNotFound"], json!(false));
    assert_eq!(verify["response"], json!({"answerCorrect": false}));
    let wrong = json!([{"challengeName": "CUSTOM_CHALLENGE", "challengeResult": false, "challengeMetadata": "CAPTCHA_CHALLENGE"}]);
    assert_eq!(env.lambda.events("define")[0]["request"]["session"], wrong);
    assert_eq!(env.lambda.events("define")[0]["request"]["clientMetadata"], json!({"from": "respond"}));
    assert_eq!(env.lambda.events("create")[0]["request"]["session"], wrong);

    // The consumed session cannot be answered again.
    env.lambda.clear();
    let e = custom_answer(env, &client_id, "hana", &first, "5", &[]).await.unwrap_err();
    assert_eq!(e, "NotAuthorizedException: Invalid session for the user.");
    assert!(env.lambda.calls().is_empty());

    // The right answer: Define issues tokens, after post-auth.
    let out =
        custom_answer(env, &client_id, "hana@example.com", &second, "5", &[("from", "last")]).await.unwrap();
    let tokens = out.authentication_result().expect("tokens").clone();
    assert!(tokens.refresh_token().is_some() && tokens.id_token().is_some());
    assert!(out.challenge_name().is_none());
    assert_eq!(
        env.lambda.sources(),
        [
            "VerifyAuthChallengeResponse_Authentication",
            "DefineAuthChallenge_Authentication",
            "PostAuthentication_Authentication"
        ]
    );
    assert_eq!(
        env.lambda.events("define")[0]["request"]["session"],
        json!([
            {"challengeName": "CUSTOM_CHALLENGE", "challengeResult": false, "challengeMetadata": "CAPTCHA_CHALLENGE"},
            {"challengeName": "CUSTOM_CHALLENGE", "challengeResult": true, "challengeMetadata": "CAPTCHA_CHALLENGE"}
        ])
    );
    let post = &env.lambda.events("post")[0];
    assert_header(post, "PostAuthentication_Authentication", &pool, "hana", &client_id);
    assert_eq!(post["request"]["clientMetadata"], json!({"from": "last"}));
    let e = custom_answer(env, &client_id, "hana", &second, "5", &[]).await.unwrap_err();
    assert_eq!(e, "NotAuthorizedException: Invalid session for the user.");

    // The tokens work and refresh without any trigger.
    env.client.get_user().access_token(tokens.access_token().unwrap()).send().await.unwrap();
    env.lambda.clear();
    env.refresh(&client_id, tokens.refresh_token().unwrap()).await.unwrap();
    assert!(env.lambda.calls().is_empty());

    // Three wrong answers: Define fails the flow.
    let out = custom_start(env, &client_id, "hana", &[]).await.unwrap();
    let mut session = out.session().unwrap().to_string();
    for _ in 0..2 {
        let out = custom_answer(env, &client_id, "hana", &session, "7", &[]).await.unwrap();
        session = out.session().unwrap().to_string();
    }
    let e = custom_answer(env, &client_id, "hana", &session, "7", &[]).await.unwrap_err();
    assert_eq!(e, "NotAuthorizedException: Incorrect username or password.");
});

on_both_stores!(custom_auth_through_the_admin_operations, |env| {
    let (pool, client_id) = setup(env, all_triggers()).await;
    env.admin_user(&pool, "ivan", &[("email", "ivan@example.com"), ("email_verified", "true")]).await;
    env.lambda.on(captcha);
    let out = env
        .client
        .admin_initiate_auth()
        .user_pool_id(&pool)
        .client_id(&client_id)
        .auth_flow(AuthFlowType::CustomAuth)
        .auth_parameters("USERNAME", "ivan")
        .send()
        .await
        .unwrap();
    assert_eq!(out.challenge_name(), Some(&ChallengeNameType::CustomChallenge));
    assert_eq!(out.challenge_parameters().unwrap()["USERNAME"], "ivan");
    let out = env
        .client
        .admin_respond_to_auth_challenge()
        .user_pool_id(&pool)
        .client_id(&client_id)
        .challenge_name(ChallengeNameType::CustomChallenge)
        .session(out.session().unwrap())
        .challenge_responses("USERNAME", "ivan")
        .challenge_responses("ANSWER", "5")
        .client_metadata("admin", "yes")
        .send()
        .await
        .unwrap();
    assert!(out.authentication_result().and_then(|r| r.access_token()).is_some());
    assert_eq!(env.lambda.events("verify")[0]["request"]["clientMetadata"], json!({"admin": "yes"}));
    assert_eq!(env.lambda.events("post")[0]["request"]["clientMetadata"], json!({"admin": "yes"}));
});

on_both_stores!(custom_auth_define_decides, |env| {
    let (pool, client_id) = setup(env, all_triggers()).await;
    env.admin_user(&pool, "jill", &[("email", "jill@example.com"), ("email_verified", "true")]).await;
    let define = |response: Value| {
        move |function: &str, e: &Value| {
            if function == "define" {
                Reply::Respond(response.clone())
            } else {
                Reply::Respond(e["response"].clone())
            }
        }
    };

    env.lambda.on(define(json!({"failAuthentication": true, "issueTokens": true})));
    let e = custom_start(env, &client_id, "jill", &[]).await.unwrap_err();
    assert_eq!(e, "NotAuthorizedException: Incorrect username or password.", "failAuthentication wins");
    assert_eq!(
        env.lambda.sources(),
        ["PreAuthentication_Authentication", "DefineAuthChallenge_Authentication"]
    );

    // Tokens straight away (lenient flags: "true" is true), with post-auth and no challenge.
    env.lambda.clear();
    env.lambda.on(define(json!({"issueTokens": "true", "challengeName": null})));
    let out = custom_start(env, &client_id, "jill", &[]).await.unwrap();
    assert!(out.authentication_result().and_then(|r| r.refresh_token()).is_some());
    assert_eq!(
        env.lambda.sources(),
        [
            "PreAuthentication_Authentication",
            "DefineAuthChallenge_Authentication",
            "PostAuthentication_Authentication"
        ]
    );

    for (response, message) in [
        (
            json!({"issueTokens": true, "challengeName": "CUSTOM_CHALLENGE"}),
            "DefineAuthChallenge returned both issueTokens and challengeName; set one of them.",
        ),
        (
            json!({}),
            "DefineAuthChallenge returned neither issueTokens, challengeName nor failAuthentication.",
        ),
        (
            json!({"challengeName": "CAPTCHA"}),
            "DefineAuthChallenge returned an invalid challengeName: CAPTCHA.",
        ),
        (json!({"issueTokens": 1}), "Unrecognizable lambda output"),
    ] {
        env.lambda.on(define(response));
        let e = custom_start(env, &client_id, "jill", &[]).await.unwrap_err();
        assert_eq!(e, format!("InvalidLambdaResponseException: {message}"));
    }
    env.lambda.on(define(json!({"challengeName": "SMS_MFA"})));
    let e = custom_start(env, &client_id, "jill", &[]).await.unwrap_err();
    assert!(
        e.starts_with("InvalidLambdaResponseException: DefineAuthChallenge returned challengeName SMS_MFA"),
        "{e}"
    );
    // PASSWORD_VERIFIER only right after SRP_A (auth_factors.rs has that flow).
    env.lambda.on(define(json!({"challengeName": "PASSWORD_VERIFIER"})));
    let e = custom_start(env, &client_id, "jill", &[]).await.unwrap_err();
    assert_eq!(
        e,
        "InvalidLambdaResponseException: DefineAuthChallenge returned PASSWORD_VERIFIER, which can only follow SRP_A."
    );

    // An admin-created user still sets a password first: NEW_PASSWORD_REQUIRED, then post-auth.
    env.client
        .admin_create_user()
        .user_pool_id(&pool)
        .username("jack")
        .temporary_password("Temp-Pass-123")
        .message_action(cip::types::MessageActionType::Suppress)
        .send()
        .await
        .unwrap();
    env.lambda.on(define(json!({"issueTokens": true})));
    env.lambda.clear();
    let out = custom_start(env, &client_id, "jack", &[]).await.unwrap();
    assert_eq!(out.challenge_name(), Some(&ChallengeNameType::NewPasswordRequired));
    assert_eq!(
        env.lambda.sources(),
        ["PreAuthentication_Authentication", "DefineAuthChallenge_Authentication"]
    );
    let out = env
        .client
        .respond_to_auth_challenge()
        .client_id(&client_id)
        .challenge_name(ChallengeNameType::NewPasswordRequired)
        .session(out.session().unwrap())
        .challenge_responses("USERNAME", "jack")
        .challenge_responses("NEW_PASSWORD", PASSWORD)
        .send()
        .await
        .unwrap();
    assert!(out.authentication_result().is_some());
    assert_eq!(env.lambda.events("post").len(), 1);

    // Define always asks again and Verify always says wrong: the flow ends after 20 rounds.
    env.lambda.on(|function, e| match function {
        "define" => Reply::Respond(json!({"challengeName": "CUSTOM_CHALLENGE"})),
        "verify" => Reply::Respond(json!({"answerCorrect": false})),
        _ => Reply::Respond(e["response"].clone()),
    });
    let mut session =
        custom_start(env, &client_id, "jill", &[]).await.unwrap().session().unwrap().to_string();
    for _ in 0..19 {
        let out = custom_answer(env, &client_id, "jill", &session, "x", &[]).await.unwrap();
        session = out.session().unwrap().to_string();
    }
    env.lambda.clear();
    let e = custom_answer(env, &client_id, "jill", &session, "x", &[]).await.unwrap_err();
    assert_eq!(
        e,
        "NotAuthorizedException: Incorrect username or password. The custom authentication flow exceeded 20 challenges."
    );
    assert_eq!(env.lambda.events("define")[0]["request"]["session"].as_array().unwrap().len(), 20);
    assert!(env.lambda.events("create").is_empty());
});

on_both_stores!(custom_auth_failing_triggers_and_refusals, |env| {
    let (pool, client_id) = setup(env, all_triggers()).await;
    let kim = unique("kim");
    env.admin_user(&pool, &kim, &[("email", "kim@example.com"), ("email_verified", "true")]).await;
    let failing = |which: &'static str| {
        move |function: &str, e: &Value| {
            if function == which {
                Reply::Fail(format!("{which} broke"))
            } else {
                captcha(function, e)
            }
        }
    };
    for (which, name) in
        [("pre", "PreAuthentication"), ("define", "DefineAuthChallenge"), ("create", "CreateAuthChallenge")]
    {
        env.lambda.on(failing(which));
        let e = custom_start(env, &client_id, &kim, &[]).await.unwrap_err();
        assert_eq!(e, format!("UserLambdaValidationException: {name} failed with error {which} broke."));
    }
    env.lambda.clear();
    env.lambda.on(failing("pre"));
    custom_start(env, &client_id, &kim, &[]).await.unwrap_err();
    assert_eq!(
        env.lambda.sources(),
        ["PreAuthentication_Authentication"],
        "a refused sign-in goes no further"
    );

    // Verify fails: the flow ends and its session is spent.
    env.lambda.on(failing("verify"));
    let session = custom_start(env, &client_id, &kim, &[]).await.unwrap().session().unwrap().to_string();
    let e = custom_answer(env, &client_id, &kim, &session, "5", &[]).await.unwrap_err();
    assert_eq!(
        e,
        "UserLambdaValidationException: VerifyAuthChallengeResponse failed with error verify broke."
    );
    env.lambda.on(captcha);
    let e = custom_answer(env, &client_id, &kim, &session, "5", &[]).await.unwrap_err();
    assert_eq!(e, "NotAuthorizedException: Invalid session for the user.");

    // Post-auth fails on the right answer: no tokens, and the session is spent.
    let session = custom_start(env, &client_id, &kim, &[]).await.unwrap().session().unwrap().to_string();
    env.lambda.on(failing("post"));
    let e = custom_answer(env, &client_id, &kim, &session, "5", &[]).await.unwrap_err();
    assert_eq!(e, "UserLambdaValidationException: PostAuthentication failed with error post broke.");
    assert!(stored_origins(env, &kim).await.is_none_or(|n| n == 0), "no refresh token stored");
    let e = custom_answer(env, &client_id, &kim, &session, "5", &[]).await.unwrap_err();
    assert_eq!(e, "NotAuthorizedException: Invalid session for the user.");

    // Sessions expire after the client's AuthSessionValidity (3 minutes by default).
    env.lambda.on(captcha);
    let session = custom_start(env, &client_id, &kim, &[]).await.unwrap().session().unwrap().to_string();
    env.clock.advance_secs(181);
    let e = custom_answer(env, &client_id, &kim, &session, "5", &[]).await.unwrap_err();
    assert_eq!(e, "NotAuthorizedException: Invalid session for the user.");

    // A session answered for another user, or as another challenge, is refused.
    env.admin_user(&pool, "lou", &[("email", "lou@example.com"), ("email_verified", "true")]).await;
    let session = custom_start(env, &client_id, &kim, &[]).await.unwrap().session().unwrap().to_string();
    let e = custom_answer(env, &client_id, "lou", &session, "5", &[]).await.unwrap_err();
    assert_eq!(e, "NotAuthorizedException: Invalid session for the user.");
    let e = env
        .client
        .respond_to_auth_challenge()
        .client_id(&client_id)
        .challenge_name(ChallengeNameType::NewPasswordRequired)
        .session(&session)
        .challenge_responses("USERNAME", &kim)
        .challenge_responses("NEW_PASSWORD", PASSWORD)
        .send()
        .await
        .map_err(err_name)
        .unwrap_err();
    assert_eq!(
        e,
        "InvalidParameterException: Invalid challenge name NEW_PASSWORD_REQUIRED for this session."
    );
    let e = env
        .client
        .respond_to_auth_challenge()
        .client_id(&client_id)
        .challenge_name(ChallengeNameType::CustomChallenge)
        .session(&session)
        .challenge_responses("USERNAME", &kim)
        .send()
        .await
        .map_err(err_name)
        .unwrap_err();
    assert_eq!(e, "InvalidParameterException: Missing required parameter ANSWER");
    // Still live after those refusals.
    let out = custom_answer(env, &client_id, &kim, &session, "5", &[]).await.unwrap();
    assert!(out.authentication_result().is_some());

    // A disabled user: refused before any challenge trigger.
    env.client.admin_disable_user().user_pool_id(&pool).username(&kim).send().await.unwrap();
    env.lambda.clear();
    let e = custom_start(env, &client_id, &kim, &[]).await.unwrap_err();
    assert_eq!(e, "NotAuthorizedException: User is disabled.");
    assert_eq!(env.lambda.sources(), ["PreAuthentication_Authentication"]);

    // Unknown users, as password sign-in answers them; no trigger runs.
    env.lambda.clear();
    let e = custom_start(env, &client_id, "nobody", &[]).await.unwrap_err();
    assert_eq!(e, "UserNotFoundException: User does not exist.");
    assert!(env.lambda.calls().is_empty());

    // CHALLENGE_NAME names how the flow starts: only SRP_A is one.
    let e = env
        .client
        .initiate_auth()
        .client_id(&client_id)
        .auth_flow(AuthFlowType::CustomAuth)
        .auth_parameters("USERNAME", "lou")
        .auth_parameters("CHALLENGE_NAME", "SMS_MFA")
        .send()
        .await
        .map_err(err_name)
        .unwrap_err();
    assert_eq!(e, "InvalidParameterException: Invalid CHALLENGE_NAME for CUSTOM_AUTH: SMS_MFA");

    // A client without ALLOW_CUSTOM_AUTH.
    let (password_only, _) = env.app_client(&pool, &["ALLOW_USER_PASSWORD_AUTH"], false).await;
    let e = custom_start(env, &password_only, "lou", &[]).await.unwrap_err();
    assert_eq!(e, "InvalidParameterException: CUSTOM_AUTH flow not enabled for this client");
});

on_both_stores!(custom_auth_needs_its_triggers_and_the_secret_hash, |env| {
    // No DefineAuthChallenge: Cognito's InvalidParameterException.
    let (pool, client_id) =
        setup(env, LambdaConfigType::builder().pre_authentication(arn("pre")).build()).await;
    env.admin_user(&pool, "mia", &[("email", "mia@example.com"), ("email_verified", "true")]).await;
    let e = custom_start(env, &client_id, "mia", &[]).await.unwrap_err();
    assert_eq!(
        e,
        "InvalidParameterException: Custom auth lambda trigger is not configured for the user pool."
    );
    assert!(env.lambda.calls().is_empty());

    // Define without Create: the same answer once a challenge is needed.
    let (pool, client_id) =
        setup(env, LambdaConfigType::builder().define_auth_challenge(arn("define")).build()).await;
    env.admin_user(&pool, "ned", &[("email", "ned@example.com"), ("email_verified", "true")]).await;
    env.lambda.on(captcha);
    let e = custom_start(env, &client_id, "ned", &[]).await.unwrap_err();
    assert_eq!(
        e,
        "InvalidParameterException: Custom auth lambda trigger is not configured for the user pool."
    );

    // A client with a secret needs SECRET_HASH.
    let (pool, _) = setup(env, all_triggers()).await;
    env.admin_user(&pool, "ola", &[("email", "ola@example.com"), ("email_verified", "true")]).await;
    let (secret_client, secret) = env.app_client(&pool, FLOWS, true).await;
    let e = custom_start(env, &secret_client, "ola", &[]).await.unwrap_err();
    assert_eq!(
        e,
        format!("NotAuthorizedException: Client {secret_client} is configured for secret but secret was not received")
    );
    let hash =
        tessera_core::user_pool::access::secret_hash(secret.as_deref().unwrap(), "ola", &secret_client);
    let out = env
        .client
        .initiate_auth()
        .client_id(&secret_client)
        .auth_flow(AuthFlowType::CustomAuth)
        .auth_parameters("USERNAME", "ola")
        .auth_parameters("SECRET_HASH", &hash)
        .send()
        .await
        .unwrap();
    let out = env
        .client
        .respond_to_auth_challenge()
        .client_id(&secret_client)
        .challenge_name(ChallengeNameType::CustomChallenge)
        .session(out.session().unwrap())
        .challenge_responses("USERNAME", "ola")
        .challenge_responses("ANSWER", "5")
        .challenge_responses("SECRET_HASH", &hash)
        .send()
        .await
        .unwrap();
    assert!(out.authentication_result().is_some());
});
