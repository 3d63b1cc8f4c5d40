//! Kubernetes-semantics evaluator: decides one connection the way the
//! `networking.k8s.io/v1` NetworkPolicy API documents it, for any set of
//! NetworkPolicy objects (not only the ones nplc emits). It is the reference
//! the compiler's output is checked against, so it favours being obviously
//! right over being fast: every call walks every policy.
//!
//! Input: NetworkPolicy objects, a [`Population`] and a [`Connection`].
//! Output: a [`K8sVerdict`] saying, for the egress side (the source pod) and
//! the ingress side (the destination pod), whether the pod is isolated and
//! which policies allow the connection, and whether it is allowed overall.
//!
//! The rules, as implemented:
//!
//! - A policy applies to the pods of its own namespace (`metadata.namespace`;
//!   a policy without one is taken to be in `default`) matched by
//!   `spec.podSelector` (absent or empty: every pod of the namespace).
//! - Its effective `policyTypes`, when the field is absent or empty, are what
//!   the API server defaults them to: `Ingress`, plus `Egress` when
//!   `spec.egress` has at least one rule. (The API server tests the length, so
//!   `egress: []` without `policyTypes` does not make a policy affect egress.)
//!   Unknown entries are ignored.
//! - A pod is isolated for a direction when some policy applying to it has
//!   that direction in its effective types. A pod that is not isolated allows
//!   everything in that direction; an isolated one allows exactly what some
//!   rule of some such policy allows (rules are additive, order is irrelevant).
//!   `ingress`/`egress` absent or `[]`: no rules.
//! - A rule's `from`/`to` absent or empty matches every peer: all pods of all
//!   namespaces and every external address. `ports` absent or empty matches
//!   every port of every protocol.
//! - A peer with only `podSelector` matches pods of the policy's namespace;
//!   with only `namespaceSelector`, every pod of the matching namespaces; with
//!   both, pods matching the pod selector in namespaces matching the namespace
//!   selector. A peer with `ipBlock` matches the addresses in `cidr` that are
//!   in no `except` block. **In this project's model an `ipBlock` matches only
//!   [`Endpoint::External`] addresses, never pods** (pods have no addresses
//!   here; real clusters may match pod IPs, which is implementation-specific
//!   anyway).
//! - A port entry's protocol defaults to TCP; `port` absent matches every port
//!   of that protocol; a number matches that port, or the inclusive range up
//!   to `endPort`; a name matches when the *destination* pod (for ingress and
//!   egress alike) has a container port of that name and protocol whose number
//!   is the connection's port. A named port never matches an external
//!   destination.
//! - Label selectors: `matchLabels` and `matchExpressions` (`In`, `NotIn` —
//!   which also matches when the key is absent —, `Exists`, `DoesNotExist`)
//!   all must hold; an empty selector matches everything.
//!
//! Objects the API server would reject match nothing where they would allow
//! something (fail closed): a selector with an unknown operator or with
//! values where none belong (or none where some must), a peer with no field
//! or with `ipBlock` next to a selector, an unparsable CIDR, an unknown
//! protocol, an `endPort` without a numeric `port`, or below it.
//! [`validate_policy`] lists such problems.

use crate::net::Protocol;
use crate::population::{Endpoint, Population, DEFAULT_NAMESPACE};
use ipnet::IpNet;
use k8s_openapi::api::networking::v1::{
    IPBlock, NetworkPolicy, NetworkPolicyPeer, NetworkPolicyPort, NetworkPolicySpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, LabelSelectorRequirement};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use std::collections::BTreeMap;
use std::net::IpAddr;

/// One connection attempt: `src` opens a connection to `dst` on `port`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Connection {
    pub src: Endpoint,
    pub dst: Endpoint,
    pub protocol: Protocol,
    pub port: u16,
}

pub use crate::ir::Direction;

/// What one side of a connection says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Side {
    /// The endpoint on this side is external: no policy can apply to it.
    NotApplicable,
    /// No policy isolates the pod for this direction: allowed.
    NotIsolated,
    /// Isolated, and allowed by a rule of each of these policies
    /// (`namespace/name`, in the order given to [`evaluate`]).
    Allowed { policies: Vec<String> },
    /// Isolated, and no rule allows the connection.
    Denied,
}

impl Side {
    /// Whether this side lets the connection through.
    pub fn permits(&self) -> bool {
        !matches!(self, Side::Denied)
    }
}

/// The decision for one connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct K8sVerdict {
    /// The source pod's egress side.
    pub egress: Side,
    /// The destination pod's ingress side.
    pub ingress: Side,
    /// True iff every applicable side permits the connection.
    pub allowed: bool,
}

/// Decides `c` under `policies` in the population `pop`.
pub fn evaluate(policies: &[NetworkPolicy], pop: &Population, c: &Connection) -> K8sVerdict {
    let egress = side(policies, pop, c, Direction::Egress);
    let ingress = side(policies, pop, c, Direction::Ingress);
    let allowed = egress.permits() && ingress.permits();
    K8sVerdict {
        egress,
        ingress,
        allowed,
    }
}

/// One side of [`evaluate`]: the egress side of the source or the ingress
/// side of the destination.
pub fn side(policies: &[NetworkPolicy], pop: &Population, c: &Connection, dir: Direction) -> Side {
    let (subject, peer) = match dir {
        Direction::Egress => (c.src, c.dst),
        Direction::Ingress => (c.dst, c.src),
    };
    let pod = match subject {
        Endpoint::External(_) => return Side::NotApplicable,
        Endpoint::Pod(i) => i,
    };
    let mut isolated = false;
    let mut allowing = Vec::new();
    for policy in policies {
        let Some(spec) = policy.spec.as_ref() else {
            // A policy without a spec selects every pod of its namespace and
            // affects ingress only, with no rules.
            if dir == Direction::Ingress && pod_in_namespace(pop, pod, policy_namespace(policy)) {
                isolated = true;
            }
            continue;
        };
        if !effective_policy_types(spec).contains(&dir) || !selects_pod(policy, pop, pod) {
            continue;
        }
        isolated = true;
        if policy_allows(policy, spec, pop, dir, peer, c) {
            let name = policy_ref(policy);
            if !allowing.contains(&name) {
                allowing.push(name);
            }
        }
    }
    if !isolated {
        Side::NotIsolated
    } else if allowing.is_empty() {
        Side::Denied
    } else {
        Side::Allowed { policies: allowing }
    }
}

/// The namespace a policy lives in (`default` when the object names none).
pub fn policy_namespace(policy: &NetworkPolicy) -> &str {
    match policy.metadata.namespace.as_deref() {
        Some(ns) if !ns.is_empty() => ns,
        _ => DEFAULT_NAMESPACE,
    }
}

/// `namespace/name` of a policy.
pub fn policy_ref(policy: &NetworkPolicy) -> String {
    format!(
        "{}/{}",
        policy_namespace(policy),
        policy.metadata.name.as_deref().unwrap_or("")
    )
}

/// The directions a policy affects, after API-server defaulting (see the
/// module documentation). Sorted: ingress before egress.
pub fn effective_policy_types(spec: &NetworkPolicySpec) -> Vec<Direction> {
    let mut dirs = Vec::new();
    match spec.policy_types.as_deref() {
        Some(types) if !types.is_empty() => {
            if types.iter().any(|t| t == "Ingress") {
                dirs.push(Direction::Ingress);
            }
            if types.iter().any(|t| t == "Egress") {
                dirs.push(Direction::Egress);
            }
        }
        _ => {
            dirs.push(Direction::Ingress);
            if spec.egress.as_ref().is_some_and(|rules| !rules.is_empty()) {
                dirs.push(Direction::Egress);
            }
        }
    }
    dirs
}

/// Whether `policy` applies to the pod at `pod` (same namespace, pod
/// selector matches). The direction is not considered.
pub fn selects_pod(policy: &NetworkPolicy, pop: &Population, pod: usize) -> bool {
    let Some(info) = pop.pods.get(pod) else {
        return false;
    };
    if info.namespace != policy_namespace(policy) {
        return false;
    }
    match policy.spec.as_ref().and_then(|s| s.pod_selector.as_ref()) {
        None => true,
        Some(sel) => matches_selector(sel, &info.labels),
    }
}

fn pod_in_namespace(pop: &Population, pod: usize, ns: &str) -> bool {
    pop.pods.get(pod).is_some_and(|p| p.namespace == ns)
}

/// Whether some rule of `policy` for `dir` matches the peer and the port.
fn policy_allows(
    policy: &NetworkPolicy,
    spec: &NetworkPolicySpec,
    pop: &Population,
    dir: Direction,
    peer: Endpoint,
    c: &Connection,
) -> bool {
    let ns = policy_namespace(policy);
    let rule_matches = |peers: Option<&Vec<NetworkPolicyPeer>>,
                        ports: Option<&Vec<NetworkPolicyPort>>| {
        let peer_ok = match peers {
            None => true,
            Some(list) if list.is_empty() => true,
            Some(list) => list.iter().any(|p| peer_matches(p, ns, pop, peer)),
        };
        let port_ok = match ports {
            None => true,
            Some(list) if list.is_empty() => true,
            Some(list) => list.iter().any(|p| port_matches(p, pop, c)),
        };
        peer_ok && port_ok
    };
    match dir {
        Direction::Ingress => spec
            .ingress
            .iter()
            .flatten()
            .any(|r| rule_matches(r.from.as_ref(), r.ports.as_ref())),
        Direction::Egress => spec
            .egress
            .iter()
            .flatten()
            .any(|r| rule_matches(r.to.as_ref(), r.ports.as_ref())),
    }
}

/// Whether one `from`/`to` entry of a policy in namespace `policy_ns`
/// matches `peer`.
pub fn peer_matches(
    p: &NetworkPolicyPeer,
    policy_ns: &str,
    pop: &Population,
    peer: Endpoint,
) -> bool {
    match (&p.pod_selector, &p.namespace_selector, &p.ip_block) {
        (None, None, None) => false,
        (None, None, Some(block)) => match peer {
            Endpoint::External(ip) => ip_block_contains(block, ip),
            Endpoint::Pod(_) => false,
        },
        (_, _, Some(_)) => false,
        (pod_sel, ns_sel, None) => {
            let Endpoint::Pod(i) = peer else {
                return false;
            };
            let Some(pod) = pop.pods.get(i) else {
                return false;
            };
            let ns_ok = match ns_sel {
                None => pod.namespace == policy_ns,
                Some(sel) => matches_selector(sel, &pop.namespace_labels(&pod.namespace)),
            };
            let pod_ok = match pod_sel {
                None => true,
                Some(sel) => matches_selector(sel, &pod.labels),
            };
            ns_ok && pod_ok
        }
    }
}

/// Whether `ip` is in the block's `cidr` and in none of its `except`s. An
/// unparsable CIDR (in either place) makes the block match nothing.
pub fn ip_block_contains(block: &IPBlock, ip: IpAddr) -> bool {
    let Some(cidr) = parse_cidr(&block.cidr) else {
        return false;
    };
    if !cidr.contains(&ip) {
        return false;
    }
    for e in block.except.iter().flatten() {
        match parse_cidr(e) {
            Some(net) if net.contains(&ip) => return false,
            Some(_) => {}
            None => return false,
        }
    }
    true
}

fn parse_cidr(s: &str) -> Option<IpNet> {
    s.trim().parse::<IpNet>().ok()
}

/// The protocol of a port entry (`TCP` when absent), or `None` when unknown.
fn port_protocol(p: &NetworkPolicyPort) -> Option<Protocol> {
    match p.protocol.as_deref() {
        None => Some(Protocol::Tcp),
        Some(s) => Protocol::ALL.into_iter().find(|pr| pr.k8s_name() == s),
    }
}

/// Whether one `ports` entry matches the connection's protocol and port
/// (named ports resolved on the destination pod).
pub fn port_matches(p: &NetworkPolicyPort, pop: &Population, c: &Connection) -> bool {
    let Some(protocol) = port_protocol(p) else {
        return false;
    };
    if protocol != c.protocol {
        return false;
    }
    let port = i64::from(c.port);
    match (&p.port, p.end_port) {
        (None, None) => true,
        (None, Some(_)) => false,
        (Some(IntOrString::Int(n)), None) => i64::from(*n) == port,
        (Some(IntOrString::Int(n)), Some(end)) => {
            end >= *n && i64::from(*n) <= port && port <= i64::from(end)
        }
        (Some(IntOrString::String(_)), Some(_)) => false,
        (Some(IntOrString::String(name)), None) => match c.dst {
            Endpoint::External(_) => false,
            Endpoint::Pod(i) => pop.pods.get(i).is_some_and(|pod| {
                pod.ports
                    .iter()
                    .any(|np| np.name == *name && np.protocol == protocol && np.port == c.port)
            }),
        },
    }
}

/// Whether `labels` satisfy `sel`: every `matchLabels` pair and every
/// `matchExpressions` requirement. An empty selector matches everything; an
/// invalid one (see [`validate_selector`]) matches nothing.
pub fn matches_selector(sel: &LabelSelector, labels: &BTreeMap<String, String>) -> bool {
    if validate_selector(sel).is_err() {
        return false;
    }
    let labels_ok = sel
        .match_labels
        .iter()
        .flatten()
        .all(|(k, v)| labels.get(k) == Some(v));
    labels_ok
        && sel
            .match_expressions
            .iter()
            .flatten()
            .all(|r| requirement_holds(r, labels))
}

fn requirement_holds(r: &LabelSelectorRequirement, labels: &BTreeMap<String, String>) -> bool {
    let value = labels.get(&r.key);
    let values = r.values.as_deref().unwrap_or(&[]);
    match r.operator.as_str() {
        "In" => value.is_some_and(|v| values.contains(v)),
        "NotIn" => value.is_none_or(|v| !values.contains(v)),
        "Exists" => value.is_some(),
        "DoesNotExist" => value.is_none(),
        _ => false,
    }
}

/// Checks a selector the way the API server does before it would accept it:
/// operators are `In`, `NotIn`, `Exists` or `DoesNotExist`; `In`/`NotIn` need
/// values, `Exists`/`DoesNotExist` take none. The message names the problem.
pub fn validate_selector(sel: &LabelSelector) -> Result<(), String> {
    for r in sel.match_expressions.iter().flatten() {
        let n = r.values.as_ref().map_or(0, Vec::len);
        match r.operator.as_str() {
            "In" | "NotIn" if n == 0 => {
                return Err(format!(
                    "operator `{}` on key `{}` needs at least one value",
                    r.operator, r.key
                ))
            }
            "Exists" | "DoesNotExist" if n > 0 => {
                return Err(format!(
                    "operator `{}` on key `{}` takes no values",
                    r.operator, r.key
                ))
            }
            "In" | "NotIn" | "Exists" | "DoesNotExist" => {}
            other => {
                return Err(format!(
                    "unknown selector operator `{other}` on key `{}` (expected `In`, `NotIn`, `Exists` or `DoesNotExist`)",
                    r.key
                ))
            }
        }
    }
    Ok(())
}

/// The problems in a policy that make parts of it match nothing here (and that
/// the API server would reject), each as a lowercase message prefixed with
/// the policy's `namespace/name`. Empty for a valid policy.
pub fn validate_policy(policy: &NetworkPolicy) -> Vec<String> {
    let name = policy_ref(policy);
    let mut problems = Vec::new();
    let mut push = |what: String| problems.push(format!("policy `{name}`: {what}"));
    let Some(spec) = policy.spec.as_ref() else {
        return problems;
    };
    if let Some(sel) = &spec.pod_selector {
        if let Err(e) = validate_selector(sel) {
            push(format!("podSelector: {e}"));
        }
    }
    for t in spec.policy_types.iter().flatten() {
        if t != "Ingress" && t != "Egress" {
            push(format!(
                "unknown policy type `{t}` (expected `Ingress` or `Egress`)"
            ));
        }
    }
    let mut check_rule = |kind: &str,
                          i: usize,
                          peers: Option<&Vec<NetworkPolicyPeer>>,
                          ports: Option<&Vec<NetworkPolicyPort>>| {
        for (j, p) in peers.into_iter().flatten().enumerate() {
            let at = format!("{kind}[{i}] peer {}", j + 1);
            match (&p.pod_selector, &p.namespace_selector, &p.ip_block) {
                (None, None, None) => push(format!(
                    "{at}: a peer needs `podSelector`, `namespaceSelector` or `ipBlock`"
                )),
                (Some(_), _, Some(_)) | (_, Some(_), Some(_)) => push(format!(
                    "{at}: `ipBlock` cannot be combined with a selector"
                )),
                _ => {}
            }
            for (field, sel) in [
                ("podSelector", &p.pod_selector),
                ("namespaceSelector", &p.namespace_selector),
            ] {
                if let Some(Err(e)) = sel.as_ref().map(validate_selector) {
                    push(format!("{at} {field}: {e}"));
                }
            }
            if let Some(block) = &p.ip_block {
                if parse_cidr(&block.cidr).is_none() {
                    push(format!("{at}: invalid cidr `{}`", block.cidr));
                }
                for e in block.except.iter().flatten() {
                    if parse_cidr(e).is_none() {
                        push(format!("{at}: invalid except cidr `{e}`"));
                    }
                }
            }
        }
        for (j, p) in ports.into_iter().flatten().enumerate() {
            let at = format!("{kind}[{i}] port {}", j + 1);
            if port_protocol(p).is_none() {
                push(format!(
                    "{at}: unknown protocol `{}` (expected `TCP`, `UDP` or `SCTP`)",
                    p.protocol.as_deref().unwrap_or("")
                ));
            }
            match (&p.port, p.end_port) {
                (None, Some(_)) | (Some(IntOrString::String(_)), Some(_)) => {
                    push(format!("{at}: `endPort` needs a numeric `port`"))
                }
                (Some(IntOrString::Int(n)), Some(end)) if end < *n => {
                    push(format!("{at}: `endPort` {end} is below `port` {n}"))
                }
                _ => {}
            }
        }
    };
    for (i, r) in spec.ingress.iter().flatten().enumerate() {
        check_rule("ingress", i, r.from.as_ref(), r.ports.as_ref());
    }
    for (i, r) in spec.egress.iter().flatten().enumerate() {
        check_rule("egress", i, r.to.as_ref(), r.ports.as_ref());
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::population::{load_population, NamedPort, PodInfo};

    /// Namespaces x and y (labelled `ns=<name>`), pods a and b in each
    /// (labelled `pod=<name>`), serving `http` on 80/TCP (x/a on 8080 too,
    /// named `alt`) and `dns` on 53/UDP.
    fn pop() -> Population {
        let mut text = String::new();
        for ns in ["x", "y"] {
            text.push_str(&format!(
                "---\nkind: Namespace\nmetadata: {{name: {ns}, labels: {{ns: {ns}}}}}\n"
            ));
            for pod in ["a", "b"] {
                text.push_str(&format!(
                    "---\nkind: Pod\nmetadata: {{name: {pod}, namespace: {ns}, labels: {{pod: {pod}}}}}\n\
                     spec:\n  containers:\n  - name: c\n    ports:\n    - {{name: http, containerPort: 80}}\n    \
                     - {{name: dns, containerPort: 53, protocol: UDP}}\n"
                ));
            }
        }
        let mut p = load_population(&text).unwrap();
        let xa = p.pod_by_ref("x/a").unwrap();
        p.pods[xa].ports.push(NamedPort {
            name: "alt".into(),
            port: 8080,
            protocol: Protocol::Tcp,
        });
        p
    }

    fn np(yaml: &str) -> NetworkPolicy {
        serde_yaml::from_str(yaml).unwrap()
    }

    fn pod(p: &Population, r: &str) -> Endpoint {
        Endpoint::Pod(p.pod_by_ref(r).unwrap())
    }

    fn ext(ip: &str) -> Endpoint {
        Endpoint::External(ip.parse().unwrap())
    }

    fn tcp(src: Endpoint, dst: Endpoint, port: u16) -> Connection {
        Connection {
            src,
            dst,
            protocol: Protocol::Tcp,
            port,
        }
    }

    fn allowed(policies: &[NetworkPolicy], p: &Population, c: Connection) -> bool {
        evaluate(policies, p, &c).allowed
    }

    fn sel(yaml: &str) -> LabelSelector {
        serde_yaml::from_str(yaml).unwrap()
    }

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    const DENY_INGRESS_X: &str = "metadata: {name: deny, namespace: x}\nspec: {podSelector: {}}\n";

    #[test]
    fn no_policies_allow_everything() {
        let p = pop();
        let v = evaluate(&[], &p, &tcp(pod(&p, "x/a"), pod(&p, "y/b"), 80));
        assert_eq!(
            v,
            K8sVerdict {
                egress: Side::NotIsolated,
                ingress: Side::NotIsolated,
                allowed: true
            }
        );
        let v = evaluate(&[], &p, &tcp(ext("192.0.2.1"), pod(&p, "y/b"), 80));
        assert_eq!(v.egress, Side::NotApplicable);
        assert!(v.allowed);
    }

    #[test]
    fn policy_types_default_to_ingress_plus_egress_when_egress_has_rules() {
        let spec = |y: &str| np(y).spec.unwrap();
        let m = "metadata: {name: p, namespace: x}\n";
        use Direction::*;
        assert_eq!(
            effective_policy_types(&spec(&format!("{m}spec: {{}}"))),
            vec![Ingress]
        );
        assert_eq!(
            effective_policy_types(&spec(&format!("{m}spec: {{egress: [{{}}]}}"))),
            vec![Ingress, Egress]
        );
        // The API server tests the length of `egress`, not its presence.
        assert_eq!(
            effective_policy_types(&spec(&format!("{m}spec: {{egress: []}}"))),
            vec![Ingress]
        );
        assert_eq!(
            effective_policy_types(&spec(&format!(
                "{m}spec: {{policyTypes: [], egress: [{{}}]}}"
            ))),
            vec![Ingress, Egress]
        );
        assert_eq!(
            effective_policy_types(&spec(&format!("{m}spec: {{policyTypes: [Egress]}}"))),
            vec![Egress]
        );
        assert_eq!(
            effective_policy_types(&spec(&format!(
                "{m}spec: {{policyTypes: [Egress, Ingress], ingress: [{{}}]}}"
            ))),
            vec![Ingress, Egress]
        );

        // Behaviour: an egress rule without policyTypes isolates egress too.
        let p = pop();
        let pol = np("metadata: {name: e, namespace: x}\nspec:\n  podSelector: {}\n  egress:\n  - ports: [{port: 53, protocol: UDP}]\n");
        let v = evaluate(
            std::slice::from_ref(&pol),
            &p,
            &tcp(pod(&p, "x/a"), pod(&p, "y/a"), 80),
        );
        assert_eq!(v.egress, Side::Denied);
        assert_eq!(v.ingress, Side::NotIsolated);
        assert!(!v.allowed);
        // ... and ingress into x (no ingress rules) is denied.
        assert!(!allowed(
            std::slice::from_ref(&pol),
            &p,
            tcp(pod(&p, "y/a"), pod(&p, "x/a"), 80)
        ));
        // Egress-only policy leaves ingress alone.
        let eg = np(
            "metadata: {name: e, namespace: x}\nspec: {podSelector: {}, policyTypes: [Egress]}\n",
        );
        assert!(allowed(
            std::slice::from_ref(&eg),
            &p,
            tcp(pod(&p, "y/a"), pod(&p, "x/a"), 80)
        ));
        assert!(!allowed(
            std::slice::from_ref(&eg),
            &p,
            tcp(pod(&p, "x/a"), pod(&p, "y/a"), 80)
        ));
        // A policy with `egress: []` and no policyTypes does not touch egress.
        let empty_eg =
            np("metadata: {name: e, namespace: x}\nspec: {podSelector: {}, egress: []}\n");
        assert!(allowed(
            std::slice::from_ref(&empty_eg),
            &p,
            tcp(pod(&p, "x/a"), pod(&p, "y/a"), 80)
        ));
    }

    #[test]
    fn non_selected_pods_and_other_namespaces_are_unaffected() {
        let p = pop();
        let pol = [np("metadata: {name: deny-a, namespace: x}\nspec:\n  podSelector: {matchLabels: {pod: a}}\n  policyTypes: [Ingress, Egress]\n")];
        assert!(!allowed(&pol, &p, tcp(pod(&p, "y/a"), pod(&p, "x/a"), 80)));
        assert!(!allowed(&pol, &p, tcp(pod(&p, "x/a"), pod(&p, "x/b"), 80)));
        assert!(allowed(&pol, &p, tcp(pod(&p, "x/b"), pod(&p, "y/a"), 80)));
        assert!(allowed(&pol, &p, tcp(pod(&p, "y/b"), pod(&p, "y/a"), 80)));
        let v = evaluate(&pol, &p, &tcp(pod(&p, "y/a"), pod(&p, "x/b"), 80));
        assert_eq!(v.ingress, Side::NotIsolated);
        // A policy without a namespace lives in `default`: nothing here.
        let pol = [np("metadata: {name: deny}\nspec: {podSelector: {}}\n")];
        assert!(allowed(&pol, &p, tcp(pod(&p, "y/a"), pod(&p, "x/a"), 80)));
    }

    #[test]
    fn absent_and_empty_rule_lists_mean_no_rules() {
        let p = pop();
        for y in [
            DENY_INGRESS_X,
            "metadata: {name: deny, namespace: x}\nspec: {podSelector: {}, ingress: []}\n",
            "metadata: {name: deny, namespace: x}\nspec: {podSelector: {}, ingress: [], policyTypes: [Ingress]}\n",
            "metadata: {name: deny, namespace: x}\n",
        ] {
            let v = evaluate(&[np(y)], &p, &tcp(pod(&p, "x/b"), pod(&p, "x/a"), 80));
            assert_eq!(v.ingress, Side::Denied, "{y}");
            assert!(!v.allowed);
            // External sources too.
            assert!(!allowed(&[np(y)], &p, tcp(ext("192.0.2.1"), pod(&p, "x/a"), 80)));
        }
    }

    #[test]
    fn absent_or_empty_from_and_ports_match_everything() {
        let p = pop();
        for y in [
            "metadata: {name: all, namespace: x}\nspec: {podSelector: {}, ingress: [{}]}\n",
            "metadata: {name: all, namespace: x}\nspec: {podSelector: {}, ingress: [{from: [], ports: []}]}\n",
        ] {
            let pol = [np(y)];
            for src in [pod(&p, "y/a"), pod(&p, "x/b"), ext("198.51.100.7"), ext("2001:db8::1")] {
                for (proto, port) in [(Protocol::Tcp, 80), (Protocol::Udp, 53), (Protocol::Sctp, 9)] {
                    let c = Connection {
                        src,
                        dst: pod(&p, "x/a"),
                        protocol: proto,
                        port,
                    };
                    let v = evaluate(&pol, &p, &c);
                    assert_eq!(v.ingress, Side::Allowed { policies: vec!["x/all".into()] }, "{y}");
                }
            }
        }
        // Empty `from` with ports: every peer, only those ports.
        let pol = [np("metadata: {name: p, namespace: x}\nspec: {podSelector: {}, ingress: [{from: [], ports: [{port: 80}]}]}\n")];
        assert!(allowed(
            &pol,
            &p,
            tcp(ext("203.0.113.9"), pod(&p, "x/a"), 80)
        ));
        assert!(!allowed(
            &pol,
            &p,
            tcp(ext("203.0.113.9"), pod(&p, "x/a"), 81)
        ));
    }

    #[test]
    fn peers_pod_selector_namespace_selector_and_both() {
        let p = pop();
        // Two peers: OR.
        let or = [np(r#"
metadata: {name: or, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress:
  - from:
    - podSelector: {matchLabels: {pod: b}}
    - namespaceSelector: {matchLabels: {ns: y}}
"#)];
        // One peer with both selectors: AND.
        let and = [np(r#"
metadata: {name: and, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress:
  - from:
    - podSelector: {matchLabels: {pod: b}}
      namespaceSelector: {matchLabels: {ns: y}}
"#)];
        let xa = pod(&p, "x/a");
        let cases = [
            ("x/b", true, false),
            ("y/a", true, false),
            ("y/b", true, true),
        ];
        for (src, want_or, want_and) in cases {
            assert_eq!(
                allowed(&or, &p, tcp(pod(&p, src), xa, 80)),
                want_or,
                "or {src}"
            );
            assert_eq!(
                allowed(&and, &p, tcp(pod(&p, src), xa, 80)),
                want_and,
                "and {src}"
            );
        }
        // Selectors never match external addresses.
        assert!(!allowed(&or, &p, tcp(ext("192.0.2.1"), xa, 80)));
        // podSelector alone is confined to the policy's namespace.
        let only_pod = [np("metadata: {name: p, namespace: x}\nspec: {podSelector: {}, ingress: [{from: [{podSelector: {}}]}]}\n")];
        assert!(allowed(&only_pod, &p, tcp(pod(&p, "x/b"), xa, 80)));
        assert!(!allowed(&only_pod, &p, tcp(pod(&p, "y/b"), xa, 80)));
        // namespaceSelector {} alone: every pod of every namespace, no external.
        let all_ns = [np("metadata: {name: p, namespace: x}\nspec: {podSelector: {}, ingress: [{from: [{namespaceSelector: {}}]}]}\n")];
        assert!(allowed(&all_ns, &p, tcp(pod(&p, "y/b"), xa, 80)));
        assert!(!allowed(&all_ns, &p, tcp(ext("192.0.2.1"), xa, 80)));
        // The implicit name label works in namespace selectors.
        let by_name = [np("metadata: {name: p, namespace: x}\nspec: {podSelector: {}, ingress: [{from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: y}}}]}]}\n")];
        assert!(allowed(&by_name, &p, tcp(pod(&p, "y/b"), xa, 80)));
        assert!(!allowed(&by_name, &p, tcp(pod(&p, "x/b"), xa, 80)));
    }

    #[test]
    fn ip_block_with_except_matches_only_external_addresses() {
        let p = pop();
        let pol = [np(r#"
metadata: {name: cidr, namespace: x}
spec:
  podSelector: {}
  policyTypes: [Egress]
  egress:
  - to:
    - ipBlock: {cidr: 10.0.0.0/8, except: [10.1.0.0/16, 10.2.3.4/32]}
"#)];
        let xa = pod(&p, "x/a");
        assert!(allowed(&pol, &p, tcp(xa, ext("10.9.9.9"), 443)));
        assert!(!allowed(&pol, &p, tcp(xa, ext("10.1.2.3"), 443)));
        assert!(!allowed(&pol, &p, tcp(xa, ext("10.2.3.4"), 443)));
        assert!(allowed(&pol, &p, tcp(xa, ext("10.2.3.5"), 443)));
        assert!(!allowed(&pol, &p, tcp(xa, ext("11.0.0.1"), 443)));
        assert!(!allowed(&pol, &p, tcp(xa, ext("::ffff:10.9.9.9"), 443)));
        // Pods never match an ipBlock in this model.
        assert!(!allowed(&pol, &p, tcp(xa, pod(&p, "y/a"), 80)));
        let v6 = [np("metadata: {name: v6, namespace: x}\nspec: {podSelector: {}, policyTypes: [Egress], egress: [{to: [{ipBlock: {cidr: '2001:db8::/32'}}]}]}\n")];
        assert!(allowed(&v6, &p, tcp(xa, ext("2001:db8::5"), 443)));
        assert!(!allowed(&v6, &p, tcp(xa, ext("10.0.0.1"), 443)));
        let bad = [np("metadata: {name: bad, namespace: x}\nspec: {podSelector: {}, policyTypes: [Egress], egress: [{to: [{ipBlock: {cidr: nonsense}}]}]}\n")];
        assert!(!allowed(&bad, &p, tcp(xa, ext("10.0.0.1"), 443)));
        // Ingress from an ipBlock.
        let ing = [np("metadata: {name: i, namespace: x}\nspec: {podSelector: {}, ingress: [{from: [{ipBlock: {cidr: 192.0.2.0/24}}]}]}\n")];
        assert!(allowed(&ing, &p, tcp(ext("192.0.2.10"), xa, 80)));
        assert!(!allowed(&ing, &p, tcp(ext("192.0.3.10"), xa, 80)));
        assert!(!allowed(&ing, &p, tcp(pod(&p, "x/b"), xa, 80)));
    }

    #[test]
    fn ports_protocol_default_and_end_port_ranges() {
        let p = pop();
        let pol = [np(r#"
metadata: {name: ports, namespace: x}
spec:
  podSelector: {}
  ingress:
  - ports:
    - {port: 80}
    - {protocol: UDP}
    - {port: 1000, endPort: 1010, protocol: SCTP}
"#)];
        let xa = pod(&p, "x/a");
        let yb = pod(&p, "y/b");
        let c = |protocol, port| Connection {
            src: yb,
            dst: xa,
            protocol,
            port,
        };
        assert!(allowed(&pol, &p, c(Protocol::Tcp, 80)));
        assert!(!allowed(&pol, &p, c(Protocol::Tcp, 81)));
        assert!(!allowed(&pol, &p, c(Protocol::Sctp, 80)));
        assert!(allowed(&pol, &p, c(Protocol::Udp, 1)));
        assert!(allowed(&pol, &p, c(Protocol::Udp, 65535)));
        assert!(!allowed(&pol, &p, c(Protocol::Sctp, 999)));
        assert!(allowed(&pol, &p, c(Protocol::Sctp, 1000)));
        assert!(allowed(&pol, &p, c(Protocol::Sctp, 1010)));
        assert!(!allowed(&pol, &p, c(Protocol::Sctp, 1011)));
        assert!(!allowed(&pol, &p, c(Protocol::Tcp, 1005)));
        // Invalid port entries match nothing.
        let bad = [np(r#"
metadata: {name: bad, namespace: x}
spec:
  podSelector: {}
  ingress:
  - ports:
    - {endPort: 90}
    - {port: 90, endPort: 80}
    - {port: http, endPort: 90}
    - {port: 80, protocol: tcp}
"#)];
        for port in [70, 80, 85, 90] {
            assert!(!allowed(&bad, &p, c(Protocol::Tcp, port)), "{port}");
        }
        assert_eq!(
            validate_policy(&bad[0]).len(),
            4,
            "{:?}",
            validate_policy(&bad[0])
        );
    }

    #[test]
    fn named_ports_resolve_on_the_destination_pod() {
        let p = pop();
        // Ingress: the selected pod is the destination.
        let ing = [np("metadata: {name: n, namespace: x}\nspec: {podSelector: {}, ingress: [{ports: [{port: alt}, {port: dns, protocol: UDP}]}]}\n")];
        let (xa, xb, ya) = (pod(&p, "x/a"), pod(&p, "x/b"), pod(&p, "y/a"));
        assert!(allowed(&ing, &p, tcp(ya, xa, 8080)));
        assert!(!allowed(&ing, &p, tcp(ya, xa, 80)));
        // x/b has no port named `alt`.
        assert!(!allowed(&ing, &p, tcp(ya, xb, 8080)));
        let udp = |src, dst, port| Connection {
            src,
            dst,
            protocol: Protocol::Udp,
            port,
        };
        assert!(allowed(&ing, &p, udp(ya, xb, 53)));
        assert!(!allowed(&ing, &p, udp(ya, xb, 54)));
        // `http` is TCP; a UDP entry named `http` does not match.
        let wrong_proto = [np("metadata: {name: n, namespace: x}\nspec: {podSelector: {}, ingress: [{ports: [{port: http, protocol: UDP}]}]}\n")];
        assert!(!allowed(&wrong_proto, &p, tcp(ya, xa, 80)));
        assert!(!allowed(&wrong_proto, &p, udp(ya, xa, 80)));

        // Egress: the selected pod is the source, the name is looked up on
        // the destination.
        let eg = [np("metadata: {name: e, namespace: y}\nspec: {podSelector: {}, policyTypes: [Egress], egress: [{ports: [{port: alt}]}]}\n")];
        assert!(allowed(&eg, &p, tcp(ya, xa, 8080)));
        assert!(!allowed(&eg, &p, tcp(ya, xb, 8080)));
        let v = evaluate(&eg, &p, &tcp(ya, xa, 8080));
        assert_eq!(
            v.egress,
            Side::Allowed {
                policies: vec!["y/e".into()]
            }
        );
        assert_eq!(v.ingress, Side::NotIsolated);
        // Never an external destination.
        assert!(!allowed(&eg, &p, tcp(ya, ext("192.0.2.1"), 8080)));
    }

    #[test]
    fn policies_are_additive() {
        let p = pop();
        let pols = [
            np(DENY_INGRESS_X),
            np("metadata: {name: from-y, namespace: x}\nspec: {podSelector: {matchLabels: {pod: a}}, ingress: [{from: [{namespaceSelector: {matchLabels: {ns: y}}}]}]}\n"),
            np("metadata: {name: port-80, namespace: x}\nspec: {podSelector: {}, ingress: [{ports: [{port: 80}]}]}\n"),
        ];
        let (xa, xb, ya) = (pod(&p, "x/a"), pod(&p, "x/b"), pod(&p, "y/a"));
        let v = evaluate(&pols, &p, &tcp(ya, xa, 80));
        assert_eq!(
            v.ingress,
            Side::Allowed {
                policies: vec!["x/from-y".into(), "x/port-80".into()]
            }
        );
        assert!(allowed(&pols, &p, tcp(ya, xa, 81)));
        assert!(!allowed(&pols, &p, tcp(ya, xb, 81)));
        assert!(allowed(&pols, &p, tcp(ya, xb, 80)));
        assert!(!allowed(&pols, &p, tcp(xb, xa, 81)));
        // Order does not matter.
        let mut rev = pols.to_vec();
        rev.reverse();
        for src in [xa, xb, ya] {
            for dst in [xa, xb, ya] {
                for port in [80, 81] {
                    let c = tcp(src, dst, port);
                    assert_eq!(allowed(&pols, &p, c), allowed(&rev, &p, c));
                }
            }
        }
    }

    #[test]
    fn both_sides_must_allow() {
        let p = pop();
        let pols = [
            // y/a may only talk to y/b.
            np("metadata: {name: eg, namespace: y}\nspec: {podSelector: {matchLabels: {pod: a}}, policyTypes: [Egress], egress: [{to: [{podSelector: {matchLabels: {pod: b}}}]}]}\n"),
            // x/a accepts anything.
            np("metadata: {name: in, namespace: x}\nspec: {podSelector: {matchLabels: {pod: a}}, ingress: [{}]}\n"),
        ];
        let v = evaluate(&pols, &p, &tcp(pod(&p, "y/a"), pod(&p, "x/a"), 80));
        assert_eq!(v.egress, Side::Denied);
        assert_eq!(
            v.ingress,
            Side::Allowed {
                policies: vec!["x/in".into()]
            }
        );
        assert!(!v.allowed);
        assert!(allowed(&pols, &p, tcp(pod(&p, "y/a"), pod(&p, "y/b"), 80)));
        // Egress to an external address: ingress side not applicable.
        let v = evaluate(&pols, &p, &tcp(pod(&p, "y/b"), ext("192.0.2.1"), 80));
        assert_eq!(v.ingress, Side::NotApplicable);
        assert!(v.allowed);
    }

    #[test]
    fn selectors_follow_the_label_selector_rules() {
        let l = labels(&[("app", "web"), ("tier", "front")]);
        assert!(matches_selector(&sel("{}"), &l));
        assert!(matches_selector(&sel("{}"), &BTreeMap::new()));
        assert!(matches_selector(&sel("matchLabels: {app: web}"), &l));
        assert!(!matches_selector(&sel("matchLabels: {app: web, x: y}"), &l));
        let expr = |op: &str, key: &str, vals: &str| {
            sel(&format!(
                "matchExpressions: [{{key: {key}, operator: {op}{vals}}}]"
            ))
        };
        assert!(matches_selector(
            &expr("In", "app", ", values: [api, web]"),
            &l
        ));
        assert!(!matches_selector(&expr("In", "app", ", values: [api]"), &l));
        assert!(!matches_selector(&expr("In", "zone", ", values: [a]"), &l));
        assert!(!matches_selector(
            &expr("NotIn", "app", ", values: [web]"),
            &l
        ));
        assert!(matches_selector(
            &expr("NotIn", "app", ", values: [api]"),
            &l
        ));
        // NotIn matches when the key is absent.
        assert!(matches_selector(
            &expr("NotIn", "zone", ", values: [a]"),
            &l
        ));
        assert!(matches_selector(&expr("Exists", "tier", ""), &l));
        assert!(!matches_selector(&expr("Exists", "zone", ""), &l));
        assert!(matches_selector(&expr("DoesNotExist", "zone", ""), &l));
        assert!(!matches_selector(&expr("DoesNotExist", "tier", ""), &l));
        // Labels and expressions combine with AND.
        let both = sel("matchLabels: {app: web}\nmatchExpressions: [{key: tier, operator: In, values: [back]}]");
        assert!(!matches_selector(&both, &l));
        // Invalid selectors match nothing and are reported.
        for bad in [
            expr("Equals", "app", ", values: [web]"),
            expr("in", "app", ", values: [web]"),
            expr("In", "app", ""),
            expr("NotIn", "app", ", values: []"),
            expr("Exists", "app", ", values: [web]"),
        ] {
            assert!(!matches_selector(&bad, &l), "{bad:?}");
            assert!(!matches_selector(&bad, &BTreeMap::new()), "{bad:?}");
            assert!(validate_selector(&bad).is_err());
        }
        assert_eq!(
            validate_selector(&expr("Equals", "app", ", values: [web]")),
            Err("unknown selector operator `Equals` on key `app` (expected `In`, `NotIn`, `Exists` or `DoesNotExist`)".into())
        );
    }

    #[test]
    fn unknown_operator_in_pod_selector_selects_no_pod() {
        let p = pop();
        let pol = [np("metadata: {name: p, namespace: x}\nspec: {podSelector: {matchExpressions: [{key: pod, operator: Like, values: [a]}]}}\n")];
        assert!(allowed(&pol, &p, tcp(pod(&p, "y/a"), pod(&p, "x/a"), 80)));
        assert_eq!(
            validate_policy(&pol[0]),
            vec!["policy `x/p`: podSelector: unknown selector operator `Like` on key `pod` (expected `In`, `NotIn`, `Exists` or `DoesNotExist`)".to_string()]
        );
    }

    #[test]
    fn validate_policy_reports_structural_problems() {
        let pol = np(r#"
metadata: {name: v, namespace: x}
spec:
  podSelector: {}
  policyTypes: [Ingress, Outbound]
  ingress:
  - from:
    - {}
    - ipBlock: {cidr: 10.0.0.0/8}
      podSelector: {}
    - ipBlock: {cidr: 10.0.0.0/33, except: [bogus]}
    ports:
    - {protocol: ICMP}
"#);
        let got = validate_policy(&pol);
        assert_eq!(
            got,
            vec![
                "policy `x/v`: unknown policy type `Outbound` (expected `Ingress` or `Egress`)",
                "policy `x/v`: ingress[0] peer 1: a peer needs `podSelector`, `namespaceSelector` or `ipBlock`",
                "policy `x/v`: ingress[0] peer 2: `ipBlock` cannot be combined with a selector",
                "policy `x/v`: ingress[0] peer 3: invalid cidr `10.0.0.0/33`",
                "policy `x/v`: ingress[0] peer 3: invalid except cidr `bogus`",
                "policy `x/v`: ingress[0] port 1: unknown protocol `ICMP` (expected `TCP`, `UDP` or `SCTP`)",
            ]
        );
        assert!(validate_policy(&np(DENY_INGRESS_X)).is_empty());
        // Invalid peers match nothing.
        let p = pop();
        let only_bad = [np("metadata: {name: v, namespace: x}\nspec: {podSelector: {}, ingress: [{from: [{}, {ipBlock: {cidr: 0.0.0.0/0}, namespaceSelector: {}}]}]}\n")];
        assert!(!allowed(
            &only_bad,
            &p,
            tcp(pod(&p, "y/a"), pod(&p, "x/a"), 80)
        ));
        assert!(!allowed(
            &only_bad,
            &p,
            tcp(ext("192.0.2.1"), pod(&p, "x/a"), 80)
        ));
    }

    #[test]
    fn pods_of_unknown_namespaces_get_the_name_label() {
        // A hand-built population without the namespace entry.
        let p = Population {
            namespaces: BTreeMap::new(),
            pods: vec![
                PodInfo {
                    namespace: "x".into(),
                    name: "a".into(),
                    labels: BTreeMap::new(),
                    ports: vec![],
                },
                PodInfo {
                    namespace: "y".into(),
                    name: "a".into(),
                    labels: BTreeMap::new(),
                    ports: vec![],
                },
            ],
            services: vec![],
            dns: Default::default(),
        };
        let pol = [np("metadata: {name: p, namespace: x}\nspec: {podSelector: {}, ingress: [{from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: y}}}]}]}\n")];
        assert!(allowed(
            &pol,
            &p,
            tcp(Endpoint::Pod(1), Endpoint::Pod(0), 80)
        ));
        // An index out of range is an unknown pod: selected by nothing.
        assert!(allowed(
            &pol,
            &p,
            tcp(Endpoint::Pod(0), Endpoint::Pod(7), 80)
        ));
    }
}
