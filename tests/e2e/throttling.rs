//! Request-rate quotas (docs/security-throttle.md): a burst over a category's quota answers
//! TooManyRequestsException "Rate exceeded", other categories go on, the bucket refills with
//! the service clock, both routings share one bucket, and the SMS sign-up and guest GetId
//! quotas bite at their own, lower limits. Clients here never retry: a retry would hide the
//! answer under test.

use crate::common::*;
use aws_sdk_cognitoidentity as ci;
use aws_sdk_cognitoidentityprovider as cip;
use aws_sdk_cognitosync as cs;
use tessera_wire::throttle::ThrottleSettings;

const THROTTLED: &str = "TooManyRequestsException: Rate exceeded";

/// A server on the embedded store with these quotas over the defaults. Rates are tiny (one
/// token per 1,000 s) so that only the test clock refills a bucket, however slow the machine.
async fn server(spec: &str) -> TestEnv {
    let settings = ThrottleSettings::parse(spec).expect("settings");
    TestEnv::start_local(Backend::Embedded, move |cfg| cfg.throttle = settings).await.expect("server")
}

async fn no_retry_client(env: &TestEnv) -> cip::Client {
    let conf = cip::Config::builder()
        .behavior_version(cip::config::BehaviorVersion::latest())
        .region(cip::config::Region::new("us-east-1"))
        .endpoint_url(&env.url)
        .credentials_provider(cip::config::Credentials::new(ADMIN_KEY, ADMIN_SECRET, None, None, "test"))
        .retry_config(cip::config::retry::RetryConfig::disabled())
        .build();
    cip::Client::from_conf(conf)
}

async fn sign_up(
    c: &cip::Client,
    client_id: &str,
    username: &str,
    phone: Option<&str>,
) -> Result<(), String> {
    let mut b = c.sign_up().client_id(client_id).username(username).password(PASSWORD);
    if let Some(p) = phone {
        b = b.user_attributes(attr("phone_number", p));
    }
    b.send().await.map(|_| ()).map_err(err_name)
}

fn sign_up_body(client_id: &str, username: &str) -> String {
    serde_json::json!({"ClientId": client_id, "Username": username, "Password": PASSWORD}).to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_over_a_category_is_refused_and_the_bucket_refills() {
    let env = server("UserCreation=0.001:3").await;
    let c = no_retry_client(&env).await;
    let pool = env.pool(|b| b).await;
    let (client_id, _) = env.app_client(&pool, &["ALLOW_USER_PASSWORD_AUTH"], false).await;
    for i in 0..3 {
        sign_up(&c, &client_id, &format!("burst{i}"), None).await.expect("within the burst");
    }
    assert_eq!(sign_up(&c, &client_id, "burst3", None).await, Err(THROTTLED.to_string()));
    // Nothing of the refused request happened.
    let user = c.admin_get_user().user_pool_id(&pool).username("burst3").send().await.map_err(err_name);
    assert_eq!(user.err().as_deref(), Some("UserNotFoundException: User does not exist."));

    // As Cognito sends it: HTTP 400, __type and X-Amzn-ErrorType.
    let (status, body, headers) = raw_call(&env.url, "SignUp", &sign_up_body(&client_id, "raw")).await;
    assert_eq!(status, 400);
    assert_eq!(body["__type"], "TooManyRequestsException");
    assert_eq!(body["message"], "Rate exceeded");
    assert!(headers
        .iter()
        .any(|(k, v)| k == "x-amzn-errortype" && v.starts_with("TooManyRequestsException")));

    // The category's other operations share its bucket; other categories go on.
    let confirm = c.confirm_sign_up().client_id(&client_id).username("burst0").confirmation_code("000000");
    assert_eq!(confirm.send().await.map(|_| ()).map_err(err_name), Err(THROTTLED.to_string()));
    let admin_confirm = c.admin_confirm_sign_up().user_pool_id(&pool).username("burst0").send().await;
    assert_eq!(admin_confirm.map(|_| ()).map_err(err_name), Err(THROTTLED.to_string()));
    c.list_users().user_pool_id(&pool).send().await.expect("UserList has its own quota");
    let signed_in = c
        .initiate_auth()
        .client_id(&client_id)
        .auth_flow(cip::types::AuthFlowType::UserPasswordAuth)
        .auth_parameters("USERNAME", "burst1")
        .auth_parameters("PASSWORD", PASSWORD)
        .send()
        .await
        .map_err(err_name);
    assert_eq!(signed_in.err().as_deref(), Some("UserNotConfirmedException: User is not confirmed."));

    // A token comes back every 1,000 s of the service clock; never more than the burst.
    env.clock.advance_secs(1000);
    sign_up(&c, &client_id, "later0", None).await.expect("one token refilled");
    assert_eq!(sign_up(&c, &client_id, "later1", None).await, Err(THROTTLED.to_string()));
    env.clock.advance_secs(100_000);
    for i in 0..3 {
        sign_up(&c, &client_id, &format!("full{i}"), None).await.expect("a full bucket again");
    }
    assert_eq!(sign_up(&c, &client_id, "full3", None).await, Err(THROTTLED.to_string()));
}

/// `X-Amz-Target` on `/` and the `/cognito-idp/{Operation}` path are one operation, one bucket;
/// so is a request naming the operation both ways.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn target_and_path_routing_share_one_bucket() {
    let env = server("UserCreation=0.001:2").await;
    let pool = env.pool(|b| b).await;
    let (client_id, _) = env.app_client(&pool, &[], false).await;
    let by_path = |name: &'static str| {
        let body = sign_up_body(&client_id, name);
        let url = env.url.clone();
        async move {
            let (status, _, body) = raw_http(
                &url,
                "POST",
                "/cognito-idp/SignUp",
                &[("Content-Type", "application/x-amz-json-1.1")],
                body.as_bytes(),
            )
            .await;
            (status, serde_json::from_slice::<serde_json::Value>(&body).unwrap_or_default())
        }
    };
    let (status, _, _) = raw_call(&env.url, "SignUp", &sign_up_body(&client_id, "target")).await;
    assert_eq!(status, 200);
    let (status, body) = by_path("path").await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = by_path("path2").await;
    assert_eq!((status, body["__type"].as_str()), (400, Some("TooManyRequestsException")));
    let (_, body, _) = raw_call(&env.url, "SignUp", &sign_up_body(&client_id, "target2")).await;
    assert_eq!(body["__type"], "TooManyRequestsException");
}

/// Cognito's 5 RPS per operation and user pool for the pool-resource categories: one pool's
/// CreateGroup runs out, another pool's and another operation's do not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_pools_operation_has_its_own_bucket() {
    // One token per 100 s: signed calls stay within the 5-minute signature skew after the clock moves.
    let env = server("PerPoolOperation=0.01:2").await;
    let c = no_retry_client(&env).await;
    let (a, b) = (env.pool(|b| b).await, env.pool(|b| b).await);
    let create = |pool: &str, name: &str| c.create_group().user_pool_id(pool).group_name(name).send();
    create(&a, "g1").await.expect("first");
    create(&a, "g2").await.expect("second");
    assert_eq!(create(&a, "g3").await.map(|_| ()).map_err(err_name), Err(THROTTLED.to_string()));
    create(&b, "g1").await.expect("another pool");
    c.get_group().user_pool_id(&a).group_name("g1").send().await.expect("another operation");
    env.clock.advance_secs(100);
    create(&a, "g3").await.expect("refilled");
}

/// Operations taking an access token are also limited per token (Cognito: per user); another
/// session of the same user, and the admin API, go on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_access_token_has_its_own_bucket() {
    let env = server("PerUserRead=0.001:3").await;
    let c = no_retry_client(&env).await;
    let pool = env.email_pool().await;
    let (client_id, _) = env.app_client(&pool, &["ALLOW_ADMIN_USER_PASSWORD_AUTH"], false).await;
    env.confirmed_user(&client_id, "reader@example.com").await;
    let first = env.admin_sign_in(&pool, &client_id, "reader@example.com").await;
    let token = first.access_token().unwrap();
    for _ in 0..3 {
        c.get_user().access_token(token).send().await.expect("within the burst");
    }
    let refused = c.get_user().access_token(token).send().await.map(|_| ()).map_err(err_name);
    assert_eq!(refused, Err(THROTTLED.to_string()));
    let second = env.admin_sign_in(&pool, &client_id, "reader@example.com").await;
    c.get_user().access_token(second.access_token().unwrap()).send().await.expect("another session");
    c.admin_get_user().user_pool_id(&pool).username("reader@example.com").send().await.expect("admin");
    // A write operation counts against the write bucket, not the exhausted read one.
    c.update_user_attributes()
        .access_token(token)
        .user_attributes(attr("name", "Reader"))
        .send()
        .await
        .expect("write quota");
}

/// SMS pumping: SignUps that text a code to the number they name get their own low quota,
/// below UserCreation's; sign-ups that text nothing are unaffected, and a refused one sends
/// no SMS.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_ups_that_text_a_phone_have_their_own_quota() {
    let env = server("SignUpSms=0.001:2").await;
    let c = no_retry_client(&env).await;
    let texting =
        env.pool(|b| b.auto_verified_attributes(cip::types::VerifiedAttributeType::PhoneNumber)).await;
    let (texting_client, _) = env.app_client(&texting, &[], false).await;
    let phones = ["+15550100001", "+15550100002", "+15550100003", "+15550100004"];
    sign_up(&c, &texting_client, "pump0", Some(phones[0])).await.expect("first");
    sign_up(&c, &texting_client, "pump1", Some(phones[1])).await.expect("second");
    assert_eq!(sign_up(&c, &texting_client, "pump2", Some(phones[2])).await, Err(THROTTLED.to_string()));
    assert!(env.messages_to(phones[2]).is_empty(), "no SMS for a refused sign-up");
    assert_eq!(env.messages_to(phones[0]).len(), 1);
    // Without a phone number the same pool texts nothing: UserCreation's quota only.
    sign_up(&c, &texting_client, "quiet", None).await.expect("no SMS, no SMS quota");
    // A pool that verifies email only sends no SMS for a phone number either.
    let email_pool = env.email_pool().await;
    let (email_client, _) = env.app_client(&email_pool, &[], false).await;
    sign_up(&c, &email_client, "mail@example.com", Some(phones[3])).await.expect("email pool");
    // A phone number as the username counts as well.
    let phone_names = env
        .pool(|b| {
            b.username_attributes(cip::types::UsernameAttributeType::PhoneNumber)
                .auto_verified_attributes(cip::types::VerifiedAttributeType::PhoneNumber)
        })
        .await;
    let (phone_client, _) = env.app_client(&phone_names, &[], false).await;
    assert_eq!(sign_up(&c, &phone_client, phones[3], None).await, Err(THROTTLED.to_string()));
    env.clock.advance_secs(1000);
    sign_up(&c, &phone_client, phones[3], None).await.expect("refilled");
    assert_eq!(env.messages_to(phones[3]).len(), 1);
}

/// Cost attacks on identity pools: GetId without logins makes an identity each time and has
/// its own quota, below GetId's; GetId with a login goes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guest_get_id_has_its_own_quota() {
    let env = server("GetIdUnauthenticated=0.001:2").await;
    let user_pool = env.email_pool().await;
    let (app, _) = env.app_client(&user_pool, &["ALLOW_ADMIN_USER_PASSWORD_AUTH"], false).await;
    env.confirmed_user(&app, "guest-host@example.com").await;
    let id_token =
        env.admin_sign_in(&user_pool, &app, "guest-host@example.com").await.id_token().unwrap().to_string();
    let provider = format!("{}/{user_pool}", env.url.trim_start_matches("http://"));
    let conf = ci::Config::builder()
        .behavior_version(ci::config::BehaviorVersion::latest())
        .region(ci::config::Region::new("us-east-1"))
        .endpoint_url(&env.url)
        .credentials_provider(ci::config::Credentials::new(ADMIN_KEY, ADMIN_SECRET, None, None, "test"))
        .retry_config(ci::config::retry::RetryConfig::disabled())
        .build();
    let c = ci::Client::from_conf(conf);
    let pool = c
        .create_identity_pool()
        .identity_pool_name("guests")
        .allow_unauthenticated_identities(true)
        .cognito_identity_providers(
            ci::types::CognitoIdentityProvider::builder().provider_name(&provider).client_id(&app).build(),
        )
        .send()
        .await
        .expect("identity pool")
        .identity_pool_id()
        .to_string();
    let guest = || c.get_id().identity_pool_id(&pool).send();
    guest().await.expect("first guest");
    guest().await.expect("second guest");
    assert_eq!(guest().await.map(|_| ()).map_err(err_name), Err(THROTTLED.to_string()));
    // An empty Logins map is no login either.
    let empty = c.get_id().identity_pool_id(&pool).set_logins(Some(Default::default())).send().await;
    assert_eq!(empty.map(|_| ()).map_err(err_name), Err(THROTTLED.to_string()));
    c.get_id().identity_pool_id(&pool).logins(&provider, &id_token).send().await.expect("a signed-in GetId");
    let listed = c.list_identities().identity_pool_id(&pool).max_results(10).send().await.expect("list");
    assert_eq!(listed.identities().len(), 3, "two guests and one user; the refused made none");
    env.clock.advance_secs(1000);
    guest().await.expect("refilled");
}

/// Cognito Sync is REST: its throttling answers 429, as its model says.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_answers_429() {
    let env = server("SyncRead=0.001:1").await;
    let conf = cs::Config::builder()
        .behavior_version(cs::config::BehaviorVersion::latest())
        .region(cs::config::Region::new("us-east-1"))
        .endpoint_url(&env.url)
        .credentials_provider(cs::config::Credentials::new(ADMIN_KEY, ADMIN_SECRET, None, None, "test"))
        .retry_config(cs::config::retry::RetryConfig::disabled())
        .build();
    let c = cs::Client::from_conf(conf);
    c.list_identity_pool_usage().send().await.expect("first");
    let e = c.list_identity_pool_usage().send().await.expect_err("throttled");
    let status = e.raw_response().map(|r| r.status().as_u16());
    assert_eq!(status, Some(429));
    assert_eq!(err_name(e), THROTTLED);
}

/// Off means off, and the defaults are Cognito's (a burst of 60 UserCreation requests passes).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn defaults_let_a_normal_burst_pass_and_off_disables() {
    for spec in ["", "off"] {
        let env = server(spec).await;
        let c = no_retry_client(&env).await;
        let pool = env.pool(|b| b).await;
        let (client_id, _) = env.app_client(&pool, &[], false).await;
        for i in 0..60 {
            sign_up(&c, &client_id, &format!("u{i}"), None).await.expect("within Cognito's quota");
        }
    }
    let env = server("off").await;
    let c = no_retry_client(&env).await;
    for _ in 0..200 {
        c.list_user_pools().max_results(1).send().await.expect("off: no quota");
    }
}
