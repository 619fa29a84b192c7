//! The pre token generation trigger: Cognito's V1_0 and V2_0 events on sign-in,
//! NEW_PASSWORD_REQUIRED and refresh, and what each response field does to the tokens.

use crate::admin_users::{create_user, new_password_session, respond_new_password};
use crate::common::*;
use crate::lambda_double::{arn, Reply};
use crate::on_both_stores;
use crate::tokens::payload;
use aws_sdk_cognitoidentityprovider as cip;
use base64::Engine;
use cip::types::{
    AuthFlowType, ChallengeNameType, LambdaConfigType, PreTokenGenerationLambdaVersionType,
    PreTokenGenerationVersionConfigType,
};
use serde_json::{json, Value};

const FUNCTION: &str = "pretoken";
const ROLE_A: &str = "arn:aws:iam::123456789012:role/tessera-a";
const ROLE_B: &str = "arn:aws:iam::123456789012:role/tessera-b";
const USER_API_SCOPE: &str = "aws.cognito.signin.user.admin";

/// How a pool configures the trigger.
#[derive(Clone, Copy)]
enum Config {
    /// `LambdaConfig.PreTokenGeneration` alone (V1_0).
    Legacy,
    V1,
    V2,
}

fn lambda_config(config: Config) -> LambdaConfigType {
    let versioned = |v: PreTokenGenerationLambdaVersionType| {
        PreTokenGenerationVersionConfigType::builder()
            .lambda_version(v)
            .lambda_arn(arn(FUNCTION))
            .build()
            .unwrap()
    };
    match config {
        Config::Legacy => LambdaConfigType::builder().pre_token_generation(arn(FUNCTION)).build(),
        Config::V1 => LambdaConfigType::builder()
            .pre_token_generation(arn(FUNCTION))
            .pre_token_generation_config(versioned(PreTokenGenerationLambdaVersionType::V10))
            .build(),
        Config::V2 => LambdaConfigType::builder()
            .pre_token_generation_config(versioned(PreTokenGenerationLambdaVersionType::V20))
            .build(),
    }
}

/// An email-as-username pool with the trigger, and a client for password sign-in and refresh.
async fn trigger_pool(env: &TestEnv, config: Config) -> (String, String) {
    let pool = env
        .pool(|b| {
            b.username_attributes(cip::types::UsernameAttributeType::Email)
                .auto_verified_attributes(cip::types::VerifiedAttributeType::Email)
                .lambda_config(lambda_config(config))
        })
        .await;
    let (client_id, _) = env
        .app_client(
            &pool,
            &["ALLOW_USER_PASSWORD_AUTH", "ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
            false,
        )
        .await;
    (pool, client_id)
}

async fn group(env: &TestEnv, pool: &str, name: &str, precedence: i32, role: &str) {
    env.client
        .create_group()
        .user_pool_id(pool)
        .group_name(name)
        .precedence(precedence)
        .role_arn(role)
        .send()
        .await
        .expect("create group");
}

async fn join(env: &TestEnv, pool: &str, username: &str, group: &str) {
    env.client
        .admin_add_user_to_group()
        .user_pool_id(pool)
        .username(username)
        .group_name(group)
        .send()
        .await
        .expect("add to group");
}

fn region(pool: &str) -> &str {
    pool.split('_').next().unwrap()
}

/// The only pre token generation event since the last `clear`.
fn only_event(env: &TestEnv) -> Value {
    let events = env.lambda.events(FUNCTION);
    assert_eq!(events.len(), 1, "{events:#?}");
    env.lambda.clear();
    events.into_iter().next().unwrap()
}

/// The event Cognito sends, key for key. `awsSdkVersion` comes from the SDK's User-Agent.
#[allow(clippy::too_many_arguments)]
fn expected_event(
    version: &str,
    source: &str,
    pool: &str,
    username: &str,
    client_id: &str,
    sdk: &Value,
    attributes: Value,
    groups: Value,
    metadata: Value,
) -> Value {
    let mut request = json!({
        "userAttributes": attributes,
        "groupConfiguration": groups,
        "clientMetadata": metadata,
    });
    let response = if version == "1" {
        json!({"claimsOverrideDetails": null})
    } else {
        request["scopes"] = json!([USER_API_SCOPE]);
        json!({"claimsAndScopeOverrideDetails": null})
    };
    json!({
        "version": version,
        "triggerSource": source,
        "region": region(pool),
        "userPoolId": pool,
        "userName": username,
        "callerContext": {"awsSdkVersion": sdk, "clientId": client_id},
        "request": request,
        "response": response,
    })
}

fn no_groups() -> Value {
    json!({"groupsToOverride": [], "iamRolesToOverride": [], "preferredRole": null})
}

/// A JWT's claims after checking its signature against the pool's JWKS.
async fn verified(env: &TestEnv, pool: &str, token: &str) -> Value {
    let (_, _, body) = raw_http(&env.url, "GET", &format!("/{pool}/.well-known/jwks.json"), &[], b"").await;
    let jwks: Value = serde_json::from_slice(&body).unwrap();
    let header: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(token.split('.').next().unwrap()).unwrap(),
    )
    .unwrap();
    let jwk = jwks["keys"].as_array().unwrap().iter().find(|k| k["kid"] == header["kid"]).expect("kid");
    let key = jsonwebtoken::DecodingKey::from_rsa_components(
        jwk["n"].as_str().unwrap(),
        jwk["e"].as_str().unwrap(),
    )
    .unwrap();
    let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    v.validate_aud = false;
    jsonwebtoken::decode::<Value>(token, &key, &v).expect("signature verifies").claims
}

fn id_claims(t: &cip::types::AuthenticationResultType) -> Value {
    payload(t.id_token().unwrap())
}

fn access_claims(t: &cip::types::AuthenticationResultType) -> Value {
    payload(t.access_token().unwrap())
}

on_both_stores!(pools_accept_the_trigger_and_without_it_nothing_is_invoked, |env| {
    for config in [Config::Legacy, Config::V1, Config::V2] {
        let (pool, _) = trigger_pool(env, config).await;
        let described = env.client.describe_user_pool().user_pool_id(&pool).send().await.unwrap();
        let lambda = described.user_pool().unwrap().lambda_config().unwrap();
        let configured = lambda.pre_token_generation_config().map(|c| c.lambda_arn().to_string());
        let legacy = lambda.pre_token_generation().map(str::to_string);
        assert_eq!(configured.or(legacy), Some(arn(FUNCTION)));
    }
    // A pool without the trigger: tokens as before, and no invocation.
    let pool = env.email_pool().await;
    let (client_id, _) = env.app_client(&pool, &["ALLOW_USER_PASSWORD_AUTH"], false).await;
    env.confirmed_user(&client_id, "plain@example.com").await;
    let t = env.password_sign_in(&client_id, "plain@example.com", PASSWORD).await.unwrap();
    assert!(t.refresh_token().is_some());
    assert!(env.lambda.calls().is_empty());
});

on_both_stores!(v1_event_has_cognitos_shape_on_each_source, |env| {
    let (pool, client_id) = trigger_pool(env, Config::Legacy).await;
    let sub = env.confirmed_user(&client_id, "eve@example.com").await;
    let attributes = json!({
        "sub": sub, "email": "eve@example.com", "email_verified": "true", "cognito:user_status": "CONFIRMED",
    });

    // Password sign-in: InitiateAuth's ClientMetadata is not passed to this trigger.
    let out = env
        .client
        .initiate_auth()
        .client_id(&client_id)
        .auth_flow(AuthFlowType::UserPasswordAuth)
        .auth_parameters("USERNAME", "eve@example.com")
        .auth_parameters("PASSWORD", PASSWORD)
        .client_metadata("ignored", "yes")
        .send()
        .await
        .unwrap();
    let tokens = out.authentication_result().unwrap().clone();
    let event = only_event(env);
    let sdk = event["callerContext"]["awsSdkVersion"].clone();
    assert!(sdk.as_str().unwrap().starts_with("aws-sdk-rust-"), "{sdk}");
    assert_eq!(
        event,
        expected_event(
            "1",
            "TokenGeneration_Authentication",
            &pool,
            &sub,
            &client_id,
            &sdk,
            attributes.clone(),
            no_groups(),
            json!({})
        )
    );

    // AdminInitiateAuth is an authentication too.
    env.admin_sign_in(&pool, &client_id, "eve@example.com").await;
    assert_eq!(only_event(env)["triggerSource"], "TokenGeneration_Authentication");

    // Refresh: fresh attributes and groups.
    group(env, &pool, "readers", 2, ROLE_A).await;
    group(env, &pool, "admins", 1, ROLE_B).await;
    join(env, &pool, &sub, "readers").await;
    join(env, &pool, &sub, "admins").await;
    env.client
        .admin_update_user_attributes()
        .user_pool_id(&pool)
        .username(&sub)
        .user_attributes(attr("name", "Eve"))
        .send()
        .await
        .unwrap();
    env.refresh(&client_id, tokens.refresh_token().unwrap()).await.unwrap();
    let mut fresh = attributes.clone();
    fresh["name"] = json!("Eve");
    assert_eq!(
        only_event(env),
        expected_event(
            "1",
            "TokenGeneration_RefreshTokens",
            &pool,
            &sub,
            &client_id,
            &sdk,
            fresh,
            json!({
                "groupsToOverride": ["admins", "readers"],
                "iamRolesToOverride": [ROLE_B, ROLE_A],
                "preferredRole": ROLE_B,
            }),
            json!({})
        )
    );

    // NEW_PASSWORD_REQUIRED: RespondToAuthChallenge's ClientMetadata is passed on.
    let user = create_user(env, &pool, "nia@example.com", Some("Temporary-Horse-7"), None).await.unwrap();
    let nia = user.username().unwrap().to_string();
    let session = new_password_session(env, &client_id, "nia@example.com", "Temporary-Horse-7").await;
    assert!(env.lambda.calls().is_empty(), "no tokens yet, no trigger");
    env.client
        .respond_to_auth_challenge()
        .client_id(&client_id)
        .challenge_name(ChallengeNameType::NewPasswordRequired)
        .session(session)
        .challenge_responses("USERNAME", "nia@example.com")
        .challenge_responses("NEW_PASSWORD", PASSWORD)
        .client_metadata("app", "checkout")
        .send()
        .await
        .unwrap();
    assert_eq!(
        only_event(env),
        expected_event(
            "1",
            "TokenGeneration_NewPasswordChallenge",
            &pool,
            &nia,
            &client_id,
            &sdk,
            json!({
                "sub": nia, "email": "nia@example.com", "email_verified": "true",
                "cognito:user_status": "CONFIRMED",
            }),
            no_groups(),
            json!({"app": "checkout"})
        )
    );
});

on_both_stores!(v2_event_has_version_2_and_the_scopes, |env| {
    let (pool, client_id) = trigger_pool(env, Config::V2).await;
    let sub = env.confirmed_user(&client_id, "vic@example.com").await;
    group(env, &pool, "staff", 5, ROLE_A).await;
    join(env, &pool, &sub, "staff").await;
    let t = env.password_sign_in(&client_id, "vic@example.com", PASSWORD).await.unwrap();
    let event = only_event(env);
    let sdk = event["callerContext"]["awsSdkVersion"].clone();
    assert_eq!(
        event,
        expected_event(
            "2",
            "TokenGeneration_Authentication",
            &pool,
            &sub,
            &client_id,
            &sdk,
            json!({
                "sub": sub, "email": "vic@example.com", "email_verified": "true",
                "cognito:user_status": "CONFIRMED",
            }),
            json!({"groupsToOverride": ["staff"], "iamRolesToOverride": [ROLE_A], "preferredRole": ROLE_A}),
            json!({})
        )
    );
    env.refresh(&client_id, t.refresh_token().unwrap()).await.unwrap();
    let event = only_event(env);
    assert_eq!(event["version"], "2");
    assert_eq!(event["triggerSource"], "TokenGeneration_RefreshTokens");
    assert_eq!(event["request"]["scopes"], json!([USER_API_SCOPE]));
    // The typed events of aws_lambda_events read it unchanged.
    serde_json::from_value::<aws_lambda_events::event::cognito::CognitoEventUserPoolsPreTokenGenV2>(event)
        .expect("typed V2 event");
});

on_both_stores!(v1_response_changes_the_id_token_only, |env| {
    let (pool, client_id) = trigger_pool(env, Config::V1).await;
    let sub = env.confirmed_user(&client_id, "ann@example.com").await;
    group(env, &pool, "staff", 5, ROLE_A).await;
    join(env, &pool, &sub, "staff").await;
    let plain = env.password_sign_in(&client_id, "ann@example.com", PASSWORD).await.unwrap();
    let typed = env.lambda.events(FUNCTION).pop().unwrap();
    serde_json::from_value::<aws_lambda_events::event::cognito::CognitoEventUserPoolsPreTokenGen>(typed)
        .expect("typed V1 event");
    let (plain_id, plain_access) = (id_claims(&plain), access_claims(&plain));

    let protected = [
        "sub",
        "iss",
        "aud",
        "exp",
        "iat",
        "auth_time",
        "token_use",
        "cognito:username",
        "identities",
        "acr",
        "amr",
        "azp",
        "event_id",
        "origin_jti",
        "jti",
        "nonce",
        "at_hash",
        "cognito:groups",
        "cognito:roles",
        "cognito:preferred_role",
    ];
    let mut add = json!({"tier": "gold", "email": "forged@example.com", "name": "Ann B"});
    for claim in protected {
        add[claim] = json!("forged");
    }
    env.lambda.on(move |_, _| {
        Reply::Respond(json!({"claimsOverrideDetails": {
            "claimsToAddOrOverride": add,
            "claimsToSuppress": ["email", "email_verified", "sub", "iss", "cognito:username", "cognito:groups", "exp"],
        }}))
    });
    let t = env.password_sign_in(&client_id, "ann@example.com", PASSWORD).await.unwrap();
    let id = verified(env, &pool, t.id_token().unwrap()).await;
    assert_eq!(id["tier"], "gold");
    assert_eq!(id["name"], "Ann B");
    assert!(id.get("email").is_none(), "suppress beats override");
    assert!(id.get("email_verified").is_none());
    for claim in [
        "sub",
        "iss",
        "aud",
        "token_use",
        "cognito:username",
        "cognito:groups",
        "cognito:roles",
        "cognito:preferred_role",
    ] {
        assert_eq!(id[claim], plain_id[claim], "{claim} is protected");
    }
    for claim in ["identities", "acr", "amr", "azp", "nonce", "at_hash"] {
        assert!(id.get(claim).is_none(), "{claim} is not added");
    }
    assert!(id["exp"].is_i64() && id["iat"].is_i64() && id["auth_time"].is_i64());
    assert_ne!(id["jti"], "forged");
    assert_ne!(id["event_id"], "forged");
    assert_ne!(id["origin_jti"], "forged");
    // V1 leaves the access token alone.
    let access = verified(env, &pool, t.access_token().unwrap()).await;
    let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(&access), keys(&plain_access));
    assert_eq!(access["cognito:groups"], json!(["staff"]));
    assert_eq!(access["scope"], USER_API_SCOPE);
    assert_eq!(access["username"], plain_access["username"]);
    // The tokens still work.
    env.client.get_user().access_token(t.access_token().unwrap()).send().await.unwrap();
});

on_both_stores!(group_override_replaces_or_removes_the_groups, |env| {
    let (pool, client_id) = trigger_pool(env, Config::Legacy).await;
    let sub = env.confirmed_user(&client_id, "gus@example.com").await;
    group(env, &pool, "staff", 5, ROLE_A).await;
    join(env, &pool, &sub, "staff").await;
    let sign_in = || env.password_sign_in(&client_id, "gus@example.com", PASSWORD);

    // Replaced: groups in both tokens, roles and preferred role in the ID token.
    env.lambda.on(|_, _| {
        Reply::Respond(json!({"claimsOverrideDetails": {"groupOverrideDetails": {
            "groupsToOverride": ["a", "b"], "iamRolesToOverride": [ROLE_B], "preferredRole": ROLE_B,
        }}}))
    });
    let t = sign_in().await.unwrap();
    let (id, access) = (id_claims(&t), access_claims(&t));
    assert_eq!(id["cognito:groups"], json!(["a", "b"]));
    assert_eq!(access["cognito:groups"], json!(["a", "b"]));
    assert_eq!(id["cognito:roles"], json!([ROLE_B]));
    assert_eq!(id["cognito:preferred_role"], ROLE_B);
    assert!(access.get("cognito:roles").is_none() && access.get("cognito:preferred_role").is_none());

    // Present but null, {} or empty: the group claims go.
    for details in [
        json!(null),
        json!({}),
        json!({"groupsToOverride": [], "iamRolesToOverride": [], "preferredRole": null}),
    ] {
        env.lambda.on(move |_, _| {
            Reply::Respond(json!({"claimsOverrideDetails": {"groupOverrideDetails": details}}))
        });
        let t = sign_in().await.unwrap();
        let (id, access) = (id_claims(&t), access_claims(&t));
        for claim in ["cognito:groups", "cognito:roles", "cognito:preferred_role"] {
            assert!(id.get(claim).is_none() && access.get(claim).is_none(), "{claim}");
        }
    }

    // Absent: unchanged.
    env.lambda.on(|_, _| Reply::Respond(json!({"claimsOverrideDetails": {"claimsToSuppress": []}})));
    let t = sign_in().await.unwrap();
    assert_eq!(id_claims(&t)["cognito:groups"], json!(["staff"]));
    assert_eq!(id_claims(&t)["cognito:preferred_role"], ROLE_A);
    assert_eq!(access_claims(&t)["cognito:groups"], json!(["staff"]));
});

on_both_stores!(v2_response_changes_both_tokens_and_the_scopes, |env| {
    let (pool, client_id) = trigger_pool(env, Config::V2).await;
    let sub = env.confirmed_user(&client_id, "ivo@example.com").await;
    group(env, &pool, "staff", 5, ROLE_A).await;
    join(env, &pool, &sub, "staff").await;
    env.lambda.on(|_, _| {
        Reply::Respond(json!({"claimsAndScopeOverrideDetails": {
            "idTokenGeneration": {
                "claimsToAddOrOverride": {
                    "https://aws.amazon.com/tags": {"principal_tags": {"team": ["blue"]}},
                    "level": 3,
                    "email_verified": false,
                },
                "claimsToSuppress": ["email"],
            },
            "accessTokenGeneration": {
                "claimsToAddOrOverride": {
                    "tenant": "t-1", "admin": true, "quota": 2.5, "tags": ["x", 1, false],
                    "client_id": "forged", "scope": "forged", "username": "forged", "cognito:groups": ["forged"],
                },
                "claimsToSuppress": ["admin", "sub", "origin_jti"],
                "scopesToAdd": ["photos/read", "photos/write"],
                "scopesToSuppress": ["photos/write"],
            },
            "groupOverrideDetails": {"groupsToOverride": ["vip"]},
        }}))
    });
    let t = env.password_sign_in(&client_id, "ivo@example.com", PASSWORD).await.unwrap();
    let id = verified(env, &pool, t.id_token().unwrap()).await;
    let access = verified(env, &pool, t.access_token().unwrap()).await;
    assert_eq!(id["https://aws.amazon.com/tags"], json!({"principal_tags": {"team": ["blue"]}}));
    assert_eq!(id["level"], 3);
    assert_eq!(id["email_verified"], false);
    assert!(id.get("email").is_none());
    assert!(id.get("tenant").is_none(), "access-token claims stay in the access token");
    assert_eq!(id["cognito:groups"], json!(["vip"]));
    assert!(id.get("cognito:roles").is_none());
    assert_eq!(access["tenant"], "t-1");
    assert!(access.get("admin").is_none(), "suppress beats override");
    assert_eq!(access["quota"], 2.5);
    assert_eq!(access["tags"], json!(["x", 1, false]));
    assert_eq!(access["client_id"], client_id.as_str());
    assert_eq!(access["username"], sub.as_str());
    assert_eq!(access["sub"], sub.as_str());
    assert!(access["origin_jti"].is_string() && access["origin_jti"] != "forged");
    assert_eq!(access["cognito:groups"], json!(["vip"]));
    assert_eq!(access["scope"], format!("{USER_API_SCOPE} photos/read"));
    env.client.get_user().access_token(t.access_token().unwrap()).send().await.unwrap();

    // Without aws.cognito.signin.user.admin the access token no longer serves the user API.
    env.lambda.on(|_, _| {
        Reply::Respond(json!({"claimsAndScopeOverrideDetails": {"accessTokenGeneration": {
            "scopesToAdd": ["photos/read"], "scopesToSuppress": [USER_API_SCOPE],
        }}}))
    });
    let t = env.password_sign_in(&client_id, "ivo@example.com", PASSWORD).await.unwrap();
    assert_eq!(access_claims(&t)["scope"], "photos/read");
    let e = env
        .client
        .get_user()
        .access_token(t.access_token().unwrap())
        .send()
        .await
        .map_err(err_name)
        .unwrap_err();
    assert_eq!(e, "NotAuthorizedException: Access Token does not have required scopes");

    // A V1 answer means nothing to a V2 pool.
    env.lambda.on(|_, _| Reply::Respond(json!({"claimsOverrideDetails": {"claimsToSuppress": ["email"]}})));
    let t = env.password_sign_in(&client_id, "ivo@example.com", PASSWORD).await.unwrap();
    assert_eq!(id_claims(&t)["email"], "ivo@example.com");
});

on_both_stores!(refresh_reruns_the_trigger_and_keeps_the_session, |env| {
    let (pool, client_id) = trigger_pool(env, Config::V1).await;
    let sub = env.confirmed_user(&client_id, "rex@example.com").await;
    env.lambda.on(|_, event| {
        let source = event["triggerSource"].clone();
        let name = event["request"]["userAttributes"]["name"].clone();
        Reply::Respond(json!({"claimsOverrideDetails": {
            "claimsToAddOrOverride": {"source": source, "seen_name": if name.is_null() { json!("none") } else { name }},
        }}))
    });
    let first = env.password_sign_in(&client_id, "rex@example.com", PASSWORD).await.unwrap();
    let first_id = id_claims(&first);
    assert_eq!(first_id["source"], "TokenGeneration_Authentication");
    assert_eq!(first_id["seen_name"], "none");
    env.client
        .admin_update_user_attributes()
        .user_pool_id(&pool)
        .username(&sub)
        .user_attributes(attr("name", "Rex"))
        .send()
        .await
        .unwrap();
    env.clock.advance_secs(5);
    let refreshed = env.refresh(&client_id, first.refresh_token().unwrap()).await.unwrap();
    assert!(refreshed.refresh_token().is_none());
    let id = id_claims(&refreshed);
    assert_eq!(id["source"], "TokenGeneration_RefreshTokens");
    assert_eq!(id["seen_name"], "Rex");
    assert_eq!(id["name"], "Rex");
    assert_eq!(id["auth_time"], first_id["auth_time"]);
    assert_eq!(id["origin_jti"], first_id["origin_jti"]);
    assert_eq!(access_claims(&refreshed)["origin_jti"], first_id["origin_jti"]);
    assert!(id["iat"].as_i64() > first_id["iat"].as_i64());
});

on_both_stores!(a_failing_trigger_gives_cognitos_error_and_no_tokens, |env| {
    let (pool, client_id) = trigger_pool(env, Config::V1).await;
    env.confirmed_user(&client_id, "fay@example.com").await;
    let good = env.password_sign_in(&client_id, "fay@example.com", PASSWORD).await.unwrap();
    let body = format!(
        r#"{{"AuthFlow":"USER_PASSWORD_AUTH","ClientId":"{client_id}","AuthParameters":{{"USERNAME":"fay@example.com","PASSWORD":"{PASSWORD}"}}}}"#
    );

    // The function throws: UserLambdaValidationException with its message, and no tokens.
    env.lambda.on(|_, _| Reply::Fail("Not today".into()));
    let (status, out, _) = raw_call(&env.url, "InitiateAuth", &body).await;
    assert_eq!(status, 400);
    assert_eq!(out["__type"], "UserLambdaValidationException");
    assert_eq!(out["message"], "PreTokenGeneration failed with error Not today.");
    assert!(out.get("AuthenticationResult").is_none());
    let e = env.refresh(&client_id, good.refresh_token().unwrap()).await.unwrap_err();
    assert_eq!(e, "UserLambdaValidationException: PreTokenGeneration failed with error Not today.");

    // Output it cannot use: InvalidLambdaResponseException.
    for reply in [
        json!({"claimsOverrideDetails": {"claimsToSuppress": "email"}}),
        json!({"claimsOverrideDetails": {"claimsToAddOrOverride": {"level": 3}}}),
        json!({"claimsOverrideDetails": {"groupOverrideDetails": {"groupsToOverride": "a"}}}),
        json!({"claimsOverrideDetails": "yes"}),
    ] {
        env.lambda.on(move |_, _| Reply::Respond(reply.clone()));
        let (status, out, _) = raw_call(&env.url, "InitiateAuth", &body).await;
        assert_eq!(status, 400);
        assert_eq!(out["__type"], "InvalidLambdaResponseException", "{out}");
        assert!(out.get("AuthenticationResult").is_none());
    }
    env.lambda.on(|_, _| Reply::Payload(b"not json".to_vec()));
    let e = env.password_sign_in(&client_id, "fay@example.com", PASSWORD).await.unwrap_err();
    assert_eq!(e, "InvalidLambdaResponseException: Unrecognizable lambda output");

    // The earlier session is untouched and works again once the function does.
    env.lambda.on(|_, e| Reply::Respond(e["response"].clone()));
    env.refresh(&client_id, good.refresh_token().unwrap()).await.unwrap();

    // After NEW_PASSWORD_REQUIRED the new password stands although no tokens came back.
    create_user(env, &pool, "gil@example.com", Some("Temporary-Horse-7"), None).await.unwrap();
    let session = new_password_session(env, &client_id, "gil@example.com", "Temporary-Horse-7").await;
    env.lambda.on(|_, _| Reply::Fail("Not today".into()));
    let e =
        respond_new_password(env, &client_id, &session, "gil@example.com", PASSWORD, &[]).await.unwrap_err();
    assert_eq!(e, "UserLambdaValidationException: PreTokenGeneration failed with error Not today.");
    env.lambda.on(|_, e| Reply::Respond(e["response"].clone()));
    let t = env.password_sign_in(&client_id, "gil@example.com", PASSWORD).await.unwrap();
    assert!(t.refresh_token().is_some());
});

on_both_stores!(get_tokens_from_refresh_token_runs_the_trigger_with_client_metadata, |env| {
    let (pool, _) = trigger_pool(env, Config::V2).await;
    let client_id = env
        .client
        .create_user_pool_client()
        .user_pool_id(&pool)
        .client_name("rotating")
        .explicit_auth_flows(cip::types::ExplicitAuthFlowsType::AllowUserPasswordAuth)
        .refresh_token_rotation(
            cip::types::RefreshTokenRotationType::builder()
                .feature(cip::types::FeatureType::Enabled)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap()
        .user_pool_client()
        .unwrap()
        .client_id()
        .unwrap()
        .to_string();
    let sub = env.confirmed_user(&client_id, "gil@example.com").await;
    let t = env.password_sign_in(&client_id, "gil@example.com", PASSWORD).await.unwrap();
    env.lambda.clear();
    let refresh = |rt: String| {
        env.client
            .get_tokens_from_refresh_token()
            .client_id(&client_id)
            .refresh_token(rt)
            .client_metadata("app", "checkout")
            .send()
    };
    let out = refresh(t.refresh_token().unwrap().to_string()).await.unwrap();
    let event = only_event(env);
    let sdk = event["callerContext"]["awsSdkVersion"].clone();
    assert_eq!(
        event,
        expected_event(
            "2",
            "TokenGeneration_RefreshTokens",
            &pool,
            &sub,
            &client_id,
            &sdk,
            json!({
                "sub": sub, "email": "gil@example.com", "email_verified": "true",
                "cognito:user_status": "CONFIRMED",
            }),
            no_groups(),
            json!({"app": "checkout"})
        )
    );
    // A refusing trigger rotates nothing: the presented token stays the family's current one.
    let rt1 = out.authentication_result().unwrap().refresh_token().unwrap().to_string();
    env.lambda.on(|_, _| Reply::Fail("no tokens today".into()));
    let e = refresh(rt1.clone()).await.map_err(err_name).unwrap_err();
    assert!(e.starts_with("UserLambdaValidationException"), "{e}");
    env.lambda.on(|_, event| Reply::Respond(event["response"].clone()));
    let again = refresh(rt1).await.unwrap();
    assert!(again.authentication_result().unwrap().refresh_token().is_some());
});
