//! `enumeration`: do known and unknown users answer in the same time under
//! PreventUserExistenceErrors? Starts a local server in this process (embedded store, or
//! DynamoDB at an endpoint), makes N confirmed and N unconfirmed users, then times ForgotPassword,
//! ResendConfirmationCode and InitiateAuth (a wrong password) for each known user and for as
//! many unknown names, interleaved (known, unknown, known, …) so that drift hits both alike.
//! Every name is used once per operation, so no quota or lockout is reached.

use crate::{err, loadavg, ms, percentile, sdk_client, PASSWORD};
use aws_sdk_cognitoidentityprovider as cip;
use std::time::{Duration, Instant};

pub struct Options {
    pub calls: usize,
    pub dynamodb_endpoint: Option<String>,
    pub concurrency: usize,
}

pub async fn run(o: Options) -> Result<(), String> {
    let dir = std::env::temp_dir().join(format!("tessera-bench-enum-{}", std::process::id()));
    let mut cfg = tessera_local::LocalConfig::new(dir.clone());
    cfg.key_file = Some(dir.with_extension("key"));
    cfg.bind = "127.0.0.1:0".parse().map_err(err("bind"))?;
    let (id, secret) = crate::admin_keys();
    cfg.admin_keys = [(id, secret)].into_iter().collect();
    // The quotas would refuse the benchmark's own bursts; they are not what is measured.
    cfg.throttle = tessera_wire::throttle::ThrottleSettings::parse("off")?;
    if let Some(endpoint) = &o.dynamodb_endpoint {
        let table = format!("bench-enum-{}", std::process::id());
        let client = tessera_aws::config::dynamodb_client(Some(endpoint), "us-east-1").await;
        tessera_aws::dynamo::create_table(&client, &table).await.map_err(|e| e.to_string())?;
        cfg.store = tessera_local::StoreKind::DynamoDb { endpoint: Some(endpoint.clone()), table };
    }
    let server = tessera_local::start(cfg).await?;
    let url = server.url();
    let result = measure(&url, &o).await;
    server.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_file(dir.with_extension("key"));
    result
}

async fn measure(url: &str, o: &Options) -> Result<(), String> {
    let client = sdk_client(url);
    let (pool_id, client_id) = setup(&client).await?;
    let n = o.calls;
    eprintln!("making {n} confirmed and {n} unconfirmed users");
    let confirmed: Vec<String> = (0..n).map(|i| format!("known{i}@example.com")).collect();
    let unconfirmed: Vec<String> = (0..n).map(|i| format!("pending{i}@example.com")).collect();
    for_each(&confirmed, o.concurrency, |name| {
        let (client, pool_id) = (client.clone(), pool_id.clone());
        async move { confirmed_user(&client, &pool_id, &name).await }
    })
    .await?;
    for_each(&unconfirmed, o.concurrency, |name| {
        let (client, client_id) = (client.clone(), client_id.clone());
        async move {
            client
                .sign_up()
                .client_id(client_id)
                .username(&name)
                .password(PASSWORD)
                .user_attributes(attr("email", &name)?)
                .send()
                .await
                .map(|_| ())
                .map_err(err("SignUp"))
        }
    })
    .await?;
    let store = if o.dynamodb_endpoint.is_some() { "dynamodb (moto)" } else { "embedded" };
    println!("store: {store}; {n} calls each for a known user and for an unknown name; load {}", loadavg());
    println!("| operation | known p50 | unknown p50 | difference | known p90 | unknown p90 |");
    println!("|---|---|---|---|---|---|");
    let unknown =
        |prefix: &str| -> Vec<String> { (0..n).map(|i| format!("{prefix}{i}@example.com")).collect() };
    let forgot = |name: String| {
        let (client, client_id) = (client.clone(), client_id.clone());
        async move { client.forgot_password().client_id(client_id).username(name).send().await.is_ok() }
    };
    report("ForgotPassword", &confirmed, &unknown("ghost-forgot"), forgot, true).await;
    let resend = |name: String| {
        let (client, client_id) = (client.clone(), client_id.clone());
        async move { client.resend_confirmation_code().client_id(client_id).username(name).send().await.is_ok() }
    };
    report("ResendConfirmationCode", &unconfirmed, &unknown("ghost-resend"), resend, true).await;
    let sign_in = |name: String| {
        let (client, client_id) = (client.clone(), client_id.clone());
        async move {
            client
                .initiate_auth()
                .client_id(client_id)
                .auth_flow(cip::types::AuthFlowType::UserPasswordAuth)
                .auth_parameters("USERNAME", name)
                .auth_parameters("PASSWORD", "Wrong-Horse-1")
                .send()
                .await
                .is_ok()
        }
    };
    report("InitiateAuth (wrong password)", &confirmed, &unknown("ghost-auth"), sign_in, false).await;
    Ok(())
}

fn attr(name: &str, value: &str) -> Result<cip::types::AttributeType, String> {
    cip::types::AttributeType::builder().name(name).value(value).build().map_err(err("attribute"))
}

async fn setup(client: &cip::Client) -> Result<(String, String), String> {
    let pool = client
        .create_user_pool()
        .pool_name("enumeration")
        .username_attributes(cip::types::UsernameAttributeType::Email)
        .auto_verified_attributes(cip::types::VerifiedAttributeType::Email)
        .send()
        .await
        .map_err(err("CreateUserPool"))?;
    let pool_id = pool.user_pool().and_then(|p| p.id()).ok_or("no pool id")?.to_string();
    let app = client
        .create_user_pool_client()
        .user_pool_id(&pool_id)
        .client_name("hiding")
        .explicit_auth_flows(cip::types::ExplicitAuthFlowsType::AllowUserPasswordAuth)
        .explicit_auth_flows(cip::types::ExplicitAuthFlowsType::AllowRefreshTokenAuth)
        .prevent_user_existence_errors(cip::types::PreventUserExistenceErrorTypes::Enabled)
        .send()
        .await
        .map_err(err("CreateUserPoolClient"))?;
    let client_id = app.user_pool_client().and_then(|c| c.client_id()).ok_or("no client id")?.to_string();
    Ok((pool_id, client_id))
}

async fn confirmed_user(client: &cip::Client, pool_id: &str, name: &str) -> Result<(), String> {
    client
        .admin_create_user()
        .user_pool_id(pool_id)
        .username(name)
        .user_attributes(attr("email", name)?)
        .user_attributes(attr("email_verified", "true")?)
        .message_action(cip::types::MessageActionType::Suppress)
        .send()
        .await
        .map_err(err("AdminCreateUser"))?;
    client
        .admin_set_user_password()
        .user_pool_id(pool_id)
        .username(name)
        .password(PASSWORD)
        .permanent(true)
        .send()
        .await
        .map_err(err("AdminSetUserPassword"))?;
    Ok(())
}

async fn for_each<F, Fut>(names: &[String], concurrency: usize, op: F) -> Result<(), String>
where
    F: Fn(String) -> Fut,
    Fut: std::future::Future<Output = Result<(), String>> + Send + 'static,
{
    for chunk in names.chunks(concurrency.max(1)) {
        let tasks: Vec<_> = chunk.iter().map(|n| tokio::spawn(op(n.clone()))).collect();
        for t in tasks {
            t.await.map_err(err("task"))??;
        }
    }
    Ok(())
}

/// Times `op` for each known and unknown name, one call at a time, alternating.
async fn report<F, Fut>(name: &str, known: &[String], unknown: &[String], op: F, should_succeed: bool)
where
    F: Fn(String) -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let (mut k, mut u): (Vec<Duration>, Vec<Duration>) = (Vec::new(), Vec::new());
    let mut unexpected = 0;
    for (a, b) in known.iter().zip(unknown) {
        for (target, who) in [(&mut k, a), (&mut u, b)] {
            let started = Instant::now();
            let ok = op(who.clone()).await;
            target.push(started.elapsed());
            if ok != should_succeed {
                unexpected += 1;
            }
        }
    }
    k.sort();
    u.sort();
    let (k50, u50) = (ms(percentile(&k, 50.0)), ms(percentile(&u, 50.0)));
    println!(
        "| {name} | {k50:.2} ms | {u50:.2} ms | {:+.1} % | {:.2} ms | {:.2} ms |{}",
        (u50 - k50) / k50 * 100.0,
        ms(percentile(&k, 90.0)),
        ms(percentile(&u, 90.0)),
        if unexpected > 0 { format!(" ({unexpected} unexpected answers)") } else { String::new() }
    );
}
