//! USER_SRP_AUTH: InitiateAuth answers PASSWORD_VERIFIER, and RespondToAuthChallenge checks the
//! client's proof. The same exchange, over a device's own verifier, is
//! DEVICE_SRP_AUTH / DEVICE_PASSWORD_VERIFIER.
//!
//! SECRET_BLOCK is the challenge session's token itself (base64): clients such as pycognito
//! answer PASSWORD_VERIFIER without echoing `Session`, so the block must lead back to the
//! server's state (b, B, A), which stays in the store.

use super::custom::after_custom_password;
use super::flow::{after_password, check_device_key, finish};
use super::machine::{AuthState, ChallengeName, SecondFactor, UserFacts};
use super::parameters::{Answer, DeviceKeyAnswer};
use super::session::{
    answering_user, answering_user_in, invalid_session, open_challenge_session, spend_challenge_session,
    take_challenge_session, Pending, Progress,
};
use super::sign_in::{Initiation, SignIn};
use super::srp_proof::{
    answer_token, check_claim, client_public, open_verifier, password_verifier, password_verifier_answer,
    srp_exchange,
};
use crate::error::{Error, Result};
use crate::model::{User, UserStatus};
use crate::srp;
use crate::user_pool::access::check_secret_hash;
use crate::user_pool::devices::records as devices;
use crate::user_pool::lockout::record_sign_in_attempt;
use crate::user_pool::triggers::auth::pre_authentication;
use crate::user_pool::unknown_names;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use num_bigint::BigUint;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

fn incorrect() -> Error {
    Error::not_authorized("Incorrect username or password.")
}

/// InitiateAuth / AdminInitiateAuth with USER_SRP_AUTH.
pub(crate) async fn start_user_srp(s: &SignIn<'_>, req: &Initiation<'_>) -> Result<Value> {
    let (svc, pool, client, params) = (s.svc, &*s.pool, s.client, &req.params);
    let username = params.username()?;
    let a = client_public(params.srp_a())?;
    check_secret_hash(client, params.secret_hash.as_deref(), &[username])?;
    let Some((user, _)) = svc.find_user(pool, username).await? else {
        if client.prevent_user_existence_errors() {
            return unknown_user_challenge(s, username, &a).await;
        }
        return Err(Error::UserNotFoundException("User does not exist.".into()));
    };
    // What Cognito reports before the proof; UNCONFIRMED waits for it.
    if !user.enabled {
        return Err(Error::not_authorized("User is disabled."));
    }
    if user.status == UserStatus::RESET_REQUIRED {
        return Err(Error::PasswordResetRequiredException("Password reset required for the user".into()));
    }
    let Some(verifier) = open_verifier(svc, &user)? else {
        // A hash imported from another system: the verifier is made at its first plaintext use.
        return Err(Error::PasswordResetRequiredException(
            "This user's password was imported without an SRP verifier. Sign in once with USER_PASSWORD_AUTH (or ADMIN_USER_PASSWORD_AUTH), or reset the password, to enable USER_SRP_AUTH.".into(),
        ));
    };
    pre_authentication(svc, pool, &user, &req.caller(s)).await?;
    let progress = Progress::for_sign_in(params, req.via, svc.clock.now_millis());
    password_verifier(s, &user, &a, verifier, progress, None).await
}

/// Under PreventUserExistenceErrors an unknown name gets a challenge that looks real (its salt
/// is stable per name) and a proof that always fails.
async fn unknown_user_challenge(s: &SignIn<'_>, username: &str, a: &BigUint) -> Result<Value> {
    let (svc, pool) = (s.svc, &*s.pool);
    // Stable per name and unguessable (the pool's sealed key material is never shown): the
    // salt, and in email/phone-as-username pools the UUID a real user would have.
    let stable = |label: &[u8]| -> [u8; 32] {
        let mut hasher = Sha256::new();
        hasher.update(pool.keys.stand_in_seed().as_bytes());
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
        && crate::attribute_rules::is_email(username))
        || (pool.alias_attributes.iter().any(|a| a == "phone_number")
            && crate::attribute_rules::is_phone(username));
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
    let srp = srp_exchange(svc, a, &(fake_v % srp::n())).await?;
    let b_hex = srp.b_hex.clone();
    let pending = Pending::PasswordVerifier { srp, stand_in: true, custom_rounds: None };
    let token = open_challenge_session(s, &placeholder, Progress::default(), pending).await?;
    Ok(password_verifier_answer(&token, &salt_hex, &b_hex, &user_id))
}

/// RespondToAuthChallenge with PASSWORD_VERIFIER.
pub(crate) async fn respond_password_verifier(s: &SignIn<'_>, answer: &Answer<'_>) -> Result<Value> {
    let (svc, pool, responses) = (s.svc, &*s.pool, &answer.responses);
    let user_id = responses.username()?;
    let token = answer_token(answer)?;
    let (session, consume) = take_challenge_session(svc, s.client, &token).await?;
    if let Pending::PasswordVerifier { srp: exchange, stand_in: true, .. } = &session.pending {
        svc.store.transact(vec![consume], svc.now_secs()).await.ok();
        // Locked out as a known user would be, and after the same failures.
        let seen = unknown_names::look(svc, pool, &session.username).await?;
        if seen.locked(svc.clock.now_millis()) {
            return Err(Error::not_authorized("Password attempts exceeded"));
        }
        // The same work as a real proof check, so the answer's timing tells nothing.
        let fake_v = BigUint::from_bytes_be(&svc.rng.bytes(srp::GROUP_BYTES)) % srp::n();
        check_claim(svc, exchange, ("unknown", user_id), fake_v, &token, responses).await.ok();
        unknown_names::record_failure(svc, pool, &session.username, Some(seen)).await?;
        return Err(incorrect());
    }
    let (session, consume, user, version) =
        answering_user_in(s, responses, session, consume, ChallengeName::PasswordVerifier).await?;
    let Pending::PasswordVerifier { srp: exchange, custom_rounds, .. } = session.pending else {
        return Err(invalid_session());
    };
    let mut progress = session.progress;
    match &responses.device_key {
        DeviceKeyAnswer::Given(key) if !key.is_empty() => progress.device_key = Some(key.clone()),
        // null or "": the client dropped its key.
        DeviceKeyAnswer::Given(_) | DeviceKeyAnswer::Null => progress.device_key = None,
        DeviceKeyAnswer::Absent => {}
    }
    let mut facts = UserFacts::of(&user, svc.clock.now_millis());
    let correct = if facts.locked {
        false
    } else {
        let (_, v) = open_verifier(svc, &user)?.ok_or_else(invalid_session)?;
        let suffix = crate::ids::pool_suffix(&pool.id).to_string();
        check_claim(svc, &exchange, (&suffix, &user.username), v, &token, responses).await?
    };
    // After a right proof and before the session is spent, the device: on "Device does not
    // exist." the JS SDK repeats this very answer without DEVICE_KEY. (Checked after the proof
    // so a made-up key tells nothing about the user.)
    let progress = if correct { check_device_key(s, &user, progress, true).await? } else { progress };
    // Single use, whatever the outcome: a wrong proof means starting over.
    spend_challenge_session(svc, consume).await?;
    if !facts.locked {
        facts.locked = record_sign_in_attempt(svc, pool, user.clone(), version, correct).await?;
    }
    if let Some(rounds) = custom_rounds {
        // A custom flow: a right proof is the next round's input (the round's gate and
        // DefineAuthChallenge judge the user's state); a wrong one ends the flow.
        if facts.locked {
            return Err(Error::not_authorized("Password attempts exceeded"));
        }
        if !correct {
            return Err(incorrect());
        }
        return after_custom_password(s, &user, rounds, progress).await;
    }
    after_password(s, user, facts, AuthState::PasswordChecked { correct }, progress).await
}

/// DEVICE_SRP_AUTH: the client names its device (DEVICE_KEY, which must be the sign-in's) and
/// sends SRP_A; DEVICE_PASSWORD_VERIFIER follows, over the device's own verifier.
pub(crate) async fn respond_device_srp_auth(s: &SignIn<'_>, answer: &Answer<'_>) -> Result<Value> {
    let (svc, pool, responses) = (s.svc, &*s.pool, &answer.responses);
    let device_key = responses.device_key.required()?.to_string();
    let a = client_public(responses.srp_a())?;
    let token = answer.session()?;
    let (session, consume, user, _) =
        answering_user(s, responses, token, ChallengeName::DeviceSrpAuth).await?;
    if session.progress.device_key.as_deref() != Some(device_key.as_str()) {
        return Err(Error::invalid("DEVICE_KEY is not the device this sign-in started with."));
    }
    let (device, _) =
        devices::find_device(svc, pool, &user, &device_key).await?.ok_or_else(devices::device_not_found)?;
    let (salt, verifier) =
        devices::open_device_verifier(svc, &device).await?.ok_or_else(devices::device_not_found)?;
    spend_challenge_session(svc, consume).await?;
    let srp = srp_exchange(svc, &a, &BigUint::from_bytes_be(&verifier)).await?;
    let b_hex = srp.b_hex.clone();
    let token =
        open_challenge_session(s, &user, session.progress, Pending::DevicePasswordVerifier { srp }).await?;
    Ok(json!({
        "ChallengeName": ChallengeName::DevicePasswordVerifier,
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
pub(crate) async fn respond_device_password_verifier(s: &SignIn<'_>, answer: &Answer<'_>) -> Result<Value> {
    let (svc, pool, responses) = (s.svc, &*s.pool, &answer.responses);
    let token = answer_token(answer)?;
    let (session, consume, user, _) =
        answering_user(s, responses, &token, ChallengeName::DevicePasswordVerifier).await?;
    spend_challenge_session(svc, consume).await?;
    let Pending::DevicePasswordVerifier { srp: exchange } = &session.pending else {
        return Err(invalid_session());
    };
    let device_key = session.progress.device_key.clone().ok_or_else(invalid_session)?;
    let (device, _) =
        devices::find_device(svc, pool, &user, &device_key).await?.ok_or_else(devices::device_not_found)?;
    let (_, verifier) =
        devices::open_device_verifier(svc, &device).await?.ok_or_else(devices::device_not_found)?;
    let v = BigUint::from_bytes_be(&verifier);
    let names = (device.device_group_key.as_str(), device.device_key.as_str());
    if !check_claim(svc, exchange, names, v, &token, responses).await? {
        return Err(incorrect());
    }
    let progress = Progress { second_factor: SecondFactor::Device, ..session.progress };
    finish(s, &user, progress).await
}
