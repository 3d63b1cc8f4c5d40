//! The connection space of `nplc diff`: boxes of connections (a set of
//! sources × a set of destinations × a set of ports) as exact sets, and the
//! splitting of boxes into cells on which every statement, isolation and
//! managed namespace is constant. Input: the IR's sets ([`PeerSet`],
//! [`PortSet`]). Output: [`Cube`]s and their algebra.
//!
//! Ports are *port atoms* here: per protocol, a number or a name. A named
//! port (`http`) is an atom of its own, distinct from every number, since
//! its number is only known on a pod; a port list that holds a whole
//! protocol (no port list at all, or `tcp 1-65535`) holds every name of it
//! too, as [`PortSet::contains`] does.

use crate::ir::ports::MAX_PORT;
use crate::ir::ranges::RangeSet;
use crate::ir::{KeyC, LabelSel, PeerSet, PortSet, ValSet, NAME_LABEL};
use crate::net::Protocol;
use std::collections::BTreeMap;

/// A set of port atoms: per protocol, port numbers and port names (a finite
/// set of names, or all but finitely many).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Ports(pub BTreeMap<Protocol, (RangeSet, ValSet)>);

impl Ports {
    /// Every number and every name of every protocol.
    pub fn all() -> Ports {
        Ports(
            Protocol::ALL
                .iter()
                .map(|p| (*p, (RangeSet::range(1, MAX_PORT), ValSet::all())))
                .collect(),
        )
    }

    /// The atoms of a port list: its numbers, its names, and every name of a
    /// protocol whose numbers it holds whole.
    pub fn from_ports(p: &PortSet) -> Ports {
        let mut out = BTreeMap::new();
        for proto in Protocol::ALL {
            let nums = p.numbers.get(&proto).cloned().unwrap_or_default();
            let names = if p.is_full(proto) {
                ValSet::all()
            } else {
                ValSet::Finite(
                    p.named
                        .iter()
                        .filter(|(q, _)| *q == proto)
                        .map(|(_, n)| n.clone())
                        .collect(),
                )
            };
            out.insert(proto, (nums, names));
        }
        Ports(out).clean()
    }

    fn clean(mut self) -> Ports {
        self.0.retain(|_, (r, v)| !(r.is_empty() && v.is_empty()));
        self
    }

    /// The numbers only (an address has no named ports).
    pub fn numbers_only(&self) -> Ports {
        Ports(
            self.0
                .iter()
                .map(|(p, (r, _))| (*p, (r.clone(), ValSet::none())))
                .collect(),
        )
        .clean()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn intersect(&self, o: &Ports) -> Ports {
        let mut out = BTreeMap::new();
        for (p, (r, v)) in &self.0 {
            if let Some((r2, v2)) = o.0.get(p) {
                out.insert(*p, (r.intersect(r2), v.intersect(v2)));
            }
        }
        Ports(out).clean()
    }

    pub fn minus(&self, o: &Ports) -> Ports {
        let mut out = BTreeMap::new();
        for (p, (r, v)) in &self.0 {
            match o.0.get(p) {
                Some((r2, v2)) => {
                    out.insert(*p, (r.minus(r2), v.intersect(&v2.complement())));
                }
                None => {
                    out.insert(*p, (r.clone(), v.clone()));
                }
            }
        }
        Ports(out).clean()
    }

    pub fn union(&self, o: &Ports) -> Ports {
        let mut out = self.0.clone();
        for (p, (r, v)) in &o.0 {
            let e = out
                .entry(*p)
                .or_insert_with(|| (RangeSet::empty(), ValSet::none()));
            e.0 = e.0.union(r);
            // a ∪ b = ¬(¬a ∩ ¬b)
            e.1 = e.1.complement().intersect(&v.complement()).complement();
        }
        Ports(out).clean()
    }

    pub fn is_subset(&self, o: &Ports) -> bool {
        self.minus(o).is_empty()
    }

    /// Whether it holds the port `port` of `proto` (a number), or the name
    /// `name` of `proto`.
    pub fn contains_number(&self, proto: Protocol, port: u16) -> bool {
        self.0
            .get(&proto)
            .is_some_and(|(r, _)| r.contains(u128::from(port)))
    }

    pub fn contains_name(&self, proto: Protocol, name: &str) -> bool {
        self.0.get(&proto).is_some_and(|(_, v)| v.contains(name))
    }

    /// `all`, or per protocol its numbers then its names: `tcp 80, 8000-8100,
    /// http; udp 53`; a whole protocol is its name alone (`sctp`); names of
    /// all but some protocol's listed names are `any name but (a, b)`.
    pub fn text(&self) -> String {
        if self.is_empty() {
            return "none".to_string();
        }
        if *self == Ports::all() {
            return "all ports".to_string();
        }
        let mut parts = Vec::new();
        for (p, (r, v)) in &self.0 {
            if r.ranges() == [(1, MAX_PORT)] && v.is_all() {
                parts.push(p.npl_name().to_string());
                continue;
            }
            let mut items: Vec<String> = r
                .ranges()
                .iter()
                .map(|&(lo, hi)| {
                    if lo == hi {
                        lo.to_string()
                    } else {
                        format!("{lo}-{hi}")
                    }
                })
                .collect();
            match v {
                ValSet::Finite(s) => items.extend(s.iter().cloned()),
                ValSet::Cofinite(s) if s.is_empty() => items.push("every named port".to_string()),
                ValSet::Cofinite(s) => items.push(format!(
                    "every named port but {}",
                    s.iter().cloned().collect::<Vec<_>>().join(", ")
                )),
            }
            parts.push(format!("{} {}", p.npl_name(), items.join(", ")));
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
    fn named_ports_are_atoms_and_a_whole_protocol_holds_them() {
        let http = Ports::from_ports(&PortSet::named(Protocol::Tcp, "http"));
        let all = Ports::from_ports(&PortSet::all());
        assert_eq!(all, Ports::all());
        assert!(http.is_subset(&all));
        let tcp80 = Ports::from_ports(&PortSet::range(Protocol::Tcp, 80, 80));
        assert!(tcp80.intersect(&http).is_empty());
        assert_eq!(
            all.minus(&http).minus(&tcp80).union(&http).union(&tcp80),
            all
        );
        assert_eq!(http.text(), "tcp http");
        assert_eq!(
            all.minus(&tcp80).text(),
            "tcp 1-79, 81-65535, every named port; udp; sctp"
        );
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
