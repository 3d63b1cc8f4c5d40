//! Stage 5, deny compilation: effect warnings. Input: the statements and
//! what the construction of every side used (which allows reached a box,
//! which denies met a managed side). Output: warnings for statements
//! without effect and duplicates (W06xx, docs/diagnostics.md).

use super::Compiler;
use crate::diag::Diagnostic;
use crate::ir::{Action, PeerSet, PortSet};
use crate::source::Span;
use std::collections::BTreeMap;

impl Compiler<'_> {
    pub(super) fn effect_warnings(&mut self) {
        type RuleKey = (
            Action,
            Option<crate::ir::Direction>,
            Vec<PeerSet>,
            Vec<(PeerSet, PortSet)>,
        );
        let mut seen: BTreeMap<RuleKey, Span> = BTreeMap::new();
        for s in &self.prog.statements {
            let mut src: Vec<PeerSet> = s.src.iter().map(|t| t.set.clone()).collect();
            let mut dst: Vec<(PeerSet, PortSet)> = s
                .dst
                .iter()
                .map(|t| (t.set.clone(), t.ports.clone()))
                .collect();
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
                self.diags.push(
                    Diagnostic::warning("W0604", "this allow opens every port to every peer")
                        .at(s.span, "every pod, every address, every port")
                        .with_help("if that is meant, `default allow` (or `default deny ingress`/`egress`) says it more plainly; otherwise name the peers and ports"),
                );
            }
            match seen.entry((s.action, s.scope, src, dst)) {
                std::collections::btree_map::Entry::Occupied(first) => self.diags.push(
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
        for s in &self.prog.statements {
            match s.action {
                Action::Allow if !self.allow_used.contains(&s.id) => self.diags.push(
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
                Action::Deny if !self.deny_managed.contains(&s.id) => self.diags.push(
                    Diagnostic::warning("W0602", "this deny has no effect")
                        .at(s.span, "no side of it is in a managed namespace")
                        .with_help("nplc writes policies only for managed namespaces (`namespace N { ... }`); manage the namespace of its pods, or remove it"),
                ),
                _ => {}
            }
        }
    }
}
