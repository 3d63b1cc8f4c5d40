//! Completion: what may be typed at a position. Input: a file's text up to
//! the cursor (which may not parse: completion runs on half-typed
//! statements), the name index and the label keys and values of the
//! program and the population. Output: completion items. The context is
//! read from the text alone: the innermost `namespace NAME {` or
//! `nodes {` block around the cursor (comments and quoted strings
//! skipped), and the word before it.

use super::index::Index;
use crate::source::FileId;
use lsp_types::{CompletionItem, CompletionItemKind, CompletionTextEdit, Range, TextEdit};
use std::collections::{BTreeMap, BTreeSet};

/// The block the cursor is in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Block {
    Top,
    Namespace(String),
    Nodes,
}

/// The block around `offset` and whether the cursor is inside `{...}` of a
/// namespace label selector.
pub fn block_at(text: &str, offset: usize) -> (Block, bool) {
    #[derive(Clone)]
    enum Open {
        Ns(String),
        Nodes,
        Other,
    }
    let end = super::text::floor_boundary(text, offset);
    let before = &text[..end];
    let mut stack: Vec<Open> = Vec::new();
    let mut in_comment = false;
    let mut in_string = false;
    for (i, c) in before.char_indices() {
        if in_comment {
            in_comment = c != '\n';
            continue;
        }
        if in_string {
            in_string = c != '"' && c != '\n';
            continue;
        }
        match c {
            '#' => in_comment = true,
            '"' => in_string = true,
            '{' => {
                let words: Vec<&str> = before[..i].split_whitespace().rev().take(2).collect();
                let open = match words.as_slice() {
                    [name, "namespace", ..] => Open::Ns(name.to_string()),
                    ["nodes", ..] => Open::Nodes,
                    [w, ..] if w.ends_with(')') || w.starts_with('@') => {
                        // `@silence(W0705) namespace x {` reads right above;
                        // anything else is a selector
                        Open::Other
                    }
                    _ => Open::Other,
                };
                stack.push(open);
            }
            '}' => {
                stack.pop();
            }
            _ => {}
        }
    }
    let in_selector = matches!(stack.last(), Some(Open::Other));
    let block = stack
        .iter()
        .rev()
        .find_map(|o| match o {
            Open::Ns(n) => Some(Block::Namespace(n.clone())),
            Open::Nodes => Some(Block::Nodes),
            Open::Other => None,
        })
        .unwrap_or(Block::Top);
    (block, in_selector || in_comment)
}

const TOP: &[&str] = &["use", "define", "namespace", "nodes", "port"];
const IN_NAMESPACE: &[&str] = &[
    "default", "allow", "deny", "isolate", "workload", "define", "ingress", "egress", "except",
    "cluster", "world", "in", "notin",
];
const IN_NODES: &[&str] = &["role", "allow", "deny", "runs", "except", "world"];

fn item(
    label: String,
    kind: CompletionItemKind,
    detail: Option<String>,
    range: Range,
) -> CompletionItem {
    CompletionItem {
        label: label.clone(),
        kind: Some(kind),
        detail,
        text_edit: Some(CompletionTextEdit::Edit(TextEdit::new(range, label))),
        ..CompletionItem::default()
    }
}

/// Everything that completion reads besides the text.
pub struct Sources<'a> {
    pub index: &'a Index,
    pub file: FileId,
    /// Label keys and values of the population (`nplc.toml`).
    pub population: &'a BTreeMap<String, BTreeSet<String>>,
}

/// The completions at `offset` of `text`; `range(start)` is the range from
/// byte `start` to the cursor.
pub fn complete(
    text: &str,
    offset: usize,
    src: &Sources,
    range: &dyn Fn(usize) -> Range,
) -> Vec<CompletionItem> {
    let offset = super::text::floor_boundary(text, offset);
    let line_start = text[..offset].rfind('\n').map(|i| i + 1).unwrap_or(0);
    let line = &text[line_start..offset];
    let (block, in_selector) = block_at(text, offset);
    if line.contains('#') && !line.contains('"') {
        return vec![];
    }
    // the word being typed: name characters back from the cursor
    let is_word = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.';
    let word_start = line
        .char_indices()
        .rev()
        .find(|(_, c)| !is_word(*c))
        .map(|(i, c)| i + c.len_utf8())
        .unwrap_or(0);
    let r = range(line_start + word_start);
    let before_word = &line[..word_start];
    let mut out = Vec::new();
    // @silence(CODE, ...)
    if let Some(i) = line.rfind("@silence(") {
        if !line[i..].contains(')') {
            for c in crate::codes::CODES
                .iter()
                .filter(|c| !c.code.starts_with('E'))
            {
                out.push(item(
                    c.code.to_string(),
                    CompletionItemKind::CONSTANT,
                    Some(c.summary.to_string()),
                    r,
                ));
            }
            return out;
        }
    }
    // use MODULE, ...
    let trimmed = line.trim_start();
    if block == Block::Top
        && trimmed.starts_with("use ")
        && before_word
            .trim_end()
            .chars()
            .all(|c| is_word(c) || c == ',' || c == ' ')
    {
        for (m, t) in crate::stdlib::MODULES {
            let about = t
                .lines()
                .next()
                .map(|l| l.trim_start_matches('#').trim().to_string());
            out.push(item(m.to_string(), CompletionItemKind::MODULE, about, r));
        }
        return out;
    }
    let population = src.population;
    let labels = |out: &mut Vec<CompletionItem>| {
        let mut keys: BTreeSet<&String> = src.index.labels.keys().collect();
        keys.extend(population.keys());
        for k in keys {
            out.push(item(
                k.clone(),
                CompletionItemKind::PROPERTY,
                Some("label key".into()),
                r,
            ));
        }
    };
    // KEY=VALUE, KEY!=VALUE, KEY in (VALUE
    let key_before = |s: &str| -> Option<String> {
        let s = s.trim_end();
        let s = s
            .strip_suffix("!=")
            .or_else(|| s.strip_suffix('='))
            .map(str::to_string)
            .or_else(|| {
                let open = s.rfind('(')?;
                let head = s[..open].trim_end();
                let head = head
                    .strip_suffix(" in")
                    .or_else(|| head.strip_suffix(" notin"))?;
                let after = &s[open + 1..];
                after
                    .chars()
                    .all(|c| is_word(c) || c == ',' || c == ' ')
                    .then(|| head.to_string())
            })?;
        let key: String = s
            .chars()
            .rev()
            .take_while(|c| is_word(*c) || *c == '/' || *c == '"')
            .collect::<Vec<char>>()
            .into_iter()
            .rev()
            .collect();
        let key = key.trim_matches('"').to_string();
        let key = match key.split_once('/') {
            // `ns/app=`: the key is after the namespace
            Some((ns, k)) if !ns.contains('.') && !src.index.labels.contains_key(&key) => {
                k.to_string()
            }
            _ => key,
        };
        (!key.is_empty()).then_some(key)
    };
    if let Some(key) = key_before(before_word) {
        let mut values: BTreeSet<&String> = BTreeSet::new();
        values.extend(src.index.labels.get(&key).into_iter().flatten());
        values.extend(population.get(&key).into_iter().flatten());
        for v in values {
            out.push(item(
                v.clone(),
                CompletionItemKind::VALUE,
                Some(format!("value of `{key}`")),
                r,
            ));
        }
        return out;
    }
    if in_selector {
        labels(&mut out);
        return out;
    }
    // NS/NAME
    if let Some(head) = before_word.strip_suffix('/') {
        let ns: String = head
            .chars()
            .rev()
            .take_while(|c| is_word(*c))
            .collect::<Vec<char>>()
            .into_iter()
            .rev()
            .collect();
        for n in src.index.in_namespace(&ns) {
            out.push(item(
                n,
                CompletionItemKind::VARIABLE,
                Some(format!("in namespace `{ns}`")),
                r,
            ));
        }
        labels(&mut out);
        return out;
    }
    // ROLE:PORT in a nodes block
    if block == Block::Nodes && before_word.trim_end().ends_with([':', ',']) && line.contains("->")
    {
        for p in src.index.port_names(src.file) {
            out.push(item(
                p,
                CompletionItemKind::CONSTANT,
                Some("component port".into()),
                r,
            ));
        }
        return out;
    }
    let (keywords, ns) = match &block {
        Block::Top => (TOP, None),
        Block::Namespace(n) => (IN_NAMESPACE, Some(n.as_str())),
        Block::Nodes => (IN_NODES, None),
    };
    for k in keywords {
        out.push(item(k.to_string(), CompletionItemKind::KEYWORD, None, r));
    }
    if block != Block::Top || trimmed.starts_with("define") {
        for (n, what) in src.index.visible(src.file, ns, block == Block::Nodes) {
            out.push(item(n, CompletionItemKind::VARIABLE, Some(what), r));
        }
        if block != Block::Nodes {
            for n in src.index.namespaces() {
                out.push(item(
                    format!("{n}/"),
                    CompletionItemKind::MODULE,
                    Some("namespace".into()),
                    r,
                ));
            }
            labels(&mut out);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks() {
        let t = "use dns\nnamespace a {\n  allow {team=ops}/x -> *\n}\nnodes {\n  role w\n}\n";
        assert_eq!(block_at(t, 3), (Block::Top, false));
        let i = t.find("allow").unwrap_or(0);
        assert_eq!(block_at(t, i), (Block::Namespace("a".into()), false));
        let i = t.find("team").unwrap_or(0);
        assert_eq!(block_at(t, i), (Block::Namespace("a".into()), true));
        let i = t.find("role").unwrap_or(0);
        assert_eq!(block_at(t, i), (Block::Nodes, false));
        // a brace in a comment does not count
        let t = "namespace a { # {\n  allow";
        assert_eq!(block_at(t, t.len()), (Block::Namespace("a".into()), false));
    }
}
