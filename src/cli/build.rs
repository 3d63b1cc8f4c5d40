//! `nplc build PATH... (-o DIR [--check] | --stdout)`: compile and write the
//! manifests (`--check`: write nothing, list what a build would change).
//! On success it says on standard error what it did to DIR (one line: files
//! written, changed, unchanged, removed); a build that fails says that
//! nothing was written, which the output directory's writer guarantees
//! (`crate::outdir`). With `--error-format json` standard error holds only
//! the diagnostics.

use super::{report_then, Common, ErrorFormat, EXIT_ERRORS, EXIT_OK, EXIT_USAGE};
use crate::driver;
use crate::emit::files::{BuildFiles, Tree};
use crate::emit::{cilium, k8s, Target};
use crate::outdir;
use std::io::Write;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub common: Common,
    /// Output directory: `DIR/<namespace>/<policy>.yaml`, `DIR/kustomization.yaml`,
    /// and with `nodes` blocks `DIR/firewall/` (ports.txt, ports.json, ports.csv, ROLE.nft).
    /// Without `-o` and `--stdout`: the `output` of the project file
    /// (docs/project.md).
    #[arg(
        short = 'o',
        long = "out",
        value_name = "DIR",
        conflicts_with = "stdout"
    )]
    pub out: Option<PathBuf>,
    /// Write one multi-document YAML stream to standard output instead.
    #[arg(long)]
    pub stdout: bool,
    /// Write nothing: list the files a build would add, change or remove
    /// in DIR (exit 1 if any, 0 when DIR is current).
    #[arg(long, requires = "out", conflicts_with = "stdout")]
    pub check: bool,
    /// What to write: `k8s` (NetworkPolicy) or `cilium` (CiliumNetworkPolicy,
    /// docs/targets.md). Default: the `target` of the project file, else `k8s`.
    #[arg(long, value_enum)]
    pub target: Option<super::TargetArg>,
}

pub fn run(mut a: Args) -> i32 {
    let fmt = a.common.error_format;
    let project = match super::project(&mut a.common) {
        Ok(p) => p,
        Err(code) => return code,
    };
    if a.out.is_none() && !a.stdout {
        match project.as_ref().and_then(|p| p.output.clone()) {
            Some(o) => a.out = Some(o),
            None => {
                return super::fail_io(
                    fmt,
                    "where to? give `-o DIR` or `--stdout` (or `output` in `nplc.toml`)"
                        .to_string(),
                )
            }
        }
    }
    let mut t = driver::Timer::new();
    let inputs = match driver::read_inputs_noting(&a.common.paths) {
        Ok(i) => i,
        Err(e) => return super::fail_io_then(fmt, e.0, NOTHING_WRITTEN),
    };
    t.lap("read");
    let target = a
        .target
        .map(super::TargetArg::target)
        .or(project.as_ref().and_then(|p| p.target))
        .unwrap_or_default();
    let mut c = driver::compile_for(&inputs.files, target);
    c.diagnostics.extend(inputs.notes);
    if let Some(p) = &project {
        p.deny(&mut c.diagnostics);
    }
    let code = write(&a, &c);
    super::exit_without_freeing(c, code)
}

/// What a failed build adds to its count of errors.
const NOTHING_WRITTEN: &str = "; nothing was written";

fn write(a: &Args, c: &driver::Compilation) -> i32 {
    let fmt = a.common.error_format;
    report_then(fmt, &c.sources, &c.diagnostics, NOTHING_WRITTEN);
    if super::fails(&a.common, &c.diagnostics) {
        if !c.has_errors() && fmt == ErrorFormat::Human {
            eprintln!("error: warnings denied (--deny-warnings){NOTHING_WRITTEN}");
        }
        return EXIT_ERRORS;
    }
    if a.stdout {
        let text = match c.target {
            Target::K8s => k8s::stream(&c.manifests),
            Target::Cilium => cilium::stream(&c.cilium),
        };
        if !super::print_stdout(&text) {
            return EXIT_USAGE;
        }
        return EXIT_OK;
    }
    let Some(dir) = &a.out else { return EXIT_USAGE };
    if a.check {
        return check(dir, c, fmt);
    }
    let human = fmt == ErrorFormat::Human;
    let mut t = driver::Timer::new();
    // serialized and written together, on every core
    let mut waiting = || {
        if human {
            eprintln!(
                "waiting for another nplc build to finish writing {} (it holds `{}`)",
                outdir::shown(dir),
                dir.join(outdir::LOCK).display()
            );
        }
    };
    let written = match c.target {
        Target::K8s => outdir::write(
            dir,
            &BuildFiles::new(&c.manifests, c.firewall.as_ref()),
            &mut waiting,
        ),
        Target::Cilium => outdir::write(
            dir,
            &BuildFiles::new(&c.cilium, c.firewall.as_ref()),
            &mut waiting,
        ),
    };
    t.lap("write");
    match written {
        Ok(s) => {
            if human {
                if let Some(r) = s.repairs(dir) {
                    eprintln!("note: {r}");
                }
                eprintln!("{}", s.line(dir));
            }
            EXIT_OK
        }
        Err(e) if e.intact => super::fail_io_then(fmt, e.message, NOTHING_WRITTEN),
        Err(e) => super::fail_io(fmt, e.message),
    }
}

/// `--check`: what a build would change in `dir`, on standard output one
/// line per file (`add`, `change`, `remove`, then the path in `dir`),
/// and a summary on standard error.
fn check(dir: &std::path::Path, c: &driver::Compilation, fmt: ErrorFormat) -> i32 {
    let (d, count) = match c.target {
        Target::K8s => {
            let files = BuildFiles::new(&c.manifests, c.firewall.as_ref());
            (outdir::drift(dir, &files), files.count())
        }
        Target::Cilium => {
            let files = BuildFiles::new(&c.cilium, c.firewall.as_ref());
            (outdir::drift(dir, &files), files.count())
        }
    };
    let d = match d {
        Ok(d) => d,
        Err(e) => return super::fail_io(fmt, e.message),
    };
    let shown = outdir::shown(dir);
    let mut out = std::io::stdout().lock();
    for (what, list) in [
        ("add", &d.added),
        ("change", &d.changed),
        ("remove", &d.removed),
    ] {
        for f in list.iter() {
            if writeln!(out, "{what} {shown}{f}").is_err() {
                return EXIT_USAGE;
            }
        }
    }
    if d.is_current() {
        if fmt == ErrorFormat::Human {
            eprintln!("{shown} is current ({count} files)");
        }
        return EXIT_OK;
    }
    if fmt == ErrorFormat::Human {
        if d.interrupted {
            eprintln!(
                "note: an interrupted build left {shown}{}; the next build rolls it back",
                outdir::JOURNAL
            );
        }
        eprintln!(
            "{shown} is out of date: a build would add {}, change {} and remove {} file(s)",
            d.added.len(),
            d.changed.len(),
            d.removed.len()
        );
    }
    EXIT_ERRORS
}
