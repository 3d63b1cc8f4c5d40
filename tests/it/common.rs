//! Helpers shared by the integration tests: reading fixtures with stable
//! (relative) names and rendering a compilation for a snapshot.

use nplc::diag;
use nplc::driver::{self, Compilation, Input};
use std::path::{Path, PathBuf};

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The `.npl` inputs of a fixture (a file, or a directory of files), named
/// relative to the repository root so snapshots hold no absolute paths.
pub fn inputs(path: &Path) -> Vec<Input> {
    let abs = root().join(path);
    let mut files = Vec::new();
    if abs.is_dir() {
        for e in std::fs::read_dir(&abs).unwrap() {
            let p = e.unwrap().path();
            if p.extension().map(|x| x == "npl").unwrap_or(false) {
                files.push(p);
            }
        }
    } else {
        files.push(abs.clone());
    }
    files.sort();
    files
        .into_iter()
        .map(|f| Input {
            name: f
                .strip_prefix(root())
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/"),
            text: std::fs::read_to_string(&f).unwrap(),
        })
        .collect()
}

/// Diagnostics (rendered as a terminal shows them) and the YAML stream.
pub fn render(c: &Compilation) -> String {
    let mut s = String::new();
    if !c.diagnostics.is_empty() {
        s.push_str("--- diagnostics ---\n");
        s.push_str(&diag::render_human(&c.sources, &c.diagnostics));
    }
    if !c.has_errors() {
        s.push_str("--- yaml ---\n");
        match c.target {
            nplc::emit::Target::K8s => s.push_str(&nplc::emit::k8s::stream(&c.manifests)),
            nplc::emit::Target::Cilium => s.push_str(&nplc::emit::cilium::stream(&c.cilium)),
        }
    }
    s
}

/// The target a fixture or example declares: `target` in the `nplc.toml`
/// of its directory (docs/project.md), else `None` (the default, k8s).
pub fn declared_target(path: &Path) -> Option<nplc::emit::Target> {
    let file = root().join(path).join("nplc.toml");
    if !file.is_file() {
        return None;
    }
    nplc::project::load(&file).unwrap().target
}

/// Builds a fixture for the target it declares ([`declared_target`]).
pub fn compile(path: &Path) -> Compilation {
    match declared_target(path) {
        Some(t) => driver::compile_for(&inputs(path), t),
        None => driver::compile_inputs(&inputs(path)),
    }
}

/// The YAML stream without the annotations that name source lines (the
/// only part of the output that depends on where statements are written).
pub fn without_locations(yaml: &str) -> String {
    let mut out = Vec::new();
    let mut skipping = false;
    for line in yaml.lines() {
        let t = line.trim_start();
        let indent = line.len() - t.len();
        if t.starts_with("nplc.io/source:")
            || t.starts_with("nplc.io/rules:")
            || t.starts_with("nplc.io/silenced:")
        {
            skipping = true;
            continue;
        }
        if skipping && indent > 4 {
            continue;
        }
        skipping = false;
        out.push(line);
    }
    out.join("\n")
}

/// Asserts `contents` against the snapshot `<dir>/<name>.snap` (`dir`
/// relative to `tests/it/`): one layout for cases, examples and firewall
/// fixtures, named after the fixture alone (no `glob!` suffix).
pub fn snapshot(dir: &str, name: &str, contents: &str) {
    let mut settings = insta::Settings::clone_current();
    settings.remove_snapshot_suffix();
    settings.set_snapshot_path(dir);
    settings.set_prepend_module_to_snapshot(false);
    settings.set_omit_expression(true);
    settings.bind(|| insta::assert_snapshot!(name.to_string(), contents));
}
