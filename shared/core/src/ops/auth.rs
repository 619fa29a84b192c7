//! InitiateAuth, AdminInitiateAuth, RespondToAuthChallenge, AdminRespondToAuthChallenge,
//! RevokeToken (GetTokensFromRefreshToken and REFRESH_TOKEN_AUTH: [`super::refresh`]), GlobalSignOut, AdminUserGlobalSignOut, and the access-token check every
//! token-authorised operation uses.
//!
//! The flow is an explicit state machine ([`AuthState`] × input → [`Step`]): the handler does the
//! I/O (loading the user, hashing) and asks [`step`] what follows.

use super::token_generation::{self, Claims, Occasion, TokenRequest, TokenSource, USER_API_SCOPE};
use crate::error::{Error, Result};
use crate::model::{keys, AppClient, PasswordState, User, UserPool, UserStatus};
use crate::service::{check_secret_hash, CallContext, Input, Service};
use crate::store::{Cond, Item, StoreError, Write};
use crate::triggers::Caller;
use crate::user_pool::access::authorize_access_token;
use crate::user_pool::auth::refresh_family::Origin;
use crate::user_pool::lockout::clear_failed_sign_ins;
use crate::user_pool::lockout::record_sign_in_attempt;
use crate::user_pool::mfa::factors::MfaNeed;
use crate::user_pool::triggers::lifecycle::Migration;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// `AuthFlowType`, with the legacy names folded onto the current ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthFlow {
    UserSrp,
    UserPassword,
    AdminUserPassword,
    RefreshToken,
    Custom,
    User,
}

impl AuthFlow {
    pub fn parse(s: &str) -> Result<AuthFlow> {
        Ok(match s {
            "USER_SRP_AUTH" => AuthFlow::UserSrp,
            "USER_PASSWORD_AUTH" => AuthFlow::UserPassword,
            "ADMIN_USER_PASSWORD_AUTH" | "ADMIN_NO_SRP_AUTH" => AuthFlow::AdminUserPassword,
            "REFRESH_TOKEN_AUTH" | "REFRESH_TOKEN" => AuthFlow::RefreshToken,
            "CUSTOM_AUTH" => AuthFlow::Custom,
            "USER_AUTH" => AuthFlow::User,
            other => return Err(Error::invalid(format!("Invalid AuthFlow: {other}"))),
        })
    }

    /// The ExplicitAuthFlows entry that enables it (legacy lists are mapped onto these by
    /// [`AppClient::enabled_auth_flows`]).
    fn client_setting(self) -> &'static str {
        match self {
            AuthFlow::UserSrp => "ALLOW_USER_SRP_AUTH",
            AuthFlow::UserPassword => "ALLOW_USER_PASSWORD_AUTH",
            AuthFlow::AdminUserPassword => "ALLOW_ADMIN_USER_PASSWORD_AUTH",
            AuthFlow::RefreshToken => "ALLOW_REFRESH_TOKEN_AUTH",
            AuthFlow::Custom => "ALLOW_CUSTOM_AUTH",
            AuthFlow::User => "ALLOW_USER_AUTH",
        }
    }

    fn not_enabled(self) -> Error {
        match self {
            AuthFlow::UserPassword => Error::invalid("USER_PASSWORD_AUTH flow not enabled for this client"),
            AuthFlow::UserSrp => Error::invalid("USER_SRP_AUTH flow not enabled for this client"),
            AuthFlow::RefreshToken => Error::invalid("REFRESH_TOKEN_AUTH flow not enabled for this client"),
            AuthFlow::Custom => Error::invalid("CUSTOM_AUTH flow not enabled for this client"),
            AuthFlow::AdminUserPassword | AuthFlow::User => {
                Error::invalid("Auth flow not enabled for this client")
            }
        }
    }
}

/// Where a sign-in stands. Later flows add a state per challenge (PASSWORD_VERIFIER, MFA, …).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthState {
    /// Nothing proven yet.
    Start,
    /// The password was checked; `correct` says how it went.
    PasswordChecked { correct: bool },
    /// A live NEW_PASSWORD_REQUIRED session was answered with an acceptable new password.
    NewPasswordProvided,
    /// CUSTOM_AUTH for a resolved user, before a round of the challenge triggers: InitiateAuth
    /// (after PreAuthentication), or a live CUSTOM_CHALLENGE session being answered.
    CustomInProgress,
    /// DefineAuthChallenge decided, with `rounds` challenges answered so far.
    CustomDecided { decision: CustomDecision, rounds: usize },
}

/// What DefineAuthChallenge's response says (see [`define_decision`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CustomDecision {
    /// `failAuthentication`: the sign-in fails.
    Fail,
    /// `issueTokens`: the user is authenticated.
    IssueTokens,
    /// `challengeName: "CUSTOM_CHALLENGE"`: CreateAuthChallenge makes the next challenge.
    CustomChallenge,
    /// `challengeName: "PASSWORD_VERIFIER"`: the SRP proof, in a flow that began with SRP_A.
    PasswordVerifier,
}

/// Challenge rounds one CUSTOM_AUTH sign-in may take. Cognito ends runaway flows; Tessera fails
/// the sign-in (NotAuthorizedException) when DefineAuthChallenge asks for a challenge after
/// this many.
pub const MAX_CUSTOM_ROUNDS: usize = 20;

/// The challenge names DefineAuthChallenge may know (Cognito's `ChallengeNameType` values that
/// can appear in a custom flow). CUSTOM_CHALLENGE and PASSWORD_VERIFIER can follow; MFA comes
/// by itself after `issueTokens`, as Cognito runs it.
const BUILT_IN_CHALLENGES: &[&str] = &[
    "SRP_A",
    "PASSWORD_VERIFIER",
    "SMS_MFA",
    "SOFTWARE_TOKEN_MFA",
    "EMAIL_OTP",
    "DEVICE_SRP_AUTH",
    "DEVICE_PASSWORD_VERIFIER",
    "ADMIN_NO_SRP_AUTH",
    "MFA_SETUP",
    "SELECT_MFA_TYPE",
    "NEW_PASSWORD_REQUIRED",
];

/// Reads DefineAuthChallenge's `response`. `failAuthentication` wins over everything; otherwise
/// exactly one of `issueTokens` and `challengeName` must be set, and the challenge must be one
/// this version can present.
pub fn define_decision(response: Option<&serde_json::Map<String, Value>>) -> Result<CustomDecision> {
    use crate::triggers::{flag, text};
    if flag(response, "failAuthentication")? {
        return Ok(CustomDecision::Fail);
    }
    let issue_tokens = flag(response, "issueTokens")?;
    let challenge = text(response, "challengeName")?.filter(|c| !c.is_empty());
    let invalid = |m: String| Error::InvalidLambdaResponseException(m);
    match (issue_tokens, challenge.as_deref()) {
        (true, None) => Ok(CustomDecision::IssueTokens),
        (false, Some("CUSTOM_CHALLENGE")) => Ok(CustomDecision::CustomChallenge),
        (false, Some("PASSWORD_VERIFIER")) => Ok(CustomDecision::PasswordVerifier),
        (true, Some(_)) => Err(invalid(
            "DefineAuthChallenge returned both issueTokens and challengeName; set one of them.".into(),
        )),
        (false, None) => Err(invalid(
            "DefineAuthChallenge returned neither issueTokens, challengeName nor failAuthentication.".into(),
        )),
        (false, Some(name)) if BUILT_IN_CHALLENGES.contains(&name) => Err(invalid(format!(
            "DefineAuthChallenge returned challengeName {name}, which this Tessera version cannot present in a custom flow (only CUSTOM_CHALLENGE, and PASSWORD_VERIFIER right after SRP_A)."
        ))),
        (false, Some(name)) => {
            Err(invalid(format!("DefineAuthChallenge returned an invalid challengeName: {name}.")))
        }
    }
}

/// What the facts about a user and a step lead to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Tokens,
    Challenge(&'static str),
    Denied(Error),
    /// The custom flow goes on: the handler runs the next round of challenge triggers.
    CustomRound,
}

/// The facts about the user that decide the next step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UserFacts {
    pub status: UserStatus,
    pub enabled: bool,
    /// Temporarily locked out after repeated wrong passwords.
    pub locked: bool,
    /// FORCE_CHANGE_PASSWORD and the temporary password is past its validity.
    pub temporary_password_expired: bool,
}

impl UserFacts {
    pub fn of(user: &User, now_ms: i64) -> UserFacts {
        UserFacts {
            status: user.status,
            enabled: user.enabled,
            locked: user.password_state.locked_until_ms > now_ms,
            temporary_password_expired: user.status == UserStatus::FORCE_CHANGE_PASSWORD
                && user.password_state.temporary_expires_at.is_some_and(|t| t * 1000 <= now_ms),
        }
    }
}

/// The one answer a dead, reused, foreign or unknown challenge session gets.
pub fn invalid_session() -> Error {
    Error::not_authorized("Invalid session for the user.")
}

/// The pure transition function: state × facts → step.
pub fn step(state: &AuthState, facts: UserFacts) -> Step {
    let incorrect = || Step::Denied(Error::not_authorized("Incorrect username or password."));
    match state {
        AuthState::Start => incorrect(),
        AuthState::PasswordChecked { .. } if facts.locked => {
            Step::Denied(Error::not_authorized("Password attempts exceeded"))
        }
        AuthState::PasswordChecked { correct: false } => incorrect(),
        AuthState::PasswordChecked { correct: true } => {
            if !facts.enabled {
                return Step::Denied(Error::not_authorized("User is disabled."));
            }
            match facts.status {
                UserStatus::CONFIRMED => Step::Tokens,
                UserStatus::UNCONFIRMED => {
                    Step::Denied(Error::UserNotConfirmedException("User is not confirmed.".into()))
                }
                UserStatus::RESET_REQUIRED => Step::Denied(Error::PasswordResetRequiredException(
                    "Password reset required for the user".into(),
                )),
                UserStatus::FORCE_CHANGE_PASSWORD if facts.temporary_password_expired => {
                    Step::Denied(Error::not_authorized(
                        "Temporary password has expired and must be reset by an administrator.",
                    ))
                }
                UserStatus::FORCE_CHANGE_PASSWORD => Step::Challenge("NEW_PASSWORD_REQUIRED"),
                _ => incorrect(),
            }
        }
        AuthState::CustomInProgress => custom_gate(facts).unwrap_or(Step::CustomRound),
        AuthState::CustomDecided { decision: CustomDecision::Fail, .. } => incorrect(),
        AuthState::CustomDecided { decision, rounds } => {
            if let Some(denied) = custom_gate(facts) {
                return denied;
            }
            match (decision, facts.status) {
                (CustomDecision::CustomChallenge, _) if *rounds >= MAX_CUSTOM_ROUNDS => {
                    Step::Denied(Error::not_authorized(format!(
                        "Incorrect username or password. The custom authentication flow exceeded {MAX_CUSTOM_ROUNDS} challenges."
                    )))
                }
                (CustomDecision::CustomChallenge, _) => Step::Challenge("CUSTOM_CHALLENGE"),
                (CustomDecision::PasswordVerifier, _) => Step::Challenge("PASSWORD_VERIFIER"),
                (CustomDecision::IssueTokens, UserStatus::CONFIRMED) => Step::Tokens,
                // An admin-created user still sets a password before getting tokens.
                (CustomDecision::IssueTokens, UserStatus::FORCE_CHANGE_PASSWORD) => {
                    Step::Challenge("NEW_PASSWORD_REQUIRED")
                }
                _ => incorrect(),
            }
        }
        AuthState::NewPasswordProvided => {
            if !facts.enabled {
                return Step::Denied(Error::not_authorized("User is disabled."));
            }
            match facts.status {
                // MFA, when it arrives, is the next challenge here.
                UserStatus::FORCE_CHANGE_PASSWORD => Step::Tokens,
                // The user changed under the session (an admin set or reset the password).
                _ => Step::Denied(invalid_session()),
            }
        }
    }
}

/// What stops a user in a custom flow whatever the challenges say: a disabled account, and the
/// states password sign-in reports once the password is right. Custom challenges do not count
/// toward (nor are stopped by) the password lockout.
fn custom_gate(facts: UserFacts) -> Option<Step> {
    if !facts.enabled {
        return Some(Step::Denied(Error::not_authorized("User is disabled.")));
    }
    match facts.status {
        UserStatus::UNCONFIRMED => {
            Some(Step::Denied(Error::UserNotConfirmedException("User is not confirmed.".into())))
        }
        UserStatus::RESET_REQUIRED => Some(Step::Denied(Error::PasswordResetRequiredException(
            "Password reset required for the user".into(),
        ))),
        UserStatus::FORCE_CHANGE_PASSWORD if facts.temporary_password_expired => Some(Step::Denied(
            Error::not_authorized("Temporary password has expired and must be reset by an administrator."),
        )),
        _ => None,
    }
}

fn pool_mismatch(client: &AppClient) -> Error {
    Error::ResourceNotFoundException(format!("User pool client {} does not exist.", client.client_id))
}

pub(crate) fn param<'a>(params: &'a Value, name: &str) -> Result<&'a str> {
    params
        .get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| Error::invalid(format!("Missing required parameter {name}")))
}

pub async fn initiate_auth(svc: &Service, ctx: &CallContext, input: &Value) -> Result<Value> {
    let client = svc.client(input.req_str("ClientId")?).await?;
    let flow = AuthFlow::parse(input.req_str("AuthFlow")?)?;
    if flow == AuthFlow::AdminUserPassword {
        return Err(Error::invalid("Initiate Auth method not supported."));
    }
    start(svc, ctx, &client, flow, input, false).await
}

pub async fn admin_initiate_auth(svc: &Service, ctx: &CallContext, input: &Value) -> Result<Value> {
    let pool_id = input.req_str("UserPoolId")?;
    let client = svc.client(input.req_str("ClientId")?).await?;
    if client.pool_id != pool_id {
        return Err(pool_mismatch(&client));
    }
    let flow = AuthFlow::parse(input.req_str("AuthFlow")?)?;
    if flow == AuthFlow::UserPassword {
        return Err(Error::invalid("Initiate Auth method not supported."));
    }
    start(svc, ctx, &client, flow, input, true).await
}

async fn start(
    svc: &Service,
    ctx: &CallContext,
    client: &AppClient,
    flow: AuthFlow,
    input: &Value,
    admin: bool,
) -> Result<Value> {
    if !client.allows_flow(flow.client_setting()) {
        return Err(flow.not_enabled());
    }
    let pool = svc.pool(&client.pool_id).await?;
    let params = input.get("AuthParameters").cloned().unwrap_or(json!({}));
    match flow {
        AuthFlow::UserPassword | AuthFlow::AdminUserPassword => {
            password_sign_in(svc, ctx, &pool, client, &params, input, admin).await
        }
        AuthFlow::UserSrp => super::auth_srp::start_user_srp(svc, &pool, client, &params, input, admin).await,
        AuthFlow::RefreshToken => super::refresh::refresh_token_auth(svc, ctx, &pool, client, &params).await,
        AuthFlow::Custom => {
            super::auth_triggers::start_custom(svc, ctx, &pool, client, &params, input, admin).await
        }
        AuthFlow::User => Err(Error::invalid(format!(
            "{} is not supported by this Tessera version yet; use USER_SRP_AUTH, USER_PASSWORD_AUTH, ADMIN_USER_PASSWORD_AUTH or CUSTOM_AUTH.",
            input.str_of("AuthFlow").unwrap_or_default()
        ))),
    }
}

async fn password_sign_in(
    svc: &Service,
    ctx: &CallContext,
    pool: &UserPool,
    client: &AppClient,
    params: &Value,
    input: &Value,
    admin: bool,
) -> Result<Value> {
    let username = param(params, "USERNAME")?;
    let password = param(params, "PASSWORD")?.to_string();
    check_secret_hash(client, params.get("SECRET_HASH").and_then(Value::as_str), &[username])?;
    // A name the pool does not hold has its own failure count (see `unknown_names`).
    let counted = crate::user_pool::unknown_names::counted(pool, client.prevent_user_existence_errors());
    let (found, seen) = crate::user_pool::unknown_names::find_user(svc, pool, username, counted).await?;
    let found = match found {
        Some(found) => Some((found, false)),
        None => {
            if seen.as_ref().is_some_and(|r| r.locked(svc.clock.now_millis())) {
                return Err(Error::not_authorized("Password attempts exceeded"));
            }
            match migrate_on_sign_in(svc, pool, client, username, &password, input).await {
                Ok(Some(Migration::Created(u, v))) => Some(((u, v), true)),
                Ok(Some(Migration::Existing(u, v))) => Some(((u, v), false)),
                Ok(None) => None,
                Err(e) => {
                    if refused_by_function(&e) {
                        crate::user_pool::unknown_names::record_failure(svc, pool, username, seen).await?;
                    }
                    return Err(e);
                }
            }
        }
    };
    let hash_params = svc.config.hash_params;
    let Some(((user, version), migrated)) = found else {
        // Same work as a real check, so timing does not reveal whether the user exists.
        let dummy = dummy_hash(svc).await?;
        svc.cpu(move || hash_params.verify(&password, &dummy)).await?;
        if counted {
            crate::user_pool::unknown_names::record_failure(svc, pool, username, seen).await?;
        }
        return Err(if client.prevent_user_existence_errors() {
            Error::not_authorized("Incorrect username or password.")
        } else {
            Error::UserNotFoundException("User does not exist.".into())
        });
    };
    // Before anything about the password is known. A sign-in the function refuses is not an
    // attempt: it neither counts toward the lockout nor clears the count.
    let progress = Progress::for_sign_in(params, admin, svc.clock.now_millis());
    let caller = Caller::new(Some(&client.client_id), input);
    super::auth_triggers::pre_authentication(svc, pool, &user, &caller).await?;
    let mut facts = UserFacts::of(&user, svc.clock.now_millis());
    // Attempts during a lockout are refused unchecked and do not count. A user migrated just
    // now was vouched for by the pool's function, with this password.
    let (user, correct) = if migrated {
        (user, true)
    } else if facts.locked {
        (user, false)
    } else {
        let (user, version, correct) = check_password(svc, pool, user, version, password).await?;
        // Attempts in flight together: one that a lockout overtook while it hashed is refused.
        facts.locked = record_sign_in_attempt(svc, pool, user.clone(), version, correct).await?;
        (user, correct)
    };
    // A device key this user does not have (forgotten, or of another pool): a new device. The
    // SDKs' plaintext-password path has no retry without the key.
    let progress =
        if correct { check_device_key(svc, pool, &user, progress, false).await? } else { progress };
    // InitiateAuth's ClientMetadata goes to PreAuthentication only.
    let caller = Caller::without_metadata(Some(&client.client_id));
    after_password(
        svc,
        ctx,
        pool,
        client,
        user,
        facts,
        AuthState::PasswordChecked { correct },
        progress,
        &caller,
    )
    .await
}

/// What a sign-in carries from one challenge to the next (in the challenge session's data).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    /// The DEVICE_KEY the client sent, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_key: Option<String>,
    /// AdminInitiateAuth: no device tracking (spec C §5.5).
    #[serde(default)]
    pub admin: bool,
    /// The password was proven by SRP.
    #[serde(default)]
    pub srp: bool,
    /// A PreventUserExistenceErrors stand-in for a name the pool does not know.
    #[serde(default)]
    pub unknown_user: bool,
    #[serde(default)]
    pub new_password_set: bool,
    #[serde(default)]
    pub mfa_done: bool,
    #[serde(default)]
    pub device_done: bool,
    /// When the sign-in began (epoch ms): a sign-out after it ends the sign-in.
    #[serde(default)]
    pub started_ms: i64,
}

impl Progress {
    pub fn for_sign_in(params: &Value, admin: bool, now_ms: i64) -> Progress {
        let device_key =
            params.get("DEVICE_KEY").and_then(Value::as_str).filter(|k| !k.is_empty()).map(str::to_string);
        Progress { device_key, admin, started_ms: now_ms, ..Progress::default() }
    }

    pub fn from_data(data: &serde_json::Map<String, Value>) -> Progress {
        data.get("progress").cloned().and_then(|p| serde_json::from_value(p).ok()).unwrap_or_default()
    }

    pub fn into_data(self) -> Result<serde_json::Map<String, Value>> {
        let mut data = serde_json::Map::new();
        data.insert("progress".into(), serde_json::to_value(self).map_err(Error::internal)?);
        Ok(data)
    }
}

/// After a password check (plaintext or SRP) or a new password: the step it leads to.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn after_password(
    svc: &Service,
    ctx: &CallContext,
    pool: &UserPool,
    client: &AppClient,
    user: User,
    facts: UserFacts,
    state: AuthState,
    progress: Progress,
    caller: &Caller<'_>,
) -> Result<Value> {
    match step(&state, facts) {
        Step::Tokens => finish(svc, ctx, pool, client, &user, progress, caller).await,
        Step::Challenge(name) => challenge_with(svc, pool, client, &user, name, progress, caller).await,
        Step::Denied(e) => Err(e),
        Step::CustomRound => Err(Error::internal("a custom round after a password check")),
    }
}

/// The device a sign-in named (DEVICE_KEY), as the second-factor step sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceFact {
    /// None named, not tracked, or never confirmed.
    None,
    /// A confirmed device of this user that is not remembered.
    Confirmed,
    /// A confirmed device the user (or an "Always" pool) remembers.
    Remembered,
}

/// What decides the steps after the first factor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SecondFactorFacts {
    pub mfa: MfaNeed,
    pub device: DeviceFact,
    /// DeviceConfiguration.ChallengeRequiredOnNewDevice: a remembered device stands in for MFA.
    pub remembered_skips_mfa: bool,
}

/// After the first factor (and NEW_PASSWORD_REQUIRED): MFA, unless a remembered device stands
/// in for it; otherwise the device's own proof (DEVICE_SRP_AUTH) for a confirmed device; then
/// tokens. A sign-in that answered MFA gets no device challenge after it: amazon-cognito-
/// identity-js would answer that one with the spent MFA session.
pub fn second_step(progress: &Progress, facts: SecondFactorFacts) -> Step {
    let skip_mfa = facts.device == DeviceFact::Remembered && facts.remembered_skips_mfa;
    if !progress.mfa_done && !skip_mfa {
        match facts.mfa {
            MfaNeed::None => {}
            MfaNeed::Sms => return Step::Challenge("SMS_MFA"),
            MfaNeed::SoftwareToken => return Step::Challenge("SOFTWARE_TOKEN_MFA"),
            MfaNeed::Select => return Step::Challenge("SELECT_MFA_TYPE"),
            MfaNeed::Setup => return Step::Challenge("MFA_SETUP"),
        }
    }
    if !progress.device_done && !progress.mfa_done && facts.device != DeviceFact::None {
        return Step::Challenge("DEVICE_SRP_AUTH");
    }
    Step::Tokens
}

/// The DEVICE_KEY a sign-in names must be a device of this user (when the pool tracks devices
/// and the flow is not an admin one): otherwise ResourceNotFoundException "Device does not
/// exist.", which the JS SDK recognises and retries without the key. Returns the progress with
/// the key kept only when it counts.
pub(crate) async fn check_device_key(
    svc: &Service,
    pool: &UserPool,
    user: &User,
    mut progress: Progress,
    strict: bool,
) -> Result<Progress> {
    if progress.admin || crate::user_pool::devices::records::device_tracking(pool).is_none() {
        progress.device_key = None;
    }
    if let Some(key) = progress.device_key.as_deref() {
        if crate::user_pool::devices::records::find_device(svc, pool, user, key).await?.is_none() {
            if strict {
                return Err(crate::user_pool::devices::records::device_not_found());
            }
            progress.device_key = None;
        }
    }
    Ok(progress)
}

/// The first factor is done: the second (MFA, device) or the tokens.
pub(crate) async fn finish(
    svc: &Service,
    ctx: &CallContext,
    pool: &UserPool,
    client: &AppClient,
    user: &User,
    progress: Progress,
    caller: &Caller<'_>,
) -> Result<Value> {
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
    let tracking = crate::user_pool::devices::records::device_tracking(pool);
    let device = match (&progress.device_key, tracking) {
        (Some(key), Some(_)) if !progress.admin => {
            crate::user_pool::devices::records::find_device(svc, pool, user, key)
                .await?
                .map(|(d, _)| d)
                .filter(|d| d.confirmed)
        }
        _ => None,
    };
    let device_fact = match &device {
        None => DeviceFact::None,
        Some(d) if crate::user_pool::devices::records::is_remembered(pool, d) => DeviceFact::Remembered,
        Some(_) => DeviceFact::Confirmed,
    };
    let facts = SecondFactorFacts {
        mfa: crate::user_pool::mfa::factors::mfa_need(pool, user),
        device: device_fact,
        remembered_skips_mfa: tracking.is_some_and(|t| t.challenge_required_on_new_device),
    };
    match second_step(&progress, facts) {
        Step::Tokens => {}
        Step::Challenge(name) => {
            return challenge_with(svc, pool, client, user, name, progress, caller).await
        }
        Step::Denied(e) => return Err(e),
        Step::CustomRound => return Err(Error::internal("a custom round after the first factor")),
    }
    // A sign-in without a known device gets a new one to confirm (not in the admin flows),
    // made once PostAuthentication agreed; if PreTokenGeneration then fails, the unconfirmed
    // device expires within a day.
    let is_new_device = tracking.is_some() && device.is_none() && !progress.admin;
    super::auth_triggers::post_authentication(svc, pool, user, caller, is_new_device).await?;
    let new_device = if is_new_device {
        Some(crate::user_pool::devices::records::new_device(svc, pool, user).await?)
    } else {
        None
    };
    let source = if progress.device_done {
        TokenSource::AuthenticateDevice
    } else if progress.new_password_set {
        TokenSource::NewPasswordChallenge
    } else {
        TokenSource::Authentication
    };
    if let (true, Some(d)) = (progress.device_done, &device) {
        crate::user_pool::devices::records::record_device_sign_in(svc, pool, user, &d.device_key).await?;
    }
    let issued = IssuedDevice {
        key: new_device.as_ref().or(device.as_ref()).map(|d| d.device_key.clone()),
        new_metadata: new_device.map(|d| (d.device_key, d.device_group_key)),
    };
    let occasion = Occasion::new(source, caller.metadata);
    let result = issue_family(svc, ctx, pool, client, user, Family::New, occasion, issued).await?;
    clear_failed_sign_ins(svc, pool, user).await?;
    Ok(result)
}

/// The device a sign-in's tokens belong to: the access token's `device_key` claim, and the
/// `NewDeviceMetadata` of a device seen for the first time.
#[derive(Debug, Clone, Default)]
pub struct IssuedDevice {
    pub key: Option<String>,
    /// (DeviceKey, DeviceGroupKey).
    pub new_metadata: Option<(String, String)>,
}

/// UserMigration_Authentication for a name the pool does not know. With
/// PreventUserExistenceErrors any refusal reads like a wrong password.
async fn migrate_on_sign_in(
    svc: &Service,
    pool: &UserPool,
    client: &AppClient,
    username: &str,
    password: &str,
    input: &Value,
) -> Result<Option<Migration>> {
    let caller = crate::triggers::Caller::new(Some(&client.client_id), input);
    match crate::user_pool::triggers::lifecycle::migrate_user(svc, pool, username, Some(password), caller)
        .await
    {
        Err(e) if client.prevent_user_existence_errors() => {
            tracing::info!(error = %e.name(), "user migration refused (answered as a wrong password)");
            Err(Error::not_authorized("Incorrect username or password."))
        }
        other => other,
    }
}

/// A UserMigration answer that refused the name or password (as opposed to a function that
/// could not be reached): it counts as a failed sign-in.
fn refused_by_function(e: &Error) -> bool {
    matches!(
        e,
        Error::NotAuthorizedException(_)
            | Error::UserLambdaValidationException(_)
            | Error::UserNotFoundException(_)
    )
}

/// Checks the password. A user imported without a password (RESET_REQUIRED) has none to check:
/// the step says PasswordResetRequiredException. A hash imported from another system (see
/// `password::legacy`) is verified with its own scheme and, when it matches, replaced by our
/// argon2id hash and an SRP verifier before the sign-in goes on.
async fn check_password(
    svc: &Service,
    pool: &UserPool,
    mut user: User,
    version: u64,
    password: String,
) -> Result<(User, u64, bool)> {
    let hash_params = svc.config.hash_params;
    let Some(stored) = user.password_hash.clone() else {
        let dummy = dummy_hash(svc).await?;
        svc.cpu(move || hash_params.verify(&password, &dummy)).await?;
        let reset = user.status == UserStatus::RESET_REQUIRED;
        return Ok((user, version, reset));
    };
    if stored.starts_with("$argon2id$") && user.srp.is_some() {
        let correct = svc.cpu(move || hash_params.verify(&password, &stored)).await?;
        return Ok((user, version, correct));
    }
    let pw = password.clone();
    if !svc.cpu(move || crate::password::legacy::verify(&pw, &stored)).await? {
        return Ok((user, version, false));
    }
    let (hash, srp) =
        crate::user_pool::secrets::password_secrets(svc, pool, &user.username, &password).await?;
    user.password_hash = Some(hash);
    user.srp = Some(srp);
    user.modified = svc.clock.now_millis();
    svc.save_user(pool, &user, version, vec![]).await?;
    Ok((user, version + 1, true))
}

/// A pending challenge: what a later RespondToAuthChallenge may continue. Stored under the
/// SHA-256 of its session token, expiring after the client's AuthSessionValidity, single use.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChallengeSession {
    pub pool_id: String,
    pub client_id: String,
    /// The internal username, and the `sub` of the user it named when the session began (a
    /// later user given the same name never inherits the session).
    pub username: String,
    #[serde(default)]
    pub sub: String,
    pub challenge: String,
    /// When the session began; a session rotated by AssociateSoftwareToken/VerifySoftwareToken
    /// keeps its predecessor's, so rotation never extends its life.
    pub created_ms: i64,
    /// Challenge-specific state (SRP's server secret, an MFA code hash, …) for later flows.
    #[serde(default)]
    pub data: serde_json::Map<String, Value>,
}

fn session_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// The client's AuthSessionValidity in seconds (3–15 minutes, default 3).
pub fn session_validity_secs(client: &AppClient) -> i64 {
    client.settings.get("AuthSessionValidity").and_then(Value::as_i64).unwrap_or(3).clamp(3, 15) * 60
}

/// Stores a new challenge session and returns its opaque token.
pub async fn open_challenge_session(
    svc: &Service,
    pool: &UserPool,
    client: &AppClient,
    user: &User,
    challenge: &str,
    data: serde_json::Map<String, Value>,
) -> Result<String> {
    store_challenge_session(svc, pool, client, user, challenge, data, svc.clock.now_millis()).await
}

/// Replaces a session by a new token for the same challenge (MFA_SETUP's Associate and Verify
/// steps), keeping its start and so its expiry.
pub async fn reopen_challenge_session(
    svc: &Service,
    pool: &UserPool,
    client: &AppClient,
    user: &User,
    previous: &ChallengeSession,
    data: serde_json::Map<String, Value>,
) -> Result<String> {
    store_challenge_session(svc, pool, client, user, &previous.challenge, data, previous.created_ms).await
}

async fn store_challenge_session(
    svc: &Service,
    pool: &UserPool,
    client: &AppClient,
    user: &User,
    challenge: &str,
    data: serde_json::Map<String, Value>,
    created_ms: i64,
) -> Result<String> {
    let token = URL_SAFE_NO_PAD.encode(svc.rng.bytes(96));
    let now = svc.now_secs();
    let expires_at = created_ms / 1000 + session_validity_secs(client);
    if expires_at <= now {
        return Err(invalid_session());
    }
    let session = ChallengeSession {
        pool_id: pool.id.clone(),
        client_id: client.client_id.clone(),
        username: user.username.clone(),
        sub: user.sub.clone(),
        challenge: challenge.to_string(),
        created_ms,
        data,
    };
    let mut item = Item::new(
        keys::auth_session(&session_hash(&token)),
        keys::AUTH_SESSION_SK,
        serde_json::to_value(&session).map_err(Error::internal)?,
    );
    item.expires_at = Some(expires_at);
    svc.store.transact(vec![Write::put(item, Cond::NotExists)], now).await?;
    Ok(token)
}

/// A live session for this client, with the write that consumes it (conditional on its version).
pub async fn take_challenge_session(
    svc: &Service,
    client: &AppClient,
    token: &str,
) -> Result<(ChallengeSession, Write)> {
    let pk = keys::auth_session(&session_hash(token));
    let (session, version) =
        svc.get_json::<ChallengeSession>(&pk, keys::AUTH_SESSION_SK).await?.ok_or_else(invalid_session)?;
    if session.client_id != client.client_id || session.pool_id != client.pool_id {
        return Err(invalid_session());
    }
    Ok((session, Write::delete(pk, keys::AUTH_SESSION_SK, Cond::Version(version))))
}

/// A live session whatever its client, with the write that consumes it: for
/// AssociateSoftwareToken and VerifySoftwareToken, which carry a Session but no ClientId (the
/// session names its pool and client).
pub async fn take_any_challenge_session(svc: &Service, token: &str) -> Result<(ChallengeSession, Write)> {
    let pk = keys::auth_session(&session_hash(token));
    let (session, version) =
        svc.get_json::<ChallengeSession>(&pk, keys::AUTH_SESSION_SK).await?.ok_or_else(invalid_session)?;
    Ok((session, Write::delete(pk, keys::AUTH_SESSION_SK, Cond::Version(version))))
}

/// Spends a session taken with [`take_challenge_session`]: a concurrent answer that spent it
/// first makes this one's session invalid.
pub(crate) async fn spend_challenge_session(svc: &Service, consume: Write) -> Result<()> {
    match svc.store.transact(vec![consume], svc.now_secs()).await {
        Ok(()) => Ok(()),
        Err(StoreError::ConditionFailed { .. }) => Err(invalid_session()),
        Err(e) => Err(e.into()),
    }
}

/// The live session a challenge response names, and the user it belongs to: the session must
/// be for `challenge` and this client, the response's USERNAME (or an alias of it) must name
/// the session's user, and SECRET_HASH may be over either name. Returns the session, the write
/// that consumes it, and the user with their version.
pub(crate) async fn answering_user(
    svc: &Service,
    pool: &UserPool,
    client: &AppClient,
    responses: &Value,
    token: &str,
    challenge: &str,
) -> Result<(ChallengeSession, Write, User, u64)> {
    let (session, consume) = take_challenge_session(svc, client, token).await?;
    answering_user_in(svc, pool, client, responses, session, consume, challenge).await
}

/// [`answering_user`] for a session already taken.
pub(crate) async fn answering_user_in(
    svc: &Service,
    pool: &UserPool,
    client: &AppClient,
    responses: &Value,
    session: ChallengeSession,
    consume: Write,
    challenge: &str,
) -> Result<(ChallengeSession, Write, User, u64)> {
    let username = param(responses, "USERNAME")?;
    if session.challenge != challenge {
        return Err(Error::invalid(format!("Invalid challenge name {challenge} for this session.")));
    }
    let (user, version) = svc.find_user(pool, username).await?.ok_or_else(invalid_session)?;
    if user.username != session.username || (!session.sub.is_empty() && user.sub != session.sub) {
        return Err(invalid_session());
    }
    check_secret_hash(
        client,
        responses.get("SECRET_HASH").and_then(Value::as_str),
        &[username, user.username.as_str()],
    )?;
    Ok((session, consume, user, version))
}

/// Answers a sign-in with a challenge and the session that continues it, carrying the sign-in's
/// progress.
pub(crate) async fn challenge_with(
    svc: &Service,
    pool: &UserPool,
    client: &AppClient,
    user: &User,
    name: &'static str,
    progress: Progress,
    caller: &Caller<'_>,
) -> Result<Value> {
    let mut data = progress.into_data()?;
    let params = match name {
        "SMS_MFA" => {
            let (mut params, code_hash) =
                crate::user_pool::mfa::factors::send_sms_mfa_code(svc, pool, user, caller).await?;
            data.insert("code_hash".into(), json!(code_hash));
            data.insert(
                "code_expires_at".into(),
                json!(svc.now_secs() + crate::user_pool::mfa::factors::SMS_MFA_CODE_SECS),
            );
            params["USER_ID_FOR_SRP"] = json!(user.username);
            params
        }
        "SOFTWARE_TOKEN_MFA" => {
            let mut params = json!({"USER_ID_FOR_SRP": user.username});
            if let Some(name) = &user.mfa.friendly_device_name {
                params["FRIENDLY_DEVICE_NAME"] = json!(name);
            }
            params
        }
        "SELECT_MFA_TYPE" => json!({
            "USER_ID_FOR_SRP": user.username,
            "MFAS_CAN_CHOOSE": serde_json::to_string(&crate::user_pool::mfa::factors::mfas_can_select(pool, user)).map_err(Error::internal)?,
        }),
        "MFA_SETUP" => json!({
            "USER_ID_FOR_SRP": user.username,
            "MFAS_CAN_SETUP": serde_json::to_string(&crate::user_pool::mfa::factors::mfas_can_setup(pool)).map_err(Error::internal)?,
        }),
        "DEVICE_SRP_AUTH" => json!({"USER_ID_FOR_SRP": user.username}),

        "NEW_PASSWORD_REQUIRED" => {
            let shown: serde_json::Map<String, Value> = user
                .attributes
                .iter()
                .filter(|(k, _)| k.as_str() != "sub" && crate::attributes::can_read(client, k))
                .map(|(k, v)| (k.clone(), json!(v)))
                .collect();
            let missing: Vec<String> = missing_required(pool, &user.attributes)
                .into_iter()
                .map(|a| format!("userAttributes.{a}"))
                .collect();
            json!({
                "USER_ID_FOR_SRP": user.username,
                "requiredAttributes": serde_json::to_string(&missing).map_err(Error::internal)?,
                "userAttributes": serde_json::to_string(&shown).map_err(Error::internal)?,
            })
        }
        other => return Err(Error::internal(format!("no parameters for challenge {other}"))),
    };
    let session = open_challenge_session(svc, pool, client, user, name, data).await?;
    Ok(json!({"ChallengeName": name, "Session": session, "ChallengeParameters": params}))
}

/// The pool's required attributes the user has no value for.
fn missing_required(pool: &UserPool, attributes: &std::collections::BTreeMap<String, String>) -> Vec<String> {
    pool.required_attributes
        .iter()
        .filter(|a| attributes.get(*a).is_none_or(|v| v.is_empty()))
        .cloned()
        .collect()
}

pub async fn respond_to_auth_challenge(svc: &Service, ctx: &CallContext, input: &Value) -> Result<Value> {
    let client = svc.client(input.req_str("ClientId")?).await?;
    respond(svc, ctx, &client, input).await
}

pub async fn admin_respond_to_auth_challenge(
    svc: &Service,
    ctx: &CallContext,
    input: &Value,
) -> Result<Value> {
    let pool_id = input.req_str("UserPoolId")?;
    let client = svc.client(input.req_str("ClientId")?).await?;
    if client.pool_id != pool_id {
        return Err(pool_mismatch(&client));
    }
    respond(svc, ctx, &client, input).await
}

async fn respond(svc: &Service, ctx: &CallContext, client: &AppClient, input: &Value) -> Result<Value> {
    match input.req_str("ChallengeName")? {
        "NEW_PASSWORD_REQUIRED" => respond_new_password(svc, ctx, client, input).await,
        "PASSWORD_VERIFIER" => super::auth_srp::respond_password_verifier(svc, ctx, client, input).await,
        "DEVICE_SRP_AUTH" => super::auth_srp::respond_device_srp_auth(svc, client, input).await,
        "DEVICE_PASSWORD_VERIFIER" => {
            super::auth_srp::respond_device_password_verifier(svc, ctx, client, input).await
        }
        name @ ("SMS_MFA" | "SOFTWARE_TOKEN_MFA") => {
            super::auth_mfa::respond_mfa_code(svc, ctx, client, input, name).await
        }
        "SELECT_MFA_TYPE" => super::auth_mfa::respond_select_mfa_type(svc, client, input).await,
        "MFA_SETUP" => super::auth_mfa::respond_mfa_setup(svc, ctx, client, input).await,
        "CUSTOM_CHALLENGE" => super::auth_triggers::respond_custom(svc, ctx, client, input).await,
        name => {
            Err(Error::invalid(format!("The {name} challenge is not supported by this Tessera version yet.")))
        }
    }
}

/// NEW_PASSWORD_REQUIRED answered: the new password (and any required attributes) are set, the
/// session is consumed, then PostAuthentication runs and tokens are issued.
async fn respond_new_password(
    svc: &Service,
    ctx: &CallContext,
    client: &AppClient,
    input: &Value,
) -> Result<Value> {
    let name = "NEW_PASSWORD_REQUIRED";
    let responses = input.get("ChallengeResponses").cloned().unwrap_or(json!({}));
    param(&responses, "USERNAME")?;
    let new_password = param(&responses, "NEW_PASSWORD")?.to_string();
    let token =
        input.str_of("Session").ok_or_else(|| Error::invalid("Missing required parameter Session"))?;
    let pool = svc.pool(&client.pool_id).await?;
    let (session, consume, mut user, version) =
        answering_user(svc, &pool, client, &responses, token, name).await?;
    let mut progress = Progress::from_data(&session.data);
    progress.new_password_set = true;
    let given: Vec<(String, String)> = responses
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| {
            let attr = k.strip_prefix("userAttributes.")?;
            let value = crate::attributes::canonical_value(&pool, attr, v.as_str().unwrap_or_default());
            Some((attr.to_string(), value))
        })
        .collect();
    if given.iter().any(|(k, _)| k == "sub") {
        return Err(Error::invalid("Cannot modify an immutable attribute: sub"));
    }
    crate::attributes::check_user_writes(&pool, client, given.iter().map(|(k, _)| k.as_str()))?;
    let mut attributes = user.attributes.clone();
    for (name, value) in &given {
        crate::attributes::check_value(&pool, name, value, crate::attributes::Writer::User)?;
        attributes.insert(name.clone(), value.clone());
    }
    attributes.retain(|_, v| !v.is_empty());
    if let Some(a) = missing_required(&pool, &attributes).first() {
        return Err(Error::invalid(format!("Invalid attributes given, {a} is missing")));
    }
    pool.password_policy.check(&new_password)?;
    match step(&AuthState::NewPasswordProvided, UserFacts::of(&user, svc.clock.now_millis())) {
        Step::Tokens => {}
        Step::Challenge(next) => {
            return Err(Error::internal(format!("unexpected challenge {next} after NEW_PASSWORD_REQUIRED")))
        }
        Step::Denied(e) => return Err(e),
        Step::CustomRound => return Err(Error::internal("a custom round after NEW_PASSWORD_REQUIRED")),
    }
    crate::user_pool::secrets::check_password_history(svc, &pool, &user, &new_password).await?;
    let (hash, srp) =
        crate::user_pool::secrets::password_secrets(svc, &pool, &user.username, &new_password).await?;
    crate::user_pool::secrets::remember_password(&pool, &mut user);
    // The same rules as UpdateUserAttributes: a changed email or phone is unverified and gets a code.
    let messages =
        super::attributes::apply_changes(svc, &pool, &mut user, &given, crate::attributes::Writer::User)?;
    user.password_hash = Some(hash);
    user.srp = Some(srp);
    user.status = UserStatus::CONFIRMED;
    user.password_state = PasswordState::default();
    user.modified = svc.clock.now_millis();
    // Consumes the session in the same transaction: a concurrent reuse fails on the user's version.
    let caller = Caller::new(Some(&client.client_id), input);
    super::attributes::save_and_send(svc, &pool, &user, version, messages, vec![consume], caller).await?;
    // The challenge is answered and the new password stays; a failing PostAuthentication or
    // PreTokenGeneration only withholds the tokens (and stores no refresh token).
    finish(svc, ctx, &pool, client, &user, progress, &caller).await
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

/// What becomes of the session family when tokens are issued.
pub(crate) enum Family<'a> {
    /// A sign-in: a new family and its first refresh token.
    New,
    /// A refresh without rotation: no new refresh token.
    Refresh { origin_jti: &'a str, origin: &'a Origin },
    /// A refresh with rotation: `token` is exchanged for the family's next refresh token.
    Rotate { origin_jti: &'a str, origin: &'a Origin, token: &'a str, grace_secs: i64 },
}

/// Issues tokens. A sign-in ([`Family::New`]) starts a session family with a refresh token; a
/// refresh reuses the family and its `auth_time`, and returns a new refresh token only when the
/// client rotates them.
///
/// The claims are built first and the pre token generation trigger (if any) changes them; only
/// then is the session family stored, so a failing trigger leaves no refresh token behind (and
/// rotates nothing).
#[allow(clippy::too_many_arguments)]
pub(crate) async fn issue_family(
    svc: &Service,
    ctx: &CallContext,
    pool: &UserPool,
    client: &AppClient,
    user: &User,
    family: Family<'_>,
    occasion: Occasion<'_>,
    device: IssuedDevice,
) -> Result<Value> {
    let now = svc.now_secs();
    let keys = svc.open_keys(pool)?;
    let (origin_jti, auth_time) = match &family {
        Family::Refresh { origin_jti, origin } | Family::Rotate { origin_jti, origin, .. } => {
            (origin_jti.to_string(), origin.auth_time)
        }
        Family::New => (svc.rng.uuid().to_string(), now),
    };
    let access_secs = client.validity_secs("Access", 1, "hours");
    let id_secs = client.validity_secs("Id", 1, "hours");
    let iss = ctx.issuer(&pool.id);
    let mut claims = Claims::default();
    for (k, v) in [
        ("sub", json!(user.sub)),
        ("iss", json!(iss)),
        ("client_id", json!(client.client_id)),
        ("origin_jti", json!(origin_jti)),
        ("event_id", json!(svc.rng.uuid().to_string())),
        ("token_use", json!("access")),
        ("scope", json!(USER_API_SCOPE)),
        ("auth_time", json!(auth_time)),
        ("exp", json!(now + access_secs)),
        ("iat", json!(now)),
        ("jti", json!(svc.rng.uuid().to_string())),
        ("username", json!(user.username)),
    ] {
        claims.access.insert(k.to_string(), v);
    }
    if let Some(key) = &device.key {
        claims.access.insert("device_key".into(), json!(key));
    }
    // Only the attributes the client may read become claims.
    let readable = user.attributes.iter().filter(|(name, _)| crate::attributes::can_read(client, name));
    for (name, value) in readable {
        let v = match name.as_str() {
            "email_verified" | "phone_number_verified" => json!(value == "true"),
            "updated_at" => value.parse::<i64>().map(|n| json!(n)).unwrap_or(json!(value)),
            _ => json!(value),
        };
        claims.id.insert(name.clone(), v);
    }
    for (k, v) in [
        ("sub", json!(user.sub)),
        ("iss", json!(iss)),
        ("cognito:username", json!(user.username)),
        ("origin_jti", json!(origin_jti)),
        ("aud", json!(client.client_id)),
        ("event_id", json!(svc.rng.uuid().to_string())),
        ("token_use", json!("id")),
        ("auth_time", json!(auth_time)),
        ("exp", json!(now + id_secs)),
        ("iat", json!(now)),
        ("jti", json!(svc.rng.uuid().to_string())),
    ] {
        claims.id.insert(k.to_string(), v);
    }
    let groups = super::groups::group_claims(svc, pool, user).await?;
    groups.apply(&mut claims.access, &mut claims.id);
    let request = TokenRequest { pool, client, user, occasion, groups: &groups };
    token_generation::customise(svc, &request, &mut claims).await?;
    let refresh_token = match family {
        Family::Refresh { .. } => None,
        Family::Rotate { token, grace_secs, .. } => Some(
            crate::user_pool::auth::refresh_family::rotate_family(svc, &origin_jti, token, grace_secs)
                .await?,
        ),
        Family::New => {
            let secret = URL_SAFE_NO_PAD.encode(svc.rng.bytes(32));
            let refresh_secs = client.validity_secs("Refresh", 30, "days");
            let origin = Origin {
                pool_id: pool.id.clone(),
                client_id: client.client_id.clone(),
                username: user.username.clone(),
                sub: user.sub.clone(),
                refresh_hash: crate::user_pool::auth::refresh_family::refresh_hash(&secret),
                auth_time: now,
                created_ms: svc.clock.now_millis().max(user.signed_out_at_ms + 1),
                device_key: device.key.clone(),
                also_live: vec![],
                spent: vec![],
            };
            let mut item = Item::new(
                keys::origin(&origin_jti),
                keys::ORIGIN_SK,
                serde_json::to_value(&origin).map_err(Error::internal)?,
            );
            item.expires_at = Some(now + refresh_secs);
            svc.store.transact(vec![Write::put(item, Cond::NotExists)], now).await?;
            Some(format!("{origin_jti}.{secret}"))
        }
    };
    let mut result = json!({
        "AccessToken": keys.access.sign(&Value::Object(claims.access))?,
        "ExpiresIn": access_secs,
        "TokenType": "Bearer",
        "IdToken": keys.id.sign(&Value::Object(claims.id))?,
    });
    if let Some(rt) = refresh_token {
        result["RefreshToken"] = json!(rt);
    }
    if let Some((key, group)) = device.new_metadata {
        result["NewDeviceMetadata"] = json!({"DeviceKey": key, "DeviceGroupKey": group});
    }
    Ok(json!({"ChallengeParameters": {}, "AuthenticationResult": result}))
}

pub async fn global_sign_out(svc: &Service, ctx: &CallContext, input: &Value) -> Result<Value> {
    let session = authorize_access_token(svc, ctx, input.req_str("AccessToken")?).await?;
    sign_out(svc, &session.pool, session.user, session.version).await
}

pub async fn admin_user_global_sign_out(svc: &Service, input: &Value) -> Result<Value> {
    let pool = svc.pool(input.req_str("UserPoolId")?).await?;
    let (user, version) = svc.require_user(&pool, input.req_str("Username")?).await?;
    sign_out(svc, &pool, user, version).await
}

async fn sign_out(svc: &Service, pool: &UserPool, mut user: User, version: u64) -> Result<Value> {
    user.signed_out_at_ms = svc.clock.now_millis();
    svc.save_user(pool, &user, version, vec![]).await?;
    Ok(json!({}))
}

pub async fn revoke_token(svc: &Service, input: &Value) -> Result<Value> {
    let token = input.req_str("Token")?;
    let client = svc.client(input.req_str("ClientId")?).await?;
    if let Some(secret) = client.secret.as_deref() {
        let given = input.str_of("ClientSecret").unwrap_or_default();
        let ok: bool = subtle::ConstantTimeEq::ct_eq(secret.as_bytes(), given.as_bytes()).into();
        if !ok {
            return Err(Error::UnauthorizedException("Client authentication failed.".into()));
        }
    }
    if token.split('.').count() == 3 {
        return Err(Error::UnsupportedTokenTypeException("Unsupported token type".into()));
    }
    if crate::user_pool::auth::refresh_family::split_refresh_token(token).is_none() {
        return Err(Error::invalid("Invalid token"));
    }
    // Any live token of the family (one in rotation's grace period too) revokes it.
    let Some((origin_jti, origin, version, _)) =
        crate::user_pool::auth::refresh_family::load_family(svc, token)
            .await?
            .filter(|(_, _, _, presented)| presented.is_live())
    else {
        // Already revoked, expired, rotated out or never issued: revoking it again is not an
        // error (RFC 7009).
        return Ok(json!({}));
    };
    if origin.client_id != client.client_id {
        return Err(Error::UnauthorizedException("The refresh token was not issued to this client.".into()));
    }
    if client.settings.get("EnableTokenRevocation").and_then(Value::as_bool) == Some(false) {
        return Err(Error::UnsupportedOperationException(
            "Token revocation is not enabled for this client.".into(),
        ));
    }
    match svc
        .store
        .transact(
            vec![Write::delete(keys::origin(&origin_jti), keys::ORIGIN_SK, Cond::Version(version))],
            svc.now_secs(),
        )
        .await
    {
        Ok(()) | Err(StoreError::ConditionFailed { .. }) => Ok(json!({})),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(status: UserStatus, enabled: bool) -> UserFacts {
        UserFacts { status, enabled, locked: false, temporary_password_expired: false }
    }

    fn denied(s: &Step) -> String {
        match s {
            Step::Denied(e) => e.to_string(),
            _ => String::new(),
        }
    }

    #[test]
    fn lockout_and_temporary_password_table() {
        use UserStatus::*;
        let ok = AuthState::PasswordChecked { correct: true };
        let bad = AuthState::PasswordChecked { correct: false };
        let locked = UserFacts { locked: true, ..facts(CONFIRMED, true) };
        assert_eq!(denied(&step(&ok, locked)), "NotAuthorizedException: Password attempts exceeded");
        assert_eq!(denied(&step(&bad, locked)), "NotAuthorizedException: Password attempts exceeded");
        let expired = UserFacts { temporary_password_expired: true, ..facts(FORCE_CHANGE_PASSWORD, true) };
        assert_eq!(
            denied(&step(&ok, expired)),
            "NotAuthorizedException: Temporary password has expired and must be reset by an administrator."
        );
        assert_eq!(
            denied(&step(&bad, expired)),
            "NotAuthorizedException: Incorrect username or password.",
            "a wrong temporary password never reaches the challenge or the expiry"
        );
        assert_eq!(
            denied(&step(&bad, facts(FORCE_CHANGE_PASSWORD, true))),
            "NotAuthorizedException: Incorrect username or password."
        );
        assert_eq!(
            denied(&step(&ok, facts(FORCE_CHANGE_PASSWORD, false))),
            "NotAuthorizedException: User is disabled."
        );
    }

    #[test]
    fn new_password_state_table() {
        use UserStatus::*;
        let s = AuthState::NewPasswordProvided;
        assert_eq!(step(&s, facts(FORCE_CHANGE_PASSWORD, true)), Step::Tokens);
        assert_eq!(
            denied(&step(&s, facts(FORCE_CHANGE_PASSWORD, false))),
            "NotAuthorizedException: User is disabled."
        );
        for other in [CONFIRMED, RESET_REQUIRED, UNCONFIRMED] {
            assert_eq!(
                denied(&step(&s, facts(other, true))),
                "NotAuthorizedException: Invalid session for the user.",
                "{other:?}"
            );
        }
    }

    #[test]
    fn password_state_table() {
        use UserStatus::*;
        let ok = AuthState::PasswordChecked { correct: true };
        let bad = AuthState::PasswordChecked { correct: false };
        let denied = |s: &Step| match s {
            Step::Denied(e) => e.name(),
            _ => "",
        };
        assert_eq!(step(&ok, facts(CONFIRMED, true)), Step::Tokens);
        assert_eq!(denied(&step(&bad, facts(CONFIRMED, true))), "NotAuthorizedException");
        assert_eq!(denied(&step(&ok, facts(UNCONFIRMED, true))), "UserNotConfirmedException");
        assert_eq!(
            denied(&step(&bad, facts(UNCONFIRMED, true))),
            "NotAuthorizedException",
            "status only after the password"
        );
        assert_eq!(denied(&step(&ok, facts(CONFIRMED, false))), "NotAuthorizedException");
        assert_eq!(denied(&step(&ok, facts(RESET_REQUIRED, true))), "PasswordResetRequiredException");
        assert_eq!(step(&ok, facts(FORCE_CHANGE_PASSWORD, true)), Step::Challenge("NEW_PASSWORD_REQUIRED"));
        assert_eq!(denied(&step(&AuthState::Start, facts(CONFIRMED, true))), "NotAuthorizedException");
    }

    #[test]
    fn define_responses_decide_the_custom_flow() {
        let decide = |v: Value| define_decision(v.as_object());
        let invalid = |r: Result<CustomDecision>| match r {
            Err(e) => e.name(),
            Ok(_) => "",
        };
        assert_eq!(
            decide(json!({"failAuthentication": true, "issueTokens": true})),
            Ok(CustomDecision::Fail)
        );
        assert_eq!(
            decide(json!({"failAuthentication": "true", "challengeName": "CUSTOM_CHALLENGE"})),
            Ok(CustomDecision::Fail)
        );
        assert_eq!(
            decide(json!({"issueTokens": true, "challengeName": null})),
            Ok(CustomDecision::IssueTokens)
        );
        assert_eq!(
            decide(json!({"issueTokens": "true", "challengeName": ""})),
            Ok(CustomDecision::IssueTokens)
        );
        assert_eq!(
            decide(
                json!({"issueTokens": false, "challengeName": "CUSTOM_CHALLENGE", "failAuthentication": null})
            ),
            Ok(CustomDecision::CustomChallenge)
        );
        for bad in [
            json!({}),
            json!({"issueTokens": true, "challengeName": "CUSTOM_CHALLENGE"}),
            json!({"challengeName": "CAPTCHA"}),
            json!({"challengeName": "SMS_MFA"}),
            json!({"challengeName": 7}),
            json!({"issueTokens": 1}),
        ] {
            assert_eq!(invalid(decide(bad.clone())), "InvalidLambdaResponseException", "{bad}");
        }
        assert_eq!(invalid(define_decision(None)), "InvalidLambdaResponseException", "no response at all");
    }

    #[test]
    fn custom_state_table() {
        use UserStatus::*;
        let decided = |decision, rounds| AuthState::CustomDecided { decision, rounds };
        let name = |s: Step| match s {
            Step::Denied(e) => e.to_string(),
            other => format!("{other:?}"),
        };
        // The gate before each round.
        assert_eq!(step(&AuthState::CustomInProgress, facts(CONFIRMED, true)), Step::CustomRound);
        assert_eq!(step(&AuthState::CustomInProgress, facts(FORCE_CHANGE_PASSWORD, true)), Step::CustomRound);
        assert_eq!(
            name(step(&AuthState::CustomInProgress, facts(CONFIRMED, false))),
            "NotAuthorizedException: User is disabled."
        );
        assert_eq!(
            name(step(&AuthState::CustomInProgress, facts(UNCONFIRMED, true))),
            "UserNotConfirmedException: User is not confirmed."
        );
        assert_eq!(
            name(step(&AuthState::CustomInProgress, facts(RESET_REQUIRED, true))),
            "PasswordResetRequiredException: Password reset required for the user"
        );
        // A locked-out password does not stop a custom flow.
        let locked = UserFacts { locked: true, ..facts(CONFIRMED, true) };
        assert_eq!(step(&AuthState::CustomInProgress, locked), Step::CustomRound);
        assert_eq!(step(&decided(CustomDecision::IssueTokens, 1), locked), Step::Tokens);
        // Define's decisions.
        assert_eq!(
            name(step(&decided(CustomDecision::Fail, 0), facts(CONFIRMED, true))),
            "NotAuthorizedException: Incorrect username or password."
        );
        assert_eq!(step(&decided(CustomDecision::IssueTokens, 0), facts(CONFIRMED, true)), Step::Tokens);
        assert_eq!(
            step(&decided(CustomDecision::IssueTokens, 2), facts(FORCE_CHANGE_PASSWORD, true)),
            Step::Challenge("NEW_PASSWORD_REQUIRED")
        );
        let expired = UserFacts { temporary_password_expired: true, ..facts(FORCE_CHANGE_PASSWORD, true) };
        assert!(name(step(&decided(CustomDecision::IssueTokens, 2), expired))
            .contains("Temporary password has expired"));
        assert_eq!(
            name(step(&decided(CustomDecision::IssueTokens, 1), facts(CONFIRMED, false))),
            "NotAuthorizedException: User is disabled."
        );
        assert_eq!(
            step(&decided(CustomDecision::CustomChallenge, 0), facts(CONFIRMED, true)),
            Step::Challenge("CUSTOM_CHALLENGE")
        );
        assert_eq!(
            step(&decided(CustomDecision::CustomChallenge, MAX_CUSTOM_ROUNDS - 1), facts(CONFIRMED, true)),
            Step::Challenge("CUSTOM_CHALLENGE")
        );
        assert!(name(step(
            &decided(CustomDecision::CustomChallenge, MAX_CUSTOM_ROUNDS),
            facts(CONFIRMED, true)
        ))
        .starts_with("NotAuthorizedException: Incorrect username or password."));
        // Failing wins over the user's state.
        assert_eq!(
            name(step(&decided(CustomDecision::Fail, 0), facts(UNCONFIRMED, false))),
            "NotAuthorizedException: Incorrect username or password."
        );
    }

    #[test]
    fn second_factor_table() {
        use DeviceFact::*;
        let facts =
            |mfa, device, remembered_skips_mfa| SecondFactorFacts { mfa, device, remembered_skips_mfa };
        let fresh = Progress::default();
        let mfa_done = Progress { mfa_done: true, ..Progress::default() };
        let all_done = Progress { mfa_done: true, device_done: true, ..Progress::default() };
        assert_eq!(second_step(&fresh, facts(MfaNeed::None, None, false)), Step::Tokens);
        assert_eq!(second_step(&fresh, facts(MfaNeed::Sms, None, true)), Step::Challenge("SMS_MFA"));
        assert_eq!(
            second_step(&fresh, facts(MfaNeed::SoftwareToken, None, false)),
            Step::Challenge("SOFTWARE_TOKEN_MFA")
        );
        assert_eq!(
            second_step(&fresh, facts(MfaNeed::Select, None, false)),
            Step::Challenge("SELECT_MFA_TYPE")
        );
        assert_eq!(second_step(&fresh, facts(MfaNeed::Setup, None, false)), Step::Challenge("MFA_SETUP"));
        assert_eq!(second_step(&mfa_done, facts(MfaNeed::Sms, None, false)), Step::Tokens);
        // A remembered device stands in for MFA only when the pool says so.
        assert_eq!(
            second_step(&fresh, facts(MfaNeed::SoftwareToken, Remembered, true)),
            Step::Challenge("DEVICE_SRP_AUTH")
        );
        assert_eq!(
            second_step(&fresh, facts(MfaNeed::SoftwareToken, Remembered, false)),
            Step::Challenge("SOFTWARE_TOKEN_MFA")
        );
        assert_eq!(
            second_step(&fresh, facts(MfaNeed::SoftwareToken, Confirmed, true)),
            Step::Challenge("SOFTWARE_TOKEN_MFA"),
            "a device that is not remembered never skips MFA"
        );
        assert_eq!(
            second_step(&mfa_done, facts(MfaNeed::Sms, Confirmed, true)),
            Step::Tokens,
            "no device challenge after MFA"
        );
        assert_eq!(
            second_step(&fresh, facts(MfaNeed::None, Confirmed, false)),
            Step::Challenge("DEVICE_SRP_AUTH")
        );
        assert_eq!(second_step(&all_done, facts(MfaNeed::Sms, Remembered, true)), Step::Tokens);
        let device_done = Progress { device_done: true, ..Progress::default() };
        assert_eq!(second_step(&device_done, facts(MfaNeed::Sms, Remembered, true)), Step::Tokens);
    }

    #[test]
    fn flows_parse_with_legacy_names() {
        assert_eq!(AuthFlow::parse("ADMIN_NO_SRP_AUTH").ok(), Some(AuthFlow::AdminUserPassword));
        assert_eq!(AuthFlow::parse("REFRESH_TOKEN").ok(), Some(AuthFlow::RefreshToken));
        assert!(AuthFlow::parse("NOPE").is_err());
    }
}
