//! Writing a build's files into the output directory, all or nothing, and
//! safely against a tampered directory, a crash and a concurrent build.
//! Input: the directory and the files (relative paths, and contents
//! rendered on demand by the thread that writes them: [`Tree`]).
//! Output: the directory holding exactly those files among the ones nplc
//! owns (listed in `DIR/.nplc-owned`), other files untouched, and a
//! [`Summary`] of what changed.
//!
//! - **Refusals.** Every path nplc writes or removes is relative and inside
//!   `DIR` (`safe`), and no directory on the way is a symbolic link. The
//!   ownership list is input like any other: a line that fails the same
//!   check is an error naming `file:line`, and nothing is changed. A file
//!   in `DIR` that nplc did not write is never overwritten. A directory
//!   holding `.git`, the root directory and the home directory are refused
//!   unless nplc made them its own before (they hold `.nplc-owned`).
//! - **Lock.** A build holds an advisory lock (`flock`) on `DIR/.nplc-lock`
//!   from before it reads `DIR` until it is done, and removes the file
//!   last; a second build into the same directory waits for it (and says
//!   so), then takes the lock on a file of its own.
//! - **Staging.** Changed files are written to `DIR/.nplc-stage-PID/new`,
//!   inside `DIR` so that moving them into place is a rename on one file
//!   system even when `DIR` is a mount point of its own.
//! - **Switch and journal.** Before the first file of `DIR` changes, the
//!   list of moves (replace, add, add a whole new directory, remove) is
//!   written to `DIR/.nplc-journal` (complete, then renamed into place).
//!   Each replaced or removed file is moved to the staging directory's
//!   `old/` first. The journal's removal is the commit point. A failure
//!   while switching undoes the moves; a build killed while switching
//!   leaves the journal, and the next build rolls that switch back
//!   (every step of the rollback can be repeated, so a build killed while
//!   rolling back is rolled back again) before its own. Staging
//!   directories left by killed builds are removed by the next build: it
//!   holds the lock, so none of them belongs to a live build.
//! - A file whose contents did not change is left as it is (not rewritten,
//!   its modification time kept), so a rebuild touches only what changed.
//!
//! The journal protects against a process that stops (killed, crashed); it
//! does not sync to disk, so after a power failure the file system's own
//! guarantees apply.

use crate::emit::files::Tree;
use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File};
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

/// The ownership list: the files the last build wrote, one per line.
pub const OWNED: &str = ".nplc-owned";
/// The lock file a build holds while it reads and changes the directory.
pub const LOCK: &str = ".nplc-lock";
/// The intent record of a switch in progress.
pub const JOURNAL: &str = ".nplc-journal";
const JOURNAL_TMP: &str = ".nplc-journal.tmp";
/// Staging directories are named this and the process id.
pub const STAGE_PREFIX: &str = ".nplc-stage-";
/// Names at the top of the directory that nplc keeps for itself.
const RESERVED: &str = ".nplc-";

/// What a build did to the directory.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// Files of the build (the ownership list not counted).
    pub files: usize,
    /// Files written because they were new or differed.
    pub changed: usize,
    /// Files of an earlier build that this one no longer writes, removed.
    pub removed: usize,
    /// An interrupted build's switch was rolled back first.
    pub rolled_back: bool,
    /// Staging directories of killed builds, removed.
    pub stale_stages: usize,
}

impl Summary {
    /// One line for standard error: `wrote 12 files to out/ (3 changed, 9
    /// unchanged, 1 removed)`.
    pub fn line(&self, dir: &Path) -> String {
        format!(
            "wrote {} file{} to {} ({} changed, {} unchanged, {} removed)",
            self.files,
            if self.files == 1 { "" } else { "s" },
            shown(dir),
            self.changed,
            self.files - self.changed,
            self.removed
        )
    }

    /// What the build repaired before its own work, if anything.
    pub fn repairs(&self, dir: &Path) -> Option<String> {
        let stale = match self.stale_stages {
            0 => String::new(),
            1 => "1 staging directory of a killed build".to_string(),
            n => format!("{n} staging directories of killed builds"),
        };
        match (self.rolled_back, stale.is_empty()) {
            (false, true) => None,
            (false, false) => Some(format!("removed {stale} in {}", shown(dir))),
            (true, true) => Some(format!(
                "rolled back an interrupted build in {}",
                shown(dir)
            )),
            (true, false) => Some(format!(
                "rolled back an interrupted build in {} and removed {stale}",
                shown(dir)
            )),
        }
    }
}

/// The directory as the user wrote it, with one trailing `/`.
pub fn shown(dir: &Path) -> String {
    let s = dir.display().to_string();
    if s.ends_with('/') {
        s
    } else {
        s + "/"
    }
}

/// Why a build wrote nothing, or could not undo what it started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub message: String,
    /// The directory is as it was before the build (true but in the rare
    /// case where undoing a failed switch failed too: then its journal is
    /// left for the next build to roll back).
    pub intact: bool,
}

impl From<String> for Error {
    fn from(message: String) -> Error {
        Error {
            message,
            intact: true,
        }
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

fn io(path: &Path, e: std::io::Error) -> String {
    format!(
        "cannot write `{}`: {}",
        path.display(),
        crate::diag::io_msg(&e)
    )
}

/// A path nplc may write or remove: relative, `/`-separated, no `.` or
/// `..` component, not one of nplc's own names (`.nplc-*`).
fn safe(rel: &str) -> bool {
    // a drive or stream name on Windows
    let windows = cfg!(windows) && rel.contains(':');
    let odd = rel.contains(['\\', '\0', '\n', '\r']) || windows;
    !odd && !rel.starts_with('/')
        && !rel.starts_with(RESERVED)
        && rel
            .split('/')
            .all(|c| !c.is_empty() && c != ".." && c != ".")
}

fn exists(p: &Path) -> bool {
    fs::symlink_metadata(p).is_ok()
}

/// Replaces the files nplc owns in `dir` by the files of `tree`. Calls
/// `on_wait` once if another build holds the directory's lock, then waits
/// for it.
pub fn write<T: Tree + ?Sized>(
    dir: &Path,
    tree: &T,
    on_wait: &mut dyn FnMut(),
) -> Result<Summary, Error> {
    if dir.as_os_str().is_empty() {
        return Err(String::from("the output directory is an empty path").into());
    }
    if let Some(bad) = (0..tree.count()).map(|i| tree.path(i)).find(|p| !safe(p)) {
        return Err(format!("refusing to write `{bad}` outside the output directory").into());
    }
    refuse(dir)?;
    let lock = Lock::take(dir, on_wait)?;
    let result = locked(dir, tree);
    lock.release(result.as_ref().is_err_and(|e| e.intact));
    result
}

/// What a build would change in its output directory (`nplc build
/// --check`): the files it would add, change and remove, each sorted by
/// path. Empty when the directory is current.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Drift {
    pub added: Vec<String>,
    pub changed: Vec<String>,
    pub removed: Vec<String>,
    /// An interrupted build left its journal: the next build rolls that
    /// switch back first.
    pub interrupted: bool,
}

impl Drift {
    pub fn is_current(&self) -> bool {
        self.added.is_empty()
            && self.changed.is_empty()
            && self.removed.is_empty()
            && !self.interrupted
    }
}

/// Compares the files of `tree` with what `dir` holds, reading only: no
/// lock, no staging, nothing written. The same refusals as [`write()`] (a
/// path outside `dir`, a file nplc did not write where it would write one,
/// a bad ownership list) are errors, since that build would fail. The
/// files are rendered and compared on every core.
pub fn drift<T: Tree + ?Sized>(dir: &Path, tree: &T) -> Result<Drift, Error> {
    if dir.as_os_str().is_empty() {
        return Err(String::from("the output directory is an empty path").into());
    }
    if let Some(bad) = (0..tree.count()).map(|i| tree.path(i)).find(|p| !safe(p)) {
        return Err(format!("refusing to write `{bad}` outside the output directory").into());
    }
    if fs::metadata(dir).is_ok() {
        refuse(dir)?;
    }
    let previous = read_owned(dir)?;
    let mut above = BTreeMap::new();
    for i in 0..tree.count() {
        missing_above(dir, tree.path(i), &mut above)?;
    }
    let indices: Vec<usize> = (0..tree.count()).collect();
    // per file: 0 unchanged, 1 added, 2 changed
    let states = crate::par::map_chunks(&indices, |run| {
        let mut buf = String::with_capacity(4096);
        run.iter()
            .map(|&i| {
                let rel = tree.path(i);
                let target = dir.join(rel);
                match fs::symlink_metadata(&target) {
                    Ok(_) if !previous.contains(rel) => Err(format!(
                        "refusing to overwrite `{}`, which nplc did not write; move it away or choose another output directory",
                        target.display()
                    )),
                    Ok(m) if m.is_dir() => Err(format!(
                        "`{}` is a directory where nplc writes a file; move it away",
                        target.display()
                    )),
                    Ok(_) => {
                        buf.clear();
                        tree.render(i, &mut buf);
                        let same = fs::read(&target).is_ok_and(|old| old == buf.as_bytes());
                        Ok(if same { 0u8 } else { 2 })
                    }
                    Err(e) if e.kind() == ErrorKind::NotFound => Ok(1),
                    Err(e) => Err(io(&target, e)),
                }
            })
            .collect()
    });
    let mut d = Drift {
        interrupted: exists(&dir.join(JOURNAL)),
        ..Drift::default()
    };
    let new: BTreeSet<&str> = indices.iter().map(|&i| tree.path(i)).collect();
    for (&i, state) in indices.iter().zip(states) {
        match state? {
            1 => d.added.push(tree.path(i).to_string()),
            2 => d.changed.push(tree.path(i).to_string()),
            _ => {}
        }
    }
    for rel in previous.iter().filter(|p| !new.contains(p.as_str())) {
        if missing_above(dir, rel, &mut above)?.is_none() && exists(&dir.join(rel)) {
            d.removed.push(rel.clone());
        }
    }
    d.added.sort();
    d.changed.sort();
    Ok(d)
}

/// Refuses an existing directory that is not nplc's to fill: one holding a
/// Git repository, the root directory, the home directory (unless an
/// earlier build made it nplc's own: it holds `.nplc-owned`).
fn refuse(dir: &Path) -> Result<(), String> {
    let Ok(meta) = fs::metadata(dir) else {
        return Ok(());
    };
    if !meta.is_dir() {
        return Err(format!("`{}` exists and is not a directory", dir.display()));
    }
    if exists(&dir.join(OWNED)) {
        return Ok(());
    }
    let canon = fs::canonicalize(dir).ok();
    let home = ["HOME", "USERPROFILE"]
        .iter()
        .filter_map(std::env::var_os)
        .filter(|h| !h.is_empty())
        .find_map(|h| fs::canonicalize(h).ok());
    let why = if exists(&dir.join(".git")) {
        "it holds a Git repository (`.git`)"
    } else if canon.as_deref().is_some_and(|c| c.parent().is_none()) {
        "it is the root directory"
    } else if canon.is_some() && canon == home {
        "it is the home directory"
    } else {
        return Ok(());
    };
    Err(format!(
        "refusing to write into `{}`: {why}, and no earlier build made it nplc's own (there is no `{OWNED}`); choose a directory of its own, such as `{}`",
        dir.display(),
        dir.join("out").display()
    ))
}

/// The lock on `DIR/.nplc-lock`, and the directories taking it created.
/// The lock file exists only while a build holds it (or after a build was
/// killed): the build removes it last, while it still holds the lock.
struct Lock {
    // held for its lock, released when the file is closed
    _file: File,
    path: PathBuf,
    made_dirs: Vec<PathBuf>,
}

impl Lock {
    /// Creates `dir` (and missing parents) if needed, then locks
    /// `dir/.nplc-lock`, waiting for another build that holds it.
    fn take(dir: &Path, on_wait: &mut dyn FnMut()) -> Result<Lock, String> {
        let path = dir.join(LOCK);
        let mut waited = false;
        loop {
            let made_dirs = make_dirs(dir)?;
            let fail = |e: std::io::Error| {
                remove_dirs(&made_dirs);
                io(&path, e)
            };
            step();
            let file = match fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)
            {
                Ok(f) => f,
                // a failed build removed the directory it had created
                Err(e) if e.kind() == ErrorKind::NotFound => continue,
                Err(e) => return Err(fail(e)),
            };
            let locked = match file.try_lock() {
                Ok(()) => Ok(()),
                Err(std::fs::TryLockError::WouldBlock) => {
                    if !waited {
                        on_wait();
                        waited = true;
                    }
                    file.lock()
                }
                Err(std::fs::TryLockError::Error(e)) => Err(e),
            };
            if let Err(e) = locked {
                return Err(fail(e));
            }
            // the build that held the lock removed its file when done: the
            // lock is good only if its file is still the one at `path`
            if same_file(&file, &path) {
                return Ok(Lock {
                    _file: file,
                    path,
                    made_dirs,
                });
            }
        }
    }

    /// Removes the lock file (and, after a failed build, the directories
    /// taking the lock created), then releases the lock.
    fn release(self, failed: bool) {
        if cfg!(unix) {
            step();
            let _ = fs::remove_file(&self.path);
        }
        if failed {
            remove_dirs(&self.made_dirs);
        }
    }
}

/// Creates `dir` and its missing parents; returns those it created,
/// outermost first.
fn make_dirs(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let mut missing: Vec<&Path> = dir
        .ancestors()
        .filter(|a| !a.as_os_str().is_empty())
        .take_while(|a| !exists(a))
        .collect();
    missing.reverse();
    let mut made = Vec::new();
    for d in missing {
        step();
        match fs::create_dir(d) {
            Ok(()) => made.push(d.to_path_buf()),
            // another build made it at the same time
            Err(e) if e.kind() == ErrorKind::AlreadyExists && d.is_dir() => {}
            Err(e) => {
                remove_dirs(&made);
                return Err(io(d, e));
            }
        }
    }
    Ok(made)
}

/// Removes directories (innermost first) if they are empty.
fn remove_dirs(made: &[PathBuf]) {
    for d in made.iter().rev() {
        step();
        let _ = fs::remove_dir(d);
    }
}

#[cfg(unix)]
fn same_file(f: &File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (f.metadata(), fs::metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

#[cfg(not(unix))]
fn same_file(_: &File, _: &Path) -> bool {
    // lock files are not removed here (`Lock::release`)
    true
}

/// One move of a switch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    /// Replace a file: the old one to `old/`, the new one from `new/`.
    Put,
    /// Add a file (its directory exists).
    New,
    /// Add a whole directory (it did not exist).
    Dir,
    /// Remove a file of an earlier build: to `old/`.
    Del,
}

impl Op {
    fn word(self) -> &'static str {
        match self {
            Op::Put => "put",
            Op::New => "new",
            Op::Dir => "dir",
            Op::Del => "del",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Move {
    op: Op,
    rel: String,
}

/// Everything a build does holding the lock: recovery, checks, staging,
/// the switch.
fn locked<T: Tree + ?Sized>(dir: &Path, tree: &T) -> Result<Summary, Error> {
    let (rolled_back, stale_stages) = recover(dir)?;
    let previous = read_owned(dir)?;
    let n = tree.count();
    // every directory a file goes into, and every file to remove, must lie
    // in `dir` without a symbolic link on the way
    let mut above = BTreeMap::new();
    for i in 0..n {
        missing_above(dir, tree.path(i), &mut above)?;
    }
    let new: BTreeSet<&str> = (0..n).map(|i| tree.path(i)).collect();
    let mut dels = Vec::new();
    for rel in previous.iter().filter(|p| !new.contains(p.as_str())) {
        if missing_above(dir, rel, &mut above)?.is_some() {
            continue;
        }
        let p = dir.join(rel);
        match fs::symlink_metadata(&p) {
            Ok(m) if m.is_dir() => {
                return Err(format!(
                    "refusing to remove `{}`: the ownership list names it as a file nplc wrote, but it is a directory",
                    p.display()
                )
                .into())
            }
            Ok(_) => dels.push(rel.as_str()),
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => return Err(io(&p, e).into()),
        }
    }
    let stage = dir.join(format!("{STAGE_PREFIX}{}", std::process::id()));
    let result = stage_files(dir, &previous, &stage, tree).and_then(|changed| {
        let moves = plan(dir, &stage, tree, &changed, &dels, &mut above)?;
        if !moves.is_empty() {
            commit(dir, &stage, &moves)?;
        }
        Ok(Summary {
            files: n,
            changed: changed.len(),
            removed: dels.len(),
            rolled_back,
            stale_stages,
        })
    });
    if result.as_ref().is_ok() || result.as_ref().is_err_and(|e| e.intact) {
        step();
        let _ = fs::remove_dir_all(&stage);
    }
    result
}

/// Checks the directories above `rel` in `dir`: each that exists must be a
/// directory, not a symbolic link (which could lead out of `dir`) nor a
/// file. Returns the topmost one that does not exist, if any (relative).
fn missing_above(
    dir: &Path,
    rel: &str,
    seen: &mut BTreeMap<String, Option<String>>,
) -> Result<Option<String>, String> {
    let Some((parent, _)) = rel.rsplit_once('/') else {
        return Ok(None);
    };
    if let Some(r) = seen.get(parent) {
        return Ok(r.clone());
    }
    let r = match missing_above(dir, parent, seen)? {
        Some(top) => Some(top),
        None => {
            let p = dir.join(parent);
            match fs::symlink_metadata(&p) {
                Ok(m) if m.file_type().is_symlink() => {
                    return Err(format!(
                        "refusing to write through `{}`, a symbolic link: nplc writes and removes files only inside the output directory",
                        p.display()
                    ))
                }
                Ok(m) if m.is_dir() => None,
                Ok(_) => {
                    return Err(format!(
                        "`{}` is in the way: nplc writes a directory there; move it away",
                        p.display()
                    ))
                }
                Err(e) if e.kind() == ErrorKind::NotFound => Some(parent.to_string()),
                Err(e) => return Err(io(&p, e)),
            }
        }
    };
    seen.insert(parent.to_string(), r.clone());
    Ok(r)
}

/// Reads the ownership list, checking every line as nplc checks a path it
/// writes: a line that names something outside `dir` is an error.
fn read_owned(dir: &Path) -> Result<BTreeSet<String>, String> {
    let p = dir.join(OWNED);
    let text = match fs::read_to_string(&p) {
        Ok(t) => t,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(BTreeSet::new()),
        Err(e) => {
            return Err(format!(
                "cannot read `{}`: {}",
                p.display(),
                crate::diag::io_msg(&e)
            ))
        }
    };
    let mut owned = BTreeSet::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        if !safe(line) {
            return Err(format!(
                "ownership list `{}:{}`: `{line}` is not a file inside the output directory; nplc removes only files it wrote there, so it changed nothing (fix or delete the line)",
                p.display(),
                i + 1
            ));
        }
        owned.insert(line.to_string());
    }
    Ok(owned)
}

/// Renders every file and writes those that differ from what `dir` holds
/// into `staging/new`, on every core (each thread a contiguous run of files
/// in path order, so most directories belong to one run). Returns the
/// indices of the files written, each with whether `dir` has a file there
/// now. Nothing in `dir` is touched; a file in `dir` that nplc did not
/// write is an error (the first, in file order).
fn stage_files<T: Tree + ?Sized>(
    dir: &Path,
    previous: &BTreeSet<String>,
    staging: &Path,
    tree: &T,
) -> Result<Vec<(usize, bool)>, Error> {
    let root = staging.join("new");
    step();
    fs::create_dir_all(&root).map_err(|e| io(staging, e))?;
    let indices: Vec<usize> = (0..tree.count()).collect();
    let runs = crate::par::map_chunks(&indices, |run| {
        let mut buf = String::with_capacity(4096);
        let mut made: Option<PathBuf> = None;
        let mut changed = Vec::new();
        for &i in run {
            let rel = tree.path(i);
            buf.clear();
            tree.render(i, &mut buf);
            let target = dir.join(rel);
            let had = match fs::symlink_metadata(&target) {
                Ok(_) if !previous.contains(rel) => {
                    return vec![Err(format!(
                        "refusing to overwrite `{}`, which nplc did not write; move it away or choose another output directory",
                        target.display()
                    ))];
                }
                Ok(m) if m.is_dir() => {
                    return vec![Err(format!(
                        "`{}` is a directory where nplc writes a file; move it away",
                        target.display()
                    ))]
                }
                Ok(m) => {
                    if m.is_file() && fs::read(&target).is_ok_and(|old| old == buf.as_bytes()) {
                        continue;
                    }
                    true
                }
                Err(e) if e.kind() == ErrorKind::NotFound => false,
                Err(e) => return vec![Err(io(&target, e))],
            };
            let p = root.join(rel);
            if let Some(d) = p.parent() {
                if made.as_deref() != Some(d) {
                    step();
                    if let Err(e) = fs::create_dir_all(d) {
                        return vec![Err(io(d, e))];
                    }
                    made = Some(d.to_path_buf());
                }
            }
            step();
            if let Err(e) = fs::write(&p, &buf) {
                return vec![Err(io(&p, e))];
            }
            changed.push((i, had));
        }
        vec![Ok(changed)]
    });
    let mut changed = Vec::new();
    for run in runs {
        changed.extend(run?);
    }
    Ok(changed)
}

/// The moves of the switch: changed files (a file whose directory is
/// missing comes with its whole topmost missing directory), stale files,
/// and last the ownership list (staged here; left out when it is the same).
fn plan<T: Tree + ?Sized>(
    dir: &Path,
    staging: &Path,
    tree: &T,
    changed: &[(usize, bool)],
    dels: &[&str],
    above: &mut BTreeMap<String, Option<String>>,
) -> Result<Vec<Move>, Error> {
    let mut moves = Vec::new();
    let mut dirs = BTreeSet::new();
    for &(i, had) in changed {
        let rel = tree.path(i);
        match missing_above(dir, rel, above)? {
            Some(top) => {
                dirs.insert(top);
            }
            None => moves.push(Move {
                op: if had { Op::Put } else { Op::New },
                rel: rel.to_string(),
            }),
        }
    }
    moves.extend(dirs.into_iter().map(|rel| Move { op: Op::Dir, rel }));
    moves.extend(dels.iter().map(|rel| Move {
        op: Op::Del,
        rel: rel.to_string(),
    }));
    let mut manifest =
        String::from("# Files written by nplc; a new build replaces exactly these.\n");
    for i in 0..tree.count() {
        manifest.push_str(tree.path(i));
        manifest.push('\n');
    }
    let current = dir.join(OWNED);
    let unchanged = fs::symlink_metadata(&current).is_ok_and(|m| m.is_file())
        && fs::read(&current).is_ok_and(|old| old == manifest.as_bytes());
    if !unchanged {
        let mp = staging.join("new").join(OWNED);
        step();
        fs::write(&mp, &manifest).map_err(|e| io(&mp, e))?;
        moves.push(Move {
            op: if exists(&current) { Op::Put } else { Op::New },
            rel: OWNED.to_string(),
        });
    }
    Ok(moves)
}

/// Writes the journal, makes the moves, removes directories left empty,
/// removes the journal (the commit point). A failure undoes the moves.
fn commit(dir: &Path, staging: &Path, moves: &[Move]) -> Result<(), Error> {
    let journal = dir.join(JOURNAL);
    let tmp = dir.join(JOURNAL_TMP);
    let mut text = String::from(
        "# nplc: a build is moving its files into this directory. If this file\n\
         # is here, that build was interrupted; the next build rolls it back.\n",
    );
    let name = staging
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    text.push_str(&format!("stage {name}\n"));
    for m in moves {
        text.push_str(&format!("{} {}\n", m.op.word(), m.rel));
    }
    text.push_str("end\n");
    step();
    fs::write(&tmp, &text).map_err(|e| io(&tmp, e))?;
    step();
    fs::rename(&tmp, &journal).map_err(|e| {
        let _ = fs::remove_file(&tmp);
        io(&journal, e)
    })?;
    let done = switch(dir, staging, moves).and_then(|()| {
        // directories left empty by removed files
        for m in moves.iter().filter(|m| m.op == Op::Del) {
            let mut d = dir.join(&m.rel);
            while d.pop() && d != dir {
                step();
                if fs::remove_dir(&d).is_err() {
                    break;
                }
            }
        }
        step();
        fs::remove_file(&journal).map_err(|e| io(&journal, e))
    });
    let Err(e) = done else { return Ok(()) };
    match rollback(dir, staging, moves) {
        Ok(()) => {
            step();
            let _ = fs::remove_file(&journal);
            Err(e.into())
        }
        Err(undo) => Err(Error {
            message: format!(
                "{e}; undoing the build failed too ({undo}): the next build rolls it back (its journal is `{}`)",
                journal.display()
            ),
            intact: false,
        }),
    }
}

/// Moves `from` to `to`, a step of a switch or of its rollback.
fn mv(from: &Path, to: &Path) -> Result<(), String> {
    step();
    fs::rename(from, to).map_err(|e| {
        if e.kind() == ErrorKind::CrossesDevices {
            format!(
                "cannot move `{}` to `{}`: they are on different file systems (is a directory inside the output directory a mount point?)",
                from.display(),
                to.display()
            )
        } else {
            io(to, e)
        }
    })
}

fn make_parent(p: &Path) -> Result<(), String> {
    match p.parent() {
        Some(d) if !d.is_dir() => {
            step();
            fs::create_dir_all(d).map_err(|e| io(d, e))
        }
        _ => Ok(()),
    }
}

/// Makes the moves in order.
fn switch(dir: &Path, staging: &Path, moves: &[Move]) -> Result<(), String> {
    for m in moves {
        let target = dir.join(&m.rel);
        let new = staging.join("new").join(&m.rel);
        let old = staging.join("old").join(&m.rel);
        match m.op {
            Op::Put => {
                make_parent(&old)?;
                mv(&target, &old)?;
                mv(&new, &target)?;
            }
            Op::New | Op::Dir => mv(&new, &target)?,
            Op::Del => {
                make_parent(&old)?;
                mv(&target, &old)?;
            }
        }
    }
    Ok(())
}

/// Undoes the moves that were made, last first. Each step looks at where
/// the files are, so the rollback of a switch stopped at any point, or of
/// a rollback stopped at any point, is the same.
fn rollback(dir: &Path, staging: &Path, moves: &[Move]) -> Result<(), String> {
    for m in moves.iter().rev() {
        let target = dir.join(&m.rel);
        let new = staging.join("new").join(&m.rel);
        let old = staging.join("old").join(&m.rel);
        match m.op {
            Op::Put | Op::Del => {
                if exists(&old) {
                    make_parent(&target)?;
                    mv(&old, &target)?;
                }
            }
            Op::New | Op::Dir => {
                if exists(&target) && !exists(&new) {
                    make_parent(&new)?;
                    mv(&target, &new)?;
                }
            }
        }
    }
    Ok(())
}

/// Rolls back the switch of an interrupted build (its journal), then
/// removes staging directories of killed builds. Returns whether there was
/// a switch to roll back, and how many staging directories were removed.
fn recover(dir: &Path) -> Result<(bool, usize), Error> {
    let path = dir.join(JOURNAL);
    let rolled_back = match fs::read_to_string(&path) {
        Ok(text) => {
            let (stage, moves) = parse_journal(dir, &path, &text)?;
            let staging = dir.join(&stage);
            if fs::symlink_metadata(&staging).is_ok_and(|m| !m.is_dir()) {
                return Err(format!(
                    "journal `{}` names `{}`, which is not a staging directory; restore `{}` by hand",
                    path.display(),
                    staging.display(),
                    dir.display()
                )
                .into());
            }
            let mut seen = BTreeMap::new();
            for m in &moves {
                missing_above(dir, &m.rel, &mut seen)?;
            }
            rollback(dir, &staging, &moves).map_err(|e| Error {
                message: format!(
                    "cannot roll back the interrupted build recorded in `{}`: {e}",
                    path.display()
                ),
                intact: false,
            })?;
            step();
            fs::remove_file(&path).map_err(|e| io(&path, e))?;
            true
        }
        Err(e) if e.kind() == ErrorKind::NotFound => false,
        Err(e) => {
            return Err(format!(
                "cannot read `{}`: {}",
                path.display(),
                crate::diag::io_msg(&e)
            )
            .into())
        }
    };
    // this build holds the lock: no staging directory belongs to a live build
    let mut stale = 0;
    let entries = fs::read_dir(dir).map_err(|e| io(dir, e))?;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let p = entry.path();
        if name == JOURNAL_TMP {
            step();
            let _ = fs::remove_file(&p);
        } else if name.starts_with(STAGE_PREFIX) {
            step();
            let gone = if fs::symlink_metadata(&p).is_ok_and(|m| m.is_dir()) {
                fs::remove_dir_all(&p)
            } else {
                fs::remove_file(&p)
            };
            gone.map_err(|e| io(&p, e))?;
            stale += 1;
        }
    }
    Ok((rolled_back, stale))
}

/// Reads a journal: `stage NAME`, then one move per line (`put`, `new`,
/// `dir`, `del` and a path), then `end`. It is input like the ownership
/// list: every path must be one nplc could have written.
fn parse_journal(dir: &Path, path: &Path, text: &str) -> Result<(String, Vec<Move>), String> {
    let bad = |n: usize, what: &str| {
        format!(
            "damaged journal `{}:{n}`: {what}; the interrupted build it records cannot be rolled back, so restore `{}` by hand, remove the journal and build again",
            path.display(),
            dir.display()
        )
    };
    let mut stage: Option<String> = None;
    let mut moves = Vec::new();
    let mut ended = false;
    let mut last = 0;
    for (i, line) in text.lines().enumerate() {
        last = i + 1;
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        if ended {
            return Err(bad(last, "text after `end`"));
        }
        let (word, rest) = line.split_once(' ').unwrap_or((line, ""));
        let op = match word {
            "put" => Some(Op::Put),
            "new" => Some(Op::New),
            "dir" => Some(Op::Dir),
            "del" => Some(Op::Del),
            _ => None,
        };
        match (word, op, &stage) {
            ("stage", _, None) => {
                let name = rest.strip_prefix(STAGE_PREFIX).unwrap_or("");
                if name.is_empty() || name.contains(['/', '\\', '\0']) || name.contains("..") {
                    return Err(bad(last, &format!("`{rest}` is not a staging directory")));
                }
                stage = Some(rest.to_string());
            }
            ("end", _, Some(_)) if rest.is_empty() => ended = true,
            (_, Some(op), Some(_)) => {
                let own = rest == OWNED && matches!(op, Op::Put | Op::New);
                if !safe(rest) && !own {
                    return Err(bad(
                        last,
                        &format!("`{rest}` is not a file inside the output directory"),
                    ));
                }
                moves.push(Move {
                    op,
                    rel: rest.to_string(),
                });
            }
            _ => return Err(bad(last, &format!("`{line}` is not a journal line"))),
        }
    }
    match stage {
        Some(s) if ended => Ok((s, moves)),
        _ => Err(bad(last, "it ends early")),
    }
}

/// Exit code of the test hook's simulated crash.
pub const CRASH_EXIT: i32 = 99;

/// Test-only hook, for the crash and kill tests (tests/it/outdir.rs),
/// never for users: `NPLC_TEST_OUTDIR=crash:N` makes the process exit
/// (with [`CRASH_EXIT`], no cleanup, as if killed) just before the N-th
/// step that changes the file system; `pause:MICROS` sleeps that long
/// before each such step, so that a kill at a random moment lands in the
/// switch more often.
fn step() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::OnceLock;
    enum Hook {
        Off,
        Crash(usize),
        Pause(std::time::Duration),
    }
    static HOOK: OnceLock<Hook> = OnceLock::new();
    static STEPS: AtomicUsize = AtomicUsize::new(0);
    let hook = HOOK.get_or_init(|| {
        let v = std::env::var("NPLC_TEST_OUTDIR").unwrap_or_default();
        if let Some(n) = v.strip_prefix("crash:").and_then(|n| n.parse().ok()) {
            Hook::Crash(n)
        } else if let Some(us) = v.strip_prefix("pause:").and_then(|n| n.parse().ok()) {
            Hook::Pause(std::time::Duration::from_micros(us))
        } else {
            Hook::Off
        }
    });
    match hook {
        Hook::Off => {}
        Hook::Crash(n) => {
            if STEPS.fetch_add(1, Ordering::SeqCst) + 1 == *n {
                std::process::exit(CRASH_EXIT);
            }
        }
        Hook::Pause(d) => std::thread::sleep(*d),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emit::files::File as OutFile;

    fn tmp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("nplc-outdir-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        d
    }

    fn write_tree(dir: &Path, files: &[OutFile]) -> Result<Summary, Error> {
        write(dir, files, &mut || {})
    }

    fn f(path: &str, c: &str) -> OutFile {
        OutFile {
            path: path.into(),
            contents: c.into(),
        }
    }

    fn owned(dir: &Path) -> BTreeSet<String> {
        read_owned(dir).unwrap()
    }

    #[test]
    fn replaces_only_owned_files() {
        let root = tmp("owned");
        let out = root.join("out");
        let s = write_tree(&out, &[f("a/x.yaml", "1"), f("k.yaml", "k")]).unwrap();
        assert_eq!((s.files, s.changed, s.removed), (2, 2, 0));
        fs::write(out.join("user.txt"), "mine").unwrap();
        let s = write_tree(&out, &[f("b/y.yaml", "2"), f("k.yaml", "k2")]).unwrap();
        assert_eq!((s.files, s.changed, s.removed), (2, 2, 1));
        assert_eq!(
            s.line(&out),
            format!(
                "wrote 2 files to {}/ (2 changed, 0 unchanged, 1 removed)",
                out.display()
            )
        );
        assert!(
            !out.join("a").exists(),
            "stale file and its empty directory are gone"
        );
        assert_eq!(fs::read_to_string(out.join("b/y.yaml")).unwrap(), "2");
        assert_eq!(fs::read_to_string(out.join("k.yaml")).unwrap(), "k2");
        assert_eq!(fs::read_to_string(out.join("user.txt")).unwrap(), "mine");
        let names: BTreeSet<String> = fs::read_dir(&out)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            names,
            [".nplc-owned", "b", "k.yaml", "user.txt"]
                .map(String::from)
                .into(),
            "no lock, journal or staging left"
        );
        let _ = fs::remove_dir_all(&root);
    }

    #[cfg(unix)]
    #[test]
    fn leaves_unchanged_files_alone() {
        use std::os::unix::fs::MetadataExt;
        let root = tmp("unchanged");
        let out = root.join("out");
        write_tree(&out, &[f("a/x.yaml", "1"), f("a/y.yaml", "2")]).unwrap();
        let ino = |p: &str| fs::metadata(out.join(p)).unwrap().ino();
        let (x, y, list) = (ino("a/x.yaml"), ino("a/y.yaml"), ino(OWNED));
        let s = write_tree(&out, &[f("a/x.yaml", "1"), f("a/y.yaml", "3")]).unwrap();
        assert_eq!((s.changed, s.removed), (1, 0));
        assert_eq!(ino("a/x.yaml"), x, "the unchanged file is the same file");
        assert_ne!(ino("a/y.yaml"), y, "the changed file was replaced");
        assert_eq!(ino(OWNED), list, "the same list is not rewritten");
        assert_eq!(fs::read_to_string(out.join("a/y.yaml")).unwrap(), "3");
        let s = write_tree(&out, &[f("a/x.yaml", "1"), f("a/y.yaml", "3")]).unwrap();
        assert_eq!((s.changed, s.removed), (0, 0));
        write_tree(&out, &[f("a/y.yaml", "3")]).unwrap();
        assert!(
            !out.join("a/x.yaml").exists(),
            "a file no longer built is removed"
        );
        assert_eq!(owned(&out), ["a/y.yaml".to_string()].into());
        let _ = fs::remove_dir_all(&root);
    }

    #[test]
    fn refuses_foreign_file() {
        let root = tmp("foreign");
        let out = root.join("out");
        fs::create_dir_all(&out).unwrap();
        fs::write(out.join("k.yaml"), "user").unwrap();
        let e = write_tree(&out, &[f("k.yaml", "ours")]).unwrap_err();
        assert!(e.intact && e.message.contains("k.yaml"), "{e}");
        assert_eq!(fs::read_to_string(out.join("k.yaml")).unwrap(), "user");
        assert_eq!(
            fs::read_dir(&out).unwrap().count(),
            1,
            "no staging, lock file or list left behind"
        );
        assert_eq!(fs::read_dir(&root).unwrap().count(), 1);
        let _ = fs::remove_dir_all(&root);
    }

    #[test]
    fn a_failed_build_into_a_new_directory_leaves_nothing() {
        let root = tmp("fresh");
        let out = root.join("a/b/out");
        fs::create_dir_all(&root).unwrap();
        // a directory where the build needs a file
        let bad = [f("k.yaml", "k"), f("x/y.yaml", "1"), f("x/y.yaml/z", "2")];
        assert!(write_tree(&out, &bad).is_err());
        assert_eq!(fs::read_dir(&root).unwrap().count(), 0, "no `a/b/out`");
        let _ = fs::remove_dir_all(&root);
    }

    #[test]
    fn a_tampered_ownership_list_changes_nothing() {
        let root = tmp("tampered");
        let out = root.join("out");
        fs::create_dir_all(&root).unwrap();
        fs::write(root.join("victim.txt"), "precious").unwrap();
        write_tree(&out, &[f("a/x.yaml", "1")]).unwrap();
        let list = out.join(OWNED);
        let before = fs::read_to_string(&list).unwrap();
        for (line, bad) in [
            (3, "../victim.txt"),
            (3, "/etc/passwd"),
            (3, "a/../../victim.txt"),
            (3, ".nplc-lock"),
            (3, "a//x"),
        ] {
            fs::write(&list, format!("{before}{bad}\n")).unwrap();
            let e = write_tree(&out, &[f("b/y.yaml", "2")]).unwrap_err();
            assert!(
                e.message
                    .contains(&format!("`{}:{line}`: `{bad}`", list.display())),
                "{e}"
            );
            assert!(out.join("a/x.yaml").exists() && !out.join("b").exists());
            assert_eq!(
                fs::read_to_string(root.join("victim.txt")).unwrap(),
                "precious"
            );
        }
        let _ = fs::remove_dir_all(&root);
    }

    #[cfg(unix)]
    #[test]
    fn never_writes_or_removes_through_a_symbolic_link() {
        let root = tmp("symlink");
        let out = root.join("out");
        let outside = root.join("outside");
        fs::create_dir_all(&outside).unwrap();
        fs::write(outside.join("x.yaml"), "theirs").unwrap();
        write_tree(&out, &[f("a/x.yaml", "1"), f("k.yaml", "k")]).unwrap();
        // `a` replaced by a link out of the directory: removing the stale
        // `a/x.yaml`, or writing a new one, would reach `outside/x.yaml`
        fs::remove_dir_all(out.join("a")).unwrap();
        std::os::unix::fs::symlink(&outside, out.join("a")).unwrap();
        for files in [vec![f("k.yaml", "k2")], vec![f("a/x.yaml", "2")]] {
            let e = write_tree(&out, &files).unwrap_err();
            assert!(e.message.contains("symbolic link"), "{e}");
            assert_eq!(
                fs::read_to_string(outside.join("x.yaml")).unwrap(),
                "theirs"
            );
            assert_eq!(fs::read_to_string(out.join("k.yaml")).unwrap(), "k");
        }
        // a file that is itself a link is replaced, not written through
        fs::remove_file(out.join("a")).unwrap();
        fs::create_dir(out.join("a")).unwrap();
        std::os::unix::fs::symlink(outside.join("x.yaml"), out.join("a/x.yaml")).unwrap();
        write_tree(&out, &[f("a/x.yaml", "2"), f("k.yaml", "k")]).unwrap();
        assert_eq!(
            fs::read_to_string(outside.join("x.yaml")).unwrap(),
            "theirs"
        );
        assert!(fs::symlink_metadata(out.join("a/x.yaml"))
            .unwrap()
            .is_file());
        let _ = fs::remove_dir_all(&root);
    }

    #[test]
    fn refuses_a_repository_unless_nplc_owns_it() {
        let root = tmp("git");
        fs::create_dir_all(root.join(".git")).unwrap();
        let e = write_tree(&root, &[f("k.yaml", "k")]).unwrap_err();
        assert!(e.message.contains("`.git`"), "{e}");
        assert_eq!(fs::read_dir(&root).unwrap().count(), 1, "nothing written");
        fs::write(root.join(OWNED), "").unwrap();
        write_tree(&root, &[f("k.yaml", "k")]).unwrap();
        assert_eq!(fs::read_to_string(root.join("k.yaml")).unwrap(), "k");
        let _ = fs::remove_dir_all(&root);
    }

    #[cfg(unix)]
    #[test]
    fn refuses_the_root_directory() {
        // `refuse` only looks: this writes nothing anywhere
        let e = refuse(Path::new("/")).unwrap_err();
        assert!(e.contains("root directory"), "{e}");
        assert!(refuse(Path::new("/no/such/nplc/dir")).is_ok());
    }

    #[test]
    fn a_second_writer_waits_for_the_lock() {
        let root = tmp("lock");
        let out = root.join("out");
        write_tree(&out, &[f("k.yaml", "1")]).unwrap();
        let held = File::create(out.join(LOCK)).unwrap();
        held.lock().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let writer = {
            let out = out.clone();
            std::thread::spawn(move || {
                write(&out, &[f("k.yaml", "2")][..], &mut || {
                    let _ = tx.send(());
                })
            })
        };
        // the writer says it waits, and writes nothing while it does
        rx.recv().unwrap();
        assert_eq!(fs::read_to_string(out.join("k.yaml")).unwrap(), "1");
        drop(held);
        writer.join().unwrap().unwrap();
        assert_eq!(fs::read_to_string(out.join("k.yaml")).unwrap(), "2");
        let _ = fs::remove_dir_all(&root);
    }

    #[test]
    fn a_damaged_journal_is_an_error_naming_the_line() {
        let root = tmp("journal");
        let out = root.join("out");
        write_tree(&out, &[f("k.yaml", "1")]).unwrap();
        let j = out.join(JOURNAL);
        for (text, line) in [
            ("stage .nplc-stage-1\nput ../k.yaml\nend\n", 2),
            ("stage ../x\nend\n", 1),
            ("stage .nplc-stage-1\nput k.yaml\n", 2),
        ] {
            fs::write(&j, text).unwrap();
            let e = write_tree(&out, &[f("k.yaml", "2")]).unwrap_err();
            assert!(
                e.message.contains(&format!("`{}:{line}`", j.display())),
                "{e}"
            );
            assert_eq!(fs::read_to_string(out.join("k.yaml")).unwrap(), "1");
        }
        let _ = fs::remove_dir_all(&root);
    }

    /// Contents rendered on demand, enough files for several threads.
    struct Numbers(Vec<String>);

    impl Tree for Numbers {
        fn count(&self) -> usize {
            self.0.len()
        }
        fn path(&self, i: usize) -> &str {
            &self.0[i]
        }
        fn render(&self, i: usize, out: &mut String) {
            out.push_str(&format!("file {i}\n"));
        }
    }

    #[test]
    fn renders_on_every_core_and_refuses_a_foreign_file_anywhere() {
        let root = tmp("rendered");
        let out = root.join("out");
        let tree = Numbers((0..300).map(|i| format!("ns{}/p{i}.yaml", i % 7)).collect());
        write(&out, &tree, &mut || {}).unwrap();
        for i in [0, 150, 299] {
            assert_eq!(
                fs::read_to_string(out.join(tree.path(i))).unwrap(),
                format!("file {i}\n")
            );
        }
        assert_eq!(owned(&out).len(), 300);
        // a file nplc did not write, among those of the last thread's run
        let mut bigger = Numbers(tree.0.clone());
        bigger.0.push("ns0/zz-user.yaml".into());
        fs::write(out.join("ns0/zz-user.yaml"), "mine").unwrap();
        fs::remove_file(out.join(tree.path(3))).unwrap();
        let e = write(&out, &bigger, &mut || {}).unwrap_err();
        assert!(e.message.contains("zz-user.yaml"));
        assert_eq!(
            fs::read_to_string(out.join("ns0/zz-user.yaml")).unwrap(),
            "mine"
        );
        assert!(
            !out.join(tree.path(3)).exists(),
            "nothing written when the build is refused"
        );
        assert_eq!(fs::read_dir(&root).unwrap().count(), 1, "no staging left");
        let _ = fs::remove_dir_all(&root);
    }
}
