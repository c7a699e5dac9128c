//! Readiness channels that the service writes to: an s6-style notify pipe
//! (a line on fd N) and an sd_notify datagram socket with sender
//! credentials (SO_PASSCRED), so that only the main process is believed.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use crate::sys;

/// What an sd_notify datagram asked for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Notice {
    pub ready: bool,
    pub stopping: bool,
    pub main_pid: Option<i32>,
    /// Range of the STATUS= text in the datagram buffer.
    pub status: Option<(usize, usize)>,
}

/// Parses `KEY=VALUE` lines of an sd_notify datagram.
pub fn parse_notice(msg: &[u8]) -> Notice {
    let mut n = Notice::default();
    let mut offset = 0;
    for line in msg.split(|&b| b == b'\n') {
        let start = offset;
        offset += line.len() + 1;
        if line == b"READY=1" {
            n.ready = true;
        } else if line == b"STOPPING=1" {
            n.stopping = true;
        } else if let Some(pid) = line.strip_prefix(b"MAINPID=") {
            n.main_pid = std::str::from_utf8(pid)
                .ok()
                .and_then(|p| p.parse::<i32>().ok())
                .filter(|&p| p > 0);
        } else if line.starts_with(b"STATUS=") {
            n.status = Some((start + 7, start + line.len()));
        }
    }
    n
}

/// The per-service `$NOTIFY_SOCKET`: an abstract datagram socket, so it
/// needs no directory and is reachable from a chroot.
pub struct SdNotify {
    fd: OwnedFd,
    /// `@svc-notify/PID/NAME`, the value of NOTIFY_SOCKET.
    pub address: String,
}

impl SdNotify {
    pub fn bind(name: &str) -> Result<SdNotify, String> {
        // SAFETY: getpid has no arguments.
        let pid = unsafe { libc::getpid() };
        let address = format!("@svc-notify/{pid}/{name}");
        // SAFETY: sockaddr_un is plain data.
        let mut addr: libc::sockaddr_un = unsafe { std::mem::zeroed() };
        let bytes = address.as_bytes();
        if bytes.len() >= addr.sun_path.len() {
            return Err(format!("notify socket name too long: {address}"));
        }
        addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
        // Abstract: a leading NUL instead of '@'.
        for (d, s) in addr.sun_path.iter_mut().zip(bytes).skip(1) {
            *d = *s as libc::c_char;
        }
        let len = (std::mem::size_of::<libc::sa_family_t>() + bytes.len()) as libc::socklen_t;
        // SAFETY: socket takes no pointers.
        let fd = unsafe {
            libc::socket(
                libc::AF_UNIX,
                libc::SOCK_DGRAM | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK,
                0,
            )
        };
        if fd < 0 {
            return Err(format!("notify socket: {}", sys::last_error()));
        }
        // SAFETY: a fresh fd nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        let one: libc::c_int = 1;
        // SAFETY: option value is a valid c_int; addr is valid for len bytes.
        let ok = unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_PASSCRED,
                (&one as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            ) == 0
                && libc::bind(
                    fd.as_raw_fd(),
                    (&addr as *const libc::sockaddr_un).cast(),
                    len,
                ) == 0
        };
        if !ok {
            return Err(format!("notify socket {address}: {}", sys::last_error()));
        }
        Ok(SdNotify { fd, address })
    }

    pub fn fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// Receives one datagram into `buf`: (length, sender pid). Datagrams
    /// without credentials report pid 0.
    pub fn recv(&self, buf: &mut [u8]) -> Option<(usize, i32)> {
        let mut iov = libc::iovec {
            iov_base: buf.as_mut_ptr().cast(),
            iov_len: buf.len(),
        };
        // Room for one ucred and, should a sender attach any, a few fds.
        let mut control = [0u64; 16];
        // SAFETY: msghdr is plain data.
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = std::mem::size_of_val(&control) as _;
        // SAFETY: msg points at valid buffers for their stated sizes.
        let n = unsafe {
            libc::recvmsg(
                self.fd.as_raw_fd(),
                &mut msg,
                libc::MSG_DONTWAIT | libc::MSG_CMSG_CLOEXEC | libc::MSG_TRUNC,
            )
        };
        if n < 0 {
            return None;
        }
        let mut pid = 0;
        // SAFETY: walking the control buffer the kernel filled, with the
        // CMSG_* helpers that bound every access by msg_controllen.
        unsafe {
            let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
            while !cmsg.is_null() {
                let data = libc::CMSG_DATA(cmsg);
                if (*cmsg).cmsg_level == libc::SOL_SOCKET {
                    if (*cmsg).cmsg_type == libc::SCM_CREDENTIALS {
                        let cred: libc::ucred = std::ptr::read_unaligned(data.cast());
                        pid = cred.pid;
                    } else if (*cmsg).cmsg_type == libc::SCM_RIGHTS {
                        // Nobody should send us fds here: close them.
                        let count = ((*cmsg).cmsg_len as usize - libc::CMSG_LEN(0) as usize)
                            / std::mem::size_of::<RawFd>();
                        for i in 0..count {
                            let fd: RawFd = std::ptr::read_unaligned(data.cast::<RawFd>().add(i));
                            libc::close(fd);
                        }
                    }
                }
                cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
            }
        }
        Some(((n as usize).min(buf.len()), pid))
    }
}

/// The s6-style notification pipe of one run of the service.
pub struct NotifyPipe {
    pub read: OwnedFd,
}

/// What a read of the notification pipe found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PipeNews {
    /// A newline: the service is ready.
    Ready,
    /// Bytes without a newline, or nothing yet.
    Nothing,
    /// The service closed its end without a newline.
    Closed,
}

impl NotifyPipe {
    /// Reads what is there.
    pub fn poll_ready(&self) -> PipeNews {
        let mut buf = [0u8; 256];
        match sys::read(self.read.as_raw_fd(), &mut buf) {
            Ok(0) => PipeNews::Closed,
            Ok(n) if buf[..n].contains(&b'\n') => PipeNews::Ready,
            Ok(_) => PipeNews::Nothing,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => PipeNews::Nothing,
            Err(_) => PipeNews::Closed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notices() {
        let msg = b"STATUS=warming up\nREADY=1\nMAINPID=42";
        let n = parse_notice(msg);
        assert!(n.ready && !n.stopping);
        assert_eq!(n.main_pid, Some(42));
        let (a, b) = n.status.unwrap();
        assert_eq!(&msg[a..b], b"warming up");
        assert!(parse_notice(b"STOPPING=1").stopping);
        assert_eq!(parse_notice(b"READY=0\nMAINPID=x"), Notice::default());
    }
}
