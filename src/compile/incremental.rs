//! Stage 5, deny compilation, again after an edit (the language server,
//! `src/lsp/analysis.rs`). Input: a checked program; the namespaces of the
//! previous program, which statements of this program are the previous
//! one's unchanged (by id), and what compiling each namespace gave last
//! time (a [`Memo`]). Output: exactly what [`compile`](super::compile)
//! gives (the same [`PolicySet`] and diagnostics), and the memo of this
//! program.
//!
//! The sides of a namespace depend on nothing but its own declaration
//! (posture, isolates, workloads) and the statements that may have
//! subjects in it (`StatementIndex::candidates`, per direction): a
//! namespace whose declaration is equal and whose candidates are the same
//! unchanged statements, in the same order, takes its policies and what
//! its construction noted (allows used, denies on a managed side,
//! approximations, conflicts) from the memo, with the statement ids
//! renumbered (ids are positions in the program; the renumbering keeps
//! their order, so sorted cells stay sorted). The checks over the whole
//! program run again on every call, on what the namespaces noted
//! (exactness: only where a side approximated, looking at the statements
//! that may have subjects in the namespaces concerned) and on each
//! statement's rule hash, kept for the unchanged statements (effect
//! warnings: duplicates are the statements of equal hashes, compared in
//! full).

use super::exactness::{Approx, Conflict};
use super::{assemble, Compiler, Policy, PolicySet, StatementIndex};
use crate::diag::{Diagnostic, Failed, Sink};
use crate::ir::{Direction, Namespace, Program};
use std::collections::{BTreeMap, BTreeSet};

/// What compiling each namespace gave, by namespace name; its policies
/// are in the [`PolicySet`] the memo came with.
#[derive(Default)]
pub struct Memo {
    namespaces: BTreeMap<String, Part>,
    /// Each statement's rule hash (W0603), by id.
    hashes: Vec<u64>,
    /// How many namespaces the last call compiled (the others came from
    /// the memo before it).
    pub compiled: usize,
}

/// One namespace's sides: their inputs (the declaration, the candidate
/// statements of ingress and egress) and what came out (its policies are
/// `policies` of the set).
struct Part {
    ns: Namespace,
    candidates: [Vec<usize>; 2],
    policies: std::ops::Range<usize>,
    diags: Vec<Diagnostic>,
    allow_used: BTreeSet<usize>,
    deny_managed: BTreeSet<usize>,
    approx: Vec<Approx>,
    conflicts: Vec<Conflict>,
}

/// What [`compile_incremental`] gives.
pub struct Compiled {
    /// Every policy, as `compile` gives them (also when `failed`).
    pub policies: PolicySet,
    /// An error was reported into the sink (`compile` would fail).
    pub failed: Option<Failed>,
    pub memo: Memo,
}

/// A namespace, its candidates, and the memo's part it keeps with the
/// renumbering of its ids (`None`: compiled again).
type Plan<'p> = (
    &'p Namespace,
    [Vec<usize>; 2],
    Option<(Part, BTreeMap<usize, usize>)>,
);

const DIRS: [Direction; 2] = [Direction::Ingress, Direction::Egress];

/// [`compile`](super::compile) of `prog`, reusing the previous call's
/// policies and memo where they hold. `same[id]` is the id in the previous
/// program of statement `id` when the two are equal but for their ids
/// (`None`: new or changed). A namespace not in `changed` (`None`: all
/// may have changed) is the one the memo was compiled with: its
/// declaration is not compared again.
pub fn compile_incremental(
    prog: &Program,
    same: &[Option<usize>],
    changed: Option<&BTreeSet<String>>,
    prev: Option<(PolicySet, Memo)>,
    sink: &mut Sink,
) -> Compiled {
    let mark = sink.mark();
    // what deny compilation refuses (E0504): nothing compiled, as `driver`
    let refused = super::refusals(prog);
    if !refused.is_empty() {
        sink.extend(refused);
        return Compiled {
            policies: PolicySet { policies: vec![] },
            failed: sink.finish(mark, ()).err(),
            memo: Memo::default(),
        };
    }
    let index = StatementIndex::new(prog);
    let (mut old_policies, mut memo): (Vec<Option<Policy>>, Memo) = match prev {
        Some((p, m)) => (p.policies.into_iter().map(Some).collect(), m),
        None => (vec![], Memo::default()),
    };
    // which namespaces keep their part (and how their ids move)
    let mut plan: Vec<Plan<'_>> = Vec::with_capacity(prog.namespaces.len());
    for ns in prog.namespaces.values() {
        let candidates = DIRS.map(|d| index.candidates(&ns.name, d));
        let compare = changed.is_none_or(|c| c.contains(&ns.name));
        let keep = memo.namespaces.remove(&ns.name).and_then(|old| {
            renumbering(&old, ns, compare, &candidates, same).map(|map| (old, map))
        });
        plan.push((ns, candidates, keep));
    }
    let todo: Vec<(&Namespace, &[Vec<usize>; 2])> = plan
        .iter()
        .filter(|p| p.2.is_none())
        .map(|p| (p.0, &p.1))
        .collect();
    // namespaces are independent: compile them in parallel, in order
    let mut fresh = crate::par::map_chunks(&todo, |chunk| {
        chunk
            .iter()
            .map(|(ns, candidates)| part(prog, &index, ns, (*candidates).clone()))
            .collect()
    })
    .into_iter();
    let mut c = Compiler::new(prog, &index);
    let mut policies = Vec::with_capacity(old_policies.len());
    let mut next = Memo::default();
    // how many approximations and conflicts each part lends the checks
    let mut lent: Vec<(String, usize, usize)> = Vec::with_capacity(plan.len());
    for (_, candidates, keep) in plan {
        let (mut p, mine) = match keep {
            Some((old, map)) => {
                let mut mine: Vec<Policy> = old
                    .policies
                    .clone()
                    .filter_map(|i| old_policies.get_mut(i).and_then(Option::take))
                    .collect();
                let p = renumber(old, &map, &mut mine, candidates);
                (p, mine)
            }
            None => {
                next.compiled += 1;
                match fresh.next() {
                    Some(x) => x,
                    None => continue,
                }
            }
        };
        p.policies = policies.len()..policies.len() + mine.len();
        policies.extend(mine);
        c.diags.extend(p.diags.iter().cloned());
        c.allow_used.extend(p.allow_used.iter().copied());
        c.deny_managed.extend(p.deny_managed.iter().copied());
        lent.push((p.ns.name.clone(), p.approx.len(), p.conflicts.len()));
        c.approx.append(&mut p.approx);
        c.conflicts.append(&mut p.conflicts);
        next.namespaces.insert(p.ns.name.clone(), p);
    }
    c.check_approximations();
    c.check_conflicts();
    // each part's approximations and conflicts back, in order
    let mut approx = std::mem::take(&mut c.approx).into_iter();
    let mut conflicts = std::mem::take(&mut c.conflicts).into_iter();
    for (name, a, k) in lent {
        if let Some(p) = next.namespaces.get_mut(&name) {
            p.approx = approx.by_ref().take(a).collect();
            p.conflicts = conflicts.by_ref().take(k).collect();
        }
    }
    // the hashes of the statements taken from the memo are the memo's
    let hashes: Vec<u64> = prog
        .statements
        .iter()
        .enumerate()
        .map(|(id, s)| {
            same.get(id)
                .copied()
                .flatten()
                .and_then(|old| memo.hashes.get(old).copied())
                .unwrap_or_else(|| super::effects::rule_hash(s))
        })
        .collect();
    c.effect_warnings(&hashes);
    next.hashes = hashes;
    sink.extend(c.diags);
    Compiled {
        policies: PolicySet { policies },
        failed: sink.finish(mark, ()).err(),
        memo: next,
    }
}

/// Compiles one namespace's two sides, as `compile` does: the part and
/// the namespace's policies.
fn part(
    prog: &Program,
    index: &StatementIndex,
    ns: &Namespace,
    candidates: [Vec<usize>; 2],
) -> (Part, Vec<Policy>) {
    let mut w = Compiler::new(prog, index);
    let ingress = w.side(&ns.name, Direction::Ingress);
    let egress = w.side(&ns.name, Direction::Egress);
    let policies = assemble(ns, ingress, egress);
    let p = Part {
        ns: ns.clone(),
        candidates,
        policies: 0..0,
        diags: w.diags,
        allow_used: w.allow_used,
        deny_managed: w.deny_managed,
        approx: w.approx,
        conflicts: w.conflicts,
    };
    (p, policies)
}

/// Old id → new id, when the memo's part holds for `ns` with these
/// candidates: the same declaration (compared when `compare`), and
/// candidates that are the old ones unchanged, in order.
fn renumbering(
    old: &Part,
    ns: &Namespace,
    compare: bool,
    candidates: &[Vec<usize>; 2],
    same: &[Option<usize>],
) -> Option<BTreeMap<usize, usize>> {
    if compare && old.ns != *ns {
        return None;
    }
    let mut map = BTreeMap::new();
    for (new, was) in candidates.iter().zip(&old.candidates) {
        if new.len() != was.len() {
            return None;
        }
        for (n, o) in new.iter().zip(was) {
            if same.get(*n).copied().flatten() != Some(*o) {
                return None;
            }
            if n != o {
                map.insert(*o, *n);
            }
        }
    }
    Some(map)
}

/// The memo's part and its policies with their statement ids renumbered
/// by `map` (ids not in it stay).
fn renumber(
    mut p: Part,
    map: &BTreeMap<usize, usize>,
    policies: &mut [Policy],
    candidates: [Vec<usize>; 2],
) -> Part {
    p.candidates = candidates;
    if map.is_empty() {
        return p;
    }
    // every id a part holds is one of its candidates
    let id = |i: usize| map.get(&i).copied().unwrap_or(i);
    let ids = |s: &mut BTreeSet<usize>| *s = s.iter().map(|i| id(*i)).collect();
    for pol in policies.iter_mut() {
        for r in pol.ingress.iter_mut().chain(pol.egress.iter_mut()) {
            ids(&mut r.allows);
            ids(&mut r.denies);
        }
    }
    ids(&mut p.allow_used);
    ids(&mut p.deny_managed);
    for a in &mut p.approx {
        a.stmt = id(a.stmt);
    }
    for c in &mut p.conflicts {
        c.deny = id(c.deny);
        c.allow = c.allow.map(id);
    }
    p
}
