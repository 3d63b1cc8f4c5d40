//! The benchmark corpus tool, a `harness = false` bench target so that it is
//! never built into or installed with nplc. Input: a subcommand and its
//! options on the command line. Output: a corpus tree on disk, or timings
//! on standard output as `key=value` lines that `scripts/bench.sh` reads.
//!
//! ```text
//! cargo bench --bench corpus_tool -- gen --out DIR --statements N [--namespaces M]
//!                                        [--deny-percent P] [--heavy-percent H]
//!                                        [--seed S] [--single-file]
//!                                        [--pods FILE [--replicas R]]
//! cargo bench --bench corpus_tool -- floor --in DIR --out DIR [--runs R] [--trash DIR]
//! cargo bench --bench corpus_tool -- stages --in DIR [--runs R]
//! cargo bench --bench corpus_tool -- revise --in DIR --out DIR [--percent P]
//! cargo bench --bench corpus_tool -- selftest
//! ```
//!
//! `revise` copies a corpus with P% of its statements changed (default 1):
//! every (100/P)th statement that ends in a port number gets the next
//! number, the second revision `nplc diff` is timed on.
//!
//! `gen --pods FILE` also writes a cluster for the corpus (Namespace and
//! Pod objects, `R` pods per workload, default 1; `Corpus::population_yaml`),
//! the population `nplc matrix` and `nca --connectivity` are timed on.
//!
//! `floor` is the serialization floor: the emitted objects, already in
//! memory, serialized to YAML (every `Manifest::to_yaml` and the
//! kustomization) and written as plain files into a fresh directory; what
//! any tool that produces this output must pay. It is measured on one
//! thread (`floor_ms`: serialize all, then write all) and on both cores as
//! nplc runs (`floor2_ms`: each thread serializes and writes its share). It also
//! reports what serializing the same objects with `serde_yaml` costs. `stages` times each
//! stage of the pipeline once per run on a corpus and keeps the best run.
//! With no subcommand (as under `cargo test --all-targets` or a plain
//! `cargo bench`) the tool runs `selftest`: small corpora of every shape
//! must compile with no error and no warning, and generation must be
//! deterministic from the seed.

// A benchmark that cannot set up its corpus has nothing to measure: it
// may stop there (Cargo.toml [lints]).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "corpus/mod.rs"]
mod corpus;

// the allocator `nplc` itself uses, so that the floor is the same code's floor
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use corpus::{Corpus, Spec};
use nplc::diag::Sink;
use nplc::driver::{self, Input};
use nplc::emit::k8s;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const MARKER: &str = ".nplc-bench-corpus";

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let code = match args.first().map(String::as_str) {
        None | Some("selftest") | Some("--test") => selftest(),
        Some("gen") => gen(&args[1..]),
        Some("revise") => revise(&args[1..]),
        Some("floor") => floor(&args[1..]),
        Some("stages") => stages(&args[1..]),
        Some(other) => {
            eprintln!("corpus_tool: unknown subcommand `{other}` (gen, floor, stages, selftest)");
            2
        }
    };
    std::process::exit(code);
}

/// `--name value` options.
struct Opts(Vec<String>);

impl Opts {
    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .position(|a| a == name)
            .and_then(|i| self.0.get(i + 1))
            .map(String::as_str)
    }
    fn has(&self, name: &str) -> bool {
        self.0.iter().any(|a| a == name)
    }
    fn num(&self, name: &str, default: u64) -> u64 {
        match self.get(name) {
            None => default,
            Some(v) => v
                .parse()
                .unwrap_or_else(|_| panic!("{name}: `{v}` is not a number")),
        }
    }
    fn path(&self, name: &str) -> PathBuf {
        PathBuf::from(
            self.get(name)
                .unwrap_or_else(|| panic!("{name} DIR is required")),
        )
    }
}

fn gen(args: &[String]) -> i32 {
    let o = Opts(args.to_vec());
    let out = o.path("--out");
    let statements = o.num("--statements", 1000) as usize;
    let mut spec = Spec::new(statements)
        .seed(o.num("--seed", 1))
        .denies(o.num("--deny-percent", 5) as u32)
        .heavy(o.num("--heavy-percent", 0) as u32);
    if let Some(n) = o.get("--namespaces") {
        spec = spec.namespaces(n.parse().expect("--namespaces: a number"));
    }
    if o.has("--single-file") {
        spec = spec.single_file();
    }
    if out.exists() {
        let empty = std::fs::read_dir(&out)
            .map(|mut d| d.next().is_none())
            .unwrap_or(false);
        if !out.join(MARKER).exists() && !empty {
            eprintln!(
                "corpus_tool: `{}` exists and is not a generated corpus; not touching it",
                out.display()
            );
            return 2;
        }
        std::fs::remove_dir_all(&out).expect("remove the old corpus");
    }
    let c = corpus::generate(&spec);
    c.write_to(&out).expect("write the corpus");
    std::fs::write(out.join(MARKER), format!("{spec:?}\n")).expect("write the marker");
    let mut pods = String::new();
    if let Some(file) = o.get("--pods") {
        let replicas = o.num("--replicas", 1) as usize;
        let text = c.population_yaml(replicas);
        let pop = nplc::population::load_population(&text).expect("the population loads");
        std::fs::write(file, text).expect("write the population");
        pods = format!(" pods={} pod_file={file}", pop.pods.len());
    }
    println!(
        "corpus={} files={} namespaces={} statements={} denies={} lines={} bytes={}{pods}",
        out.display(),
        c.files.len(),
        c.namespaces,
        c.statements,
        c.denies,
        c.lines(),
        c.bytes()
    );
    0
}

/// A copy of a corpus with `--percent` of its statements changed (a port
/// number incremented), for `nplc diff` (docs/diff.md).
fn revise(args: &[String]) -> i32 {
    let o = Opts(args.to_vec());
    let (from, out) = (o.path("--in"), o.path("--out"));
    let percent = o.num("--percent", 1).max(1);
    let _ = std::fs::remove_dir_all(&out);
    let inputs = read(&from);
    let total: u64 = inputs
        .iter()
        .flat_map(|i| i.text.lines())
        .filter(|l| {
            let t = l.trim_start();
            t.starts_with("allow ") || t.starts_with("deny ")
        })
        .count() as u64;
    let want = total * percent / 100;
    let every = (total / want.max(1)).max(1);
    let (mut seen, mut changed, mut pending) = (0u64, 0u64, false);
    for i in &inputs {
        let mut text = String::new();
        for line in i.text.lines() {
            let t = line.trim_start();
            let mut line = line.to_string();
            if t.starts_with("allow ") || t.starts_with("deny ") {
                seen += 1;
                pending |= seen % every == 0;
                if changed < want && pending {
                    // `...:PORT` -> `...:PORT+1`
                    let digits = line.chars().rev().take_while(char::is_ascii_digit).count();
                    let cut = line.len() - digits;
                    if digits > 0 && line[..cut].ends_with(':') {
                        let n: u32 = line[cut..].parse().unwrap();
                        line = format!("{}{}", &line[..cut], (n % 65535) + 1);
                        changed += 1;
                        pending = false;
                    }
                }
            }
            text.push_str(&line);
            text.push('\n');
        }
        let rel = Path::new(&i.name)
            .strip_prefix(&from)
            .unwrap_or(Path::new(&i.name));
        let dst = out.join(rel);
        std::fs::create_dir_all(dst.parent().unwrap()).unwrap();
        std::fs::write(dst, text).unwrap();
    }
    println!(
        "revised={} statements={total} changed={changed}",
        out.display()
    );
    0
}

fn ms(d: Duration) -> String {
    format!("{:.3}", d.as_secs_f64() * 1000.0)
}

/// The smallest of `runs` timings of `f`, and its last result.
fn best<T>(runs: u64, mut f: impl FnMut() -> T) -> (Duration, T) {
    best_after(runs, || (), |()| f())
}

/// The smallest of `runs` timings of `f`, each after an untimed `setup`.
fn best_after<S, T>(
    runs: u64,
    mut setup: impl FnMut() -> S,
    mut f: impl FnMut(S) -> T,
) -> (Duration, T) {
    let mut best = Duration::MAX;
    let mut last = None;
    for _ in 0..runs.max(1) {
        let s = setup();
        let t = Instant::now();
        let r = f(s);
        best = best.min(t.elapsed());
        last = Some(r);
    }
    (best, last.expect("at least one run"))
}

fn read(dir: &Path) -> Vec<Input> {
    driver::read_inputs(&[dir.to_path_buf()]).unwrap_or_else(|e| panic!("{}", e.0))
}

/// What `nplc build -o` writes, as (relative path, contents).
fn output_files(ms: &[k8s::Manifest]) -> Vec<(String, String)> {
    let mut files: Vec<(String, String)> = ms.iter().map(|m| (m.path(), m.to_yaml())).collect();
    let paths: Vec<String> = files.iter().map(|f| f.0.clone()).collect();
    files.push(("kustomization.yaml".to_string(), k8s::kustomization(&paths)));
    files
}

/// Makes `dir` fresh for the next timed write: the previous tree is moved
/// into `trash` (removed by the caller after all measurements) rather than
/// deleted. On ext4 without a journal, as on the benchmark machine, the
/// kernel will not reuse an inode freed in the last 60 s and scans past
/// every such inode when it creates a file, so creating a tree right after
/// deleting one costs up to 10x more than a first build (docs/performance.md).
fn clear(dir: &Path, trash: &Path) {
    if dir.exists() {
        std::fs::create_dir_all(trash).expect("create the trash directory");
        let n = std::fs::read_dir(trash).map(|d| d.count()).unwrap_or(0);
        std::fs::rename(dir, trash.join(n.to_string())).expect("move the previous tree away");
    }
}

/// Writes `files` under `dir` with plain `create_dir_all` and `write`.
fn write_plain(dir: &Path, files: &[(String, String)]) {
    for (p, c) in files {
        let path = dir.join(p);
        if let Some(d) = path.parent() {
            std::fs::create_dir_all(d).expect("create the output directory");
        }
        std::fs::write(&path, c).expect("write an output file");
    }
}

fn floor(args: &[String]) -> i32 {
    let o = Opts(args.to_vec());
    let input = o.path("--in");
    let out = o.path("--out");
    let trash = o
        .get("--trash")
        .map(PathBuf::from)
        .unwrap_or_else(|| out.with_extension("trash"));
    let runs = o.num("--runs", 5);
    let c = driver::compile_inputs(&read(&input));
    assert!(!c.has_errors(), "the corpus has errors");
    // one thread: serialize everything, then write everything
    let (ser, files) = best(runs, || output_files(&c.manifests));
    let (write, ()) = best_after(runs, || clear(&out, &trash), |()| write_plain(&out, &files));
    // two cores, as nplc has: each thread serializes and writes its share
    let (par, ()) = best_after(
        runs,
        || clear(&out, &trash),
        |()| {
            nplc::par::map_chunks(&c.manifests, |run| {
                let mut buf = String::with_capacity(4096);
                for m in run {
                    buf.clear();
                    m.write_yaml(&mut buf);
                    let path = out.join(m.path());
                    if let Some(d) = path.parent() {
                        std::fs::create_dir_all(d).expect("create the output directory");
                    }
                    std::fs::write(&path, &buf).expect("write an output file");
                }
                Vec::<()>::new()
            });
            let paths: Vec<String> = c.manifests.iter().map(|m| m.path()).collect();
            write_plain(
                &out,
                &[("kustomization.yaml".to_string(), k8s::kustomization(&paths))],
            );
        },
    );
    if o.get("--trash").is_none() {
        let _ = std::fs::remove_dir_all(&trash);
    }
    // the same objects through serde_yaml, the writer emit::yaml replaces
    let (ser_ref, _) = best(runs, || {
        c.manifests
            .iter()
            .map(|m| nplc::emit::yaml::reference(&m.object))
            .collect::<Vec<_>>()
    });
    let bytes: usize = files.iter().map(|f| f.1.len()).sum();
    println!(
        "serialize_ms={} write_ms={} floor_ms={} floor2_ms={} serde_yaml_ms={} files={} bytes={}",
        ms(ser),
        ms(write),
        ms(ser + write),
        ms(par),
        ms(ser_ref),
        files.len(),
        bytes
    );
    0
}

fn stages(args: &[String]) -> i32 {
    use nplc::{check, compile, lint, resolve, source::SourceMap, syntax};
    let o = Opts(args.to_vec());
    let dir = o.path("--in");
    let runs = o.num("--runs", 3);
    let (t_read, inputs) = best(runs, || read(&dir));
    // as the driver does: sources in name order, files parsed in parallel
    let (t_parse, (sources, files)) = best(runs, || {
        let mut sorted: Vec<&Input> = inputs.iter().collect();
        sorted.sort_by(|a, b| a.name.cmp(&b.name));
        let mut sources = SourceMap::new();
        let ids: Vec<_> = sorted
            .iter()
            .map(|i| (sources.add(i.name.clone(), i.text.clone()), *i))
            .collect();
        let files: Vec<_> = nplc::par::map(&ids, |(id, i)| {
            syntax::parse_file(*id, &i.text).expect("the corpus parses")
        });
        (sources, files)
    });
    let (t_resolve, (resolved, sources)) = best(runs, || {
        let mut s = sources.clone();
        let r = resolve::resolve(&files, &mut s, &mut Sink::new()).expect("the corpus resolves");
        (r, s)
    });
    let (t_check, prog) = best(runs, || {
        check::check(&resolved, &mut Sink::new()).expect("the corpus checks")
    });
    let (t_compile, set) = best(runs, || {
        compile::compile(&prog, &mut Sink::new()).expect("the corpus compiles")
    });
    let (t_lint, lints) = best(runs, || lint::lint(&prog, None));
    let (t_emit, manifests) = best(runs, || k8s::manifests(&set, &prog, &sources));
    let (t_ser, out) = best(runs, || output_files(&manifests));
    let (t_all, c) = best(runs, || driver::compile_inputs(&inputs));
    assert!(!c.has_errors(), "the corpus has errors");
    let (t_check_all, _) = best(runs, || driver::check_inputs(&inputs));
    let bytes: usize = out.iter().map(|f| f.1.len()).sum();
    let statements = prog.statements.len();
    println!(
        "statements={statements} policies={} files={} bytes={bytes} lints={} read_ms={} parse_ms={} resolve_ms={} check_ms={} compile_ms={} lint_ms={} emit_ms={} serialize_ms={} compile_inputs_ms={} check_inputs_ms={}",
        set.policies.len(),
        out.len(),
        lints.len(),
        ms(t_read),
        ms(t_parse),
        ms(t_resolve),
        ms(t_check),
        ms(t_compile),
        ms(t_lint),
        ms(t_emit),
        ms(t_ser),
        ms(t_all),
        ms(t_check_all),
    );
    0
}

fn selftest() -> i32 {
    let specs = [
        Spec::new(100),
        Spec::new(1000),
        Spec::new(300).denies(10),
        Spec::new(300).denies(30),
        Spec::new(500).namespaces(5).denies(30),
        Spec::new(400).namespaces(4).denies(50),
        Spec::new(80).namespaces(8).single_file(),
        Spec::new(7).namespaces(3),
        Spec::new(200).seed(42),
    ];
    let mut failed = 0;
    for spec in &specs {
        let c: Corpus = corpus::generate(spec);
        let again = corpus::generate(spec);
        let mut problems = Vec::new();
        if c != again {
            problems.push("not deterministic".to_string());
        }
        if corpus::generate(&spec.clone().seed(spec.seed + 1)).files == c.files {
            problems.push("the seed changes nothing".to_string());
        }
        if c.statements != spec.statements {
            problems.push(format!(
                "{} statements, want {}",
                c.statements, spec.statements
            ));
        }
        let want_denies = (spec.statements * spec.deny_percent as usize + 50) / 100;
        if c.denies != want_denies {
            problems.push(format!("{} denies, want {want_denies}", c.denies));
        }
        let comp = driver::compile_inputs(&c.inputs());
        let written = comp
            .program
            .as_ref()
            .map(|p| p.statements.len())
            .unwrap_or(0);
        if comp.has_errors() || !comp.diagnostics.is_empty() {
            problems.push(format!(
                "diagnostics:\n{}",
                nplc::diag::render_human(&comp.sources, &comp.diagnostics)
            ));
        } else if written != c.statements {
            problems.push(format!(
                "the program has {written} statements, the corpus {}",
                c.statements
            ));
        }
        if let Some(m) = comp
            .manifests
            .iter()
            .find(|m| m.to_yaml() != nplc::emit::yaml::reference(&m.object))
        {
            problems.push(format!(
                "`{}`: the YAML writer differs from serde_yaml",
                m.path()
            ));
        }
        if comp.manifests.is_empty() && !comp.has_errors() {
            problems.push("no manifests".to_string());
        }
        // the generated cluster loads, and the matrix over it agrees with
        // the program (and, on the smallest corpus, with the pod-by-pod
        // reference)
        if let (Some(prog), true) = (&comp.program, c.namespaces <= 10) {
            let pop = nplc::population::load_population(&c.population_yaml(2))
                .expect("the population loads");
            let want = 12 * 2 * c.namespaces + 3;
            if pop.pods.len() != want {
                problems.push(format!("{} pods, want {want}", pop.pods.len()));
            }
            let objects: Vec<_> = comp.manifests.iter().map(|m| m.object.clone()).collect();
            let m = nplc::eval::classes::evaluate(&objects, prog, &pop);
            if !m.disagreements().is_empty() {
                problems.push("the matrix of the generated cluster disagrees".to_string());
            }
            if m.classes.len() * 2 != pop.pods.len() - 3 + 6 {
                problems.push(format!("{} pod classes", m.classes.len()));
            }
            if c.namespaces <= 3 {
                let ports = nplc::eval::matrix::default_ports(prog, &pop);
                let got = nplc::eval::matrix::matrix(&objects, prog, &pop, &ports);
                let want = nplc::eval::matrix::matrix_pod_by_pod(&objects, prog, &pop, &ports);
                if got != want {
                    problems.push("the class matrix differs from the pod-by-pod one".to_string());
                }
            }
        }
        if problems.is_empty() {
            println!(
                "ok   {:<24} files={} statements={} denies={} manifests={}",
                format!(
                    "{}{}",
                    spec.label(),
                    if spec.layout == corpus::Layout::SingleFile {
                        " (one file)"
                    } else {
                        ""
                    }
                ),
                c.files.len(),
                c.statements,
                c.denies,
                comp.manifests.len()
            );
        } else {
            failed += 1;
            println!("FAIL {spec:?}");
            for p in problems {
                println!("  {p}");
            }
        }
    }
    if failed > 0 {
        println!("corpus_tool selftest: {failed} failed");
        1
    } else {
        println!("corpus_tool selftest: ok");
        0
    }
}
