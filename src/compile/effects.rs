//! Stage 5, deny compilation: effect warnings. Input: the statements and
//! what the construction of every side used (which allows reached a box,
//! which denies met a managed side). Output: warnings for statements
//! without effect and duplicates (W06xx, docs/diagnostics.md).

use super::Compiler;
use crate::diag::Diagnostic;
use crate::ir::{Action, PeerSet, PortSet, Statement};
use crate::source::Span;
use std::collections::{BTreeMap, HashMap};

/// A statement's rule as W0603 compares rules: action, scope, and the
/// sets of each side in content order (the order they are written in does
/// not matter).
type RuleKey<'p> = (
    Action,
    Option<crate::ir::Direction>,
    Vec<&'p PeerSet>,
    Vec<(&'p PeerSet, &'p PortSet)>,
);

fn rule_key(s: &Statement) -> RuleKey<'_> {
    let mut src: Vec<&PeerSet> = s.src.iter().map(|t| &t.set).collect();
    let mut dst: Vec<(&PeerSet, &PortSet)> = s.dst.iter().map(|t| (&t.set, &t.ports)).collect();
    src.sort();
    dst.sort();
    (s.action, s.scope, src, dst)
}

/// A hash of a statement's [`RuleKey`]: statements with equal keys have
/// equal hashes (the language server keeps each statement's between
/// edits, `incremental.rs`).
pub(super) fn rule_hash(s: &Statement) -> u64 {
    use std::hash::{Hash, Hasher};
    // SipHash with fixed keys: the same in every run
    let mut h = std::collections::hash_map::DefaultHasher::new();
    rule_key(s).hash(&mut h);
    h.finish()
}

impl Compiler<'_> {
    /// W0601-W0604. `hashes[id]` is [`rule_hash`] of statement `id`.
    pub(super) fn effect_warnings(&mut self, hashes: &[u64]) {
        let prog = self.prog;
        // W0603: statements with equal hashes, compared in full; each
        // duplicate points at the first statement with its rule
        let mut by_hash: HashMap<u64, Vec<usize>> = HashMap::with_capacity(hashes.len());
        for (id, h) in hashes.iter().enumerate() {
            by_hash.entry(*h).or_default().push(id);
        }
        let mut first: BTreeMap<usize, Span> = BTreeMap::new();
        for ids in by_hash.values().filter(|ids| ids.len() > 1) {
            let keys: Vec<(usize, RuleKey<'_>)> = ids
                .iter()
                .filter_map(|id| Some((*id, rule_key(prog.statements.get(*id)?))))
                .collect();
            for (k, (id, key)) in keys.iter().enumerate() {
                if let Some((f, _)) = keys[..k].iter().find(|(_, other)| other == key) {
                    if let Some(s) = prog.statements.get(*f) {
                        first.insert(*id, s.span);
                    }
                }
            }
        }
        for (i, s) in prog.statements.iter().enumerate() {
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
            if let Some(at) = first.get(&i) {
                self.diags.push(
                    Diagnostic::warning("W0603", "duplicate rule")
                        .at(s.span, "the same rule again")
                        .with_label(*at, "first written here")
                        .with_help("remove one of them"),
                );
            }
        }
        for s in &prog.statements {
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
