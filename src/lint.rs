//! Security lints: the seeds' advice made checkable. Input: the checked
//! [`Program`] and, when the build has `nodes` blocks, the [`FirewallSpec`].
//! Output: warnings W0609, W0701-W0711 (docs/diagnostics.md), each
//! pointing at the statement that causes it so that `@silence(CODE)` there
//! silences it.
//!
//! W0609 reads the namespaces the peers name: one that is not managed but
//! is a typo away from one that is.
//!
//! Node rule warnings (W0707-W0709): a role no rule gives management
//! access to, an allow of a component on a role that does not run it, an
//! allow that denies take out entirely.
//!
//! Firewall lints (W0701-W0703, W0710, W0711) read the port table, so they see the ports
//! as finally open (allows minus denies), whether written by component name
//! or by number. Namespace lints (W0704-W0706) point at the namespace's
//! `default` statement, or at its name when no posture is written.

use crate::diag::Diagnostic;
use crate::firewall::{describe_set, FirewallSpec, NodeRule, PortRow};
use crate::ir::ranges::RangeSet;
use crate::ir::Action;
use crate::ir::{IpSet, LabelSel, Namespace, PeerSet, PortSet, Program};
use crate::net::Protocol;
use ipnet::IpNet;
use std::collections::BTreeMap;
use std::net::IpAddr;

/// The kubelet read-only port (seed 000: legacy, unauthenticated).
pub const KUBELET_READONLY: (u16, u16) = (10255, 10255);
/// etcd server client API and peer ports (seeds 000, 002).
pub const ETCD: (u16, u16) = (2379, 2380);
/// The Kubernetes API server (seeds 000, 002).
pub const APISERVER: (u16, u16) = (6443, 6443);
/// The kubelet API (seed 000: "allows full node access"; seed 002).
pub const KUBELET: (u16, u16) = (10250, 10250);
/// The control plane's components besides the API server and etcd, with
/// their ports (seeds 000, 002): what W0710 looks at with the kubelet.
pub const CONTROL_PLANE_COMPONENTS: [(&str, (u16, u16)); 3] = [
    ("kube-controller-manager", (10257, 10257)),
    ("cloud-controller-manager", (10258, 10258)),
    ("kube-scheduler", (10259, 10259)),
];
/// The dashboard's NodePort (seed 000), inside the NodePort range.
pub const DASHBOARD: (u16, u16) = (30000, 30000);
/// The cloud instance metadata API (`metadata-api` in the stdlib).
pub const METADATA_V4: &str = "169.254.169.254";
/// NodeLocal DNSCache's default listen address.
pub const NODELOCAL_DNS: &str = "169.254.20.10";

/// Every security lint of a build.
pub fn lint(prog: &Program, fw: Option<&FirewallSpec>) -> Vec<Diagnostic> {
    lint_incremental(prog, fw, &[], None, None).0
}

/// What linting gave (the language server): each namespace's lints with
/// their inputs (the namespace, the ids of the statements that may hold
/// its pods), and each statement's W0609 with the managed namespaces it
/// was read against.
#[derive(Default)]
pub struct Memo {
    namespaces: BTreeMap<String, (Namespace, Vec<usize>, Vec<Diagnostic>)>,
    managed: Vec<String>,
    misspelt: Vec<Vec<Diagnostic>>,
}

/// [`lint`] again after an edit: `same[id]` is the id in the memo's
/// program of statement `id` when the two are equal but for their ids. A
/// namespace whose declaration is equal and whose statements are the
/// memo's unchanged ones, in order, takes its lints from the memo, and so
/// does an unchanged statement's W0609 when the managed namespaces are
/// the same (each depends on nothing else); the node firewall's lints run
/// again. A namespace not in `changed` (`None`: all may have changed) is
/// the memo's: its declaration is not compared again. The result is what
/// `lint` gives, and the memo of this program.
pub fn lint_incremental(
    prog: &Program,
    fw: Option<&FirewallSpec>,
    same: &[Option<usize>],
    changed: Option<&std::collections::BTreeSet<String>>,
    memo: Option<Memo>,
) -> (Vec<Diagnostic>, Memo) {
    let mut old = memo.unwrap_or_default();
    let mut next = Memo {
        managed: prog.namespaces.keys().cloned().collect(),
        ..Memo::default()
    };
    let was = |id: usize| same.get(id).copied().flatten();
    let mut out = Vec::new();
    let same_managed = old.managed == next.managed;
    let mut guess = BTreeMap::new();
    for (id, s) in prog.statements.iter().enumerate() {
        let kept = match was(id) {
            Some(o) if same_managed => old.misspelt.get_mut(o).map(std::mem::take),
            _ => None,
        };
        let ds = kept.unwrap_or_else(|| {
            let mut ds = Vec::new();
            misspelt_namespaces(prog, s, &mut guess, &mut ds);
            ds
        });
        out.extend(ds.iter().cloned());
        next.misspelt.push(ds);
    }
    let relevant = statements_by_namespace(prog);
    let none = Vec::new();
    for ns in prog.namespaces.values() {
        let stmts = relevant.get(&ns.name).unwrap_or(&none);
        let ids: Vec<usize> = stmts.iter().map(|s| s.id).collect();
        let compare = changed.is_none_or(|c| c.contains(&ns.name));
        let kept = old.namespaces.remove(&ns.name).filter(|(n, o, _)| {
            (!compare || n == ns)
                && o.len() == ids.len()
                && ids.iter().zip(o).all(|(i, o)| was(*i) == Some(*o))
        });
        let (n, ds) = match kept {
            Some((n, _, ds)) => (n, ds),
            None => {
                let mut ds = Vec::new();
                metadata_api(stmts, ns, &mut ds);
                default_allow(stmts, ns, &mut ds);
                dns(stmts, ns, &mut ds);
                (ns.clone(), ds)
            }
        };
        out.extend(ds.iter().cloned());
        next.namespaces.insert(ns.name.clone(), (n, ids, ds));
    }
    if let Some(fw) = fw {
        firewall(fw, &mut out);
        node_rules(fw, &mut out);
    }
    (out, next)
}

/// For each managed namespace, the statements with a side that may hold its
/// pods (so that the namespace lints do not scan every statement for every
/// namespace).
fn statements_by_namespace(
    prog: &Program,
) -> std::collections::BTreeMap<String, Vec<&crate::ir::Statement>> {
    let mut out: std::collections::BTreeMap<String, Vec<&crate::ir::Statement>> =
        std::collections::BTreeMap::new();
    for s in &prog.statements {
        let mut names: std::collections::BTreeSet<&str> = std::collections::BTreeSet::new();
        let sets = s
            .src
            .iter()
            .map(|t| &t.set)
            .chain(s.dst.iter().map(|t| &t.set));
        for set in sets {
            let PeerSet::Pods { namespaces, .. } = set else {
                continue;
            };
            match namespaces.get(crate::ir::NAME_LABEL) {
                Some(c) if !c.absent => {
                    if let crate::ir::ValSet::Finite(v) = &c.values {
                        names.extend(v.iter().map(String::as_str));
                        continue;
                    }
                    names.extend(prog.namespaces.keys().map(String::as_str));
                }
                _ => names.extend(prog.namespaces.keys().map(String::as_str)),
            }
        }
        for n in names {
            if prog.namespaces.contains_key(n) {
                out.entry(n.to_string()).or_default().push(s);
            }
        }
    }
    out
}

/// Namespaces that clusters have without a `namespace` block: never taken
/// for a misspelling of a managed one.
const SYSTEM_NAMESPACES: [&str; 4] = ["default", "kube-node-lease", "kube-public", "kube-system"];

/// W0609: a peer names a namespace that is not managed, but is one typo
/// away from one that is (`shpo/app=api` beside `namespace shop`). It
/// compiles into policies for pods of a namespace that may not exist, and
/// says nothing.
///
/// `guess` keeps the closest managed name of each name looked up.
fn misspelt_namespaces<'p>(
    prog: &'p Program,
    s: &'p crate::ir::Statement,
    guess: &mut BTreeMap<&'p str, Option<&'p str>>,
    out: &mut Vec<Diagnostic>,
) {
    let managed = || prog.namespaces.keys().map(String::as_str);
    if prog.namespaces.is_empty() {
        return;
    }
    let terms = s
        .src
        .iter()
        .map(|t| (&t.set, t.span))
        .chain(s.dst.iter().map(|t| (&t.set, t.span)));
    let mut reported = std::collections::BTreeSet::new();
    for (set, span) in terms {
        let PeerSet::Pods { namespaces, .. } = set else {
            continue;
        };
        let Some(c) = namespaces.get(crate::ir::NAME_LABEL) else {
            continue;
        };
        let (crate::ir::ValSet::Finite(names) | crate::ir::ValSet::Cofinite(names)) = &c.values;
        for n in names.iter() {
            // a name of one or two letters is one edit from every other
            // such name: too short to call a misspelling
            if prog.namespaces.contains_key(n)
                || SYSTEM_NAMESPACES.contains(&n.as_str())
                || n.chars().count() < 3
            {
                continue;
            }
            let close = *guess
                .entry(n.as_str())
                .or_insert_with(|| crate::diag::did_you_mean(n, managed()));
            let Some(close) = close else {
                continue;
            };
            if !reported.insert(n.as_str()) {
                continue;
            }
            out.push(
                Diagnostic::warning(
                    "W0609",
                    format!("namespace `{n}` is not managed; did you mean `{close}`?"),
                )
                .at(span, format!("pods of namespace `{n}`, which no `namespace` block declares"))
                .with_help(format!("write `{close}/...` if that is meant; if `{n}` is another namespace (one nplc writes no policies for), write `@silence(W0609)` before the statement"))
                .with_note(format!("a peer in a namespace that is not managed compiles as written, and matches nothing if the cluster has no namespace `{n}`")),
            );
        }
    }
}

// ---- the node firewall ---------------------------------------------------

/// Per allow rule and role: the addresses it really opens on `(proto, lo..=hi)`.
fn opened(
    fw: &FirewallSpec,
    rows: &[PortRow],
    proto: Protocol,
    lo: u16,
    hi: u16,
) -> BTreeMap<(usize, String), IpSet> {
    let want = RangeSet::range(lo.into(), hi.into());
    let mut out: BTreeMap<(usize, String), IpSet> = BTreeMap::new();
    for row in rows.iter().filter(|r| r.protocol == proto && r.is_open()) {
        if RangeSet::range(row.lo.into(), row.hi.into())
            .intersect(&want)
            .is_empty()
        {
            continue;
        }
        for id in &row.allowed_by {
            let Some(rule) = fw.rules.get(*id) else {
                continue;
            };
            let part = rule.sources.intersect(&row.open);
            if part.is_empty() {
                continue;
            }
            let e = out.entry((*id, row.role.clone())).or_default();
            *e = e.union(&part);
        }
    }
    out
}

fn rule_of(fw: &FirewallSpec, id: usize) -> Option<&NodeRule> {
    fw.rules.get(id)
}

fn firewall(fw: &FirewallSpec, out: &mut Vec<Diagnostic>) {
    let rows = fw.rows();
    // W0701: the kubelet read-only port open
    for ((id, role), set) in opened(
        fw,
        &rows,
        Protocol::Tcp,
        KUBELET_READONLY.0,
        KUBELET_READONLY.1,
    ) {
        let Some(rule) = rule_of(fw, id) else {
            continue;
        };
        out.push(
            Diagnostic::warning("W0701", format!("the kubelet read-only port (tcp/10255) is open on role `{role}`"))
                .at(rule.span, format!("opens it to {}", describe_set(&set)))
                .with_help("the read-only port serves pod and node details without authentication (seed 000: legacy); set `readOnlyPort: 0` in the kubelet configuration and remove this allow"),
        );
    }
    // W0702: etcd reachable from anywhere but the control plane
    let control_plane = fw
        .roles
        .values()
        .filter(|r| r.runs("kube-apiserver") || r.name == "control-plane")
        .fold(IpSet::empty(), |acc, r| acc.union(&r.addresses));
    let cp_names: Vec<String> = fw
        .roles
        .values()
        .filter(|r| r.runs("kube-apiserver") || r.name == "control-plane")
        .map(|r| format!("`{}`", r.name))
        .collect();
    for ((id, role), set) in opened(fw, &rows, Protocol::Tcp, ETCD.0, ETCD.1) {
        let extra = set.minus(&control_plane);
        if extra.is_empty() {
            continue;
        }
        let Some(rule) = rule_of(fw, id) else {
            continue;
        };
        let mut d = Diagnostic::warning("W0702", format!("etcd on role `{role}` is reachable from outside the control plane"))
            .at(rule.span, format!("opens etcd to {}", describe_set(&extra)))
            .with_help("only the control plane nodes that host the API server should reach etcd (seed 002); etcd is not secured by default (seed 000)");
        d = if cp_names.is_empty() {
            d.with_note("no role runs `kube-apiserver` or is named `control-plane`, so no address counts as the control plane")
        } else {
            d.with_note(format!(
                "the control plane is {}: the roles that run `kube-apiserver`, and a role named `control-plane`",
                cp_names.join(", ")
            ))
        };
        out.push(d);
    }
    // W0703: the API server open to the world
    for ((id, role), set) in opened(fw, &rows, Protocol::Tcp, APISERVER.0, APISERVER.1) {
        if !covers_public_half(&set) {
            continue;
        }
        let Some(rule) = rule_of(fw, id) else {
            continue;
        };
        out.push(
            Diagnostic::warning("W0703", format!("the API server on role `{role}` is open to `world`"))
                .at(rule.span, "opens tcp/6443 to most public addresses")
                .with_help("allow the networks that need the API server (admin networks, the nodes, the pod network) rather than `world`")
                .with_note("counted as open to `world`: the sources hold at least half of the public IPv4 or IPv6 addresses"),
        );
    }
    open_to_world(fw, &rows, out);
}

/// W0710 and W0711: node ports that must not face the internet, open to
/// `world` (the same measure as W0703).
fn open_to_world(fw: &FirewallSpec, rows: &[PortRow], out: &mut Vec<Diagnostic>) {
    let mut components = vec![("the kubelet API", "kubelet", KUBELET)];
    components.extend(
        CONTROL_PLANE_COMPONENTS
            .iter()
            .map(|&(name, ports)| (name, name, ports)),
    );
    for (what, component, (lo, hi)) in components {
        for ((id, role), set) in opened(fw, rows, Protocol::Tcp, lo, hi) {
            if !covers_public_half(&set) {
                continue;
            }
            let Some(rule) = rule_of(fw, id) else {
                continue;
            };
            let help = if component == "kubelet" {
                "the kubelet API gives full access to the node and its pods (seed 000); open it to the control plane (and monitoring) only".to_string()
            } else {
                format!("`{component}` serves the control plane; open it to the control plane and monitoring networks only")
            };
            out.push(
                Diagnostic::warning(
                    "W0710",
                    format!("{what} (tcp/{lo}) on role `{role}` is open to `world`"),
                )
                .at(rule.span, format!("opens tcp/{lo} to most public addresses"))
                .with_help(help)
                .with_note("counted as open to `world`: the sources hold at least half of the public IPv4 or IPv6 addresses"),
            );
        }
    }
    for ((id, role), set) in opened(fw, rows, Protocol::Tcp, DASHBOARD.0, DASHBOARD.1) {
        if !covers_public_half(&set) {
            continue;
        }
        let Some(rule) = rule_of(fw, id) else {
            continue;
        };
        out.push(
            Diagnostic::warning(
                "W0711",
                format!("the dashboard's NodePort (tcp/30000) on role `{role}` is open to `world`"),
            )
            .at(rule.span, "opens tcp/30000 to most public addresses")
            .with_help("seed 000 lists tcp/30000 as the Kubernetes dashboard; close it to the internet, e.g. `deny world except admin-net -> worker:dashboard` beside the NodePort allow")
            .with_note("counted as open to `world`: the sources hold at least half of the public IPv4 or IPv6 addresses"),
        );
    }
}

fn size(r: &RangeSet) -> u128 {
    r.ranges().iter().fold(0u128, |acc, &(lo, hi)| {
        acc.saturating_add(hi - lo).saturating_add(1)
    })
}

fn set_of(nets: &[&str]) -> IpSet {
    nets.iter()
        .filter_map(|n| n.parse::<IpNet>().ok())
        .fold(IpSet::empty(), |acc, n| acc.union(&IpSet::from_net(&n)))
}

/// Public addresses: IPv4 outside the private, shared, loopback, link-local,
/// documentation and reserved blocks; IPv6 global unicast (2000::/3).
pub fn public() -> IpSet {
    let v4_private = set_of(&[
        "0.0.0.0/8",
        "10.0.0.0/8",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.0.0.0/24",
        "192.0.2.0/24",
        "192.168.0.0/16",
        "198.18.0.0/15",
        "198.51.100.0/24",
        "203.0.113.0/24",
        "224.0.0.0/3",
    ]);
    let v4 = IpSet::world().minus(&v4_private);
    let v6 = set_of(&["2000::/3"]).minus(&set_of(&["2001:db8::/32"]));
    IpSet {
        v4: v4.v4,
        v6: v6.v6,
    }
}

/// Whether `set` holds at least half of the public IPv4 or IPv6 addresses.
pub fn covers_public_half(set: &IpSet) -> bool {
    let p = public();
    let i = set.intersect(&p);
    size(&i.v4) >= size(&p.v4) / 2 || size(&i.v6) >= size(&p.v6) / 2
}

// ---- namespaces ----------------------------------------------------------

fn posture_span(ns: &Namespace) -> crate::source::Span {
    ns.posture_span.unwrap_or(ns.span)
}

fn all_pods(ns: &str) -> PeerSet {
    PeerSet::in_namespace(ns, LabelSel::any())
}

/// Whether a term of pods may hold pods of namespace `ns`.
fn touches(set: &PeerSet, ns: &str) -> bool {
    match set {
        PeerSet::Pods { namespaces, .. } => {
            crate::ir::ns_matches(namespaces, ns) != crate::ir::Tri::No
        }
        PeerSet::External(_) | PeerSet::Names(_) => false,
    }
}

fn no_named(_: Protocol, _: &str) -> Option<u16> {
    None
}

fn has_port(p: &PortSet, proto: Protocol, port: u16) -> bool {
    p.contains(proto, port, &no_named)
}

/// W0704: pods of a managed namespace can reach the metadata API.
fn metadata_api(stmts: &[&crate::ir::Statement], ns: &Namespace, out: &mut Vec<Diagnostic>) {
    let Ok(imds) = METADATA_V4.parse::<IpAddr>() else {
        return;
    };
    let open_by_posture = !ns.posture.egress;
    let opening: Vec<&crate::ir::Statement> = stmts
        .iter()
        .copied()
        .filter(|s| {
            s.action == Action::Allow
                && s.decides(crate::ir::Direction::Egress)
                && s.src.iter().any(|t| touches(&t.set, &ns.name))
        })
        .filter(|s| {
            s.dst.iter().any(|t| {
                matches!(&t.set, PeerSet::External(ips) if ips.contains(&imds))
                    && has_port(&t.ports, Protocol::Tcp, 80)
            })
        })
        .collect();
    if !open_by_posture && opening.is_empty() {
        return;
    }
    let everyone = all_pods(&ns.name);
    let denied = stmts.iter().copied().any(|s| {
        s.action == Action::Deny
            && s.decides(crate::ir::Direction::Egress)
            && s.src.iter().any(|t| everyone.is_subset(&t.set))
            && s.dst.iter().any(|t| {
                matches!(&t.set, PeerSet::External(ips) if ips.contains(&imds))
                    && has_port(&t.ports, Protocol::Tcp, 80)
            })
    });
    if denied {
        return;
    }
    let mut d = Diagnostic::warning(
        "W0704",
        format!(
            "pods of namespace `{}` can reach the cloud metadata API",
            ns.name
        ),
    )
    .at(
        posture_span(ns),
        if open_by_posture {
            "egress is not isolated"
        } else {
            "egress is isolated, but an allow reaches 169.254.169.254"
        },
    );
    for s in &opening {
        d = d.with_label(s.span, "allows 169.254.169.254");
    }
    out.push(
        d.with_help("deny it in this namespace: `use metadata-api` at the top of the file, then `deny egress metadata-api`")
            .with_note("the metadata API (169.254.169.254) hands out the node's cloud credentials to any pod that asks"),
    );
}

/// W0705: `default allow` and nothing isolated or denied.
fn default_allow(stmts: &[&crate::ir::Statement], ns: &Namespace, out: &mut Vec<Diagnostic>) {
    if ns.posture.ingress || ns.posture.egress || !ns.isolates.is_empty() {
        return;
    }
    let denies = stmts.iter().copied().any(|s| {
        s.action == Action::Deny
            && ((s.decides(crate::ir::Direction::Egress)
                && s.src.iter().any(|t| touches(&t.set, &ns.name)))
                || (s.decides(crate::ir::Direction::Ingress)
                    && s.dst.iter().any(|t| touches(&t.set, &ns.name))))
    });
    if denies {
        return;
    }
    out.push(
        Diagnostic::warning("W0705", format!("namespace `{}` isolates nothing", ns.name))
            .at(posture_span(ns), "`default allow` with no `isolate` and no `deny`")
            .with_help("use `default deny` and allow what the pods need, or `isolate` the pods that need protection; if open is meant, write `@silence(W0705)` before `default allow`")
            .with_note("its pods accept connections from anywhere and connect anywhere, the metadata API included"),
    );
}

/// W0706: egress isolated and no allow to the cluster DNS.
fn dns(stmts: &[&crate::ir::Statement], ns: &Namespace, out: &mut Vec<Diagnostic>) {
    let isolated = ns.posture.egress || ns.isolates.iter().any(|i| i.directions.egress);
    if !isolated {
        return;
    }
    let kube_dns: BTreeMap<String, String> = [("k8s-app".to_string(), "kube-dns".to_string())]
        .into_iter()
        .collect();
    let nodelocal: Option<IpAddr> = NODELOCAL_DNS.parse().ok();
    let allowed = stmts.iter().copied().any(|s| {
        s.action == Action::Allow
            && s.decides(crate::ir::Direction::Egress)
            && s.src.iter().any(|t| touches(&t.set, &ns.name))
            && s.dst.iter().any(|t| {
                let dns_port = has_port(&t.ports, Protocol::Udp, 53);
                match &t.set {
                    PeerSet::Pods { namespaces, pods } => {
                        dns_port
                            && crate::ir::ns_matches(namespaces, "kube-system")
                                != crate::ir::Tri::No
                            && pods.matches(&kube_dns)
                    }
                    PeerSet::External(ips) => {
                        dns_port && nodelocal.map(|a| ips.contains(&a)).unwrap_or(false)
                    }
                    PeerSet::Names(_) => false,
                }
            })
    });
    if allowed {
        return;
    }
    let mut d = Diagnostic::warning(
        "W0706",
        format!(
            "egress of namespace `{}` is isolated but DNS is not allowed",
            ns.name
        ),
    );
    if ns.posture.egress {
        d = d.at(
            posture_span(ns),
            if ns.posture_span.is_some() {
                "egress isolated here"
            } else {
                "egress isolated (`default deny` is the default)"
            },
        );
    } else {
        d = d.at(ns.span, "some pods have isolated egress");
        for i in ns.isolates.iter().filter(|i| i.directions.egress) {
            d = d.with_label(i.span, "egress isolated here");
        }
    }
    out.push(
        d
            .with_help("allow the cluster DNS: `use dns` at the top of the file, then `allow egress dns` in this namespace")
            .with_note("pods whose egress is isolated cannot resolve names without an allow to kube-system/k8s-app=kube-dns on udp/53"),
    );
}

/// W0707-W0709: what the node rules say about management access, the
/// components a role runs, and allows that denies empty.
fn node_rules(spec: &FirewallSpec, out: &mut Vec<Diagnostic>) {
    let rows = spec.rows();
    let mgmt = spec.management_ports();
    let mgmt_text = describe_ports(&mgmt, spec);
    // W0707: a role that no rule opens a management port on
    for role in spec.roles.values() {
        let reachable = rows.iter().any(|row| {
            let range = RangeSet::range(row.lo.into(), row.hi.into());
            row.role == role.name
                && row.is_open()
                && mgmt
                    .numbers
                    .get(&row.protocol)
                    .map(|r| !r.intersect(&range).is_empty())
                    .unwrap_or(false)
        });
        if reachable {
            continue;
        }
        let managed = spec.managed(&role.name);
        let closes = !managed.intersect(&mgmt).is_empty();
        let mut d = Diagnostic::warning(
            "W0707",
            format!("no rule gives management access to role `{}`", role.name),
        )
        .at(role.name_span, "no management access");
        d = if closes {
            d.with_note(format!(
                "the ruleset of `{}` drops {mgmt_text} from every source: loading it can lock operators out",
                role.name
            ))
        } else {
            d.with_note(format!(
                "the ruleset of `{}` leaves {mgmt_text} untouched, but the sources do not say how operators reach these nodes",
                role.name
            ))
        };
        out.push(d.with_help(format!(
            "allow the admin network: `allow admin-net -> {}:ssh` (with `use k8s-ports`); if the nodes are managed another way (a serial console, a cloud agent), write `@silence(W0707)` before the role",
            role.name
        )));
    }
    for rule in spec.rules.iter().filter(|r| r.action == Action::Allow) {
        // W0708: an allow of a component on a role that does not run it
        for role in &rule.roles {
            let Some(rl) = spec.roles.get(role) else {
                continue;
            };
            for (c, span) in &rule.named {
                let Some(comp) = spec.components.get(c) else {
                    continue;
                };
                if rl.runs(c) || (!rl.runs_written && comp.on.is_empty()) {
                    continue;
                }
                let mut d =
                    Diagnostic::warning("W0708", format!("`{c}` does not run on role `{role}`"))
                        .at(*span, format!("opened on `{role}`"));
                d = if rl.runs_written {
                    d.with_label(rl.span, "its `runs` list")
                        .with_help(format!("if `{c}` does run there, add it to the role's `runs` list; otherwise remove `{role}` from this rule"))
                } else {
                    let on: Vec<String> = comp.on.iter().map(|x| format!("`{x}`")).collect();
                    d.with_help(format!(
                        "by default `{c}` runs on {}; if it runs on `{role}` too, list what the role runs: `role {role} = ... runs {c}, ...`",
                        on.join(", ")
                    ))
                };
                if !comp.note.is_empty() {
                    d = d.with_note(format!("`{c}`: {}", comp.note));
                }
                out.push(d);
            }
        }
        // W0709: an allow that opens nothing
        let mine: Vec<&PortRow> = rows
            .iter()
            .filter(|row| row.allowed_by.contains(&rule.id))
            .collect();
        if !mine.is_empty()
            && mine
                .iter()
                .all(|row| row.open.intersect(&rule.sources).is_empty())
        {
            let mut d = Diagnostic::warning(
                "W0709",
                "this allow opens nothing: denies take out every source on every port",
            )
            .at(rule.span, "no effect");
            for row in &mine {
                for id in &row.denied_by {
                    if let Some(deny) = spec.rules.get(*id) {
                        d = d.with_label(deny.span, "denied here");
                    }
                }
            }
            d.labels.dedup();
            out.push(d.with_help("remove the allow, or narrow the deny"));
        }
    }
}

/// `tcp/22 (ssh)`: a port set in words, with the components that use it.
fn describe_ports(p: &PortSet, spec: &FirewallSpec) -> String {
    let mut parts = Vec::new();
    for (proto, r) in &p.numbers {
        for &(lo, hi) in r.ranges() {
            let text = if lo == hi {
                format!("{proto}/{lo}")
            } else {
                format!("{proto}/{lo}-{hi}")
            };
            let names: Vec<&str> = spec
                .components
                .values()
                .filter(|c| {
                    c.ports
                        .numbers
                        .get(proto)
                        .map(|x| x.contains(lo))
                        .unwrap_or(false)
                })
                .map(|c| c.name.as_str())
                .collect();
            if names.is_empty() {
                parts.push(text);
            } else {
                parts.push(format!("{text} (`{}`)", names.join("`, `")));
            }
        }
    }
    parts.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_half() {
        assert!(covers_public_half(&IpSet::world()));
        assert!(covers_public_half(
            &IpSet::world().minus(&set_of(&["8.0.0.0/8"]))
        ));
        assert!(!covers_public_half(&set_of(&[
            "10.0.0.0/8",
            "192.168.0.0/16"
        ])));
        assert!(!covers_public_half(&set_of(&[
            "203.0.113.4/32",
            "198.51.100.0/24"
        ])));
        assert!(
            covers_public_half(&set_of(&["::/0"])),
            "all of IPv6 is open"
        );
    }
}
