//! The table from Cognito operation name to the domain function that serves it.

use serde_json::Value;
use tessera_core::ops::{auth, clients, groups, pools, users};
use tessera_core::{CallContext, Result, Service};

/// Every cognito-idp operation this version serves. Others answer a clear error.
pub const IMPLEMENTED: &[&str] = &[
    "AdminAddUserToGroup",
    "AdminConfirmSignUp",
    "AdminDeleteUser",
    "AdminGetUser",
    "AdminInitiateAuth",
    "AdminListGroupsForUser",
    "AdminRemoveUserFromGroup",
    "AdminUserGlobalSignOut",
    "ConfirmSignUp",
    "CreateGroup",
    "CreateUserPool",
    "CreateUserPoolClient",
    "DeleteGroup",
    "DeleteUserPool",
    "DeleteUserPoolClient",
    "DescribeUserPool",
    "DescribeUserPoolClient",
    "GetGroup",
    "GetUser",
    "GlobalSignOut",
    "InitiateAuth",
    "ListGroups",
    "ListUserPoolClients",
    "ListUserPools",
    "ListUsersInGroup",
    "ResendConfirmationCode",
    "RevokeToken",
    "SignUp",
    "UpdateGroup",
    "UpdateUserPool",
    "UpdateUserPoolClient",
];

/// Runs one operation. `None` when the operation is not implemented.
pub async fn call(svc: &Service, ctx: &CallContext, op: &str, input: &Value) -> Option<Result<Value>> {
    Some(match op {
        "AdminAddUserToGroup" => groups::admin_add_user_to_group(svc, input).await,
        "AdminConfirmSignUp" => users::admin_confirm_sign_up(svc, input).await,
        "AdminDeleteUser" => users::admin_delete_user(svc, input).await,
        "AdminGetUser" => users::admin_get_user(svc, input).await,
        "AdminInitiateAuth" => auth::admin_initiate_auth(svc, ctx, input).await,
        "AdminListGroupsForUser" => groups::admin_list_groups_for_user(svc, input).await,
        "AdminRemoveUserFromGroup" => groups::admin_remove_user_from_group(svc, input).await,
        "AdminUserGlobalSignOut" => auth::admin_user_global_sign_out(svc, input).await,
        "ConfirmSignUp" => users::confirm_sign_up(svc, input).await,
        "CreateGroup" => groups::create_group(svc, input).await,
        "CreateUserPool" => pools::create_user_pool(svc, input).await,
        "CreateUserPoolClient" => clients::create_user_pool_client(svc, input).await,
        "DeleteGroup" => groups::delete_group(svc, input).await,
        "DeleteUserPool" => pools::delete_user_pool(svc, input).await,
        "DeleteUserPoolClient" => clients::delete_user_pool_client(svc, input).await,
        "DescribeUserPool" => pools::describe_user_pool(svc, input).await,
        "DescribeUserPoolClient" => clients::describe_user_pool_client(svc, input).await,
        "GetGroup" => groups::get_group(svc, input).await,
        "GetUser" => users::get_user(svc, ctx, input).await,
        "GlobalSignOut" => auth::global_sign_out(svc, ctx, input).await,
        "InitiateAuth" => auth::initiate_auth(svc, ctx, input).await,
        "ListGroups" => groups::list_groups(svc, input).await,
        "ListUserPoolClients" => clients::list_user_pool_clients(svc, input).await,
        "ListUserPools" => pools::list_user_pools(svc, input).await,
        "ListUsersInGroup" => groups::list_users_in_group(svc, input).await,
        "ResendConfirmationCode" => users::resend_confirmation_code(svc, input).await,
        "RevokeToken" => auth::revoke_token(svc, input).await,
        "SignUp" => users::sign_up(svc, input).await,
        "UpdateGroup" => groups::update_group(svc, input).await,
        "UpdateUserPool" => pools::update_user_pool(svc, input).await,
        "UpdateUserPoolClient" => clients::update_user_pool_client(svc, input).await,
        _ => return None,
    })
}
