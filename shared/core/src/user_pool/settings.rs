//! Pool and client settings: helpers shared by the pool and client operations.

use crate::error::Error;
/// A refusal of a member Tessera does not honour yet: named, so the caller knows what to drop.
pub(crate) fn not_supported(member: &str, detail: &str) -> Error {
    Error::invalid(format!("{member} is not supported yet by Tessera{detail}."))
}
