//! The end: stop the manager (it stops the services in order), signal every
//! remaining process, sync, on a host unmount, then reboot(2) — or exit.
//!
//! `kill(-1)` is used only by PID 1, where it means "every process of this
//! PID namespace". Anywhere else svc-init signals its own descendants, found
//! in /proc, and never anything else.

use std::time::{Duration, Instant};

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::reboot::{RebootMode, reboot};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use super::Init;
use crate::signals::{self, Action, Power};

/// The manager stops services within their own stop timeouts; past this
/// svc-init stops waiting for it.
const MANAGER_STOP_BOUND: Duration = Duration::from_secs(90);
/// Between SIGTERM and SIGKILL to everything left. With a prompt manager
/// the whole sequence fits in docker's default 10 s.
const TERM_GRACE: Duration = Duration::from_secs(3);
/// How long to wait for SIGKILLed processes to be reaped (one stuck in
/// uninterruptible sleep must not hang the shutdown).
const KILL_BOUND: Duration = Duration::from_secs(5);
/// Between two rounds of unmounting: long enough for a killed process to
/// be reaped and let go of its files.
const RETRY_PAUSE: Duration = Duration::from_millis(500);

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum End {
    Power(Power),
    /// Entrypoint: exit with CMD's status.
    Command,
}

impl Init {
    pub(super) fn shutdown(&mut self, end: End, immediate: bool) -> ! {
        self.stopping = true;
        self.powerfail_at = None;
        let what = match end {
            End::Power(p) => p.name(),
            End::Command => "exit",
        };
        crate::note!("{what}{}", if immediate { ", immediately" } else { "" });
        let mut immediate = immediate;
        if !immediate && let Some(pid) = self.manager.as_ref().and_then(|m| m.pid) {
            let _ = kill(pid, Signal::SIGTERM);
            immediate = self.wait_until(MANAGER_STOP_BOUND, |s| {
                s.manager.as_ref().is_none_or(|m| m.pid.is_none())
            });
        }
        // Every living descendant has an ancestor among our children (or is
        // one, as an orphan: we are PID 1 or a subreaper), so with no
        // children left there is nobody to signal. (Once the last reap has
        // seen none, none can have appeared: nothing is started any more.)
        if self.has_children {
            self.reap();
        }
        if !immediate && self.has_children {
            self.signal_everyone(libc::SIGTERM);
            self.signal_everyone(libc::SIGCONT);
            self.wait_until(TERM_GRACE, |s| !s.has_children);
        }
        if self.has_children {
            self.signal_everyone(libc::SIGKILL);
            self.wait_until(KILL_BOUND, |s| !s.has_children);
        }
        if let End::Power(_) = end {
            // An entrypoint's data lives in the host's page cache: no sync.
            nix::unistd::sync();
            if self.place.host_pid1() {
                // A busy file system is retried after whatever holds it
                // (a process that ignored SIGKILL's first round, one
                // stuck in the kernel for a moment) is killed again.
                let left = crate::mounts::unmount_all(|| {
                    self.signal_everyone(libc::SIGKILL);
                    self.wait_until(RETRY_PAUSE, |s| !s.has_children);
                    nix::unistd::sync();
                });
                nix::unistd::sync();
                if !left.is_empty() {
                    crate::log!(
                        "{} file system(s) not cleanly taken down (see above)",
                        left.len()
                    );
                }
            }
        }
        self.finish(end)
    }

    /// Reaps (and forwards signals to a running CMD) until `done` or the
    /// bound. Returns true if an immediate shutdown was asked meanwhile.
    fn wait_until(&mut self, bound: Duration, done: impl Fn(&Init) -> bool) -> bool {
        let deadline = Instant::now() + bound;
        loop {
            self.reap();
            if done(self) {
                return false;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            let ms = deadline.saturating_duration_since(now).as_millis() + 1;
            let timeout = PollTimeout::try_from(ms.min(60_000) as i32).unwrap_or(PollTimeout::NONE);
            let mut fds = [PollFd::new(self.signals.raw(), PollFlags::POLLIN)];
            let _ = poll(&mut fds, timeout);
            while let Some((signo, _)) = self.signals.next_signal() {
                match signals::classify(signo, self.place.term_powers_off(), self.entrypoint()) {
                    Action::Shutdown {
                        immediate: true, ..
                    } => {
                        crate::note!("{}: stopping immediately", signals::name(signo));
                        return true;
                    }
                    Action::Forward(sig) => {
                        if let Some(cmd) = &self.cmd {
                            cmd.forward(sig);
                        }
                    }
                    _ => {}
                }
            }
        }
    }

    /// PID 1: every process of the namespace. Otherwise: only descendants.
    fn signal_everyone(&self, signo: i32) {
        if self.place.pid1 {
            // SAFETY: kill(2); as PID 1 "-1" is every process of our own PID
            // namespace except ourselves.
            unsafe { libc::kill(-1, signo) };
        } else {
            for pid in descendants(nix::unistd::getpid().as_raw()) {
                // SAFETY: kill(2) of a process found below us in the tree.
                unsafe { libc::kill(pid, signo) };
            }
        }
    }

    fn finish(&mut self, end: End) -> ! {
        let power = match end {
            End::Command => {
                let code = self.cmd.as_ref().map_or(0, |c| c.exit_code());
                crate::note!("exiting with status {code}");
                std::process::exit(i32::from(code));
            }
            End::Power(p) => p,
        };
        if !self.place.pid1 {
            // Only PID 1 may reboot: anywhere else reboot(2) would take the
            // whole machine down.
            crate::log!("{}: done (not PID 1)", power.name());
            std::process::exit(0);
        }
        if self.place.cap_sys_boot {
            let mode = match power {
                Power::Halt => RebootMode::RB_HALT_SYSTEM,
                Power::Poweroff => RebootMode::RB_POWER_OFF,
                Power::Reboot => RebootMode::RB_AUTOBOOT,
            };
            // In a child PID namespace this does not return: the kernel ends
            // us with SIGHUP (reboot) or SIGINT (halt, poweroff).
            match reboot(mode) {
                Err(nix::errno::Errno::EPERM) => {}
                Err(e) => crate::log!("reboot(2) for {}: {e}", power.name()),
            }
        }
        if self.place.host_pid1() {
            // PID 1 exiting would panic the kernel; stay, reaping, instead.
            crate::log!(
                "cannot {}: the system is stopped; power it off by hand",
                power.name()
            );
            loop {
                nix::unistd::pause();
                self.reap();
            }
        }
        let code = container_exit_status(power, self.place.nspawn());
        crate::log!("{}: done (exit status {code})", power.name());
        std::process::exit(code)
    }
}

/// A container's PID 1 that could not call reboot(2) ends with this. nspawn
/// reads 133 as a reboot request (a reboot(2) in its machine ends PID 1
/// with SIGHUP, which it reads the same way); any other engine restarts or
/// not by its own policy, and 0 says the stop was asked for.
fn container_exit_status(power: Power, nspawn: bool) -> i32 {
    if nspawn && power == Power::Reboot {
        crate::detect::NSPAWN_REBOOT_STATUS
    } else {
        0
    }
}

/// Every process below `root` in the process tree, from /proc.
fn descendants(root: i32) -> Vec<i32> {
    let mut links: Vec<(i32, i32)> = Vec::new();
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for entry in dir.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<i32>().ok())
            else {
                continue;
            };
            if let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat"))
                && let Some(ppid) = parent_from_stat(&stat)
            {
                links.push((pid, ppid));
            }
        }
    }
    let mut found = vec![root];
    let mut i = 0;
    while i < found.len() {
        let parent = found[i];
        found.extend(
            links
                .iter()
                .filter(|(_, pp)| *pp == parent)
                .map(|(p, _)| *p),
        );
        i += 1;
    }
    found.remove(0);
    found.retain(|&p| p != root && Pid::from_raw(p) != nix::unistd::getpid());
    found
}

/// The ppid field of /proc/PID/stat; the command name in parentheses may
/// itself contain spaces and parentheses, so parse from the last ')'.
fn parent_from_stat(stat: &str) -> Option<i32> {
    let after = &stat[stat.rfind(')')? + 1..];
    after.split_whitespace().nth(1)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_nspawn_reboot_exits_133() {
        assert_eq!(container_exit_status(Power::Reboot, true), 133);
        assert_eq!(container_exit_status(Power::Poweroff, true), 0);
        assert_eq!(container_exit_status(Power::Halt, true), 0);
        assert_eq!(container_exit_status(Power::Reboot, false), 0);
    }

    #[test]
    fn ppid_from_stat() {
        assert_eq!(parent_from_stat("42 (sh) S 7 42 42 0"), Some(7));
        assert_eq!(parent_from_stat("42 (a) b) c) R 9 1"), Some(9));
        assert_eq!(parent_from_stat("garbage"), None);
    }

    #[test]
    fn finds_own_children_and_grandchildren() {
        let mut child = std::process::Command::new("sh")
            .args(["-c", "sleep 30 & wait"])
            .spawn()
            .unwrap();
        let (me, sh) = (std::process::id() as i32, child.id() as i32);
        let deadline = Instant::now() + Duration::from_secs(10);
        let (mut mine, mut below_sh) = (Vec::new(), Vec::new());
        while Instant::now() < deadline && below_sh.is_empty() {
            std::thread::sleep(Duration::from_millis(20));
            mine = descendants(me);
            below_sh = descendants(sh);
        }
        for &pid in &below_sh {
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
        let _ = child.kill();
        let _ = child.wait();
        assert!(mine.contains(&sh), "{mine:?}");
        assert_eq!(below_sh.len(), 1, "{below_sh:?}");
        assert!(mine.contains(&below_sh[0]), "{mine:?} {below_sh:?}");
        assert!(!mine.contains(&me));
    }
}
