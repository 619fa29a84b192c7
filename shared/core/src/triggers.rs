//! The pools' Lambda triggers (`LambdaConfig`): Cognito's events, built with the
//! `aws_lambda_events` types so typed handlers read them unchanged, sent through the
//! [`FunctionInvoker`](crate::ports::FunctionInvoker) port with Cognito's timeout, retry and
//! error rules. A pool without a trigger costs nothing: no event is built.

use crate::error::{Error, Result};
use crate::model::{User, UserPool};
use crate::ports::Invocation;
use crate::service::Service;
use aws_lambda_events::event::cognito as ev;
use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::time::Duration;
use tokio::time::Instant;

/// Cognito waits 5 seconds for a trigger, and this cannot be changed.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(5);
/// Attempts per trigger when the function times out, is throttled or Lambda fails.
pub const MAX_ATTEMPTS: u32 = 3;
/// The time one API request may spend in triggers, all of them together. API Gateway answers
/// 504 after 30 seconds; the rest of the request needs well under the 5 seconds left.
pub const REQUEST_BUDGET: Duration = Duration::from_secs(25);
/// An attempt shorter than this is not started.
const MIN_ATTEMPT: Duration = Duration::from_millis(250);
/// `callerContext.clientId` of operations that have no app client (AdminCreateUser, …).
pub const CLIENT_ID_NOT_APPLICABLE: &str = "CLIENT_ID_NOT_APPLICABLE";

/// The ten classic user-pool triggers, named as `LambdaConfig` and Cognito's errors name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    PreSignUp,
    CustomMessage,
    PostConfirmation,
    PreAuthentication,
    PostAuthentication,
    DefineAuthChallenge,
    CreateAuthChallenge,
    VerifyAuthChallengeResponse,
    PreTokenGeneration,
    UserMigration,
}

impl Trigger {
    pub fn name(self) -> &'static str {
        match self {
            Trigger::PreSignUp => "PreSignUp",
            Trigger::CustomMessage => "CustomMessage",
            Trigger::PostConfirmation => "PostConfirmation",
            Trigger::PreAuthentication => "PreAuthentication",
            Trigger::PostAuthentication => "PostAuthentication",
            Trigger::DefineAuthChallenge => "DefineAuthChallenge",
            Trigger::CreateAuthChallenge => "CreateAuthChallenge",
            Trigger::VerifyAuthChallengeResponse => "VerifyAuthChallengeResponse",
            Trigger::PreTokenGeneration => "PreTokenGeneration",
            Trigger::UserMigration => "UserMigration",
        }
    }

    /// The function the pool configured for this trigger.
    pub fn arn(self, pool: &UserPool) -> Option<&str> {
        let config = pool.settings.lambda_config.as_ref()?;
        if self == Trigger::PreTokenGeneration {
            if let Some(c) = &config.pre_token_generation_config {
                return Some(&c.lambda_arn);
            }
        }
        let arn = match self {
            Trigger::PreSignUp => &config.pre_sign_up,
            Trigger::CustomMessage => &config.custom_message,
            Trigger::PostConfirmation => &config.post_confirmation,
            Trigger::PreAuthentication => &config.pre_authentication,
            Trigger::PostAuthentication => &config.post_authentication,
            Trigger::DefineAuthChallenge => &config.define_auth_challenge,
            Trigger::CreateAuthChallenge => &config.create_auth_challenge,
            Trigger::VerifyAuthChallengeResponse => &config.verify_auth_challenge_response,
            Trigger::PreTokenGeneration => &config.pre_token_generation,
            Trigger::UserMigration => &config.user_migration,
        };
        arn.as_deref().filter(|a| !a.is_empty())
    }

    pub fn configured(self, pool: &UserPool) -> bool {
        self.arn(pool).is_some()
    }
}

/// What a trigger invocation knows about the request it serves.
#[derive(Debug, Clone)]
pub struct RequestScope {
    /// When the request's trigger budget runs out.
    pub deadline: Instant,
    /// `callerContext.awsSdkVersion`, from the caller's User-Agent.
    pub sdk_version: String,
}

tokio::task_local! {
    static SCOPE: RequestScope;
}

/// Runs one API request with its trigger budget and the caller's SDK version.
pub async fn scoped<F: Future>(user_agent: Option<&str>, budget: Duration, f: F) -> F::Output {
    let scope = RequestScope { deadline: Instant::now() + budget, sdk_version: sdk_version(user_agent) };
    SCOPE.scope(scope, f).await
}

fn current_scope() -> RequestScope {
    SCOPE.try_with(RequestScope::clone).unwrap_or_else(|_| RequestScope {
        deadline: Instant::now() + REQUEST_BUDGET,
        sdk_version: sdk_version(None),
    })
}

/// `aws-sdk-rust/1.3.9 os/linux …` → `aws-sdk-rust-1.3.9`; Cognito sends
/// `aws-sdk-unknown-unknown` when it cannot tell.
pub fn sdk_version(user_agent: Option<&str>) -> String {
    user_agent
        .into_iter()
        .flat_map(str::split_whitespace)
        .find_map(|token| {
            let (name, version) = token.split_once('/')?;
            let lang = name.strip_prefix("aws-sdk-")?;
            let version = version.split(['#', '/']).next().unwrap_or(version);
            let ok =
                |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || ".-_".contains(c));
            (ok(lang) && ok(version)).then(|| format!("aws-sdk-{lang}-{version}"))
        })
        .unwrap_or_else(|| "aws-sdk-unknown-unknown".into())
}

/// The app client and `ClientMetadata` of the call that fires a trigger.
#[derive(Debug, Clone, Copy)]
pub struct Caller<'a> {
    pub client_id: Option<&'a str>,
    /// The request's `ClientMetadata` (a string map), or `Value::Null`.
    pub metadata: &'a Value,
}

impl<'a> Caller<'a> {
    pub fn new(client_id: Option<&'a str>, input: &'a Value) -> Caller<'a> {
        Caller { client_id, metadata: input.get("ClientMetadata").unwrap_or(&Value::Null) }
    }

    /// For calls whose metadata Cognito does not pass on to this trigger.
    pub fn without_metadata(client_id: Option<&'a str>) -> Caller<'a> {
        Caller { client_id, metadata: &Value::Null }
    }

    pub fn metadata_map(&self) -> HashMap<String, String> {
        string_map(self.metadata)
    }
}

/// A string map from a JSON object; other values are dropped (the API model only allows
/// strings, and Cognito passes metadata through untouched).
pub fn string_map(v: &Value) -> HashMap<String, String> {
    v.as_object()
        .map(|m| m.iter().filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string()))).collect())
        .unwrap_or_default()
}

/// The event header every trigger shares.
pub fn header<T: Default>(
    svc: &Service,
    pool: &UserPool,
    user_name: &str,
    caller: &Caller<'_>,
    source: T,
) -> ev::CognitoEventUserPoolsHeader<T> {
    let mut caller_context = ev::CognitoEventUserPoolsCallerContext::default();
    caller_context.awssdk_version = Some(current_scope().sdk_version);
    caller_context.client_id = Some(caller.client_id.unwrap_or(CLIENT_ID_NOT_APPLICABLE).to_string());
    let mut h = ev::CognitoEventUserPoolsHeader::<T>::default();
    h.version = Some("1".into());
    h.trigger_source = Some(source);
    h.region = Some(svc.config.region.clone());
    h.user_pool_id = Some(pool.id.clone());
    h.user_name = Some(user_name.to_string());
    h.caller_context = caller_context;
    h
}

/// `request.userAttributes` of an existing user: every attribute as a string, plus the
/// pseudo-attributes Cognito adds (`cognito:user_status`, the active alias markers).
pub fn user_attributes(pool: &UserPool, user: &User) -> HashMap<String, String> {
    let mut out: HashMap<String, String> =
        user.attributes.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    out.insert("sub".into(), user.sub.clone());
    out.insert("cognito:user_status".into(), user.status.as_str().into());
    for (attribute, marker) in
        [("email", "cognito:email_alias"), ("phone_number", "cognito:phone_number_alias")]
    {
        let verified = user.attr(&format!("{attribute}_verified")) == Some("true");
        if verified && pool.alias_attributes.iter().any(|a| a == attribute) {
            if let Some(value) = user.attr(attribute) {
                out.insert(marker.into(), value.to_string());
            }
        }
    }
    out
}

/// Attributes of a user not created yet (PreSignUp), as given.
pub fn new_user_attributes(attributes: &BTreeMap<String, String>) -> HashMap<String, String> {
    attributes.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

/// Serialises an event and adds members the typed events lack (`userNotFound`, …).
pub fn to_event(event: &impl Serialize, extra_request: &[(&str, Value)]) -> Result<Value> {
    let mut v = serde_json::to_value(event).map_err(Error::internal)?;
    if let Some(request) = v.get_mut("request").and_then(Value::as_object_mut) {
        for (k, val) in extra_request {
            request.insert((*k).to_string(), val.clone());
        }
    }
    Ok(v)
}

/// Invokes the pool's function for `trigger` with `event` and returns what it answered (the
/// event with its `response`); `None` when the pool configures no such trigger.
pub async fn invoke(svc: &Service, pool: &UserPool, trigger: Trigger, event: Value) -> Result<Option<Value>> {
    let Some(arn) = trigger.arn(pool) else { return Ok(None) };
    let name = trigger.name();
    let Some(invoker) = svc.invoker() else {
        return Err(Error::UnexpectedLambdaException(format!(
            "{name} invocation failed: this deployment has no Lambda endpoint to invoke {arn}."
        )));
    };
    let payload = serde_json::to_vec(&event).map_err(Error::internal)?;
    let scope = current_scope();
    let mut last_error = "TimeoutError".to_string();
    for attempt in 0..MAX_ATTEMPTS {
        let remaining = scope.deadline.saturating_duration_since(Instant::now());
        if remaining < MIN_ATTEMPT {
            tracing::warn!(trigger = name, attempt, "trigger budget exhausted");
            break;
        }
        match tokio::time::timeout(remaining.min(ATTEMPT_TIMEOUT), invoker.invoke(arn, payload.clone())).await
        {
            Ok(Ok(Invocation::Response(bytes))) => return parse_result(&bytes).map(Some),
            Ok(Ok(Invocation::FunctionError(bytes))) => return Err(function_error(trigger, &bytes)),
            Ok(Err(failure)) => {
                tracing::warn!(trigger = name, attempt, code = %failure.code, "trigger invocation failed");
                last_error = failure.code;
                if !failure.retryable {
                    break;
                }
            }
            Err(_) => {
                tracing::warn!(trigger = name, attempt, "trigger timed out");
                last_error = "TimeoutError".into();
            }
        }
        let pause = Duration::from_millis(100 << attempt);
        if attempt + 1 < MAX_ATTEMPTS
            && scope.deadline.saturating_duration_since(Instant::now()) > pause + MIN_ATTEMPT
        {
            tokio::time::sleep(pause).await;
        }
    }
    Err(Error::UnexpectedLambdaException(format!("{name} invocation failed due to error {last_error}.")))
}

fn parse_result(bytes: &[u8]) -> Result<Value> {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(v) if v.is_object() => Ok(v),
        _ => Err(invalid_response()),
    }
}

/// Cognito's answer to output it cannot use.
pub fn invalid_response() -> Error {
    Error::InvalidLambdaResponseException("Unrecognizable lambda output".into())
}

/// What a function that threw says: the `errorMessage` of Lambda's error document, else the
/// payload as it came.
pub fn function_error_message(bytes: &[u8]) -> String {
    let message = match serde_json::from_slice::<Value>(bytes) {
        Ok(v) => v
            .get("errorMessage")
            .and_then(Value::as_str)
            .map(str::to_string)
            .or_else(|| v.as_str().map(str::to_string))
            .unwrap_or_else(|| v.to_string()),
        Err(_) => String::from_utf8_lossy(bytes).into_owned(),
    };
    message.trim().to_string()
}

/// `UserLambdaValidationException: "<Trigger> failed with error <errorMessage>."`
fn function_error(trigger: Trigger, bytes: &[u8]) -> Error {
    let message = function_error_message(bytes);
    Error::UserLambdaValidationException(format!("{} failed with error {message}.", trigger.name()))
}

/// The `response` object a function returned (`None` when absent or null).
pub fn response(result: &Value) -> Option<&Map<String, Value>> {
    result.get("response").and_then(Value::as_object)
}

/// A response flag, read as Cognito reads it: `true`/`false`, `"true"`/`"false"`, null or
/// absent (false). Anything else is output Cognito cannot use.
pub fn flag(response: Option<&Map<String, Value>>, name: &str) -> Result<bool> {
    match response.and_then(|r| r.get(name)) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(true),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Ok(false),
        Some(_) => Err(invalid_response()),
    }
}

/// A response string: null or absent is `None`; another type is unusable output.
pub fn text(response: Option<&Map<String, Value>>, name: &str) -> Result<Option<String>> {
    match response.and_then(|r| r.get(name)) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(invalid_response()),
    }
}

/// A response string map: null or absent is empty; values must be strings.
pub fn text_map(response: Option<&Map<String, Value>>, name: &str) -> Result<BTreeMap<String, String>> {
    match response.and_then(|r| r.get(name)) {
        None | Some(Value::Null) => Ok(BTreeMap::new()),
        Some(Value::Object(m)) => m
            .iter()
            .map(|(k, v)| match v {
                Value::String(s) => Ok((k.clone(), s.clone())),
                _ => Err(invalid_response()),
            })
            .collect(),
        Some(_) => Err(invalid_response()),
    }
}

/// A response string list: null or absent is `None`.
pub fn text_list(response: Option<&Map<String, Value>>, name: &str) -> Result<Option<Vec<String>>> {
    match response.and_then(|r| r.get(name)) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_str().map(str::to_string).ok_or_else(invalid_response))
            .collect::<Result<Vec<_>>>()
            .map(Some),
        Some(_) => Err(invalid_response()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sdk_version_comes_from_the_user_agent() {
        assert_eq!(sdk_version(Some("aws-sdk-rust/1.3.9 os/linux lang/rust#1.85")), "aws-sdk-rust-1.3.9");
        assert_eq!(sdk_version(Some("aws-sdk-js/3.600.0 ua/2.0 os/macOS")), "aws-sdk-js-3.600.0");
        assert_eq!(sdk_version(Some("aws-cli/2.15 Python/3.11")), "aws-sdk-unknown-unknown");
        assert_eq!(sdk_version(Some("aws-sdk-<script>/1")), "aws-sdk-unknown-unknown");
        assert_eq!(sdk_version(None), "aws-sdk-unknown-unknown");
    }

    #[test]
    fn flags_are_read_leniently_and_strictly_typed() {
        let r = serde_json::json!({"a": true, "b": "true", "c": null, "d": "FALSE", "e": 1});
        let r = r.as_object();
        assert!(flag(r, "a").is_ok_and(|b| b));
        assert!(flag(r, "b").is_ok_and(|b| b));
        assert!(flag(r, "c").is_ok_and(|b| !b));
        assert!(flag(r, "d").is_ok_and(|b| !b));
        assert!(flag(r, "missing").is_ok_and(|b| !b));
        assert_eq!(flag(r, "e"), Err(invalid_response()));
    }

    #[test]
    fn function_errors_carry_the_function_message() {
        let e = function_error(
            Trigger::PreSignUp,
            br#"{"errorMessage":"Cannot authenticate users from this user pool app client","errorType":"Error"}"#,
        );
        assert_eq!(
            e,
            Error::UserLambdaValidationException(
                "PreSignUp failed with error Cannot authenticate users from this user pool app client."
                    .into()
            )
        );
    }
}
