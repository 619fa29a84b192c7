//! Cognito Sync (`cognito-sync`): datasets of key-value records per identity, kept in step
//! across an identity's devices, with the pool's settings, the SyncTrigger and push sync.
//!
//! Operations, and the file that serves each (the functions carry the operation's name):
//!
//! | Operation | File |
//! |---|---|
//! | ListDatasets | `datasets.rs` |
//! | DescribeDataset | `datasets.rs` |
//! | DeleteDataset | `datasets.rs` |
//! | ListRecords | `records.rs` |
//! | UpdateRecords | `records.rs` |
//! | DescribeIdentityUsage | `usage.rs` |
//! | DescribeIdentityPoolUsage | `usage.rs` |
//! | ListIdentityPoolUsage | `usage.rs` |
//! | GetIdentityPoolConfiguration | `config.rs` |
//! | SetIdentityPoolConfiguration | `config.rs` |
//! | GetCognitoEvents | `config.rs` |
//! | SetCognitoEvents | `config.rs` |
//! | BulkPublish | `config.rs` |
//! | GetBulkPublishDetails | `config.rs` |
//! | RegisterDevice | `devices.rs` |
//! | SubscribeToDataset | `devices.rs` |
//! | UnsubscribeFromDataset | `devices.rs` |
//!
//! The rooms the operations share:
//! - `engine/`: how datasets and records are stored, read, planned and committed (its module
//!   documentation describes the layout);
//! - `access.rs`: who may call which operation; `request.rs`: the path and members every dataset
//!   operation checks; `tokens.rs`: sync session and page tokens;
//! - `patches.rs`: UpdateRecords' patches, checked and resolved; `trigger.rs`: the SyncTrigger;
//! - `settings.rs`: the pool's Sync settings; `push.rs`: push devices and subscriptions as
//!   stored; `notify.rs`: the silent push after a change;
//! - `cleanup.rs`: what the identity operations call when identities go or merge.

mod access;
pub(crate) mod cleanup;
mod config;
mod datasets;
mod devices;
mod engine;
mod notify;
mod patches;
mod push;
mod records;
mod request;
mod settings;
#[cfg(test)]
mod testing;
mod tokens;
mod trigger;
mod usage;

pub use config::{
    bulk_publish, get_bulk_publish_details, get_cognito_events, get_identity_pool_configuration,
    set_cognito_events, set_identity_pool_configuration,
};
pub use datasets::{delete_dataset, describe_dataset, list_datasets};
pub use devices::{register_device, subscribe_to_dataset, unsubscribe_from_dataset};
pub use records::{list_records, update_records};
pub use usage::{describe_identity_pool_usage, describe_identity_usage, list_identity_pool_usage};

// Used by the identity operations (through `cleanup`), and by tests and the fuzzer.
pub use cleanup::{
    delete_identity_data, delete_identity_devices, delete_pool_data, move_datasets_on_merge,
    move_devices_on_merge,
};
pub use notify::notify_dataset_changed;
pub use patches::{parse_patches, Patch};
pub use settings::sync_trigger_function;
