// Shim until the callers switch (issue 16): these operations are in `user_pool::users`.
pub use crate::user_pool::users::{admin_create_user, admin_disable_user, admin_enable_user, delete_user};
