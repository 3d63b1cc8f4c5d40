//! The standard library: `.npl` modules kept in `stdlib/` and embedded in
//! the binary. Input: a module name from `use`. Output: its source text.

/// (module name, source) for every embedded module, sorted by name.
pub const MODULES: &[(&str, &str)] = &[
    ("dns", include_str!("../stdlib/dns.npl")),
    ("k8s-ports", include_str!("../stdlib/k8s-ports.npl")),
    ("link-local", include_str!("../stdlib/link-local.npl")),
    ("metadata-api", include_str!("../stdlib/metadata-api.npl")),
    ("rfc1918", include_str!("../stdlib/rfc1918.npl")),
];

pub fn module(name: &str) -> Option<&'static str> {
    MODULES.iter().find(|(n, _)| *n == name).map(|(_, s)| *s)
}

pub fn names() -> impl Iterator<Item = &'static str> {
    MODULES.iter().map(|(n, _)| *n)
}
