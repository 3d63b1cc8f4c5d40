//! Label constraints as exact sets, closed under intersection and
//! complement: the algebra that deny compilation uses for selectors.
//!
//! A [`LabelSel`] is a conjunction of per-key constraints. A per-key
//! constraint ([`KeyC`]) says whether an absent key is accepted and which
//! values are (a finite or co-finite set), so `In`, `NotIn`, `Exists`,
//! `DoesNotExist` and their complements are all exact. Kubernetes can write
//! every constraint except "absent or one of {..}" as one selector; such a
//! constraint is split into two cells by [`LabelSel::expressible`].

use super::sorted::{VecMap, VecSet};
use std::collections::BTreeMap;

/// A set of label values: finitely many, or all but finitely many.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ValSet {
    Finite(VecSet<String>),
    Cofinite(VecSet<String>),
}

impl ValSet {
    pub fn all() -> ValSet {
        ValSet::Cofinite(VecSet::new())
    }
    pub fn none() -> ValSet {
        ValSet::Finite(VecSet::new())
    }
    pub fn is_empty(&self) -> bool {
        matches!(self, ValSet::Finite(s) if s.is_empty())
    }
    pub fn is_all(&self) -> bool {
        matches!(self, ValSet::Cofinite(s) if s.is_empty())
    }
    pub fn contains(&self, v: &str) -> bool {
        match self {
            ValSet::Finite(s) => s.contains(v),
            ValSet::Cofinite(s) => !s.contains(v),
        }
    }
    /// Whether no value is in both (without building the intersection).
    pub fn is_disjoint(&self, o: &ValSet) -> bool {
        use ValSet::*;
        match (self, o) {
            (Finite(a), Finite(b)) => a.is_disjoint(b),
            (Finite(a), Cofinite(b)) | (Cofinite(b), Finite(a)) => a.is_subset(b),
            // both exclude finitely many of infinitely many values
            (Cofinite(_), Cofinite(_)) => false,
        }
    }
    pub fn complement(&self) -> ValSet {
        match self {
            ValSet::Finite(s) => ValSet::Cofinite(s.clone()),
            ValSet::Cofinite(s) => ValSet::Finite(s.clone()),
        }
    }
    pub fn intersect(&self, o: &ValSet) -> ValSet {
        use ValSet::*;
        match (self, o) {
            (Finite(a), Finite(b)) => Finite(a.intersection(b)),
            (Finite(a), Cofinite(b)) | (Cofinite(b), Finite(a)) => Finite(a.difference(b)),
            (Cofinite(a), Cofinite(b)) => Cofinite(a.union(b)),
        }
    }
}

/// The constraint on one label key.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KeyC {
    /// Whether a pod without the key is accepted.
    pub absent: bool,
    /// The accepted values when the key is present.
    pub values: ValSet,
}

impl KeyC {
    pub fn any() -> KeyC {
        KeyC {
            absent: true,
            values: ValSet::all(),
        }
    }
    pub fn eq(v: &str) -> KeyC {
        KeyC::one_of([v.to_string()].into())
    }
    pub fn one_of(vs: VecSet<String>) -> KeyC {
        KeyC {
            absent: false,
            values: ValSet::Finite(vs),
        }
    }
    pub fn none_of(vs: VecSet<String>) -> KeyC {
        KeyC {
            absent: true,
            values: ValSet::Cofinite(vs),
        }
    }
    pub fn exists() -> KeyC {
        KeyC {
            absent: false,
            values: ValSet::all(),
        }
    }
    pub fn missing() -> KeyC {
        KeyC {
            absent: true,
            values: ValSet::none(),
        }
    }
    pub fn is_any(&self) -> bool {
        self.absent && self.values.is_all()
    }
    pub fn is_empty(&self) -> bool {
        !self.absent && self.values.is_empty()
    }
    pub fn matches(&self, v: Option<&str>) -> bool {
        match v {
            None => self.absent,
            Some(v) => self.values.contains(v),
        }
    }
    pub fn intersect(&self, o: &KeyC) -> KeyC {
        KeyC {
            absent: self.absent && o.absent,
            values: self.values.intersect(&o.values),
        }
    }
    /// Whether no pod satisfies both: `self.intersect(o).is_empty()`,
    /// without building the intersection.
    pub fn is_disjoint(&self, o: &KeyC) -> bool {
        !(self.absent && o.absent) && self.values.is_disjoint(&o.values)
    }
    pub fn complement(&self) -> KeyC {
        KeyC {
            absent: !self.absent,
            values: self.values.complement(),
        }
    }
    /// Whether every value (or absence) accepted by `self` is accepted by `o`.
    pub fn is_subset(&self, o: &KeyC) -> bool {
        if self.absent && !o.absent {
            return false;
        }
        match (&self.values, &o.values) {
            (ValSet::Finite(a), ValSet::Finite(b)) => a.is_subset(b),
            (ValSet::Finite(a), ValSet::Cofinite(b)) => a.is_disjoint(b),
            (ValSet::Cofinite(_), ValSet::Finite(_)) => false,
            (ValSet::Cofinite(a), ValSet::Cofinite(b)) => b.is_subset(a),
        }
    }
    /// Kubernetes cannot write "absent or one of {..}" as one conjunction.
    pub fn expressible(&self) -> bool {
        !(self.absent && matches!(&self.values, ValSet::Finite(s) if !s.is_empty()))
    }
    /// Splits into expressible, disjoint parts.
    fn split(&self) -> Vec<KeyC> {
        if self.expressible() {
            vec![self.clone()]
        } else {
            vec![
                KeyC::missing(),
                KeyC {
                    absent: false,
                    values: self.values.clone(),
                },
            ]
        }
    }
}

/// A conjunction of per-key constraints; keys not present are unconstrained.
/// The empty map matches every label set.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct LabelSel(pub VecMap<String, KeyC>);

impl LabelSel {
    pub fn any() -> LabelSel {
        LabelSel(VecMap::new())
    }
    pub fn is_any(&self) -> bool {
        self.0.values().all(KeyC::is_any)
    }
    pub fn with(mut self, key: &str, c: KeyC) -> LabelSel {
        let merged = match self.0.get(key) {
            Some(old) => old.intersect(&c),
            None => c,
        };
        if merged.is_any() {
            self.0.remove(key);
        } else {
            self.0.insert(key.to_string(), merged);
        }
        self
    }
    pub fn get(&self, key: &str) -> Option<&KeyC> {
        self.0.get(key)
    }
    /// True when no label set can match.
    pub fn is_empty(&self) -> bool {
        self.0.values().any(KeyC::is_empty)
    }
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.0
            .iter()
            .all(|(k, c)| c.matches(labels.get(k).map(String::as_str)))
    }
    /// The conjunction of both, or `None` when it is empty.
    pub fn intersect(&self, o: &LabelSel) -> Option<LabelSel> {
        // most pairs a compilation meets are disjoint on a shared key
        // (`app=a` and `app=b`): answered without a copy
        if self.disjoint_on_a_shared_key(o) {
            return None;
        }
        let mut out = self.clone();
        for (k, c) in &o.0 {
            out = out.with(k, c.clone());
        }
        if out.is_empty() {
            None
        } else {
            Some(out)
        }
    }
    /// Whether some key constrained by both admits no common value (or
    /// absence): then nothing matches both. A merge walk of the two sorted
    /// maps, without allocating.
    fn disjoint_on_a_shared_key(&self, o: &LabelSel) -> bool {
        let (mut a, mut b) = (self.0.iter().peekable(), o.0.iter().peekable());
        while let (Some((ka, ca)), Some((kb, cb))) = (a.peek(), b.peek()) {
            match ka.cmp(kb) {
                std::cmp::Ordering::Less => {
                    a.next();
                }
                std::cmp::Ordering::Greater => {
                    b.next();
                }
                std::cmp::Ordering::Equal => {
                    if ca.is_disjoint(cb) {
                        return true;
                    }
                    a.next();
                    b.next();
                }
            }
        }
        false
    }
    /// Disjoint, expressible selectors whose union is the complement.
    pub fn complement(&self) -> Vec<LabelSel> {
        let mut out = Vec::new();
        let mut prefix = LabelSel::any();
        for (k, c) in &self.0 {
            let neg = c.complement();
            if !neg.is_empty() {
                out.extend(prefix.clone().with(k, neg).expressible());
            }
            prefix = prefix.with(k, c.clone());
        }
        out
    }
    /// `self \ o` as disjoint, expressible selectors.
    pub fn minus(&self, o: &LabelSel) -> Vec<LabelSel> {
        if self.intersect(o).is_none() {
            return self.expressible();
        }
        o.complement()
            .iter()
            .filter_map(|c| self.intersect(c))
            .flat_map(|s| s.expressible())
            .collect()
    }
    /// Splits constraints Kubernetes cannot write into disjoint cells.
    pub fn expressible(&self) -> Vec<LabelSel> {
        let mut cells = vec![LabelSel::any()];
        for (k, c) in &self.0 {
            let parts = c.split();
            cells = cells
                .into_iter()
                .flat_map(|cell| parts.iter().map(move |p| cell.clone().with(k, p.clone())))
                .collect();
        }
        cells
    }
    /// True when every label set matching `self` matches `o`.
    pub fn is_subset(&self, o: &LabelSel) -> bool {
        o.0.iter().all(|(k, oc)| match self.0.get(k) {
            Some(sc) => sc.is_subset(oc),
            None => oc.is_any(),
        })
    }
}

impl std::fmt::Display for LabelSel {
    /// The selector in `.npl` syntax (`*` when it matches every label set).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.is_any() {
            return f.write_str("*");
        }
        let mut parts = Vec::new();
        for (k, c) in &self.0 {
            let list = |s: &VecSet<String>| s.iter().cloned().collect::<Vec<_>>().join(", ");
            match (&c.values, c.absent) {
                (ValSet::Cofinite(s), true) if s.is_empty() => {}
                (ValSet::Cofinite(s), false) if s.is_empty() => parts.push(format!("{k}=*")),
                (ValSet::Finite(s), true) if s.is_empty() => parts.push(format!("!{k}")),
                (ValSet::Finite(s), false) if s.len() == 1 => {
                    parts.push(format!("{k}={}", list(s)))
                }
                (ValSet::Finite(s), false) => parts.push(format!("{k} in ({})", list(s))),
                (ValSet::Cofinite(s), true) => parts.push(format!("{k} notin ({})", list(s))),
                (ValSet::Cofinite(s), false) => {
                    parts.push(format!("{k}=*, {k} notin ({})", list(s)))
                }
                (ValSet::Finite(s), true) => parts.push(format!("!{k} | {k} in ({})", list(s))),
            }
        }
        f.write_str(&parts.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn notin_matches_missing_key() {
        let s = LabelSel::any().with("app", KeyC::none_of(["api".to_string()].into()));
        assert!(s.matches(&labels(&[])));
        assert!(s.matches(&labels(&[("app", "web")])));
        assert!(!s.matches(&labels(&[("app", "api")])));
    }

    #[test]
    fn complement_of_notin_is_in() {
        let s = LabelSel::any().with("app", KeyC::none_of(["api".to_string()].into()));
        let c = s.complement();
        assert_eq!(c, vec![LabelSel::any().with("app", KeyC::eq("api"))]);
    }

    #[test]
    fn inexpressible_is_split() {
        let s = LabelSel::any().with(
            "app",
            KeyC::exists().intersect(&KeyC::none_of(["a".to_string()].into())),
        );
        let c = s.complement();
        // absent, or app=a
        assert_eq!(c.len(), 2);
        assert!(c.iter().all(|x| x.0.values().all(KeyC::expressible)));
    }

    fn arb_keyc() -> impl Strategy<Value = KeyC> {
        let vals = prop::collection::btree_set(
            prop::sample::select(vec!["a", "b", "c"]).prop_map(String::from),
            0..3,
        );
        (any::<bool>(), any::<bool>(), vals).prop_map(|(absent, fin, v)| KeyC {
            absent,
            values: if fin {
                ValSet::Finite(v.into_iter().collect())
            } else {
                ValSet::Cofinite(v.into_iter().collect())
            },
        })
    }

    fn arb_sel() -> impl Strategy<Value = LabelSel> {
        prop::collection::vec((prop::sample::select(vec!["x", "y"]), arb_keyc()), 0..3).prop_map(
            |v| {
                v.into_iter()
                    .fold(LabelSel::any(), |s, (k, c)| s.with(k, c))
            },
        )
    }

    fn arb_labels() -> impl Strategy<Value = BTreeMap<String, String>> {
        prop::collection::btree_map(
            prop::sample::select(vec!["x", "y"]).prop_map(String::from),
            prop::sample::select(vec!["a", "b", "c", "d"]).prop_map(String::from),
            0..3,
        )
    }

    proptest! {
        #[test]
        fn complement_is_exact_and_disjoint(s in arb_sel(), l in arb_labels()) {
            let c = s.complement();
            let hits = c.iter().filter(|x| x.matches(&l)).count();
            prop_assert_eq!(hits, if s.matches(&l) { 0 } else { 1 });
            prop_assert!(c.iter().all(|x| x.0.values().all(KeyC::expressible)));
        }

        #[test]
        fn minus_and_intersect_are_exact(a in arb_sel(), b in arb_sel(), l in arb_labels()) {
            let m = a.minus(&b);
            let want = a.matches(&l) && !b.matches(&l);
            prop_assert_eq!(m.iter().any(|x| x.matches(&l)), want);
            prop_assert!(m.iter().filter(|x| x.matches(&l)).count() <= 1);
            let i = a.intersect(&b);
            prop_assert_eq!(i.map(|x| x.matches(&l)).unwrap_or(false), a.matches(&l) && b.matches(&l));
        }

        #[test]
        fn disjointness_is_the_empty_intersection(a in arb_keyc(), b in arb_keyc(), x in arb_sel(), y in arb_sel()) {
            prop_assert_eq!(a.is_disjoint(&b), a.intersect(&b).is_empty());
            // the shortcut of `LabelSel::intersect` only ever answers `None`
            // where the intersection built key by key is empty
            let slow = y.0.iter().fold(x.clone(), |s, (k, c)| s.with(k, c.clone()));
            if x.disjoint_on_a_shared_key(&y) {
                prop_assert!(slow.is_empty());
            }
            prop_assert_eq!(x.intersect(&y).is_none(), slow.is_empty());
        }

        #[test]
        fn subset_is_sound(a in arb_sel(), b in arb_sel(), l in arb_labels()) {
            if a.is_subset(&b) && a.matches(&l) {
                prop_assert!(b.matches(&l));
            }
        }
    }
}
