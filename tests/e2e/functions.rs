//! Placeholder until events land.
