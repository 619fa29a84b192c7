//! Cognito user pools (the `cognito-idp` service): the operations and the mechanics they share.
//!
//! One folder per area; each area's `mod.rs` lists its operations and the file of each, and the
//! `pub use` table below re-exports every operation flat. The helper modules here (`access`,
//! `codes`, `delivery`, `secrets`, `lockout`, `settings`, `unknown_names`) and each area's
//! `records.rs` are what operation files share; an operation file never imports another's.

pub mod access;
pub mod auth;
pub mod codes;
pub mod delivery;
pub mod devices;
pub mod groups;
pub mod import;
pub mod lockout;
pub mod mfa;
pub mod pools;
pub mod secrets;
pub mod settings;
pub mod triggers;
pub mod unknown_names;
pub mod users;

// The operations, flat: callers name `user_pool::<operation>`, never a file. One group per
// file, the file named above it.

// users/sign_up.rs
pub use users::{confirm_sign_up, resend_confirmation_code, sign_up};
// users/admin.rs
pub use users::{
    admin_confirm_sign_up, admin_create_user, admin_delete_user, admin_disable_user, admin_enable_user,
    admin_get_user,
};
// users/account.rs
pub use users::{delete_user, get_user};
// users/attributes.rs
pub use users::{
    admin_delete_user_attributes, admin_update_user_attributes, delete_user_attributes,
    get_user_attribute_verification_code, update_user_attributes, verify_user_attribute,
};
// users/passwords.rs
pub use users::{
    admin_reset_user_password, admin_set_user_password, change_password, confirm_forgot_password,
    forgot_password,
};
// users/search.rs
pub use users::list_users;

// devices/operations.rs
pub use devices::{
    admin_forget_device, admin_get_device, admin_list_devices, admin_update_device_status, confirm_device,
    forget_device, get_device, list_devices, update_device_status,
};

// mfa/config.rs
pub use mfa::{get_user_pool_mfa_config, set_user_pool_mfa_config};
// mfa/software_token.rs
pub use mfa::{associate_software_token, verify_software_token};
// mfa/preferences.rs
pub use mfa::{
    admin_set_user_mfa_preference, admin_set_user_settings, set_user_mfa_preference, set_user_settings,
};

// groups/operations.rs
pub use groups::{
    admin_add_user_to_group, admin_list_groups_for_user, admin_remove_user_from_group, create_group,
    delete_group, get_group, list_groups, list_users_in_group, update_group,
};

// pools/user_pools.rs
pub use pools::{
    add_custom_attributes, create_user_pool, delete_user_pool, describe_user_pool, list_user_pools,
    update_user_pool,
};
// pools/clients.rs
pub use pools::{
    create_user_pool_client, delete_user_pool_client, describe_user_pool_client, list_user_pool_clients,
    update_user_pool_client,
};

// import/jobs.rs
pub use import::{
    create_user_import_job, describe_user_import_job, get_csv_header, list_user_import_jobs,
    start_user_import_job, stop_user_import_job,
};

// auth/initiate.rs
pub use auth::{admin_initiate_auth, initiate_auth};
// auth/respond.rs
pub use auth::{admin_respond_to_auth_challenge, respond_to_auth_challenge};
// auth/refresh.rs
pub use auth::get_tokens_from_refresh_token;
// auth/sign_out.rs
pub use auth::{admin_user_global_sign_out, global_sign_out, revoke_token};
