//! Cognito user pools (the `cognito-idp` service): the operations and the mechanics they share.
//!
//! Every operation is re-exported here under its API name in snake_case; the table below says
//! which file serves it. Each area's `mod.rs` lists its own.

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

// Sign-in (auth/): InitiateAuth and AdminInitiateAuth in initiate.rs; RespondToAuthChallenge and
// AdminRespondToAuthChallenge in respond.rs; GetTokensFromRefreshToken in refresh.rs;
// GlobalSignOut, AdminUserGlobalSignOut and RevokeToken in sign_out.rs.
pub use auth::{
    admin_initiate_auth, admin_respond_to_auth_challenge, admin_user_global_sign_out,
    get_tokens_from_refresh_token, global_sign_out, initiate_auth, respond_to_auth_challenge, revoke_token,
};
