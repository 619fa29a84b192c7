//! Where a message goes and how its destination is shown: the verification and recovery
//! channels Cognito picks, the masked destination, and the send itself.

use crate::attribute_rules::is_email;
use crate::attribute_rules::is_phone;
use crate::error::{Error, Result};
use crate::model::User;
use crate::model::{UserPool, VerificationMessageTemplate};
use crate::ports::OutgoingMessage;
use crate::Service;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
/// Masks a destination the way Cognito shows it: `j***@e***`, `+*******1234`.
pub fn mask(channel: &str, destination: &str) -> String {
    if channel == "EMAIL" {
        let (local, domain) = destination.split_once('@').unwrap_or((destination, ""));
        let first = |s: &str| s.chars().next().map(String::from).unwrap_or_default();
        format!("{}***@{}***", first(local), first(domain))
    } else {
        let chars: Vec<char> = destination.chars().collect();
        let keep = chars.len().saturating_sub(4);
        let tail: String = chars.iter().skip(keep).collect();
        format!("+{}{}", "*".repeat(keep.saturating_sub(1)), tail)
    }
}

/// Where a verification code for this user goes, per AutoVerifiedAttributes: when both are
/// auto-verified and the user has both, only the phone gets the code (Cognito's rule).
pub(crate) fn verification_channel(
    pool: &UserPool,
    user: &User,
) -> Option<(&'static str, &'static str, String)> {
    let auto = &pool.auto_verified_attributes;
    if auto.iter().any(|a| a == "phone_number") {
        if let Some(p) = user.attr("phone_number") {
            return Some(("SMS", "phone_number", p.to_string()));
        }
    }
    if auto.iter().any(|a| a == "email") {
        if let Some(e) = user.attr("email") {
            return Some(("EMAIL", "email", e.to_string()));
        }
    }
    None
}

/// The pool's verification message for a channel, with `{####}` and `{username}` filled in.
pub(crate) fn verification_message(
    pool: &UserPool,
    channel: &str,
    code: &str,
    username: &str,
) -> (Option<String>, String) {
    let s = &pool.settings;
    let template = s.verification_message_template.as_ref();
    // The template's member, else its legacy twin.
    let t = |member: fn(&VerificationMessageTemplate) -> &Option<String>, legacy: &Option<String>| {
        template.and_then(|t| member(t).clone()).or_else(|| legacy.clone())
    };
    let (subject, body) = if channel == "EMAIL" {
        (
            t(|t| &t.email_subject, &s.email_verification_subject)
                .unwrap_or_else(|| "Your verification code".into()),
            t(|t| &t.email_message, &s.email_verification_message)
                .unwrap_or_else(|| "Your verification code is {####}. ".into()),
        )
    } else {
        (
            String::new(),
            t(|t| &t.sms_message, &s.sms_verification_message)
                .unwrap_or_else(|| "Your verification code is {####}. ".into()),
        )
    };
    let body =
        body.replace("{####}", code).replace("{username}", &crate::html::for_channel(channel, username));
    ((channel == "EMAIL").then_some(subject), body)
}

/// Who asks for a code to be sent: a user (or anyone holding a client id) is held to the
/// per-purpose send quota; an administrator's sends are recorded but never refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sender {
    User,
    Admin,
}

pub(crate) async fn deliver(svc: &Service, pool: &UserPool, msg: &OutgoingMessage) -> Result<()> {
    let email = pool.settings.email_configuration.as_ref();
    let from = email
        .and_then(|e| e.from.as_deref())
        .or_else(|| email.and_then(|e| e.source_arn.as_deref()).and_then(|arn| arn.rsplit('/').next()))
        .map(str::to_string)
        .or_else(|| svc.config.default_email_from.clone());
    let started = std::time::Instant::now();
    let sent = svc.messenger.send(from.as_deref(), msg).await;
    svc.note_delivery(started.elapsed());
    sent
}

pub(crate) fn no_recovery_channel() -> Error {
    Error::invalid(
        "Cannot reset password for the user as there is no registered/verified email or phone_number",
    )
}

pub(crate) fn verified(
    user: &User,
    attribute: &'static str,
    channel: &'static str,
) -> Option<(&'static str, &'static str, String)> {
    let value = user.attr(attribute)?;
    (user.attr(&format!("{attribute}_verified")) == Some("true") && !value.is_empty())
        .then(|| (channel, attribute, value.to_string()))
}

/// Where a password-reset code goes: the pool's `AccountRecoverySetting` mechanisms by
/// priority, or (without one) a verified phone number, then a verified email. Only verified
/// attributes count; `admin_only` means none.
pub(crate) fn recovery_channel(pool: &UserPool, user: &User) -> Option<(&'static str, &'static str, String)> {
    let mechanisms =
        pool.settings.account_recovery_setting.as_ref().and_then(|s| s.recovery_mechanisms.as_deref());
    let mut names: Vec<(i64, &str)> = match mechanisms {
        Some(list) => list.iter().map(|m| (m.priority, m.name.as_str())).collect(),
        None => vec![(1, "verified_phone_number"), (2, "verified_email")],
    };
    names.sort();
    names.into_iter().find_map(|(_, name)| match name {
        "verified_email" => verified(user, "email", "EMAIL"),
        "verified_phone_number" => verified(user, "phone_number", "SMS"),
        _ => None,
    })
}

/// A believable CodeDeliveryDetails for a user who does not exist (PreventUserExistenceErrors):
/// the same shape a real one has, stable for a given name.
pub(crate) fn simulated_delivery(pool: &UserPool, username: &str) -> Value {
    let (channel, attribute, destination) = if is_email(username) {
        ("EMAIL", "email", username.to_string())
    } else if is_phone(username) {
        ("SMS", "phone_number", username.to_string())
    } else {
        let digest = Sha256::digest(format!("{}:{username}", pool.id).as_bytes());
        let letter = |b: u8| char::from(b'a' + b % 26);
        let sms = pool.username_attributes.iter().any(|a| a == "phone_number")
            && !pool.username_attributes.iter().any(|a| a == "email");
        if sms {
            let digits: String = digest.iter().take(10).map(|b| char::from(b'0' + b % 10)).collect();
            ("SMS", "phone_number", format!("+1{digits}"))
        } else {
            let (a, b) = (digest.first().copied().unwrap_or(0), digest.get(1).copied().unwrap_or(0));
            ("EMAIL", "email", format!("{}@{}.com", letter(a), letter(b)))
        }
    };
    json!({"Destination": mask(channel, &destination), "DeliveryMedium": channel, "AttributeName": attribute})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_like_cognito() {
        assert_eq!(mask("EMAIL", "jane@example.com"), "j***@e***");
        assert_eq!(mask("SMS", "+15555550100"), "+*******0100");
    }
}
