//! Real-world NetworkPolicies kept as fixtures under
//! `tests/import-fixtures/` (the seeds' YAML, the upstream e2e cases ported
//! in `k8s_e2e.rs`, the well-known recipes): each is imported, the import
//! is snapshotted (with the warnings `nplc check` gives it), built, and the
//! Kubernetes evaluator on the build must equal it on the fixture for every
//! connection of a population made from the fixture: its namespaces and
//! one that no policy names, namespaces that satisfy each namespace
//! selector, in each namespace a pod without labels and one satisfying
//! each pod selector (those with every named port of the fixture), an
//! address inside and just outside every block and except, and the ports
//! at and around every number the fixture names. `scripts/crosscheck`
//! checks the same fixtures with `nca --equiv`.

use crate::common;
use nplc::driver::{compile_inputs, Input};
use nplc::eval::k8s::{self, Connection};
use nplc::import::{Op, Peer, Policy, PortValue, Selector};
use nplc::ir::NAME_LABEL;
use nplc::net::Protocol;
use nplc::population::{Endpoint, NamedPort, PodInfo, Population};
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

/// Labels that satisfy a selector (`In`: its first value, `Exists`: `x`).
fn satisfying(s: &Selector) -> BTreeMap<String, String> {
    let mut out = s.labels.clone();
    for e in &s.exprs {
        match e.op {
            Op::In => {
                out.insert(e.key.clone(), e.values[0].clone());
            }
            Op::Exists => {
                out.entry(e.key.clone()).or_insert_with(|| "x".into());
            }
            Op::NotIn | Op::DoesNotExist => {}
        }
    }
    out
}

/// Every selector of the policies: (namespace selectors, pod selectors).
fn selectors(ps: &[Policy]) -> (Vec<Selector>, Vec<Selector>) {
    let mut nss = Vec::new();
    let mut pods = Vec::new();
    for p in ps {
        pods.push(p.subject.clone());
        for r in p.ingress.iter().chain(&p.egress) {
            for peer in r.peers.iter().flatten() {
                if let Peer::Pods {
                    namespaces,
                    pods: ps,
                } = peer
                {
                    nss.extend(namespaces.clone());
                    pods.extend(ps.clone());
                }
            }
        }
    }
    (nss, pods)
}

fn population(ps: &[Policy]) -> (Population, Vec<IpAddr>, BTreeSet<u16>) {
    let (ns_sels, pod_sels) = selectors(ps);
    let mut namespaces: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for p in ps {
        namespaces.entry(p.namespace.clone()).or_default();
    }
    namespaces.entry("unnamed".into()).or_default();
    for (i, s) in ns_sels.iter().enumerate() {
        let labels = satisfying(s);
        let name = labels
            .get(NAME_LABEL)
            .cloned()
            .unwrap_or_else(|| format!("ns{i}"));
        namespaces.entry(name).or_default().extend(labels);
    }
    let mut ports = BTreeSet::from([1u16, 53, 80, 443, 8080]);
    let mut named: BTreeMap<String, Protocol> = BTreeMap::new();
    let mut blocks = Vec::new();
    for p in ps {
        for r in p.ingress.iter().chain(&p.egress) {
            for port in r.ports.iter().flatten() {
                match &port.port {
                    Some(PortValue::Number(lo, hi)) => {
                        ports.extend([lo.saturating_sub(1).max(1), *lo, *hi, hi.saturating_add(1)]);
                    }
                    Some(PortValue::Name(n)) => {
                        named.insert(n.clone(), port.protocol);
                    }
                    None => {}
                }
            }
            for peer in r.peers.iter().flatten() {
                if let Peer::Block { cidr, except } = peer {
                    blocks.push(*cidr);
                    blocks.extend(except.iter().copied());
                }
            }
        }
    }
    let named_ports: Vec<NamedPort> = named
        .iter()
        .enumerate()
        .map(|(i, (name, protocol))| NamedPort {
            name: name.clone(),
            port: 9000 + i as u16,
            protocol: *protocol,
        })
        .collect();
    ports.extend(named_ports.iter().map(|p| p.port));
    let mut pop = Population::default();
    for (ns, labels) in &namespaces {
        let mut labels = labels.clone();
        labels.insert(NAME_LABEL.into(), ns.clone());
        pop.insert_namespace(ns, labels);
        let mut pod_labels: BTreeSet<BTreeMap<String, String>> = BTreeSet::new();
        pod_labels.insert(BTreeMap::new());
        pod_labels.extend(pod_sels.iter().map(satisfying));
        for (i, labels) in pod_labels.into_iter().enumerate() {
            let ports = if labels.is_empty() {
                vec![]
            } else {
                named_ports.clone()
            };
            pop.insert_pod(PodInfo {
                namespace: ns.clone(),
                name: format!("p{i}"),
                labels,
                ports,
            });
        }
    }
    let mut externals: BTreeSet<IpAddr> = [
        "8.8.8.8",
        "10.0.0.1",
        "169.254.169.254",
        "192.168.1.1",
        "2001:db8::1",
    ]
    .iter()
    .map(|a| a.parse().unwrap())
    .collect();
    for b in blocks {
        // the block's first address and the one after its last
        externals.insert(b.network());
        let after = match b.broadcast() {
            IpAddr::V4(a) => IpAddr::V4(u32::from(a).wrapping_add(1).into()),
            IpAddr::V6(a) => IpAddr::V6(u128::from(a).wrapping_add(1).into()),
        };
        externals.insert(after);
    }
    (pop, externals.into_iter().collect(), ports)
}

fn objects(text: &str) -> Vec<k8s_openapi::api::networking::v1::NetworkPolicy> {
    serde_yaml::Deserializer::from_str(text)
        .filter_map(|d| {
            let v: serde_json::Value = serde::Deserialize::deserialize(d).unwrap();
            (!v.is_null()).then(|| serde_json::from_value(v).unwrap())
        })
        .collect()
}

/// One test per fixture (insta's `glob!`), each with its snapshot
/// `tests/import-fixtures/snapshots/<stem>.snap`: the imported programs.
#[test]
fn every_import_fixture_builds_to_what_it_permits() {
    let mut count = 0;
    let mut connections = 0usize;
    insta::glob!("../import-fixtures", "*.yaml", |f| {
        count += 1;
        let stem = f.file_stem().unwrap().to_string_lossy().to_string();
        let rel = f
            .strip_prefix(common::root())
            .unwrap()
            .display()
            .to_string();
        let yaml = std::fs::read_to_string(f).unwrap();
        let r = nplc::import::read(&[(rel.clone(), yaml.clone())], None);
        assert!(
            !r.has_errors(),
            "{rel}: {}",
            nplc::diag::render_human(&r.sources, &r.diagnostics)
        );
        let programs = nplc::import::write::programs(&r.policies);
        let files: Vec<Input> = programs
            .iter()
            .map(|p| Input {
                name: format!("{}.npl", p.namespace),
                text: p.text.clone(),
            })
            .collect();
        let c = compile_inputs(&files);
        let text: String = programs
            .iter()
            .map(|p| p.text.as_str())
            .collect::<Vec<_>>()
            .join("\n");
        assert!(
            !c.has_errors(),
            "{rel}: the import does not compile:\n{text}\n{}",
            nplc::diag::render_human(&c.sources, &c.diagnostics)
        );
        let warnings: BTreeSet<&str> = c.diagnostics.iter().map(|d| d.code).collect();
        common::snapshot(
            "../import-fixtures/snapshots",
            &stem,
            &format!("# check: {warnings:?}\n{text}"),
        );
        let input = objects(&yaml);
        let built: Vec<_> = c.manifests.iter().map(|m| m.object.clone()).collect();
        let (pop, externals, ports) = population(&r.policies);
        let mut endpoints: Vec<Endpoint> = (0..pop.pods.len()).map(Endpoint::Pod).collect();
        endpoints.extend(externals.into_iter().map(Endpoint::External));
        for &src in &endpoints {
            for &dst in &endpoints {
                if matches!((src, dst), (Endpoint::External(_), Endpoint::External(_))) {
                    continue;
                }
                for protocol in Protocol::ALL {
                    for &port in &ports {
                        let conn = Connection {
                            src,
                            dst,
                            protocol,
                            port,
                        };
                        let want = k8s::evaluate(&input, &pop, &conn).allowed;
                        let got = k8s::evaluate(&built, &pop, &conn).allowed;
                        connections += 1;
                        assert_eq!(
                            want,
                            got,
                            "{rel}: {} -> {} {protocol:?}/{port}: the fixture says {want}, the import's build {got}\n{text}",
                            pop.endpoint_name(&src),
                            pop.endpoint_name(&dst),
                        );
                    }
                }
            }
        }
    });
    assert!(count >= 60, "the fixtures are found ({count})");
    eprintln!("import_fixtures: {count} fixtures, {connections} connections compared");
}
