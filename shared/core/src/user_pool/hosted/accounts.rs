//! The account pages: `/signup`, `/confirm` (with "send a new code"), `/forgotPassword` and
//! `/confirmForgotPassword` (also `/resetPassword`). Each runs the API operation it stands for
//! (SignUp, ConfirmSignUp, ResendConfirmationCode, ForgotPassword, ConfirmForgotPassword) with
//! the client's SECRET_HASH made by the server, so the same rules, codes, limits and triggers
//! apply (PreSignUp_SignUp, CustomMessage_SignUp, PostConfirmation_ConfirmSignUp, …).

use super::csrf;
use super::login::{failure_message, sign_in_page_with};
use super::pages::{Field, FormPage};
use super::text::EN;
use crate::error::{Error, Result};
use crate::model::AppClient;
use crate::service::{CallContext, Service};
use crate::user_pool::access::secret_hash;
use crate::user_pool::domains::records::UserPoolDomain;
use crate::user_pool::oauth::authorize::{self, ValidAuthorize};
use crate::user_pool::oauth::endpoint::{DomainRequest, DomainResponse};
use serde_json::{json, Value};

/// An operation's input for `username`, with the client and its SecretHash.
fn input_for(client: &AppClient, username: &str) -> Value {
    let mut input = json!({"ClientId": client.client_id, "Username": username});
    if let Some(secret) = client.secret.as_deref() {
        input["SecretHash"] = json!(secret_hash(secret, username, &client.client_id));
    }
    input
}

fn field<'a>(req: &'a DomainRequest, name: &str) -> &'a str {
    req.form_one(name).ok().flatten().unwrap_or_default()
}

/// What the username field is called: the pool's sign-in attribute when it has one.
async fn username_label(svc: &Service, client: &AppClient) -> Result<&'static str> {
    let pool = svc.pool(&client.pool_id).await?;
    Ok(match pool.username_attributes.first().map(String::as_str) {
        Some("email") => EN.email,
        Some("phone_number") => EN.phone_number,
        _ => EN.username,
    })
}

fn page(
    cookie: Option<crate::user_pool::oauth::endpoint::SetCookie>,
    status: u16,
    html: String,
) -> DomainResponse {
    let mut answer = DomainResponse::html(status, html);
    answer.cookies.extend(cookie);
    answer
}

/// The sign-up page.
async fn sign_up_page(
    svc: &Service,
    req: &DomainRequest,
    valid: &ValidAuthorize,
    error: Option<&str>,
) -> Result<DomainResponse> {
    let pool = svc.pool(&valid.client.pool_id).await?;
    let (token, cookie) = csrf::token(svc, req);
    let query = valid.params.query();
    let action = format!("{}/signup?{query}", req.base_url);
    let label = username_label(svc, &valid.client).await?;
    let username_kind = if label == EN.email {
        "email"
    } else if label == EN.phone_number {
        "tel"
    } else {
        "text"
    };
    // The pool's required attributes, except the one the username already is.
    let required: Vec<(String, &str)> = pool
        .required_attributes
        .iter()
        .filter(|a| !pool.username_attributes.contains(a))
        .map(|a| (format!("requiredAttributes[{a}]"), a.as_str()))
        .collect();
    let mut fields = vec![Field {
        label,
        name: "username",
        kind: username_kind,
        autocomplete: "username",
        value: field(req, "username"),
        required: true,
    }];
    for (name, attribute) in &required {
        fields.push(Field {
            label: attribute,
            name,
            kind: if *attribute == "email" { "email" } else { "text" },
            autocomplete: "off",
            value: field(req, name),
            required: true,
        });
    }
    fields.push(Field {
        label: EN.password,
        name: "password",
        kind: "password",
        autocomplete: "new-password",
        value: "",
        required: true,
    });
    let form = FormPage {
        title: EN.sign_up_title,
        intro: EN.sign_up_intro,
        error,
        action: &action,
        csrf: &token,
        fields,
        button: (EN.sign_up_button, "signUpButton"),
        links: vec![(format!("{}/login?{query}", req.base_url), EN.sign_in_link)],
        ..Default::default()
    };
    Ok(page(cookie, if error.is_some() { 400 } else { 200 }, form.render()))
}

/// The confirmation page for `username` (a code was sent to `destination`).
fn confirm_page(
    svc: &Service,
    req: &DomainRequest,
    valid: &ValidAuthorize,
    username: &str,
    note: &str,
    error: Option<&str>,
) -> DomainResponse {
    let (token, cookie) = csrf::token(svc, req);
    let query = valid.params.query();
    let action = format!("{}/confirm?{query}", req.base_url);
    let form = FormPage {
        title: EN.confirm_title,
        intro: note,
        error,
        action: &action,
        csrf: &token,
        hidden: vec![("username", username)],
        fields: vec![Field {
            label: EN.code,
            name: "code",
            kind: "text",
            autocomplete: "one-time-code",
            value: "",
            required: true,
        }],
        button: (EN.confirm_button, "confirm"),
        links: vec![(format!("{}/login?{query}", req.base_url), EN.sign_in_link)],
        ..Default::default()
    };
    let mut html = form.render();
    // "Send a new code": a second small form, the same page.
    let resend = format!(
        "<form method=\"post\" action=\"{}\"><input type=\"hidden\" name=\"_csrf\" value=\"{}\"><input type=\"hidden\" \
         name=\"username\" value=\"{}\"><input type=\"hidden\" name=\"resend\" value=\"1\"><button type=\"submit\" \
         class=\"submitButton-customizable\" name=\"resendButton\">{}</button></form></main>",
        crate::html::escape_html(&action),
        crate::html::escape_html(&token),
        crate::html::escape_html(username),
        crate::html::escape_html(EN.resend_code_button)
    );
    html = html.replacen("</main>", &resend, 1);
    page(cookie, if error.is_some() { 400 } else { 200 }, html)
}

/// "We sent a code to …" for a CodeDeliveryDetails.
fn sent_to(details: Option<&Value>) -> String {
    let destination = details.and_then(|d| d.get("Destination")).and_then(Value::as_str).unwrap_or_default();
    if destination.is_empty() {
        EN.code_sent.to_string()
    } else {
        format!("{} {destination}.", EN.code_sent_to)
    }
}

async fn checked(
    svc: &Service,
    domain: &UserPoolDomain,
    req: &DomainRequest,
) -> Result<std::result::Result<ValidAuthorize, DomainResponse>> {
    authorize::check(svc, domain, &req.query).await
}

/// `/signup`.
pub async fn sign_up(
    svc: &Service,
    ctx: &CallContext,
    domain: &UserPoolDomain,
    req: &DomainRequest,
) -> Result<DomainResponse> {
    let _ = ctx;
    let valid = match checked(svc, domain, req).await? {
        Ok(v) => v,
        Err(answer) => return Ok(answer),
    };
    if req.method != "POST" {
        return sign_up_page(svc, req, &valid, None).await;
    }
    if !csrf::check(req) {
        return sign_up_page(svc, req, &valid, Some(EN.form_expired)).await;
    }
    let username = field(req, "username").trim().to_string();
    let mut input = input_for(&valid.client, &username);
    input["Password"] = json!(field(req, "password"));
    let mut attributes: Vec<Value> = Vec::new();
    let pool = svc.pool(&valid.client.pool_id).await?;
    for (k, v) in req.form.as_deref().unwrap_or_default() {
        if let Some(attribute) = k.strip_prefix("requiredAttributes[").and_then(|a| a.strip_suffix(']')) {
            attributes.push(json!({"Name": attribute, "Value": v.trim()}));
        }
    }
    // A pool whose username is the email (or phone) gets it as that attribute too.
    for a in &pool.username_attributes {
        if !attributes.iter().any(|x| x["Name"] == a.as_str()) {
            attributes.push(json!({"Name": a, "Value": username}));
        }
    }
    input["UserAttributes"] = json!(attributes);
    match crate::user_pool::sign_up(svc, &input).await {
        Ok(out) if out.get("UserConfirmed") == Some(&json!(true)) => {
            Ok(sign_in_page_with(svc, req, &valid, None, Some(EN.account_ready), 200))
        }
        Ok(out) => {
            // The sign-in name the user gave is what confirms it (an email for email pools).
            let note = sent_to(out.get("CodeDeliveryDetails"));
            Ok(confirm_page(svc, req, &valid, &username, &note, None))
        }
        Err(e) => sign_up_page(svc, req, &valid, Some(&failure_message(&e)?)).await,
    }
}

/// A user who signed in before confirming: a new code, and the confirmation page.
pub async fn resend_and_confirm(
    svc: &Service,
    req: &DomainRequest,
    valid: &ValidAuthorize,
    username: &str,
) -> Result<DomainResponse> {
    Ok(match crate::user_pool::resend_confirmation_code(svc, &input_for(&valid.client, username)).await {
        Ok(out) => confirm_page(svc, req, valid, username, &sent_to(out.get("CodeDeliveryDetails")), None),
        Err(e) => confirm_page(svc, req, valid, username, EN.code_sent, Some(&failure_message(&e)?)),
    })
}

/// `/confirm`: the sign-up code, or a new one.
pub async fn confirm(svc: &Service, domain: &UserPoolDomain, req: &DomainRequest) -> Result<DomainResponse> {
    let valid = match checked(svc, domain, req).await? {
        Ok(v) => v,
        Err(answer) => return Ok(answer),
    };
    let username = if req.method == "POST" {
        field(req, "username").to_string()
    } else {
        req.query_one("username").ok().flatten().unwrap_or_default().to_string()
    };
    if req.method != "POST" {
        return Ok(confirm_page(svc, req, &valid, &username, EN.code_sent, None));
    }
    if !csrf::check(req) {
        return Ok(confirm_page(svc, req, &valid, &username, EN.code_sent, Some(EN.form_expired)));
    }
    let input = input_for(&valid.client, &username);
    if field(req, "resend") == "1" {
        return Ok(match crate::user_pool::resend_confirmation_code(svc, &input).await {
            Ok(out) => {
                confirm_page(svc, req, &valid, &username, &sent_to(out.get("CodeDeliveryDetails")), None)
            }
            Err(e) => confirm_page(svc, req, &valid, &username, EN.code_sent, Some(&failure_message(&e)?)),
        });
    }
    let mut input = input;
    input["ConfirmationCode"] = json!(field(req, "code").trim());
    match crate::user_pool::confirm_sign_up(svc, &input).await {
        Ok(_) => Ok(sign_in_page_with(svc, req, &valid, None, Some(EN.account_confirmed), 200)),
        Err(e) => Ok(confirm_page(svc, req, &valid, &username, EN.code_sent, Some(&failure_message(&e)?))),
    }
}

fn forgot_page(
    svc: &Service,
    req: &DomainRequest,
    valid: &ValidAuthorize,
    label: &str,
    error: Option<&str>,
) -> DomainResponse {
    let (token, cookie) = csrf::token(svc, req);
    let query = valid.params.query();
    let action = format!("{}/forgotPassword?{query}", req.base_url);
    let form = FormPage {
        title: EN.forgot_title,
        intro: EN.forgot_intro,
        error,
        action: &action,
        csrf: &token,
        fields: vec![Field {
            label,
            name: "username",
            kind: "text",
            autocomplete: "username",
            value: field(req, "username"),
            required: true,
        }],
        button: (EN.reset_button, "reset_my_password"),
        links: vec![(format!("{}/login?{query}", req.base_url), EN.sign_in_link)],
        ..Default::default()
    };
    page(cookie, if error.is_some() { 400 } else { 200 }, form.render())
}

/// The page that takes the reset code and the new password.
pub fn reset_page(
    svc: &Service,
    req: &DomainRequest,
    valid: &ValidAuthorize,
    username: &str,
    note: &str,
    error: Option<&str>,
) -> DomainResponse {
    let (token, cookie) = csrf::token(svc, req);
    let query = valid.params.query();
    let action = format!("{}/confirmForgotPassword?{query}", req.base_url);
    let form = FormPage {
        title: EN.reset_title,
        intro: note,
        error,
        action: &action,
        csrf: &token,
        hidden: vec![("username", username)],
        fields: vec![
            Field {
                label: EN.code,
                name: "code",
                kind: "text",
                autocomplete: "one-time-code",
                value: "",
                required: true,
            },
            Field {
                label: EN.new_password,
                name: "password",
                kind: "password",
                autocomplete: "new-password",
                value: "",
                required: true,
            },
        ],
        button: (EN.change_password_button, "change_password"),
        links: vec![(format!("{}/login?{query}", req.base_url), EN.sign_in_link)],
        ..Default::default()
    };
    page(cookie, if error.is_some() { 400 } else { 200 }, form.render())
}

/// `/forgotPassword`: sends the reset code (ForgotPassword), then the reset page.
pub async fn forgot_password(
    svc: &Service,
    domain: &UserPoolDomain,
    req: &DomainRequest,
) -> Result<DomainResponse> {
    let valid = match checked(svc, domain, req).await? {
        Ok(v) => v,
        Err(answer) => return Ok(answer),
    };
    let label = username_label(svc, &valid.client).await?;
    if req.method != "POST" {
        return Ok(forgot_page(svc, req, &valid, label, None));
    }
    if !csrf::check(req) {
        return Ok(forgot_page(svc, req, &valid, label, Some(EN.form_expired)));
    }
    let username = field(req, "username").trim().to_string();
    match send_reset_code(svc, &valid.client, &username).await {
        Ok(note) => Ok(reset_page(svc, req, &valid, &username, &note, None)),
        Err(e) => Ok(forgot_page(svc, req, &valid, label, Some(&failure_message(&e)?))),
    }
}

/// ForgotPassword for `username`: where the code went.
pub async fn send_reset_code(svc: &Service, client: &AppClient, username: &str) -> Result<String> {
    let out = crate::user_pool::forgot_password(svc, &input_for(client, username)).await?;
    Ok(sent_to(out.get("CodeDeliveryDetails")))
}

/// `/confirmForgotPassword` (and `/resetPassword`): the code and the new password.
pub async fn confirm_forgot_password(
    svc: &Service,
    domain: &UserPoolDomain,
    req: &DomainRequest,
) -> Result<DomainResponse> {
    let valid = match checked(svc, domain, req).await? {
        Ok(v) => v,
        Err(answer) => return Ok(answer),
    };
    let username = if req.method == "POST" {
        field(req, "username").to_string()
    } else {
        req.query_one("username").ok().flatten().unwrap_or_default().to_string()
    };
    if req.method != "POST" {
        return Ok(reset_page(svc, req, &valid, &username, EN.code_sent, None));
    }
    if !csrf::check(req) {
        return Ok(reset_page(svc, req, &valid, &username, EN.code_sent, Some(EN.form_expired)));
    }
    let mut input = input_for(&valid.client, &username);
    input["ConfirmationCode"] = json!(field(req, "code").trim());
    input["Password"] = json!(field(req, "password"));
    match crate::user_pool::confirm_forgot_password(svc, &input).await {
        Ok(_) => Ok(sign_in_page_with(svc, req, &valid, None, Some(EN.password_changed), 200)),
        Err(e @ Error::InternalErrorException(_)) => Err(e),
        Err(e) => Ok(reset_page(svc, req, &valid, &username, EN.code_sent, Some(e.message()))),
    }
}
