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
    /// The union of many sets in one pass (folding [`IpSet::union`] copies
    /// the union so far once per set: quadratic in their number).
    pub fn union_of<'a>(sets: impl IntoIterator<Item = &'a IpSet>) -> IpSet {
        let (mut v4, mut v6) = (
            super::ranges::RangeUnion::default(),
            super::ranges::RangeUnion::default(),
        );
        for s in sets {
            s.v4.ranges().iter().for_each(|&(lo, hi)| v4.insert(lo, hi));
            s.v6.ranges().iter().for_each(|&(lo, hi)| v6.insert(lo, hi));
        }
        IpSet {
            v4: v4.to_set(),
            v6: v6.to_set(),
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
        self.v4.is_subset(&o.v4) && self.v6.is_subset(&o.v6)
    }
    /// Whether the two sets share an address, without building the
    /// intersection.
    pub fn meets(&self, o: &IpSet) -> bool {
        self.v4.meets(&o.v4) || self.v6.meets(&o.v6)
    }

    /// The fewest lines (`cidr` plus `except` entries) that write this set
    /// exactly, IPv4 blocks first, each family in address order.
    pub fn ip_blocks(&self) -> Vec<IpBlock> {
        let mut out = blocks(self.v4.ranges(), 0, 0, 32, Fam::V4).blocks;
        out.extend(blocks(self.v6.ranges(), 0, 0, 128, Fam::V6).blocks);
        out
    }
}

/// A point of the address space, every IPv4 address before every IPv6
/// one: `(0, v4)` or `(1, v6)`.
type Point = (u8, u128);

/// The set's ranges in the order of points, a last IPv4 range that ends
/// at 255.255.255.255 joined with a first IPv6 range that starts at `::`.
fn point_ranges(s: &IpSet) -> Vec<(Point, Point)> {
    let mut out: Vec<(Point, Point)> =
        s.v4.ranges()
            .iter()
            .map(|&(a, b)| ((0, a), (0, b)))
            .collect();
    for &(a, b) in s.v6.ranges() {
        match out.last_mut() {
            Some(last) if a == 0 && last.1 == (0, V4_MAX) => last.1 = (1, b),
            _ => out.push(((1, a), (1, b))),
        }
    }
    out
}

/// For each set, the indices of the other sets that may contain it: every
/// `j != i` with `sets[i] ⊆ sets[j]` is listed (sorted), and usually few
/// others, so that finding the sets inside another costs far less than
/// comparing every pair (a policy with thousands of distinct address
/// blocks with excepts). The caller tests each candidate. Two indexes, both
/// complete:
///
/// - a set lies only in sets that hold its first point: the ranges that
///   hold it, found by a sweep in the order of points (used when they
///   belong to few sets);
/// - else, with `A` the union of all the sets and `D(s) = A \ s`, `i ⊆ j`
///   exactly when `D(j) ⊆ D(i)`: then `D(j)` is empty or its first point
///   lies in `D(i)`, found by a binary search among those first points.
///   Holes that every set shares (a deny cut out of each of them) are not
///   in any `D`, so they do not make every set a candidate.
pub fn superset_candidates(sets: &[&IpSet]) -> Vec<Vec<usize>> {
    // enough candidates by the first index to try the second
    candidates_by(sets, 32)
}

/// [`superset_candidates`], using the second index when the first finds
/// more than `crowded` candidates.
fn candidates_by(sets: &[&IpSet], crowded_at: usize) -> Vec<Vec<usize>> {
    let mut out: Vec<Vec<usize>> = vec![Vec::new(); sets.len()];
    let mut ranges: Vec<(Point, Point, usize)> = Vec::new();
    let mut firsts: Vec<(Point, usize)> = Vec::new();
    for (i, s) in sets.iter().enumerate() {
        let r = point_ranges(s);
        match r.first() {
            Some(f) => firsts.push((f.0, i)),
            // the empty set is inside every set
            None => out[i].extend(0..sets.len()),
        }
        ranges.extend(r.into_iter().map(|(lo, hi)| (lo, hi, i)));
    }
    ranges.sort_unstable();
    firsts.sort_unstable();
    // the sweep: ranges that start at or before the point, by their end
    let mut open: std::collections::BTreeSet<(Point, usize)> = std::collections::BTreeSet::new();
    let mut next = 0;
    let mut crowded = Vec::new();
    for &(q, i) in &firsts {
        while next < ranges.len() && ranges[next].0 <= q {
            open.insert((ranges[next].1, ranges[next].2));
            next += 1;
        }
        let holding: Vec<usize> = open
            .range((q, 0)..)
            .map(|&(_, j)| j)
            .take(crowded_at + 1)
            .collect();
        if holding.len() <= crowded_at {
            out[i] = holding;
        } else {
            crowded.push(i);
        }
    }
    if !crowded.is_empty() {
        let mut all = IpSet::empty();
        for s in sets {
            all = all.union(s);
        }
        // the first point of each D(j); D(j) empty: j holds every set
        let mut first_missing: Vec<(Point, usize)> = Vec::new();
        let mut whole: Vec<usize> = Vec::new();
        for (j, s) in sets.iter().enumerate() {
            let p = all
                .v4
                .first_outside(&s.v4)
                .map(|x| (0, x))
                .or_else(|| all.v6.first_outside(&s.v6).map(|x| (1, x)));
            match p {
                Some(p) => first_missing.push((p, j)),
                None => whole.push(j),
            }
        }
        first_missing.sort_unstable();
        for i in crowded {
            let d = all.minus(sets[i]);
            out[i].extend(&whole);
            for (lo, hi) in point_ranges(&d) {
                let from = first_missing.partition_point(|&(p, _)| p < lo);
                let to = first_missing.partition_point(|&(p, _)| p <= hi);
                out[i].extend(first_missing[from..to].iter().map(|&(_, j)| j));
            }
        }
    }
    for (i, c) in out.iter_mut().enumerate() {
        c.retain(|&j| j != i);
        c.sort_unstable();
        c.dedup();
    }
    out
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

    /// Small sets of IPv4 and IPv6 addresses near the ends of both
    /// families, so that ranges touch the boundary between them.
    fn arb_set() -> impl Strategy<Value = IpSet> {
        let r = || {
            prop::collection::vec((0u128..12, 0u128..4), 0..4).prop_map(|v| {
                v.into_iter().fold(RangeSet::empty(), |s, (a, l)| {
                    s.union(&RangeSet::range(a, a + l))
                })
            })
        };
        (r(), r(), any::<bool>(), any::<bool>()).prop_map(|(a, b, top4, top6)| {
            // mirror some sets to the top of their family
            let flip = |r: RangeSet, max: u128, on: bool| {
                if !on {
                    return r;
                }
                r.ranges().iter().fold(RangeSet::empty(), |s, &(lo, hi)| {
                    s.union(&RangeSet::range(max - hi, max - lo))
                })
            };
            IpSet {
                v4: flip(a, V4_MAX, top4),
                v6: flip(b, u128::MAX, top6),
            }
        })
    }

    #[test]
    fn superset_candidates_across_the_family_boundary() {
        let w = IpSet::world();
        let two = IpSet::from_net(&n("1.2.3.4/32")).union(&IpSet::from_net(&n("2001:db8::1/128")));
        for crowded_at in [0, 32] {
            let c = candidates_by(&[&two, &w], crowded_at);
            assert_eq!(c[0], vec![1]);
        }
        // holes every set shares do not make every set a candidate
        let base = IpSet::from_net(&n("10.0.0.0/8")).minus(&IpSet::from_net(&n("10.9.9.0/24")));
        let sets: Vec<IpSet> = (0..40)
            .map(|k| base.minus(&IpSet::from_net(&n(&format!("10.{k}.0.0/16")))))
            .collect();
        let refs: Vec<&IpSet> = sets.iter().collect();
        let c = superset_candidates(&refs);
        assert!(c.iter().all(|c| c.len() <= 1), "{c:?}");
    }

    proptest! {
        #[test]
        fn superset_candidates_hold_every_superset(sets in prop::collection::vec(arb_set(), 1..8)) {
            let refs: Vec<&IpSet> = sets.iter().collect();
            // each index alone (0: always the second), and both
            for crowded_at in [0, 1, 3, usize::MAX - 1] {
                let c = candidates_by(&refs, crowded_at);
                for i in 0..sets.len() {
                    for j in 0..sets.len() {
                        if i != j && sets[i].is_subset(&sets[j]) {
                            prop_assert!(c[i].contains(&j), "{i} in {j}: {:?}", c[i]);
                        }
                    }
                    prop_assert!(!c[i].contains(&i));
                }
            }
        }

        #[test]
        fn subset_and_meets_are_exact(a in arb_set(), b in arb_set()) {
            prop_assert_eq!(a.is_subset(&b), a.minus(&b).is_empty());
            prop_assert_eq!(a.meets(&b), !a.intersect(&b).is_empty());
        }

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
