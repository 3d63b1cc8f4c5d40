//! nplc: a compiler from `.npl` network policy programs to Kubernetes
//! NetworkPolicy YAML and node firewall port lists. See ARCHITECTURE.md for the
//! order of the stages.

pub mod net;
pub mod diag;
pub mod source;
pub mod syntax;
pub mod ir;
