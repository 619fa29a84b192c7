//! RespondToAuthChallenge and AdminRespondToAuthChallenge: each answer goes to its challenge's
//! file; NEW_PASSWORD_REQUIRED is answered here.

use super::flow::{finish, missing_required, pool_mismatch};
use super::machine::{step, AuthState, ChallengeName, Step, UserFacts};
use super::parameters::Answer;
use super::session::{answering_user, Progress};
use super::sign_in::SignIn;
use super::{custom, mfa, srp};
use crate::error::{Error, Result};
use crate::input::Input;
use crate::model::{AppClient, PasswordState, UserStatus};
use crate::service::{CallContext, Service};
use serde_json::Value;

pub async fn respond_to_auth_challenge(svc: &Service, ctx: &CallContext, input: &Value) -> Result<Value> {
    let client = svc.client(input.req_str("ClientId")?).await?;
    respond(svc, ctx, &client, input, false).await
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
    respond(svc, ctx, &client, input, false).await
}

/// An answer on the auth domain's pages (`hosted`) or through the API.
pub(crate) async fn respond(
    svc: &Service,
    ctx: &CallContext,
    client: &AppClient,
    input: &Value,
    hosted: bool,
) -> Result<Value> {
    use ChallengeName::*;
    let name = input.req_str("ChallengeName")?;
    let challenge = ChallengeName::parse(name).filter(|c| {
        matches!(
            c,
            NewPasswordRequired
                | PasswordVerifier
                | DeviceSrpAuth
                | DevicePasswordVerifier
                | SmsMfa
                | SoftwareTokenMfa
                | SelectMfaType
                | MfaSetup
                | CustomChallenge
        )
    });
    let Some(challenge) = challenge else {
        return Err(Error::invalid(format!(
            "The {name} challenge is not supported by this Tessera version yet."
        )));
    };
    let mut s = SignIn::answering(svc, ctx, client, input).await?;
    s.hosted = hosted;
    let answer = Answer::of(input)?;
    let a = &answer;
    match challenge {
        NewPasswordRequired => respond_new_password(&s, a).await,
        PasswordVerifier => srp::respond_password_verifier(&s, a).await,
        DeviceSrpAuth => srp::respond_device_srp_auth(&s, a).await,
        DevicePasswordVerifier => srp::respond_device_password_verifier(&s, a).await,
        SmsMfa | SoftwareTokenMfa => mfa::respond_mfa_code(&s, a, challenge).await,
        SelectMfaType => mfa::respond_select_mfa_type(&s, a).await,
        MfaSetup => mfa::respond_mfa_setup(&s, a).await,
        CustomChallenge => custom::respond_custom(&s, a).await,
        other => Err(Error::internal(format!("no answer for challenge {other}"))),
    }
}

/// NEW_PASSWORD_REQUIRED answered: the new password (and any required attributes) are set, the
/// session is consumed, then PostAuthentication runs and tokens are issued.
async fn respond_new_password(s: &SignIn<'_>, answer: &Answer<'_>) -> Result<Value> {
    let (svc, client, responses) = (s.svc, s.client, &answer.responses);
    responses.username()?;
    let new_password = responses.new_password()?.to_string();
    let token = answer.session()?;
    let pool = &*s.pool;
    let (session, consume, mut user, version) =
        answering_user(s, responses, token, ChallengeName::NewPasswordRequired).await?;
    let progress = Progress { new_password_set: true, ..session.progress };
    let given: Vec<(String, String)> = responses
        .user_attributes()
        .map(|(attr, value)| (attr.to_string(), crate::attribute_rules::canonical_value(pool, attr, value)))
        .collect();
    if given.iter().any(|(k, _)| k == "sub") {
        return Err(Error::invalid("Cannot modify an immutable attribute: sub"));
    }
    crate::attribute_rules::check_user_writes(pool, client, given.iter().map(|(k, _)| k.as_str()))?;
    let mut attributes = user.attributes.clone();
    for (name, value) in &given {
        crate::attribute_rules::check_value(pool, name, value, crate::attribute_rules::Writer::User)?;
        attributes.insert(name.clone(), value.clone());
    }
    attributes.retain(|_, v| !v.is_empty());
    if let Some(a) = missing_required(pool, &attributes).first() {
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
    crate::user_pool::secrets::check_password_history(svc, pool, &user, &new_password).await?;
    let (hash, srp) =
        crate::user_pool::secrets::password_secrets(svc, pool, &user.username, &new_password).await?;
    crate::user_pool::secrets::remember_password(pool, &mut user);
    // The same rules as UpdateUserAttributes: a changed email or phone is unverified and gets a code.
    let messages = crate::user_pool::users::attribute_changes::apply_changes(
        svc,
        pool,
        &mut user,
        &given,
        crate::attribute_rules::Writer::User,
    )?;
    user.password_hash = Some(hash);
    user.srp = Some(srp);
    user.status = UserStatus::CONFIRMED;
    user.password_state = PasswordState::default();
    user.modified = svc.clock.now_millis();
    // Consumes the session in the same transaction: a concurrent reuse fails on the user's version.
    crate::user_pool::users::attribute_changes::save_and_send(
        svc,
        pool,
        &user,
        version,
        messages,
        vec![consume],
        s.caller,
    )
    .await?;
    // The challenge is answered and the new password stays; a failing PostAuthentication or
    // PreTokenGeneration only withholds the tokens (and stores no refresh token).
    finish(s, &user, progress).await
}
