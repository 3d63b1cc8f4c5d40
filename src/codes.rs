//! The registry of diagnostic codes: every code a stage may report, its
//! severity and a one-line summary, and where docs/diagnostics.md explains
//! it. A test holds it equal to that page's tables, and to the codes the
//! sources construct, so that a code cannot be added, renamed or dropped
//! in one place only.

use crate::diag::Severity;

/// One diagnostic code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Code {
    pub code: &'static str,
    pub severity: Severity,
    /// What it reports, as docs/diagnostics.md says it.
    pub summary: &'static str,
}

impl Code {
    /// The page and anchor that explain the code (its row in
    /// docs/diagnostics.md).
    pub fn docs(&self) -> String {
        format!("docs/diagnostics.md#{}", self.code.to_ascii_lowercase())
    }
}

/// Codes no stage reports any more, kept registered (and documented as
/// retired) so that a code is never given another meaning.
pub const RETIRED: &[&str] = &["E0506"];

/// Every code, in the order of docs/diagnostics.md.
pub const CODES: &[Code] = &[
    Code {
        code: "E0001",
        severity: Severity::Error,
        summary: "syntax error: what was expected, what was found, and a hint for common slips (`=>`, a missing `}`; `allow`, `deny`, `isolate`, `workload` or `default` outside a namespace block: \"`allow` must be inside a `namespace` block\", with the block that closed before it); what was found is named when it would not show (`a NUL byte`, `the control character U+0007`, a byte order mark that does not start the file); parentheses nested more than 64 deep",
    },
    Code {
        code: "E0002",
        severity: Severity::Error,
        summary: "a file or directory cannot be read or written (exit code 2); a file that is not UTF-8 is named with the offset, line and column of its first invalid byte",
    },
    Code {
        code: "E0003",
        severity: Severity::Error,
        summary: "a command-line value that cannot be used (exit code 2): a malformed `--ports` list, a `--from` or `--to` that is not a pod, an address or `namespace/pod`, a pod that the population does not have; never followed by \"nothing was written\"",
    },
    Code {
        code: "E0004",
        severity: Severity::Error,
        summary: "the project file `nplc.toml` is not valid TOML, has a key it does not know, or a `deny` entry that is not a warning code (exit code 2); it points at the line (docs/project.md)",
    },
    Code {
        code: "E0005",
        severity: Severity::Error,
        summary: "`nplc fmt` cannot lay out a file without changing its statements (a safety net: the file is left as it is); report it with the file",
    },
    Code {
        code: "E0006",
        severity: Severity::Error,
        summary: "`nplc diff --git`: a revision cannot be read (unknown revision, not a repository, `git` missing, no `.npl` files under the paths at that revision); exit code 2",
    },
    Code {
        code: "E0101",
        severity: Severity::Error,
        summary: "unknown name, with did-you-mean, or the `use` line that would define it",
    },
    Code {
        code: "E0102",
        severity: Severity::Error,
        summary: "unknown standard-library module",
    },
    Code {
        code: "E0103",
        severity: Severity::Error,
        summary: "a name defined twice in one scope, or a namespace posture or its `labels` set twice",
    },
    Code {
        code: "E0104",
        severity: Severity::Error,
        summary: "a workload name under a namespace label selector (`{team=ops}/api`)",
    },
    Code {
        code: "E0105",
        severity: Severity::Error,
        summary: "definitions that refer to each other in a cycle, or a name defined through more than 256 other definitions",
    },
    Code {
        code: "E0106",
        severity: Severity::Error,
        summary: "a bare selector outside a namespace block (which namespace?)",
    },
    Code {
        code: "E0107",
        severity: Severity::Error,
        summary: "ports given to a name that already carries ports (`dns:53`)",
    },
    Code {
        code: "E0108",
        severity: Severity::Error,
        summary: "`isolate` of pods outside its own namespace",
    },
    Code {
        code: "E0109",
        severity: Severity::Error,
        summary: "a rule with addresses on both sides",
    },
    Code {
        code: "E0110",
        severity: Severity::Error,
        summary: "a `,` between peers (`\\|` joins peers; `,` only joins the requirements of one selector)",
    },
    Code {
        code: "E0111",
        severity: Severity::Error,
        summary: "a name or an address among the requirements of a selector (`except (d-a, d-b)`, `app=x, 10.0.0.0/8`): it reads as a label key, and `\\|` was meant",
    },
    Code {
        code: "E0112",
        severity: Severity::Error,
        summary: "a rule scoped to one side (`on egress`, `on ingress`) whose side has no pods (`allow world -> * on egress`): external addresses have no side",
    },
    Code {
        code: "E0113",
        severity: Severity::Error,
        summary: "a `dns:` peer that is not a DNS name nplc accepts: labels of letters, digits, `-` and `_`, at least two, or `*.` and a suffix (`*` alone, `**.`, `*` inside a label, an empty label, a name ending in a number)",
    },
    Code {
        code: "E0114",
        severity: Severity::Error,
        summary: "a DNS name (`dns:NAME`) where it has no meaning: a source, an `except` (either part), `isolate`, a node rule or role (see language.md, \"DNS names\")",
    },
    Code {
        code: "E0115",
        severity: Severity::Error,
        summary: "a DNS name in a deny (Cilium has no deny by name: deny the addresses by block)",
    },
    Code {
        code: "E0201",
        severity: Severity::Error,
        summary: "invalid label key (Kubernetes' qualified-name rules)",
    },
    Code {
        code: "E0202",
        severity: Severity::Error,
        summary: "invalid label value",
    },
    Code {
        code: "E0203",
        severity: Severity::Error,
        summary: "namespace name that is not a DNS-1123 label",
    },
    Code {
        code: "E0204",
        severity: Severity::Error,
        summary: "`==` in a selector",
    },
    Code {
        code: "E0205",
        severity: Severity::Error,
        summary: "`k=` without a value",
    },
    Code {
        code: "E0206",
        severity: Severity::Error,
        summary: "`in ()` / `notin ()` with no values",
    },
    Code {
        code: "E0207",
        severity: Severity::Error,
        summary: "an unquoted label key whose prefix has no dot (`c/app` after a `,`): a namespace is named only where a peer starts; quote the key (`\"c/app\"`) or join peers with `\\|`",
    },
    Code {
        code: "E0208",
        severity: Severity::Error,
        summary: "a `labels { ... }` statement with a requirement other than `key=value`, or a key stated twice with two values",
    },
    Code {
        code: "E0209",
        severity: Severity::Error,
        summary: "`labels { ... }` states `kubernetes.io/metadata.name` with another value than the namespace's name",
    },
    Code {
        code: "E0210",
        severity: Severity::Error,
        summary: "with `--pods FILE` (`check`, `explain`, `matrix`): a managed namespace whose labels in the population differ from the ones its `labels` statement states; both label sets are shown. No fixture can hold a population: `tests/it/stated_labels.rs`",
    },
    Code {
        code: "E0301",
        severity: Severity::Error,
        summary: "malformed address or prefix length",
    },
    Code {
        code: "E0302",
        severity: Severity::Error,
        summary: "host bits set (help: the network address, or the /32)",
    },
    Code {
        code: "E0303",
        severity: Severity::Error,
        summary: "an `except` part not strictly inside one block of what it is taken from",
    },
    Code {
        code: "E0304",
        severity: Severity::Error,
        summary: "`except` of another kind of peer, or with ports",
    },
    Code {
        code: "E0305",
        severity: Severity::Error,
        summary: "a bare IPv6 address (write `[2001:db8::1]` or `2001:db8::1/128`; ports follow the brackets: `[2001:db8::1]:443`)",
    },
    Code {
        code: "E0401",
        severity: Severity::Error,
        summary: "port 0 or above 65535",
    },
    Code {
        code: "E0402",
        severity: Severity::Error,
        summary: "reversed port range",
    },
    Code {
        code: "E0403",
        severity: Severity::Error,
        summary: "invalid port name (IANA service name rules)",
    },
    Code {
        code: "E0404",
        severity: Severity::Error,
        summary: "named port in a range",
    },
    Code {
        code: "E0405",
        severity: Severity::Error,
        summary: "named port with address blocks",
    },
    Code {
        code: "E0406",
        severity: Severity::Error,
        summary: "`:` with no port after it",
    },
    Code {
        code: "E0407",
        severity: Severity::Error,
        summary: "ports on the source side (`allow ingress 10.0.0.0/8:443`)",
    },
    Code {
        code: "E0408",
        severity: Severity::Error,
        summary: "ports after an unparenthesized union",
    },
    Code {
        code: "E0409",
        severity: Severity::Error,
        summary: "named port in a deny",
    },
    Code {
        code: "E0501",
        severity: Severity::Error,
        summary: "a namespace label selector on a side nplc must write policies for, whose other side cannot decide the connection (see language.md)",
    },
    Code {
        code: "E0502",
        severity: Severity::Error,
        summary: "a deny of port numbers overlapping an allowed named port, where neither side of those connections can enforce it (see language.md)",
    },
    Code {
        code: "E0503",
        severity: Severity::Error,
        summary: "cilium target: a named port on an isolated egress side towards pods whose ingress side is not managed and isolated (see targets.md)",
    },
    Code {
        code: "E0504",
        severity: Severity::Error,
        summary: "k8s target: a statement with a DNS name (`dns:NAME`), which NetworkPolicy cannot select; one per statement (the cilium target can: see targets.md)",
    },
    Code {
        code: "E0505",
        severity: Severity::Error,
        summary: "cilium target: an allow to DNS names whose sources the program does not already permit to reach kube-dns on 53/udp and 53/tcp (Cilium learns names only from lookups through its DNS proxy: see targets.md)",
    },
    Code {
        code: "E0506",
        severity: Severity::Error,
        summary: "retired, no longer reported: `nplc diff` refused a program with DNS names (`dns:NAME`) before it compared them (see diff.md, \"DNS names\"); the code is kept so that it is never given another meaning",
    },
    Code {
        code: "E0801",
        severity: Severity::Error,
        summary: "`nplc import`: an input that is not valid YAML or JSON (file, line and column of the parser's complaint)",
    },
    Code {
        code: "E0802",
        severity: Severity::Error,
        summary: "`nplc import`: a NetworkPolicy the API server would reject: a bad label key or value, an unknown operator or policy type, `endPort` with a named port or below `port`, a port out of range, an `except` not strictly inside its `cidr`, a peer with `ipBlock` and a selector, an unsupported `apiVersion`",
    },
    Code {
        code: "E0803",
        severity: Severity::Error,
        summary: "`nplc import`: an unknown field in a NetworkPolicy (the API server's strict field validation)",
    },
    Code {
        code: "E0804",
        severity: Severity::Error,
        summary: "`nplc import`: a NetworkPolicy without `metadata.namespace`, and no `--namespace NS`",
    },
    Code {
        code: "W0002",
        severity: Severity::Note,
        summary: "a symbolic link in an input directory leads back into a directory being searched (a loop): it is not followed. Every file is read once, however many links lead to it, by its own path (one without a link) when it has one. No fixture can hold a loop: `tests/it/cli.rs` (`w0002_...`) builds one",
    },
    Code {
        code: "W0601",
        severity: Severity::Warning,
        summary: "an allow with no effect: no side of it is isolated (for a rule `on ingress` or `on egress`: not the side it decides); on the cilium target also the DNS names of an allow whose sources' egress is not isolated (no `toFQDNs` is written for them)",
    },
    Code {
        code: "W0602",
        severity: Severity::Warning,
        summary: "a deny with no effect: no side of it is in a managed namespace. (A deny on a managed side that nothing allows today is kept silently: it guards against later allows, as W0704's help suggests.)",
    },
    Code {
        code: "W0603",
        severity: Severity::Warning,
        summary: "a duplicate rule (same action, peers and ports)",
    },
    Code {
        code: "W0604",
        severity: Severity::Warning,
        summary: "an allow that opens every port to every pod and address",
    },
    Code {
        code: "W0605",
        severity: Severity::Note,
        summary: "`!=` / `notin` also match pods without the key",
    },
    Code {
        code: "W0607",
        severity: Severity::Warning,
        summary: "a selector whose requirements contradict each other",
    },
    Code {
        code: "W0608",
        severity: Severity::Warning,
        summary: "an `except` repeated, or several excepts that name one block once their host bits are cleared",
    },
    Code {
        code: "W0609",
        severity: Severity::Warning,
        summary: "a peer names a namespace that is not managed but is one typo away from one that is (`shpo/app=api` beside `namespace shop`; `did_you_mean`, a swap of two letters counting as one edit); `default`, the `kube-*` namespaces and names shorter than three characters are never taken for typos. Silence it on the statement when the other namespace is meant",
    },
    Code {
        code: "W0610",
        severity: Severity::Warning,
        summary: "with `--pods FILE` (`check`): a selector that matches no pod of the population (dangling): a peer of an `allow`/`deny`, an `isolate` or a `workload` selector; judged only in the namespaces of the population it can select, which the label names. No fixture can hold a population: `tests/it/popcheck.rs`",
    },
    Code {
        code: "W0611",
        severity: Severity::Warning,
        summary: "with `--pods FILE` (`check`): pods of a managed namespace that no `workload` selector matches, one warning per namespace and set of labels (per-pod labels such as `pod-template-hash` left out), at the namespace's name; the help suggests a `workload` declaration. No fixture can hold a population: `tests/it/popcheck.rs`",
    },
    Code {
        code: "W0612",
        severity: Severity::Warning,
        summary: "with `--pods FILE` (`check`), seed 001: a destination port that is a Service's `port` but not its `targetPort`, on pods the Service selects (Services read from the same file); the help names the container port to write, a named `targetPort` resolved on the pods. No fixture can hold a population: `tests/it/popcheck.rs`",
    },
    Code {
        code: "W0805",
        severity: Severity::Note,
        summary: "`nplc import`: an object that is not a NetworkPolicy (a Namespace, a Pod, ...) is skipped, named by kind and name",
    },
    Code {
        code: "W0806",
        severity: Severity::Note,
        summary: "`nplc import`: a namespace whose policies are all nplc's output of one `.npl` file (their `nplc.io/source`), at hand and still building to exactly those policies, is imported as that file's program (the fixed point)",
    },
    Code {
        code: "W0807",
        severity: Severity::Note,
        summary: "`nplc import`: a namespace with nplc's output that is imported by the construction instead of as its program: the file is not at hand, builds to other policies, is built into other namespaces too, or the namespace mixes it with other policies",
    },
    Code {
        code: "W0808",
        severity: Severity::Warning,
        summary: "`nplc import -o DIR`: a `.npl` file under DIR that the import did not write (a namespace imported before that has no policy now, or a file of the user's), which `nplc build DIR` reads beside the imported programs; no span (it is about a file, not a place in one): `tests/it/import_props.rs`",
    },
    Code {
        code: "E0701",
        severity: Severity::Error,
        summary: "unknown role in a node rule's destination, with did-you-mean",
    },
    Code {
        code: "E0702",
        severity: Severity::Error,
        summary: "unknown component port (in a rule or a `runs` list), with did-you-mean or the `use` line that declares it",
    },
    Code {
        code: "E0703",
        severity: Severity::Error,
        summary: "a role declared twice, or a `port` declared twice in the sources",
    },
    Code {
        code: "E0704",
        severity: Severity::Error,
        summary: "a node rule's source that is not addresses (pods, `cluster`, a selector, a definition with ports), or a destination that is not a role",
    },
    Code {
        code: "E0705",
        severity: Severity::Error,
        summary: "a node rule without ports",
    },
    Code {
        code: "E0706",
        severity: Severity::Error,
        summary: "a role without addresses used as a source",
    },
    Code {
        code: "E0707",
        severity: Severity::Error,
        summary: "a name that is both a role and a `define`, used in a node rule",
    },
    Code {
        code: "E0708",
        severity: Severity::Error,
        summary: "a role name that is not lowercase letters, digits and `-` starting with a letter (at most 50 characters)",
    },
    Code {
        code: "E0709",
        severity: Severity::Error,
        summary: "a `port` declaration with a named port, or `PROTO/COMPONENT` where the component has no port of that protocol",
    },
    Code {
        code: "W0701",
        severity: Severity::Warning,
        summary: "the kubelet read-only port (tcp/10255) is open on a role (seed 000: legacy, unauthenticated)",
    },
    Code {
        code: "W0702",
        severity: Severity::Warning,
        summary: "etcd (tcp/2379-2380) is open to addresses outside the control plane, the roles that run `kube-apiserver` and a role named `control-plane` (seed 002)",
    },
    Code {
        code: "W0703",
        severity: Severity::Warning,
        summary: "the API server (tcp/6443) is open to `world`: the sources hold at least half of the public IPv4 addresses or of IPv6 global unicast",
    },
    Code {
        code: "W0704",
        severity: Severity::Warning,
        summary: "pods of a managed namespace can reach the cloud metadata API: egress is not isolated, or an allow from its pods reaches 169.254.169.254 on tcp/80; and no deny from all its pods to 169.254.169.254 on tcp/80",
    },
    Code {
        code: "W0705",
        severity: Severity::Warning,
        summary: "a namespace with `default allow`, no `isolate` and no `deny` on its pods",
    },
    Code {
        code: "W0706",
        severity: Severity::Warning,
        summary: "egress isolated (by the posture, or `isolate egress`) and no allow from its pods to `kube-system` pods labelled `k8s-app=kube-dns` (or to NodeLocal DNSCache's 169.254.20.10) on udp/53",
    },
    Code {
        code: "W0707",
        severity: Severity::Warning,
        summary: "no allow opens a management port (tcp/22, or a component declared `for management`) of a role; the note says whether the role's ruleset drops those ports",
    },
    Code {
        code: "W0708",
        severity: Severity::Warning,
        summary: "an allow opens a component on a role that does not run it (not in the role's `runs` list; or, without `runs`, the component's `on` list does not name the role)",
    },
    Code {
        code: "W0709",
        severity: Severity::Warning,
        summary: "an allow that opens nothing on any port: denies take out all of its sources",
    },
    Code {
        code: "W0710",
        severity: Severity::Warning,
        summary: "the kubelet API (tcp/10250, seed 000: \"full node access\") or a control-plane component's port (kube-controller-manager tcp/10257, cloud-controller-manager tcp/10258, kube-scheduler tcp/10259) is open to `world`, measured as W0703 does (the API server is W0703, etcd W0702)",
    },
    Code {
        code: "W0711",
        severity: Severity::Warning,
        summary: "the dashboard's NodePort (tcp/30000, seed 000) is open to `world`: typically `allow world -> worker:nodeport` without a deny that closes `dashboard`",
    },
];

/// The registry entry of `code`.
pub fn lookup(code: &str) -> Option<&'static Code> {
    CODES.iter().find(|c| c.code == code)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    /// (code, severity, summary) of every row of docs/diagnostics.md's tables.
    fn documented() -> Vec<(String, Severity, String)> {
        let page = include_str!("../docs/diagnostics.md");
        let mut rows = Vec::new();
        for line in page.lines() {
            let Some(rest) = line.strip_prefix("| ") else {
                continue;
            };
            let cells: Vec<&str> = rest.trim_end_matches(" |").split(" | ").collect();
            let code = cells[0];
            let is_code = code.len() == 5
                && (code.starts_with('E') || code.starts_with('W'))
                && code[1..].chars().all(|c| c.is_ascii_digit());
            if !is_code {
                continue;
            }
            let (severity, summary) = if code.starts_with('E') {
                (Severity::Error, cells[1..].join(" | "))
            } else {
                let sev = match cells[1] {
                    "note" => Severity::Note,
                    _ => Severity::Warning,
                };
                (sev, cells[2].to_string())
            };
            rows.push((code.to_string(), severity, summary));
        }
        rows
    }

    #[test]
    fn the_registry_is_the_documented_table() {
        let docs = documented();
        let registry: Vec<(String, Severity, String)> = CODES
            .iter()
            .map(|c| (c.code.to_string(), c.severity, c.summary.to_string()))
            .collect();
        assert_eq!(registry, docs);
    }

    #[test]
    fn every_code_the_sources_report_is_registered_and_used() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut used = BTreeSet::new();
        let mut stack = vec![root];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    stack.push(path);
                } else if path.extension().is_some_and(|e| e == "rs") && !path.ends_with("codes.rs")
                {
                    let text = std::fs::read_to_string(&path).unwrap();
                    for (i, _) in text.match_indices('"') {
                        let code = text.get(i + 1..i + 6).unwrap_or("");
                        let closed = text.get(i + 6..i + 7) == Some("\"");
                        if closed
                            && (code.starts_with('E') || code.starts_with('W'))
                            && code[1..].chars().all(|c| c.is_ascii_digit())
                        {
                            used.insert(code.to_string());
                        }
                    }
                }
            }
        }
        let registered: BTreeSet<String> = CODES.iter().map(|c| c.code.to_string()).collect();
        let unregistered: Vec<&String> = used.difference(&registered).collect();
        assert!(
            unregistered.is_empty(),
            "codes reported but not in the registry (and docs/diagnostics.md): {unregistered:?}"
        );
        let retired: BTreeSet<String> = RETIRED.iter().map(|c| c.to_string()).collect();
        let unused: Vec<&String> = registered
            .difference(&used)
            .filter(|c| !retired.contains(*c))
            .collect();
        assert!(
            unused.is_empty(),
            "codes in the registry that no source reports: {unused:?}"
        );
        let revived: Vec<&String> = retired.intersection(&used).collect();
        assert!(
            revived.is_empty(),
            "retired codes reported again (give a new code instead): {revived:?}"
        );
        for c in &retired {
            let summary = CODES.iter().find(|x| x.code == c).map(|x| x.summary);
            assert!(
                summary.is_some_and(|s| s.starts_with("retired, no longer reported")),
                "a retired code stays registered and says so: {c}"
            );
        }
    }
}
