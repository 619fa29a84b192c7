//! The Lambda entry point: every function binary is `serve_operation(<its Operation>)`, the
//! [`Operation`] tools/gen-functions.py writes for it in `functions/src/lib.rs`: the bound
//! operation, its domain function named directly, and the AWS clients its flags ask for. So a
//! binary reaches its own operation and clients only, not the table of every operation
//! (`tessera_wire::dispatch`) and every SDK. `main` builds the clients once (here), then hands
//! one handler to the runtime.

use crate::dynamo::DynamoStore;
use crate::BoxError;
use lambda_http::{service_fn, Body, Request, Response};
/// What the generated `functions/src/lib.rs` names.
pub use serde_json::Value;
use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use subtle::ConstantTimeEq;
use tessera_core::ports::{
    CredentialVendor, FunctionInvoker, Imports, Messenger, OutgoingMessage, PushNotifier, SystemClock,
    SystemRng,
};
pub use tessera_core::{CallContext, Service};
use tessera_core::{Limits, ServiceConfig};
use tessera_wire::http::{Cors, Frontend, WireRequest, WireResponse};
pub use tessera_wire::http::{OperationFn, OperationFuture};

/// What one function binary serves (generated from functions/operations.txt).
#[derive(Clone, Copy)]
pub struct Operation {
    /// As [`Frontend::handle`] takes it: `"SignUp"` for a user-pool operation,
    /// `"cognito-identity:GetId"` or `"cognito-sync:ListRecords"` for the others.
    pub bound: &'static str,
    /// The operation's domain function (`tessera_core::user_pool::…`, `identity::…`, `sync::…`).
    pub call: OperationFn,
    pub clients: Clients,
}

/// The constructor of an optional client, named only by the functions whose flag needs it.
pub type MessagesFn = fn(&aws_config::SdkConfig, &str) -> Arc<dyn Messenger>;
pub type TriggersFn = fn(&aws_config::SdkConfig, Option<&str>) -> Arc<dyn FunctionInvoker>;
pub type CredentialsFn = fn(&aws_config::SdkConfig, Option<&str>) -> Arc<dyn CredentialVendor>;
pub type PushFn = fn(&aws_config::SdkConfig, Option<&str>) -> Arc<dyn PushNotifier>;
pub type ImportsFn = fn(&aws_config::SdkConfig, String, String) -> Imports;
pub type WebFn = fn() -> Option<Arc<dyn tessera_core::ports::WebClient>>;

/// The AWS clients a function builds besides DynamoDB, KMS and Secrets Manager (which every
/// function uses), one per flag of functions/operations.txt. A binary names a constructor only
/// when its flag is set, so the linker drops the clients (and SDKs) it does not name. Without
/// one the domain answers as it does where the port is missing (and as the function's IAM role,
/// which the same flags shape, would refuse the call anyway).
#[derive(Clone, Copy, Default)]
pub struct Clients {
    /// `sends`: email through SES, SMS through SNS.
    pub messages: Option<MessagesFn>,
    /// `triggers`: the pools' Lambda triggers, through Lambda Invoke.
    pub triggers: Option<TriggersFn>,
    /// `credentials`: GetCredentialsForIdentity's STS AssumeRoleWithWebIdentity.
    pub credentials: Option<CredentialsFn>,
    /// `push`: Sync's platform endpoints and pushes, through SNS.
    pub push: Option<PushFn>,
    /// `imports`: the import bucket (S3) and the import worker (Lambda).
    pub imports: Option<ImportsFn>,
    /// `web`: HTTPS to identity providers (discovery, JWKS, token, userinfo).
    pub web: Option<WebFn>,
}

impl Clients {
    pub const NONE: Clients =
        Clients { messages: None, triggers: None, credentials: None, push: None, imports: None, web: None };
    /// Every client (tests; a deployed function gets only its flags' clients).
    pub const ALL: Clients = Clients {
        messages: Some(clients::messages),
        triggers: Some(clients::triggers),
        credentials: Some(clients::credentials),
        push: Some(clients::push),
        imports: Some(clients::imports),
        web: Some(clients::web),
    };
}

/// The constructors [`Clients`] names.
pub mod clients {
    use super::*;
    use crate::import::{LambdaImportRunner, S3ImportFiles, TracingImportLog};

    /// SES for email, SNS for SMS; `default_from` is the sender of pools that set none.
    pub fn messages(sdk: &aws_config::SdkConfig, default_from: &str) -> Arc<dyn Messenger> {
        Arc::new(crate::messaging::AwsMessenger::new(
            aws_sdk_ses::Client::new(sdk),
            aws_sdk_sns::Client::new(sdk),
            default_from,
        ))
    }

    /// Lambda Invoke at `endpoint` (tests, emulators) or in the function's region.
    pub fn triggers(sdk: &aws_config::SdkConfig, endpoint: Option<&str>) -> Arc<dyn FunctionInvoker> {
        Arc::new(crate::triggers::LambdaInvoker::from_sdk_config(sdk, endpoint))
    }

    /// STS at `endpoint` (tests, emulators) or in the function's region.
    pub fn credentials(sdk: &aws_config::SdkConfig, endpoint: Option<&str>) -> Arc<dyn CredentialVendor> {
        Arc::new(crate::sts::StsVendor::from_sdk_config(sdk, endpoint))
    }

    /// SNS at `endpoint` (tests, emulators) or in the function's region.
    pub fn push(sdk: &aws_config::SdkConfig, endpoint: Option<&str>) -> Arc<dyn PushNotifier> {
        Arc::new(crate::push::SnsPushNotifier::from_sdk_config(sdk, endpoint))
    }

    /// HTTPS to other servers, 10 s per call (None when the system has no root certificates).
    pub fn web() -> Option<Arc<dyn tessera_core::ports::WebClient>> {
        match crate::web::HttpsClient::new(std::time::Duration::from_secs(10)) {
            Ok(client) => Some(Arc::new(client)),
            Err(e) => {
                tracing::error!(error = %e, "no outbound HTTPS client");
                None
            }
        }
    }

    /// The import bucket and the import worker function.
    pub fn imports(sdk: &aws_config::SdkConfig, bucket: String, worker: String) -> Imports {
        Imports {
            files: Arc::new(S3ImportFiles { client: aws_sdk_s3::Client::new(sdk), bucket }),
            runner: Arc::new(LambdaImportRunner {
                client: aws_sdk_lambda::Client::new(sdk),
                function: worker,
            }),
            log: Arc::new(TracingImportLog),
        }
    }
}

/// The messenger of a function without the `sends` flag: its role may not send, so a message
/// would fail at SES or SNS; it fails here, as delivery failures do.
struct NoMessenger;

#[async_trait::async_trait]
impl Messenger for NoMessenger {
    async fn send(&self, _from: Option<&str>, msg: &OutgoingMessage) -> tessera_core::Result<()> {
        tracing::error!(pool_id = %msg.pool_id, "this function has no `sends` flag: message not sent");
        Err(tessera_core::Error::CodeDeliveryFailureException(
            "Unable to deliver the message: this function does not send messages.".into(),
        ))
    }
}

fn env_opt(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// Quotas from `TESSERA_MAX_GROUPS_PER_POOL`, `TESSERA_MAX_GROUPS_PER_USER`,
/// `TESSERA_MAX_CUSTOM_ATTRIBUTES`, the `TESSERA_MAX_SYNC_*` and `TESSERA_CODE_*` variables
/// when set.
/// The user pools' domains this deployment serves: `TESSERA_AUTH_DOMAIN_BASE` (the stack's
/// `AuthDomainBase`; empty: none), the custom domains of `TESSERA_CUSTOM_DOMAINS`, each served
/// with `TESSERA_AUTH_DOMAIN_CERTIFICATE_ARN`. A custom domain's DNS points at the base name.
pub fn auth_domains_from(lookup: impl Fn(&str) -> Option<String>) -> tessera_core::AuthDomains {
    let base = lookup("TESSERA_AUTH_DOMAIN_BASE").unwrap_or_default().trim().to_ascii_lowercase();
    let certificate = lookup("TESSERA_AUTH_DOMAIN_CERTIFICATE_ARN").unwrap_or_default();
    let custom = lookup("TESSERA_CUSTOM_DOMAINS")
        .unwrap_or_default()
        .split(',')
        .map(|d| d.trim().to_ascii_lowercase())
        .filter(|d| !d.is_empty())
        .map(|d| (d, certificate.clone()))
        .collect();
    tessera_core::AuthDomains {
        prefix_base: base.clone(),
        custom_domains: Some(custom),
        alias_target: base,
        port: None,
        path_scoped_urls: false,
        // Behind CloudFront: always HTTPS.
        https: true,
    }
}

fn limits_from(lookup: impl Fn(&str) -> Option<String>) -> Limits {
    let default = Limits::default();
    let read = |name: &str, fallback: u64| lookup(name).and_then(|v| v.parse().ok()).unwrap_or(fallback);
    Limits {
        groups_per_pool: read("TESSERA_MAX_GROUPS_PER_POOL", default.groups_per_pool),
        groups_per_user: read("TESSERA_MAX_GROUPS_PER_USER", default.groups_per_user),
        custom_attributes_per_pool: read("TESSERA_MAX_CUSTOM_ATTRIBUTES", default.custom_attributes_per_pool),
        sync_datasets_per_identity: read("TESSERA_MAX_SYNC_DATASETS", default.sync_datasets_per_identity),
        sync_records_per_dataset: read("TESSERA_MAX_SYNC_RECORDS", default.sync_records_per_dataset),
        sync_dataset_bytes: read("TESSERA_MAX_SYNC_DATASET_BYTES", default.sync_dataset_bytes),
        code_free_failures: read("TESSERA_CODE_FREE_FAILURES", default.code_free_failures),
        code_lockout_max_secs: read("TESSERA_CODE_LOCKOUT_MAX_SECS", default.code_lockout_max_secs),
        code_sends_per_window: read("TESSERA_CODE_SENDS_PER_WINDOW", default.code_sends_per_window),
        code_send_window_secs: read("TESSERA_CODE_SEND_WINDOW_SECS", default.code_send_window_secs),
    }
}

/// Stands in for the master key where a function needs none (the public `.well-known`
/// documents): any attempt to seal or open fails loudly instead of creating a key.
struct NoMasterKey;

impl tessera_core::ports::SecretCipher for NoMasterKey {
    fn seal(&self, _: &str, _: &[u8]) -> tessera_core::Result<Vec<u8>> {
        Err(tessera_core::Error::internal("this function has no access to the master key"))
    }
    fn open(&self, _: &str, _: &[u8]) -> tessera_core::Result<Vec<u8>> {
        Err(tessera_core::Error::internal("this function has no access to the master key"))
    }
    fn keyed_hash(&self, _: &str, _: &[u8]) -> tessera_core::Result<[u8; 32]> {
        Err(tessera_core::Error::internal("this function has no access to the master key"))
    }
}

/// The header the front door (CloudFront, an origin custom header) adds to every request it
/// sends to the HTTP API. The API's own `execute-api` endpoint is public; this value, known only
/// to CloudFront and the functions, is what tells a request that came through the front door
/// (with its routing, its overwritten `x-tessera-original-*` headers) from one sent around it.
pub const ORIGIN_SECRET_HEADER: &str = "x-tessera-origin-secret";

/// How long a function may read a whole pool in one request (`ServiceConfig::whole_pool_read_budget_ms`):
/// the template's functions time out after 10 s.
pub const WHOLE_POOL_READ_BUDGET_MS: u64 = 7_000;

/// The shortest origin secret a function accepts (the template generates 64 characters).
pub const MIN_ORIGIN_SECRET_LEN: usize = 32;

/// Admits only requests that carry the front door's origin secret.
pub struct OriginGuard {
    secret: Vec<u8>,
}

impl OriginGuard {
    /// Refuses a secret shorter than [`MIN_ORIGIN_SECRET_LEN`] (guessable, or a placeholder).
    pub fn new(secret: &str) -> Result<Self, BoxError> {
        if secret.len() < MIN_ORIGIN_SECRET_LEN {
            return Err(format!(
                "the origin secret is {} characters, fewer than {MIN_ORIGIN_SECRET_LEN}",
                secret.len()
            )
            .into());
        }
        Ok(OriginGuard { secret: secret.as_bytes().to_vec() })
    }

    /// True when `headers` carry the secret exactly once. The comparison takes the same time
    /// whatever the bytes, so a refusal's timing tells nothing about the value.
    pub fn admits(&self, headers: &lambda_http::http::HeaderMap) -> bool {
        let mut values = headers.get_all(ORIGIN_SECRET_HEADER).iter();
        match (values.next(), values.next()) {
            (Some(value), None) => bool::from(value.as_bytes().ct_eq(&self.secret)),
            _ => false,
        }
    }
}

impl std::fmt::Debug for OriginGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OriginGuard(..)")
    }
}

/// A function served through the HTTP API: the shared front end, behind the origin check.
pub struct HttpFunction {
    pub frontend: Frontend,
    pub origin: OriginGuard,
}

/// The token issuer base, `TESSERA_ISSUER_BASE` (the stack's required `IssuerBase`). A deployed
/// function never derives it from Host, X-Forwarded-Host or x-tessera-original-host: whoever
/// calls chooses those, and the issuer is what verifiers and IAM's OIDC provider trust.
pub fn issuer_base_from(lookup: impl Fn(&str) -> Option<String>) -> Result<String, BoxError> {
    let Some(base) = lookup("TESSERA_ISSUER_BASE").filter(|v| !v.is_empty()) else {
        return Err(
            "TESSERA_ISSUER_BASE is not set: a deployed function takes the token issuer from the \
                    stack's IssuerBase parameter (e.g. https://auth.example.com), never from request headers"
                .into(),
        );
    };
    let host = base.strip_prefix("https://").map(|rest| rest.split('/').next().unwrap_or_default());
    let malformed = host.is_none_or(str::is_empty)
        || base.ends_with('/')
        || base.contains(['?', '#', '@'])
        || base.chars().any(|c| c.is_whitespace() || c.is_control());
    if malformed {
        return Err(format!(
            "TESSERA_ISSUER_BASE {base:?} is not an https URL without query, fragment or trailing slash"
        )
        .into());
    }
    Ok(base)
}

/// The admin key pair from the `AdminCredentials` secret's JSON,
/// `{"accessKeyId": "...", "secretAccessKey": "..."}`. Errors never quote the value.
pub fn admin_keys_from(secret_json: &str) -> Result<HashMap<String, String>, BoxError> {
    let value: serde_json::Value = serde_json::from_str(secret_json)
        .map_err(|_| "the admin secret is not JSON {\"accessKeyId\", \"secretAccessKey\"}")?;
    let field = |name: &str| {
        value.get(name).and_then(serde_json::Value::as_str).filter(|v| !v.is_empty()).map(str::to_string)
    };
    match (field("accessKeyId"), field("secretAccessKey")) {
        (Some(id), Some(secret)) => Ok([(id, secret)].into()),
        _ => Err("the admin secret lacks accessKeyId or secretAccessKey".into()),
    }
}

/// A secret's `SecretString`, read once (at cold start).
async fn secret_string(client: &aws_sdk_secretsmanager::Client, arn: &str) -> Result<String, BoxError> {
    let out = client.get_secret_value().secret_id(arn).send().await.map_err(|e| {
        format!(
            "Secrets Manager GetSecretValue {arn}: {}",
            aws_sdk_secretsmanager::error::DisplayErrorContext(&e)
        )
    })?;
    out.secret_string().map(str::to_string).ok_or_else(|| format!("secret {arn} has no SecretString").into())
}

/// Builds the front end from the function's environment (set by template.yaml).
pub async fn frontend_from_env(needs_master_key: bool, clients: Clients) -> Result<Frontend, BoxError> {
    let sdk = crate::config::function_sdk_config()?;
    frontend_from(&sdk, env_opt, needs_master_key, clients).await
}

/// As [`frontend_from_env`], behind the front door's origin check (`TESSERA_ORIGIN_SECRET_ARN`).
pub async fn http_function_from_env(
    needs_master_key: bool,
    clients: Clients,
) -> Result<HttpFunction, BoxError> {
    let sdk = crate::config::function_sdk_config()?;
    http_function_from(&sdk, env_opt, needs_master_key, clients).await
}

/// A function's cold start: the front end from `sdk` and the settings `lookup` gives (the
/// environment, in a deployment), with the origin secret read from Secrets Manager.
pub async fn http_function_from(
    sdk: &aws_config::SdkConfig,
    lookup: impl Fn(&str) -> Option<String>,
    needs_master_key: bool,
    clients: Clients,
) -> Result<HttpFunction, BoxError> {
    let lookup = |name: &str| lookup(name).filter(|v| !v.is_empty());
    let arn = lookup("TESSERA_ORIGIN_SECRET_ARN").ok_or(
        "TESSERA_ORIGIN_SECRET_ARN is not set: a function behind the front door needs its origin secret",
    )?;
    let secrets = aws_sdk_secretsmanager::Client::new(sdk);
    let (origin, frontend) = tokio::try_join!(
        secret_string(&secrets, &arn),
        frontend_from(sdk, lookup, needs_master_key, clients)
    )?;
    let origin = OriginGuard::new(&origin).map_err(|e| format!("{arn}: {e}"))?;
    Ok(HttpFunction { frontend, origin })
}

/// The front end from `sdk` and `lookup` (see [`http_function_from`]). The admin keys come from
/// the secret `TESSERA_ADMIN_SECRET_ARN` names, which only the admin (SigV4) functions get; never
/// from the environment itself. `clients` are the optional clients the function builds.
pub async fn frontend_from(
    sdk: &aws_config::SdkConfig,
    lookup: impl Fn(&str) -> Option<String>,
    needs_master_key: bool,
    clients: Clients,
) -> Result<Frontend, BoxError> {
    let env_opt = |name: &str| lookup(name).filter(|v| !v.is_empty());
    let env = |name: &str| env_opt(name).ok_or_else(|| format!("missing environment variable {name}"));
    let issuer_base = issuer_base_from(env_opt)?;
    for old in ["TESSERA_ADMIN_ACCESS_KEY_ID", "TESSERA_ADMIN_SECRET_ACCESS_KEY"] {
        if env_opt(old).is_some() {
            return Err(format!(
                "{old} is set: the admin keys are read from Secrets Manager (TESSERA_ADMIN_SECRET_ARN), \
                 never from the environment; remove it"
            )
            .into());
        }
    }
    let table = env("TESSERA_TABLE")?;
    let store = Arc::new(DynamoStore::new(aws_sdk_dynamodb::Client::new(sdk), table));
    let kms = aws_sdk_kms::Client::new(sdk);
    let clock = SystemClock;
    // Only the admin functions get the secret's ARN; without it every signed call is refused.
    let admin_keys = match env_opt("TESSERA_ADMIN_SECRET_ARN") {
        Some(arn) => {
            let json = secret_string(&aws_sdk_secretsmanager::Client::new(sdk), &arn).await?;
            admin_keys_from(&json).map_err(|e| format!("{arn}: {e}"))?
        }
        None => HashMap::new(),
    };
    let cipher: Arc<dyn tessera_core::ports::SecretCipher> = if needs_master_key {
        // Every data key the table lists: the sealing one, the previous ones still opening what
        // is not re-sealed yet, and a staged one (docs/keys.md).
        let keys = crate::kms::load_data_keys(
            &kms,
            store.as_ref(),
            &env("TESSERA_KMS_KEY_ID")?,
            tessera_core::ports::Clock::now_secs(&clock),
        )
        .await
        .map_err(|e| format!("master key: {e}"))?;
        Arc::new(keys.cipher().map_err(|e| e.to_string())?)
    } else {
        Arc::new(NoMasterKey)
    };
    let from = env_opt("TESSERA_SES_FROM");
    let messenger = match clients.messages {
        Some(messages) => messages(sdk, from.as_deref().unwrap_or_default()),
        None => Arc::new(NoMessenger),
    };
    // A malformed account id would put broken ARNs in every answer: refuse to start instead.
    let account_id = env_opt("TESSERA_ACCOUNT_ID").unwrap_or_else(|| "000000000000".into());
    if !tessera_core::ids::is_account_id(&account_id) {
        return Err(format!("TESSERA_ACCOUNT_ID must be 12 digits, not {account_id:?}").into());
    }
    let config = ServiceConfig {
        region: sdk.region().map(|r| r.to_string()).unwrap_or_else(|| "us-east-1".into()),
        account_id,
        default_email_from: from,
        limits: limits_from(env_opt),
        sign_out_on_password_reset: env_opt("TESSERA_SIGN_OUT_ON_PASSWORD_RESET").as_deref() == Some("true"),
        auth_domains: auth_domains_from(env_opt),
        client_credentials_reuse_ms: env_opt("TESSERA_CLIENT_CREDENTIALS_REUSE_MS")
            .and_then(|v| v.parse().ok())
            .unwrap_or(ServiceConfig::default().client_credentials_reuse_ms),
        whole_pool_read_budget_ms: Some(WHOLE_POOL_READ_BUDGET_MS),
        ..ServiceConfig::default()
    };
    let service = Service::new(store, messenger, Arc::new(clock), Arc::new(SystemRng), cipher, config);
    if let Some(web) = clients.web.and_then(|web| web()) {
        service.set_web_client(web);
    }
    // The pools' triggers; TESSERA_LAMBDA_ENDPOINT only for tests and emulators.
    if let Some(triggers) = clients.triggers {
        service.set_invoker(triggers(sdk, env_opt("TESSERA_LAMBDA_ENDPOINT").as_deref()));
    }
    // Identity pools: GetCredentialsForIdentity calls STS AssumeRoleWithWebIdentity at
    // TESSERA_STS_ENDPOINT when set (tests, emulators), else AWS STS in the function's region.
    if let Some(credentials) = clients.credentials {
        service.set_credential_vendor(credentials(sdk, env_opt("TESSERA_STS_ENDPOINT").as_deref()));
    }
    // Sync: RegisterDevice's platform endpoints and UpdateRecords' pushes go to SNS at
    // TESSERA_SNS_ENDPOINT when set (tests, emulators), else AWS SNS in the function's region.
    if let Some(push) = clients.push {
        let endpoint = env_opt("TESSERA_SNS_ENDPOINT");
        service.set_push(push(sdk, endpoint.as_deref()));
    }
    // Only the import functions get the bucket and the worker's name (operations.txt `imports`).
    if let (Some(imports), Some(bucket), Some(worker)) =
        (clients.imports, env_opt("TESSERA_IMPORT_BUCKET"), env_opt("TESSERA_IMPORT_WORKER"))
    {
        service.set_imports(imports(sdk, bucket, worker));
    }
    Ok(Frontend {
        service: Arc::new(service),
        admin_keys,
        max_skew_secs: env_opt("TESSERA_MAX_SKEW_SECS").and_then(|s| s.parse().ok()).unwrap_or(300),
        issuer_base: Some(issuer_base),
        cors: Cors {
            allowed_origins: env_opt("TESSERA_CORS_ORIGINS")
                .map(|s| s.split(',').map(str::to_string).collect())
                .unwrap_or_default(),
        },
        throttle: tessera_wire::throttle::Throttle::new(throttle_from_env()?),
    })
}

/// `TESSERA_THROTTLE` (`off`, or `Category=rate[:burst],…`): in a function, a backstop per
/// instance; API Gateway's route throttling (template.yaml) is the deployment's limit.
fn throttle_from_env() -> Result<tessera_wire::throttle::ThrottleSettings, BoxError> {
    let spec = env_opt("TESSERA_THROTTLE").unwrap_or_default();
    Ok(tessera_wire::throttle::ThrottleSettings::parse(&spec)?)
}

/// RUST_LOG (default info), with the AWS SDK's request tracing held at info whatever it says:
/// at trace level the SDK prints request bodies, and a UserMigration event holds a password.
pub fn log_filter() -> tracing_subscriber::EnvFilter {
    let mut filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    for quiet in ["aws_smithy_runtime=info", "aws_smithy_runtime_api=info", "aws_smithy_http_client=info"] {
        if let Ok(directive) = quiet.parse() {
            filter = filter.add_directive(directive);
        }
    }
    filter
}

fn init_tracing() {
    let _ =
        tracing_subscriber::fmt().with_env_filter(log_filter()).without_time().with_ansi(false).try_init();
}

/// Serves one Cognito operation behind API Gateway (HTTP API, payload 2.0); a request naming
/// any other operation is refused.
/// The `main` of a function binary: a non-async call, so that the binary instantiates nothing.
/// rustc shares no generic code between crates in a release build, so an `async fn main` in each
/// binary would compile its operation's whole async call graph again (12-25 s per binary, 118
/// times); built here, it is compiled once (docs/deploy.md, "Build").
pub fn serve_operation(operation: Operation) -> Result<(), BoxError> {
    block_on(run_operation(operation))
}

/// [`run_well_known`] for a binary's `main` (see [`serve_operation`]).
pub fn serve_well_known(clients: Clients) -> Result<(), BoxError> {
    block_on(run_well_known(clients))
}

/// [`run_auth_domain`] for a binary's `main` (see [`serve_operation`]).
pub fn serve_auth_domain(clients: Clients) -> Result<(), BoxError> {
    block_on(run_auth_domain(clients))
}

/// [`run_import_worker`] for a binary's `main` (see [`serve_operation`]).
pub fn serve_import_worker(clients: Clients) -> Result<(), BoxError> {
    block_on(run_import_worker(clients))
}

/// The runtime `#[tokio::main]` builds.
fn block_on(main: impl Future<Output = Result<(), BoxError>>) -> Result<(), BoxError> {
    tokio::runtime::Builder::new_multi_thread().enable_all().build()?.block_on(main)
}

pub async fn run_operation(operation: Operation) -> Result<(), BoxError> {
    init_tracing();
    let function = cold_start(http_function_from_env(true, operation.clients).await)?;
    let function = &function;
    lambda_http::run(service_fn(move |req: Request| async move {
        Ok::<_, BoxError>(handle_operation(function, &operation, req).await)
    }))
    .await
}

/// Serves `GET /{poolId}/.well-known/{jwks.json,openid-configuration}` and the identity pools'
/// issuer's `GET /cognito-identity/.well-known/{jwks.json,openid-configuration}`. It has no
/// master key (its role is `readonly`): both serve public keys only.
pub async fn run_well_known(clients: Clients) -> Result<(), BoxError> {
    init_tracing();
    let function = cold_start(http_function_from_env(false, clients).await)?;
    let function = &function;
    lambda_http::run(service_fn(move |req: Request| async move {
        Ok::<_, BoxError>(handle_documents(function, req).await)
    }))
    .await
}

/// Serves the user pools' auth domains (the OAuth 2.0 endpoints and hosted pages) on the
/// routes the binary is given; it signs tokens, so it opens the master key.
pub async fn run_auth_domain(clients: Clients) -> Result<(), BoxError> {
    init_tracing();
    let function = cold_start(http_function_from_env(true, clients).await)?;
    let function = &function;
    lambda_http::run(service_fn(move |req: Request| async move {
        Ok::<_, BoxError>(handle_auth_domain(function, req).await)
    }))
    .await
}

/// The import worker: invoked asynchronously with `{"poolId", "jobId"}` by StartUserImportJob
/// (and by itself). It runs the job until a minute before its own timeout, then invokes itself
/// again to go on from the saved offset, so a job of any size fits Lambda's 15-minute limit.
pub async fn run_import_worker(clients: Clients) -> Result<(), BoxError> {
    use lambda_http::lambda_runtime::{self, LambdaEvent};
    init_tracing();
    let frontend = cold_start(frontend_from_env(true, clients).await)?;
    let svc = frontend.service.clone();
    let svc = &svc;
    lambda_runtime::run(lambda_runtime::service_fn(move |event: LambdaEvent<serde_json::Value>| async move {
        let deadline_ms = i64::try_from(event.context.deadline).unwrap_or(i64::MAX);
        import_event(svc, &event.payload, deadline_ms).await
    }))
    .await
}

/// One import-worker invocation: runs the job named by `{"poolId", "jobId"}` until a minute
/// before `deadline_ms`, then hands it on to a fresh invocation.
pub async fn import_event(
    svc: &Service,
    payload: &serde_json::Value,
    deadline_ms: i64,
) -> Result<serde_json::Value, BoxError> {
    use tessera_core::user_pool::import::{run_job, RunOutcome};
    let field = |name: &str| payload.get(name).and_then(serde_json::Value::as_str).map(str::to_string);
    let (Some(pool_id), Some(job_id)) = (field("poolId"), field("jobId")) else {
        return Err("the event needs poolId and jobId".into());
    };
    if run_job(svc, &pool_id, &job_id, Some(deadline_ms.saturating_sub(60_000))).await?
        == RunOutcome::Continue
    {
        svc.imports()?.runner.start(&pool_id, &job_id).await?;
    }
    Ok(serde_json::json!({"poolId": pool_id, "jobId": job_id}))
}

/// Logs why a cold start failed before the runtime reports it (the function then answers no
/// request: API Gateway gives the caller a 500 until the configuration is fixed).
fn cold_start<T>(result: Result<T, BoxError>) -> Result<T, BoxError> {
    if let Err(e) = &result {
        tracing::error!(error = %e, "cold start refused: this function will serve no request");
    }
    result
}

/// One API Gateway request through the shared front end (every operation, by the table), once
/// the origin check admits it.
pub async fn handle(function: &HttpFunction, operation: Option<&str>, req: Request) -> Response<Body> {
    match admit(function, req) {
        Some(wire) => into_response(function.frontend.handle(&wire, operation).await),
        None => refused(function),
    }
}

/// One API Gateway request for `operation` only, through its own domain function, once the
/// origin check admits it: what an operation's function binary serves.
pub async fn handle_operation(
    function: &HttpFunction,
    operation: &Operation,
    req: Request,
) -> Response<Body> {
    match admit(function, req) {
        Some(wire) => {
            into_response(function.frontend.handle_operation(&wire, operation.bound, operation.call).await)
        }
        None => refused(function),
    }
}

/// One API Gateway request to a user pool's auth domain, once the origin check admits it.
pub async fn handle_auth_domain(function: &HttpFunction, req: Request) -> Response<Body> {
    match admit(function, req) {
        Some(wire) => into_response(function.frontend.handle_auth_domain(&wire).await),
        None => refused(function),
    }
}

/// One API Gateway request for the `.well-known` documents, once the origin check admits it:
/// what the well-known function serves.
pub async fn handle_documents(function: &HttpFunction, req: Request) -> Response<Body> {
    match admit(function, req) {
        Some(wire) => into_response(function.frontend.handle_documents(&wire).await),
        None => refused(function),
    }
}

/// The origin check, before anything else: a request without the front door's secret reads and
/// writes nothing.
fn admit(function: &HttpFunction, req: Request) -> Option<WireRequest> {
    let (mut parts, body) = req.into_parts();
    if !function.origin.admits(&parts.headers) {
        tracing::warn!(
            method = %parts.method,
            path = %parts.uri.path(),
            "refused a request that did not come through the front door ({ORIGIN_SECRET_HEADER} missing or wrong)"
        );
        return None;
    }
    // Nothing after this point sees the secret (logs, triggers, the wire's view of headers).
    parts.headers.remove(ORIGIN_SECRET_HEADER);
    Some(WireRequest::from_parts(&parts, body.to_vec()))
}

fn refused(function: &HttpFunction) -> Response<Body> {
    into_response(not_through_front_door(&function.frontend))
}

/// The answer to a request sent around the front door: 403 ForbiddenException, the error
/// Cognito gives when its edge (AWS WAF) blocks a request, with no hint about the check.
fn not_through_front_door(frontend: &Frontend) -> WireResponse {
    let body = serde_json::json!({
        "__type": "ForbiddenException",
        "message": "Forbidden: send requests to the service's endpoint.",
    });
    WireResponse {
        status: 403,
        headers: vec![
            ("Content-Type".into(), "application/x-amz-json-1.1".into()),
            ("x-amzn-ErrorType".into(), "ForbiddenException".into()),
            ("x-amzn-RequestId".into(), frontend.service.rng.uuid().to_string()),
        ],
        body: serde_json::to_vec(&body).unwrap_or_default(),
    }
}

fn into_response(w: WireResponse) -> Response<Body> {
    w.into_http()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_come_from_the_environment_or_keep_cognitos() {
        let env = |name: &str| match name {
            "TESSERA_MAX_GROUPS_PER_USER" => Some("5".to_string()),
            "TESSERA_MAX_SYNC_DATASETS" => Some("3".to_string()),
            "TESSERA_MAX_SYNC_RECORDS" => Some("not a number".to_string()),
            "TESSERA_MAX_SYNC_DATASET_BYTES" => Some("2048".to_string()),
            _ => None,
        };
        let limits = limits_from(env);
        let cognito = Limits::default();
        assert_eq!(limits.groups_per_user, 5);
        assert_eq!(limits.groups_per_pool, cognito.groups_per_pool);
        assert_eq!(limits.sync_datasets_per_identity, 3);
        assert_eq!(limits.sync_records_per_dataset, 1024, "an unreadable value keeps Cognito's quota");
        assert_eq!(limits.sync_dataset_bytes, 2048);
        assert_eq!(limits_from(|_| None), cognito);
    }

    #[test]
    fn the_issuer_base_is_required_and_never_guessed() {
        let unset = issuer_base_from(|_| None).unwrap_err().to_string();
        assert!(unset.contains("TESSERA_ISSUER_BASE is not set"), "{unset}");
        let empty = issuer_base_from(|_| Some(String::new())).unwrap_err().to_string();
        assert!(empty.contains("is not set"), "{empty}");
        for bad in [
            "http://auth.example.com",
            "https://",
            "https:///path",
            "https://auth.example.com/",
            "https://auth.example.com?x=1",
            "https://auth.example.com#f",
            "https://user@auth.example.com",
            "https://auth.example.com/a b",
            "auth.example.com",
        ] {
            assert!(issuer_base_from(|_| Some(bad.to_string())).is_err(), "{bad} accepted");
        }
        for good in ["https://auth.example.com", "https://d111111abcdef8.cloudfront.net/tenant-1"] {
            assert_eq!(issuer_base_from(|_| Some(good.to_string())).unwrap(), good);
        }
    }

    #[test]
    fn the_admin_secret_holds_both_halves_of_the_key_pair() {
        let keys =
            admin_keys_from(r#"{"accessKeyId":"TESSERAADMIN0001","secretAccessKey":"s3cr3t"}"#).unwrap();
        assert_eq!(keys.get("TESSERAADMIN0001").map(String::as_str), Some("s3cr3t"));
        for bad in ["", "s3cr3t", r#"{"accessKeyId":"A"}"#, r#"{"accessKeyId":"A","secretAccessKey":""}"#] {
            let e = admin_keys_from(bad).unwrap_err().to_string();
            assert!(!e.contains("s3cr3t"), "an error quotes the secret: {e}");
        }
    }

    #[test]
    fn the_origin_guard_admits_only_the_secret_once() {
        use lambda_http::http::{HeaderMap, HeaderValue};
        let secret = "0123456789abcdefghijABCDEFGHIJ0123456789abcdefghijABCDEFGHIJ0123";
        let guard = OriginGuard::new(secret).unwrap();
        let with = |values: &[&str]| {
            let mut headers = HeaderMap::new();
            for v in values {
                headers.append(ORIGIN_SECRET_HEADER, HeaderValue::from_str(v).unwrap());
            }
            headers
        };
        assert!(guard.admits(&with(&[secret])));
        assert!(!guard.admits(&with(&[])), "missing");
        assert!(!guard.admits(&with(&["wrong"])), "wrong");
        assert!(!guard.admits(&with(&[&secret[..secret.len() - 1]])), "a prefix");
        assert!(!guard.admits(&with(&[&format!("{secret}x")])), "longer");
        assert!(!guard.admits(&with(&[secret, secret])), "twice");
        assert!(!guard.admits(&with(&["wrong", secret])), "a wrong value beside the right one");
        assert!(OriginGuard::new("short").is_err(), "a guessable secret is refused");
        assert_eq!(format!("{guard:?}"), "OriginGuard(..)", "Debug never shows the secret");
    }
}
