//! Criterion benchmark of `nplc import` (issue 13, docs/performance.md
//! "`nplc import`"): the NetworkPolicy stream of `scripts/gen_policies.py`
//! (N policies in N/20 namespaces, the same text, generated here in
//! memory), per stage and end to end:
//!
//! - `read`: `import::read`, the YAML documents parsed and checked as the
//!   API server checks them;
//! - `write`: `import::write::programs`, the policies to one program text
//!   per namespace, in `nplc fmt`'s layout;
//! - `check`: `driver::check_inputs` on those texts, the check the import
//!   runs on its result (what `nplc check` does);
//! - `end_to_end`: read, write (with nplc's own output recognised, as the
//!   command does) and check: `nplc import` without the file system.
//!
//! `cargo bench --bench import` runs 10,000 policies (the target: the
//! whole command under 1 s on two cores); under `cargo test` (criterion's
//! test mode, each benchmark run once) 1,000.

// A benchmark that cannot set up its input has nothing to measure: it may
// stop there (Cargo.toml [lints]).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

// the allocator `nplc` itself uses (src/main.rs)
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use nplc::driver::{self, Input};
use nplc::import;
use std::hint::black_box;
use std::time::Duration;

/// `scripts/gen_policies.py N`, byte for byte.
fn policies(n: usize) -> String {
    let nss = (n / 20).max(1);
    let docs: Vec<String> = (0..n)
        .map(|i| {
            format!(
                "apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: pol-{i}
  namespace: ns{ns}
spec:
  podSelector:
    matchLabels:
      app: app{a}
  policyTypes: [Ingress, Egress]
  ingress:
  - from:
    - podSelector:
        matchLabels:
          app: app{b}
    - namespaceSelector:
        matchLabels:
          kubernetes.io/metadata.name: ns{other}
      podSelector:
        matchLabels:
          app: app{c}
    ports:
    - port: {port}
  egress:
  - to:
    - podSelector:
        matchLabels:
          app: app{d}
    ports:
    - port: 5432
  - to:
    - ipBlock:
        cidr: 10.{net}.0.0/16
        except: [10.{net}.1.0/24]
    ports:
    - port: 443
",
                ns = i % nss,
                a = i % 37,
                b = (i + 1) % 37,
                other = (i + 7) % nss,
                c = (i + 3) % 37,
                port = 8000 + i % 50,
                d = (i + 2) % 37,
                net = i % 200,
            )
        })
        .collect();
    docs.join("---\n")
}

/// `cargo bench` passes `--bench`; `cargo test` does not.
fn full_size() -> bool {
    std::env::args().any(|a| a == "--bench")
}

fn texts(programs: Vec<import::write::Program>) -> Vec<Input> {
    programs
        .into_iter()
        .map(|p| Input {
            name: format!("{}.npl", p.namespace),
            text: p.text,
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let n = if full_size() { 10_000 } else { 1_000 };
    let yaml = policies(n);
    let inputs = vec![("p.yaml".to_string(), yaml)];
    let read = import::read(&inputs, None);
    assert!(!read.has_errors(), "the generated policies are refused");
    let programs = import::write::programs(&read.policies);
    let files = texts(programs.clone());
    assert!(
        !driver::check_inputs(&files).has_errors(),
        "the imported program does not check"
    );

    let mut g = c.benchmark_group("import");
    g.throughput(Throughput::Elements(n as u64));
    g.sample_size(10).measurement_time(Duration::from_secs(10));
    g.bench_function(format!("read/{n}"), |b| {
        b.iter(|| import::read(black_box(&inputs), None))
    });
    g.bench_function(format!("write/{n}"), |b| {
        b.iter(|| import::write::programs(black_box(&read.policies)))
    });
    g.bench_function(format!("check/{n}"), |b| {
        b.iter(|| driver::check_inputs(black_box(&files)))
    });
    g.bench_function(format!("end_to_end/{n}"), |b| {
        b.iter(|| {
            let r = import::read(black_box(&inputs), None);
            let imported = import::recognise::programs(&r.policies, &|_| None);
            driver::check_inputs(&texts(imported.programs))
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
