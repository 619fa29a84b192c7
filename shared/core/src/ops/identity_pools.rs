// Shim until the callers switch (issue 16).
pub use crate::identity::{
    create_identity_pool, delete_identity_pool, describe_identity_pool, get_identity_pool_roles,
    list_identity_pools, set_identity_pool_roles, update_identity_pool,
};
