//! The hooks' Lambda entry points. Each `run_*` is a whole `main`: it reads the configuration
//! (and builds clients) once, then hands one handler to the runtime. A bad configuration stops
//! the function at start-up with the reason in its log.
//!
//! The `*_event` functions are the handlers over raw JSON, as the runtime delivers it; tests
//! call them with the sample events in `events/<hook>/`. The incoming `response` object is
//! replaced by an empty one before the event is parsed: the hook computes the whole response,
//! and this accepts an event whose response is `{}`, `null` or carries strings for booleans.

use crate::custom_message::{self, CustomMessageConfig};
use crate::migration::{
    self, DynamoDirectory, HttpDirectory, LegacyDirectory, LegacySource, MigrationConfig,
};
use crate::pre_signup::{self, PreSignUpConfig};
use crate::sync::{self, SyncConfig};
use crate::{BoxError, Rejection};
use aws_lambda_events::event::cognito::{
    CognitoEvent, CognitoEventUserPoolsCustomMessage, CognitoEventUserPoolsPreSignup,
};
use lambda_runtime::{service_fn, LambdaEvent};
use serde_json::Value;

/// Logs as `RUST_LOG` says (default `info`), except that the raw event is never logged:
/// lambda_runtime writes each incoming event at TRACE, and a user-migration event holds the
/// plaintext password. A second filter drops those whatever `RUST_LOG` asks for.
fn init_tracing() {
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    use tracing_subscriber::EnvFilter;
    let _ = tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .without_time()
        .with_ansi(false)
        .finish()
        .with(EnvFilter::new(NEVER_LOG_EVENTS))
        .try_init();
}

/// Everything, but the runtime's raw-event log at most at DEBUG (it logs events at TRACE).
pub const NEVER_LOG_EVENTS: &str = "trace,lambda_runtime::layers::api_response=debug";

/// Parses a user-pool trigger event with its `response` replaced by `empty_response`.
fn parse<T: serde::de::DeserializeOwned>(mut payload: Value, empty_response: Value) -> Result<T, Rejection> {
    if let Some(obj) = payload.as_object_mut() {
        obj.insert("response".into(), empty_response);
    }
    // The serde error names the field, never its value: safe to log and return.
    serde_json::from_value(payload).map_err(|e| {
        tracing::error!(error = %e, "not a trigger event of the expected shape");
        Rejection::new("InvalidEvent", format!("The trigger event is not valid: {e}"))
    })
}

fn logged<T>(hook: &str, r: Result<T, Rejection>) -> Result<T, Rejection> {
    if let Err(e) = &r {
        tracing::info!(hook, kind = e.kind, "refused");
    }
    r
}

pub fn pre_signup_event(
    cfg: &PreSignUpConfig,
    payload: Value,
) -> Result<CognitoEventUserPoolsPreSignup, Rejection> {
    let empty =
        serde_json::json!({"autoConfirmUser": false, "autoVerifyEmail": false, "autoVerifyPhone": false});
    let event = parse(payload, empty)?;
    logged("pre-signup", pre_signup::handle(cfg, event))
}

pub fn custom_message_event(
    cfg: &CustomMessageConfig,
    payload: Value,
) -> Result<CognitoEventUserPoolsCustomMessage, Rejection> {
    let event = parse(payload, serde_json::json!({}))?;
    Ok(custom_message::handle(cfg, event))
}

pub async fn user_migration_event(
    cfg: &MigrationConfig,
    directory: &dyn LegacyDirectory,
    payload: Value,
) -> Result<Value, Rejection> {
    let event = parse(payload, serde_json::json!({}))?;
    logged("user-migration", migration::handle(cfg, directory, event).await)
}

pub fn sync_trigger_event(cfg: &SyncConfig, payload: Value) -> Result<CognitoEvent, Rejection> {
    let event = serde_json::from_value(payload)
        .map_err(|e| Rejection::new("InvalidEvent", format!("The sync event is not valid: {e}")))?;
    logged("sync-trigger", sync::apply(cfg, event))
}

/// The `main` of a bundled trigger binary: non-async, so the binary instantiates nothing (see
/// `tessera_aws::lambda::serve_operation`).
pub fn serve_pre_signup() -> Result<(), BoxError> {
    block_on(run_pre_signup())
}

/// [`run_custom_message`] for a binary's `main`.
pub fn serve_custom_message() -> Result<(), BoxError> {
    block_on(run_custom_message())
}

/// [`run_user_migration`] for a binary's `main`.
pub fn serve_user_migration() -> Result<(), BoxError> {
    block_on(run_user_migration())
}

/// [`run_sync_trigger`] for a binary's `main`.
pub fn serve_sync_trigger() -> Result<(), BoxError> {
    block_on(run_sync_trigger())
}

/// The runtime `#[tokio::main]` builds.
fn block_on(main: impl std::future::Future<Output = Result<(), BoxError>>) -> Result<(), BoxError> {
    tokio::runtime::Builder::new_multi_thread().enable_all().build()?.block_on(main)
}

/// `pre-signup`: configured by `TESSERA_PRE_SIGNUP_*` (see [`PreSignUpConfig::from_vars`]).
pub async fn run_pre_signup() -> Result<(), BoxError> {
    init_tracing();
    let cfg = PreSignUpConfig::from_env()?;
    for warning in cfg.warnings() {
        tracing::warn!("{warning}");
    }
    let cfg = &cfg;
    lambda_runtime::run(service_fn(
        move |ev: LambdaEvent<Value>| async move { pre_signup_event(cfg, ev.payload) },
    ))
    .await
}

/// `custom-message`: configured by `TESSERA_CUSTOM_MESSAGE_*` (see [`CustomMessageConfig::from_vars`]).
pub async fn run_custom_message() -> Result<(), BoxError> {
    init_tracing();
    let cfg = CustomMessageConfig::from_env()?;
    tracing::info!(templates = cfg.templates.len(), "templates loaded");
    let cfg = &cfg;
    lambda_runtime::run(service_fn(move |ev: LambdaEvent<Value>| async move {
        custom_message_event(cfg, ev.payload)
    }))
    .await
}

/// `user-migration`: configured by `TESSERA_MIGRATION_*` (see [`MigrationConfig::from_vars`]).
pub async fn run_user_migration() -> Result<(), BoxError> {
    init_tracing();
    let cfg = MigrationConfig::from_env()?;
    let directory: Box<dyn LegacyDirectory> = match &cfg.source {
        LegacySource::DynamoDb { table, key_attribute, hash_attribute } => {
            let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
            Box::new(DynamoDirectory {
                client: aws_sdk_dynamodb::Client::new(&sdk),
                table: table.clone(),
                key_attribute: key_attribute.clone(),
                hash_attribute: hash_attribute.clone(),
            })
        }
        LegacySource::Http { url, bearer_token, timeout } => {
            Box::new(HttpDirectory::new(url, bearer_token.clone(), *timeout)?)
        }
        LegacySource::Cognito(source) => Box::new(crate::migration::CognitoDirectory::connect(source).await),
    };
    let (cfg, directory) = (&cfg, directory.as_ref());
    lambda_runtime::run(service_fn(move |ev: LambdaEvent<Value>| async move {
        user_migration_event(cfg, directory, ev.payload).await
    }))
    .await
}

/// `sync-trigger`: configured by `TESSERA_SYNC_*` (see [`SyncConfig::from_vars`]).
pub async fn run_sync_trigger() -> Result<(), BoxError> {
    init_tracing();
    let cfg = SyncConfig::from_env()?;
    let cfg = &cfg;
    lambda_runtime::run(service_fn(move |ev: LambdaEvent<Value>| async move {
        sync_trigger_event(cfg, ev.payload)
    }))
    .await
}
