//! User pools and their app clients.

mod user_pools;

pub use user_pools::add_custom_attributes;
