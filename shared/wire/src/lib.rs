//! Tessera's wire layer: AWS JSON 1.1 requests in, Cognito-shaped responses and errors out.
//! Shared by the Lambda functions and the local server, so both speak the same bytes.

pub mod auth_domain;
pub mod error;
pub mod model;
pub mod sigv4;

pub use error::WireError;
pub mod dispatch;
pub mod http;
pub mod throttle;
