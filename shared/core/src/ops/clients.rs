// Shim until the callers switch (issue 16): these operations are in `user_pool::pools`.
pub use crate::user_pool::pools::{
    create_user_pool_client, delete_user_pool_client, describe_user_pool_client, list_user_pool_clients,
    update_user_pool_client,
};
