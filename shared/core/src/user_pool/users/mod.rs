//! Users: sign-up, the administrators' and the users' own account operations, attributes,
//! passwords and the user search.
//!
//! Operations, and the file that serves each (the functions carry the operation's name):
//!
//! | Operation | File |
//! |---|---|
//! | SignUp | `sign_up.rs` |
//! | ConfirmSignUp | `sign_up.rs` |
//! | ResendConfirmationCode | `sign_up.rs` |
//! | AdminCreateUser | `admin.rs` |
//! | AdminConfirmSignUp | `admin.rs` |
//! | AdminGetUser | `admin.rs` |
//! | AdminDeleteUser | `admin.rs` |
//! | AdminDisableUser | `admin.rs` |
//! | AdminEnableUser | `admin.rs` |
//! | GetUser | `account.rs` |
//! | DeleteUser | `account.rs` |
//! | UpdateUserAttributes | `attributes.rs` |
//! | AdminUpdateUserAttributes | `attributes.rs` |
//! | DeleteUserAttributes | `attributes.rs` |
//! | AdminDeleteUserAttributes | `attributes.rs` |
//! | GetUserAttributeVerificationCode | `attributes.rs` |
//! | VerifyUserAttribute | `attributes.rs` |
//! | ForgotPassword | `passwords.rs` |
//! | ConfirmForgotPassword | `passwords.rs` |
//! | ChangePassword | `passwords.rs` |
//! | AdminSetUserPassword | `passwords.rs` |
//! | AdminResetUserPassword | `passwords.rs` |
//! | ListUsers | `search.rs` |
//!
//! The rooms the operations share:
//! - `records.rs`: internal usernames, and deleting a user with everything pointing at it;
//! - `attribute_changes.rs`: applying and saving attribute changes (also used by sign-in's
//!   NEW_PASSWORD_REQUIRED answer).
//!
//! AddCustomAttributes changes the pool, not a user: it is in `pools/user_pools.rs`.

mod account;
mod admin;
pub(crate) mod attribute_changes;
mod attributes;
mod passwords;
pub mod records;
pub mod search;
mod sign_up;

pub use account::{delete_user, get_user};
pub use admin::{
    admin_confirm_sign_up, admin_create_user, admin_delete_user, admin_disable_user, admin_enable_user,
    admin_get_user,
};
pub use attributes::{
    admin_delete_user_attributes, admin_update_user_attributes, delete_user_attributes,
    get_user_attribute_verification_code, update_user_attributes, verify_user_attribute,
};
pub use passwords::{
    admin_reset_user_password, admin_set_user_password, change_password, confirm_forgot_password,
    forgot_password,
};
pub use search::list_users;
pub use sign_up::{confirm_sign_up, resend_confirmation_code, sign_up};
