//! Tessera's domain core: user pools, app clients, users, auth flows and tokens.
//! It knows no AWS SDK and no HTTP; it reaches the world through the ports in [`ports`] and
//! [`store`].

pub mod error;
pub mod ports;
pub mod store;

pub use error::{Error, Result};
