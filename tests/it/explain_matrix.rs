//! `nplc explain` and `nplc matrix` as a user runs them: a small program
//! and population written to a temporary directory, output and exit codes.

use std::path::PathBuf;
use std::process::{Command, Output};

const PROGRAM: &str = "\
namespace shop {
  workload web = app=web
  workload db = app=db
  allow web -> db:5432
  allow ingress ops/*
  allow egress world:443
  deny egress 169.254.169.254
}
";

const POPULATION: &str = "\
apiVersion: v1
kind: Namespace
metadata:
  name: shop
---
apiVersion: v1
kind: Namespace
metadata:
  name: ops
  labels:
    team: ops
---
apiVersion: v1
kind: Pod
metadata:
  name: web-0
  namespace: shop
  labels:
    app: web
spec:
  containers:
  - name: main
    image: web:1
---
apiVersion: v1
kind: Pod
metadata:
  name: db-0
  namespace: shop
  labels:
    app: db
spec:
  containers:
  - name: main
    image: db:1
    ports:
    - name: pg
      containerPort: 5432
---
apiVersion: v1
kind: Pod
metadata:
  name: probe-0
  namespace: ops
  labels:
    app: probe
spec:
  containers:
  - name: main
    image: probe:1
";

fn setup(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("nplc-it-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(d.join("shop.npl"), PROGRAM).unwrap();
    std::fs::write(d.join("pods.yaml"), POPULATION).unwrap();
    d
}

fn nplc(dir: &PathBuf, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_nplc"))
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn explain_names_the_deciding_statements_and_policies() {
    let d = setup("explain");
    let o = nplc(
        &d,
        &[
            "explain",
            "shop.npl",
            "--pods",
            "pods.yaml",
            "--from",
            "shop/web-0",
            "--to",
            "shop/db-0:5432",
        ],
    );
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let s = stdout(&o);
    assert!(
        s.starts_with("shop/web-0 -> shop/db-0 TCP/5432: allowed\n"),
        "{s}"
    );
    assert!(
        s.contains("allowed by:\n    shop.npl:4  allow web -> db:5432\n"),
        "{s}"
    );
    assert!(
        s.contains("generated policies selecting shop/web-0: shop/shop-default, shop/shop-web"),
        "{s}"
    );
    assert!(
        s.contains("the program and the generated policies agree"),
        "{s}"
    );

    // a made-up pod, an address, no population
    let o = nplc(
        &d,
        &[
            "explain",
            "shop.npl",
            "--from",
            "shop/app=web",
            "--to",
            "169.254.169.254:443",
        ],
    );
    assert_eq!(o.status.code(), Some(0));
    let s = stdout(&o);
    assert!(
        s.starts_with("shop/{app=web} -> 169.254.169.254 TCP/443: denied\n"),
        "{s}"
    );
    assert!(
        s.contains("denied by:\n    shop.npl:7  deny egress 169.254.169.254\n"),
        "{s}"
    );

    // an unmanaged source
    let o = nplc(
        &d,
        &[
            "explain",
            "shop.npl",
            "--pods",
            "pods.yaml",
            "--from",
            "ops/probe-0",
            "--to",
            "shop/db-0:9999/udp",
        ],
    );
    let s = stdout(&o);
    assert!(
        s.contains("egress of ops/probe-0: permits\n  namespace `ops` is not managed"),
        "{s}"
    );
    assert!(
        s.starts_with("ops/probe-0 -> shop/db-0 UDP/9999: allowed"),
        "{s}"
    );
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn explain_usage_errors_exit_2() {
    let d = setup("explain-usage");
    for args in [
        &[
            "explain",
            "shop.npl",
            "--from",
            "shop/web-0",
            "--to",
            "shop/db-0:5432",
        ][..],
        &[
            "explain",
            "shop.npl",
            "--pods",
            "pods.yaml",
            "--from",
            "shop/nope",
            "--to",
            "shop/db-0:5432",
        ][..],
        &[
            "explain",
            "shop.npl",
            "--pods",
            "missing.yaml",
            "--from",
            "shop/web-0",
            "--to",
            "shop/db-0:5432",
        ][..],
        &[
            "explain",
            "shop.npl",
            "--from",
            "shop/app=web",
            "--to",
            "shop/app=db",
        ][..],
        &["explain", "shop.npl", "--from", "shop/app=web"][..],
    ] {
        let o = nplc(&d, args);
        assert_eq!(
            o.status.code(),
            Some(2),
            "{args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    std::fs::write(d.join("bad.npl"), "namespace shop { allow web -> }\n").unwrap();
    let o = nplc(
        &d,
        &[
            "explain",
            "bad.npl",
            "--from",
            "shop/app=web",
            "--to",
            "shop/app=db:1",
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    let _ = std::fs::remove_dir_all(&d);
}

/// A first day: a mistyped pod name gets the closest pod of the population,
/// and no failure of `check`, `explain` or `matrix` (source errors, I/O or
/// usage errors) says that nothing was written: they never write.
#[test]
fn explain_suggests_the_closest_pod_and_queries_never_speak_of_writing() {
    let d = setup("explain-typo");
    let o = nplc(
        &d,
        &[
            "explain",
            "shop.npl",
            "--pods",
            "pods.yaml",
            "--from",
            "shop/web-9",
            "--to",
            "shop/db-0:5432",
        ],
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("no pod `shop/web-9` in the population; did you mean `shop/web-0`?"),
        "{err}"
    );
    std::fs::write(d.join("bad.npl"), "namespace shop { allow web -> }\n").unwrap();
    for args in [
        &["check", "bad.npl"][..],
        &["check", "missing.npl"][..],
        &[
            "explain",
            "bad.npl",
            "--from",
            "shop/app=web",
            "--to",
            "shop/app=db:1",
        ][..],
        &[
            "explain",
            "missing.npl",
            "--from",
            "shop/app=web",
            "--to",
            "shop/app=db:1",
        ][..],
        &[
            "explain",
            "shop.npl",
            "--pods",
            "pods.yaml",
            "--from",
            "shop/web-9",
            "--to",
            "shop/db-0:1",
        ][..],
        &["matrix", "bad.npl", "--pods", "pods.yaml"][..],
        &["matrix", "shop.npl", "--pods", "missing.yaml"][..],
    ] {
        let o = nplc(&d, args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_ne!(o.status.code(), Some(0), "{args:?}");
        assert!(err.contains("error"), "{args:?}: {err}");
        assert!(!err.contains("nothing was written"), "{args:?}: {err}");
    }
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn matrix_formats() {
    let d = setup("matrix");
    let o = nplc(
        &d,
        &[
            "matrix",
            "shop.npl",
            "--pods",
            "pods.yaml",
            "--format",
            "csv",
        ],
    );
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let csv = stdout(&o);
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "src,dst,protocol,port,allowed");
    // 3 pods x 3 pods x probes TCP/443, TCP/5432 (443 from `world:443`, 5432 from the program and db-0)
    assert_eq!(lines.len(), 1 + 9 * 2, "{csv}");
    assert!(lines.contains(&"shop/web-0,shop/db-0,TCP,5432,true"));
    assert!(lines.contains(&"shop/web-0,shop/db-0,TCP,443,false"));
    assert!(lines.contains(&"ops/probe-0,shop/db-0,TCP,443,true"));
    assert!(lines.contains(&"shop/db-0,shop/web-0,TCP,5432,false"));
    // sorted: by source, destination, protocol, port
    let mut sorted = lines[1..].to_vec();
    sorted.sort_by_key(|l| {
        let f: Vec<&str> = l.split(',').collect();
        (
            f[0].to_string(),
            f[1].to_string(),
            f[2].to_string(),
            f[3].parse::<u16>().unwrap(),
        )
    });
    assert_eq!(sorted, lines[1..].to_vec());

    let o = nplc(
        &d,
        &[
            "matrix",
            "shop.npl",
            "--pods",
            "pods.yaml",
            "--format",
            "json",
            "--ports",
            "5432,udp/53",
        ],
    );
    assert_eq!(o.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 9 * 2);
    assert_eq!(
        v[0],
        serde_json::json!({"src": "ops/probe-0", "dst": "ops/probe-0", "protocol": "TCP", "port": 5432, "allowed": true})
    );

    let o = nplc(
        &d,
        &[
            "matrix",
            "shop.npl",
            "--pods",
            "pods.yaml",
            "--ports",
            "5432",
        ],
    );
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(
        stdout(&o),
        "TCP/5432\n\
         from \\ to    ops/probe-0  shop/db-0  shop/web-0\n\
         ops/probe-0  yes          yes        yes\n\
         shop/db-0    -            -          -\n\
         shop/web-0   -            yes        -\n"
    );

    // the same output twice
    let again = nplc(
        &d,
        &[
            "matrix",
            "shop.npl",
            "--pods",
            "pods.yaml",
            "--format",
            "csv",
        ],
    );
    assert_eq!(stdout(&again), csv);
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn matrix_usage_errors_exit_2() {
    let d = setup("matrix-usage");
    assert_eq!(
        nplc(&d, &["matrix", "shop.npl"]).status.code(),
        Some(2),
        "--pods is required"
    );
    assert_eq!(
        nplc(&d, &["matrix", "shop.npl", "--pods", "missing.yaml"])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(
        nplc(
            &d,
            &["matrix", "shop.npl", "--pods", "pods.yaml", "--ports", "0"]
        )
        .status
        .code(),
        Some(2)
    );
    assert_eq!(
        nplc(
            &d,
            &[
                "matrix",
                "shop.npl",
                "--pods",
                "pods.yaml",
                "--format",
                "xml"
            ]
        )
        .status
        .code(),
        Some(2)
    );
    std::fs::write(d.join("broken.yaml"), "kind: Pod\nmetadata: [\n").unwrap();
    let o = nplc(
        &d,
        &[
            "matrix",
            "shop.npl",
            "--pods",
            "broken.yaml",
            "--error-format",
            "json",
        ],
    );
    assert_eq!(o.status.code(), Some(2));
    let v: serde_json::Value = serde_json::from_slice(&o.stderr).unwrap();
    assert_eq!(v[0]["code"], "E0002");
    let _ = std::fs::remove_dir_all(&d);
}

/// A flag value that cannot be used is E0003 (not an I/O error), in both
/// formats, and never says that nothing was written.
#[test]
fn bad_flag_values_are_usage_errors() {
    let d = setup("usage-code");
    for args in [
        &["matrix", "shop.npl", "--pods", "pods.yaml", "--ports", "0"][..],
        &[
            "explain",
            "shop.npl",
            "--from",
            "shop/app=web",
            "--to",
            "shop/db-0:5432",
        ][..],
        &[
            "explain",
            "shop.npl",
            "--pods",
            "pods.yaml",
            "--from",
            "shop/no-such-pod",
            "--to",
            "shop/db-0:5432",
        ][..],
    ] {
        let o = nplc(&d, args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        let text = String::from_utf8_lossy(&o.stderr);
        assert!(text.contains("error[E0003]"), "{args:?}: {text}");
        assert!(!text.contains("nothing was written"), "{args:?}: {text}");
        let mut json = args.to_vec();
        json.extend(["--error-format", "json"]);
        let o = nplc(&d, &json);
        let v: serde_json::Value = serde_json::from_slice(&o.stderr).unwrap();
        assert_eq!(v[0]["code"], "E0003", "{args:?}");
    }
    let _ = std::fs::remove_dir_all(&d);
}
