//! Every Lambda function's handler, run in-process on its sample event in `events/`, through
//! the same entry point the function binaries use (`tessera_aws::lambda::handle_operation` with
//! the binary's own item of `tessera_functions`, which names its domain function directly); the
//! front door's origin check; and a function's cold start against moto (Secrets Manager, KMS,
//! DynamoDB).

use crate::common::*;
use serde_json::Value;
use std::collections::BTreeSet;
use std::sync::Arc;
use tessera_aws::lambda::{HttpFunction, OriginGuard, ORIGIN_SECRET_HEADER};
use tessera_core::model::keys;
use tessera_core::ports::{AesGcmCipher, Clock, SystemClock, SystemRng};
use tessera_core::store::{Cond, Item, Store, Write};
use tessera_core::{Service, ServiceConfig};
use tessera_local::embedded::EmbeddedStore;
use tessera_local::outbox::Outbox;
use tessera_wire::http::{Cors, Frontend};

const POOL: &str = "us-east-1_TesseraEx";
const CLIENT: &str = "1example23456789abcdefghij";
// The identity pool and identity the sample events name (tools/gen-functions.py); the test
// puts the ids the operations really made in their place (see `Substitutions`).
const IDENTITY_POOL: &str = "us-east-1:0f5e7a3c-1d2b-4c5d-8e9f-0a1b2c3d4e5f";
const IDENTITY: &str = "us-east-1:5b1e0c2a-7d4f-4e8b-9a6c-3f2d1e0b9c8a";
const DEVELOPER_PROVIDER: &str = "login.tessera.example";
const DEVELOPER_USER_LEGACY: &str = "jane-legacy-0001";
const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
/// The issuer base the functions are configured with (the stack's IssuerBase): the front door
/// host of the sample events.
const ISSUER_BASE: &str = "https://d111111abcdef8.cloudfront.net";
/// The front door's origin secret in these tests (the stack's OriginSecret; 64 characters).
const ORIGIN_SECRET: &str = "Kq3xV9mZt2Lr7Wp4Ys8Nd1Hc6Jf0Gb5TuE2aQw9RkX4vM7nB3yC8sD1fH6jL0pZ5";

/// A front end behind the origin check, as `run_operation` serves it.
fn behind_front_door(frontend: Frontend) -> HttpFunction {
    HttpFunction { frontend, origin: OriginGuard::new(ORIGIN_SECRET).unwrap() }
}

/// The Sync functions whose sample event an identity signs with its own credentials (the
/// others take the admin keys), per sync::access.
const SIGNED_BY_IDENTITY: &[&str] = &[
    "list-datasets",
    "describe-dataset",
    "delete-dataset",
    "list-records",
    "update-records",
    "describe-identity-usage",
    "register-device",
    "subscribe-to-dataset",
    "unsubscribe-from-dataset",
];

/// Function name → (bound operation, signed?) from functions/operations.txt; the bound
/// operation as run_operation takes it ("SignUp", "cognito-identity:GetId").
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
            let binary =
                parts.find_map(|w| w.strip_prefix("name=")).map_or_else(|| kebab(&name), str::to_string);
            let service = section.trim_matches(['[', ']']);
            let bound = if service == "cognito-idp" { name } else { format!("{service}:{name}") };
            out.push((binary, Some(bound), signed));
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

/// Who signs a sample event: the admin keys, or an identity's credentials.
#[derive(Clone)]
struct Signer {
    key: String,
    secret: String,
    session_token: Option<String>,
}

impl Signer {
    fn admin() -> Self {
        Signer { key: ADMIN_KEY.into(), secret: ADMIN_SECRET.into(), session_token: None }
    }
}

/// Adds a SigV4 signature for what the client signed behind the front door: the original host
/// and path, the query, and (for `service`) the headers an SDK signs.
fn sign(event: &mut Value, service: &str, signer: &Signer) {
    use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
    let headers = event["headers"].as_object().unwrap().clone();
    let host = headers["x-tessera-original-host"].as_str().unwrap().to_string();
    let path = headers["x-tessera-original-uri"].as_str().unwrap().to_string();
    let method = event["requestContext"]["http"]["method"].as_str().unwrap().to_string();
    let query = event["rawQueryString"].as_str().unwrap_or_default().to_string();
    let body = event["body"].as_str().unwrap_or_default().to_string();
    let identity = aws_credential_types::Credentials::new(
        &signer.key,
        &signer.secret,
        signer.session_token.clone(),
        None,
        "test",
    )
    .into();
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name(service)
        .time(std::time::UNIX_EPOCH + std::time::Duration::from_millis(SystemClock.now_millis() as u64))
        .settings(SigningSettings::default())
        .build()
        .unwrap()
        .into();
    let mut signed_headers = vec![("host", host.clone())];
    for name in ["content-type", "x-amz-target", "x-amz-client-context"] {
        if let Some(v) = headers.get(name).and_then(Value::as_str) {
            signed_headers.push((name, v.to_string()));
        }
    }
    let url = if query.is_empty() {
        format!("https://{host}{path}")
    } else {
        format!("https://{host}{path}?{query}")
    };
    let request = SignableRequest::new(
        &method,
        url,
        signed_headers.iter().map(|(k, v)| (*k, v.as_str())),
        SignableBody::Bytes(body.as_bytes()),
    )
    .unwrap();
    let (instructions, _) = sign(request, &params).unwrap().into_parts();
    for (k, v) in instructions.headers() {
        event["headers"][k.to_lowercase()] = Value::from(v);
    }
}

/// What the test puts in place of the sample events' placeholders (`{{ACCESS_TOKEN}}`…) and
/// fixed ids: values that only exist once the operations before have run.
#[derive(Default)]
struct Substitutions(Vec<(String, String)>);

impl Substitutions {
    fn set(&mut self, from: &str, to: &str) {
        self.0.retain(|(f, _)| f != from);
        self.0.push((from.to_string(), to.to_string()));
    }

    fn placeholder(&mut self, name: &str, to: &str) {
        self.set(&format!("{{{{{name}}}}}"), to);
    }

    /// Every string of the event: the path (as sent, percent-encoded) and the rest (raw).
    fn apply(&self, value: &mut Value, key: &str) {
        match value {
            Value::String(s) => {
                let path = matches!(key, "rawPath" | "path" | "x-tessera-original-uri" | "rawQueryString");
                for (from, to) in &self.0 {
                    if path {
                        *s = s
                            .replace(&uri_encode(from), &uri_encode(to))
                            .replace(from.as_str(), &uri_encode(to));
                    } else {
                        *s = s.replace(from.as_str(), to);
                    }
                }
            }
            Value::Object(map) => map.iter_mut().for_each(|(k, v)| self.apply(v, k)),
            Value::Array(items) => items.iter_mut().for_each(|v| self.apply(v, key)),
            _ => {}
        }
    }
}

/// As the SDKs encode a URI label: everything but the unreserved characters.
fn uri_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A cipher that refuses everything, as the master key is missing from the functions that
/// have no access to it.
struct NoMasterKey;

impl tessera_core::ports::SecretCipher for NoMasterKey {
    fn seal(&self, _: &str, _: &[u8]) -> tessera_core::Result<Vec<u8>> {
        Err(tessera_core::Error::internal("no master key in this function"))
    }
    fn open(&self, _: &str, _: &[u8]) -> tessera_core::Result<Vec<u8>> {
        Err(tessera_core::Error::internal("no master key in this function"))
    }
    fn keyed_hash(&self, _: &str, _: &[u8]) -> tessera_core::Result<[u8; 32]> {
        Err(tessera_core::Error::internal("no master key in this function"))
    }
}

/// The same store behind a service without the master key (the deployed `well-known`).
fn keyless_frontend(fe: &Frontend, dir: &std::path::Path) -> Frontend {
    let service = Service::new(
        fe.service.store.clone(),
        Arc::new(Outbox::new(dir)),
        Arc::new(SystemClock),
        Arc::new(SystemRng),
        Arc::new(NoMasterKey),
        ServiceConfig::default(),
    );
    Frontend {
        service: Arc::new(service),
        admin_keys: Default::default(),
        max_skew_secs: 300,
        issuer_base: Some(ISSUER_BASE.into()),
        cors: Cors::default(),
        throttle: Default::default(),
    }
}

async fn frontend(dir: &std::path::Path) -> Frontend {
    let store = Arc::new(EmbeddedStore::open(dir).unwrap());
    let outbox = Arc::new(Outbox::new(dir));
    let service = Service::new(
        store,
        outbox.clone(),
        Arc::new(SystemClock),
        Arc::new(SystemRng),
        Arc::new(AesGcmCipher::new(&[7u8; 32]).unwrap()),
        ServiceConfig {
            hash_params: tessera_core::password::HashParams { m_kib: 1024, t: 1, p: 1 },
            // A CaseSensitive change's second pass waits for requests in flight: none here.
            request_time_bound_ms: 200,
            // As a stack with AuthDomainBase=auth.example.com (the sample events' host).
            auth_domains: tessera_aws::lambda::auth_domains_from(|name| {
                (name == "TESSERA_AUTH_DOMAIN_BASE").then(|| "auth.example.com".to_string())
            }),
            ..Default::default()
        },
    );
    // As the local server: marked local credentials, pushes to the outbox.
    service.set_credential_vendor(Arc::new(tessera_local::credentials::LocalCredentialVendor {
        clock: Arc::new(SystemClock),
        rng: Arc::new(SystemRng),
    }));
    service.set_push(Arc::new(tessera_local::push::OutboxPushNotifier::new(outbox, Arc::new(SystemClock))));
    let service = Arc::new(service);
    tessera_local::import::enable(&service, dir, "http://127.0.0.1:9", &[7u8; 32], Arc::new(SystemClock))
        .unwrap();
    Frontend {
        service,
        admin_keys: [(ADMIN_KEY.to_string(), ADMIN_SECRET.to_string())].into(),
        max_skew_secs: 300,
        issuer_base: Some(ISSUER_BASE.into()),
        cors: Cors::default(),
        throttle: Default::default(),
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
    let function = behind_front_door(frontend(&dir).await);
    let fe = &function.frontend;
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

    // Placeholders and fixed ids → what the operations made; the identity's credentials.
    let mut subs = Substitutions::default();
    subs.placeholder("ORIGIN_SECRET", ORIGIN_SECRET);
    let mut identity_signer: Option<Signer> = None;
    let mut ran = BTreeSet::new();
    macro_rules! run_all {
        ($name:expr) => {{
            ran.insert($name);
            let signer = match identity_signer.as_ref() {
                Some(s) if SIGNED_BY_IDENTITY.contains(&$name) => s.clone(),
                _ => Signer::admin(),
            };
            run_event(&function, &outbox, &all, $name, &subs, &signer).await
        }};
    }
    // One function's sample events, each answered 200; the body of success.json (or the first).
    macro_rules! run {
        ($name:expr) => {{
            let cases = run_all!($name);
            for (case, (status, body)) in &cases {
                assert_eq!(*status, 200, "{}/{case}: {body}", $name);
            }
            cases.get("success").or_else(|| cases.values().next()).map(|(_, b)| b.clone()).unwrap_or_default()
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
    run!("create-user-pool-domain");
    run!("describe-user-pool-domain");
    run!("update-user-pool-domain");
    run!("set-ui-customization");
    run!("get-ui-customization");
    run!("create-resource-server");
    run!("describe-resource-server");
    run!("update-resource-server");
    run!("list-resource-servers");
    run!("delete-resource-server");
    run!("create-identity-provider");
    run!("describe-identity-provider");
    run!("get-identity-provider-by-identifier");
    let certificate = run!("get-signing-certificate");
    assert!(certificate["Certificate"].as_str().is_some_and(|c| c.len() > 600), "{certificate}");
    run!("update-identity-provider");
    run!("list-identity-providers");
    run!("sign-up");
    // The sample user (signed up just now) linked to the sample provider's subject, then unlinked.
    run!("admin-link-provider-for-user");
    run!("admin-disable-provider-for-user");
    run!("delete-identity-provider");
    run!("resend-confirmation-code");
    run!("confirm-sign-up");
    run!("admin-get-user");
    let listed_users = run!("list-users");
    assert_eq!(listed_users["Users"].as_array().map(Vec::len), Some(1), "{listed_users}");
    let signed_in = run!("initiate-auth");
    subs.placeholder("ACCESS_TOKEN", signed_in["AuthenticationResult"]["AccessToken"].as_str().unwrap());
    subs.placeholder("REFRESH_TOKEN", signed_in["AuthenticationResult"]["RefreshToken"].as_str().unwrap());
    run!("get-user");
    run!("change-password");
    // An invited user answers NEW_PASSWORD_REQUIRED, once through each respond operation.
    run!("admin-create-user");
    subs.placeholder("SESSION", &new_password_session(fe, "InitiateAuth", "USER_PASSWORD_AUTH").await);
    run!("respond-to-auth-challenge");
    run!("admin-set-user-password");
    subs.placeholder(
        "SESSION",
        &new_password_session(fe, "AdminInitiateAuth", "ADMIN_USER_PASSWORD_AUTH").await,
    );
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
    // MFA operations
    run!("set-user-pool-mfa-config");
    run!("get-user-pool-mfa-config");
    let associated = run!("associate-software-token");
    let secret = associated["SecretCode"].as_str().unwrap().to_string();
    // verify-software-token's UserCode: what the authenticator shows now.
    let code =
        tessera_core::user_pool::mfa::totp::software_token_code(&secret, SystemClock.now_secs()).unwrap();
    subs.set("\"UserCode\":\"123456\"", &format!("\"UserCode\":\"{code}\""));
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
    // Device operations: an opt-in pool, and devices a sign-in of the user made.
    rekey(fe.service.store.as_ref(), (&keys::pool(POOL), keys::POOL_SK), (keys::pool(POOL), keys::POOL_SK.into()), |b| {
        b["settings"]["DeviceConfiguration"] =
            serde_json::json!({"ChallengeRequiredOnNewDevice": false, "DeviceOnlyRememberedOnUserPrompt": true})
    })
    .await;
    fe.service.forget_pool(POOL);
    let device_key = new_device(fe).await;
    subs.placeholder("DEVICE_KEY", &device_key);
    let confirmed = run!("confirm-device");
    assert_eq!(confirmed["UserConfirmationNecessary"], true);
    run!("update-device-status");
    let device = run!("get-device");
    assert_eq!(device["Device"]["DeviceKey"], device_key.as_str());
    let my_devices = run!("list-devices");
    assert_eq!(my_devices["Devices"].as_array().map(Vec::len), Some(1));
    run!("admin-get-device");
    run!("admin-list-devices");
    run!("admin-update-device-status");
    run!("forget-device");
    subs.placeholder("DEVICE_KEY", &new_device(fe).await);
    run!("admin-forget-device");

    let refreshed = run!("get-tokens-from-refresh-token");
    assert!(refreshed["AuthenticationResult"]["AccessToken"].is_string(), "{refreshed}");
    run!("global-sign-out");
    run!("revoke-token");
    run!("admin-user-global-sign-out");
    run!("admin-disable-user");
    run!("admin-enable-user");
    run!("admin-delete-user");
    run!("sign-up");
    run!("admin-confirm-sign-up");
    let signed_in = run!("initiate-auth");
    subs.placeholder("ACCESS_TOKEN", signed_in["AuthenticationResult"]["AccessToken"].as_str().unwrap());
    subs.placeholder("ID_TOKEN", signed_in["AuthenticationResult"]["IdToken"].as_str().unwrap());
    subs.placeholder("REFRESH_TOKEN", signed_in["AuthenticationResult"]["RefreshToken"].as_str().unwrap());

    // ---- Identity pools and Sync ----------------------------------------------------------------
    // The frontend has the local server's credential vendor and push notifier; the identity's
    // credentials from get-credentials-for-identity sign the Sync events an identity sends.
    //
    // The sample events name a fixed identity pool and identity; rather than copy records to
    // those ids (which would tie this test to the domain's keys), every later event gets the ids
    // the operations made in their place.
    let created = run!("create-identity-pool");
    let identity_pool = created["IdentityPoolId"].as_str().unwrap().to_string();
    assert_eq!(created["IdentityPoolName"], "tessera_example");
    subs.set(IDENTITY_POOL, &identity_pool);
    let described = run!("describe-identity-pool");
    assert_eq!(described["IdentityPoolId"], identity_pool.as_str());
    let pools = run!("list-identity-pools");
    assert!(
        pools["IdentityPools"]
            .as_array()
            .is_some_and(|p| p.iter().any(|p| p["IdentityPoolId"] == identity_pool.as_str())),
        "{pools}"
    );
    let updated = run!("update-identity-pool");
    assert_eq!(updated["CognitoIdentityProviders"][0]["ServerSideTokenCheck"], true);
    run!("set-identity-pool-roles");
    let roles = run!("get-identity-pool-roles");
    assert_eq!(
        roles["Roles"]["authenticated"],
        "arn:aws:iam::123456789012:role/tessera-identity-authenticated"
    );
    // The signed-in user's login becomes an identity.
    let got = run!("get-id");
    let identity = got["IdentityId"].as_str().unwrap().to_string();
    assert!(identity.starts_with("us-east-1:"), "{got}");
    subs.set(IDENTITY, &identity);
    let token = run!("get-open-id-token");
    assert_eq!(token["IdentityId"], identity.as_str());
    let credentials = run!("get-credentials-for-identity");
    assert_eq!(credentials["IdentityId"], identity.as_str());
    let c = &credentials["Credentials"];
    identity_signer = Some(Signer {
        key: c["AccessKeyId"].as_str().unwrap().to_string(),
        secret: c["SecretKey"].as_str().unwrap().to_string(),
        session_token: c["SessionToken"].as_str().map(str::to_string),
    });
    let developer = run!("get-open-id-token-for-developer-identity");
    assert_eq!(developer["IdentityId"], identity.as_str());
    let found = run!("lookup-developer-identity");
    assert_eq!(found["IdentityId"], identity.as_str());
    // MergeDeveloperIdentities' source: another developer user, with an identity of its own.
    let mut ctx = tessera_core::CallContext::new("https://d111111abcdef8.cloudfront.net");
    ctx.principal = tessera_core::service::Principal::Admin;
    let input = serde_json::json!({
        "IdentityPoolId": identity_pool,
        "Logins": {DEVELOPER_PROVIDER: DEVELOPER_USER_LEGACY},
    });
    let legacy = tessera_wire::dispatch::call_service(
        &fe.service,
        &ctx,
        "cognito-identity",
        "GetOpenIdTokenForDeveloperIdentity",
        &input,
    )
    .await
    .unwrap()
    .unwrap();
    assert_ne!(legacy["IdentityId"], identity.as_str());
    let merged = run!("merge-developer-identities");
    assert_eq!(merged["IdentityId"], identity.as_str());
    run!("unlink-developer-identity");
    let described = run!("describe-identity");
    assert_eq!(described["IdentityId"], identity.as_str());
    let identities = run!("list-identities");
    assert!(
        identities["Identities"]
            .as_array()
            .is_some_and(|i| i.iter().any(|i| i["IdentityId"] == identity.as_str())),
        "{identities}"
    );

    // Sync: the pool's push configuration, then the identity's dataset, signed by the identity.
    run!("set-identity-pool-configuration");
    let configuration = run!("get-identity-pool-configuration");
    assert_eq!(
        configuration["PushSync"]["ApplicationArns"][0],
        "arn:aws:sns:us-east-1:123456789012:app/GCM/tessera-example"
    );
    let records = run!("list-records");
    assert_eq!(records["DatasetExists"], false);
    subs.placeholder("SYNC_SESSION_TOKEN", records["SyncSessionToken"].as_str().unwrap());
    let device = run!("register-device");
    subs.placeholder("DEVICE_ID", device["DeviceId"].as_str().unwrap());
    let written = run!("update-records");
    assert_eq!(written["Records"].as_array().map(Vec::len), Some(2), "{written}");
    assert!(written["Records"].as_array().unwrap().iter().all(|r| r["SyncCount"] == 1), "{written}");
    run!("subscribe-to-dataset");
    let dataset = run!("describe-dataset");
    assert_eq!(dataset["Dataset"]["NumRecords"], 2);
    let datasets = run!("list-datasets");
    assert_eq!(datasets["Datasets"][0]["DatasetName"], "settings");
    let usage = run!("describe-identity-usage");
    assert_eq!(usage["IdentityUsage"]["DatasetCount"], 1);
    let pool_usage = run!("describe-identity-pool-usage");
    assert_eq!(pool_usage["IdentityPoolUsage"]["IdentityPoolId"], identity_pool.as_str());
    run!("list-identity-pool-usage");
    run!("get-cognito-events");
    run!("set-cognito-events");
    let events = run!("get-cognito-events");
    assert_eq!(
        events["Events"]["SyncTrigger"],
        "arn:aws:lambda:us-east-1:123456789012:function:tessera-trigger-sync"
    );
    run!("unsubscribe-from-dataset");
    // Cognito Streams are not supported: both answer so, and write nothing.
    for name in ["bulk-publish", "get-bulk-publish-details"] {
        let answered = run_all!(name);
        let (status, body) = &answered["success"];
        assert_eq!(*status, 400, "{name}: {body}");
        assert_eq!(body["__type"], "InvalidParameterException", "{name}: {body}");
        assert!(
            body["message"].as_str().is_some_and(|m| m.starts_with("Cognito Streams are not supported")),
            "{name}: {body}"
        );
    }
    let deleted = run!("delete-dataset");
    assert_eq!(deleted["Dataset"]["DatasetName"], "settings");
    run!("unlink-identity");
    run!("delete-identities");
    run!("delete-identity-pool");
    // ---- end of identity pools and Sync ---------------------------------------------------------
    // The auth domain (the sample pool's domain `sample-app`): the sample client as a web client.
    rekey(
        fe.service.store.as_ref(),
        (&keys::client(CLIENT), keys::CLIENT_SK),
        (keys::client(CLIENT), keys::CLIENT_SK.into()),
        |b| {
            let s = &mut b["settings"];
            s["AllowedOAuthFlowsUserPoolClient"] = Value::from(true);
            s["AllowedOAuthFlows"] = serde_json::json!(["code"]);
            s["AllowedOAuthScopes"] = serde_json::json!(["openid", "aws.cognito.signin.user.admin"]);
            s["CallbackURLs"] = serde_json::json!(["https://app.example.com/callback"]);
            s["SupportedIdentityProviders"] = serde_json::json!(["COGNITO"]);
        },
    )
    .await;
    fe.service.forget_client(CLIENT);
    let authorize = run_all!("oauth2-authorize");
    assert_eq!(authorize["success"].0, 302, "to the sign-in page");
    let page = run_all!("hosted-pages");
    assert_eq!(page["success"].0, 200, "the sign-in page");
    // A provider's answer for no sign-in of this domain: the error page, nothing made.
    let answer = run_all!("oauth2-idpresponse");
    assert_eq!(answer["success"].0, 400, "{:?}", answer["success"]);
    let answer = run_all!("saml2-idpresponse");
    assert_eq!(answer["success"].0, 400, "{:?}", answer["success"]);
    let answer = run_all!("saml2-logout");
    assert_eq!(answer["success"].0, 400, "{:?}", answer["success"]);
    let info = run!("oauth2-userinfo");
    assert_eq!(info["email"], "jane@example.com", "{info}");
    let refreshed = run!("oauth2-token");
    assert!(refreshed["access_token"].is_string() && refreshed.get("refresh_token").is_none(), "{refreshed}");
    run!("delete-user");
    // Revoked after the user's last use of its tokens.
    run!("oauth2-revoke");
    run!("delete-user-pool-domain");
    run!("update-user-pool-client");
    let documents = run_all!("well-known");
    for (case, (status, body)) in &documents {
        assert_eq!(*status, 200, "well-known/{case}: {body}");
    }
    assert_eq!(documents["jwks"].1["keys"].as_array().map(Vec::len), Some(2));
    assert_eq!(
        documents["openid-configuration"].1["issuer"],
        format!("https://d111111abcdef8.cloudfront.net/{POOL}")
    );
    // The identity service's issuer: its keys signed GetOpenIdToken's token above.
    let identity_issuer = "https://d111111abcdef8.cloudfront.net/cognito-identity";
    assert_eq!(documents["cognito-identity-openid-configuration"].1["issuer"], identity_issuer);
    assert!(documents["cognito-identity-jwks"].1["keys"].as_array().is_some_and(|k| !k.is_empty()));
    // Deployed, the well-known function has no master key (tessera_aws::lambda::run_well_known,
    // role readonly): the same documents must come from public key material alone.
    let keyless = behind_front_door(keyless_frontend(fe, &dir));
    let served_without_key = run_event(&keyless, &outbox, &all, "well-known", &subs, &Signer::admin()).await;
    assert_eq!(served_without_key, documents, "well-known without the master key");
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
    // Tessera's own operations (TesseraService): signing keys, then a sign-in settings change.
    let keys = run!("describe-signing-keys");
    assert_eq!(keys["SigningKeys"].as_array().map(Vec::len), Some(2), "{keys}");
    run!("set-signing-key-rotation");
    let rotated = run!("rotate-signing-keys");
    assert_eq!(rotated["SigningKeys"].as_array().map(Vec::len), Some(4), "staged: {rotated}");
    let plan = run!("plan-user-pool-settings-change");
    assert_eq!(plan["UnresolvedConflictCount"], 0, "{plan}");
    run!("start-user-pool-settings-change");
    let mut continued = run!("continue-user-pool-settings-change");
    for _ in 0..20 {
        if continued["Status"] == "COMPLETE" {
            break;
        }
        if let Some(ms) = continued["RetryAfterMs"].as_u64() {
            tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
        }
        continued = run!("continue-user-pool-settings-change");
    }
    assert_eq!(continued["Status"], "COMPLETE", "{continued}");
    run!("delete-user-pool-client");
    run!("delete-user-pool");

    let missing: Vec<&String> = listed.iter().filter(|n| !ran.contains(n.as_str())).collect();
    assert!(missing.is_empty(), "functions without a handler run: {missing:?}");
}

/// A new (unconfirmed) device of the sample events' user, as a sign-in creates it; its key.
async fn new_device(fe: &Frontend) -> String {
    let pool = fe.service.pool(POOL).await.unwrap();
    let (user, _) = fe.service.require_user(&pool, "jane@example.com").await.unwrap();
    tessera_core::user_pool::devices::records::new_device(&fe.service, &pool, &user).await.unwrap().device_key
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

/// Runs a function's sample events (`events/<name>/*.json`) through its handler, with the
/// substitutions and the latest code from the outbox in place of the placeholders; each case's
/// status and JSON body, by case name.
async fn run_event(
    fe: &HttpFunction,
    outbox: &Outbox,
    all: &[(String, Option<String>, bool)],
    name: &str,
    subs: &Substitutions,
    signer: &Signer,
) -> std::collections::BTreeMap<String, (u16, Value)> {
    let mut cases: Vec<_> = std::fs::read_dir(format!("{ROOT}/events/{name}"))
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    cases.sort();
    assert!(!cases.is_empty(), "{name} has no sample event");
    let mut out = std::collections::BTreeMap::new();
    for case in cases {
        let stem = case.file_stem().unwrap().to_string_lossy().into_owned();
        out.insert(stem, run_case(fe, outbox, all, name, subs, signer, &case).await);
    }
    out
}

async fn run_case(
    fe: &HttpFunction,
    outbox: &Outbox,
    all: &[(String, Option<String>, bool)],
    name: &str,
    subs: &Substitutions,
    signer: &Signer,
    case: &std::path::Path,
) -> (u16, Value) {
    let (_, op, signed) = all.iter().find(|(n, ..)| n == name).cloned().unwrap();
    let text = std::fs::read_to_string(case).unwrap();
    let mut event: Value = serde_json::from_str(&text).unwrap();
    subs.apply(&mut event, "");
    if name == "confirm-sign-up" || name == "confirm-forgot-password" || name == "verify-user-attribute" {
        let code = outbox.messages().last().and_then(|m| m.code.clone()).unwrap();
        let body = event["body"].as_str().unwrap().replace("123456", &code);
        event["body"] = Value::from(body);
    }
    if signed {
        // Tessera's own operations are signed as cognito-idp (shared/wire/model/tessera.json).
        let service = match op.as_deref().and_then(|o| o.split_once(':')) {
            Some(("tessera", _)) | None => "cognito-idp",
            Some((s, _)) => s,
        };
        sign(&mut event, service, signer);
    }
    let request = lambda_http::request::from_str(&event.to_string()).unwrap();
    let response = serve(fe, name, op.as_deref(), request).await;
    let status = response.status().as_u16();
    let body: Value = serde_json::from_slice(response.body().as_ref()).unwrap_or(Value::Null);
    assert!(response.headers().contains_key("x-amzn-requestid"), "{name}");
    (status, body)
}

/// The auth domain's functions (`main=serve_auth_domain` in functions/operations.txt).
const AUTH_DOMAIN_FUNCTIONS: &[&str] = &[
    "oauth2-authorize",
    "oauth2-token",
    "oauth2-userinfo",
    "oauth2-revoke",
    "oauth2-idpresponse",
    "saml2-idpresponse",
    "saml2-logout",
    "hosted-pages",
];

/// A request through the entry point binary `name` serves: its operation's own domain function
/// (`tessera_functions::OPERATIONS`), or the `.well-known` documents.
async fn serve(
    function: &HttpFunction,
    name: &str,
    bound: Option<&str>,
    request: lambda_http::Request,
) -> lambda_http::Response<lambda_http::Body> {
    match tessera_functions::OPERATIONS.iter().find(|(n, _)| *n == name) {
        Some((_, operation)) => {
            assert_eq!(Some(operation.bound), bound, "{name}: the operation its item serves");
            tessera_aws::lambda::handle_operation(function, operation, request).await
        }
        None if AUTH_DOMAIN_FUNCTIONS.contains(&name) => {
            tessera_aws::lambda::handle_auth_domain(function, request).await
        }
        None => {
            assert_eq!(name, "well-known", "{name} has no item in tessera_functions::OPERATIONS");
            tessera_aws::lambda::handle_documents(function, request).await
        }
    }
}

/// One sample event (`events/<name>/<case>.json`) with the substitutions, changed by `tweak`
/// (after signing, as a request's unsigned headers can change on the way), signed by `signer`
/// for `service` when given, through the functions' entry point: status, error type, body.
async fn send(
    function: &HttpFunction,
    name: &str,
    case: &str,
    subs: &Substitutions,
    signer: Option<(&str, &Signer)>,
    tweak: impl Fn(&mut Value),
) -> (u16, String, Value) {
    let text = std::fs::read_to_string(format!("{ROOT}/events/{name}/{case}.json")).unwrap();
    let mut event: Value = serde_json::from_str(&text).unwrap();
    subs.apply(&mut event, "");
    if let Some((service, signer)) = signer {
        sign(&mut event, service, signer);
    }
    tweak(&mut event);
    let op = functions().into_iter().find(|(n, ..)| n == name).and_then(|(_, op, _)| op);
    let request = lambda_http::request::from_str(&event.to_string()).unwrap();
    let response = serve(function, name, op.as_deref(), request).await;
    let error_type =
        response.headers().get("x-amzn-errortype").and_then(|v| v.to_str().ok()).unwrap_or_default();
    // JSON 1.1 errors name the type as AWS does, `Name:` (and sometimes a URL after the colon).
    let error_type = error_type.split(':').next().unwrap_or_default().to_string();
    assert!(response.headers().contains_key("x-amzn-requestid"), "{name}: every answer has a request id");
    let body: Value = serde_json::from_slice(response.body().as_ref()).unwrap_or(Value::Null);
    (response.status().as_u16(), error_type, body)
}

fn set_header(name: &'static str, value: &'static str) -> impl Fn(&mut Value) {
    move |event: &mut Value| event["headers"][name] = Value::from(value)
}

/// The HTTP API's execute-api endpoint is public: a request sent there directly, without the
/// origin secret the front door adds (or with a guessed one), is refused before it reaches the
/// service, and changes nothing. The same request through the front door is served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_around_the_front_door_is_refused() {
    let dir = std::env::temp_dir().join(unique("tessera-origin-"));
    let _cleanup = TempDir(dir.clone());
    let function = behind_front_door(frontend(&dir).await);
    let mut subs = Substitutions::default();
    subs.placeholder("ORIGIN_SECRET", ORIGIN_SECRET);
    let admin = Signer::admin();
    let remove = |event: &mut Value| {
        event["headers"].as_object_mut().unwrap().remove(ORIGIN_SECRET_HEADER);
    };
    let wrong = "Kq3xV9mZt2Lr7Wp4Ys8Nd1Hc6Jf0Gb5TuE2aQw9RkX4vM7nB3yC8sD1fH6jL0pZ6";
    let twice = format!("{ORIGIN_SECRET},{ORIGIN_SECRET}");
    let twice: &'static str = Box::leak(twice.into_boxed_str());
    let prefix = &ORIGIN_SECRET[..ORIGIN_SECRET.len() - 1];
    type Change = Box<dyn Fn(&mut Value)>;
    let attempts: Vec<(&str, Change)> = vec![
        ("no header", Box::new(remove)),
        ("a wrong value", Box::new(set_header(ORIGIN_SECRET_HEADER, wrong))),
        ("an empty value", Box::new(set_header(ORIGIN_SECRET_HEADER, ""))),
        ("a prefix of the secret", Box::new(set_header(ORIGIN_SECRET_HEADER, prefix))),
        ("the secret twice", Box::new(set_header(ORIGIN_SECRET_HEADER, twice))),
    ];
    for (what, tweak) in &attempts {
        // A signed admin call (the signature is valid: only the origin check refuses it).
        let (status, error_type, body) =
            send(&function, "create-user-pool", "success", &subs, Some(("cognito-idp", &admin)), tweak).await;
        assert_eq!((status, error_type.as_str()), (403, "ForbiddenException"), "{what}: {body}");
        assert_eq!(body["__type"], "ForbiddenException", "{what}: {body}");
        // An unsigned call and a public document: refused alike.
        let (status, ..) = send(&function, "sign-up", "success", &subs, None, tweak).await;
        assert_eq!(status, 403, "{what}: sign-up");
        let (status, ..) = send(&function, "well-known", "jwks", &subs, None, tweak).await;
        assert_eq!(status, 403, "{what}: well-known");
    }
    // Nothing was created by the refused calls.
    let pools = function.frontend.service.store.query(keys::POOLS, "", None, 10, 0).await.unwrap();
    assert!(pools.items.is_empty(), "a refused request wrote {:?}", pools.items);
    // Through the front door: served.
    let (status, _, body) =
        send(&function, "create-user-pool", "success", &subs, Some(("cognito-idp", &admin)), |_| {}).await;
    assert_eq!(status, 200, "{body}");
    let (status, _, body) =
        send(&function, "list-user-pools", "success", &subs, Some(("cognito-idp", &admin)), |_| {}).await;
    assert_eq!((status, body["UserPools"].as_array().map(Vec::len)), (200, Some(1)), "{body}");
}

/// A function's cold start against moto, as in a deployment: the issuer comes from
/// TESSERA_ISSUER_BASE only (a start without it is refused; request headers cannot change it),
/// and the admin key pair and the origin secret are read from Secrets Manager through the ARNs
/// the template passes, then used: a request signed with the fetched admin key is served, one
/// signed with any other is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cold_start_reads_its_secrets_from_secrets_manager_and_never_guesses_the_issuer() {
    let Some(endpoint) = dynamodb_endpoint() else {
        eprintln!(
            "skipped: TESSERA_TEST_DYNAMODB_ENDPOINT is not set (moto serves Secrets Manager and KMS too)"
        );
        return;
    };
    // The SDK configuration the function binaries build (environment credentials, no default
    // chain), pointed at moto.
    let sdk = tessera_aws::config::function_sdk_config_from(|name| match name {
        "AWS_ENDPOINT_URL" => Some(endpoint.clone()),
        "AWS_REGION" => Some("us-east-1".to_string()),
        _ => None,
    })
    .unwrap();
    let table = unique("tessera-coldstart-");
    tessera_aws::dynamo::create_table(&aws_sdk_dynamodb::Client::new(&sdk), &table).await.unwrap();
    let kms_key = aws_sdk_kms::Client::new(&sdk)
        .create_key()
        .description("tessera cold-start test")
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .key_id;
    let secrets = aws_sdk_secretsmanager::Client::new(&sdk);
    // As the stack generates them: a 40-character admin secret key, a 64-character origin secret.
    let admin_key_id = format!("TESSERAADMIN{}", std::process::id());
    use tessera_core::ports::Rng as _;
    let admin_secret = format!("{}{}", SystemRng.uuid().simple(), "Xy12Ab34");
    let admin_arn = secrets
        .create_secret()
        .name(unique("tessera-admin-"))
        .secret_string(
            serde_json::json!({"accessKeyId": admin_key_id, "secretAccessKey": admin_secret}).to_string(),
        )
        .send()
        .await
        .unwrap()
        .arn
        .unwrap();
    let origin_secret = format!("{}{}", SystemRng.uuid().simple(), SystemRng.uuid().simple());
    let origin_arn = secrets
        .create_secret()
        .name(unique("tessera-origin-"))
        .secret_string(&origin_secret)
        .send()
        .await
        .unwrap()
        .arn
        .unwrap();
    let issuer = "https://auth.example.com";
    let env: std::collections::HashMap<&str, String> = [
        ("TESSERA_TABLE", table.clone()),
        ("TESSERA_KMS_KEY_ID", kms_key),
        ("TESSERA_ISSUER_BASE", issuer.to_string()),
        ("TESSERA_ORIGIN_SECRET_ARN", origin_arn.clone()),
        ("TESSERA_ADMIN_SECRET_ARN", admin_arn.clone()),
        ("TESSERA_ACCOUNT_ID", "123456789012".to_string()),
    ]
    .into();
    let cold_start = |changes: &[(&'static str, Option<&str>)]| {
        let mut env = env.clone();
        for (name, value) in changes {
            match value {
                Some(v) => env.insert(*name, v.to_string()),
                None => env.remove(name),
            };
        }
        let sdk = sdk.clone();
        // As the list-user-pools binary starts (the function `send` runs below).
        let clients = tessera_functions::LIST_USER_POOLS.clients;
        async move { tessera_aws::lambda::http_function_from(&sdk, |n| env.get(n).cloned(), true, clients).await }
    };

    // Refused starts: no issuer (the old code derived it from Host/X-Forwarded-Host), an issuer
    // that is not https, the admin secret in the environment, no origin secret or an unknown one,
    // a malformed account id.
    let refused = [
        (vec![("TESSERA_ISSUER_BASE", None)], "TESSERA_ISSUER_BASE is not set"),
        (vec![("TESSERA_ISSUER_BASE", Some(""))], "TESSERA_ISSUER_BASE is not set"),
        (vec![("TESSERA_ISSUER_BASE", Some("http://auth.example.com"))], "not an https URL"),
        (
            vec![("TESSERA_ADMIN_SECRET_ACCESS_KEY", Some("from-the-environment"))],
            "never from the environment",
        ),
        (vec![("TESSERA_ORIGIN_SECRET_ARN", None)], "TESSERA_ORIGIN_SECRET_ARN is not set"),
        (vec![("TESSERA_ACCOUNT_ID", Some("12345"))], "TESSERA_ACCOUNT_ID must be 12 digits"),
        (vec![("TESSERA_ACCOUNT_ID", Some("12345678901x"))], "TESSERA_ACCOUNT_ID must be 12 digits"),
        (
            vec![(
                "TESSERA_ORIGIN_SECRET_ARN",
                Some("arn:aws:secretsmanager:us-east-1:123456789012:secret:nope-AbCdEf"),
            )],
            "GetSecretValue",
        ),
    ];
    for (changes, expected) in refused {
        let e = cold_start(&changes).await.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(e.contains(expected), "{changes:?}: expected {expected:?}, got {e:?}");
        assert!(!e.contains(&admin_secret) && !e.contains(&origin_secret), "an error quotes a secret: {e}");
    }

    let function = cold_start(&[]).await.unwrap();
    assert_eq!(function.frontend.issuer_base.as_deref(), Some(issuer));
    assert_eq!(function.frontend.admin_keys.len(), 1, "exactly the pair from the secret");
    let mut subs = Substitutions::default();
    subs.placeholder("ORIGIN_SECRET", &origin_secret);
    let fetched = Signer { key: admin_key_id.clone(), secret: admin_secret.clone(), session_token: None };

    // The fetched admin key signs; the test's own (never stored anywhere) does not.
    let (status, error_type, body) =
        send(&function, "list-user-pools", "success", &subs, Some(("cognito-idp", &Signer::admin())), |_| {})
            .await;
    assert_eq!((status, error_type.as_str()), (400, "UnrecognizedClientException"), "{body}");
    let other_secret = Signer { secret: "not-the-secret".into(), ..fetched.clone() };
    let (status, error_type, body) =
        send(&function, "list-user-pools", "success", &subs, Some(("cognito-idp", &other_secret)), |_| {})
            .await;
    assert_eq!((status, error_type.as_str()), (400, "InvalidSignatureException"), "{body}");
    let (status, _, body) =
        send(&function, "create-user-pool", "success", &subs, Some(("cognito-idp", &fetched)), |_| {}).await;
    assert_eq!(status, 200, "{body}");
    let pool_id = body["UserPool"]["Id"].as_str().unwrap().to_string();
    subs.set(POOL, &pool_id);

    // The origin secret fetched is the one checked.
    let (status, ..) = send(
        &function,
        "well-known",
        "openid-configuration",
        &subs,
        None,
        set_header(ORIGIN_SECRET_HEADER, ORIGIN_SECRET),
    )
    .await;
    assert_eq!(status, 403, "the in-process tests' secret is not this deployment's");

    // The issuer stays the configured one whatever host the caller names.
    let forged = |event: &mut Value| {
        for header in ["x-tessera-original-host", "x-forwarded-host", "host"] {
            event["headers"][header] = Value::from("evil.example");
        }
    };
    let (status, _, document) =
        send(&function, "well-known", "openid-configuration", &subs, None, forged).await;
    assert_eq!(status, 200, "{document}");
    assert_eq!(document["issuer"], format!("{issuer}/{pool_id}"));
    assert!(document["jwks_uri"].as_str().is_some_and(|u| u.starts_with(issuer)), "{document}");
}

/// Each function binary builds exactly the optional AWS clients its flags in
/// functions/operations.txt name (so it links only those SDKs): none without a flag.
#[test]
fn every_function_builds_the_clients_its_flags_name() {
    use tessera_aws::lambda::Clients;
    let text = std::fs::read_to_string(format!("{ROOT}/functions/operations.txt")).unwrap();
    let mut flags_of = std::collections::BTreeMap::new();
    let mut section = String::new();
    for line in text.lines().map(|l| l.split('#').next().unwrap().trim()).filter(|l| !l.is_empty()) {
        if line.starts_with('[') {
            section = line.to_string();
            continue;
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        let binary = match section.as_str() {
            "[hooks]" => continue,
            "[special]" => words[0].to_string(),
            _ => words
                .iter()
                .find_map(|w| w.strip_prefix("name="))
                .map_or_else(|| kebab(words[0]), str::to_string),
        };
        flags_of.insert(binary, words[1..].iter().map(|w| w.to_string()).collect::<BTreeSet<String>>());
    }
    let built = |c: &Clients| {
        [
            ("sends", c.messages.is_some()),
            ("triggers", c.triggers.is_some()),
            ("credentials", c.credentials.is_some()),
            ("push", c.push.is_some()),
            ("imports", c.imports.is_some()),
            ("web", c.web.is_some()),
        ]
    };
    let mut specials = vec![
        ("well-known", tessera_functions::WELL_KNOWN),
        ("import-worker", tessera_functions::IMPORT_WORKER),
        ("oauth2-authorize", tessera_functions::OAUTH2_AUTHORIZE),
        ("oauth2-token", tessera_functions::OAUTH2_TOKEN),
        ("oauth2-userinfo", tessera_functions::OAUTH2_USERINFO),
        ("oauth2-revoke", tessera_functions::OAUTH2_REVOKE),
        ("oauth2-idpresponse", tessera_functions::OAUTH2_IDPRESPONSE),
        ("saml2-idpresponse", tessera_functions::SAML2_IDPRESPONSE),
        ("saml2-logout", tessera_functions::SAML2_LOGOUT),
        ("hosted-pages", tessera_functions::HOSTED_PAGES),
    ];
    specials.extend(tessera_functions::OPERATIONS.iter().map(|(name, op)| (*name, op.clients)));
    assert_eq!(specials.len(), flags_of.len(), "one item per function of operations.txt");
    for (name, clients) in specials {
        let flags = &flags_of[name];
        for (flag, has) in built(&clients) {
            assert_eq!(has, flags.contains(flag), "{name}: flag {flag}");
        }
    }
    // The one operation that vends credentials has its client; no other function does.
    assert!(tessera_functions::GET_CREDENTIALS_FOR_IDENTITY.clients.credentials.is_some());
    assert!(
        tessera_functions::GET_USER.clients.messages.is_none()
            && tessera_functions::GET_USER.clients.triggers.is_none()
    );
}
