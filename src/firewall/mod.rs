//! The node firewall: a stage beside the NetworkPolicy pipeline. Input: the
//! `nodes { ... }` blocks and `port` declarations of a build's ASTs (checked
//! by [`check`]). Output: a [`FirewallSpec`] of exact sets (roles with their
//! address sets, components with their port sets, rules), from which
//! [`FirewallSpec::rows`] computes the port table, and [`emit`] writes it as
//! `ports.txt`, `ports.json`, `ports.csv` and one nftables ruleset per role.
//!
//! Meaning (docs/firewall.md): on a role, a port is *managed* when a
//! component the role runs uses it or a rule names it. A managed port is
//! open to (union of the sources of the allows that name it) minus (union of
//! the sources of the denies that name it), and closed to everyone else.
//! Ports nobody names are left alone.

pub mod check;
pub mod emit;

use crate::diag::Diagnostic;
use crate::ir::ranges::RangeSet;
use crate::ir::Action;
use crate::ir::{IpSet, PortSet, Silenced};
use crate::net::Protocol;
use crate::source::Span;
use std::collections::{BTreeMap, BTreeSet};

/// TCP port 22: always counted as management access (SSH).
pub const SSH_PORT: u16 = 22;

/// A checked firewall: every `nodes` block of a build, merged.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FirewallSpec {
    /// Declared roles by name.
    pub roles: BTreeMap<String, Role>,
    /// Every component port visible to the build (declared in the sources or
    /// in a `use`d stdlib module), by name.
    pub components: BTreeMap<String, Component>,
    /// Node rules by position (file name, then offset); `id` is the index.
    pub rules: Vec<NodeRule>,
    /// `@silence` written on `nodes` blocks.
    pub block_silences: Vec<BlockSilence>,
    /// Names of the files holding `nodes` blocks, sorted.
    pub files: Vec<String>,
}

/// Lint codes silenced on a whole `nodes` block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockSilence {
    pub span: Span,
    pub location: String,
    pub silence: Vec<Silenced>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Role {
    pub name: String,
    /// The addresses of the role's nodes; empty when none are written.
    pub addresses: IpSet,
    /// The components the role runs (written with `runs`, or by default).
    pub runs: BTreeSet<String>,
    /// Whether `runs` was written (then it replaces the defaults).
    pub runs_written: bool,
    /// The role statement and its location (`file:line`).
    pub span: Span,
    /// Its name where first declared.
    pub name_span: Span,
    pub location: String,
    pub silence: Vec<Silenced>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Component {
    pub name: String,
    /// Port numbers only.
    pub ports: PortSet,
    pub note: String,
    /// Roles that run it by default.
    pub on: BTreeSet<String>,
    /// `for management`: the way operators reach the nodes.
    pub management: bool,
    /// Where it is declared (`<stdlib>/k8s-ports.npl:12` or a source file).
    pub location: String,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeRule {
    pub id: usize,
    pub action: Action,
    /// The source addresses (roles and names expanded).
    pub sources: IpSet,
    /// Each source peer as written (`admin-net`, `world except 10.9.0.0/16`).
    pub source_text: Vec<String>,
    /// The destination roles.
    pub roles: BTreeSet<String>,
    pub ports: PortSet,
    /// Components named in the ports.
    pub components: BTreeSet<String>,
    /// Each component name as written in the ports, with its place.
    pub named: Vec<(String, Span)>,
    pub silence: Vec<Silenced>,
    pub span: Span,
    pub location: String,
}

/// One line of the port table: a range of ports of one protocol on one
/// role, over which the components, the rules and so the sources are the
/// same.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortRow {
    pub role: String,
    pub protocol: Protocol,
    pub lo: u16,
    pub hi: u16,
    /// Known components whose ports hold the whole range, by name.
    pub components: Vec<String>,
    /// Sources a connection may come from; empty: closed.
    pub open: IpSet,
    /// The allow and deny rules that name these ports on this role (ids).
    pub allowed_by: Vec<usize>,
    pub denied_by: Vec<usize>,
}

impl PortRow {
    pub fn is_open(&self) -> bool {
        !self.open.is_empty()
    }
    /// `6443` or `30000-32767`.
    pub fn ports_text(&self) -> String {
        if self.lo == self.hi {
            self.lo.to_string()
        } else {
            format!("{}-{}", self.lo, self.hi)
        }
    }
}

impl Role {
    /// Whether the role runs `component` (written `runs`, else the
    /// component's default roles).
    pub fn runs(&self, component: &str) -> bool {
        self.runs.contains(component)
    }
}

impl FirewallSpec {
    /// The ports the ruleset of `role` manages, per protocol.
    pub fn managed(&self, role: &str) -> PortSet {
        let mut out = PortSet::empty();
        let Some(r) = self.roles.get(role) else {
            return out;
        };
        for c in &r.runs {
            if let Some(comp) = self.components.get(c) {
                out = out.union(&comp.ports);
            }
        }
        for rule in self.rules.iter().filter(|x| x.roles.contains(role)) {
            out = out.union(&rule.ports);
        }
        out
    }

    /// Management ports: TCP 22 and the ports of components declared
    /// `for management`.
    pub fn management_ports(&self) -> PortSet {
        let mut out = PortSet::range(Protocol::Tcp, SSH_PORT, SSH_PORT);
        for c in self.components.values().filter(|c| c.management) {
            out = out.union(&c.ports);
        }
        out
    }

    /// The port table: every managed port of every role, split where the
    /// components or the rules change. Sorted by role name, then first
    /// port, last port, protocol (TCP, UDP, SCTP).
    pub fn rows(&self) -> Vec<PortRow> {
        let mut out = Vec::new();
        for role in self.roles.values() {
            let managed = self.managed(&role.name);
            let rules: Vec<&NodeRule> = self
                .rules
                .iter()
                .filter(|r| r.roles.contains(&role.name))
                .collect();
            for (proto, ranges) in &managed.numbers {
                // cut points: where a relevant component's or rule's ports start or end
                let mut cuts: BTreeSet<u128> = BTreeSet::new();
                let relevant = self.components.values().filter(|c| {
                    role.runs(&c.name) || rules.iter().any(|r| r.components.contains(&c.name))
                });
                let mut sets: Vec<&RangeSet> = relevant
                    .filter_map(|c| c.ports.numbers.get(proto))
                    .collect();
                sets.extend(rules.iter().filter_map(|r| r.ports.numbers.get(proto)));
                sets.push(ranges);
                for s in sets {
                    for &(lo, hi) in s.ranges() {
                        cuts.insert(lo);
                        cuts.insert(hi + 1);
                    }
                }
                let cuts: Vec<u128> = cuts.into_iter().collect();
                let mut role_rows: Vec<PortRow> = Vec::new();
                for w in cuts.windows(2) {
                    let (lo, hi) = (w[0], w[1] - 1);
                    if !ranges.contains(lo) {
                        continue;
                    }
                    let has = |p: &PortSet| {
                        p.numbers
                            .get(proto)
                            .map(|r| r.contains(lo))
                            .unwrap_or(false)
                    };
                    let allowed_by: Vec<usize> = rules
                        .iter()
                        .filter(|r| r.action == Action::Allow && has(&r.ports))
                        .map(|r| r.id)
                        .collect();
                    let denied_by: Vec<usize> = rules
                        .iter()
                        .filter(|r| r.action == Action::Deny && has(&r.ports))
                        .map(|r| r.id)
                        .collect();
                    let components: Vec<String> = self
                        .components
                        .values()
                        .filter(|c| {
                            c.ports
                                .numbers
                                .get(proto)
                                .map(|r| RangeSet::range(lo, hi).is_subset(r))
                                .unwrap_or(false)
                        })
                        .map(|c| c.name.clone())
                        .collect();
                    let mut open = IpSet::empty();
                    for id in &allowed_by {
                        open = open.union(&self.rules[*id].sources);
                    }
                    for id in &denied_by {
                        open = open.minus(&self.rules[*id].sources);
                    }
                    // ports are u16 by construction (RangeSets of ports hold 1..=65535)
                    let (lo16, hi16) = (
                        u16::try_from(lo).unwrap_or(u16::MAX),
                        u16::try_from(hi).unwrap_or(u16::MAX),
                    );
                    if let Some(last) = role_rows.last_mut() {
                        if u128::from(last.hi) + 1 == lo
                            && last.components == components
                            && last.allowed_by == allowed_by
                            && last.denied_by == denied_by
                        {
                            last.hi = hi16;
                            continue;
                        }
                    }
                    role_rows.push(PortRow {
                        role: role.name.clone(),
                        protocol: *proto,
                        lo: lo16,
                        hi: hi16,
                        components,
                        open,
                        allowed_by,
                        denied_by,
                    });
                }
                out.extend(role_rows);
            }
        }
        out.sort_by(|a, b| {
            (&a.role, a.lo, a.hi, a.protocol).cmp(&(&b.role, b.lo, b.hi, b.protocol))
        });
        out
    }

    /// Every `@silence` written in the nodes blocks: (code, location, what
    /// it is on), in source order, then by code.
    pub fn silences(&self) -> Vec<(String, String, String)> {
        let mut out: Vec<(Span, String, String, String)> = Vec::new();
        for r in &self.rules {
            let what = format!(
                "{} {} -> {}",
                if r.action == Action::Allow {
                    "allow"
                } else {
                    "deny"
                },
                r.source_text.join(" | "),
                r.roles.iter().cloned().collect::<Vec<_>>().join(" | ")
            );
            out.extend(
                r.silence
                    .iter()
                    .map(|s| (r.span, s.code.clone(), r.location.clone(), what.clone())),
            );
        }
        for role in self.roles.values() {
            out.extend(role.silence.iter().map(|s| {
                (
                    role.span,
                    s.code.clone(),
                    role.location.clone(),
                    format!("role {}", role.name),
                )
            }));
        }
        for b in &self.block_silences {
            out.extend(b.silence.iter().map(|s| {
                (
                    b.span,
                    s.code.clone(),
                    b.location.clone(),
                    "nodes block".to_string(),
                )
            }));
        }
        out.sort_by(|a, b| (a.0.file, a.0.start, &a.1).cmp(&(b.0.file, b.0.start, &b.1)));
        out.dedup();
        out.into_iter().map(|(_, c, l, w)| (c, l, w)).collect()
    }
}

/// Drops warnings and notes silenced with `@silence(CODE)` on the node
/// statement (role, rule or `nodes` block) their primary span lies in.
pub fn apply_silences(fw: &FirewallSpec, diags: &mut Vec<Diagnostic>) {
    diags.retain(|d| {
        if d.is_error() {
            return true;
        }
        let Some(at) = d.primary else { return true };
        let inside =
            |outer: Span| outer.file == at.file && outer.start <= at.start && at.end <= outer.end;
        let silenced = |list: &[Silenced]| list.iter().any(|s| s.code == d.code);
        let by_rule = fw
            .rules
            .iter()
            .any(|r| inside(r.span) && silenced(&r.silence));
        let by_role = fw
            .roles
            .values()
            .any(|r| inside(r.span) && silenced(&r.silence));
        let by_block = fw
            .block_silences
            .iter()
            .any(|b| inside(b.span) && silenced(&b.silence));
        !(by_rule || by_role || by_block)
    });
}

/// The fewest CIDR blocks that cover exactly the addresses of one family
/// (`v6` selects IPv6), in address order.
pub fn cidrs(set: &RangeSet, v6: bool) -> Vec<ipnet::IpNet> {
    let width: u32 = if v6 { 128 } else { 32 };
    let mut out = Vec::new();
    for &(lo, hi) in set.ranges() {
        let mut cur = lo;
        loop {
            // the largest aligned block starting at `cur` that ends within `hi`
            let align = if cur == 0 {
                width
            } else {
                cur.trailing_zeros().min(width)
            };
            let mut bits = align;
            while bits > 0 {
                let size_minus_one = if bits >= 128 {
                    u128::MAX
                } else {
                    (1u128 << bits) - 1
                };
                if cur
                    .checked_add(size_minus_one)
                    .map(|end| end <= hi)
                    .unwrap_or(false)
                {
                    break;
                }
                bits -= 1;
            }
            let prefix = (width - bits) as u8;
            let net = if v6 {
                ipnet::Ipv6Net::new(std::net::Ipv6Addr::from(cur), prefix)
                    .ok()
                    .map(ipnet::IpNet::V6)
            } else {
                u32::try_from(cur)
                    .ok()
                    .and_then(|c| ipnet::Ipv4Net::new(std::net::Ipv4Addr::from(c), prefix).ok())
                    .map(ipnet::IpNet::V4)
            };
            if let Some(n) = net {
                out.push(n);
            }
            let size_minus_one = if bits >= 128 {
                u128::MAX
            } else {
                (1u128 << bits) - 1
            };
            match cur.checked_add(size_minus_one) {
                Some(end) if end < hi => cur = end + 1,
                _ => break,
            }
        }
    }
    out
}

/// Every CIDR of a set, IPv4 first.
pub fn all_cidrs(set: &IpSet) -> Vec<ipnet::IpNet> {
    let mut v = cidrs(&set.v4, false);
    v.extend(cidrs(&set.v6, true));
    v
}

/// A set of addresses as a person writes it in a source: `world`; its
/// CIDR blocks when there are at most four; else its blocks with their
/// exceptions; `nobody` when empty. Blocks are joined with `|` and several
/// exceptions grouped, as peers are (`10.0.1.8/29 except (10.0.1.8/31 |
/// 10.0.1.15/32) | ::/0`), so the text reads as one peer and could be
/// pasted into a rule.
pub fn describe_set(set: &IpSet) -> String {
    if set.is_world() {
        return "world".to_string();
    }
    if set.is_empty() {
        return "nobody".to_string();
    }
    let plain = all_cidrs(set);
    if plain.len() <= 4 {
        return plain
            .iter()
            .map(|n| n.to_string())
            .collect::<Vec<_>>()
            .join(" | ");
    }
    set.ip_blocks()
        .iter()
        .map(|b| match b.except.as_slice() {
            [] => b.cidr.to_string(),
            [one] => format!("{} except {one}", b.cidr),
            several => format!(
                "{} except ({})",
                b.cidr,
                several
                    .iter()
                    .map(|e| e.to_string())
                    .collect::<Vec<_>>()
                    .join(" | ")
            ),
        })
        .collect::<Vec<_>>()
        .join(" | ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use ipnet::IpNet;

    fn set(nets: &[&str]) -> IpSet {
        nets.iter().fold(IpSet::empty(), |acc, n| {
            acc.union(&IpSet::from_net(&n.parse::<IpNet>().unwrap()))
        })
    }

    #[test]
    fn cidrs_are_minimal_and_exact() {
        let s = set(&["10.0.0.0/24", "10.0.1.0/24"]);
        assert_eq!(
            all_cidrs(&s)
                .iter()
                .map(|n| n.to_string())
                .collect::<Vec<_>>(),
            ["10.0.0.0/23"]
        );
        let w = IpSet::world();
        assert_eq!(
            all_cidrs(&w)
                .iter()
                .map(|n| n.to_string())
                .collect::<Vec<_>>(),
            ["0.0.0.0/0", "::/0"]
        );
        let holes = IpSet::world().minus(&set(&["10.9.0.0/16"]));
        let back = all_cidrs(&holes)
            .iter()
            .fold(IpSet::empty(), |a, n| a.union(&IpSet::from_net(n)));
        assert_eq!(back, holes);
        assert_eq!(all_cidrs(&holes).len(), 16 + 1);
        let odd = IpSet {
            v4: RangeSet::range(3, 9),
            v6: RangeSet::empty(),
        };
        let parts: Vec<String> = all_cidrs(&odd).iter().map(|n| n.to_string()).collect();
        assert_eq!(parts, ["0.0.0.3/32", "0.0.0.4/30", "0.0.0.8/31"]);
    }

    #[test]
    fn describes_sets() {
        assert_eq!(describe_set(&IpSet::world()), "world");
        assert_eq!(describe_set(&IpSet::empty()), "nobody");
        assert_eq!(
            describe_set(&IpSet::world().minus(&set(&["10.9.0.0/16"]))),
            "0.0.0.0/0 except 10.9.0.0/16 | ::/0"
        );
        assert_eq!(
            describe_set(&set(&["10.0.1.0/24"]).minus(&set(&["10.0.1.8/31", "10.0.1.15/32"]))),
            "10.0.1.0/24 except (10.0.1.8/31 | 10.0.1.15/32)"
        );
        assert_eq!(
            describe_set(&set(&["10.0.0.0/24", "192.168.1.0/24", "2001:db8::/64"])),
            "10.0.0.0/24 | 192.168.1.0/24 | 2001:db8::/64"
        );
    }

    /// What `describe_set` writes reads back as the same set of addresses.
    #[test]
    fn described_sets_parse_back_as_one_peer() {
        let sets = [
            set(&["10.0.1.8/29"]).minus(&set(&["10.0.1.8/31", "10.0.1.15/32"])),
            set(&["10.0.1.0/24"]).minus(&set(&["10.0.1.8/31", "10.0.1.15/32"])),
            IpSet::world().minus(&set(&["10.9.0.0/16", "2001:db8::/32"])),
            set(&["10.0.0.0/24", "192.168.1.0/24", "2001:db8::/64"]),
            set(&["10.0.0.0/8", "172.16.0.0/12"]).minus(&set(&[
                "10.1.0.0/16",
                "172.16.5.0/24",
                "10.2.0.0/16",
            ])),
        ];
        for s in sets {
            let text = describe_set(&s);
            let program = format!("namespace a {{ allow egress {text} }}\n");
            let c = crate::driver::compile_inputs(&[crate::driver::Input {
                name: "a.npl".into(),
                text: program.clone(),
            }]);
            assert!(!c.has_errors(), "{program}: {:?}", c.diagnostics);
            let prog = c.program.unwrap();
            let got = prog.statements[0]
                .dst
                .iter()
                .fold(IpSet::empty(), |acc, t| match &t.set {
                    crate::ir::PeerSet::External(x) => acc.union(x),
                    _ => acc,
                });
            assert_eq!(got, s, "{text}");
        }
    }

    fn spec() -> FirewallSpec {
        let mut fw = FirewallSpec::default();
        let comp = |name: &str, ports: PortSet, on: &[&str]| Component {
            name: name.into(),
            ports,
            note: String::new(),
            on: on.iter().map(|s| s.to_string()).collect(),
            management: false,
            location: String::new(),
            span: Span::default(),
        };
        fw.components.insert(
            "nodeport".into(),
            comp(
                "nodeport",
                PortSet::range(Protocol::Tcp, 30000, 32767),
                &["worker"],
            ),
        );
        fw.components.insert(
            "dashboard".into(),
            comp(
                "dashboard",
                PortSet::range(Protocol::Tcp, 30000, 30000),
                &["worker"],
            ),
        );
        fw.components.insert(
            "kubelet-readonly".into(),
            comp(
                "kubelet-readonly",
                PortSet::range(Protocol::Tcp, 10255, 10255),
                &["worker"],
            ),
        );
        fw.roles.insert(
            "worker".into(),
            Role {
                name: "worker".into(),
                addresses: set(&["10.0.1.0/24"]),
                runs: ["nodeport", "dashboard", "kubelet-readonly"]
                    .iter()
                    .map(|s| s.to_string())
                    .collect(),
                runs_written: false,
                span: Span::default(),
                name_span: Span::default(),
                location: String::new(),
                silence: vec![],
            },
        );
        let rule = |id: usize, action: Action, src: IpSet, ports: PortSet| NodeRule {
            id,
            action,
            sources: src,
            source_text: vec![],
            roles: ["worker".to_string()].into_iter().collect(),
            ports,
            components: BTreeSet::new(),
            named: vec![],
            silence: vec![],
            span: Span::default(),
            location: String::new(),
        };
        fw.rules.push(rule(
            0,
            Action::Allow,
            IpSet::world(),
            PortSet::range(Protocol::Tcp, 30000, 32767),
        ));
        fw.rules.push(rule(
            1,
            Action::Deny,
            set(&["10.9.0.0/16"]),
            PortSet::range(Protocol::Tcp, 30000, 32767),
        ));
        fw.rules.push(rule(
            2,
            Action::Allow,
            set(&["192.168.0.0/16"]),
            PortSet::range(Protocol::Tcp, 30080, 30080),
        ));
        fw
    }

    use proptest::prelude::*;

    proptest! {
        /// CIDR blocks cover exactly the set, without overlap, in order.
        #[test]
        fn cidrs_cover_exactly(ranges in prop::collection::vec((any::<u32>(), 0u32..5000), 1..5), shift in 0u32..96) {
            let v4 = ranges.iter().fold(RangeSet::empty(), |acc, (lo, len)| {
                let hi = lo.saturating_add(*len);
                acc.union(&RangeSet::range((*lo).into(), hi.into()))
            });
            let v6 = ranges.iter().fold(RangeSet::empty(), |acc, (lo, len)| {
                let lo = u128::from(*lo) << shift;
                acc.union(&RangeSet::range(lo, lo + u128::from(*len)))
            });
            for (set, is_v6) in [(v4, false), (v6, true)] {
                let nets = cidrs(&set, is_v6);
                let back = nets.iter().fold(IpSet::empty(), |a, n| a.union(&IpSet::from_net(n)));
                let fam = if is_v6 { back.v6.clone() } else { back.v4.clone() };
                prop_assert_eq!(&fam, &set);
                let total: u128 = nets.iter().map(|n| 1u128 << (u32::from(n.max_prefix_len() - n.prefix_len()))).sum();
                let size: u128 = set.ranges().iter().map(|(lo, hi)| hi - lo + 1).sum();
                prop_assert_eq!(total, size, "no overlap");
            }
        }

        /// Every (source, protocol, port) is open exactly when some allow and
        /// no deny holds it, and closed (or unmanaged) otherwise; rows never
        /// overlap.
        #[test]
        fn rows_are_exact(
            rules in prop::collection::vec((any::<bool>(), 0u8..4, 0u8..3, any::<bool>(), 1u16..40, 0u16..10), 1..7),
            probe in (0u8..4, 0u8..255, any::<bool>(), 1u16..55),
        ) {
            let mut fw = FirewallSpec::default();
            fw.roles.insert("r".into(), Role {
                name: "r".into(), addresses: IpSet::empty(), runs: BTreeSet::new(), runs_written: false,
                span: Span::default(), name_span: Span::default(), location: String::new(), silence: vec![],
            });
            for (i, (allow, third, len, udp, lo, extra)) in rules.iter().enumerate() {
                let net: IpNet = format!("10.0.{}.0/{}", third, 22 + len * 2).parse::<IpNet>().unwrap().trunc();
                let proto = if *udp { Protocol::Udp } else { Protocol::Tcp };
                fw.rules.push(NodeRule {
                    id: i,
                    action: if *allow { Action::Allow } else { Action::Deny },
                    sources: IpSet::from_net(&net),
                    source_text: vec![],
                    roles: ["r".to_string()].into_iter().collect(),
                    ports: PortSet::range(proto, *lo, lo + extra),
                    components: BTreeSet::new(),
                    named: vec![],
                    silence: vec![],
                    span: Span::default(),
                    location: String::new(),
                });
            }
            let (third, host, udp, port) = probe;
            let ip: std::net::IpAddr = format!("10.0.{third}.{host}").parse().unwrap();
            let proto = if udp { Protocol::Udp } else { Protocol::Tcp };
            let none = |_: Protocol, _: &str| None;
            let holds = |r: &NodeRule| r.ports.contains(proto, port, &none) && r.sources.contains(&ip);
            let expected_open = fw.rules.iter().any(|r| r.action == Action::Allow && holds(r))
                && !fw.rules.iter().any(|r| r.action == Action::Deny && holds(r));
            let managed = fw.rules.iter().any(|r| r.ports.contains(proto, port, &none));
            let rows = fw.rows();
            let hits: Vec<&PortRow> = rows.iter().filter(|r| r.protocol == proto && r.lo <= port && port <= r.hi).collect();
            prop_assert!(hits.len() <= 1, "rows overlap");
            prop_assert_eq!(hits.len() == 1, managed);
            let open = hits.first().map(|r| r.open.contains(&ip)).unwrap_or(false);
            prop_assert_eq!(open, expected_open);
            prop_assert_eq!(fw.managed("r").contains(proto, port, &none), managed);
        }
    }

    #[test]
    fn rows_split_where_components_or_rules_change_and_deny_wins() {
        let fw = spec();
        let rows = fw.rows();
        let shown: Vec<(String, bool, Vec<usize>)> = rows
            .iter()
            .map(|r| (r.ports_text(), r.is_open(), r.allowed_by.clone()))
            .collect();
        assert_eq!(
            shown,
            [
                ("10255".to_string(), false, vec![]),
                ("30000".to_string(), true, vec![0]),
                ("30001-30079".to_string(), true, vec![0]),
                ("30080".to_string(), true, vec![0, 2]),
                ("30081-32767".to_string(), true, vec![0]),
            ]
        );
        assert_eq!(rows[1].components, ["dashboard", "nodeport"]);
        let ip: std::net::IpAddr = "10.9.1.1".parse().unwrap();
        assert!(
            rows.iter().all(|r| !r.open.contains(&ip)),
            "deny wins over every allow"
        );
        assert!(rows[3].open.contains(&"192.168.1.1".parse().unwrap()));
    }
}
