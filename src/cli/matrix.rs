//! `nplc matrix PATH... --pods FILE [--format table|csv|json|classes|classes-json] [--ports LIST]`:
//! compile, then print what a probe between every two pods of the
//! population would see under the generated policies, per protocol and
//! port, or (`classes`, `classes-json`) the compact form: classes of pods
//! and the port ranges each pair of classes allows (docs/population.md).
//! Every form is computed on classes of pods and port intervals
//! (`eval::classes`) and written as it is produced. Exit 0 on success, 1 when the sources have
//! errors (or, a bug, the generated policies disagree with the program),
//! 2 on a usage or I/O error. Warnings are not printed (`nplc check` does).

use super::{Common, EXIT_ERRORS, EXIT_OK, EXIT_USAGE};
use crate::eval::{classes, matrix};
use clap::ValueEnum;
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
    /// The compact form: classes of pods that behave alike, and the port
    /// ranges each pair of classes allows (every port, not only probes).
    Classes,
    /// The compact form as JSON.
    ClassesJson,
}

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub common: Common,
    /// The population: Kubernetes Namespace and Pod objects (YAML), such as
    /// `kubectl get ns,pods -A -o yaml` prints.
    /// Without it: the `population` of the project file (docs/project.md).
    #[arg(long, value_name = "FILE")]
    pub pods: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Probe these ports instead of the default (every port and range
    /// boundary of the program, and every container port): `80,udp/53,8000-8010`.
    #[arg(long, value_name = "LIST")]
    pub ports: Option<String>,
}

pub fn run(mut a: Args) -> i32 {
    let fmt = a.common.error_format;
    let project = match super::project(&mut a.common) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let Some(pods) = a
        .pods
        .clone()
        .or_else(|| project.and_then(|p| p.population))
    else {
        return super::fail_io(
            fmt,
            "no population: give `--pods FILE` (or `population` in `nplc.toml`)".to_string(),
        );
    };
    let ports = match a.ports.as_deref().map(matrix::parse_ports) {
        Some(Err(e)) => return super::fail_usage(fmt, format!("`--ports`: {e}")),
        Some(Ok(p)) => Some(p),
        None => None,
    };
    let pop = match super::explain::load_population(&pods) {
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
    let m = classes::evaluate(&objects, prog, &pop);
    let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    let written = match a.format {
        Format::Table => matrix::write_table(&mut out, &m, &pop, &ports),
        Format::Csv => matrix::write_csv(&mut out, &m, &pop, &ports),
        Format::Json => matrix::write_json(&mut out, &m, &pop, &ports),
        Format::Classes => matrix::write_classes(&mut out, &m, &pop),
        Format::ClassesJson => matrix::write_classes_json(&mut out, &m, &pop),
    };
    if written.and_then(|_| out.flush()).is_err() {
        return EXIT_USAGE;
    }
    drop(out);
    if matches!(a.format, Format::Classes | Format::ClassesJson) {
        let bad = m.disagreements();
        if !bad.is_empty() {
            eprintln!("error: the generated policies and the program disagree on {} pair(s) of pod classes; this is a bug in nplc", bad.len());
            for (s, d, cell) in bad.iter().take(10) {
                eprintln!(
                    "  {} -> {}: the program allows {}, the policies allow {}",
                    matrix::class_name(&m, &pop, *s),
                    matrix::class_name(&m, &pop, *d),
                    cell.intended.text(),
                    cell.allowed.text()
                );
            }
            return EXIT_ERRORS;
        }
        return EXIT_OK;
    }
    let (count, bad) = matrix::row_disagreements(&m, &pop, &ports, 10);
    if count > 0 {
        eprintln!("error: the generated policies and the program disagree on {count} connection(s); this is a bug in nplc");
        for r in &bad {
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
