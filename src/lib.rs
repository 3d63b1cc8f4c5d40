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
//! The stage modules are private; nplc's own tests, benchmarks and fuzz
//! targets reach them through the `internals` feature, which is not a
//! stable interface.

// A stage's error is a `Diagnostic` (about 180 bytes), built once per
// mistake in the source; boxing it would cost an allocation on the error
// path and buy nothing on the path that matters.
#![allow(clippy::result_large_err)]
// Without `internals`, the functions that only the tests, benchmarks and
// fuzz targets call (reference evaluators, generators) are unused.
#![cfg_attr(not(feature = "internals"), allow(dead_code))]

/// Declares the stage modules: public with the `internals` feature (for
/// nplc's own tests, benchmarks and fuzz targets, which turn it on through
/// a dev-dependency on this package), private to the crate otherwise, so
/// that a library user sees only the facade below.
macro_rules! stages {
    ($($m:ident),* $(,)?) => {
        $(
            #[cfg(feature = "internals")]
            #[doc(hidden)]
            pub mod $m;
            #[cfg(not(feature = "internals"))]
            mod $m;
        )*
    };
}

stages! {
    check,
    codes,
    compile,
    diag,
    driver,
    emit,
    eval,
    firewall,
    import,
    ir,
    lint,
    lsp,
    net,
    outdir,
    par,
    population,
    project,
    report,
    resolve,
    source,
    syntax,
    validate
}
pub(crate) mod stdlib;

/// The command line (`nplc`'s subcommands, one module each), behind the
/// default `cli` feature; the executable only calls [`cli::main`].
#[cfg(feature = "cli")]
#[doc(hidden)]
pub mod cli;

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
