// Shim until the callers switch (issue 16).
pub use crate::user_pool::auth::session::{
    invalid_session, store_challenge_session, take_any_challenge_session, ChallengeSession, Pending, Progress,
};
pub use crate::user_pool::auth::{
    admin_initiate_auth, admin_respond_to_auth_challenge, admin_user_global_sign_out, global_sign_out,
    initiate_auth, respond_to_auth_challenge, revoke_token,
};
