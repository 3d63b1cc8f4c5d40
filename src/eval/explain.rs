//! Explaining one connection, for `nplc explain`. Input: a compilation
//! without errors, a [`Population`] (possibly empty) and the two endpoints
//! as the command line writes them (`ns/pod`, `ns/app=api,tier=web`,
//! `10.1.2.3`; the destination with `:PORT[/PROTO]`). Output: an
//! [`Explanation`]: the intent verdict (each side, the statements that
//! decided it), the generated policies that select the pods involved, and
//! the Kubernetes evaluator's verdict on the generated policies; and its
//! rendering as text.

use crate::driver::Compilation;
use crate::eval::intent::{self, IntentVerdict, Isolated, SideVerdict};
use crate::eval::k8s::Connection;
use crate::eval::k8s::{self, K8sVerdict};
use crate::ir::Direction;
use crate::net::Protocol;
use crate::population::{Endpoint, PodInfo, Population};
use crate::source::SourceMap;
use std::collections::BTreeMap;
use std::net::IpAddr;

/// An endpoint as the command line writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndpointArg {
    /// `ns/name`: a pod of the population.
    Pod { namespace: String, name: String },
    /// `ns/k=v,k=v` (or `ns/{}`): a pod with these labels, made up for the
    /// question.
    Labels {
        namespace: String,
        labels: BTreeMap<String, String>,
    },
    /// An external address.
    Address(IpAddr),
}

/// The destination port: a number, or a container port name of the
/// destination pod.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PortArg {
    Number(u16),
    Name(String),
}

/// `--to`: an endpoint, a port and, if written, a protocol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetArg {
    pub endpoint: EndpointArg,
    pub port: PortArg,
    pub protocol: Option<Protocol>,
}

/// A question nplc cannot answer as asked (a usage error).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExplainError(pub String);

/// Parses `ns/pod`, `ns/k=v,...`, `ns/{}`, or an address (IPv6 may be
/// written in brackets).
pub fn parse_endpoint(s: &str) -> Result<EndpointArg, ExplainError> {
    let s = s.trim();
    let bare = s
        .strip_prefix('[')
        .and_then(|r| r.strip_suffix(']'))
        .unwrap_or(s);
    if let Ok(a) = bare.parse::<IpAddr>() {
        return Ok(EndpointArg::Address(a));
    }
    let Some((ns, rest)) = s.split_once('/') else {
        return Err(ExplainError(format!(
            "`{s}` is not a pod or an address; write `NAMESPACE/POD`, `NAMESPACE/LABEL=VALUE,...` or an IP address"
        )));
    };
    if !crate::validate::is_dns1123_label(ns) {
        return Err(ExplainError(format!(
            "`{ns}` is not a valid namespace name"
        )));
    }
    let rest = rest.trim();
    if rest == "{}" {
        return Ok(EndpointArg::Labels {
            namespace: ns.to_string(),
            labels: BTreeMap::new(),
        });
    }
    if !rest.contains('=') {
        if rest.is_empty() {
            return Err(ExplainError(format!(
                "`{s}` names no pod; write `{ns}/POD`, `{ns}/LABEL=VALUE` or `{ns}/{{}}`"
            )));
        }
        return Ok(EndpointArg::Pod {
            namespace: ns.to_string(),
            name: rest.to_string(),
        });
    }
    let mut labels = BTreeMap::new();
    for part in rest.split(',').map(str::trim) {
        let Some((k, v)) = part.split_once('=') else {
            return Err(ExplainError(format!("`{part}` is not a label; a pod given by labels is written `{ns}/KEY=VALUE,KEY=VALUE`")));
        };
        let (k, v) = (k.trim(), v.trim());
        if !crate::validate::is_label_key(k) {
            return Err(ExplainError(format!("`{k}` is not a valid label key")));
        }
        if !crate::validate::is_label_value(v) {
            return Err(ExplainError(format!("`{v}` is not a valid label value")));
        }
        labels.insert(k.to_string(), v.to_string());
    }
    Ok(EndpointArg::Labels {
        namespace: ns.to_string(),
        labels,
    })
}

/// Parses `DST:PORT[/PROTO]`: `payments/db-0:5432`, `payments/app=db:pg`,
/// `10.1.2.3:53/udp`, `[2001:db8::1]:443`. `PROTO/PORT` (`udp/53`) is read
/// too.
pub fn parse_target(s: &str) -> Result<TargetArg, ExplainError> {
    let s = s.trim();
    let Some((ep, port)) = s.rsplit_once(':') else {
        return Err(ExplainError(format!(
            "`{s}` has no port; write `{s}:PORT` or `{s}:PORT/udp`"
        )));
    };
    if ep.contains(':') && !ep.starts_with('[') {
        return Err(ExplainError(format!(
            "write an IPv6 destination in brackets: `[{ep}]:{port}`"
        )));
    }
    let endpoint = parse_endpoint(ep)?;
    let (a, b) = match port.split_once('/') {
        Some((a, b)) => (a.trim(), Some(b.trim())),
        None => (port.trim(), None),
    };
    // PORT/PROTO, or PROTO/PORT as `.npl` writes it
    let (port_s, proto) = match b {
        None => (a, None),
        Some(b) => match (Protocol::parse(b), Protocol::parse(a)) {
            (Some(p), _) => (a, Some(p)),
            (None, Some(p)) => (b, Some(p)),
            (None, None) => {
                return Err(ExplainError(format!(
                    "`{b}` is not a protocol (write `tcp`, `udp` or `sctp`)"
                )))
            }
        },
    };
    let port = if port_s.chars().all(|c| c.is_ascii_digit()) && !port_s.is_empty() {
        match port_s.parse::<u16>() {
            Ok(n) if n >= 1 => PortArg::Number(n),
            _ => {
                return Err(ExplainError(format!(
                    "port `{port_s}` is out of range (1 to 65535)"
                )))
            }
        }
    } else if !port_s.is_empty()
        && port_s
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        PortArg::Name(port_s.to_string())
    } else {
        return Err(ExplainError(format!(
            "`{port_s}` is not a port number or a port name"
        )));
    };
    Ok(TargetArg {
        endpoint,
        port,
        protocol: proto,
    })
}

/// Everything `nplc explain` prints.
#[derive(Debug, Clone)]
pub struct Explanation {
    /// The population the question was answered in (with made-up pods).
    pub population: Population,
    pub connection: Connection,
    /// How the endpoints were written, for display.
    pub src_name: String,
    pub dst_name: String,
    pub intent: IntentVerdict,
    pub kubernetes: K8sVerdict,
    /// Generated policies (`ns/name`) that select the source pod and the
    /// destination pod.
    pub src_policies: Vec<String>,
    pub dst_policies: Vec<String>,
}

impl Explanation {
    /// The program and the generated policies give the same answer.
    pub fn agrees(&self) -> bool {
        self.intent.allowed == self.kubernetes.allowed
    }
}

/// The name a made-up pod gets: its labels in braces.
fn made_up_name(labels: &BTreeMap<String, String>) -> String {
    let shown: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!("{{{}}}", shown.join(","))
}

/// Adds a made-up pod to the population (once, however often it is named).
fn add_made_up(pop: &mut Population, arg: &EndpointArg) {
    if let EndpointArg::Labels { namespace, labels } = arg {
        let name = made_up_name(labels);
        if pop.pod_index(namespace, &name).is_none() {
            pop.insert_pod(PodInfo {
                namespace: namespace.clone(),
                name,
                labels: labels.clone(),
                ports: vec![],
            });
        }
    }
}

/// The pod of the population whose name is closest to `namespace/name`: in
/// that namespace first, else in any.
fn closest_pod(pop: &Population, namespace: &str, name: &str) -> Option<String> {
    let here: Vec<&str> = pop
        .pods
        .iter()
        .filter(|p| p.namespace == namespace)
        .map(|p| p.name.as_str())
        .collect();
    if let Some(n) = crate::diag::did_you_mean(name, here) {
        return Some(format!("{namespace}/{n}"));
    }
    let all: Vec<String> = pop
        .pods
        .iter()
        .map(|p| format!("{}/{}", p.namespace, p.name))
        .collect();
    crate::diag::did_you_mean(
        &format!("{namespace}/{name}"),
        all.iter().map(String::as_str),
    )
    .map(str::to_string)
}

/// The endpoint an argument names, once every made-up pod is in `pop`.
fn resolve(
    pop: &Population,
    arg: &EndpointArg,
    have_pods: bool,
) -> Result<(Endpoint, String), ExplainError> {
    match arg {
        EndpointArg::Address(a) => Ok((Endpoint::External(*a), a.to_string())),
        EndpointArg::Pod { namespace, name } => {
            match pop.pod_index(namespace, name) {
                Some(i) => Ok((Endpoint::Pod(i), format!("{namespace}/{name}"))),
                None if have_pods => Err(ExplainError(match closest_pod(pop, namespace, name) {
                    Some(close) => format!(
                        "no pod `{namespace}/{name}` in the population; did you mean `{close}`? (or give labels: `{namespace}/app=NAME`)"
                    ),
                    None => format!(
                        "no pod `{namespace}/{name}` in the population; name a pod of the file, or give labels: `{namespace}/app=NAME`"
                    ),
                })),
                None => Err(ExplainError(format!(
                    "`{namespace}/{name}` names a pod, but no population was given; add `--pods FILE`, or give labels: `{namespace}/app=NAME`"
                ))),
            }
        }
        EndpointArg::Labels { namespace, labels } => {
            let name = made_up_name(labels);
            match pop.pod_index(namespace, &name) {
                Some(i) => Ok((Endpoint::Pod(i), format!("{namespace}/{name}"))),
                None => Err(ExplainError(format!("the pod `{namespace}/{name}` could not be made up"))),
            }
        }
    }
}

/// Answers "may `from` connect to `to`?" for a compilation without errors.
/// `have_pods`: whether a population file was given (for messages).
pub fn explain(
    c: &Compilation,
    pop: &Population,
    have_pods: bool,
    from: &str,
    to: &str,
) -> Result<Explanation, ExplainError> {
    let Some(prog) = &c.program else {
        return Err(ExplainError("the program has errors".to_string()));
    };
    let from = parse_endpoint(from)?;
    let to = parse_target(to)?;
    let mut population = pop.clone();
    add_made_up(&mut population, &from);
    add_made_up(&mut population, &to.endpoint);
    let (src, src_name) = resolve(&population, &from, have_pods)?;
    let (dst, dst_name) = resolve(&population, &to.endpoint, have_pods)?;
    let (protocol, port) = match &to.port {
        PortArg::Number(n) => (to.protocol.unwrap_or(Protocol::Tcp), *n),
        PortArg::Name(name) => {
            let pod = match dst {
                Endpoint::Pod(i) => population.pods.get(i),
                Endpoint::External(_) => None,
            };
            let Some(pod) = pod else {
                return Err(ExplainError(format!(
                    "`{name}` is a port name, and an address has none; give the port number"
                )));
            };
            let found = pod.ports.iter().find(|np| {
                np.name == *name && to.protocol.map(|p| p == np.protocol).unwrap_or(true)
            });
            match found {
                Some(np) => (np.protocol, np.port),
                None => {
                    return Err(ExplainError(format!(
                        "`{dst_name}` has no container port named `{name}`; give the port number"
                    )))
                }
            }
        }
    };
    let connection = Connection {
        src,
        dst,
        protocol,
        port,
    };
    let intent = intent::evaluate(prog, &population, &connection);
    let objects: Vec<_> = c.manifests.iter().map(|m| m.object.clone()).collect();
    let kubernetes = k8s::evaluate(&objects, &population, &connection);
    let selecting = |ep: Endpoint| -> Vec<String> {
        let Endpoint::Pod(i) = ep else { return vec![] };
        let Some(pod) = population.pods.get(i) else {
            return vec![];
        };
        let Some(set) = &c.policies else {
            return vec![];
        };
        set.policies
            .iter()
            .filter(|p| p.namespace == pod.namespace && p.subject.matches(&pod.labels))
            .map(|p| format!("{}/{}", p.namespace, p.name))
            .collect()
    };
    let src_policies = selecting(src);
    let dst_policies = selecting(dst);
    Ok(Explanation {
        population,
        connection,
        src_name,
        dst_name,
        intent,
        kubernetes,
        src_policies,
        dst_policies,
    })
}

fn allowed_word(a: bool) -> &'static str {
    if a {
        "allowed"
    } else {
        "denied"
    }
}

/// `file:line  statement text` for a statement id.
fn statement_line(c: &Compilation, id: usize) -> String {
    let Some(s) = c.program.as_ref().and_then(|p| p.statements.get(id)) else {
        return format!("statement #{id}");
    };
    format!(
        "{}  {}",
        c.sources.location(s.span),
        span_text(&c.sources, s.span)
    )
}

fn span_text(sources: &SourceMap, span: crate::source::Span) -> String {
    let text = sources.text(span.file);
    let s = text.get(span.start..span.end).unwrap_or("");
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn isolation_text(c: &Compilation, ns: &str, dir: &str, iso: &Isolated) -> String {
    match iso {
        Isolated::Posture { span: Some(sp) } => {
            format!(
                "isolated for {dir} by `{}` ({})",
                span_text(&c.sources, *sp),
                c.sources.location(*sp)
            )
        }
        Isolated::Posture { span: None } => {
            format!("isolated for {dir} by `default deny` (no posture is written for `{ns}`)")
        }
        Isolated::Isolate { spans } => {
            let locs: Vec<String> = spans
                .iter()
                .map(|s| {
                    format!(
                        "`{}` ({})",
                        span_text(&c.sources, *s),
                        c.sources.location(*s)
                    )
                })
                .collect();
            format!("isolated for {dir} by {}", locs.join(", "))
        }
    }
}

fn side_lines(c: &Compilation, e: &Explanation, dir: Direction) -> Vec<String> {
    let (v, ep, name) = match dir {
        Direction::Egress => (&e.intent.egress, e.connection.src, &e.src_name),
        Direction::Ingress => (&e.intent.ingress, e.connection.dst, &e.dst_name),
    };
    let dir_word = dir.word();
    let ns = match ep {
        Endpoint::Pod(i) => e
            .population
            .pods
            .get(i)
            .map(|p| p.namespace.clone())
            .unwrap_or_default(),
        Endpoint::External(_) => String::new(),
    };
    let head = |verdict: &str| format!("{dir_word} of {name}: {verdict}");
    let mut out = Vec::new();
    let list = |out: &mut Vec<String>, what: &str, ids: &[usize]| {
        if !ids.is_empty() {
            out.push(format!("  {what}:"));
            for id in ids {
                out.push(format!("    {}", statement_line(c, *id)));
            }
        }
    };
    match v {
        SideVerdict::NoSide => {
            out.push(format!("{dir_word}: none ({name} is an external address)"))
        }
        SideVerdict::Unmanaged => {
            out.push(head("permits"));
            out.push(format!("  namespace `{ns}` is not managed by the program"));
        }
        SideVerdict::Open { allows } => {
            out.push(head("permits"));
            out.push(format!("  namespace `{ns}` is managed; this pod is not isolated for {dir_word} and no deny matches"));
            list(&mut out, "also allowed by", allows);
        }
        SideVerdict::Permitted { by, isolated } => {
            out.push(head("permits"));
            out.push(format!(
                "  namespace `{ns}` is managed; {}",
                isolation_text(c, &ns, dir_word, isolated)
            ));
            list(&mut out, "allowed by", by);
        }
        SideVerdict::NotAllowed { isolated } => {
            out.push(head("refuses"));
            out.push(format!(
                "  namespace `{ns}` is managed; {}",
                isolation_text(c, &ns, dir_word, isolated)
            ));
            out.push("  no allow statement matches".to_string());
        }
        SideVerdict::Refused {
            denied_by,
            allows,
            isolated,
        } => {
            out.push(head("refuses"));
            match isolated {
                Some(iso) => out.push(format!(
                    "  namespace `{ns}` is managed; {}",
                    isolation_text(c, &ns, dir_word, iso)
                )),
                None => out.push(format!(
                    "  namespace `{ns}` is managed; this pod is not isolated for {dir_word}"
                )),
            }
            list(&mut out, "denied by", denied_by);
            list(&mut out, "allowed by (deny wins)", allows);
        }
    }
    out
}

fn k8s_side(s: &k8s::Side) -> String {
    match s {
        k8s::Side::NotApplicable => "none".to_string(),
        k8s::Side::NotIsolated => "not isolated".to_string(),
        k8s::Side::Allowed { policies } => format!("allowed by {}", policies.join(", ")),
        k8s::Side::Denied => "isolated, no rule allows it".to_string(),
    }
}

/// The explanation as `nplc explain` prints it.
pub fn render(c: &Compilation, e: &Explanation) -> String {
    let conn = &e.connection;
    let mut out = vec![format!(
        "{} -> {} {}/{}: {}",
        e.src_name,
        e.dst_name,
        conn.protocol.k8s_name(),
        conn.port,
        allowed_word(e.intent.allowed)
    )];
    out.push(String::new());
    out.extend(side_lines(c, e, Direction::Egress));
    out.extend(side_lines(c, e, Direction::Ingress));
    out.push(String::new());
    for (ep, name, pols) in [
        (conn.src, &e.src_name, &e.src_policies),
        (conn.dst, &e.dst_name, &e.dst_policies),
    ] {
        if let Endpoint::Pod(_) = ep {
            if pols.is_empty() {
                out.push(format!("generated policies selecting {name}: none"));
            } else {
                out.push(format!(
                    "generated policies selecting {name}: {}",
                    pols.join(", ")
                ));
            }
        }
    }
    let k = &e.kubernetes;
    out.push(format!(
        "kubernetes, evaluating the generated policies: {} (egress: {}; ingress: {})",
        allowed_word(k.allowed),
        k8s_side(&k.egress),
        k8s_side(&k.ingress)
    ));
    if e.agrees() {
        out.push("the program and the generated policies agree".to_string());
    } else {
        out.push(format!(
            "error: the program says {} but the generated policies say {}; this is a bug in nplc",
            allowed_word(e.intent.allowed),
            allowed_word(k.allowed)
        ));
    }
    let mut s = out.join("\n");
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::driver::{compile_inputs, Input};
    use crate::population::NamedPort;

    const PROGRAM: &str = "namespace shop {\n  workload web = app=web\n  workload db = app=db\n  allow web -> db:5432\n  allow web -> db:pg\n  allow egress world:443\n  deny egress 169.254.169.254\n}\n";

    fn setup() -> (Compilation, Population) {
        let c = compile_inputs(&[Input {
            name: "shop.npl".into(),
            text: PROGRAM.into(),
        }]);
        assert!(!c.has_errors(), "{:?}", c.diagnostics);
        let mut pop = Population::default();
        pop.insert_namespace("shop", BTreeMap::new());
        pop.insert_pod(PodInfo {
            namespace: "shop".into(),
            name: "web-0".into(),
            labels: [("app".to_string(), "web".to_string())].into(),
            ports: vec![],
        });
        pop.insert_pod(PodInfo {
            namespace: "shop".into(),
            name: "db-0".into(),
            labels: [("app".to_string(), "db".to_string())].into(),
            ports: vec![NamedPort {
                name: "pg".into(),
                port: 6432,
                protocol: Protocol::Tcp,
            }],
        });
        (c, pop)
    }

    #[test]
    fn parses_endpoints_and_targets() {
        assert_eq!(
            parse_endpoint("shop/web-0").unwrap(),
            EndpointArg::Pod {
                namespace: "shop".into(),
                name: "web-0".into()
            }
        );
        assert_eq!(
            parse_endpoint("shop/app=web, tier=front").unwrap(),
            EndpointArg::Labels {
                namespace: "shop".into(),
                labels: [
                    ("app".into(), "web".into()),
                    ("tier".into(), "front".into())
                ]
                .into()
            }
        );
        assert_eq!(
            parse_endpoint("shop/{}").unwrap(),
            EndpointArg::Labels {
                namespace: "shop".into(),
                labels: BTreeMap::new()
            }
        );
        assert!(matches!(
            parse_endpoint("[2001:db8::1]").unwrap(),
            EndpointArg::Address(_)
        ));
        assert!(parse_endpoint("web-0").is_err());
        assert!(parse_endpoint("Shop/web").is_err());
        assert!(parse_endpoint("shop/app=we b").is_err());
        let t = parse_target("10.1.2.3:53/udp").unwrap();
        assert_eq!(
            (t.port, t.protocol),
            (PortArg::Number(53), Some(Protocol::Udp))
        );
        let t = parse_target("shop/db-0:udp/53").unwrap();
        assert_eq!(
            (t.port, t.protocol),
            (PortArg::Number(53), Some(Protocol::Udp))
        );
        let t = parse_target("[2001:db8::1]:443").unwrap();
        assert!(matches!(t.endpoint, EndpointArg::Address(IpAddr::V6(_))));
        assert_eq!(
            parse_target("shop/db-0:pg").unwrap().port,
            PortArg::Name("pg".into())
        );
        assert!(parse_target("shop/db-0").is_err());
        assert!(parse_target("shop/db-0:0").is_err());
        assert!(parse_target("shop/db-0:80/icmp").is_err());
        assert!(parse_target("2001:db8::1:443").is_err());
    }

    #[test]
    fn explains_an_allowed_connection() {
        let (c, pop) = setup();
        let e = explain(&c, &pop, true, "shop/web-0", "shop/db-0:5432").unwrap();
        assert!(e.intent.allowed && e.agrees());
        assert_eq!(e.src_policies, vec!["shop/shop-default", "shop/shop-web"]);
        assert_eq!(e.dst_policies, vec!["shop/shop-db", "shop/shop-default"]);
        let text = render(&c, &e);
        assert!(
            text.starts_with("shop/web-0 -> shop/db-0 TCP/5432: allowed\n"),
            "{text}"
        );
        assert!(
            text.contains("    shop.npl:4  allow web -> db:5432\n"),
            "{text}"
        );
        assert!(
            text.contains("the program and the generated policies agree"),
            "{text}"
        );
    }

    #[test]
    fn named_ports_resolve_on_the_destination() {
        let (c, pop) = setup();
        let e = explain(&c, &pop, true, "shop/web-0", "shop/db-0:pg").unwrap();
        assert_eq!(
            (e.connection.protocol, e.connection.port),
            (Protocol::Tcp, 6432)
        );
        assert_eq!(e.intent.allows, vec![1]);
        assert!(e.intent.allowed);
        assert!(
            explain(&c, &pop, true, "shop/web-0", "shop/app=db:pg").is_err(),
            "a made-up pod has no named ports"
        );
        assert!(explain(&c, &pop, true, "shop/web-0", "shop/db-0:http").is_err());
    }

    #[test]
    fn explains_a_denied_connection_and_made_up_pods() {
        let (c, pop) = setup();
        let e = explain(
            &c,
            &Population::default(),
            false,
            "shop/app=web",
            "169.254.169.254:443",
        )
        .unwrap();
        assert!(!e.intent.allowed && e.agrees());
        assert!(
            matches!(&e.intent.egress, SideVerdict::Refused { denied_by, .. } if denied_by == &[3])
        );
        assert_eq!(e.intent.ingress, SideVerdict::NoSide);
        let text = render(&c, &e);
        assert!(
            text.contains("denied by:\n    shop.npl:7  deny egress 169.254.169.254\n"),
            "{text}"
        );
        assert!(
            text.contains("ingress: none (169.254.169.254 is an external address)"),
            "{text}"
        );
        let e = explain(&c, &pop, true, "shop/db-0", "shop/web-0:80").unwrap();
        assert!(matches!(e.intent.egress, SideVerdict::NotAllowed { .. }));
        assert!(render(&c, &e).contains("no allow statement matches"));
        let err = explain(&c, &pop, true, "shop/nope", "shop/web-0:80").unwrap_err();
        assert!(err.0.contains("no pod `shop/nope`"), "{err:?}");
        assert!(!err.0.contains("did you mean"), "{err:?}");
        // a typo of a pod's name: the closest pod, in its namespace first
        let err = explain(&c, &pop, true, "shop/web-9", "shop/db-0:80").unwrap_err();
        assert!(err.0.contains("did you mean `shop/web-0`?"), "{err:?}");
        let err = explain(&c, &pop, true, "shpo/db-0", "shop/web-0:80").unwrap_err();
        assert!(err.0.contains("did you mean `shop/db-0`?"), "{err:?}");
        let err = explain(
            &c,
            &Population::default(),
            false,
            "shop/web-0",
            "shop/db-0:80",
        )
        .unwrap_err();
        assert!(err.0.contains("--pods"), "{err:?}");
    }
}
