//! Stage 5, deny compilation: the box algebra. Input: boxes (`Cell`s:
//! subject × peer × ports) and deny boxes. Output: exact differences, and
//! one direction's boxes merged into policy rules.

use super::{Cell, PolicyRule};
use crate::ir::{IpSet, LabelSel, PeerSet, PortSet};
use std::collections::{BTreeMap, BTreeSet};

/// Whether two boxes share a connection (for some cluster).
pub(super) fn meets(a: &Cell, b: &Cell) -> bool {
    a.subject.intersect(&b.subject).is_some()
        && a.peer.intersect(&b.peer).is_some()
        && a.ports.may_intersect(&b.ports)
}

/// What is left of `rest` once every box of `others` is taken out, for
/// every cluster, or more (a box whose ports cannot be taken out exactly,
/// because of a named port, is not taken out). `None` when there are too
/// many pieces to follow: the caller then assumes something is left. Both
/// can only refuse, never mis-compile.
pub(super) fn subtract_all(mut rest: Vec<Cell>, others: &[Cell]) -> Option<Vec<Cell>> {
    let mk = |subject: LabelSel, peer: PeerSet, ports: PortSet| Cell {
        subject,
        peer,
        ports,
        allows: BTreeSet::new(),
        denies: BTreeSet::new(),
    };
    for c in others {
        let mut next = Vec::new();
        for r in rest {
            let (Some(both_subject), Some(both_peer), true) = (
                r.subject.intersect(&c.subject),
                r.peer.intersect(&c.peer),
                r.ports.may_intersect(&c.ports),
            ) else {
                next.push(r);
                continue;
            };
            // a named port cannot be taken out of numbers exactly: leave
            // the piece whole (what is left can only be larger)
            let Ok(ports) = r.ports.minus(&c.ports) else {
                next.push(r);
                continue;
            };
            for s in r.subject.minus(&c.subject) {
                next.push(mk(s, r.peer.clone(), r.ports.clone()));
            }
            for p in r.peer.minus(&c.peer) {
                next.push(mk(both_subject.clone(), p, r.ports.clone()));
            }
            if !ports.is_empty() {
                next.push(mk(both_subject, both_peer, ports));
            }
        }
        rest = next;
        rest.retain(|c| !c.ports.is_empty() && !c.peer.is_empty() && !c.subject.is_empty());
        if rest.is_empty() || rest.len() > 4096 {
            break;
        }
    }
    (rest.len() <= 4096).then_some(rest)
}

/// The addresses that denies took out of one piece and have not been
/// applied yet. A deny that cuts only a piece's addresses (its subject and
/// ports hold the piece's) leaves one piece, the same with fewer addresses;
/// a run of such cuts is applied at once, since each alone would copy every
/// hole cut before it (thousands, when many denies cut one allow).
#[derive(Default)]
pub(super) struct Holes {
    v4: crate::ir::ranges::RangeUnion,
    v6: crate::ir::ranges::RangeUnion,
    pub(super) ids: Vec<usize>,
}

impl Holes {
    /// Cuts `deny` out of the piece whose addresses are `peer` minus the
    /// holes so far; the deny is recorded if it takes something out.
    pub(super) fn cut(&mut self, peer: &PeerSet, deny: &IpSet, id: usize) {
        let PeerSet::External(have) = peer else {
            return;
        };
        let left = |u: &crate::ir::ranges::RangeUnion,
                    d: &crate::ir::ranges::RangeSet,
                    h: &crate::ir::ranges::RangeSet| {
            d.ranges().iter().any(|&(lo, hi)| {
                u.uncovered(lo, hi)
                    .into_iter()
                    .any(|(a, b)| crate::ir::ranges::RangeSet::range(a, b).meets(h))
            })
        };
        if left(&self.v4, &deny.v4, &have.v4) || left(&self.v6, &deny.v6, &have.v6) {
            for &(lo, hi) in deny.v4.ranges() {
                self.v4.insert(lo, hi);
            }
            for &(lo, hi) in deny.v6.ranges() {
                self.v6.insert(lo, hi);
            }
            self.ids.push(id);
        }
    }
    /// Applies the holes to the piece; false when no address is left.
    pub(super) fn apply(&mut self, p: &mut Cell) -> bool {
        if self.ids.is_empty() {
            return true;
        }
        if let PeerSet::External(have) = &p.peer {
            let holes = IpSet {
                v4: self.v4.to_set(),
                v6: self.v6.to_set(),
            };
            p.peer = PeerSet::External(have.minus(&holes));
        }
        p.denies.extend(self.ids.drain(..));
        *self = Holes::default();
        !p.peer.is_empty()
    }
}

/// The deny's addresses when cutting `d` out of piece `p` only takes
/// addresses out of it: both are addresses, and the deny's subject and
/// ports hold the piece's.
pub(super) fn cuts_only_addresses<'c>(p: &Cell, d: &'c Cell) -> Option<&'c IpSet> {
    let (PeerSet::External(_), PeerSet::External(dp)) = (&p.peer, &d.peer) else {
        return None;
    };
    (!p.subject.is_empty() && p.subject.is_subset(&d.subject) && p.ports.is_subset_of(&d.ports))
        .then_some(dp)
}

/// A quick test, without allocating, that fails only when a cell and a deny
/// cannot meet: by their peers' kinds and addresses and their port numbers
/// (named ports may meet anything of their protocol).
pub(super) fn may_meet(cell: &Cell, d: &Cell) -> bool {
    let peers = match (&cell.peer, &d.peer) {
        (PeerSet::External(a), PeerSet::External(b)) => a.meets(b),
        (PeerSet::Pods { .. }, PeerSet::Pods { .. }) => true,
        _ => false,
    };
    let ports = !cell.ports.named.is_empty()
        || !d.ports.named.is_empty()
        || cell
            .ports
            .numbers
            .iter()
            .any(|(p, r)| d.ports.numbers.get(p).is_some_and(|q| r.meets(q)));
    peers && ports
}

/// Merges one direction's cells into rules: same peer → union of ports,
/// then same ports → union of peers; cells covered by another are dropped.
pub(super) fn merge_rules(cells: Vec<Cell>) -> Vec<PolicyRule> {
    // cells of one peer join the first of them (a map, not a search of
    // the kept cells: a policy may have thousands of peers)
    let mut group: Vec<usize> = Vec::with_capacity(cells.len());
    let mut groups = 0;
    {
        let mut first: std::collections::HashMap<&PeerSet, usize> =
            std::collections::HashMap::new();
        for c in &cells {
            group.push(*first.entry(&c.peer).or_insert_with(|| {
                groups += 1;
                groups - 1
            }));
        }
    }
    let mut slots: Vec<Option<Cell>> = Vec::new();
    slots.resize_with(groups, || None);
    for (c, g) in cells.into_iter().zip(group) {
        match &mut slots[g] {
            Some(k) => {
                k.ports = k.ports.union(&c.ports);
                k.allows.extend(c.allows);
                k.denies.extend(c.denies);
            }
            slot => *slot = Some(c),
        }
    }
    let mut kept: Vec<Cell> = slots.into_iter().flatten().collect();
    // drop cells inside another (same subject already); only peers that
    // may contain a cell's peer are compared with it
    let within = |a: &Cell, b: &Cell| a.peer.is_subset(&b.peer) && a.ports.is_subset_of(&b.ports);
    let peers: Vec<&PeerSet> = kept.iter().map(|c| &c.peer).collect();
    let candidates = crate::ir::superset_candidates(&peers);
    let redundant: Vec<bool> = candidates
        .iter()
        .enumerate()
        .map(|(i, js)| {
            js.iter()
                .any(|&j| within(&kept[i], &kept[j]) && !within(&kept[j], &kept[i]))
        })
        .collect();
    let mut flags = redundant.into_iter();
    kept.retain(|_| !flags.next().unwrap_or(false));
    let mut by_ports: BTreeMap<PortSet, PolicyRule> = BTreeMap::new();
    for c in kept {
        let r = by_ports
            .entry(c.ports.clone())
            .or_insert_with(|| PolicyRule {
                peers: vec![],
                ports: c.ports.clone(),
                allows: BTreeSet::new(),
                denies: BTreeSet::new(),
            });
        r.peers.push(c.peer);
        r.allows.extend(c.allows);
        r.denies.extend(c.denies);
    }
    let mut rules: Vec<PolicyRule> = by_ports
        .into_values()
        .map(|mut r| {
            let mut ext = IpSet::empty();
            let mut pods: Vec<PeerSet> = Vec::new();
            for p in r.peers.drain(..) {
                match p {
                    PeerSet::External(s) => ext = ext.union(&s),
                    other => pods.push(other),
                }
            }
            pods.sort();
            pods.dedup();
            if !ext.is_empty() {
                pods.push(PeerSet::External(ext));
            }
            r.peers = pods;
            r
        })
        .collect();
    rules.sort_by(|a, b| (&a.peers, &a.ports).cmp(&(&b.peers, &b.ports)));
    rules
}
