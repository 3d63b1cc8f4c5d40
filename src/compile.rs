//! Stage 5, deny compilation: from the IR's statements to allow-only
//! policies, by exact set difference. Input: an [`crate::ir::Program`]. Output: a
//! [`PolicySet`], the per-namespace NetworkPolicies as exact sets, plus
//! warnings about statements without effect.
//!
//! For every managed namespace `M` and direction, the side's meaning
//! (docs/semantics.md) is: isolated pods permit `A \ D`, other pods permit
//! `everything \ D`. nplc isolates every pod of a managed namespace in both
//! directions and writes that meaning as boxes `subject x peer x ports`:
//! one box per allow (subject cut to the isolated pods), one "everything"
//! box per cell of non-isolated pods, then subtracts every deny box from
//! every box. Box difference splits along one dimension at a time (subject
//! labels, then peers, then ports), so the pieces stay disjoint and exact.
//! Boxes are sorted by content before subtraction and merging, so the result
//! does not depend on the order of statements or files.

use crate::diag::Diagnostic;
use crate::ir::{ns_matches, LabelSel, PeerSet, PortSet, Program, Statement, Tri};
use crate::ir::{IpSet, NAME_LABEL};
use crate::source::Span;
use crate::syntax::ast::{Action, Direction};
use std::collections::{BTreeMap, BTreeSet};

/// One allowed block of connections for the pods of `subject`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Cell {
    pub subject: LabelSel,
    pub peer: PeerSet,
    pub ports: PortSet,
    /// Statements (by id) whose allow produced the box.
    pub allows: BTreeSet<usize>,
    /// Statements whose deny cut it.
    pub denies: BTreeSet<usize>,
}

/// One rule of a policy: any of `peers` on any of `ports`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyRule {
    /// Sorted, disjoint kinds: pod peers, then at most one external set.
    pub peers: Vec<PeerSet>,
    pub ports: PortSet,
    pub allows: BTreeSet<usize>,
    pub denies: BTreeSet<usize>,
}

impl PolicyRule {
    /// Every pod and every address: written with no `from`/`to`.
    pub fn all_peers(&self) -> bool {
        self.peers.contains(&PeerSet::cluster())
            && self
                .peers
                .iter()
                .any(|p| matches!(p, PeerSet::External(s) if s.is_world()))
    }
}

/// A NetworkPolicy as sets: it selects `subject` in `namespace`, isolates
/// both directions, and allows the union of its rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub namespace: String,
    pub name: String,
    pub subject: LabelSel,
    pub ingress: Vec<PolicyRule>,
    pub egress: Vec<PolicyRule>,
}

/// All generated policies, sorted by (namespace, name).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PolicySet {
    pub policies: Vec<Policy>,
}

/// Compiles a checked program. Errors: a deny that cannot be subtracted
/// exactly (E0502), and namespace label selectors on a side nplc must
/// write policies for but cannot condition (E0501).
pub fn compile(prog: &Program) -> Result<(PolicySet, Vec<Diagnostic>), Vec<Diagnostic>> {
    compile_with(prog, true)
}

/// The documented construction without its two refusals (E0501, E0502),
/// for the tests that show each refusal necessary: a side that cannot see
/// its namespace's labels is widened (allow) or left alone (deny) whatever
/// the other side, and a deny overlapping a named port is not subtracted.
/// Never for output: what it returns may permit more or less than written.
pub fn compile_inexact(prog: &Program) -> Result<(PolicySet, Vec<Diagnostic>), Vec<Diagnostic>> {
    compile_with(prog, false)
}

fn compile_with(
    prog: &Program,
    refuse_inexact: bool,
) -> Result<(PolicySet, Vec<Diagnostic>), Vec<Diagnostic>> {
    let index = StatementIndex::new(prog);
    let namespaces: Vec<&crate::ir::Namespace> = prog.namespaces.values().collect();
    // namespaces are independent: compile them in parallel, in order
    let parts = crate::par::map_chunks(&namespaces, |chunk| {
        let mut w = Compiler::new(prog, &index);
        let mut policies = Vec::new();
        for ns in chunk {
            let ingress = w.side(&ns.name, Direction::Ingress);
            let egress = w.side(&ns.name, Direction::Egress);
            policies.extend(assemble(ns, ingress, egress));
        }
        vec![(w, policies)]
    });
    let mut c = Compiler::new(prog, &index);
    let mut policies = Vec::new();
    for (w, p) in parts {
        c.diags.extend(w.diags);
        c.allow_used.extend(w.allow_used);
        c.deny_managed.extend(w.deny_managed);
        c.approx.extend(w.approx);
        c.conflicts.extend(w.conflicts);
        policies.extend(p);
    }
    if refuse_inexact {
        c.check_approximations();
        c.check_conflicts();
    }
    c.effect_warnings();
    if c.diags.iter().any(Diagnostic::is_error) {
        return Err(c.diags);
    }
    Ok((PolicySet { policies }, c.diags))
}

/// A place where a side had to approximate a namespace label selector.
#[derive(Clone)]
struct Approx {
    stmt: usize,
    ns: String,
    dir: Direction,
    /// The allow was widened (true) or the deny skipped (false).
    widened: bool,
    term_span: Span,
    /// The other side of the connections where the approximation changes
    /// what this side permits: that side must decide them exactly.
    region: Vec<PeerSet>,
    /// For a widened allow: this side's pods it covers, and the condition
    /// on the namespace's own labels under which it truly applies.
    subject: LabelSel,
    cond: LabelSel,
}

/// A deny that a side cannot subtract from an allowed named port.
struct Conflict {
    deny: usize,
    allow: Option<usize>,
    name: String,
    ns: String,
    dir: Direction,
    /// The other side of the connections the side then permits.
    region: PeerSet,
}

/// Which statements can have subjects in which namespace, per direction, so
/// that a side looks only at statements that can touch it.
struct StatementIndex {
    named: BTreeMap<(String, Direction), Vec<usize>>,
    /// Statements whose subjects may be in any namespace (`cluster`, `{labels}/...`).
    anywhere: BTreeMap<Direction, Vec<usize>>,
}

impl StatementIndex {
    fn new(prog: &Program) -> StatementIndex {
        let mut named: BTreeMap<(String, Direction), Vec<usize>> = BTreeMap::new();
        let mut anywhere: BTreeMap<Direction, Vec<usize>> = BTreeMap::new();
        for s in &prog.statements {
            for dir in [Direction::Ingress, Direction::Egress] {
                for (subj, _, _, _) in side_triples(s, dir) {
                    let PeerSet::Pods { namespaces, .. } = subj else {
                        continue;
                    };
                    match namespaces.get(NAME_LABEL) {
                        Some(c)
                            if !c.absent && matches!(c.values, crate::ir::ValSet::Finite(_)) =>
                        {
                            if let crate::ir::ValSet::Finite(names) = &c.values {
                                for n in names {
                                    named.entry((n.clone(), dir)).or_default().push(s.id);
                                }
                            }
                        }
                        _ => anywhere.entry(dir).or_default().push(s.id),
                    }
                }
            }
        }
        StatementIndex { named, anywhere }
    }

    fn candidates(&self, ns: &str, dir: Direction) -> Vec<usize> {
        let mut v: Vec<usize> = self
            .named
            .get(&(ns.to_string(), dir))
            .into_iter()
            .flatten()
            .chain(self.anywhere.get(&dir).into_iter().flatten())
            .copied()
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    }
}

struct Compiler<'a> {
    prog: &'a Program,
    index: &'a StatementIndex,
    diags: Vec<Diagnostic>,
    /// Allows that produced a box on an isolated side.
    allow_used: BTreeSet<usize>,
    /// Denies with a side in a managed namespace (kept on isolated sides
    /// as defence in depth, even where nothing allows what they deny).
    deny_managed: BTreeSet<usize>,
    approx: Vec<Approx>,
    conflicts: Vec<Conflict>,
}

/// (subject term set, peer set, ports) of a statement seen from one side.
fn side_triples(s: &Statement, dir: Direction) -> Vec<(&PeerSet, Span, &PeerSet, &PortSet)> {
    let mut out = Vec::new();
    for src in &s.src {
        for dst in &s.dst {
            match dir {
                Direction::Egress => out.push((&src.set, src.span, &dst.set, &dst.ports)),
                Direction::Ingress => out.push((&dst.set, dst.span, &src.set, &dst.ports)),
            }
        }
    }
    out
}

impl<'a> Compiler<'a> {
    fn new(prog: &'a Program, index: &'a StatementIndex) -> Compiler<'a> {
        Compiler {
            prog,
            index,
            diags: Vec::new(),
            allow_used: BTreeSet::new(),
            deny_managed: BTreeSet::new(),
            approx: Vec::new(),
            conflicts: Vec::new(),
        }
    }

    /// The cells of namespace `ns`, direction `dir`.
    fn side(&mut self, ns: &str, dir: Direction) -> Vec<Cell> {
        let Some(n) = self.prog.namespaces.get(ns) else {
            return vec![];
        };
        // isolated pods
        let iso: Vec<LabelSel> = if n.posture.get(dir) {
            vec![LabelSel::any()]
        } else {
            n.isolates
                .iter()
                .filter(|i| i.directions.get(dir))
                .flat_map(|i| i.pods.iter().flat_map(|p| p.expressible()))
                .collect()
        };
        let mut non_iso = vec![LabelSel::any()];
        for i in &iso {
            non_iso = non_iso.iter().flat_map(|c| c.minus(i)).collect();
        }
        let mut cells: Vec<Cell> = Vec::new();
        let mut denies: Vec<(Cell, usize)> = Vec::new();
        // cells of allows widened past a namespace label selector, and deny
        // boxes left out for one: each with its approximation, kept only
        // if it changes what the side permits
        // (the cell, its approximation, the condition on the namespace's
        // own labels under which the statement applies here)
        let mut widened: Vec<(Cell, Approx, LabelSel)> = Vec::new();
        let mut skipped: Vec<(Vec<Cell>, Approx)> = Vec::new();
        for id in self.index.candidates(ns, dir) {
            let Some(s) = self.prog.statements.get(id) else {
                continue;
            };
            for (subj_set, subj_span, peer, ports) in side_triples(s, dir) {
                let PeerSet::Pods { namespaces, pods } = subj_set else {
                    continue;
                };
                let m = ns_matches(namespaces, ns);
                if m == Tri::No {
                    continue;
                }
                if s.action == Action::Deny {
                    self.deny_managed.insert(s.id);
                }
                let approx = (m == Tri::Unknown).then(|| Approx {
                    stmt: s.id,
                    ns: ns.to_string(),
                    dir,
                    widened: s.action == Action::Allow,
                    term_span: subj_span,
                    region: vec![],
                    subject: pods.clone(),
                    cond: own_labels(namespaces),
                });
                let boxes = |subjects: Vec<LabelSel>, allows: BTreeSet<usize>| {
                    subjects
                        .into_iter()
                        .map(|subject| Cell {
                            subject,
                            peer: peer.clone(),
                            ports: ports.clone(),
                            allows: allows.clone(),
                            denies: BTreeSet::new(),
                        })
                        .collect::<Vec<Cell>>()
                };
                match (s.action, approx) {
                    (Action::Allow, approx) => {
                        let subjects: Vec<LabelSel> = iso
                            .iter()
                            .filter_map(|i| pods.intersect(i))
                            .flat_map(|x| x.expressible())
                            .collect();
                        for cell in boxes(subjects, [s.id].into()) {
                            match &approx {
                                Some(a) => widened.push((cell, a.clone(), own_labels(namespaces))),
                                None => cells.push(cell),
                            }
                        }
                    }
                    (Action::Deny, None) => {
                        for cell in boxes(pods.expressible(), BTreeSet::new()) {
                            denies.push((cell, s.id));
                        }
                    }
                    (Action::Deny, Some(a)) => {
                        skipped.push((boxes(pods.expressible(), BTreeSet::new()), a));
                    }
                }
            }
        }
        for subject in non_iso {
            for peer in [PeerSet::cluster(), PeerSet::External(IpSet::world())] {
                cells.push(Cell {
                    subject: subject.clone(),
                    peer,
                    ports: PortSet::all(),
                    allows: BTreeSet::new(),
                    denies: BTreeSet::new(),
                });
            }
        }
        // a widened cell changes nothing where denies take it out or the
        // exact cells already hold it
        let exact = cells.clone();
        let deny_boxes: Vec<Cell> = denies.iter().map(|(d, _)| d.clone()).collect();
        // Where its own condition fails, the cell is still harmless if the
        // exact cells and the widened cells whose conditions hold there
        // cover it (`{t=a}/* | {t notin (a)}/*` covers every namespace).
        for (cell, a, cond) in &widened {
            self.allow_used.extend(cell.allows.iter().copied());
            let rest = subtract_all(vec![cell.clone()], &deny_boxes);
            let harmless = cond.complement().iter().all(|elsewhere| {
                let holding: Vec<Cell> = exact
                    .iter()
                    .chain(
                        widened
                            .iter()
                            .filter(|(_, _, c)| elsewhere.is_subset(c))
                            .map(|(w, _, _)| w),
                    )
                    .cloned()
                    .collect();
                // where the namespace's labels are `elsewhere`, so are the
                // labels of its own pods as peers
                let assumed: Vec<Cell> = rest
                    .iter()
                    .flatten()
                    .flat_map(|c| {
                        assume(&c.peer, ns, elsewhere)
                            .into_iter()
                            .map(move |peer| Cell { peer, ..c.clone() })
                    })
                    .collect();
                rest.is_some() && subtract_all(assumed, &holding).is_some_and(|r| r.is_empty())
            });
            // emitted either way: where its condition holds it is allowed
            cells.push(cell.clone());
            if harmless {
                continue;
            }
            let region = match rest.clone().and_then(|r| subtract_all(r, &exact)) {
                Some(r) => r.into_iter().map(|c| c.peer).collect(),
                None => vec![cell.peer.clone()],
            };
            self.approx.push(Approx {
                region,
                ..a.clone()
            });
        }
        for s in cells.iter().flat_map(|c| c.allows.iter()) {
            self.allow_used.insert(*s);
        }
        cells.sort();
        cells.dedup_by(|b, a| {
            if a.subject == b.subject && a.peer == b.peer && a.ports == b.ports {
                a.allows.extend(b.allows.iter().copied());
                true
            } else {
                false
            }
        });
        denies.sort();
        // Each cell is cut by the denies in order, its pieces by the next
        // ones (the same pieces as cutting every cell by one deny after the
        // other). A piece lies inside its cell, so only denies whose subject
        // meets the cell's can cut it: those are found once per distinct
        // subject (a namespace has few), not per cell and deny.
        let mut meeting: BTreeMap<LabelSel, Vec<usize>> = BTreeMap::new();
        let mut out = Vec::with_capacity(cells.len());
        for cell in cells {
            if !meeting.contains_key(&cell.subject) {
                let ds = (0..denies.len())
                    .filter(|&k| cell.subject.intersect(&denies[k].0.subject).is_some())
                    .collect();
                meeting.insert(cell.subject.clone(), ds);
            }
            let ks = meeting.get(&cell.subject).map(Vec::as_slice).unwrap_or(&[]);
            // (piece, where in `ks` its cutting resumes), depth first
            let mut stack = vec![(cell, 0)];
            'piece: while let Some((mut p, mut at)) = stack.pop() {
                let mut holes = Holes::default();
                while let Some(&k) = ks.get(at) {
                    at += 1;
                    let (d, id) = &denies[k];
                    if !may_meet(&p, d) {
                        continue;
                    }
                    if let Some(dp) = cuts_only_addresses(&p, d) {
                        holes.cut(&p.peer, dp, *id);
                        continue;
                    }
                    if !holes.apply(&mut p) {
                        continue 'piece;
                    }
                    if let Some(parts) = self.minus(&p, d, *id, ns, dir) {
                        stack.extend(parts.into_iter().rev().map(|part| (part, at)));
                        continue 'piece;
                    }
                }
                if holes.apply(&mut p) {
                    out.push(p);
                }
            }
        }
        let mut cells = out;
        cells.retain(|c| !c.ports.is_empty() && !c.peer.is_empty() && !c.subject.is_empty());
        // a deny left out changes nothing where the side permits none of it
        for (boxes, a) in skipped {
            let region: Vec<PeerSet> = boxes
                .iter()
                .flat_map(|d| {
                    cells
                        .iter()
                        .filter(|c| meets(c, d))
                        .filter_map(|c| c.peer.intersect(&d.peer))
                })
                .collect();
            if !region.is_empty() {
                self.approx.push(Approx { region, ..a });
            }
        }
        cells.sort();
        cells
    }

    /// `cell \ d`, or `None` when they do not meet.
    fn minus(
        &mut self,
        cell: &Cell,
        d: &Cell,
        deny_id: usize,
        ns: &str,
        dir: Direction,
    ) -> Option<Vec<Cell>> {
        let both_subject = cell.subject.intersect(&d.subject)?;
        let both_peer = cell.peer.intersect(&d.peer)?;
        if !cell.ports.may_intersect(&d.ports) {
            return None;
        }
        let mut denies = cell.denies.clone();
        denies.insert(deny_id);
        let mk = |subject: LabelSel, peer: PeerSet, ports: PortSet| Cell {
            subject,
            peer,
            ports,
            allows: cell.allows.clone(),
            denies: denies.clone(),
        };
        let mut out = Vec::new();
        for s in cell.subject.minus(&d.subject) {
            out.push(mk(s, cell.peer.clone(), cell.ports.clone()));
        }
        for p in cell.peer.minus(&d.peer) {
            out.push(mk(both_subject.clone(), p, cell.ports.clone()));
        }
        match cell.ports.minus(&d.ports) {
            Ok(rest) => {
                if !rest.is_empty() {
                    out.push(mk(both_subject, both_peer, rest));
                }
            }
            Err(conflict) => {
                // the deny is not subtracted here; the other side of these
                // connections may still enforce it (check_conflicts)
                self.conflicts.push(Conflict {
                    deny: deny_id,
                    allow: cell.allows.iter().next().copied(),
                    name: conflict.name,
                    ns: ns.to_string(),
                    dir,
                    region: both_peer.clone(),
                });
                out.push(mk(both_subject, both_peer, cell.ports.clone()));
            }
        }
        Some(out)
    }

    /// A side that ignored or widened a namespace label selector (it cannot
    /// see its own namespace's labels) is exact only if the other side of
    /// every such connection decides it exactly.
    fn check_approximations(&mut self) {
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
            for (set, span) in others {
                let named = match set {
                    PeerSet::Pods { namespaces, pods } => {
                        namespaces.get(NAME_LABEL).and_then(|c| match &c.values {
                            crate::ir::ValSet::Finite(v) if !c.absent => Some((v.clone(), pods)),
                            _ => None,
                        })
                    }
                    PeerSet::External(_) => None,
                };
                let Some((names, pods)) = named else {
                    problem = Some((
                        span,
                        "this side is not pods of named, managed namespaces".into(),
                    ));
                    break;
                };
                for n in names {
                    match self.prog.namespaces.get(&n) {
                        None => problem = Some((span, format!("namespace `{n}` is not managed"))),
                        // a widened allow needs the other side to refuse what
                        // it adds: isolated, and not widened itself
                        Some(ns) if a.widened && !isolates_all(ns, opposite, pods) => {
                            problem = Some((
                                span,
                                format!(
                                    "namespace `{n}` does not isolate {} for these pods",
                                    dir_word(opposite)
                                ),
                            ))
                        }
                        Some(_) if a.widened && admits(&widened, &n, opposite, a) => {
                            problem = Some((
                                span,
                                format!(
                                    "the {} side of `{n}` also depends on namespace labels",
                                    dir_word(opposite)
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
                            dir_word(a.dir),
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

    /// E0502: a deny that a side could not subtract from a named port is
    /// exact only if the other side of those connections enforces it: pods
    /// of named, managed namespaces whose side neither left the deny out
    /// (a namespace label selector) nor met the same conflict.
    fn check_conflicts(&mut self) {
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
                PeerSet::External(_) => None,
            };
            let decided = names.is_some_and(|names| {
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

    fn effect_warnings(&mut self) {
        type RuleKey = (Action, Vec<PeerSet>, Vec<(PeerSet, PortSet)>);
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
            match seen.entry((s.action, src, dst)) {
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
                        .at(s.span, "no side of it is isolated")
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

/// A peer set where namespace `ns` is known to carry labels matching
/// `labels`: its part in `ns` narrowed to them, its part elsewhere as is.
fn assume(peer: &PeerSet, ns: &str, labels: &LabelSel) -> Vec<PeerSet> {
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
fn admits(
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
fn own_labels(namespaces: &LabelSel) -> LabelSel {
    let mut out = LabelSel::any();
    for (k, c) in namespaces.0.iter() {
        if k != NAME_LABEL {
            out = out.with(k, c.clone());
        }
    }
    out
}

/// Whether two boxes share a connection (for some cluster).
fn meets(a: &Cell, b: &Cell) -> bool {
    a.subject.intersect(&b.subject).is_some()
        && a.peer.intersect(&b.peer).is_some()
        && a.ports.may_intersect(&b.ports)
}

/// What is left of `rest` once every box of `others` is taken out, for
/// every cluster, or more (a box whose ports cannot be taken out exactly,
/// because of a named port, is not taken out). `None` when there are too
/// many pieces to follow: the caller then assumes something is left. Both
/// can only refuse, never mis-compile.
fn subtract_all(mut rest: Vec<Cell>, others: &[Cell]) -> Option<Vec<Cell>> {
    let mk = |subject: LabelSel, peer: PeerSet, ports: PortSet| Cell {
        subject,
        peer,
        ports,
        allows: BTreeSet::new(),
        denies: BTreeSet::new(),
    };
    for c in others {
        let mut next = Vec::new();
        for r in rest {
            let (Some(both_subject), Some(both_peer), true) = (
                r.subject.intersect(&c.subject),
                r.peer.intersect(&c.peer),
                r.ports.may_intersect(&c.ports),
            ) else {
                next.push(r);
                continue;
            };
            // a named port cannot be taken out of numbers exactly: leave
            // the piece whole (what is left can only be larger)
            let Ok(ports) = r.ports.minus(&c.ports) else {
                next.push(r);
                continue;
            };
            for s in r.subject.minus(&c.subject) {
                next.push(mk(s, r.peer.clone(), r.ports.clone()));
            }
            for p in r.peer.minus(&c.peer) {
                next.push(mk(both_subject.clone(), p, r.ports.clone()));
            }
            if !ports.is_empty() {
                next.push(mk(both_subject, both_peer, ports));
            }
        }
        rest = next;
        rest.retain(|c| !c.ports.is_empty() && !c.peer.is_empty() && !c.subject.is_empty());
        if rest.is_empty() || rest.len() > 4096 {
            break;
        }
    }
    (rest.len() <= 4096).then_some(rest)
}

/// The addresses that denies took out of one piece and have not been
/// applied yet. A deny that cuts only a piece's addresses (its subject and
/// ports hold the piece's) leaves one piece, the same with fewer addresses;
/// a run of such cuts is applied at once, since each alone would copy every
/// hole cut before it (thousands, when many denies cut one allow).
#[derive(Default)]
struct Holes {
    v4: crate::ir::ranges::RangeUnion,
    v6: crate::ir::ranges::RangeUnion,
    ids: Vec<usize>,
}

impl Holes {
    /// Cuts `deny` out of the piece whose addresses are `peer` minus the
    /// holes so far; the deny is recorded if it takes something out.
    fn cut(&mut self, peer: &PeerSet, deny: &IpSet, id: usize) {
        let PeerSet::External(have) = peer else {
            return;
        };
        let left = |u: &crate::ir::ranges::RangeUnion,
                    d: &crate::ir::ranges::RangeSet,
                    h: &crate::ir::ranges::RangeSet| {
            d.ranges().iter().any(|&(lo, hi)| {
                u.uncovered(lo, hi)
                    .into_iter()
                    .any(|(a, b)| crate::ir::ranges::RangeSet::range(a, b).meets(h))
            })
        };
        if left(&self.v4, &deny.v4, &have.v4) || left(&self.v6, &deny.v6, &have.v6) {
            for &(lo, hi) in deny.v4.ranges() {
                self.v4.insert(lo, hi);
            }
            for &(lo, hi) in deny.v6.ranges() {
                self.v6.insert(lo, hi);
            }
            self.ids.push(id);
        }
    }
    /// Applies the holes to the piece; false when no address is left.
    fn apply(&mut self, p: &mut Cell) -> bool {
        if self.ids.is_empty() {
            return true;
        }
        if let PeerSet::External(have) = &p.peer {
            let holes = IpSet {
                v4: self.v4.to_set(),
                v6: self.v6.to_set(),
            };
            p.peer = PeerSet::External(have.minus(&holes));
        }
        p.denies.extend(self.ids.drain(..));
        *self = Holes::default();
        !p.peer.is_empty()
    }
}

/// The deny's addresses when cutting `d` out of piece `p` only takes
/// addresses out of it: both are addresses, and the deny's subject and
/// ports hold the piece's.
fn cuts_only_addresses<'c>(p: &Cell, d: &'c Cell) -> Option<&'c IpSet> {
    let (PeerSet::External(_), PeerSet::External(dp)) = (&p.peer, &d.peer) else {
        return None;
    };
    (!p.subject.is_empty() && p.subject.is_subset(&d.subject) && p.ports.is_subset_of(&d.ports))
        .then_some(dp)
}

/// A quick test, without allocating, that fails only when a cell and a deny
/// cannot meet: by their peers' kinds and addresses and their port numbers
/// (named ports may meet anything of their protocol).
fn may_meet(cell: &Cell, d: &Cell) -> bool {
    let peers = match (&cell.peer, &d.peer) {
        (PeerSet::External(a), PeerSet::External(b)) => a.meets(b),
        (PeerSet::Pods { .. }, PeerSet::Pods { .. }) => true,
        _ => false,
    };
    let ports = !cell.ports.named.is_empty()
        || !d.ports.named.is_empty()
        || cell
            .ports
            .numbers
            .iter()
            .any(|(p, r)| d.ports.numbers.get(p).is_some_and(|q| r.meets(q)));
    peers && ports
}

/// Whether every pod of `ns` matching `pods` is isolated in `dir` (by the
/// posture, or by `isolate` statements together).
fn isolates_all(ns: &crate::ir::Namespace, dir: Direction, pods: &LabelSel) -> bool {
    if ns.posture.get(dir) {
        return true;
    }
    let mut rest = vec![pods.clone()];
    for sel in ns
        .isolates
        .iter()
        .filter(|i| i.directions.get(dir))
        .flat_map(|i| i.pods.iter())
    {
        rest = rest.iter().flat_map(|r| r.minus(sel)).collect();
    }
    rest.iter().all(LabelSel::is_empty)
}

fn dir_word(d: Direction) -> &'static str {
    match d {
        Direction::Ingress => "ingress",
        Direction::Egress => "egress",
    }
}

/// Merges one direction's cells into rules: same peer → union of ports,
/// then same ports → union of peers; cells covered by another are dropped.
fn merge_rules(cells: Vec<Cell>) -> Vec<PolicyRule> {
    // cells of one peer join the first of them (a map, not a search of
    // the kept cells: a policy may have thousands of peers)
    let mut group: Vec<usize> = Vec::with_capacity(cells.len());
    let mut groups = 0;
    {
        let mut first: std::collections::HashMap<&PeerSet, usize> =
            std::collections::HashMap::new();
        for c in &cells {
            group.push(*first.entry(&c.peer).or_insert_with(|| {
                groups += 1;
                groups - 1
            }));
        }
    }
    let mut slots: Vec<Option<Cell>> = Vec::new();
    slots.resize_with(groups, || None);
    for (c, g) in cells.into_iter().zip(group) {
        match &mut slots[g] {
            Some(k) => {
                k.ports = k.ports.union(&c.ports);
                k.allows.extend(c.allows);
                k.denies.extend(c.denies);
            }
            slot => *slot = Some(c),
        }
    }
    let mut kept: Vec<Cell> = slots.into_iter().flatten().collect();
    // drop cells inside another (same subject already); only peers that
    // may contain a cell's peer are compared with it
    let within = |a: &Cell, b: &Cell| a.peer.is_subset(&b.peer) && a.ports.is_subset_of(&b.ports);
    let peers: Vec<&PeerSet> = kept.iter().map(|c| &c.peer).collect();
    let candidates = crate::ir::superset_candidates(&peers);
    let redundant: Vec<bool> = candidates
        .iter()
        .enumerate()
        .map(|(i, js)| {
            js.iter()
                .any(|&j| within(&kept[i], &kept[j]) && !within(&kept[j], &kept[i]))
        })
        .collect();
    let mut flags = redundant.into_iter();
    kept.retain(|_| !flags.next().unwrap_or(false));
    let mut by_ports: BTreeMap<PortSet, PolicyRule> = BTreeMap::new();
    for c in kept {
        let r = by_ports
            .entry(c.ports.clone())
            .or_insert_with(|| PolicyRule {
                peers: vec![],
                ports: c.ports.clone(),
                allows: BTreeSet::new(),
                denies: BTreeSet::new(),
            });
        r.peers.push(c.peer);
        r.allows.extend(c.allows);
        r.denies.extend(c.denies);
    }
    let mut rules: Vec<PolicyRule> = by_ports
        .into_values()
        .map(|mut r| {
            let mut ext = IpSet::empty();
            let mut pods: Vec<PeerSet> = Vec::new();
            for p in r.peers.drain(..) {
                match p {
                    PeerSet::External(s) => ext = ext.union(&s),
                    other => pods.push(other),
                }
            }
            pods.sort();
            pods.dedup();
            if !ext.is_empty() {
                pods.push(PeerSet::External(ext));
            }
            r.peers = pods;
            r
        })
        .collect();
    rules.sort_by(|a, b| (&a.peers, &a.ports).cmp(&(&b.peers, &b.ports)));
    rules
}

/// Groups a namespace's cells into policies: one per subject, plus the base
/// policy that isolates every pod of the namespace in both directions.
fn assemble(ns: &crate::ir::Namespace, ingress: Vec<Cell>, egress: Vec<Cell>) -> Vec<Policy> {
    let mut by_subject: BTreeMap<LabelSel, (Vec<Cell>, Vec<Cell>)> = BTreeMap::new();
    by_subject.entry(LabelSel::any()).or_default();
    for c in ingress {
        by_subject.entry(c.subject.clone()).or_default().0.push(c);
    }
    for c in egress {
        by_subject.entry(c.subject.clone()).or_default().1.push(c);
    }
    let mut policies: Vec<Policy> = by_subject
        .into_iter()
        .map(|(subject, (i, e))| Policy {
            namespace: ns.name.clone(),
            name: String::new(),
            subject,
            ingress: merge_rules(i),
            egress: merge_rules(e),
        })
        .collect();
    crate::emit::names::assign(ns, &mut policies);
    policies.sort_by(|a, b| a.name.cmp(&b.name));
    policies
}
