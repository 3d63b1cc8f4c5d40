//! Cilium-semantics evaluator: decides one connection the way Cilium's
//! documentation describes its policy enforcement, for any set of
//! CiliumNetworkPolicy and CiliumClusterwideNetworkPolicy objects (as
//! [`CiliumPolicy`], read back from YAML), not only the ones nplc writes.
//! It is the reference the cilium target's output is checked against
//! (tests/it/cilium.rs), written from the documentation, not from the
//! emitter. Input: the objects, a [`Population`], optionally the DNS names
//! the cluster's resolver gives ([`Dns`]), and a [`Connection`]. Output: a
//! [`CiliumVerdict`] per side and overall.
//!
//! The rules, with the documentation they come from (docs.cilium.io,
//! "Network Policy"; the CRD's field descriptions, vendored in
//! tests/schemas/cilium/):
//!
//! - Policy enforcement mode `default` ("Policy Enforcement Modes"): a pod
//!   is unrestricted in a direction until a policy that selects it has
//!   rules in that direction; then only allowed traffic passes. Here a
//!   policy *has rules* in a direction when its `ingress` or `ingressDeny`
//!   (`egress`, `egressDeny`) list is not empty, and it puts the pod into
//!   default deny for that direction unless `enableDefaultDeny` says
//!   `false` for it (`EnableDefaultDeny`: "If not specified, the default is
//!   true for each traffic direction that has rules"; "default deny will be
//!   enabled if any policy requests it").
//! - Deny rules take precedence over allow rules, whichever policy holds
//!   them ("Deny Policies").
//! - A CiliumNetworkPolicy selects pods of its own namespace only; a
//!   cluster-wide one (no namespace) selects pods of any namespace.
//! - Selectors match a pod's identity labels: its own labels, its
//!   namespace's name as `io.kubernetes.pod.namespace` and each label of its
//!   namespace as `io.cilium.k8s.namespace.labels.<key>`; a key written with
//!   the `k8s:` or `any:` source prefix matches the same label. A
//!   `fromEndpoints`/`toEndpoints` selector that does not name
//!   `io.kubernetes.pod.namespace` is limited to the policy's namespace (a
//!   cluster-wide policy: to pods of any namespace) (Kubernetes
//!   "Namespaces"; the agent's `getEndpointSelector`).
//! - Entities ("Entities based"): `world` is every address outside the
//!   cluster (both families), `all` every peer, `cluster` every pod (and
//!   nodes, which this model has none of), `none` nothing; the other
//!   entities (`host`, `remote-node`, `kube-apiserver`, ...) name no pod and
//!   no external address of this model.
//! - CIDR rules (`fromCIDR`, `fromCIDRSet`, `toCIDR`, `toCIDRSet`) match
//!   external addresses only, never pods ("CIDR rules do not apply to
//!   traffic where both sides of the connection are ... managed by
//!   Cilium"); `except` blocks are taken out of their `cidr`.
//! - `toFQDNs` (egress only) match an external address that a name the
//!   rule matches resolves to ([`Dns`]); like CIDR rules, never a pod.
//!   `matchName` is exact (case-insensitive, trailing dot optional);
//!   `matchPattern` `*` alone matches every name, `**.` every name below,
//!   `*` elsewhere any run of characters within one label.
//! - A rule with no peer field matches every peer; with no `toPorts`, every
//!   port. Different peer fields in one rule must all match (the CRD says
//!   so; nplc writes one per rule).
//! - Ports: `protocol` absent or `ANY` is TCP, UDP and SCTP; `port` `0`
//!   is every port; a number with `endPort` a range; a name is the
//!   destination pod's container port of that name and protocol (exactly
//!   so on ingress, where Cilium resolves it on the pod itself; on egress
//!   Cilium resolves names over the destination identities, which nplc
//!   never relies on). L7 `rules` on a port (DNS) do not narrow what is
//!   allowed here: nplc writes only `matchPattern: "*"`.

use crate::emit::cilium::{CiliumPolicy, PortProtocol, Rule};
use crate::eval::k8s::{matches_selector, Connection};
use crate::ir::Direction;
use crate::net::Protocol;
use crate::population::{Endpoint, Population};
use ipnet::IpNet;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use std::collections::BTreeMap;

pub use crate::population::Dns;

/// What one side of a connection says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CiliumSide {
    /// An external address: no policy applies.
    NotApplicable,
    /// A deny rule of these policies matches.
    Denied { by: Vec<String> },
    /// Not in default deny for the direction, no deny: allowed.
    Open,
    /// In default deny, and these policies allow it.
    Allowed { by: Vec<String> },
    /// In default deny and nothing allows it.
    NotAllowed,
}

impl CiliumSide {
    pub fn permits(&self) -> bool {
        matches!(
            self,
            CiliumSide::NotApplicable | CiliumSide::Open | CiliumSide::Allowed { .. }
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CiliumVerdict {
    pub egress: CiliumSide,
    pub ingress: CiliumSide,
    pub allowed: bool,
}

/// Decides `c` under `policies`, `toFQDNs` resolved by the population's
/// DNS answers ([`Population::dns`]).
pub fn evaluate(policies: &[CiliumPolicy], pop: &Population, c: &Connection) -> CiliumVerdict {
    evaluate_with_dns(policies, pop, &pop.dns, c)
}

/// Decides `c` under `policies`, `toFQDNs` resolved by `dns`.
pub fn evaluate_with_dns(
    policies: &[CiliumPolicy],
    pop: &Population,
    dns: &Dns,
    c: &Connection,
) -> CiliumVerdict {
    let egress = side(policies, pop, dns, c, Direction::Egress);
    let ingress = side(policies, pop, dns, c, Direction::Ingress);
    let allowed = egress.permits() && ingress.permits();
    CiliumVerdict {
        egress,
        ingress,
        allowed,
    }
}

const POD_NAMESPACE: &str = "io.kubernetes.pod.namespace";
const NAMESPACE_LABELS: &str = "io.cilium.k8s.namespace.labels.";

/// The identity labels of pod `i` (no source prefix).
fn identity(pop: &Population, i: usize) -> Option<BTreeMap<String, String>> {
    let pod = pop.pods.get(i)?;
    let mut l = pod.labels.clone();
    l.insert(POD_NAMESPACE.to_string(), pod.namespace.clone());
    for (k, v) in pop.namespace_labels(&pod.namespace) {
        l.insert(format!("{NAMESPACE_LABELS}{k}"), v);
    }
    Some(l)
}

/// The key without a `k8s:` or `any:` source prefix.
fn plain(key: &str) -> &str {
    key.strip_prefix("k8s:")
        .or_else(|| key.strip_prefix("any:"))
        .unwrap_or(key)
}

fn normalized(sel: &LabelSelector) -> LabelSelector {
    let mut s = sel.clone();
    if let Some(m) = &sel.match_labels {
        s.match_labels = Some(
            m.iter()
                .map(|(k, v)| (plain(k).to_string(), v.clone()))
                .collect(),
        );
    }
    if let Some(e) = &mut s.match_expressions {
        for r in e.iter_mut() {
            r.key = plain(&r.key).to_string();
        }
    }
    s
}

fn names_namespace(sel: &LabelSelector) -> bool {
    let s = normalized(sel);
    s.match_labels
        .as_ref()
        .is_some_and(|m| m.contains_key(POD_NAMESPACE))
        || s.match_expressions
            .as_ref()
            .is_some_and(|e| e.iter().any(|r| r.key == POD_NAMESPACE))
}

fn policy_namespace(p: &CiliumPolicy) -> Option<&str> {
    if p.kind == "CiliumClusterwideNetworkPolicy" {
        None
    } else {
        Some(p.metadata.namespace.as_deref().unwrap_or("default"))
    }
}

fn policy_ref(p: &CiliumPolicy) -> String {
    format!(
        "{}/{}",
        p.metadata.namespace.as_deref().unwrap_or(""),
        p.metadata.name.as_deref().unwrap_or("")
    )
}

/// Whether the policy's `endpointSelector` selects pod `i`.
fn selects(p: &CiliumPolicy, pop: &Population, i: usize) -> bool {
    let Some(pod) = pop.pods.get(i) else {
        return false;
    };
    if let Some(ns) = policy_namespace(p) {
        if pod.namespace != ns {
            return false;
        }
    }
    identity(pop, i).is_some_and(|l| matches_selector(&normalized(&p.spec.endpoint_selector), &l))
}

/// Whether an endpoint selector of a rule of `p` matches the peer.
fn endpoint_matches(
    p: &CiliumPolicy,
    sel: &LabelSelector,
    pop: &Population,
    peer: Endpoint,
) -> bool {
    let Endpoint::Pod(i) = peer else {
        return false;
    };
    let Some(pod) = pop.pods.get(i) else {
        return false;
    };
    if !names_namespace(sel) {
        if let Some(ns) = policy_namespace(p) {
            if pod.namespace != ns {
                return false;
            }
        }
    }
    identity(pop, i).is_some_and(|l| matches_selector(&normalized(sel), &l))
}

fn entity_matches(e: &str, peer: Endpoint) -> bool {
    match e {
        "all" => true,
        "world" | "world-ipv4" | "world-ipv6" => match peer {
            Endpoint::External(a) => match e {
                "world-ipv4" => a.is_ipv4(),
                "world-ipv6" => a.is_ipv6(),
                _ => true,
            },
            Endpoint::Pod(_) => false,
        },
        "cluster" => matches!(peer, Endpoint::Pod(_)),
        _ => false,
    }
}

fn cidr_contains(cidr: &str, except: &[String], peer: Endpoint) -> bool {
    let Endpoint::External(a) = peer else {
        return false;
    };
    let Ok(net) = cidr.parse::<IpNet>() else {
        return false;
    };
    net.contains(&a)
        && !except
            .iter()
            .any(|e| e.parse::<IpNet>().is_ok_and(|x| x.contains(&a)))
}

/// Whether a DNS name matches a `toFQDNs` pattern (lower case, no trailing dot).
pub fn pattern_matches(pattern: &str, name: &str) -> bool {
    let p = pattern.trim_end_matches('.').to_ascii_lowercase();
    let n = name.trim_end_matches('.').to_ascii_lowercase();
    if p == "*" {
        return true;
    }
    if let Some(rest) = p.strip_prefix("**.") {
        return n.ends_with(&format!(".{rest}")) && n.len() > rest.len() + 1;
    }
    let pl: Vec<&str> = p.split('.').collect();
    let nl: Vec<&str> = n.split('.').collect();
    pl.len() == nl.len() && pl.iter().zip(&nl).all(|(a, b)| glob(a, b))
}

/// `*` as any run of characters within one label.
fn glob(p: &str, s: &str) -> bool {
    match p.split_once('*') {
        None => p == s,
        Some((head, tail)) => {
            if !s.starts_with(head) {
                return false;
            }
            let rest = &s[head.len()..];
            (0..=rest.len()).any(|k| rest.is_char_boundary(k) && glob(tail, &rest[k..]))
        }
    }
}

fn fqdn_matches(rule: &Rule, dns: &Dns, peer: Endpoint) -> bool {
    let Endpoint::External(a) = peer else {
        return false;
    };
    let Some(list) = &rule.to_fqdns else {
        return false;
    };
    dns.iter()
        .filter(|(_, addrs)| addrs.contains(&a))
        .any(|(name, _)| {
            list.iter().any(|f| {
                f.match_name.as_ref().is_some_and(|m| {
                    m.trim_end_matches('.')
                        .eq_ignore_ascii_case(name.trim_end_matches('.'))
                }) || f
                    .match_pattern
                    .as_ref()
                    .is_some_and(|m| pattern_matches(m, name))
            })
        })
}

/// Whether the rule's peer fields (the `from*` on ingress, the `to*` on
/// egress) all match the peer; a rule with none matches every peer.
fn peer_matches(
    p: &CiliumPolicy,
    r: &Rule,
    pop: &Population,
    dns: &Dns,
    peer: Endpoint,
    dir: Direction,
) -> bool {
    let (eps, cidrs, cidr, ents) = match dir {
        Direction::Ingress => (
            &r.from_endpoints,
            &r.from_cidr_set,
            &r.from_cidr,
            &r.from_entities,
        ),
        Direction::Egress => (&r.to_endpoints, &r.to_cidr_set, &r.to_cidr, &r.to_entities),
    };
    let fqdns = if dir == Direction::Egress {
        r.to_fqdns.as_ref()
    } else {
        None
    };
    let mut any = false;
    let mut all = true;
    if let Some(v) = eps {
        any = true;
        all &= v.iter().any(|s| endpoint_matches(p, s, pop, peer));
    }
    if let Some(v) = cidrs {
        any = true;
        all &= v
            .iter()
            .any(|c| cidr_contains(&c.cidr, c.except.as_deref().unwrap_or(&[]), peer));
    }
    if let Some(v) = cidr {
        any = true;
        all &= v.iter().any(|c| cidr_contains(c, &[], peer));
    }
    if let Some(v) = ents {
        any = true;
        all &= v.iter().any(|e| entity_matches(e, peer));
    }
    if fqdns.is_some() {
        any = true;
        all &= fqdn_matches(r, dns, peer);
    }
    !any || all
}

fn protocols(p: &Option<String>) -> Vec<Protocol> {
    match p.as_deref() {
        None | Some("") | Some("ANY") => Protocol::ALL.to_vec(),
        Some("TCP") => vec![Protocol::Tcp],
        Some("UDP") => vec![Protocol::Udp],
        Some("SCTP") => vec![Protocol::Sctp],
        Some(_) => vec![],
    }
}

fn port_matches(pp: &PortProtocol, pop: &Population, c: &Connection) -> bool {
    if !protocols(&pp.protocol).contains(&c.protocol) {
        return false;
    }
    match pp.port.parse::<u32>() {
        Ok(0) => true,
        Ok(lo) => {
            let hi = pp
                .end_port
                .map(|e| e.max(0) as u32)
                .filter(|&e| e >= lo)
                .unwrap_or(lo);
            (lo..=hi).contains(&(c.port as u32))
        }
        Err(_) => match c.dst {
            Endpoint::Pod(i) => pop.pods.get(i).is_some_and(|pod| {
                pod.ports
                    .iter()
                    .any(|np| np.name == pp.port && np.protocol == c.protocol && np.port == c.port)
            }),
            Endpoint::External(_) => false,
        },
    }
}

fn ports_match(r: &Rule, pop: &Population, c: &Connection) -> bool {
    match &r.to_ports {
        None => true,
        Some(v) if v.is_empty() => true,
        Some(v) => v
            .iter()
            .any(|pr| pr.ports.is_empty() || pr.ports.iter().any(|pp| port_matches(pp, pop, c))),
    }
}

fn side(
    policies: &[CiliumPolicy],
    pop: &Population,
    dns: &Dns,
    c: &Connection,
    dir: Direction,
) -> CiliumSide {
    let (subject, peer) = match dir {
        Direction::Egress => (c.src, c.dst),
        Direction::Ingress => (c.dst, c.src),
    };
    let Endpoint::Pod(i) = subject else {
        return CiliumSide::NotApplicable;
    };
    let mut default_deny = false;
    let mut denied = Vec::new();
    let mut allowed = Vec::new();
    for p in policies.iter().filter(|p| selects(p, pop, i)) {
        let (allow, deny, enable) = match dir {
            Direction::Ingress => (
                &p.spec.ingress,
                &p.spec.ingress_deny,
                p.spec.enable_default_deny.as_ref().and_then(|d| d.ingress),
            ),
            Direction::Egress => (
                &p.spec.egress,
                &p.spec.egress_deny,
                p.spec.enable_default_deny.as_ref().and_then(|d| d.egress),
            ),
        };
        let allow = allow.as_deref().unwrap_or(&[]);
        let deny = deny.as_deref().unwrap_or(&[]);
        let has_rules = !allow.is_empty() || !deny.is_empty();
        if has_rules && enable.unwrap_or(true) {
            default_deny = true;
        }
        let hit = |r: &Rule| peer_matches(p, r, pop, dns, peer, dir) && ports_match(r, pop, c);
        if deny.iter().any(hit) {
            denied.push(policy_ref(p));
        }
        if allow.iter().any(hit) {
            allowed.push(policy_ref(p));
        }
    }
    if !denied.is_empty() {
        CiliumSide::Denied { by: denied }
    } else if !default_deny {
        CiliumSide::Open
    } else if allowed.is_empty() {
        CiliumSide::NotAllowed
    } else {
        CiliumSide::Allowed { by: allowed }
    }
}

#[cfg(test)]
mod tests {
    //! Cases written from Cilium's documentation (the section each comes
    //! from is named), on a small population.
    use super::*;
    use crate::population::{NamedPort, PodInfo};

    fn pop() -> Population {
        let mut p = Population::default();
        p.insert_namespace("default", [("team".to_string(), "a".to_string())].into());
        p.insert_namespace("other", BTreeMap::new());
        let pod = |ns: &str, name: &str, labels: &[(&str, &str)], ports: Vec<NamedPort>| PodInfo {
            namespace: ns.into(),
            name: name.into(),
            labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ports,
        };
        p.insert_pod(pod(
            "default",
            "backend",
            &[("role", "backend")],
            vec![NamedPort {
                name: "http".into(),
                port: 8080,
                protocol: Protocol::Tcp,
            }],
        ));
        p.insert_pod(pod("default", "frontend", &[("role", "frontend")], vec![]));
        p.insert_pod(pod("other", "frontend", &[("role", "frontend")], vec![]));
        p
    }

    fn policies(yaml: &str) -> Vec<CiliumPolicy> {
        yaml.split("---")
            .filter(|d| !d.trim().is_empty())
            .map(|d| serde_yaml::from_str(d).unwrap())
            .collect()
    }

    fn ep(pop: &Population, ns: &str, name: &str) -> Endpoint {
        Endpoint::Pod(pop.pod_index(ns, name).unwrap())
    }

    fn conn(src: Endpoint, dst: Endpoint, port: u16) -> Connection {
        Connection {
            src,
            dst,
            protocol: Protocol::Tcp,
            port,
        }
    }

    fn ext(s: &str) -> Endpoint {
        Endpoint::External(s.parse().unwrap())
    }

    /// "Layer 3 Policies", Simple Ingress Allow: frontend may reach backend;
    /// backend is in default deny for ingress, frontend's egress is open.
    #[test]
    fn simple_ingress_allow() {
        let p = pop();
        let ps = policies(
            "apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: l3-rule, namespace: default}\nspec:\n  endpointSelector: {matchLabels: {role: backend}}\n  ingress:\n  - fromEndpoints:\n    - matchLabels: {role: frontend}\n",
        );
        let (b, f, of) = (
            ep(&p, "default", "backend"),
            ep(&p, "default", "frontend"),
            ep(&p, "other", "frontend"),
        );
        assert!(evaluate(&ps, &p, &conn(f, b, 80)).allowed);
        // the selector without a namespace is the policy's namespace ("Namespaces")
        assert!(!evaluate(&ps, &p, &conn(of, b, 80)).allowed);
        // backend's egress has no rules: open
        assert_eq!(evaluate(&ps, &p, &conn(b, f, 80)).egress, CiliumSide::Open);
        // the world is not a frontend
        assert!(!evaluate(&ps, &p, &conn(ext("1.2.3.4"), b, 80)).allowed);
    }

    /// "Deny Policies": a deny beats an allow from any policy; a deny-only
    /// policy puts the pod in default deny unless `enableDefaultDeny` is false.
    #[test]
    fn deny_precedence_and_enable_default_deny() {
        let p = pop();
        let (b, f) = (ep(&p, "default", "backend"), ep(&p, "default", "frontend"));
        let allow_all = "apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: all, namespace: default}\nspec:\n  endpointSelector: {}\n  ingress:\n  - fromEntities: [all]\n";
        let deny80 = "apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: deny, namespace: default}\nspec:\n  endpointSelector: {matchLabels: {role: backend}}\n  ingressDeny:\n  - toPorts:\n    - ports: [{port: '80', protocol: TCP}]\n";
        let ps = policies(&format!("{allow_all}---\n{deny80}"));
        assert!(!evaluate(&ps, &p, &conn(f, b, 80)).allowed);
        assert!(evaluate(&ps, &p, &conn(f, b, 81)).allowed);
        // the deny alone: default deny for ingress, so 81 is refused too
        let alone = policies(deny80);
        assert!(!evaluate(&alone, &p, &conn(f, b, 81)).allowed);
        // with enableDefaultDeny.ingress false, only the deny applies
        let soft =
            policies(&deny80.replace("spec:\n", "spec:\n  enableDefaultDeny: {ingress: false}\n"));
        assert!(evaluate(&soft, &p, &conn(f, b, 81)).allowed);
        assert!(!evaluate(&soft, &p, &conn(f, b, 80)).allowed);
    }

    /// "Entities based" and "IP/CIDR based": `world` is every external
    /// address of both families and no pod; CIDR rules never match pods;
    /// `none` matches nothing but still isolates ("Ingress/Egress Default Deny").
    #[test]
    fn entities_and_cidrs() {
        let p = pop();
        let (b, f) = (ep(&p, "default", "backend"), ep(&p, "default", "frontend"));
        let world = policies("apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: w, namespace: default}\nspec:\n  endpointSelector: {matchLabels: {role: frontend}}\n  egress:\n  - toEntities: [world]\n");
        assert!(evaluate(&world, &p, &conn(f, ext("8.8.8.8"), 53)).allowed);
        assert!(evaluate(&world, &p, &conn(f, ext("2001:db8::1"), 53)).allowed);
        assert!(!evaluate(&world, &p, &conn(f, b, 53)).allowed);
        let cidr = policies("apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: c, namespace: default}\nspec:\n  endpointSelector: {matchLabels: {role: frontend}}\n  egress:\n  - toCIDRSet:\n    - cidr: 0.0.0.0/0\n      except: [10.0.0.0/8]\n");
        assert!(evaluate(&cidr, &p, &conn(f, ext("8.8.8.8"), 1)).allowed);
        assert!(!evaluate(&cidr, &p, &conn(f, ext("10.1.2.3"), 1)).allowed);
        assert!(!evaluate(&cidr, &p, &conn(f, ext("2001:db8::1"), 1)).allowed);
        // a CIDR that holds every address still matches no pod
        assert!(!evaluate(&cidr, &p, &conn(f, b, 1)).allowed);
        let none = policies("apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: n, namespace: default}\nspec:\n  endpointSelector: {}\n  egress:\n  - toEntities: [none]\n");
        assert_eq!(
            evaluate(&none, &p, &conn(f, b, 1)).egress,
            CiliumSide::NotAllowed
        );
        assert!(evaluate(&none, &p, &conn(f, b, 1)).ingress.permits());
    }

    /// Namespace labels and names in selectors ("Kubernetes: Namespaces"),
    /// port ranges and named ports ("Layer 4 Policies").
    #[test]
    fn namespaces_ports_and_names() {
        let p = pop();
        let (b, f, of) = (
            ep(&p, "default", "backend"),
            ep(&p, "default", "frontend"),
            ep(&p, "other", "frontend"),
        );
        let ps = policies("apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: x, namespace: default}\nspec:\n  endpointSelector: {matchLabels: {role: backend}}\n  ingress:\n  - fromEndpoints:\n    - matchLabels: {k8s:io.kubernetes.pod.namespace: other}\n    toPorts:\n    - ports: [{port: '80', endPort: 90, protocol: TCP}]\n  - fromEndpoints:\n    - matchLabels: {k8s:io.cilium.k8s.namespace.labels.team: a}\n      matchExpressions: [{key: k8s:io.kubernetes.pod.namespace, operator: Exists}]\n    toPorts:\n    - ports: [{port: http, protocol: TCP}]\n");
        assert!(evaluate(&ps, &p, &conn(of, b, 85)).allowed);
        assert!(!evaluate(&ps, &p, &conn(of, b, 91)).allowed);
        assert!(!evaluate(&ps, &p, &conn(f, b, 85)).allowed);
        // `http` is 8080 on the backend; `default` carries team=a
        assert!(evaluate(&ps, &p, &conn(f, b, 8080)).allowed);
        assert!(!evaluate(&ps, &p, &conn(of, b, 8080)).allowed);
        let udp = Connection {
            protocol: Protocol::Udp,
            ..conn(f, b, 8080)
        };
        assert!(!evaluate(&ps, &p, &udp).allowed);
    }

    /// "DNS based": `toFQDNs` matches the addresses the names resolve to,
    /// patterns as documented.
    #[test]
    fn fqdns() {
        assert!(pattern_matches("*.cilium.io", "sub.cilium.io"));
        assert!(!pattern_matches("*.cilium.io", "cilium.io"));
        assert!(!pattern_matches("*.cilium.io", "sub.sub.cilium.io"));
        assert!(pattern_matches("part*ial.com", "partial.com"));
        assert!(pattern_matches("part*ial.com", "part-extra-ial.com"));
        assert!(pattern_matches("**.cilium.io", "test.app.cilium.io"));
        assert!(!pattern_matches("**.cilium.io", "cilium.io"));
        assert!(pattern_matches("*", "example.com"));
        let p = pop();
        let f = ep(&p, "default", "frontend");
        let ps = policies("apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: f, namespace: default}\nspec:\n  endpointSelector: {}\n  egress:\n  - toFQDNs: [{matchName: api.example.com}]\n    toPorts: [{ports: [{port: '443', protocol: TCP}]}]\n");
        let dns: Dns = [(
            "api.example.com".to_string(),
            vec!["192.0.2.1".parse().unwrap()],
        )]
        .into();
        assert!(evaluate_with_dns(&ps, &p, &dns, &conn(f, ext("192.0.2.1"), 443)).allowed);
        assert!(!evaluate_with_dns(&ps, &p, &dns, &conn(f, ext("192.0.2.2"), 443)).allowed);
        assert!(!evaluate(&ps, &p, &conn(f, ext("192.0.2.1"), 443)).allowed);
        // the population's answers are the default
        let mut with = p.clone();
        with.dns = dns.clone();
        assert!(evaluate(&ps, &with, &conn(f, ext("192.0.2.1"), 443)).allowed);
        // only the port of the rule
        assert!(!evaluate(&ps, &with, &conn(f, ext("192.0.2.1"), 80)).allowed);
    }

    /// "DNS based": `matchName` and `matchPattern` (a `*` label), the
    /// addresses of every matching name (two names may share one);
    /// "Deny Policies": a CIDR deny beats an FQDN allow; like CIDR rules,
    /// `toFQDNs` never matches a pod, even one whose address a name
    /// resolves to in no model of ours (a pod has no external address).
    #[test]
    fn fqdn_names_patterns_deny_and_pods() {
        let mut p = pop();
        p.dns = [
            ("api.example.com", "192.0.2.1"),
            ("a.s3.example.com", "192.0.2.2"),
            ("b.s3.example.com", "192.0.2.1"),
            ("s3.example.com", "192.0.2.3"),
            ("x.a.s3.example.com", "192.0.2.4"),
            ("other.org", "10.0.0.1"),
        ]
        .iter()
        .map(|(n, a)| (n.to_string(), vec![a.parse().unwrap()]))
        .collect();
        let (b, f) = (ep(&p, "default", "backend"), ep(&p, "default", "frontend"));
        let allow = "apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: f, namespace: default}\nspec:\n  endpointSelector: {matchLabels: {role: frontend}}\n  egress:\n  - toFQDNs: [{matchPattern: '*.s3.example.com'}, {matchName: other.org}]\n";
        let ps = policies(allow);
        let ok = |ps: &[CiliumPolicy], a: &str| evaluate(ps, &p, &conn(f, ext(a), 443)).allowed;
        assert!(ok(&ps, "192.0.2.2"));
        // `api.example.com` is not below `s3`, but `b.s3.example.com` has its address
        assert!(ok(&ps, "192.0.2.1"));
        // the suffix itself, and two labels below it, do not match
        assert!(!ok(&ps, "192.0.2.3"));
        assert!(!ok(&ps, "192.0.2.4"));
        assert!(ok(&ps, "10.0.0.1"));
        // a pod is never a name's address
        assert!(!evaluate(&ps, &p, &conn(f, b, 443)).allowed);
        // a deny of the block beats the name
        let deny = "apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: d, namespace: default}\nspec:\n  endpointSelector: {}\n  egressDeny:\n  - toCIDRSet: [{cidr: 10.0.0.0/8}]\n";
        let both = policies(&format!("{allow}---\n{deny}"));
        assert!(!ok(&both, "10.0.0.1"));
        assert!(ok(&both, "192.0.2.2"));
        // and a deny of `world` beats every name
        let world = policies(&format!("{allow}---\n{}", deny.replace("toCIDRSet: [{cidr: 10.0.0.0/8}]", "toEntities: [world]")));
        assert!(!ok(&world, "192.0.2.2"));
    }
}
