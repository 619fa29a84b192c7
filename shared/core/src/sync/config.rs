//! GetIdentityPoolConfiguration, SetIdentityPoolConfiguration, GetCognitoEvents, SetCognitoEvents,
//! BulkPublish, GetBulkPublishDetails: the pool's push sync settings and SyncTrigger; Cognito
//! Streams are not supported, so BulkPublish and GetBulkPublishDetails answer that.

use super::access::{authorize, SyncAccess};
use super::settings::{
    application_platform, load_config, require_identity_pool, save_config, ATTEMPTS, PLATFORMS, SYNC_TRIGGER,
};
use crate::error::{Error, Result};
use crate::input::Input;
use crate::model::{IdentityPoolSyncConfig, PushSync};
use crate::service::{CallContext, Service};
use serde_json::{json, Value};
use std::collections::BTreeMap;

fn streams_unsupported(what: &str) -> Error {
    Error::invalid(format!("Cognito Streams are not supported by this version of Tessera{what}."))
}

/// The configuration as the API shows it. Streams are never configured here.
fn configuration_output(identity_pool_id: &str, config: &IdentityPoolSyncConfig) -> Value {
    let mut out = json!({
        "IdentityPoolId": identity_pool_id,
        "CognitoStreams": {"StreamingStatus": "DISABLED"},
    });
    if let Some(push) = &config.push_sync {
        let mut p = json!({"ApplicationArns": push.application_arns});
        if let Some(role) = &push.role_arn {
            p["RoleArn"] = json!(role);
        }
        out["PushSync"] = p;
    }
    out
}

pub async fn get_identity_pool_configuration(
    svc: &Service,
    ctx: &CallContext,
    input: &Value,
) -> Result<Value> {
    let pool_id = input.req_str("IdentityPoolId")?;
    authorize(ctx, SyncAccess::AdminOnly, pool_id, None)?;
    require_identity_pool(svc, pool_id).await?;
    let (config, _) = load_config(svc, pool_id).await?;
    Ok(configuration_output(pool_id, &config))
}

fn parse_push_sync(value: &Value) -> Result<Option<PushSync>> {
    let Some(obj) = value.as_object() else {
        return Err(Error::invalid("PushSync must be a structure."));
    };
    let arns: Vec<String> = match obj.get("ApplicationArns") {
        None | Some(Value::Null) => vec![],
        Some(Value::Array(list)) => list
            .iter()
            .map(|a| {
                a.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| Error::invalid("ApplicationArns must be strings."))
            })
            .collect::<Result<_>>()?,
        Some(_) => return Err(Error::invalid("ApplicationArns must be a list.")),
    };
    let mut platforms = std::collections::BTreeSet::new();
    for arn in &arns {
        let platform = application_platform(arn).ok_or_else(|| {
            Error::invalid(format!(
                "Invalid ApplicationArn '{arn}': expected an SNS platform application ARN \
                 (arn:aws:sns:<region>:<account>:app/<PLATFORM>/<name>)."
            ))
        })?;
        if !PLATFORMS.contains(&platform) {
            return Err(Error::invalid(format!(
                "Invalid ApplicationArn '{arn}': platform {platform} is not supported by push sync \
                 (APNS, APNS_SANDBOX, GCM, ADM)."
            )));
        }
        if !platforms.insert(platform) {
            return Err(Error::invalid(format!(
                "ApplicationArns names more than one platform application for {platform}."
            )));
        }
    }
    let role_arn = match obj.get("RoleArn") {
        None | Some(Value::Null) => None,
        Some(Value::String(role)) if is_role_arn(role) => Some(role.clone()),
        Some(other) => {
            return Err(Error::invalid(format!(
                "Invalid RoleArn {other}: expected an IAM role ARN (arn:aws:iam::<account>:role/<name>)."
            )))
        }
    };
    if arns.is_empty() && role_arn.is_none() {
        // An empty PushSync turns push sync off.
        return Ok(None);
    }
    Ok(Some(PushSync { application_arns: arns, role_arn }))
}

fn is_role_arn(arn: &str) -> bool {
    let Some(rest) = arn.strip_prefix("arn:aws:iam::") else { return false };
    let Some((account, _)) = rest.split_once(":role/") else { return false };
    (20..=2048).contains(&arn.len()) && !account.is_empty() && account.bytes().all(|b| b.is_ascii_digit())
}

/// Streams settings are accepted only when they leave streams off.
fn check_streams(value: &Value) -> Result<()> {
    let Some(obj) = value.as_object() else {
        return Err(Error::invalid("CognitoStreams must be a structure."));
    };
    let enabled = obj.get("StreamingStatus").and_then(Value::as_str) == Some("ENABLED");
    let named = obj.get("StreamName").is_some_and(|n| !n.is_null());
    if enabled || named {
        return Err(streams_unsupported(": CognitoStreams cannot be enabled or given a stream"));
    }
    Ok(())
}

pub async fn set_identity_pool_configuration(
    svc: &Service,
    ctx: &CallContext,
    input: &Value,
) -> Result<Value> {
    let pool_id = input.req_str("IdentityPoolId")?;
    authorize(ctx, SyncAccess::AdminOnly, pool_id, None)?;
    if let Some(streams) = input.get("CognitoStreams").filter(|v| !v.is_null()) {
        check_streams(streams)?;
    }
    let push_sync = match input.get("PushSync").filter(|v| !v.is_null()) {
        Some(p) => Some(parse_push_sync(p)?),
        None => None,
    };
    require_identity_pool(svc, pool_id).await?;
    let (mut config, version) = load_config(svc, pool_id).await?;
    // Settings the request leaves out keep their values.
    if let Some(push_sync) = push_sync {
        config.push_sync = push_sync;
        config.last_modified = svc.clock.now_millis();
        if !save_config(svc, pool_id, &config, version).await? {
            return Err(Error::ConcurrentModificationException(
                "The identity pool configuration was modified by another request. Try again.".into(),
            ));
        }
    }
    Ok(configuration_output(pool_id, &config))
}

/// A Lambda function as Invoke names it: a name, a name with a qualifier, or a function ARN
/// (optionally qualified).
fn is_lambda_function(s: &str) -> bool {
    let name_ok = |n: &str| {
        (1..=64).contains(&n.len()) && n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    let qualifier_ok = |q: &str| {
        q == "$LATEST"
            || ((1..=128).contains(&q.len())
                && q.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
    };
    let parts: Vec<&str> = s.split(':').collect();
    match parts.as_slice() {
        [name] => name_ok(name),
        [name, qualifier] => name_ok(name) && qualifier_ok(qualifier),
        ["arn", partition, "lambda", region, account, "function", rest @ ..] => {
            partition.starts_with("aws")
                && !region.is_empty()
                && region.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && account.len() == 12
                && account.bytes().all(|b| b.is_ascii_digit())
                && match rest {
                    [name] => name_ok(name),
                    [name, qualifier] => name_ok(name) && qualifier_ok(qualifier),
                    _ => false,
                }
        }
        _ => false,
    }
}

pub async fn get_cognito_events(svc: &Service, ctx: &CallContext, input: &Value) -> Result<Value> {
    let pool_id = input.req_str("IdentityPoolId")?;
    authorize(ctx, SyncAccess::AdminOnly, pool_id, None)?;
    require_identity_pool(svc, pool_id).await?;
    let (config, _) = load_config(svc, pool_id).await?;
    Ok(json!({"Events": config.events}))
}

pub async fn set_cognito_events(svc: &Service, ctx: &CallContext, input: &Value) -> Result<Value> {
    let pool_id = input.req_str("IdentityPoolId")?;
    authorize(ctx, SyncAccess::AdminOnly, pool_id, None)?;
    let events = input.get("Events").and_then(Value::as_object).ok_or_else(|| {
        Error::invalid(crate::input::validation_message("Events", None, crate::input::MUST_NOT_BE_NULL))
    })?;
    let mut changes: BTreeMap<String, Option<String>> = BTreeMap::new();
    for (event, function) in events {
        if event != SYNC_TRIGGER {
            return Err(Error::invalid(format!(
                "Invalid event type '{event}': the only Cognito Event is SyncTrigger."
            )));
        }
        let function = function.as_str().unwrap_or_default();
        if function.is_empty() {
            changes.insert(event.clone(), None);
        } else if is_lambda_function(function) {
            changes.insert(event.clone(), Some(function.to_string()));
        } else {
            return Err(Error::invalid(format!(
                "Invalid Lambda function '{function}' for {event}: expected a function name or ARN."
            )));
        }
    }
    require_identity_pool(svc, pool_id).await?;
    // Only the given events change, so a lost race is simply tried again on fresh settings.
    for _ in 0..ATTEMPTS {
        let (mut config, version) = load_config(svc, pool_id).await?;
        for (event, function) in &changes {
            match function {
                Some(f) => config.events.insert(event.clone(), f.clone()),
                None => config.events.remove(event),
            };
        }
        config.last_modified = svc.clock.now_millis();
        if save_config(svc, pool_id, &config, version).await? {
            return Ok(json!({}));
        }
    }
    Err(Error::TooManyRequestsException(
        "The identity pool's Cognito Events are being changed by other requests. Try again.".into(),
    ))
}

/// Bulk publish sends a pool's data to its Cognito stream, and streams are not supported.
pub async fn bulk_publish(svc: &Service, ctx: &CallContext, input: &Value) -> Result<Value> {
    let pool_id = input.req_str("IdentityPoolId")?;
    authorize(ctx, SyncAccess::AdminOnly, pool_id, None)?;
    require_identity_pool(svc, pool_id).await?;
    Err(streams_unsupported(", so there is no stream to bulk publish to"))
}

pub async fn get_bulk_publish_details(svc: &Service, ctx: &CallContext, input: &Value) -> Result<Value> {
    let pool_id = input.req_str("IdentityPoolId")?;
    authorize(ctx, SyncAccess::AdminOnly, pool_id, None)?;
    require_identity_pool(svc, pool_id).await?;
    Err(streams_unsupported(", so bulk publish is not available"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lambda_functions() {
        for good in [
            "my-function",
            "my_function:prod",
            "arn:aws:lambda:us-east-1:123456789012:function:my-function",
            "arn:aws:lambda:us-east-1:123456789012:function:my-function:$LATEST",
        ] {
            assert!(is_lambda_function(good), "{good}");
        }
        for bad in [
            "",
            "my function",
            "arn:aws:lambda:us-east-1:1234:function:f",
            "arn:aws:s3:::bucket",
            "arn:aws:lambda:us-east-1:123456789012:layer:f",
            "a:b:c",
        ] {
            assert!(!is_lambda_function(bad), "{bad}");
        }
    }
}
