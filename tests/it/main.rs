//! The single integration-test binary: one module per concern.

// A test that cannot set up fails; helpers outside `#[test]` functions
// may unwrap too (Cargo.toml [lints]).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod apivalidate;
mod cases;
mod cilium;
mod cli;
mod common;
mod diff_cli;
mod diff_props;
mod drift;
mod examples;
mod explain_matrix;
mod firewall;
mod fmt;
mod fuzz_regressions;
mod import_fixtures;
mod import_props;
mod integrations;
mod k8s_e2e;
mod limits;
mod lsp;
mod matrix_classes;
mod nft_enforce;
mod outdir;
mod popcheck;
mod project;
mod props;
mod report;
mod shuffle;
mod stated_labels;

/// Whether a directory above `dir` has an `nplc.toml` (the temporary
/// directory of a machine could; a test of "none found" cannot run there).
pub fn project_above(dir: &std::path::Path) -> bool {
    dir.ancestors()
        .skip(1)
        .any(|d| d.join("nplc.toml").is_file())
}
