//! Tessera's AWS adapters: the DynamoDB store, SES/SNS messaging, the KMS-held master key, and
//! the Lambda entry point every function binary calls.

pub mod config;
pub mod dynamo;
pub mod import;
pub mod kms;
pub mod lambda;
pub mod messaging;
pub mod push;
pub mod sts;
pub mod triggers;
pub mod web;

/// The error type Lambda mains return.
pub type BoxError = lambda_http::Error;
