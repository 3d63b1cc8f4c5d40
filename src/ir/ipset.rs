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
        let mut out = blocks(self.v4.ranges(), 0, 0, 32, Fam::V4).blocks;
        out.extend(blocks(self.v6.ranges(), 0, 0, 128, Fam::V6).blocks);
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

/// The best rendering of the part of a set inside one block of the
/// address trie, with the minimal CIDR cover of the rest of the block.
struct Node {
    /// Lines in `blocks`: one per `cidr` and one per `except`.
    cost: usize,
    blocks: Vec<IpBlock>,
    /// The block minus the set, as few CIDRs as possible, in address order.
    holes: Vec<(u128, u8)>,
}

/// Cost-minimal `ipBlock` list for the part of the set inside block
/// (start, len). `ranges` are the set's ranges that meet the block (sorted,
/// disjoint, non-adjacent, so a block is full exactly when one range covers
/// it). One pass over the trie: only blocks the set's boundaries cross are
/// split, so the work is O(boundaries × width), whatever the size of the
/// set. Per mixed block, the choice is one `cidr` with the block's holes as
/// `except`s, or the best of each half, whichever writes fewer lines (one
/// block on a tie).
fn blocks(ranges: &[(u128, u128)], start: u128, len: u8, width: u8, fam: Fam) -> Node {
    let end = block_end(start, len, width);
    if ranges.is_empty() {
        return Node {
            cost: 0,
            blocks: Vec::new(),
            holes: vec![(start, len)],
        };
    }
    if ranges.len() == 1 && ranges[0].0 <= start && ranges[0].1 >= end {
        let blocks = net(fam, start, len).map(|cidr| IpBlock {
            cidr,
            except: Vec::new(),
        });
        return Node {
            cost: 1,
            blocks: blocks.into_iter().collect(),
            holes: Vec::new(),
        };
    }
    // a block of one address (len == width) is empty or full, so this one
    // is wider and has two halves
    let mid = start + block_end(0, len + 1, width) + 1;
    let left = &ranges[..ranges.partition_point(|&(lo, _)| lo < mid)];
    let right = &ranges[ranges.partition_point(|&(_, hi)| hi < mid)..];
    let l = blocks(left, start, len + 1, width, fam);
    let r = blocks(right, mid, len + 1, width, fam);
    let mut holes = l.holes;
    holes.extend(r.holes);
    let one_cost = 1 + holes.len();
    let split_cost = l.cost + r.cost;
    if split_cost < one_cost {
        let mut blocks = l.blocks;
        blocks.extend(r.blocks);
        return Node {
            cost: split_cost,
            blocks,
            holes,
        };
    }
    let blocks = net(fam, start, len).map(|cidr| IpBlock {
        cidr,
        except: holes.iter().filter_map(|&(s, l)| net(fam, s, l)).collect(),
    });
    Node {
        cost: one_cost,
        blocks: blocks.into_iter().collect(),
        holes,
    }
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
