//! Input that is large or deep must end in a diagnostic or a result, never
//! a stack overflow or an out-of-memory abort (docs/testing.md, "Fuzzing";
//! the limits: parentheses nest at most 64 deep, definitions expand at most
//! 256 deep). The inputs are generated in memory.

use nplc::driver::{check_inputs, Compilation, Input};

fn check(text: String) -> Compilation {
    check_inputs(&[Input {
        name: "big.npl".into(),
        text,
    }])
}

fn codes(c: &Compilation) -> Vec<&'static str> {
    c.diagnostics.iter().map(|d| d.code).collect()
}

/// 100,000 nested parentheses: one E0001 before the parser descends.
#[test]
fn nesting_100k_deep_is_a_diagnostic() {
    let n = 100_000;
    let text = format!(
        "namespace a {{\n  allow {}app=web{} -> *:80\n}}\n",
        "(".repeat(n),
        ")".repeat(n)
    );
    let c = check(text);
    assert!(c.has_errors());
    assert_eq!(codes(&c), ["E0001"]);
    // the same depth after an except and inside a namespace selector's group
    let text = format!(
        "namespace a {{\n  allow egress world except {}10.0.0.0/8{}\n}}\n",
        "(".repeat(n),
        ")".repeat(n)
    );
    assert_eq!(codes(&check(text)), ["E0001"]);
}

/// A definition chain of 100,000 names: refused at the documented depth
/// (256). A file of 100,000 top-level items, which parses one item at a
/// time (docs/performance.md, "Second pass").
#[test]
fn definition_chain_100k_long_is_a_diagnostic() {
    let n = 100_000;
    let mut text = String::new();
    for i in 0..n {
        text.push_str(&format!("define d{i} = d{}\n", i + 1));
    }
    text.push_str(&format!(
        "define d{n} = app=web\nnamespace a {{\n  allow d0 -> *:80\n}}\n"
    ));
    let c = check(text);
    assert!(c.has_errors(), "{:?}", codes(&c));
}

/// One line of 10 MB: a label value of 10 MB (longer than a label value
/// may be).
#[test]
fn a_10mb_value_is_a_diagnostic() {
    let value = "v".repeat(10 << 20);
    let c = check(format!("namespace a {{ allow app={value} -> *:80 }}\n"));
    assert!(c.has_errors());
    assert_eq!(codes(&c), ["E0202"]);
}

/// One line of 10 MB of peers (about 900,000 selectors joined by `|`):
/// about 20 s of CPU and 3 GB in the test profile (it ran out of memory
/// before pod peers were indexed for merging: docs/performance.md).
#[test]
fn a_10mb_line_of_peers_ends() {
    let mut line = String::from("namespace a { allow ");
    let mut i = 0;
    while line.len() < 10 << 20 {
        if i > 0 {
            line.push_str(" | ");
        }
        line.push_str(&format!("app=x{i}"));
        i += 1;
    }
    line.push_str(" -> *:80 }\n");
    let c = check(line);
    assert!(c.program.is_some() || c.has_errors());
}

/// A file of 1,000,000 statements checks.
// Ignored: every statement is in one namespace, whose deny compilation
// runs on one core with about 3 KB of cells per statement; in a release
// build this file takes 65 s of CPU and 4.4 GB at its peak, several times
// that time in the test profile (docs/performance.md, "Second pass").
// Run with `cargo test --test it -- --ignored limits`.
#[test]
#[ignore = "minutes of CPU and 4.4 GB: one namespace of a million statements"]
fn a_million_statements_check() {
    let n = 1_000_000;
    let mut text = String::with_capacity(n * 40);
    text.push_str("namespace a {\n");
    for i in 0..n {
        text.push_str(&format!(
            "  allow app=a{} -> app=b:{}\n",
            i % 1000,
            1 + i % 65535
        ));
    }
    text.push_str("}\n");
    let c = check(text);
    assert!(
        !c.has_errors(),
        "{:?}",
        &codes(&c)[..codes(&c).len().min(5)]
    );
    assert!(c.program.is_some());
}
