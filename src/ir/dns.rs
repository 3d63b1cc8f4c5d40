//! Sets of DNS names (the `dns:NAME` peer, docs/language.md "DNS names"):
//! exact names and `*.SUFFIX` patterns, lower case, without a trailing dot,
//! sorted. A pattern's `*` is exactly one whole label (Cilium's
//! `matchPattern` meaning): `*.example.com` matches `a.example.com`, not
//! `example.com` and not `a.b.example.com`.
//!
//! A set of names denotes the external addresses its names resolve to when
//! a connection is made (docs/semantics.md), which no program knows: the
//! algebra here is on *names*. [`DnsNames::is_subset`] is sound for
//! addresses under every resolver (a name of `a` is a name of `b`, so its
//! addresses are `b`'s); an intersection or difference of names says
//! nothing about the addresses (two names may resolve to one address), and
//! callers that need addresses must not read "no common name" as "no
//! common address".

use super::sorted::VecSet;

/// A sorted set of DNS names and `*.` patterns.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct DnsNames(pub VecSet<String>);

/// Whether a name or pattern of a set (`*.x` or an exact name) matches
/// `name` (compared without case and trailing dot).
pub fn pattern_matches(pattern: &str, name: &str) -> bool {
    let n = name.trim_end_matches('.').to_ascii_lowercase();
    match pattern.strip_prefix("*.") {
        Some(suffix) => match n.strip_suffix(suffix) {
            Some(head) => head
                .strip_suffix('.')
                .is_some_and(|label| !label.is_empty() && !label.contains('.')),
            None => false,
        },
        None => n == pattern,
    }
}

/// Why a written name is not a DNS name or pattern nplc accepts, with what
/// to write instead; `Ok` is the name in canonical form (lower case, no
/// trailing dot).
pub fn canonical(written: &str) -> Result<String, (String, String)> {
    let lower = written.to_ascii_lowercase();
    let name = lower.strip_suffix('.').unwrap_or(&lower);
    let (pattern, rest) = match name.strip_prefix("*.") {
        Some(r) => (true, r),
        None => (false, name),
    };
    if name == "*" || name == "**" || name.is_empty() {
        return Err((
            "`*` alone is every name".into(),
            "write `world` for every external address, or a pattern with a suffix such as `dns:*.example.com`".into(),
        ));
    }
    if rest.contains('*') {
        return Err((
            "`*` stands for one whole label, and only as the first".into(),
            format!(
                "write an exact name such as `dns:api.{0}` or a pattern such as `dns:*.{0}` (one label; Cilium's `**.` and `*` inside a label are not supported)",
                suffix_hint(rest)
            ),
        ));
    }
    let labels: Vec<&str> = rest.split('.').collect();
    if !pattern && labels.len() < 2 {
        return Err((
            "a DNS name needs at least two labels".into(),
            "write a fully qualified name such as `dns:api.example.com`".into(),
        ));
    }
    if labels.iter().any(|l| l.is_empty()) {
        return Err((
            "a DNS name has no empty labels".into(),
            "write the labels joined by single dots, such as `dns:api.example.com`".into(),
        ));
    }
    if let Some(bad) = labels.iter().find(|l| l.len() > 63) {
        return Err((
            format!("the label `{bad}` is longer than 63 characters"),
            "a DNS label has at most 63 characters".into(),
        ));
    }
    if let Some(bad) = labels
        .iter()
        .find(|l| l.starts_with('-') || l.ends_with('-'))
    {
        return Err((
            format!("the label `{bad}` starts or ends with `-`"),
            "a DNS label starts and ends with a letter or digit".into(),
        ));
    }
    if name.len() > 253 {
        return Err((
            "a DNS name has at most 253 characters".into(),
            "write a shorter name, or a `*.` pattern for its parent".into(),
        ));
    }
    if labels
        .last()
        .is_some_and(|l| l.chars().all(|c| c.is_ascii_digit()))
    {
        return Err((
            "a name ending in a number is an address, not a DNS name".into(),
            format!("write the address without `dns:`, such as `{rest}`"),
        ));
    }
    Ok(name.to_string())
}

fn suffix_hint(rest: &str) -> String {
    let parts: Vec<&str> = rest
        .split('.')
        .filter(|l| !l.is_empty() && !l.contains('*'))
        .collect();
    if parts.len() >= 2 {
        parts.join(".")
    } else {
        "example.com".to_string()
    }
}

impl DnsNames {
    /// The set of the given canonical names, with exact names that a
    /// pattern of the set matches dropped (they add no address).
    pub fn new(names: impl IntoIterator<Item = String>) -> DnsNames {
        let mut all = VecSet::new();
        for n in names {
            all.insert(n);
        }
        let patterns: Vec<String> = all
            .iter()
            .filter(|n| n.starts_with("*."))
            .cloned()
            .collect();
        let mut out = VecSet::new();
        for n in all.iter() {
            let covered =
                !n.starts_with("*.") && patterns.iter().any(|p| pattern_matches(p, n));
            if !covered {
                out.insert(n.clone());
            }
        }
        DnsNames(out)
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    pub fn iter(&self) -> impl Iterator<Item = &String> {
        self.0.iter()
    }
    /// Whether a name (as a resolver answers it) is one of the set's.
    pub fn matches(&self, name: &str) -> bool {
        self.0.iter().any(|p| pattern_matches(p, name))
    }
    /// Whether an entry (name or pattern) denotes only names of `o`.
    fn entry_in(entry: &str, o: &DnsNames) -> bool {
        o.0.contains(entry) || (!entry.starts_with("*.") && o.matches(entry))
    }
    /// Every name of `self` is a name of `o` (so, under any resolver, every
    /// address of `self` is one of `o`'s).
    pub fn is_subset(&self, o: &DnsNames) -> bool {
        self.0.iter().all(|e| DnsNames::entry_in(e, o))
    }
    pub fn union(&self, o: &DnsNames) -> DnsNames {
        DnsNames::new(self.0.iter().chain(o.0.iter()).cloned())
    }
    /// The names both sets hold (names, not addresses: see the module).
    pub fn intersect(&self, o: &DnsNames) -> DnsNames {
        let mut v: Vec<String> = self
            .0
            .iter()
            .filter(|e| DnsNames::entry_in(e, o))
            .cloned()
            .collect();
        v.extend(o.0.iter().filter(|e| DnsNames::entry_in(e, self)).cloned());
        DnsNames::new(v)
    }
    /// The entries of `self` that do not lie in `o` (names, not addresses).
    pub fn minus(&self, o: &DnsNames) -> DnsNames {
        DnsNames::new(
            self.0
                .iter()
                .filter(|e| !DnsNames::entry_in(e, o))
                .cloned(),
        )
    }
    /// As written in a program: `dns:a.b | dns:*.c`.
    pub fn text(&self) -> String {
        self.0
            .iter()
            .map(|n| format!("dns:{n}"))
            .collect::<Vec<_>>()
            .join(" | ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_are_one_whole_label() {
        assert!(pattern_matches("*.example.com", "a.example.com"));
        assert!(pattern_matches("*.example.com", "A.Example.COM."));
        assert!(!pattern_matches("*.example.com", "example.com"));
        assert!(!pattern_matches("*.example.com", "a.b.example.com"));
        assert!(!pattern_matches("*.example.com", "aexample.com"));
        assert!(pattern_matches("api.example.com", "API.example.com."));
        assert!(!pattern_matches("api.example.com", "x.api.example.com"));
    }

    #[test]
    fn canonical_names_and_refusals() {
        assert_eq!(canonical("API.Stripe.com.").unwrap(), "api.stripe.com");
        assert_eq!(canonical("*.s3.amazonaws.com").unwrap(), "*.s3.amazonaws.com");
        assert_eq!(canonical("my_host.corp.example").unwrap(), "my_host.corp.example");
        for bad in [
            "*", "**.example.com", "a*.example.com", "*.*.example.com", "example",
            "a..b", "-a.example.com", "1.2.3.4", "a.b*",
        ] {
            assert!(canonical(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn algebra_on_names() {
        let s = |v: &[&str]| DnsNames::new(v.iter().map(|x| x.to_string()));
        // an exact name under a pattern of the set adds nothing
        assert_eq!(s(&["a.x.com", "*.x.com"]), s(&["*.x.com"]));
        assert!(s(&["a.x.com"]).is_subset(&s(&["*.x.com"])));
        assert!(!s(&["*.x.com"]).is_subset(&s(&["a.x.com"])));
        assert!(!s(&["x.com"]).is_subset(&s(&["*.x.com"])));
        assert_eq!(s(&["a.x.com", "b.y.com"]).intersect(&s(&["*.x.com"])), s(&["a.x.com"]));
        assert_eq!(s(&["a.x.com", "b.y.com"]).minus(&s(&["*.x.com"])), s(&["b.y.com"]));
        assert_eq!(s(&["b.y.com", "*.x.com"]).text(), "dns:*.x.com | dns:b.y.com");
    }
}
