//! The harness: a real local server per test (port 0), on the embedded store or on a
//! DynamoDB-compatible endpoint, driven by the official Rust SDK.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use aws_sdk_cognitoidentityprovider as cip;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use tessera_core::password::HashParams;
use tessera_core::ports::{Clock, OutgoingMessage, SystemClock};
use tessera_core::ServiceConfig;
use tessera_local::{LocalConfig, Running, StoreKind};

pub const ADMIN_KEY: &str = "AKIATESTADMIN0000001";
pub const ADMIN_SECRET: &str = "test-admin-secret";
pub const PASSWORD: &str = "Correct-Horse-9";

/// System time plus an offset the test can move forward.
#[derive(Default)]
pub struct TestClock {
    offset_ms: AtomicI64,
}

impl TestClock {
    pub fn advance_secs(&self, secs: i64) {
        self.offset_ms.fetch_add(secs * 1000, Ordering::SeqCst);
    }
}

impl Clock for TestClock {
    fn now_millis(&self) -> i64 {
        SystemClock.now_millis() + self.offset_ms.load(Ordering::SeqCst)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Embedded,
    DynamoDb,
}

pub struct TestEnv {
    pub server: Running,
    pub client: cip::Client,
    pub clock: Arc<TestClock>,
    pub url: String,
    /// The Lambda double every pool trigger of this server invokes.
    pub lambda: crate::lambda_double::LambdaDouble,
    _dir: TempDir,
}

pub struct TempDir(pub std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
        let _ = std::fs::remove_file(self.0.with_extension("key"));
    }
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

pub fn unique(prefix: &str) -> String {
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    format!("{prefix}{}{n}", std::process::id())
}

/// The DynamoDB-compatible endpoint tests may use (moto's server in CI).
pub fn dynamodb_endpoint() -> Option<String> {
    std::env::var("TESSERA_TEST_DYNAMODB_ENDPOINT").ok().filter(|s| !s.is_empty())
}

impl TestEnv {
    pub async fn start(backend: Backend) -> Option<TestEnv> {
        Self::start_with(backend, HashParams { m_kib: 1024, t: 1, p: 1 }).await
    }

    pub async fn start_with(backend: Backend, hash: HashParams) -> Option<TestEnv> {
        Self::start_configured(backend, move |service| service.hash_params = hash).await
    }

    /// A server whose service settings (limits, …) the test adjusts; fast hashing by default.
    pub async fn start_configured(
        backend: Backend,
        configure: impl FnOnce(&mut ServiceConfig),
    ) -> Option<TestEnv> {
        Self::start_local(backend, move |cfg| configure(&mut cfg.service)).await
    }

    /// A server whose local settings (STS or SNS endpoints, service settings, …) the test
    /// adjusts last, over the harness's defaults.
    pub async fn start_local(backend: Backend, configure: impl FnOnce(&mut LocalConfig)) -> Option<TestEnv> {
        let dir = std::env::temp_dir().join(unique("tessera-e2e-"));
        let mut cfg = LocalConfig::new(dir.clone());
        // Beside the temporary data directory, removed with it (TempDir).
        cfg.key_file = Some(dir.with_extension("key"));
        cfg.bind = "127.0.0.1:0".parse().ok()?;
        cfg.admin_keys = [(ADMIN_KEY.to_string(), ADMIN_SECRET.to_string())].into();
        cfg.service.hash_params = HashParams { m_kib: 1024, t: 1, p: 1 };
        let clock = Arc::new(TestClock::default());
        cfg.clock = clock.clone();
        let lambda = crate::lambda_double::LambdaDouble::start().await;
        cfg.lambda_endpoint = Some(lambda.url.clone());
        if backend == Backend::DynamoDb {
            let Some(endpoint) = dynamodb_endpoint() else {
                eprintln!("skipped: TESSERA_TEST_DYNAMODB_ENDPOINT is not set");
                return None;
            };
            let table = unique("tessera-e2e-");
            let ddb = tessera_aws::config::dynamodb_client(Some(&endpoint), "us-east-1").await;
            // With an endpoint configured, an unreachable server is a failure, never a skip.
            tessera_aws::dynamo::create_table(&ddb, &table)
                .await
                .unwrap_or_else(|e| panic!("cannot create table at {endpoint}: {e}"));
            cfg.store = StoreKind::DynamoDb { endpoint: Some(endpoint), table };
        }
        configure(&mut cfg);
        let server = tessera_local::start(cfg).await.expect("server starts");
        let url = server.url();
        let client = sdk_client(&url, ADMIN_KEY, ADMIN_SECRET).await;
        Some(TestEnv { server, client, clock, url, lambda, _dir: TempDir(dir) })
    }

    /// The server's data directory (embedded store, outbox, import files and logs).
    pub fn data_dir(&self) -> &std::path::Path {
        &self._dir.0
    }

    /// Messages the outbox holds for a destination, newest last.
    pub fn messages_to(&self, destination: &str) -> Vec<OutgoingMessage> {
        let outbox = self.server.state.outbox.as_ref().map(|o| o.messages()).unwrap_or_default();
        outbox.into_iter().filter(|m| m.destination == destination).collect()
    }

    pub fn last_code(&self, destination: &str) -> String {
        self.messages_to(destination).last().and_then(|m| m.code.clone()).unwrap_or_default()
    }

    pub async fn pool(
        &self,
        customise: impl FnOnce(
            cip::operation::create_user_pool::builders::CreateUserPoolFluentBuilder,
        ) -> cip::operation::create_user_pool::builders::CreateUserPoolFluentBuilder,
    ) -> String {
        let b = self.client.create_user_pool().pool_name(unique("pool"));
        let out = customise(b).send().await.expect("create pool");
        out.user_pool().and_then(|p| p.id()).unwrap_or_default().to_string()
    }

    /// A pool where email is the username and is verified by code, as most apps set it up.
    pub async fn email_pool(&self) -> String {
        self.pool(|b| {
            b.username_attributes(cip::types::UsernameAttributeType::Email)
                .auto_verified_attributes(cip::types::VerifiedAttributeType::Email)
        })
        .await
    }

    pub async fn app_client(&self, pool_id: &str, flows: &[&str], secret: bool) -> (String, Option<String>) {
        let mut b = self
            .client
            .create_user_pool_client()
            .user_pool_id(pool_id)
            .client_name("app")
            .generate_secret(secret);
        for f in flows {
            b = b.explicit_auth_flows(cip::types::ExplicitAuthFlowsType::from(*f));
        }
        let out = b.send().await.expect("create client");
        let c = out.user_pool_client().expect("client");
        (c.client_id().unwrap_or_default().to_string(), c.client_secret().map(str::to_string))
    }

    /// Signs a user up and confirms them with the code from the outbox.
    pub async fn confirmed_user(&self, client_id: &str, email: &str) -> String {
        let out = self
            .client
            .sign_up()
            .client_id(client_id)
            .username(email)
            .password(PASSWORD)
            .user_attributes(attr("email", email))
            .send()
            .await
            .expect("sign up");
        self.client
            .confirm_sign_up()
            .client_id(client_id)
            .username(email)
            .confirmation_code(self.last_code(email))
            .send()
            .await
            .expect("confirm");
        out.user_sub().to_string()
    }

    /// A CONFIRMED user (AdminCreateUser, then AdminSetUserPassword permanent) with the test
    /// password and these attributes.
    pub async fn admin_user(&self, pool: &str, username: &str, attrs: &[(&str, &str)]) {
        let mut create = self
            .client
            .admin_create_user()
            .user_pool_id(pool)
            .username(username)
            .message_action(cip::types::MessageActionType::Suppress);
        for (k, v) in attrs {
            create = create.user_attributes(attr(k, v));
        }
        create.send().await.expect("create user");
        self.client
            .admin_set_user_password()
            .user_pool_id(pool)
            .username(username)
            .password(PASSWORD)
            .permanent(true)
            .send()
            .await
            .expect("set password");
    }

    /// ADMIN_USER_PASSWORD_AUTH with the test password.
    pub async fn admin_sign_in(
        &self,
        pool_id: &str,
        client_id: &str,
        username: &str,
    ) -> cip::types::AuthenticationResultType {
        self.client
            .admin_initiate_auth()
            .user_pool_id(pool_id)
            .client_id(client_id)
            .auth_flow(cip::types::AuthFlowType::AdminUserPasswordAuth)
            .auth_parameters("USERNAME", username)
            .auth_parameters("PASSWORD", PASSWORD)
            .send()
            .await
            .expect("admin sign-in")
            .authentication_result()
            .cloned()
            .expect("tokens")
    }

    /// REFRESH_TOKEN_AUTH through InitiateAuth.
    pub async fn refresh(
        &self,
        client_id: &str,
        refresh_token: &str,
    ) -> Result<cip::types::AuthenticationResultType, String> {
        self.client
            .initiate_auth()
            .client_id(client_id)
            .auth_flow(cip::types::AuthFlowType::RefreshTokenAuth)
            .auth_parameters("REFRESH_TOKEN", refresh_token)
            .send()
            .await
            .map_err(err_name)
            .map(|o| o.authentication_result().cloned().expect("tokens"))
    }

    /// SignUp with the test password and no attributes.
    pub async fn sign_up(
        &self,
        client_id: &str,
        username: &str,
    ) -> Result<cip::operation::sign_up::SignUpOutput, String> {
        self.client
            .sign_up()
            .client_id(client_id)
            .username(username)
            .password(PASSWORD)
            .send()
            .await
            .map_err(err_name)
    }

    /// ConfirmSignUp without a secret hash.
    pub async fn confirm(&self, client_id: &str, username: &str, code: &str) -> Result<(), String> {
        self.client
            .confirm_sign_up()
            .client_id(client_id)
            .username(username)
            .confirmation_code(code)
            .send()
            .await
            .map(|_| ())
            .map_err(err_name)
    }

    pub async fn password_sign_in(
        &self,
        client_id: &str,
        username: &str,
        password: &str,
    ) -> Result<cip::types::AuthenticationResultType, String> {
        self.client
            .initiate_auth()
            .client_id(client_id)
            .auth_flow(cip::types::AuthFlowType::UserPasswordAuth)
            .auth_parameters("USERNAME", username)
            .auth_parameters("PASSWORD", password)
            .send()
            .await
            .map_err(err_name)
            .map(|o| o.authentication_result().cloned().expect("tokens"))
    }
}

pub async fn sdk_client(url: &str, key: &str, secret: &str) -> cip::Client {
    let creds = cip::config::Credentials::new(key, secret, None, None, "test");
    let conf = cip::Config::builder()
        .behavior_version(cip::config::BehaviorVersion::latest())
        .region(cip::config::Region::new("us-east-1"))
        .endpoint_url(url)
        .credentials_provider(creds)
        .build();
    cip::Client::from_conf(conf)
}

pub fn attr(name: &str, value: &str) -> cip::types::AttributeType {
    cip::types::AttributeType::builder().name(name).value(value).build().expect("attribute")
}

/// "ErrorName: message" of an SDK error, as the service sent it (any of the three SDKs: they
/// share smithy's error types).
pub fn err_name<E, R>(e: cip::error::SdkError<E, R>) -> String
where
    E: cip::error::ProvideErrorMetadata + std::fmt::Debug,
    R: std::fmt::Debug,
{
    match e.as_service_error() {
        Some(se) => format!("{}: {}", se.code().unwrap_or("?"), se.message().unwrap_or("")),
        None => format!("non-service error: {e:?}"),
    }
}

/// A minimal HTTP/1.1 client for what the SDK cannot send (raw bodies, GETs, preflights).
pub async fn raw_http(
    url: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, Vec<(String, String)>, Vec<u8>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let host = url.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(host).await.expect("connect");
    let mut req =
        format!("{method} {path} HTTP/1.1\r\nConnection: close\r\nContent-Length: {}\r\n", body.len());
    // The connection's host, unless the test names another.
    if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
        req.push_str(&format!("Host: {host}\r\n"));
    }
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    stream.write_all(req.as_bytes()).await.expect("write");
    stream.write_all(body).await.expect("write body");
    let mut buf = Vec::new();
    stream.read_to_end(&mut buf).await.expect("read");
    let split = buf.windows(4).position(|w| w == b"\r\n\r\n").expect("header end");
    let head = String::from_utf8_lossy(&buf[..split]).to_string();
    let mut lines = head.lines();
    let status: u16 =
        lines.next().and_then(|l| l.split(' ').nth(1)).and_then(|s| s.parse().ok()).unwrap_or(0);
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':').map(|(k, v)| (k.trim().to_lowercase(), v.trim().to_string())))
        .collect();
    let mut body = buf[split + 4..].to_vec();
    if headers.iter().any(|(k, v)| k == "transfer-encoding" && v.contains("chunked")) {
        body = dechunk(&body);
    }
    (status, headers, body)
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(pos) = b.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(String::from_utf8_lossy(&b[..pos]).trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        out.extend_from_slice(&b[pos + 2..pos + 2 + size]);
        b = &b[pos + 2 + size + 2..];
    }
    out
}

/// A JSON 1.1 call with the given target, unsigned.
pub async fn raw_call(
    url: &str,
    target: &str,
    body: &str,
) -> (u16, serde_json::Value, Vec<(String, String)>) {
    let (status, headers, body) = raw_http(
        url,
        "POST",
        "/",
        &[
            ("Content-Type", "application/x-amz-json-1.1"),
            ("X-Amz-Target", &format!("AWSCognitoIdentityProviderService.{target}")),
        ],
        body.as_bytes(),
    )
    .await;
    (status, serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null), headers)
}

/// Generates one test per backend for a body using `env: &TestEnv`.
#[macro_export]
macro_rules! on_both_stores {
    ($name:ident, config = |$cfg:ident| $configure:block, |$env:ident| $body:block) => {
        mod $name {
            use super::*;
            async fn run($env: &$crate::common::TestEnv) $body
            fn configure($cfg: &mut tessera_core::ServiceConfig) $configure
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn embedded() {
                let env = $crate::common::TestEnv::start_configured($crate::common::Backend::Embedded, configure)
                    .await
                    .expect("server");
                run(&env).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn dynamodb() {
                if let Some(env) =
                    $crate::common::TestEnv::start_configured($crate::common::Backend::DynamoDb, configure).await
                {
                    run(&env).await;
                }
            }
        }
    };
    ($name:ident, |$env:ident| $body:block) => {
        mod $name {
            use super::*;
            async fn run($env: &$crate::common::TestEnv) $body
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn embedded() {
                let env = $crate::common::TestEnv::start($crate::common::Backend::Embedded).await.expect("server");
                run(&env).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn dynamodb() {
                if let Some(env) = $crate::common::TestEnv::start($crate::common::Backend::DynamoDb).await {
                    run(&env).await;
                }
            }
        }
    };
}

/// An aws-sdk-cognitoidentity client of the server, signing with `key`/`secret` (the admin
/// keys for the developer operations; the unsigned operations ignore them).
pub async fn identity_client(url: &str, key: &str, secret: &str) -> aws_sdk_cognitoidentity::Client {
    use aws_sdk_cognitoidentity as ci;
    let creds = ci::config::Credentials::new(key, secret, None, None, "test");
    let conf = ci::Config::builder()
        .behavior_version(ci::config::BehaviorVersion::latest())
        .region(ci::config::Region::new("us-east-1"))
        .endpoint_url(url)
        .credentials_provider(creds)
        .build();
    ci::Client::from_conf(conf)
}

/// An aws-sdk-cognitosync client of the server: admin keys (no session token) or an
/// identity's credentials from GetCredentialsForIdentity.
pub async fn sync_client(
    url: &str,
    key: &str,
    secret: &str,
    session_token: Option<&str>,
) -> aws_sdk_cognitosync::Client {
    use aws_sdk_cognitosync as cs;
    let creds = cs::config::Credentials::new(key, secret, session_token.map(str::to_string), None, "test");
    let conf = cs::Config::builder()
        .behavior_version(cs::config::BehaviorVersion::latest())
        .region(cs::config::Region::new("us-east-1"))
        .endpoint_url(url)
        .credentials_provider(creds)
        .build();
    cs::Client::from_conf(conf)
}

/// Runs a node script of tests/js with one JSON argument and returns the last JSON line it
/// prints. `packages` are the npm packages the script needs (checked first, so a missing
/// `npm ci` says so). The scripts end themselves after 60 s, so the wait cannot hang a test.
pub async fn run_node(script: &str, packages: &[&str], input: serde_json::Value) -> serde_json::Value {
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("js");
    for package in packages {
        assert!(
            dir.join("node_modules").join(package).join("package.json").is_file(),
            "{package} is not installed in {}: run `npm ci --prefix tests/js` (Node.js 18 or later) before the tests",
            dir.display()
        );
    }
    let script = dir.join(script);
    let arg = input.to_string();
    let out = tokio::task::spawn_blocking(move || {
        let mut cmd = std::process::Command::new("node");
        cmd.arg(script).arg(arg);
        // The scripts get what the test gives them, never the machine's AWS identity.
        cmd.env("AWS_SDK_JS_SUPPRESS_MAINTENANCE_MODE_MESSAGE", "1");
        for var in ["AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"] {
            cmd.env_remove(var);
        }
        cmd.output()
    })
    .await
    .expect("join")
    .unwrap_or_else(|e| {
        panic!("cannot run `node` ({e}): install Node.js 18 or later and run `npm ci --prefix tests/js`")
    });
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let line = stdout.lines().rev().find(|l| l.starts_with('{')).unwrap_or_default();
    serde_json::from_str(line).unwrap_or_else(|e| {
        panic!(
            "the node script printed no result ({e}), exit {:?}\nstdout: {stdout}\nstderr: {stderr}",
            out.status
        )
    })
}

/// A request signed with SigV4 by the admin keys, with this exact body (what the SDKs cannot
/// send): the status and the answer as JSON (`Null` when it is not JSON). `target` is the JSON 1.1
/// `X-Amz-Target`; without one the body is plain JSON (the REST services).
pub async fn admin_signed_request(
    env: &TestEnv,
    service: &str,
    method: &str,
    path_and_query: &str,
    target: Option<&str>,
    body: &str,
) -> (u16, serde_json::Value) {
    use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
    let host = env.url.trim_start_matches("http://").to_string();
    let identity = aws_credential_types::Credentials::new(ADMIN_KEY, ADMIN_SECRET, None, None, "test").into();
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name(service)
        .time(std::time::UNIX_EPOCH + std::time::Duration::from_millis(SystemClock.now_millis() as u64))
        .settings(SigningSettings::default())
        .build()
        .unwrap()
        .into();
    let content_type =
        if target.is_some() { "application/x-amz-json-1.1" } else { "application/json" }.to_string();
    let mut headers = vec![("host".to_string(), host.clone()), ("content-type".to_string(), content_type)];
    if let Some(t) = target {
        headers.push(("x-amz-target".to_string(), t.to_string()));
    }
    let request = SignableRequest::new(
        method,
        format!("http://{host}{path_and_query}"),
        headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        SignableBody::Bytes(body.as_bytes()),
    )
    .unwrap();
    let (instructions, _) = sign(request, &params).unwrap().into_parts();
    for (k, v) in instructions.headers() {
        headers.push((k.to_string(), v.to_string()));
    }
    let sent: Vec<(&str, &str)> =
        headers.iter().filter(|(k, _)| k != "host").map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let (status, _, bytes) = raw_http(&env.url, method, path_and_query, &sent, body.as_bytes()).await;
    (status, serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null))
}

/// An error answer's (`__type` without its namespace, message).
pub fn error_parts(answer: &serde_json::Value) -> (String, String) {
    let kind =
        answer["__type"].as_str().unwrap_or_default().rsplit('#').next().unwrap_or_default().to_string();
    let message = answer["message"].as_str().or(answer["Message"].as_str()).unwrap_or_default().to_string();
    (kind, message)
}

/// A server the tests start beside Tessera (an identity provider…): a child process that prints
/// one JSON line when it listens, and is killed when this is dropped.
pub struct ChildServer {
    child: std::process::Child,
    /// The line it printed.
    pub ready: serde_json::Value,
}

impl ChildServer {
    pub fn start(mut command: std::process::Command, what: &str) -> ChildServer {
        use std::io::BufRead;
        let mut child = command
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{what} does not start: {e}"));
        let mut stdout = std::io::BufReader::new(child.stdout.take().expect("stdout"));
        let mut line = String::new();
        stdout.read_line(&mut line).expect("its first line");
        let ready = serde_json::from_str(&line).unwrap_or_else(|_| panic!("{what} did not start: {line}"));
        // Keep reading what it prints (its warnings), or it dies writing to a closed pipe.
        std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
        ChildServer { child, ready }
    }

    /// A text member of its first line.
    pub fn text(&self, member: &str) -> String {
        self.ready[member].as_str().unwrap_or_else(|| panic!("no {member} in {}", self.ready)).to_string()
    }
}

impl Drop for ChildServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
