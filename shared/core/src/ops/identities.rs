// Shim until the callers switch (issue 16).
pub use crate::identity::{
    delete_identities, describe_identity, get_credentials_for_identity, get_id, get_open_id_token,
    get_open_id_token_for_developer_identity, list_identities, lookup_developer_identity,
    merge_developer_identities, unlink_developer_identity, unlink_identity,
};
