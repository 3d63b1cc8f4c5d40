//! Firewall emission. Input: a checked [`FirewallSpec`]. Output: the files
//! `nplc build` writes under `DIR/firewall/`: `ports.txt` (an aligned table a
//! person reads), `ports.json` (schema `nplc.io/firewall-ports/v1`, see
//! docs/firewall.md), `ports.csv`, and `<role>.nft`, one nftables ruleset per
//! role. Every output lists ports in the order of [`FirewallSpec::rows`]
//! (role, first port, last port, protocol) and is a pure function of the
//! spec.

use super::{all_cidrs, cidrs, describe_set, FirewallSpec, PortRow};
use crate::emit::files::File;
use crate::ir::{IpSet, PortSet};
use crate::net::Protocol;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Version tag of `ports.json`.
pub const JSON_SCHEMA: &str = "nplc.io/firewall-ports/v1";

/// Every firewall file, relative to the output directory, sorted by path.
pub fn files(fw: &FirewallSpec) -> Vec<File> {
    let mut out = vec![
        File {
            path: "firewall/ports.csv".into(),
            contents: csv(fw),
        },
        File {
            path: "firewall/ports.json".into(),
            contents: json(fw),
        },
        File {
            path: "firewall/ports.txt".into(),
            contents: txt(fw),
        },
    ];
    for role in fw.roles.keys() {
        out.push(File {
            path: format!("firewall/{role}.nft"),
            contents: nft(fw, role),
        });
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out
}

/// The nftables table of a role.
pub fn table_name(role: &str) -> String {
    format!("nplc_{role}")
}

fn locations(fw: &FirewallSpec, ids: &[usize]) -> Vec<String> {
    ids.iter()
        .filter_map(|i| fw.rules.get(*i))
        .map(|r| r.location.clone())
        .collect()
}

/// The directory shared by every file with `nodes` blocks (`examples/cluster/`),
/// which `ports.txt` and the rulesets leave out of locations.
fn common_dir(fw: &FirewallSpec) -> String {
    let dirs: Vec<&str> = fw
        .files
        .iter()
        .map(|f| f.rfind('/').map(|i| &f[..=i]).unwrap_or(""))
        .collect();
    match dirs.first() {
        Some(d) if dirs.iter().all(|x| x == d) => d.to_string(),
        _ => String::new(),
    }
}

fn short(dir: &str, locs: Vec<String>) -> Vec<String> {
    locs.into_iter()
        .map(|l| l.strip_prefix(dir).map(str::to_string).unwrap_or(l))
        .collect()
}

/// The sources of a row as written: the allows' sources, then the denies'.
fn written(fw: &FirewallSpec, row: &PortRow) -> String {
    let texts = |ids: &[usize]| {
        let mut v: Vec<String> = Vec::new();
        for r in ids.iter().filter_map(|i| fw.rules.get(*i)) {
            for t in &r.source_text {
                if !v.contains(t) {
                    v.push(t.clone());
                }
            }
        }
        v.join(" | ")
    };
    let a = texts(&row.allowed_by);
    let d = texts(&row.denied_by);
    match (a.is_empty(), d.is_empty()) {
        (true, true) => String::new(),
        (false, true) => a,
        (true, false) => format!("(deny: {d})"),
        (false, false) => format!("{a} (deny: {d})"),
    }
}

/// Why a closed row is closed.
fn why_closed(fw: &FirewallSpec, row: &PortRow, dir: &str) -> String {
    let runs = fw
        .roles
        .get(&row.role)
        .map(|r| row.components.iter().any(|c| r.runs(c)))
        .unwrap_or(false);
    let at = |ids: &[usize]| short(dir, locations(fw, ids)).join(", ");
    match (row.allowed_by.is_empty(), row.denied_by.is_empty()) {
        (true, true) if runs => "runs here; no rule allows it".to_string(),
        (true, true) => "no rule allows it".to_string(),
        (true, false) => format!("denied at {}", at(&row.denied_by)),
        (false, _) => format!(
            "allowed at {}, denied at {}",
            at(&row.allowed_by),
            at(&row.denied_by)
        ),
    }
}

fn or_dash(v: &[String]) -> String {
    if v.is_empty() {
        "-".to_string()
    } else {
        v.join(", ")
    }
}

/// An aligned table: columns separated by two spaces, no trailing blanks.
fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            widths[i] = widths[i].max(c.chars().count());
        }
    }
    let mut out = String::new();
    let line = |cells: Vec<String>, out: &mut String| {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                s.push_str(c);
            } else {
                let pad = widths[i] - c.chars().count();
                s.push_str(c);
                s.push_str(&" ".repeat(pad + 2));
            }
        }
        out.push_str(s.trim_end());
        out.push('\n');
    };
    line(header.iter().map(|h| h.to_string()).collect(), &mut out);
    for r in rows {
        line(r.clone(), &mut out);
    }
    out
}

/// `ports.txt`: roles, what they run, open ports, closed ports, silenced
/// lints. Locations are relative to the directory of the sources.
pub fn txt(fw: &FirewallSpec) -> String {
    let rows = fw.rows();
    let dir = common_dir(fw);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# Node firewall port list, generated by nplc from {}.",
        fw.files.join(", ")
    );
    out.push_str("# Do not edit: change the sources and build again. See docs/firewall.md.\n");
    out.push_str("#\n");
    out.push_str("# A port listed here is managed on its role: it is open to SOURCES and\n");
    out.push_str("# closed to every other address. Ports not listed are left as they are.\n");
    if !dir.is_empty() {
        let _ = writeln!(out, "# Locations are relative to {dir}.");
    }

    out.push_str("\nROLES\n");
    let role_rows: Vec<Vec<String>> = fw
        .roles
        .values()
        .map(|r| {
            vec![
                r.name.clone(),
                if r.addresses.is_empty() {
                    "-".to_string()
                } else {
                    describe_set(&r.addresses)
                },
                short(&dir, vec![r.location.clone()]).join(""),
            ]
        })
        .collect();
    out.push_str(&table(&["ROLE", "ADDRESSES", "DECLARED"], &role_rows));

    out.push_str("\nRUNS (by default, or as written with `runs`)\n");
    for r in fw.roles.values() {
        let runs: Vec<String> = r.runs.iter().cloned().collect();
        let _ = writeln!(
            out,
            "{}{}: {}",
            r.name,
            if r.runs_written { " (written)" } else { "" },
            or_dash(&runs)
        );
    }

    out.push_str("\nOPEN\n");
    let open: Vec<Vec<String>> = rows
        .iter()
        .filter(|r| r.is_open())
        .map(|r| {
            let mut at = locations(fw, &r.allowed_by);
            at.extend(locations(fw, &r.denied_by));
            let w = written(fw, r);
            vec![
                r.role.clone(),
                r.ports_text(),
                r.protocol.npl_name().to_string(),
                or_dash(&r.components),
                describe_set(&r.open),
                if w.is_empty() { "-".into() } else { w },
                or_dash(&short(&dir, at)),
                or_dash(&silences_text(fw, r, &dir)),
            ]
        })
        .collect();
    if open.is_empty() {
        out.push_str("(none)\n");
    } else {
        out.push_str(&table(
            &[
                "ROLE",
                "PORTS",
                "PROTO",
                "COMPONENT",
                "SOURCES",
                "WRITTEN",
                "RULES",
                "SILENCED",
            ],
            &open,
        ));
    }

    out.push_str("\nCLOSED (open to nobody)\n");
    let closed: Vec<Vec<String>> = rows
        .iter()
        .filter(|r| !r.is_open())
        .map(|r| {
            vec![
                r.role.clone(),
                r.ports_text(),
                r.protocol.npl_name().to_string(),
                or_dash(&r.components),
                why_closed(fw, r, &dir),
                or_dash(&silences_text(fw, r, &dir)),
            ]
        })
        .collect();
    if closed.is_empty() {
        out.push_str("(none)\n");
    } else {
        out.push_str(&table(
            &["ROLE", "PORTS", "PROTO", "COMPONENT", "WHY", "SILENCED"],
            &closed,
        ));
    }

    out.push_str("\nSILENCED (@silence in nodes blocks)\n");
    let sil: Vec<Vec<String>> = fw
        .silences()
        .into_iter()
        .map(|(c, at, on)| {
            vec![
                c,
                if at.is_empty() {
                    "-".into()
                } else {
                    short(&dir, vec![at]).join("")
                },
                on,
            ]
        })
        .collect();
    if sil.is_empty() {
        out.push_str("(none)\n");
    } else {
        out.push_str(&table(&["CODE", "WHERE", "ON"], &sil));
    }
    out
}

#[derive(Serialize)]
struct JsonDoc {
    schema: &'static str,
    generated_from: Vec<String>,
    roles: Vec<JsonRole>,
    ports: Vec<JsonPort>,
    components: Vec<JsonComponent>,
    silenced: Vec<JsonSilenceDecl>,
}

#[derive(Serialize)]
struct JsonSilenceDecl {
    code: String,
    at: String,
    on: String,
}

#[derive(Serialize)]
struct JsonRole {
    name: String,
    addresses: Vec<String>,
    runs: Vec<String>,
    runs_written: bool,
    declared_at: String,
    ruleset: String,
    table: String,
}

#[derive(Serialize)]
struct JsonPort {
    role: String,
    state: &'static str,
    protocol: &'static str,
    from_port: u16,
    to_port: u16,
    components: Vec<String>,
    sources: Vec<String>,
    written: String,
    allowed_by: Vec<String>,
    denied_by: Vec<String>,
    silenced: Vec<JsonSilence>,
}

#[derive(Serialize)]
struct JsonRange {
    protocol: &'static str,
    from_port: u16,
    to_port: u16,
}

#[derive(Serialize)]
struct JsonComponent {
    name: String,
    ports: Vec<JsonRange>,
    note: String,
    default_roles: Vec<String>,
    management: bool,
    declared_at: String,
}

#[derive(Serialize)]
struct JsonSilence {
    code: String,
    at: String,
}

fn ranges(p: &PortSet) -> Vec<JsonRange> {
    let mut v = Vec::new();
    for (proto, r) in &p.numbers {
        for &(lo, hi) in r.ranges() {
            v.push(JsonRange {
                protocol: proto.npl_name(),
                from_port: u16::try_from(lo).unwrap_or(u16::MAX),
                to_port: u16::try_from(hi).unwrap_or(u16::MAX),
            });
        }
    }
    v
}

fn row_silences(fw: &FirewallSpec, row: &PortRow) -> Vec<JsonSilence> {
    let mut v: Vec<JsonSilence> = Vec::new();
    for r in row
        .allowed_by
        .iter()
        .chain(row.denied_by.iter())
        .filter_map(|i| fw.rules.get(*i))
    {
        for s in &r.silence {
            v.push(JsonSilence {
                code: s.code.clone(),
                at: r.location.clone(),
            });
        }
    }
    v.sort_by(|a, b| (&a.code, &a.at).cmp(&(&b.code, &b.at)));
    v.dedup_by(|a, b| a.code == b.code && a.at == b.at);
    v
}

/// `W0701 at nodes.npl:38` for each lint silenced on the rules behind a row.
fn silences_text(fw: &FirewallSpec, row: &PortRow, dir: &str) -> Vec<String> {
    row_silences(fw, row)
        .into_iter()
        .map(|s| format!("{} at {}", s.code, short(dir, vec![s.at]).join("")))
        .collect()
}

/// `ports.json`.
pub fn json(fw: &FirewallSpec) -> String {
    let rows = fw.rows();
    let doc = JsonDoc {
        schema: JSON_SCHEMA,
        generated_from: fw.files.clone(),
        roles: fw
            .roles
            .values()
            .map(|r| JsonRole {
                name: r.name.clone(),
                addresses: all_cidrs(&r.addresses)
                    .iter()
                    .map(|n| n.to_string())
                    .collect(),
                runs: r.runs.iter().cloned().collect(),
                runs_written: r.runs_written,
                declared_at: r.location.clone(),
                ruleset: format!("firewall/{}.nft", r.name),
                table: table_name(&r.name),
            })
            .collect(),
        ports: rows
            .iter()
            .map(|r| JsonPort {
                role: r.role.clone(),
                state: if r.is_open() { "open" } else { "closed" },
                protocol: r.protocol.npl_name(),
                from_port: r.lo,
                to_port: r.hi,
                components: r.components.clone(),
                sources: all_cidrs(&r.open).iter().map(|n| n.to_string()).collect(),
                written: written(fw, r),
                allowed_by: locations(fw, &r.allowed_by),
                denied_by: locations(fw, &r.denied_by),
                silenced: row_silences(fw, r),
            })
            .collect(),
        components: fw
            .components
            .values()
            .map(|c| JsonComponent {
                name: c.name.clone(),
                ports: ranges(&c.ports),
                note: c.note.clone(),
                default_roles: c.on.iter().cloned().collect(),
                management: c.management,
                declared_at: c.location.clone(),
            })
            .collect(),
        silenced: fw
            .silences()
            .into_iter()
            .map(|(code, at, on)| JsonSilenceDecl { code, at, on })
            .collect(),
    };
    // INVARIANT: plain structs of strings, numbers and booleans always
    // serialize to JSON.
    #[allow(clippy::expect_used)]
    let mut s = serde_json::to_string_pretty(&doc).expect("the port table serializes"); // INVARIANT: see above
    s.push('\n');
    s
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// `ports.csv`: one line per row of the table; lists inside a field are
/// separated by spaces.
pub fn csv(fw: &FirewallSpec) -> String {
    let mut out = String::from("role,state,protocol,from_port,to_port,components,sources,written,allowed_by,denied_by,silenced\n");
    for r in fw.rows() {
        let sil: Vec<String> = row_silences(fw, &r)
            .into_iter()
            .map(|s| format!("{}@{}", s.code, s.at))
            .collect();
        let fields = [
            r.role.clone(),
            if r.is_open() { "open" } else { "closed" }.to_string(),
            r.protocol.npl_name().to_string(),
            r.lo.to_string(),
            r.hi.to_string(),
            r.components.join(" "),
            all_cidrs(&r.open)
                .iter()
                .map(|n| n.to_string())
                .collect::<Vec<_>>()
                .join(" "),
            written(fw, &r),
            locations(fw, &r.allowed_by).join(" "),
            locations(fw, &r.denied_by).join(" "),
            sil.join(" "),
        ];
        out.push_str(
            &fields
                .iter()
                .map(|f| csv_field(f))
                .collect::<Vec<_>>()
                .join(","),
        );
        out.push('\n');
    }
    out
}

/// `6443`, `2379-2380` or `{ 22, 6443 }` for nftables.
fn nft_ports(r: &crate::ir::ranges::RangeSet) -> String {
    let items: Vec<String> = r
        .ranges()
        .iter()
        .map(|&(lo, hi)| {
            if lo == hi {
                lo.to_string()
            } else {
                format!("{lo}-{hi}")
            }
        })
        .collect();
    if items.len() == 1 {
        items[0].clone()
    } else {
        format!("{{ {} }}", items.join(", "))
    }
}

fn proto_kw(p: Protocol) -> &'static str {
    p.npl_name()
}

/// A set name from what a row's sources are called where written.
fn set_base(fw: &FirewallSpec, row: &PortRow) -> String {
    let plain = |t: &str| {
        !t.is_empty()
            && t.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    };
    let mut names: Vec<String> = Vec::new();
    for r in row.allowed_by.iter().filter_map(|i| fw.rules.get(*i)) {
        for t in &r.source_text {
            if !plain(t) || t == "world" {
                return "sources".to_string();
            }
            if !names.contains(t) {
                names.push(t.clone());
            }
        }
    }
    let base = names.join("_");
    if base.is_empty() || base.len() > 40 || !row.denied_by.is_empty() {
        "sources".to_string()
    } else {
        base
    }
}

/// `<role>.nft`: an nftables ruleset for the nodes of one role.
pub fn nft(fw: &FirewallSpec, role_name: &str) -> String {
    let table = table_name(role_name);
    let rows: Vec<PortRow> = fw
        .rows()
        .into_iter()
        .filter(|r| r.role == role_name)
        .collect();
    let role = fw.roles.get(role_name);
    let mut out = String::new();
    out.push_str("#!/usr/sbin/nft -f\n");
    let _ = writeln!(
        out,
        "# nplc node firewall for role `{role_name}`, generated from {}.",
        fw.files.join(", ")
    );
    out.push_str("# Do not edit: change the sources and build again. See docs/firewall.md.\n");
    if let Some(r) = role {
        let _ = writeln!(
            out,
            "# Nodes: {}. Runs: {}.",
            if r.addresses.is_empty() {
                "-".to_string()
            } else {
                describe_set(&r.addresses)
            },
            or_dash(&r.runs.iter().cloned().collect::<Vec<_>>())
        );
    }
    let _ = writeln!(
        out,
        "# Load with `nft -f {role_name}.nft`: it replaces the table `inet {table}` and"
    );
    out.push_str("# nothing else. Only the ports listed below are managed: each is accepted\n");
    out.push_str("# from its sources and dropped from every other address. Other traffic is\n");
    out.push_str("# left to the rest of the node's firewall (policy accept).\n\n");
    let _ = writeln!(out, "table inet {table} {{}}");
    let _ = writeln!(out, "delete table inet {table}");
    let _ = writeln!(out, "table inet {table} {{");

    // named sets, one per distinct source set and family
    let mut names: BTreeMap<IpSet, String> = BTreeMap::new();
    let mut used: Vec<String> = Vec::new();
    let mut sets = String::new();
    for row in rows.iter().filter(|r| r.is_open()) {
        let needs = (!row.open.v4.is_empty() && !full_v4(&row.open))
            || (!row.open.v6.is_empty() && !full_v6(&row.open));
        if !needs || names.contains_key(&row.open) {
            continue;
        }
        let base = set_base(fw, row);
        let mut name = base.clone();
        let mut n = 2;
        while used.contains(&name) {
            name = format!("{base}_{n}");
            n += 1;
        }
        used.push(name.clone());
        let _ = writeln!(sets, "    # {}", describe_set(&row.open));
        for (v6, fam) in [(false, "v4"), (true, "v6")] {
            let part = if v6 { &row.open.v6 } else { &row.open.v4 };
            let full = if v6 {
                full_v6(&row.open)
            } else {
                full_v4(&row.open)
            };
            if part.is_empty() || full {
                continue;
            }
            let elems: Vec<String> = cidrs(part, v6).iter().map(|n| n.to_string()).collect();
            let _ = writeln!(sets, "    set {name}_{fam} {{");
            let _ = writeln!(
                sets,
                "        type {}_addr",
                if v6 { "ipv6" } else { "ipv4" }
            );
            sets.push_str("        flags interval\n");
            if elems.len() <= 4 {
                let _ = writeln!(sets, "        elements = {{ {} }}", elems.join(", "));
            } else {
                sets.push_str("        elements = {\n");
                for (i, e) in elems.iter().enumerate() {
                    let _ = writeln!(
                        sets,
                        "            {e}{}",
                        if i + 1 < elems.len() { "," } else { "" }
                    );
                }
                sets.push_str("        }\n");
            }
            sets.push_str("    }\n");
        }
        names.insert(row.open.clone(), name);
    }
    out.push_str(&sets);
    if !sets.is_empty() {
        out.push('\n');
    }

    out.push_str("    chain prerouting {\n");
    out.push_str(
        "        # before kube-proxy's DNAT (priority -100), so NodePorts are seen as sent\n",
    );
    out.push_str("        type filter hook prerouting priority -150; policy accept;\n");
    out.push_str(
        "        # only traffic to this node's own addresses; routed pod traffic passes\n",
    );
    out.push_str("        fib daddr type != local accept\n");
    out.push_str("        ct state established,related accept\n");
    out.push_str("        iif \"lo\" accept\n");
    let dir = common_dir(fw);
    for row in rows.iter().filter(|r| r.is_open()) {
        let mut at = locations(fw, &row.allowed_by);
        at.extend(locations(fw, &row.denied_by));
        let at = short(&dir, at);
        let _ = writeln!(
            out,
            "        # {} {} {}: {} ({})",
            proto_kw(row.protocol),
            row.ports_text(),
            or_dash(&row.components),
            written(fw, row),
            at.join(", ")
        );
        let dport = format!("{} dport {}", proto_kw(row.protocol), row.ports_text());
        let (f4, f6) = (full_v4(&row.open), full_v6(&row.open));
        if f4 && f6 {
            let _ = writeln!(out, "        {dport} accept");
            continue;
        }
        let name = names.get(&row.open).cloned().unwrap_or_default();
        if f4 {
            let _ = writeln!(out, "        meta nfproto ipv4 {dport} accept");
        } else if !row.open.v4.is_empty() {
            let _ = writeln!(out, "        ip saddr @{name}_v4 {dport} accept");
        }
        if f6 {
            let _ = writeln!(out, "        meta nfproto ipv6 {dport} accept");
        } else if !row.open.v6.is_empty() {
            let _ = writeln!(out, "        ip6 saddr @{name}_v6 {dport} accept");
        }
    }
    let managed = fw.managed(role_name);
    let closed: Vec<&PortRow> = rows.iter().filter(|r| !r.is_open()).collect();
    if !closed.is_empty() {
        out.push_str("        # closed to everyone:\n");
        for r in &closed {
            let _ = writeln!(
                out,
                "        #   {} {} {}",
                proto_kw(r.protocol),
                r.ports_text(),
                or_dash(&r.components)
            );
        }
    }
    if managed.numbers.is_empty() {
        out.push_str("        # this role manages no ports\n");
    } else {
        out.push_str("        # every managed port, for every other source\n");
        for (proto, r) in &managed.numbers {
            let _ = writeln!(
                out,
                "        {} dport {} drop",
                proto_kw(*proto),
                nft_ports(r)
            );
        }
    }
    out.push_str("    }\n");
    out.push_str("}\n");
    out
}

fn full_v4(s: &IpSet) -> bool {
    s.v4 == IpSet::world().v4
}

fn full_v6(s: &IpSet) -> bool {
    s.v6 == IpSet::world().v6
}
