//! Under PreventUserExistenceErrors an unknown name costs the store what a known user costs
//! (issue 14, finding 5): the same reads, queries and writes per call, in pools with plain
//! usernames and with email as the username. On DynamoDB every round trip is milliseconds, so
//! one more for unknown names shows in the answer's timing.

use serde_json::{json, Value};
use tessera_fuzz::gen::PASSWORD;
use tessera_fuzz::harness::{Config, Env};
use tessera_fuzz::model::ServiceKind::UserPools;

async fn ok(env: &Env, op: &str, input: Value) -> Value {
    let (status, out) = env.call(UserPools, op, &input).await;
    assert_eq!(status, 200, "{op}: {out}");
    out
}

/// (pool, client, a confirmed user's name, an unconfirmed user's name).
async fn pool(env: &Env, email_as_username: bool) -> (String, String, String, String) {
    let mut pool = json!({"PoolName": "round-trips", "AutoVerifiedAttributes": ["email"]});
    if email_as_username {
        pool["UsernameAttributes"] = json!(["email"]);
    }
    let pool = ok(env, "CreateUserPool", pool).await["UserPool"]["Id"].as_str().unwrap().to_string();
    let client = ok(
        env,
        "CreateUserPoolClient",
        json!({"UserPoolId": pool, "ClientName": "app", "PreventUserExistenceErrors": "ENABLED",
               "ExplicitAuthFlows": ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]}),
    )
    .await["UserPoolClient"]["ClientId"]
        .as_str()
        .unwrap()
        .to_string();
    let (confirmed, unconfirmed) = if email_as_username {
        ("alice@example.com".to_string(), "bob@example.com".to_string())
    } else {
        ("alice".to_string(), "bob".to_string())
    };
    let created = ok(
        env,
        "AdminCreateUser",
        json!({"UserPoolId": pool, "Username": confirmed, "MessageAction": "SUPPRESS",
               "UserAttributes": [{"Name": "email", "Value": "alice@example.com"},
                                  {"Name": "email_verified", "Value": "true"}]}),
    )
    .await;
    let username = created["User"]["Username"].as_str().unwrap();
    ok(
        env,
        "AdminSetUserPassword",
        json!({"UserPoolId": pool, "Username": username, "Password": PASSWORD, "Permanent": true}),
    )
    .await;
    ok(
        env,
        "SignUp",
        json!({"ClientId": client, "Username": unconfirmed, "Password": PASSWORD,
               "UserAttributes": [{"Name": "email", "Value": "bob@example.com"}]}),
    )
    .await;
    (pool, client, confirmed, unconfirmed)
}

/// The store calls of one call (after a warm-up call, so the pool and client are cached).
async fn cost(env: &Env, op: &str, input: Value) -> (u64, u64, u64) {
    env.call(UserPools, op, &input).await;
    env.store.take_calls();
    env.call(UserPools, op, &input).await;
    env.store.take_calls()
}

async fn same_cost(email_as_username: bool) {
    let env = Env::new(&Config::default(), 0).await.unwrap();
    let (_, client, confirmed, unconfirmed) = pool(&env, email_as_username).await;
    let unknown =
        |n: u32| if email_as_username { format!("nobody{n}@example.com") } else { format!("nobody{n}") };
    let cases = [
        ("ForgotPassword", confirmed.clone(), unknown(1)),
        ("ResendConfirmationCode", unconfirmed, unknown(2)),
        ("InitiateAuth", confirmed, unknown(3)),
    ];
    for (op, known, nobody) in cases {
        let input = |name: &str| match op {
            "InitiateAuth" => json!({"ClientId": client, "AuthFlow": "USER_PASSWORD_AUTH",
                                     "AuthParameters": {"USERNAME": name, "PASSWORD": "Wrong-Horse-1"}}),
            _ => json!({"ClientId": client, "Username": name}),
        };
        let k = cost(&env, op, input(&known)).await;
        let u = cost(&env, op, input(&nobody)).await;
        assert_eq!(k, u, "{op} (email as username: {email_as_username}): (gets, queries, writes) known {k:?}, unknown {u:?}");
        assert!(k.2 >= 1, "{op}: every call writes (a code, a count): {k:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_names_cost_what_known_users_cost_with_plain_usernames() {
    same_cost(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_names_cost_what_known_users_cost_with_email_as_username() {
    same_cost(true).await;
}
