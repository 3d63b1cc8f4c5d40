//! The single integration-test binary: one module per concern.

// A test that cannot set up fails; helpers outside `#[test]` functions
// may unwrap too (Cargo.toml [lints]).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod apivalidate;
mod cases;
mod cli;
mod common;
mod examples;
mod explain_matrix;
mod firewall;
mod fuzz_regressions;
mod import_props;
mod k8s_e2e;
mod limits;
mod matrix_classes;
mod nft_enforce;
mod outdir;
mod props;
mod shuffle;
mod stated_labels;
