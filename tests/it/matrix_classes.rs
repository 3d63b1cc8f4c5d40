//! The class-based matrix (`eval::classes`, what `nplc matrix` runs) against
//! the pod-by-pod reference (`eval::matrix::matrix_pod_by_pod`, each probe
//! decided by `eval::k8s` and `eval::intent` on its own):
//!
//! - on random programs and clusters from `props` (with some pods copied
//!   under new names, so that classes hold several pods), at the probe ports
//!   of `props` (around every number and range edge the program writes,
//!   every container port, one port nothing names) and the default ones,
//!   both verdicts of every row must be equal;
//! - on the program of one random case and the policies generated from
//!   another (so that the two evaluators disagree, and each class-based
//!   one is held to its own reference: a shortcut that holds only where
//!   the compiler is right would pass the first test and fail this one);
//! - on random NetworkPolicy objects written directly (the constructs nplc
//!   never emits too: selectors with unknown operators, `endPort` without
//!   or below `port`, named ports with `endPort`, unknown protocols,
//!   `ipBlock` beside a selector, empty peers, no spec, explicit or defaulted
//!   `policyTypes`), the Kubernetes verdict of every row must be equal.

use crate::props::{case, cases, compile_text, objects, Case};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use nplc::eval::matrix::{self, ProbePorts};
use nplc::ir::{Program, NAME_LABEL};
use nplc::net::Protocol;
use nplc::population::{NamedPort, NamespaceInfo, PodInfo, Population};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestError, TestRunner};
use std::collections::BTreeMap;

/// The case's cluster with pod `i` copied `copies[i % len]` times.
fn with_copies(pop: &Population, copies: &[usize]) -> Population {
    let mut out = pop.clone();
    for (i, p) in pop.pods.iter().enumerate() {
        let n = copies.get(i % copies.len().max(1)).copied().unwrap_or(0);
        for k in 0..n {
            let mut q = p.clone();
            q.name = format!("{}-copy{k}", p.name);
            out.insert_pod(q);
        }
    }
    out
}

fn merge(a: &mut ProbePorts, b: ProbePorts) {
    for (p, ns) in b {
        a.entry(p).or_default().extend(ns);
    }
}

/// Compares the two matrices on the program of `case`, the policies
/// generated from `other` (from `case` itself when `None`) and the cluster
/// of `case` with copies.
fn check_program(
    case: &Case,
    other: Option<&Case>,
    copies: &[usize],
) -> Result<bool, TestCaseError> {
    let c = compile_text(&case.source());
    if c.has_errors() {
        return Ok(false);
    }
    let Some(prog) = &c.program else {
        return Err(TestCaseError::fail("no program without errors"));
    };
    let pop = with_copies(&case.population(), copies);
    let mut ports = case.probe_ports(&pop);
    merge(&mut ports, matrix::default_ports(prog, &pop));
    let policies = match other {
        None => objects(&c),
        Some(o) => {
            let oc = compile_text(&o.source());
            if oc.has_errors() {
                return Ok(false);
            }
            merge(&mut ports, o.probe_ports(&pop));
            objects(&oc)
        }
    };
    let want = matrix::matrix_pod_by_pod(&policies, prog, &pop, &ports);
    let got = matrix::matrix(&policies, prog, &pop, &ports);
    prop_assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(&want) {
        prop_assert_eq!(g, w, "population:\n{:?}", pop.pods);
    }
    Ok(true)
}

#[test]
fn class_matrix_equals_the_pod_by_pod_matrix_on_random_programs() {
    let total = (cases() / 4).max(16);
    let mut runner = TestRunner::new(Config {
        cases: total,
        failure_persistence: None,
        ..Config::default()
    });
    let compiled = std::cell::Cell::new(0usize);
    let strategy = (case(), prop::collection::vec(0usize..3, 1..4));
    let result = runner.run(&strategy, |(case, copies)| {
        if check_program(&case, None, &copies)? {
            compiled.set(compiled.get() + 1);
        }
        Ok(())
    });
    match result {
        Ok(()) => {}
        Err(TestError::Fail(why, (case, copies))) => {
            panic!("the class matrix differs\n{why}\ncopies {copies:?}, case:{case:?}")
        }
        Err(TestError::Abort(why)) => panic!("aborted: {why}"),
    }
    // most generated programs compile; a run where none does tests nothing
    assert!(
        compiled.get() * 2 > total as usize,
        "{} of {total} programs compiled",
        compiled.get()
    );
}

#[test]
fn class_matrix_equals_the_pod_by_pod_matrix_on_mismatched_programs_and_policies() {
    let total = (cases() / 4).max(16);
    let mut runner = TestRunner::new(Config {
        cases: total,
        failure_persistence: None,
        ..Config::default()
    });
    let compared = std::cell::Cell::new(0usize);
    let strategy = (case(), case(), prop::collection::vec(0usize..3, 1..4));
    let result = runner.run(&strategy, |(case, other, copies)| {
        if check_program(&case, Some(&other), &copies)? {
            compared.set(compared.get() + 1);
        }
        Ok(())
    });
    match result {
        Ok(()) => {}
        Err(TestError::Fail(why, (case, other, copies))) => panic!(
            "the class matrix differs\n{why}\ncopies {copies:?}, program of:{case:?}\npolicies of:{other:?}"
        ),
        Err(TestError::Abort(why)) => panic!("aborted: {why}"),
    }
    assert!(
        compared.get() * 4 > total as usize,
        "{} of {total} pairs compiled",
        compared.get()
    );
}

// ---- random NetworkPolicy objects ---------------------------------------------

const NAMESPACES: [&str; 3] = ["x", "y", "z"];

fn selector() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "{}",
        "{matchLabels: {app: a}}",
        "{matchLabels: {app: b, tier: t}}",
        "{matchExpressions: [{key: app, operator: In, values: [a, b]}]}",
        "{matchExpressions: [{key: app, operator: NotIn, values: [a]}]}",
        "{matchExpressions: [{key: tier, operator: Exists}]}",
        "{matchExpressions: [{key: tier, operator: DoesNotExist}]}",
        "{matchExpressions: [{key: app, operator: Like, values: [a]}]}",
        "{matchExpressions: [{key: app, operator: In}]}",
    ])
}

fn ns_selector() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "{}",
        "{matchLabels: {env: prod}}",
        "{matchLabels: {kubernetes.io/metadata.name: y}}",
        "{matchExpressions: [{key: env, operator: NotIn, values: [prod]}]}",
        "{matchExpressions: [{key: env, operator: Exists, values: [x]}]}",
    ])
}

fn peer() -> impl Strategy<Value = String> {
    prop_oneof![
        selector().prop_map(|s| format!("{{podSelector: {s}}}")),
        ns_selector().prop_map(|s| format!("{{namespaceSelector: {s}}}")),
        (selector(), ns_selector())
            .prop_map(|(p, n)| format!("{{podSelector: {p}, namespaceSelector: {n}}}")),
        Just("{ipBlock: {cidr: 10.0.0.0/8}}".to_string()),
        Just("{ipBlock: {cidr: 10.0.0.0/8}, podSelector: {}}".to_string()),
        Just("{}".to_string()),
    ]
}

fn port() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "{port: 80}",
        "{port: 81, protocol: UDP}",
        "{protocol: SCTP}",
        "{port: 8000, endPort: 8080}",
        "{port: 90, endPort: 80}",
        "{endPort: 90}",
        "{port: http}",
        "{port: http, protocol: UDP}",
        "{port: dns, protocol: UDP}",
        "{port: http, endPort: 90}",
        "{port: 80, protocol: tcp}",
        "{port: 0}",
        "{port: 70000}",
        "{port: 65000, endPort: 70000}",
    ])
}

fn rule(key: &'static str) -> impl Strategy<Value = String> {
    (
        prop::option::of(prop::collection::vec(peer(), 0..3)),
        prop::option::of(prop::collection::vec(port(), 0..3)),
    )
        .prop_map(move |(peers, ports)| {
            let mut parts = Vec::new();
            if let Some(p) = peers {
                parts.push(format!("{key}: [{}]", p.join(", ")));
            }
            if let Some(p) = ports {
                parts.push(format!("ports: [{}]", p.join(", ")));
            }
            format!("{{{}}}", parts.join(", "))
        })
}

fn policy() -> impl Strategy<Value = String> {
    (
        prop::sample::select(NAMESPACES.to_vec()),
        prop::option::of(selector()),
        prop::sample::select(vec![
            "",
            "policyTypes: [Ingress], ",
            "policyTypes: [Egress], ",
            "policyTypes: [Ingress, Egress], ",
            "policyTypes: [], ",
        ]),
        prop::option::of(prop::collection::vec(rule("from"), 0..3)),
        prop::option::of(prop::collection::vec(rule("to"), 0..3)),
        0..10u8,
    )
        .prop_map(|(ns, sel, types, ing, eg, nospec)| {
            if nospec == 0 {
                return format!("metadata: {{namespace: {ns}}}\n");
            }
            let mut spec = types.to_string();
            if let Some(s) = sel {
                spec.push_str(&format!("podSelector: {s}, "));
            }
            if let Some(rs) = ing {
                spec.push_str(&format!("ingress: [{}], ", rs.join(", ")));
            }
            if let Some(rs) = eg {
                spec.push_str(&format!("egress: [{}], ", rs.join(", ")));
            }
            format!("metadata: {{namespace: {ns}}}\nspec: {{{spec}}}\n")
        })
}

type Pod = (
    usize,
    Option<&'static str>,
    Option<&'static str>,
    Vec<usize>,
);

fn pods() -> impl Strategy<Value = Vec<Pod>> {
    prop::collection::vec(
        (
            0..NAMESPACES.len(),
            prop::option::of(prop::sample::select(vec!["a", "b"])),
            prop::option::of(Just("t")),
            prop::collection::vec(0usize..5, 0..3),
        ),
        1..9,
    )
}

const CONTAINER_PORTS: [(&str, u16, Protocol); 5] = [
    ("http", 80, Protocol::Tcp),
    ("http", 8080, Protocol::Tcp),
    ("http", 81, Protocol::Udp),
    ("dns", 53, Protocol::Udp),
    ("dns", 5353, Protocol::Udp),
];

fn population(pods: &[Pod]) -> Population {
    let mut pop = Population::default();
    for (i, ns) in NAMESPACES.iter().enumerate() {
        let mut labels = BTreeMap::from([(NAME_LABEL.to_string(), ns.to_string())]);
        if i != 1 {
            labels.insert("env".into(), "prod".into());
        }
        pop.namespaces.insert(
            ns.to_string(),
            NamespaceInfo {
                name: ns.to_string(),
                labels,
            },
        );
    }
    for (i, (ns, app, tier, ports)) in pods.iter().enumerate() {
        let mut labels = BTreeMap::new();
        if let Some(a) = app {
            labels.insert("app".to_string(), a.to_string());
        }
        if let Some(t) = tier {
            labels.insert("tier".to_string(), t.to_string());
        }
        // a pod may declare a name twice (the two evaluators resolve that
        // differently; each class evaluator must follow its own)
        let ports = ports
            .iter()
            .map(|&p| {
                let (name, port, protocol) = CONTAINER_PORTS[p];
                NamedPort {
                    name: name.into(),
                    port,
                    protocol,
                }
            })
            .collect();
        pop.insert_pod(PodInfo {
            namespace: NAMESPACES[*ns].to_string(),
            name: format!("p{i}"),
            labels,
            ports,
        });
    }
    pop
}

#[test]
fn class_matrix_equals_the_pod_by_pod_matrix_on_random_policy_objects() {
    let mut runner = TestRunner::new(Config {
        cases: (cases() / 2).max(16),
        failure_persistence: None,
        ..Config::default()
    });
    let strategy = (prop::collection::vec(policy(), 0..5), pods(), 0usize..3);
    let ports: ProbePorts = [
        (
            Protocol::Tcp,
            [
                0, 1, 7, 53, 79, 80, 81, 89, 90, 91, 7999, 8000, 8080, 8081, 64999, 65000, 65535,
            ]
            .into(),
        ),
        (Protocol::Udp, [53, 80, 81, 82, 5353].into()),
        (Protocol::Sctp, [1, 80, 65535].into()),
    ]
    .into();
    let result = runner.run(&strategy, |(texts, pods, copies)| {
        let policies: Vec<NetworkPolicy> = texts
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let mut p: NetworkPolicy = serde_yaml::from_str(t).unwrap();
                p.metadata.name = Some(format!("p{i}"));
                p
            })
            .collect();
        let pop = with_copies(&population(&pods), &[copies]);
        let prog = Program::default();
        let want = matrix::matrix_pod_by_pod(&policies, &prog, &pop, &ports);
        let got = matrix::matrix(&policies, &prog, &pop, &ports);
        prop_assert_eq!(got.len(), want.len());
        for (g, w) in got.iter().zip(&want) {
            prop_assert_eq!(g, w, "policies:\n{}", texts.join("---\n"));
        }
        Ok(())
    });
    match result {
        Ok(()) => {}
        Err(TestError::Fail(why, (texts, pods, copies))) => panic!(
            "the class matrix differs\n{why}\npolicies:\n{}\npods {pods:?} copies {copies}",
            texts.join("---\n")
        ),
        Err(TestError::Abort(why)) => panic!("aborted: {why}"),
    }
}
