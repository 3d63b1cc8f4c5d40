//! nplc: a compiler from `.npl` network policy programs to Kubernetes
//! NetworkPolicy YAML and node firewall port lists. See ARCHITECTURE.md for the
//! order of the stages.
//!
//! # The library
//!
//! The documented surface is small: read inputs, compile or check them,
//! list (and render) what a build writes, and render diagnostics.
//!
//! ```
//! let inputs = vec![nplc::Input {
//!     name: "shop.npl".into(),
//!     text: "namespace shop {\n  allow app=web -> app=api:8080\n}\n".into(),
//! }];
//! let c = nplc::compile(&inputs);
//! assert!(!c.has_errors(), "{}", nplc::render_diagnostics(&c));
//! let files = nplc::BuildFiles::new(&c.manifests, c.firewall.as_ref()).rendered();
//! assert!(files.iter().any(|f| f.path == "shop/shop-default.yaml"));
//! assert!(files.iter().any(|f| f.path == "kustomization.yaml"));
//! ```
//!
//! The stage modules below are public for nplc's own command line, tests,
//! benchmarks and fuzz targets; they are hidden from these docs and are
//! not a stable interface.

// A stage's error is a `Diagnostic` (about 180 bytes), built once per
// mistake in the source; boxing it would cost an allocation on the error
// path and buy nothing on the path that matters.
#![allow(clippy::result_large_err)]

#[doc(hidden)]
pub mod check;
#[doc(hidden)]
pub mod codes;
#[doc(hidden)]
pub mod compile;
#[doc(hidden)]
pub mod diag;
#[doc(hidden)]
pub mod driver;
#[doc(hidden)]
pub mod emit;
#[doc(hidden)]
pub mod eval;
#[doc(hidden)]
pub mod firewall;
#[doc(hidden)]
pub mod import;
#[doc(hidden)]
pub mod ir;
#[doc(hidden)]
pub mod lint;
#[doc(hidden)]
pub mod lsp;
#[doc(hidden)]
pub mod net;
#[doc(hidden)]
pub mod outdir;
#[doc(hidden)]
pub mod par;
#[doc(hidden)]
pub mod population;
#[doc(hidden)]
pub mod project;
#[doc(hidden)]
pub mod report;
#[doc(hidden)]
pub mod resolve;
#[doc(hidden)]
pub mod source;
pub(crate) mod stdlib;
#[doc(hidden)]
pub mod syntax;
#[doc(hidden)]
pub mod validate;

pub use diag::{Diagnostic, Severity};
pub use driver::{read_inputs, Compilation, Input, InputError};
pub use emit::files::{BuildFiles, File, Tree};
pub use outdir::{write as write_output_dir, Summary as WriteSummary};

/// Compiles a program (every stage, then emission): the diagnostics and,
/// when there is no error, the IR, the policies, the manifests and the
/// node firewall. Inputs are ordered by name, so the result does not
/// depend on their order.
pub fn compile(inputs: &[Input]) -> Compilation {
    driver::compile_inputs(inputs)
}

/// Runs every stage that can report a diagnostic, without emitting
/// manifests (what `nplc check` does).
pub fn check(inputs: &[Input]) -> Compilation {
    driver::check_inputs(inputs)
}

/// A compilation's diagnostics as text, the way `nplc` prints them
/// (codespan-reporting, no colour).
pub fn render_diagnostics(c: &Compilation) -> String {
    diag::render_human(&c.sources, &c.diagnostics)
}

/// A compilation's diagnostics as JSON (`--error-format json`; the schema
/// is in docs/diagnostics.md).
pub fn diagnostics_json(c: &Compilation) -> String {
    diag::render_json(&c.sources, &c.diagnostics)
}
