//! Groups: the group operations, memberships, and the group claims of tokens.
//!
//! Operations, and the file that serves each (the functions carry the operation's name):
//!
//! | Operation | File |
//! |---|---|
//! | CreateGroup | `operations.rs` |
//! | GetGroup | `operations.rs` |
//! | UpdateGroup | `operations.rs` |
//! | DeleteGroup | `operations.rs` |
//! | ListGroups | `operations.rs` |
//! | AdminAddUserToGroup | `operations.rs` |
//! | AdminRemoveUserFromGroup | `operations.rs` |
//! | AdminListGroupsForUser | `operations.rs` |
//! | ListUsersInGroup | `operations.rs` |
//!
//! The rooms the operations share:
//! - `records.rs`: groups and memberships as stored (their layout), and removing a deleted
//!   user's or pool's memberships;
//! - `claims.rs`: the group claims of a user's tokens (sign-in and the pre token generation
//!   trigger read them).

pub(crate) mod claims;
mod operations;
pub(crate) mod records;

pub use operations::{
    admin_add_user_to_group, admin_list_groups_for_user, admin_remove_user_from_group, create_group,
    delete_group, get_group, list_groups, list_users_in_group, update_group,
};
