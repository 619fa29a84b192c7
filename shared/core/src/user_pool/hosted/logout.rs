//! `GET /logout` (spec A §2.5): ends the hosted session, then either returns to the app
//! (`logout_uri`, one of the client's sign-out URLs) or shows the sign-in page again
//! (`redirect_uri` + `response_type`, as `/oauth2/authorize` takes them). It revokes no token.
//! A session a SAML provider with `IDPSignout` signed in is ended at the IdP as well, on the way.

use super::pages::{error_page, message_page};
use super::session;
use super::text::EN;
use crate::error::Result;
use crate::service::Service;
use crate::user_pool::domains::records::UserPoolDomain;
use crate::user_pool::oauth::authorize;
use crate::user_pool::oauth::endpoint::{DomainRequest, DomainResponse};

pub async fn logout(svc: &Service, domain: &UserPoolDomain, req: &DomainRequest) -> Result<DomainResponse> {
    let bad = |detail: &str| DomainResponse::html(400, message_page(EN.bad_request.title, detail));
    let (Ok(client_id), Ok(logout_uri)) = (req.query_one("client_id"), req.query_one("logout_uri")) else {
        return Ok(bad(EN.repeated_client_or_redirect));
    };
    let Some(client_id) = client_id.filter(|c| !c.is_empty()) else { return Ok(bad(EN.missing_client)) };
    let client = match svc.client(client_id).await {
        Ok(c) if c.pool_id == domain.pool_id => c,
        Ok(_) | Err(crate::Error::ResourceNotFoundException(_)) => return Ok(bad(EN.unknown_client)),
        Err(e) => return Err(e),
    };
    if let Some(uri) = logout_uri {
        // The sign-out URLs, never the callback URLs: no redirect anywhere else.
        if !client.settings.logout_urls.as_deref().unwrap_or_default().iter().any(|u| u == uri) {
            return Ok(bad(EN.logout_uri_mismatch));
        }
        let ended = session::stored(svc, req).await?;
        let cleared = session::close(svc, req).await?;
        if let Some(at_idp) = idp_sign_out(svc, domain, req, ended, Some(uri.to_string())).await? {
            return Ok(at_idp.with_cookie(cleared));
        }
        return Ok(DomainResponse::redirect(uri.to_string()).with_cookie(cleared));
    }
    if req.query.iter().any(|(k, _)| k == "redirect_uri") {
        // Sign out and sign in again: the parameters are an authorize request's.
        return Ok(match authorize::check(svc, domain, &req.query).await? {
            Ok(valid) => {
                let cleared = session::close(svc, req).await?;
                DomainResponse::redirect(format!("{}/login?{}", req.base_url, valid.params.query()))
                    .with_cookie(cleared)
            }
            Err(answer) => answer,
        });
    }
    let ended = session::stored(svc, req).await?;
    let cleared = session::close(svc, req).await?;
    if let Some(at_idp) = idp_sign_out(svc, domain, req, ended, None).await? {
        return Ok(at_idp.with_cookie(cleared));
    }
    Ok(DomainResponse::html(200, error_page(EN.signed_out)).with_cookie(cleared))
}

/// A session a SAML provider with `IDPSignout` signed in ends at the IdP too: the redirect
/// there (its answer comes back to `/saml2/logout`, which sends the browser on to `then`).
async fn idp_sign_out(
    svc: &Service,
    domain: &UserPoolDomain,
    req: &DomainRequest,
    ended: Option<session::HostedSession>,
    then: Option<String>,
) -> Result<Option<DomainResponse>> {
    match ended.and_then(|s| s.saml.filter(|_| s.pool_id == domain.pool_id)) {
        Some(saml) => {
            crate::user_pool::federation::saml::start_logout(svc, req, &domain.pool_id, &saml, then).await
        }
        None => Ok(None),
    }
}
