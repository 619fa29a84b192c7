//! The pool's MFA configuration: GetUserPoolMfaConfig, SetUserPoolMfaConfig.
//!
//! Where a pool keeps it: `MfaConfiguration`, `SmsConfiguration` and `SmsAuthenticationMessage`
//! are UserPoolType members in `pool.settings`, as CreateUserPool/UpdateUserPool set them.
//! Which factors SetUserPoolMfaConfig turned on is kept in `pool.settings.mfa_factors` (stored
//! under [`MFA_FACTORS_SETTING`](super::factors::MFA_FACTORS_SETTING)), which DescribeUserPool
//! does not show and UpdateUserPool does not reset.

use super::factors::not_supported;
use crate::error::{Error, Result};
use crate::input::Input;
use crate::model::{keys, MfaConfiguration, MfaFactors, UserPool};
use crate::service::Service;
use crate::user_pool::mfa::factors::check_sms_authentication_message;
use crate::user_pool::mfa::factors::pool_mfa_mode;
use crate::user_pool::mfa::factors::pool_sms_mfa;
use crate::user_pool::mfa::factors::pool_software_token_mfa;
use serde_json::{json, Value};

/// GetUserPoolMfaConfig's answer: the mode, the TOTP switch, and the SMS settings while SMS
/// MFA is on.
fn mfa_config_json(pool: &UserPool) -> Value {
    let mut out = json!({
        "MfaConfiguration": pool_mfa_mode(pool).as_str(),
        "SoftwareTokenMfaConfiguration": {"Enabled": pool_software_token_mfa(pool)},
    });
    if pool_sms_mfa(pool) {
        let mut sms = serde_json::Map::new();
        if let Some(message) = &pool.settings.sms_authentication_message {
            sms.insert("SmsAuthenticationMessage".into(), json!(message));
        }
        if let Some(config) = &pool.settings.sms_configuration {
            sms.insert("SmsConfiguration".into(), Value::Object(config.clone()));
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
    let mode = input.str_of("MfaConfiguration").unwrap_or(pool_mfa_mode(&pool).as_str()).to_string();
    let sms = input.get("SmsMfaConfiguration").filter(|v| !v.is_null());
    let totp =
        input.get("SoftwareTokenMfaConfiguration").and_then(|c| c.get("Enabled")).and_then(Value::as_bool)
            == Some(true);
    let mode = match MfaConfiguration::from_name(&mode) {
        Some(MfaConfiguration::Off) if sms.is_some() || totp => {
            return Err(Error::invalid(
                "Invalid MFA configuration given, can't turn off MFA and configure an MFA together.",
            ))
        }
        Some(MfaConfiguration::On | MfaConfiguration::Optional) if sms.is_none() && !totp => {
            return Err(Error::invalid(
                "Invalid MFA configuration given, can't disable all MFAs with a required or optional configuration.",
            ))
        }
        Some(mode) => mode,
        None => return Err(Error::invalid(format!("Invalid MfaConfiguration: {mode}"))),
    };
    if let Some(sms) = sms {
        if let Some(message) = sms.get("SmsAuthenticationMessage").and_then(Value::as_str) {
            check_sms_authentication_message(message)?;
            pool.settings.sms_authentication_message = Some(message.to_string());
        }
        match sms.get("SmsConfiguration").and_then(Value::as_object) {
            Some(config) => {
                pool.settings.sms_configuration = Some(config.clone());
            }
            None if pool.settings.sms_configuration.is_some() => {}
            None => {
                return Err(Error::invalid(
                    "SMS MFA needs an SmsConfiguration: set SmsMfaConfiguration.SmsConfiguration.",
                ))
            }
        }
    }
    pool.settings.mfa_configuration = Some(mode);
    pool.settings.mfa_factors = (mode != MfaConfiguration::Off).then_some(MfaFactors {
        software_token_mfa_enabled: Some(totp),
        sms_mfa_disabled: Some(sms.is_none()),
    });
    pool.modified = svc.clock.now_millis();
    svc.save_pool(&pool, version, vec![]).await?;
    Ok(mfa_config_json(&pool))
}
