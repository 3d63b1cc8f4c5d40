//! Emit stage, last step: a NetworkPolicy object to YAML text. Input: one
//! `NetworkPolicy` as `emit::k8s` builds it. Output: block YAML in the
//! layout that libyaml (and so `serde_yaml`) writes, with every string
//! quoted by one rule of nplc's own, [`needs_quotes`], so that YAML 1.1 and
//! YAML 1.2 readers read the same strings back.
//!
//! # Quoting
//!
//! kubectl and the API machinery read manifests with sigs.k8s.io/yaml, that
//! is go-yaml v2, and kubernetes-validate and most Python tools with PyYAML:
//! both YAML 1.1, where a plain `on`, `y` or `No` is a boolean, `1_000`,
//! `0b1`, `017` and `1:20` are integers, `2001-12-14` is a timestamp, `=`
//! and `<<` are the value and merge keys. `serde_yaml` knows only YAML 1.2
//! and writes all of these plain. Here a string is written plain only when
//! [`needs_quotes`] is false, and it is true when
//!
//! - the string cannot be a plain scalar: it is empty; it has a character
//!   that is not printable on its own (a tab or other control character, a
//!   line break, U+0085, U+2028, U+2029, a byte-order mark); it starts or
//!   ends with a space; it holds `: ` or ` #` or ends with `:`; it starts
//!   with `---` or `...`; or it starts with an indicator (one of
//!   ``#,[]{}&*!|>'"%@` ``, or `-`, `?`, `:` not followed by a non-space);
//! - or some YAML 1.1 or 1.2 reader could resolve it to something other than
//!   a string: `y n yes no on off true false null` in any case, `~`, `=`,
//!   `<<`; `inf`, `nan` or `infinity` in any case, after any leading `+`,
//!   `-`, `_` and an optional `.`; and every string that, after those
//!   leading characters, starts with a digit or with `.` and a digit, and
//!   is made only of digits, `a`-`f`, `o`, `t`, `x`, `z` (either case),
//!   `_ . , : + -` and spaces. That last class holds every integer (any base, `_`,
//!   sexagesimal), float and timestamp of go-yaml v2, PyYAML and the YAML
//!   1.2 core schema. It is wider than they are (`1.2.3` or `1-2` is quoted,
//!   which is safe); `10.0.0.0/8`, `1team` and `fd00::/8` stay plain.
//!
//! A string that needs quotes is single-quoted (a `'` inside doubled) when
//! it is one line of printable characters, written as a `|-` literal block
//! when it is several such lines that a block holds verbatim (none empty,
//! none starting or ending with a space), and double-quoted with escapes
//! otherwise. The rule is the same for every scalar: mapping keys and
//! values, sequence items, names, annotations, label keys and values. A
//! string that no reader takes for anything else is written byte for byte
//! as `serde_yaml` writes it; only the YAML 1.1 lookalikes, which
//! `serde_yaml` would leave plain, differ.
//!
//! # Two ways to the same text
//!
//! Serializing through serde and libyaml's event emitter was the largest
//! single cost of a build (docs/performance.md), so the fast path builds a
//! tree of borrowed fields straight from the object, in the order
//! k8s-openapi serializes them, and writes it: two-space indentation,
//! sequences in a mapping not indented, `[]` and `{}` for empty
//! collections, no line width, and a key longer than 128 bytes (or of
//! several lines) as an explicit `? key` / `: value` pair, as libyaml does.
//! An object with a field nplc never sets takes [`reference()`] instead:
//! k8s-openapi's own serializer into a `serde_yaml::Value`, written by the
//! same writer. Tests check that both give the same text on generated
//! corpora (the corpus tool's self-test), on the property-test programs
//! (tests/it/props.rs) and on the unit tests' objects, read the text back
//! with `serde_yaml`, check every plain scalar in it against models of
//! the YAML 1.1 and 1.2 resolvers, and compare it with `serde_yaml`'s own
//! text where no YAML 1.1 lookalike is involved; scripts/crosscheck reads
//! it with PyYAML.

use k8s_openapi::api::networking::v1 as net;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// The YAML text of a NetworkPolicy.
pub fn to_yaml(np: &net::NetworkPolicy) -> String {
    let mut out = String::with_capacity(1024);
    write_yaml(np, &mut out);
    out
}

/// Appends the YAML text of a NetworkPolicy to `out` (the same bytes as
/// [`to_yaml`]), so that a caller can reuse one buffer for many objects.
pub fn write_yaml(np: &net::NetworkPolicy, out: &mut String) {
    match fast(np) {
        Some(tree) => write_doc(out, &tree),
        None => out.push_str(&reference(np)),
    }
}

/// The slow path, and the reference the fast path must equal: the object
/// as k8s-openapi serializes it (field names, order, omitted fields) into a
/// `serde_yaml::Value`, written by the same writer and quoting rule.
#[allow(clippy::expect_used)] // see the INVARIANT comments
pub fn reference(np: &net::NetworkPolicy) -> String {
    // INVARIANT: a NetworkPolicy is plain data (strings, integers, lists,
    // maps with string keys), so serializing it into a Value cannot fail.
    let value = serde_yaml::to_value(np).expect("NetworkPolicy serializes"); // INVARIANT: see above
                                                                             // INVARIANT: k8s-openapi serializes structs and `BTreeMap<String, _>`
                                                                             // (and `FieldsV1`, JSON) only: every mapping key is a string and no
                                                                             // value is tagged, which is all `from_value` refuses.
    let tree = from_value(&value).expect("string keys, no tags"); // INVARIANT: see above
    let mut out = String::with_capacity(1024);
    write_doc(&mut out, &tree);
    out
}

/// Appends a `serde_yaml::Value` as one YAML document, in the layout and
/// with the quoting rule of this module (the cilium target's objects,
/// `emit::cilium`). Returns false, writing nothing, for a value with a
/// non-string mapping key or a tag, which no emitted object has.
pub fn write_value(v: &serde_yaml::Value, out: &mut String) -> bool {
    match from_value(v) {
        Some(tree) => {
            write_doc(out, &tree);
            true
        }
        None => false,
    }
}

/// Appends `s` as one YAML scalar (plain or quoted by [`needs_quotes`]);
/// a `|-` block, should `s` have several lines, is indented by `indent`.
/// For YAML that other modules write by hand (the kustomization).
pub fn push_scalar(out: &mut String, s: &str, indent: usize) {
    write_str(out, s, indent);
}

/// Whether `s` must be quoted: it cannot be a plain scalar, or a YAML 1.1
/// or 1.2 reader could read it as something other than the string `s`. The
/// rule is in the module documentation.
pub fn needs_quotes(s: &str) -> bool {
    !plain_form(s) || resolves_elsewhere(s)
}

/// A YAML tree with borrowed scalars, in the field order of k8s-openapi.
enum Node<'a> {
    Str(&'a str),
    Int(i32),
    /// from a `serde_yaml::Value` (the reference path) only
    Num(&'a serde_yaml::Number),
    Bool(bool),
    Null,
    Map(Vec<(&'a str, Node<'a>)>),
    Seq(Vec<Node<'a>>),
}

/// The tree of the object, or `None` when it has a field nplc never sets.
fn fast(np: &net::NetworkPolicy) -> Option<Node<'_>> {
    Some(fields([
        ("apiVersion", Some(Node::Str("networking.k8s.io/v1"))),
        ("kind", Some(Node::Str("NetworkPolicy"))),
        ("metadata", Some(meta(&np.metadata)?)),
        ("spec", np.spec.as_ref().map(spec_node)),
    ]))
}

/// The tree of a `serde_yaml::Value`; `None` for a non-string mapping key
/// or a tagged value.
fn from_value(v: &serde_yaml::Value) -> Option<Node<'_>> {
    use serde_yaml::Value as V;
    Some(match v {
        V::Null => Node::Null,
        V::Bool(b) => Node::Bool(*b),
        V::Number(n) => Node::Num(n),
        V::String(s) => Node::Str(s),
        V::Sequence(items) => Node::Seq(items.iter().map(from_value).collect::<Option<_>>()?),
        V::Mapping(m) => Node::Map(
            m.iter()
                .map(|(k, v)| Some((k.as_str()?, from_value(v)?)))
                .collect::<Option<_>>()?,
        ),
        V::Tagged(_) => return None,
    })
}

fn meta(m: &ObjectMeta) -> Option<Node<'_>> {
    // the fields nplc sets; any other means this writer was not updated
    // (every field is named, so a new k8s-openapi field fails to compile)
    let ObjectMeta {
        annotations,
        labels,
        name,
        namespace,
        creation_timestamp: None,
        deletion_grace_period_seconds: None,
        deletion_timestamp: None,
        finalizers: None,
        generate_name: None,
        generation: None,
        managed_fields: None,
        owner_references: None,
        resource_version: None,
        self_link: None,
        uid: None,
    } = m
    else {
        return None;
    };
    Some(fields([
        ("annotations", annotations.as_ref().map(string_map)),
        ("labels", labels.as_ref().map(string_map)),
        ("name", name.as_deref().map(Node::Str)),
        ("namespace", namespace.as_deref().map(Node::Str)),
    ]))
}

fn string_map(m: &BTreeMap<String, String>) -> Node<'_> {
    Node::Map(m.iter().map(|(k, v)| (k.as_str(), Node::Str(v))).collect())
}

fn strs(v: &[String]) -> Node<'_> {
    Node::Seq(v.iter().map(|s| Node::Str(s)).collect())
}

/// A mapping of the fields that are set, in the order given.
fn fields<'a, const N: usize>(fs: [(&'a str, Option<Node<'a>>); N]) -> Node<'a> {
    Node::Map(fs.into_iter().filter_map(|(k, v)| Some((k, v?))).collect())
}

fn egress(r: &net::NetworkPolicyEgressRule) -> Node<'_> {
    fields([
        ("ports", r.ports.as_deref().map(ports)),
        ("to", r.to.as_deref().map(peers)),
    ])
}

fn ingress(r: &net::NetworkPolicyIngressRule) -> Node<'_> {
    fields([
        ("from", r.from.as_deref().map(peers)),
        ("ports", r.ports.as_deref().map(ports)),
    ])
}

fn spec_node(s: &net::NetworkPolicySpec) -> Node<'_> {
    fields([
        (
            "egress",
            s.egress
                .as_ref()
                .map(|rs| Node::Seq(rs.iter().map(egress).collect())),
        ),
        (
            "ingress",
            s.ingress
                .as_ref()
                .map(|rs| Node::Seq(rs.iter().map(ingress).collect())),
        ),
        ("podSelector", s.pod_selector.as_ref().map(selector)),
        ("policyTypes", s.policy_types.as_deref().map(strs)),
    ])
}

fn peers(ps: &[net::NetworkPolicyPeer]) -> Node<'_> {
    Node::Seq(
        ps.iter()
            .map(|p| {
                fields([
                    (
                        "ipBlock",
                        p.ip_block.as_ref().map(|b| {
                            fields([
                                ("cidr", Some(Node::Str(&b.cidr))),
                                ("except", b.except.as_deref().map(strs)),
                            ])
                        }),
                    ),
                    (
                        "namespaceSelector",
                        p.namespace_selector.as_ref().map(selector),
                    ),
                    ("podSelector", p.pod_selector.as_ref().map(selector)),
                ])
            })
            .collect(),
    )
}

fn ports(ps: &[net::NetworkPolicyPort]) -> Node<'_> {
    Node::Seq(
        ps.iter()
            .map(|p| {
                let port = p.port.as_ref().map(|port| match port {
                    IntOrString::Int(n) => Node::Int(*n),
                    IntOrString::String(s) => Node::Str(s),
                });
                fields([
                    ("endPort", p.end_port.map(Node::Int)),
                    ("port", port),
                    ("protocol", p.protocol.as_deref().map(Node::Str)),
                ])
            })
            .collect(),
    )
}

fn selector(s: &LabelSelector) -> Node<'_> {
    let exprs = s.match_expressions.as_ref().map(|es| {
        Node::Seq(
            es.iter()
                .map(|e| {
                    fields([
                        ("key", Some(Node::Str(&e.key))),
                        ("operator", Some(Node::Str(&e.operator))),
                        ("values", e.values.as_deref().map(strs)),
                    ])
                })
                .collect(),
        )
    });
    fields([
        ("matchExpressions", exprs),
        ("matchLabels", s.match_labels.as_ref().map(string_map)),
    ])
}

/// libyaml writes a longer key (or one of several lines) as `? key`.
const SIMPLE_KEY_MAX: usize = 128;

fn indent(out: &mut String, n: usize) {
    out.extend(std::iter::repeat_n(' ', n));
}

fn write_doc(out: &mut String, n: &Node) {
    match n {
        Node::Map(m) if m.is_empty() => out.push_str("{}\n"),
        Node::Seq(s) if s.is_empty() => out.push_str("[]\n"),
        Node::Map(m) => write_map(out, m, 0, false),
        Node::Seq(s) => write_seq(out, s, 0, false),
        scalar => {
            write_scalar(out, scalar, 2);
            out.push('\n');
        }
    }
}

/// Entries of a block mapping at column `col`; when `inline`, the first
/// entry continues a `- ` already written.
fn write_map(out: &mut String, entries: &[(&str, Node)], col: usize, inline: bool) {
    for (i, (k, v)) in entries.iter().enumerate() {
        if i > 0 || !inline {
            indent(out, col);
        }
        let multi_line =
            k.bytes().any(|c| c == b'\n' || c == b'\r' || c >= 0x80) && k.contains(is_break);
        if k.len() <= SIMPLE_KEY_MAX && !multi_line {
            write_str(out, k, col + 2);
        } else {
            out.push_str("? ");
            write_str(out, k, col + 2);
            out.push('\n');
            indent(out, col);
        }
        out.push(':');
        match v {
            Node::Map(m) if m.is_empty() => out.push_str(" {}\n"),
            Node::Seq(s) if s.is_empty() => out.push_str(" []\n"),
            Node::Map(m) => {
                out.push('\n');
                write_map(out, m, col + 2, false);
            }
            // a sequence in a mapping is not indented
            Node::Seq(s) => {
                out.push('\n');
                write_seq(out, s, col, false);
            }
            scalar => {
                out.push(' ');
                write_scalar(out, scalar, col + 2);
                out.push('\n');
            }
        }
    }
}

/// Items of a block sequence at column `col`; when `inline`, the first item
/// continues a `- ` already written.
fn write_seq(out: &mut String, items: &[Node], col: usize, inline: bool) {
    for (i, item) in items.iter().enumerate() {
        if i > 0 || !inline {
            indent(out, col);
        }
        out.push_str("- ");
        match item {
            Node::Map(m) if m.is_empty() => out.push_str("{}\n"),
            Node::Seq(s) if s.is_empty() => out.push_str("[]\n"),
            Node::Map(m) => write_map(out, m, col + 2, true),
            Node::Seq(s) => write_seq(out, s, col + 2, true),
            scalar => {
                write_scalar(out, scalar, col + 2);
                out.push('\n');
            }
        }
    }
}

/// A scalar, without the line end; the lines of a `|-` block are indented
/// by `block`.
fn write_scalar(out: &mut String, n: &Node, block: usize) {
    match n {
        Node::Str(s) => write_str(out, s, block),
        Node::Int(i) => {
            let _ = write!(out, "{i}");
        }
        // `serde_yaml`'s own spelling: `.inf`, `-.inf`, `.nan`, `1.0`
        Node::Num(n) => {
            let _ = write!(out, "{n}");
        }
        Node::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Node::Null => out.push_str("null"),
        // INVARIANT: write_doc, write_map and write_seq write collections
        // themselves and pass only scalars here.
        Node::Map(_) | Node::Seq(_) => unreachable!("a collection is not a scalar"),
    }
}

/// A string scalar by the quoting rule (module documentation).
fn write_str(out: &mut String, s: &str, block: usize) {
    if !needs_quotes(s) {
        out.push_str(s);
    } else if s.chars().all(plain_char) {
        out.push('\'');
        for (i, part) in s.split('\'').enumerate() {
            if i > 0 {
                out.push_str("''");
            }
            out.push_str(part);
        }
        out.push('\'');
    } else if literal(s) {
        out.push_str("|-");
        for line in s.split('\n') {
            out.push('\n');
            indent(out, block);
            out.push_str(line);
        }
    } else {
        write_double_quoted(out, s);
    }
}

/// `s` double-quoted, with libyaml's escapes (all of them YAML 1.1 escapes
/// too) for every character that is not printable on its own.
fn write_double_quoted(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\0' => out.push_str("\\0"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\u{b}' => out.push_str("\\v"),
            '\u{c}' => out.push_str("\\f"),
            '\r' => out.push_str("\\r"),
            '\u{1b}' => out.push_str("\\e"),
            '\u{85}' => out.push_str("\\N"),
            '\u{2028}' => out.push_str("\\L"),
            '\u{2029}' => out.push_str("\\P"),
            c if plain_char(c) => out.push(c),
            c if (c as u32) <= 0xff => {
                let _ = write!(out, "\\x{:02X}", c as u32);
            }
            c if (c as u32) <= 0xffff => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => {
                let _ = write!(out, "\\U{:08X}", c as u32);
            }
        }
    }
    out.push('"');
}

/// A line break to a YAML 1.1 or 1.2 reader.
fn is_break(c: char) -> bool {
    matches!(c, '\n' | '\r' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

/// A character that may stand as itself in a plain or single-quoted
/// scalar: printable ASCII, or a printable non-ASCII character that no
/// YAML version reads as a line break and that is not a byte-order mark.
fn plain_char(c: char) -> bool {
    matches!(c, ' '..='~')
        || (c >= '\u{a0}'
            && !matches!(
                c,
                '\u{2028}' | '\u{2029}' | '\u{feff}' | '\u{fffe}' | '\u{ffff}'
            ))
}

/// Whether `s` can be a plain scalar in block context at all (the first
/// half of the rule: characters, spaces, indicators). One pass over the
/// bytes of an ASCII string: this runs for every key and value.
fn plain_form(s: &str) -> bool {
    let b = s.as_bytes();
    let (Some(&first), Some(&last)) = (b.first(), b.last()) else {
        return false;
    };
    if first == b' ' || last == b' ' || last == b':' {
        return false;
    }
    let mut prev = 0;
    for &c in b {
        if !(0x20..=0x7e).contains(&c) {
            // not ASCII, or a control character
            if !s.chars().all(plain_char) || s.contains(": ") || s.contains(" #") {
                return false;
            }
            break;
        }
        // `: ` would end a key, ` #` start a comment
        if (c == b' ' && prev == b':') || (c == b'#' && prev == b' ') {
            return false;
        }
        prev = c;
    }
    if s.starts_with("---") || s.starts_with("...") {
        return false;
    }
    match first {
        b'#' | b',' | b'[' | b']' | b'{' | b'}' | b'&' | b'*' | b'!' | b'|' | b'>' | b'\''
        | b'"' | b'%' | b'@' | b'`' => false,
        b'-' | b'?' | b':' => b.len() > 1 && b[1] != b' ',
        _ => true,
    }
}

/// Whether some YAML 1.1 or 1.2 reader could resolve the plain scalar `s`
/// to something other than a string (the second half of the rule). The
/// first byte rules out most strings at once.
fn resolves_elsewhere(s: &str) -> bool {
    const WORDS: [&str; 9] = ["y", "n", "yes", "no", "on", "off", "true", "false", "null"];
    let b = s.as_bytes();
    let Some(&first) = b.first() else {
        return true;
    };
    match first {
        b'~' => return s == "~",
        b'<' => return s == "<<",
        b'=' => return s == "=",
        b'y' | b'Y' | b'n' | b'N' | b'o' | b'O' | b't' | b'T' | b'f' | b'F'
            if b.len() <= 5 && WORDS.iter().any(|w| s.eq_ignore_ascii_case(w)) =>
        {
            return true
        }
        b'+' | b'-' | b'_' | b'.' | b'0'..=b'9' | b'i' | b'I' | b'n' | b'N' => {}
        _ => return false,
    }
    let t = s.trim_start_matches(['+', '-', '_']);
    let u = t.strip_prefix('.').unwrap_or(t);
    if ["inf", "nan", "infinity"]
        .iter()
        .any(|w| u.eq_ignore_ascii_case(w))
    {
        return true;
    }
    let number_start = match t.as_bytes() {
        [d, ..] if d.is_ascii_digit() => true,
        [b'.', d, ..] => d.is_ascii_digit(),
        _ => false,
    };
    number_start
        && b.iter().all(|&c| {
            c.is_ascii_hexdigit()
                || matches!(
                    c,
                    b'o' | b'O'
                        | b't'
                        | b'T'
                        | b'x'
                        | b'X'
                        | b'z'
                        | b'Z'
                        | b'_'
                        | b'.'
                        | b','
                        | b':'
                        | b'+'
                        | b'-'
                        | b' '
                )
        })
}

/// Whether a `|-` literal block holds the multi-line `s` verbatim, as
/// libyaml writes it: lines of printable characters, none empty and none
/// starting or ending with a space (so no indentation indicator), and no
/// line break at the end (so the `-` chomping indicator).
fn literal(s: &str) -> bool {
    s.contains('\n')
        && s.split('\n').all(|l| {
            !l.is_empty() && !l.starts_with(' ') && !l.ends_with(' ') && l.chars().all(plain_char)
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{
        FieldsV1, LabelSelectorRequirement, ManagedFieldsEntry,
    };
    use proptest::prelude::*;
    use serde_yaml::Value;

    // ---- models of the readers ------------------------------------------
    //
    // Hand-written from the sources: PyYAML's implicit resolvers
    // (lib/yaml/resolver.py), go-yaml v2's `resolve` (resolve.go, the copy
    // in sigs.k8s.io/yaml's goyaml.v2), and the YAML 1.2 core schema
    // (spec 1.2.2, 10.3.2). Each returns the tag a plain scalar gets.

    /// A cursor over a scalar's bytes, for the patterns.
    struct Cur<'a> {
        b: &'a [u8],
        i: usize,
    }

    impl<'a> Cur<'a> {
        fn new(s: &'a str) -> Self {
            Cur {
                b: s.as_bytes(),
                i: 0,
            }
        }
        fn peek(&self) -> Option<u8> {
            self.b.get(self.i).copied()
        }
        fn eat(&mut self, f: impl Fn(u8) -> bool) -> bool {
            match self.peek() {
                Some(c) if f(c) => {
                    self.i += 1;
                    true
                }
                _ => false,
            }
        }
        fn byte(&mut self, c: u8) -> bool {
            self.eat(|x| x == c)
        }
        fn many(&mut self, f: impl Fn(u8) -> bool) -> usize {
            let start = self.i;
            while self.eat(&f) {}
            self.i - start
        }
        fn word(&mut self, words: &[&str]) -> bool {
            let rest = &self.b[self.i..];
            match words.iter().find(|w| rest.starts_with(w.as_bytes())) {
                Some(w) => {
                    self.i += w.len();
                    true
                }
                None => false,
            }
        }
        fn sign(&mut self) -> bool {
            self.eat(|c| c == b'+' || c == b'-')
        }
        fn end(&self) -> bool {
            self.i == self.b.len()
        }
        /// `(:[0-5]?[0-9])+`
        fn sexagesimal(&mut self) -> bool {
            let mut groups = 0;
            while self.byte(b':') {
                let start = self.i;
                match self.many(digit) {
                    1 => {}
                    2 if self.b[start] <= b'5' => {}
                    _ => return false,
                }
                groups += 1;
            }
            groups > 0
        }
        /// `([eE][-+][0-9]+)?` (`sign_needed`) or `([eE][-+]?[0-9]+)?`
        fn exponent(&mut self, sign_needed: bool) {
            let save = self.i;
            let ok = self.eat(|c| c == b'e' || c == b'E')
                && (self.sign() || !sign_needed)
                && self.many(digit) > 0;
            if !ok {
                self.i = save;
            }
        }
    }

    fn digit(c: u8) -> bool {
        c.is_ascii_digit()
    }
    fn digit_(c: u8) -> bool {
        c.is_ascii_digit() || c == b'_'
    }
    /// Whether any of the alternatives matches all of `s`.
    /// `[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?`: the decimal
    /// float both go-yaml v2 and the YAML 1.2 core schema read.
    fn decimal_float(c: &mut Cur) -> bool {
        c.sign();
        let mantissa = (c.byte(b'.') && c.many(digit) > 0)
            || (c.many(digit) > 0 && {
                if c.byte(b'.') {
                    c.many(digit);
                }
                true
            });
        mantissa && {
            c.exponent(false);
            true
        }
    }

    fn any_of(s: &str, alts: &[fn(&mut Cur) -> bool]) -> bool {
        alts.iter().any(|alt| {
            let mut c = Cur::new(s);
            alt(&mut c) && c.end()
        })
    }

    fn pyyaml_tag(s: &str) -> &'static str {
        const BOOLS: [&str; 18] = [
            "yes", "Yes", "YES", "no", "No", "NO", "true", "True", "TRUE", "false", "False",
            "FALSE", "on", "On", "ON", "off", "Off", "OFF",
        ];
        let float = any_of(
            s,
            &[
                |c| {
                    c.sign();
                    c.eat(digit)
                        && {
                            c.many(digit_);
                            c.byte(b'.')
                        }
                        && {
                            c.many(digit_);
                            c.exponent(true);
                            true
                        }
                },
                |c| {
                    c.byte(b'.') && c.eat(digit) && {
                        c.many(digit_);
                        c.exponent(true);
                        true
                    }
                },
                |c| {
                    c.sign();
                    c.eat(digit)
                        && {
                            c.many(digit_);
                            c.sexagesimal()
                        }
                        && c.byte(b'.')
                        && {
                            c.many(digit_);
                            true
                        }
                },
                |c| {
                    c.sign();
                    c.byte(b'.') && c.word(&["inf", "Inf", "INF"])
                },
                |c| c.byte(b'.') && c.word(&["nan", "NaN", "NAN"]),
            ],
        );
        let int = any_of(
            s,
            &[
                |c| {
                    c.sign();
                    c.word(&["0b"]) && c.many(|x| matches!(x, b'0' | b'1' | b'_')) > 0
                },
                |c| {
                    c.sign();
                    c.byte(b'0') && c.many(|x| matches!(x, b'0'..=b'7' | b'_')) > 0
                },
                |c| {
                    c.sign();
                    c.byte(b'0')
                },
                |c| {
                    c.sign();
                    c.eat(|x| matches!(x, b'1'..=b'9')) && {
                        c.many(digit_);
                        true
                    }
                },
                |c| {
                    c.sign();
                    c.word(&["0x"]) && c.many(|x| x.is_ascii_hexdigit() || x == b'_') > 0
                },
                |c| {
                    c.sign();
                    c.eat(|x| matches!(x, b'1'..=b'9')) && {
                        c.many(digit_);
                        c.sexagesimal()
                    }
                },
            ],
        );
        let timestamp = any_of(
            s,
            &[
                |c| {
                    c.many(digit) == 4
                        && c.byte(b'-')
                        && c.many(digit) == 2
                        && c.byte(b'-')
                        && c.many(digit) == 2
                },
                |c| {
                    let blank = |x| x == b' ' || x == b'\t';
                    let one_or_two = |c: &mut Cur| (1..=2).contains(&c.many(digit));
                    let ok = c.many(digit) == 4
                        && c.byte(b'-')
                        && one_or_two(c)
                        && c.byte(b'-')
                        && one_or_two(c)
                        && (c.eat(|x| x == b'T' || x == b't') || c.many(blank) > 0)
                        && one_or_two(c)
                        && c.byte(b':')
                        && c.many(digit) == 2
                        && c.byte(b':')
                        && c.many(digit) == 2;
                    if !ok {
                        return false;
                    }
                    if c.byte(b'.') {
                        c.many(digit);
                    }
                    let save = c.i;
                    c.many(blank);
                    let zone = c.byte(b'Z')
                        || (c.sign() && one_or_two(c) && {
                            let save = c.i;
                            if !(c.byte(b':') && c.many(digit) == 2) {
                                c.i = save;
                            }
                            true
                        });
                    if !zone {
                        c.i = save;
                    }
                    true
                },
            ],
        );
        if BOOLS.contains(&s) {
            "bool"
        } else if float {
            "float"
        } else if int {
            "int"
        } else if s == "<<" {
            "merge"
        } else if matches!(s, "~" | "null" | "Null" | "NULL" | "") {
            "null"
        } else if timestamp {
            "timestamp"
        } else if s == "=" {
            "value"
        } else {
            "str"
        }
    }

    /// Go's `strconv.ParseInt(s, 0, 64)` syntax (the range aside: go-yaml
    /// v2 reads a larger integer as a big.Int or a float).
    fn go_int(s: &str) -> bool {
        let u = s.strip_prefix(['+', '-']).unwrap_or(s);
        let b = u.as_bytes();
        let (digits, radix) = match b {
            [b'0', p, _, ..] if p.eq_ignore_ascii_case(&b'x') => (&u[2..], 16),
            [b'0', p, _, ..] if p.eq_ignore_ascii_case(&b'b') => (&u[2..], 2),
            [b'0', p, _, ..] if p.eq_ignore_ascii_case(&b'o') => (&u[2..], 8),
            [b'0', ..] => (&u[1..], 8),
            [_, ..] => (u, 10),
            [] => return false,
        };
        digits.chars().all(|c| c.is_digit(radix))
    }

    /// go-yaml v2's `yamlStyleFloat`, and a finite value (`ParseFloat`
    /// fails on overflow).
    fn go_yaml_float(s: &str) -> bool {
        any_of(s, &[decimal_float]) && s.parse::<f64>().is_ok_and(f64::is_finite)
    }

    /// go-yaml v2's `parseTimestamp`: `YYYY-` first, then one of its
    /// time.Parse layouts (months 1-12 and days 1-31 checked, the days of
    /// a month not).
    fn go_timestamp(s: &str) -> bool {
        let b = s.as_bytes();
        if b.len() < 5 || !b[..4].iter().all(u8::is_ascii_digit) || b[4] != b'-' {
            return false;
        }
        let mut c = Cur::new(s);
        c.i = 5;
        let num = |c: &mut Cur, lo: u32, hi: u32| -> bool {
            let start = c.i;
            let n = c.many(digit);
            (1..=2).contains(&n)
                && std::str::from_utf8(&c.b[start..c.i])
                    .ok()
                    .and_then(|t| t.parse::<u32>().ok())
                    .is_some_and(|v| (lo..=hi).contains(&v))
        };
        if !(num(&mut c, 1, 12) && c.byte(b'-') && num(&mut c, 1, 31)) {
            return false;
        }
        if c.end() {
            return true;
        }
        let sep = c.peek();
        if !(c.eat(|x| matches!(x, b'T' | b't' | b' '))
            && num(&mut c, 0, 23)
            && c.byte(b':')
            && num(&mut c, 0, 59)
            && c.byte(b':')
            && num(&mut c, 0, 59))
        {
            return false;
        }
        let save = c.i;
        if !(c.eat(|x| x == b'.' || x == b',') && c.many(digit) > 0) {
            c.i = save;
        }
        if sep == Some(b' ') {
            return c.end();
        }
        let zone =
            c.byte(b'Z') || (c.sign() && c.many(digit) == 2 && c.byte(b':') && c.many(digit) == 2);
        zone && c.end()
    }

    fn goyaml_v2_tag(s: &str) -> &'static str {
        let hint = match s.as_bytes().first() {
            None => b'N',
            Some(b'+' | b'-') => b'S',
            Some(c) if c.is_ascii_digit() => b'D',
            Some(c) if b"yYnNtTfFoO~".contains(c) => b'M',
            Some(b'.') => b'.',
            // `<<` resolves as a string, but the decoder takes a plain `<<`
            // key for a merge key all the same (isMerge, decode.go)
            _ if s == "<<" => return "merge",
            _ => return "str",
        };
        match s {
            "y" | "Y" | "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON"
            | "n" | "N" | "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off"
            | "OFF" => return "bool",
            "" | "~" | "null" | "Null" | "NULL" => return "null",
            ".nan" | ".NaN" | ".NAN" | ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF"
            | "-.inf" | "-.Inf" | "-.INF" => return "float",
            _ => {}
        }
        match hint {
            b'.' => {
                let dot_float = any_of(
                    s,
                    &[|c| {
                        c.byte(b'.') && c.many(digit) > 0 && {
                            c.exponent(false);
                            true
                        }
                    }],
                );
                if dot_float && s.parse::<f64>().is_ok_and(f64::is_finite) {
                    "float"
                } else {
                    "str"
                }
            }
            b'D' | b'S' => {
                if go_timestamp(s) {
                    return "timestamp";
                }
                let plain: String = s.chars().filter(|&c| c != '_').collect();
                // after ParseInt and the float pattern: ParseInt(rest, 2)
                // of what follows `0b` (a sign allowed) or `-0b`
                let binary = |r: &str| !r.is_empty() && r.bytes().all(|b| b == b'0' || b == b'1');
                if go_int(&plain) {
                    "int"
                } else if go_yaml_float(&plain) {
                    "float"
                } else if plain
                    .strip_prefix("0b")
                    .is_some_and(|r| binary(r.strip_prefix(['+', '-']).unwrap_or(r)))
                    || plain.strip_prefix("-0b").is_some_and(binary)
                {
                    "int"
                } else {
                    "str"
                }
            }
            _ => "str",
        }
    }

    fn core12_tag(s: &str) -> &'static str {
        if matches!(s, "null" | "Null" | "NULL" | "~" | "") {
            return "null";
        }
        if matches!(s, "true" | "True" | "TRUE" | "false" | "False" | "FALSE") {
            return "bool";
        }
        let int = any_of(
            s,
            &[
                |c| {
                    c.sign();
                    c.many(digit) > 0
                },
                |c| c.word(&["0o"]) && c.many(|x| matches!(x, b'0'..=b'7')) > 0,
                |c| c.word(&["0x"]) && c.many(|x| x.is_ascii_hexdigit()) > 0,
            ],
        );
        if int {
            return "int";
        }
        let float = any_of(
            s,
            &[
                decimal_float,
                |c| {
                    c.sign();
                    c.byte(b'.') && c.word(&["inf", "Inf", "INF"])
                },
                |c| c.byte(b'.') && c.word(&["nan", "NaN", "NAN"]),
            ],
        );
        if float {
            "float"
        } else {
            "str"
        }
    }

    /// Whether every reader reads the plain scalar `s` as the string `s`:
    /// the three models, and `serde_yaml` itself.
    fn reads_as_itself(s: &str) -> bool {
        pyyaml_tag(s) == "str"
            && goyaml_v2_tag(s) == "str"
            && core12_tag(s) == "str"
            && serde_yaml::from_str::<Value>(s).ok() == Some(Value::String(s.to_string()))
    }

    /// (scalar, PyYAML, go-yaml v2, YAML 1.2 core). The PyYAML column is
    /// what PyYAML 6.0.2 `safe_load` gives (checked with it), the go-yaml
    /// column read off resolve.go.
    const KNOWN: &[(&str, &str, &str, &str)] = &[
        ("y", "str", "bool", "str"),
        ("Y", "str", "bool", "str"),
        ("yes", "bool", "bool", "str"),
        ("Yes", "bool", "bool", "str"),
        ("YES", "bool", "bool", "str"),
        ("n", "str", "bool", "str"),
        ("N", "str", "bool", "str"),
        ("no", "bool", "bool", "str"),
        ("No", "bool", "bool", "str"),
        ("NO", "bool", "bool", "str"),
        ("on", "bool", "bool", "str"),
        ("On", "bool", "bool", "str"),
        ("ON", "bool", "bool", "str"),
        ("off", "bool", "bool", "str"),
        ("Off", "bool", "bool", "str"),
        ("OFF", "bool", "bool", "str"),
        ("true", "bool", "bool", "bool"),
        ("True", "bool", "bool", "bool"),
        ("TRUE", "bool", "bool", "bool"),
        ("false", "bool", "bool", "bool"),
        ("False", "bool", "bool", "bool"),
        ("FALSE", "bool", "bool", "bool"),
        ("tRue", "str", "str", "str"),
        ("yEs", "str", "str", "str"),
        ("~", "null", "null", "null"),
        ("null", "null", "null", "null"),
        ("Null", "null", "null", "null"),
        ("NULL", "null", "null", "null"),
        ("nULL", "str", "str", "str"),
        ("", "null", "null", "null"),
        ("1_000", "int", "int", "str"),
        ("1__0", "int", "int", "str"),
        ("1_", "int", "int", "str"),
        ("0_", "int", "int", "str"),
        ("_1", "str", "str", "str"),
        ("-_1", "str", "int", "str"),
        ("0b1", "int", "int", "str"),
        ("0b1_0", "int", "int", "str"),
        ("-0b1", "int", "int", "str"),
        ("0b", "str", "str", "str"),
        ("0b2", "str", "str", "str"),
        ("0b-1", "str", "int", "str"),
        ("0b+1", "str", "int", "str"),
        ("0o17", "str", "int", "int"),
        ("0o", "str", "str", "str"),
        ("0o8", "str", "str", "str"),
        ("017", "int", "int", "int"),
        ("00", "int", "int", "int"),
        ("08", "str", "float", "int"),
        ("0x1F", "int", "int", "int"),
        ("0X1F", "str", "int", "str"),
        ("0x_1F", "int", "int", "str"),
        ("-0x1F", "int", "int", "str"),
        ("+0x1F", "int", "int", "str"),
        ("0x", "str", "str", "str"),
        ("0xG", "str", "str", "str"),
        ("+1", "int", "int", "int"),
        ("-1", "int", "int", "int"),
        ("+0", "int", "int", "int"),
        ("-0", "int", "int", "int"),
        ("+", "str", "str", "str"),
        ("1e3", "str", "float", "float"),
        ("1e+3", "str", "float", "float"),
        ("1.0e+3", "float", "float", "float"),
        ("1.0e3", "str", "float", "float"),
        ("1.5e3", "str", "float", "float"),
        ("3.14e-3", "float", "float", "float"),
        ("1e3.5", "str", "str", "str"),
        ("1.5", "float", "float", "float"),
        ("1.", "float", "float", "float"),
        ("0.", "float", "float", "float"),
        (".5", "float", "float", "float"),
        ("1.2.3", "str", "str", "str"),
        (".inf", "float", "float", "float"),
        ("-.inf", "float", "float", "float"),
        ("+.inf", "float", "float", "float"),
        (".NaN", "float", "float", "float"),
        ("-.nan", "str", "str", "str"),
        ("inf", "str", "str", "str"),
        ("Infinity", "str", "str", "str"),
        ("nan", "str", "str", "str"),
        ("1:20", "int", "str", "str"),
        ("1:20.5", "float", "str", "str"),
        ("190:20:30", "int", "str", "str"),
        ("12:34:56", "int", "str", "str"),
        ("1:60", "str", "str", "str"),
        ("0:20", "str", "str", "str"),
        ("2001-12-14", "timestamp", "timestamp", "str"),
        ("2001-1-2", "str", "timestamp", "str"),
        (
            "2001-12-14t21:59:43.10-05:00",
            "timestamp",
            "timestamp",
            "str",
        ),
        ("2001-12-14T21:59:43Z", "timestamp", "timestamp", "str"),
        ("2001-12-14 21:59:43", "timestamp", "timestamp", "str"),
        ("2001-12-14 21:59:43.10 -5", "timestamp", "str", "str"),
        ("2001-12-14-x", "str", "str", "str"),
        ("<<", "merge", "merge", "str"),
        ("=", "value", "str", "str"),
        ("1team", "str", "str", "str"),
        ("10m", "str", "str", "str"),
        ("1-2", "str", "str", "str"),
        ("10.0.0.0/8", "str", "str", "str"),
        ("-x", "str", "str", "str"),
        ("::/0", "str", "str", "str"),
        ("?x", "str", "str", "str"),
        (":x", "str", "str", "str"),
    ];

    #[test]
    fn the_models_agree_with_the_readers() {
        for &(s, py, go, core) in KNOWN {
            assert_eq!(
                (pyyaml_tag(s), goyaml_v2_tag(s), core12_tag(s)),
                (py, go, core),
                "{s:?}"
            );
        }
    }

    #[test]
    fn the_rule_quotes_every_known_lookalike() {
        for &(s, py, go, core) in KNOWN {
            if py != "str" || go != "str" || core != "str" {
                assert!(needs_quotes(s), "{s:?} is a {py}/{go}/{core}");
            }
        }
        // never read as anything but themselves, and plain as before
        for s in [
            "web",
            "1team",
            "10m",
            "1-web",
            "10.0.0.0/8",
            "fd00::/8",
            "::/0",
            "-x",
            "?x",
            ":x",
            "x-",
            "a,b",
            "a:b",
            "a#b",
            "~x",
            "x~",
            "yesno",
            "only",
            "nulls",
            "nplc",
            "Ingress",
            "TCP",
            "app.kubernetes.io/name",
            "team-000/ns.npl:3",
            "a.npl:3, b.npl:4",
            "ünï",
            "\u{a0}x",
        ] {
            assert!(!needs_quotes(s), "{s:?}");
            assert!(reads_as_itself(s), "{s:?}");
        }
        // read as themselves, quoted all the same (the rule is wider)
        for s in [
            "1.2.3",
            "1-2",
            "1d",
            "2001-12-14-x",
            "-.nan",
            "inf",
            "Infinity",
            "_1",
        ] {
            assert!(reads_as_itself(s), "{s:?}");
            assert!(needs_quotes(s), "{s:?}");
        }
    }

    // ---- strings to try -------------------------------------------------

    /// Every YAML 1.1 and 1.2 special named in the module documentation,
    /// in its case variants, and strings that cannot be plain.
    #[rustfmt::skip]
    const SPECIALS: &[&str] = &[
        "y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO", "on", "On", "ON", "off",
        "Off", "OFF", "true", "True", "TRUE", "false", "False", "FALSE", "yEs", "oN", "~",
        "null", "Null", "NULL", "nuLL", "", "1_000", "0b1", "-0b1", "1:20", "-1:20", "190:20:30",
        "1:20.5", ".inf", "-.Inf", "+.INF", ".nan", ".NaN", "inf", "-inf", "Infinity", "NaN",
        "0o17", "017", "08", "0x1F", "0X1f", "-0x1F", "+1", "-1", "+", "1e3", "1E3", "1e-3",
        "1.5", "1.", ".5", "-.5", "1_", "-_1", "0", "2001-12-14", "2001-1-2",
        "2001-12-14t21:59:43.10-05:00", "2001-12-14 21:59:43.10 -5", "2001-12-14T21:59:43Z",
        "2001-12-14 21:59:43,5", "=", "<<", "a: b", "a #b", "a:", "-", "-x", "- x", "--x",
        "?", "?x", "? x", ":", ":x", "::/0", "*x", "&x", "!x", "%x", "@x", "`x", "#x", "|x",
        ">x", "'x", "\"x", "{x}", "[x]", ",x", "x,", " x", "x ", "---", "--- x", "...", "...x",
        "x'y", "a\tb", "\tx", "ünï", "é: x", "\u{a0}", "\u{85}", "a\u{2028}b", "\u{feff}x",
        "\u{1}", "\u{7f}", "\u{9f}", "a\nb", "a\n\nb", "a\n", "\na", " a\nb", "a \nb",
        "a\r\nb", "x: y\n#z\n- w", "web", "1team", "10.0.0.0/8", "fd00::/8",
    ];

    fn special() -> impl Strategy<Value = String> {
        prop_oneof![
            6 => prop::sample::select(SPECIALS).prop_map(String::from),
            3 => "[-+_]{0,2}\\.?[0-9][0-9a-fA-FxXoO_.,:+ tTzZ-]{0,8}",
            1 => "[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}([Tt ][0-9]{1,2}:[0-9]{1,2}:[0-9]{1,2}([.,][0-9]{0,3})?( ?(Z|[-+][0-9]{1,2}(:[0-9]{2})?))?)?",
            2 => "[yYnNtTfFoOlLeEsSuUrRaA~<=.+-]{1,5}",
            2 => "[-?:,\\[\\]{}#&*!|>'\"%@` ]{0,2}[a0 ]{0,3}[-:# ]{0,2}",
            2 => "[ -~]{0,10}",
            1 => "[a\\t\\r\\n\\x{85}\\x{2028}\\x{feff}\\x{1} é]{0,5}",
            1 => ".{0,4}",
        ]
    }

    // ---- objects --------------------------------------------------------

    fn sel(labels: &[(&str, &str)]) -> LabelSelector {
        LabelSelector {
            match_labels: Some(
                labels
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            ),
            match_expressions: None,
        }
    }

    /// A policy with `strings` (in turn) in every string field: name,
    /// namespace, annotation and label keys and values, selector keys and
    /// values, matchExpressions keys and values, a named port, a CIDR.
    fn policy(strings: &[String]) -> net::NetworkPolicy {
        let s = |i: usize| strings[i % strings.len()].clone();
        net::NetworkPolicy {
            metadata: ObjectMeta {
                name: Some(s(5)),
                namespace: Some(s(6)),
                annotations: Some([("nplc.io/source".to_string(), s(0)), (s(7), s(8))].into()),
                labels: Some(
                    [
                        (
                            "app.kubernetes.io/managed-by".to_string(),
                            "nplc".to_string(),
                        ),
                        (s(9), s(10)),
                    ]
                    .into(),
                ),
                ..Default::default()
            },
            spec: Some(net::NetworkPolicySpec {
                pod_selector: Some(sel(&[(&s(11), &s(12))])),
                policy_types: Some(vec!["Ingress".into(), "Egress".into()]),
                ingress: Some(vec![
                    net::NetworkPolicyIngressRule::default(),
                    net::NetworkPolicyIngressRule {
                        from: Some(vec![
                            net::NetworkPolicyPeer {
                                namespace_selector: Some(sel(&[("team", &s(1))])),
                                pod_selector: Some(LabelSelector {
                                    match_expressions: Some(vec![
                                        LabelSelectorRequirement {
                                            key: "tier".into(),
                                            operator: "NotIn".into(),
                                            values: Some(vec![s(2), s(3)]),
                                        },
                                        LabelSelectorRequirement {
                                            key: s(13),
                                            operator: "Exists".into(),
                                            values: None,
                                        },
                                    ]),
                                    match_labels: Some(BTreeMap::new()),
                                }),
                                ip_block: None,
                            },
                            net::NetworkPolicyPeer {
                                ip_block: Some(net::IPBlock {
                                    cidr: s(14),
                                    except: Some(vec!["169.254.169.254/32".into(), s(15)]),
                                }),
                                ..Default::default()
                            },
                        ]),
                        ports: Some(vec![
                            net::NetworkPolicyPort {
                                port: Some(IntOrString::Int(3000)),
                                end_port: Some(3500),
                                protocol: Some("TCP".into()),
                            },
                            net::NetworkPolicyPort {
                                port: Some(IntOrString::String(s(4))),
                                end_port: None,
                                protocol: None,
                            },
                        ]),
                    },
                ]),
                egress: Some(vec![net::NetworkPolicyEgressRule {
                    ports: Some(vec![]),
                    to: Some(vec![net::NetworkPolicyPeer::default()]),
                }]),
            }),
        }
    }

    fn owned(strs: &[&str]) -> Vec<String> {
        strs.iter().map(|s| s.to_string()).collect()
    }

    // ---- reading the text back ------------------------------------------

    /// The plain scalars of a text in this writer's layout, each with the
    /// key it is the value of ("" for keys and sequence items). Quoted
    /// scalars, `{}`/`[]` and the lines of `|` blocks are skipped.
    fn plain_scalars(text: &str) -> Vec<(String, String)> {
        let mut found = Vec::new();
        let mut block: Option<Option<usize>> = None; // Some(None): the next line sets it
        for line in text.lines() {
            let ind = line.len() - line.trim_start_matches(' ').len();
            match block {
                Some(None) => {
                    block = Some(Some(ind));
                    continue;
                }
                Some(Some(n)) if ind >= n => continue,
                _ => block = None,
            }
            let mut rest = &line[ind..];
            while let Some(r) = rest.strip_prefix("- ") {
                rest = r;
            }
            if rest == "---" {
                continue;
            }
            let (key, value) = if let Some(k) = rest.strip_prefix("? ") {
                (Some(k), None)
            } else if rest == ":" || rest.starts_with(": ") {
                (None, Some(rest[1..].trim_start_matches(' ')))
            } else {
                let (token, after) = split_token(rest);
                match after.strip_prefix(':') {
                    Some(v) => (Some(token), Some(v.trim_start_matches(' '))),
                    None => (None, Some(token)),
                }
            };
            let key_text = key.unwrap_or("");
            if let Some(k) = key {
                if let Some(p) = plain(k) {
                    found.push((String::new(), p.to_string()));
                }
                if k.starts_with('|') {
                    block = Some(None);
                }
            }
            if let Some(v) = value.filter(|v| !v.is_empty()) {
                if v.starts_with('|') {
                    block = Some(None);
                } else if let Some(p) = plain(v) {
                    found.push((key_text.to_string(), p.to_string()));
                }
            }
        }
        found
    }

    /// A scalar token at the start of `s` (quoted, or plain up to `: ` or a
    /// last `:`), and what follows it.
    fn split_token(s: &str) -> (&str, &str) {
        let b = s.as_bytes();
        let end = match b.first() {
            Some(b'\'') => {
                let mut i = 1;
                while i < b.len() {
                    if b[i] == b'\'' {
                        if b.get(i + 1) == Some(&b'\'') {
                            i += 2;
                            continue;
                        }
                        break;
                    }
                    i += 1;
                }
                i + 1
            }
            Some(b'"') => {
                let mut i = 1;
                while i < b.len() && b[i] != b'"' {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
                i + 1
            }
            _ => s.find(": ").unwrap_or(if s.ends_with(':') {
                s.len() - 1
            } else {
                s.len()
            }),
        };
        s.split_at(end.min(s.len()))
    }

    /// The token when it is a plain scalar.
    fn plain(token: &str) -> Option<&str> {
        match token.as_bytes().first() {
            Some(b'\'' | b'"' | b'|') | None => None,
            _ if token == "{}" || token == "[]" => None,
            _ => Some(token),
        }
    }

    /// The fast path covers the object and equals the reference; the text
    /// reads back as the object; every plain scalar in it but the port
    /// numbers reads as itself in every YAML version.
    fn check(np: &net::NetworkPolicy) -> String {
        assert!(fast(np).is_some(), "the fast path covers this object");
        let text = to_yaml(np);
        assert_eq!(text, reference(np));
        let back: net::NetworkPolicy =
            serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{e}: cannot read back\n{text}"));
        assert_eq!(&back, np, "read back differently:\n{text}");
        for (key, s) in plain_scalars(&text) {
            if (key == "port" || key == "endPort") && s.bytes().all(|b| b.is_ascii_digit()) {
                continue;
            }
            assert!(reads_as_itself(&s), "{s:?} is plain in\n{text}");
        }
        text
    }

    /// `serde_yaml` writes `s` plain.
    fn serde_plain(s: &str) -> bool {
        serde_yaml::to_string(s).ok().as_deref() == Some(&format!("{s}\n"))
    }

    // ---- tests ----------------------------------------------------------

    #[test]
    fn quoted_in_every_field() {
        // a different special in each of the 16 places `policy` puts them,
        // so that a field the rule missed shows in the text
        let strings = owned(&[
            "on",
            "yes",
            "Off",
            "N",
            "y",
            "true",
            "null",
            "NO",
            "1_000",
            "0b1",
            "2001-12-14",
            "1e3",
            "0x1F",
            "017",
            "1.5",
            "1:20",
        ]);
        let text = check(&policy(&strings));
        for s in &strings {
            assert!(
                text.contains(&format!("'{s}'")),
                "{s} not quoted in\n{text}"
            );
        }
        let text = check(&policy(&owned(&["=", "<<", "~", ""])));
        for s in ["'='", "'<<'", "'~'", "''"] {
            assert!(text.contains(s), "{s} not in\n{text}");
        }
    }

    #[test]
    fn the_issue_example() {
        let mut np = policy(&owned(&["x"]));
        np.spec.as_mut().unwrap().pod_selector = Some(sel(&[("on", "yes")]));
        let text = check(&np);
        assert!(
            text.contains("  podSelector:\n    matchLabels:\n      'on': 'yes'\n"),
            "{text}"
        );
    }

    #[test]
    fn same_as_serde_yaml_where_yaml_1_1_agrees() {
        // strings that serde_yaml quotes exactly when this rule does
        let ordinary = [
            "web",
            "true",
            "null",
            "0123",
            "1.5",
            "1e3",
            ".nan",
            "a: b",
            "a #b",
            "-x",
            "x-",
            "'q'",
            "\"d\"",
            "::/0",
            "fd00::/8",
            "team-000/ns.npl:3",
            "ingress[0]: allow a.npl:3; egress[1]: deny b.npl:4",
            "ünï",
            " lead",
            "trail ",
            "~",
            "@at",
            "%p",
            "a,b",
            "{x}",
            "[x]",
            "*x",
            "&x",
            "!x",
            "|x",
            ">x",
            "?x",
            "10.0.0.0/8",
            "1/2",
            "0x1F",
            "+1",
            "-1",
            "2001:db8::/32",
            "http",
            "a\tb",
            "",
            "a\nb",
            "é: x",
            "\u{1}",
        ];
        for s in ordinary.iter().filter(|s| !s.contains('\n')) {
            assert_eq!(needs_quotes(s), !serde_plain(s), "{s:?}");
        }
        let strings = owned(&ordinary);
        for i in 0..strings.len() {
            let rotated: Vec<String> = strings[i..].iter().chain(&strings[..i]).cloned().collect();
            let np = policy(&rotated);
            assert_eq!(check(&np), serde_yaml::to_string(&np).unwrap());
        }
    }

    #[test]
    fn yaml_1_1_lookalikes_differ_from_serde_yaml_only_in_quotes() {
        for s in [
            "yes",
            "on",
            "Off",
            "y",
            "1_000",
            "inf",
            "1:20",
            "2001-12-14",
            "=",
            "<<",
        ] {
            assert!(serde_plain(s), "{s}: serde_yaml writes it plain");
            assert!(needs_quotes(s), "{s}");
            let np = policy(&owned(&[s]));
            let ours = check(&np);
            let theirs = serde_yaml::to_string(&np).unwrap();
            assert_eq!(ours.replace(&format!("'{s}'"), s), theirs, "{s}");
        }
    }

    #[test]
    fn multi_line() {
        let rules = "ingress[0]: allow a.npl:3\negress[1]: deny 'b.npl':4\n#x\n- y";
        let others = ["b", "c", "d", "e"].map(String::from);
        let with = |first: &str| policy(&[&[first.to_string()][..], &others].concat());
        let np = with(rules);
        assert_eq!(check(&np), serde_yaml::to_string(&np).unwrap());
        for odd in [
            "a\n", "\na", "a\n\nb", " a\nb", "a \nb", "a\n b", "a\r\nb", "a\tb\nc", "ü\nb",
        ] {
            check(&with(odd));
        }
    }

    #[test]
    fn long_keys_as_libyaml_writes_them() {
        let long = format!("{}.example.com/name", "a".repeat(120));
        let mut strings = owned(&["x"; 16]);
        strings[9] = long.clone();
        let np = policy(&strings);
        let text = check(&np);
        assert!(
            text.contains(&format!("\n    ? {long}\n    : x\n")),
            "{text}"
        );
        assert_eq!(text, serde_yaml::to_string(&np).unwrap());
        // a key of several lines, or one to quote, is written the same way
        strings[9] = format!("{long}\nline");
        strings[11] = format!("{}1", "0".repeat(130));
        let text = check(&policy(&strings));
        assert!(
            text.contains(&format!("\n    ? |-\n      {long}\n      line\n    : x\n")),
            "{text}"
        );
        assert!(
            text.contains(&format!("\n      ? '{}'\n      : x\n", strings[11])),
            "{text}"
        );
    }

    #[test]
    fn fields_nplc_never_sets_take_the_reference_path() {
        let with = |key: &str, value: &str| {
            let mut np = policy(&owned(&["web", "db"]));
            np.metadata.generation = Some(3);
            np.metadata.finalizers = Some(vec![value.to_string(), "a/b".into()]);
            np.metadata.managed_fields = Some(vec![ManagedFieldsEntry {
                manager: Some(value.to_string()),
                operation: Some("Apply".into()),
                fields_v1: Some(FieldsV1(serde_json::json!({
                    "f:metadata": { "f:labels": { key: {}, "t": true, "z": null, "f": 1.5 } },
                    "list": [[1, "a"], [], {}],
                }))),
                ..Default::default()
            }]);
            np
        };
        let np = with("k", "kubectl");
        assert!(fast(&np).is_none());
        let text = to_yaml(&np);
        assert_eq!(text, serde_yaml::to_string(&np).unwrap());
        let np = with("on", "yes");
        let text = to_yaml(&np);
        let back: net::NetworkPolicy = serde_yaml::from_str(&text).unwrap();
        assert_eq!(back, np);
        assert!(
            text.contains("'on': {}") && text.contains("- 'yes'"),
            "{text}"
        );
        assert!(
            text.contains("t: true") && text.contains("z: null"),
            "{text}"
        );
    }

    #[test]
    fn push_scalar_quotes_by_the_rule() {
        let mut out = String::new();
        for s in ["a/b.yaml", "yes", "1e3", "a: b", "x\ny"] {
            out.push_str("- ");
            push_scalar(&mut out, s, 2);
            out.push('\n');
        }
        assert_eq!(
            out,
            "- a/b.yaml\n- 'yes'\n- '1e3'\n- 'a: b'\n- |-\n  x\n  y\n"
        );
        let k = crate::emit::k8s::kustomization(&["yes/a.yaml".into(), "on".into()]);
        assert!(k.ends_with("resources:\n- yes/a.yaml\n- 'on'\n"), "{k}");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// A string the rule leaves plain reads as itself in every model
        /// and in serde_yaml.
        #[test]
        fn plain_only_what_every_reader_reads_as_a_string(s in special()) {
            if !needs_quotes(&s) {
                prop_assert!(reads_as_itself(&s), "{:?}", s);
            }
        }

        /// What serde_yaml (libyaml's rules and YAML 1.2) must quote, this
        /// rule quotes too.
        #[test]
        fn quotes_whatever_serde_yaml_quotes(s in prop_oneof![special(), "[ -~]{0,12}"]) {
            if !serde_plain(&s) {
                prop_assert!(needs_quotes(&s), "{:?}", s);
            }
        }

        /// Written as a key and as a value, the string reads back.
        #[test]
        fn any_scalar_reads_back(s in prop_oneof![special(), "\\PC{0,8}", "[ -~\\n]{0,12}"]) {
            let tree = Node::Map(vec![
                (s.as_str(), Node::Str(&s)),
                ("seq", Node::Seq(vec![Node::Str(&s)])),
            ]);
            let mut text = String::new();
            write_doc(&mut text, &tree);
            let back: BTreeMap<String, Value> = serde_yaml::from_str(&text)
                .map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
            prop_assert_eq!(back.get(s.as_str()), Some(&Value::String(s.clone())), "{}", text);
            prop_assert_eq!(
                back.get("seq"),
                Some(&Value::Sequence(vec![Value::String(s.clone())])),
                "{}", text
            );
        }

        #[test]
        fn specials_in_every_field(strings in prop::collection::vec(special(), 16)) {
            check(&policy(&strings));
        }

        /// Where no string is a YAML 1.1 lookalike, the text is serde_yaml's.
        #[test]
        fn same_as_serde_yaml_elsewhere(strings in prop::collection::vec("[a0:/ #.,'_\n-]{1,8}", 16)) {
            let alike = strings.iter().all(|s| {
                if s.contains('\n') { literal(s) } else { needs_quotes(s) != serde_plain(s) }
            });
            let np = policy(&strings);
            let text = check(&np);
            if alike {
                prop_assert_eq!(text, serde_yaml::to_string(&np).unwrap());
            }
        }
    }
}
