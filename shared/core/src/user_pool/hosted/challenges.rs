//! The challenge pages of a hosted sign-in: NEW_PASSWORD_REQUIRED (`/newPassword`), SMS_MFA
//! and SOFTWARE_TOKEN_MFA (`/mfa`), SELECT_MFA_TYPE (`/selectMfa`) and MFA_SETUP with an
//! authenticator app (`/mfaSetup`, with a QR code). Each page carries the challenge's session
//! and the user's name in hidden fields and the authorize request in its action's query; each
//! answer goes through the same code as RespondToAuthChallenge (its checks, lockouts and
//! triggers), and a wrong code shows the page again with the same session.

use super::csrf;
use super::login::{after_step, failure_message, sign_in_page};
use super::pages::{Choice, Field, FormPage};
use super::text::EN;
use crate::error::{Error, Result};
use crate::service::{CallContext, Service};
use crate::user_pool::auth::hosted::answer_challenge;
use crate::user_pool::domains::records::UserPoolDomain;
use crate::user_pool::oauth::authorize::{self, ValidAuthorize};
use crate::user_pool::oauth::endpoint::{DomainRequest, DomainResponse};
use serde_json::{json, Map, Value};

/// The page path of a challenge.
fn path_of(challenge: &str) -> Option<&'static str> {
    Some(match challenge {
        "NEW_PASSWORD_REQUIRED" => "/newPassword",
        "SMS_MFA" | "SOFTWARE_TOKEN_MFA" => "/mfa",
        "SELECT_MFA_TYPE" => "/selectMfa",
        "MFA_SETUP" => "/mfaSetup",
        _ => return None,
    })
}

/// A challenge parameter that is a JSON-encoded list of strings (Cognito's form).
fn json_list(parameters: &Value, key: &str) -> Vec<String> {
    parameters
        .get(key)
        .and_then(Value::as_str)
        .and_then(|s| serde_json::from_str::<Vec<String>>(s).ok())
        .unwrap_or_default()
}

/// `otpauth://totp/{issuer}:{user}?secret=…&issuer=…`, what authenticator apps scan.
fn otpauth_uri(issuer: &str, username: &str, secret: &str) -> String {
    let label: String = form_urlencoded::byte_serialize(format!("{issuer}:{username}").as_bytes()).collect();
    let mut q = form_urlencoded::Serializer::new(String::new());
    q.append_pair("secret", secret).append_pair("issuer", issuer);
    format!("otpauth://totp/{}?{}", label.replace('+', "%20"), q.finish())
}

/// The QR code of an otpauth URI, as inline SVG with a text alternative.
fn qr_svg(uri: &str) -> Result<String> {
    let code = qrcode::QrCode::new(uri.as_bytes()).map_err(Error::internal)?;
    let svg = code
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(200, 200)
        .dark_color(qrcode::render::svg::Color("#000000"))
        .light_color(qrcode::render::svg::Color("#ffffff"))
        .build();
    // Drop the XML declaration; label the image for screen readers.
    let start = svg.find("<svg").unwrap_or(0);
    Ok(svg[start..].replacen("<svg", "<svg role=\"img\" aria-label=\"QR code for the authenticator app\"", 1))
}

/// The page of a challenge (after the sign-in page or a previous challenge).
#[allow(clippy::too_many_arguments)]
pub async fn page(
    svc: &Service,
    ctx: &CallContext,
    req: &DomainRequest,
    valid: &ValidAuthorize,
    challenge: &str,
    session: &str,
    username: &str,
    parameters: &Value,
    error: Option<&str>,
) -> Result<DomainResponse> {
    let Some(path) = path_of(challenge) else {
        return Ok(sign_in_page(
            svc,
            req,
            valid,
            Some(&format!("The {challenge} step cannot be completed on this page.")),
            200,
        ));
    };
    // The real username: what the user typed may be an alias.
    let username = parameters.get("USER_ID_FOR_SRP").and_then(Value::as_str).unwrap_or(username);
    let (token, cookie) = csrf::token(svc, req);
    let action = format!("{}{path}?{}", req.base_url, valid.params.query());
    let mut form = FormPage {
        error,
        action: &action,
        csrf: &token,
        hidden: vec![("session", session), ("username", username), ("challenge", challenge)],
        button: (EN.send_button, "submitButton"),
        ..Default::default()
    };
    let required = json_list(parameters, "requiredAttributes");
    let required: Vec<&str> = required.iter().filter_map(|a| a.strip_prefix("userAttributes.")).collect();
    let field_names: Vec<String> = required.iter().map(|a| format!("requiredAttributes[{a}]")).collect();
    let choices = json_list(parameters, "MFAS_CAN_CHOOSE");
    let mut setup_session = String::new();
    let mut setup_secret = String::new();
    match challenge {
        "NEW_PASSWORD_REQUIRED" => {
            form.title = EN.new_password_title;
            form.intro = EN.new_password_intro;
            form.fields.push(Field {
                label: EN.new_password,
                name: "password",
                kind: "password",
                autocomplete: "new-password",
                value: "",
                required: true,
            });
            for (attribute, name) in required.iter().zip(&field_names) {
                form.fields.push(Field {
                    label: attribute,
                    name,
                    kind: "text",
                    autocomplete: "off",
                    value: "",
                    required: true,
                });
            }
        }
        "SMS_MFA" | "SOFTWARE_TOKEN_MFA" => {
            form.title = EN.mfa_title;
            form.intro = if challenge == "SMS_MFA" { EN.sms_mfa_intro } else { EN.totp_mfa_intro };
            form.fields.push(Field {
                label: EN.code,
                name: "code",
                kind: "text",
                autocomplete: "one-time-code",
                value: "",
                required: true,
            });
        }
        "SELECT_MFA_TYPE" => {
            form.title = EN.select_mfa_title;
            form.intro = EN.select_mfa_intro;
            let options = choices
                .iter()
                .map(|c| (c.as_str(), if c == "SMS_MFA" { EN.sms_option } else { EN.totp_option }))
                .collect();
            form.choice = Some(Choice { legend: EN.select_mfa_intro, name: "mfa", options });
        }
        _ => {
            form.title = EN.mfa_setup_title;
            if !json_list(parameters, "MFAS_CAN_SETUP").iter().any(|m| m == "SOFTWARE_TOKEN_MFA") {
                return Ok(DomainResponse::html(
                    200,
                    super::pages::message_page(EN.mfa_setup_title, EN.mfa_setup_sms_only),
                ));
            }
            // A page shown again (a wrong code) carries the association's own session.
            let (secret, next) = match parameters.get("SECRET_CODE").and_then(Value::as_str) {
                Some(secret) => (secret.to_string(), session.to_string()),
                None => {
                    let out =
                        crate::user_pool::associate_software_token(svc, ctx, &json!({"Session": session}))
                            .await?;
                    let field = |k: &str| out.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
                    (field("SecretCode"), field("Session"))
                }
            };
            setup_session = next;
            setup_secret = secret.clone();
            let pool = svc.pool(&valid.client.pool_id).await?;
            let uri = otpauth_uri(&pool.name, username, &secret);
            form.intro = EN.mfa_setup_intro;
            form.extra_html = format!(
                "<div class=\"qr\">{}</div><p class=\"textDescription-customizable\">{} <code>{}</code></p>",
                qr_svg(&uri)?,
                crate::html::escape_html(EN.mfa_setup_secret),
                crate::html::escape_html(&secret)
            );
            form.fields.push(Field {
                label: EN.code,
                name: "code",
                kind: "text",
                autocomplete: "one-time-code",
                value: "",
                required: true,
            });
            form.fields.push(Field {
                label: EN.mfa_setup_device_name,
                name: "deviceName",
                kind: "text",
                autocomplete: "off",
                value: "",
                required: false,
            });
        }
    }
    if !setup_session.is_empty() {
        form.hidden[0].1 = &setup_session;
        form.hidden.push(("secret", &setup_secret));
    }
    let mut answer = DomainResponse::html(200, form.render());
    answer.cookies.extend(cookie);
    Ok(answer)
}

/// A challenge page's POST.
pub async fn submit(
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
        return Ok(DomainResponse::redirect(format!("{}/login?{}", req.base_url, valid.params.query())));
    }
    if !csrf::check(req) {
        return Ok(sign_in_page(svc, req, &valid, Some(EN.form_expired), 403));
    }
    let field = |k: &str| req.form_one(k).ok().flatten().unwrap_or_default().to_string();
    let (session, username, challenge) = (field("session"), field("username"), field("challenge"));
    if session.is_empty() || username.is_empty() || path_of(&challenge) != Some(req.path.as_str()) {
        return Ok(sign_in_page(svc, req, &valid, Some(EN.session_expired), 400));
    }
    let mut responses = Map::new();
    let mut answered = challenge.clone();
    let mut answer_session = session.clone();
    match challenge.as_str() {
        "NEW_PASSWORD_REQUIRED" => {
            responses.insert("NEW_PASSWORD".into(), json!(field("password")));
            for (k, v) in req.form.as_deref().unwrap_or_default() {
                if let Some(attribute) =
                    k.strip_prefix("requiredAttributes[").and_then(|a| a.strip_suffix(']'))
                {
                    responses.insert(format!("userAttributes.{attribute}"), json!(v));
                }
            }
        }
        "SMS_MFA" => {
            responses.insert("SMS_MFA_CODE".into(), json!(field("code").trim()));
        }
        "SOFTWARE_TOKEN_MFA" => {
            responses.insert("SOFTWARE_TOKEN_MFA_CODE".into(), json!(field("code").trim()));
        }
        "SELECT_MFA_TYPE" => {
            responses.insert("ANSWER".into(), json!(field("mfa")));
        }
        _ => {
            // MFA_SETUP: the code verifies the association, whose session then answers.
            let mut verify = json!({"Session": session, "UserCode": field("code").trim()});
            let name = field("deviceName");
            if !name.trim().is_empty() {
                verify["FriendlyDeviceName"] = json!(name.trim());
            }
            match crate::user_pool::verify_software_token(svc, ctx, &verify).await {
                Ok(out) => {
                    answer_session =
                        out.get("Session").and_then(Value::as_str).unwrap_or_default().to_string();
                }
                Err(e @ (Error::CodeMismatchException(_) | Error::EnableSoftwareTokenMFAException(_))) => {
                    let shown = json!({"MFAS_CAN_SETUP": "[\"SOFTWARE_TOKEN_MFA\"]", "SECRET_CODE": field("secret"), "USER_ID_FOR_SRP": username});
                    return again(svc, ctx, req, &valid, &challenge, &session, &username, shown, &e).await;
                }
                Err(e) => return Ok(sign_in_page(svc, req, &valid, Some(&failure_message(&e)?), 200)),
            }
            answered = "MFA_SETUP".into();
        }
    }
    match answer_challenge(svc, ctx, &valid.client, &answered, &answer_session, &username, responses).await {
        Ok(step) => after_step(svc, ctx, domain, req, &valid, step, &username).await,
        // A wrong code keeps the session: the same page again, to try once more.
        Err(e @ Error::CodeMismatchException(_)) => {
            let shown = json!({"USER_ID_FOR_SRP": username});
            again(svc, ctx, req, &valid, &challenge, &session, &username, shown, &e).await
        }
        Err(e @ (Error::InvalidPasswordException(_) | Error::InvalidParameterException(_)))
            if challenge == "NEW_PASSWORD_REQUIRED" =>
        {
            // The session was not spent: the user may try another password.
            let shown = json!({"USER_ID_FOR_SRP": username, "requiredAttributes": required_of(req)});
            again(svc, ctx, req, &valid, &challenge, &session, &username, shown, &e).await
        }
        Err(e) => Ok(sign_in_page(svc, req, &valid, Some(&failure_message(&e)?), 200)),
    }
}

/// The required attributes a NEW_PASSWORD_REQUIRED form asked for, as the challenge lists them.
fn required_of(req: &DomainRequest) -> String {
    let names: Vec<String> = req
        .form
        .as_deref()
        .unwrap_or_default()
        .iter()
        .filter_map(|(k, _)| k.strip_prefix("requiredAttributes[").and_then(|a| a.strip_suffix(']')))
        .map(|a| format!("userAttributes.{a}"))
        .collect();
    serde_json::to_string(&names).unwrap_or_default()
}

#[allow(clippy::too_many_arguments)]
async fn again(
    svc: &Service,
    ctx: &CallContext,
    req: &DomainRequest,
    valid: &ValidAuthorize,
    challenge: &str,
    session: &str,
    username: &str,
    parameters: Value,
    e: &Error,
) -> Result<DomainResponse> {
    let message = failure_message(e)?;
    page(svc, ctx, req, valid, challenge, session, username, &parameters, Some(&message)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn otpauth_uris_as_authenticators_read_them() {
        assert_eq!(
            otpauth_uri("My Pool", "alice", "ABCDEF"),
            "otpauth://totp/My%20Pool%3Aalice?secret=ABCDEF&issuer=My+Pool"
        );
    }

    #[test]
    fn the_qr_code_is_inline_svg() {
        let svg = qr_svg("otpauth://totp/a?secret=B").unwrap();
        assert!(svg.starts_with("<svg role=\"img\""), "{svg}");
        assert!(svg.ends_with("</svg>"));
    }
}
