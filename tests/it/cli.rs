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

/// `nplc check` of `paths`, with the diagnostics as JSON: (exit code, diagnostics).
fn check_json(paths: &[&Path]) -> (Option<i32>, Vec<serde_json::Value>) {
    let o = nplc()
        .arg("check")
        .args(paths)
        .args(["--error-format", "json"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&o.stderr)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&o.stderr)));
    (o.status.code(), v.as_array().cloned().unwrap_or_default())
}

fn codes(diags: &[serde_json::Value]) -> Vec<String> {
    diags
        .iter()
        .map(|d| d["code"].as_str().unwrap_or("").to_string())
        .collect()
}

/// W0002: a symbolic link back into a directory being walked is not
/// followed (it was, 40 levels deep, reading the file 41 times); a file or
/// directory reached through several links is read once, by its own path.
#[cfg(unix)]
#[test]
fn w0002_a_symlink_loop_is_noted_and_every_file_read_once() {
    use std::os::unix::fs::symlink;
    let d = tmp("symlink-loop");
    std::fs::create_dir_all(d.join("team/sub")).unwrap();
    std::fs::write(
        d.join("team/sub/a.npl"),
        "use dns\nnamespace a {\n  allow egress dns\n  allow app=x -> *:80\n}\n",
    )
    .unwrap();
    symlink("..", d.join("team/sub/up")).unwrap(); // a loop
    symlink("sub", d.join("team/again")).unwrap(); // the same directory twice
    symlink("a.npl", d.join("team/sub/b.npl")).unwrap(); // the same file twice
    let (code, diags) = check_json(&[&d]);
    assert_eq!(code, Some(0));
    assert_eq!(codes(&diags), ["W0002"], "{diags:?}");
    let note = &diags[0];
    assert_eq!(note["severity"], "note");
    let m = note["message"].as_str().unwrap();
    assert!(
        m.contains("team/sub/up`") && m.contains("leads back to") && m.contains("team`"),
        "{m}"
    );
    // a file read twice would be a duplicate namespace block's rules (W0603)
    // and a second source; build says which files it read in the annotations
    let o = nplc().args(["build", "--stdout"]).arg(&d).output().unwrap();
    assert_eq!(o.status.code(), Some(0));
    let yaml = String::from_utf8(o.stdout).unwrap();
    assert!(yaml.contains("team/sub/a.npl:"), "{yaml}");
    assert!(
        !yaml.contains("again/") && !yaml.contains("b.npl"),
        "{yaml}"
    );
    let human = nplc().arg("check").arg(&d).output().unwrap();
    assert!(String::from_utf8_lossy(&human.stderr).contains("note[W0002]"));
    // a directory named twice, or inside one named before, is read once
    let (code, diags) = check_json(&[&d, &d, &d.join("team/sub")]);
    assert_eq!(code, Some(0));
    assert_eq!(codes(&diags), ["W0002"], "{diags:?}");
    let _ = std::fs::remove_dir_all(&d);
}

/// Input that is not UTF-8 is refused with the offset, line and column of
/// its first invalid byte.
#[test]
fn non_utf8_input_says_where_its_first_invalid_byte_is() {
    let d = tmp("latin1");
    std::fs::create_dir_all(&d).unwrap();
    let f = d.join("latin1.npl");
    std::fs::write(&f, b"namespace a {\n  # caf\xe9\n}\n").unwrap();
    let (code, diags) = check_json(&[&f]);
    assert_eq!(code, Some(2));
    assert_eq!(codes(&diags), ["E0002"]);
    let m = diags[0]["message"].as_str().unwrap();
    assert!(
        m.contains("not UTF-8") && m.contains("byte 21 (line 2, column 8) is 0xe9"),
        "{m}"
    );
    let _ = std::fs::remove_dir_all(&d);
}

/// A UTF-8 byte order mark that starts a file is skipped; offsets stay the
/// file's and columns count from after it. Elsewhere it is named.
#[test]
fn a_byte_order_mark_starts_a_file() {
    let d = tmp("bom");
    std::fs::create_dir_all(&d).unwrap();
    let f = d.join("bom.npl");
    std::fs::write(&f, "\u{feff}namespace a { allow nosuch -> *:80 }\n").unwrap();
    let (code, diags) = check_json(&[&f]);
    assert_eq!(code, Some(1));
    let e = diags.iter().find(|d| d["code"] == "E0101").unwrap();
    assert_eq!(
        e["primary"]["start"], 23,
        "byte offsets in the file, mark included"
    );
    assert_eq!(e["primary"]["column"], 21, "columns after the mark");
    let human = nplc().arg("check").arg(&f).output().unwrap();
    assert!(
        String::from_utf8_lossy(&human.stderr).contains("bom.npl:1:21"),
        "{}",
        String::from_utf8_lossy(&human.stderr)
    );
    std::fs::write(&f, "namespace a { }\n\u{feff}\n").unwrap();
    let (code, diags) = check_json(&[&f]);
    assert_eq!(code, Some(1));
    let m = diags[0]["message"].as_str().unwrap();
    assert!(m.contains("found a byte order mark (U+FEFF)"), "{m}");
    let _ = std::fs::remove_dir_all(&d);
}

/// A NUL byte is named in the syntax error, not printed.
#[test]
fn a_nul_byte_is_named() {
    let d = tmp("nul");
    std::fs::create_dir_all(&d).unwrap();
    let f = d.join("nul.npl");
    std::fs::write(&f, "namespace a {\n  allow x=y -> *:80\0\n}\n").unwrap();
    let (code, diags) = check_json(&[&f]);
    assert_eq!(code, Some(1));
    assert_eq!(codes(&diags), ["E0001"]);
    let m = diags[0]["message"].as_str().unwrap();
    assert!(m.ends_with("found a NUL byte"), "{m}");
    assert!(!m.contains('\0'));
    assert_eq!(diags[0]["primary"]["line"], 2);
    let _ = std::fs::remove_dir_all(&d);
}

/// A name of ten megabytes is cut in the message and help (to
/// `diag::QUOTE_LIMIT` characters and `…`), and its line is not shown.
#[test]
fn a_ten_megabyte_name_is_not_quoted_whole() {
    let d = tmp("long-name");
    std::fs::create_dir_all(&d).unwrap();
    let f = d.join("long.npl");
    let name = "x".repeat(10_000_000);
    std::fs::write(&f, format!("namespace a {{\n  allow {name} -> *:80\n}}\n")).unwrap();
    for format in ["human", "json"] {
        let o = nplc()
            .arg("check")
            .arg(&f)
            .args(["--error-format", format])
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(1));
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.len() < 4_000, "{format}: {} bytes", err.len());
        let cut = format!("`{}…`", "x".repeat(nplc::diag::QUOTE_LIMIT - 1));
        assert!(err.contains(&cut), "{format}: {err}");
        assert!(err.contains("E0101"), "{err}");
    }
    let o = nplc().arg("check").arg(&f).output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("long.npl:2:9 (line of 10000016 bytes, not shown)"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&d);
}
