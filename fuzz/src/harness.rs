//! The in-process harness: a Service on a real store (embedded, or DynamoDB-compatible) behind
//! the same wire front end the server and the Lambda functions use; each input is signed as an
//! SDK signs it, served, and checked.
//!
//! Checks, per input:
//! - no panic, and an answer within [`CALL_DEADLINE`];
//! - no HTTP 5xx;
//! - every error has a Cognito-style type (`x-amzn-errortype` or `__type`), and the type is
//!   one the model declares for the operation (or a protocol-level one);
//! - a refused call wrote nothing but its attempt bookkeeping ([`is_attempt_bookkeeping`]).

use crate::gen::{mutate, mutate_bytes, Gen, PASSWORD};
use crate::model::{Model, Operation, ServiceKind};
use crate::recording::{is_attempt_bookkeeping, RecordingStore};
use crate::rng::Rng;
use crate::world::World;
use async_trait::async_trait;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tessera_core::password::HashParams;
use tessera_core::ports::{
    AesGcmCipher, Invocation, InvokeFailure, Messenger, OutgoingMessage, PushNotifier, Rng as _, SystemClock,
    SystemRng,
};
use tessera_core::store::Store;
use tessera_core::{Service, ServiceConfig};
use tessera_wire::http::{Cors, Frontend, WireRequest, WireResponse, CORS_LOOPBACK};
use tessera_wire::throttle::{Throttle, ThrottleSettings};

pub const ADMIN_KEY: &str = "AKIAFUZZADMIN0000001";
pub const ADMIN_SECRET: &str = "fuzz-admin-secret";
/// The host requests name; the issuer of the pools' tokens is `http://{HOST}/{pool}`.
pub const HOST: &str = "localhost:9229";
/// Inputs between two seedings: the inputs delete pools, revoke tokens and disable users, so
/// live objects are made again.
const RESEED_EVERY: u64 = 150;
/// An answer slower than this is a hang (the slowest legitimate path, Sync's retry budget, is 10 s).
pub const CALL_DEADLINE: Duration = Duration::from_secs(30);

/// Errors any operation may answer: the protocol's own, and the refusal of an operation this
/// version does not implement.
const PROTOCOL_ERRORS: &[&str] = &[
    "SerializationException",
    // Cognito Identity's answer to a model constraint violation (AWS's generic front-end error,
    // in no operation's list).
    "ValidationException",
    "UnknownOperationException",
    "MissingAuthenticationTokenException",
    "IncompleteSignatureException",
    "InvalidSignatureException",
    "UnrecognizedClientException",
    "AccessDeniedException",
    "TooManyRequestsException",
    "UnsupportedOperationException",
];

/// The findings that fail a run. An "undeclared error" (an error type the model does not list
/// for the operation) is reported for review but does not fail it: the models' error lists are
/// not complete (Cognito answers UserNotFoundException where they omit it).
pub const FAILURES: &[&str] = &["panic", "hang", "5xx", "untyped error", "partial write"];

#[derive(Debug, Clone)]
pub struct Config {
    pub inputs: u64,
    pub seed: u64,
    /// Inputs per store: every episode starts from an empty store and a fresh seed world.
    pub episode: u64,
    /// None: the embedded store (in /dev/shm when there is one).
    pub dynamodb_endpoint: Option<String>,
    /// Print a line every this many inputs (0: never).
    pub progress_every: u64,
    /// Print every exchange (operation, status, answer) to stderr.
    pub trace: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            inputs: 1000,
            seed: 1,
            episode: 5000,
            dynamodb_endpoint: None,
            progress_every: 0,
            trace: false,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Finding {
    pub kind: &'static str,
    pub operation: String,
    pub detail: String,
    pub count: u64,
    /// The first input that showed it, and the answer.
    pub example: String,
}

#[derive(Debug, Default)]
pub struct Report {
    pub inputs: u64,
    pub seed_calls: u64,
    pub seed_failures: Vec<String>,
    pub findings: BTreeMap<(String, String, String), Finding>,
    pub statuses: BTreeMap<u16, u64>,
    /// Operation → (calls, successes).
    pub operations: BTreeMap<String, (u64, u64)>,
    pub error_types: BTreeMap<String, u64>,
    /// Operations that answered UnsupportedOperationException (not built yet).
    pub unsupported: std::collections::BTreeSet<String>,
    pub elapsed: Duration,
}

impl Report {
    fn find(&mut self, kind: &'static str, op: &str, detail: String, example: impl FnOnce() -> String) {
        let key = (kind.to_string(), op.to_string(), detail.clone());
        self.findings.entry(key).and_modify(|f| f.count += 1).or_insert_with(|| Finding {
            kind,
            operation: op.into(),
            detail,
            count: 1,
            example: example(),
        });
    }

    pub fn findings_of(&self, kind: &str) -> u64 {
        self.findings.values().filter(|f| f.kind == kind).map(|f| f.count).sum()
    }

    pub fn summary(&self) -> String {
        let secs = self.elapsed.as_secs_f64().max(1e-9);
        let reached = self.operations.values().filter(|(_, ok)| *ok > 0).count();
        let mut s = format!(
            "{} inputs (+{} seed calls) in {:.1} s ({:.0}/s); {} operations called ({} not implemented), \
             {} answered 200 at least once\n",
            self.inputs,
            self.seed_calls,
            secs,
            self.inputs as f64 / secs,
            self.operations.len(),
            self.unsupported.len(),
            reached
        );
        s += &format!("statuses: {:?}\n", self.statuses);
        let mut errors: Vec<_> = self.error_types.iter().collect();
        errors.sort_by(|a, b| b.1.cmp(a.1));
        s += &format!("error types: {errors:?}\n");
        for kind in ["panic", "hang", "5xx", "untyped error", "undeclared error", "partial write"] {
            s += &format!("{kind}: {}\n", self.findings_of(kind));
        }
        for f in self.findings.values() {
            s += &format!(
                "\n[{}] {} — {} (×{})\n{}\n",
                f.kind,
                f.operation,
                f.detail,
                f.count,
                f.example.chars().take(1500).collect::<String>()
            );
        }
        if !self.seed_failures.is_empty() {
            s += &format!("\nseed failures: {:#?}\n", self.seed_failures);
        }
        s
    }
}

/// Collects the codes messages carry, so inputs can also send the right one.
#[derive(Default)]
struct CodeSink {
    codes: Mutex<Vec<String>>,
}

#[async_trait]
impl Messenger for CodeSink {
    async fn send(&self, _from: Option<&str>, msg: &OutgoingMessage) -> tessera_core::Result<()> {
        if let (Some(code), Ok(mut codes)) = (&msg.code, self.codes.lock()) {
            codes.push(code.clone());
        }
        Ok(())
    }
}

/// Trigger functions, in turn: one that returns its event unchanged (Cognito's defaults), one
/// that throws, one that returns garbage, and a missing one.
#[derive(Default)]
struct Functions {
    calls: std::sync::atomic::AtomicU64,
}

#[async_trait]
impl tessera_core::ports::FunctionInvoker for Functions {
    async fn invoke(&self, function_arn: &str, payload: Vec<u8>) -> Result<Invocation, InvokeFailure> {
        match self.calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % 5 {
            0 | 1 => Ok(Invocation::Response(payload)),
            2 => Ok(Invocation::FunctionError(
                br#"{"errorMessage":"refused by the fuzzer","errorType":"Error"}"#.to_vec(),
            )),
            3 => Ok(Invocation::Response(b"[1,2".to_vec())),
            _ => Err(InvokeFailure {
                code: format!("ResourceNotFoundException: {function_arn}"),
                retryable: false,
            }),
        }
    }
}

/// Triggers that run after the operation's own write: Cognito keeps that write when the
/// function fails and still answers with the function's error (as Cognito does: docs/triggers.md).
const AFTER_COMMIT_TRIGGERS: &[&str] = &["PostConfirmation", "PostAuthentication"];

/// Operations whose only trigger is PostConfirmation, after the write: any function error they
/// answer (also "Unrecognizable lambda output", which names no trigger) came after it.
const CONFIRMING_OPERATIONS: &[&str] = &["ConfirmSignUp", "AdminConfirmSignUp", "ConfirmForgotPassword"];

const FUNCTION_ERRORS: &[&str] =
    &["UnexpectedLambdaException", "InvalidLambdaResponseException", "UserLambdaValidationException"];

fn failed_after_commit(op: &Operation, error_type: &str, resp: &WireResponse) -> bool {
    let body: Value = serde_json::from_slice(&resp.body).unwrap_or_default();
    let message = body["message"].as_str().unwrap_or_default();
    // A rotated-out refresh token presented again revokes its family, then refuses: by design.
    error_type == "RefreshTokenReuseException"
        || AFTER_COMMIT_TRIGGERS.iter().any(|t| message.starts_with(t))
        || (CONFIRMING_OPERATIONS.contains(&op.name.as_str()) && FUNCTION_ERRORS.contains(&error_type))
}

/// Push endpoints that exist only as names.
struct NamedEndpoints;

#[async_trait]
impl PushNotifier for NamedEndpoints {
    async fn create_platform_endpoint(
        &self,
        application_arn: &str,
        token: &str,
    ) -> tessera_core::Result<String> {
        Ok(format!("{application_arn}/endpoint/{}", token.len()))
    }
    async fn publish(&self, _endpoint_arn: &str, _message: &str) -> tessera_core::Result<()> {
        Ok(())
    }
}

/// A Service on a recorded store behind the wire front end, in this process.
pub struct Env {
    frontend: Arc<Frontend>,
    pub store: Arc<RecordingStore>,
    codes: Arc<CodeSink>,
    dir: PathBuf,
}

impl Drop for Env {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A name no other Env of this process uses (tests make several with the same `n` at once).
fn scratch_name(n: u64) -> String {
    static MADE: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let serial = MADE.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    format!("tessera-fuzz-{}-{n}-{serial}", std::process::id())
}

fn scratch_dir(name: &str) -> PathBuf {
    let shm = PathBuf::from("/dev/shm");
    let base = if shm.is_dir() { shm } else { std::env::temp_dir() };
    base.join(name)
}

impl Env {
    pub async fn new(cfg: &Config, n: u64) -> Result<Env, String> {
        let name = scratch_name(n);
        let dir = scratch_dir(&name);
        let inner: Arc<dyn Store> = match &cfg.dynamodb_endpoint {
            None => Arc::new(tessera_local::embedded::EmbeddedStore::open(&dir).map_err(|e| e.to_string())?),
            Some(endpoint) => {
                let client = tessera_aws::config::dynamodb_client(Some(endpoint), "us-east-1").await;
                let table = name.clone();
                tessera_aws::dynamo::create_table(&client, &table).await.map_err(|e| e.to_string())?;
                Arc::new(tessera_aws::dynamo::DynamoStore::new(client, table))
            }
        };
        let store = Arc::new(RecordingStore::new(inner));
        let codes = Arc::new(CodeSink::default());
        let key = SystemRng.bytes(32);
        let cipher = AesGcmCipher::new(&key).map_err(|e| e.to_string())?;
        // Cheap hashes: the fuzzer is after logic, not argon2's cost.
        let config =
            ServiceConfig { hash_params: HashParams { m_kib: 1024, t: 1, p: 1 }, ..Default::default() };
        let service = Arc::new(Service::new(
            store.clone(),
            codes.clone(),
            Arc::new(SystemClock),
            Arc::new(SystemRng),
            Arc::new(cipher),
            config,
        ));
        service.set_invoker(Arc::new(Functions::default()));
        service.set_credential_vendor(Arc::new(tessera_local::credentials::LocalCredentialVendor {
            clock: Arc::new(SystemClock),
            rng: Arc::new(SystemRng),
        }));
        service.set_push(Arc::new(NamedEndpoints));
        let frontend = Frontend {
            service,
            admin_keys: HashMap::from([(ADMIN_KEY.to_string(), ADMIN_SECRET.to_string())]),
            max_skew_secs: 300,
            issuer_base: Some(format!("http://{HOST}")),
            cors: Cors { allowed_origins: vec![CORS_LOOPBACK.into()] },
            throttle: Throttle::new(ThrottleSettings::parse("off")?),
        };
        Ok(Env { frontend: Arc::new(frontend), store, codes, dir })
    }

    /// Serves one request in its own task, so a panic is caught and a hang is cut off.
    /// One call as a client makes it: (status, answer). Unsigned for `authtype: none`
    /// operations, signed with the admin keys otherwise.
    pub async fn call(&self, service: ServiceKind, op_name: &str, input: &Value) -> (u16, Value) {
        let Some(op) = Model::of(service).operations.iter().find(|o| o.name == op_name) else {
            return (0, Value::Null);
        };
        match self.serve(build_request(op, input, None, !op.auth_none, false)).await {
            Ok(resp) => (resp.status, serde_json::from_slice(&resp.body).unwrap_or(Value::Null)),
            Err(e) => (0, Value::String(e)),
        }
    }

    async fn serve(&self, req: WireRequest) -> Result<WireResponse, String> {
        let frontend = self.frontend.clone();
        let mut task = tokio::spawn(async move { frontend.handle(&req, None).await });
        match tokio::time::timeout(CALL_DEADLINE, &mut task).await {
            Ok(Ok(resp)) => Ok(resp),
            Ok(Err(e)) if e.is_panic() => {
                let payload = e.into_panic();
                let msg = payload
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| payload.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "a panic without a message".into());
                Err(format!("panic: {msg}"))
            }
            Ok(Err(e)) => Err(format!("panic: task failed: {e}")),
            Err(_) => {
                task.abort();
                Err("hang".into())
            }
        }
    }
}

/// The request a client would send for `input` (`body`: raw bytes instead of the input's JSON).
pub fn build_request(
    op: &Operation,
    input: &Value,
    body: Option<Vec<u8>>,
    sign: bool,
    by_path: bool,
) -> WireRequest {
    let mut req = WireRequest { method: "POST".into(), path: "/".into(), ..Default::default() };
    req.headers.push(("host".into(), HOST.into()));
    match &op.http {
        None => {
            let model = Model::of(op.service);
            req.headers.push(("content-type".into(), "application/x-amz-json-1.1".into()));
            if by_path {
                req.path = format!("/{}/{}", op.service.signing_name(), op.name);
            } else {
                req.headers.push(("x-amz-target".into(), format!("{}.{}", model.target_prefix, op.name)));
            }
            req.body = body.unwrap_or_else(|| serde_json::to_vec(input).unwrap_or_default());
        }
        Some((method, uri)) => {
            let model = Model::of(op.service);
            let shape = op.input.as_deref().and_then(|s| model.shape(s)).cloned().unwrap_or_default();
            let mut rest = input.as_object().cloned().unwrap_or_default();
            let mut path = uri.split('?').next().unwrap_or("/").to_string();
            let mut query = vec![];
            if let Some(locations) = shape["locations"].as_object() {
                for (member, place) in locations {
                    let (Some(kind), Some(wire)) = (place[0].as_str(), place[1].as_str()) else { continue };
                    let value = rest.remove(member);
                    let text = value.as_ref().map(|v| match v {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    });
                    match kind {
                        "uri" => {
                            path = path
                                .replace(&format!("{{{wire}}}"), &percent_encode(&text.unwrap_or_default()));
                        }
                        "querystring" => {
                            if let Some(t) = text {
                                query.push(format!("{}={}", percent_encode(wire), percent_encode(&t)));
                            }
                        }
                        "header" => {
                            if let Some(t) = text {
                                let visible: String =
                                    t.chars().filter(|c| c.is_ascii_graphic() || *c == ' ').collect();
                                req.headers.push((wire.to_ascii_lowercase(), visible));
                            }
                        }
                        _ => {}
                    }
                }
            }
            req.method = method.clone();
            req.path = path;
            req.query = query.join("&");
            req.headers.push(("content-type".into(), "application/json".into()));
            req.body = match body {
                Some(b) => b,
                None if rest.is_empty() => vec![],
                None => serde_json::to_vec(&Value::Object(rest)).unwrap_or_default(),
            };
        }
    }
    if sign {
        sign_request(&mut req, op.service.signing_name());
    }
    req
}

fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Signs with the admin keys as the AWS SDKs do; a request the signer refuses goes unsigned.
fn sign_request(req: &mut WireRequest, service: &str) {
    use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
    let identity = aws_credential_types::Credentials::new(ADMIN_KEY, ADMIN_SECRET, None, None, "fuzz").into();
    let Ok(params) = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name(service)
        .time(
            std::time::UNIX_EPOCH
                + Duration::from_millis(tessera_core::ports::Clock::now_millis(&SystemClock) as u64),
        )
        .settings(SigningSettings::default())
        .build()
    else {
        return;
    };
    let url = if req.query.is_empty() {
        format!("http://{HOST}{}", req.path)
    } else {
        format!("http://{HOST}{}?{}", req.path, req.query)
    };
    let Ok(signable) = SignableRequest::new(
        &req.method,
        url,
        req.headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        SignableBody::Bytes(&req.body),
    ) else {
        return;
    };
    let Ok(out) = sign(signable, &params.into()) else { return };
    let (instructions, _) = out.into_parts();
    let added: Vec<(String, String)> =
        instructions.headers().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    req.headers.extend(added);
}

fn error_type(resp: &WireResponse) -> Option<String> {
    if let Some(h) = resp.header("x-amzn-errortype") {
        return h.split(':').next().map(str::to_string).filter(|s| !s.is_empty());
    }
    let body: Value = serde_json::from_slice(&resp.body).ok()?;
    body["__type"].as_str().and_then(|t| t.rsplit('#').next()).map(str::to_string)
}

fn describe(req: &WireRequest, resp: Option<&WireResponse>) -> String {
    let target = req.header("x-amz-target").unwrap_or_default();
    let body = String::from_utf8_lossy(&req.body);
    let mut s = format!(
        "{} {}?{} {target}\n  body: {}",
        req.method,
        req.path,
        req.query,
        body.chars().take(800).collect::<String>()
    );
    if let Some(r) = resp {
        s += &format!(
            "\n  answer {}: {}",
            r.status,
            String::from_utf8_lossy(&r.body).chars().take(400).collect::<String>()
        );
    }
    s
}

struct Fuzzer {
    env: Env,
    world: World,
    report: Report,
    trace: bool,
    /// How the current input was made (for the trace).
    mode: &'static str,
    /// The last answer's body, for seed failures.
    last_answer: String,
    /// The seeding under way gives its pool every trigger.
    seeding_triggers: bool,
    seedings: u64,
}

impl Fuzzer {
    /// Serves one request, checks the answer, learns from a success. The answer's JSON on 2xx.
    async fn exchange(&mut self, op: &Operation, input: &Value, req: WireRequest) -> Option<Value> {
        let _ = self.env.store.take();
        let served = self.env.serve(req.clone()).await;
        let changes = self.env.store.take();
        let name = &op_key(op);
        let entry = self.report.operations.entry(name.clone()).or_default();
        entry.0 += 1;
        let resp = match served {
            Ok(r) => r,
            Err(e) => {
                let kind = if e == "hang" { "hang" } else { "panic" };
                self.report.find(kind, name, e, || describe(&req, None));
                return None;
            }
        };
        *self.report.statuses.entry(resp.status).or_default() += 1;
        self.last_answer = String::from_utf8_lossy(&resp.body).chars().take(400).collect();
        if self.trace {
            eprint!("{}", if self.seeding_triggers && self.mode == "seed" { "T " } else { "" });
            eprintln!(
                "{name} {} {} {}",
                self.mode,
                resp.status,
                String::from_utf8_lossy(&resp.body).chars().take(200).collect::<String>()
            );
        }
        if let Ok(mut codes) = self.env.codes.codes.lock() {
            for code in codes.drain(..) {
                self.world.add("Code", &code);
            }
        }
        if resp.status >= 500 {
            let t = error_type(&resp).unwrap_or_default();
            self.report.find("5xx", name, format!("{} {t}", resp.status), || describe(&req, Some(&resp)));
        }
        if resp.status < 300 {
            entry_success(&mut self.report, name);
            let out: Value = serde_json::from_slice(&resp.body).unwrap_or(Value::Null);
            self.world.harvest(&out);
            if let Value::Object(m) = input {
                for (k, v) in m {
                    if let Value::String(s) = v {
                        if !k.contains("Password") {
                            self.world.add(k, s);
                        }
                    }
                }
            }
            return Some(out);
        }
        match error_type(&resp) {
            None => self
                .report
                .find("untyped error", name, resp.status.to_string(), || describe(&req, Some(&resp))),
            Some(t) => {
                *self.report.error_types.entry(t.clone()).or_default() += 1;
                if t == "UnsupportedOperationException"
                    && self.last_answer.contains("is not implemented by this version")
                {
                    self.report.unsupported.insert(name.clone());
                }
                if !op.errors.contains(&t) && !PROTOCOL_ERRORS.contains(&t.as_str()) {
                    self.report.find("undeclared error", name, t.clone(), || describe(&req, Some(&resp)));
                }
                let committed = failed_after_commit(op, &t, &resp);
                for c in changes.iter().filter(|c| !committed && !is_attempt_bookkeeping(c)) {
                    let family: String = c.pk.split(['#', ':']).next().unwrap_or_default().to_string();
                    let what = if c.after.is_none() {
                        "delete"
                    } else if c.before.is_none() {
                        "create"
                    } else {
                        "update"
                    };
                    self.report.find(
                        "partial write",
                        name,
                        format!("{t}: {what} {family}/{}", c.sk.split('#').next().unwrap_or_default()),
                        || {
                            format!(
                                "{}\n  write: {} {} changed {:?}",
                                describe(&req, Some(&resp)),
                                c.pk,
                                c.sk,
                                crate::recording::differences(c.before.as_ref(), c.after.as_ref())
                            )
                        },
                    );
                }
            }
        }
        None
    }

    /// A known-good world: a pool with a client, a confirmed and an unconfirmed user, tokens, a
    /// group, an identity pool with an identity, a Sync dataset.
    async fn seed(&mut self) {
        self.seedings += 1;
        // Every third seeding makes a pool whose every trigger is a fuzzer function.
        self.seeding_triggers = self.seedings.is_multiple_of(3);
        self.mode = "seed";
        let w = |f: &Self, name: &str| f.world.latest(name).unwrap_or_default().to_string();
        let function = "arn:aws:lambda:us-east-1:000000000000:function:fuzz";
        let triggers = if self.seeding_triggers {
            json!({
                "PreSignUp": function, "CustomMessage": function, "PostConfirmation": function,
                "PreAuthentication": function, "PostAuthentication": function,
                "DefineAuthChallenge": function, "CreateAuthChallenge": function,
                "VerifyAuthChallengeResponse": function, "PreTokenGeneration": function,
                "UserMigration": function
            })
        } else {
            json!({})
        };
        self.seed_call(
            ServiceKind::UserPools,
            "CreateUserPool",
            json!({
                "PoolName": "fuzz", "AutoVerifiedAttributes": ["email"], "LambdaConfig": triggers,
                "Schema": [{"Name": "tier", "AttributeDataType": "String", "Mutable": true}]
            }),
        )
        .await;
        let pool = w(self, "UserPoolId");
        self.seed_call(ServiceKind::UserPools, "CreateUserPoolClient", json!({
            "UserPoolId": pool, "ClientName": "web", "PreventUserExistenceErrors": "ENABLED",
            "ExplicitAuthFlows": ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH",
                                  "ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_CUSTOM_AUTH"]
        })).await;
        let client = w(self, "ClientId");
        self.seed_call(ServiceKind::UserPools, "AdminCreateUser", json!({
            "UserPoolId": pool, "Username": "alice", "TemporaryPassword": PASSWORD, "MessageAction": "SUPPRESS",
            "UserAttributes": [{"Name": "email", "Value": "alice@example.com"}, {"Name": "email_verified", "Value": "true"}]
        })).await;
        self.seed_call(
            ServiceKind::UserPools,
            "AdminSetUserPassword",
            json!({
                "UserPoolId": pool, "Username": "alice", "Password": PASSWORD, "Permanent": true
            }),
        )
        .await;
        self.seed_call(
            ServiceKind::UserPools,
            "SignUp",
            json!({
                "ClientId": client, "Username": "bob", "Password": PASSWORD,
                "UserAttributes": [{"Name": "email", "Value": "bob@example.com"}]
            }),
        )
        .await;
        self.seed_call(
            ServiceKind::UserPools,
            "InitiateAuth",
            json!({
                "ClientId": client, "AuthFlow": "USER_PASSWORD_AUTH",
                "AuthParameters": {"USERNAME": "alice", "PASSWORD": PASSWORD}
            }),
        )
        .await;
        let id_token = w(self, "IdToken");
        self.seed_call(
            ServiceKind::UserPools,
            "CreateGroup",
            json!({"UserPoolId": pool, "GroupName": "admins"}),
        )
        .await;
        self.seed_call(
            ServiceKind::UserPools,
            "AdminAddUserToGroup",
            json!({
                "UserPoolId": pool, "GroupName": "admins", "Username": "alice"
            }),
        )
        .await;
        let provider = format!("{HOST}/{pool}");
        self.seed_call(ServiceKind::Identity, "CreateIdentityPool", json!({
            "IdentityPoolName": "fuzz", "AllowUnauthenticatedIdentities": true, "DeveloperProviderName": "login.fuzz",
            "CognitoIdentityProviders": [{"ProviderName": provider, "ClientId": client}]
        })).await;
        let identity_pool = w(self, "IdentityPoolId");
        self.seed_call(
            ServiceKind::Identity,
            "GetId",
            json!({
                "IdentityPoolId": identity_pool, "Logins": {provider.clone(): id_token}
            }),
        )
        .await;
        let identity = w(self, "IdentityId");
        self.seed_call(
            ServiceKind::Sync,
            "ListRecords",
            json!({
                "IdentityPoolId": identity_pool, "IdentityId": identity, "DatasetName": "settings"
            }),
        )
        .await;
        let session = w(self, "SyncSessionToken");
        self.seed_call(
            ServiceKind::Sync,
            "UpdateRecords",
            json!({
                "IdentityPoolId": identity_pool, "IdentityId": identity, "DatasetName": "settings",
                "SyncSessionToken": session,
                "RecordPatches": [{"Op": "replace", "Key": "theme", "Value": "dark", "SyncCount": 0}]
            }),
        )
        .await;
    }

    async fn seed_call(&mut self, service: ServiceKind, op_name: &str, input: Value) {
        self.report.seed_calls += 1;
        let Some(op) = Model::of(service).operations.iter().find(|o| o.name == op_name) else {
            self.report.seed_failures.push(format!("{op_name}: not in the model"));
            return;
        };
        let req = build_request(op, &input, None, !op.auth_none, false);
        // Through the same checks as every input; a pool with triggers may refuse (its
        // functions fail on purpose), a plain pool must not.
        if self.exchange(op, &input, req.clone()).await.is_none() && !self.seeding_triggers {
            self.report.seed_failures.push(format!(
                "{op_name} failed: {}\n  answer: {}",
                describe(&req, None),
                self.last_answer
            ));
        }
    }
}

/// An operation's name in reports: user-pool operations by name, the others with their
/// service (both identity services have TagResource, for one).
pub fn op_key(op: &Operation) -> String {
    match op.service {
        ServiceKind::UserPools => op.name.clone(),
        other => format!("{}:{}", other.signing_name(), op.name),
    }
}

fn entry_success(report: &mut Report, name: &str) {
    report.operations.entry(name.to_string()).or_default().1 += 1;
}

/// Runs `cfg.inputs` generated inputs and reports what they found.
pub async fn run(cfg: &Config) -> Result<Report, String> {
    let started = Instant::now();
    let mut rng = Rng::new(cfg.seed);
    let operations = Model::operations();
    let episode = cfg.episode.max(1);
    let mut fuzzer: Option<Fuzzer> = None;
    let mut report = Report::default();
    for i in 0..cfg.inputs {
        if i % episode == 0 {
            let carried = fuzzer.take().map(|f| f.report).unwrap_or_default();
            let env = Env::new(cfg, i / episode).await?;
            let mut f = Fuzzer {
                env,
                world: World::default(),
                report: carried,
                trace: cfg.trace,
                mode: "seed",
                last_answer: String::new(),
                seeding_triggers: false,
                seedings: 0,
            };
            f.seed().await;
            fuzzer = Some(f);
        }
        let Some(f) = fuzzer.as_mut() else { break };
        if i % episode != 0 && i % RESEED_EVERY == 0 {
            f.seed().await;
        }
        let Some(op) = rng.pick(&operations).copied() else { break };
        let model = Model::of(op.service);
        let mut input = Gen { rng: &mut rng, world: &f.world, model }.input(op);
        let mut body = None;
        f.mode = match rng.below(100) {
            0..40 => "valid",
            40..85 => {
                for _ in 0..=rng.below(3) {
                    mutate(&mut rng, &mut input);
                }
                "mutated"
            }
            _ => {
                let mut bytes = serde_json::to_vec(&input).unwrap_or_default();
                mutate_bytes(&mut rng, &mut bytes);
                body = Some(bytes);
                "bytes"
            }
        };
        // Unsigned admin calls and signed public ones now and then.
        let sign = (!op.auth_none) ^ rng.chance(3);
        let by_path = rng.chance(5);
        let req = build_request(op, &input, body, sign, by_path);
        f.exchange(op, &input, req).await;
        f.report.inputs += 1;
        if cfg.progress_every > 0 && f.report.inputs % cfg.progress_every == 0 {
            eprintln!(
                "{} inputs, {:.0} s, findings {}",
                f.report.inputs,
                started.elapsed().as_secs_f64(),
                f.report.findings.values().map(|x| x.count).sum::<u64>()
            );
        }
    }
    if let Some(f) = fuzzer.take() {
        report = f.report;
    }
    report.elapsed = started.elapsed();
    Ok(report)
}
