//! The one diagnostic type every stage reports with, and its two renderings:
//! human text through codespan-reporting and JSON (`--error-format json`).
//!
//! Input: diagnostics built by the stages plus the [`SourceMap`]. Output:
//! rendered text or JSON values. Codes are stable; docs/diagnostics.md lists
//! them all.

use crate::source::{SourceMap, Span};
use codespan_reporting::diagnostic::{Diagnostic as CsDiagnostic, Label, Severity as CsSeverity};
use codespan_reporting::term::{self, termcolor::NoColor};
use serde::Serialize;

/// How bad a diagnostic is. Only errors fail a build.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
    Note,
}

/// A secondary label: another place in the sources that explains the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecondaryLabel {
    pub span: Span,
    pub message: String,
}

/// A message about the sources.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    /// Stable code such as `E0101`.
    pub code: &'static str,
    pub message: String,
    pub primary: Option<Span>,
    pub primary_label: String,
    pub labels: Vec<SecondaryLabel>,
    pub help: Option<String>,
    pub notes: Vec<String>,
}

impl Diagnostic {
    pub fn error(code: &'static str, message: impl Into<String>) -> Diagnostic {
        Diagnostic::new(Severity::Error, code, message)
    }
    pub fn warning(code: &'static str, message: impl Into<String>) -> Diagnostic {
        Diagnostic::new(Severity::Warning, code, message)
    }
    pub fn note(code: &'static str, message: impl Into<String>) -> Diagnostic {
        Diagnostic::new(Severity::Note, code, message)
    }
    fn new(severity: Severity, code: &'static str, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity,
            code,
            message: clip(message.into()),
            primary: None,
            primary_label: String::new(),
            labels: Vec::new(),
            help: None,
            notes: Vec::new(),
        }
    }
    /// Sets the primary span and the label shown under it.
    pub fn at(mut self, span: Span, label: impl Into<String>) -> Diagnostic {
        self.primary = Some(span);
        self.primary_label = clip(label.into());
        self
    }
    pub fn with_label(mut self, span: Span, message: impl Into<String>) -> Diagnostic {
        self.labels.push(SecondaryLabel {
            span,
            message: clip(message.into()),
        });
        self
    }
    pub fn with_help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(clip(help.into()));
        self
    }
    pub fn with_note(mut self, note: impl Into<String>) -> Diagnostic {
        self.notes.push(clip(note.into()));
        self
    }
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    fn sort_key(&self) -> (usize, usize, usize, Severity, &'static str, &str) {
        let (f, s, e) =
            self.primary
                .map(|p| (p.file.0, p.start, p.end))
                .unwrap_or((usize::MAX, 0, 0));
        (f, s, e, self.severity, self.code, &self.message)
    }
}

/// How many characters of user input a diagnostic quotes between
/// backticks; longer input is cut, and `…` says so.
pub const QUOTE_LIMIT: usize = 60;

/// `text` with every backtick-quoted part longer than [`QUOTE_LIMIT`]
/// characters cut to that length, ending in `…`. Every message, label,
/// help and note passes through it, so that a name of ten megabytes is not
/// quoted whole.
pub fn clip(text: String) -> String {
    let too_long = text
        .split('`')
        .skip(1)
        .step_by(2)
        .any(|q| q.chars().nth(QUOTE_LIMIT).is_some());
    if !too_long {
        return text;
    }
    let mut out = String::with_capacity(text.len().min(4 * QUOTE_LIMIT + 256));
    for (i, part) in text.split('`').enumerate() {
        if i > 0 {
            out.push('`');
        }
        match part.char_indices().nth(QUOTE_LIMIT - 1) {
            Some((cut, _)) if i % 2 == 1 && part.chars().nth(QUOTE_LIMIT).is_some() => {
                out.push_str(&part[..cut]);
                out.push('…');
            }
            _ => out.push_str(part),
        }
    }
    out
}

/// Lines longer than this are not shown under a diagnostic; it says where
/// it points instead.
pub const LINE_LIMIT: usize = 400;

/// Sorts diagnostics by position, then severity and code, and drops exact duplicates.
pub fn sort_diagnostics(diags: &mut Vec<Diagnostic>) {
    diags.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
    diags.dedup();
}

pub fn has_errors(diags: &[Diagnostic]) -> bool {
    diags.iter().any(Diagnostic::is_error)
}

/// Where the stages report. Each stage takes `&mut Sink`, reports every
/// diagnostic it finds into it (errors, warnings, notes), and returns
/// `Result<T, Failed>`. A stage fails only through [`Sink::finish`], which
/// fails exactly when an error was reported since the stage began: a stage
/// that fails has always said why, and one that said an error has always
/// failed. One boundary (`crate::driver` and the command line) turns what the
/// sink holds into text or JSON.
#[derive(Debug, Default)]
pub struct Sink {
    diags: Vec<Diagnostic>,
    errors: usize,
}

/// Proof that a stage failed and reported at least one error into its
/// [`Sink`]; only the sink makes one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Failed(());

/// A point in a [`Sink`]: how many errors it held when a stage began.
#[derive(Debug, Clone, Copy)]
pub struct Mark(usize);

impl Sink {
    pub fn new() -> Sink {
        Sink::default()
    }

    pub fn report(&mut self, d: Diagnostic) {
        if d.is_error() {
            self.errors += 1;
        }
        self.diags.push(d);
    }

    pub fn extend(&mut self, ds: impl IntoIterator<Item = Diagnostic>) {
        for d in ds {
            self.report(d);
        }
    }

    /// Where a stage begins.
    pub fn mark(&self) -> Mark {
        Mark(self.errors)
    }

    /// Whether an error was reported since `mark`.
    pub fn failed_since(&self, mark: Mark) -> bool {
        self.errors > mark.0
    }

    pub fn has_errors(&self) -> bool {
        self.errors > 0
    }

    /// The stage that began at `mark` ends: `value` when it reported no
    /// error, else [`Failed`].
    pub fn finish<T>(&self, mark: Mark, value: T) -> Result<T, Failed> {
        if self.failed_since(mark) {
            Err(Failed(()))
        } else {
            Ok(value)
        }
    }

    /// Everything reported, in the order it was reported.
    pub fn diagnostics(&self) -> &[Diagnostic] {
        &self.diags
    }

    /// Keeps only the diagnostics `keep` accepts (warnings silenced by
    /// `@silence`); errors are always kept.
    pub fn retain(&mut self, mut keep: impl FnMut(&Diagnostic) -> bool) {
        self.diags.retain(|d| d.is_error() || keep(d));
    }

    /// Everything reported, sorted ([`sort_diagnostics`]).
    pub fn into_sorted(mut self) -> Vec<Diagnostic> {
        sort_diagnostics(&mut self.diags);
        self.diags
    }
}

fn to_codespan(d: &Diagnostic) -> CsDiagnostic<crate::source::FileId> {
    let sev = match d.severity {
        Severity::Error => CsSeverity::Error,
        Severity::Warning => CsSeverity::Warning,
        Severity::Note => CsSeverity::Note,
    };
    let mut labels = Vec::new();
    if let Some(p) = d.primary {
        labels.push(Label::primary(p.file, p.range()).with_message(d.primary_label.clone()));
    }
    for l in &d.labels {
        labels.push(Label::secondary(l.span.file, l.span.range()).with_message(l.message.clone()));
    }
    let mut notes = Vec::new();
    if let Some(h) = &d.help {
        notes.push(format!("help: {h}"));
    }
    for n in &d.notes {
        notes.push(format!("note: {n}"));
    }
    CsDiagnostic::new(sev)
        .with_code(d.code)
        .with_message(d.message.clone())
        .with_labels(labels)
        .with_notes(notes)
}

/// Renders diagnostics as plain text (no colour), the way a terminal shows them.
pub fn render_human(sources: &SourceMap, diags: &[Diagnostic]) -> String {
    let mut buf = NoColor::new(Vec::new());
    let config = term::Config::default();
    for d in diags {
        // a line too long to show (a name of megabytes): where it points
        let long = d
            .primary
            .iter()
            .chain(d.labels.iter().map(|l| &l.span))
            .any(|s| line_len(sources, *s) > LINE_LIMIT);
        let shown;
        let d = if long {
            let mut plain = d.clone();
            plain.primary = None;
            plain.labels.clear();
            for s in d.primary.iter().chain(d.labels.iter().map(|l| &l.span)) {
                plain.notes.push(format!(
                    "at {}:{}:{} (line of {} bytes, not shown)",
                    sources.name(s.file),
                    sources.line(s.file, s.start),
                    sources.column(s.file, s.start),
                    line_len(sources, *s)
                ));
            }
            shown = plain;
            &shown
        } else {
            d
        };
        // Rendering into a Vec cannot fail for I/O reasons; a span outside its
        // file (a bug) falls back to the message alone.
        if term::emit(&mut buf, &config, sources, &to_codespan(d)).is_err() {
            let mut plain = d.clone();
            plain.primary = None;
            plain.labels.clear();
            let _ = term::emit(&mut buf, &config, sources, &to_codespan(&plain));
        }
    }
    String::from_utf8_lossy(&buf.into_inner()).into_owned()
}

/// The length in bytes of the longest line a span touches.
fn line_len(sources: &SourceMap, span: Span) -> usize {
    let text = sources.text(span.file).as_bytes();
    let start = span.start.min(text.len());
    let end = span.end.clamp(start, text.len());
    let from = text[..start]
        .iter()
        .rposition(|&b| b == b'\n')
        .map(|i| i + 1)
        .unwrap_or(0);
    let to = text[end..]
        .iter()
        .position(|&b| b == b'\n')
        .map(|i| end + i)
        .unwrap_or(text.len());
    text[from..to]
        .split(|&b| b == b'\n')
        .map(<[u8]>::len)
        .max()
        .unwrap_or(0)
}

#[derive(Serialize)]
struct JsonSpan {
    file: String,
    line: usize,
    column: usize,
    end_line: usize,
    end_column: usize,
    start: usize,
    end: usize,
    label: String,
}

#[derive(Serialize)]
struct JsonDiag {
    severity: Severity,
    code: &'static str,
    message: String,
    primary: Option<JsonSpan>,
    labels: Vec<JsonSpan>,
    help: Option<String>,
    notes: Vec<String>,
}

fn json_span(sources: &SourceMap, span: Span, label: &str) -> JsonSpan {
    JsonSpan {
        file: sources.name(span.file).to_string(),
        line: sources.line(span.file, span.start),
        column: sources.column(span.file, span.start),
        end_line: sources.line(span.file, span.end),
        end_column: sources.column(span.file, span.end),
        start: span.start,
        end: span.end,
        label: label.to_string(),
    }
}

/// Renders diagnostics as a JSON array (one object per diagnostic).
pub fn render_json(sources: &SourceMap, diags: &[Diagnostic]) -> String {
    let items: Vec<JsonDiag> = diags
        .iter()
        .map(|d| JsonDiag {
            severity: d.severity,
            code: d.code,
            message: d.message.clone(),
            primary: d.primary.map(|p| json_span(sources, p, &d.primary_label)),
            labels: d
                .labels
                .iter()
                .map(|l| json_span(sources, l.span, &l.message))
                .collect(),
            help: d.help.clone(),
            notes: d.notes.clone(),
        })
        .collect();
    // INVARIANT: plain structs of strings, numbers and options always
    // serialize to JSON.
    #[allow(clippy::expect_used)]
    serde_json::to_string_pretty(&items).expect("diagnostics serialize") // INVARIANT: see above
}

/// Edit distance for did-you-mean suggestions.
pub fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = if ca == *cb { 0 } else { 1 };
            cur.push((prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

/// Edit distance that also counts swapping two neighbouring characters as
/// one edit (`shpo` is one edit from `shop`), the commonest typo.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    // three rows: i-2, i-1, i
    let mut two: Vec<usize> = vec![0; b.len() + 1];
    let mut one: Vec<usize> = (0..=b.len()).collect();
    for i in 1..=a.len() {
        let mut cur = vec![i; b.len() + 1];
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            cur[j] = (one[j - 1] + cost).min(one[j] + 1).min(cur[j - 1] + 1);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                cur[j] = cur[j].min(two[j - 2] + 1);
            }
        }
        two = std::mem::replace(&mut one, cur);
    }
    one[b.len()]
}

/// The closest candidate within a distance that scales with the word's length.
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let len = word.chars().count();
    let limit = (len / 3).max(1);
    candidates
        .into_iter()
        // the distance is at least the difference in length: a name of
        // megabytes is not compared character by character with each
        .filter(|c| c.chars().count().abs_diff(len) <= limit)
        .map(|c| (edit_distance(word, c), c))
        .filter(|(d, _)| *d <= limit)
        .min()
        .map(|(_, c)| c)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions() {
        assert_eq!(did_you_mean("dbb", ["db", "api"]), Some("db"));
        assert_eq!(did_you_mean("zzz", ["db", "api"]), None);
        assert_eq!(levenshtein("kitten", "sitting"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("shpo", "shop"), 1);
        assert_eq!(edit_distance("ab", "ba"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(did_you_mean("shpo", ["shop", "payments"]), Some("shop"));
    }

    #[test]
    fn long_quotes_are_cut() {
        let long = "x".repeat(10_000);
        let d = Diagnostic::error("E0101", format!("unknown name `{long}`")).with_help(format!(
            "declare it with `workload {long} = app=x`, or fix `ab`"
        ));
        let cut = format!("`{}…`", "x".repeat(QUOTE_LIMIT - 1));
        assert_eq!(d.message, format!("unknown name {cut}"));
        let h = d.help.unwrap();
        assert!(
            h.starts_with("declare it with `workload xxx") && h.ends_with("…`, or fix `ab`"),
            "{h}"
        );
        assert_eq!(h.chars().filter(|c| *c == '…').count(), 1);
        // exactly the limit is kept whole; multi-byte characters are cut on a boundary
        let edge = "é".repeat(QUOTE_LIMIT);
        assert_eq!(clip(format!("`{edge}`")), format!("`{edge}`"));
        let over = "é".repeat(QUOTE_LIMIT + 1);
        assert_eq!(
            clip(format!("`{over}`")),
            format!("`{}…`", "é".repeat(QUOTE_LIMIT - 1))
        );
        assert_eq!(did_you_mean(&long, ["xx", "db"]), None);
    }

    #[test]
    fn a_long_line_is_not_shown() {
        let mut sm = SourceMap::new();
        let text = format!("allow {} -> b\n", "y".repeat(1_000_000));
        let f = sm.add("x.npl", text);
        let d =
            Diagnostic::error("E0101", "unknown name `b`").at(Span::new(f, 6, 1_000_006), "here");
        let out = render_human(&sm, &[d]);
        assert!(out.len() < 1_000, "{}", out.len());
        assert!(
            out.contains("at x.npl:1:7 (line of 1000011 bytes, not shown)"),
            "{out}"
        );
    }

    #[test]
    fn renders_text_and_json() {
        let mut sm = SourceMap::new();
        let f = sm.add("x.npl", "allow a -> b\n");
        let d = Diagnostic::error("E0101", "unknown name `b`")
            .at(Span::new(f, 11, 12), "not declared")
            .with_help("declare it");
        let text = render_human(&sm, std::slice::from_ref(&d));
        assert!(text.contains("error[E0101]: unknown name `b`"), "{text}");
        assert!(text.contains("x.npl:1:12"), "{text}");
        let json = render_json(&sm, &[d]);
        assert!(
            json.contains("\"line\": 1") && json.contains("\"column\": 12"),
            "{json}"
        );
    }
}
