//! The project file `nplc.toml` (docs/project.md): `build`, `check`,
//! `matrix` and `explain` without PATH find it upwards from the working
//! directory; explicit arguments win; a malformed file is a diagnostic
//! with its line and exit 2.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn dir(tag: &str, files: &[(&str, &str)]) -> PathBuf {
    let d = std::env::temp_dir().join(format!("nplc-project-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    for (name, text) in files {
        let p = d.join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    d
}

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

/// Egress isolated without DNS: warning W0706.
const APP: &str = "namespace app {\n  default deny\n  allow app=web -> app=api:8080\n}\n";
const POP: &str = "apiVersion: v1\nkind: Pod\nmetadata: {name: web-0, namespace: app, labels: {app: web}}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: api-0, namespace: app, labels: {app: api}}\n";

#[test]
fn commands_without_path_use_the_project() {
    let d = dir(
        "use",
        &[
            ("nplc.toml", "# the repository's policies\nsources = [\"policies\"]\noutput = \"deploy/netpol\"\npopulation = \"cluster/pop.yaml\"\n"),
            ("policies/app.npl", APP),
            ("cluster/pop.yaml", POP),
            ("docs/notes.npl", "this is not a policy, and not a source {"),
        ],
    );
    // from a directory below the project file
    let sub = d.join("policies");
    let o = nplc(&sub, &["check"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stderr(&o).contains("warning[W0706]"), "{}", stderr(&o));
    // the file is named as from the working directory's view
    let o = nplc(&d, &["check"]);
    assert!(stderr(&o).contains("policies/app.npl:2"), "{}", stderr(&o));
    // build writes to `output`
    let o = nplc(&sub, &["build"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        d.join("deploy/netpol/app/app-app-api.yaml").is_file(),
        "{}",
        stderr(&o)
    );
    // matrix and explain read `population`
    let o = nplc(&d, &["matrix"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let table = String::from_utf8_lossy(&o.stdout);
    assert!(
        table.contains("app/web-0") && table.contains("app/api-0"),
        "{table}"
    );
    let o = nplc(
        &d,
        &["explain", "--from", "app/web-0", "--to", "app/api-0:8080"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("allowed"),
        "{o:?}"
    );
    // explicit arguments win: another output, another file
    let o = nplc(&d, &["build", "--stdout"]);
    assert!(String::from_utf8_lossy(&o.stdout).contains("name: app-app-api"));
    let o = nplc(&d, &["check", "docs/notes.npl"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn denied_warnings_fail() {
    let d = dir(
        "deny",
        &[
            ("nplc.toml", "deny = [\"W0706\"]\noutput = \"out\"\n"),
            ("app.npl", APP),
        ],
    );
    let o = nplc(&d, &["check"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("error[W0706]"), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("`W0706` is denied by `nplc.toml`"),
        "{}",
        stderr(&o)
    );
    let o = nplc(&d, &["build"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(!d.join("out").exists());
    // with PATH, the project file does not apply
    let o = nplc(&d, &["check", "app.npl"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let d2 = dir(
        "deny-all",
        &[("nplc.toml", "deny = [\"warnings\"]\n"), ("app.npl", APP)],
    );
    assert_eq!(nplc(&d2, &["check"]).status.code(), Some(1));
    let _ = std::fs::remove_dir_all(&d);
    let _ = std::fs::remove_dir_all(&d2);
}

#[test]
fn malformed_project_files() {
    for (text, line, what) in [
        ("output = \"out\"\nsources = [1]\n", 2, "invalid type"),
        (
            "output = \"out\"\n\noutptu = \"x\"\n",
            3,
            "unknown field `outptu`",
        ),
        (
            "deny = [\"W0706\",\n  \"E0101\"]\n",
            2,
            "`E0101` is not a warning code",
        ),
        ("sources = [\"a\"\n", 1, "nplc.toml"),
    ] {
        let d = dir("bad", &[("nplc.toml", text), ("app.npl", APP)]);
        for cmd in [
            &["check"][..],
            &["build"],
            &["matrix"],
            &["explain", "--from", "a/b", "--to", "a/c:80"],
        ] {
            let o = nplc(&d, cmd);
            let e = stderr(&o);
            assert_eq!(o.status.code(), Some(2), "{cmd:?} {text:?}: {e}");
            assert!(e.contains("error[E0004]"), "{e}");
            assert!(e.contains(what), "{e}");
            assert!(e.contains(&format!("nplc.toml:{line}:")), "{text:?}: {e}");
        }
        // JSON diagnostics carry the line too
        let o = nplc(&d, &["check", "--error-format", "json"]);
        let v: serde_json::Value = serde_json::from_slice(&o.stderr).unwrap();
        assert_eq!(v[0]["code"], "E0004");
        assert_eq!(v[0]["primary"]["line"], line);
        let _ = std::fs::remove_dir_all(&d);
    }
}

#[test]
fn no_project_file_and_no_path() {
    let d = dir("none", &[("app.npl", APP)]);
    if crate::project_above(&d) {
        return;
    }
    let o = nplc(&d, &["check"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("no PATH given and no `nplc.toml`"),
        "{}",
        stderr(&o)
    );
    let _ = std::fs::remove_dir_all(&d);
}
