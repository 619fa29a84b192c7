//! Cognito Identity (`cognito-identity`): identity pools, the identities in them, the logins
//! linked to those identities, and the OpenID tokens and AWS credentials handed out for them.
//!
//! Operations, and the file that serves each (the functions carry the operation's name):
//!
//! | Operation | File |
//! |---|---|
//! | CreateIdentityPool | `pools.rs` |
//! | DescribeIdentityPool | `pools.rs` |
//! | UpdateIdentityPool | `pools.rs` |
//! | DeleteIdentityPool | `pools.rs` |
//! | ListIdentityPools | `pools.rs` |
//! | SetIdentityPoolRoles | `pools.rs` |
//! | GetIdentityPoolRoles | `pools.rs` |
//! | GetId | `identities.rs` |
//! | GetOpenIdToken | `identities.rs` |
//! | GetCredentialsForIdentity | `identities.rs` |
//! | UnlinkIdentity | `identities.rs` |
//! | DescribeIdentity | `identities.rs` |
//! | ListIdentities | `identities.rs` |
//! | DeleteIdentities | `identities.rs` |
//! | GetOpenIdTokenForDeveloperIdentity | `developer.rs` |
//! | LookupDeveloperIdentity | `developer.rs` |
//! | MergeDeveloperIdentities | `developer.rs` |
//! | UnlinkDeveloperIdentity | `developer.rs` |
//!
//! The rooms the operations share:
//! - `pool.rs`: the identity pool record; `pool_config.rs`: the configuration Create/Update
//!   and SetIdentityPoolRoles accept, checked;
//! - `records.rs`: identities and their login items, as stored;
//! - `logins.rs`: verifying the tokens of a call's `Logins`;
//! - `linking.rs`: linking logins to identities and merging identities (`plan_link` decides);
//! - `resolve.rs`: which identity a token or credentials are for;
//! - `roles.rs`: which IAM role an identity gets;
//! - `tokens.rs`: the service's own OpenID tokens, its key, and credentials from STS;
//!   `credentials.rs`: the credentials handed out, remembered for Sync's signature checks;
//! - `errors.rs`, `input.rs`: errors and request members several operations share.
//!
//! Deleting or merging identities reaches into Sync through [`crate::sync::cleanup`].

pub mod credentials;
mod developer;
mod errors;
mod identities;
mod input;
mod linking;
mod logins;
mod pool;
mod pool_config;
mod pools;
mod records;
mod resolve;
mod roles;
pub mod tokens;

pub use developer::{
    get_open_id_token_for_developer_identity, lookup_developer_identity, merge_developer_identities,
    unlink_developer_identity,
};
pub use identities::{
    delete_identities, describe_identity, get_credentials_for_identity, get_id, get_open_id_token,
    list_identities, unlink_identity,
};
pub use pools::{
    create_identity_pool, delete_identity_pool, describe_identity_pool, get_identity_pool_roles,
    list_identity_pools, set_identity_pool_roles, update_identity_pool,
};
