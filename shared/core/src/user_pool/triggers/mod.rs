//! The user-pool triggers: where each is built, invoked and read.
//!
//! | Trigger | file | fires in |
//! |---|---|---|
//! | PreSignUp, PostConfirmation, CustomMessage, UserMigration | `lifecycle.rs` | SignUp, AdminCreateUser, confirmations, code deliveries; sign-in and ForgotPassword for unknown names |
//! | PreAuthentication, PostAuthentication | `auth.rs` | every sign-in, before the credentials are checked and before tokens |
//! | PreTokenGeneration (V1–V3) | `token_generation.rs` | every token issue: sign-in and refresh |
//! | Define/Create/VerifyAuthChallenge | `../auth/custom.rs` | CUSTOM_AUTH |
//!
//! The invocation itself (events, the Lambda port, the response's checks) is `crate::triggers`.
//! A new trigger: its `crate::triggers::Trigger` variant, then a function here that builds its
//! event from aws_lambda_events' type and reads the response, called where Cognito fires it.

pub(crate) mod auth;
pub mod lifecycle;
pub mod token_generation;
