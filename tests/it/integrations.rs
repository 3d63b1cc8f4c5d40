//! The integrations of integrations/ and .pre-commit-hooks.yaml (issue 14):
//! the Argo CD plugin's generate command run on the examples prints only
//! Kubernetes objects on standard output; every `nplc` command line in the
//! GitHub Action and the pre-commit hooks uses flags that exist. (The hooks
//! run through the real pre-commit in scripts/pre-commit-check, .ci/run.)

use crate::common;
use serde::Deserialize;
use std::collections::BTreeSet;
use std::process::Command;

fn yaml(path: &str) -> serde_yaml::Value {
    serde_yaml::from_str(&std::fs::read_to_string(common::root().join(path)).unwrap()).unwrap()
}

#[test]
fn the_argocd_plugin_prints_only_manifests() {
    let plugin = yaml("integrations/argocd/plugin.yaml");
    assert_eq!(
        plugin["spec"]["discover"]["find"]["glob"].as_str(),
        Some("**/*.npl")
    );
    let cmd: Vec<String> = plugin["spec"]["generate"]["command"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    assert_eq!(cmd[0], "nplc");
    for ex in [
        "examples/payments",
        "examples/cluster",
        "examples/001-target",
    ] {
        let o = Command::new(env!("CARGO_BIN_EXE_nplc"))
            .args(&cmd[1..])
            .current_dir(common::root().join(ex))
            .output()
            .unwrap();
        assert_eq!(
            o.status.code(),
            Some(0),
            "{ex}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let out = String::from_utf8(o.stdout).unwrap();
        let mut n = 0;
        for doc in serde_yaml::Deserializer::from_str(&out) {
            let v = serde_yaml::Value::deserialize(doc).unwrap();
            assert_eq!(v["kind"].as_str(), Some("NetworkPolicy"), "{ex}: {v:?}");
            assert_eq!(v["apiVersion"].as_str(), Some("networking.k8s.io/v1"));
            n += 1;
        }
        assert!(n > 0, "{ex}: no manifests");
    }
}

/// The long flags `nplc SUBCOMMAND --help` lists.
fn flags(sub: &str) -> BTreeSet<String> {
    let o = Command::new(env!("CARGO_BIN_EXE_nplc"))
        .args([sub, "--help"])
        .output()
        .unwrap();
    assert!(o.status.success(), "nplc {sub} --help");
    String::from_utf8(o.stdout)
        .unwrap()
        .split_whitespace()
        .filter(|w| w.starts_with("--"))
        .map(|w| {
            w.trim_end_matches([',', '.'])
                .split('=')
                .next()
                .unwrap()
                .to_string()
        })
        .collect()
}

/// Checks one `nplc ...` command line: a known subcommand, known flags.
fn check_command(line: &str, context: &str) -> usize {
    let words: Vec<&str> = line.split_whitespace().collect();
    let mut checked = 0;
    for (i, w) in words.iter().enumerate() {
        if *w != "nplc" {
            continue;
        }
        let sub = words[i + 1];
        let known = flags(sub);
        for f in words[i + 2..]
            .iter()
            .take_while(|w| !["|", "||", "&&", "2>", "2>&1"].contains(w))
            .filter(|w| w.starts_with("--"))
        {
            assert!(known.contains(*f), "{context}: `nplc {sub}` has no `{f}`");
        }
        checked += 1;
    }
    checked
}

#[test]
fn the_action_and_the_hooks_use_flags_that_exist() {
    let action = yaml("integrations/github-action/action.yml");
    let mut n = 0;
    for step in action["runs"]["steps"].as_sequence().unwrap() {
        if let Some(run) = step["run"].as_str() {
            for line in run.lines() {
                n += check_command(line, "action.yml");
            }
        }
    }
    assert!(n >= 4, "only {n} nplc commands in action.yml");
    let hooks = yaml(".pre-commit-hooks.yaml");
    let ids: Vec<&str> = hooks
        .as_sequence()
        .unwrap()
        .iter()
        .map(|h| {
            let mut line = h["entry"].as_str().unwrap().to_string();
            for a in h["args"].as_sequence().into_iter().flatten() {
                line.push(' ');
                line.push_str(a.as_str().unwrap());
            }
            assert_eq!(check_command(&line, ".pre-commit-hooks.yaml"), 1);
            h["id"].as_str().unwrap()
        })
        .collect();
    assert_eq!(ids, ["nplc-fmt", "nplc-check", "nplc-build-check"]);
}
