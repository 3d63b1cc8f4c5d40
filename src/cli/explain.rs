//! `nplc explain PATH... --from SRC --to DST:PORT[/PROTO] [--pods FILE]`:
//! compile, then say whether one connection is allowed, why (each side's
//! verdict and the statements that decided it), which generated policies
//! select the pods, and what the Kubernetes evaluator says of the generated
//! policies. Exit 0 when both agree, 1 when the sources have errors (or,
//! a bug, the two disagree), 2 on a usage or I/O error. Warnings are not printed (`nplc check` does).

use super::{Common, EXIT_ERRORS, EXIT_OK};
use crate::eval::explain;
use crate::population::Population;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub common: Common,
    /// The source: a pod `NS/POD` of the population, a pod given by its
    /// labels `NS/KEY=VALUE,...`, or an IP address.
    #[arg(long, value_name = "SRC")]
    pub from: String,
    /// The destination and port: `NS/POD:5432`, `NS/app=db:5432/tcp`,
    /// `10.1.2.3:53/udp`, `[2001:db8::1]:443`, or a named port `NS/POD:http`.
    #[arg(long, value_name = "DST:PORT[/PROTO]")]
    pub to: String,
    /// The population: Kubernetes Namespace and Pod objects (YAML), such as
    /// `kubectl get ns,pods -A -o yaml` prints. Without it: the
    /// `population` of the project file (docs/project.md), else none.
    #[arg(long, value_name = "FILE")]
    pub pods: Option<PathBuf>,
}

/// Reads and loads a population file; the message names the file.
pub fn load_population(path: &std::path::Path) -> Result<crate::population::Population, String> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        format!(
            "cannot read `{}`: {}",
            path.display(),
            crate::diag::io_msg(&e)
        )
    })?;
    crate::population::load_population(&text)
        .map_err(|e| format!("population `{}`: {e}", path.display()))
}

pub fn run(mut a: Args) -> i32 {
    let fmt = a.common.error_format;
    // usage errors first: the question itself, then the files
    if let Err(e) = explain::parse_endpoint(&a.from).and_then(|_| explain::parse_target(&a.to)) {
        return super::fail_usage(fmt, e.0);
    }
    let project = match super::project(&mut a.common) {
        Ok(p) => p,
        Err(code) => return code,
    };
    if a.pods.is_none() {
        a.pods = project.and_then(|p| p.population);
    }
    let pop = match &a.pods {
        Some(p) => match load_population(p) {
            Ok(pop) => pop,
            Err(e) => return super::fail_io(fmt, e),
        },
        None => Population::default(),
    };
    let c = match super::compile_for_query(&a.common) {
        Ok(c) => c,
        Err(code) => return code,
    };
    if let Err(code) = super::refuse_label_mismatches(&a.common, &c, &pop) {
        return code;
    }
    match explain::explain(&c, &pop, a.pods.is_some(), &a.from, &a.to) {
        Ok(e) => {
            print!("{}", explain::render(&c, &e));
            if e.agrees() {
                EXIT_OK
            } else {
                EXIT_ERRORS
            }
        }
        Err(e) => super::fail_usage(fmt, e.0),
    }
}
