//! Writing a build's files into the output directory, all or nothing.
//! Input: the directory and the files (relative paths, and contents
//! rendered on demand by the thread that writes them: [`Tree`]).
//! Output: the directory holding exactly those files among the ones nplc
//! owns (listed in `DIR/.nplc-owned`), other files untouched.
//!
//! Files are first written to a staging directory beside `DIR`; only when
//! every write succeeded are they moved into place. A failure while moving
//! restores what was there. A file that exists in `DIR` but was not written
//! by nplc is never overwritten: the build stops with an error instead.
//! A file whose contents did not change is left as it is (not rewritten,
//! its modification time kept), so a rebuild touches only what changed.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

pub const OWNED: &str = ".nplc-owned";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutFile {
    /// Relative path with `/` separators.
    pub path: String,
    pub contents: String,
}

fn io(path: &Path, e: std::io::Error) -> String {
    format!(
        "cannot write `{}`: {}",
        path.display(),
        crate::driver::io_msg(&e)
    )
}

fn owned(dir: &Path) -> BTreeSet<String> {
    fs::read_to_string(dir.join(OWNED))
        .map(|s| {
            s.lines()
                .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

fn safe(rel: &str) -> bool {
    !rel.is_empty()
        && !rel.starts_with('/')
        && rel
            .split('/')
            .all(|c| !c.is_empty() && c != ".." && c != ".")
}

/// The files of a build: relative paths (with `/` separators), and each
/// file's contents, rendered on the thread that writes it so that no
/// build holds all its output in memory at once.
pub trait Tree: Sync {
    fn count(&self) -> usize;
    fn path(&self, i: usize) -> &str;
    /// Appends file `i`'s contents to `out`.
    fn render(&self, i: usize, out: &mut String);
}

impl Tree for [OutFile] {
    fn count(&self) -> usize {
        self.len()
    }
    fn path(&self, i: usize) -> &str {
        &self[i].path
    }
    fn render(&self, i: usize, out: &mut String) {
        out.push_str(&self[i].contents)
    }
}

/// Replaces the files nplc owns in `dir` by the files of `tree`.
pub fn write<T: Tree + ?Sized>(dir: &Path, tree: &T) -> Result<(), String> {
    let n = tree.count();
    if (0..n).any(|i| !safe(tree.path(i))) {
        return Err("refusing to write outside the output directory".into());
    }
    if dir.exists() && !dir.is_dir() {
        return Err(format!("`{}` exists and is not a directory", dir.display()));
    }
    let (existed, previous) = if dir.is_dir() {
        (true, owned(dir))
    } else {
        (false, BTreeSet::new())
    };
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let base = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    let staging = parent.join(format!(".{base}.nplc-tmp-{}", std::process::id()));
    let _ = fs::remove_dir_all(&staging);
    let result = stage(dir, existed, &previous, &staging, tree)
        .and_then(|changed| commit(dir, &staging, tree, &changed, &previous));
    let _ = fs::remove_dir_all(&staging);
    result
}

/// Renders every file and writes those that differ from what `dir` holds
/// into `staging/new`, on every core (each thread a contiguous run of files
/// in path order, so most directories belong to one run). Returns the
/// indices of the files written. Nothing in `dir` is touched; a file in
/// `dir` that nplc did not write is an error (the first, in file order).
fn stage<T: Tree + ?Sized>(
    dir: &Path,
    existed: bool,
    previous: &BTreeSet<String>,
    staging: &Path,
    tree: &T,
) -> Result<Vec<usize>, String> {
    let root = staging.join("new");
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
            if existed {
                let target = dir.join(rel);
                if previous.contains(rel) {
                    if fs::read(&target).is_ok_and(|old| old == buf.as_bytes()) {
                        continue;
                    }
                } else if target.exists() {
                    return vec![Err(format!(
                        "refusing to overwrite `{}`, which nplc did not write; move it away or choose another output directory",
                        target.display()
                    ))];
                }
            }
            let p = root.join(rel);
            if let Some(d) = p.parent() {
                if made.as_deref() != Some(d) {
                    if let Err(e) = fs::create_dir_all(d) {
                        return vec![Err(io(d, e))];
                    }
                    made = Some(d.to_path_buf());
                }
            }
            if let Err(e) = fs::write(&p, &buf) {
                return vec![Err(io(&p, e))];
            }
            changed.push(i);
        }
        vec![Ok(changed)]
    });
    let mut changed = Vec::new();
    for run in runs {
        changed.extend(run?);
    }
    Ok(changed)
}

/// Writes the ownership list, then moves the staged files into place and
/// removes stale files, undoing every step if one fails.
fn commit<T: Tree + ?Sized>(
    dir: &Path,
    staging: &Path,
    tree: &T,
    changed: &[usize],
    previous: &BTreeSet<String>,
) -> Result<(), String> {
    let mut manifest =
        String::from("# Files written by nplc; a new build replaces exactly these.\n");
    for i in 0..tree.count() {
        manifest.push_str(tree.path(i));
        manifest.push('\n');
    }
    let mp = staging.join("new").join(OWNED);
    fs::write(&mp, &manifest).map_err(|e| io(&mp, e))?;
    if !dir.exists() {
        return fs::rename(staging.join("new"), dir).map_err(|e| io(dir, e));
    }
    // move into place, keeping backups to undo on failure
    let new: BTreeSet<&str> = (0..tree.count())
        .map(|i| tree.path(i))
        .chain([OWNED])
        .collect();
    let stale: Vec<&String> = previous
        .iter()
        .filter(|p| !new.contains(p.as_str()))
        .collect();
    let mut undo: Vec<(PathBuf, Option<PathBuf>)> = Vec::new();
    let backup_root = staging.join("old");
    let mut step = |rel: &str, replace: bool| -> Result<(), String> {
        let target = dir.join(rel);
        let backup = backup_root.join(rel);
        let had = target.exists();
        if had {
            if let Some(d) = backup.parent() {
                fs::create_dir_all(d).map_err(|e| io(d, e))?;
            }
            fs::rename(&target, &backup).map_err(|e| io(&target, e))?;
        }
        undo.push((target.clone(), had.then_some(backup)));
        if replace {
            if let Some(d) = target.parent() {
                fs::create_dir_all(d).map_err(|e| io(d, e))?;
            }
            fs::rename(staging.join("new").join(rel), &target).map_err(|e| io(&target, e))?;
        }
        Ok(())
    };
    let mut result = Ok(());
    for rel in changed
        .iter()
        .map(|&i| (tree.path(i), true))
        .chain([(OWNED, true)])
        .chain(stale.iter().map(|s| (s.as_str(), false)))
    {
        if let Err(e) = step(rel.0, rel.1) {
            result = Err(e);
            break;
        }
    }
    if result.is_err() {
        for (target, backup) in undo.into_iter().rev() {
            let _ = fs::remove_file(&target);
            if let Some(b) = backup {
                let _ = fs::rename(b, &target);
            }
        }
        return result;
    }
    // remove directories left empty by stale files
    for rel in &stale {
        let mut d = dir.join(rel);
        while d.pop() && d != dir {
            if fs::remove_dir(&d).is_err() {
                break;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("nplc-outdir-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        d
    }

    fn write_tree(dir: &Path, files: &[OutFile]) -> Result<(), String> {
        write(dir, files)
    }

    fn f(path: &str, c: &str) -> OutFile {
        OutFile {
            path: path.into(),
            contents: c.into(),
        }
    }

    #[test]
    fn replaces_only_owned_files() {
        let root = tmp("owned");
        let out = root.join("out");
        write_tree(&out, &[f("a/x.yaml", "1"), f("k.yaml", "k")]).unwrap();
        fs::write(out.join("user.txt"), "mine").unwrap();
        write_tree(&out, &[f("b/y.yaml", "2"), f("k.yaml", "k2")]).unwrap();
        assert!(
            !out.join("a").exists(),
            "stale file and its empty directory are gone"
        );
        assert_eq!(fs::read_to_string(out.join("b/y.yaml")).unwrap(), "2");
        assert_eq!(fs::read_to_string(out.join("k.yaml")).unwrap(), "k2");
        assert_eq!(fs::read_to_string(out.join("user.txt")).unwrap(), "mine");
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
        let (x, y) = (ino("a/x.yaml"), ino("a/y.yaml"));
        write_tree(&out, &[f("a/x.yaml", "1"), f("a/y.yaml", "3")]).unwrap();
        assert_eq!(ino("a/x.yaml"), x, "the unchanged file is the same file");
        assert_ne!(ino("a/y.yaml"), y, "the changed file was replaced");
        assert_eq!(fs::read_to_string(out.join("a/y.yaml")).unwrap(), "3");
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
        assert!(write_tree(&out, &[f("k.yaml", "ours")]).is_err());
        assert_eq!(fs::read_to_string(out.join("k.yaml")).unwrap(), "user");
        assert_eq!(
            fs::read_dir(&root).unwrap().count(),
            1,
            "no staging left behind"
        );
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
        write(&out, &tree).unwrap();
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
        assert!(write(&out, &bigger).unwrap_err().contains("zz-user.yaml"));
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
