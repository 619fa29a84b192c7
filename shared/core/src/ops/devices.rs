// Shim until the callers switch (issue 16): these operations are in `user_pool::devices`.
pub use crate::user_pool::devices::{
    admin_forget_device, admin_get_device, admin_list_devices, admin_update_device_status, confirm_device,
    forget_device, get_device, list_devices, update_device_status,
};
