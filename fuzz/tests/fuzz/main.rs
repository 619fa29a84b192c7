//! The fuzzer crate's CI tests, in one test binary (one link): the API sample, the decoder
//! targets, and the store round trips of known and unknown names.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod api_sample;
mod decoders;
mod round_trips;
