//! Tessera's fuzzer (issue 14): request bodies generated from the AWS API models of the three
//! services, valid first and then mutated, served in-process by the wire layer on a real store
//! and checked for panics, 5xx answers, undeclared errors and partial writes
//! ([`harness`]); and byte-level targets for the decoders ([`targets`]).
//! How to run it and what it found: docs/security.md, "Fuzzing".

pub mod gen;
pub mod harness;
pub mod model;
pub mod pattern;
pub mod recording;
pub mod rng;
pub mod targets;
pub mod world;
