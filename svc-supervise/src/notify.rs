//! Readiness channels that the service writes to: an s6-style notify pipe
//! (a line on fd N) and an sd_notify datagram socket with sender
//! credentials (SO_PASSCRED), so that only the main process is believed.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

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

/// The per-service `$NOTIFY_SOCKET`: a socket file in a directory of its
/// own that only the service's user can reach (an abstract name is public
/// in /proc/net/unix and anyone could flood it). Removed with the
/// supervisor.
pub struct SdNotify {
    fd: OwnedFd,
    /// The socket's path, the value of NOTIFY_SOCKET.
    pub address: String,
    dir: PathBuf,
    /// The directory is ours to remove, and so is its parent (mkdtemp).
    temporary: bool,
}

/// Where the supervisor's sd_notify directory goes: under the runtime root
/// the manager gives (`ROOT/svc-notify/NAME`), else next to the control
/// socket (`DIR/NAME.notify`), else a fresh `mkdtemp` directory.
pub fn notify_dir(
    name: &str,
    runtime_root: Option<&Path>,
    control: Option<&Path>,
) -> Result<(PathBuf, bool), String> {
    if let Some(root) = runtime_root {
        let base = root.join("svc-notify");
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(&base)
            .map_err(|e| format!("{}: {e}", base.display()))?;
        // Others must not be able to swap our directory for theirs.
        let meta =
            std::fs::symlink_metadata(&base).map_err(|e| format!("{}: {e}", base.display()))?;
        let me = nix::unistd::geteuid().as_raw();
        if !meta.is_dir() || meta.uid() != me || meta.mode() & 0o022 != 0 {
            return Err(format!(
                "{}: not a directory of uid {me} closed to others",
                base.display()
            ));
        }
        return Ok((base.join(name), false));
    }
    if let Some(dir) = control.and_then(Path::parent) {
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        return Ok((dir.join(format!("{name}.notify")), false));
    }
    let template = std::env::temp_dir().join("svc-notify.XXXXXX");
    let parent =
        nix::unistd::mkdtemp(&template).map_err(|e| format!("notify directory: mkdtemp: {e}"))?;
    Ok((parent.join(name), true))
}

impl SdNotify {
    /// Binds `DIR/notify` in a fresh `dir` (mode 0700, root's until
    /// [`SdNotify::give_to`]); whatever was left at `dir` is replaced.
    pub fn bind(dir: PathBuf, temporary: bool) -> Result<SdNotify, String> {
        let fail = |e: std::io::Error| format!("notify directory {}: {e}", dir.display());
        match std::fs::symlink_metadata(&dir) {
            Ok(m) if m.is_dir() => std::fs::remove_dir_all(&dir).map_err(fail)?,
            Ok(_) => std::fs::remove_file(&dir).map_err(fail)?,
            Err(_) => {}
        }
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&dir)
            .map_err(fail)?;
        match bind_in(&dir) {
            Ok((fd, address)) => Ok(SdNotify {
                fd,
                address,
                dir,
                temporary,
            }),
            Err(e) => {
                let _ = std::fs::remove_dir_all(&dir);
                Err(e)
            }
        }
    }

    /// Hands socket and directory to the service's user. The socket first:
    /// once the directory is theirs they could put a symlink in its place.
    pub fn give_to(&self, uid: libc::uid_t, gid: libc::gid_t) -> Result<(), String> {
        let path = self.dir.join("notify");
        std::os::unix::fs::lchown(&path, Some(uid), Some(gid))
            .and_then(|()| std::os::unix::fs::chown(&self.dir, Some(uid), Some(gid)))
            .map_err(|e| format!("notify socket {}: {e}", path.display()))
    }

    pub fn fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// Receives one datagram into `buf`: (length, sender pid, sender uid).
    /// Datagrams without credentials report pid 0 and uid `uid_t::MAX`.
    ///
    /// Not nix's recvmsg: the fds a sender may attach come back from it as
    /// a Vec, an allocation in the loop.
    pub fn recv(&self, buf: &mut [u8]) -> Option<(usize, i32, libc::uid_t)> {
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
        let mut uid = libc::uid_t::MAX;
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
                        uid = cred.uid;
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
        Some(((n as usize).min(buf.len()), pid, uid))
    }
}

/// Binds `dir/notify` (mode 0600, in `dir` made 0700): the fd and path.
fn bind_in(dir: &Path) -> Result<(OwnedFd, String), String> {
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
        .map_err(|e| format!("notify directory {}: {e}", dir.display()))?;
    let path = dir.join("notify");
    let address = path
        .to_str()
        .ok_or_else(|| format!("notify socket {}: not UTF-8", path.display()))?
        .to_owned();
    // SAFETY: sockaddr_un is plain data.
    let mut addr: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    let bytes = address.as_bytes();
    if bytes.len() >= addr.sun_path.len() {
        return Err(format!(
            "notify socket path too long: {address} (at most {} bytes)",
            addr.sun_path.len() - 1
        ));
    }
    addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
    for (d, s) in addr.sun_path.iter_mut().zip(bytes) {
        *d = *s as libc::c_char;
    }
    let len = (std::mem::size_of::<libc::sa_family_t>() + bytes.len() + 1) as libc::socklen_t;
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
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok((fd, address))
}

impl Drop for SdNotify {
    fn drop(&mut self) {
        // remove_dir_all does not follow symlinks the service put there.
        let _ = std::fs::remove_dir_all(&self.dir);
        if self.temporary
            && let Some(parent) = self.dir.parent()
        {
            let _ = std::fs::remove_dir(parent);
        }
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
