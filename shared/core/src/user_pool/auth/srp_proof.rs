//! The SRP pieces the sign-in flows share (USER_SRP_AUTH, DEVICE_SRP_AUTH and a custom flow's
//! SRP_A): reading A, the server's side of the exchange, the PASSWORD_VERIFIER challenge and
//! the check of the client's claim.

use super::machine::ChallengeName;
use super::parameters::{Answer, ChallengeResponses};
use super::session::{
    invalid_session, open_challenge_session, ChallengeRound, Pending, Progress, SrpExchange,
};
use super::sign_in::SignIn;
use crate::error::{Error, Result};
use crate::model::User;
use crate::service::Service;
use crate::srp;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use num_bigint::BigUint;
use serde_json::{json, Value};

/// How far a TIMESTAMP may be from the server's clock.
pub const TIMESTAMP_SKEW_SECS: i64 = 300;

/// Parses SRP_A (of AuthParameters or ChallengeResponses) and refuses A mod N = 0.
pub(crate) fn client_public(srp_a: Result<&str>) -> Result<BigUint> {
    let a = srp_a?;
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
pub(crate) fn open_verifier(svc: &Service, user: &User) -> Result<Option<(String, BigUint)>> {
    let Some(srp) = &user.srp else { return Ok(None) };
    let sealed = STANDARD.decode(&srp.sealed_verifier).map_err(Error::internal)?;
    let v = svc.cipher.open(crate::ports::sealed::SRP_VERIFIER, &sealed)?;
    Ok(Some((srp.salt_hex.clone(), BigUint::from_bytes_be(&v))))
}

/// A custom flow's PASSWORD_VERIFIER, after SRP_A: the rounds so far ride in the session and
/// the next round follows a right proof.
pub(crate) async fn custom_password_verifier(
    s: &SignIn<'_>,
    user: &User,
    a: &BigUint,
    rounds: Vec<ChallengeRound>,
    progress: Progress,
) -> Result<Value> {
    let verifier = open_verifier(s.svc, user)?.ok_or_else(|| {
        Error::PasswordResetRequiredException("Password reset required for the user".into())
    })?;
    password_verifier(s, user, a, verifier, progress, Some(rounds)).await
}

/// The PASSWORD_VERIFIER challenge for a user's verifier.
pub(crate) async fn password_verifier(
    s: &SignIn<'_>,
    user: &User,
    a: &BigUint,
    (salt_hex, v): (String, BigUint),
    progress: Progress,
    custom_rounds: Option<Vec<ChallengeRound>>,
) -> Result<Value> {
    let srp = srp_exchange(s.svc, a, &v).await?;
    let b_hex = srp.b_hex.clone();
    let pending = Pending::PasswordVerifier { srp, stand_in: false, custom_rounds };
    let token = open_challenge_session(s, user, progress, pending).await?;
    Ok(password_verifier_answer(&token, &salt_hex, &b_hex, &user.username))
}

/// The PASSWORD_VERIFIER challenge as the client sees it (SECRET_BLOCK is the session token).
pub(crate) fn password_verifier_answer(token: &str, salt_hex: &str, b_hex: &str, user_id: &str) -> Value {
    json!({
        "ChallengeName": ChallengeName::PasswordVerifier,
        "Session": token,
        "ChallengeParameters": {
            "SALT": salt_hex,
            "SRP_B": b_hex,
            "SECRET_BLOCK": STANDARD.encode(token.as_bytes()),
            "USER_ID_FOR_SRP": user_id,
            "USERNAME": user_id,
        },
    })
}

/// Makes b and B for a verifier: the server's side of the exchange, kept in the session until
/// the client's proof arrives.
pub(crate) async fn srp_exchange(svc: &Service, a: &BigUint, v: &BigUint) -> Result<SrpExchange> {
    let b = svc.rng.bytes(srp::EPHEMERAL_BYTES);
    let v = v.clone();
    let b_for_cpu = b.clone();
    let big_b = svc
        .cpu(move || srp::server_public(&v, &b_for_cpu))
        .await?
        .ok_or_else(|| Error::internal("SRP: B computed as 0"))?;
    Ok(SrpExchange {
        a_hex: a.to_str_radix(16),
        b_hex: big_b.to_str_radix(16),
        sealed_secret: STANDARD.encode(svc.cipher.seal(crate::ports::sealed::SRP_SESSION_SECRET, &b)?),
    })
}

/// The session a PASSWORD_VERIFIER-style answer names: through PASSWORD_CLAIM_SECRET_BLOCK
/// (and `Session`, when given, must agree).
pub(crate) fn answer_token(answer: &Answer<'_>) -> Result<String> {
    let block = answer.responses.password_claim_secret_block()?;
    let token = STANDARD
        .decode(block.trim())
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(invalid_session)?;
    if answer.session_given().is_some_and(|s| !s.is_empty() && s != token) {
        return Err(invalid_session());
    }
    Ok(token)
}

/// Checks a PASSWORD_CLAIM_SIGNATURE against the session's SRP state and a verifier.
pub(crate) async fn check_claim(
    svc: &Service,
    exchange: &SrpExchange,
    (pool_name, user_id): (&str, &str),
    v: BigUint,
    token: &str,
    responses: &ChallengeResponses,
) -> Result<bool> {
    let signature = responses.password_claim_signature()?.to_string();
    let timestamp = responses.timestamp()?.to_string();
    let at = srp::parse_timestamp(&timestamp).ok_or_else(|| {
        Error::invalid(format!("TIMESTAMP is not in the format EEE MMM d HH:mm:ss UTC yyyy: {timestamp}"))
    })?;
    if (at - svc.now_secs()).abs() > TIMESTAMP_SKEW_SECS {
        return Err(Error::not_authorized("TIMESTAMP is more than 5 minutes away from the server's time."));
    }
    let hex = |h: &str| {
        BigUint::parse_bytes(h.as_bytes(), 16).ok_or_else(|| Error::internal("SRP session with a bad number"))
    };
    let (a, big_b) = (hex(&exchange.a_hex)?, hex(&exchange.b_hex)?);
    let sealed = STANDARD
        .decode(&exchange.sealed_secret)
        .map_err(|_| Error::internal("SRP session without its secret"))?;
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
