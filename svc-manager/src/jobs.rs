//! Jobs: what `start`, `stop`, `restart`, `target` and `shutdown` set in
//! motion. A job first stops (a `StopPlan`, or a plain set of services),
//! then starts (a `StartPlan`), driving libsvc's pure plans with what the
//! supervisors report, and answers the clients waiting on it once every
//! member has settled.
//!
//! The engine (`Jobs`) owns the jobs and the plans kept for late
//! recoveries, and reaches the world only through `Host`: what it reads
//! (the graph, who is up, a started service's verdict, the clock) and what
//! it does (start, stop, reply, ...). The manager is the real host
//! (`manager/host.rs`); the unit tests (`jobs/tests.rs`) drive the engine
//! with a recording fake, without processes.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use libsvc::graph::Graph;
use libsvc::plan::{MemberState, StartPlan, Step, StopPlan, StopState};

use crate::proto::{Failure, code};

#[cfg(test)]
mod tests;

/// What the job engine reads of the world and does to it.
pub trait Host {
    // ----- what the engine reads -----

    /// The dependency graph of the current declarations.
    fn graph(&self) -> &Graph;
    fn is_target(&self, name: &str) -> bool;
    /// Running, as plans count it: a service that is up, a target reached.
    fn is_up(&self, name: &str) -> bool;
    /// What a stop must stop: a service with a supervisor (or with what a
    /// dead one left running), or a target reached.
    fn is_active(&self, name: &str) -> bool;
    fn active_names(&self) -> BTreeSet<String>;
    /// A target reached.
    fn is_reached(&self, name: &str) -> bool;
    /// Whether a service told to start is ready (`Some(true)`), has failed
    /// (`Some(false)`) or is still on its way (`None`).
    fn verdict(&self, name: &str) -> Option<bool>;
    /// Why a service failed, as its supervisor put it.
    fn failure_reason(&self, name: &str) -> Option<String>;
    /// A service's declared stop-timeout (zero for a target); `None` when
    /// there is no declaration.
    fn stop_timeout(&self, name: &str) -> Option<Duration>;
    /// The services recorded as stopped by the administrator.
    fn marked_stopped(&self) -> BTreeSet<String>;
    fn now(&self) -> Instant;

    // ----- what the engine does -----

    /// Tells the service's supervisor to start it, spawning a supervisor
    /// first when there is none. Err: it cannot be started at all.
    fn start(&mut self, name: &str) -> Result<(), String>;
    /// Tells the service's supervisor to stop it and exit. True: nothing
    /// runs (done now); false: `Jobs::unit_stopped` follows.
    fn stop(&mut self, name: &str) -> bool;
    fn set_reached(&mut self, target: &str, reached: bool);
    /// Records why a plan did not start `name`.
    fn set_blocked(&mut self, name: &str, reason: &str);
    /// `name`'s status changed (an event to watchers).
    fn changed(&mut self, name: &str);
    /// An outcome line on the console (` * Starting nginx ... [ ok ]`).
    fn outcome_line(&mut self, verb: &str, name: &str, ok: bool, reason: Option<&str>);
    /// Answers a client waiting on job `job`.
    fn reply(&mut self, to: &Waiter, job: u64, ok: bool, outcome: &BTreeMap<String, Outcome>);
    fn mark_stopped(&mut self, names: &[String]);
    fn unmark_stopped(&mut self, names: &[String]);
    /// Forgets every stop (after an orderly shutdown).
    fn clear_stopped(&mut self);
    /// Tells the manager's parent that the boot job has settled.
    fn notify_parent(&mut self);
    /// A job has settled (after its replies).
    fn job_settled(&mut self) {}
    /// Leaves the loop (a shutdown is over).
    fn exit(&mut self);
}

enum StopPhase {
    Nothing,
    Plan(StopPlan),
}

enum StartPhase {
    Nothing,
    /// Ready-made (a switch plan's start half).
    Plan(StartPlan),
    /// Planned once the stop phase is over, against what runs then.
    Names(Vec<String>),
}

/// What a job did to one service, for the reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Started,
    AlreadyUp,
    Reached,
    Failed(String),
    Blocked(String),
    Stopped,
}

impl Outcome {
    pub fn word(&self) -> &'static str {
        match self {
            Outcome::Started => "started",
            Outcome::AlreadyUp => "already-up",
            Outcome::Reached => "reached",
            Outcome::Failed(_) => "failed",
            Outcome::Blocked(_) => "not-started",
            Outcome::Stopped => "stopped",
        }
    }
    fn failed(&self) -> bool {
        matches!(self, Outcome::Failed(_) | Outcome::Blocked(_))
    }
}

/// A client request answered when its job is done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waiter {
    pub client: u64,
    pub id: u64,
    pub method: String,
}

pub struct Job {
    pub id: u64,
    pub waiters: Vec<Waiter>,
    stop: StopPhase,
    stop_begun: bool,
    start: StartPhase,
    start_begun: bool,
    /// Services this job told to start.
    told: BTreeSet<String>,
    outcome: BTreeMap<String, Outcome>,
    /// Tell the manager's parent once this job is done.
    boot: bool,
    /// Leave the loop once done (shutdown).
    then_exit: bool,
    done: bool,
}

impl Job {
    fn new(id: u64, stop: StopPhase, start: StartPhase) -> Job {
        Job {
            id,
            waiters: Vec::new(),
            stop,
            stop_begun: false,
            start,
            start_begun: false,
            told: BTreeSet::new(),
            outcome: BTreeMap::new(),
            boot: false,
            then_exit: false,
            done: false,
        }
    }

    /// Ends the job now: every member not settled yet is reported
    /// failed with `why`.
    fn interrupt(&mut self, why: &str) {
        let mut pending: Vec<String> = Vec::new();
        if let StopPhase::Plan(p) = &self.stop {
            pending.extend(
                p.members()
                    .iter()
                    .filter(|n| p.state(n) != Some(StopState::Stopped))
                    .cloned(),
            );
        }
        match &self.start {
            StartPhase::Plan(p) => pending.extend(
                p.members()
                    .iter()
                    .filter(|n| !p.state(n).is_some_and(MemberState::is_settled))
                    .cloned(),
            ),
            StartPhase::Names(n) => pending.extend(n.iter().cloned()),
            StartPhase::Nothing => {}
        }
        for n in pending {
            self.outcome.insert(n, Outcome::Failed(why.to_owned()));
        }
        self.start = StartPhase::Nothing;
        self.stop_begun = true;
        self.start_begun = true;
        self.done = true;
    }

    fn stop_done(&self) -> bool {
        match &self.stop {
            StopPhase::Nothing => true,
            StopPhase::Plan(p) => p.is_done(),
        }
    }

    fn start_done(&self) -> bool {
        match &self.start {
            StartPhase::Nothing => true,
            StartPhase::Plan(p) => self.start_begun && p.is_done(),
            StartPhase::Names(n) => n.is_empty() && self.start_begun,
        }
    }

    fn failed(&self) -> bool {
        self.outcome.values().any(Outcome::failed)
    }

    /// Moves the job as far as it can go now.
    fn advance(&mut self, host: &mut dyn Host) {
        if !self.stop_begun {
            self.stop_begun = true;
            let first = match &mut self.stop {
                StopPhase::Nothing => Vec::new(),
                StopPhase::Plan(p) => p.begin(),
            };
            self.stop_some(host, first);
        }
        if !self.stop_done() {
            return;
        }
        if !self.start_begun {
            self.start_begun = true;
            if let StopPhase::Plan(p) = &self.stop {
                for name in p.members() {
                    host.set_reached(name, false);
                }
            }
            if let StartPhase::Names(names) = &self.start {
                let names = names.clone();
                let refs: Vec<&str> = names.iter().map(String::as_str).collect();
                let planned = host
                    .graph()
                    .start_plan_with(&refs, &|n| host.is_up(n))
                    .map_err(|e| e.to_string());
                match planned {
                    Ok(p) => self.start = StartPhase::Plan(p),
                    Err(e) => {
                        for n in names {
                            self.outcome.insert(n, Outcome::Failed(e.clone()));
                        }
                        self.start = StartPhase::Nothing;
                    }
                }
            }
            if let StartPhase::Plan(p) = &mut self.start {
                let already: Vec<String> = p
                    .members()
                    .iter()
                    .filter(|n| p.state(n) == Some(&MemberState::Ready))
                    .cloned()
                    .collect();
                for n in already {
                    self.outcome.entry(n).or_insert(Outcome::AlreadyUp);
                }
                let step = p.begin();
                self.apply_step(host, step);
            }
        }
        if self.start_done() {
            self.done = true;
        }
    }

    /// Tells these services to stop; those already stopped advance the plan.
    fn stop_some(&mut self, host: &mut dyn Host, names: Vec<String>) {
        let mut work = names;
        while let Some(name) = work.pop() {
            if !host.stop(&name) {
                continue;
            }
            self.outcome.insert(name.clone(), Outcome::Stopped);
            match &mut self.stop {
                StopPhase::Plan(p) => {
                    if let Ok(more) = p.stopped(&name) {
                        work.extend(more);
                    }
                }
                StopPhase::Nothing => {}
            }
        }
    }

    /// Carries out a plan step: start services, mark targets, record
    /// members that will not start. Immediate failures feed back in.
    fn apply_step(&mut self, host: &mut dyn Host, step: Step) {
        let mut steps = vec![step];
        while let Some(step) = steps.pop() {
            for t in step.reached {
                tracing::info!("target {t} reached");
                host.set_reached(&t, true);
                self.outcome.insert(t.clone(), Outcome::Reached);
                host.changed(&t);
            }
            for (name, reason) in step.failed {
                tracing::warn!("{name}: not started: {reason}");
                if !host.is_target(&name) {
                    host.outcome_line("Starting", &name, false, Some(&reason));
                }
                host.set_blocked(&name, &reason);
                self.outcome
                    .insert(name.clone(), Outcome::Blocked(reason.clone()));
                host.changed(&name);
            }
            for name in step.start {
                self.told.insert(name.clone());
                let result = host.start(&name);
                let StartPhase::Plan(p) = &mut self.start else {
                    continue;
                };
                match result {
                    Err(e) => {
                        tracing::warn!("{name}: cannot start: {e}");
                        host.outcome_line("Starting", &name, false, Some(&e));
                        self.outcome.insert(name.clone(), Outcome::Failed(e));
                        if let Ok(s) = p.failed(&name) {
                            steps.push(s);
                        }
                    }
                    Ok(()) => {
                        if let Some(verdict) = host.verdict(&name) {
                            steps.push(self.settle_member(host, &name, verdict));
                        }
                    }
                }
            }
        }
    }

    fn settle_member(&mut self, host: &mut dyn Host, name: &str, ready: bool) -> Step {
        let StartPhase::Plan(p) = &mut self.start else {
            return Step::default();
        };
        if ready {
            tracing::info!("{name}: ready");
            host.outcome_line("Starting", name, true, None);
            self.outcome.insert(name.to_owned(), Outcome::Started);
            p.ready(name).unwrap_or_default()
        } else {
            let reason = host
                .failure_reason(name)
                .unwrap_or_else(|| "exited before it was ready".into());
            tracing::warn!("{name}: failed to start: {reason}");
            host.outcome_line("Starting", name, false, Some(&reason));
            self.outcome
                .insert(name.to_owned(), Outcome::Failed(reason.clone()));
            p.failed(name).unwrap_or_default()
        }
    }
}

/// The job engine: the jobs in flight, and settled start plans with failed
/// members, kept so that requirers start if such a member becomes ready
/// later.
pub struct Jobs {
    jobs: Vec<Job>,
    next_id: u64,
    lingering: Vec<StartPlan>,
    /// When a shutdown in progress stops waiting for supervisors.
    shutdown_deadline: Option<Instant>,
}

impl Default for Jobs {
    fn default() -> Jobs {
        Jobs {
            jobs: Vec::new(),
            next_id: 1,
            lingering: Vec::new(),
            shutdown_deadline: None,
        }
    }
}

impl Jobs {
    /// The jobs in flight.
    pub fn iter(&self) -> impl Iterator<Item = &Job> {
        self.jobs.iter()
    }

    pub fn shutdown_deadline(&self) -> Option<Instant> {
        self.shutdown_deadline
    }

    /// Queues a job and sets it going.
    pub fn submit(&mut self, host: &mut dyn Host, mut job: Job) -> u64 {
        let id = job.id;
        job.advance(host);
        self.finish_or_keep(host, job);
        id
    }

    fn new_job(&mut self, stop: StopPhase, start: StartPhase) -> Job {
        let id = self.next_id;
        self.next_id += 1;
        Job::new(id, stop, start)
    }

    fn finish_or_keep(&mut self, host: &mut dyn Host, job: Job) {
        if job.done {
            self.finish(host, job);
        } else {
            self.jobs.push(job);
        }
    }

    /// Runs `f` over every live job, then finishes those that are done.
    fn each_job(&mut self, host: &mut dyn Host, mut f: impl FnMut(&mut dyn Host, &mut Job)) {
        let jobs = std::mem::take(&mut self.jobs);
        let mut keep = Vec::with_capacity(jobs.len());
        for mut job in jobs {
            f(host, &mut job);
            if job.done {
                self.finish(host, job);
            } else {
                keep.push(job);
            }
        }
        // Jobs submitted meanwhile were pushed to self.jobs.
        keep.append(&mut self.jobs);
        self.jobs = keep;
    }

    /// A service's status changed: jobs waiting for it may move on, and a
    /// settled plan in which it had failed may now start its requirers.
    pub fn unit_changed(&mut self, host: &mut dyn Host, name: &str) {
        if !self.lingering.is_empty() && host.is_up(name) {
            self.revive(host, name);
        }
        if self.jobs.is_empty() {
            return;
        }
        self.each_job(host, |host, job| {
            let StartPhase::Plan(p) = &mut job.start else {
                return;
            };
            if !job.start_begun {
                return;
            }
            match p.state(name) {
                Some(MemberState::Starting) if job.told.contains(name) => {
                    if let Some(ready) = host.verdict(name) {
                        let step = job.settle_member(host, name, ready);
                        job.apply_step(host, step);
                    }
                }
                // Failed before it was ready, ready now after a restart.
                Some(MemberState::Failed) if host.is_up(name) => {
                    let step = p.ready(name).unwrap_or_default();
                    job.apply_step(host, step);
                }
                _ => return,
            }
            if job.start_done() {
                job.done = true;
            }
        });
    }

    /// A service's supervisor is gone: stop phases waiting for it move on.
    pub fn unit_stopped(&mut self, host: &mut dyn Host, name: &str) {
        if self.jobs.is_empty() {
            return;
        }
        self.each_job(host, |host, job| {
            let waiting = match &job.stop {
                StopPhase::Plan(p) => p.state(name) == Some(StopState::Stopping),
                StopPhase::Nothing => false,
            };
            if !waiting || !job.stop_begun {
                return;
            }
            tracing::info!("{name}: stopped");
            host.outcome_line("Stopping", name, true, None);
            job.outcome.insert(name.to_owned(), Outcome::Stopped);
            let more = match &mut job.stop {
                StopPhase::Plan(p) => p.stopped(name).unwrap_or_default(),
                StopPhase::Nothing => Vec::new(),
            };
            job.stop_some(host, more);
            job.advance(host);
        });
    }

    /// `name` failed during a plan that has settled and is up now: what
    /// waited for it and is still wanted starts (declarations.md).
    fn revive(&mut self, host: &mut dyn Host, name: &str) {
        let plans = std::mem::take(&mut self.lingering);
        for mut plan in plans {
            if plan.state(name) != Some(&MemberState::Failed) {
                self.lingering.push(plan);
                continue;
            }
            tracing::info!("{name}: ready after all; starting what waited for it");
            let step = plan.ready(name).unwrap_or_default();
            let mut job = self.new_job(StopPhase::Nothing, StartPhase::Plan(plan));
            job.stop_begun = true;
            job.start_begun = true;
            job.apply_step(host, step);
            job.done = job.start_done();
            self.finish_or_keep(host, job);
        }
    }

    /// Answers the waiting clients and runs the job's last duties.
    fn finish(&mut self, host: &mut dyn Host, job: Job) {
        let failed = job.failed();
        tracing::debug!("job {} done (failed: {failed})", job.id);
        for w in &job.waiters {
            host.reply(w, job.id, !failed, &job.outcome);
        }
        if job.boot {
            host.notify_parent();
        }
        host.job_settled();
        if job.then_exit {
            if !failed {
                // Everything stopped in order: the next manager boots
                // afresh, not as the heir of a running system.
                host.clear_stopped();
            }
            host.exit();
        }
        if let StartPhase::Plan(p) = job.start
            && p.members()
                .iter()
                .any(|n| p.state(n) == Some(&MemberState::Failed))
        {
            let recovered: Vec<String> = p
                .members()
                .iter()
                .filter(|n| p.state(n) == Some(&MemberState::Failed) && host.is_up(n))
                .cloned()
                .collect();
            // Bounded: only the latest plans wait for late recoveries.
            if self.lingering.len() >= 16 {
                self.lingering.remove(0);
            }
            self.lingering.push(p);
            for n in recovered {
                self.revive(host, &n);
            }
        }
    }

    // ----- jobs for the methods -----

    /// `start NAMES`: conflicting services that run stop first. What it
    /// starts is no longer recorded as stopped.
    pub fn start_job(&mut self, host: &mut dyn Host, names: &[String]) -> Result<Job, Failure> {
        self.plan_start(host, names, true)
    }

    /// A start job; `explicit` when an administrator asked for it (the
    /// boot plan is not: it leaves what was stopped stopped).
    fn plan_start(
        &mut self,
        host: &mut dyn Host,
        names: &[String],
        explicit: bool,
    ) -> Result<Job, Failure> {
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let mut plan = host
            .graph()
            .start_plan_with(&refs, &|n| host.is_up(n))
            .map_err(|e| Failure::new(code::FAILED, e.to_string()))?;
        if explicit {
            host.unmark_stopped(plan.members());
        } else {
            leave_stopped_down(host, &mut plan);
        }
        let conflicting: Vec<&str> = plan
            .conflicting()
            .iter()
            .filter(|c| host.is_active(c))
            .map(String::as_str)
            .collect();
        let stop = if conflicting.is_empty() {
            StopPhase::Nothing
        } else {
            let plan = host
                .graph()
                .stop_plan(&conflicting, &|n| host.is_active(n))
                .map_err(|e| Failure::new(code::FAILED, e.to_string()))?;
            mark_stopped(host, &plan);
            StopPhase::Plan(plan)
        };
        Ok(self.new_job(stop, StartPhase::Plan(plan)))
    }

    /// `stop NAMES`: and whatever running requires them, in reverse order.
    pub fn stop_job(&mut self, host: &mut dyn Host, names: &[String]) -> Job {
        // What is stopped on purpose is not revived by an older plan.
        self.lingering.clear();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        match host.graph().stop_plan(&refs, &|n| host.is_active(n)) {
            Ok(plan) => {
                mark_stopped(host, &plan);
                self.new_job(stop_phase(plan), StartPhase::Nothing)
            }
            Err(e) => self.refused_job(names, &e.to_string()),
        }
    }

    /// A job that cannot be planned (a dependency cycle): done at once,
    /// each named service failed with the reason, nothing touched.
    fn refused_job(&mut self, names: &[String], reason: &str) -> Job {
        tracing::warn!("{}: {reason}", names.join(", "));
        let mut job = self.new_job(StopPhase::Nothing, StartPhase::Nothing);
        for n in names {
            job.outcome
                .insert(n.clone(), Outcome::Failed(reason.to_owned()));
        }
        job.stop_begun = true;
        job.start_begun = true;
        job.done = true;
        job
    }

    /// `restart NAMES`: stop these and the running services that require
    /// them (stopping one stops its requirers, declarations.md), in reverse
    /// order; then start them all again, requirers once what they require
    /// is back. Targets stay reached meanwhile.
    pub fn restart_job(&mut self, host: &mut dyn Host, names: &[String]) -> Job {
        let services: Vec<&str> = names
            .iter()
            .filter(|n| !host.is_target(n))
            .map(String::as_str)
            .collect();
        let planned = host.graph().stop_plan(&services, &|n| {
            host.is_active(n) && !host.is_reached(n) && !host.is_target(n)
        });
        let plan = match planned {
            Ok(plan) => plan,
            Err(e) => return self.refused_job(names, &e.to_string()),
        };
        let mut again: Vec<String> = names.to_vec();
        for member in plan.members() {
            if !again.contains(member) {
                again.push(member.clone());
            }
        }
        host.unmark_stopped(&again);
        if again.len() > names.len() {
            tracing::info!(
                "restart: also restarting {} (they require what restarts)",
                again[names.len()..].join(", ")
            );
        }
        self.new_job(stop_phase(plan), StartPhase::Names(again))
    }

    /// `target T`: stop what T does not pull in, start what it does.
    pub fn switch_job(&mut self, host: &mut dyn Host, target: &str) -> Result<Job, Failure> {
        self.lingering.clear();
        let running = host.active_names();
        let plan = host
            .graph()
            .switch_plan(target, &running)
            .map_err(|e| Failure::new(code::FAILED, e.to_string()))?;
        mark_stopped(host, &plan.stop);
        host.unmark_stopped(plan.start.members());
        Ok(self.new_job(stop_phase(plan.stop), StartPhase::Plan(plan.start)))
    }

    /// The boot job: starts `target`, leaving down what the administrator
    /// stopped; the manager's parent hears of it once the plan has
    /// settled. `adopted`: what the previous manager left under
    /// supervision was already settled by it, and failed services are not
    /// retried by a re-attach.
    pub fn boot(
        &mut self,
        host: &mut dyn Host,
        target: &str,
        adopted: bool,
    ) -> Result<u64, Failure> {
        let mut job = if adopted {
            let mut plan = host
                .graph()
                .start_plan_with(&[target], &|n| host.is_active(n) || host.is_up(n))
                .map_err(|e| Failure::new(code::FAILED, e.to_string()))?;
            leave_stopped_down(host, &mut plan);
            self.new_job(StopPhase::Nothing, StartPhase::Plan(plan))
        } else {
            self.plan_start(host, &[target.to_owned()], false)?
        };
        job.boot = true;
        Ok(self.submit(host, job))
    }

    /// Stops everything in reverse order, then leaves the loop. Nothing
    /// can hold it up: jobs in flight end now (what they had not done is
    /// reported as interrupted), a dependency cycle stops as one, and the
    /// loop gives up on supervisors that outlast the shutdown's bound.
    pub fn shutdown(&mut self, host: &mut dyn Host, waiter: Option<Waiter>) {
        if let Some(job) = self.jobs.iter_mut().find(|j| j.then_exit) {
            // Already shutting down: the same answer, when it is over.
            job.waiters.extend(waiter);
            return;
        }
        self.lingering.clear();
        for mut job in std::mem::take(&mut self.jobs) {
            job.interrupt("interrupted: the manager is shutting down");
            self.finish(host, job);
        }
        let names: Vec<String> = host.active_names().into_iter().collect();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let (plan, cycles) = host
            .graph()
            .stop_plan_breaking_cycles(&refs, &|n| host.is_active(n));
        for c in cycles {
            tracing::warn!("dependency cycle: {c}: its members stop together");
        }
        self.shutdown_deadline = Some(host.now() + shutdown_bound(host));
        let mut job = self.new_job(stop_phase(plan), StartPhase::Nothing);
        job.then_exit = true;
        job.waiters.extend(waiter);
        self.submit(host, job);
    }

    /// The shutdown has outlasted its bound: what is in flight ends, and
    /// the manager leaves the loop.
    pub fn shutdown_overdue(&mut self, host: &mut dyn Host) {
        self.shutdown_deadline = None;
        for mut job in std::mem::take(&mut self.jobs) {
            job.interrupt("its supervisor did not exit in time");
            self.finish(host, job);
        }
        host.exit();
    }
}

/// Records the services a stop plan stops as stopped by the
/// administrator (a manager started after a crash leaves them down).
fn mark_stopped(host: &mut dyn Host, plan: &StopPlan) {
    let services: Vec<String> = plan
        .members()
        .iter()
        .filter(|n| !host.is_target(n))
        .cloned()
        .collect();
    host.mark_stopped(&services);
}

/// Members of a boot plan recorded as stopped stay down (their requirers
/// with them).
fn leave_stopped_down(host: &dyn Host, plan: &mut StartPlan) {
    for name in host.marked_stopped() {
        if plan.contains(&name) && !host.is_up(&name) && plan.leave_down(&name).is_ok() {
            tracing::info!("{name}: left down (stopped by the administrator)");
        }
    }
}

/// How long a shutdown may take: the longest stop-timeout of what runs
/// (supervisors SIGKILL at it), plus a margin for them to report.
fn shutdown_bound(host: &dyn Host) -> Duration {
    let longest = host
        .active_names()
        .iter()
        .filter(|n| !host.is_reached(n))
        .map(|n| host.stop_timeout(n).unwrap_or(SHUTDOWN_DEFAULT_STOP))
        .max()
        .unwrap_or_default();
    longest + SHUTDOWN_MARGIN
}

/// The stop-timeout assumed for services without a declaration.
const SHUTDOWN_DEFAULT_STOP: Duration = Duration::from_secs(10);
/// Beyond the longest stop-timeout, what supervisors get to report.
const SHUTDOWN_MARGIN: Duration = Duration::from_secs(5);

fn stop_phase(plan: StopPlan) -> StopPhase {
    if plan.members().is_empty() {
        StopPhase::Nothing
    } else {
        StopPhase::Plan(plan)
    }
}
