//! Stage 2, resolve: names and scopes. Input: the ASTs of every file of a
//! build. Output: a [`Resolved`] program in which every name (`db`, `dns`,
//! `payments/api`) is replaced by what it denotes, every bare selector knows
//! its namespace, and namespace blocks spread over several files are merged.
//! Reports unknown names (with did-you-mean), unknown modules, duplicate
//! definitions and postures, and cycles between definitions.
//! [`resolve_incremental`] does the same again after an edit, lowering
//! only the files that need it (the language server).

use crate::diag::{did_you_mean, Diagnostic, Failed, Sink};
use crate::ir::{Action, Direction};
use crate::source::{FileId, SourceMap, Span};
use crate::stdlib;
use crate::syntax::ast::{self, PeerKind, PodPart, PortItem, Spanned};
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

/// A peer with names expanded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RPeer {
    pub kind: RKind,
    pub except: Vec<RPeer>,
    /// Where the peer is written (for a name: where the name is used).
    pub span: Span,
    /// Ports carried by a definition (`dns`).
    pub ports: Option<Spanned<Vec<PortItem>>>,
}

impl RPeer {
    /// No peer at all: what a name that could not be resolved denotes
    /// (after its error), so that lowering can go on.
    pub fn nothing(span: Span) -> RPeer {
        RPeer {
            kind: RKind::Union(vec![]),
            except: vec![],
            span,
            ports: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RKind {
    /// Every pod of a namespace.
    AllPods {
        ns: String,
    },
    Cluster,
    World,
    Address(String),
    /// `dns:NAME`, as written after `dns:`.
    Dns(String),
    /// Pods of namespace `ns` matching the selector.
    Pods {
        ns: Spanned<String>,
        sel: Option<ast::Selector>,
    },
    /// Pods matching `pods` in namespaces matching `namespaces`.
    NamespaceLabels {
        namespaces: ast::Selector,
        pods: Option<ast::Selector>,
    },
    /// What a name denotes.
    Union(Vec<RPeer>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RSide {
    pub peers: Vec<RPeer>,
    pub parenthesized: bool,
    pub ports: Option<Spanned<Vec<PortItem>>>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RRule {
    pub action: Action,
    pub namespace: String,
    pub shorthand: Option<Spanned<Direction>>,
    pub src: RSide,
    pub dst: RSide,
    /// `on ingress` / `on egress`: the one side the rule decides.
    pub scope: Option<Spanned<Direction>>,
    pub silence: Vec<Spanned<String>>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RIsolate {
    pub direction: Option<Direction>,
    pub targets: Vec<RPeer>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RNamespace {
    pub name: Spanned<String>,
    /// (allow, direction, span) of the `default` statement, if any.
    pub posture: Option<(bool, Option<Direction>, Span)>,
    /// Lint codes silenced on the namespace blocks and the posture.
    pub silence: Vec<Spanned<String>>,
    pub isolates: Vec<RIsolate>,
    /// `workload` declarations: (name, selector), used to name policies.
    pub workloads: Vec<(String, ast::Selector)>,
    /// `labels {...}`: the namespace's stated labels, and where.
    pub labels: Option<(ast::Selector, Span)>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Resolved {
    pub namespaces: BTreeMap<String, RNamespace>,
    pub rules: Vec<RRule>,
}

#[derive(Debug, Clone)]
struct Def<'a> {
    /// Borrowed from the build's files; owned for stdlib modules.
    def: Cow<'a, ast::Define>,
    /// Namespace of bare selectors in the definition.
    ns: Option<String>,
    file: FileId,
}

/// Scope key: `None` for top-level and stdlib names, `Some(ns)` for names
/// declared inside a namespace.
type Scope = Option<String>;

/// What every name can denote, collected from all files before lowering:
/// the build's scope. Lowering reads it, and so does the node firewall
/// (`crate::firewall::check`), which resolves address definitions and
/// component ports through [`Tables::define`], [`Tables::component`] and
/// [`Tables::unknown_help`] instead of scopes of its own.
#[derive(Default)]
pub struct Tables<'a> {
    defs: BTreeMap<(Scope, String), Def<'a>>,
    /// stdlib definitions by module.
    std_defs: BTreeMap<String, BTreeMap<String, Def<'a>>>,
    /// modules each file uses (a stdlib module's file sees its own names).
    uses: BTreeMap<FileId, BTreeSet<String>>,
    /// The stdlib modules the build uses, parsed, by name.
    modules: BTreeMap<String, ast::File>,
    /// Component ports the build's files declare (`port NAME = ...`).
    ports: BTreeMap<String, Cow<'a, ast::PortDecl>>,
    /// The stdlib modules in the order their texts joined the sources.
    stdlib_order: Vec<String>,
}

impl Tables<'_> {
    /// The tables with what they borrow from the build's files copied, to
    /// be kept after the files change (the language server).
    pub fn into_owned(self) -> Tables<'static> {
        let def = |d: Def<'_>| Def {
            def: Cow::Owned(d.def.into_owned()),
            ns: d.ns,
            file: d.file,
        };
        Tables {
            defs: self.defs.into_iter().map(|(k, d)| (k, def(d))).collect(),
            std_defs: self
                .std_defs
                .into_iter()
                .map(|(m, ds)| (m, ds.into_iter().map(|(k, d)| (k, def(d))).collect()))
                .collect(),
            uses: self.uses,
            modules: self.modules,
            ports: self
                .ports
                .into_iter()
                .map(|(k, p)| (k, Cow::Owned(p.into_owned())))
                .collect(),
            stdlib_order: self.stdlib_order,
        }
    }
}

/// What kind of name a lookup wants, for its hints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameKind {
    /// A `define` (or `workload`): peers or address blocks.
    Define,
    /// A component port (`port NAME = ...`).
    Port,
}

impl<'a> Tables<'a> {
    /// The top-level definition `name` as seen from `file` (the build's
    /// own first, then the stdlib modules `file` uses): the definition and
    /// the file it is written in.
    pub fn define(&self, name: &str, file: FileId) -> Option<(&ast::Define, FileId)> {
        if let Some(d) = self.defs.get(&(None, name.to_string())) {
            return Some((d.def.as_ref(), d.file));
        }
        self.used(file)
            .find_map(|m| self.std_defs.get(m).and_then(|d| d.get(name)))
            .map(|d| (d.def.as_ref(), d.file))
    }

    /// The component port `name` as seen from `file`.
    pub fn component(&self, name: &str, file: FileId) -> Option<&ast::PortDecl> {
        if let Some(d) = self.ports.get(name) {
            return Some(d.as_ref());
        }
        self.used(file).find_map(|m| {
            self.modules
                .get(m)
                .and_then(|f| f.ports.iter().find(|p| p.name.node == name))
        })
    }

    /// Every component port the build sees, by name: the stdlib modules'
    /// (the first module in name order wins), shadowed by the build's own.
    pub fn components(&self) -> BTreeMap<&str, &ast::PortDecl> {
        let mut all: BTreeMap<&str, &ast::PortDecl> = BTreeMap::new();
        for f in self.modules.values() {
            for p in &f.ports {
                all.entry(p.name.node.as_str()).or_insert(p);
            }
        }
        for (n, p) in &self.ports {
            all.insert(n.as_str(), p.as_ref());
        }
        all
    }

    /// The stdlib modules `file` sees.
    fn used(&self, file: FileId) -> impl Iterator<Item = &String> {
        self.uses.get(&file).into_iter().flatten()
    }

    /// The names of `kind` visible from `file` (in namespace `ns`, for
    /// definitions), for did-you-mean.
    fn visible(&self, kind: NameKind, file: FileId, ns: Option<&str>) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        match kind {
            NameKind::Define => {
                out.extend(
                    self.defs
                        .keys()
                        .filter(|(s, _)| s.is_none() || s.as_deref() == ns)
                        .map(|(_, k)| k.as_str()),
                );
                for m in self.used(file) {
                    if let Some(defs) = self.std_defs.get(m) {
                        out.extend(defs.keys().map(String::as_str));
                    }
                }
            }
            NameKind::Port => {
                out.extend(self.ports.keys().map(String::as_str));
                for m in self.used(file) {
                    if let Some(f) = self.modules.get(m) {
                        out.extend(f.ports.iter().map(|p| p.name.node.as_str()));
                    }
                }
            }
        }
        out
    }

    /// The help line for an unknown name of `kind` written in `file`, in
    /// one order for every stage: a standard-library module that has it
    /// exactly (`add use M`), else the closest visible name (or one of
    /// `extra`, such as the role names where a role may stand), else none.
    pub fn unknown_help(
        &self,
        name: &str,
        kind: NameKind,
        file: FileId,
        ns: Option<&str>,
        extra: &[&str],
    ) -> Option<String> {
        if let Some(m) = stdlib_module_with(name, kind) {
            return Some(format!(
                "`{name}` is in the standard library: add `use {m}` at the top of this file"
            ));
        }
        let mut candidates = self.visible(kind, file, ns);
        candidates.extend_from_slice(extra);
        did_you_mean(name, candidates).map(|s| format!("did you mean `{s}`?"))
    }
}

/// The first pass: definitions and `use`d modules into [`Tables`].
struct Resolver<'s, 'a> {
    sources: &'s mut SourceMap,
    diags: Vec<Diagnostic>,
    t: Tables<'a>,
}

/// The second pass over one file: names expanded through the shared,
/// read-only [`Tables`]; files lower independently (on both cores).
struct Lowerer<'t> {
    t: &'t Tables<'t>,
    diags: Vec<Diagnostic>,
    stack: Vec<(Scope, String)>,
}

/// Resolves a build's files. Stdlib modules named by `use` are added to
/// `sources` so that diagnostics can point into them.
pub fn resolve(
    files: &[ast::File],
    sources: &mut SourceMap,
    sink: &mut Sink,
) -> Result<Resolved, Failed> {
    resolve_scope(files, sources, sink).map(|(r, _)| r)
}

/// The first pass: every file's definitions and `use`d modules into the
/// shared tables, with what it reports.
fn collect_scope<'a>(
    files: &'a [ast::File],
    sources: &mut SourceMap,
) -> (Tables<'a>, Vec<Diagnostic>) {
    let mut r = Resolver {
        sources,
        diags: Vec::new(),
        t: Tables::default(),
    };
    r.collect(files);
    (r.t, r.diags)
}

/// [`resolve`], also returning the build's scope, for the stages that
/// look names up beside the policies (the node firewall).
pub fn resolve_scope<'a>(
    files: &'a [ast::File],
    sources: &mut SourceMap,
    sink: &mut Sink,
) -> Result<(Resolved, Tables<'a>), Failed> {
    let mark = sink.mark();
    let (t, mut diags) = collect_scope(files, sources);
    let out = lower(&t, files, &mut diags);
    sink.extend(diags);
    sink.finish(mark, (out, t))
}

impl<'a> Resolver<'_, 'a> {
    fn collect(&mut self, files: &'a [ast::File]) {
        for f in files {
            for d in &f.ports {
                self.add_port(d);
            }
            for item in &f.items {
                match item {
                    ast::Item::Use(mods) => {
                        for m in mods {
                            self.use_module(f.id, m);
                        }
                    }
                    ast::Item::Define(d) => self.add_def(None, d, None, f.id),
                    ast::Item::Namespace(b) => {
                        for s in &b.statements {
                            if let ast::Statement::Define(d) = s {
                                let scope = Some(b.name.node.clone());
                                self.add_def(scope.clone(), d, scope, f.id);
                            }
                        }
                    }
                }
            }
        }
    }

    fn use_module(&mut self, file: FileId, m: &Spanned<String>) {
        let Some(text) = stdlib::module(&m.node) else {
            let mut d = Diagnostic::error("E0102", format!("unknown stdlib module `{}`", m.node))
                .at(m.span, "no such module");
            d = match did_you_mean(&m.node, stdlib::names()) {
                Some(s) => d.with_help(format!("did you mean `{s}`?")),
                None => d.with_help(format!(
                    "the modules are: {}",
                    stdlib::names()
                        .map(|n| format!("`{n}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
            };
            self.diags.push(d);
            return;
        };
        self.t.uses.entry(file).or_default().insert(m.node.clone());
        if self.t.std_defs.contains_key(&m.node) {
            return;
        }
        let id = self
            .sources
            .add_stdlib(format!("<stdlib>/{}.npl", m.node), text);
        self.t.stdlib_order.push(m.node.clone());
        self.t.uses.entry(id).or_default().insert(m.node.clone());
        let mut defs = BTreeMap::new();
        match crate::syntax::parse_file(id, text) {
            Ok(f) => {
                for item in &f.items {
                    if let ast::Item::Define(d) = item {
                        defs.insert(
                            d.name.node.clone(),
                            Def {
                                def: Cow::Owned(d.clone()),
                                ns: None,
                                file: id,
                            },
                        );
                    }
                }
                self.t.modules.insert(m.node.clone(), f);
            }
            Err(d) => self.diags.push(d),
        }
        self.t.std_defs.insert(m.node.clone(), defs);
    }

    fn add_port(&mut self, d: &'a ast::PortDecl) {
        if let Some(prev) = self.t.ports.get(&d.name.node) {
            self.diags.push(
                Diagnostic::error("E0703", format!("port `{}` is declared twice", d.name.node))
                    .at(d.name.span, "declared again here")
                    .with_label(prev.name.span, "first declared here")
                    .with_help("rename one of them or remove the duplicate"),
            );
            return;
        }
        self.t.ports.insert(d.name.node.clone(), Cow::Borrowed(d));
    }

    fn add_def(&mut self, scope: Scope, d: &'a ast::Define, ns: Option<String>, file: FileId) {
        let key = (scope, d.name.node.clone());
        if let Some(prev) = self.t.defs.get(&key) {
            self.diags.push(
                Diagnostic::error("E0103", format!("`{}` is defined twice", d.name.node))
                    .at(d.name.span, "defined again here")
                    .with_label(prev.def.name.span, "first defined here")
                    .with_help("rename one of them or remove the duplicate"),
            );
            return;
        }
        self.t.defs.insert(
            key,
            Def {
                def: Cow::Borrowed(d),
                ns,
                file,
            },
        );
    }
}

/// How many definitions a name may pass through before it denotes peers:
/// names expand on the stack, and a chain of 100,000 definitions would
/// overflow it (the check for a cycle is linear in this depth too).
const MAX_DEFINITION_DEPTH: usize = 256;

/// The standard-library module that is named `word` or has it: for
/// [`NameKind::Define`] a definition, for [`NameKind::Port`] a component
/// port. The first in `stdlib::MODULES` order; read from the modules
/// parsed once, not from their text.
fn stdlib_module_with(word: &str, kind: NameKind) -> Option<&'static str> {
    type Index = BTreeMap<(bool, String), &'static str>;
    static INDEX: std::sync::OnceLock<Index> = std::sync::OnceLock::new();
    let index = INDEX.get_or_init(|| {
        let mut index = Index::new();
        for (m, text) in stdlib::MODULES {
            // the id is never shown: only the names are kept
            let Ok(f) = crate::syntax::parse_file(FileId(usize::MAX), text) else {
                continue;
            };
            for item in &f.items {
                if let ast::Item::Define(d) = item {
                    index.entry((false, d.name.node.clone())).or_insert(m);
                }
            }
            for p in &f.ports {
                index.entry((true, p.name.node.clone())).or_insert(m);
            }
        }
        index
    });
    if kind == NameKind::Define && stdlib::module(word).is_some() {
        return stdlib::names().find(|m| *m == word);
    }
    index
        .get(&(kind == NameKind::Port, word.to_string()))
        .copied()
}

/// The namespace blocks of a file, in source order.
fn namespace_blocks(f: &ast::File) -> impl Iterator<Item = &ast::NamespaceBlock> {
    f.items.iter().filter_map(|item| match item {
        ast::Item::Namespace(b) => Some(b),
        _ => None,
    })
}

/// One file's isolates (with their namespace) and rules, in source order.
#[derive(Default, Clone)]
struct FileOut {
    isolates: Vec<(String, RIsolate)>,
    rules: Vec<RRule>,
    diags: Vec<Diagnostic>,
}

/// The second pass: namespace blocks merged (postures, workloads, silences,
/// in file order), then every file's isolates and rules lowered, the files
/// in parallel, the results in file order.
fn lower(t: &Tables<'_>, files: &[ast::File], diags: &mut Vec<Diagnostic>) -> Resolved {
    let mut out = merge_namespaces(files, diags);
    let lowered = crate::par::map(files, |f| lower_file(t, f));
    out.rules
        .reserve(lowered.iter().map(|fo| fo.rules.len()).sum());
    for fo in lowered {
        for (ns, iso) in fo.isolates {
            if let Some(entry) = out.namespaces.get_mut(&ns) {
                entry.isolates.push(iso);
            }
        }
        out.rules.extend(fo.rules);
        diags.extend(fo.diags);
    }
    out
}

/// The namespace blocks of every file merged: postures, workloads and
/// silences, in file order (no isolate and no rule yet).
fn merge_namespaces(files: &[ast::File], diags: &mut Vec<Diagnostic>) -> Resolved {
    let mut out = Resolved::default();
    for b in files.iter().flat_map(namespace_blocks) {
        merge_block(&mut out.namespaces, b, diags);
    }
    out
}

/// One namespace block merged into the namespaces before it (its
/// namespace's entry created by the first block).
fn merge_block(
    namespaces: &mut BTreeMap<String, RNamespace>,
    b: &ast::NamespaceBlock,
    diags: &mut Vec<Diagnostic>,
) {
    let ns = &b.name.node;
    let entry = namespaces
        .entry(ns.clone())
        .or_insert_with(|| RNamespace {
            name: b.name.clone(),
            posture: None,
            isolates: vec![],
            workloads: vec![],
            silence: vec![],
            labels: None,
        });
    entry.silence.extend(b.silence.iter().cloned());
    for s in &b.statements {
        match s {
            ast::Statement::Posture {
                allow,
                direction,
                span,
                silence,
            } => {
                entry.silence.extend(silence.iter().cloned());
                match &entry.posture {
                    Some((_, _, prev)) => diags.push(twice(
                        format!("the posture of namespace `{ns}` is set twice"),
                        (*span, "set again here"),
                        (*prev, "first set here"),
                        "keep one `default` statement per namespace",
                    )),
                    None => entry.posture = Some((*allow, *direction, *span)),
                }
            }
            ast::Statement::Define(d) => {
                if d.workload {
                    if let Some(ast::Peer {
                        kind: PeerKind::Selector(sel),
                        ..
                    }) = d.value.peers.first()
                    {
                        entry.workloads.push((d.name.node.clone(), sel.clone()));
                    }
                }
            }
            ast::Statement::Isolate { silence, .. } => {
                entry.silence.extend(silence.iter().cloned());
            }
            ast::Statement::Rule(_) => {}
            ast::Statement::Labels { labels, span } => match &entry.labels {
                Some((_, prev)) => diags.push(twice(
                    format!("the labels of namespace `{ns}` are stated twice"),
                    (*span, "stated again here"),
                    (*prev, "first stated here"),
                    "state all of a namespace's labels in one `labels { ... }` statement",
                )),
                None => entry.labels = Some((labels.clone(), *span)),
            },
        }
    }
}

/// One file's isolates and rules lowered through the tables.
/// E0103: something a namespace has once, written twice.
fn twice(message: String, again: (Span, &str), first: (Span, &str), help: &str) -> Diagnostic {
    Diagnostic::error("E0103", message)
        .at(again.0, again.1)
        .with_label(first.0, first.1)
        .with_help(help)
}

fn lower_file(t: &Tables<'_>, f: &ast::File) -> FileOut {
    let mut l = Lowerer {
        t,
        diags: Vec::new(),
        stack: Vec::new(),
    };
    let mut fo = FileOut::default();
    for comma in &f.peer_commas {
        l.diags.push(crate::syntax::comma_between_peers(*comma));
    }
    for b in namespace_blocks(f) {
        let ns = &b.name.node;
        for s in &b.statements {
            match s {
                ast::Statement::Isolate {
                    direction,
                    targets,
                    span,
                    ..
                } => {
                    let targets = targets.iter().map(|t| l.peer(t, Some(ns), f.id)).collect();
                    fo.isolates.push((
                        ns.clone(),
                        RIsolate {
                            direction: *direction,
                            targets,
                            span: *span,
                        },
                    ));
                }
                ast::Statement::Rule(r) => fo.rules.push(l.rule(r, ns, f.id)),
                _ => {}
            }
        }
    }
    fo.diags = l.diags;
    fo
}

/// What the last call of [`resolve_incremental`] gave (the language
/// server): its resolved program (moved in once the next stage has read
/// it), and by file the range of its rules, its isolates, its diagnostics
/// and the namespaces it has blocks of; by namespace, what merging its
/// blocks reported.
#[derive(Default)]
pub struct Memo {
    resolved: Resolved,
    files: BTreeMap<FileId, FileMemo>,
    merged: BTreeMap<String, Vec<Diagnostic>>,
    /// The scope (owned) and what collecting it reported.
    scope: Option<(Tables<'static>, Vec<Diagnostic>)>,
}

/// One file's lowering, its rules a range of the memo's.
#[derive(Default, Clone)]
pub struct FileMemo {
    rules: std::ops::Range<usize>,
    isolates: Vec<(String, RIsolate)>,
    diags: Vec<Diagnostic>,
    /// The namespaces the file has blocks of.
    blocks: BTreeSet<String>,
}

impl Memo {
    /// The memo is complete with the resolved program and the scope of
    /// its call (moved in: they are the next call's, unless changed).
    pub fn keep(&mut self, resolved: Resolved, tables: Tables<'static>) {
        self.resolved = resolved;
        if let Some(s) = &mut self.scope {
            s.0 = tables;
        }
    }
}

/// What [`resolve_incremental`] gives.
pub struct Resolving {
    /// The resolved program, also when `failed` (names that could not be
    /// resolved denote nothing), and the build's scope.
    pub resolved: Resolved,
    pub tables: Tables<'static>,
    /// An error was reported into the sink (`resolve` would fail).
    pub failed: Option<Failed>,
    /// For each rule of the resolved program (by index), the index of the
    /// memo's rule it equals.
    pub same_rule: Vec<Option<usize>>,
    /// The namespaces merged again, whose entries may differ from the
    /// memo's (`None`: every namespace).
    pub merged: Option<BTreeSet<String>>,
    /// The memo of this call, to [`Memo::keep`] its resolved program in.
    pub memo: Memo,
}

/// For each of `new`, the index of the equal rule of `old` (whose first
/// is at `start`), matching the common prefix and suffix of the two.
fn matching(new: &[RRule], old: Option<(&[Option<RRule>], usize)>) -> Vec<Option<usize>> {
    let mut out = vec![None; new.len()];
    let Some((old, start)) = old else { return out };
    let pre = new
        .iter()
        .zip(old)
        .take_while(|(a, b)| b.as_ref() == Some(*a))
        .count();
    let room = new.len().min(old.len()) - pre;
    let suf = new
        .iter()
        .rev()
        .zip(old.iter().rev())
        .take(room)
        .take_while(|(a, b)| b.as_ref() == Some(*a))
        .count();
    for (i, o) in out.iter_mut().enumerate().take(pre) {
        *o = Some(start + i);
    }
    for k in 1..=suf {
        out[new.len() - k] = Some(start + old.len() - k);
    }
    out
}

/// Which declarations a file gives the build's scope (its `use`s, its
/// definitions and workloads, at top level and in namespace blocks, its
/// component ports), as written, spans included: when no file's changed,
/// the tables are the same, and a file whose text is the same lowers the
/// same (the language server compares them to know what it may reuse).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Declarations {
    uses: Vec<Spanned<String>>,
    defines: Vec<(Option<String>, ast::Define)>,
    ports: Vec<ast::PortDecl>,
}

/// The declarations of a file (see [`Declarations`]).
pub fn declarations(f: &ast::File) -> Declarations {
    let mut out = Declarations {
        ports: f.ports.clone(),
        ..Declarations::default()
    };
    for item in &f.items {
        match item {
            ast::Item::Use(mods) => out.uses.extend(mods.iter().cloned()),
            ast::Item::Define(d) => out.defines.push((None, d.clone())),
            ast::Item::Namespace(b) => {
                for s in &b.statements {
                    if let ast::Statement::Define(d) = s {
                        out.defines.push((Some(b.name.node.clone()), d.clone()));
                    }
                }
            }
        }
    }
    out
}

/// [`resolve_scope`] again after an edit: the files for which `keep` holds
/// take their isolates, rules and diagnostics from `memo` (moved, not
/// copied) instead of being lowered again, and the namespaces none of
/// whose blocks is in a file lowered again keep the memo's entry. `keep`
/// may hold only for a file whose text is the one the memo lowered, when
/// no file's [`Declarations`] changed since (the tables are then the same,
/// and a file lowers through the tables alone): `scope_same` says so, and
/// then the memo's scope is taken too (its stdlib texts added to `sources`
/// again, in the same order) instead of being collected again.
pub fn resolve_incremental(
    files: &[ast::File],
    sources: &mut SourceMap,
    sink: &mut Sink,
    keep: &dyn Fn(FileId) -> bool,
    scope_same: bool,
    memo: Option<Memo>,
) -> Resolving {
    let mark = sink.mark();
    let (mut old_files, mut old_rules, mut old_ns, mut old_merged, old_scope) = match memo {
        Some(m) => (
            m.files,
            m.resolved.rules.into_iter().map(Some).collect::<Vec<_>>(),
            m.resolved.namespaces,
            m.merged,
            m.scope,
        ),
        None => Default::default(),
    };
    let (t, scope_diags) = match old_scope {
        Some((t, d)) if scope_same => {
            for m in &t.stdlib_order {
                let text = stdlib::module(m).unwrap_or_default();
                sources.add_stdlib(format!("<stdlib>/{m}.npl"), text);
            }
            (t, d)
        }
        _ => {
            let (t, d) = collect_scope(files, sources);
            (t.into_owned(), d)
        }
    };
    let mut diags = scope_diags.clone();
    let kept: Vec<bool> = files
        .iter()
        .map(|f| keep(f.id) && old_files.contains_key(&f.id))
        .collect();
    let todo: Vec<&ast::File> = files
        .iter()
        .zip(&kept)
        .filter(|(_, k)| !**k)
        .map(|(f, _)| f)
        .collect();
    // the namespaces to merge again: those with a block in a file lowered
    // again, before or after its edit (all when no file is kept)
    let again: Option<BTreeSet<String>> = if todo.len() == files.len() {
        None
    } else {
        let mut names = BTreeSet::new();
        for f in &todo {
            names.extend(namespace_blocks(f).map(|b| b.name.node.clone()));
            if let Some(fm) = old_files.get(&f.id) {
                names.extend(fm.blocks.iter().cloned());
            }
        }
        Some(names)
    };
    let mut fresh = crate::par::map(&todo, |f| lower_file(&t, f)).into_iter();
    let mut out = Resolved::default();
    let mut merged: BTreeMap<String, Vec<Diagnostic>> = BTreeMap::new();
    let mut touched: BTreeMap<String, RNamespace> = BTreeMap::new();
    let merge_again = |name: &str| again.as_ref().is_none_or(|a| a.contains(name));
    for b in files.iter().flat_map(namespace_blocks) {
        if merge_again(&b.name.node) {
            let d = merged.entry(b.name.node.clone()).or_default();
            merge_block(&mut touched, b, d);
        }
    }
    if again.is_some() {
        for (name, ns) in std::mem::take(&mut old_ns) {
            if !merge_again(&name) {
                if let Some(d) = old_merged.remove(&name) {
                    merged.insert(name.clone(), d);
                }
                out.namespaces.insert(name, ns);
            }
        }
    }
    let mut same_rule = Vec::with_capacity(old_rules.len());
    let mut memos = BTreeMap::new();
    let mut lowering = Vec::new();
    for (f, kept) in files.iter().zip(kept) {
        let start = out.rules.len();
        let blocks: BTreeSet<String> = namespace_blocks(f).map(|b| b.name.node.clone()).collect();
        let (isolates, file_diags) = if kept {
            let Some(fm) = old_files.remove(&f.id) else {
                continue;
            };
            for i in fm.rules.clone() {
                if let Some(r) = old_rules.get_mut(i).and_then(Option::take) {
                    out.rules.push(r);
                    same_rule.push(Some(i));
                }
            }
            (fm.isolates, fm.diags)
        } else {
            let Some(fo) = fresh.next() else { continue };
            // lowered again: the rules equal to the memo's before and
            // after the edit are still the same
            same_rule.extend(matching(
                &fo.rules,
                old_files
                    .get(&f.id)
                    .and_then(|fm| Some((old_rules.get(fm.rules.clone())?, fm.rules.start))),
            ));
            out.rules.extend(fo.rules);
            (fo.isolates, fo.diags)
        };
        for (ns, iso) in &isolates {
            if merge_again(ns) {
                if let Some(entry) = touched.get_mut(ns) {
                    entry.isolates.push(iso.clone());
                }
            }
        }
        lowering.extend(file_diags.iter().cloned());
        memos.insert(
            f.id,
            FileMemo {
                rules: start..out.rules.len(),
                isolates,
                diags: file_diags,
                blocks,
            },
        );
    }
    out.namespaces.extend(touched);
    for d in merged.values() {
        diags.extend(d.iter().cloned());
    }
    diags.extend(lowering);
    sink.extend(diags);
    Resolving {
        resolved: out,
        tables: t,
        failed: sink.finish(mark, ()).err(),
        same_rule,
        merged: again,
        memo: Memo {
            resolved: Resolved::default(),
            files: memos,
            merged,
            scope: Some((Tables::default(), scope_diags)),
        },
    }
}

impl Lowerer<'_> {
    fn rule(&mut self, r: &ast::Rule, ns: &str, file: FileId) -> RRule {
        let all = |span: Span| RSide {
            peers: vec![RPeer {
                kind: RKind::AllPods { ns: ns.to_string() },
                except: vec![],
                span,
                ports: None,
            }],
            parenthesized: false,
            ports: None,
            span,
        };
        let short_span = r.shorthand.as_ref().map(|s| s.span).unwrap_or(r.span);
        let src = match &r.src {
            Some(s) => self.side(s, ns, file),
            None => all(short_span),
        };
        let dst = match &r.dst {
            Some(s) => self.side(s, ns, file),
            None => all(short_span),
        };
        RRule {
            action: r.action,
            namespace: ns.to_string(),
            shorthand: r.shorthand.clone(),
            src,
            dst,
            scope: r.scope.clone(),
            silence: r.silence.clone(),
            span: r.span,
        }
    }

    fn side(&mut self, s: &ast::Side, ns: &str, file: FileId) -> RSide {
        RSide {
            peers: s
                .peers
                .iter()
                .map(|p| self.peer(p, Some(ns), file))
                .collect(),
            parenthesized: s.parenthesized,
            ports: s.ports.clone(),
            span: s.span,
        }
    }

    fn peer(&mut self, p: &ast::Peer, ns: Option<&str>, file: FileId) -> RPeer {
        let except = p.except.iter().map(|e| self.peer(e, ns, file)).collect();
        let mut out = self.atom(p, ns, file);
        out.except.extend::<Vec<RPeer>>(except);
        out
    }

    fn bare_ns(&mut self, ns: Option<&str>, span: Span) -> String {
        match ns {
            Some(n) => n.to_string(),
            None => {
                self.diags.push(
                    Diagnostic::error("E0106", "a bare selector outside a namespace block has no namespace")
                        .at(span, "which namespace?")
                        .with_help("name the namespace, as in `payments/app=api`, or move the definition into a `namespace` block"),
                );
                String::new()
            }
        }
    }

    fn atom(&mut self, p: &ast::Peer, ns: Option<&str>, file: FileId) -> RPeer {
        let span = p.span;
        let mk = |kind| RPeer {
            kind,
            except: vec![],
            span,
            ports: None,
        };
        match &p.kind {
            PeerKind::AllPods => {
                let n = self.bare_ns(ns, span);
                mk(RKind::AllPods { ns: n })
            }
            PeerKind::Cluster => mk(RKind::Cluster),
            PeerKind::World => mk(RKind::World),
            PeerKind::Address(a) => mk(RKind::Address(a.clone())),
            PeerKind::Dns(n) => mk(RKind::Dns(n.clone())),
            PeerKind::Group(peers) => mk(RKind::Union(
                peers.iter().map(|q| self.peer(q, ns, file)).collect(),
            )),
            PeerKind::Selector(sel) => {
                self.names_in_selector(sel, &[ns], file);
                let n = self.bare_ns(ns, span);
                mk(RKind::Pods {
                    ns: Spanned::new(n, span),
                    sel: Some(sel.clone()),
                })
            }
            PeerKind::Name(name) => self.name(name, span, ns, file),
            PeerKind::Namespaced { ns: target, pods } => match pods {
                PodPart::All => mk(RKind::Pods {
                    ns: target.clone(),
                    sel: None,
                }),
                PodPart::Selector(sel) => {
                    // a name of either namespace reads as a label key here
                    self.names_in_selector(sel, &[ns, Some(&target.node)], file);
                    mk(RKind::Pods {
                        ns: target.clone(),
                        sel: Some(sel.clone()),
                    })
                }
                PodPart::Name(n) => self.scoped_name(&target.node, n, span),
            },
            PeerKind::NamespaceLabels { namespaces, pods } => match pods {
                PodPart::All => mk(RKind::NamespaceLabels {
                    namespaces: namespaces.clone(),
                    pods: None,
                }),
                PodPart::Selector(sel) => {
                    self.names_in_selector(sel, &[ns], file);
                    mk(RKind::NamespaceLabels {
                        namespaces: namespaces.clone(),
                        pods: Some(sel.clone()),
                    })
                }
                PodPart::Name(n) => {
                    self.diags.push(
                        Diagnostic::error(
                            "E0104",
                            format!(
                                "`{}` cannot name pods in namespaces chosen by labels",
                                n.node
                            ),
                        )
                        .at(n.span, "a name here")
                        .with_help(format!(
                            "write a label selector, such as `{{...}}/app={}`",
                            n.node
                        )),
                    );
                    mk(RKind::Union(vec![]))
                }
            },
        }
    }

    /// E0111: a bare word among the requirements of a selector reads as
    /// "has the label key", but it is also a name (`d-a, d-b`, `rfc1918,
    /// link-local`): whoever wrote it meant a list of peers, which `|` joins.
    fn names_in_selector(&mut self, sel: &ast::Selector, scopes: &[Option<&str>], file: FileId) {
        if sel.requirements.len() < 2 {
            return;
        }
        // (the word, "a name" or "an address")
        let misread: Vec<(&Spanned<String>, &str)> = sel
            .requirements
            .iter()
            .filter(|r| {
                r.op == ast::ReqOp::Exists
                    && r.values.is_empty()
                    && r.span == r.key.span
                    && !r.quoted_key
            })
            .filter_map(|r| {
                let k = &r.key.node;
                if !k.contains('/') && scopes.iter().any(|ns| self.is_a_name(k, *ns, file)) {
                    Some((&r.key, "a name"))
                } else if k.parse::<std::net::IpAddr>().is_ok() || k.parse::<ipnet::IpNet>().is_ok()
                {
                    Some((&r.key, "an address"))
                } else {
                    None
                }
            })
            .collect();
        let Some((first, what)) = misread.first() else {
            return;
        };
        let words: Vec<String> = sel
            .requirements
            .iter()
            .map(ast::Requirement::written)
            .collect();
        let mut d = Diagnostic::error(
            "E0111",
            format!(
                "`{}` is {what}, but here it reads as a label key",
                first.node
            ),
        )
        .at(first.span, format!("{what}, read as \"has the label key\""));
        for (other, what) in &misread[1..] {
            d = d.with_label(other.span, format!("also {what}"));
        }
        self.diags.push(
            d.with_label(
                sel.span,
                "one label selector: `,` joins requirements that must all hold",
            )
            .with_help(format!(
                "to list peers, join them with `|`: `{}`; to require the label key, write `{}=*`",
                words.join(" | "),
                first.node
            )),
        );
    }

    /// Whether `word` is a name visible here, or a standard-library name.
    fn is_a_name(&self, word: &str, ns: Option<&str>, file: FileId) -> bool {
        let t = self.t;
        ns.is_some_and(|n| {
            t.defs
                .contains_key(&(Some(n.to_string()), word.to_string()))
        }) || t.defs.contains_key(&(None, word.to_string()))
            || t.uses
                .get(&file)
                .into_iter()
                .flatten()
                .any(|m| t.std_defs.get(m).is_some_and(|d| d.contains_key(word)))
            || stdlib_module_with(word, NameKind::Define).is_some()
    }

    /// `ns/name`: a workload or definition of namespace `ns`.
    fn scoped_name(&mut self, ns: &str, n: &Spanned<String>, span: Span) -> RPeer {
        let t = self.t;
        let key = (Some(ns.to_string()), n.node.clone());
        if let Some(def) = t.defs.get(&key) {
            return self.expand(key, def, span);
        }
        let candidates: Vec<String> = t
            .defs
            .keys()
            .filter(|(s, _)| s.as_deref() == Some(ns))
            .map(|(_, k)| k.clone())
            .collect();
        let mut d = Diagnostic::error(
            "E0101",
            format!("unknown name `{}` in namespace `{ns}`", n.node),
        )
        .at(n.span, "not declared there");
        if let Some(s) = did_you_mean(&n.node, candidates.iter().map(String::as_str)) {
            d = d.with_help(format!("did you mean `{ns}/{s}`?"));
        } else {
            d = d.with_help(format!(
                "declare it in `namespace {ns} {{ workload {} = ... }}`, or select pods by label: `{ns}/app={}`",
                n.node, n.node
            ));
        }
        self.diags.push(d);
        RPeer::nothing(span)
    }

    fn name(&mut self, name: &str, span: Span, ns: Option<&str>, file: FileId) -> RPeer {
        let empty = RPeer::nothing(span);
        let t = self.t;
        if let Some(n) = ns {
            let key = (Some(n.to_string()), name.to_string());
            if let Some(def) = t.defs.get(&key) {
                return self.expand(key, def, span);
            }
        }
        let key = (None, name.to_string());
        if let Some(def) = t.defs.get(&key) {
            return self.expand(key, def, span);
        }
        let used = t.uses.get(&file);
        for m in used.into_iter().flatten() {
            if let Some(def) = t.std_defs.get(m).and_then(|d| d.get(name)) {
                return self.expand((Some(format!("<stdlib>/{m}")), name.to_string()), def, span);
            }
        }
        // not visible: say what would have been
        let d = Diagnostic::error("E0101", format!("unknown name `{name}`"))
            .at(span, "not declared")
            .with_help(
                t.unknown_help(name, NameKind::Define, file, ns, &[])
                    .unwrap_or_else(|| format!(
                        "declare it with `workload {name} = app={name}`, or write a label selector such as `app={name}` (`{name}=*` selects pods that have the label `{name}`)"
                    )),
            );
        self.diags.push(d);
        empty
    }

    fn expand(&mut self, key: (Scope, String), def: &Def, use_span: Span) -> RPeer {
        if self.stack.contains(&key) {
            self.diags.push(
                Diagnostic::error(
                    "E0105",
                    format!("`{}` is defined in terms of itself", key.1),
                )
                .at(def.def.name.span, "this definition refers back to itself")
                .with_help("definitions must not form a cycle"),
            );
            return RPeer::nothing(use_span);
        }
        if self.stack.len() >= MAX_DEFINITION_DEPTH {
            self.diags.push(
                Diagnostic::error(
                    "E0105",
                    format!(
                        "`{}` is defined through more than {MAX_DEFINITION_DEPTH} other definitions",
                        key.1
                    ),
                )
                .at(def.def.name.span, "too deep")
                .with_help("name what it denotes in fewer steps"),
            );
            return RPeer::nothing(use_span);
        }
        self.stack.push(key);
        let peers: Vec<RPeer> = def
            .def
            .value
            .peers
            .iter()
            .map(|p| self.peer(p, def.ns.as_deref(), def.file))
            .collect();
        self.stack.pop();
        RPeer {
            kind: RKind::Union(peers),
            except: vec![],
            span: use_span,
            ports: def.def.value.ports.clone(),
        }
    }
}
