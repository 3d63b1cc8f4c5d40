//! Criterion benchmarks of the pipeline, per stage and end to end, on
//! generated corpora (benches/corpus). Input: none (the corpora are
//! generated in memory from fixed seeds). Output: criterion's reports under
//! `target/criterion/`, throughput in statements per second.
//!
//! Groups, each with one benchmark per corpus:
//!
//! - `parse`: `syntax::parse_file` over every file;
//! - `resolve_check`: `resolve::resolve` then `check::check`;
//! - `compile`: deny compilation, `compile::compile`;
//! - `lint`: the security lints, `lint::lint`;
//! - `emit`: `emit::k8s::manifests`, policies to NetworkPolicy objects;
//! - `floor_serialize`: the serialization floor, every emitted object to
//!   YAML (`Manifest::to_yaml`) and the kustomization;
//! - `floor_write`: the serialized files written into a fresh directory;
//! - `end_to_end`: `driver::compile_inputs` and serialization, what
//!   `nplc build` does between reading and writing.
//!
//! Plus `matrix` (`nplc matrix` on generated clusters: see [`matrix`]) and
//! `small_file` (one file of about 200 lines: `driver::check_inputs`,
//! what `nplc check` does, and `end_to_end`) and `deny_share` (`compile`
//! and `end_to_end` at 10k statements with 0%, 5%, 10% and 30% denies).
//!
//! Corpora: 1k, 10k and 100k statements (ten per namespace, 5% denies), and
//! 10k statements with 0% to 30% denies to show how deny compilation grows. `cargo bench --bench pipeline` runs them all (about half an hour
//! with the 100k corpus); a filter picks some: `cargo bench --bench pipeline
//! -- 'compile/'`. Under `cargo test` (criterion's test mode, each
//! benchmark run once) only the 1k corpora are used.

// A benchmark that cannot set up its corpus has nothing to measure: it
// may stop there (Cargo.toml [lints]).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "corpus/mod.rs"]
mod corpus;

// the allocator `nplc` itself uses (src/main.rs)
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use corpus::Spec;
use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};
use nplc::compile::PolicySet;
use nplc::diag::Sink;
use nplc::driver::{self, Input};
use nplc::emit::k8s::{self, Manifest};
use nplc::ir::Program;
use nplc::source::SourceMap;
use nplc::syntax::ast;
use nplc::{check, compile, lint, resolve, syntax};
use std::hint::black_box;
use std::time::Duration;

/// Everything each stage needs, computed once per corpus.
struct Prepared {
    label: String,
    statements: u64,
    inputs: Vec<Input>,
    /// The source map after parsing (before resolve adds the stdlib).
    parsed_sources: SourceMap,
    files: Vec<ast::File>,
    resolved: resolve::Resolved,
    sources: SourceMap,
    program: Program,
    set: PolicySet,
    manifests: Vec<Manifest>,
    output: Vec<(String, String)>,
}

/// As the driver does: every file added to the source map, then parsed in
/// parallel (`nplc::par`), results in file order.
fn parse_all(inputs: &[Input]) -> (SourceMap, Vec<ast::File>) {
    let mut sources = SourceMap::new();
    let ids: Vec<_> = inputs
        .iter()
        .map(|i| (sources.add(i.name.clone(), i.text.clone()), i))
        .collect();
    let files = nplc::par::map(&ids, |(id, i)| {
        syntax::parse_file(*id, &i.text).expect("the corpus parses")
    });
    (sources, files)
}

/// What `nplc build -o` writes, as (relative path, contents).
fn output_files(ms: &[Manifest]) -> Vec<(String, String)> {
    let mut files: Vec<(String, String)> = ms.iter().map(|m| (m.path(), m.to_yaml())).collect();
    let paths: Vec<String> = files.iter().map(|f| f.0.clone()).collect();
    files.push(("kustomization.yaml".to_string(), k8s::kustomization(&paths)));
    files
}

fn prepare(spec: &Spec) -> Prepared {
    let corpus = corpus::generate(spec);
    let inputs = corpus.inputs();
    // the driver sorts inputs by name; so does this
    let mut sorted = inputs.clone();
    sorted.sort_by(|a, b| a.name.cmp(&b.name));
    let (parsed_sources, files) = parse_all(&sorted);
    let mut sources = parsed_sources.clone();
    let resolved =
        resolve::resolve(&files, &mut sources, &mut Sink::new()).expect("the corpus resolves");
    let program = check::check(&resolved, &mut Sink::new()).expect("the corpus checks");
    let set = compile::compile(&program, &mut Sink::new()).expect("the corpus compiles");
    let manifests = k8s::manifests(&set, &program, &sources);
    let output = output_files(&manifests);
    let whole = driver::compile_inputs(&inputs);
    assert!(
        !whole.has_errors(),
        "the corpus {} has errors",
        spec.label()
    );
    assert_eq!(
        whole.manifests, manifests,
        "the stages as benchmarked are the pipeline"
    );
    Prepared {
        label: spec.label(),
        statements: corpus.statements as u64,
        inputs: sorted,
        parsed_sources,
        files,
        resolved,
        sources,
        program,
        set,
        manifests,
        output,
    }
}

/// `cargo bench` passes `--bench`; `cargo test` does not.
fn benchmarking() -> bool {
    std::env::args().any(|a| a == "--bench")
}

fn series() -> Vec<Spec> {
    if benchmarking() {
        vec![Spec::new(1_000), Spec::new(10_000), Spec::new(100_000)]
    } else {
        vec![Spec::new(1_000)]
    }
}

fn deny_series() -> Vec<Spec> {
    let n = if benchmarking() { 10_000 } else { 1_000 };
    [0, 5, 10, 30]
        .into_iter()
        .map(|p| Spec::new(n).denies(p))
        .collect()
}

fn write_dir(dir: &std::path::Path, files: &[(String, String)]) {
    for (p, c) in files {
        let path = dir.join(p);
        if let Some(d) = path.parent() {
            std::fs::create_dir_all(d).expect("create the output directory");
        }
        std::fs::write(&path, c).expect("write an output file");
    }
}

fn stages(c: &mut Criterion, p: &Prepared) {
    let big = p.statements >= 100_000;
    let mut run = |group: &str, f: &mut dyn FnMut(&mut criterion::Bencher)| {
        let mut g = c.benchmark_group(group);
        g.throughput(Throughput::Elements(p.statements));
        if big {
            g.sample_size(10)
                .warm_up_time(Duration::from_secs(1))
                .measurement_time(Duration::from_secs(15));
        } else if p.statements >= 10_000 {
            g.sample_size(20).measurement_time(Duration::from_secs(8));
        }
        g.bench_function(BenchmarkId::from_parameter(&p.label), |b| f(b));
        g.finish();
    };
    run("parse", &mut |b| b.iter(|| black_box(parse_all(&p.inputs))));
    run("resolve_check", &mut |b| {
        b.iter_batched(
            || p.parsed_sources.clone(),
            |mut sources| {
                let r =
                    resolve::resolve(&p.files, &mut sources, &mut Sink::new()).expect("resolves");
                black_box(check::check(&r, &mut Sink::new()).expect("checks"))
            },
            BatchSize::PerIteration,
        )
    });
    run("compile", &mut |b| {
        b.iter(|| black_box(compile::compile(&p.program, &mut Sink::new()).expect("compiles")))
    });
    run("lint", &mut |b| {
        b.iter(|| black_box(lint::lint(&p.program, None)))
    });
    run("emit", &mut |b| {
        b.iter(|| black_box(k8s::manifests(&p.set, &p.program, &p.sources)))
    });
    run("floor_serialize", &mut |b| {
        b.iter(|| black_box(output_files(&p.manifests)))
    });
    let tmp = std::env::temp_dir().join(format!("nplc-bench-write-{}", std::process::id()));
    let trash = tmp.with_extension("trash");
    let mut n = 0;
    run("floor_write", &mut |b| {
        b.iter_batched(
            || {
                // moved aside, not deleted: on ext4 without a journal, files
                // created right after a deletion cost up to 10x more
                // (docs/performance.md, "The disk")
                if tmp.exists() {
                    n += 1;
                    let _ = std::fs::create_dir_all(&trash);
                    let _ = std::fs::rename(&tmp, trash.join(n.to_string()));
                }
            },
            |()| write_dir(&tmp, &p.output),
            BatchSize::PerIteration,
        )
    });
    let _ = std::fs::remove_dir_all(&tmp);
    let _ = std::fs::remove_dir_all(&trash);
    run("end_to_end", &mut |b| {
        b.iter(|| {
            let c = driver::compile_inputs(&p.inputs);
            black_box(output_files(&c.manifests))
        })
    });
    let _ = &p.resolved;
}

fn by_size(c: &mut Criterion) {
    for spec in series() {
        let p = prepare(&spec);
        stages(c, &p);
    }
}

fn by_denies(c: &mut Criterion) {
    for spec in deny_series() {
        let mut p = prepare(&spec);
        p.label = format!(
            "{}-deny{}",
            corpus::human(spec.statements),
            spec.deny_percent
        );
        let mut g = c.benchmark_group("deny_share");
        g.throughput(Throughput::Elements(p.statements));
        if benchmarking() {
            g.sample_size(20).measurement_time(Duration::from_secs(8));
        }
        g.bench_function(BenchmarkId::new("compile", &p.label), |b| {
            b.iter(|| black_box(compile::compile(&p.program, &mut Sink::new()).expect("compiles")))
        });
        g.bench_function(BenchmarkId::new("end_to_end", &p.label), |b| {
            b.iter(|| {
                let c = driver::compile_inputs(&p.inputs);
                black_box(output_files(&c.manifests))
            })
        });
        g.finish();
    }
}

/// The editor case: one file of about 200 lines (seven namespaces, seventy
/// statements), `nplc check` (no emission) and a whole build in memory.
fn small_file(c: &mut Criterion) {
    let corpus = corpus::generate(&small_file_spec());
    let inputs = corpus.inputs();
    let lines = corpus.lines();
    let mut g = c.benchmark_group("small_file");
    g.throughput(Throughput::Elements(corpus.statements as u64));
    g.bench_function(
        BenchmarkId::new("check_inputs", format!("{lines}-lines")),
        |b| b.iter(|| black_box(driver::check_inputs(&inputs))),
    );
    g.bench_function(
        BenchmarkId::new("end_to_end", format!("{lines}-lines")),
        |b| {
            b.iter(|| {
                let c = driver::compile_inputs(&inputs);
                black_box(output_files(&c.manifests))
            })
        },
    );
    g.finish();
}

/// About 200 lines in one file.
fn small_file_spec() -> Spec {
    Spec::new(70).namespaces(7).single_file()
}

/// `nplc matrix` on a corpus and its generated cluster (one pod per
/// workload, `Corpus::population_yaml`), after compilation: the class
/// evaluation alone (`classes`), the class evaluation and the compact form
/// (`classes_text`), and the class evaluation and every probe row as CSV
/// (`csv`, written to a sink); and the pod-by-pod reference
/// (`pod_by_pod`) on the smallest cluster only. Throughput in pods. Under
/// `cargo bench`: 10, 40 and 415 namespaces (123, 483 and 4,983 pods); under
/// `cargo test`: 3 namespaces.
fn matrix(c: &mut Criterion) {
    use nplc::eval::{classes, matrix};
    let sizes: &[usize] = if benchmarking() { &[10, 40, 415] } else { &[3] };
    for &ns in sizes {
        let corpus = corpus::generate(&Spec::new(ns * 10).namespaces(ns));
        let pop = nplc::population::load_population(&corpus.population_yaml(1))
            .expect("the population loads");
        let comp = driver::compile_inputs(&corpus.inputs());
        let prog = comp.program.as_ref().expect("the corpus compiles");
        let objects: Vec<_> = comp.manifests.iter().map(|m| m.object.clone()).collect();
        let ports = matrix::default_ports(prog, &pop);
        let label = format!("{}-pods", pop.pods.len());
        let mut g = c.benchmark_group("matrix");
        g.throughput(Throughput::Elements(pop.pods.len() as u64));
        if benchmarking() && ns >= 100 {
            g.sample_size(10).measurement_time(Duration::from_secs(20));
        } else if benchmarking() {
            g.sample_size(10).measurement_time(Duration::from_secs(5));
        }
        g.bench_function(BenchmarkId::new("classes", &label), |b| {
            b.iter(|| black_box(classes::evaluate(&objects, prog, &pop)))
        });
        g.bench_function(BenchmarkId::new("classes_text", &label), |b| {
            b.iter(|| {
                let m = classes::evaluate(&objects, prog, &pop);
                matrix::write_classes(&mut std::io::sink(), &m, &pop).expect("writes")
            })
        });
        if ns <= 40 {
            g.bench_function(BenchmarkId::new("csv", &label), |b| {
                b.iter(|| {
                    let m = classes::evaluate(&objects, prog, &pop);
                    matrix::write_csv(&mut std::io::sink(), &m, &pop, &ports).expect("writes")
                })
            });
        }
        if ns <= 3 || (benchmarking() && ns <= 10) {
            g.bench_function(BenchmarkId::new("pod_by_pod", &label), |b| {
                b.iter(|| black_box(matrix::matrix_pod_by_pod(&objects, prog, &pop, &ports)))
            });
        }
        g.finish();
    }
}

criterion_group!(benches, small_file, by_size, by_denies, matrix);
criterion_main!(benches);
