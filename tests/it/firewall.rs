//! The node firewall (docs/firewall.md): snapshots of every output format for
//! `examples/cluster`, every generated ruleset checked by the real
//! `nft -c -f`, the seeds' port tables against the stdlib, one fixture per
//! firewall and security-lint code under `tests/firewall/`, canonical output
//! whatever the order of rules, and the command line.

use crate::common;
use nplc::driver::{compile_inputs, Compilation, Input};
use nplc::firewall::{emit, FirewallSpec};
use nplc::net::Protocol;
use std::path::{Path, PathBuf};
use std::process::Command;

fn fixtures() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(common::root().join("tests/firewall"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().map(|x| x == "npl").unwrap_or(false))
        .collect();
    v.sort();
    v
}

/// Diagnostics, then (without errors) the port table.
fn render(c: &Compilation) -> String {
    let mut s = String::new();
    if !c.diagnostics.is_empty() {
        s.push_str("--- diagnostics ---\n");
        s.push_str(&nplc::diag::render_human(&c.sources, &c.diagnostics));
    }
    if let (false, Some(fw)) = (c.has_errors(), &c.firewall) {
        s.push_str("--- firewall/ports.txt ---\n");
        s.push_str(&emit::txt(fw));
    }
    s
}

fn compile_text(name: &str, text: &str) -> Compilation {
    compile_inputs(&[Input {
        name: name.into(),
        text: text.into(),
    }])
}

fn cluster() -> Compilation {
    let c = common::compile(Path::new("examples/cluster"));
    assert!(!c.has_errors(), "{}", common::render(&c));
    c
}

#[test]
fn cluster_outputs_match_their_snapshots() {
    let c = cluster();
    assert!(
        c.diagnostics.is_empty(),
        "the example is clean:\n{}",
        render(&c)
    );
    let fw = c.firewall.as_ref().expect("the example has nodes blocks");
    let files = emit::files(fw);
    let paths: Vec<&str> = files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "firewall/control-plane.nft",
            "firewall/ports.csv",
            "firewall/ports.json",
            "firewall/ports.txt",
            "firewall/worker.nft"
        ]
    );
    for f in &files {
        let name = format!(
            "cluster-{}",
            f.path.trim_start_matches("firewall/").replace('.', "-")
        );
        insta::with_settings!({snapshot_path => "../snapshots/firewall", prepend_module_to_snapshot => false, omit_expression => true}, {
            insta::assert_snapshot!(name, f.contents);
        });
    }
    // ports.json is JSON of the documented shape
    let json: serde_json::Value = serde_json::from_str(&emit::json(fw)).unwrap();
    assert_eq!(json["schema"], emit::JSON_SCHEMA);
    for key in ["generated_from", "roles", "ports", "components", "silenced"] {
        assert!(json[key].is_array(), "{key}");
    }
    let port = &json["ports"][0];
    for key in [
        "role",
        "state",
        "protocol",
        "from_port",
        "to_port",
        "components",
        "sources",
        "written",
        "allowed_by",
        "denied_by",
        "silenced",
    ] {
        assert!(!port[key].is_null(), "ports[0].{key}");
    }
}

/// One test per fixture (insta's `glob!`), each with its snapshot
/// `tests/firewall/snapshots/<stem>.snap`.
#[test]
fn every_fixture_matches_its_snapshot() {
    let mut failures = Vec::new();
    let mut count = 0;
    insta::glob!("../firewall", "*.npl", |f| {
        count += 1;
        let stem = f.file_stem().unwrap().to_string_lossy().to_string();
        let rel = f.strip_prefix(common::root()).unwrap().to_path_buf();
        let c = common::compile(&rel);
        let code = stem.split('-').next().unwrap_or("");
        if code.starts_with('E') || code.starts_with('W') {
            if !c.diagnostics.iter().any(|d| d.code == code) {
                failures.push(format!(
                    "{stem}: expected {code}, got {:?}",
                    c.diagnostics.iter().map(|d| d.code).collect::<Vec<_>>()
                ));
            }
            if code.starts_with('E') != c.has_errors() {
                failures.push(format!("{stem}: errors: {}", c.has_errors()));
            }
        } else if !c.diagnostics.is_empty() {
            failures.push(format!("{stem}: unexpected diagnostics:\n{}", render(&c)));
        }
        common::snapshot("../firewall/snapshots", &stem, &render(&c));
    });
    assert!(count > 20, "the fixtures are found ({count})");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// `nft`, from `PATH` or the usual sbin directories.
fn nft_binary() -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    dirs.extend(["/usr/sbin", "/sbin", "/usr/local/sbin"].map(PathBuf::from));
    dirs.into_iter()
        .map(|d| d.join("nft"))
        .find(|p| p.is_file())
}

/// Every ruleset the tests generate: the cluster example's and those of the
/// fixtures that compile.
fn all_rulesets() -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut add = |label: &str, c: &Compilation| {
        if let (false, Some(fw)) = (c.has_errors(), &c.firewall) {
            for f in emit::files(fw)
                .into_iter()
                .filter(|f| f.path.ends_with(".nft"))
            {
                out.push((format!("{label}: {}", f.path), f.contents));
            }
        }
    };
    add("examples/cluster", &cluster());
    for f in fixtures() {
        let rel = f.strip_prefix(common::root()).unwrap().to_path_buf();
        add(&rel.display().to_string(), &common::compile(&rel));
    }
    out
}

/// `nft -c -f FILE`: checks the ruleset with the kernel without applying it.
/// Without CAP_NET_ADMIN, retries in a new user and network namespace.
fn nft_check(nft: &Path, file: &Path) -> Result<(), String> {
    let o = Command::new(nft)
        .arg("-c")
        .arg("-f")
        .arg(file)
        .output()
        .map_err(|e| e.to_string())?;
    if o.status.success() {
        return Ok(());
    }
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    if err.contains("Operation not permitted") {
        let u = Command::new("unshare")
            .args(["-rn"])
            .arg(nft)
            .arg("-c")
            .arg("-f")
            .arg(file)
            .output();
        return match u {
            Ok(u) if u.status.success() => Ok(()),
            Ok(u) => Err(format!(
                "`nft -c` needs CAP_NET_ADMIN; `unshare -rn nft -c` failed too (run the tests as root): {}",
                String::from_utf8_lossy(&u.stderr)
            )),
            Err(e) => Err(format!("`nft -c` needs CAP_NET_ADMIN and `unshare` cannot run: {e}")),
        };
    }
    Err(err)
}

#[test]
fn nft_accepts_every_generated_ruleset() {
    let rulesets = all_rulesets();
    assert!(rulesets.len() >= 10, "{}", rulesets.len());
    let Some(nft) = nft_binary() else {
        eprintln!(
            "\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"
        );
        eprintln!(
            "!!! SKIPPED: `nft` is not installed, so {} generated rulesets were NOT checked.",
            rulesets.len()
        );
        eprintln!(
            "!!! Install it (Debian: `apt-get install -y nftables`; .ci/run does) and rerun."
        );
        eprintln!(
            "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n"
        );
        return;
    };
    let dir = std::env::temp_dir().join(format!("nplc-it-nft-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut failures = Vec::new();
    for (i, (label, text)) in rulesets.iter().enumerate() {
        let file = dir.join(format!("{i}.nft"));
        std::fs::write(&file, text).unwrap();
        if let Err(e) = nft_check(&nft, &file) {
            failures.push(format!("{label}:\n{e}\n{text}"));
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        failures.is_empty(),
        "nft rejected {} ruleset(s):\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// A build with every stdlib component and the two seed roles.
fn seed_roles() -> FirewallSpec {
    let c = compile_text(
        "seed.npl",
        "use k8s-ports\n@silence(W0707)\nnodes {\n  role control-plane = 10.0.0.0/24\n  role worker = 10.0.1.0/24\n}\n",
    );
    assert!(c.diagnostics.is_empty(), "{}", render(&c));
    c.firewall.unwrap()
}

#[test]
fn the_seeds_port_tables_are_in_the_stdlib() {
    let fw = seed_roles();
    let none = |_: Protocol, _: &str| None;
    // seed 000: (port, protocol, component)
    let seed_000 = [
        (10250, Protocol::Tcp, "kubelet"),
        (10255, Protocol::Tcp, "kubelet-readonly"),
        (6443, Protocol::Tcp, "kube-apiserver"),
        (10256, Protocol::Tcp, "kube-proxy-health"),
        (10257, Protocol::Tcp, "kube-controller-manager"),
        (10258, Protocol::Tcp, "cloud-controller-manager"),
        (2379, Protocol::Tcp, "etcd"),
        (4149, Protocol::Tcp, "cadvisor"),
        (30000, Protocol::Tcp, "dashboard"),
        (9099, Protocol::Tcp, "calico-felix-health"),
    ];
    // seed 002: (role, first port, last port, protocol, component)
    let seed_002 = [
        ("control-plane", 6443, 6443, Protocol::Tcp, "kube-apiserver"),
        ("control-plane", 2379, 2380, Protocol::Tcp, "etcd"),
        ("control-plane", 10250, 10250, Protocol::Tcp, "kubelet"),
        (
            "control-plane",
            10259,
            10259,
            Protocol::Tcp,
            "kube-scheduler",
        ),
        (
            "control-plane",
            10257,
            10257,
            Protocol::Tcp,
            "kube-controller-manager",
        ),
        ("worker", 10250, 10250, Protocol::Tcp, "kubelet"),
        ("worker", 30000, 32767, Protocol::Tcp, "nodeport"),
    ];
    // the CNI data plane ports the issue names
    let cni = [
        (179, Protocol::Tcp, "calico-bgp"),
        (4789, Protocol::Udp, "vxlan"),
        (51820, Protocol::Udp, "wireguard"),
        (51821, Protocol::Udp, "wireguard"),
        (4240, Protocol::Tcp, "cilium-health"),
        (8472, Protocol::Udp, "cilium-vxlan"),
        (22, Protocol::Tcp, "ssh"),
    ];
    for (port, proto, name) in seed_000.iter().chain(cni.iter()) {
        let c = fw
            .components
            .get(*name)
            .unwrap_or_else(|| panic!("`{name}` is not in the stdlib"));
        assert!(
            c.ports.contains(*proto, *port, &none),
            "`{name}` holds {proto}/{port}"
        );
        assert_eq!(
            c.ports.numbers.keys().copied().collect::<Vec<_>>(),
            [*proto],
            "`{name}` has only {proto} ports"
        );
        // and no other component claims that port and protocol, except the
        // dashboard's NodePort inside the NodePort range
        let others: Vec<&str> = fw
            .components
            .values()
            .filter(|o| o.name != *name && o.ports.contains(*proto, *port, &none))
            .map(|o| o.name.as_str())
            .filter(|o| !(*name == "dashboard" && *o == "nodeport"))
            .collect();
        assert!(others.is_empty(), "{proto}/{port}: {name} and {others:?}");
    }
    for (role, lo, hi, proto, name) in seed_002 {
        let c = &fw.components[name];
        for p in [lo, hi] {
            assert!(
                c.ports.contains(proto, p, &none),
                "`{name}` holds {proto}/{p}"
            );
        }
        assert!(
            fw.roles[role].runs(name),
            "`{name}` runs on `{role}` by default"
        );
        // managed, so closed on that role until a rule opens it
        assert!(
            fw.managed(role).contains(proto, lo, &none)
                && fw.managed(role).contains(proto, hi, &none)
        );
    }
    // NodePorts: TCP and UDP
    let np = &fw.components["nodeport"];
    assert!(
        np.ports.contains(Protocol::Udp, 30000, &none)
            && np.ports.contains(Protocol::Udp, 32767, &none)
    );
    assert!(
        !np.ports.contains(Protocol::Tcp, 29999, &none)
            && !np.ports.contains(Protocol::Tcp, 32768, &none)
    );
    // etcd is the control plane's only
    assert!(!fw.roles["worker"].runs("etcd") && !fw.roles["worker"].runs("kube-apiserver"));
    // the lints use the same numbers as the stdlib
    assert!(
        fw.components["kube-apiserver"].ports
            == nplc::ir::PortSet::range(
                Protocol::Tcp,
                nplc::lint::APISERVER.0,
                nplc::lint::APISERVER.1
            )
    );
    assert!(
        fw.components["etcd"].ports
            == nplc::ir::PortSet::range(Protocol::Tcp, nplc::lint::ETCD.0, nplc::lint::ETCD.1)
    );
    assert!(
        fw.components["kubelet-readonly"].ports
            == nplc::ir::PortSet::range(
                Protocol::Tcp,
                nplc::lint::KUBELET_READONLY.0,
                nplc::lint::KUBELET_READONLY.1
            )
    );
    for (name, (lo, hi)) in [
        ("kubelet", nplc::lint::KUBELET),
        ("dashboard", nplc::lint::DASHBOARD),
    ]
    .into_iter()
    .chain(nplc::lint::CONTROL_PLANE_COMPONENTS)
    {
        assert!(
            fw.components[name].ports == nplc::ir::PortSet::range(Protocol::Tcp, lo, hi),
            "the lints' `{name}` is the stdlib's"
        );
    }
    // every component says what it is and where that comes from
    for c in fw.components.values() {
        assert!(
            !c.note.is_empty() && !c.note.contains('\n'),
            "`{}` has a one-line note",
            c.name
        );
        if c.name != "ssh" {
            assert!(
                c.note.contains("seed 0") || c.note.contains("docs"),
                "`{}` names its source: {}",
                c.name,
                c.note
            );
        }
    }
    assert!(fw.components["ssh"].management);
}

#[test]
fn a_default_cluster_closes_every_seed_port() {
    let fw = seed_roles();
    let rows = fw.rows();
    assert!(
        rows.iter().all(|r| !r.is_open()),
        "no rule: everything managed is closed"
    );
    let txt = emit::txt(&fw);
    assert!(
        txt.contains("(none)") && txt.contains("kubelet-readonly"),
        "{txt}"
    );
}

/// The cluster example with the statements of its `nodes` block in another
/// order (an `@silence`, on its line or before the statement, stays with it).
fn reordered_cluster(seed: usize) -> Vec<Input> {
    let mut inputs = common::inputs(Path::new("examples/cluster"));
    for i in inputs.iter_mut().filter(|i| i.name.ends_with("nodes.npl")) {
        let mut head = Vec::new();
        let mut units: Vec<String> = Vec::new();
        let mut pending = String::new();
        let mut inside = false;
        for line in i.text.lines() {
            let t = line.trim();
            if t.starts_with("nodes {") {
                inside = true;
                head.push(line.to_string());
            } else if inside && t == "}" {
                inside = false;
            } else if inside && t.starts_with("@silence") && t.ends_with(')') {
                pending = format!("{t}\n");
            } else if inside
                && (t.starts_with("allow")
                    || t.starts_with("deny")
                    || t.starts_with("role")
                    || t.starts_with("@silence"))
            {
                units.push(format!("{pending}{t}"));
                pending.clear();
            } else if !inside {
                head.push(line.to_string());
            }
        }
        let n = units.len();
        units.rotate_left(seed % n);
        units.reverse();
        i.text = format!("{}\n{}\n}}\n", head.join("\n"), units.join("\n\n"));
    }
    inputs
}

#[test]
fn output_is_canonical_whatever_the_order_of_statements() {
    let shape = |fw: &FirewallSpec| {
        fw.rows()
            .iter()
            .map(|r| {
                format!(
                    "{} {} {} {} {:?} {}",
                    r.role,
                    r.protocol,
                    r.lo,
                    r.hi,
                    r.components,
                    nplc::firewall::describe_set(&r.open)
                )
            })
            .collect::<Vec<_>>()
    };
    let base = shape(cluster().firewall.as_ref().unwrap());
    for seed in 0..5 {
        let c = compile_inputs(&reordered_cluster(seed));
        assert!(c.diagnostics.is_empty(), "{}", render(&c));
        assert_eq!(shape(c.firewall.as_ref().unwrap()), base, "seed {seed}");
    }
}

#[test]
fn silenced_lints_are_visible_in_every_table() {
    let c = cluster();
    let fw = c.firewall.as_ref().unwrap();
    assert!(!c.diagnostics.iter().any(|d| d.code == "W0701"), "silenced");
    let json: serde_json::Value = serde_json::from_str(&emit::json(fw)).unwrap();
    let row = json["ports"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["from_port"] == 10255 && p["role"] == "worker")
        .unwrap();
    assert_eq!(row["silenced"][0]["code"], "W0701");
    assert_eq!(json["silenced"][0]["code"], "W0701");
    assert!(emit::txt(fw).contains("W0701 at nodes.npl:"));
    assert!(emit::csv(fw).contains("W0701@examples/cluster/nodes.npl:"));
    // and without the `@silence`, the lint is there
    let mut inputs = common::inputs(Path::new("examples/cluster"));
    for i in &mut inputs {
        i.text = i.text.replace("@silence(W0701)", "");
    }
    let c = compile_inputs(&inputs);
    assert!(
        c.diagnostics.iter().any(|d| d.code == "W0701"),
        "{}",
        render(&c)
    );
}

#[test]
fn a_program_without_nodes_has_no_firewall() {
    let c = common::compile(Path::new("examples/payments"));
    assert!(c.firewall.is_none());
}

// ---- the command line ------------------------------------------------------

fn nplc() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_nplc"));
    c.current_dir(common::root());
    c
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("nplc-it-fw-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

#[test]
fn build_writes_the_firewall_beside_the_policies() {
    let out = tmp("build");
    let st = nplc()
        .args(["build", "examples/cluster", "-o"])
        .arg(&out)
        .status()
        .unwrap();
    assert_eq!(st.code(), Some(0));
    let fw = cluster().firewall.unwrap();
    for f in emit::files(&fw) {
        assert_eq!(
            std::fs::read_to_string(out.join(&f.path)).unwrap(),
            f.contents,
            "{}",
            f.path
        );
    }
    let k = std::fs::read_to_string(out.join("kustomization.yaml")).unwrap();
    assert!(
        !k.contains("firewall"),
        "the firewall is not a Kubernetes resource:\n{k}"
    );
    assert!(out.join("shop/shop-default.yaml").is_file());
    // a build without nodes into the same directory removes the firewall files
    let st = nplc()
        .args(["build", "examples/payments", "-o"])
        .arg(&out)
        .status()
        .unwrap();
    assert_eq!(st.code(), Some(0));
    assert!(!out.join("firewall/ports.txt").exists());
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn a_build_without_nodes_writes_no_firewall_directory() {
    let out = tmp("nonodes");
    assert_eq!(
        nplc()
            .args(["build", "examples/payments", "-o"])
            .arg(&out)
            .status()
            .unwrap()
            .code(),
        Some(0)
    );
    assert!(!out.join("firewall").exists());
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn stdout_prints_only_the_yaml_stream() {
    let o = nplc()
        .args(["build", "examples/cluster", "--stdout"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0));
    let s = String::from_utf8(o.stdout).unwrap();
    assert_eq!(s, nplc::emit::k8s::stream(&cluster().manifests));
    assert!(!s.contains("nplc node firewall") && !s.contains("ROLE"));
}

#[test]
fn a_firewall_error_fails_the_build_and_writes_nothing() {
    let out = tmp("error");
    let o = nplc()
        .args(["build", "tests/firewall/E0701-unknown-role.npl", "-o"])
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("E0701"));
    assert!(!out.exists());
    let o = nplc()
        .args(["check", "tests/firewall/W0707-no-management.npl"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "warnings do not fail");
}
