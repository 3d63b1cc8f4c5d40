//! The command line: argument parsing and one module per subcommand. Thin by
//! design: every subcommand calls the library and prints what it returns.
//! Exit codes: 0 success (warnings allowed), 1 the sources have errors,
//! 2 usage or I/O error.

pub mod build;
pub mod check;
pub mod explain;
pub mod import;
pub mod matrix;

use clap::{Parser, Subcommand, ValueEnum};
use nplc::diag::{self, Diagnostic};
use nplc::source::SourceMap;
use std::path::PathBuf;

pub const EXIT_OK: i32 = 0;
pub const EXIT_ERRORS: i32 = 1;
pub const EXIT_USAGE: i32 = 2;

#[derive(Parser, Debug)]
#[command(
    name = "nplc",
    version,
    about = "Compile .npl network policy programs to Kubernetes NetworkPolicy YAML",
    propagate_version = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Compile to NetworkPolicy YAML (and the firewall port list).
    Build(build::Args),
    /// Report diagnostics only.
    Check(check::Args),
    /// Explain whether one connection is allowed, and why.
    Explain(explain::Args),
    /// Print the reachability matrix of a population's pods.
    Matrix(matrix::Args),
    /// Import NetworkPolicy YAML as `.npl` programs, one per namespace.
    Import(import::Args),
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum, Default)]
pub enum ErrorFormat {
    #[default]
    Human,
    Json,
}

#[derive(clap::Args, Debug)]
pub struct Common {
    /// `.npl` files, or directories searched recursively for `*.npl`.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// How to print diagnostics (on standard error).
    #[arg(long, value_enum, default_value_t = ErrorFormat::Human)]
    pub error_format: ErrorFormat,
}

/// Prints diagnostics to standard error in the chosen format.
pub fn report(format: ErrorFormat, sources: &SourceMap, diags: &[Diagnostic]) {
    report_then(format, sources, diags, "")
}

/// As [`report`], with `trailer` after the count of errors (`nplc build`
/// adds that it wrote nothing; only a command that writes may say so).
pub fn report_then(format: ErrorFormat, sources: &SourceMap, diags: &[Diagnostic], trailer: &str) {
    match format {
        ErrorFormat::Human => {
            if !diags.is_empty() {
                eprint!("{}", diag::render_human(sources, diags));
                let errors = diags.iter().filter(|d| d.is_error()).count();
                let warnings = diags
                    .iter()
                    .filter(|d| d.severity == diag::Severity::Warning)
                    .count();
                if errors > 0 {
                    eprintln!("error: {errors} error(s), {warnings} warning(s){trailer}");
                }
            }
        }
        ErrorFormat::Json => eprintln!("{}", diag::render_json(sources, diags)),
    }
}

/// Returns `code` without running the destructors of a compilation: the
/// process exits right after, and freeing a large build's heap piece by
/// piece only costs time (a tenth of a large build).
pub fn exit_without_freeing(c: nplc::driver::Compilation, code: i32) -> i32 {
    std::mem::forget(c);
    code
}

/// Compiles for a query (`explain`, `matrix`): reads the inputs and
/// compiles; on failure returns the exit code after printing the errors
/// (warnings are `nplc check`'s business, so a query prints only errors).
pub fn compile_for_query(common: &Common) -> Result<nplc::driver::Compilation, i32> {
    let inputs =
        nplc::driver::read_inputs(&common.paths).map_err(|e| fail_io(common.error_format, e.0))?;
    let c = nplc::driver::compile_inputs(&inputs);
    if c.has_errors() {
        report(common.error_format, &c.sources, &c.diagnostics);
        return Err(EXIT_ERRORS);
    }
    Ok(c)
}

/// For a query against a population: every managed namespace whose labels
/// there differ from the stated ones is an error (E0210), printed; returns
/// the exit code then.
pub fn refuse_label_mismatches(
    common: &Common,
    c: &nplc::driver::Compilation,
    pop: &nplc::population::Population,
) -> Result<(), i32> {
    let Some(prog) = &c.program else {
        return Ok(());
    };
    let d = nplc::eval::stated_label_mismatches(prog, pop);
    if d.is_empty() {
        return Ok(());
    }
    report(common.error_format, &c.sources, &d);
    Err(EXIT_ERRORS)
}

/// Reports an input or output problem (exit code 2).
pub fn fail_io(format: ErrorFormat, message: String) -> i32 {
    fail_io_then(format, message, "")
}

/// As [`fail_io`], with `trailer` after the count of errors ([`report_then`]).
pub fn fail_io_then(format: ErrorFormat, message: String, trailer: &str) -> i32 {
    let d = Diagnostic::error("E0002", message);
    report_then(format, &SourceMap::new(), &[d], trailer);
    EXIT_USAGE
}

/// Reports a command-line value that cannot be used (E0003, exit code 2):
/// nothing has been read, so nothing is said about writing.
pub fn fail_usage(format: ErrorFormat, message: String) -> i32 {
    let d = Diagnostic::error("E0003", message);
    report(format, &SourceMap::new(), &[d]);
    EXIT_USAGE
}

pub fn run(cli: Cli) -> i32 {
    match cli.command {
        Command::Build(a) => build::run(a),
        Command::Check(a) => check::run(a),
        Command::Explain(a) => explain::run(a),
        Command::Matrix(a) => matrix::run(a),
        Command::Import(a) => import::run(a),
    }
}
