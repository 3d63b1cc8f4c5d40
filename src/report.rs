//! Diagnostics for CI (issue 14). Input: the diagnostics of a run, the
//! source map, and where the repository is. Output: GitHub Actions
//! workflow commands (`::error file=…,line=…::…`, one per diagnostic) or
//! one SARIF 2.1.0 log (docs/ci.md). File names are made relative to the
//! repository root, as code-review tools expect.

use crate::codes;
use crate::diag::{Diagnostic, Severity};
use crate::source::{SourceMap, Span};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

/// Where `helpUri` points: docs/diagnostics.md in the project's repository
/// (`NPLC_HELP_BASE` overrides this prefix, for a fork or a mirror).
pub const HELP_BASE: &str = "https://github.com/nplc/nplc/blob/main/";

/// The repository a run reports into: the nearest directory above `cwd`
/// (or `cwd` itself) that holds `.git`, else `cwd`.
pub fn repo_root(cwd: &Path) -> PathBuf {
    cwd.ancestors()
        .find(|d| d.join(".git").exists())
        .unwrap_or(cwd)
        .to_path_buf()
}

/// `name` (as given on the command line, relative to `cwd`) relative to
/// `root`, with `/` separators; `None` when it lies outside `root`.
pub fn relative(name: &str, cwd: &Path, root: &Path) -> Option<String> {
    let abs = lexical(&cwd.join(name));
    let root = lexical(root);
    let rel = abs.strip_prefix(&root).ok()?;
    Some(
        rel.components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join("/"),
    )
}

/// `p` with `.` and `..` resolved without the file system.
fn lexical(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            c => out.push(c.as_os_str()),
        }
    }
    out
}

/// How a run names files: relative to the repository where it can.
pub struct Paths {
    pub cwd: PathBuf,
    pub root: PathBuf,
}

impl Paths {
    fn name(&self, sources: &SourceMap, span: Span) -> Option<String> {
        if sources.is_stdlib(span.file) {
            return None;
        }
        let name = sources.name(span.file);
        relative(name, &self.cwd, &self.root).or_else(|| Some(name.to_string()))
    }
}

/// GitHub's escaping of a workflow command's message.
fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// GitHub's escaping of a workflow command's property value.
fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// The message with its help and notes, as lines.
fn full_message(d: &Diagnostic) -> String {
    let mut m = d.message.clone();
    if let Some(h) = &d.help {
        m.push_str("\nhelp: ");
        m.push_str(h);
    }
    for n in &d.notes {
        m.push_str("\nnote: ");
        m.push_str(n);
    }
    m
}

/// One GitHub Actions workflow command per diagnostic
/// (`::error file=F,line=L,col=C,endLine=…,endColumn=…,title=CODE::message`).
pub fn render_github(sources: &SourceMap, diags: &[Diagnostic], paths: &Paths) -> String {
    let mut out = String::new();
    for d in diags {
        let cmd = match d.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
            _ => "notice",
        };
        let mut props = Vec::new();
        if let Some(span) = d.primary {
            if let Some(f) = paths.name(sources, span) {
                props.push(format!("file={}", escape_property(&f)));
                props.push(format!("line={}", sources.line(span.file, span.start)));
                props.push(format!("col={}", sources.column(span.file, span.start)));
                props.push(format!("endLine={}", sources.line(span.file, span.end)));
                props.push(format!("endColumn={}", sources.column(span.file, span.end)));
            }
        }
        props.push(format!(
            "title={}",
            escape_property(&format!("nplc {}", d.code))
        ));
        out.push_str(&format!(
            "::{cmd} {}::{}\n",
            props.join(","),
            escape_data(&format!("{}: {}", d.code, full_message(d)))
        ));
    }
    out
}

/// FNV-1a, 64 bits: a fingerprint that is the same on every platform and
/// in every version.
fn fnv1a(parts: &[&str]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for b in p.bytes().chain(std::iter::once(0)) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    format!("{h:016x}")
}

/// A `file:` URI's path part: each byte outside the unreserved set and `/`
/// percent-encoded.
fn uri_path(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn level(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
        _ => "note",
    }
}

/// The help page of a code: its row in docs/diagnostics.md.
fn help_uri(code: &codes::Code) -> String {
    let base = std::env::var("NPLC_HELP_BASE").unwrap_or_else(|_| HELP_BASE.to_string());
    format!("{base}{}", code.docs())
}

/// One SARIF 2.1.0 log of one run: a rule per code reported (id the code,
/// helpUri its row in docs/diagnostics.md), a result per diagnostic with
/// its location relative to the repository (`%SRCROOT%`), its labels as
/// related locations, and a fingerprint that does not depend on line
/// numbers (the code, the file, the text of the primary line, the message,
/// and how many identical results came before).
pub fn render_sarif(sources: &SourceMap, diags: &[Diagnostic], paths: &Paths) -> String {
    let mut rules: Vec<Value> = Vec::new();
    let mut rule_index: BTreeMap<&str, usize> = BTreeMap::new();
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut results = Vec::new();
    for d in diags {
        let idx = *rule_index.entry(d.code).or_insert_with(|| {
            let c = codes::CODES.iter().find(|c| c.code == d.code);
            let mut rule = json!({ "id": d.code });
            if let Some(c) = c {
                rule["shortDescription"] = json!({ "text": c.summary });
                rule["helpUri"] = json!(help_uri(c));
                rule["defaultConfiguration"] = json!({ "level": level(c.severity) });
            }
            rules.push(rule);
            rules.len() - 1
        });
        let location = |span: Span, message: Option<&str>| -> Option<Value> {
            let f = paths.name(sources, span)?;
            let mut loc = json!({
                "physicalLocation": {
                    "artifactLocation": { "uri": uri_path(&f), "uriBaseId": "%SRCROOT%" },
                    "region": {
                        "startLine": sources.line(span.file, span.start),
                        "startColumn": sources.column(span.file, span.start),
                        "endLine": sources.line(span.file, span.end),
                        "endColumn": sources.column(span.file, span.end),
                    }
                }
            });
            if let Some(m) = message.filter(|m| !m.is_empty()) {
                loc["message"] = json!({ "text": m });
            }
            Some(loc)
        };
        let mut r = json!({
            "ruleId": d.code,
            "ruleIndex": idx,
            "level": level(d.severity),
            "message": { "text": full_message(d) },
        });
        let mut file = String::new();
        let mut line_text = String::new();
        if let Some(span) = d.primary {
            if let Some(loc) = location(span, None) {
                r["locations"] = json!([loc]);
            }
            file = paths.name(sources, span).unwrap_or_default();
            let text = sources.text(span.file);
            let start = text[..span.start.min(text.len())]
                .rfind('\n')
                .map(|i| i + 1)
                .unwrap_or(0);
            let end = text[start..]
                .find('\n')
                .map(|i| start + i)
                .unwrap_or(text.len());
            line_text = text[start..end].trim().to_string();
        }
        let related: Vec<Value> = d
            .labels
            .iter()
            .filter_map(|l| location(l.span, Some(&l.message)))
            .enumerate()
            .map(|(i, mut v)| {
                v["id"] = json!(i);
                v
            })
            .collect();
        if !related.is_empty() {
            r["relatedLocations"] = json!(related);
        }
        let key = fnv1a(&[d.code, &file, &line_text, &d.message]);
        let n = seen.entry(key.clone()).or_insert(0);
        *n += 1;
        r["partialFingerprints"] = json!({ "nplcResultHash/v1": format!("{key}:{n}") });
        results.push(r);
    }
    let root = paths.root.to_string_lossy().replace('\\', "/");
    let root_uri = format!(
        "file://{}{}/",
        if root.starts_with('/') { "" } else { "/" },
        uri_path(root.trim_end_matches('/'))
    );
    let log = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": {
                "name": "nplc",
                "version": env!("CARGO_PKG_VERSION"),
                "informationUri": format!("{HELP_BASE}README.md"),
                "rules": rules,
            }},
            "originalUriBaseIds": { "%SRCROOT%": { "uri": root_uri } },
            "columnKind": "unicodeCodePoints",
            "results": results,
        }]
    });
    // INVARIANT: a `Value` always serializes.
    #[allow(clippy::expect_used)]
    serde_json::to_string_pretty(&log).expect("a JSON value serializes") // INVARIANT: see above
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_relative_to_the_repository() {
        let root = Path::new("/r");
        assert_eq!(
            relative("a/b.npl", Path::new("/r/x"), root).as_deref(),
            Some("x/a/b.npl")
        );
        assert_eq!(
            relative("../c.npl", Path::new("/r/x"), root).as_deref(),
            Some("c.npl")
        );
        assert_eq!(relative("/elsewhere/c.npl", Path::new("/r"), root), None);
    }

    #[test]
    fn github_escapes_its_separators() {
        assert_eq!(escape_property("a:b,c%\n"), "a%3Ab%2Cc%25%0A");
        assert_eq!(escape_data("a:b\r\n"), "a:b%0D%0A");
    }

    #[test]
    fn fingerprints_are_stable() {
        // the value is part of the format: code scanning matches results
        // across runs by it
        assert_eq!(fnv1a(&[]), "cbf29ce484222325");
        assert_ne!(fnv1a(&["a", "b"]), fnv1a(&["ab"]));
    }
}
