// Shim until the callers switch (issue 16): these operations are in `user_pool::mfa`.
pub use crate::user_pool::mfa::{
    admin_set_user_mfa_preference, admin_set_user_settings, associate_software_token,
    get_user_pool_mfa_config, set_user_mfa_preference, set_user_pool_mfa_config, set_user_settings,
    verify_software_token,
};
