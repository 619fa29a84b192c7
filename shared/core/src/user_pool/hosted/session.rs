//! The hosted session: the `cognito` cookie that gives single sign-on on the auth domain. A
//! second authorize within its hour is answered without the sign-in page.
//!
//! The cookie holds 32 random bytes; the store keeps only their SHA-256, the pool, the user
//! and when they authenticated. It ends with `/logout`, after an hour, and whenever the user
//! could not sign in any more: signed out globally after it began, disabled, deleted (a new
//! user of the same name has another `sub`), or no longer CONFIRMED.

use crate::error::{Error, Result};
use crate::model::{keys, User, UserStatus};
use crate::service::Service;
use crate::store::{Cond, Item, Write};
use crate::user_pool::domains::records::UserPoolDomain;
use crate::user_pool::oauth::endpoint::{DomainRequest, SetCookie};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Cognito's name for it.
pub const COOKIE: &str = "cognito";

/// How long a hosted session lasts (Cognito's cookie: one hour).
pub const SESSION_SECS: i64 = 3600;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostedSession {
    pub pool_id: String,
    pub username: String,
    pub sub: String,
    /// When the user authenticated (the tokens' `auth_time`).
    pub auth_time: i64,
    /// Epoch ms.
    pub created_ms: i64,
    /// A SAML sign-in's subject, for signing out at the IdP (`IDPSignout`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub saml: Option<crate::user_pool::federation::saml::SamlSession>,
}

fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Opens a session for a user who just authenticated; the cookie that carries it.
pub async fn open(
    svc: &Service,
    pool_id: &str,
    user: &User,
    auth_time: i64,
    saml: Option<crate::user_pool::federation::saml::SamlSession>,
) -> Result<SetCookie> {
    let token = URL_SAFE_NO_PAD.encode(svc.rng.bytes(32));
    let record = HostedSession {
        pool_id: pool_id.to_string(),
        username: user.username.clone(),
        sub: user.sub.clone(),
        auth_time,
        created_ms: svc.clock.now_millis(),
        saml,
    };
    let now = svc.now_secs();
    let mut item = Item::new(
        keys::hosted_session(&token_hash(&token)),
        keys::HOSTED_SESSION_SK,
        serde_json::to_value(&record).map_err(Error::internal)?,
    );
    item.expires_at = Some(now + SESSION_SECS);
    svc.store.transact(vec![Write::put(item, Cond::NotExists)], now).await?;
    Ok(SetCookie { name: COOKIE.into(), value: token, max_age_secs: Some(SESSION_SECS), cross_site: false })
}

/// The live session of the request's cookie for this domain's pool, and its user.
pub async fn current(
    svc: &Service,
    domain: &UserPoolDomain,
    req: &DomainRequest,
) -> Result<Option<(HostedSession, User)>> {
    let Some(token) = req.cookie(COOKIE).filter(|t| !t.is_empty()) else { return Ok(None) };
    let Some((session, _)) = svc
        .get_json::<HostedSession>(&keys::hosted_session(&token_hash(token)), keys::HOSTED_SESSION_SK)
        .await?
    else {
        return Ok(None);
    };
    if session.pool_id != domain.pool_id {
        return Ok(None);
    }
    let pool = svc.pool(&session.pool_id).await?;
    let user = match svc.load_user_named(&pool, &session.username).await? {
        Some((user, _)) => user,
        None => return Ok(None),
    };
    let live = user.sub == session.sub
        && user.enabled
        && user.status == UserStatus::CONFIRMED
        && user.signed_out_at_ms < session.created_ms;
    Ok(live.then_some((session, user)))
}

/// The request's session as stored, live or not (what `/logout` ends).
pub async fn stored(svc: &Service, req: &DomainRequest) -> Result<Option<HostedSession>> {
    let Some(token) = req.cookie(COOKIE).filter(|t| !t.is_empty()) else { return Ok(None) };
    let key = keys::hosted_session(&token_hash(token));
    Ok(svc.get_json::<HostedSession>(&key, keys::HOSTED_SESSION_SK).await?.map(|(s, _)| s))
}

/// Ends the request's session (if any); the cookie that clears it.
pub async fn close(svc: &Service, req: &DomainRequest) -> Result<SetCookie> {
    if let Some(token) = req.cookie(COOKIE).filter(|t| !t.is_empty()) {
        let write =
            Write::delete(keys::hosted_session(&token_hash(token)), keys::HOSTED_SESSION_SK, Cond::None);
        svc.store.transact(vec![write], svc.now_secs()).await?;
    }
    Ok(SetCookie { name: COOKIE.into(), value: String::new(), max_age_secs: Some(0), cross_site: false })
}
