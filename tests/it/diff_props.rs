//! Property test "prove the diff": on random pairs of programs (the
//! generators of `props`), `nplc diff`'s symbolic difference is checked
//! against the intent evaluator (src/eval/intent.rs) on random populations,
//! connection by connection (every pair of the population's pods and a few
//! external addresses, every protocol, probe ports around every number the
//! programs write and every container port):
//!
//! - a connection inside a cell reported *added* is permitted by NEW and
//!   not by OLD; inside a cell reported *removed*, the reverse;
//! - a connection inside no reported cell is decided alike by both (so an
//!   empty diff means the evaluators agree on every connection);
//! - a program and the same program spelled otherwise (groups, definitions,
//!   reordered excepts: `props::Case::alt_source`) have an empty diff.
//!
//! Half the programs allow DNS names (`props::case_with_dns`), on clusters
//! whose resolver answers random names: cells by address are checked with
//! no name answering, cells by name against
//! `intent::evaluate_by_name` (each pod, each name a resolver may answer,
//! each probed address and port), and a connection the two programs
//! decide otherwise under the cluster's own resolver (several names may
//! answer one address) lies in a cell by address or in a cell by name of a
//! name answering its address (docs/diff.md, "DNS names").
//!
//! Named ports collide with written numbers in these populations (a pod's
//! `http` is 8080 or 80, and programs write both), so the exactness of
//! named ports is exercised too. `PROPTEST_CASES` overrides the number of
//! pairs (default 300).

use crate::props::{case, case_with_dns, Case, DNS_ANSWERS};
use nplc::diff::{self, space::Cube, Diff};
use nplc::driver::{front_end, Input};
use nplc::eval::intent;
use nplc::eval::k8s::Connection;
use nplc::ir::Program;
use nplc::net::Protocol;
use nplc::population::{Endpoint, Population};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

fn program(text: &str) -> Option<Program> {
    let c = front_end(&[Input {
        name: "prop.npl".into(),
        text: text.to_string(),
    }]);
    if c.has_errors() {
        return None;
    }
    c.program
}

/// Whether a connection lies in a cube: both ends in their peer sets, and
/// the port in the ports under the name the destination gives it.
fn cube_contains(c: &Cube, pop: &Population, conn: &Connection) -> bool {
    if !intent::peer_contains(&c.src, pop, conn.src)
        || !intent::peer_contains(&c.dst, pop, conn.dst)
    {
        return false;
    }
    let name = match conn.dst {
        Endpoint::Pod(i) => pop.pods.get(i).and_then(|p| {
            p.ports
                .iter()
                .find(|np| np.protocol == conn.protocol && np.port == conn.port)
                .map(|np| np.name.as_str())
        }),
        Endpoint::External(_) => None,
    };
    c.ports.contains(conn.protocol, conn.port, name)
}

/// Checks the diff of `old` and `new` against the intent evaluator on the
/// population of `at` (its pods, its external addresses, the probe ports of
/// both cases, its resolver). Returns how many connections changed, by
/// address (and between pods) and by name.
///
/// With DNS names (docs/diff.md, "DNS names"), a cell by address speaks of
/// an address that no name answers (the resolver emptied), a cell by name
/// of an address that one name of the cell answers and no other name does
/// ([`intent::evaluate_by_name`]); under the population's own resolver,
/// where several names may answer one address, a connection decided
/// otherwise lies in a cell by address or in a cell by name of one of the
/// names that answer its address.
fn check_against_intent(
    d: &Diff,
    old: &Program,
    new: &Program,
    at: &Case,
    other: &Case,
) -> Result<(usize, usize), TestCaseError> {
    let pop = at.population();
    let mut unresolved = pop.clone();
    unresolved.dns.clear();
    let mut ports = at.probe_ports(&pop);
    for (p, ns) in other.probe_ports(&pop) {
        ports.entry(p).or_default().extend(ns);
    }
    let pods: Vec<Endpoint> = (0..pop.pods.len()).map(Endpoint::Pod).collect();
    let mut endpoints = pods.clone();
    let mut ext = at.external_addresses();
    ext.extend(other.external_addresses());
    ext.sort();
    ext.dedup();
    endpoints.extend(ext.iter().copied().map(Endpoint::External));
    let (by_address, by_name): (Vec<&diff::Changed>, Vec<&diff::Changed>) =
        d.changed.iter().partition(|c| c.names.is_none());
    let mut changed = 0;
    let mut changed_by_name = 0;
    for &src in &endpoints {
        for &dst in &endpoints {
            for (proto, ns) in &ports {
                for &port in ns {
                    let conn = Connection {
                        src,
                        dst,
                        protocol: *proto,
                        port,
                    };
                    // by address: no name answers the address
                    let vo = intent::evaluate(old, &unresolved, &conn).allowed;
                    let vn = intent::evaluate(new, &unresolved, &conn).allowed;
                    let cells: Vec<&&diff::Changed> = by_address
                        .iter()
                        .filter(|c| cube_contains(&c.cube, &pop, &conn))
                        .collect();
                    let say = || {
                        format!(
                            "{} -> {} {proto} {port}: OLD {}, NEW {}; cells holding it: {:?}",
                            pop.endpoint_name(&conn.src),
                            pop.endpoint_name(&conn.dst),
                            if vo { "permits" } else { "refuses" },
                            if vn { "permits" } else { "refuses" },
                            cells
                        )
                    };
                    if cells.is_empty() {
                        prop_assert_eq!(vo, vn, "no cell, yet the programs differ: {}", say());
                    } else {
                        changed += 1;
                        for c in &cells {
                            prop_assert_eq!(vn, c.added, "{}", say());
                            prop_assert_eq!(vo, !c.added, "{}", say());
                        }
                    }
                    // under the population's resolver
                    let Endpoint::External(addr) = dst else {
                        continue;
                    };
                    let ro = intent::evaluate(old, &pop, &conn).allowed;
                    let rn = intent::evaluate(new, &pop, &conn).allowed;
                    if ro != rn && cells.is_empty() {
                        let answering: Vec<&String> = pop
                            .dns
                            .iter()
                            .filter(|(_, a)| a.contains(&addr))
                            .map(|(n, _)| n)
                            .collect();
                        let seen = by_name.iter().any(|c| {
                            answering.iter().any(|n| {
                                c.names.as_ref().is_some_and(|s| s.matches(n))
                                    && cube_contains(&c.cube, &pop, &conn)
                            })
                        });
                        prop_assert!(
                            seen,
                            "{} -> {addr} {proto} {port} (answered by {answering:?}): OLD {}, NEW {}, in no cell",
                            pop.endpoint_name(&src),
                            ro,
                            rn
                        );
                    }
                    // by name: each name answering this address alone
                    if !matches!(src, Endpoint::Pod(_)) {
                        continue;
                    }
                    for name in DNS_ANSWERS {
                        let bo = intent::evaluate_by_name(old, &pop, src, name, addr, *proto, port)
                            .allowed;
                        let bn = intent::evaluate_by_name(new, &pop, src, name, addr, *proto, port)
                            .allowed;
                        let named: Vec<&&diff::Changed> = by_name
                            .iter()
                            .filter(|c| {
                                c.names.as_ref().is_some_and(|s| s.matches(name))
                                    && cube_contains(&c.cube, &pop, &conn)
                            })
                            .collect();
                        let say = || {
                            format!(
                                "{} -> dns:{name} at {addr} {proto} {port} by name: OLD {}, NEW {}; by address OLD {vo}, NEW {vn}; cells by name holding it: {:?}",
                                pop.endpoint_name(&src),
                                if bo { "permits" } else { "refuses" },
                                if bn { "permits" } else { "refuses" },
                                named
                            )
                        };
                        if named.is_empty() {
                            // alike, or reached by name in neither program
                            // (then as by address, in a cell by address)
                            prop_assert!(
                                bo == bn || (bo == vo && bn == vn),
                                "no cell by name, yet the programs differ: {}",
                                say()
                            );
                        } else {
                            changed_by_name += 1;
                            prop_assert_eq!(named.len(), 1, "cells by name overlap: {}", say());
                            for c in &named {
                                prop_assert_eq!(bn, c.added, "{}", say());
                                prop_assert_eq!(bo, !c.added, "{}", say());
                            }
                        }
                    }
                }
            }
        }
    }
    let _ = Protocol::ALL;
    Ok((changed, changed_by_name))
}

/// Programs without DNS names, and programs with them (and clusters with
/// a resolver's answers).
fn cases() -> impl Strategy<Value = Case> {
    prop_oneof![case(), case_with_dns()]
}

fn runner() -> TestRunner {
    let total = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(300);
    TestRunner::new(Config {
        cases: total,
        failure_persistence: None,
        ..Config::default()
    })
}

#[test]
fn diff_of_two_programs_is_exactly_what_the_intent_evaluator_sees() {
    let mut runner = runner();
    let compared = std::cell::Cell::new((0usize, 0usize, 0usize, 0usize));
    let result = runner.run(&(cases(), cases()), |(a, b)| {
        let (Some(po), Some(pn)) = (program(&a.source()), program(&b.source())) else {
            return Ok(());
        };
        let d = diff::diff(&po, &pn);
        let (n1, b1) = check_against_intent(&d, &po, &pn, &a, &b)?;
        let (n2, b2) = check_against_intent(&d, &po, &pn, &b, &a)?;
        // the reverse diff is the mirror image
        let r = diff::diff(&pn, &po);
        prop_assert_eq!(d.is_empty(), r.is_empty());
        let (x, y, z, w) = compared.get();
        compared.set((
            x + 1,
            y + usize::from(d.is_empty()),
            z + n1 + n2,
            w + b1 + b2,
        ));
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    let (pairs, empty, conns, named) = compared.get();
    eprintln!("diff_props: {pairs} pairs compared, {empty} with no change, {conns} changed connections seen, {named} by name");
    assert!(pairs > 50, "too few pairs compiled: {pairs}");
    assert!(conns > 100, "too few changed connections: {conns}");
    assert!(named > 100, "too few connections changed by name: {named}");
}

#[test]
fn a_program_spelled_otherwise_has_no_semantic_change() {
    let mut runner = runner();
    let result = runner.run(&cases(), |a| {
        let (alt, _) = a.alt_source(false);
        let (Some(po), Some(pn)) = (program(&a.source()), program(&alt)) else {
            return Ok(());
        };
        let d = diff::diff(&po, &pn);
        prop_assert!(
            d.is_empty(),
            "respelled program differs: {:?}\n--- respelled ---\n{alt}",
            d.changed
        );
        // and an edit of one of them is seen
        check_against_intent(&d, &po, &pn, &a, &a)?;
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}
