//! The fuzzer's CI runs, in one test binary (one link): the API sample and the decoder targets.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod api_sample;
mod decoders;
