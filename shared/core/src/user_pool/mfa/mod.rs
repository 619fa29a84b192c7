//! Multi-factor authentication: the pool's MFA configuration, software tokens, the users' MFA
//! preferences, and the factors and TOTP codes sign-in checks.
//!
//! Operations, and the file that serves each (the functions carry the operation's name):
//!
//! | Operation | File |
//! |---|---|
//! | GetUserPoolMfaConfig | `config.rs` |
//! | SetUserPoolMfaConfig | `config.rs` |
//! | AssociateSoftwareToken | `software_token.rs` |
//! | VerifySoftwareToken | `software_token.rs` |
//! | SetUserMFAPreference | `preferences.rs` |
//! | AdminSetUserMFAPreference | `preferences.rs` |
//! | SetUserSettings | `preferences.rs` |
//! | AdminSetUserSettings | `preferences.rs` |
//!
//! The rooms the operations and sign-in share:
//! - `factors.rs`: which second factors a pool allows and a user has, SMS codes, and the pool's
//!   MFA settings checks;
//! - `totp.rs`: TOTP secrets and codes.

mod config;
pub mod factors;
mod preferences;
mod software_token;
pub mod totp;

pub use config::{get_user_pool_mfa_config, set_user_pool_mfa_config};
pub use preferences::{
    admin_set_user_mfa_preference, admin_set_user_settings, set_user_mfa_preference, set_user_settings,
};
pub use software_token::{associate_software_token, verify_software_token};
