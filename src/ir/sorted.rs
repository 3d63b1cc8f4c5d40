//! Small ordered collections for the IR: a map and a set kept as vectors
//! sorted by key. They iterate in key order and compare (`Ord`) exactly as
//! `BTreeMap`/`BTreeSet` do, so determinism holds by construction, but a
//! selector of one or two labels costs one small allocation instead of a
//! B-tree node of eleven slots. Selectors are copied many times during
//! deny compilation; this halved the compiler's peak memory
//! (docs/performance.md). Lookups are binary searches; inserts shift, which
//! is cheap at the sizes selectors have (a handful of keys).

use std::borrow::Borrow;
use std::fmt;

/// A map sorted by key, one entry per key.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct VecMap<K, V>(Vec<(K, V)>);

impl<K, V> Default for VecMap<K, V> {
    fn default() -> Self {
        VecMap(Vec::new())
    }
}

impl<K: Ord, V> VecMap<K, V> {
    pub fn new() -> Self {
        VecMap(Vec::new())
    }
    fn find<Q: Ord + ?Sized>(&self, key: &Q) -> Result<usize, usize>
    where
        K: Borrow<Q>,
    {
        self.0.binary_search_by(|(k, _)| k.borrow().cmp(key))
    }
    pub fn get<Q: Ord + ?Sized>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
    {
        self.find(key).ok().map(|i| &self.0[i].1)
    }
    pub fn contains_key<Q: Ord + ?Sized>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
    {
        self.find(key).is_ok()
    }
    /// Inserts or replaces; returns the old value.
    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        match self.find(&key) {
            Ok(i) => Some(std::mem::replace(&mut self.0[i].1, value)),
            Err(i) => {
                grow_exactly_while_small(&mut self.0);
                self.0.insert(i, (key, value));
                None
            }
        }
    }
    pub fn remove<Q: Ord + ?Sized>(&mut self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
    {
        self.find(key).ok().map(|i| self.0.remove(i).1)
    }
    pub fn len(&self) -> usize {
        self.0.len()
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (&K, &V)> + ExactSizeIterator {
        self.0.iter().map(|(k, v)| (k, v))
    }
    pub fn keys(&self) -> impl DoubleEndedIterator<Item = &K> + ExactSizeIterator {
        self.0.iter().map(|(k, _)| k)
    }
    pub fn values(&self) -> impl DoubleEndedIterator<Item = &V> + ExactSizeIterator {
        self.0.iter().map(|(_, v)| v)
    }
}

/// Makes room for one more element, exactly while `v` is small: a vector
/// that grows by doubling holds room for four elements at least, and most
/// maps and sets of the IR (a selector's keys, a key's values) hold one or
/// two, so that doubling made the IR of a statement twice its size
/// (docs/performance.md, "Limits").
fn grow_exactly_while_small<T>(v: &mut Vec<T>) {
    if v.len() == v.capacity() && v.len() < 8 {
        v.reserve_exact(1);
    }
}

impl<K: Ord, V> FromIterator<(K, V)> for VecMap<K, V> {
    /// As `BTreeMap`: the last value given for a key wins.
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut v: Vec<(K, V)> = iter.into_iter().collect();
        // stable: equal keys keep their order, so the last one is last
        v.sort_by(|a, b| a.0.cmp(&b.0));
        let mut out: Vec<(K, V)> = Vec::with_capacity(v.len());
        for (k, val) in v {
            match out.last_mut() {
                Some(last) if last.0 == k => last.1 = val,
                _ => out.push((k, val)),
            }
        }
        VecMap(out)
    }
}

impl<'a, K, V> IntoIterator for &'a VecMap<K, V> {
    type Item = (&'a K, &'a V);
    type IntoIter = std::iter::Map<std::slice::Iter<'a, (K, V)>, fn(&'a (K, V)) -> (&'a K, &'a V)>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter().map(|(k, v)| (k, v))
    }
}

impl<K: fmt::Debug, V: fmt::Debug> fmt::Debug for VecMap<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.0.iter().map(|(k, v)| (k, v)))
            .finish()
    }
}

/// A sorted set without duplicates.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct VecSet<T>(Vec<T>);

impl<T> Default for VecSet<T> {
    fn default() -> Self {
        VecSet(Vec::new())
    }
}

impl<T: Ord> VecSet<T> {
    pub fn new() -> Self {
        VecSet(Vec::new())
    }
    pub fn contains<Q: Ord + ?Sized>(&self, x: &Q) -> bool
    where
        T: Borrow<Q>,
    {
        self.0.binary_search_by(|e| e.borrow().cmp(x)).is_ok()
    }
    /// Inserts; false when already present.
    pub fn insert(&mut self, x: T) -> bool {
        match self.0.binary_search(&x) {
            Ok(_) => false,
            Err(i) => {
                grow_exactly_while_small(&mut self.0);
                self.0.insert(i, x);
                true
            }
        }
    }
    pub fn len(&self) -> usize {
        self.0.len()
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    pub fn iter(&self) -> std::slice::Iter<'_, T> {
        self.0.iter()
    }
    pub fn first(&self) -> Option<&T> {
        self.0.first()
    }
    pub fn is_subset(&self, o: &VecSet<T>) -> bool {
        self.0.iter().all(|x| o.contains(x))
    }
    pub fn is_disjoint(&self, o: &VecSet<T>) -> bool {
        !self.0.iter().any(|x| o.contains(x))
    }
}

impl<T: Ord + Clone> VecSet<T> {
    /// A merge of two sorted vectors, keeping the elements `keep` selects
    /// from (in self, in o).
    fn merge(&self, o: &VecSet<T>, keep: impl Fn(bool, bool) -> bool) -> VecSet<T> {
        use std::cmp::Ordering::*;
        let (a, b) = (&self.0, &o.0);
        let (mut i, mut j) = (0, 0);
        // room for the largest result that `keep` can give
        let most = match (keep(true, false), keep(false, true)) {
            (true, true) => a.len() + b.len(),
            (true, false) => a.len(),
            (false, true) => b.len(),
            (false, false) => a.len().min(b.len()),
        };
        let mut out = Vec::with_capacity(most);
        while i < a.len() || j < b.len() {
            let ord = match (a.get(i), b.get(j)) {
                (Some(x), Some(y)) => x.cmp(y),
                (Some(_), None) => Less,
                _ => Greater,
            };
            let (x, in_a, in_b) = match ord {
                Less => (&a[i], true, false),
                Greater => (&b[j], false, true),
                Equal => (&a[i], true, true),
            };
            if keep(in_a, in_b) {
                out.push(x.clone());
            }
            i += usize::from(in_a);
            j += usize::from(in_b);
        }
        if out.len() < out.capacity() {
            out.shrink_to_fit();
        }
        VecSet(out)
    }
    pub fn intersection(&self, o: &VecSet<T>) -> VecSet<T> {
        self.merge(o, |a, b| a && b)
    }
    pub fn difference(&self, o: &VecSet<T>) -> VecSet<T> {
        self.merge(o, |a, b| a && !b)
    }
    pub fn union(&self, o: &VecSet<T>) -> VecSet<T> {
        self.merge(o, |a, b| a || b)
    }
}

impl<T: Ord> FromIterator<T> for VecSet<T> {
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
        let mut v: Vec<T> = iter.into_iter().collect();
        v.sort();
        v.dedup();
        VecSet(v)
    }
}

impl<T: Ord, const N: usize> From<[T; N]> for VecSet<T> {
    fn from(a: [T; N]) -> Self {
        a.into_iter().collect()
    }
}

impl<'a, T> IntoIterator for &'a VecSet<T> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl<T> IntoIterator for VecSet<T> {
    type Item = T;
    type IntoIter = std::vec::IntoIter<T>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<T: fmt::Debug> fmt::Debug for VecSet<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.0.iter()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::{BTreeMap, BTreeSet};

    proptest! {
        /// Same contents, same order and same `Ord` as the std collections.
        #[test]
        fn map_agrees_with_btreemap(
            a in prop::collection::vec((0u8..8, any::<u8>()), 0..12),
            b in prop::collection::vec((0u8..8, any::<u8>()), 0..12),
            ops in prop::collection::vec((any::<bool>(), 0u8..8, any::<u8>()), 0..12),
        ) {
            let (mut va, mut ba): (VecMap<u8, u8>, BTreeMap<u8, u8>) =
                (a.iter().cloned().collect(), a.iter().cloned().collect());
            let (vb, bb): (VecMap<u8, u8>, BTreeMap<u8, u8>) =
                (b.iter().cloned().collect(), b.iter().cloned().collect());
            for (ins, k, v) in ops {
                if ins {
                    prop_assert_eq!(va.insert(k, v), ba.insert(k, v));
                } else {
                    prop_assert_eq!(va.remove(&k), ba.remove(&k));
                }
                prop_assert_eq!(va.get(&k), ba.get(&k));
            }
            prop_assert!(va.iter().eq(ba.iter()));
            prop_assert_eq!(va.cmp(&vb), ba.cmp(&bb));
            prop_assert_eq!(format!("{va:?}"), format!("{ba:?}"));
        }

        #[test]
        fn set_agrees_with_btreeset(
            a in prop::collection::vec(0u8..16, 0..10),
            b in prop::collection::vec(0u8..16, 0..10),
        ) {
            let (va, ba): (VecSet<u8>, BTreeSet<u8>) = (a.iter().cloned().collect(), a.iter().cloned().collect());
            let (vb, bb): (VecSet<u8>, BTreeSet<u8>) = (b.iter().cloned().collect(), b.iter().cloned().collect());
            prop_assert!(va.iter().eq(ba.iter()));
            prop_assert!(va.intersection(&vb).iter().eq(ba.intersection(&bb)));
            prop_assert!(va.difference(&vb).iter().eq(ba.difference(&bb)));
            prop_assert!(va.union(&vb).iter().eq(ba.union(&bb)));
            prop_assert_eq!(va.is_subset(&vb), ba.is_subset(&bb));
            prop_assert_eq!(va.is_disjoint(&vb), ba.is_disjoint(&bb));
            prop_assert_eq!(va.cmp(&vb), ba.cmp(&bb));
            prop_assert_eq!(format!("{va:?}"), format!("{ba:?}"));
            let mut vi = va.clone();
            let mut bi = ba.clone();
            for x in &b {
                prop_assert_eq!(vi.insert(*x), bi.insert(*x));
            }
            prop_assert!(vi.iter().eq(bi.iter()));
        }
    }
}
