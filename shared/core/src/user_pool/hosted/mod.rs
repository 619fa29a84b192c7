//! The hosted pages of a pool's domain (Cognito's classic hosted UI): sign-in, sign-up,
//! confirmation, password reset, the challenge pages and sign-out. Every page runs the same
//! domain code as the JSON API (the sign-in state machine, codes, triggers, lockouts).
//!
//! `text.rs` holds every word a page shows (one table per language); `pages.rs` renders.

pub mod challenges;
pub mod csrf;
pub mod login;
pub mod logout;
pub mod pages;
pub mod session;
pub mod text;

use crate::error::Result;
use crate::service::{CallContext, Service};
use crate::user_pool::domains::records::UserPoolDomain;
use crate::user_pool::oauth::endpoint::{DomainRequest, DomainResponse};

/// The page a request names, if any.
pub async fn route(
    svc: &Service,
    ctx: &CallContext,
    domain: &UserPoolDomain,
    req: &DomainRequest,
) -> Option<Result<DomainResponse>> {
    Some(match (req.method.as_str(), req.path.as_str()) {
        ("GET", "/oauth2/authorize") => {
            crate::user_pool::oauth::authorize::authorize(svc, ctx, domain, req).await
        }
        ("GET" | "POST", "/login") => login::login(svc, ctx, domain, req).await,
        ("GET", "/logout") => logout::logout(svc, domain, req).await,
        ("GET" | "POST", "/newPassword" | "/mfa" | "/selectMfa" | "/mfaSetup") => {
            challenges::submit(svc, ctx, domain, req).await
        }
        _ => return None,
    })
}
