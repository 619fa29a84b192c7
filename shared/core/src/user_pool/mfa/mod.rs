//! Multi-factor authentication: factors and TOTP, and the MFA operations.

pub mod factors;
pub mod totp;
