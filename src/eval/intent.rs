//! The intent evaluator: what a checked program means for one connection,
//! read straight from docs/semantics.md. Input: an [`ir::Program`] (the
//! output of checking, before deny compilation), a [`Population`] and a
//! [`Connection`]. Output: an [`IntentVerdict`]: the verdict of each side
//! (source egress, destination ingress), whether the connection succeeds,
//! and which `allow` and `deny` statements decided it.
//!
//! This is a second implementation of the semantics, written independently
//! of deny compilation (src/compile.rs) so that the two can be checked
//! against each other: it never builds policies, it only tests membership.
//! A = the union of the allows, D = the union of the denies, both as sets of
//! connections, each side counting only the statements that decide it (a
//! statement `on ingress` or `on egress` decides that side only); a side of
//! a pod outside every managed namespace permits; an isolated side permits
//! iff the connection is in A and not in D; any other side of a managed pod
//! permits iff the connection is not in D.
//!
//! [`ir::Program`]: crate::ir::Program

use crate::eval::k8s::Connection;
use crate::ir::{Action, Direction};
use crate::ir::{Isolation, LabelSel, PeerSet, PortSet, Program, Statement, NAME_LABEL};
use crate::net::Protocol;
use crate::population::{Dns, Endpoint, PodInfo, Population};
use crate::source::Span;
use std::collections::BTreeMap;

/// Why a side is isolated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Isolated {
    /// By the namespace's posture; `span` is where it is written (`None`:
    /// not written, so `default deny`).
    Posture { span: Option<Span> },
    /// By `isolate` statements (where they are written) whose pods include
    /// this one.
    Isolate { spans: Vec<Span> },
}

/// The verdict of one side of a connection. Statement lists hold
/// [`Statement::id`]s, ascending.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SideVerdict {
    /// The endpoint is an external address: it has no side.
    NoSide,
    /// The pod is in no managed namespace: permits.
    Unmanaged,
    /// Managed, not isolated in this direction, and no deny matches:
    /// permits. `allows`: allows that match (not needed here).
    Open { allows: Vec<usize> },
    /// Isolated, and the allows `by` match while no deny does: permits.
    Permitted { by: Vec<usize>, isolated: Isolated },
    /// Isolated and no allow matches: refuses.
    NotAllowed { isolated: Isolated },
    /// A deny matches: refuses, whatever the allows (`allows`) say.
    Refused {
        denied_by: Vec<usize>,
        allows: Vec<usize>,
        isolated: Option<Isolated>,
    },
}

impl SideVerdict {
    /// Whether this side lets the connection through.
    pub fn permits(&self) -> bool {
        matches!(
            self,
            SideVerdict::NoSide
                | SideVerdict::Unmanaged
                | SideVerdict::Open { .. }
                | SideVerdict::Permitted { .. }
        )
    }
}

/// The meaning of the program for one connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntentVerdict {
    /// The source pod's egress side.
    pub egress: SideVerdict,
    /// The destination pod's ingress side.
    pub ingress: SideVerdict,
    /// Every side the connection has permits.
    pub allowed: bool,
    /// Allow statements that contain the connection (ids, ascending).
    pub allows: Vec<usize>,
    /// Deny statements that contain the connection (ids, ascending).
    pub denies: Vec<usize>,
}

/// Decides `conn` per docs/semantics.md, DNS names resolved by the
/// population's resolver ([`Population::dns`]).
pub fn evaluate(prog: &Program, pop: &Population, conn: &Connection) -> IntentVerdict {
    evaluate_with_dns(prog, pop, &pop.dns, conn)
}

/// Decides a connection *by name* (docs/diff.md, "DNS names"): `src`
/// connects to `addr` on `protocol`/`port`, which it reached as `name`,
/// under a resolver where `name` resolves to `addr` and no other name
/// does. This is what `nplc diff` reports in name terms; under any other
/// resolver a connection to `addr` is permitted exactly when it is
/// permitted by address (no name answering `addr`) or by name for one of
/// the names that answer it.
pub fn evaluate_by_name(
    prog: &Program,
    pop: &Population,
    src: Endpoint,
    name: &str,
    addr: std::net::IpAddr,
    protocol: Protocol,
    port: u16,
) -> IntentVerdict {
    let canonical = name.trim_end_matches('.').to_ascii_lowercase();
    let dns: Dns = BTreeMap::from([(canonical, vec![addr])]);
    let conn = Connection {
        src,
        dst: Endpoint::External(addr),
        protocol,
        port,
    };
    evaluate_with_dns(prog, pop, &dns, &conn)
}

/// Decides `conn` per docs/semantics.md, DNS names resolved by `dns`.
pub fn evaluate_with_dns(
    prog: &Program,
    pop: &Population,
    dns: &Dns,
    conn: &Connection,
) -> IntentVerdict {
    let (allows, denies) = matching_statements_with_dns(prog, pop, dns, conn);
    // each side by the statements that decide it (semantics.md, "Side-scoped statements")
    let deciding = |ids: &[usize], dir: Direction| -> Vec<usize> {
        ids.iter()
            .copied()
            .filter(|i| prog.statements.get(*i).is_some_and(|s| s.decides(dir)))
            .collect()
    };
    let egress = side(
        prog,
        pop,
        conn.src,
        Direction::Egress,
        &deciding(&allows, Direction::Egress),
        &deciding(&denies, Direction::Egress),
    );
    let ingress = side(
        prog,
        pop,
        conn.dst,
        Direction::Ingress,
        &deciding(&allows, Direction::Ingress),
        &deciding(&denies, Direction::Ingress),
    );
    let allowed = egress.permits() && ingress.permits();
    IntentVerdict {
        egress,
        ingress,
        allowed,
        allows,
        denies,
    }
}

/// The allow and the deny statements (ids) whose set of connections holds `conn`.
pub fn matching_statements(
    prog: &Program,
    pop: &Population,
    conn: &Connection,
) -> (Vec<usize>, Vec<usize>) {
    matching_statements_with_dns(prog, pop, &pop.dns, conn)
}

/// [`matching_statements`], DNS names resolved by `dns`.
fn matching_statements_with_dns(
    prog: &Program,
    pop: &Population,
    dns: &Dns,
    conn: &Connection,
) -> (Vec<usize>, Vec<usize>) {
    let mut allows = Vec::new();
    let mut denies = Vec::new();
    for s in &prog.statements {
        if statement_contains_with_dns(s, pop, dns, conn) {
            match s.action {
                Action::Allow => allows.push(s.id),
                Action::Deny => denies.push(s.id),
            }
        }
    }
    allows.sort_unstable();
    denies.sort_unstable();
    (allows, denies)
}

/// Whether the statement's set of connections (any source term × any
/// destination term on that term's ports) holds `conn`.
pub fn statement_contains(s: &Statement, pop: &Population, conn: &Connection) -> bool {
    statement_contains_with_dns(s, pop, &pop.dns, conn)
}

fn statement_contains_with_dns(
    s: &Statement,
    pop: &Population,
    dns: &Dns,
    conn: &Connection,
) -> bool {
    let from = s
        .src
        .iter()
        .any(|t| peer_contains_with_dns(&t.set, pop, dns, conn.src));
    from && s.dst.iter().any(|d| {
        peer_contains_with_dns(&d.set, pop, dns, conn.dst) && ports_contain(&d.ports, pop, conn)
    })
}

/// Whether a peer set holds an endpoint: pods by their namespace's labels
/// and their own, addresses by block, and by the names that resolve to
/// them ([`Population::dns`]) for DNS names.
pub fn peer_contains(set: &PeerSet, pop: &Population, ep: Endpoint) -> bool {
    peer_contains_with_dns(set, pop, &pop.dns, ep)
}

/// [`peer_contains`], DNS names resolved by `dns`.
pub fn peer_contains_with_dns(set: &PeerSet, pop: &Population, dns: &Dns, ep: Endpoint) -> bool {
    match (set, ep) {
        (PeerSet::Pods { namespaces, pods }, Endpoint::Pod(i)) => match pop.pods.get(i) {
            Some(pod) => {
                namespace_matches(namespaces, pop, &pod.namespace) && pods.matches(&pod.labels)
            }
            None => false,
        },
        (PeerSet::External(ips), Endpoint::External(addr)) => ips.contains(&addr),
        // the addresses a matching name resolves to (semantics.md, "DNS names")
        (PeerSet::Names(names), Endpoint::External(addr)) => dns
            .iter()
            .any(|(name, addrs)| addrs.contains(&addr) && names.matches(name)),
        _ => false,
    }
}

/// Whether namespace `ns` matches a namespace selector, by the namespace's
/// labels in the population (which carry `kubernetes.io/metadata.name`). A
/// namespace the population does not list has only that label.
pub fn namespace_matches(sel: &LabelSel, pop: &Population, ns: &str) -> bool {
    match pop.namespaces.get(ns) {
        Some(info) => sel.matches(&info.labels),
        None => sel.matches(&BTreeMap::from([(NAME_LABEL.to_string(), ns.to_string())])),
    }
}

/// Whether a port set holds the connection's protocol and port, named
/// ports resolving on the destination pod (an address has none).
fn ports_contain(ports: &PortSet, pop: &Population, conn: &Connection) -> bool {
    let dst = match conn.dst {
        Endpoint::Pod(i) => pop.pods.get(i),
        Endpoint::External(_) => None,
    };
    ports.contains(conn.protocol, conn.port, &|p, name| {
        dst.and_then(|pod| named_port(pod, p, name))
    })
}

/// The number of the container port called `name` with protocol `proto`.
pub fn named_port(pod: &PodInfo, proto: Protocol, name: &str) -> Option<u16> {
    pod.ports
        .iter()
        .find(|np| np.name == name && np.protocol == proto)
        .map(|np| np.port)
}

/// Whether (and why) a pod is isolated in a direction; `None` when it is
/// not, or is in no managed namespace.
pub fn isolation(prog: &Program, pod: &PodInfo, dir: Direction) -> Option<Isolated> {
    let ns = prog.namespaces.get(&pod.namespace)?;
    if ns.posture.get(dir) {
        return Some(Isolated::Posture {
            span: ns.posture_span,
        });
    }
    let spans: Vec<Span> = ns
        .isolates
        .iter()
        .filter(|i| i.directions.get(dir) && i.pods.iter().any(|sel| sel.matches(&pod.labels)))
        .map(|i| i.span)
        .collect();
    if spans.is_empty() {
        None
    } else {
        Some(Isolated::Isolate { spans })
    }
}

fn side(
    prog: &Program,
    pop: &Population,
    ep: Endpoint,
    dir: Direction,
    allows: &[usize],
    denies: &[usize],
) -> SideVerdict {
    let pod = match ep {
        Endpoint::External(_) => return SideVerdict::NoSide,
        Endpoint::Pod(i) => match pop.pods.get(i) {
            Some(p) => p,
            // an index outside the population names no pod: no side
            None => return SideVerdict::NoSide,
        },
    };
    if !prog.is_managed(&pod.namespace) {
        return SideVerdict::Unmanaged;
    }
    let isolated = isolation(prog, pod, dir);
    if !denies.is_empty() {
        return SideVerdict::Refused {
            denied_by: denies.to_vec(),
            allows: allows.to_vec(),
            isolated,
        };
    }
    match isolated {
        None => SideVerdict::Open {
            allows: allows.to_vec(),
        },
        Some(isolated) if allows.is_empty() => SideVerdict::NotAllowed { isolated },
        Some(isolated) => SideVerdict::Permitted {
            by: allows.to_vec(),
            isolated,
        },
    }
}

/// The posture of a namespace as the program writes it.
pub fn posture_words(p: Isolation) -> &'static str {
    match (p.ingress, p.egress) {
        (true, true) => "default deny",
        (true, false) => "default deny ingress",
        (false, true) => "default deny egress",
        (false, false) => "default allow",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::driver::{compile_inputs, Input};
    use crate::population::{NamedPort, NamespaceInfo};
    use std::collections::BTreeMap;
    use std::net::IpAddr;

    fn program(src: &str) -> Program {
        let c = compile_inputs(&[Input {
            name: "t.npl".into(),
            text: src.into(),
        }]);
        assert!(!c.has_errors(), "{:?}", c.diagnostics);
        c.program.unwrap()
    }

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn pop() -> Population {
        let mut p = Population::default();
        for (ns, team) in [("app", "pay"), ("ops", "ops"), ("other", "x")] {
            let mut l = labels(&[("team", team)]);
            l.insert(NAME_LABEL.into(), ns.into());
            p.namespaces.insert(
                ns.into(),
                NamespaceInfo {
                    name: ns.into(),
                    labels: l,
                },
            );
        }
        let pod = |ns: &str, name: &str, l: &[(&str, &str)], ports: Vec<NamedPort>| PodInfo {
            namespace: ns.into(),
            name: name.into(),
            labels: labels(l),
            ports,
        };
        let http = NamedPort {
            name: "http".into(),
            port: 8080,
            protocol: Protocol::Tcp,
        };
        p.pods = vec![
            pod("app", "api", &[("app", "api")], vec![http]),
            pod("app", "db", &[("app", "db"), ("tier", "data")], vec![]),
            pod("ops", "prom", &[("app", "prom")], vec![]),
            pod("other", "x", &[("app", "api")], vec![]),
            pod("app", "legacy", &[("app", "legacy")], vec![]),
        ];
        p
    }

    fn conn(src: Endpoint, dst: Endpoint, port: u16) -> Connection {
        Connection {
            src,
            dst,
            protocol: Protocol::Tcp,
            port,
        }
    }

    fn ip(s: &str) -> Endpoint {
        Endpoint::External(s.parse::<IpAddr>().unwrap())
    }

    const API: Endpoint = Endpoint::Pod(0);
    const DB: Endpoint = Endpoint::Pod(1);
    const PROM: Endpoint = Endpoint::Pod(2);
    const OTHER: Endpoint = Endpoint::Pod(3);
    const LEGACY: Endpoint = Endpoint::Pod(4);

    #[test]
    fn allow_opens_both_isolated_sides() {
        let p = program("namespace app {\n  allow app=api -> app=db:5432\n}\n");
        let v = evaluate(&p, &pop(), &conn(API, DB, 5432));
        assert!(v.allowed);
        assert_eq!(
            v.egress,
            SideVerdict::Permitted {
                by: vec![0],
                isolated: Isolated::Posture { span: None }
            }
        );
        assert!(matches!(v.ingress, SideVerdict::Permitted { .. }));
        assert!(!evaluate(&p, &pop(), &conn(API, DB, 5433)).allowed);
        let back = evaluate(&p, &pop(), &conn(DB, API, 5432));
        assert!(matches!(back.egress, SideVerdict::NotAllowed { .. }));
        assert!(!back.allowed);
    }

    #[test]
    fn deny_beats_allow_and_closes_open_sides() {
        let p = program("namespace app {\n  default allow\n  allow app=api -> app=db\n  deny app=api -> app=db:5432\n}\n");
        let v = evaluate(&p, &pop(), &conn(API, DB, 5432));
        assert!(!v.allowed);
        assert_eq!(v.denies, vec![1]);
        assert!(
            matches!(&v.egress, SideVerdict::Refused { denied_by, isolated: None, .. } if denied_by == &[1])
        );
        let ok = evaluate(&p, &pop(), &conn(API, DB, 80));
        assert!(ok.allowed);
        assert_eq!(ok.egress, SideVerdict::Open { allows: vec![0] });
    }

    #[test]
    fn unmanaged_and_external_sides() {
        let p = program("namespace app {\n  allow ingress other/*\n  allow egress 10.0.0.0/8 except 10.1.0.0/16\n}\n");
        let v = evaluate(&p, &pop(), &conn(OTHER, API, 1));
        assert!(v.allowed);
        assert_eq!(v.egress, SideVerdict::Unmanaged);
        let v = evaluate(&p, &pop(), &conn(API, ip("10.2.0.1"), 443));
        assert!(v.allowed);
        assert_eq!(v.ingress, SideVerdict::NoSide);
        assert!(!evaluate(&p, &pop(), &conn(API, ip("10.1.0.1"), 443)).allowed);
        assert!(!evaluate(&p, &pop(), &conn(API, ip("2001:db8::1"), 443)).allowed);
        // two external addresses: no side at all
        assert!(evaluate(&p, &pop(), &conn(ip("10.0.0.1"), ip("10.0.0.2"), 1)).allowed);
    }

    #[test]
    fn namespace_labels_and_named_ports() {
        let p = program("namespace app {\n  allow {team=ops}/app=prom -> app=api:http\n}\n");
        assert!(evaluate(&p, &pop(), &conn(PROM, API, 8080)).allowed);
        assert!(!evaluate(&p, &pop(), &conn(PROM, API, 80)).allowed);
        // the egress side of `ops` is unmanaged; `other` does not carry team=ops
        let other_to_api = evaluate(&p, &pop(), &conn(OTHER, API, 8080));
        assert!(!other_to_api.allowed);
        assert!(matches!(
            other_to_api.ingress,
            SideVerdict::NotAllowed { .. }
        ));
        // udp/8080 is not the tcp port `http`
        let udp = Connection {
            src: PROM,
            dst: API,
            protocol: Protocol::Udp,
            port: 8080,
        };
        assert!(!evaluate(&p, &pop(), &udp).allowed);
    }

    /// A DNS name: the addresses its matching names resolve to (any of
    /// several names of one address), never a pod; a deny of a block or of
    /// `world` beats it (semantics.md, "DNS names").
    #[test]
    fn dns_names() {
        let mut pop = pop();
        pop.dns = [
            ("api.stripe.com", "192.0.2.1"),
            ("a.s3.example.com", "10.0.0.5"),
            ("s3.example.com", "192.0.2.9"),
        ]
        .iter()
        .map(|(n, a)| (n.to_string(), vec![a.parse().unwrap()]))
        .collect();
        // up to the IR: the k8s target refuses DNS names (E0504)
        let program = |src: &str| {
            let c = crate::driver::front_end(&[Input {
                name: "t.npl".into(),
                text: src.into(),
            }]);
            assert!(!c.has_errors(), "{:?}", c.diagnostics);
            c.program.unwrap()
        };
        let p = program("namespace app {\n  allow app=api -> (dns:api.stripe.com | dns:*.s3.example.com):443\n}\n");
        assert!(evaluate(&p, &pop, &conn(API, ip("192.0.2.1"), 443)).allowed);
        assert!(evaluate(&p, &pop, &conn(API, ip("10.0.0.5"), 443)).allowed);
        assert!(!evaluate(&p, &pop, &conn(API, ip("10.0.0.5"), 80)).allowed);
        assert!(!evaluate(&p, &pop, &conn(API, ip("192.0.2.9"), 443)).allowed);
        assert!(!evaluate(&p, &pop, &conn(API, DB, 443)).allowed);
        // without answers a name reaches nothing
        let mut none = pop.clone();
        none.dns.clear();
        assert!(!evaluate(&p, &none, &conn(API, ip("192.0.2.1"), 443)).allowed);
        let d = program("namespace app {\n  allow app=api -> dns:*.s3.example.com:443\n  deny egress 10.0.0.0/8\n}\n");
        assert!(!evaluate(&d, &pop, &conn(API, ip("10.0.0.5"), 443)).allowed);
        // by name: the name alone answers the address, whatever the
        // population's resolver says
        let by_name = |p: &Program, name: &str, a: &str| {
            evaluate_by_name(p, &none, API, name, a.parse().unwrap(), Protocol::Tcp, 443).allowed
        };
        assert!(by_name(&p, "api.stripe.com", "203.0.113.9"));
        assert!(by_name(&p, "X.s3.example.com.", "203.0.113.9"));
        assert!(!by_name(&p, "s3.example.com", "203.0.113.9"));
        assert!(by_name(&d, "x.s3.example.com", "192.0.2.1"));
        assert!(!by_name(&d, "x.s3.example.com", "10.0.0.5"));
    }

    #[test]
    fn isolate_statements() {
        let p = program("namespace app {\n  default allow\n  isolate ingress app=legacy\n  allow app=api -> app=legacy:22\n}\n");
        let v = evaluate(&p, &pop(), &conn(DB, LEGACY, 22));
        assert!(!v.allowed);
        assert!(matches!(
            v.ingress,
            SideVerdict::NotAllowed {
                isolated: Isolated::Isolate { .. }
            }
        ));
        assert!(evaluate(&p, &pop(), &conn(API, LEGACY, 22)).allowed);
        assert!(evaluate(&p, &pop(), &conn(DB, API, 22)).allowed);
        assert_eq!(posture_words(p.namespaces["app"].posture), "default allow");
    }
}
