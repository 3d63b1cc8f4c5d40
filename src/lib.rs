//! nplc: a compiler from `.npl` network policy programs to Kubernetes
//! NetworkPolicy YAML and node firewall port lists. See ARCHITECTURE.md for the
//! order of the stages.

// A stage's error is a `Diagnostic` (about 180 bytes), built once per
// mistake in the source; boxing it would cost an allocation on the error
// path and buy nothing on the path that matters.
#![allow(clippy::result_large_err)]

pub mod check;
pub mod codes;
pub mod compile;
pub mod diag;
pub mod driver;
pub mod emit;
pub mod eval;
pub mod firewall;
pub mod import;
pub mod ir;
pub mod lint;
pub mod net;
pub mod outdir;
pub mod par;
pub mod population;
pub mod resolve;
pub mod source;
pub mod stdlib;
pub mod syntax;
pub mod validate;
