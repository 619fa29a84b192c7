//! The user record's own rules: internal usernames, and deleting a user with everything
//! pointing at it.

use crate::attribute_rules::{is_email, is_phone};
use crate::error::{Error, Result};
use crate::model::{User, UserPool};
use crate::service::Service;
use crate::store::StoreError;

/// The internal username for a new user and, in pools where email or phone is the username,
/// the attribute the given name fills. There the internal username is the `sub`, as Cognito
/// makes it; alias pools keep usernames distinct from the alias formats they accept.
pub(crate) fn internal_username(
    pool: &UserPool,
    given: &str,
    sub: &str,
) -> Result<(String, Option<(&'static str, String)>)> {
    if pool.username_attributes.is_empty() {
        if pool.alias_attributes.iter().any(|a| a == "email") && is_email(given) {
            return Err(Error::invalid(
                "Username cannot be of email format, since user pool is configured for email alias.",
            ));
        }
        if pool.alias_attributes.iter().any(|a| a == "phone_number") && is_phone(given) {
            return Err(Error::invalid(
                "Username cannot be of phone number format, since user pool is configured for phone_number alias.",
            ));
        }
        return Ok((given.to_string(), None));
    }
    let allows = |a: &str| pool.username_attributes.iter().any(|x| x == a);
    if allows("email") && is_email(given) {
        Ok((sub.to_string(), Some(("email", given.to_string()))))
    } else if allows("phone_number") && is_phone(given) {
        Ok((sub.to_string(), Some(("phone_number", given.to_string()))))
    } else if allows("email") && pool.username_attributes.len() == 1 {
        Err(Error::invalid("Username should be an email."))
    } else if pool.username_attributes.len() == 1 {
        Err(Error::invalid("Username should be a phone number."))
    } else {
        Err(Error::invalid("Username should be either an email or a phone number."))
    }
}

/// Removes a user with everything pointing at it, in one transaction.
pub(crate) async fn delete_user_record(
    svc: &Service,
    pool: &UserPool,
    user: &User,
    version: u64,
) -> Result<()> {
    let key = pool.username_key(&user.username);
    let writes = svc.delete_user_writes(pool, user, Some(version));
    let (writes, mut later) =
        crate::user_pool::groups::records::with_membership_deletes(svc, pool, &key, writes).await?;
    // Devices go once the user is gone; leftovers carry the old `sub` and attach to no one.
    later.extend(crate::user_pool::devices::records::device_delete_batches(svc, pool, &user.username).await?);
    match svc.store.transact(writes, svc.now_secs()).await {
        Ok(()) => crate::user_pool::groups::records::apply_batches(svc, later).await,
        Err(StoreError::ConditionFailed { .. }) => Err(Error::ConcurrentModificationException(
            "The user was modified by another request. Try again.".into(),
        )),
        Err(e) => Err(e.into()),
    }
}
