// Shim until the callers switch (issue 16).
pub use crate::sync::{
    delete_dataset, delete_identity_data, delete_pool_data, describe_dataset, describe_identity_pool_usage,
    describe_identity_usage, list_datasets, list_identity_pool_usage, list_records, move_datasets_on_merge,
    parse_patches, update_records,
};
