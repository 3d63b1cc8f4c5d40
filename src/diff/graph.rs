//! `nplc graph`: who talks to whom. Input: a checked program (and, with a
//! population, the class matrix of `eval::classes`). Output: a [`Graph`] of
//! endpoints (grouped by namespace) and labelled edges, rendered as a
//! Mermaid flowchart or a Graphviz `dot` digraph. Deterministic: nodes
//! sorted by (namespace, label) and numbered in that order, edges by
//! (source, destination, dotted, label); edges between the same two nodes
//! in the same style are one edge, their labels joined with `; `.

use crate::diff::report::{peer_text, Side};
use crate::diff::space::Ports;
use crate::ir::{Action, PeerSet, Program};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

/// A node: its namespace (empty: none, e.g. addresses) and its label.
type Node = (String, String);

/// A directed graph with labelled edges; dotted edges are the removed
/// (in a diff) or denied (in a program's graph) ones.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Graph {
    nodes: BTreeSet<Node>,
    edges: BTreeMap<(Node, Node, bool), BTreeSet<String>>,
}

/// The namespace of a node written `ns/rest` (not an address, not a
/// selector in braces), or none.
fn split(text: &str) -> Node {
    if !text.starts_with('{')
        && !text.contains(':')
        && !text.chars().next().is_some_and(|c| c.is_ascii_digit())
    {
        if let Some((ns, _)) = text.split_once('/') {
            return (ns.to_string(), text.to_string());
        }
    }
    (String::new(), text.to_string())
}

impl Graph {
    /// Adds an edge between two endpoints written as peers are
    /// (`shop/api`, `10.0.0.0/8`), grouped by the namespace before `/`.
    pub fn edge(&mut self, src: &str, dst: &str, label: &str, dotted: bool) {
        let (s, d) = (split(src), split(dst));
        self.nodes.insert(s.clone());
        self.nodes.insert(d.clone());
        self.edges
            .entry((s, d, dotted))
            .or_default()
            .insert(label.to_string());
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    fn ids(&self) -> BTreeMap<&Node, String> {
        self.nodes
            .iter()
            .enumerate()
            .map(|(i, n)| (n, format!("n{i}")))
            .collect()
    }

    fn by_namespace(&self) -> BTreeMap<&str, Vec<&Node>> {
        let mut out: BTreeMap<&str, Vec<&Node>> = BTreeMap::new();
        for n in &self.nodes {
            out.entry(n.0.as_str()).or_default().push(n);
        }
        out
    }

    /// A Mermaid flowchart (`flowchart LR`), a subgraph per namespace.
    pub fn mermaid(&self) -> String {
        let q = |s: &str| s.replace('"', "#quot;");
        let ids = self.ids();
        let mut out = String::from("flowchart LR\n");
        for (ns, nodes) in self.by_namespace() {
            let indent = if ns.is_empty() { "  " } else { "    " };
            if !ns.is_empty() {
                let _ = writeln!(out, "  subgraph ns_{}[\"{}\"]", slug(ns), q(ns));
            }
            for n in nodes {
                let id = ids.get(n).map(String::as_str).unwrap_or("");
                let _ = writeln!(out, "{indent}{id}[\"{}\"]", q(&n.1));
            }
            if !ns.is_empty() {
                out.push_str("  end\n");
            }
        }
        for ((s, d, dotted), labels) in &self.edges {
            let label = labels.iter().cloned().collect::<Vec<_>>().join("; ");
            let arrow = if *dotted { "-.->" } else { "-->" };
            let _ = writeln!(
                out,
                "  {} {arrow}|\"{}\"| {}",
                ids.get(s).map(String::as_str).unwrap_or(""),
                q(&label),
                ids.get(d).map(String::as_str).unwrap_or("")
            );
        }
        out
    }

    /// A Graphviz digraph, a cluster per namespace.
    pub fn dot(&self) -> String {
        let q = |s: &str| s.replace('\\', "\\\\").replace('"', "\\\"");
        let ids = self.ids();
        let mut out = String::from("digraph nplc {\n  rankdir=LR;\n  node [shape=box];\n");
        for (i, (ns, nodes)) in self.by_namespace().into_iter().enumerate() {
            let indent = if ns.is_empty() { "  " } else { "    " };
            if !ns.is_empty() {
                let _ = writeln!(out, "  subgraph cluster_{i} {{\n    label=\"{}\";", q(ns));
            }
            for n in nodes {
                let id = ids.get(n).map(String::as_str).unwrap_or("");
                let _ = writeln!(out, "{indent}{id} [label=\"{}\"];", q(&n.1));
            }
            if !ns.is_empty() {
                out.push_str("  }\n");
            }
        }
        for ((s, d, dotted), labels) in &self.edges {
            let label = labels.iter().cloned().collect::<Vec<_>>().join("; ");
            let style = if *dotted { ", style=dashed" } else { "" };
            let _ = writeln!(
                out,
                "  {} -> {} [label=\"{}\"{style}];",
                ids.get(s).map(String::as_str).unwrap_or(""),
                ids.get(d).map(String::as_str).unwrap_or(""),
                q(&label)
            );
        }
        out.push_str("}\n");
        out
    }
}

/// Lowercase letters, digits and `_` only (a Mermaid identifier).
fn slug(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect()
}

/// The graph of a program: an edge per source term × destination term of
/// every statement, from the source to the destination, labelled with its
/// ports; a deny's edges dotted and labelled `deny …`. Endpoints are written
/// in source terms (workload names where a `workload` has that selector).
pub fn program_graph(side: &Side) -> Graph {
    let sides = [side, side];
    let mut g = Graph::default();
    for s in &side.prog.statements {
        for t in &s.src {
            for d in &s.dst {
                let ports = Ports::from_ports(&d.ports).text_to(&d.set);
                let label = match s.action {
                    Action::Allow => ports,
                    Action::Deny => format!("deny {ports}"),
                };
                g.edge(
                    &endpoint(sides, &t.set, &s.namespace),
                    &endpoint(sides, &d.set, &s.namespace),
                    &label,
                    s.action == Action::Deny,
                );
            }
        }
    }
    g
}

/// An endpoint with its namespace always written (`shop/api`).
fn endpoint(sides: [&Side; 2], p: &PeerSet, _home: &str) -> String {
    peer_text(sides, p, None)
}

/// The graph of a population: an edge from each pod to each pod the
/// program permits it to reach, labelled with the ports; pods of the same
/// namespace, labels and named ports (a class) drawn as one node
/// (`shop/api-1 (+2)`). Pairs of pods in no managed namespace are left out
/// (nothing decides them).
pub fn population_graph(prog: &Program, pop: &crate::population::Population) -> Graph {
    let m = crate::eval::classes::evaluate(&[], prog, pop);
    let name = |c: usize| {
        let members = m.classes.members.get(c).map(Vec::as_slice).unwrap_or(&[]);
        let first = members
            .first()
            .and_then(|&i| pop.pod_ref(i))
            .unwrap_or_default();
        if members.len() > 1 {
            format!("{first} (+{})", members.len() - 1)
        } else {
            first
        }
    };
    let ns_of = |c: usize| {
        let r = m.classes.representative(c);
        pop.pods
            .get(r)
            .map(|p| p.namespace.clone())
            .unwrap_or_default()
    };
    let mut g = Graph::default();
    for s in 0..m.classes.len() {
        for (d, cell) in m.row(s) {
            let ports = cell.intended.without_zero();
            if ports.is_empty() || (!prog.is_managed(&ns_of(s)) && !prog.is_managed(&ns_of(d))) {
                continue;
            }
            g.edge(&name(s), &name(d), &ports.text(), false);
        }
    }
    g
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edges_merge_and_render_in_order() {
        let mut g = Graph::default();
        g.edge("shop/web", "shop/api", "tcp 8080", false);
        g.edge("shop/web", "shop/api", "tcp 9090", false);
        g.edge("10.0.0.0/8", "shop/web", "tcp 443", false);
        g.edge("shop/api", "db/pg", "deny all ports", true);
        let m = g.mermaid();
        assert_eq!(
            m,
            "flowchart LR\n  n0[\"10.0.0.0/8\"]\n  subgraph ns_db[\"db\"]\n    n1[\"db/pg\"]\n  end\n  subgraph ns_shop[\"shop\"]\n    n2[\"shop/api\"]\n    n3[\"shop/web\"]\n  end\n  n0 -->|\"tcp 443\"| n3\n  n2 -.->|\"deny all ports\"| n1\n  n3 -->|\"tcp 8080; tcp 9090\"| n2\n"
        );
        assert!(g
            .dot()
            .contains("n2 -> n1 [label=\"deny all ports\", style=dashed];"));
    }
}
