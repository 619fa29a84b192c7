//! The user record's own rules: internal usernames.

use crate::attributes::{is_email, is_phone};
use crate::error::{Error, Result};
use crate::model::UserPool;

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
