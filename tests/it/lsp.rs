//! `nplc lsp` driven over standard I/O with real JSON-RPC messages, as an
//! editor drives it: initialize, open files of a multi-file program, edit
//! them, and ask for every feature (diagnostics appearing and clearing in
//! another file than the one edited, hover, definition, references,
//! rename, completion, code actions), and a fault that the server
//! survives.

use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(60);

/// A language client over the server's standard I/O.
pub struct Client {
    child: Child,
    stdin: ChildStdin,
    rx: mpsc::Receiver<Value>,
    next_id: i64,
    /// Notifications received and not yet looked at.
    pub notes: Vec<Value>,
    pub dir: PathBuf,
}

fn read_message(r: &mut impl BufRead) -> Option<Value> {
    let mut len = None;
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some(v) = line.strip_prefix("Content-Length: ") {
            len = v.parse::<usize>().ok();
        }
    }
    let mut buf = vec![0; len?];
    r.read_exact(&mut buf).ok()?;
    serde_json::from_slice(&buf).ok()
}

/// A fresh directory with `files` written in it.
pub fn workspace(tag: &str, files: &[(&str, &str)]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("nplc-lsp-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for (name, text) in files {
        let p = dir.join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    dir
}

pub fn uri(dir: &Path, name: &str) -> String {
    format!("file://{}", dir.join(name).display())
}

impl Client {
    pub fn start(dir: &Path, env: &[(&str, &str)]) -> Client {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_nplc"));
        cmd.arg("lsp")
            .current_dir(dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().unwrap();
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut r = BufReader::new(stdout);
            while let Some(m) = read_message(&mut r) {
                if tx.send(m).is_err() {
                    return;
                }
            }
        });
        let mut c = Client {
            child,
            stdin,
            rx,
            next_id: 0,
            notes: vec![],
            dir: dir.to_path_buf(),
        };
        let root = format!("file://{}", dir.display());
        let init = c.request(
            "initialize",
            json!({"processId": null, "rootUri": root, "capabilities": {},
                   "workspaceFolders": [{"uri": root, "name": "w"}]}),
        );
        assert!(
            init["result"]["capabilities"]["hoverProvider"] == json!(true),
            "{init}"
        );
        assert_eq!(
            init["result"]["capabilities"]["documentFormattingProvider"],
            json!(true),
            "{init}"
        );
        c.notify("initialized", json!({}));
        c
    }

    pub fn send(&mut self, v: Value) {
        let body = v.to_string();
        write!(self.stdin, "Content-Length: {}\r\n\r\n{body}", body.len()).unwrap();
        self.stdin.flush().unwrap();
    }

    pub fn notify(&mut self, method: &str, params: Value) {
        self.send(json!({"jsonrpc": "2.0", "method": method, "params": params}));
    }

    /// Sends a request and returns its whole response (`result` or `error`).
    pub fn request(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        self.send(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        let deadline = Instant::now() + WAIT;
        loop {
            let m = self
                .rx
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
                .unwrap_or_else(|_| panic!("no answer to `{method}`"));
            if m.get("id") == Some(&json!(id)) && m.get("method").is_none() {
                return m;
            }
            self.notes.push(m);
        }
    }

    /// The next diagnostics published for `uri` that satisfy `pred`
    /// (earlier ones are dropped).
    pub fn diagnostics_where(&mut self, uri: &str, pred: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        let deadline = Instant::now() + WAIT;
        loop {
            let pos = self.notes.iter().position(|m| {
                m["method"] == "textDocument/publishDiagnostics" && m["params"]["uri"] == uri
            });
            if let Some(i) = pos {
                let m = self.notes.remove(i);
                let ds = m["params"]["diagnostics"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default();
                if pred(&ds) {
                    return ds;
                }
                continue;
            }
            match self
                .rx
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            {
                Ok(m) => self.notes.push(m),
                Err(_) => panic!("no diagnostics as expected for {uri}"),
            }
        }
    }

    pub fn open(&mut self, name: &str) -> String {
        let u = uri(&self.dir, name);
        let text = std::fs::read_to_string(self.dir.join(name)).unwrap();
        self.notify(
            "textDocument/didOpen",
            json!({"textDocument": {"uri": u, "languageId": "npl", "version": 1, "text": text}}),
        );
        u
    }

    /// Replaces the whole text of an open file.
    pub fn set(&mut self, uri: &str, version: i64, text: &str) {
        self.notify(
            "textDocument/didChange",
            json!({"textDocument": {"uri": uri, "version": version},
                   "contentChanges": [{"text": text}]}),
        );
    }

    /// Replaces a range (line, character) of an open file.
    pub fn edit(&mut self, uri: &str, version: i64, from: (u32, u32), to: (u32, u32), text: &str) {
        self.notify(
            "textDocument/didChange",
            json!({"textDocument": {"uri": uri, "version": version},
                   "contentChanges": [{"range": {"start": {"line": from.0, "character": from.1},
                                                 "end": {"line": to.0, "character": to.1}},
                                       "text": text}]}),
        );
    }

    pub fn at(
        &mut self,
        method: &str,
        uri: &str,
        line: u32,
        character: u32,
        extra: Value,
    ) -> Value {
        let mut p = json!({"textDocument": {"uri": uri}, "position": {"line": line, "character": character}});
        if let (Some(p), Some(e)) = (p.as_object_mut(), extra.as_object()) {
            for (k, v) in e {
                p.insert(k.clone(), v.clone());
            }
        }
        self.request(method, p)
    }

    /// `shutdown`, `exit`, and the exit status.
    pub fn stop(mut self) -> i32 {
        let r = self.request("shutdown", Value::Null);
        assert!(r.get("error").is_none(), "{r}");
        self.notify("exit", Value::Null);
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                return s.code().unwrap_or(-1);
            }
            assert!(Instant::now() < deadline, "the server did not exit");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// (line, character) of the `nth` occurrence of `needle` in `text`, plus `delta` characters.
fn pos(text: &str, needle: &str, delta: u32) -> (u32, u32) {
    let i = text
        .find(needle)
        .unwrap_or_else(|| panic!("`{needle}` not in the text"));
    let line = text[..i].matches('\n').count() as u32;
    let col = (i - text[..i].rfind('\n').map(|j| j + 1).unwrap_or(0)) as u32;
    (line, col + delta)
}

const A: &str = "use dns\n\nnamespace shop {\n  default deny\n  workload web = app=web\n  allow egress dns\n  allow web -> api:8080\n}\n";
const B: &str =
    "# the api's own file\nnamespace shop {\n  workload api = app=api\n  allow ingress web\n}\n";

/// A hover on a statement, once the server has worked out what the
/// statements produce (it does after publishing the diagnostics, when no
/// edit follows within a moment).
fn statement_hover(c: &mut Client, uri: &str, line: u32, character: u32) -> Value {
    let deadline = Instant::now() + WAIT;
    loop {
        let h = c.at("textDocument/hover", uri, line, character, json!({}));
        let text = h["result"]["contents"]["value"].as_str().unwrap_or("");
        if !text.contains("shown once the program compiles") || Instant::now() > deadline {
            return h;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn codes(ds: &[Value]) -> Vec<String> {
    ds.iter()
        .map(|d| d["code"].as_str().unwrap_or("").to_string())
        .collect()
}

#[test]
fn diagnostics_cross_files() {
    let dir = workspace("cross", &[("a.npl", A), ("b.npl", B)]);
    let mut c = Client::start(&dir, &[]);
    let a = c.open("a.npl");
    let b = c.open("b.npl");
    // the program is clean: both files get an empty set when opened
    assert_eq!(c.diagnostics_where(&a, |_| true), Vec::<Value>::new());
    assert_eq!(c.diagnostics_where(&b, |_| true), Vec::<Value>::new());

    // renaming `api` in b.npl makes its use in a.npl unknown
    let (l, ch) = pos(B, "api =", 0);
    c.edit(&b, 2, (l, ch), (l, ch + 3), "apx");
    let ds = c.diagnostics_where(&a, |ds| !ds.is_empty());
    assert_eq!(codes(&ds), vec!["E0101"], "{ds:?}");
    let d = &ds[0];
    assert!(
        d["message"]
            .as_str()
            .unwrap()
            .contains("unknown name `api`"),
        "{d}"
    );
    assert!(
        d["message"]
            .as_str()
            .unwrap()
            .contains("help: did you mean `apx`?"),
        "{d}"
    );
    assert_eq!(d["severity"], 1);
    assert_eq!(d["source"], "nplc");
    assert_eq!(d["range"]["start"], json!({"line": 6, "character": 15}));
    // its quick fix
    let actions = c.request(
        "textDocument/codeAction",
        json!({"textDocument": {"uri": a}, "range": d["range"], "context": {"diagnostics": [d]}}),
    );
    let acts = actions["result"].as_array().unwrap();
    assert_eq!(acts.len(), 1, "{actions}");
    assert_eq!(acts[0]["title"], "replace `api` with `apx`");
    assert_eq!(acts[0]["edit"]["changes"][&a][0]["newText"], "apx");

    // and renaming it back clears them
    c.edit(&b, 3, (l, ch), (l, ch + 3), "api");
    let ds = c.diagnostics_where(&a, |ds| ds.is_empty());
    assert!(ds.is_empty());

    // a definition repeated in the other file: the error in b.npl, the
    // first definition in a.npl as related information
    c.edit(&b, 4, (2, 0), (2, 0), "  workload web = app=web2\n");
    let ds = c.diagnostics_where(&b, |ds| !ds.is_empty());
    assert_eq!(codes(&ds), vec!["E0103"], "{ds:?}");
    let rel = &ds[0]["relatedInformation"][0];
    assert_eq!(rel["location"]["uri"], a.as_str());
    assert_eq!(
        rel["location"]["range"]["start"],
        json!({"line": 4, "character": 11})
    );
    assert_eq!(rel["message"], "first defined here");

    // a half-typed statement: a syntax error in b.npl only; a.npl, which
    // uses b's names, stays clean (b's last parse stands in for it)
    c.set(&b, 5, &format!("{B}namespace shop {{ allow web ->"));
    let ds = c.diagnostics_where(&b, |ds| codes(ds) == ["E0001"]);
    assert_eq!(ds.len(), 1);
    c.set(&b, 6, B);
    c.diagnostics_where(&b, |ds| ds.is_empty());

    // a file deleted under the server: its names are gone
    c.notify("textDocument/didClose", json!({"textDocument": {"uri": b}}));
    std::fs::remove_file(dir.join("b.npl")).unwrap();
    c.notify(
        "workspace/didChangeWatchedFiles",
        json!({"changes": [{"uri": b, "type": 3}]}),
    );
    let ds = c.diagnostics_where(&a, |ds| !ds.is_empty());
    assert_eq!(codes(&ds), vec!["E0101"], "{ds:?}");
    assert_eq!(c.stop(), 0);
}

#[test]
fn files_not_open_count_too() {
    // b.npl is never opened: it is read from the workspace
    let dir = workspace("disk", &[("a.npl", A), ("sub/b.npl", B)]);
    let mut c = Client::start(&dir, &[]);
    let a = c.open("a.npl");
    assert!(c.diagnostics_where(&a, |_| true).is_empty());
    // an unknown name in a.npl
    let (l, ch) = pos(A, "api:", 0);
    c.edit(&a, 2, (l, ch), (l, ch + 3), "db");
    let ds = c.diagnostics_where(&a, |ds| !ds.is_empty());
    assert_eq!(codes(&ds), vec!["E0101"]);
    // definition of a name declared in a file that is not open
    c.edit(&a, 3, (l, ch), (l, ch + 2), "api");
    let r = c.at("textDocument/definition", &a, l, ch + 1, json!({}));
    assert_eq!(r["result"]["uri"], uri(&dir, "sub/b.npl"));
    assert_eq!(
        r["result"]["range"]["start"],
        json!({"line": 2, "character": 11})
    );
    assert_eq!(c.stop(), 0);
}

#[test]
fn hover_definition_references_rename() {
    let dir = workspace("nav", &[("a.npl", A), ("b.npl", B)]);
    let mut c = Client::start(&dir, &[]);
    let a = c.open("a.npl");
    let b = c.open("b.npl");
    c.diagnostics_where(&a, |_| true);

    // hover on a name: its declaration and what it denotes
    let (l, ch) = pos(A, "api:", 1);
    let h = c.at("textDocument/hover", &a, l, ch, json!({}));
    let text = h["result"]["contents"]["value"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        text.contains("**workload** `api` in namespace `shop`"),
        "{text}"
    );
    assert!(text.contains("workload api = app=api"), "{text}");
    assert!(
        text.contains("denotes pods of namespace `shop` matching `app=api`"),
        "{text}"
    );
    assert!(text.contains("declared in `b.npl`, line 3"), "{text}");
    // on a stdlib name
    let (l, ch) = pos(A, "egress dns", 8);
    let h = c.at("textDocument/hover", &a, l, ch, json!({}));
    let text = h["result"]["contents"]["value"].as_str().unwrap();
    assert!(text.contains("(stdlib module `dns`)"), "{text}");
    assert!(
        text.contains(
            "pods of namespace `kube-system` matching `k8s-app=kube-dns`, on `udp/53, tcp/53`"
        ),
        "{text}"
    );
    // on a statement: the policy rules it produces (web's egress to api
    // is in its egress to every pod of `shop`, which b.npl's `allow
    // ingress web` produces: `nplc build` annotates the same)
    let (l, ch) = pos(A, "allow web", 0);
    let h = statement_hover(&mut c, &a, l, ch);
    let text = h["result"]["contents"]["value"].as_str().unwrap();
    assert_eq!(
        text,
        "**produces** 1 policy rule(s):\n\n- `shop/shop-api` ingress rule 1 of 1"
    );
    let (l, ch) = pos(B, "allow ingress", 3);
    let h = statement_hover(&mut c, &b, l, ch);
    let text = h["result"]["contents"]["value"].as_str().unwrap();
    assert!(
        text.contains("`shop/shop-web` egress rule 1 of 1"),
        "{text}"
    );
    assert!(
        text.contains("`shop/shop-default` ingress rule 1 of 1"),
        "{text}"
    );
    // on the posture: the namespace's policies
    let (l, ch) = pos(A, "default deny", 2);
    let h = statement_hover(&mut c, &a, l, ch);
    let text = h["result"]["contents"]["value"].as_str().unwrap();
    assert!(text.contains("**namespace `shop`**"), "{text}");

    // definition across files, and of a stdlib name
    let (l, ch) = pos(A, "api:", 0);
    let r = c.at("textDocument/definition", &a, l, ch, json!({}));
    assert_eq!(r["result"]["uri"], b.as_str());
    assert_eq!(
        r["result"]["range"],
        json!({"start": {"line": 2, "character": 11}, "end": {"line": 2, "character": 14}})
    );
    let (l, ch) = pos(A, "egress dns", 8);
    let r = c.at("textDocument/definition", &a, l, ch, json!({}));
    let target = r["result"]["uri"].as_str().unwrap();
    assert!(target.ends_with("/dns.npl"), "{r}");
    let path = target.strip_prefix("file://").unwrap();
    assert_eq!(
        std::fs::read_to_string(path).unwrap(),
        include_str!("../../stdlib/dns.npl")
    );
    let (l, ch) = pos(A, "use dns", 5);
    let r = c.at("textDocument/definition", &a, l, ch, json!({}));
    assert_eq!(r["result"]["uri"].as_str(), Some(target));

    // references of `web`: the declaration, its use in a.npl and in b.npl
    let (l, ch) = pos(A, "web =", 0);
    let r = c.at(
        "textDocument/references",
        &a,
        l,
        ch,
        json!({"context": {"includeDeclaration": true}}),
    );
    let locs: Vec<(String, u64)> = r["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            (
                x["uri"].as_str().unwrap().to_string(),
                x["range"]["start"]["line"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(locs, vec![(a.clone(), 4), (a.clone(), 6), (b.clone(), 3)]);

    // rename `web` to `frontend` everywhere
    let r = c.at("textDocument/prepareRename", &a, l, ch + 1, json!({}));
    assert_eq!(r["result"]["start"], json!({"line": 4, "character": 11}));
    let r = c.at(
        "textDocument/rename",
        &a,
        l,
        ch,
        json!({"newName": "frontend"}),
    );
    let changes = &r["result"]["changes"];
    assert_eq!(changes[&a].as_array().unwrap().len(), 2, "{r}");
    assert_eq!(changes[&b].as_array().unwrap().len(), 1, "{r}");
    assert_eq!(changes[&b][0]["newText"], "frontend");
    assert_eq!(
        changes[&b][0]["range"]["start"],
        json!({"line": 3, "character": 16})
    );
    // not to a keyword, and not a stdlib name
    let r = c.at(
        "textDocument/rename",
        &a,
        l,
        ch,
        json!({"newName": "allow"}),
    );
    assert!(
        r["error"]["message"]
            .as_str()
            .unwrap()
            .contains("is not a name"),
        "{r}"
    );
    let (l, ch) = pos(A, "egress dns", 8);
    let r = c.at("textDocument/prepareRename", &a, l, ch, json!({}));
    assert!(
        r["error"]["message"]
            .as_str()
            .unwrap()
            .contains("standard library"),
        "{r}"
    );
    assert_eq!(c.stop(), 0);
}

fn labels(r: &Value) -> Vec<String> {
    r["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["label"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn completion() {
    let pop = "apiVersion: v1\nkind: Pod\nmetadata: {name: p1, namespace: shop, labels: {app: cart, zone: z1}}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: w1, namespace: shop, labels: {app: web}}\n";
    let dir = workspace(
        "complete",
        &[
            ("a.npl", A),
            ("b.npl", B),
            ("pop.yaml", pop),
            ("nplc.toml", "population = \"pop.yaml\"\n"),
        ],
    );
    let mut c = Client::start(&dir, &[]);
    let a = c.open("a.npl");
    c.diagnostics_where(&a, |_| true);
    // with a population, hover on a selector and on a workload: the pods
    let (l, ch) = pos(A, "app=web", 1);
    let h = c.at("textDocument/hover", &a, l, ch, json!({}));
    assert_eq!(
        h["result"]["contents"]["value"],
        "**selector**: matches 1 pod(s) of the population: `shop/w1`"
    );
    let (l, ch) = pos(A, "allow web", 7);
    let h = c.at("textDocument/hover", &a, l, ch, json!({}));
    let text = h["result"]["contents"]["value"].as_str().unwrap();
    assert!(
        text.contains("matches 1 pod(s) of the population: `shop/w1`"),
        "{text}"
    );
    // stdlib modules after `use`
    c.set(&a, 2, &format!("use dns, \n{}", &A[8..]));
    let r = c.at("textDocument/completion", &a, 0, 9, json!({}));
    let l = labels(&r);
    assert!(
        l.contains(&"rfc1918".to_string()) && l.contains(&"k8s-ports".to_string()),
        "{l:?}"
    );
    // keywords and names where a statement starts
    c.set(
        &a,
        3,
        &A.replace("  allow egress dns\n", "  allow egress dns\n  \n"),
    );
    let r = c.at("textDocument/completion", &a, 6, 2, json!({}));
    let l = labels(&r);
    for want in [
        "allow", "deny", "isolate", "web", "api", "dns", "shop/", "app",
    ] {
        assert!(l.contains(&want.to_string()), "{want} not in {l:?}");
    }
    assert!(!l.contains(&"namespace".to_string()), "{l:?}");
    // at the top level
    let r = c.at("textDocument/completion", &a, 1, 0, json!({}));
    let l = labels(&r);
    assert!(
        l.contains(&"namespace".to_string()) && !l.contains(&"allow".to_string()),
        "{l:?}"
    );
    // label values of the program and of the population
    c.set(
        &a,
        4,
        &A.replace("  allow egress dns\n", "  allow egress dns\n  allow app=\n"),
    );
    let r = c.at("textDocument/completion", &a, 6, 12, json!({}));
    let l = labels(&r);
    for want in ["web", "api", "cart"] {
        assert!(l.contains(&want.to_string()), "{want} not in {l:?}");
    }
    // label keys of the population
    let r = c.at("textDocument/completion", &a, 6, 8, json!({}));
    assert!(labels(&r).contains(&"zone".to_string()));
    // codes in @silence(...)
    c.set(
        &a,
        5,
        &A.replace("  allow egress dns\n", "  allow egress dns\n  @silence(W\n"),
    );
    let r = c.at("textDocument/completion", &a, 6, 12, json!({}));
    let l = labels(&r);
    assert!(
        l.contains(&"W0706".to_string()) && !l.iter().any(|x| x.starts_with('E')),
        "{l:?}"
    );
    // names of a namespace after `NS/`
    c.set(
        &a,
        6,
        &A.replace(
            "  allow egress dns\n",
            "  allow egress dns\n  allow shop/\n",
        ),
    );
    let r = c.at("textDocument/completion", &a, 6, 13, json!({}));
    let l = labels(&r);
    assert!(
        l.contains(&"api".to_string()) && l.contains(&"web".to_string()),
        "{l:?}"
    );
    assert_eq!(c.stop(), 0);
}

/// Regression: a file opened with the text the server read from disk kept
/// its analysis; before, opening it started a new revision, and a code
/// action asked right away (as editors do on the published diagnostics)
/// found no fix until the next analysis (`lsp::code_actions` failed 2 runs
/// in 30 under load).
#[test]
fn opening_a_file_as_it_is_on_disk_keeps_its_fixes() {
    let text = "namespace shop {\n  default deny\n  allow app==web -> *\n}\n";
    let dir = workspace("reopen", &[("a.npl", text)]);
    let mut c = Client::start(&dir, &[]);
    let a = uri(&dir, "a.npl");
    // the analysis of the workspace as read from disk
    let ds = c.diagnostics_where(&a, |ds| !ds.is_empty());
    assert_eq!(codes(&ds), vec!["E0204"]);
    // opened with the same text, then asked at once
    c.open("a.npl");
    let r = c.request(
        "textDocument/codeAction",
        json!({"textDocument": {"uri": a}, "range": ds[0]["range"], "context": {"diagnostics": [ds[0]]}}),
    );
    let titles: Vec<&str> = r["result"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|x| x["title"].as_str())
        .collect();
    assert_eq!(titles, vec!["write `=` instead of `==`"]);
    assert_eq!(c.stop(), 0);
}

#[test]
fn code_actions() {
    let text = "namespace shop {\n  default deny\n  allow app==web -> *\n  allow egress 10.0.0.1/8:443\n}\n";
    let dir = workspace("fix", &[("a.npl", text)]);
    let mut c = Client::start(&dir, &[]);
    let a = c.open("a.npl");
    let ds = c.diagnostics_where(&a, |ds| !ds.is_empty());
    // the checker stops at the first errors: `==` and the host bits
    let mut titles = vec![];
    for d in &ds {
        let r = c.request(
            "textDocument/codeAction",
            json!({"textDocument": {"uri": a}, "range": d["range"], "context": {"diagnostics": [d]}}),
        );
        for act in r["result"].as_array().unwrap() {
            titles.push(act["title"].as_str().unwrap().to_string());
        }
    }
    titles.sort();
    assert_eq!(
        titles,
        vec![
            "match the one address `10.0.0.1/32`",
            "use the network address `10.0.0.0/8`",
            "write `=` instead of `==`",
        ],
        "{ds:?}"
    );
    // fixed, W0706 (egress isolated without DNS) is left, with its fix
    let fixed = "namespace shop {\n  default deny\n  allow app=web -> *\n  allow egress 10.0.0.0/8:443\n}\n";
    c.set(&a, 2, fixed);
    let ds = c.diagnostics_where(&a, |ds| codes(ds).contains(&"W0706".to_string()));
    let d = ds.iter().find(|d| d["code"] == "W0706").unwrap();
    assert_eq!(d["severity"], 2);
    let r = c.request(
        "textDocument/codeAction",
        json!({"textDocument": {"uri": a}, "range": d["range"], "context": {"diagnostics": [d]}}),
    );
    let act = &r["result"][0];
    assert_eq!(
        act["title"],
        "allow DNS: add `allow egress dns` to namespace `shop`"
    );
    let edits = act["edit"]["changes"][&a].as_array().unwrap();
    let new: Vec<&str> = edits
        .iter()
        .map(|e| e["newText"].as_str().unwrap())
        .collect();
    assert_eq!(new, vec!["use dns\n", "  allow egress dns\n"]);
    assert_eq!(c.stop(), 0);
}

#[test]
fn a_fault_answers_one_request() {
    let dir = workspace("fault", &[("a.npl", A), ("b.npl", B)]);
    let mut c = Client::start(&dir, &[("NPLC_LSP_TEST_FAULTS", "1")]);
    let a = c.open("a.npl");
    c.diagnostics_where(&a, |_| true);
    let r = c.request("nplc/fault", json!({}));
    assert_eq!(r["error"]["code"], -32603, "{r}");
    assert!(
        r["error"]["message"]
            .as_str()
            .unwrap()
            .contains("internal error"),
        "{r}"
    );
    // positions past the end, unknown files, unknown methods: answers, no crash
    let r = c.at("textDocument/hover", &a, 9999, 9999, json!({}));
    assert!(r.get("error").is_none(), "{r}");
    let r = c.at(
        "textDocument/definition",
        "file:///nowhere.npl",
        0,
        0,
        json!({}),
    );
    assert_eq!(r["result"], Value::Null);
    let r = c.request("textDocument/hover", json!({"bogus": 1}));
    assert_eq!(r["error"]["code"], -32602, "{r}");
    let r = c.request("nplc/unknown", json!({}));
    assert_eq!(r["error"]["code"], -32601, "{r}");
    // every kind of text: a NUL byte, a lone brace, 4-byte characters
    for (v, t) in ["\0", "}", "namespace 😀 {", "allow ->", "{{{{{{{{", ""]
        .iter()
        .enumerate()
    {
        c.set(&a, v as i64 + 2, t);
        let _ = c.at("textDocument/completion", &a, 0, 3, json!({}));
        let _ = c.at("textDocument/hover", &a, 0, 1, json!({}));
    }
    // still serving
    c.set(&a, 20, A);
    let (l, ch) = pos(A, "api:", 1);
    let h = c.at("textDocument/hover", &a, l, ch, json!({}));
    assert!(
        h["result"]["contents"]["value"]
            .as_str()
            .unwrap()
            .contains("app=api"),
        "{h}"
    );
    assert_eq!(c.stop(), 0);
}

#[test]
fn navigation_while_half_typed() {
    let dir = workspace("half", &[("a.npl", A), ("b.npl", B)]);
    let mut c = Client::start(&dir, &[]);
    let a = c.open("a.npl");
    c.diagnostics_where(&a, |_| true);
    // a statement being typed on a new line above `allow web -> api:8080`
    let (l, _) = pos(A, "allow egress dns", 0);
    c.edit(&a, 2, (l, 0), (l, 0), "  allow web ->\n");
    let ds = c.diagnostics_where(&a, |ds| !ds.is_empty());
    assert_eq!(codes(&ds), vec!["E0001"], "{ds:?}");
    // `api` moved one line down: hover and definition still find it
    let (l, ch) = pos(A, "api:", 1);
    let h = c.at("textDocument/hover", &a, l + 1, ch, json!({}));
    let text = h["result"]["contents"]["value"].as_str().unwrap_or("");
    assert!(text.contains("**workload** `api`"), "{h}");
    let r = c.at("textDocument/definition", &a, l + 1, ch, json!({}));
    assert_eq!(r["result"]["uri"], uri(&dir, "b.npl"), "{r}");
    // completion in the half-typed statement offers the names
    let r = c.at("textDocument/completion", &a, 5, 16, json!({}));
    let l = labels(&r);
    assert!(
        l.contains(&"api".to_string()) && l.contains(&"web".to_string()),
        "{l:?}"
    );
    assert_eq!(c.stop(), 0);
}

/// `text` with LSP text edits applied (ASCII text: columns are bytes).
fn apply_edits(text: &str, edits: &[Value]) -> String {
    let offset = |p: &Value| {
        let (l, c) = (
            p["line"].as_u64().unwrap(),
            p["character"].as_u64().unwrap(),
        );
        let start: usize = text
            .split_inclusive('\n')
            .take(l as usize)
            .map(str::len)
            .sum();
        start + c as usize
    };
    let mut spans: Vec<(usize, usize, &str)> = edits
        .iter()
        .map(|e| {
            (
                offset(&e["range"]["start"]),
                offset(&e["range"]["end"]),
                e["newText"].as_str().unwrap(),
            )
        })
        .collect();
    spans.sort_by_key(|s| std::cmp::Reverse(s.0));
    let mut out = text.to_string();
    for (a, b, t) in spans {
        out.replace_range(a..b, t);
    }
    out
}

#[test]
fn formatting() {
    let messy = "use dns\nnamespace shop{\n allow egress   dns\n    workload web=app=web # the front\n  default deny\n}\n";
    let dir = workspace("fmt", &[("a.npl", messy), ("b.npl", B)]);
    let mut c = Client::start(&dir, &[]);
    let a = c.open("a.npl");
    c.diagnostics_where(&a, |_| true);
    let fmt = json!({"textDocument": {"uri": a}, "options": {"tabSize": 2, "insertSpaces": true}});
    let r = c.request("textDocument/formatting", fmt.clone());
    let edits = r["result"].as_array().cloned().unwrap_or_default();
    assert!(!edits.is_empty(), "{r}");
    let formatted = apply_edits(messy, &edits);
    let expected = nplc::syntax::fmt::format_source(nplc::source::FileId(0), messy).unwrap();
    assert_eq!(formatted, expected);
    assert_ne!(formatted, messy);
    // formatted already: no edit
    c.set(&a, 2, &formatted);
    let r = c.request("textDocument/formatting", fmt.clone());
    assert_eq!(r["result"], json!([]), "{r}");
    // a file that does not parse: no edit, and no error
    c.set(&a, 3, "namespace shop {\n  allow ->\n");
    let r = c.request("textDocument/formatting", fmt);
    assert!(r.get("error").is_none(), "{r}");
    assert_eq!(r["result"], json!([]), "{r}");
    assert_eq!(c.stop(), 0);
}

/// The server analyses for the project's target (`target` in nplc.toml):
/// for the cilium target, a namespace label selector on an egress side is
/// written natively (no E0501, which the k8s target reports), and a named
/// port towards pods whose ingress is not decided is refused (E0503).
#[test]
fn analyses_for_the_projects_target() {
    const LABELS: &str =
        "namespace app {\n  default deny\n}\n\nnamespace ops {\n  default deny\n  allow {team=ops}/* -> world:443\n}\n";
    // the k8s target (no project file): E0501
    let dir = workspace("target-k8s", &[("a.npl", LABELS)]);
    let mut c = Client::start(&dir, &[]);
    let a = c.open("a.npl");
    let ds = c.diagnostics_where(&a, |ds| !ds.is_empty());
    assert!(codes(&ds).contains(&"E0501".to_string()), "{ds:?}");
    assert_eq!(c.stop(), 0);

    let dir = workspace(
        "target-cilium",
        &[("nplc.toml", "target = \"cilium\"\n"), ("a.npl", LABELS)],
    );
    let mut c = Client::start(&dir, &[]);
    let a = c.open("a.npl");
    // no E0501 (no error at all): the label selector is written natively
    let errors = |ds: &[Value]| ds.iter().filter(|d| d["severity"] == 1).count();
    let ds = c.diagnostics_where(&a, |_| true);
    assert_eq!(errors(&ds), 0, "{ds:?}");
    let clean = codes(&ds);
    // a statement's hover says what the target writes
    let (l, ch) = pos(LABELS, "allow {team", 2);
    let h = statement_hover(&mut c, &a, l, ch);
    let text = h["result"]["contents"]["value"].as_str().unwrap_or("");
    assert!(text.contains("cilium target"), "{h}");
    // a named port towards another namespace's pods: E0503, then gone
    let refused = format!("{LABELS}namespace b {{\n  allow egress other/app=x:http\n}}\n");
    c.set(&a, 2, &refused);
    let ds = c.diagnostics_where(&a, |ds| codes(ds).contains(&"E0503".to_string()));
    assert_eq!(errors(&ds), 1, "{ds:?}");
    c.set(&a, 3, LABELS);
    let ds = c.diagnostics_where(&a, |ds| !codes(ds).contains(&"E0503".to_string()));
    assert_eq!(codes(&ds), clean);
    assert_eq!(c.stop(), 0);
}
