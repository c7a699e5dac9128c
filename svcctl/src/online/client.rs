//! One connection to a manager: connect, send a request, read its reply.
//! Kept lean on purpose: `svcctl status NAME` is one connect, one request,
//! one reply.

use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use libnv::{NvList, UnpackOptions};

/// Error codes of protocol.md that svcctl reacts to.
pub const NOT_PERMITTED: u64 = 5;
pub const NO_SUCH_SERVICE: u64 = 6;

/// Why a request did not get a successful reply.
#[derive(Debug)]
pub enum ClientError {
    /// Could not connect; the text says what to do.
    Unreachable(String),
    /// The manager answered with an error.
    Refused { code: u64, text: String },
    /// No reply within the time asked for.
    TimedOut,
    /// The connection broke.
    Broken(String),
}

impl std::fmt::Display for ClientError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClientError::Unreachable(t) | ClientError::Broken(t) => f.write_str(t),
            ClientError::Refused { text, .. } => f.write_str(text),
            ClientError::TimedOut => f.write_str(
                "timed out waiting for the manager; the operation goes on (see svcctl status)",
            ),
        }
    }
}

/// The socket to talk to: --socket/SVC_SOCKET, else the user's or the
/// system's.
pub fn socket_path(explicit: Option<&Path>, user: bool) -> PathBuf {
    if let Some(p) = explicit {
        return p.to_path_buf();
    }
    if user {
        if let Some(dir) = std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()) {
            return PathBuf::from(dir).join("svc").join("sock");
        }
        // SAFETY: getuid cannot fail.
        let uid = unsafe { libc::getuid() };
        return PathBuf::from(format!("/run/user/{uid}/svc/sock"));
    }
    PathBuf::from("/run/.svc-sock")
}

pub struct Client {
    sock: UnixStream,
    path: PathBuf,
    next_id: u64,
}

impl Client {
    pub fn connect(path: &Path, user: bool) -> Result<Client, ClientError> {
        match UnixStream::connect(path) {
            Ok(sock) => Ok(Client {
                sock,
                path: path.to_path_buf(),
                next_id: 1,
            }),
            Err(e) => {
                let hint = match e.kind() {
                    std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused => {
                        if user {
                            "no user manager running? (start svc-manager --user)".to_string()
                        } else {
                            "no manager running? (start svc-manager, or use --user)".to_string()
                        }
                    }
                    std::io::ErrorKind::PermissionDenied => {
                        "permission denied (is it another user's manager?)".to_string()
                    }
                    _ => e.to_string(),
                };
                Err(ClientError::Unreachable(format!(
                    "cannot reach {}: {hint}",
                    path.display()
                )))
            }
        }
    }

    /// A request with its envelope; the caller adds arguments.
    pub fn request(&mut self, method: &str) -> NvList {
        let id = self.next_id;
        self.next_id += 1;
        let mut l = NvList::new();
        // Fixed, distinct names on an empty list: cannot fail.
        let _ = l.add_number("ipc:version", 1);
        let _ = l.add_number("ipc:id", id);
        let _ = l.add_string("ipc:method", method);
        let _ = l.add_bool("ipc:reply", false);
        l
    }

    pub fn send(&mut self, req: &NvList) -> Result<(), ClientError> {
        req.send(&self.sock).map_err(|e| self.broken(e))
    }

    /// The next message (a reply or an event), waiting up to `timeout`.
    pub fn receive(&mut self, timeout: Option<Duration>) -> Result<NvList, ClientError> {
        if let Some(t) = timeout {
            let deadline = Instant::now() + t;
            loop {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(ClientError::TimedOut);
                }
                let mut pfd = libc::pollfd {
                    fd: self.sock.as_raw_fd(),
                    events: libc::POLLIN,
                    revents: 0,
                };
                let ms = left.as_millis().min(i32::MAX as u128) as i32;
                // SAFETY: one valid pollfd.
                let r = unsafe { libc::poll(&mut pfd, 1, ms.max(1)) };
                if r > 0 {
                    break;
                }
            }
        }
        NvList::recv(&self.sock, &UnpackOptions::default()).map_err(|e| self.broken(e))
    }

    /// Sends `req` and returns its successful reply.
    pub fn call(&mut self, req: NvList, timeout: Option<Duration>) -> Result<NvList, ClientError> {
        let id = req.get_number("ipc:id").unwrap_or(0);
        self.send(&req)?;
        drop(req);
        loop {
            let reply = self.receive(timeout)?;
            if reply.get_bool("ipc:reply") != Some(true) || reply.get_number("ipc:id") != Some(id) {
                continue;
            }
            if let Some(code) = reply.get_number("ipc:error_code") {
                let text = reply.get_str("ipc:error").unwrap_or("failed").to_owned();
                return Err(ClientError::Refused { code, text });
            }
            return Ok(reply);
        }
    }

    fn broken(&self, e: libnv::Error) -> ClientError {
        ClientError::Broken(format!("{}: {e}", self.path.display()))
    }
}
