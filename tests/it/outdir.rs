//! The output directory under attack, crash and concurrency, through the
//! real binary: a tampered ownership list, refused directories, a directory
//! on another file system, builds racing for one directory, and builds
//! stopped at every step of their switch and killed at random moments.
//! After each, the next build must succeed and leave the directory equal
//! to a clean build (same files, same bytes, no staging or journal left).

use crate::common;
use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn nplc() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_nplc"));
    c.current_dir(common::root());
    c.env_remove("NPLC_TEST_OUTDIR");
    c
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("nplc-it-outdir-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn build(src: &Path, out: &Path) -> Output {
    nplc()
        .args(["build", "-o"])
        .arg(out)
        .arg(src)
        .output()
        .unwrap()
}

fn build_ok(src: &Path, out: &Path) -> String {
    let o = build(src, out);
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(o.status.code(), Some(0), "{err}");
    err
}

/// Every file (path and bytes) and every directory (path and `/`) under
/// `dir`, links as links: the whole state a build leaves.
fn listing(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(base: &Path, d: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            let rel = p.strip_prefix(base).unwrap().display().to_string();
            let m = std::fs::symlink_metadata(&p).unwrap();
            if m.is_dir() {
                out.insert(rel + "/", Vec::new());
                walk(base, &p, out);
            } else if m.is_file() {
                out.insert(rel, std::fs::read(&p).unwrap());
            } else {
                out.insert(rel + "@", Vec::new());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// Checks `out` equals the clean build `clean`, naming the first
/// difference.
fn assert_same(out: &Path, clean: &BTreeMap<String, Vec<u8>>, context: &str) {
    let got = listing(out);
    if &got != clean {
        // the first few differences of each kind
        let only = |a: &BTreeMap<String, Vec<u8>>, b: &BTreeMap<String, Vec<u8>>| {
            a.keys()
                .filter(|k| !b.contains_key(*k))
                .take(8)
                .cloned()
                .collect::<Vec<_>>()
        };
        let differ: Vec<&String> = got
            .iter()
            .filter(|(k, v)| clean.get(*k).is_some_and(|c| c != *v))
            .map(|(k, _)| k)
            .take(8)
            .collect();
        panic!(
            "{context}: the directory differs from a clean build\nonly here: {:?}\nonly in the clean build: {:?}\ndifferent bytes: {differ:?}",
            only(&got, clean),
            only(clean, &got),
        );
    }
}

/// A program of `n` namespaces (one file each) starting at `first`;
/// `odd_port` changes the odd namespaces' rules, so that two variants share
/// some files, differ in others, and each has namespaces the other lacks.
fn program(dir: &Path, first: usize, n: usize, odd_port: u32) -> PathBuf {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).unwrap();
    for i in first..first + n {
        let port = if i % 2 == 1 { odd_port } else { 8000 };
        std::fs::write(
            dir.join(format!("ns{i:03}.npl")),
            format!(
                "use dns\nnamespace ns-{i:03} {{\n  workload web = app=web\n  workload api = app=api\n  allow egress dns\n  allow web -> api:{port}\n  allow api -> app=db:5432\n  allow egress world:443\n}}\n"
            ),
        )
        .unwrap();
    }
    dir.to_path_buf()
}

/// Two programs (`n` namespaces each, half of them shared) and a clean
/// build of each.
struct Variants {
    src: [PathBuf; 2],
    clean: [BTreeMap<String, Vec<u8>>; 2],
}

fn variants(root: &Path, n: usize) -> Variants {
    let a = program(&root.join("src-a"), 0, n, 8000);
    let b = program(&root.join("src-b"), n / 2, n, 9000);
    let mut clean = [BTreeMap::new(), BTreeMap::new()];
    for (i, src) in [&a, &b].into_iter().enumerate() {
        let out = root.join(format!("clean-{i}"));
        build_ok(src, &out);
        clean[i] = listing(&out);
        assert!(clean[i].contains_key(".nplc-owned") && !clean[i].contains_key(".nplc-lock"));
    }
    Variants { src: [a, b], clean }
}

/// splitmix64: a seeded generator for the random tests, std only.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

#[test]
fn a_tampered_ownership_list_removes_nothing_outside() {
    // the reproducer of issue 11, relative paths and all
    let cwd = tmp("tampered");
    std::fs::write(cwd.join("victim.txt"), "precious\n").unwrap();
    std::fs::create_dir(cwd.join("keep")).unwrap();
    std::fs::write(cwd.join("keep/f"), "x\n").unwrap();
    let run = || {
        nplc()
            .current_dir(&cwd)
            .arg("build")
            .arg(common::root().join("examples/payments"))
            .args(["-o", "out"])
            .output()
            .unwrap()
    };
    assert_eq!(run().status.code(), Some(0));
    let list = cwd.join("out/.nplc-owned");
    let lines = std::fs::read_to_string(&list).unwrap().lines().count();
    let mut text = std::fs::read_to_string(&list).unwrap();
    text.push_str("../victim.txt\n../keep\n");
    std::fs::write(&list, &text).unwrap();
    let before = listing(&cwd.join("out"));
    let o = run();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&format!("`out/.nplc-owned:{}`: `../victim.txt`", lines + 1)),
        "{err}"
    );
    assert!(err.contains("nothing was written"), "{err}");
    assert_eq!(
        std::fs::read_to_string(cwd.join("victim.txt")).unwrap(),
        "precious\n"
    );
    assert_eq!(std::fs::read_to_string(cwd.join("keep/f")).unwrap(), "x\n");
    assert_eq!(listing(&cwd.join("out")), before, "nothing changed in out/");
    let _ = std::fs::remove_dir_all(&cwd);
}

#[test]
fn refuses_a_repository_and_the_home_directory() {
    let root = tmp("refused");
    let payments = common::root().join("examples/payments");
    // a Git work tree (the mistake `-o .` in a repository)
    let repo = root.join("repo");
    std::fs::create_dir_all(repo.join(".git")).unwrap();
    std::fs::write(repo.join("README"), "mine").unwrap();
    let before = listing(&repo);
    let o = build(&payments, &repo);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("Git repository"), "{err}");
    assert_eq!(listing(&repo), before, "nothing written");
    // the home directory
    let home = root.join("home");
    std::fs::create_dir(&home).unwrap();
    let o = nplc()
        .env("HOME", &home)
        .arg("build")
        .arg(&payments)
        .arg("-o")
        .arg(&home)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("home directory"), "{err}");
    assert!(listing(&home).is_empty(), "nothing written");
    // unless nplc made it its own before
    std::fs::write(repo.join(".nplc-owned"), "").unwrap();
    build_ok(&payments, &repo);
    assert!(repo.join("kustomization.yaml").is_file());
    assert_eq!(
        std::fs::read_to_string(repo.join("README")).unwrap(),
        "mine"
    );
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn says_what_it_did_and_only_build_says_nothing_was_written() {
    let root = tmp("summary");
    let out = root.join("out");
    let payments = common::root().join("examples/payments");
    let shown = format!("{}/", out.display());
    let err = build_ok(&payments, &out);
    assert_eq!(
        err.lines().last(),
        Some(format!("wrote 4 files to {shown} (4 changed, 0 unchanged, 0 removed)").as_str()),
        "{err}"
    );
    let err = build_ok(&payments, &out);
    assert_eq!(
        err.lines().last(),
        Some(format!("wrote 4 files to {shown} (0 changed, 4 unchanged, 0 removed)").as_str())
    );
    let err = build_ok(&common::root().join("examples/cluster"), &out);
    assert_eq!(
        err.lines().last(),
        Some(format!("wrote 9 files to {shown} (9 changed, 0 unchanged, 3 removed)").as_str())
    );
    // JSON diagnostics stay the only thing on standard error
    let o = nplc()
        .args(["build", "examples/payments", "--error-format", "json", "-o"])
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0));
    serde_json::from_slice::<serde_json::Value>(&o.stderr).unwrap();
    // commands that never write do not claim they wrote nothing
    let bad = "tests/cases/E0101-unknown-name.npl";
    for args in [
        vec!["check", bad],
        vec!["explain", bad, "--from", "a/b", "--to", "c/d:80"],
        vec!["matrix", bad, "--pods", "examples/payments/population.yaml"],
    ] {
        let o = nplc().args(&args).output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {err}");
        assert!(err.contains("error: 1 error(s)"), "{args:?}: {err}");
        assert!(!err.contains("nothing was written"), "{args:?}: {err}");
    }
    let o = nplc()
        .args(["build", bad, "-o"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&o.stderr).contains("; nothing was written"));
    let _ = std::fs::remove_dir_all(&root);
}

/// A directory on a file system of its own (a Docker or CI volume): the
/// build must not stage beside it. `/dev/shm` stands in for the volume,
/// reached through a link from the temporary directory, so that the
/// output directory's parent is on another file system than the directory.
#[cfg(unix)]
#[test]
fn builds_into_a_directory_on_another_file_system() {
    use std::os::unix::fs::MetadataExt;
    let root = tmp("xdev");
    let dev = |p: &Path| std::fs::metadata(p).map(|m| m.dev()).ok();
    let Some(shm) = ["/dev/shm", "/run/shm"]
        .iter()
        .map(Path::new)
        .find(|p| p.is_dir() && dev(p).is_some() && dev(p) != dev(&root))
    else {
        println!("skipped: no tmpfs on another device than the temporary directory");
        return;
    };
    let volume = shm.join(format!("nplc-it-outdir-xdev-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&volume);
    let v = variants(&root, 4);
    // the mount point exists before the first build, as a volume does
    std::fs::create_dir_all(volume.join("out")).unwrap();
    std::os::unix::fs::symlink(volume.join("out"), root.join("out")).unwrap();
    for i in [0, 1, 0] {
        build_ok(&v.src[i], &root.join("out"));
        assert_same(&volume.join("out"), &v.clean[i], "through the link");
    }
    assert_eq!(
        std::fs::read_dir(&root).unwrap().count(),
        5,
        "nothing staged beside the directory: {:?}",
        listing(&root)
            .keys()
            .filter(|k| !k.contains('/'))
            .collect::<Vec<_>>()
    );
    // and a directory made there
    for i in [1, 0] {
        build_ok(&v.src[i], &volume.join("direct"));
        assert_same(&volume.join("direct"), &v.clean[i], "on tmpfs");
    }
    let _ = std::fs::remove_dir_all(&volume);
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn a_second_build_waits_for_the_lock() {
    let root = tmp("lock");
    let v = variants(&root, 4);
    let out = root.join("out");
    build_ok(&v.src[0], &out);
    // this test holds the lock, as a build writing the directory does
    let held = std::fs::File::create(out.join(".nplc-lock")).unwrap();
    held.lock().unwrap();
    let mut child = nplc()
        .arg("build")
        .arg(&v.src[1])
        .arg("-o")
        .arg(&out)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    err.read_line(&mut line).unwrap();
    assert!(
        line.starts_with("waiting for another nplc build to finish writing"),
        "{line}"
    );
    let mut waiting = v.clean[0].clone();
    waiting.insert(".nplc-lock".into(), Vec::new());
    assert_same(&out, &waiting, "nothing changes while it waits");
    drop(held);
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut err, &mut rest).unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(0), "{rest}");
    assert_same(&out, &v.clean[1], "after the wait");
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn concurrent_builds_end_in_a_clean_tree() {
    let root = tmp("concurrent");
    let v = variants(&root, 12);
    let mut rng = Rng(11);
    let mut waited = 0;
    for round in 0..4 {
        let out = root.join(format!("out-{round}"));
        if round % 2 == 1 {
            build_ok(&v.src[1], &out);
        }
        let children: Vec<_> = (0..8)
            .map(|_| {
                let which = rng.below(2) as usize;
                let child = nplc()
                    .arg("build")
                    .arg(&v.src[which])
                    .arg("-o")
                    .arg(&out)
                    .stdout(Stdio::null())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap();
                (which, child)
            })
            .collect();
        for (which, child) in children {
            let o = child.wait_with_output().unwrap();
            let err = String::from_utf8_lossy(&o.stderr);
            assert_eq!(o.status.code(), Some(0), "variant {which}: {err}");
            waited += usize::from(err.contains("waiting for another nplc build"));
        }
        // whichever build was last, the tree is exactly one clean build
        // (and so is its ownership list)
        let got = listing(&out);
        assert!(
            got == v.clean[0] || got == v.clean[1],
            "round {round}: a mixed tree"
        );
        let which = usize::from(got == v.clean[1]);
        build_ok(&v.src[1 - which], &out);
        assert_same(&out, &v.clean[1 - which], "the next build");
    }
    println!("32 concurrent builds, {waited} of them waited for the lock");
    let _ = std::fs::remove_dir_all(&root);
}

/// The file system steps of a build, stopped before each one in turn (the
/// test hook `NPLC_TEST_OUTDIR=crash:N` exits there, leaving everything as
/// a kill would), from an empty directory and from the other variant's
/// tree; then a second build stopped while it rolls the first back; then
/// a build that must succeed and leave exactly a clean build.
#[test]
fn a_build_stopped_at_any_step_is_recovered() {
    let root = tmp("steps");
    let v = variants(&root, 4);
    let mut rng = Rng(7);
    let mut crashes = 0;
    let mut journals = 0;
    for (from, to) in [(None, 1), (Some(0), 1), (Some(1), 0)] {
        let mut step = 1;
        loop {
            let out = root.join("out");
            let _ = std::fs::remove_dir_all(&out);
            if let Some(f) = from {
                build_ok(&v.src[f], &out);
            }
            let o = nplc()
                .env("NPLC_TEST_OUTDIR", format!("crash:{step}"))
                .arg("build")
                .arg(&v.src[to])
                .arg("-o")
                .arg(&out)
                .output()
                .unwrap();
            if o.status.code() == Some(0) {
                // past the last step
                assert_same(&out, &v.clean[to], "a build not stopped");
                break;
            }
            assert_eq!(
                o.status.code(),
                Some(99),
                "{}",
                String::from_utf8_lossy(&o.stderr)
            );
            crashes += 1;
            journals += usize::from(out.join(".nplc-journal").exists());
            // the next build is stopped too, early in its recovery, now and then
            if step % 3 == 0 {
                let early = 1 + rng.below(4);
                let o = nplc()
                    .env("NPLC_TEST_OUTDIR", format!("crash:{early}"))
                    .arg("build")
                    .arg(&v.src[from.unwrap_or(0)])
                    .arg("-o")
                    .arg(&out)
                    .output()
                    .unwrap();
                assert!(matches!(o.status.code(), Some(0 | 99)));
                crashes += 1;
            }
            // recover into either variant
            let next = if step % 2 == 0 { to } else { 1 - to };
            let err = build_ok(&v.src[next], &out);
            assert_same(
                &out,
                &v.clean[next],
                &format!("stopped at step {step} of {from:?} -> {to}"),
            );
            if out.join(".nplc-journal").exists() {
                panic!("journal left: {err}");
            }
            step += 1;
        }
        assert!(step > 20, "a build has more steps than {step}");
    }
    assert!(journals > 0, "some stops fell in a switch");
    println!("{crashes} builds stopped, {journals} of them in the switch");
    let _ = std::fs::remove_dir_all(&root);
}

/// `kill -9` at random moments, 50 times, on builds of 193 files that
/// replace, add and remove about half of them. Half of the builds pause a
/// millisecond before each file system step (test hook `pause:MICROS`), so
/// that more kills land in the switch; each is killed after a delay drawn
/// from how long such a build takes here. One to three killed builds in a
/// row, then a build that must succeed and leave exactly a clean build.
/// Seeded: the delays drawn are the same every run.
#[test]
fn a_build_killed_at_random_moments_is_recovered() {
    let root = tmp("kill");
    let v = variants(&root, 48);
    let out = root.join("out");
    let mut rng = Rng(2024);
    let run = |which: usize, pause: bool| {
        let mut c = nplc();
        if pause {
            c.env("NPLC_TEST_OUTDIR", "pause:1000");
        }
        c.arg("build")
            .arg(&v.src[which])
            .arg("-o")
            .arg(&out)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    // how long a build from the other variant takes here, to spread the
    // kills over it
    build_ok(&v.src[0], &out);
    let mut span = [0u64; 2];
    for (pause, s) in span.iter_mut().enumerate() {
        let t = std::time::Instant::now();
        assert!(run(1 - pause, pause == 1).wait().unwrap().success());
        *s = (t.elapsed().as_micros() as u64).max(1000);
    }
    let t = std::time::Instant::now();
    let (mut kills, mut in_switch, mut staged, mut finished) = (0, 0, 0, 0);
    let mut which = 0;
    while kills < 50 {
        for _ in 0..1 + rng.below(3) {
            which = 1 - which;
            let pause = rng.below(2) as usize;
            let mut child = run(which, pause == 1);
            std::thread::sleep(std::time::Duration::from_micros(rng.below(span[pause])));
            let _ = child.kill();
            let st = child.wait().unwrap();
            kills += 1;
            finished += usize::from(st.success());
            in_switch += usize::from(out.join(".nplc-journal").exists());
            staged += usize::from(std::fs::read_dir(&out).is_ok_and(|d| {
                d.flatten()
                    .any(|e| e.file_name().to_string_lossy().starts_with(".nplc-stage-"))
            }));
        }
        which = rng.below(2) as usize;
        build_ok(&v.src[which], &out);
        assert_same(&out, &v.clean[which], &format!("after {kills} kills"));
    }
    println!(
        "{kills} builds killed in {:.1} s: {in_switch} in the switch, {staged} with staging left, {finished} finished first; a build takes {} ms, {} ms pausing",
        t.elapsed().as_secs_f64(),
        span[0] / 1000,
        span[1] / 1000
    );
    let _ = std::fs::remove_dir_all(&root);
}
