//! `nplc import`, second half: checked NetworkPolicies ([`super::Policy`])
//! to one `.npl` program text per namespace. The construction is the one
//! the contract gives (docs/semantics.md, "Side-scoped statements"): every
//! namespace with a policy is managed; a namespace whose policies select
//! all its pods for a direction gets `default deny [ingress|egress]`, else
//! `default allow` with an `isolate` per policy; each rule becomes an allow
//! scoped to its side (`on ingress` / `on egress`), or a two-sided allow
//! where the other side is external or pods of namespaces with no policy
//! (there both mean the same). Policies are written in (namespace, name)
//! order, rules in their order, so the text is a function of the input;
//! it is written in `nplc fmt`'s layout directly (not formatted after).

use super::{Expr, Op, Peer, Policy, PortValue, Rule, Selector};
use crate::ir::NAME_LABEL;
use crate::net::Protocol;
use std::collections::{BTreeMap, BTreeSet};

/// One imported namespace: its name and program text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Program {
    pub namespace: String,
    pub text: String,
}

/// The programs of every namespace that has a policy, by name.
pub fn programs(policies: &[Policy]) -> Vec<Program> {
    let mut by_ns: BTreeMap<&str, Vec<&Policy>> = BTreeMap::new();
    for p in policies {
        by_ns.entry(p.namespace.as_str()).or_default().push(p);
    }
    let managed: BTreeSet<&str> = by_ns.keys().copied().collect();
    // namespaces are independent: written on every core, in name order
    let items: Vec<(&&str, &Vec<&Policy>)> = by_ns.iter().collect();
    crate::par::map(&items, |(ns, ps)| Program {
        namespace: ns.to_string(),
        text: namespace_text(ns, ps, &managed),
    })
}

/// A text in `nplc fmt`'s layout (a file recognised as nplc's own
/// output, [`super::recognise`]). The formatter refuses only a text it
/// cannot lay out without changing it; the text is then kept as written.
pub(crate) fn formatted(text: String) -> String {
    crate::syntax::fmt::format_source(crate::source::FileId(0), &text).unwrap_or(text)
}

/// Words the grammar reserves: never written as names or bare label keys.
const KEYWORDS: [&str; 15] = [
    "use",
    "define",
    "workload",
    "namespace",
    "default",
    "allow",
    "deny",
    "isolate",
    "ingress",
    "egress",
    "except",
    "cluster",
    "world",
    "notin",
    "in",
];

fn is_word(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '-')
        && !s.contains("->")
        && s.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
}

/// A label key as the grammar reads it: quoted when it is a keyword, has a
/// dot-less prefix, or is not a plain word.
pub(crate) fn key_text(k: &str) -> String {
    let plain = match k.split_once('/') {
        Some((prefix, name)) => prefix.contains('.') && is_word(prefix) && is_word(name),
        None => is_word(k),
    };
    if plain && !KEYWORDS.contains(&k) && k != "labels" && k != "on" {
        k.to_string()
    } else {
        format!("\"{k}\"")
    }
}

pub(crate) fn value_text(v: &str) -> String {
    if is_word(v) {
        v.to_string()
    } else {
        format!("\"{v}\"")
    }
}

/// The requirements of a selector, `None` for "everything".
fn selector_text(s: &Selector) -> Option<String> {
    if s.is_all() {
        return None;
    }
    let mut reqs: Vec<String> = s
        .labels
        .iter()
        .map(|(k, v)| format!("{}={}", key_text(k), value_text(v)))
        .collect();
    for Expr { key, op, values } in &s.exprs {
        let vals = || {
            values
                .iter()
                .map(|v| value_text(v))
                .collect::<Vec<_>>()
                .join(", ")
        };
        reqs.push(match op {
            Op::In => format!("{} in ({})", key_text(key), vals()),
            Op::NotIn => format!("{} notin ({})", key_text(key), vals()),
            Op::Exists => format!("{}=*", key_text(key)),
            Op::DoesNotExist => format!("!{}", key_text(key)),
        });
    }
    Some(reqs.join(", "))
}

/// The namespace a selector names by `kubernetes.io/metadata.name` alone.
fn named_namespace(s: &Selector) -> Option<&str> {
    if s.exprs.is_empty() && s.labels.len() == 1 {
        s.labels.get(NAME_LABEL).map(String::as_str)
    } else {
        None
    }
}

struct Names {
    /// Workload names by selector text.
    by_selector: BTreeMap<String, String>,
    decls: Vec<(String, String)>,
}

impl Names {
    /// The pods of this namespace a selector denotes: `*`, a workload name,
    /// or the selector.
    fn pods(&self, s: &Selector) -> String {
        match selector_text(s) {
            None => "*".to_string(),
            Some(t) => self.by_selector.get(&t).cloned().unwrap_or(t),
        }
    }
}

/// A workload name from a policy name: lowercase letters, digits and `-`,
/// starting with a letter, not a keyword.
pub(crate) fn workload_name(policy: &str) -> String {
    let mut s: String = policy
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    for suffix in ["-netpol", "-policy", "-np"] {
        if let Some(x) = s.strip_suffix(suffix).filter(|x| !x.is_empty()) {
            s = x.to_string();
        }
    }
    while s.contains("--") {
        s = s.replace("--", "-");
    }
    let s = s.trim_matches('-').to_string();
    if s.is_empty()
        || !s.starts_with(|c: char| c.is_ascii_alphabetic())
        || KEYWORDS.contains(&s.as_str())
        || MODULES.contains(&s.as_str())
    {
        format!("w-{s}").trim_end_matches('-').to_string()
    } else {
        s
    }
}

/// The standard library's modules: never taken as workload names.
const MODULES: [&str; 6] = [
    "dns",
    "k8s-ports",
    "link-local",
    "metadata-api",
    "rfc1918",
    "private",
];

/// A workload name from a selector of one label (`app=web` -> `web`),
/// when its value is a name: lowercase letters, digits and `-`, starting
/// with a letter, not a keyword nor a module of the standard library.
fn selector_name(s: &Selector) -> Option<String> {
    if !s.exprs.is_empty() || s.labels.len() != 1 {
        return None;
    }
    let v = s.labels.values().next()?;
    let ok = v.starts_with(|c: char| c.is_ascii_lowercase())
        && v.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !v.ends_with('-')
        && !KEYWORDS.contains(&v.as_str())
        && !MODULES.contains(&v.as_str());
    ok.then(|| v.clone())
}

fn names_for(policies: &[&Policy]) -> Names {
    let mut by_selector: BTreeMap<String, String> = BTreeMap::new();
    let mut used: BTreeSet<String> = BTreeSet::new();
    let mut decls = Vec::new();
    for p in policies {
        let Some(t) = selector_text(&p.subject) else {
            continue;
        };
        if by_selector.contains_key(&t) {
            continue;
        }
        let base = selector_name(&p.subject).unwrap_or_else(|| workload_name(&p.name));
        let mut name = base.clone();
        let mut i = 2;
        while used.contains(&name) {
            name = format!("{base}-{i}");
            i += 1;
        }
        used.insert(name.clone());
        by_selector.insert(t.clone(), name.clone());
        decls.push((name, t));
    }
    Names { by_selector, decls }
}

fn peer_text(p: &Peer, names: &Names) -> String {
    match p {
        Peer::Block { cidr, except } => match except.as_slice() {
            [] => cidr.to_string(),
            [e] => format!("{cidr} except {e}"),
            es => format!(
                "{cidr} except ({})",
                es.iter()
                    .map(|e| e.to_string())
                    .collect::<Vec<_>>()
                    .join(" | ")
            ),
        },
        Peer::Pods {
            namespaces: None,
            pods,
        } => names.pods(pods.as_ref().unwrap_or(&Selector::default())),
        Peer::Pods {
            namespaces: Some(ns),
            pods,
        } => {
            let pods = pods
                .as_ref()
                .and_then(selector_text)
                .unwrap_or_else(|| "*".to_string());
            match (named_namespace(ns), selector_text(ns)) {
                (Some(n), _) => format!("{n}/{pods}"),
                (None, None) if pods == "*" => "cluster".to_string(),
                // every namespace has its name label
                (None, None) => format!("{{{}=*}}/{pods}", key_text(NAME_LABEL)),
                (None, Some(t)) if pods == "*" => format!("{{{t}}}"),
                (None, Some(t)) => format!("{{{t}}}/{pods}"),
            }
        }
    }
}

fn ports_text(ports: &[super::Port]) -> String {
    let items: Vec<String> = ports
        .iter()
        .map(|p| {
            let proto = match p.protocol {
                Protocol::Tcp => "",
                Protocol::Udp => "udp/",
                Protocol::Sctp => "sctp/",
            };
            match &p.port {
                None => match p.protocol {
                    Protocol::Tcp => "tcp".to_string(),
                    Protocol::Udp => "udp".to_string(),
                    Protocol::Sctp => "sctp".to_string(),
                },
                Some(PortValue::Number(lo, hi)) if lo == hi => format!("{proto}{lo}"),
                Some(PortValue::Number(lo, hi)) => format!("{proto}{lo}-{hi}"),
                Some(PortValue::Name(n)) => format!("{proto}{n}"),
            }
        })
        .collect();
    items.join(", ")
}

/// Whether a peer lies where the other side of its connections is not
/// managed (external, or pods of named namespaces without a policy): a
/// two-sided statement then means the same as a scoped one.
fn other_side_unmanaged(p: &Peer, ns: &str, managed: &BTreeSet<&str>) -> bool {
    match p {
        Peer::Block { .. } => true,
        Peer::Pods { namespaces, .. } => match namespaces {
            None => !managed.contains(ns),
            Some(sel) => named_namespace(sel).is_some_and(|n| !managed.contains(n)),
        },
    }
}

/// The statements of a namespace as they are written, and the modules of
/// the standard library they name.
#[derive(Default)]
struct Body {
    lines: Vec<String>,
    uses: BTreeSet<&'static str>,
}

/// The standard library's address sets (stdlib/*.npl), each as the peer
/// texts that make it up: a rule whose peers include all of a set's blocks
/// (no more in the blocks, no except) says the module's name instead, in
/// the place of the first. The longest sets are tried first.
const ADDRESS_MODULES: [(&str, &[&str]); 3] = [
    (
        "rfc1918",
        &["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"],
    ),
    ("link-local", &["169.254.0.0/16", "fe80::/10"]),
    ("metadata-api", &["169.254.169.254/32", "fd00:ec2::254/128"]),
];

/// `peers` with every standard library address set it holds by its name.
fn with_modules(mut peers: Vec<String>, uses: &mut BTreeSet<&'static str>) -> Vec<String> {
    for (name, set) in ADDRESS_MODULES {
        if set.iter().all(|b| peers.iter().any(|p| p == b)) {
            let at = peers
                .iter()
                .position(|p| set.contains(&p.as_str()))
                .unwrap_or(0);
            peers.retain(|p| !set.contains(&p.as_str()));
            peers.insert(at.min(peers.len()), name.to_string());
            uses.insert(name);
        }
    }
    peers
}

/// The statements of one rule (two when a named port meets address blocks
/// in an egress rule: a named port resolves on the destination pod, so it
/// never matches an address, and the grammar does not take it there).
fn rule_statements(
    p: &Policy,
    r: &Rule,
    index: usize,
    egress: bool,
    names: &Names,
    managed: &BTreeSet<&str>,
    body: &mut Body,
) {
    let out = &mut body.lines;
    let dir = if egress { "egress" } else { "ingress" };
    let subject = names.pods(&p.subject);
    let named = |x: &super::Port| matches!(x.port, Some(PortValue::Name(_)));
    let has_named = r.ports.iter().flatten().any(named);
    let numbered: Vec<super::Port> = r
        .ports
        .iter()
        .flatten()
        .filter(|x| !named(x))
        .cloned()
        .collect();
    // (peer texts, the other side is unmanaged, ports)
    let mut groups: Vec<(Vec<String>, bool, Option<Vec<super::Port>>)> = Vec::new();
    match &r.peers {
        None if egress && has_named => {
            groups.push((vec!["cluster".into()], false, r.ports.clone()));
            if !numbered.is_empty() {
                groups.push((vec!["world".into()], false, Some(numbered.clone())));
            }
        }
        None => groups.push((
            vec!["cluster".into(), "world".into()],
            false,
            r.ports.clone(),
        )),
        Some(peers) => {
            let text = |ps: &[&Peer]| ps.iter().map(|x| peer_text(x, names)).collect::<Vec<_>>();
            let unmanaged = |ps: &[&Peer]| {
                ps.iter()
                    .all(|x| other_side_unmanaged(x, &p.namespace, managed))
            };
            let all: Vec<&Peer> = peers.iter().collect();
            if egress && has_named {
                let (blocks, pods): (Vec<&Peer>, Vec<&Peer>) =
                    all.iter().partition(|x| matches!(x, Peer::Block { .. }));
                if !pods.is_empty() {
                    groups.push((text(&pods), unmanaged(&pods), r.ports.clone()));
                }
                if !blocks.is_empty() && !numbered.is_empty() {
                    groups.push((text(&blocks), unmanaged(&blocks), Some(numbered.clone())));
                }
            } else if !all.is_empty() {
                groups.push((text(&all), unmanaged(&all), r.ports.clone()));
            }
        }
    }
    out.push(format!(
        "  # {}/{} {dir}[{index}] ({})",
        p.namespace, p.name, p.origin
    ));
    if groups.is_empty() {
        out.push("  # (allows nothing: its named ports match no address)".into());
    }
    for (peers, two_sided, ports) in groups {
        let peers = with_modules(peers, &mut body.uses);
        let out = &mut body.lines;
        let peer_list = peers.join(" | ");
        let scope = if two_sided {
            String::new()
        } else {
            format!(" on {dir}")
        };
        let ports = ports.map(|ps| ports_text(&ps));
        // the standard library's name where it fits exactly
        let is_dns = peer_list == "kube-system/k8s-app=kube-dns"
            && ports.as_deref().is_some_and(|p| {
                let mut v: Vec<&str> = p.split(", ").collect();
                v.sort_unstable();
                v == ["53", "udp/53"]
            });
        if egress && is_dns {
            body.uses.insert("dns");
            out.push(format!("  allow {subject} -> dns{scope}"));
            continue;
        }
        let line = if egress {
            let dst = match (&ports, peers.len() > 1) {
                (None, _) => peer_list,
                (Some(ps), true) => format!("({peer_list}):{ps}"),
                (Some(ps), false) => format!("{peer_list}:{ps}"),
            };
            format!("  allow {subject} -> {dst}{scope}")
        } else {
            let dst = match &ports {
                None => subject.clone(),
                Some(ps) => format!("{subject}:{ps}"),
            };
            format!("  allow {peer_list} -> {dst}{scope}")
        };
        out.push(line);
    }
}

fn namespace_text(ns: &str, policies: &[&Policy], managed: &BTreeSet<&str>) -> String {
    let names = names_for(policies);
    let all_in = policies
        .iter()
        .any(|p| p.subject.is_all() && p.ingress_isolated);
    let all_out = policies
        .iter()
        .any(|p| p.subject.is_all() && p.egress_isolated);
    let posture = match (all_in, all_out) {
        (true, true) => "default deny",
        (true, false) => "default deny ingress",
        (false, true) => "default deny egress",
        (false, false) => "default allow",
    };
    // one `isolate` per (directions, pods), naming every policy behind it,
    // where the first of them stands
    let mut isolates: Vec<(String, Vec<&str>)> = Vec::new();
    for p in policies {
        let ingress = p.ingress_isolated && !all_in;
        let egress = p.egress_isolated && !all_out;
        let words = match (ingress, egress) {
            (true, true) => "",
            (true, false) => "ingress ",
            (false, true) => "egress ",
            (false, false) => continue,
        };
        let stmt = format!("  isolate {words}{}", names.pods(&p.subject));
        match isolates.iter_mut().find(|(s, _)| *s == stmt) {
            Some((_, from)) => from.push(&p.name),
            None => isolates.push((stmt, vec![&p.name])),
        }
    }
    let mut body = Body::default();
    for p in policies {
        if p.ingress_isolated {
            for (i, r) in p.ingress.iter().enumerate() {
                rule_statements(p, r, i, false, &names, managed, &mut body);
            }
        }
        if p.egress_isolated {
            for (i, r) in p.egress.iter().enumerate() {
                rule_statements(p, r, i, true, &names, managed, &mut body);
            }
        }
    }
    let body_lines = two_sided(body.lines);
    // The text in `nplc fmt`'s layout (docs/fmt.md), written directly: the
    // `use` statements first, a blank line, the header comment and the
    // block; in it the workloads (their `=` aligned), a blank line, the
    // posture, the isolates (their comments aligned) and the rules, each
    // under its comment. `tests/it/import_props.rs` and the fixtures hold
    // it equal to the formatter's output.
    let mut text = String::with_capacity(
        256 + 48 * (names.decls.len() + isolates.len())
            + body_lines.iter().map(|l| l.len() + 1).sum::<usize>(),
    );
    for m in &body.uses {
        text.push_str("use ");
        text.push_str(m);
        text.push('\n');
    }
    if !body.uses.is_empty() {
        text.push('\n');
    }
    text.push_str("# imported by `nplc import` from ");
    text.push_str(&policies.len().to_string());
    text.push_str(" NetworkPolicies: ");
    let sources: BTreeSet<&str> = policies.iter().map(|p| p.name.as_str()).collect();
    for (i, s) in sources.into_iter().enumerate() {
        if i > 0 {
            text.push_str(", ");
        }
        text.push_str(s);
    }
    text.push_str("\nnamespace ");
    text.push_str(ns);
    text.push_str(" {\n");
    let width = names
        .decls
        .iter()
        .map(|(name, _)| name.chars().count())
        .max()
        .unwrap_or(0);
    for (name, sel) in &names.decls {
        text.push_str("  workload ");
        text.push_str(name);
        push_spaces(&mut text, width - name.chars().count());
        text.push_str(" = ");
        text.push_str(sel);
        text.push('\n');
    }
    if !names.decls.is_empty() {
        text.push('\n');
    }
    text.push_str("  ");
    text.push_str(posture);
    text.push('\n');
    let width = isolates
        .iter()
        .map(|(s, _)| s.chars().count())
        .max()
        .unwrap_or(0);
    for (stmt, from) in &isolates {
        text.push_str(stmt);
        push_spaces(&mut text, width - stmt.chars().count() + 2);
        text.push_str("# ");
        text.push_str(&from.join(", "));
        text.push('\n');
    }
    for l in &body_lines {
        text.push_str(l);
        text.push('\n');
    }
    text.push_str("}\n");
    text
}

fn push_spaces(text: &mut String, n: usize) {
    text.extend(std::iter::repeat_n(' ', n));
}

/// An allow `on ingress` and the same allow `on egress` mean the same as
/// the allow on both sides: the pair is written once, two-sided, where the
/// first of them stands (with both comments).
fn two_sided(body: Vec<String>) -> Vec<String> {
    // (comments, statement) in order
    let mut items: Vec<(Vec<String>, String)> = Vec::new();
    let mut comments = Vec::new();
    for l in body {
        if l.trim_start().starts_with('#') {
            comments.push(l);
        } else {
            items.push((std::mem::take(&mut comments), l));
        }
    }
    let trailing = comments;
    let mut out: Vec<(Vec<String>, String)> = Vec::new();
    let mut used = vec![false; items.len()];
    for i in 0..items.len() {
        if used[i] {
            continue;
        }
        let (c, l) = &items[i];
        let partner = [(" on ingress", " on egress"), (" on egress", " on ingress")]
            .iter()
            .find_map(|(mine, other)| {
                let base = l.strip_suffix(mine)?;
                let want = format!("{base}{other}");
                let j = (i + 1..items.len()).find(|&j| !used[j] && items[j].1 == want)?;
                Some((j, base.to_string()))
            });
        match partner {
            Some((j, base)) => {
                used[j] = true;
                let mut cs = c.clone();
                cs.extend(items[j].0.iter().cloned());
                out.push((cs, base));
            }
            None => out.push((c.clone(), l.clone())),
        }
    }
    let mut lines: Vec<String> = out
        .into_iter()
        .flat_map(|(c, l)| c.into_iter().chain(std::iter::once(l)))
        .collect();
    lines.extend(trailing);
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The programs of a YAML stream.
    fn import(yaml: &str) -> Vec<Program> {
        let r = super::super::read(&[("in.yaml".to_string(), yaml.to_string())], None);
        assert!(!r.has_errors(), "{:?}", r.diagnostics);
        programs(&r.policies)
    }

    #[test]
    fn the_text_is_in_the_formatters_layout() {
        // `use` lines; a namespace without workloads or isolates; workload
        // names and isolates of different widths; a rule that allows
        // nothing (its comment last in the block)
        let yaml = "\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-all, namespace: a}
spec:
  podSelector: {}
  policyTypes: [Ingress, Egress]
  egress:
  - to:
    - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: kube-system}}
      podSelector: {matchLabels: {k8s-app: kube-dns}}
    ports: [{port: 53, protocol: UDP}, {port: 53}]
  - to: [{ipBlock: {cidr: 10.0.0.0/8}}, {ipBlock: {cidr: 172.16.0.0/12}}, {ipBlock: {cidr: 192.168.0.0/16}}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web, namespace: b}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress:
  - from: [{podSelector: {matchLabels: {app: a-much-longer-name}}}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: zz-egress, namespace: b}
spec:
  podSelector: {matchLabels: {app: a-much-longer-name}}
  policyTypes: [Egress]
  egress:
  - to: [{ipBlock: {cidr: 10.1.0.0/16}}]
    ports: [{port: http}]
";
        let ps = import(yaml);
        assert_eq!(ps.len(), 2);
        for p in &ps {
            assert!(
                crate::syntax::fmt::is_formatted(&p.text),
                "not in fmt's layout:\n{}",
                p.text
            );
        }
        assert!(ps[0].text.starts_with("use dns\nuse rfc1918\n\n# imported"));
        let isolates = "  isolate ingress web                # web\n  isolate egress a-much-longer-name  # zz-egress\n";
        assert!(ps[1].text.contains(isolates), "{}", ps[1].text);
        assert!(
            ps[1].text.ends_with("match no address)\n}\n"),
            "{}",
            ps[1].text
        );
    }
}
