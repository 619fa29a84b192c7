//! Cognito user pools (the `cognito-idp` service): the operations and the mechanics they share.

pub mod access;
pub mod auth;
pub mod codes;
pub mod delivery;
pub mod devices;
pub mod lockout;
pub mod mfa;
pub mod secrets;
pub mod settings;
pub mod triggers;
pub mod unknown_names;
pub mod users;
