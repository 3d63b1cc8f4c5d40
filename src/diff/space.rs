//! The connection space of `nplc diff`: boxes of connections (a set of
//! sources × a set of destinations × a set of ports) as exact sets, and the
//! splitting of boxes into cells on which every statement, isolation and
//! managed namespace is constant. Input: the IR's sets ([`PeerSet`],
//! [`PortSet`]). Output: [`Cube`]s and their algebra.
//!
//! Ports are exact too, named ports included. A connection's port is a
//! protocol, a number, and the name the destination pod gives that number
//! (if any: a named port's number is only known on a pod). A port list
//! holds the connection when it holds the number, or names the name; so
//! per protocol a set of ports is the numbers it holds when the
//! destination names none ([`ProtoPorts::numbers`]), and for each name the
//! numbers it holds when the destination calls the port that
//! ([`ProtoPorts::named`], others [`ProtoPorts::other_names`]). An address
//! names no port. A destination with two names for one port number and
//! protocol is outside this model (Kubernetes warns about such pods).

use crate::ir::ports::MAX_PORT;
use crate::ir::ranges::RangeSet;
use crate::ir::{KeyC, LabelSel, PeerSet, PortSet, NAME_LABEL};
use crate::net::Protocol;
use std::collections::BTreeMap;

/// The ports of one protocol.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct ProtoPorts {
    /// Numbers held when the destination gives the port no name.
    pub numbers: RangeSet,
    /// Numbers held when the destination calls the port by a name not in
    /// `named`.
    pub other_names: RangeSet,
    /// Per name, the numbers held when the destination calls the port
    /// that name (only names where it differs from `other_names`).
    pub named: BTreeMap<String, RangeSet>,
}

fn full() -> RangeSet {
    RangeSet::range(1, MAX_PORT)
}

impl ProtoPorts {
    fn is_empty(&self) -> bool {
        self.numbers.is_empty() && self.other_names.is_empty() && self.named.is_empty()
    }

    fn is_all(&self) -> bool {
        self.numbers == full() && self.other_names == full() && self.named.is_empty()
    }

    /// Applies a set operation pointwise.
    fn zip(&self, o: &ProtoPorts, f: impl Fn(&RangeSet, &RangeSet) -> RangeSet) -> ProtoPorts {
        let other_names = f(&self.other_names, &o.other_names);
        let mut named = BTreeMap::new();
        for k in self.named.keys().chain(o.named.keys()) {
            let a = self.named.get(k).unwrap_or(&self.other_names);
            let b = o.named.get(k).unwrap_or(&o.other_names);
            let v = f(a, b);
            if v != other_names {
                named.insert(k.clone(), v);
            }
        }
        ProtoPorts {
            numbers: f(&self.numbers, &o.numbers),
            other_names,
            named,
        }
    }

    /// Whether it holds port `port` that the destination calls `name`.
    pub fn contains(&self, port: u16, name: Option<&str>) -> bool {
        let set = match name {
            None => &self.numbers,
            Some(n) => self.named.get(n).unwrap_or(&self.other_names),
        };
        set.contains(u128::from(port))
    }
}

/// A set of ports of every protocol.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Ports(pub BTreeMap<Protocol, ProtoPorts>);

fn ranges_text(r: &RangeSet) -> String {
    r.ranges()
        .iter()
        .map(|&(lo, hi)| {
            if lo == hi {
                lo.to_string()
            } else {
                format!("{lo}-{hi}")
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

impl Ports {
    /// Every port of every protocol, whatever its name.
    pub fn all() -> Ports {
        Ports(
            Protocol::ALL
                .iter()
                .map(|p| {
                    (
                        *p,
                        ProtoPorts {
                            numbers: full(),
                            other_names: full(),
                            named: BTreeMap::new(),
                        },
                    )
                })
                .collect(),
        )
    }

    /// The ports of a port list: a number is held whatever the port's
    /// name, a named port whatever its number.
    pub fn from_ports(p: &PortSet) -> Ports {
        let mut out = BTreeMap::new();
        for proto in Protocol::ALL {
            let nums = p.numbers.get(&proto).cloned().unwrap_or_default();
            let mut named = BTreeMap::new();
            if nums != full() {
                for (_, n) in p.named.iter().filter(|(q, _)| *q == proto) {
                    named.insert(n.clone(), full());
                }
            }
            out.insert(
                proto,
                ProtoPorts {
                    numbers: nums.clone(),
                    other_names: nums,
                    named,
                },
            );
        }
        Ports(out).clean()
    }

    fn clean(mut self) -> Ports {
        self.0.retain(|_, p| !p.is_empty());
        self
    }

    /// The ports of a connection to an address (which names no port).
    pub fn numbers_only(&self) -> Ports {
        Ports(
            self.0
                .iter()
                .map(|(p, x)| {
                    (
                        *p,
                        ProtoPorts {
                            numbers: x.numbers.clone(),
                            other_names: RangeSet::empty(),
                            named: BTreeMap::new(),
                        },
                    )
                })
                .collect(),
        )
        .clean()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn zip(
        &self,
        o: &Ports,
        keep_left: bool,
        keep_right: bool,
        f: impl Fn(&RangeSet, &RangeSet) -> RangeSet,
    ) -> Ports {
        let empty = ProtoPorts::default();
        let mut out = BTreeMap::new();
        for proto in Protocol::ALL {
            let (a, b) = (self.0.get(&proto), o.0.get(&proto));
            let v = match (a, b) {
                (Some(a), Some(b)) => a.zip(b, &f),
                (Some(a), None) if keep_left => a.zip(&empty, &f),
                (None, Some(b)) if keep_right => empty.zip(b, &f),
                _ => continue,
            };
            out.insert(proto, v);
        }
        Ports(out).clean()
    }

    pub fn intersect(&self, o: &Ports) -> Ports {
        self.zip(o, false, false, |a, b| a.intersect(b))
    }

    pub fn minus(&self, o: &Ports) -> Ports {
        self.zip(o, true, false, |a, b| a.minus(b))
    }

    pub fn union(&self, o: &Ports) -> Ports {
        self.zip(o, true, true, |a, b| a.union(b))
    }

    pub fn is_subset(&self, o: &Ports) -> bool {
        self.minus(o).is_empty()
    }

    /// Whether it holds port `port` of `proto` that the destination calls
    /// `name` (`None`: no name, or an address).
    pub fn contains(&self, proto: Protocol, port: u16, name: Option<&str>) -> bool {
        self.0.get(&proto).is_some_and(|p| p.contains(port, name))
    }

    /// [`Ports::text`] for ports towards `dst`: an address names no port,
    /// so its ports are written as plain numbers.
    pub fn text_to(&self, dst: &PeerSet) -> String {
        match dst {
            PeerSet::External(_) | PeerSet::Names(_) => Ports(
                self.0
                    .iter()
                    .map(|(p, x)| {
                        (
                            *p,
                            ProtoPorts {
                                numbers: x.numbers.clone(),
                                other_names: x.numbers.clone(),
                                named: BTreeMap::new(),
                            },
                        )
                    })
                    .collect(),
            )
            .clean()
            .text(),
            PeerSet::Pods { .. } => self.text(),
        }
    }

    /// `all ports`, or per protocol: the protocol alone when whole; the
    /// numbers when they are held whatever the port's name (`tcp 80,
    /// 8000-8100`); else the parts: `80 (unnamed)`, `named http`, `named
    /// http on 8080`, `not named dns`, `other named ports on 80`.
    pub fn text(&self) -> String {
        if self.is_empty() {
            return "none".to_string();
        }
        if *self == Ports::all() {
            return "all ports".to_string();
        }
        let mut parts = Vec::new();
        for (proto, p) in &self.0 {
            if p.is_all() {
                parts.push(proto.npl_name().to_string());
                continue;
            }
            let mut items: Vec<String> = Vec::new();
            let same = p.numbers == p.other_names;
            if !p.numbers.is_empty() {
                let t = ranges_text(&p.numbers);
                items.push(if same { t } else { format!("{t} (unnamed)") });
            }
            if !same && !p.other_names.is_empty() {
                if p.other_names == full() {
                    items.push("other named ports".to_string());
                } else {
                    items.push(format!(
                        "other named ports on {}",
                        ranges_text(&p.other_names)
                    ));
                }
            }
            for (name, r) in &p.named {
                if r.is_empty() {
                    items.push(format!("not named {name}"));
                } else if *r == full() {
                    items.push(format!("named {name}"));
                } else {
                    items.push(format!("named {name} on {}", ranges_text(r)));
                }
            }
            parts.push(format!("{} {}", proto.npl_name(), items.join(", ")));
        }
        parts.join("; ")
    }
}

/// Every pod of every namespace (a namespace always carries its name label).
pub fn all_pods() -> PeerSet {
    PeerSet::Pods {
        namespaces: LabelSel::any().with(NAME_LABEL, KeyC::exists()),
        pods: LabelSel::any(),
    }
}

/// A peer set with its namespaces limited to those that carry a name (every
/// real namespace), so that no cell of namespaces without one is made.
pub fn named(p: &PeerSet) -> Option<PeerSet> {
    match p {
        PeerSet::Pods { .. } => p.intersect(&all_pods()),
        PeerSet::External(s) => (!s.is_empty()).then(|| p.clone()),
        PeerSet::Names(n) => (!n.is_empty()).then(|| p.clone()),
    }
}

/// A box of connections: every source of `src` to every destination of
/// `dst` on every port atom of `ports`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Cube {
    pub src: PeerSet,
    pub dst: PeerSet,
    pub ports: Ports,
}

/// A predicate on connections: a box whose `None` dimensions hold
/// everything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pred {
    pub src: Option<PeerSet>,
    pub dst: Option<PeerSet>,
    pub ports: Option<Ports>,
}

impl Pred {
    pub fn cube(c: &Cube) -> Pred {
        Pred {
            src: Some(c.src.clone()),
            dst: Some(c.dst.clone()),
            ports: Some(c.ports.clone()),
        }
    }
}

fn meet(a: &PeerSet, b: Option<&PeerSet>) -> Option<PeerSet> {
    match b {
        None => Some(a.clone()),
        Some(b) => a.intersect(b).filter(|x| !x.is_empty()),
    }
}

impl Cube {
    pub fn is_empty(&self) -> bool {
        self.src.is_empty() || self.dst.is_empty() || self.ports.is_empty()
    }

    /// The part of the cube inside `p`.
    pub fn intersect(&self, p: &Pred) -> Option<Cube> {
        let src = meet(&self.src, p.src.as_ref())?;
        let dst = meet(&self.dst, p.dst.as_ref())?;
        let ports = match &p.ports {
            None => self.ports.clone(),
            Some(q) => self.ports.intersect(q),
        };
        (!ports.is_empty()).then_some(Cube { src, dst, ports })
    }

    /// Whether the (nonempty) cube lies inside `p`.
    pub fn inside(&self, p: &Pred) -> bool {
        p.src.as_ref().is_none_or(|s| self.src.is_subset(s))
            && p.dst.as_ref().is_none_or(|d| self.dst.is_subset(d))
            && p.ports.as_ref().is_none_or(|q| self.ports.is_subset(q))
    }

    /// `self \ p` as disjoint cubes (`None`: `self` does not meet `p`, so
    /// the difference is `self`).
    fn minus(&self, p: &Pred, inner: &Cube) -> Vec<Cube> {
        let mut out = Vec::new();
        if let Some(s) = &p.src {
            for part in self.src.minus(s) {
                if !part.is_empty() {
                    out.push(Cube {
                        src: part,
                        dst: self.dst.clone(),
                        ports: self.ports.clone(),
                    });
                }
            }
        }
        if let Some(d) = &p.dst {
            for part in self.dst.minus(d) {
                if !part.is_empty() {
                    out.push(Cube {
                        src: inner.src.clone(),
                        dst: part,
                        ports: self.ports.clone(),
                    });
                }
            }
        }
        if let Some(q) = &p.ports {
            let rest = self.ports.minus(q);
            if !rest.is_empty() {
                out.push(Cube {
                    src: inner.src.clone(),
                    dst: inner.dst.clone(),
                    ports: rest,
                });
            }
        }
        out
    }

    /// The cube cut by `p` into disjoint cubes each inside or outside `p`.
    pub fn split(self, p: &Pred, out: &mut Vec<Cube>) {
        match self.intersect(p) {
            None => out.push(self),
            Some(inner) => {
                if inner == self {
                    out.push(self);
                    return;
                }
                out.extend(self.minus(p, &inner));
                out.push(inner);
            }
        }
    }
}

/// Whether two predicates may share a connection (a quick test before
/// splitting: `false` only when they surely do not).
pub fn meets(a: &Cube, p: &Pred) -> bool {
    a.intersect(p).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app(v: &str) -> PeerSet {
        PeerSet::in_namespace("a", LabelSel::any().with("app", KeyC::eq(v)))
    }

    #[test]
    fn named_ports_are_exact_and_a_whole_protocol_holds_them() {
        let http = Ports::from_ports(&PortSet::named(Protocol::Tcp, "http"));
        let all = Ports::from_ports(&PortSet::all());
        assert_eq!(all, Ports::all());
        assert!(http.is_subset(&all));
        let tcp80 = Ports::from_ports(&PortSet::range(Protocol::Tcp, 80, 80));
        // port 80 that the pod calls `http` is in both
        let both = tcp80.intersect(&http);
        assert!(both.contains(Protocol::Tcp, 80, Some("http")));
        assert!(!both.contains(Protocol::Tcp, 80, None));
        assert!(!both.contains(Protocol::Tcp, 81, Some("http")));
        assert_eq!(both.text(), "tcp named http on 80");
        assert_eq!(
            all.minus(&http).minus(&tcp80).union(&http).union(&tcp80),
            all
        );
        assert_eq!(http.text(), "tcp named http");
        assert_eq!(tcp80.text(), "tcp 80");
        assert_eq!(all.minus(&tcp80).text(), "tcp 1-79, 81-65535; udp; sctp");
        assert_eq!(tcp80.minus(&http).text(), "tcp 80, not named http");
    }

    #[test]
    fn split_partitions_the_cube() {
        let c = Cube {
            src: named(&PeerSet::in_namespace("a", LabelSel::any())).unwrap(),
            dst: named(&PeerSet::cluster()).unwrap(),
            ports: Ports::all(),
        };
        let p = Pred {
            src: Some(app("x")),
            dst: None,
            ports: Some(Ports::from_ports(&PortSet::range(Protocol::Udp, 53, 53))),
        };
        let mut out = Vec::new();
        c.clone().split(&p, &mut out);
        assert!(out.len() >= 2);
        let inside: Vec<&Cube> = out.iter().filter(|x| x.inside(&p)).collect();
        assert_eq!(inside.len(), 1);
        // disjoint and each inside the cube
        for (i, x) in out.iter().enumerate() {
            assert!(x.inside(&Pred::cube(&c)));
            assert!(x.inside(&p) || !meets(x, &p));
            for y in &out[i + 1..] {
                assert!(!meets(x, &Pred::cube(y)), "{x:?} {y:?}");
            }
        }
    }
}
