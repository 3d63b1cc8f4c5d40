//! The formatter (`nplc fmt`): one canonical layout for a `.npl` file.
//! Input: one file's text. Output: the same program laid out as
//! docs/fmt.md describes (or the file's syntax error, E0001). It reads
//! pest's tree, so it lives beside the parser; it changes only whitespace,
//! the order of statements whose order has no meaning (`use` and
//! definitions first), and nothing else: every token is kept.

use super::parser::{parse_tree, Rule};
use crate::diag::Diagnostic;
use crate::source::FileId;
use pest::iterators::Pair;

/// One level of indentation.
const INDENT: &str = "  ";
/// Spaces before a trailing comment (at least).
const COMMENT_GAP: usize = 2;

/// Formats one file. The result parses to the same program (the same
/// tokens) and formatting it again changes nothing.
pub fn format_source(file: FileId, text: &str) -> Result<String, Diagnostic> {
    let root = parse_tree(file, text)?;
    // the statements as written, for the safety net below
    let keys = statement_keys(Some(root.clone()));
    let f = Fmt {
        text,
        comments: comments(text),
    };
    let start = if text.starts_with('\u{FEFF}') { 3 } else { 0 };
    let items: Vec<Pair<Rule>> = root
        .into_inner()
        .filter(|p| p.as_rule() != Rule::EOI)
        .collect();
    let body = f.body(items, start, text.len(), Level::Top);
    let mut out = Vec::new();
    emit_body(&body, 0, &mut out);
    let mut s = out.join("\n");
    if !s.is_empty() {
        s.push('\n');
    }
    // the safety net: the same statements, token for token (a grammar
    // form this file does not know would otherwise lose its punctuation)
    let same = parse_tree(file, &s)
        .map(|tree| statement_keys(Some(tree)) == keys)
        .unwrap_or(false);
    if !same {
        return Err(Diagnostic::error(
            "E0005",
            "`nplc fmt` cannot lay out this file without changing it",
        )
        .with_help("the file is left as it is; please report it with the file attached"));
    }
    Ok(s)
}

/// Every statement of a file as its code without blanks and comments,
/// prefixed by the code of the block it is in, sorted: what formatting
/// must keep (it moves statements and changes blanks, nothing else).
fn statement_keys(tree: Option<Pair<Rule>>) -> Vec<String> {
    let squeeze = |s: &str| -> String {
        let mut out = String::new();
        let mut in_quote = false;
        let mut in_comment = false;
        for c in s.chars() {
            match c {
                '\n' => {
                    in_comment = false;
                    in_quote = false;
                }
                _ if in_comment => {}
                '"' => {
                    in_quote = !in_quote;
                    out.push(c);
                }
                '#' if !in_quote => in_comment = true,
                c if c.is_whitespace() && !in_quote => {}
                c => out.push(c),
            }
        }
        out
    };
    let mut keys = Vec::new();
    let Some(tree) = tree else { return keys };
    for item in tree.into_inner() {
        match item.as_rule() {
            Rule::namespace_block | Rule::nodes_block => {
                let mut head = String::new();
                for k in item.clone().into_inner() {
                    match k.as_rule() {
                        Rule::attrs | Rule::kw_namespace | Rule::kw_nodes | Rule::ns_name => {
                            head.push_str(&squeeze(k.as_str()));
                            head.push(' ');
                        }
                        _ => keys.push(format!("{head}{{ {}", squeeze(k.as_str()))),
                    }
                }
                keys.push(head);
            }
            Rule::EOI => {}
            _ => keys.push(squeeze(item.as_str())),
        }
    }
    keys.sort();
    keys
}

/// Whether `text` is already formatted (a file with a syntax error is not).
pub fn is_formatted(text: &str) -> bool {
    format_source(FileId(0), text)
        .map(|f| f == text)
        .unwrap_or(false)
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Line {
    Blank,
    Comment(String),
}

#[derive(Copy, Clone, PartialEq, Eq)]
enum Level {
    Top,
    Namespace,
    Nodes,
}

/// One statement (or block) with the comments around it.
struct Stmt {
    /// Statements are sorted by group (stable): `use`, then definitions,
    /// then the rest.
    group: u8,
    /// Statements of one kind in a row align their `=`.
    align: Option<Rule>,
    /// Comment and blank lines before the statement.
    leading: Vec<Line>,
    attrs: Option<String>,
    /// The statement, or the part before ` = ` where `tail` is set.
    head: String,
    /// `= ...`, aligned with the statements of the same kind around.
    tail: Option<String>,
    /// Continuation lines (a `port`'s note, roles and `for management`).
    more: Vec<String>,
    /// The source lines of a statement with a comment inside (kept as
    /// written, re-indented).
    verbatim: Option<Vec<String>>,
    /// A comment after the statement on its last line.
    trailing: Option<String>,
    /// A block's statements.
    body: Option<Body>,
    /// A block's comment on the line of its `{`.
    header_comment: Option<String>,
}

struct Body {
    level: Level,
    /// Comment lines at the head of a file, before its first statement.
    header: Vec<Line>,
    stmts: Vec<Stmt>,
    /// Comment lines after the last statement.
    end: Vec<Line>,
}

struct Fmt<'a> {
    text: &'a str,
    /// Byte ranges of the comments (`#` to the end of its line).
    comments: Vec<(usize, usize)>,
}

/// The comments of `text`: a `#` outside a quoted string, to the end of
/// its line.
fn comments(text: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '#' => {
                let mut end = text.len();
                for (j, c) in chars.by_ref() {
                    if c == '\n' {
                        end = j;
                        break;
                    }
                }
                out.push((i, end));
            }
            '"' => {
                for (_, c) in chars.by_ref() {
                    if c == '"' || c == '\n' {
                        break;
                    }
                }
            }
            _ => {}
        }
    }
    out
}

impl<'a> Fmt<'a> {
    /// The end of the last token in `text[s..e]`: pest's span of a rule
    /// that ends in an optional part takes the blanks and comments after it.
    fn code_end(&self, s: usize, e: usize) -> usize {
        let mut end = s;
        let mut chars = self.text[s..e].char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '#' => {
                    for (_, c) in chars.by_ref() {
                        if c == '\n' {
                            break;
                        }
                    }
                }
                '"' => {
                    for (j, c) in chars.by_ref() {
                        end = s + j + c.len_utf8();
                        if c == '"' || c == '\n' {
                            break;
                        }
                    }
                }
                c if c.is_whitespace() => {}
                c => end = s + i + c.len_utf8(),
            }
        }
        end
    }

    fn comment(&self, c: (usize, usize)) -> String {
        self.text[c.0..c.1].trim_end().to_string()
    }

    /// The comments that start in `a..b` (a binary search: the comments
    /// are in text order).
    fn comments_in(&self, a: usize, b: usize) -> impl Iterator<Item = (usize, usize)> + '_ {
        let from = self.comments.partition_point(|c| c.0 < a);
        let to = self.comments.partition_point(|c| c.0 < b).max(from);
        self.comments[from..to].iter().copied()
    }

    /// The comment on the line that ends at `from` (after a statement or a
    /// `{`), if one starts before `to`.
    fn same_line_comment(&self, from: usize, to: usize) -> Option<(usize, usize)> {
        let c = self.comments_in(from, to).next()?;
        (!self.text[from..c.0].contains('\n')).then_some(c)
    }

    /// The comment and blank lines of `text[a..b]`, where `a` is on the
    /// line of what came before (unless `line_start`) and `b` on the line
    /// of what follows.
    fn lines_between(&self, a: usize, b: usize, line_start: bool) -> Vec<Line> {
        self.lines_of(&self.text[a..b], !line_start, true)
    }

    /// The comment and blank lines of `text`, but for its first segment
    /// (the rest of a line) and its last (the start of one) where told.
    fn lines_of(&self, text: &str, skip_first: bool, skip_last: bool) -> Vec<Line> {
        let seg: Vec<&str> = text.split('\n').collect();
        let first = usize::from(skip_first);
        let last = seg.len() - usize::from(skip_last);
        let mut out: Vec<Line> = Vec::new();
        for s in seg.iter().take(last).skip(first) {
            let t = s.trim();
            let line = if t.is_empty() {
                Line::Blank
            } else {
                Line::Comment(t.to_string())
            };
            if line == Line::Blank && out.last() == Some(&Line::Blank) {
                continue;
            }
            out.push(line);
        }
        out
    }

    /// The statements of a file or block between `from` and `to`.
    fn body(&self, items: Vec<Pair<'a, Rule>>, from: usize, to: usize, level: Level) -> Body {
        let mut stmts: Vec<Stmt> = Vec::new();
        let mut prev_end = from;
        let mut header = Vec::new();
        for p in items {
            let s = p.as_span().start();
            let e = self.code_end(s, p.as_span().end());
            let mut gap_start = prev_end;
            let at_start = stmts.is_empty() && level == Level::Top;
            if !at_start {
                if let Some(c) = self.same_line_comment(prev_end, s) {
                    let text = self.comment(c);
                    match stmts.last_mut() {
                        Some(last) => last.trailing = Some(text),
                        None => header.push(Line::Comment(text)),
                    }
                    gap_start = c.1;
                }
            }
            let mut leading = self.lines_between(gap_start, s, at_start);
            if stmts.is_empty() {
                while leading.first() == Some(&Line::Blank) {
                    leading.remove(0);
                }
            }
            if at_start {
                // a comment block followed by a blank line heads the file
                if let Some(i) = leading.iter().rposition(|l| *l == Line::Blank) {
                    header = leading.drain(..=i).collect();
                }
            }
            let mut st = self.stmt(p, level);
            let mut lead = leading;
            lead.append(&mut st.leading);
            st.leading = lead;
            stmts.push(st);
            prev_end = e;
        }
        // comments after the last statement
        let mut gap_start = prev_end;
        let mut end = Vec::new();
        if let Some(c) = self.same_line_comment(prev_end, to) {
            let text = self.comment(c);
            match stmts.last_mut() {
                Some(last) => last.trailing = Some(text),
                None if level == Level::Top => end.push(Line::Comment(text)),
                None => header.push(Line::Comment(text)),
            }
            gap_start = c.1;
        }
        // a file's last line may lack its newline; a block's last segment
        // is the indentation of its `}`
        let top = level == Level::Top;
        let line_start = top && stmts.is_empty() && header.is_empty() && gap_start == from;
        let tail = self.lines_of(&self.text[gap_start..to], !line_start, !top);
        end.extend(tail);
        while end.first() == Some(&Line::Blank) && stmts.is_empty() {
            end.remove(0);
        }
        while end.last() == Some(&Line::Blank) {
            end.pop();
        }
        // canonical order: stable by group
        stmts.sort_by_key(|s| s.group);
        Body {
            level,
            header,
            stmts,
            end,
        }
    }

    fn stmt(&self, p: Pair<'a, Rule>, level: Level) -> Stmt {
        let rule = p.as_rule();
        let s = p.as_span().start();
        let e = self.code_end(s, p.as_span().end());
        let mut st = Stmt {
            group: 2,
            align: None,
            leading: Vec::new(),
            attrs: None,
            head: String::new(),
            tail: None,
            more: Vec::new(),
            verbatim: None,
            trailing: None,
            body: None,
            header_comment: None,
        };
        let kids: Vec<Pair<Rule>> = p.clone().into_inner().collect();
        let mut rest: Vec<Pair<Rule>> = Vec::new();
        for k in kids {
            if k.as_rule() == Rule::attrs {
                st.attrs = Some(
                    k.into_inner()
                        .map(|a| attr(&a))
                        .collect::<Vec<_>>()
                        .join(" "),
                );
            } else {
                rest.push(k);
            }
        }
        if matches!(rule, Rule::namespace_block | Rule::nodes_block) {
            return self.block(st, rule, rest, s, e);
        }
        if self.comments_in(s, e).next().is_some() {
            st.verbatim = Some(
                self.text[s..e]
                    .lines()
                    .map(|l| l.trim().to_string())
                    .collect(),
            );
            st.group = group(rule, level);
            return st;
        }
        st.group = group(rule, level);
        match rule {
            Rule::use_stmt => {
                st.head = format!("use {}", join(&rest[1..], ", "));
            }
            Rule::define_stmt | Rule::workload_stmt => {
                st.align = Some(rule);
                st.head = format!("{} {}", rest[0].as_str(), rest[1].as_str());
                st.tail = Some(format!("= {}", render(&rest[2])));
            }
            Rule::port_decl => {
                st.head = format!("port {} = {}", rest[1].as_str(), render(&rest[2]));
                st.more = rest[3..].iter().map(render).collect();
            }
            Rule::role_stmt => {
                st.align = Some(rule);
                st.head = format!("role {}", rest[1].as_str());
                let mut t = String::new();
                for k in &rest[2..] {
                    if k.as_rule() == Rule::peer_list {
                        t.push_str(&format!("= {}", render(k)));
                    } else {
                        if !t.is_empty() {
                            t.push(' ');
                        }
                        t.push_str(&render(k));
                    }
                }
                if rest[2..].iter().any(|k| k.as_rule() == Rule::peer_list) {
                    st.tail = Some(t);
                } else {
                    st.align = None;
                    if !t.is_empty() {
                        st.head.push(' ');
                        st.head.push_str(&t);
                    }
                }
            }
            Rule::node_rule => {
                st.head = format!("{} {}", render(&rest[0]), join(&rest[1..], " -> "));
            }
            // `labels {}` and `labels {K=V, ...}`: the braces are literals
            Rule::labels_stmt => {
                st.head = match rest.get(1) {
                    Some(sel) => format!("labels {{{}}}", render(sel)),
                    None => "labels {}".to_string(),
                };
            }
            _ => st.head = join(&rest, " "),
        }
        st
    }

    fn block(
        &self,
        mut st: Stmt,
        rule: Rule,
        rest: Vec<Pair<'a, Rule>>,
        s: usize,
        e: usize,
    ) -> Stmt {
        let (level, nhead) = if rule == Rule::namespace_block {
            (Level::Namespace, 2)
        } else {
            (Level::Nodes, 1)
        };
        let head_end = rest
            .get(nhead - 1)
            .map(|p| self.code_end(p.as_span().start(), p.as_span().end()))
            .unwrap_or(s);
        // the `{` after the head, outside comments
        let mut brace = head_end;
        let bytes = self.text.as_bytes();
        while brace < e && bytes[brace] != b'{' {
            if bytes[brace] == b'#' {
                while brace < e && bytes[brace] != b'\n' {
                    brace += 1;
                }
            } else {
                brace += 1;
            }
        }
        // comments inside the head move before the block
        for c in self.comments_in(s, brace) {
            st.leading.push(Line::Comment(self.comment(c)));
        }
        st.head = format!("{} {{", join(&rest[..nhead], " "));
        let items: Vec<Pair<Rule>> = rest.into_iter().skip(nhead).collect();
        let from = (brace + 1).min(e);
        // a comment after the `{`, before the first statement
        let first = items
            .first()
            .map(|p| p.as_span().start())
            .unwrap_or(e.saturating_sub(1));
        let header = self.same_line_comment(from, first);
        if let Some(c) = header {
            st.header_comment = Some(self.comment(c));
        }
        let inner_from = header.map(|c| c.1).unwrap_or(from);
        let body = self.body(items, inner_from, e.saturating_sub(1), level);
        st.group = group(rule, Level::Top);
        st.body = Some(body);
        st
    }
}

/// The canonical order of statements within a level.
fn group(rule: Rule, level: Level) -> u8 {
    match (level, rule) {
        (Level::Top, Rule::use_stmt) => 0,
        (Level::Top, Rule::define_stmt) => 1,
        (Level::Namespace, Rule::labels_stmt) => 0,
        (Level::Namespace, Rule::define_stmt) => 1,
        (Level::Namespace, Rule::workload_stmt) => 2,
        (Level::Nodes, Rule::role_stmt) => 0,
        _ => 3,
    }
}

fn attr(p: &Pair<Rule>) -> String {
    let codes: Vec<&str> = p.clone().into_inner().map(|c| c.as_str()).collect();
    format!("@silence({})", codes.join(", "))
}

fn join(ps: &[Pair<Rule>], sep: &str) -> String {
    ps.iter().map(render).collect::<Vec<_>>().join(sep)
}

/// The canonical text of a part of a statement.
fn render(p: &Pair<Rule>) -> String {
    let kids: Vec<Pair<Rule>> = p.clone().into_inner().collect();
    match p.as_rule() {
        Rule::side => kids.iter().map(render).collect::<String>(),
        Rule::peer_list => {
            let mut s = String::new();
            for k in &kids {
                if k.as_rule() == Rule::peer_sep {
                    s.push_str(if k.as_str() == "|" { " | " } else { ", " });
                } else {
                    s.push_str(&render(k));
                }
            }
            s
        }
        Rule::group => format!("({})", join(&kids, "")),
        Rule::ns_labels => {
            let mut s = format!("{{{}}}", render(&kids[0]));
            if let Some(pod) = kids.get(1) {
                s.push('/');
                s.push_str(&render(pod));
            }
            s
        }
        Rule::ns_peer => format!("{}/{}", kids[0].as_str(), render(&kids[1])),
        Rule::dns_peer => format!("dns:{}", join(&kids, "")),
        Rule::selector | Rule::port_list => join(&kids, ", "),
        Rule::value_list => format!("({})", join(&kids, ", ")),
        Rule::requirement => {
            let mut s = String::new();
            for k in &kids {
                match k.as_rule() {
                    Rule::req_absent => s.push_str(&format!(
                        "!{}",
                        render(&k.clone().into_inner().collect::<Vec<_>>()[0])
                    )),
                    Rule::req_in | Rule::req_notin => {
                        s.push(' ');
                        s.push_str(&join(&k.clone().into_inner().collect::<Vec<_>>(), " "));
                    }
                    _ => s.push_str(&render(k)),
                }
            }
            s
        }
        Rule::req_cmp | Rule::pod_part | Rule::port_spec | Rule::direction | Rule::action => {
            kids.iter().map(render).collect::<String>()
        }
        Rule::ports => format!(":{}", join(&kids, "")),
        Rule::port_item => join(&kids, "/"),
        Rule::port_range => {
            let sep = if kids[0].as_rule() == Rule::port_name {
                " - "
            } else {
                "-"
            };
            join(&kids, sep)
        }
        Rule::full_rule => join(&kids, " -> "),
        Rule::port_on => format!(
            "on {}",
            kids[1..]
                .iter()
                .map(|k| k.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Rule::role_runs => format!(
            "runs {}",
            kids[1..]
                .iter()
                .map(|k| k.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        _ if kids.is_empty() => p.as_str().trim().to_string(),
        _ => join(&kids, " "),
    }
}

/// The output lines of a body at `depth`.
fn emit_body(b: &Body, depth: usize, out: &mut Vec<String>) {
    let level = b.level;
    let ind = INDENT.repeat(depth);
    for l in &b.header {
        out.push(line(l, &ind));
    }
    // the `=` of statements of one kind in a row
    let n = b.stmts.len();
    let mut widths = vec![0usize; n];
    let mut i = 0;
    while i < n {
        let mut j = i + 1;
        if b.stmts[i].align.is_some() && b.stmts[i].alignable() {
            while j < n
                && b.stmts[j].align == b.stmts[i].align
                && b.stmts[j].alignable()
                && b.stmts[j].leading.is_empty()
                && b.stmts[j - 1].group == b.stmts[j].group
            {
                j += 1;
            }
            let w = b.stmts[i..j]
                .iter()
                .map(|s| s.head.chars().count())
                .max()
                .unwrap_or(0);
            for wi in widths.iter_mut().take(j).skip(i) {
                *wi = w;
            }
        }
        i = j;
    }
    // each statement's lines, and where its trailing comment goes
    let mut rendered: Vec<Rendered> = Vec::new();
    for (k, s) in b.stmts.iter().enumerate() {
        let mut leading = s.leading.clone();
        if k == 0 {
            while leading.first() == Some(&Line::Blank) {
                leading.remove(0);
            }
        }
        if k > 0 {
            let prev = &b.stmts[k - 1];
            let blank = prev.group != s.group
                || (level == Level::Top && (prev.body.is_some() || s.body.is_some()));
            if blank && leading.first() != Some(&Line::Blank) {
                leading.insert(0, Line::Blank);
            }
        }
        let mut lines = Vec::new();
        if let Some(v) = &s.verbatim {
            for (x, l) in v.iter().enumerate() {
                let extra = if x == 0 { "" } else { INDENT };
                lines.push(format!("{ind}{extra}{l}"));
            }
        } else {
            let mut ind_attrs = ind.clone();
            if let Some(a) = &s.attrs {
                if s.body.is_some() {
                    lines.push(format!("{ind}{a}"));
                } else {
                    ind_attrs = format!("{ind}{a} ");
                }
            }
            let ind = &ind_attrs;
            let mut first = match &s.tail {
                Some(t) => format!(
                    "{ind}{}{} {t}",
                    s.head,
                    " ".repeat(widths[k].saturating_sub(s.head.chars().count()))
                ),
                None => format!("{ind}{}", s.head),
            };
            if let Some(body) = &s.body {
                if body.stmts.is_empty()
                    && body.end.is_empty()
                    && body.header.is_empty()
                    && s.header_comment.is_none()
                {
                    first.push('}');
                    lines.push(first);
                } else {
                    if let Some(c) = &s.header_comment {
                        first.push_str(&" ".repeat(COMMENT_GAP));
                        first.push_str(c);
                    }
                    lines.push(first);
                    emit_body(body, depth + 1, &mut lines);
                    lines.push(format!("{ind}}}"));
                }
            } else {
                lines.push(first);
                for m in &s.more {
                    lines.push(format!("{}{INDENT}{m}", INDENT.repeat(depth)));
                }
            }
        }
        rendered.push((leading, lines, s.trailing.clone(), s.body.is_none()));
    }
    // trailing comments of statements in a row line up
    let n = rendered.len();
    let mut col = vec![0usize; n];
    let mut i = 0;
    while i < n {
        let mut j = i + 1;
        let one = |r: &Rendered| r.2.is_some() && r.3 && r.1.len() == 1;
        if one(&rendered[i]) {
            while j < n && one(&rendered[j]) && rendered[j].0.is_empty() {
                j += 1;
            }
            let w = rendered[i..j]
                .iter()
                .map(|r| r.1.last().map(|l| l.chars().count()).unwrap_or(0))
                .max()
                .unwrap_or(0);
            for c in col.iter_mut().take(j).skip(i) {
                *c = w + COMMENT_GAP;
            }
        }
        i = j;
    }
    for (k, (leading, mut lines, trailing, _)) in rendered.into_iter().enumerate() {
        for l in &leading {
            out.push(line(l, &ind));
        }
        if let (Some(c), Some(last)) = (trailing, lines.last_mut()) {
            let w = last.chars().count();
            let pad = if col[k] > w { col[k] - w } else { COMMENT_GAP };
            last.push_str(&" ".repeat(pad));
            last.push_str(&c);
        }
        out.extend(lines);
    }
    let mut end = b.end.clone();
    if b.stmts.is_empty() && b.header.is_empty() {
        while end.first() == Some(&Line::Blank) {
            end.remove(0);
        }
    }
    for l in &end {
        out.push(line(l, &ind));
    }
}

impl Stmt {
    fn alignable(&self) -> bool {
        self.verbatim.is_none() && self.attrs.is_none() && self.tail.is_some()
    }
}

/// A statement's output: its leading lines, its own lines, its trailing
/// comment, and whether it is a statement (not a block).
type Rendered = (Vec<Line>, Vec<String>, Option<String>, bool);

fn line(l: &Line, ind: &str) -> String {
    match l {
        Line::Blank => String::new(),
        Line::Comment(c) => format!("{ind}{c}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(text: &str) -> String {
        format_source(FileId(0), text).unwrap()
    }

    #[test]
    fn spacing_is_canonical() {
        assert_eq!(
            f("namespace a{allow   app = x,tier in(a,b)|b/* ->{t=1}/c=d : tcp / 80,81-82}"),
            "namespace a {\n  allow app=x, tier in (a, b) | b/* -> {t=1}/c=d:tcp/80, 81-82\n}\n"
        );
    }

    #[test]
    fn use_and_definitions_come_first() {
        assert_eq!(
            f("namespace a { allow x -> y\n workload x = app=x\n define y = app=y }\nuse dns\ndefine z = 10.0.0.0/8\n"),
            "use dns\n\ndefine z = 10.0.0.0/8\n\nnamespace a {\n  define y = app=y\n\n  workload x = app=x\n\n  allow x -> y\n}\n"
        );
    }

    #[test]
    fn a_named_port_range_keeps_its_spaces() {
        // `http-https` would be one port name
        assert_eq!(
            f("namespace a { allow * -> *:http - https }"),
            "namespace a {\n  allow * -> *:http - https\n}\n"
        );
    }

    #[test]
    fn ports_keep_their_continuation_lines() {
        let text = "port p = tcp/1\n  \"a note\"\n  on cp\n  for management\n";
        assert_eq!(f(text), text);
    }

    #[test]
    fn comments_only_and_empty_files() {
        assert_eq!(f(""), "");
        assert_eq!(f("\n\n"), "");
        assert_eq!(f("# only\n\n\n# comments"), "# only\n\n# comments\n");
        assert_eq!(f("\u{FEFF}namespace a {}"), "namespace a {}\n");
    }

    #[test]
    fn the_safety_net_compares_statements_not_layout() {
        let keys = |t: &str| statement_keys(parse_tree(FileId(0), t).ok());
        let a = "namespace a { allow a -> b:80 # c\n workload a = app=a }\nuse dns";
        assert_eq!(keys(a), keys(&f(a)));
        assert_ne!(
            keys(a),
            keys("namespace a { allow a -> b:81\n workload a = app=a }\nuse dns")
        );
        assert_ne!(
            keys(a),
            keys("namespace b { allow a -> b:80\n workload a = app=a }\nuse dns")
        );
        // blanks inside a quoted note count
        assert_ne!(
            keys("port p = tcp/1 \"a b\""),
            keys("port p = tcp/1 \"ab\"")
        );
    }

    #[test]
    fn is_formatted_says_whether_fmt_changes_the_text() {
        assert!(is_formatted("namespace a {}\n"));
        assert!(!is_formatted("namespace a { }"));
        assert!(!is_formatted("namespace a {"));
    }
}
