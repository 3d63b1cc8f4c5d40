//! `nplc import`, the last step: nplc's own output recognised. Input: the
//! checked policies ([`super::Policy`]) and a way to read the `.npl` files
//! their `nplc.io/source` annotations name. Output: one program text per
//! namespace ([`Imported`]): for a namespace whose policies are all nplc's
//! output of one file that is at hand and still builds to exactly those
//! policies, that file's text (formatted); for every other namespace the
//! construction of [`super::write`]. So importing the build of an import
//! gives the same text (the fixed point, docs/import.md), and the import
//! stays exact: a file is taken only when the build of the result gives,
//! for its namespace, the very policies of the input, and nothing outside
//! it.

use super::write::{self, Program};
use super::Policy;
use crate::diag::Diagnostic;
use crate::driver::{compile_inputs, Input};
use std::collections::{BTreeMap, BTreeSet};

/// What [`programs`] made: the programs by namespace, and notes on the
/// namespaces recognised as nplc's output (W0806) or not (W0807).
#[derive(Debug, Default)]
pub struct Imported {
    pub programs: Vec<Program>,
    pub notes: Vec<Diagnostic>,
}

/// The name a constructed program is compiled under here: never the name
/// of a file (it holds a NUL).
fn constructed_name(ns: &str) -> String {
    format!("\u{0}import/{ns}.npl")
}

/// What a policy says, without where it was read.
type Said<'a> = (
    &'a str,
    &'a str,
    &'a super::Selector,
    bool,
    bool,
    &'a [super::Rule],
    &'a [super::Rule],
);

fn said(p: &Policy) -> Said<'_> {
    (
        &p.namespace,
        &p.name,
        &p.subject,
        p.ingress_isolated,
        p.egress_isolated,
        &p.ingress,
        &p.egress,
    )
}

/// The programs of `policies` (sorted by namespace, name, as
/// [`super::read`] leaves them). `resolve` reads a file named by an
/// `nplc.io/source` annotation (`None`: not at hand).
pub fn programs(policies: &[Policy], resolve: &dyn Fn(&str) -> Option<String>) -> Imported {
    let constructed = write::programs(policies);
    let mut by_ns: BTreeMap<&str, Vec<&Policy>> = BTreeMap::new();
    for p in policies {
        by_ns.entry(p.namespace.as_str()).or_default().push(p);
    }
    // which namespaces name each file
    let mut users: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for p in policies {
        for f in &p.built_from {
            users.entry(f.as_str()).or_default().insert(&p.namespace);
        }
    }
    let mut notes = Vec::new();
    // candidates: namespace -> (file, its text)
    let mut candidates: BTreeMap<&str, (&str, String)> = BTreeMap::new();
    for (ns, ps) in &by_ns {
        if !ps.iter().any(|p| !p.built_from.is_empty()) {
            continue;
        }
        let files: BTreeSet<&str> = ps
            .iter()
            .flat_map(|p| p.built_from.iter().map(String::as_str))
            .collect();
        let why = match files.iter().next() {
            _ if ps.iter().any(|p| p.built_from.is_empty()) => {
                Some("some of its policies are not nplc's output".to_string())
            }
            Some(f) if files.len() == 1 => {
                if users.get(f).is_some_and(|u| u.len() > 1) {
                    Some(format!("`{f}` is built into other namespaces too"))
                } else {
                    match resolve(f) {
                        Some(text) => {
                            candidates.insert(ns, (f, text));
                            None
                        }
                        None => Some(format!("`{f}` is not at hand")),
                    }
                }
            }
            _ => Some(format!(
                "it was built from several files ({})",
                files
                    .iter()
                    .map(|f| format!("`{f}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        };
        if let Some(why) = why {
            notes.push(Diagnostic::note(
                "W0807",
                format!("namespace `{ns}` is nplc's output, imported by the construction: {why}"),
            ));
        }
    }
    // drop candidates until the build of the result gives each remaining
    // one exactly its input policies (each round drops at least one, or ends)
    loop {
        if candidates.is_empty() {
            break;
        }
        let inputs: Vec<Input> = constructed
            .iter()
            .map(|p| match candidates.get(p.namespace.as_str()) {
                Some((f, text)) => Input {
                    name: f.to_string(),
                    text: text.clone(),
                },
                None => Input {
                    name: constructed_name(&p.namespace),
                    text: p.text.clone(),
                },
            })
            .collect();
        let c = compile_inputs(&inputs);
        if c.has_errors() {
            for (ns, (f, _)) in std::mem::take(&mut candidates) {
                notes.push(Diagnostic::note(
                    "W0807",
                    format!("namespace `{ns}` is nplc's output, imported by the construction: `{f}` does not build with the rest"),
                ));
            }
            break;
        }
        let mut built: BTreeMap<String, Vec<Policy>> = BTreeMap::new();
        let mut reaches_out: BTreeSet<String> = BTreeSet::new();
        for m in &c.manifests {
            let r = super::read(&[("built".to_string(), m.to_yaml())], None);
            for p in r.policies {
                for f in &p.built_from {
                    if let Some((ns, _)) = candidates
                        .iter()
                        .find(|(ns, (cf, _))| cf == f && **ns != p.namespace)
                    {
                        reaches_out.insert(ns.to_string());
                    }
                }
                built.entry(p.namespace.clone()).or_default().push(p);
            }
        }
        let wrong: Vec<&str> = candidates
            .keys()
            .copied()
            .filter(|ns| {
                let want: Vec<Said> = by_ns
                    .get(ns)
                    .map(|ps| ps.iter().map(|p| said(p)).collect())
                    .unwrap_or_default();
                let got: Vec<Said> = built
                    .get(*ns)
                    .map(|ps| ps.iter().map(said).collect())
                    .unwrap_or_default();
                want != got || reaches_out.contains(*ns)
            })
            .collect();
        if wrong.is_empty() {
            break;
        }
        for ns in wrong {
            if let Some((f, _)) = candidates.remove(ns) {
                notes.push(Diagnostic::note(
                    "W0807",
                    format!("namespace `{ns}` is nplc's output, imported by the construction: `{f}` no longer builds to its policies"),
                ));
            }
        }
    }
    let programs = constructed
        .into_iter()
        .map(|p| match candidates.get(p.namespace.as_str()) {
            Some((f, text)) => {
                notes.push(Diagnostic::note(
                    "W0806",
                    format!(
                        "namespace `{}` is nplc's output of `{f}`, which builds to exactly its policies: imported as that program",
                        p.namespace
                    ),
                ));
                Program {
                    namespace: p.namespace,
                    text: write::formatted(text.clone()),
                }
            }
            None => p,
        })
        .collect();
    Imported { programs, notes }
}
