//! The job engine without processes: a `Host` that records what the engine
//! does and answers from a table the test sets, as supervisors would.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::{Duration, Instant};

use libsvc::graph::Graph;
use libsvc::load::ServiceSet;

use super::{Host, Jobs, Outcome, Waiter};

/// Where a supervised service is, as the fake's supervisors report it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    Starting,
    Up,
    Failed(String),
    /// Told to exit; gone once the test says `exited`.
    Stopping,
}

/// What the engine did to the world, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Did {
    Start(String),
    Stop(String),
    Reached(String),
    Unreached(String),
    Blocked(String, String),
    Reply {
        client: u64,
        job: u64,
        ok: bool,
        outcome: BTreeMap<String, Outcome>,
    },
    Mark(Vec<String>),
    Unmark(Vec<String>),
    ClearStopped,
    NotifyParent,
    Exit,
}

struct Fake {
    set: ServiceSet,
    graph: Graph,
    /// Services with a supervisor.
    units: BTreeMap<String, State>,
    reached: BTreeSet<String>,
    /// Services whose start fails at once, with the error.
    cannot_start: BTreeMap<String, String>,
    marked: BTreeSet<String>,
    now: Instant,
    did: Vec<Did>,
    /// Console lines: "Starting db: ok", "Starting app: dependency db failed".
    lines: Vec<String>,
}

fn svc(deps: &str) -> String {
    format!("[service]\nexec = /bin/sleep 1000\n[dependencies]\n{deps}\n")
}

fn target(deps: &str) -> String {
    format!("[target]\n[dependencies]\n{deps}\n")
}

fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

fn waiter(client: u64) -> Waiter {
    Waiter {
        client,
        id: client * 10,
        method: "test".into(),
    }
}

fn outcome(list: &[(&str, Outcome)]) -> BTreeMap<String, Outcome> {
    list.iter()
        .map(|(n, o)| ((*n).to_owned(), o.clone()))
        .collect()
}

fn failed(why: &str) -> Outcome {
    Outcome::Failed(why.to_owned())
}

fn blocked(why: &str) -> Outcome {
    Outcome::Blocked(why.to_owned())
}

impl Fake {
    fn new(files: &[(&str, &str)]) -> Fake {
        let mut set = ServiceSet::default();
        for (name, text) in files {
            set.add_bytes(name, Path::new(&format!("{name}.ini")), text.as_bytes());
        }
        set.instantiate_referenced();
        assert!(
            set.diagnostics.iter().all(|d| !d.is_error()),
            "{:?}",
            set.diagnostics
        );
        // Cycles are reported here, and the plans must cope with them.
        let (graph, _) = Graph::build(&set);
        Fake {
            set,
            graph,
            units: BTreeMap::new(),
            reached: BTreeSet::new(),
            cannot_start: BTreeMap::new(),
            marked: BTreeSet::new(),
            now: Instant::now(),
            did: Vec::new(),
            lines: Vec::new(),
        }
    }

    /// These services run and these targets are reached, as at adoption.
    fn running(mut self, list: &[&str]) -> Fake {
        for n in list {
            if self.set.declarations[*n].is_target() {
                self.reached.insert((*n).to_owned());
            } else {
                self.units.insert((*n).to_owned(), State::Up);
            }
        }
        self
    }

    /// What the engine did since the last look.
    fn take(&mut self) -> Vec<Did> {
        std::mem::take(&mut self.did)
    }

    fn report(&mut self, jobs: &mut Jobs, name: &str, state: State) {
        self.units.insert(name.to_owned(), state);
        jobs.unit_changed(self, name);
    }

    fn ready(&mut self, jobs: &mut Jobs, name: &str) {
        self.report(jobs, name, State::Up);
    }

    fn fail(&mut self, jobs: &mut Jobs, name: &str, why: &str) {
        self.report(jobs, name, State::Failed(why.to_owned()));
    }

    /// The supervisor has gone, as the manager reports it (link_gone).
    fn exited(&mut self, jobs: &mut Jobs, name: &str) {
        self.units.remove(name);
        jobs.unit_changed(self, name);
        jobs.unit_stopped(self, name);
    }
}

impl Host for Fake {
    fn graph(&self) -> &Graph {
        &self.graph
    }
    fn is_target(&self, name: &str) -> bool {
        self.set
            .declarations
            .get(name)
            .is_some_and(|d| d.is_target())
    }
    fn is_up(&self, name: &str) -> bool {
        self.reached.contains(name) || self.units.get(name) == Some(&State::Up)
    }
    fn is_active(&self, name: &str) -> bool {
        self.reached.contains(name) || self.units.contains_key(name)
    }
    fn active_names(&self) -> BTreeSet<String> {
        self.reached
            .iter()
            .chain(self.units.keys())
            .cloned()
            .collect()
    }
    fn is_reached(&self, name: &str) -> bool {
        self.reached.contains(name)
    }
    fn verdict(&self, name: &str) -> Option<bool> {
        match self.units.get(name) {
            Some(State::Starting) => None,
            Some(State::Up) => Some(true),
            Some(State::Failed(_) | State::Stopping) | None => Some(false),
        }
    }
    fn failure_reason(&self, name: &str) -> Option<String> {
        match self.units.get(name) {
            Some(State::Failed(why)) => Some(why.clone()),
            _ => None,
        }
    }
    fn stop_timeout(&self, name: &str) -> Option<Duration> {
        self.set
            .declarations
            .get(name)
            .map(|d| d.service().map(|s| s.stop_timeout).unwrap_or_default())
    }
    fn marked_stopped(&self) -> BTreeSet<String> {
        self.marked.clone()
    }
    fn now(&self) -> Instant {
        self.now
    }

    fn start(&mut self, name: &str) -> Result<(), String> {
        self.did.push(Did::Start(name.to_owned()));
        if let Some(e) = self.cannot_start.get(name) {
            return Err(e.clone());
        }
        self.units.insert(name.to_owned(), State::Starting);
        Ok(())
    }
    fn stop(&mut self, name: &str) -> bool {
        if self.reached.contains(name) {
            return true;
        }
        match self.units.get_mut(name) {
            None => true,
            // Asked already: the same exit is awaited.
            Some(State::Stopping) => false,
            Some(state) => {
                *state = State::Stopping;
                self.did.push(Did::Stop(name.to_owned()));
                false
            }
        }
    }
    fn set_reached(&mut self, target: &str, reached: bool) {
        if reached {
            self.reached.insert(target.to_owned());
            self.did.push(Did::Reached(target.to_owned()));
        } else if self.reached.remove(target) {
            self.did.push(Did::Unreached(target.to_owned()));
        }
    }
    fn set_blocked(&mut self, name: &str, reason: &str) {
        self.did
            .push(Did::Blocked(name.to_owned(), reason.to_owned()));
    }
    fn changed(&mut self, _name: &str) {}
    fn outcome_line(&mut self, verb: &str, name: &str, ok: bool, reason: Option<&str>) {
        let verdict = if ok { "ok" } else { reason.unwrap_or("failed") };
        self.lines.push(format!("{verb} {name}: {verdict}"));
    }
    fn reply(&mut self, to: &Waiter, job: u64, ok: bool, outcome: &BTreeMap<String, Outcome>) {
        assert_eq!(to.id, to.client * 10, "the waiter's own request id");
        self.did.push(Did::Reply {
            client: to.client,
            job,
            ok,
            outcome: outcome.clone(),
        });
    }
    fn mark_stopped(&mut self, names: &[String]) {
        self.marked.extend(names.iter().cloned());
        self.did.push(Did::Mark(names.to_vec()));
    }
    fn unmark_stopped(&mut self, names: &[String]) {
        for n in names {
            self.marked.remove(n);
        }
        self.did.push(Did::Unmark(names.to_vec()));
    }
    fn clear_stopped(&mut self) {
        self.marked.clear();
        self.did.push(Did::ClearStopped);
    }
    fn notify_parent(&mut self) {
        self.did.push(Did::NotifyParent);
    }
    fn exit(&mut self) {
        self.did.push(Did::Exit);
    }
}

fn starts(did: &[Did]) -> Vec<&str> {
    did.iter()
        .filter_map(|d| match d {
            Did::Start(n) => Some(n.as_str()),
            _ => None,
        })
        .collect()
}

fn stops(did: &[Did]) -> Vec<&str> {
    did.iter()
        .filter_map(|d| match d {
            Did::Stop(n) => Some(n.as_str()),
            _ => None,
        })
        .collect()
}

fn replies(did: &[Did]) -> Vec<&Did> {
    did.iter()
        .filter(|d| matches!(d, Did::Reply { .. }))
        .collect()
}

fn reply(client: u64, job: u64, ok: bool, list: &[(&str, Outcome)]) -> Did {
    Did::Reply {
        client,
        job,
        ok,
        outcome: outcome(list),
    }
}

/// Submits `job` with client `client` waiting on it; returns its id.
fn submit(fake: &mut Fake, jobs: &mut Jobs, mut job: super::Job, client: u64) -> u64 {
    job.waiters.push(waiter(client));
    jobs.submit(fake, job)
}

/// db <- app <- web (requires), web after cache; `default` wants web and
/// cache.
fn web_stack() -> Fake {
    Fake::new(&[
        ("db", &svc("")),
        ("cache", &svc("")),
        ("app", &svc("requires = db")),
        ("web", &svc("requires = app\nafter = cache")),
        ("default", &target("wants = web cache")),
    ])
}

#[test]
fn start_follows_requires_and_after() {
    let mut fake = web_stack();
    let mut jobs = Jobs::default();
    let job = jobs.start_job(&mut fake, &names(&["default"])).unwrap();
    let id = submit(&mut fake, &mut jobs, job, 1);

    let did = fake.take();
    assert!(matches!(&did[0], Did::Unmark(n) if n.len() == 5), "{did:?}");
    // Only what waits for nothing; the rest when what it waits for is ready.
    assert_eq!(starts(&did), ["cache", "db"]);
    fake.ready(&mut jobs, "db");
    assert_eq!(fake.take(), [Did::Start("app".into())]);
    fake.ready(&mut jobs, "app");
    // web requires app (ready) but starts after cache, still starting.
    assert_eq!(fake.take(), []);
    fake.ready(&mut jobs, "cache");
    assert_eq!(fake.take(), [Did::Start("web".into())]);
    fake.ready(&mut jobs, "web");
    assert_eq!(
        fake.take(),
        [
            Did::Reached("default".into()),
            reply(
                1,
                id,
                true,
                &[
                    ("app", Outcome::Started),
                    ("cache", Outcome::Started),
                    ("db", Outcome::Started),
                    ("default", Outcome::Reached),
                    ("web", Outcome::Started),
                ]
            ),
        ]
    );
    assert_eq!(
        fake.lines,
        [
            "Starting db: ok",
            "Starting app: ok",
            "Starting cache: ok",
            "Starting web: ok"
        ]
    );
    assert_eq!(jobs.iter().count(), 0);
}

#[test]
fn already_running_members_are_not_started_again() {
    // cache is only ordered before web: not pulled in, not reported.
    let mut fake = web_stack().running(&["db", "cache"]);
    let mut jobs = Jobs::default();
    let job = jobs.start_job(&mut fake, &names(&["web"])).unwrap();
    let id = submit(&mut fake, &mut jobs, job, 1);
    assert_eq!(starts(&fake.take()), ["app"]);
    fake.ready(&mut jobs, "app");
    assert_eq!(fake.take(), [Did::Start("web".into())]);
    fake.ready(&mut jobs, "web");
    assert_eq!(
        fake.take(),
        [reply(
            1,
            id,
            true,
            &[
                ("app", Outcome::Started),
                ("db", Outcome::AlreadyUp),
                ("web", Outcome::Started),
            ]
        )]
    );
}

#[test]
fn a_failure_blocks_its_requirers_not_its_wanters() {
    let mut fake = web_stack();
    let mut jobs = Jobs::default();
    let job = jobs.start_job(&mut fake, &names(&["default"])).unwrap();
    let id = submit(&mut fake, &mut jobs, job, 1);
    fake.take();
    // A status that says nothing yet settles nothing.
    fake.report(&mut jobs, "db", State::Starting);
    assert_eq!(fake.take(), []);

    fake.fail(&mut jobs, "db", "exit status 1");
    let did = fake.take();
    assert_eq!(
        did,
        [
            Did::Blocked("app".into(), "dependency db failed".into()),
            Did::Blocked("web".into(), "dependency app failed".into()),
        ]
    );
    // default only wants web: it is reached once cache settles.
    fake.ready(&mut jobs, "cache");
    assert_eq!(
        fake.take(),
        [
            Did::Reached("default".into()),
            reply(
                1,
                id,
                false,
                &[
                    ("app", blocked("dependency db failed")),
                    ("cache", Outcome::Started),
                    ("db", failed("exit status 1")),
                    ("default", Outcome::Reached),
                    ("web", blocked("dependency app failed")),
                ]
            ),
        ]
    );
    assert_eq!(
        fake.lines[..3],
        [
            "Starting db: exit status 1",
            "Starting app: dependency db failed",
            "Starting web: dependency app failed",
        ]
    );
}

#[test]
fn a_service_that_cannot_be_started_fails_its_requirers_at_once() {
    let mut fake = web_stack();
    fake.cannot_start
        .insert("db".into(), "cannot run the supervisor".into());
    let mut jobs = Jobs::default();
    let job = jobs.start_job(&mut fake, &names(&["app"])).unwrap();
    let id = submit(&mut fake, &mut jobs, job, 1);
    // Settled within the submit: nothing is left waiting.
    assert_eq!(
        fake.take()[1..],
        [
            Did::Start("db".into()),
            Did::Blocked("app".into(), "dependency db failed".into()),
            reply(
                1,
                id,
                false,
                &[
                    ("app", blocked("dependency db failed")),
                    ("db", failed("cannot run the supervisor")),
                ]
            ),
        ]
    );
    assert_eq!(jobs.iter().count(), 0);
}

#[test]
fn stop_takes_requirers_first_in_reverse_order() {
    let mut fake = web_stack().running(&["db", "app", "web", "cache"]);
    let mut jobs = Jobs::default();
    let job = jobs.stop_job(&mut fake, &names(&["db"]));
    assert_eq!(fake.take(), [Did::Mark(names(&["app", "db", "web"]))]);
    let id = submit(&mut fake, &mut jobs, job, 1);
    assert_eq!(fake.take(), [Did::Stop("web".into())]);
    fake.exited(&mut jobs, "web");
    assert_eq!(fake.take(), [Did::Stop("app".into())]);
    fake.exited(&mut jobs, "app");
    assert_eq!(fake.take(), [Did::Stop("db".into())]);
    fake.exited(&mut jobs, "db");
    assert_eq!(
        fake.take(),
        [reply(
            1,
            id,
            true,
            &[
                ("app", Outcome::Stopped),
                ("db", Outcome::Stopped),
                ("web", Outcome::Stopped),
            ]
        )]
    );
    assert_eq!(
        fake.lines,
        ["Stopping web: ok", "Stopping app: ok", "Stopping db: ok"]
    );
    assert!(
        fake.units.contains_key("cache"),
        "not a requirer: still runs"
    );
}

#[test]
fn a_second_stop_joins_the_first() {
    let mut fake = web_stack().running(&["db"]);
    let mut jobs = Jobs::default();
    let first = jobs.stop_job(&mut fake, &names(&["db"]));
    let first = submit(&mut fake, &mut jobs, first, 1);
    let second = jobs.stop_job(&mut fake, &names(&["db"]));
    let second = submit(&mut fake, &mut jobs, second, 2);
    assert_ne!(first, second);
    // One exit asked for; both wait for the same supervisor to go.
    assert_eq!(stops(&fake.take()), ["db"]);
    assert_eq!(jobs.iter().count(), 2);
    fake.exited(&mut jobs, "db");
    let stopped = [("db", Outcome::Stopped)];
    assert_eq!(
        fake.take(),
        [
            reply(1, first, true, &stopped),
            reply(2, second, true, &stopped)
        ]
    );
}

#[test]
fn restart_stops_requirers_then_starts_them_again() {
    let mut fake = Fake::new(&[
        ("db", &svc("")),
        ("app", &svc("requires = db")),
        ("default", &target("requires = app")),
    ])
    .running(&["db", "app", "default"]);
    let mut jobs = Jobs::default();
    let job = jobs.restart_job(&mut fake, &names(&["db"]));
    assert_eq!(fake.take(), [Did::Unmark(names(&["db", "app"]))]);
    let id = submit(&mut fake, &mut jobs, job, 1);
    // The target that requires them stays reached.
    assert_eq!(fake.take(), [Did::Stop("app".into())]);
    fake.exited(&mut jobs, "app");
    assert_eq!(fake.take(), [Did::Stop("db".into())]);
    fake.exited(&mut jobs, "db");
    assert_eq!(fake.take(), [Did::Start("db".into())]);
    fake.ready(&mut jobs, "db");
    assert_eq!(fake.take(), [Did::Start("app".into())]);
    fake.ready(&mut jobs, "app");
    assert_eq!(
        fake.take(),
        [reply(
            1,
            id,
            true,
            &[("app", Outcome::Started), ("db", Outcome::Started)]
        )]
    );
    assert!(fake.reached.contains("default"));
}

fn cyclic() -> Fake {
    Fake::new(&[
        ("r1", &svc("requires = r2")),
        ("r2", &svc("requires = r1")),
        ("web", &svc("requires = r1")),
        ("db", &svc("")),
        ("other", &target("wants = db")),
    ])
    .running(&["r1", "r2", "web", "db"])
}

#[test]
fn stop_restart_and_switch_over_a_cycle_are_refused_naming_it() {
    let mut fake = cyclic();
    let mut jobs = Jobs::default();
    let why = "dependency cycle: r1 -> r2 -> r1";
    let stop = jobs.stop_job(&mut fake, &names(&["r1"]));
    let stop = submit(&mut fake, &mut jobs, stop, 1);
    let restart = jobs.restart_job(&mut fake, &names(&["web", "r2"]));
    let restart = submit(&mut fake, &mut jobs, restart, 2);
    // Answered at once; nothing stopped, nothing recorded as stopped.
    assert_eq!(
        fake.take(),
        [
            reply(1, stop, false, &[("r1", failed(why))]),
            reply(
                2,
                restart,
                false,
                &[("r2", failed(why)), ("web", failed(why))]
            ),
        ]
    );
    let switch = jobs.switch_job(&mut fake, "other");
    assert_eq!(switch.err().map(|f| f.text), Some(why.to_owned()));
    assert_eq!(fake.take(), []);
    assert!(fake.units.values().all(|s| *s == State::Up));
    assert_eq!(jobs.iter().count(), 0);
    // Outside the cycle, stopping is as before.
    let job = jobs.stop_job(&mut fake, &names(&["db"]));
    submit(&mut fake, &mut jobs, job, 3);
    assert_eq!(stops(&fake.take()), ["db"]);
}

#[test]
fn shutdown_interrupts_jobs_in_flight_then_stops_everything() {
    let mut fake = Fake::new(&[
        ("db", &svc("")),
        ("app", &svc("requires = db")),
        (
            "slow",
            &svc("").replace("[dependencies]", "stop-timeout = 20s\n[dependencies]"),
        ),
    ])
    .running(&["slow"]);
    let mut jobs = Jobs::default();
    let job = jobs.start_job(&mut fake, &names(&["app"])).unwrap();
    let started = submit(&mut fake, &mut jobs, job, 1);
    assert_eq!(starts(&fake.take()), ["db"]);

    jobs.shutdown(&mut fake, Some(waiter(2)));
    let why = "interrupted: the manager is shutting down";
    let did = fake.take();
    assert_eq!(
        did[0],
        reply(
            1,
            started,
            false,
            &[("app", failed(why)), ("db", failed(why))]
        )
    );
    let mut stopping = stops(&did[1..]);
    stopping.sort_unstable();
    assert_eq!(stopping, ["db", "slow"]);
    // Bounded by the longest stop-timeout of what runs, plus 5 s.
    assert_eq!(
        jobs.shutdown_deadline(),
        Some(fake.now + Duration::from_secs(25))
    );
    // Over only once the last supervisor has gone.
    fake.exited(&mut jobs, "db");
    assert_eq!(fake.take(), []);
    fake.exited(&mut jobs, "slow");
    let did = fake.take();
    assert!(
        matches!(
            &did[0],
            Did::Reply {
                client: 2,
                ok: true,
                ..
            }
        ),
        "{did:?}"
    );
    assert_eq!(did[1..], [Did::ClearStopped, Did::Exit]);
}

#[test]
fn shutdown_stops_a_cycle_together() {
    let mut fake = cyclic();
    let mut jobs = Jobs::default();
    jobs.shutdown(&mut fake, None);
    let mut first = stops(&fake.take())
        .into_iter()
        .map(str::to_owned)
        .collect::<Vec<_>>();
    first.sort_unstable();
    assert_eq!(first, ["db", "web"]);
    fake.exited(&mut jobs, "db");
    assert_eq!(fake.take(), []);
    fake.exited(&mut jobs, "web");
    // No order inside the cycle: its members stop together.
    assert_eq!(stops(&fake.take()), ["r2", "r1"]);
    fake.exited(&mut jobs, "r1");
    assert_eq!(fake.take(), []);
    fake.exited(&mut jobs, "r2");
    assert_eq!(fake.take(), [Did::ClearStopped, Did::Exit]);
}

#[test]
fn a_second_shutdown_joins_the_first() {
    let mut fake = web_stack().running(&["db"]);
    let mut jobs = Jobs::default();
    jobs.shutdown(&mut fake, Some(waiter(1)));
    assert_eq!(stops(&fake.take()), ["db"]);
    jobs.shutdown(&mut fake, Some(waiter(2)));
    assert_eq!(fake.take(), []);
    assert_eq!(jobs.iter().count(), 1);
    fake.exited(&mut jobs, "db");
    let did = fake.take();
    let job = match &did[0] {
        Did::Reply { job, .. } => *job,
        other => panic!("{other:?}"),
    };
    let stopped = [("db", Outcome::Stopped)];
    assert_eq!(
        did,
        [
            reply(1, job, true, &stopped),
            reply(2, job, true, &stopped),
            Did::ClearStopped,
            Did::Exit,
        ]
    );
}

#[test]
fn an_overdue_shutdown_gives_up_and_exits() {
    let mut fake = web_stack().running(&["db"]);
    fake.marked.insert("cache".into());
    let mut jobs = Jobs::default();
    jobs.shutdown(&mut fake, Some(waiter(1)));
    let job = jobs.iter().next().map(|j| j.id).unwrap();
    fake.take();
    jobs.shutdown_overdue(&mut fake);
    let did = fake.take();
    assert_eq!(
        did[0],
        reply(
            1,
            job,
            false,
            &[("db", failed("its supervisor did not exit in time"))]
        )
    );
    assert!(
        did.len() > 1 && did[1..].iter().all(|d| *d == Did::Exit),
        "{did:?}"
    );
    // Not stopped in order: the stop records stay for the next manager.
    assert_eq!(jobs.shutdown_deadline(), None);
    assert!(fake.marked.contains("cache"));
}

#[test]
fn a_late_recovery_starts_what_waited_unless_stopped_since() {
    for stop_first in [false, true] {
        let mut fake = web_stack();
        let mut jobs = Jobs::default();
        let job = jobs.start_job(&mut fake, &names(&["app"])).unwrap();
        submit(&mut fake, &mut jobs, job, 1);
        fake.fail(&mut jobs, "db", "exit status 1");
        assert_eq!(replies(&fake.take()).len(), 1);
        assert_eq!(jobs.iter().count(), 0);
        if stop_first {
            // An explicit stop drops the plans kept for late recoveries.
            let job = jobs.stop_job(&mut fake, &names(&["cache"]));
            submit(&mut fake, &mut jobs, job, 2);
            fake.take();
        }
        // Its supervisor restarted it, and it is ready after all.
        fake.ready(&mut jobs, "db");
        if stop_first {
            assert_eq!(fake.take(), []);
            continue;
        }
        assert_eq!(fake.take(), [Did::Start("app".into())]);
        fake.ready(&mut jobs, "app");
        assert_eq!(fake.lines.last().unwrap(), "Starting app: ok");
        assert_eq!(jobs.iter().count(), 0);
    }
}

#[test]
fn boot_leaves_stopped_services_down_and_tells_the_parent() {
    let mut fake = web_stack();
    fake.marked.insert("db".into());
    let mut jobs = Jobs::default();
    jobs.boot(&mut fake, "default", false).unwrap();
    let did = fake.take();
    assert_eq!(starts(&did), ["cache"]);
    assert!(
        did.contains(&Did::Blocked(
            "app".into(),
            "dependency db is stopped".into()
        )),
        "{did:?}"
    );
    // Not an explicit start: the record stays.
    assert!(!did.iter().any(|d| matches!(d, Did::Unmark(_))));
    fake.ready(&mut jobs, "cache");
    assert_eq!(
        fake.take(),
        [Did::Reached("default".into()), Did::NotifyParent]
    );
    assert!(fake.marked.contains("db"));
}

#[test]
fn start_stops_conflicts_first() {
    let mut fake = Fake::new(&[
        ("old", &svc("")),
        ("new", &svc("conflicts = old")),
        ("dep", &svc("requires = old")),
    ])
    .running(&["old", "dep"]);
    let mut jobs = Jobs::default();
    let job = jobs.start_job(&mut fake, &names(&["new"])).unwrap();
    assert_eq!(
        fake.take(),
        [
            Did::Unmark(names(&["new"])),
            Did::Mark(names(&["dep", "old"]))
        ]
    );
    let id = submit(&mut fake, &mut jobs, job, 1);
    assert_eq!(fake.take(), [Did::Stop("dep".into())]);
    fake.exited(&mut jobs, "dep");
    assert_eq!(fake.take(), [Did::Stop("old".into())]);
    fake.exited(&mut jobs, "old");
    assert_eq!(fake.take(), [Did::Start("new".into())]);
    fake.ready(&mut jobs, "new");
    assert_eq!(
        fake.take(),
        [reply(
            1,
            id,
            true,
            &[
                ("dep", Outcome::Stopped),
                ("new", Outcome::Started),
                ("old", Outcome::Stopped),
            ]
        )]
    );
}

#[test]
fn switch_stops_what_the_target_leaves_out_then_starts_the_rest() {
    let mut fake = Fake::new(&[
        ("x", &svc("")),
        ("y", &svc("")),
        ("a", &target("wants = x")),
        ("b", &target("wants = y")),
    ])
    .running(&["x", "a"]);
    let mut jobs = Jobs::default();
    let job = jobs.switch_job(&mut fake, "b").unwrap();
    assert_eq!(
        fake.take(),
        [Did::Mark(names(&["x"])), Did::Unmark(names(&["b", "y"]))]
    );
    let id = submit(&mut fake, &mut jobs, job, 1);
    assert_eq!(fake.take(), [Did::Stop("x".into())]);
    fake.exited(&mut jobs, "x");
    assert_eq!(
        fake.take(),
        [Did::Unreached("a".into()), Did::Start("y".into())]
    );
    fake.ready(&mut jobs, "y");
    assert_eq!(
        fake.take(),
        [
            Did::Reached("b".into()),
            reply(
                1,
                id,
                true,
                // A target stops by itself: no outcome of its own.
                &[
                    ("b", Outcome::Reached),
                    ("x", Outcome::Stopped),
                    ("y", Outcome::Started),
                ]
            ),
        ]
    );
}
