//! Property test for `nplc import` (issue 13): random NetworkPolicy sets
//! (podSelector and namespaceSelector with matchLabels and every
//! matchExpressions operator, both in one peer, ipBlock with except, IPv6,
//! ports by number, range, name, every protocol, empty vs absent
//! `from`/`to`/`ports`, omitted `policyTypes`, several policies selecting
//! the same pods, policies in several namespaces referring to each other),
//! written as YAML (a multi-document stream or a `kind: List`) → import →
//! build → the Kubernetes evaluator on the built policies equals it on the
//! input policies, for every connection between the pods of a random
//! population and a few external addresses, on every protocol and on ports
//! around every boundary. Then the fixed point: the build's YAML imported
//! again, with the imported programs at hand, gives the same text; and
//! without them (the construction over nplc's own output) builds to the
//! same permissions again. `PROPTEST_CASES` overrides the number of sets
//! (default 1,000).

use nplc::driver::{compile_inputs, Input};
use nplc::eval::k8s::{self, Connection};
use nplc::ir::NAME_LABEL;
use nplc::net::Protocol;
use nplc::population::{Endpoint, NamedPort, Population};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::net::IpAddr;

const NAMESPACES: [&str; 4] = ["a", "b", "c", "u"];
const KEYS: [&str; 2] = ["app", "tier"];
const VALUES: [&str; 3] = ["x", "y", "z"];
const PROBE_PORTS: [u16; 8] = [53, 79, 80, 443, 5432, 8080, 8081, 9000];
const EXTERNALS: [&str; 5] = [
    "10.0.0.1",
    "10.1.0.1",
    "192.168.1.1",
    "2001:db8::1",
    "2001:db8:1::1",
];

fn value() -> impl Strategy<Value = &'static str> {
    prop::sample::select(&VALUES[..])
}

/// A label selector: matchLabels and matchExpressions with every operator.
fn selector(keys: &'static [&'static str]) -> impl Strategy<Value = Value> {
    let expr = (
        prop::sample::select(keys),
        prop::sample::select(vec!["In", "NotIn", "Exists", "DoesNotExist"]),
        prop::collection::btree_set(value(), 1..=2),
    )
        .prop_map(|(k, op, vals)| {
            if op == "In" || op == "NotIn" {
                json!({"key": k, "operator": op, "values": vals.into_iter().collect::<Vec<_>>()})
            } else {
                json!({"key": k, "operator": op})
            }
        });
    (
        prop::collection::btree_map(prop::sample::select(keys), value(), 0..=1),
        prop::collection::vec(expr, 0..=1),
    )
        .prop_map(|(labels, exprs)| {
            let mut m = serde_json::Map::new();
            if !labels.is_empty() {
                m.insert("matchLabels".into(), json!(labels));
            }
            if !exprs.is_empty() {
                m.insert("matchExpressions".into(), Value::Array(exprs));
            }
            Value::Object(m)
        })
}

const TEAM: [&str; 1] = ["team"];

fn ns_selector() -> impl Strategy<Value = Value> {
    prop_oneof![
        // the namespaces' `team` label takes the pods' values
        2 => selector(&TEAM),
        1 => prop::sample::select(&NAMESPACES[..]).prop_map(|n| json!({"matchLabels": {NAME_LABEL: n}})),
        1 => Just(json!({})),
    ]
}

fn block() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(json!({"cidr": "10.0.0.0/8"})),
        Just(json!({"cidr": "10.0.0.0/8", "except": ["10.1.0.0/16"]})),
        Just(json!({"cidr": "10.0.0.5/8", "except": ["10.1.0.0/16", "10.2.0.0/16"]})),
        Just(json!({"cidr": "0.0.0.0/0", "except": ["10.0.0.0/8", "192.168.0.0/16"]})),
        Just(json!({"cidr": "2001:db8::/32", "except": ["2001:db8:1::/48"]})),
        Just(json!({"cidr": "::/0"})),
    ]
}

fn peer() -> impl Strategy<Value = Value> {
    prop_oneof![
        2 => selector(&KEYS).prop_map(|p| json!({"podSelector": p})),
        1 => ns_selector().prop_map(|n| json!({"namespaceSelector": n})),
        2 => (ns_selector(), selector(&KEYS)).prop_map(|(n, p)| json!({"namespaceSelector": n, "podSelector": p})),
        1 => block().prop_map(|b| json!({"ipBlock": b})),
    ]
}

fn port() -> impl Strategy<Value = Value> {
    let proto = prop::sample::select(vec![None, Some("TCP"), Some("UDP"), Some("SCTP")]);
    let spec = prop_oneof![
        Just(json!(null)),
        prop::sample::select(vec![53u16, 80, 443, 5432, 8080]).prop_map(|n| json!({"port": n})),
        Just(json!({"port": 8080, "endPort": 9000})),
        Just(json!({"port": 53, "endPort": 80})),
        prop::sample::select(vec!["http", "dns"]).prop_map(|n| json!({"port": n})),
    ];
    (proto, spec).prop_map(|(proto, spec)| {
        let mut m = match spec {
            Value::Object(m) => m,
            _ => serde_json::Map::new(),
        };
        if let Some(p) = proto {
            m.insert("protocol".into(), json!(p));
        }
        Value::Object(m)
    })
}

/// A rule: `from`/`to` absent, empty or peers; `ports` absent, empty or some.
fn rule(peer_key: &'static str) -> impl Strategy<Value = Value> {
    let peers = prop_oneof![
        1 => Just(None),
        1 => Just(Some(vec![])),
        4 => prop::collection::vec(peer(), 1..=3).prop_map(Some),
    ];
    let ports = prop_oneof![
        2 => Just(None),
        1 => Just(Some(vec![])),
        3 => prop::collection::vec(port(), 1..=2).prop_map(Some),
    ];
    (peers, ports).prop_map(move |(peers, ports)| {
        let mut m = serde_json::Map::new();
        if let Some(p) = peers {
            m.insert(peer_key.into(), Value::Array(p));
        }
        if let Some(p) = ports {
            m.insert("ports".into(), Value::Array(p));
        }
        Value::Object(m)
    })
}

fn policy() -> impl Strategy<Value = (usize, Value)> {
    let types = prop::sample::select(vec![
        None,
        Some(vec!["Ingress"]),
        Some(vec!["Egress"]),
        Some(vec!["Ingress", "Egress"]),
    ]);
    (
        0..3usize,
        prop_oneof![1 => Just(json!({})), 2 => selector(&KEYS)],
        types,
        prop::option::of(prop::collection::vec(rule("from"), 0..=2)),
        prop::option::of(prop::collection::vec(rule("to"), 0..=2)),
    )
        .prop_map(|(ns, subject, types, ingress, egress)| {
            let mut spec = serde_json::Map::new();
            spec.insert("podSelector".into(), subject);
            if let Some(t) = types {
                spec.insert("policyTypes".into(), json!(t));
            }
            if let Some(i) = ingress {
                spec.insert("ingress".into(), Value::Array(i));
            }
            if let Some(e) = egress {
                spec.insert("egress".into(), Value::Array(e));
            }
            (ns, Value::Object(spec))
        })
}

#[derive(Debug, Clone)]
struct Case {
    policies: Vec<(usize, Value)>,
    ns_labels: Vec<Option<&'static str>>,
    pods: Vec<(usize, Vec<Option<&'static str>>, usize)>,
    as_list: bool,
}

fn case() -> impl Strategy<Value = Case> {
    (
        prop::collection::vec(policy(), 1..=4),
        prop::collection::vec(prop::option::of(value()), NAMESPACES.len()),
        prop::collection::vec(
            (
                0..NAMESPACES.len(),
                prop::collection::vec(prop::option::of(value()), KEYS.len()),
                0..4usize,
            ),
            1..=6,
        ),
        any::<bool>(),
    )
        .prop_map(|(policies, ns_labels, pods, as_list)| Case {
            policies,
            ns_labels,
            pods,
            as_list,
        })
}

impl Case {
    fn objects(&self) -> Vec<Value> {
        self.policies
            .iter()
            .enumerate()
            .map(|(i, (ns, spec))| {
                json!({
                    "apiVersion": "networking.k8s.io/v1",
                    "kind": "NetworkPolicy",
                    "metadata": {"name": format!("p{i}"), "namespace": NAMESPACES[*ns]},
                    "spec": spec,
                })
            })
            .collect()
    }

    fn yaml(&self) -> String {
        let objects = self.objects();
        if self.as_list {
            serde_yaml::to_string(&json!({"apiVersion": "v1", "kind": "List", "items": objects}))
                .unwrap()
        } else {
            objects
                .iter()
                .map(|o| format!("---\n{}", serde_yaml::to_string(o).unwrap()))
                .collect()
        }
    }

    fn population(&self) -> Population {
        let mut pop = Population::default();
        for (i, ns) in NAMESPACES.iter().enumerate() {
            let mut labels = BTreeMap::from([(NAME_LABEL.to_string(), ns.to_string())]);
            if let Some(v) = self.ns_labels[i] {
                labels.insert("team".into(), v.into());
            }
            pop.insert_namespace(ns, labels);
        }
        // container ports: none, http=80/TCP, http=8080/TCP + dns=53/UDP, dns=5432/SCTP
        let port_sets: [&[(&str, u16, Protocol)]; 4] = [
            &[],
            &[("http", 80, Protocol::Tcp)],
            &[("http", 8080, Protocol::Tcp), ("dns", 53, Protocol::Udp)],
            &[("dns", 5432, Protocol::Sctp)],
        ];
        for (i, (ns, labels, ports)) in self.pods.iter().enumerate() {
            let labels = KEYS
                .iter()
                .zip(labels)
                .filter_map(|(k, v)| v.map(|v| (k.to_string(), v.to_string())))
                .collect();
            pop.insert_pod(nplc::population::PodInfo {
                namespace: NAMESPACES[*ns].to_string(),
                name: format!("p{i}"),
                labels,
                ports: port_sets[*ports]
                    .iter()
                    .map(|(n, p, proto)| NamedPort {
                        name: n.to_string(),
                        port: *p,
                        protocol: *proto,
                    })
                    .collect(),
            });
        }
        pop
    }
}

fn check(case: &Case, n: &mut usize) -> Result<(), TestCaseError> {
    let yaml = case.yaml();
    let input: Vec<k8s_openapi::api::networking::v1::NetworkPolicy> = case
        .objects()
        .into_iter()
        .map(|o| serde_json::from_value(o).unwrap())
        .collect();
    let r = nplc::import::read(&[("in.yaml".into(), yaml.clone())], None);
    prop_assert!(
        !r.has_errors(),
        "import refused valid input:\n{yaml}\n{}",
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
    let text: String = programs.iter().map(|p| p.text.clone()).collect();
    for p in &programs {
        prop_assert!(
            nplc::syntax::fmt::is_formatted(&p.text),
            "the import of namespace `{}` is not in `nplc fmt`'s layout:\n{}",
            p.namespace,
            p.text
        );
    }
    let c = compile_inputs(&files);
    prop_assert!(
        !c.has_errors(),
        "the imported program does not compile:\n{text}\n{}\n--- input ---\n{yaml}",
        nplc::diag::render_human(&c.sources, &c.diagnostics)
    );
    let built: Vec<_> = c.manifests.iter().map(|m| m.object.clone()).collect();
    // the fixed point: importing the build, with the programs at hand,
    // gives the same text
    let built_yaml: String = c
        .manifests
        .iter()
        .map(|m| format!("---\n{}", m.to_yaml()))
        .collect();
    let again = nplc::import::read(&[("built.yaml".into(), built_yaml.clone())], None);
    prop_assert!(
        !again.has_errors(),
        "import refused nplc's own output:\n{built_yaml}\n{}",
        nplc::diag::render_human(&again.sources, &again.diagnostics)
    );
    let resolve = |f: &str| {
        programs
            .iter()
            .find(|p| format!("{}.npl", p.namespace) == f)
            .map(|p| p.text.clone())
    };
    let second = nplc::import::recognise::programs(&again.policies, &resolve);
    let second_text: String = second.programs.iter().map(|p| p.text.clone()).collect();
    prop_assert_eq!(
        &text,
        &second_text,
        "importing the build of the import gives another text\n--- input ---\n{}\n--- notes ---\n{:?}",
        yaml,
        second.notes
    );
    // without the programs at hand: the construction over nplc's output,
    // which must be exact too
    let blind = nplc::import::recognise::programs(&again.policies, &|_| None);
    let blind_files: Vec<Input> = blind
        .programs
        .iter()
        .map(|p| Input {
            name: format!("{}.npl", p.namespace),
            text: p.text.clone(),
        })
        .collect();
    let blind_text: String = blind.programs.iter().map(|p| p.text.clone()).collect();
    let c2 = compile_inputs(&blind_files);
    prop_assert!(
        !c2.has_errors(),
        "the import of nplc's own output does not compile:\n{blind_text}\n{}\n--- built ---\n{built_yaml}",
        nplc::diag::render_human(&c2.sources, &c2.diagnostics)
    );
    let rebuilt: Vec<_> = c2.manifests.iter().map(|m| m.object.clone()).collect();
    let pop = case.population();
    let mut endpoints: Vec<Endpoint> = (0..pop.pods.len()).map(Endpoint::Pod).collect();
    endpoints.extend(
        EXTERNALS
            .iter()
            .map(|a| Endpoint::External(a.parse::<IpAddr>().unwrap())),
    );
    for &src in &endpoints {
        for &dst in &endpoints {
            if matches!((src, dst), (Endpoint::External(_), Endpoint::External(_))) {
                continue;
            }
            for protocol in Protocol::ALL {
                for port in PROBE_PORTS {
                    let conn = Connection {
                        src,
                        dst,
                        protocol,
                        port,
                    };
                    let want = k8s::evaluate(&input, &pop, &conn).allowed;
                    let got = k8s::evaluate(&built, &pop, &conn).allowed;
                    let again = k8s::evaluate(&rebuilt, &pop, &conn).allowed;
                    *n += 1;
                    prop_assert_eq!(
                        want,
                        again,
                        "{} -> {} {:?}/{}: the input says {}, the build of the import of nplc's output {}\n--- input ---\n{}\n--- imported from the build ---\n{}",
                        pop.endpoint_name(&src),
                        pop.endpoint_name(&dst),
                        protocol,
                        port,
                        want,
                        again,
                        yaml,
                        blind_text
                    );
                    prop_assert_eq!(
                        want,
                        got,
                        "{} -> {} {:?}/{}: the input says {}, the import's build {}\n--- input ---\n{}\n--- imported ---\n{}",
                        pop.endpoint_name(&src),
                        pop.endpoint_name(&dst),
                        protocol,
                        port,
                        want,
                        got,
                        yaml,
                        text
                    );
                }
            }
        }
    }
    Ok(())
}

#[test]
fn the_build_of_an_import_permits_what_the_input_permits() {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1000);
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    let n = std::cell::Cell::new(0usize);
    let result = runner.run(&case(), |c| {
        let mut k = 0;
        let r = check(&c, &mut k);
        n.set(n.get() + k);
        r
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    eprintln!(
        "import_props: {cases} policy sets, {} connections compared",
        n.get()
    );
}

/// `examples/import/imported/` is what `nplc import` writes from
/// `examples/import/cluster/` today, and it builds to policies that permit
/// what the cluster's policies permit (on the example's population).
#[test]
fn the_example_is_what_import_writes() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/import");
    let inputs = nplc::import::read_paths(&[root.join("cluster")]).unwrap();
    // names as the example's README runs it, from examples/import
    let inputs: Vec<(String, String)> = inputs
        .into_iter()
        .map(|(n, t)| {
            let rel = std::path::Path::new(&n)
                .strip_prefix(&root)
                .map(|p| p.display().to_string())
                .unwrap_or(n);
            (rel, t)
        })
        .collect();
    let r = nplc::import::read(&inputs, None);
    assert!(!r.has_errors());
    for p in nplc::import::write::programs(&r.policies) {
        let kept =
            std::fs::read_to_string(root.join("imported").join(format!("{}.npl", p.namespace)))
                .unwrap();
        assert_eq!(kept, p.text, "examples/import/imported/{}.npl is stale: run `nplc import cluster -o imported` in examples/import", p.namespace);
    }
}

/// Bad input: each problem a diagnostic with the YAML file, line and
/// column and a stable code; exit 1; nothing written.
#[test]
fn bad_input_is_refused_with_a_place_and_nothing_is_written() {
    let dir = std::env::temp_dir().join(format!("nplc-it-import-bad-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let cases = [
        ("yaml.yaml", "kind: [unclosed\n", "E0801", "yaml.yaml:2:1"),
        ("label.yaml", "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p, namespace: a}\nspec:\n  podSelector:\n    matchLabels: {\"-bad\": x}\n", "E0802", "label.yaml:6:"),
        ("endport.yaml", "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p, namespace: a}\nspec:\n  podSelector: {}\n  ingress:\n  - ports:\n    - port: http\n      endPort: 90\n", "E0802", "endport.yaml:9:"),
        ("except.yaml", "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p, namespace: a}\nspec:\n  podSelector: {}\n  egress:\n  - to:\n    - ipBlock: {cidr: 10.0.0.0/8, except: [192.168.0.0/16]}\n", "E0802", "except.yaml:8:"),
        ("field.yaml", "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p, namespace: a}\nspec:\n  podSelector: {}\n  ingres: []\n", "E0803", "field.yaml:6:3"),
        ("nons.yaml", "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p}\nspec: {podSelector: {}}\n", "E0804", "nons.yaml:3:"),
    ];
    for (file, text, code, place) in cases {
        std::fs::write(dir.join(file), text).unwrap();
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_nplc"))
            .current_dir(&dir)
            .args(["import", file, "-o", "out"])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{file}: {err}");
        assert!(err.contains(&format!("error[{code}]")), "{file}: {err}");
        assert!(err.contains(place), "{file}: want {place} in {err}");
        assert!(err.contains("nothing was written"), "{err}");
        assert!(!dir.join("out").exists(), "{file}: something was written");
    }
}

/// `nplc import --stdout` into a pipe closed by its reader: exit 2, no
/// panic. The output (over 100 KB) is larger than a pipe holds, so the
/// write fails whenever the reader goes.
#[test]
fn a_closed_standard_output_is_exit_2() {
    let dir = std::env::temp_dir().join(format!("nplc-it-import-pipe-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let yaml: Vec<String> = (0..800)
        .map(|i| {
            format!(
                "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: p{i}, namespace: n{}}}\nspec:\n  podSelector: {{matchLabels: {{app: a{i}}}}}\n  ingress:\n  - from: [{{podSelector: {{matchLabels: {{app: b{i}}}}}}}]\n    ports: [{{port: {}}}]\n",
                i % 40,
                1000 + i
            )
        })
        .collect();
    std::fs::write(dir.join("p.yaml"), yaml.join("---\n")).unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_nplc"))
        .current_dir(&dir)
        .args(["import", "p.yaml", "--stdout"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    let full = std::process::Command::new(env!("CARGO_BIN_EXE_nplc"))
        .current_dir(&dir)
        .args(["import", "p.yaml", "--stdout"])
        .output()
        .unwrap();
    assert_eq!(full.status.code(), Some(0));
    assert!(full.stdout.len() > 100_000, "{} bytes", full.stdout.len());
    let _ = std::fs::remove_dir_all(&dir);
}

/// `DIR/p.yaml`: one NetworkPolicy in each of the namespaces `a` and `b`.
fn write_two_namespaces(dir: &std::path::Path) {
    let yaml = ["a", "b"]
        .iter()
        .map(|ns| format!("apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: p, namespace: {ns}}}\nspec: {{podSelector: {{}}, policyTypes: [Ingress]}}\n"))
        .collect::<Vec<_>>()
        .join("---\n");
    std::fs::write(dir.join("p.yaml"), yaml).unwrap();
}

/// `nplc import p.yaml -o out`, run in `dir`.
fn import_into_out(dir: &std::path::Path) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_nplc"))
        .current_dir(dir)
        .args(["import", "p.yaml", "-o", "out"])
        .output()
        .unwrap()
}

/// `-o DIR` writes every program or none: a target that cannot be replaced
/// (here a directory where `b.npl` should go) stops the import before any
/// file is written, and no temporary file is left behind.
#[test]
fn output_files_are_written_all_or_nothing() {
    let dir = std::env::temp_dir().join(format!("nplc-it-import-aon-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("out/b.npl")).unwrap();
    write_two_namespaces(&dir);
    let run = || import_into_out(&dir);
    let out = run();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("error[E0002]") && err.contains("b.npl"),
        "{err}"
    );
    let left: Vec<String> = std::fs::read_dir(dir.join("out"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(left, ["b.npl"], "only the directory that was there");
    // once the obstacle is gone, both are written
    std::fs::remove_dir(dir.join("out/b.npl")).unwrap();
    let out = run();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(dir.join("out/a.npl").is_file() && dir.join("out/b.npl").is_file());
    let _ = std::fs::remove_dir_all(&dir);
}

/// W0808: `-o DIR` names each `.npl` file under DIR that it did not write
/// (here the program of a namespace imported before, and a file in a
/// subdirectory), which `nplc build DIR` would read too; the programs it
/// writes, there before or not, are not named; exit 0.
#[test]
fn files_the_import_did_not_write_are_named() {
    let dir = std::env::temp_dir().join(format!("nplc-it-import-others-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("out/team")).unwrap();
    std::fs::write(
        dir.join("out/gone.npl"),
        "namespace gone {\n  default deny\n}\n",
    )
    .unwrap();
    std::fs::write(dir.join("out/team/extra.npl"), "# a file of the user's\n").unwrap();
    std::fs::write(dir.join("out/notes.txt"), "not a program\n").unwrap();
    write_two_namespaces(&dir);
    let run = || {
        let out = import_into_out(&dir);
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(out.status.code(), Some(0), "{err}");
        err
    };
    // twice: the second time `a.npl` and `b.npl` are there, written by it
    for _ in 0..2 {
        let err = run();
        let named: Vec<&str> = err.lines().filter(|l| l.contains("W0808")).collect();
        assert_eq!(named.len(), 2, "{err}");
        assert!(
            err.contains("warning[W0808]: `out/gone.npl` is in `out` but this import did not write it: `nplc build out` reads it too"),
            "{err}"
        );
        assert!(err.contains("`out/team/extra.npl` is in `out`"), "{err}");
        assert!(
            !err.contains("out/a.npl") && !err.contains("notes.txt"),
            "{err}"
        );
        assert!(dir.join("out/a.npl").is_file() && dir.join("out/b.npl").is_file());
    }
    let _ = std::fs::remove_dir_all(&dir);
}
