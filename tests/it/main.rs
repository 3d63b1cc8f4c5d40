//! The single integration-test binary: one module per concern.

mod apivalidate;
mod cases;
mod cli;
mod common;
mod examples;
mod explain_matrix;
mod firewall;
mod fuzz_regressions;
mod k8s_e2e;
mod limits;
mod outdir;
mod props;
mod shuffle;
