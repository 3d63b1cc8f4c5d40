//! Sets of integers as sorted, disjoint, inclusive ranges: the shared
//! representation of port sets and address sets, closed under union,
//! intersection and difference.

/// Sorted, disjoint, non-adjacent inclusive ranges.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct RangeSet(Vec<(u128, u128)>);

impl RangeSet {
    pub fn empty() -> RangeSet {
        RangeSet(Vec::new())
    }
    pub fn range(lo: u128, hi: u128) -> RangeSet {
        if lo > hi {
            RangeSet::empty()
        } else {
            RangeSet(vec![(lo, hi)])
        }
    }
    pub fn ranges(&self) -> &[(u128, u128)] {
        &self.0
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    pub fn contains(&self, x: u128) -> bool {
        self.0
            .binary_search_by(|&(lo, hi)| {
                if hi < x {
                    std::cmp::Ordering::Less
                } else if lo > x {
                    std::cmp::Ordering::Greater
                } else {
                    std::cmp::Ordering::Equal
                }
            })
            .is_ok()
    }
    fn normalize(mut v: Vec<(u128, u128)>) -> RangeSet {
        v.sort_unstable();
        let mut out: Vec<(u128, u128)> = Vec::with_capacity(v.len());
        for (lo, hi) in v {
            if let Some(last) = out.last_mut() {
                if lo <= last.1.saturating_add(1) {
                    last.1 = last.1.max(hi);
                    continue;
                }
            }
            out.push((lo, hi));
        }
        RangeSet(out)
    }
    pub fn union(&self, o: &RangeSet) -> RangeSet {
        let mut v = self.0.clone();
        v.extend_from_slice(&o.0);
        RangeSet::normalize(v)
    }
    pub fn intersect(&self, o: &RangeSet) -> RangeSet {
        let (mut i, mut j) = (0, 0);
        let mut out = Vec::new();
        while i < self.0.len() && j < o.0.len() {
            let (a, b) = self.0[i];
            let (c, d) = o.0[j];
            let lo = a.max(c);
            let hi = b.min(d);
            if lo <= hi {
                out.push((lo, hi));
            }
            if b < d {
                i += 1;
            } else {
                j += 1;
            }
        }
        RangeSet(out)
    }
    /// `self \ o`.
    pub fn minus(&self, o: &RangeSet) -> RangeSet {
        let mut out = Vec::new();
        let mut j = 0;
        for &(lo, hi) in &self.0 {
            let mut cur = lo;
            let mut done = false;
            while j < o.0.len() && o.0[j].1 < cur {
                j += 1;
            }
            let mut k = j;
            while k < o.0.len() && o.0[k].0 <= hi {
                let (c, d) = o.0[k];
                if c > cur {
                    out.push((cur, c - 1));
                }
                if d >= hi {
                    done = true;
                    break;
                }
                cur = d + 1;
                k += 1;
            }
            if !done {
                out.push((cur, hi));
            }
        }
        RangeSet(out)
    }
    pub fn is_subset(&self, o: &RangeSet) -> bool {
        self.minus(o).is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn arb() -> impl Strategy<Value = RangeSet> {
        prop::collection::vec((0u128..40, 0u128..8), 0..5)
            .prop_map(|v| RangeSet::normalize(v.into_iter().map(|(a, l)| (a, a + l)).collect()))
    }

    proptest! {
        #[test]
        fn ops_are_exact(a in arb(), b in arb(), x in 0u128..50) {
            prop_assert_eq!(a.union(&b).contains(x), a.contains(x) || b.contains(x));
            prop_assert_eq!(a.intersect(&b).contains(x), a.contains(x) && b.contains(x));
            prop_assert_eq!(a.minus(&b).contains(x), a.contains(x) && !b.contains(x));
            let m = a.minus(&b);
            prop_assert_eq!(RangeSet::normalize(m.0.clone()), m);
        }
    }

    #[test]
    fn minus_splits_around_hole() {
        let a = RangeSet::range(1, 65535);
        let b = RangeSet::range(5432, 5432);
        assert_eq!(a.minus(&b).ranges(), &[(1, 5431), (5433, 65535)]);
    }
}
