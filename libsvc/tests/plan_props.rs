//! Property tests over random graphs: plans respect every ordering edge,
//! every cycle is found, nothing starts before its dependencies are ready,
//! everything starts as soon as they are, and stopping reverses starting.

mod common;

use common::set_of;
use libsvc::graph::Graph;
use libsvc::plan::MemberState;
use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Requires,
    Wants,
    After,
    Before,
}

#[derive(Debug, Clone)]
struct Spec {
    targets: Vec<bool>,
    edges: Vec<(usize, usize, Kind)>,
    failing: Vec<bool>,
    choices: Vec<usize>,
}

fn name(i: usize) -> String {
    format!("n{i:02}")
}

fn spec(max_nodes: usize, allow_back_edges: bool) -> impl Strategy<Value = Spec> {
    (2..max_nodes).prop_flat_map(move |n| {
        let kind = prop_oneof![
            Just(Kind::Requires),
            Just(Kind::Wants),
            Just(Kind::After),
            Just(Kind::Before)
        ];
        let edge = (0..n, 0..n, kind).prop_map(move |(a, b, k)| {
            // Without back edges: "starts after" always points to a lower
            // number, so the graph is acyclic.
            if allow_back_edges || a == b {
                (a, b, k)
            } else {
                let (hi, lo) = (a.max(b), a.min(b));
                match k {
                    Kind::Before => (lo, hi, k),
                    _ => (hi, lo, k),
                }
            }
        });
        (
            proptest::collection::vec(proptest::bool::weighted(0.15), n),
            proptest::collection::vec(edge, 0..n * 3),
            proptest::collection::vec(proptest::bool::weighted(0.2), n),
            proptest::collection::vec(0usize..1000, 4 * n),
        )
            .prop_map(|(targets, edges, failing, choices)| Spec {
                targets,
                edges,
                failing,
                choices,
            })
    })
}

fn spec_without_self_loops(max: usize) -> impl Strategy<Value = Spec> {
    spec(max, false).prop_map(|mut s| {
        s.edges.retain(|(a, b, _)| a != b);
        s
    })
}

/// "a starts after b" pairs, computed from the spec, independently of the library.
fn order_edges(s: &Spec) -> BTreeSet<(usize, usize)> {
    s.edges
        .iter()
        .map(|&(a, b, k)| if k == Kind::Before { (b, a) } else { (a, b) })
        .collect()
}

fn build(s: &Spec) -> (Graph, Vec<libsvc::Diagnostic>) {
    let n = s.targets.len();
    let texts: Vec<(String, String)> = (0..n)
        .map(|i| {
            let mut deps = String::new();
            for &(a, b, k) in &s.edges {
                if a == i {
                    let key = match k {
                        Kind::Requires => "requires",
                        Kind::Wants => "wants",
                        Kind::After => "after",
                        Kind::Before => "before",
                    };
                    deps.push_str(&format!("{key} = {}\n", name(b)));
                }
            }
            let head = if s.targets[i] {
                "[target]\n"
            } else {
                "[service]\nexec = /bin/true\n"
            };
            (name(i), format!("{head}[dependencies]\n{deps}"))
        })
        .collect();
    let refs: Vec<(&str, &str)> = texts
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    let set = set_of(&refs);
    assert!(!set.has_errors(), "{:?}", set.diagnostics);
    Graph::build(&set)
}

fn reachable(n: usize, edges: &BTreeSet<(usize, usize)>, from: usize) -> Vec<bool> {
    let mut seen = vec![false; n];
    let mut stack = vec![from];
    while let Some(v) = stack.pop() {
        for &(a, b) in edges {
            if a == v && !seen[b] {
                seen[b] = true;
                stack.push(b);
            }
        }
    }
    seen
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn every_cycle_is_found(s in spec(12, true)) {
        let n = s.targets.len();
        let edges = order_edges(&s);
        let (g, diags) = build(&s);
        let cycles = g.cycles();
        let on_cycle: Vec<bool> = (0..n).map(|v| reachable(n, &edges, v)[v]).collect();
        // Each reported cycle is real: consecutive members are ordering edges.
        for c in &cycles {
            prop_assert_eq!(c.first(), c.last());
            for w in c.windows(2) {
                let (a, b) = (g.names()[w[0]].clone(), g.names()[w[1]].clone());
                let a: usize = a[1..].parse().unwrap();
                let b: usize = b[1..].parse().unwrap();
                prop_assert!(edges.contains(&(a, b)), "{a} -> {b} is not an edge");
            }
        }
        // Every node on a cycle is in the same component as a reported one.
        for (v, &cyclic) in on_cycle.iter().enumerate() {
            if cyclic {
                let from_v = reachable(n, &edges, v);
                let covered = cycles.iter().any(|c| c.iter().any(|&m| {
                    let m: usize = g.names()[m][1..].parse().unwrap();
                    from_v[m] && reachable(n, &edges, m)[v]
                }));
                prop_assert!(covered, "node {v} is on a cycle that was not reported");
            }
        }
        let has_cycle = on_cycle.iter().any(|&c| c);
        prop_assert_eq!(has_cycle, diags.iter().any(|d| d.message.starts_with("dependency cycle")));
    }

    #[test]
    fn start_plan_respects_every_edge_and_starts_as_early_as_possible(s in spec_without_self_loops(20)) {
        let n = s.targets.len();
        let edges = order_edges(&s);
        let requires: BTreeSet<(usize, usize)> =
            s.edges.iter().filter(|e| e.2 == Kind::Requires).map(|&(a, b, _)| (a, b)).collect();
        let (g, diags) = build(&s);
        prop_assert!(diags.is_empty(), "{:?}", diags);
        let roots: Vec<String> = (0..n).map(name).collect();
        let roots: Vec<&str> = roots.iter().map(String::as_str).collect();
        let mut plan = g.start_plan(&roots).unwrap();
        let num = |s: &str| -> usize { s[1..].parse().unwrap() };
        let mut state: BTreeMap<usize, &'static str> = BTreeMap::new();
        let settled = |st: &BTreeMap<usize, &str>, x: usize| matches!(st.get(&x), Some(&("ready" | "failed" | "blocked")));
        let mut starting: Vec<usize> = Vec::new();
        let mut choices = s.choices.iter().cycle();
        let mut step = plan.begin();
        loop {
            for b in &step.failed {
                let m = num(&b.0);
                prop_assert!(requires.iter().any(|&(a, d)| a == m && matches!(state.get(&d), Some(&("failed" | "blocked")))),
                    "{} blocked without a failed requirement", m);
                prop_assert!(b.1.starts_with("dependency "));
                state.insert(m, "blocked");
            }
            for t in &step.reached {
                let m = num(t);
                prop_assert!(s.targets[m]);
                for &(a, d) in &edges { if a == m { prop_assert!(settled(&state, d)); } }
                for &(a, d) in &requires { if a == m { prop_assert_eq!(state.get(&d), Some(&"ready")); } }
                state.insert(m, "ready");
            }
            for st in &step.start {
                let m = num(st);
                prop_assert!(!s.targets[m], "a target was started");
                prop_assert!(!state.contains_key(&m), "{} started twice", m);
                // Nothing starts before what it starts after has settled,
                // and before what it requires is ready.
                for &(a, d) in &edges { if a == m { prop_assert!(settled(&state, d), "{} started before {}", m, d); } }
                for &(a, d) in &requires { if a == m { prop_assert_eq!(state.get(&d), Some(&"ready")); } }
                state.insert(m, "starting");
                starting.push(m);
            }
            // Maximal parallelism: whatever still waits has a reason to.
            for m in 0..n {
                if state.contains_key(&m) { continue; }
                prop_assert_eq!(plan.state(&name(m)), Some(&MemberState::Waiting));
                let blocked_by_order = edges.iter().any(|&(a, d)| a == m && !settled(&state, d));
                prop_assert!(blocked_by_order, "{} waits for nothing", m);
            }
            if starting.is_empty() { break; }
            let pick = starting.remove(choices.next().unwrap() % starting.len());
            step = if s.failing[pick] {
                state.insert(pick, "failed");
                plan.failed(&name(pick)).unwrap()
            } else {
                state.insert(pick, "ready");
                plan.ready(&name(pick)).unwrap()
            };
        }
        prop_assert!(plan.is_done());
        prop_assert_eq!(state.len(), n);
    }

    #[test]
    fn stop_plan_is_the_reverse_of_start_order(s in spec_without_self_loops(20)) {
        let n = s.targets.len();
        let edges = order_edges(&s);
        let (g, _) = build(&s);
        let all: Vec<String> = (0..n).map(name).collect();
        let all_refs: Vec<&str> = all.iter().map(String::as_str).collect();
        let mut stop = g.stop_plan(&all_refs, &|_| true).unwrap();
        let order = stop.order();
        prop_assert_eq!(order.len(), n);
        let pos: BTreeMap<usize, usize> = order.iter().enumerate().map(|(p, s)| (s[1..].parse().unwrap(), p)).collect();
        for &(a, b) in &edges {
            // a starts after b, so a stops before b.
            prop_assert!(pos[&a] < pos[&b], "{} must stop before {}", a, b);
        }
        // Reversed, the stop order is a valid start order.
        let reversed: Vec<usize> = order.iter().rev().map(|s| s[1..].parse().unwrap()).collect();
        let start_pos: BTreeMap<usize, usize> = reversed.iter().enumerate().map(|(p, &m)| (m, p)).collect();
        for &(a, b) in &edges {
            prop_assert!(start_pos[&b] < start_pos[&a]);
        }
        // The state machine agrees: nothing stops while something that
        // starts after it still runs.
        let mut stopped: BTreeSet<usize> = BTreeSet::new();
        let mut stopping: Vec<usize> = stop.begin().iter().map(|s| s[1..].parse().unwrap()).collect();
        let mut choices = s.choices.iter().cycle();
        let check = |m: usize, stopped: &BTreeSet<usize>| edges.iter().all(|&(a, b)| b != m || stopped.contains(&a) || s.targets[a]);
        for &m in &stopping { prop_assert!(check(m, &stopped)); }
        while !stopping.is_empty() {
            let pick = stopping.remove(choices.next().unwrap() % stopping.len());
            stopped.insert(pick);
            for next in stop.stopped(&name(pick)).unwrap() {
                let m: usize = next[1..].parse().unwrap();
                prop_assert!(check(m, &stopped), "{} stops while something after it runs", m);
                stopping.push(m);
            }
        }
        prop_assert!(stop.is_done());
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// With cycles allowed: a stop plan of everything is an error exactly
    /// when the graph has a cycle (a real one, named), and a shutdown's
    /// plan always finishes, stopping nothing before what starts after it
    /// unless both are on one cycle.
    #[test]
    fn stop_plans_over_cycles_fail_or_finish(s in spec(16, true)) {
        let n = s.targets.len();
        let edges = order_edges(&s);
        let (g, _) = build(&s);
        let all: Vec<String> = (0..n).map(name).collect();
        let all_refs: Vec<&str> = all.iter().map(String::as_str).collect();
        let on_cycle = |a: usize, b: usize| reachable(n, &edges, a)[b] && reachable(n, &edges, b)[a];
        let cyclic = edges.iter().any(|&(a, b)| on_cycle(a, b));
        match g.stop_plan(&all_refs, &|_| true) {
            Ok(_) => prop_assert!(!cyclic),
            Err(libsvc::plan::PlanError::Cycle(c)) => {
                prop_assert!(cyclic);
                let members: Vec<usize> = c.split(" -> ").map(|m| m[1..].parse().unwrap()).collect();
                prop_assert_eq!(members.first(), members.last());
                for w in members.windows(2) {
                    prop_assert!(edges.contains(&(w[0], w[1])), "{} is not an edge of {}", w[0], c);
                }
            }
            Err(e) => prop_assert!(false, "{}", e),
        }
        let (mut stop, cycles) = g.stop_plan_breaking_cycles(&all_refs, &|_| true);
        prop_assert_eq!(cycles.is_empty(), !cyclic);
        let mut stopped: BTreeSet<usize> = BTreeSet::new();
        let mut stopping: Vec<usize> = stop.begin().iter().map(|s| s[1..].parse().unwrap()).collect();
        let mut choices = s.choices.iter().cycle();
        let check = |m: usize, stopped: &BTreeSet<usize>| {
            edges.iter().all(|&(a, b)| b != m || stopped.contains(&a) || s.targets[a] || on_cycle(a, b))
        };
        for &m in &stopping { prop_assert!(check(m, &stopped)); }
        while !stopping.is_empty() {
            let pick = stopping.remove(choices.next().unwrap() % stopping.len());
            stopped.insert(pick);
            for next in stop.stopped(&name(pick)).unwrap() {
                let m: usize = next[1..].parse().unwrap();
                prop_assert!(check(m, &stopped), "{} stops while something after it runs", m);
                stopping.push(m);
            }
        }
        prop_assert!(stop.is_done());
    }
}
