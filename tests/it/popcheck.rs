//! Population-aware checks (issue 14): `nplc check PATH... --pods FILE`
//! on the fixture cluster `tests/popcheck/` (namespaces, pods and Services)
//! reports W0610 (a selector that matches no pod), W0611 (pods no workload
//! names) and W0612 (seed 001: a Service's `port` written for its pods'),
//! each at its statement, with a help line; the project file's
//! `population` feeds `check` when no `--pods` is given.

use crate::common;
use std::path::Path;
use std::process::{Command, Output};

fn nplc(cwd: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_nplc"))
        .args(args)
        .current_dir(cwd)
        .output()
        .unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

const FIXTURE: [&str; 4] = [
    "check",
    "tests/popcheck",
    "--pods",
    "tests/popcheck/cluster.yaml",
];

/// The diagnostics as JSON: (code, file:line) of each, in order.
fn found(args: &[&str], cwd: &Path) -> Vec<(String, String)> {
    let mut a = args.to_vec();
    a.extend(["--error-format", "json"]);
    let out = nplc(cwd, &a);
    let json: serde_json::Value = serde_json::from_str(&stderr(&out)).unwrap();
    json.as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["code"].as_str().unwrap().to_string(),
                format!(
                    "{}:{}",
                    d["primary"]["file"].as_str().unwrap_or("-"),
                    d["primary"]["line"]
                ),
            )
        })
        .collect()
}

#[test]
fn the_fixture_cluster_renders_as_its_snapshot() {
    let out = nplc(&common::root(), &FIXTURE);
    assert_eq!(out.status.code(), Some(0), "warnings only");
    common::snapshot("../popcheck/snapshots", "check", &stderr(&out));
}

#[test]
fn each_finding_is_where_the_fixture_says_and_nowhere_else() {
    let got = found(&FIXTURE, &common::root());
    let want: Vec<(String, String)> = [
        ("W0611", "tests/popcheck/demo.npl:3"),
        // seed 001: `target:2345`
        ("W0612", "tests/popcheck/demo.npl:8"),
        ("W0611", "tests/popcheck/shop.npl:5"),
        ("W0611", "tests/popcheck/shop.npl:5"),
        ("W0610", "tests/popcheck/shop.npl:9"),
        ("W0610", "tests/popcheck/shop.npl:12"),
        ("W0612", "tests/popcheck/shop.npl:15"),
        ("W0610", "tests/popcheck/shop.npl:21"),
        ("W0610", "tests/popcheck/shop.npl:23"),
    ]
    .iter()
    .map(|(c, at)| (c.to_string(), at.to_string()))
    .collect();
    // not reported: `api:8080` and `db:pg` (the pods' own ports), `legacy/`
    // (a namespace the population does not list), the silenced `app=batch`,
    // the block-silenced workload `admission`, and no pod of an unmanaged
    // namespace
    assert_eq!(got, want);
}

#[test]
fn help_lines_name_the_container_port_and_the_namespaces_looked_at() {
    let err = stderr(&nplc(&common::root(), &FIXTURE));
    assert!(
        err.contains(
            "help: write the container port the service forwards to, `1234`, instead of `2345`"
        ),
        "{err}"
    );
    // a named targetPort, resolved on the pods
    assert!(err.contains("`8080` (the container port `http` of `web-5d8f7-a1` and `web-5d8f7-b2`; the name `http` works too), instead of `80`"), "{err}");
    assert!(
        err.contains("no pod of the namespaces `monitoring` and `ops-tools` matches it"),
        "{err}"
    );
    // replicas are one finding, without their per-pod labels
    assert!(
        err.contains("no workload names 3 pods of `shop` (labels {app=worker, tier=jobs})"),
        "{err}"
    );
    assert!(
        err.contains("`workload worker = app=worker, tier=jobs`"),
        "{err}"
    );
    // the statefulset pod is named by `db`, whatever its per-pod labels
    assert!(!err.contains("db-0"), "{err}");
}

#[test]
fn without_a_population_there_is_nothing_to_say() {
    let got = found(&["check", "tests/popcheck"], &common::root());
    assert!(got.iter().all(|(c, _)| !c.starts_with("W061")), "{got:?}");
}

#[test]
fn deny_warnings_fails_on_them() {
    let mut a = FIXTURE.to_vec();
    a.push("--deny-warnings");
    assert_eq!(nplc(&common::root(), &a).status.code(), Some(1));
}

fn project(tag: &str, program: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("nplc-popcheck-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(d.join("cluster")).unwrap();
    std::fs::write(d.join("nplc.toml"), "population = \"cluster/all.yaml\"\n").unwrap();
    std::fs::write(d.join("demo.npl"), program).unwrap();
    std::fs::copy(
        common::root().join("tests/popcheck/cluster.yaml"),
        d.join("cluster/all.yaml"),
    )
    .unwrap();
    d
}

const SEED: &str = "namespace demo {\n  workload target = app=target\n  @silence(W0704) default deny ingress\n  allow app=allowed -> target:PORT\n  allow app=denied -> target:tcp/1000-3000\n}\n";

#[test]
fn the_project_population_feeds_check_and_the_fix_silences_it() {
    let d = project("seed", &SEED.replace("PORT", "2345"));
    if crate::project_above(&d) {
        return;
    }
    let got = found(&["check"], &d);
    assert!(
        got.contains(&("W0612".to_string(), "demo.npl:4".to_string())),
        "{got:?}"
    );
    // a range that holds the service's port is not the trap
    assert!(
        !got.contains(&("W0612".to_string(), "demo.npl:5".to_string())),
        "{got:?}"
    );
    // the fixes: the container port, by number or by name
    for fix in ["1234", "listen"] {
        let d = project(fix, &SEED.replace("PORT", fix));
        let got = found(&["check"], &d);
        assert!(got.iter().all(|(c, _)| c != "W0612"), "{fix}: {got:?}");
    }
}

#[test]
fn explicit_paths_read_no_project_population() {
    let d = project("paths", &SEED.replace("PORT", "2345"));
    let got = found(&["check", "demo.npl"], &d);
    assert!(got.iter().all(|(c, _)| c != "W0612"), "{got:?}");
    let got = found(&["check", "demo.npl", "--pods", "cluster/all.yaml"], &d);
    assert!(got.iter().any(|(c, _)| c == "W0612"), "{got:?}");
}
