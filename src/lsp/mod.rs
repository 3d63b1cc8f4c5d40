//! `nplc lsp`: the language server (docs/editors.md). Input: JSON-RPC
//! messages on standard input (the Language Server Protocol, through
//! `lsp-server`). Output: answers and published diagnostics on standard
//! output; a log on standard error.
//!
//! The server reads the workspace (the sources of the `nplc.toml` above
//! the workspace folder, else every `.npl` file under it) and keeps every
//! file parsed: an edit parses that file again, and no other
//! (`index.rs` keeps each file's names, built once per parse). The stages
//! after parsing run on a thread of their own (`analysis.rs`) for the whole
//! program, so that an edit in one file adds or clears diagnostics in
//! another, but incrementally (what an edit does not touch comes from the
//! last run); edits that arrive while it runs are taken together by the
//! next run. Hover, definitions, references, rename and completion answer from
//! the main thread at once, from the parse of the current text.
//!
//! A request whose handler fails answers with an error, and the server
//! goes on; the handlers do not panic on any text or position (positions
//! are clamped, `text.rs`), and each runs under `catch_unwind` as a last
//! line.

mod actions;
mod analysis;
mod complete;
mod index;
mod text;

use analysis::{Analyzed, FileState, Published, Update, Worker};
use index::{FileIndex, Index, Kind, Target, STD_BASE};
use lsp_server::{Connection, ErrorCode, Message, Notification, Request, RequestId, Response};
use lsp_types::{
    CodeAction, CodeActionKind, CodeActionOrCommand, CodeActionParams, CompletionOptions,
    CompletionParams, DidChangeTextDocumentParams, DidChangeWatchedFilesParams,
    DidCloseTextDocumentParams, DidOpenTextDocumentParams, FileChangeType, GotoDefinitionParams,
    Hover, HoverContents, HoverParams, HoverProviderCapability, InitializeParams, Location,
    MarkupContent, MarkupKind, OneOf, PrepareRenameResponse, PublishDiagnosticsParams, Range,
    ReferenceParams, RenameOptions, RenameParams, ServerCapabilities, TextDocumentPositionParams,
    TextDocumentSyncCapability, TextDocumentSyncKind, TextDocumentSyncOptions, TextEdit, Url,
    WorkspaceEdit,
};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc};
use std::time::Instant;
use text::LineIndex;

use crate::diag::Diagnostic;
use crate::source::{FileId, Span};
use crate::syntax::ast;

/// Serves the protocol on standard input and output until the client
/// says `exit` (or closes the pipe).
pub fn run_stdio() -> Result<(), String> {
    let (conn, io) = Connection::stdio();
    serve(conn)?;
    io.join().map_err(|e| e.to_string())
}

enum Event {
    Msg(Message),
    Analyzed(Box<Analyzed>),
    /// The statements' policies of an analysis, after its diagnostics.
    Info(Box<Analyzed>),
    Failed(u64, String),
    Disconnected,
}

struct Job {
    generation: u64,
    /// The target to analyse for: the project's (docs/targets.md).
    target: crate::emit::Target,
    updates: Vec<Update>,
}

/// Serves one connection (standard I/O, or a channel in tests).
pub fn serve(conn: Connection) -> Result<(), String> {
    let (id, params) = conn.initialize_start().map_err(|e| e.to_string())?;
    let init: InitializeParams = serde_json::from_value(params).unwrap_or_default();
    let result = json!({
        "capabilities": capabilities(),
        "serverInfo": {"name": "nplc", "version": env!("CARGO_PKG_VERSION")},
    });
    conn.initialize_finish(id, result)
        .map_err(|e| e.to_string())?;

    let (tx, rx) = mpsc::channel::<Event>();
    let incoming = conn.receiver.clone();
    let to_main = tx.clone();
    std::thread::spawn(move || {
        for m in incoming {
            if to_main.send(Event::Msg(m)).is_err() {
                return;
            }
        }
        let _ = to_main.send(Event::Disconnected);
    });
    let std_uris = materialize_stdlib();
    let (jobs_tx, jobs_rx) = mpsc::channel::<Job>();
    let worker_uris = std_uris.clone();
    std::thread::spawn(move || analysis_loop(jobs_rx, tx, worker_uris));

    let mut s = Server::new(conn, jobs_tx, std_uris);
    s.load_workspace(&init);
    s.flush();
    while let Ok(ev) = rx.recv() {
        let mut next = Some(ev);
        // take every event already waiting before analysing again
        while let Some(ev) = next {
            if !s.event(ev) {
                return Ok(());
            }
            next = rx.try_recv().ok();
        }
        s.flush();
    }
    Ok(())
}

fn capabilities() -> ServerCapabilities {
    ServerCapabilities {
        text_document_sync: Some(TextDocumentSyncCapability::Options(
            TextDocumentSyncOptions {
                open_close: Some(true),
                change: Some(TextDocumentSyncKind::INCREMENTAL),
                ..TextDocumentSyncOptions::default()
            },
        )),
        hover_provider: Some(HoverProviderCapability::Simple(true)),
        definition_provider: Some(OneOf::Left(true)),
        references_provider: Some(OneOf::Left(true)),
        rename_provider: Some(OneOf::Right(RenameOptions {
            prepare_provider: Some(true),
            work_done_progress_options: Default::default(),
        })),
        completion_provider: Some(CompletionOptions {
            trigger_characters: Some(
                ["(", "/", "=", ",", ":", " "]
                    .iter()
                    .map(|s| s.to_string())
                    .collect(),
            ),
            ..CompletionOptions::default()
        }),
        document_formatting_provider: Some(OneOf::Left(true)),
        code_action_provider: Some(lsp_types::CodeActionProviderCapability::Options(
            lsp_types::CodeActionOptions {
                code_action_kinds: Some(vec![CodeActionKind::QUICKFIX]),
                ..Default::default()
            },
        )),
        ..ServerCapabilities::default()
    }
}

/// How long the analysis thread waits for another edit before it works
/// out what each statement produces (for hover): that takes about as long
/// as an incremental run, and a person typing wants the diagnostics first.
const INFO_AFTER: std::time::Duration = std::time::Duration::from_millis(150);

fn analysis_loop(
    jobs: mpsc::Receiver<Job>,
    tx: mpsc::Sender<Event>,
    std_uris: BTreeMap<String, Url>,
) {
    let mut w = Worker::new(std_uris);
    let mut waiting: Option<Job> = None;
    loop {
        let job = match waiting.take() {
            Some(j) => j,
            None => match jobs.recv() {
                Ok(j) => j,
                Err(_) => return,
            },
        };
        let mut generation = job.generation;
        w.set_target(job.target);
        for u in job.updates {
            w.apply(u);
        }
        while let Ok(more) = jobs.try_recv() {
            generation = more.generation;
            w.set_target(more.target);
            for u in more.updates {
                w.apply(u);
            }
        }
        let (ev, garbage) = match catch_unwind(AssertUnwindSafe(|| w.run(generation))) {
            Ok((a, outcome)) => (Event::Analyzed(Box::new(a)), Some(outcome)),
            Err(e) => (Event::Failed(generation, panic_message(&e)), None),
        };
        let pending = matches!(&ev, Event::Analyzed(a) if a.info_pending);
        if tx.send(ev).is_err() {
            return;
        }
        // freed beside the next run: freeing a large program takes a
        // tenth of its analysis (see `cli::exit_without_freeing`)
        std::thread::spawn(move || drop(garbage));
        // an edit that comes soon (a person typing) comes first: its run
        // sends the info
        waiting = match jobs.recv_timeout(INFO_AFTER) {
            Ok(j) => Some(j),
            Err(mpsc::RecvTimeoutError::Timeout) => None,
            Err(mpsc::RecvTimeoutError::Disconnected) => return,
        };
        if pending && waiting.is_none() {
            if let Ok(Some(info)) = catch_unwind(AssertUnwindSafe(|| w.info(generation))) {
                if tx.send(Event::Info(Box::new(info))).is_err() {
                    return;
                }
            }
        }
    }
}

fn panic_message(e: &Box<dyn std::any::Any + Send>) -> String {
    e.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| e.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown fault".into())
}

/// Writes the stdlib modules where an editor can open them (go to
/// definition of `dns`), once per version of nplc.
fn materialize_stdlib() -> BTreeMap<String, Url> {
    let dir = std::env::temp_dir().join(format!("nplc-stdlib-{}", env!("CARGO_PKG_VERSION")));
    let mut out = BTreeMap::new();
    if std::fs::create_dir_all(&dir).is_err() {
        return out;
    }
    for (name, text) in crate::stdlib::MODULES {
        let p = dir.join(format!("{name}.npl"));
        let same = std::fs::read_to_string(&p).is_ok_and(|t| t == *text);
        if (same || std::fs::write(&p, text).is_ok()) && p.is_absolute() {
            if let Ok(u) = Url::from_file_path(&p) {
                out.insert(name.to_string(), u);
            }
        }
    }
    out
}

/// One file of the workspace.
struct Doc {
    uri: Url,
    name: String,
    text: Arc<String>,
    lines: LineIndex,
    rev: u64,
    /// The editor has it open (its text is the editor's, not the disk's).
    open: bool,
    version: Option<i32>,
    /// Read from the disk as one of the sources.
    on_disk: bool,
    ast: Option<ast::File>,
    fresh: bool,
    syntax: Option<Diagnostic>,
    index: Arc<FileIndex>,
}

/// What the last analysis said about statements, for hover.
#[derive(Default)]
struct StatementInfo {
    /// The analysis it is of.
    generation: u64,
    /// Its statements' policies are in (they come after its diagnostics).
    ready: bool,
    revs: BTreeMap<usize, u64>,
    statements: BTreeMap<(usize, usize, usize), Vec<String>>,
    namespaces: BTreeMap<String, Vec<String>>,
    /// The target analysed for (the cilium target compiles no deny).
    target: crate::emit::Target,
}

struct Server {
    conn: Connection,
    jobs: mpsc::Sender<Job>,
    root: Option<PathBuf>,
    project: Option<crate::project::Project>,
    docs: Vec<Option<Doc>>,
    by_uri: HashMap<Url, usize>,
    std: Vec<(FileId, &'static str, &'static str, Arc<FileIndex>)>,
    std_uris: BTreeMap<String, Url>,
    index: Option<Index>,
    generation: u64,
    pending: Vec<Update>,
    /// What was last published for each slot (and to which URI).
    published: HashMap<usize, (Url, Vec<lsp_types::Diagnostic>)>,
    /// Slots whose diagnostics are published after the next analysis even
    /// when unchanged (opened or edited: the editor waits for them).
    announce: HashSet<usize>,
    fixes: HashMap<usize, (u64, Vec<Published>)>,
    info: StatementInfo,
    /// Label keys and values of the population's pods and namespaces.
    population_labels: BTreeMap<String, BTreeSet<String>>,
    population: Option<crate::population::Population>,
    shutdown: bool,
    /// `NPLC_LSP_TEST_FAULTS`: the `nplc/fault` request fails on purpose
    /// (tests/it/lsp.rs shows that the server goes on serving).
    faults: bool,
    /// `NPLC_LSP_LOG`: a line on standard error per analysis.
    log: bool,
    edited_at: Option<Instant>,
}

fn norm(uri: &Url) -> Url {
    if uri.scheme() == "file" {
        if let Ok(p) = uri.to_file_path() {
            if let Ok(u) = Url::from_file_path(p) {
                return u;
            }
        }
    }
    uri.clone()
}

type Answer = Result<Value, (ErrorCode, String)>;

fn to_value<T: serde::Serialize>(v: T) -> Answer {
    serde_json::to_value(v).map_err(|e| (ErrorCode::InternalError, e.to_string()))
}

fn params<T: serde::de::DeserializeOwned>(v: Value) -> Result<T, (ErrorCode, String)> {
    serde_json::from_value(v).map_err(|e| (ErrorCode::InvalidParams, e.to_string()))
}

impl Server {
    fn new(conn: Connection, jobs: mpsc::Sender<Job>, std_uris: BTreeMap<String, Url>) -> Server {
        Server {
            conn,
            jobs,
            root: None,
            project: None,
            docs: Vec::new(),
            by_uri: HashMap::new(),
            std: index::stdlib_files(),
            std_uris,
            index: None,
            generation: 0,
            pending: Vec::new(),
            published: HashMap::new(),
            announce: HashSet::new(),
            fixes: HashMap::new(),
            info: StatementInfo::default(),
            population_labels: BTreeMap::new(),
            population: None,
            shutdown: false,
            faults: std::env::var_os("NPLC_LSP_TEST_FAULTS").is_some(),
            log: std::env::var_os("NPLC_LSP_LOG").is_some(),
            edited_at: None,
        }
    }

    fn send(&self, m: Message) {
        let _ = self.conn.sender.send(m);
    }

    fn notify(&self, method: &str, params: impl serde::Serialize) {
        if let Ok(p) = serde_json::to_value(params) {
            self.send(Message::Notification(Notification::new(
                method.to_string(),
                p,
            )));
        }
    }

    fn show(&self, kind: lsp_types::MessageType, message: String) {
        eprintln!("nplc lsp: {message}");
        self.notify(
            "window/showMessage",
            lsp_types::ShowMessageParams { typ: kind, message },
        );
    }

    /// Handles one event; `false` when the server is to stop.
    fn event(&mut self, ev: Event) -> bool {
        match ev {
            Event::Msg(Message::Request(r)) => self.request(r),
            Event::Msg(Message::Notification(n)) => {
                if n.method == "exit" {
                    return false;
                }
                let method = n.method.clone();
                if let Err(e) = catch_unwind(AssertUnwindSafe(|| self.notification(n))) {
                    eprintln!(
                        "nplc lsp: internal error in `{method}`: {}",
                        panic_message(&e)
                    );
                }
            }
            Event::Msg(Message::Response(_)) => {}
            Event::Analyzed(a) => self.analyzed(*a),
            Event::Info(a) => {
                if a.generation == self.info.generation {
                    self.info.statements = a.statements;
                    self.info.namespaces = a.namespaces;
                    self.info.ready = true;
                }
            }
            Event::Failed(g, m) => {
                eprintln!("nplc lsp: internal error in the analysis of generation {g}: {m}")
            }
            Event::Disconnected => return false,
        }
        true
    }

    fn request(&mut self, r: Request) {
        let id: RequestId = r.id.clone();
        let method = r.method.clone();
        let answer = if self.shutdown {
            Err((
                ErrorCode::InvalidRequest,
                "the server is shutting down".to_string(),
            ))
        } else {
            match catch_unwind(AssertUnwindSafe(|| self.dispatch(r))) {
                Ok(a) => a,
                Err(e) => Err((
                    ErrorCode::InternalError,
                    format!("internal error in `{method}`: {}", panic_message(&e)),
                )),
            }
        };
        let resp = match answer {
            Ok(v) => Response::new_ok(id, v),
            Err((code, msg)) => {
                if matches!(code, ErrorCode::InternalError) {
                    eprintln!("nplc lsp: {msg}");
                }
                Response::new_err(id, code as i32, msg)
            }
        };
        self.send(Message::Response(resp));
    }

    fn dispatch(&mut self, r: Request) -> Answer {
        match r.method.as_str() {
            "shutdown" => {
                self.shutdown = true;
                Ok(Value::Null)
            }
            "textDocument/hover" => {
                let p: HoverParams = params(r.params)?;
                to_value(self.hover(&p.text_document_position_params))
            }
            "textDocument/definition" => {
                let p: GotoDefinitionParams = params(r.params)?;
                to_value(self.definition(&p.text_document_position_params))
            }
            "textDocument/references" => {
                let p: ReferenceParams = params(r.params)?;
                to_value(self.references(&p.text_document_position, p.context.include_declaration))
            }
            "textDocument/prepareRename" => {
                let p: TextDocumentPositionParams = params(r.params)?;
                self.prepare_rename(&p).and_then(to_value)
            }
            "textDocument/rename" => {
                let p: RenameParams = params(r.params)?;
                self.rename(&p).and_then(to_value)
            }
            "textDocument/completion" => {
                let p: CompletionParams = params(r.params)?;
                to_value(self.completion(&p.text_document_position))
            }
            "textDocument/codeAction" => {
                let p: CodeActionParams = params(r.params)?;
                to_value(self.code_actions(&p))
            }
            "textDocument/formatting" => {
                let p: lsp_types::DocumentFormattingParams = params(r.params)?;
                to_value(self.formatting(&p.text_document.uri))
            }
            "nplc/fault" if self.faults => fault(),
            m => Err((ErrorCode::MethodNotFound, format!("`{m}` is not supported"))),
        }
    }

    fn notification(&mut self, n: Notification) {
        match n.method.as_str() {
            "textDocument/didOpen" => {
                if let Ok(p) = serde_json::from_value::<DidOpenTextDocumentParams>(n.params) {
                    let d = p.text_document;
                    self.open(&d.uri, d.text, Some(d.version));
                }
            }
            "textDocument/didChange" => {
                if let Ok(p) = serde_json::from_value::<DidChangeTextDocumentParams>(n.params) {
                    self.change(p);
                }
            }
            "textDocument/didClose" => {
                if let Ok(p) = serde_json::from_value::<DidCloseTextDocumentParams>(n.params) {
                    self.close(&p.text_document.uri);
                }
            }
            "workspace/didChangeWatchedFiles" => {
                if let Ok(p) = serde_json::from_value::<DidChangeWatchedFilesParams>(n.params) {
                    for c in p.changes {
                        self.disk_change(&c.uri, c.typ);
                    }
                }
            }
            _ => {}
        }
    }

    // ------------------------------------------------------------ the files

    fn load_workspace(&mut self, init: &InitializeParams) {
        #[allow(deprecated)]
        let root = init
            .workspace_folders
            .iter()
            .flatten()
            .map(|f| f.uri.clone())
            .next()
            .or_else(|| init.root_uri.clone())
            .and_then(|u| u.to_file_path().ok());
        let Some(root) = root else { return };
        let mut paths = vec![root.clone()];
        if let Some(file) = crate::project::find(&root) {
            match crate::project::load(&file) {
                Ok(p) => {
                    paths = p.sources.iter().map(|s| absolute(s)).collect();
                    if let Some(pop) = &p.population {
                        self.load_population(&absolute(pop));
                    }
                    self.project = Some(p);
                }
                Err(crate::project::ProjectError::Io(m)) => {
                    self.show(lsp_types::MessageType::ERROR, m)
                }
                Err(crate::project::ProjectError::Malformed {
                    sources,
                    diagnostic,
                }) => {
                    let loc = diagnostic
                        .primary
                        .map(|s| sources.location(s))
                        .unwrap_or_default();
                    self.show(
                        lsp_types::MessageType::ERROR,
                        format!("{loc}: {}", diagnostic.message),
                    )
                }
            }
        }
        self.root = Some(root);
        let started = Instant::now();
        let inputs = match crate::driver::read_inputs(&paths) {
            Ok(i) => i,
            Err(e) => {
                // a workspace without `.npl` files yet: the editor's files only
                eprintln!("nplc lsp: {}", e.0);
                vec![]
            }
        };
        for i in inputs {
            let path = absolute(Path::new(&i.name));
            let Ok(uri) = Url::from_file_path(&path) else {
                continue;
            };
            let slot = self.slot(&uri);
            if let Some(Some(d)) = self.docs.get_mut(slot) {
                d.on_disk = true;
            }
            self.set_text(slot, i.text, None);
        }
        if self.log {
            eprintln!(
                "nplc lsp: read and parsed {} files in {:.1} ms",
                self.docs.len(),
                started.elapsed().as_secs_f64() * 1000.0
            );
        }
    }

    fn load_population(&mut self, path: &Path) {
        let pop = std::fs::read_to_string(path)
            .map_err(|e| crate::diag::io_msg(&e))
            .and_then(|t| crate::population::load_population(&t).map_err(|e| e.to_string()));
        match pop {
            Ok(p) => {
                for pod in &p.pods {
                    for (k, v) in &pod.labels {
                        self.population_labels
                            .entry(k.clone())
                            .or_default()
                            .insert(v.clone());
                    }
                }
                for ns in p.namespaces.values() {
                    for (k, v) in &ns.labels {
                        self.population_labels
                            .entry(k.clone())
                            .or_default()
                            .insert(v.clone());
                    }
                }
                self.population = Some(p);
            }
            Err(e) => self.show(
                lsp_types::MessageType::WARNING,
                format!("population `{}`: {e}", path.display()),
            ),
        }
    }

    /// The slot of a URI, a new one for a new file.
    fn slot(&mut self, uri: &Url) -> usize {
        let uri = norm(uri);
        if let Some(s) = self.by_uri.get(&uri) {
            return *s;
        }
        let slot = self.docs.len();
        let name = self.name_of(&uri);
        self.docs.push(Some(Doc {
            uri: uri.clone(),
            name,
            text: Arc::new(String::new()),
            lines: LineIndex::default(),
            rev: 0,
            open: false,
            version: None,
            on_disk: false,
            ast: None,
            fresh: false,
            syntax: None,
            index: Arc::new(FileIndex::default()),
        }));
        self.by_uri.insert(uri, slot);
        slot
    }

    /// The name diagnostics give a file: its path relative to the workspace.
    fn name_of(&self, uri: &Url) -> String {
        let Ok(p) = uri.to_file_path() else {
            return uri.to_string();
        };
        let rel = self
            .root
            .as_ref()
            .and_then(|r| p.strip_prefix(r).ok())
            .unwrap_or(&p);
        rel.to_string_lossy().replace('\\', "/")
    }

    /// Sets a file's text and parses it (the only place that parses).
    fn set_text(&mut self, slot: usize, text: String, version: Option<i32>) {
        self.set_text_edited(slot, text, version, None)
    }

    /// [`Server::set_text`] after `edits` (start, end, new length) of the
    /// old text: when the new text does not parse, the file's index is
    /// moved along the edits, so that hover and definition keep working
    /// while a statement is half typed.
    fn set_text_edited(
        &mut self,
        slot: usize,
        text: String,
        version: Option<i32>,
        edits: Option<&[(usize, usize, usize)]>,
    ) {
        let Some(Some(d)) = self.docs.get_mut(slot) else {
            return;
        };
        d.version = version.or(d.version);
        if d.rev > 0 && *d.text == text {
            // the same text again (a file opened as it is on disk): what
            // was analysed still holds, and so do its fixes (a new
            // revision would make code actions wait for the next analysis)
            return;
        }
        d.lines = LineIndex::new(&text);
        d.text = Arc::new(text);
        d.rev += 1;
        match crate::syntax::parse_file(FileId(slot), &d.text) {
            Ok(f) => {
                d.index = Arc::new(index::index_file(&f, &d.text, None));
                d.ast = Some(f);
                d.fresh = true;
                d.syntax = None;
            }
            Err(e) => {
                d.index = match edits {
                    Some(es) => Arc::new(d.index.shifted(es)),
                    // a whole new text: the names it declared stay
                    // declared (for the other files), but no use is
                    // known to be where it was
                    None => Arc::new(FileIndex {
                        refs: vec![],
                        statements: vec![],
                        selectors: vec![],
                        ..(*d.index).clone()
                    }),
                };
                d.fresh = false;
                d.syntax = Some(e);
            }
        }
        // the name index: the file's part replaced when that is all that
        // changes (hover and definition then answer at once), else built
        // again at the next request
        let new = d.index.clone();
        if !self.index.as_mut().is_some_and(|ix| ix.replace(new)) {
            self.index = None;
        }
        self.pending.push(Update {
            slot,
            state: Some(FileState {
                name: d.name.clone(),
                uri: d.uri.clone(),
                text: d.text.clone(),
                rev: d.rev,
                ast: d.ast.clone(),
                fresh: d.fresh,
                syntax: d.syntax.clone(),
            }),
        });
    }

    fn remove(&mut self, slot: usize) {
        let Some(d) = self.docs.get_mut(slot).and_then(Option::take) else {
            return;
        };
        self.by_uri.remove(&d.uri);
        self.index = None;
        self.fixes.remove(&slot);
        self.pending.push(Update { slot, state: None });
        if let Some((uri, ds)) = self.published.remove(&slot) {
            if !ds.is_empty() {
                self.publish(uri, vec![], None);
            }
        }
    }

    fn open(&mut self, uri: &Url, text: String, version: Option<i32>) {
        let slot = self.slot(uri);
        if let Some(Some(d)) = self.docs.get_mut(slot) {
            d.open = true;
        }
        self.announce.insert(slot);
        self.edited_at = Some(Instant::now());
        self.set_text(slot, text, version);
    }

    fn change(&mut self, p: DidChangeTextDocumentParams) {
        let uri = norm(&p.text_document.uri);
        let Some(&slot) = self.by_uri.get(&uri) else {
            return;
        };
        let Some(Some(d)) = self.docs.get(slot) else {
            return;
        };
        let mut t = d.text.as_str().to_string();
        let mut edits = Some(Vec::new());
        for c in p.content_changes {
            t = match c.range {
                Some(r) => {
                    let (span, new) = text::apply_edit_span(&t, r, &c.text);
                    if let Some(es) = &mut edits {
                        es.push((span.0, span.1, c.text.len()));
                    }
                    new
                }
                None => {
                    edits = None;
                    c.text
                }
            };
        }
        self.announce.insert(slot);
        self.edited_at = Some(Instant::now());
        self.set_text_edited(slot, t, Some(p.text_document.version), edits.as_deref());
    }

    fn close(&mut self, uri: &Url) {
        let uri = norm(uri);
        let Some(&slot) = self.by_uri.get(&uri) else {
            return;
        };
        let on_disk = match self.docs.get_mut(slot) {
            Some(Some(d)) => {
                d.open = false;
                d.version = None;
                d.on_disk
            }
            _ => return,
        };
        // back to the disk's text; a file that is not a source goes
        let text = uri
            .to_file_path()
            .ok()
            .and_then(|p| std::fs::read_to_string(p).ok());
        match (on_disk, text) {
            (true, Some(t)) => {
                if self.docs[slot].as_ref().is_some_and(|d| *d.text != t) {
                    self.set_text(slot, t, None);
                }
            }
            _ => self.remove(slot),
        }
    }

    fn disk_change(&mut self, uri: &Url, typ: FileChangeType) {
        let uri = norm(uri);
        let Ok(path) = uri.to_file_path() else { return };
        let slot = self.by_uri.get(&uri).copied();
        let open = slot
            .and_then(|s| self.docs.get(s))
            .and_then(|d| d.as_ref())
            .is_some_and(|d| d.open);
        if open {
            return;
        }
        if typ == FileChangeType::DELETED {
            if let Some(s) = slot {
                self.remove(s);
            }
            return;
        }
        let is_source = path.extension().is_some_and(|e| e == "npl")
            && self.source_paths().iter().any(|s| path.starts_with(s));
        if slot.is_none() && !is_source {
            return;
        }
        match std::fs::read_to_string(&path) {
            Ok(t) => {
                let s = self.slot(&uri);
                if let Some(Some(d)) = self.docs.get_mut(s) {
                    d.on_disk = true;
                }
                self.set_text(s, t, None);
            }
            Err(_) => {
                if let Some(s) = slot {
                    self.remove(s);
                }
            }
        }
    }

    fn source_paths(&self) -> Vec<PathBuf> {
        match &self.project {
            Some(p) => p.sources.iter().map(|s| absolute(s)).collect(),
            None => self.root.iter().cloned().collect(),
        }
    }

    /// Sends the edits since the last analysis to the analysis thread.
    fn flush(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        self.generation += 1;
        let job = Job {
            generation: self.generation,
            target: self
                .project
                .as_ref()
                .and_then(|p| p.target)
                .unwrap_or_default(),
            updates: std::mem::take(&mut self.pending),
        };
        let _ = self.jobs.send(job);
    }

    fn analyzed(&mut self, a: Analyzed) {
        if self.log {
            let r = a.reuse;
            eprintln!(
                "nplc lsp: analysis {} in {:.1} ms ({:.1} ms after the edit; lowered {} of {} files, compiled {} of {} namespaces)",
                a.generation,
                a.elapsed.as_secs_f64() * 1000.0,
                self.edited_at
                    .map(|t| t.elapsed().as_secs_f64() * 1000.0)
                    .unwrap_or(0.0),
                r.lowered,
                r.files,
                r.compiled,
                r.namespaces,
            );
        }
        for (slot, ds) in a.diagnostics {
            let Some(Some(d)) = self.docs.get(slot) else {
                continue;
            };
            if a.revs.get(&slot) != Some(&d.rev) {
                // edited since: the next run answers for it
                continue;
            }
            let diags: Vec<lsp_types::Diagnostic> =
                ds.iter().map(|p| p.diagnostic.clone()).collect();
            let changed = self.published.get(&slot).map(|p| &p.1) != Some(&diags);
            if changed || self.announce.remove(&slot) {
                let (uri, version) = (d.uri.clone(), if d.open { d.version } else { None });
                self.publish(uri.clone(), diags.clone(), version);
                self.published.insert(slot, (uri, diags));
            }
            self.fixes.insert(slot, (d.rev, ds));
        }
        self.info = StatementInfo {
            generation: a.generation,
            ready: !a.info_pending,
            revs: a.revs,
            statements: a.statements,
            namespaces: a.namespaces,
            target: a.target,
        };
    }

    fn publish(&self, uri: Url, diagnostics: Vec<lsp_types::Diagnostic>, version: Option<i32>) {
        self.notify(
            "textDocument/publishDiagnostics",
            PublishDiagnosticsParams {
                uri,
                diagnostics,
                version,
            },
        );
    }

    // ---------------------------------------------------------- the features

    /// The index of every file (built again after an edit, from the files'
    /// own indexes).
    fn index(&mut self) -> &Index {
        let (docs, std) = (&self.docs, &self.std);
        self.index.get_or_insert_with(|| {
            let mut files: Vec<&Doc> = docs.iter().flatten().collect();
            files.sort_by(|a, b| a.name.cmp(&b.name));
            let all = files
                .into_iter()
                .map(|d| d.index.clone())
                .chain(std.iter().map(|s| s.3.clone()));
            Index::build(all)
        })
    }

    fn at(&self, p: &TextDocumentPositionParams) -> Option<(usize, usize)> {
        let slot = *self.by_uri.get(&norm(&p.text_document.uri))?;
        let d = self.docs.get(slot)?.as_ref()?;
        Some((slot, d.lines.offset(&d.text, p.position)))
    }

    /// The text of a file of the index (a workspace file or a stdlib module).
    fn text_of(&self, file: FileId) -> Option<(&str, Option<&LineIndex>, Url)> {
        if file.0 >= STD_BASE {
            let (_, name, text, _) = self.std.iter().find(|s| s.0 == file)?;
            Some((text, None, self.std_uris.get(*name)?.clone()))
        } else {
            let d = self.docs.get(file.0)?.as_ref()?;
            Some((&d.text, Some(&d.lines), d.uri.clone()))
        }
    }

    fn location(&self, s: Span) -> Option<Location> {
        let (text, lines, uri) = self.text_of(s.file)?;
        let range = match lines {
            Some(l) => l.range(text, s.start, s.end),
            None => LineIndex::new(text).range(text, s.start, s.end),
        };
        Some(Location::new(uri, range))
    }

    fn range(&self, s: Span) -> Option<Range> {
        self.location(s).map(|l| l.range)
    }

    fn hover(&mut self, p: &TextDocumentPositionParams) -> Option<Hover> {
        let (slot, offset) = self.at(p)?;
        let found = self.index().at(FileId(slot), offset);
        if let Some((t, span)) = found {
            let text = self.describe(&t)?;
            return Some(Hover {
                contents: HoverContents::Markup(MarkupContent {
                    kind: MarkupKind::Markdown,
                    value: text,
                }),
                range: self.range(span),
            });
        }
        let d = self.docs.get(slot)?.as_ref()?;
        // a selector, with a population: the pods it matches
        if let Some(pop) = &self.population {
            let sel = d
                .index
                .selectors
                .iter()
                .filter(|(s, _, _)| s.start <= offset && offset <= s.end)
                .min_by_key(|(s, _, _)| s.end - s.start);
            if let Some((span, ns, peer)) = sel {
                if let Some(m) = population_matches(pop, peer, ns.as_deref()) {
                    return Some(Hover {
                        contents: HoverContents::Markup(MarkupContent {
                            kind: MarkupKind::Markdown,
                            value: format!("**selector**: {m}"),
                        }),
                        range: self.range(*span),
                    });
                }
            }
        }
        // a statement: the policies it produces
        let (span, kind, ns) = d
            .index
            .statements
            .iter()
            .find(|(s, _, _)| s.start <= offset && offset <= s.end)?
            .clone();
        let current = self.info.revs.get(&slot) == Some(&d.rev) && d.fresh && self.info.ready;
        let value = if self.info.target == crate::emit::Target::Cilium {
            "the cilium target writes each statement as it is, denies included (docs/targets.md); `nplc build` shows its CiliumNetworkPolicies".to_string()
        } else if !current {
            "the policies of this statement are shown once the program compiles".to_string()
        } else {
            match kind {
                index::StmtKind::Rule => match self.info.statements.get(&(slot, span.start, span.end)) {
                    Some(lines) if lines.is_empty() => "**produces no policy rule** (what it allows is denied, or every pod it applies to is not isolated)".to_string(),
                    Some(lines) => format!(
                        "**produces** {} policy rule(s):\n\n{}",
                        lines.len(),
                        lines.iter().map(|l| format!("- {l}")).collect::<Vec<_>>().join("\n")
                    ),
                    None => "the policies of this statement are shown once the program compiles without errors".to_string(),
                },
                index::StmtKind::Posture | index::StmtKind::Isolate => {
                    match self.info.namespaces.get(&ns) {
                        Some(ps) => format!(
                            "**namespace `{ns}`**: {} policies\n\n{}",
                            ps.len(),
                            ps.iter().map(|l| format!("- {l}")).collect::<Vec<_>>().join("\n")
                        ),
                        None => format!("**namespace `{ns}`**: no policies"),
                    }
                }
            }
        };
        Some(Hover {
            contents: HoverContents::Markup(MarkupContent {
                kind: MarkupKind::Markdown,
                value,
            }),
            range: self.range(span),
        })
    }

    /// A name's hover: its declaration and what it denotes.
    fn describe(&mut self, t: &Target) -> Option<String> {
        if let Target::Module { name } = t {
            let text = crate::stdlib::module(name)?;
            let about: Vec<&str> = text
                .lines()
                .take_while(|l| l.starts_with('#'))
                .map(|l| l.trim_start_matches('#').trim())
                .collect();
            let defs: Vec<String> = self
                .std
                .iter()
                .filter(|s| s.1 == name)
                .flat_map(|s| s.3.decls.iter().map(|d| format!("`{}`", d.name)))
                .collect();
            return Some(format!(
                "**stdlib module** `{name}`\n\n{}\n\ndefines {}",
                about.join(" "),
                defs.join(", ")
            ));
        }
        let ix = self.index.as_ref()?;
        let d = ix.decl(t)?;
        let decl = d.decl()?.clone();
        let mut out = format!("**{}** `{}`", decl.kind.word(), decl.name);
        if let Some(ns) = &decl.scope {
            out.push_str(&format!(" in namespace `{ns}`"));
        }
        if let Target::Std { module, .. }
        | Target::Port {
            module: Some(module),
            ..
        } = t
        {
            out.push_str(&format!(" (stdlib module `{module}`)"));
        }
        out.push_str(&format!("\n\n```npl\n{}\n```", decl.text));
        if let Some(v) = &decl.value {
            let ns = decl.scope.as_deref();
            out.push_str(&format!(
                "\n\ndenotes {}",
                ix.describe_side(&d.file, v, ns, 8)
            ));
            if let (Some(pop), [peer]) = (&self.population, v.peers.as_slice()) {
                if let Some(m) = population_matches(pop, peer, ns) {
                    out.push_str(&format!("\n\n{m}"));
                }
            }
        }
        if decl.kind == Kind::Workload {
            out.push_str("\n\n(policies that select exactly these pods are named after it)");
        }
        let file = decl.name_span.file;
        if file.0 < STD_BASE {
            if let Some(Some(doc)) = self.docs.get(file.0) {
                let line = doc.lines.position(&doc.text, decl.span.start).line + 1;
                out.push_str(&format!("\n\ndeclared in `{}`, line {line}", doc.name));
            }
        }
        Some(out)
    }

    fn definition(&mut self, p: &TextDocumentPositionParams) -> Option<Location> {
        let (slot, offset) = self.at(p)?;
        let (t, _) = self.index().at(FileId(slot), offset)?;
        if let Target::Module { name } = &t {
            let uri = self.std_uris.get(name)?.clone();
            return Some(Location::new(uri, Range::default()));
        }
        let span = self.index.as_ref()?.decl(&t)?.decl()?.name_span;
        self.location(span)
    }

    fn references(&mut self, p: &TextDocumentPositionParams, decl: bool) -> Option<Vec<Location>> {
        let (slot, offset) = self.at(p)?;
        let (t, _) = self.index().at(FileId(slot), offset)?;
        let spans = self.index.as_ref()?.references(&t, decl);
        Some(spans.into_iter().filter_map(|s| self.location(s)).collect())
    }

    fn renamable(
        &mut self,
        p: &TextDocumentPositionParams,
    ) -> Result<(Target, Span), (ErrorCode, String)> {
        let none = || {
            (
                ErrorCode::InvalidRequest,
                "there is no name to rename here".to_string(),
            )
        };
        let (slot, offset) = self.at(p).ok_or_else(none)?;
        let (t, span) = self.index().at(FileId(slot), offset).ok_or_else(none)?;
        if !t.renamable() {
            return Err((
                ErrorCode::InvalidRequest,
                format!(
                    "`{}` is declared by the standard library and cannot be renamed",
                    index::target_name(&t)
                ),
            ));
        }
        Ok((t, span))
    }

    fn prepare_rename(
        &mut self,
        p: &TextDocumentPositionParams,
    ) -> Result<Option<PrepareRenameResponse>, (ErrorCode, String)> {
        let (_, span) = self.renamable(p)?;
        Ok(self.range(span).map(PrepareRenameResponse::Range))
    }

    fn rename(&mut self, p: &RenameParams) -> Result<Option<WorkspaceEdit>, (ErrorCode, String)> {
        let (t, _) = self.renamable(&p.text_document_position)?;
        let new = p.new_name.trim();
        // a name is what the grammar reads as one
        let probe = format!("define {new} = 10.0.0.0/8");
        let ok = crate::syntax::parse_file(FileId(0), &probe)
            .ok()
            .and_then(|f| {
                f.items.into_iter().find_map(|i| match i {
                    ast::Item::Define(d) => Some(d.name.node),
                    _ => None,
                })
            })
            .is_some_and(|n| n == new);
        if !ok {
            return Err((
                ErrorCode::InvalidParams,
                format!("`{new}` is not a name: a letter, then letters, digits, `_` and `-`, and not a keyword"),
            ));
        }
        let Some(ix) = self.index.as_ref() else {
            return Ok(None);
        };
        let spans = ix.references(&t, true);
        let mut changes: HashMap<Url, Vec<TextEdit>> = HashMap::new();
        for s in spans {
            if let Some(l) = self.location(s) {
                changes
                    .entry(l.uri)
                    .or_default()
                    .push(TextEdit::new(l.range, new.to_string()));
            }
        }
        Ok(Some(WorkspaceEdit {
            changes: Some(changes),
            ..WorkspaceEdit::default()
        }))
    }

    fn completion(
        &mut self,
        p: &TextDocumentPositionParams,
    ) -> Option<Vec<lsp_types::CompletionItem>> {
        let (slot, offset) = self.at(p)?;
        self.index();
        let ix = self.index.as_ref()?;
        let d = self.docs.get(slot)?.as_ref()?;
        let src = complete::Sources {
            index: ix,
            file: FileId(slot),
            population: &self.population_labels,
        };
        let range = |start: usize| d.lines.range(&d.text, start, offset);
        Some(complete::complete(&d.text, offset, &src, &range))
    }

    /// `nplc fmt` on a file's current text, as one edit of the part that
    /// changes (so that the cursor and the undo history stay where they
    /// are); no edit for a file that is formatted or does not parse (its
    /// syntax error is already among its diagnostics).
    fn formatting(&self, uri: &Url) -> Option<Vec<TextEdit>> {
        let slot = *self.by_uri.get(&norm(uri))?;
        let d = self.docs.get(slot)?.as_ref()?;
        let Ok(new) = crate::syntax::fmt::format_source(FileId(slot), &d.text) else {
            return Some(vec![]);
        };
        Some(
            text::minimal_edit(&d.text, &new)
                .map(|(a, b, t)| TextEdit::new(d.lines.range(&d.text, a, b), t.to_string()))
                .into_iter()
                .collect(),
        )
    }

    fn code_actions(&self, p: &CodeActionParams) -> Vec<CodeActionOrCommand> {
        let uri = norm(&p.text_document.uri);
        let Some(&slot) = self.by_uri.get(&uri) else {
            return vec![];
        };
        let Some(Some(d)) = self.docs.get(slot) else {
            return vec![];
        };
        let Some((rev, published)) = self.fixes.get(&slot) else {
            return vec![];
        };
        if *rev != d.rev {
            return vec![];
        }
        let overlaps = |a: &Range, b: &Range| !(a.end < b.start || b.end < a.start);
        let mut out = Vec::new();
        for pd in published {
            if !overlaps(&pd.diagnostic.range, &p.range) {
                continue;
            }
            for f in &pd.fixes {
                let edits = f
                    .edits
                    .iter()
                    .map(|(r, t)| TextEdit::new(*r, t.clone()))
                    .collect();
                out.push(CodeActionOrCommand::CodeAction(CodeAction {
                    title: f.title.clone(),
                    kind: Some(CodeActionKind::QUICKFIX),
                    diagnostics: Some(vec![pd.diagnostic.clone()]),
                    edit: Some(WorkspaceEdit {
                        changes: Some(HashMap::from([(uri.clone(), edits)])),
                        ..WorkspaceEdit::default()
                    }),
                    is_preferred: Some(f.preferred),
                    ..CodeAction::default()
                }));
            }
        }
        out
    }
}

/// A fault on purpose: the `nplc/fault` request, which exists only with
/// `NPLC_LSP_TEST_FAULTS` set (tests/it/lsp.rs shows that the request is
/// answered with an error and the server goes on).
// INVARIANT: never reached without NPLC_LSP_TEST_FAULTS; the panic is the test
#[allow(clippy::panic)]
fn fault() -> Answer {
    std::panic::panic_any("a fault on purpose (NPLC_LSP_TEST_FAULTS)")
}

fn absolute(p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir()
            .map(|c| c.join(p))
            .unwrap_or_else(|_| p.to_path_buf())
    }
}

/// The pods of the population a peer that is one label selector matches
/// (`None` for any other peer).
fn population_matches(
    pop: &crate::population::Population,
    peer: &ast::Peer,
    ns: Option<&str>,
) -> Option<String> {
    if !peer.except.is_empty() {
        return None;
    }
    let (ns, sel) = match &peer.kind {
        ast::PeerKind::Selector(s) => (ns?.to_string(), Some(s)),
        ast::PeerKind::Namespaced {
            ns,
            pods: ast::PodPart::Selector(s),
        } => (ns.node.clone(), Some(s)),
        ast::PeerKind::Namespaced {
            ns,
            pods: ast::PodPart::All,
        } => (ns.node.clone(), None),
        _ => return None,
    };
    let pods: Vec<String> = pop
        .pods
        .iter()
        .filter(|p| p.namespace == ns)
        .filter(|p| {
            sel.is_none_or(|s| {
                s.requirements
                    .iter()
                    .all(|r| requirement_holds(r, &p.labels))
            })
        })
        .map(|p| format!("`{}/{}`", p.namespace, p.name))
        .collect();
    let shown: Vec<String> = pods.iter().take(20).cloned().collect();
    let more = if pods.len() > 20 {
        format!(" and {} more", pods.len() - 20)
    } else {
        String::new()
    };
    Some(if pods.is_empty() {
        "matches no pod of the population".to_string()
    } else {
        format!(
            "matches {} pod(s) of the population: {}{more}",
            pods.len(),
            shown.join(", ")
        )
    })
}

/// Whether a pod's labels satisfy one requirement (Kubernetes' rules:
/// `!=` and `notin` hold for pods without the key).
fn requirement_holds(r: &ast::Requirement, labels: &BTreeMap<String, String>) -> bool {
    let v = labels.get(&r.key.node);
    let any = |v: &String| r.values.iter().any(|x| x.node == "*" || &x.node == v);
    match r.op {
        ast::ReqOp::Eq | ast::ReqOp::EqEq => v.is_some_and(any),
        ast::ReqOp::In => v.is_some_and(any),
        ast::ReqOp::NotEq => {
            if r.values.iter().any(|x| x.node == "*") {
                v.is_none()
            } else {
                !v.is_some_and(any)
            }
        }
        ast::ReqOp::NotIn => !v.is_some_and(any),
        ast::ReqOp::Exists => v.is_some(),
        ast::ReqOp::NotExists => v.is_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requirements_follow_kubernetes() {
        let f = crate::syntax::parse_file(
            FileId(0),
            "namespace a { allow app=x, tier!=web, !old, env in (p, q) -> * }",
        )
        .unwrap();
        let ast::Item::Namespace(b) = &f.items[0] else {
            panic!()
        };
        let ast::Statement::Rule(r) = &b.statements[0] else {
            panic!()
        };
        let ast::PeerKind::Selector(sel) = &r.src.as_ref().unwrap().peers[0].kind else {
            panic!()
        };
        let labels = |kv: &[(&str, &str)]| {
            kv.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>()
        };
        let holds =
            |l: &BTreeMap<String, String>| sel.requirements.iter().all(|r| requirement_holds(r, l));
        assert!(holds(&labels(&[("app", "x"), ("env", "p")])));
        assert!(!holds(&labels(&[
            ("app", "x"),
            ("env", "p"),
            ("tier", "web")
        ])));
        assert!(!holds(&labels(&[("app", "x"), ("env", "p"), ("old", "1")])));
        assert!(!holds(&labels(&[("app", "x"), ("env", "z")])));
    }
}
