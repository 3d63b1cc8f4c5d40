//! The cilium target (docs/targets.md) proved like the k8s target: on the
//! random programs and clusters of `props` (the same generators), the
//! Cilium evaluator (`eval::cilium`, Cilium's documented semantics) on the
//! emitted CiliumNetworkPolicies, read back from their YAML, must equal the
//! intent evaluator on the program, connection by connection; and where
//! both targets accept a program, the two outputs must permit the same
//! connections. `PROPTEST_CASES` overrides the number of programs
//! (default 1,000). Beside it: every example builds for the cilium target
//! (a snapshot each, `tests/snapshots/cilium/`), the output is canonical,
//! and refusals are the documented ones.

use crate::props::{case, case_with_dns, cases, describe_endpoint, Case, OTHER_PORT};
use nplc::driver::{compile_for, Compilation, Input};
use nplc::emit::cilium::CiliumPolicy;
use nplc::emit::Target;
use nplc::eval::k8s::Connection;
use nplc::eval::{cilium, intent, k8s};
use nplc::population::Endpoint;
use proptest::test_runner::{Config, TestCaseError, TestError, TestRunner};
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};

/// Codes a generated program may be refused with on the cilium target: a
/// named port on an isolated egress side towards pods whose ingress side
/// does not decide (E0503), an emptied side (E0109), and DNS names whose
/// sources the program does not permit to reach kube-dns (E0505).
const CILIUM_REJECTIONS: [&str; 3] = ["E0503", "E0109", "E0505"];

fn build(text: &str, target: Target) -> Compilation {
    compile_for(
        &[Input {
            name: "prop.npl".into(),
            text: text.to_string(),
        }],
        target,
    )
}

fn errors(c: &Compilation) -> BTreeSet<String> {
    c.diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(|d| d.code.to_string())
        .collect()
}

/// The objects as written: each manifest's YAML read back.
fn read_back(c: &Compilation) -> Result<Vec<CiliumPolicy>, String> {
    c.cilium
        .iter()
        .map(|m| {
            let text = m.to_yaml();
            let back: CiliumPolicy = serde_yaml::from_str(&text)
                .map_err(|e| format!("emitted YAML does not read back: {e}\n{text}"))?;
            if back != m.object {
                return Err(format!("YAML reads back as another object:\n{text}"));
            }
            Ok(back)
        })
        .collect()
}

#[derive(Default, Debug)]
struct Tally {
    compiled: usize,
    rejected: BTreeMap<String, usize>,
    connections: usize,
    both: usize,
    cilium_bytes: usize,
    k8s_bytes: usize,
    /// Compiled programs with DNS names (which the k8s target refuses, E0504).
    with_names: usize,
    /// Of those, compiled with a `toFQDNs` rule in the output.
    with_fqdn_rules: usize,
}

/// Every connection of the case's cluster (pods and a few external
/// addresses, every protocol, the probe ports): the first on which
/// `agree` fails.
fn first_disagreement(
    case: &Case,
    n: &mut usize,
    agree: &mut dyn FnMut(&nplc::population::Population, &Connection) -> Result<(), String>,
) -> Option<String> {
    let pop = case.population();
    let ports = case.probe_ports(&pop);
    let mut endpoints: Vec<Endpoint> = (0..pop.pods.len()).map(Endpoint::Pod).collect();
    endpoints.extend(
        case.external_addresses()
            .into_iter()
            .map(Endpoint::External),
    );
    for &src in &endpoints {
        for &dst in &endpoints {
            let both_external =
                matches!((src, dst), (Endpoint::External(_), Endpoint::External(_)));
            for (proto, nums) in &ports {
                for &port in nums {
                    if both_external && port != OTHER_PORT {
                        continue;
                    }
                    let conn = Connection {
                        src,
                        dst,
                        protocol: *proto,
                        port,
                    };
                    *n += 1;
                    if let Err(why) = agree(&pop, &conn) {
                        return Some(format!(
                            "connection {} -> {} on {}/{}: {why}",
                            describe_endpoint(&pop, src),
                            describe_endpoint(&pop, dst),
                            proto.k8s_name(),
                            port
                        ));
                    }
                }
            }
        }
    }
    None
}

fn check_case(case: &Case, tally: &RefCell<Tally>) -> Result<(), TestCaseError> {
    let src = case.source();
    let c = build(&src, Target::Cilium);
    let codes = errors(&c);
    if !codes.is_empty() {
        // an error of the program itself (the k8s target reports it too,
        // e.g. E0112 for a generated `on ingress` towards addresses) is
        // not the target's to explain
        let k8s_codes = errors(&build(&src, Target::K8s));
        let unexpected: Vec<&String> = codes
            .iter()
            .filter(|c| !CILIUM_REJECTIONS.contains(&c.as_str()) && !k8s_codes.contains(*c))
            .collect();
        if !unexpected.is_empty() {
            return Err(TestCaseError::fail(format!(
                "unexpected rejection for cilium {unexpected:?}:\n{}",
                nplc::diag::render_human(&c.sources, &c.diagnostics)
            )));
        }
        let mut t = tally.borrow_mut();
        for code in codes {
            *t.rejected.entry(code).or_default() += 1;
        }
        return Ok(());
    }
    let Some(prog) = &c.program else {
        return Err(TestCaseError::fail("no program without errors"));
    };
    let policies = read_back(&c).map_err(TestCaseError::fail)?;
    let mut n = 0;
    let mismatch = first_disagreement(case, &mut n, &mut |pop, conn| {
        let want = intent::evaluate(prog, pop, conn);
        let got = cilium::evaluate(&policies, pop, conn);
        if want.allowed == got.allowed {
            Ok(())
        } else {
            Err(format!(
                "the program says {}, the cilium policies {}\nintent: {want:?}\ncilium: {got:?}",
                want.allowed, got.allowed
            ))
        }
    });
    if let Some(why) = mismatch {
        return Err(TestCaseError::fail(format!(
            "{why}\n--- cilium yaml ---\n{}",
            nplc::emit::cilium::stream(&c.cilium)
        )));
    }
    // and where the k8s target accepts the program too, the two outputs
    // permit the same connections
    let k = build(&src, Target::K8s);
    let mut t = tally.borrow_mut();
    t.compiled += 1;
    t.connections += n;
    if prog.dns_terms().next().is_some() {
        t.with_names += 1;
        if policies
            .iter()
            .any(|p| p.spec.egress.iter().flatten().any(|r| r.to_fqdns.is_some()))
        {
            t.with_fqdn_rules += 1;
        }
        // the k8s target refuses DNS names, one error per statement
        let refused = errors(&k);
        if !refused.contains("E0504") {
            return Err(TestCaseError::fail(format!(
                "the k8s target did not refuse DNS names: {refused:?}"
            )));
        }
        return Ok(());
    }
    if k.has_errors() {
        return Ok(());
    }
    // the effect warnings are the program's: the same on both targets
    if effect_warnings(&k) != effect_warnings(&c) {
        return Err(TestCaseError::fail(format!(
            "the targets report other effect warnings:\nk8s: {:?}\ncilium: {:?}",
            effect_warnings(&k),
            effect_warnings(&c)
        )));
    }
    let objects: Vec<_> = k.manifests.iter().map(|m| m.object.clone()).collect();
    let mut m = 0;
    let mismatch = first_disagreement(case, &mut m, &mut |pop, conn| {
        let a = k8s::evaluate(&objects, pop, conn).allowed;
        let b = cilium::evaluate(&policies, pop, conn).allowed;
        if a == b {
            Ok(())
        } else {
            Err(format!(
                "the NetworkPolicies say {a}, the CiliumNetworkPolicies {b}"
            ))
        }
    });
    if let Some(why) = mismatch {
        return Err(TestCaseError::fail(format!(
            "{why}\n--- k8s yaml ---\n{}\n--- cilium yaml ---\n{}",
            nplc::emit::k8s::stream(&k.manifests),
            nplc::emit::cilium::stream(&c.cilium)
        )));
    }
    t.both += 1;
    t.k8s_bytes += nplc::emit::k8s::stream(&k.manifests).len();
    t.cilium_bytes += nplc::emit::cilium::stream(&c.cilium).len();
    Ok(())
}

#[test]
fn cilium_policies_mean_what_the_program_says() {
    let total = cases();
    let config = Config {
        cases: total,
        failure_persistence: None,
        max_shrink_iters: 4096,
        ..Config::default()
    };
    let mut runner = TestRunner::new(config);
    let tally = RefCell::new(Tally::default());
    // half of the programs also allow egress to DNS names
    let cases = proptest::prop_oneof![case(), case_with_dns()];
    match runner.run(&cases, |case| check_case(&case, &tally)) {
        Ok(()) => {}
        Err(TestError::Fail(why, case)) => {
            panic!("the cilium target and the semantics disagree\n{why}\nminimal case:{case:?}")
        }
        Err(TestError::Abort(why)) => panic!("property test aborted: {why}"),
    }
    let t = tally.into_inner();
    let rejected: usize = t.rejected.values().sum();
    eprintln!(
        "cilium props: {total} programs, {} compiled ({} with DNS names, {} of them with toFQDNs rules), rejected {:?}, {} connections compared, {} also built for k8s and compared ({} bytes of cilium YAML, {} of k8s)",
        t.compiled, t.with_names, t.with_fqdn_rules, t.rejected, t.connections, t.both, t.cilium_bytes, t.k8s_bytes
    );
    assert!(
        t.compiled + rejected >= total as usize,
        "every case ran: {t:?}"
    );
    // E0505 (a source the program does not let reach kube-dns) is the
    // generator's doing (a deny towards `cluster`, a source in a namespace
    // without `allow egress dns`): counted apart, against the programs
    // with DNS names
    let unreachable_dns = t.rejected.get("E0505").copied().unwrap_or(0);
    assert!(
        (rejected - unreachable_dns) * 100 <= total as usize * 10,
        "more than 10% of generated programs were refused for cilium: {t:?}"
    );
    assert!(
        unreachable_dns * 100 <= (t.with_names + unreachable_dns) * 25,
        "more than 25% of generated programs with DNS names were refused for E0505: {t:?}"
    );
    // the programs without DNS names are about half
    assert!(
        t.both * 4 >= total as usize,
        "too few programs both targets accept: {t:?}"
    );
    assert!(
        t.with_fqdn_rules * 5 >= total as usize,
        "too few programs with toFQDNs rules: {t:?}"
    );
}

/// The effect warnings (W0601-W0604) a build reports: code and place.
fn effect_warnings(c: &Compilation) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = c
        .diagnostics
        .iter()
        .filter(|d| ["W0601", "W0602", "W0603", "W0604"].contains(&d.code))
        .map(|d| (d.code.to_string(), format!("{:?}", d.primary)))
        .collect();
    v.sort();
    v
}

/// Both targets report the same effect warnings on every example and
/// every fixture that both accept (docs/targets.md).
#[test]
fn effect_warnings_do_not_depend_on_the_target() {
    let mut paths: Vec<std::path::PathBuf> = crate::examples::examples()
        .into_iter()
        .map(|p| p.strip_prefix(crate::common::root()).unwrap().to_path_buf())
        .collect();
    for e in std::fs::read_dir(crate::common::root().join("tests/cases")).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "npl") {
            paths.push(p.strip_prefix(crate::common::root()).unwrap().to_path_buf());
        }
    }
    let (mut compared, mut warned) = (0, 0);
    for rel in &paths {
        let inputs = crate::common::inputs(rel);
        let k = compile_for(&inputs, Target::K8s);
        let c = compile_for(&inputs, Target::Cilium);
        if k.has_errors() || c.has_errors() {
            continue;
        }
        compared += 1;
        let w = effect_warnings(&k);
        warned += usize::from(!w.is_empty());
        assert_eq!(w, effect_warnings(&c), "{}", rel.display());
    }
    assert!(
        compared > 20 && warned >= 4,
        "{compared} compared, {warned} with warnings"
    );
}

fn render(c: &Compilation) -> String {
    let mut s = String::new();
    if !c.diagnostics.is_empty() {
        s.push_str("--- diagnostics ---\n");
        s.push_str(&nplc::diag::render_human(&c.sources, &c.diagnostics));
    }
    if !c.has_errors() {
        s.push_str("--- yaml ---\n");
        s.push_str(&nplc::emit::cilium::stream(&c.cilium));
    }
    s
}

/// Every example builds for the cilium target without errors, and matches
/// its snapshot `tests/snapshots/cilium/<name>.snap` (each one read).
#[test]
fn every_example_builds_for_cilium() {
    let all = crate::examples::examples();
    let mut failures = Vec::new();
    for ex in &all {
        let name = ex.file_name().unwrap().to_string_lossy().to_string();
        let rel = ex
            .strip_prefix(crate::common::root())
            .unwrap()
            .to_path_buf();
        let c = compile_for(&crate::common::inputs(&rel), Target::Cilium);
        if c.has_errors() {
            failures.push(format!("{name}:\n{}", render(&c)));
        }
        // every object reads back, and is a CiliumNetworkPolicy of a managed namespace
        for m in &c.cilium {
            let back: CiliumPolicy = serde_yaml::from_str(&m.to_yaml()).unwrap();
            assert_eq!(back, m.object);
            assert_eq!(back.kind, "CiliumNetworkPolicy");
            assert!(c.program.as_ref().unwrap().is_managed(&m.namespace));
        }
        crate::common::snapshot("../snapshots/cilium", &name, &render(&c));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Canonical: the same statements in another order, in other files, give
/// the same objects (but for the annotations naming source lines).
#[test]
fn output_is_canonical() {
    let a = "namespace shop {\n  default allow\n  allow app=web -> app=api:8080\n  deny app=web -> 10.0.0.0/8\n  deny app=web -> app=db\n  isolate ingress app=api\n  allow {team=ops}/* -> world:443\n}\n";
    let lines: Vec<&str> = a.lines().collect();
    let mut shuffled = vec![lines[0]];
    shuffled.extend(lines[1..lines.len() - 1].iter().rev());
    shuffled.push("}");
    let b = shuffled.join("\n") + "\n";
    let strip = |c: &Compilation| {
        c.cilium
            .iter()
            .map(|m| {
                let mut o = m.object.clone();
                o.metadata.annotations = None;
                o
            })
            .collect::<Vec<_>>()
    };
    let (ca, cb) = (build(a, Target::Cilium), build(&b, Target::Cilium));
    assert!(!ca.has_errors(), "{}", render(&ca));
    assert_eq!(strip(&ca), strip(&cb));
    // a deny in a `default allow` namespace does not isolate: no rule of
    // its policy enables default deny
    let yaml = nplc::emit::cilium::stream(&ca.cilium);
    assert!(yaml.contains("enableDefaultDeny:"), "{yaml}");
    // the k8s target refuses what cilium writes (tests/cases' E0501 and
    // E0502 programs)
    for case in [
        "E0501-namespace-labels-egress-world",
        "E0502-named-port-minus-number",
    ] {
        let text =
            std::fs::read_to_string(crate::common::root().join(format!("tests/cases/{case}.npl")))
                .unwrap();
        let code = &case[..5];
        assert!(errors(&build(&text, Target::K8s)).contains(code));
        let c = build(&text, Target::Cilium);
        assert!(!c.has_errors(), "{}", render(&c));
        // a namespace label subject selects on the namespace's labels
        if code == "E0501" {
            let yaml = nplc::emit::cilium::stream(&c.cilium);
            assert!(
                yaml.contains("k8s:io.cilium.k8s.namespace.labels.team: ops"),
                "{yaml}"
            );
        }
    }
}

/// A named port on an isolated egress side towards pods whose ingress is
/// not decided is refused (E0503); towards isolated, managed pods it
/// compiles, widened on the egress side.
#[test]
fn named_ports_on_egress() {
    let refused = build(
        "namespace a {\n  allow egress other/app=x:http\n}\n",
        Target::Cilium,
    );
    assert_eq!(errors(&refused), ["E0503".to_string()].into());
    let ok = build(
        "namespace a {\n  allow egress b/app=x:http\n}\nnamespace b {\n  allow a/* -> *:http\n}\n",
        Target::Cilium,
    );
    assert!(!ok.has_errors(), "{}", render(&ok));
    let yaml = nplc::emit::cilium::stream(&ok.cilium);
    assert!(
        yaml.contains("port: http") && yaml.contains("endPort: 65535"),
        "{yaml}"
    );
}

/// `nplc check` reports the refusals of the target it is given (or the
/// project file's): E0501 for k8s, not for cilium, which can express it.
#[test]
fn check_follows_the_target() {
    let dir = std::env::temp_dir().join(format!("nplc-it-check-target-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("a.npl");
    std::fs::write(
        &file,
        "namespace app {\n  default deny\n  allow {team=ops}/* -> world:443\n}\n",
    )
    .unwrap();
    let run = |extra: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_nplc"))
            .arg("check")
            .args(extra)
            .arg(&file)
            .output()
            .unwrap()
    };
    let k8s = run(&[]);
    assert_eq!(k8s.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&k8s.stderr).contains("E0501"));
    let cil = run(&["--target", "cilium"]);
    assert_eq!(
        cil.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&cil.stderr)
    );
    // the project file's target, given no PATH
    std::fs::write(dir.join("nplc.toml"), "target = \"cilium\"\n").unwrap();
    let proj = std::process::Command::new(env!("CARGO_BIN_EXE_nplc"))
        .arg("check")
        .current_dir(&dir)
        .output()
        .unwrap();
    assert_eq!(
        proj.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&proj.stderr)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The DNS proxy rule needs the lookups permitted on both sides: where
/// `kube-system` is managed and isolates kube-dns for ingress, an allow
/// deciding that side must admit the sources too (E0505 otherwise); a
/// deny touching the lookups refuses it as well.
#[test]
fn dns_proxy_rule_needs_the_lookups_on_both_sides() {
    // a two-sided `allow egress dns` decides kube-dns's ingress side too
    let both = "use dns\nnamespace shop {\n  allow egress dns\n  allow app=api -> dns:api.stripe.com:443\n}\nnamespace kube-system {\n  default deny ingress\n}\n";
    let c = build(both, Target::Cilium);
    assert!(!c.has_errors(), "{}", render(&c));
    // one scoped to the egress side does not
    let shop = "use dns\nnamespace shop {\n  allow egress dns on egress\n  allow app=api -> dns:api.stripe.com:443\n}\n";
    let closed = format!("{shop}namespace kube-system {{\n  default deny ingress\n}}\n");
    assert_eq!(
        errors(&build(&closed, Target::Cilium)),
        ["E0505".to_string()].into()
    );
    let open = format!("{shop}namespace kube-system {{\n  default deny ingress\n  allow shop/* -> k8s-app=kube-dns:udp/53, tcp/53\n}}\n");
    let c = build(&open, Target::Cilium);
    assert!(!c.has_errors(), "{}", render(&c));
    let yaml = nplc::emit::cilium::stream(&c.cilium);
    assert!(
        yaml.contains("toFQDNs") && yaml.contains("matchPattern: '*'"),
        "{yaml}"
    );
    // only UDP on the ingress side: TCP lookups would be refused there
    let half = open.replace("udp/53, tcp/53", "udp/53");
    assert_eq!(
        errors(&build(&half, Target::Cilium)),
        ["E0505".to_string()].into()
    );
    // a deny of the lookups, on either side
    let denied = both.replace(
        "  allow egress dns\n",
        "  allow egress dns\n  deny app=api -> kube-system/*:udp/53\n",
    );
    assert_eq!(
        errors(&build(&denied, Target::Cilium)),
        ["E0505".to_string()].into()
    );
    // and the sources of another namespace need their own lookups allowed
    let other = format!("{both}namespace pay {{\n  default deny egress\n}}\n").replace(
        "allow app=api -> dns:api.stripe.com:443",
        "allow app=api | pay/* -> dns:api.stripe.com:443",
    );
    assert_eq!(
        errors(&build(&other, Target::Cilium)),
        ["E0505".to_string()].into()
    );
}
