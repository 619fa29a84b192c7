//! Challenge sessions: what a sign-in keeps server-side between a challenge and its answer
//! (the [`Progress`] of the sign-in and the [`Pending`] challenge's own state), stored under the
//! hash of an opaque token, single use, expiring after the client's AuthSessionValidity.

pub use super::machine::invalid_session;
use super::machine::{ChallengeName, SecondFactor};
use super::parameters::{AuthParameters, ChallengeResponses};
use super::sign_in::{SignIn, Via};
use crate::error::{Error, Result};
use crate::model::{keys, AppClient, User, UserPool};
use crate::service::Service;
use crate::store::{Cond, Item, StoreError, Write};
use crate::user_pool::access::check_secret_hash;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// What a sign-in carries from one challenge to the next, whatever the challenge.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    /// The DEVICE_KEY the client sent, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_key: Option<String>,
    #[serde(default)]
    pub via: Via,
    /// NEW_PASSWORD_REQUIRED was answered: the tokens are for a new-password sign-in.
    #[serde(default)]
    pub new_password_set: bool,
    #[serde(default)]
    pub second_factor: SecondFactor,
    /// When the sign-in began (epoch ms): a sign-out after it ends the sign-in.
    #[serde(default)]
    pub started_ms: i64,
}

impl Progress {
    pub(crate) fn for_sign_in(params: &AuthParameters, via: Via, now_ms: i64) -> Progress {
        let device_key = params.device_key.clone().filter(|k| !k.is_empty());
        Progress { device_key, via, started_ms: now_ms, ..Progress::default() }
    }
}

/// One side of an SRP exchange, kept until the client's proof arrives: A and B in hex, and b
/// sealed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SrpExchange {
    pub a_hex: String,
    pub b_hex: String,
    pub sealed_secret: String,
}

/// One answered challenge of a custom flow: an element of the triggers' `request.session`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChallengeRound {
    pub challenge_name: ChallengeName,
    pub challenge_result: bool,
    pub challenge_metadata: Option<String>,
}

/// What the answer to a pending challenge is checked against, by challenge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Pending {
    NewPasswordRequired,
    SmsMfa {
        /// The sealed hash of the code sent.
        code_hash: String,
        code_expires_at: i64,
        #[serde(default)]
        wrong_codes: u64,
    },
    SoftwareTokenMfa {
        #[serde(default)]
        wrong_codes: u64,
    },
    SelectMfaType,
    /// Set once VerifySoftwareToken accepted a code with this session.
    MfaSetup {
        software_token_verified: bool,
    },
    PasswordVerifier {
        srp: SrpExchange,
        /// A PreventUserExistenceErrors stand-in for a name the pool does not know: the proof
        /// always fails.
        #[serde(default)]
        stand_in: bool,
        /// In a custom flow (after SRP_A): the rounds so far; a right proof is the next round.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        custom_rounds: Option<Vec<ChallengeRound>>,
    },
    DeviceSrpAuth,
    DevicePasswordVerifier {
        srp: SrpExchange,
    },
    /// The rounds so far and what CreateAuthChallenge gave for this one. The private parameters
    /// never leave the store.
    CustomChallenge {
        rounds: Vec<ChallengeRound>,
        private_challenge_parameters: BTreeMap<String, String>,
        challenge_metadata: Option<String>,
    },
}

impl Pending {
    pub fn challenge(&self) -> ChallengeName {
        match self {
            Pending::NewPasswordRequired => ChallengeName::NewPasswordRequired,
            Pending::SmsMfa { .. } => ChallengeName::SmsMfa,
            Pending::SoftwareTokenMfa { .. } => ChallengeName::SoftwareTokenMfa,
            Pending::SelectMfaType => ChallengeName::SelectMfaType,
            Pending::MfaSetup { .. } => ChallengeName::MfaSetup,
            Pending::PasswordVerifier { .. } => ChallengeName::PasswordVerifier,
            Pending::DeviceSrpAuth => ChallengeName::DeviceSrpAuth,
            Pending::DevicePasswordVerifier { .. } => ChallengeName::DevicePasswordVerifier,
            Pending::CustomChallenge { .. } => ChallengeName::CustomChallenge,
        }
    }
}

/// A pending challenge: what a later RespondToAuthChallenge may continue. Stored under the
/// SHA-256 of its session token, expiring after the client's AuthSessionValidity, single use.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChallengeSession {
    pub pool_id: String,
    pub client_id: String,
    /// The internal username, and the `sub` of the user it named when the session began (a
    /// later user given the same name never inherits the session).
    pub username: String,
    #[serde(default)]
    pub sub: String,
    /// When the session began; a session rotated by AssociateSoftwareToken/VerifySoftwareToken
    /// keeps its predecessor's, so rotation never extends its life.
    pub created_ms: i64,
    pub progress: Progress,
    pub pending: Pending,
}

impl ChallengeSession {
    pub fn challenge(&self) -> ChallengeName {
        self.pending.challenge()
    }
}

fn session_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// The client's AuthSessionValidity in seconds (3–15 minutes, default 3).
pub fn session_validity_secs(client: &AppClient) -> i64 {
    client.settings.auth_session_validity.unwrap_or(3).clamp(3, 15) * 60
}

impl ChallengeSession {
    /// A session for `user`, beginning now.
    pub fn new(
        pool: &UserPool,
        client: &AppClient,
        user: &User,
        now_ms: i64,
        progress: Progress,
        pending: Pending,
    ) -> ChallengeSession {
        ChallengeSession {
            pool_id: pool.id.clone(),
            client_id: client.client_id.clone(),
            username: user.username.clone(),
            sub: user.sub.clone(),
            created_ms: now_ms,
            progress,
            pending,
        }
    }
}

/// Stores a new challenge session for `user` and returns its opaque token.
pub(crate) async fn open_challenge_session(
    s: &SignIn<'_>,
    user: &User,
    progress: Progress,
    pending: Pending,
) -> Result<String> {
    let session = ChallengeSession::new(&s.pool, s.client, user, s.svc.clock.now_millis(), progress, pending);
    store_challenge_session(s.svc, s.client, &session).await
}

/// Stores a session under a new token and returns the token. A session replaced this way
/// (MFA_SETUP's Associate and Verify steps) keeps its start, and so its expiry.
pub async fn store_challenge_session(
    svc: &Service,
    client: &AppClient,
    session: &ChallengeSession,
) -> Result<String> {
    let token = URL_SAFE_NO_PAD.encode(svc.rng.bytes(96));
    let now = svc.now_secs();
    let expires_at = session.created_ms / 1000 + session_validity_secs(client);
    if expires_at <= now {
        return Err(invalid_session());
    }
    let mut item = Item::new(
        keys::auth_session(&session_hash(&token)),
        keys::AUTH_SESSION_SK,
        serde_json::to_value(session).map_err(Error::internal)?,
    );
    item.expires_at = Some(expires_at);
    svc.store.transact(vec![Write::put(item, Cond::NotExists)], now).await?;
    Ok(token)
}

/// A stored session, if it is live and this version can read it. One stored in another shape
/// (by an earlier version, during a deploy) is a dead session: its sign-in starts over, as after
/// any expired session, rather than failing the call.
async fn read_session(svc: &Service, pk: &str) -> Result<Option<(ChallengeSession, u64)>> {
    let Some(item) = svc.store.get(pk, keys::AUTH_SESSION_SK, svc.now_secs()).await? else {
        return Ok(None);
    };
    Ok(parse_session(item.body).map(|session| (session, item.version)))
}

fn parse_session(body: Value) -> Option<ChallengeSession> {
    match serde_json::from_value(body) {
        Ok(session) => Some(session),
        Err(e) => {
            tracing::info!(error = %e, "a challenge session this version cannot read (treated as expired)");
            None
        }
    }
}

/// A live session for this client, with the write that consumes it (conditional on its version).
pub async fn take_challenge_session(
    svc: &Service,
    client: &AppClient,
    token: &str,
) -> Result<(ChallengeSession, Write)> {
    let pk = keys::auth_session(&session_hash(token));
    let (session, version) = read_session(svc, &pk).await?.ok_or_else(invalid_session)?;
    if session.client_id != client.client_id || session.pool_id != client.pool_id {
        return Err(invalid_session());
    }
    Ok((session, Write::delete(pk, keys::AUTH_SESSION_SK, Cond::Version(version))))
}

/// A live session whatever its client, with the write that consumes it: for
/// AssociateSoftwareToken and VerifySoftwareToken, which carry a Session but no ClientId (the
/// session names its pool and client).
pub async fn take_any_challenge_session(svc: &Service, token: &str) -> Result<(ChallengeSession, Write)> {
    let pk = keys::auth_session(&session_hash(token));
    let (session, version) = read_session(svc, &pk).await?.ok_or_else(invalid_session)?;
    Ok((session, Write::delete(pk, keys::AUTH_SESSION_SK, Cond::Version(version))))
}

/// Spends a session taken with [`take_challenge_session`]: a concurrent answer that spent it
/// first makes this one's session invalid.
pub(crate) async fn spend_challenge_session(svc: &Service, consume: Write) -> Result<()> {
    match svc.store.transact(vec![consume], svc.now_secs()).await {
        Ok(()) => Ok(()),
        Err(StoreError::ConditionFailed { .. }) => Err(invalid_session()),
        Err(e) => Err(e.into()),
    }
}

/// The live session a challenge response names, and the user it belongs to: the session must
/// be for `challenge` and this client, the response's USERNAME (or an alias of it) must name
/// the session's user, and SECRET_HASH may be over either name. Returns the session, the write
/// that consumes it, and the user with their version.
pub(crate) async fn answering_user(
    s: &SignIn<'_>,
    responses: &ChallengeResponses,
    token: &str,
    challenge: ChallengeName,
) -> Result<(ChallengeSession, Write, User, u64)> {
    let (session, consume) = take_challenge_session(s.svc, s.client, token).await?;
    answering_user_in(s, responses, session, consume, challenge).await
}

/// [`answering_user`] for a session already taken.
pub(crate) async fn answering_user_in(
    s: &SignIn<'_>,
    responses: &ChallengeResponses,
    session: ChallengeSession,
    consume: Write,
    challenge: ChallengeName,
) -> Result<(ChallengeSession, Write, User, u64)> {
    let username = responses.username()?;
    if s.hosted != (session.progress.via == super::sign_in::Via::Hosted) {
        return Err(invalid_session());
    }
    if session.challenge() != challenge {
        return Err(Error::invalid(format!("Invalid challenge name {challenge} for this session.")));
    }
    let (user, version) = s.svc.find_user(&s.pool, username).await?.ok_or_else(invalid_session)?;
    if user.username != session.username || (!session.sub.is_empty() && user.sub != session.sub) {
        return Err(invalid_session());
    }
    check_secret_hash(s.client, responses.secret_hash.as_deref(), &[username, user.username.as_str()])?;
    Ok((session, consume, user, version))
}

/// Writes a session back (same token, same expiry) with changed data, instead of consuming it.
pub(crate) async fn keep_session(
    svc: &Service,
    client: &AppClient,
    session: &ChallengeSession,
    consume: Write,
) -> Result<()> {
    let Write::Delete { pk, sk, cond: Cond::Version(version) } = consume else {
        return Err(Error::internal("a challenge session's consuming write is a versioned delete"));
    };
    let mut item = Item::new(pk, sk, serde_json::to_value(session).map_err(Error::internal)?);
    // A new version, so every other answer read at the old one fails: each wrong code counts.
    item.version = version + 1;
    item.expires_at = Some(session.created_ms / 1000 + session_validity_secs(client));
    let cond = Cond::Version(version);
    match svc.store.transact(vec![Write::put(item, cond)], svc.now_secs()).await {
        Ok(()) => Ok(()),
        Err(StoreError::ConditionFailed { .. }) => Err(invalid_session()),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sessions_round_trip_and_an_older_shape_reads_as_dead() {
        let session = ChallengeSession {
            pool_id: "us-east-1_x".into(),
            client_id: "c".into(),
            username: "jane".into(),
            sub: "s".into(),
            created_ms: 1,
            progress: Progress { device_key: Some("d".into()), ..Progress::default() },
            pending: Pending::SmsMfa { code_hash: "h".into(), code_expires_at: 9, wrong_codes: 2 },
        };
        let stored = serde_json::to_value(&session).unwrap_or_default();
        let back = parse_session(stored);
        assert_eq!(
            back.map(|s| (s.challenge(), s.pending, s.progress)),
            Some((ChallengeName::SmsMfa, session.pending.clone(), session.progress.clone()))
        );
        // As the version before the typed sessions stored them.
        let older = json!({"pool_id": "us-east-1_x", "client_id": "c", "username": "jane", "sub": "s",
            "challenge": "SMS_MFA", "created_ms": 1, "data": {"code_hash": "h", "progress": {}}});
        assert!(parse_session(older).is_none());
    }
}
