//! Stage 6, emission: the program as files for one target. `files` lists
//! what a build writes; `k8s` writes NetworkPolicy objects (from the deny
//! compiler's policies) and the kustomization; `cilium` writes
//! CiliumNetworkPolicy objects straight from the IR (docs/targets.md);
//! `yaml` writes an object as YAML text. Policy names are the compiler's
//! (`compile::names`).
//!
//! The interface between a backend and the rest is small: a backend turns
//! the checked program into a list of [`Object`]s (a path and its YAML),
//! and [`files::BuildFiles`] writes any such list.

pub mod cilium;
pub mod files;
pub mod k8s;
pub mod yaml;

/// A build target: which backend writes the policies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum Target {
    /// `networking.k8s.io/v1` NetworkPolicy (deny compiled by set difference).
    #[default]
    K8s,
    /// `cilium.io/v2` CiliumNetworkPolicy (deny written natively).
    Cilium,
}

impl Target {
    /// Every target, in the order the documentation lists them.
    pub const ALL: [Target; 2] = [Target::K8s, Target::Cilium];

    /// The name on the command line and in `nplc.toml`.
    pub fn name(self) -> &'static str {
        match self {
            Target::K8s => "k8s",
            Target::Cilium => "cilium",
        }
    }

    /// The target of a name, if any.
    pub fn from_name(s: &str) -> Option<Target> {
        Target::ALL.into_iter().find(|t| t.name() == s)
    }
}

/// One emitted object: where it goes under the output directory and its
/// YAML text. Every backend's manifests are this.
pub trait Object: Sync {
    /// Path under the output directory, with `/` separators.
    fn path(&self) -> String;
    /// Appends the YAML text to `out`.
    fn write_yaml(&self, out: &mut String);
}

impl Object for k8s::Manifest {
    fn path(&self) -> String {
        k8s::Manifest::path(self)
    }
    fn write_yaml(&self, out: &mut String) {
        k8s::Manifest::write_yaml(self, out)
    }
}
