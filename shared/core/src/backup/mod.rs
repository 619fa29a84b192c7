//! Export and restore: a pool, with everything it holds, as a stream of lines.
//!
//! The archive (documented in docs/backup.md) is JSON Lines: a [`Header`], one [`Archived`]
//! item per stored record, and an [`End`] that counts the items and carries the SHA-256 of
//! their lines, so a cut or altered stream is refused before anything is made visible. The
//! command line wraps the lines in gzip and, unless told otherwise, in age encryption.
//!
//! An item is a stored record as the store holds it (its partition and sort keys, as
//! `keys.rs` lays them out, and its body), with two differences: values sealed by the
//! deployment's master key are opened into `secrets` (the restoring deployment seals them
//! with its own key), and what can be derived is left out and rebuilt (a user's sign-in
//! aliases and ListUsers index, its listing entry). Pending codes and sessions are not
//! archived: codes are keyed by the old master key, and a restored user signs in afresh.

mod export;
mod reseal;
mod restore;

pub use export::{export, Scope};
pub use reseal::{reseal, ResealReport};
pub use restore::{Remap, RestoreOptions, RestoreReport, Restorer};

use crate::error::{Error, Result};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// The first line's `format`.
pub const FORMAT: &str = "tessera-archive";
/// Raised whenever the layout of an item kind changes; restore refuses versions it does not know.
pub const VERSION: u32 = 1;

/// One line of an archive.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Line {
    Header(Header),
    Item(Archived),
    End(End),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Header {
    pub format: String,
    pub version: u32,
    /// Epoch ms.
    pub created: i64,
    /// The Tessera version that wrote it.
    pub tessera: String,
    pub user_pools: Vec<String>,
    pub identity_pools: Vec<String>,
    /// The deployment's identity-token signing key is in the archive (a whole-store export).
    #[serde(default)]
    pub deployment_keys: bool,
}

/// One stored record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Archived {
    pub kind: Kind,
    pub pk: String,
    pub sk: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
    pub body: Value,
    /// Sealed values of `body`, opened: JSON pointer into the body → base64 of the plaintext.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub secrets: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct End {
    pub items: u64,
    /// SHA-256 (hex) of every item line, newline included, in order.
    pub sha256: String,
}

/// What a record is. Restore writes each kind under its own keys; `UserPool`,
/// `UserPoolListing`, `IdentityPool` and `IdentityPoolListing` go last, so a pool becomes
/// visible only once everything it holds is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    UserPool,
    UserPoolListing,
    AppClient,
    AppClientListing,
    Domain,
    ResourceServer,
    IdentityProvider,
    IdpIdentifier,
    ProviderLink,
    SamlKeys,
    UiCustomization,
    Group,
    GroupListing,
    GroupCount,
    GroupMember,
    UserGroup,
    /// Its listing entry and index items are rebuilt on restore.
    User,
    Device,
    IdentityPool,
    IdentityPoolListing,
    IdentityPoolSyncConfig,
    Identity,
    IdentityListing,
    IdentityPoolOf,
    IdentityLogin,
    SyncDataset,
    SyncRecord,
    SyncIdentityCount,
    SyncUsage,
    SyncPush,
    /// The deployment's key for GetOpenIdToken's tokens.
    IdentityTokenKey,
}

impl Kind {
    /// The sealed members of this kind's body: JSON pointer (`*` for every element of an
    /// array) and seal purpose.
    pub fn sealed(self) -> &'static [(&'static str, &'static str)] {
        use crate::ports::sealed;
        match self {
            Kind::UserPool => &[
                ("/keys/id/sealed_private", sealed::SIGNING_KEY),
                ("/keys/access/sealed_private", sealed::SIGNING_KEY),
                ("/keys/next/id/sealed_private", sealed::SIGNING_KEY),
                ("/keys/next/access/sealed_private", sealed::SIGNING_KEY),
                ("/keys/retired/*/key/sealed_private", sealed::SIGNING_KEY),
            ],
            Kind::IdentityTokenKey => &[("/sealed_private", sealed::SIGNING_KEY)],
            Kind::User => &[
                ("/srp/sealed_verifier", sealed::SRP_VERIFIER),
                ("/mfa/software_token", sealed::TOTP_SECRET),
                ("/mfa/pending_software_token", sealed::TOTP_SECRET),
            ],
            Kind::Device => &[("/sealed_verifier", sealed::DEVICE_VERIFIER)],
            Kind::SamlKeys => &[
                ("/signing_key", crate::user_pool::federation::SAML_KEY_SEAL_PURPOSE),
                ("/encryption_key", crate::user_pool::federation::SAML_KEY_SEAL_PURPOSE),
            ],
            _ => &[],
        }
    }

    /// Written last: the records that make a pool visible.
    pub fn commits(self) -> bool {
        matches!(
            self,
            Kind::UserPool | Kind::UserPoolListing | Kind::IdentityPool | Kind::IdentityPoolListing
        )
    }
}

/// The concrete pointers a pattern of [`Kind::sealed`] names in `body`.
fn expand(body: &Value, pattern: &str) -> Vec<String> {
    match pattern.split_once("/*") {
        None => vec![pattern.to_string()],
        Some((array, rest)) => {
            let n = body.pointer(array).and_then(Value::as_array).map_or(0, Vec::len);
            (0..n).map(|i| format!("{array}/{i}{rest}")).collect()
        }
    }
}

/// The seal purpose of a concrete pointer, if the kind has a sealed member there.
fn purpose_of(kind: Kind, pointer: &str) -> Option<&'static str> {
    kind.sealed().iter().find_map(|(pattern, purpose)| {
        let matches = match pattern.split_once("/*") {
            None => *pattern == pointer,
            Some((array, rest)) => pointer
                .strip_prefix(array)
                .and_then(|p| p.strip_prefix('/'))
                .and_then(|p| p.split_once('/'))
                .is_some_and(|(index, tail)| index.parse::<usize>().is_ok() && format!("/{tail}") == rest),
        };
        matches.then_some(*purpose)
    })
}

/// Whether a sealed member of the body was sealed by another key version than `current`.
pub(crate) fn sealed_by_other_key(kind: Kind, body: &Value, current: u8) -> bool {
    kind.sealed().iter().any(|(pattern, _)| {
        expand(body, pattern).iter().any(|pointer| {
            let Some(text) = body.pointer(pointer).and_then(Value::as_str).filter(|s| !s.is_empty()) else {
                return false;
            };
            let bytes = STANDARD.decode(text).unwrap_or_default();
            crate::ports::AesGcmCipher::sealed_version(&bytes) != Some(current)
        })
    })
}

/// Opens the item's sealed members into `secrets` (export).
pub(crate) fn open_secrets(cipher: &dyn crate::ports::SecretCipher, item: &mut Archived) -> Result<()> {
    for (pattern, purpose) in item.kind.sealed() {
        for pointer in expand(&item.body, pattern) {
            let Some(slot) = item.body.pointer_mut(&pointer) else { continue };
            let Some(sealed) = slot.as_str().filter(|s| !s.is_empty()) else { continue };
            let bytes = STANDARD.decode(sealed).map_err(Error::internal)?;
            let plain = cipher.open(purpose, &bytes)?;
            item.secrets.insert(pointer, STANDARD.encode(plain));
            *slot = Value::String(String::new());
        }
    }
    Ok(())
}

/// What is wrong with the item's secrets, if anything: a secret with no sealed member of its
/// kind to go to, or a sealed member that holds a value instead of its secret (a value sealed
/// by another deployment's key, which nothing here could open).
pub(crate) fn secrets_misfit(item: &Archived) -> Option<String> {
    if let Some(p) = item.secrets.keys().find(|p| purpose_of(item.kind, p).is_none()) {
        return Some(format!("a secret at {p}, which it has no place for"));
    }
    for (pattern, _) in item.kind.sealed() {
        for pointer in expand(&item.body, pattern) {
            let sealed = item.body.pointer(&pointer).and_then(Value::as_str).is_some_and(|s| !s.is_empty());
            if sealed && !item.secrets.contains_key(&pointer) {
                return Some(format!("a sealed value at {pointer} instead of its secret"));
            }
        }
    }
    None
}

/// Seals `secrets` back into the body with this deployment's key (restore).
pub(crate) fn seal_secrets(cipher: &dyn crate::ports::SecretCipher, item: &mut Archived) -> Result<()> {
    if let Some(why) = secrets_misfit(item) {
        return Err(Error::invalid(format!("a {:?} item has {why}", item.kind)));
    }
    for (pointer, plain) in std::mem::take(&mut item.secrets) {
        let Some(purpose) = purpose_of(item.kind, &pointer) else {
            return Err(Error::invalid(format!(
                "a {:?} item has a secret at {pointer}, which it has no place for",
                item.kind
            )));
        };
        let plain = STANDARD.decode(&plain).map_err(|_| {
            Error::invalid(format!("the secret at {pointer} of a {:?} item is not base64", item.kind))
        })?;
        let slot = item.body.pointer_mut(&pointer).ok_or_else(|| {
            Error::invalid(format!("a {:?} item has a secret at {pointer} but no such member", item.kind))
        })?;
        *slot = Value::String(STANDARD.encode(cipher.seal(purpose, &plain)?));
    }
    // A sealed member left without its secret would be unreadable here.
    for (pattern, _) in item.kind.sealed() {
        for pointer in expand(&item.body, pattern) {
            if item.body.pointer(&pointer).and_then(Value::as_str).is_some_and(|s| s.is_empty()) {
                return Err(Error::invalid(format!("a {:?} item lacks the secret for {pointer}", item.kind)));
            }
        }
    }
    Ok(())
}

/// Keeps the SHA-256 and count of item lines on both sides.
#[derive(Default)]
pub(crate) struct Digest {
    hasher: sha2::Sha256,
    items: u64,
}

impl Digest {
    pub(crate) fn add(&mut self, line: &[u8]) {
        use sha2::Digest as _;
        self.hasher.update(line);
        self.hasher.update(b"\n");
        self.items += 1;
    }
    pub(crate) fn end(self) -> End {
        use sha2::Digest as _;
        End { items: self.items, sha256: hex::encode(self.hasher.finalize()) }
    }
}

/// Where export writes its lines (each without its newline).
pub trait ArchiveSink {
    fn line(&mut self, line: &[u8]) -> Result<()>;
}

impl ArchiveSink for Vec<Vec<u8>> {
    fn line(&mut self, line: &[u8]) -> Result<()> {
        self.push(line.to_vec());
        Ok(())
    }
}
