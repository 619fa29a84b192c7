//! The tables from operation name to the domain function that serves it: one per service
//! (cognito-idp, cognito-identity, cognito-sync; operation names repeat across services).

use serde_json::Value;
use tessera_core::{identity, sync, user_pool};
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
        // identity pools (identity::)
        "CreateIdentityPool" => identity::create_identity_pool(svc, input).await,
        "DeleteIdentityPool" => identity::delete_identity_pool(svc, input).await,
        "DescribeIdentityPool" => identity::describe_identity_pool(svc, input).await,
        "GetIdentityPoolRoles" => identity::get_identity_pool_roles(svc, input).await,
        "ListIdentityPools" => identity::list_identity_pools(svc, input).await,
        "SetIdentityPoolRoles" => identity::set_identity_pool_roles(svc, input).await,
        "UpdateIdentityPool" => identity::update_identity_pool(svc, input).await,
        "DeleteIdentities" => identity::delete_identities(svc, input).await,
        "DescribeIdentity" => identity::describe_identity(svc, input).await,
        "GetCredentialsForIdentity" => identity::get_credentials_for_identity(svc, ctx, input).await,
        "GetId" => identity::get_id(svc, ctx, input).await,
        "GetOpenIdToken" => identity::get_open_id_token(svc, ctx, input).await,
        "GetOpenIdTokenForDeveloperIdentity" => {
            identity::get_open_id_token_for_developer_identity(svc, ctx, input).await
        }
        "ListIdentities" => identity::list_identities(svc, input).await,
        "LookupDeveloperIdentity" => identity::lookup_developer_identity(svc, input).await,
        "MergeDeveloperIdentities" => identity::merge_developer_identities(svc, input).await,
        "UnlinkDeveloperIdentity" => identity::unlink_developer_identity(svc, input).await,
        "UnlinkIdentity" => identity::unlink_identity(svc, ctx, input).await,
        _ => return None,
    })
}

async fn run_sync(svc: &Service, ctx: &CallContext, op: &str, input: &Value) -> Option<Result<Value>> {
    Some(match op {
        // sync datasets and records
        "DeleteDataset" => sync::delete_dataset(svc, ctx, input).await,
        "DescribeDataset" => sync::describe_dataset(svc, ctx, input).await,
        "DescribeIdentityPoolUsage" => sync::describe_identity_pool_usage(svc, ctx, input).await,
        "DescribeIdentityUsage" => sync::describe_identity_usage(svc, ctx, input).await,
        "ListDatasets" => sync::list_datasets(svc, ctx, input).await,
        "ListIdentityPoolUsage" => sync::list_identity_pool_usage(svc, ctx, input).await,
        "ListRecords" => sync::list_records(svc, ctx, input).await,
        "UpdateRecords" => sync::update_records(svc, ctx, input).await,

        // sync push and configuration
        "BulkPublish" => sync::bulk_publish(svc, ctx, input).await,
        "GetBulkPublishDetails" => sync::get_bulk_publish_details(svc, ctx, input).await,
        "GetCognitoEvents" => sync::get_cognito_events(svc, ctx, input).await,
        "GetIdentityPoolConfiguration" => sync::get_identity_pool_configuration(svc, ctx, input).await,
        "RegisterDevice" => sync::register_device(svc, ctx, input).await,
        "SetCognitoEvents" => sync::set_cognito_events(svc, ctx, input).await,
        "SetIdentityPoolConfiguration" => sync::set_identity_pool_configuration(svc, ctx, input).await,
        "SubscribeToDataset" => sync::subscribe_to_dataset(svc, ctx, input).await,
        "UnsubscribeFromDataset" => sync::unsubscribe_from_dataset(svc, ctx, input).await,
        _ => return None,
    })
}

async fn run(svc: &Service, ctx: &CallContext, op: &str, input: &Value) -> Option<Result<Value>> {
    Some(match op {
        "AdminAddUserToGroup" => user_pool::admin_add_user_to_group(svc, input).await,
        "AddCustomAttributes" => user_pool::add_custom_attributes(svc, input).await,
        "AdminConfirmSignUp" => user_pool::admin_confirm_sign_up(svc, input).await,
        "AdminCreateUser" => user_pool::admin_create_user(svc, input).await,
        "AdminDeleteUser" => user_pool::admin_delete_user(svc, input).await,
        "AdminDisableUser" => user_pool::admin_disable_user(svc, input).await,
        "AdminEnableUser" => user_pool::admin_enable_user(svc, input).await,
        "AdminGetUser" => user_pool::admin_get_user(svc, input).await,
        "AdminInitiateAuth" => user_pool::admin_initiate_auth(svc, ctx, input).await,
        "AdminListGroupsForUser" => user_pool::admin_list_groups_for_user(svc, input).await,
        "AdminRemoveUserFromGroup" => user_pool::admin_remove_user_from_group(svc, input).await,
        "AdminResetUserPassword" => user_pool::admin_reset_user_password(svc, input).await,
        "AdminRespondToAuthChallenge" => user_pool::admin_respond_to_auth_challenge(svc, ctx, input).await,
        "AdminSetUserPassword" => user_pool::admin_set_user_password(svc, input).await,
        "AdminDeleteUserAttributes" => user_pool::admin_delete_user_attributes(svc, input).await,
        "AdminUpdateUserAttributes" => user_pool::admin_update_user_attributes(svc, input).await,
        "AdminUserGlobalSignOut" => user_pool::admin_user_global_sign_out(svc, input).await,
        "ChangePassword" => user_pool::change_password(svc, ctx, input).await,
        "ConfirmForgotPassword" => user_pool::confirm_forgot_password(svc, input).await,
        "ConfirmSignUp" => user_pool::confirm_sign_up(svc, input).await,
        "CreateGroup" => user_pool::create_group(svc, input).await,
        "CreateUserImportJob" => user_pool::create_user_import_job(svc, input).await,
        "CreateUserPool" => user_pool::create_user_pool(svc, input).await,
        "CreateUserPoolClient" => user_pool::create_user_pool_client(svc, input).await,
        "DeleteGroup" => user_pool::delete_group(svc, input).await,
        "DeleteUser" => user_pool::delete_user(svc, ctx, input).await,
        "DeleteUserAttributes" => user_pool::delete_user_attributes(svc, ctx, input).await,
        "DeleteUserPool" => user_pool::delete_user_pool(svc, input).await,
        "DeleteUserPoolClient" => user_pool::delete_user_pool_client(svc, input).await,
        "DescribeUserImportJob" => user_pool::describe_user_import_job(svc, input).await,
        "DescribeUserPool" => user_pool::describe_user_pool(svc, input).await,
        "DescribeUserPoolClient" => user_pool::describe_user_pool_client(svc, input).await,
        "ForgotPassword" => user_pool::forgot_password(svc, input).await,
        "GetCSVHeader" => user_pool::get_csv_header(svc, input).await,
        "GetGroup" => user_pool::get_group(svc, input).await,
        "GetUser" => user_pool::get_user(svc, ctx, input).await,
        "GetUserAttributeVerificationCode" => {
            user_pool::get_user_attribute_verification_code(svc, ctx, input).await
        }
        "GetTokensFromRefreshToken" => user_pool::get_tokens_from_refresh_token(svc, ctx, input).await,
        "GlobalSignOut" => user_pool::global_sign_out(svc, ctx, input).await,
        "InitiateAuth" => user_pool::initiate_auth(svc, ctx, input).await,
        "ListGroups" => user_pool::list_groups(svc, input).await,
        "ListUserImportJobs" => user_pool::list_user_import_jobs(svc, input).await,
        "ListUserPoolClients" => user_pool::list_user_pool_clients(svc, input).await,
        "ListUserPools" => user_pool::list_user_pools(svc, input).await,
        "ListUsers" => user_pool::list_users(svc, input).await,
        "ListUsersInGroup" => user_pool::list_users_in_group(svc, input).await,
        "ResendConfirmationCode" => user_pool::resend_confirmation_code(svc, input).await,
        "RespondToAuthChallenge" => user_pool::respond_to_auth_challenge(svc, ctx, input).await,
        "RevokeToken" => user_pool::revoke_token(svc, input).await,
        "SignUp" => user_pool::sign_up(svc, input).await,
        "StartUserImportJob" => user_pool::start_user_import_job(svc, input).await,
        "StopUserImportJob" => user_pool::stop_user_import_job(svc, input).await,
        "UpdateGroup" => user_pool::update_group(svc, input).await,
        "UpdateUserAttributes" => user_pool::update_user_attributes(svc, ctx, input).await,
        "UpdateUserPool" => user_pool::update_user_pool(svc, input).await,
        "UpdateUserPoolClient" => user_pool::update_user_pool_client(svc, input).await,
        "VerifyUserAttribute" => user_pool::verify_user_attribute(svc, ctx, input).await,
        // MFA
        "AdminSetUserMFAPreference" => user_pool::admin_set_user_mfa_preference(svc, input).await,
        "AdminSetUserSettings" => user_pool::admin_set_user_settings(svc, input).await,
        "AssociateSoftwareToken" => user_pool::associate_software_token(svc, ctx, input).await,
        "GetUserPoolMfaConfig" => user_pool::get_user_pool_mfa_config(svc, input).await,
        "SetUserMFAPreference" => user_pool::set_user_mfa_preference(svc, ctx, input).await,
        "SetUserPoolMfaConfig" => user_pool::set_user_pool_mfa_config(svc, input).await,
        "SetUserSettings" => user_pool::set_user_settings(svc, ctx, input).await,
        "VerifySoftwareToken" => user_pool::verify_software_token(svc, ctx, input).await,

        // Devices
        "ConfirmDevice" => user_pool::confirm_device(svc, ctx, input).await,
        "GetDevice" => user_pool::get_device(svc, ctx, input).await,
        "ListDevices" => user_pool::list_devices(svc, ctx, input).await,
        "UpdateDeviceStatus" => user_pool::update_device_status(svc, ctx, input).await,
        "ForgetDevice" => user_pool::forget_device(svc, ctx, input).await,
        "AdminGetDevice" => user_pool::admin_get_device(svc, input).await,
        "AdminListDevices" => user_pool::admin_list_devices(svc, input).await,
        "AdminUpdateDeviceStatus" => user_pool::admin_update_device_status(svc, input).await,
        "AdminForgetDevice" => user_pool::admin_forget_device(svc, input).await,

        _ => return None,
    })
}
