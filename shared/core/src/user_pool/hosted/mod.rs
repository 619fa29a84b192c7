//! The hosted pages of a pool's domain (Cognito's classic hosted UI): sign-in, sign-up,
//! confirmation, password reset, the challenge pages and sign-out. Every page runs the same
//! domain code as the JSON API (the sign-in state machine, codes, triggers, lockouts).
//!
//! `text.rs` holds every word a page shows (one table per language); `pages.rs` renders.

pub mod pages;
pub mod text;

use crate::error::Result;
use crate::service::{CallContext, Service};
use crate::user_pool::domains::records::UserPoolDomain;
use crate::user_pool::oauth::endpoint::{DomainRequest, DomainResponse};

/// The page a request names, if any.
pub async fn route(
    _svc: &Service,
    _ctx: &CallContext,
    _domain: &UserPoolDomain,
    _req: &DomainRequest,
) -> Option<Result<DomainResponse>> {
    None
}
