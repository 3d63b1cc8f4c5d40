//! `nplc check PATH... [--pods FILE]`: diagnostics only; with a
//! population, also every managed namespace whose real labels differ from
//! the ones the program states (E0210).

use super::{report, Common, EXIT_ERRORS, EXIT_OK};
use crate::driver;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub common: Common,
    /// A population (Kubernetes Namespace and Pod objects, YAML): report
    /// every managed namespace whose labels there differ from the ones its
    /// `labels` statement states.
    #[arg(long, value_name = "FILE")]
    pub pods: Option<std::path::PathBuf>,
}

pub fn run(mut a: Args) -> i32 {
    let project = match super::project(&mut a.common) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let mut t = driver::Timer::new();
    let inputs = match driver::read_inputs_noting(&a.common.paths) {
        Ok(i) => i,
        Err(e) => return super::fail_io(a.common.error_format, e.0),
    };
    t.lap("read");
    let pop = match &a.pods {
        Some(p) => match super::explain::load_population(p) {
            Ok(pop) => Some(pop),
            Err(e) => return super::fail_io(a.common.error_format, e),
        },
        None => None,
    };
    let mut c = driver::check_inputs(&inputs.files);
    c.diagnostics.extend(inputs.notes);
    if let (Some(pop), Some(prog)) = (&pop, &c.program) {
        c.diagnostics
            .extend(crate::eval::stated_label_mismatches(prog, pop));
    }
    if let Some(p) = &project {
        p.deny(&mut c.diagnostics);
    }
    report(a.common.error_format, &c.sources, &c.diagnostics);
    let code = if super::fails(&a.common, &c.diagnostics) {
        EXIT_ERRORS
    } else {
        EXIT_OK
    };
    super::exit_without_freeing(c, code)
}
