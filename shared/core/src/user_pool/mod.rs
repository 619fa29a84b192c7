//! Cognito user pools (the `cognito-idp` service): the operations and the mechanics they share.

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

// The operations, flat: callers name `user_pool::<operation>`, never a file.

// Users (users/): sign_up.rs, admin.rs, account.rs, attributes.rs, passwords.rs, search.rs.
pub use users::{
    admin_confirm_sign_up, admin_create_user, admin_delete_user, admin_delete_user_attributes,
    admin_disable_user, admin_enable_user, admin_get_user, admin_reset_user_password,
    admin_set_user_password, admin_update_user_attributes, change_password, confirm_forgot_password,
    confirm_sign_up, delete_user, delete_user_attributes, forgot_password, get_user,
    get_user_attribute_verification_code, list_users, resend_confirmation_code, sign_up,
    update_user_attributes, verify_user_attribute,
};

// Devices (devices/operations.rs).
pub use devices::{
    admin_forget_device, admin_get_device, admin_list_devices, admin_update_device_status, confirm_device,
    forget_device, get_device, list_devices, update_device_status,
};

// MFA (mfa/): config.rs, software_token.rs, preferences.rs.
pub use mfa::{
    admin_set_user_mfa_preference, admin_set_user_settings, associate_software_token,
    get_user_pool_mfa_config, set_user_mfa_preference, set_user_pool_mfa_config, set_user_settings,
    verify_software_token,
};

// Groups (groups/operations.rs).
pub use groups::{
    admin_add_user_to_group, admin_list_groups_for_user, admin_remove_user_from_group, create_group,
    delete_group, get_group, list_groups, list_users_in_group, update_group,
};

// User pools and app clients (pools/): user_pools.rs, clients.rs.
pub use pools::{
    add_custom_attributes, create_user_pool, create_user_pool_client, delete_user_pool,
    delete_user_pool_client, describe_user_pool, describe_user_pool_client, list_user_pool_clients,
    list_user_pools, update_user_pool, update_user_pool_client,
};

// User import (import/jobs.rs).
pub use import::{
    create_user_import_job, describe_user_import_job, get_csv_header, list_user_import_jobs,
    start_user_import_job, stop_user_import_job,
};
