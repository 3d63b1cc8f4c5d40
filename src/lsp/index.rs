//! The language server's name index: what each file declares and which
//! names it uses, and how a use resolves, by the scoping rules of
//! `resolve.rs` (a namespace's own names, then top-level names, then the
//! stdlib modules the file `use`s) and of the node firewall
//! (`firewall/check.rs`: roles, `port` declarations). Input: one file's
//! AST and text (a [`FileIndex`], built once per parse), then every
//! file's index. Output: an [`Index`] that answers go to definition, find
//! references, rename, hover on names and the names completion offers.
//! It never reports errors (the compiler does); a name that does not
//! resolve here resolves nowhere.

use crate::source::{FileId, Span};
use crate::stdlib;
use crate::syntax::ast::{self, PeerKind, PodPart, PortAtom, PortSpec};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// The file ids of the embedded stdlib modules in the index: far above
/// any workspace file.
pub const STD_BASE: usize = 1 << 40;

/// What a declaration declares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    Workload,
    Define,
    Port,
    Role,
}

impl Kind {
    pub fn word(self) -> &'static str {
        match self {
            Kind::Workload => "workload",
            Kind::Define => "define",
            Kind::Port => "port",
            Kind::Role => "role",
        }
    }
}

/// One declaration (`workload`, `define`, `port`, `role`).
#[derive(Debug, Clone)]
pub struct Decl {
    pub kind: Kind,
    pub name: String,
    /// The namespace block it is declared in.
    pub scope: Option<String>,
    pub name_span: Span,
    pub span: Span,
    /// What a `define` or `workload` stands for.
    pub value: Option<ast::Side>,
    /// The declaration as written (cut after 400 bytes).
    pub text: String,
}

/// Where a name is used, and how it is looked up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefKind {
    /// A peer in a namespace block or a top-level definition.
    Peer,
    /// A peer in a `nodes` block: a role or an address definition.
    NodePeer,
    /// A component port name in a `nodes` rule or a role's `runs`.
    Port,
    /// A role after `on` in a `port` declaration.
    Role,
    /// A module after `use`.
    Module,
}

#[derive(Debug, Clone)]
pub struct Ref {
    pub kind: RefKind,
    pub name: String,
    /// The namespace block it is written in.
    pub ns: Option<String>,
    /// `NS` of `NS/name`.
    pub explicit_ns: Option<String>,
    pub span: Span,
}

/// What a statement is, for hover.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StmtKind {
    Rule,
    Posture,
    Isolate,
}

/// The index of one file.
#[derive(Debug, Clone, Default)]
pub struct FileIndex {
    pub file: FileId,
    /// The stdlib module this file is, if it is one.
    pub module: Option<String>,
    pub decls: Vec<Decl>,
    pub refs: Vec<Ref>,
    /// Modules named by `use`.
    pub uses: BTreeSet<String>,
    /// Label keys and the values written for them, in selectors.
    pub labels: BTreeMap<String, BTreeSet<String>>,
    /// Namespace blocks: (name, span of the block).
    pub namespaces: Vec<(String, Span)>,
    /// Statements of namespace blocks: (span, kind, namespace).
    pub statements: Vec<(Span, StmtKind, String)>,
    /// Peers that select pods by labels (`app=api`, `ns/app=api`, `ns/*`),
    /// without their `except`: (span, the namespace block, the peer), for
    /// the pods of a population they match.
    pub selectors: Vec<(Span, Option<String>, ast::Peer)>,
}

/// What a name denotes: the key of its declaration.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Target {
    /// A `define`/`workload` of the sources (scope: its namespace).
    Def {
        scope: Option<String>,
        name: String,
    },
    /// A definition of a stdlib module.
    Std {
        module: String,
        name: String,
    },
    /// A `port` declaration (`module`: of a stdlib module).
    Port {
        module: Option<String>,
        name: String,
    },
    Role {
        name: String,
    },
    Module {
        name: String,
    },
}

impl Target {
    /// Whether rename may change it: names the sources declare.
    pub fn renamable(&self) -> bool {
        matches!(self, Target::Def { .. } | Target::Role { .. })
            || matches!(self, Target::Port { module: None, .. })
    }
}

/// Builds a file's index from its AST and the text it was parsed from.
pub fn index_file(f: &ast::File, text: &str, module: Option<&str>) -> FileIndex {
    let mut b = FileIndex {
        file: f.id,
        module: module.map(str::to_string),
        ..FileIndex::default()
    };
    let snippet = |s: Span| -> String {
        let t = text.get(s.start..s.end.min(text.len())).unwrap_or("");
        match t.char_indices().nth(400) {
            Some((i, _)) => format!("{} …", &t[..i]),
            None => t.to_string(),
        }
    };
    for item in &f.items {
        match item {
            ast::Item::Use(mods) => {
                for m in mods {
                    b.uses.insert(m.node.clone());
                    b.refs.push(Ref {
                        kind: RefKind::Module,
                        name: m.node.clone(),
                        ns: None,
                        explicit_ns: None,
                        span: m.span,
                    });
                }
            }
            ast::Item::Define(d) => {
                b.decl(d, None, snippet(d.span));
                b.side(&d.value, None, false, text);
            }
            ast::Item::Namespace(blk) => {
                let ns = blk.name.node.clone();
                b.namespaces.push((ns.clone(), blk.span));
                for s in &blk.statements {
                    match s {
                        ast::Statement::Define(d) => {
                            b.decl(d, Some(ns.clone()), snippet(d.span));
                            b.side(&d.value, Some(&ns), false, text);
                        }
                        ast::Statement::Rule(r) => {
                            b.statements.push((r.span, StmtKind::Rule, ns.clone()));
                            for side in r.src.iter().chain(r.dst.iter()) {
                                b.side(side, Some(&ns), false, text);
                            }
                        }
                        ast::Statement::Isolate { targets, span, .. } => {
                            b.statements.push((*span, StmtKind::Isolate, ns.clone()));
                            for p in targets {
                                b.peer(p, Some(&ns), false, text);
                            }
                        }
                        ast::Statement::Posture { span, .. } => {
                            b.statements.push((*span, StmtKind::Posture, ns.clone()));
                        }
                        // literal labels: no names to index
                        ast::Statement::Labels { .. } => {}
                    }
                }
            }
        }
    }
    for n in &f.nodes {
        for role in &n.roles {
            b.decls.push(Decl {
                kind: Kind::Role,
                name: role.name.node.clone(),
                scope: None,
                name_span: role.name.span,
                span: role.span,
                value: None,
                text: snippet(role.span),
            });
            for p in &role.addresses {
                b.peer(p, None, true, text);
            }
            for c in role.runs.iter().flatten() {
                b.reference(RefKind::Port, &c.node, None, None, c.span);
            }
        }
        for r in &n.rules {
            b.side(&r.src, None, true, text);
            b.side(&r.dst, None, true, text);
            for item in r.dst.ports.iter().flat_map(|p| p.node.iter()) {
                let atoms = match &item.spec {
                    Some(PortSpec::Single(a)) => vec![a],
                    Some(PortSpec::Range(a, c)) => vec![a, c],
                    None => vec![],
                };
                for a in atoms {
                    if let PortAtom::Name(n) = a {
                        b.reference(RefKind::Port, &n.node, None, None, n.span);
                    }
                }
            }
        }
    }
    for p in &f.ports {
        b.decls.push(Decl {
            kind: Kind::Port,
            name: p.name.node.clone(),
            scope: None,
            name_span: p.name.span,
            span: p.span,
            value: None,
            text: snippet(p.span),
        });
        for r in &p.on {
            b.reference(RefKind::Role, &r.node, None, None, r.span);
        }
    }
    b
}

impl FileIndex {
    /// What declaration `d` of this file declares, as references name it.
    fn target_of(&self, d: &Decl) -> Target {
        match (&self.module, d.kind) {
            (Some(m), Kind::Define | Kind::Workload) => Target::Std {
                module: m.clone(),
                name: d.name.clone(),
            },
            (None, Kind::Define | Kind::Workload) => Target::Def {
                scope: d.scope.clone(),
                name: d.name.clone(),
            },
            (m, Kind::Port) => Target::Port {
                module: m.clone(),
                name: d.name.clone(),
            },
            (_, Kind::Role) => Target::Role {
                name: d.name.clone(),
            },
        }
    }

    fn decl(&mut self, d: &ast::Define, scope: Option<String>, text: String) {
        self.decls.push(Decl {
            kind: if d.workload {
                Kind::Workload
            } else {
                Kind::Define
            },
            name: d.name.node.clone(),
            scope,
            name_span: d.name.span,
            span: d.span,
            value: Some(d.value.clone()),
            text,
        });
    }

    fn reference(
        &mut self,
        kind: RefKind,
        name: &str,
        ns: Option<&str>,
        explicit_ns: Option<&str>,
        span: Span,
    ) {
        self.refs.push(Ref {
            kind,
            name: name.to_string(),
            ns: ns.map(str::to_string),
            explicit_ns: explicit_ns.map(str::to_string),
            span,
        });
    }

    fn side(&mut self, s: &ast::Side, ns: Option<&str>, nodes: bool, text: &str) {
        for p in &s.peers {
            self.peer(p, ns, nodes, text);
        }
    }

    fn peer(&mut self, p: &ast::Peer, ns: Option<&str>, nodes: bool, text: &str) {
        if matches!(
            p.kind,
            PeerKind::Selector(_)
                | PeerKind::Namespaced {
                    pods: PodPart::Selector(_) | PodPart::All,
                    ..
                }
        ) {
            let bare = ast::Peer {
                kind: p.kind.clone(),
                except: vec![],
                span: p.span,
            };
            self.selectors.push((p.span, ns.map(str::to_string), bare));
        }
        match &p.kind {
            PeerKind::Name(n) => {
                let span = name_span(text, p.span, n);
                let kind = if nodes {
                    RefKind::NodePeer
                } else {
                    RefKind::Peer
                };
                self.reference(kind, n, ns, None, span);
            }
            PeerKind::Namespaced { ns: target, pods } => match pods {
                PodPart::Name(n) => {
                    self.reference(RefKind::Peer, &n.node, ns, Some(&target.node), n.span)
                }
                PodPart::Selector(sel) => self.labels(sel),
                PodPart::All => {}
            },
            PeerKind::Selector(sel) => self.labels(sel),
            PeerKind::NamespaceLabels { pods, .. } => {
                if let PodPart::Selector(sel) = pods {
                    self.labels(sel);
                }
            }
            PeerKind::Group(ps) => {
                for q in ps {
                    self.peer(q, ns, nodes, text);
                }
            }
            PeerKind::AllPods
            | PeerKind::Cluster
            | PeerKind::World
            | PeerKind::Address(_)
            | PeerKind::Dns(_) => {}
        }
        for e in &p.except {
            self.peer(e, ns, nodes, text);
        }
    }

    fn labels(&mut self, sel: &ast::Selector) {
        for r in &sel.requirements {
            let vals = self.labels.entry(r.key.node.clone()).or_default();
            for v in &r.values {
                vals.insert(v.node.clone());
            }
        }
    }

    /// The index after edits of its text, for a file whose new text does
    /// not parse: spans after an edit move with it, names an edit touches
    /// are dropped. `edits`: (start, end, length of the new text), each
    /// in the text the one before it left.
    pub fn shifted(&self, edits: &[(usize, usize, usize)]) -> FileIndex {
        let mut out = self.clone();
        for &(a, b, n) in edits {
            // `None`: the span is edited away
            let moved = |s: Span| -> Option<Span> {
                if s.end < a {
                    Some(s)
                } else if s.start > b {
                    Some(Span::new(s.file, s.start - b + a + n, s.end - b + a + n))
                } else {
                    None
                }
            };
            out.refs = out
                .refs
                .into_iter()
                .filter_map(|mut r| {
                    r.span = moved(r.span)?;
                    Some(r)
                })
                .collect();
            out.decls = out
                .decls
                .into_iter()
                .filter_map(|mut d| {
                    d.name_span = moved(d.name_span)?;
                    d.span = moved(d.span).unwrap_or(d.name_span);
                    Some(d)
                })
                .collect();
            out.statements = out
                .statements
                .into_iter()
                .filter_map(|(s, k, ns)| Some((moved(s)?, k, ns)))
                .collect();
            out.selectors = out
                .selectors
                .into_iter()
                .filter_map(|(s, ns, p)| Some((moved(s)?, ns, p)))
                .collect();
        }
        out
    }

    /// The modules whose names this file sees.
    pub fn visible_modules(&self) -> impl Iterator<Item = &String> {
        self.uses.iter().chain(self.module.iter())
    }
}

/// The span of the name a peer starts with: a peer's span covers its
/// `except` too.
fn name_span(text: &str, peer: Span, name: &str) -> Span {
    let at = peer.start;
    if text.get(at..at + name.len()) == Some(name) {
        return Span::new(peer.file, at, at + name.len());
    }
    let within = text.get(peer.start..peer.end.min(text.len())).unwrap_or("");
    match within.find(name) {
        Some(i) => Span::new(peer.file, at + i, at + i + name.len()),
        None => peer,
    }
}

/// Where a declaration is: its file's index and its position there.
#[derive(Debug, Clone)]
pub struct DeclRef {
    pub file: Arc<FileIndex>,
    pub at: usize,
}

impl DeclRef {
    pub fn decl(&self) -> Option<&Decl> {
        self.file.decls.get(self.at)
    }
}

/// Every file's index and the declarations by key.
#[derive(Debug, Default)]
pub struct Index {
    pub files: BTreeMap<FileId, Arc<FileIndex>>,
    defs: BTreeMap<Target, DeclRef>,
    /// Label keys and values written anywhere.
    pub labels: BTreeMap<String, BTreeSet<String>>,
}

/// The stdlib modules, parsed and indexed, with their texts.
pub fn stdlib_files() -> Vec<(FileId, &'static str, &'static str, Arc<FileIndex>)> {
    stdlib::MODULES
        .iter()
        .enumerate()
        .filter_map(|(i, (name, text))| {
            let id = FileId(STD_BASE + i);
            let f = crate::syntax::parse_file(id, text).ok()?;
            Some((id, *name, *text, Arc::new(index_file(&f, text, Some(name)))))
        })
        .collect()
}

impl Index {
    /// The index of `files`, given in the order the compiler reads them
    /// (by name; the stdlib last): the first declaration of a key wins,
    /// as in the resolver.
    pub fn build(files: impl IntoIterator<Item = Arc<FileIndex>>) -> Index {
        let mut ix = Index::default();
        for f in files {
            for (at, d) in f.decls.iter().enumerate() {
                let key = f.target_of(d);
                ix.defs.entry(key).or_insert(DeclRef {
                    file: f.clone(),
                    at,
                });
            }
            if f.module.is_none() {
                for (k, vs) in &f.labels {
                    ix.labels
                        .entry(k.clone())
                        .or_default()
                        .extend(vs.iter().cloned());
                }
            }
            ix.files.insert(f.file, f);
        }
        ix
    }

    /// Puts a file's new index in place of its old one, when that leaves
    /// the rest as it is: the same declarations (kind, scope and name, in
    /// order: which declaration of a key comes first stays) and the same
    /// labels. `false` when the index is to be built again.
    pub fn replace(&mut self, new: Arc<FileIndex>) -> bool {
        let Some(old) = self.files.get(&new.file) else {
            return false;
        };
        let keys = |f: &FileIndex| -> Vec<(Kind, Option<String>, String)> {
            f.decls
                .iter()
                .map(|d| (d.kind, d.scope.clone(), d.name.clone()))
                .collect()
        };
        if old.module != new.module || old.labels != new.labels || keys(old) != keys(&new) {
            return false;
        }
        let file = new.file;
        for d in self.defs.values_mut() {
            if d.file.file == file {
                d.file = new.clone();
            }
        }
        self.files.insert(file, new);
        true
    }

    pub fn decl(&self, t: &Target) -> Option<&DeclRef> {
        self.defs.get(t)
    }

    fn has(&self, t: &Target) -> bool {
        self.defs.contains_key(t)
    }

    /// What a use of a name denotes, by the compiler's lookup order.
    pub fn resolve(&self, file: &FileIndex, r: &Ref) -> Option<Target> {
        let def = |scope: Option<&str>| Target::Def {
            scope: scope.map(str::to_string),
            name: r.name.clone(),
        };
        let std = || {
            file.visible_modules()
                .map(|m| Target::Std {
                    module: m.clone(),
                    name: r.name.clone(),
                })
                .find(|t| self.has(t))
        };
        let found = |t: Target| if self.has(&t) { Some(t) } else { None };
        match r.kind {
            RefKind::Module => stdlib::module(&r.name).map(|_| Target::Module {
                name: r.name.clone(),
            }),
            RefKind::Peer => match &r.explicit_ns {
                Some(ns) => found(def(Some(ns))),
                None => {
                    r.ns.as_deref()
                        .and_then(|ns| found(def(Some(ns))))
                        .or_else(|| found(def(None)))
                        .or_else(std)
                }
            },
            RefKind::NodePeer => found(Target::Role {
                name: r.name.clone(),
            })
            .or_else(|| found(def(None)))
            .or_else(std),
            RefKind::Port => found(Target::Port {
                module: None,
                name: r.name.clone(),
            })
            .or_else(|| {
                file.visible_modules()
                    .map(|m| Target::Port {
                        module: Some(m.clone()),
                        name: r.name.clone(),
                    })
                    .find(|t| self.has(t))
            }),
            RefKind::Role => found(Target::Role {
                name: r.name.clone(),
            }),
        }
    }

    /// The name at `offset` of `file`: what it denotes and where it is
    /// written.
    pub fn at(&self, file: FileId, offset: usize) -> Option<(Target, Span)> {
        let f = self.files.get(&file)?;
        let inside = |s: &Span| s.start <= offset && offset <= s.end;
        if let Some(r) = f.refs.iter().find(|r| inside(&r.span)) {
            return self.resolve(f, r).map(|t| (t, r.span));
        }
        let d = f.decls.iter().find(|d| inside(&d.name_span))?;
        let t = f.target_of(d);
        Some((t, d.name_span))
    }

    /// Every place that names `t`: its declaration first (when asked),
    /// then its uses in file order.
    pub fn references(&self, t: &Target, declaration: bool) -> Vec<Span> {
        let mut out = Vec::new();
        if declaration {
            if let Some(d) = self.decl(t).and_then(DeclRef::decl) {
                out.push(d.name_span);
            }
        }
        for f in self.files.values() {
            for r in &f.refs {
                if r.name == target_name(t) && self.resolve(f, r).as_ref() == Some(t) {
                    out.push(r.span);
                }
            }
        }
        out
    }

    /// The names a peer may be at `offset` of `file`, in namespace `ns`
    /// (or in a `nodes` block): (name, what it is).
    pub fn visible(&self, file: FileId, ns: Option<&str>, nodes: bool) -> Vec<(String, String)> {
        let mut out = BTreeMap::new();
        let modules: BTreeSet<String> = self
            .files
            .get(&file)
            .map(|f| f.visible_modules().cloned().collect())
            .unwrap_or_default();
        for (t, d) in &self.defs {
            let Some(decl) = d.decl() else { continue };
            let ok = match t {
                Target::Def { scope, .. } => scope.is_none() || scope.as_deref() == ns,
                Target::Std { module, .. } => modules.contains(module),
                Target::Role { .. } => nodes,
                _ => false,
            };
            if ok {
                let what = match t {
                    Target::Std { module, .. } => {
                        format!("{} (stdlib `{module}`)", decl.kind.word())
                    }
                    _ => decl.kind.word().to_string(),
                };
                out.entry(decl.name.clone()).or_insert(what);
            }
        }
        out.into_iter().collect()
    }

    /// The component port names a `nodes` rule of `file` may name.
    pub fn port_names(&self, file: FileId) -> Vec<String> {
        let modules: BTreeSet<String> = self
            .files
            .get(&file)
            .map(|f| f.visible_modules().cloned().collect())
            .unwrap_or_default();
        let mut out: BTreeSet<String> = BTreeSet::new();
        for t in self.defs.keys() {
            if let Target::Port { module, name } = t {
                if module.as_ref().is_none_or(|m| modules.contains(m)) {
                    out.insert(name.clone());
                }
            }
        }
        out.into_iter().collect()
    }

    /// The workloads and definitions of namespace `ns`.
    pub fn in_namespace(&self, ns: &str) -> Vec<String> {
        self.defs
            .keys()
            .filter_map(|t| match t {
                Target::Def {
                    scope: Some(s),
                    name,
                } if s == ns => Some(name.clone()),
                _ => None,
            })
            .collect()
    }

    /// Every namespace a block declares.
    pub fn namespaces(&self) -> BTreeSet<String> {
        self.files
            .values()
            .flat_map(|f| f.namespaces.iter().map(|(n, _)| n.clone()))
            .collect()
    }

    /// What a definition denotes, in words, names expanded (at most
    /// `depth` levels).
    pub fn describe_side(
        &self,
        file: &FileIndex,
        s: &ast::Side,
        ns: Option<&str>,
        depth: usize,
    ) -> String {
        let peers: Vec<String> = s
            .peers
            .iter()
            .map(|p| self.describe_peer(file, p, ns, depth))
            .collect();
        let mut out = peers.join("; or ");
        if let Some(ports) = &s.ports {
            out.push_str(&format!(", on {}", describe_ports(&ports.node)));
        }
        out
    }

    fn describe_peer(
        &self,
        file: &FileIndex,
        p: &ast::Peer,
        ns: Option<&str>,
        depth: usize,
    ) -> String {
        let here = ns
            .map(|n| format!("namespace `{n}`"))
            .unwrap_or_else(|| "the namespace where it is used".into());
        let sel_text = |s: &ast::Selector| {
            s.requirements
                .iter()
                .map(ast::Requirement::written)
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut out = match &p.kind {
            PeerKind::AllPods => format!("every pod of {here}"),
            PeerKind::Cluster => "every pod of every namespace".to_string(),
            PeerKind::World => "every external address (IPv4 and IPv6)".to_string(),
            PeerKind::Address(a) => format!("external addresses `{a}`"),
            PeerKind::Dns(n) => format!(
                "the external addresses `{n}` resolves to when a connection is made (a DNS name; cilium target only)"
            ),
            PeerKind::Selector(s) => format!("pods of {here} matching `{}`", sel_text(s)),
            PeerKind::Name(n) => self.describe_name(file, n, ns, None, depth),
            PeerKind::Namespaced { ns: t, pods } => match pods {
                PodPart::All => format!("every pod of namespace `{}`", t.node),
                PodPart::Selector(s) => {
                    format!("pods of namespace `{}` matching `{}`", t.node, sel_text(s))
                }
                PodPart::Name(n) => self.describe_name(file, &n.node, ns, Some(&t.node), depth),
            },
            PeerKind::NamespaceLabels { namespaces, pods } => {
                let pods = match pods {
                    PodPart::Selector(s) => format!("pods matching `{}`", sel_text(s)),
                    _ => "every pod".to_string(),
                };
                format!("{pods} in namespaces matching `{}`", sel_text(namespaces))
            }
            PeerKind::Group(ps) => format!(
                "({})",
                ps.iter()
                    .map(|q| self.describe_peer(file, q, ns, depth))
                    .collect::<Vec<_>>()
                    .join("; or ")
            ),
        };
        if !p.except.is_empty() {
            let ex: Vec<String> = p
                .except
                .iter()
                .map(|e| self.describe_peer(file, e, ns, depth))
                .collect();
            out.push_str(&format!(", except {}", ex.join(" and ")));
        }
        out
    }

    fn describe_name(
        &self,
        file: &FileIndex,
        n: &str,
        ns: Option<&str>,
        explicit: Option<&str>,
        depth: usize,
    ) -> String {
        let r = Ref {
            kind: RefKind::Peer,
            name: n.to_string(),
            ns: ns.map(str::to_string),
            explicit_ns: explicit.map(str::to_string),
            span: Span::default(),
        };
        let shown = match explicit {
            Some(e) => format!("{e}/{n}"),
            None => n.to_string(),
        };
        let Some(t) = self.resolve(file, &r) else {
            return format!("`{shown}` (not declared)");
        };
        let Some(d) = self.decl(&t) else {
            return format!("`{shown}`");
        };
        match (&d.decl().and_then(|x| x.value.clone()), depth) {
            (Some(v), 1..) => {
                let scope = d.decl().and_then(|x| x.scope.clone());
                let inner = self.describe_side(&d.file, v, scope.as_deref(), depth - 1);
                format!("`{shown}` = {inner}")
            }
            _ => format!("`{shown}`"),
        }
    }
}

/// The name a target declares.
pub fn target_name(t: &Target) -> &str {
    match t {
        Target::Def { name, .. }
        | Target::Std { name, .. }
        | Target::Port { name, .. }
        | Target::Role { name }
        | Target::Module { name } => name,
    }
}

/// Ports as written: `udp/53, tcp/53`.
pub fn describe_ports(items: &[ast::PortItem]) -> String {
    if items.is_empty() {
        return "no port".into();
    }
    let atom = |a: &PortAtom| match a {
        PortAtom::Number(n) | PortAtom::Name(n) => n.node.clone(),
    };
    let shown: Vec<String> = items
        .iter()
        .map(|i| {
            let spec = match &i.spec {
                Some(PortSpec::Single(a)) => atom(a),
                Some(PortSpec::Range(a, b)) => format!("{}-{}", atom(a), atom(b)),
                None => String::new(),
            };
            match (&i.protocol, spec.is_empty()) {
                (Some(p), true) => format!("every {} port", p.node),
                (Some(p), false) => format!("{}/{spec}", p.node),
                (None, _) => spec,
            }
        })
        .collect();
    format!("`{}`", shown.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shifted_spans_follow_edits() {
        let t = "namespace p {\n  workload db = app=pg\n  allow app=x -> db\n}\n";
        let f = crate::syntax::parse_file(FileId(0), t).unwrap();
        let fi = index_file(&f, t, None);
        let use_at = t.rfind("db").unwrap();
        // three characters typed at the start of line 3, before the use
        let a = t.find("  allow").unwrap();
        let s = fi.shifted(&[(a, a, 3)]);
        assert_eq!(s.refs[0].span.start, use_at + 3);
        assert_eq!(s.decls[0].name_span, fi.decls[0].name_span);
        // an edit over the use drops it
        let s = fi.shifted(&[(use_at, use_at + 2, 0)]);
        assert!(s.refs.is_empty());
    }

    fn ix(files: &[(&str, &str)]) -> Index {
        let mut all: Vec<Arc<FileIndex>> = files
            .iter()
            .enumerate()
            .map(|(i, (_, t))| {
                let f = crate::syntax::parse_file(FileId(i), t).unwrap();
                Arc::new(index_file(&f, t, None))
            })
            .collect();
        all.extend(stdlib_files().into_iter().map(|s| s.3));
        Index::build(all)
    }

    #[test]
    fn resolves_like_the_compiler() {
        let a = "use dns\nnamespace p {\n  workload db = app=pg\n  allow app=api -> db:5432\n  allow egress dns\n  allow q/db -> db\n}\n";
        let b = "namespace q {\n  workload db = app=other\n}\ndefine corp = 10.0.0.0/8\n";
        let i = ix(&[("a", a), ("b", b)]);
        // `db` in namespace p is p's workload, `q/db` is q's
        let at = a.find("-> db").unwrap() + 3;
        let (t, _) = i.at(FileId(0), at).unwrap();
        assert_eq!(
            t,
            Target::Def {
                scope: Some("p".into()),
                name: "db".into()
            }
        );
        let at = a.find("q/db").unwrap() + 2;
        let (t, _) = i.at(FileId(0), at).unwrap();
        assert_eq!(
            t,
            Target::Def {
                scope: Some("q".into()),
                name: "db".into()
            }
        );
        let refs = i.references(&t, true);
        assert_eq!(refs.len(), 2, "{refs:?}");
        // `dns` is the stdlib's
        let at = a.find("egress dns").unwrap() + 8;
        let (t, _) = i.at(FileId(0), at).unwrap();
        assert_eq!(
            t,
            Target::Std {
                module: "dns".into(),
                name: "dns".into()
            }
        );
        // the description expands names
        let d = i
            .decl(&Target::Def {
                scope: Some("p".into()),
                name: "db".into(),
            })
            .unwrap();
        let v = d.decl().unwrap().value.clone().unwrap();
        assert_eq!(
            i.describe_side(&d.file, &v, Some("p"), 4),
            "pods of namespace `p` matching `app=pg`"
        );
        let names: Vec<String> = i
            .visible(FileId(1), Some("q"), false)
            .into_iter()
            .map(|x| x.0)
            .collect();
        assert_eq!(names, vec!["corp".to_string(), "db".to_string()]);
    }
}
