//! Stage 3, check: validates what resolved names denote and lowers it to
//! the IR. Input: a [`Resolved`] program. Output: an [`ir::Program`] of exact
//! sets, or errors. Checks label keys and values (Kubernetes' syntax),
//! namespace names (DNS-1123 labels), CIDRs (host bits, `except` strictly
//! inside its block), ports (bounds, ranges, port names, where named ports
//! may appear) and the shape of statements. [`check_incremental`] does the
//! same again after an edit, checking only the rules that changed (the
//! language server).

use crate::diag::{Diagnostic, Failed, Sink};
use crate::ir::{self, DstTerm, IpSet, Isolation, KeyC, LabelSel, PeerSet, PortSet, Term};
use crate::ir::{Action, Direction};
use crate::net::Protocol;
use crate::resolve::{RKind, RPeer, RSide, Resolved};
use crate::source::Span;
use crate::syntax::ast::{self, PortAtom, PortItem, PortSpec, ReqOp, Spanned};
use crate::validate::{self, address, is_dns1123_label, is_label_key, is_label_value, unbracket};
use ipnet::IpNet;

/// A lowered peer: its set, the ports a definition attached, where it is written.
#[derive(Debug, Clone)]
struct Piece {
    set: PeerSet,
    ports: Option<(PortSet, Span)>,
    span: Span,
}

pub fn check(r: &Resolved, sink: &mut Sink) -> Result<ir::Program, Failed> {
    let mark = sink.mark();
    let mut c = Checker { diags: Vec::new() };
    let mut prog = ir::Program::default();
    namespaces(r, &mut c, &mut prog);
    // statements check independently: in parallel, merged in source order,
    // numbered by their position in the program
    let checked = crate::par::map_chunks(&r.rules, |rules| {
        let mut c = Checker { diags: Vec::new() };
        let stmts: Vec<ir::Statement> = rules.iter().filter_map(|r| c.rule(r)).collect();
        vec![(stmts, c.diags)]
    });
    for (stmts, diags) in checked {
        for mut s in stmts {
            s.id = prog.statements.len();
            prog.statements.push(s);
        }
        c.diags.extend(diags);
    }
    sink.extend(c.diags);
    sink.finish(mark, prog)
}

/// What checking each rule gave (by the rule's index in the resolved
/// program): its statement's id, if it has one, and its diagnostics; and
/// what checking each namespace reported.
#[derive(Debug, Default)]
pub struct Memo {
    rules: Vec<(Option<usize>, Vec<Diagnostic>)>,
    namespaces: std::collections::BTreeMap<String, Vec<Diagnostic>>,
}

/// What [`check_incremental`] gives.
pub struct Checked {
    /// The program, also when `failed` (without the statements that failed).
    pub program: ir::Program,
    pub failed: Option<Failed>,
    /// For each statement (by id), the id of the previous program's
    /// statement it equals but for the id, if it was taken from there.
    pub same: Vec<Option<usize>>,
    /// The namespaces checked again, which may differ from the previous
    /// program's (`None`: all of them).
    pub rechecked: Option<std::collections::BTreeSet<String>>,
    pub memo: Memo,
}

/// [`check`] again after an edit (the language server): the rules that
/// `same_rule` says are equal to a rule of the previous call (by index in
/// its resolved program) take that call's statement (moved out of `prev`,
/// its program) and diagnostics instead of being checked again, and so do
/// the namespaces that are not in `changed` (`None`: all changed). A rule
/// and a namespace check on their own (what each gives depends on nothing
/// else), so the result is what `check` gives.
pub fn check_incremental(
    r: &Resolved,
    same_rule: &[Option<usize>],
    changed: Option<&std::collections::BTreeSet<String>>,
    prev: Option<(ir::Program, Memo)>,
    sink: &mut Sink,
) -> Checked {
    let mark = sink.mark();
    let (mut old_prog, mut old_memo) = prev.unwrap_or_default();
    let mut diags = Vec::new();
    let mut prog = ir::Program::default();
    let mut memo = Memo {
        rules: Vec::with_capacity(r.rules.len()),
        namespaces: std::collections::BTreeMap::new(),
    };
    let mut rechecked = changed.map(|_| std::collections::BTreeSet::new());
    for (name, ns) in &r.namespaces {
        let old = match changed {
            Some(c) if !c.contains(name) => old_prog
                .namespaces
                .remove(name)
                .and_then(|n| Some((n, old_memo.namespaces.remove(name)?))),
            _ => None,
        };
        let (n, d) = old.unwrap_or_else(|| {
            if let Some(r) = &mut rechecked {
                r.insert(name.clone());
            }
            let mut c = Checker { diags: Vec::new() };
            let n = namespace(name, ns, &mut c);
            (n, c.diags)
        });
        diags.extend(d.iter().cloned());
        prog.namespaces.insert(name.clone(), n);
        memo.namespaces.insert(name.clone(), d);
    }
    // the previous statements, each taken once
    let mut old_stmts: Vec<Option<ir::Statement>> = std::mem::take(&mut old_prog.statements)
        .into_iter()
        .map(Some)
        .collect();
    // (its statement, the statement's id in `prev`, its diagnostics)
    type Taken = (Option<ir::Statement>, Option<usize>, Vec<Diagnostic>);
    let mut taken: Vec<Option<Taken>> = r
        .rules
        .iter()
        .enumerate()
        .map(|(i, _)| {
            let j = same_rule.get(i).copied().flatten()?;
            let (id, _) = old_memo.rules.get(j)?;
            let stmt = match id {
                Some(id) => Some(old_stmts.get_mut(*id)?.take()?),
                None => None,
            };
            let was = *id;
            let d = old_memo.rules.get_mut(j).map(|x| std::mem::take(&mut x.1))?;
            Some((stmt, was, d))
        })
        .collect();
    drop(old_stmts);
    let todo: Vec<usize> = (0..r.rules.len()).filter(|i| taken[*i].is_none()).collect();
    let mut fresh = crate::par::map_chunks(&todo, |is| {
        is.iter()
            .map(|i| {
                let mut c = Checker { diags: Vec::new() };
                let s = r.rules.get(*i).and_then(|rule| c.rule(rule));
                (s, c.diags)
            })
            .collect()
    })
    .into_iter();
    let mut same = Vec::with_capacity(r.rules.len());
    for t in taken.iter_mut() {
        let (stmt, was, rule_diags) = match t.take() {
            Some(x) => x,
            None => match fresh.next() {
                Some((s, d)) => (s, None, d),
                None => continue,
            },
        };
        let id = stmt.map(|mut s| {
            s.id = prog.statements.len();
            prog.statements.push(s);
            same.push(was);
            prog.statements.len() - 1
        });
        diags.extend(rule_diags.iter().cloned());
        memo.rules.push((id, rule_diags));
    }
    sink.extend(diags);
    Checked {
        program: prog,
        failed: sink.finish(mark, ()).err(),
        same,
        rechecked,
        memo,
    }
}

/// The namespaces of a resolved program, checked, into `prog`.
fn namespaces(r: &Resolved, c: &mut Checker, prog: &mut ir::Program) {
    for (name, ns) in &r.namespaces {
        let n = namespace(name, ns, c);
        prog.namespaces.insert(name.clone(), n);
    }
}

/// One namespace of a resolved program, checked.
fn namespace(name: &str, ns: &crate::resolve::RNamespace, c: &mut Checker) -> ir::Namespace {
    c.namespace_name(&ns.name.node, ns.name.span);
    let posture = match ns.posture {
        None => Isolation {
            ingress: true,
            egress: true,
        },
        Some((true, _, _)) => Isolation::default(),
        Some((false, None, _)) => Isolation {
            ingress: true,
            egress: true,
        },
        Some((false, Some(Direction::Ingress), _)) => Isolation {
            ingress: true,
            egress: false,
        },
        Some((false, Some(Direction::Egress), _)) => Isolation {
            ingress: false,
            egress: true,
        },
    };
    let mut isolates = Vec::new();
    for iso in &ns.isolates {
        let mut pods = Vec::new();
        for t in &iso.targets {
            for p in c.peer(t) {
                match &p.set {
                    PeerSet::Pods { namespaces, pods: sel } if *namespaces == ir::ns_named(name) => pods.push(sel.clone()),
                    PeerSet::Names(_) => c.diags.push(dns_out_of_place(p.span, "`isolate` takes pods, not DNS names", "isolate pods of this namespace with a selector such as `app=api`, then allow what they may reach: `allow app=api -> dns:api.example.com:443`")),
                    _ => c.diags.push(
                        Diagnostic::error("E0108", "`isolate` takes pods of its own namespace")
                            .at(p.span, "not pods of this namespace")
                            .with_help(format!("isolate pods of `{name}` with a selector such as `app=api`; to isolate pods of another namespace, write `isolate` in that namespace's block")),
                    ),
                }
            }
        }
        let directions = match iso.direction {
            None => Isolation {
                ingress: true,
                egress: true,
            },
            Some(Direction::Ingress) => Isolation {
                ingress: true,
                egress: false,
            },
            Some(Direction::Egress) => Isolation {
                ingress: false,
                egress: true,
            },
        };
        isolates.push(ir::Isolate {
            directions,
            pods,
            span: iso.span,
        });
    }
    let mut workloads = std::collections::BTreeMap::new();
    let mut workload_decls = Vec::new();
    for (wname, sel) in &ns.workloads {
        let ls = c.selector(sel);
        workload_decls.push(ir::WorkloadDecl {
            name: wname.clone(),
            pods: ls.clone(),
            span: sel.span,
        });
        workloads.entry(ls).or_insert_with(|| wname.clone());
    }
    let labels = ns
        .labels
        .as_ref()
        .map(|(sel, _)| c.stated_labels(name, sel));
    ir::Namespace {
            name: name.to_string(),
            posture,
            isolates,
            workloads,
            workload_decls,
            span: ns.name.span,
            posture_span: ns.posture.map(|p| p.2),
            silence: silenced(&ns.silence),
            labels,
            labels_span: ns.labels.as_ref().map(|(_, sp)| *sp),
        }
}

struct Checker {
    diags: Vec<Diagnostic>,
}

/// E0114: a DNS name where it has no meaning (docs/language.md, "DNS names").
fn dns_out_of_place(span: Span, message: &str, help: &str) -> Diagnostic {
    Diagnostic::error("E0114", message)
        .at(span, "a DNS name here")
        .with_help(help)
}

impl Checker {
    fn err(&mut self, d: Diagnostic) {
        self.diags.push(d);
    }

    /// Checks one statement; its `id` is left for the caller to number.
    fn rule(&mut self, r: &crate::resolve::RRule) -> Option<ir::Statement> {
        let diags_before = self.diags.len();
        let src_pieces = self.side_pieces(&r.src);
        let mut src = Vec::new();
        for p in src_pieces {
            if let PeerSet::Names(_) = p.set {
                self.err(dns_out_of_place(
                    p.span,
                    "a DNS name cannot be a source",
                    "a DNS name is a destination of egress (`allow app=api -> dns:api.example.com:443`); a connection's source is known by its address: write the address blocks (`203.0.113.0/24`)",
                ));
            }
            if let Some((_, pspan)) = &p.ports {
                let mut d =
                    Diagnostic::error("E0407", "ports belong to the destination, not the source")
                        .at(*pspan, "ports on the source");
                d = if r.shorthand.as_ref().map(|s| s.node) == Some(Direction::Ingress) {
                    d.with_help("`allow ingress SRC` opens every port; to open some, write `allow SRC -> *:PORTS`")
                } else {
                    d.with_help("move the ports after the destination: `allow SRC -> DST:PORTS`")
                };
                self.err(d);
            }
            src.push(Term {
                set: p.set,
                span: p.span,
            });
        }
        if let Some(p) = &r.src.ports {
            let mut d =
                Diagnostic::error("E0407", "ports belong to the destination, not the source")
                    .at(p.span, "ports on the source");
            d = if r.shorthand.as_ref().map(|s| s.node) == Some(Direction::Ingress) {
                d.with_help("`allow ingress SRC` opens every port; to open some, write `allow SRC -> *:PORTS`")
            } else {
                d.with_help("move the ports after the destination: `allow SRC -> DST:PORTS`")
            };
            self.err(d);
        }
        let side_ports = r.dst.ports.as_ref().map(|p| (self.ports(p), p.span));
        if let Some((_, pspan)) = &side_ports {
            if r.dst.peers.len() > 1 && !r.dst.parenthesized {
                self.err(
                    Diagnostic::error("E0408", "ports after a union of peers apply to all of them")
                        .at(r.dst.span, "a union with ports")
                        .with_label(*pspan, "these ports")
                        .with_help("group the union so that this reads as meant: `(a | b):PORTS`, or write separate rules"),
                );
            }
        }
        let mut dst = Vec::new();
        for p in self.side_pieces(&r.dst) {
            let ports = match (&p.ports, &side_ports) {
                (Some((_, dspan)), Some((_, sspan))) => {
                    self.err(
                        Diagnostic::error("E0107", "this peer already carries ports")
                            .at(*sspan, "ports given again")
                            .with_label(*dspan, "ports of the definition")
                            .with_help(
                                "remove the ports after the peer, or define a name without ports",
                            ),
                    );
                    PortSet::all()
                }
                (Some((ps, _)), None) => ps.clone(),
                (None, Some((ps, _))) => ps.clone(),
                (None, None) => PortSet::all(),
            };
            if let (PeerSet::Names(_), Action::Deny) = (&p.set, r.action) {
                self.err(
                    Diagnostic::error("E0115", "a deny cannot name a DNS name")
                        .at(p.span, "a DNS name in a deny")
                        .with_help("Cilium has no deny by DNS name; deny the addresses by block instead (`deny egress 203.0.113.0/24`), or `deny egress world` for every external address"),
                );
            }
            if ports.has_named() {
                // where the named port is written: the side's ports, else the peer's
                let at = side_ports
                    .as_ref()
                    .map(|s| s.1)
                    .or(p.ports.as_ref().map(|x| x.1))
                    .unwrap_or(p.span);
                if p.set.is_external() {
                    self.err(
                        Diagnostic::error("E0405", "a named port cannot be used with an address block")
                            .at(at, "named port")
                            .with_label(p.span, "external addresses")
                            .with_help("named ports resolve on the destination pod; for external addresses write the port number"),
                    );
                }
                if r.action == Action::Deny {
                    self.err(
                        Diagnostic::error("E0409", "a deny cannot name a port")
                            .at(at, "named port in a deny")
                            .with_help("a named port resolves per pod, so NetworkPolicy cannot subtract it exactly; deny the port number instead"),
                    );
                }
            }
            dst.push(DstTerm {
                set: p.set,
                ports,
                span: p.span,
            });
        }
        let ext = |s: &PeerSet| s.is_external();
        if !src.is_empty()
            && !dst.is_empty()
            && src.iter().all(|t| ext(&t.set))
            && dst.iter().all(|t| ext(&t.set))
        {
            self.err(
                Diagnostic::error("E0109", "neither side of this rule is a pod")
                    .at(r.span, "addresses on both sides")
                    .with_help("NetworkPolicy governs pods: one side must be pods, such as `*`, `app=api` or `ns/*`"),
            );
        }
        if let Some(scope) = &r.scope {
            // the side it decides must be able to hold a pod
            let (terms, which): (Vec<&PeerSet>, &str) = match scope.node {
                Direction::Egress => (src.iter().map(|t| &t.set).collect(), "source"),
                Direction::Ingress => (dst.iter().map(|t| &t.set).collect(), "destination"),
            };
            if !terms.is_empty() && terms.iter().all(|t| ext(t)) {
                self.err(
                    Diagnostic::error(
                        "E0112",
                        format!(
                            "this rule decides only the {} side, but its {which} is not pods",
                            scope.node.word()
                        ),
                    )
                    .at(scope.span, format!("only the {which}'s side"))
                    .with_help(format!(
                        "external addresses have no side; write `on {}` to decide the other side, or drop `on {}` to decide both",
                        match scope.node {
                            Direction::Egress => "ingress",
                            Direction::Ingress => "egress",
                        },
                        scope.node.word()
                    )),
                );
            }
        }
        if self.diags[diags_before..].iter().any(Diagnostic::is_error) {
            return None;
        }
        // no spare room: a statement's IR lives to the end of the build
        src.shrink_to_fit();
        dst.shrink_to_fit();
        Some(ir::Statement {
            id: 0,
            action: r.action,
            namespace: r.namespace.clone(),
            src,
            dst,
            scope: r.scope.as_ref().map(|s| s.node),
            silence: silenced(&r.silence),
            span: r.span,
        })
    }

    fn side_pieces(&mut self, s: &RSide) -> Vec<Piece> {
        s.peers.iter().flat_map(|p| self.peer(p)).collect()
    }

    fn peer(&mut self, p: &RPeer) -> Vec<Piece> {
        let mut base: Vec<Piece> = match &p.kind {
            RKind::AllPods { ns } => vec![Piece {
                set: PeerSet::in_namespace(ns, LabelSel::any()),
                ports: None,
                span: p.span,
            }],
            RKind::Cluster => vec![Piece {
                set: PeerSet::cluster(),
                ports: None,
                span: p.span,
            }],
            RKind::World => vec![Piece {
                set: PeerSet::External(IpSet::world()),
                ports: None,
                span: p.span,
            }],
            RKind::Dns(n) => match crate::ir::dns::canonical(n) {
                Ok(name) => vec![Piece {
                    set: PeerSet::Names(crate::ir::DnsNames::new([name])),
                    ports: None,
                    span: p.span,
                }],
                Err((why, help)) => {
                    self.err(
                        Diagnostic::error("E0113", format!("`dns:{n}` is not a DNS name nplc accepts: {why}"))
                            .at(p.span, "not a DNS name or `*.` pattern")
                            .with_help(help),
                    );
                    vec![]
                }
            },
            RKind::Address(a) => match self.address(a, p.span) {
                Some(set) => vec![Piece {
                    set: PeerSet::External(set),
                    ports: None,
                    span: p.span,
                }],
                None => vec![],
            },
            RKind::Pods { ns, sel } => {
                self.namespace_name(&ns.node, ns.span);
                let pods = match sel {
                    Some(s) => self.selector(s),
                    None => LabelSel::any(),
                };
                vec![Piece {
                    set: PeerSet::in_namespace(&ns.node, pods),
                    ports: None,
                    span: p.span,
                }]
            }
            RKind::NamespaceLabels { namespaces, pods } => {
                let n = self.selector(namespaces);
                let pods = match pods {
                    Some(s) => self.selector(s),
                    None => LabelSel::any(),
                };
                vec![Piece {
                    set: PeerSet::Pods {
                        namespaces: n,
                        pods,
                    },
                    ports: None,
                    span: p.span,
                }]
            }
            RKind::Union(items) => {
                let mut out: Vec<Piece> = items.iter().flat_map(|i| self.peer(i)).collect();
                for piece in &mut out {
                    piece.span = p.span;
                }
                out
            }
        };
        if let Some(ports) = &p.ports {
            let ps = self.ports(ports);
            for piece in &mut base {
                if let Some((_, inner)) = &piece.ports {
                    self.err(
                        Diagnostic::error("E0107", "this peer already carries ports")
                            .at(ports.span, "ports given again")
                            .with_label(*inner, "ports of the inner definition"),
                    );
                }
                piece.ports = Some((ps.clone(), ports.span));
            }
        }
        if p.except.is_empty() {
            return base;
        }
        self.same_block_excepts(&p.except);
        if let Some(b) = base.iter().find(|b| matches!(b.set, PeerSet::Names(_))) {
            self.err(dns_out_of_place(
                b.span,
                "nothing can be taken out of a DNS name with `except`",
                "a DNS name denotes whatever its names resolve to; list the names meant instead (`dns:a.example.com | dns:b.example.com`), or deny the addresses by block",
            ));
            return vec![];
        }
        let mut holes = Vec::new();
        for e in &p.except {
            for piece in self.peer(e) {
                if let PeerSet::Names(_) = piece.set {
                    self.err(dns_out_of_place(
                        piece.span,
                        "a DNS name cannot be taken out with `except`",
                        "Cilium cannot take names out of a peer; take the addresses out by block (`world except 203.0.113.0/24`)",
                    ));
                    continue;
                }
                if piece.ports.is_some() {
                    self.err(
                        Diagnostic::error("E0304", "an `except` cannot carry ports")
                            .at(piece.span, "has ports")
                            .with_help("`except` removes peers; put ports on the destination"),
                    );
                }
                holes.push(piece);
            }
        }
        // Each part is taken out of the pieces of the base of its own kind;
        // an address part must lie strictly inside one block of the base
        // (as Kubernetes requires of an `except` in its `cidr`), so that
        // `rfc1918 except 10.1.0.0/16` is each block with its own holes.
        let mut sets: Vec<(PeerSet, Option<(PortSet, Span)>)> = base
            .iter()
            .map(|b| (b.set.clone(), b.ports.clone()))
            .collect();
        // parts in content order, so that the pieces do not depend on the
        // order the parts are written in
        let mut ordered: Vec<&Piece> = holes.iter().collect();
        ordered.sort_by(|a, b| a.set.cmp(&b.set));
        for h in ordered {
            let same_kind = |set: &PeerSet| {
                matches!(
                    (set, &h.set),
                    (PeerSet::External(_), PeerSet::External(_))
                        | (PeerSet::Pods { .. }, PeerSet::Pods { .. })
                )
            };
            let Some(first) = base.iter().find(|b| same_kind(&b.set)) else {
                let from = base.first().map(|b| b.span).unwrap_or(p.span);
                self.err(
                    Diagnostic::error("E0304", "`except` must remove the same kind of peer")
                        .at(h.span, "this is not the same kind")
                        .with_label(from, "from this")
                        .with_help("take address blocks out of address blocks (`10.0.0.0/8 except 10.1.0.0/16`) and pods out of pods (`cluster except kube-system/*`)"),
                );
                continue;
            };
            if let PeerSet::External(hole_ips) = &h.set {
                let inside = base.iter().any(|b| {
                    matches!(&b.set, PeerSet::External(block) if hole_ips.is_subset(block) && hole_ips != block)
                });
                if !inside {
                    let whole = base
                        .iter()
                        .any(|b| matches!(&b.set, PeerSet::External(block) if hole_ips == block));
                    self.err(
                        Diagnostic::error("E0303", "`except` must lie strictly inside its block")
                            .at(h.span, if whole { "the whole block" } else { "not inside one block" })
                            .with_label(first.span, "the block")
                            .with_help("Kubernetes rejects an `except` that is not a proper part of its `cidr`: each part must lie inside one block of what it is taken from; remove it or widen the block"),
                    );
                    continue;
                }
            }
            sets = sets
                .into_iter()
                .flat_map(|(set, ports)| {
                    if same_kind(&set) {
                        set.minus(&h.set)
                            .into_iter()
                            .map(|s| (s, ports.clone()))
                            .collect::<Vec<_>>()
                    } else {
                        vec![(set, ports)]
                    }
                })
                .collect();
        }
        let out: Vec<Piece> = sets
            .into_iter()
            .map(|(set, ports)| Piece {
                set,
                ports,
                span: p.span,
            })
            .collect();
        // two excepts that are the same block (a typo such as 172.17.0.1/24 three times)
        let mut seen: Vec<(IpSet, Span)> = Vec::new();
        for h in &holes {
            if let PeerSet::External(s) = &h.set {
                if let Some((_, first)) = seen.iter().find(|(x, _)| x == s) {
                    self.diags.push(
                        Diagnostic::warning("W0608", "this `except` repeats an earlier one")
                            .at(h.span, "the same block again")
                            .with_label(*first, "first here"),
                    );
                } else {
                    seen.push((s.clone(), h.span));
                }
            }
        }
        out
    }

    /// Excepts written with host bits that all name one block (seed 004
    /// writes `172.17.0.1/24` three times): say so once, with every place.
    fn same_block_excepts(&mut self, excepts: &[RPeer]) {
        let mut groups: std::collections::BTreeMap<IpNet, Vec<(String, Span)>> =
            std::collections::BTreeMap::new();
        for e in excepts {
            if let RKind::Address(a) = &e.kind {
                if let Ok(net) = unbracket(a).parse::<IpNet>() {
                    if net.trunc() != net {
                        groups
                            .entry(net.trunc())
                            .or_default()
                            .push((a.clone(), e.span));
                    }
                }
            }
        }
        for (net, items) in groups {
            if items.len() < 2 {
                continue;
            }
            let names: Vec<String> = items.iter().map(|(a, _)| format!("`{a}`")).collect();
            let mut d = Diagnostic::warning(
                "W0608",
                format!("{} all name the same block `{net}`", names.join(", ")),
            )
            .at(items[0].1, "this block");
            for (_, sp) in &items[1..] {
                d = d.with_label(*sp, "the same block");
            }
            self.diags.push(d.with_help(format!(
                "each is read as `{net}` once its host bits are cleared; write the blocks meant, such as `{}`",
                items.iter().enumerate().map(|(i, _)| guess_block(&net, i + 1)).collect::<Vec<_>>().join(", ")
            )));
        }
    }

    fn address(&mut self, text: &str, span: Span) -> Option<IpSet> {
        match address(text, span) {
            Ok(set) => Some(set),
            Err(d) => {
                self.err(d);
                None
            }
        }
    }

    pub fn namespace_name(&mut self, name: &str, span: Span) {
        if !is_dns1123_label(name) {
            self.err(
                Diagnostic::error("E0203", format!("`{name}` is not a valid namespace name"))
                    .at(span, "not a DNS-1123 label")
                    .with_help("namespace names have at most 63 characters: lowercase letters, digits and `-`, starting and ending with a letter or digit"),
            );
        }
    }

    /// The labels a `labels { ... }` statement states for namespace `ns`:
    /// `key=value` requirements only (E0208), valid keys and values, and
    /// [`ir::NAME_LABEL`], always implied, only with the namespace's name
    /// (E0209).
    fn stated_labels(
        &mut self,
        ns: &str,
        sel: &ast::Selector,
    ) -> std::collections::BTreeMap<String, String> {
        let mut out = std::collections::BTreeMap::new();
        // keys and values checked as in any selector (whose notes about
        // `!=` and contradictions do not apply to a list of labels)
        let mark = self.diags.len();
        let _ = self.selector(sel);
        let mut i = mark;
        while i < self.diags.len() {
            if self.diags[i].is_error() {
                i += 1;
            } else {
                self.diags.remove(i);
            }
        }
        for r in &sel.requirements {
            let value = match (r.op, r.values.as_slice()) {
                (ReqOp::Eq, [v]) if !r.missing_value => v,
                _ => {
                    self.err(
                        Diagnostic::error("E0208", "a namespace's labels are `key=value` pairs")
                            .at(r.span, "not one key and one value")
                            .with_help("state every label of the namespace with its value: `labels {team=ops, env=prod}` (`labels {}` when it has none but its name)"),
                    );
                    continue;
                }
            };
            if r.key.node == ir::NAME_LABEL && value.node != ns {
                self.err(
                    Diagnostic::error(
                        "E0209",
                        format!("namespace `{ns}` carries `{}={ns}`", ir::NAME_LABEL),
                    )
                    .at(r.span, format!("states another value for `{}`", ir::NAME_LABEL))
                    .with_help("the API server sets this label to the namespace's name; leave it out (it is always implied)"),
                );
                continue;
            }
            if let Some(prev) = out.insert(r.key.node.clone(), value.node.clone()) {
                if prev != value.node {
                    self.err(
                        Diagnostic::error(
                            "E0208",
                            format!("the label `{}` is stated twice", r.key.node),
                        )
                        .at(r.span, "a second value")
                        .with_help("a namespace has one value for each label key"),
                    );
                }
            }
        }
        out.insert(ir::NAME_LABEL.to_string(), ns.to_string());
        out
    }

    fn selector(&mut self, s: &ast::Selector) -> LabelSel {
        let mut sel = LabelSel::any();
        for r in &s.requirements {
            if let Some((prefix, _)) = r.key.node.split_once('/') {
                if !r.quoted_key && !prefix.contains('.') {
                    self.err(
                        Diagnostic::error(
                            "E0207",
                            format!("`{}` reads as a label key with the prefix `{prefix}`", r.key.node),
                        )
                        .at(r.key.span, "a label key, not a namespace")
                        .with_help(format!(
                            "a namespace is named only where a peer starts; for pods of namespace `{prefix}` as a peer of their own, join peers with `|` (`... | {}`); for a label key whose prefix has no dot, quote it: `\"{}\"`",
                            r.written(), r.key.node
                        )),
                    );
                    continue;
                }
            }
            if !is_label_key(&r.key.node) {
                self.err(
                    Diagnostic::error("E0201", format!("`{}` is not a valid label key", r.key.node))
                        .at(r.key.span, "invalid label key")
                        .with_help("a label key is an optional DNS subdomain prefix and `/`, then at most 63 characters: letters, digits, `-`, `_`, `.`, starting and ending with a letter or digit"),
                );
            }
            for v in &r.values {
                if !is_label_value(&v.node) {
                    self.err(
                        Diagnostic::error("E0202", format!("`{}` is not a valid label value", v.node))
                            .at(v.span, "invalid label value")
                            .with_help("a label value has at most 63 characters: letters, digits, `-`, `_`, `.`, starting and ending with a letter or digit (or is empty: `\"\"`)"),
                    );
                }
            }
            let vals: crate::ir::sorted::VecSet<String> =
                r.values.iter().map(|v| v.node.clone()).collect();
            let c = match r.op {
                ReqOp::EqEq => {
                    self.err(
                        Diagnostic::error("E0204", "`==` is not a selector operator")
                            .at(r.span, "`==` here")
                            .with_help(format!(
                                "write `{}={}`",
                                r.key.node,
                                r.values.first().map(|v| v.node.as_str()).unwrap_or("VALUE")
                            )),
                    );
                    KeyC::one_of(vals)
                }
                _ if r.missing_value => {
                    self.err(
                        Diagnostic::error("E0205", format!("`{}` has no value", r.key.node))
                            .at(r.span, "missing value")
                            .with_help(format!("write a value (`{k}=api`), `{k}=*` for any value, or `{k}=\"\"` for the empty value", k = r.key.node)),
                    );
                    KeyC::any()
                }
                ReqOp::Eq => KeyC::one_of(vals),
                ReqOp::NotEq => {
                    self.not_note(r);
                    KeyC::none_of(vals)
                }
                ReqOp::In | ReqOp::NotIn if vals.is_empty() => {
                    self.err(
                        Diagnostic::error("E0206", "an empty value list")
                            .at(r.span, "`()` holds no values")
                            .with_help("list at least one value: `tier in (web, api)`"),
                    );
                    KeyC::any()
                }
                ReqOp::In => KeyC::one_of(vals),
                ReqOp::NotIn => {
                    self.not_note(r);
                    KeyC::none_of(vals)
                }
                ReqOp::Exists => KeyC::exists(),
                ReqOp::NotExists => KeyC::missing(),
            };
            sel = sel.with(&r.key.node, c);
        }
        if sel.is_empty() {
            self.diags.push(
                Diagnostic::warning("W0607", "this selector matches nothing")
                    .at(s.span, "contradictory requirements")
                    .with_help("two requirements on the same key exclude each other"),
            );
        }
        sel
    }

    fn not_note(&mut self, r: &ast::Requirement) {
        let k = &r.key.node;
        self.diags.push(
            Diagnostic::note(
                "W0605",
                format!("this also matches pods without a `{k}` label"),
            )
            .at(r.span, "`!=` and `notin` match a missing key")
            .with_help(format!(
                "to require the label, add `{k}=*`: `{k}=*, {}`",
                span_text_hint(r)
            )),
        );
    }

    fn ports(&mut self, ports: &Spanned<Vec<PortItem>>) -> PortSet {
        if ports.node.is_empty() {
            self.err(
                Diagnostic::error("E0406", "a `:` with no port after it")
                    .at(ports.span, "missing port")
                    .with_help("write a port (`:5432`), a range (`:8000-8100`), a protocol (`:udp/53`, `:udp`), or remove the `:` to allow every port"),
            );
            return PortSet::all();
        }
        let mut out = PortSet::empty();
        for item in &ports.node {
            let proto = item
                .protocol
                .as_ref()
                .and_then(|p| Protocol::parse(&p.node))
                .unwrap_or(Protocol::Tcp);
            match &item.spec {
                None => out.add_range(proto, 1, 65535),
                Some(PortSpec::Single(PortAtom::Number(n))) => {
                    if let Some(v) = self.port_number(n) {
                        out.add_range(proto, v, v);
                    }
                }
                Some(PortSpec::Single(PortAtom::Name(n))) => {
                    if self.port_name(n) {
                        out = out.union(&PortSet::named(proto, &n.node));
                    }
                }
                Some(PortSpec::Range(a, b)) => match (a, b) {
                    (PortAtom::Number(a), PortAtom::Number(b)) => {
                        let (lo, hi) = (self.port_number(a), self.port_number(b));
                        if let (Some(lo), Some(hi)) = (lo, hi) {
                            if lo > hi {
                                self.err(
                                    Diagnostic::error(
                                        "E0402",
                                        format!("the range `{lo}-{hi}` is reversed"),
                                    )
                                    .at(item.span, "the first port is above the last")
                                    .with_help(format!("write `{hi}-{lo}`")),
                                );
                            } else {
                                out.add_range(proto, lo, hi);
                            }
                        }
                    }
                    (x, y) => {
                        let name = match (x, y) {
                            (PortAtom::Name(n), _) | (_, PortAtom::Name(n)) => n,
                            _ => continue,
                        };
                        self.err(
                            Diagnostic::error("E0404", format!("the named port `{}` cannot be part of a range", name.node))
                                .at(item.span, "a range with a name")
                                .with_help("a range takes port numbers (`8000-8100`); a named port stands alone (`http`)"),
                        );
                    }
                },
            }
        }
        out
    }

    fn port_number(&mut self, n: &Spanned<String>) -> Option<u16> {
        match n.node.parse::<u32>() {
            Ok(v) if (1..=65535).contains(&v) => Some(v as u16),
            _ => {
                self.err(
                    Diagnostic::error("E0401", format!("port `{}` is out of range", n.node))
                        .at(n.span, "ports are 1 to 65535")
                        .with_help(if n.node.trim_start_matches('0').is_empty() {
                            "port 0 is not a port; leave out the ports to allow every port"
                        } else {
                            "write a port from 1 to 65535"
                        }),
                );
                None
            }
        }
    }

    fn port_name(&mut self, n: &Spanned<String>) -> bool {
        let s = &n.node;
        let ok = validate::is_port_name(s);
        if !ok {
            self.err(
                Diagnostic::error("E0403", format!("`{s}` is not a valid port name"))
                    .at(n.span, "invalid port name")
                    .with_help("a port name (IANA service name) has at most 15 characters: lowercase letters, digits and `-`, with at least one letter, no `-` at either end and no `--`"),
            );
        }
        ok
    }
}

/// The `n`th block of the same size after `net` (`172.17.0.0/24`, 1 →
/// `172.17.1.0/24`), to show what distinct blocks look like.
fn guess_block(net: &IpNet, n: usize) -> String {
    match net {
        IpNet::V4(v) => {
            let size = 1u64 << (32 - v.prefix_len() as u32);
            let start = u32::from(v.network()) as u64 + size * n as u64;
            if start > u32::MAX as u64 {
                return net.to_string();
            }
            format!(
                "{}/{}",
                std::net::Ipv4Addr::from(start as u32),
                v.prefix_len()
            )
        }
        IpNet::V6(_) => net.to_string(),
    }
}

fn span_text_hint(r: &ast::Requirement) -> String {
    let vals: Vec<&str> = r.values.iter().map(|v| v.node.as_str()).collect();
    match r.op {
        ReqOp::NotEq => format!("{}!={}", r.key.node, vals.join("")),
        _ => format!("{} notin ({})", r.key.node, vals.join(", ")),
    }
}

/// `@silence(...)` codes as the IR keeps them.
fn silenced(codes: &[crate::syntax::ast::Spanned<String>]) -> Vec<ir::Silenced> {
    codes
        .iter()
        .map(|s| ir::Silenced {
            code: s.node.clone(),
            span: s.span,
        })
        .collect()
}
