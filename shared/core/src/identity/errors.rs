//! The errors several identity operations answer, worded as Cognito words them.

use crate::error::Error;

pub(super) fn identity_not_found(identity_id: &str) -> Error {
    Error::ResourceNotFoundException(format!("Identity '{identity_id}' not found."))
}

pub(super) fn forbidden(identity_id: &str) -> Error {
    Error::not_authorized(format!("Access to Identity '{identity_id}' is forbidden."))
}

pub(super) fn logins_dont_match() -> Error {
    Error::not_authorized(
        "Logins don't match. Please include at least one valid login for this identity or identity pool.",
    )
}

pub(super) fn unauthenticated_not_supported() -> Error {
    Error::not_authorized("Unauthenticated access is not supported for this identity pool.")
}

pub(super) fn raced() -> Error {
    Error::ResourceConflictException(
        "The identity's logins were changed by another request at the same time. Try again.".into(),
    )
}
