//! The administrators' user operations: AdminCreateUser (with its invitation),
//! AdminConfirmSignUp, AdminGetUser, AdminDeleteUser, AdminDisableUser, AdminEnableUser.

use super::records::delete_user_record;
use crate::attribute_rules::{check_new_user, Writer};
use crate::error::{Error, Result};
use crate::input::{attribute_list, Input};
use crate::model::{MessageTemplate, PasswordState, User, UserPool, UserStatus};
use crate::password::PasswordPolicy;
use crate::ports::{OutgoingMessage, Rng};
use crate::service::Service;
use crate::triggers::Caller;
use crate::user_pool::delivery::deliver;
use crate::user_pool::secrets::password_secrets;
use crate::user_pool::secrets::temporary_password_expiry;
use crate::user_pool::triggers::lifecycle::{self as hooks, MessageSource};
use serde_json::{json, Value};
use std::collections::BTreeMap;

const LOWER: &[u8] = b"abcdefghijkmnopqrstuvwxyz";

const UPPER: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ";

const DIGITS: &[u8] = b"23456789";

/// Symbols from Cognito's set that survive being pasted into a shell or a form.
const SYMBOLS: &[u8] = b"^$*.[]{}()?-!@#%&/,><:;|_~";

/// A temporary password that satisfies any policy: at least 12 characters (or the policy's
/// minimum), with a lower-case letter, an upper-case letter, a digit and a symbol.
fn generate_temporary_password(rng: &dyn Rng, policy: &PasswordPolicy) -> Result<String> {
    let len = (policy.minimum_length as usize).clamp(12, 99);
    let all: Vec<u8> = [LOWER, UPPER, DIGITS, SYMBOLS].concat();
    let mut chars: Vec<char> = [LOWER, UPPER, DIGITS, SYMBOLS]
        .iter()
        .flat_map(|class| rng.string_from(class, 1).chars().collect::<Vec<_>>())
        .collect();
    chars.extend(rng.string_from(&all, len - chars.len()).chars());
    // Fisher–Yates, so the guaranteed characters are not always in front.
    for i in (1..chars.len()).rev() {
        let mut b = [0u8; 4];
        rng.fill(&mut b);
        let j = (u32::from_le_bytes(b) as usize) % (i + 1);
        chars.swap(i, j);
    }
    let password: String = chars.into_iter().collect();
    policy.check(&password).map_err(|_| Error::internal("generated temporary password breaks the policy"))?;
    Ok(password)
}

/// The invitation for a channel from `AdminCreateUserConfig.InviteMessageTemplate`, with
/// Cognito's defaults. None when the template lacks the `{####}` password placeholder, in which
/// case Cognito does not deliver it.
fn invitation(
    pool: &UserPool,
    channel: &str,
    username: &str,
    password: &str,
) -> Option<(Option<String>, String)> {
    let template = pool.settings.invite_message_template();
    let t = |member: fn(&MessageTemplate) -> &Option<String>| template.and_then(|t| member(t).clone());
    let default_body = "Your username is {username} and temporary password is {####}.".to_string();
    let (subject, body) = if channel == "EMAIL" {
        (
            Some(t(|t| &t.email_subject).unwrap_or_else(|| "Your temporary password".into())),
            t(|t| &t.email_message).unwrap_or(default_body),
        )
    } else {
        (None, t(|t| &t.sms_message).unwrap_or(default_body))
    };
    let (username, password) =
        (crate::html::for_channel(channel, username), crate::html::for_channel(channel, password));
    body.contains("{####}")
        .then(|| (subject, body.replace("{username}", &username).replace("{####}", &password)))
}

/// The channels the invitation goes to. Given mediums must each have their attribute; without
/// any, SMS when there is a phone number, else email when there is an email, else none.
fn invitation_channels(
    input: &Value,
    attributes: &BTreeMap<String, String>,
) -> Result<Vec<(&'static str, String)>> {
    let given: Vec<&str> = input
        .get("DesiredDeliveryMediums")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let destination = |channel: &str| {
        let attribute = if channel == "EMAIL" { "email" } else { "phone_number" };
        attributes.get(attribute).filter(|v| !v.is_empty()).cloned()
    };
    if given.is_empty() {
        return Ok(["SMS", "EMAIL"]
            .into_iter()
            .find_map(|c| destination(c).map(|d| (c, d)))
            .into_iter()
            .collect());
    }
    let mut out = Vec::new();
    for channel in ["EMAIL", "SMS"] {
        if given.contains(&channel) {
            let d = destination(channel).ok_or_else(|| {
                Error::invalid(if channel == "EMAIL" {
                    "User has no attribute matching desired delivery mediums: email is required for EMAIL"
                } else {
                    "User has no attribute matching desired delivery mediums: phone_number is required for SMS"
                })
            })?;
            out.push((channel, d));
        }
    }
    Ok(out)
}

fn user_exists(pool: &UserPool) -> Error {
    if pool.username_attributes.is_empty() {
        Error::UsernameExistsException("User account already exists".into())
    } else if pool.username_attributes.len() == 1 && pool.username_attributes.iter().any(|a| a == "email") {
        Error::UsernameExistsException("An account with the given email already exists.".into())
    } else if pool.username_attributes.len() == 1 {
        Error::UsernameExistsException("An account with the given phone_number already exists.".into())
    } else {
        Error::UsernameExistsException("User account already exists".into())
    }
}

/// The invitation for each channel, written by the pool's CustomMessage function when it has
/// one; the temporary password rides in the outbox's `code`. Nothing is sent yet.
async fn invitations(
    svc: &Service,
    pool: &UserPool,
    user: &User,
    shown_username: &str,
    password: &str,
    channels: &[(&'static str, String)],
    input: &Value,
) -> Result<Vec<OutgoingMessage>> {
    let mut out = Vec::new();
    for (channel, destination) in channels {
        let Some((subject, body)) = invitation(pool, channel, shown_username, password) else { continue };
        let mut msg = OutgoingMessage {
            pool_id: pool.id.clone(),
            username: shown_username.to_string(),
            channel: channel.to_string(),
            destination: destination.clone(),
            subject,
            body,
            code: Some(password.to_string()),
            sent_at: svc.clock.now_millis(),
        };
        let caller = Caller::new(None, input);
        hooks::custom_message(svc, pool, MessageSource::AdminCreateUser, user, caller, &mut msg).await?;
        out.push(msg);
    }
    Ok(out)
}

async fn send_all(svc: &Service, pool: &UserPool, messages: &[OutgoingMessage]) -> Result<()> {
    for msg in messages {
        deliver(svc, pool, msg).await?;
    }
    Ok(())
}

/// The temporary password: the given one (checked against the policy) or a generated one.
fn temporary_password(svc: &Service, pool: &UserPool, input: &Value) -> Result<String> {
    match input.str_of("TemporaryPassword").filter(|p| !p.is_empty()) {
        Some(p) => {
            pool.password_policy.check(p)?;
            Ok(p.to_string())
        }
        None => generate_temporary_password(svc.rng.as_ref(), &pool.password_policy),
    }
}

pub async fn admin_create_user(svc: &Service, input: &Value) -> Result<Value> {
    let pool = svc.pool(input.req_str("UserPoolId")?).await?;
    let given_username = input.req_str("Username")?;
    let action = input.str_of("MessageAction");
    if action == Some("RESEND") {
        return resend_invitation(svc, &pool, given_username, input).await;
    }
    let mut attributes: BTreeMap<String, String> =
        attribute_list(input, "UserAttributes").into_iter().collect();
    crate::attribute_rules::canonicalize(&pool, attributes.iter_mut());
    if attributes.contains_key("sub") {
        return Err(Error::invalid(
            "Attributes did not conform to the schema: sub: Attribute cannot be updated. (changing an immutable attribute)",
        ));
    }
    let sub = svc.rng.uuid().to_string();
    let (username, username_attribute) =
        crate::user_pool::users::records::internal_username(&pool, given_username, &sub)?;
    if let Some((kind, value)) = &username_attribute {
        attributes.insert(kind.to_string(), value.clone());
    }
    for (flag, attribute) in [("email_verified", "email"), ("phone_number_verified", "phone_number")] {
        if let Some(v) = attributes.get(flag) {
            if v != "true" && v != "false" {
                return Err(Error::invalid(format!("Invalid value for {flag}: must be true or false.")));
            }
            if v == "true" && attributes.get(attribute).is_none_or(|a| a.is_empty()) {
                return Err(Error::invalid(format!(
                    "You must provide a value for {attribute} to set {flag} to true."
                )));
            }
        }
    }
    check_new_user(&pool, &attributes, Writer::AdminCreate)?;
    attributes.insert("sub".into(), sub.clone());
    let password = temporary_password(svc, &pool, input)?;
    let channels =
        if action == Some("SUPPRESS") { Vec::new() } else { invitation_channels(input, &attributes)? };
    if svc.find_user(&pool, given_username).await?.is_some() {
        return Err(user_exists(&pool));
    }
    // Cognito ignores this source's response flags: admin-created users change their password.
    hooks::pre_sign_up(svc, &pool, true, &username, &attributes, Caller::new(None, input), input).await?;
    let (password_hash, srp) = password_secrets(svc, &pool, &username, &password).await?;
    let now = svc.clock.now_millis();
    let mut user =
        User::new(username.clone(), sub.clone(), attributes, UserStatus::FORCE_CHANGE_PASSWORD, now);
    user.password_hash = Some(password_hash);
    user.srp = Some(srp);
    user.password_state = PasswordState {
        temporary_expires_at: Some(temporary_password_expiry(svc, &pool)),
        ..Default::default()
    };
    let messages = invitations(svc, &pool, &user, given_username, &password, &channels, input).await?;
    let takeover = if input.bool_of("ForceAliasCreation") == Some(true) {
        svc.take_aliases(&pool, &user).await?
    } else {
        Default::default()
    };
    // A name taken between the check above and this write answers the same way.
    svc.insert_user_taking(&pool, &user, takeover, vec![]).await.map_err(|e| match e {
        Error::UsernameExistsException(_) => user_exists(&pool),
        other => other,
    })?;
    send_all(svc, &pool, &messages).await?;
    Ok(json!({"User": user.user_type(None)}))
}

/// MessageAction RESEND: a new temporary password and validity for a user still in
/// FORCE_CHANGE_PASSWORD, sent again.
async fn resend_invitation(
    svc: &Service,
    pool: &UserPool,
    given_username: &str,
    input: &Value,
) -> Result<Value> {
    let (mut user, version) = svc.require_user(pool, given_username).await?;
    if user.status != UserStatus::FORCE_CHANGE_PASSWORD {
        return Err(Error::UnsupportedUserStateException(format!(
            "Resend not possible. {} status is not FORCE_CHANGE_PASSWORD",
            user.username
        )));
    }
    let password = temporary_password(svc, pool, input)?;
    let channels = invitation_channels(input, &user.attributes)?;
    let (hash, srp) = password_secrets(svc, pool, &user.username, &password).await?;
    user.password_hash = Some(hash);
    user.srp = Some(srp);
    user.password_state = PasswordState {
        temporary_expires_at: Some(temporary_password_expiry(svc, pool)),
        ..Default::default()
    };
    user.modified = svc.clock.now_millis();
    let messages = invitations(svc, pool, &user, given_username, &password, &channels, input).await?;
    svc.save_user(pool, &user, version, vec![]).await?;
    send_all(svc, pool, &messages).await?;
    Ok(json!({"User": user.user_type(None)}))
}

pub async fn admin_confirm_sign_up(svc: &Service, input: &Value) -> Result<Value> {
    let pool = svc.pool(input.req_str("UserPoolId")?).await?;
    let (mut user, version) = svc.require_user(&pool, input.req_str("Username")?).await?;
    if user.status != UserStatus::UNCONFIRMED {
        return Err(Error::NotAuthorizedException(format!(
            "User cannot be confirmed. Current status is {}",
            user.status.as_str()
        )));
    }
    user.status = UserStatus::CONFIRMED;
    user.codes.remove("signup");
    user.modified = svc.clock.now_millis();
    svc.save_user(&pool, &user, version, vec![]).await?;
    hooks::post_confirmation(svc, &pool, false, &user, Caller::new(None, input)).await?;
    Ok(json!({}))
}

pub async fn admin_get_user(svc: &Service, input: &Value) -> Result<Value> {
    let pool = svc.pool(input.req_str("UserPoolId")?).await?;
    let (user, _) = svc.require_user(&pool, input.req_str("Username")?).await?;
    let mut out = json!({
        "Username": user.username,
        "UserAttributes": user.attributes_json(),
        "UserCreateDate": user.created as f64 / 1000.0,
        "UserLastModifiedDate": user.modified as f64 / 1000.0,
        "Enabled": user.enabled,
        "UserStatus": user.status.as_str(),
    });
    if let Some(o) = out.as_object_mut() {
        o.extend(crate::user_pool::mfa::factors::user_mfa_json(&user));
    }
    Ok(out)
}

pub async fn admin_delete_user(svc: &Service, input: &Value) -> Result<Value> {
    let pool = svc.pool(input.req_str("UserPoolId")?).await?;
    let (user, version) = svc.require_user(&pool, input.req_str("Username")?).await?;
    delete_user_record(svc, &pool, &user, version).await?;
    Ok(json!({}))
}

pub async fn admin_disable_user(svc: &Service, input: &Value) -> Result<Value> {
    let pool = svc.pool(input.req_str("UserPoolId")?).await?;
    let (mut user, version) = svc.require_user(&pool, input.req_str("Username")?).await?;
    user.enabled = false;
    // Disabling also revokes every token the user holds, as Cognito's does.
    user.signed_out_at_ms = svc.clock.now_millis();
    user.modified = user.signed_out_at_ms;
    svc.save_user(&pool, &user, version, vec![]).await?;
    Ok(json!({}))
}

pub async fn admin_enable_user(svc: &Service, input: &Value) -> Result<Value> {
    let pool = svc.pool(input.req_str("UserPoolId")?).await?;
    let (mut user, version) = svc.require_user(&pool, input.req_str("Username")?).await?;
    if !user.enabled {
        user.enabled = true;
        user.modified = svc.clock.now_millis();
        svc.save_user(&pool, &user, version, vec![]).await?;
    }
    Ok(json!({}))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::SystemRng;

    #[test]
    fn generated_passwords_meet_strict_policies() {
        let mut policy = PasswordPolicy::default();
        for min in [6, 8, 12, 20, 99] {
            policy.minimum_length = min;
            for _ in 0..50 {
                let p = generate_temporary_password(&SystemRng, &policy);
                assert!(p
                    .as_ref()
                    .is_ok_and(|p| policy.check(p).is_ok() && p.chars().count() >= min as usize));
            }
        }
    }
}
