// Shim until the callers switch (issue 16): these operations are in `user_pool::users`.
pub use crate::user_pool::users::{
    admin_reset_user_password, admin_set_user_password, change_password, confirm_forgot_password,
    forgot_password,
};
