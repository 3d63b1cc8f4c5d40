//! `nplc import`, beside the pipeline: from Kubernetes NetworkPolicy
//! objects to `.npl` programs. Input: YAML or JSON texts (multi-document
//! streams, `kind: List`, nplc's own output), read as the API server reads
//! them. Output: one program text per namespace ([`mod@write`]) that permits
//! exactly what the objects permit (docs/import.md), or diagnostics that
//! name the YAML file, line and column (E0801-E0804; W0805 notes an object
//! that is not a NetworkPolicy).
//!
//! Stages: [`read`] splits each text into documents and each document into
//! objects, checks every NetworkPolicy field the way the API server does
//! (unknown fields, label syntax, ports, `endPort`, `except` inside `cidr`)
//! and lowers it to [`Policy`]; [`mod@write`] turns the policies of each
//! namespace into statements.

pub mod recognise;
pub mod write;

use crate::diag::Diagnostic;
use crate::emit::k8s::MANAGED_BY;
use crate::net::Protocol;
use crate::source::{FileId, SourceMap, Span};
use crate::validate::{is_dns1123_label, is_label_key, is_label_value, is_port_name};
use ipnet::IpNet;
use serde_yaml::Value;
use std::collections::BTreeMap;

/// A label selector as written: `matchLabels` and `matchExpressions`.
#[derive(Debug, Clone, PartialEq, Eq, Default, PartialOrd, Ord)]
pub struct Selector {
    pub labels: BTreeMap<String, String>,
    pub exprs: Vec<Expr>,
}

impl Selector {
    /// Selects everything (`{}`).
    pub fn is_all(&self) -> bool {
        self.labels.is_empty() && self.exprs.is_empty()
    }
}

/// One `matchExpressions` entry.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Expr {
    pub key: String,
    pub op: Op,
    pub values: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Op {
    In,
    NotIn,
    Exists,
    DoesNotExist,
}

/// One peer of a rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Peer {
    /// `podSelector` and/or `namespaceSelector`: `namespaces: None` is the
    /// policy's own namespace; `pods: None` every pod.
    Pods {
        namespaces: Option<Selector>,
        pods: Option<Selector>,
    },
    /// `ipBlock`, host bits cleared as the API server's parser does.
    Block { cidr: IpNet, except: Vec<IpNet> },
}

/// A port of a rule: `port: None` is every port of the protocol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Port {
    pub protocol: Protocol,
    pub port: Option<PortValue>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PortValue {
    Number(u16, u16),
    Name(String),
}

/// One ingress or egress rule: `None` is "every peer" / "every port"
/// (the field absent or empty).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub peers: Option<Vec<Peer>>,
    pub ports: Option<Vec<Port>>,
}

/// A NetworkPolicy, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub namespace: String,
    pub name: String,
    pub subject: Selector,
    pub ingress_isolated: bool,
    pub egress_isolated: bool,
    pub ingress: Vec<Rule>,
    pub egress: Vec<Rule>,
    /// `file:line` of the object, for comments.
    pub origin: String,
    /// The `.npl` files an object of nplc's own output was built from
    /// (its `nplc.io/source` annotation, with the label
    /// `app.kubernetes.io/managed-by: nplc`), in name order; empty for any
    /// other object. [`recognise`] imports such a namespace as its program.
    pub built_from: Vec<String>,
}

/// What [`read`] found.
#[derive(Debug, Default)]
pub struct Read {
    pub sources: SourceMap,
    pub policies: Vec<Policy>,
    pub diagnostics: Vec<Diagnostic>,
}

impl Read {
    pub fn has_errors(&self) -> bool {
        crate::diag::has_errors(&self.diagnostics)
    }
}

/// Reads every `(name, text)` input. `default_ns` is the namespace of a
/// NetworkPolicy that names none (`--namespace`); without it such a policy
/// is an error (E0804). Policies are sorted by (namespace, name).
///
/// The documents of all inputs are read on every core (`crate::par`), each
/// by a reader of its own; their diagnostics and policies are joined in
/// input order, so the result does not depend on the number of cores.
pub fn read(inputs: &[(String, String)], default_ns: Option<&str>) -> Read {
    let mut out = Read::default();
    // (input, file, byte range of the document)
    let mut docs: Vec<(usize, FileId, usize, usize)> = Vec::new();
    for (i, (name, text)) in inputs.iter().enumerate() {
        let file = out.sources.add(name.clone(), text.clone());
        docs.extend(
            documents(text)
                .into_iter()
                .map(|(start, doc)| (i, file, start, start + doc.len())),
        );
    }
    let sources = &out.sources;
    let read = crate::par::map(&docs, |&(i, file, start, end)| {
        let (name, text) = &inputs[i];
        let mut r = Reader {
            file,
            text,
            diags: Vec::new(),
            policies: Vec::new(),
            default_ns,
            origin_name: name,
            doc_start: start,
            doc_end: end,
            cursor: start,
            sources,
        };
        r.document();
        (r.diags, r.policies)
    });
    for (diags, policies) in read {
        out.diagnostics.extend(diags);
        out.policies.extend(policies);
    }
    out.policies
        .sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
    out
}

struct Reader<'a> {
    file: FileId,
    text: &'a str,
    diags: Vec<Diagnostic>,
    policies: Vec<Policy>,
    default_ns: Option<&'a str>,
    origin_name: &'a str,
    /// Byte range of the document being read.
    doc_start: usize,
    doc_end: usize,
    /// Where the object being read starts (its name), so that a search for
    /// what it says looks there first: objects are found in order, and a
    /// large list is searched once, not once per object.
    cursor: usize,
    /// The inputs, for the line of a byte offset.
    sources: &'a SourceMap,
}

/// What an absent field reads as.
static NULL: Value = Value::Null;

/// The documents of a YAML stream: (byte offset, text), split at lines
/// that start with `---`.
fn documents(text: &str) -> Vec<(usize, &str)> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut start = 0;
    // the lines that start with `---`: the first, and each after a `\n---`
    let candidates = std::iter::once(0)
        .filter(|_| bytes.starts_with(b"---"))
        .chain(memchr::memmem::find_iter(bytes, b"\n---").map(|i| i + 1));
    for at in candidates {
        let line = &bytes[at..];
        if line.len() == 3 || !line[3].is_ascii_graphic() {
            // the separator line, with its `\n` when it has one
            let end = memchr::memchr(b'\n', line).map_or(bytes.len(), |i| at + i + 1);
            out.push((start, &text[start..at]));
            start = end;
        }
    }
    out.push((start, &text[start..]));
    out
}

impl Reader<'_> {
    /// Where `needle` first occurs from the cursor on in the document,
    /// else from the document's start.
    fn find(&self, needle: &str) -> Option<usize> {
        if needle.is_empty() {
            return None;
        }
        let from = self.cursor.clamp(self.doc_start, self.doc_end);
        self.text[from..self.doc_end]
            .find(needle)
            .map(|i| from + i)
            .or_else(|| {
                self.text[self.doc_start..from]
                    .find(needle)
                    .map(|i| self.doc_start + i)
            })
    }

    /// Where the object named `name` starts: its `name` field, in YAML or JSON.
    fn find_name(&self, name: &str) -> Option<(usize, usize)> {
        [
            format!("name: {name}"),
            format!("\"name\": \"{name}\""),
            format!("\"name\":\"{name}\""),
        ]
        .iter()
        .find_map(|n| self.find(n).map(|at| (at, n.len())))
    }

    /// A span for a problem in the current document: the first occurrence
    /// of `needle` in it (the offending key or value as written), else the
    /// document's first line.
    fn locate(&self, needle: &str) -> Span {
        match self.find(needle) {
            Some(s) => Span::new(self.file, s, s + needle.len()),
            None => {
                // the object's name, or the document's first line that is
                // neither blank nor a comment
                if self.cursor > self.doc_start && self.cursor < self.doc_end {
                    let s = self.cursor;
                    let e = self.text[s..]
                        .find('\n')
                        .map(|i| s + i)
                        .unwrap_or(self.text.len());
                    return Span::new(self.file, s, e);
                }
                let within = &self.text[self.doc_start..self.doc_end];
                let skip = within
                    .split_inclusive('\n')
                    .take_while(|l| l.trim().is_empty() || l.trim_start().starts_with('#'))
                    .map(str::len)
                    .sum::<usize>();
                let s = self.doc_start + skip;
                let e = self.text[s..]
                    .find('\n')
                    .map(|i| s + i)
                    .unwrap_or(self.text.len());
                Span::new(self.file, s, e.max(s))
            }
        }
    }

    fn error(&mut self, code: &'static str, msg: String, needle: &str, label: &str) {
        let span = self.locate(needle);
        self.diags
            .push(Diagnostic::error(code, msg).at(span, label.to_string()));
    }

    /// The document `doc_start..doc_end`: nothing when it is blank or
    /// comments only, else its object (E0801 when it is not YAML).
    fn document(&mut self) {
        let text = self.text;
        let start = self.doc_start;
        let doc = &text[start..self.doc_end];
        if doc
            .lines()
            .all(|l| l.trim().is_empty() || l.trim_start().starts_with('#'))
        {
            return;
        }
        let v: Value = match serde_yaml::from_str(doc) {
            Ok(v) => v,
            Err(e) => {
                let (off, len) = match e.location() {
                    Some(l) => (start + l.index(), 1),
                    None => (start, 0),
                };
                let off = off.min(text.len());
                let msg = e.to_string();
                let msg = msg.split(" at line ").next().unwrap_or(&msg).to_string();
                self.diags.push(
                    Diagnostic::error(
                        "E0801",
                        format!("this is not valid YAML or JSON: {msg}"),
                    )
                    .at(
                        Span::new(self.file, off, (off + len).min(text.len())),
                        "here",
                    ),
                );
                return;
            }
        };
        self.object(&v, None);
    }

    /// One object; `item`: its index in a `List`.
    fn object(&mut self, v: &Value, item: Option<usize>) {
        if v.is_null() {
            return;
        }
        let kind = v.get("kind").and_then(Value::as_str).unwrap_or("");
        if kind == "List" || kind.ends_with("List") && v.get("items").is_some() {
            if let Some(items) = v.get("items").and_then(Value::as_sequence) {
                for (i, it) in items.iter().enumerate() {
                    self.object(it, Some(i + 1));
                }
            }
            return;
        }
        let name = v
            .get("metadata")
            .and_then(|m| m.get("name"))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        if kind != "NetworkPolicy" {
            let what = if kind.is_empty() {
                "an object without `kind`".to_string()
            } else if name.is_empty() {
                format!("a {kind}")
            } else {
                format!("{kind} `{name}`")
            };
            let span = match self.find_name(&name) {
                Some((at, n)) => {
                    self.cursor = at;
                    Span::new(self.file, at, at + n)
                }
                None => self.locate(""),
            };
            let item = item.map(|i| format!(" (item {i})")).unwrap_or_default();
            self.diags.push(
                Diagnostic::note(
                    "W0805",
                    format!("skipped {what}{item}: not a NetworkPolicy"),
                )
                .at(span, "not imported"),
            );
            return;
        }
        if let Some((at, _)) = self.find_name(&name) {
            self.cursor = at;
        }
        let line = self.sources.line(self.file, self.cursor);
        let before = self.diags.len();
        if let Some(p) = self.policy(v, &name) {
            if self.diags.len() == before {
                self.policies.push(Policy {
                    origin: format!("{}:{line}", self.origin_name),
                    ..p
                });
            }
        }
    }

    fn unknown_fields(&mut self, v: &Value, known: &[&str], path: &str) {
        if let Some(m) = v.as_mapping() {
            for k in m.keys() {
                let k = k.as_str().unwrap_or("");
                if !known.contains(&k) {
                    self.error(
                        "E0803",
                        format!("unknown field `{path}{k}`"),
                        &format!("{k}:"),
                        "not a field of a NetworkPolicy here",
                    );
                }
            }
        } else if !v.is_null() {
            self.error(
                "E0802",
                format!("`{}` must be an object", path.trim_end_matches('.')),
                "",
                "not an object",
            );
        }
    }

    fn policy(&mut self, v: &Value, name: &str) -> Option<Policy> {
        self.unknown_fields(v, &["apiVersion", "kind", "metadata", "spec", "status"], "");
        let api = v.get("apiVersion").and_then(Value::as_str).unwrap_or("");
        if api != "networking.k8s.io/v1" {
            self.error(
                "E0802",
                format!(
                    "NetworkPolicy `{name}` has apiVersion `{api}`, not `networking.k8s.io/v1`"
                ),
                "apiVersion",
                "unsupported apiVersion",
            );
        }
        let meta = v.get("metadata").unwrap_or(&NULL);
        if !is_dns1123_subdomain_name(name) {
            self.error(
                "E0802",
                format!("`{name}` is not a valid NetworkPolicy name"),
                "",
                "not a DNS-1123 subdomain",
            );
        }
        let ns = match meta.get("namespace").and_then(Value::as_str) {
            Some(n) => n.to_string(),
            None => match self.default_ns {
                Some(n) => n.to_string(),
                None => {
                    self.error(
                        "E0804",
                        format!("NetworkPolicy `{name}` has no namespace"),
                        "",
                        "no `metadata.namespace`",
                    );
                    return None;
                }
            },
        };
        if !is_dns1123_label(&ns) {
            self.error(
                "E0802",
                format!("`{ns}` is not a valid namespace name"),
                &ns,
                "not a DNS-1123 label",
            );
        }
        let spec = v.get("spec").unwrap_or(&NULL);
        self.unknown_fields(
            spec,
            &["podSelector", "policyTypes", "ingress", "egress"],
            "spec.",
        );
        let subject = self.selector(spec.get("podSelector"), "spec.podSelector");
        let mut ingress = Vec::new();
        let mut egress = Vec::new();
        for (key, out, peer_key) in [
            ("ingress", &mut ingress, "from"),
            ("egress", &mut egress, "to"),
        ] {
            if let Some(rules) = spec.get(key) {
                let Some(seq) = rules.as_sequence() else {
                    if !rules.is_null() {
                        self.error(
                            "E0802",
                            format!("`spec.{key}` must be a list"),
                            key,
                            "not a list",
                        );
                    }
                    continue;
                };
                for (i, r) in seq.iter().enumerate() {
                    if let Some(rule) = self.rule(r, &format!("spec.{key}[{i}]"), peer_key) {
                        out.push(rule);
                    }
                }
            }
        }
        let types: Option<Vec<String>> = spec.get("policyTypes").and_then(|t| {
            t.as_sequence().map(|s| {
                s.iter()
                    .map(|x| x.as_str().unwrap_or("").to_string())
                    .collect()
            })
        });
        let (ingress_isolated, egress_isolated) = match &types {
            Some(t) if !t.is_empty() => {
                for x in t {
                    if x != "Ingress" && x != "Egress" {
                        self.error(
                            "E0802",
                            format!("`{x}` is not a policy type (`Ingress` or `Egress`)"),
                            x,
                            "unknown policy type",
                        );
                    }
                }
                (
                    t.iter().any(|x| x == "Ingress"),
                    t.iter().any(|x| x == "Egress"),
                )
            }
            // the API server's default
            // (the API server's default: egress only with egress rules)
            _ => (
                true,
                spec.get("egress")
                    .and_then(Value::as_sequence)
                    .is_some_and(|e| !e.is_empty()),
            ),
        };
        Some(Policy {
            namespace: ns,
            name: name.to_string(),
            subject: subject.unwrap_or_default(),
            ingress_isolated,
            egress_isolated,
            ingress,
            egress,
            origin: String::new(),
            built_from: built_from(meta),
        })
    }

    fn rule(&mut self, v: &Value, path: &str, peer_key: &str) -> Option<Rule> {
        self.unknown_fields(v, &[peer_key, "ports"], &format!("{path}."));
        let peers = match v.get(peer_key).and_then(Value::as_sequence) {
            None => None,
            Some(s) if s.is_empty() => None,
            Some(s) => {
                let mut out = Vec::new();
                for (i, p) in s.iter().enumerate() {
                    if let Some(peer) = self.peer(p, &format!("{path}.{peer_key}[{i}]")) {
                        out.push(peer);
                    }
                }
                Some(out)
            }
        };
        let ports = match v.get("ports").and_then(Value::as_sequence) {
            None => None,
            Some(s) if s.is_empty() => None,
            Some(s) => {
                let mut out = Vec::new();
                for (i, p) in s.iter().enumerate() {
                    if let Some(port) = self.port(p, &format!("{path}.ports[{i}]")) {
                        out.push(port);
                    }
                }
                Some(out)
            }
        };
        Some(Rule { peers, ports })
    }

    fn peer(&mut self, v: &Value, path: &str) -> Option<Peer> {
        self.unknown_fields(
            v,
            &["podSelector", "namespaceSelector", "ipBlock"],
            &format!("{path}."),
        );
        if let Some(b) = v.get("ipBlock").filter(|b| !b.is_null()) {
            if v.get("podSelector").is_some() || v.get("namespaceSelector").is_some() {
                self.error(
                    "E0802",
                    format!("`{path}` has `ipBlock` and a selector: a peer is one or the other"),
                    "ipBlock",
                    "ipBlock with a selector",
                );
                return None;
            }
            self.unknown_fields(b, &["cidr", "except"], &format!("{path}.ipBlock."));
            let cidr_text = b.get("cidr").and_then(Value::as_str).unwrap_or("");
            let Some(cidr) = parse_cidr(cidr_text) else {
                self.error(
                    "E0802",
                    format!("`{cidr_text}` is not a CIDR block"),
                    cidr_text,
                    "invalid `cidr`",
                );
                return None;
            };
            let mut except = Vec::new();
            for e in b
                .get("except")
                .and_then(Value::as_sequence)
                .into_iter()
                .flatten()
            {
                let t = e.as_str().unwrap_or("");
                match parse_cidr(t) {
                    Some(n) if cidr.contains(&n) && n.prefix_len() > cidr.prefix_len() => {
                        except.push(n)
                    }
                    Some(_) => self.error(
                        "E0802",
                        format!("`except` block `{t}` is not strictly inside `cidr` `{cidr_text}`"),
                        t,
                        "outside its `cidr`",
                    ),
                    None => self.error(
                        "E0802",
                        format!("`{t}` is not a CIDR block"),
                        t,
                        "invalid `except`",
                    ),
                }
            }
            return Some(Peer::Block { cidr, except });
        }
        let ns = v.get("namespaceSelector").filter(|x| !x.is_null());
        let pods = v.get("podSelector").filter(|x| !x.is_null());
        if ns.is_none() && pods.is_none() {
            self.error(
                "E0802",
                format!("`{path}` is empty: a peer needs `podSelector`, `namespaceSelector` or `ipBlock`"),
                "",
                "empty peer",
            );
            return None;
        }
        let namespaces = match ns {
            Some(n) => Some(self.selector(Some(n), &format!("{path}.namespaceSelector"))?),
            None => None,
        };
        let pods = match pods {
            Some(p) => Some(self.selector(Some(p), &format!("{path}.podSelector"))?),
            None => None,
        };
        Some(Peer::Pods { namespaces, pods })
    }

    fn port(&mut self, v: &Value, path: &str) -> Option<Port> {
        self.unknown_fields(v, &["protocol", "port", "endPort"], &format!("{path}."));
        let proto_text = v.get("protocol").and_then(Value::as_str).unwrap_or("TCP");
        let protocol = match proto_text {
            "TCP" => Protocol::Tcp,
            "UDP" => Protocol::Udp,
            "SCTP" => Protocol::Sctp,
            other => {
                self.error(
                    "E0802",
                    format!("`{other}` is not a protocol (`TCP`, `UDP` or `SCTP`)"),
                    other,
                    "unknown protocol",
                );
                return None;
            }
        };
        let end = v.get("endPort").and_then(Value::as_i64);
        let port = match v.get("port") {
            None | Some(Value::Null) => {
                if end.is_some() {
                    self.error(
                        "E0802",
                        format!("`{path}.endPort` without `port`"),
                        "endPort",
                        "needs a numeric `port`",
                    );
                    return None;
                }
                None
            }
            Some(Value::Number(n)) => {
                let lo = n.as_i64().unwrap_or(0);
                if !(1..=65535).contains(&lo) {
                    self.error(
                        "E0802",
                        format!("port `{lo}` is not between 1 and 65535"),
                        &lo.to_string(),
                        "out of range",
                    );
                    return None;
                }
                let hi = end.unwrap_or(lo);
                if !(lo..=65535).contains(&hi) {
                    self.error(
                        "E0802",
                        format!("`endPort` `{hi}` must be between `port` `{lo}` and 65535"),
                        "endPort",
                        "invalid `endPort`",
                    );
                    return None;
                }
                Some(PortValue::Number(lo as u16, hi as u16))
            }
            Some(Value::String(s)) => {
                if end.is_some() {
                    self.error(
                        "E0802",
                        format!("`endPort` with the named port `{s}`"),
                        "endPort",
                        "`endPort` needs a numeric `port`",
                    );
                    return None;
                }
                if let Ok(n) = s.parse::<u16>() {
                    // an int-or-string written as a string of digits
                    if n == 0 {
                        self.error(
                            "E0802",
                            "port `0` is not between 1 and 65535".into(),
                            s,
                            "out of range",
                        );
                        return None;
                    }
                    Some(PortValue::Number(n, n))
                } else if is_port_name(s) {
                    Some(PortValue::Name(s.clone()))
                } else {
                    self.error(
                        "E0802",
                        format!("`{s}` is not a valid port name"),
                        s,
                        "invalid port name",
                    );
                    return None;
                }
            }
            Some(_) => {
                self.error(
                    "E0802",
                    format!("`{path}.port` must be a number or a name"),
                    "port",
                    "invalid port",
                );
                return None;
            }
        };
        Some(Port { protocol, port })
    }

    fn selector(&mut self, v: Option<&Value>, path: &str) -> Option<Selector> {
        let Some(v) = v.filter(|v| !v.is_null()) else {
            return Some(Selector::default());
        };
        self.unknown_fields(v, &["matchLabels", "matchExpressions"], &format!("{path}."));
        let mut sel = Selector::default();
        let mut ok = true;
        if let Some(m) = v.get("matchLabels").and_then(Value::as_mapping) {
            for (k, val) in m {
                let k = scalar(k);
                let val = scalar(val);
                if !is_label_key(&k) {
                    self.error(
                        "E0802",
                        format!("`{k}` is not a valid label key"),
                        &k,
                        "invalid label key",
                    );
                    ok = false;
                }
                if !is_label_value(&val) {
                    self.error(
                        "E0802",
                        format!("`{val}` is not a valid label value"),
                        &val,
                        "invalid label value",
                    );
                    ok = false;
                }
                sel.labels.insert(k, val);
            }
        }
        for e in v
            .get("matchExpressions")
            .and_then(Value::as_sequence)
            .into_iter()
            .flatten()
        {
            self.unknown_fields(
                e,
                &["key", "operator", "values"],
                &format!("{path}.matchExpressions[]."),
            );
            let key = e.get("key").map(scalar).unwrap_or_default();
            if !is_label_key(&key) {
                self.error(
                    "E0802",
                    format!("`{key}` is not a valid label key"),
                    &key,
                    "invalid label key",
                );
                ok = false;
            }
            let values: Vec<String> = e
                .get("values")
                .and_then(Value::as_sequence)
                .into_iter()
                .flatten()
                .map(scalar)
                .collect();
            for val in &values {
                if !is_label_value(val) {
                    self.error(
                        "E0802",
                        format!("`{val}` is not a valid label value"),
                        val,
                        "invalid label value",
                    );
                    ok = false;
                }
            }
            let op_text = e.get("operator").and_then(Value::as_str).unwrap_or("");
            let op = match op_text {
                "In" => Op::In,
                "NotIn" => Op::NotIn,
                "Exists" => Op::Exists,
                "DoesNotExist" => Op::DoesNotExist,
                other => {
                    self.error(
                        "E0802",
                        format!("`{other}` is not a selector operator (`In`, `NotIn`, `Exists`, `DoesNotExist`)"),
                        other,
                        "unknown operator",
                    );
                    ok = false;
                    continue;
                }
            };
            match op {
                Op::In | Op::NotIn if values.is_empty() => {
                    self.error(
                        "E0802",
                        format!("`{op_text}` on `{key}` with no values"),
                        op_text,
                        "needs values",
                    );
                    ok = false;
                }
                Op::Exists | Op::DoesNotExist if !values.is_empty() => {
                    self.error(
                        "E0802",
                        format!("`{op_text}` on `{key}` with values"),
                        op_text,
                        "takes no values",
                    );
                    ok = false;
                }
                _ => {}
            }
            sel.exprs.push(Expr { key, op, values });
        }
        ok.then_some(sel)
    }
}

/// A scalar as text (label values such as `true` or `1` are read as YAML
/// booleans and numbers by a YAML 1.1 reader; the API server wants strings,
/// and kubectl sends what it read, so they are taken as written).
fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::Null => String::new(),
        _ => String::new(),
    }
}

/// The files named by the `nplc.io/source` annotation of an object that
/// carries nplc's `managed-by` label (`file:line, file:line`), in name
/// order, each once.
fn built_from(meta: &Value) -> Vec<String> {
    let managed = meta
        .get("labels")
        .and_then(|l| l.get(MANAGED_BY.0))
        .and_then(Value::as_str)
        == Some(MANAGED_BY.1);
    if !managed {
        return Vec::new();
    }
    let files: std::collections::BTreeSet<String> = meta
        .get("annotations")
        .and_then(|a| a.get(crate::emit::k8s::SOURCE_ANNOTATION))
        .and_then(Value::as_str)
        .unwrap_or("")
        .split(", ")
        .filter_map(|s| s.trim().rsplit_once(':').map(|(f, _)| f.to_string()))
        .filter(|f| !f.is_empty())
        .collect();
    files.into_iter().collect()
}

fn is_dns1123_subdomain_name(s: &str) -> bool {
    crate::validate::is_dns1123_subdomain(s)
}

/// A CIDR block, host bits cleared (as the API server's parser does).
fn parse_cidr(t: &str) -> Option<IpNet> {
    t.parse::<IpNet>().ok().map(|n| n.trunc())
}

/// Reads the inputs of `nplc import`: a file, a directory searched
/// recursively for `*.yaml`, `*.yml` and `*.json` (hidden entries skipped,
/// files in name order), or `-` for standard input. The message of an
/// error names the path.
/// W0808: the `.npl` files under `dir` (found as `nplc build DIR` finds
/// them) other than the programs an import writes there (`names`, each
/// `DIR/<name>`): a namespace imported before that has no policy now, or
/// a file of the user's; `nplc build DIR` reads them beside the imported
/// programs. Nothing when `dir` does not exist or holds no `.npl` file.
pub fn others_in(dir: &std::path::Path, names: &[&str]) -> Vec<Diagnostic> {
    let Ok((found, _)) = crate::driver::find_inputs(&[dir.to_path_buf()]) else {
        return Vec::new();
    };
    found
        .into_iter()
        .filter(|p| {
            !(p.parent() == Some(dir)
                && p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| names.contains(&n)))
        })
        .map(|p| {
            Diagnostic::warning(
                "W0808",
                format!(
                    "`{}` is in `{}` but this import did not write it: `nplc build {}` reads it too",
                    p.display(),
                    dir.display(),
                    dir.display()
                ),
            )
            .with_help("remove it if it is the program of a namespace that has no NetworkPolicy any more; import into an empty directory to start afresh")
        })
        .collect()
}

pub fn read_paths(paths: &[std::path::PathBuf]) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    for p in paths {
        if p.as_os_str() == "-" {
            let mut text = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
                .map_err(|e| format!("cannot read standard input: {}", crate::diag::io_msg(&e)))?;
            out.push(("<stdin>".to_string(), text));
            continue;
        }
        let mut files = Vec::new();
        collect(p, true, &mut files)?;
        for f in files {
            let text = std::fs::read_to_string(&f).map_err(|e| {
                format!("cannot read `{}`: {}", f.display(), crate::diag::io_msg(&e))
            })?;
            out.push((f.display().to_string(), text));
        }
    }
    Ok(out)
}

fn collect(
    p: &std::path::Path,
    named: bool,
    out: &mut Vec<std::path::PathBuf>,
) -> Result<(), String> {
    let meta = std::fs::metadata(p)
        .map_err(|e| format!("cannot read `{}`: {}", p.display(), crate::diag::io_msg(&e)))?;
    if meta.is_dir() {
        let mut entries: Vec<std::path::PathBuf> = std::fs::read_dir(p)
            .map_err(|e| format!("cannot read `{}`: {}", p.display(), crate::diag::io_msg(&e)))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|e| {
                !e.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with('.'))
            })
            .collect();
        entries.sort();
        for e in entries {
            collect(&e, false, out)?;
        }
    } else if named
        || p.extension()
            .and_then(|x| x.to_str())
            .is_some_and(|x| matches!(x, "yaml" | "yml" | "json"))
    {
        out.push(p.to_path_buf());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(text: &str) -> Read {
        read(&[("in.yaml".to_string(), text.to_string())], None)
    }

    /// The documents of a stream, split line by line: the definition that
    /// [`documents`] computes with a byte search.
    fn documents_by_lines(text: &str) -> Vec<(usize, &str)> {
        let mut out = Vec::new();
        let (mut start, mut at) = (0, 0);
        for line in text.split_inclusive('\n') {
            if line.starts_with("---")
                && (line.len() == 3 || !line.as_bytes()[3].is_ascii_graphic())
            {
                out.push((start, &text[start..at]));
                start = at + line.len();
            }
            at += line.len();
        }
        out.push((start, &text[start..]));
        out
    }

    proptest::proptest! {
        #[test]
        fn documents_are_split_at_separator_lines(
            lines in proptest::collection::vec(
                proptest::sample::select(vec![
                    "---", "--- ", "---\r", "----", "--- # c", "---x", "a: b", "", " ---", "-", "--",
                ]),
                0..12,
            ),
            end in proptest::bool::ANY,
        ) {
            let mut text = lines.join("\n");
            if end {
                text.push('\n');
            }
            proptest::prop_assert_eq!(documents(&text), documents_by_lines(&text));
        }
    }

    #[test]
    fn reads_a_list_and_skips_other_kinds() {
        let r = one("apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: c}\n- apiVersion: networking.k8s.io/v1\n  kind: NetworkPolicy\n  metadata: {name: p, namespace: a}\n  spec:\n    podSelector: {}\n");
        assert_eq!(r.policies.len(), 1);
        assert!(!r.has_errors());
        assert_eq!(r.diagnostics[0].code, "W0805");
        assert!(r.policies[0].ingress_isolated && !r.policies[0].egress_isolated);
    }

    #[test]
    fn api_server_rules_are_errors_with_a_place() {
        let r = one("apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p, namespace: a}\nspec:\n  podSelector: {}\n  bogus: 1\n  ingress:\n  - ports:\n    - port: http\n      endPort: 90\n    from:\n    - ipBlock: {cidr: 10.0.0.0/8, except: [11.0.0.0/16]}\n");
        let codes: Vec<&str> = r.diagnostics.iter().map(|d| d.code).collect();
        assert_eq!(codes, ["E0803", "E0802", "E0802"], "{:?}", r.diagnostics);
        assert!(r.policies.is_empty());
        let s = r.diagnostics[0].primary.unwrap();
        assert_eq!(r.sources.line(s.file, s.start), 6);
    }

    #[test]
    fn documents_read_in_parallel_keep_their_order_and_places() {
        // enough documents for `crate::par` to split them between threads;
        // every seventh has an unknown field, every eleventh is not YAML
        let mut text = String::new();
        let mut want = Vec::new();
        for i in 0..300 {
            if i > 0 {
                text.push_str("---\n");
            }
            let line = text.lines().count() + 1;
            if i % 11 == 0 {
                text.push_str("kind: [unclosed\n");
                want.push(("E0801", line + 1));
                continue;
            }
            text.push_str(&format!(
                "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: p{i}, namespace: n{}}}\nspec:\n  podSelector: {{}}\n",
                i % 5
            ));
            if i % 7 == 0 {
                text.push_str("  bogus: 1\n");
                want.push(("E0803", line + 5));
            }
        }
        let r = one(&text);
        let got: Vec<(&str, usize)> = r
            .diagnostics
            .iter()
            .map(|d| {
                let s = d.primary.unwrap();
                (d.code, r.sources.line(s.file, s.start))
            })
            .collect();
        assert_eq!(got, want);
        let read: Vec<(&str, &str)> = r
            .policies
            .iter()
            .map(|p| (p.namespace.as_str(), p.name.as_str()))
            .collect();
        let mut sorted = read.clone();
        sorted.sort();
        assert_eq!(read, sorted);
        assert_eq!(read.len(), (0..300).filter(|i| i % 11 != 0 && i % 7 != 0).count());
        // each policy's origin is the line of its name
        let p1 = r.policies.iter().find(|p| p.name == "p1").unwrap();
        assert_eq!(p1.origin, "in.yaml:5");
    }

    #[test]
    fn a_policy_without_namespace_needs_one() {
        let t = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p}\nspec: {podSelector: {}}\n";
        assert_eq!(one(t).diagnostics[0].code, "E0804");
        let r = read(&[("x".into(), t.into())], Some("b"));
        assert_eq!(r.policies[0].namespace, "b");
    }
}
