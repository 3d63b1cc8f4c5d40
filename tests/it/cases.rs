//! One fixture per case under `tests/cases/`: the `.npl` input (a file or a
//! directory of files) and an insta snapshot of the rendered diagnostics and
//! YAML. A fixture named after a code (`E0302-...`, `W0604-...`) must report
//! that code; an `ok-...` fixture must compile without errors.

use crate::common;
use std::path::Path;

/// Whether `path` (an entry of `tests/cases/`) is a fixture: a `.npl`
/// file or a directory of them, not the snapshots.
fn is_fixture(path: &Path) -> bool {
    let name = path.file_name().map(|n| n.to_string_lossy().to_string());
    let in_cases = path
        .parent()
        .and_then(|p| p.file_name())
        .is_some_and(|p| p == "cases");
    in_cases
        && (path.is_dir() || path.extension().is_some_and(|x| x == "npl"))
        && name.is_some_and(|n| n != "snapshots")
}

/// One test per fixture (insta's `glob!`: every fixture runs, each failing
/// one is named), each with its snapshot `tests/cases/snapshots/<stem>.snap`.
#[test]
fn every_case_matches_its_snapshot() {
    let mut failures = Vec::new();
    let mut count = 0;
    insta::glob!("../cases", "*", |f| {
        if !is_fixture(f) {
            return;
        }
        count += 1;
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
        common::snapshot("../cases/snapshots", &stem, &common::render(&c));
    });
    assert!(count > 50, "the fixtures are found ({count})");
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
