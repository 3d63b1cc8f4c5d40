//! The whole front end (`nplc check`) on arbitrary text: parse, resolve,
//! check, lints. Every outcome must be a result or diagnostics that render.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nplc::diag;
use nplc::driver::{check_inputs, Input};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data).into_owned();
    // a NUL byte splits the input into two files (multi-file programs)
    let inputs: Vec<Input> = text
        .split('\0')
        .take(4)
        .enumerate()
        .map(|(i, t)| Input {
            name: format!("f{i}.npl"),
            text: t.to_string(),
        })
        .collect();
    let c = check_inputs(&inputs);
    if c.has_errors() {
        assert!(c.program.is_none() || !c.diagnostics.is_empty());
    }
    let _ = diag::render_human(&c.sources, &c.diagnostics);
    let _ = diag::render_json(&c.sources, &c.diagnostics);
});
