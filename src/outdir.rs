//! Writing a build's files into the output directory, all or nothing.
//! Input: the directory and the files (relative paths and contents).
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

/// Replaces the files nplc owns in `dir` by `files`.
pub fn write_tree(dir: &Path, files: &[OutFile]) -> Result<(), String> {
    if files.iter().any(|f| !safe(&f.path)) {
        return Err("refusing to write outside the output directory".into());
    }
    if dir.exists() && !dir.is_dir() {
        return Err(format!("`{}` exists and is not a directory", dir.display()));
    }
    let previous = if dir.is_dir() {
        owned(dir)
    } else {
        BTreeSet::new()
    };
    let mut changed = Vec::with_capacity(files.len());
    for f in files {
        let target = dir.join(&f.path);
        if previous.contains(&f.path) {
            if fs::read(&target).is_ok_and(|old| old == f.contents.as_bytes()) {
                continue;
            }
        } else if target.exists() {
            return Err(format!(
                "refusing to overwrite `{}`, which nplc did not write; move it away or choose another output directory",
                target.display()
            ));
        }
        changed.push(f);
    }
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
    let result = stage_and_commit(dir, &staging, files, &changed, &previous);
    let _ = fs::remove_dir_all(&staging);
    result
}

/// Writes `files` under `root`, creating their directories.
fn write_run(root: &Path, files: &[&OutFile]) -> Result<(), String> {
    let mut made: Option<PathBuf> = None;
    for f in files {
        let p = root.join(&f.path);
        if let Some(d) = p.parent() {
            if made.as_deref() != Some(d) {
                fs::create_dir_all(d).map_err(|e| io(d, e))?;
                made = Some(d.to_path_buf());
            }
        }
        fs::write(&p, &f.contents).map_err(|e| io(&p, e))?;
    }
    Ok(())
}

/// Stages the `changed` files and the ownership list, then moves them into
/// place and removes stale files; `files` are all the build's files.
fn stage_and_commit(
    dir: &Path,
    staging: &Path,
    files: &[OutFile],
    changed: &[&OutFile],
    previous: &BTreeSet<String>,
) -> Result<(), String> {
    let root = staging.join("new");
    fs::create_dir_all(&root).map_err(|e| io(staging, e))?;
    // Creating files is the kernel's work and scales with cores: each thread
    // writes a contiguous run of files (in path order, so most directories
    // belong to one run); the first error, in file order, is reported.
    let written = crate::par::map_chunks(changed, |run| vec![write_run(&root, run)]);
    written.into_iter().collect::<Result<(), String>>()?;
    let mut manifest =
        String::from("# Files written by nplc; a new build replaces exactly these.\n");
    for f in files {
        manifest.push_str(&f.path);
        manifest.push('\n');
    }
    let mp = staging.join("new").join(OWNED);
    fs::write(&mp, &manifest).map_err(|e| io(&mp, e))?;
    if !dir.exists() {
        return fs::rename(staging.join("new"), dir).map_err(|e| io(dir, e));
    }
    // move into place, keeping backups to undo on failure
    let new: BTreeSet<String> = files
        .iter()
        .map(|f| f.path.clone())
        .chain([OWNED.to_string()])
        .collect();
    let stale: Vec<String> = previous
        .iter()
        .filter(|p| !new.contains(*p))
        .cloned()
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
        .map(|f| (f.path.as_str(), true))
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
}
