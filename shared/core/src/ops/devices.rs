//! Remembered devices: ConfirmDevice, GetDevice, ListDevices, UpdateDeviceStatus, ForgetDevice
//! and their Admin variants, and the device records the sign-in flow reads and writes.
