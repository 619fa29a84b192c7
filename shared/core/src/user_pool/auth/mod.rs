//! Sign-in: InitiateAuth and RespondToAuthChallenge, their admin twins, the refresh flows and
//! sign-out.
//!
//! The sign-in is an explicit state machine. [`machine`] is pure: an [`machine::AuthState`] and
//! the facts about the user give a [`machine::Step`] (tokens, a [`machine::ChallengeName`], or a
//! refusal). The other files do the I/O around it: each challenge is a state kept in a
//! [`session::ChallengeSession`] (its [`session::Pending`] says what the answer is checked
//! against), and each answer is a transition.
//!
//! | Operation | file |
//! |---|---|
//! | InitiateAuth, AdminInitiateAuth | `initiate.rs` (USER_PASSWORD_AUTH, ADMIN_USER_PASSWORD_AUTH there; the other flows in their own files) |
//! | RespondToAuthChallenge, AdminRespondToAuthChallenge | `respond.rs` (NEW_PASSWORD_REQUIRED there; the other challenges in their own files) |
//! | GetTokensFromRefreshToken (and REFRESH_TOKEN_AUTH) | `refresh.rs` |
//! | GlobalSignOut, AdminUserGlobalSignOut, RevokeToken | `sign_out.rs` |
//!
//! | Flow or challenge | file |
//! |---|---|
//! | USER_SRP_AUTH → PASSWORD_VERIFIER; DEVICE_SRP_AUTH → DEVICE_PASSWORD_VERIFIER | `srp.rs` (the SRP pieces the custom flow shares: `srp_proof.rs`) |
//! | SMS_MFA, SOFTWARE_TOKEN_MFA, SELECT_MFA_TYPE, MFA_SETUP | `mfa.rs` |
//! | CUSTOM_AUTH → CUSTOM_CHALLENGE (Define/Create/VerifyAuthChallenge triggers) | `custom.rs` |
//!
//! Shared mechanics: `flow.rs` (after the first factor: the second factor, then tokens),
//! `issue.rs` (the tokens and the session family), `refresh_family.rs` (refresh tokens and
//! their rotation), `session.rs` (challenge sessions).
//!
//! A new challenge: a [`machine::ChallengeName`] variant, a [`session::Pending`] variant for
//! what its answer is checked against, the step that leads to it in [`machine`] (with a row in
//! its table tests), its parameters in `flow::challenge_with`, and its answer in the file of
//! its flow, dispatched from `respond.rs`.

pub(crate) mod custom;
pub(crate) mod flow;
pub(crate) mod initiate;
pub(crate) mod issue;
pub mod machine;
pub(crate) mod mfa;
pub(crate) mod refresh;
pub mod refresh_family;
pub(crate) mod respond;
pub mod session;
pub(crate) mod sign_in;
pub(crate) mod sign_out;
pub(crate) mod srp;
pub(crate) mod srp_proof;

pub use initiate::{admin_initiate_auth, initiate_auth};
pub use refresh::get_tokens_from_refresh_token;
pub use respond::{admin_respond_to_auth_challenge, respond_to_auth_challenge};
pub use sign_out::{admin_user_global_sign_out, global_sign_out, revoke_token};
