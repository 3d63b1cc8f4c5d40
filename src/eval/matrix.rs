//! The reachability matrix: what an end-to-end probe between every pair of
//! pods would see. Input: the generated NetworkPolicies, the checked
//! program, a [`Population`] and the probe ports. Output: one [`Row`] per
//! (source pod, destination pod, protocol, port), decided by the Kubernetes
//! evaluator on the generated policies and, beside it, by the intent
//! evaluator on the program; and renderings as CSV, JSON and a table.
//!
//! Default probe ports ([`default_ports`]): every port number and every
//! range boundary that the program writes (per protocol; "every port" adds
//! none), the number each named port of the program resolves to on each
//! pod, and every container port of every pod. When that is empty (the
//! program writes no port and no pod declares one, so every port behaves
//! alike) the matrix probes TCP port 80.

use crate::eval::classes::{self, ClassMatrix};
use crate::eval::k8s::Connection;
use crate::eval::{intent, k8s};
use crate::ir::ports::MAX_PORT;
use crate::ir::Program;
use crate::net::Protocol;
use crate::population::{Endpoint, Population};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;

/// Ports to probe, per protocol.
pub type ProbePorts = BTreeMap<Protocol, BTreeSet<u16>>;

/// The port probed when nothing names one.
pub const FALLBACK_PORT: u16 = 80;

/// One probe: pods by index into the population.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub src: usize,
    pub dst: usize,
    pub protocol: Protocol,
    pub port: u16,
    /// What the generated policies do (the Kubernetes evaluator).
    pub allowed: bool,
    /// What the program says (the intent evaluator); equal to `allowed`
    /// unless the compiler is wrong.
    pub intended: bool,
}

/// The default probe ports (see the module documentation).
pub fn default_ports(prog: &Program, pop: &Population) -> ProbePorts {
    let mut out = ProbePorts::new();
    for s in &prog.statements {
        for d in &s.dst {
            for (proto, ranges) in &d.ports.numbers {
                for &(lo, hi) in ranges.ranges() {
                    if (lo, hi) == (1, MAX_PORT) {
                        continue;
                    }
                    for n in [lo, hi] {
                        if let Ok(n) = u16::try_from(n) {
                            out.entry(*proto).or_default().insert(n);
                        }
                    }
                }
            }
            for (proto, name) in &d.ports.named {
                for pod in &pop.pods {
                    if let Some(n) = intent::named_port(pod, *proto, name) {
                        out.entry(*proto).or_default().insert(n);
                    }
                }
            }
        }
    }
    for pod in &pop.pods {
        for np in &pod.ports {
            out.entry(np.protocol).or_default().insert(np.port);
        }
    }
    out.retain(|_, ports| !ports.is_empty());
    if out.is_empty() {
        out.insert(Protocol::Tcp, [FALLBACK_PORT].into());
    }
    out
}

/// Parses `--ports`: a comma-separated list of `PORT`, `LO-HI` and either
/// with a protocol, `udp/53` (TCP when none is written). A range adds
/// every port in it, at most 1,024 ports in all.
pub fn parse_ports(list: &str) -> Result<ProbePorts, String> {
    const MAX_PROBES: usize = 1024;
    let mut out = ProbePorts::new();
    let mut count = 0usize;
    for item in list.split(',').map(str::trim) {
        if item.is_empty() {
            return Err(format!("an empty item in the port list `{list}`"));
        }
        let (proto, spec) = match item.split_once('/') {
            Some((p, rest)) => match Protocol::parse(p) {
                Some(p) => (p, rest),
                None => {
                    return Err(format!(
                        "`{p}` is not a protocol (write `tcp`, `udp` or `sctp`)"
                    ))
                }
            },
            None => (Protocol::Tcp, item),
        };
        let number = |s: &str| -> Result<u16, String> {
            match s.trim().parse::<u16>() {
                Ok(n) if n >= 1 => Ok(n),
                _ => Err(format!("`{s}` is not a port number (1 to 65535)")),
            }
        };
        let (lo, hi) = match spec.split_once('-') {
            Some((a, b)) => (number(a)?, number(b)?),
            None => {
                let n = number(spec)?;
                (n, n)
            }
        };
        if lo > hi {
            return Err(format!("the range `{lo}-{hi}` is reversed"));
        }
        count += (hi - lo) as usize + 1;
        if count > MAX_PROBES {
            return Err(format!("more than {MAX_PROBES} probe ports in `{list}`"));
        }
        out.entry(proto).or_default().extend(lo..=hi);
    }
    if out.is_empty() {
        return Err("no ports given".to_string());
    }
    Ok(out)
}

/// Pod indices sorted by (namespace, name).
pub fn sorted_pods(pop: &Population) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..pop.pods.len()).collect();
    idx.sort_by(|a, b| {
        // INVARIANT: `a` and `b` come from `0..pop.pods.len()`.
        let (pa, pb) = (&pop.pods[*a], &pop.pods[*b]);
        (&pa.namespace, &pa.name).cmp(&(&pb.namespace, &pb.name))
    });
    idx
}

/// Every probe between two pods (a pod to itself included), sorted by
/// source, destination, protocol and port; computed on classes of pods and
/// port intervals ([`classes::evaluate`]), equal to [`matrix_pod_by_pod`].
pub fn matrix(
    policies: &[NetworkPolicy],
    prog: &Program,
    pop: &Population,
    ports: &ProbePorts,
) -> Vec<Row> {
    let m = classes::evaluate(policies, prog, pop);
    let mut rows = Vec::new();
    m.for_each_row(pop, ports, |r| rows.push(r.clone()));
    rows
}

/// The reference for [`matrix`]: every probe decided on its own by the
/// Kubernetes evaluator and the intent evaluator, pod by pod and port by
/// port (time grows with pods² × ports × policies).
pub fn matrix_pod_by_pod(
    policies: &[NetworkPolicy],
    prog: &Program,
    pop: &Population,
    ports: &ProbePorts,
) -> Vec<Row> {
    let pods = sorted_pods(pop);
    let mut rows = Vec::new();
    for &src in &pods {
        for &dst in &pods {
            for (proto, nums) in ports {
                for &port in nums {
                    let conn = Connection {
                        src: Endpoint::Pod(src),
                        dst: Endpoint::Pod(dst),
                        protocol: *proto,
                        port,
                    };
                    let allowed = k8s::evaluate(policies, pop, &conn).allowed;
                    let intended = intent::evaluate(prog, pop, &conn).allowed;
                    rows.push(Row {
                        src,
                        dst,
                        protocol: *proto,
                        port,
                        allowed,
                        intended,
                    });
                }
            }
        }
    }
    rows
}

/// Rows where the generated policies and the program disagree.
pub fn disagreements(rows: &[Row]) -> Vec<&Row> {
    rows.iter().filter(|r| r.allowed != r.intended).collect()
}

fn pod_name(pop: &Population, i: usize) -> String {
    match pop.pods.get(i) {
        Some(p) => format!("{}/{}", p.namespace, p.name),
        None => format!("#{i}"),
    }
}

/// `src,dst,protocol,port,allowed`, one line per row, pods as `ns/name`.
pub fn csv(rows: &[Row], pop: &Population) -> String {
    let mut s = String::from("src,dst,protocol,port,allowed\n");
    for r in rows {
        s.push_str(&format!(
            "{},{},{},{},{}\n",
            pod_name(pop, r.src),
            pod_name(pop, r.dst),
            r.protocol.k8s_name(),
            r.port,
            r.allowed
        ));
    }
    s
}

#[derive(serde::Serialize)]
struct JsonRow {
    src: String,
    dst: String,
    protocol: &'static str,
    port: u16,
    allowed: bool,
}

/// A JSON array of `{"src", "dst", "protocol", "port", "allowed"}`
/// objects, in the order of the CSV.
pub fn json(rows: &[Row], pop: &Population) -> String {
    let v: Vec<JsonRow> = rows
        .iter()
        .map(|r| JsonRow {
            src: pod_name(pop, r.src),
            dst: pod_name(pop, r.dst),
            protocol: r.protocol.k8s_name(),
            port: r.port,
            allowed: r.allowed,
        })
        .collect();
    // INVARIANT: a vector of plain structs of strings, numbers and booleans
    // always serializes.
    #[allow(clippy::expect_used)]
    let mut s = serde_json::to_string_pretty(&v).expect("matrix rows serialize"); // INVARIANT: see above
    s.push('\n');
    s
}

/// One aligned grid per (protocol, port): sources down, destinations
/// across, `yes` where the connection is allowed, `-` where it is not.
pub fn table(rows: &[Row], pop: &Population) -> String {
    let pods = sorted_pods(pop);
    let names: Vec<String> = pods.iter().map(|i| pod_name(pop, *i)).collect();
    let corner = "from \\ to";
    let first = names
        .iter()
        .map(String::len)
        .chain([corner.len()])
        .max()
        .unwrap_or(0);
    let mut by_probe: BTreeMap<(Protocol, u16), BTreeMap<(usize, usize), bool>> = BTreeMap::new();
    for r in rows {
        by_probe
            .entry((r.protocol, r.port))
            .or_default()
            .insert((r.src, r.dst), r.allowed);
    }
    let mut s = String::new();
    for ((proto, port), cells) in &by_probe {
        if !s.is_empty() {
            s.push('\n');
        }
        s.push_str(&format!("{}/{}\n", proto.k8s_name(), port));
        let mut header = format!("{corner:<first$}");
        for n in &names {
            header.push_str("  ");
            header.push_str(n);
        }
        s.push_str(header.trim_end());
        s.push('\n');
        for (si, src) in pods.iter().enumerate() {
            let mut line = format!("{:<first$}", names[si]);
            for (di, dst) in pods.iter().enumerate() {
                let mark = match cells.get(&(*src, *dst)) {
                    Some(true) => "yes",
                    Some(false) => "-",
                    None => "",
                };
                line.push_str("  ");
                line.push_str(&format!("{mark:<w$}", w = names[di].len()));
            }
            s.push_str(line.trim_end());
            s.push('\n');
        }
    }
    s
}

// ---- streaming renderings from a class matrix -------------------------------
//
// The functions below write the same bytes as `csv`, `json` and `table` over
// the rows of `matrix`, without holding the rows: memory stays what the
// class matrix needs, however many rows the output has.

/// Every pod's `namespace/name`, by pod index.
fn pod_names(pop: &Population) -> Vec<String> {
    (0..pop.pods.len()).map(|i| pod_name(pop, i)).collect()
}

/// Writes `buf` out once it is large, so that output streams.
fn spill(w: &mut dyn Write, buf: &mut Vec<u8>) -> std::io::Result<()> {
    if buf.len() >= 1 << 16 {
        w.write_all(buf)?;
        buf.clear();
    }
    Ok(())
}

/// [`csv`] of the rows of `m`, streamed.
pub fn write_csv(
    w: &mut dyn Write,
    m: &ClassMatrix,
    pop: &Population,
    ports: &ProbePorts,
) -> std::io::Result<()> {
    let names = pod_names(pop);
    let mut buf: Vec<u8> = Vec::with_capacity(1 << 17);
    buf.extend_from_slice(b"src,dst,protocol,port,allowed\n");
    let mut result = Ok(());
    m.for_each_row(pop, ports, |r| {
        if result.is_err() {
            return;
        }
        let name = |i: usize| names.get(i).map(String::as_str).unwrap_or("");
        buf.extend_from_slice(name(r.src).as_bytes());
        buf.push(b',');
        buf.extend_from_slice(name(r.dst).as_bytes());
        buf.push(b',');
        buf.extend_from_slice(r.protocol.k8s_name().as_bytes());
        buf.push(b',');
        buf.extend_from_slice(r.port.to_string().as_bytes());
        buf.extend_from_slice(if r.allowed { b",true\n" } else { b",false\n" });
        result = spill(w, &mut buf);
    });
    result?;
    w.write_all(&buf)
}

fn json_string(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| format!("\"{}\"", s.escape_default()))
}

/// [`json`] of the rows of `m`, streamed.
pub fn write_json(
    w: &mut dyn Write,
    m: &ClassMatrix,
    pop: &Population,
    ports: &ProbePorts,
) -> std::io::Result<()> {
    let names: Vec<String> = pod_names(pop).iter().map(|n| json_string(n)).collect();
    let mut buf: Vec<u8> = Vec::with_capacity(1 << 17);
    let mut first = true;
    let mut result = Ok(());
    m.for_each_row(pop, ports, |r| {
        if result.is_err() {
            return;
        }
        let name = |i: usize| names.get(i).map(String::as_str).unwrap_or("\"\"");
        buf.extend_from_slice(if first {
            b"[\n  {\n    \"src\": "
        } else {
            b",\n  {\n    \"src\": "
        });
        first = false;
        buf.extend_from_slice(name(r.src).as_bytes());
        buf.extend_from_slice(b",\n    \"dst\": ");
        buf.extend_from_slice(name(r.dst).as_bytes());
        buf.extend_from_slice(b",\n    \"protocol\": \"");
        buf.extend_from_slice(r.protocol.k8s_name().as_bytes());
        buf.extend_from_slice(b"\",\n    \"port\": ");
        buf.extend_from_slice(r.port.to_string().as_bytes());
        buf.extend_from_slice(if r.allowed {
            b",\n    \"allowed\": true\n  }"
        } else {
            b",\n    \"allowed\": false\n  }"
        });
        result = spill(w, &mut buf);
    });
    result?;
    buf.extend_from_slice(if first { b"[]\n" } else { b"\n]\n" });
    w.write_all(&buf)
}

/// [`table`] of the rows of `m`, streamed.
pub fn write_table(
    w: &mut dyn Write,
    m: &ClassMatrix,
    pop: &Population,
    ports: &ProbePorts,
) -> std::io::Result<()> {
    let pods = sorted_pods(pop);
    let names: Vec<String> = pods.iter().map(|i| pod_name(pop, *i)).collect();
    let class = |i: usize| m.classes.of_pod.get(i).copied().unwrap_or(0);
    let corner = "from \\ to";
    let first = names
        .iter()
        .map(String::len)
        .chain([corner.len()])
        .max()
        .unwrap_or(0);
    let mut buf: Vec<u8> = Vec::with_capacity(1 << 17);
    let mut line = String::new();
    let mut any = false;
    for (proto, nums) in ports {
        for &port in nums {
            if pods.is_empty() {
                continue;
            }
            if any {
                buf.push(b'\n');
            }
            any = true;
            line.clear();
            line.push_str(&format!("{}/{}\n", proto.k8s_name(), port));
            buf.extend_from_slice(line.as_bytes());
            line.clear();
            line.push_str(&format!("{corner:<first$}"));
            for n in &names {
                line.push_str("  ");
                line.push_str(n);
            }
            buf.extend_from_slice(line.trim_end().as_bytes());
            buf.push(b'\n');
            for (si, src) in pods.iter().enumerate() {
                line.clear();
                line.push_str(&format!(
                    "{:<first$}",
                    names.get(si).map(String::as_str).unwrap_or("")
                ));
                let s = class(*src);
                for (di, dst) in pods.iter().enumerate() {
                    let yes = m
                        .get(s, class(*dst))
                        .is_some_and(|c| c.allowed.contains(*proto, port));
                    let mark = if yes { "yes" } else { "-" };
                    line.push_str("  ");
                    let width = names.get(di).map(String::len).unwrap_or(0);
                    line.push_str(&format!("{mark:<width$}"));
                }
                buf.extend_from_slice(line.trim_end().as_bytes());
                buf.push(b'\n');
                spill(w, &mut buf)?;
            }
        }
    }
    w.write_all(&buf)
}

/// The probe rows of `m` on which the generated policies and the program
/// disagree: how many, and the first `keep` of them in row order.
pub fn row_disagreements(
    m: &ClassMatrix,
    pop: &Population,
    ports: &ProbePorts,
    keep: usize,
) -> (usize, Vec<Row>) {
    // only a pair of classes whose two port sets differ can disagree
    if m.disagreements().is_empty() {
        return (0, Vec::new());
    }
    let mut count = 0;
    let mut first = Vec::new();
    m.for_each_row(pop, ports, |r| {
        if r.allowed != r.intended {
            count += 1;
            if first.len() < keep {
                first.push(r.clone());
            }
        }
    });
    (count, first)
}

/// A class as the compact forms name it: `namespace/{k=v,...}`.
pub fn class_name(m: &ClassMatrix, pop: &Population, c: usize) -> String {
    match pop.pods.get(m.classes.representative(c)) {
        Some(p) => {
            let l: Vec<String> = p.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
            format!("{}/{{{}}}", p.namespace, l.join(","))
        }
        None => format!("#{c}"),
    }
}

/// The compact text form: the classes (number, namespace and labels, named
/// ports, pods), then one line per pair of classes whose connection the
/// generated policies allow on some port, with the ports as ranges. Pairs
/// not listed allow nothing. Classes are numbered in the order of their
/// first pod by (namespace, name); pairs are sorted by source class, then
/// destination class.
pub fn write_classes(w: &mut dyn Write, m: &ClassMatrix, pop: &Population) -> std::io::Result<()> {
    let mut buf: Vec<u8> = Vec::with_capacity(1 << 17);
    let pods: usize = m.classes.members.iter().map(Vec::len).sum();
    buf.extend_from_slice(
        format!("# {} pods in {} classes\nclasses\n", pods, m.classes.len()).as_bytes(),
    );
    for c in 0..m.classes.len() {
        let Some(rep) = pop.pods.get(m.classes.representative(c)) else {
            continue;
        };
        let mut line = format!("  c{c}  {}", class_name(m, pop, c));
        if !rep.ports.is_empty() {
            let ps: Vec<String> = rep
                .ports
                .iter()
                .map(|np| format!("{}={}/{}", np.name, np.protocol.k8s_name(), np.port))
                .collect();
            line.push_str(&format!("  ports {}", ps.join(",")));
        }
        let names: Vec<&str> = m
            .classes
            .members
            .get(c)
            .into_iter()
            .flatten()
            .filter_map(|i| pop.pods.get(*i).map(|p| p.name.as_str()))
            .collect();
        line.push_str(&format!("  pods {}\n", names.join(",")));
        buf.extend_from_slice(line.as_bytes());
        spill(w, &mut buf)?;
    }
    buf.extend_from_slice(b"allowed (source class -> destination class: ports)\n");
    for s in 0..m.classes.len() {
        for (d, cell) in m.row(s) {
            let a = cell.allowed.without_zero();
            if a.is_empty() {
                continue;
            }
            buf.extend_from_slice(format!("  c{s} -> c{d}: {}\n", a.text()).as_bytes());
            spill(w, &mut buf)?;
        }
    }
    w.write_all(&buf)
}

#[derive(serde::Serialize)]
struct JsonClass<'a> {
    id: usize,
    namespace: &'a str,
    labels: &'a BTreeMap<String, String>,
    ports: &'a [crate::population::NamedPort],
    pods: Vec<&'a str>,
}

#[derive(serde::Serialize)]
struct JsonRange {
    protocol: &'static str,
    port: u16,
    #[serde(rename = "endPort")]
    end_port: u16,
}

#[derive(serde::Serialize)]
struct JsonPair {
    src: usize,
    dst: usize,
    ports: Vec<JsonRange>,
}

/// The compact form as JSON: `{"classes": [...], "allowed": [...]}`, each
/// class `{"id", "namespace", "labels", "ports", "pods"}` and each pair
/// `{"src", "dst", "ports": [{"protocol", "port", "endPort"}]}`, one
/// element per line, in the order of [`write_classes`].
pub fn write_classes_json(
    w: &mut dyn Write,
    m: &ClassMatrix,
    pop: &Population,
) -> std::io::Result<()> {
    let mut buf: Vec<u8> = Vec::with_capacity(1 << 17);
    buf.extend_from_slice(b"{\n\"classes\": [");
    let mut sep = "\n";
    for c in 0..m.classes.len() {
        let Some(rep) = pop.pods.get(m.classes.representative(c)) else {
            continue;
        };
        let jc = JsonClass {
            id: c,
            namespace: &rep.namespace,
            labels: &rep.labels,
            ports: &rep.ports,
            pods: m
                .classes
                .members
                .get(c)
                .into_iter()
                .flatten()
                .filter_map(|i| pop.pods.get(*i).map(|p| p.name.as_str()))
                .collect(),
        };
        buf.extend_from_slice(sep.as_bytes());
        serde_json::to_writer(&mut buf, &jc).map_err(std::io::Error::other)?;
        sep = ",\n";
        spill(w, &mut buf)?;
    }
    buf.extend_from_slice(b"\n],\n\"allowed\": [");
    let mut sep = "\n";
    for s in 0..m.classes.len() {
        for (d, cell) in m.row(s) {
            let a = cell.allowed.without_zero();
            if a.is_empty() {
                continue;
            }
            let jp = JsonPair {
                src: s,
                dst: d,
                ports: a
                    .ranges()
                    .iter()
                    .map(|&(p, lo, hi)| JsonRange {
                        protocol: p.k8s_name(),
                        port: lo,
                        end_port: hi,
                    })
                    .collect(),
            };
            buf.extend_from_slice(sep.as_bytes());
            serde_json::to_writer(&mut buf, &jp).map_err(std::io::Error::other)?;
            sep = ",\n";
            spill(w, &mut buf)?;
        }
    }
    buf.extend_from_slice(b"\n]\n}\n");
    w.write_all(&buf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::driver::{compile_inputs, Input};
    use crate::population::{NamedPort, PodInfo};

    fn setup(src: &str) -> (Program, Vec<NetworkPolicy>, Population) {
        let c = compile_inputs(&[Input {
            name: "t.npl".into(),
            text: src.into(),
        }]);
        assert!(!c.has_errors(), "{:?}", c.diagnostics);
        let mut pop = Population::default();
        for ns in ["app", "other"] {
            pop.insert_namespace(ns, Default::default());
        }
        let pod = |ns: &str, name: &str, app: &str, ports: Vec<NamedPort>| PodInfo {
            namespace: ns.into(),
            name: name.into(),
            labels: [("app".to_string(), app.to_string())].into(),
            ports,
        };
        for p in [
            pod(
                "app",
                "db-0",
                "db",
                vec![NamedPort {
                    name: "pg".into(),
                    port: 5432,
                    protocol: Protocol::Tcp,
                }],
            ),
            pod("app", "api-0", "api", vec![]),
            pod("other", "x", "api", vec![]),
        ] {
            pop.insert_pod(p);
        }
        let pols = c.manifests.iter().map(|m| m.object.clone()).collect();
        (c.program.unwrap(), pols, pop)
    }

    #[test]
    fn default_ports_are_boundaries_and_container_ports() {
        let (p, _, pop) = setup("namespace app {\n  allow app=api -> app=db:8000-8100, udp/53, sctp\n  allow app=api -> app=db:pg\n}\n");
        let ports = default_ports(&p, &pop);
        assert_eq!(ports[&Protocol::Tcp], [5432, 8000, 8100].into());
        assert_eq!(ports[&Protocol::Udp], [53].into());
        assert!(
            !ports.contains_key(&Protocol::Sctp),
            "a whole protocol adds no boundary"
        );
        let (p, _, mut pop) = setup("namespace app {\n  allow app=api -> app=db\n}\n");
        pop.pods[1].ports.clear();
        assert_eq!(
            default_ports(&p, &pop),
            [(Protocol::Tcp, [FALLBACK_PORT].into())].into()
        );
    }

    #[test]
    fn port_lists() {
        let p = parse_ports("80, udp/53,tcp/8000-8002").unwrap();
        assert_eq!(p[&Protocol::Tcp], [80, 8000, 8001, 8002].into());
        assert_eq!(p[&Protocol::Udp], [53].into());
        assert!(parse_ports("0").is_err());
        assert!(parse_ports("icmp/1").is_err());
        assert!(parse_ports("9-1").is_err());
        assert!(parse_ports("1-65535").is_err());
        assert!(parse_ports("80,").is_err());
    }

    #[test]
    fn rows_csv_json_table() {
        let (p, pols, pop) = setup("namespace app {\n  allow app=api -> app=db:5432\n}\n");
        let rows = matrix(&pols, &p, &pop, &[(Protocol::Tcp, [5432].into())].into());
        assert_eq!(rows.len(), 9);
        assert!(disagreements(&rows).is_empty());
        let c = csv(&rows, &pop);
        let lines: Vec<&str> = c.lines().collect();
        assert_eq!(lines[0], "src,dst,protocol,port,allowed");
        assert_eq!(lines[1], "app/api-0,app/api-0,TCP,5432,false");
        assert_eq!(lines[2], "app/api-0,app/db-0,TCP,5432,true");
        assert!(c.contains("other/x,app/db-0,TCP,5432,false"));
        assert!(c.contains("app/db-0,other/x,TCP,5432,false"));
        assert!(c.contains("other/x,other/x,TCP,5432,true"));
        let j: serde_json::Value = serde_json::from_str(&json(&rows, &pop)).unwrap();
        assert_eq!(
            j[1],
            serde_json::json!({"src": "app/api-0", "dst": "app/db-0", "protocol": "TCP", "port": 5432, "allowed": true})
        );
        let t = table(&rows, &pop);
        assert_eq!(
            t,
            "TCP/5432\nfrom \\ to  app/api-0  app/db-0  other/x\napp/api-0  -          yes       -\napp/db-0   -          -         -\nother/x    -          -         yes\n"
        );
    }

    #[test]
    fn streaming_forms_equal_the_row_forms_and_the_reference() {
        let src = "namespace app {\n  allow app=api -> app=db:5432, pg, 8000-8100\n  allow other/* -> app=db:udp/53, 8000-8100\n  deny other/app=api -> app=db:8050\n}\n";
        let (p, pols, mut pop) = setup(src);
        // a second pod of a class
        pop.insert_pod(PodInfo {
            namespace: "app".into(),
            name: "api-1".into(),
            labels: [("app".to_string(), "api".to_string())].into(),
            ports: vec![],
        });
        let ports = default_ports(&p, &pop);
        let reference = matrix_pod_by_pod(&pols, &p, &pop, &ports);
        assert_eq!(matrix(&pols, &p, &pop, &ports), reference);
        assert!(disagreements(&reference).is_empty());
        let m = classes::evaluate(&pols, &p, &pop);
        assert_eq!(m.classes.len(), 3, "{:?}", m.classes);
        let render = |f: fn(
            &mut dyn Write,
            &ClassMatrix,
            &Population,
            &ProbePorts,
        ) -> std::io::Result<()>| {
            let mut out = Vec::new();
            f(&mut out, &m, &pop, &ports).unwrap();
            String::from_utf8(out).unwrap()
        };
        assert_eq!(render(write_csv), csv(&reference, &pop));
        assert_eq!(render(write_json), json(&reference, &pop));
        assert_eq!(render(write_table), table(&reference, &pop));
        assert_eq!(row_disagreements(&m, &pop, &ports, 10), (0, vec![]));
        let mut out = Vec::new();
        write_classes(&mut out, &m, &pop).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text,
            "# 4 pods in 3 classes\nclasses\n  c0  app/{app=api}  pods api-0,api-1\n  c1  app/{app=db}  ports pg=TCP/5432  pods db-0\n  c2  other/{app=api}  pods x\nallowed (source class -> destination class: ports)\n  c0 -> c1: TCP 5432, 8000-8100\n  c2 -> c1: TCP 8000-8049, 8051-8100; UDP 53\n  c2 -> c2: all\n"
        );
        let mut out = Vec::new();
        write_classes_json(&mut out, &m, &pop).unwrap();
        let j: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(j["classes"][1]["pods"], serde_json::json!(["db-0"]));
        assert_eq!(
            j["allowed"][1],
            serde_json::json!({"src": 2, "dst": 1, "ports": [
                {"protocol": "TCP", "port": 8000, "endPort": 8049},
                {"protocol": "TCP", "port": 8051, "endPort": 8100},
                {"protocol": "UDP", "port": 53, "endPort": 53}]})
        );
        // no pods at all
        let empty = Population::default();
        let m = classes::evaluate(&pols, &p, &empty);
        let mut out = Vec::new();
        write_json(&mut out, &m, &empty, &ports).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), json(&[], &empty));
    }
}
