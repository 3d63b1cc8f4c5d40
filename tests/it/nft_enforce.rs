//! The node firewall enforced for real (issue 12): `examples/cluster` is
//! built with the `nplc` binary, each role's ruleset is loaded with
//! `nft -f` in a network namespace of its own, and every row of
//! `ports.json` (the table of `ports.txt`) is probed with real TCP
//! connections and UDP datagrams from namespaces that hold addresses of the
//! roles and of every source block: an allowed port must answer from its
//! sources, a managed port must not answer from anyone else, management
//! access (tcp/22 and the `for management` components) must survive, and
//! a port the program does not manage must be left alone.
//!
//! Topology: a `router` namespace with IP forwarding and one veth to each
//! leaf namespace; a leaf holds one /32 address and a default route to the
//! router. Leaves: one per role (an address inside the role's first block),
//! one per distinct IPv4 source block of `ports.json` (and per role block),
//! and `other`, whose address no rule names. Listeners and probes are
//! `python3` one-liners started with `ip netns exec`.
//!
//! Root only (namespaces, `nft -f`): elsewhere the test prints `skipped: ...`
//! and passes, unless `NPLC_NETNS_REQUIRED=1` (set by `.ci/run` as root),
//! when a skip is a failure. Names carry the process id; a guard deletes
//! every namespace (and with it every veth) and kills every helper, even
//! when the test fails.

use crate::common;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Instant;

/// Seconds a probe waits for a TCP handshake or a UDP echo.
const TIMEOUT: &str = "0.4";
/// The same for the second try of a probe that expected an answer and got
/// none (a loaded machine can be slow; a dropped port stays silent).
const RETRY_TIMEOUT: &str = "3";

/// Listens on `tcp:N` / `udp:N` (every address); accepts and closes TCP
/// connections, echoes UDP datagrams. Prints `ready` once bound.
const LISTENER: &str = r#"
import socket, select, sys
socks = {}
for spec in sys.argv[1:]:
    proto, port = spec.split(':')
    if proto == 'tcp':
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(('0.0.0.0', int(port)))
        s.listen(128)
    else:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(('0.0.0.0', int(port)))
    s.setblocking(False)
    socks[s] = proto
print('ready', flush=True)
while True:
    ready, _, _ = select.select(list(socks), [], [])
    for s in ready:
        try:
            if socks[s] == 'tcp':
                c, _ = s.accept()
                c.close()
            else:
                data, addr = s.recvfrom(2048)
                s.sendto(data, addr)
        except OSError:
            pass
"#;

/// Probes `ID:PROTO:ADDR:PORT` in parallel; prints `ID RESULT` with RESULT
/// `open` (handshake done / echo received), `timeout` (no answer: dropped)
/// or `refused` / `error:...` (something answered no: a broken setup).
const PROBER: &str = r#"
import socket, sys, concurrent.futures as cf
t = float(sys.argv[1])
def probe(spec):
    i, proto, addr, port = spec.split(':')
    try:
        if proto == 'tcp':
            s = socket.create_connection((addr, int(port)), timeout=t)
            s.close()
            return i, 'open'
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(t / 2)
        s.connect((addr, int(port)))
        for _ in range(2):
            s.send(b'nplc-probe')
            try:
                if s.recv(64) == b'nplc-probe':
                    return i, 'open'
            except socket.timeout:
                pass
        return i, 'timeout'
    except socket.timeout:
        return i, 'timeout'
    except ConnectionRefusedError:
        return i, 'refused'
    except OSError as e:
        return i, 'error:' + type(e).__name__
with cf.ThreadPoolExecutor(64) as ex:
    for i, r in ex.map(probe, sys.argv[2:]):
        print(i, r, flush=True)
"#;

fn find_binary(name: &str) -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    dirs.extend(["/usr/sbin", "/sbin", "/usr/local/sbin", "/usr/bin"].map(PathBuf::from));
    dirs.into_iter().map(|d| d.join(name)).find(|p| p.is_file())
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|u| u == "0"))
        })
        .unwrap_or(false)
}

/// `Err(why)` when this machine cannot run the test.
fn prerequisites() -> Result<(PathBuf, PathBuf, PathBuf), String> {
    if !is_root() {
        return Err("not root (network namespaces and `nft -f` need it)".into());
    }
    let ip = find_binary("ip").ok_or("`ip` (iproute2) is not installed")?;
    let nft = find_binary("nft").ok_or("`nft` (nftables) is not installed")?;
    let py = find_binary("python3").ok_or("`python3` is not installed")?;
    let name = format!("nplc{}probe", std::process::id());
    let o = Command::new(&ip)
        .args(["netns", "add", &name])
        .output()
        .map_err(|e| format!("`ip netns add` cannot run: {e}"))?;
    if !o.status.success() {
        return Err(format!(
            "`ip netns add` fails: {}",
            String::from_utf8_lossy(&o.stderr).trim()
        ));
    }
    let t = Command::new(&ip)
        .args(["netns", "exec", &name])
        .arg(&nft)
        .args(["list", "ruleset"])
        .output();
    let _ = Command::new(&ip).args(["netns", "del", &name]).output();
    match t {
        Ok(t) if t.status.success() => Ok((ip, nft, py)),
        Ok(t) => Err(format!(
            "`nft` does not run in a namespace: {}",
            String::from_utf8_lossy(&t.stderr).trim()
        )),
        Err(e) => Err(format!("`ip netns exec` cannot run: {e}")),
    }
}

// ---- addresses ---------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Cidr {
    base: u32,
    len: u8,
}

impl Cidr {
    /// An IPv4 CIDR (`None` for IPv6).
    fn parse(s: &str) -> Option<Cidr> {
        let (a, l) = s.split_once('/').unwrap_or((s, "32"));
        let a: Ipv4Addr = a.parse().ok()?;
        let len: u8 = l.parse().ok()?;
        Some(Cidr {
            base: u32::from(a) & Self::mask(len),
            len,
        })
    }
    fn mask(len: u8) -> u32 {
        if len == 0 {
            0
        } else {
            u32::MAX << (32 - len)
        }
    }
    fn contains(&self, a: u32) -> bool {
        a & Self::mask(self.len) == self.base
    }
    fn size(&self) -> u64 {
        1u64 << (32 - self.len)
    }
}

fn show(a: u32) -> String {
    Ipv4Addr::from(a).to_string()
}

// ---- the plan ----------------------------------------------------------------

/// One line of `ports.json`.
struct Row {
    role: String,
    open: bool,
    protocol: String,
    from: u16,
    to: u16,
    sources: Vec<Cidr>,
    components: Vec<String>,
}

struct Leaf {
    label: String,
    addr: u32,
    role: Option<String>,
}

/// A port probed on a role, with the row that manages it (`None`: a port
/// the program does not manage, which every source must reach).
struct Target {
    role: String,
    protocol: String,
    port: u16,
    row: Option<usize>,
}

struct Plan {
    rows: Vec<Row>,
    leaves: Vec<Leaf>,
    targets: Vec<Target>,
    /// role -> management ports (protocol, port)
    management: BTreeMap<String, BTreeSet<(String, u16)>>,
    rulesets: BTreeMap<String, PathBuf>,
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// The data rows of `ports.txt`'s OPEN and CLOSED sections.
fn txt_rows(txt: &str) -> usize {
    let mut n = 0;
    let mut section = "";
    for line in txt.lines() {
        if line.is_empty() {
            section = "";
        } else if line == "OPEN" || line.starts_with("CLOSED") {
            section = "head";
        } else if section == "head" {
            section = "rows";
        } else if section == "rows" {
            n += 1;
        }
    }
    n
}

fn plan(out: &Path) -> Plan {
    let fw = out.join("firewall");
    let json: Value =
        serde_json::from_str(&std::fs::read_to_string(fw.join("ports.json")).unwrap()).unwrap();
    let rows: Vec<Row> = json["ports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| Row {
            role: p["role"].as_str().unwrap().into(),
            open: p["state"] == "open",
            protocol: p["protocol"].as_str().unwrap().into(),
            from: p["from_port"].as_u64().unwrap() as u16,
            to: p["to_port"].as_u64().unwrap() as u16,
            sources: strings(&p["sources"])
                .iter()
                .filter_map(|s| Cidr::parse(s))
                .collect(),
            components: strings(&p["components"]),
        })
        .collect();
    let txt = std::fs::read_to_string(fw.join("ports.txt")).unwrap();
    assert_eq!(
        txt_rows(&txt),
        rows.len(),
        "ports.txt and ports.json list the same rows:\n{txt}"
    );
    assert!(
        rows.iter()
            .all(|r| r.protocol == "tcp" || r.protocol == "udp"),
        "the probes speak TCP and UDP only"
    );

    // leaves: one per role, one per source block, `other`
    let mut used = BTreeSet::new();
    let mut leaves = Vec::new();
    let mut rulesets = BTreeMap::new();
    let mut blocks = BTreeSet::new();
    for r in json["roles"].as_array().unwrap() {
        let name = r["name"].as_str().unwrap().to_string();
        let addrs: Vec<Cidr> = strings(&r["addresses"])
            .iter()
            .filter_map(|s| Cidr::parse(s))
            .collect();
        let first = addrs
            .first()
            .unwrap_or_else(|| panic!("role `{name}` has an IPv4 block"));
        let addr = first.base + u32::from(first.size() > 1);
        used.insert(addr);
        blocks.extend(addrs.iter().copied());
        rulesets.insert(name.clone(), out.join(r["ruleset"].as_str().unwrap()));
        leaves.push(Leaf {
            label: format!("role {name} ({})", show(addr)),
            addr,
            role: Some(name),
        });
    }
    for r in &rows {
        blocks.extend(r.sources.iter().filter(|c| c.len > 0).copied());
    }
    for b in &blocks {
        if b.size() == 1 && used.contains(&b.base) {
            continue; // that host is a leaf already
        }
        // a host in the middle of the block, not taken yet
        let mut a = b.base + (b.size() / 2) as u32 + u32::from(b.size() > 2) * 7;
        while used.contains(&a) || !b.contains(a) {
            a = if b.contains(a.wrapping_add(1)) {
                a.wrapping_add(1)
            } else {
                b.base
            };
        }
        used.insert(a);
        leaves.push(Leaf {
            label: format!("source {}/{} ({})", show(b.base), b.len, show(a)),
            addr: a,
            role: None,
        });
    }
    let other = u32::from(Ipv4Addr::new(203, 0, 113, 77));
    assert!(
        blocks.iter().all(|b| !b.contains(other)),
        "the `other` address is named by no rule"
    );
    leaves.push(Leaf {
        label: format!("other ({})", show(other)),
        addr: other,
        role: None,
    });

    // targets: each row's first, middle and last port; one unmanaged port
    // per role and protocol
    let mut targets = Vec::new();
    for (i, r) in rows.iter().enumerate() {
        let ports: BTreeSet<u16> = [r.from, r.from + (r.to - r.from) / 2, r.to].into();
        for port in ports {
            targets.push(Target {
                role: r.role.clone(),
                protocol: r.protocol.clone(),
                port,
                row: Some(i),
            });
        }
    }
    for role in rulesets.keys() {
        for protocol in ["tcp", "udp"] {
            let port = (8000..9000)
                .find(|p| {
                    !rows.iter().any(|r| {
                        r.role == *role && r.protocol == protocol && r.from <= *p && *p <= r.to
                    })
                })
                .unwrap();
            targets.push(Target {
                role: role.clone(),
                protocol: protocol.into(),
                port,
                row: None,
            });
        }
    }

    // management ports: tcp/22 and those of `for management` components
    let mut mgmt_ports: BTreeSet<(String, u16, u16)> = [("tcp".to_string(), 22, 22)].into();
    for c in json["components"].as_array().unwrap() {
        if c["management"] == true {
            for p in c["ports"].as_array().unwrap() {
                mgmt_ports.insert((
                    p["protocol"].as_str().unwrap().into(),
                    p["from_port"].as_u64().unwrap() as u16,
                    p["to_port"].as_u64().unwrap() as u16,
                ));
            }
        }
    }
    let mut management = BTreeMap::new();
    for t in &targets {
        if mgmt_ports
            .iter()
            .any(|(p, lo, hi)| *p == t.protocol && *lo <= t.port && t.port <= *hi)
        {
            management
                .entry(t.role.clone())
                .or_insert_with(BTreeSet::new)
                .insert((t.protocol.clone(), t.port));
        }
    }
    Plan {
        rows,
        leaves,
        targets,
        management,
        rulesets,
    }
}

impl Plan {
    fn role_addr(&self, role: &str) -> u32 {
        self.leaves
            .iter()
            .find(|l| l.role.as_deref() == Some(role))
            .unwrap()
            .addr
    }

    /// What the port table says: does `target` answer `from`?
    fn expected(&self, from: u32, t: &Target) -> bool {
        match t.row {
            None => true,
            Some(i) => {
                let r = &self.rows[i];
                r.open && r.sources.iter().any(|c| c.contains(from))
            }
        }
    }

    /// (leaf, target) pairs: every leaf probes every target of every role
    /// but its own.
    fn probes(&self) -> Vec<(usize, usize)> {
        let mut v = Vec::new();
        for (l, leaf) in self.leaves.iter().enumerate() {
            for (t, target) in self.targets.iter().enumerate() {
                if leaf.role.as_deref() != Some(target.role.as_str()) {
                    v.push((l, t));
                }
            }
        }
        v
    }
}

// ---- the namespaces ----------------------------------------------------------

/// Every namespace and helper process of one run; dropping it kills the
/// helpers and deletes the namespaces (their veths go with them).
struct Lab {
    ip: PathBuf,
    nft: PathBuf,
    py: PathBuf,
    router: String,
    leaves: Vec<String>,
    created: Vec<String>,
    children: Vec<Child>,
}

impl Drop for Lab {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        for ns in self.created.iter().rev() {
            let _ = Command::new(&self.ip).args(["netns", "del", ns]).output();
        }
    }
}

impl Lab {
    fn run(&self, what: &[&str]) {
        let o = Command::new(&self.ip)
            .args(what)
            .output()
            .unwrap_or_else(|e| panic!("ip {what:?}: {e}"));
        assert!(
            o.status.success(),
            "ip {}: {}",
            what.join(" "),
            String::from_utf8_lossy(&o.stderr)
        );
    }

    fn exec(&self, ns: &str) -> Command {
        let mut c = Command::new(&self.ip);
        c.args(["netns", "exec", ns]);
        c
    }

    fn sh(&self, ns: &str, script: &str) {
        let o = self.exec(ns).args(["sh", "-c", script]).output().unwrap();
        assert!(
            o.status.success(),
            "{ns}: {script}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }

    fn add_ns(&mut self, name: &str) {
        self.run(&["netns", "add", name]);
        self.created.push(name.to_string());
        self.run(&["-n", name, "link", "set", "lo", "up"]);
    }

    fn new(ip: PathBuf, nft: PathBuf, py: PathBuf, plan: &Plan) -> Lab {
        let pid = std::process::id();
        let mut lab = Lab {
            ip,
            nft,
            py,
            router: format!("nplc{pid}r"),
            leaves: Vec::new(),
            created: Vec::new(),
            children: Vec::new(),
        };
        let router = lab.router.clone();
        lab.add_ns(&router);
        lab.sh(
            &router,
            "echo 1 > /proc/sys/net/ipv4/ip_forward; \
             for f in /proc/sys/net/ipv4/conf/*/rp_filter; do echo 0 > $f; done",
        );
        for (i, leaf) in plan.leaves.iter().enumerate() {
            let ns = format!("nplc{pid}n{i}");
            lab.add_ns(&ns);
            let veth = format!("v{i}");
            let addr = show(leaf.addr);
            lab.run(&[
                "-n", &router, "link", "add", &veth, "type", "veth", "peer", "name", "eth0",
                "netns", &ns,
            ]);
            lab.run(&["-n", &router, "addr", "add", "169.254.0.1/32", "dev", &veth]);
            lab.run(&["-n", &router, "link", "set", &veth, "up"]);
            lab.run(&[
                "-n",
                &router,
                "route",
                "add",
                &format!("{addr}/32"),
                "dev",
                &veth,
            ]);
            lab.run(&[
                "-n",
                &ns,
                "addr",
                "add",
                &format!("{addr}/32"),
                "dev",
                "eth0",
            ]);
            lab.run(&["-n", &ns, "link", "set", "eth0", "up"]);
            lab.run(&[
                "-n",
                &ns,
                "route",
                "add",
                "default",
                "via",
                "169.254.0.1",
                "dev",
                "eth0",
                "onlink",
            ]);
            lab.leaves.push(ns);
        }
        lab
    }

    /// A listener in each role's namespace on every target port.
    fn listen(&mut self, plan: &Plan) {
        for (i, leaf) in plan.leaves.iter().enumerate() {
            let Some(role) = &leaf.role else { continue };
            let specs: BTreeSet<String> = plan
                .targets
                .iter()
                .filter(|t| t.role == *role)
                .map(|t| format!("{}:{}", t.protocol, t.port))
                .collect();
            let mut child = self
                .exec(&self.leaves[i])
                .arg(&self.py)
                .args(["-c", LISTENER])
                .args(&specs)
                .stdout(Stdio::piped())
                .spawn()
                .unwrap();
            let mut line = String::new();
            BufReader::new(child.stdout.take().unwrap())
                .read_line(&mut line)
                .unwrap();
            self.children.push(child);
            assert_eq!(line.trim(), "ready", "the listener of `{role}` started");
        }
    }

    /// Replaces each role namespace's ruleset: `load(role)` names the file
    /// to load there (`None`: an empty ruleset).
    fn load(&self, plan: &Plan, load: impl Fn(&str) -> Option<PathBuf>) {
        for (i, leaf) in plan.leaves.iter().enumerate() {
            let Some(role) = &leaf.role else { continue };
            let o = self
                .exec(&self.leaves[i])
                .arg(&self.nft)
                .args(["flush", "ruleset"])
                .output()
                .unwrap();
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
            if let Some(file) = load(role) {
                let o = self
                    .exec(&self.leaves[i])
                    .arg(&self.nft)
                    .arg("-f")
                    .arg(&file)
                    .output()
                    .unwrap();
                assert!(
                    o.status.success(),
                    "nft -f {} in `{role}`'s namespace: {}",
                    file.display(),
                    String::from_utf8_lossy(&o.stderr)
                );
            }
        }
    }

    /// Runs every probe (one prober per leaf, all leaves at once) and
    /// returns the result of each pair of `plan.probes()`.
    fn probe(&self, plan: &Plan, probes: &[(usize, usize)], timeout: &str) -> Vec<String> {
        let mut running = Vec::new();
        for l in 0..plan.leaves.len() {
            let specs: Vec<String> = probes
                .iter()
                .enumerate()
                .filter(|(_, (pl, _))| *pl == l)
                .map(|(k, (_, t))| {
                    let t = &plan.targets[*t];
                    format!(
                        "{k}:{}:{}:{}",
                        t.protocol,
                        show(plan.role_addr(&t.role)),
                        t.port
                    )
                })
                .collect();
            if specs.is_empty() {
                continue;
            }
            let child = self
                .exec(&self.leaves[l])
                .arg(&self.py)
                .args(["-c", PROBER, timeout])
                .args(&specs)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            running.push(child);
        }
        let mut results = vec![String::from("missing"); probes.len()];
        for child in running {
            let o = child.wait_with_output().unwrap();
            assert!(
                o.status.success(),
                "prober: {}",
                String::from_utf8_lossy(&o.stderr)
            );
            for line in String::from_utf8_lossy(&o.stdout).lines() {
                let (k, r) = line.split_once(' ').unwrap();
                results[k.parse::<usize>().unwrap()] = r.to_string();
            }
        }
        results
    }

    /// `probe`, then a second, slower try of each probe that `expected`
    /// an answer and got a timeout.
    fn probe_twice(
        &self,
        plan: &Plan,
        probes: &[(usize, usize)],
        expected: impl Fn(u32, &Target) -> bool,
    ) -> Vec<String> {
        let mut results = self.probe(plan, probes, TIMEOUT);
        let again: Vec<usize> = (0..probes.len())
            .filter(|&k| {
                let (l, t) = probes[k];
                results[k] == "timeout" && expected(plan.leaves[l].addr, &plan.targets[t])
            })
            .collect();
        if !again.is_empty() {
            let subset: Vec<(usize, usize)> = again.iter().map(|&k| probes[k]).collect();
            let second = self.probe(plan, &subset, RETRY_TIMEOUT);
            for (k, r) in again.into_iter().zip(second) {
                results[k] = r;
            }
        }
        results
    }
}

/// Each probe whose result differs from `expected(leaf, target)`.
fn mismatches(
    plan: &Plan,
    probes: &[(usize, usize)],
    results: &[String],
    expected: impl Fn(u32, &Target) -> bool,
) -> Vec<String> {
    let mut v = Vec::new();
    for ((l, t), got) in probes.iter().zip(results) {
        let (leaf, target) = (&plan.leaves[*l], &plan.targets[*t]);
        let want = if expected(leaf.addr, target) {
            "open"
        } else {
            "timeout"
        };
        if got != want {
            let what = match target.row {
                Some(i) => {
                    let r = &plan.rows[i];
                    format!(
                        "row {} {}-{} {} ({})",
                        r.role,
                        r.from,
                        r.to,
                        if r.open { "open" } else { "closed" },
                        r.components.join(", ")
                    )
                }
                None => "not managed".into(),
            };
            v.push(format!(
                "{} -> {} {}/{} [{what}]: expected {want}, got {got}",
                leaf.label, target.role, target.protocol, target.port
            ));
        }
    }
    v
}

#[test]
fn nft_enforce_cluster_rulesets_in_network_namespaces() {
    let (ip, nft, py) = match prerequisites() {
        Ok(x) => x,
        Err(why) => {
            let required = std::env::var("NPLC_NETNS_REQUIRED").is_ok_and(|v| v == "1");
            assert!(!required, "NPLC_NETNS_REQUIRED=1 but: {why}");
            eprintln!("skipped: nft_enforce (the rulesets run in network namespaces): {why}");
            return;
        }
    };
    let start = Instant::now();
    let out = std::env::temp_dir().join(format!("nplc-it-netns-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let st = Command::new(env!("CARGO_BIN_EXE_nplc"))
        .current_dir(common::root())
        .args(["build", "examples/cluster", "-o"])
        .arg(&out)
        .status()
        .unwrap();
    assert_eq!(st.code(), Some(0));
    let plan = plan(&out);
    let probes = plan.probes();

    let mut lab = Lab::new(ip, nft, py, &plan);
    lab.listen(&plan);

    // 0. no ruleset: every probe answers (the lab itself works)
    lab.load(&plan, |_| None);
    let results = lab.probe_twice(&plan, &probes, |_, _| true);
    let bad = mismatches(&plan, &probes, &results, |_, _| true);
    assert!(
        bad.is_empty(),
        "without rulesets every port answers:\n{}",
        bad.join("\n")
    );

    // 1. each role's ruleset: exactly the port table
    lab.load(&plan, |role| Some(plan.rulesets[role].clone()));
    let results = lab.probe_twice(&plan, &probes, |a, t| plan.expected(a, t));
    let bad = mismatches(&plan, &probes, &results, |a, t| plan.expected(a, t));
    assert!(
        bad.is_empty(),
        "{} of {} probes disagree with ports.json:\n{}",
        bad.len(),
        probes.len(),
        bad.join("\n")
    );
    // management access survives: some source reaches each management port
    assert_eq!(
        plan.management.keys().collect::<Vec<_>>(),
        plan.rulesets.keys().collect::<Vec<_>>(),
        "every role manages a management port"
    );
    for (role, ports) in &plan.management {
        for (protocol, port) in ports {
            let reached = probes.iter().zip(&results).any(|((_, t), got)| {
                let t = &plan.targets[*t];
                t.role == *role && t.protocol == *protocol && t.port == *port && got == "open"
            });
            assert!(reached, "management access to {role} {protocol}/{port}");
        }
    }
    let open = results.iter().filter(|r| *r == "open").count();
    let closed = results.len() - open;

    // 2. the test can fail: the other role's ruleset disagrees
    let roles: Vec<&String> = plan.rulesets.keys().collect();
    if roles.len() > 1 {
        lab.load(&plan, |role| {
            let i = roles.iter().position(|r| *r == role).unwrap();
            Some(plan.rulesets[roles[(i + 1) % roles.len()]].clone())
        });
        let results = lab.probe_twice(&plan, &probes, |a, t| plan.expected(a, t));
        let bad = mismatches(&plan, &probes, &results, |a, t| plan.expected(a, t));
        assert!(
            !bad.is_empty(),
            "with each role loading another role's ruleset, some probe must disagree"
        );
        eprintln!(
            "nft_enforce: swapped rulesets: {} probes disagree (as they must)",
            bad.len()
        );
    }
    drop(lab);
    let _ = std::fs::remove_dir_all(&out);
    eprintln!(
        "nft_enforce: {} rows, {} targets, {} namespaces, {} probes per phase ({open} answered, {closed} dropped), {:.1}s",
        plan.rows.len(),
        plan.targets.len(),
        plan.leaves.len() + 1,
        probes.len(),
        start.elapsed().as_secs_f64()
    );
}
