//! Jobs: what `start`, `stop`, `restart`, `target` and `shutdown` set in
//! motion. A job first stops (a `StopPlan`, or a plain set of services),
//! then starts (a `StartPlan`), driving libsvc's pure plans with what the
//! supervisors report, and answers the clients waiting on it once every
//! member has settled.

use std::collections::{BTreeMap, BTreeSet};

use libnv::NvList;
use libsvc::plan::{MemberState, StartPlan, Step, StopPlan, StopState};

use crate::manager::Manager;
use crate::proto::{self, Failure, code};
use crate::stopped;

pub enum StopPhase {
    Nothing,
    Plan(StopPlan),
}

pub enum StartPhase {
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

pub struct Waiter {
    pub client: u64,
    pub id: u64,
    pub method: String,
}

pub struct Job {
    pub id: u64,
    pub stop: StopPhase,
    pub stop_begun: bool,
    pub start: StartPhase,
    pub start_begun: bool,
    /// Services this job told to start.
    pub told: BTreeSet<String>,
    pub outcome: BTreeMap<String, Outcome>,
    pub waiters: Vec<Waiter>,
    /// Tell the manager's parent once this job is done.
    pub boot: bool,
    /// Leave the loop once done (shutdown).
    pub then_exit: bool,
    pub done: bool,
}

impl Job {
    pub fn new(id: u64, stop: StopPhase, start: StartPhase) -> Job {
        Job {
            id,
            stop,
            stop_begun: false,
            start,
            start_begun: false,
            told: BTreeSet::new(),
            outcome: BTreeMap::new(),
            waiters: Vec::new(),
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
}

impl Manager {
    /// Queues a job and sets it going.
    pub fn submit(&mut self, mut job: Job) -> u64 {
        let id = job.id;
        self.advance(&mut job);
        self.finish_or_keep(job);
        id
    }

    pub fn new_job(&mut self, stop: StopPhase, start: StartPhase) -> Job {
        let id = self.next_job;
        self.next_job += 1;
        Job::new(id, stop, start)
    }

    fn finish_or_keep(&mut self, job: Job) {
        if job.done {
            self.finish(job);
        } else {
            self.jobs.push(job);
        }
    }

    /// Runs `f` over every live job, then finishes those that are done.
    fn each_job(&mut self, mut f: impl FnMut(&mut Manager, &mut Job)) {
        let jobs = std::mem::take(&mut self.jobs);
        let mut keep = Vec::with_capacity(jobs.len());
        for mut job in jobs {
            f(self, &mut job);
            if job.done {
                self.finish(job);
            } else {
                keep.push(job);
            }
        }
        // Jobs submitted meanwhile were pushed to self.jobs.
        keep.append(&mut self.jobs);
        self.jobs = keep;
    }

    /// Moves a job as far as it can go now.
    fn advance(&mut self, job: &mut Job) {
        if !job.stop_begun {
            job.stop_begun = true;
            let first = match &mut job.stop {
                StopPhase::Nothing => Vec::new(),
                StopPhase::Plan(p) => p.begin(),
            };
            self.stop_some(job, first);
        }
        if !job.stop_done() {
            return;
        }
        if !job.start_begun {
            job.start_begun = true;
            if let StopPhase::Plan(p) = &job.stop {
                for name in p.members() {
                    self.targets_up.remove(name);
                }
            }
            if let StartPhase::Names(names) = &job.start {
                let names = names.clone();
                let refs: Vec<&str> = names.iter().map(String::as_str).collect();
                let planned = self
                    .graph
                    .start_plan_with(&refs, &|n| self.is_up(n))
                    .map_err(|e| e.to_string());
                match planned {
                    Ok(p) => job.start = StartPhase::Plan(p),
                    Err(e) => {
                        for n in names {
                            job.outcome.insert(n, Outcome::Failed(e.clone()));
                        }
                        job.start = StartPhase::Nothing;
                    }
                }
            }
            if let StartPhase::Plan(p) = &mut job.start {
                let already: Vec<String> = p
                    .members()
                    .iter()
                    .filter(|n| p.state(n) == Some(&MemberState::Ready))
                    .cloned()
                    .collect();
                for n in already {
                    job.outcome.entry(n).or_insert(Outcome::AlreadyUp);
                }
                let step = p.begin();
                self.apply_step(job, step);
            }
        }
        if job.start_done() {
            job.done = true;
        }
    }

    /// Tells these services to stop; those already stopped advance the plan.
    fn stop_some(&mut self, job: &mut Job, names: Vec<String>) {
        let mut work = names;
        while let Some(name) = work.pop() {
            if !self.stop_unit(&name) {
                continue;
            }
            job.outcome.insert(name.clone(), Outcome::Stopped);
            match &mut job.stop {
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
    fn apply_step(&mut self, job: &mut Job, step: Step) {
        let mut steps = vec![step];
        while let Some(step) = steps.pop() {
            for t in step.reached {
                tracing::info!("target {t} reached");
                self.targets_up.insert(t.clone());
                job.outcome.insert(t.clone(), Outcome::Reached);
                self.broadcast_event(&t);
            }
            for (name, reason) in step.failed {
                tracing::warn!("{name}: not started: {reason}");
                if !self.is_target(&name) {
                    self.print_outcome("Starting", &name, false, Some(&reason));
                }
                self.units.entry(name.clone()).or_default().blocked = Some(reason.clone());
                job.outcome.insert(name.clone(), Outcome::Blocked(reason));
                self.broadcast_event(&name);
            }
            for name in step.start {
                job.told.insert(name.clone());
                let result = self.start_unit(&name);
                let StartPhase::Plan(p) = &mut job.start else {
                    continue;
                };
                match result {
                    Err(e) => {
                        tracing::warn!("{name}: cannot start: {e}");
                        self.print_outcome("Starting", &name, false, Some(&e));
                        job.outcome.insert(name.clone(), Outcome::Failed(e));
                        if let Ok(s) = p.failed(&name) {
                            steps.push(s);
                        }
                    }
                    Ok(()) => {
                        if let Some(verdict) = self.judge(&name) {
                            steps.push(self.settle_member(job, &name, verdict));
                        }
                    }
                }
            }
        }
    }

    /// Whether a member told to start is ready (`Some(true)`), failed
    /// (`Some(false)`) or still on its way.
    fn judge(&self, name: &str) -> Option<bool> {
        let unit = self.units.get(name)?;
        let Some(i) = unit.link else {
            return if unit.respawn { None } else { Some(false) };
        };
        let link = self.links[i].as_ref()?;
        if link.exiting || !link.declared || link.awaiting_start.is_some() {
            return if link.exiting && !unit.respawn {
                Some(false)
            } else {
                None
            };
        }
        let s = &unit.status;
        match s.state.as_str() {
            "ready" | "finished" => Some(true),
            "failed" | "backoff" | "down" => Some(false),
            "stopping" if s.reason.is_some() => Some(false),
            _ if s.restarts > unit.restarts_base => Some(false),
            _ => None,
        }
    }

    fn settle_member(&mut self, job: &mut Job, name: &str, ready: bool) -> Step {
        let StartPhase::Plan(p) = &mut job.start else {
            return Step::default();
        };
        if ready {
            tracing::info!("{name}: ready");
            self.print_outcome("Starting", name, true, None);
            job.outcome.insert(name.to_owned(), Outcome::Started);
            p.ready(name).unwrap_or_default()
        } else {
            let reason = self
                .units
                .get(name)
                .and_then(|u| u.status.reason.clone())
                .unwrap_or_else(|| "exited before it was ready".into());
            tracing::warn!("{name}: failed to start: {reason}");
            self.print_outcome("Starting", name, false, Some(&reason));
            job.outcome
                .insert(name.to_owned(), Outcome::Failed(reason.clone()));
            p.failed(name).unwrap_or_default()
        }
    }

    /// A service's status changed: jobs waiting for it may move on, and a
    /// settled plan in which it had failed may now start its requirers.
    pub fn unit_changed(&mut self, name: &str) {
        if !self.lingering.is_empty() && self.is_up(name) {
            self.revive(name);
        }
        if self.jobs.is_empty() {
            return;
        }
        let name = name.to_owned();
        self.each_job(|m, job| {
            let StartPhase::Plan(p) = &mut job.start else {
                return;
            };
            if !job.start_begun {
                return;
            }
            match p.state(&name) {
                Some(MemberState::Starting) if job.told.contains(&name) => {
                    if let Some(ready) = m.judge(&name) {
                        let step = m.settle_member(job, &name, ready);
                        m.apply_step(job, step);
                    }
                }
                // Failed before it was ready, ready now after a restart.
                Some(MemberState::Failed) if m.is_up(&name) => {
                    let step = p.ready(&name).unwrap_or_default();
                    m.apply_step(job, step);
                }
                _ => return,
            }
            if job.start_done() {
                job.done = true;
            }
        });
    }

    /// A service's supervisor is gone: stop phases waiting for it move on.
    pub fn unit_stopped(&mut self, name: &str) {
        if self.jobs.is_empty() {
            return;
        }
        let name = name.to_owned();
        self.each_job(|m, job| {
            let waiting = match &job.stop {
                StopPhase::Plan(p) => p.state(&name) == Some(StopState::Stopping),
                StopPhase::Nothing => false,
            };
            if !waiting || !job.stop_begun {
                return;
            }
            tracing::info!("{name}: stopped");
            m.print_outcome("Stopping", &name, true, None);
            job.outcome.insert(name.clone(), Outcome::Stopped);
            let more = match &mut job.stop {
                StopPhase::Plan(p) => p.stopped(&name).unwrap_or_default(),
                StopPhase::Nothing => Vec::new(),
            };
            m.stop_some(job, more);
            m.advance(job);
        });
    }

    /// `name` failed during a plan that has settled and is up now: what
    /// waited for it and is still wanted starts (declarations.md).
    fn revive(&mut self, name: &str) {
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
            self.apply_step(&mut job, step);
            job.done = job.start_done();
            self.finish_or_keep(job);
        }
    }

    /// Answers the waiting clients and runs the job's last duties.
    fn finish(&mut self, job: Job) {
        let failed = job.outcome.values().any(Outcome::failed);
        tracing::debug!("job {} done (failed: {failed})", job.id);
        for w in &job.waiters {
            let reply = self.job_reply(&job, w);
            self.send_to_client(w.client, &reply);
        }
        if job.boot {
            self.notify_parent();
        }
        if job.then_exit {
            if !failed {
                // Everything stopped in order: the next manager boots
                // afresh, not as the heir of a running system.
                stopped::clear(&self.cfg.runtime_dir);
            }
            self.exit = true;
        }
        if let StartPhase::Plan(p) = job.start
            && p.members()
                .iter()
                .any(|n| p.state(n) == Some(&MemberState::Failed))
        {
            let recovered: Vec<String> = p
                .members()
                .iter()
                .filter(|n| p.state(n) == Some(&MemberState::Failed) && self.is_up(n))
                .cloned()
                .collect();
            // Bounded: only the latest plans wait for late recoveries.
            if self.lingering.len() >= 16 {
                self.lingering.remove(0);
            }
            self.lingering.push(p);
            for n in recovered {
                self.revive(&n);
            }
        }
    }

    fn job_reply(&self, job: &Job, w: &Waiter) -> NvList {
        let mut reply = proto::message(w.id, &w.method, true);
        let _ = reply.add_number("job", job.id);
        let failed = job.outcome.values().any(Outcome::failed);
        let _ = reply.add_bool("ok", !failed);
        let mut items = Vec::new();
        for (name, outcome) in &job.outcome {
            let mut item = self.status_item(name);
            let _ = item.add_string("result", outcome.word());
            if let Outcome::Failed(r) | Outcome::Blocked(r) = outcome
                && !item.contains("reason")
            {
                let _ = item.add_string("reason", r);
            }
            items.push(item);
        }
        if !items.is_empty() {
            let _ = reply.add_nvlist_array("services", items);
        }
        reply
    }

    // ----- job constructors for the methods -----

    /// `start NAMES`: conflicting services that run stop first. What it
    /// starts is no longer recorded as stopped.
    pub fn start_job(&mut self, names: &[String]) -> Result<Job, Failure> {
        self.plan_start(names, true)
    }

    /// A start job; `explicit` when an administrator asked for it (the
    /// boot plan is not: it leaves what was stopped stopped).
    pub fn plan_start(&mut self, names: &[String], explicit: bool) -> Result<Job, Failure> {
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let mut plan = self
            .graph
            .start_plan_with(&refs, &|n| self.is_up(n))
            .map_err(|e| Failure::new(code::FAILED, e.to_string()))?;
        if explicit {
            stopped::unmark(&self.cfg.runtime_dir, plan.members());
        } else {
            self.leave_stopped_down(&mut plan);
        }
        let conflicting: Vec<&str> = plan
            .conflicting()
            .iter()
            .filter(|c| self.is_active(c))
            .map(String::as_str)
            .collect();
        let stop = if conflicting.is_empty() {
            StopPhase::Nothing
        } else {
            let plan = self
                .graph
                .stop_plan(&conflicting, &|n| self.is_active(n))
                .map_err(|e| Failure::new(code::FAILED, e.to_string()))?;
            self.mark_stopped(&plan);
            StopPhase::Plan(plan)
        };
        Ok(self.new_job(stop, StartPhase::Plan(plan)))
    }

    /// `stop NAMES`: and whatever running requires them, in reverse order.
    pub fn stop_job(&mut self, names: &[String]) -> Job {
        // What is stopped on purpose is not revived by an older plan.
        self.lingering.clear();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        match self.graph.stop_plan(&refs, &|n| self.is_active(n)) {
            Ok(plan) => {
                self.mark_stopped(&plan);
                self.new_job(stop_phase(plan), StartPhase::Nothing)
            }
            Err(e) => self.refused_job(names, &e.to_string()),
        }
    }

    /// Records the services a stop plan stops as stopped by the
    /// administrator (a manager started after a crash leaves them down).
    fn mark_stopped(&self, plan: &StopPlan) {
        let services = plan.members().iter().filter(|n| !self.is_target(n));
        stopped::mark(&self.cfg.runtime_dir, services);
    }

    /// Members of a boot plan recorded as stopped stay down (their
    /// requirers with them).
    pub fn leave_stopped_down(&self, plan: &mut StartPlan) {
        for name in stopped::marked(&self.cfg.runtime_dir) {
            if plan.contains(&name) && !self.is_up(&name) && plan.leave_down(&name).is_ok() {
                tracing::info!("{name}: left down (stopped by the administrator)");
            }
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
    pub fn restart_job(&mut self, names: &[String]) -> Job {
        let services: Vec<&str> = names
            .iter()
            .filter(|n| !self.is_target(n))
            .map(String::as_str)
            .collect();
        let planned = self.graph.stop_plan(&services, &|n| {
            self.is_active(n) && !self.targets_up.contains(n) && !self.is_target(n)
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
        stopped::unmark(&self.cfg.runtime_dir, &again);
        if again.len() > names.len() {
            tracing::info!(
                "restart: also restarting {} (they require what restarts)",
                again[names.len()..].join(", ")
            );
        }
        self.new_job(stop_phase(plan), StartPhase::Names(again))
    }

    /// `target T`: stop what T does not pull in, start what it does.
    pub fn switch_job(&mut self, target: &str) -> Result<Job, Failure> {
        self.lingering.clear();
        let running = self.active_names();
        let plan = self
            .graph
            .switch_plan(target, &running)
            .map_err(|e| Failure::new(code::FAILED, e.to_string()))?;
        self.cfg.target = target.to_owned();
        self.mark_stopped(&plan.stop);
        stopped::unmark(&self.cfg.runtime_dir, plan.start.members());
        Ok(self.new_job(stop_phase(plan.stop), StartPhase::Plan(plan.start)))
    }

    /// Stops everything in reverse order, then leaves the loop. Nothing
    /// can hold it up: jobs in flight end now (what they had not done is
    /// reported as interrupted), a dependency cycle stops as one, and the
    /// loop gives up on supervisors that outlast `shutdown_bound`.
    pub fn begin_shutdown(&mut self, waiter: Option<Waiter>) {
        if let Some(job) = self.jobs.iter_mut().find(|j| j.then_exit) {
            // Already shutting down: the same answer, when it is over.
            job.waiters.extend(waiter);
            return;
        }
        self.lingering.clear();
        for mut job in std::mem::take(&mut self.jobs) {
            job.interrupt("interrupted: the manager is shutting down");
            self.finish(job);
        }
        let names: Vec<String> = self.active_names().into_iter().collect();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let (plan, cycles) = self
            .graph
            .stop_plan_breaking_cycles(&refs, &|n| self.is_active(n));
        for c in cycles {
            tracing::warn!("dependency cycle: {c}: its members stop together");
        }
        self.shutdown_deadline = Some(std::time::Instant::now() + self.shutdown_bound());
        let mut job = self.new_job(stop_phase(plan), StartPhase::Nothing);
        job.then_exit = true;
        job.waiters.extend(waiter);
        self.submit(job);
    }

    /// How long a shutdown may take: the longest stop-timeout of what
    /// runs (supervisors SIGKILL at it), plus a margin for them to report.
    fn shutdown_bound(&self) -> std::time::Duration {
        let longest = self
            .active_names()
            .iter()
            .filter(|n| !self.targets_up.contains(*n))
            .map(|n| match self.set.declarations.get(n) {
                Some(d) => d.service().map(|s| s.stop_timeout).unwrap_or_default(),
                None => SHUTDOWN_DEFAULT_STOP,
            })
            .max()
            .unwrap_or_default();
        longest + SHUTDOWN_MARGIN
    }

    /// The shutdown has outlasted its bound: the supervisors that have not
    /// gone are left (init ends them), and the manager leaves the loop.
    pub fn shutdown_overdue(&mut self) {
        self.shutdown_deadline = None;
        let left: Vec<String> = self
            .units
            .iter()
            .filter(|(_, u)| u.link.is_some())
            .map(|(n, _)| n.clone())
            .collect();
        tracing::error!(
            "shutdown: giving up on {} (their supervisors did not exit in time)",
            left.join(", ")
        );
        for mut job in std::mem::take(&mut self.jobs) {
            job.interrupt("its supervisor did not exit in time");
            self.finish(job);
        }
        self.exit = true;
    }
}

/// The stop-timeout assumed for services without a declaration.
const SHUTDOWN_DEFAULT_STOP: std::time::Duration = std::time::Duration::from_secs(10);
/// Beyond the longest stop-timeout, what supervisors get to report.
const SHUTDOWN_MARGIN: std::time::Duration = std::time::Duration::from_secs(5);

fn stop_phase(plan: StopPlan) -> StopPhase {
    if plan.members().is_empty() {
        StopPhase::Nothing
    } else {
        StopPhase::Plan(plan)
    }
}
