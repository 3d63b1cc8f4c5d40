//! Stage 5, deny compilation: policy names. Input: a namespace of the IR
//! and the subjects (label selectors) of its policies. Output: one name
//! per subject, a pure function of the two and independent of the target.
//!
//! Names are stable DNS-1123 names derived from the namespace and the
//! workload a policy selects (`payments-db`), else from its selector
//! (`payments-app-api`), `<namespace>-default` for the policy that selects
//! every pod. Names longer than 63 characters, or equal for two policies,
//! end in a hash of the selector.

use crate::ir::{LabelSel, Namespace, ValSet};
use std::collections::BTreeMap;

const MAX: usize = 63;

/// FNV-1a, 64 bits: a stable hash that does not depend on the platform.
pub fn fnv1a(s: &str) -> u64 {
    let mut h: u64 = 0xcbf29ce484222325;
    for b in s.bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x100000001b3);
    }
    h
}

fn slug(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_matches('-').to_string()
}

fn selector_words(sel: &LabelSel) -> String {
    let mut parts = Vec::new();
    for (k, c) in &sel.0 {
        let key = k.rsplit('/').next().unwrap_or(k);
        let vals =
            |s: &crate::ir::sorted::VecSet<String>| s.iter().cloned().collect::<Vec<_>>().join("-");
        parts.push(match (&c.values, c.absent) {
            (ValSet::Cofinite(s), false) if s.is_empty() => key.to_string(),
            (ValSet::Finite(s), true) if s.is_empty() => format!("no-{key}"),
            (ValSet::Finite(s), _) => format!("{key}-{}", vals(s)),
            (ValSet::Cofinite(s), _) => format!("{key}-not-{}", vals(s)),
        });
    }
    parts.join("-")
}

fn shorten(base: &str, sel: &LabelSel) -> String {
    let hash = format!("{:08x}", fnv1a(&sel.to_string()) as u32);
    let keep = MAX - hash.len() - 1;
    let cut: String = base.chars().take(keep).collect();
    format!("{}-{hash}", cut.trim_end_matches('-'))
}

/// The names of the policies of namespace `ns` that select `subjects`, in
/// the same order: the namespace and the workload a subject is (or its
/// selector's words), shortened with a hash past 63 characters or where
/// two would be equal.
pub fn policy_names(ns: &Namespace, subjects: &[&LabelSel]) -> Vec<String> {
    let mut names: Vec<String> = subjects
        .iter()
        .map(|subject| {
            let what = if subject.is_any() {
                "default".to_string()
            } else if let Some(w) = ns.workloads.get(*subject) {
                w.clone()
            } else {
                selector_words(subject)
            };
            let base = slug(&format!("{}-{what}", ns.name));
            if base.len() > MAX {
                shorten(&base, subject)
            } else {
                base
            }
        })
        .collect();
    let mut count: BTreeMap<&str, usize> = BTreeMap::new();
    for n in &names {
        *count.entry(n.as_str()).or_default() += 1;
    }
    let twice: Vec<bool> = names
        .iter()
        .map(|n| count.get(n.as_str()).copied().unwrap_or(0) > 1)
        .collect();
    for ((name, subject), twice) in names.iter_mut().zip(subjects).zip(twice) {
        if twice {
            *name = shorten(name, subject);
        }
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs() {
        assert_eq!(slug("Payments--App_API"), "payments-app-api");
        assert_eq!(fnv1a(""), 0xcbf29ce484222325);
    }
}
