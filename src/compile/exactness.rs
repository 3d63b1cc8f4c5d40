//! Stage 5, deny compilation: exactness. Input: what the construction of
//! each side had to approximate (a namespace label selector a side cannot
//! see, a deny it cannot subtract from a named port). Output: E0501 and
//! E0502 where the other side of those connections does not decide them
//! exactly (docs/language.md, "When a program is refused").

use super::Compiler;
use crate::diag::Diagnostic;
use crate::ir::{Direction, LabelSel, PeerSet, NAME_LABEL};
use crate::source::Span;
use std::collections::{BTreeMap, BTreeSet};

/// A place where a side had to approximate a namespace label selector.
#[derive(Clone)]
pub(super) struct Approx {
    pub(super) stmt: usize,
    pub(super) ns: String,
    pub(super) dir: Direction,
    /// The allow was widened (true) or the deny skipped (false).
    pub(super) widened: bool,
    pub(super) term_span: Span,
    /// The other side of the connections where the approximation changes
    /// what this side permits: that side must decide them exactly.
    pub(super) region: Vec<PeerSet>,
    /// For a widened allow: this side's pods it covers, and the condition
    /// on the namespace's own labels under which it truly applies.
    pub(super) subject: LabelSel,
    pub(super) cond: LabelSel,
}

/// A deny that a side cannot subtract from an allowed named port.
#[derive(Clone)]
pub(super) struct Conflict {
    pub(super) deny: usize,
    pub(super) allow: Option<usize>,
    pub(super) name: String,
    pub(super) ns: String,
    pub(super) dir: Direction,
    /// The other side of the connections the side then permits.
    pub(super) region: PeerSet,
}

impl Compiler<'_> {
    /// A side that ignored or widened a namespace label selector (it cannot
    /// see its own namespace's labels) is exact only if the other side of
    /// every such connection decides it exactly.
    pub(super) fn check_approximations(&mut self) {
        // Sides that permit more than they should: an allow widened there.
        // (A deny skipped on a side is enforced by the other side of its
        // connections, which names its namespaces; it does not make that
        // other side permit more.)
        let mut widened: BTreeMap<(&str, Direction), Vec<&PeerSet>> = BTreeMap::new();
        for a in self.approx.iter().filter(|a| a.widened) {
            widened
                .entry((a.ns.as_str(), a.dir))
                .or_default()
                .extend(a.region.iter());
        }
        let mut reported = BTreeSet::new();
        for a in &self.approx {
            let Some(s) = self.prog.statements.get(a.stmt) else {
                continue;
            };
            let opposite = match a.dir {
                Direction::Egress => Direction::Ingress,
                Direction::Ingress => Direction::Egress,
            };
            let terms: Vec<(&PeerSet, Span)> = match a.dir {
                Direction::Egress => s.dst.iter().map(|d| (&d.set, d.span)).collect(),
                Direction::Ingress => s.src.iter().map(|t| (&t.set, t.span)).collect(),
            };
            // each part of the region, with the term of the statement it lies in
            let others: Vec<(&PeerSet, Span)> = a
                .region
                .iter()
                .map(|r| {
                    let span = terms
                        .iter()
                        .find(|(t, _)| t.intersect(r).is_some())
                        .map(|(_, sp)| *sp)
                        .unwrap_or(s.span);
                    (r, span)
                })
                .collect();
            let mut problem: Option<(Span, String)> = None;
            // a deny scoped to this side is not enforced by the other side:
            // that side must refuse these connections of its own accord
            let scoped_deny = !a.widened && s.scope.is_some();
            for (set, span) in others {
                if problem.is_some() {
                    break;
                }
                let named = match set {
                    PeerSet::Pods { namespaces, pods } => {
                        namespaces.get(NAME_LABEL).and_then(|c| match &c.values {
                            crate::ir::ValSet::Finite(v) if !c.absent => Some((v.clone(), pods)),
                            _ => None,
                        })
                    }
                    PeerSet::External(_) | PeerSet::Names(_) => None,
                };
                let Some((names, pods)) = named else {
                    problem = Some((
                        span,
                        "this side is not pods of named, managed namespaces".into(),
                    ));
                    break;
                };
                let name_list: Vec<&str> = names.iter().map(String::as_str).collect();
                for n in names.iter() {
                    match self.prog.namespaces.get(n.as_str()) {
                        None => problem = Some((span, format!("namespace `{n}` is not managed"))),
                        // a widened allow needs the other side to refuse what
                        // it adds: isolated, and not widened itself
                        Some(ns) if a.widened && !ns.isolates_all(opposite, pods) => {
                            problem = Some((
                                span,
                                format!(
                                    "namespace `{n}` does not isolate {} for these pods",
                                    opposite.word()
                                ),
                            ))
                        }
                        Some(_) if a.widened && admits(&widened, n, opposite, a) => {
                            problem = Some((
                                span,
                                format!(
                                    "the {} side of `{n}` also depends on namespace labels",
                                    opposite.word()
                                ),
                            ))
                        }
                        Some(ns)
                            if scoped_deny
                                && (!ns.isolates_all(opposite, pods)
                                    || widened.get(&(n.as_str(), opposite)).is_some_and(|rs| {
                                        let mine = PeerSet::in_namespace(&a.ns, a.subject.clone());
                                        rs.iter().any(|r| r.intersect(&mine).is_some())
                                    })
                                    || self.any_admits(set, &name_list, opposite, a)) =>
                        {
                            problem = Some((
                                s.span,
                                format!(
                                    "this rule decides only the {} side, and the {} side of `{n}` may admit what it denies",
                                    a.dir.word(),
                                    opposite.word()
                                ),
                            ))
                        }
                        Some(_) if a.widened && self.scoped_admits(set, &name_list, opposite, a) => {
                            problem = Some((
                                span,
                                format!(
                                    "the {} side of `{n}` has an allow `on {}` that may admit these connections",
                                    opposite.word(),
                                    opposite.word()
                                ),
                            ))
                        }
                        _ => {}
                    }
                }
            }
            if let Some((span, why)) = problem {
                if !reported.insert((a.stmt, a.term_span)) {
                    continue;
                }
                self.diags.push(
                    Diagnostic::error(
                        "E0501",
                        format!(
                            "the {} side of namespace `{}` cannot be conditioned on its own labels",
                            a.dir.word(),
                            a.ns
                        ),
                    )
                    .at(a.term_span, "selects namespaces by label")
                    .with_label(span, why)
                    .with_help("name the namespaces (`payments/app=api`, or `{kubernetes.io/metadata.name in (a, b)}/...`), or make the other side pods of managed namespaces that isolate that direction")
                    .with_note("a NetworkPolicy cannot test the labels of its own namespace, so nplc enforces namespace label selectors on the other side of the connection"),
                );
            }
        }
    }

    /// Whether an allow scoped to the other side (`on ingress|egress`),
    /// which the side of `a` does not see, may admit there some connection
    /// that the widening `a` adds: its subjects meet `region` and its peers
    /// meet `a`'s pods in `a`'s namespace (ports and conditions ignored, so
    /// this may say yes where a closer look would not). `region` is pods of
    /// the namespaces `names`: only statements that may have subjects there
    /// can meet it.
    fn scoped_admits(
        &self,
        region: &PeerSet,
        names: &[&str],
        opposite: Direction,
        a: &Approx,
    ) -> bool {
        let mine = PeerSet::in_namespace(&a.ns, a.subject.clone());
        self.in_namespaces(names, opposite).any(|t| {
            t.action == crate::ir::Action::Allow
                && t.scope == Some(opposite)
                && super::side_triples(t, opposite)
                    .into_iter()
                    .any(|(subj, _, peer, _)| {
                        subj.intersect(region).is_some() && peer.intersect(&mine).is_some()
                    })
        })
    }

    /// Whether any allow that decides the other side may admit there a
    /// connection between `region` (pods of the namespaces `names`) and
    /// `a`'s pods in `a`'s namespace (ports and conditions ignored, so
    /// this may say yes where a closer look would not).
    fn any_admits(&self, region: &PeerSet, names: &[&str], opposite: Direction, a: &Approx) -> bool {
        let mine = PeerSet::in_namespace(&a.ns, a.subject.clone());
        self.in_namespaces(names, opposite).any(|t| {
            t.action == crate::ir::Action::Allow
                && super::side_triples(t, opposite)
                    .into_iter()
                    .any(|(subj, _, peer, _)| {
                        subj.intersect(region).is_some() && peer.intersect(&mine).is_some()
                    })
        })
    }

    /// The statements that may have subjects in one of `names` on side
    /// `dir` (the statement index's candidates), in program order.
    fn in_namespaces<'s>(
        &'s self,
        names: &[&str],
        dir: Direction,
    ) -> impl Iterator<Item = &'s crate::ir::Statement> + 's {
        let mut ids: Vec<usize> = names
            .iter()
            .flat_map(|n| self.index.candidates(n, dir))
            .collect();
        ids.sort_unstable();
        ids.dedup();
        ids.into_iter()
            .filter_map(|id| self.prog.statements.get(id))
    }

    /// E0502: a deny that a side could not subtract from a named port is
    /// exact only if the other side of those connections enforces it: pods
    /// of named, managed namespaces whose side neither left the deny out
    /// (a namespace label selector) nor met the same conflict.
    pub(super) fn check_conflicts(&mut self) {
        let skipped: BTreeSet<(usize, &str, Direction)> = self
            .approx
            .iter()
            .filter(|a| !a.widened)
            .map(|a| (a.stmt, a.ns.as_str(), a.dir))
            .collect();
        let conflicted: BTreeSet<(usize, &str, Direction)> = self
            .conflicts
            .iter()
            .map(|c| (c.deny, c.ns.as_str(), c.dir))
            .collect();
        let mut reported = BTreeSet::new();
        let mut diags = Vec::new();
        for c in &self.conflicts {
            let opposite = match c.dir {
                Direction::Egress => Direction::Ingress,
                Direction::Ingress => Direction::Egress,
            };
            let names = match &c.region {
                PeerSet::Pods { namespaces, .. } => {
                    namespaces.get(NAME_LABEL).and_then(|k| match &k.values {
                        crate::ir::ValSet::Finite(v) if !k.absent => Some(v.clone()),
                        _ => None,
                    })
                }
                PeerSet::External(_) | PeerSet::Names(_) => None,
            };
            // a deny scoped to this side is enforced by nothing else
            let two_sided = self
                .prog
                .statements
                .get(c.deny)
                .is_some_and(|s| s.scope.is_none());
            let decided = two_sided
                && names.is_some_and(|names| {
                    names.iter().all(|n| {
                        self.prog.namespaces.contains_key(n)
                            && !skipped.contains(&(c.deny, n.as_str(), opposite))
                            && !conflicted.contains(&(c.deny, n.as_str(), opposite))
                    })
                });
            if decided || !reported.insert((c.deny, c.allow)) {
                continue;
            }
            let mut diag = Diagnostic::error(
                "E0502",
                format!("this deny overlaps the named port `{}` of an allow", c.name),
            );
            if let Some(s) = self.prog.statements.get(c.deny) {
                diag = diag.at(
                    s.span,
                    "denies port numbers that the named port may resolve to",
                );
            }
            if let Some(s) = c.allow.and_then(|a| self.prog.statements.get(a)) {
                diag = diag.with_label(s.span, "allows a named port");
            }
            diags.push(diag.with_help(
                "a named port resolves per pod, so NetworkPolicy cannot take numbers out of it; allow port numbers instead of the name, or deny every port of the protocol",
            ).with_note("the other side of these connections does not enforce the deny either (it is not pods of named, managed namespaces that decide it)"));
        }
        self.diags.extend(diags);
    }
}

/// A peer set where namespace `ns` is known to carry labels matching
/// `labels`: its part in `ns` narrowed to them, its part elsewhere as is.
pub(super) fn assume(peer: &PeerSet, ns: &str, labels: &LabelSel) -> Vec<PeerSet> {
    let PeerSet::Pods { namespaces, pods } = peer else {
        return vec![peer.clone()];
    };
    let here = crate::ir::ns_named(ns);
    let mut out: Vec<PeerSet> = namespaces
        .minus(&here)
        .into_iter()
        .map(|n| PeerSet::Pods {
            namespaces: n,
            pods: pods.clone(),
        })
        .collect();
    if let Some(n) = namespaces
        .intersect(&here)
        .and_then(|n| n.intersect(labels))
    {
        out.push(PeerSet::Pods {
            namespaces: n,
            pods: pods.clone(),
        });
    }
    out
}

/// Whether the widened allows of namespace `n`'s `dir` side admit some
/// connection that the widened allow `a` adds on its own side: from (or to)
/// `a`'s pods in its namespace where `a`'s condition fails.
pub(super) fn admits(
    widened: &BTreeMap<(&str, Direction), Vec<&PeerSet>>,
    n: &str,
    dir: Direction,
    a: &Approx,
) -> bool {
    let Some(regions) = widened.get(&(n, dir)) else {
        return false;
    };
    let failing: Vec<PeerSet> = a
        .cond
        .complement()
        .into_iter()
        .filter_map(|c| match PeerSet::in_namespace(&a.ns, a.subject.clone()) {
            PeerSet::Pods { namespaces, pods } => Some(PeerSet::Pods {
                namespaces: namespaces.intersect(&c)?,
                pods,
            }),
            external => Some(external),
        })
        .collect();
    regions
        .iter()
        .any(|r| failing.iter().any(|f| r.intersect(f).is_some()))
}

/// A namespace selector without its name constraint: the condition on a
/// namespace's own labels once its name has matched.
pub(super) fn own_labels(namespaces: &LabelSel) -> LabelSel {
    let mut out = LabelSel::any();
    for (k, c) in namespaces.0.iter() {
        if k != NAME_LABEL {
            out = out.with(k, c.clone());
        }
    }
    out
}
