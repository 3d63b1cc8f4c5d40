//! Stage 4, the IR: the canonical policy model that checking produces and
//! deny compilation, emission and the evaluators consume. Every set here is
//! exact (selectors, address sets, port sets) and ordered (`BTreeMap`,
//! `BTreeSet`, sorted vectors), so everything derived from it is
//! deterministic.

pub mod dns;
pub mod ipset;
pub mod labels;
pub mod ports;
pub mod ranges;
pub mod sorted;

pub use dns::DnsNames;
pub use ipset::IpSet;
pub use labels::{KeyC, LabelSel, ValSet};
pub use ports::PortSet;

use crate::source::Span;
use std::collections::BTreeMap;

/// A traffic direction, as seen from the pod a statement or policy
/// applies to: `ingress` (connections to it), `egress` (from it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Direction {
    Ingress,
    Egress,
}

impl Direction {
    /// Both directions, ingress first (the order output is written in).
    pub const BOTH: [Direction; 2] = [Direction::Ingress, Direction::Egress];

    /// The keyword: `ingress` or `egress`.
    pub fn word(self) -> &'static str {
        match self {
            Direction::Ingress => "ingress",
            Direction::Egress => "egress",
        }
    }
}

/// What a statement does to the connections it names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Action {
    Allow,
    Deny,
}

/// The label every namespace carries with its own name.
pub const NAME_LABEL: &str = "kubernetes.io/metadata.name";

/// A set of peers of one kind.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PeerSet {
    /// Pods matching `pods` in namespaces matching `namespaces` (names are
    /// constraints on [`NAME_LABEL`]).
    Pods {
        namespaces: LabelSel,
        pods: LabelSel,
    },
    /// External addresses.
    External(IpSet),
    /// The external addresses that DNS names resolve to when a connection
    /// is made (`dns:NAME`; never pods). Set operations with it are on
    /// names ([`dns`]): sound for `is_subset`, not for disjointness.
    Names(DnsNames),
}

impl PeerSet {
    pub fn cluster() -> PeerSet {
        PeerSet::Pods {
            namespaces: LabelSel::any(),
            pods: LabelSel::any(),
        }
    }
    pub fn in_namespace(ns: &str, pods: LabelSel) -> PeerSet {
        PeerSet::Pods {
            namespaces: ns_named(ns),
            pods,
        }
    }
    pub fn is_empty(&self) -> bool {
        match self {
            PeerSet::Pods { namespaces, pods } => namespaces.is_empty() || pods.is_empty(),
            PeerSet::External(s) => s.is_empty(),
            PeerSet::Names(n) => n.is_empty(),
        }
    }
    /// Whether the set is (or may be, for names) external addresses.
    pub fn is_external(&self) -> bool {
        matches!(self, PeerSet::External(_) | PeerSet::Names(_))
    }
    pub fn intersect(&self, o: &PeerSet) -> Option<PeerSet> {
        match (self, o) {
            (
                PeerSet::Pods {
                    namespaces: n1,
                    pods: p1,
                },
                PeerSet::Pods {
                    namespaces: n2,
                    pods: p2,
                },
            ) => Some(PeerSet::Pods {
                namespaces: n1.intersect(n2)?,
                pods: p1.intersect(p2)?,
            }),
            (PeerSet::External(a), PeerSet::External(b)) => {
                let i = a.intersect(b);
                (!i.is_empty()).then_some(PeerSet::External(i))
            }
            (PeerSet::Names(a), PeerSet::Names(b)) => {
                let i = a.intersect(b);
                (!i.is_empty()).then_some(PeerSet::Names(i))
            }
            _ => None,
        }
    }
    /// `self \ o` as disjoint peer sets.
    pub fn minus(&self, o: &PeerSet) -> Vec<PeerSet> {
        match (self, o) {
            (
                PeerSet::Pods {
                    namespaces: n1,
                    pods: p1,
                },
                PeerSet::Pods {
                    namespaces: n2,
                    pods: p2,
                },
            ) => {
                let Some(nboth) = n1.intersect(n2) else {
                    return vec![self.clone()];
                };
                if p1.intersect(p2).is_none() {
                    return vec![self.clone()];
                }
                let mut out: Vec<PeerSet> = n1
                    .minus(n2)
                    .into_iter()
                    .map(|n| PeerSet::Pods {
                        namespaces: n,
                        pods: p1.clone(),
                    })
                    .collect();
                out.extend(p1.minus(p2).into_iter().map(|p| PeerSet::Pods {
                    namespaces: nboth.clone(),
                    pods: p,
                }));
                out
            }
            (PeerSet::External(a), PeerSet::External(b)) => {
                let d = a.minus(b);
                if d.is_empty() {
                    vec![]
                } else {
                    vec![PeerSet::External(d)]
                }
            }
            (PeerSet::Names(a), PeerSet::Names(b)) => {
                let d = a.minus(b);
                if d.is_empty() {
                    vec![]
                } else {
                    vec![PeerSet::Names(d)]
                }
            }
            _ => vec![self.clone()],
        }
    }
    pub fn is_subset(&self, o: &PeerSet) -> bool {
        match (self, o) {
            (
                PeerSet::Pods {
                    namespaces: n1,
                    pods: p1,
                },
                PeerSet::Pods {
                    namespaces: n2,
                    pods: p2,
                },
            ) => self.is_empty() || (n1.is_subset(n2) && p1.is_subset(p2)),
            (PeerSet::External(a), PeerSet::External(b)) => a.is_subset(b),
            (PeerSet::Names(a), PeerSet::Names(b)) => a.is_subset(b),
            _ => self.is_empty(),
        }
    }
}

/// For each peer set, the indices of the others that may contain it: every
/// `j != i` with `peers[i].is_subset(peers[j])` is listed (sorted), and
/// usually few others, so that a policy with many distinct peers does not
/// compare every pair. Address sets are indexed by their ranges and gaps
/// ([`ipset::superset_candidates`]). Pod sets are indexed twice, and each
/// is looked up in the index that offers it fewer candidates: by the names
/// their namespaces are limited to (a set of pods in namespace `n` lies
/// only in sets that admit `n`), and by one finite label constraint of
/// their pods (a set of pods lies in `app in (x, y)` only if it limits
/// `app` to some of `x`, `y`).
pub fn superset_candidates(peers: &[&PeerSet]) -> Vec<Vec<usize>> {
    let everyone = |i: usize| (0..peers.len()).filter(|&j| j != i).collect::<Vec<_>>();
    let mut out: Vec<Vec<usize>> = vec![Vec::new(); peers.len()];
    // addresses
    let ext: Vec<(usize, &IpSet)> = peers
        .iter()
        .enumerate()
        .filter_map(|(i, p)| match p {
            PeerSet::External(s) => Some((i, s)),
            PeerSet::Pods { .. } | PeerSet::Names(_) => None,
        })
        .collect();
    let sets: Vec<&IpSet> = ext.iter().map(|(_, s)| *s).collect();
    for ((i, _), c) in ext.iter().zip(ipset::superset_candidates(&sets)) {
        out[*i] = c.into_iter().map(|k| ext[k].0).collect();
    }
    // pods, by the names their namespaces are limited to, if any
    fn names(p: &PeerSet) -> Option<&sorted::VecSet<String>> {
        match p {
            PeerSet::Pods { namespaces, .. } => match namespaces.get(NAME_LABEL) {
                Some(KeyC {
                    values: ValSet::Finite(v),
                    ..
                }) => Some(v),
                _ => None,
            },
            PeerSet::External(_) | PeerSet::Names(_) => None,
        }
    }
    // and by one finite constraint of their pods' labels (the one with the
    // fewest values): a nonempty set inside `k in V` limits `k` to values
    // of `V`, or to none (absent only)
    fn witness(p: &PeerSet) -> Option<(&str, &sorted::VecSet<String>)> {
        match p {
            PeerSet::Pods { pods, .. } => pods
                .0
                .iter()
                .filter_map(|(k, c)| match &c.values {
                    ValSet::Finite(v) => Some((k.as_str(), v)),
                    ValSet::Cofinite(_) => None,
                })
                .min_by_key(|(_, v)| v.len()),
            PeerSet::External(_) | PeerSet::Names(_) => None,
        }
    }
    let mut by_name: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    let mut unnamed: Vec<usize> = Vec::new();
    let mut by_value: BTreeMap<(&str, &str), Vec<usize>> = BTreeMap::new();
    let mut by_key: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    let mut unwitnessed: Vec<usize> = Vec::new();
    for (j, p) in peers.iter().enumerate() {
        if let PeerSet::Pods { .. } = p {
            match names(p) {
                Some(v) => v
                    .iter()
                    .for_each(|n| by_name.entry(n.as_str()).or_default().push(j)),
                None => unnamed.push(j),
            }
            match witness(p) {
                Some((k, v)) => {
                    by_key.entry(k).or_default().push(j);
                    for x in v.iter() {
                        by_value.entry((k, x.as_str())).or_default().push(j);
                    }
                }
                None => unwitnessed.push(j),
            }
        }
    }
    // whether `j` may contain `i` by the first index, and by the second
    let name_ok = |i: &PeerSet, j: usize| match names(i).and_then(|v| v.first()) {
        Some(n) => names(peers[j]).is_none_or(|v| v.contains(n.as_str())),
        None => true,
    };
    let witness_ok = |i: &PeerSet, j: usize| match (witness(peers[j]), i) {
        (None, _) => true,
        (Some((k, v)), PeerSet::Pods { pods, .. }) => match pods.get(k) {
            Some(KeyC {
                values: ValSet::Finite(a),
                ..
            }) => a.first().is_none_or(|x| v.contains(x.as_str())),
            _ => false,
        },
        (Some(_), PeerSet::External(_) | PeerSet::Names(_)) => false,
    };
    for (i, p) in peers.iter().enumerate() {
        // an empty set lies in every set, of either kind
        if p.is_empty() {
            out[i] = everyone(i);
            continue;
        }
        if let PeerSet::Names(_) = p {
            // names lie only in names: every other set of names
            out[i] = (0..peers.len())
                .filter(|&j| j != i && matches!(peers[j], PeerSet::Names(_)))
                .collect();
            continue;
        }
        let PeerSet::Pods { pods, .. } = p else {
            continue;
        };
        // the candidates of the name index (`None`: every pod set)
        let named: Option<Vec<&[usize]>> = names(p).and_then(|v| v.first()).map(|n| {
            let listed = by_name.get(n.as_str()).map_or(&[][..], Vec::as_slice);
            vec![listed, unnamed.as_slice()]
        });
        // the candidates of the label index: for each finite constraint of
        // `p`, the sets whose witness key it is and that admit its first value
        let mut labelled: Vec<&[usize]> = vec![unwitnessed.as_slice()];
        for (k, c) in pods.0.iter() {
            if let ValSet::Finite(a) = &c.values {
                let hit = match a.first() {
                    Some(x) => by_value.get(&(k.as_str(), x.as_str())),
                    None => by_key.get(k.as_str()),
                };
                labelled.extend(hit.map(Vec::as_slice));
            }
        }
        let size = |lists: &[&[usize]]| lists.iter().map(|l| l.len()).sum::<usize>();
        let mut c: Vec<usize> = match named {
            Some(named) if size(&named) <= size(&labelled) => named
                .iter()
                .flat_map(|l| l.iter().copied())
                .filter(|&j| j != i && witness_ok(p, j))
                .collect(),
            _ => labelled
                .iter()
                .flat_map(|l| l.iter().copied())
                .filter(|&j| j != i && name_ok(p, j))
                .collect(),
        };
        c.sort_unstable();
        c.dedup();
        out[i] = c;
    }
    out
}

/// The selector of one namespace by name.
pub fn ns_named(ns: &str) -> LabelSel {
    LabelSel::any().with(NAME_LABEL, KeyC::eq(ns))
}

/// Three-valued answer: whether a namespace selector matches a managed
/// namespace of which nplc knows only the name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tri {
    Yes,
    No,
    Unknown,
}

/// Evaluates a namespace selector on namespace `ns`, knowing only its name.
pub fn ns_matches(sel: &LabelSel, ns: &str) -> Tri {
    let mut unknown = false;
    for (k, c) in &sel.0 {
        if k == NAME_LABEL {
            if !c.matches(Some(ns)) {
                return Tri::No;
            }
        } else if !c.is_any() {
            unknown = true;
        }
    }
    if unknown {
        Tri::Unknown
    } else {
        Tri::Yes
    }
}

/// Evaluates a namespace selector on managed namespace `ns`: exactly when
/// the program states its labels (`labels`: all of them, with
/// [`NAME_LABEL`]), else knowing only its name ([`ns_matches`]).
pub fn ns_matches_in(sel: &LabelSel, ns: &str, labels: Option<&BTreeMap<String, String>>) -> Tri {
    match labels {
        Some(l) if sel.matches(l) => Tri::Yes,
        Some(_) => Tri::No,
        None => ns_matches(sel, ns),
    }
}

/// A peer set with the span of the source text that denotes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Term {
    pub set: PeerSet,
    pub span: Span,
}

/// A destination: a peer set and the ports allowed or denied on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DstTerm {
    pub set: PeerSet,
    pub ports: PortSet,
    pub span: Span,
}

/// Which directions a posture isolates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Isolation {
    pub ingress: bool,
    pub egress: bool,
}

impl Isolation {
    pub fn get(&self, d: Direction) -> bool {
        match d {
            Direction::Ingress => self.ingress,
            Direction::Egress => self.egress,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Isolate {
    pub directions: Isolation,
    pub pods: Vec<LabelSel>,
    pub span: Span,
}

/// A managed namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Namespace {
    pub name: String,
    pub posture: Isolation,
    pub isolates: Vec<Isolate>,
    /// Declared workloads by selector (the first name in name order), for naming policies.
    pub workloads: BTreeMap<LabelSel, String>,
    /// Every `workload` declaration, in the order written (by file, then
    /// position), with where its selector is written.
    pub workload_decls: Vec<WorkloadDecl>,
    /// Where the namespace is declared (first block) and its posture, if written.
    pub span: Span,
    pub posture_span: Option<Span>,
    /// Lint codes silenced for the namespace (`@silence` on a block, posture or isolate).
    pub silence: Vec<Silenced>,
    /// The labels the program states for it (`labels {...}`), all of
    /// them, [`NAME_LABEL`] included; `None` when it states none.
    pub labels: Option<BTreeMap<String, String>>,
    /// Where the `labels` statement is written.
    pub labels_span: Option<Span>,
}

impl Namespace {
    /// Whether every pod of the namespace matching `pods` is isolated in
    /// `dir` (by the posture, or by `isolate` statements together).
    pub fn isolates_all(&self, dir: Direction, pods: &LabelSel) -> bool {
        if self.posture.get(dir) {
            return true;
        }
        let mut rest = vec![pods.clone()];
        for sel in self
            .isolates
            .iter()
            .filter(|i| i.directions.get(dir))
            .flat_map(|i| i.pods.iter())
        {
            rest = rest.iter().flat_map(|r| r.minus(sel)).collect();
        }
        rest.iter().all(LabelSel::is_empty)
    }
}

/// A `workload NAME = SELECTOR` declaration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkloadDecl {
    pub name: String,
    pub pods: LabelSel,
    /// Where its selector is written.
    pub span: Span,
}

/// A lint code silenced by `@silence(...)`, with where it is written.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Silenced {
    pub code: String,
    pub span: Span,
}

/// An `allow` or `deny` with both sides lowered to peer sets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    pub id: usize,
    pub action: Action,
    /// The namespace block the statement is written in.
    pub namespace: String,
    pub src: Vec<Term>,
    pub dst: Vec<DstTerm>,
    /// `Some(dir)`: the statement decides that side only (`on ingress`,
    /// `on egress`); `None`: both sides.
    pub scope: Option<Direction>,
    /// Lint codes silenced on this statement.
    pub silence: Vec<Silenced>,
    pub span: Span,
}

impl Statement {
    /// Whether the statement decides the `dir` side of its connections
    /// (the source's egress side, the destination's ingress side).
    pub fn decides(&self, dir: Direction) -> bool {
        self.scope.is_none_or(|d| d == dir)
    }
}

/// A checked program: the input of deny compilation.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Program {
    pub namespaces: BTreeMap<String, Namespace>,
    pub statements: Vec<Statement>,
}

impl Program {
    pub fn is_managed(&self, ns: &str) -> bool {
        self.namespaces.contains_key(ns)
    }

    /// Where each statement that names DNS names (`dns:...`) writes its
    /// first one, in statement order.
    pub fn dns_terms(&self) -> impl Iterator<Item = (&Statement, Span)> {
        self.statements.iter().filter_map(|s| {
            s.src
                .iter()
                .map(|t| (&t.set, t.span))
                .chain(s.dst.iter().map(|d| (&d.set, d.span)))
                .find(|(set, _)| matches!(set, PeerSet::Names(_)))
                .map(|(_, span)| (s, span))
        })
    }

    /// Whether a namespace selector matches namespace `ns` as compilation
    /// sees it: by its stated labels when it is managed and states them,
    /// else by its name alone.
    pub fn ns_matches(&self, sel: &LabelSel, ns: &str) -> Tri {
        let labels = self.namespaces.get(ns).and_then(|n| n.labels.as_ref());
        ns_matches_in(sel, ns, labels)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn superset_candidates_hold_every_superset() {
        let names = |v: &[&str]| {
            LabelSel::any().with(
                NAME_LABEL,
                KeyC::one_of(v.iter().map(|s| s.to_string()).collect()),
            )
        };
        let app = |a: &str| LabelSel::any().with("app", KeyC::eq(a));
        let net = |s: &str| PeerSet::External(IpSet::from_net(&s.parse().unwrap()));
        let peers = [
            PeerSet::cluster(),
            PeerSet::in_namespace("a", LabelSel::any()),
            PeerSet::in_namespace("a", app("x")),
            PeerSet::in_namespace("b", app("x")),
            PeerSet::Pods {
                namespaces: names(&["a", "b"]),
                pods: app("x"),
            },
            PeerSet::Pods {
                namespaces: LabelSel::any().with("team", KeyC::eq("ops")),
                pods: LabelSel::any(),
            },
            PeerSet::Pods {
                namespaces: LabelSel::any().with(NAME_LABEL, KeyC::none_of(["c".into()].into())),
                pods: LabelSel::any(),
            },
            PeerSet::Pods {
                namespaces: names(&[]),
                pods: LabelSel::any(),
            },
            PeerSet::External(IpSet::world()),
            net("10.0.0.0/8"),
            net("10.1.0.0/16"),
            PeerSet::External(
                IpSet::from_net(&"10.0.0.0/8".parse().unwrap())
                    .minus(&IpSet::from_net(&"10.1.0.0/16".parse().unwrap())),
            ),
            PeerSet::External(IpSet::empty()),
            PeerSet::in_namespace("a", app("y")),
            PeerSet::in_namespace(
                "a",
                LabelSel::any().with("app", KeyC::one_of(["x".into(), "y".into()].into())),
            ),
            PeerSet::in_namespace("a", app("x").with("tier", KeyC::eq("web"))),
            PeerSet::in_namespace("a", LabelSel::any().with("app", KeyC::missing())),
            PeerSet::in_namespace(
                "a",
                LabelSel::any().with("app", KeyC::none_of(["z".into()].into())),
            ),
            PeerSet::in_namespace("a", LabelSel::any().with("app", KeyC::exists())),
            PeerSet::Pods {
                namespaces: LabelSel::any(),
                pods: app("y").with("tier", KeyC::one_of(["web".into(), "db".into()].into())),
            },
        ];
        let refs: Vec<&PeerSet> = peers.iter().collect();
        let c = superset_candidates(&refs);
        let mut pairs = 0;
        for i in 0..peers.len() {
            for j in 0..peers.len() {
                if i != j && peers[i].is_subset(&peers[j]) {
                    pairs += 1;
                    assert!(c[i].contains(&j), "{:?} in {:?}", peers[i], peers[j]);
                }
            }
            assert!(!c[i].contains(&i));
        }
        assert!(pairs > 10, "{pairs}");
        // and the indices do narrow: `b/app=x` is not a candidate for
        // `a/app=x`, nor `a/app=y`
        assert!(!c[2].contains(&3));
        assert!(!c[2].contains(&13));
        // `a/app=x, tier=web` has only those that admit `app=x` or are wider
        assert_eq!(c[15], [0, 1, 2, 4, 5, 6, 14, 17, 18]);
    }
}
