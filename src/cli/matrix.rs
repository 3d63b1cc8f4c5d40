//! `nplc matrix PATH... --pods FILE [--format table|csv|json] [--ports LIST]`:
//! compile, then print what a probe between every two pods of the
//! population would see under the generated policies, per protocol and
//! port (docs/population.md). Exit 0 on success, 1 when the sources have
//! errors (or, a bug, the generated policies disagree with the program),
//! 2 on a usage or I/O error. Warnings are not printed (`nplc check` does).

use super::{Common, EXIT_ERRORS, EXIT_OK, EXIT_USAGE};
use clap::ValueEnum;
use nplc::eval::matrix;
use std::io::Write;
use std::path::PathBuf;

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum, Default)]
pub enum Format {
    /// One aligned grid per protocol and port.
    #[default]
    Table,
    /// `src,dst,protocol,port,allowed`.
    Csv,
    /// An array of `{src, dst, protocol, port, allowed}` objects.
    Json,
}

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub common: Common,
    /// The population: Kubernetes Namespace and Pod objects (YAML), such as
    /// `kubectl get ns,pods -A -o yaml` prints.
    #[arg(long, value_name = "FILE")]
    pub pods: PathBuf,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Probe these ports instead of the default (every port and range
    /// boundary of the program, and every container port): `80,udp/53,8000-8010`.
    #[arg(long, value_name = "LIST")]
    pub ports: Option<String>,
}

pub fn run(a: Args) -> i32 {
    let fmt = a.common.error_format;
    let ports = match a.ports.as_deref().map(matrix::parse_ports) {
        Some(Err(e)) => return super::fail_io(fmt, format!("`--ports`: {e}")),
        Some(Ok(p)) => Some(p),
        None => None,
    };
    let pop = match super::explain::load_population(&a.pods) {
        Ok(pop) => pop,
        Err(e) => return super::fail_io(fmt, e),
    };
    let c = match super::compile_for_query(&a.common) {
        Ok(c) => c,
        Err(code) => return code,
    };
    if let Err(code) = super::refuse_label_mismatches(&a.common, &c, &pop) {
        return code;
    }
    let Some(prog) = c.program.as_ref().filter(|_| !c.has_errors()) else {
        return EXIT_ERRORS;
    };
    let ports = ports.unwrap_or_else(|| matrix::default_ports(prog, &pop));
    let objects: Vec<_> = c.manifests.iter().map(|m| m.object.clone()).collect();
    let rows = matrix::matrix(&objects, prog, &pop, &ports);
    let text = match a.format {
        Format::Table => matrix::table(&rows, &pop),
        Format::Csv => matrix::csv(&rows, &pop),
        Format::Json => matrix::json(&rows, &pop),
    };
    let mut out = std::io::stdout().lock();
    if out
        .write_all(text.as_bytes())
        .and_then(|_| out.flush())
        .is_err()
    {
        return EXIT_USAGE;
    }
    let bad = matrix::disagreements(&rows);
    if !bad.is_empty() {
        eprintln!("error: the generated policies and the program disagree on {} connection(s); this is a bug in nplc", bad.len());
        for r in bad.iter().take(10) {
            let name = |i: usize| {
                pop.pods
                    .get(i)
                    .map(|p| format!("{}/{}", p.namespace, p.name))
                    .unwrap_or_default()
            };
            eprintln!(
                "  {} -> {} {}/{}: the program says {}, the policies say {}",
                name(r.src),
                name(r.dst),
                r.protocol.k8s_name(),
                r.port,
                if r.intended { "allowed" } else { "denied" },
                if r.allowed { "allowed" } else { "denied" }
            );
        }
        return EXIT_ERRORS;
    }
    EXIT_OK
}
