//! Benchmark corpus generator: realistic `.npl` trees, deterministic from a
//! seed. Input: a [`Spec`] (statements, namespaces, share of denies, seed,
//! layout). Output: a [`Corpus`], the files (relative path and text) with
//! counts, that the benchmarks feed to the library and `scripts/bench.sh`
//! writes to disk through `cargo bench --bench corpus_tool -- gen`.
//!
//! A dev tool, not part of nplc: it lives under `benches/` and is compiled
//! into the bench targets with `#[path]`, so nothing here is installed or
//! public. It uses only `std` (a splitmix64 generator, not `rand`).
//!
//! What a namespace looks like: a header comment, `default deny`, a dozen
//! `workload` declarations drawn from a pool of sixteen, then its share of
//! the statements (`allow`/`deny` lines, the unit of every size here):
//! `allow egress dns` first, then allows within the namespace, to and from
//! other managed namespaces (`other/api`, `other/app=x`), from unmanaged
//! ones (ingress-nginx, monitoring), to `world:443`, to and from address
//! blocks with `except`, port ranges; and denies, each cutting an allow of
//! the same namespace so that none is without effect (metadata API and
//! other addresses out of `world`, a workload out of `*`, a block out of a
//! block, a port out of a range, one pod group of another namespace out of
//! all of it). Two statements in the whole corpus select namespaces by
//! label (`{team=ops}/type=monitoring`), as a company repo has a few.
//!
//! Statements never repeat (no W0603) and cross-namespace statements only
//! name namespaces after their own, so that two namespaces never write the
//! same rule; a generated corpus compiles with no error and no warning
//! (`corpus_tool` checks that in its self-test).

#![allow(dead_code)]

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::Path;

/// What to generate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spec {
    pub seed: u64,
    /// `allow` and `deny` lines in the whole corpus.
    pub statements: usize,
    pub namespaces: usize,
    /// Percent of the statements that are denies (0 to 50).
    pub deny_percent: u32,
    /// Percent of the statements (and denies) in the first namespace, the
    /// rest shared evenly by the others (0: all alike). An uneven corpus
    /// for the parallel stages (docs/performance.md, "Uneven namespaces").
    pub heavy_percent: u32,
    pub layout: Layout,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// `team-NNN/<namespace>.npl`, fifty namespaces per team directory.
    FilePerNamespace,
    /// Everything in `policies.npl`.
    SingleFile,
}

impl Spec {
    /// `statements` in `statements / 10` namespaces, 5% denies, one file
    /// per namespace: the shape of the main series.
    pub fn new(statements: usize) -> Spec {
        Spec {
            seed: 1,
            statements,
            namespaces: (statements / 10).max(1),
            deny_percent: 5,
            heavy_percent: 0,
            layout: Layout::FilePerNamespace,
        }
    }
    pub fn namespaces(mut self, n: usize) -> Spec {
        self.namespaces = n.max(1);
        self
    }
    pub fn denies(mut self, percent: u32) -> Spec {
        self.deny_percent = percent.min(50);
        self
    }
    pub fn heavy(mut self, percent: u32) -> Spec {
        self.heavy_percent = percent.min(100);
        self
    }
    pub fn seed(mut self, seed: u64) -> Spec {
        self.seed = seed;
        self
    }
    pub fn single_file(mut self) -> Spec {
        self.layout = Layout::SingleFile;
        self
    }
    /// A short label for benchmark ids and directories: `10k`, `10k-100ns`, `10k-deny30`.
    pub fn label(&self) -> String {
        let n = human(self.statements);
        let default = Spec::new(self.statements);
        let mut s = n;
        if self.namespaces != default.namespaces {
            s.push_str(&format!("-{}ns", self.namespaces));
        }
        if self.deny_percent != default.deny_percent {
            s.push_str(&format!("-deny{}", self.deny_percent));
        }
        if self.heavy_percent != 0 {
            s.push_str(&format!("-heavy{}", self.heavy_percent));
        }
        s
    }
}

/// `1000` → `1k`, `100000` → `100k`.
pub fn human(n: usize) -> String {
    if n >= 1000 && n.is_multiple_of(1000) {
        format!("{}k", n / 1000)
    } else {
        n.to_string()
    }
}

/// A generated tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Corpus {
    /// (path relative to the corpus root, text), sorted by path.
    pub files: Vec<(String, String)>,
    pub statements: usize,
    pub denies: usize,
    pub namespaces: usize,
    /// Each managed namespace and its workloads (indices into the pool of
    /// kinds), for [`Corpus::population_yaml`].
    pub workloads: Vec<(String, Vec<usize>)>,
}

impl Corpus {
    pub fn lines(&self) -> usize {
        self.files.iter().map(|(_, t)| t.lines().count()).sum()
    }
    pub fn bytes(&self) -> usize {
        self.files.iter().map(|(_, t)| t.len()).sum()
    }

    /// A cluster for the corpus, as `kubectl get ns,pods -A -o yaml` would
    /// list it (a stream of Namespace and Pod objects): every managed
    /// namespace (labels `team`, `env`) with `replicas` pods per workload
    /// (`NAME-R`, the workload's labels, a container port `main` with its
    /// port, and `metrics` on 9090 for web, api and worker, 9100 for the
    /// exporter); and the three namespaces the corpus names without
    /// managing them, one pod each: kube-system (kube-dns, `dns` UDP 53 and
    /// `dns-tcp` TCP 53), ingress-nginx, and monitoring (`team=ops`,
    /// `env=prod`; prometheus with `type=monitoring`). Pods: 12 × replicas
    /// per namespace, plus 3.
    pub fn population_yaml(&self, replicas: usize) -> String {
        let mut out = String::from("# Generated by the nplc benchmark corpus tool.\n");
        let ns = |out: &mut String, name: &str, labels: &[(&str, String)]| {
            let _ = write!(
                out,
                "---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: {name}\n  labels:\n    kubernetes.io/metadata.name: {name}\n"
            );
            for (k, v) in labels {
                let _ = writeln!(out, "    {k}: {v}");
            }
        };
        let pod = |out: &mut String,
                   ns: &str,
                   name: &str,
                   labels: &[(&str, &str)],
                   ports: &[(&str, u16, &str)]| {
            let _ = write!(
                out,
                "---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  namespace: {ns}\n  labels:\n"
            );
            for (k, v) in labels {
                let _ = writeln!(out, "    {k}: {v}");
            }
            let _ = write!(
                out,
                "spec:\n  containers:\n  - name: main\n    image: registry.example/{name}:1\n    ports:\n"
            );
            for (n, p, proto) in ports {
                let _ = writeln!(
                    out,
                    "    - name: {n}\n      containerPort: {p}\n      protocol: {proto}"
                );
            }
        };
        for (i, (name, ws)) in self.workloads.iter().enumerate() {
            let env = if i % 2 == 0 { "prod" } else { "staging" };
            ns(
                &mut out,
                name,
                &[
                    ("team", format!("team-{:03}", i / NAMESPACES_PER_TEAM)),
                    ("env", env.to_string()),
                ],
            );
            for &w in ws {
                let k = &KINDS[w];
                let labels: Vec<(&str, &str)> = k
                    .selector
                    .split(", ")
                    .filter_map(|kv| kv.split_once('='))
                    .collect();
                let mut ports = vec![("main", k.port, "TCP")];
                match k.name {
                    "web" | "api" | "worker" => ports.push(("metrics", 9090, "TCP")),
                    "exporter" => ports.push(("metrics", 9100, "TCP")),
                    _ => {}
                }
                for r in 0..replicas {
                    pod(&mut out, name, &format!("{}-{r}", k.name), &labels, &ports);
                }
            }
        }
        ns(&mut out, "kube-system", &[]);
        pod(
            &mut out,
            "kube-system",
            "coredns-0",
            &[("k8s-app", "kube-dns")],
            &[("dns", 53, "UDP"), ("dns-tcp", 53, "TCP")],
        );
        ns(&mut out, "ingress-nginx", &[]);
        pod(
            &mut out,
            "ingress-nginx",
            "controller-0",
            &[("app.kubernetes.io/name", "ingress-nginx")],
            &[("http", 80, "TCP"), ("https", 443, "TCP")],
        );
        ns(
            &mut out,
            "monitoring",
            &[("team", "ops".to_string()), ("env", "prod".to_string())],
        );
        pod(
            &mut out,
            "monitoring",
            "prometheus-0",
            &[("app", "prometheus"), ("type", "monitoring")],
            &[("web", 9090, "TCP")],
        );
        out
    }
    /// The files as compiler inputs, named by their relative paths.
    pub fn inputs(&self) -> Vec<nplc::driver::Input> {
        self.files
            .iter()
            .map(|(p, t)| nplc::driver::Input {
                name: p.clone(),
                text: t.clone(),
            })
            .collect()
    }
    /// Writes the tree under `dir` (created; existing files overwritten).
    pub fn write_to(&self, dir: &Path) -> std::io::Result<()> {
        for (p, t) in &self.files {
            let path = dir.join(p);
            if let Some(d) = path.parent() {
                std::fs::create_dir_all(d)?;
            }
            std::fs::write(path, t)?;
        }
        Ok(())
    }
}

/// splitmix64: small, fast, and the same on every platform.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        ((self.next_u64() >> 11) % n as u64) as usize
    }
    pub fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len())]
    }
    pub fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
}

/// A workload kind: name, selector, main port.
struct Kind {
    name: &'static str,
    selector: &'static str,
    app: &'static str,
    port: u16,
}

const fn k(name: &'static str, selector: &'static str, app: &'static str, port: u16) -> Kind {
    Kind {
        name,
        selector,
        app,
        port,
    }
}

const KINDS: &[Kind] = &[
    k("web", "app=web", "web", 8080),
    k("api", "app=api", "api", 8080),
    k("worker", "app=worker", "worker", 8080),
    k("db", "app=postgres, tier=data", "postgres", 5432),
    k("cache", "app=redis, tier=data", "redis", 6379),
    k("queue", "app=rabbitmq", "rabbitmq", 5672),
    k("auth", "app=auth", "auth", 8443),
    k("search", "app=opensearch, tier=data", "opensearch", 9200),
    k("batch", "app=batch", "batch", 8080),
    k("admin", "app=admin", "admin", 8080),
    k("gateway", "app=gateway, tier=edge", "gateway", 8443),
    k("exporter", "app=exporter", "exporter", 9100),
    k("grpc", "app=grpc-backend", "grpc-backend", 50051),
    k("frontend", "app=frontend, tier=edge", "frontend", 3000),
    k("scheduler", "app=scheduler", "scheduler", 8080),
    k("mailer", "app=mailer", "mailer", 2525),
];

const WORKLOADS_PER_NAMESPACE: usize = 12;
const NAMESPACES_PER_TEAM: usize = 50;

const PRODUCTS: &[&str] = &[
    "shop", "payments", "search", "billing", "ledger", "catalog", "orders", "identity", "media",
    "ads", "risk", "fraud", "mail", "chat", "maps", "ml", "data", "iot", "crm", "support",
];

/// A statement that denies can cut, and how.
#[derive(Debug, Clone)]
enum Target {
    /// `allow W -> world:443`
    World { w: usize },
    /// `allow W -> 10.A.0.0/16 except 10.A.B.0/24:5432`
    Block { w: usize, a: u8, b: u8 },
    /// `allow * -> W:PORT`
    AllTo { w: usize },
    /// `allow W1 -> W2:8000-8999`
    Range { from: usize, to: usize },
    /// `allow OTHER/* -> W:PORT`
    FromNamespace { other: usize, w: usize },
    /// `allow 10.0.0.0/8 except (10.A.0.0/16 | 10.B.0.0/16) -> W:PORT`
    FromBlock { w: usize, a: u8, b: u8 },
}

struct Ns<'a> {
    index: usize,
    names: &'a [String],
    workloads: &'a [Vec<usize>],
    rng: Rng,
    seen: BTreeSet<String>,
    lines: Vec<String>,
    /// The cuttable allows written so far.
    targets: Vec<Target>,
    uses_metadata: bool,
}

impl<'a> Ns<'a> {
    fn mine(&self) -> &'a [usize] {
        &self.workloads[self.index]
    }
    fn name(&self) -> &'a str {
        &self.names[self.index]
    }
    fn w(&mut self) -> usize {
        let ws = self.mine();
        *self.rng.pick(ws)
    }
    /// Two different workloads of this namespace.
    fn two(&mut self) -> (usize, usize) {
        let a = self.w();
        loop {
            let b = self.w();
            if b != a {
                return (a, b);
            }
        }
    }
    /// A managed namespace after this one, near it (same team, mostly).
    fn later(&mut self) -> Option<usize> {
        let left = self.names.len() - self.index - 1;
        (left > 0).then(|| self.index + 1 + self.rng.below(left.min(20)))
    }
    /// Adds a statement unless it is already there.
    fn push(&mut self, line: String) -> bool {
        if self.seen.insert(line.clone()) {
            self.lines.push(line);
            true
        } else {
            false
        }
    }
    fn octet(&mut self) -> u8 {
        self.rng.below(254) as u8 + 1
    }

    /// A cuttable allow.
    fn target(&mut self) -> (String, Target) {
        loop {
            let t = match self.rng.below(6) {
                0 => Target::World { w: self.w() },
                1 => {
                    let (a, b) = (self.octet(), self.octet());
                    Target::Block { w: self.w(), a, b }
                }
                2 => Target::AllTo { w: self.w() },
                3 => {
                    let (from, to) = self.two();
                    Target::Range { from, to }
                }
                4 => match self.later() {
                    Some(other) => Target::FromNamespace { other, w: self.w() },
                    None => continue,
                },
                _ => {
                    let a = self.octet();
                    let b = loop {
                        let b = self.octet();
                        if b != a {
                            break b;
                        }
                    };
                    Target::FromBlock { w: self.w(), a, b }
                }
            };
            let line = match &t {
                Target::World { w } => format!("allow {} -> world:443", KINDS[*w].name),
                Target::Block { w, a, b } => format!(
                    "allow {} -> 10.{a}.0.0/16 except 10.{a}.{b}.0/24:5432",
                    KINDS[*w].name
                ),
                Target::AllTo { w } => format!("allow * -> {}:{}", KINDS[*w].name, KINDS[*w].port),
                Target::Range { from, to } => format!(
                    "allow {} -> {}:8000-8999",
                    KINDS[*from].name, KINDS[*to].name
                ),
                Target::FromNamespace { other, w } => {
                    format!(
                        "allow {}/* -> {}:{}",
                        self.names[*other], KINDS[*w].name, KINDS[*w].port
                    )
                }
                Target::FromBlock { w, a, b } => {
                    format!(
                        "allow 10.0.0.0/8 except (10.{a}.0.0/16 | 10.{b}.0.0/16) -> {}:{}",
                        KINDS[*w].name, KINDS[*w].port
                    )
                }
            };
            // a deny of every port from one workload to another would leave
            // the port holes of a range to the same workload without effect
            let clash = self.targets.iter().any(|o| match (o, &t) {
                (Target::AllTo { w }, Target::Range { to, .. })
                | (Target::Range { to, .. }, Target::AllTo { w }) => w == to,
                _ => false,
            });
            if !clash && self.push(line.clone()) {
                self.targets.push(t.clone());
                return (line, t);
            }
        }
    }

    /// A deny that cuts `t`.
    fn deny(&mut self, t: &Target) -> String {
        for attempt in 0.. {
            let line = match t {
                // the metadata API once per namespace, in one of its two
                // spellings (both would leave the second without effect)
                Target::World { w } => match (attempt, self.rng.below(3)) {
                    (0, _) if self.index.is_multiple_of(2) => {
                        "deny egress 169.254.169.254".to_string()
                    }
                    (0, _) => {
                        self.uses_metadata = true;
                        "deny egress metadata-api".to_string()
                    }
                    (_, 0) => format!("deny egress 192.0.2.{}", self.octet()),
                    (_, 1) => format!("deny {} -> 100.64.{}.0/24", KINDS[*w].name, self.octet()),
                    _ => format!("deny {} -> 198.51.100.{}:443", KINDS[*w].name, self.octet()),
                },
                Target::Block { w, a, b } => {
                    let c = self.octet();
                    if c == *b {
                        continue;
                    }
                    format!("deny {} -> 10.{a}.{c}.0/24", KINDS[*w].name)
                }
                Target::AllTo { w } => {
                    let from = self.w();
                    if from == *w {
                        continue;
                    }
                    format!("deny {} -> {}", KINDS[from].name, KINDS[*w].name)
                }
                Target::Range { from, to } => {
                    format!(
                        "deny {} -> {}:{}",
                        KINDS[*from].name,
                        KINDS[*to].name,
                        8000 + self.rng.below(1000)
                    )
                }
                Target::FromNamespace { other, w } => {
                    let app = KINDS[*self.rng.pick(&self.workloads[*other])].app;
                    format!(
                        "deny {}/app={app} -> {}",
                        self.names[*other], KINDS[*w].name
                    )
                }
                Target::FromBlock { w, a, b } => {
                    let c = self.octet();
                    if c == *a || c == *b {
                        continue;
                    }
                    format!("deny 10.{c}.{}.0/24 -> {}", self.octet(), KINDS[*w].name)
                }
            };
            if self.push(line.clone()) {
                return line;
            }
        }
        unreachable!("the loop only ends by returning")
    }

    /// Any allow.
    fn allow(&mut self) {
        loop {
            let line = match self.rng.below(20) {
                0..=6 => {
                    let (a, b) = self.two();
                    format!(
                        "allow {} -> {}:{}",
                        KINDS[a].name, KINDS[b].name, KINDS[b].port
                    )
                }
                7 => {
                    let a = self.w();
                    let (b, c) = self.two();
                    if a == b || a == c {
                        continue;
                    }
                    let (pb, pc) = (KINDS[b].port, KINDS[c].port);
                    let ports = if pb == pc {
                        pb.to_string()
                    } else {
                        format!("{}, {}", pb.min(pc), pb.max(pc))
                    };
                    format!(
                        "allow {} -> ({} | {}):{ports}",
                        KINDS[a].name, KINDS[b].name, KINDS[c].name
                    )
                }
                8 | 9 => {
                    let Some(o) = self.later() else { continue };
                    let a = self.w();
                    let b = *self.rng.pick(&self.workloads[o]);
                    format!(
                        "allow {} -> {}/{}:{}",
                        KINDS[a].name, self.names[o], KINDS[b].name, KINDS[b].port
                    )
                }
                10 | 11 => {
                    let Some(o) = self.later() else { continue };
                    let app = KINDS[*self.rng.pick(&self.workloads[o])].app;
                    let b = self.w();
                    format!(
                        "allow {}/app={app} -> {}:{}",
                        self.names[o], KINDS[b].name, KINDS[b].port
                    )
                }
                12 => {
                    let b = self.w();
                    format!(
                        "allow ingress-nginx/app.kubernetes.io/name=ingress-nginx -> {}:{}",
                        KINDS[b].name, KINDS[b].port
                    )
                }
                13 => "allow monitoring/app=prometheus -> *:metrics".to_string(),
                14 => {
                    let a = self.octet();
                    format!("allow ingress 172.16.0.0/12 except 172.16.{a}.0/24")
                }
                15 => {
                    let h = self.rng.below(0xffff) + 1;
                    let k = self.rng.below(0xffff) + 1;
                    format!(
                        "allow {} -> 2001:db8:{h:x}::/48 except 2001:db8:{h:x}:{k:x}::/64:443",
                        KINDS[self.w()].name
                    )
                }
                _ => {
                    self.target();
                    return;
                }
            };
            if self.push(line) {
                return;
            }
        }
    }
}

/// Generates the corpus `spec` describes.
pub fn generate(spec: &Spec) -> Corpus {
    let n_ns = spec.namespaces.max(1);
    let mut rng = Rng::new(spec.seed);
    let names: Vec<String> = (0..n_ns)
        .map(|i| format!("{}-{i:05}", rng.pick(PRODUCTS)))
        .collect();
    let workloads: Vec<Vec<usize>> = (0..n_ns)
        .map(|_| {
            let mut all: Vec<usize> = (0..KINDS.len()).collect();
            for i in (1..all.len()).rev() {
                all.swap(i, rng.below(i + 1));
            }
            all.truncate(WORKLOADS_PER_NAMESPACE);
            all.sort_unstable();
            all
        })
        .collect();
    let total_denies = (spec.statements * spec.deny_percent.min(50) as usize + 50) / 100;
    let heavy = spec.heavy_percent.min(100) as usize;
    let share = |total: usize, i: usize| {
        if heavy == 0 || n_ns == 1 {
            return total * (i + 1) / n_ns - total * i / n_ns;
        }
        // the first namespace takes `heavy` percent, the others the rest
        let first = total * heavy / 100;
        if i == 0 {
            return first;
        }
        let (rest, n) = (total - first, n_ns - 1);
        rest * i / n - rest * (i - 1) / n
    };

    let mut blocks: Vec<(String, bool, String)> = Vec::new(); // (namespace, uses metadata-api, text)
    let (mut statements, mut denies) = (0, 0);
    for i in 0..n_ns {
        let k = share(spec.statements, i);
        let d = share(total_denies, i).min(k / 2);
        let a = k - d;
        let mut ns = Ns {
            index: i,
            names: &names,
            workloads: &workloads,
            rng: Rng::new(spec.seed ^ (i as u64 + 1).wrapping_mul(0xD1B5_4A32_D192_ED03)),
            seen: BTreeSet::new(),
            lines: Vec::new(),
            targets: Vec::new(),
            uses_metadata: false,
        };
        if a > 0 {
            ns.push("allow egress dns".to_string());
        }
        // the corpus's two namespace-label statements
        if (i == 0 || i == 1) && a > 2 && n_ns > 1 {
            let line = if i == 0 {
                "allow {team=ops}/type=monitoring -> *:9090".to_string()
            } else {
                let w = ns.w();
                format!(
                    "allow {{env=prod}}/app=prometheus -> {}:{}",
                    KINDS[w].name, KINDS[w].port
                )
            };
            ns.push(line);
        }
        let cuttable = d.min(a.saturating_sub(ns.lines.len()));
        let targets: Vec<Target> = (0..cuttable).map(|_| ns.target().1).collect();
        while ns.lines.len() < a {
            ns.allow();
        }
        for j in 0..d {
            match targets.get(j % targets.len().max(1)) {
                Some(t) => {
                    ns.deny(&t.clone());
                }
                None => {
                    ns.push(format!("deny egress 192.0.2.{}", j % 254 + 1));
                }
            }
        }
        // denies go among the allows, as people write them
        let mut lines = std::mem::take(&mut ns.lines);
        for x in (1..lines.len()).rev() {
            lines.swap(x, ns.rng.below(x + 1));
        }
        statements += lines.len();
        denies += d;
        let name = names[i].clone();
        let mut text = String::new();
        let _ = writeln!(text, "namespace {name} {{");
        text.push_str("  default deny\n");
        for &w in &workloads[i] {
            let _ = writeln!(text, "  workload {} = {}", KINDS[w].name, KINDS[w].selector);
        }
        text.push('\n');
        for (j, l) in lines.iter().enumerate() {
            if j % 8 == 0 && j > 0 {
                text.push_str("\n  # more rules\n");
            }
            let _ = writeln!(text, "  {l}");
        }
        text.push_str("}\n");
        blocks.push((name, ns.uses_metadata, text));
    }

    let uses = |metadata: bool| {
        if metadata {
            "use dns, metadata-api\n"
        } else {
            "use dns\n"
        }
    };
    let mut files = Vec::new();
    match spec.layout {
        Layout::FilePerNamespace => {
            for (i, (name, metadata, text)) in blocks.into_iter().enumerate() {
                let team = i / NAMESPACES_PER_TEAM;
                let header = format!("# Network policy of namespace {name}, owned by team-{team:03}.\n# Generated by the nplc benchmark corpus (seed {}).\n", spec.seed);
                files.push((
                    format!("team-{team:03}/{name}.npl"),
                    format!("{header}{}\n{text}", uses(metadata)),
                ));
            }
        }
        Layout::SingleFile => {
            let metadata = blocks.iter().any(|b| b.1);
            let mut text = format!(
                "# Network policies, generated by the nplc benchmark corpus (seed {}).\n{}",
                spec.seed,
                uses(metadata)
            );
            for (_, _, b) in blocks {
                text.push('\n');
                text.push_str(&b);
            }
            files.push(("policies.npl".to_string(), text));
        }
    }
    files.sort();
    Corpus {
        files,
        statements,
        denies,
        namespaces: n_ns,
        workloads: names.into_iter().zip(workloads).collect(),
    }
}
