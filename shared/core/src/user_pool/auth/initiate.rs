//! InitiateAuth and AdminInitiateAuth: the flow's first step. USER_PASSWORD_AUTH and
//! ADMIN_USER_PASSWORD_AUTH are here (with UserMigration for unknown names and the upgrade of
//! imported hashes); USER_SRP_AUTH, CUSTOM_AUTH and REFRESH_TOKEN_AUTH start in their own files.

use super::flow::{after_password, check_device_key, dummy_hash, pool_mismatch};
use super::machine::{AuthFlow, AuthState, UserFacts};
use super::parameters;
use super::session::Progress;
use super::sign_in::{Initiation, SignIn, Via};
use super::{custom, refresh, srp};
use crate::error::{Error, Result};
use crate::input::Input;
use crate::model::{AppClient, User, UserPool, UserStatus};
use crate::service::{CallContext, Service};
use crate::user_pool::access::check_secret_hash;
use crate::user_pool::lockout::record_sign_in_attempt;
use crate::user_pool::triggers::auth::pre_authentication;
use crate::user_pool::triggers::lifecycle::{migrate_user, Migration};
use serde_json::Value;

pub async fn initiate_auth(svc: &Service, ctx: &CallContext, input: &Value) -> Result<Value> {
    let client = svc.client(input.req_str("ClientId")?).await?;
    let flow = AuthFlow::parse(input.req_str("AuthFlow")?)?;
    if flow == AuthFlow::AdminUserPassword {
        return Err(Error::invalid("Initiate Auth method not supported."));
    }
    start(svc, ctx, &client, flow, input, Via::InitiateAuth).await
}

pub async fn admin_initiate_auth(svc: &Service, ctx: &CallContext, input: &Value) -> Result<Value> {
    let pool_id = input.req_str("UserPoolId")?;
    let client = svc.client(input.req_str("ClientId")?).await?;
    if client.pool_id != pool_id {
        return Err(pool_mismatch(&client));
    }
    let flow = AuthFlow::parse(input.req_str("AuthFlow")?)?;
    if flow == AuthFlow::UserPassword {
        return Err(Error::invalid("Initiate Auth method not supported."));
    }
    start(svc, ctx, &client, flow, input, Via::AdminInitiateAuth).await
}

async fn start(
    svc: &Service,
    ctx: &CallContext,
    client: &AppClient,
    flow: AuthFlow,
    input: &Value,
    via: Via,
) -> Result<Value> {
    if !client.allows_flow(flow.client_setting()) {
        return Err(flow.not_enabled());
    }
    let pool = svc.pool(&client.pool_id).await?;
    let s = SignIn::starting(svc, ctx, client, pool);
    let req = Initiation { params: parameters::read(input, "AuthParameters")?, input, via };
    match flow {
        AuthFlow::UserPassword | AuthFlow::AdminUserPassword => password_sign_in(&s, &req).await,
        AuthFlow::UserSrp => srp::start_user_srp(&s, &req).await,
        AuthFlow::RefreshToken => refresh::refresh_token_auth(&s, &req.params).await,
        AuthFlow::Custom => custom::start_custom(&s, &req).await,
        AuthFlow::User => Err(Error::invalid(format!(
            "{} is not supported by this Tessera version yet; use USER_SRP_AUTH, USER_PASSWORD_AUTH, ADMIN_USER_PASSWORD_AUTH or CUSTOM_AUTH.",
            input.str_of("AuthFlow").unwrap_or_default()
        ))),
    }
}

/// USER_PASSWORD_AUTH and ADMIN_USER_PASSWORD_AUTH (and the hosted sign-in page).
pub(crate) async fn password_sign_in(s: &SignIn<'_>, req: &Initiation<'_>) -> Result<Value> {
    let (svc, pool, client, params) = (s.svc, &*s.pool, s.client, &req.params);
    let username = params.username()?;
    let password = params.password()?.to_string();
    check_secret_hash(client, params.secret_hash.as_deref(), &[username])?;
    // A name the pool does not hold has its own failure count (see `unknown_names`).
    let counted = crate::user_pool::unknown_names::counted(pool, client.prevent_user_existence_errors());
    let (found, seen) = crate::user_pool::unknown_names::find_user(svc, pool, username, counted).await?;
    let found = match found {
        Some(found) => Some((found, false)),
        None => {
            if seen.as_ref().is_some_and(|r| r.locked(svc.clock.now_millis())) {
                return Err(Error::not_authorized("Password attempts exceeded"));
            }
            match migrate_on_sign_in(s, req, username, &password).await {
                Ok(Some(Migration::Created(u, v))) => Some(((u, v), true)),
                Ok(Some(Migration::Existing(u, v))) => Some(((u, v), false)),
                Ok(None) => None,
                Err(e) => {
                    if refused_by_function(&e) {
                        crate::user_pool::unknown_names::record_failure(svc, pool, username, seen).await?;
                    }
                    return Err(e);
                }
            }
        }
    };
    let hash_params = svc.config.hash_params;
    let Some(((user, version), migrated)) = found else {
        // Same work as a real check, so timing does not reveal whether the user exists.
        let dummy = dummy_hash(svc).await?;
        svc.cpu(move || hash_params.verify(&password, &dummy)).await?;
        if counted {
            crate::user_pool::unknown_names::record_failure(svc, pool, username, seen).await?;
        }
        return Err(if client.prevent_user_existence_errors() {
            Error::not_authorized("Incorrect username or password.")
        } else {
            Error::UserNotFoundException("User does not exist.".into())
        });
    };
    // Before anything about the password is known. A sign-in the function refuses is not an
    // attempt: it neither counts toward the lockout nor clears the count.
    let progress = Progress::for_sign_in(params, req.via, svc.clock.now_millis());
    pre_authentication(svc, pool, &user, &req.caller(s)).await?;
    let mut facts = UserFacts::of(&user, svc.clock.now_millis());
    // Attempts during a lockout are refused unchecked and do not count. A user migrated just
    // now was vouched for by the pool's function, with this password.
    let (user, correct) = if migrated {
        (user, true)
    } else if facts.locked {
        (user, false)
    } else if user.password_hash.is_none()
        && user.status == crate::model::UserStatus::RESET_REQUIRED
        && crate::triggers::Trigger::UserMigration.configured(pool)
    {
        // Imported without a password: the pool's migration function vouches for it once.
        let (user, version, correct) = match crate::user_pool::triggers::lifecycle::migrate_password(
            svc,
            pool,
            username,
            user.clone(),
            version,
            &password,
            req.caller(s),
        )
        .await
        {
            Err(e) if refused_by_function(&e) => {
                tracing::info!(error = %e.name(), "password migration refused");
                (user, version, false)
            }
            other => other?,
        };
        facts = UserFacts::of(&user, svc.clock.now_millis());
        facts.locked = record_sign_in_attempt(svc, pool, user.clone(), version, correct).await?;
        (user, correct)
    } else {
        let (user, version, correct) = check_password(svc, pool, user, version, password).await?;
        // Attempts in flight together: one that a lockout overtook while it hashed is refused.
        facts.locked = record_sign_in_attempt(svc, pool, user.clone(), version, correct).await?;
        (user, correct)
    };
    // A device key this user does not have (forgotten, or of another pool): a new device. The
    // SDKs' plaintext-password path has no retry without the key.
    let progress = if correct { check_device_key(s, &user, progress, false).await? } else { progress };
    after_password(s, user, facts, AuthState::PasswordChecked { correct }, progress).await
}

/// UserMigration_Authentication for a name the pool does not know. With
/// PreventUserExistenceErrors any refusal reads like a wrong password.
async fn migrate_on_sign_in(
    s: &SignIn<'_>,
    req: &Initiation<'_>,
    username: &str,
    password: &str,
) -> Result<Option<Migration>> {
    match migrate_user(s.svc, &s.pool, username, Some(password), req.caller(s)).await {
        Err(e) if s.client.prevent_user_existence_errors() => {
            tracing::info!(error = %e.name(), "user migration refused (answered as a wrong password)");
            Err(Error::not_authorized("Incorrect username or password."))
        }
        other => other,
    }
}

/// A UserMigration answer that refused the name or password (as opposed to a function that
/// could not be reached): it counts as a failed sign-in.
fn refused_by_function(e: &Error) -> bool {
    matches!(
        e,
        Error::NotAuthorizedException(_)
            | Error::UserLambdaValidationException(_)
            | Error::UserNotFoundException(_)
    )
}

/// Checks the password. A user imported without a password (RESET_REQUIRED) has none to check:
/// the step says PasswordResetRequiredException. A hash imported from another system (see
/// `password::legacy`) is verified with its own scheme and, when it matches, replaced by our
/// argon2id hash and an SRP verifier before the sign-in goes on.
async fn check_password(
    svc: &Service,
    pool: &UserPool,
    mut user: User,
    version: u64,
    password: String,
) -> Result<(User, u64, bool)> {
    let hash_params = svc.config.hash_params;
    let Some(stored) = user.password_hash.clone() else {
        let dummy = dummy_hash(svc).await?;
        svc.cpu(move || hash_params.verify(&password, &dummy)).await?;
        let reset = user.status == UserStatus::RESET_REQUIRED;
        return Ok((user, version, reset));
    };
    if stored.starts_with("$argon2id$") && user.srp.is_some() {
        let correct = svc.cpu(move || hash_params.verify(&password, &stored)).await?;
        return Ok((user, version, correct));
    }
    let pw = password.clone();
    if !svc.cpu(move || crate::password::legacy::verify(&pw, &stored)).await? {
        return Ok((user, version, false));
    }
    let (hash, srp) =
        crate::user_pool::secrets::password_secrets(svc, pool, &user.username, &password).await?;
    user.password_hash = Some(hash);
    user.srp = Some(srp);
    user.modified = svc.clock.now_millis();
    svc.save_user(pool, &user, version, vec![]).await?;
    Ok((user, version + 1, true))
}
