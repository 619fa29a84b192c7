//! After the first factor: the second factor (MFA, the device's proof), then the tokens; and
//! the challenge that presents each step.

use super::issue::{issue_family, Family, IssuedDevice};
use super::machine::{
    second_step, step, AuthState, ChallengeName, DeviceFact, SecondFactorFacts, Step, UserFacts,
};
use super::session::{invalid_session, open_challenge_session, Pending, Progress};
use super::sign_in::{SignIn, Via};
use crate::error::{Error, Result};
use crate::model::{AppClient, User, UserPool, UserStatus};
use crate::service::Service;
use crate::user_pool::devices::records as devices;
use crate::user_pool::lockout::clear_failed_sign_ins;
use crate::user_pool::mfa::factors;
use crate::user_pool::triggers::auth::post_authentication;
use crate::user_pool::triggers::token_generation::{Occasion, TokenSource};
use serde_json::{json, Value};

pub(super) fn pool_mismatch(client: &AppClient) -> Error {
    Error::ResourceNotFoundException(format!("User pool client {} does not exist.", client.client_id))
}

/// After a password check (plaintext or SRP) or a new password: the step it leads to.
pub(crate) async fn after_password(
    s: &SignIn<'_>,
    user: User,
    facts: UserFacts,
    state: AuthState,
    progress: Progress,
) -> Result<Value> {
    match step(&state, facts) {
        Step::Tokens => finish(s, &user, progress).await,
        Step::Challenge(name) => challenge_with(s, &user, name, progress).await,
        Step::Denied(e) => Err(e),
        Step::CustomRound => Err(Error::internal("a custom round after a password check")),
    }
}

/// The DEVICE_KEY a sign-in names must be a device of this user (when the pool tracks devices
/// and the flow is not an admin one): otherwise ResourceNotFoundException "Device does not
/// exist.", which the JS SDK recognises and retries without the key. Returns the progress with
/// the key kept only when it counts.
pub(crate) async fn check_device_key(
    s: &SignIn<'_>,
    user: &User,
    mut progress: Progress,
    strict: bool,
) -> Result<Progress> {
    let (svc, pool) = (s.svc, &*s.pool);
    if progress.via != Via::InitiateAuth || devices::device_tracking(pool).is_none() {
        progress.device_key = None;
    }
    if let Some(key) = progress.device_key.as_deref() {
        if devices::find_device(svc, pool, user, key).await?.is_none() {
            if strict {
                return Err(devices::device_not_found());
            }
            progress.device_key = None;
        }
    }
    Ok(progress)
}

/// The first factor is done: the second (MFA, device) or the tokens.
pub(crate) async fn finish(s: &SignIn<'_>, user: &User, progress: Progress) -> Result<Value> {
    let (svc, pool) = (s.svc, &*s.pool);
    if !user.enabled {
        return Err(Error::not_authorized("User is disabled."));
    }
    // The user changed under a multi-step sign-in (an admin reset or set the password, a
    // global sign-out): the sign-in is over.
    if user.status != UserStatus::CONFIRMED
        || (progress.started_ms > 0 && user.signed_out_at_ms >= progress.started_ms)
    {
        return Err(invalid_session());
    }
    // A session begun on the hosted pages ends there, and an API session through the API.
    if s.hosted != (progress.via == Via::Hosted) {
        return Err(invalid_session());
    }
    // Devices are tracked only for InitiateAuth's sign-ins.
    let admin = progress.via != Via::InitiateAuth;
    let tracking = devices::device_tracking(pool);
    let device = match (&progress.device_key, tracking) {
        (Some(key), Some(_)) if !admin => {
            devices::find_device(svc, pool, user, key).await?.map(|(d, _)| d).filter(|d| d.confirmed)
        }
        _ => None,
    };
    let device_fact = match &device {
        None => DeviceFact::None,
        Some(d) if devices::is_remembered(pool, d) => DeviceFact::Remembered,
        Some(_) => DeviceFact::Confirmed,
    };
    let facts = SecondFactorFacts {
        mfa: crate::user_pool::mfa::factors::mfa_need(pool, user),
        device: device_fact,
        remembered_skips_mfa: tracking.is_some_and(|t| t.challenge_required_on_new_device),
    };
    match second_step(progress.second_factor, facts) {
        Step::Tokens => {}
        Step::Challenge(name) => return challenge_with(s, user, name, progress).await,
        Step::Denied(e) => return Err(e),
        Step::CustomRound => return Err(Error::internal("a custom round after the first factor")),
    }
    // A sign-in without a known device gets a new one to confirm (not in the admin flows),
    // made once PostAuthentication agreed; if PreTokenGeneration then fails, the unconfirmed
    // device expires within a day.
    let is_new_device = tracking.is_some() && device.is_none() && !admin;
    post_authentication(svc, pool, user, &s.caller, is_new_device).await?;
    let new_device = if is_new_device { Some(devices::new_device(svc, pool, user).await?) } else { None };
    let device_proven = progress.second_factor.device_proven();
    let source = if device_proven {
        TokenSource::AuthenticateDevice
    } else if progress.new_password_set {
        TokenSource::NewPasswordChallenge
    } else {
        TokenSource::Authentication
    };
    if let (true, Some(d)) = (device_proven, &device) {
        devices::record_device_sign_in(svc, pool, user, &d.device_key).await?;
    }
    let issued = IssuedDevice {
        key: new_device.as_ref().or(device.as_ref()).map(|d| d.device_key.clone()),
        new_metadata: new_device.map(|d| (d.device_key, d.device_group_key)),
    };
    if s.hosted {
        clear_failed_sign_ins(svc, pool, user).await?;
        return Ok(super::hosted::authenticated(user));
    }
    let occasion = Occasion::new(source, s.caller.metadata);
    let result = issue_family(s, user, Family::New, occasion, issued, None).await?;
    clear_failed_sign_ins(svc, pool, user).await?;
    Ok(result)
}

/// Answers a sign-in with a challenge and the session that continues it, carrying the sign-in's
/// progress.
pub(crate) async fn challenge_with(
    s: &SignIn<'_>,
    user: &User,
    name: ChallengeName,
    progress: Progress,
) -> Result<Value> {
    let (svc, pool, client) = (s.svc, &*s.pool, s.client);
    let json_list = |list: &[&str]| serde_json::to_string(list).map_err(Error::internal);
    let (params, pending) = match name {
        ChallengeName::SmsMfa => {
            let (mut params, code_hash) = factors::send_sms_mfa_code(svc, pool, user, &s.caller).await?;
            params["USER_ID_FOR_SRP"] = json!(user.username);
            let code_expires_at = svc.now_secs() + factors::SMS_MFA_CODE_SECS;
            (params, Pending::SmsMfa { code_hash, code_expires_at, wrong_codes: 0 })
        }
        ChallengeName::SoftwareTokenMfa => {
            let mut params = json!({"USER_ID_FOR_SRP": user.username});
            if let Some(name) = &user.mfa.friendly_device_name {
                params["FRIENDLY_DEVICE_NAME"] = json!(name);
            }
            (params, Pending::SoftwareTokenMfa { wrong_codes: 0 })
        }
        ChallengeName::SelectMfaType => (
            json!({
                "USER_ID_FOR_SRP": user.username,
                "MFAS_CAN_CHOOSE": json_list(&factors::mfas_can_select(pool, user))?,
            }),
            Pending::SelectMfaType,
        ),
        ChallengeName::MfaSetup => (
            json!({
                "USER_ID_FOR_SRP": user.username,
                "MFAS_CAN_SETUP": json_list(&factors::mfas_can_setup(pool))?,
            }),
            Pending::MfaSetup { software_token_verified: false },
        ),
        ChallengeName::DeviceSrpAuth => (json!({"USER_ID_FOR_SRP": user.username}), Pending::DeviceSrpAuth),
        ChallengeName::NewPasswordRequired => {
            let shown: serde_json::Map<String, Value> = user
                .attributes
                .iter()
                .filter(|(k, _)| k.as_str() != "sub" && crate::attribute_rules::can_read(client, k))
                .map(|(k, v)| (k.clone(), json!(v)))
                .collect();
            let missing: Vec<String> = missing_required(pool, &user.attributes)
                .into_iter()
                .map(|a| format!("userAttributes.{a}"))
                .collect();
            let params = json!({
                "USER_ID_FOR_SRP": user.username,
                "requiredAttributes": serde_json::to_string(&missing).map_err(Error::internal)?,
                "userAttributes": serde_json::to_string(&shown).map_err(Error::internal)?,
            });
            (params, Pending::NewPasswordRequired)
        }
        other => return Err(Error::internal(format!("no parameters for challenge {other}"))),
    };
    let session = open_challenge_session(s, user, progress, pending).await?;
    Ok(json!({"ChallengeName": name, "Session": session, "ChallengeParameters": params}))
}

/// The pool's required attributes the user has no value for.
pub(super) fn missing_required(
    pool: &UserPool,
    attributes: &std::collections::BTreeMap<String, String>,
) -> Vec<String> {
    pool.required_attributes
        .iter()
        .filter(|a| attributes.get(*a).is_none_or(|v| v.is_empty()))
        .cloned()
        .collect()
}

/// A hash with the configured parameters, made once per process.
pub(crate) async fn dummy_hash(svc: &Service) -> Result<String> {
    static DUMMY: tokio::sync::OnceCell<String> = tokio::sync::OnceCell::const_new();
    let params = svc.config.hash_params;
    let salt = svc.rng.bytes(16);
    DUMMY
        .get_or_try_init(|| async move { svc.cpu(move || params.hash("not-a-password", &salt)).await? })
        .await
        .cloned()
}
