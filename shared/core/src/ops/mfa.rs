//! MFA: the pool MFA configuration, software tokens (TOTP), the users' MFA preferences, and
//! the MFA pieces the sign-in flow uses ([`mfa_need`], [`send_sms_mfa_code`],
//! [`check_software_token_code`], …).
//!
//! Where a pool keeps it: `MfaConfiguration`, `SmsConfiguration` and `SmsAuthenticationMessage`
//! are UserPoolType members in `pool.settings`, as CreateUserPool/UpdateUserPool set them.
//! Which factors SetUserPoolMfaConfig turned on is kept under [`MFA_FACTORS_SETTING`], which
//! DescribeUserPool does not show and UpdateUserPool does not reset.

use super::lifecycle_triggers::{custom_message, MessageSource};
use super::users::{code_hash, deliver, mask};
use crate::error::{Error, Result};
use crate::model::{MfaMethod, User, UserPool};
use crate::ports::OutgoingMessage;
use crate::service::Service;
use crate::triggers::Caller;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::{json, Value};

/// Cognito's SMS MFA text when the pool sets no `SmsAuthenticationMessage`.
pub const DEFAULT_SMS_AUTHENTICATION_MESSAGE: &str = "Your authentication code is {####}. ";

/// The pool setting (not a UserPoolType member) recording the factors SetUserPoolMfaConfig
/// chose: `{"SoftwareTokenMfaEnabled": bool, "SmsMfaDisabled": bool}`.
pub const MFA_FACTORS_SETTING: &str = "TesseraMfaFactors";

/// TOTP parameters (RFC 6238 as authenticator apps and Cognito use them).
const TOTP_DIGITS: usize = 6;
const TOTP_PERIOD_SECS: u64 = 30;
/// Random bytes in a software-token secret (52 base32 characters, like Cognito's).
pub const SOFTWARE_TOKEN_SECRET_BYTES: usize = 32;

/// What a sign-in whose password (or custom challenge) checked out still needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MfaNeed {
    /// No MFA: tokens may be issued.
    None,
    /// An SMS_MFA challenge (send the code with [`send_sms_mfa_code`]).
    Sms,
    /// A SOFTWARE_TOKEN_MFA challenge (check the answer with [`check_software_token_code`]).
    SoftwareToken,
    /// A SELECT_MFA_TYPE challenge with [`mfas_can_select`].
    Select,
    /// An MFA_SETUP challenge with [`mfas_can_setup`] (the pool requires MFA and the user has
    /// no usable method).
    Setup,
}

/// The pool's `MfaConfiguration`: "OFF", "ON" or "OPTIONAL".
pub fn pool_mfa_mode(pool: &UserPool) -> &str {
    pool.setting_str(&["MfaConfiguration"]).unwrap_or("OFF")
}

fn factors(pool: &UserPool) -> Option<&serde_json::Map<String, Value>> {
    pool.settings.get(MFA_FACTORS_SETTING).and_then(Value::as_object)
}

/// Whether the pool offers SMS MFA: it has an SmsConfiguration, and SetUserPoolMfaConfig did
/// not leave SMS out.
pub fn pool_sms_mfa(pool: &UserPool) -> bool {
    let disabled = factors(pool).and_then(|f| f.get("SmsMfaDisabled")).and_then(Value::as_bool) == Some(true);
    pool.settings.get("SmsConfiguration").is_some_and(Value::is_object) && !disabled
}

/// Whether the pool offers software-token (TOTP) MFA; only SetUserPoolMfaConfig turns it on.
pub fn pool_software_token_mfa(pool: &UserPool) -> bool {
    factors(pool).and_then(|f| f.get("SoftwareTokenMfaEnabled")).and_then(Value::as_bool) == Some(true)
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
///   usable (spec B §1.3.1).
pub fn usable_methods(pool: &UserPool, user: &User) -> Vec<MfaMethod> {
    let required = pool_mfa_mode(pool) == "ON";
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
    let mode = pool_mfa_mode(pool);
    if mode != "ON" && mode != "OPTIONAL" {
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
        [] if mode == "ON" => MfaNeed::Setup,
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
/// The code is valid for 3 minutes (spec B §1.2): the session must not outlive that.
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
        pool.setting_str(&["SmsAuthenticationMessage"]).unwrap_or(DEFAULT_SMS_AUTHENTICATION_MESSAGE);
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
    Ok((params, salted_code_hash(svc, &code)))
}

/// `{salt}:{hash}`: the PendingCode hash (SHA-256 of `salt:code`) with a random salt in place of
/// the username, so the hash alone is enough to check a code.
fn salted_code_hash(svc: &Service, code: &str) -> String {
    let salt = hex::encode(svc.rng.bytes(16));
    let hash = code_hash(&salt, code);
    format!("{salt}:{hash}")
}

/// Whether `code` is the SMS code whose hash [`send_sms_mfa_code`] returned (constant time).
pub fn sms_code_matches(stored_hash: &str, code: &str) -> bool {
    let Some((salt, want)) = stored_hash.split_once(':') else { return false };
    let got = code_hash(salt, code.trim());
    subtle::ConstantTimeEq::ct_eq(got.as_bytes(), want.as_bytes()).into()
}

/// Seals a TOTP secret for storage on the user.
pub fn seal_secret(svc: &Service, secret: &[u8]) -> Result<String> {
    Ok(STANDARD.encode(svc.cipher.seal(secret)?))
}

pub fn open_secret(svc: &Service, sealed: &str) -> Result<Vec<u8>> {
    let bytes = STANDARD.decode(sealed).map_err(Error::internal)?;
    svc.cipher.open(&bytes)
}

/// The RFC 6238 code of `secret` for time step `step`.
fn totp_at(secret: &[u8], step: u64) -> String {
    let totp = totp_rs::Builder::new()
        .with_algorithm(totp_rs::Algorithm::SHA1)
        .with_digits(TOTP_DIGITS as u8)
        .with_step_duration(TOTP_PERIOD_SECS)
        .with_skew(0)
        .with_secret(totp_rs::Secret::new(secret.to_vec().into_boxed_slice()))
        .build_noncompliant();
    totp.generate(step.saturating_mul(TOTP_PERIOD_SECS)).to_string()
}

/// The time step (current ±1) at which `code` is `secret`'s TOTP, skipping steps at or
/// before `after` (codes already used). Compares in constant time.
pub fn totp_matching_step(secret: &[u8], code: &str, now_secs: i64, after: Option<u64>) -> Option<u64> {
    let code = code.trim();
    if code.len() != TOTP_DIGITS || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let current = (now_secs.max(0) as u64) / TOTP_PERIOD_SECS;
    let mut found = None;
    for step in current.saturating_sub(1)..=current.saturating_add(1) {
        if after.is_some_and(|a| step <= a) {
            continue;
        }
        let matches: bool =
            subtle::ConstantTimeEq::ct_eq(totp_at(secret, step).as_bytes(), code.as_bytes()).into();
        if matches && found.is_none() {
            found = Some(step);
        }
    }
    found
}

/// Checks a SOFTWARE_TOKEN_MFA code against the user's verified token: RFC 6238 (HMAC-SHA1,
/// 6 digits, 30 s steps from T0 = 0), the current step ±1, and never a step at or before the
/// last one accepted (a code works once). On success records the step on `user`; the caller
/// saves the user. `Ok(false)` for a wrong, reused or malformed code, or a user without a token.
pub fn check_software_token_code(svc: &Service, user: &mut User, code: &str) -> Result<bool> {
    let Some(sealed) = user.mfa.software_token.as_deref() else { return Ok(false) };
    let secret = open_secret(svc, sealed)?;
    match totp_matching_step(&secret, code, svc.now_secs(), user.mfa.last_totp_step) {
        Some(step) => {
            user.mfa.last_totp_step = Some(step);
            Ok(true)
        }
        None => Ok(false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::UserStatus;

    /// RFC 6238 Appendix B's SHA-1 seed.
    const RFC_SECRET: &[u8] = b"12345678901234567890";

    #[test]
    fn rfc6238_sha1_vectors() {
        // The RFC's 8-digit values, last 6 digits.
        for (t, want) in
            [(59u64, "287082"), (1111111109, "081804"), (1234567890, "005924"), (2000000000, "279037")]
        {
            assert_eq!(totp_at(RFC_SECRET, t / 30), want, "T={t}");
        }
    }

    #[test]
    fn accepts_one_step_either_side_and_never_twice() {
        let now = 1_234_567_890i64;
        let step = now as u64 / 30;
        for s in [step - 1, step, step + 1] {
            assert_eq!(totp_matching_step(RFC_SECRET, &totp_at(RFC_SECRET, s), now, None), Some(s));
        }
        for s in [step - 2, step + 2] {
            assert_eq!(totp_matching_step(RFC_SECRET, &totp_at(RFC_SECRET, s), now, None), None);
        }
        let code = totp_at(RFC_SECRET, step);
        assert_eq!(totp_matching_step(RFC_SECRET, &code, now, Some(step)), None, "replayed");
        assert_eq!(totp_matching_step(RFC_SECRET, &code, now, Some(step - 1)), Some(step));
        assert_eq!(
            totp_matching_step(RFC_SECRET, &totp_at(RFC_SECRET, step - 1), now, Some(step)),
            None,
            "older than the last accepted"
        );
        for bad in ["", "12345", "1234567", "abcdef", "00592a"] {
            assert_eq!(totp_matching_step(RFC_SECRET, bad, now, None), None, "{bad:?}");
        }
    }

    #[test]
    fn sms_code_hashes_check_the_code_only() {
        let stored = format!("ab12:{}", code_hash("ab12", "123456"));
        assert!(sms_code_matches(&stored, "123456"));
        assert!(!sms_code_matches(&stored, "123457"));
        assert!(!sms_code_matches("no-salt", "123456"));
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
        p.settings.insert("MfaConfiguration".into(), json!(mode));
        if sms {
            p.settings.insert("SmsConfiguration".into(), json!({"SnsCallerArn": "arn:aws:iam::1:role/sms"}));
        }
        p.settings.insert(MFA_FACTORS_SETTING.into(), json!({"SoftwareTokenMfaEnabled": totp}));
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
}
