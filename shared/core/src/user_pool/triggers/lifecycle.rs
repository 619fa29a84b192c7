//! The triggers of the user lifecycle: PreSignUp, PostConfirmation, CustomMessage and
//! UserMigration. Each builds Cognito's event, invokes the pool's function and reads the
//! response as Cognito does; the operations decide where in their flow they fire.

use crate::error::{Error, Result};
use crate::model::{User, UserPool};
use crate::ports::OutgoingMessage;
use crate::service::Service;
use crate::triggers::{self, header, invoke, response, to_event, user_attributes, Caller, Trigger};
use aws_lambda_events::event::cognito as ev;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};

/// The placeholders Cognito puts in `codeParameter` and `usernameParameter`.
pub const CODE_PARAMETER: &str = "{####}";
pub const USERNAME_PARAMETER: &str = "{username}";
/// Cognito's limits on the messages a CustomMessage function returns.
pub const MAX_EMAIL_MESSAGE_CHARS: usize = 20_000;
pub const MAX_EMAIL_SUBJECT_CHARS: usize = 140;
pub const MAX_SMS_MESSAGE_CHARS: usize = 140;

/// What a PreSignUp function decided (`PreSignUp_SignUp` only; Cognito ignores the flags for
/// `PreSignUp_AdminCreateUser`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PreSignUpOutcome {
    pub auto_confirm_user: bool,
    pub auto_verify_email: bool,
    pub auto_verify_phone: bool,
}

/// `ValidationData` (a list of `{Name, Value}`) as the string map triggers receive.
pub fn validation_data(input: &Value) -> HashMap<String, String> {
    crate::input::attribute_list(input, "ValidationData").into_iter().collect()
}

/// PreSignUp for SignUp (`admin` false) or AdminCreateUser. `attributes` are the new user's.
pub async fn pre_sign_up(
    svc: &Service,
    pool: &UserPool,
    admin: bool,
    username: &str,
    attributes: &BTreeMap<String, String>,
    caller: Caller<'_>,
    input: &Value,
) -> Result<PreSignUpOutcome> {
    if !Trigger::PreSignUp.configured(pool) {
        return Ok(PreSignUpOutcome::default());
    }
    let source = if admin {
        ev::CognitoEventUserPoolsPreSignupTriggerSource::AdminCreateUser
    } else {
        ev::CognitoEventUserPoolsPreSignupTriggerSource::SignUp
    };
    let mut event = ev::CognitoEventUserPoolsPreSignup::default();
    event.cognito_event_user_pools_header = header(svc, pool, username, &caller, source);
    let mut shown = attributes.clone();
    shown.remove("sub");
    event.request.user_attributes = triggers::new_user_attributes(&shown);
    event.request.validation_data = validation_data(input);
    event.request.client_metadata = caller.metadata_map();
    let Some(result) = invoke(svc, pool, Trigger::PreSignUp, to_event(&event, &[])?).await? else {
        return Ok(PreSignUpOutcome::default());
    };
    if admin {
        return Ok(PreSignUpOutcome::default());
    }
    let r = response(&result);
    let outcome = PreSignUpOutcome {
        auto_confirm_user: triggers::flag(r, "autoConfirmUser")?,
        auto_verify_email: triggers::flag(r, "autoVerifyEmail")?,
        auto_verify_phone: triggers::flag(r, "autoVerifyPhone")?,
    };
    for (wanted, attribute) in
        [(outcome.auto_verify_email, "email"), (outcome.auto_verify_phone, "phone_number")]
    {
        if wanted && attributes.get(attribute).is_none_or(|v| v.is_empty()) {
            return Err(Error::invalid(format!(
                "PreSignUp asked to verify {attribute}, but the user has no {attribute} attribute."
            )));
        }
    }
    Ok(outcome)
}

/// PreSignUp for a user's first sign-in through an identity provider
/// (`PreSignUp_ExternalProvider`): the function may refuse it; its flags do not apply (the user
/// is confirmed by the provider).
pub async fn pre_sign_up_external(
    svc: &Service,
    pool: &UserPool,
    username: &str,
    attributes: &BTreeMap<String, String>,
    client_id: &str,
) -> Result<()> {
    if !Trigger::PreSignUp.configured(pool) {
        return Ok(());
    }
    let caller = Caller::without_metadata(Some(client_id));
    let source = ev::CognitoEventUserPoolsPreSignupTriggerSource::ExternalProvider;
    let mut event = ev::CognitoEventUserPoolsPreSignup::default();
    event.cognito_event_user_pools_header = header(svc, pool, username, &caller, source);
    let mut shown = attributes.clone();
    shown.remove("sub");
    event.request.user_attributes = triggers::new_user_attributes(&shown);
    invoke(svc, pool, Trigger::PreSignUp, to_event(&event, &[])?).await?;
    Ok(())
}

/// PostConfirmation, after a confirmation was saved (`forgot_password`: the
/// ConfirmForgotPassword source). The change stays when the function fails, as in Cognito;
/// the caller sees the function's error.
pub async fn post_confirmation(
    svc: &Service,
    pool: &UserPool,
    forgot_password: bool,
    user: &User,
    caller: Caller<'_>,
) -> Result<()> {
    if !Trigger::PostConfirmation.configured(pool) {
        return Ok(());
    }
    let source = if forgot_password {
        ev::CognitoEventUserPoolsPostConfirmationTriggerSource::ConfirmForgotPassword
    } else {
        ev::CognitoEventUserPoolsPostConfirmationTriggerSource::ConfirmSignUp
    };
    let mut event = ev::CognitoEventUserPoolsPostConfirmation::<
        ev::CognitoEventUserPoolsPostConfirmationResponse,
    >::default();
    event.cognito_event_user_pools_header = header(svc, pool, &user.username, &caller, source);
    event.request.user_attributes = user_attributes(pool, user);
    event.request.client_metadata = caller.metadata_map();
    invoke(svc, pool, Trigger::PostConfirmation, to_event(&event, &[])?).await?;
    Ok(())
}

/// Why a message is sent: the `CustomMessage_*` source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageSource {
    SignUp,
    AdminCreateUser,
    ResendCode,
    ForgotPassword,
    UpdateUserAttribute,
    VerifyUserAttribute,
    /// An SMS MFA code at sign-in.
    Authentication,
}

impl MessageSource {
    fn event_source(self) -> ev::CognitoEventUserPoolsCustomMessageTriggerSource {
        use ev::CognitoEventUserPoolsCustomMessageTriggerSource as S;
        match self {
            MessageSource::SignUp => S::SignUp,
            MessageSource::AdminCreateUser => S::AdminCreateUser,
            MessageSource::ResendCode => S::ResendCode,
            MessageSource::ForgotPassword => S::ForgotPassword,
            MessageSource::UpdateUserAttribute => S::UpdateUserAttribute,
            MessageSource::VerifyUserAttribute => S::VerifyUserAttribute,
            MessageSource::Authentication => S::Authentication,
        }
    }
}

/// Lets the pool's CustomMessage function write `msg` (a code or an invitation already
/// rendered from the pool's templates). A field the function leaves null keeps the template's
/// text. Runs before the operation saves anything, so a failure changes nothing.
pub async fn custom_message(
    svc: &Service,
    pool: &UserPool,
    source: MessageSource,
    user: &User,
    caller: Caller<'_>,
    msg: &mut OutgoingMessage,
) -> Result<()> {
    if !Trigger::CustomMessage.configured(pool) {
        return Ok(());
    }
    let mut event = ev::CognitoEventUserPoolsCustomMessage::default();
    event.cognito_event_user_pools_header = header(svc, pool, &user.username, &caller, source.event_source());
    event.request.user_attributes =
        user_attributes(pool, user).into_iter().map(|(k, v)| (k, Value::String(v))).collect();
    event.request.code_parameter = Some(CODE_PARAMETER.into());
    event.request.username_parameter =
        (source == MessageSource::AdminCreateUser).then(|| USERNAME_PARAMETER.to_string());
    event.request.client_metadata = caller.metadata_map();
    let Some(result) = invoke(svc, pool, Trigger::CustomMessage, to_event(&event, &[])?).await? else {
        return Ok(());
    };
    let r = response(&result);
    let code = crate::html::for_channel(&msg.channel, msg.code.as_deref().unwrap_or_default());
    let username = crate::html::for_channel(&msg.channel, &msg.username);
    let fill = |text: &str| {
        let text = text.replace(CODE_PARAMETER, &code);
        if source == MessageSource::AdminCreateUser {
            text.replace(USERNAME_PARAMETER, &username)
        } else {
            text
        }
    };
    let needs_username = source == MessageSource::AdminCreateUser;
    if msg.channel == "EMAIL" {
        if let Some(body) = triggers::text(r, "emailMessage")? {
            check_message("emailMessage", &body, needs_username)?;
            msg.body = within_limit("emailMessage", fill(&body), MAX_EMAIL_MESSAGE_CHARS)?;
        }
        if let Some(subject) = triggers::text(r, "emailSubject")? {
            if subject.trim().is_empty() || subject.chars().count() > MAX_EMAIL_SUBJECT_CHARS {
                return Err(Error::invalid(format!(
                    "CustomMessage returned an invalid emailSubject: it must be 1 to {MAX_EMAIL_SUBJECT_CHARS} characters."
                )));
            }
            msg.subject = Some(subject);
        }
    } else if let Some(body) = triggers::text(r, "smsMessage")? {
        check_message("smsMessage", &body, needs_username)?;
        msg.body = within_limit("smsMessage", fill(&body), MAX_SMS_MESSAGE_CHARS)?;
    }
    Ok(())
}

fn check_message(field: &str, text: &str, needs_username: bool) -> Result<()> {
    if text.trim().is_empty() {
        return Err(Error::invalid(format!("CustomMessage returned an empty {field}.")));
    }
    if !text.contains(CODE_PARAMETER) {
        return Err(Error::invalid(format!(
            "CustomMessage returned an invalid {field}: it must contain the code placeholder {CODE_PARAMETER}."
        )));
    }
    if needs_username && !text.contains(USERNAME_PARAMETER) {
        return Err(Error::invalid(format!(
            "CustomMessage returned an invalid {field}: an invitation must contain {USERNAME_PARAMETER} and {CODE_PARAMETER}."
        )));
    }
    Ok(())
}

/// The limit counts the message as sent: code, temporary password and username included.
fn within_limit(field: &str, text: String, max: usize) -> Result<String> {
    if text.chars().count() > max {
        return Err(Error::invalid(format!(
            "CustomMessage returned an invalid {field}: with the code filled in it is longer than {max} characters."
        )));
    }
    Ok(text)
}

/// Who a UserMigration function said the user is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Migrated {
    pub attributes: BTreeMap<String, String>,
    /// `CONFIRMED` (also when unset) or `RESET_REQUIRED`.
    pub reset_required: bool,
    /// `messageAction: SUPPRESS`.
    pub suppress_welcome: bool,
    /// "EMAIL" / "SMS"; SMS when unset.
    pub delivery_mediums: Vec<String>,
    pub force_alias_creation: bool,
    /// `groups`: Tessera's own member (the bundled hook's cognito mode sets it; Cognito has
    /// none such): groups of this pool the user joins.
    pub groups: Vec<String>,
}

/// UserMigration for a user the pool does not know: `password` is what they typed at sign-in
/// (None: the ForgotPassword source). `None` when the pool has no migration trigger.
pub async fn user_migration(
    svc: &Service,
    pool: &UserPool,
    entered_username: &str,
    password: Option<&str>,
    caller: Caller<'_>,
    sign_in: bool,
) -> Result<Option<Migrated>> {
    if !Trigger::UserMigration.configured(pool) {
        return Ok(None);
    }
    let source = if sign_in {
        ev::CognitoEventUserPoolsMigrateUserTriggerSource::Authentication
    } else {
        ev::CognitoEventUserPoolsMigrateUserTriggerSource::ForgotPassword
    };
    let mut event = ev::CognitoEventUserPoolsMigrateUser::default();
    event.cognito_event_user_pools_header = header(svc, pool, entered_username, &caller, source);
    // InitiateAuth's ClientMetadata reaches this trigger as validationData (Cognito's rule).
    if sign_in {
        event.cognito_event_user_pools_migrate_user_request.validation_data = caller.metadata_map();
    } else {
        event.cognito_event_user_pools_migrate_user_request.client_metadata = caller.metadata_map();
    }
    let mut event = to_event(&event, &[])?;
    // Cognito's initial response: no attributes yet (null, not {}).
    event["response"]["userAttributes"] = Value::Null;
    // The password key is absent, not null, in the ForgotPassword source.
    if let Some(request) = event.get_mut("request").and_then(Value::as_object_mut) {
        match password {
            Some(p) => request.insert("password".into(), json!(p)),
            None => request.remove("password"),
        };
    }
    // The event holds a plaintext password: never log it.
    let Some(result) = invoke(svc, pool, Trigger::UserMigration, event).await? else { return Ok(None) };
    let r = response(&result);
    // Values are strings; `"email_verified": true` is read as the string it means.
    let attributes: BTreeMap<String, String> = match r.and_then(|r| r.get("userAttributes")) {
        Some(Value::Object(m)) => m
            .iter()
            .map(|(k, v)| match v {
                Value::String(s) => Ok((k.clone(), s.clone())),
                Value::Bool(b) => Ok((k.clone(), b.to_string())),
                Value::Number(n) => Ok((k.clone(), n.to_string())),
                _ => Err(triggers::invalid_response()),
            })
            .collect::<Result<_>>()?,
        _ => BTreeMap::new(),
    };
    if attributes.is_empty() {
        return Err(triggers::invalid_response());
    }
    let reset_required = match triggers::text(r, "finalUserStatus")?.as_deref() {
        None | Some("CONFIRMED") => false,
        Some("RESET_REQUIRED") => true,
        Some(_) => return Err(triggers::invalid_response()),
    };
    let suppress_welcome = match triggers::text(r, "messageAction")?.as_deref() {
        None => false,
        Some("SUPPRESS") => true,
        Some(_) => return Err(triggers::invalid_response()),
    };
    let delivery_mediums =
        triggers::text_list(r, "desiredDeliveryMediums")?.unwrap_or_else(|| vec!["SMS".into()]);
    if delivery_mediums.iter().any(|m| m != "EMAIL" && m != "SMS") {
        return Err(triggers::invalid_response());
    }
    Ok(Some(Migrated {
        attributes,
        reset_required,
        suppress_welcome,
        delivery_mediums,
        force_alias_creation: triggers::flag(r, "forceAliasCreation")?,
        groups: triggers::text_list(r, "groups")?.unwrap_or_default(),
    }))
}

/// Adds a migrated user to the groups the function named that this pool has; the others are
/// logged and left (create them, e.g. with `tessera import-from-cognito`).
pub async fn join_groups(svc: &Service, pool: &UserPool, username: &str, groups: &[String]) -> Result<()> {
    for group in groups {
        let input = json!({"UserPoolId": pool.id, "Username": username, "GroupName": group});
        match crate::user_pool::admin_add_user_to_group(svc, &input).await {
            Ok(_) => {}
            Err(Error::ResourceNotFoundException(_)) => {
                tracing::warn!(pool = %pool.id, group = %group, "a migrated user's group does not exist in this pool");
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// A user imported without a password (RESET_REQUIRED, as `tessera import-from-cognito` and
/// CSV imports make them) who signs in with one, in a pool with a UserMigration function:
/// the function is asked to vouch for the password as for an unknown name
/// (UserMigration_Authentication). Vouched: the password becomes theirs, with the function's
/// attributes and groups, and the user is CONFIRMED (unless the function answers
/// RESET_REQUIRED). Cognito answers PasswordResetRequiredException here; Tessera migrates.
/// Returns the user, its version, and whether the password was vouched for.
pub async fn migrate_password(
    svc: &Service,
    pool: &UserPool,
    entered: &str,
    mut user: User,
    version: u64,
    password: &str,
    caller: Caller<'_>,
) -> Result<(User, u64, bool)> {
    let Some(m) = user_migration(svc, pool, entered, Some(password), caller, true).await? else {
        return Ok((user, version, false));
    };
    if m.reset_required {
        return Ok((user, version, true));
    }
    let mut attributes = m.attributes;
    attributes.retain(|k, v| k != "sub" && k != "username" && !k.starts_with("cognito:") && !v.is_empty());
    crate::attribute_rules::canonicalize(pool, attributes.iter_mut());
    for (name, value) in &attributes {
        crate::attribute_rules::check_value(pool, name, value, crate::attribute_rules::Writer::Admin)?;
    }
    user.attributes.extend(attributes);
    let (hash, srp) =
        crate::user_pool::secrets::password_secrets(svc, pool, &user.username, password).await?;
    user.password_hash = Some(hash);
    user.srp = Some(srp);
    user.status = crate::model::UserStatus::CONFIRMED;
    user.modified = svc.clock.now_millis();
    svc.save_user(pool, &user, version, vec![]).await?;
    join_groups(svc, pool, &user.username, &m.groups).await?;
    let (user, version) = svc.require_user(pool, &user.username).await?;
    Ok((user, version, true))
}

/// The welcome message a user migrated at sign-in gets unless the function said SUPPRESS. It
/// never carries a password: the user signs in with the one they already have.
const WELCOME_SUBJECT: &str = "Your account is ready";
const WELCOME_BODY: &str = "Your account {username} is ready. Sign in with your current password.";

/// What a migration attempt found.
#[derive(Debug)]
pub enum Migration {
    /// Created now, vouched for by the function (with the typed password at sign-in).
    Created(User, u64),
    /// A user with the name the function gave already exists (created by a concurrent
    /// migration, or someone else): treat them as found, checking the password as usual.
    Existing(User, u64),
}

impl Migration {
    pub fn into_user(self) -> (User, u64) {
        match self {
            Migration::Created(u, v) | Migration::Existing(u, v) => (u, v),
        }
    }
}

/// Runs the pool's UserMigration function for an identifier the pool does not know and, when
/// it vouches for the user, creates them. `password` is the one typed at sign-in (None: the
/// ForgotPassword source, which creates the user RESET_REQUIRED and only when they have a
/// verified address to receive the code). None when the pool has no migration trigger.
pub async fn migrate_user(
    svc: &Service,
    pool: &UserPool,
    entered: &str,
    password: Option<&str>,
    caller: Caller<'_>,
) -> Result<Option<Migration>> {
    let sign_in = password.is_some();
    let Some(m) = user_migration(svc, pool, entered, password, caller, sign_in).await? else {
        return Ok(None);
    };
    let mut attributes = m.attributes;
    // `username` renames the user, except where email/phone is the username (the name the
    // user typed stays their sign-in name). The pseudo-attributes are Cognito's own.
    let renamed = attributes.remove("username").filter(|_| pool.username_attributes.is_empty());
    let given = renamed.unwrap_or_else(|| entered.to_string());
    attributes.retain(|k, v| k != "sub" && !k.starts_with("cognito:") && !v.is_empty());
    let sub = svc.rng.uuid().to_string();
    let (username, username_attribute) =
        crate::user_pool::users::records::internal_username(pool, &given, &sub)?;
    if let Some((kind, value)) = username_attribute {
        attributes.entry(kind.to_string()).or_insert(value);
    }
    crate::attribute_rules::canonicalize(pool, attributes.iter_mut());
    for (name, value) in &attributes {
        crate::attribute_rules::check_value(pool, name, value, crate::attribute_rules::Writer::Admin)?;
    }
    attributes.insert("sub".into(), sub.clone());
    let reset_required = m.reset_required || !sign_in;
    let status = if reset_required {
        crate::model::UserStatus::RESET_REQUIRED
    } else {
        crate::model::UserStatus::CONFIRMED
    };
    let mut user = User::new(username.clone(), sub, attributes, status, svc.clock.now_millis());
    if !sign_in && crate::user_pool::delivery::recovery_channel(pool, &user).is_none() {
        // Nobody to send the code to: create nobody rather than a user who cannot get in.
        return Err(crate::user_pool::delivery::no_recovery_channel());
    }
    if let (false, Some(p)) = (reset_required, password) {
        // The typed password, whatever the new pool's policy: the function vouched for it.
        let (hash, srp) = crate::user_pool::secrets::password_secrets(svc, pool, &username, p).await?;
        user.password_hash = Some(hash);
        user.srp = Some(srp);
    }
    let takeover =
        if m.force_alias_creation { svc.take_aliases(pool, &user).await? } else { Default::default() };
    match svc.insert_user_taking(pool, &user, takeover, vec![]).await {
        Ok(()) => join_groups(svc, pool, &username, &m.groups).await?,
        Err(Error::UsernameExistsException(_)) => {
            let found = svc.find_user(pool, &given).await?;
            return found.map(|(u, v)| Some(Migration::Existing(u, v))).ok_or_else(|| {
                Error::ConcurrentModificationException(
                    "The user was modified by another request. Try again.".into(),
                )
            });
        }
        Err(e) => return Err(e),
    }
    // A user who must reset their password is not told to sign in with it.
    if !m.suppress_welcome && !reset_required {
        for medium in &m.delivery_mediums {
            let (channel, attribute) =
                if medium == "EMAIL" { ("EMAIL", "email") } else { ("SMS", "phone_number") };
            let Some(destination) = user.attr(attribute).map(str::to_string) else { continue };
            let msg = OutgoingMessage {
                pool_id: pool.id.clone(),
                username: given.clone(),
                channel: channel.into(),
                destination,
                subject: (channel == "EMAIL").then(|| WELCOME_SUBJECT.to_string()),
                body: WELCOME_BODY.replace(USERNAME_PARAMETER, &crate::html::for_channel(channel, &given)),
                code: None,
                sent_at: svc.clock.now_millis(),
            };
            crate::user_pool::delivery::deliver(svc, pool, &msg).await?;
        }
    }
    let key = crate::model::keys::user(&pool.id, &pool.username_key(&user.username));
    svc.get_json::<User>(&key, crate::model::keys::USER_SK)
        .await?
        .map(|(u, v)| Some(Migration::Created(u, v)))
        .ok_or_else(|| Error::internal("a migrated user vanished after its creation"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn custom_messages_need_the_placeholders_and_fit_the_limits() {
        assert!(check_message("smsMessage", "Code {####}", false).is_ok());
        assert!(check_message("smsMessage", "No code", false).is_err());
        assert!(check_message("smsMessage", "", false).is_err());
        assert!(check_message("emailMessage", "{####}", true).is_err());
        assert!(check_message("emailMessage", "{username} {####}", true).is_ok());
        assert!(within_limit("smsMessage", "x".repeat(140), 140).is_ok());
        assert!(within_limit("smsMessage", "x".repeat(141), 140).is_err());
    }
}
