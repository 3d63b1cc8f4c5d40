//! The language server's analysis: the compiler's stages from resolution
//! to the lints, without emission, on files already parsed, on a thread of
//! its own. Input: the parsed files (each parsed once per edit by the
//! server; a file whose text does not parse keeps its last parse, so that
//! one half-typed statement does not turn every name it declares into an
//! error elsewhere). Output: an [`Analyzed`] per run: every file's
//! diagnostics as the protocol shows them (code, related information from
//! the secondary labels, help), their fixes, and which policies each
//! statement produces.

use super::actions::{self, Fix};
use super::text::LineIndex;
use crate::compile::PolicySet;
use crate::diag::{Diagnostic, Severity};
use crate::ir::Program;
use crate::source::{FileId, SourceMap, Span};
use crate::syntax::ast;
use lsp_types::{DiagnosticRelatedInformation, DiagnosticSeverity, Location, NumberOrString, Url};
use std::collections::{BTreeMap, HashMap};
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
/// their ids index `sources`.
pub fn analyze(sources: SourceMap, files: &[ast::File]) -> Outcome {
    let c = crate::driver::check_parsed(sources, files);
    Outcome {
        sources: c.sources,
        diagnostics: c.diagnostics,
        program: c.program,
        policies: c.policies,
    }
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
}

impl Worker {
    pub fn new(std_uris: BTreeMap<String, Url>) -> Worker {
        Worker {
            std_uris,
            ..Worker::default()
        }
    }

    pub fn apply(&mut self, mut u: Update) {
        if self.slots.len() <= u.slot {
            self.slots.resize(u.slot + 1, None);
        }
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

    /// Runs the stages on the current files. The stages' own results come
    /// back too, to be dropped after the answer is sent: freeing a large
    /// program takes a tenth of its analysis (see `cli::exit_without_freeing`).
    pub fn run(&self, generation: u64) -> (Analyzed, Outcome) {
        let started = Instant::now();
        let mut sources = SourceMap::new();
        for s in &self.slots {
            match s {
                Some(f) => sources.add(f.name.clone(), f.text.as_str()),
                None => sources.add(String::new(), String::new()),
            };
        }
        let files = &self.files;
        let outcome = analyze(sources, files);
        let by_id: HashMap<FileId, &ast::File> = files.iter().map(|f| (f.id, f)).collect();
        let mut out = Analyzed {
            generation,
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
            statements(prog, set, &mut out);
        }
        out.elapsed = started.elapsed();
        (out, outcome)
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
