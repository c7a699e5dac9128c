//! Stop and switch plans over a graph with a dependency cycle among
//! running services: an error naming the cycle, never a plan that waits
//! forever; a shutdown's plan stops the cycle's members together.

mod common;

use common::{set_of, svc, target};
use libsvc::graph::Graph;
use libsvc::plan::{PlanError, Step, StopState};
use std::collections::BTreeSet;

/// The graph of a set whose only errors are its cycles (reported at
/// load; the plans must cope with them all the same).
fn graph_of(files: &[(&str, &str)]) -> Graph {
    let set = set_of(files);
    assert!(!set.has_errors(), "{:#?}", set.diagnostics);
    let (g, diags) = Graph::build(&set);
    for d in diags.iter().filter(|d| d.is_error()) {
        assert!(d.to_string().contains("dependency cycle"), "{d}");
    }
    g
}

fn cyclic() -> libsvc::graph::Graph {
    graph_of(&[
        ("r1", &svc("requires = r2")),
        ("r2", &svc("requires = r1")),
        ("web", &svc("requires = r1")),
        ("db", &svc("")),
        ("default", &target("wants = web db")),
    ])
}

const CYCLE: &str = "r1 -> r2 -> r1";

#[test]
fn stop_plan_over_a_cycle_is_an_error_naming_it() {
    let g = cyclic();
    let running = |n: &str| n != "default";
    for names in [&["r1"][..], &["r2"], &["web", "r2"]] {
        assert_eq!(
            g.stop_plan(names, &running).unwrap_err(),
            PlanError::Cycle(CYCLE.into()),
            "{names:?}"
        );
    }
    assert_eq!(
        g.stop_plan(&["r1"], &running).unwrap_err().to_string(),
        format!("dependency cycle: {CYCLE}")
    );
    // Outside the cycle, stopping is as before.
    let mut p = g.stop_plan(&["db"], &running).unwrap();
    assert_eq!(p.begin(), ["db"]);
}

#[test]
fn switch_and_conflict_plans_over_a_cycle_are_errors() {
    let g = cyclic();
    let running: BTreeSet<String> = ["r1", "r2", "web", "db"].map(String::from).into();
    let g2 = graph_of(&[
        ("r1", &svc("requires = r2")),
        ("r2", &svc("requires = r1")),
        ("x", &svc("conflicts = r1")),
    ]);
    assert_eq!(
        g2.start_stopping_conflicts(&["x"], &running).unwrap_err(),
        PlanError::Cycle(CYCLE.into())
    );
    let g3 = graph_of(&[
        ("r1", &svc("requires = r2")),
        ("r2", &svc("requires = r1")),
        ("rescue", &target("")),
    ]);
    assert_eq!(
        g3.switch_plan("rescue", &running).unwrap_err(),
        PlanError::Cycle(CYCLE.into())
    );
    let _ = g;
}

#[test]
fn a_shutdown_plan_stops_a_cycle_together_and_finishes() {
    let g = cyclic();
    let all = ["r1", "r2", "web", "db", "default"];
    let (mut p, cycles) = g.stop_plan_breaking_cycles(&all, &|_| true);
    assert_eq!(cycles, [CYCLE]);
    // The target goes by itself; web requires r1, so it stops first.
    assert_eq!(p.begin(), ["db", "web"]);
    assert_eq!(p.state("r1"), Some(StopState::Waiting));
    assert_eq!(p.stopped("db").unwrap(), Vec::<String>::new());
    assert_eq!(p.stopped("web").unwrap(), ["r1", "r2"]);
    assert!(p.stopped("r1").unwrap().is_empty());
    assert!(p.stopped("r2").unwrap().is_empty());
    assert!(p.is_done());
}

#[test]
fn a_self_requirement_is_a_cycle_too() {
    let g = graph_of(&[("e", &svc("requires = e"))]);
    assert_eq!(
        g.stop_plan(&["e"], &|_| true).unwrap_err(),
        PlanError::Cycle("e -> e".into())
    );
    let (mut p, cycles) = g.stop_plan_breaking_cycles(&["e"], &|_| true);
    assert_eq!(cycles, ["e -> e"]);
    assert_eq!(p.begin(), ["e"]);
}

#[test]
fn a_member_left_down_is_not_started_and_blocks_its_requirers() {
    let g = graph_of(&[
        ("default", &target("wants = web db cache")),
        ("web", &svc("requires = db")),
        ("db", &svc("")),
        ("cache", &svc("after = db")),
    ]);
    let mut p = g.start_plan(&["default"]).unwrap();
    p.leave_down("db").unwrap();
    assert_eq!(
        p.begin(),
        Step {
            start: vec!["cache".into()],
            reached: vec![],
            failed: vec![("web".into(), "dependency db is stopped".into())],
        }
    );
    assert_eq!(p.ready("cache").unwrap().reached, ["default"]);
    assert!(p.is_done());
    assert_eq!(
        p.leave_down("nope").unwrap_err(),
        PlanError::NotInPlan("nope".into())
    );
}
