//! The manager as the job engine's host: what `jobs.rs` reads and does goes
//! through here to the supervisors, the clients and RUNTIME/stopped; and
//! the entry points the rest of the manager calls to set jobs going.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use libsvc::graph::Graph;

use super::Manager;
use crate::jobs::{Host, Job, Jobs, Outcome, Waiter};
use crate::proto::{self, Failure};
use crate::stopped;

impl Manager {
    /// Runs `f` with the job engine and the manager as its host. The
    /// engine is lent out meanwhile: nothing the host does may reach
    /// `self.jobs` (none of the `Host` methods below does).
    fn with_jobs<R>(&mut self, f: impl FnOnce(&mut Jobs, &mut dyn Host) -> R) -> R {
        let mut jobs = std::mem::take(&mut self.jobs);
        let r = f(&mut jobs, self);
        debug_assert!(
            self.jobs.iter().next().is_none(),
            "the job engine re-entered"
        );
        self.jobs = jobs;
        r
    }

    /// Queues a job and sets it going.
    pub fn submit(&mut self, job: Job) -> u64 {
        self.with_jobs(|jobs, host| jobs.submit(host, job))
    }

    pub fn start_job(&mut self, names: &[String]) -> Result<Job, Failure> {
        self.with_jobs(|jobs, host| jobs.start_job(host, names))
    }

    pub fn stop_job(&mut self, names: &[String]) -> Job {
        self.with_jobs(|jobs, host| jobs.stop_job(host, names))
    }

    pub fn restart_job(&mut self, names: &[String]) -> Job {
        self.with_jobs(|jobs, host| jobs.restart_job(host, names))
    }

    pub fn switch_job(&mut self, target: &str) -> Result<Job, Failure> {
        let job = self.with_jobs(|jobs, host| jobs.switch_job(host, target))?;
        self.cfg.target = target.to_owned();
        Ok(job)
    }

    /// Starts the boot target (see `Manager::boot`).
    pub(super) fn boot_job(&mut self, target: &str, adopted: bool) -> Result<u64, Failure> {
        self.with_jobs(|jobs, host| jobs.boot(host, target, adopted))
    }

    pub fn begin_shutdown(&mut self, waiter: Option<Waiter>) {
        self.with_jobs(|jobs, host| jobs.shutdown(host, waiter));
    }

    /// The shutdown has outlasted its bound: the supervisors that have not
    /// gone are left (init ends them), and the manager leaves the loop.
    pub fn shutdown_overdue(&mut self) {
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
        self.with_jobs(|jobs, host| jobs.shutdown_overdue(host));
    }

    /// A service's status changed: jobs waiting for it may move on.
    pub fn unit_changed(&mut self, name: &str) {
        self.with_jobs(|jobs, host| jobs.unit_changed(host, name));
    }

    /// A service's supervisor is gone: stop phases waiting for it move on.
    pub fn unit_stopped(&mut self, name: &str) {
        self.with_jobs(|jobs, host| jobs.unit_stopped(host, name));
    }
}

impl Host for Manager {
    fn graph(&self) -> &Graph {
        &self.graph
    }

    fn is_target(&self, name: &str) -> bool {
        Manager::is_target(self, name)
    }

    fn is_up(&self, name: &str) -> bool {
        Manager::is_up(self, name)
    }

    fn is_active(&self, name: &str) -> bool {
        Manager::is_active(self, name)
    }

    fn active_names(&self) -> BTreeSet<String> {
        Manager::active_names(self)
    }

    fn is_reached(&self, name: &str) -> bool {
        self.targets_up.contains(name)
    }

    fn verdict(&self, name: &str) -> Option<bool> {
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
        match &*s.state {
            "ready" | "finished" => Some(true),
            "failed" | "backoff" | "down" => Some(false),
            "stopping" if s.reason.is_some() => Some(false),
            _ if s.restarts > unit.restarts_base => Some(false),
            _ => None,
        }
    }

    fn failure_reason(&self, name: &str) -> Option<String> {
        self.unit_reason(name)
    }

    fn stop_timeout(&self, name: &str) -> Option<Duration> {
        self.set
            .declarations
            .get(name)
            .map(|d| d.service().map(|s| s.stop_timeout).unwrap_or_default())
    }

    fn marked_stopped(&self) -> BTreeSet<String> {
        stopped::marked(&self.cfg.runtime_dir)
    }

    fn now(&self) -> Instant {
        Instant::now()
    }

    fn start(&mut self, name: &str) -> Result<(), String> {
        if self.leaving_for_emergency() {
            return Err(format!(
                "the boot stopped: target {} failed",
                super::early::SYSINIT
            ));
        }
        self.start_unit(name)
    }

    fn stop(&mut self, name: &str) -> bool {
        self.stop_unit(name)
    }

    fn set_reached(&mut self, target: &str, reached: bool) {
        if reached {
            self.targets_up.insert(target.to_owned());
        } else {
            self.targets_up.remove(target);
        }
    }

    fn set_blocked(&mut self, name: &str, reason: &str) {
        self.units
            .entry(name.to_owned())
            .or_default()
            .trouble_mut()
            .blocked = Some(reason.to_owned());
        if name == super::early::SYSINIT {
            self.sysinit_failed(reason);
        }
    }

    fn changed(&mut self, name: &str) {
        self.broadcast_event(name);
    }

    fn outcome_line(&mut self, verb: &str, name: &str, ok: bool, reason: Option<&str>) {
        self.print_outcome(verb, name, ok, reason);
    }

    fn reply(&mut self, to: &Waiter, job: u64, ok: bool, outcome: &BTreeMap<String, Outcome>) {
        let mut reply = proto::message(to.id, &to.method, true);
        let _ = reply.add_number(proto::key::JOB, job);
        let _ = reply.add_bool(proto::key::OK, ok);
        let mut items = Vec::new();
        for (name, outcome) in outcome {
            let mut item = self.status_item(name);
            let _ = item.add_string(proto::key::RESULT, outcome.word());
            if let Outcome::Failed(r) | Outcome::Blocked(r) = outcome
                && !item.contains("reason")
            {
                let _ = item.add_string(proto::key::REASON, r);
            }
            items.push(item);
        }
        if !items.is_empty() {
            let _ = reply.add_nvlist_array(proto::key::SERVICES, items);
        }
        self.send_to_client(to.client, &reply);
    }

    fn mark_stopped(&mut self, names: &[String]) {
        stopped::mark(&self.cfg.runtime_dir, names);
    }

    fn unmark_stopped(&mut self, names: &[String]) {
        stopped::unmark(&self.cfg.runtime_dir, names);
    }

    fn clear_stopped(&mut self) {
        stopped::clear(&self.cfg.runtime_dir);
    }

    fn notify_parent(&mut self) {
        Manager::notify_parent(self);
    }

    fn job_settled(&mut self) {
        self.check_log_dir();
    }

    fn exit(&mut self) {
        self.exit = true;
    }
}
