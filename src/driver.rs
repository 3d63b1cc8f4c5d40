//! The pipeline, end to end, as a library call: source map → syntax →
//! resolve → check → compile → emit. Input: file names and texts. Output: a
//! [`Compilation`] with every diagnostic and, when there is no error, the IR,
//! the compiled policies and the manifests. The command line only calls
//! this and writes what it returns.

use crate::check;
use crate::compile::{self, PolicySet};
use crate::diag::{self, Diagnostic, Failed, Sink};
use crate::emit::k8s::{self, Manifest};
use crate::ir::Program;
use crate::resolve;
use crate::source::SourceMap;
use crate::syntax::{self, ast};
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
    /// The target the build was for (`manifests` for k8s, `cilium` for cilium).
    pub target: crate::emit::Target,
    /// The cilium target's manifests (docs/targets.md).
    pub cilium: Vec<crate::emit::cilium::Manifest>,
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
    let mut out = Compilation::default();
    let mut sink = Sink::new();
    out.program = front(inputs, &mut out, &mut sink).ok();
    out.diagnostics = sink.into_sorted();
    out
}

/// The stages up to the IR, reporting into `sink`; fills in `out`'s
/// sources and firewall.
fn front(inputs: &[Input], out: &mut Compilation, sink: &mut Sink) -> Result<Program, Failed> {
    let mut t = Timer::new();
    let mut inputs: Vec<&Input> = inputs.iter().collect();
    inputs.sort_by(|a, b| a.name.cmp(&b.name));
    let ids: Vec<(crate::source::FileId, &Input)> = inputs
        .iter()
        .map(|i| (out.sources.add(i.name.clone(), i.text.clone()), *i))
        .collect();
    // files parse independently: in parallel, results in file order
    let mark = sink.mark();
    let mut files = Vec::new();
    for parsed in crate::par::map(&ids, |(id, i)| syntax::parse_file(*id, &i.text)) {
        match parsed {
            Ok(f) => files.push(f),
            Err(d) => sink.report(d),
        }
    }
    t.lap("parse");
    sink.finish(mark, ())?;
    let resolved = resolve_and_firewall(&files, out, sink)?;
    // each stage's input is freed once the next has its own copy, so that
    // later stages reuse the memory instead of touching new pages
    drop(files);
    let program = check::check(&resolved, sink);
    drop(resolved);
    t.lap("check");
    program
}

/// Resolution and, beside it, the node firewall (through the resolver's
/// scope; its errors do not stop the policies from being checked).
fn resolve_and_firewall(
    files: &[ast::File],
    out: &mut Compilation,
    sink: &mut Sink,
) -> Result<resolve::Resolved, Failed> {
    let mut t = Timer::new();
    let (resolved, names) = resolve::resolve_scope(files, &mut out.sources, sink)?;
    t.lap("resolve");
    out.firewall = crate::firewall::check::check(files, &names, &out.sources, sink)
        .ok()
        .flatten();
    t.lap("firewall");
    Ok(resolved)
}

/// The stages after parsing on files already parsed (the language server
/// parses each file once per edit): resolve, the node firewall, check,
/// compile (for `target`: the cilium target's refusals instead), the
/// lints and `@silence`, without emission. `files` are in name order and
/// their ids index `sources`.
pub fn check_parsed(
    sources: SourceMap,
    files: &[ast::File],
    target: crate::emit::Target,
) -> Compilation {
    let mut out = Compilation {
        sources,
        target,
        ..Compilation::default()
    };
    let mut sink = Sink::new();
    out.program = resolve_and_firewall(files, &mut out, &mut sink)
        .and_then(|r| check::check(&r, &mut sink))
        .ok();
    back_end(&mut out, sink, false);
    out
}

/// Runs the whole pipeline for a target: every stage, then that target's
/// emission (`Target::K8s` is [`compile_inputs`]).
pub fn compile_for(inputs: &[Input], target: crate::emit::Target) -> Compilation {
    run_for(inputs, true, target)
}

/// [`check_inputs`] for a target: the diagnostics a build for it reports.
pub fn check_for(inputs: &[Input], target: crate::emit::Target) -> Compilation {
    run_for(inputs, false, target)
}

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
    run_for(inputs, emit, crate::emit::Target::K8s)
}

fn run_for(inputs: &[Input], emit: bool, target: crate::emit::Target) -> Compilation {
    let mut out = Compilation {
        target,
        ..Compilation::default()
    };
    let mut sink = Sink::new();
    out.program = front(inputs, &mut out, &mut sink).ok();
    back_end(&mut out, sink, emit);
    out
}

/// Compile (and with `emit` the manifests), the lints and `@silence`,
/// after the program is checked; the sink becomes the sorted diagnostics.
fn back_end(out: &mut Compilation, mut sink: Sink, emit: bool) {
    let mut t = Timer::new();
    if let (Some(prog), crate::emit::Target::Cilium) = (&out.program, out.target) {
        // no deny compilation: the backend writes the IR (docs/targets.md)
        if let Ok(ms) = crate::emit::cilium::emit(prog, &out.sources, &mut sink) {
            t.lap("emit");
            if emit {
                out.cilium = ms;
            }
        }
        sink.extend(crate::lint::lint(prog, out.firewall.as_ref()));
        t.lap("lint");
    } else if let Some(prog) = &out.program {
        if let Ok(set) = compile::compile(prog, &mut sink) {
            t.lap("compile");
            if emit {
                out.manifests = k8s::manifests(&set, prog, &out.sources);
                t.lap("emit");
            }
            out.policies = Some(set);
        }
        sink.extend(crate::lint::lint(prog, out.firewall.as_ref()));
        t.lap("lint");
    }
    let mut diagnostics = sink.into_sorted();
    if let Some(prog) = &out.program {
        apply_silences(prog, &mut diagnostics);
    }
    if let Some(fw) = &out.firewall {
        crate::firewall::apply_silences(fw, &mut diagnostics);
    }
    out.diagnostics = diagnostics;
}

/// Why inputs could not be read (exit code 2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputError(pub String);

/// The files a build reads, and notes on how they were found (W0002: a
/// directory that leads back into itself).
#[derive(Debug, Default)]
pub struct Inputs {
    pub files: Vec<Input>,
    pub notes: Vec<Diagnostic>,
}

/// Reads the `.npl` files named by `paths`: files as given, directories
/// searched recursively for `*.npl` (sorted; hidden directories skipped).
/// Each file is read once, however many paths or links lead to it.
pub fn read_inputs(paths: &[PathBuf]) -> Result<Vec<Input>, InputError> {
    read_inputs_noting(paths).map(|i| i.files)
}

/// [`read_inputs`], with the notes the command line prints beside the
/// diagnostics.
pub fn read_inputs_noting(paths: &[PathBuf]) -> Result<Inputs, InputError> {
    let (files, notes) = find_inputs(paths)?;
    // read on every core; the first error in path order is the one reported
    let files = crate::par::map(&files, |f| {
        let bytes = std::fs::read(f).map_err(|e| cannot_read(f, &e))?;
        Ok(Input {
            name: display_name(f),
            text: utf8(f, bytes)?,
        })
    })
    .into_iter()
    .collect::<Result<Vec<Input>, InputError>>()?;
    Ok(Inputs { files, notes })
}

/// The `.npl` files that [`read_inputs`] would read for `paths`, sorted,
/// one path per file, without reading them; and the walk's notes.
pub fn find_inputs(paths: &[PathBuf]) -> Result<(Vec<PathBuf>, Vec<Diagnostic>), InputError> {
    let mut w = Walk::default();
    let mut files = Vec::new();
    for p in paths {
        let meta = std::fs::metadata(p).map_err(|e| cannot_read(p, &e))?;
        if meta.is_dir() {
            let id = identity(p, &meta);
            if w.entered.contains(&id) {
                // named twice, or inside a directory named before
                continue;
            }
            let before = files.len();
            w.dir(p, id, false, &mut files)?;
            if files.len() == before {
                return Err(InputError(format!(
                    "no `.npl` files under `{}`",
                    p.display()
                )));
            }
        } else {
            files.push((false, p.clone(), identity(p, &meta)));
        }
    }
    // one path per file: the first without a link, in path order, else the
    // first
    files.sort();
    let mut seen = std::collections::HashSet::new();
    files.retain(|(_, _, id)| seen.insert(id.clone()));
    let mut files: Vec<PathBuf> = files.into_iter().map(|(_, p, _)| p).collect();
    files.sort();
    Ok((files, w.notes))
}

/// Why a file or directory could not be read (exit code 2).
fn cannot_read(p: &Path, e: &std::io::Error) -> InputError {
    InputError(format!(
        "cannot read `{}`: {}",
        p.display(),
        crate::diag::io_msg(e)
    ))
}

/// The text of a file, or an error that says where its first byte that is
/// not UTF-8 is.
fn utf8(f: &Path, bytes: Vec<u8>) -> Result<String, InputError> {
    String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        let bytes = e.as_bytes();
        let line = bytes[..at].iter().filter(|&&b| b == b'\n').count() + 1;
        let line_start = bytes[..at]
            .iter()
            .rposition(|&b| b == b'\n')
            .map(|i| i + 1)
            .unwrap_or(0);
        let column = String::from_utf8_lossy(&bytes[line_start..at]).chars().count() + 1;
        InputError(format!(
            "cannot read `{}`: it is not UTF-8: byte {at} (line {line}, column {column}) is 0x{:02x}; save the file as UTF-8",
            f.display(),
            bytes.get(at).copied().unwrap_or(0)
        ))
    })
}

fn display_name(p: &Path) -> String {
    let s = p.to_string_lossy().replace('\\', "/");
    s.strip_prefix("./").map(str::to_string).unwrap_or(s)
}

/// What makes two paths the same file or directory: the device and inode
/// (on Unix), else the canonical path.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Identity {
    Inode(u64, u64),
    Path(PathBuf),
}

#[cfg(unix)]
fn identity(_: &Path, meta: &std::fs::Metadata) -> Identity {
    use std::os::unix::fs::MetadataExt;
    Identity::Inode(meta.dev(), meta.ino())
}

#[cfg(not(unix))]
fn identity(p: &Path, _: &std::fs::Metadata) -> Identity {
    Identity::Path(std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf()))
}

/// The directory walk: every directory is entered once, whatever links
/// lead to it; a link back into a directory being walked is a loop, noted
/// once per link.
#[derive(Default)]
struct Walk {
    /// The directories being walked, from the root down.
    path: Vec<(Identity, PathBuf)>,
    /// Every directory entered.
    entered: std::collections::HashSet<Identity>,
    notes: Vec<Diagnostic>,
}

impl Walk {
    /// Walks `dir` (reached through a symbolic link when `linked`), adding
    /// `(linked, path, identity)` for each `.npl` file. Entries that are
    /// not links come first, so that a directory reached both ways is
    /// entered by its own path.
    fn dir(
        &mut self,
        dir: &Path,
        id: Identity,
        linked: bool,
        out: &mut Vec<(bool, PathBuf, Identity)>,
    ) -> Result<(), InputError> {
        if let Some((_, ancestor)) = self.path.iter().find(|(a, _)| *a == id) {
            self.notes.push(
                Diagnostic::note(
                    "W0002",
                    format!(
                        "`{}` leads back to `{}`: a loop of symbolic links, not followed",
                        display_name(dir),
                        display_name(ancestor)
                    ),
                )
                .with_help("every file under it is read once, through the path without the loop"),
            );
            return Ok(());
        }
        if !self.entered.insert(id.clone()) {
            // reached before through another link: its files are read already
            return Ok(());
        }
        let rd = std::fs::read_dir(dir).map_err(|e| cannot_read(dir, &e))?;
        let mut entries: Vec<(bool, PathBuf)> = Vec::new();
        for e in rd {
            let e = e.map_err(|e| cannot_read(dir, &e))?;
            let link = e.file_type().map(|t| t.is_symlink()).unwrap_or(false);
            entries.push((linked || link, e.path()));
        }
        entries.sort();
        self.path.push((id, dir.to_path_buf()));
        for (linked, p) in entries {
            let hidden = p
                .file_name()
                .map(|n| n.to_string_lossy().starts_with('.'))
                .unwrap_or(false);
            if hidden {
                continue;
            }
            let npl = p.extension().map(|x| x == "npl").unwrap_or(false);
            match std::fs::metadata(&p) {
                Ok(meta) if meta.is_dir() => self.dir(&p, identity(&p, &meta), linked, out)?,
                Ok(meta) if npl => out.push((linked, p.clone(), identity(&p, &meta))),
                // a dangling link named `*.npl`: reading it says why
                Err(_) if npl => out.push((linked, p.clone(), Identity::Path(p.clone()))),
                _ => {}
            }
        }
        self.path.pop();
        Ok(())
    }
}
