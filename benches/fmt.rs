//! Criterion benchmark of the formatter (`nplc fmt`, issue 14): one
//! generated file of about 10,000 lines (namespaces with workloads, rules,
//! comments beside and between statements), formatted from a scrambled
//! layout and from its formatted layout (what `nplc fmt --check` does on a
//! formatted repository). Target: under 100 ms (docs/performance.md).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use nplc::source::FileId;
use nplc::syntax::fmt::format_source;
use std::hint::black_box;

/// About `lines` lines of `.npl`, laid out carelessly (deterministic).
fn corpus(lines: usize) -> String {
    let mut out = vec![
        "# a generated file".to_string(),
        "use dns, rfc1918".to_string(),
        "define office=10.1.0.0/16 # the office".to_string(),
        String::new(),
    ];
    let mut i = 0;
    while out.len() < lines {
        out.push(format!("# namespace {i}"));
        out.push(format!("namespace ns{i} {{"));
        out.push("    default deny".to_string());
        for w in 0..4 {
            out.push(format!("  workload w{w}= app=a{w},tier in (x,y)"));
        }
        out.push(String::new());
        for r in 0..6 {
            out.push(format!(
                "  allow w{} ->w{}:{} ,udp/53   # rule {r}",
                r % 4,
                (r + 1) % 4,
                8000 + r
            ));
        }
        out.push("  allow egress dns".to_string());
        out.push(format!("  deny office | ns{}/app=z -> w0:tcp/22", i + 1));
        out.push("}".to_string());
        out.push(String::new());
        i += 1;
    }
    out.join("\n")
}

fn fmt(c: &mut Criterion) {
    let text = corpus(10_000);
    let formatted = format_source(FileId(0), &text).unwrap();
    let mut g = c.benchmark_group("fmt");
    g.throughput(Throughput::Elements(text.lines().count() as u64));
    g.bench_function("10k_lines_scrambled", |b| {
        b.iter(|| format_source(FileId(0), black_box(&text)).unwrap())
    });
    g.bench_function("10k_lines_formatted", |b| {
        b.iter(|| format_source(FileId(0), black_box(&formatted)).unwrap())
    });
    g.finish();
}

criterion_group!(benches, fmt);
criterion_main!(benches);
