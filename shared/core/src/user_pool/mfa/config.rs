//! The pool's MFA configuration: GetUserPoolMfaConfig, SetUserPoolMfaConfig.
//!
//! Where a pool keeps it: `MfaConfiguration`, `SmsConfiguration` and `SmsAuthenticationMessage`
//! are UserPoolType members in `pool.settings`, as CreateUserPool/UpdateUserPool set them.
//! Which factors SetUserPoolMfaConfig turned on is kept under [`MFA_FACTORS_SETTING`], which
//! DescribeUserPool does not show and UpdateUserPool does not reset.

use super::factors::not_supported;
use crate::error::{Error, Result};
use crate::input::Input;
use crate::model::{keys, UserPool};
use crate::service::Service;
use crate::user_pool::mfa::factors::check_sms_authentication_message;
use crate::user_pool::mfa::factors::pool_mfa_mode;
use crate::user_pool::mfa::factors::pool_sms_mfa;
use crate::user_pool::mfa::factors::pool_software_token_mfa;
use crate::user_pool::mfa::factors::MFA_FACTORS_SETTING;
use serde_json::{json, Value};

/// GetUserPoolMfaConfig's answer: the mode, the TOTP switch, and the SMS settings while SMS
/// MFA is on.
fn mfa_config_json(pool: &UserPool) -> Value {
    let mut out = json!({
        "MfaConfiguration": pool_mfa_mode(pool),
        "SoftwareTokenMfaConfiguration": {"Enabled": pool_software_token_mfa(pool)},
    });
    if pool_sms_mfa(pool) {
        let mut sms = serde_json::Map::new();
        for member in ["SmsAuthenticationMessage", "SmsConfiguration"] {
            if let Some(v) = pool.settings.get(member) {
                sms.insert(member.into(), v.clone());
            }
        }
        out["SmsMfaConfiguration"] = Value::Object(sms);
    }
    out
}

pub async fn get_user_pool_mfa_config(svc: &Service, input: &Value) -> Result<Value> {
    let pool = svc.pool(input.req_str("UserPoolId")?).await?;
    Ok(mfa_config_json(&pool))
}

/// Sets the mode and the factors together: an SmsMfaConfiguration turns SMS MFA on (its
/// SmsConfiguration and SmsAuthenticationMessage become the pool's), its absence turns it off;
/// software-token MFA is on only while `SoftwareTokenMfaConfiguration.Enabled` says so. An
/// omitted MfaConfiguration keeps the current mode. Email MFA and passkeys are refused.
pub async fn set_user_pool_mfa_config(svc: &Service, input: &Value) -> Result<Value> {
    let pool_id = input.req_str("UserPoolId")?;
    for (member, what) in [
        ("EmailMfaConfiguration", "Email MFA (EmailMfaConfiguration)"),
        ("WebAuthnConfiguration", "Passkey sign-in (WebAuthnConfiguration)"),
    ] {
        if input.get(member).is_some_and(|v| !v.is_null()) {
            return Err(not_supported(what));
        }
    }
    let (mut pool, version) = svc
        .get_json::<UserPool>(&keys::pool(pool_id), keys::POOL_SK)
        .await?
        .ok_or_else(|| Error::ResourceNotFoundException(format!("User pool {pool_id} does not exist.")))?;
    let mode = input.str_of("MfaConfiguration").unwrap_or(pool_mfa_mode(&pool)).to_string();
    let sms = input.get("SmsMfaConfiguration").filter(|v| !v.is_null());
    let totp =
        input.get("SoftwareTokenMfaConfiguration").and_then(|c| c.get("Enabled")).and_then(Value::as_bool)
            == Some(true);
    match mode.as_str() {
        "OFF" if sms.is_some() || totp => {
            return Err(Error::invalid(
                "Invalid MFA configuration given, can't turn off MFA and configure an MFA together.",
            ))
        }
        "ON" | "OPTIONAL" if sms.is_none() && !totp => {
            return Err(Error::invalid(
                "Invalid MFA configuration given, can't disable all MFAs with a required or optional configuration.",
            ))
        }
        "OFF" | "ON" | "OPTIONAL" => {}
        other => return Err(Error::invalid(format!("Invalid MfaConfiguration: {other}"))),
    }
    if let Some(sms) = sms {
        if let Some(message) = sms.get("SmsAuthenticationMessage").and_then(Value::as_str) {
            check_sms_authentication_message(message)?;
            pool.settings.insert("SmsAuthenticationMessage".into(), json!(message));
        }
        match sms.get("SmsConfiguration").filter(|c| c.is_object()) {
            Some(config) => {
                pool.settings.insert("SmsConfiguration".into(), config.clone());
            }
            None if pool.settings.get("SmsConfiguration").is_some_and(Value::is_object) => {}
            None => {
                return Err(Error::invalid(
                    "SMS MFA needs an SmsConfiguration: set SmsMfaConfiguration.SmsConfiguration.",
                ))
            }
        }
    }
    pool.settings.insert("MfaConfiguration".into(), json!(mode));
    if mode == "OFF" {
        pool.settings.remove(MFA_FACTORS_SETTING);
    } else {
        pool.settings.insert(
            MFA_FACTORS_SETTING.into(),
            json!({"SoftwareTokenMfaEnabled": totp, "SmsMfaDisabled": sms.is_none()}),
        );
    }
    pool.modified = svc.clock.now_millis();
    svc.save_pool(&pool, version, vec![]).await?;
    Ok(mfa_config_json(&pool))
}
