//! User pools and their app clients.
//!
//! Operations, and the file that serves each (the functions carry the operation's name):
//!
//! | Operation | File |
//! |---|---|
//! | CreateUserPool | `user_pools.rs` |
//! | DescribeUserPool | `user_pools.rs` |
//! | UpdateUserPool | `user_pools.rs` |
//! | DeleteUserPool | `user_pools.rs` |
//! | ListUserPools | `user_pools.rs` |
//! | AddCustomAttributes | `user_pools.rs` |
//! | CreateUserPoolClient | `clients.rs` |
//! | DescribeUserPoolClient | `clients.rs` |
//! | UpdateUserPoolClient | `clients.rs` |
//! | DeleteUserPoolClient | `clients.rs` |
//! | ListUserPoolClients | `clients.rs` |
//!
//! The settings checks both share are in `user_pool/settings.rs`; the MFA settings of a pool
//! are checked by `user_pool/mfa/factors.rs`.

mod clients;
mod user_pools;

pub use clients::{
    create_user_pool_client, delete_user_pool_client, describe_user_pool_client, list_user_pool_clients,
    update_user_pool_client,
};
pub use user_pools::{
    add_custom_attributes, create_user_pool, delete_user_pool, describe_user_pool, list_user_pools,
    update_user_pool,
};
