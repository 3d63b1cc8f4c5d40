//! `nplc diff OLD NEW` and `nplc diff --git BASE[..HEAD] [PATH...]`: what
//! NEW permits that OLD does not, and the reverse (docs/diff.md). Reads
//! both sides (paths, or revisions of the current repository through `git`
//! itself), runs the stages up to the IR on each, and prints the library's
//! report (`crate::diff`). Exit codes: 0 success (with `--exit-code`: no
//! change), 1 (only with `--exit-code`) changes, 2 an error in either side,
//! a usage error or an unreadable input.

use super::{report, ErrorFormat, EXIT_OK, EXIT_USAGE};
use crate::diag::Diagnostic;
use crate::diff::{self, report as rep};
use crate::driver::{self, Input};
use crate::source::SourceMap;
use clap::ValueEnum;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum, Default)]
pub enum Format {
    /// Grouped per namespace and workload, for a terminal.
    #[default]
    Text,
    /// A pull-request comment: summary line, a table per namespace,
    /// collapsed details, the changed edges as a Mermaid graph.
    Markdown,
    /// The JSON document of docs/diff.md (tests/schemas/diff.schema.json).
    Json,
}

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Without `--git`: OLD and NEW, each a `.npl` file or a directory.
    /// With `--git`: the paths to read at both revisions (default `.`).
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Compare revisions of the repository around the working directory:
    /// `BASE` (against the work tree) or `BASE..HEAD`.
    #[arg(long, value_name = "BASE[..HEAD]")]
    pub git: Option<String>,
    /// Also list the pod pairs of this population whose ports change.
    #[arg(long, value_name = "FILE")]
    pub pods: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Exit 1 when there is a change, 0 when there is none.
    #[arg(long)]
    pub exit_code: bool,
    /// How to print diagnostics (on standard error).
    #[arg(long, value_enum, default_value_t = ErrorFormat::Human)]
    pub error_format: ErrorFormat,
}

/// One side read: its label and files.
struct Read {
    label: String,
    files: Vec<Input>,
}

/// Reports E0006 (a revision cannot be read) and returns exit code 2.
fn fail_git(format: ErrorFormat, message: String) -> i32 {
    let d = Diagnostic::error("E0006", message).with_help(
        "`--git` takes `BASE` or `BASE..HEAD`, revisions of the repository around the working directory (`git rev-parse` must know them)",
    );
    report(format, &SourceMap::new(), &[d]);
    EXIT_USAGE
}

fn git(args: &[&str], stdin: Option<&[u8]>) -> Result<Vec<u8>, String> {
    let mut cmd = Command::new("git");
    cmd.args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        });
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot run `git`: {}", crate::diag::io_msg(&e)))?;
    if let (Some(input), Some(mut pipe)) = (stdin, child.stdin.take()) {
        // written on a thread of its own: `git` answers while it reads
        let input = input.to_vec();
        let writer = std::thread::spawn(move || pipe.write_all(&input));
        let out = child
            .wait_with_output()
            .map_err(|e| format!("`git` failed: {}", crate::diag::io_msg(&e)))?;
        let _ = writer.join();
        return finish(args, out);
    }
    let out = child
        .wait_with_output()
        .map_err(|e| format!("`git` failed: {}", crate::diag::io_msg(&e)))?;
    finish(args, out)
}

fn finish(args: &[&str], out: std::process::Output) -> Result<Vec<u8>, String> {
    if out.status.success() {
        Ok(out.stdout)
    } else {
        let err = String::from_utf8_lossy(&out.stderr);
        let first = err.lines().next().unwrap_or("").trim().to_string();
        Err(format!("`git {}` failed: {}", args.join(" "), first))
    }
}

/// The `.npl` files under `paths` at revision `rev`, read with `git
/// ls-tree` and `git cat-file --batch` (nothing is checked out). Paths
/// are relative to the working directory, as `git` prints them; files
/// under hidden directories are skipped, as on disk.
fn read_revision(rev: &str, paths: &[PathBuf]) -> Result<Vec<Input>, String> {
    let commit = format!("{rev}^{{commit}}");
    git(&["rev-parse", "--verify", "--quiet", &commit], None)
        .map_err(|_| format!("unknown revision `{rev}`"))?;
    let mut args: Vec<String> = vec![
        "ls-tree".into(),
        "-r".into(),
        "-z".into(),
        rev.into(),
        "--".into(),
    ];
    args.extend(paths.iter().map(|p| p.display().to_string()));
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let listing = git(&argv, None)?;
    let mut entries: Vec<(String, String)> = Vec::new();
    for rec in listing.split(|b| *b == 0).filter(|r| !r.is_empty()) {
        let rec = String::from_utf8_lossy(rec);
        let Some((meta, path)) = rec.split_once('\t') else {
            continue;
        };
        let mut m = meta.split(' ');
        let (_, kind, oid) = (m.next(), m.next(), m.next());
        let hidden = Path::new(path).components().any(|c| {
            c.as_os_str().to_string_lossy().starts_with('.')
                && c.as_os_str() != "."
                && c.as_os_str() != ".."
        });
        if kind == Some("blob") && path.ends_with(".npl") && !hidden {
            if let Some(oid) = oid {
                entries.push((path.to_string(), oid.to_string()));
            }
        }
    }
    if entries.is_empty() {
        let shown: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
        return Err(format!(
            "no `.npl` files under `{}` at revision `{rev}`",
            shown.join("`, `")
        ));
    }
    entries.sort();
    let request: String = entries.iter().map(|(_, oid)| format!("{oid}\n")).collect();
    let batch = git(&["cat-file", "--batch"], Some(request.as_bytes()))?;
    let mut files = Vec::new();
    let mut rest: &[u8] = &batch;
    for (path, _) in &entries {
        let nl = rest
            .iter()
            .position(|b| *b == b'\n')
            .ok_or_else(|| "`git cat-file` ended early".to_string())?;
        let header = String::from_utf8_lossy(&rest[..nl]).to_string();
        let size: usize = header
            .rsplit(' ')
            .next()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("`git cat-file` said `{header}`"))?;
        let body = rest
            .get(nl + 1..nl + 1 + size)
            .ok_or_else(|| "`git cat-file` ended early".to_string())?;
        let text = String::from_utf8(body.to_vec())
            .map_err(|_| format!("`{path}` at revision `{rev}` is not UTF-8"))?;
        files.push(Input {
            name: path.clone(),
            text,
        });
        rest = rest.get(nl + 2 + size..).unwrap_or(&[]);
    }
    Ok(files)
}

fn read_sides(a: &Args) -> Result<(Read, Read), i32> {
    let fmt = a.error_format;
    let disk = |paths: &[PathBuf]| driver::read_inputs(paths).map_err(|e| super::fail_io(fmt, e.0));
    match &a.git {
        None => {
            let [old, new] = a.paths.as_slice() else {
                return Err(super::fail_usage(
                    fmt,
                    format!(
                        "`nplc diff` takes two paths, OLD and NEW (or `--git BASE[..HEAD]`); {} given",
                        a.paths.len()
                    ),
                ));
            };
            Ok((
                Read {
                    label: old.display().to_string(),
                    files: disk(std::slice::from_ref(old))?,
                },
                Read {
                    label: new.display().to_string(),
                    files: disk(std::slice::from_ref(new))?,
                },
            ))
        }
        Some(spec) => {
            let paths = if a.paths.is_empty() {
                vec![PathBuf::from(".")]
            } else {
                a.paths.clone()
            };
            let (base, head) = match spec.split_once("..") {
                Some((b, h)) => (b, Some(h).filter(|h| !h.is_empty())),
                None => (spec.as_str(), None),
            };
            if base.is_empty() {
                return Err(fail_git(
                    fmt,
                    format!("`--git {spec}` names no base revision"),
                ));
            }
            let old = read_revision(base, &paths).map_err(|m| fail_git(fmt, m))?;
            let new = match head {
                Some(h) => Read {
                    label: h.to_string(),
                    files: read_revision(h, &paths).map_err(|m| fail_git(fmt, m))?,
                },
                None => Read {
                    label: "work tree".to_string(),
                    files: disk(&paths)?,
                },
            };
            Ok((
                Read {
                    label: base.to_string(),
                    files: old,
                },
                new,
            ))
        }
    }
}

pub fn run(a: Args) -> i32 {
    let fmt = a.error_format;
    let (old, new) = match read_sides(&a) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let pop = match &a.pods {
        Some(p) => match super::explain::load_population(p) {
            Ok(pop) => Some(pop),
            Err(e) => return super::fail_io(fmt, e),
        },
        None => None,
    };
    // both sides up to the IR, in parallel
    let sides = [&old, &new];
    let mut built = crate::par::map(&sides, |r| driver::front_end(&r.files));
    let (Some(cn), Some(co)) = (built.pop(), built.pop()) else {
        return EXIT_USAGE;
    };
    let mut failed = false;
    for c in [&co, &cn] {
        let errors: Vec<Diagnostic> = c
            .diagnostics
            .iter()
            .filter(|d| d.is_error())
            .cloned()
            .collect();
        if !errors.is_empty() {
            report(fmt, &c.sources, &errors);
            failed = true;
        }
    }
    let (Some(po), Some(pn)) = (co.program.as_ref(), cn.program.as_ref()) else {
        return EXIT_USAGE;
    };
    if failed {
        return EXIT_USAGE;
    }
    let d = diff::diff(po, pn);
    let fw = diff::firewall::diff(co.firewall.as_ref(), cn.firewall.as_ref());
    let pods = pop.as_ref().map(|pop| diff::pods::changes(po, pn, pop));
    let so = rep::Side {
        prog: po,
        sources: &co.sources,
        label: old.label.clone(),
    };
    let sn = rep::Side {
        prog: pn,
        sources: &cn.sources,
        label: new.label.clone(),
    };
    let r = rep::build(&d, &so, &sn, fw, pods);
    let text = match a.format {
        Format::Text => rep::text(&r),
        Format::Markdown => rep::markdown(&r),
        Format::Json => format!("{}\n", rep::json(&r)),
    };
    if !super::print_stdout(&text) {
        return EXIT_USAGE;
    }
    let code = if a.exit_code && r.has_changes() {
        1
    } else {
        EXIT_OK
    };
    std::mem::forget((co, cn));
    code
}
