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

/// Joins the cells whose peers are addresses and that have the same subject
/// and ports into one cell each (the union of their addresses and of their
/// allows); other cells pass unchanged. Cutting distributes over a union,
/// and [`merge_rules`] joins the addresses of one subject and ports into one
/// set anyway, so the rules are the same; but cut one by one, `k`
/// overlapping address blocks and `d` denies that cut all of them cost
/// `k * d` in time and memory (each piece carries every hole), joined `d`.
/// Returns the cells sorted.
pub(super) fn join_addresses(cells: Vec<Cell>) -> Vec<Cell> {
    let mut out: Vec<Cell> = Vec::with_capacity(cells.len());
    // (subject, ports) -> the cells to join
    let mut joined: BTreeMap<(LabelSel, PortSet), Vec<Cell>> = BTreeMap::new();
    for c in cells {
        if matches!(c.peer, PeerSet::External(_)) {
            joined
                .entry((c.subject.clone(), c.ports.clone()))
                .or_default()
                .push(c);
        } else {
            out.push(c);
        }
    }
    for ((subject, ports), group) in joined {
        let peer = PeerSet::External(IpSet::union_of(group.iter().filter_map(|c| match &c.peer {
            PeerSet::External(s) => Some(s),
            PeerSet::Pods { .. } | PeerSet::Names(_) => None,
        })));
        let (mut allows, mut denies) = (BTreeSet::new(), BTreeSet::new());
        for c in group {
            allows.extend(c.allows);
            denies.extend(c.denies);
        }
        out.push(Cell {
            subject,
            peer,
            ports,
            allows,
            denies,
        });
    }
    out.sort();
    out
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
    // each group's first cell, and the ports of the others: joined in one
    // union per group (one union per cell would copy the growing set
    // each time, quadratic in a peer's cells)
    let mut slots: Vec<Option<(Cell, Vec<PortSet>)>> = Vec::new();
    slots.resize_with(groups, || None);
    for (c, g) in cells.into_iter().zip(group) {
        match &mut slots[g] {
            Some((k, ports)) => {
                ports.push(c.ports);
                k.allows.extend(c.allows);
                k.denies.extend(c.denies);
            }
            slot => *slot = Some((c, Vec::new())),
        }
    }
    let mut kept: Vec<Cell> = slots
        .into_iter()
        .flatten()
        .map(|(mut k, ports)| {
            if !ports.is_empty() {
                k.ports = PortSet::union_of(std::iter::once(&k.ports).chain(&ports));
            }
            k
        })
        .collect();
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
            let mut addrs: Vec<IpSet> = Vec::new();
            let mut pods: Vec<PeerSet> = Vec::new();
            for p in r.peers.drain(..) {
                match p {
                    PeerSet::External(s) => addrs.push(s),
                    other => pods.push(other),
                }
            }
            let ext = IpSet::union_of(&addrs);
            pods.sort();
            pods.dedup();
            if !ext.is_empty() {
                pods.push(PeerSet::External(ext));
            }
            r.peers = pods;
            r
        })
        .collect();
    drop_covered_blocks(&mut rules);
    rules.sort_by(|a, b| (&a.peers, &a.ports).cmp(&(&b.peers, &b.ports)));
    rules
}

/// Leaves out of each rule's addresses the blocks (`cidr` with its
/// `except`s, as written) that rules with more ports already allow whole:
/// what dropping a cell inside another does for cells, for the address
/// sets [`join_addresses`] joined before cutting. A rule left with no peer
/// is removed.
fn drop_covered_blocks(rules: &mut Vec<PolicyRule>) {
    fn ext(r: &PolicyRule) -> Option<&IpSet> {
        r.peers.iter().find_map(|p| match p {
            PeerSet::External(s) => Some(s),
            PeerSet::Pods { .. } | PeerSet::Names(_) => None,
        })
    }
    let with_ext: Vec<usize> = (0..rules.len()).filter(|&i| ext(&rules[i]).is_some()).collect();
    if with_ext.len() < 2 {
        return;
    }
    let mut trimmed: Vec<(usize, IpSet)> = Vec::new();
    for &i in &with_ext {
        let r = &rules[i];
        let wider = IpSet::union_of(
            with_ext
                .iter()
                .map(|&j| &rules[j])
                .filter(|q| q.ports != r.ports && r.ports.is_subset_of(&q.ports))
                .filter_map(ext),
        );
        let Some(have) = ext(r) else {
            continue;
        };
        if !have.meets(&wider) {
            continue;
        }
        // the blocks are disjoint: the kept ones are joined in one pass
        let mut kept: Vec<IpSet> = Vec::new();
        let mut dropped = false;
        for b in have.ip_blocks() {
            let mut set = IpSet::from_net(&b.cidr);
            for e in &b.except {
                set = set.minus(&IpSet::from_net(e));
            }
            if set.is_subset(&wider) {
                dropped = true;
            } else {
                kept.push(set);
            }
        }
        if dropped {
            trimmed.push((i, IpSet::union_of(&kept)));
        }
    }
    for (i, kept) in trimmed {
        let r = &mut rules[i];
        r.peers.retain(|p| !matches!(p, PeerSet::External(_)));
        if !kept.is_empty() {
            r.peers.push(PeerSet::External(kept));
        }
    }
    rules.retain(|r| !r.peers.is_empty());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::Protocol;

    fn ips(nets: &[&str]) -> IpSet {
        let mut s = IpSet::empty();
        for n in nets {
            let (net, except) = n.split_once(" except ").unwrap_or((n, ""));
            let mut b = IpSet::from_net(&net.parse().unwrap());
            if !except.is_empty() {
                b = b.minus(&IpSet::from_net(&except.parse().unwrap()));
            }
            s = s.union(&b);
        }
        s
    }

    fn cell(peer: PeerSet, ports: PortSet, allow: usize) -> Cell {
        Cell {
            subject: LabelSel::any(),
            peer,
            ports,
            allows: [allow].into(),
            denies: BTreeSet::new(),
        }
    }

    #[test]
    fn address_cells_of_one_subject_and_ports_are_joined() {
        let p443 = PortSet::range(Protocol::Tcp, 443, 443);
        let cells = vec![
            cell(PeerSet::External(ips(&["10.0.0.0/8 except 10.1.0.0/16"])), p443.clone(), 1),
            cell(PeerSet::External(ips(&["10.0.0.0/8 except 10.2.0.0/16"])), p443.clone(), 2),
            cell(PeerSet::External(ips(&["192.168.0.0/16"])), PortSet::all(), 3),
            cell(PeerSet::cluster(), p443.clone(), 4),
        ];
        let out = join_addresses(cells);
        assert_eq!(out.len(), 3);
        let joined = out
            .iter()
            .find(|c| c.ports == p443 && matches!(c.peer, PeerSet::External(_)))
            .unwrap();
        assert_eq!(joined.peer, PeerSet::External(ips(&["10.0.0.0/8"])));
        assert_eq!(joined.allows, [1, 2].into());
        // the pod cell and the cell of other ports are left alone
        assert!(out.iter().any(|c| c.peer == PeerSet::cluster() && c.allows == [4].into()));
        assert!(out.iter().any(|c| c.ports == PortSet::all() && c.allows == [3].into()));
    }

    #[test]
    fn a_block_that_a_rule_with_more_ports_allows_whole_is_left_out() {
        let p443 = PortSet::range(Protocol::Tcp, 443, 443);
        let cells = vec![
            cell(
                PeerSet::External(ips(&["10.0.0.0/8 except 10.9.0.0/16", "192.168.0.0/16 except 192.168.7.0/24"])),
                p443.clone(),
                1,
            ),
            cell(
                PeerSet::External(ips(&["10.0.0.0/8 except 10.1.0.0/16", "192.168.0.0/16"])),
                PortSet::all(),
                2,
            ),
        ];
        let rules = merge_rules(cells);
        assert_eq!(rules.len(), 2);
        let r443 = rules.iter().find(|r| r.ports == p443).unwrap();
        // 192.168.0.0/16 except 192.168.7.0/24 is allowed on every port already;
        // 10.0.0.0/8 except 10.9.0.0/16 is not (10.1.0.0/16)
        assert_eq!(r443.peers, vec![PeerSet::External(ips(&["10.0.0.0/8 except 10.9.0.0/16"]))]);
        // a rule left with nothing is removed
        let only = merge_rules(vec![
            cell(PeerSet::External(ips(&["192.168.1.0/24"])), p443.clone(), 1),
            cell(PeerSet::External(ips(&["192.168.0.0/16"])), PortSet::all(), 2),
        ]);
        assert_eq!(only.len(), 1);
        assert!(only[0].ports.is_all());
    }
}
