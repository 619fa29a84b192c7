//! Cross-site request forgery: Cognito's double submit. A page's form carries `_csrf`, the
//! value of the `XSRF-TOKEN` cookie set with the page (HttpOnly, SameSite=Lax); a POST is taken
//! only when the two match. A page from another site can neither read the cookie nor, with
//! SameSite=Lax, send it with a cross-site POST.

use crate::service::Service;
use crate::user_pool::oauth::endpoint::{DomainRequest, SetCookie};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

pub const COOKIE: &str = "XSRF-TOKEN";
pub const FIELD: &str = "_csrf";

fn plausible(token: &str) -> bool {
    (20..=64).contains(&token.len())
        && token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The token for a page's form, and the cookie to set when the request had none.
pub fn token(svc: &Service, req: &DomainRequest) -> (String, Option<SetCookie>) {
    if let Some(t) = req.cookie(COOKIE).filter(|t| plausible(t)) {
        return (t.to_string(), None);
    }
    let t = URL_SAFE_NO_PAD.encode(svc.rng.bytes(24));
    (t.clone(), Some(SetCookie { name: COOKIE.into(), value: t, max_age_secs: None, cross_site: false }))
}

/// Whether a POST carries the cookie's token in its form.
pub fn check(req: &DomainRequest) -> bool {
    let (Some(cookie), Ok(Some(field))) = (req.cookie(COOKIE), req.form_one(FIELD)) else { return false };
    plausible(cookie) && subtle::ConstantTimeEq::ct_eq(cookie.as_bytes(), field.as_bytes()).into()
}
