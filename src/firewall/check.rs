//! Firewall check: resolves and checks the `nodes` blocks and `port`
//! declarations of a build. Input: the parsed files and the source map (which
//! already holds the stdlib modules that `use` loaded). Output: a
//! [`FirewallSpec`] of exact sets, or errors; plus warnings (a component
//! opened on a role that does not run it, a role without management access,
//! an allow that opens nothing).
//!
//! Scoping follows the policy language: roles, `port` and `define`
//! declarations in the sources are visible in every file; stdlib names only
//! in files that `use` their module. A role name and a definition may not
//! share a name where both are visible in a rule (E0707).

use super::{BlockSilence, Component, FirewallSpec, NodeRule, Role};
use crate::diag::{did_you_mean, Diagnostic, Failed, Sink};
use crate::ir::{IpSet, PortSet, Silenced};
use crate::net::Protocol;
use crate::resolve::{NameKind, Tables};
use crate::source::{FileId, SourceMap, Span};
use crate::syntax::ast::{self, PeerKind, PortAtom, PortItem, PortSpec, Spanned};
use std::collections::{BTreeMap, BTreeSet};

/// Checks the firewall part of a build. `Ok(None, ..)` when no file has a
/// `nodes` block (`port` declarations are still checked).
pub fn check(
    files: &[ast::File],
    names: &Tables<'_>,
    sources: &SourceMap,
    sink: &mut Sink,
) -> Result<Option<FirewallSpec>, Failed> {
    let mark = sink.mark();
    let mut c = Checker::new(files, names, sources);
    c.components();
    let spec = if files.iter().any(|f| !f.nodes.is_empty()) {
        c.roles();
        c.rules();
        Some(c.finish())
    } else {
        None
    };
    sink.extend(c.diags);
    sink.finish(mark, spec)
}

struct Checker<'a> {
    files: &'a [ast::File],
    /// The build's scope, from the resolver: address definitions and
    /// component ports, with their hints.
    names: &'a Tables<'a>,
    sources: &'a SourceMap,
    diags: Vec<Diagnostic>,
    /// Checked components (all visible to the build), by name.
    components: BTreeMap<String, Component>,
    roles: BTreeMap<String, Role>,
    role_names: BTreeMap<String, Span>,
    rules: Vec<NodeRule>,
    block_silences: Vec<BlockSilence>,
    /// Definitions being expanded (cycle guard).
    stack: Vec<String>,
}

fn silenced(list: &[Spanned<String>]) -> Vec<Silenced> {
    list.iter()
        .map(|s| Silenced {
            code: s.node.clone(),
            span: s.span,
        })
        .collect()
}

impl<'a> Checker<'a> {
    fn new(files: &'a [ast::File], names: &'a Tables<'a>, sources: &'a SourceMap) -> Checker<'a> {
        Checker {
            files,
            names,
            sources,
            diags: Vec::new(),
            components: BTreeMap::new(),
            roles: BTreeMap::new(),
            role_names: BTreeMap::new(),
            rules: Vec::new(),
            block_silences: Vec::new(),
            stack: Vec::new(),
        }
    }

    fn location(&self, span: Span) -> String {
        self.sources.location(span)
    }

    // ---- components -----------------------------------------------------

    /// Every component the build sees (duplicates are the resolver's E0703).
    fn components(&mut self) {
        let names = self.names;
        for (name, decl) in names.components() {
            let ports = self.decl_ports(decl);
            let comp = Component {
                name: name.to_string(),
                ports,
                note: decl
                    .note
                    .as_ref()
                    .map(|n| n.node.clone())
                    .unwrap_or_default(),
                on: decl.on.iter().map(|r| r.node.clone()).collect(),
                management: decl.management,
                location: self.location(decl.name.span),
                span: decl.span,
            };
            self.components.insert(name.to_string(), comp);
        }
    }

    /// The ports of a `port` declaration: numbers, ranges, protocols.
    fn decl_ports(&mut self, d: &ast::PortDecl) -> PortSet {
        let mut out = PortSet::empty();
        for item in &d.ports.node {
            let proto = protocol(item);
            match &item.spec {
                None => out.add_range(proto, 1, 65535),
                Some(PortSpec::Single(PortAtom::Number(n))) => {
                    if let Some(v) = self.port_number(n) {
                        out.add_range(proto, v, v);
                    }
                }
                Some(PortSpec::Range(PortAtom::Number(a), PortAtom::Number(b))) => {
                    if let Some((lo, hi)) = self.port_range(a, b, item.span) {
                        out.add_range(proto, lo, hi);
                    }
                }
                Some(_) => self.diags.push(
                    Diagnostic::error("E0709", "a `port` declaration takes port numbers")
                        .at(item.span, "not a number")
                        .with_help(format!("write numbers, ranges and protocols: `port {} = tcp/9100`, `tcp/30000-32767, udp/30000-32767`", d.name.node)),
                ),
            }
        }
        out
    }

    fn port_number(&mut self, n: &Spanned<String>) -> Option<u16> {
        match n.node.parse::<u32>() {
            Ok(v) if (1..=65535).contains(&v) => u16::try_from(v).ok(),
            _ => {
                self.diags.push(
                    Diagnostic::error("E0401", format!("port `{}` is out of range", n.node))
                        .at(n.span, "ports are 1 to 65535")
                        .with_help("write a port from 1 to 65535"),
                );
                None
            }
        }
    }

    fn port_range(
        &mut self,
        a: &Spanned<String>,
        b: &Spanned<String>,
        span: Span,
    ) -> Option<(u16, u16)> {
        let (lo, hi) = (self.port_number(a)?, self.port_number(b)?);
        if lo > hi {
            self.diags.push(
                Diagnostic::error("E0402", format!("the range `{lo}-{hi}` is reversed"))
                    .at(span, "the first port is above the last")
                    .with_help(format!("write `{hi}-{lo}`")),
            );
            return None;
        }
        Some((lo, hi))
    }

    /// The component `name` as seen from `file`.
    fn component_visible(&self, name: &str, file: FileId) -> bool {
        self.names.component(name, file).is_some()
    }

    fn unknown_component(&mut self, name: &Spanned<String>, file: FileId) {
        let help = self
            .names
            .unknown_help(&name.node, NameKind::Port, file, None, &[])
            .unwrap_or_else(|| format!(
                "declare it (`port {} = tcp/PORT \"what it is\"`), write a number (`:tcp/9100`), or `use k8s-ports` for the Kubernetes component ports",
                name.node
            ));
        self.diags.push(
            Diagnostic::error("E0702", format!("unknown port `{}`", name.node))
                .at(name.span, "no such component port")
                .with_help(help),
        );
    }

    // ---- roles ------------------------------------------------------------

    fn roles(&mut self) {
        // names first, so that rules and `runs` can refer to any role
        for f in self.files {
            for b in &f.nodes {
                for r in &b.roles {
                    let n = &r.name.node;
                    if let Some(prev) = self.role_names.get(n) {
                        self.diags.push(
                            Diagnostic::error("E0703", format!("role `{n}` is declared twice"))
                                .at(r.name.span, "declared again here")
                                .with_label(*prev, "first declared here")
                                .with_help("declare each role once; list all its addresses there: `role worker = 10.0.1.0/24 | 10.0.2.0/24`"),
                        );
                        continue;
                    }
                    if !is_role_name(n) {
                        self.diags.push(
                            Diagnostic::error("E0708", format!("`{n}` is not a valid role name"))
                                .at(r.name.span, "invalid role name")
                                .with_help("a role name has at most 50 characters: lowercase letters, digits and `-`, starting with a letter (it names the file `ROLE.nft` and the table `nplc_ROLE`)"),
                        );
                    }
                    self.role_names.insert(n.clone(), r.name.span);
                }
            }
        }
        for f in self.files {
            for b in &f.nodes {
                if !b.silence.is_empty() {
                    // the line the block begins on
                    let location =
                        self.location(Span::new(b.head.file, b.head.start, b.head.start));
                    self.block_silences.push(BlockSilence {
                        span: b.span,
                        location,
                        silence: silenced(&b.silence),
                    });
                }
                for r in &b.roles {
                    if self.roles.contains_key(&r.name.node)
                        || self.role_names.get(&r.name.node) != Some(&r.name.span)
                    {
                        continue;
                    }
                    let mut addresses = IpSet::empty();
                    for p in &r.addresses {
                        if let Some(s) = self.address_peer(p, f.id, false) {
                            addresses = addresses.union(&s);
                        }
                    }
                    let (runs, runs_written) = match &r.runs {
                        Some(list) => {
                            let mut set = BTreeSet::new();
                            for c in list {
                                if self.component_visible(&c.node, f.id) {
                                    set.insert(c.node.clone());
                                } else {
                                    self.unknown_component(c, f.id);
                                }
                            }
                            (set, true)
                        }
                        None => (
                            self.components
                                .values()
                                .filter(|c| c.on.contains(&r.name.node))
                                .map(|c| c.name.clone())
                                .collect(),
                            false,
                        ),
                    };
                    let role = Role {
                        name: r.name.node.clone(),
                        addresses,
                        runs,
                        runs_written,
                        span: r.span,
                        name_span: r.name.span,
                        location: self.location(r.head),
                        silence: silenced(&r.silence),
                    };
                    self.roles.insert(r.name.node.clone(), role);
                }
            }
        }
    }

    /// The addresses a peer denotes; `roles`: whether role names are allowed.
    fn address_peer(&mut self, p: &ast::Peer, file: FileId, roles: bool) -> Option<IpSet> {
        let base = self.address_atom(p, file, roles)?;
        if p.except.is_empty() {
            return Some(base);
        }
        let mut out = base.clone();
        for e in &p.except {
            let Some(hole) = self.address_atom(e, file, roles) else {
                continue;
            };
            if !hole.is_subset(&base) || hole == base {
                self.diags.push(
                    Diagnostic::error("E0303", "`except` must lie strictly inside its block")
                        .at(
                            e.span,
                            if hole == base {
                                "the whole block"
                            } else {
                                "not inside the block"
                            },
                        )
                        .with_label(p.span, "the block")
                        .with_help("take a part of the block out: `world except 10.0.0.0/8`"),
                );
                continue;
            }
            out = out.minus(&hole);
        }
        Some(out)
    }

    fn address_atom(&mut self, p: &ast::Peer, file: FileId, roles: bool) -> Option<IpSet> {
        match &p.kind {
            PeerKind::World => Some(IpSet::world()),
            PeerKind::Address(a) => self.address(a, p.span),
            PeerKind::Name(n) => self.address_name(n, p.span, file, roles),
            PeerKind::Dns(n) => {
                self.diags.push(
                    Diagnostic::error("E0114", format!("the DNS name `{n}` has no meaning in a node rule"))
                        .at(p.span, "a DNS name")
                        .with_help("the node firewall matches source addresses, which no DNS name decides: write the address blocks (`203.0.113.0/24`)"),
                );
                None
            }
            _ => {
                self.diags.push(
                    Diagnostic::error("E0704", "nodes are reached from addresses, not pods")
                        .at(p.span, "not an address, a role or `world`")
                        .with_help("write address blocks (`10.0.0.0/8`), `world`, a role, or a `define` of address blocks; pods reach the nodes from the pod network's addresses: `define pod-network = 10.244.0.0/16`"),
                );
                None
            }
        }
    }

    fn address_name(&mut self, n: &str, span: Span, file: FileId, roles: bool) -> Option<IpSet> {
        let def = self.names.define(n, file);
        let role_span = self.role_names.get(n).copied();
        if roles {
            if let (Some(rs), Some(d)) = (role_span, &def) {
                self.diags.push(
                    Diagnostic::error("E0707", format!("`{n}` names both a role and a definition"))
                        .at(span, "which one?")
                        .with_label(rs, "the role")
                        .with_label(d.0.name.span, "the definition")
                        .with_help("rename the role or the definition"),
                );
                return None;
            }
            if role_span.is_some() {
                let role = self.roles.get(n);
                let addrs = role.map(|r| r.addresses.clone()).unwrap_or_default();
                if addrs.is_empty() {
                    let mut d = Diagnostic::error("E0706", format!("role `{n}` has no addresses"))
                        .at(span, "used as a source here")
                        .with_help(format!(
                            "write the addresses of its nodes: `role {n} = 10.0.1.0/24`"
                        ));
                    if let Some(rs) = role_span {
                        d = d.with_label(rs, "declared without addresses");
                    }
                    self.diags.push(d);
                    return None;
                }
                return Some(addrs);
            }
        }
        if let Some((d, def_file)) = def {
            return self.expand(n, d, def_file, span);
        }
        if let (false, Some(rs)) = (roles, role_span) {
            self.diags.push(
                Diagnostic::error("E0704", format!("`{n}` is a role, not an address block"))
                    .at(span, "a role here")
                    .with_label(rs, "the role")
                    .with_help("a role's addresses and definitions are address blocks: write the addresses, or `define` them and use the name in both places"),
            );
            return None;
        }
        let role_names: Vec<&str> = if roles {
            self.role_names.keys().map(String::as_str).collect()
        } else {
            Vec::new()
        };
        let help = self
            .names
            .unknown_help(n, NameKind::Define, file, None, &role_names)
            .unwrap_or_else(|| {
                if roles {
                    format!("declare it: `role {n} = ADDRESSES` in a `nodes` block, or `define {n} = 10.0.0.0/8` at the top level")
                } else {
                    format!("define it at the top level: `define {n} = 10.0.0.0/8`")
                }
            });
        let d = Diagnostic::error("E0101", format!("unknown name `{n}`"))
            .at(span, "not declared")
            .with_help(help);
        self.diags.push(d);
        None
    }

    fn expand(&mut self, n: &str, d: &ast::Define, file: FileId, use_span: Span) -> Option<IpSet> {
        if self.stack.iter().any(|x| x == n) {
            // resolve reports the cycle (E0105)
            return None;
        }
        if let Some(p) = &d.value.ports {
            self.diags.push(
                Diagnostic::error("E0704", format!("`{n}` carries ports; a node rule takes addresses on its source"))
                    .at(use_span, "a definition with ports")
                    .with_label(p.span, "its ports")
                    .with_help("define the addresses without ports and write the ports after the role: `allow SRC -> worker:PORTS`"),
            );
            return None;
        }
        self.stack.push(n.to_string());
        let errors_before = self.diags.len();
        let mut out = IpSet::empty();
        let mut ok = true;
        for p in &d.value.peers {
            match self.address_peer(p, file, false) {
                Some(s) => out = out.union(&s),
                None => ok = false,
            }
        }
        self.stack.pop();
        if !ok && self.diags.len() > errors_before {
            // point the last error at the use as well
            if let Some(last) = self.diags.last_mut() {
                if last.labels.iter().all(|l| l.span != use_span) {
                    last.labels.push(crate::diag::SecondaryLabel {
                        span: use_span,
                        message: format!("`{n}` used here"),
                    });
                }
            }
        }
        ok.then_some(out)
    }

    fn address(&mut self, text: &str, span: Span) -> Option<IpSet> {
        match crate::validate::address(text, span) {
            Ok(set) => Some(set),
            Err(d) => {
                self.diags.push(d);
                None
            }
        }
    }

    // ---- rules ------------------------------------------------------------

    fn rules(&mut self) {
        let mut all: Vec<(String, usize, FileId, ast::NodeRule)> = Vec::new();
        for f in self.files {
            for b in &f.nodes {
                for r in &b.rules {
                    all.push((
                        self.sources.name(f.id).to_string(),
                        r.span.start,
                        f.id,
                        r.clone(),
                    ));
                }
            }
        }
        all.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
        for (_, _, file, r) in all {
            if let Some(rule) = self.rule(&r, file) {
                self.rules.push(rule);
            }
        }
    }

    fn rule(&mut self, r: &ast::NodeRule, file: FileId) -> Option<NodeRule> {
        let errors_before = self.diags.iter().filter(|d| d.is_error()).count();
        // source: addresses
        let mut sources = IpSet::empty();
        let mut source_text = Vec::new();
        for p in &r.src.peers {
            if let Some(s) = self.address_peer(p, file, true) {
                sources = sources.union(&s);
            }
            source_text.push(
                self.sources
                    .text(file)
                    .get(p.span.range())
                    .unwrap_or("")
                    .to_string(),
            );
        }
        if let Some(p) = &r.src.ports {
            self.diags.push(
                Diagnostic::error("E0407", "ports belong to the destination, not the source")
                    .at(p.span, "ports on the source")
                    .with_help("move the ports after the roles: `allow SRC -> ROLE:PORTS`"),
            );
        }
        // destination: roles
        let mut roles = BTreeSet::new();
        for p in &r.dst.peers {
            match &p.kind {
                PeerKind::Name(n) if p.except.is_empty() => {
                    if self.role_names.contains_key(n) {
                        roles.insert(n.clone());
                    } else {
                        let mut d = Diagnostic::error("E0701", format!("unknown role `{n}`")).at(p.span, "not a declared role");
                        d = match did_you_mean(n, self.role_names.keys().map(String::as_str)) {
                            Some(s) => d.with_help(format!("did you mean `{s}`?")),
                            None if self.role_names.is_empty() => {
                                d.with_help(format!("declare it in a `nodes` block: `role {n} = ADDRESSES`"))
                            }
                            None => d.with_help(format!(
                                "the roles are: {}; declare others in a `nodes` block: `role {n} = ADDRESSES`",
                                self.role_names.keys().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ")
                            )),
                        };
                        self.diags.push(d);
                    }
                }
                _ => self.diags.push(
                    Diagnostic::error("E0704", "the destination of a node rule is one or more roles")
                        .at(p.span, "not a role")
                        .with_help("write the roles whose nodes the rule opens, then the ports: `allow admin-net -> control-plane | worker:ssh`"),
                ),
            }
        }
        // ports
        let mut ports = PortSet::empty();
        let mut components = BTreeSet::new();
        let mut named: Vec<(String, Span)> = Vec::new();
        match &r.dst.ports {
            None => self.diags.push(
                Diagnostic::error("E0705", "a node rule needs ports")
                    .at(r.dst.span, "which ports?")
                    .with_help("name component ports or numbers after the roles: `worker:nodeport`, `bastion:ssh`, `worker:tcp/9100`; for every port of a protocol write `:tcp`"),
            ),
            Some(p) if p.node.is_empty() => self.diags.push(
                Diagnostic::error("E0406", "a `:` with no port after it")
                    .at(p.span, "missing port")
                    .with_help("write a component (`:kubelet`), a port (`:22`), a range (`:30000-32767`) or a protocol (`:udp`)"),
            ),
            Some(p) => {
                for item in &p.node {
                    if let Some((set, comp)) = self.rule_port(item, file) {
                        ports = ports.union(&set);
                        if let Some(c) = comp {
                            components.insert(c.node.clone());
                            named.push((c.node, c.span));
                        }
                    }
                }
            }
        }
        let errors_after = self.diags.iter().filter(|d| d.is_error()).count();
        if errors_after > errors_before {
            return None;
        }
        Some(NodeRule {
            id: 0,
            action: r.action,
            sources,
            source_text,
            roles,
            ports,
            components,
            named,
            silence: silenced(&r.silence),
            span: r.span,
            location: self.location(r.head),
        })
    }

    /// One port item of a node rule: its ports and the component it names.
    fn rule_port(
        &mut self,
        item: &PortItem,
        file: FileId,
    ) -> Option<(PortSet, Option<Spanned<String>>)> {
        let proto = protocol(item);
        match &item.spec {
            None => Some((PortSet::range(proto, 1, 65535), None)),
            Some(PortSpec::Single(PortAtom::Number(n))) => {
                let v = self.port_number(n)?;
                Some((PortSet::range(proto, v, v), None))
            }
            Some(PortSpec::Range(PortAtom::Number(a), PortAtom::Number(b))) => {
                let (lo, hi) = self.port_range(a, b, item.span)?;
                Some((PortSet::range(proto, lo, hi), None))
            }
            Some(PortSpec::Range(x, y)) => {
                let name = match (x, y) {
                    (PortAtom::Name(n), _) | (_, PortAtom::Name(n)) => n.node.clone(),
                    _ => String::new(),
                };
                self.diags.push(
                    Diagnostic::error("E0404", format!("the port `{name}` cannot be part of a range"))
                        .at(item.span, "a range with a name")
                        .with_help("a range takes port numbers (`30000-32767`); a component port stands alone (`nodeport`)"),
                );
                None
            }
            Some(PortSpec::Single(PortAtom::Name(n))) => {
                if !self.component_visible(&n.node, file) {
                    self.unknown_component(n, file);
                    return None;
                }
                let comp = self.components.get(&n.node)?;
                let mut set = comp.ports.clone();
                if let Some(p) = &item.protocol {
                    let only: PortSet = PortSet::range(proto, 1, 65535);
                    set = set.intersect(&only);
                    if set.is_empty() {
                        let has: Vec<&str> =
                            comp.ports.numbers.keys().map(|p| p.npl_name()).collect();
                        self.diags.push(
                            Diagnostic::error(
                                "E0709",
                                format!("`{}` has no {} port", n.node, p.node.to_ascii_lowercase()),
                            )
                            .at(item.span, "no such port")
                            .with_help(format!(
                                "`{}` uses {}; write `{}` alone for all of its ports",
                                n.node,
                                has.join(" and "),
                                n.node
                            )),
                        );
                        return None;
                    }
                }
                Some((set, Some(n.clone())))
            }
        }
    }

    fn finish(&mut self) -> FirewallSpec {
        let mut rules = std::mem::take(&mut self.rules);
        for (i, r) in rules.iter_mut().enumerate() {
            r.id = i;
        }
        let mut files: Vec<String> = self
            .files
            .iter()
            .filter(|f| !f.nodes.is_empty())
            .map(|f| self.sources.name(f.id).to_string())
            .collect();
        files.sort();
        files.dedup();
        FirewallSpec {
            roles: std::mem::take(&mut self.roles),
            components: self.components.clone(),
            rules,
            block_silences: std::mem::take(&mut self.block_silences),
            files,
        }
    }
}

fn protocol(item: &PortItem) -> Protocol {
    item.protocol
        .as_ref()
        .and_then(|p| Protocol::parse(&p.node))
        .unwrap_or(Protocol::Tcp)
}

/// Lowercase letters, digits, `-`; starts with a letter; at most 50 characters.
pub fn is_role_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 50
        && s.starts_with(|c: char| c.is_ascii_lowercase())
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !s.ends_with('-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_names() {
        assert!(is_role_name("control-plane"));
        assert!(is_role_name("gpu2"));
        assert!(!is_role_name("Worker"));
        assert!(!is_role_name("a_b"));
        assert!(!is_role_name("x-"));
    }
}
