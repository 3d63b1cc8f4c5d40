//! The node firewall's difference. Input: the [`FirewallSpec`]s of OLD and
//! NEW (either may have none). Output: [`FirewallChange`]s: per role,
//! protocol and port range, the sources that may now reach it and could
//! not before (`added`), and the reverse (`removed`), with the node rules
//! (`file:line`) that name those ports on that role in each.
//!
//! On a role, a port is open to a source when the firewall leaves it alone
//! (no component the role runs uses it and no rule names it: the ruleset
//! does not filter it, docs/firewall.md) or when the port table opens it to
//! that source. Sorted by role, protocol, first port, change (added first).

use crate::firewall::{describe_set, FirewallSpec, PortRow};
use crate::ir::IpSet;
use crate::net::Protocol;
use serde::Serialize;
use std::collections::BTreeSet;

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct FirewallChange {
    /// `added` (NEW opens, OLD does not) or `removed`.
    pub change: &'static str,
    pub role: String,
    pub protocol: &'static str,
    /// `22` or `30000-32767`.
    pub ports: String,
    /// The sources, as a person writes addresses (`10.0.0.0/8 | world`).
    pub sources: String,
    /// The rules of OLD and of NEW on those ports of that role (`file:line`).
    pub old: Vec<String>,
    pub new: Vec<String>,
}

/// What a role opens on one port: the sources and the rules.
#[derive(Clone, PartialEq, Eq)]
struct Open {
    sources: IpSet,
    rules: Vec<String>,
}

/// A run of ports with the same change: (first, last, added sources,
/// removed sources, OLD's rules, NEW's rules).
type Run = (u16, u16, IpSet, IpSet, Vec<String>, Vec<String>);

/// The rows of one role and protocol, as (lo, hi, open).
fn segments(fw: Option<&FirewallSpec>, role: &str, proto: Protocol) -> Vec<(u16, u16, Open)> {
    let Some(fw) = fw else { return Vec::new() };
    let rows: Vec<PortRow> = fw.rows();
    rows.into_iter()
        .filter(|r| r.role == role && r.protocol == proto)
        .map(|r| {
            let mut rules: Vec<String> = r
                .allowed_by
                .iter()
                .chain(&r.denied_by)
                .filter_map(|&i| fw.rules.get(i).map(|x| x.location.clone()))
                .collect();
            rules.sort();
            rules.dedup();
            (
                r.lo,
                r.hi,
                Open {
                    sources: r.open,
                    rules,
                },
            )
        })
        .collect()
}

fn at(segs: &[(u16, u16, Open)], port: u16) -> Open {
    segs.iter()
        .find(|(lo, hi, _)| *lo <= port && port <= *hi)
        .map(|s| s.2.clone())
        .unwrap_or(Open {
            sources: IpSet::world(),
            rules: Vec::new(),
        })
}

/// The difference of two firewalls.
pub fn diff(old: Option<&FirewallSpec>, new: Option<&FirewallSpec>) -> Vec<FirewallChange> {
    let roles: BTreeSet<&String> = old
        .iter()
        .chain(new.iter())
        .flat_map(|f| f.roles.keys())
        .collect();
    let mut out = Vec::new();
    for role in roles {
        for proto in Protocol::ALL {
            let (so, sn) = (segments(old, role, proto), segments(new, role, proto));
            let mut cuts: BTreeSet<u32> = BTreeSet::new();
            for (lo, hi, _) in so.iter().chain(&sn) {
                cuts.insert(u32::from(*lo));
                cuts.insert(u32::from(*hi) + 1);
            }
            let cuts: Vec<u32> = cuts.into_iter().collect();
            // (lo, hi, added, removed, old rules, new rules), merged when equal
            let mut runs: Vec<Run> = Vec::new();
            for w in cuts.windows(2) {
                let (Ok(lo), Ok(hi)) = (u16::try_from(w[0]), u16::try_from(w[1] - 1)) else {
                    continue;
                };
                let (o, n) = (at(&so, lo), at(&sn, lo));
                let added = n.sources.minus(&o.sources);
                let removed = o.sources.minus(&n.sources);
                if added.is_empty() && removed.is_empty() {
                    continue;
                }
                if let Some(last) = runs.last_mut() {
                    if u32::from(last.1) + 1 == u32::from(lo)
                        && last.2 == added
                        && last.3 == removed
                        && last.4 == o.rules
                        && last.5 == n.rules
                    {
                        last.1 = hi;
                        continue;
                    }
                }
                runs.push((lo, hi, added, removed, o.rules, n.rules));
            }
            for (lo, hi, added, removed, orules, nrules) in runs {
                let ports = if lo == hi {
                    lo.to_string()
                } else {
                    format!("{lo}-{hi}")
                };
                for (change, set) in [("added", added), ("removed", removed)] {
                    if set.is_empty() {
                        continue;
                    }
                    out.push(FirewallChange {
                        change,
                        role: role.clone(),
                        protocol: proto.npl_name(),
                        ports: ports.clone(),
                        sources: describe_set(&set),
                        old: orules.clone(),
                        new: nrules.clone(),
                    });
                }
            }
        }
    }
    out
}
