//! Who may call a Sync operation (docs/identity-pools.md, "Cognito Sync"): identity credentials only for their own pool
//! and identity, admin (developer) keys for everything but the device operations.

use crate::error::{Error, Result};
use crate::{CallContext, Principal};

/// The kinds of caller an operation accepts, as the Sync API reference lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum SyncAccess {
    /// Datasets, records, identity usage: the identity itself or the developer.
    IdentityOrAdmin,
    /// RegisterDevice, SubscribeToDataset, UnsubscribeFromDataset.
    IdentityOnly,
    /// Pool usage, configuration, Cognito Events.
    AdminOnly,
}

/// Checks the caller against the operation's rule and the path's pool and identity (`None`
/// for pool-level operations). A caller of the wrong kind, or an identity touching another
/// identity's data, gets NotAuthorizedException (HTTP 403 in Sync).
pub(super) fn authorize(
    ctx: &CallContext,
    access: SyncAccess,
    identity_pool_id: &str,
    identity_id: Option<&str>,
) -> Result<()> {
    match (&ctx.principal, access) {
        (Principal::Admin, SyncAccess::IdentityOrAdmin | SyncAccess::AdminOnly) => Ok(()),
        (Principal::Admin, SyncAccess::IdentityOnly) => Err(Error::not_authorized(
            "This operation requires credentials of a Cognito identity, not developer credentials.",
        )),
        (Principal::Identity { .. }, SyncAccess::AdminOnly) => {
            Err(Error::not_authorized("This operation requires developer credentials."))
        }
        (Principal::Identity { identity_pool_id: pool, identity_id: id }, _) => {
            if pool == identity_pool_id && identity_id.is_some_and(|i| i == id) {
                Ok(())
            } else {
                Err(Error::not_authorized(format!(
                    "Access to Identity '{}' is forbidden.",
                    identity_id.unwrap_or_default()
                )))
            }
        }
        (Principal::Unsigned, _) => Err(Error::not_authorized("Missing credentials.")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(principal: Principal) -> CallContext {
        CallContext { issuer_base: "http://x".into(), principal }
    }

    #[test]
    fn identities_reach_only_their_own_data() {
        let me = ctx(Principal::Identity { identity_pool_id: "p".into(), identity_id: "i".into() });
        assert!(authorize(&me, SyncAccess::IdentityOrAdmin, "p", Some("i")).is_ok());
        assert!(authorize(&me, SyncAccess::IdentityOnly, "p", Some("i")).is_ok());
        for (pool, id) in [("p", "j"), ("q", "i")] {
            let e = authorize(&me, SyncAccess::IdentityOrAdmin, pool, Some(id)).unwrap_err();
            assert_eq!(e.name(), "NotAuthorizedException");
        }
        assert!(authorize(&me, SyncAccess::AdminOnly, "p", None).is_err());
    }

    #[test]
    fn admins_do_everything_but_devices() {
        let admin = ctx(Principal::Admin);
        assert!(authorize(&admin, SyncAccess::IdentityOrAdmin, "p", Some("i")).is_ok());
        assert!(authorize(&admin, SyncAccess::AdminOnly, "p", None).is_ok());
        assert!(authorize(&admin, SyncAccess::IdentityOnly, "p", Some("i")).is_err());
        assert!(authorize(&ctx(Principal::Unsigned), SyncAccess::IdentityOrAdmin, "p", Some("i")).is_err());
    }
}
