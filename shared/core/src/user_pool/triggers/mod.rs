//! The user-pool triggers: where each is built, invoked and read.

pub mod lifecycle;
