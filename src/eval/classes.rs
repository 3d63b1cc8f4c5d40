//! Class-based reachability: the matrix of [`crate::eval::matrix`] computed
//! on equivalence classes of pods and on port intervals instead of pod by
//! pod and port by port. Input: NetworkPolicy objects, the checked program
//! and a [`Population`]. Output: a [`ClassMatrix`]: the pod classes, and for
//! every ordered pair of classes the exact set of ports (per protocol, as
//! intervals) that the generated policies allow (the Kubernetes semantics of
//! [`crate::eval::k8s`]) and that the program allows (the semantics of
//! [`crate::eval::intent`]).
//!
//! Pods with the same namespace, the same labels and the same named
//! container ports (in the same order) are decided identically by both
//! evaluators: every selector reads only the namespace's labels and the
//! pod's, and a port set reads only the destination's named ports. Such pods
//! form a class ([`Classes`]); every pair of pods is answered by the pair of
//! their classes.
//!
//! Per pair of classes (source `s`, destination `d`):
//!
//! - Kubernetes: the egress side of `s` allows every port when no policy
//!   isolates `s` for egress, else the union of the ports of the egress
//!   rules (of the policies selecting `s`) whose peers hold `d`, named ports
//!   resolved on `d`; the ingress side of `d` likewise; the pair allows the
//!   intersection.
//! - The program: A and D, the ports of the allow and the deny statements
//!   whose source holds `s` and whose destination term holds `d`; a side of
//!   a pod outside every managed namespace allows every port, an isolated
//!   side A − D, any other side every port − D; the pair allows the
//!   intersection.
//!
//! Indexing: classes are grouped by namespace; a policy's subjects and a
//! rule's peers are looked up among the classes of the namespaces that can
//! match (a pod selector alone: the policy's namespace; a namespace selector:
//! the namespaces it matches), never among all pods; each source class's row
//! is built from the egress rules of the policies selecting it, the ingress
//! rules whose peers hold it (an index from peer class to rule) and the
//! statements whose source holds it (an index from source class to
//! statement). Rows are computed in parallel and stored run-length encoded
//! over destination classes, each run naming one of the row's distinct
//! cells, so memory grows with the compact output, not with pairs × ports.
//!
//! Ports are `0..=65535` here, so that every `u16` a probe may ask about is
//! decided exactly as the pod-by-pod evaluators decide it; the renderings
//! leave port 0 out (it is not a port a connection can use).

use crate::eval::k8s;
use crate::eval::{intent, matrix};
use crate::ir::{Action, Direction};
use crate::ir::{PeerSet, PortSet, Program};
use crate::net::Protocol;
use crate::population::{NamedPort, Population};
use k8s_openapi::api::networking::v1::{NetworkPolicy, NetworkPolicyPeer, NetworkPolicyPort};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use std::collections::{BTreeMap, HashMap};

/// The highest port.
const TOP: u16 = u16::MAX;

/// A set of ports: disjoint, non-adjacent inclusive intervals per protocol,
/// sorted by (protocol, first port).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ports(Vec<(Protocol, u16, u16)>);

impl Ports {
    /// No port.
    pub fn empty() -> Ports {
        Ports(Vec::new())
    }

    /// Every port (0 to 65535) of every protocol.
    pub fn all() -> Ports {
        Ports(Protocol::ALL.iter().map(|p| (*p, 0, TOP)).collect())
    }

    /// Builds a set from any intervals (overlapping, unsorted, reversed ones
    /// dropped).
    pub fn from_ranges(ranges: impl IntoIterator<Item = (Protocol, u16, u16)>) -> Ports {
        let mut p = Ports(ranges.into_iter().filter(|r| r.1 <= r.2).collect());
        p.normalize();
        p
    }

    fn normalize(&mut self) {
        self.0.sort_unstable();
        let mut out: Vec<(Protocol, u16, u16)> = Vec::with_capacity(self.0.len());
        for &(p, lo, hi) in &self.0 {
            match out.last_mut() {
                Some(last) if last.0 == p && u32::from(lo) <= u32::from(last.2) + 1 => {
                    last.2 = last.2.max(hi);
                }
                _ => out.push((p, lo, hi)),
            }
        }
        self.0 = out;
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether every port of every protocol is in the set.
    pub fn is_all(&self) -> bool {
        self.0.len() == Protocol::ALL.len() && self.0.iter().all(|r| r.1 == 0 && r.2 == TOP)
    }

    /// The intervals, sorted by protocol and first port.
    pub fn ranges(&self) -> &[(Protocol, u16, u16)] {
        &self.0
    }

    pub fn contains(&self, proto: Protocol, port: u16) -> bool {
        self.0
            .iter()
            .any(|&(p, lo, hi)| p == proto && lo <= port && port <= hi)
    }

    fn clear(&mut self) {
        self.0.clear();
    }

    /// Adds every port of `o`.
    pub fn union_with(&mut self, o: &Ports) {
        if o.0.is_empty() {
            return;
        }
        if self.0.is_empty() {
            self.0.extend_from_slice(&o.0);
            return;
        }
        self.0.extend_from_slice(&o.0);
        self.normalize();
    }

    fn add(&mut self, proto: Protocol, lo: u16, hi: u16) {
        self.0.push((proto, lo, hi));
        if self.0.len() > 1 {
            self.normalize();
        }
    }

    /// `self ∩ o` into `out` (cleared first).
    fn intersect_into(&self, o: &Ports, out: &mut Ports) {
        out.clear();
        let (mut i, mut j) = (0, 0);
        while let (Some(&a), Some(&b)) = (self.0.get(i), o.0.get(j)) {
            if (a.0, a.2) < (b.0, b.1) {
                i += 1;
                continue;
            }
            if (b.0, b.2) < (a.0, a.1) {
                j += 1;
                continue;
            }
            // same protocol, overlapping
            out.0.push((a.0, a.1.max(b.1), a.2.min(b.2)));
            if a.2 < b.2 {
                i += 1;
            } else {
                j += 1;
            }
        }
    }

    /// `self − o` into `out` (cleared first).
    fn minus_into(&self, o: &Ports, out: &mut Ports) {
        out.clear();
        let mut j = 0;
        for &(p, lo, hi) in &self.0 {
            let mut cur = u32::from(lo);
            let hi32 = u32::from(hi);
            while let Some(&(q, blo, bhi)) = o.0.get(j) {
                if (q, bhi) < (p, lo) {
                    j += 1;
                    continue;
                }
                if q != p || u32::from(blo) > hi32 {
                    break;
                }
                if u32::from(blo) > cur {
                    out.0.push((p, cur as u16, blo - 1));
                }
                cur = cur.max(u32::from(bhi) + 1);
                if u32::from(bhi) >= hi32 {
                    break;
                }
                j += 1;
            }
            if cur <= hi32 {
                out.0.push((p, cur as u16, hi));
            }
        }
    }

    /// The set without port 0, as the renderings show it.
    pub fn without_zero(&self) -> Ports {
        let mut out = Ports::empty();
        for &(p, lo, hi) in &self.0 {
            let lo = lo.max(1);
            if lo <= hi {
                out.0.push((p, lo, hi));
            }
        }
        out
    }

    /// `TCP 80, 8000-8999; UDP 53`, or `all` (every port of every
    /// protocol), or `none`; a whole protocol is written alone (`SCTP`).
    /// Port 0 is left out.
    pub fn text(&self) -> String {
        let s = self.without_zero();
        if s.0.is_empty() {
            return "none".to_string();
        }
        if Protocol::ALL
            .iter()
            .all(|p| s.0.iter().any(|r| r.0 == *p && r.1 == 1 && r.2 == TOP))
        {
            return "all".to_string();
        }
        let mut parts = Vec::new();
        for p in Protocol::ALL {
            let rs: Vec<String> =
                s.0.iter()
                    .filter(|r| r.0 == p)
                    .map(|r| {
                        if r.1 == r.2 {
                            r.1.to_string()
                        } else {
                            format!("{}-{}", r.1, r.2)
                        }
                    })
                    .collect();
            if rs.is_empty() {
                continue;
            }
            if rs.len() == 1 && rs[0] == format!("1-{TOP}") {
                parts.push(p.k8s_name().to_string());
            } else {
                parts.push(format!("{} {}", p.k8s_name(), rs.join(", ")));
            }
        }
        parts.join("; ")
    }
}

/// Pods grouped into classes of identical behaviour.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Classes {
    /// The class of each pod, by pod index.
    pub of_pod: Vec<usize>,
    /// The pods of each class, sorted by (namespace, name); classes are
    /// numbered in the order of their first pod in that order.
    pub members: Vec<Vec<usize>>,
}

impl Classes {
    /// Groups the pods of `pop`: one class per distinct (namespace, labels,
    /// named ports in order).
    pub fn new(pop: &Population) -> Classes {
        let mut of_pod = vec![0usize; pop.pods.len()];
        let mut members: Vec<Vec<usize>> = Vec::new();
        type Key<'a> = (&'a str, &'a BTreeMap<String, String>, &'a [NamedPort]);
        let mut index: HashMap<Key<'_>, usize> = HashMap::new();
        for i in matrix::sorted_pods(pop) {
            // INVARIANT: `sorted_pods` yields indices into `pop.pods`.
            let p = &pop.pods[i];
            let key = (p.namespace.as_str(), &p.labels, p.ports.as_slice());
            let c = *index.entry(key).or_insert_with(|| {
                members.push(Vec::new());
                members.len() - 1
            });
            // INVARIANT: `c` indexes `members`, `i` indexes `of_pod`.
            members[c].push(i);
            of_pod[i] = c;
        }
        Classes { of_pod, members }
    }

    pub fn len(&self) -> usize {
        self.members.len()
    }

    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// A pod of class `c` (its first).
    pub fn representative(&self, c: usize) -> usize {
        self.members
            .get(c)
            .and_then(|m| m.first())
            .copied()
            .unwrap_or(0)
    }
}

/// What one pair of classes allows.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Cell {
    /// Under the generated policies (the Kubernetes semantics).
    pub allowed: Ports,
    /// Under the program (the intent semantics); equal to `allowed` unless
    /// the compiler is wrong.
    pub intended: Ports,
}

/// One source class's row: runs of destination classes sharing a cell.
#[derive(Debug, Clone, Default)]
struct ClassRow {
    /// (first destination class, last destination class, index into
    /// `cells`), sorted, disjoint; destinations in no run allow nothing.
    runs: Vec<(u32, u32, u32)>,
    cells: Vec<Cell>,
}

impl ClassRow {
    fn get(&self, d: usize) -> Option<&Cell> {
        let d = u32::try_from(d).ok()?;
        let i = self.runs.partition_point(|r| r.1 < d);
        let r = self.runs.get(i)?;
        if r.0 <= d {
            self.cells.get(r.2 as usize)
        } else {
            None
        }
    }
}

/// The reachability of every pair of classes.
#[derive(Debug, Clone)]
pub struct ClassMatrix {
    pub classes: Classes,
    rows: Vec<ClassRow>,
}

impl ClassMatrix {
    /// What class `s` may open to class `d`; `None` when nothing is allowed
    /// by either evaluator.
    pub fn get(&self, s: usize, d: usize) -> Option<&Cell> {
        self.rows.get(s).and_then(|r| r.get(d))
    }

    /// The destination classes of `s` with something allowed by either
    /// evaluator, ascending.
    pub fn row(&self, s: usize) -> impl Iterator<Item = (usize, &Cell)> {
        self.rows.get(s).into_iter().flat_map(|r| {
            r.runs.iter().flat_map(move |&(lo, hi, c)| {
                (lo..=hi)
                    .filter_map(move |d| r.cells.get(c as usize).map(|cell| (d as usize, cell)))
            })
        })
    }

    /// The cell of each destination class of row `s` as an index into
    /// `cells` (`u32::MAX`: nothing), written into `dense`.
    fn expand(&self, s: usize, dense: &mut Vec<u32>) -> &[Cell] {
        dense.clear();
        dense.resize(self.classes.len(), u32::MAX);
        let Some(r) = self.rows.get(s) else {
            return &[];
        };
        for &(lo, hi, c) in &r.runs {
            for d in lo..=hi {
                if let Some(x) = dense.get_mut(d as usize) {
                    *x = c;
                }
            }
        }
        &r.cells
    }

    /// Number of (source class, destination class) pairs with something
    /// allowed by either evaluator.
    pub fn pairs(&self) -> usize {
        self.rows
            .iter()
            .flat_map(|r| r.runs.iter())
            .map(|r| (r.1 - r.0) as usize + 1)
            .sum()
    }

    /// Class pairs on which the two evaluators differ (port 0 aside).
    pub fn disagreements(&self) -> Vec<(usize, usize, &Cell)> {
        let mut out = Vec::new();
        for s in 0..self.rows.len() {
            for (d, cell) in self.row(s) {
                if cell.allowed.without_zero() != cell.intended.without_zero() {
                    out.push((s, d, cell));
                }
            }
        }
        out
    }

    /// Calls `f` with every probe row in the order of
    /// [`matrix::matrix`]: source pod, destination pod (each by namespace
    /// and name), protocol, port.
    pub fn for_each_row(
        &self,
        pop: &Population,
        ports: &matrix::ProbePorts,
        mut f: impl FnMut(&matrix::Row),
    ) {
        let probes: Vec<(Protocol, u16)> = ports
            .iter()
            .flat_map(|(p, ns)| ns.iter().map(move |n| (*p, *n)))
            .collect();
        let pods = matrix::sorted_pods(pop);
        let mut dense = Vec::new();
        for &src in &pods {
            let s = self.classes.of_pod.get(src).copied().unwrap_or(0);
            let cells = self.expand(s, &mut dense);
            // per cell of the row, the verdict at each probe
            let verdicts: Vec<Vec<(bool, bool)>> = cells
                .iter()
                .map(|c| {
                    probes
                        .iter()
                        .map(|&(p, n)| (c.allowed.contains(p, n), c.intended.contains(p, n)))
                        .collect()
                })
                .collect();
            for &dst in &pods {
                let d = self.classes.of_pod.get(dst).copied().unwrap_or(0);
                let v = dense
                    .get(d)
                    .and_then(|&c| verdicts.get(c as usize))
                    .map(Vec::as_slice);
                for (k, &(protocol, port)) in probes.iter().enumerate() {
                    let (allowed, intended) = v.and_then(|v| v.get(k)).copied().unwrap_or_default();
                    f(&matrix::Row {
                        src,
                        dst,
                        protocol,
                        port,
                        allowed,
                        intended,
                    });
                }
            }
        }
    }
}

// ---- the Kubernetes side ------------------------------------------------------

/// The ports of a rule: every port, or numbers plus names resolved on the
/// destination.
#[derive(Debug, Clone)]
enum RulePorts {
    All,
    Some {
        numbers: Ports,
        named: Vec<(Protocol, String)>,
    },
}

impl RulePorts {
    fn of_rule(ports: Option<&Vec<NetworkPolicyPort>>) -> RulePorts {
        let list = match ports {
            None => return RulePorts::All,
            Some(l) if l.is_empty() => return RulePorts::All,
            Some(l) => l,
        };
        let mut numbers = Vec::new();
        let mut named = Vec::new();
        for p in list {
            let proto = match p.protocol.as_deref() {
                None => Protocol::Tcp,
                Some(s) => match Protocol::ALL.into_iter().find(|pr| pr.k8s_name() == s) {
                    Some(pr) => pr,
                    None => continue,
                },
            };
            let clip = |lo: i64, hi: i64| -> Option<(u16, u16)> {
                let lo = lo.max(0);
                let hi = hi.min(i64::from(TOP));
                (lo <= hi).then_some((lo as u16, hi as u16))
            };
            match (&p.port, p.end_port) {
                (None, None) => numbers.push((proto, 0, TOP)),
                (None, Some(_)) => {}
                (Some(IntOrString::Int(n)), None) => {
                    if let Some((lo, hi)) = clip(i64::from(*n), i64::from(*n)) {
                        numbers.push((proto, lo, hi));
                    }
                }
                (Some(IntOrString::Int(n)), Some(end)) => {
                    if end >= *n {
                        if let Some((lo, hi)) = clip(i64::from(*n), i64::from(end)) {
                            numbers.push((proto, lo, hi));
                        }
                    }
                }
                (Some(IntOrString::String(_)), Some(_)) => {}
                (Some(IntOrString::String(name)), None) => named.push((proto, name.clone())),
            }
        }
        RulePorts::Some {
            numbers: Ports::from_ranges(numbers),
            named,
        }
    }

    /// Adds the ports this rule allows towards a pod with `dst_ports` to `out`.
    fn add_to(&self, dst_ports: &[NamedPort], out: &mut Ports) {
        match self {
            RulePorts::All => *out = Ports::all(),
            RulePorts::Some { numbers, named } => {
                out.union_with(numbers);
                for (proto, name) in named {
                    for np in dst_ports {
                        if np.name == *name && np.protocol == *proto {
                            out.add(*proto, np.port, np.port);
                        }
                    }
                }
            }
        }
    }
}

/// A rule of a policy, by class.
#[derive(Debug, Clone)]
struct KRule {
    /// The classes the policy selects (the rule's subjects), ascending.
    subjects: Vec<u32>,
    /// The classes the rule's peers hold, ascending.
    peers: Vec<u32>,
    ports: RulePorts,
}

/// A destination term of a statement: its classes (ascending) and ports.
type DstClasses = (Vec<u32>, PortSet);

/// Everything the row builder needs, indexed by class.
struct Index<'a> {
    pop: &'a Population,
    classes: &'a Classes,
    /// Named ports of each class.
    named: Vec<&'a [NamedPort]>,
    k_isolated: [Vec<bool>; 2],
    /// Egress rules of the policies selecting each class.
    egress_of: Vec<Vec<u32>>,
    /// Ingress rules whose peers hold each class.
    ingress_from: Vec<Vec<u32>>,
    egress_rules: Vec<KRule>,
    ingress_rules: Vec<KRule>,
    managed: Vec<bool>,
    i_isolated: [Vec<bool>; 2],
    /// Statements whose source holds each class.
    stmts_from: Vec<Vec<u32>>,
    /// Per statement: allow?, and per destination term its classes and ports.
    stmts: Vec<(bool, [bool; 2], Vec<DstClasses>)>,
}

fn dir_index(d: Direction) -> usize {
    match d {
        Direction::Ingress => 0,
        Direction::Egress => 1,
    }
}

/// Classes grouped by namespace, with each namespace's labels.
struct ByNamespace<'a> {
    namespaces: Vec<(&'a str, BTreeMap<String, String>, Vec<u32>)>,
}

impl<'a> ByNamespace<'a> {
    fn new(pop: &'a Population, classes: &Classes) -> ByNamespace<'a> {
        let mut map: BTreeMap<&'a str, Vec<u32>> = BTreeMap::new();
        for c in 0..classes.len() {
            if let Some(p) = pop.pods.get(classes.representative(c)) {
                map.entry(p.namespace.as_str()).or_default().push(c as u32);
            }
        }
        ByNamespace {
            namespaces: map
                .into_iter()
                .map(|(ns, cs)| (ns, pop.namespace_labels(ns), cs))
                .collect(),
        }
    }

    fn classes_of(&self, ns: &str) -> &[u32] {
        match self.namespaces.binary_search_by(|(n, _, _)| (*n).cmp(ns)) {
            Ok(i) => self
                .namespaces
                .get(i)
                .map(|x| x.2.as_slice())
                .unwrap_or(&[]),
            Err(_) => &[],
        }
    }
}

fn k8s_peer_classes(
    peers: Option<&Vec<NetworkPolicyPeer>>,
    policy_ns: &str,
    pop: &Population,
    classes: &Classes,
    by_ns: &ByNamespace<'_>,
) -> Vec<u32> {
    let list = match peers {
        None => return (0..classes.len() as u32).collect(),
        Some(l) if l.is_empty() => return (0..classes.len() as u32).collect(),
        Some(l) => l,
    };
    let mut out = Vec::new();
    let labels = |c: u32| {
        pop.pods
            .get(classes.representative(c as usize))
            .map(|p| &p.labels)
    };
    for p in list {
        let (pod_sel, ns_sel) = match (&p.pod_selector, &p.namespace_selector, &p.ip_block) {
            (None, None, _) | (_, _, Some(_)) => continue,
            (a, b, None) => (a, b),
        };
        let candidates: Vec<u32> = match ns_sel {
            None => by_ns.classes_of(policy_ns).to_vec(),
            Some(sel) => by_ns
                .namespaces
                .iter()
                .filter(|(_, l, _)| k8s::matches_selector(sel, l))
                .flat_map(|(_, _, cs)| cs.iter().copied())
                .collect(),
        };
        for c in candidates {
            let ok = match pod_sel {
                None => true,
                Some(sel) => labels(c).is_some_and(|l| k8s::matches_selector(sel, l)),
            };
            if ok {
                out.push(c);
            }
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

fn intent_classes(
    set: &PeerSet,
    pop: &Population,
    classes: &Classes,
    by_ns: &ByNamespace<'_>,
) -> Vec<u32> {
    match set {
        PeerSet::External(_) | PeerSet::Names(_) => Vec::new(),
        PeerSet::Pods { namespaces, pods } => {
            let mut out = Vec::new();
            for (ns, _, cs) in &by_ns.namespaces {
                if !intent::namespace_matches(namespaces, pop, ns) {
                    continue;
                }
                for &c in cs {
                    if pop
                        .pods
                        .get(classes.representative(c as usize))
                        .is_some_and(|p| pods.matches(&p.labels))
                    {
                        out.push(c);
                    }
                }
            }
            out.sort_unstable();
            out
        }
    }
}

impl<'a> Index<'a> {
    fn new(
        policies: &[NetworkPolicy],
        prog: &Program,
        pop: &'a Population,
        classes: &'a Classes,
    ) -> Index<'a> {
        let n = classes.len();
        let by_ns = ByNamespace::new(pop, classes);
        let rep = |c: usize| pop.pods.get(classes.representative(c));
        let named: Vec<&[NamedPort]> = (0..n)
            .map(|c| rep(c).map(|p| p.ports.as_slice()).unwrap_or(&[]))
            .collect();
        let mut k_isolated = [vec![false; n], vec![false; n]];
        let mut egress_of: Vec<Vec<u32>> = vec![Vec::new(); n];
        let mut ingress_from: Vec<Vec<u32>> = vec![Vec::new(); n];
        let mut egress_rules = Vec::new();
        let mut ingress_rules = Vec::new();
        for policy in policies {
            let ns = k8s::policy_namespace(policy);
            let Some(spec) = policy.spec.as_ref() else {
                for &c in by_ns.classes_of(ns) {
                    if let Some(x) = k_isolated[0].get_mut(c as usize) {
                        *x = true;
                    }
                }
                continue;
            };
            let subjects: Vec<u32> = by_ns
                .classes_of(ns)
                .iter()
                .copied()
                .filter(|&c| match spec.pod_selector.as_ref() {
                    None => true,
                    Some(sel) => {
                        rep(c as usize).is_some_and(|p| k8s::matches_selector(sel, &p.labels))
                    }
                })
                .collect();
            if subjects.is_empty() {
                continue;
            }
            for dir in k8s::effective_policy_types(spec) {
                for &c in &subjects {
                    if let Some(x) = k_isolated[dir_index(dir)].get_mut(c as usize) {
                        *x = true;
                    }
                }
                match dir {
                    Direction::Egress => {
                        for r in spec.egress.iter().flatten() {
                            let id = egress_rules.len() as u32;
                            for &c in &subjects {
                                if let Some(v) = egress_of.get_mut(c as usize) {
                                    v.push(id);
                                }
                            }
                            egress_rules.push(KRule {
                                subjects: subjects.clone(),
                                peers: k8s_peer_classes(r.to.as_ref(), ns, pop, classes, &by_ns),
                                ports: RulePorts::of_rule(r.ports.as_ref()),
                            });
                        }
                    }
                    Direction::Ingress => {
                        for r in spec.ingress.iter().flatten() {
                            let id = ingress_rules.len() as u32;
                            let peers = k8s_peer_classes(r.from.as_ref(), ns, pop, classes, &by_ns);
                            for &c in &peers {
                                if let Some(v) = ingress_from.get_mut(c as usize) {
                                    v.push(id);
                                }
                            }
                            ingress_rules.push(KRule {
                                subjects: subjects.clone(),
                                peers,
                                ports: RulePorts::of_rule(r.ports.as_ref()),
                            });
                        }
                    }
                }
            }
        }

        let managed: Vec<bool> = (0..n)
            .map(|c| rep(c).is_some_and(|p| prog.is_managed(&p.namespace)))
            .collect();
        let iso = |d: Direction| -> Vec<bool> {
            (0..n)
                .map(|c| rep(c).is_some_and(|p| intent::isolation(prog, p, d).is_some()))
                .collect()
        };
        let i_isolated = [iso(Direction::Ingress), iso(Direction::Egress)];
        let mut stmts_from: Vec<Vec<u32>> = vec![Vec::new(); n];
        let mut stmts = Vec::with_capacity(prog.statements.len());
        for s in &prog.statements {
            let id = stmts.len() as u32;
            let mut src: Vec<u32> = s
                .src
                .iter()
                .flat_map(|t| intent_classes(&t.set, pop, classes, &by_ns))
                .collect();
            src.sort_unstable();
            src.dedup();
            let dst: Vec<DstClasses> = if src.is_empty() {
                Vec::new()
            } else {
                s.dst
                    .iter()
                    .map(|t| {
                        (
                            intent_classes(&t.set, pop, classes, &by_ns),
                            t.ports.clone(),
                        )
                    })
                    .filter(|(cs, _)| !cs.is_empty())
                    .collect()
            };
            if !dst.is_empty() {
                for &c in &src {
                    if let Some(v) = stmts_from.get_mut(c as usize) {
                        v.push(id);
                    }
                }
            }
            let sides = [s.decides(Direction::Egress), s.decides(Direction::Ingress)];
            stmts.push((s.action == Action::Allow, sides, dst));
        }
        Index {
            pop,
            classes,
            named,
            k_isolated,
            egress_of,
            ingress_from,
            egress_rules,
            ingress_rules,
            managed,
            i_isolated,
            stmts_from,
            stmts,
        }
    }

    /// The ports of a program port set towards class `d` (named ports
    /// resolved as the intent evaluator resolves them: the first container
    /// port of that name and protocol).
    fn intent_ports(&self, ports: &PortSet, d: usize, out: &mut Ports) {
        let mut add = Vec::new();
        for (p, r) in &ports.numbers {
            for &(lo, hi) in r.ranges() {
                let lo = u16::try_from(lo).unwrap_or(TOP);
                let hi = u16::try_from(hi).unwrap_or(TOP);
                add.push((*p, lo, hi));
            }
        }
        if !ports.named.is_empty() {
            if let Some(pod) = self.pop.pods.get(self.classes.representative(d)) {
                for (p, name) in &ports.named {
                    if let Some(n) = intent::named_port(pod, *p, name) {
                        add.push((*p, n, n));
                    }
                }
            }
        }
        out.union_with(&Ports::from_ranges(add));
    }

    /// Row `s`: every destination class with something allowed.
    fn row(&self, s: usize, scratch: &mut Scratch) -> ClassRow {
        let n = self.classes.len();
        scratch.reset(n);
        let named = |d: usize| self.named.get(d).copied().unwrap_or(&[]);
        // Kubernetes, egress of s
        for &r in self.egress_of.get(s).map(Vec::as_slice).unwrap_or(&[]) {
            let Some(rule) = self.egress_rules.get(r as usize) else {
                continue;
            };
            for &d in &rule.peers {
                let d = d as usize;
                scratch.touch(d);
                if let Some(e) = scratch.egress.get_mut(d) {
                    rule.ports.add_to(named(d), e);
                }
            }
        }
        // Kubernetes, ingress into each destination from s
        for &r in self.ingress_from.get(s).map(Vec::as_slice).unwrap_or(&[]) {
            let Some(rule) = self.ingress_rules.get(r as usize) else {
                continue;
            };
            for &d in &rule.subjects {
                let d = d as usize;
                scratch.touch(d);
                if let Some(i) = scratch.ingress.get_mut(d) {
                    rule.ports.add_to(named(d), i);
                }
            }
        }
        // the program: allows and denies whose source holds s
        for &st in self.stmts_from.get(s).map(Vec::as_slice).unwrap_or(&[]) {
            let Some((allow, sides, dsts)) = self.stmts.get(st as usize) else {
                continue;
            };
            for (cs, ports) in dsts {
                for &d in cs {
                    let d = d as usize;
                    scratch.touch(d);
                    let mut p = std::mem::take(&mut scratch.given);
                    p.clear();
                    self.intent_ports(ports, d, &mut p);
                    // each side by the statements that decide it
                    // (semantics.md, "Side-scoped statements")
                    let [to_e, to_i] = if *allow {
                        [&mut scratch.allows, &mut scratch.allows_in]
                    } else {
                        [&mut scratch.denies, &mut scratch.denies_in]
                    };
                    for (decides, buf) in [(sides[0], to_e), (sides[1], to_i)] {
                        if let Some(b) = buf.get_mut(d).filter(|_| decides) {
                            b.union_with(&p);
                        }
                    }
                    scratch.given = p;
                }
            }
        }
        let all = Ports::all();
        let none = Ports::empty();
        let k_iso_e = self.k_isolated[1].get(s).copied().unwrap_or(false);
        let i_iso_e = self.i_isolated[1].get(s).copied().unwrap_or(false);
        let managed_s = self.managed.get(s).copied().unwrap_or(false);
        // The cell of one destination, from what the rules and statements
        // of this row give it and its isolation.
        let decide = |given: [&Ports; 6], d: Flags, cell: &mut Cell, sides: &mut [Ports; 2]| {
            let [eg, ing, a_e, dn_e, a_i, dn_i] = given;
            let e = if k_iso_e { eg } else { &all };
            let i = if d.k_isolated { ing } else { &all };
            e.intersect_into(i, &mut cell.allowed);
            let side = |managed: bool, iso: bool, a: &Ports, dn: &Ports, out: &mut Ports| {
                if !managed {
                    *out = all.clone();
                } else if iso {
                    a.minus_into(dn, out);
                } else {
                    all.minus_into(dn, out);
                }
            };
            let [side_e, side_i] = sides;
            side(managed_s, i_iso_e, a_e, dn_e, side_e);
            side(d.managed, d.i_isolated, a_i, dn_i, side_i);
            side_e.intersect_into(side_i, &mut cell.intended);
        };
        let mut out = ClassRow::default();
        let mut seen: HashMap<Cell, u32> = HashMap::new();
        let mut cell = Cell::default();
        let mut sides = [Ports::empty(), Ports::empty()];
        // a destination no rule and no statement of this row names is
        // decided by its isolation alone: once per combination
        let mut untouched = [UNSET; 8];
        for d in 0..n {
            let flags = Flags {
                k_isolated: self.k_isolated[0].get(d).copied().unwrap_or(false),
                managed: self.managed.get(d).copied().unwrap_or(false),
                i_isolated: self.i_isolated[0].get(d).copied().unwrap_or(false),
            };
            let id = if scratch.touched.get(d).copied().unwrap_or(false) {
                // INVARIANT: `scratch.reset(n)` sized every buffer to `n`.
                let given = [
                    &scratch.egress[d],
                    &scratch.ingress[d],
                    &scratch.allows[d],
                    &scratch.denies[d],
                    &scratch.allows_in[d],
                    &scratch.denies_in[d],
                ];
                decide(given, flags, &mut cell, &mut sides);
                intern(&mut out, &mut seen, &cell)
            } else {
                let key = flags.index();
                match untouched.get(key).copied() {
                    Some(UNSET) | None => {
                        decide([&none; 6], flags, &mut cell, &mut sides);
                        let id = intern(&mut out, &mut seen, &cell);
                        if let Some(x) = untouched.get_mut(key) {
                            *x = id;
                        }
                        id
                    }
                    Some(id) => id,
                }
            };
            if id == NOTHING {
                continue;
            }
            let d32 = d as u32;
            match out.runs.last_mut() {
                Some(last) if last.1 + 1 == d32 && last.2 == id => last.1 = d32,
                _ => out.runs.push((d32, d32, id)),
            }
        }
        out
    }
}

/// The isolation of a destination class.
#[derive(Debug, Clone, Copy)]
struct Flags {
    /// Isolated for ingress by some policy.
    k_isolated: bool,
    /// In a namespace the program manages.
    managed: bool,
    /// Isolated for ingress by the program.
    i_isolated: bool,
}

impl Flags {
    fn index(self) -> usize {
        usize::from(self.k_isolated)
            | usize::from(self.managed) << 1
            | usize::from(self.i_isolated) << 2
    }
}

/// Not yet decided (in the table of untouched destinations).
const UNSET: u32 = u32::MAX;
/// Nothing allowed by either evaluator: no run.
const NOTHING: u32 = u32::MAX - 1;

/// The index of `cell` among the row's distinct cells (added when new), or
/// [`NOTHING`] when it allows nothing. Equal cells get equal indices, so
/// runs can be extended by index.
fn intern(out: &mut ClassRow, seen: &mut HashMap<Cell, u32>, cell: &Cell) -> u32 {
    if cell.allowed.is_empty() && cell.intended.is_empty() {
        return NOTHING;
    }
    if let Some(id) = seen.get(cell) {
        return *id;
    }
    let id = out.cells.len() as u32;
    out.cells.push(cell.clone());
    seen.insert(cell.clone(), id);
    id
}

/// Per-row buffers over destination classes, reused between rows.
#[derive(Default)]
struct Scratch {
    egress: Vec<Ports>,
    ingress: Vec<Ports>,
    /// What the program allows and denies on the source's egress side.
    allows: Vec<Ports>,
    denies: Vec<Ports>,
    /// What it allows and denies on the destination's ingress side.
    allows_in: Vec<Ports>,
    denies_in: Vec<Ports>,
    /// One statement's ports towards one destination.
    given: Ports,
    touched: Vec<bool>,
    list: Vec<usize>,
}

impl Scratch {
    fn reset(&mut self, n: usize) {
        for &d in &self.list {
            for v in [
                &mut self.egress,
                &mut self.ingress,
                &mut self.allows,
                &mut self.denies,
                &mut self.allows_in,
                &mut self.denies_in,
            ] {
                if let Some(p) = v.get_mut(d) {
                    p.clear();
                }
            }
            if let Some(t) = self.touched.get_mut(d) {
                *t = false;
            }
        }
        self.list.clear();
        for v in [
            &mut self.egress,
            &mut self.ingress,
            &mut self.allows,
            &mut self.denies,
            &mut self.allows_in,
            &mut self.denies_in,
        ] {
            v.resize(n, Ports::empty());
        }
        self.touched.resize(n, false);
    }

    fn touch(&mut self, d: usize) {
        if let Some(t) = self.touched.get_mut(d) {
            if !*t {
                *t = true;
                self.list.push(d);
            }
        }
    }
}

/// Evaluates every pair of classes of `pop` under `policies` (Kubernetes)
/// and `prog` (intent); rows in parallel.
pub fn evaluate(policies: &[NetworkPolicy], prog: &Program, pop: &Population) -> ClassMatrix {
    let classes = Classes::new(pop);
    let rows = {
        let index = Index::new(policies, prog, pop, &classes);
        let ids: Vec<usize> = (0..classes.len()).collect();
        crate::par::map_chunks(&ids, |chunk| {
            let mut scratch = Scratch::default();
            chunk.iter().map(|&s| index.row(s, &mut scratch)).collect()
        })
    };
    ClassMatrix { classes, rows }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(v: &[(Protocol, u16, u16)]) -> Ports {
        Ports::from_ranges(v.iter().copied())
    }
    const T: Protocol = Protocol::Tcp;
    const U: Protocol = Protocol::Udp;

    #[test]
    fn port_set_algebra_matches_membership() {
        let a = p(&[(T, 1, 10), (T, 20, 30), (U, 53, 53), (U, 54, 60)]);
        assert_eq!(a.ranges(), &[(T, 1, 10), (T, 20, 30), (U, 53, 60)]);
        let b = p(&[(T, 5, 25), (U, 0, TOP)]);
        let (mut i, mut m, mut m2) = (Ports::empty(), Ports::empty(), Ports::empty());
        a.intersect_into(&b, &mut i);
        a.minus_into(&b, &mut m);
        b.minus_into(&a, &mut m2);
        for proto in [T, U, Protocol::Sctp] {
            for port in (0..70).chain([TOP - 1, TOP]) {
                let (x, y) = (a.contains(proto, port), b.contains(proto, port));
                assert_eq!(i.contains(proto, port), x && y, "{proto:?} {port}");
                assert_eq!(m.contains(proto, port), x && !y, "{proto:?} {port}");
                assert_eq!(m2.contains(proto, port), y && !x, "{proto:?} {port}");
            }
        }
        assert_eq!(i.ranges(), &[(T, 5, 10), (T, 20, 25), (U, 53, 60)]);
        assert_eq!(m.ranges(), &[(T, 1, 4), (T, 26, 30)]);
        let mut x = Ports::empty();
        Ports::all().minus_into(&Ports::all(), &mut x);
        assert!(x.is_empty());
        Ports::all().minus_into(&p(&[(U, 0, 0)]), &mut x);
        assert_eq!(
            x.ranges(),
            &[(T, 0, TOP), (U, 1, TOP), (Protocol::Sctp, 0, TOP)]
        );
        assert!(Ports::all().is_all());
    }

    #[test]
    fn port_text() {
        assert_eq!(Ports::all().text(), "all");
        assert_eq!(Ports::empty().text(), "none");
        assert_eq!(p(&[(T, 0, 0)]).text(), "none");
        assert_eq!(
            p(&[(T, 80, 80), (T, 8000, 8999), (U, 0, TOP)]).text(),
            "TCP 80, 8000-8999; UDP"
        );
    }
}
