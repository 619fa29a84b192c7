//! SignUp, ConfirmSignUp, ResendConfirmationCode.

use crate::attribute_rules::Writer;
use crate::error::{Error, Result};
use crate::input::{attribute_list, Input};
use crate::model::{AppClient, User, UserPool, UserStatus};
use crate::service::Service;
use crate::triggers::Caller;
use crate::user_pool::access::check_secret_hash;
use crate::user_pool::codes::consume_code;
use crate::user_pool::codes::new_code;
use crate::user_pool::delivery::deliver;
use crate::user_pool::delivery::verification_channel;
use crate::user_pool::secrets::password_secrets;
use crate::user_pool::triggers::lifecycle::{self as hooks, MessageSource};
use crate::user_pool::users::records::internal_username;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// Sign-up codes live 24 hours.
const SIGNUP_CODE_TTL_SECS: i64 = 24 * 3600;

pub async fn sign_up(svc: &Service, input: &Value) -> Result<Value> {
    let client = svc.client(input.req_str("ClientId")?).await?;
    let pool = svc.pool(&client.pool_id).await?;
    if pool.settings.admin_create_user_config.as_ref().and_then(|c| c.allow_admin_create_user_only)
        == Some(true)
    {
        return Err(Error::NotAuthorizedException("SignUp is not permitted for this user pool".into()));
    }
    let given_username = input.req_str("Username")?;
    check_secret_hash(&client, input.str_of("SecretHash"), &[given_username])?;
    let password = input.req_str("Password")?;
    let mut attributes: BTreeMap<String, String> =
        attribute_list(input, "UserAttributes").into_iter().collect();
    crate::attribute_rules::canonicalize(&pool, attributes.iter_mut());
    crate::attribute_rules::check_user_writes(&pool, &client, attributes.keys().map(String::as_str))?;
    let sub = svc.rng.uuid().to_string();
    let (username, username_attribute) = internal_username(&pool, given_username, &sub)?;
    if let Some((kind, value)) = username_attribute {
        attributes.insert(kind.to_string(), value);
    }
    attributes.insert("sub".into(), sub.clone());
    {
        let mut check = attributes.clone();
        check.remove("sub");
        crate::attribute_rules::check_new_user(&pool, &check, Writer::SignUp)?;
    }
    pool.password_policy.check(password)?;
    // Fast path: refuse a taken name before paying for the hash. The conditional writes below
    // are what actually guarantee uniqueness.
    if svc.find_user(&pool, given_username).await?.is_some() {
        return Err(crate::service::users::username_exists(&pool));
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
    let (found, seen) = crate::user_pool::unknown_names::find_user(svc, &pool, username, counted).await?;
    let Some((mut user, mut version)) = found else {
        if counted {
            crate::user_pool::unknown_names::record_code_guess(svc, &pool, username, "signup", seen).await?;
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
    let (found, seen) = crate::user_pool::unknown_names::find_user(svc, &pool, username, counted).await?;
    let Some((mut user, version)) = found else {
        if counted {
            // A simulated delivery, as for a user who exists: the same quota, the same store
            // write, and as long as a delivery takes.
            crate::user_pool::unknown_names::record_send(svc, &pool, username, "signup", seen).await?;
            svc.pad_like_delivery().await;
            return Ok(
                json!({"CodeDeliveryDetails": crate::user_pool::delivery::simulated_delivery(&pool, username)}),
            );
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
