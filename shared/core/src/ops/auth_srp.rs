//! USER_SRP_AUTH: InitiateAuth answers PASSWORD_VERIFIER, and RespondToAuthChallenge checks the
//! client's proof (spec C §5.2). The same exchange, over a device's own verifier, is
//! DEVICE_SRP_AUTH / DEVICE_PASSWORD_VERIFIER.
//!
//! SECRET_BLOCK is the challenge session's token itself (base64): clients such as pycognito
//! answer PASSWORD_VERIFIER without echoing `Session`, so the block must lead back to the
//! server's state (b, B, A), which stays in the store.

use super::auth::{self, invalid_session, param, AuthState, ChallengeSession, UserFacts};
use crate::error::{Error, Result};
use crate::model::{AppClient, User, UserPool, UserStatus};
use crate::service::{check_secret_hash, CallContext, Input, Service};
use crate::srp;
use crate::triggers::Caller;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use num_bigint::BigUint;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// How far a TIMESTAMP may be from the server's clock.
pub const TIMESTAMP_SKEW_SECS: i64 = 300;

fn incorrect() -> Error {
    Error::not_authorized("Incorrect username or password.")
}

/// Parses SRP_A and refuses A mod N = 0.
pub(crate) fn client_public(params: &Value) -> Result<BigUint> {
    let a = param(params, "SRP_A")?;
    let a = BigUint::parse_bytes(a.trim().as_bytes(), 16)
        .ok_or_else(|| Error::invalid("SRP_A is not a hexadecimal number."))?;
    if !srp::valid_client_public(&a) {
        return Err(Error::invalid("SRP_A is invalid: A mod N must not be 0."));
    }
    if a >= srp::n() {
        return Err(Error::invalid("SRP_A is invalid: it must be less than N."));
    }
    Ok(a)
}

/// The user's SRP verifier, opened: (salt hex, v).
fn open_verifier(svc: &Service, user: &User) -> Result<Option<(String, BigUint)>> {
    let Some(srp) = &user.srp else { return Ok(None) };
    let sealed = STANDARD.decode(&srp.sealed_verifier).map_err(Error::internal)?;
    let v = svc.cipher.open(crate::ports::sealed::SRP_VERIFIER, &sealed)?;
    Ok(Some((srp.salt_hex.clone(), BigUint::from_bytes_be(&v))))
}

/// InitiateAuth / AdminInitiateAuth with USER_SRP_AUTH.
pub(crate) async fn start_user_srp(
    svc: &Service,
    pool: &UserPool,
    client: &AppClient,
    params: &Value,
    input: &Value,
    admin: bool,
) -> Result<Value> {
    let username = param(params, "USERNAME")?;
    let a = client_public(params)?;
    check_secret_hash(client, params.get("SECRET_HASH").and_then(Value::as_str), &[username])?;
    let Some((user, _)) = svc.find_user(pool, username).await? else {
        if client.prevent_user_existence_errors() {
            return unknown_user_challenge(svc, pool, client, username, &a).await;
        }
        return Err(Error::UserNotFoundException("User does not exist.".into()));
    };
    // What Cognito reports before the proof (spec C §5.2 step 1); UNCONFIRMED waits for it.
    if !user.enabled {
        return Err(Error::not_authorized("User is disabled."));
    }
    if user.status == UserStatus::RESET_REQUIRED {
        return Err(Error::PasswordResetRequiredException("Password reset required for the user".into()));
    }
    let Some((salt_hex, v)) = open_verifier(svc, &user)? else {
        // A hash imported from another system: the verifier is made at its first plaintext use.
        return Err(Error::PasswordResetRequiredException(
            "This user's password was imported without an SRP verifier. Sign in once with USER_PASSWORD_AUTH (or ADMIN_USER_PASSWORD_AUTH), or reset the password, to enable USER_SRP_AUTH.".into(),
        ));
    };
    super::auth_triggers::pre_authentication(svc, pool, &user, &Caller::new(Some(&client.client_id), input))
        .await?;
    let mut progress = auth::Progress::for_sign_in(params, admin, svc.clock.now_millis());
    progress.srp = true;
    password_verifier(svc, pool, client, &user, &a, (salt_hex, v), progress, Default::default()).await
}

/// A custom flow's PASSWORD_VERIFIER, after SRP_A (spec C §5.6): the rounds so far ride in the
/// session and the next round follows a right proof.
pub(crate) async fn custom_password_verifier(
    svc: &Service,
    pool: &UserPool,
    client: &AppClient,
    user: &User,
    a: &BigUint,
    rounds: Vec<super::auth_triggers::ChallengeRound>,
    progress: auth::Progress,
) -> Result<Value> {
    let verifier = open_verifier(svc, user)?.ok_or_else(|| {
        Error::PasswordResetRequiredException("Password reset required for the user".into())
    })?;
    let progress = auth::Progress { srp: true, ..progress };
    let mut extra = serde_json::Map::new();
    extra.insert("custom_rounds".into(), serde_json::to_value(rounds).map_err(Error::internal)?);
    password_verifier(svc, pool, client, user, a, verifier, progress, extra).await
}

/// The PASSWORD_VERIFIER challenge for a user's verifier; `extra` joins the session's data.
#[allow(clippy::too_many_arguments)]
async fn password_verifier(
    svc: &Service,
    pool: &UserPool,
    client: &AppClient,
    user: &User,
    a: &BigUint,
    (salt_hex, v): (String, BigUint),
    progress: auth::Progress,
    extra: serde_json::Map<String, Value>,
) -> Result<Value> {
    let name = "PASSWORD_VERIFIER";
    let (token, b_hex) = srp_challenge(svc, pool, client, user, a, &v, name, progress, extra).await?;
    Ok(json!({
        "ChallengeName": "PASSWORD_VERIFIER",
        "Session": token,
        "ChallengeParameters": {
            "SALT": salt_hex,
            "SRP_B": b_hex,
            "SECRET_BLOCK": STANDARD.encode(token.as_bytes()),
            "USER_ID_FOR_SRP": user.username,
            "USERNAME": user.username,
        },
    }))
}

/// Makes b and B for a verifier and opens the session that remembers them. Returns the session
/// token and B in hex.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn srp_challenge(
    svc: &Service,
    pool: &UserPool,
    client: &AppClient,
    user: &User,
    a: &BigUint,
    v: &BigUint,
    name: &str,
    progress: auth::Progress,
    extra: serde_json::Map<String, Value>,
) -> Result<(String, String)> {
    let b = svc.rng.bytes(srp::EPHEMERAL_BYTES);
    let v = v.clone();
    let b_for_cpu = b.clone();
    let big_b = svc
        .cpu(move || srp::server_public(&v, &b_for_cpu))
        .await?
        .ok_or_else(|| Error::internal("SRP: B computed as 0"))?;
    let mut data = progress.into_data()?;
    data.extend(extra);
    data.insert("srp_a".into(), json!(a.to_str_radix(16)));
    data.insert("srp_b".into(), json!(big_b.to_str_radix(16)));
    data.insert(
        "srp_secret".into(),
        json!(STANDARD.encode(svc.cipher.seal(crate::ports::sealed::SRP_SESSION_SECRET, &b)?)),
    );
    let token = auth::open_challenge_session(svc, pool, client, user, name, data).await?;
    Ok((token, big_b.to_str_radix(16)))
}

/// Under PreventUserExistenceErrors an unknown name gets a challenge that looks real (its salt
/// is stable per name) and a proof that always fails.
async fn unknown_user_challenge(
    svc: &Service,
    pool: &UserPool,
    client: &AppClient,
    username: &str,
    a: &BigUint,
) -> Result<Value> {
    // Stable per name and unguessable (the pool's sealed key material is never shown): the
    // salt, and in email/phone-as-username pools the UUID a real user would have.
    let stable = |label: &[u8]| -> [u8; 32] {
        let mut hasher = Sha256::new();
        hasher.update(pool.keys.id.sealed_private.as_bytes());
        hasher.update(label);
        hasher.update(pool.username_key(username).as_bytes());
        hasher.finalize().into()
    };
    // Formatted like real salts (hex of the number, no leading zeros).
    let salt_hex = BigUint::from_bytes_be(&stable(b"salt")[..16]).to_str_radix(16);
    // A real user's USER_ID_FOR_SRP is their username: the given name only where it could be
    // one. An email or phone number in a pool that takes them as aliases (never as usernames)
    // or as the username itself stands for a user whose username is not that name.
    let alias_format = (pool.alias_attributes.iter().any(|a| a == "email")
        && crate::attributes::is_email(username))
        || (pool.alias_attributes.iter().any(|a| a == "phone_number")
            && crate::attributes::is_phone(username));
    let user_id = if pool.username_attributes.is_empty() && !alias_format {
        pool.username_key(username)
    } else {
        let mut b = [0u8; 16];
        b.copy_from_slice(&stable(b"uuid")[..16]);
        uuid::Builder::from_random_bytes(b).into_uuid().to_string()
    };
    let fake_v = BigUint::from_bytes_be(&svc.rng.bytes(srp::GROUP_BYTES));
    let placeholder =
        User::new(username.to_string(), String::new(), Default::default(), UserStatus::UNKNOWN, 0);
    let progress = auth::Progress { unknown_user: true, ..Default::default() };
    let (token, b_hex) = srp_challenge(
        svc,
        pool,
        client,
        &placeholder,
        a,
        &(fake_v % srp::n()),
        "PASSWORD_VERIFIER",
        progress,
        Default::default(),
    )
    .await?;
    Ok(json!({
        "ChallengeName": "PASSWORD_VERIFIER",
        "Session": token,
        "ChallengeParameters": {
            "SALT": salt_hex,
            "SRP_B": b_hex,
            "SECRET_BLOCK": STANDARD.encode(token.as_bytes()),
            "USER_ID_FOR_SRP": user_id,
            "USERNAME": user_id,
        },
    }))
}

/// The session a PASSWORD_VERIFIER-style answer names: through PASSWORD_CLAIM_SECRET_BLOCK
/// (and `Session`, when given, must agree).
pub(crate) fn answer_token(input: &Value, responses: &Value) -> Result<String> {
    let block = param(responses, "PASSWORD_CLAIM_SECRET_BLOCK")?;
    let token = STANDARD
        .decode(block.trim())
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(invalid_session)?;
    if input.str_of("Session").is_some_and(|s| !s.is_empty() && s != token) {
        return Err(invalid_session());
    }
    Ok(token)
}

/// Checks a PASSWORD_CLAIM_SIGNATURE against the session's SRP state and a verifier.
pub(crate) async fn check_claim(
    svc: &Service,
    session: &ChallengeSession,
    pool_name: &str,
    user_id: &str,
    v: BigUint,
    token: &str,
    responses: &Value,
) -> Result<bool> {
    let signature = param(responses, "PASSWORD_CLAIM_SIGNATURE")?.to_string();
    let timestamp = param(responses, "TIMESTAMP")?.to_string();
    let at = srp::parse_timestamp(&timestamp).ok_or_else(|| {
        Error::invalid(format!("TIMESTAMP is not in the format EEE MMM d HH:mm:ss UTC yyyy: {timestamp}"))
    })?;
    if (at - svc.now_secs()).abs() > TIMESTAMP_SKEW_SECS {
        return Err(Error::not_authorized("TIMESTAMP is more than 5 minutes away from the server's time."));
    }
    let hex_of = |k: &str| {
        session
            .data
            .get(k)
            .and_then(Value::as_str)
            .and_then(|h| BigUint::parse_bytes(h.as_bytes(), 16))
            .ok_or_else(|| Error::internal(format!("SRP session without {k}")))
    };
    let (a, big_b) = (hex_of("srp_a")?, hex_of("srp_b")?);
    let sealed = session
        .data
        .get("srp_secret")
        .and_then(Value::as_str)
        .and_then(|s| STANDARD.decode(s).ok())
        .ok_or_else(|| Error::internal("SRP session without its secret"))?;
    let b = svc.cipher.open(crate::ports::sealed::SRP_SESSION_SECRET, &sealed)?;
    let (pool_name, user_id, block) = (pool_name.to_string(), user_id.to_string(), token.as_bytes().to_vec());
    svc.cpu(move || {
        srp::claim_is_valid(&srp::Claim {
            pool_name: &pool_name,
            user_id: &user_id,
            verifier: &v,
            client_public: &a,
            server_secret: &b,
            server_public: &big_b,
            secret_block: &block,
            timestamp: &timestamp,
            signature: &signature,
        })
    })
    .await
}

/// RespondToAuthChallenge with PASSWORD_VERIFIER.
pub(crate) async fn respond_password_verifier(
    svc: &Service,
    ctx: &CallContext,
    client: &AppClient,
    input: &Value,
) -> Result<Value> {
    let responses = input.get("ChallengeResponses").cloned().unwrap_or(json!({}));
    param(&responses, "USERNAME")?;
    let token = answer_token(input, &responses)?;
    let pool = svc.pool(&client.pool_id).await?;
    let (session, consume) = auth::take_challenge_session(svc, client, &token).await?;
    let progress = auth::Progress::from_data(&session.data);
    if progress.unknown_user {
        svc.store.transact(vec![consume], svc.now_secs()).await.ok();
        // Locked out as a known user would be, and after the same failures.
        let seen = crate::user_pool::unknown_names::look(svc, &pool, &session.username).await?;
        if seen.locked(svc.clock.now_millis()) {
            return Err(Error::not_authorized("Password attempts exceeded"));
        }
        // The same work as a real proof check, so the answer's timing tells nothing.
        let fake_v = BigUint::from_bytes_be(&svc.rng.bytes(srp::GROUP_BYTES)) % srp::n();
        let user_id = param(&responses, "USERNAME")?.to_string();
        check_claim(svc, &session, "unknown", &user_id, fake_v, &token, &responses).await.ok();
        crate::user_pool::unknown_names::record_failure(svc, &pool, &session.username, Some(seen)).await?;
        return Err(incorrect());
    }
    let (session, consume, user, version) =
        auth::answering_user_in(svc, &pool, client, &responses, session, consume, "PASSWORD_VERIFIER")
            .await?;
    let mut progress = progress;
    match responses.get("DEVICE_KEY") {
        Some(Value::String(key)) if !key.is_empty() => progress.device_key = Some(key.clone()),
        // null or "": the client dropped its key.
        Some(_) => progress.device_key = None,
        None => {}
    }
    let mut facts = UserFacts::of(&user, svc.clock.now_millis());
    let correct = if facts.locked {
        false
    } else {
        let (_, v) = open_verifier(svc, &user)?.ok_or_else(invalid_session)?;
        let suffix = crate::ids::pool_suffix(&pool.id).to_string();
        check_claim(svc, &session, &suffix, &user.username, v, &token, &responses).await?
    };
    // After a right proof and before the session is spent, the device: on "Device does not
    // exist." the JS SDK repeats this very answer without DEVICE_KEY. (Checked after the proof
    // so a made-up key tells nothing about the user.)
    let progress =
        if correct { auth::check_device_key(svc, &pool, &user, progress, true).await? } else { progress };
    // Single use, whatever the outcome: a wrong proof means starting over.
    auth::spend_challenge_session(svc, consume).await?;
    if !facts.locked {
        facts.locked =
            crate::user_pool::lockout::record_sign_in_attempt(svc, &pool, user.clone(), version, correct)
                .await?;
    }
    let caller = Caller::new(Some(&client.client_id), input);
    if let Some(rounds) = session.data.get("custom_rounds") {
        // A custom flow: a right proof is the next round's input (the round's gate and
        // DefineAuthChallenge judge the user's state); a wrong one ends the flow.
        if facts.locked {
            return Err(Error::not_authorized("Password attempts exceeded"));
        }
        if !correct {
            return Err(incorrect());
        }
        let rounds = serde_json::from_value(rounds.clone()).map_err(Error::internal)?;
        return super::auth_triggers::after_custom_password(
            svc, ctx, &pool, client, &user, rounds, &caller, progress,
        )
        .await;
    }
    let state = AuthState::PasswordChecked { correct };
    auth::after_password(svc, ctx, &pool, client, user, facts, state, progress, &caller).await
}

/// DEVICE_SRP_AUTH: the client names its device (DEVICE_KEY, which must be the sign-in's) and
/// sends SRP_A; DEVICE_PASSWORD_VERIFIER follows, over the device's own verifier.
pub(crate) async fn respond_device_srp_auth(
    svc: &Service,
    client: &AppClient,
    input: &Value,
) -> Result<Value> {
    let responses = input.get("ChallengeResponses").cloned().unwrap_or(json!({}));
    let device_key = param(&responses, "DEVICE_KEY")?.to_string();
    let a = client_public(&responses)?;
    let token = input
        .str_of("Session")
        .filter(|s| !s.is_empty())
        .ok_or_else(|| Error::invalid("Missing required parameter Session"))?;
    let pool = svc.pool(&client.pool_id).await?;
    let (session, consume, user, _) =
        auth::answering_user(svc, &pool, client, &responses, token, "DEVICE_SRP_AUTH").await?;
    let progress = auth::Progress::from_data(&session.data);
    if progress.device_key.as_deref() != Some(device_key.as_str()) {
        return Err(Error::invalid("DEVICE_KEY is not the device this sign-in started with."));
    }
    let (device, _) = crate::user_pool::devices::records::find_device(svc, &pool, &user, &device_key)
        .await?
        .ok_or_else(crate::user_pool::devices::records::device_not_found)?;
    let (salt, verifier) = crate::user_pool::devices::records::open_device_verifier(svc, &device)
        .await?
        .ok_or_else(crate::user_pool::devices::records::device_not_found)?;
    auth::spend_challenge_session(svc, consume).await?;
    let v = BigUint::from_bytes_be(&verifier);
    let (token, b_hex) = srp_challenge(
        svc,
        &pool,
        client,
        &user,
        &a,
        &v,
        "DEVICE_PASSWORD_VERIFIER",
        progress,
        Default::default(),
    )
    .await?;
    Ok(json!({
        "ChallengeName": "DEVICE_PASSWORD_VERIFIER",
        "Session": token,
        "ChallengeParameters": {
            "SALT": BigUint::from_bytes_be(&salt).to_str_radix(16),
            "SRP_B": b_hex,
            "SECRET_BLOCK": STANDARD.encode(token.as_bytes()),
            "USERNAME": user.username,
            "DEVICE_KEY": device_key,
        },
    }))
}

/// DEVICE_PASSWORD_VERIFIER: the device's proof, signed with its DeviceGroupKey as the pool
/// name and its DeviceKey as the user id.
pub(crate) async fn respond_device_password_verifier(
    svc: &Service,
    ctx: &CallContext,
    client: &AppClient,
    input: &Value,
) -> Result<Value> {
    let responses = input.get("ChallengeResponses").cloned().unwrap_or(json!({}));
    let token = answer_token(input, &responses)?;
    let pool = svc.pool(&client.pool_id).await?;
    let (session, consume, user, _) =
        auth::answering_user(svc, &pool, client, &responses, &token, "DEVICE_PASSWORD_VERIFIER").await?;
    auth::spend_challenge_session(svc, consume).await?;
    let mut progress = auth::Progress::from_data(&session.data);
    let device_key = progress.device_key.clone().ok_or_else(invalid_session)?;
    let (device, _) = crate::user_pool::devices::records::find_device(svc, &pool, &user, &device_key)
        .await?
        .ok_or_else(crate::user_pool::devices::records::device_not_found)?;
    let (_, verifier) = crate::user_pool::devices::records::open_device_verifier(svc, &device)
        .await?
        .ok_or_else(crate::user_pool::devices::records::device_not_found)?;
    let v = BigUint::from_bytes_be(&verifier);
    if !check_claim(svc, &session, &device.device_group_key, &device.device_key, v, &token, &responses)
        .await?
    {
        return Err(incorrect());
    }
    progress.device_done = true;
    let caller = Caller::new(Some(&client.client_id), input);
    auth::finish(svc, ctx, &pool, client, &user, progress, &caller).await
}
