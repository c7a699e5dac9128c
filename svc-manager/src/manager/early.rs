//! The early boot. The switch from RUNTIME/log to the real log directory
//! once it can be written (logdir.rs), checked on every rescan and every
//! settled job: the root is remounted read-write by a sysinit oneshot,
//! whose job settling is the first moment it can have happened. And a
//! boot whose `sysinit` target failed (a required fsck, a mount): the
//! system manager says so on the console and leaves with
//! `EXIT_SYSINIT_FAILED`, which svc-init turns into an emergency shell.

use super::Manager;
use crate::logdir;

/// The target whose failure ends the boot in an emergency shell.
pub const SYSINIT: &str = "sysinit";
/// The system manager's exit status when its boot's `sysinit` target
/// failed; svc-init (`manager::SYSINIT_FAILED`) knows it too.
pub const EXIT_SYSINIT_FAILED: i32 = 3;

impl Manager {
    pub(crate) fn check_log_dir(&mut self) {
        let wanted = self.cfg.wanted_log_dir.clone();
        let early = logdir::early_dir(&self.cfg.runtime_dir);
        if self.cfg.log_dir != wanted {
            let mode = if self.cfg.user_mode { 0o700 } else { 0o755 };
            if logdir::usable(&wanted, mode).is_err() {
                return;
            }
            tracing::info!(
                "{} can be written now: services started from now on log there",
                wanted.display()
            );
            self.cfg.log_dir = wanted.clone();
            if let Err(e) = crate::output::move_boot_log(&wanted.join("boot.log")) {
                tracing::warn!("boot log: {e}");
            }
        }
        if !early.is_dir() {
            return;
        }
        // A supervisor still running holds its `current` open: its early
        // log moves once it has gone (a stop, a restart). Its control
        // socket says so too before adoption (this runs first from
        // `load` in `Manager::new`), and for one not adopted yet: a
        // supervisor removes it when it exits.
        let units = &self.units;
        let busy = |name: &str| {
            units
                .get(name)
                .is_some_and(|u| u.link.is_some() || u.has_orphan())
                || self.control_path(name).symlink_metadata().is_ok()
        };
        let r = logdir::sweep(&early, &wanted, &busy, logdir::MOVE_BUDGET);
        for name in &r.moved {
            tracing::info!("{name}: early log moved to {}", wanted.join(name).display());
        }
        for e in &r.errors {
            tracing::warn!("moving an early log: {e}");
        }
        if r.left == 0 && r.errors.is_empty() {
            let _ = std::fs::remove_dir(&early);
        }
    }
}

impl Manager {
    /// `sysinit` could not be reached. During the boot (before it has
    /// settled) the boot cannot go on: what failed goes to the console
    /// (the causes, not what they blocked), the failed members' supervisors
    /// are told to exit (so that the next manager runs them again rather
    /// than adopting their failure), nothing more is started, and the
    /// manager leaves at the end of this turn with `EXIT_SYSINIT_FAILED`.
    /// The rest of what runs stays, for the next manager to adopt.
    pub(crate) fn sysinit_failed(&mut self, why: &str) {
        if self.cfg.user_mode || self.notified || self.exit {
            return;
        }
        let members: Vec<String> = self
            .graph
            .start_plan_with(&[SYSINIT], &|_| false)
            .map(|p| p.members().to_vec())
            .unwrap_or_default();
        let mut text = format!(" * target {SYSINIT} failed: {why}\n");
        let mut failed = Vec::new();
        for name in members.iter().filter(|n| n.as_str() != SYSINIT) {
            let Some(u) = self.units.get(name) else {
                continue;
            };
            if u.status.state != "failed" {
                continue;
            }
            let reason = u.status.reason.as_deref().unwrap_or("failed");
            text.push_str(&format!("   {name}: {reason}\n"));
            let log = self.log_path(name);
            if log.exists() {
                text.push_str(&format!("   {name}: its log: {}\n", log.display()));
                for line in last_lines(&log, 5) {
                    text.push_str(&format!("   {name}| {line}\n"));
                }
            }
            failed.push(name.clone());
        }
        text.push_str(&format!(
            " * svc-manager: the boot cannot go on; leaving (status {EXIT_SYSINIT_FAILED}) for an emergency shell\n"
        ));
        crate::output::write_lines(crate::output::Stream::Stdout, text.as_bytes());
        for name in failed {
            self.stop_unit(&name);
        }
        self.exit_status = EXIT_SYSINIT_FAILED;
        self.exit = true;
    }

    /// True once the boot has been given up for an emergency shell.
    pub(crate) fn leaving_for_emergency(&self) -> bool {
        self.exit_status == EXIT_SYSINIT_FAILED
    }
}

/// The last `n` lines of a log file (from its last 4 KiB).
fn last_lines(path: &std::path::Path, n: usize) -> Vec<String> {
    use std::io::{Read, Seek, SeekFrom};
    let Ok(mut f) = std::fs::File::open(path) else {
        return Vec::new();
    };
    let len = f.metadata().map_or(0, |m| m.len());
    let _ = f.seek(SeekFrom::Start(len.saturating_sub(4096)));
    let mut buf = Vec::new();
    let _ = f.take(4096).read_to_end(&mut buf);
    let text = String::from_utf8_lossy(&buf);
    let lines: Vec<&str> = text.lines().filter(|l| !l.is_empty()).collect();
    lines[lines.len().saturating_sub(n)..]
        .iter()
        .map(|l| (*l).to_owned())
        .collect()
}
