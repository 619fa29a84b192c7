//! The sign-in's pure state machine: where a sign-in stands ([`AuthState`]) and the facts about
//! the user give the next [`Step`]; after the first factor, [`second_step`] decides MFA and the
//! device. No I/O here: the handlers load, hash and store, and ask these functions what follows.

use crate::error::{Error, Result};
use crate::model::{User, UserStatus};
use crate::user_pool::mfa::factors::MfaNeed;
use serde::{Deserialize, Serialize};
use serde_json::Value;

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
    pub(crate) fn client_setting(self) -> &'static str {
        match self {
            AuthFlow::UserSrp => "ALLOW_USER_SRP_AUTH",
            AuthFlow::UserPassword => "ALLOW_USER_PASSWORD_AUTH",
            AuthFlow::AdminUserPassword => "ALLOW_ADMIN_USER_PASSWORD_AUTH",
            AuthFlow::RefreshToken => "ALLOW_REFRESH_TOKEN_AUTH",
            AuthFlow::Custom => "ALLOW_CUSTOM_AUTH",
            AuthFlow::User => "ALLOW_USER_AUTH",
        }
    }

    pub(crate) fn not_enabled(self) -> Error {
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

/// Cognito's `ChallengeNameType`, and SRP_A (a round name in custom flows). The names are
/// spelled here and nowhere else: [`ChallengeName::as_str`], and serde through it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(into = "&'static str", try_from = "String")]
pub enum ChallengeName {
    SmsMfa,
    EmailOtp,
    SoftwareTokenMfa,
    SelectMfaType,
    MfaSetup,
    PasswordVerifier,
    CustomChallenge,
    SelectChallenge,
    DeviceSrpAuth,
    DevicePasswordVerifier,
    AdminNoSrpAuth,
    NewPasswordRequired,
    SmsOtp,
    Password,
    WebAuthn,
    PasswordSrp,
    SrpA,
}

impl ChallengeName {
    pub const ALL: [ChallengeName; 17] = {
        use ChallengeName::*;
        [
            SmsMfa,
            EmailOtp,
            SoftwareTokenMfa,
            SelectMfaType,
            MfaSetup,
            PasswordVerifier,
            CustomChallenge,
            SelectChallenge,
            DeviceSrpAuth,
            DevicePasswordVerifier,
            AdminNoSrpAuth,
            NewPasswordRequired,
            SmsOtp,
            Password,
            WebAuthn,
            PasswordSrp,
            SrpA,
        ]
    };

    pub fn as_str(self) -> &'static str {
        use ChallengeName::*;
        match self {
            SmsMfa => "SMS_MFA",
            EmailOtp => "EMAIL_OTP",
            SoftwareTokenMfa => "SOFTWARE_TOKEN_MFA",
            SelectMfaType => "SELECT_MFA_TYPE",
            MfaSetup => "MFA_SETUP",
            PasswordVerifier => "PASSWORD_VERIFIER",
            CustomChallenge => "CUSTOM_CHALLENGE",
            SelectChallenge => "SELECT_CHALLENGE",
            DeviceSrpAuth => "DEVICE_SRP_AUTH",
            DevicePasswordVerifier => "DEVICE_PASSWORD_VERIFIER",
            AdminNoSrpAuth => "ADMIN_NO_SRP_AUTH",
            NewPasswordRequired => "NEW_PASSWORD_REQUIRED",
            SmsOtp => "SMS_OTP",
            Password => "PASSWORD",
            WebAuthn => "WEB_AUTHN",
            PasswordSrp => "PASSWORD_SRP",
            SrpA => "SRP_A",
        }
    }

    pub fn parse(name: &str) -> Option<ChallengeName> {
        ChallengeName::ALL.into_iter().find(|c| c.as_str() == name)
    }

    /// The names a DefineAuthChallenge function may know from custom flows (CUSTOM_CHALLENGE and
    /// PASSWORD_VERIFIER can follow; MFA comes by itself after `issueTokens`, as Cognito runs
    /// it). The USER_AUTH names are not among them.
    pub fn known_to_custom_flows(self) -> bool {
        use ChallengeName::*;
        !matches!(self, SelectChallenge | SmsOtp | Password | WebAuthn | PasswordSrp)
    }
}

impl std::fmt::Display for ChallengeName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<ChallengeName> for &'static str {
    fn from(c: ChallengeName) -> &'static str {
        c.as_str()
    }
}

impl TryFrom<String> for ChallengeName {
    type Error = String;
    fn try_from(name: String) -> std::result::Result<ChallengeName, String> {
        ChallengeName::parse(&name).ok_or_else(|| format!("unknown challenge name {name}"))
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
        (false, Some(name)) if ChallengeName::parse(name).is_some_and(ChallengeName::known_to_custom_flows) => Err(invalid(format!(
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
    Challenge(ChallengeName),
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
                UserStatus::FORCE_CHANGE_PASSWORD => Step::Challenge(ChallengeName::NewPasswordRequired),
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
                (CustomDecision::CustomChallenge, _) => Step::Challenge(ChallengeName::CustomChallenge),
                (CustomDecision::PasswordVerifier, _) => Step::Challenge(ChallengeName::PasswordVerifier),
                (CustomDecision::IssueTokens, UserStatus::CONFIRMED) => Step::Tokens,
                // An admin-created user still sets a password before getting tokens.
                (CustomDecision::IssueTokens, UserStatus::FORCE_CHANGE_PASSWORD) => {
                    Step::Challenge(ChallengeName::NewPasswordRequired)
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

/// The second factors a sign-in has passed, in order.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum SecondFactor {
    #[default]
    NotYet,
    /// An MFA challenge (SMS_MFA, SOFTWARE_TOKEN_MFA, MFA_SETUP).
    Mfa,
    /// The device's own proof (DEVICE_PASSWORD_VERIFIER), which stood in for MFA.
    Device,
    /// The device's proof, then MFA: the device stopped standing in for MFA during the sign-in.
    DeviceThenMfa,
}

impl SecondFactor {
    /// After a right MFA answer.
    pub fn after_mfa(self) -> SecondFactor {
        match self {
            SecondFactor::Device | SecondFactor::DeviceThenMfa => SecondFactor::DeviceThenMfa,
            SecondFactor::NotYet | SecondFactor::Mfa => SecondFactor::Mfa,
        }
    }

    /// The device proved itself: the tokens are for an authenticated device.
    pub fn device_proven(self) -> bool {
        matches!(self, SecondFactor::Device | SecondFactor::DeviceThenMfa)
    }
}

/// After the first factor (and NEW_PASSWORD_REQUIRED): MFA, unless a remembered device stands
/// in for it; otherwise the device's own proof (DEVICE_SRP_AUTH) for a confirmed device; then
/// tokens. A sign-in that answered MFA gets no device challenge after it: amazon-cognito-
/// identity-js would answer that one with the spent MFA session.
pub fn second_step(passed: SecondFactor, facts: SecondFactorFacts) -> Step {
    let mfa_passed = matches!(passed, SecondFactor::Mfa | SecondFactor::DeviceThenMfa);
    let skip_mfa = facts.device == DeviceFact::Remembered && facts.remembered_skips_mfa;
    if !mfa_passed && !skip_mfa {
        match facts.mfa {
            MfaNeed::None => {}
            MfaNeed::Sms => return Step::Challenge(ChallengeName::SmsMfa),
            MfaNeed::SoftwareToken => return Step::Challenge(ChallengeName::SoftwareTokenMfa),
            MfaNeed::Select => return Step::Challenge(ChallengeName::SelectMfaType),
            MfaNeed::Setup => return Step::Challenge(ChallengeName::MfaSetup),
        }
    }
    if passed == SecondFactor::NotYet && facts.device != DeviceFact::None {
        return Step::Challenge(ChallengeName::DeviceSrpAuth);
    }
    Step::Tokens
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const WRONG: &str = "NotAuthorizedException: Incorrect username or password.";
    const LOCKED: &str = "NotAuthorizedException: Password attempts exceeded";
    const DISABLED: &str = "NotAuthorizedException: User is disabled.";
    const EXPIRED: &str =
        "NotAuthorizedException: Temporary password has expired and must be reset by an administrator.";
    const UNCONFIRMED_: &str = "UserNotConfirmedException: User is not confirmed.";
    const RESET: &str = "PasswordResetRequiredException: Password reset required for the user";
    const SESSION: &str = "NotAuthorizedException: Invalid session for the user.";

    /// A user in `status`, enabled, not locked out, with a live temporary password.
    fn user(status: UserStatus) -> UserFacts {
        UserFacts { status, enabled: true, locked: false, temporary_password_expired: false }
    }
    fn disabled(status: UserStatus) -> UserFacts {
        UserFacts { enabled: false, ..user(status) }
    }
    fn locked(status: UserStatus) -> UserFacts {
        UserFacts { locked: true, ..user(status) }
    }
    fn expired() -> UserFacts {
        UserFacts { temporary_password_expired: true, ..user(UserStatus::FORCE_CHANGE_PASSWORD) }
    }

    /// A step as a reader of the table says it: "tokens", a challenge's name, "custom round",
    /// or the error.
    fn outcome(step: Step) -> String {
        match step {
            Step::Tokens => "tokens".into(),
            Step::Challenge(c) => c.as_str().into(),
            Step::Denied(e) => e.to_string(),
            Step::CustomRound => "custom round".into(),
        }
    }

    fn check(table: &[(AuthState, UserFacts, &str)]) {
        for (state, facts, want) in table {
            assert_eq!(outcome(step(state, *facts)), *want, "{state:?} {facts:?}");
        }
    }

    #[test]
    fn password_table() {
        use UserStatus::*;
        let right = AuthState::PasswordChecked { correct: true };
        let wrong = AuthState::PasswordChecked { correct: false };
        check(&[
            (right.clone(), user(CONFIRMED), "tokens"),
            (wrong.clone(), user(CONFIRMED), WRONG),
            (right.clone(), user(UNCONFIRMED), UNCONFIRMED_),
            // The user's state shows only after the right password.
            (wrong.clone(), user(UNCONFIRMED), WRONG),
            (right.clone(), disabled(CONFIRMED), DISABLED),
            (right.clone(), user(RESET_REQUIRED), RESET),
            (right.clone(), user(FORCE_CHANGE_PASSWORD), "NEW_PASSWORD_REQUIRED"),
            (AuthState::Start, user(CONFIRMED), WRONG),
            // A lockout refuses right and wrong passwords alike.
            (right.clone(), locked(CONFIRMED), LOCKED),
            (wrong.clone(), locked(CONFIRMED), LOCKED),
            // A wrong temporary password never reaches the challenge or the expiry.
            (right.clone(), expired(), EXPIRED),
            (wrong.clone(), expired(), WRONG),
            (wrong, user(FORCE_CHANGE_PASSWORD), WRONG),
            (right, disabled(FORCE_CHANGE_PASSWORD), DISABLED),
        ]);
    }

    #[test]
    fn new_password_table() {
        use UserStatus::*;
        let answered = AuthState::NewPasswordProvided;
        check(&[
            (answered.clone(), user(FORCE_CHANGE_PASSWORD), "tokens"),
            (answered.clone(), disabled(FORCE_CHANGE_PASSWORD), DISABLED),
            // The user changed under the session (an admin set or reset the password).
            (answered.clone(), user(CONFIRMED), SESSION),
            (answered.clone(), user(RESET_REQUIRED), SESSION),
            (answered, user(UNCONFIRMED), SESSION),
        ]);
    }

    #[test]
    fn custom_flow_table() {
        use CustomDecision::*;
        use UserStatus::*;
        let round = AuthState::CustomInProgress;
        let decided = |decision, rounds| AuthState::CustomDecided { decision, rounds };
        let too_many =
            format!("{WRONG} The custom authentication flow exceeded {MAX_CUSTOM_ROUNDS} challenges.");
        check(&[
            // The gate before each round.
            (round.clone(), user(CONFIRMED), "custom round"),
            (round.clone(), user(FORCE_CHANGE_PASSWORD), "custom round"),
            (round.clone(), disabled(CONFIRMED), DISABLED),
            (round.clone(), user(UNCONFIRMED), UNCONFIRMED_),
            (round.clone(), user(RESET_REQUIRED), RESET),
            // A locked-out password does not stop a custom flow.
            (round, locked(CONFIRMED), "custom round"),
            (decided(IssueTokens, 1), locked(CONFIRMED), "tokens"),
            // DefineAuthChallenge's decisions.
            (decided(Fail, 0), user(CONFIRMED), WRONG),
            (decided(IssueTokens, 0), user(CONFIRMED), "tokens"),
            (decided(IssueTokens, 2), user(FORCE_CHANGE_PASSWORD), "NEW_PASSWORD_REQUIRED"),
            (decided(IssueTokens, 2), expired(), EXPIRED),
            (decided(IssueTokens, 1), disabled(CONFIRMED), DISABLED),
            (decided(CustomChallenge, 0), user(CONFIRMED), "CUSTOM_CHALLENGE"),
            (decided(CustomChallenge, MAX_CUSTOM_ROUNDS - 1), user(CONFIRMED), "CUSTOM_CHALLENGE"),
            (decided(CustomChallenge, MAX_CUSTOM_ROUNDS), user(CONFIRMED), &too_many),
            (decided(PasswordVerifier, 1), user(CONFIRMED), "PASSWORD_VERIFIER"),
            // Failing wins over the user's state.
            (decided(Fail, 0), disabled(UNCONFIRMED), WRONG),
        ]);
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
    fn second_factor_table() {
        use ChallengeName::*;
        use DeviceFact::{Confirmed, Remembered};
        use SecondFactor::{Device, DeviceThenMfa, Mfa, NotYet};
        let tokens = Step::Tokens;
        let challenge = Step::Challenge;
        // (passed so far, MFA the user needs, the sign-in's device, a remembered device skips MFA) → step
        let table = [
            (NotYet, MfaNeed::None, DeviceFact::None, false, tokens.clone()),
            (NotYet, MfaNeed::Sms, DeviceFact::None, true, challenge(SmsMfa)),
            (NotYet, MfaNeed::SoftwareToken, DeviceFact::None, false, challenge(SoftwareTokenMfa)),
            (NotYet, MfaNeed::Select, DeviceFact::None, false, challenge(SelectMfaType)),
            (NotYet, MfaNeed::Setup, DeviceFact::None, false, challenge(MfaSetup)),
            (Mfa, MfaNeed::Sms, DeviceFact::None, false, tokens.clone()),
            // A remembered device stands in for MFA only when the pool says so.
            (NotYet, MfaNeed::SoftwareToken, Remembered, true, challenge(DeviceSrpAuth)),
            (NotYet, MfaNeed::SoftwareToken, Remembered, false, challenge(SoftwareTokenMfa)),
            // A device that is not remembered never skips MFA.
            (NotYet, MfaNeed::SoftwareToken, Confirmed, true, challenge(SoftwareTokenMfa)),
            // No device challenge after MFA.
            (Mfa, MfaNeed::Sms, Confirmed, true, tokens.clone()),
            (NotYet, MfaNeed::None, Confirmed, false, challenge(DeviceSrpAuth)),
            (Device, MfaNeed::Sms, Remembered, true, tokens.clone()),
            (DeviceThenMfa, MfaNeed::Sms, Remembered, false, tokens.clone()),
            // The device stopped standing in for MFA after its proof: MFA still follows.
            (Device, MfaNeed::Sms, Remembered, false, challenge(SmsMfa)),
            (Device, MfaNeed::None, Confirmed, false, tokens.clone()),
        ];
        for (passed, mfa, device, remembered_skips_mfa, want) in table {
            let facts = SecondFactorFacts { mfa, device, remembered_skips_mfa };
            assert_eq!(second_step(passed, facts), want, "{passed:?} {facts:?}");
        }
        assert_eq!(Device.after_mfa(), DeviceThenMfa);
        assert_eq!(NotYet.after_mfa(), Mfa);
    }

    #[test]
    fn challenge_names_are_cognitos() {
        for c in ChallengeName::ALL {
            assert_eq!(ChallengeName::parse(c.as_str()), Some(c));
            assert_eq!(serde_json::to_value(c).ok(), Some(json!(c.as_str())));
        }
        assert_eq!(ChallengeName::SoftwareTokenMfa.as_str(), "SOFTWARE_TOKEN_MFA");
        assert_eq!(ChallengeName::parse("CAPTCHA"), None);
        assert!(serde_json::from_value::<ChallengeName>(json!("CAPTCHA")).is_err());
    }

    #[test]
    fn flows_parse_with_legacy_names() {
        assert_eq!(AuthFlow::parse("ADMIN_NO_SRP_AUTH").ok(), Some(AuthFlow::AdminUserPassword));
        assert_eq!(AuthFlow::parse("REFRESH_TOKEN").ok(), Some(AuthFlow::RefreshToken));
        assert!(AuthFlow::parse("NOPE").is_err());
    }
}
