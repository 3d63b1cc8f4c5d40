//! `--error-format github|sarif` and `--deny-warnings` (issue 14): what CI
//! reads. The SARIF log is validated against the SARIF 2.1.0 schema by
//! `scripts/sarif-check` (.ci/run); here: its content (rule ids are codes,
//! help links into docs/diagnostics.md, repository-relative paths,
//! fingerprints that survive moved lines) and the exit codes.

use crate::common;
use std::path::Path;
use std::process::{Command, Output};

fn nplc(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_nplc"))
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap()
}

fn sarif(args: &[&str], dir: &Path) -> serde_json::Value {
    let o = nplc(args, dir);
    serde_json::from_slice(&o.stderr).unwrap()
}

const WARNED: &str = "tests/cases/W0602-deny-no-effect.npl";

#[test]
fn sarif_names_codes_docs_and_repository_paths() {
    let root = common::root();
    let log = sarif(&["check", WARNED, "--error-format", "sarif"], &root);
    assert_eq!(log["version"], "2.1.0");
    let run = &log["runs"][0];
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    let results = run["results"].as_array().unwrap();
    assert!(!results.is_empty());
    let docs = std::fs::read_to_string(root.join("docs/diagnostics.md")).unwrap();
    for r in results {
        let code = r["ruleId"].as_str().unwrap();
        let rule = &rules[r["ruleIndex"].as_u64().unwrap() as usize];
        assert_eq!(rule["id"], code);
        let help = rule["helpUri"].as_str().unwrap();
        assert!(
            help.ends_with(&format!("docs/diagnostics.md#{}", code.to_lowercase())),
            "{help}"
        );
        assert!(
            docs.contains(&format!("| {code} |")),
            "{code} is not in docs/diagnostics.md"
        );
        let loc = &r["locations"][0]["physicalLocation"];
        assert_eq!(loc["artifactLocation"]["uri"], WARNED);
        assert_eq!(loc["artifactLocation"]["uriBaseId"], "%SRCROOT%");
        assert!(r["partialFingerprints"]["nplcResultHash/v1"].is_string());
    }
    // the same file named from another directory: the same repository path
    let from_tests = sarif(
        &[
            "check",
            "cases/W0602-deny-no-effect.npl",
            "--error-format",
            "sarif",
        ],
        &root.join("tests"),
    );
    assert_eq!(
        from_tests["runs"][0]["results"][0]["locations"],
        results[0]["locations"]
    );
}

#[test]
fn fingerprints_survive_moved_lines() {
    let dir = std::env::temp_dir().join(format!("nplc-it-report-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let text = std::fs::read_to_string(common::root().join(WARNED)).unwrap();
    let prints = |text: &str| {
        std::fs::write(dir.join("p.npl"), text).unwrap();
        let log = sarif(&["check", "p.npl", "--error-format", "sarif"], &dir);
        log["runs"][0]["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["partialFingerprints"]["nplcResultHash/v1"].to_string(),
                    r["locations"][0]["physicalLocation"]["region"]["startLine"]
                        .as_u64()
                        .unwrap(),
                )
            })
            .collect::<Vec<_>>()
    };
    let before = prints(&text);
    let after = prints(&format!("# a new first line\n\n{text}"));
    assert_eq!(before.len(), after.len());
    for (b, a) in before.iter().zip(&after) {
        assert_eq!(a.0, b.0, "fingerprint changed with the line");
        assert_eq!(a.1, b.1 + 2);
    }
}

#[test]
fn github_annotations_and_deny_warnings() {
    let root = common::root();
    let o = nplc(&["check", WARNED, "--error-format", "github"], &root);
    assert_eq!(o.status.code(), Some(0), "warnings alone pass");
    let err = String::from_utf8(o.stderr).unwrap();
    let first = err.lines().next().unwrap();
    assert!(
        first.starts_with(&format!("::warning file={WARNED},line=")),
        "{first}"
    );
    assert!(first.contains(",title=nplc W0"), "{first}");
    assert!(!err.contains('\r') && err.lines().all(|l| l.starts_with("::")));
    let o = nplc(&["check", WARNED, "--deny-warnings"], &root);
    assert_eq!(o.status.code(), Some(1));
    // a build with warnings denied writes nothing
    let out = std::env::temp_dir().join(format!("nplc-it-report-out-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let o = nplc(
        &[
            "build",
            WARNED,
            "--deny-warnings",
            "-o",
            out.to_str().unwrap(),
        ],
        &root,
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(!out.exists());
    let o = nplc(&["build", WARNED, "-o", out.to_str().unwrap()], &root);
    assert_eq!(o.status.code(), Some(0));
}
