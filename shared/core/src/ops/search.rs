// Shim until the callers switch (issue 16): ListUsers and its filter are in
// `user_pool::users::search`.
pub use crate::user_pool::users::list_users;
pub use crate::user_pool::users::search::{parse_filter, Filter, Match};
