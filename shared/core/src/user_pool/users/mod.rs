//! Users: sign-up, accounts, attributes and passwords.

pub mod records;
