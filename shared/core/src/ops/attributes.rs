//! UpdateUserAttributes, AdminUpdateUserAttributes, DeleteUserAttributes,
//! AdminDeleteUserAttributes, GetUserAttributeVerificationCode, VerifyUserAttribute,
//! AddCustomAttributes.
//!
//! The rules themselves (schema, formats, client permissions) live in [`crate::attributes`];
//! sign-in aliases follow from the attributes through `Service::save_user`.

use crate::attributes::{check_user_writes, check_value, schema_error, Writer};
use crate::error::{Error, Result};
use crate::model::{keys, User, UserPool};
use crate::ports::OutgoingMessage;
use crate::service::{alias_exists, attribute_list, CallContext, Input, Service};
use crate::triggers::Caller;
use crate::user_pool::access::session_client_id;
use crate::user_pool::access::token_client;
use crate::user_pool::access::{authorize_access_token, AccessSession};
use crate::user_pool::codes::{consume_code, new_code_to};
use crate::user_pool::delivery::{deliver, Sender};
use crate::user_pool::triggers::lifecycle::{custom_message, MessageSource};
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// Attribute verification codes live 24 hours (spec C §18).
pub const VERIFY_CODE_TTL_SECS: i64 = 24 * 3600;

/// The attributes that can be verified with a code.
const VERIFIABLE: [&str; 2] = ["email", "phone_number"];

/// The pending-code purpose for verifying an attribute.
fn purpose(attribute: &str) -> String {
    format!("verify:{attribute}")
}

/// `(medium, attribute, destination)` for a code to an attribute's value.
fn channel_for(attribute: &str, value: &str) -> Option<(&'static str, &'static str, String)> {
    match attribute {
        "email" => Some(("EMAIL", "email", value.to_string())),
        "phone_number" => Some(("SMS", "phone_number", value.to_string())),
        _ => None,
    }
}

/// Applies attribute changes (an empty value deletes) to a user after checking them for the
/// writer. A changed email or phone number becomes unverified, unless an administrator sets
/// its flag in the same call, and gets a code when the pool auto-verifies it. Returns the
/// messages to send once the user is saved.
pub fn apply_changes(
    svc: &Service,
    pool: &UserPool,
    user: &mut User,
    changes: &[(String, String)],
    writer: Writer,
) -> Result<Vec<(OutgoingMessage, Value)>> {
    let mut changes = changes.to_vec();
    crate::attributes::canonicalize(pool, changes.iter_mut().map(|(n, v)| (&*n, v)));
    let changes = changes.as_slice();
    for (name, value) in changes {
        check_value(pool, name, value, writer)?;
        if value.is_empty() && pool.username_attributes.contains(name) && user.attr(name).is_some() {
            // In email/phone-as-username pools the value can change but not go away.
            return Err(schema_error(format!(
                "{name}: The attribute cannot be deleted because it is the user's sign-in name"
            )));
        }
    }
    // Later entries win, as in Cognito.
    let given: BTreeMap<&str, &str> = changes.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
    // The attribute an unconfirmed user's sign-up code went to; confirming verifies it.
    let signup_attribute =
        crate::user_pool::delivery::verification_channel(pool, user).map(|(_, attribute, _)| attribute);
    let sender =
        if matches!(writer, Writer::Admin | Writer::AdminCreate) { Sender::Admin } else { Sender::User };
    let mut messages = Vec::new();
    for (name, value) in &given {
        let old = user.attributes.get(*name).cloned();
        let flag_given = given.get(format!("{name}_verified").as_str()).copied();
        if !value.is_empty()
            && old.as_deref() != Some(*value)
            && flag_given != Some("true")
            && verified_before_update(pool, name)
        {
            // The current value stays (and keeps signing in) until the new one is verified.
            if let Some(channel) = channel_for(name, value) {
                let p = purpose(name);
                messages.push(new_code_to(svc, pool, user, &p, VERIFY_CODE_TTL_SECS, channel, sender)?);
                if let Some(code) = user.codes.get_mut(&p) {
                    code.pending_value = Some(value.to_string());
                }
            }
            continue;
        }
        if value.is_empty() {
            user.attributes.remove(*name);
        } else {
            user.attributes.insert(name.to_string(), value.to_string());
        }
        if !VERIFIABLE.contains(name) {
            continue;
        }
        if old.as_deref() == Some(*value) {
            // Setting the current value again withdraws a change still waiting for verification.
            if user.codes.get(&purpose(name)).is_some_and(|c| c.pending_value.is_some()) {
                user.codes.remove(&purpose(name));
            }
            continue;
        }
        // A new value: a code sent for the old one proves nothing about it.
        user.codes.remove(&purpose(name));
        if signup_attribute == Some(*name) {
            user.codes.remove("signup");
        }
        let flag = format!("{name}_verified");
        if value.is_empty() {
            if flag_given.is_none() {
                user.attributes.remove(&flag);
            }
            continue;
        }
        if flag_given.is_none() {
            user.attributes.insert(flag, "false".into());
        }
        if flag_given != Some("true") && pool.auto_verified_attributes.iter().any(|a| a == name) {
            if let Some(channel) = channel_for(name, value) {
                messages.push(new_code_to(
                    svc,
                    pool,
                    user,
                    &purpose(name),
                    VERIFY_CODE_TTL_SECS,
                    channel,
                    sender,
                )?);
            }
        }
    }
    user.modified = svc.clock.now_millis();
    Ok(messages)
}

/// Whether the pool changes this attribute only once the new value is verified. Cognito
/// allows the setting only for attributes it auto-verifies, which send the code.
fn verified_before_update(pool: &UserPool, name: &str) -> bool {
    let listed = pool
        .settings
        .get("UserAttributeUpdateSettings")
        .and_then(|s| s.get("AttributesRequireVerificationBeforeUpdate"))
        .and_then(Value::as_array)
        .is_some_and(|a| a.iter().any(|v| v.as_str() == Some(name)));
    listed && pool.auto_verified_attributes.iter().any(|a| a == name)
}

/// A preferred_username alias must not name another user (their username would win).
async fn check_preferred_username(svc: &Service, pool: &UserPool, user: &User) -> Result<()> {
    if !pool.alias_attributes.iter().any(|a| a == "preferred_username") {
        return Ok(());
    }
    let Some(wanted) = user.attr("preferred_username").filter(|v| !v.is_empty()) else { return Ok(()) };
    if user.owned.aliases.get("preferred_username").map(String::as_str)
        == Some(crate::user_index::alias_value(pool, "preferred_username", wanted).as_str())
    {
        return Ok(());
    }
    let other =
        svc.get_json::<User>(&keys::user(&pool.id, &pool.username_key(wanted)), keys::USER_SK).await?;
    match other {
        Some((other, _)) if other.username != user.username => Err(alias_exists("preferred_username")),
        _ => Ok(()),
    }
}

/// A value waiting for verification that will be a sign-in name (email/phone as username)
/// must be free now, so the user is not sent a code that can never succeed.
async fn check_pending_sign_in_names(svc: &Service, pool: &UserPool, user: &User) -> Result<()> {
    for kind in &pool.username_attributes {
        let Some(value) = user.codes.get(&purpose(kind)).and_then(|c| c.pending_value.as_deref()) else {
            continue;
        };
        let lookup = crate::user_index::alias_value(pool, kind, value);
        match svc.alias_holder(pool, kind, &lookup).await? {
            Some(holder) if holder != user.username => return Err(alias_exists(kind)),
            _ => {}
        }
    }
    Ok(())
}

/// Saves the changed user (with `extra` writes in the same transaction), then sends the
/// codes; returns their delivery details.
pub(crate) async fn save_and_send(
    svc: &Service,
    pool: &UserPool,
    user: &User,
    version: u64,
    mut messages: Vec<(OutgoingMessage, Value)>,
    extra: Vec<crate::store::Write>,
    caller: Caller<'_>,
) -> Result<Vec<Value>> {
    check_preferred_username(svc, pool, user).await?;
    check_pending_sign_in_names(svc, pool, user).await?;
    for (msg, _) in &mut messages {
        custom_message(svc, pool, MessageSource::UpdateUserAttribute, user, caller, msg).await?;
    }
    svc.save_user(pool, user, version, extra).await?;
    let mut details = Vec::new();
    for (msg, d) in messages {
        deliver(svc, pool, &msg).await?;
        details.push(d);
    }
    Ok(details)
}

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

pub async fn add_custom_attributes(svc: &Service, input: &Value) -> Result<Value> {
    let pool_id = input.req_str("UserPoolId")?;
    let (mut pool, version) = svc
        .get_json::<UserPool>(&keys::pool(pool_id), keys::POOL_SK)
        .await?
        .ok_or_else(|| Error::ResourceNotFoundException(format!("User pool {pool_id} does not exist.")))?;
    let requested = input.get("CustomAttributes").and_then(Value::as_array).cloned().unwrap_or_default();
    if requested.is_empty() {
        return Err(Error::invalid("CustomAttributes must name at least one attribute."));
    }
    crate::attributes::add_custom_attributes(
        &mut pool.custom_schema,
        &requested,
        svc.config.limits.custom_attributes_per_pool,
    )?;
    pool.modified = svc.clock.now_millis();
    svc.save_pool(&pool, version, vec![]).await?;
    Ok(json!({}))
}
