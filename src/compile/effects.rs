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
use std::collections::{BTreeMap, BTreeSet, HashMap};

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
pub fn rule_hash(s: &Statement) -> u64 {
    use std::hash::{Hash, Hasher};
    // SipHash with fixed keys: the same in every run
    let mut h = std::collections::hash_map::DefaultHasher::new();
    rule_key(s).hash(&mut h);
    h.finish()
}

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
    /// W0601-W0604. `hashes[id]` is [`rule_hash`] of statement `id`.
    pub(super) fn effect_warnings(&mut self, hashes: &[u64]) {
        let used = Used {
            allows: std::mem::take(&mut self.allow_used),
            denies: std::mem::take(&mut self.deny_managed),
        };
        self.diags.extend(warnings(self.prog, &used, hashes));
        self.allow_used = used.allows;
        self.deny_managed = used.denies;
    }
}

/// W0601-W0604 of a program, given which statements have an effect and
/// each statement's [`rule_hash`] (`hashes[id]`).
pub fn warnings(prog: &Program, used: &Used, hashes: &[u64]) -> Vec<Diagnostic> {
    let mut diags = Vec::new();
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
                diags.push(
                    Diagnostic::warning("W0604", "this allow opens every port to every peer")
                        .at(s.span, "every pod, every address, every port")
                        .with_help("if that is meant, `default allow` (or `default deny ingress`/`egress`) says it more plainly; otherwise name the peers and ports"),
                );
            }
            if let Some(at) = first.get(&i) {
                diags.push(
                    Diagnostic::warning("W0603", "duplicate rule")
                        .at(s.span, "the same rule again")
                        .with_label(*at, "first written here")
                        .with_help("remove one of them"),
                );
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
    diags
}
