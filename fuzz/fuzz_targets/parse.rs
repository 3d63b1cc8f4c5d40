//! The parser on arbitrary bytes: `parse_file` and `parse_side` (the
//! command line's `--from`/`--to`) must return an AST or a diagnostic,
//! never panic or overflow the stack.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nplc::source::FileId;
use nplc::syntax::{parse_file, parse_side};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = parse_file(FileId(0), &text);
    let _ = parse_side(FileId(0), &text);
});
