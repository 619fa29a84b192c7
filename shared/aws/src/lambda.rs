//! The Lambda entry point: every function binary is `run_operation("<Operation>")` (a user-pool
//! operation) or `run_operation("<service>:<Operation>")` (`cognito-identity:GetId`,
//! `cognito-sync:ListRecords`). `main` builds the clients once (here), then hands one handler to
//! the runtime.

use crate::dynamo::DynamoStore;
use crate::import::{LambdaImportRunner, S3ImportFiles, TracingImportLog};
use crate::messaging::AwsMessenger;
use crate::BoxError;
use lambda_http::{service_fn, Body, Request, Response};
use std::collections::HashMap;
use std::sync::Arc;
use tessera_core::ports::{AesGcmCipher, Imports, SystemClock, SystemRng};
use tessera_core::{Limits, Service, ServiceConfig};
use tessera_wire::http::{Cors, Frontend, WireRequest, WireResponse};

fn env(name: &str) -> Result<String, BoxError> {
    std::env::var(name).map_err(|_| format!("missing environment variable {name}").into())
}

fn env_opt(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// Quotas from `TESSERA_MAX_GROUPS_PER_POOL`, `TESSERA_MAX_GROUPS_PER_USER`,
/// `TESSERA_MAX_CUSTOM_ATTRIBUTES` and the `TESSERA_MAX_SYNC_*` variables when set.
fn limits_from_env() -> Limits {
    limits_from(env_opt)
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
    }
}

/// Stands in for the master key where a function needs none (the public `.well-known`
/// documents): any attempt to seal or open fails loudly instead of creating a key.
struct NoMasterKey;

impl tessera_core::ports::SecretCipher for NoMasterKey {
    fn seal(&self, _: &[u8]) -> tessera_core::Result<Vec<u8>> {
        Err(tessera_core::Error::internal("this function has no access to the master key"))
    }
    fn open(&self, _: &[u8]) -> tessera_core::Result<Vec<u8>> {
        Err(tessera_core::Error::internal("this function has no access to the master key"))
    }
}

/// Builds the front end from the function's environment (set by template.yaml).
pub async fn frontend_from_env(needs_master_key: bool) -> Result<Frontend, BoxError> {
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let table = env("TESSERA_TABLE")?;
    let store = Arc::new(DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), table));
    let kms = aws_sdk_kms::Client::new(&sdk);
    let clock = SystemClock;
    let cipher: Arc<dyn tessera_core::ports::SecretCipher> = if needs_master_key {
        let key = crate::kms::load_or_create_data_key(
            &kms,
            store.as_ref(),
            &env("TESSERA_KMS_KEY_ID")?,
            tessera_core::ports::Clock::now_secs(&clock),
        )
        .await
        .map_err(|e| format!("master key: {e}"))?;
        Arc::new(AesGcmCipher::new(&key).map_err(|e| e.to_string())?)
    } else {
        Arc::new(NoMasterKey)
    };
    let from = env_opt("TESSERA_SES_FROM");
    let messenger = Arc::new(AwsMessenger::new(
        aws_sdk_ses::Client::new(&sdk),
        aws_sdk_sns::Client::new(&sdk),
        from.clone().unwrap_or_default(),
    ));
    let config = ServiceConfig {
        region: sdk.region().map(|r| r.to_string()).unwrap_or_else(|| "us-east-1".into()),
        account_id: env_opt("TESSERA_ACCOUNT_ID").unwrap_or_else(|| "000000000000".into()),
        default_email_from: from,
        limits: limits_from_env(),
        ..ServiceConfig::default()
    };
    let service = Service::new(store, messenger, Arc::new(clock), Arc::new(SystemRng), cipher, config);
    // The pools' triggers; TESSERA_LAMBDA_ENDPOINT only for tests and emulators.
    let endpoint = env_opt("TESSERA_LAMBDA_ENDPOINT");
    service.set_invoker(Arc::new(crate::triggers::LambdaInvoker::from_sdk_config(&sdk, endpoint.as_deref())));
    // Identity pools: GetCredentialsForIdentity calls STS AssumeRoleWithWebIdentity at
    // TESSERA_STS_ENDPOINT when set (tests, emulators), else AWS STS in the function's region.
    let sts_endpoint = env_opt("TESSERA_STS_ENDPOINT");
    service.set_credential_vendor(Arc::new(crate::sts::StsVendor::from_sdk_config(
        &sdk,
        sts_endpoint.as_deref(),
    )));
    // Sync: RegisterDevice's platform endpoints and UpdateRecords' pushes go to SNS at
    // TESSERA_SNS_ENDPOINT when set (tests, emulators), else AWS SNS in the function's region.
    match env_opt("TESSERA_SNS_ENDPOINT") {
        Some(endpoint) => service.set_push(Arc::new(
            crate::push::SnsPushNotifier::connect(Some(&endpoint), &service.config.region).await,
        )),
        None => service.set_push(Arc::new(crate::push::SnsPushNotifier::from_sdk_config(&sdk))),
    }
    // Only the import functions get the bucket and the worker's name (operations.txt `imports`).
    if let (Some(bucket), Some(worker)) = (env_opt("TESSERA_IMPORT_BUCKET"), env_opt("TESSERA_IMPORT_WORKER"))
    {
        service.set_imports(Imports {
            files: Arc::new(S3ImportFiles { client: aws_sdk_s3::Client::new(&sdk), bucket }),
            runner: Arc::new(LambdaImportRunner {
                client: aws_sdk_lambda::Client::new(&sdk),
                function: worker,
            }),
            log: Arc::new(TracingImportLog),
        });
    }
    // Only the admin functions get the keys; without them every signed call is refused.
    let mut admin_keys = HashMap::new();
    if let (Some(id), Some(secret)) =
        (env_opt("TESSERA_ADMIN_ACCESS_KEY_ID"), env_opt("TESSERA_ADMIN_SECRET_ACCESS_KEY"))
    {
        admin_keys.insert(id, secret);
    }
    Ok(Frontend {
        service: Arc::new(service),
        admin_keys,
        max_skew_secs: env_opt("TESSERA_MAX_SKEW_SECS").and_then(|s| s.parse().ok()).unwrap_or(300),
        issuer_base: env_opt("TESSERA_ISSUER_BASE"),
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

/// Serves one Cognito operation behind API Gateway (HTTP API, payload 2.0): `"SignUp"` for a
/// user-pool operation, `"cognito-identity:GetId"` or `"cognito-sync:ListRecords"` for the
/// others (the wire's bound operation: a request naming any other operation is refused).
pub async fn run_operation(operation: &'static str) -> Result<(), BoxError> {
    init_tracing();
    let frontend = frontend_from_env(true).await?;
    let frontend = &frontend;
    lambda_http::run(service_fn(move |req: Request| async move {
        Ok::<_, BoxError>(handle(frontend, Some(operation), req).await)
    }))
    .await
}

/// Serves `GET /{poolId}/.well-known/{jwks.json,openid-configuration}` and the identity pools'
/// issuer's `GET /cognito-identity/.well-known/{jwks.json,openid-configuration}`. It has no
/// master key (its role is `readonly`): both serve public keys only.
pub async fn run_well_known() -> Result<(), BoxError> {
    init_tracing();
    let frontend = frontend_from_env(false).await?;
    let frontend = &frontend;
    lambda_http::run(service_fn(move |req: Request| async move {
        Ok::<_, BoxError>(handle(frontend, None, req).await)
    }))
    .await
}

/// The import worker: invoked asynchronously with `{"poolId", "jobId"}` by StartUserImportJob
/// (and by itself). It runs the job until a minute before its own timeout, then invokes itself
/// again to go on from the saved offset, so a job of any size fits Lambda's 15-minute limit.
pub async fn run_import_worker() -> Result<(), BoxError> {
    use lambda_http::lambda_runtime::{self, LambdaEvent};
    init_tracing();
    let frontend = frontend_from_env(true).await?;
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
    use tessera_core::ops::import::{run_job, RunOutcome};
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

/// One API Gateway request through the shared front end.
pub async fn handle(frontend: &Frontend, operation: Option<&str>, req: Request) -> Response<Body> {
    let (parts, body) = req.into_parts();
    let wire = WireRequest::from_parts(&parts, body.to_vec());
    into_response(frontend.handle(&wire, operation).await)
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
}
