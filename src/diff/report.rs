//! The difference in source terms, and its three renderings. Input: a
//! [`Diff`] (and the firewall's, and the pod pairs of a population), both
//! programs and their source maps. Output: a [`Report`]: changes grouped
//! per namespace and workload, each with its peer, ports and the statements
//! of OLD and NEW that decide it (`file:line` and the text), rendered as
//! text, as a Markdown pull-request comment, or as JSON (the schema is
//! docs/diff.md and tests/schemas/diff.schema.json).
//!
//! Grouping: a change belongs to its destination when that is pods of one
//! namespace (an *ingress* change of that workload), else to its source
//! when that is (an *egress* change), else to the group `*`. A group is a
//! namespace and a workload: the name of a `workload` declared with exactly
//! that selector (in NEW, else in OLD), else the selector. Sort keys:
//! groups by (namespace, workload); changes in a group by (added before
//! removed, direction, peer, ports).

use super::firewall::FirewallChange;
use super::{Changed, Diff, NameSet, Why};
use crate::ir::{KeyC, LabelSel, PeerSet, Program, ValSet, NAME_LABEL};
use crate::source::SourceMap;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// One side of the comparison: a program and its sources.
pub struct Side<'a> {
    pub prog: &'a Program,
    pub sources: &'a SourceMap,
    /// How the side was named on the command line (`old`, `main`, a path).
    pub label: String,
}

/// The whole report (the JSON document).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Report {
    /// The schema's version.
    pub version: u32,
    pub old: String,
    pub new: String,
    pub summary: Summary,
    pub groups: Vec<Group>,
    pub firewall: Vec<FirewallChange>,
    /// Pod pairs of the population whose ports change (with `--pods`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pods: Option<Vec<PodChange>>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq, Default)]
pub struct Summary {
    pub added: usize,
    pub removed: usize,
    pub firewall_added: usize,
    pub firewall_removed: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pod_pairs: Option<usize>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Group {
    /// The namespace, or `*` (a change between pods of several namespaces
    /// and addresses).
    pub namespace: String,
    /// The workload's name, or its selector.
    pub workload: String,
    pub changes: Vec<Change>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Change {
    /// `added` (NEW permits, OLD does not) or `removed`.
    pub change: &'static str,
    /// `ingress` (the peer connects to the workload) or `egress`.
    pub direction: &'static str,
    pub src: String,
    pub dst: String,
    /// The other end, as seen from the workload.
    pub peer: String,
    pub ports: String,
    pub old: Vec<Reason>,
    pub new: Vec<Reason>,
    /// A change by name (docs/diff.md, "DNS names"): the names, and the
    /// addresses they resolve to where the change holds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub by_name: Option<ByName>,
}

/// The names of a change by name, and where they resolve.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct ByName {
    /// `dns:api.example.com`, `dns:*.example.com except dns:a.example.com`.
    pub names: String,
    /// The addresses the names resolve to where the change holds: `world`
    /// (wherever they resolve) or the blocks (`10.0.0.0/8`).
    pub resolving_into: String,
}

impl ByName {
    fn new(names: &NameSet, dst: &PeerSet) -> ByName {
        let resolving_into = match dst {
            PeerSet::External(s) => crate::firewall::describe_set(s),
            PeerSet::Names(n) => n.text(),
            PeerSet::Pods { .. } => "world".to_string(),
        };
        ByName {
            names: names.text(),
            resolving_into,
        }
    }

    /// The peer as written in a report: the names, and where they resolve
    /// unless that is anywhere.
    fn text(&self) -> String {
        if self.resolving_into == "world" {
            self.names.clone()
        } else {
            format!("{} (resolving into {})", self.names, self.resolving_into)
        }
    }
}

/// A statement, posture or isolate that decides a change.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct Reason {
    /// `file:line`.
    pub at: String,
    /// Its text (the first line, shortened).
    pub text: String,
}

/// A pod pair of the population whose permitted ports change.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct PodChange {
    pub src: String,
    pub dst: String,
    /// Ports NEW permits and OLD does not (`none` if none).
    pub added: String,
    /// Ports OLD permits and NEW does not.
    pub removed: String,
}

impl Report {
    pub fn has_changes(&self) -> bool {
        self.summary.added
            + self.summary.removed
            + self.summary.firewall_added
            + self.summary.firewall_removed
            > 0
            || self.pods.as_ref().is_some_and(|p| !p.is_empty())
    }
}

/// The namespace a peer set is limited to, if one.
fn one_namespace(p: &PeerSet) -> Option<&str> {
    match p {
        PeerSet::Pods { namespaces, .. } => match namespaces.get(NAME_LABEL) {
            Some(KeyC {
                values: ValSet::Finite(v),
                ..
            }) if v.len() == 1 => v.first().map(String::as_str),
            _ => None,
        },
        PeerSet::External(_) | PeerSet::Names(_) => None,
    }
}

/// The name of a workload declared with exactly this selector in `ns`.
fn workload(sides: [&Side; 2], ns: &str, sel: &LabelSel) -> Option<String> {
    sides.iter().find_map(|s| {
        s.prog
            .namespaces
            .get(ns)
            .and_then(|n| n.workloads.get(sel))
            .cloned()
    })
}

/// A namespace selector without its `kubernetes.io/metadata.name exists`
/// (every namespace has it).
fn ns_rest(sel: &LabelSel) -> LabelSel {
    let mut out = LabelSel::any();
    for (k, c) in sel.0.iter() {
        if k == NAME_LABEL && *c == KeyC::exists() {
            continue;
        }
        out = out.with(k, c.clone());
    }
    out
}

/// A peer set as a person writes it: `shop/api` (a workload), `shop/app=x`,
/// `shop/*`, `cluster`, `{team=ops}/app=x`, `10.0.0.0/8`; pods of `home`
/// without the namespace.
pub fn peer_text(sides: [&Side; 2], p: &PeerSet, home: Option<&str>) -> String {
    match p {
        PeerSet::External(s) => crate::firewall::describe_set(s),
        PeerSet::Names(n) => n.text(),
        PeerSet::Pods { namespaces, pods } => {
            let ns = ns_rest(namespaces);
            let pod_text = |n: Option<&str>| {
                n.and_then(|n| workload(sides, n, pods))
                    .unwrap_or_else(|| pods.to_string())
            };
            match one_namespace(p) {
                Some(n) if ns.0.len() == 1 => {
                    let w = pod_text(Some(n));
                    if Some(n) == home {
                        w
                    } else {
                        format!("{n}/{w}")
                    }
                }
                _ if ns.is_any() && pods.is_any() => "cluster".to_string(),
                _ => format!("{{{}}}/{}", ns, pods),
            }
        }
    }
}

fn reasons(side: &Side, why: &Why) -> Vec<Reason> {
    let mut spans: Vec<crate::source::Span> = why
        .statements
        .iter()
        .filter_map(|&i| side.prog.statements.get(i).map(|s| s.span))
        .collect();
    spans.extend(why.isolations.iter().copied());
    // in the order of the files, and of the lines in each (`a.npl:9`
    // before `a.npl:10`)
    let mut out: Vec<(&str, usize, Reason)> = spans
        .into_iter()
        .map(|s| {
            let reason = Reason {
                at: side.sources.location(s),
                text: span_line(side.sources, s),
            };
            (side.sources.name(s.file), side.sources.line(s.file, s.start), reason)
        })
        .collect();
    out.sort();
    out.dedup();
    out.into_iter().map(|(_, _, r)| r).collect()
}

/// The first line of a span's text, trimmed and cut at 100 characters.
fn span_line(sources: &SourceMap, s: crate::source::Span) -> String {
    let text = sources.text(s.file);
    let t = text.get(s.start..s.end).unwrap_or("");
    let line = t.lines().next().unwrap_or("").trim();
    if line.chars().count() > 100 {
        let cut: String = line.chars().take(99).collect();
        format!("{cut}…")
    } else {
        line.to_string()
    }
}

/// Builds the report.
pub fn build(
    diff: &Diff,
    old: &Side,
    new: &Side,
    firewall: Vec<FirewallChange>,
    pods: Option<Vec<PodChange>>,
) -> Report {
    let sides = [new, old];
    let mut groups: BTreeMap<(String, String), Vec<Change>> = BTreeMap::new();
    let mut summary = Summary::default();
    for c in &diff.changed {
        let Changed {
            cube,
            names,
            added,
            old: wo,
            new: wn,
        } = c;
        let by_name = names.as_ref().map(|n| ByName::new(n, &cube.dst));
        let dst_text = |home: Option<&str>| match &by_name {
            Some(b) => b.text(),
            None => peer_text(sides, &cube.dst, home),
        };
        let (home, direction, subject) = match (one_namespace(&cube.dst), one_namespace(&cube.src))
        {
            (Some(n), _) => (Some(n), "ingress", &cube.dst),
            (None, Some(n)) => (Some(n), "egress", &cube.src),
            (None, None) => (None, "ingress", &cube.dst),
        };
        let name = match subject {
            PeerSet::Pods { pods, .. } => home
                .and_then(|n| workload(sides, n, pods))
                .unwrap_or_else(|| pods.to_string()),
            PeerSet::External(_) | PeerSet::Names(_) if by_name.is_some() => dst_text(None),
            PeerSet::External(s) => crate::firewall::describe_set(s),
            PeerSet::Names(n) => n.text(),
        };
        let peer = if direction == "ingress" {
            peer_text(sides, &cube.src, home)
        } else {
            dst_text(home)
        };
        if *added {
            summary.added += 1;
        } else {
            summary.removed += 1;
        }
        let change = Change {
            change: if *added { "added" } else { "removed" },
            direction,
            src: peer_text(sides, &cube.src, None),
            dst: dst_text(None),
            peer,
            ports: cube.ports.text_to(&cube.dst),
            old: reasons(old, wo),
            new: reasons(new, wn),
            by_name,
        };
        groups
            .entry((home.unwrap_or("*").to_string(), name))
            .or_default()
            .push(change);
    }
    let groups = groups
        .into_iter()
        .map(|((namespace, workload), mut changes)| {
            changes.sort_by(|a, b| {
                (a.change, a.direction, &a.peer, &a.ports, &a.old, &a.new).cmp(&(
                    b.change,
                    b.direction,
                    &b.peer,
                    &b.ports,
                    &b.old,
                    &b.new,
                ))
            });
            Group {
                namespace,
                workload,
                changes,
            }
        })
        .collect();
    for f in &firewall {
        if f.change == "added" {
            summary.firewall_added += 1;
        } else {
            summary.firewall_removed += 1;
        }
    }
    summary.pod_pairs = pods.as_ref().map(Vec::len);
    Report {
        version: 1,
        old: old.label.clone(),
        new: new.label.clone(),
        summary,
        groups,
        firewall,
        pods,
    }
}

/// `no semantic change`, or `3 connections added, 1 removed; …`.
pub fn summary_line(r: &Report) -> String {
    if !r.has_changes() {
        return "no semantic change".to_string();
    }
    let s = &r.summary;
    let mut parts = vec![format!(
        "{} connection change(s): {} added, {} removed",
        s.added + s.removed,
        s.added,
        s.removed
    )];
    if s.firewall_added + s.firewall_removed > 0 {
        parts.push(format!(
            "node firewall: {} opened, {} closed",
            s.firewall_added, s.firewall_removed
        ));
    }
    if let Some(n) = s.pod_pairs {
        parts.push(format!("{n} pod pair(s) of the population change"));
    }
    parts.join("; ")
}

fn reasons_text(rs: &[Reason]) -> String {
    if rs.is_empty() {
        "-".to_string()
    } else {
        rs.iter()
            .map(|r| r.at.clone())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Plain text: the summary line, then per group its changes.
pub fn text(r: &Report) -> String {
    let mut out = format!("{} → {}: {}\n", r.old, r.new, summary_line(r));
    for g in &r.groups {
        let _ = writeln!(out, "\n{}/{}", g.namespace, g.workload);
        for c in &g.changes {
            let sign = if c.change == "added" { '+' } else { '-' };
            let arrow = if c.direction == "ingress" { "<-" } else { "->" };
            let _ = writeln!(
                out,
                "  {sign} {} {arrow} {} : {}\n      old: {}\n      new: {}",
                c.direction,
                c.peer,
                c.ports,
                reasons_text(&c.old),
                reasons_text(&c.new)
            );
        }
    }
    if !r.firewall.is_empty() {
        let _ = writeln!(out, "\nnode firewall");
        for f in &r.firewall {
            let sign = if f.change == "added" { '+' } else { '-' };
            let _ = writeln!(
                out,
                "  {sign} {} {} {} from {}\n      old: {}\n      new: {}",
                f.role,
                f.protocol,
                f.ports,
                f.sources,
                if f.old.is_empty() {
                    "-".to_string()
                } else {
                    f.old.join(", ")
                },
                if f.new.is_empty() {
                    "-".to_string()
                } else {
                    f.new.join(", ")
                },
            );
        }
    }
    if let Some(pods) = &r.pods {
        let _ = writeln!(out, "\npod pairs");
        for p in pods {
            let _ = writeln!(
                out,
                "  {} -> {}: added {}; removed {}",
                p.src, p.dst, p.added, p.removed
            );
        }
    }
    out
}

/// Escapes a table cell (`|` and line breaks) and code spans.
fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// A pull-request comment: the summary line, a table per namespace in a
/// collapsed `<details>`, the changed edges as a Mermaid graph, the node
/// firewall and the pod pairs.
pub fn markdown(r: &Report) -> String {
    let mut out = format!(
        "**nplc diff** `{}` → `{}`: {}\n",
        cell(&r.old),
        cell(&r.new),
        summary_line(r)
    );
    let mut by_ns: BTreeMap<&str, Vec<&Group>> = BTreeMap::new();
    for g in &r.groups {
        by_ns.entry(g.namespace.as_str()).or_default().push(g);
    }
    for (ns, groups) in &by_ns {
        let n: usize = groups.iter().map(|g| g.changes.len()).sum();
        let _ = writeln!(
            out,
            "\n<details><summary>namespace <code>{}</code>: {n} change(s)</summary>\n",
            html(ns)
        );
        out.push_str("| | workload | direction | peer | ports | old | new |\n");
        out.push_str("|---|---|---|---|---|---|---|\n");
        for g in groups {
            for c in &g.changes {
                let sign = if c.change == "added" { "➕" } else { "➖" };
                let _ = writeln!(
                    out,
                    "| {sign} | `{}` | {} | `{}` | {} | {} | {} |",
                    cell(&g.workload),
                    c.direction,
                    cell(&c.peer),
                    cell(&c.ports),
                    cell(&reasons_text(&c.old)),
                    cell(&reasons_text(&c.new)),
                );
            }
        }
        out.push_str("\n</details>\n");
    }
    if !r.groups.is_empty() {
        out.push_str("\n<details><summary>changed edges</summary>\n\n```mermaid\n");
        out.push_str(&mermaid_edges(r));
        out.push_str("```\n\n</details>\n");
    }
    if !r.firewall.is_empty() {
        out.push_str("\n<details><summary>node firewall</summary>\n\n");
        out.push_str("| | role | protocol | ports | sources | old | new |\n");
        out.push_str("|---|---|---|---|---|---|---|\n");
        for f in &r.firewall {
            let sign = if f.change == "added" { "➕" } else { "➖" };
            let _ = writeln!(
                out,
                "| {sign} | `{}` | {} | {} | `{}` | {} | {} |",
                cell(&f.role),
                f.protocol,
                f.ports,
                cell(&f.sources),
                cell(&f.old.join(", ")),
                cell(&f.new.join(", ")),
            );
        }
        out.push_str("\n</details>\n");
    }
    if let Some(pods) = &r.pods {
        if !pods.is_empty() {
            out.push_str("\n<details><summary>pod pairs</summary>\n\n");
            out.push_str("| source | destination | added | removed |\n|---|---|---|---|\n");
            for p in pods {
                let _ = writeln!(
                    out,
                    "| `{}` | `{}` | {} | {} |",
                    cell(&p.src),
                    cell(&p.dst),
                    cell(&p.added),
                    cell(&p.removed)
                );
            }
            out.push_str("\n</details>\n");
        }
    }
    out
}

fn html(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The changed edges as a Mermaid flowchart: one node per endpoint text,
/// added edges solid (`+`), removed dotted (`-`), ports on the edge.
pub fn mermaid_edges(r: &Report) -> String {
    let mut g = super::graph::Graph::default();
    for grp in &r.groups {
        for c in &grp.changes {
            let sign = if c.change == "added" { "+ " } else { "- " };
            g.edge(
                &c.src,
                &c.dst,
                &format!("{sign}{}", c.ports),
                c.change != "added",
            );
        }
    }
    g.mermaid()
}

/// The JSON document (docs/diff.md).
pub fn json(r: &Report) -> String {
    serde_json::to_string_pretty(r).unwrap_or_default()
}
