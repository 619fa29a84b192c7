// Shim until the callers switch (issue 16).
pub use crate::sync::{
    bulk_publish, delete_identity_devices, get_bulk_publish_details, get_cognito_events,
    get_identity_pool_configuration, move_devices_on_merge, notify_dataset_changed, register_device,
    set_cognito_events, set_identity_pool_configuration, subscribe_to_dataset, sync_trigger_function,
    unsubscribe_from_dataset,
};
