//! MFA: the pool MFA configuration, software tokens (TOTP), the users' MFA preferences, and
//! the MFA pieces the sign-in flow uses ([`mfa_need`], [`send_sms_mfa_code`],
//! [`check_software_token_code`], …).
//!
//! Where a pool keeps it: `MfaConfiguration`, `SmsConfiguration` and `SmsAuthenticationMessage`
//! are UserPoolType members in `pool.settings`, as CreateUserPool/UpdateUserPool set them.
//! Which factors SetUserPoolMfaConfig turned on is kept under [`MFA_FACTORS_SETTING`], which
//! DescribeUserPool does not show and UpdateUserPool does not reset.

use crate::error::{Error, Result};
use crate::model::{keys, MfaMethod, User, UserPool};
use crate::service::{CallContext, Input, Service};
use crate::store::Write;
use crate::user_pool::access::authorize_access_token;
use crate::user_pool::auth::machine::ChallengeName;
use crate::user_pool::auth::session::{
    invalid_session, store_challenge_session, take_any_challenge_session, ChallengeSession, Pending,
};
use crate::user_pool::mfa::factors::check_sms_authentication_message;
use crate::user_pool::mfa::factors::has_phone;
use crate::user_pool::mfa::factors::mfa_need;
use crate::user_pool::mfa::factors::pool_mfa_mode;
use crate::user_pool::mfa::factors::pool_sms_mfa;
use crate::user_pool::mfa::factors::pool_software_token_mfa;
use crate::user_pool::mfa::factors::MfaNeed;
use crate::user_pool::mfa::factors::MFA_FACTORS_SETTING;
use crate::user_pool::mfa::totp::open_secret;
use crate::user_pool::mfa::totp::seal_secret;
use crate::user_pool::mfa::totp::totp_matching_step;
use crate::user_pool::mfa::totp::SOFTWARE_TOKEN_SECRET_BYTES;
use serde_json::{json, Value};

fn not_supported(what: &str) -> Error {
    Error::invalid(format!("{what} is not supported by Tessera."))
}

// ---------------------------------------------------------------------------------------------
// The pool's MFA configuration.

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

// ---------------------------------------------------------------------------------------------
// Software tokens: AssociateSoftwareToken, VerifySoftwareToken.

/// Wrong codes a pending software token takes before it is discarded (a new
/// AssociateSoftwareToken starts over).
pub const MAX_SOFTWARE_TOKEN_ATTEMPTS: u32 = 5;

/// How a software-token call is authorised: exactly one of the two.
enum Authority<'a> {
    AccessToken(&'a str),
    Session(&'a str),
}

fn authority(input: &Value) -> Result<Authority<'_>> {
    match (input.str_of("AccessToken"), input.str_of("Session")) {
        (Some(token), None) => Ok(Authority::AccessToken(token)),
        (None, Some(session)) => Ok(Authority::Session(session)),
        _ => Err(Error::invalid("Exactly one of AccessToken and Session must be provided.")),
    }
}

fn software_token_not_enabled() -> Error {
    Error::SoftwareTokenMFANotFoundException("Software Token MFA has not been enabled by the userPool".into())
}

/// A live MFA_SETUP challenge session (consumed by `consume`), with its pool, client and user.
struct SetupSession {
    session: ChallengeSession,
    consume: Write,
    pool: std::sync::Arc<UserPool>,
    client: crate::model::AppClient,
    user: User,
    version: u64,
}

async fn setup_session(svc: &Service, token: &str) -> Result<SetupSession> {
    let (session, consume) = take_any_challenge_session(svc, token).await?;
    if session.challenge() != ChallengeName::MfaSetup {
        return Err(invalid_session());
    }
    let pool = svc.pool(&session.pool_id).await.map_err(|_| invalid_session())?;
    let client = svc.pool_client(&pool.id, &session.client_id).await.map_err(|_| invalid_session())?;
    let (user, version) = svc
        .get_json::<User>(&keys::user(&pool.id, &pool.username_key(&session.username)), keys::USER_SK)
        .await?
        .ok_or_else(invalid_session)?;
    // The session's own user, who still has MFA to set up (or has just verified a token with
    // this session): a session outliving the need never replaces a token set up since.
    let verified = session.pending == (Pending::MfaSetup { software_token_verified: true });
    if (!session.sub.is_empty() && user.sub != session.sub)
        || !user.enabled
        || (!verified && mfa_need(&pool, &user) != MfaNeed::Setup)
    {
        return Err(invalid_session());
    }
    Ok(SetupSession { session, consume, pool, client, user, version })
}

/// A new secret as the user's pending token; returns its SecretCode (base32, no padding).
fn associate(svc: &Service, user: &mut User) -> Result<String> {
    let bytes = svc.rng.bytes(SOFTWARE_TOKEN_SECRET_BYTES);
    let secret_code = totp_rs::Secret::new(bytes.clone().into_boxed_slice()).to_base32();
    user.mfa.pending_software_token = Some(seal_secret(svc, &bytes)?);
    user.mfa.pending_failed_attempts = 0;
    Ok(secret_code)
}

/// Hands out a new TOTP secret. A verified token stays in use until the new one is verified.
/// With a Session (an MFA_SETUP challenge) the session is used up and a new one returned.
pub async fn associate_software_token(svc: &Service, ctx: &CallContext, input: &Value) -> Result<Value> {
    match authority(input)? {
        Authority::AccessToken(token) => {
            let session = authorize_access_token(svc, ctx, token).await?;
            if !pool_software_token_mfa(&session.pool) {
                return Err(software_token_not_enabled());
            }
            let mut user = session.user;
            let secret_code = associate(svc, &mut user)?;
            svc.save_user(&session.pool, &user, session.version, vec![]).await?;
            Ok(json!({"SecretCode": secret_code}))
        }
        Authority::Session(token) => {
            let s = setup_session(svc, token).await?;
            if !pool_software_token_mfa(&s.pool) {
                return Err(software_token_not_enabled());
            }
            let mut user = s.user;
            let secret_code = associate(svc, &mut user)?;
            svc.save_user(&s.pool, &user, s.version, vec![s.consume]).await?;
            let next = store_challenge_session(svc, &s.client, &s.session).await?;
            Ok(json!({"SecretCode": secret_code, "Session": next}))
        }
    }
}

fn wrong_software_token_code() -> Error {
    Error::EnableSoftwareTokenMFAException("Code mismatch and fail enable Software Token MFA".into())
}

/// Checks `code` against the pending token. A right code makes it the user's verified token
/// (the caller saves). A wrong one is counted and saved here; the fifth discards the pending
/// token.
async fn verify_pending(
    svc: &Service,
    pool: &UserPool,
    user: &mut User,
    version: u64,
    code: &str,
    device_name: Option<&str>,
) -> Result<()> {
    let Some(sealed) = user.mfa.pending_software_token.clone() else {
        return Err(Error::EnableSoftwareTokenMFAException(
            "No software token is waiting for verification: call AssociateSoftwareToken first.".into(),
        ));
    };
    let secret = open_secret(svc, &sealed)?;
    let Some(step) = totp_matching_step(&secret, code, svc.now_secs(), None) else {
        count_wrong_code(svc, pool, user.clone(), version, &sealed).await?;
        return Err(wrong_software_token_code());
    };
    user.mfa.software_token = Some(sealed);
    user.mfa.pending_software_token = None;
    user.mfa.pending_failed_attempts = 0;
    // The code just used cannot sign in again.
    user.mfa.last_totp_step = Some(step);
    user.mfa.friendly_device_name = device_name.map(str::to_string);
    user.modified = svc.clock.now_millis();
    Ok(())
}

/// Counts a wrong code against the pending token, re-reading on a concurrent change so that
/// guesses sent together are all counted.
async fn count_wrong_code(
    svc: &Service,
    pool: &UserPool,
    mut user: User,
    mut version: u64,
    sealed: &str,
) -> Result<()> {
    let key = keys::user(&pool.id, &pool.username_key(&user.username));
    for _ in 0..10 {
        if user.mfa.pending_software_token.as_deref() != Some(sealed) {
            // Replaced or verified meanwhile: nothing left to count against.
            return Ok(());
        }
        user.mfa.pending_failed_attempts += 1;
        if user.mfa.pending_failed_attempts >= MAX_SOFTWARE_TOKEN_ATTEMPTS {
            user.mfa.pending_software_token = None;
            user.mfa.pending_failed_attempts = 0;
        }
        match svc.save_user(pool, &user, version, vec![]).await {
            Err(Error::ConcurrentModificationException(_)) => {}
            other => return other,
        }
        match svc.get_json::<User>(&key, keys::USER_SK).await? {
            Some((fresh, v)) => (user, version) = (fresh, v),
            None => return Ok(()),
        }
    }
    Err(Error::ConcurrentModificationException("The user was modified by another request. Try again.".into()))
}

/// Verifies the pending token with a code from the authenticator. With an access token the
/// token is then configured but not enabled (the app enables it with SetUserMFAPreference, as
/// Cognito's own samples do); with a Session (MFA_SETUP during sign-in) it also becomes the
/// user's enabled and preferred method, the session is used up, and the new one it returns
/// carries `"software_token_verified": true` for RespondToAuthChallenge(MFA_SETUP).
pub async fn verify_software_token(svc: &Service, ctx: &CallContext, input: &Value) -> Result<Value> {
    let authority = authority(input)?;
    let code = input.req_str("UserCode")?;
    let device_name = input.str_of("FriendlyDeviceName");
    match authority {
        Authority::AccessToken(token) => {
            let session = authorize_access_token(svc, ctx, token).await?;
            if !pool_software_token_mfa(&session.pool) {
                return Err(software_token_not_enabled());
            }
            let mut user = session.user;
            verify_pending(svc, &session.pool, &mut user, session.version, code, device_name).await?;
            svc.save_user(&session.pool, &user, session.version, vec![]).await?;
            Ok(json!({"Status": "SUCCESS"}))
        }
        Authority::Session(token) => {
            let s = setup_session(svc, token).await?;
            if !pool_software_token_mfa(&s.pool) {
                return Err(software_token_not_enabled());
            }
            let mut user = s.user;
            verify_pending(svc, &s.pool, &mut user, s.version, code, device_name).await?;
            user.mfa.software_token_enabled = true;
            user.mfa.preferred = Some(MfaMethod::SoftwareToken);
            svc.save_user(&s.pool, &user, s.version, vec![s.consume]).await?;
            let session = ChallengeSession {
                pending: Pending::MfaSetup { software_token_verified: true },
                ..s.session
            };
            let next = store_challenge_session(svc, &s.client, &session).await?;
            Ok(json!({"Status": "SUCCESS", "Session": next}))
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The user's MFA preference: SetUserMFAPreference, AdminSetUserMFAPreference, and the legacy
// SetUserSettings, AdminSetUserSettings.

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
pub fn apply_mfa_preference(user: &mut User, input: &Value) -> Result<()> {
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
pub fn apply_mfa_options(user: &mut User, input: &Value) -> Result<()> {
    let options = input.get("MFAOptions").and_then(Value::as_array).ok_or_else(|| {
        Error::invalid(
            "1 validation error detected: Value null at 'mFAOptions' failed to satisfy constraint: Member must not be null",
        )
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
    use crate::user_pool::codes::code_hash;
    use crate::user_pool::mfa::factors::*;
    use crate::user_pool::mfa::totp::*;

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
    #[test]
    fn pool_mfa_needs_a_factor() {
        let settings = |v: Value| v.as_object().cloned().unwrap();
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
