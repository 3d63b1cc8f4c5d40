//! Quick fixes for the diagnostics that say what to write instead. Input:
//! a diagnostic, the sources it points into and the parsed files. Output:
//! edits (byte spans and their new text), each with a title. The fixes
//! are read off the diagnostic as the stages build it (its code, its
//! primary span and the text its help quotes), so that the compiler
//! stays the one place that decides what is wrong:
//!
//! - a did-you-mean (E0101, E0102, W0609, the node firewall's unknown
//!   names): the name replaced by the suggestion;
//! - a CIDR with host bits (E0302): the network address, or the one
//!   address;
//! - `==` in a selector (E0204): `=`;
//! - egress isolated without DNS (W0706): `allow egress dns` in the
//!   namespace block, and `use dns` when the file does not have it.

use crate::diag::Diagnostic;
use crate::source::{FileId, SourceMap, Span};
use crate::syntax::ast;
use lsp_types::Range;
use std::collections::HashMap;

/// A fix as the server offers it: edits in the file of its diagnostic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fix {
    pub title: String,
    pub edits: Vec<(Range, String)>,
    pub preferred: bool,
}

/// (title, edits, preferred)
pub type RawFix = (String, Vec<(Span, String)>, bool);

/// The text between the backticks that follow `after` in `text`.
fn quoted_after<'a>(text: &'a str, after: &str) -> Option<&'a str> {
    let i = text.find(after)? + after.len();
    let rest = &text[i..];
    let end = rest.find('`')?;
    Some(&rest[..end])
}

/// The first backtick-quoted part of `text`.
fn first_quoted(text: &str) -> Option<&str> {
    quoted_after(text, "`")
}

pub fn fixes(
    d: &Diagnostic,
    sources: &SourceMap,
    files: &HashMap<FileId, &ast::File>,
) -> Vec<RawFix> {
    let Some(p) = d.primary else { return vec![] };
    let text = sources.text(p.file);
    let Some(written) = text.get(p.start..p.end) else {
        return vec![];
    };
    let mut out = Vec::new();
    let help = d.help.as_deref().unwrap_or("");
    // did you mean
    let suggestion =
        quoted_after(help, "did you mean `").or_else(|| quoted_after(&d.message, "did you mean `"));
    if let (Some(s), Some(unknown)) = (suggestion, first_quoted(&d.message)) {
        let s_name = match s.rsplit_once('/') {
            Some((_, n)) if !unknown.contains('/') && written == unknown => n,
            _ => s,
        };
        let edit = if written == unknown {
            Some((p, s_name.to_string()))
        } else if written.starts_with(&format!("{unknown}/")) {
            Some((
                Span::new(p.file, p.start, p.start + unknown.len()),
                s.to_string(),
            ))
        } else {
            written
                .find(unknown)
                .filter(|_| written.matches(unknown).count() == 1)
                .map(|i| {
                    (
                        Span::new(p.file, p.start + i, p.start + i + unknown.len()),
                        s.to_string(),
                    )
                })
        };
        if let Some((span, new)) = edit {
            out.push((
                format!("replace `{unknown}` with `{new}`"),
                vec![(span, new)],
                true,
            ));
        }
    }
    match d.code {
        "E0302" => {
            let bracket = |a: &str| {
                if written.starts_with('[') {
                    format!("[{a}]")
                } else {
                    a.to_string()
                }
            };
            if let Some(net) = quoted_after(help, "the network address is `") {
                let new = bracket(net);
                out.push((
                    format!("use the network address `{new}`"),
                    vec![(p, new)],
                    true,
                ));
            }
            if let Some(one) = quoted_after(help, "write `") {
                let new = bracket(one);
                out.push((
                    format!("match the one address `{new}`"),
                    vec![(p, new)],
                    false,
                ));
            }
        }
        "E0204" => {
            if let Some(i) = written.find("==") {
                let at = Span::new(p.file, p.start + i, p.start + i + 2);
                out.push((
                    "write `=` instead of `==`".into(),
                    vec![(at, "=".into())],
                    true,
                ));
            }
        }
        "W0706" => {
            if let Some(f) = files.get(&p.file) {
                out.extend(allow_dns(d, f, text, p));
            }
        }
        _ => {}
    }
    out
}

/// `allow egress dns` in the namespace block the diagnostic points into
/// (the first block of that namespace in the file), and `use dns` at the
/// top when the file does not use the module.
fn allow_dns(d: &Diagnostic, f: &ast::File, text: &str, p: Span) -> Option<RawFix> {
    let ns = first_quoted(&d.message)?;
    let block = f
        .items
        .iter()
        .filter_map(|i| match i {
            ast::Item::Namespace(b) if b.name.node == ns => Some(b),
            _ => None,
        })
        .find(|b| b.span.start <= p.start && p.end <= b.span.end)
        .or_else(|| {
            f.items.iter().find_map(|i| match i {
                ast::Item::Namespace(b) if b.name.node == ns => Some(b),
                _ => None,
            })
        })?;
    let brace = block.name.span.end + text.get(block.name.span.end..)?.find('{')?;
    let line_end = text[brace..].find('\n').map(|i| brace + i);
    let rest_of_line = line_end.map(|e| text[brace + 1..e].trim()).unwrap_or("x");
    let mut edits = Vec::new();
    let uses_dns = f.items.iter().any(|i| match i {
        ast::Item::Use(ms) => ms.iter().any(|m| m.node == "dns"),
        _ => false,
    });
    if !uses_dns {
        // before the first line that is not blank or a comment
        let mut at = 0;
        for line in text.split_inclusive('\n') {
            let t = line.trim();
            if !(t.is_empty() || t.starts_with('#')) {
                break;
            }
            at += line.len();
        }
        edits.push((Span::new(p.file, at, at), "use dns\n".to_string()));
    }
    match line_end {
        Some(e) if rest_of_line.is_empty() || rest_of_line.starts_with('#') => {
            // the indentation of the block's first statement, else two
            // spaces more than the block's own line
            let line_start = text[..brace].rfind('\n').map(|i| i + 1).unwrap_or(0);
            let own: String = text[line_start..]
                .chars()
                .take_while(|c| *c == ' ' || *c == '\t')
                .collect();
            let next: String = text[e + 1..]
                .lines()
                .find(|l| !l.trim().is_empty())
                .filter(|l| !l.trim_start().starts_with('}'))
                .map(|l| l.chars().take_while(|c| *c == ' ' || *c == '\t').collect())
                .unwrap_or_else(|| format!("{own}  "));
            edits.push((
                Span::new(p.file, e + 1, e + 1),
                format!("{next}allow egress dns\n"),
            ));
        }
        _ => edits.push((
            Span::new(p.file, brace + 1, brace + 1),
            " allow egress dns".to_string(),
        )),
    }
    Some((
        format!("allow DNS: add `allow egress dns` to namespace `{ns}`"),
        edits,
        true,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The diagnostics of `text` and their fixes, applied one by one.
    fn fixed(text: &str) -> Vec<(String, String)> {
        let c = crate::driver::check_inputs(&[crate::driver::Input {
            name: "a.npl".into(),
            text: text.into(),
        }]);
        let f = crate::syntax::parse_file(FileId(0), text).ok();
        let mut files = HashMap::new();
        if let Some(f) = &f {
            files.insert(FileId(0), f);
        }
        let mut out = Vec::new();
        for d in &c.diagnostics {
            for (title, mut edits, _) in fixes(d, &c.sources, &files) {
                edits.sort_by_key(|e| std::cmp::Reverse(e.0.start));
                let mut t = text.to_string();
                for (s, new) in edits {
                    t.replace_range(s.start..s.end, &new);
                }
                out.push((title, t));
            }
        }
        out
    }

    #[test]
    fn did_you_mean() {
        let f = fixed("namespace a {\n  workload api = app=api\n  allow apj -> *\n}\n");
        assert_eq!(f.len(), 1, "{f:?}");
        assert!(f[0].1.contains("allow api -> *"), "{f:?}");
    }

    #[test]
    fn host_bits() {
        let f = fixed("namespace a {\n  allow egress 10.0.0.1/8\n}\n");
        let texts: Vec<&str> = f.iter().map(|x| x.1.as_str()).collect();
        assert!(
            texts.iter().any(|t| t.contains("egress 10.0.0.0/8")),
            "{f:?}"
        );
        assert!(
            texts.iter().any(|t| t.contains("egress 10.0.0.1/32")),
            "{f:?}"
        );
    }

    #[test]
    fn eqeq() {
        let f = fixed("namespace a {\n  allow app==x -> *\n}\n");
        assert!(f.iter().any(|x| x.1.contains("allow app=x -> *")), "{f:?}");
    }

    #[test]
    fn dns() {
        let text = "# top\nnamespace a {\n  default deny\n  allow * -> *\n}\n";
        let f = fixed(text);
        let dns: Vec<&(String, String)> = f.iter().filter(|x| x.0.contains("dns")).collect();
        assert_eq!(dns.len(), 1, "{f:?}");
        assert_eq!(
            dns[0].1,
            "# top\nuse dns\nnamespace a {\n  allow egress dns\n  default deny\n  allow * -> *\n}\n"
        );
        // the result compiles without the warning
        let c = crate::driver::check_inputs(&[crate::driver::Input {
            name: "a.npl".into(),
            text: dns[0].1.clone(),
        }]);
        assert!(
            !c.diagnostics.iter().any(|d| d.code == "W0706"),
            "{:?}",
            c.diagnostics
        );
    }
}
