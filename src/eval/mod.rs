//! Evaluators: decide connections between endpoints of a population under a
//! set of policies (outside the compile pipeline; used to check its output).

pub mod cilium;
pub mod classes;
pub mod explain;
pub mod intent;
pub mod k8s;
pub mod matrix;
