//! The language server's analysis: the compiler's stages from resolution
//! to the lints, without emission, on files already parsed, on a thread of
//! its own. Input: the parsed files (each parsed once per edit by the
//! server; a file whose text does not parse keeps its last parse, so that
//! one half-typed statement does not turn every name it declares into an
//! error elsewhere), and the target to analyse for (the project's). Each
//! run reuses what the last runs gave for what the edits since did not
//! touch (the scope, files lowered, namespaces merged and checked, rules
//! checked, namespaces compiled and linted: see [`Worker::run`]), moved
//! rather than copied, and gives what a run from scratch gives. Output:
//! an [`Analyzed`] per run: every file's diagnostics as the protocol shows
//! them (code, related information from the secondary labels, help), their
//! fixes, and which policies each statement produces.

use super::actions::{self, Fix};
use super::text::LineIndex;
use crate::check;
use crate::compile::incremental;
use crate::compile::PolicySet;
use crate::diag::{Diagnostic, Severity, Sink};
use crate::emit::Target;
use crate::ir::Program;
use crate::resolve::{self, Declarations};
use crate::source::{FileId, SourceMap, Span};
use crate::syntax::ast;
use lsp_types::{DiagnosticRelatedInformation, DiagnosticSeverity, Location, NumberOrString, Url};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What the stages say about a build.
#[derive(Debug, Default)]
pub struct Outcome {
    pub sources: SourceMap,
    pub diagnostics: Vec<Diagnostic>,
    pub program: Option<Program>,
    pub policies: Option<PolicySet>,
}

/// The stages after parsing (`driver::check_parsed`): resolve (its errors
/// stop the run), the node firewall, check, compile, the lints,
/// `@silence`. `files` are in the order the driver gives them (by name);
/// their ids index `sources`. From scratch: the reference that the
/// incremental runs of [`Worker`] equal.
pub fn analyze(sources: SourceMap, files: &[ast::File], target: Target) -> Outcome {
    let c = crate::driver::check_parsed(sources, files, target);
    Outcome {
        sources: c.sources,
        diagnostics: c.diagnostics,
        program: c.program,
        policies: c.policies,
    }
}

/// What the last runs gave, for the next runs to reuse. Each stage's memo
/// is of the last run that reached it; where a later stage's memo is of an
/// earlier run than the stage before it (a run stopped by errors), a map
/// leads from the one's items to the other's.
#[derive(Default)]
struct Memo {
    /// How many slots there were (the stdlib's file ids follow them).
    slots: usize,
    /// Each file's declarations (by slot) when it was lowered.
    decls: BTreeMap<usize, Declarations>,
    resolve: resolve::Memo,
    /// For each rule of `resolve`'s program, the index of the rule it
    /// equals in the program `check` is of (`None`: the same program).
    to_check: Option<Vec<Option<usize>>>,
    /// The namespaces merged again since `check` (`None`: all).
    unchecked: Option<BTreeSet<String>>,
    /// The program of the last check (moved in once a run is converted).
    program: Program,
    check: check::Memo,
    /// For each statement of `program`, the id of the statement it equals
    /// in the program `compile` and `lint` are of (`None`: the same).
    to_back: Option<Vec<Option<usize>>>,
    /// The namespaces checked again since `compile` and `lint` (`None`:
    /// all).
    unlinted: Option<BTreeSet<String>>,
    policies: PolicySet,
    compile: incremental::Memo,
    lint: crate::lint::Memo,
}

/// The names in either set (`None`: every name).
fn union(a: Option<BTreeSet<String>>, b: Option<BTreeSet<String>>) -> Option<BTreeSet<String>> {
    match (a, b) {
        (Some(mut a), Some(b)) => {
            a.extend(b);
            Some(a)
        }
        _ => None,
    }
}

/// `first` followed by `then` (`None`: the identity).
fn compose(first: &[Option<usize>], then: Option<&[Option<usize>]>) -> Vec<Option<usize>> {
    match then {
        None => first.to_vec(),
        Some(t) => first
            .iter()
            .map(|x| x.and_then(|j| t.get(j).copied().flatten()))
            .collect(),
    }
}

/// How much a run reused (`NPLC_LSP_LOG`).
#[derive(Debug, Default, Clone, Copy)]
pub struct Reuse {
    /// Files lowered again, of all.
    pub lowered: usize,
    pub files: usize,
    /// Namespaces compiled again, of all.
    pub compiled: usize,
    pub namespaces: usize,
}

/// One file as the analysis sees it.
#[derive(Debug, Clone)]
pub struct FileState {
    /// The name diagnostics use (the path relative to the workspace).
    pub name: String,
    pub uri: Url,
    pub text: Arc<String>,
    /// Counts the file's edits; an answer about the file holds for one.
    pub rev: u64,
    /// The last parse that succeeded (of this text when `fresh`); the
    /// worker moves it into its own list.
    pub ast: Option<ast::File>,
    pub fresh: bool,
    /// The syntax error of the text, when it does not parse.
    pub syntax: Option<Diagnostic>,
}

/// A change to the set of files: `None` removes the file of that slot.
#[derive(Debug)]
pub struct Update {
    pub slot: usize,
    pub state: Option<FileState>,
}

/// One diagnostic as published, with its fixes.
#[derive(Debug, Clone)]
pub struct Published {
    pub diagnostic: lsp_types::Diagnostic,
    pub fixes: Vec<Fix>,
}

/// The result of one run.
#[derive(Debug, Default)]
pub struct Analyzed {
    pub generation: u64,
    /// The revision of each file analysed.
    pub revs: BTreeMap<usize, u64>,
    pub uris: BTreeMap<usize, Url>,
    /// Diagnostics by file slot (every slot analysed has an entry).
    pub diagnostics: BTreeMap<usize, Vec<Published>>,
    /// The policies and rules of each statement: (slot, start, end) → lines.
    pub statements: BTreeMap<(usize, usize, usize), Vec<String>>,
    /// The policies of each namespace.
    pub namespaces: BTreeMap<String, Vec<String>>,
    /// How long the run took (stages and conversion).
    pub elapsed: Duration,
    pub reuse: Reuse,
    /// The program compiled: `statements` and `namespaces` follow in an
    /// answer of their own ([`Worker::info`]).
    pub info_pending: bool,
    /// The target analysed for (for the cilium target, no statement
    /// produces NetworkPolicy rules).
    pub target: Target,
}

/// The analysis thread's copy of the files: each file's state by slot,
/// and the parsed files in the order the driver reads them (by name),
/// updated in place, so that a run clones no syntax tree.
#[derive(Default)]
pub struct Worker {
    slots: Vec<Option<FileState>>,
    /// The parsed files, sorted by name, and (name, slot) of each.
    files: Vec<ast::File>,
    order: Vec<(String, usize)>,
    /// Stdlib module → the URI of its text on disk, for related information.
    pub std_uris: BTreeMap<String, Url>,
    /// The last run that compiled, and the slots changed since.
    memo: Option<Memo>,
    dirty: BTreeSet<usize>,
    /// `NPLC_LSP_FROM_SCRATCH`: every run from scratch (no memo).
    scratch: bool,
    /// The target analysed for (the project's).
    target: Target,
}

impl Worker {
    pub fn new(std_uris: BTreeMap<String, Url>) -> Worker {
        Worker {
            std_uris,
            scratch: std::env::var_os("NPLC_LSP_FROM_SCRATCH").is_some(),
            ..Worker::default()
        }
    }

    /// Analyses for `target` from now on (a run from scratch when it
    /// changes).
    pub fn set_target(&mut self, target: Target) {
        if target != self.target {
            self.target = target;
            self.memo = None;
        }
    }

    pub fn apply(&mut self, mut u: Update) {
        if self.slots.len() <= u.slot {
            self.slots.resize(u.slot + 1, None);
        }
        self.dirty.insert(u.slot);
        if let Some(i) = self.order.iter().position(|(_, s)| *s == u.slot) {
            self.order.remove(i);
            self.files.remove(i);
        }
        if let Some(st) = &mut u.state {
            if let Some(ast) = st.ast.take() {
                let key = (st.name.clone(), u.slot);
                let i = self.order.partition_point(|k| *k < key);
                self.order.insert(i, key);
                self.files.insert(i, ast);
            }
        }
        self.slots[u.slot] = u.state;
    }

    /// Runs the stages on the current files, reusing what the last run
    /// that compiled gave for what did not change since. What is left of
    /// that run comes back too, to be dropped after the answer is sent:
    /// freeing a large program takes a tenth of its analysis (see
    /// `cli::exit_without_freeing`).
    pub fn run(&mut self, generation: u64) -> (Analyzed, impl Send) {
        let started = Instant::now();
        let sources = self.sources();
        let (mut outcome, reuse) = if self.scratch {
            (analyze(sources, &self.files, self.target), Reuse::default())
        } else {
            self.stages(sources)
        };
        let mut t = crate::driver::Timer::new();
        let mut out = self.convert(&outcome, generation);
        t.lap("convert");
        out.reuse = reuse;
        out.elapsed = started.elapsed();
        self.keep(&mut outcome);
        (out, outcome)
    }

    /// Every file's name and text, by slot.
    fn sources(&self) -> SourceMap {
        let mut sources = SourceMap::new();
        for s in &self.slots {
            match s {
                Some(f) => sources.add(f.name.clone(), f.text.as_str()),
                None => sources.add(String::new(), String::new()),
            };
        }
        sources
    }

    /// Moves the program and the policies of a run that compiled into the
    /// memo (once its answer is converted).
    fn keep(&mut self, outcome: &mut Outcome) {
        if let Some(m) = &mut self.memo {
            if let Some(p) = outcome.program.take() {
                m.program = p;
            }
            if let Some(p) = outcome.policies.take() {
                m.policies = p;
            }
        }
    }

    /// The stages, as `driver::check_parsed` runs them, on what changed.
    fn stages(&mut self, mut sources: SourceMap) -> (Outcome, Reuse) {
        let mut t = crate::driver::Timer::new();
        let memo = self.memo.take();
        let files = &self.files;
        // the declarations of the files changed since the memo: when none
        // changed, the scope is the same and unchanged files lower the same
        let current = |slot: usize| -> Declarations {
            match self.slot_file(slot) {
                Some(f) => resolve::declarations(f),
                None => Declarations::default(),
            }
        };
        let mut decls = BTreeMap::new();
        let scope_same = match &memo {
            Some(m) if m.slots == self.slots.len() => {
                let mut same = true;
                for &s in &self.dirty {
                    let d = current(s);
                    same &= m.decls.get(&s).is_some_and(|old| *old == d)
                        || (d == Declarations::default() && !m.decls.contains_key(&s));
                    decls.insert(s, d);
                }
                same
            }
            _ => false,
        };
        let mut m = memo.unwrap_or_default();
        let dirty = &self.dirty;
        let keep = |f: FileId| scope_same && !dirty.contains(&f.0);
        let mut sink = Sink::new();
        let res = resolve::resolve_incremental(
            files,
            &mut sources,
            &mut sink,
            &keep,
            scope_same,
            Some(std::mem::take(&mut m.resolve)),
        );
        t.lap("resolve");
        let mut reuse = Reuse {
            files: files.len(),
            lowered: files.iter().filter(|f| !keep(f.id)).count(),
            ..Reuse::default()
        };
        // the memo of this resolution: the declarations of every file
        if scope_same {
            m.decls.extend(decls);
        } else {
            m.decls = files
                .iter()
                .map(|f| (f.id.0, resolve::declarations(f)))
                .collect();
        }
        m.slots = self.slots.len();
        self.dirty.clear();
        let same_rule = compose(&res.same_rule, m.to_check.as_deref());
        let unchecked = union(m.unchecked.take(), res.merged);
        let finish =
            |sink: Sink, prog: Option<&Program>, fw: Option<&crate::firewall::FirewallSpec>| {
                let mut diagnostics = sink.into_sorted();
                if let Some(prog) = prog {
                    crate::driver::apply_silences(prog, &mut diagnostics);
                }
                if let Some(fw) = fw {
                    crate::firewall::apply_silences(fw, &mut diagnostics);
                }
                diagnostics
            };
        let mut rmemo = res.memo;
        if res.failed.is_some() {
            rmemo.keep(res.resolved, res.tables);
            m.resolve = rmemo;
            m.to_check = Some(same_rule);
            m.unchecked = unchecked;
            self.memo = Some(m);
            let diagnostics = finish(sink, None, None);
            let outcome = Outcome {
                sources,
                diagnostics,
                ..Outcome::default()
            };
            return (outcome, reuse);
        }
        let firewall = crate::firewall::check::check(files, &res.tables, &sources, &mut sink)
            .ok()
            .flatten();
        t.lap("firewall");
        let checked = check::check_incremental(
            &res.resolved,
            &same_rule,
            unchecked.as_ref(),
            Some((std::mem::take(&mut m.program), std::mem::take(&mut m.check))),
            &mut sink,
        );
        t.lap("check");
        rmemo.keep(res.resolved, res.tables);
        m.resolve = rmemo;
        m.to_check = None;
        m.unchecked = Some(BTreeSet::new());
        m.check = checked.memo;
        let same = compose(&checked.same, m.to_back.as_deref());
        let unlinted = union(m.unlinted.take(), checked.rechecked);
        if checked.failed.is_some() {
            m.program = checked.program;
            m.to_back = Some(same);
            m.unlinted = unlinted;
            self.memo = Some(m);
            let diagnostics = finish(sink, None, firewall.as_ref());
            let outcome = Outcome {
                sources,
                diagnostics,
                ..Outcome::default()
            };
            return (outcome, reuse);
        }
        let prog = checked.program;
        reuse.namespaces = prog.namespaces.len();
        let mut policies = None;
        match self.target {
            Target::K8s => {
                let prev = (
                    std::mem::take(&mut m.policies),
                    std::mem::take(&mut m.compile),
                );
                let compiled = incremental::compile_incremental(
                    &prog,
                    &same,
                    unlinted.as_ref(),
                    Some(prev),
                    &mut sink,
                );
                t.lap("compile");
                reuse.compiled = compiled.memo.compiled;
                m.compile = compiled.memo;
                match compiled.failed {
                    None => policies = Some(compiled.policies),
                    Some(_) => m.policies = compiled.policies,
                }
            }
            Target::Cilium => {
                // no deny compilation: the target's refusals (E0503)
                let _ = crate::emit::cilium::emit(&prog, &sources, &mut sink);
                t.lap("emit");
                reuse.compiled = prog.namespaces.len();
            }
        }
        let (lints, lint_memo) = crate::lint::lint_incremental(
            &prog,
            firewall.as_ref(),
            &same,
            unlinted.as_ref(),
            Some(std::mem::take(&mut m.lint)),
        );
        sink.extend(lints);
        m.lint = lint_memo;
        m.to_back = None;
        m.unlinted = Some(BTreeSet::new());
        t.lap("lint");
        let diagnostics = finish(sink, Some(&prog), firewall.as_ref());
        t.lap("silences");
        self.memo = Some(m);
        let outcome = Outcome {
            sources,
            diagnostics,
            program: Some(prog),
            policies,
        };
        (outcome, reuse)
    }

    /// The parsed file of a slot.
    fn slot_file(&self, slot: usize) -> Option<&ast::File> {
        let i = self.order.iter().position(|(_, s)| *s == slot)?;
        self.files.get(i)
    }

    /// The stages' outcome as the protocol shows it.
    fn convert(&self, outcome: &Outcome, generation: u64) -> Analyzed {
        let files = &self.files;
        let by_id: HashMap<FileId, &ast::File> = files.iter().map(|f| (f.id, f)).collect();
        let mut out = Analyzed {
            generation,
            target: self.target,
            ..Analyzed::default()
        };
        let mut lines: HashMap<FileId, LineIndex> = HashMap::new();
        for (slot, f) in self.slots.iter().enumerate() {
            let Some(f) = f else { continue };
            out.revs.insert(slot, f.rev);
            out.uris.insert(slot, f.uri.clone());
            let mut ds = Vec::new();
            if let Some(d) = &f.syntax {
                ds.push(self.publish(d, &outcome.sources, &mut lines, &by_id));
            }
            out.diagnostics.insert(slot, ds);
        }
        for d in &outcome.diagnostics {
            let Some(p) = d.primary else { continue };
            // a file that does not parse shows its syntax error only: the
            // other stages saw its last parse, whose spans are stale
            let Some(Some(f)) = self.slots.get(p.file.0) else {
                continue;
            };
            if !f.fresh {
                continue;
            }
            let mut d = d.clone();
            d.labels
                .retain(|l| self.fresh(l.span.file, &outcome.sources));
            let published = self.publish(&d, &outcome.sources, &mut lines, &by_id);
            out.diagnostics.entry(p.file.0).or_default().push(published);
        }
        if let (Some(prog), Some(set)) = (&outcome.program, &outcome.policies) {
            if self.scratch {
                statements(prog, set, &mut out);
            } else {
                // after the diagnostics are sent ([`Worker::info`])
                out.info_pending = true;
            }
        }
        out
    }

    /// What the last run that compiled says about statements, for hover
    /// (sent after its diagnostics: it takes as long as the rest of an
    /// incremental run).
    pub fn info(&self, generation: u64) -> Option<Analyzed> {
        let m = self.memo.as_ref()?;
        let mut out = Analyzed {
            generation,
            ..Analyzed::default()
        };
        statements(&m.program, &m.policies, &mut out);
        Some(out)
    }

    /// Whether spans into `file` are of its current text.
    fn fresh(&self, file: FileId, sources: &SourceMap) -> bool {
        match self.slots.get(file.0) {
            Some(Some(f)) => f.fresh,
            _ => sources.is_stdlib(file),
        }
    }

    fn uri(&self, file: FileId, sources: &SourceMap) -> Option<Url> {
        match self.slots.get(file.0) {
            Some(Some(f)) => Some(f.uri.clone()),
            _ if sources.is_stdlib(file) => {
                let name = sources.name(file);
                let m = name.strip_prefix("<stdlib>/")?.strip_suffix(".npl")?;
                self.std_uris.get(m).cloned()
            }
            _ => None,
        }
    }

    fn publish(
        &self,
        d: &Diagnostic,
        sources: &SourceMap,
        lines: &mut HashMap<FileId, LineIndex>,
        files: &HashMap<FileId, &ast::File>,
    ) -> Published {
        let mut range = |s: Span| {
            let text = sources.text(s.file);
            let li = lines.entry(s.file).or_insert_with(|| LineIndex::new(text));
            li.range(text, s.start, s.end)
        };
        let primary = d.primary.map(&mut range).unwrap_or_default();
        let related: Vec<DiagnosticRelatedInformation> = d
            .labels
            .iter()
            .filter_map(|l| {
                Some(DiagnosticRelatedInformation {
                    location: Location::new(self.uri(l.span.file, sources)?, range(l.span)),
                    message: l.message.clone(),
                })
            })
            .collect();
        let mut message = d.message.clone();
        if let Some(h) = &d.help {
            message.push_str(&format!("\nhelp: {h}"));
        }
        for n in &d.notes {
            message.push_str(&format!("\nnote: {n}"));
        }
        let fixes = actions::fixes(d, sources, files)
            .into_iter()
            .map(|(title, edits, preferred)| Fix {
                title,
                preferred,
                edits: edits.into_iter().map(|(s, t)| (range(s), t)).collect(),
            })
            .collect();
        Published {
            diagnostic: lsp_types::Diagnostic {
                range: primary,
                severity: Some(match d.severity {
                    Severity::Error => DiagnosticSeverity::ERROR,
                    Severity::Warning => DiagnosticSeverity::WARNING,
                    Severity::Note => DiagnosticSeverity::INFORMATION,
                }),
                code: Some(NumberOrString::String(d.code.to_string())),
                code_description: None,
                source: Some("nplc".into()),
                message,
                related_information: if related.is_empty() {
                    None
                } else {
                    Some(related)
                },
                tags: None,
                data: None,
            },
            fixes,
        }
    }
}

/// Which rules of which policies each statement produces (the ids of
/// `PolicyRule::allows` and `denies`), and each namespace's policies.
fn statements(prog: &Program, set: &PolicySet, out: &mut Analyzed) {
    let mut by_id: BTreeMap<usize, Vec<String>> = BTreeMap::new();
    for p in &set.policies {
        let name = format!("`{}/{}`", p.namespace, p.name);
        out.namespaces
            .entry(p.namespace.clone())
            .or_default()
            .push(format!("{name}, selecting `{}`", p.subject));
        for (dir, rules) in [("ingress", &p.ingress), ("egress", &p.egress)] {
            for (i, r) in rules.iter().enumerate() {
                for id in &r.allows {
                    by_id.entry(*id).or_default().push(format!(
                        "{name} {dir} rule {} of {}",
                        i + 1,
                        rules.len()
                    ));
                }
                for id in &r.denies {
                    by_id.entry(*id).or_default().push(format!(
                        "{name} {dir} rule {} of {} (cut by this deny)",
                        i + 1,
                        rules.len()
                    ));
                }
            }
        }
    }
    for s in &prog.statements {
        let lines = by_id.remove(&s.id).unwrap_or_default();
        out.statements
            .insert((s.span.file.0, s.span.start, s.span.end), lines);
    }
}

#[cfg(test)]
mod tests {
    //! The law of the incremental runs: after any sequence of edits, a
    //! run gives what the stages give from scratch on the same files (the
    //! same diagnostics, program and policies), for either target.

    use super::*;
    use proptest::prelude::*;

    /// A program over four files: definitions used across files, a
    /// namespace spread over two, denies, a rule naming another
    /// namespace's workload, stated namespace labels and a side-scoped
    /// rule that selects by them.
    const FIXTURE: &[(&str, &str)] = &[
        (
            "defs.npl",
            "define office = 10.1.0.0/16\ndefine lab = 10.2.0.0/16 except 10.2.3.0/24\n",
        ),
        (
            "shop.npl",
            "use dns\n\nnamespace shop {\n  default deny\n  workload web = app=web\n  workload api = app=api\n  allow egress dns\n  allow web -> api:8080\n  allow office -> web:443\n  deny lab -> web:443\n}\n",
        ),
        (
            "shop-more.npl",
            "namespace shop {\n  allow api -> pay/app=db:5432\n  allow api -> world:443\n  allow {team=pay}/app=db -> web:80 on ingress\n  deny egress 169.254.169.254\n}\n",
        ),
        (
            "pay.npl",
            "namespace pay {\n  labels {team=pay}\n  default deny ingress\n  workload db = app=db\n  allow shop/app=web -> db:5432\n  allow office -> db:5432, 6000-6010\n  isolate egress app=db\n}\n",
        ),
    ];

    /// Every workspace the law is tried on: the fixture, and each
    /// directory of `examples/`.
    fn workspaces() -> Vec<Vec<(String, String)>> {
        let mut out = vec![FIXTURE
            .iter()
            .map(|(n, t)| (n.to_string(), t.to_string()))
            .collect::<Vec<_>>()];
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
        let mut dirs: Vec<_> = std::fs::read_dir(root)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .collect();
        dirs.sort();
        for d in dirs {
            let mut files: Vec<(String, String)> = std::fs::read_dir(&d)
                .into_iter()
                .flatten()
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "npl"))
                .filter_map(|p| {
                    let name = p.file_name()?.to_string_lossy().to_string();
                    Some((name, std::fs::read_to_string(&p).ok()?))
                })
                .collect();
            files.sort();
            if !files.is_empty() {
                out.push(files);
            }
        }
        out
    }

    /// One edit of one line, as a person types it: delete it, repeat it,
    /// move it to another file, change a digit, swap it with the next, or
    /// rename the namespace of the next block (one letter more: the
    /// managed namespaces change, and names of the old one are a typo away).
    fn edit(files: &mut [(String, String)], (file, op, line, x): (usize, u8, usize, usize)) {
        let n = files.len();
        let f = file % n;
        let mut lines: Vec<String> = files[f].1.lines().map(String::from).collect();
        if lines.is_empty() {
            return;
        }
        let l = line % lines.len();
        match op % 6 {
            0 => {
                lines.remove(l);
            }
            1 => {
                let copy = lines[l].clone();
                lines.insert(l, copy);
            }
            2 => {
                let moved = lines.remove(l);
                let to = (f + 1 + x) % n;
                if to != f {
                    let mut other: Vec<String> = files[to].1.lines().map(String::from).collect();
                    let at = if other.is_empty() { 0 } else { x % other.len() };
                    other.insert(at, moved);
                    files[to].1 = other.join("\n") + "\n";
                } else {
                    lines.insert((l + 1).min(lines.len()), moved);
                }
            }
            3 => {
                let digits: Vec<usize> = lines[l]
                    .char_indices()
                    .filter(|(_, c)| c.is_ascii_digit())
                    .map(|(i, _)| i)
                    .collect();
                if let Some(&i) = digits.get(x % digits.len().max(1)) {
                    let d = char::from(b'0' + (x % 10) as u8);
                    lines[l].replace_range(i..i + 1, &d.to_string());
                }
            }
            4 => {
                if l + 1 < lines.len() {
                    lines.swap(l, l + 1);
                }
            }
            _ => {
                let n = lines.len();
                if let Some(k) = (0..n)
                    .map(|k| (l + k) % n)
                    .find(|k| lines[*k].trim_start().starts_with("namespace "))
                {
                    lines[k] = lines[k].replacen("namespace ", "namespace x", 1);
                }
            }
        }
        files[f].1 = lines.join("\n") + "\n";
    }

    /// The state the server gives the worker for a file's text: its
    /// parse, or its syntax error and the last parse that succeeded.
    fn state(slot: usize, name: &str, text: &str, rev: u64, last: Option<ast::File>) -> FileState {
        let (ast, fresh, syntax) = match crate::syntax::parse_file(FileId(slot), text) {
            Ok(f) => (Some(f), true, None),
            Err(d) => (last, false, Some(d)),
        };
        FileState {
            name: name.to_string(),
            // INVARIANT: a constant, well-formed URL
            #[allow(clippy::unwrap_used)]
            uri: Url::parse(&format!("file:///w/{name}")).unwrap(),
            text: Arc::new(text.to_string()),
            rev,
            ast,
            fresh,
            syntax,
        }
    }

    /// A run of the worker against the stages from scratch on its files.
    fn same_as_scratch(w: &mut Worker) -> Result<(), TestCaseError> {
        let (mut outcome, _) = w.stages(w.sources());
        let scratch = analyze(w.sources(), &w.files, w.target);
        prop_assert_eq!(&outcome.diagnostics, &scratch.diagnostics);
        prop_assert_eq!(&outcome.program, &scratch.program);
        prop_assert_eq!(&outcome.policies, &scratch.policies);
        w.keep(&mut outcome);
        Ok(())
    }

    /// An edit of a port in one file lowers that file alone and compiles
    /// the one namespace it touches (the law above is not met by running
    /// everything from scratch).
    #[test]
    fn an_edit_reuses_the_rest() {
        let mut w = Worker::default();
        for (slot, (name, text)) in FIXTURE.iter().enumerate() {
            w.apply(Update {
                slot,
                state: Some(state(slot, name, text, 0, None)),
            });
        }
        let (first, _) = w.run(1);
        assert_eq!((first.reuse.lowered, first.reuse.compiled), (4, 2));
        let (slot, (name, text)) = (3, FIXTURE[3]);
        let text = text.replace("6000-6010", "6000-6011");
        w.apply(Update {
            slot,
            state: Some(state(slot, name, &text, 1, None)),
        });
        let (second, _) = w.run(2);
        assert_eq!(
            (
                second.reuse.lowered,
                second.reuse.compiled,
                second.reuse.namespaces
            ),
            (1, 1, 2)
        );
        let codes = |a: &Analyzed| {
            a.diagnostics
                .values()
                .flatten()
                .map(|p| format!("{:?}", p.diagnostic.code))
                .collect::<Vec<_>>()
        };
        assert_eq!(codes(&first), codes(&second));
        assert_eq!(codes(&first).len(), 2, "{:?}", codes(&first));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]
        #[test]
        fn incremental_equals_scratch(
            // the fixture (several namespaces and files) half of the time
            ws in prop_oneof![Just(None), any::<prop::sample::Index>().prop_map(Some)],
            edits in prop::collection::vec((0usize..8, 0u8..6, 0usize..64, 0usize..64), 1..10),
            cilium in any::<bool>(),
        ) {
            let all = workspaces();
            let mut files = all[ws.map(|i| i.index(all.len())).unwrap_or(0)].clone();
            let mut w = Worker::default();
            w.set_target(if cilium { Target::Cilium } else { Target::K8s });
            let mut last: Vec<Option<ast::File>> = vec![None; files.len()];
            let mut rev = 0;
            for (slot, (name, text)) in files.iter().enumerate() {
                let st = state(slot, name, text, rev, None);
                last[slot] = st.ast.clone();
                w.apply(Update { slot, state: Some(st) });
            }
            same_as_scratch(&mut w)?;
            for e in edits {
                let before = files.clone();
                edit(&mut files, e);
                rev += 1;
                for (slot, ((name, text), (_, old))) in files.iter().zip(&before).enumerate() {
                    if text != old {
                        let st = state(slot, name, text, rev, last[slot].clone());
                        last[slot] = st.ast.clone();
                        w.apply(Update { slot, state: Some(st) });
                    }
                }
                same_as_scratch(&mut w)?;
            }
        }
    }
}
