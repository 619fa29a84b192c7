//! Re-sealing every stored sealed value with the current master key, after a master-key
//! rotation (docs/keys.md). The walk visits what export visits that holds sealed values: each
//! user pool (signing keys, SAML key pairs), its users (SRP verifiers, TOTP secrets) and their
//! devices, and the deployment's identity-token key. An item is rewritten only when a value in
//! it names another key version, on the version read (a concurrent change wins and the item is
//! read again). A cursor item (`CONFIG`/`RESEAL`) records how far it got, so a stopped re-seal
//! resumes where it stopped; a finished one removes it.

use super::{open_secrets, seal_secrets, sealed_by_other_key, Archived, Kind};
use crate::error::{Error, Result};
use crate::keys;
use crate::store::{Cond, Item, StoreError, Write, MAX_TRANSACTION_WRITES};
use crate::Service;
use serde::{Deserialize, Serialize};

const CURSOR_PK: &str = "CONFIG";
const CURSOR_SK: &str = "RESEAL";

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Cursor {
    version: u8,
    /// The pool being walked, and the last user key done in it.
    pool: Option<String>,
    user_after: Option<String>,
}

/// What a re-seal did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResealReport {
    pub items_read: u64,
    pub items_resealed: u64,
    pub resumed: bool,
}

/// Re-seals everything sealed by another key than `current` (the version the service's
/// cipher seals with). `progress` is told after each pool.
pub async fn reseal(
    svc: &Service,
    current: u8,
    progress: &mut dyn FnMut(&str, &ResealReport),
) -> Result<ResealReport> {
    let mut report = ResealReport::default();
    let mut cursor = match svc.get_json::<Cursor>(CURSOR_PK, CURSOR_SK).await? {
        Some((c, _)) if c.version == current => {
            report.resumed = true;
            c
        }
        _ => Cursor { version: current, ..Cursor::default() },
    };
    let pools = listing(svc, keys::POOLS).await?;
    let start = cursor.pool.clone();
    for pool in pools.iter().skip_while(|p| start.as_ref().is_some_and(|s| s != *p)) {
        if cursor.pool.as_deref() != Some(pool) {
            cursor.pool = Some(pool.clone());
            cursor.user_after = None;
        }
        item(svc, Kind::UserPool, &keys::pool(pool), keys::POOL_SK, current, &mut report).await?;
        item(svc, Kind::SamlKeys, &keys::saml_sp_keys(pool), keys::SAML_SP_KEYS_SK, current, &mut report)
            .await?;
        loop {
            let page = svc
                .store
                .query(
                    &keys::pool_users(pool),
                    "",
                    cursor.user_after.as_deref(),
                    MAX_TRANSACTION_WRITES,
                    svc.now_secs(),
                )
                .await?;
            for entry in &page.items {
                item(svc, Kind::User, &keys::user(pool, &entry.sk), keys::USER_SK, current, &mut report)
                    .await?;
                let devices = svc
                    .store
                    .query(&keys::user_devices(pool, &entry.sk), "", None, 1000, svc.now_secs())
                    .await?;
                for d in devices.items {
                    item(svc, Kind::Device, &d.pk, &d.sk, current, &mut report).await?;
                }
            }
            cursor.user_after = page.items.last().map(|i| i.sk.clone()).or(cursor.user_after.take());
            save_cursor(svc, &cursor).await?;
            if page.next.is_none() {
                break;
            }
        }
        progress(pool, &report);
    }
    item(
        svc,
        Kind::IdentityTokenKey,
        crate::identity::TOKEN_KEY_PK,
        crate::identity::TOKEN_KEY_SK,
        current,
        &mut report,
    )
    .await?;
    svc.store.transact(vec![Write::delete(CURSOR_PK, CURSOR_SK, Cond::None)], svc.now_secs()).await?;
    Ok(report)
}

async fn listing(svc: &Service, pk: &str) -> Result<Vec<String>> {
    Ok(svc.query_all(pk).await?.into_iter().map(|i| i.sk).collect())
}

async fn save_cursor(svc: &Service, cursor: &Cursor) -> Result<()> {
    let item = Item::new(CURSOR_PK, CURSOR_SK, serde_json::to_value(cursor).map_err(Error::internal)?);
    svc.store.transact(vec![Write::put(item, Cond::None)], svc.now_secs()).await?;
    Ok(())
}

/// Re-seals one item when it needs it, on the version read (re-read on a race).
async fn item(
    svc: &Service,
    kind: Kind,
    pk: &str,
    sk: &str,
    current: u8,
    report: &mut ResealReport,
) -> Result<()> {
    for _ in 0..5 {
        let Some(stored) = svc.store.get(pk, sk, svc.now_secs()).await? else { return Ok(()) };
        report.items_read += 1;
        if !sealed_by_other_key(kind, &stored.body, current) {
            return Ok(());
        }
        let mut archived = Archived {
            kind,
            pk: stored.pk.clone(),
            sk: stored.sk.clone(),
            expires_at: stored.expires_at,
            body: stored.body.clone(),
            secrets: Default::default(),
        };
        open_secrets(svc.cipher.as_ref(), &mut archived)?;
        seal_secrets(svc.cipher.as_ref(), &mut archived)?;
        let mut item = Item::new(stored.pk, stored.sk, archived.body);
        item.expires_at = stored.expires_at;
        match svc.store.transact(vec![Write::put_versioned(item, Some(stored.version))], svc.now_secs()).await
        {
            Ok(()) => {
                report.items_resealed += 1;
                svc.forget_pool(pk.trim_start_matches("POOL#"));
                return Ok(());
            }
            Err(StoreError::ConditionFailed { .. }) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(Error::ConcurrentModificationException(format!("{pk} kept changing while it was re-sealed")))
}
