//! `nplc import PATH... (-o DIR | --stdout) [--namespace NS]`: existing
//! NetworkPolicy YAML to `.npl` programs, one per namespace (the library's
//! `crate::import`). The result is checked as `nplc check` would check it;
//! its warnings are printed as the import's summary, and with `-o DIR` the
//! `.npl` files already in DIR that it did not write (W0808). On an error in the
//! input nothing is written (exit 1); a path that cannot be read, a file
//! that cannot be written or a closed standard output is exit 2.

use super::{report, report_then, ErrorFormat, EXIT_ERRORS, EXIT_OK, EXIT_USAGE};
use crate::import;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// YAML or JSON files, directories (searched recursively for `*.yaml`,
    /// `*.yml`, `*.json`), or `-` for standard input.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Output directory: `DIR/<namespace>.npl`.
    #[arg(
        short = 'o',
        long = "out",
        value_name = "DIR",
        required_unless_present = "stdout",
        conflicts_with = "stdout"
    )]
    pub out: Option<PathBuf>,
    /// Write the programs to standard output instead, one after the other.
    #[arg(long)]
    pub stdout: bool,
    /// The namespace of a NetworkPolicy that names none.
    #[arg(long, value_name = "NS")]
    pub namespace: Option<String>,
    /// How to print diagnostics (on standard error).
    #[arg(long, value_enum, default_value_t = ErrorFormat::Human)]
    pub error_format: ErrorFormat,
}

const NOTHING_WRITTEN: &str = "; nothing was written";

pub fn run(a: Args) -> i32 {
    let fmt = a.error_format;
    let mut timer = crate::driver::Timer::new();
    let inputs = match import::read_paths(&a.paths) {
        Ok(i) => i,
        Err(e) => return super::fail_io_then(fmt, e, NOTHING_WRITTEN),
    };
    timer.lap("files");
    let r = import::read(&inputs, a.namespace.as_deref());
    timer.lap("read");
    report_then(fmt, &r.sources, &r.diagnostics, NOTHING_WRITTEN);
    if r.has_errors() {
        return EXIT_ERRORS;
    }
    // nplc's own output: the files its annotations name, as written
    // (from the working directory) or beside the YAML that names them
    let dirs: Vec<PathBuf> = inputs
        .iter()
        .filter_map(|(n, _)| std::path::Path::new(n).parent().map(|d| d.to_path_buf()))
        .collect();
    let resolve = |f: &str| -> Option<String> {
        let p = std::path::Path::new(f);
        std::iter::once(p.to_path_buf())
            .chain(dirs.iter().filter(|_| p.is_relative()).map(|d| d.join(p)))
            .find_map(|c| std::fs::read_to_string(c).ok())
    };
    let imported = import::recognise::programs(&r.policies, &resolve);
    report(fmt, &r.sources, &imported.notes);
    let count = r.policies.len();
    // what was read is not needed any more: its memory goes back to the
    // allocator before the check takes its own
    drop(r);
    drop(inputs);
    let files: Vec<crate::driver::Input> = imported
        .programs
        .into_iter()
        .map(|p| crate::driver::Input {
            name: format!("{}.npl", p.namespace),
            text: p.text,
        })
        .collect();
    timer.lap("write");
    // the result, checked as `nplc check` checks it
    let c = crate::driver::check_inputs(&files);
    timer.lap("check");
    report(fmt, &c.sources, &c.diagnostics);
    if c.has_errors() {
        return super::exit_without_freeing(c, EXIT_ERRORS);
    }
    let code = write_out(&a, &files, count);
    super::exit_without_freeing(c, code)
}

/// Writes the programs where `a` says: standard output or `DIR/<namespace>.npl`.
fn write_out(a: &Args, files: &[crate::driver::Input], count: usize) -> i32 {
    let fmt = a.error_format;
    if a.stdout {
        let text: String = files
            .iter()
            .map(|f| f.text.as_str())
            .collect::<Vec<_>>()
            .join("\n");
        if !super::print_stdout(&text) {
            return EXIT_USAGE;
        }
    } else if let Some(dir) = &a.out {
        if let Err(e) = std::fs::create_dir_all(dir) {
            return super::fail_io(
                fmt,
                format!(
                    "cannot create `{}`: {}",
                    dir.display(),
                    crate::diag::io_msg(&e)
                ),
            );
        }
        // found before writing, reported once all is written
        let names: Vec<&str> = files.iter().map(|f| f.name.as_str()).collect();
        let others = import::others_in(dir, &names);
        if let Err(e) = write_all_or_nothing(dir, files) {
            return super::fail_io(fmt, e);
        }
        report(fmt, &crate::source::SourceMap::default(), &others);
        if fmt == ErrorFormat::Human {
            eprintln!(
                "imported {} NetworkPolicies into {} programs in {}",
                count,
                files.len(),
                dir.display()
            );
        }
    } else {
        return EXIT_USAGE;
    }
    EXIT_OK
}

/// Writes every file into `dir`, or none: each is written first to a
/// temporary file beside it (on every core), and only when all of them are
/// written are they renamed into place; on a failure the temporaries are
/// removed. The first failure, in name order, is the one reported.
fn write_all_or_nothing(
    dir: &std::path::Path,
    files: &[crate::driver::Input],
) -> Result<(), String> {
    let pid = std::process::id();
    let tmp_of = |name: &str| dir.join(format!(".{name}.nplc-tmp-{pid}"));
    let cannot = |path: &std::path::Path, e: std::io::Error| {
        format!(
            "cannot write `{}`: {}",
            path.display(),
            crate::diag::io_msg(&e)
        )
    };
    // a target that is not a file (a directory, say) could not be replaced
    // after others were: refused before anything is written
    if let Some(f) = files.iter().find(|f| {
        std::fs::symlink_metadata(dir.join(&f.name)).is_ok_and(|m| !m.file_type().is_file())
    }) {
        return Err(format!(
            "cannot write `{}`: it exists and is not a file; nothing was written",
            dir.join(&f.name).display()
        ));
    }
    let written = crate::par::map(files, |f| {
        let tmp = tmp_of(&f.name);
        std::fs::write(&tmp, &f.text).map_err(|e| cannot(&dir.join(&f.name), e))
    });
    let clean = || {
        for f in files {
            let _ = std::fs::remove_file(tmp_of(&f.name));
        }
    };
    if let Some(Err(e)) = written.into_iter().find(Result::is_err) {
        clean();
        return Err(e);
    }
    for f in files {
        let path = dir.join(&f.name);
        if let Err(e) = std::fs::rename(tmp_of(&f.name), &path) {
            clean();
            return Err(cannot(&path, e));
        }
    }
    Ok(())
}
