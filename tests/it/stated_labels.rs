//! Stated namespace labels against a population (issue 13): `check`,
//! `explain` and `matrix` with `--pods FILE` refuse a managed namespace
//! whose real labels differ from the stated ones (E0210, both label sets
//! shown), and accept a population that agrees.

use std::path::Path;
use std::process::Command;

const PROGRAM: &str = "namespace app {\n  labels {team=dev}\n  default deny\n}\nnamespace ops {\n  labels {team=ops, env=prod}\n  default deny\n  allow {team=ops}/* -> app/*:80\n}\n";

fn population(ops_env: &str) -> String {
    format!(
        "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Namespace\n  metadata:\n    name: ops\n    labels: {{team: ops, env: {ops_env}}}\n- apiVersion: v1\n  kind: Namespace\n  metadata:\n    name: app\n    labels: {{team: dev}}\n- apiVersion: v1\n  kind: Pod\n  metadata: {{name: p, namespace: ops}}\n- apiVersion: v1\n  kind: Pod\n  metadata: {{name: q, namespace: app}}\n"
    )
}

fn run(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_nplc"))
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn setup(env: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("nplc-it-stated-{env}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(d.join("p.npl"), PROGRAM).unwrap();
    std::fs::write(d.join("pods.yaml"), population(env)).unwrap();
    d
}

const QUERIES: [&[&str]; 3] = [
    &["check", "p.npl", "--pods", "pods.yaml"],
    &["matrix", "p.npl", "--pods", "pods.yaml"],
    &[
        "explain",
        "p.npl",
        "--pods",
        "pods.yaml",
        "--from",
        "ops/p",
        "--to",
        "app/q:80",
    ],
];

#[test]
fn a_namespace_with_other_labels_is_an_error_with_both_sets() {
    let d = setup("stage");
    for q in QUERIES {
        let (code, _, err) = run(&d, q);
        assert_eq!(code, 1, "{q:?}: {err}");
        assert!(
            err.contains(
                "error[E0210]: namespace `ops` carries other labels than the program states"
            ),
            "{q:?}: {err}"
        );
        assert!(
            err.contains("states {env=prod, kubernetes.io/metadata.name=ops, team=ops}"),
            "{err}"
        );
        assert!(err.contains("in the population it carries {env=stage, kubernetes.io/metadata.name=ops, team=ops}"), "{err}");
        // `app` carries what is stated
        assert!(!err.contains("namespace `app` carries"), "{err}");
    }
}

#[test]
fn a_population_that_agrees_is_accepted() {
    let d = setup("prod");
    for q in QUERIES {
        let (code, out, err) = run(&d, q);
        assert_eq!(code, 0, "{q:?}: {err}");
        assert!(!err.contains("E0210"), "{err}");
        if q[0] == "explain" {
            assert!(out.contains("allowed"), "{out}");
        }
    }
}
