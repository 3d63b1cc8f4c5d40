//! Evaluators: decide connections between endpoints of a population under a
//! set of policies (outside the compile pipeline; used to check its output).

pub mod cilium;
pub mod classes;
pub mod explain;
pub mod intent;
pub mod k8s;
pub mod matrix;
pub mod popcheck;

use crate::diag::Diagnostic;
use crate::ir::Program;
use crate::population::Population;

/// E0210: every managed namespace whose labels the program states
/// (`labels {...}`) but which carries other labels in the population. The
/// output is exact only where the stated labels are the real ones, so a
/// check against a population reports each difference, with both label
/// sets. A namespace the population does not list is not reported (it
/// holds none of the population's pods).
pub fn stated_label_mismatches(prog: &Program, pop: &Population) -> Vec<Diagnostic> {
    let show = |l: &std::collections::BTreeMap<String, String>| {
        let v: Vec<String> = l.iter().map(|(k, v)| format!("{k}={v}")).collect();
        format!("{{{}}}", v.join(", "))
    };
    let mut out = Vec::new();
    for ns in prog.namespaces.values() {
        let (Some(stated), Some(real)) = (&ns.labels, pop.namespaces.get(&ns.name)) else {
            continue;
        };
        if *stated == real.labels {
            continue;
        }
        let d = Diagnostic::error(
            "E0210",
            format!(
                "namespace `{}` carries other labels than the program states",
                ns.name
            ),
        )
        .at(
            ns.labels_span.unwrap_or(ns.span),
            format!("states {}", show(stated)),
        )
        .with_note(format!("in the population it carries {}", show(&real.labels)))
        .with_help("state the namespace's real labels, or label the namespace as stated (`kubectl label namespace`): the policies are exact only where they are the same");
        out.push(d);
    }
    out
}
