//! The root svc-manager: found, started, and started again when it dies.
//! A new manager adopts the running supervisors, so svc-init restarts only
//! the manager, never a service.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::unistd::Pid;

use crate::args::Options;
use crate::spawn::{self, Program, Setup};

pub const FIRST_DELAY: Duration = Duration::from_millis(250);
pub const MAX_DELAY: Duration = Duration::from_secs(30);
/// A manager that ran this long was healthy: the delay starts over.
pub const HEALTHY_RUN: Duration = Duration::from_secs(10);
/// A manager that ends this fast with 126/127 (the loader's or a shell's
/// "cannot execute") did not run at all.
pub const QUICK_DEATH: Duration = Duration::from_secs(1);
/// This many failures to run in a row and svc-init gives up on it.
pub const MAX_FAILED_STARTS: u32 = 3;
/// A manager that fails (a non-zero status, or a signal) within
/// HEALTHY_RUN of its start failed at start-up (a read-only root it cannot
/// cope with, a broken declaration directory, a missing library); this
/// many in a row, about 9 s with the backoff, and svc-init gives up on it.
pub const MAX_STARTUP_FAILURES: u32 = 5;
/// svc-manager's exit status when the `sysinit` target of its boot failed
/// (svc-manager/src/manager/early.rs): the boot cannot go on.
pub const SYSINIT_FAILED: i32 = 3;

/// The manager to run: an explicit path (flag, environment, kernel command
/// line), else `svc-manager` next to svc-init, else on PATH.
pub fn locate(explicit: Option<&Path>, own_exe: Option<&Path>) -> Option<PathBuf> {
    locate_program("svc-manager", explicit, own_exe)
}

pub fn locate_program(
    name: &str,
    explicit: Option<&Path>,
    own_exe: Option<&Path>,
) -> Option<PathBuf> {
    if let Some(p) = explicit {
        return Some(p.to_owned());
    }
    if let Some(beside) = own_exe.and_then(Path::parent).map(|d| d.join(name))
        && spawn::is_executable(&beside)
    {
        return Some(beside);
    }
    spawn::find_on_path(name.as_ref())
}

/// The manager's command line: svc-init's pass-through options as flags.
pub fn arguments(opts: &Options, target: Option<&str>, quiet: bool) -> Vec<OsString> {
    let mut args = Vec::new();
    if quiet {
        args.push(OsString::from("--quiet"));
    }
    let mut pass = |flag: &str, value: &OsString| {
        args.push(OsString::from(flag));
        args.push(value.clone());
    };
    for dir in &opts.services {
        pass("--services", dir);
    }
    if let Some(t) = &opts.target {
        pass("--target", t);
    } else if let Some(t) = target {
        pass("--target", &OsString::from(t));
    }
    if let Some(s) = &opts.socket {
        pass("--socket", s);
    }
    if let Some(d) = &opts.runtime_dir {
        pass("--runtime-dir", &d.clone().into_os_string());
    }
    if let Some(d) = &opts.log_dir {
        pass("--log-dir", d);
    }
    args
}

#[derive(Debug, PartialEq, Eq)]
pub enum Health {
    Running,
    /// Waiting to start again at the given time.
    RestartAt(Instant),
    /// Gave up: an emergency shell is due, for this reason.
    GaveUp(Why),
}

/// Why svc-init stopped starting the manager and wants a shell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Why {
    /// Could not run at all MAX_FAILED_STARTS times in a row.
    CannotRun,
    /// Failed at start-up MAX_STARTUP_FAILURES times in a row; the last
    /// wait status.
    FailsAtStart(i32),
    /// Said that the boot's `sysinit` target failed (SYSINIT_FAILED).
    SysinitFailed,
    /// `emergency` on the kernel command line: a shell before any manager.
    Asked,
}

pub struct Manager {
    program: Program,
    pub pid: Option<Pid>,
    started: Instant,
    delay: Duration,
    failed_starts: u32,
    startup_failures: u32,
    pub health: Health,
}

impl Manager {
    /// `found`: false when no svc-manager could be located at all, which
    /// is "cannot run" from the start.
    pub fn new(program: Program, found: bool) -> Self {
        Manager {
            program,
            pid: None,
            started: Instant::now(),
            delay: FIRST_DELAY,
            failed_starts: 0,
            startup_failures: 0,
            health: if found {
                Health::RestartAt(Instant::now())
            } else {
                Health::GaveUp(Why::CannotRun)
            },
        }
    }

    pub fn restart_due(&self) -> Option<Instant> {
        match self.health {
            Health::RestartAt(t) => Some(t),
            _ => None,
        }
    }

    /// Starts it (at or after the due time).
    pub fn start(&mut self, now: Instant) {
        // A group of its own: a Ctrl-C on svc-init's terminal (not PID 1)
        // is svc-init's to act on, through an orderly stop of the manager.
        let setup = Setup {
            own_group: true,
            ..Setup::default()
        };
        match spawn::spawn(&self.program, setup) {
            Ok(pid) => {
                crate::note!("started {} as pid {pid}", self.program.path().display());
                self.pid = Some(pid);
                self.started = now;
                self.health = Health::Running;
            }
            Err(e) => {
                crate::log!("cannot run {}: {e}", self.program.path().display());
                self.failed(now, true);
            }
        }
    }

    /// Called with its wait status when it has been reaped.
    pub fn exited(&mut self, status: i32, now: Instant) {
        self.pid = None;
        let ran = now.saturating_duration_since(self.started);
        let code = libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status));
        crate::note!(
            "{} ended ({}) after {} ms",
            self.program.path().display(),
            crate::StatusText(status),
            ran.as_millis()
        );
        if ran >= HEALTHY_RUN {
            self.delay = FIRST_DELAY;
        }
        if code == Some(SYSINIT_FAILED) {
            self.health = Health::GaveUp(Why::SysinitFailed);
            return;
        }
        self.startup_failures = if ran < HEALTHY_RUN && code != Some(0) {
            self.startup_failures + 1
        } else {
            0
        };
        if self.startup_failures >= MAX_STARTUP_FAILURES {
            self.health = Health::GaveUp(Why::FailsAtStart(status));
            return;
        }
        self.failed(now, ran < QUICK_DEATH && matches!(code, Some(126 | 127)));
    }

    fn failed(&mut self, now: Instant, could_not_run: bool) {
        self.failed_starts = if could_not_run {
            self.failed_starts + 1
        } else {
            0
        };
        if self.failed_starts >= MAX_FAILED_STARTS {
            self.health = Health::GaveUp(Why::CannotRun);
            return;
        }
        self.health = Health::RestartAt(now + self.delay);
        self.delay = (self.delay * 2).min(MAX_DELAY);
    }

    /// After the emergency shell, or a pause when there is none: try again
    /// from scratch at `when`.
    pub fn retry_at(&mut self, when: Instant) {
        self.failed_starts = 0;
        self.startup_failures = 0;
        self.delay = FIRST_DELAY;
        self.health = Health::RestartAt(when);
    }

    pub fn path(&self) -> &Path {
        self.program.path()
    }

    /// Why an emergency shell is due, if it is.
    pub fn gave_up(&self) -> Option<Why> {
        match self.health {
            Health::GaveUp(why) => Some(why),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> Options {
        Options {
            services: vec!["/a".into(), "/b".into()],
            socket: Some("/s".into()),
            runtime_dir: Some("/r".into()),
            log_dir: Some("/l".into()),
            ..Options::default()
        }
    }

    #[test]
    fn pass_through_arguments() {
        let args = arguments(&opts(), Some("rescue"), false);
        let want = [
            "--services",
            "/a",
            "--services",
            "/b",
            "--target",
            "rescue",
            "--socket",
            "/s",
            "--runtime-dir",
            "/r",
            "--log-dir",
            "/l",
        ];
        assert_eq!(args, want.map(OsString::from));
        let mut o = opts();
        o.target = Some("flag".into());
        assert!(arguments(&o, Some("boot"), false).contains(&OsString::from("flag")));
        assert!(arguments(&Options::default(), None, false).is_empty());
        assert_eq!(
            arguments(&Options::default(), None, true),
            [OsString::from("--quiet")]
        );
    }

    #[test]
    fn explicit_path_wins_then_beside_then_path() {
        assert_eq!(
            locate(Some(Path::new("/x/m")), Some(Path::new("/bin/sh"))),
            Some(PathBuf::from("/x/m"))
        );
        // `sh` exists next to /bin/sh's own directory
        assert_eq!(
            locate_program("sh", None, Some(Path::new("/bin/true"))),
            Some(PathBuf::from("/bin/sh"))
        );
        assert_eq!(
            locate_program(
                "svc-init-no-such-program",
                None,
                Some(Path::new("/bin/true"))
            ),
            None
        );
    }

    fn missing() -> Manager {
        Manager::new(
            Program::new(Path::new("/nonexistent/svc-manager"), &[] as &[&str]).unwrap(),
            true,
        )
    }

    #[test]
    fn delay_grows_and_resets_after_a_healthy_run() {
        let mut m = missing();
        let t0 = Instant::now();
        // Quick clean exits: never a start-up failure, so never given up
        // on (a crash counts: repeated_start_up_failures_give_up...).
        let clean = 0;
        m.started = t0;
        m.exited(clean, t0);
        assert_eq!(m.health, Health::RestartAt(t0 + FIRST_DELAY));
        m.exited(clean, t0);
        assert_eq!(m.health, Health::RestartAt(t0 + FIRST_DELAY * 2));
        for _ in 0..20 {
            m.exited(clean, t0);
        }
        assert_eq!(m.health, Health::RestartAt(t0 + MAX_DELAY));
        let later = t0 + HEALTHY_RUN;
        let killed = 9; // wait status of a SIGKILL, after a healthy run
        m.exited(killed, later);
        assert_eq!(m.health, Health::RestartAt(later + FIRST_DELAY));
    }

    #[test]
    fn repeated_exec_failure_means_cannot_run() {
        let mut m = missing();
        let now = Instant::now();
        for _ in 0..MAX_FAILED_STARTS {
            assert_eq!(m.gave_up(), None);
            m.start(now);
        }
        assert_eq!(m.gave_up(), Some(Why::CannotRun));
        m.retry_at(now);
        assert_eq!(m.health, Health::RestartAt(now));
    }

    #[test]
    fn quick_127_counts_as_not_running() {
        let mut m = missing();
        let t0 = Instant::now();
        let exit127 = 127 << 8;
        m.started = t0;
        for _ in 0..MAX_FAILED_STARTS {
            m.exited(exit127, t0);
        }
        assert_eq!(m.gave_up(), Some(Why::CannotRun));
    }

    #[test]
    fn repeated_start_up_failures_give_up_with_the_last_status() {
        let t0 = Instant::now();
        let mut m = missing();
        m.started = t0;
        for _ in 0..MAX_STARTUP_FAILURES - 1 {
            m.exited(1 << 8, t0);
            assert!(matches!(m.health, Health::RestartAt(_)));
        }
        let segv = libc::SIGSEGV;
        m.exited(segv, t0 + Duration::from_secs(1));
        assert_eq!(m.gave_up(), Some(Why::FailsAtStart(segv)));
        m.retry_at(t0);
        assert_eq!(m.gave_up(), None);
        // a healthy run in between starts the count again; so does status 0
        let mut m = missing();
        for _ in 0..3 * MAX_STARTUP_FAILURES {
            m.started = t0;
            m.exited(1 << 8, t0);
            m.exited(0, t0);
            m.started = t0;
            m.exited(1 << 8, t0 + HEALTHY_RUN);
        }
        assert!(matches!(m.health, Health::RestartAt(_)));
    }

    #[test]
    fn sysinit_failure_gives_up_at_once() {
        let t0 = Instant::now();
        let mut m = missing();
        m.started = t0;
        m.exited(SYSINIT_FAILED << 8, t0 + HEALTHY_RUN * 6);
        assert_eq!(m.gave_up(), Some(Why::SysinitFailed));
    }
}
