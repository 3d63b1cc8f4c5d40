//! nplc: a compiler from `.npl` network policy programs to Kubernetes
//! NetworkPolicy YAML and node firewall port lists. See ARCHITECTURE.md for the
//! order of the stages.

pub mod net;
pub mod diag;
pub mod source;
pub mod syntax;
pub mod ir;
pub mod check;
pub mod resolve;
pub mod stdlib;
pub mod compile;
pub mod emit;
pub mod firewall;
pub mod lint;
pub mod driver;
pub mod outdir;
pub mod population;
pub mod eval;
pub mod par;
