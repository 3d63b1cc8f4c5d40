//! Stage 0, the source map: every input file (and every embedded stdlib
//! module) gets a [`FileId`]; every later stage points back into it with a
//! [`Span`]. Input: file names and texts. Output: a [`SourceMap`] that the
//! diagnostic renderer and the annotation writer read line numbers from.

use codespan_reporting::files::{self, SimpleFiles};
use std::ops::Range;

/// The byte order mark some editors write at the start of a UTF-8 file;
/// the grammar skips it there.
pub const BOM: char = '\u{feff}';

/// Index of a file in the [`SourceMap`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct FileId(pub usize);

/// A byte range in one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Span {
    pub file: FileId,
    pub start: usize,
    pub end: usize,
}

impl Span {
    pub fn new(file: FileId, start: usize, end: usize) -> Span {
        Span { file, start, end }
    }
    pub fn range(&self) -> Range<usize> {
        self.start..self.end
    }
    /// The smallest span covering both (same file assumed).
    pub fn to(&self, other: Span) -> Span {
        Span::new(
            self.file,
            self.start.min(other.start),
            self.end.max(other.end),
        )
    }
}

/// All the sources of one build.
#[derive(Debug, Default, Clone)]
pub struct SourceMap {
    files: SimpleFiles<String, String>,
    /// Display names, in insertion order, with a flag for embedded stdlib files.
    meta: Vec<FileMeta>,
}

#[derive(Debug, Clone)]
struct FileMeta {
    name: String,
    stdlib: bool,
    line_starts: Vec<usize>,
}

impl SourceMap {
    pub fn new() -> SourceMap {
        SourceMap::default()
    }

    /// Adds a file; `name` is what diagnostics and annotations show.
    pub fn add(&mut self, name: impl Into<String>, text: impl Into<String>) -> FileId {
        self.add_inner(name.into(), text.into(), false)
    }

    /// Adds an embedded stdlib module.
    pub fn add_stdlib(&mut self, name: impl Into<String>, text: impl Into<String>) -> FileId {
        self.add_inner(name.into(), text.into(), true)
    }

    fn add_inner(&mut self, name: String, text: String, stdlib: bool) -> FileId {
        let line_starts = std::iter::once(0)
            .chain(memchr::memchr_iter(b'\n', text.as_bytes()).map(|i| i + 1))
            .collect();
        self.meta.push(FileMeta {
            name: name.clone(),
            stdlib,
            line_starts,
        });
        FileId(self.files.add(name, text))
    }

    pub fn name(&self, id: FileId) -> &str {
        self.meta
            .get(id.0)
            .map(|m| m.name.as_str())
            .unwrap_or("<unknown>")
    }

    pub fn is_stdlib(&self, id: FileId) -> bool {
        self.meta.get(id.0).map(|m| m.stdlib).unwrap_or(false)
    }

    pub fn text(&self, id: FileId) -> &str {
        self.files
            .get(id.0)
            .map(|f| f.source().as_ref())
            .unwrap_or("")
    }

    /// 1-based column (in characters) of a byte offset, as the renderer
    /// counts it: from the start of its line, or after a byte order mark
    /// that starts the file.
    pub fn column(&self, id: FileId, offset: usize) -> usize {
        let text = self.text(id);
        let off = offset.min(text.len());
        let mut start = text.as_bytes()[..off]
            .iter()
            .rposition(|&b| b == b'\n')
            .map(|i| i + 1)
            .unwrap_or(0);
        if start == 0 && text.starts_with(BOM) {
            start = BOM.len_utf8().min(off);
        }
        text.get(start..off).map(|t| t.chars().count()).unwrap_or(0) + 1
    }

    /// 1-based line of a byte offset.
    pub fn line(&self, id: FileId, offset: usize) -> usize {
        match self.meta.get(id.0) {
            Some(m) => match m.line_starts.binary_search(&offset) {
                Ok(i) => i + 1,
                Err(i) => i,
            },
            None => 0,
        }
    }

    /// `file:line` or `file:first-last` for a span.
    pub fn location(&self, span: Span) -> String {
        let a = self.line(span.file, span.start);
        let b = self.line(span.file, span.end.saturating_sub(1).max(span.start));
        if a == b {
            format!("{}:{}", self.name(span.file), a)
        } else {
            format!("{}:{}-{}", self.name(span.file), a, b)
        }
    }

    pub fn files(&self) -> &SimpleFiles<String, String> {
        &self.files
    }

    pub fn file_ids(&self) -> impl Iterator<Item = FileId> + '_ {
        (0..self.meta.len()).map(FileId)
    }
}

impl<'a> files::Files<'a> for SourceMap {
    type FileId = FileId;
    type Name = String;
    type Source = &'a str;

    fn name(&'a self, id: FileId) -> Result<String, files::Error> {
        self.files.name(id.0)
    }
    fn source(&'a self, id: FileId) -> Result<&'a str, files::Error> {
        self.files.source(id.0)
    }
    fn line_index(&'a self, id: FileId, byte_index: usize) -> Result<usize, files::Error> {
        self.files.line_index(id.0, byte_index)
    }
    /// A byte order mark that starts a file is not part of its first line,
    /// so columns there count from after it (offsets stay the file's).
    fn line_range(&'a self, id: FileId, line_index: usize) -> Result<Range<usize>, files::Error> {
        let r = self.files.line_range(id.0, line_index)?;
        if line_index == 0 && self.text(id).starts_with(BOM) {
            return Ok(BOM.len_utf8().min(r.end)..r.end);
        }
        Ok(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_locations() {
        let mut sm = SourceMap::new();
        let f = sm.add("a.npl", "one\ntwo\nthree\n");
        assert_eq!(sm.line(f, 0), 1);
        assert_eq!(sm.line(f, 4), 2);
        assert_eq!(sm.line(f, 8), 3);
        assert_eq!(sm.location(Span::new(f, 4, 7)), "a.npl:2");
        assert_eq!(sm.location(Span::new(f, 0, 9)), "a.npl:1-3");
    }
}
