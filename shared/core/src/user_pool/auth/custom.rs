//! CUSTOM_AUTH: the flow driven by the DefineAuthChallenge, CreateAuthChallenge and
//! VerifyAuthChallengeResponse triggers, and its CUSTOM_CHALLENGE answers.
//!
//! Which call's `ClientMetadata` reaches which trigger follows Cognito: InitiateAuth's goes to
//! PreAuthentication only (as `validationData`); RespondToAuthChallenge's goes to Verify, Define,
//! Create and PostAuthentication (as `clientMetadata`). The custom flow's decisions are the pure
//! transitions of [`super::machine::step`]; this module does the I/O around them.

use super::flow::{challenge_with, check_device_key, finish};
use super::machine::{define_decision, step, AuthState, ChallengeName, CustomDecision, Step, UserFacts};
use super::parameters::Answer;
use super::session::{
    answering_user, invalid_session, open_challenge_session, spend_challenge_session, ChallengeRound,
    Pending, Progress,
};
use super::sign_in::{Initiation, SignIn};
use super::srp_proof::{client_public, custom_password_verifier};
use crate::error::{Error, Result};
use crate::model::User;
use crate::service::Service;
use crate::triggers::{self, Trigger};
use crate::user_pool::access::check_secret_hash;
use crate::user_pool::triggers::auth::pre_authentication;
use aws_lambda_events::event::cognito as ev;
use num_bigint::BigUint;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// Cognito's answer to a custom flow on a pool without the triggers it needs.
fn not_configured() -> Error {
    Error::invalid("Custom auth lambda trigger is not configured for the user pool.")
}

/// InitiateAuth / AdminInitiateAuth with CUSTOM_AUTH.
pub(crate) async fn start_custom(s: &SignIn<'_>, req: &Initiation<'_>) -> Result<Value> {
    let (svc, pool, client, params) = (s.svc, &*s.pool, s.client, &req.params);
    let progress = Progress::for_sign_in(params, req.via, svc.clock.now_millis());
    // CHALLENGE_NAME=SRP_A: the flow starts with the password, proven by SRP.
    let srp_a = match params.challenge_name.as_deref() {
        Some(name) if ChallengeName::parse(name) == Some(ChallengeName::SrpA) => {
            Some(client_public(params.srp_a())?)
        }
        Some(other) => {
            return Err(Error::invalid(format!("Invalid CHALLENGE_NAME for CUSTOM_AUTH: {other}")))
        }
        None => None,
    };
    if !Trigger::DefineAuthChallenge.configured(pool) {
        return Err(not_configured());
    }
    let username = params.username()?;
    check_secret_hash(client, params.secret_hash.as_deref(), &[username])?;
    let Some((user, _)) = svc.find_user(pool, username).await? else {
        return Err(if client.prevent_user_existence_errors() {
            Error::not_authorized("Incorrect username or password.")
        } else {
            Error::UserNotFoundException("User does not exist.".into())
        });
    };
    pre_authentication(svc, pool, &user, &req.caller(s)).await?;
    gate(svc, &user)?;
    let rounds = match srp_a {
        Some(_) => vec![round(ChallengeName::SrpA, true, None)],
        None => Vec::new(),
    };
    let progress = check_device_key(s, &user, progress, false).await?;
    define_round(s, &user, rounds, srp_a.as_ref(), progress).await
}

/// A custom flow's PASSWORD_VERIFIER was answered with a right proof: the next round.
pub(crate) async fn after_custom_password(
    s: &SignIn<'_>,
    user: &User,
    mut rounds: Vec<ChallengeRound>,
    progress: Progress,
) -> Result<Value> {
    gate(s.svc, user)?;
    rounds.push(round(ChallengeName::PasswordVerifier, true, None));
    define_round(s, user, rounds, None, progress).await
}

/// RespondToAuthChallenge / AdminRespondToAuthChallenge with CUSTOM_CHALLENGE.
pub(crate) async fn respond_custom(s: &SignIn<'_>, given: &Answer<'_>) -> Result<Value> {
    let responses = &given.responses;
    responses.username()?;
    let answer = responses.answer()?.to_string();
    let token = given.session()?;
    let (session, consume, user, _) =
        answering_user(s, responses, token, ChallengeName::CustomChallenge).await?;
    // Single use: consumed before any trigger runs, so a replay (even a concurrent one) finds
    // nothing; a failing trigger ends the flow as Cognito's does.
    spend_challenge_session(s.svc, consume).await?;
    let Pending::CustomChallenge { mut rounds, private_challenge_parameters, challenge_metadata } =
        session.pending
    else {
        return Err(invalid_session());
    };
    gate(s.svc, &user)?;
    if !Trigger::VerifyAuthChallengeResponse.configured(&s.pool) {
        return Err(not_configured());
    }
    let answer_correct = verify(s, &user, &private_challenge_parameters, answer).await?;
    rounds.push(round(ChallengeName::CustomChallenge, answer_correct, challenge_metadata));
    define_round(s, &user, rounds, None, session.progress).await
}

fn round(
    challenge_name: ChallengeName,
    challenge_result: bool,
    challenge_metadata: Option<String>,
) -> ChallengeRound {
    ChallengeRound { challenge_name, challenge_result, challenge_metadata }
}

/// The checks every round passes before a trigger runs (a disabled user, …).
fn gate(svc: &Service, user: &User) -> Result<()> {
    match step(&AuthState::CustomInProgress, UserFacts::of(user, svc.clock.now_millis())) {
        Step::CustomRound => Ok(()),
        Step::Denied(e) => Err(e),
        other => Err(Error::internal(format!("unexpected {other:?} before a custom round"))),
    }
}

/// Asks DefineAuthChallenge what follows `rounds` and does it: fail, tokens (after
/// PostAuthentication), NEW_PASSWORD_REQUIRED, a new CUSTOM_CHALLENGE, or — right after SRP_A,
/// whose A is `srp_a` — PASSWORD_VERIFIER.
async fn define_round(
    s: &SignIn<'_>,
    user: &User,
    rounds: Vec<ChallengeRound>,
    srp_a: Option<&BigUint>,
    progress: Progress,
) -> Result<Value> {
    let decision = define(s, user, &rounds).await?;
    let state = AuthState::CustomDecided { decision, rounds: rounds.len() };
    match step(&state, UserFacts::of(user, s.svc.clock.now_millis())) {
        // MFA and devices follow as after a password; the metadata is that of the call that
        // answered the last challenge (none for InitiateAuth).
        Step::Tokens => finish(s, user, progress).await,
        Step::Challenge(ChallengeName::CustomChallenge) => create(s, user, rounds, progress).await,
        Step::Challenge(ChallengeName::PasswordVerifier) => match srp_a {
            Some(a) => custom_password_verifier(s, user, a, rounds, progress).await,
            None => Err(Error::InvalidLambdaResponseException(
                "DefineAuthChallenge returned PASSWORD_VERIFIER, which can only follow SRP_A.".into(),
            )),
        },
        Step::Challenge(name) => challenge_with(s, user, name, progress).await,
        Step::Denied(e) => Err(e),
        Step::CustomRound => Err(Error::internal("a custom round after DefineAuthChallenge")),
    }
}

fn session_event(rounds: &[ChallengeRound]) -> Vec<Option<ev::CognitoEventUserPoolsChallengeResult>> {
    let event = |r: &ChallengeRound| {
        let mut e = ev::CognitoEventUserPoolsChallengeResult::default();
        e.challenge_name = Some(r.challenge_name.as_str().to_string());
        e.challenge_result = r.challenge_result;
        e.challenge_metadata = r.challenge_metadata.clone();
        Some(e)
    };
    rounds.iter().map(event).collect()
}

async fn define(s: &SignIn<'_>, user: &User, rounds: &[ChallengeRound]) -> Result<CustomDecision> {
    let (svc, pool, caller) = (s.svc, &*s.pool, &s.caller);
    let mut request = ev::CognitoEventUserPoolsDefineAuthChallengeRequest::default();
    request.user_attributes = triggers::user_attributes(pool, user);
    request.session = session_event(rounds);
    request.client_metadata = caller.metadata_map();
    request.user_not_found = false;
    let mut event = ev::CognitoEventUserPoolsDefineAuthChallenge::default();
    event.cognito_event_user_pools_header = triggers::header(
        svc,
        pool,
        &user.username,
        caller,
        ev::CognitoEventUserPoolsDefineAuthChallengeTriggerSource::Authentication,
    );
    event.request = request;
    let event = triggers::to_event(&event, &[])?;
    let result =
        triggers::invoke(svc, pool, Trigger::DefineAuthChallenge, event).await?.ok_or_else(not_configured)?;
    define_decision(triggers::response(&result))
}

/// CreateAuthChallenge for the next round; stores a new session and answers the challenge.
async fn create(
    s: &SignIn<'_>,
    user: &User,
    rounds: Vec<ChallengeRound>,
    progress: Progress,
) -> Result<Value> {
    let (svc, pool, caller) = (s.svc, &*s.pool, &s.caller);
    if !Trigger::CreateAuthChallenge.configured(pool) {
        return Err(not_configured());
    }
    let mut request = ev::CognitoEventUserPoolsCreateAuthChallengeRequest::default();
    request.user_attributes = triggers::user_attributes(pool, user);
    request.challenge_name = Some(ChallengeName::CustomChallenge.as_str().into());
    request.session = session_event(&rounds);
    request.client_metadata = caller.metadata_map();
    request.user_not_found = false;
    let mut event = ev::CognitoEventUserPoolsCreateAuthChallenge::default();
    event.cognito_event_user_pools_header = triggers::header(
        svc,
        pool,
        &user.username,
        caller,
        ev::CognitoEventUserPoolsCreateAuthChallengeTriggerSource::Authentication,
    );
    event.request = request;
    let event = triggers::to_event(&event, &[])?;
    let result =
        triggers::invoke(svc, pool, Trigger::CreateAuthChallenge, event).await?.ok_or_else(not_configured)?;
    let response = triggers::response(&result);
    let public = triggers::text_map(response, "publicChallengeParameters")?;
    let pending = Pending::CustomChallenge {
        rounds,
        private_challenge_parameters: triggers::text_map(response, "privateChallengeParameters")?,
        challenge_metadata: triggers::text(response, "challengeMetadata")?,
    };
    let session = open_challenge_session(s, user, progress, pending).await?;
    let mut parameters: Map<String, Value> = public.into_iter().map(|(k, v)| (k, Value::String(v))).collect();
    parameters.insert("USERNAME".into(), json!(user.username));
    Ok(
        json!({"ChallengeName": ChallengeName::CustomChallenge, "Session": session, "ChallengeParameters": parameters}),
    )
}

/// VerifyAuthChallengeResponse: whether `answer` is right, by the pending round's private
/// parameters.
async fn verify(
    s: &SignIn<'_>,
    user: &User,
    private_challenge_parameters: &BTreeMap<String, String>,
    answer: String,
) -> Result<bool> {
    let (svc, pool, caller) = (s.svc, &*s.pool, &s.caller);
    let mut request = ev::CognitoEventUserPoolsVerifyAuthChallengeRequest::<Value>::default();
    request.user_attributes = triggers::user_attributes(pool, user);
    request.private_challenge_parameters =
        private_challenge_parameters.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    request.challenge_answer = Some(Value::String(answer));
    request.client_metadata = caller.metadata_map();
    request.user_not_found = false;
    let mut event = ev::CognitoEventUserPoolsVerifyAuthChallenge::default();
    event.cognito_event_user_pools_header = triggers::header(
        svc,
        pool,
        &user.username,
        caller,
        ev::CognitoEventUserPoolsVerifyAuthChallengeTriggerSource::Authentication,
    );
    event.request = request;
    let event = triggers::to_event(&event, &[])?;
    let result = triggers::invoke(svc, pool, Trigger::VerifyAuthChallengeResponse, event)
        .await?
        .ok_or_else(not_configured)?;
    triggers::flag(triggers::response(&result), "answerCorrect")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounds_serialise_as_cognito_challenge_results() {
        let rounds = [round(ChallengeName::CustomChallenge, false, Some("CAPTCHA".into()))];
        let v = serde_json::to_value(session_event(&rounds)).unwrap_or_default();
        assert_eq!(
            v,
            json!([{"challengeName": "CUSTOM_CHALLENGE", "challengeResult": false, "challengeMetadata": "CAPTCHA"}])
        );
    }

    #[test]
    fn custom_challenge_sessions_round_trip() {
        let pending = Pending::CustomChallenge {
            rounds: vec![
                round(ChallengeName::SrpA, true, None),
                round(ChallengeName::CustomChallenge, true, None),
            ],
            private_challenge_parameters: [("answer".to_string(), "5".to_string())].into(),
            challenge_metadata: Some("CAPTCHA".into()),
        };
        let v = serde_json::to_value(&pending).unwrap_or_default();
        assert_eq!(v["CustomChallenge"]["rounds"][0]["challenge_name"], json!("SRP_A"));
        let back: Option<Pending> = serde_json::from_value(v).ok();
        assert_eq!(back, Some(pending));
    }
}
