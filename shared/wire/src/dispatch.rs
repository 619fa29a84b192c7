//! The table from Cognito operation name to the domain function that serves it.

use serde_json::Value;
use tessera_core::ops::{attributes, auth, clients, pools, search, users};
use tessera_core::{CallContext, Result, Service};

/// Every cognito-idp operation this version serves. Others answer a clear error.
pub const IMPLEMENTED: &[&str] = &[
    "AddCustomAttributes",
    "AdminConfirmSignUp",
    "AdminDeleteUser",
    "AdminDeleteUserAttributes",
    "AdminGetUser",
    "AdminInitiateAuth",
    "AdminUpdateUserAttributes",
    "AdminUserGlobalSignOut",
    "ConfirmSignUp",
    "CreateUserPool",
    "CreateUserPoolClient",
    "DeleteUserAttributes",
    "DeleteUserPool",
    "DeleteUserPoolClient",
    "DescribeUserPool",
    "DescribeUserPoolClient",
    "GetUser",
    "GetUserAttributeVerificationCode",
    "GlobalSignOut",
    "InitiateAuth",
    "ListUserPoolClients",
    "ListUserPools",
    "ListUsers",
    "ResendConfirmationCode",
    "RevokeToken",
    "SignUp",
    "UpdateUserAttributes",
    "UpdateUserPool",
    "UpdateUserPoolClient",
    "VerifyUserAttribute",
];

/// Runs one operation. `None` when the operation is not implemented.
pub async fn call(svc: &Service, ctx: &CallContext, op: &str, input: &Value) -> Option<Result<Value>> {
    Some(match op {
        "AddCustomAttributes" => attributes::add_custom_attributes(svc, input).await,
        "AdminConfirmSignUp" => users::admin_confirm_sign_up(svc, input).await,
        "AdminDeleteUser" => users::admin_delete_user(svc, input).await,
        "AdminDeleteUserAttributes" => attributes::admin_delete_user_attributes(svc, input).await,
        "AdminGetUser" => users::admin_get_user(svc, input).await,
        "AdminInitiateAuth" => auth::admin_initiate_auth(svc, ctx, input).await,
        "AdminUpdateUserAttributes" => attributes::admin_update_user_attributes(svc, input).await,
        "AdminUserGlobalSignOut" => auth::admin_user_global_sign_out(svc, input).await,
        "ConfirmSignUp" => users::confirm_sign_up(svc, input).await,
        "CreateUserPool" => pools::create_user_pool(svc, input).await,
        "CreateUserPoolClient" => clients::create_user_pool_client(svc, input).await,
        "DeleteUserAttributes" => attributes::delete_user_attributes(svc, ctx, input).await,
        "DeleteUserPool" => pools::delete_user_pool(svc, input).await,
        "DeleteUserPoolClient" => clients::delete_user_pool_client(svc, input).await,
        "DescribeUserPool" => pools::describe_user_pool(svc, input).await,
        "DescribeUserPoolClient" => clients::describe_user_pool_client(svc, input).await,
        "GetUser" => users::get_user(svc, ctx, input).await,
        "GetUserAttributeVerificationCode" => {
            attributes::get_user_attribute_verification_code(svc, ctx, input).await
        }
        "GlobalSignOut" => auth::global_sign_out(svc, ctx, input).await,
        "InitiateAuth" => auth::initiate_auth(svc, ctx, input).await,
        "ListUserPoolClients" => clients::list_user_pool_clients(svc, input).await,
        "ListUserPools" => pools::list_user_pools(svc, input).await,
        "ListUsers" => search::list_users(svc, input).await,
        "ResendConfirmationCode" => users::resend_confirmation_code(svc, input).await,
        "RevokeToken" => auth::revoke_token(svc, input).await,
        "SignUp" => users::sign_up(svc, input).await,
        "UpdateUserAttributes" => attributes::update_user_attributes(svc, ctx, input).await,
        "UpdateUserPool" => pools::update_user_pool(svc, input).await,
        "UpdateUserPoolClient" => clients::update_user_pool_client(svc, input).await,
        "VerifyUserAttribute" => attributes::verify_user_attribute(svc, ctx, input).await,
        _ => return None,
    })
}
