//! The user's MFA preference: SetUserMFAPreference, AdminSetUserMFAPreference, and the legacy
//! SetUserSettings, AdminSetUserSettings.

use super::factors::not_supported;
use crate::error::{Error, Result};
use crate::input::Input;
use crate::model::{MfaMethod, User};
use crate::service::{CallContext, Service};
use crate::user_pool::access::authorize_access_token;
use crate::user_pool::mfa::factors::has_phone;
use serde_json::{json, Value};

/// One `*MfaSettings` member: what it says, where it says anything.
#[derive(Debug, Clone, Copy, Default)]
struct MethodSetting {
    enabled: Option<bool>,
    preferred: Option<bool>,
}

fn method_setting(input: &Value, member: &str) -> MethodSetting {
    let m = input.get(member);
    let flag = |name: &str| m.and_then(|m| m.get(name)).and_then(Value::as_bool);
    MethodSetting { enabled: flag("Enabled"), preferred: flag("PreferredMfa") }
}

/// Applies `SMSMfaSettings` / `SoftwareTokenMfaSettings` to the user. A method is enabled only
/// when the user can receive it (a verified software token; a phone_number), at most one is
/// preferred, only an enabled method can be, and turning off the preferred method clears the
/// preference. Members left out change nothing.
fn apply_mfa_preference(user: &mut User, input: &Value) -> Result<()> {
    for (member, what) in [
        ("EmailMfaSettings", "Email MFA (EmailMfaSettings)"),
        ("WebAuthnMfaSettings", "Passkey MFA (WebAuthnMfaSettings)"),
    ] {
        let s = method_setting(input, member);
        if s.enabled == Some(true) || s.preferred == Some(true) {
            return Err(not_supported(what));
        }
    }
    let sms = method_setting(input, "SMSMfaSettings");
    let token = method_setting(input, "SoftwareTokenMfaSettings");
    if sms.preferred == Some(true) && token.preferred == Some(true) {
        return Err(Error::invalid("Only one MFA method can be preferred."));
    }
    if token.enabled == Some(true) && user.mfa.software_token.is_none() {
        return Err(Error::invalid("User does not have delivery config set to turn on SOFTWARE_TOKEN_MFA"));
    }
    if sms.enabled == Some(true) && !has_phone(user) {
        return Err(Error::invalid("User does not have delivery config set to turn on SMS_MFA"));
    }
    let sms_on = sms.enabled.unwrap_or(user.mfa.sms_enabled);
    let token_on = token.enabled.unwrap_or(user.mfa.software_token_enabled);
    for (setting, on, method) in [(sms, sms_on, MfaMethod::Sms), (token, token_on, MfaMethod::SoftwareToken)]
    {
        if setting.preferred == Some(true) && !on {
            return Err(Error::invalid(format!(
                "{} cannot be the preferred MFA method while it is disabled.",
                method.as_str()
            )));
        }
    }
    let mut preferred = user.mfa.preferred;
    if sms.preferred == Some(true) {
        preferred = Some(MfaMethod::Sms);
    } else if token.preferred == Some(true) {
        preferred = Some(MfaMethod::SoftwareToken);
    }
    user.mfa.preferred = preferred.filter(|p| match p {
        MfaMethod::Sms => sms_on && sms.preferred != Some(false),
        MfaMethod::SoftwareToken => token_on && token.preferred != Some(false),
    });
    user.mfa.sms_enabled = sms_on;
    user.mfa.software_token_enabled = token_on;
    Ok(())
}

pub async fn set_user_mfa_preference(svc: &Service, ctx: &CallContext, input: &Value) -> Result<Value> {
    let session = authorize_access_token(svc, ctx, input.req_str("AccessToken")?).await?;
    let mut user = session.user;
    apply_mfa_preference(&mut user, input)?;
    user.modified = svc.clock.now_millis();
    svc.save_user(&session.pool, &user, session.version, vec![]).await?;
    Ok(json!({}))
}

pub async fn admin_set_user_mfa_preference(svc: &Service, input: &Value) -> Result<Value> {
    let pool = svc.pool(input.req_str("UserPoolId")?).await?;
    let (mut user, version) = svc.require_user(&pool, input.req_str("Username")?).await?;
    apply_mfa_preference(&mut user, input)?;
    user.modified = svc.clock.now_millis();
    svc.save_user(&pool, &user, version, vec![]).await?;
    Ok(json!({}))
}

/// The legacy `MFAOptions`: `[{"DeliveryMedium": "SMS", "AttributeName": "phone_number"}]`
/// turns SMS MFA on, `[]` turns it off (and drops it as the preference).
fn apply_mfa_options(user: &mut User, input: &Value) -> Result<()> {
    let options = input.get("MFAOptions").and_then(Value::as_array).ok_or_else(|| {
        Error::invalid(crate::input::validation_message("MFAOptions", None, crate::input::MUST_NOT_BE_NULL))
    })?;
    let mut sms = false;
    for option in options {
        match (option.str_of("DeliveryMedium"), option.str_of("AttributeName")) {
            (Some("SMS"), Some("phone_number") | None) => sms = true,
            _ => {
                return Err(Error::invalid(
                    "MFAOptions can only turn on SMS to phone_number (DeliveryMedium SMS, AttributeName phone_number).",
                ))
            }
        }
    }
    if sms && !has_phone(user) {
        return Err(Error::invalid("User does not have delivery config set to turn on SMS_MFA"));
    }
    user.mfa.sms_enabled = sms;
    if !sms && user.mfa.preferred == Some(MfaMethod::Sms) {
        user.mfa.preferred = None;
    }
    Ok(())
}

pub async fn set_user_settings(svc: &Service, ctx: &CallContext, input: &Value) -> Result<Value> {
    let session = authorize_access_token(svc, ctx, input.req_str("AccessToken")?).await?;
    let mut user = session.user;
    apply_mfa_options(&mut user, input)?;
    user.modified = svc.clock.now_millis();
    svc.save_user(&session.pool, &user, session.version, vec![]).await?;
    Ok(json!({}))
}

pub async fn admin_set_user_settings(svc: &Service, input: &Value) -> Result<Value> {
    let pool = svc.pool(input.req_str("UserPoolId")?).await?;
    let (mut user, version) = svc.require_user(&pool, input.req_str("Username")?).await?;
    apply_mfa_options(&mut user, input)?;
    user.modified = svc.clock.now_millis();
    svc.save_user(&pool, &user, version, vec![]).await?;
    Ok(json!({}))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::UserStatus;
    use crate::user_pool::mfa::factors::user_mfa_json;

    fn user(phone: bool, sms: bool, token: bool, totp: bool, preferred: Option<MfaMethod>) -> User {
        let mut attrs = std::collections::BTreeMap::new();
        if phone {
            attrs.insert("phone_number".to_string(), "+15555550100".to_string());
        }
        let mut u = User::new("jane".into(), "s".into(), attrs, UserStatus::CONFIRMED, 0);
        u.mfa.sms_enabled = sms;
        u.mfa.software_token = token.then(|| "sealed".to_string());
        u.mfa.software_token_enabled = totp;
        u.mfa.preferred = preferred;
        u
    }

    #[test]
    fn preferences_follow_the_rules() {
        let set = |u: &mut User, v: Value| apply_mfa_preference(u, &v).map_err(|e| e.to_string());
        let on = |e: bool, p: bool| json!({"Enabled": e, "PreferredMfa": p});
        let mut u = user(false, false, false, false, None);
        assert!(set(&mut u, json!({"SoftwareTokenMfaSettings": on(true, false)}))
            .unwrap_err()
            .contains("SOFTWARE_TOKEN_MFA"));
        assert!(set(&mut u, json!({"SMSMfaSettings": on(true, false)})).unwrap_err().contains("SMS_MFA"));
        assert!(set(&mut u, json!({"EmailMfaSettings": on(true, false)}))
            .unwrap_err()
            .contains("not supported"));
        assert!(set(&mut u, json!({"EmailMfaSettings": on(false, false)})).is_ok());
        let mut u = user(true, false, true, false, None);
        assert!(set(
            &mut u,
            json!({"SMSMfaSettings": on(true, true), "SoftwareTokenMfaSettings": on(true, true)})
        )
        .unwrap_err()
        .contains("Only one"));
        assert!(set(&mut u, json!({"SMSMfaSettings": {"PreferredMfa": true}}))
            .unwrap_err()
            .contains("disabled"));
        assert_eq!(u.mfa, user(true, false, true, false, None).mfa, "refused: unchanged");
        set(&mut u, json!({"SMSMfaSettings": on(true, false), "SoftwareTokenMfaSettings": on(true, true)}))
            .unwrap();
        assert_eq!((u.mfa.sms_enabled, u.mfa.software_token_enabled), (true, true));
        assert_eq!(u.mfa.preferred, Some(MfaMethod::SoftwareToken));
        // Preferring SMS moves the preference; PreferredMfa false on the preferred one drops it.
        set(&mut u, json!({"SMSMfaSettings": {"PreferredMfa": true}})).unwrap();
        assert_eq!(u.mfa.preferred, Some(MfaMethod::Sms));
        set(&mut u, json!({"SMSMfaSettings": {"Enabled": true, "PreferredMfa": false}})).unwrap();
        assert_eq!(u.mfa.preferred, None);
        set(&mut u, json!({"SoftwareTokenMfaSettings": on(true, true)})).unwrap();
        set(&mut u, json!({"SoftwareTokenMfaSettings": {"Enabled": false}})).unwrap();
        assert_eq!((u.mfa.software_token_enabled, u.mfa.preferred), (false, None));
        assert!(u.mfa.sms_enabled, "a member left out changes nothing");
        let fields = user_mfa_json(&u);
        assert_eq!(fields.get("UserMFASettingList"), Some(&json!(["SMS_MFA"])));
        assert_eq!(
            fields.get("MFAOptions"),
            Some(&json!([{"DeliveryMedium": "SMS", "AttributeName": "phone_number"}]))
        );
        assert_eq!(fields.get("PreferredMfaSetting"), None);
        assert!(user_mfa_json(&user(true, false, true, false, None)).is_empty());
    }

    #[test]
    fn legacy_mfa_options() {
        let apply = |u: &mut User, v: Value| apply_mfa_options(u, &v).map_err(|e| e.to_string());
        let sms = json!({"MFAOptions": [{"DeliveryMedium": "SMS", "AttributeName": "phone_number"}]});
        let mut u = user(false, false, false, false, None);
        assert!(apply(&mut u, sms.clone()).unwrap_err().contains("SMS_MFA"));
        let mut u = user(true, false, false, false, None);
        apply(&mut u, sms).unwrap();
        assert!(u.mfa.sms_enabled);
        u.mfa.preferred = Some(MfaMethod::Sms);
        apply(&mut u, json!({"MFAOptions": []})).unwrap();
        assert_eq!((u.mfa.sms_enabled, u.mfa.preferred), (false, None));
        assert!(apply(
            &mut u,
            json!({"MFAOptions": [{"DeliveryMedium": "EMAIL", "AttributeName": "email"}]})
        )
        .is_err());
        assert!(apply(&mut u, json!({})).is_err());
    }
}
