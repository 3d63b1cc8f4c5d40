//! Stage 6, emission: the compiled policies as files. `k8s` writes
//! NetworkPolicy YAML and the kustomization; `names` derives policy names.

pub mod k8s;
pub mod names;
