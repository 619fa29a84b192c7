//! Software tokens (TOTP): AssociateSoftwareToken, VerifySoftwareToken, with an access token
//! or with the Session of an MFA_SETUP challenge.

use crate::error::{Error, Result};
use crate::input::Input;
use crate::model::{keys, MfaMethod, User, UserPool};
use crate::retry::{retry_on_conflict, Attempt};
use crate::service::{CallContext, Service};
use crate::store::Write;
use crate::user_pool::access::authorize_access_token;
use crate::user_pool::auth::machine::ChallengeName;
use crate::user_pool::auth::session::{
    invalid_session, store_challenge_session, take_any_challenge_session, ChallengeSession, Pending,
};
use crate::user_pool::mfa::factors::mfa_need;
use crate::user_pool::mfa::factors::pool_software_token_mfa;
use crate::user_pool::mfa::factors::MfaNeed;
use crate::user_pool::mfa::totp::open_secret;
use crate::user_pool::mfa::totp::seal_secret;
use crate::user_pool::mfa::totp::totp_matching_step;
use crate::user_pool::mfa::totp::SOFTWARE_TOKEN_SECRET_BYTES;
use serde_json::{json, Value};

/// Wrong codes a pending software token takes before it is discarded (a new
/// AssociateSoftwareToken starts over).
const MAX_SOFTWARE_TOKEN_ATTEMPTS: u32 = 5;

/// How a software-token call is authorised: exactly one of the two.
enum Authority<'a> {
    AccessToken(&'a str),
    Session(&'a str),
}

fn authority(input: &Value) -> Result<Authority<'_>> {
    match (input.str_of("AccessToken"), input.str_of("Session")) {
        (Some(token), None) => Ok(Authority::AccessToken(token)),
        (None, Some(session)) => Ok(Authority::Session(session)),
        _ => Err(Error::invalid("Exactly one of AccessToken and Session must be provided.")),
    }
}

fn software_token_not_enabled() -> Error {
    Error::SoftwareTokenMFANotFoundException("Software Token MFA has not been enabled by the userPool".into())
}

/// A live MFA_SETUP challenge session (consumed by `consume`), with its pool, client and user.
struct SetupSession {
    session: ChallengeSession,
    consume: Write,
    pool: std::sync::Arc<UserPool>,
    client: std::sync::Arc<crate::model::AppClient>,
    user: User,
    version: u64,
}

async fn setup_session(svc: &Service, token: &str) -> Result<SetupSession> {
    let (session, consume) = take_any_challenge_session(svc, token).await?;
    if session.challenge() != ChallengeName::MfaSetup {
        return Err(invalid_session());
    }
    let pool = svc.pool(&session.pool_id).await.map_err(|_| invalid_session())?;
    let client = svc.pool_client(&pool.id, &session.client_id).await.map_err(|_| invalid_session())?;
    let (user, version) = svc.load_user_named(&pool, &session.username).await?.ok_or_else(invalid_session)?;
    // The session's own user, who still has MFA to set up (or has just verified a token with
    // this session): a session outliving the need never replaces a token set up since.
    let verified = session.pending == (Pending::MfaSetup { software_token_verified: true });
    if (!session.sub.is_empty() && user.sub != session.sub)
        || !user.enabled
        || (!verified && mfa_need(&pool, &user) != MfaNeed::Setup)
    {
        return Err(invalid_session());
    }
    Ok(SetupSession { session, consume, pool, client, user, version })
}

/// A new secret as the user's pending token; returns its SecretCode (base32, no padding).
fn associate(svc: &Service, user: &mut User) -> Result<String> {
    let bytes = svc.rng.bytes(SOFTWARE_TOKEN_SECRET_BYTES);
    let secret_code = totp_rs::Secret::new(bytes.clone().into_boxed_slice()).to_base32();
    user.mfa.pending_software_token = Some(seal_secret(svc, &bytes)?);
    user.mfa.pending_failed_attempts = 0;
    Ok(secret_code)
}

/// Hands out a new TOTP secret. A verified token stays in use until the new one is verified.
/// With a Session (an MFA_SETUP challenge) the session is used up and a new one returned.
pub async fn associate_software_token(svc: &Service, ctx: &CallContext, input: &Value) -> Result<Value> {
    match authority(input)? {
        Authority::AccessToken(token) => {
            let session = authorize_access_token(svc, ctx, token).await?;
            if !pool_software_token_mfa(&session.pool) {
                return Err(software_token_not_enabled());
            }
            let mut user = session.user;
            let secret_code = associate(svc, &mut user)?;
            svc.save_user(&session.pool, &user, session.version, vec![]).await?;
            Ok(json!({"SecretCode": secret_code}))
        }
        Authority::Session(token) => {
            let s = setup_session(svc, token).await?;
            if !pool_software_token_mfa(&s.pool) {
                return Err(software_token_not_enabled());
            }
            let mut user = s.user;
            let secret_code = associate(svc, &mut user)?;
            svc.save_user(&s.pool, &user, s.version, vec![s.consume]).await?;
            let next = store_challenge_session(svc, &s.client, &s.session).await?;
            Ok(json!({"SecretCode": secret_code, "Session": next}))
        }
    }
}

fn wrong_software_token_code() -> Error {
    Error::EnableSoftwareTokenMFAException("Code mismatch and fail enable Software Token MFA".into())
}

/// Checks `code` against the pending token. A right code makes it the user's verified token
/// (the caller saves). A wrong one is counted and saved here; the fifth discards the pending
/// token.
async fn verify_pending(
    svc: &Service,
    pool: &UserPool,
    user: &mut User,
    version: u64,
    code: &str,
    device_name: Option<&str>,
) -> Result<()> {
    let Some(sealed) = user.mfa.pending_software_token.clone() else {
        return Err(Error::EnableSoftwareTokenMFAException(
            "No software token is waiting for verification: call AssociateSoftwareToken first.".into(),
        ));
    };
    let secret = open_secret(svc, &sealed)?;
    let Some(step) = totp_matching_step(&secret, code, svc.now_secs(), None) else {
        count_wrong_code(svc, pool, user.clone(), version, &sealed).await?;
        return Err(wrong_software_token_code());
    };
    user.mfa.software_token = Some(sealed);
    user.mfa.pending_software_token = None;
    user.mfa.pending_failed_attempts = 0;
    // The code just used cannot sign in again.
    user.mfa.last_totp_step = Some(step);
    user.mfa.friendly_device_name = device_name.map(str::to_string);
    user.modified = svc.clock.now_millis();
    Ok(())
}

/// Counts a wrong code against the pending token, re-reading on a concurrent change so that
/// guesses sent together are all counted.
async fn count_wrong_code(
    svc: &Service,
    pool: &UserPool,
    user: User,
    version: u64,
    sealed: &str,
) -> Result<()> {
    let key = &keys::user(&pool.id, &pool.username_key(&user.username));
    // The first try counts on the caller's record; a lost race reads it again.
    let seed = &std::sync::Mutex::new(Some((user, version)));
    let counted = retry_on_conflict(10, || async move {
        let taken = seed.lock().ok().and_then(|mut s| s.take());
        let (mut user, version) = match taken {
            Some(seeded) => seeded,
            None => match svc.get_json::<User>(key, keys::USER_SK).await? {
                Some(fresh) => fresh,
                None => return Ok(Attempt::Done(())),
            },
        };
        if user.mfa.pending_software_token.as_deref() != Some(sealed) {
            // Replaced or verified meanwhile: nothing left to count against.
            return Ok(Attempt::Done(()));
        }
        user.mfa.pending_failed_attempts += 1;
        if user.mfa.pending_failed_attempts >= MAX_SOFTWARE_TOKEN_ATTEMPTS {
            user.mfa.pending_software_token = None;
            user.mfa.pending_failed_attempts = 0;
        }
        Attempt::of_save(svc.save_user(pool, &user, version, vec![]).await, ())
    });
    counted.await?.ok_or_else(|| {
        Error::ConcurrentModificationException("The user was modified by another request. Try again.".into())
    })
}

/// Verifies the pending token with a code from the authenticator. With an access token the
/// token is then configured but not enabled (the app enables it with SetUserMFAPreference, as
/// Cognito's own samples do); with a Session (MFA_SETUP during sign-in) it also becomes the
/// user's enabled and preferred method, the session is used up, and the new one it returns
/// carries `"software_token_verified": true` for RespondToAuthChallenge(MFA_SETUP).
pub async fn verify_software_token(svc: &Service, ctx: &CallContext, input: &Value) -> Result<Value> {
    let authority = authority(input)?;
    let code = input.req_str("UserCode")?;
    let device_name = input.str_of("FriendlyDeviceName");
    match authority {
        Authority::AccessToken(token) => {
            let session = authorize_access_token(svc, ctx, token).await?;
            if !pool_software_token_mfa(&session.pool) {
                return Err(software_token_not_enabled());
            }
            let mut user = session.user;
            verify_pending(svc, &session.pool, &mut user, session.version, code, device_name).await?;
            svc.save_user(&session.pool, &user, session.version, vec![]).await?;
            Ok(json!({"Status": "SUCCESS"}))
        }
        Authority::Session(token) => {
            let s = setup_session(svc, token).await?;
            if !pool_software_token_mfa(&s.pool) {
                return Err(software_token_not_enabled());
            }
            let mut user = s.user;
            verify_pending(svc, &s.pool, &mut user, s.version, code, device_name).await?;
            user.mfa.software_token_enabled = true;
            user.mfa.preferred = Some(MfaMethod::SoftwareToken);
            svc.save_user(&s.pool, &user, s.version, vec![s.consume]).await?;
            let session = ChallengeSession {
                pending: Pending::MfaSetup { software_token_verified: true },
                ..s.session
            };
            let next = store_challenge_session(svc, &s.client, &session).await?;
            Ok(json!({"Status": "SUCCESS", "Session": next}))
        }
    }
}
