//! End-to-end tests: a real `tessera` server per test, the official AWS SDK as the client.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod common;
mod lambda_double;
mod srp_proof;

mod admin_users;
mod aliases;
mod attack_codes;
mod attack_enumeration;
mod attack_misc;
mod attack_sigv4;
mod attack_tokens;
mod attributes;
mod auth;
mod auth_factors;
mod clients;
mod concurrency;
mod devices;
mod functions;
mod groups;
mod identity_pools;
mod identity_sync_flow;
mod identity_tokens;
mod import;
mod js_client;
mod js_sync_client;
mod lifecycle;
mod local_safety;
mod mfa;
mod passwords;
mod pools;
mod pre_signup_hook;
mod search;
mod settings;
mod signup;
mod srp;
mod sync;
mod sync_push;
mod throttling;
mod tokens;
mod triggers_auth;
mod triggers_lifecycle;
mod triggers_tokens;
mod validation;
mod wire;
