//! The difference on a population: the pod pairs whose permitted ports
//! change. Input: both programs and a [`Population`]. Output:
//! [`PodChange`]s, sorted by source then destination (each by namespace and
//! name). Computed on classes of pods and port intervals
//! (`eval::classes`, the intent semantics), so named ports are resolved on
//! each destination pod exactly as the intent evaluator resolves them.

use super::report::PodChange;
use crate::eval::classes::{self, Ports};
use crate::eval::matrix;
use crate::ir::ranges::RangeSet;
use crate::ir::Program;
use crate::net::Protocol;
use crate::population::Population;
use std::collections::BTreeMap;

fn sets(p: &Ports) -> BTreeMap<Protocol, RangeSet> {
    let mut out: BTreeMap<Protocol, RangeSet> = BTreeMap::new();
    for &(proto, lo, hi) in p.without_zero().ranges() {
        let e = out.entry(proto).or_default();
        *e = e.union(&RangeSet::range(u128::from(lo), u128::from(hi)));
    }
    out
}

fn minus(a: &Ports, b: &Ports) -> Ports {
    let (a, b) = (sets(a), sets(b));
    let mut out = Vec::new();
    for (proto, r) in &a {
        let d = match b.get(proto) {
            Some(q) => r.minus(q),
            None => r.clone(),
        };
        for &(lo, hi) in d.ranges() {
            if let (Ok(lo), Ok(hi)) = (u16::try_from(lo), u16::try_from(hi)) {
                out.push((*proto, lo, hi));
            }
        }
    }
    Ports::from_ranges(out)
}

/// Every pod pair of `pop` whose ports under `new` differ from `old`'s.
pub fn changes(old: &Program, new: &Program, pop: &Population) -> Vec<PodChange> {
    let (mo, mn) = (
        classes::evaluate(&[], old, pop),
        classes::evaluate(&[], new, pop),
    );
    let empty = Ports::empty();
    let pods = matrix::sorted_pods(pop);
    // the class pairs that change, then their pods
    let mut by_class: BTreeMap<(usize, usize), (Ports, Ports)> = BTreeMap::new();
    for s in 0..mo.classes.len() {
        let row_o: BTreeMap<usize, &Ports> = mo.row(s).map(|(d, c)| (d, &c.intended)).collect();
        let row_n: BTreeMap<usize, &Ports> = mn.row(s).map(|(d, c)| (d, &c.intended)).collect();
        for d in row_o.keys().chain(row_n.keys()) {
            let o = row_o.get(d).copied().unwrap_or(&empty);
            let n = row_n.get(d).copied().unwrap_or(&empty);
            let (add, rem) = (minus(n, o), minus(o, n));
            if !add.is_empty() || !rem.is_empty() {
                by_class.insert((s, *d), (add, rem));
            }
        }
    }
    let mut out = Vec::new();
    for &s in &pods {
        let cs = mo.classes.of_pod.get(s).copied().unwrap_or(0);
        for &d in &pods {
            let cd = mo.classes.of_pod.get(d).copied().unwrap_or(0);
            if let Some((add, rem)) = by_class.get(&(cs, cd)) {
                out.push(PodChange {
                    src: pop.pod_ref(s).unwrap_or_default(),
                    dst: pop.pod_ref(d).unwrap_or_default(),
                    added: add.text(),
                    removed: rem.text(),
                });
            }
        }
    }
    out
}
