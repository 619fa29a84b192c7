//! The tables from operation name to the domain function that serves it: one per service
//! (cognito-idp, cognito-identity, cognito-sync; operation names repeat across services).

use serde_json::Value;
use tessera_core::ops::{
    admin_users, attributes, auth, clients, devices, groups, identities, identity_pools, import, mfa,
    passwords, pools, refresh, search, sync_records, users,
};
use tessera_core::{CallContext, Result, Service};

/// The services Tessera serves, by their endpoint prefix (and SigV4 name).
pub const COGNITO_IDP: &str = "cognito-idp";
pub const COGNITO_IDENTITY: &str = "cognito-identity";
pub const COGNITO_SYNC: &str = "cognito-sync";

/// Runs one cognito-idp operation. `None` when the operation is not implemented.
pub async fn call(svc: &Service, ctx: &CallContext, op: &str, input: &Value) -> Option<Result<Value>> {
    // On the heap: the largest operation's future (a sign-in's whole state machine) would
    // otherwise be part of every caller's future, and debug builds overflow 2 MiB stacks.
    Box::pin(run(svc, ctx, op, input)).await
}

/// Runs one operation of `service`. `None` when the operation is not implemented.
pub async fn call_service(
    svc: &Service,
    ctx: &CallContext,
    service: &str,
    op: &str,
    input: &Value,
) -> Option<Result<Value>> {
    match service {
        COGNITO_IDP => call(svc, ctx, op, input).await,
        COGNITO_IDENTITY => Box::pin(run_identity(svc, ctx, op, input)).await,
        COGNITO_SYNC => Box::pin(run_sync(svc, ctx, op, input)).await,
        _ => None,
    }
}

async fn run_identity(svc: &Service, ctx: &CallContext, op: &str, input: &Value) -> Option<Result<Value>> {
    Some(match op {
        // identity pools (ops::identity_pools, ops::identities)
        "CreateIdentityPool" => identity_pools::create_identity_pool(svc, input).await,
        "DeleteIdentityPool" => identity_pools::delete_identity_pool(svc, input).await,
        "DescribeIdentityPool" => identity_pools::describe_identity_pool(svc, input).await,
        "GetIdentityPoolRoles" => identity_pools::get_identity_pool_roles(svc, input).await,
        "ListIdentityPools" => identity_pools::list_identity_pools(svc, input).await,
        "SetIdentityPoolRoles" => identity_pools::set_identity_pool_roles(svc, input).await,
        "UpdateIdentityPool" => identity_pools::update_identity_pool(svc, input).await,
        "DeleteIdentities" => identities::delete_identities(svc, input).await,
        "DescribeIdentity" => identities::describe_identity(svc, input).await,
        "GetCredentialsForIdentity" => identities::get_credentials_for_identity(svc, ctx, input).await,
        "GetId" => identities::get_id(svc, ctx, input).await,
        "GetOpenIdToken" => identities::get_open_id_token(svc, ctx, input).await,
        "GetOpenIdTokenForDeveloperIdentity" => {
            identities::get_open_id_token_for_developer_identity(svc, ctx, input).await
        }
        "ListIdentities" => identities::list_identities(svc, input).await,
        "LookupDeveloperIdentity" => identities::lookup_developer_identity(svc, input).await,
        "MergeDeveloperIdentities" => identities::merge_developer_identities(svc, input).await,
        "UnlinkDeveloperIdentity" => identities::unlink_developer_identity(svc, input).await,
        "UnlinkIdentity" => identities::unlink_identity(svc, ctx, input).await,
        _ => return None,
    })
}

async fn run_sync(svc: &Service, ctx: &CallContext, op: &str, input: &Value) -> Option<Result<Value>> {
    Some(match op {
        // sync records (ops::sync_records)
        "DeleteDataset" => sync_records::delete_dataset(svc, ctx, input).await,
        "DescribeDataset" => sync_records::describe_dataset(svc, ctx, input).await,
        "DescribeIdentityPoolUsage" => sync_records::describe_identity_pool_usage(svc, ctx, input).await,
        "DescribeIdentityUsage" => sync_records::describe_identity_usage(svc, ctx, input).await,
        "ListDatasets" => sync_records::list_datasets(svc, ctx, input).await,
        "ListIdentityPoolUsage" => sync_records::list_identity_pool_usage(svc, ctx, input).await,
        "ListRecords" => sync_records::list_records(svc, ctx, input).await,
        "UpdateRecords" => sync_records::update_records(svc, ctx, input).await,

        // sync push and configuration (ops::sync_push)
        "BulkPublish" => tessera_core::ops::sync_push::bulk_publish(svc, ctx, input).await,
        "GetBulkPublishDetails" => {
            tessera_core::ops::sync_push::get_bulk_publish_details(svc, ctx, input).await
        }
        "GetCognitoEvents" => tessera_core::ops::sync_push::get_cognito_events(svc, ctx, input).await,
        "GetIdentityPoolConfiguration" => {
            tessera_core::ops::sync_push::get_identity_pool_configuration(svc, ctx, input).await
        }
        "RegisterDevice" => tessera_core::ops::sync_push::register_device(svc, ctx, input).await,
        "SetCognitoEvents" => tessera_core::ops::sync_push::set_cognito_events(svc, ctx, input).await,
        "SetIdentityPoolConfiguration" => {
            tessera_core::ops::sync_push::set_identity_pool_configuration(svc, ctx, input).await
        }
        "SubscribeToDataset" => tessera_core::ops::sync_push::subscribe_to_dataset(svc, ctx, input).await,
        "UnsubscribeFromDataset" => {
            tessera_core::ops::sync_push::unsubscribe_from_dataset(svc, ctx, input).await
        }
        _ => return None,
    })
}

async fn run(svc: &Service, ctx: &CallContext, op: &str, input: &Value) -> Option<Result<Value>> {
    Some(match op {
        "AdminAddUserToGroup" => groups::admin_add_user_to_group(svc, input).await,
        "AddCustomAttributes" => attributes::add_custom_attributes(svc, input).await,
        "AdminConfirmSignUp" => users::admin_confirm_sign_up(svc, input).await,
        "AdminCreateUser" => admin_users::admin_create_user(svc, input).await,
        "AdminDeleteUser" => users::admin_delete_user(svc, input).await,
        "AdminDisableUser" => admin_users::admin_disable_user(svc, input).await,
        "AdminEnableUser" => admin_users::admin_enable_user(svc, input).await,
        "AdminGetUser" => users::admin_get_user(svc, input).await,
        "AdminInitiateAuth" => auth::admin_initiate_auth(svc, ctx, input).await,
        "AdminListGroupsForUser" => groups::admin_list_groups_for_user(svc, input).await,
        "AdminRemoveUserFromGroup" => groups::admin_remove_user_from_group(svc, input).await,
        "AdminResetUserPassword" => passwords::admin_reset_user_password(svc, input).await,
        "AdminRespondToAuthChallenge" => auth::admin_respond_to_auth_challenge(svc, ctx, input).await,
        "AdminSetUserPassword" => passwords::admin_set_user_password(svc, input).await,
        "AdminDeleteUserAttributes" => attributes::admin_delete_user_attributes(svc, input).await,
        "AdminUpdateUserAttributes" => attributes::admin_update_user_attributes(svc, input).await,
        "AdminUserGlobalSignOut" => auth::admin_user_global_sign_out(svc, input).await,
        "ChangePassword" => passwords::change_password(svc, ctx, input).await,
        "ConfirmForgotPassword" => passwords::confirm_forgot_password(svc, input).await,
        "ConfirmSignUp" => users::confirm_sign_up(svc, input).await,
        "CreateGroup" => groups::create_group(svc, input).await,
        "CreateUserImportJob" => import::create_user_import_job(svc, input).await,
        "CreateUserPool" => pools::create_user_pool(svc, input).await,
        "CreateUserPoolClient" => clients::create_user_pool_client(svc, input).await,
        "DeleteGroup" => groups::delete_group(svc, input).await,
        "DeleteUser" => admin_users::delete_user(svc, ctx, input).await,
        "DeleteUserAttributes" => attributes::delete_user_attributes(svc, ctx, input).await,
        "DeleteUserPool" => pools::delete_user_pool(svc, input).await,
        "DeleteUserPoolClient" => clients::delete_user_pool_client(svc, input).await,
        "DescribeUserImportJob" => import::describe_user_import_job(svc, input).await,
        "DescribeUserPool" => pools::describe_user_pool(svc, input).await,
        "DescribeUserPoolClient" => clients::describe_user_pool_client(svc, input).await,
        "ForgotPassword" => passwords::forgot_password(svc, input).await,
        "GetCSVHeader" => import::get_csv_header(svc, input).await,
        "GetGroup" => groups::get_group(svc, input).await,
        "GetUser" => users::get_user(svc, ctx, input).await,
        "GetUserAttributeVerificationCode" => {
            attributes::get_user_attribute_verification_code(svc, ctx, input).await
        }
        "GetTokensFromRefreshToken" => refresh::get_tokens_from_refresh_token(svc, ctx, input).await,
        "GlobalSignOut" => auth::global_sign_out(svc, ctx, input).await,
        "InitiateAuth" => auth::initiate_auth(svc, ctx, input).await,
        "ListGroups" => groups::list_groups(svc, input).await,
        "ListUserImportJobs" => import::list_user_import_jobs(svc, input).await,
        "ListUserPoolClients" => clients::list_user_pool_clients(svc, input).await,
        "ListUserPools" => pools::list_user_pools(svc, input).await,
        "ListUsers" => search::list_users(svc, input).await,
        "ListUsersInGroup" => groups::list_users_in_group(svc, input).await,
        "ResendConfirmationCode" => users::resend_confirmation_code(svc, input).await,
        "RespondToAuthChallenge" => auth::respond_to_auth_challenge(svc, ctx, input).await,
        "RevokeToken" => auth::revoke_token(svc, input).await,
        "SignUp" => users::sign_up(svc, input).await,
        "StartUserImportJob" => import::start_user_import_job(svc, input).await,
        "StopUserImportJob" => import::stop_user_import_job(svc, input).await,
        "UpdateGroup" => groups::update_group(svc, input).await,
        "UpdateUserAttributes" => attributes::update_user_attributes(svc, ctx, input).await,
        "UpdateUserPool" => pools::update_user_pool(svc, input).await,
        "UpdateUserPoolClient" => clients::update_user_pool_client(svc, input).await,
        "VerifyUserAttribute" => attributes::verify_user_attribute(svc, ctx, input).await,
        // MFA (ops::mfa)
        "AdminSetUserMFAPreference" => mfa::admin_set_user_mfa_preference(svc, input).await,
        "AdminSetUserSettings" => mfa::admin_set_user_settings(svc, input).await,
        "AssociateSoftwareToken" => mfa::associate_software_token(svc, ctx, input).await,
        "GetUserPoolMfaConfig" => mfa::get_user_pool_mfa_config(svc, input).await,
        "SetUserMFAPreference" => mfa::set_user_mfa_preference(svc, ctx, input).await,
        "SetUserPoolMfaConfig" => mfa::set_user_pool_mfa_config(svc, input).await,
        "SetUserSettings" => mfa::set_user_settings(svc, ctx, input).await,
        "VerifySoftwareToken" => mfa::verify_software_token(svc, ctx, input).await,

        // Devices (ops::devices)
        "ConfirmDevice" => devices::confirm_device(svc, ctx, input).await,
        "GetDevice" => devices::get_device(svc, ctx, input).await,
        "ListDevices" => devices::list_devices(svc, ctx, input).await,
        "UpdateDeviceStatus" => devices::update_device_status(svc, ctx, input).await,
        "ForgetDevice" => devices::forget_device(svc, ctx, input).await,
        "AdminGetDevice" => devices::admin_get_device(svc, input).await,
        "AdminListDevices" => devices::admin_list_devices(svc, input).await,
        "AdminUpdateDeviceStatus" => devices::admin_update_device_status(svc, input).await,
        "AdminForgetDevice" => devices::admin_forget_device(svc, input).await,

        _ => return None,
    })
}
