//! Benchmarks of the language server (`nplc lsp`, docs/editors.md) against
//! the speed targets of issue 15: after a one-line edit in a workspace of
//! the 10k-statement corpus (1k files), fresh diagnostics within 50 ms;
//! hover and go to definition within 10 ms. Input: the corpus of
//! benches/corpus written to a temporary directory. Output: criterion's
//! reports (docs/performance.md, "The language server").
//!
//! The server runs in this process (`nplc::lsp::serve` on an in-memory
//! connection: the same code as `nplc lsp`, without the pipe), and every
//! figure is what a client waits: from sending the message to receiving
//! the answer or the published diagnostics.
//!
//! - `lsp/edit_to_diagnostics`: a port number on one line of one file
//!   changed back and forth (`didChange`), until the diagnostics of that
//!   version are published (parse of the changed file, then the stages
//!   after parsing, without emission, incrementally: that file lowered
//!   and checked again, the namespaces it touches compiled again);
//! - `lsp/hover`, `lsp/definition`: on a workload name used in a rule;
//! - `lsp/hover_after_edit`: an edit, then a hover at once, while the
//!   analysis of the edit runs (the name index patched with the edited
//!   file's);
//! - `lsp/reference_check_inputs`: `driver::check_inputs` on the whole
//!   corpus, what `nplc check` does after reading: the same stages from
//!   scratch, measured in the same process so that the ratio holds on a
//!   machine whose load moves the absolute figures.
//!
//! Under `cargo test` (criterion's test mode, each benchmark once) the 1k
//! corpus (100 files) is used; `cargo bench --bench lsp` uses 10k.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "corpus/mod.rs"]
mod corpus;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use lsp_server::{Connection, Message, Notification, Request, RequestId};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::time::{Duration, Instant};

fn bench_mode() -> bool {
    std::env::args().any(|a| a == "--bench")
}

struct Session {
    conn: Connection,
    dir: PathBuf,
    uri: String,
    version: i32,
    next_id: i32,
    /// (line, character) of a workload name used in a rule.
    name_at: (u32, u32),
    /// (line, character range) of the port number that edits change.
    port_at: (u32, u32, u32),
}

impl Session {
    fn start(statements: usize) -> Session {
        let c = corpus::generate(&corpus::Spec::new(statements));
        let dir = std::env::temp_dir().join(format!(
            "nplc-bench-lsp-{statements}-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        c.write_to(&dir).unwrap();
        let (server, client) = Connection::memory();
        std::thread::spawn(move || nplc::lsp::serve(server));
        let root = format!("file://{}", dir.display());
        // the file edited: the first one, with a rule naming a workload
        // and a port number
        let (name, text) = c
            .files
            .iter()
            .find(|(_, t)| t.contains(":443"))
            .cloned()
            .unwrap();
        let uri = format!("file://{}", dir.join(&name).display());
        let mut s = Session {
            conn: client,
            dir,
            uri,
            version: 1,
            next_id: 0,
            name_at: (0, 0),
            port_at: (0, 0, 0),
        };
        let init = s.request(
            "initialize",
            json!({"processId": null, "rootUri": root, "capabilities": {}}),
        );
        assert!(init.get("capabilities").is_some());
        s.notify("initialized", json!({}));
        s.notify(
            "textDocument/didOpen",
            json!({"textDocument": {"uri": s.uri, "languageId": "npl", "version": 1, "text": text}}),
        );
        s.wait_diagnostics(1);
        // a workload used as a peer: `allow NAME ->` where NAME is declared
        let (l, line) = text
            .lines()
            .enumerate()
            .find(|(_, l)| {
                let t = l.trim_start();
                t.starts_with("allow ")
                    && t.split_whitespace()
                        .nth(1)
                        .is_some_and(|w| text.contains(&format!("workload {w} ")))
            })
            .unwrap();
        let col = line.find("allow ").unwrap() + 6;
        s.name_at = (l as u32, col as u32 + 1);
        let (l, line) = text
            .lines()
            .enumerate()
            .find(|(_, l)| l.contains(":443"))
            .unwrap();
        let col = line.find(":443").unwrap() + 1;
        s.port_at = (l as u32, col as u32, col as u32 + 3);
        s
    }

    fn notify(&self, method: &str, params: Value) {
        self.conn
            .sender
            .send(Message::Notification(Notification::new(
                method.into(),
                params,
            )))
            .unwrap();
    }

    fn request(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = RequestId::from(self.next_id);
        self.conn
            .sender
            .send(Message::Request(Request::new(
                id.clone(),
                method.into(),
                params,
            )))
            .unwrap();
        loop {
            match self
                .conn
                .receiver
                .recv_timeout(Duration::from_secs(120))
                .unwrap()
            {
                Message::Response(r) if r.id == id => {
                    assert!(r.error.is_none(), "{:?}", r.error);
                    return r.result.unwrap_or(Value::Null);
                }
                _ => {}
            }
        }
    }

    /// Waits for the diagnostics of `version` of the edited file.
    fn wait_diagnostics(&self, version: i32) -> Value {
        loop {
            if let Message::Notification(n) = self
                .conn
                .receiver
                .recv_timeout(Duration::from_secs(120))
                .unwrap()
            {
                if n.method == "textDocument/publishDiagnostics"
                    && n.params["uri"] == self.uri.as_str()
                    && n.params["version"] == version
                {
                    return n.params["diagnostics"].clone();
                }
            }
        }
    }

    /// Changes the port number `443` ↔ `444`: a one-line edit.
    fn edit(&mut self) {
        self.version += 1;
        let new = if self.version % 2 == 0 { "444" } else { "443" };
        let (l, a, b) = self.port_at;
        self.notify(
            "textDocument/didChange",
            json!({"textDocument": {"uri": self.uri, "version": self.version},
                   "contentChanges": [{"range": {"start": {"line": l, "character": a}, "end": {"line": l, "character": b}}, "text": new}]}),
        );
    }

    fn at(&mut self, method: &str) -> Value {
        let (l, c) = self.name_at;
        let uri = self.uri.clone();
        self.request(
            method,
            json!({"textDocument": {"uri": uri}, "position": {"line": l, "character": c}}),
        )
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn lsp(c: &mut Criterion) {
    let statements = if bench_mode() { 10_000 } else { 1_000 };
    let label = corpus::human(statements);
    let inputs = corpus::generate(&corpus::Spec::new(statements)).inputs();
    let mut s = Session::start(statements);
    // what the answers are: a hover with the declaration, a definition
    assert!(s.at("textDocument/hover")["contents"]["value"]
        .as_str()
        .unwrap()
        .contains("**workload**"));
    assert!(s.at("textDocument/definition")["uri"].as_str().is_some());
    let mut g = c.benchmark_group("lsp");
    g.sample_size(30).measurement_time(Duration::from_secs(20));
    g.bench_function(BenchmarkId::new("edit_to_diagnostics", &label), |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let t = Instant::now();
                s.edit();
                let ds = s.wait_diagnostics(s.version);
                total += t.elapsed();
                assert!(ds.as_array().is_some_and(|d| d.is_empty()), "{ds}");
            }
            total
        })
    });
    g.sample_size(100).measurement_time(Duration::from_secs(5));
    g.bench_function(BenchmarkId::new("hover", &label), |b| {
        b.iter(|| s.at("textDocument/hover"))
    });
    g.bench_function(BenchmarkId::new("definition", &label), |b| {
        b.iter(|| s.at("textDocument/definition"))
    });
    g.sample_size(30).measurement_time(Duration::from_secs(20));
    g.bench_function(BenchmarkId::new("hover_after_edit", &label), |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                s.edit();
                let t = Instant::now();
                let h = s.at("textDocument/hover");
                total += t.elapsed();
                assert!(h.get("contents").is_some());
                s.wait_diagnostics(s.version);
            }
            total
        })
    });
    g.sample_size(10).measurement_time(Duration::from_secs(20));
    g.bench_function(BenchmarkId::new("reference_check_inputs", &label), |b| {
        b.iter(|| nplc::driver::check_inputs(&inputs))
    });
    g.finish();
}

criterion_group!(benches, lsp);
criterion_main!(benches);
