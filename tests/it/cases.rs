//! One fixture per case under `tests/cases/`: the `.npl` input (a file or a
//! directory of files) and an insta snapshot of the rendered diagnostics and
//! YAML. A fixture named after a code (`E0302-...`, `W0604-...`) must report
//! that code; an `ok-...` fixture must compile without errors.

use crate::common;
use std::path::PathBuf;

fn fixtures() -> Vec<PathBuf> {
    let dir = common::root().join("tests/cases");
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir() || p.extension().map(|x| x == "npl").unwrap_or(false))
        .filter(|p| p.file_name().map(|n| n != "snapshots").unwrap_or(true))
        .collect();
    v.sort();
    v
}

#[test]
fn every_case_matches_its_snapshot() {
    let mut failures = Vec::new();
    for f in fixtures() {
        let stem = f.file_stem().unwrap().to_string_lossy().to_string();
        let rel = f.strip_prefix(common::root()).unwrap().to_path_buf();
        let c = common::compile(&rel);
        if let Some(code) = stem
            .split('-')
            .next()
            .filter(|c| c.starts_with('E') || c.starts_with('W'))
        {
            if !c.diagnostics.iter().any(|d| d.code == code) {
                failures.push(format!(
                    "{stem}: expected a {code} diagnostic, got {:?}",
                    c.diagnostics.iter().map(|d| d.code).collect::<Vec<_>>()
                ));
            }
            if code.starts_with('E') && !c.has_errors() {
                failures.push(format!("{stem}: expected an error"));
            }
        } else if c.has_errors() {
            failures.push(format!(
                "{stem}: unexpected errors:\n{}",
                common::render(&c)
            ));
        }
        insta::with_settings!({snapshot_path => "../cases/snapshots", prepend_module_to_snapshot => false, omit_expression => true}, {
            insta::assert_snapshot!(stem.clone(), common::render(&c));
        });
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn json_diagnostics_carry_code_span_and_help() {
    let c = common::compile(std::path::Path::new(
        "tests/cases/E0302-host-bits-seed-004.npl",
    ));
    let json: serde_json::Value =
        serde_json::from_str(&nplc::diag::render_json(&c.sources, &c.diagnostics)).unwrap();
    let first = &json[0];
    assert_eq!(first["code"], "E0302");
    assert_eq!(first["severity"], "error");
    assert_eq!(
        first["primary"]["file"],
        "tests/cases/E0302-host-bits-seed-004.npl"
    );
    assert_eq!(first["primary"]["line"], 4);
    assert!(first["help"].as_str().unwrap().contains("172.17.0.0/24"));
}
