//! The `[service]` cgroup keys and what the cgroups say back (docs/manager.md,
//! "Cgroups"): the limits written into a service's leaf when its
//! supervisor is created and again when a rescan changes them, an exit by
//! SIGKILL told apart as the OOM killer's (`memory.events` `oom_kill`),
//! and usage read for `status` when it is asked for: nothing of it is
//! kept per service but the last `oom_kill` count.

use std::path::Path;

use libnv::NvList;
use libsvc::CgroupLimits;
use libsvc::cgroup::{resources, usage};

use crate::manager::Manager;
use crate::proto;

/// SIGKILL, what the OOM killer sends.
const SIGKILL: u64 = 9;

/// What the manager keeps per service for its cgroup limits and OOM kills.
/// Both "none yet" states are flags beside the values rather than
/// `Option`s, and limits without a key set are not boxed: with cgroups in
/// use, every one of a thousand units holds this.
#[derive(Debug, Default)]
pub struct CgroupState {
    /// The limits last written into its leaf, when any key is set.
    applied: Option<Box<CgroupLimits>>,
    /// Limits were written into its leaf (`applied`, or none set).
    written: bool,
    /// `memory.events` `oom_kill` at the last look, if looked at.
    oom_kills: u64,
    oom_kills_read: bool,
}

impl CgroupState {
    /// The limits last written into its leaf (None: none written yet).
    pub fn applied(&self) -> Option<CgroupLimits> {
        self.written
            .then(|| self.applied.as_deref().copied().unwrap_or_default())
    }

    pub fn set_applied(&mut self, limits: Option<CgroupLimits>) {
        self.written = limits.is_some();
        self.applied = limits.filter(|l| !l.is_empty()).map(Box::new);
    }

    /// Records the `oom_kill` count (None: could not be read); returns
    /// the one before (None: never read, a fresh leaf).
    pub fn set_oom_kills(&mut self, now: Option<u64>) -> Option<u64> {
        let before = self.oom_kills_read.then_some(self.oom_kills);
        self.oom_kills_read = now.is_some();
        self.oom_kills = now.unwrap_or(0);
        before
    }
}

/// The sentence of an OOM kill, with the limit that was declared.
fn oom_sentence(limits: Option<&CgroupLimits>) -> String {
    match limits.and_then(|l| l.memory_max) {
        Some(max) => format!(
            "killed by the OOM killer (memory-max {})",
            libsvc::units::format_cgroup_size(max)
        ),
        None => "killed by the OOM killer".to_string(),
    }
}

/// Whether an exit by `signal` was the OOM killer's, from the leaf's
/// `oom_kill` count before (None: never read, a fresh leaf) and now.
fn oom_killed(signal: Option<u64>, before: Option<u64>, now: u64) -> bool {
    signal == Some(SIGKILL) && now > before.unwrap_or(0)
}

impl Manager {
    fn declared_limits(&self, name: &str) -> Option<CgroupLimits> {
        self.set
            .declarations
            .get(name)
            .and_then(|d| d.service())
            .map(|s| s.cgroup_limits())
    }

    /// Writes `limits` into `name`'s fresh leaf, before its supervisor
    /// runs. A key whose controller is missing is skipped with a warning;
    /// a value the kernel refuses is an error and the service does not
    /// start: it would run without a limit it was declared with.
    pub fn apply_limits(
        &mut self,
        name: &str,
        leaf: &Path,
        limits: &CgroupLimits,
    ) -> Result<(), String> {
        let done = resources::apply(leaf, limits);
        for w in &done.skipped {
            tracing::warn!("{name}: {w}");
        }
        let unit = self.units.entry(name.to_owned()).or_default();
        unit.cgroup.set_oom_kills(usage::oom_kills(leaf));
        if let Some(t) = unit.trouble_to_clear() {
            t.oom = None;
        }
        if !done.errors.is_empty() {
            unit.cgroup.set_applied(None);
            return Err(done.errors.join("; "));
        }
        unit.cgroup.set_applied(Some(*limits));
        Ok(())
    }

    /// An adopted service (a manager restarted): its leaf gets what its
    /// declaration says now, and its `oom_kill` count is the base.
    pub fn adopt_limits(&mut self, name: &str) {
        let (Some(leaf), Some(limits)) = (self.leaf_path(name), self.declared_limits(name)) else {
            return;
        };
        if !leaf.is_dir() {
            return;
        }
        let done = resources::apply(&leaf, &limits);
        for w in done.skipped.iter().chain(&done.errors) {
            tracing::warn!("{name}: {w}");
        }
        let unit = self.units.entry(name.to_owned()).or_default();
        unit.cgroup.set_oom_kills(usage::oom_kills(&leaf));
        unit.cgroup
            .set_applied(done.errors.is_empty().then_some(limits));
    }

    /// After the declarations were read again: every running service
    /// whose cgroup keys changed gets the keys that changed (a key removed
    /// goes back to the kernel's default). Nothing is restarted.
    pub fn reapply_limits(&mut self) {
        if self.cfg.cgroups.is_none() {
            return;
        }
        let mut changed = Vec::new();
        for (name, unit) in &self.units {
            let Some(old) = unit.cgroup.applied() else {
                continue;
            };
            if unit.link.is_none() {
                continue;
            }
            if let Some(new) = self.declared_limits(name)
                && new != old
            {
                changed.push((name.clone(), old, new));
            }
        }
        for (name, old, new) in changed {
            // A supervisor on its way out may have had its cgroup removed.
            let Some(leaf) = self.leaf_path(&name).filter(|l| l.is_dir()) else {
                continue;
            };
            let done = resources::apply(&leaf, &resources::changes(&old, &new));
            for w in done.skipped.iter().chain(&done.errors) {
                tracing::warn!("{name}: {w}");
            }
            if done.written > 0 {
                tracing::info!("{name}: new cgroup limits written");
            }
            if let Some(u) = self.units.get_mut(&name) {
                u.cgroup.set_applied(Some(new));
            }
        }
    }

    fn leaf_path(&self, name: &str) -> Option<std::path::PathBuf> {
        Some(self.cfg.cgroups.as_ref()?.service_leaf(name))
    }

    /// The main process of `name` has just ended (its supervisor reported
    /// a new pid, or none). Killed by SIGKILL while its leaf's `oom_kill`
    /// count went up: the OOM killer did it, and the reason says so.
    pub fn note_exit(&mut self, name: &str) {
        let Some(leaf) = self.leaf_path(name) else {
            return;
        };
        let Some(now) = usage::oom_kills(&leaf) else {
            return;
        };
        let limits = self.declared_limits(name);
        let Some(unit) = self.units.get_mut(name) else {
            return;
        };
        let before = unit.cgroup.set_oom_kills(Some(now));
        if oom_killed(unit.status.last_exit_signal, before, now) {
            let applied = unit.cgroup.applied().or(limits);
            let sentence = oom_sentence(applied.as_ref());
            tracing::warn!("{name}: {sentence}");
            unit.trouble_mut().oom = Some(sentence);
        } else if let Some(t) = unit.trouble_to_clear() {
            t.oom = None;
        }
    }

    /// The reason of `name`'s status: the supervisor's, with an exit that
    /// was the OOM killer's said as such.
    pub fn unit_reason(&self, name: &str) -> Option<String> {
        let unit = self.units.get(name)?;
        let reason = unit.status.reason.clone();
        match (&unit.trouble().oom, reason.as_deref()) {
            (Some(oom), Some("exited")) if unit.status.last_exit_signal == Some(SIGKILL) => {
                Some(oom.clone())
            }
            _ => reason,
        }
    }

    /// Adds `usage` to a service's status item, read from its leaf now.
    pub fn add_usage(&self, name: &str, item: &mut NvList) {
        if self.is_target(name) {
            return;
        }
        let Some(leaf) = self.leaf_path(name) else {
            return;
        };
        if let Some(u) = usage::read(&leaf) {
            let _ = item.add_nvlist(proto::key::USAGE, proto::usage_to_nvlist(&u));
        }
    }

    /// Adds `cgroups` (and why not, `cgroups_note`) to a `status` reply.
    pub fn add_cgroups_keys(&self, reply: &mut NvList) {
        let _ = reply.add_bool(proto::key::CGROUPS, self.cfg.cgroups.is_some());
        if self.cfg.cgroups.is_none()
            && let Some(why) = &self.cfg.cgroups_not_in_use
        {
            let _ = reply.add_string(proto::key::CGROUPS_NOTE, why);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use libsvc::LimitValue;

    #[test]
    fn only_a_sigkill_with_a_new_oom_kill_is_the_oom_killer() {
        assert!(oom_killed(Some(9), Some(0), 1));
        assert!(oom_killed(Some(9), None, 1));
        assert!(oom_killed(Some(9), Some(2), 3));
        // Killed by hand, the count unchanged.
        assert!(!oom_killed(Some(9), Some(1), 1));
        assert!(!oom_killed(Some(9), None, 0));
        // Another process of the service was the victim; the main one
        // exited by itself or by another signal.
        assert!(!oom_killed(Some(15), Some(0), 1));
        assert!(!oom_killed(None, Some(0), 1));
    }

    #[test]
    fn oom_sentences_name_the_limit() {
        let l = CgroupLimits {
            memory_max: Some(LimitValue::Value(32 << 20)),
            ..CgroupLimits::default()
        };
        assert_eq!(
            oom_sentence(Some(&l)),
            "killed by the OOM killer (memory-max 32M)"
        );
        assert_eq!(oom_sentence(None), "killed by the OOM killer");
        assert_eq!(
            oom_sentence(Some(&CgroupLimits::default())),
            "killed by the OOM killer"
        );
    }
}
