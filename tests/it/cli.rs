//! The command line as scripts see it: exit codes, output layout, and the
//! promise that a failed build leaves the output directory as it was.

use crate::common;
use std::path::{Path, PathBuf};
use std::process::Command;

fn nplc() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_nplc"));
    c.current_dir(common::root());
    c
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("nplc-it-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn listing(dir: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    fn walk(base: &Path, d: &Path, out: &mut Vec<(String, String)>) {
        let mut es: Vec<_> = std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        es.sort();
        for p in es {
            if p.is_dir() {
                walk(base, &p, out);
            } else {
                out.push((
                    p.strip_prefix(base).unwrap().display().to_string(),
                    std::fs::read_to_string(&p).unwrap(),
                ));
            }
        }
    }
    walk(dir, dir, &mut out);
    out
}

#[test]
fn build_writes_one_file_per_policy_and_a_kustomization() {
    let out = tmp("build");
    let st = nplc()
        .args(["build", "examples/payments", "-o"])
        .arg(&out)
        .status()
        .unwrap();
    assert_eq!(st.code(), Some(0));
    let files: Vec<String> = listing(&out).into_iter().map(|f| f.0).collect();
    assert_eq!(
        files,
        [
            ".nplc-owned",
            "kustomization.yaml",
            "payments/payments-api.yaml",
            "payments/payments-db.yaml",
            "payments/payments-default.yaml"
        ]
    );
    let k = std::fs::read_to_string(out.join("kustomization.yaml")).unwrap();
    assert!(k.contains("- payments/payments-api.yaml"));
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn stdout_stream_equals_the_files() {
    let out = tmp("stdout");
    assert_eq!(
        nplc()
            .args(["build", "examples", "-o"])
            .arg(&out)
            .status()
            .unwrap()
            .code(),
        Some(1),
        "examples reuse namespace `app`: building them together is an error"
    );
    let o = nplc()
        .args(["build", "examples/payments", "--stdout"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0));
    let s = String::from_utf8(o.stdout).unwrap();
    assert_eq!(s.matches("kind: NetworkPolicy").count(), 3);
}

#[test]
fn errors_exit_1_and_leave_the_directory_alone() {
    let out = tmp("keep");
    assert_eq!(
        nplc()
            .args(["build", "examples/payments", "-o"])
            .arg(&out)
            .status()
            .unwrap()
            .code(),
        Some(0)
    );
    let before = listing(&out);
    let o = nplc()
        .args(["build", "tests/cases/E0302-host-bits-seed-004.npl", "-o"])
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("error[E0302]"));
    assert_eq!(listing(&out), before);
    // a fresh directory is not created on error
    let fresh = tmp("fresh");
    assert_eq!(
        nplc()
            .args(["build", "tests/cases/E0101-unknown-name.npl", "-o"])
            .arg(&fresh)
            .status()
            .unwrap()
            .code(),
        Some(1)
    );
    assert!(!fresh.exists());
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn usage_and_io_errors_exit_2() {
    assert_eq!(
        nplc()
            .args(["build", "no/such/path.npl", "--stdout"])
            .status()
            .unwrap()
            .code(),
        Some(2)
    );
    assert_eq!(nplc().args(["build"]).status().unwrap().code(), Some(2));
    assert_eq!(
        nplc()
            .args(["check", "--error-format", "xml", "examples"])
            .status()
            .unwrap()
            .code(),
        Some(2)
    );
    let o = nplc()
        .args(["check", "no/such/dir", "--error-format", "json"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let v: serde_json::Value = serde_json::from_slice(&o.stderr).unwrap();
    assert_eq!(v[0]["code"], "E0002");
}

#[test]
fn check_reports_json_and_exit_codes() {
    let o = nplc()
        .args([
            "check",
            "tests/cases/W0603-duplicate-rule.npl",
            "--error-format",
            "json",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "warnings do not fail");
    let v: serde_json::Value = serde_json::from_slice(&o.stderr).unwrap();
    assert!(
        v.as_array().unwrap().iter().any(|d| d["code"] == "W0603"),
        "{v}"
    );
    let o = nplc()
        .args(["check", "tests/cases/E0101-unknown-name.npl"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let v = nplc().arg("--version").output().unwrap();
    assert!(String::from_utf8_lossy(&v.stdout).starts_with("nplc "));
}
