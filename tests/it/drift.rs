//! `nplc build -o DIR --check` (drift): it writes nothing, and what it
//! lists is exactly what the build that follows changes; exit 0 when DIR
//! is current, 1 when a build would change it, 2 when that build would be
//! refused.

use crate::common;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn nplc() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_nplc"));
    c.current_dir(common::root());
    c
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("nplc-it-drift-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn run(args: &[&str], srcs: &[&Path], out: &Path) -> Output {
    nplc()
        .arg("build")
        .args(args)
        .arg("-o")
        .arg(out)
        .args(srcs)
        .output()
        .unwrap()
}

/// Every file and directory under `dir` with its bytes (empty when absent).
fn listing(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(base: &Path, d: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        let Ok(rd) = std::fs::read_dir(d) else { return };
        for e in rd {
            let p = e.unwrap().path();
            let rel = p.strip_prefix(base).unwrap().display().to_string();
            if p.is_dir() {
                out.insert(rel + "/", Vec::new());
                walk(base, &p, out);
            } else {
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// The `(verb, path in DIR)` lines of a check, and its exit code.
fn check(srcs: &[&Path], out: &Path) -> (Vec<(String, String)>, i32) {
    let before = listing(out);
    let o = run(&["--check"], srcs, out);
    assert_eq!(listing(out), before, "--check changed the directory");
    let shown = format!("{}/", out.display());
    let lines = String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let (verb, path) = l.split_once(' ').unwrap();
            (
                verb.to_string(),
                path.strip_prefix(&shown).unwrap().to_string(),
            )
        })
        .collect();
    (lines, o.status.code().unwrap())
}

/// What a build changed: files added, changed, removed (by comparing the
/// directory before and after).
fn diff(
    before: &BTreeMap<String, Vec<u8>>,
    after: &BTreeMap<String, Vec<u8>>,
) -> Vec<(String, String)> {
    let file = |k: &String| !k.ends_with('/') && !k.starts_with(".nplc-");
    let mut v = Vec::new();
    for (k, b) in after.iter().filter(|(k, _)| file(k)) {
        match before.get(k) {
            None => v.push(("add".to_string(), k.clone())),
            Some(a) if a != b => v.push(("change".to_string(), k.clone())),
            _ => {}
        }
    }
    for k in before.keys().filter(|k| file(k) && !after.contains_key(*k)) {
        v.push(("remove".to_string(), k.clone()));
    }
    v.sort();
    v
}

#[test]
fn check_lists_exactly_what_the_next_build_changes() {
    let root = tmp("lists");
    let out = root.join("out");
    let ex = common::root().join("examples");
    let (payments, cluster, target) = (
        ex.join("payments"),
        ex.join("cluster"),
        ex.join("001-target"),
    );
    // a sequence of builds: fresh, the same, more sources, a changed file,
    // fewer sources (files removed), a file edited by hand
    let steps: Vec<Vec<&Path>> = vec![
        vec![&payments],
        vec![&payments],
        vec![&payments, &cluster],
        vec![&payments, &cluster, &target],
        vec![&cluster],
        vec![&cluster],
    ];
    for (i, srcs) in steps.iter().enumerate() {
        if i == 5 {
            let f = out.join("kustomization.yaml");
            let mut t = std::fs::read_to_string(&f).unwrap();
            t.push_str("# edited\n");
            std::fs::write(&f, t).unwrap();
        }
        let (mut listed, code) = check(srcs, &out);
        listed.sort();
        let before = listing(&out);
        let o = run(&[], srcs, &out);
        assert_eq!(o.status.code(), Some(0), "step {i}");
        let changed = diff(&before, &listing(&out));
        assert_eq!(listed, changed, "step {i}");
        assert_eq!(code, if changed.is_empty() { 0 } else { 1 }, "step {i}");
        // after the build, the directory is current
        assert_eq!(
            check(srcs, &out),
            (Vec::new(), 0),
            "step {i}, after the build"
        );
    }
    assert!(!steps.is_empty());
}

#[test]
fn check_refuses_what_the_build_refuses_and_needs_a_directory() {
    let root = tmp("refuses");
    let out = root.join("out");
    std::fs::create_dir_all(out.join("payments")).unwrap();
    std::fs::write(out.join("payments/payments-api.yaml"), "mine\n").unwrap();
    let src = common::root().join("examples/payments");
    let o = run(&["--check"], &[&src], &out);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("which nplc did not write"));
    assert_eq!(
        std::fs::read_to_string(out.join("payments/payments-api.yaml")).unwrap(),
        "mine\n"
    );
    let o = nplc()
        .args(["build", "--check", "--stdout"])
        .arg(&src)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    // a program with errors: exit 1, nothing listed
    let bad = root.join("bad.npl");
    std::fs::write(&bad, "namespace a { allow nope -> x }\n").unwrap();
    let o = run(&["--check"], &[&bad], &out);
    assert_eq!(o.status.code(), Some(1));
    assert!(o.stdout.is_empty());
}
