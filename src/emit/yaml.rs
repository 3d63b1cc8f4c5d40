//! Emit stage, last step: a NetworkPolicy object to YAML text. Input: one
//! `NetworkPolicy` as `emit::k8s` builds it. Output: the same bytes that
//! `serde_yaml::to_string` writes for it, about three times faster.
//!
//! Serializing through serde and libyaml's event emitter was the largest
//! single cost of a build (docs/performance.md), so the block layout that
//! libyaml writes (two-space indentation, sequences in a mapping not
//! indented, `[]` and `{}` for empty collections, unlimited width) is
//! written here directly, field by field in the order k8s-openapi
//! serializes them. Only scalars that are certainly plain are written
//! plain; any other single-line string is quoted by `serde_yaml` itself, so
//! quoting follows one rule set. Anything outside that fast path (a field
//! nplc never sets, a multi-line string, a mapping key that would need
//! quoting or is longer than a simple key may be) makes [`to_yaml`] hand
//! the whole object to `serde_yaml`. Tests compare both writers on every
//! example, on generated corpora and on the property-test programs.

use k8s_openapi::api::networking::v1 as net;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// The YAML text of a NetworkPolicy, byte for byte what `serde_yaml` writes.
pub fn to_yaml(np: &net::NetworkPolicy) -> String {
    let mut out = String::with_capacity(1024);
    write_yaml(np, &mut out);
    out
}

/// Appends the YAML text of a NetworkPolicy to `out` (the same bytes as
/// [`to_yaml`]), so that a caller can reuse one buffer for many objects.
pub fn write_yaml(np: &net::NetworkPolicy, out: &mut String) {
    let start = out.len();
    if fast(np, out).is_none() {
        out.truncate(start);
        out.push_str(&reference(np));
    }
}

/// What `serde_yaml` writes: the reference the fast path must equal.
pub fn reference(np: &net::NetworkPolicy) -> String {
    // NetworkPolicy is plain data (strings, integers, lists and maps with
    // string keys), so serializing it to YAML cannot fail.
    serde_yaml::to_string(np).expect("NetworkPolicy serializes") // INVARIANT: see above
}

/// A YAML tree with borrowed scalars, in the field order of k8s-openapi.
enum Node<'a> {
    Str(&'a str),
    Int(i32),
    Map(Vec<(&'a str, Node<'a>)>),
    Seq(Vec<Node<'a>>),
}

/// Writes the object in the fast path, or `None` (with part of it written)
/// when the object has something only `serde_yaml` may decide.
fn fast(np: &net::NetworkPolicy, out: &mut String) -> Option<()> {
    let top = fields([
        ("apiVersion", Some(Node::Str("networking.k8s.io/v1"))),
        ("kind", Some(Node::Str("NetworkPolicy"))),
        ("metadata", Some(meta(&np.metadata)?)),
        ("spec", np.spec.as_ref().map(spec_node)),
    ]);
    let Node::Map(top) = top else { return None };
    write_map(out, &top, 0, false)
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

fn indent(out: &mut String, n: usize) {
    out.extend(std::iter::repeat_n(' ', n));
}

/// Entries of a block mapping at column `col`; when `inline`, the first
/// entry continues a `- ` already written.
fn write_map(out: &mut String, entries: &[(&str, Node)], col: usize, inline: bool) -> Option<()> {
    for (i, (k, v)) in entries.iter().enumerate() {
        if i > 0 || !inline {
            indent(out, col);
        }
        // a key must be a plain simple key: anything else, serde_yaml decides
        if !plain(k) || k.len() > 128 {
            return None;
        }
        out.push_str(k);
        out.push(':');
        match v {
            Node::Map(m) if m.is_empty() => out.push_str(" {}\n"),
            Node::Seq(s) if s.is_empty() => out.push_str(" []\n"),
            Node::Map(m) => {
                out.push('\n');
                write_map(out, m, col + 2, false)?;
            }
            // a sequence in a mapping is not indented
            Node::Seq(s) => {
                out.push('\n');
                write_seq(out, s, col)?;
            }
            // serde_yaml writes every multi-line string as a literal block
            Node::Str(s) if s.contains('\n') => {
                if !literal(s) {
                    return None;
                }
                out.push_str(" |-\n");
                for line in s.split('\n') {
                    indent(out, col + 2);
                    out.push_str(line);
                    out.push('\n');
                }
            }
            scalar => {
                out.push(' ');
                write_scalar(out, scalar)?;
                out.push('\n');
            }
        }
    }
    Some(())
}

fn write_seq(out: &mut String, items: &[Node], col: usize) -> Option<()> {
    for item in items {
        indent(out, col);
        out.push_str("- ");
        match item {
            Node::Map(m) if m.is_empty() => out.push_str("{}\n"),
            Node::Map(m) => write_map(out, m, col + 2, true)?,
            // never built from a NetworkPolicy
            Node::Seq(_) => return None,
            scalar => {
                write_scalar(out, scalar)?;
                out.push('\n');
            }
        }
    }
    Some(())
}

fn write_scalar(out: &mut String, n: &Node) -> Option<()> {
    match n {
        Node::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Node::Str(s) if plain(s) => out.push_str(s),
        Node::Str(s) if single_quoted(s) => {
            out.push('\'');
            out.push_str(&s.replace('\'', "''"));
            out.push('\'');
        }
        Node::Str(s) => {
            // one line: serde_yaml quotes a scalar on its own as it would
            // as a mapping value or a sequence item
            if s.is_empty() || s.contains(['\n', '\r', '\u{85}', '\u{2028}', '\u{2029}']) {
                return None;
            }
            let q = serde_yaml::to_string(s).ok()?;
            let q = q.strip_suffix('\n')?;
            if q.contains('\n') {
                return None;
            }
            out.push_str(q);
        }
        Node::Map(_) | Node::Seq(_) => return None,
    }
    Some(())
}

/// Whether `serde_yaml` certainly writes `s` as a plain scalar: only
/// letters, digits, spaces and `._/-:,`; no space first or last, no `: `,
/// no `:` last (either would start a mapping), no `...` first (a document
/// end); and not a string that YAML would read back as something else (a
/// boolean, null or number). A string with a `/` is never a number; one
/// that starts with a letter is a number only in `inf`/`nan` forms, which
/// are not finite and so not numbers to serde_yaml. So the first character
/// is a letter, or a digit, `.` or `/` with a `/` in the string.
fn plain(s: &str) -> bool {
    let b = s.as_bytes();
    let (Some(&first), Some(&last)) = (b.first(), b.last()) else {
        return false;
    };
    let chars_ok = b.iter().all(|c| {
        c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'/' | b'-' | b':' | b',' | b' ')
    });
    if !chars_ok
        || first == b' '
        || last == b' '
        || last == b':'
        || s.contains(": ")
        || s.starts_with("...")
    {
        return false;
    }
    if first.is_ascii_alphabetic() {
        return !matches!(
            s,
            "true" | "True" | "TRUE" | "false" | "False" | "FALSE" | "null" | "Null" | "NULL"
        );
    }
    (first.is_ascii_digit() || first == b'.' || first == b'/') && s.contains('/')
}

/// Whether `serde_yaml` certainly writes the multi-line `s` as a `|-`
/// block: lines of printable ASCII, none empty and none starting or ending
/// with a space (so no indentation indicator and no other style), and no
/// line break at the end (so the `-` chomping indicator).
fn literal(s: &str) -> bool {
    s.split('\n').all(|l| {
        !l.is_empty()
            && !l.starts_with(' ')
            && !l.ends_with(' ')
            && l.bytes().all(|c| (0x20..=0x7e).contains(&c))
    })
}

/// Whether `serde_yaml` certainly single-quotes `s`: printable ASCII on
/// one line (so single quotes are allowed) that cannot be plain in a block
/// (it holds `: ` or ` #`, or starts or ends with a space). The
/// `nplc.io/rules` annotation is such a string.
fn single_quoted(s: &str) -> bool {
    s.bytes().all(|c| (0x20..=0x7e).contains(&c))
        && (s.contains(": ") || s.contains(" #") || s.starts_with(' ') || s.ends_with(' '))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn check(np: &net::NetworkPolicy) {
        assert!(
            fast(np, &mut String::new()).is_some(),
            "the fast path covers this object"
        );
        assert_eq!(to_yaml(np), reference(np));
    }

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

    fn policy(strings: &[String]) -> net::NetworkPolicy {
        let s = |i: usize| strings[i % strings.len()].clone();
        net::NetworkPolicy {
            metadata: ObjectMeta {
                name: Some("ns-web".into()),
                namespace: Some("ns".into()),
                annotations: Some([("nplc.io/source".to_string(), s(0))].into()),
                labels: Some([("app.kubernetes.io/managed-by".to_string(), "nplc".to_string())].into()),
                ..Default::default()
            },
            spec: Some(net::NetworkPolicySpec {
                pod_selector: Some(LabelSelector::default()),
                policy_types: Some(vec!["Ingress".into(), "Egress".into()]),
                ingress: Some(vec![
                    net::NetworkPolicyIngressRule::default(),
                    net::NetworkPolicyIngressRule {
                        from: Some(vec![
                            net::NetworkPolicyPeer {
                                namespace_selector: Some(sel(&[("team", &s(1))])),
                                pod_selector: Some(LabelSelector {
                                    match_expressions: Some(vec![
                                        k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement {
                                            key: "tier".into(),
                                            operator: "NotIn".into(),
                                            values: Some(vec![s(2), s(3)]),
                                        },
                                        k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement {
                                            key: "x".into(),
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
                                    cidr: "0.0.0.0/0".into(),
                                    except: Some(vec!["169.254.169.254/32".into(), "fd00::/8".into()]),
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

    #[test]
    fn same_as_serde_yaml() {
        let tricky = [
            "web",
            "true",
            "yes",
            "null",
            "0123",
            "1.5",
            "1e3",
            "inf",
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
            "1_000",
            "2001:db8::/32",
            "http",
            "a\tb",
        ];
        let strings: Vec<String> = tricky.iter().map(|s| s.to_string()).collect();
        for i in 0..strings.len() {
            let rotated: Vec<String> = strings[i..].iter().chain(&strings[..i]).cloned().collect();
            check(&policy(&rotated));
        }
    }

    #[test]
    fn multi_line() {
        let rules = "ingress[0]: allow a.npl:3\negress[1]: deny 'b.npl':4\n#x\n- y";
        let others = ["b", "c", "d", "e"].map(String::from);
        let with = |first: &str| policy(&[&[first.to_string()][..], &others].concat());
        let np = with(rules);
        assert!(fast(&np, &mut String::new()).is_some());
        assert_eq!(to_yaml(&np), reference(&np));
        for odd in [
            "a\n", "\na", "a\n\nb", " a\nb", "a \nb", "a\n b", "a\r\nb", "a\tb\nc",
        ] {
            let np = with(odd);
            assert!(fast(&np, &mut String::new()).is_none(), "{odd:?}");
            assert_eq!(to_yaml(&np), reference(&np));
        }
    }

    proptest! {
        #[test]
        fn any_strings(strings in prop::collection::vec("[ -~\\n]{0,12}", 5)) {
            let np = policy(&strings);
            prop_assert_eq!(to_yaml(&np), reference(&np));
        }

        #[test]
        fn strings_near_the_rules(strings in prop::collection::vec("[a0:/ #.,'_\n-]{1,8}", 5)) {
            let np = policy(&strings);
            prop_assert_eq!(to_yaml(&np), reference(&np));
        }
    }
}
