//! Every Lambda function's handler, run in-process on its sample event in `events/`, through
//! the same entry point the function binaries use (`tessera_aws::lambda::handle`).

use crate::common::*;
use serde_json::Value;
use std::collections::BTreeSet;
use std::sync::Arc;
use tessera_core::model::keys;
use tessera_core::ports::{AesGcmCipher, Clock, SystemClock, SystemRng};
use tessera_core::store::{Cond, Item, Store, Write};
use tessera_core::{Service, ServiceConfig};
use tessera_local::embedded::EmbeddedStore;
use tessera_local::outbox::Outbox;
use tessera_wire::http::{Cors, Frontend};

const POOL: &str = "us-east-1_TesseraEx";
const CLIENT: &str = "1example23456789abcdefghij";
const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");

/// Function name → (operation, signed?) from functions/operations.txt.
fn functions() -> Vec<(String, Option<String>, bool)> {
    let text = std::fs::read_to_string(format!("{ROOT}/functions/operations.txt")).unwrap();
    let mut out = Vec::new();
    let mut section = String::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
        if line.starts_with('[') {
            section = line.to_string();
            continue;
        }
        let mut parts = line.split_whitespace();
        let name = parts.next().unwrap().to_string();
        if section == "[hooks]" {
            continue; // see hooks()
        }
        if section == "[special]" {
            out.push((name, None, false));
        } else {
            let signed = parts.next() == Some("sigv4");
            out.push((kebab(&name), Some(name), signed));
        }
    }
    out
}

/// The bundled trigger functions (`[hooks]`). Their sample events are Cognito trigger events,
/// not API Gateway ones: `tessera-hooks`' own tests run them through the hooks' handlers.
fn hooks() -> BTreeSet<String> {
    let text = std::fs::read_to_string(format!("{ROOT}/functions/operations.txt")).unwrap();
    let mut in_hooks = false;
    let mut out = BTreeSet::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
        if line.starts_with('[') {
            in_hooks = line == "[hooks]";
        } else if in_hooks {
            out.insert(line.split_whitespace().next().unwrap().to_string());
        }
    }
    out
}

/// As tools/gen-functions.py: a dash before an upper-case letter that follows a lower-case
/// letter or digit, or that starts a word after an acronym (GetCSVHeader → get-csv-header).
fn kebab(op: &str) -> String {
    let chars: Vec<char> = op.chars().collect();
    let mut s = String::new();
    for (i, &ch) in chars.iter().enumerate() {
        if i > 0 && ch.is_ascii_uppercase() {
            let prev = chars[i - 1];
            let next_lower = chars.get(i + 1).is_some_and(|c| c.is_ascii_lowercase());
            if prev.is_ascii_lowercase() || prev.is_ascii_digit() || (prev.is_ascii_uppercase() && next_lower)
            {
                s.push('-');
            }
        }
        s.push(ch.to_ascii_lowercase());
    }
    s
}

/// Adds a SigV4 signature for the host and path the client signed behind the front door.
fn sign(event: &mut Value) {
    use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
    let headers = event["headers"].as_object().unwrap().clone();
    let host = headers["x-tessera-original-host"].as_str().unwrap().to_string();
    let body = event["body"].as_str().unwrap().to_string();
    let identity = aws_credential_types::Credentials::new(ADMIN_KEY, ADMIN_SECRET, None, None, "test").into();
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name("cognito-idp")
        .time(std::time::UNIX_EPOCH + std::time::Duration::from_millis(SystemClock.now_millis() as u64))
        .settings(SigningSettings::default())
        .build()
        .unwrap()
        .into();
    let signed_headers = [
        ("host", host.clone()),
        ("content-type", headers["content-type"].as_str().unwrap().to_string()),
        ("x-amz-target", headers["x-amz-target"].as_str().unwrap().to_string()),
    ];
    let request = SignableRequest::new(
        "POST",
        format!("https://{host}/"),
        signed_headers.iter().map(|(k, v)| (*k, v.as_str())),
        SignableBody::Bytes(body.as_bytes()),
    )
    .unwrap();
    let (instructions, _) = sign(request, &params).unwrap().into_parts();
    for (k, v) in instructions.headers() {
        event["headers"][k.to_lowercase()] = Value::from(v);
    }
}

async fn frontend(dir: &std::path::Path) -> Frontend {
    let store = Arc::new(EmbeddedStore::open(dir).unwrap());
    let service = Service::new(
        store,
        Arc::new(Outbox::new(dir)),
        Arc::new(SystemClock),
        Arc::new(SystemRng),
        Arc::new(AesGcmCipher::new(&[7u8; 32]).unwrap()),
        ServiceConfig {
            hash_params: tessera_core::password::HashParams { m_kib: 1024, t: 1, p: 1 },
            ..Default::default()
        },
    );
    let service = Arc::new(service);
    tessera_local::import::enable(&service, dir, "http://127.0.0.1:9", &[7u8; 32], Arc::new(SystemClock))
        .unwrap();
    Frontend {
        service,
        admin_keys: [(ADMIN_KEY.to_string(), ADMIN_SECRET.to_string())].into(),
        max_skew_secs: 300,
        issuer_base: None,
        cors: Cors::default(),
    }
}

/// Copies a record to the fixed identifiers the sample events use.
async fn rekey(store: &dyn Store, from: (&str, &str), to: (String, String), patch: impl Fn(&mut Value)) {
    let mut item = store.get(from.0, from.1, 0).await.unwrap().unwrap();
    patch(&mut item.body);
    let fresh = Item { pk: to.0, sk: to.1, version: 1, expires_at: None, body: item.body };
    store.transact(vec![Write::put(fresh, Cond::None)], 0).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_function_handles_its_sample_event() {
    let dir = std::env::temp_dir().join(unique("tessera-events-"));
    let _cleanup = TempDir(dir.clone());
    let fe = frontend(&dir).await;
    let outbox = Outbox::new(&dir);
    let all = functions();
    let on_disk: BTreeSet<String> = std::fs::read_dir(format!("{ROOT}/events"))
        .unwrap()
        .filter_map(|e| {
            e.ok().filter(|e| e.path().is_dir()).map(|e| e.file_name().to_string_lossy().into_owned())
        })
        .collect();
    let listed: BTreeSet<String> = all.iter().map(|(n, ..)| n.clone()).chain(hooks()).collect();
    assert_eq!(on_disk, listed, "one events/ folder per function");
    let listed: BTreeSet<String> = listed.difference(&hooks()).cloned().collect();

    // Access token, refresh token, challenge session, device key.
    let mut tokens: (String, String, String, String) = Default::default();
    let mut ran = BTreeSet::new();
    macro_rules! run {
        ($name:expr) => {{
            ran.insert($name);
            run_event(&fe, &outbox, &all, $name, &tokens).await
        }};
    }
    run!("create-user-pool");
    // Give the sample events' fixed pool and client real records.
    let pools = fe.service.store.query(keys::POOLS, "", None, 10, 0).await.unwrap();
    let made = pools.items[0].sk.clone();
    rekey(
        fe.service.store.as_ref(),
        (&keys::pool(&made), keys::POOL_SK),
        (keys::pool(POOL), keys::POOL_SK.into()),
        |b| b["id"] = Value::from(POOL),
    )
    .await;
    rekey(fe.service.store.as_ref(), (keys::POOLS, &made), (keys::POOLS.into(), POOL.into()), |b| {
        b["Id"] = Value::from(POOL)
    })
    .await;
    let created = run!("create-user-pool-client");
    let made_client = created["UserPoolClient"]["ClientId"].as_str().unwrap().to_string();
    let flows = serde_json::json!([
        "ALLOW_USER_PASSWORD_AUTH",
        "ALLOW_ADMIN_USER_PASSWORD_AUTH",
        "ALLOW_REFRESH_TOKEN_AUTH"
    ]);
    rekey(
        fe.service.store.as_ref(),
        (&keys::client(&made_client), keys::CLIENT_SK),
        (keys::client(CLIENT), keys::CLIENT_SK.into()),
        |b| {
            b["client_id"] = Value::from(CLIENT);
            b["pool_id"] = Value::from(POOL);
            b["settings"]["ExplicitAuthFlows"] = flows.clone();
        },
    )
    .await;
    rekey(
        fe.service.store.as_ref(),
        (&keys::pool(POOL), &keys::pool_client_sk(&made_client)),
        (keys::pool(POOL), keys::pool_client_sk(CLIENT)),
        |b| b["ClientId"] = Value::from(CLIENT),
    )
    .await;

    run!("describe-user-pool");
    run!("list-user-pools");
    run!("update-user-pool");
    run!("describe-user-pool-client");
    run!("list-user-pool-clients");
    run!("sign-up");
    run!("resend-confirmation-code");
    run!("confirm-sign-up");
    run!("admin-get-user");
    let listed_users = run!("list-users");
    assert_eq!(listed_users["Users"].as_array().map(Vec::len), Some(1), "{listed_users}");
    let signed_in = run!("initiate-auth");
    tokens = (
        signed_in["AuthenticationResult"]["AccessToken"].as_str().unwrap().to_string(),
        signed_in["AuthenticationResult"]["RefreshToken"].as_str().unwrap().to_string(),
        String::new(),
        String::new(),
    );
    run!("get-user");
    run!("change-password");
    // An invited user answers NEW_PASSWORD_REQUIRED, once through each respond operation.
    run!("admin-create-user");
    tokens.2 = new_password_session(&fe, "InitiateAuth", "USER_PASSWORD_AUTH").await;
    run!("respond-to-auth-challenge");
    run!("admin-set-user-password");
    tokens.2 = new_password_session(&fe, "AdminInitiateAuth", "ADMIN_USER_PASSWORD_AUTH").await;
    run!("admin-respond-to-auth-challenge");
    run!("forgot-password");
    run!("admin-reset-user-password");
    run!("confirm-forgot-password");
    run!("add-custom-attributes");
    run!("update-user-attributes");
    run!("delete-user-attributes");
    run!("get-user-attribute-verification-code");
    run!("verify-user-attribute");
    run!("admin-update-user-attributes");
    run!("admin-delete-user-attributes");
    // MFA operations (ops::mfa)
    run!("set-user-pool-mfa-config");
    run!("get-user-pool-mfa-config");
    let associated = run!("associate-software-token");
    let secret = associated["SecretCode"].as_str().unwrap().to_string();
    // verify-software-token's UserCode: what the authenticator shows now (the session slot is free).
    tokens.2 = tessera_core::ops::mfa::software_token_code(&secret, SystemClock.now_secs()).unwrap();
    run!("verify-software-token");
    run!("set-user-mfa-preference");
    // Turns the token off again: the sign-ins below need no second factor.
    run!("admin-set-user-mfa-preference");
    run!("set-user-settings");
    run!("admin-set-user-settings");

    run!("admin-initiate-auth");
    run!("create-group");
    run!("get-group");
    run!("update-group");
    run!("list-groups");
    run!("admin-add-user-to-group");
    let groups = run!("admin-list-groups-for-user");
    assert_eq!(groups["Groups"][0]["GroupName"], "editors");
    let members = run!("list-users-in-group");
    assert_eq!(members["Users"].as_array().map(Vec::len), Some(1));
    run!("admin-remove-user-from-group");
    run!("delete-group");
    // Device operations (ops::devices): an opt-in pool, and devices a sign-in of the user made.
    rekey(fe.service.store.as_ref(), (&keys::pool(POOL), keys::POOL_SK), (keys::pool(POOL), keys::POOL_SK.into()), |b| {
        b["settings"]["DeviceConfiguration"] =
            serde_json::json!({"ChallengeRequiredOnNewDevice": false, "DeviceOnlyRememberedOnUserPrompt": true})
    })
    .await;
    fe.service.forget_pool(POOL);
    tokens.3 = new_device(&fe).await;
    let confirmed = run!("confirm-device");
    assert_eq!(confirmed["UserConfirmationNecessary"], true);
    run!("update-device-status");
    let device = run!("get-device");
    assert_eq!(device["Device"]["DeviceKey"], tokens.3.as_str());
    let my_devices = run!("list-devices");
    assert_eq!(my_devices["Devices"].as_array().map(Vec::len), Some(1));
    run!("admin-get-device");
    run!("admin-list-devices");
    run!("admin-update-device-status");
    run!("forget-device");
    tokens.3 = new_device(&fe).await;
    run!("admin-forget-device");

    run!("global-sign-out");
    run!("revoke-token");
    run!("admin-user-global-sign-out");
    run!("admin-disable-user");
    run!("admin-enable-user");
    run!("admin-delete-user");
    run!("sign-up");
    run!("admin-confirm-sign-up");
    let signed_in = run!("initiate-auth");
    tokens.0 = signed_in["AuthenticationResult"]["AccessToken"].as_str().unwrap().to_string();
    run!("delete-user");
    run!("update-user-pool-client");
    let jwks = run!("well-known");
    assert_eq!(jwks["keys"].as_array().map(Vec::len), Some(2));
    // User import: two jobs given the sample events' fixed ids, one started (and run by the
    // worker's handler), the other stopped before it starts.
    run!("get-csv-header");
    for fixed in ["import-Ab3dEf6hIj", "import-St0pMe0000"] {
        let job = run!("create-user-import-job");
        let made_job = job["UserImportJob"]["JobId"].as_str().unwrap().to_string();
        let pk = format!("IMPORTJOBS#{POOL}");
        rekey(
            fe.service.store.as_ref(),
            (&pk, &format!("JOB#{made_job}")),
            (pk.clone(), format!("JOB#{fixed}")),
            |b| b["job_id"] = Value::from(fixed),
        )
        .await;
    }
    run!("describe-user-import-job");
    run!("list-user-import-jobs");
    run!("start-user-import-job");
    ran.insert("import-worker");
    let payload: Value = serde_json::from_str(
        &std::fs::read_to_string(format!("{ROOT}/events/import-worker/success.json")).unwrap(),
    )
    .unwrap();
    let out = tessera_aws::lambda::import_event(&fe.service, &payload, i64::MAX).await.unwrap();
    assert_eq!(out["jobId"], "import-Ab3dEf6hIj");
    run!("stop-user-import-job");
    run!("delete-user-pool-client");
    run!("delete-user-pool");

    let missing: Vec<&String> = listed.iter().filter(|n| !ran.contains(n.as_str())).collect();
    assert!(missing.is_empty(), "functions without a handler run: {missing:?}");
}

/// A new (unconfirmed) device of the sample events' user, as a sign-in creates it; its key.
async fn new_device(fe: &Frontend) -> String {
    let pool = fe.service.pool(POOL).await.unwrap();
    let (user, _) = fe.service.require_user(&pool, "jane@example.com").await.unwrap();
    tessera_core::ops::devices::new_device(&fe.service, &pool, &user).await.unwrap().device_key
}

/// Signs the invited user in with the temporary password; the NEW_PASSWORD_REQUIRED session.
async fn new_password_session(fe: &Frontend, op: &str, flow: &str) -> String {
    let ctx = tessera_core::CallContext::new("https://issuer.example");
    let input = serde_json::json!({
        "UserPoolId": POOL,
        "ClientId": CLIENT,
        "AuthFlow": flow,
        "AuthParameters": {"USERNAME": "john@example.com", "PASSWORD": "Temporary-Horse-7"},
    });
    let out = tessera_wire::dispatch::call(&fe.service, &ctx, op, &input).await.unwrap().unwrap();
    assert_eq!(out["ChallengeName"], "NEW_PASSWORD_REQUIRED", "{out}");
    out["Session"].as_str().unwrap().to_string()
}

/// Runs one sample event through the function's handler; the tokens and the latest code from
/// the outbox stand in for the event's placeholders.
async fn run_event(
    fe: &Frontend,
    outbox: &Outbox,
    all: &[(String, Option<String>, bool)],
    name: &str,
    tokens: &(String, String, String, String),
) -> Value {
    let mut cases: Vec<_> = std::fs::read_dir(format!("{ROOT}/events/{name}"))
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    cases.sort();
    assert!(!cases.is_empty(), "{name} has no sample event");
    let mut first = None;
    for case in cases {
        let body = run_case(fe, outbox, all, name, tokens, &case).await;
        first.get_or_insert(body);
    }
    first.unwrap_or_default()
}

async fn run_case(
    fe: &Frontend,
    outbox: &Outbox,
    all: &[(String, Option<String>, bool)],
    name: &str,
    tokens: &(String, String, String, String),
    case: &std::path::Path,
) -> Value {
    let (_, op, signed) = all.iter().find(|(n, ..)| n == name).cloned().unwrap();
    let text = std::fs::read_to_string(case).unwrap();
    let mut event: Value = serde_json::from_str(&text).unwrap();
    if let Some(body) = event["body"].as_str() {
        let mut body = body
            .replace("{{ACCESS_TOKEN}}", &tokens.0)
            .replace("{{REFRESH_TOKEN}}", &tokens.1)
            .replace("{{SESSION}}", &tokens.2)
            .replace("{{DEVICE_KEY}}", &tokens.3);
        if name == "verify-software-token" {
            body = body.replace("123456", &tokens.2);
        }
        if name == "confirm-sign-up" || name == "confirm-forgot-password" || name == "verify-user-attribute" {
            let code = outbox.messages().last().and_then(|m| m.code.clone()).unwrap();
            body = body.replace("123456", &code);
        }
        event["body"] = Value::from(body);
    }
    if signed {
        sign(&mut event);
    }
    let request = lambda_http::request::from_str(&event.to_string()).unwrap();
    let response = tessera_aws::lambda::handle(fe, op.as_deref(), request).await;
    let status = response.status().as_u16();
    let body: Value = serde_json::from_slice(response.body().as_ref()).unwrap_or(Value::Null);
    assert_eq!(status, 200, "{}: {body}", case.display());
    assert!(response.headers().contains_key("x-amzn-requestid"), "{name}");
    body
}
