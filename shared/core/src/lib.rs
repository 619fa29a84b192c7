//! Tessera's domain core: user pools, app clients, users, auth flows and tokens.
//! It knows no AWS SDK and no HTTP; it reaches the world through the ports in [`ports`] and
//! [`store`].

pub mod attribute_rules;
pub mod backup;
pub mod error;
pub mod html;
pub mod identity;
pub mod ids;
pub mod input;
pub mod keys;
pub mod lockout;
pub mod model;
pub mod password;
pub mod ports;
pub mod retry;
pub mod schema;
pub mod service;
pub mod srp;
pub mod store;
pub mod sync;
pub mod tessera_service;
pub mod tokens;
pub mod triggers;
pub mod user_index;
pub mod user_pool;

pub use error::{Error, Result};
// Shim until the callers switch (issue 16).
pub use identity::{credentials as identity_credentials, tokens as identity_tokens};
pub use service::{AuthDomains, CallContext, Limits, Principal, Service, ServiceConfig};
