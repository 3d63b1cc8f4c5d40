//! `nplc build PATH... (-o DIR | --stdout)`: compile and write the manifests.
//! On success it says on standard error what it did to DIR (one line: files
//! written, changed, unchanged, removed); a build that fails says that
//! nothing was written, which the output directory's writer guarantees
//! (`nplc::outdir`). With `--error-format json` standard error holds only
//! the diagnostics.

use super::{report_then, Common, ErrorFormat, EXIT_ERRORS, EXIT_OK, EXIT_USAGE};
use nplc::driver;
use nplc::emit::files::BuildFiles;
use nplc::emit::k8s;
use nplc::outdir;
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
    let mut c = driver::compile_inputs(&inputs.files);
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
    if c.has_errors() {
        return EXIT_ERRORS;
    }
    if a.stdout {
        let mut out = std::io::stdout().lock();
        if out
            .write_all(k8s::stream(&c.manifests).as_bytes())
            .and_then(|_| out.flush())
            .is_err()
        {
            return EXIT_USAGE;
        }
        return EXIT_OK;
    }
    let Some(dir) = &a.out else { return EXIT_USAGE };
    let human = fmt == ErrorFormat::Human;
    let mut t = driver::Timer::new();
    // serialized and written together, on every core
    let written = outdir::write(
        dir,
        &BuildFiles::new(&c.manifests, c.firewall.as_ref()),
        &mut || {
            if human {
                eprintln!(
                    "waiting for another nplc build to finish writing {} (it holds `{}`)",
                    outdir::shown(dir),
                    dir.join(outdir::LOCK).display()
                );
            }
        },
    );
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
