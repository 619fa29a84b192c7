//! The MFA challenges of a sign-in (spec B §1): SMS_MFA and SOFTWARE_TOKEN_MFA answered with a
//! code, SELECT_MFA_TYPE answered with a choice, MFA_SETUP answered once the session has been
//! used to set up a software token (AssociateSoftwareToken, VerifySoftwareToken).

use super::auth::{self, param, ChallengeSession, Progress};
use crate::error::{Error, Result};
use crate::model::{AppClient, MfaMethod};
use crate::service::{CallContext, Input, Service};
use crate::store::{Cond, Item, StoreError, Write};
use crate::triggers::Caller;
use serde_json::{json, Value};

/// Wrong codes one challenge session takes; the last one ends it.
pub const MAX_MFA_CODE_ATTEMPTS: u64 = 5;

fn code_mismatch() -> Error {
    Error::CodeMismatchException("Invalid code or auth state for the user.".into())
}

fn session_token(input: &Value) -> Result<&str> {
    input
        .str_of("Session")
        .filter(|s| !s.is_empty())
        .ok_or_else(|| Error::invalid("Missing required parameter Session"))
}

/// Writes a session back (same token, same expiry) with changed data, instead of consuming it.
async fn keep_session(
    svc: &Service,
    client: &AppClient,
    session: &ChallengeSession,
    consume: Write,
) -> Result<()> {
    let Write::Delete { pk, sk, cond: Cond::Version(version) } = consume else {
        return Err(Error::internal("a challenge session's consuming write is a versioned delete"));
    };
    let mut item = Item::new(pk, sk, serde_json::to_value(session).map_err(Error::internal)?);
    // A new version, so every other answer read at the old one fails: each wrong code counts.
    item.version = version + 1;
    item.expires_at = Some(session.created_ms / 1000 + auth::session_validity_secs(client));
    let cond = Cond::Version(version);
    match svc.store.transact(vec![Write::put(item, cond)], svc.now_secs()).await {
        Ok(()) => Ok(()),
        Err(StoreError::ConditionFailed { .. }) => Err(auth::invalid_session()),
        Err(e) => Err(e.into()),
    }
}

/// The counter of wrong MFA codes (SMS and TOTP together) on the user record.
pub const MFA_CODE_PURPOSE: &str = "mfa";

/// SMS_MFA (SMS_MFA_CODE) and SOFTWARE_TOKEN_MFA (SOFTWARE_TOKEN_MFA_CODE). A wrong code keeps
/// the session for another try, up to [`MAX_MFA_CODE_ATTEMPTS`]; SDKs send both code keys, so
/// the other one is ignored.
pub(crate) async fn respond_mfa_code(
    svc: &Service,
    ctx: &CallContext,
    client: &AppClient,
    input: &Value,
    name: &str,
) -> Result<Value> {
    let responses = input.get("ChallengeResponses").cloned().unwrap_or(json!({}));
    let code_key = if name == "SMS_MFA" { "SMS_MFA_CODE" } else { "SOFTWARE_TOKEN_MFA_CODE" };
    let code = param(&responses, code_key)?.trim().to_string();
    let token = session_token(input)?;
    let pool = svc.pool(&client.pool_id).await?;
    let (mut session, consume, mut user, mut version) =
        auth::answering_user(svc, &pool, client, &responses, token, name).await?;
    // Wrong codes count toward the user's lockout like wrong passwords, and only tokens clear
    // the count: a known password does not buy endless fresh guesses.
    if user.password_state.locked_until_ms > svc.clock.now_millis() {
        return Err(Error::not_authorized("Password attempts exceeded"));
    }
    if name == "SMS_MFA" {
        let live =
            session.data.get("code_expires_at").and_then(Value::as_i64).is_some_and(|t| t > svc.now_secs());
        if !live {
            svc.store.transact(vec![consume], svc.now_secs()).await.ok();
            return Err(Error::ExpiredCodeException(
                "Invalid code provided, please request a code again.".into(),
            ));
        }
    }
    // A TOTP code already accepted once is refused as Cognito refuses it, before anything is
    // counted: it is not a wrong guess, and no number of reuses locks the user out.
    if name != "SMS_MFA" && crate::user_pool::mfa::totp::software_token_code_reused(svc, &user, &code)? {
        return Err(crate::user_pool::mfa::totp::software_token_code_used());
    }
    // Also counted, before the comparison, on the MFA code counter, which neither a new
    // session nor the password's quiet time resets (see `users::count_attempt`): the password
    // schedule alone let a holder of the password try ~28,000 codes a month.
    crate::user_pool::codes::count_attempt(svc, &pool, &mut user, &mut version, MFA_CODE_PURPOSE)
        .await
        .map_err(|e| match e {
            Error::LimitExceededException(_) => Error::not_authorized("Password attempts exceeded"),
            other => other,
        })?;
    let correct = if name == "SMS_MFA" {
        let hash = session.data.get("code_hash").and_then(Value::as_str).unwrap_or_default();
        crate::user_pool::mfa::factors::sms_code_matches(svc.cipher.as_ref(), hash, &code)?
    } else {
        crate::user_pool::mfa::totp::check_software_token_code(svc, &mut user, &code)?
    };
    if !correct {
        let attempts = session.data.get("attempts").and_then(Value::as_u64).unwrap_or(0) + 1;
        if attempts >= MAX_MFA_CODE_ATTEMPTS {
            svc.store.transact(vec![consume], svc.now_secs()).await.ok();
        } else {
            session.data.insert("attempts".into(), json!(attempts));
            keep_session(svc, client, &session, consume).await?;
        }
        crate::user_pool::lockout::record_sign_in_attempt(svc, &pool, user, version, false).await?;
        return Err(code_mismatch());
    }
    crate::user_pool::codes::clear_attempts(&mut user, MFA_CODE_PURPOSE);
    let mut progress = Progress::from_data(&session.data);
    progress.mfa_done = true;
    if name == "SMS_MFA" && user.attr("phone_number_verified") != Some("true") {
        // A code received by SMS proves the phone number (spec B §1.2).
        user.attributes.insert("phone_number_verified".into(), "true".into());
        user.modified = svc.clock.now_millis();
    }
    // Consumes the session with the user's change (the TOTP step, the verified phone): a
    // concurrent answer with the same session or code fails on one of the versions.
    svc.save_user(&pool, &user, version, vec![consume]).await.map_err(|e| match e {
        Error::ConcurrentModificationException(_) => auth::invalid_session(),
        other => other,
    })?;
    let caller = Caller::new(Some(&client.client_id), input);
    auth::finish(svc, ctx, &pool, client, &user, progress, &caller).await
}

/// SELECT_MFA_TYPE: ANSWER names one of MFAS_CAN_CHOOSE; that challenge follows in a new session.
pub(crate) async fn respond_select_mfa_type(
    svc: &Service,
    client: &AppClient,
    input: &Value,
) -> Result<Value> {
    let responses = input.get("ChallengeResponses").cloned().unwrap_or(json!({}));
    let answer = param(&responses, "ANSWER")?.to_string();
    let token = session_token(input)?;
    let pool = svc.pool(&client.pool_id).await?;
    let (session, consume, user, _) =
        auth::answering_user(svc, &pool, client, &responses, token, "SELECT_MFA_TYPE").await?;
    let offered = crate::user_pool::mfa::factors::mfas_can_select(&pool, &user);
    let chosen = match answer.as_str() {
        "SMS_MFA" if offered.contains(&MfaMethod::Sms.as_str()) => "SMS_MFA",
        "SOFTWARE_TOKEN_MFA" if offered.contains(&MfaMethod::SoftwareToken.as_str()) => "SOFTWARE_TOKEN_MFA",
        other => {
            return Err(Error::invalid(format!(
                "ANSWER must be one of {}: {other}",
                serde_json::to_string(&offered).unwrap_or_default()
            )))
        }
    };
    auth::spend_challenge_session(svc, consume).await?;
    let caller = Caller::new(Some(&client.client_id), input);
    let progress = Progress::from_data(&session.data);
    auth::challenge_with(svc, &pool, client, &user, chosen, progress, &caller).await
}

/// MFA_SETUP: answered once VerifySoftwareToken accepted a code with this session.
pub(crate) async fn respond_mfa_setup(
    svc: &Service,
    ctx: &CallContext,
    client: &AppClient,
    input: &Value,
) -> Result<Value> {
    let responses = input.get("ChallengeResponses").cloned().unwrap_or(json!({}));
    let token = session_token(input)?;
    let pool = svc.pool(&client.pool_id).await?;
    let (session, consume, user, _) =
        auth::answering_user(svc, &pool, client, &responses, token, "MFA_SETUP").await?;
    if session.data.get("software_token_verified").and_then(Value::as_bool) != Some(true) {
        return Err(Error::invalid(
            "MFA_SETUP is answered after AssociateSoftwareToken and VerifySoftwareToken with this Session.",
        ));
    }
    auth::spend_challenge_session(svc, consume).await?;
    let mut progress = Progress::from_data(&session.data);
    progress.mfa_done = true;
    let caller = Caller::new(Some(&client.client_id), input);
    auth::finish(svc, ctx, &pool, client, &user, progress, &caller).await
}
