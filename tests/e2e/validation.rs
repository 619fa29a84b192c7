//! Model validation of numbers over HTTP (issue 14, finding 9, "Minimums are not enforced"):
//! raw JSON the SDKs cannot send (fractions, negative limits, huge numbers, numbers in strings),
//! signed with the admin keys, for operations of all three services. Nothing is written by a
//! refused call.

use crate::common::*;

/// A SigV4-signed request with this exact body; (status, `__type`, message).
async fn signed(
    env: &TestEnv,
    service: &str,
    method: &str,
    path_and_query: &str,
    target: Option<&str>,
    body: &str,
) -> (u16, String, String) {
    let (status, answer) = admin_signed_request(env, service, method, path_and_query, target, body).await;
    let (kind, message) = error_parts(&answer);
    (status, kind, message)
}

async fn idp(env: &TestEnv, op: &str, body: &str) -> (u16, String, String) {
    let target = format!("AWSCognitoIdentityProviderService.{op}");
    signed(env, "cognito-idp", "POST", "/", Some(&target), body).await
}

async fn identity(env: &TestEnv, op: &str, body: &str) -> (u16, String, String) {
    let target = format!("AWSCognitoIdentityService.{op}");
    signed(env, "cognito-identity", "POST", "/", Some(&target), body).await
}

fn ge(path: &str, value: &str, bound: i64) -> String {
    format!(
        "1 validation error detected: Value '{value}' at '{path}' failed to satisfy constraint: \
         Member must have value greater than or equal to {bound}"
    )
}

const FRACTION: &str = "SerializationException";

#[tokio::test]
async fn user_pool_limits_and_integers_follow_the_model() {
    let env = TestEnv::start(Backend::Embedded).await.unwrap();
    let pool = env.pool(|b| b).await;
    let p = |rest: &str| format!(r#"{{"UserPoolId":"{pool}"{rest}}}"#);

    // The issue's cases: Limit=-1 and Limit=1.5 answered 200.
    assert_eq!(
        idp(&env, "ListUsers", &p(r#","Limit":-1"#)).await,
        (400, "InvalidParameterException".into(), ge("limit", "-1", 0))
    );
    let (status, kind, message) = idp(&env, "ListUsers", &p(r#","Limit":1.5"#)).await;
    assert_eq!((status, kind.as_str()), (400, FRACTION));
    assert_eq!(message, "Value in payload for 'Limit' is not a whole number: expected integer");
    // Huge numbers, numbers in strings: refused as types, never a 500.
    for huge in ["1e400", "18446744073709551616", "2147483648", "-1e300", r#""5""#, "true"] {
        let (status, kind, _) = idp(&env, "ListUsers", &p(&format!(r#","Limit":{huge}"#))).await;
        assert_eq!((status, kind.as_str()), (400, "SerializationException"), "{huge}");
    }
    // Whole numbers not written as integers are refused, not taken for absent.
    for written in ["-0", "60.0", "6e1"] {
        let (status, kind, message) = idp(&env, "ListUsers", &p(&format!(r#","Limit":{written}"#))).await;
        assert_eq!((status, kind.as_str()), (400, "SerializationException"), "{written}");
        assert_eq!(
            message,
            "Value in payload for 'Limit' must be written as a plain integer: expected integer"
        );
    }
    // The bounds themselves are fine.
    for ok in ["0", "60"] {
        let (status, kind, message) = idp(&env, "ListUsers", &p(&format!(r#","Limit":{ok}"#))).await;
        assert_eq!(status, 200, "{ok}: {kind} {message}");
    }
    assert_eq!(idp(&env, "ListUsers", &p(r#","Limit":61"#)).await.1, "InvalidParameterException");
    // The other List operations.
    assert_eq!(idp(&env, "ListGroups", &p(r#","Limit":-1"#)).await.2, ge("limit", "-1", 0));
    assert_eq!(
        idp(&env, "ListUsersInGroup", &p(r#","GroupName":"g","Limit":-5"#)).await.2,
        ge("limit", "-5", 0)
    );
    assert_eq!(
        idp(&env, "AdminListGroupsForUser", &p(r#","Username":"u","Limit":-1"#)).await.2,
        ge("limit", "-1", 0)
    );
    assert_eq!(
        idp(&env, "ListIdentityProviders", &p(r#","MaxResults":-1"#)).await.2,
        ge("maxResults", "-1", 0)
    );
    assert_eq!(idp(&env, "ListUserPoolClients", &p(r#","MaxResults":0.5"#)).await.1, FRACTION);
    assert_eq!(idp(&env, "ListUserPools", r#"{"MaxResults":2.5}"#).await.1, FRACTION);
    // ListDevices is called with a token, unsigned: validated before the token is looked at.
    let (status, body, _) = raw_call(&env.url, "ListDevices", r#"{"AccessToken":"x","Limit":-1}"#).await;
    assert_eq!((status, body["message"].as_str()), (400, Some(ge("limit", "-1", 0).as_str())));

    // Writes: a refused group, client or policy leaves nothing behind.
    assert_eq!(
        idp(&env, "CreateGroup", &p(r#","GroupName":"g1","Precedence":-1"#)).await.2,
        ge("precedence", "-1", 0)
    );
    assert_eq!(idp(&env, "CreateGroup", &p(r#","GroupName":"g1","Precedence":2.5"#)).await.1, FRACTION);
    let groups = env.client.list_groups().user_pool_id(&pool).send().await.unwrap();
    assert!(groups.groups().is_empty(), "no group from a refused call");
    assert_eq!(idp(&env, "CreateGroup", &p(r#","GroupName":"g1","Precedence":0"#)).await.0, 200);

    for (member, value, expect) in [
        ("RefreshTokenValidity", "-1", ge("refreshTokenValidity", "-1", 0)),
        ("AccessTokenValidity", "0", ge("accessTokenValidity", "0", 1)),
        ("AccessTokenValidity", "1.5", String::new()),
        ("IdTokenValidity", "60.25", String::new()),
    ] {
        let (status, kind, message) =
            idp(&env, "CreateUserPoolClient", &p(&format!(r#","ClientName":"c","{member}":{value}"#))).await;
        assert_eq!(status, 400, "{member}={value}");
        if expect.is_empty() {
            assert_eq!(kind, FRACTION, "{member}={value}");
        } else {
            assert_eq!(message, expect);
        }
    }
    let clients = env.client.list_user_pool_clients().user_pool_id(&pool).send().await.unwrap();
    assert!(clients.user_pool_clients().is_empty(), "no client from a refused call");

    for (value, expect_kind) in
        [("-1", "InvalidParameterException"), ("1.5", FRACTION), ("25", "InvalidParameterException")]
    {
        let (status, kind, _) = idp(
            &env,
            "UpdateUserPool",
            &p(&format!(
                r#","Policies":{{"PasswordPolicy":{{"MinimumLength":17,"PasswordHistorySize":{value}}}}}"#
            )),
        )
        .await;
        assert_eq!((status, kind.as_str()), (400, expect_kind), "PasswordHistorySize={value}");
    }
    let (_, _, message) = idp(
        &env,
        "UpdateUserPool",
        &p(r#","Policies":{"PasswordPolicy":{"MinimumLength":17,"PasswordHistorySize":-1}}"#),
    )
    .await;
    assert_eq!(message, ge("policies.passwordPolicy.passwordHistorySize", "-1", 0));
    let described = env.client.describe_user_pool().user_pool_id(&pool).send().await.unwrap();
    let policy = described.user_pool().and_then(|p| p.policies()).and_then(|p| p.password_policy());
    assert_ne!(policy.and_then(|p| p.minimum_length()), Some(17), "the refused update changed nothing");
}

#[tokio::test]
async fn identity_pool_and_sync_numbers_follow_the_model() {
    let env = TestEnv::start(Backend::Embedded).await.unwrap();
    // cognito-identity (JSON 1.1).
    let (status, kind, message) = identity(&env, "ListIdentityPools", r#"{"MaxResults":0}"#).await;
    assert_eq!((status, kind.as_str(), message), (400, "ValidationException", ge("maxResults", "0", 1)));
    assert_eq!(identity(&env, "ListIdentityPools", r#"{"MaxResults":1.5}"#).await.1, FRACTION);
    assert_eq!(
        identity(&env, "ListIdentityPools", r#"{"MaxResults":1e400}"#).await.1,
        "SerializationException"
    );
    assert_eq!(identity(&env, "ListIdentityPools", r#"{"MaxResults":60}"#).await.0, 200);
    let pool_id = "us-east-1:00000000-0000-4000-8000-000000000000";
    let (_, kind, message) =
        identity(&env, "ListIdentities", &format!(r#"{{"IdentityPoolId":"{pool_id}","MaxResults":-1}}"#))
            .await;
    assert_eq!((kind.as_str(), message), ("ValidationException", ge("maxResults", "-1", 1)));
    let dev = |d: &str| {
        format!(r#"{{"IdentityPoolId":"{pool_id}","Logins":{{"login.app":"u"}},"TokenDuration":{d}}}"#)
    };
    assert_eq!(
        identity(&env, "GetOpenIdTokenForDeveloperIdentity", &dev("-1")).await.2,
        ge("tokenDuration", "-1", 1)
    );
    for bad in ["1.5", "9223372036854775808", r#""60""#] {
        let (status, kind, _) = identity(&env, "GetOpenIdTokenForDeveloperIdentity", &dev(bad)).await;
        assert_eq!((status, kind.as_str()), (400, "SerializationException"), "{bad}");
    }

    // cognito-sync (REST): integers from the query string and from the body.
    let records = format!("/identitypools/{pool_id}/identities/{pool_id}/datasets/d/records");
    for query in
        ["maxResults=1.5", "lastSyncCount=2.5", "maxResults=1e400", "maxResults=99999999999999999999"]
    {
        let (status, kind, _) =
            signed(&env, "cognito-sync", "GET", &format!("{records}?{query}"), None, "").await;
        assert_eq!((status, kind.as_str()), (400, "SerializationException"), "{query}");
    }
    let patch = |count: &str| {
        format!(
            r#"{{"SyncSessionToken":"t","RecordPatches":[{{"Op":"replace","Key":"k","Value":"v","SyncCount":{count}}}]}}"#
        )
    };
    let dataset = format!("/identitypools/{pool_id}/identities/{pool_id}/datasets/d");
    for count in ["1.5", "1e400", r#""0""#] {
        let (status, kind, _) = signed(&env, "cognito-sync", "POST", &dataset, None, &patch(count)).await;
        assert_eq!((status, kind.as_str()), (400, "SerializationException"), "SyncCount {count}");
    }
    let (status, _, message) =
        signed(&env, "cognito-sync", "GET", "/identitypools?maxResults=0.5", None, "").await;
    assert_eq!(status, 400, "{message}");
    assert_eq!(message, "Could not read 'maxResults' as a number");
}
