//! `nplc diff` and `nplc graph` on the command line: a pure refactor
//! (statements reordered, files split, a workload renamed, `nplc fmt`'s
//! layout, one statement per peer) reports no semantic change; a change
//! is reported with its line in OLD and NEW, in every format; `--git`
//! reads revisions; exit codes; node firewall and pod pairs; the graphs of
//! the examples (snapshots); DNS names by name (a name added, a pattern
//! widened, an address deny under a name, a respelling that is no change,
//! examples/egress-fqdn against a modified copy).

use crate::common;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn nplc(dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_nplc"));
    c.current_dir(dir);
    c
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("nplc-it-diff-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).to_string()
}

fn diff(dir: &Path, args: &[&str]) -> Output {
    nplc(dir).arg("diff").args(args).output().unwrap()
}

const BASE: &str = "use dns

namespace shop {
  workload web = app=web
  workload api = app=api
  allow ingress-nginx/* -> web:8080
  allow web -> api:9090
  allow egress dns
  deny api -> world:25
}
";

/// Writes `files` into a new directory, returns it.
fn tree(name: &str, files: &[(&str, &str)]) -> PathBuf {
    let d = tmp(name);
    for (f, text) in files {
        let p = d.join(f);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    d
}

/// OLD is BASE; NEW as given: no change, exit 0 under `--exit-code`.
fn assert_no_change(name: &str, new: &[(&str, &str)]) {
    let d = tree(name, &[("old/a.npl", BASE)]);
    for (f, text) in new {
        let p = d.join("new").join(f);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    let o = diff(&d, &["old", "new", "--exit-code"]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{name}: {}{}",
        stdout(&o),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        stdout(&o).contains("no semantic change"),
        "{name}: {}",
        stdout(&o)
    );
}

#[test]
fn refactors_report_no_semantic_change() {
    // statements reordered
    assert_no_change(
        "reorder",
        &[("a.npl", "use dns\n\nnamespace shop {\n  workload web = app=web\n  workload api = app=api\n  deny api -> world:25\n  allow egress dns\n  allow web -> api:9090\n  allow ingress-nginx/* -> web:8080\n}\n")],
    );
    // split into two files (two blocks of one namespace)
    assert_no_change(
        "split",
        &[
            ("a.npl", "namespace shop {\n  workload web = app=web\n  workload api = app=api\n  allow ingress-nginx/* -> web:8080\n  allow web -> api:9090\n}\n"),
            ("sub/b.npl", "use dns\n\nnamespace shop {\n  allow egress dns\n  deny app=api -> world:25\n}\n"),
        ],
    );
    // a workload renamed
    assert_no_change(
        "rename",
        &[(
            "a.npl",
            &BASE
                .replace("web", "frontend")
                .replace("app=frontend", "app=web"),
        )],
    );
    // another layout (what `nplc fmt` undoes)
    assert_no_change(
        "layout",
        &[("a.npl", "use dns\nnamespace shop{\nworkload web=app=web\n   workload   api = app=api\nallow ingress-nginx/* ->web:8080\n allow web->api:9090\nallow egress dns\ndeny api -> world:25 }\n")],
    );
    // ports and peers written otherwise: a range split in two, one statement per port
    assert_no_change(
        "ports",
        &[(
            "a.npl",
            &BASE.replace(
                "allow web -> api:9090",
                "allow web -> api:9090\n  allow app=web -> app=api:9090-9090",
            ),
        )],
    );
}

#[test]
fn fmt_of_an_example_is_no_semantic_change() {
    let d = tmp("fmt");
    let src = common::root().join("examples/payments/payments.npl");
    let scrambled = std::fs::read_to_string(&src)
        .unwrap()
        .replace("\n  ", "\n      ");
    std::fs::create_dir_all(d.join("new")).unwrap();
    std::fs::write(d.join("new/p.npl"), scrambled).unwrap();
    let f = nplc(&d).args(["fmt", "new/p.npl"]).output().unwrap();
    assert_eq!(
        f.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&f.stderr)
    );
    let o = diff(&d, &[src.to_str().unwrap(), "new/p.npl", "--exit-code"]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
}

#[test]
fn a_change_is_reported_with_its_lines_in_every_format() {
    let new = BASE
        .replace("allow web -> api:9090", "allow web -> api:9090-9091")
        .replace("  deny api -> world:25\n", "");
    let d = tree("change", &[("old/a.npl", BASE), ("new/a.npl", &new)]);
    let o = diff(&d, &["old", "new", "--exit-code"]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    let text = stdout(&o);
    // 9091 from web to api is added (new line 7); api to world:25 was
    // denied by line 9 of OLD, but nothing allows it in NEW either (shop is
    // default deny): no change there
    assert!(
        text.starts_with("old → new: 1 connection change(s): 1 added, 0 removed"),
        "{text}"
    );
    assert!(
        text.contains(
            "shop/api\n  + ingress <- web : tcp 9091\n      old: -\n      new: new/a.npl:7"
        ),
        "{text}"
    );
    // without --exit-code a change is a success
    assert_eq!(diff(&d, &["old", "new"]).status.code(), Some(0));

    let md = stdout(&diff(&d, &["old", "new", "--format", "markdown"]));
    assert!(
        md.starts_with("**nplc diff** `old` → `new`: 1 connection change(s): 1 added, 0 removed\n"),
        "{md}"
    );
    assert!(
        md.contains("<details><summary>namespace <code>shop</code>: 1 change(s)</summary>"),
        "{md}"
    );
    assert!(
        md.contains("| ➕ | `api` | ingress | `web` | tcp 9091 | - | new/a.npl:7 |"),
        "{md}"
    );
    assert!(md.contains("```mermaid\nflowchart LR\n  subgraph ns_shop[\"shop\"]\n    n0[\"shop/api\"]\n    n1[\"shop/web\"]\n  end\n  n1 -->|\"+ tcp 9091\"| n0\n```"), "{md}");

    let json: serde_json::Value =
        serde_json::from_str(&stdout(&diff(&d, &["old", "new", "--format", "json"]))).unwrap();
    assert_eq!(json["version"], 1);
    assert_eq!(json["summary"]["added"], 1);
    let c = &json["groups"][0]["changes"][0];
    assert_eq!(json["groups"][0]["workload"], "api");
    assert_eq!(c["src"], "shop/web");
    assert_eq!(c["dst"], "shop/api");
    assert_eq!(c["new"][0]["at"], "new/a.npl:7");
    assert_eq!(c["new"][0]["text"], "allow web -> api:9090-9091");
}

#[test]
fn removed_connections_name_the_old_lines_and_the_posture() {
    // opening the namespace to everything but the deny: much is added
    let new = BASE.replace("namespace shop {\n", "namespace shop {\n  default allow\n");
    let d = tree("posture", &[("old/a.npl", &new), ("new/a.npl", BASE)]);
    let json: serde_json::Value =
        serde_json::from_str(&stdout(&diff(&d, &["old", "new", "--format", "json"]))).unwrap();
    assert_eq!(json["summary"]["added"], 0, "{json}");
    assert!(json["summary"]["removed"].as_u64().unwrap() > 0);
    // every removed change names the posture line of OLD
    for g in json["groups"].as_array().unwrap() {
        for c in g["changes"].as_array().unwrap() {
            assert_eq!(c["change"], "removed");
            let old: Vec<&str> = c["old"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["at"].as_str().unwrap())
                .collect();
            assert!(
                !old.contains(&"old/a.npl:4")
                    || c["old"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|r| r["text"] == "default allow"),
                "{c}"
            );
        }
    }
    // the api's SMTP to the world stays denied: never reported
    assert!(!stdout(&diff(&d, &["old", "new"])).contains("25"));
}

#[test]
fn node_firewall_and_pod_pairs() {
    let root = common::root();
    let d = tmp("fw");
    let nodes = std::fs::read_to_string(root.join("examples/cluster/nodes.npl")).unwrap();
    std::fs::create_dir_all(d.join("new")).unwrap();
    std::fs::write(
        d.join("new/nodes.npl"),
        nodes.replace(
            "allow admin-net -> control-plane | worker:ssh",
            "allow admin-net | 10.9.0.0/16 -> control-plane:ssh",
        ),
    )
    .unwrap();
    let old = root.join("examples/cluster/nodes.npl");
    let o = diff(&d, &[old.to_str().unwrap(), "new", "--format", "json"]);
    let json: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let fw = json["firewall"].as_array().unwrap();
    let find = |role: &str, change: &str| {
        fw.iter()
            .find(|f| f["role"] == role && f["change"] == change && f["ports"] == "22")
            .unwrap_or_else(|| panic!("{role} {change} in {fw:?}"))
    };
    // the control plane's SSH is opened to 10.9.0.0/16
    assert_eq!(find("control-plane", "added")["sources"], "10.9.0.0/16");
    // no rule names the workers' SSH any more, and no component of the
    // role uses port 22: the firewall leaves it alone, open to everyone
    // (docs/firewall.md), which is what the admins had and more
    assert_eq!(
        find("worker", "added")["sources"],
        "0.0.0.0/0 except 192.168.100.0/24 | ::/0"
    );
    assert!(find("worker", "added")["new"]
        .as_array()
        .unwrap()
        .is_empty());

    // pod pairs: payments with its population, the database port widened
    let p = root.join("examples/payments");
    let src = std::fs::read_to_string(p.join("payments.npl")).unwrap();
    std::fs::write(d.join("p.npl"), src.replace("db:5432", "db:5432-5433")).unwrap();
    let o = diff(
        &d,
        &[
            p.join("payments.npl").to_str().unwrap(),
            "p.npl",
            "--pods",
            p.join("population.yaml").to_str().unwrap(),
            "--format",
            "json",
        ],
    );
    let json: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let pods = json["pods"].as_array().unwrap();
    assert!(!pods.is_empty(), "{json}");
    for pair in pods {
        assert_eq!(pair["added"], "TCP 5433", "{pair}");
        assert_eq!(pair["removed"], "none");
        assert!(pair["src"].as_str().unwrap().starts_with("payments/"));
    }
    assert_eq!(json["summary"]["pod_pairs"], pods.len());
}

fn git(dir: &Path, args: &[&str]) {
    let o = Command::new("git")
        .args([
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@t",
            "-c",
            "commit.gpgsign=false",
        ])
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn git_revisions_and_the_work_tree() {
    let d = tree("git", &[("policy/a.npl", BASE), ("README", "x")]);
    git(&d, &["init", "-q", "-b", "main"]);
    git(&d, &["add", "."]);
    git(&d, &["commit", "-qm", "one"]);
    // the work tree: unchanged
    let o = diff(&d, &["--git", "main", "--exit-code"]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}{}",
        stdout(&o),
        String::from_utf8_lossy(&o.stderr)
    );
    std::fs::write(d.join("policy/a.npl"), BASE.replace(":9090", ":9090, 9443")).unwrap();
    let o = diff(&d, &["--git", "main", "--exit-code"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stdout(&o).contains("main → work tree: 1 connection change(s): 1 added, 0 removed"),
        "{}",
        stdout(&o)
    );
    assert!(
        stdout(&o).contains("+ ingress <- web : tcp 9443"),
        "{}",
        stdout(&o)
    );
    git(&d, &["commit", "-qam", "two"]);
    let o = diff(&d, &["--git", "main~1..main", "policy", "--exit-code"]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(stdout(&o).contains("new: policy/a.npl:7"), "{}", stdout(&o));
    // from a subdirectory, paths are relative to it
    let o = diff(&d.join("policy"), &["--git", "main~1..main", "--exit-code"]);
    assert!(stdout(&o).contains("new: a.npl:7"), "{}", stdout(&o));
    // an unknown revision: E0006, exit 2
    let o = diff(&d, &["--git", "nope", "--exit-code"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("E0006"));
    let o = diff(&d, &["--git", "nope", "--error-format", "github"]);
    assert!(
        String::from_utf8_lossy(&o.stderr).starts_with("::error title=nplc E0006"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn errors_and_usage_exit_2() {
    let d = tree(
        "err",
        &[
            ("old/a.npl", BASE),
            ("new/a.npl", "namespace shop {\n  allow web -> nope:1\n}\n"),
        ],
    );
    let o = diff(&d, &["old", "new", "--exit-code"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("new/a.npl"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(diff(&d, &["old"]).status.code(), Some(2));
    assert_eq!(diff(&d, &["old", "missing"]).status.code(), Some(2));
}

#[test]
fn graphs_of_the_examples() {
    let root = common::root();
    for (name, args) in [
        ("payments.mermaid", vec!["examples/payments"]),
        ("payments.dot", vec!["examples/payments", "--format", "dot"]),
        (
            "payments-pods.mermaid",
            vec![
                "examples/payments",
                "--pods",
                "examples/payments/population.yaml",
            ],
        ),
        ("cluster-apps.mermaid", vec!["examples/cluster/apps.npl"]),
    ] {
        let o = nplc(&root).arg("graph").args(&args).output().unwrap();
        assert_eq!(
            o.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
        // deterministic
        let again = nplc(&root).arg("graph").args(&args).output().unwrap();
        assert_eq!(o.stdout, again.stdout);
        common::snapshot("../snapshots/graph", name, &stdout(&o));
    }
}

/// A program with DNS names (the cilium target's `dns:NAME`), OLD of the
/// cases below.
const NAMES: &str = "use dns, rfc1918

define providers = dns:api.stripe.com | dns:*.paypal.com

namespace shop {
  workload api = app=api
  workload worker = app=worker
  allow egress dns
  deny egress rfc1918
  allow api -> providers:443
  allow worker -> dns:*.s3.example.com:443
}
";

/// Writes OLD (`NAMES`) and NEW, returns the directory.
fn names_tree(name: &str, new: &str) -> PathBuf {
    tree(name, &[("old/a.npl", NAMES), ("new/a.npl", new)])
}

#[test]
fn dns_names_spelled_otherwise_give_no_change() {
    for (name, new) in [
        // the define inlined, the group reordered, case and a trailing dot
        (
            "dns-inline",
            NAMES
                .replace("define providers = dns:api.stripe.com | dns:*.paypal.com\n", "")
                .replace(
                    "allow api -> providers:443",
                    "allow api -> (dns:*.PayPal.com | dns:API.stripe.com.):443",
                ),
        ),
        // one statement per name, in another order, and a name that a
        // pattern of the same allow already holds
        (
            "dns-split",
            NAMES.replace(
                "allow api -> providers:443",
                "allow app=api -> dns:*.paypal.com:443\n  allow api -> (dns:api.stripe.com | dns:www.paypal.com):443",
            ),
        ),
        // the statements reordered
        (
            "dns-reorder",
            NAMES.replace(
                "  allow api -> providers:443\n  allow worker -> dns:*.s3.example.com:443\n",
                "  allow worker -> dns:*.s3.example.com:443\n  allow api -> providers:443\n",
            ),
        ),
    ] {
        let d = names_tree(name, &new);
        let o = diff(&d, &["old", "new", "--exit-code"]);
        assert_eq!(
            o.status.code(),
            Some(0),
            "{name}: {}{}",
            stdout(&o),
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(stdout(&o).contains("no semantic change"), "{name}: {}", stdout(&o));
    }
}

#[test]
fn a_dns_name_added_is_reported_by_name_in_every_format() {
    let new = NAMES.replace(
        "allow worker -> dns:*.s3.example.com:443",
        "allow worker -> dns:*.s3.example.com:443\n  allow worker -> dns:status.example.com:443",
    );
    let d = names_tree("dns-added", &new);
    let o = diff(&d, &["old", "new", "--exit-code"]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let text = stdout(&o);
    // wherever the name resolves but into the private ranges NEW denies
    // (line 9, as OLD): nothing else changes
    assert!(
        text.starts_with("old → new: 1 connection change(s): 1 added, 0 removed"),
        "{text}"
    );
    assert!(
        text.contains(
            "shop/worker\n  + egress -> dns:status.example.com (resolving into 0.0.0.0/0 except (10.0.0.0/8 | 172.16.0.0/12 | 192.168.0.0/16) | ::/0) : tcp 443\n      old: -\n      new: new/a.npl:12"
        ),
        "{text}"
    );
    let md = stdout(&diff(&d, &["old", "new", "--format", "markdown"]));
    assert!(
        md.contains("| ➕ | `worker` | egress | `dns:status.example.com (resolving into 0.0.0.0/0 except (10.0.0.0/8 \\| 172.16.0.0/12 \\| 192.168.0.0/16) \\| ::/0)` | tcp 443 | - | new/a.npl:12 |"),
        "{md}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&stdout(&diff(&d, &["old", "new", "--format", "json"]))).unwrap();
    let c = &json["groups"][0]["changes"][0];
    assert_eq!(json["groups"][0]["workload"], "worker", "{json}");
    assert_eq!(c["change"], "added");
    assert_eq!(c["direction"], "egress");
    assert_eq!(c["src"], "shop/worker");
    assert_eq!(c["by_name"]["names"], "dns:status.example.com");
    assert_eq!(
        c["by_name"]["resolving_into"],
        "0.0.0.0/0 except (10.0.0.0/8 | 172.16.0.0/12 | 192.168.0.0/16) | ::/0"
    );
    assert_eq!(
        c["new"][0]["text"],
        "allow worker -> dns:status.example.com:443"
    );
    // a change by address has no `by_name`
    let plain = tree(
        "dns-plain",
        &[
            ("old/a.npl", BASE),
            ("new/a.npl", &BASE.replace("9090", "9091")),
        ],
    );
    let json: serde_json::Value =
        serde_json::from_str(&stdout(&diff(&plain, &["old", "new", "--format", "json"]))).unwrap();
    assert!(
        json["groups"][0]["changes"][0].get("by_name").is_none(),
        "{json}"
    );
}

#[test]
fn a_pattern_widened_reports_the_names_it_adds() {
    // `dns:api.stripe.com` becomes `dns:*.stripe.com`: the other names one
    // label below stripe.com are added, api.stripe.com is unchanged
    let new = NAMES.replace("dns:api.stripe.com", "dns:*.stripe.com");
    let d = names_tree("dns-widened", &new);
    let text = stdout(&diff(&d, &["old", "new"]));
    assert!(
        text.starts_with("old → new: 1 connection change(s): 1 added, 0 removed"),
        "{text}"
    );
    assert!(
        text.contains(
            "shop/api\n  + egress -> dns:*.stripe.com except dns:api.stripe.com (resolving into"
        ),
        "{text}"
    );
    assert!(text.contains("new: new/a.npl:10"), "{text}");
    // and narrowed back: removed
    let back = tree("dns-narrowed", &[("old/a.npl", &new), ("new/a.npl", NAMES)]);
    let text = stdout(&diff(&back, &["old", "new"]));
    assert!(
        text.contains("- egress -> dns:*.stripe.com except dns:api.stripe.com (resolving into"),
        "{text}"
    );
}

#[test]
fn an_address_deny_changed_under_a_name_is_reported_by_name() {
    // NEW no longer denies 172.16.0.0/12 and 192.168.0.0/16: a name that
    // resolves there is reachable now (by address nothing changes: the
    // namespace allows no such address)
    let new = NAMES.replace("deny egress rfc1918", "deny egress 10.0.0.0/8");
    let d = names_tree("dns-deny", &new);
    let text = stdout(&diff(&d, &["old", "new"]));
    assert!(
        text.starts_with("old → new: 2 connection change(s): 2 added, 0 removed"),
        "{text}"
    );
    assert!(
        text.contains("  + egress -> dns:*.paypal.com | dns:api.stripe.com (resolving into 172.16.0.0/12 | 192.168.0.0/16) : tcp 443\n      old: old/a.npl:9, old/a.npl:10\n      new: new/a.npl:10"),
        "{text}"
    );
    assert!(
        text.contains("  + egress -> dns:*.s3.example.com (resolving into 172.16.0.0/12 | 192.168.0.0/16) : tcp 443"),
        "{text}"
    );
    // an allow of every address holds every name: a name added beside it
    // changes nothing
    let wide = NAMES.replace("allow api -> providers:443", "allow api -> world:443");
    let wider = wide.replace(
        "allow api -> world:443",
        "allow api -> world:443\n  allow api -> dns:status.example.com:443",
    );
    let d = tree("dns-world", &[("old/a.npl", &wide), ("new/a.npl", &wider)]);
    let o = diff(&d, &["old", "new", "--exit-code"]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
}

#[test]
fn the_egress_fqdn_example_against_a_modified_copy() {
    let root = common::root();
    let src = root.join("examples/egress-fqdn/checkout.npl");
    let text = std::fs::read_to_string(&src).unwrap();
    let changed = text.replace(
        "allow worker -> dns:*.s3.eu-west-1.amazonaws.com:443",
        "allow worker -> (dns:*.s3.eu-west-1.amazonaws.com | dns:*.s3.eu-central-1.amazonaws.com):443",
    );
    assert_ne!(text, changed, "the example changed: update this test");
    let d = tree("dns-example", &[("new/checkout.npl", &changed)]);
    let o = diff(&d, &[src.to_str().unwrap(), "new", "--exit-code"]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let out = stdout(&o);
    assert!(
        out.contains(
            "checkout/worker\n  + egress -> dns:*.s3.eu-central-1.amazonaws.com (resolving into"
        ),
        "{out}"
    );
    assert!(
        out.contains("1 connection change(s): 1 added, 0 removed"),
        "{out}"
    );
    // the example against itself
    let o = diff(
        &root,
        &[
            "examples/egress-fqdn",
            "examples/egress-fqdn",
            "--exit-code",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
}
