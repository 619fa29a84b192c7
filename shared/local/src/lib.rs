//! Tessera's local runtime: the embedded store, the outbox and the HTTP server that hosts every
//! operation on one port — the same wire layer and handlers the Lambda functions use.

pub mod backup;
pub mod conn;
pub mod cost;
pub mod credentials;
pub mod embedded;
pub mod import;
pub mod import_cognito;
pub mod keyfile;
pub mod outbox;
pub mod push;
pub mod server;
pub mod startup;
pub mod tls;

pub use conn::HttpLimits;
pub use server::{start, LocalConfig, Running, StoreKind};
