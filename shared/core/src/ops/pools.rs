// Shim until the callers switch (issue 16): these operations are in `user_pool::pools`.
pub use crate::user_pool::pools::{
    create_user_pool, delete_user_pool, describe_user_pool, list_user_pools, update_user_pool,
};
