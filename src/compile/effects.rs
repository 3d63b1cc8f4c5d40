//! Stage 5, deny compilation: effect warnings. Input: the statements and
//! what the construction of every side used (which allows reached a box,
//! which denies met a managed side). Output: warnings for statements
//! without effect and duplicates (W06xx, docs/diagnostics.md). The
//! warnings are about the program, not the target: the cilium target,
//! which compiles no deny, finds the same two sets from the program alone
//! ([`Used::note`]) and reports the same warnings ([`warnings`]).

use super::Compiler;
use crate::diag::Diagnostic;
use crate::ir::{Action, Direction, LabelSel, PeerSet, PortSet, Program, Statement, Tri};
use crate::source::Span;
use std::collections::{BTreeMap, BTreeSet};

/// Which statements have an effect: allows that reach a side they decide
/// where some of their subject's pods are isolated, denies with a side in
/// a managed namespace.
#[derive(Debug, Default)]
pub struct Used {
    pub allows: BTreeSet<usize>,
    pub denies: BTreeSet<usize>,
}

impl Used {
    /// Notes what statement `s` does to the `dir` side of managed
    /// namespace `ns`, as deny compilation finds it: a deny whose subject
    /// may lie in `ns`; an allow whose subject meets the pods of `ns`
    /// isolated in `dir` (the posture, or `isolate` statements).
    pub fn note(&mut self, prog: &Program, ns: &crate::ir::Namespace, dir: Direction, s: &Statement) {
        if !s.decides(dir) {
            return;
        }
        let subjects: Vec<&PeerSet> = match dir {
            Direction::Egress => s.src.iter().map(|t| &t.set).collect(),
            Direction::Ingress => s.dst.iter().map(|t| &t.set).collect(),
        };
        let any_peer = match dir {
            Direction::Egress => !s.dst.is_empty(),
            Direction::Ingress => !s.src.is_empty(),
        };
        if !any_peer {
            return;
        }
        for subj in subjects {
            let PeerSet::Pods { namespaces, pods } = subj else {
                continue;
            };
            if prog.ns_matches(namespaces, &ns.name) == Tri::No {
                continue;
            }
            match s.action {
                Action::Deny => {
                    self.denies.insert(s.id);
                }
                Action::Allow => {
                    let isolated = if ns.posture.get(dir) {
                        pods.intersect(&LabelSel::any())
                            .is_some_and(|x| !x.expressible().is_empty())
                    } else {
                        ns.isolates
                            .iter()
                            .filter(|i| i.directions.get(dir))
                            .flat_map(|i| i.pods.iter().flat_map(|p| p.expressible()))
                            .filter_map(|i| pods.intersect(&i))
                            .any(|x| !x.expressible().is_empty())
                    };
                    if isolated {
                        self.allows.insert(s.id);
                    }
                }
            }
        }
    }
}

impl Compiler<'_> {
    pub(super) fn effect_warnings(&mut self) {
        let used = Used {
            allows: std::mem::take(&mut self.allow_used),
            denies: std::mem::take(&mut self.deny_managed),
        };
        self.diags.extend(warnings(self.prog, &used));
        self.allow_used = used.allows;
        self.deny_managed = used.denies;
    }
}

/// W0601-W0604 of a program, given which statements have an effect.
pub fn warnings(prog: &Program, used: &Used) -> Vec<Diagnostic> {
    let mut diags = Vec::new();
    {
        // the sets are borrowed, not cloned: the program outlives the map
        type RuleKey<'p> = (
            Action,
            Option<crate::ir::Direction>,
            Vec<&'p PeerSet>,
            Vec<(&'p PeerSet, &'p PortSet)>,
        );
        let mut seen: BTreeMap<RuleKey<'_>, Span> = BTreeMap::new();
        for s in &prog.statements {
            let mut src: Vec<&PeerSet> = s.src.iter().map(|t| &t.set).collect();
            let mut dst: Vec<(&PeerSet, &PortSet)> =
                s.dst.iter().map(|t| (&t.set, &t.ports)).collect();
            src.sort();
            dst.sort();
            let opens_all = |sets: &mut dyn Iterator<Item = (&PeerSet, bool)>| {
                let v: Vec<(&PeerSet, bool)> = sets.collect();
                v.iter().any(|(p, all)| *all && **p == PeerSet::cluster())
                    && v.iter()
                        .any(|(p, all)| *all && matches!(p, PeerSet::External(x) if x.is_world()))
            };
            if s.action == Action::Allow
                && (opens_all(
                    &mut s
                        .src
                        .iter()
                        .map(|t| (&t.set, s.dst.iter().all(|d| d.ports.is_all()))),
                ) || opens_all(&mut s.dst.iter().map(|t| (&t.set, t.ports.is_all()))))
            {
                diags.push(
                    Diagnostic::warning("W0604", "this allow opens every port to every peer")
                        .at(s.span, "every pod, every address, every port")
                        .with_help("if that is meant, `default allow` (or `default deny ingress`/`egress`) says it more plainly; otherwise name the peers and ports"),
                );
            }
            match seen.entry((s.action, s.scope, src, dst)) {
                std::collections::btree_map::Entry::Occupied(first) => diags.push(
                    Diagnostic::warning("W0603", "duplicate rule")
                        .at(s.span, "the same rule again")
                        .with_label(*first.get(), "first written here")
                        .with_help("remove one of them"),
                ),
                std::collections::btree_map::Entry::Vacant(v) => {
                    v.insert(s.span);
                }
            }
        }
        for s in &prog.statements {
            match s.action {
                Action::Allow if !used.allows.contains(&s.id) => diags.push(
                    Diagnostic::warning("W0601", "this allow has no effect")
                        .at(
                            s.span,
                            match s.scope {
                                None => "no side of it is isolated".to_string(),
                                Some(d) => format!("the {} side it decides is not isolated", d.word()),
                            },
                        )
                        .with_help("its pods are in namespaces that are not managed or not isolated in that direction; `default allow` already permits it"),
                ),
                Action::Deny if !used.denies.contains(&s.id) => diags.push(
                    Diagnostic::warning("W0602", "this deny has no effect")
                        .at(s.span, "no side of it is in a managed namespace")
                        .with_help("nplc writes policies only for managed namespaces (`namespace N { ... }`); manage the namespace of its pods, or remove it"),
                ),
                _ => {}
            }
        }
    }
    diags
}
