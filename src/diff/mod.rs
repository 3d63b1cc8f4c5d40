//! `nplc diff`: the semantic difference of two programs. Input: two checked
//! programs ([`Program`], the IR) and their source maps. Output: a [`Diff`]:
//! every box of connections that one program permits and the other does
//! not, each with the statements (allows, denies, postures, isolates) of
//! both programs that decide it; grouped in source terms by
//! [`report::Report`]; the node firewall's difference by [`firewall`].
//!
//! The computation is symbolic and exact on the IR's sets (docs/diff.md):
//!
//! 1. *Where can they differ?* Each program is a set of atoms (one per
//!    source term × destination term of a statement: action, sides, source
//!    set, destination set, port atoms). Atoms held by one program and not
//!    the other, and the sides of namespaces whose management, posture or
//!    isolation differs, are the *regions*: outside them every statement,
//!    isolation and management is the same in both, so is every verdict.
//! 2. Each region (less the regions before it, so that nothing is counted
//!    twice) is cut into cells on which every atom, isolation and managed
//!    namespace of both programs that meets it is constant
//!    ([`space::Cube::split`]).
//! 3. Each cell is decided by docs/semantics.md, as the intent evaluator
//!    (src/eval/intent.rs) decides a connection: a side of a pod in no
//!    managed namespace permits, an isolated side permits what an allow
//!    holds and no deny does, any other side what no deny holds; the
//!    connection needs every side it has. Cells decided otherwise by the
//!    two programs are the difference.
//!
//! Regions are independent: they are cut and decided in parallel, results
//! in region order.
//!
//! Side-scoped statements (`on ingress`, `on egress`) decide only their
//! side, in the cells as in the intent evaluator. Stated namespace labels
//! (`labels {...}`) are not assumed: the difference is over every cluster,
//! as the intent evaluator reads a namespace's labels from the population
//! (docs/diff.md).

pub mod firewall;
pub mod graph;
pub mod pods;
pub mod report;
pub mod space;

use crate::ir::{Action, Direction, KeyC, LabelSel, PeerSet, Program, Statement, NAME_LABEL};
use crate::source::Span;
use space::{named, Cube, Ports, Pred};
use std::collections::{BTreeMap, BTreeSet};

/// Which of the two programs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Version {
    Old,
    New,
}

/// Whether a statement decides the given side: both sides, or the one it
/// is scoped to (`on ingress`, `on egress`).
pub fn decides(s: &Statement, dir: Direction) -> bool {
    s.decides(dir)
}

/// One source term × one destination term of a statement, as a predicate.
#[derive(Debug, Clone)]
pub struct Atom {
    /// Index into the program's statements.
    pub stmt: usize,
    pub action: Action,
    pub egress: bool,
    pub ingress: bool,
    pub cube: Cube,
}

impl Atom {
    fn decides(&self, dir: Direction) -> bool {
        match dir {
            Direction::Egress => self.egress,
            Direction::Ingress => self.ingress,
        }
    }
    fn key(&self) -> (Action, bool, bool, &Cube) {
        (self.action, self.egress, self.ingress, &self.cube)
    }
}

/// An isolation: the pods of one namespace it isolates in one direction,
/// and where that is written (`None`: the default posture).
#[derive(Debug, Clone)]
pub struct Isolation {
    pub pods: PeerSet,
    pub span: Option<Span>,
}

/// One program as the diff reads it.
#[derive(Debug)]
pub struct Model<'a> {
    pub prog: &'a Program,
    pub atoms: Vec<Atom>,
    /// The managed namespaces, as a set of pods.
    pub managed: PeerSet,
    /// Isolations by direction (ingress, egress) and namespace.
    pub isolated: [BTreeMap<String, Vec<Isolation>>; 2],
}

fn dir_index(d: Direction) -> usize {
    match d {
        Direction::Ingress => 0,
        Direction::Egress => 1,
    }
}

impl<'a> Model<'a> {
    pub fn new(prog: &'a Program) -> Model<'a> {
        let mut atoms = Vec::new();
        for (i, s) in prog.statements.iter().enumerate() {
            for t in &s.src {
                for d in &s.dst {
                    let (Some(src), Some(dst)) = (named(&t.set), named(&d.set)) else {
                        continue;
                    };
                    let mut ports = Ports::from_ports(&d.ports);
                    if dst.is_external() {
                        ports = ports.numbers_only();
                    }
                    // two addresses: no side decides such a connection
                    let both_ext =
                        src.is_external() && dst.is_external();
                    if ports.is_empty() || both_ext {
                        continue;
                    }
                    atoms.push(Atom {
                        stmt: i,
                        action: s.action,
                        egress: decides(s, Direction::Egress),
                        ingress: decides(s, Direction::Ingress),
                        cube: Cube { src, dst, ports },
                    });
                }
            }
        }
        let names: crate::ir::sorted::VecSet<String> = prog.namespaces.keys().cloned().collect();
        let managed = PeerSet::Pods {
            namespaces: LabelSel::any().with(NAME_LABEL, KeyC::one_of(names)),
            pods: LabelSel::any(),
        };
        let mut isolated: [BTreeMap<String, Vec<Isolation>>; 2] = Default::default();
        for ns in prog.namespaces.values() {
            for dir in Direction::BOTH {
                let list = isolated[dir_index(dir)].entry(ns.name.clone()).or_default();
                if ns.posture.get(dir) {
                    list.push(Isolation {
                        pods: PeerSet::in_namespace(&ns.name, LabelSel::any()),
                        span: ns.posture_span,
                    });
                    continue;
                }
                for iso in ns.isolates.iter().filter(|i| i.directions.get(dir)) {
                    for sel in &iso.pods {
                        list.push(Isolation {
                            pods: PeerSet::in_namespace(&ns.name, sel.clone()),
                            span: Some(iso.span),
                        });
                    }
                }
            }
        }
        Model {
            prog,
            atoms,
            managed,
            isolated,
        }
    }

    /// The isolation sets of a namespace in a direction, as a sorted set
    /// (for comparing two programs).
    fn isolation_key(&self, dir: Direction, ns: &str) -> Option<BTreeSet<&PeerSet>> {
        self.isolated[dir_index(dir)]
            .get(ns)
            .map(|l| l.iter().map(|i| &i.pods).collect())
    }
}

/// A cell the two programs decide otherwise.
#[derive(Debug, Clone)]
pub struct Changed {
    pub cube: Cube,
    /// Whether NEW permits it (then OLD does not: an added connection).
    pub added: bool,
    /// What decides it in OLD and in NEW: statement indices, and the
    /// isolations (where written) of its sides.
    pub old: Why,
    pub new: Why,
}

/// What decides a cell in one program.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Why {
    /// Statements (indices) whose sets hold the cell.
    pub statements: BTreeSet<usize>,
    /// Postures and isolates (spans) that isolate a side of it.
    pub isolations: BTreeSet<Span>,
}

/// The semantic difference of two programs.
#[derive(Debug, Clone, Default)]
pub struct Diff {
    /// The cells, in region order; cells with the same source, destination
    /// and reasons are merged over ports.
    pub changed: Vec<Changed>,
}

/// A candidate index of atoms by the namespaces of their source and
/// destination: a region meets an atom only if their namespace names may
/// meet.
struct Index {
    by_src: BTreeMap<Bucket, Vec<usize>>,
    by_dst: BTreeMap<Bucket, Vec<usize>>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Bucket {
    External,
    Wild,
    Name(String),
}

fn buckets(p: &PeerSet) -> Vec<Bucket> {
    match p {
        PeerSet::External(_) | PeerSet::Names(_) => vec![Bucket::External],
        PeerSet::Pods { namespaces, .. } => match namespaces.get(NAME_LABEL) {
            Some(KeyC {
                values: crate::ir::ValSet::Finite(v),
                ..
            }) => v.iter().map(|n| Bucket::Name(n.clone())).collect(),
            _ => vec![Bucket::Wild],
        },
    }
}

impl Index {
    fn new(atoms: &[&Atom]) -> Index {
        let mut by_src: BTreeMap<Bucket, Vec<usize>> = BTreeMap::new();
        let mut by_dst: BTreeMap<Bucket, Vec<usize>> = BTreeMap::new();
        for (i, a) in atoms.iter().enumerate() {
            for b in buckets(&a.cube.src) {
                by_src.entry(b).or_default().push(i);
            }
            for b in buckets(&a.cube.dst) {
                by_dst.entry(b).or_default().push(i);
            }
        }
        Index { by_src, by_dst }
    }

    fn lookup(map: &BTreeMap<Bucket, Vec<usize>>, p: &PeerSet) -> BTreeSet<usize> {
        let mut out = BTreeSet::new();
        let mut take = |b: &Bucket| {
            if let Some(v) = map.get(b) {
                out.extend(v.iter().copied());
            }
        };
        for b in buckets(p) {
            match b {
                Bucket::External => take(&Bucket::External),
                Bucket::Name(_) => {
                    take(&b);
                    take(&Bucket::Wild);
                }
                Bucket::Wild => {
                    for (k, _) in map.iter().filter(|(k, _)| **k != Bucket::External) {
                        take(k);
                    }
                }
            }
        }
        out
    }

    /// Atoms that may meet the cube, ascending.
    fn candidates(&self, c: &Cube) -> Vec<usize> {
        let s = Self::lookup(&self.by_src, &c.src);
        let d = Self::lookup(&self.by_dst, &c.dst);
        s.intersection(&d).copied().collect()
    }
}

/// The regions where the two programs may differ (step 1).
fn regions(old: &Model, new: &Model) -> Vec<Cube> {
    let keys = |m: &Model| -> BTreeSet<(Action, bool, bool, Cube)> {
        m.atoms
            .iter()
            .map(|a| {
                let (x, e, i, c) = a.key();
                (x, e, i, c.clone())
            })
            .collect()
    };
    let (ko, kn) = (keys(old), keys(new));
    let mut out: Vec<Cube> = Vec::new();
    let mut seen: BTreeSet<Cube> = BTreeSet::new();
    for (_, _, _, c) in ko.symmetric_difference(&kn) {
        if seen.insert(c.clone()) {
            out.push(c.clone());
        }
    }
    // namespaces whose management or isolation differs: every connection
    // of that side
    let names: BTreeSet<&String> = old
        .prog
        .namespaces
        .keys()
        .chain(new.prog.namespaces.keys())
        .collect();
    let universe = [
        (space::all_pods(), Ports::all()),
        (
            PeerSet::External(crate::ir::IpSet::world()),
            Ports::all().numbers_only(),
        ),
    ];
    for ns in names {
        let pods = PeerSet::in_namespace(ns, LabelSel::any());
        for dir in Direction::BOTH {
            let managed_differs = old.prog.is_managed(ns) != new.prog.is_managed(ns);
            if !managed_differs && old.isolation_key(dir, ns) == new.isolation_key(dir, ns) {
                continue;
            }
            for (other, ports) in &universe {
                let c = match dir {
                    Direction::Egress => Cube {
                        src: pods.clone(),
                        dst: other.clone(),
                        ports: ports.clone(),
                    },
                    Direction::Ingress => {
                        if matches!(other, PeerSet::External(_)) {
                            // an address to a pod: ports with names
                            Cube {
                                src: other.clone(),
                                dst: pods.clone(),
                                ports: Ports::all(),
                            }
                        } else {
                            Cube {
                                src: other.clone(),
                                dst: pods.clone(),
                                ports: ports.clone(),
                            }
                        }
                    }
                };
                if let (Some(src), Some(dst)) = (named(&c.src), named(&c.dst)) {
                    let c = Cube {
                        src,
                        dst,
                        ports: c.ports,
                    };
                    if seen.insert(c.clone()) {
                        out.push(c);
                    }
                }
            }
        }
    }
    out
}

/// The predicates that may change a verdict inside a region, from one
/// program: its atoms that meet it, its managed namespaces, its isolations.
fn side_preds(m: &Model, atoms: &[usize]) -> Vec<Pred> {
    let mut out: Vec<Pred> = atoms
        .iter()
        .filter_map(|&i| m.atoms.get(i))
        .map(|a| Pred::cube(&a.cube))
        .collect();
    out.push(Pred {
        src: Some(m.managed.clone()),
        dst: None,
        ports: None,
    });
    out.push(Pred {
        src: None,
        dst: Some(m.managed.clone()),
        ports: None,
    });
    for dir in Direction::BOTH {
        for list in m.isolated[dir_index(dir)].values() {
            for iso in list {
                out.push(match dir {
                    Direction::Egress => Pred {
                        src: Some(iso.pods.clone()),
                        dst: None,
                        ports: None,
                    },
                    Direction::Ingress => Pred {
                        src: None,
                        dst: Some(iso.pods.clone()),
                        ports: None,
                    },
                });
            }
        }
    }
    out
}

/// Decides a cell (every atom, isolation and management constant on it)
/// in one program; `atoms` are the candidates that may hold it.
fn decide(m: &Model, atoms: &[usize], c: &Cube) -> (bool, Why) {
    let mut why = Why::default();
    let holding: Vec<&Atom> = atoms
        .iter()
        .filter_map(|&i| m.atoms.get(i))
        .filter(|a| c.inside(&Pred::cube(&a.cube)))
        .collect();
    why.statements = holding.iter().map(|a| a.stmt).collect();
    let mut ok = true;
    for dir in Direction::BOTH {
        let ep = match dir {
            Direction::Egress => &c.src,
            Direction::Ingress => &c.dst,
        };
        if matches!(ep, PeerSet::External(_)) || !ep.is_subset(&m.managed) {
            continue;
        }
        // inside the managed namespaces, so limited to some of their names
        let by_ns = &m.isolated[dir_index(dir)];
        let isolations: Vec<&Isolation> = buckets(ep)
            .iter()
            .flat_map(|b| match b {
                Bucket::Name(n) => by_ns.get(n).map(Vec::as_slice).unwrap_or(&[]).iter(),
                Bucket::External | Bucket::Wild => [].iter(),
            })
            .filter(|i| ep.is_subset(&i.pods))
            .collect();
        why.isolations
            .extend(isolations.iter().filter_map(|i| i.span));
        let allowed = holding
            .iter()
            .any(|a| a.action == Action::Allow && a.decides(dir));
        let denied = holding
            .iter()
            .any(|a| a.action == Action::Deny && a.decides(dir));
        let side = !denied && (isolations.is_empty() || allowed);
        ok &= side;
    }
    (ok, why)
}

/// The cells of one region, less the earlier regions, that the two
/// programs decide otherwise.
fn region_changes(
    old: &Model,
    new: &Model,
    idx: &(Index, Index),
    regions: &[Cube],
    k: usize,
) -> Vec<Changed> {
    let Some(region) = regions.get(k) else {
        return Vec::new();
    };
    let (oa, na) = (idx.0.candidates(region), idx.1.candidates(region));
    let oa: Vec<usize> = oa
        .into_iter()
        .filter(|&i| {
            old.atoms
                .get(i)
                .is_some_and(|a| space::meets(region, &Pred::cube(&a.cube)))
        })
        .collect();
    let na: Vec<usize> = na
        .into_iter()
        .filter(|&i| {
            new.atoms
                .get(i)
                .is_some_and(|a| space::meets(region, &Pred::cube(&a.cube)))
        })
        .collect();
    // cut away the earlier regions (they answer for their own cells)
    let mut cells = vec![region.clone()];
    for earlier in &regions[..k] {
        let p = Pred::cube(earlier);
        if !space::meets(region, &p) {
            continue;
        }
        let mut next = Vec::new();
        for c in cells {
            let mut parts = Vec::new();
            c.split(&p, &mut parts);
            next.extend(parts.into_iter().filter(|x| !x.inside(&p)));
        }
        cells = next;
    }
    let mut preds = side_preds(old, &oa);
    preds.extend(side_preds(new, &na));
    // only what meets the region can cut it
    preds.retain(|p| space::meets(region, p));
    for p in &preds {
        let mut next = Vec::with_capacity(cells.len());
        for c in cells {
            c.split(p, &mut next);
        }
        cells = next;
    }
    let mut out: Vec<Changed> = Vec::new();
    for c in cells {
        let (po, wo) = decide(old, &oa, &c);
        let (pn, wn) = decide(new, &na, &c);
        if po != pn {
            out.push(Changed {
                cube: c,
                added: pn,
                old: wo,
                new: wn,
            });
        }
    }
    out
}

/// Merges cells with the same source, destination, direction and reasons
/// over their ports, keeping the order of first appearance.
fn merge(cells: Vec<Changed>) -> Vec<Changed> {
    type Key = (bool, PeerSet, PeerSet, Why, Why);
    let mut at: BTreeMap<Key, usize> = BTreeMap::new();
    let mut out: Vec<Changed> = Vec::new();
    for c in cells {
        let key = (
            c.added,
            c.cube.src.clone(),
            c.cube.dst.clone(),
            c.old.clone(),
            c.new.clone(),
        );
        match at.get(&key).and_then(|&i| out.get_mut(i)) {
            Some(prev) => prev.cube.ports = prev.cube.ports.union(&c.cube.ports),
            None => {
                at.insert(key, out.len());
                out.push(c);
            }
        }
    }
    out
}

/// The semantic difference of `old` and `new` (what `new` permits that
/// `old` does not, and the reverse), exact on the IR's sets.
pub fn diff(old: &Program, new: &Program) -> Diff {
    let (mo, mn) = (Model::new(old), Model::new(new));
    diff_models(&mo, &mn)
}

/// [`diff`] on models already built.
pub fn diff_models(old: &Model, new: &Model) -> Diff {
    let regions = regions(old, new);
    let idx = (
        Index::new(&old.atoms.iter().collect::<Vec<_>>()),
        Index::new(&new.atoms.iter().collect::<Vec<_>>()),
    );
    let ks: Vec<usize> = (0..regions.len()).collect();
    let parts = crate::par::map(&ks, |&k| region_changes(old, new, &idx, &regions, k));
    Diff {
        changed: merge(parts.into_iter().flatten().collect()),
    }
}

impl Diff {
    pub fn is_empty(&self) -> bool {
        self.changed.is_empty()
    }
}
