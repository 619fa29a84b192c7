//! The context of one sign-in call, which every step of the machine's I/O needs.

use super::parameters::AuthParameters;
use crate::error::Result;
use crate::model::{AppClient, UserPool};
use crate::service::{CallContext, Service};
use crate::triggers::Caller;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::sync::Arc;

/// One InitiateAuth or RespondToAuthChallenge call (or their admin twins): the service, the
/// request's context, the app client, its pool, and whose `ClientMetadata` the sign-in's later
/// triggers get.
pub(crate) struct SignIn<'a> {
    pub svc: &'a Service,
    pub ctx: &'a CallContext,
    pub client: &'a AppClient,
    pub pool: Arc<UserPool>,
    /// RespondToAuthChallenge's metadata goes to every trigger after it; InitiateAuth's goes to
    /// PreAuthentication only, so an InitiateAuth sign-in carries none.
    pub caller: Caller<'a>,
    /// A sign-in on the auth domain's pages: it ends in an authenticated user (for a code or
    /// a hosted session), never in tokens handed back here.
    pub hosted: bool,
}

impl<'a> SignIn<'a> {
    /// For an answer to a challenge: the metadata of this call goes to the triggers.
    pub async fn answering(
        svc: &'a Service,
        ctx: &'a CallContext,
        client: &'a AppClient,
        input: &'a Value,
    ) -> Result<SignIn<'a>> {
        let pool = svc.pool(&client.pool_id).await?;
        Ok(SignIn {
            svc,
            ctx,
            client,
            pool,
            caller: Caller::new(Some(&client.client_id), input),
            hosted: false,
        })
    }

    /// For InitiateAuth: no metadata reaches the triggers after PreAuthentication.
    pub fn starting(
        svc: &'a Service,
        ctx: &'a CallContext,
        client: &'a AppClient,
        pool: Arc<UserPool>,
    ) -> SignIn<'a> {
        SignIn {
            svc,
            ctx,
            client,
            pool,
            caller: Caller::without_metadata(Some(&client.client_id)),
            hosted: false,
        }
    }
}

/// What InitiateAuth (or AdminInitiateAuth) asked for.
pub(crate) struct Initiation<'a> {
    pub params: AuthParameters,
    /// The whole request: its ClientMetadata goes to PreAuthentication (and UserMigration).
    pub input: &'a Value,
    pub via: Via,
}

impl Initiation<'_> {
    /// PreAuthentication's and UserMigration's view of the caller: InitiateAuth's metadata.
    pub fn caller<'c>(&'c self, s: &'c SignIn<'_>) -> Caller<'c> {
        Caller::new(Some(&s.client.client_id), self.input)
    }
}

/// Which operation began a sign-in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Via {
    #[default]
    InitiateAuth,
    /// No device tracking in the admin flows.
    AdminInitiateAuth,
    /// The auth domain's sign-in page: no device tracking either, and it ends in an
    /// authenticated user rather than tokens (see `hosted.rs`).
    Hosted,
}
