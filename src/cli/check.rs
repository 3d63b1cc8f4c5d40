//! `nplc check PATH... [--pods FILE]`: diagnostics only; with a
//! population (`--pods`, or the project file's `population`), also every
//! managed namespace whose real labels differ from the ones the program
//! states (E0210) and the population-aware warnings W0610-W0612
//! (`eval::popcheck`, docs/population.md).

use super::{report, Common, EXIT_ERRORS, EXIT_OK};
use crate::driver;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub common: Common,
    /// A population (Kubernetes Namespace, Pod and Service objects, YAML,
    /// as `kubectl get ns,pods,svc -A -o yaml` prints them): report every
    /// managed namespace whose labels there differ from the ones its
    /// `labels` statement states, selectors that match no pod, pods no
    /// workload names, and ports that are a Service's rather than its
    /// pods'. Without it: the `population` of the project file.
    #[arg(long, value_name = "FILE")]
    pub pods: Option<std::path::PathBuf>,
    /// The target whose refusals to report (`k8s`: E0501/E0502; `cilium`:
    /// E0503; docs/targets.md). Default: the `target` of the project file,
    /// else `k8s`.
    #[arg(long, value_enum)]
    pub target: Option<super::TargetArg>,
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
    if a.pods.is_none() {
        a.pods = project.as_ref().and_then(|p| p.population.clone());
    }
    let pop = match &a.pods {
        Some(p) => match super::explain::load_population(p) {
            Ok(pop) => Some(pop),
            Err(e) => return super::fail_io(a.common.error_format, e),
        },
        None => None,
    };
    let target = a
        .target
        .map(super::TargetArg::target)
        .or(project.as_ref().and_then(|p| p.target))
        .unwrap_or_default();
    let mut c = driver::check_for(&inputs.files, target);
    c.diagnostics.extend(inputs.notes);
    if let (Some(pop), Some(prog)) = (&pop, &c.program) {
        c.diagnostics
            .extend(crate::eval::stated_label_mismatches(prog, pop));
        let mut found = crate::eval::popcheck::population_checks(prog, pop);
        driver::apply_silences(prog, &mut found);
        c.diagnostics.extend(found);
        crate::diag::sort_diagnostics(&mut c.diagnostics);
        t.lap("population");
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
