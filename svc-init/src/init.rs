//! The main loop: one poll over the signalfd and the initctl FIFO, with the
//! manager's restart time, a stale partial initctl record and a pending
//! power failure as the only timers. Nothing in here allocates. It ends only
//! in the shutdown sequence (`init/shutdown.rs`, a child module: it works on
//! `Init`'s state, which stays private to the two).

mod shutdown;

use std::os::fd::{AsFd, OwnedFd};
use std::time::{Duration, Instant};

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::detect::Place;
use crate::entrypoint::Cmd;
use crate::initctl::{self, Command, InitEnv, Outcome, Reassembler, Reject, SwitchTo};
use crate::manager::{Manager, Why};
use crate::signals::{self, Action, Power, SignalFd};
use crate::spawn::{self, Program, Setup};
use shutdown::End;

/// sysvinit's inittab ran `shutdown -h +2` on a power failure: the UPS has
/// two minutes to report that power is back (POWEROK) before we power off.
const POWERFAIL_GRACE: Duration = Duration::from_secs(120);

/// What the loop may run besides the manager and CMD.
pub struct Programs {
    /// `/bin/sh` (or SVC_EMERGENCY_SHELL) for when the manager cannot or
    /// must not run (PID 1 of a system only).
    pub emergency_shell: Option<Program>,
    /// The manager's boot log, early and final.
    pub boot_logs: [std::path::PathBuf; 2],
    /// `svcctl target rescue|default`, for initctl runlevel requests.
    pub to_rescue: Option<Program>,
    pub to_default: Option<Program>,
}

pub struct Init {
    place: Place,
    signals: SignalFd,
    initctl: Option<OwnedFd>,
    records: Reassembler,
    init_env: InitEnv,
    manager: Option<Manager>,
    cmd: Option<Cmd>,
    emergency_shell: Option<Program>,
    /// Where the manager's boot log is: under the runtime directory, then
    /// the log directory (svc-manager's output.rs).
    boot_logs: [std::path::PathBuf; 2],
    shell: Option<Pid>,
    shell_started: Instant,
    to_rescue: Option<Program>,
    to_default: Option<Program>,
    powerfail_at: Option<Instant>,
    /// Set once the shutdown sequence has begun: nothing is restarted.
    stopping: bool,
    /// What the last reap found: false once there are no children at all.
    has_children: bool,
}

/// What one `waitpid(-1, WNOHANG)` found.
#[derive(Clone, Copy)]
enum Waited {
    /// A child that ended, and its wait status.
    Ended(Pid, i32),
    /// Children left, none ended yet.
    Running,
    /// No child at all (ECHILD).
    NoChildren,
}

fn wait_any() -> Waited {
    loop {
        let mut status = 0;
        // SAFETY: waitpid only writes the status int. libc rather than nix:
        // nix cannot represent a death by a real-time signal.
        let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
        if pid > 0 {
            return Waited::Ended(Pid::from_raw(pid), status);
        }
        if pid == 0 {
            return Waited::Running;
        }
        match nix::errno::Errno::last() {
            nix::errno::Errno::EINTR => continue,
            nix::errno::Errno::ECHILD => return Waited::NoChildren,
            // Cannot happen with these arguments; assume someone is left.
            _ => return Waited::Running,
        }
    }
}

impl Init {
    pub fn new(
        place: Place,
        signals: SignalFd,
        initctl: Option<OwnedFd>,
        manager: Option<Manager>,
        cmd: Option<Cmd>,
        programs: Programs,
    ) -> Init {
        let Programs {
            emergency_shell,
            boot_logs,
            to_rescue,
            to_default,
        } = programs;
        Init {
            place,
            signals,
            initctl,
            records: Reassembler::default(),
            init_env: InitEnv::default(),
            manager,
            cmd,
            emergency_shell,
            boot_logs,
            shell: None,
            shell_started: Instant::now(),
            to_rescue,
            to_default,
            powerfail_at: None,
            stopping: false,
            has_children: true,
        }
    }

    fn entrypoint(&self) -> bool {
        self.cmd.is_some()
    }

    /// Reaps every child that has ended and tells whoever cares.
    fn reap(&mut self) {
        let now = Instant::now();
        let last = loop {
            match wait_any() {
                Waited::Ended(pid, status) => self.ended(pid, status, now),
                other => break other,
            }
        };
        // What waitpid said last spares a separate "any child left?" call.
        self.has_children = !matches!(last, Waited::NoChildren);
    }

    /// Tells whoever cares that child `pid` ended.
    fn ended(&mut self, pid: Pid, status: i32, now: Instant) {
        if let Some(m) = self.manager.as_mut().filter(|m| m.pid == Some(pid)) {
            if self.stopping {
                m.pid = None;
                crate::note!(
                    "{} stopped ({})",
                    m.path().display(),
                    crate::StatusText(status)
                );
            } else {
                m.exited(status, now);
            }
        } else if let Some(cmd) = self.cmd.as_mut().filter(|c| c.pid == pid) {
            cmd.status = Some(status);
        } else if self.shell == Some(pid) {
            self.shell = None;
            // A shell that ends at once has no console to read (stdin
            // at end of file): do not spin, wait as without a shell.
            let quick =
                now.saturating_duration_since(self.shell_started) < crate::manager::QUICK_DEATH;
            let wait = if quick {
                crate::manager::MAX_DELAY
            } else {
                Duration::ZERO
            };
            crate::log!(
                "emergency shell ended: trying the manager again in {} s",
                wait.as_secs()
            );
            if let Some(m) = self.manager.as_mut() {
                m.retry_at(now + wait);
            }
        }
    }

    pub fn run(&mut self) -> ! {
        let mut buf = [0u8; 4 * initctl::RECORD_LEN];
        loop {
            let now = Instant::now();
            self.reap();
            if let Some(cmd) = &self.cmd
                && !cmd.running()
            {
                crate::note!(
                    "command ended ({})",
                    crate::StatusText(cmd.status.unwrap_or(0))
                );
                self.shutdown(End::Command, false);
            }
            self.tend_manager(now);
            self.records.expire(now, &mut log_outcome);
            if self.powerfail_at.is_some_and(|t| t <= now) {
                crate::log!("power failure: powering off");
                self.request_shutdown(Power::Poweroff, false);
            }

            let deadline = [
                self.manager.as_ref().and_then(Manager::restart_due),
                self.records.deadline(),
                self.powerfail_at,
            ]
            .into_iter()
            .flatten()
            .min();
            let timeout = deadline.map_or(PollTimeout::NONE, |t| {
                let ms = t.saturating_duration_since(now).as_millis() + 1;
                PollTimeout::try_from(ms.min(60_000) as i32).unwrap_or(PollTimeout::NONE)
            });
            let mut fds = [
                PollFd::new(self.signals.raw(), PollFlags::POLLIN),
                match &self.initctl {
                    Some(fd) => PollFd::new(fd.as_fd(), PollFlags::POLLIN),
                    None => PollFd::new(self.signals.raw(), PollFlags::empty()),
                },
            ];
            match poll(&mut fds, timeout) {
                Ok(_) | Err(nix::errno::Errno::EINTR) => {}
                Err(e) => {
                    crate::log!("poll: {e}");
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
            while let Some((signo, sender)) = self.signals.next_signal() {
                self.on_signal(signo, sender);
            }
            if self.initctl.is_some() {
                self.read_initctl(&mut buf);
            }
        }
    }

    fn tend_manager(&mut self, now: Instant) {
        if self.stopping {
            return;
        }
        let Some(m) = self.manager.as_mut() else {
            return;
        };
        if m.restart_due().is_some_and(|t| t <= now) {
            m.start(now);
        }
        let Some(why) = m.gave_up() else { return };
        if self.shell.is_some() {
            return;
        }
        say_why(why, m, &self.boot_logs);
        let (path, summary) = (m.path().display(), summary(why));
        match &self.emergency_shell {
            Some(sh) if self.place.pid1 => {
                crate::log!(
                    "{path} {summary}: starting an emergency shell on the console; leave it to {}",
                    if why == Why::Asked {
                        "boot"
                    } else {
                        "try again"
                    }
                );
                let setup = Setup {
                    new_session: true,
                    ..Setup::default()
                };
                match spawn::spawn(sh, setup) {
                    Ok(pid) => {
                        self.shell = Some(pid);
                        self.shell_started = now;
                    }
                    Err(e) => {
                        crate::log!("cannot run {}: {e}", sh.path().display());
                        m.retry_at(now + crate::manager::MAX_DELAY);
                    }
                }
            }
            _ if why == Why::Asked => {
                crate::log!("{path} {summary} and there is no emergency shell here: booting");
                m.retry_at(now);
            }
            _ => {
                crate::log!(
                    "{path} {summary} and there is no emergency shell here; trying again in {} s",
                    crate::manager::MAX_DELAY.as_secs()
                );
                m.retry_at(now + crate::manager::MAX_DELAY);
            }
        }
    }

    fn on_signal(&mut self, signo: i32, sender: i32) {
        let action = signals::classify(signo, self.place.term_powers_off(), self.entrypoint());
        if !matches!(action, Action::Reap | Action::Ignore) {
            crate::note!("got {} from pid {sender}", signals::name(signo));
        }
        match action {
            Action::Reap | Action::Ignore => {}
            Action::Forward(sig) => {
                if let Some(cmd) = &self.cmd {
                    cmd.forward(sig);
                }
            }
            Action::Rescan => self.rescan(),
            Action::Shutdown { power, immediate } => self.request_shutdown(power, immediate),
        }
    }

    fn rescan(&self) {
        if let Some(pid) = self.manager.as_ref().and_then(|m| m.pid) {
            let _ = kill(pid, Signal::SIGHUP);
        }
    }

    /// An entrypoint's orderly stop goes through CMD: it gets SIGTERM, and
    /// its end stops the rest.
    fn request_shutdown(&mut self, power: Power, immediate: bool) {
        match &self.cmd {
            Some(cmd) if !immediate => {
                crate::note!("{}: stopping the command", power.name());
                self.powerfail_at = None;
                cmd.terminate();
            }
            Some(_) => self.shutdown(End::Command, true),
            None => self.shutdown(End::Power(power), immediate),
        }
    }

    fn read_initctl(&mut self, buf: &mut [u8]) {
        // Bounded, so that a writer that never stops cannot starve signals.
        for _ in 0..16 {
            let Some(fd) = &self.initctl else { return };
            let n = match nix::unistd::read(fd, buf) {
                Ok(0) | Err(nix::errno::Errno::EAGAIN) => return,
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => {
                    crate::log!("initctl: {e}");
                    return;
                }
                Ok(n) => n,
            };
            let mut commands = [Command::Nothing; 8];
            let mut count = 0;
            let env = &mut self.init_env;
            self.records
                .feed(&buf[..n], Instant::now(), &mut |outcome| match outcome {
                    Outcome::Record(req) => {
                        let c = initctl::interpret(&req, env);
                        crate::note!(
                            "initctl: request {} runlevel {} -> {c:?}",
                            req.cmd,
                            req.runlevel
                        );
                        if count < commands.len() {
                            commands[count] = c;
                            count += 1;
                        }
                    }
                    rejected => log_outcome(rejected),
                });
            for c in commands.into_iter().take(count) {
                self.on_initctl(c);
            }
        }
    }

    fn on_initctl(&mut self, command: Command) {
        match command {
            Command::Shutdown(power) => self.request_shutdown(power, false),
            Command::Target(to) => self.switch_target(to),
            Command::Rescan => self.rescan(),
            Command::PowerFail { now: true } => self.request_shutdown(Power::Poweroff, false),
            Command::PowerFail { now: false } => {
                crate::log!(
                    "power failure: powering off in {} s unless power comes back",
                    POWERFAIL_GRACE.as_secs()
                );
                self.powerfail_at = Some(Instant::now() + POWERFAIL_GRACE);
            }
            Command::PowerOk => {
                if self.powerfail_at.take().is_some() {
                    crate::log!("power is back: poweroff cancelled");
                }
            }
            Command::Nothing | Command::Unsupported => {}
        }
    }

    fn switch_target(&mut self, to: SwitchTo) {
        let (program, name) = match to {
            SwitchTo::Rescue => (&self.to_rescue, "rescue"),
            SwitchTo::Default => (&self.to_default, "default"),
        };
        match program {
            Some(p) => {
                if let Err(e) = spawn::spawn(p, Setup::default()) {
                    crate::log!("cannot run {} to switch to {name}: {e}", p.path().display());
                }
            }
            None => crate::log!("no svcctl found: cannot switch to target {name}"),
        }
    }
}

/// Why the manager is not running, after its path, in the line that
/// announces the shell (`svc-init: /sbin/svc-manager cannot run: starting
/// an emergency shell ...`, which tests/system/qemu-boot.sh looks for).
fn summary(why: Why) -> &'static str {
    match why {
        Why::CannotRun => "cannot run",
        Why::FailsAtStart(_) => "keeps failing at start-up",
        Why::SysinitFailed => "stopped the boot (target sysinit failed)",
        Why::Asked => "is not started (emergency on the kernel command line)",
    }
}

/// The details before that line, each on its own (log lines are cut at
/// 512 bytes).
fn say_why(why: Why, m: &Manager, boot_logs: &[std::path::PathBuf; 2]) {
    match why {
        Why::CannotRun => return,
        Why::FailsAtStart(status) => crate::log!(
            "{} failed at start-up {} times in a row, the last time with {}",
            m.path().display(),
            crate::manager::MAX_STARTUP_FAILURES,
            crate::StatusText(status)
        ),
        Why::SysinitFailed => crate::log!(
            "the boot stopped: target sysinit failed (what failed is above); the file systems are as it left them"
        ),
        Why::Asked => {
            crate::log!("emergency mode: no services, the root as the kernel mounted it");
            return;
        }
    }
    crate::log!(
        "its messages are above, and in {} (or {} once /var/log could be written)",
        boot_logs[0].display(),
        boot_logs[1].display()
    );
}

fn log_outcome(outcome: Outcome) {
    match outcome {
        Outcome::Rejected(Reject::Short { len }) => {
            crate::log!(
                "initctl: dropped a short record ({len} of {} bytes)",
                initctl::RECORD_LEN
            )
        }
        Outcome::Rejected(Reject::Long { extra }) => {
            crate::log!("initctl: dropped {extra} bytes past the end of a record")
        }
        Outcome::Rejected(Reject::BadMagic { dropped }) => {
            crate::log!("initctl: dropped {dropped} bytes without the init_request magic")
        }
        Outcome::Record(_) => {}
    }
}
