//! Remembered devices: their records, and the device operations.

pub mod records;
