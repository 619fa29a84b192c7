//! How attribute changes are applied and saved: the checks, what becomes unverified, the
//! verification codes a change sends. Shared by the attribute operations and by sign-in's
//! NEW_PASSWORD_REQUIRED answer, which may set attributes too.
//!
//! The rules themselves (schema, formats, client permissions) live in [`crate::attribute_rules`];
//! sign-in aliases follow from the attributes through `Service::save_user`.

use crate::attribute_rules::{check_value, schema_error, Writer};
use crate::error::Result;
use crate::model::{keys, User, UserPool};
use crate::ports::OutgoingMessage;
use crate::service::users::alias_exists;
use crate::service::Service;
use crate::triggers::Caller;
use crate::user_pool::codes::new_code_to;
use crate::user_pool::delivery::{deliver, Sender};
use crate::user_pool::triggers::lifecycle::{custom_message, MessageSource};
use serde_json::Value;
use std::collections::BTreeMap;

/// Attribute verification codes live 24 hours (as Cognito's do).
pub(super) const VERIFY_CODE_TTL_SECS: i64 = 24 * 3600;

/// The attributes that can be verified with a code.
pub(super) const VERIFIABLE: [&str; 2] = ["email", "phone_number"];

/// The pending-code purpose for verifying an attribute.
pub(super) fn purpose(attribute: &str) -> String {
    format!("verify:{attribute}")
}

/// `(medium, attribute, destination)` for a code to an attribute's value.
pub(super) fn channel_for(attribute: &str, value: &str) -> Option<(&'static str, &'static str, String)> {
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
pub(crate) fn apply_changes(
    svc: &Service,
    pool: &UserPool,
    user: &mut User,
    changes: &[(String, String)],
    writer: Writer,
) -> Result<Vec<(OutgoingMessage, Value)>> {
    let mut changes = changes.to_vec();
    crate::attribute_rules::canonicalize(pool, changes.iter_mut().map(|(n, v)| (&*n, v)));
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
    let listed = pool.settings.attributes_require_verification_before_update().iter().any(|a| a == name);
    listed && pool.auto_verified_attributes.iter().any(|a| a == name)
}

/// A preferred_username alias must not name another user (their username would win).
async fn check_preferred_username(svc: &Service, pool: &UserPool, user: &User) -> Result<()> {
    if !pool.alias_attributes.iter().any(|a| a == "preferred_username") {
        return Ok(());
    }
    let Some(wanted) = user.attr("preferred_username").filter(|v| !v.is_empty()) else { return Ok(()) };
    if user.owned.aliases.get("preferred_username").map(String::as_str)
        == Some(
            crate::user_index::alias_value_for(
                pool.case_sensitive_for(&user.username),
                "preferred_username",
                wanted,
            )
            .as_str(),
        )
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
        let lookup = crate::user_index::alias_value_for(pool.case_sensitive_for(&user.username), kind, value);
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
