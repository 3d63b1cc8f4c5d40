//! Stage 6, emission: the compiled policies as files. `files` lists what a
//! build writes; `k8s` writes
//! NetworkPolicy objects and the kustomization; `yaml` writes an object as
//! YAML text. Policy names are the compiler's (`compile::names`).

pub mod files;
pub mod k8s;
pub mod yaml;
