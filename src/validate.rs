//! Kubernetes' syntax rules for the names and values nplc reads and
//! writes: namespace names (DNS-1123 labels), label keys and values, port
//! names (IANA service names), and addresses and CIDR blocks. Input: text as
//! written. Output: whether it is valid, or for an address its exact set or
//! a diagnostic. Used by the checker, the node firewall, `explain` and every
//! reader of cluster objects, so that each rule is written once.

use crate::diag::Diagnostic;
use crate::ir::IpSet;
use crate::source::Span;
use ipnet::IpNet;
use std::net::IpAddr;

/// A DNS-1123 label (a namespace name): at most 63 characters, lowercase
/// letters, digits and `-`, no `-` at either end.
pub fn is_dns1123_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// A DNS-1123 subdomain (a label key's prefix): dot-separated labels, at
/// most 253 characters.
pub fn is_dns1123_subdomain(s: &str) -> bool {
    !s.is_empty() && s.len() <= 253 && s.split('.').all(is_dns1123_label)
}

/// The name part of a label key, or a label value: at most 63 characters,
/// alphanumerics, `-`, `_`, `.`, alphanumeric at both ends.
fn is_name_part(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && s.starts_with(|c: char| c.is_ascii_alphanumeric())
        && s.ends_with(|c: char| c.is_ascii_alphanumeric())
}

/// A label key: `[prefix/]name` (Kubernetes' qualified name).
pub fn is_label_key(s: &str) -> bool {
    match s.rsplit_once('/') {
        Some((prefix, name)) => is_dns1123_subdomain(prefix) && is_name_part(name),
        None => is_name_part(s),
    }
}

/// A label value: empty or a name part.
pub fn is_label_value(s: &str) -> bool {
    s.is_empty() || is_name_part(s)
}

/// A port name (an IANA service name, as a container port's `name`): at
/// most 15 characters, lowercase letters, digits and `-`, at least one
/// letter, no `-` at either end and no `--`.
pub fn is_port_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 15
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && s.chars().any(|c| c.is_ascii_lowercase())
        && !s.starts_with('-')
        && !s.ends_with('-')
        && !s.contains("--")
}

/// An address or CIDR block as written (`10.0.0.0/8`, `169.254.169.254`,
/// `2001:db8::/32`): a bare address is a /32 or /128. Errors: malformed
/// (E0301) and host bits set (E0302, with the network address as help).
/// Shared by the policy checker and the node firewall.
pub fn address(text: &str, span: Span) -> Result<IpSet, Diagnostic> {
    let bracketed = text.starts_with('[') && text.ends_with(']');
    let inner = unbracket(text);
    let (addr_s, len_s) = match inner.split_once('/') {
        Some((a, l)) => (a, Some(l)),
        None => (inner, None),
    };
    let Ok(addr) = addr_s.parse::<IpAddr>() else {
        return Err(Diagnostic::error("E0301", format!("`{text}` is not an IP address or CIDR block"))
            .at(span, "malformed address")
            .with_help("write an IPv4 or IPv6 address, optionally with a prefix length: `10.0.0.0/8`, `2001:db8::/32`"));
    };
    if addr.is_ipv6() && len_s.is_none() && !bracketed {
        let mut d = Diagnostic::error(
            "E0305",
            format!("write the IPv6 address `{text}` in brackets or with a prefix length"),
        )
        .at(span, "a bare IPv6 address");
        // `fd00:ec2::254:443` may be an address and a port
        let port_reading = text.rsplit_once(':').filter(|(a, p)| {
            !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()) && a.parse::<IpAddr>().is_ok()
        });
        d = match port_reading {
            Some((a, p)) => d
                .with_help(format!(
                    "if `:{p}` is a port, write `[{a}]:{p}`; if it is part of the address, write `[{text}]` or `{text}/128`"
                ))
                .with_note("a port after a bare IPv6 address cannot be told from the address's last group"),
            None => d.with_help(format!("write `[{text}]` or `{text}/128`; ports follow the brackets: `[{text}]:443`")),
        };
        return Err(d);
    }
    if bracketed && addr.is_ipv4() {
        return Err(
            Diagnostic::error("E0301", format!("`{text}` is an IPv4 address in brackets"))
                .at(span, "brackets are for IPv6 addresses")
                .with_help(format!("write `{inner}`")),
        );
    }
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let len = match len_s {
        None => max,
        Some(l) => match l.parse::<u8>() {
            Ok(n) if n <= max => n,
            _ => {
                return Err(Diagnostic::error(
                    "E0301",
                    format!("`/{l}` is not a prefix length for this address"),
                )
                .at(span, format!("the prefix length must be 0 to {max}"))
                .with_help(format!("write a prefix length from 0 to {max}")))
            }
        },
    };
    let net = IpNet::new(addr, len).map_err(|_| {
        Diagnostic::error(
            "E0301",
            format!("`{text}` is not an IP address or CIDR block"),
        )
        .at(span, "malformed address")
    })?;
    if net.trunc() != net {
        let one = IpNet::new(addr, max)
            .map(|n| n.to_string())
            .unwrap_or_default();
        return Err(
            Diagnostic::error("E0302", format!("`{text}` has host bits set"))
                .at(
                    span,
                    format!("the address of a /{len} block ends in zero bits"),
                )
                .with_help(format!(
                    "the network address is `{}`; to match the one address, write `{one}`",
                    net.trunc()
                )),
        );
    }
    Ok(IpSet::from_net(&net))
}

/// An address as written without the brackets of `[2001:db8::1]`.
pub fn unbracket(text: &str) -> &str {
    text.strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .unwrap_or(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_syntax() {
        assert!(is_label_key("app"));
        assert!(is_label_key("app.kubernetes.io/name"));
        assert!(!is_label_key("-app"));
        assert!(!is_label_key("Example.com/app"));
        assert!(!is_label_key(&"a".repeat(64)));
        assert!(is_label_value(""));
        assert!(is_label_value("v1.2_x"));
        assert!(!is_label_value("a b"));
        assert!(is_dns1123_label("kube-system"));
        assert!(!is_dns1123_label("Kube"));
    }

    #[test]
    fn port_names() {
        assert!(is_port_name("http"));
        assert!(is_port_name("web-8080"));
        assert!(!is_port_name("8080"));
        assert!(!is_port_name("a--b"));
        assert!(!is_port_name("-http"));
        assert!(!is_port_name("abcdefghijklmnop"));
    }
}
