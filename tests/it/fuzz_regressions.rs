//! Inputs that once crashed a fuzz target (tests/fuzz-regressions/, see
//! docs/testing.md, "Fuzzing"), each run through its target's entry point:
//! a result or a diagnostic, never a panic.

use nplc::driver::{check_inputs, compile_inputs, Input};
use std::path::PathBuf;

/// The files of `tests/fuzz-regressions/TARGET/`, sorted.
fn inputs(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = super::common::root()
        .join("tests/fuzz-regressions")
        .join(target);
    let mut files: Vec<PathBuf> = match std::fs::read_dir(&dir) {
        Ok(rd) => rd.map(|e| e.unwrap().path()).collect(),
        Err(_) => return Vec::new(),
    };
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap();
            (p, bytes)
        })
        .collect()
}

/// `compile/` files: several program files separated by `# ---- NAME` lines.
fn split_files(text: &str) -> Vec<Input> {
    let mut out: Vec<Input> = Vec::new();
    for line in text.split_inclusive('\n') {
        if let Some(name) = line.strip_prefix("# ---- ") {
            out.push(Input {
                name: name.trim().to_string(),
                text: String::new(),
            });
        } else if let Some(last) = out.last_mut() {
            last.text.push_str(line);
        } else {
            out.push(Input {
                name: "f0.npl".into(),
                text: line.to_string(),
            });
        }
    }
    out
}

#[test]
fn parse() {
    for (path, bytes) in inputs("parse") {
        eprintln!("{}", path.display());
        let text = String::from_utf8_lossy(&bytes);
        let _ = nplc::syntax::parse_file(nplc::source::FileId(0), &text);
        let _ = nplc::syntax::parse_side(nplc::source::FileId(0), &text);
    }
}

#[test]
fn check() {
    for (path, bytes) in inputs("check") {
        eprintln!("{}", path.display());
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let inputs: Vec<Input> = text
            .split('\0')
            .take(4)
            .enumerate()
            .map(|(i, t)| Input {
                name: format!("f{i}.npl"),
                text: t.to_string(),
            })
            .collect();
        let c = check_inputs(&inputs);
        let _ = nplc::diag::render_human(&c.sources, &c.diagnostics);
        let _ = nplc::diag::render_json(&c.sources, &c.diagnostics);
    }
}

#[test]
fn compile() {
    for (path, bytes) in inputs("compile") {
        eprintln!("{}", path.display());
        let c = compile_inputs(&split_files(&String::from_utf8_lossy(&bytes)));
        let _ = nplc::diag::render_human(&c.sources, &c.diagnostics);
        if !c.has_errors() {
            assert!(c.program.is_some() && c.policies.is_some());
            for m in &c.manifests {
                let _ = m.to_yaml();
            }
            if let Some(fw) = &c.firewall {
                let _ = nplc::firewall::emit::files(fw);
            }
        }
    }
}

#[test]
fn population() {
    for (path, bytes) in inputs("population") {
        eprintln!("{}", path.display());
        let _ = nplc::population::load_population(&String::from_utf8_lossy(&bytes));
    }
}
