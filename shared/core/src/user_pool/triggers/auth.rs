//! The sign-in's own triggers: PreAuthentication (before the credentials are checked) and
//! PostAuthentication (after every challenge, before any token exists).

use crate::error::Result;
use crate::model::{User, UserPool};
use crate::service::Service;
use crate::triggers::{self, Caller, Trigger};
use aws_lambda_events::event::cognito as ev;
use serde_json::json;

/// PreAuthentication_Authentication: the function may refuse the sign-in by failing. Runs once
/// the user is resolved and before anything about the credentials is revealed.
pub(crate) async fn pre_authentication(
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
pub(crate) async fn post_authentication(
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
