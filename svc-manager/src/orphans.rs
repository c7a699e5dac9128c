//! Services left running by a supervisor that died (SIGKILL, a crash):
//! the service was reparented to init, nothing supervises it, and a new
//! `start` would run a second copy beside it. The manager stops what was
//! left (the service's process group and session: its main pid is their
//! leader, svc-supervise makes it so) with the declared stop signal, then
//! SIGKILL after the stop-timeout, from timers in its loop; only once
//! nothing is left does a start (asked for, or automatic) proceed.
//!
//! With cgroups (cgroups.rs) what was left is exactly what the service's
//! leaf holds, escaped daemons included: each member gets the stop
//! signal, the leaf is killed after the stop-timeout, and the stop is over
//! when the leaf is empty (`cgroup.events`). Without them:
//! a pid is only ever signalled through a pidfd known to name the
//! service: its pid and start time are recorded when the supervisor
//! reports it (and it is checked to be the supervisor's child); the pidfd
//! opened when the supervisor dies must show the same start time. Group and
//! session members are found by their process group / session id, which
//! the kernel keeps allocated while any member lives.

use std::num::NonZeroI32;
use std::os::fd::{AsFd, OwnedFd};
use std::time::{Duration, Instant};

use crate::manager::Manager;
use crate::proto;
use crate::sys;

/// How often the processes left behind are looked for while stopping them.
const POLL: Duration = Duration::from_millis(100);
/// A supervisor that dies again this soon after the manager replaced it
/// is not replaced again (its service stays failed).
const RESPAWN_INTERVAL: Duration = Duration::from_secs(10);
/// Stop signal and timeout for a service without a declaration (adopted,
/// its file removed).
const DEFAULT_STOP: (i32, Duration) = (libc::SIGTERM, Duration::from_secs(10));

/// The service's main process, as its supervisor reported it: its pid
/// and start time, which tell it from a later process given the same pid.
/// (No descriptor is held per service: a thousand services already cost
/// the manager a thousand sockets.)
pub struct MainProc {
    /// Never 0 (no process has it), which keeps `Option<MainProc>` the
    /// size of a `MainProc` in each unit.
    pid: NonZeroI32,
    start_time: u64,
}

impl MainProc {
    /// Records `pid` if it is the child of `supervisor` (svc-supervise is
    /// a subreaper: a forking daemon is its child too).
    pub fn open(pid: i32, supervisor: Option<i32>) -> Option<MainProc> {
        let nonzero = NonZeroI32::new(pid)?;
        let stat = Stat::read(pid)?;
        if supervisor.is_some_and(|s| s != stat.ppid) {
            return None;
        }
        Some(MainProc {
            pid: nonzero,
            start_time: stat.start_time,
        })
    }

    pub fn pid(&self) -> i32 {
        self.pid.get()
    }

    /// A pidfd on the process, if it still runs: opened first, then the
    /// start time checked, so the pidfd names that very process.
    fn handle(&self) -> Option<Handle> {
        let pidfd = sys::pidfd_open(self.pid())?;
        let stat = Stat::read(self.pid())?;
        (stat.start_time == self.start_time && stat.state != 'Z').then_some(Handle {
            pid: self.pid(),
            pidfd,
        })
    }
}

/// A pidfd on a service's main process, held while it is being stopped.
struct Handle {
    pid: i32,
    pidfd: OwnedFd,
}

impl Handle {
    /// Still there and not a zombie (a zombie waits only for init).
    fn alive(&self) -> bool {
        sys::pidfd_signal(self.pidfd.as_fd(), 0)
            && Stat::read(self.pid).is_some_and(|s| s.state != 'Z')
    }

    fn signal(&self, sig: i32) {
        sys::pidfd_signal(self.pidfd.as_fd(), sig);
    }
}

/// A stop in progress of what a dead supervisor left.
pub struct Orphan {
    main: Option<Handle>,
    /// The service's leaf, when cgroups are in use.
    leaf: Option<libsvc::cgroup::Leaf>,
    /// The group and session id: the main pid at its start.
    id: i32,
    kill_at: Instant,
    killed: bool,
    /// The next look at what is left.
    next_look: Instant,
}

/// What /proc/PID/stat says of a process.
struct Stat {
    state: char,
    ppid: i32,
    pgrp: i32,
    session: i32,
    start_time: u64,
}

impl Stat {
    fn read(pid: i32) -> Option<Stat> {
        let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // The command name may hold spaces and parentheses: fields follow
        // the last ')'.
        let rest = text.get(text.rfind(')')? + 2..)?;
        let mut f = rest.split_ascii_whitespace();
        let state = f.next()?.chars().next()?;
        let ppid = f.next()?.parse().ok()?;
        let pgrp = f.next()?.parse().ok()?;
        let session = f.next()?.parse().ok()?;
        // Field 22 of proc_pid_stat(5); `session` was field 6.
        let start_time = f.nth(15)?.parse().ok()?;
        Some(Stat {
            state,
            ppid,
            pgrp,
            session,
            start_time,
        })
    }
}

/// Live (not zombie) processes in process group or session `id`: (pid,
/// its process group).
fn members(id: i32) -> Vec<(i32, i32)> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter_map(|pid| Some((pid, Stat::read(pid)?)))
        .filter(|(_, s)| s.state != 'Z' && (s.pgrp == id || s.session == id))
        .map(|(pid, s)| (pid, s.pgrp))
        .collect()
}

impl Orphan {
    /// What is left: the members of the leaf, else the live processes in
    /// the main pid's group or session (pid, its process group).
    fn look(&self) -> Vec<(i32, i32)> {
        match &self.leaf {
            Some(leaf) => match leaf.populated() {
                Ok(false) => Vec::new(),
                _ => leaf
                    .members()
                    .unwrap_or_default()
                    .into_iter()
                    .map(|p| (p, 0))
                    .collect(),
            },
            None => members(self.id),
        }
    }

    /// Signals what is left: the main process through its pidfd, every
    /// member of the leaf, else each process group found in the group or
    /// session. SIGKILL to a leaf is `cgroup.kill`.
    fn signal_all(&self, sig: i32, found: &[(i32, i32)]) {
        if let Some(m) = &self.main {
            m.signal(sig);
        }
        if let Some(leaf) = &self.leaf {
            let r = if sig == libc::SIGKILL {
                leaf.kill()
            } else {
                nix::sys::signal::Signal::try_from(sig)
                    .map_err(|_| ())
                    .map_or(Ok(()), |s| leaf.signal_all(s).map(|_| ()))
            };
            if let Err(e) = r {
                tracing::warn!("{e}");
            }
            return;
        }
        let mut groups: Vec<i32> = found.iter().map(|&(_, g)| g).collect();
        groups.sort_unstable();
        groups.dedup();
        for g in groups {
            if g > 1 {
                sys::kill(-g, sig);
            }
        }
    }

    fn is_gone(&self, found: &[(i32, i32)]) -> bool {
        if let Some(leaf) = &self.leaf {
            // The main process is in the leaf too (its pidfd may name a
            // zombie, which only init reaps).
            return found.is_empty() && !leaf.populated().unwrap_or(true);
        }
        found.is_empty() && !self.main.as_ref().is_some_and(Handle::alive)
    }
}

impl Manager {
    /// The supervisor reported a main pid: keep a handle on it while it is
    /// known to be the service.
    pub fn note_main_pid(&mut self, name: &str, supervisor: Option<i32>) {
        let Some(unit) = self.units.get_mut(name) else {
            return;
        };
        let pid = i32::try_from(unit.status.pid).unwrap_or(0);
        if pid <= 0 {
            unit.main = None;
        } else if unit.main.as_ref().is_none_or(|m| m.pid() != pid) {
            unit.main = MainProc::open(pid, supervisor);
            if unit.main.is_none() {
                tracing::debug!("{name}: pid {pid} is not its supervisor's child now");
            }
        }
    }

    /// The supervisor of `name` has gone; `orderly` when it was asked to.
    /// True: something of the service was left running, and is being
    /// stopped (the unit counts as stopped once it is gone).
    pub fn orphan_left(&mut self, name: &str, orderly: bool) -> bool {
        let (signal, timeout) = self
            .set
            .declarations
            .get(name)
            .and_then(|d| d.service())
            .map_or(DEFAULT_STOP, |s| (s.stop_signal, s.stop_timeout));
        let leaf = self.service_leaf(name);
        let Some(unit) = self.units.get_mut(name) else {
            return false;
        };
        if let Some(leaf) = leaf {
            // Whatever the supervisor knew or not: the leaf holds all of
            // the service, and nothing else.
            let main = unit.main.take().and_then(|m| m.handle());
            let orphan = Orphan {
                id: main.as_ref().map_or(0, |h| h.pid),
                main,
                leaf: Some(leaf),
                kill_at: Instant::now() + timeout,
                killed: false,
                next_look: Instant::now() + POLL,
            };
            let found = orphan.look();
            if orphan.is_gone(&found) {
                return false;
            }
            tracing::warn!(
                "{name}: its supervisor died and left {} processes in its cgroup; stopping them",
                found.len().max(1)
            );
            orphan.signal_all(signal, &found);
            orphan.signal_all(libc::SIGCONT, &found);
            unit.status.state = "stopping".into();
            unit.status.pid = u64::try_from(orphan.id).unwrap_or(0);
            unit.status.reason = Some("its supervisor died; stopping what it left running".into());
            unit.trouble_mut().orphan = Some(orphan);
            self.orphaned.insert(name.to_owned());
            return true;
        }
        let Some(main) = unit.main.take() else {
            return false;
        };
        let handle = main.handle();
        // A supervisor that exited when asked stopped its service first:
        // only a living main process says otherwise (no /proc walk for
        // each service of a shutdown).
        if orderly && handle.is_none() {
            return false;
        }
        let id = main.pid();
        if handle.is_none() && Stat::read(id).is_some_and(|s| s.state != 'Z') {
            // The pid is another process's now: its group and session are
            // not the service's.
            return false;
        }
        let found = members(id);
        let orphan = Orphan {
            main: handle,
            leaf: None,
            id,
            kill_at: Instant::now() + timeout,
            killed: false,
            next_look: Instant::now() + POLL,
        };
        if orphan.is_gone(&found) {
            return false;
        }
        tracing::warn!(
            "{name}: its supervisor died and left pid {id} running ({} processes); stopping them",
            found.len().max(1)
        );
        orphan.signal_all(signal, &found);
        orphan.signal_all(libc::SIGCONT, &found);
        unit.status.state = "stopping".into();
        unit.status.pid = u64::try_from(id).unwrap_or(0);
        unit.status.reason = Some("its supervisor died; stopping what it left running".into());
        unit.trouble_mut().orphan = Some(orphan);
        self.orphaned.insert(name.to_owned());
        true
    }

    /// When the next look at what dead supervisors left is due.
    pub fn orphans_due(&self) -> Option<Instant> {
        self.orphaned
            .iter()
            .filter_map(|n| self.units.get(n)?.trouble().orphan.as_ref())
            .map(|o| {
                if o.killed {
                    o.next_look
                } else {
                    o.next_look.min(o.kill_at)
                }
            })
            .min()
    }

    /// Looks at what dead supervisors left: SIGKILL past the stop-timeout,
    /// and the end of the stop once nothing is left.
    pub fn tick_orphans(&mut self) {
        let now = Instant::now();
        let names: Vec<String> = self.orphaned.iter().cloned().collect();
        for name in names {
            let Some(o) = self
                .units
                .get_mut(&name)
                .and_then(|u| u.trouble_to_clear()?.orphan.as_mut())
            else {
                continue;
            };
            if now < o.next_look && (o.killed || now < o.kill_at) {
                continue;
            }
            o.next_look = now + POLL;
            let found = o.look();
            if o.is_gone(&found) {
                self.orphan_gone(&name);
                continue;
            }
            if !o.killed && now >= o.kill_at {
                tracing::warn!("{name}: still running after its stop-timeout: SIGKILL");
                o.killed = true;
                o.signal_all(libc::SIGKILL, &found);
            }
        }
    }

    /// Nothing is left of `name`: it is stopped (failed: its supervisor
    /// died), and a start waiting for this proceeds.
    fn orphan_gone(&mut self, name: &str) {
        tracing::info!("{name}: what its dead supervisor left has stopped");
        self.orphaned.remove(name);
        self.remove_cgroup(name);
        let Some(unit) = self.units.get_mut(name) else {
            return;
        };
        if let Some(t) = unit.trouble_to_clear() {
            t.orphan = None;
        }
        unit.status.state = "failed".into();
        unit.status.reason = Some("the supervisor exited".into());
        unit.status.pid = 0;
        unit.status.since = proto::now_unix();
        let respawn = std::mem::take(&mut unit.respawn);
        self.broadcast_event(name);
        if respawn && let Err(e) = self.start_unit(name) {
            tracing::warn!("{name}: {e}");
        }
        self.unit_changed(name);
        self.unit_stopped(name);
    }

    /// Whether a service whose supervisor died while it was wanted up is
    /// started again: per its restart policy, or because a `start` sent to
    /// the dead supervisor had no answer yet (`asked`); and not if the
    /// supervisor it got the last time died within `RESPAWN_INTERVAL`.
    pub fn respawn_after_supervisor_death(&mut self, name: &str, asked: bool) -> bool {
        let policy_allows = self
            .set
            .declarations
            .get(name)
            .and_then(|d| d.service())
            .is_some_and(|s| s.restart != libsvc::model::Restart::Never);
        let Some(unit) = self.units.get_mut(name) else {
            return false;
        };
        if !policy_allows && !asked {
            return false;
        }
        let now = Instant::now();
        if unit
            .trouble()
            .supervisor_respawned_at
            .is_some_and(|t| now.duration_since(t) < RESPAWN_INTERVAL)
        {
            tracing::warn!("{name}: its new supervisor died too; leaving it failed");
            return false;
        }
        unit.trouble_mut().supervisor_respawned_at = Some(now);
        true
    }
}
