//! Stage 1, syntax: text to AST. The pest grammar lives in
//! `grammar/npl.pest`; this module and `parser.rs` are the only places that
//! see pest's `Pair` and `Rule`. Input: one file's text. Output: an
//! [`ast::File`] with spans, or a syntax diagnostic (E0001) in plain words.

pub mod ast;
pub mod fmt;
mod parser;

// `parse_side`: for the fuzz targets (feature `internals`)
#[cfg_attr(not(feature = "internals"), allow(unused_imports))]
pub use parser::{comma_between_peers, parse_file, parse_side};
