//! The MFA challenges of a sign-in: SMS_MFA and SOFTWARE_TOKEN_MFA answered with a code,
//! SELECT_MFA_TYPE answered with a choice, MFA_SETUP answered once the session has been used to
//! set up a software token (AssociateSoftwareToken, VerifySoftwareToken).

use super::flow::{challenge_with, finish};
use super::machine::ChallengeName;
use super::parameters::Answer;
use super::session::{
    answering_user, invalid_session, keep_session, spend_challenge_session, Pending, Progress,
};
use super::sign_in::SignIn;
use crate::error::{Error, Result};
use crate::model::MfaMethod;
use crate::user_pool::codes::{clear_attempts, count_attempt};
use crate::user_pool::lockout::record_sign_in_attempt;
use crate::user_pool::mfa::{factors, totp};
use serde_json::Value;

/// Wrong codes one challenge session takes; the last one ends it.
pub const MAX_MFA_CODE_ATTEMPTS: u64 = 5;

fn code_mismatch() -> Error {
    Error::CodeMismatchException("Invalid code or auth state for the user.".into())
}

/// The counter of wrong MFA codes (SMS and TOTP together) on the user record.
pub const MFA_CODE_PURPOSE: &str = "mfa";

/// SMS_MFA (SMS_MFA_CODE) and SOFTWARE_TOKEN_MFA (SOFTWARE_TOKEN_MFA_CODE). A wrong code keeps
/// the session for another try, up to [`MAX_MFA_CODE_ATTEMPTS`]; SDKs send both code keys, so
/// the other one is ignored.
pub(crate) async fn respond_mfa_code(
    s: &SignIn<'_>,
    answer: &Answer<'_>,
    challenge: ChallengeName,
) -> Result<Value> {
    let (svc, pool, responses) = (s.svc, &*s.pool, &answer.responses);
    let sms = challenge == ChallengeName::SmsMfa;
    let code = match sms {
        true => responses.sms_mfa_code()?,
        false => responses.software_token_mfa_code()?,
    };
    let code = code.trim().to_string();
    let token = answer.session()?;
    let (mut session, consume, mut user, mut version) =
        answering_user(s, responses, token, challenge).await?;
    // Wrong codes count toward the user's lockout like wrong passwords, and only tokens clear
    // the count: a known password does not buy endless fresh guesses.
    if user.password_state.locked_until_ms > svc.clock.now_millis() {
        return Err(Error::not_authorized("Password attempts exceeded"));
    }
    if let Pending::SmsMfa { code_expires_at, .. } = session.pending {
        if code_expires_at <= svc.now_secs() {
            svc.store.transact(vec![consume], svc.now_secs()).await.ok();
            return Err(Error::ExpiredCodeException(
                "Invalid code provided, please request a code again.".into(),
            ));
        }
    }
    // A TOTP code already accepted once is refused as Cognito refuses it, before anything is
    // counted: it is not a wrong guess, and no number of reuses locks the user out.
    if !sms && totp::software_token_code_reused(svc, &user, &code)? {
        return Err(totp::software_token_code_used());
    }
    // Also counted, before the comparison, on the MFA code counter, which neither a new
    // session nor the password's quiet time resets (see `codes::count_attempt`): the password
    // schedule alone let a holder of the password try ~28,000 codes a month.
    count_attempt(svc, pool, &mut user, &mut version, MFA_CODE_PURPOSE).await.map_err(|e| match e {
        Error::LimitExceededException(_) => Error::not_authorized("Password attempts exceeded"),
        other => other,
    })?;
    let correct = match &session.pending {
        Pending::SmsMfa { code_hash, .. } => {
            factors::sms_code_matches(svc.cipher.as_ref(), code_hash, &code)?
        }
        Pending::SoftwareTokenMfa { .. } => totp::check_software_token_code(svc, &mut user, &code)?,
        _ => return Err(invalid_session()),
    };
    if !correct {
        let wrong = match &mut session.pending {
            Pending::SmsMfa { wrong_codes, .. } | Pending::SoftwareTokenMfa { wrong_codes } => {
                *wrong_codes += 1;
                *wrong_codes
            }
            _ => MAX_MFA_CODE_ATTEMPTS,
        };
        if wrong >= MAX_MFA_CODE_ATTEMPTS {
            svc.store.transact(vec![consume], svc.now_secs()).await.ok();
        } else {
            keep_session(svc, s.client, &session, consume).await?;
        }
        record_sign_in_attempt(svc, pool, user, version, false).await?;
        return Err(code_mismatch());
    }
    clear_attempts(&mut user, MFA_CODE_PURPOSE);
    let progress = Progress { second_factor: session.progress.second_factor.after_mfa(), ..session.progress };
    if sms && user.attr("phone_number_verified") != Some("true") {
        // A code received by SMS proves the phone number.
        user.attributes.insert("phone_number_verified".into(), "true".into());
        user.modified = svc.clock.now_millis();
    }
    // Consumes the session with the user's change (the TOTP step, the verified phone): a
    // concurrent answer with the same session or code fails on one of the versions.
    svc.save_user(pool, &user, version, vec![consume]).await.map_err(|e| match e {
        Error::ConcurrentModificationException(_) => invalid_session(),
        other => other,
    })?;
    finish(s, &user, progress).await
}

/// SELECT_MFA_TYPE: ANSWER names one of MFAS_CAN_CHOOSE; that challenge follows in a new session.
pub(crate) async fn respond_select_mfa_type(s: &SignIn<'_>, answer: &Answer<'_>) -> Result<Value> {
    let responses = &answer.responses;
    let choice = responses.answer()?;
    let token = answer.session()?;
    let (session, consume, user, _) =
        answering_user(s, responses, token, ChallengeName::SelectMfaType).await?;
    let offered = factors::mfas_can_select(&s.pool, &user);
    let offers = |method: MfaMethod| offered.contains(&method.as_str());
    let chosen = match ChallengeName::parse(choice) {
        Some(c @ ChallengeName::SmsMfa) if offers(MfaMethod::Sms) => c,
        Some(c @ ChallengeName::SoftwareTokenMfa) if offers(MfaMethod::SoftwareToken) => c,
        _ => {
            return Err(Error::invalid(format!(
                "ANSWER must be one of {}: {choice}",
                serde_json::to_string(&offered).unwrap_or_default()
            )))
        }
    };
    spend_challenge_session(s.svc, consume).await?;
    challenge_with(s, &user, chosen, session.progress).await
}

/// MFA_SETUP: answered once VerifySoftwareToken accepted a code with this session.
pub(crate) async fn respond_mfa_setup(s: &SignIn<'_>, answer: &Answer<'_>) -> Result<Value> {
    let token = answer.session()?;
    let (session, consume, user, _) =
        answering_user(s, &answer.responses, token, ChallengeName::MfaSetup).await?;
    if session.pending != (Pending::MfaSetup { software_token_verified: true }) {
        return Err(Error::invalid(
            "MFA_SETUP is answered after AssociateSoftwareToken and VerifySoftwareToken with this Session.",
        ));
    }
    spend_challenge_session(s.svc, consume).await?;
    let progress = Progress { second_factor: session.progress.second_factor.after_mfa(), ..session.progress };
    finish(s, &user, progress).await
}
