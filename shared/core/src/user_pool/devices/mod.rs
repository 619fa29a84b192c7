//! Remembered devices: their records, and the device operations.
//!
//! Layout: one item per device under its user (`DEVICES#pool#userkey`, sk = device key). A
//! sign-in creates the device unconfirmed, with an expiry; ConfirmDevice stores the client's SRP
//! salt and verifier (the verifier sealed like users' verifiers) and removes the expiry. Device
//! items carry the user's `sub`, so a device a deleted user left behind never attaches to a later
//! user of the same name.
//!
//! Operations, and the file that serves each (the functions carry the operation's name):
//!
//! | Operation | File |
//! |---|---|
//! | ConfirmDevice | `operations.rs` |
//! | GetDevice | `operations.rs` |
//! | ListDevices | `operations.rs` |
//! | UpdateDeviceStatus | `operations.rs` |
//! | ForgetDevice | `operations.rs` |
//! | AdminGetDevice | `operations.rs` |
//! | AdminListDevices | `operations.rs` |
//! | AdminUpdateDeviceStatus | `operations.rs` |
//! | AdminForgetDevice | `operations.rs` |
//!
//! `records.rs` holds the device records, which sign-in also reads and writes.

mod operations;
pub mod records;

pub use operations::{
    admin_forget_device, admin_get_device, admin_list_devices, admin_update_device_status, confirm_device,
    forget_device, get_device, list_devices, update_device_status,
};
