//! The loopback interface, brought up by PID 1 of a host: the kernel
//! creates `lo` down, and on a system without a network manager nothing
//! else would bring it up, so that 127.0.0.1 answers nothing (sshd, nginx
//! and syslog daemons listening on it would be unreachable). systemd does
//! the same in PID 1; OpenRC has a `loopback` service. Two ioctls, no
//! program to run.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// What [`loopback_up`] did.
#[derive(Debug, PartialEq, Eq)]
pub enum Loopback {
    AlreadyUp,
    BroughtUp,
}

/// An `ifreq` for "lo" with room for the flags (the kernel reads and
/// writes `ifr_flags` at the start of the union).
#[repr(C)]
struct IfreqFlags {
    name: [u8; libc::IFNAMSIZ],
    flags: libc::c_short,
    _rest: [u8; 22],
}

fn lo_request() -> IfreqFlags {
    let mut name = [0u8; libc::IFNAMSIZ];
    name[..2].copy_from_slice(b"lo");
    IfreqFlags {
        name,
        flags: 0,
        _rest: [0; 22],
    }
}

fn inet_socket() -> io::Result<OwnedFd> {
    // SAFETY: socket(2) with constant arguments; the result is checked.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a descriptor we just opened and own alone.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn ioctl_flags(sock: &OwnedFd, request: libc::c_ulong, req: &mut IfreqFlags) -> io::Result<()> {
    // SAFETY: `req` is a valid, exclusively borrowed ifreq-sized buffer for
    // SIOCGIFFLAGS/SIOCSIFFLAGS, which read and write only its flags.
    if unsafe { libc::ioctl(sock.as_raw_fd(), request as _, req as *mut IfreqFlags) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Whether `lo` in this network namespace is up.
pub fn loopback_is_up() -> io::Result<bool> {
    let sock = inet_socket()?;
    let mut req = lo_request();
    ioctl_flags(&sock, libc::SIOCGIFFLAGS, &mut req)?;
    Ok(req.flags & libc::IFF_UP as libc::c_short != 0)
}

/// Sets `lo` up in this network namespace unless it is already.
pub fn loopback_up() -> io::Result<Loopback> {
    let sock = inet_socket()?;
    let mut req = lo_request();
    ioctl_flags(&sock, libc::SIOCGIFFLAGS, &mut req)?;
    if req.flags & libc::IFF_UP as libc::c_short != 0 {
        return Ok(Loopback::AlreadyUp);
    }
    req.flags |= libc::IFF_UP as libc::c_short;
    ioctl_flags(&sock, libc::SIOCSIFFLAGS, &mut req)?;
    Ok(Loopback::BroughtUp)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// In a fresh network namespace (a forked child, so the test's own
    /// namespace is never touched) `lo` starts down; it comes up once, and
    /// a second call finds it up.
    #[test]
    fn brings_lo_up_in_a_new_network_namespace() {
        // SAFETY: geteuid cannot fail.
        if unsafe { libc::geteuid() } != 0 {
            // In CI a skip would hide a missing check.
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "a network namespace needs root, and CI=true does not allow skipping"
            );
            eprintln!("skipped: a network namespace needs root");
            return;
        }
        // SAFETY: the child only makes system calls and _exits.
        match unsafe { nix::unistd::fork() }.expect("fork") {
            nix::unistd::ForkResult::Child => {
                let code = (|| {
                    if nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET).is_err() {
                        return 10;
                    }
                    if loopback_is_up().ok() != Some(false) {
                        return 11;
                    }
                    if loopback_up().ok() != Some(Loopback::BroughtUp) {
                        return 12;
                    }
                    if loopback_is_up().ok() != Some(true) {
                        return 13;
                    }
                    if loopback_up().ok() != Some(Loopback::AlreadyUp) {
                        return 14;
                    }
                    0
                })();
                // SAFETY: _exit in the forked child.
                unsafe { libc::_exit(code) };
            }
            nix::unistd::ForkResult::Parent { child } => {
                let st = nix::sys::wait::waitpid(child, None).expect("waitpid");
                assert_eq!(
                    st,
                    nix::sys::wait::WaitStatus::Exited(child, 0),
                    "10: unshare failed, 11: lo not down at first, 12: not brought up, \
                     13: not up after, 14: second call did not find it up"
                );
            }
        }
    }
}
