//! pest parser and the lowering of its pairs to the AST. This file and
//! `syntax/mod.rs` are the only places where `Pair` and `Rule` appear.
// A syntax error is one boxed-free diagnostic; it is returned once per file.
#![allow(clippy::result_large_err)]

use super::ast::*;
use crate::diag::Diagnostic;
use crate::ir::{Action, Direction};
use crate::source::{FileId, Span};
use pest::iterators::Pair;
use pest::Parser;
use std::cell::{Cell, RefCell};

#[derive(pest_derive::Parser)]
#[grammar = "../grammar/npl.pest"]
struct NplParser;

/// The pest tree of one file (its `file` pair), for the formatter
/// (`fmt.rs`); the same checks and syntax error as [`parse_file`].
pub(super) fn parse_tree(file: FileId, text: &str) -> Result<Pair<'_, Rule>, Diagnostic> {
    too_deep(file, text)?;
    let mut pairs = NplParser::parse(Rule::file, text).map_err(|e| syntax_error(file, text, e))?;
    pairs
        .next()
        .ok_or_else(|| Diagnostic::error("E0001", "expected a file"))
}

/// Parses one file into its AST, or one syntax error (E0001).
///
/// The file is parsed piece by piece (`parse_stepwise`): pest keeps a
/// queue of every token of what it parses (about 85 bytes per byte of
/// input) until the pairs are lowered, so one parse of a file of a million
/// statements held gigabytes. When a piece does not parse, the whole file
/// is parsed again at once, for the same syntax error as always.
pub fn parse_file(file: FileId, text: &str) -> Result<File, Diagnostic> {
    too_deep(file, text)?;
    match parse_stepwise(file, text) {
        Some(f) => Ok(f),
        None => parse_whole(file, text),
    }
}

/// The whole file in one pest parse.
fn parse_whole(file: FileId, text: &str) -> Result<File, Diagnostic> {
    let mut pairs = NplParser::parse(Rule::file, text).map_err(|e| syntax_error(file, text, e))?;
    let lw = Lower::new(file);
    let mut out = FileParts::default();
    if let Some(root) = pairs.next() {
        for p in root.into_inner() {
            lw.item(p, &mut out);
        }
    }
    Ok(out.finish(file, lw))
}

/// The file parsed one top-level item, and inside a namespace block one
/// statement, at a time, each lowered before the next is parsed; `None`
/// where a piece does not parse (then [`parse_whole`] finds the error).
///
/// This follows the `file` rule step by step, as pest runs it: a parsing
/// expression grammar never backtracks into a repetition, so `item*` (and
/// `ns_item*`) matches exactly the items that match one after the other,
/// each rule sees the rest of the file for its look-aheads, and between
/// two pieces pest skips whitespace and comments ([`skip`]). Positions are
/// those of the piece's text; [`Lower`] adds the piece's offset.
fn parse_stepwise(file: FileId, text: &str) -> Option<File> {
    let lw = Lower::new(file);
    let mut out = FileParts::default();
    let mut pos = skip(text, 0);
    if text[pos..].starts_with('\u{FEFF}') {
        pos = skip(text, pos + '\u{FEFF}'.len_utf8());
    }
    while pos < text.len() {
        let rest = &text[pos..];
        lw.offset.set(pos);
        let head = (rest.starts_with('@') || rest.starts_with("namespace"))
            .then(|| NplParser::parse(Rule::ns_head, rest).ok())
            .flatten()
            .and_then(|mut p| p.next());
        pos = match head {
            Some(head) => {
                let start = pos;
                let head_end = pos + head.as_span().end();
                let mut block = lw.ns_head(head);
                let mut end = block.span.end;
                pos = skip(text, head_end);
                while !text[pos..].starts_with('}') {
                    lw.offset.set(pos);
                    let one = NplParser::parse(Rule::ns_one, &text[pos..]).ok()?.next()?;
                    let one_end = pos + one.as_span().end();
                    let stmt = one.into_inner().next()?;
                    end = lw.span(&stmt).end;
                    block.statements.extend(lw.ns_statement(stmt));
                    pos = skip(text, one_end);
                }
                block.span = Span::new(file, start, end.max(start));
                out.items.push(Item::Namespace(block));
                pos + 1
            }
            None => {
                let one = NplParser::parse(Rule::item_one, rest).ok()?.next()?;
                let one_end = pos + one.as_span().end();
                lw.item(one.into_inner().next()?, &mut out);
                one_end
            }
        };
        pos = skip(text, pos);
    }
    Some(out.finish(file, lw))
}

/// Where pest's implicit whitespace and comments (`WHITESPACE`, `COMMENT`
/// in the grammar) that begin at `pos` end.
fn skip(text: &str, mut pos: usize) -> usize {
    let b = text.as_bytes();
    while let Some(&c) = b.get(pos) {
        match c {
            b' ' | b'\t' | b'\n' | b'\r' => pos += 1,
            b'#' => {
                while b.get(pos).is_some_and(|&c| c != b'\n' && c != b'\r') {
                    pos += 1;
                }
            }
            _ => break,
        }
    }
    pos
}

/// The top-level parts of a file, in order, as they are lowered.
#[derive(Default)]
struct FileParts {
    items: Vec<Item>,
    nodes: Vec<NodesBlock>,
    ports: Vec<PortDecl>,
}

impl FileParts {
    fn finish(self, id: FileId, lw: Lower) -> File {
        File {
            id,
            items: self.items,
            nodes: self.nodes,
            ports: self.ports,
            peer_commas: lw.commas.into_inner(),
        }
    }
}

/// Parses a single side (`kube-system/k8s-app=kube-dns:udp/53`): used by tests
/// and by the command line for `--from`/`--to` arguments.
pub fn parse_side(file: FileId, text: &str) -> Result<Side, Diagnostic> {
    too_deep(file, text)?;
    let mut pairs =
        NplParser::parse(Rule::side_only, text).map_err(|e| syntax_error(file, text, e))?;
    let lw = Lower::new(file);
    let side = pairs
        .next()
        .and_then(|p| p.into_inner().find(|x| x.as_rule() == Rule::side))
        .map(|p| lw.side(p));
    if let Some(comma) = lw.commas.into_inner().first() {
        return Err(comma_between_peers(*comma));
    }
    side.ok_or_else(|| Diagnostic::error("E0001", "expected a peer"))
}

/// How deep parentheses may nest. Groups are the grammar's only recursion;
/// the parser and the later stages descend them on the stack, so a limit
/// keeps `((((…))))` from overflowing it (docs/language.md).
pub const MAX_NESTING: usize = 64;

/// The characters of `text` (with their byte offsets) outside comments and
/// quoted strings, for the scans that run before or beside the parser.
fn code_chars(text: &str) -> impl Iterator<Item = (usize, char)> + '_ {
    let mut chars = text.char_indices();
    std::iter::from_fn(move || loop {
        let (i, c) = chars.next()?;
        match c {
            '#' => {
                for (_, c) in chars.by_ref() {
                    if c == '\n' {
                        break;
                    }
                }
            }
            '"' => {
                for (_, c) in chars.by_ref() {
                    if c == '"' || c == '\n' {
                        break;
                    }
                }
            }
            _ => return Some((i, c)),
        }
    })
}

/// E0001 where parentheses (outside comments and quotes) nest deeper than
/// [`MAX_NESTING`], before the parser descends into them.
fn too_deep(file: FileId, text: &str) -> Result<(), Diagnostic> {
    let mut depth = 0usize;
    for (i, c) in code_chars(text) {
        match c {
            '(' => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Err(Diagnostic::error(
                        "E0001",
                        format!("parentheses nested more than {MAX_NESTING} deep"),
                    )
                    .at(Span::new(file, i, i + 1), "too deep")
                    .with_help(
                        "write the group with fewer parentheses: `((a | b))` is `(a | b)`",
                    ));
                }
            }
            ')' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

struct Lower {
    file: FileId,
    /// Where the text being lowered begins in the file (a piece of it, in
    /// [`parse_stepwise`]): every position of a pair goes through
    /// [`Lower::span`], which adds it.
    offset: Cell<usize>,
    /// Where a `,` was written between peers (reported as E0110).
    commas: RefCell<Vec<Span>>,
}

/// E0110: a `,` where peers are joined (only `|` joins peers).
pub fn comma_between_peers(span: Span) -> Diagnostic {
    Diagnostic::error("E0110", "`,` does not join peers")
        .at(span, "write `|` here")
        .with_help("peers are joined with `|`, as in `world except (rfc1918 | link-local)`; a `,` only joins the requirements of one label selector (`app=api, tier=web`)")
}

impl Lower {
    fn new(file: FileId) -> Lower {
        Lower {
            file,
            offset: Cell::new(0),
            commas: RefCell::new(Vec::new()),
        }
    }
    /// The span of a pair without the whitespace and comments that pest
    /// consumes after its last token.
    fn span(&self, p: &Pair<Rule>) -> Span {
        let s = p.as_span();
        let off = self.offset.get();
        Span::new(self.file, off + s.start(), off + last_end(p).max(s.start()))
    }

    /// One top-level item, into its list.
    fn item(&self, p: Pair<Rule>, out: &mut FileParts) {
        match p.as_rule() {
            Rule::use_stmt => out.items.push(Item::Use(
                p.into_inner()
                    .filter(|x| x.as_rule() == Rule::module_name)
                    .map(|x| self.text(&x))
                    .collect(),
            )),
            Rule::define_stmt => out.items.push(Item::Define(self.define(p))),
            Rule::namespace_block => out.items.push(Item::Namespace(self.namespace(p))),
            Rule::nodes_block => out.nodes.push(self.nodes(p)),
            Rule::port_decl => out.ports.push(self.port_decl(p)),
            _ => {}
        }
    }
    /// `p` from its first part that is not an `@silence` attribute on: a
    /// statement without the attributes (and comments) before its keyword.
    fn head(&self, p: &Pair<Rule>) -> Span {
        let whole = self.span(p);
        let start = p
            .clone()
            .into_inner()
            .find(|c| c.as_rule() != Rule::attrs)
            .map(|c| self.span(&c).start)
            .unwrap_or(whole.start);
        Span::new(self.file, start, whole.end)
    }
    fn text(&self, p: &Pair<Rule>) -> Spanned<String> {
        Spanned::new(p.as_str().to_string(), self.span(p))
    }

    fn define(&self, p: Pair<Rule>) -> Define {
        let span = self.span(&p);
        let mut name = Spanned::new(String::new(), span);
        let mut value = None;
        for c in p.into_inner() {
            match c.as_rule() {
                Rule::name => name = self.text(&c),
                Rule::side => value = Some(self.side(c)),
                _ => {}
            }
        }
        Define {
            name,
            value: value.unwrap_or_else(|| empty_side(span)),
            workload: false,
            span,
        }
    }

    fn workload(&self, p: Pair<Rule>) -> Define {
        let span = self.span(&p);
        let mut name = Spanned::new(String::new(), span);
        let mut value = empty_side(span);
        for c in p.into_inner() {
            match c.as_rule() {
                Rule::name => name = self.text(&c),
                Rule::selector => {
                    let sspan = self.span(&c);
                    let peer = self.selector_peer(c);
                    value = Side {
                        peers: vec![peer],
                        parenthesized: false,
                        ports: None,
                        span: sspan,
                    };
                }
                _ => {}
            }
        }
        Define {
            name,
            value,
            workload: true,
            span,
        }
    }

    fn namespace(&self, p: Pair<Rule>) -> NamespaceBlock {
        let mut block = self.ns_head_parts(&p);
        for c in p.into_inner() {
            block.statements.extend(self.ns_statement(c));
        }
        block
    }

    /// A namespace block's head (`namespace NAME {`) with no statements
    /// yet; its span ends at the name.
    fn ns_head(&self, p: Pair<Rule>) -> NamespaceBlock {
        self.ns_head_parts(&p)
    }

    /// The name and attributes of a namespace block (or of its head).
    fn ns_head_parts(&self, p: &Pair<Rule>) -> NamespaceBlock {
        let span = self.span(p);
        let mut name = Spanned::new(String::new(), span);
        let mut silence = Vec::new();
        for c in p.clone().into_inner() {
            match c.as_rule() {
                Rule::attrs => silence = self.attrs(c),
                Rule::ns_name => name = self.text(&c),
                _ => {}
            }
        }
        NamespaceBlock {
            name,
            silence,
            statements: Vec::new(),
            span,
        }
    }

    /// One statement of a namespace block (`None` for the block's other
    /// pairs: its attributes, keyword and name).
    fn ns_statement(&self, c: Pair<Rule>) -> Option<Statement> {
        Some(match c.as_rule() {
            Rule::posture => self.posture(c),
            Rule::workload_stmt => Statement::Define(self.workload(c)),
            Rule::define_stmt => Statement::Define(self.define(c)),
            Rule::isolate_stmt => {
                let span = self.span(&c);
                let mut direction = None;
                let mut targets = Vec::new();
                let mut silence = Vec::new();
                for x in c.into_inner() {
                    match x.as_rule() {
                        Rule::attrs => silence = self.attrs(x),
                        Rule::direction => direction = Some(self.direction(x)),
                        Rule::peer_list => targets = self.peer_list(x),
                        _ => {}
                    }
                }
                Statement::Isolate {
                    direction,
                    targets,
                    silence,
                    span,
                }
            }
            Rule::rule_stmt => Statement::Rule(self.rule(c)),
            Rule::labels_stmt => {
                // ends at its `}` (a literal, not an inner pair)
                let off = self.offset.get();
                let span = Span::new(
                    self.file,
                    off + c.as_span().start(),
                    off + c.as_span().end(),
                );
                let labels = c
                    .into_inner()
                    .find(|x| x.as_rule() == Rule::selector)
                    .map(|x| self.selector(x))
                    .unwrap_or(Selector {
                        requirements: vec![],
                        span,
                    });
                Statement::Labels { labels, span }
            }
            _ => return None,
        })
    }

    /// `@silence(W0701, ...)` attributes: the lint codes.
    fn attrs(&self, p: Pair<Rule>) -> Vec<Spanned<String>> {
        p.into_inner()
            .flat_map(|a| a.into_inner())
            .filter(|c| c.as_rule() == Rule::lint_code)
            .map(|c| self.text(&c))
            .collect()
    }

    fn posture(&self, p: Pair<Rule>) -> Statement {
        let span = self.span(&p);
        let mut allow = false;
        let mut direction = None;
        let mut silence = Vec::new();
        for c in p.into_inner() {
            match c.as_rule() {
                Rule::attrs => silence = self.attrs(c),
                Rule::posture_allow => allow = true,
                Rule::posture_deny => {
                    for d in c.into_inner() {
                        if d.as_rule() == Rule::direction {
                            direction = Some(self.direction(d));
                        }
                    }
                }
                _ => {}
            }
        }
        Statement::Posture {
            allow,
            direction,
            silence,
            span,
        }
    }

    fn direction(&self, p: Pair<Rule>) -> Direction {
        if p.as_str().starts_with("in") {
            Direction::Ingress
        } else {
            Direction::Egress
        }
    }

    fn rule(&self, p: Pair<Rule>) -> Rule_ {
        let span = self.span(&p);
        let mut action = Action::Allow;
        let mut shorthand = None;
        let mut src = None;
        let mut dst = None;
        let mut scope = None;
        let mut silence = Vec::new();
        for c in p.into_inner() {
            match c.as_rule() {
                Rule::attrs => silence = self.attrs(c),
                Rule::action if c.as_str().starts_with("deny") => action = Action::Deny,
                Rule::scope => {
                    let span = self.span(&c);
                    if let Some(d) = c.into_inner().find(|x| x.as_rule() == Rule::direction) {
                        scope = Some(Spanned::new(self.direction(d), span));
                    }
                }
                Rule::short_rule => {
                    for x in c.into_inner() {
                        match x.as_rule() {
                            Rule::direction => {
                                let d = self.direction(x.clone());
                                shorthand = Some(Spanned::new(d, self.span(&x)));
                            }
                            Rule::side => {
                                let side = self.side(x);
                                match shorthand.as_ref().map(|s| s.node) {
                                    Some(Direction::Ingress) => src = Some(side),
                                    _ => dst = Some(side),
                                }
                            }
                            _ => {}
                        }
                    }
                }
                Rule::full_rule => {
                    let mut sides = c
                        .into_inner()
                        .filter(|x| x.as_rule() == Rule::side)
                        .map(|x| self.side(x));
                    src = sides.next();
                    dst = sides.next();
                }
                _ => {}
            }
        }
        Rule_ {
            action,
            shorthand,
            src,
            dst,
            scope,
            silence,
            span,
        }
    }

    fn side(&self, p: Pair<Rule>) -> Side {
        let span = self.span(&p);
        let mut peers = Vec::new();
        let mut parenthesized = false;
        let mut ports = None;
        for c in p.into_inner() {
            match c.as_rule() {
                Rule::peer_list => {
                    peers = self.peer_list(c);
                    // `(a | b):80`: one group is the side's union, written
                    // in parentheses
                    if let [Peer {
                        kind: PeerKind::Group(_),
                        except,
                        ..
                    }] = peers.as_slice()
                    {
                        if except.is_empty() {
                            if let Some(Peer {
                                kind: PeerKind::Group(inner),
                                ..
                            }) = peers.pop()
                            {
                                peers = inner;
                                parenthesized = true;
                            }
                        }
                    }
                }
                Rule::ports => {
                    let pspan = self.span(&c);
                    let mut items = Vec::new();
                    for l in c.into_inner() {
                        if l.as_rule() == Rule::port_list {
                            items = tight(l.into_inner().map(|i| self.port_item(i)).collect());
                        }
                    }
                    ports = Some(Spanned::new(items, pspan));
                }
                _ => {}
            }
        }
        Side {
            peers,
            parenthesized,
            ports,
            span,
        }
    }

    fn peer_list(&self, p: Pair<Rule>) -> Vec<Peer> {
        let mut out = Vec::new();
        for x in p.into_inner() {
            match x.as_rule() {
                Rule::peer => out.push(self.peer(x)),
                Rule::peer_sep if x.as_str() == "," => self.commas.borrow_mut().push(self.span(&x)),
                _ => {}
            }
        }
        tight(out)
    }

    fn peer(&self, p: Pair<Rule>) -> Peer {
        let span = self.span(&p);
        let mut inner = p.into_inner();
        let mut peer = match inner.next() {
            Some(atom) => self.atom(atom),
            None => Peer {
                kind: PeerKind::AllPods,
                except: vec![],
                span,
            },
        };
        peer.span = span;
        if let Some(ex) = inner.next() {
            for x in ex.into_inner() {
                if x.as_rule() == Rule::kw_except {
                    continue;
                }
                // `except (a | b)`: the parts of the group, each taken out
                match self.atom(x) {
                    Peer {
                        kind: PeerKind::Group(parts),
                        ..
                    } => peer.except.extend(parts),
                    atom => peer.except.push(atom),
                }
            }
            peer.except.shrink_to_fit();
        }
        peer
    }

    fn atom(&self, p: Pair<Rule>) -> Peer {
        let span = self.span(&p);
        let kind = match p.as_rule() {
            Rule::cluster => PeerKind::Cluster,
            Rule::world => PeerKind::World,
            Rule::all_pods => PeerKind::AllPods,
            Rule::address => PeerKind::Address(p.as_str().to_string()),
            Rule::group => PeerKind::Group(tight(
                p.into_inner()
                    .filter(|x| x.as_rule() == Rule::peer_list)
                    .flat_map(|x| self.peer_list(x))
                    .collect(),
            )),
            Rule::selector => return self.selector_peer(p),
            Rule::dns_peer => PeerKind::Dns(
                p.into_inner()
                    .find(|x| x.as_rule() == Rule::dns_name)
                    .map(|x| x.as_str().to_string())
                    .unwrap_or_default(),
            ),
            Rule::ns_peer => {
                let mut ns = Spanned::new(String::new(), span);
                let mut pods = PodPart::All;
                for c in p.into_inner() {
                    match c.as_rule() {
                        Rule::ns_ident => ns = self.text(&c),
                        Rule::pod_part => pods = self.pod_part(c),
                        _ => {}
                    }
                }
                PeerKind::Namespaced { ns, pods }
            }
            Rule::ns_labels => {
                let mut namespaces = Selector {
                    requirements: vec![],
                    span,
                };
                let mut pods = PodPart::All;
                for c in p.into_inner() {
                    match c.as_rule() {
                        Rule::selector => namespaces = self.selector(c),
                        Rule::pod_part => pods = self.pod_part(c),
                        _ => {}
                    }
                }
                PeerKind::NamespaceLabels { namespaces, pods }
            }
            _ => PeerKind::AllPods,
        };
        Peer {
            kind,
            except: vec![],
            span,
        }
    }

    fn pod_part(&self, p: Pair<Rule>) -> PodPart {
        match p.into_inner().next() {
            Some(c) if c.as_rule() == Rule::selector => {
                let sel = self.selector(c);
                match lone_name(&sel) {
                    Some(n) => PodPart::Name(n),
                    None => PodPart::Selector(sel),
                }
            }
            _ => PodPart::All,
        }
    }

    /// A selector in peer position: a lone bare word is a name.
    fn selector_peer(&self, p: Pair<Rule>) -> Peer {
        let span = self.span(&p);
        let sel = self.selector(p);
        match lone_name(&sel) {
            Some(n) => Peer {
                kind: PeerKind::Name(n.node),
                except: vec![],
                span,
            },
            None => Peer {
                kind: PeerKind::Selector(sel),
                except: vec![],
                span,
            },
        }
    }

    fn selector(&self, p: Pair<Rule>) -> Selector {
        let span = self.span(&p);
        let requirements = tight(
            p.into_inner()
                .filter(|x| x.as_rule() == Rule::requirement)
                .map(|x| self.requirement(x))
                .collect(),
        );
        Selector { requirements, span }
    }

    fn requirement(&self, p: Pair<Rule>) -> Requirement {
        let span = self.span(&p);
        let mut req = Requirement {
            key: Spanned::new(String::new(), span),
            op: ReqOp::Exists,
            values: vec![],
            missing_value: false,
            quoted_key: false,
            span,
        };
        for part in p.into_inner() {
            match part.as_rule() {
                Rule::label_key => {
                    req.quoted_key = part.as_str().starts_with('"');
                    req.key = self.unquote(&part);
                }
                Rule::req_absent => {
                    req.op = ReqOp::NotExists;
                    if let Some(k) = part.into_inner().next() {
                        req.quoted_key = k.as_str().starts_with('"');
                        req.key = self.unquote(&k);
                    }
                }
                Rule::req_in | Rule::req_notin => {
                    req.op = if part.as_rule() == Rule::req_in {
                        ReqOp::In
                    } else {
                        ReqOp::NotIn
                    };
                    for c in part.into_inner() {
                        if c.as_rule() == Rule::value_list {
                            req.values = c.into_inner().map(|v| self.unquote(&v)).collect();
                        }
                    }
                }
                Rule::req_cmp => {
                    let mut saw_value = false;
                    req.op = ReqOp::Eq;
                    for c in part.into_inner() {
                        match c.as_rule() {
                            Rule::cmp_op => {
                                req.op = match c.as_str() {
                                    "==" => ReqOp::EqEq,
                                    "!=" => ReqOp::NotEq,
                                    _ => ReqOp::Eq,
                                }
                            }
                            Rule::star => {
                                saw_value = true;
                                req.op = if req.op == ReqOp::NotEq {
                                    ReqOp::NotExists
                                } else {
                                    ReqOp::Exists
                                };
                            }
                            Rule::label_value => {
                                saw_value = true;
                                req.values.push(self.unquote(&c));
                            }
                            _ => {}
                        }
                    }
                    req.missing_value = !saw_value;
                }
                _ => {}
            }
        }
        req.values.shrink_to_fit();
        req
    }

    fn unquote(&self, p: &Pair<Rule>) -> Spanned<String> {
        let s = p.as_str();
        let v = s
            .strip_prefix('"')
            .and_then(|x| x.strip_suffix('"'))
            .unwrap_or(s);
        Spanned::new(v.to_string(), self.span(p))
    }

    fn port_item(&self, p: Pair<Rule>) -> PortItem {
        let span = self.span(&p);
        let mut item = PortItem {
            protocol: None,
            spec: None,
            span,
        };
        for c in p.into_inner() {
            match c.as_rule() {
                Rule::protocol => item.protocol = Some(self.text(&c)),
                Rule::port_spec => {
                    if let Some(s) = c.into_inner().next() {
                        item.spec = match s.as_rule() {
                            Rule::port_range => {
                                let mut atoms = s.into_inner().map(|a| self.port_atom(a));
                                match (atoms.next(), atoms.next()) {
                                    (Some(a), Some(b)) => Some(PortSpec::Range(a, b)),
                                    _ => None,
                                }
                            }
                            _ => Some(PortSpec::Single(self.port_atom(s))),
                        }
                    }
                }
                _ => {}
            }
        }
        item
    }

    /// `nodes { ... }`.
    fn nodes(&self, p: Pair<Rule>) -> NodesBlock {
        let span = self.span(&p);
        let head = self.head(&p);
        let mut block = NodesBlock {
            silence: vec![],
            roles: vec![],
            rules: vec![],
            span,
            head,
        };
        for c in p.into_inner() {
            match c.as_rule() {
                Rule::attrs => block.silence = self.attrs(c),
                Rule::role_stmt => {
                    let span = self.span(&c);
                    let mut role = RoleDecl {
                        name: Spanned::new(String::new(), span),
                        addresses: vec![],
                        runs: None,
                        silence: vec![],
                        span,
                        head: self.head(&c),
                    };
                    for x in c.into_inner() {
                        match x.as_rule() {
                            Rule::attrs => role.silence = self.attrs(x),
                            Rule::name => role.name = self.text(&x),
                            Rule::peer_list => role.addresses = self.peer_list(x),
                            Rule::role_runs => {
                                role.runs = Some(
                                    x.into_inner()
                                        .filter(|n| n.as_rule() == Rule::name)
                                        .map(|n| self.text(&n))
                                        .collect(),
                                )
                            }
                            _ => {}
                        }
                    }
                    block.roles.push(role);
                }
                Rule::node_rule => {
                    let span = self.span(&c);
                    let head = self.head(&c);
                    let mut action = Action::Allow;
                    let mut silence = Vec::new();
                    let mut sides = Vec::new();
                    for x in c.into_inner() {
                        match x.as_rule() {
                            Rule::attrs => silence = self.attrs(x),
                            Rule::action if x.as_str().starts_with("deny") => action = Action::Deny,
                            Rule::side => sides.push(self.side(x)),
                            _ => {}
                        }
                    }
                    let mut sides = sides.into_iter();
                    let src = sides.next().unwrap_or_else(|| empty_side(span));
                    let dst = sides.next().unwrap_or_else(|| empty_side(span));
                    block.rules.push(NodeRule {
                        action,
                        src,
                        dst,
                        silence,
                        span,
                        head,
                    });
                }
                _ => {}
            }
        }
        block
    }

    /// `port NAME = PORTS ["NOTE"] [on ROLES] [for management]`.
    fn port_decl(&self, p: Pair<Rule>) -> PortDecl {
        let span = self.span(&p);
        let mut d = PortDecl {
            name: Spanned::new(String::new(), span),
            ports: Spanned::new(vec![], span),
            note: None,
            on: vec![],
            management: false,
            silence: vec![],
            span,
        };
        for c in p.into_inner() {
            match c.as_rule() {
                Rule::attrs => d.silence = self.attrs(c),
                Rule::port_name => d.name = self.text(&c),
                Rule::port_list => {
                    let pspan = self.span(&c);
                    d.ports =
                        Spanned::new(c.into_inner().map(|i| self.port_item(i)).collect(), pspan);
                }
                Rule::port_note => {
                    if let Some(q) = c.into_inner().next() {
                        d.note = Some(self.unquote(&q));
                    }
                }
                Rule::port_on => {
                    d.on = c
                        .into_inner()
                        .filter(|n| n.as_rule() == Rule::name)
                        .map(|n| self.text(&n))
                        .collect()
                }
                Rule::port_mgmt => d.management = true,
                _ => {}
            }
        }
        d
    }

    fn port_atom(&self, p: Pair<Rule>) -> PortAtom {
        if p.as_rule() == Rule::port_number {
            PortAtom::Number(self.text(&p))
        } else {
            PortAtom::Name(self.text(&p))
        }
    }
}

type Rule_ = super::ast::Rule;

/// Where the text of a pair's last leaf ends (a leaf: a rule without inner
/// pairs), minus trailing blanks: so neither the whitespace and comments
/// pest skips after a rule's last token, nor a closing literal such as `}`,
/// belong to the span. Found by descending through the last inner pair of
/// each level. (Reading the pair's tokens backwards costs fewer
/// instructions in a release build, but in a debug build pest checks every
/// token of the file each time a pair's tokens are read, which made parsing
/// a file of many namespace blocks quadratic: docs/performance.md.)
fn last_end(p: &Pair<Rule>) -> usize {
    let mut p = p.clone();
    while let Some(c) = p.clone().into_inner().next_back() {
        p = c;
    }
    p.as_span().start() + p.as_str().trim_end().len()
}

/// [`last_end`] read from the pair's tokens backwards (its own end, then
/// the ends of its last child, that child's last child, ... down to the
/// leaf, whose start comes next): the test's second opinion.
#[cfg(test)]
fn last_end_by_tokens(p: &Pair<Rule>) -> usize {
    let base = p.as_span().start();
    let text = p.as_str();
    let mut toks = p.clone().tokens().rev();
    toks.next(); // the pair's own end
    let mut leaf_end = None;
    for t in toks {
        match t {
            pest::Token::End { pos, .. } => leaf_end = Some(pos.pos()),
            pest::Token::Start { pos, .. } => {
                if let Some(end) = leaf_end {
                    let start = pos.pos();
                    let leaf = text.get(start - base..end - base).unwrap_or("");
                    return start + leaf.trim_end().len();
                }
                break;
            }
        }
    }
    base + text.trim_end().len()
}

/// `v` without spare capacity. A vector that grows by `push` holds room
/// for four elements at least, and most lists of a statement (its peers,
/// requirements, values, ports) have one: without this the syntax tree of
/// a statement was four times its size (docs/performance.md, "Limits").
fn tight<T>(mut v: Vec<T>) -> Vec<T> {
    v.shrink_to_fit();
    v
}

fn empty_side(span: Span) -> Side {
    Side {
        peers: vec![],
        parenthesized: false,
        ports: None,
        span,
    }
}

/// `db` alone (one bare requirement, unquoted): a name rather than "key exists".
fn lone_name(sel: &Selector) -> Option<Spanned<String>> {
    match sel.requirements.as_slice() {
        [r] if r.op == ReqOp::Exists
            && r.values.is_empty()
            && r.span == r.key.span
            && !r.key.node.contains('/') =>
        {
            Some(r.key.clone())
        }
        _ => None,
    }
}

/// Plain-word descriptions of grammar rules for syntax errors.
fn describe(rule: &Rule) -> Option<&'static str> {
    Some(match rule {
        Rule::EOI => "end of file",
        Rule::attrs | Rule::attr => "`@silence(...)`",
        Rule::lint_code => "a lint code such as `W0701`",
        Rule::use_stmt | Rule::kw_use => "`use`",
        Rule::define_stmt | Rule::kw_define => "`define`",
        Rule::namespace_block | Rule::kw_namespace => "`namespace`",
        Rule::posture | Rule::kw_default => "`default`",
        Rule::workload_stmt | Rule::kw_workload => "`workload`",
        Rule::isolate_stmt | Rule::kw_isolate => "`isolate`",
        Rule::rule_stmt | Rule::action | Rule::kw_allow => "`allow` or `deny`",
        Rule::kw_deny | Rule::posture_deny => "`deny`",
        Rule::posture_allow => "`allow`",
        Rule::direction | Rule::kw_ingress | Rule::kw_egress => "`ingress` or `egress`",
        Rule::name => "a name",
        Rule::module_name => "a module name",
        Rule::ns_name | Rule::ns_ident => "a namespace name",
        Rule::side | Rule::peer_list | Rule::peer | Rule::group => "a peer",
        Rule::cluster | Rule::kw_cluster => "`cluster`",
        Rule::world | Rule::kw_world => "`world`",
        Rule::all_pods => "`*`",
        Rule::ns_labels => "`{labels}`",
        Rule::ns_peer => "`namespace/selector`",
        Rule::address => "an address",
        Rule::dns_peer | Rule::dns_name => "a DNS name (`dns:api.example.com`)",
        Rule::selector | Rule::requirement | Rule::req_absent => "a label selector",
        Rule::req_cmp => "`=` or `!=`",
        Rule::req_in | Rule::kw_in => "`in`",
        Rule::req_notin | Rule::kw_notin => "`notin`",
        Rule::label_key => "a label key",
        Rule::label_value | Rule::star => "a label value",
        Rule::value_list => "`(`",
        Rule::cmp_op => "`=` or `!=`",
        Rule::except_clause | Rule::kw_except => "`except`",
        Rule::ports => "`:` and ports",
        Rule::port_list
        | Rule::port_item
        | Rule::port_spec
        | Rule::port_number
        | Rule::port_range => "a port",
        Rule::port_name => "a port name",
        Rule::protocol => "a protocol (`tcp`, `udp`, `sctp`)",
        Rule::full_rule | Rule::short_rule => "a rule",
        Rule::nodes_block | Rule::kw_nodes => "`nodes`",
        Rule::role_stmt | Rule::kw_role => "`role`",
        Rule::role_runs | Rule::kw_runs => "`runs`",
        Rule::node_rule => "`allow` or `deny`",
        Rule::port_decl | Rule::kw_port => "`port`",
        Rule::port_note => "a quoted note",
        Rule::port_on | Rule::kw_on => "`on`",
        Rule::port_mgmt | Rule::kw_for => "`for management`",
        Rule::kw_management => "`management`",
        _ => return None,
    })
}

fn syntax_error(file: FileId, text: &str, e: pest::error::Error<Rule>) -> Diagnostic {
    use pest::error::{ErrorVariant, InputLocation};
    let pos = match e.location {
        InputLocation::Pos(p) => p,
        InputLocation::Span((s, _)) => s,
    };
    let end = next_token_end(text, pos);
    if let Some(d) = outside_namespace(file, text, pos, end) {
        return d;
    }
    let found = if pos >= text.len() {
        "end of file".to_string()
    } else {
        describe_found(&text[pos..end])
    };
    let mut expected: Vec<&str> = match &e.variant {
        ErrorVariant::ParsingError { positives, .. } => {
            positives.iter().filter_map(describe).collect()
        }
        ErrorVariant::CustomError { .. } => vec![],
    };
    expected.sort_unstable();
    expected.dedup();
    let message = if expected.is_empty() {
        format!("unexpected {found}")
    } else {
        format!("expected {}, found {found}", join_or(&expected))
    };
    let mut d = Diagnostic::error("E0001", message)
        .at(Span::new(file, pos, end.max(pos)), "unexpected here");
    if let Some(h) = syntax_help(text, pos) {
        d = d.with_help(h);
    }
    d
}

/// A statement of a namespace block (`allow`, `deny`, `isolate`,
/// `workload`, `default`) at the top level: which block it belongs in,
/// and, when a block closed before it, where.
fn outside_namespace(file: FileId, text: &str, pos: usize, end: usize) -> Option<Diagnostic> {
    let word = text.get(pos..end)?;
    if !matches!(word, "allow" | "deny" | "isolate" | "workload" | "default") {
        return None;
    }
    // the braces before it, outside comments and quotes
    let mut depth = 0usize;
    let mut last_close = None;
    for (i, c) in code_chars(&text[..pos]) {
        match c {
            '{' => depth += 1,
            '}' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    last_close = Some(i);
                }
            }
            _ => {}
        }
    }
    if depth != 0 {
        return None;
    }
    let example = match word {
        "default" => "default deny",
        "workload" => "workload NAME = app=x",
        "isolate" => "isolate app=x",
        w => {
            if w == "allow" {
                "allow SRC -> DST:PORTS"
            } else {
                "deny SRC -> DST:PORTS"
            }
        }
    };
    let mut d = Diagnostic::error("E0001", format!("`{word}` must be inside a `namespace` block"))
        .at(Span::new(file, pos, end), "outside every block")
        .with_help(format!(
            "{} `{word}` is about the pods of one namespace: write it in that namespace's block, `namespace NAME {{ {example} }}`",
            if matches!(word, "allow" | "isolate") { "an" } else { "a" }
        ));
    if let Some(close) = last_close {
        d = d.with_label(
            Span::new(file, close, close + 1),
            "the last block ends here",
        );
    }
    Some(d)
}

/// What a syntax error found, in words when its text would not show:
/// a NUL byte, another control character, a byte order mark.
fn describe_found(found: &str) -> String {
    match found.chars().next() {
        Some('\0') => "a NUL byte".into(),
        Some(crate::source::BOM) => {
            "a byte order mark (U+FEFF) that does not start the file".into()
        }
        Some(c) if c.is_control() && !matches!(c, '\n' | '\t' | '\r') => {
            format!("the control character U+{:04X}", c as u32)
        }
        _ => format!("`{found}`"),
    }
}

fn next_token_end(text: &str, pos: usize) -> usize {
    if pos >= text.len() {
        return text.len();
    }
    let rest = &text[pos..];
    let first = rest.chars().next().map(|c| c.len_utf8()).unwrap_or(0);
    let word = rest
        .char_indices()
        .find(|(_, c)| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
        .map(|(i, _)| i)
        .unwrap_or(rest.len());
    pos + word.max(first)
}

fn join_or(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [a] => a.to_string(),
        _ => format!(
            "{} or {}",
            items[..items.len() - 1].join(", "),
            items[items.len() - 1]
        ),
    }
}

/// Hints for frequent mistakes, keyed on the text at the error.
fn syntax_help(text: &str, pos: usize) -> Option<String> {
    if text[pos.min(text.len())..].trim().is_empty()
        && text.matches('{').count() > text.matches('}').count()
    {
        return Some(
            "a `}` is missing: every `namespace NAME { ... }` block must be closed".into(),
        );
    }
    let rest = &text[pos.min(text.len())..];
    let line_start = text[..pos.min(text.len())]
        .rfind('\n')
        .map(|i| i + 1)
        .unwrap_or(0);
    let line = &text[line_start..];
    let line = line.lines().next().unwrap_or("");
    if rest.starts_with("=>") || rest.starts_with("-->") || rest.starts_with('>') {
        return Some("write an arrow as `->`: `allow SRC -> DST:PORT`".into());
    }
    if rest.starts_with(';') {
        return Some("statements end at the end of the line; remove the `;`".into());
    }
    let trimmed = line.trim_start();
    if (trimmed.starts_with("allow") || trimmed.starts_with("deny"))
        && !line.contains("->")
        && !line.contains("gress")
    {
        return Some("a rule is `allow SRC -> DST[:PORTS]`, `allow egress DST[:PORTS]` or `allow ingress SRC`".into());
    }
    if trimmed.starts_with("allow") || trimmed.starts_with("deny") || trimmed.starts_with("isolate")
    {
        return Some("peers are `*`, `cluster`, `world`, a name, a label selector such as `app=api`, `ns/selector`, `{labels}/selector` or an address such as `10.0.0.0/8`".into());
    }
    if text[..pos.min(text.len())].trim_end().ends_with('}') || rest.starts_with('}') {
        return None;
    }
    None
}

#[cfg(test)]
mod tests {
    /// The text of every `.npl` file under these directories of the
    /// repository (recursively).
    fn npl_texts(dirs: &[&str]) -> Vec<String> {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut dirs: Vec<_> = dirs.iter().map(|d| root.join(d)).collect();
        let mut texts = Vec::new();
        while let Some(d) = dirs.pop() {
            for e in std::fs::read_dir(&d).unwrap().flatten() {
                let p = e.path();
                if p.is_dir() {
                    dirs.push(p);
                } else if p.extension().is_some_and(|x| x == "npl") {
                    texts.push(std::fs::read_to_string(&p).unwrap());
                }
            }
        }
        texts
    }

    use super::*;

    /// Descending through the last inner pairs (`last_end`) equals reading
    /// the tokens backwards, on every pair of every example, stdlib module
    /// and test case that parses (comments, closing braces and blank lines included).
    #[test]
    fn last_end_equals_the_last_leaf_by_tokens() {
        let mut texts = vec![
            "namespace a { # c\n  allow x -> y:80 # t\n\n  deny egress (1.2.3.4 | w) # z\n}\n# end\n"
                .to_string(),
        ];
        texts.extend(npl_texts(&["examples", "stdlib", "tests/cases"]));
        let mut pairs_checked = 0;
        for t in &texts {
            let Ok(pairs) = NplParser::parse(Rule::file, t) else {
                continue;
            };
            for p in pairs.flatten() {
                assert_eq!(
                    last_end(&p),
                    last_end_by_tokens(&p),
                    "{:?} {:?}",
                    p.as_rule(),
                    p.as_str()
                );
                pairs_checked += 1;
            }
        }
        assert!(pairs_checked > 1_000, "only {pairs_checked} pairs");
    }

    /// Parsing piece by piece (`parse_stepwise`) gives the AST of parsing
    /// the whole file at once, or fails where that fails, on every example,
    /// stdlib module and test case, odd layouts, and every prefix of them
    /// (cut every few bytes: unclosed blocks, half statements).
    #[test]
    fn stepwise_parsing_equals_parsing_the_whole_file() {
        let mut texts: Vec<String> = [
            "",
            "  # only a comment",
            "\u{FEFF}namespace a { allow x -> y:80 }",
            " \u{FEFF} use dns\r\nnamespace a{allow x->y:80}namespace b {}",
            "namespace a { # c\n  allow x -> y:80 # t\n\n  deny egress (1.2.3.4 | w) # z\n}\n# end\n",
            "@silence(W0602) namespace a {\r  @silence(W0603) allow x -> y\r}\r",
            "@silence(W0602) nodes { role cp = 10.0.0.1 }\nport kubelet = tcp/10250\n",
            "define w = 10.0.0.0/8\nnamespace a {\n define v = app=x\n workload x = app=x\n isolate egress x\n default deny\n}\n",
            "namespace a { allow x -> y:80 } }",
            "namespace a { allow x -> y:80 namespace b { }",
            "namespace a { allow a, b -> y }",
            "namespacea { }",
            "namespace a { allow x -> y:80 }\u{FEFF}",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        texts.extend(npl_texts(&[
            "examples",
            "stdlib",
            "tests/cases",
            "tests/firewall",
        ]));
        let file = FileId(0);
        let (mut parsed, mut failed) = (0, 0);
        for t in &texts {
            let cuts = (0..t.len())
                .step_by(13)
                .chain([t.len()])
                .filter(|&i| t.is_char_boundary(i));
            for cut in cuts {
                let t = &t[..cut];
                match (parse_whole(file, t), parse_stepwise(file, t)) {
                    (Ok(whole), Some(step)) => {
                        assert_eq!(whole, step, "{t:?}");
                        parsed += 1;
                    }
                    (Err(_), None) => failed += 1,
                    (whole, step) => panic!("{t:?}: {whole:?} against {step:?}"),
                }
            }
        }
        assert!(
            parsed > 200 && failed > 1_000,
            "{parsed} parsed, {failed} failed"
        );
    }

    fn parse(s: &str) -> File {
        match parse_file(FileId(0), s) {
            Ok(f) => f,
            Err(d) => panic!("{d:?}"),
        }
    }

    fn rules(f: &File) -> Vec<Rule_> {
        let mut out = vec![];
        for i in &f.items {
            if let Item::Namespace(n) = i {
                for s in &n.statements {
                    if let Statement::Rule(r) = s {
                        out.push(r.clone());
                    }
                }
            }
        }
        out
    }

    /// `dns:NAME` needs a dot or a leading `*` after the colon: `dns:53`
    /// and `dns:udp/53` stay the stdlib name `dns` with ports.
    #[test]
    fn dns_names_and_the_dns_name_with_ports() {
        let f = parse("namespace a {\n  allow egress dns\n  allow egress dns:53\n  allow egress dns:udp/53, tcp/53\n  allow x -> dns:api.Stripe.com.:443\n  allow x -> (dns:*.s3.amazonaws.com | dns:*):443\n  allow dns:a.b-c -> y\n}\n");
        let r = rules(&f);
        let dst = |i: usize| r[i].dst.as_ref().unwrap();
        assert_eq!(dst(0).peers[0].kind, PeerKind::Name("dns".into()));
        assert!(dst(0).ports.is_none());
        assert_eq!(dst(1).peers[0].kind, PeerKind::Name("dns".into()));
        assert_eq!(dst(1).ports.as_ref().unwrap().node.len(), 1);
        assert_eq!(dst(2).peers[0].kind, PeerKind::Name("dns".into()));
        assert_eq!(dst(2).ports.as_ref().unwrap().node.len(), 2);
        assert_eq!(dst(3).peers[0].kind, PeerKind::Dns("api.Stripe.com.".into()));
        assert_eq!(dst(3).ports.as_ref().unwrap().node.len(), 1);
        let g = &dst(4).peers;
        assert!(dst(4).parenthesized);
        assert_eq!(g[0].kind, PeerKind::Dns("*.s3.amazonaws.com".into()));
        assert_eq!(g[1].kind, PeerKind::Dns("*".into()));
        // anywhere a peer stands, then refused by checking
        let src = r[5].src.as_ref().unwrap();
        assert_eq!(src.peers[0].kind, PeerKind::Dns("a.b-c".into()));
    }

    #[test]
    fn design_card_lines() {
        let f = parse("namespace payments {\n  workload db = app=postgres\n  allow app=api -> db:5432\n  deny egress 169.254.169.254\n}\n");
        let r = rules(&f);
        assert_eq!(r.len(), 2);
        let src = r[0].src.as_ref().unwrap();
        assert!(
            matches!(&src.peers[0].kind, PeerKind::Selector(s) if s.requirements[0].key.node == "app")
        );
        let dst = r[0].dst.as_ref().unwrap();
        assert_eq!(dst.peers[0].kind, PeerKind::Name("db".into()));
        assert_eq!(dst.ports.as_ref().unwrap().node.len(), 1);
        assert_eq!(r[1].action, Action::Deny);
        assert_eq!(
            r[1].dst.as_ref().unwrap().peers[0].kind,
            PeerKind::Address("169.254.169.254".into())
        );
    }

    #[test]
    fn peers_of_every_kind() {
        let f = parse(
            "namespace a { allow {team=ops}/type=monitoring | kube-system/k8s-app=kube-dns | cluster | world | * \
             | 10.0.0.0/8 except (10.1.0.0/16 | 10.2.0.0/16) | fd00:ec2::254/128 | app.kubernetes.io/name=x, !legacy, tier in (a, b) \
             -> (db | x/*):tcp/5432, udp/53, 8000-8100, http, sctp }",
        );
        let r = &rules(&f)[0];
        let src = r.src.as_ref().unwrap();
        assert_eq!(src.peers.len(), 8);
        assert!(matches!(
            src.peers[0].kind,
            PeerKind::NamespaceLabels { .. }
        ));
        assert!(matches!(src.peers[1].kind, PeerKind::Namespaced { .. }));
        assert_eq!(src.peers[5].except.len(), 2);
        assert_eq!(
            src.peers[6].kind,
            PeerKind::Address("fd00:ec2::254/128".into())
        );
        match &src.peers[7].kind {
            PeerKind::Selector(s) => {
                assert_eq!(s.requirements.len(), 3);
                assert_eq!(s.requirements[0].key.node, "app.kubernetes.io/name");
                assert_eq!(s.requirements[1].op, ReqOp::NotExists);
                assert_eq!(s.requirements[2].op, ReqOp::In);
            }
            k => panic!("{k:?}"),
        }
        let dst = r.dst.as_ref().unwrap();
        assert!(dst.parenthesized);
        assert_eq!(dst.ports.as_ref().unwrap().node.len(), 5);
    }

    #[test]
    fn loose_forms_parse() {
        let f = parse("namespace a { allow app==api -> db: \n allow ingress x:443 \n allow a -> b:8000-http }");
        let r = rules(&f);
        assert_eq!(r.len(), 3);
    }

    #[test]
    fn nodes_blocks_and_port_declarations() {
        let f = parse(
            "port kube-apiserver = tcp/6443 \"API server (seed 000)\" on control-plane\n\
             port ssh = tcp/22 \"SSH\" for management\n\
             @silence(W0707) nodes {\n  role control-plane = 10.0.0.0/24\n  role bastion = 192.168.100.10 runs ssh, kubelet\n  role lonely\n\
             @silence(W0701) allow admin-net -> control-plane | worker:ssh, tcp/nodeport, 22, udp/30000-32767\n  deny world -> worker:udp\n}",
        );
        assert_eq!(f.ports.len(), 2);
        assert_eq!(f.ports[0].name.node, "kube-apiserver");
        assert_eq!(
            f.ports[0].note.as_ref().unwrap().node,
            "API server (seed 000)"
        );
        assert_eq!(f.ports[0].on[0].node, "control-plane");
        assert!(!f.ports[0].management && f.ports[1].management);
        let b = &f.nodes[0];
        assert_eq!(b.silence[0].node, "W0707");
        assert_eq!(b.roles.len(), 3);
        assert_eq!(b.roles[1].runs.as_ref().unwrap().len(), 2);
        assert!(b.roles[2].addresses.is_empty() && b.roles[2].runs.is_none());
        assert_eq!(b.rules.len(), 2);
        assert_eq!(b.rules[0].silence[0].node, "W0701");
        assert_eq!(b.rules[0].dst.peers.len(), 2);
        assert_eq!(b.rules[0].dst.ports.as_ref().unwrap().node.len(), 4);
        assert_eq!(b.rules[1].action, Action::Deny);
        // `role`, `port`, `on` stay usable as label keys
        let g = parse("namespace a { allow role=db, port=x, on=y -> *:80 }");
        assert_eq!(rules(&g).len(), 1);
    }

    #[test]
    fn syntax_error_is_plain() {
        let e = parse_file(FileId(0), "namespace a { allow app=api => db }").unwrap_err();
        assert_eq!(e.code, "E0001");
        assert!(e.help.unwrap().contains("->"));
    }

    #[test]
    fn a_namespace_statement_at_the_top_level_says_where_it_belongs() {
        for (text, word) in [
            ("allow app=api -> db:5432\n", "allow"),
            ("namespace a { default deny }\n# }\ndeny x -> y\n", "deny"),
            ("define x = \"}\"=1\nisolate app=x\n", "isolate"),
            ("workload db = app=db\n", "workload"),
            ("default deny\n", "default"),
        ] {
            let e = parse_file(FileId(0), text).unwrap_err();
            assert_eq!(e.code, "E0001");
            assert_eq!(
                e.message,
                format!("`{word}` must be inside a `namespace` block"),
                "{text}"
            );
            assert!(e.help.unwrap().contains("namespace NAME {"));
            let at = e.primary.unwrap();
            assert_eq!(&text[at.start..at.end], word);
        }
        // the block that closed before it
        let e = parse_file(
            FileId(0),
            "namespace a {\n  allow x=y -> *:80 }\n  allow x=z -> *:80\n}\n",
        )
        .unwrap_err();
        assert_eq!(e.labels[0].span.start, 34);
        // inside a block, a syntax error stays one
        let e = parse_file(FileId(0), "namespace a { allow allow }").unwrap_err();
        assert!(!e.message.contains("must be inside"), "{}", e.message);
    }

    #[test]
    fn odd_bytes_are_named() {
        let e = parse_file(FileId(0), "namespace a {\n  allow x -> \0y\n}\n").unwrap_err();
        assert!(e.message.ends_with("found a NUL byte"), "{}", e.message);
        assert_eq!(e.primary.map(|s| (s.start, s.end)), Some((27, 28)));
        let e = parse_file(FileId(0), "namespace a {\u{7} }").unwrap_err();
        assert!(
            e.message.ends_with("found the control character U+0007"),
            "{}",
            e.message
        );
        let e = parse_file(FileId(0), "namespace a { }\u{feff}").unwrap_err();
        assert!(e.message.contains("byte order mark"), "{}", e.message);
    }

    #[test]
    fn a_byte_order_mark_starts_a_file() {
        let text = "\u{feff}namespace a { allow x -> y:80 }";
        let f = parse(text);
        let r = &rules(&f)[0];
        // spans are offsets into the file as it is, mark included
        assert_eq!(&text[r.span.start..r.span.end], "allow x -> y:80");
        assert_eq!(r.span.start, 17);
    }
}
