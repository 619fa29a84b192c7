//! One module per area; one public function per Cognito operation, named after it.

pub mod admin_users;
pub mod attributes;
pub mod auth;
pub mod clients;
pub mod devices;
pub mod groups;
pub mod identities;
pub mod identity_pools;
pub mod import;
pub mod mfa;
pub mod passwords;
pub mod pools;
pub mod refresh;
pub mod search;
pub mod sync_push;
pub mod sync_records;
pub mod users;
