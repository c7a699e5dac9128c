//! The signal table (init.md) and its delivery through one signalfd.
//!
//! Real-time signals are named by raw number: glibc reserves two for its
//! threads and makes SIGRTMIN 34, musl makes it 35, so "SIGRTMIN+3" differs
//! between the two while systemd, nspawn and podman send the number 37.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// halt, poweroff, reboot (systemd's SIGRTMIN+3/+4/+5 on glibc)
pub const SIG_HALT: i32 = 37;
pub const SIG_POWEROFF: i32 = 38;
pub const SIG_REBOOT: i32 = 39;
/// the same, immediately (SIGRTMIN+13/+14/+15)
pub const SIG_HALT_NOW: i32 = 47;
pub const SIG_POWEROFF_NOW: i32 = 48;
pub const SIG_REBOOT_NOW: i32 = 49;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Power {
    Halt,
    Poweroff,
    Reboot,
}

impl Power {
    pub fn name(self) -> &'static str {
        match self {
            Power::Halt => "halt",
            Power::Poweroff => "poweroff",
            Power::Reboot => "reboot",
        }
    }
}

/// What svc-init does with one signal.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Action {
    Shutdown {
        power: Power,
        immediate: bool,
    },
    /// Tell the manager to re-read its declarations.
    Rescan,
    Reap,
    /// Entrypoint mode: pass the signal on to CMD.
    Forward(i32),
    Ignore,
}

/// Every signal svc-init takes from its signalfd.
pub const HANDLED: [i32; 15] = [
    libc::SIGTERM,
    libc::SIGINT,
    libc::SIGHUP,
    libc::SIGQUIT,
    libc::SIGUSR1,
    libc::SIGUSR2,
    libc::SIGWINCH,
    libc::SIGPWR,
    libc::SIGCHLD,
    SIG_HALT,
    SIG_POWEROFF,
    SIG_REBOOT,
    SIG_HALT_NOW,
    SIG_POWEROFF_NOW,
    SIG_REBOOT_NOW,
];

/// The table. `in_container`: SIGTERM and SIGINT power off instead of
/// rebooting, because a container engine's stop (and a Ctrl-C on `docker
/// run -it`) means "end", and rebooting a container means restarting it
/// without the engine knowing. `entrypoint`: the job-control and user
/// signals belong to CMD.
pub fn classify(signo: i32, in_container: bool, entrypoint: bool) -> Action {
    let orderly = |power| Action::Shutdown {
        power,
        immediate: false,
    };
    let now = |power| Action::Shutdown {
        power,
        immediate: true,
    };
    let term_power = if in_container {
        Power::Poweroff
    } else {
        Power::Reboot
    };
    match signo {
        libc::SIGCHLD => Action::Reap,
        libc::SIGTERM
        | libc::SIGINT
        | libc::SIGHUP
        | libc::SIGQUIT
        | libc::SIGUSR1
        | libc::SIGUSR2
        | libc::SIGWINCH
            if entrypoint =>
        {
            Action::Forward(signo)
        }
        libc::SIGTERM | libc::SIGINT => orderly(term_power),
        libc::SIGUSR1 => orderly(Power::Halt),
        libc::SIGUSR2 => orderly(Power::Poweroff),
        libc::SIGHUP => Action::Rescan,
        libc::SIGPWR => orderly(Power::Poweroff),
        SIG_HALT => orderly(Power::Halt),
        SIG_POWEROFF => orderly(Power::Poweroff),
        SIG_REBOOT => orderly(Power::Reboot),
        SIG_HALT_NOW => now(Power::Halt),
        SIG_POWEROFF_NOW => now(Power::Poweroff),
        SIG_REBOOT_NOW => now(Power::Reboot),
        _ => Action::Ignore,
    }
}

fn sigset_of(signals: &[i32]) -> libc::sigset_t {
    // SAFETY: sigemptyset initialises the set; sigaddset only writes into it.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for &s in signals {
            libc::sigaddset(&mut set, s);
        }
        set
    }
}

extern "C" fn unreachable_handler(_: libc::c_int) {}

/// The signals svc-init reads, as one non-blocking, close-on-exec fd.
pub struct SignalFd {
    fd: OwnedFd,
}

/// Blocks the table's signals: the first thing svc-init does, so that none
/// is lost or fatal during start-up; they wait, pending, for the signalfd.
/// Each also gets a handler, never run since the signal stays blocked: the
/// kernel drops signals to PID 1 whose disposition is the default, and a
/// handler keeps that true even if something unblocks one.
pub fn block() -> std::io::Result<()> {
    let set = sigset_of(&HANDLED);
    // SAFETY: plain syscalls on a valid, initialised sigset and sigaction.
    unsafe {
        if libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        for &s in &HANDLED {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = unreachable_handler as *const () as usize;
            sa.sa_flags = libc::SA_RESTART;
            libc::sigfillset(&mut sa.sa_mask);
            libc::sigaction(s, &sa, std::ptr::null_mut());
        }
        // svc-init writes to the console from the background in entrypoint mode.
        for s in [libc::SIGTTIN, libc::SIGTTOU, libc::SIGTSTP, libc::SIGPIPE] {
            libc::signal(s, libc::SIG_IGN);
        }
    }
    Ok(())
}

impl SignalFd {
    /// A signalfd for the signals `block` blocked.
    pub fn open() -> std::io::Result<Self> {
        let set = sigset_of(&HANDLED);
        // SAFETY: signalfd on a valid sigset; the new fd is owned here.
        unsafe {
            let fd = libc::signalfd(-1, &set, libc::SFD_CLOEXEC | libc::SFD_NONBLOCK);
            if fd < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(SignalFd {
                fd: OwnedFd::from_raw_fd(fd),
            })
        }
    }

    /// The next pending signal and its sender's pid (0 from outside the
    /// namespace), or None when there is none.
    pub fn next(&self) -> Option<(i32, i32)> {
        // SAFETY: signalfd_siginfo is plain data; read fills at most its size.
        unsafe {
            let mut info: libc::signalfd_siginfo = std::mem::zeroed();
            let size = std::mem::size_of::<libc::signalfd_siginfo>();
            loop {
                let n = libc::read(
                    self.fd.as_raw_fd(),
                    (&mut info as *mut libc::signalfd_siginfo).cast(),
                    size,
                );
                if n == size as isize {
                    return Some((info.ssi_signo as i32, info.ssi_pid as i32));
                }
                if n < 0 && nix::errno::Errno::last() == nix::errno::Errno::EINTR {
                    continue;
                }
                return None;
            }
        }
    }

    pub fn raw(&self) -> std::os::fd::BorrowedFd<'_> {
        use std::os::fd::AsFd;
        self.fd.as_fd()
    }
}

pub fn name(signo: i32) -> &'static str {
    match signo {
        libc::SIGTERM => "SIGTERM",
        libc::SIGINT => "SIGINT",
        libc::SIGHUP => "SIGHUP",
        libc::SIGQUIT => "SIGQUIT",
        libc::SIGUSR1 => "SIGUSR1",
        libc::SIGUSR2 => "SIGUSR2",
        libc::SIGWINCH => "SIGWINCH",
        libc::SIGPWR => "SIGPWR",
        libc::SIGCHLD => "SIGCHLD",
        libc::SIGKILL => "SIGKILL",
        SIG_HALT => "signal 37",
        SIG_POWEROFF => "signal 38",
        SIG_REBOOT => "signal 39",
        SIG_HALT_NOW => "signal 47",
        SIG_POWEROFF_NOW => "signal 48",
        SIG_REBOOT_NOW => "signal 49",
        _ => "a signal",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shutdown(power: Power, immediate: bool) -> Action {
        Action::Shutdown { power, immediate }
    }

    #[test]
    fn host_table() {
        let cases = [
            (libc::SIGTERM, shutdown(Power::Reboot, false)),
            (libc::SIGINT, shutdown(Power::Reboot, false)),
            (libc::SIGUSR1, shutdown(Power::Halt, false)),
            (libc::SIGUSR2, shutdown(Power::Poweroff, false)),
            (libc::SIGPWR, shutdown(Power::Poweroff, false)),
            (37, shutdown(Power::Halt, false)),
            (38, shutdown(Power::Poweroff, false)),
            (39, shutdown(Power::Reboot, false)),
            (47, shutdown(Power::Halt, true)),
            (48, shutdown(Power::Poweroff, true)),
            (49, shutdown(Power::Reboot, true)),
            (libc::SIGHUP, Action::Rescan),
            (libc::SIGCHLD, Action::Reap),
            (libc::SIGQUIT, Action::Ignore),
            (libc::SIGWINCH, Action::Ignore),
            (40, Action::Ignore),
        ];
        for (sig, want) in cases {
            assert_eq!(classify(sig, false, false), want, "signal {sig}");
        }
    }

    #[test]
    fn container_powers_off_on_term_and_int() {
        assert_eq!(
            classify(libc::SIGTERM, true, false),
            shutdown(Power::Poweroff, false)
        );
        assert_eq!(
            classify(libc::SIGINT, true, false),
            shutdown(Power::Poweroff, false)
        );
        assert_eq!(classify(39, true, false), shutdown(Power::Reboot, false));
    }

    #[test]
    fn entrypoint_forwards_the_user_signals() {
        for sig in [
            libc::SIGTERM,
            libc::SIGINT,
            libc::SIGHUP,
            libc::SIGQUIT,
            libc::SIGUSR1,
            libc::SIGUSR2,
            libc::SIGWINCH,
        ] {
            assert_eq!(classify(sig, true, true), Action::Forward(sig));
        }
        assert_eq!(classify(38, true, true), shutdown(Power::Poweroff, false));
        assert_eq!(classify(48, true, true), shutdown(Power::Poweroff, true));
        assert_eq!(classify(libc::SIGCHLD, true, true), Action::Reap);
    }

    #[test]
    fn every_handled_signal_has_a_meaning_somewhere() {
        for sig in HANDLED {
            let meanings = [
                classify(sig, false, false),
                classify(sig, true, false),
                classify(sig, true, true),
            ];
            assert!(meanings.iter().any(|a| *a != Action::Ignore), "{sig}");
        }
    }
}
