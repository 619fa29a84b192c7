//! The table from Cognito operation name to the domain function that serves it.

use serde_json::Value;
use tessera_core::ops::{auth, clients, import, pools, users};
use tessera_core::{CallContext, Result, Service};

/// Every cognito-idp operation this version serves. Others answer a clear error.
pub const IMPLEMENTED: &[&str] = &[
    "AdminConfirmSignUp",
    "AdminDeleteUser",
    "AdminGetUser",
    "AdminInitiateAuth",
    "AdminUserGlobalSignOut",
    "ConfirmSignUp",
    "CreateUserImportJob",
    "CreateUserPool",
    "CreateUserPoolClient",
    "DeleteUserPool",
    "DeleteUserPoolClient",
    "DescribeUserImportJob",
    "DescribeUserPool",
    "DescribeUserPoolClient",
    "GetCSVHeader",
    "GetUser",
    "GlobalSignOut",
    "InitiateAuth",
    "ListUserImportJobs",
    "ListUserPoolClients",
    "ListUserPools",
    "ResendConfirmationCode",
    "RevokeToken",
    "SignUp",
    "StartUserImportJob",
    "StopUserImportJob",
    "UpdateUserPool",
    "UpdateUserPoolClient",
];

/// Runs one operation. `None` when the operation is not implemented.
pub async fn call(svc: &Service, ctx: &CallContext, op: &str, input: &Value) -> Option<Result<Value>> {
    Some(match op {
        "AdminConfirmSignUp" => users::admin_confirm_sign_up(svc, input).await,
        "AdminDeleteUser" => users::admin_delete_user(svc, input).await,
        "AdminGetUser" => users::admin_get_user(svc, input).await,
        "AdminInitiateAuth" => auth::admin_initiate_auth(svc, ctx, input).await,
        "AdminUserGlobalSignOut" => auth::admin_user_global_sign_out(svc, input).await,
        "ConfirmSignUp" => users::confirm_sign_up(svc, input).await,
        "CreateUserImportJob" => import::create_user_import_job(svc, input).await,
        "CreateUserPool" => pools::create_user_pool(svc, input).await,
        "CreateUserPoolClient" => clients::create_user_pool_client(svc, input).await,
        "DeleteUserPool" => pools::delete_user_pool(svc, input).await,
        "DeleteUserPoolClient" => clients::delete_user_pool_client(svc, input).await,
        "DescribeUserImportJob" => import::describe_user_import_job(svc, input).await,
        "DescribeUserPool" => pools::describe_user_pool(svc, input).await,
        "DescribeUserPoolClient" => clients::describe_user_pool_client(svc, input).await,
        "GetCSVHeader" => import::get_csv_header(svc, input).await,
        "GetUser" => users::get_user(svc, ctx, input).await,
        "GlobalSignOut" => auth::global_sign_out(svc, ctx, input).await,
        "InitiateAuth" => auth::initiate_auth(svc, ctx, input).await,
        "ListUserImportJobs" => import::list_user_import_jobs(svc, input).await,
        "ListUserPoolClients" => clients::list_user_pool_clients(svc, input).await,
        "ListUserPools" => pools::list_user_pools(svc, input).await,
        "ResendConfirmationCode" => users::resend_confirmation_code(svc, input).await,
        "RevokeToken" => auth::revoke_token(svc, input).await,
        "SignUp" => users::sign_up(svc, input).await,
        "StartUserImportJob" => import::start_user_import_job(svc, input).await,
        "StopUserImportJob" => import::stop_user_import_job(svc, input).await,
        "UpdateUserPool" => pools::update_user_pool(svc, input).await,
        "UpdateUserPoolClient" => clients::update_user_pool_client(svc, input).await,
        _ => return None,
    })
}
