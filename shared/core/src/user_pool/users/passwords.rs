//! ForgotPassword, ConfirmForgotPassword, ChangePassword, AdminSetUserPassword,
//! AdminResetUserPassword; and what they tell about users who do not exist.

use crate::error::{Error, Result};
use crate::input::Input;
use crate::model::{AppClient, PasswordState, User, UserPool, UserStatus};
use crate::service::{CallContext, Service};
use crate::triggers::Caller;
use crate::user_pool::access::authorize_access_token;
use crate::user_pool::access::check_secret_hash;
use crate::user_pool::codes::{consume_code, new_code_to};
use crate::user_pool::delivery::no_recovery_channel;
use crate::user_pool::delivery::recovery_channel;
use crate::user_pool::delivery::simulated_delivery;
use crate::user_pool::delivery::{deliver, Sender};
use crate::user_pool::lockout::record_sign_in_attempt;
use crate::user_pool::secrets::check_password_history;
use crate::user_pool::secrets::password_secrets;
use crate::user_pool::secrets::remember_password;
use crate::user_pool::secrets::temporary_password_expiry;
use crate::user_pool::triggers::lifecycle::{self as hooks, MessageSource};
use serde_json::{json, Value};

/// Password-reset codes (ForgotPassword, AdminResetUserPassword) live one hour.
const RESET_CODE_TTL_SECS: i64 = 3600;
/// The code purpose shared by ForgotPassword and AdminResetUserPassword.
const RESET_PURPOSE: &str = "forgot";

fn user_not_found() -> Error {
    Error::UserNotFoundException("Username/client id combination not found.".into())
}

fn code_mismatch() -> Error {
    Error::CodeMismatchException("Invalid verification code provided, please try again.".into())
}

/// Sets a new password (hash and SRP verifier) and clears the temporary-password clock and the
/// failed sign-in counters, after the pool's password-history check. The caller sets the
/// status and saves.
async fn set_password(svc: &Service, pool: &UserPool, user: &mut User, password: &str) -> Result<()> {
    check_password_history(svc, pool, user, password).await?;
    let (hash, srp) = password_secrets(svc, pool, &user.username, password).await?;
    remember_password(pool, user);
    user.password_hash = Some(hash);
    user.srp = Some(srp);
    user.password_state = PasswordState::default();
    user.modified = svc.clock.now_millis();
    Ok(())
}

async fn public_client(
    svc: &Service,
    input: &Value,
) -> Result<(std::sync::Arc<AppClient>, std::sync::Arc<UserPool>)> {
    let client = svc.client(input.req_str("ClientId")?).await?;
    let pool = svc.pool(&client.pool_id).await?;
    Ok((client, pool))
}

pub async fn forgot_password(svc: &Service, input: &Value) -> Result<Value> {
    let (client, pool) = public_client(svc, input).await?;
    let username = input.req_str("Username")?;
    check_secret_hash(&client, input.str_of("SecretHash"), &[username])?;
    let caller = Caller::new(Some(&client.client_id), input);
    let counted = client.prevent_user_existence_errors();
    let (found, seen) = crate::user_pool::unknown_names::find_user(svc, &pool, username, counted).await?;
    let found = match found {
        Some(found) => Some(found),
        // UserMigration_ForgotPassword: the function may know the user.
        None => match hooks::migrate_user(svc, &pool, username, None, caller).await {
            Ok(found) => found.map(hooks::Migration::into_user),
            // Any refusal would tell that the name is unknown here.
            Err(e) if client.prevent_user_existence_errors() => {
                tracing::info!(error = %e.name(), "user migration refused (answered as for an unknown user)");
                None
            }
            Err(e) => return Err(e),
        },
    };
    let Some((mut user, version)) = found else {
        if !client.prevent_user_existence_errors() {
            return Err(user_not_found());
        }
        // As for a user who exists: the same send quota, the same store write, and as long as
        // a delivery takes.
        crate::user_pool::unknown_names::record_send(svc, &pool, username, RESET_PURPOSE, seen).await?;
        svc.pad_like_delivery().await;
        return Ok(json!({"CodeDeliveryDetails": simulated_delivery(&pool, username)}));
    };
    if !user.enabled {
        return Err(Error::not_authorized("User is disabled."));
    }
    if user.status == UserStatus::FORCE_CHANGE_PASSWORD {
        return Err(Error::not_authorized("User password cannot be reset in the current state."));
    }
    let channel = recovery_channel(&pool, &user).ok_or_else(no_recovery_channel)?;
    let (mut msg, details) =
        new_code_to(svc, &pool, &mut user, RESET_PURPOSE, RESET_CODE_TTL_SECS, channel, Sender::User)?;
    hooks::custom_message(svc, &pool, MessageSource::ForgotPassword, &user, caller, &mut msg).await?;
    svc.save_user(&pool, &user, version, vec![]).await?;
    deliver(svc, &pool, &msg).await?;
    Ok(json!({"CodeDeliveryDetails": details}))
}

pub async fn confirm_forgot_password(svc: &Service, input: &Value) -> Result<Value> {
    let (client, pool) = public_client(svc, input).await?;
    let username = input.req_str("Username")?;
    check_secret_hash(&client, input.str_of("SecretHash"), &[username])?;
    let code = input.req_str("ConfirmationCode")?;
    let password = input.req_str("Password")?;
    // The policy first, so a rejected password does not use up the code, and answers the same
    // whether or not the user exists.
    pool.password_policy.check(password)?;
    let counted = client.prevent_user_existence_errors();
    let (found, seen) = crate::user_pool::unknown_names::find_user(svc, &pool, username, counted).await?;
    let Some((mut user, mut version)) = found else {
        if !counted {
            return Err(user_not_found());
        }
        // A wrong code for a real user is counted (a write, no hash) and refused after as many.
        crate::user_pool::unknown_names::record_code_guess(svc, &pool, username, RESET_PURPOSE, seen).await?;
        return Err(code_mismatch());
    };
    if !user.enabled {
        return Err(Error::not_authorized("User is disabled."));
    }
    consume_code(svc, &pool, &mut user, &mut version, RESET_PURPOSE, code).await?;
    set_password(svc, &pool, &mut user, password).await?;
    sign_out_if_configured(svc, &mut user);
    if matches!(user.status, UserStatus::RESET_REQUIRED | UserStatus::FORCE_CHANGE_PASSWORD) {
        user.status = UserStatus::CONFIRMED;
    }
    svc.save_user(&pool, &user, version, vec![]).await?;
    hooks::post_confirmation(svc, &pool, true, &user, Caller::new(Some(&client.client_id), input)).await?;
    Ok(json!({}))
}

pub async fn change_password(svc: &Service, ctx: &CallContext, input: &Value) -> Result<Value> {
    let mut session = authorize_access_token(svc, ctx, input.req_str("AccessToken")?).await?;
    let previous = input.req_str("PreviousPassword")?.to_string();
    let proposed = input.req_str("ProposedPassword")?;
    // Wrong previous passwords count toward the same lockout as failed sign-ins.
    if session.user.password_state.locked_until_ms > svc.clock.now_millis() {
        return Err(Error::LimitExceededException(
            "Attempt limit exceeded, please try after some time.".into(),
        ));
    }
    let stored = session.user.password_hash.clone().unwrap_or_default();
    let params = svc.config.hash_params;
    let correct = svc.cpu(move || params.verify(&previous, &stored)).await?;
    if !correct {
        record_sign_in_attempt(svc, &session.pool, session.user.clone(), session.version, false).await?;
        return Err(Error::not_authorized("Incorrect username or password."));
    }
    session.pool.password_policy.check(proposed)?;
    let pool = session.pool.clone();
    set_password(svc, &pool, &mut session.user, proposed).await?;
    svc.save_user(&pool, &session.user, session.version, vec![]).await?;
    Ok(json!({}))
}

pub async fn admin_set_user_password(svc: &Service, input: &Value) -> Result<Value> {
    let pool = svc.pool(input.req_str("UserPoolId")?).await?;
    let (mut user, version) = svc.require_user(&pool, input.req_str("Username")?).await?;
    let password = input.req_str("Password")?;
    pool.password_policy.check(password)?;
    set_password(svc, &pool, &mut user, password).await?;
    sign_out_if_configured(svc, &mut user);
    if input.bool_of("Permanent") == Some(true) {
        user.status = UserStatus::CONFIRMED;
    } else {
        user.status = UserStatus::FORCE_CHANGE_PASSWORD;
        user.password_state.temporary_expires_at = Some(temporary_password_expiry(svc, &pool));
    }
    user.codes.remove(RESET_PURPOSE);
    svc.save_user(&pool, &user, version, vec![]).await?;
    Ok(json!({}))
}

pub async fn admin_reset_user_password(svc: &Service, input: &Value) -> Result<Value> {
    let pool = svc.pool(input.req_str("UserPoolId")?).await?;
    let (mut user, version) = svc.require_user(&pool, input.req_str("Username")?).await?;
    if !matches!(user.status, UserStatus::CONFIRMED | UserStatus::RESET_REQUIRED) {
        return Err(Error::not_authorized("User password cannot be reset in the current state."));
    }
    let channel = recovery_channel(&pool, &user).ok_or_else(no_recovery_channel)?;
    let (mut msg, _) =
        new_code_to(svc, &pool, &mut user, RESET_PURPOSE, RESET_CODE_TTL_SECS, channel, Sender::Admin)?;
    hooks::custom_message(
        svc,
        &pool,
        MessageSource::ForgotPassword,
        &user,
        Caller::new(None, input),
        &mut msg,
    )
    .await?;
    // The current password stops working: sign-in now answers PasswordResetRequiredException.
    user.status = UserStatus::RESET_REQUIRED;
    sign_out_if_configured(svc, &mut user);
    user.modified = svc.clock.now_millis();
    svc.save_user(&pool, &user, version, vec![]).await?;
    deliver(svc, &pool, &msg).await?;
    Ok(json!({}))
}

/// With `sign_out_on_password_reset`, every session the user has ends (see GlobalSignOut).
fn sign_out_if_configured(svc: &Service, user: &mut User) {
    if svc.config.sign_out_on_password_reset {
        user.signed_out_at_ms = svc.clock.now_millis();
    }
}
