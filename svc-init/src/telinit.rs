//! `svc-init RUNLEVEL` when not PID 1, and `telinit RUNLEVEL`: sysvinit's
//! `shutdown`, `halt`, `poweroff` and `reboot` end by running `/sbin/init 0`
//! (or `6`), and Debian's `telinit` is a link to `init`. Like sysvinit's and
//! busybox's init, svc-init then passes the request on to PID 1 and exits:
//! an `init_request` record (`INIT_CMD_RUNLVL`) on the initctl FIFO, or,
//! where there is no FIFO, the signal that PID 1 reads the same way.

use std::ffi::OsStr;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;

use crate::initctl::{CMD_RUNLVL, Request};

/// The runlevels sysvinit's telinit takes (and svc-init's FIFO reads).
pub const RUNLEVELS: &[u8] = b"0123456SsQqUu";

/// How long a full FIFO may keep a request waiting before it is an error.
const WRITE_BOUND_MS: u16 = 5000;

/// Whether svc-init was started under the name `telinit` (argv[0]).
pub fn invoked_as_telinit(argv0: Option<&OsStr>) -> bool {
    argv0
        .map(Path::new)
        .and_then(Path::file_name)
        .is_some_and(|name| name == "telinit")
}

/// The one runlevel in `words`, or what is wrong with them. Pure.
pub fn runlevel(words: &[std::ffi::OsString]) -> Result<u8, String> {
    match words {
        [] => Err("a runlevel is needed (0-6, S, Q or U)".into()),
        [word] => match word.as_bytes() {
            [c] if RUNLEVELS.contains(c) => Ok(*c),
            _ => Err(format!(
                "`{}` is not a runlevel (0-6, S, Q or U; a command goes after `--`)",
                word.to_string_lossy()
            )),
        },
        [_, extra, ..] => Err(format!(
            "unexpected argument `{}`: one runlevel only",
            extra.to_string_lossy()
        )),
    }
}

/// Why a request did not reach PID 1.
#[derive(Debug)]
pub struct Failure(pub String);

/// Passes `level` on to PID 1. `explicit` is the FIFO given by `--initctl`
/// or `SVC_INITCTL`: then that FIFO and nothing else. Otherwise
/// `/run/initctl`, then `/dev/initctl`, then, when neither has a reader and
/// PID 1 is svc-init or busybox, a signal (see `fallback_signal`).
pub fn send(level: u8, explicit: Option<&Path>) -> Result<(), Failure> {
    if let Some(path) = explicit {
        return write_record(path, level);
    }
    let mut first = None;
    for path in [crate::DEFAULT_INITCTL, crate::DEV_INITCTL].map(PathBuf::from) {
        match write_record(&path, level) {
            Ok(()) => return Ok(()),
            Err(e) => {
                first.get_or_insert(e);
            }
        }
    }
    let first = first.unwrap_or(Failure(String::new()));
    let pid1 = std::fs::read_link("/proc/1/exe").ok();
    let halt = std::env::var_os("INIT_HALT").is_some_and(|v| v == "HALT");
    match pid1
        .as_deref()
        .and_then(|exe| fallback_signal(exe, level, halt))
    {
        Some(signo) => {
            // SAFETY: kill(2) with a pid and a signal number.
            if unsafe { libc::kill(1, signo) } == 0 {
                Ok(())
            } else {
                let e = std::io::Error::last_os_error();
                Err(Failure(format!(
                    "{}; and cannot signal PID 1: {e}",
                    first.0
                )))
            }
        }
        None => Err(first),
    }
}

/// The signal to PID 1 that means runlevel `level`, for a PID 1 whose
/// executable is `exe` — only where that meaning is known: svc-init's
/// table and busybox init's (SIGUSR2 poweroff, SIGUSR1 halt, SIGTERM
/// reboot, SIGHUP re-read). Anything else (systemd reads SIGUSR2 as "dump
/// state"), or a runlevel no signal names, gets none. Pure.
pub fn fallback_signal(exe: &Path, level: u8, init_halt: bool) -> Option<i32> {
    let name = exe.file_name()?.as_bytes();
    // A replaced binary reads "svc-init (deleted)".
    let name = name.strip_suffix(b" (deleted)").unwrap_or(name);
    let svc_init = name == b"svc-init";
    if !svc_init && name != b"busybox" {
        return None;
    }
    match level {
        b'0' if init_halt => Some(libc::SIGUSR1),
        b'0' => Some(libc::SIGUSR2),
        // svc-init reads SIGTERM as poweroff in a container; 39 is reboot
        // everywhere.
        b'6' if svc_init => Some(crate::signals::SIG_REBOOT),
        b'6' => Some(libc::SIGTERM),
        b'q' | b'Q' => Some(libc::SIGHUP),
        _ => None,
    }
}

/// One `INIT_CMD_RUNLVL` record, in one write (384 bytes: atomic on a
/// FIFO). The FIFO is opened write-only and non-blocking, so that a FIFO
/// nobody reads is an error (ENXIO) at once rather than a hang.
fn write_record(path: &Path, level: u8) -> Result<(), Failure> {
    use nix::fcntl::{OFlag, open};
    let fail = |what: &str, e: Errno| Failure(format!("{what} {}: {e}", path.display()));
    let flags = OFlag::O_WRONLY | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC | OFlag::O_NOCTTY;
    let fd: OwnedFd = match open(path, flags, nix::sys::stat::Mode::empty()) {
        Ok(fd) => fd,
        Err(Errno::ENXIO) => {
            return Err(Failure(format!(
                "no init reads {} (the FIFO has no reader)",
                path.display()
            )));
        }
        Err(e) => return Err(fail("cannot open", e)),
    };
    let st = nix::sys::stat::fstat(fd.as_fd()).map_err(|e| fail("cannot look at", e))?;
    let kind = nix::sys::stat::SFlag::from_bits_truncate(st.st_mode);
    if kind & nix::sys::stat::SFlag::S_IFMT != nix::sys::stat::SFlag::S_IFIFO {
        return Err(Failure(format!("{} is not a FIFO", path.display())));
    }
    let record = Request::new(CMD_RUNLVL, i32::from(level)).encode();
    let mut waited = false;
    loop {
        match nix::unistd::write(&fd, &record) {
            Ok(n) if n == record.len() => return Ok(()),
            Ok(n) => {
                return Err(Failure(format!(
                    "short write to {} ({n} of {} bytes)",
                    path.display(),
                    record.len()
                )));
            }
            Err(Errno::EINTR) => {}
            Err(Errno::EAGAIN) if !waited => {
                waited = true;
                use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
                let mut fds = [PollFd::new(fd.as_fd(), PollFlags::POLLOUT)];
                let _ = poll(&mut fds, PollTimeout::from(WRITE_BOUND_MS));
            }
            Err(Errno::EAGAIN) => {
                return Err(Failure(format!(
                    "{} is full: init is not reading it",
                    path.display()
                )));
            }
            Err(Errno::EPIPE) => {
                return Err(Failure(format!(
                    "no init reads {} (its reader went away)",
                    path.display()
                )));
            }
            Err(e) => return Err(fail("cannot write to", e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsString;

    fn words(w: &[&str]) -> Vec<OsString> {
        w.iter().map(OsString::from).collect()
    }

    #[test]
    fn every_runlevel_and_nothing_else() {
        for &c in RUNLEVELS {
            let w = vec![OsString::from(char::from(c).to_string())];
            assert_eq!(runlevel(&w), Ok(c));
        }
        for bad in [
            &["7"][..],
            &["a"],
            &["00"],
            &["single"],
            &[""],
            &[],
            &["0", "6"],
        ] {
            assert!(runlevel(&words(bad)).is_err(), "{bad:?} accepted");
        }
        assert!(runlevel(&words(&["x"])).unwrap_err().contains("`x`"));
    }

    #[test]
    fn telinit_by_name() {
        assert!(invoked_as_telinit(Some(OsStr::new("/sbin/telinit"))));
        assert!(invoked_as_telinit(Some(OsStr::new("telinit"))));
        assert!(!invoked_as_telinit(Some(OsStr::new("/sbin/init"))));
        assert!(!invoked_as_telinit(Some(OsStr::new("telinit2"))));
        assert!(!invoked_as_telinit(None));
    }

    #[test]
    fn signals_only_where_pid1_reads_them_that_way() {
        let svc = Path::new("/sbin/svc-init");
        let bb = Path::new("/bin/busybox");
        assert_eq!(fallback_signal(svc, b'0', false), Some(libc::SIGUSR2));
        assert_eq!(fallback_signal(svc, b'0', true), Some(libc::SIGUSR1));
        assert_eq!(fallback_signal(svc, b'6', false), Some(39));
        assert_eq!(fallback_signal(bb, b'6', false), Some(libc::SIGTERM));
        assert_eq!(fallback_signal(bb, b'q', false), Some(libc::SIGHUP));
        assert_eq!(
            fallback_signal(Path::new("/x/svc-init (deleted)"), b'0', false),
            Some(libc::SIGUSR2)
        );
        assert_eq!(fallback_signal(svc, b'3', false), None);
        assert_eq!(fallback_signal(svc, b'S', false), None);
        for other in ["/lib/systemd/systemd", "/sbin/init", "/sbin/openrc-init"] {
            assert_eq!(fallback_signal(Path::new(other), b'0', false), None);
        }
    }

    #[test]
    fn a_fifo_without_reader_is_an_error_naming_it_not_a_hang() {
        let dir = std::env::temp_dir().join(format!("svc-init-telinit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let fifo = dir.join("initctl");
        let _ = std::fs::remove_file(&fifo);
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).unwrap();
        let no_reader = write_record(&fifo, b'0');
        let missing = write_record(&dir.join("missing"), b'0');
        let file = dir.join("plain");
        std::fs::write(&file, "").unwrap();
        let plain = write_record(&file, b'0');
        let plain_len = std::fs::metadata(&file).unwrap().len();
        // With a reader the record arrives whole.
        let reader = nix::fcntl::open(
            &fifo,
            nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_NONBLOCK,
            nix::sys::stat::Mode::empty(),
        )
        .unwrap();
        let sent = write_record(&fifo, b'6');
        let mut buf = [0u8; 1024];
        let n = nix::unistd::read(&reader, &mut buf).unwrap_or(0);
        std::fs::remove_dir_all(&dir).unwrap();
        let msg = no_reader.unwrap_err().0;
        assert!(
            msg.contains("no init reads") && msg.contains("initctl"),
            "{msg}"
        );
        assert!(missing.unwrap_err().0.contains("missing"));
        assert!(plain.unwrap_err().0.contains("not a FIFO"));
        assert_eq!(plain_len, 0, "a plain file was written to");
        assert!(sent.is_ok());
        assert_eq!(
            &buf[..n],
            &Request::new(CMD_RUNLVL, i32::from(b'6')).encode()
        );
    }
}
