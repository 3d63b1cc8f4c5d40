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
//! 4. *DNS names* (docs/diff.md, "DNS names") are compared by name: the
//!    names dimension is cut into atoms by the names and patterns of both
//!    programs ([`NameSet`]); for each atom, the allows whose names hold it
//!    become allows of every address, beside the atoms towards addresses,
//!    and steps 1-3 run again on the connections those allows reach. A
//!    cell is then a change by name ([`Changed::names`]): the connections
//!    from its sources to an address its names resolve to (the cell's
//!    addresses), under a resolver where one of its names answers that
//!    address and no other name does. The cells of steps 1-3 are changes
//!    by address (no name answers the address); under any resolver, a
//!    connection is permitted exactly when it is by address or by name for
//!    one of the names answering its address, so the two together miss no
//!    difference.
//!
//! Regions are independent: they are cut and decided in parallel, results
//! in region order; name atoms likewise, after the regions.
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

use crate::ir::dns::pattern_matches;
use crate::ir::{
    Action, Direction, DnsNames, KeyC, LabelSel, PeerSet, Program, Statement, NAME_LABEL,
};
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

/// An allow towards DNS names: its atom with every address as destination
/// (the addresses the names resolve to are not known), and the names.
#[derive(Debug, Clone)]
pub struct NamedAtom {
    pub atom: Atom,
    pub names: DnsNames,
}

/// One program as the diff reads it.
#[derive(Debug)]
pub struct Model<'a> {
    pub prog: &'a Program,
    /// The atoms towards pods and addresses.
    pub atoms: Vec<Atom>,
    /// The allows towards DNS names.
    pub by_name: Vec<NamedAtom>,
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
        let mut by_name = Vec::new();
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
                    let atom = |dst: PeerSet| Atom {
                        stmt: i,
                        action: s.action,
                        egress: decides(s, Direction::Egress),
                        ingress: decides(s, Direction::Ingress),
                        cube: Cube { src: src.clone(), dst, ports: ports.clone() },
                    };
                    match dst {
                        // by name: every address a matching name resolves
                        // to (the checker refuses names in a deny, E0115)
                        PeerSet::Names(names) => {
                            if s.action == Action::Allow {
                                by_name.push(NamedAtom {
                                    atom: atom(PeerSet::External(crate::ir::IpSet::world())),
                                    names,
                                });
                            }
                        }
                        dst => atoms.push(atom(dst)),
                    }
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
            by_name,
            managed,
            isolated,
        }
    }

    /// The model of connections to the addresses of the names of `n`, by
    /// name: the atoms towards addresses, and each allow whose names hold
    /// `n` as an allow of every address (whatever `n` resolves to, it is
    /// allowed by that name). Atoms towards pods are left out (no name is
    /// a pod).
    fn for_names(&self, n: &NameSet) -> Model<'a> {
        let mut atoms: Vec<Atom> = self
            .atoms
            .iter()
            .filter(|a| matches!(a.cube.dst, PeerSet::External(_)))
            .cloned()
            .collect();
        atoms.extend(
            self.by_name
                .iter()
                .filter(|a| n.lies_in(&a.names))
                .map(|a| a.atom.clone()),
        );
        Model {
            prog: self.prog,
            atoms,
            by_name: Vec::new(),
            managed: self.managed.clone(),
            isolated: self.isolated.clone(),
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

/// A set of DNS names on the names dimension of the diff: the names that
/// an entry of `names` matches (an exact name, or a `*.` pattern: the
/// names one label below its suffix), less the exact names of `except`.
/// The atoms of the dimension are cut by the entries of both programs:
/// each exact name alone, and each pattern less the exact names under it;
/// every set of names a program writes holds an atom whole or not at all.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct NameSet {
    pub names: BTreeSet<String>,
    pub except: BTreeSet<String>,
}

impl NameSet {
    /// Whether the (concrete) name `name` is in the set.
    pub fn matches(&self, name: &str) -> bool {
        self.names.iter().any(|p| pattern_matches(p, name))
            && !self.except.iter().any(|e| pattern_matches(e, name))
    }

    /// Whether every name of this set (an atom) is a name of `o`: an exact
    /// name that `o` matches, or a pattern that `o` holds (an atom of a
    /// pattern holds names that no exact name of either program is).
    fn lies_in(&self, o: &DnsNames) -> bool {
        self.names.iter().all(|e| {
            if e.starts_with("*.") {
                o.0.contains(e)
            } else {
                o.matches(e)
            }
        })
    }

    /// The union with `o` (both unions of atoms): an exact name taken out
    /// of a pattern of one and held by the other is in.
    fn union(&self, o: &NameSet) -> NameSet {
        let names: BTreeSet<String> = self.names.union(&o.names).cloned().collect();
        let except: BTreeSet<String> = self
            .except
            .union(&o.except)
            .filter(|e| !names.contains(*e))
            .cloned()
            .collect();
        let patterns: Vec<&String> = names.iter().filter(|n| n.starts_with("*.")).collect();
        let names = names
            .iter()
            .filter(|n| {
                n.starts_with("*.")
                    || !patterns.iter().any(|p| pattern_matches(p, n))
            })
            .cloned()
            .collect();
        NameSet { names, except }
    }

    /// As in a program: `dns:*.example.com except dns:api.example.com`.
    pub fn text(&self) -> String {
        let list = |v: &BTreeSet<String>| {
            v.iter()
                .map(|n| format!("dns:{n}"))
                .collect::<Vec<_>>()
                .join(" | ")
        };
        let names = if self.names.len() > 1 && !self.except.is_empty() {
            format!("({})", list(&self.names))
        } else {
            list(&self.names)
        };
        match self.except.len() {
            0 => names,
            1 => format!("{names} except {}", list(&self.except)),
            _ => format!("{names} except ({})", list(&self.except)),
        }
    }
}

/// The atoms of the names dimension (see [`NameSet`]), from the allows
/// towards names of both programs: each exact name, then each pattern less
/// the exact names under it; sorted.
fn name_atoms(old: &Model, new: &Model) -> Vec<NameSet> {
    let entries: BTreeSet<&String> = old
        .by_name
        .iter()
        .chain(new.by_name.iter())
        .flat_map(|a| a.names.iter())
        .collect();
    let exact: Vec<&String> = entries
        .iter()
        .copied()
        .filter(|e| !e.starts_with("*."))
        .collect();
    entries
        .iter()
        .map(|e| {
            let except = if e.starts_with("*.") {
                exact
                    .iter()
                    .filter(|x| pattern_matches(e, x))
                    .map(|x| (*x).clone())
                    .collect()
            } else {
                BTreeSet::new()
            };
            NameSet {
                names: BTreeSet::from([(*e).clone()]),
                except,
            }
        })
        .collect()
}

/// A cell the two programs decide otherwise.
#[derive(Debug, Clone)]
pub struct Changed {
    /// The connections; for a change by name, the sources, the addresses
    /// the names resolve to where the change holds, and the ports.
    pub cube: Cube,
    /// A change by name: the names reached (`cube.dst` is then the
    /// addresses they resolve to where the verdicts differ, `world` when
    /// wherever they resolve). `None`: a change by address, or between pods.
    pub names: Option<NameSet>,
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
                names: None,
                added: pn,
                old: wo,
                new: wn,
            });
        }
    }
    out
}

/// Merges cells with the same source, destination (names included),
/// direction and reasons over their ports; then changes by name with the
/// same sources, names, ports and reasons over the addresses the names
/// resolve to, and those with the same cube and reasons over their names;
/// keeping the order of first appearance.
fn merge(cells: Vec<Changed>) -> Vec<Changed> {
    type Key = (bool, PeerSet, PeerSet, Option<NameSet>, Why, Why);
    let mut at: BTreeMap<Key, usize> = BTreeMap::new();
    let mut out: Vec<Changed> = Vec::new();
    for c in cells {
        let key = (
            c.added,
            c.cube.src.clone(),
            c.cube.dst.clone(),
            c.names.clone(),
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
    // by name: over the addresses the names resolve to
    type AddrKey = (bool, PeerSet, NameSet, Ports, Why, Why);
    let mut at: BTreeMap<AddrKey, usize> = BTreeMap::new();
    let mut by_addr: Vec<Changed> = Vec::new();
    for c in out {
        let (Some(names), PeerSet::External(ips)) = (&c.names, &c.cube.dst) else {
            by_addr.push(c);
            continue;
        };
        let key = (
            c.added,
            c.cube.src.clone(),
            names.clone(),
            c.cube.ports.clone(),
            c.old.clone(),
            c.new.clone(),
        );
        match at.get(&key).and_then(|&i| by_addr.get_mut(i)) {
            Some(prev) => {
                if let PeerSet::External(p) = &prev.cube.dst {
                    prev.cube.dst = PeerSet::External(p.union(ips));
                }
            }
            None => {
                at.insert(key, by_addr.len());
                by_addr.push(c);
            }
        }
    }
    // and over the names
    type NameKey = (bool, Cube, Why, Why);
    let mut at: BTreeMap<NameKey, usize> = BTreeMap::new();
    let mut merged: Vec<Changed> = Vec::new();
    for c in by_addr {
        let Some(names) = &c.names else {
            merged.push(c);
            continue;
        };
        let key = (c.added, c.cube.clone(), c.old.clone(), c.new.clone());
        match at.get(&key).and_then(|&i| merged.get_mut(i)) {
            Some(prev) => {
                let joined = prev.names.as_ref().map(|p| p.union(names));
                prev.names = joined;
            }
            None => {
                at.insert(key, merged.len());
                merged.push(c);
            }
        }
    }
    merged
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
    let mut changed: Vec<Changed> = parts.into_iter().flatten().collect();
    let atoms = name_atoms(old, new);
    let by_name = crate::par::map(&atoms, |n| name_changes(old, new, n));
    changed.extend(by_name.into_iter().flatten());
    Diff {
        changed: merge(changed),
    }
}

/// The changes by name for the names of the atom `n` (docs/diff.md, "DNS
/// names"): the connections from pods to an address that a name of `n`
/// resolves to (and no name of another atom does), decided as every cell
/// is, with the allows whose names hold `n` allowing every address. Only
/// the connections some allow of either program reaches by a name of `n`
/// are looked at: elsewhere the verdict is the one by address, reported as
/// such.
fn name_changes(old: &Model, new: &Model, n: &NameSet) -> Vec<Changed> {
    let (mo, mn) = (old.for_names(n), new.for_names(n));
    let reached: Vec<&Cube> = [old, new]
        .iter()
        .flat_map(|m| m.by_name.iter())
        .filter(|a| n.lies_in(&a.names))
        .map(|a| &a.atom.cube)
        .collect();
    let mut seen: BTreeSet<Cube> = BTreeSet::new();
    let mut parts: Vec<Cube> = Vec::new();
    for r in regions(&mo, &mn) {
        for b in &reached {
            if let Some(c) = r.intersect(&Pred::cube(b)) {
                if seen.insert(c.clone()) {
                    parts.push(c);
                }
            }
        }
    }
    let idx = (
        Index::new(&mo.atoms.iter().collect::<Vec<_>>()),
        Index::new(&mn.atoms.iter().collect::<Vec<_>>()),
    );
    (0..parts.len())
        .flat_map(|k| region_changes(&mo, &mn, &idx, &parts, k))
        .map(|mut c| {
            c.names = Some(n.clone());
            c
        })
        .collect()
}

impl Diff {
    pub fn is_empty(&self) -> bool {
        self.changed.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn program(src: &str) -> Program {
        let c = crate::driver::front_end(&[crate::driver::Input {
            name: "t.npl".into(),
            text: src.into(),
        }]);
        assert!(!c.has_errors(), "{:?}", c.diagnostics);
        c.program.unwrap()
    }

    fn set(names: &[&str], except: &[&str]) -> NameSet {
        NameSet {
            names: names.iter().map(|s| s.to_string()).collect(),
            except: except.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn name_atoms_are_cut_by_the_names_of_both_programs() {
        let old = program("use dns\nnamespace a {\n  allow egress dns\n  allow app=x -> dns:*.example.com:443\n}\n");
        let new = program("use dns\nnamespace a {\n  allow egress dns\n  allow app=x -> (dns:api.example.com | dns:other.org):443\n}\n");
        let (mo, mn) = (Model::new(&old), Model::new(&new));
        let atoms = name_atoms(&mo, &mn);
        assert_eq!(
            atoms,
            vec![
                set(&["*.example.com"], &["api.example.com"]),
                set(&["api.example.com"], &[]),
                set(&["other.org"], &[]),
            ]
        );
        // each atom lies in a set of names or misses it
        let wide = DnsNames::new(["*.example.com".to_string()]);
        let api = DnsNames::new(["api.example.com".to_string()]);
        assert!(atoms[0].lies_in(&wide) && !atoms[0].lies_in(&api));
        assert!(atoms[1].lies_in(&wide) && atoms[1].lies_in(&api));
        assert!(!atoms[2].lies_in(&wide));
        assert!(atoms[0].matches("www.example.com"));
        assert!(!atoms[0].matches("api.example.com"));
        assert!(!atoms[0].matches("a.b.example.com"));
    }

    #[test]
    fn unions_of_atoms_and_their_text() {
        let rest = set(&["*.example.com"], &["api.example.com"]);
        let api = set(&["api.example.com"], &[]);
        // a pattern less a name, and the name: the pattern
        assert_eq!(rest.union(&api), set(&["*.example.com"], &[]));
        assert_eq!(rest.text(), "dns:*.example.com except dns:api.example.com");
        let two = rest.union(&set(&["other.org"], &[]));
        assert_eq!(
            two.text(),
            "(dns:*.example.com | dns:other.org) except dns:api.example.com"
        );
        for n in ["www.example.com", "api.example.com", "other.org", "x.org"] {
            assert_eq!(
                rest.union(&api).matches(n),
                rest.matches(n) || api.matches(n),
                "{n}"
            );
        }
    }

    #[test]
    fn names_are_compared_by_name_with_the_denies_of_addresses() {
        let base = "use dns, rfc1918\nnamespace a {\n  allow egress dns\n  deny egress rfc1918\n  allow app=x -> dns:api.example.com:443\n}\n";
        let old = program(base);
        // a respelling: no change
        let same = program(&base.replace("dns:api.example.com", "(dns:API.example.com.)"));
        assert!(diff(&old, &same).is_empty());
        // the deny narrowed: the name, where it resolves into what is no
        // longer denied
        let narrowed = program(&base.replace("deny egress rfc1918", "deny egress 10.0.0.0/8"));
        let d = diff(&old, &narrowed);
        assert_eq!(d.changed.len(), 1, "{:?}", d.changed);
        let c = &d.changed[0];
        assert!(c.added);
        assert_eq!(c.names, Some(set(&["api.example.com"], &[])));
        let PeerSet::External(ips) = &c.cube.dst else {
            panic!("{c:?}")
        };
        assert_eq!(
            crate::firewall::describe_set(ips),
            "172.16.0.0/12 | 192.168.0.0/16"
        );
        // by address nothing changed: `a` allows no such address
        assert!(d.changed.iter().all(|c| c.names.is_some()));
    }
}
