// Shim until the callers switch (issue 16): these operations are in `user_pool::groups`, the
// token claims in `user_pool::groups::claims`.
pub(crate) use crate::user_pool::groups::claims::group_claims;
pub use crate::user_pool::groups::claims::GroupClaims;
pub use crate::user_pool::groups::{
    admin_add_user_to_group, admin_list_groups_for_user, admin_remove_user_from_group, create_group,
    delete_group, get_group, list_groups, list_users_in_group, update_group,
};
