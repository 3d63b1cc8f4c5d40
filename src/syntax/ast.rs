//! The abstract syntax tree: what a file says, with a span on every node, and
//! nothing checked yet (numbers are kept as written, names unresolved).

use crate::source::{FileId, Span};

/// A value with the span it was written at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spanned<T> {
    pub node: T,
    pub span: Span,
}

impl<T> Spanned<T> {
    pub fn new(node: T, span: Span) -> Spanned<T> {
        Spanned { node, span }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct File {
    pub id: FileId,
    pub items: Vec<Item>,
    /// `nodes { ... }` blocks (the node firewall, docs/firewall.md), in order.
    pub nodes: Vec<NodesBlock>,
    /// `port NAME = ...` declarations of node component ports, in order.
    pub ports: Vec<PortDecl>,
    /// Where a `,` stands between peers (an error, E0110: `|` joins peers).
    pub peer_commas: Vec<Span>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    Use(Vec<Spanned<String>>),
    Define(Define),
    Namespace(NamespaceBlock),
}

/// `define NAME = SIDE` (top level or in a namespace) or `workload NAME = SELECTOR`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Define {
    pub name: Spanned<String>,
    pub value: Side,
    /// `workload` (a pod selector of its namespace) rather than `define`.
    pub workload: bool,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamespaceBlock {
    pub name: Spanned<String>,
    /// Lint codes silenced by `@silence(...)` on the block.
    pub silence: Vec<Spanned<String>>,
    pub statements: Vec<Statement>,
    pub span: Span,
}

// The statement vocabulary is the IR's (`ir::Action`, `ir::Direction`):
// one type for each, from the parser to the evaluators.
use crate::ir::{Action, Direction};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Statement {
    /// `default allow`, `default deny [ingress|egress]`.
    Posture {
        allow: bool,
        direction: Option<Direction>,
        silence: Vec<Spanned<String>>,
        span: Span,
    },
    Define(Define),
    Isolate {
        direction: Option<Direction>,
        targets: Vec<Peer>,
        silence: Vec<Spanned<String>>,
        span: Span,
    },
    Rule(Rule),
    /// `labels {k=v, ...}`: the namespace's own labels, all of them.
    Labels {
        labels: Selector,
        span: Span,
    },
}

/// `allow|deny SRC -> DST`, or a shorthand (`allow egress DST`, `allow ingress SRC`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub action: Action,
    /// `Some` for the shorthand forms.
    pub shorthand: Option<Spanned<Direction>>,
    pub src: Option<Side>,
    pub dst: Option<Side>,
    /// `on ingress` / `on egress`: the statement decides that side only.
    pub scope: Option<Spanned<Direction>>,
    /// Lint codes silenced by `@silence(...)` on the statement.
    pub silence: Vec<Spanned<String>>,
    pub span: Span,
}

/// A union of peers with optional ports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Side {
    pub peers: Vec<Peer>,
    pub parenthesized: bool,
    /// `None`: no `:` written. `Some(empty)`: `:` with nothing after it.
    pub ports: Option<Spanned<Vec<PortItem>>>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    pub kind: PeerKind,
    pub except: Vec<Peer>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeerKind {
    /// `*`: every pod of the current namespace.
    AllPods,
    Cluster,
    World,
    /// An address or CIDR as written.
    Address(String),
    /// A label selector in the current namespace.
    Selector(Selector),
    /// A lone word: a declared or stdlib name.
    Name(String),
    /// `ns/...`.
    Namespaced {
        ns: Spanned<String>,
        pods: PodPart,
    },
    /// `{labels}/...`.
    NamespaceLabels {
        namespaces: Selector,
        pods: PodPart,
    },
    /// `( P | P ... )` used as one peer (nested, or with `except`).
    Group(Vec<Peer>),
    /// `dns:NAME`: a DNS name or `*.` pattern, as written after `dns:`.
    Dns(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PodPart {
    All,
    Selector(Selector),
    Name(Spanned<String>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selector {
    pub requirements: Vec<Requirement>,
    pub span: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReqOp {
    Eq,
    /// `==`: accepted by the grammar, rejected with a hint.
    EqEq,
    NotEq,
    In,
    NotIn,
    Exists,
    NotExists,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    pub key: Spanned<String>,
    pub op: ReqOp,
    pub values: Vec<Spanned<String>>,
    /// `k=` with nothing after `=`.
    pub missing_value: bool,
    /// The key was written in quotes (`"team/x"=1`).
    pub quoted_key: bool,
    pub span: Span,
}

impl Requirement {
    /// The requirement as it would be written (`app=x`, `tier in (a, b)`).
    pub fn written(&self) -> String {
        let vals = || {
            self.values
                .iter()
                .map(|v| v.node.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let k = &self.key.node;
        match self.op {
            ReqOp::Eq | ReqOp::EqEq => format!("{k}={}", vals()),
            ReqOp::NotEq => format!("{k}!={}", vals()),
            ReqOp::In => format!("{k} in ({})", vals()),
            ReqOp::NotIn => format!("{k} notin ({})", vals()),
            ReqOp::Exists => k.clone(),
            ReqOp::NotExists => format!("!{k}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortItem {
    pub protocol: Option<Spanned<String>>,
    pub spec: Option<PortSpec>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PortAtom {
    Number(Spanned<String>),
    Name(Spanned<String>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PortSpec {
    Single(PortAtom),
    Range(PortAtom, PortAtom),
}

/// `nodes { ... }`: node roles and the rules for the nodes' own ports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodesBlock {
    /// Lint codes silenced by `@silence(...)` on the block.
    pub silence: Vec<Spanned<String>>,
    pub roles: Vec<RoleDecl>,
    pub rules: Vec<NodeRule>,
    pub span: Span,
    /// Where the block begins after its `@silence` attributes (the keyword).
    pub head: Span,
}

/// `role NAME [= ADDRESSES] [runs COMPONENT, ...]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleDecl {
    pub name: Spanned<String>,
    /// The addresses of the role's nodes (empty when none are written).
    pub addresses: Vec<Peer>,
    /// `runs ...`: the components the role runs, replacing the defaults.
    pub runs: Option<Vec<Spanned<String>>>,
    pub silence: Vec<Spanned<String>>,
    pub span: Span,
    /// The declaration from its keyword on, after its `@silence` attributes.
    pub head: Span,
}

/// `allow|deny SRC -> ROLES:PORTS` in a `nodes` block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeRule {
    pub action: Action,
    pub src: Side,
    pub dst: Side,
    pub silence: Vec<Spanned<String>>,
    pub span: Span,
    /// The rule from its keyword on, after its `@silence` attributes.
    pub head: Span,
}

/// `port NAME = PORTS ["NOTE"] [on ROLE, ...] [for management]`: a named
/// component port of the nodes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortDecl {
    pub name: Spanned<String>,
    pub ports: Spanned<Vec<PortItem>>,
    /// The note, without its quotes.
    pub note: Option<Spanned<String>>,
    /// Roles that run the component by default.
    pub on: Vec<Spanned<String>>,
    /// `for management`: the way operators reach the nodes (such as SSH).
    pub management: bool,
    pub silence: Vec<Spanned<String>>,
    pub span: Span,
}
