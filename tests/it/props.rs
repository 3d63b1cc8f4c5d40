//! Property test "prove the compiler": random programs, written as `.npl`
//! source text so that the whole pipeline runs (parse → resolve → check →
//! compile → emit), and random clusters. For every connection between the
//! cluster's pods and a few external addresses, on every protocol and on
//! probe ports around every port boundary the program writes, the
//! Kubernetes evaluation of the emitted NetworkPolicies must equal the
//! intent evaluation of the checked program (docs/semantics.md).
//!
//! Rules are also scoped to one side (`on ingress`, `on egress`), and
//! blocks state their namespace's labels (`labels {y=yes}`, `labels {}`)
//! as the cluster has them (the guarantee holds for such clusters).
//!
//! Programs the compiler rejects are counted: only the two exactness errors
//! (E0501, E0502) and an emptied side (E0109) may reject a generated
//! program, and only a small share.
//!
//! The generator writes every production of the grammar's peers and
//! separators, not only the forms the checker expects: each program is
//! also compiled in another spelling (groups, nested groups, definitions at
//! the top level and in blocks, definitions carrying ports, IPv6 in
//! brackets, except lists reordered), which must give the same objects, and
//! with one `,` where `|` belongs, which must be refused (E0001, E0110,
//! E0111, E0207), never read as something else. Label keys and values are
//! YAML 1.1 specials (`on`, `yes`, `y`, `0b1`).
//! `PROPTEST_CASES` overrides the number of programs (default 1,000).

use nplc::driver::{compile_inputs, Input};
use nplc::eval::k8s::Connection;
use nplc::eval::{intent, k8s};
use nplc::ir::NAME_LABEL;
use nplc::net::Protocol;
use nplc::population::{Endpoint, NamedPort, NamespaceInfo, PodInfo, Population};
use proptest::prelude::*;
use proptest::sample::subsequence;
use proptest::test_runner::{Config, TestCaseError, TestError, TestRunner};
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

// ---- the alphabet -----------------------------------------------------------

/// Pod label keys and the values selectors use (`""` is the empty value);
/// pods may also carry `1_000`. Keys and values are YAML 1.1 specials (`on`
/// and `yes` are booleans, `0b1` and `1_000` numbers, to a YAML 1.1 reader
/// such as kubectl's), so that every emitted document must quote them.
const KEYS: [&str; 2] = ["on", "b.io/y"];
const VX: &str = "yes";
const VY: &str = "0b1";
const POD_VALUES: [&str; 4] = [VX, VY, "1_000", ""];
/// The namespace label key the programs select on (`y` is a YAML 1.1 boolean).
const NS_KEY: &str = "y";
/// Every namespace name a peer may refer to; `n*` are managed when the
/// program has a block for them, `u*` never are.
const NS_POOL: [&str; 5] = ["n0", "n1", "n2", "u0", "u1"];
const PORT_NUMBERS: [u16; 6] = [53, 80, 443, 5432, 8080, 9090];
const PORT_RANGES: [(u16, u16); 6] = [
    (80, 443),
    (8000, 8100),
    (1, 1024),
    (5000, 6000),
    (53, 54),
    (443, 8443),
];
const PORT_NAMES: [&str; 3] = ["http", "dns", "metrics"];
/// Container ports a pod may declare: (name, number, protocol).
/// Four of each name (indices 0-3, 4-7, 8-11), on every protocol.
const CONTAINER_PORTS: [(&str, u16, Protocol); 12] = [
    ("http", 8080, Protocol::Tcp),
    ("http", 80, Protocol::Tcp),
    ("http", 8080, Protocol::Udp),
    ("http", 443, Protocol::Sctp),
    ("dns", 53, Protocol::Udp),
    ("dns", 5353, Protocol::Udp),
    ("dns", 53, Protocol::Tcp),
    ("dns", 53, Protocol::Sctp),
    ("metrics", 9090, Protocol::Tcp),
    ("metrics", 5432, Protocol::Tcp),
    ("metrics", 9090, Protocol::Sctp),
    ("metrics", 80, Protocol::Udp),
];
/// A port no program writes, probed on every protocol.
pub(crate) const OTHER_PORT: u16 = 7;

/// DNS-name peers a program of [`case_with_dns`] may write (exact names,
/// `*.` patterns, another case and a trailing dot, a union).
const DNS_PEERS: [&str; 7] = [
    "dns:api.example.com",
    "dns:*.s3.example.com",
    "dns:*.example.com",
    "dns:other.org",
    "dns:API.Example.COM.",
    "(dns:api.example.com | dns:*.s3.example.com)",
    "dns:nowhere.invalid",
];
/// The names a generated resolver may answer: matching a pattern, the
/// suffix itself, two labels below it, names of no peer.
pub(crate) const DNS_ANSWERS: [&str; 8] = [
    "api.example.com",
    "a.s3.example.com",
    "b.s3.example.com",
    "s3.example.com",
    "x.a.s3.example.com",
    "www.example.com",
    "other.org",
    "unrelated.net",
];
/// Addresses a name may resolve to beside the edges of the program's
/// blocks: inside `rfc1918` and `metadata-api` (which programs deny), and
/// outside every block.
const DNS_ADDRESSES: [&str; 5] = [
    "192.0.2.1",
    "192.0.2.2",
    "10.0.0.5",
    "169.254.169.254",
    "2001:db8::53",
];

// ---- generated programs -----------------------------------------------------

/// An address block: family, first address, prefix length.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Block {
    v6: bool,
    addr: u128,
    len: u8,
}

impl Block {
    fn width(&self) -> u8 {
        if self.v6 {
            128
        } else {
            32
        }
    }
    fn last(&self) -> u128 {
        let host = self.width() - self.len;
        if host >= 128 {
            u128::MAX
        } else {
            self.addr | ((1u128 << host) - 1)
        }
    }
    fn ip(&self, a: u128) -> IpAddr {
        if self.v6 {
            IpAddr::V6(Ipv6Addr::from(a))
        } else {
            IpAddr::V4(Ipv4Addr::from(a as u32))
        }
    }
    fn text(&self) -> String {
        format!("{}/{}", self.ip(self.addr), self.len)
    }
    /// The same block spelled otherwise: IPv6 in brackets (`[fd00::/8]`,
    /// and `[fd00:1::5]` for a /128).
    fn alt_text(&self) -> String {
        match (self.v6, self.len) {
            (true, 128) => format!("[{}]", self.ip(self.addr)),
            (true, _) => format!("[{}]", self.text()),
            _ => self.text(),
        }
    }
    /// The first and last address, and the neighbours outside.
    fn edges(&self) -> Vec<IpAddr> {
        let max = if self.v6 { u128::MAX } else { u32::MAX as u128 };
        let mut out = vec![self.ip(self.addr), self.ip(self.last())];
        if self.addr > 0 {
            out.push(self.ip(self.addr - 1));
        }
        if self.last() < max {
            out.push(self.ip(self.last() + 1));
        }
        out
    }
}

fn v4(a: [u8; 4], len: u8) -> Block {
    Block {
        v6: false,
        addr: u32::from(Ipv4Addr::from(a)) as u128,
        len,
    }
}

fn v6(s: &str, len: u8) -> Block {
    // INVARIANT (test data): the literals below are valid IPv6 addresses.
    Block {
        v6: true,
        addr: u128::from(s.parse::<Ipv6Addr>().unwrap()),
        len,
    }
}

fn base_blocks() -> Vec<Block> {
    vec![
        v4([0, 0, 0, 0], 0),
        v4([10, 0, 0, 0], 8),
        v4([10, 1, 0, 0], 16),
        v4([10, 1, 2, 0], 24),
        v4([192, 168, 0, 0], 16),
        v4([10, 1, 2, 3], 32),
        v6("::", 0),
        v6("fd00::", 8),
        v6("fd00:1::", 32),
        v6("fd00:1::5", 128),
    ]
}

/// A block strictly inside `base`: `extra` more prefix bits set to `bits`.
fn sub_block(base: Block, extra: u8, bits: u128) -> Option<Block> {
    let room = base.width() - base.len;
    if room == 0 {
        return None;
    }
    let extra = extra.clamp(1, room.min(8));
    let shift = room - extra;
    let bits = bits & ((1u128 << extra) - 1);
    Some(Block {
        v6: base.v6,
        addr: base.addr | (bits << shift),
        len: base.len + extra,
    })
}

/// A port item as written, with what it contributes to the probe ports.
#[derive(Clone, Debug)]
enum PortItem {
    Number(Option<Protocol>, u16),
    Range(Option<Protocol>, u16, u16),
    Whole(Protocol),
    Named(Option<Protocol>, &'static str),
}

impl PortItem {
    fn text(&self) -> String {
        let p = |p: &Option<Protocol>| p.map(|p| format!("{}/", p.npl_name())).unwrap_or_default();
        match self {
            PortItem::Number(pr, n) => format!("{}{n}", p(pr)),
            PortItem::Range(pr, lo, hi) => format!("{}{lo}-{hi}", p(pr)),
            PortItem::Whole(pr) => pr.npl_name().to_string(),
            PortItem::Named(pr, n) => format!("{}{n}", p(pr)),
        }
    }
}

/// A peer as written (a workload by index, resolved against the block's
/// declarations when rendered), and what the rule generator must know.
#[derive(Clone, Debug)]
struct Peer {
    text: String,
    /// Another spelling with the same meaning (IPv6 in brackets, an except
    /// list in another order or nested).
    alt: Option<String>,
    /// A spelling with a `,` where `|` belongs, which must be refused.
    comma: Option<String>,
    workload: Option<usize>,
    /// `nK/wJ`: workload `J` of the block of namespace `nK`.
    qualified: Option<(usize, usize)>,
    /// Only external addresses (no pods).
    external: bool,
    blocks: Vec<Block>,
    /// Refers to the current namespace (bare selector, `*`, a workload):
    /// cannot be defined at the top level.
    local: bool,
    /// Ends in a label selector: a `,` after it continues that selector.
    sel_end: bool,
    /// A bare list of requirements: after a `,` it joins the selector before.
    plain: bool,
}

impl Peer {
    fn new(text: impl Into<String>) -> Peer {
        Peer {
            text: text.into(),
            alt: None,
            comma: None,
            workload: None,
            qualified: None,
            external: false,
            blocks: vec![],
            local: false,
            sel_end: false,
            plain: false,
        }
    }
    /// Pods: `local` for the current namespace, `sel_end` when the text
    /// ends in a label selector.
    fn pods(text: impl Into<String>, local: bool, sel_end: bool) -> Peer {
        Peer {
            local,
            sel_end,
            ..Peer::new(text)
        }
    }
    fn selector(text: String) -> Peer {
        Peer {
            plain: true,
            ..Peer::pods(text, true, true)
        }
    }
    fn external(text: String, blocks: Vec<Block>) -> Peer {
        Peer {
            external: true,
            blocks,
            ..Peer::new(text)
        }
    }
    /// The text in block `me`, given every block's number of workloads.
    fn render(&self, counts: &[usize], me: usize) -> String {
        if let Some(i) = self.workload {
            return match counts.get(me) {
                Some(&n) if n > 0 => format!("w{}", i % n),
                _ => "*".to_string(),
            };
        }
        if let Some((k, j)) = self.qualified {
            return match counts.get(k) {
                Some(&n) if n > 0 => format!("n{k}/w{}", j % n),
                _ => format!("n{k}/*"),
            };
        }
        self.text.clone()
    }
}

/// Drives the alternative spelling of a program: which peers are wrapped
/// in parentheses, moved into definitions, spelled otherwise, and where a
/// `,` replaces a `|` (a deterministic xorshift sequence from a seed).
struct Spelling {
    state: u64,
    /// Definitions for the top level and for the block being written.
    top: Vec<String>,
    local: Vec<String>,
    defined: usize,
    /// Write one `,` where `|` belongs (at the `target`th place it can go).
    comma: bool,
    target: u64,
    places: u64,
    /// The `,` was written.
    mutated: bool,
}

impl Spelling {
    fn new(seed: u64, comma: bool) -> Spelling {
        let mut s = Spelling {
            state: seed | 1,
            top: vec![],
            local: vec![],
            defined: 0,
            comma,
            target: 0,
            places: 0,
            mutated: false,
        };
        s.target = s.next() % 4;
        s
    }
    fn next(&mut self) -> u64 {
        let mut x = self.state;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.state = x;
        x
    }
    /// Whether to write the `,` at this place; the last place takes it if
    /// the target lies beyond.
    fn comma_here(&mut self) -> bool {
        if !self.comma || self.mutated {
            return false;
        }
        let here = self.places >= self.target;
        self.places += 1;
        if here {
            self.mutated = true;
        }
        here
    }
    /// A peer in another spelling of the same meaning (or, once, with a
    /// `,` in its except list). Returns the text and whether it still ends
    /// in a selector / is a plain selector.
    fn peer(&mut self, p: &Peer, counts: &[usize], me: usize) -> (String, bool, bool) {
        if let Some(c) = &p.comma {
            if self.comma_here() {
                return (c.clone(), false, false);
            }
        }
        let mut t = p.render(counts, me);
        if p.workload.is_none() && p.qualified.is_none() {
            if let Some(a) = &p.alt {
                if self.next().is_multiple_of(2) {
                    t = a.clone();
                }
            }
        }
        match self.next() % 8 {
            0 => (format!("({t})"), false, false),
            1 => (format!("(({t}))"), false, false),
            2 | 3 => {
                let name = format!("d{}", self.defined);
                self.defined += 1;
                let def = format!("define {name} = {t}");
                if p.local {
                    self.local.push(def);
                } else {
                    self.top.push(def);
                }
                (name, false, false)
            }
            _ => (t, p.sel_end, p.plain),
        }
    }
    /// A union of peers with optional ports, respelled.
    fn union(&mut self, peers: &[Peer], ports: &[PortItem], counts: &[usize], me: usize) -> String {
        let ps = ports
            .iter()
            .map(PortItem::text)
            .collect::<Vec<_>>()
            .join(", ");
        // one peer with ports may become a definition that carries them
        if let ([p], false) = (peers, ports.is_empty()) {
            if self.next().is_multiple_of(4) {
                let (t, _, _) = self.peer(p, counts, me);
                let name = format!("d{}", self.defined);
                self.defined += 1;
                let def = format!("define {name} = {t}:{ps}");
                if p.local {
                    self.local.push(def);
                } else {
                    self.top.push(def);
                }
                return name;
            }
        }
        let parts: Vec<(String, bool, bool)> =
            peers.iter().map(|p| self.peer(p, counts, me)).collect();
        let mut u = String::new();
        for (i, (t, _, plain)) in parts.iter().enumerate() {
            if i > 0 {
                let prev_sel_end = parts[i - 1].1;
                // a `,` before a plain selector after a selector is the
                // documented AND, not a misreading: never written there
                if !(prev_sel_end && *plain) && self.comma_here() {
                    u.push_str(", ");
                } else {
                    u.push_str(" | ");
                }
            }
            u.push_str(t);
        }
        // nest the tail: `a | (b | c)`
        if parts.len() > 1 && self.next().is_multiple_of(3) {
            u = format!("({u})");
        }
        if ports.is_empty() {
            u
        } else if parts.len() > 1 {
            format!("({u}):{ps}")
        } else {
            format!("{u}:{ps}")
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Form {
    Full,
    Egress,
    Ingress,
}

#[derive(Clone, Debug)]
struct Rule {
    allow: bool,
    form: Form,
    src: Vec<Peer>,
    dst: Vec<Peer>,
    ports: Vec<PortItem>,
    /// `""`, `" on ingress"` or `" on egress"`: the side it decides.
    scope: &'static str,
}

impl Rule {
    fn render(&self, counts: &[usize], me: usize, sp: Option<&mut Spelling>) -> String {
        let action = if self.allow { "allow" } else { "deny" };
        let (src, dst) = match sp {
            None => (
                union_text(&self.src, &[], counts, me),
                union_text(&self.dst, &self.ports, counts, me),
            ),
            Some(sp) => {
                // only the sides the form writes
                let src = match self.form {
                    Form::Egress => String::new(),
                    _ => sp.union(&self.src, &[], counts, me),
                };
                let dst = match self.form {
                    Form::Ingress => String::new(),
                    _ => sp.union(&self.dst, &self.ports, counts, me),
                };
                (src, dst)
            }
        };
        let scope = self.scope;
        match self.form {
            Form::Full => format!("{action} {src} -> {dst}{scope}"),
            Form::Egress => format!("{action} egress {dst}{scope}"),
            Form::Ingress => format!("{action} ingress {src}{scope}"),
        }
    }
    /// The peers the rendered rule writes.
    fn peers(&self) -> impl Iterator<Item = &Peer> {
        let (s, d) = match self.form {
            Form::Full => (&self.src[..], &self.dst[..]),
            Form::Egress => (&[][..], &self.dst[..]),
            Form::Ingress => (&self.src[..], &[][..]),
        };
        s.iter().chain(d.iter())
    }
}

#[derive(Clone, Debug)]
struct NsBlock {
    posture: Option<&'static str>,
    workloads: Vec<String>,
    isolates: Vec<String>,
    rules: Vec<Rule>,
    /// The block states the namespace's labels (`labels {...}`), as the
    /// cluster has them.
    states_labels: bool,
    /// The block allows its pods' lookups: `allow egress dns` (programs of
    /// [`case_with_dns`]).
    allows_dns: bool,
}

/// A generated cluster: the label `t` of each namespace of [`NS_POOL`] and
/// pods (namespace index, labels `a` and `b`, container ports).
/// A generated pod: namespace index, values of the labels `a` and `b`,
/// container ports (indices into [`CONTAINER_PORTS`]).
type GenPod = (usize, [Option<&'static str>; 2], Vec<usize>);

#[derive(Clone, Debug)]
struct Cluster {
    ns_labels: Vec<Option<&'static str>>,
    pods: Vec<GenPod>,
    /// With DNS names: what the resolver answers (a name of
    /// [`DNS_ANSWERS`], an address by index into the candidates), and
    /// kube-dns in `kube-system`.
    dns: Option<Vec<(usize, prop::sample::Index)>>,
}

#[derive(Clone)]
pub(crate) struct Case {
    blocks: Vec<NsBlock>,
    cluster: Cluster,
    externals: Vec<prop::sample::Index>,
    /// Seed of the alternative spelling ([`Spelling`]).
    spelling: u64,
    /// Probe every candidate external address, not a sample of them, and
    /// put every namespace of the pool in the cluster.
    all_externals: bool,
}

impl Case {
    pub(crate) fn source(&self) -> String {
        self.render(None)
    }

    /// The program spelled otherwise, with the same meaning; with `comma`,
    /// also one `,` where `|` belongs (when the program has such a place):
    /// the text, and whether the `,` was written.
    pub(crate) fn alt_source(&self, comma: bool) -> (String, bool) {
        let mut sp = Spelling::new(self.spelling, comma);
        let text = self.render(Some(&mut sp));
        (text, sp.mutated)
    }

    fn render(&self, mut sp: Option<&mut Spelling>) -> String {
        let counts: Vec<usize> = self.blocks.iter().map(|b| b.workloads.len()).collect();
        let mut body = String::new();
        for (i, b) in self.blocks.iter().enumerate() {
            let mut inner = String::new();
            if let Some(p) = b.posture {
                inner.push_str(&format!("  {p}\n"));
            }
            if b.states_labels {
                // exactly the labels the cluster gives the namespace
                match self.cluster.ns_labels.get(i).copied().flatten() {
                    Some(v) => inner.push_str(&format!("  labels {{{NS_KEY}=\"{v}\"}}\n")),
                    None => inner.push_str("  labels {}\n"),
                }
            }
            for (j, w) in b.workloads.iter().enumerate() {
                inner.push_str(&format!("  workload w{j} = {w}\n"));
            }
            for l in &b.isolates {
                inner.push_str(&format!("  {l}\n"));
            }
            if b.allows_dns {
                inner.push_str("  allow egress dns\n");
            }
            for r in &b.rules {
                let line = r.render(&counts, i, sp.as_deref_mut());
                inner.push_str(&format!("  {line}\n"));
            }
            body.push_str(&format!("namespace n{i} {{\n"));
            if let Some(sp) = sp.as_deref_mut() {
                for d in sp.local.drain(..) {
                    body.push_str(&format!("  {d}\n"));
                }
            }
            body.push_str(&inner);
            body.push_str("}\n");
        }
        let mut s = format!("{STDLIB_MODULES}\n");
        if self.cluster.dns.is_some() {
            s.push_str("use dns\n");
        }
        if let Some(sp) = sp {
            for d in &sp.top {
                s.push_str(&format!("{d}\n"));
            }
        }
        s.push_str(&body);
        s
    }

    /// The namespaces of the cluster: the managed ones, then `u0`, `u1`.
    fn namespaces(&self) -> Vec<(&'static str, Option<&'static str>)> {
        let m = if self.all_externals {
            3
        } else {
            self.blocks.len()
        };
        (0..m)
            .chain(3..NS_POOL.len())
            .map(|i| (NS_POOL[i], self.cluster.ns_labels.get(i).copied().flatten()))
            .collect()
    }

    pub(crate) fn population(&self) -> Population {
        let mut pop = Population::default();
        let namespaces = self.namespaces();
        for (name, t) in &namespaces {
            let mut labels = BTreeMap::new();
            labels.insert(NAME_LABEL.to_string(), name.to_string());
            if let Some(v) = t {
                labels.insert(NS_KEY.to_string(), v.to_string());
            }
            pop.namespaces.insert(
                name.to_string(),
                NamespaceInfo {
                    name: name.to_string(),
                    labels,
                },
            );
        }
        for (i, (ns, labels, ports)) in self.cluster.pods.iter().enumerate() {
            let ns = namespaces[*ns % namespaces.len()].0;
            let mut l = BTreeMap::new();
            for (k, v) in KEYS.iter().zip(labels.iter()) {
                if let Some(v) = v {
                    l.insert(k.to_string(), v.to_string());
                }
            }
            let mut named: Vec<NamedPort> = Vec::new();
            for p in ports {
                let (name, port, protocol) = CONTAINER_PORTS[*p % CONTAINER_PORTS.len()];
                if !named.iter().any(|n| n.name == name) {
                    named.push(NamedPort {
                        name: name.to_string(),
                        port,
                        protocol,
                    });
                }
            }
            pop.insert_pod(PodInfo {
                namespace: ns.to_string(),
                name: format!("p{i}"),
                labels: l,
                ports: named,
            });
        }
        if self.cluster.dns.is_some() {
            // kube-dns, and a neighbour it must not be confused with
            pop.insert_namespace("kube-system", BTreeMap::new());
            for (name, app) in [("coredns-0", "kube-dns"), ("metrics-0", "metrics-server")] {
                pop.insert_pod(PodInfo {
                    namespace: "kube-system".into(),
                    name: name.into(),
                    labels: [("k8s-app".to_string(), app.to_string())].into(),
                    ports: vec![NamedPort {
                        name: "dns".into(),
                        port: 53,
                        protocol: Protocol::Udp,
                    }],
                });
            }
            pop.dns = self.dns_answers();
        }
        pop
    }

    /// What the generated resolver answers: names and their addresses.
    fn dns_answers(&self) -> BTreeMap<String, Vec<IpAddr>> {
        let mut out: BTreeMap<String, Vec<IpAddr>> = BTreeMap::new();
        let candidates = self.dns_candidates();
        for (n, i) in self.cluster.dns.iter().flatten() {
            let a = candidates[i.index(candidates.len())];
            let v = out
                .entry(DNS_ANSWERS[n % DNS_ANSWERS.len()].to_string())
                .or_default();
            if !v.contains(&a) {
                v.push(a);
            }
        }
        out
    }

    /// The addresses a name may resolve to: the edges of the program's
    /// blocks and [`DNS_ADDRESSES`].
    fn dns_candidates(&self) -> Vec<IpAddr> {
        let mut v = self.edges();
        v.extend(DNS_ADDRESSES.iter().map(|a| a.parse::<IpAddr>().unwrap()));
        v
    }

    /// Gives every namespace whose block states its labels the labels the
    /// program states (this case's), in another case's cluster.
    fn keep_stated(&self, other: &mut Case) {
        for (i, b) in self.blocks.iter().enumerate() {
            if b.states_labels {
                if let (Some(l), Some(mine)) = (
                    other.cluster.ns_labels.get_mut(i),
                    self.cluster.ns_labels.get(i),
                ) {
                    *l = *mine;
                }
            }
        }
    }

    fn rules(&self) -> impl Iterator<Item = &Rule> {
        self.blocks.iter().flat_map(|b| b.rules.iter())
    }

    /// Ports to probe per protocol: around every number and range the
    /// program writes, every container port, and one port nothing names.
    pub(crate) fn probe_ports(&self, pop: &Population) -> BTreeMap<Protocol, BTreeSet<u16>> {
        let mut out: BTreeMap<Protocol, BTreeSet<u16>> = Protocol::ALL
            .iter()
            .map(|p| (*p, [OTHER_PORT].into()))
            .collect();
        let mut add = |p: Protocol, n: i64| {
            if (1..=65535).contains(&n) {
                out.entry(p).or_default().insert(n as u16);
            }
        };
        for r in self.rules() {
            for item in &r.ports {
                match item {
                    PortItem::Number(p, n) => {
                        let p = p.unwrap_or(Protocol::Tcp);
                        for d in [-1, 0, 1] {
                            add(p, *n as i64 + d);
                        }
                    }
                    PortItem::Range(p, lo, hi) => {
                        let p = p.unwrap_or(Protocol::Tcp);
                        for n in [*lo as i64 - 1, *lo as i64, *hi as i64, *hi as i64 + 1] {
                            add(p, n);
                        }
                    }
                    PortItem::Whole(_) | PortItem::Named(..) => {}
                }
            }
        }
        for pod in &pop.pods {
            for np in &pod.ports {
                add(np.protocol, np.port as i64);
            }
        }
        out
    }

    /// Candidate external addresses: the edges of every block the program
    /// writes, and one IPv4 and one IPv6 address far from them.
    fn edges(&self) -> Vec<IpAddr> {
        let mut set: BTreeSet<IpAddr> = BTreeSet::new();
        for p in self.rules().flat_map(Rule::peers) {
            for b in &p.blocks {
                set.extend(b.edges());
            }
        }
        set.insert(IpAddr::V4(Ipv4Addr::new(8, 8, 8, 8)));
        set.insert(IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1)));
        set.into_iter().collect()
    }

    pub(crate) fn external_addresses(&self) -> Vec<IpAddr> {
        let edges = self.edges();
        // every address a name resolves to is probed
        let answers = self.dns_answers().into_values().flatten();
        if self.all_externals {
            let mut out = edges;
            out.extend(answers);
            out.sort();
            out.dedup();
            return out;
        }
        let mut out: Vec<IpAddr> = self
            .externals
            .iter()
            .map(|i| edges[i.index(edges.len())])
            .collect();
        out.extend(answers);
        out.sort();
        out.dedup();
        out
    }
}

/// Shown when a case fails: the program and the cluster, readably.
impl fmt::Debug for Case {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "\n--- program ---\n{}", self.source())?;
        writeln!(
            f,
            "--- cluster ---\n{}",
            describe_population(&self.population())
        )?;
        let ext: Vec<String> = self
            .external_addresses()
            .iter()
            .map(|a| a.to_string())
            .collect();
        writeln!(f, "external addresses: {}", ext.join(", "))?;
        let dns: Vec<String> = self
            .dns_answers()
            .iter()
            .map(|(n, a)| format!("{n} = {a:?}"))
            .collect();
        writeln!(f, "dns answers: {}", dns.join(", "))
    }
}

fn describe_population(pop: &Population) -> String {
    let mut s = String::new();
    for ns in pop.namespaces.values() {
        let l: Vec<String> = ns
            .labels
            .iter()
            .filter(|(k, _)| *k != NAME_LABEL)
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        s.push_str(&format!("namespace {} {{{}}}\n", ns.name, l.join(", ")));
    }
    for p in &pop.pods {
        s.push_str(&format!("pod {}\n", describe_pod(p)));
    }
    s
}

fn describe_pod(p: &PodInfo) -> String {
    let l: Vec<String> = p.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let ports: Vec<String> = p
        .ports
        .iter()
        .map(|n| format!("{}={}/{}", n.name, n.protocol.k8s_name(), n.port))
        .collect();
    format!(
        "{}/{} {{{}}} ports [{}]",
        p.namespace,
        p.name,
        l.join(", "),
        ports.join(", ")
    )
}

pub(crate) fn describe_endpoint(pop: &Population, e: Endpoint) -> String {
    match e {
        Endpoint::Pod(i) => pop
            .pods
            .get(i)
            .map(describe_pod)
            .unwrap_or_else(|| format!("pod #{i}")),
        Endpoint::External(a) => a.to_string(),
    }
}

// ---- strategies -------------------------------------------------------------

/// A label value as a selector writes it.
fn value() -> impl Strategy<Value = &'static str> {
    prop_oneof![3 => Just(VX), 3 => Just(VY), 1 => Just("\"\"")]
}

/// A namespace's value of the label `t`.
fn ns_value() -> impl Strategy<Value = &'static str> {
    prop_oneof![3 => Just(VX), 3 => Just(VY), 1 => Just("")]
}

/// One requirement of any of the six forms on one of `keys`.
fn requirement(keys: &'static [&'static str]) -> impl Strategy<Value = String> {
    let key = prop::sample::select(keys);
    let values = prop_oneof![
        Just(VX.to_string()),
        Just(VY.to_string()),
        Just(format!("{VX}, {VY}")),
        Just(format!("{VY}, \"\"")),
    ];
    (key, 0..6u8, value(), values).prop_map(|(k, form, v, vs)| match form {
        0 => format!("{k}={v}"),
        1 => format!("{k}!={v}"),
        2 => format!("{k} in ({vs})"),
        3 => format!("{k} notin ({vs})"),
        4 => format!("{k}=*"),
        _ => format!("!{k}"),
    })
}

fn selector() -> impl Strategy<Value = String> {
    prop::collection::vec(requirement(&KEYS), 1..=2).prop_map(|r| r.join(", "))
}

/// A namespace selector: on the label `t`, on names, or both.
fn ns_selector() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => requirement(&[NS_KEY]),
        1 => (subsequence(NS_POOL.to_vec(), 1..=2), any::<bool>()).prop_map(|(ns, not)| {
            format!("{NAME_LABEL} {} ({})", if not { "notin" } else { "in" }, ns.join(", "))
        }),
        1 => (requirement(&[NS_KEY]), prop::sample::select(&NS_POOL[..])).prop_map(|(r, n)| format!("{r}, {NAME_LABEL}={n}")),
    ]
}

fn ns_name() -> impl Strategy<Value = &'static str> {
    prop::sample::select(&NS_POOL[..])
}

fn block_with_excepts() -> impl Strategy<Value = (Block, Vec<Block>)> {
    let base = prop::sample::select(base_blocks());
    (base, prop::collection::vec((1u8..=8, any::<u128>()), 0..=2)).prop_map(|(b, ex)| {
        let excepts: Vec<Block> = ex
            .into_iter()
            .filter_map(|(e, bits)| sub_block(b, e, bits))
            .collect();
        (b, excepts)
    })
}

/// ` except B` or ` except (B | B ...)`, with the blocks spelled by `text`
/// and joined by `sep`.
fn except_text(ex: &[Block], text: fn(&Block) -> String, sep: &str) -> String {
    match ex.len() {
        0 => String::new(),
        1 => format!(" except {}", text(&ex[0])),
        _ => format!(
            " except ({})",
            ex.iter().map(text).collect::<Vec<_>>().join(sep)
        ),
    }
}

/// A block with its excepts: canonical, respelled (IPv6 in brackets, the
/// parts in reverse order, nested in a group), and with `,` (refused).
fn block_peer(b: Block, ex: &[Block]) -> Peer {
    let mut blocks = vec![b];
    blocks.extend(ex.iter().copied());
    let mut rev = ex.to_vec();
    rev.reverse();
    let alt = match rev.len() {
        2 => format!(
            "{} except (({}) | {})",
            b.alt_text(),
            rev[0].alt_text(),
            rev[1].alt_text()
        ),
        _ => format!(
            "{}{}",
            b.alt_text(),
            except_text(&rev, Block::alt_text, " | ")
        ),
    };
    Peer {
        alt: Some(alt),
        comma: (ex.len() > 1)
            .then(|| format!("{}{}", b.text(), except_text(ex, Block::text, ", "))),
        ..Peer::external(
            format!("{}{}", b.text(), except_text(ex, Block::text, " | ")),
            blocks,
        )
    }
}

/// The standard-library address names a program may use (`use` line), and
/// the blocks each denotes.
const STDLIB_MODULES: &str = "use metadata-api, link-local, rfc1918";

/// A standard-library name and the blocks it denotes.
fn named(name: &'static str) -> (String, Vec<Block>) {
    let blocks = match name {
        "metadata-api" => vec![v4([169, 254, 169, 254], 32), v6("fd00:ec2::254", 128)],
        "link-local" => vec![v4([169, 254, 0, 0], 16), v6("fe80::", 10)],
        _ => vec![
            v4([10, 0, 0, 0], 8),
            v4([172, 16, 0, 0], 12),
            v4([192, 168, 0, 0], 16),
        ],
    };
    (name.to_string(), blocks)
}

fn stdlib_peer() -> impl Strategy<Value = Peer> {
    prop_oneof![
        prop::sample::select(vec!["metadata-api", "link-local", "rfc1918", "private"])
            .prop_map(named),
        Just(("world except (rfc1918 | link-local)".to_string(), {
            let mut b = named("rfc1918").1;
            b.extend(named("link-local").1);
            b
        })),
        Just((
            "world except metadata-api".to_string(),
            named("metadata-api").1
        )),
    ]
    .prop_map(|(text, blocks)| Peer::external(text, blocks))
}

/// A peer of any form: every production of the grammar's peers (selectors,
/// names, qualified names, `NS/...`, `{NSSEL}/...`, `cluster`, `world`,
/// stdlib names, IPv4 and IPv6 blocks), `except` after each kind, with one
/// part or a list.
fn peer() -> impl Strategy<Value = Peer> {
    prop_oneof![
        2 => Just(Peer::pods("*", true, false)),
        4 => selector().prop_map(Peer::selector),
        2 => (0..2usize).prop_map(|i| Peer { workload: Some(i), ..Peer::pods("", true, false) }),
        1 => (0..3usize, 0..2usize).prop_map(|(k, j)| Peer { qualified: Some((k, j)), ..Peer::pods("", false, false) }),
        3 => (ns_name(), selector()).prop_map(|(n, s)| Peer::pods(format!("{n}/{s}"), false, true)),
        2 => ns_name().prop_map(|n| Peer::pods(format!("{n}/*"), false, false)),
        1 => (ns_selector(), prop::option::of(selector())).prop_map(|(n, s)| match s {
            Some(s) => Peer::pods(format!("{{{n}}}/{s}"), false, true),
            None => Peer::pods(format!("{{{n}}}"), false, false),
        }),
        1 => Just(Peer::pods("cluster", false, false)),
        1 => stdlib_peer(),
        1 => Just(Peer::external("world".into(), vec![])),
        3 => block_with_excepts().prop_map(|(b, ex)| block_peer(b, &ex)),
        1 => block_with_excepts().prop_map(move |(b, _)| {
            if b.len > 0 {
                Peer {
                    alt: Some(format!("world except {}", b.alt_text())),
                    ..Peer::external(format!("world except {}", b.text()), vec![b])
                }
            } else {
                Peer { alt: Some(b.alt_text()), ..Peer::external(b.text(), vec![b]) }
            }
        }),
        2 => prop_oneof![
            ns_name().prop_map(|n| Peer::pods(format!("cluster except {n}/*"), false, false)),
            selector().prop_map(|s| Peer::pods(format!("* except {s}"), true, true)),
            (ns_name(), selector()).prop_map(|(n, s)| Peer::pods(format!("{n}/* except {n}/{s}"), false, true)),
            (ns_name(), ns_name(), selector()).prop_map(|(n, m, s)| Peer {
                alt: Some(format!("cluster except (({m}/{s}) | {n}/*)")),
                comma: Some(format!("cluster except ({n}/*, {m}/{s})")),
                ..Peer::pods(format!("cluster except ({n}/* | {m}/{s})"), false, false)
            }),
            (ns_name(), selector(), selector()).prop_map(|(n, s, t)| Peer {
                alt: Some(format!("({n}/*) except ({n}/{t} | ({n}/{s}))")),
                comma: Some(format!("{n}/* except ({n}/{s}, {n}/{t})")),
                ..Peer::pods(format!("{n}/* except ({n}/{s} | {n}/{t})"), false, false)
            }),
            (ns_selector(), ns_name()).prop_map(|(q, n)| Peer::pods(format!("{{{q}}}/* except {n}/*"), false, false)),
        ],
    ]
}

fn protocol() -> impl Strategy<Value = Option<Protocol>> {
    prop_oneof![
        3 => Just(None),
        1 => Just(Some(Protocol::Tcp)),
        2 => Just(Some(Protocol::Udp)),
        1 => Just(Some(Protocol::Sctp)),
    ]
}

fn port_item() -> impl Strategy<Value = PortItem> {
    prop_oneof![
        4 => (protocol(), prop::sample::select(&PORT_NUMBERS[..])).prop_map(|(p, n)| PortItem::Number(p, n)),
        3 => (protocol(), prop::sample::select(&PORT_RANGES[..])).prop_map(|(p, (lo, hi))| PortItem::Range(p, lo, hi)),
        1 => prop::sample::select(Protocol::ALL.to_vec()).prop_map(PortItem::Whole),
        1 => (protocol(), prop::sample::select(&PORT_NAMES[..])).prop_map(|(p, n)| PortItem::Named(p, n)),
    ]
}

fn side() -> impl Strategy<Value = Vec<Peer>> {
    prop::collection::vec(peer(), 1..=2)
}

fn union_text(peers: &[Peer], ports: &[PortItem], counts: &[usize], me: usize) -> String {
    let u = peers
        .iter()
        .map(|p| p.render(counts, me))
        .collect::<Vec<_>>()
        .join(" | ");
    if ports.is_empty() {
        u
    } else {
        let ps = ports
            .iter()
            .map(PortItem::text)
            .collect::<Vec<_>>()
            .join(", ");
        if peers.len() > 1 {
            format!("({u}):{ps}")
        } else {
            format!("{u}:{ps}")
        }
    }
}

/// `allow|deny SRC -> DST[:PORTS]`, `allow|deny egress DST[:PORTS]` or
/// `allow|deny ingress SRC`, made valid: one side has pods, named ports
/// only in allows towards pods.
fn rule(dns: bool) -> impl Strategy<Value = Rule> {
    let form =
        prop_oneof![2 => Just(Form::Full), 1 => Just(Form::Egress), 1 => Just(Form::Ingress)];
    let ports = prop::option::weighted(0.6, prop::collection::vec(port_item(), 1..=2));
    let scope = prop::sample::select(vec!["", "", " on ingress", " on egress"]);
    // a DNS-name peer among the destinations of an allow (the only place
    // it may stand), in programs with DNS names
    let name = prop::option::of((prop::sample::select(&DNS_PEERS[..]), any::<bool>()))
        .prop_map(move |n| n.filter(|_| dns));
    (any::<bool>(), form, side(), side(), ports, scope, name).prop_map(
        |(allow, form, src, mut dst, ports, mut scope, name)| {
            let allow = allow || name.is_some();
            if let Some((n, only)) = name {
                if only {
                    dst.clear();
                }
                dst.push(Peer::external(n.to_string(), vec![]));
            }
            let form = if name.is_some() && form == Form::Ingress {
                Form::Egress
            } else {
                form
            };
            let mut ports = ports.unwrap_or_default();
            if form == Form::Ingress {
                ports.clear();
            }
            let named_ok = allow && dst.iter().all(|p| !p.external);
            if !named_ok {
                ports.retain(|p| !matches!(p, PortItem::Named(..)));
            }
            if form == Form::Full
                && src.iter().all(|p| p.external)
                && dst.iter().all(|p| p.external)
            {
                dst.push(Peer::pods("*", true, false));
            }
            // a scope only on a side that has pods (else E0112)
            let pods = |side: &[Peer]| !side.iter().all(|p| p.external);
            match (scope, form) {
                (" on egress", Form::Full | Form::Ingress) if !pods(&src) => scope = "",
                (" on ingress", Form::Full | Form::Egress) if !pods(&dst) => scope = "",
                _ => {}
            }
            Rule {
                allow,
                form,
                src,
                dst,
                ports,
                scope,
            }
        },
    )
}

fn namespace_block(dns: bool) -> impl Strategy<Value = NsBlock> {
    let posture = prop::sample::select(vec![
        None,
        Some("default deny"),
        Some("default deny ingress"),
        Some("default deny egress"),
        Some("default allow"),
    ]);
    let isolate = (
        prop::sample::select(vec!["", "ingress ", "egress "]),
        prop_oneof![
            4 => selector(),
            1 => Just("*".to_string()),
            1 => (selector(), selector()).prop_map(|(a, b)| format!("{a} | {b}")),
        ],
    )
        .prop_map(|(d, s)| format!("isolate {d}{s}"));
    (
        posture,
        prop::collection::vec(selector(), 0..=2),
        prop::collection::vec(isolate, 0..=2),
        prop::collection::vec(rule(dns), 0..=4),
        prop::bool::weighted(0.3),
        prop::bool::weighted(0.92).prop_map(move |b| b && dns),
    )
        .prop_map(
            |(posture, workloads, isolates, rules, states_labels, allows_dns)| NsBlock {
                posture,
                workloads,
                isolates,
                rules,
                states_labels,
                allows_dns,
            },
        )
}

fn cluster(dns: bool) -> impl Strategy<Value = Cluster> {
    let ns_labels = prop::collection::vec(prop::option::of(ns_value()), NS_POOL.len());
    let pod_label = || {
        prop::option::of(
            prop_oneof![3 => prop::sample::select(&POD_VALUES[..3]), 1 => Just(POD_VALUES[3])],
        )
    };
    let pod = (
        0..NS_POOL.len(),
        [pod_label(), pod_label()],
        prop::collection::vec(0..CONTAINER_PORTS.len(), 0..=2),
    );
    let answers =
        prop::collection::vec((0..DNS_ANSWERS.len(), any::<prop::sample::Index>()), 0..=8);
    (ns_labels, prop::collection::vec(pod, 1..=7), answers).prop_map(
        move |(ns_labels, pods, answers)| Cluster {
            ns_labels,
            pods,
            dns: dns.then_some(answers),
        },
    )
}

pub(crate) fn case() -> impl Strategy<Value = Case> {
    case_with(false)
}

/// Programs that also allow egress to DNS names (`dns:NAME`, the cilium
/// target), and clusters with kube-dns and a resolver's answers: names that
/// match and that do not, several names to one address, addresses inside
/// the blocks programs deny.
pub(crate) fn case_with_dns() -> impl Strategy<Value = Case> {
    case_with(true)
}

fn case_with(dns: bool) -> impl Strategy<Value = Case> {
    (
        prop::collection::vec(namespace_block(dns), 1..=3),
        cluster(dns),
        prop::collection::vec(any::<prop::sample::Index>(), 0..=5),
        any::<u64>(),
    )
        .prop_map(|(blocks, cluster, externals, spelling)| Case {
            blocks,
            cluster,
            externals,
            spelling,
            all_externals: false,
        })
}

// ---- the property -----------------------------------------------------------

#[derive(Default, Debug)]
struct Tally {
    compiled: usize,
    rejected_programs: usize,
    rejected: BTreeMap<String, usize>,
    connections: usize,
    /// Programs compiled again in another spelling, with identical output.
    respelled: usize,
    /// Programs with a `,` where `|` belongs, refused (by code).
    commas_refused: BTreeMap<String, usize>,
    /// Refused programs (E0501, E0502) whose construction without the
    /// refusal is shown wrong on some cluster, and those it is not.
    refusals_shown: usize,
    refusals_unshown: Vec<String>,
}

/// The codes a generated program may be rejected with: the two exactness
/// limits, and E0109 (no pods on either side) where an except list empties
/// the pods of a side (`n0/* except (n0/!k | n0/k=*)`), and E0112 (the
/// side a scoped rule decides has no pods) for the same reason.
const EXPECTED_REJECTIONS: [&str; 4] = ["E0501", "E0502", "E0109", "E0112"];

/// The codes that refuse a `,` where `|` belongs: a syntax error, E0110 (a
/// `,` between peers), E0111 (a name or address read as a label key), E0207
/// (a dot-less `NS/key` read as a label key).
const COMMA_REFUSALS: [&str; 4] = ["E0001", "E0110", "E0111", "E0207"];

pub(crate) fn compile_text(text: &str) -> nplc::driver::Compilation {
    compile_inputs(&[Input {
        name: "prop.npl".into(),
        text: text.to_string(),
    }])
}

fn error_codes(c: &nplc::driver::Compilation) -> BTreeSet<String> {
    c.diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(|d| d.code.to_string())
        .collect()
}

/// The emitted objects without their annotations (which name source lines).
pub(crate) fn objects(
    c: &nplc::driver::Compilation,
) -> Vec<k8s_openapi::api::networking::v1::NetworkPolicy> {
    c.manifests
        .iter()
        .map(|m| {
            let mut o = m.object.clone();
            o.metadata.annotations = None;
            o
        })
        .collect()
}

/// The same program in another spelling (groups, nested groups,
/// definitions at the top level and in the block, definitions carrying
/// ports, IPv6 in brackets, except lists reordered) must mean the same: the
/// same errors, or the same objects. With one `,` where `|` belongs, it
/// must be refused, never read as something else.
fn check_spellings(
    case: &Case,
    c: &nplc::driver::Compilation,
    tally: &RefCell<Tally>,
) -> Result<(), TestCaseError> {
    let (alt, _) = case.alt_source(false);
    let a = compile_text(&alt);
    let (want, got) = (error_codes(c), error_codes(&a));
    if want != got {
        return Err(TestCaseError::fail(format!(
            "another spelling is judged otherwise: errors {want:?} vs {got:?}\n--- respelled ---\n{alt}\n{}",
            nplc::diag::render_human(&a.sources, &a.diagnostics)
        )));
    }
    if want.is_empty() {
        if objects(c) != objects(&a) {
            return Err(TestCaseError::fail(format!(
                "another spelling compiles to other policies\n--- respelled ---\n{alt}\n--- its yaml ---\n{}\n--- the program's yaml ---\n{}",
                nplc::emit::k8s::stream(&a.manifests),
                nplc::emit::k8s::stream(&c.manifests),
            )));
        }
        tally.borrow_mut().respelled += 1;
    }
    let (comma, mutated) = case.alt_source(true);
    if mutated {
        let m = compile_text(&comma);
        let codes = error_codes(&m);
        let refused: Vec<&String> = codes
            .iter()
            .filter(|c| COMMA_REFUSALS.contains(&c.as_str()))
            .collect();
        if refused.is_empty() {
            return Err(TestCaseError::fail(format!(
                "a `,` where `|` belongs was not refused (errors {codes:?})\n--- with the comma ---\n{comma}\n{}",
                nplc::diag::render_human(&m.sources, &m.diagnostics)
            )));
        }
        let mut t = tally.borrow_mut();
        for r in refused {
            *t.commas_refused.entry(r.clone()).or_default() += 1;
        }
    }
    Ok(())
}

fn check_case(case: &Case, tally: &RefCell<Tally>) -> Result<(), TestCaseError> {
    let src = case.source();
    let c = compile_text(&src);
    check_spellings(case, &c, tally)?;
    if c.has_errors() {
        let codes: BTreeSet<String> = c
            .diagnostics
            .iter()
            .filter(|d| d.is_error())
            .map(|d| d.code.to_string())
            .collect();
        let unexpected: Vec<&String> = codes
            .iter()
            .filter(|c| !EXPECTED_REJECTIONS.contains(&c.as_str()))
            .collect();
        if !unexpected.is_empty() {
            let rendered = nplc::diag::render_human(&c.sources, &c.diagnostics);
            return Err(TestCaseError::fail(format!(
                "unexpected rejection {unexpected:?}:\n{rendered}"
            )));
        }
        if codes.iter().all(|c| c == "E0501" || c == "E0502") {
            match refusal_witness(case, &c) {
                Some(_) => tally.borrow_mut().refusals_shown += 1,
                None => {
                    let rendered = nplc::diag::render_human(&c.sources, &c.diagnostics);
                    tally
                        .borrow_mut()
                        .refusals_unshown
                        .push(format!("{src}\n{rendered}"));
                }
            }
        }
        let mut t = tally.borrow_mut();
        t.rejected_programs += 1;
        for code in codes {
            *t.rejected.entry(code).or_default() += 1;
        }
        return Ok(());
    }
    let Some(prog) = &c.program else {
        return Err(TestCaseError::fail("no program without errors"));
    };
    // the policies as written: the YAML text (the fast writer, which must
    // equal serde_yaml's) read back
    let mut policies = Vec::new();
    for m in &c.manifests {
        let text = m.to_yaml();
        prop_assert_eq!(&text, &nplc::emit::yaml::reference(&m.object));
        let back: k8s_openapi::api::networking::v1::NetworkPolicy = serde_yaml::from_str(&text)
            .map_err(|e| TestCaseError::fail(format!("emitted YAML does not read back: {e}")))?;
        prop_assert_eq!(&back, &m.object);
        policies.push(back);
    }
    let mut n = 0usize;
    if let Some(why) = first_mismatch(case, prog, &policies, &mut n) {
        return Err(TestCaseError::fail(format!(
            "{why}\n--- yaml ---\n{}",
            nplc::emit::k8s::stream(&c.manifests),
        )));
    }
    let mut t = tally.borrow_mut();
    t.compiled += 1;
    t.connections += n;
    Ok(())
}

/// The first connection of the case's cluster on which the Kubernetes
/// evaluation of `policies` and the intent evaluation of `prog` disagree.
/// `n` counts the connections compared.
fn first_mismatch(
    case: &Case,
    prog: &nplc::ir::Program,
    policies: &[k8s_openapi::api::networking::v1::NetworkPolicy],
    n: &mut usize,
) -> Option<String> {
    first_mismatch_on(case, prog, policies, n, None)
}

/// [`first_mismatch`], only on connections from (`egress`) or to the pods
/// of namespace `focus.0` when `focus` is given.
fn first_mismatch_on(
    case: &Case,
    prog: &nplc::ir::Program,
    policies: &[k8s_openapi::api::networking::v1::NetworkPolicy],
    n: &mut usize,
    focus: Option<(&str, bool)>,
) -> Option<String> {
    let pop = case.population();
    first_mismatch_in(case, &pop, prog, policies, n, focus, None)
}

/// [`first_mismatch_on`] over a given population; with `port`, only on
/// that protocol and port.
fn first_mismatch_in(
    case: &Case,
    pop: &Population,
    prog: &nplc::ir::Program,
    policies: &[k8s_openapi::api::networking::v1::NetworkPolicy],
    n: &mut usize,
    focus: Option<(&str, bool)>,
    port: Option<(Protocol, u16)>,
) -> Option<String> {
    let mut ports = case.probe_ports(pop);
    if let Some((proto, number)) = port {
        ports = [(proto, [number].into())].into();
    }
    let mut endpoints: Vec<Endpoint> = (0..pop.pods.len()).map(Endpoint::Pod).collect();
    endpoints.extend(
        case.external_addresses()
            .into_iter()
            .map(Endpoint::External),
    );
    let in_focus = |src: Endpoint, dst: Endpoint| match focus {
        None => true,
        Some((ns, egress)) => {
            let e = if egress { src } else { dst };
            matches!(e, Endpoint::Pod(i) if pop.pods.get(i).is_some_and(|p| p.namespace == ns))
        }
    };
    for &src in &endpoints {
        for &dst in &endpoints {
            if !in_focus(src, dst) {
                continue;
            }
            let both_external =
                matches!((src, dst), (Endpoint::External(_), Endpoint::External(_)));
            for (proto, nums) in &ports {
                for &port in nums {
                    if both_external && port != OTHER_PORT {
                        continue;
                    }
                    let conn = Connection {
                        src,
                        dst,
                        protocol: *proto,
                        port,
                    };
                    let want = intent::evaluate(prog, pop, &conn);
                    let got = k8s::evaluate(policies, pop, &conn);
                    *n += 1;
                    if want.allowed != got.allowed {
                        return Some(format!(
                            "connection {} -> {} on {}/{}: the program says {}, the emitted policies say {}\nintent: {want:?}\nkubernetes: {got:?}",
                            describe_endpoint(pop, src),
                            describe_endpoint(pop, dst),
                            proto.k8s_name(),
                            port,
                            verdict_word(want.allowed),
                            verdict_word(got.allowed),
                        ));
                    }
                }
            }
        }
    }
    None
}

/// A program refused with E0501 or E0502 only: the documented construction
/// without the refusal (`compile_inexact`) must permit more or less than
/// the program says on some cluster: the case's own, or the same with the
/// namespace labels of one managed namespace changed. `None`: no such
/// cluster found (the refusal is not shown necessary).
fn refusal_witness(case: &Case, c: &nplc::driver::Compilation) -> Option<String> {
    let prog = c.program.as_ref()?;
    let set = nplc::compile::compile_inexact(prog, &mut nplc::diag::Sink::new()).ok()?;
    let policies: Vec<_> = nplc::emit::k8s::manifests(&set, prog, &c.sources)
        .into_iter()
        .map(|m| m.object)
        .collect();
    let mut n = 0;
    let mut variants = vec![case.clone()];
    for i in 0..case.blocks.len() {
        // a namespace that states its labels keeps them: the guarantee
        // is for clusters where it carries exactly those
        if case.blocks[i].states_labels {
            continue;
        }
        for v in [None, Some(VX), Some(VY), Some("")] {
            let mut other = case.clone();
            if let Some(l) = other.cluster.ns_labels.get_mut(i) {
                *l = v;
            }
            variants.push(other);
        }
    }
    if let Some(w) = variants
        .iter()
        .find_map(|v| first_mismatch(v, prog, &policies, &mut n))
    {
        return Some(w);
    }
    // a richer cluster: in every namespace, a pod for every combination of
    // label values (and named ports of every numbering), every candidate
    // address; only the connections of the side each E0501 names
    let focus: Vec<(String, bool)> = c
        .diagnostics
        .iter()
        .filter(|d| d.code == "E0501")
        .filter_map(|d| {
            let egress = d.message.starts_with("the egress side");
            let ns = d.message.split('`').nth(1)?;
            Some((ns.to_string(), egress))
        })
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    // named ports numbered each way in turn, where the program has any
    let named = prog
        .statements
        .iter()
        .any(|st| st.dst.iter().any(|d| d.ports.has_named()));
    let rotations = if named { 4 } else { 1 };
    (0..rotations).find_map(|rotation| rich_witness(case, c, prog, &policies, &focus, rotation))
}

/// The search of [`refusal_witness`] on a richer cluster: in every
/// namespace, a pod for every combination of label values, with named
/// ports numbered by `rotation`, and every candidate address.
fn rich_witness(
    case: &Case,
    c: &nplc::driver::Compilation,
    prog: &nplc::ir::Program,
    policies: &[k8s_openapi::api::networking::v1::NetworkPolicy],
    focus: &[(String, bool)],
    rotation: usize,
) -> Option<String> {
    let mut n = 0;
    let values = [None, Some(VX), Some(VY), Some("")];
    let mut pods: Vec<GenPod> = Vec::new();
    for ns in 0..NS_POOL.len() {
        for (i, (a, b)) in values
            .iter()
            .flat_map(|a| values.iter().map(move |b| (*a, *b)))
            .enumerate()
        {
            let ports = vec![
                (i + rotation) % 4,
                4 + (i + 1 + rotation) % 4,
                8 + (i + 2 + rotation) % 4,
            ];
            pods.push((ns, [a, b], ports));
        }
    }
    let mut rich = case.clone();
    rich.all_externals = true;
    rich.cluster.pods = pods;
    // every namespace with the same labels, each way
    let same: Vec<Case> = [None, Some(VX), Some(VY), Some("")]
        .into_iter()
        .map(|v| {
            let mut r = rich.clone();
            r.cluster.ns_labels = vec![v; NS_POOL.len()];
            case.keep_stated(&mut r);
            r
        })
        .collect();
    if focus.is_empty() {
        if let Some(w) = std::iter::once(&rich)
            .chain(same.iter())
            .find_map(|r| first_mismatch(r, prog, policies, &mut n))
        {
            return Some(w);
        }
    }
    // E0502: every pod's named port of the refused name on each protocol
    // and probe port in turn, probed on that port only
    let names: BTreeSet<&str> = c
        .diagnostics
        .iter()
        .filter(|d| d.code == "E0502")
        .filter_map(|d| d.message.split('`').nth(1))
        .collect();
    for name in names {
        for r in std::iter::once(&rich).chain(same.iter()) {
            let base = r.population();
            for (proto, numbers) in r.probe_ports(&base) {
                for number in numbers {
                    let mut pop = base.clone();
                    for pod in &mut pop.pods {
                        pod.ports = vec![NamedPort {
                            name: name.to_string(),
                            port: number,
                            protocol: proto,
                        }];
                    }
                    let found = first_mismatch_in(
                        r,
                        &pop,
                        prog,
                        policies,
                        &mut n,
                        None,
                        Some((proto, number)),
                    );
                    if found.is_some() {
                        return found;
                    }
                }
            }
        }
    }
    if focus.is_empty() {
        return None;
    }
    // the labels of the namespace whose side is approximate, each way
    focus.iter().find_map(|(ns, egress)| {
        let i = rich.namespaces().iter().position(|(name, _)| name == ns)?;
        // the other namespaces as in the case, or all with one value
        let values = [None, Some(VX), Some(VY), Some("")];
        let others = std::iter::once(None).chain(values.into_iter().map(Some));
        others
            .flat_map(|o| values.into_iter().map(move |v| (o, v)))
            .find_map(|(o, v)| {
                let mut r = rich.clone();
                if let Some(o) = o {
                    r.cluster.ns_labels = vec![o; NS_POOL.len()];
                }
                if let Some(l) = r.cluster.ns_labels.get_mut(i) {
                    *l = v;
                }
                case.keep_stated(&mut r);
                first_mismatch_on(&r, prog, policies, &mut n, Some((ns, *egress)))
            })
    })
}

fn verdict_word(allowed: bool) -> &'static str {
    if allowed {
        "allowed"
    } else {
        "denied"
    }
}

pub(crate) fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1000)
}

#[test]
fn emitted_policies_mean_what_the_program_says() {
    let total = cases();
    let config = Config {
        cases: total,
        failure_persistence: None,
        max_shrink_iters: 4096,
        ..Config::default()
    };
    let mut runner = TestRunner::new(config);
    let tally = RefCell::new(Tally::default());
    let started = std::time::Instant::now();
    let result = runner.run(&case(), |case| check_case(&case, &tally));
    match result {
        Ok(()) => {}
        Err(TestError::Fail(why, case)) => {
            panic!("the compiler and the semantics disagree\n{why}\nminimal case:{case:?}")
        }
        Err(TestError::Abort(why)) => panic!("property test aborted: {why}"),
    }
    let t = tally.into_inner();
    let rejected = t.rejected_programs;
    eprintln!(
        "props: {} programs, {} compiled, rejected {:?}, {} connections compared, {} respelled identically, commas refused {:?}, refusals shown necessary {} (not shown {}), {:.1?}",
        total,
        t.compiled,
        t.rejected,
        t.connections,
        t.respelled,
        t.commas_refused,
        t.refusals_shown,
        t.refusals_unshown.len(),
        started.elapsed()
    );
    assert!(
        t.compiled + rejected >= total as usize,
        "every case ran: {t:?}"
    );
    // The witness search tries a family of clusters, not every cluster: the
    // rare refusal it cannot show necessary is printed; many would mean
    // refusals that nothing justifies (before the refusals were narrowed to
    // where an approximation changes a side, three in four were). Since
    // side-scoped statements and stated labels joined the generator, five
    // runs of 1,000 programs left 1, 1, 2, 3 and 5 of 62-93 refusals
    // unshown (up to 5.4%): the bound is 8%, far below that failure mode.
    for u in &t.refusals_unshown {
        eprintln!("props: a refusal not shown necessary by the search:\n{u}");
    }
    let refused = t.refusals_shown + t.refusals_unshown.len();
    assert!(
        t.refusals_unshown.len() * 100 <= refused * 8,
        "more than 8% of the refused programs were not shown wrong without the refusal on any cluster tried: {} of {refused}",
        t.refusals_unshown.len()
    );
    assert!(
        rejected * 100 <= total as usize * 20,
        "more than 20% of generated programs were rejected: {t:?}"
    );
}

#[test]
#[ignore]
fn show_samples() {
    use proptest::strategy::ValueTree;
    let mut runner = TestRunner::default();
    for _ in 0..12 {
        let c = case().new_tree(&mut runner).unwrap().current();
        eprintln!("{c:?}");
        let comp = compile_inputs(&[Input {
            name: "prop.npl".into(),
            text: c.source(),
        }]);
        eprintln!(
            "errors: {:?}",
            comp.diagnostics
                .iter()
                .filter(|d| d.is_error())
                .map(|d| d.code.to_string())
                .collect::<Vec<_>>()
        );
    }
}

// ---- the except rules, against their documented statement ------------------

/// An except part or base: an address block, or pods (`cluster`, `n0/*`).
#[derive(Clone, Debug)]
enum ExceptPeer {
    Block(Block),
    Pods(&'static str),
}

impl ExceptPeer {
    fn text(&self) -> String {
        match self {
            ExceptPeer::Block(b) => b.alt_text(),
            ExceptPeer::Pods(t) => t.to_string(),
        }
    }
}

fn except_peer() -> impl Strategy<Value = ExceptPeer> {
    let blocks = prop::sample::select(base_blocks());
    prop_oneof![
        4 => (blocks.clone(), 0u8..=8, any::<u128>()).prop_map(|(b, extra, bits)| {
            ExceptPeer::Block(if extra == 0 { b } else { sub_block(b, extra, bits).unwrap_or(b) })
        }),
        1 => prop::sample::select(vec!["cluster", "n0/*", "u0/*", "*"]).prop_map(ExceptPeer::Pods),
    ]
}

/// docs/language.md: each address part of an `except` must lie strictly
/// inside one block of what it is taken from (E0303), and each part must
/// have a peer of its own kind in the base (E0304). Checked on random bases
/// of several blocks and pods, against that statement computed here on
/// address intervals, not by nplc's set algebra.
#[test]
fn except_refusals_follow_the_documented_rule() {
    let strategy = (
        prop::collection::vec(except_peer(), 1..=3),
        prop::collection::vec(except_peer(), 1..=3),
    );
    let mut runner = TestRunner::new(Config {
        cases: cases(),
        failure_persistence: None,
        ..Config::default()
    });
    let inside = |p: &Block, b: &Block| {
        p.v6 == b.v6 && b.addr <= p.addr && p.last() <= b.last() && p.len > b.len
    };
    let result = runner.run(&strategy, |(base, parts)| {
        let text = format!(
            "namespace a {{\n  allow ingress ({}) except ({})\n}}\n",
            base.iter()
                .map(ExceptPeer::text)
                .collect::<Vec<_>>()
                .join(" | "),
            parts
                .iter()
                .map(ExceptPeer::text)
                .collect::<Vec<_>>()
                .join(" | ")
        );
        let mut want = BTreeSet::new();
        for part in &parts {
            match part {
                ExceptPeer::Block(p) => {
                    let blocks: Vec<&Block> = base
                        .iter()
                        .filter_map(|b| match b {
                            ExceptPeer::Block(b) => Some(b),
                            ExceptPeer::Pods(_) => None,
                        })
                        .collect();
                    if blocks.is_empty() {
                        want.insert("E0304");
                    } else if !blocks.iter().any(|b| inside(p, b)) {
                        want.insert("E0303");
                    }
                }
                ExceptPeer::Pods(_) => {
                    if !base.iter().any(|b| matches!(b, ExceptPeer::Pods(_))) {
                        want.insert("E0304");
                    }
                }
            }
        }
        let c = compile_text(&text);
        let got: BTreeSet<String> = error_codes(&c)
            .into_iter()
            .filter(|code| code == "E0303" || code == "E0304")
            .collect();
        let want: BTreeSet<String> = want.into_iter().map(String::from).collect();
        let others: Vec<String> = error_codes(&c)
            .into_iter()
            .filter(|code| !["E0303", "E0304", "E0109"].contains(&code.as_str()))
            .collect();
        prop_assert!(
            others.is_empty(),
            "unexpected errors {others:?} for\n{text}"
        );
        prop_assert_eq!(got, want, "for\n{}", text);
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}
