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
    /// The union of many sets in one sort, instead of one copy per set
    /// (which is quadratic in the number of sets).
    pub fn union_of<'a>(sets: impl IntoIterator<Item = &'a RangeSet>) -> RangeSet {
        RangeSet::normalize(sets.into_iter().flat_map(|s| s.0.iter().copied()).collect())
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
    /// Whether every element of `self` is in `o`, without building the
    /// difference: each range must lie inside one range of `o` (whose
    /// ranges are disjoint and not adjacent).
    pub fn is_subset(&self, o: &RangeSet) -> bool {
        let mut j = 0;
        for &(lo, hi) in &self.0 {
            while j < o.0.len() && o.0[j].1 < lo {
                j += 1;
            }
            match o.0.get(j) {
                Some(&(c, d)) if c <= lo && hi <= d => {}
                _ => return false,
            }
        }
        true
    }
    /// The first element of `self` that is not in `o`, without building
    /// the difference.
    pub fn first_outside(&self, o: &RangeSet) -> Option<u128> {
        let mut j = 0;
        for &(lo, hi) in &self.0 {
            let mut cur = lo;
            while j < o.0.len() && o.0[j].1 < cur {
                j += 1;
            }
            while let Some(&(c, d)) = o.0.get(j) {
                if c > cur {
                    return Some(cur);
                }
                if d >= hi {
                    break;
                }
                cur = d + 1;
                j += 1;
            }
            match o.0.get(j) {
                Some(&(c, d)) if c <= cur && hi <= d => {}
                _ => return Some(cur),
            }
        }
        None
    }
    /// Whether the two sets share an element, without building the
    /// intersection.
    /// Each range of the smaller set is looked up in the larger one, so
    /// that a set of a few ranges against one of thousands (a deny against
    /// an allow that many denies have cut) costs a few binary searches.
    pub fn meets(&self, o: &RangeSet) -> bool {
        let (small, large) = if self.0.len() <= o.0.len() {
            (&self.0, &o.0)
        } else {
            (&o.0, &self.0)
        };
        small.iter().any(|&(lo, hi)| {
            let k = large.partition_point(|&(_, d)| d < lo);
            large.get(k).is_some_and(|&(c, _)| c <= hi)
        })
    }
}

/// A union of ranges built one range at a time, merging as it goes, that
/// can say which parts of a range it does not cover yet.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RangeUnion(std::collections::BTreeMap<u128, u128>);

impl RangeUnion {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    pub fn insert(&mut self, lo: u128, hi: u128) {
        let (mut lo, mut hi) = (lo, hi);
        if let Some((&a, &b)) = self.0.range(..=lo).next_back() {
            if b.saturating_add(1) >= lo {
                lo = a;
                hi = hi.max(b);
                self.0.remove(&a);
            }
        }
        while let Some((&a, &b)) = self.0.range(lo..).next() {
            if a > hi.saturating_add(1) {
                break;
            }
            hi = hi.max(b);
            self.0.remove(&a);
        }
        self.0.insert(lo, hi);
    }
    /// The parts of `lo..=hi` outside the union, in order.
    pub fn uncovered(&self, lo: u128, hi: u128) -> Vec<(u128, u128)> {
        let mut out = Vec::new();
        let mut cur = lo;
        if let Some((_, &b)) = self.0.range(..=lo).next_back() {
            if b >= hi {
                return out;
            }
            cur = cur.max(b.saturating_add(1));
        }
        for (&a, &b) in self.0.range(cur..) {
            if a > hi {
                break;
            }
            if a > cur {
                out.push((cur, a - 1));
            }
            if b >= hi {
                return out;
            }
            cur = b + 1;
        }
        out.push((cur, hi));
        out
    }
    pub fn to_set(&self) -> RangeSet {
        RangeSet(self.0.iter().map(|(&a, &b)| (a, b)).collect())
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
            prop_assert_eq!(a.is_subset(&b), a.minus(&b).is_empty());
            prop_assert_eq!(a.meets(&b), !a.intersect(&b).is_empty());
            prop_assert_eq!(a.first_outside(&b), a.minus(&b).ranges().first().map(|r| r.0));
        }

        #[test]
        fn union_of_many_is_the_unions_one_by_one(sets in prop::collection::vec(arb(), 0..6)) {
            let folded = sets.iter().fold(RangeSet::empty(), |acc, s| acc.union(s));
            prop_assert_eq!(RangeSet::union_of(&sets), folded);
        }
    }

    proptest! {
        #[test]
        fn a_union_built_range_by_range_is_the_union(v in prop::collection::vec((0u128..40, 0u128..8), 0..8), lo in 0u128..50, len in 0u128..10) {
            let mut u = RangeUnion::default();
            let mut want = RangeSet::empty();
            for (a, l) in v {
                u.insert(a, a + l);
                want = want.union(&RangeSet::range(a, a + l));
            }
            prop_assert_eq!(u.to_set(), want.clone());
            let outside = RangeSet(u.uncovered(lo, lo + len));
            prop_assert_eq!(outside, RangeSet::range(lo, lo + len).minus(&want));
        }
    }

    #[test]
    fn minus_splits_around_hole() {
        let a = RangeSet::range(1, 65535);
        let b = RangeSet::range(5432, 5432);
        assert_eq!(a.minus(&b).ranges(), &[(1, 5431), (5433, 65535)]);
    }
}
