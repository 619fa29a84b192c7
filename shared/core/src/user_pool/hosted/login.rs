//! `/login`: the sign-in page (GET) and its form (POST), which answers 302 to the client once
//! the user is signed in, or shows the next challenge's page.

use super::challenges;
use super::pages::{Field, FormPage};
use super::text::EN;
use super::{csrf, session};
use crate::error::{Error, Result};
use crate::service::{CallContext, Service};
use crate::user_pool::auth::hosted::{sign_in_with_password, HostedStep};
use crate::user_pool::domains::records::UserPoolDomain;
use crate::user_pool::oauth::authorize::{self, ValidAuthorize};
use crate::user_pool::oauth::endpoint::{DomainRequest, DomainResponse};

/// The sign-in page, with an error from the last attempt if any.
pub fn sign_in_page(
    svc: &Service,
    req: &DomainRequest,
    valid: &ValidAuthorize,
    error: Option<&str>,
    status: u16,
) -> DomainResponse {
    sign_in_page_with(svc, req, valid, error, None, status)
}

/// The sign-in page with an error, or a note from the page before (an account confirmed, a
/// password changed).
pub fn sign_in_page_with(
    svc: &Service,
    req: &DomainRequest,
    valid: &ValidAuthorize,
    error: Option<&str>,
    note: Option<&str>,
    status: u16,
) -> DomainResponse {
    if !signs_in_with_cognito(valid) {
        // The app signs in only through its identity providers: their buttons, no form.
        return DomainResponse::html(
            status,
            super::pages::markup_page(EN.sign_in_title, &provider_buttons(req, valid)),
        );
    }
    let (token, cookie) = csrf::token(svc, req);
    let query = valid.params.query();
    let action = format!("{}/login?{query}", req.base_url);
    let username = req.form_one("username").ok().flatten();
    // The page's own value first, then the app's hint (the page escapes both).
    let username = username.or(valid.params.login_hint.as_deref()).unwrap_or_default();
    let page = FormPage {
        title: EN.sign_in_title,
        intro: note.unwrap_or(EN.sign_in_intro),
        extra_html: provider_buttons(req, valid),
        error,
        action: &action,
        csrf: &token,
        fields: vec![
            Field {
                label: EN.username,
                name: "username",
                kind: "text",
                autocomplete: "username",
                value: username,
                required: true,
            },
            Field {
                label: EN.password,
                name: "password",
                kind: "password",
                autocomplete: "current-password",
                value: "",
                required: true,
            },
        ],
        hidden: vec![("cognitoAsfData", "")],
        button: (EN.sign_in_button, "signInSubmitButton"),
        links: vec![
            (format!("{}/forgotPassword?{query}", req.base_url), EN.forgot_password_link),
            (format!("{}/signup?{query}", req.base_url), EN.sign_up_link),
        ],
        ..Default::default()
    };
    let mut answer = DomainResponse::html(status, page.render());
    answer.cookies.extend(cookie);
    answer
}

/// Whether the client signs users in with the pool itself (`COGNITO` among its providers).
pub fn signs_in_with_cognito(valid: &ValidAuthorize) -> bool {
    valid
        .client
        .settings
        .supported_identity_providers
        .as_deref()
        .unwrap_or_default()
        .iter()
        .any(|p| p == "COGNITO")
}

/// A link per identity provider of the client, each the authorize request with
/// `identity_provider` set.
fn provider_buttons(req: &DomainRequest, valid: &ValidAuthorize) -> String {
    use crate::html::escape_html;
    let providers = valid.client.settings.supported_identity_providers.as_deref().unwrap_or_default();
    let mut links = String::new();
    for name in providers.iter().filter(|p| p.as_str() != "COGNITO") {
        let mut params = valid.params.clone();
        params.identity_provider = Some(name.clone());
        params.idp_identifier = None;
        let href = format!("{}/oauth2/authorize?{}", req.base_url, params.query());
        links.push_str(&format!(
            "<li><a class=\"btn idpButton-customizable\" href=\"{}\">{}</a></li>",
            escape_html(&href),
            escape_html(name)
        ));
    }
    if links.is_empty() {
        return links;
    }
    let identifier_box = if valid.identifier_box { identifier_form(req, valid) } else { String::new() };
    format!(
        "<section aria-labelledby=\"idp-heading\"><p id=\"idp-heading\" class=\"textDescription-customizable\">{}</p>{identifier_box}<ul class=\"idp-list\">{links}</ul></section>",
        escape_html(EN.federated_intro)
    )
}

/// The corporate email box: the authorize request again with `idp_identifier` = the email,
/// which goes to the provider that has its domain among its IdpIdentifiers.
fn identifier_form(req: &DomainRequest, valid: &ValidAuthorize) -> String {
    use crate::html::escape_html;
    let mut hidden = String::new();
    for (name, value) in valid.params.fields() {
        if name != "identity_provider" && name != "idp_identifier" {
            hidden.push_str(&format!(
                "<input type=\"hidden\" name=\"{name}\" value=\"{}\">",
                escape_html(value)
            ));
        }
    }
    format!(
        "<form method=\"get\" action=\"{}\" class=\"idp-identifier\">{hidden}<label for=\"idp_identifier\">{}</label><input id=\"idp_identifier\" name=\"idp_identifier\" type=\"email\" autocomplete=\"email\" required class=\"form-control inputField-customizable\"><button type=\"submit\" class=\"btn btn-primary submitButton-customizable\">{}</button></form>",
        escape_html(&format!("{}/oauth2/authorize", req.base_url)),
        escape_html(EN.corporate_email),
        escape_html(EN.corporate_email_button),
    )
}

/// The message a failed sign-in shows: Cognito's own, except for failures of the server.
pub fn failure_message(e: &Error) -> Result<String> {
    match e {
        Error::InternalErrorException(_) => Err(e.clone()),
        other => Ok(other.message().to_string()),
    }
}

/// The user signed in: a hosted session, and the answer to the authorize request.
pub async fn signed_in(
    svc: &Service,
    ctx: &CallContext,
    domain: &UserPoolDomain,
    valid: &ValidAuthorize,
    username: &str,
    sub: &str,
) -> Result<DomainResponse> {
    let pool = svc.pool(&domain.pool_id).await?;
    let user = match svc.load_user_named(&pool, username).await? {
        Some((user, _)) if user.sub == sub => user,
        _ => return Err(Error::internal("the signed-in user is gone")),
    };
    let auth_time = svc.now_secs();
    let cookie = session::open(svc, &pool.id, &user, auth_time, None).await?;
    authorize::answer(svc, ctx, valid, &user, auth_time, vec![cookie]).await
}

/// Where a sign-in step leads: the client (signed in) or the next challenge's page.
pub async fn after_step(
    svc: &Service,
    ctx: &CallContext,
    domain: &UserPoolDomain,
    req: &DomainRequest,
    valid: &ValidAuthorize,
    step: HostedStep,
    username: &str,
) -> Result<DomainResponse> {
    match step {
        HostedStep::Authenticated { username, sub } => {
            signed_in(svc, ctx, domain, valid, &username, &sub).await
        }
        HostedStep::Challenge { name, session, parameters } => {
            challenges::page(svc, ctx, req, valid, &name, &session, username, &parameters, None).await
        }
    }
}

pub async fn login(
    svc: &Service,
    ctx: &CallContext,
    domain: &UserPoolDomain,
    req: &DomainRequest,
) -> Result<DomainResponse> {
    let valid = match authorize::check(svc, domain, &req.query).await? {
        Ok(v) => v,
        Err(answer) => return Ok(answer),
    };
    if req.method != "POST" {
        return Ok(sign_in_page(svc, req, &valid, None, 200));
    }
    if !signs_in_with_cognito(&valid) {
        // No password sign-in for an app that does not take the pool's own.
        return Ok(sign_in_page(svc, req, &valid, None, 403));
    }
    if !csrf::check(req) {
        return Ok(sign_in_page(svc, req, &valid, Some(EN.form_expired), 403));
    }
    let username = req.form_one("username").ok().flatten().unwrap_or_default().trim().to_string();
    let password = req.form_one("password").ok().flatten().unwrap_or_default().to_string();
    if username.is_empty() || password.is_empty() {
        return Ok(sign_in_page(svc, req, &valid, Some("Enter your username and password."), 400));
    }
    match sign_in_with_password(svc, ctx, &valid.client, &username, &password).await {
        Ok(step) => after_step(svc, ctx, domain, req, &valid, step, &username).await,
        // Not confirmed yet: a new code, and the confirmation page (as Cognito's hosted UI).
        Err(Error::UserNotConfirmedException(_)) => {
            super::accounts::resend_and_confirm(svc, req, &valid, &username).await
        }
        // A reset the administrator asked for (or an imported user): the code, then the page.
        Err(Error::PasswordResetRequiredException(_)) => {
            match super::accounts::send_reset_code(svc, &valid.client, &username).await {
                Ok(note) => Ok(super::accounts::reset_page(svc, req, &valid, &username, &note, None)),
                Err(e) => Ok(sign_in_page(svc, req, &valid, Some(&failure_message(&e)?), 200)),
            }
        }
        Err(e) => Ok(sign_in_page(svc, req, &valid, Some(&failure_message(&e)?), 200)),
    }
}
