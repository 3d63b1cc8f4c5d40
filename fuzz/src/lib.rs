//! A structure-aware generator for the `compile` fuzz target: an
//! [`Arbitrary`] AST of `.npl` programs, rendered to text. It follows the
//! grammar (grammar/npl.pest), not the checker: every peer form (`*`,
//! selectors with every requirement form, names, `NS/...`, `{NSSEL}/...`,
//! `cluster`, `world`, IPv4, bracketed and bare IPv6, CIDRs, `except` with
//! one part or a group, groups `( a | b )`), port lists, `define`,
//! `workload`, postures, `isolate`, `use`, `@silence`, `nodes` blocks and
//! `port` declarations. Names come from small pools so that most references
//! resolve, with a few misspellings and misplaced `,` so that the error
//! paths are exercised too.

use arbitrary::Arbitrary;
use std::fmt::Write;

/// How deep groups and excepts nest when rendered (deeper ones render `*`).
const MAX_DEPTH: usize = 6;

#[derive(Arbitrary, Debug)]
pub struct Program {
    pub files: Vec<FileAst>,
}

#[derive(Arbitrary, Debug)]
pub struct FileAst {
    pub items: Vec<Item>,
}

#[derive(Arbitrary, Debug)]
pub enum Item {
    Use(Vec<Module>),
    Define(DefName, Side),
    Namespace(Silence, NsName, Vec<Stmt>),
    Nodes(Vec<NodeItem>),
    Port(PortName, Vec<PortItem>, bool, Vec<RoleName>, bool),
}

#[derive(Arbitrary, Debug)]
pub enum Stmt {
    Workload(WlName, Selector),
    Define(DefName, Side),
    Posture(Silence, Posture),
    Isolate(Silence, Option<Dir>, Vec<Peer>),
    Rule(Silence, Action, RuleShape),
}

#[derive(Arbitrary, Debug)]
pub enum NodeItem {
    Role(RoleName, Option<Vec<Peer>>, Vec<PortName>),
    Rule(Action, Side, Vec<RoleName>, Option<Vec<PortItem>>),
}

#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum Posture {
    Allow,
    Deny,
    DenyIngress,
    DenyEgress,
}

#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum Dir {
    Ingress,
    Egress,
}

#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum Action {
    Allow,
    Deny,
}

#[derive(Arbitrary, Debug)]
pub enum RuleShape {
    Full(Side, Side),
    Short(Dir, Side),
}

#[derive(Arbitrary, Debug)]
pub struct Silence(pub Option<u8>);

#[derive(Arbitrary, Debug)]
pub struct Side {
    pub peers: Vec<Peer>,
    pub ports: Option<Vec<PortItem>>,
}

#[derive(Arbitrary, Debug)]
pub struct Peer {
    pub atom: Atom,
    pub except: Option<Atom>,
    /// Mostly `|` before the next peer; sometimes `,` (E0110, or a selector
    /// continued).
    pub sep: u8,
}

#[derive(Arbitrary, Debug)]
pub enum Atom {
    All,
    Selector(Selector),
    Name(Name),
    /// `NS/*`, `NS/selector`, `NS/workload`
    Qualified(NsName, PodPart),
    /// `{selector}` or `{selector}/pods`
    NsLabels(Selector, Option<PodPart>),
    Cluster,
    World,
    /// octets, prefix length, style (see [`address`])
    V4([u8; 4], Option<u8>, u8),
    V6(Vec<u16>, Vec<u16>, Option<u8>, u8),
    V6Full([u16; 8], Option<u8>, u8),
    Group(Vec<Peer>),
}

#[derive(Arbitrary, Debug)]
pub enum PodPart {
    All,
    Selector(Selector),
}

#[derive(Arbitrary, Debug)]
pub struct Selector(pub Vec<Req>);

#[derive(Arbitrary, Debug)]
pub enum Req {
    Eq(Key, Value),
    DoubleEq(Key, Value),
    Ne(Key, Value),
    In(Key, Vec<Value>),
    NotIn(Key, Vec<Value>),
    Exists(Key),
    Absent(Key),
    EqStar(Key),
    NeStar(Key),
    EqEmpty(Key),
}

#[derive(Arbitrary, Debug)]
pub enum Key {
    Pool(u8),
    Quoted(u8),
    Raw(String),
}

#[derive(Arbitrary, Debug)]
pub enum Value {
    Pool(u8),
    Quoted(u8),
    Raw(String),
}

#[derive(Arbitrary, Debug)]
pub struct PortItem {
    pub proto: Option<Proto>,
    pub spec: Option<PortSpec>,
}

#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum Proto {
    Tcp,
    Udp,
    Sctp,
    TcpUpper,
}

#[derive(Arbitrary, Debug)]
pub enum PortSpec {
    Number(u16),
    Big(u32),
    Range(u16, u16),
    Name(PortName),
    NamedRange(PortName, u16),
}

#[derive(Arbitrary, Debug)]
pub struct Module(pub u8);
#[derive(Arbitrary, Debug)]
pub struct DefName(pub u8);
#[derive(Arbitrary, Debug)]
pub struct WlName(pub u8);
#[derive(Arbitrary, Debug)]
pub struct NsName(pub u8);
#[derive(Arbitrary, Debug)]
pub struct RoleName(pub u8);
#[derive(Arbitrary, Debug)]
pub struct PortName(pub u8);
#[derive(Arbitrary, Debug)]
pub struct Name(pub u8);

const MODULES: &[&str] = &[
    "rfc1918",
    "link-local",
    "dns",
    "metadata-api",
    "k8s-ports",
    "nosuch",
];
const DEFINES: &[&str] = &["d0", "d1", "d2", "private", "d-3"];
const WORKLOADS: &[&str] = &["w0", "w1", "web", "db"];
const NAMESPACES: &[&str] = &["n0", "n1", "kube-system", "default", "on", "a.b", "Bad_Ns"];
const ROLES: &[&str] = &["control-plane", "worker", "r0", "nosuch"];
const PORT_NAMES: &[&str] = &[
    "http",
    "metrics",
    "dns",
    "ssh",
    "kubelet",
    "etcd",
    "kube-apiserver",
    "nodeport",
    "yes",
];
/// Names a peer may use: workloads, definitions, standard-library names.
const NAMES: &[&str] = &[
    "w0",
    "w1",
    "web",
    "db",
    "d0",
    "d1",
    "d2",
    "private",
    "rfc1918",
    "link-local",
    "dns",
    "metadata-api",
    "wO",
    "n0/w1",
    "n1/web",
];
const KEYS: &[&str] = &[
    "app",
    "tier",
    "env",
    "b.io/y",
    "on",
    "yes",
    "kubernetes.io/metadata.name",
    "x/y/z",
    "-bad",
    "a",
];
const VALUES: &[&str] = &[
    "web", "db", "api", "prod", "y", "on", "1_000", "0b1", "n0", "n1", "-x", "a.b",
];
const LINT_CODES: &[&str] = &["W0701", "W0702", "W0705", "W0706", "E0101", "W9999"];

fn pick<'a>(pool: &[&'a str], i: u8) -> &'a str {
    pool[i as usize % pool.len()]
}

/// Keeps the characters of a word (`wchar` and `/`), at most 12 of them.
fn word(s: &str, slash: bool) -> String {
    let w: String = s
        .chars()
        .filter(|c| {
            c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-') || (slash && *c == '/')
        })
        .take(12)
        .collect();
    if w.is_empty() {
        "k".to_string()
    } else {
        w
    }
}

/// The `compile` target's input: a [`Program`], shown (`cargo fuzz fmt`) as
/// the `.npl` text it renders to.
pub struct Generated(pub Program);

impl<'a> Arbitrary<'a> for Generated {
    fn arbitrary(u: &mut arbitrary::Unstructured<'a>) -> arbitrary::Result<Self> {
        Ok(Generated(Program::arbitrary(u)?))
    }
}

impl std::fmt::Debug for Generated {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (name, text) in self.0.render() {
            writeln!(f, "# ---- {name}\n{text}")?;
        }
        Ok(())
    }
}

impl Program {
    /// The program's files as (name, text).
    pub fn render(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = self
            .files
            .iter()
            .take(3)
            .enumerate()
            .map(|(i, f)| (format!("f{i}.npl"), f.render()))
            .collect();
        if out.is_empty() {
            out.push(("f0.npl".into(), String::new()));
        }
        out
    }
}

impl FileAst {
    pub fn render(&self) -> String {
        let mut s = String::new();
        for item in self.items.iter().take(12) {
            item.render(&mut s);
            s.push('\n');
        }
        s
    }
}

impl Item {
    fn render(&self, s: &mut String) {
        match self {
            Item::Use(ms) => {
                s.push_str("use ");
                let names: Vec<&str> = ms.iter().take(3).map(|m| pick(MODULES, m.0)).collect();
                s.push_str(&if names.is_empty() {
                    "dns".to_string()
                } else {
                    names.join(", ")
                });
            }
            Item::Define(d, side) => {
                let _ = write!(s, "define {} = ", pick(DEFINES, d.0));
                side.render(s);
            }
            Item::Namespace(sil, ns, stmts) => {
                sil.render(s);
                let _ = writeln!(s, "namespace {} {{", pick(NAMESPACES, ns.0));
                for st in stmts.iter().take(10) {
                    s.push_str("  ");
                    st.render(s);
                    s.push('\n');
                }
                s.push('}');
            }
            Item::Nodes(items) => {
                s.push_str("nodes {\n");
                for it in items.iter().take(8) {
                    s.push_str("  ");
                    it.render(s);
                    s.push('\n');
                }
                s.push('}');
            }
            Item::Port(name, items, note, on, mgmt) => {
                let _ = write!(s, "port {} = ", pick(PORT_NAMES, name.0));
                port_list(items, s);
                if *note {
                    s.push_str(" \"a component (source)\"");
                }
                if !on.is_empty() {
                    s.push_str(" on ");
                    let r: Vec<&str> = on.iter().take(3).map(|r| pick(ROLES, r.0)).collect();
                    s.push_str(&r.join(", "));
                }
                if *mgmt {
                    s.push_str(" for management");
                }
            }
        }
    }
}

impl Silence {
    fn render(&self, s: &mut String) {
        if let Some(c) = self.0 {
            let _ = write!(s, "@silence({}) ", pick(LINT_CODES, c));
        }
    }
}

impl Stmt {
    fn render(&self, s: &mut String) {
        match self {
            Stmt::Workload(w, sel) => {
                let _ = write!(s, "workload {} = ", pick(WORKLOADS, w.0));
                sel.render(s);
            }
            Stmt::Define(d, side) => {
                let _ = write!(s, "define {} = ", pick(DEFINES, d.0));
                side.render(s);
            }
            Stmt::Posture(sil, p) => {
                sil.render(s);
                s.push_str(match p {
                    Posture::Allow => "default allow",
                    Posture::Deny => "default deny",
                    Posture::DenyIngress => "default deny ingress",
                    Posture::DenyEgress => "default deny egress",
                });
            }
            Stmt::Isolate(sil, dir, peers) => {
                sil.render(s);
                s.push_str("isolate ");
                if let Some(d) = dir {
                    d.render(s);
                    s.push(' ');
                }
                peer_list(peers, s, 0);
            }
            Stmt::Rule(sil, action, shape) => {
                sil.render(s);
                action.render(s);
                s.push(' ');
                match shape {
                    RuleShape::Full(a, b) => {
                        a.render(s);
                        s.push_str(" -> ");
                        b.render(s);
                    }
                    RuleShape::Short(d, side) => {
                        d.render(s);
                        s.push(' ');
                        side.render(s);
                    }
                }
            }
        }
    }
}

impl NodeItem {
    fn render(&self, s: &mut String) {
        match self {
            NodeItem::Role(r, addrs, runs) => {
                let _ = write!(s, "role {}", pick(ROLES, r.0));
                if let Some(peers) = addrs {
                    s.push_str(" = ");
                    peer_list(peers, s, 0);
                }
                if !runs.is_empty() {
                    s.push_str(" runs ");
                    let r: Vec<&str> = runs.iter().take(3).map(|p| pick(PORT_NAMES, p.0)).collect();
                    s.push_str(&r.join(", "));
                }
            }
            NodeItem::Rule(a, src, roles, ports) => {
                a.render(s);
                s.push(' ');
                src.render(s);
                s.push_str(" -> ");
                let r: Vec<&str> = roles.iter().take(3).map(|p| pick(ROLES, p.0)).collect();
                s.push_str(&if r.is_empty() {
                    "worker".to_string()
                } else {
                    r.join(" | ")
                });
                if let Some(p) = ports {
                    s.push(':');
                    port_list(p, s);
                }
            }
        }
    }
}

impl Dir {
    fn render(&self, s: &mut String) {
        s.push_str(match self {
            Dir::Ingress => "ingress",
            Dir::Egress => "egress",
        });
    }
}

impl Action {
    fn render(&self, s: &mut String) {
        s.push_str(match self {
            Action::Allow => "allow",
            Action::Deny => "deny",
        });
    }
}

impl Side {
    fn render(&self, s: &mut String) {
        peer_list(&self.peers, s, 0);
        if let Some(p) = &self.ports {
            s.push(':');
            port_list(p, s);
        }
    }
}

fn peer_list(peers: &[Peer], s: &mut String, depth: usize) {
    if peers.is_empty() {
        s.push('*');
        return;
    }
    let n = peers.len().min(4);
    for (i, p) in peers.iter().take(n).enumerate() {
        p.render(s, depth);
        if i + 1 < n {
            // one separator in eight is a `,`
            s.push_str(if p.sep % 8 == 0 { ", " } else { " | " });
        }
    }
}

impl Peer {
    fn render(&self, s: &mut String, depth: usize) {
        self.atom.render(s, depth);
        if let Some(e) = &self.except {
            s.push_str(" except ");
            e.render(s, depth + 1);
        }
    }
}

/// `head::tail` (at most 4 and 3 groups).
fn v6(head: &[u16], tail: &[u16]) -> std::net::IpAddr {
    let mut seg = [0u16; 8];
    for (i, x) in head.iter().take(4).enumerate() {
        seg[i] = *x;
    }
    let t: Vec<u16> = tail.iter().take(3).copied().collect();
    for (i, x) in t.iter().enumerate() {
        seg[8 - t.len() + i] = *x;
    }
    std::net::Ipv6Addr::from(seg).into()
}

/// Writes an address: with its prefix length, host bits cleared unless
/// `style & 4`, in brackets when `style % 4 == 0`.
fn address(addr: std::net::IpAddr, prefix: Option<u8>, style: u8, s: &mut String) {
    let bits = if addr.is_ipv4() { 32 } else { 128 };
    let addr = match prefix {
        Some(p) if p <= bits && style & 4 == 0 => match addr {
            std::net::IpAddr::V4(a) => {
                let m = u32::MAX.checked_shl(32 - p as u32).unwrap_or(0);
                std::net::IpAddr::V4((u32::from(a) & m).into())
            }
            std::net::IpAddr::V6(a) => {
                let m = u128::MAX.checked_shl(128 - p as u32).unwrap_or(0);
                std::net::IpAddr::V6((u128::from(a) & m).into())
            }
        },
        _ => addr,
    };
    let text = match prefix {
        Some(p) => format!("{addr}/{p}"),
        None => addr.to_string(),
    };
    if style % 4 == 0 {
        let _ = write!(s, "[{text}]");
    } else {
        s.push_str(&text);
    }
}

impl Atom {
    fn render(&self, s: &mut String, depth: usize) {
        if depth > MAX_DEPTH {
            s.push('*');
            return;
        }
        match self {
            Atom::All => s.push('*'),
            Atom::Selector(sel) => sel.render(s),
            Atom::Name(n) => s.push_str(pick(NAMES, n.0)),
            Atom::Qualified(ns, part) => {
                let _ = write!(s, "{}/", pick(NAMESPACES, ns.0));
                part.render(s);
            }
            Atom::NsLabels(sel, part) => {
                s.push('{');
                sel.render(s);
                s.push('}');
                if let Some(p) = part {
                    s.push('/');
                    p.render(s);
                }
            }
            Atom::Cluster => s.push_str("cluster"),
            Atom::World => s.push_str("world"),
            Atom::V4(o, prefix, style) => address(
                std::net::Ipv4Addr::from(*o).into(),
                prefix.map(|p| p % 36),
                *style,
                s,
            ),
            Atom::V6(head, tail, prefix, style) => {
                address(v6(head, tail), prefix.map(|p| p % 132), *style, s)
            }
            Atom::V6Full(seg, prefix, style) => {
                let t: Vec<String> = seg.iter().map(|x| format!("{x:x}")).collect();
                // written out in full, not in Rust's compressed form
                let text = match prefix {
                    Some(p) => format!("{}/{}", t.join(":"), p % 132),
                    None => t.join(":"),
                };
                if style % 4 == 0 {
                    let _ = write!(s, "[{text}]");
                } else {
                    s.push_str(&text);
                }
            }
            Atom::Group(peers) => {
                s.push('(');
                peer_list(peers, s, depth + 1);
                s.push(')');
            }
        }
    }
}

impl PodPart {
    fn render(&self, s: &mut String) {
        match self {
            PodPart::All => s.push('*'),
            PodPart::Selector(sel) => sel.render(s),
        }
    }
}

impl Selector {
    fn render(&self, s: &mut String) {
        if self.0.is_empty() {
            s.push_str("app=web");
            return;
        }
        for (i, r) in self.0.iter().take(4).enumerate() {
            if i > 0 {
                s.push_str(", ");
            }
            r.render(s);
        }
    }
}

impl Req {
    fn render(&self, s: &mut String) {
        match self {
            Req::Eq(k, v) => {
                k.render(s);
                s.push('=');
                v.render(s);
            }
            Req::DoubleEq(k, v) => {
                k.render(s);
                s.push_str("==");
                v.render(s);
            }
            Req::Ne(k, v) => {
                k.render(s);
                s.push_str("!=");
                v.render(s);
            }
            Req::In(k, vs) | Req::NotIn(k, vs) => {
                k.render(s);
                s.push_str(if matches!(self, Req::In(..)) {
                    " in ("
                } else {
                    " notin ("
                });
                for (i, v) in vs.iter().take(4).enumerate() {
                    if i > 0 {
                        s.push_str(", ");
                    }
                    v.render(s);
                }
                s.push(')');
            }
            Req::Exists(k) => k.render(s),
            Req::Absent(k) => {
                s.push('!');
                k.render(s);
            }
            Req::EqStar(k) => {
                k.render(s);
                s.push_str("=*");
            }
            Req::NeStar(k) => {
                k.render(s);
                s.push_str("!=*");
            }
            Req::EqEmpty(k) => {
                k.render(s);
                s.push('=');
            }
        }
    }
}

impl Key {
    fn render(&self, s: &mut String) {
        match self {
            Key::Pool(i) => s.push_str(pick(KEYS, *i)),
            Key::Quoted(i) => {
                let _ = write!(s, "\"{}\"", pick(KEYS, *i));
            }
            Key::Raw(r) => s.push_str(&word(r, true)),
        }
    }
}

impl Value {
    fn render(&self, s: &mut String) {
        match self {
            Value::Pool(i) => s.push_str(pick(VALUES, *i)),
            Value::Quoted(i) => {
                let _ = write!(s, "\"{}\"", pick(VALUES, *i));
            }
            Value::Raw(r) => s.push_str(&word(r, false)),
        }
    }
}

fn port_list(items: &[PortItem], s: &mut String) {
    if items.is_empty() {
        s.push_str("80");
        return;
    }
    for (i, p) in items.iter().take(4).enumerate() {
        if i > 0 {
            s.push_str(", ");
        }
        p.render(s);
    }
}

impl PortItem {
    fn render(&self, s: &mut String) {
        if let Some(p) = self.proto {
            s.push_str(match p {
                Proto::Tcp => "tcp",
                Proto::Udp => "udp",
                Proto::Sctp => "sctp",
                Proto::TcpUpper => "TCP",
            });
            if self.spec.is_some() {
                s.push('/');
            }
        }
        match &self.spec {
            None if self.proto.is_none() => s.push_str("443"),
            None => {}
            Some(PortSpec::Number(n)) => {
                let _ = write!(s, "{n}");
            }
            Some(PortSpec::Big(n)) => {
                let _ = write!(s, "{n}");
            }
            Some(PortSpec::Range(a, b)) => {
                let _ = write!(s, "{a}-{b}");
            }
            Some(PortSpec::Name(n)) => s.push_str(pick(PORT_NAMES, n.0)),
            Some(PortSpec::NamedRange(n, b)) => {
                let _ = write!(s, "{}-{b}", pick(PORT_NAMES, n.0));
            }
        }
    }
}
