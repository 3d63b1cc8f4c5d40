//! Stage 6b, Cilium emission (the `cilium` target, docs/targets.md): the
//! checked program straight to `cilium.io/v2` CiliumNetworkPolicy objects,
//! with no deny compilation. Input: an [`Program`] and the source map.
//! Output: one [`Manifest`] per (managed namespace, subject selector),
//! sorted by (namespace, name), or errors (E0503) where Cilium cannot
//! write the program exactly.
//!
//! The construction, per managed namespace `M` (docs/targets.md has the
//! reasoning and the Cilium documentation it rests on):
//!
//! - every statement side whose subject may lie in `M` becomes rules of the
//!   policy that selects that subject: an allow an `ingress`/`egress` rule,
//!   a deny an `ingressDeny`/`egressDeny` rule (Cilium's deny beats every
//!   allow, so no set difference is needed). A subject that depends on
//!   namespace labels selects on them (`io.cilium.k8s.namespace.labels.K`:
//!   Cilium sees every namespace's labels, so E0501 does not arise);
//! - isolation (the posture, `isolate`) is a policy with a rule in that
//!   direction, `fromEntities`/`toEntities: [none]` when it allows nothing
//!   else: Cilium puts a pod into default deny for a direction when a policy
//!   with rules in that direction selects it;
//! - a policy whose subject is not isolated in a direction the namespace's
//!   posture leaves open says `enableDefaultDeny: false` for it, so its
//!   rules (a deny in a `default allow` namespace, say) do not isolate;
//! - peers: pods as `fromEndpoints`/`toEndpoints` selectors that name
//!   `k8s:io.kubernetes.pod.namespace` (so Cilium adds no namespace of its
//!   own), except for pods of the policy's own namespace, where Cilium's
//!   default (the policy's namespace) is meant; external addresses as `world` (every address of both families)
//!   or `fromCIDRSet`/`toCIDRSet` (never `cluster`: that entity includes
//!   nodes); one peer kind per rule, as Cilium requires;
//! - ports by protocol with `endPort` ranges, at most 40 per `toPorts`
//!   entry (the CRD's limit). A named port is exact on the ingress side
//!   (resolved on the pod itself); on the egress side Cilium resolves a name
//!   over many pods, so the rule is widened to the whole protocol there and
//!   the destination's ingress side must refuse what that adds: its pods in
//!   managed namespaces isolated for ingress, else E0503.
//!
//! Canonical form: rules within a policy sorted by content (peer kind, peers,
//! ports) with equal rules merged; selectors as in the k8s target
//! (`matchLabels` for single values, sorted `matchExpressions`);
//! `nplc.io/source` and `nplc.io/rules` annotations name the statements.

use crate::diag::{Diagnostic, Failed, Sink};
use crate::emit::k8s::{label_selector, MANAGED_BY, RULES_ANNOTATION, SOURCE_ANNOTATION};
use crate::ir::{
    ns_matches, Action, DnsNames, Direction, IpSet, KeyC, LabelSel, Namespace, PeerSet, PortSet,
    Program, Statement, Tri, ValSet, NAME_LABEL,
};
use crate::net::Protocol;
use crate::source::{SourceMap, Span};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// The label Cilium gives every pod with its namespace's name.
pub const POD_NAMESPACE: &str = "k8s:io.kubernetes.pod.namespace";
/// The prefix of the labels Cilium gives every pod with its namespace's labels.
pub const NAMESPACE_LABELS: &str = "k8s:io.cilium.k8s.namespace.labels.";
/// The most ports one `toPorts` entry may list (the CRD's `maxItems`).
pub const MAX_PORTS: usize = 40;

/// A `cilium.io/v2` CiliumNetworkPolicy (or, with `kind`
/// `CiliumClusterwideNetworkPolicy` and no namespace, its cluster-wide
/// twin), with the fields nplc writes and the evaluator reads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CiliumPolicy {
    pub api_version: String,
    pub kind: String,
    pub metadata: ObjectMeta,
    pub spec: Spec,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Spec {
    pub endpoint_selector: LabelSelector,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_default_deny: Option<DefaultDeny>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ingress: Option<Vec<Rule>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ingress_deny: Option<Vec<Rule>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub egress: Option<Vec<Rule>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub egress_deny: Option<Vec<Rule>>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct DefaultDeny {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ingress: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub egress: Option<bool>,
}

/// One rule of any of the four lists: the `from*` fields on ingress, the
/// `to*` fields on egress.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Rule {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_endpoints: Option<Vec<LabelSelector>>,
    #[serde(
        default,
        rename = "fromCIDRSet",
        skip_serializing_if = "Option::is_none"
    )]
    pub from_cidr_set: Option<Vec<CidrRule>>,
    #[serde(default, rename = "fromCIDR", skip_serializing_if = "Option::is_none")]
    pub from_cidr: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_entities: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_endpoints: Option<Vec<LabelSelector>>,
    #[serde(default, rename = "toCIDRSet", skip_serializing_if = "Option::is_none")]
    pub to_cidr_set: Option<Vec<CidrRule>>,
    #[serde(default, rename = "toCIDR", skip_serializing_if = "Option::is_none")]
    pub to_cidr: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_entities: Option<Vec<String>>,
    #[serde(default, rename = "toFQDNs", skip_serializing_if = "Option::is_none")]
    pub to_fqdns: Option<Vec<Fqdn>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_ports: Option<Vec<PortRule>>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct CidrRule {
    pub cidr: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub except: Option<Vec<String>>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Fqdn {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub match_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub match_pattern: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct PortRule {
    #[serde(default)]
    pub ports: Vec<PortProtocol>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rules: Option<L7Rules>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PortProtocol {
    pub port: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_port: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct L7Rules {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns: Option<Vec<DnsRule>>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DnsRule {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub match_pattern: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub match_name: Option<String>,
}

/// One generated object.
#[derive(Debug, Clone, PartialEq)]
pub struct Manifest {
    pub namespace: String,
    pub name: String,
    pub object: CiliumPolicy,
}

impl Manifest {
    /// Path under the output directory.
    pub fn path(&self) -> String {
        format!("{}/{}.yaml", self.namespace, self.name)
    }
    /// The YAML text.
    pub fn to_yaml(&self) -> String {
        let mut s = String::with_capacity(1024);
        self.write_yaml(&mut s);
        s
    }
    /// Appends the YAML text to `out` (`emit::yaml`'s layout and quoting).
    pub fn write_yaml(&self, out: &mut String) {
        if let Ok(v) = serde_yaml::to_value(&self.object) {
            super::yaml::write_value(&v, out);
        }
    }
}

impl super::Object for Manifest {
    fn path(&self) -> String {
        Manifest::path(self)
    }
    fn write_yaml(&self, out: &mut String) {
        Manifest::write_yaml(self, out)
    }
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

// ---- the construction ----------------------------------------------------

/// The peer of a rule: one kind per rule, as Cilium requires.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Peer {
    /// Pods: Cilium selectors (keys prefixed), any of them.
    Pods(Vec<LabelSel>),
    /// Every external address of both families: the `world` entity.
    World,
    /// External addresses.
    Cidr(IpSet),
    /// The addresses DNS names resolve to: `toFQDNs` (egress only).
    Names(DnsNames),
    /// kube-dns on 53/udp and 53/tcp through Cilium's DNS proxy
    /// (`rules: {dns: [{matchPattern: "*"}]}`), which `toFQDNs` needs to
    /// learn names (egress only; written only where the program permits
    /// it anyway, [`Builder::check_dns_proxy`]).
    DnsProxy,
    /// Nothing (isolation without an allow).
    Nothing,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct RuleKey {
    peer: Peer,
    ports: PortSet,
}

/// Rules of one list, each with the statements behind it.
type Rules = BTreeMap<RuleKey, BTreeSet<usize>>;

#[derive(Default)]
struct Draft {
    /// Isolated by the posture or an `isolate` (ingress, egress); where.
    isolated: [Option<Vec<Span>>; 2],
    /// ingress, ingressDeny, egress, egressDeny
    lists: [Rules; 4],
}

fn list_index(dir: Direction, action: Action) -> usize {
    match (dir, action) {
        (Direction::Ingress, Action::Allow) => 0,
        (Direction::Ingress, Action::Deny) => 1,
        (Direction::Egress, Action::Allow) => 2,
        (Direction::Egress, Action::Deny) => 3,
    }
}

fn dir_index(dir: Direction) -> usize {
    match dir {
        Direction::Ingress => 0,
        Direction::Egress => 1,
    }
}

/// A pod selector and a namespace selector as one Cilium selector: pod
/// label keys as written, the namespace's name as [`POD_NAMESPACE`] (any
/// namespace: `Exists`, so that Cilium adds none), its other labels under
/// [`NAMESPACE_LABELS`]; pods of namespace `own` (the policy's) without a
/// namespace key. Split into expressible parts.
fn pods_selector(namespaces: &LabelSel, pods: &LabelSel, own: &str) -> Vec<LabelSel> {
    // pods of the policy's own namespace: no namespace key, which Cilium
    // reads as the policy's namespace (docs/targets.md)
    if *namespaces == crate::ir::ns_named(own) {
        return if pods.is_empty() {
            vec![]
        } else {
            pods.expressible()
        };
    }
    let mut sel = pods.clone();
    let mut named = false;
    for (k, c) in namespaces.0.iter() {
        if k == NAME_LABEL {
            named = true;
            // every pod has a namespace: only the values matter
            let c = KeyC {
                absent: false,
                values: c.values.clone(),
            };
            sel = sel.with(POD_NAMESPACE, c);
        } else {
            sel = sel.with(&format!("{NAMESPACE_LABELS}{k}"), c.clone());
        }
    }
    if !named {
        sel = sel.with(POD_NAMESPACE, KeyC::exists());
    }
    if sel.is_empty() {
        return vec![];
    }
    sel.expressible()
}

/// The subject selectors of a term in namespace `ns` (pod labels, and the
/// namespace's own labels where the term depends on them), or none.
fn subjects(set: &PeerSet, ns: &str) -> Vec<LabelSel> {
    let PeerSet::Pods { namespaces, pods } = set else {
        return vec![];
    };
    let mut sel = pods.clone();
    match ns_matches(namespaces, ns) {
        Tri::No => return vec![],
        Tri::Yes => {}
        Tri::Unknown => {
            for (k, c) in namespaces.0.iter() {
                if k != NAME_LABEL {
                    sel = sel.with(&format!("{NAMESPACE_LABELS}{k}"), c.clone());
                }
            }
        }
    }
    if sel.is_empty() {
        return vec![];
    }
    sel.expressible()
}

/// Whether every pod of `set` is in a managed namespace that isolates it
/// for ingress (so that the ingress side refuses whatever no allow holds).
fn ingress_isolated(prog: &Program, set: &PeerSet) -> bool {
    let PeerSet::Pods { namespaces, pods } = set else {
        return false;
    };
    let Some(c) = namespaces.get(NAME_LABEL) else {
        return false;
    };
    let ValSet::Finite(names) = &c.values else {
        return false;
    };
    names.iter().all(|n| match prog.namespaces.get(n.as_str()) {
        Some(ns) => ns.isolates_all(Direction::Ingress, pods),
        None => false,
    })
}

/// Whether some pod of the subject term may be isolated in `dir` in `ns`.
fn may_isolate(ns: &Namespace, dir: Direction, subject: &PeerSet) -> bool {
    let PeerSet::Pods { pods, .. } = subject else {
        return false;
    };
    ns.posture.get(dir)
        || ns
            .isolates
            .iter()
            .any(|i| i.directions.get(dir) && i.pods.iter().any(|p| p.intersect(pods).is_some()))
}


/// Named ports widened to their whole protocol (the egress side).
fn widen_named(ports: &PortSet) -> PortSet {
    let mut out = PortSet {
        numbers: ports.numbers.clone(),
        named: BTreeSet::new(),
    };
    for (p, _) in &ports.named {
        out.add_range(*p, 1, 65535);
    }
    out
}

/// The peers of one side of a statement grouped into rule keys.
fn keys(terms: &[(&PeerSet, PortSet)], own: &str) -> Vec<RuleKey> {
    let mut pods: BTreeMap<PortSet, BTreeSet<LabelSel>> = BTreeMap::new();
    let mut ext: BTreeMap<PortSet, IpSet> = BTreeMap::new();
    let mut names: BTreeMap<PortSet, DnsNames> = BTreeMap::new();
    for (set, ports) in terms {
        if set.is_empty() || ports.is_empty() {
            continue;
        }
        match set {
            PeerSet::Pods {
                namespaces,
                pods: p,
            } => {
                pods.entry(ports.clone())
                    .or_default()
                    .extend(pods_selector(namespaces, p, own));
            }
            PeerSet::External(ips) => {
                let e = ext.entry(ports.clone()).or_insert_with(IpSet::empty);
                *e = e.union(ips);
            }
            PeerSet::Names(n) => {
                let e = names.entry(ports.clone()).or_default();
                *e = e.union(n);
            }
        }
    }
    let mut out = Vec::new();
    for (ports, sels) in pods {
        if !sels.is_empty() {
            out.push(RuleKey {
                peer: Peer::Pods(sels.into_iter().collect()),
                ports,
            });
        }
    }
    for (ports, ips) in ext {
        let peer = if ips.is_world() {
            Peer::World
        } else {
            Peer::Cidr(ips)
        };
        out.push(RuleKey { peer, ports });
    }
    for (ports, n) in names {
        out.push(RuleKey {
            peer: Peer::Names(n),
            ports,
        });
    }
    out
}

/// The kube-dns pods, as stdlib/dns.npl names them.
fn kube_dns() -> PeerSet {
    PeerSet::in_namespace(
        KUBE_DNS_NAMESPACE,
        LabelSel::any().with("k8s-app", KeyC::eq("kube-dns")),
    )
}

/// Where the cluster's DNS answers: kube-dns in kube-system.
const KUBE_DNS_NAMESPACE: &str = "kube-system";

/// The DNS ports: 53 on UDP and TCP.
fn dns_ports() -> PortSet {
    let mut p = PortSet::range(Protocol::Udp, 53, 53);
    p.add_range(Protocol::Tcp, 53, 53);
    p
}

struct Builder<'a> {
    prog: &'a Program,
    index: &'a Index,
    diags: Vec<Diagnostic>,
    /// Which statements have an effect (for W0601, W0602).
    used: crate::compile::effects::Used,
}

/// Which statements may have a subject in which namespace: by the names a
/// subject term's namespaces are limited to, else anywhere (ids ascending).
struct Index {
    /// per namespace: its named statements and the anywhere ones, merged
    merged: BTreeMap<String, Vec<usize>>,
    /// Some allow decides only the ingress side (`on ingress`).
    ingress_only_allows: bool,
}

impl Index {
    fn new(prog: &Program) -> Index {
        let mut named: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        let mut anywhere = Vec::new();
        for s in &prog.statements {
            let mut names: BTreeSet<&str> = BTreeSet::new();
            let mut any = false;
            for t in s
                .src
                .iter()
                .map(|t| &t.set)
                .chain(s.dst.iter().map(|d| &d.set))
            {
                let PeerSet::Pods { namespaces, .. } = t else {
                    continue;
                };
                match namespaces.get(NAME_LABEL) {
                    Some(KeyC {
                        values: ValSet::Finite(v),
                        ..
                    }) => names.extend(v.iter().map(String::as_str)),
                    _ => any = true,
                }
            }
            if any {
                anywhere.push(s.id);
            } else {
                for n in names {
                    named.entry(n.to_string()).or_default().push(s.id);
                }
            }
        }
        let merged = prog
            .namespaces
            .keys()
            .map(|n| {
                let mut v: Vec<usize> = named.get(n).into_iter().flatten().copied().collect();
                v.extend(anywhere.iter().copied());
                v.sort_unstable();
                v.dedup();
                (n.clone(), v)
            })
            .collect();
        let ingress_only_allows = prog
            .statements
            .iter()
            .any(|s| s.action == Action::Allow && !s.decides(Direction::Egress));
        Index {
            merged,
            ingress_only_allows,
        }
    }

    fn candidates(&self, ns: &str) -> &[usize] {
        self.merged.get(ns).map(Vec::as_slice).unwrap_or(&[])
    }
}

impl Builder<'_> {
    /// The drafts of namespace `ns`, by subject selector.
    fn namespace(&mut self, ns: &Namespace) -> BTreeMap<LabelSel, Draft> {
        let mut drafts: BTreeMap<LabelSel, Draft> = BTreeMap::new();
        for dir in Direction::BOTH {
            if ns.posture.get(dir) {
                let span = ns.posture_span.unwrap_or(ns.span);
                drafts.entry(LabelSel::any()).or_default().isolated[dir_index(dir)] =
                    Some(vec![span]);
            }
            for i in ns.isolates.iter().filter(|i| i.directions.get(dir)) {
                for sel in i.pods.iter().flat_map(|p| p.expressible()) {
                    if sel.is_empty() {
                        continue;
                    }
                    drafts.entry(sel).or_default().isolated[dir_index(dir)]
                        .get_or_insert_with(Vec::new)
                        .push(i.span);
                }
            }
        }
        for &id in self.index.candidates(&ns.name) {
            if let Some(s) = self.prog.statements.get(id) {
                for dir in Direction::BOTH {
                    self.used.note(self.prog, ns, dir, s);
                    self.statement_side(s, dir, ns, &mut drafts);
                }
            }
        }
        drafts
    }

    fn statement_side(
        &mut self,
        s: &Statement,
        dir: Direction,
        ns: &Namespace,
        drafts: &mut BTreeMap<LabelSel, Draft>,
    ) {
        // a side-scoped statement decides only its side (semantics.md,
        // "Side-scoped statements"): its rules go on that side alone
        if !s.decides(dir) {
            return;
        }
        // (subject term, the peers with their ports)
        let mut sides: Vec<(&PeerSet, Vec<(&PeerSet, PortSet)>)> = Vec::new();
        match dir {
            Direction::Ingress => {
                for d in &s.dst {
                    // a DNS name is never a source (E0114), and has no
                    // ingress side of its own
                    let peers = s
                        .src
                        .iter()
                        .filter(|t| !matches!(t.set, PeerSet::Names(_)))
                        .map(|t| (&t.set, d.ports.clone()))
                        .collect();
                    sides.push((&d.set, peers));
                }
            }
            Direction::Egress => {
                for t in &s.src {
                    let mut peers = Vec::new();
                    for d in &s.dst {
                        let ports = if d.ports.has_named() {
                            widen_named(&d.ports)
                        } else {
                            d.ports.clone()
                        };
                        peers.push((&d.set, ports));
                    }
                    sides.push((&t.set, peers));
                }
            }
        }
        for (subject, peers) in sides {
            let subs = subjects(subject, &ns.name);
            if subs.is_empty() {
                continue;
            }
            // an allow matters only where its pods may be isolated (with
            // `enableDefaultDeny: false` elsewhere it would change nothing)
            if s.action == Action::Allow && !may_isolate(ns, dir, subject) {
                continue;
            }
            if dir == Direction::Egress && s.action == Action::Allow {
                self.check_named(s, ns, subject, &subs);
            }
            let mut ks = keys(&peers, &ns.name);
            if ks.iter().any(|k| matches!(k.peer, Peer::Names(_))) {
                // toFQDNs learns names only from lookups through Cilium's
                // DNS proxy: the subject's egress to kube-dns goes there
                if self.check_dns_proxy(s, ns, subject) {
                    ks.push(RuleKey {
                        peer: Peer::DnsProxy,
                        ports: dns_ports(),
                    });
                } else {
                    ks.retain(|k| !matches!(k.peer, Peer::Names(_)));
                }
            }
            for sub in subs {
                let draft = drafts.entry(sub).or_default();
                for k in &ks {
                    draft.lists[list_index(dir, s.action)]
                        .entry(k.clone())
                        .or_default()
                        .insert(s.id);
                }
            }
        }
    }

    /// Whether the program already permits the subject's pods (of `ns`)
    /// egress to kube-dns on 53/udp and 53/tcp, so that the DNS proxy rule
    /// a `toFQDNs` rule needs adds nothing; else E0505 (the names could
    /// never be learnt). Conservative: one allow must cover the subject,
    /// kube-dns and the port on each side that may be isolated, and no
    /// deny may touch those connections.
    fn check_dns_proxy(&mut self, s: &Statement, ns: &Namespace, subject: &PeerSet) -> bool {
        let PeerSet::Pods { namespaces, pods } = subject else {
            return false;
        };
        let Some(here) = crate::ir::ns_named(&ns.name).intersect(namespaces) else {
            return false;
        };
        let subj = PeerSet::Pods {
            namespaces: here,
            pods: pods.clone(),
        };
        let dns = kube_dns();
        let no_names = |_: Protocol, _: &str| None;
        let covered = |dir: Direction, proto: Protocol| {
            self.prog.statements.iter().any(|a| {
                a.action == Action::Allow
                    && a.decides(dir)
                    && a.src.iter().any(|t| subj.is_subset(&t.set))
                    && a.dst
                        .iter()
                        .any(|d| dns.is_subset(&d.set) && d.ports.contains(proto, 53, &no_names))
            })
        };
        let denied = |proto: Protocol| {
            self.prog.statements.iter().any(|d| {
                d.action == Action::Deny
                    && d.src.iter().any(|t| subj.intersect(&t.set).is_some())
                    && d.dst.iter().any(|t| {
                        dns.intersect(&t.set).is_some()
                            && (d_has_named(&t.ports) || t.ports.contains(proto, 53, &no_names))
                    })
            })
        };
        let kube_system = self.prog.namespaces.get(KUBE_DNS_NAMESPACE);
        let mut missing: Vec<String> = Vec::new();
        for proto in [Protocol::Udp, Protocol::Tcp] {
            let egress = covered(Direction::Egress, proto);
            let ingress = match kube_system {
                Some(k) if may_isolate(k, Direction::Ingress, &dns) => {
                    covered(Direction::Ingress, proto)
                }
                _ => true,
            };
            if !egress || !ingress || denied(proto) {
                missing.push(format!("53/{}", proto.npl_name()));
            }
        }
        if missing.is_empty() {
            return true;
        }
        let at = s
            .dst
            .iter()
            .find(|d| matches!(d.set, PeerSet::Names(_)))
            .map(|d| d.span)
            .unwrap_or(s.span);
        self.diags.push(
            Diagnostic::error(
                "E0505",
                format!(
                    "these DNS names could never be learnt: the program does not permit the sources in namespace `{}` to reach kube-dns on {}",
                    ns.name,
                    missing.join(" and ")
                ),
            )
            .at(at, "DNS names")
            .with_note("Cilium learns the addresses of a name only from the lookups its DNS proxy sees: nplc adds a rule sending the sources' lookups to kube-dns through it, and writes it only where the program already permits those lookups (an allow whose source covers these pods and whose destination and ports cover `kube-system/k8s-app=kube-dns` on 53/udp and 53/tcp, and no deny touching them)")
            .with_help(format!(
                "add `allow egress dns` (`use dns`) to namespace `{}`, or `allow SOURCE -> dns` for these sources",
                ns.name
            )),
        );
        false
    }

    /// A named port on the egress side is widened to its protocol; the
    /// destination's ingress side must refuse what that adds (E0503),
    /// unless no subject pod is isolated for egress (then the widened rule
    /// permits nothing the side does not already permit).
    fn check_named(&mut self, s: &Statement, ns: &Namespace, subject: &PeerSet, subs: &[LabelSel]) {
        if !may_isolate(ns, Direction::Egress, subject) || subs.is_empty() {
            return;
        }
        // The ingress side refuses what the widening adds only when this
        // statement's own ingress rule holds the named port there and no
        // allow decides that side alone (an `on ingress` allow could open
        // another port of these pods to the subject, which the program's
        // egress side refuses and the widened egress rule would not).
        let ingress_exact = s.decides(Direction::Ingress) && !self.index.ingress_only_allows;
        for d in s.dst.iter().filter(|d| d.ports.has_named()) {
            if ingress_exact && ingress_isolated(self.prog, &d.set) {
                continue;
            }
            let names: Vec<String> = d
                .ports
                .named
                .iter()
                .map(|(_, n)| format!("`{n}`"))
                .collect();
            self.diags.push(
                Diagnostic::error(
                    "E0503",
                    format!(
                        "the named port {} cannot be written exactly for cilium on the egress side of namespace `{}`",
                        names.join(", "),
                        ns.name
                    ),
                )
                .at(d.span, "a named port towards these pods")
                .with_note("Cilium resolves a named port in an egress rule over the destination pods' port names, not the one pod a connection reaches; nplc widens such a rule to the whole protocol and needs the destination's ingress side to refuse the rest")
                .with_help("write the port number, or make these pods' namespace managed with ingress isolated (`default deny` or `default deny ingress`)"),
            );
        }
    }
}

/// Whether a port set names ports (a deny cannot, E0409: counted as
/// touching every port).
fn d_has_named(p: &PortSet) -> bool {
    p.has_named()
}

/// The Cilium form of a port set: `None` for every port; otherwise
/// entries of at most [`MAX_PORTS`] ports, by protocol then number, then names.
fn port_rules(set: &PortSet) -> Option<Vec<PortRule>> {
    if set.is_all() {
        return None;
    }
    let mut ports = Vec::new();
    for proto in Protocol::ALL {
        let protocol = Some(proto.k8s_name().to_string());
        if let Some(r) = set.numbers.get(&proto) {
            for &(lo, hi) in r.ranges() {
                ports.push(PortProtocol {
                    port: lo.to_string(),
                    end_port: (hi > lo).then_some(hi as i32),
                    protocol: protocol.clone(),
                });
            }
        }
        for (p, name) in &set.named {
            if *p == proto {
                ports.push(PortProtocol {
                    port: name.clone(),
                    end_port: None,
                    protocol: protocol.clone(),
                });
            }
        }
    }
    Some(
        ports
            .chunks(MAX_PORTS)
            .map(|c| PortRule {
                ports: c.to_vec(),
                rules: None,
            })
            .collect(),
    )
}

fn selector(sel: &LabelSel) -> LabelSelector {
    label_selector(sel)
}

fn rule(key: &RuleKey, dir: Direction) -> Rule {
    let mut r = Rule {
        to_ports: port_rules(&key.ports),
        ..Rule::default()
    };
    let ingress = dir == Direction::Ingress;
    match &key.peer {
        Peer::Pods(sels) => {
            let v = Some(sels.iter().map(selector).collect());
            if ingress {
                r.from_endpoints = v
            } else {
                r.to_endpoints = v
            }
        }
        Peer::World | Peer::Nothing => {
            let e = Some(vec![if key.peer == Peer::World {
                "world".to_string()
            } else {
                "none".to_string()
            }]);
            if ingress {
                r.from_entities = e
            } else {
                r.to_entities = e
            }
        }
        Peer::Names(names) => {
            // egress only: a DNS name is never a source (E0114)
            r.to_fqdns = Some(
                names
                    .iter()
                    .map(|n| {
                        if n.starts_with("*.") {
                            Fqdn {
                                match_pattern: Some(n.clone()),
                                ..Fqdn::default()
                            }
                        } else {
                            Fqdn {
                                match_name: Some(n.clone()),
                                ..Fqdn::default()
                            }
                        }
                    })
                    .collect(),
            );
        }
        Peer::DnsProxy => {
            let mut labels = BTreeMap::new();
            labels.insert(POD_NAMESPACE.to_string(), KUBE_DNS_NAMESPACE.to_string());
            labels.insert("k8s:k8s-app".to_string(), "kube-dns".to_string());
            r.to_endpoints = Some(vec![LabelSelector {
                match_labels: Some(labels),
                match_expressions: None,
            }]);
            if let Some(ports) = &mut r.to_ports {
                for pr in ports.iter_mut() {
                    pr.rules = Some(L7Rules {
                        dns: Some(vec![DnsRule {
                            match_pattern: Some("*".to_string()),
                            match_name: None,
                        }]),
                    });
                }
            }
        }
        Peer::Cidr(ips) => {
            let v = Some(
                ips.ip_blocks()
                    .into_iter()
                    .map(|b| CidrRule {
                        cidr: b.cidr.to_string(),
                        except: (!b.except.is_empty())
                            .then(|| b.except.iter().map(|e| e.to_string()).collect()),
                    })
                    .collect(),
            );
            if ingress {
                r.from_cidr_set = v
            } else {
                r.to_cidr_set = v
            }
        }
    }
    r
}

fn locations(prog: &Program, sources: &SourceMap, ids: &BTreeSet<usize>) -> Vec<String> {
    let spans: Vec<Span> = ids
        .iter()
        .filter_map(|i| prog.statements.get(*i))
        .map(|s| s.span)
        .collect();
    sorted_locations(sources, spans)
}

fn sorted_locations(sources: &SourceMap, mut spans: Vec<Span>) -> Vec<String> {
    spans.sort_by_key(|s| (sources.name(s.file).to_string(), s.start));
    let mut v: Vec<String> = Vec::new();
    for s in spans {
        let l = sources.location(s);
        if !v.contains(&l) {
            v.push(l);
        }
    }
    v
}

fn object(
    ns: &Namespace,
    name: &str,
    subject: &LabelSel,
    draft: Draft,
    prog: &Program,
    sources: &SourceMap,
) -> CiliumPolicy {
    let mut notes: Vec<String> = Vec::new();
    let mut spans: Vec<Span> = Vec::new();
    let mut lists: [Option<Vec<Rule>>; 4] = Default::default();
    let words = ["ingress", "ingressDeny", "egress", "egressDeny"];
    let mut default_deny = DefaultDeny::default();
    let Draft {
        isolated,
        lists: mut drafts,
    } = draft;
    for dir in Direction::BOTH {
        let d = dir_index(dir);
        let allow = list_index(dir, Action::Allow);
        if let Some(iso) = &isolated[d] {
            spans.extend(iso.iter().copied());
            if drafts[allow].is_empty() {
                drafts[allow].insert(
                    RuleKey {
                        peer: Peer::Nothing,
                        ports: PortSet::all(),
                    },
                    BTreeSet::new(),
                );
            }
        } else {
            let has =
                !drafts[allow].is_empty() || !drafts[list_index(dir, Action::Deny)].is_empty();
            if has && !ns.posture.get(dir) {
                match dir {
                    Direction::Ingress => default_deny.ingress = Some(false),
                    Direction::Egress => default_deny.egress = Some(false),
                }
            }
        }
    }
    for (i, rules) in drafts.iter().enumerate() {
        if rules.is_empty() {
            continue;
        }
        let dir = if i < 2 {
            Direction::Ingress
        } else {
            Direction::Egress
        };
        let mut out = Vec::new();
        for (j, (key, ids)) in rules.iter().enumerate() {
            let locs = locations(prog, sources, ids);
            let what = if key.peer == Peer::Nothing {
                "isolation only".to_string()
            } else if key.peer == Peer::DnsProxy {
                format!(
                    "DNS lookups through Cilium's proxy, for the DNS names of {}",
                    locs.join(", ")
                )
            } else if i % 2 == 0 {
                format!("allow {}", locs.join(", "))
            } else {
                format!("deny {}", locs.join(", "))
            };
            notes.push(format!("{}[{j}]: {what}", words[i]));
            spans.extend(
                ids.iter()
                    .filter_map(|s| prog.statements.get(*s))
                    .map(|s| s.span),
            );
            out.push(rule(key, dir));
        }
        lists[i] = Some(out);
    }
    let mut annotations = BTreeMap::new();
    annotations.insert(
        SOURCE_ANNOTATION.to_string(),
        sorted_locations(sources, spans).join(", "),
    );
    if !notes.is_empty() {
        annotations.insert(RULES_ANNOTATION.to_string(), notes.join("\n"));
    }
    let [ingress, ingress_deny, egress, egress_deny] = lists;
    CiliumPolicy {
        api_version: "cilium.io/v2".into(),
        kind: "CiliumNetworkPolicy".into(),
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            namespace: Some(ns.name.clone()),
            labels: Some([(MANAGED_BY.0.to_string(), MANAGED_BY.1.to_string())].into()),
            annotations: Some(annotations),
            ..Default::default()
        },
        spec: Spec {
            endpoint_selector: selector(subject),
            enable_default_deny: (default_deny != DefaultDeny::default()).then_some(default_deny),
            ingress,
            ingress_deny,
            egress,
            egress_deny,
        },
    }
}

/// W0601 for an allow to DNS names whose sources' egress is isolated
/// nowhere: the addresses are permitted anyway, and no `toFQDNs` is
/// written for it. Only for allows with an effect elsewhere (`used`: on
/// another destination's side); the others get the general W0601.
fn dns_without_effect(prog: &Program, used: &BTreeSet<usize>) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for s in prog
        .statements
        .iter()
        .filter(|s| s.action == Action::Allow && used.contains(&s.id))
    {
        let Some(at) = s
            .dst
            .iter()
            .find(|d| matches!(d.set, PeerSet::Names(_)))
            .map(|d| d.span)
        else {
            continue;
        };
        if !s.decides(Direction::Egress) {
            continue;
        }
        let effective = prog.namespaces.values().any(|ns| {
            s.src.iter().any(|t| {
                !subjects(&t.set, &ns.name).is_empty() && may_isolate(ns, Direction::Egress, &t.set)
            })
        });
        if !effective {
            out.push(
                Diagnostic::warning("W0601", "this allow to DNS names has no effect: its sources' egress is not isolated")
                    .at(at, "DNS names")
                    .with_label(s.span, "no source of this rule is a pod whose egress is isolated")
                    .with_help("pods whose egress is not isolated reach every address already; isolate their egress (`default deny egress`, `isolate egress ...`) for the names to be the only addresses they reach, or remove the rule"),
            );
        }
    }
    out
}

/// The cilium target: every managed namespace's policies, sorted by
/// (namespace, name). Errors: E0503.
pub fn emit(prog: &Program, sources: &SourceMap, sink: &mut Sink) -> Result<Vec<Manifest>, Failed> {
    let mark = sink.mark();
    let namespaces: Vec<&Namespace> = prog.namespaces.values().collect();
    let index = Index::new(prog);
    let parts = crate::par::map(&namespaces, |ns| {
        let mut b = Builder {
            prog,
            index: &index,
            diags: Vec::new(),
            used: Default::default(),
        };
        let drafts = b.namespace(ns);
        // names read `ns-KEY` for a namespace label of the subject
        let subjects: Vec<LabelSel> = drafts
            .keys()
            .map(|s| {
                let mut n = LabelSel::any();
                for (k, c) in s.0.iter() {
                    match k.strip_prefix(NAMESPACE_LABELS) {
                        Some(k) => n = n.with(&format!("ns-{k}"), c.clone()),
                        None => n = n.with(k, c.clone()),
                    }
                }
                n
            })
            .collect();
        let refs: Vec<&LabelSel> = subjects.iter().collect();
        let names = crate::compile::names::policy_names(ns, &refs);
        let mut out: Vec<Manifest> = drafts
            .into_iter()
            .zip(names)
            .map(|((subject, draft), name)| Manifest {
                namespace: ns.name.clone(),
                object: object(ns, &name, &subject, draft, prog, sources),
                name,
            })
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        (out, b.diags, b.used)
    });
    let mut out = Vec::new();
    let mut seen = BTreeSet::new();
    // the effect warnings of the program, as the k8s target reports them
    let mut used = crate::compile::effects::Used::default();
    for (_, _, u) in &parts {
        used.allows.extend(u.allows.iter().copied());
        used.denies.extend(u.denies.iter().copied());
    }
    for d in crate::compile::effects::warnings(
        prog,
        &used,
        &prog
            .statements
            .iter()
            .map(crate::compile::effects::rule_hash)
            .collect::<Vec<u64>>(),
    ) {
        sink.report(d);
    }
    for d in dns_without_effect(prog, &used.allows) {
        sink.report(d);
    }
    for (ms, diags, _) in parts {
        for d in diags {
            // one report per place and message
            if seen.insert((d.message.clone(), format!("{:?}", d.primary))) {
                sink.report(d);
            }
        }
        out.extend(ms);
    }
    out.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
    sink.finish(mark, out)
}
