//! UpdateUserAttributes, AdminUpdateUserAttributes, DeleteUserAttributes,
//! AdminDeleteUserAttributes, GetUserAttributeVerificationCode, VerifyUserAttribute.

use super::attribute_changes::{
    apply_changes, channel_for, purpose, save_and_send, VERIFIABLE, VERIFY_CODE_TTL_SECS,
};
use crate::attribute_rules::{check_user_writes, Writer};
use crate::error::{Error, Result};
use crate::input::{attribute_list, Input};
use crate::service::{CallContext, Service};
use crate::triggers::Caller;
use crate::user_pool::access::session_client_id;
use crate::user_pool::access::token_client;
use crate::user_pool::access::{authorize_access_token, AccessSession};
use crate::user_pool::codes::{consume_code, new_code_to};
use crate::user_pool::delivery::{deliver, Sender};
use crate::user_pool::triggers::lifecycle::{custom_message, MessageSource};
use serde_json::{json, Value};

fn names(input: &Value) -> Vec<(String, String)> {
    input
        .get("UserAttributeNames")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).map(|n| (n.to_string(), String::new())).collect())
        .unwrap_or_default()
}

async fn update_own(
    svc: &Service,
    ctx: &CallContext,
    input: &Value,
    changes: Vec<(String, String)>,
) -> Result<Vec<Value>> {
    let session = authorize_access_token(svc, ctx, input.req_str("AccessToken")?).await?;
    let client = token_client(svc, &session).await?;
    check_user_writes(&session.pool, &client, changes.iter().map(|(n, _)| n.as_str()))?;
    let AccessSession { pool, mut user, version, .. } = session;
    let messages = apply_changes(svc, &pool, &mut user, &changes, Writer::User)?;
    save_and_send(svc, &pool, &user, version, messages, vec![], Caller::new(Some(&client.client_id), input))
        .await
}

async fn update_as_admin(svc: &Service, input: &Value, changes: Vec<(String, String)>) -> Result<Vec<Value>> {
    let pool = svc.pool(input.req_str("UserPoolId")?).await?;
    let (mut user, version) = svc.require_user(&pool, input.req_str("Username")?).await?;
    let messages = apply_changes(svc, &pool, &mut user, &changes, Writer::Admin)?;
    save_and_send(svc, &pool, &user, version, messages, vec![], Caller::new(None, input)).await
}

pub async fn update_user_attributes(svc: &Service, ctx: &CallContext, input: &Value) -> Result<Value> {
    let changes = attribute_list(input, "UserAttributes");
    let details = update_own(svc, ctx, input, changes).await?;
    Ok(json!({"CodeDeliveryDetailsList": details}))
}

pub async fn admin_update_user_attributes(svc: &Service, input: &Value) -> Result<Value> {
    update_as_admin(svc, input, attribute_list(input, "UserAttributes")).await?;
    Ok(json!({}))
}

pub async fn delete_user_attributes(svc: &Service, ctx: &CallContext, input: &Value) -> Result<Value> {
    update_own(svc, ctx, input, names(input)).await?;
    Ok(json!({}))
}

pub async fn admin_delete_user_attributes(svc: &Service, input: &Value) -> Result<Value> {
    update_as_admin(svc, input, names(input)).await?;
    Ok(json!({}))
}

fn verifiable(name: &str) -> Result<()> {
    if VERIFIABLE.contains(&name) {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "Invalid attribute name: {name}. Only email and phone_number can be verified."
        )))
    }
}

pub async fn get_user_attribute_verification_code(
    svc: &Service,
    ctx: &CallContext,
    input: &Value,
) -> Result<Value> {
    let AccessSession { pool, mut user, version, claims, .. } =
        authorize_access_token(svc, ctx, input.req_str("AccessToken")?).await?;
    let name = input.req_str("AttributeName")?;
    verifiable(name)?;
    // A value waiting for verification gets the new code; otherwise the current value.
    let pending = user.codes.get(&purpose(name)).and_then(|c| c.pending_value.clone());
    let value = pending
        .clone()
        .or_else(|| user.attr(name).filter(|v| !v.is_empty()).map(str::to_string))
        .ok_or_else(|| Error::invalid(format!("The user has no {name} to verify.")))?;
    let channel = channel_for(name, &value).ok_or_else(|| Error::invalid("Invalid attribute name."))?;
    let (mut msg, details) =
        new_code_to(svc, &pool, &mut user, &purpose(name), VERIFY_CODE_TTL_SECS, channel, Sender::User)?;
    if let Some(code) = user.codes.get_mut(&purpose(name)) {
        code.pending_value = pending;
    }
    let client_id = session_client_id(&claims);
    let caller = Caller::new(client_id.as_deref(), input);
    custom_message(svc, &pool, MessageSource::VerifyUserAttribute, &user, caller, &mut msg).await?;
    svc.save_user(&pool, &user, version, vec![]).await?;
    deliver(svc, &pool, &msg).await?;
    Ok(json!({"CodeDeliveryDetails": details}))
}

pub async fn verify_user_attribute(svc: &Service, ctx: &CallContext, input: &Value) -> Result<Value> {
    let AccessSession { pool, mut user, mut version, .. } =
        authorize_access_token(svc, ctx, input.req_str("AccessToken")?).await?;
    let name = input.req_str("AttributeName")?;
    let code = input.req_str("Code")?;
    verifiable(name)?;
    let pending = user.codes.get(&purpose(name)).and_then(|c| c.pending_value.clone());
    consume_code(svc, &pool, &mut user, &mut version, &purpose(name), code).await?;
    if let Some(value) = pending {
        // The pool kept the old value until now.
        user.attributes.insert(name.to_string(), value);
    }
    if user.attr(name).is_none_or(str::is_empty) {
        return Err(Error::invalid(format!("The user has no {name} to verify.")));
    }
    user.attributes.insert(format!("{name}_verified"), "true".into());
    user.modified = svc.clock.now_millis();
    // A value another user holds as a verified alias → AliasExistsException (no force here).
    svc.save_user(&pool, &user, version, vec![]).await?;
    Ok(json!({}))
}
