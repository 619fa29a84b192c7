//! The sign-in triggers: PreAuthentication, PostAuthentication, and the CUSTOM_AUTH flow driven by
//! DefineAuthChallenge, CreateAuthChallenge and VerifyAuthChallengeResponse.
//!
//! Which call's `ClientMetadata` reaches which trigger follows Cognito: InitiateAuth's goes to
//! PreAuthentication only (as `validationData`); RespondToAuthChallenge's goes to Verify, Define,
//! Create and PostAuthentication (as `clientMetadata`). The custom flow's decisions are the pure
//! transitions of [`super::auth::step`]; this module does the I/O around them.

use super::auth::{define_decision, open_challenge_session, param, step, AuthState, Step, UserFacts};
use crate::error::{Error, Result};
use crate::model::{AppClient, User, UserPool};
use crate::service::{check_secret_hash, CallContext, Input, Service};
use crate::triggers::{self, Caller, Trigger};
use aws_lambda_events::event::cognito as ev;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// PreAuthentication_Authentication: the function may refuse the sign-in by failing. Runs once
/// the user is resolved and before anything about the credentials is revealed.
pub async fn pre_authentication(
    svc: &Service,
    pool: &UserPool,
    user: &User,
    caller: &Caller<'_>,
) -> Result<()> {
    if !Trigger::PreAuthentication.configured(pool) {
        return Ok(());
    }
    let mut request = ev::CognitoEventUserPoolsPreAuthenticationRequest::default();
    request.user_attributes = triggers::user_attributes(pool, user);
    request.validation_data = caller.metadata_map();
    let mut event = ev::CognitoEventUserPoolsPreAuthentication::default();
    event.cognito_event_user_pools_header = triggers::header(
        svc,
        pool,
        &user.username,
        caller,
        ev::CognitoEventUserPoolsPreAuthenticationTriggerSource::Authentication,
    );
    event.request = request;
    let event = triggers::to_event(&event, &[("userNotFound", json!(false))])?;
    triggers::invoke(svc, pool, Trigger::PreAuthentication, event).await?;
    Ok(())
}

/// PostAuthentication_Authentication: after every challenge and before any token (or refresh
/// token) exists, so a failing function leaves nothing issued.
pub async fn post_authentication(
    svc: &Service,
    pool: &UserPool,
    user: &User,
    caller: &Caller<'_>,
    new_device_used: bool,
) -> Result<()> {
    if !Trigger::PostAuthentication.configured(pool) {
        return Ok(());
    }
    let mut request = ev::CognitoEventUserPoolsPostAuthenticationRequest::default();
    request.new_device_used = new_device_used;
    request.user_attributes = triggers::user_attributes(pool, user);
    request.client_metadata = caller.metadata_map();
    let mut event = ev::CognitoEventUserPoolsPostAuthentication::default();
    event.cognito_event_user_pools_header = triggers::header(
        svc,
        pool,
        &user.username,
        caller,
        ev::CognitoEventUserPoolsPostAuthenticationTriggerSource::Authentication,
    );
    event.request = request;
    let event = triggers::to_event(&event, &[])?;
    triggers::invoke(svc, pool, Trigger::PostAuthentication, event).await?;
    Ok(())
}

/// One answered challenge of a custom flow: an element of the triggers' `request.session`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChallengeRound {
    pub challenge_name: String,
    pub challenge_result: bool,
    pub challenge_metadata: Option<String>,
}

impl ChallengeRound {
    fn event(&self) -> Option<ev::CognitoEventUserPoolsChallengeResult> {
        let mut r = ev::CognitoEventUserPoolsChallengeResult::default();
        r.challenge_name = Some(self.challenge_name.clone());
        r.challenge_result = self.challenge_result;
        r.challenge_metadata = self.challenge_metadata.clone();
        Some(r)
    }
}

/// What a CUSTOM_CHALLENGE session keeps server-side: the rounds so far and what
/// CreateAuthChallenge gave for the pending one. The private parameters never leave the store.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CustomSessionData {
    #[serde(default)]
    pub rounds: Vec<ChallengeRound>,
    #[serde(default)]
    pub private_challenge_parameters: BTreeMap<String, String>,
    #[serde(default)]
    pub challenge_metadata: Option<String>,
    /// The sign-in's DEVICE_KEY and kind, carried to its end.
    #[serde(default)]
    pub progress: super::auth::Progress,
}

/// Cognito's answer to a custom flow on a pool without the triggers it needs.
fn not_configured() -> Error {
    Error::invalid("Custom auth lambda trigger is not configured for the user pool.")
}

/// InitiateAuth / AdminInitiateAuth with CUSTOM_AUTH.
pub async fn start_custom(
    svc: &Service,
    ctx: &CallContext,
    pool: &UserPool,
    client: &AppClient,
    params: &Value,
    input: &Value,
    admin: bool,
) -> Result<Value> {
    let progress = super::auth::Progress::for_sign_in(params, admin, svc.clock.now_millis());
    // CHALLENGE_NAME=SRP_A: the flow starts with the password, proven by SRP (spec C §5.6).
    let srp_a = match params.get("CHALLENGE_NAME").and_then(Value::as_str) {
        Some("SRP_A") => Some(super::auth_srp::client_public(params)?),
        Some(other) => {
            return Err(Error::invalid(format!("Invalid CHALLENGE_NAME for CUSTOM_AUTH: {other}")))
        }
        None => None,
    };
    if !Trigger::DefineAuthChallenge.configured(pool) {
        return Err(not_configured());
    }
    let username = param(params, "USERNAME")?;
    check_secret_hash(client, params.get("SECRET_HASH").and_then(Value::as_str), &[username])?;
    let Some((user, _)) = svc.find_user(pool, username).await? else {
        return Err(if client.prevent_user_existence_errors() {
            Error::not_authorized("Incorrect username or password.")
        } else {
            Error::UserNotFoundException("User does not exist.".into())
        });
    };
    pre_authentication(svc, pool, &user, &Caller::new(Some(&client.client_id), input)).await?;
    gate(svc, &user)?;
    // InitiateAuth's ClientMetadata is PreAuthentication's alone.
    let caller = Caller::without_metadata(Some(&client.client_id));
    let rounds = match srp_a {
        Some(_) => vec![ChallengeRound {
            challenge_name: "SRP_A".into(),
            challenge_result: true,
            challenge_metadata: None,
        }],
        None => Vec::new(),
    };
    let progress = super::auth::check_device_key(svc, pool, &user, progress, false).await?;
    define_round(svc, ctx, pool, client, &user, rounds, &caller, srp_a.as_ref(), progress).await
}

/// A custom flow's PASSWORD_VERIFIER was answered with a right proof: the next round.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn after_custom_password(
    svc: &Service,
    ctx: &CallContext,
    pool: &UserPool,
    client: &AppClient,
    user: &User,
    mut rounds: Vec<ChallengeRound>,
    caller: &Caller<'_>,
    progress: super::auth::Progress,
) -> Result<Value> {
    gate(svc, user)?;
    rounds.push(ChallengeRound {
        challenge_name: "PASSWORD_VERIFIER".into(),
        challenge_result: true,
        challenge_metadata: None,
    });
    define_round(svc, ctx, pool, client, user, rounds, caller, None, progress).await
}

/// RespondToAuthChallenge / AdminRespondToAuthChallenge with CUSTOM_CHALLENGE.
pub async fn respond_custom(
    svc: &Service,
    ctx: &CallContext,
    client: &AppClient,
    input: &Value,
) -> Result<Value> {
    let responses = input.get("ChallengeResponses").cloned().unwrap_or(json!({}));
    param(&responses, "USERNAME")?;
    let answer = param(&responses, "ANSWER")?.to_string();
    let token =
        input.str_of("Session").ok_or_else(|| Error::invalid("Missing required parameter Session"))?;
    let pool = svc.pool(&client.pool_id).await?;
    let (session, consume, user, _) =
        super::auth::answering_user(svc, &pool, client, &responses, token, "CUSTOM_CHALLENGE").await?;
    // Single use: consumed before any trigger runs, so a replay (even a concurrent one) finds
    // nothing; a failing trigger ends the flow as Cognito's does.
    super::auth::spend_challenge_session(svc, consume).await?;
    let data: CustomSessionData =
        serde_json::from_value(Value::Object(session.data)).map_err(Error::internal)?;
    gate(svc, &user)?;
    if !Trigger::VerifyAuthChallengeResponse.configured(&pool) {
        return Err(not_configured());
    }
    let caller = Caller::new(Some(&client.client_id), input);
    let answer_correct = verify(svc, &pool, &user, &data, answer, &caller).await?;
    let mut rounds = data.rounds;
    rounds.push(ChallengeRound {
        challenge_name: "CUSTOM_CHALLENGE".into(),
        challenge_result: answer_correct,
        challenge_metadata: data.challenge_metadata,
    });
    define_round(svc, ctx, &pool, client, &user, rounds, &caller, None, data.progress).await
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
#[allow(clippy::too_many_arguments)]
async fn define_round(
    svc: &Service,
    ctx: &CallContext,
    pool: &UserPool,
    client: &AppClient,
    user: &User,
    rounds: Vec<ChallengeRound>,
    caller: &Caller<'_>,
    srp_a: Option<&num_bigint::BigUint>,
    progress: super::auth::Progress,
) -> Result<Value> {
    let decision = define(svc, pool, user, &rounds, caller).await?;
    let state = AuthState::CustomDecided { decision, rounds: rounds.len() };
    match step(&state, UserFacts::of(user, svc.clock.now_millis())) {
        // MFA and devices follow as after a password; the metadata is that of the call that
        // answered the last challenge (none for InitiateAuth).
        Step::Tokens => super::auth::finish(svc, ctx, pool, client, user, progress, caller).await,
        Step::Challenge("CUSTOM_CHALLENGE") => {
            create(svc, pool, client, user, rounds, caller, progress).await
        }
        Step::Challenge("PASSWORD_VERIFIER") => match srp_a {
            Some(a) => {
                super::auth_srp::custom_password_verifier(svc, pool, client, user, a, rounds, progress).await
            }
            None => Err(Error::InvalidLambdaResponseException(
                "DefineAuthChallenge returned PASSWORD_VERIFIER, which can only follow SRP_A.".into(),
            )),
        },
        Step::Challenge(name) => {
            super::auth::challenge_with(svc, pool, client, user, name, progress, caller).await
        }
        Step::Denied(e) => Err(e),
        Step::CustomRound => Err(Error::internal("a custom round after DefineAuthChallenge")),
    }
}

fn session_event(rounds: &[ChallengeRound]) -> Vec<Option<ev::CognitoEventUserPoolsChallengeResult>> {
    rounds.iter().map(ChallengeRound::event).collect()
}

async fn define(
    svc: &Service,
    pool: &UserPool,
    user: &User,
    rounds: &[ChallengeRound],
    caller: &Caller<'_>,
) -> Result<super::auth::CustomDecision> {
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
    svc: &Service,
    pool: &UserPool,
    client: &AppClient,
    user: &User,
    rounds: Vec<ChallengeRound>,
    caller: &Caller<'_>,
    progress: super::auth::Progress,
) -> Result<Value> {
    if !Trigger::CreateAuthChallenge.configured(pool) {
        return Err(not_configured());
    }
    let mut request = ev::CognitoEventUserPoolsCreateAuthChallengeRequest::default();
    request.user_attributes = triggers::user_attributes(pool, user);
    request.challenge_name = Some("CUSTOM_CHALLENGE".into());
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
    let data = CustomSessionData {
        rounds,
        private_challenge_parameters: triggers::text_map(response, "privateChallengeParameters")?,
        challenge_metadata: triggers::text(response, "challengeMetadata")?,
        progress,
    };
    let data = match serde_json::to_value(&data).map_err(Error::internal)? {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    let session = open_challenge_session(svc, pool, client, user, "CUSTOM_CHALLENGE", data).await?;
    let mut parameters: Map<String, Value> = public.into_iter().map(|(k, v)| (k, Value::String(v))).collect();
    parameters.insert("USERNAME".into(), json!(user.username));
    Ok(json!({"ChallengeName": "CUSTOM_CHALLENGE", "Session": session, "ChallengeParameters": parameters}))
}

/// VerifyAuthChallengeResponse: whether `answer` is right, by the pending round's private
/// parameters.
async fn verify(
    svc: &Service,
    pool: &UserPool,
    user: &User,
    data: &CustomSessionData,
    answer: String,
    caller: &Caller<'_>,
) -> Result<bool> {
    let mut request = ev::CognitoEventUserPoolsVerifyAuthChallengeRequest::<Value>::default();
    request.user_attributes = triggers::user_attributes(pool, user);
    request.private_challenge_parameters =
        data.private_challenge_parameters.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
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
        let round = ChallengeRound {
            challenge_name: "CUSTOM_CHALLENGE".into(),
            challenge_result: false,
            challenge_metadata: Some("CAPTCHA".into()),
        };
        let v = serde_json::to_value(session_event(&[round])).unwrap_or_default();
        assert_eq!(
            v,
            json!([{"challengeName": "CUSTOM_CHALLENGE", "challengeResult": false, "challengeMetadata": "CAPTCHA"}])
        );
    }

    #[test]
    fn session_data_round_trips() {
        let data = CustomSessionData {
            rounds: vec![ChallengeRound {
                challenge_name: "CUSTOM_CHALLENGE".into(),
                challenge_result: true,
                challenge_metadata: None,
            }],
            private_challenge_parameters: [("answer".to_string(), "5".to_string())].into(),
            progress: Default::default(),
            challenge_metadata: Some("CAPTCHA".into()),
        };
        let v = serde_json::to_value(&data).unwrap_or_default();
        let back: CustomSessionData = serde_json::from_value(v).unwrap_or_default();
        assert_eq!(back.rounds, data.rounds);
        assert_eq!(back.private_challenge_parameters, data.private_challenge_parameters);
        assert_eq!(back.challenge_metadata, data.challenge_metadata);
    }
}
