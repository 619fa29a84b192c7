//! The tokens Sync hands to clients, sealed by the service's cipher: SyncSessionTokens (a
//! ListRecords call opens a sync session that UpdateRecords continues) and ListRecords page
//! tokens. Each is bound to its purpose and to one dataset.

use crate::error::{Error, Result};
use crate::service::Service;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};

/// How long a SyncSessionToken is accepted: a client may sit in a conflict dialog between
/// ListRecords and UpdateRecords (the Cognito Sync developer guide recommends 60 minutes).
const SESSION_SECS: i64 = 3600;

/// What a sealed token holds: its purpose, what it is bound to, and its content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Sealed {
    /// "session" or "records-page".
    pub(super) t: String,
    pub(super) p: String,
    pub(super) i: String,
    pub(super) d: String,
    /// The sync session's id.
    pub(super) s: String,
    /// Epoch seconds (sessions).
    #[serde(default)]
    pub(super) e: i64,
    /// ListRecords paging: the lastSyncCount asked for, and the last record returned.
    #[serde(default)]
    pub(super) l: i64,
    #[serde(default)]
    pub(super) c: u64,
    #[serde(default)]
    pub(super) k: String,
}

pub(super) fn seal(svc: &Service, token: &Sealed) -> Result<String> {
    let bytes = serde_json::to_vec(token).map_err(Error::internal)?;
    Ok(URL_SAFE_NO_PAD.encode(svc.cipher.seal(crate::ports::sealed::SYNC_TOKEN, &bytes)?))
}

/// The token's content when it is one of ours, of this purpose, for this dataset.
pub(super) fn unseal(
    svc: &Service,
    token: &str,
    purpose: &str,
    pool: &str,
    identity: &str,
    dataset: &str,
) -> Option<Sealed> {
    let sealed = URL_SAFE_NO_PAD.decode(token).ok()?;
    // The caller's input: one that does not open is a bad token (answered as such by the
    // operation), not a server fault, so it is neither an error in the log nor logged itself.
    let Some(opened) = svc.cipher.open_untrusted(crate::ports::sealed::SYNC_TOKEN, &sealed) else {
        tracing::debug!(purpose, "a client's sealed token did not open");
        return None;
    };
    let t: Sealed = serde_json::from_slice(&opened).ok()?;
    (t.t == purpose && t.p == pool && t.i == identity && t.d == dataset).then_some(t)
}

/// A session token, valid [`SESSION_SECS`].
pub(super) fn session_token(
    svc: &Service,
    pool: &str,
    identity: &str,
    dataset: &str,
    session: &str,
) -> Result<String> {
    seal(
        svc,
        &Sealed {
            t: "session".into(),
            p: pool.into(),
            i: identity.into(),
            d: dataset.into(),
            s: session.into(),
            e: svc.now_secs() + SESSION_SECS,
            l: 0,
            c: 0,
            k: String::new(),
        },
    )
}

/// The session of a token issued by ListRecords for this dataset that has not expired.
pub(super) fn open_session(
    svc: &Service,
    token: &str,
    pool: &str,
    identity: &str,
    dataset: &str,
) -> Option<String> {
    unseal(svc, token, "session", pool, identity, dataset).filter(|t| t.e > svc.now_secs()).map(|t| t.s)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::super::testing::test_service;
    use super::*;

    #[test]
    fn session_tokens_are_bound_and_expire() {
        let svc = test_service(Default::default());
        let t = session_token(&svc, "us-east-1:ab", "us-east-1:cd", "ds", "s1").unwrap();
        assert_eq!(open_session(&svc, &t, "us-east-1:ab", "us-east-1:cd", "ds").as_deref(), Some("s1"));
        assert_eq!(open_session(&svc, &t, "us-east-1:ab", "us-east-1:cd", "other"), None);
        assert_eq!(open_session(&svc, &t, "us-east-1:ab", "us-east-1:ce", "ds"), None);
        assert_eq!(open_session(&svc, "garbage", "us-east-1:ab", "us-east-1:cd", "ds"), None);
        let mut tampered = URL_SAFE_NO_PAD.decode(&t).unwrap();
        if let Some(b) = tampered.last_mut() {
            *b ^= 1;
        }
        assert_eq!(
            open_session(&svc, &URL_SAFE_NO_PAD.encode(tampered), "us-east-1:ab", "us-east-1:cd", "ds"),
            None
        );
        let expired = Sealed {
            t: "session".into(),
            p: "us-east-1:ab".into(),
            i: "us-east-1:cd".into(),
            d: "ds".into(),
            s: "s1".into(),
            e: svc.now_secs() - 1,
            l: 0,
            c: 0,
            k: String::new(),
        };
        let expired = seal(&svc, &expired).unwrap();
        assert_eq!(open_session(&svc, &expired, "us-east-1:ab", "us-east-1:cd", "ds"), None);
        // A page token is not a session token.
        let page = Sealed {
            t: "records-page".into(),
            e: svc.now_secs() + 100,
            ..serde_json::from_slice(
                &svc.cipher
                    .open(crate::ports::sealed::SYNC_TOKEN, &URL_SAFE_NO_PAD.decode(&t).unwrap())
                    .unwrap(),
            )
            .unwrap()
        };
        let page = seal(&svc, &page).unwrap();
        assert_eq!(open_session(&svc, &page, "us-east-1:ab", "us-east-1:cd", "ds"), None);
    }
}
