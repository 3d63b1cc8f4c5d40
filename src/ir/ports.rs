//! Port sets: per protocol a set of port numbers (1-65535), plus named
//! ports (resolved on the destination pod). Numbers are exact under union,
//! intersection and difference; a named port can only be removed by a set
//! that holds every port of its protocol, since its number is unknown until
//! a pod declares it.

use super::ranges::RangeSet;
use crate::net::Protocol;
use std::collections::{BTreeMap, BTreeSet};

pub const MAX_PORT: u128 = 65535;

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct PortSet {
    pub numbers: BTreeMap<Protocol, RangeSet>,
    pub named: BTreeSet<(Protocol, String)>,
}

/// Subtracting numbers from a named port whose number is unknown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedPortConflict {
    pub protocol: Protocol,
    pub name: String,
}

impl PortSet {
    pub fn empty() -> PortSet {
        PortSet::default()
    }
    /// Every port of every protocol.
    pub fn all() -> PortSet {
        let mut p = PortSet::empty();
        for proto in Protocol::ALL {
            p.numbers.insert(proto, RangeSet::range(1, MAX_PORT));
        }
        p
    }
    pub fn range(proto: Protocol, lo: u16, hi: u16) -> PortSet {
        let mut p = PortSet::empty();
        p.add_range(proto, lo, hi);
        p
    }
    pub fn named(proto: Protocol, name: &str) -> PortSet {
        let mut p = PortSet::empty();
        p.named.insert((proto, name.to_string()));
        p
    }
    pub fn add_range(&mut self, proto: Protocol, lo: u16, hi: u16) {
        let r = RangeSet::range(lo as u128, hi as u128);
        let cur = self.numbers.remove(&proto).unwrap_or_default();
        let u = cur.union(&r);
        if !u.is_empty() {
            self.numbers.insert(proto, u);
        }
    }
    pub fn is_empty(&self) -> bool {
        self.named.is_empty() && self.numbers.values().all(RangeSet::is_empty)
    }
    pub fn is_all(&self) -> bool {
        Protocol::ALL.iter().all(|p| self.is_full(*p))
    }
    pub fn is_full(&self, proto: Protocol) -> bool {
        self.numbers
            .get(&proto)
            .map(|r| r.ranges() == [(1, MAX_PORT)])
            .unwrap_or(false)
    }
    pub fn has_named(&self) -> bool {
        !self.named.is_empty()
    }
    /// Whether a connection on (`proto`, `port`) to a destination whose
    /// named ports are `dst_named` is in the set.
    pub fn contains(
        &self,
        proto: Protocol,
        port: u16,
        dst_named: &dyn Fn(Protocol, &str) -> Option<u16>,
    ) -> bool {
        if self
            .numbers
            .get(&proto)
            .map(|r| r.contains(port as u128))
            .unwrap_or(false)
        {
            return true;
        }
        self.named
            .iter()
            .any(|(p, n)| *p == proto && dst_named(*p, n) == Some(port))
    }
    pub fn union(&self, o: &PortSet) -> PortSet {
        let mut out = self.clone();
        for (p, r) in &o.numbers {
            let u = out.numbers.get(p).cloned().unwrap_or_default().union(r);
            out.numbers.insert(*p, u);
        }
        out.named.extend(o.named.iter().cloned());
        out.clean()
    }
    /// The union of many port sets at once: per protocol, every range
    /// sorted once ([`RangeSet::union_of`]).
    pub fn union_of<'a>(sets: impl IntoIterator<Item = &'a PortSet>) -> PortSet {
        let mut numbers: BTreeMap<Protocol, Vec<&RangeSet>> = BTreeMap::new();
        let mut named = BTreeSet::new();
        for s in sets {
            for (p, r) in &s.numbers {
                numbers.entry(*p).or_default().push(r);
            }
            named.extend(s.named.iter().cloned());
        }
        PortSet {
            numbers: numbers
                .into_iter()
                .map(|(p, rs)| (p, RangeSet::union_of(rs)))
                .collect(),
            named,
        }
        .clean()
    }
    fn clean(mut self) -> PortSet {
        self.numbers.retain(|_, r| !r.is_empty());
        // a named port is redundant under a full protocol
        let full: Vec<Protocol> = Protocol::ALL
            .iter()
            .copied()
            .filter(|p| self.is_full(*p))
            .collect();
        self.named.retain(|(p, _)| !full.contains(p));
        self
    }
    /// Whether the two sets may share a connection (a named port may equal
    /// any number of its protocol).
    pub fn may_intersect(&self, o: &PortSet) -> bool {
        for (p, r) in &self.numbers {
            if let Some(q) = o.numbers.get(p) {
                if !r.intersect(q).is_empty() {
                    return true;
                }
            }
        }
        let num =
            |s: &PortSet, p: Protocol| s.numbers.get(&p).map(|r| !r.is_empty()).unwrap_or(false);
        self.named.iter().any(|(p, n)| {
            o.named.contains(&(*p, n.clone())) || num(o, *p) || o.named.iter().any(|(q, _)| q == p)
        }) || o.named.iter().any(|(p, _)| num(self, *p))
    }
    /// The part of `self` that is surely inside `o`'s numbers (named ports
    /// of `self` count when `o` holds their whole protocol).
    pub fn intersect(&self, o: &PortSet) -> PortSet {
        let mut out = PortSet::empty();
        for (p, r) in &self.numbers {
            if let Some(q) = o.numbers.get(p) {
                let i = r.intersect(q);
                if !i.is_empty() {
                    out.numbers.insert(*p, i);
                }
            }
        }
        for (p, n) in &self.named {
            if o.is_full(*p) || o.named.contains(&(*p, n.clone())) {
                out.named.insert((*p, n.clone()));
            }
        }
        for (p, n) in &o.named {
            if self.is_full(*p) {
                out.named.insert((*p, n.clone()));
            }
        }
        out.clean()
    }
    /// Whether every connection of `self` is surely in `o`.
    pub fn is_subset_of(&self, o: &PortSet) -> bool {
        self.numbers.iter().all(|(p, r)| {
            o.numbers
                .get(p)
                .map(|q| r.is_subset(q))
                .unwrap_or(r.is_empty())
        }) && self
            .named
            .iter()
            .all(|(p, n)| o.is_full(*p) || o.named.contains(&(*p, n.clone())))
    }
    /// `self \ o`, exactly, or the named port that makes it inexpressible.
    pub fn minus(&self, o: &PortSet) -> Result<PortSet, NamedPortConflict> {
        let mut out = PortSet::empty();
        for (p, r) in &self.numbers {
            let d = match o.numbers.get(p) {
                Some(q) => r.minus(q),
                None => r.clone(),
            };
            if !d.is_empty() {
                out.numbers.insert(*p, d);
            }
        }
        for (p, n) in &self.named {
            if o.is_full(*p) || o.named.contains(&(*p, n.clone())) {
                continue;
            }
            let touches = o.numbers.get(p).map(|r| !r.is_empty()).unwrap_or(false)
                || o.named.iter().any(|(q, _)| q == p);
            if touches {
                return Err(NamedPortConflict {
                    protocol: *p,
                    name: n.clone(),
                });
            }
            out.named.insert((*p, n.clone()));
        }
        // numbers of `self` minus a named port of `o`: unknown number
        if let Some((p, n)) = o
            .named
            .iter()
            .find(|(p, _)| out.numbers.get(p).map(|r| !r.is_empty()).unwrap_or(false))
        {
            return Err(NamedPortConflict {
                protocol: *p,
                name: n.clone(),
            });
        }
        Ok(out.clean())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn none(_: Protocol, _: &str) -> Option<u16> {
        None
    }

    #[test]
    fn all_minus_one_port() {
        let d = PortSet::all()
            .minus(&PortSet::range(Protocol::Tcp, 5432, 5432))
            .unwrap();
        assert!(!d.contains(Protocol::Tcp, 5432, &none));
        assert!(d.contains(Protocol::Tcp, 5431, &none));
        assert!(d.contains(Protocol::Udp, 5432, &none));
    }

    #[test]
    fn named_port_conflicts() {
        let a = PortSet::named(Protocol::Tcp, "http");
        assert!(a.minus(&PortSet::range(Protocol::Tcp, 80, 80)).is_err());
        assert_eq!(a.minus(&PortSet::range(Protocol::Udp, 80, 80)).unwrap(), a);
        assert!(a.minus(&PortSet::all()).unwrap().is_empty());
        let http = |_: Protocol, n: &str| if n == "http" { Some(8080) } else { None };
        assert!(a.contains(Protocol::Tcp, 8080, &http));
        assert!(!a.contains(Protocol::Udp, 8080, &http));
    }

    fn arb_ports() -> impl proptest::strategy::Strategy<Value = PortSet> {
        use proptest::prelude::*;
        let proto = prop::sample::select(Protocol::ALL.to_vec());
        let item = prop_oneof![
            (proto.clone(), 1u16..20, 0u16..6).prop_map(|(p, lo, l)| PortSet::range(p, lo, lo + l)),
            (proto.clone(), prop::sample::select(vec!["http", "dns"]))
                .prop_map(|(p, n)| PortSet::named(p, n)),
            Just(PortSet::all()),
        ];
        prop::collection::vec(item, 0..3)
            .prop_map(|v| v.iter().fold(PortSet::empty(), |a, b| a.union(b)))
    }

    proptest::proptest! {
        #[test]
        fn union_of_many_is_the_unions_one_by_one(sets in proptest::collection::vec(arb_ports(), 0..6)) {
            let folded = sets.iter().fold(PortSet::empty(), |acc, s| acc.union(s));
            proptest::prop_assert_eq!(PortSet::union_of(&sets), folded);
        }
    }
}
