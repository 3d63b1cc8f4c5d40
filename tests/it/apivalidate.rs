//! The API server's validation rules for NetworkPolicy (pkg/apis/networking
//! /validation), re-checked on everything nplc emits for the examples and
//! the `ok-` fixtures: names, label selectors, ports and `endPort`, ipBlock
//! `cidr`/`except`, and the fields nplc promises (policyTypes, labels,
//! annotations). `scripts/crosscheck` also runs `kubernetes-validate` on
//! the same files.

use crate::common;
use ipnet::IpNet;
use k8s_openapi::api::networking::v1::{NetworkPolicy, NetworkPolicyPeer, NetworkPolicyPort};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use nplc::validate::{is_dns1123_label, is_dns1123_subdomain, is_label_key, is_label_value};

fn selector(s: &LabelSelector, errs: &mut Vec<String>) {
    for (k, v) in s.match_labels.iter().flatten() {
        if !is_label_key(k) || !is_label_value(v) {
            errs.push(format!("bad label {k}={v}"));
        }
    }
    for e in s.match_expressions.iter().flatten() {
        if !is_label_key(&e.key) {
            errs.push(format!("bad key {}", e.key));
        }
        match e.operator.as_str() {
            "In" | "NotIn" => {
                let vals = e.values.clone().unwrap_or_default();
                if vals.is_empty() {
                    errs.push(format!("{} needs values", e.operator));
                }
                if vals.iter().any(|v| !is_label_value(v)) {
                    errs.push("bad value".into());
                }
            }
            "Exists" | "DoesNotExist" => {
                if e.values.as_ref().map(|v| !v.is_empty()).unwrap_or(false) {
                    errs.push(format!("{} takes no values", e.operator));
                }
            }
            op => errs.push(format!("unknown operator {op}")),
        }
    }
}

fn port(p: &NetworkPolicyPort, errs: &mut Vec<String>) {
    if let Some(proto) = &p.protocol {
        if !["TCP", "UDP", "SCTP"].contains(&proto.as_str()) {
            errs.push(format!("protocol {proto}"));
        }
    }
    match (&p.port, p.end_port) {
        (Some(IntOrString::Int(n)), end) => {
            if !(1..=65535).contains(n) {
                errs.push(format!("port {n}"));
            }
            if let Some(e) = end {
                if e < *n || e > 65535 {
                    errs.push(format!("endPort {e} < port {n}"));
                }
            }
        }
        (Some(IntOrString::String(name)), end) => {
            if end.is_some() {
                errs.push("endPort with a named port".into());
            }
            if name.len() > 15 || !name.chars().any(|c| c.is_ascii_lowercase()) {
                errs.push(format!("port name {name}"));
            }
        }
        (None, Some(_)) => errs.push("endPort without port".into()),
        (None, None) => {}
    }
}

fn peer(p: &NetworkPolicyPeer, errs: &mut Vec<String>) {
    let n = p.pod_selector.is_some() as u8 + p.namespace_selector.is_some() as u8;
    if let Some(b) = &p.ip_block {
        if n > 0 {
            errs.push("ipBlock together with selectors".into());
        }
        match b.cidr.parse::<IpNet>() {
            Ok(c) => {
                if c.trunc() != c {
                    errs.push(format!("cidr {c} has host bits"));
                }
                for e in b.except.iter().flatten() {
                    match e.parse::<IpNet>() {
                        Ok(x) if c.contains(&x) && x != c && x.trunc() == x => {}
                        _ => errs.push(format!("except {e} not strictly inside {c}")),
                    }
                }
            }
            Err(_) => errs.push(format!("cidr {}", b.cidr)),
        }
    } else if n == 0 {
        errs.push("empty peer".into());
    }
    for s in [&p.pod_selector, &p.namespace_selector]
        .into_iter()
        .flatten()
    {
        selector(s, errs);
    }
}

pub fn validate(np: &NetworkPolicy) -> Vec<String> {
    let mut errs = Vec::new();
    let name = np.metadata.name.clone().unwrap_or_default();
    if !is_dns1123_subdomain(&name) || name.len() > 63 {
        errs.push(format!("name {name}"));
    }
    if !is_dns1123_label(np.metadata.namespace.as_deref().unwrap_or("")) {
        errs.push("namespace".into());
    }
    if np
        .metadata
        .labels
        .as_ref()
        .and_then(|l| l.get("app.kubernetes.io/managed-by"))
        .map(String::as_str)
        != Some("nplc")
    {
        errs.push("managed-by label".into());
    }
    if !np
        .metadata
        .annotations
        .as_ref()
        .map(|a| a.contains_key("nplc.io/source"))
        .unwrap_or(false)
    {
        errs.push("source annotation".into());
    }
    let Some(spec) = &np.spec else {
        errs.push("no spec".into());
        return errs;
    };
    if spec.policy_types.as_deref() != Some(&["Ingress".to_string(), "Egress".to_string()][..]) {
        errs.push("policyTypes".into());
    }
    if let Some(s) = &spec.pod_selector {
        selector(s, &mut errs);
    }
    for r in spec.ingress.iter().flatten() {
        r.from.iter().flatten().for_each(|p| peer(p, &mut errs));
        r.ports.iter().flatten().for_each(|p| port(p, &mut errs));
    }
    for r in spec.egress.iter().flatten() {
        r.to.iter().flatten().for_each(|p| peer(p, &mut errs));
        r.ports.iter().flatten().for_each(|p| port(p, &mut errs));
    }
    errs
}

#[test]
fn everything_emitted_passes_api_validation() {
    let mut fixtures = crate::examples::examples();
    for e in std::fs::read_dir(common::root().join("tests/cases")).unwrap() {
        let p = e.unwrap().path();
        if p.file_name().unwrap().to_string_lossy().starts_with("ok-") {
            fixtures.push(p);
        }
    }
    let mut checked = 0;
    for f in fixtures {
        let c = common::compile(f.strip_prefix(common::root()).unwrap());
        for m in &c.manifests {
            // round trip through YAML, as the API server would read it
            let back: NetworkPolicy = serde_yaml::from_str(&m.to_yaml()).unwrap();
            assert_eq!(back, m.object);
            let errs = validate(&back);
            assert!(
                errs.is_empty(),
                "{} {}: {errs:?}\n{}",
                f.display(),
                m.name,
                m.to_yaml()
            );
            checked += 1;
        }
    }
    assert!(checked > 30, "{checked}");
}
