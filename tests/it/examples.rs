//! Every example under `examples/` compiles without errors or warnings and
//! matches its snapshot (the YAML stream).

use crate::common;
use std::path::PathBuf;

pub fn examples() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(common::root().join("examples"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .filter(|p| {
            std::fs::read_dir(p).unwrap().any(|e| {
                e.unwrap()
                    .path()
                    .extension()
                    .map(|x| x == "npl")
                    .unwrap_or(false)
            })
        })
        .collect();
    v.sort();
    v
}

/// One test per example (insta's `glob!`), each with its snapshot
/// `tests/snapshots/examples/<name>.snap`.
#[test]
fn every_example_compiles_and_matches_its_snapshot() {
    let all = examples();
    assert!(all.len() >= 11, "the seed scenarios are all here");
    let mut failures = Vec::new();
    let mut seen = 0;
    insta::glob!("../../examples", "*", |ex| {
        if !all.iter().any(|e| e.file_name() == ex.file_name()) || ex.ends_with("examples") {
            return;
        }
        seen += 1;
        let name = ex.file_name().unwrap().to_string_lossy().to_string();
        let rel = ex.strip_prefix(common::root()).unwrap().to_path_buf();
        // the k8s target, whatever the example declares: one that declares
        // the cilium target (`nplc.toml`, DNS names) is refused by it with
        // E0504 alone, and builds for cilium (`cilium::every_example_...`)
        let c = nplc::driver::compile_inputs(&common::inputs(&rel));
        let cilium_only = common::declared_target(&rel) == Some(nplc::emit::Target::Cilium);
        if cilium_only {
            if !c.has_errors() || c.diagnostics.iter().any(|d| d.code != "E0504") {
                failures.push(format!(
                    "{name} declares the cilium target: the k8s target must refuse it with E0504 alone:\n{}",
                    common::render(&c)
                ));
            }
        } else if !c.diagnostics.is_empty() {
            // no error, and no warning either: each is fixed, or silenced where
            // the example reproduces a seed's policy (with a comment saying so)
            failures.push(format!(
                "{name} builds with diagnostics:\n{}",
                common::render(&c)
            ));
        }
        common::snapshot("../snapshots/examples", &name, &common::render(&c));
    });
    assert_eq!(seen, all.len(), "every example is checked");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn design_card_lines_mean_what_they_say() {
    let c = common::compile(std::path::Path::new("examples/payments"));
    let yaml = nplc::emit::k8s::stream(&c.manifests);
    // `allow app=api -> db:5432`: an egress rule on api and an ingress rule on db
    let api = c
        .manifests
        .iter()
        .find(|m| m.name == "payments-api")
        .unwrap()
        .to_yaml();
    let db = c
        .manifests
        .iter()
        .find(|m| m.name == "payments-db")
        .unwrap()
        .to_yaml();
    assert!(
        api.contains("port: 5432") && api.contains("tier: data"),
        "{api}"
    );
    assert!(db.contains("port: 5432") && db.contains("app: api"), "{db}");
    // `deny egress 169.254.169.254`: no allow reopens it
    assert!(yaml.contains("- 169.254.169.254/32"), "{yaml}");
}
