//! The Lambda entry point: every function binary is `run_operation("<Operation>")`. `main`
//! builds the clients once (here), then hands one handler to the runtime.

use crate::dynamo::DynamoStore;
use crate::messaging::AwsMessenger;
use crate::BoxError;
use lambda_http::{service_fn, Body, Request, Response};
use std::collections::HashMap;
use std::sync::Arc;
use tessera_core::ports::{AesGcmCipher, SystemClock, SystemRng};
use tessera_core::{Limits, Service, ServiceConfig};
use tessera_wire::http::{Cors, Frontend, WireRequest, WireResponse};

fn env(name: &str) -> Result<String, BoxError> {
    std::env::var(name).map_err(|_| format!("missing environment variable {name}").into())
}

fn env_opt(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// Quotas from `TESSERA_MAX_GROUPS_PER_POOL`, `TESSERA_MAX_GROUPS_PER_USER` and
/// `TESSERA_MAX_CUSTOM_ATTRIBUTES` when set.
fn limits_from_env() -> Limits {
    let default = Limits::default();
    let read = |name: &str, fallback: u64| env_opt(name).and_then(|v| v.parse().ok()).unwrap_or(fallback);
    Limits {
        groups_per_pool: read("TESSERA_MAX_GROUPS_PER_POOL", default.groups_per_pool),
        groups_per_user: read("TESSERA_MAX_GROUPS_PER_USER", default.groups_per_user),
        custom_attributes_per_pool: read("TESSERA_MAX_CUSTOM_ATTRIBUTES", default.custom_attributes_per_pool),
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
    })
}

fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .without_time()
        .with_ansi(false)
        .try_init();
}

/// Serves one Cognito operation behind API Gateway (HTTP API, payload 2.0).
pub async fn run_operation(operation: &'static str) -> Result<(), BoxError> {
    init_tracing();
    let frontend = frontend_from_env(true).await?;
    let frontend = &frontend;
    lambda_http::run(service_fn(move |req: Request| async move {
        Ok::<_, BoxError>(handle(frontend, Some(operation), req).await)
    }))
    .await
}

/// Serves `GET /{poolId}/.well-known/{jwks.json,openid-configuration}`.
pub async fn run_well_known() -> Result<(), BoxError> {
    init_tracing();
    let frontend = frontend_from_env(false).await?;
    let frontend = &frontend;
    lambda_http::run(service_fn(move |req: Request| async move {
        Ok::<_, BoxError>(handle(frontend, None, req).await)
    }))
    .await
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
