//! `nplc fmt`: every example, module of the standard library and fixture is
//! already formatted; formatting is idempotent and keeps the meaning (the
//! build of the formatted program is byte-identical but for the
//! annotations that name source lines, and reports the same codes), on the
//! checked-in programs and on the property test's generated ones with their
//! whitespace scrambled and comments added.

use crate::common;
use crate::props;
use nplc::driver::{compile_inputs, Compilation, Input};
use nplc::emit::files::BuildFiles;
use nplc::source::FileId;
use nplc::syntax::fmt::format_source;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use std::path::{Path, PathBuf};

/// Every `.npl` file under `dir`, sorted.
fn npl_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            npl_files(&p, out);
        } else if p.extension().map(|x| x == "npl").unwrap_or(false) {
            out.push(p);
        }
    }
}

/// The checked-in programs: examples, the standard library, the fixtures.
fn checked_in() -> Vec<PathBuf> {
    let mut v = Vec::new();
    for d in ["examples", "stdlib", "tests/cases", "tests/firewall"] {
        npl_files(&common::root().join(d), &mut v);
    }
    v
}

fn compile(name: &str, text: &str) -> Compilation {
    let inputs = [Input {
        name: name.to_string(),
        text: text.to_string(),
    }];
    // DNS names build for the cilium target only
    if text.contains("dns:") {
        nplc::driver::compile_for(&inputs, nplc::emit::Target::Cilium)
    } else {
        compile_inputs(&inputs)
    }
}

/// What a build says, but for where: every file it writes (the YAML
/// without the annotations that name source lines), the codes reported.
fn meaning(c: &Compilation) -> (Vec<(String, String)>, Vec<&'static str>) {
    let files = if c.has_errors() {
        Vec::new()
    } else if c.target == nplc::emit::Target::Cilium {
        BuildFiles::new(&c.cilium, c.firewall.as_ref())
            .rendered()
            .into_iter()
            .map(|f| (f.path, no_lines(&common::without_locations(&f.contents))))
            .collect()
    } else {
        BuildFiles::new(&c.manifests, c.firewall.as_ref())
            .rendered()
            .into_iter()
            .map(|f| (f.path, no_lines(&common::without_locations(&f.contents))))
            .collect()
    };
    let mut codes: Vec<&'static str> = c.diagnostics.iter().map(|d| d.code).collect();
    codes.sort_unstable();
    (files, codes)
}

/// `text` with each `.npl:LINE` written `.npl:L` and runs of spaces as
/// one (the firewall files name source lines, in aligned columns).
fn no_lines(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find(".npl:") {
        out.push_str(&rest[..i + 5]);
        rest = rest[i + 5..].trim_start_matches(|c: char| c.is_ascii_digit());
        out.push('L');
    }
    out.push_str(rest);
    let mut squeezed = String::new();
    for c in out.chars() {
        if !(c == ' ' && squeezed.ends_with(' ')) {
            squeezed.push(c);
        }
    }
    squeezed
}

#[test]
fn checked_in_programs_are_formatted_and_formatting_keeps_their_meaning() {
    let mut unformatted = Vec::new();
    let mut parsed = 0;
    for f in checked_in() {
        let text = std::fs::read_to_string(&f).unwrap();
        let name = f
            .strip_prefix(common::root())
            .unwrap()
            .display()
            .to_string();
        let Ok(out) = format_source(FileId(0), &text) else {
            // only the syntax-error fixtures do not parse
            assert!(name.contains("E0001"), "{name} does not parse");
            continue;
        };
        parsed += 1;
        assert_eq!(
            format_source(FileId(0), &out).unwrap(),
            out,
            "{name}: not idempotent"
        );
        if out != text {
            unformatted.push(name.clone());
        }
        if !name.starts_with("stdlib/") {
            assert_eq!(
                meaning(&compile(&name, &text)),
                meaning(&compile(&name, &out)),
                "{name}"
            );
        }
    }
    assert!(parsed > 90, "only {parsed} programs read");
    assert!(
        unformatted.is_empty(),
        "not formatted (run `nplc fmt`): {unformatted:?}"
    );
}

/// Formats `text`, checks the laws, returns the formatted text.
fn laws(text: &str) -> Result<String, TestCaseError> {
    let out = format_source(FileId(0), text)
        .map_err(|d| TestCaseError::fail(format!("{}: {}\n{text}", d.code, d.message)))?;
    let again = format_source(FileId(0), &out).map_err(|d| TestCaseError::fail(d.message))?;
    prop_assert_eq!(&again, &out, "not idempotent; input:\n{}", text);
    prop_assert_eq!(
        meaning(&compile("p.npl", text)),
        meaning(&compile("p.npl", &out)),
        "meaning changed; input:\n{}\nformatted:\n{}",
        text,
        out
    );
    Ok(out)
}

/// `text` with each space replaced by `choice` of: a space, several, a
/// line break, a comment and a line break; and at some line breaks a
/// comment before it, a comment line, or no break at all.
fn scramble(text: &str, choices: &[u8]) -> String {
    let mut out = String::new();
    let mut k = 0;
    let mut next = || {
        let c = choices.get(k % choices.len().max(1)).copied().unwrap_or(0);
        k += 1;
        c
    };
    for ch in text.chars() {
        match ch {
            ' ' => match next() % 8 {
                0 => out.push_str("   "),
                1 => out.push_str("\n    "),
                2 => out.push_str(" # inside\n "),
                _ => out.push(' '),
            },
            '\n' => match next() % 7 {
                0 => out.push_str("  # after\n"),
                1 => out.push_str("\n\n\n# alone\n"),
                2 => out.push_str("\n\t"),
                // the next statement on the same line
                3 => out.push(' '),
                _ => out.push('\n'),
            },
            c => out.push(c),
        }
    }
    out
}

#[test]
fn formatting_generated_programs_is_idempotent_and_keeps_their_meaning() {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(200u32);
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    let strategy = (
        prop_oneof![props::case(), props::case_with_dns()],
        prop::collection::vec(any::<u8>(), 1..64),
    );
    runner
        .run(&strategy, |(case, choices)| {
            let plain = case.source();
            let formatted = laws(&plain)?;
            // a formatted program stays formatted however it is spelt
            let (alt, _) = case.alt_source(false);
            laws(&alt)?;
            let scrambled = scramble(&plain, &choices);
            let out = laws(&scrambled)?;
            // without its comments and blank lines, the formatted scrambled
            // text formats as the plain one
            let bare: String = out
                .lines()
                .map(|l| l.split('#').next().unwrap_or("").trim_end())
                .filter(|l| !l.trim().is_empty())
                .map(|l| format!("{l}\n"))
                .collect();
            let bare =
                format_source(FileId(0), &bare).map_err(|d| TestCaseError::fail(d.message))?;
            prop_assert_eq!(bare, formatted);
            Ok(())
        })
        .unwrap();
}

#[test]
fn comments_stay_where_they_were() {
    let text = "\
# head of the file

namespace a {   # the namespace
  # before the rule
  allow   app=x ->  app=y:80   # after the rule
  workload w = app=w
  # at the end
}
define d = 10.0.0.0/8
# the last line";
    let out = format_source(FileId(0), text).unwrap();
    assert_eq!(
        out,
        "\
# head of the file

define d = 10.0.0.0/8

namespace a {  # the namespace
  workload w = app=w

  # before the rule
  allow app=x -> app=y:80  # after the rule
  # at the end
}
# the last line
"
    );
}

#[test]
fn a_statement_with_a_comment_inside_keeps_its_lines() {
    let text = "namespace a {\n    allow app=x |   # web\n        app=y -> app=z\n}\n";
    let out = format_source(FileId(0), text).unwrap();
    assert_eq!(
        out,
        "namespace a {\n  allow app=x |   # web\n    app=y -> app=z\n}\n"
    );
}

#[test]
fn aligned_workloads_definitions_roles_and_comments() {
    let text = "namespace a {\nworkload api = app=api\nworkload database = app=db # db\nworkload x=app=x   # x\n}\nnodes{role cp=10.0.0.0/24\nrole workers=10.0.1.0/24 runs calico\nallow cp->workers:ssh}\n";
    let out = format_source(FileId(0), text).unwrap();
    assert_eq!(
        out,
        "\
namespace a {
  workload api      = app=api
  workload database = app=db  # db
  workload x        = app=x   # x
}

nodes {
  role cp      = 10.0.0.0/24
  role workers = 10.0.1.0/24 runs calico

  allow cp -> workers:ssh
}
"
    );
}

#[test]
fn a_syntax_error_is_reported_not_formatted() {
    let e = format_source(FileId(0), "namespace a { allow x => y }").unwrap_err();
    assert_eq!(e.code, "E0001");
}

#[test]
fn the_command_checks_writes_and_leaves_broken_files_alone() {
    let dir = std::env::temp_dir().join(format!("nplc-it-fmt-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let messy = "namespace a {allow app=x->app=y:80}\n";
    let tidy = "namespace b {\n  allow app=x -> app=y:80\n}\n";
    let broken = "namespace c { allow x => y }\n";
    std::fs::write(dir.join("messy.npl"), messy).unwrap();
    std::fs::write(dir.join("tidy.npl"), tidy).unwrap();
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_nplc"))
            .current_dir(&dir)
            .args(args)
            .output()
            .unwrap()
    };
    let o = run(&["fmt", "--check", "."]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(String::from_utf8_lossy(&o.stdout), "messy.npl\n");
    assert_eq!(
        std::fs::read_to_string(dir.join("messy.npl")).unwrap(),
        messy
    );
    let o = run(&["fmt", "."]);
    assert_eq!(o.status.code(), Some(0));
    assert!(o.stdout.is_empty());
    assert_eq!(
        std::fs::read_to_string(dir.join("messy.npl")).unwrap(),
        "namespace a {\n  allow app=x -> app=y:80\n}\n"
    );
    assert_eq!(run(&["fmt", "--check", "."]).status.code(), Some(0));
    std::fs::write(dir.join("broken.npl"), broken).unwrap();
    let o = run(&["fmt", "."]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("E0001"));
    assert_eq!(
        std::fs::read_to_string(dir.join("broken.npl")).unwrap(),
        broken
    );
}
