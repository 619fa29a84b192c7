//! Sign-in: the flows and the session families they open.

pub mod refresh_family;
