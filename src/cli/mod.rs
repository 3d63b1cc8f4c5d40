//! The command line: argument parsing and one module per subcommand. Thin by
//! design: every subcommand calls the library and prints what it returns.
//! Exit codes: 0 success (warnings allowed), 1 the sources have errors,
//! 2 usage or I/O error.

pub mod build;
pub mod check;
pub mod diff;
pub mod explain;
pub mod fmt;
pub mod graph;
pub mod import;
pub mod lsp;
pub mod matrix;

use crate::diag::{self, Diagnostic};
use crate::source::SourceMap;
use clap::{Parser, Subcommand, ValueEnum};
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
    /// Lay out `.npl` files canonically (`--check`: only list those that would change).
    Fmt(fmt::Args),
    /// What NEW permits that OLD does not, and the reverse (docs/diff.md).
    Diff(diff::Args),
    /// Who talks to whom, as a Mermaid or Graphviz graph.
    Graph(graph::Args),
    /// Run the language server on standard input and output (docs/editors.md).
    Lsp(lsp::Args),
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum, Default)]
pub enum ErrorFormat {
    #[default]
    Human,
    Json,
    /// GitHub Actions workflow commands (annotations on the pull request).
    Github,
    /// One SARIF 2.1.0 log (code scanning).
    Sarif,
}

/// `--target`: which backend writes the policies (docs/targets.md).
#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum TargetArg {
    /// `networking.k8s.io/v1` NetworkPolicy
    K8s,
    /// `cilium.io/v2` CiliumNetworkPolicy
    Cilium,
}

impl TargetArg {
    pub fn target(self) -> crate::emit::Target {
        match self {
            TargetArg::K8s => crate::emit::Target::K8s,
            TargetArg::Cilium => crate::emit::Target::Cilium,
        }
    }
}

#[derive(clap::Args, Debug)]
pub struct Common {
    /// `.npl` files, or directories searched recursively for `*.npl`.
    /// Without any, the `sources` of the `nplc.toml` found in the working
    /// directory or above (docs/project.md).
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// How to print diagnostics (on standard error).
    #[arg(long, value_enum, default_value_t = ErrorFormat::Human)]
    pub error_format: ErrorFormat,
    /// Fail the run (exit 1) on warnings too (`check`, `build`).
    #[arg(long)]
    pub deny_warnings: bool,
}

/// Whether the run fails: errors, or warnings under `--deny-warnings`.
pub fn fails(common: &Common, diags: &[Diagnostic]) -> bool {
    diags
        .iter()
        .any(|d| d.is_error() || (common.deny_warnings && d.severity == diag::Severity::Warning))
}

/// How CI formats name files: relative to the repository around the
/// current directory.
fn ci_paths() -> crate::report::Paths {
    let cwd = std::env::current_dir().unwrap_or_default();
    crate::report::Paths {
        root: crate::report::repo_root(&cwd),
        cwd,
    }
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
        ErrorFormat::Github => eprint!(
            "{}",
            crate::report::render_github(sources, diags, &ci_paths())
        ),
        ErrorFormat::Sarif => eprintln!(
            "{}",
            crate::report::render_sarif(sources, diags, &ci_paths())
        ),
    }
}

/// Returns `code` without running the destructors of a compilation: the
/// process exits right after, and freeing a large build's heap piece by
/// piece only costs time (a tenth of a large build).
pub fn exit_without_freeing(c: crate::driver::Compilation, code: i32) -> i32 {
    std::mem::forget(c);
    code
}

/// Compiles for a query (`explain`, `matrix`): reads the inputs and
/// compiles; on failure returns the exit code after printing the errors
/// (warnings are `nplc check`'s business, so a query prints only errors).
pub fn compile_for_query(common: &Common) -> Result<crate::driver::Compilation, i32> {
    let inputs =
        crate::driver::read_inputs(&common.paths).map_err(|e| fail_io(common.error_format, e.0))?;
    let c = crate::driver::compile_inputs(&inputs);
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
    c: &crate::driver::Compilation,
    pop: &crate::population::Population,
) -> Result<(), i32> {
    let Some(prog) = &c.program else {
        return Ok(());
    };
    let d = crate::eval::stated_label_mismatches(prog, pop);
    if d.is_empty() {
        return Ok(());
    }
    report(common.error_format, &c.sources, &d);
    Err(EXIT_ERRORS)
}

/// The project file of a command given no PATH: found upwards from the
/// working directory, its `sources` become the command's paths. `None`
/// when PATHs are given (explicit arguments win; nothing of a project
/// file applies then). Errors (no project file, unreadable or malformed)
/// are reported, and the exit code (2) returned.
pub fn project(common: &mut Common) -> Result<Option<crate::project::Project>, i32> {
    use crate::project::{self, ProjectError};
    if !common.paths.is_empty() {
        return Ok(None);
    }
    let fmt = common.error_format;
    let cwd = std::env::current_dir().map_err(|e| {
        fail_io(
            fmt,
            format!(
                "cannot read the working directory: {}",
                crate::diag::io_msg(&e)
            ),
        )
    })?;
    let Some(file) = project::find(&cwd) else {
        return Err(fail_io(
            fmt,
            format!(
                "no PATH given and no `{}` in `{}` or a directory above it; name the `.npl` files or directories to read",
                project::FILE_NAME,
                cwd.display()
            ),
        ));
    };
    match project::load(&file) {
        Ok(p) => {
            common.paths = p.sources.clone();
            Ok(Some(p))
        }
        Err(ProjectError::Io(m)) => Err(fail_io(fmt, m)),
        Err(ProjectError::Malformed {
            sources,
            diagnostic,
        }) => {
            report(fmt, &sources, &[*diagnostic]);
            Err(EXIT_USAGE)
        }
    }
}

/// Writes `text` to standard output; `false` when it cannot (a closed
/// pipe), which the commands answer with exit code 2.
pub fn print_stdout(text: &str) -> bool {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|_| out.flush())
        .is_ok()
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

/// Parses the process's arguments and runs the subcommand: the exit code.
pub fn main() -> i32 {
    run(Cli::parse())
}

pub fn run(cli: Cli) -> i32 {
    match cli.command {
        Command::Build(a) => build::run(a),
        Command::Check(a) => check::run(a),
        Command::Explain(a) => explain::run(a),
        Command::Matrix(a) => matrix::run(a),
        Command::Import(a) => import::run(a),
        Command::Fmt(a) => fmt::run(a),
        Command::Lsp(a) => lsp::run(a),
        Command::Diff(a) => diff::run(a),
        Command::Graph(a) => graph::run(a),
    }
}
