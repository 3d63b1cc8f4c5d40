//! Sets of external addresses (IPv4 and IPv6) and their exact rendering as
//! Kubernetes `ipBlock`s: a `cidr` with `except`s strictly inside it.

use super::ranges::RangeSet;
use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

const V4_MAX: u128 = u32::MAX as u128;

/// A set of external addresses.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct IpSet {
    pub v4: RangeSet,
    pub v6: RangeSet,
}

/// One `ipBlock`: a CIDR minus CIDRs strictly inside it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct IpBlock {
    pub cidr: IpNet,
    pub except: Vec<IpNet>,
}

impl IpSet {
    pub fn empty() -> IpSet {
        IpSet::default()
    }
    /// Every address, IPv4 and IPv6 (`world`).
    pub fn world() -> IpSet {
        IpSet {
            v4: RangeSet::range(0, V4_MAX),
            v6: RangeSet::range(0, u128::MAX),
        }
    }
    pub fn from_net(net: &IpNet) -> IpSet {
        match net {
            IpNet::V4(n) => IpSet {
                v4: RangeSet::range(
                    u32::from(n.network()) as u128,
                    u32::from(n.broadcast()) as u128,
                ),
                v6: RangeSet::empty(),
            },
            IpNet::V6(n) => IpSet {
                v4: RangeSet::empty(),
                v6: RangeSet::range(u128::from(n.network()), u128::from(n.broadcast())),
            },
        }
    }
    pub fn is_empty(&self) -> bool {
        self.v4.is_empty() && self.v6.is_empty()
    }
    pub fn is_world(&self) -> bool {
        *self == IpSet::world()
    }
    pub fn contains(&self, ip: &IpAddr) -> bool {
        match ip {
            IpAddr::V4(a) => self.v4.contains(u32::from(*a) as u128),
            IpAddr::V6(a) => self.v6.contains(u128::from(*a)),
        }
    }
    pub fn union(&self, o: &IpSet) -> IpSet {
        IpSet {
            v4: self.v4.union(&o.v4),
            v6: self.v6.union(&o.v6),
        }
    }
    pub fn intersect(&self, o: &IpSet) -> IpSet {
        IpSet {
            v4: self.v4.intersect(&o.v4),
            v6: self.v6.intersect(&o.v6),
        }
    }
    pub fn minus(&self, o: &IpSet) -> IpSet {
        IpSet {
            v4: self.v4.minus(&o.v4),
            v6: self.v6.minus(&o.v6),
        }
    }
    pub fn is_subset(&self, o: &IpSet) -> bool {
        self.minus(o).is_empty()
    }

    /// The fewest lines (`cidr` plus `except` entries) that write this set
    /// exactly, IPv4 blocks first, each family in address order.
    pub fn ip_blocks(&self) -> Vec<IpBlock> {
        let mut out = Vec::new();
        blocks(&self.v4, 0, 0, 32, &mut out, Fam::V4);
        blocks(&self.v6, 0, 0, 128, &mut out, Fam::V6);
        out
    }
}

#[derive(Clone, Copy)]
enum Fam {
    V4,
    V6,
}

fn net(fam: Fam, start: u128, len: u8) -> Option<IpNet> {
    match fam {
        Fam::V4 => Ipv4Net::new(Ipv4Addr::from(start as u32), len)
            .ok()
            .map(IpNet::V4),
        Fam::V6 => Ipv6Net::new(Ipv6Addr::from(start), len).ok().map(IpNet::V6),
    }
}

fn block_end(start: u128, len: u8, width: u8) -> u128 {
    let host = width - len;
    if host >= 128 {
        u128::MAX
    } else {
        start + ((1u128 << host) - 1)
    }
}

/// Minimal CIDR decomposition of the part of `set` inside block (start, len).
fn cidrs(set: &RangeSet, start: u128, len: u8, width: u8, out: &mut Vec<(u128, u8)>) {
    let end = block_end(start, len, width);
    let part = set.intersect(&RangeSet::range(start, end));
    if part.is_empty() {
        return;
    }
    if part.ranges() == [(start, end)] {
        out.push((start, len));
        return;
    }
    let half = block_end(0, len + 1, width) + 1;
    cidrs(set, start, len + 1, width, out);
    cidrs(set, start + half, len + 1, width, out);
}

/// Cost-minimal `ipBlock` list for the part of `set` inside block (start, len).
fn blocks(
    set: &RangeSet,
    start: u128,
    len: u8,
    width: u8,
    out: &mut Vec<IpBlock>,
    fam: Fam,
) -> usize {
    let end = block_end(start, len, width);
    let whole = RangeSet::range(start, end);
    let part = set.intersect(&whole);
    if part.is_empty() {
        return 0;
    }
    let mut holes = Vec::new();
    cidrs(&whole.minus(&part), start, len, width, &mut holes);
    let one_cost = 1 + holes.len();
    if len < width && !holes.is_empty() {
        let half = block_end(0, len + 1, width) + 1;
        let mut split = Vec::new();
        let c = blocks(set, start, len + 1, width, &mut split, fam)
            + blocks(set, start + half, len + 1, width, &mut split, fam);
        if c < one_cost {
            out.extend(split);
            return c;
        }
    }
    if let Some(cidr) = net(fam, start, len) {
        let except = holes
            .into_iter()
            .filter_map(|(s, l)| net(fam, s, l))
            .collect();
        out.push(IpBlock { cidr, except });
    }
    one_cost
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn n(s: &str) -> IpNet {
        s.parse().unwrap()
    }

    #[test]
    fn world_minus_metadata() {
        let s = IpSet::world().minus(&IpSet::from_net(&n("169.254.169.254/32")));
        let b = s.ip_blocks();
        assert_eq!(b.len(), 2);
        assert_eq!(b[0].cidr, n("0.0.0.0/0"));
        assert_eq!(b[0].except, vec![n("169.254.169.254/32")]);
        assert_eq!(b[1].cidr, n("::/0"));
        assert!(b[1].except.is_empty());
    }

    #[test]
    fn block_with_excepts() {
        let mut s = IpSet::from_net(&n("172.17.0.0/16"));
        for e in ["172.17.1.0/24", "172.17.2.0/24", "172.17.3.0/24"] {
            s = s.minus(&IpSet::from_net(&n(e)));
        }
        let b = s.ip_blocks();
        assert_eq!(b.len(), 1);
        assert_eq!(b[0].cidr, n("172.17.0.0/16"));
        // 172.17.2.0/24 and 172.17.3.0/24 merge into 172.17.2.0/23
        assert_eq!(b[0].except, vec![n("172.17.1.0/24"), n("172.17.2.0/23")]);
    }

    #[test]
    fn single_block() {
        let s = IpSet::from_net(&n("10.0.0.0/8"));
        assert_eq!(
            s.ip_blocks(),
            vec![IpBlock {
                cidr: n("10.0.0.0/8"),
                except: vec![]
            }]
        );
    }

    proptest! {
        #[test]
        fn blocks_are_exact(nets in prop::collection::vec((0u32..=255, 0u8..=8, any::<bool>()), 1..5), probe in any::<u32>()) {
            // sets built from /24../32 blocks inside 10.0.0.0/16, added or removed
            let mut s = IpSet::empty();
            for (third, extra, add) in &nets {
                let net = IpNet::V4(Ipv4Net::new(Ipv4Addr::new(10, 0, *third as u8, 0), 24 + extra).unwrap().trunc());
                let x = IpSet::from_net(&net);
                s = if *add { s.union(&x) } else { s.minus(&x) };
            }
            let ip = IpAddr::V4(Ipv4Addr::from(0x0a000000 | (probe & 0xffff)));
            let blocks = s.ip_blocks();
            let hit = blocks.iter().any(|b| b.cidr.contains(&ip) && !b.except.iter().any(|e| e.contains(&ip)));
            prop_assert_eq!(hit, s.contains(&ip));
            for b in &blocks {
                for e in &b.except {
                    prop_assert!(b.cidr.contains(e) && b.cidr != *e);
                }
            }
        }
    }
}
