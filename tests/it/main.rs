//! The single integration-test binary: one module per concern.

mod cases;
mod cli;
mod common;
mod examples;
mod shuffle;
