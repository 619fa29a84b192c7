//! PreSignUp, PostConfirmation, CustomMessage and UserMigration through the Lambda double:
//! which operations fire them, their exact events, what their responses change, and what a
//! failing function leaves behind (nothing).

use crate::common::*;
use crate::lambda_double::{arn, Reply};
use crate::on_both_stores;
use aws_sdk_cognitoidentityprovider as cip;
use cip::types::{AttributeType, LambdaConfigType, UserStatusType};
use serde_json::{json, Value};
use std::time::Duration;

/// A pool where email is the username and is verified by code, with these triggers.
async fn email_pool_with(env: &TestEnv, config: LambdaConfigType) -> String {
    env.pool(|b| {
        b.username_attributes(cip::types::UsernameAttributeType::Email)
            .auto_verified_attributes(cip::types::VerifiedAttributeType::Email)
            .lambda_config(config)
    })
    .await
}

/// The event with `callerContext.awsSdkVersion` checked and set aside (it names the SDK
/// version the tests were built with).
fn normalised(mut event: Value) -> Value {
    let sdk = event["callerContext"]["awsSdkVersion"].as_str().unwrap_or_default().to_string();
    assert!(sdk.starts_with("aws-sdk-rust-"), "awsSdkVersion from the User-Agent: {sdk}");
    event["callerContext"]["awsSdkVersion"] = json!("SDK");
    event
}

fn validation(name: &str, value: &str) -> AttributeType {
    attr(name, value)
}

async fn user_status(env: &TestEnv, pool: &str, username: &str) -> Result<UserStatusType, String> {
    env.client
        .admin_get_user()
        .user_pool_id(pool)
        .username(username)
        .send()
        .await
        .map(|u| u.user_status().cloned().unwrap())
        .map_err(err_name)
}

async fn attribute(env: &TestEnv, pool: &str, username: &str, name: &str) -> Option<String> {
    let u = env.client.admin_get_user().user_pool_id(pool).username(username).send().await.unwrap();
    u.user_attributes().iter().find(|a| a.name() == name).and_then(|a| a.value().map(str::to_string))
}

on_both_stores!(pre_sign_up_event_and_auto_confirm, |env| {
    let pool = email_pool_with(
        env,
        LambdaConfigType::builder().pre_sign_up(arn("pre")).post_confirmation(arn("post")).build(),
    )
    .await;
    let (client_id, _) = env.app_client(&pool, &["ALLOW_USER_PASSWORD_AUTH"], false).await;
    env.lambda.on(|function, event| match function {
        "pre" => Reply::Respond(
            json!({"autoConfirmUser": true, "autoVerifyEmail": "true", "autoVerifyPhone": null}),
        ),
        _ => Reply::Respond(event["response"].clone()),
    });
    let email = "auto@example.com";
    let out = env
        .client
        .sign_up()
        .client_id(&client_id)
        .username(email)
        .password(PASSWORD)
        .user_attributes(attr("name", "Auto"))
        .validation_data(validation("invite", "abc"))
        .client_metadata("k", "v")
        .send()
        .await
        .unwrap();
    assert!(out.user_confirmed(), "autoConfirmUser confirms");
    assert!(out.code_delivery_details().is_none(), "no code for a confirmed user");
    assert!(env.messages_to(email).is_empty());
    let sub = out.user_sub().to_string();

    let pre = env.lambda.events("pre");
    assert_eq!(pre.len(), 1);
    assert_eq!(
        normalised(pre[0].clone()),
        json!({
            "version": "1",
            "triggerSource": "PreSignUp_SignUp",
            "region": "us-east-1",
            "userPoolId": pool,
            "userName": sub,
            "callerContext": {"awsSdkVersion": "SDK", "clientId": client_id},
            "request": {
                "userAttributes": {"email": email, "name": "Auto"},
                "validationData": {"invite": "abc"},
                "clientMetadata": {"k": "v"}
            },
            "response": {"autoConfirmUser": false, "autoVerifyEmail": false, "autoVerifyPhone": false}
        })
    );
    // PostConfirmation follows an auto-confirmed sign-up, with the saved user.
    let post = env.lambda.events("post");
    assert_eq!(post.len(), 1);
    assert_eq!(
        normalised(post[0].clone()),
        json!({
            "version": "1",
            "triggerSource": "PostConfirmation_ConfirmSignUp",
            "region": "us-east-1",
            "userPoolId": pool,
            "userName": sub,
            "callerContext": {"awsSdkVersion": "SDK", "clientId": client_id},
            "request": {
                "userAttributes": {
                    "sub": sub,
                    "email": email,
                    "email_verified": "true",
                    "name": "Auto",
                    "cognito:user_status": "CONFIRMED"
                },
                "clientMetadata": {"k": "v"}
            },
            "response": {}
        })
    );
    assert_eq!(user_status(env, &pool, email).await.unwrap(), UserStatusType::Confirmed);
    assert_eq!(attribute(env, &pool, email, "email_verified").await.as_deref(), Some("true"));
    env.password_sign_in(&client_id, email, PASSWORD).await.unwrap();

    // Without the flags the user waits for the code, as without a trigger.
    env.lambda.on(|_, event| Reply::Respond(event["response"].clone()));
    let out = env.sign_up(&client_id, "plain@example.com").await.unwrap();
    assert!(!out.user_confirmed());
    assert_eq!(env.messages_to("plain@example.com").len(), 1);
    assert_eq!(env.lambda.events("post").len(), 1, "no PostConfirmation before ConfirmSignUp");
    let code = env.last_code("plain@example.com");
    env.client
        .confirm_sign_up()
        .client_id(&client_id)
        .username("plain@example.com")
        .confirmation_code(code)
        .client_metadata("step", "confirm")
        .send()
        .await
        .unwrap();
    let post = env.lambda.events("post");
    assert_eq!(post.len(), 2);
    assert_eq!(post[1]["triggerSource"], "PostConfirmation_ConfirmSignUp");
    assert_eq!(post[1]["request"]["clientMetadata"], json!({"step": "confirm"}));
    assert_eq!(post[1]["request"]["userAttributes"]["email_verified"], "true");
});

on_both_stores!(failing_pre_sign_up_creates_nobody, |env| {
    let pool = email_pool_with(env, LambdaConfigType::builder().pre_sign_up(arn("pre")).build()).await;
    let (client_id, _) = env.app_client(&pool, &["ALLOW_USER_PASSWORD_AUTH"], false).await;
    let email = "no@example.com";
    type MakeReply = Box<dyn Fn() -> Reply + Send + Sync>;
    let cases: Vec<(MakeReply, &str, usize)> = vec![
        (
            Box::new(|| Reply::Fail("Sign-ups from example.com are closed".into())),
            "UserLambdaValidationException: PreSignUp failed with error Sign-ups from example.com are closed.",
            1,
        ),
        (Box::new(|| Reply::Payload(b"not json".to_vec())), "InvalidLambdaResponseException: Unrecognizable lambda output", 1),
        (
            Box::new(|| Reply::Respond(json!({"autoConfirmUser": 7}))),
            "InvalidLambdaResponseException: Unrecognizable lambda output",
            1,
        ),
        (
            Box::new(|| Reply::Respond(json!({"autoVerifyPhone": true}))),
            "InvalidParameterException: PreSignUp asked to verify phone_number, but the user has no phone_number attribute.",
            1,
        ),
        // Throttling is retried (3 attempts in all); a missing function is not.
        (
            Box::new(|| Reply::Status(429, "TooManyRequestsException")),
            "UnexpectedLambdaException: PreSignUp invocation failed due to error TooManyRequestsException.",
            3,
        ),
        (
            Box::new(|| Reply::Status(404, "ResourceNotFoundException")),
            "UnexpectedLambdaException: PreSignUp invocation failed due to error ResourceNotFoundException.",
            1,
        ),
    ];
    for (reply, expected, attempts) in cases {
        env.lambda.clear();
        env.lambda.on(move |_, _| reply());
        let e = env.sign_up(&client_id, email).await.unwrap_err();
        assert_eq!(e, expected);
        assert_eq!(env.lambda.events("pre").len(), attempts, "{expected}");
        assert_eq!(
            user_status(env, &pool, email).await.unwrap_err(),
            "UserNotFoundException: User does not exist."
        );
        assert!(env.messages_to(email).is_empty());
    }
    // After a failure the same name signs up normally.
    env.lambda.on(|_, e| Reply::Respond(e["response"].clone()));
    env.sign_up(&client_id, email).await.unwrap();
});

on_both_stores!(a_trigger_that_times_out_is_tried_three_times, |env| {
    let pool = email_pool_with(env, LambdaConfigType::builder().pre_sign_up(arn("slow")).build()).await;
    let (client_id, _) = env.app_client(&pool, &["ALLOW_USER_PASSWORD_AUTH"], false).await;
    env.lambda.on(|_, _| Reply::Slow(Duration::from_secs(6)));
    let started = std::time::Instant::now();
    let e = env.sign_up(&client_id, "slow@example.com").await.unwrap_err();
    assert_eq!(e, "UnexpectedLambdaException: PreSignUp invocation failed due to error TimeoutError.");
    assert_eq!(env.lambda.events("slow").len(), 3);
    assert!(started.elapsed() >= Duration::from_secs(15), "5 seconds per attempt");
    assert!(user_status(env, &pool, "slow@example.com").await.is_err());
});

on_both_stores!(admin_create_user_fires_pre_sign_up_and_custom_message, |env| {
    let pool = env
        .pool(|b| {
            b.lambda_config(
                LambdaConfigType::builder().pre_sign_up(arn("pre")).custom_message(arn("message")).build(),
            )
        })
        .await;
    env.lambda.on(|function, event| match function {
        // The flags mean nothing for admin-created users.
        "pre" => Reply::Respond(json!({"autoConfirmUser": true, "autoVerifyEmail": true})),
        _ => {
            let source = event["triggerSource"].as_str().unwrap().to_string();
            let (code, user) = (
                event["request"]["codeParameter"].as_str().unwrap(),
                event["request"]["usernameParameter"].as_str().unwrap(),
            );
            Reply::Respond(json!({
                "emailSubject": format!("Welcome ({source})"),
                "emailMessage": format!("<p>Hello <b>{user}</b>, your temporary password is {code}</p>"),
                "smsMessage": null
            }))
        }
    });
    let email = "invited@example.com";
    let out = env
        .client
        .admin_create_user()
        .user_pool_id(&pool)
        .username("invited")
        .temporary_password("Temp-Pass-123")
        .user_attributes(attr("email", email))
        .desired_delivery_mediums(cip::types::DeliveryMediumType::Email)
        .validation_data(validation("source", "crm"))
        .client_metadata("k", "v")
        .send()
        .await
        .unwrap();
    assert_eq!(out.user().unwrap().user_status(), Some(&UserStatusType::ForceChangePassword));
    assert_eq!(attribute(env, &pool, "invited", "email_verified").await, None, "flags ignored");
    let pre = env.lambda.events("pre");
    assert_eq!(
        normalised(pre[0].clone()),
        json!({
            "version": "1",
            "triggerSource": "PreSignUp_AdminCreateUser",
            "region": "us-east-1",
            "userPoolId": pool,
            "userName": "invited",
            "callerContext": {"awsSdkVersion": "SDK", "clientId": "CLIENT_ID_NOT_APPLICABLE"},
            "request": {
                "userAttributes": {"email": email},
                "validationData": {"source": "crm"},
                "clientMetadata": {"k": "v"}
            },
            "response": {"autoConfirmUser": false, "autoVerifyEmail": false, "autoVerifyPhone": false}
        })
    );
    let message = env.lambda.events("message");
    assert_eq!(message.len(), 1);
    let m = normalised(message[0].clone());
    assert_eq!(m["triggerSource"], "CustomMessage_AdminCreateUser");
    assert_eq!(m["userName"], "invited");
    assert_eq!(m["callerContext"]["clientId"], "CLIENT_ID_NOT_APPLICABLE");
    assert_eq!(
        m["request"],
        json!({
            "userAttributes": {
                "sub": m["request"]["userAttributes"]["sub"],
                "email": email,
                "cognito:user_status": "FORCE_CHANGE_PASSWORD"
            },
            "codeParameter": "{####}",
            "usernameParameter": "{username}",
            "clientMetadata": {"k": "v"}
        })
    );
    assert_eq!(m["response"], json!({"smsMessage": null, "emailMessage": null, "emailSubject": null}));
    let sent = env.messages_to(email);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].subject.as_deref(), Some("Welcome (CustomMessage_AdminCreateUser)"));
    assert_eq!(sent[0].body, "<p>Hello <b>invited</b>, your temporary password is Temp-Pass-123</p>");

    // A failing PreSignUp or CustomMessage blocks the creation: no user, no message.
    for (failing, expected) in [
        ("pre", "UserLambdaValidationException: PreSignUp failed with error no invitations today."),
        ("message", "UserLambdaValidationException: CustomMessage failed with error no invitations today."),
    ] {
        env.lambda.on(move |function, event| {
            if function == failing {
                Reply::Fail("no invitations today".into())
            } else {
                Reply::Respond(event["response"].clone())
            }
        });
        let e = env
            .client
            .admin_create_user()
            .user_pool_id(&pool)
            .username("refused")
            .user_attributes(attr("email", "refused@example.com"))
            .desired_delivery_mediums(cip::types::DeliveryMediumType::Email)
            .send()
            .await
            .map_err(err_name)
            .unwrap_err();
        assert_eq!(e, expected);
        assert!(user_status(env, &pool, "refused").await.is_err());
        assert!(env.messages_to("refused@example.com").is_empty());
    }
    // A message without the placeholders Cognito needs is refused too.
    env.lambda.on(|function, event| match function {
        "message" => Reply::Respond(json!({"emailMessage": "Your password is {####}"})),
        _ => Reply::Respond(event["response"].clone()),
    });
    let e = env
        .client
        .admin_create_user()
        .user_pool_id(&pool)
        .username("refused")
        .user_attributes(attr("email", "refused@example.com"))
        .desired_delivery_mediums(cip::types::DeliveryMediumType::Email)
        .send()
        .await
        .map_err(err_name)
        .unwrap_err();
    assert!(
        e.starts_with("InvalidParameterException: CustomMessage returned an invalid emailMessage"),
        "{e}"
    );
    assert!(user_status(env, &pool, "refused").await.is_err());
});

on_both_stores!(custom_message_for_every_code_source, |env| {
    let pool = email_pool_with(env, LambdaConfigType::builder().custom_message(arn("message")).build()).await;
    let (client_id, _) = env.app_client(&pool, &["ALLOW_USER_PASSWORD_AUTH"], false).await;
    env.lambda.on(|_, event| {
        let source = event["triggerSource"].as_str().unwrap().to_string();
        let code = event["request"]["codeParameter"].as_str().unwrap();
        if source == "CustomMessage_ResendCode" {
            // Only the SMS text: the email keeps the pool's template.
            return Reply::Respond(json!({"smsMessage": format!("SMS {code}")}));
        }
        Reply::Respond(json!({
            "emailSubject": format!("Subject of {source}"),
            "emailMessage": format!("<h1>{source}</h1><p>Code: {code}</p>"),
        }))
    });
    let email = "coded@example.com";
    env.client
        .sign_up()
        .client_id(&client_id)
        .username(email)
        .password(PASSWORD)
        .client_metadata("app", "web")
        .send()
        .await
        .unwrap();
    let last = |env: &TestEnv| env.messages_to(email).last().cloned().unwrap();
    let m = last(env);
    let code = m.code.clone().unwrap();
    assert_eq!(m.subject.as_deref(), Some("Subject of CustomMessage_SignUp"));
    assert_eq!(m.body, format!("<h1>CustomMessage_SignUp</h1><p>Code: {code}</p>"));
    let event = normalised(env.lambda.events("message")[0].clone());
    let sub = event["request"]["userAttributes"]["sub"].as_str().unwrap().to_string();
    assert_eq!(
        event,
        json!({
            "version": "1",
            "triggerSource": "CustomMessage_SignUp",
            "region": "us-east-1",
            "userPoolId": pool,
            "userName": sub,
            "callerContext": {"awsSdkVersion": "SDK", "clientId": client_id},
            "request": {
                "userAttributes": {"sub": sub, "email": email, "cognito:user_status": "UNCONFIRMED"},
                "codeParameter": "{####}",
                "usernameParameter": null,
                "clientMetadata": {"app": "web"}
            },
            "response": {"smsMessage": null, "emailMessage": null, "emailSubject": null}
        })
    );

    env.client.resend_confirmation_code().client_id(&client_id).username(email).send().await.unwrap();
    let m = last(env);
    assert_eq!(m.subject.as_deref(), Some("Your verification code"), "a null field keeps the template");
    assert!(m.body.contains(m.code.as_deref().unwrap()));
    env.confirm(&client_id, email, &m.code.unwrap()).await.unwrap();

    env.client.forgot_password().client_id(&client_id).username(email).send().await.unwrap();
    assert_eq!(last(env).subject.as_deref(), Some("Subject of CustomMessage_ForgotPassword"));
    env.client.admin_reset_user_password().user_pool_id(&pool).username(email).send().await.unwrap();
    assert_eq!(last(env).subject.as_deref(), Some("Subject of CustomMessage_ForgotPassword"));
    env.client
        .admin_set_user_password()
        .user_pool_id(&pool)
        .username(email)
        .password(PASSWORD)
        .permanent(true)
        .send()
        .await
        .unwrap();
    let tokens = env.password_sign_in(&client_id, email, PASSWORD).await.unwrap();
    let access = tokens.access_token().unwrap();

    let new_email = "recoded@example.com";
    env.client
        .update_user_attributes()
        .access_token(access)
        .user_attributes(attr("email", new_email))
        .send()
        .await
        .unwrap();
    let m = env.messages_to(new_email).last().cloned().unwrap();
    assert_eq!(m.subject.as_deref(), Some("Subject of CustomMessage_UpdateUserAttribute"));
    env.client
        .get_user_attribute_verification_code()
        .access_token(access)
        .attribute_name("email")
        .send()
        .await
        .unwrap();
    let m = env.messages_to(new_email).last().cloned().unwrap();
    assert_eq!(m.subject.as_deref(), Some("Subject of CustomMessage_VerifyUserAttribute"));
    assert_eq!(
        env.lambda.sources(),
        [
            "CustomMessage_SignUp",
            "CustomMessage_ResendCode",
            "CustomMessage_ForgotPassword",
            "CustomMessage_ForgotPassword",
            "CustomMessage_UpdateUserAttribute",
            "CustomMessage_VerifyUserAttribute"
        ]
    );

    // A failing CustomMessage fails the operation and changes nothing: no user, no message.
    env.lambda.on(|_, _| Reply::Fail("templates are down".into()));
    let e = env.sign_up(&client_id, "later@example.com").await.unwrap_err();
    assert_eq!(e, "UserLambdaValidationException: CustomMessage failed with error templates are down.");
    assert!(user_status(env, &pool, "later@example.com").await.is_err());
    assert!(env.messages_to("later@example.com").is_empty());
    // Too long for an email.
    env.lambda.on(|_, _| Reply::Respond(json!({"emailMessage": format!("{} {{####}}", "x".repeat(20_000))})));
    let e = env.sign_up(&client_id, "later@example.com").await.unwrap_err();
    assert!(e.contains("longer than 20000 characters"), "{e}");
    assert!(user_status(env, &pool, "later@example.com").await.is_err());
});

on_both_stores!(post_confirmation_sources_and_failure, |env| {
    let pool = email_pool_with(env, LambdaConfigType::builder().post_confirmation(arn("post")).build()).await;
    let (client_id, _) = env.app_client(&pool, &["ALLOW_USER_PASSWORD_AUTH"], false).await;
    let email = "confirmed@example.com";
    env.sign_up(&client_id, email).await.unwrap();
    env.client
        .admin_confirm_sign_up()
        .user_pool_id(&pool)
        .username(email)
        .client_metadata("by", "admin")
        .send()
        .await
        .unwrap();
    let post = env.lambda.events("post");
    assert_eq!(post.len(), 1);
    assert_eq!(post[0]["triggerSource"], "PostConfirmation_ConfirmSignUp");
    assert_eq!(post[0]["callerContext"]["clientId"], "CLIENT_ID_NOT_APPLICABLE");
    assert_eq!(post[0]["request"]["clientMetadata"], json!({"by": "admin"}));

    env.client
        .admin_update_user_attributes()
        .user_pool_id(&pool)
        .username(email)
        .user_attributes(attr("email_verified", "true"))
        .send()
        .await
        .unwrap();
    env.client.forgot_password().client_id(&client_id).username(email).send().await.unwrap();
    env.client
        .confirm_forgot_password()
        .client_id(&client_id)
        .username(email)
        .confirmation_code(env.last_code(email))
        .password("New-Password-1")
        .send()
        .await
        .unwrap();
    let post = env.lambda.events("post");
    assert_eq!(post.len(), 2);
    assert_eq!(post[1]["triggerSource"], "PostConfirmation_ConfirmForgotPassword");
    assert_eq!(post[1]["callerContext"]["clientId"], client_id);
    assert_eq!(post[1]["request"]["userAttributes"]["cognito:user_status"], "CONFIRMED");

    // The confirmation is saved before PostConfirmation runs: its error reaches the caller and
    // the user stays confirmed, as in Cognito.
    env.lambda.on(|_, _| Reply::Fail("welcome email failed".into()));
    let other = "second@example.com";
    env.sign_up(&client_id, other).await.unwrap();
    let e = env.confirm(&client_id, other, &env.last_code(other)).await.unwrap_err();
    assert_eq!(e, "UserLambdaValidationException: PostConfirmation failed with error welcome email failed.");
    assert_eq!(user_status(env, &pool, other).await.unwrap(), UserStatusType::Confirmed);
});

on_both_stores!(user_migration_on_sign_in_and_forgot_password, |env| {
    let pool = email_pool_with(env, LambdaConfigType::builder().user_migration(arn("migrate")).build()).await;
    let (client_id, _) = env.app_client(&pool, &["ALLOW_USER_PASSWORD_AUTH"], false).await;
    env.lambda.on(|_, event| {
        let user = event["userName"].as_str().unwrap().to_string();
        let password = event["request"]["password"].as_str();
        match (user.as_str(), password) {
            ("legacy@example.com", Some("Legacy-pass1")) => Reply::Respond(json!({
                "userAttributes": {"email": user, "email_verified": "true", "name": "Legacy"},
                "finalUserStatus": "CONFIRMED",
                "messageAction": "SUPPRESS"
            })),
            ("welcome@example.com", Some(_)) => Reply::Respond(json!({
                "userAttributes": {"email": user, "email_verified": true},
                "desiredDeliveryMediums": ["EMAIL"]
            })),
            ("reset@example.com", Some(_)) => Reply::Respond(json!({
                "userAttributes": {"email": user, "email_verified": "true"},
                "finalUserStatus": "RESET_REQUIRED",
                "desiredDeliveryMediums": ["EMAIL"]
            })),
            ("unverified@example.com", None) => Reply::Respond(json!({
                "userAttributes": {"email": user, "email_verified": "false"}
            })),
            ("forgot@example.com", None) => Reply::Respond(json!({
                "userAttributes": {"email": user, "email_verified": "true"},
                "messageAction": "SUPPRESS"
            })),
            _ => Reply::Fail("Bad password".into()),
        }
    });
    let legacy = "legacy@example.com";
    let e = env.password_sign_in(&client_id, legacy, "Wrong-pass1").await.unwrap_err();
    assert_eq!(e, "UserLambdaValidationException: UserMigration failed with error Bad password.");
    assert!(user_status(env, &pool, legacy).await.is_err(), "a refused migration creates nobody");

    env.lambda.clear();
    let tokens = env
        .client
        .initiate_auth()
        .client_id(&client_id)
        .auth_flow(cip::types::AuthFlowType::UserPasswordAuth)
        .auth_parameters("USERNAME", legacy)
        .auth_parameters("PASSWORD", "Legacy-pass1")
        .client_metadata("origin", "mobile")
        .send()
        .await
        .unwrap();
    assert!(tokens.authentication_result().unwrap().id_token().is_some());
    let event = normalised(env.lambda.events("migrate")[0].clone());
    assert_eq!(
        event,
        json!({
            "version": "1",
            "triggerSource": "UserMigration_Authentication",
            "region": "us-east-1",
            "userPoolId": pool,
            "userName": legacy,
            "callerContext": {"awsSdkVersion": "SDK", "clientId": client_id},
            "request": {"password": "Legacy-pass1", "validationData": {"origin": "mobile"}, "clientMetadata": {}},
            "response": {
                "userAttributes": null,
                "finalUserStatus": null,
                "messageAction": null,
                "desiredDeliveryMediums": null,
                "forceAliasCreation": false
            }
        })
    );
    assert_eq!(user_status(env, &pool, legacy).await.unwrap(), UserStatusType::Confirmed);
    assert_eq!(attribute(env, &pool, legacy, "name").await.as_deref(), Some("Legacy"));
    assert!(env.messages_to(legacy).is_empty(), "SUPPRESS sends no welcome");
    // The user now lives here: the next sign-in does not ask the old store.
    env.password_sign_in(&client_id, legacy, "Legacy-pass1").await.unwrap();
    assert_eq!(env.lambda.events("migrate").len(), 1);

    // Without messageAction the welcome message goes to the desired medium.
    env.password_sign_in(&client_id, "welcome@example.com", "Any-pass1").await.unwrap();
    let welcome = env.messages_to("welcome@example.com");
    assert_eq!(welcome.len(), 1);
    assert!(welcome[0].body.contains("welcome@example.com") && !welcome[0].body.contains("Any-pass1"));

    // RESET_REQUIRED: the user is created and must reset the password.
    let e = env.password_sign_in(&client_id, "reset@example.com", "Any-pass1").await.unwrap_err();
    assert_eq!(e, "PasswordResetRequiredException: Password reset required for the user");
    assert_eq!(user_status(env, &pool, "reset@example.com").await.unwrap(), UserStatusType::ResetRequired);
    assert!(env.messages_to("reset@example.com").is_empty(), "no 'sign in with your password' welcome");

    // ForgotPassword: the event has no password; the user is created and gets the code.
    env.lambda.clear();
    let forgot = "forgot@example.com";
    let out = env.client.forgot_password().client_id(&client_id).username(forgot).send().await.unwrap();
    assert_eq!(out.code_delivery_details().unwrap().attribute_name(), Some("email"));
    let event = env.lambda.events("migrate")[0].clone();
    assert_eq!(event["triggerSource"], "UserMigration_ForgotPassword");
    assert_eq!(event["request"], json!({"validationData": {}, "clientMetadata": {}}));
    assert_eq!(user_status(env, &pool, forgot).await.unwrap(), UserStatusType::ResetRequired);
    env.client
        .confirm_forgot_password()
        .client_id(&client_id)
        .username(forgot)
        .confirmation_code(env.last_code(forgot))
        .password("Brand-new-1")
        .send()
        .await
        .unwrap();
    env.password_sign_in(&client_id, forgot, "Brand-new-1").await.unwrap();

    // ForgotPassword migration needs a verified address for the code: otherwise nobody is created.
    let e =
        env.client.forgot_password().client_id(&client_id).username("unverified@example.com").send().await;
    assert_eq!(
        e.map_err(err_name).unwrap_err(),
        "InvalidParameterException: Cannot reset password for the user as there is no registered/verified email or phone_number"
    );
    assert!(user_status(env, &pool, "unverified@example.com").await.is_err());

    // An unknown user the function refuses stays unknown.
    let e = env.client.forgot_password().client_id(&client_id).username("ghost@example.com").send().await;
    assert_eq!(
        e.map_err(err_name).unwrap_err(),
        "UserLambdaValidationException: UserMigration failed with error Bad password."
    );
    assert!(user_status(env, &pool, "ghost@example.com").await.is_err());
});

on_both_stores!(verified_addresses_from_triggers_take_the_alias, |env| {
    let pool = env
        .pool(|b| {
            b.alias_attributes(cip::types::AliasAttributeType::Email)
                .auto_verified_attributes(cip::types::VerifiedAttributeType::Email)
                .lambda_config(
                    LambdaConfigType::builder()
                        .pre_sign_up(arn("pre"))
                        .user_migration(arn("migrate"))
                        .build(),
                )
        })
        .await;
    let (client_id, _) = env.app_client(&pool, &["ALLOW_USER_PASSWORD_AUTH"], false).await;
    let shared = "shared@example.com";
    // The first holder: confirmed with a verified email, so the email is their alias.
    env.client
        .admin_create_user()
        .user_pool_id(&pool)
        .username("first")
        .temporary_password("Temp-Pass-123")
        .message_action(cip::types::MessageActionType::Suppress)
        .user_attributes(attr("email", shared))
        .user_attributes(attr("email_verified", "true"))
        .send()
        .await
        .unwrap();
    env.lambda.on(|function, event| match function {
        "pre" => Reply::Respond(json!({"autoConfirmUser": true, "autoVerifyEmail": true})),
        _ => {
            let force = event["userName"] == "forced";
            Reply::Respond(json!({
                "userAttributes": {"email": "shared@example.com", "email_verified": "true"},
                "finalUserStatus": "CONFIRMED",
                "messageAction": "SUPPRESS",
                "forceAliasCreation": force
            }))
        }
    });
    // PreSignUp's autoVerifyEmail moves the alias; the first holder's email is unverified.
    env.client
        .sign_up()
        .client_id(&client_id)
        .username("second")
        .password(PASSWORD)
        .user_attributes(attr("email", shared))
        .send()
        .await
        .unwrap();
    assert_eq!(attribute(env, &pool, "first", "email_verified").await.as_deref(), Some("false"));
    let u = env.client.admin_get_user().user_pool_id(&pool).username(shared).send().await.unwrap();
    assert_eq!(u.username(), "second", "the alias now names the new user");

    // UserMigration without forceAliasCreation: the alias is taken, nobody is created.
    let e = env.password_sign_in(&client_id, "unforced", "Any-pass1").await.unwrap_err();
    assert!(e.starts_with("AliasExistsException"), "{e}");
    assert!(user_status(env, &pool, "unforced").await.is_err());
    // With it, the alias moves to the migrated user.
    env.password_sign_in(&client_id, "forced", "Any-pass1").await.unwrap();
    assert_eq!(attribute(env, &pool, "second", "email_verified").await.as_deref(), Some("false"));
    let u = env.client.admin_get_user().user_pool_id(&pool).username(shared).send().await.unwrap();
    assert_eq!(u.username(), "forced");
});

on_both_stores!(prevent_user_existence_errors_hides_every_migration_refusal, |env| {
    let pool = email_pool_with(env, LambdaConfigType::builder().user_migration(arn("migrate")).build()).await;
    let client_id = env
        .client
        .create_user_pool_client()
        .user_pool_id(&pool)
        .client_name("app")
        .explicit_auth_flows(cip::types::ExplicitAuthFlowsType::AllowUserPasswordAuth)
        .prevent_user_existence_errors(cip::types::PreventUserExistenceErrorTypes::Enabled)
        .send()
        .await
        .unwrap()
        .user_pool_client()
        .unwrap()
        .client_id()
        .unwrap()
        .to_string();
    // A function that answers unknown names with the event unchanged, or not at all.
    for reply in [
        Reply::Fail("Bad password".into()),
        Reply::Respond(Value::Null),
        Reply::Status(404, "ResourceNotFoundException"),
    ] {
        let reply = std::sync::Arc::new(std::sync::Mutex::new(Some(reply)));
        env.lambda.on(move |_, e| {
            reply.lock().unwrap().take().unwrap_or_else(|| Reply::Respond(e["response"].clone()))
        });
        let e = env.password_sign_in(&client_id, "probe@example.com", "Any-pass1").await.unwrap_err();
        assert_eq!(e, "NotAuthorizedException: Incorrect username or password.");
        let out =
            env.client.forgot_password().client_id(&client_id).username("probe@example.com").send().await;
        assert!(out.is_ok(), "ForgotPassword answers as for a real user: {:?}", out.map_err(err_name));
        assert!(user_status(env, &pool, "probe@example.com").await.is_err());
    }
});

on_both_stores!(custom_message_limits_count_the_filled_in_text, |env| {
    let pool = env
        .pool(|b| b.lambda_config(LambdaConfigType::builder().custom_message(arn("message")).build()))
        .await;
    // 120 characters of template: fine as sent, too long once a 128-character name is in.
    env.lambda.on(|_, _| {
        Reply::Respond(json!({"smsMessage": format!("{{username}} {{####}} {}", "x".repeat(103))}))
    });
    let long_name = "u".repeat(128);
    let e = env
        .client
        .admin_create_user()
        .user_pool_id(&pool)
        .username(&long_name)
        .user_attributes(attr("phone_number", "+15555550123"))
        .send()
        .await
        .map_err(err_name)
        .unwrap_err();
    assert!(e.contains("with the code filled in it is longer than 140 characters"), "{e}");
    assert!(user_status(env, &pool, &long_name).await.is_err());
    env.client
        .admin_create_user()
        .user_pool_id(&pool)
        .username("short")
        .temporary_password("Temp-Pass-123")
        .user_attributes(attr("phone_number", "+15555550124"))
        .send()
        .await
        .unwrap();
    let sms = env.messages_to("+15555550124");
    assert_eq!(sms[0].body, format!("short Temp-Pass-123 {}", "x".repeat(103)));
});
