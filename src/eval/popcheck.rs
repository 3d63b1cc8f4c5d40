//! Population-aware checks of `nplc check --pods FILE` (outside the compile
//! pipeline, like the evaluators). Input: a checked [`Program`] and a
//! [`Population`] (namespaces, pods and Services). Output: warnings, sorted
//! by their primary span then code, each pointing at the statement or
//! selector of the program it is about, with a help line:
//!
//! - W0610, a selector that matches no pod of the population: a peer of an
//!   `allow`/`deny`, an `isolate` selector or a `workload` selector,
//!   judged only in the namespaces of the population it can select (a
//!   selector of namespaces the population does not list is not judged:
//!   the population may be one cluster of several);
//! - W0611, pods of a managed namespace that no `workload` selector
//!   matches, one warning per namespace and set of labels (replicas of one
//!   deployment differ only by `pod-template-hash` and the like, which are
//!   left out), at the namespace's name;
//! - W0612, the trap of seed 001: a destination port that is a Service's
//!   `port` but not its `targetPort`, on pods the Service selects. A
//!   NetworkPolicy sees the connection after the Service has translated
//!   it, so the port to write is the container port (a named `targetPort`
//!   resolved on the pods).

use crate::diag::Diagnostic;
use crate::ir::{DstTerm, LabelSel, PeerSet, Program, Statement};
use crate::population::{PodInfo, Population, ServiceInfo, TargetPort};
use crate::source::Span;
use std::collections::{BTreeMap, BTreeSet};

/// Labels that controllers set per pod or per revision: left out when pods
/// are grouped and when a `workload` selector is suggested.
const PER_POD_LABELS: &[&str] = &[
    "pod-template-hash",
    "controller-revision-hash",
    "pod-template-generation",
    "statefulset.kubernetes.io/pod-name",
    "apps.kubernetes.io/pod-index",
    "batch.kubernetes.io/controller-uid",
    "batch.kubernetes.io/job-completion-index",
    "controller-uid",
];

/// At most this many pod names are listed in one message.
const LIST_LIMIT: usize = 5;

/// Every population-aware warning (see the module documentation).
pub fn population_checks(prog: &Program, pop: &Population) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    dangling(prog, pop, &mut out);
    unnamed_pods(prog, pop, &mut out);
    service_ports(prog, pop, &mut out);
    crate::diag::sort_diagnostics(&mut out);
    out
}

/// `a`, `a` and `b`, `a`, `b` and `c`: names in backticks.
fn listing<'a>(names: impl IntoIterator<Item = &'a str>) -> String {
    let v: Vec<String> = names.into_iter().map(|n| format!("`{n}`")).collect();
    match v.as_slice() {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// The pod names of a group, the first [`LIST_LIMIT`], then how many more.
fn pod_names(pods: &[&PodInfo]) -> String {
    let shown = listing(pods.iter().take(LIST_LIMIT).map(|p| p.name.as_str()));
    match pods.len().checked_sub(LIST_LIMIT) {
        Some(more) if more > 0 => format!("{shown} and {more} more"),
        _ => shown,
    }
}

/// The namespaces of the population a namespace selector matches (by their
/// labels in the population), in name order.
fn namespaces_of<'a>(pop: &'a Population, sel: &LabelSel) -> Vec<&'a str> {
    pop.namespaces
        .values()
        .filter(|n| sel.matches(&n.labels))
        .map(|n| n.name.as_str())
        .collect()
}

/// Whether some pod of namespace `ns` matches `pods`.
fn any_pod(pop: &Population, ns: &str, pods: &LabelSel) -> bool {
    pop.pods_in_namespace(ns)
        .any(|i| pods.matches(&pop.pods[i].labels))
}

/// The pod sets a peer written at one place denotes (an `except` makes
/// several): empty sets and addresses are not judged.
fn pod_sets<'a>(sets: impl Iterator<Item = &'a PeerSet>) -> Vec<(&'a LabelSel, &'a LabelSel)> {
    sets.filter(|s| !s.is_empty())
        .filter_map(|s| match s {
            PeerSet::Pods { namespaces, pods } => Some((namespaces, pods)),
            PeerSet::External(_) | PeerSet::Names(_) => None,
        })
        .collect()
}

fn looked_at(namespaces: &BTreeSet<&str>) -> String {
    let names = listing(namespaces.iter().copied());
    if namespaces.len() == 1 {
        format!("no pod of namespace {names} matches it")
    } else {
        format!("no pod of the namespaces {names} matches it")
    }
}

/// The command that lists the pods of these namespaces with their labels.
fn list_pods(namespaces: &BTreeSet<&str>) -> String {
    match namespaces.iter().next() {
        Some(ns) if namespaces.len() == 1 => format!("kubectl get pods -n {ns} --show-labels"),
        _ => "kubectl get pods -A --show-labels".to_string(),
    }
}

/// W0610 for one written peer (the pod sets it denotes), if it selects
/// namespaces of the population and no pod there; `where_` is what to
/// write `@silence` before.
fn dangling_peer(
    pop: &Population,
    span: Span,
    sets: &[(&LabelSel, &LabelSel)],
    what: &str,
    where_: &str,
) -> Option<Diagnostic> {
    let mut seen: BTreeSet<&str> = BTreeSet::new();
    for (namespaces, pods) in sets {
        for ns in namespaces_of(pop, namespaces) {
            if any_pod(pop, ns, pods) {
                return None;
            }
            seen.insert(ns);
        }
    }
    if seen.is_empty() {
        return None;
    }
    Some(
        Diagnostic::warning(
            "W0610",
            format!("{what} matches no pod of the population"),
        )
        .at(span, looked_at(&seen))
        .with_help(format!("check the labels against the pods (`{}`); if the pods are yet to come, write `@silence(W0610)` before the {where_}", list_pods(&seen))),
    )
}

fn dangling(prog: &Program, pop: &Population, out: &mut Vec<Diagnostic>) {
    // peers of statements, by where they are written
    for s in &prog.statements {
        let mut by_span: BTreeMap<Span, Vec<&PeerSet>> = BTreeMap::new();
        for t in &s.src {
            by_span.entry(t.span).or_default().push(&t.set);
        }
        for t in &s.dst {
            by_span.entry(t.span).or_default().push(&t.set);
        }
        for (span, sets) in by_span {
            let sets = pod_sets(sets.into_iter());
            out.extend(dangling_peer(pop, span, &sets, "this peer", "statement"));
        }
    }
    for ns in prog.namespaces.values() {
        if !pop.namespaces.contains_key(&ns.name) {
            continue;
        }
        // `@silence` on an `isolate` or a namespace block is recorded on the
        // namespace: it covers the namespace's isolates and workloads
        if ns.silence.iter().any(|x| x.code == "W0610") {
            continue;
        }
        let here = crate::ir::ns_named(&ns.name);
        for iso in &ns.isolates {
            let sets: Vec<(&LabelSel, &LabelSel)> = iso
                .pods
                .iter()
                .filter(|p| !p.is_empty())
                .map(|p| (&here, p))
                .collect();
            out.extend(dangling_peer(
                pop,
                iso.span,
                &sets,
                "this `isolate`",
                "`isolate`",
            ));
        }
        for w in &ns.workload_decls {
            if w.pods.is_empty() {
                continue;
            }
            out.extend(dangling_peer(
                pop,
                w.span,
                &[(&here, &w.pods)],
                &format!("workload `{}`", w.name),
                "namespace block",
            ));
        }
    }
}

/// A pod's labels without the per-pod ones ([`PER_POD_LABELS`]).
fn stable_labels(p: &PodInfo) -> BTreeMap<&str, &str> {
    p.labels
        .iter()
        .filter(|(k, _)| !PER_POD_LABELS.contains(&k.as_str()))
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect()
}

/// A workload name for pods with these labels: the value of the first of
/// the usual name labels, as a name (lowercase letters, digits and `-`).
fn suggested_name(labels: &BTreeMap<&str, &str>) -> String {
    let raw = [
        "app.kubernetes.io/name",
        "app",
        "k8s-app",
        "name",
        "component",
    ]
    .iter()
    .find_map(|k| labels.get(k))
    .or_else(|| labels.values().next())
    .copied()
    .unwrap_or("name");
    crate::import::write::workload_name(raw)
}

fn unnamed_pods(prog: &Program, pop: &Population, out: &mut Vec<Diagnostic>) {
    for ns in prog.namespaces.values() {
        let mut groups: BTreeMap<BTreeMap<&str, &str>, Vec<&PodInfo>> = BTreeMap::new();
        for i in pop.pods_in_namespace(&ns.name) {
            let p = &pop.pods[i];
            if ns.workload_decls.iter().any(|w| w.pods.matches(&p.labels)) {
                continue;
            }
            groups.entry(stable_labels(p)).or_default().push(p);
        }
        for (labels, pods) in groups {
            let who = match pods.as_slice() {
                [one] => format!("pod `{}/{}`", ns.name, one.name),
                _ => format!("{} pods of `{}`", pods.len(), ns.name),
            };
            let shown: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
            let d = Diagnostic::warning(
                "W0611",
                if shown.is_empty() {
                    format!("no workload names {who} (no labels)")
                } else {
                    format!("no workload names {who} (labels {{{}}})", shown.join(", "))
                },
            )
            .at(ns.span, format!("namespace `{}` is managed here", ns.name));
            let d = if pods.len() > 1 {
                d.with_note(format!("the pods: {}", pod_names(&pods)))
            } else {
                d
            };
            let help = if labels.is_empty() {
                "these pods carry no label a selector could name them by: label them (in their template), then declare a `workload`; if they need no name, write `@silence(W0611)` before the namespace block".to_string()
            } else {
                let sel: Vec<String> = labels
                    .iter()
                    .map(|(k, v)| {
                        format!(
                            "{}={}",
                            crate::import::write::key_text(k),
                            crate::import::write::value_text(v)
                        )
                    })
                    .collect();
                format!(
                    "declare it in the namespace: `workload {} = {}` (or with fewer labels); if they need no name, write `@silence(W0611)` before the namespace block",
                    suggested_name(&labels),
                    sel.join(", ")
                )
            };
            out.push(d.with_help(help));
        }
    }
}

/// The pods a destination denotes that `svc` selects.
fn selected_by<'a>(pop: &'a Population, svc: &ServiceInfo, dst: &DstTerm) -> Vec<&'a PodInfo> {
    let PeerSet::Pods { namespaces, pods } = &dst.set else {
        return Vec::new();
    };
    if dst.set.is_empty() || !namespaces.matches(&pop.namespace_labels(&svc.namespace)) {
        return Vec::new();
    }
    pop.pods_in_namespace(&svc.namespace)
        .map(|i| &pop.pods[i])
        .filter(|p| svc.selects(p) && pods.matches(&p.labels))
        .collect()
}

fn service_ports(prog: &Program, pop: &Population, out: &mut Vec<Diagnostic>) {
    for s in &prog.statements {
        for dst in &s.dst {
            for svc in &pop.services {
                service_port(pop, s, dst, svc, out);
            }
        }
    }
}

/// W0612 for one destination and one Service.
fn service_port(
    pop: &Population,
    s: &Statement,
    dst: &DstTerm,
    svc: &ServiceInfo,
    out: &mut Vec<Diagnostic>,
) {
    if svc.selector.is_none() {
        return;
    }
    let pods = selected_by(pop, svc, dst);
    if pods.is_empty() {
        return;
    }
    for sp in &svc.ports {
        let proto = sp.protocol;
        // the trap is the service's port written as such: a range or a
        // whole protocol that holds it is not judged
        let one = (u128::from(sp.port), u128::from(sp.port));
        let written = dst
            .ports
            .numbers
            .get(&proto)
            .is_some_and(|r| r.ranges().contains(&one));
        // nor a port some selected pod declares itself (it may be meant)
        let declared = pods.iter().any(|p| {
            p.ports
                .iter()
                .any(|x| x.protocol == proto && x.port == sp.port)
        });
        if !written || declared {
            continue;
        }
        // the container ports it forwards to on the selected pods, and on which
        let mut targets: BTreeMap<u16, Vec<&PodInfo>> = BTreeMap::new();
        for p in &pods {
            if let Some(n) = sp.target_on(p) {
                targets.entry(n).or_default().push(p);
            }
        }
        // the port is right where it is the target too; written both ways, fine
        let named = |pr: crate::net::Protocol, n: &str| {
            pods.iter()
                .find_map(|p| p.ports.iter().find(|x| x.protocol == pr && x.name == n))
                .map(|x| x.port)
        };
        let missing: Vec<u16> = targets
            .keys()
            .copied()
            .filter(|t| *t != sp.port && !dst.ports.contains(proto, *t, &named))
            .collect();
        if missing.is_empty() {
            continue;
        }
        let whose = match &sp.name {
            Some(n) => format!(
                "the `port` of service `{}/{}` (its port `{n}`)",
                svc.namespace, svc.name
            ),
            None => format!("the `port` of service `{}/{}`", svc.namespace, svc.name),
        };
        let numbers: Vec<String> = missing.iter().map(|n| n.to_string()).collect();
        let write = match &sp.target {
            TargetPort::Number(_) => format!("`{}`", numbers.join("`, `")),
            TargetPort::Name(name) => format!(
                "`{}` (the container port `{name}` of {}; the name `{name}` works too)",
                numbers.join("`, `"),
                missing
                    .iter()
                    .map(|n| pod_names(targets.get(n).map_or(&[][..], Vec::as_slice)))
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
        };
        let verb = match s.action {
            crate::ir::Action::Allow => "allows",
            crate::ir::Action::Deny => "denies",
        };
        let d = Diagnostic::warning(
            "W0612",
            format!("port {} is {whose}, not a port of its pods", sp.port),
        )
        .at(
            dst.span,
            format!(
                "the service forwards {proto}/{} to {proto}/{} on these pods",
                sp.port,
                numbers.join(", ")
            ),
        )
        .with_note(format!(
            "a NetworkPolicy sees the connection after the service has translated it: this {verb} {proto}/{} on the pods, which the service never sends them",
            sp.port
        ))
        .with_help(format!(
            "write the container port the service forwards to, {write}, instead of `{}`",
            sp.port
        ));
        out.push(d);
    }
}
