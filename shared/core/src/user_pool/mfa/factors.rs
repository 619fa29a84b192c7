//! Which second factors a pool allows and a user has: what a sign-in needs, what it may select
//! or set up, SMS codes, and the pool's MFA settings checks.

use crate::error::{Error, Result};
use crate::model::MfaMethod;
use crate::model::User;
use crate::model::{MfaConfiguration, PoolSettings, UserPool};
use crate::ports::OutgoingMessage;
use crate::ports::SecretCipher;
use crate::triggers::Caller;
use crate::user_pool::codes::code_hash;
use crate::user_pool::delivery::deliver;
use crate::user_pool::delivery::mask;
use crate::user_pool::triggers::lifecycle::custom_message;
use crate::user_pool::triggers::lifecycle::MessageSource;
use crate::Service;
use serde_json::{json, Value};

/// Cognito's SMS MFA text when the pool sets no `SmsAuthenticationMessage`.
pub const DEFAULT_SMS_AUTHENTICATION_MESSAGE: &str = "Your authentication code is {####}. ";

/// The pool setting (not a UserPoolType member) recording the factors SetUserPoolMfaConfig
/// chose: `{"SoftwareTokenMfaEnabled": bool, "SmsMfaDisabled": bool}`.
pub const MFA_FACTORS_SETTING: &str = "TesseraMfaFactors";

/// What a sign-in whose password (or custom challenge) checked out still needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MfaNeed {
    /// No MFA: tokens may be issued.
    None,
    /// An SMS_MFA challenge (send the code with [`send_sms_mfa_code`]).
    Sms,
    /// A SOFTWARE_TOKEN_MFA challenge (check the answer with
    /// [`check_software_token_code`](super::totp::check_software_token_code)).
    SoftwareToken,
    /// A SELECT_MFA_TYPE challenge with [`mfas_can_select`].
    Select,
    /// An MFA_SETUP challenge with [`mfas_can_setup`] (the pool requires MFA and the user has
    /// no usable method).
    Setup,
}

/// The pool's `MfaConfiguration` (OFF when unset).
pub fn pool_mfa_mode(pool: &UserPool) -> MfaConfiguration {
    pool.settings.mfa_mode()
}

/// Whether the pool offers SMS MFA: MFA is not OFF, the pool has an SmsConfiguration, and
/// SetUserPoolMfaConfig did not leave SMS out.
pub fn pool_sms_mfa(pool: &UserPool) -> bool {
    let disabled = pool.settings.mfa_factors.as_ref().and_then(|f| f.sms_mfa_disabled) == Some(true);
    pool_mfa_mode(pool) != MfaConfiguration::Off && pool.settings.sms_configuration.is_some() && !disabled
}

/// Whether the pool offers software-token (TOTP) MFA; only SetUserPoolMfaConfig turns it on.
pub fn pool_software_token_mfa(pool: &UserPool) -> bool {
    pool.settings.mfa_factors.as_ref().and_then(|f| f.software_token_mfa_enabled) == Some(true)
}

/// The methods this user can be challenged with at sign-in, SMS first.
///
/// - SMS: the pool offers SMS MFA, the user has a phone_number (verified or not: Cognito does
///   not require it) and has SMS MFA enabled — or the pool requires MFA (ON), where Cognito
///   sends SMS codes to every user with a phone number ("you can't turn off SMS MFA for any of
///   your users when MFA is required").
/// - Software token: the user has a verified token and has it enabled — or the pool requires
///   MFA and the token is verified (it is then the user's only way through). The pool's TOTP
///   setting does not matter here: a token verified before the pool turned TOTP off stays
///   usable.
pub fn usable_methods(pool: &UserPool, user: &User) -> Vec<MfaMethod> {
    let required = pool_mfa_mode(pool) == MfaConfiguration::On;
    let mut out = Vec::new();
    let has_phone = user.attr("phone_number").is_some_and(|p| !p.is_empty());
    if pool_sms_mfa(pool) && has_phone && (user.mfa.sms_enabled || required) {
        out.push(MfaMethod::Sms);
    }
    if user.mfa.software_token.is_some() && (user.mfa.software_token_enabled || required) {
        out.push(MfaMethod::SoftwareToken);
    }
    out
}

/// The MFA step a sign-in needs after the password. OFF pools need none; otherwise the
/// preferred method when it is usable, else the only usable one, else a choice between two;
/// with none usable, OPTIONAL pools need nothing and ON pools need a setup.
pub fn mfa_need(pool: &UserPool, user: &User) -> MfaNeed {
    if pool_mfa_mode(pool) == MfaConfiguration::Off {
        return MfaNeed::None;
    }
    let usable = usable_methods(pool, user);
    let need = |m: MfaMethod| match m {
        MfaMethod::Sms => MfaNeed::Sms,
        MfaMethod::SoftwareToken => MfaNeed::SoftwareToken,
    };
    if let Some(p) = user.mfa.preferred.filter(|p| usable.contains(p)) {
        return need(p);
    }
    match usable.as_slice() {
        [one] => need(*one),
        [] if pool_mfa_mode(pool) == MfaConfiguration::On => MfaNeed::Setup,
        [] => MfaNeed::None,
        _ => MfaNeed::Select,
    }
}

/// `MFAS_CAN_CHOOSE` of a SELECT_MFA_TYPE challenge (JSON-encode the list as a string).
pub fn mfas_can_select(pool: &UserPool, user: &User) -> Vec<&'static str> {
    usable_methods(pool, user).into_iter().map(MfaMethod::as_str).collect()
}

/// `MFAS_CAN_SETUP` of an MFA_SETUP challenge: the factors the pool offers, as Cognito lists
/// them (e.g. `["SMS_MFA","SOFTWARE_TOKEN_MFA"]`). Only SOFTWARE_TOKEN_MFA can actually be set
/// up inside a sign-in (AssociateSoftwareToken and VerifySoftwareToken with the Session): a
/// user without a phone number cannot add one without an access token. When the list lacks
/// SOFTWARE_TOKEN_MFA the sign-in cannot complete the setup.
pub fn mfas_can_setup(pool: &UserPool) -> Vec<&'static str> {
    let mut out = Vec::new();
    if pool_sms_mfa(pool) {
        out.push(MfaMethod::Sms.as_str());
    }
    if pool_software_token_mfa(pool) {
        out.push(MfaMethod::SoftwareToken.as_str());
    }
    out
}

/// Sends a sign-in SMS MFA code to the user's phone_number: the pool's SmsAuthenticationMessage
/// (or Cognito's default), rewritten by the CustomMessage trigger (`CustomMessage_Authentication`)
/// when the pool has one. Returns the challenge parameters Cognito shows (the masked
/// destination) and the code's hash for the challenge session (see [`sms_code_matches`]).
/// The code is valid for 3 minutes (as Cognito's): the session must not outlive that.
pub async fn send_sms_mfa_code(
    svc: &Service,
    pool: &UserPool,
    user: &User,
    caller: &Caller<'_>,
) -> Result<(Value, String)> {
    let Some(phone) = user.attr("phone_number").filter(|p| !p.is_empty()) else {
        return Err(Error::CodeDeliveryFailureException(
            "The user has no phone_number to send the SMS MFA code to.".into(),
        ));
    };
    let code = crate::ids::code(svc.rng.as_ref());
    let template =
        pool.settings.sms_authentication_message.as_deref().unwrap_or(DEFAULT_SMS_AUTHENTICATION_MESSAGE);
    let mut msg = OutgoingMessage {
        pool_id: pool.id.clone(),
        username: user.username.clone(),
        channel: "SMS".into(),
        destination: phone.to_string(),
        subject: None,
        body: template.replace("{####}", &code),
        code: Some(code.clone()),
        sent_at: svc.clock.now_millis(),
    };
    custom_message(svc, pool, MessageSource::Authentication, user, *caller, &mut msg).await?;
    deliver(svc, pool, &msg).await?;
    let params = json!({
        "CODE_DELIVERY_DELIVERY_MEDIUM": "SMS",
        "CODE_DELIVERY_DESTINATION": mask("SMS", phone),
    });
    Ok((params, salted_code_hash(svc, &code)?))
}

/// `{salt}:{hash}`: the PendingCode hash (keyed, of `salt:code`) with a random salt in place
/// of the username, so the hash and the master key are enough to check a code.
pub(crate) fn salted_code_hash(svc: &Service, code: &str) -> Result<String> {
    let salt = hex::encode(svc.rng.bytes(16));
    let hash = code_hash(svc.cipher.as_ref(), &salt, code)?;
    Ok(format!("{salt}:{hash}"))
}

/// Whether `code` is the SMS code whose hash [`send_sms_mfa_code`] returned (constant time).
pub fn sms_code_matches(cipher: &dyn SecretCipher, stored_hash: &str, code: &str) -> Result<bool> {
    let Some((salt, want)) = stored_hash.split_once(':') else { return Ok(false) };
    crate::user_pool::codes::code_matches(cipher, salt, code.trim(), want)
}

pub(crate) fn has_phone(user: &User) -> bool {
    user.attr("phone_number").is_some_and(|p| !p.is_empty())
}

/// The longest SmsAuthenticationMessage (Cognito's SmsVerificationMessageType), code included.
pub(crate) const MAX_SMS_MESSAGE_CHARS: usize = 140;

/// An SmsAuthenticationMessage must hold the code placeholder and be 6 to 140 characters.
pub fn check_sms_authentication_message(message: &str) -> Result<()> {
    let n = message.chars().count();
    if !message.contains("{####}") || !(6..=MAX_SMS_MESSAGE_CHARS).contains(&n) {
        return Err(Error::invalid(format!(
            "SmsAuthenticationMessage must contain the {{####}} placeholder and be 6 to {MAX_SMS_MESSAGE_CHARS} characters long."
        )));
    }
    Ok(())
}

/// CreateUserPool's and UpdateUserPool's rule: MFA ON or OPTIONAL needs an SmsConfiguration,
/// unless software-token MFA is already on (turned on by SetUserPoolMfaConfig, so never at
/// creation). `settings` are the pool settings the call leaves.
pub fn check_pool_mfa(settings: &PoolSettings, software_token: bool) -> Result<()> {
    match settings.mfa_mode() {
        MfaConfiguration::Off => Ok(()),
        MfaConfiguration::On | MfaConfiguration::Optional => {
            if settings.sms_configuration.is_some() || software_token {
                Ok(())
            } else {
                Err(Error::invalid(
                    "SMS configuration and Auto verification for phone_number are required when MFA is required/optional",
                ))
            }
        }
    }
}

/// After UpdateUserPool replaced the settings: a pool whose MFA is now OFF forgets the factors
/// SetUserPoolMfaConfig chose (turning MFA on again starts from its SMS configuration).
pub fn after_pool_update(pool: &mut UserPool) {
    if pool_mfa_mode(pool) == MfaConfiguration::Off {
        pool.settings.mfa_factors = None;
    }
}

/// GetUser's and AdminGetUser's MFA members, each only when it has a value (as Cognito):
/// `MFAOptions` while SMS MFA is on, `UserMFASettingList` of the enabled methods, and
/// `PreferredMfaSetting`.
pub fn user_mfa_json(user: &User) -> serde_json::Map<String, Value> {
    let mut out = serde_json::Map::new();
    let mut enabled = Vec::new();
    if user.mfa.sms_enabled {
        enabled.push(MfaMethod::Sms.as_str());
        out.insert("MFAOptions".into(), json!([{"DeliveryMedium": "SMS", "AttributeName": "phone_number"}]));
    }
    if user.mfa.software_token_enabled && user.mfa.software_token.is_some() {
        enabled.push(MfaMethod::SoftwareToken.as_str());
    }
    if !enabled.is_empty() {
        out.insert("UserMFASettingList".into(), json!(enabled));
    }
    if let Some(p) = user.mfa.preferred {
        out.insert("PreferredMfaSetting".into(), json!(p.as_str()));
    }
    out
}

/// How long an SMS MFA code is good for (3 minutes, as Cognito's).
pub const SMS_MFA_CODE_SECS: i64 = 180;

pub(super) fn not_supported(what: &str) -> Error {
    Error::invalid(format!("{what} is not supported by Tessera."))
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::model::{MfaFactors, User, UserStatus};
    use crate::user_pool::codes::code_hash;
    use serde_json::{json, Value};

    #[test]
    fn tessera_records_keep_their_names() {
        let typed = crate::model::PoolSettings {
            mfa_factors: Some(MfaFactors::default()),
            standard_schema: Some(vec![]),
            ..Default::default()
        };
        let map = typed.to_map().unwrap();
        assert!(map.contains_key(MFA_FACTORS_SETTING));
        assert!(map.contains_key(crate::schema::STANDARD_SCHEMA_SETTING));
    }

    #[test]
    fn sms_code_hashes_check_the_code_only() {
        let cipher = crate::ports::AesGcmCipher::new(&[7u8; 32]).unwrap();
        let stored = format!("ab12:{}", code_hash(&cipher, "ab12", "123456").unwrap());
        assert!(sms_code_matches(&cipher, &stored, "123456").unwrap());
        assert!(!sms_code_matches(&cipher, &stored, "123457").unwrap());
        assert!(!sms_code_matches(&cipher, "no-salt", "123456").unwrap());
        // Keyed: another master key (a copy of the table without it) cannot check candidates.
        let other = crate::ports::AesGcmCipher::new(&[8u8; 32]).unwrap();
        assert!(!sms_code_matches(&other, &stored, "123456").unwrap());
        let plain_sha256 = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(b"ab12:123456"));
        assert_ne!(stored, format!("ab12:{plain_sha256}"));
    }

    fn pool(mode: &str, sms: bool, totp: bool) -> UserPool {
        let mut p: UserPool = serde_json::from_value(json!({
            "id": "us-east-1_abc", "name": "p", "created": 0, "modified": 0,
            "password_policy": serde_json::to_value(crate::password::PasswordPolicy::default()).unwrap(),
            "username_attributes": [], "alias_attributes": [], "auto_verified_attributes": [],
            "case_sensitive": true, "required_attributes": [], "custom_schema": [], "settings": {},
            "keys": {"id": {"kid": "a", "n": "", "e": "", "sealed_private": ""},
                     "access": {"kid": "b", "n": "", "e": "", "sealed_private": ""}}
        }))
        .unwrap();
        p.settings.mfa_configuration = MfaConfiguration::from_name(mode);
        if sms {
            p.settings.sms_configuration =
                json!({"SnsCallerArn": "arn:aws:iam::1:role/sms"}).as_object().cloned();
        }
        p.settings.mfa_factors =
            Some(MfaFactors { software_token_mfa_enabled: Some(totp), ..Default::default() });
        p
    }

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
    fn mfa_need_table() {
        use MfaNeed as N;
        let (sms, tok) = (Some(MfaMethod::Sms), Some(MfaMethod::SoftwareToken));
        let cases: &[(&str, bool, bool, User, MfaNeed)] = &[
            ("OFF", true, true, user(true, true, true, true, sms), N::None),
            ("OPTIONAL", true, true, user(false, false, false, false, None), N::None),
            ("OPTIONAL", true, true, user(true, false, false, false, None), N::None),
            ("OPTIONAL", true, false, user(true, true, false, false, None), N::Sms),
            ("OPTIONAL", false, true, user(true, true, false, false, None), N::None),
            ("OPTIONAL", true, true, user(false, true, false, false, None), N::None),
            ("OPTIONAL", true, true, user(false, false, true, true, None), N::SoftwareToken),
            ("OPTIONAL", true, true, user(false, false, true, false, None), N::None),
            // A verified token outlives the pool's TOTP setting.
            ("OPTIONAL", true, false, user(false, false, true, true, None), N::SoftwareToken),
            ("OPTIONAL", true, true, user(true, true, true, true, None), N::Select),
            ("OPTIONAL", true, true, user(true, true, true, true, sms), N::Sms),
            ("OPTIONAL", true, true, user(true, true, true, true, tok), N::SoftwareToken),
            // A preference for a method that is not usable falls back to the usable one.
            ("OPTIONAL", true, true, user(false, true, true, true, sms), N::SoftwareToken),
            ("ON", true, true, user(false, false, false, false, None), N::Setup),
            ("ON", true, true, user(true, false, false, false, None), N::Sms),
            ("ON", false, true, user(true, false, false, false, None), N::Setup),
            ("ON", true, true, user(false, false, true, false, None), N::SoftwareToken),
            ("ON", true, true, user(true, false, true, false, None), N::Select),
            ("ON", true, true, user(true, false, true, false, tok), N::SoftwareToken),
        ];
        for (i, (mode, psms, ptotp, u, want)) in cases.iter().enumerate() {
            assert_eq!(mfa_need(&pool(mode, *psms, *ptotp), u), *want, "case {i}: {mode}");
        }
    }

    #[test]
    fn challenge_lists() {
        let both = user(true, true, true, true, None);
        assert_eq!(
            mfas_can_select(&pool("OPTIONAL", true, true), &both),
            vec!["SMS_MFA", "SOFTWARE_TOKEN_MFA"]
        );
        assert_eq!(mfas_can_setup(&pool("ON", true, true)), vec!["SMS_MFA", "SOFTWARE_TOKEN_MFA"]);
        assert_eq!(mfas_can_setup(&pool("ON", false, true)), vec!["SOFTWARE_TOKEN_MFA"]);
        assert_eq!(mfas_can_setup(&pool("ON", true, false)), vec!["SMS_MFA"]);
    }

    #[test]
    fn pool_mfa_needs_a_factor() {
        let settings = |v: Value| -> PoolSettings { serde_json::from_value(v).unwrap() };
        assert!(check_pool_mfa(&settings(json!({})), false).is_ok());
        assert!(check_pool_mfa(&settings(json!({"MfaConfiguration": "OFF"})), false).is_ok());
        for mode in ["ON", "OPTIONAL"] {
            assert!(check_pool_mfa(&settings(json!({"MfaConfiguration": mode})), false).is_err());
            assert!(check_pool_mfa(&settings(json!({"MfaConfiguration": mode})), true).is_ok());
            let with_sms = json!({"MfaConfiguration": mode, "SmsConfiguration": {"SnsCallerArn": "arn"}});
            assert!(check_pool_mfa(&settings(with_sms), false).is_ok());
        }
        assert!(check_sms_authentication_message("Code {####}").is_ok());
        assert!(check_sms_authentication_message("Code").is_err());
        assert!(check_sms_authentication_message(&format!("{{####}}{}", "x".repeat(134))).is_ok());
        assert!(check_sms_authentication_message(&format!("{{####}}{}", "x".repeat(135))).is_err());
    }
}
