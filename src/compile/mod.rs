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
//!
//! Modules: this one builds each side's boxes; `cells` is the box algebra
//! (difference, merging into rules); `exactness` raises E0501/E0502 where a
//! side could not decide exactly and the other side does not either;
//! `effects` warns about statements without effect; `names` names the
//! policies; `incremental` compiles again only the namespaces an edit
//! changed (the language server).

mod cells;
pub mod effects;
mod exactness;
pub mod incremental;
pub mod names;

use crate::diag::{Diagnostic, Failed, Sink};
use crate::ir::{
    Action, Direction, IpSet, LabelSel, PeerSet, PortSet, Program, Statement, Tri, NAME_LABEL,
};
use crate::source::Span;
use cells::{
    cuts_only_addresses, join_addresses, may_meet, meets, merge_rules, subtract_all, Holes,
};
use exactness::{assume, own_labels, Approx, Conflict};
use std::collections::{BTreeMap, BTreeSet, HashMap};

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
pub fn compile(prog: &Program, sink: &mut Sink) -> Result<PolicySet, Failed> {
    compile_with(prog, true, sink)
}

/// What deny compilation (the k8s target) refuses before it starts: E0504
/// for every statement that names DNS names (NetworkPolicy has no peer by
/// name), once each. Both [`compile`] and the incremental compile report
/// it, and compile nothing then (no effect warnings either).
pub fn refusals(prog: &Program) -> Vec<crate::diag::Diagnostic> {
    prog.dns_terms()
        .map(|(_, span)| {
            crate::diag::Diagnostic::error(
                "E0504",
                "NetworkPolicy cannot select peers by DNS name",
            )
            .at(span, "a DNS name")
            .with_help("build for Cilium, which can: `nplc build --target cilium` (or `target = \"cilium\"` in nplc.toml); for the k8s target write the addresses the name resolves to as blocks (`203.0.113.0/24`)")
        })
        .collect()
}

/// The documented construction without its two refusals (E0501, E0502),
/// for the tests that show each refusal necessary: a side that cannot see
/// its namespace's labels is widened (allow) or left alone (deny) whatever
/// the other side, and a deny overlapping a named port is not subtracted.
/// Never for output: what it returns may permit more or less than written.
pub fn compile_inexact(prog: &Program, sink: &mut Sink) -> Result<PolicySet, Failed> {
    compile_with(prog, false, sink)
}

fn compile_with(
    prog: &Program,
    refuse_inexact: bool,
    sink: &mut Sink,
) -> Result<PolicySet, Failed> {
    let mark = sink.mark();
    let refused = refusals(prog);
    if !refused.is_empty() {
        sink.extend(refused);
        return sink.finish(mark, PolicySet::default());
    }
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
    let hashes: Vec<u64> = prog.statements.iter().map(effects::rule_hash).collect();
    c.effect_warnings(&hashes);
    sink.extend(c.diags);
    sink.finish(mark, PolicySet { policies })
}

/// Which statements can have subjects in which namespace, per direction, so
/// that a side looks only at statements that can touch it.
struct StatementIndex<'p> {
    /// By namespace name: the statements naming it, for ingress and egress.
    named: HashMap<&'p str, [Vec<usize>; 2]>,
    /// Statements whose subjects may be in any namespace (`cluster`, `{labels}/...`).
    anywhere: [Vec<usize>; 2],
}

/// The slot of a direction in the index's pairs.
fn slot(dir: Direction) -> usize {
    match dir {
        Direction::Ingress => 0,
        Direction::Egress => 1,
    }
}

impl<'p> StatementIndex<'p> {
    fn new(prog: &'p Program) -> StatementIndex<'p> {
        let mut named: HashMap<&'p str, [Vec<usize>; 2]> = HashMap::new();
        let mut anywhere: [Vec<usize>; 2] = [vec![], vec![]];
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
                                for n in names.iter() {
                                    named.entry(n.as_str()).or_default()[slot(dir)].push(s.id);
                                }
                            }
                        }
                        _ => anywhere[slot(dir)].push(s.id),
                    }
                }
            }
        }
        StatementIndex { named, anywhere }
    }

    fn candidates(&self, ns: &str, dir: Direction) -> Vec<usize> {
        let mut v: Vec<usize> = self
            .named
            .get(ns)
            .map(|n| n[slot(dir)].as_slice())
            .unwrap_or_default()
            .iter()
            .chain(&self.anywhere[slot(dir)])
            .copied()
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    }
}

struct Compiler<'a> {
    prog: &'a Program,
    index: &'a StatementIndex<'a>,
    diags: Vec<Diagnostic>,
    /// Allows that produced a box on an isolated side.
    allow_used: BTreeSet<usize>,
    /// Denies with a side in a managed namespace (kept on isolated sides
    /// as defence in depth, even where nothing allows what they deny).
    deny_managed: BTreeSet<usize>,
    approx: Vec<Approx>,
    conflicts: Vec<Conflict>,
}

/// (subject term set, peer set, ports) of a statement seen from one side;
/// none for a side the statement does not decide (`on ingress|egress`).
fn side_triples(s: &Statement, dir: Direction) -> Vec<(&PeerSet, Span, &PeerSet, &PortSet)> {
    let mut out = Vec::new();
    if !s.decides(dir) {
        return out;
    }
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
    fn new(prog: &'a Program, index: &'a StatementIndex<'a>) -> Compiler<'a> {
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
                let m = self.prog.ns_matches(namespaces, ns);
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
        let cells = join_addresses(cells);
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
    let subjects: Vec<&LabelSel> = policies.iter().map(|p| &p.subject).collect();
    let names = names::policy_names(ns, &subjects);
    for (p, name) in policies.iter_mut().zip(names) {
        p.name = name;
    }
    policies.sort_by(|a, b| a.name.cmp(&b.name));
    policies
}
