//! Tessera's bundled Cognito trigger functions ("hooks"). Each works unchanged behind a Tessera
//! pool or a real Amazon Cognito pool: it takes Cognito's standard trigger event and answers the
//! way Cognito expects.
//!
//! - [`pre_signup`]: allow or deny sign-up by email domain, refuse disposable addresses,
//!   auto-confirm and auto-verify trusted domains.
//! - [`custom_message`]: branded HTML email and plain SMS per trigger source and locale.
//! - [`migration`]: lazy migration from a legacy DynamoDB table or HTTP login endpoint.
//! - [`sync`]: validation and normalisation of Cognito Sync records (the SyncTrigger event).
//!
//! The rules are pure functions over the `aws_lambda_events` types with a config struct each
//! (`from_env` for the functions, plain construction for tests); [`lambda`] holds the mains.

pub mod custom_message;
pub mod lambda;
pub mod migration;
pub mod pre_signup;
pub mod sync;

pub mod config;

pub use config::{ConfigError, Vars};

/// What a hook's `main` returns on a start-up failure.
pub type BoxError = lambda_runtime::Error;

/// A function error: the hook refuses the request. Cognito wraps `message` as
/// `"<Trigger> failed with error <message>."` (UserLambdaValidationException), so the message is
/// a sentence fit to show an end user, without a final period. `kind` becomes the Lambda
/// `errorType`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub kind: &'static str,
    pub message: String,
}

impl Rejection {
    pub fn new(kind: &'static str, message: impl Into<String>) -> Self {
        Rejection { kind, message: message.into() }
    }
}

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Rejection {}

impl From<Rejection> for lambda_runtime::Diagnostic {
    fn from(r: Rejection) -> Self {
        lambda_runtime::Diagnostic { error_type: r.kind.to_string(), error_message: r.message }
    }
}
