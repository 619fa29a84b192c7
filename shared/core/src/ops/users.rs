// Shim until the callers switch (issue 16): these operations are in `user_pool::users`.
pub use crate::user_pool::users::{
    admin_confirm_sign_up, admin_delete_user, admin_get_user, confirm_sign_up, get_user,
    resend_confirmation_code, sign_up,
};
