//! What every provider's sign-in shares: the state that ties the provider's answer to the app's
//! authorize request and to the browser that was sent (stored under its SHA-256, spent once),
//! and the end (the federated user signed in, its hosted session opened, the app answered).

use super::records::{IdentityProvider, ProviderType};
use super::users::{self, Subject};
use crate::error::{Error, Result};
use crate::keys;
use crate::service::{CallContext, Service};
use crate::store::{Cond, Item, Write};
use crate::user_pool::domains::records::UserPoolDomain;
use crate::user_pool::hosted::{pages, session, text::EN};
use crate::user_pool::oauth::authorize::{self, error_redirect, ValidAuthorize};
use crate::user_pool::oauth::endpoint::{DomainRequest, DomainResponse, SetCookie};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// Sends the browser to `provider` to sign in, by its protocol.
pub async fn start(
    svc: &Service,
    req: &DomainRequest,
    valid: &ValidAuthorize,
    provider: &IdentityProvider,
) -> Result<DomainResponse> {
    match provider.provider_type {
        ProviderType::Saml => super::saml::start(svc, req, valid, provider).await,
        _ => super::oidc::start(svc, req, valid, provider).await,
    }
}

/// How long a browser has to come back from the provider.
pub const STATE_TTL_SECS: i64 = 600;

/// 256 random bits, base64url.
pub fn random(svc: &Service) -> String {
    URL_SAFE_NO_PAD.encode(svc.rng.bytes(32))
}

fn state_key(state: &str) -> String {
    keys::federation_state(&hex::encode(Sha256::digest(state.as_bytes())))
}

/// Stores a sign-in's record under a fresh state (`kind`: the sort key of its protocol).
pub async fn save_state(svc: &Service, state: &str, kind: &str, record: &impl Serialize) -> Result<()> {
    let mut item = Item::new(state_key(state), kind, serde_json::to_value(record).map_err(Error::internal)?);
    item.expires_at = Some(svc.now_secs() + STATE_TTL_SECS);
    svc.store.transact(vec![Write::put(item, Cond::NotExists)], svc.now_secs()).await?;
    Ok(())
}

/// The record of `state`, spent: `None` when unknown, expired or already spent (one answer per
/// sign-in, whatever follows).
pub async fn spend_state<T: DeserializeOwned>(svc: &Service, state: &str, kind: &str) -> Result<Option<T>> {
    let key = state_key(state);
    let Some((record, version)) = svc.get_json::<T>(&key, kind).await? else { return Ok(None) };
    let spent =
        svc.store.transact(vec![Write::delete(key, kind, Cond::Version(version))], svc.now_secs()).await;
    Ok(spent.is_ok().then_some(record))
}

/// A sign-in's stored record: whose pool, and the app's authorize request it answers.
pub trait SignInState: DeserializeOwned {
    fn pool_id(&self) -> &str;
    /// The app's authorize request, as its query.
    fn authorize(&self) -> &str;
}

/// The provider's answer for `state` resumed: its record spent (one answer per sign-in,
/// whatever follows), the answer required to come in the browser that was sent (`cookie`), and
/// the app's authorize request checked again. `Err` is the page the browser gets instead.
pub async fn resume<T: SignInState>(
    svc: &Service,
    domain: &UserPoolDomain,
    req: &DomainRequest,
    state: Option<&str>,
    kind: &str,
    cookie: &str,
) -> Result<std::result::Result<(T, ValidAuthorize), DomainResponse>> {
    let page = |message| Ok(Err(DomainResponse::html(400, pages::error_page(message))));
    let Some(state) = state.filter(|s| !s.is_empty()) else { return page(EN.federation_no_state) };
    let record = spend_state::<T>(svc, state, kind).await?;
    let Some(record) = record.filter(|r| r.pool_id() == domain.pool_id) else {
        return page(EN.federation_expired);
    };
    if req.cookie(cookie) != Some(state) {
        return page(EN.federation_other_browser);
    }
    let authorize_fields: Vec<(String, String)> = form_urlencoded::parse(record.authorize().as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    Ok(authorize::check(svc, domain, &authorize_fields).await?.map(|valid| (record, valid)))
}

/// A cookie that clears `name`.
pub fn cleared(name: &str) -> SetCookie {
    SetCookie { name: name.into(), value: String::new(), max_age_secs: Some(0), cross_site: false }
}

/// Signs the provider's user in and answers the app's authorize request (a code or tokens),
/// with a hosted session, so later authorize requests are single sign-on. A refusal (a
/// required attribute missing, a disabled user, a trigger's no) reaches the app as
/// `invalid_request`; `clear` goes with every answer.
#[allow(clippy::too_many_arguments)]
pub async fn finish(
    svc: &Service,
    ctx: &CallContext,
    domain: &UserPoolDomain,
    valid: &ValidAuthorize,
    provider: &IdentityProvider,
    subject: &Subject,
    claims: &Map<String, Value>,
    clear: SetCookie,
    saml: Option<super::saml::SamlSession>,
) -> Result<DomainResponse> {
    let pool = svc.pool(&domain.pool_id).await?;
    let user = match users::sign_in(svc, &pool, provider, subject, claims, &valid.client.client_id).await {
        Ok(u) => u,
        Err(Error::InternalErrorException(m)) => return Err(Error::InternalErrorException(m)),
        Err(e) => {
            return Ok(error_redirect(&valid.params, "invalid_request", e.message()).with_cookie(clear));
        }
    };
    let auth_time = svc.now_secs();
    let cookie = session::open(svc, &pool.id, &user, auth_time, saml).await?;
    let mut answer = authorize::answer(svc, ctx, valid, &user, auth_time, vec![cookie]).await?;
    answer.cookies.push(clear);
    Ok(answer)
}
