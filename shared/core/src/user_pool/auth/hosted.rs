//! The sign-in of the auth domain's pages: the same password flow, challenges, lockouts and
//! triggers as InitiateAuth and RespondToAuthChallenge, run for the page (the server holds
//! the client's secret, so it makes the SECRET_HASH itself). It ends in an authenticated user
//! instead of tokens: the page then opens a hosted session and answers the authorize request.
//! Its challenge sessions are marked as the page's ([`Via::Hosted`]): the API cannot finish
//! them, nor the page an API session.

use super::initiate::password_sign_in;
use super::parameters;
use super::sign_in::{Initiation, SignIn, Via};
use crate::error::{Error, Result};
use crate::model::{AppClient, User};
use crate::service::{CallContext, Service};
use crate::user_pool::access::secret_hash;
use serde_json::{json, Map, Value};

const AUTHENTICATED: &str = "HostedAuthenticated";

/// What `flow::finish` answers for a hosted sign-in.
pub(crate) fn authenticated(user: &User) -> Value {
    json!({ AUTHENTICATED: {"Username": user.username, "Sub": user.sub} })
}

/// Where a hosted sign-in stands after a step.
#[derive(Debug, Clone, PartialEq)]
pub enum HostedStep {
    Authenticated {
        username: String,
        sub: String,
    },
    /// A challenge to show: its name, the session that continues it and its parameters.
    Challenge {
        name: String,
        session: String,
        parameters: Value,
    },
}

fn step_of(result: Value) -> Result<HostedStep> {
    if let Some(done) = result.get(AUTHENTICATED) {
        let field = |k: &str| done.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
        return Ok(HostedStep::Authenticated { username: field("Username"), sub: field("Sub") });
    }
    let name = result.get("ChallengeName").and_then(Value::as_str);
    let session = result.get("Session").and_then(Value::as_str);
    match (name, session) {
        (Some(name), Some(session)) => Ok(HostedStep::Challenge {
            name: name.to_string(),
            session: session.to_string(),
            parameters: result.get("ChallengeParameters").cloned().unwrap_or(Value::Null),
        }),
        _ => Err(Error::internal("a hosted sign-in step ended in neither a user nor a challenge")),
    }
}

fn with_secret_hash(client: &AppClient, username: &str, fields: &mut Map<String, Value>) {
    if let Some(secret) = client.secret.as_deref() {
        fields.insert("SECRET_HASH".into(), json!(secret_hash(secret, username, &client.client_id)));
    }
}

/// The sign-in page's username and password.
pub async fn sign_in_with_password(
    svc: &Service,
    ctx: &CallContext,
    client: &AppClient,
    username: &str,
    password: &str,
) -> Result<HostedStep> {
    let mut params = Map::new();
    params.insert("USERNAME".into(), json!(username));
    params.insert("PASSWORD".into(), json!(password));
    with_secret_hash(client, username, &mut params);
    let input =
        json!({"AuthFlow": "USER_PASSWORD_AUTH", "ClientId": client.client_id, "AuthParameters": params});
    let pool = svc.pool(&client.pool_id).await?;
    let mut s = SignIn::starting(svc, ctx, client, pool);
    s.hosted = true;
    let req =
        Initiation { params: parameters::read(&input, "AuthParameters")?, input: &input, via: Via::Hosted };
    step_of(password_sign_in(&s, &req).await?)
}

/// A challenge page's answer (`responses` as RespondToAuthChallenge's ChallengeResponses,
/// without USERNAME and SECRET_HASH, which are added here).
pub async fn answer_challenge(
    svc: &Service,
    ctx: &CallContext,
    client: &AppClient,
    challenge: &str,
    session: &str,
    username: &str,
    mut responses: Map<String, Value>,
) -> Result<HostedStep> {
    responses.insert("USERNAME".into(), json!(username));
    with_secret_hash(client, username, &mut responses);
    let input = json!({
        "ChallengeName": challenge,
        "ClientId": client.client_id,
        "Session": session,
        "ChallengeResponses": responses,
    });
    step_of(super::respond::respond(svc, ctx, client, &input, true).await?)
}
