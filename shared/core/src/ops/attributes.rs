// Shim until the callers switch (issue 16): these operations are in `user_pool::users` and
// `user_pool::pools`, the attribute-change helpers in `user_pool::users::attribute_changes`.
pub use crate::user_pool::pools::add_custom_attributes;
pub(crate) use crate::user_pool::users::attribute_changes::{apply_changes, save_and_send};
pub use crate::user_pool::users::{
    admin_delete_user_attributes, admin_update_user_attributes, delete_user_attributes,
    get_user_attribute_verification_code, update_user_attributes, verify_user_attribute,
};
