//! Stage 6a, Kubernetes emission: policies as sets to `networking.k8s.io/v1`
//! NetworkPolicy objects and canonical YAML. Input: a [`PolicySet`], the
//! program (for source locations) and the source map. Output: one
//! [`Manifest`] per policy, sorted by (namespace, name).
//!
//! Canonical form: `policyTypes` always `[Ingress, Egress]`; selectors as
//! `matchLabels` for single values and sorted `matchExpressions` for the
//! rest; a peer in the policy's own namespace as a bare `podSelector`; rules
//! and peers in the IR's order; ports by protocol (TCP, UDP, SCTP), then
//! number, then name; a rule that allows every peer has no `from`/`to`, one
//! that allows every port has no `ports`.

use crate::compile::{Policy, PolicyRule, PolicySet};
use crate::ir::{KeyC, LabelSel, PeerSet, PortSet, Program, ValSet};
use crate::net::Protocol;
use crate::source::SourceMap;
use k8s_openapi::api::networking::v1 as net;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{
    LabelSelector, LabelSelectorRequirement, ObjectMeta,
};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use std::collections::{BTreeMap, BTreeSet};

pub const MANAGED_BY: (&str, &str) = ("app.kubernetes.io/managed-by", "nplc");
/// Annotation: where the statements behind the policy are written.
pub const SOURCE_ANNOTATION: &str = "nplc.io/source";
/// Annotation: for each rule, the statements that produced it.
pub const RULES_ANNOTATION: &str = "nplc.io/rules";
/// Annotation: lints silenced with `@silence(...)` on the statements behind the policy.
pub const SILENCED_ANNOTATION: &str = "nplc.io/silenced";
/// On every policy of a namespace whose labels the program states
/// (`labels {...}`): the labels compilation assumed it carries, all of them
/// (`key=value`, by key, joined by `, `). The output is exact only on a
/// cluster where the namespace carries exactly these.
pub const ASSUMED_LABELS_ANNOTATION: &str = "nplc.io/assumed-namespace-labels";

/// One generated object.
#[derive(Debug, Clone, PartialEq)]
pub struct Manifest {
    pub namespace: String,
    pub name: String,
    pub object: net::NetworkPolicy,
}

impl Manifest {
    /// Path under the output directory.
    pub fn path(&self) -> String {
        format!("{}/{}.yaml", self.namespace, self.name)
    }
    /// The YAML text (`emit::yaml`: libyaml's layout, every string quoted
    /// where a YAML 1.1 or 1.2 reader would read it as something else).
    pub fn to_yaml(&self) -> String {
        super::yaml::to_yaml(&self.object)
    }
    /// Appends the YAML text to `out`.
    pub fn write_yaml(&self, out: &mut String) {
        super::yaml::write_yaml(&self.object, out)
    }
}

/// The Kubernetes form of a selector. Callers pass expressible selectors
/// (every per-key constraint writable as requirements).
pub fn label_selector(sel: &LabelSel) -> LabelSelector {
    let mut match_labels = BTreeMap::new();
    let mut exprs = Vec::new();
    let req = |key: &str, op: &str, values: Option<Vec<String>>| LabelSelectorRequirement {
        key: key.to_string(),
        operator: op.to_string(),
        values,
    };
    for (k, c) in &sel.0 {
        let KeyC { absent, values } = c;
        match (values, *absent) {
            (ValSet::Cofinite(s), true) if s.is_empty() => {}
            (ValSet::Cofinite(s), false) if s.is_empty() => exprs.push(req(k, "Exists", None)),
            (ValSet::Finite(s), true) if s.is_empty() => exprs.push(req(k, "DoesNotExist", None)),
            (ValSet::Finite(s), false) if s.len() == 1 => {
                match_labels.insert(k.clone(), s.iter().next().cloned().unwrap_or_default());
            }
            (ValSet::Finite(s), false) => {
                exprs.push(req(k, "In", Some(s.iter().cloned().collect())))
            }
            (ValSet::Cofinite(s), true) => {
                exprs.push(req(k, "NotIn", Some(s.iter().cloned().collect())))
            }
            (ValSet::Cofinite(s), false) => {
                exprs.push(req(k, "Exists", None));
                exprs.push(req(k, "NotIn", Some(s.iter().cloned().collect())));
            }
            // "absent or one of": the compiler splits these before emission.
            // Should one slip through, the `In` part selects fewer pods,
            // which can only permit less, never more.
            (ValSet::Finite(s), true) => {
                exprs.push(req(k, "In", Some(s.iter().cloned().collect())))
            }
        }
    }
    LabelSelector {
        match_labels: if match_labels.is_empty() {
            None
        } else {
            Some(match_labels)
        },
        match_expressions: if exprs.is_empty() { None } else { Some(exprs) },
    }
}

fn peers(rule: &PolicyRule, ns: &str) -> Option<Vec<net::NetworkPolicyPeer>> {
    if rule.all_peers() {
        return None;
    }
    let mut out = Vec::new();
    for p in &rule.peers {
        match p {
            PeerSet::Pods { namespaces, pods } => {
                let own = *namespaces == crate::ir::ns_named(ns);
                out.push(net::NetworkPolicyPeer {
                    namespace_selector: if own {
                        None
                    } else {
                        Some(label_selector(namespaces))
                    },
                    pod_selector: if own || !pods.is_any() {
                        Some(label_selector(pods))
                    } else {
                        None
                    },
                    ip_block: None,
                });
            }
            PeerSet::External(set) => {
                for b in set.ip_blocks() {
                    out.push(net::NetworkPolicyPeer {
                        ip_block: Some(net::IPBlock {
                            cidr: b.cidr.to_string(),
                            except: if b.except.is_empty() {
                                None
                            } else {
                                Some(b.except.iter().map(|e| e.to_string()).collect())
                            },
                        }),
                        ..Default::default()
                    });
                }
            }
            // deny compilation refuses DNS names (`compile::refusals`,
            // E0504): no rule of its policies holds one
            PeerSet::Names(_) => {}
        }
    }
    Some(out)
}

/// The `ports` list of a port set, or `None` for every port.
pub fn ports(set: &PortSet) -> Option<Vec<net::NetworkPolicyPort>> {
    if set.is_all() {
        return None;
    }
    let mut out = Vec::new();
    for proto in Protocol::ALL {
        let protocol = Some(proto.k8s_name().to_string());
        if set.is_full(proto) {
            out.push(net::NetworkPolicyPort {
                protocol,
                port: None,
                end_port: None,
            });
            continue;
        }
        if let Some(r) = set.numbers.get(&proto) {
            for &(lo, hi) in r.ranges() {
                out.push(net::NetworkPolicyPort {
                    protocol: protocol.clone(),
                    port: Some(IntOrString::Int(lo as i32)),
                    end_port: if hi > lo { Some(hi as i32) } else { None },
                });
            }
        }
        for (p, name) in &set.named {
            if *p == proto {
                out.push(net::NetworkPolicyPort {
                    protocol: protocol.clone(),
                    port: Some(IntOrString::String(name.clone())),
                    end_port: None,
                });
            }
        }
    }
    Some(out)
}

fn origins(rule: &PolicyRule, prog: &Program, sources: &SourceMap) -> String {
    let loc = |ids: &BTreeSet<usize>| -> Vec<String> {
        let mut spans: Vec<crate::source::Span> = ids
            .iter()
            .filter_map(|i| prog.statements.get(*i))
            .map(|s| s.span)
            .collect();
        spans.sort_by_key(|s| (sources.name(s.file).to_string(), s.start));
        let mut v: Vec<String> = spans.into_iter().map(|s| sources.location(s)).collect();
        v.dedup();
        v
    };
    let mut parts = Vec::new();
    let a = loc(&rule.allows);
    if a.is_empty() {
        parts.push("not isolated by the program".to_string());
    } else {
        parts.push(format!("allow {}", a.join(", ")));
    }
    let d = loc(&rule.denies);
    if !d.is_empty() {
        parts.push(format!("minus deny {}", d.join(", ")));
    }
    parts.join("; ")
}

fn policy_object(p: &Policy, prog: &Program, sources: &SourceMap) -> net::NetworkPolicy {
    let mut rules_note = Vec::new();
    let mut all_ids: BTreeSet<usize> = BTreeSet::new();
    for (dir, rules) in [("ingress", &p.ingress), ("egress", &p.egress)] {
        for (i, r) in rules.iter().enumerate() {
            rules_note.push(format!("{dir}[{i}]: {}", origins(r, prog, sources)));
            all_ids.extend(r.allows.iter().chain(r.denies.iter()));
        }
    }
    // statements by position (file, then offset), then the namespace's own
    // declaration for the base policy and for rules it implies
    let mut spans: Vec<crate::source::Span> = all_ids
        .iter()
        .filter_map(|i| prog.statements.get(*i))
        .map(|s| s.span)
        .collect();
    let implied = p.subject.is_any()
        || p.ingress
            .iter()
            .chain(p.egress.iter())
            .any(|r| r.allows.is_empty());
    if let Some(ns) = prog.namespaces.get(&p.namespace).filter(|_| implied) {
        spans.push(ns.posture_span.unwrap_or(ns.span));
        spans.extend(ns.isolates.iter().map(|i| i.span));
    }
    spans.sort_by_key(|s| (sources.name(s.file).to_string(), s.start));
    let mut locs: Vec<String> = Vec::new();
    for s in spans {
        let l = sources.location(s);
        if !locs.contains(&l) {
            locs.push(l);
        }
    }
    let mut silenced: Vec<String> = all_ids
        .iter()
        .filter_map(|i| prog.statements.get(*i))
        .flat_map(|s| s.silence.iter())
        .chain(
            prog.namespaces
                .get(&p.namespace)
                .filter(|_| p.subject.is_any())
                .into_iter()
                .flat_map(|n| n.silence.iter()),
        )
        .map(|s| format!("{} at {}", s.code, sources.location(s.span)))
        .collect();
    silenced.sort();
    silenced.dedup();
    let mut annotations = BTreeMap::new();
    annotations.insert(SOURCE_ANNOTATION.to_string(), locs.join(", "));
    if !silenced.is_empty() {
        annotations.insert(SILENCED_ANNOTATION.to_string(), silenced.join(", "));
    }
    if !rules_note.is_empty() {
        annotations.insert(RULES_ANNOTATION.to_string(), rules_note.join("\n"));
    }
    if let Some(labels) = prog
        .namespaces
        .get(&p.namespace)
        .and_then(|n| n.labels.as_ref())
    {
        let text: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
        annotations.insert(ASSUMED_LABELS_ANNOTATION.to_string(), text.join(", "));
    }
    let rule_in = |r: &PolicyRule| net::NetworkPolicyIngressRule {
        from: peers(r, &p.namespace),
        ports: ports(&r.ports),
    };
    let rule_out = |r: &PolicyRule| net::NetworkPolicyEgressRule {
        to: peers(r, &p.namespace),
        ports: ports(&r.ports),
    };
    net::NetworkPolicy {
        metadata: ObjectMeta {
            name: Some(p.name.clone()),
            namespace: Some(p.namespace.clone()),
            labels: Some([(MANAGED_BY.0.to_string(), MANAGED_BY.1.to_string())].into()),
            annotations: Some(annotations),
            ..Default::default()
        },
        spec: Some(net::NetworkPolicySpec {
            pod_selector: Some(label_selector(&p.subject)),
            policy_types: Some(vec!["Ingress".to_string(), "Egress".to_string()]),
            ingress: if p.ingress.is_empty() {
                None
            } else {
                Some(p.ingress.iter().map(rule_in).collect())
            },
            egress: if p.egress.is_empty() {
                None
            } else {
                Some(p.egress.iter().map(rule_out).collect())
            },
        }),
    }
}

/// Every policy as a Kubernetes object, sorted by (namespace, name).
pub fn manifests(set: &PolicySet, prog: &Program, sources: &SourceMap) -> Vec<Manifest> {
    let mut out: Vec<Manifest> = crate::par::map(&set.policies, |p| Manifest {
        namespace: p.namespace.clone(),
        name: p.name.clone(),
        object: policy_object(p, prog, sources),
    });
    out.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
    out
}

/// One multi-document YAML stream.
pub fn stream(ms: &[Manifest]) -> String {
    let mut s = String::new();
    for y in crate::par::map(ms, Manifest::to_yaml) {
        s.push_str("---\n");
        s.push_str(&y);
    }
    s
}

/// `kustomization.yaml` listing the given paths, each quoted by the rule
/// of `emit::yaml` (a path has a `/`, so none needs it today).
pub fn kustomization(paths: &[String]) -> String {
    let mut s = String::from("# Generated by nplc. Do not edit.\napiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n");
    for p in paths {
        s.push_str("- ");
        super::yaml::push_scalar(&mut s, p, 2);
        s.push('\n');
    }
    s
}
