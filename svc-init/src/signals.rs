//! The signal table (init.md) and its delivery through one signalfd.
//!
//! Real-time signals are named by raw number: glibc reserves two for its
//! threads and makes SIGRTMIN 34, musl makes it 35, so "SIGRTMIN+3" differs
//! between the two while systemd, nspawn and podman send the number 37.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicU64, Ordering};

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

/// Every signal the table gives a meaning (svc-init reads all it blocks,
/// and ignores the rest).
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

/// The table. `term_powers_off` (a container, but not an nspawn machine,
/// see `Place::term_powers_off`): SIGTERM and SIGINT power off instead of
/// rebooting, because a container engine's stop (and a Ctrl-C on `docker
/// run -it`) means "end", and rebooting a container means restarting it
/// without the engine knowing. nspawn stops its machine with signal 37 or
/// 38 and asks for a reboot with SIGINT (`machinectl reboot`), as systemd
/// means it. `entrypoint`: the job-control and user signals belong to CMD.
pub fn classify(signo: i32, term_powers_off: bool, entrypoint: bool) -> Action {
    let orderly = |power| Action::Shutdown {
        power,
        immediate: false,
    };
    let now = |power| Action::Shutdown {
        power,
        immediate: true,
    };
    let term_power = if term_powers_off {
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

/// Faults of svc-init's own: blocking them would only turn a crash into a
/// silent SIGKILL, so they stay deliverable (catatonit does the same).
const SYNCHRONOUS: [i32; 7] = [
    libc::SIGILL,
    libc::SIGTRAP,
    libc::SIGABRT,
    libc::SIGBUS,
    libc::SIGFPE,
    libc::SIGSEGV,
    libc::SIGSYS,
];

const fn bit(signo: i32) -> u64 {
    1 << (signo - 1)
}

/// The kernel's signal mask (64 bits on Linux, whatever size the C
/// library's `sigset_t` has) of everything svc-init blocks and reads from
/// its signalfd: every signal but the synchronous ones. SIGKILL and
/// SIGSTOP cannot be blocked; glibc's reserved 32 and 33 can, through the
/// raw system call, and are (svc-init has no threads to use them).
pub const BLOCKED: u64 = {
    let mut mask = !(bit(libc::SIGKILL) | bit(libc::SIGSTOP));
    let mut i = 0;
    while i < SYNCHRONOUS.len() {
        mask &= !bit(SYNCHRONOUS[i]);
        i += 1;
    }
    mask
};

/// Signals svc-init inherited as ignored (SIG_IGN survives exec, so every
/// child resets these); all 64 until start-up has found out.
static INHERITED_IGNORED: AtomicU64 = AtomicU64::new(u64::MAX);

/// Finds out which signals svc-init inherited as ignored, for its children
/// to reset: one query per signal. (/proc/self/status says it in one read,
/// but a process's first look at /proc costs more than these 64 calls.)
pub fn note_inherited_ignored() {
    let mut ignored = 0u64;
    for signo in 1..=64 {
        let mut old = [0u64; 4];
        // SAFETY: rt_sigaction with no new action only fills `old`, as
        // large as the kernel's struct sigaction (at most 4 words).
        let rc = unsafe {
            libc::syscall(
                libc::SYS_rt_sigaction,
                signo,
                std::ptr::null::<u64>(),
                old.as_mut_ptr(),
                8usize,
            )
        };
        // The handler is the first word (x86_64, aarch64 and most layouts;
        // MIPS, with the flags first, is not a target here); SIG_IGN is 1.
        if rc == 0 && old[0] == libc::SIG_IGN as u64 {
            ignored |= bit(signo);
        }
    }
    INHERITED_IGNORED.store(ignored, Ordering::Relaxed);
}

/// The signals a child must reset to their default disposition.
/// Async-signal-safe (an atomic load).
pub fn inherited_ignored() -> u64 {
    INHERITED_IGNORED.load(Ordering::Relaxed)
}

/// Sets `signo` to its default disposition with the raw system call:
/// glibc's sigaction refuses its reserved signals 32 and 33. An all-zero
/// kernel sigaction is SIG_DFL, no flags, empty mask, on every
/// architecture's layout. Async-signal-safe; fails (harmlessly) for
/// SIGKILL and SIGSTOP.
pub fn set_default(signo: i32) {
    let dfl = [0u64; 4];
    // SAFETY: rt_sigaction with a valid new action and no old one.
    unsafe {
        libc::syscall(
            libc::SYS_rt_sigaction,
            signo,
            dfl.as_ptr(),
            std::ptr::null_mut::<u64>(),
            8usize,
        );
    }
}

/// Sets the calling thread's signal mask to `mask`, with the raw system
/// call (see BLOCKED). Async-signal-safe.
pub fn set_mask(how: i32, mask: u64) -> std::io::Result<()> {
    // SAFETY: rt_sigprocmask with a valid 8-byte mask and no old mask.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_rt_sigprocmask,
            how,
            &mask as *const u64,
            std::ptr::null_mut::<u64>(),
            8usize,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Blocks every signal but the synchronous ones: the first thing svc-init
/// does, so that none is lost or fatal during start-up; they wait, pending,
/// for the signalfd. Blocked signals are never dropped as ignored, even for
/// PID 1 with default dispositions (the kernel's `sig_ignored`), so no
/// handler is needed; with SIGTTOU and SIGTTIN blocked a write to the
/// terminal from the background goes through, and with SIGPIPE blocked a
/// write to a closed pipe is a plain EPIPE. The one disposition that
/// matters while blocked is SIGCHLD's: an inherited SIG_IGN would make the
/// kernel reap the children, CMD's status included, so it is reset.
pub fn block() -> std::io::Result<()> {
    set_mask(libc::SIG_BLOCK, BLOCKED)?;
    set_default(libc::SIGCHLD);
    Ok(())
}

/// A batch of siginfos read at once: one read(2) usually drains the queue.
const BATCH: usize = 8;

/// Every blocked signal, as one non-blocking, close-on-exec fd.
pub struct SignalFd {
    fd: OwnedFd,
    batch: [libc::signalfd_siginfo; BATCH],
    len: usize,
    pos: usize,
    /// The last read returned less than a full batch: the queue was empty.
    drained: bool,
}

impl SignalFd {
    /// A signalfd for the signals `block` blocked.
    pub fn open() -> std::io::Result<Self> {
        // SAFETY: signalfd4 on a valid 8-byte mask; the new fd is owned here.
        unsafe {
            let fd = libc::syscall(
                libc::SYS_signalfd4,
                -1,
                &BLOCKED as *const u64,
                8usize,
                libc::SFD_CLOEXEC | libc::SFD_NONBLOCK,
            );
            if fd < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(SignalFd {
                fd: OwnedFd::from_raw_fd(fd as i32),
                batch: std::mem::zeroed(),
                len: 0,
                pos: 0,
                drained: false,
            })
        }
    }

    /// The next pending signal and its sender's pid (0 from outside the
    /// namespace), or None when there is none. After None the next call
    /// reads again.
    pub fn next_signal(&mut self) -> Option<(i32, i32)> {
        if self.pos == self.len {
            if std::mem::take(&mut self.drained) {
                return None;
            }
            self.fill();
        }
        if self.pos == self.len {
            return None;
        }
        let info = &self.batch[self.pos];
        self.pos += 1;
        Some((info.ssi_signo as i32, info.ssi_pid as i32))
    }

    fn fill(&mut self) {
        let size = std::mem::size_of::<libc::signalfd_siginfo>();
        self.pos = 0;
        self.len = 0;
        loop {
            // SAFETY: signalfd_siginfo is plain data; read fills at most
            // the batch's size, whole records only.
            let n = unsafe {
                libc::read(
                    self.fd.as_raw_fd(),
                    self.batch.as_mut_ptr().cast(),
                    size * BATCH,
                )
            };
            if n < 0 && nix::errno::Errno::last() == nix::errno::Errno::EINTR {
                continue;
            }
            if n > 0 {
                self.len = n as usize / size;
                self.drained = self.len < BATCH;
            }
            return;
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
    fn every_handled_signal_is_blocked_and_no_fault_is() {
        for sig in HANDLED
            .into_iter()
            .chain([32, 33, libc::SIGTTOU, libc::SIGPIPE])
        {
            assert_ne!(BLOCKED & bit(sig), 0, "{sig} not blocked");
        }
        for sig in SYNCHRONOUS
            .into_iter()
            .chain([libc::SIGKILL, libc::SIGSTOP])
        {
            assert_eq!(BLOCKED & bit(sig), 0, "{sig} blocked");
        }
    }

    #[test]
    fn inherited_ignored_signals_are_found() {
        // 50: a real-time signal nothing in the test process uses.
        let ignore = [1u64, 0, 0, 0];
        // SAFETY: rt_sigaction with a valid SIG_IGN action.
        unsafe {
            libc::syscall(
                libc::SYS_rt_sigaction,
                50,
                ignore.as_ptr(),
                std::ptr::null_mut::<u64>(),
                8usize,
            );
        }
        note_inherited_ignored();
        let found = inherited_ignored();
        set_default(50);
        assert_ne!(found & bit(50), 0, "{found:#x}");
        assert_eq!(found & bit(libc::SIGCHLD), 0, "{found:#x}");
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
