// Shim until the callers switch (issue 16).
pub use crate::user_pool::auth::get_tokens_from_refresh_token;
