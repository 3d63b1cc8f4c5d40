//! Policy names: stable DNS-1123 names derived from the namespace and the
//! workload a policy selects (`payments-db`), else from its selector
//! (`payments-app-api`), `<namespace>-default` for the policy that selects
//! every pod. Names longer than 63 characters, or equal for two policies,
//! end in a hash of the selector.

use crate::compile::Policy;
use crate::ir::{LabelSel, ValSet};
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

/// Names the policies of one namespace.
pub fn assign(ns: &crate::ir::Namespace, policies: &mut [Policy]) {
    for p in policies.iter_mut() {
        let what = if p.subject.is_any() {
            "default".to_string()
        } else if let Some(w) = ns.workloads.get(&p.subject) {
            w.clone()
        } else {
            selector_words(&p.subject)
        };
        let base = slug(&format!("{}-{what}", ns.name));
        p.name = if base.len() > MAX {
            shorten(&base, &p.subject)
        } else {
            base
        };
    }
    let mut count: BTreeMap<String, usize> = BTreeMap::new();
    for p in policies.iter() {
        *count.entry(p.name.clone()).or_default() += 1;
    }
    for p in policies.iter_mut() {
        if count.get(&p.name).copied().unwrap_or(0) > 1 {
            p.name = shorten(&p.name, &p.subject);
        }
    }
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
