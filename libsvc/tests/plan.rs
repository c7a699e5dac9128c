//! The graph and the plans, one rule per test.

mod common;

use common::{graph_of, messages, set_of, svc, target};
use libsvc::graph::Graph;
use libsvc::plan::{MemberState, PlanError, Step, StopState};
use std::collections::BTreeSet;

fn step(start: &[&str], reached: &[&str], failed: &[(&str, &str)]) -> Step {
    Step {
        start: start.iter().map(|s| s.to_string()).collect(),
        reached: reached.iter().map(|s| s.to_string()).collect(),
        failed: failed
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect(),
    }
}

#[test]
fn requires_gates_on_readiness_and_targets_settle_themselves() {
    let g = graph_of(&[
        ("default", &target("requires = web")),
        ("web", &svc("requires = db cache")),
        ("db", &svc("")),
        ("cache", &svc("")),
    ]);
    let mut p = g.start_plan(&["default"]).unwrap();
    assert_eq!(p.begin(), step(&["cache", "db"], &[], &[]));
    assert_eq!(p.ready("db").unwrap(), step(&[], &[], &[]));
    assert_eq!(p.ready("cache").unwrap(), step(&["web"], &[], &[]));
    assert_eq!(p.state("web"), Some(&MemberState::Starting));
    assert_eq!(p.ready("web").unwrap(), step(&[], &["default"], &[]));
    assert!(p.is_done());
}

#[test]
fn requirers_fail_wanters_carry_on() {
    let g = graph_of(&[
        ("default", &target("wants = app other")),
        ("app", &svc("requires = cache")),
        ("top", &svc("requires = app")),
        ("other", &svc("wants = cache")),
        ("cache", &svc("")),
        ("t", &target("requires = top")),
    ]);
    let mut p = g.start_plan(&["default", "t"]).unwrap();
    assert_eq!(p.begin(), step(&["cache"], &[], &[]));
    let s = p.failed("cache").unwrap();
    assert_eq!(
        s,
        step(
            &["other"],
            &[],
            &[
                ("app", "dependency cache failed"),
                ("t", "dependency top failed"),
                ("top", "dependency app failed")
            ]
        )
    );
    // default only wants app: it is reached once everything settled.
    assert_eq!(p.ready("other").unwrap(), step(&[], &["default"], &[]));
    assert!(p.is_done());
    // The failed member restarts on its own policy and becomes ready:
    // what required it starts then.
    assert_eq!(p.ready("cache").unwrap(), step(&["app"], &[], &[]));
    assert_eq!(p.ready("app").unwrap(), step(&["top"], &[], &[]));
    assert_eq!(p.ready("top").unwrap(), step(&[], &["t"], &[]));
}

#[test]
fn after_and_before_order_only_within_the_plan() {
    let g = graph_of(&[
        ("a", &svc("after = b")),
        ("b", &svc("")),
        ("c", &svc("before = a")),
    ]);
    // b and c are not pulled in by a: a starts at once.
    let mut p = g.start_plan(&["a"]).unwrap();
    assert_eq!(p.members(), ["a"]);
    assert_eq!(p.begin(), step(&["a"], &[], &[]));
    // With all three, a waits for both; a failure of b does not stop it.
    let mut p = g.start_plan(&["a", "b", "c"]).unwrap();
    assert_eq!(p.begin(), step(&["b", "c"], &[], &[]));
    assert_eq!(p.failed("b").unwrap(), step(&[], &[], &[]));
    assert_eq!(p.ready("c").unwrap(), step(&["a"], &[], &[]));
}

#[test]
fn virtual_names_resolve_to_a_provider() {
    let g = graph_of(&[
        ("app", &svc("requires = syslog")),
        ("rsyslog", &svc("provides = syslog")),
        ("busybox-syslogd", &svc("provides = syslog")),
        ("t", &target("wants = app rsyslog")),
    ]);
    // Nothing else chooses: the first provider by name.
    let p = g.start_plan(&["app"]).unwrap();
    assert_eq!(p.members(), ["app", "busybox-syslogd"]);
    // A provider already in the plan meets the name.
    let mut p = g.start_plan(&["t"]).unwrap();
    assert_eq!(p.members(), ["app", "rsyslog", "t"]);
    assert_eq!(p.begin(), step(&["rsyslog"], &[], &[]));
    assert_eq!(
        p.failed("rsyslog").unwrap().failed,
        [("app".to_string(), "dependency rsyslog failed".to_string())]
    );
    // A running provider is preferred.
    let p = g.start_plan_with(&["app"], &|n| n == "rsyslog").unwrap();
    assert_eq!(p.members(), ["app", "rsyslog"]);
    assert_eq!(
        g.providers("syslog").unwrap(),
        ["busybox-syslogd", "rsyslog"]
    );
}

#[test]
fn running_members_count_as_ready() {
    let g = graph_of(&[("a", &svc("requires = b")), ("b", &svc(""))]);
    let mut p = g.start_plan_with(&["a"], &|n| n == "b").unwrap();
    assert_eq!(p.begin(), step(&["a"], &[], &[]));
}

#[test]
fn conflicts_both_directions() {
    let g = graph_of(&[
        ("a", &svc("conflicts = b")),
        ("b", &svc("")),
        ("c", &svc("requires = a")),
        ("d", &svc("requires = b")),
    ]);
    assert_eq!(g.start_plan(&["c"]).unwrap().conflicting(), ["b"]);
    assert_eq!(g.start_plan(&["d"]).unwrap().conflicting(), ["a"]);
    assert_eq!(
        g.start_plan(&["c", "d"]).unwrap_err(),
        PlanError::Conflict("a".into(), "b".into())
    );
}

#[test]
fn starting_stops_running_conflicts_and_their_requirers() {
    let g = graph_of(&[
        ("exim", &svc("conflicts = postfix")),
        ("postfix", &svc("")),
        ("webmail", &svc("requires = postfix")),
    ]);
    let running: BTreeSet<String> = ["postfix", "webmail"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let mut plan = g.start_stopping_conflicts(&["exim"], &running).unwrap();
    assert_eq!(plan.stop.order(), ["webmail", "postfix"]);
    assert_eq!(plan.stop.begin(), ["webmail"]);
    assert_eq!(plan.stop.stopped("webmail").unwrap(), ["postfix"]);
    assert_eq!(plan.start.begin(), step(&["exim"], &[], &[]));
    // Nothing running conflicts: nothing to stop.
    let mut plan = g
        .start_stopping_conflicts(&["exim"], &BTreeSet::new())
        .unwrap();
    assert!(plan.stop.members().is_empty());
    assert!(plan.stop.begin().is_empty());
}

#[test]
fn stop_plan_reverse_order_and_requirers() {
    let g = graph_of(&[
        ("web", &svc("requires = db\nwants = cache")),
        ("db", &svc("")),
        ("cache", &svc("")),
        ("report", &svc("requires = web")),
        ("idle", &svc("requires = db")),
    ]);
    let running: BTreeSet<&str> = ["web", "db", "cache", "report"].into();
    let mut p = g.stop_plan(&["db"], &|n| running.contains(n)).unwrap();
    // idle requires db but does not run; cache is only wanted.
    let mut members = p.members().to_vec();
    members.sort();
    assert_eq!(members, ["db", "report", "web"]);
    assert_eq!(p.order(), ["report", "web", "db"]);
    assert_eq!(p.begin(), ["report"]);
    assert_eq!(p.stopped("report").unwrap(), ["web"]);
    assert_eq!(p.state("db"), Some(StopState::Waiting));
    assert_eq!(p.stopped("web").unwrap(), ["db"]);
    assert_eq!(p.stopped("db").unwrap(), Vec::<String>::new());
    assert!(p.is_done());
    assert_eq!(
        p.stopped("nope").unwrap_err(),
        PlanError::NotInPlan("nope".into())
    );
}

#[test]
fn switch_plan() {
    let g = graph_of(&[
        ("default", &target("requires = boot\nwants = nginx crond")),
        ("rescue", &target("requires = boot\nwants = shell")),
        ("boot", &target("wants = syslogd")),
        ("syslogd", &svc("")),
        ("nginx", &svc("requires = syslogd")),
        ("crond", &svc("")),
        ("shell", &svc("conflicts = crond")),
    ]);
    let running: BTreeSet<String> = ["default", "boot", "syslogd", "nginx", "crond", "gone"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let mut sw = g.switch_plan("rescue", &running).unwrap();
    let mut stop = sw.stop.members().to_vec();
    stop.sort();
    assert_eq!(stop, ["crond", "default", "gone", "nginx"]);
    // default (a target) stops first by itself, then nginx and the rest.
    assert_eq!(sw.stop.begin(), ["crond", "gone", "nginx"]);
    let mut start = sw.start.members().to_vec();
    start.sort();
    assert_eq!(start, ["boot", "rescue", "shell", "syslogd"]);
    assert_eq!(sw.start.begin(), step(&["shell"], &[], &[]));
    assert_eq!(
        sw.start.ready("shell").unwrap(),
        step(&[], &["rescue"], &[])
    );
}

#[test]
fn cycles_name_every_member_in_order_with_files() {
    let set = set_of(&[
        ("a", &svc("requires = b")),
        ("b", &svc("after = c")),
        ("c", &svc("")),
        ("d", &svc("before = c\nwants = a")),
        ("e", &svc("requires = e")),
        ("ok", &svc("requires = a")),
    ]);
    let (g, diags) = Graph::build(&set);
    let m = messages(&diags);
    assert_eq!(
        m,
        [
            "a.ini:4: dependency cycle: a -> b -> c -> d -> a; a requires b (a.ini:4), b after c (b.ini:4), d before c (d.ini:4), d wants a (d.ini:5)",
            "e.ini:4: dependency cycle: e -> e; e requires e (e.ini:4)",
        ]
    );
    assert_eq!(
        g.start_plan(&["ok", "c", "d"]).unwrap_err(),
        PlanError::Cycle("a -> b -> c -> d -> a".into())
    );
}

#[test]
fn unknown_names() {
    let set = set_of(&[
        (
            "a",
            &svc("requires = nginz\nwants = gone\nafter = whatever\nwanted-by = nodefault b"),
        ),
        ("b", &svc("requires = getty@tty1")),
        ("nginx", &svc("")),
    ]);
    let (_, diags) = Graph::build(&set);
    assert_eq!(
        messages(&diags),
        [
            "a.ini:4: 'requires = nginz': no declaration or provided name 'nginz'; did you mean 'nginx'?",
            "a.ini:5: warning: 'wants = gone': no declaration or provided name 'gone'",
            "a.ini:7: warning: 'wanted-by = nodefault': no target named 'nodefault'",
            "a.ini:7: warning: 'wanted-by = b': 'b' is a service, not a target",
            "b.ini:4: 'requires = getty@tty1': no declaration or provided name 'getty@tty1' (and no template 'getty@')",
        ]
    );
    assert_eq!(
        graph_of(&[]).start_plan(&["x"]).unwrap_err(),
        PlanError::Unknown("x".into())
    );
}

#[test]
fn provides_cannot_shadow_a_declaration() {
    let set = set_of(&[("a", &svc("provides = b")), ("b", &svc(""))]);
    let (_, diags) = Graph::build(&set);
    assert_eq!(
        messages(&diags),
        ["a.ini:4: 'provides = b': 'b' is already the name of a declaration"]
    );
}

#[test]
fn waits_for_lists_each_dependency() {
    let g = graph_of(&[
        ("a", &svc("requires = b\nwants = c\nafter = d")),
        ("b", &svc("")),
        ("c", &svc("")),
        ("d", &svc("")),
    ]);
    let p = g.start_plan(&["a", "d"]).unwrap();
    assert_eq!(
        p.waits_for("a").unwrap(),
        vec![(vec!["b"], true), (vec!["c"], false), (vec!["d"], false)]
    );
}
