//! SignUp, ConfirmSignUp, ResendConfirmationCode, AdminConfirmSignUp, AdminGetUser, GetUser,
//! AdminDeleteUser; and the code and message mechanics they share.

use super::lifecycle_triggers::{self as hooks, MessageSource};
use crate::attributes::{is_email, is_phone, Writer};
use crate::error::{Error, Result};
use crate::lockout::Backoff;
use crate::model::{AppClient, CodeGuard, PendingCode, SrpVerifier, User, UserPool, UserStatus};
use crate::ports::{OutgoingMessage, SecretCipher};
use crate::service::{attribute_list, check_secret_hash, Input, Service};
use crate::store::StoreError;
use crate::triggers::Caller;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// Sign-up codes live 24 hours.
pub const SIGNUP_CODE_TTL_SECS: i64 = 24 * 3600;
/// Wrong guesses allowed before a code is locked.
pub const MAX_CODE_ATTEMPTS: u32 = 5;

/// Hash, SRP verifier and salt for a new password, computed off the executor.
pub async fn password_secrets(
    svc: &Service,
    pool: &UserPool,
    username: &str,
    password: &str,
) -> Result<(String, SrpVerifier)> {
    let params = svc.config.hash_params;
    let argon_salt = svc.rng.bytes(16);
    let srp_salt = svc.rng.bytes(16);
    let suffix = crate::ids::pool_suffix(&pool.id).to_string();
    let (username, password) = (username.to_string(), password.to_string());
    let cipher = svc.cipher.clone();
    svc.cpu(move || -> Result<(String, SrpVerifier)> {
        let hash = params.hash(&password, &argon_salt)?;
        let (salt, v) = crate::srp::verifier(&suffix, &username, &password, &srp_salt);
        let sealed = cipher.seal(crate::ports::sealed::SRP_VERIFIER, &v.to_bytes_be())?;
        Ok((hash, SrpVerifier { salt_hex: salt.to_str_radix(16), sealed_verifier: STANDARD.encode(sealed) }))
    })
    .await?
}

/// The stored form of a code: keyed by the master key, so that a copy of the table alone cannot
/// try the 10^6 candidates (`salt` is the username, or a random salt for SMS MFA codes).
pub(crate) fn code_hash(cipher: &dyn SecretCipher, salt: &str, code: &str) -> Result<String> {
    Ok(hex::encode(cipher.keyed_hash("verification-code", format!("{salt}:{code}").as_bytes())?))
}

pub(crate) fn limit_exceeded() -> Error {
    Error::LimitExceededException("Attempt limit exceeded, please try after some time.".into())
}

/// The schedule for wrong codes of one purpose: `code_free_failures`, then lockouts doubling
/// up to `code_lockout_max_secs`; forgotten after a day without a wrong code.
pub fn code_backoff(svc: &Service) -> Backoff {
    let limits = &svc.config.limits;
    Backoff {
        free_failures: u32::try_from(limits.code_free_failures).unwrap_or(u32::MAX),
        max_lockout_secs: i64::try_from(limits.code_lockout_max_secs).unwrap_or(i64::MAX),
        forget_after_secs: CODE_FAILURES_FORGOTTEN_AFTER_SECS,
    }
}

/// A day without a wrong code forgets the count. Waiting that long is slower for an attacker
/// than guessing at the capped pace, so it buys them nothing.
pub const CODE_FAILURES_FORGOTTEN_AFTER_SECS: i64 = 86_400;

/// Masks a destination the way Cognito shows it: `j***@e***`, `+*******1234`.
pub fn mask(channel: &str, destination: &str) -> String {
    if channel == "EMAIL" {
        let (local, domain) = destination.split_once('@').unwrap_or((destination, ""));
        let first = |s: &str| s.chars().next().map(String::from).unwrap_or_default();
        format!("{}***@{}***", first(local), first(domain))
    } else {
        let chars: Vec<char> = destination.chars().collect();
        let keep = chars.len().saturating_sub(4);
        let tail: String = chars.iter().skip(keep).collect();
        format!("+{}{}", "*".repeat(keep.saturating_sub(1)), tail)
    }
}

/// Where a verification code for this user goes, per AutoVerifiedAttributes: when both are
/// auto-verified and the user has both, only the phone gets the code (Cognito's rule).
pub(crate) fn verification_channel(
    pool: &UserPool,
    user: &User,
) -> Option<(&'static str, &'static str, String)> {
    let auto = &pool.auto_verified_attributes;
    if auto.iter().any(|a| a == "phone_number") {
        if let Some(p) = user.attr("phone_number") {
            return Some(("SMS", "phone_number", p.to_string()));
        }
    }
    if auto.iter().any(|a| a == "email") {
        if let Some(e) = user.attr("email") {
            return Some(("EMAIL", "email", e.to_string()));
        }
    }
    None
}

/// The pool's verification message for a channel, with `{####}` and `{username}` filled in.
fn verification_message(
    pool: &UserPool,
    channel: &str,
    code: &str,
    username: &str,
) -> (Option<String>, String) {
    let t = |path: &[&str]| pool.setting_str(path).map(str::to_string);
    let (subject, body) = if channel == "EMAIL" {
        (
            t(&["VerificationMessageTemplate", "EmailSubject"])
                .or_else(|| t(&["EmailVerificationSubject"]))
                .unwrap_or_else(|| "Your verification code".into()),
            t(&["VerificationMessageTemplate", "EmailMessage"])
                .or_else(|| t(&["EmailVerificationMessage"]))
                .unwrap_or_else(|| "Your verification code is {####}. ".into()),
        )
    } else {
        (
            String::new(),
            t(&["VerificationMessageTemplate", "SmsMessage"])
                .or_else(|| t(&["SmsVerificationMessage"]))
                .unwrap_or_else(|| "Your verification code is {####}. ".into()),
        )
    };
    let body =
        body.replace("{####}", code).replace("{username}", &crate::html::for_channel(channel, username));
    ((channel == "EMAIL").then_some(subject), body)
}

/// Creates a code for `purpose`, stores its hash on the user and returns (code, delivery).
/// The caller saves the user; the message is sent after the save succeeds.
fn new_code(
    svc: &Service,
    pool: &UserPool,
    user: &mut User,
    purpose: &str,
    ttl: i64,
) -> Result<Option<(OutgoingMessage, Value)>> {
    let Some(channel) = verification_channel(pool, user) else { return Ok(None) };
    new_code_to(svc, pool, user, purpose, ttl, channel, Sender::User).map(Some)
}

/// Who asks for a code to be sent: a user (or anyone holding a client id) is held to the
/// per-purpose send quota; an administrator's sends are recorded but never refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sender {
    User,
    Admin,
}

/// Like [`new_code`], to an explicit `(medium, attribute, destination)`: "EMAIL"/"SMS", the
/// attribute the code verifies, and where it goes. A user over the purpose's send quota gets
/// LimitExceededException and nothing is sent.
pub(crate) fn new_code_to(
    svc: &Service,
    pool: &UserPool,
    user: &mut User,
    purpose: &str,
    ttl: i64,
    (channel, attribute, destination): (&'static str, &'static str, String),
    sender: Sender,
) -> Result<(OutgoingMessage, Value)> {
    let now_ms = svc.clock.now_millis();
    let limits = &svc.config.limits;
    let window_ms = i64::try_from(limits.code_send_window_secs).unwrap_or(i64::MAX / 2000) * 1000;
    let guard = user.code_guards.entry(purpose.to_string()).or_default();
    guard.sent_ms.retain(|&t| now_ms.saturating_sub(t) < window_ms);
    if sender == Sender::User && guard.sent_ms.len() as u64 >= limits.code_sends_per_window {
        return Err(limit_exceeded());
    }
    guard.sent_ms.push(now_ms);
    let code = crate::ids::code(svc.rng.as_ref());
    user.codes.insert(
        purpose.to_string(),
        PendingCode {
            hash: code_hash(svc.cipher.as_ref(), &user.username, &code)?,
            expires_at: svc.now_secs() + ttl,
            failed_attempts: 0,
            pending_value: None,
        },
    );
    let shown_name = user.attr(attribute).unwrap_or(&user.username).to_string();
    let (subject, body) = verification_message(pool, channel, &code, &user.username);
    let msg = OutgoingMessage {
        pool_id: pool.id.clone(),
        username: shown_name,
        channel: channel.to_string(),
        destination: destination.clone(),
        subject,
        body,
        code: Some(code),
        sent_at: now_ms,
    };
    let details = json!({"Destination": mask(channel, &destination), "DeliveryMedium": channel, "AttributeName": attribute});
    Ok((msg, details))
}

pub(crate) async fn deliver(svc: &Service, pool: &UserPool, msg: &OutgoingMessage) -> Result<()> {
    let from = pool
        .setting_str(&["EmailConfiguration", "From"])
        .or_else(|| {
            pool.setting_str(&["EmailConfiguration", "SourceArn"]).and_then(|arn| arn.rsplit('/').next())
        })
        .map(str::to_string)
        .or_else(|| svc.config.default_email_from.clone());
    let started = std::time::Instant::now();
    let sent = svc.messenger.send(from.as_deref(), msg).await;
    svc.note_delivery(started.elapsed());
    sent
}

/// Checks a submitted code against the user's pending one; on success the code is removed
/// (single use), the purpose's failure count is cleared, and the caller saves the user at
/// `version`. The attempt is counted first ([`count_attempt`]).
pub(crate) async fn consume_code(
    svc: &Service,
    pool: &UserPool,
    user: &mut User,
    version: &mut u64,
    purpose: &str,
    code: &str,
) -> Result<()> {
    if !user.codes.contains_key(purpose) {
        return Err(code_mismatch());
    }
    count_attempt(svc, pool, user, version, purpose).await?;
    let pending = user.codes.get(purpose).cloned().ok_or_else(code_mismatch)?;
    let want = code_hash(svc.cipher.as_ref(), &user.username, code)?;
    if !bool::from(subtle::ConstantTimeEq::ct_eq(want.as_bytes(), pending.hash.as_bytes())) {
        return Err(code_mismatch());
    }
    if pending.expires_at <= svc.now_secs() {
        // Right but too late: the holder did receive it, so the count starts over (the code
        // stays dead; a lost race here only leaves the count as it was).
        user.codes.remove(purpose);
        clear_attempts(user, purpose);
        svc.save_user(pool, user, *version, vec![]).await.ok();
        return Err(Error::ExpiredCodeException(
            "Invalid code provided, please request a code again.".into(),
        ));
    }
    user.codes.remove(purpose);
    clear_attempts(user, purpose);
    Ok(())
}

/// Counts one attempt at a code of `purpose` on the user record *before* the code is
/// compared, or refuses it (LimitExceededException) during the purpose's lockout or when the
/// pending code of that purpose (if any) has had its [`MAX_CODE_ATTEMPTS`].
///
/// Concurrent guesses are serialised by the record's version: each checks the lockout as it
/// stands after all earlier ones, and no answer (not even a lost race) tells a right code from
/// a wrong one before the attempt was counted. The count outlives any code, so requesting a new
/// one buys no new guesses ([`code_backoff`]). On return `user` and `version` are the record
/// as saved.
pub(crate) async fn count_attempt(
    svc: &Service,
    pool: &UserPool,
    user: &mut User,
    version: &mut u64,
    purpose: &str,
) -> Result<()> {
    let key = crate::model::keys::user(&pool.id, &pool.username_key(&user.username));
    let backoff = code_backoff(svc);
    for _ in 0..20 {
        let now_ms = svc.clock.now_millis();
        let guard = user.code_guards.get(purpose).cloned().unwrap_or_default();
        let spent = user.codes.get(purpose).is_some_and(|p| p.failed_attempts >= MAX_CODE_ATTEMPTS);
        if guard.locked_until_ms > now_ms || spent {
            return Err(limit_exceeded());
        }
        let mut next = user.clone();
        if let Some(p) = next.codes.get_mut(purpose) {
            p.failed_attempts += 1;
        }
        let (failed, locked_until_ms) =
            backoff.after_failure(guard.failed, guard.last_failed_ms, guard.locked_until_ms, now_ms);
        next.code_guards.insert(
            purpose.to_string(),
            CodeGuard { failed, last_failed_ms: now_ms, locked_until_ms, ..guard },
        );
        match svc.save_user(pool, &next, *version, vec![]).await {
            Ok(()) => {
                (*user, *version) = (next, *version + 1);
                return Ok(());
            }
            Err(Error::ConcurrentModificationException(_)) => {}
            Err(e) => return Err(e),
        }
        match svc.get_json::<User>(&key, crate::model::keys::USER_SK).await? {
            Some((fresh, v)) => (*user, *version) = (fresh, v),
            None => return Err(code_mismatch()),
        }
    }
    Err(Error::ConcurrentModificationException("The user was modified by another request. Try again.".into()))
}

/// A right code proves the destination: its holder starts over (the send record stays).
pub(crate) fn clear_attempts(user: &mut User, purpose: &str) {
    if let Some(guard) = user.code_guards.get_mut(purpose) {
        *guard = CodeGuard { sent_ms: std::mem::take(&mut guard.sent_ms), ..CodeGuard::default() };
        if guard.sent_ms.is_empty() {
            user.code_guards.remove(purpose);
        }
    }
}

fn code_mismatch() -> Error {
    Error::CodeMismatchException("Invalid verification code provided, please try again.".into())
}

/// The internal username for a new user and, in pools where email or phone is the username,
/// the attribute the given name fills. There the internal username is the `sub`, as Cognito
/// makes it; alias pools keep usernames distinct from the alias formats they accept.
pub(crate) fn internal_username(
    pool: &UserPool,
    given: &str,
    sub: &str,
) -> Result<(String, Option<(&'static str, String)>)> {
    if pool.username_attributes.is_empty() {
        if pool.alias_attributes.iter().any(|a| a == "email") && is_email(given) {
            return Err(Error::invalid(
                "Username cannot be of email format, since user pool is configured for email alias.",
            ));
        }
        if pool.alias_attributes.iter().any(|a| a == "phone_number") && is_phone(given) {
            return Err(Error::invalid(
                "Username cannot be of phone number format, since user pool is configured for phone_number alias.",
            ));
        }
        return Ok((given.to_string(), None));
    }
    let allows = |a: &str| pool.username_attributes.iter().any(|x| x == a);
    if allows("email") && is_email(given) {
        Ok((sub.to_string(), Some(("email", given.to_string()))))
    } else if allows("phone_number") && is_phone(given) {
        Ok((sub.to_string(), Some(("phone_number", given.to_string()))))
    } else if allows("email") && pool.username_attributes.len() == 1 {
        Err(Error::invalid("Username should be an email."))
    } else if pool.username_attributes.len() == 1 {
        Err(Error::invalid("Username should be a phone number."))
    } else {
        Err(Error::invalid("Username should be either an email or a phone number."))
    }
}

pub async fn sign_up(svc: &Service, input: &Value) -> Result<Value> {
    let client = svc.client(input.req_str("ClientId")?).await?;
    let pool = svc.pool(&client.pool_id).await?;
    if pool
        .settings
        .get("AdminCreateUserConfig")
        .and_then(|c| c.get("AllowAdminCreateUserOnly"))
        .and_then(Value::as_bool)
        == Some(true)
    {
        return Err(Error::NotAuthorizedException("SignUp is not permitted for this user pool".into()));
    }
    let given_username = input.req_str("Username")?;
    check_secret_hash(&client, input.str_of("SecretHash"), &[given_username])?;
    let password = input.req_str("Password")?;
    let mut attributes: BTreeMap<String, String> =
        attribute_list(input, "UserAttributes").into_iter().collect();
    crate::attributes::canonicalize(&pool, attributes.iter_mut());
    crate::attributes::check_user_writes(&pool, &client, attributes.keys().map(String::as_str))?;
    let sub = svc.rng.uuid().to_string();
    let (username, username_attribute) = internal_username(&pool, given_username, &sub)?;
    if let Some((kind, value)) = username_attribute {
        attributes.insert(kind.to_string(), value);
    }
    attributes.insert("sub".into(), sub.clone());
    {
        let mut check = attributes.clone();
        check.remove("sub");
        crate::attributes::check_new_user(&pool, &check, Writer::SignUp)?;
    }
    pool.password_policy.check(password)?;
    // Fast path: refuse a taken name before paying for the hash. The conditional writes below
    // are what actually guarantee uniqueness.
    if svc.find_user(&pool, given_username).await?.is_some() {
        return Err(crate::service::username_exists(&pool));
    }
    let caller = Caller::new(Some(&client.client_id), input);
    let decided = hooks::pre_sign_up(svc, &pool, false, &username, &attributes, caller, input).await?;
    if decided.auto_verify_email {
        attributes.insert("email_verified".into(), "true".into());
    }
    if decided.auto_verify_phone {
        attributes.insert("phone_number_verified".into(), "true".into());
    }
    let (password_hash, srp) = password_secrets(svc, &pool, &username, password).await?;
    let now = svc.clock.now_millis();
    let status = if decided.auto_confirm_user { UserStatus::CONFIRMED } else { UserStatus::UNCONFIRMED };
    let mut user = User::new(username.clone(), sub.clone(), attributes, status, now);
    user.password_hash = Some(password_hash);
    user.srp = Some(srp);
    let mut delivery = if decided.auto_confirm_user {
        None
    } else {
        new_code(svc, &pool, &mut user, "signup", SIGNUP_CODE_TTL_SECS)?
    };
    if let Some((msg, _)) = &mut delivery {
        hooks::custom_message(svc, &pool, MessageSource::SignUp, &user, caller, msg).await?;
    }
    // An address PreSignUp verified becomes the user's alias, taken from any other holder
    // (who is left unverified), as Cognito does.
    let takeover = if decided.auto_verify_email || decided.auto_verify_phone {
        svc.take_aliases(&pool, &user).await?
    } else {
        Default::default()
    };
    svc.insert_user_taking(&pool, &user, takeover, vec![]).await?;
    let mut out = json!({"UserConfirmed": decided.auto_confirm_user, "UserSub": sub});
    if let Some((msg, details)) = delivery {
        deliver(svc, &pool, &msg).await?;
        out["CodeDeliveryDetails"] = details;
    }
    if decided.auto_confirm_user {
        hooks::post_confirmation(svc, &pool, false, &user, caller).await?;
    }
    Ok(out)
}

/// Marks the attribute a confirmation code went to as verified.
fn mark_verified_after_signup(pool: &UserPool, user: &mut User) {
    if let Some((_, attribute, _)) = verification_channel(pool, user) {
        user.attributes.insert(format!("{attribute}_verified"), "true".into());
    }
}

fn client_and_user_secret(client: &AppClient, input: &Value, username: &str) -> Result<()> {
    check_secret_hash(client, input.str_of("SecretHash"), &[username])
}

pub async fn confirm_sign_up(svc: &Service, input: &Value) -> Result<Value> {
    let client = svc.client(input.req_str("ClientId")?).await?;
    let pool = svc.pool(&client.pool_id).await?;
    let username = input.req_str("Username")?;
    client_and_user_secret(&client, input, username)?;
    let code = input.req_str("ConfirmationCode")?;
    let counted = client.prevent_user_existence_errors();
    let (found, seen) = super::unknown_names::find_user(svc, &pool, username, counted).await?;
    let Some((mut user, mut version)) = found else {
        if counted {
            super::unknown_names::record_code_guess(svc, &pool, username, "signup", seen).await?;
        }
        return Err(unknown_user_for_code(&client));
    };
    if user.status != UserStatus::UNCONFIRMED {
        return Err(Error::NotAuthorizedException(format!(
            "User cannot be confirmed. Current status is {}",
            user.status.as_str()
        )));
    }
    consume_code(svc, &pool, &mut user, &mut version, "signup", code).await?;
    mark_verified_after_signup(&pool, &mut user);
    user.status = UserStatus::CONFIRMED;
    user.modified = svc.clock.now_millis();
    let takeover = if input.bool_of("ForceAliasCreation") == Some(true) {
        svc.take_aliases(&pool, &user).await?
    } else {
        Default::default()
    };
    svc.save_user_taking(&pool, &user, version, takeover, vec![]).await?;
    hooks::post_confirmation(svc, &pool, false, &user, Caller::new(Some(&client.client_id), input)).await?;
    Ok(json!({}))
}

/// What ConfirmSignUp tells about a user who does not exist: with PreventUserExistenceErrors,
/// the answer a wrong code gets.
fn unknown_user_for_code(client: &AppClient) -> Error {
    if client.prevent_user_existence_errors() {
        Error::CodeMismatchException("Invalid verification code provided, please try again.".into())
    } else {
        Error::UserNotFoundException("User does not exist.".into())
    }
}

pub async fn resend_confirmation_code(svc: &Service, input: &Value) -> Result<Value> {
    let client = svc.client(input.req_str("ClientId")?).await?;
    let pool = svc.pool(&client.pool_id).await?;
    let username = input.req_str("Username")?;
    client_and_user_secret(&client, input, username)?;
    let counted = client.prevent_user_existence_errors();
    let (found, seen) = super::unknown_names::find_user(svc, &pool, username, counted).await?;
    let Some((mut user, version)) = found else {
        if counted {
            // A simulated delivery, as for a user who exists: the same quota, the same store
            // write, and as long as a delivery takes.
            super::unknown_names::record_send(svc, &pool, username, "signup", seen).await?;
            svc.pad_like_delivery().await;
            return Ok(json!({"CodeDeliveryDetails": super::passwords::simulated_delivery(&pool, username)}));
        }
        return Err(Error::UserNotFoundException("User does not exist.".into()));
    };
    if user.status != UserStatus::UNCONFIRMED {
        return Err(Error::invalid("User is already confirmed."));
    }
    let Some((mut msg, details)) = new_code(svc, &pool, &mut user, "signup", SIGNUP_CODE_TTL_SECS)? else {
        return Err(Error::invalid("Cannot resend codes. Auto verification not turned on."));
    };
    let caller = Caller::new(Some(&client.client_id), input);
    hooks::custom_message(svc, &pool, MessageSource::ResendCode, &user, caller, &mut msg).await?;
    svc.save_user(&pool, &user, version, vec![]).await?;
    deliver(svc, &pool, &msg).await?;
    Ok(json!({"CodeDeliveryDetails": details}))
}

pub async fn admin_confirm_sign_up(svc: &Service, input: &Value) -> Result<Value> {
    let pool = svc.pool(input.req_str("UserPoolId")?).await?;
    let (mut user, version) = svc.require_user(&pool, input.req_str("Username")?).await?;
    if user.status != UserStatus::UNCONFIRMED {
        return Err(Error::NotAuthorizedException(format!(
            "User cannot be confirmed. Current status is {}",
            user.status.as_str()
        )));
    }
    user.status = UserStatus::CONFIRMED;
    user.codes.remove("signup");
    user.modified = svc.clock.now_millis();
    svc.save_user(&pool, &user, version, vec![]).await?;
    hooks::post_confirmation(svc, &pool, false, &user, Caller::new(None, input)).await?;
    Ok(json!({}))
}

pub async fn admin_get_user(svc: &Service, input: &Value) -> Result<Value> {
    let pool = svc.pool(input.req_str("UserPoolId")?).await?;
    let (user, _) = svc.require_user(&pool, input.req_str("Username")?).await?;
    let mut out = json!({
        "Username": user.username,
        "UserAttributes": user.attributes_json(),
        "UserCreateDate": user.created as f64 / 1000.0,
        "UserLastModifiedDate": user.modified as f64 / 1000.0,
        "Enabled": user.enabled,
        "UserStatus": user.status.as_str(),
    });
    if let Some(o) = out.as_object_mut() {
        o.extend(super::mfa::user_mfa_json(&user));
    }
    Ok(out)
}

pub async fn get_user(svc: &Service, ctx: &crate::service::CallContext, input: &Value) -> Result<Value> {
    let session = super::auth::authorize_access_token(svc, ctx, input.req_str("AccessToken")?).await?;
    let client = super::attributes::token_client(svc, &session).await?;
    let mut out = json!({
        "Username": session.user.username,
        "UserAttributes": crate::attributes::readable_json(&client, &session.user.attributes),
    });
    if let Some(o) = out.as_object_mut() {
        o.extend(super::mfa::user_mfa_json(&session.user));
    }
    Ok(out)
}

pub async fn admin_delete_user(svc: &Service, input: &Value) -> Result<Value> {
    let pool = svc.pool(input.req_str("UserPoolId")?).await?;
    let (user, version) = svc.require_user(&pool, input.req_str("Username")?).await?;
    delete_user_record(svc, &pool, &user, version).await?;
    Ok(json!({}))
}

/// Removes a user with everything pointing at it, in one transaction.
pub async fn delete_user_record(svc: &Service, pool: &UserPool, user: &User, version: u64) -> Result<()> {
    let key = pool.username_key(&user.username);
    let writes = svc.delete_user_writes(pool, user, Some(version));
    let (writes, mut later) = super::groups::with_membership_deletes(svc, pool, &key, writes).await?;
    // Devices go once the user is gone; leftovers carry the old `sub` and attach to no one.
    later.extend(super::devices::device_delete_batches(svc, pool, &user.username).await?);
    match svc.store.transact(writes, svc.now_secs()).await {
        Ok(()) => super::groups::apply_batches(svc, later).await,
        Err(StoreError::ConditionFailed { .. }) => Err(Error::ConcurrentModificationException(
            "The user was modified by another request. Try again.".into(),
        )),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_like_cognito() {
        assert_eq!(mask("EMAIL", "jane@example.com"), "j***@e***");
        assert_eq!(mask("SMS", "+15555550100"), "+*******0100");
    }
}
