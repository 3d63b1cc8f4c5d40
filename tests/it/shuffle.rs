//! Canonical output: the same program gives byte-identical YAML (up to the
//! annotations that name source lines) whatever the order of files and
//! statements and whatever the whitespace.

use crate::common;
use nplc::driver::{compile_for, Input};

/// A tiny deterministic generator (splitmix64) for shuffles.
fn rng(mut seed: u64) -> impl FnMut() -> u64 {
    move || {
        seed = seed.wrapping_add(0x9e3779b97f4a7c15);
        let mut z = seed;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58476d1ce4e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d049bb133111eb);
        z ^ (z >> 31)
    }
}

/// Shuffles the one-line statements inside each `namespace { }` block and
/// re-indents them, keeping `use` lines and the block structure.
fn shuffle_text(text: &str, next: &mut impl FnMut() -> u64) -> String {
    let mut out = Vec::new();
    let mut block: Vec<String> = Vec::new();
    let mut inside = false;
    for line in text.lines() {
        let t = line.trim();
        if t.starts_with("namespace ") && t.ends_with('{') {
            inside = true;
            out.push(format!("{t}\n"));
            continue;
        }
        if inside && t == "}" {
            for i in (1..block.len()).rev() {
                let j = (next() % (i as u64 + 1)) as usize;
                block.swap(i, j);
            }
            for (i, s) in block.drain(..).enumerate() {
                let pad = " ".repeat((i % 3) * 2 + 1);
                out.push(format!("{pad}{s}   \n\n"));
            }
            out.push("}\n".into());
            inside = false;
            continue;
        }
        if inside {
            if !t.is_empty() && !t.starts_with('#') {
                block.push(t.to_string());
            }
        } else {
            out.push(format!("{line}\n"));
        }
    }
    out.concat()
}

#[test]
fn output_does_not_depend_on_order_or_whitespace() {
    let mut fixtures = crate::examples::examples();
    fixtures.push(common::root().join("tests/cases/ok-multi-file"));
    fixtures.push(common::root().join("tests/cases/ok-isolate.npl"));
    fixtures.push(common::root().join("tests/cases/ok-deny-label-complement.npl"));
    fixtures.push(common::root().join("tests/cases/ok-dns-names-cilium"));
    for f in fixtures {
        let rel = f.strip_prefix(common::root()).unwrap();
        let inputs = common::inputs(rel);
        // for the target the fixture declares (`nplc.toml`), else k8s
        let target = common::declared_target(rel).unwrap_or_default();
        let build = |inputs: &[Input]| compile_for(inputs, target);
        let stream = |c: &nplc::driver::Compilation| match target {
            nplc::emit::Target::K8s => nplc::emit::k8s::stream(&c.manifests),
            nplc::emit::Target::Cilium => nplc::emit::cilium::stream(&c.cilium),
        };
        let base = build(&inputs);
        assert!(!base.has_errors(), "{}", common::render(&base));
        let want = common::without_locations(&stream(&base));
        for seed in 0..8u64 {
            let mut next = rng(seed);
            let mut shuffled: Vec<Input> = inputs
                .iter()
                .enumerate()
                .map(|(i, inp)| Input {
                    name: format!("z{}-{i}.npl", next() % 100),
                    text: shuffle_text(&inp.text, &mut next),
                })
                .collect();
            shuffled.reverse();
            let got = build(&shuffled);
            assert!(!got.has_errors(), "{}", common::render(&got));
            let got = common::without_locations(&stream(&got));
            assert_eq!(got, want, "{} differs with seed {seed}", rel.display());
        }
    }
}
