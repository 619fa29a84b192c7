//! `tessera import-from-cognito`, the binary, from a Tessera server playing the old Cognito
//! pool into a second one: killed (SIGKILL) after its first batch of users, run again to the
//! end, and once more: one pool, each client, group, user and membership exactly once, users
//! RESET_REQUIRED (they move their password on sign-in, tests/e2e/migrate_cognito.rs).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use aws_sdk_cognitoidentityprovider as cip;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use tessera_local::{LocalConfig, StoreKind};

const OLD_KEY: (&str, &str) = ("AKIAOLDCOGNITO000001", "old-cognito-secret");
const NEW_KEY: (&str, &str) = ("AKIANEWTESSERA000001", "new-tessera-secret");
const USERS: usize = 150;

async fn server(
    name: &str,
    key: (&str, &str),
    store: StoreKind,
) -> (tessera_local::Running, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(format!("tessera-ifc-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut cfg = LocalConfig::new(dir.clone());
    cfg.key_file = Some(dir.with_extension("key"));
    cfg.bind = "127.0.0.1:0".parse().unwrap();
    cfg.admin_keys = [(key.0.to_string(), key.1.to_string())].into();
    cfg.service.hash_params = tessera_core::password::HashParams { m_kib: 1024, t: 1, p: 1 };
    cfg.store = store;
    (tessera_local::start(cfg).await.expect("server"), dir)
}

fn client(url: &str, key: (&str, &str)) -> cip::Client {
    let conf = cip::Config::builder()
        .behavior_version(cip::config::BehaviorVersion::latest())
        .region(cip::config::Region::new("us-east-1"))
        .endpoint_url(url)
        .credentials_provider(cip::config::Credentials::new(key.0, key.1, None, None, "test"))
        .build();
    cip::Client::from_conf(conf)
}

fn import(old_url: &str, pool: &str, new_url: &str, state: &std::path::Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tessera"));
    cmd.args([
        "import-from-cognito",
        "--from-user-pool",
        pool,
        "--from-endpoint",
        old_url,
        "--to-endpoint",
        new_url,
    ])
    .args(["--page-size", "20", "--batch-users", "40", "--state"])
    .arg(state);
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy().into_owned();
        if name.starts_with("TESSERA_") || name.starts_with("AWS_") {
            cmd.env_remove(name);
        }
    }
    cmd.env("AWS_ACCESS_KEY_ID", OLD_KEY.0)
        .env("AWS_SECRET_ACCESS_KEY", OLD_KEY.1)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("TESSERA_ADMIN_ACCESS_KEY_ID", NEW_KEY.0)
        .env("TESSERA_ADMIN_SECRET_ACCESS_KEY", NEW_KEY.1)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

async fn users_of(c: &cip::Client, pool: &str) -> Vec<cip::types::UserType> {
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = c.list_users().user_pool_id(pool).set_pagination_token(token.take()).send().await.unwrap();
        out.extend(page.users().iter().cloned());
        match page.pagination_token() {
            Some(t) => token = Some(t.to_string()),
            None => return out,
        }
    }
}

async fn members(c: &cip::Client, pool: &str, group: &str) -> usize {
    let mut n = 0;
    let mut token: Option<String> = None;
    loop {
        let page = c
            .list_users_in_group()
            .user_pool_id(pool)
            .group_name(group)
            .set_next_token(token.take())
            .send()
            .await
            .unwrap();
        n += page.users().len();
        match page.next_token() {
            Some(t) => token = Some(t.to_string()),
            None => return n,
        }
    }
}

async fn killed_then_resumed(label: &str, target: StoreKind) {
    let (old_server, old_dir) = server(&format!("{label}-old"), OLD_KEY, StoreKind::Embedded).await;
    let (new_server, new_dir) = server(&format!("{label}-new"), NEW_KEY, target).await;
    let (old_url, new_url) = (old_server.url(), new_server.url());
    let old = client(&old_url, OLD_KEY);
    let new = client(&new_url, NEW_KEY);

    let pool = old
        .create_user_pool()
        .pool_name("legacy")
        .alias_attributes(cip::types::AliasAttributeType::Email)
        .auto_verified_attributes(cip::types::VerifiedAttributeType::Email)
        .schema(
            cip::types::SchemaAttributeType::builder()
                .name("team")
                .attribute_data_type(cip::types::AttributeDataType::String)
                .mutable(true)
                .build(),
        )
        .send()
        .await
        .unwrap()
        .user_pool()
        .unwrap()
        .id()
        .unwrap()
        .to_string();
    let web = old
        .create_user_pool_client()
        .user_pool_id(&pool)
        .client_name("web")
        .explicit_auth_flows(cip::types::ExplicitAuthFlowsType::AllowUserPasswordAuth)
        .explicit_auth_flows(cip::types::ExplicitAuthFlowsType::AllowRefreshTokenAuth)
        .send()
        .await
        .unwrap();
    let backend = old
        .create_user_pool_client()
        .user_pool_id(&pool)
        .client_name("backend")
        .generate_secret(true)
        .explicit_auth_flows(cip::types::ExplicitAuthFlowsType::AllowAdminUserPasswordAuth)
        .explicit_auth_flows(cip::types::ExplicitAuthFlowsType::AllowRefreshTokenAuth)
        .send()
        .await
        .unwrap();
    let backend_secret = backend.user_pool_client().unwrap().client_secret().unwrap().to_string();
    let _ = web;
    for g in ["admins", "readers"] {
        old.create_group()
            .user_pool_id(&pool)
            .group_name(g)
            .description(format!("the {g}"))
            .send()
            .await
            .unwrap();
    }
    for i in 0..USERS {
        let name = format!("user{i:03}");
        old.admin_create_user()
            .user_pool_id(&pool)
            .username(&name)
            .user_attributes(
                cip::types::AttributeType::builder()
                    .name("email")
                    .value(format!("{name}@example.com"))
                    .build()
                    .unwrap(),
            )
            .user_attributes(
                cip::types::AttributeType::builder().name("email_verified").value("true").build().unwrap(),
            )
            .user_attributes(
                cip::types::AttributeType::builder()
                    .name("custom:team")
                    .value("blue, green")
                    .build()
                    .unwrap(),
            )
            .message_action(cip::types::MessageActionType::Suppress)
            .send()
            .await
            .unwrap();
        if i % 10 == 0 {
            old.admin_add_user_to_group()
                .user_pool_id(&pool)
                .username(&name)
                .group_name("admins")
                .send()
                .await
                .unwrap();
        }
    }

    let state = new_dir.with_extension("state.json");
    // First run: killed once its first batch of users is in.
    let mut child = import(&old_url, &pool, &new_url, &state).spawn().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut seen = Vec::new();
    loop {
        let Some(line) = lines.next() else {
            let mut err = String::new();
            std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
            panic!("the import ended before its first batch: {seen:?}\n{err}");
        };
        let line = line.unwrap();
        seen.push(line.clone());
        if line.starts_with("users: ") {
            break;
        }
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert!(seen.iter().any(|l| l.starts_with("pool: ")), "{seen:?}");
    let partial = new.list_user_pools().max_results(60).send().await.unwrap();
    let new_pool = partial.user_pools()[0].id().unwrap().to_string();
    let some = users_of(&new, &new_pool).await.len();
    assert!((1..USERS).contains(&some), "killed part-way: {some} users");

    // Resumed, then run once more: nothing twice.
    for run in 0..2 {
        let out = import(&old_url, &pool, &new_url, &state).output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "run {run}: {stdout}\n{}", String::from_utf8_lossy(&out.stderr));
        assert!(stdout.contains("done: "), "{stdout}");
    }
    let pools = new.list_user_pools().max_results(60).send().await.unwrap();
    assert_eq!(pools.user_pools().len(), 1, "one pool, found again by its tag");
    let described = new.describe_user_pool().user_pool_id(&new_pool).send().await.unwrap();
    let p = described.user_pool().unwrap();
    assert_eq!(p.user_pool_tags().unwrap().get("tessera:imported-from"), Some(&pool));
    assert!(p.schema_attributes().iter().any(|a| a.name() == Some("custom:team")));
    let clients = new.list_user_pool_clients().user_pool_id(&new_pool).send().await.unwrap();
    let mut names: Vec<&str> = clients.user_pool_clients().iter().map(|c| c.client_name().unwrap()).collect();
    names.sort();
    assert_eq!(names, ["backend", "web"]);
    let backend_new =
        clients.user_pool_clients().iter().find(|c| c.client_name() == Some("backend")).unwrap();
    let described = new
        .describe_user_pool_client()
        .user_pool_id(&new_pool)
        .client_id(backend_new.client_id().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(described.user_pool_client().unwrap().client_secret(), Some(backend_secret.as_str()));
    let users = users_of(&new, &new_pool).await;
    assert_eq!(users.len(), USERS);
    assert!(users.iter().all(|u| u.user_status().map(|s| s.as_str()) == Some("RESET_REQUIRED")));
    let u7 = users.iter().find(|u| u.username() == Some("user007")).unwrap();
    let attr =
        |n: &str| u7.attributes().iter().find(|a| a.name() == n).and_then(|a| a.value()).map(str::to_string);
    assert_eq!(attr("email").as_deref(), Some("user007@example.com"));
    assert_eq!(attr("custom:team").as_deref(), Some("blue, green"), "a comma survives the CSV");
    assert_eq!(members(&new, &new_pool, "admins").await, USERS / 10);
    assert_eq!(members(&new, &new_pool, "readers").await, 0);

    old_server.stop().await;
    new_server.stop().await;
    for d in [old_dir, new_dir] {
        let _ = std::fs::remove_dir_all(&d);
        let _ = std::fs::remove_file(d.with_extension("key"));
        let _ = std::fs::remove_file(d.with_extension("state.json"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_then_resumed_into_the_embedded_store() {
    killed_then_resumed("embedded", StoreKind::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_then_resumed_into_dynamodb() {
    let Some(endpoint) = std::env::var("TESSERA_TEST_DYNAMODB_ENDPOINT").ok().filter(|e| !e.is_empty())
    else {
        eprintln!("skipped: TESSERA_TEST_DYNAMODB_ENDPOINT is not set");
        return;
    };
    let table = format!("tessera-ifc-{}", std::process::id());
    let ddb = tessera_aws::config::dynamodb_client(Some(&endpoint), "us-east-1").await;
    tessera_aws::dynamo::create_table(&ddb, &table).await.unwrap();
    killed_then_resumed("dynamodb", StoreKind::DynamoDb { endpoint: Some(endpoint), table }).await;
}
