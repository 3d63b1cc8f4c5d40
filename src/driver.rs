//! The pipeline, end to end, as a library call: source map → syntax →
//! resolve → check → compile → emit. Input: file names and texts. Output: a
//! [`Compilation`] with every diagnostic and, when there is no error, the IR,
//! the compiled policies and the manifests. The command line only calls
//! this and writes what it returns.

use crate::check;
use crate::compile::{self, PolicySet};
use crate::diag::{self, Diagnostic};
use crate::emit::k8s::{self, Manifest};
use crate::ir::Program;
use crate::resolve;
use crate::source::SourceMap;
use crate::syntax;
use std::path::{Path, PathBuf};

/// One input file.
#[derive(Debug, Clone)]
pub struct Input {
    pub name: String,
    pub text: String,
}

#[derive(Debug, Default)]
pub struct Compilation {
    pub sources: SourceMap,
    /// Sorted by position; errors mean nothing else is filled in.
    pub diagnostics: Vec<Diagnostic>,
    pub program: Option<Program>,
    pub policies: Option<PolicySet>,
    pub manifests: Vec<Manifest>,
    /// The node firewall, when the build has `nodes` blocks (docs/firewall.md).
    pub firewall: Option<crate::firewall::FirewallSpec>,
}

impl Compilation {
    pub fn has_errors(&self) -> bool {
        diag::has_errors(&self.diagnostics)
    }
}

/// Runs every stage up to the IR; `None` in `program` when a stage failed.
pub fn front_end(inputs: &[Input]) -> Compilation {
    let mut t = Timer::new();
    let mut out = Compilation::default();
    let mut inputs: Vec<&Input> = inputs.iter().collect();
    inputs.sort_by(|a, b| a.name.cmp(&b.name));
    let ids: Vec<(crate::source::FileId, &Input)> = inputs
        .iter()
        .map(|i| (out.sources.add(i.name.clone(), i.text.clone()), *i))
        .collect();
    // files parse independently: in parallel, results in file order
    let mut files = Vec::new();
    for parsed in crate::par::map(&ids, |(id, i)| syntax::parse_file(*id, &i.text)) {
        match parsed {
            Ok(f) => files.push(f),
            Err(d) => out.diagnostics.push(d),
        }
    }
    t.lap("parse");
    if !out.diagnostics.is_empty() {
        diag::sort_diagnostics(&mut out.diagnostics);
        return out;
    }
    let resolved = match resolve::resolve(&files, &mut out.sources) {
        Ok((r, warnings)) => {
            out.diagnostics.extend(warnings);
            r
        }
        Err(ds) => {
            out.diagnostics.extend(ds);
            diag::sort_diagnostics(&mut out.diagnostics);
            return out;
        }
    };
    t.lap("resolve");
    // the node firewall (`nodes` blocks), beside the policies
    match crate::firewall::check::check(&files, &out.sources) {
        Ok((fw, warnings)) => {
            out.diagnostics.extend(warnings);
            out.firewall = fw;
        }
        Err(ds) => out.diagnostics.extend(ds),
    }
    t.lap("firewall");
    // each stage's input is freed once the next has its own copy, so that
    // later stages reuse the memory instead of touching new pages
    drop(files);
    match check::check(&resolved) {
        Ok((p, warnings)) => {
            out.diagnostics.extend(warnings);
            out.program = Some(p);
        }
        Err(ds) => out.diagnostics.extend(ds),
    }
    drop(resolved);
    t.lap("check");
    diag::sort_diagnostics(&mut out.diagnostics);
    out
}

/// Drops warnings and notes silenced with `@silence(CODE)` on the statement
/// (or namespace) they point into. Errors cannot be silenced.
/// Drops warnings and notes silenced with `@silence(CODE)` on the statement
/// (or namespace) they point into. Errors cannot be silenced.
pub fn apply_silences(prog: &Program, diags: &mut Vec<Diagnostic>) {
    let silenced: Vec<&crate::ir::Statement> = prog
        .statements
        .iter()
        .filter(|s| !s.silence.is_empty())
        .collect();
    let ns_silenced: Vec<&crate::ir::Namespace> = prog
        .namespaces
        .values()
        .filter(|n| !n.silence.is_empty())
        .collect();
    if silenced.is_empty() && ns_silenced.is_empty() {
        return;
    }
    diags.retain(|d| {
        if d.is_error() {
            return true;
        }
        let Some(at) = d.primary else { return true };
        let inside = |outer: crate::source::Span| {
            outer.file == at.file && outer.start <= at.start && at.end <= outer.end
        };
        let by_stmt = silenced
            .iter()
            .any(|s| inside(s.span) && s.silence.iter().any(|x| x.code == d.code));
        let by_ns = ns_silenced.iter().any(|n| {
            n.silence.iter().any(|x| x.code == d.code)
                && (inside(n.span)
                    || n.posture_span.map(inside).unwrap_or(false)
                    || d.primary == Some(n.span))
        });
        !(by_stmt || by_ns)
    });
}

/// Runs the whole pipeline: every stage, then emission.
pub fn compile_inputs(inputs: &[Input]) -> Compilation {
    run(inputs, true)
}

/// Runs every stage that can report a diagnostic, without emitting
/// manifests (`nplc check`).
pub fn check_inputs(inputs: &[Input]) -> Compilation {
    run(inputs, false)
}

/// Prints how long each stage took when `NPLC_TIMINGS` is set (also used
/// by `nplc build` for serialization and writing).
pub struct Timer {
    on: bool,
    last: std::time::Instant,
}

impl Default for Timer {
    fn default() -> Timer {
        Timer::new()
    }
}

impl Timer {
    pub fn new() -> Timer {
        Timer {
            on: std::env::var_os("NPLC_TIMINGS").is_some(),
            last: std::time::Instant::now(),
        }
    }
    pub fn lap(&mut self, stage: &str) {
        if self.on {
            let now = std::time::Instant::now();
            eprintln!(
                "nplc: {stage:<10} {:>8.1} ms {}",
                (now - self.last).as_secs_f64() * 1000.0,
                resident_mb()
                    .map(|m| format!("{m:>7.1} MB"))
                    .unwrap_or_default()
            );
            self.last = now;
        }
    }
}

/// The resident memory of this process, where the system tells it
/// (`/proc/self/statm` on Linux; 4 KiB pages).
fn resident_mb() -> Option<f64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: f64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096.0 / 1048576.0)
}

fn run(inputs: &[Input], emit: bool) -> Compilation {
    let mut out = front_end(inputs);
    let mut t = Timer::new();
    let Some(prog) = &out.program else { return out };
    match compile::compile(prog) {
        Ok((set, warnings)) => {
            out.diagnostics.extend(warnings);
            t.lap("compile");
            if emit {
                out.manifests = k8s::manifests(&set, prog, &out.sources);
                t.lap("emit");
            }
            out.policies = Some(set);
        }
        Err(ds) => out.diagnostics.extend(ds),
    }
    if let Some(prog) = &out.program {
        out.diagnostics
            .extend(crate::lint::lint(prog, out.firewall.as_ref()));
        apply_silences(prog, &mut out.diagnostics);
        t.lap("lint");
    }
    if let Some(fw) = &out.firewall {
        crate::firewall::apply_silences(fw, &mut out.diagnostics);
    }
    diag::sort_diagnostics(&mut out.diagnostics);
    out
}

/// Why inputs could not be read (exit code 2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputError(pub String);

/// Reads the `.npl` files named by `paths`: files as given, directories
/// searched recursively for `*.npl` (sorted; hidden directories skipped).
pub fn read_inputs(paths: &[PathBuf]) -> Result<Vec<Input>, InputError> {
    let mut files = Vec::new();
    for p in paths {
        let meta = std::fs::metadata(p)
            .map_err(|e| InputError(format!("cannot read `{}`: {}", p.display(), io_msg(&e))))?;
        if meta.is_dir() {
            let before = files.len();
            walk(p, &mut files)?;
            if files.len() == before {
                return Err(InputError(format!(
                    "no `.npl` files under `{}`",
                    p.display()
                )));
            }
        } else {
            files.push(p.clone());
        }
    }
    files.sort();
    files.dedup();
    // read on every core; the first error in path order is the one reported
    crate::par::map(&files, |f| {
        let text = std::fs::read_to_string(f)
            .map_err(|e| InputError(format!("cannot read `{}`: {}", f.display(), io_msg(&e))))?;
        Ok(Input {
            name: display_name(f),
            text,
        })
    })
    .into_iter()
    .collect()
}

fn display_name(p: &Path) -> String {
    let s = p.to_string_lossy().replace('\\', "/");
    s.strip_prefix("./").map(str::to_string).unwrap_or(s)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), InputError> {
    let rd = std::fs::read_dir(dir)
        .map_err(|e| InputError(format!("cannot read `{}`: {}", dir.display(), io_msg(&e))))?;
    let mut entries: Vec<PathBuf> = Vec::new();
    for e in rd {
        let e =
            e.map_err(|e| InputError(format!("cannot read `{}`: {}", dir.display(), io_msg(&e))))?;
        entries.push(e.path());
    }
    entries.sort();
    for p in entries {
        let hidden = p
            .file_name()
            .map(|n| n.to_string_lossy().starts_with('.'))
            .unwrap_or(false);
        if hidden {
            continue;
        }
        if p.is_dir() {
            walk(&p, out)?;
        } else if p.extension().map(|x| x == "npl").unwrap_or(false) {
            out.push(p);
        }
    }
    Ok(())
}

/// An I/O error in plain lowercase words.
pub fn io_msg(e: &std::io::Error) -> String {
    let s = e.to_string();
    let s = s.split(" (os error").next().unwrap_or(&s).to_string();
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_lowercase().collect::<String>() + c.as_str(),
        None => s,
    }
}
