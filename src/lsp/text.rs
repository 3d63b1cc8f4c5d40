//! Positions for the language server: the protocol counts lines and UTF-16
//! code units, the compiler byte offsets. Input: a document's text and
//! its edits. Output: offsets for positions, positions for offsets, and
//! the text after an edit. Every conversion clamps to the text and to
//! character boundaries, so that no position an editor sends can panic.

use lsp_types::{Position, Range};

/// Where each line of a text starts (byte offsets).
#[derive(Debug, Clone, Default)]
pub struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    pub fn new(text: &str) -> LineIndex {
        LineIndex {
            starts: std::iter::once(0)
                .chain(text.match_indices('\n').map(|(i, _)| i + 1))
                .collect(),
        }
    }

    /// The position of a byte offset (clamped to the text; inside a
    /// character, its start).
    pub fn position(&self, text: &str, offset: usize) -> Position {
        let offset = floor_boundary(text, offset.min(text.len()));
        let line = match self.starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i.saturating_sub(1),
        };
        let start = self.starts.get(line).copied().unwrap_or(0).min(offset);
        let col: usize = text
            .get(start..offset)
            .map(|s| s.chars().map(char::len_utf16).sum())
            .unwrap_or(0);
        Position::new(line as u32, col as u32)
    }

    /// The byte offset of a position: a line past the end is the end of
    /// the text, a column past the end of its line the end of the line.
    pub fn offset(&self, text: &str, pos: Position) -> usize {
        let Some(&start) = self.starts.get(pos.line as usize) else {
            return text.len();
        };
        let end = self
            .starts
            .get(pos.line as usize + 1)
            .map(|e| e.saturating_sub(1))
            .unwrap_or(text.len())
            .min(text.len());
        let line = text.get(start..end).unwrap_or("");
        let mut units = 0usize;
        for (i, c) in line.char_indices() {
            if units >= pos.character as usize {
                return start + i;
            }
            units += c.len_utf16();
        }
        end
    }

    pub fn range(&self, text: &str, start: usize, end: usize) -> Range {
        Range::new(self.position(text, start), self.position(text, end))
    }
}

/// The largest character boundary at or before `i`.
pub fn floor_boundary(text: &str, mut i: usize) -> usize {
    i = i.min(text.len());
    while i > 0 && !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// The one edit that turns `old` into `new`: the byte range of `old`
/// between their common prefix and suffix (on character boundaries), and
/// what replaces it; `None` when they are equal.
pub fn minimal_edit<'n>(old: &str, new: &'n str) -> Option<(usize, usize, &'n str)> {
    if old == new {
        return None;
    }
    let mut pre = old
        .bytes()
        .zip(new.bytes())
        .take_while(|(a, b)| a == b)
        .count();
    while !(old.is_char_boundary(pre) && new.is_char_boundary(pre)) {
        pre -= 1;
    }
    let room = old.len().min(new.len()) - pre;
    let mut suf = old
        .bytes()
        .rev()
        .zip(new.bytes().rev())
        .take(room)
        .take_while(|(a, b)| a == b)
        .count();
    while !(old.is_char_boundary(old.len() - suf) && new.is_char_boundary(new.len() - suf)) {
        suf -= 1;
    }
    Some((pre, old.len() - suf, &new[pre..new.len() - suf]))
}

/// `text` with `range` replaced by `new` (a range given by the editor;
/// clamped, ends swapped when reversed).
#[cfg(test)]
pub fn apply_edit(text: &str, range: Range, new: &str) -> String {
    apply_edit_span(text, range, new).1
}

/// [`apply_edit`], and the byte range of `text` that was replaced.
pub fn apply_edit_span(text: &str, range: Range, new: &str) -> ((usize, usize), String) {
    let lines = LineIndex::new(text);
    let a = lines.offset(text, range.start);
    let b = lines.offset(text, range.end);
    let (a, b) = (a.min(b), a.max(b));
    let mut out = String::with_capacity(text.len() + new.len());
    out.push_str(&text[..a]);
    out.push_str(new);
    out.push_str(&text[b..]);
    ((a, b), out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn utf16_columns() {
        let t = "a\né😀x\n";
        let l = LineIndex::new(t);
        assert_eq!(l.position(t, 0), Position::new(0, 0));
        // `é` is one UTF-16 unit, `😀` two
        let x = t.find('x').unwrap_or(0);
        assert_eq!(l.position(t, x), Position::new(1, 3));
        assert_eq!(l.offset(t, Position::new(1, 3)), x);
        // past the end of a line, past the last line
        assert_eq!(l.offset(t, Position::new(1, 99)), t.len() - 1);
        assert_eq!(l.offset(t, Position::new(9, 0)), t.len());
    }

    #[test]
    fn edits() {
        let t = "namespace a {\n}\n";
        let r = Range::new(Position::new(0, 10), Position::new(0, 11));
        assert_eq!(apply_edit(t, r, "bb"), "namespace bb {\n}\n");
        // reversed and out of range
        let r = Range::new(Position::new(5, 0), Position::new(0, 13));
        assert_eq!(apply_edit(t, r, ""), "namespace a {");
    }

    proptest! {
        /// The minimal edit, applied to the old text, gives the new one.
        #[test]
        fn minimal_edit_applies(old in "[ab😀é\n ]{0,20}", new in "[ab😀é\n ]{0,20}") {
            match minimal_edit(&old, &new) {
                None => prop_assert_eq!(&old, &new),
                Some((a, b, t)) => {
                    let out = format!("{}{t}{}", &old[..a], &old[b..]);
                    prop_assert_eq!(out, new);
                }
            }
        }

        /// Any position and edit on any text: no panic, and offsets and
        /// positions round-trip at character boundaries.
        #[test]
        fn never_panics(t in "[a-zé😀\n ]{0,40}", l1 in 0u32..6, c1 in 0u32..50, l2 in 0u32..6, c2 in 0u32..50, new in "[a-z😀\n]{0,5}") {
            let r = Range::new(Position::new(l1, c1), Position::new(l2, c2));
            let out = apply_edit(&t, r, &new);
            prop_assert!(out.len() <= t.len() + new.len());
            let li = LineIndex::new(&t);
            for (i, _) in t.char_indices() {
                prop_assert_eq!(li.offset(&t, li.position(&t, i)), i);
            }
        }
    }
}
