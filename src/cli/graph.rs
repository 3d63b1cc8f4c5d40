//! `nplc graph PATH... [--pods FILE] --format mermaid|dot`: who talks to
//! whom (docs/diff.md, "nplc graph"). Without a population: an edge per
//! source × destination of every statement, in source terms; with one: an
//! edge per pair of pod classes the program permits. Exit 0 on success, 1
//! when the sources have errors, 2 on a usage or I/O error.

use super::{Common, EXIT_ERRORS, EXIT_OK, EXIT_USAGE};
use crate::diff::{graph, report::Side};
use crate::driver;
use clap::ValueEnum;
use std::path::PathBuf;

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum, Default)]
pub enum Format {
    /// A Mermaid flowchart (renders in GitHub comments and Markdown files).
    #[default]
    Mermaid,
    /// A Graphviz digraph (`dot -Tsvg`).
    Dot,
}

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub common: Common,
    /// The population (Namespace and Pod objects, YAML): draw its pods.
    #[arg(long, value_name = "FILE")]
    pub pods: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = Format::Mermaid)]
    pub format: Format,
}

pub fn run(mut a: Args) -> i32 {
    let fmt = a.common.error_format;
    if let Err(code) = super::project(&mut a.common) {
        return code;
    }
    let pop = match &a.pods {
        Some(p) => match super::explain::load_population(p) {
            Ok(pop) => Some(pop),
            Err(e) => return super::fail_io(fmt, e),
        },
        None => None,
    };
    let inputs = match driver::read_inputs(&a.common.paths) {
        Ok(i) => i,
        Err(e) => return super::fail_io(fmt, e.0),
    };
    let c = driver::front_end(&inputs);
    let errors: Vec<_> = c
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .cloned()
        .collect();
    let Some(prog) = c.program.as_ref().filter(|_| errors.is_empty()) else {
        super::report(fmt, &c.sources, &errors);
        return EXIT_ERRORS;
    };
    let g = match &pop {
        Some(pop) => graph::population_graph(prog, pop),
        None => graph::program_graph(&Side {
            prog,
            sources: &c.sources,
            label: String::new(),
        }),
    };
    let text = match a.format {
        Format::Mermaid => g.mermaid(),
        Format::Dot => g.dot(),
    };
    if !super::print_stdout(&text) {
        return EXIT_USAGE;
    }
    super::exit_without_freeing(c, EXIT_OK)
}
