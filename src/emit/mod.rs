//! Stage 6, emission: the compiled policies as files. `k8s` writes
//! NetworkPolicy objects and the kustomization; `names` derives policy
//! names; `yaml` writes an object as YAML text.

pub mod k8s;
pub mod names;
pub mod yaml;
