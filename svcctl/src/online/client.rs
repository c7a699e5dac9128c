//! One connection to a manager: connect, send a request, read its reply.
//! Kept lean on purpose: `svcctl status NAME` is one connect, one request,
//! one reply.

use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use libnv::{NvList, UnpackOptions};
use libsvc::proto::{self, Answer, Failure, key};

/// Error codes of protocol.md that svcctl reacts to.
pub use libsvc::proto::code::{NO_SUCH_SERVICE, NOT_PERMITTED};

/// Why a request did not get a successful reply.
#[derive(Debug)]
pub enum ClientError {
    /// Could not connect; the text says what to do.
    Unreachable(String),
    /// The manager answered with an error.
    Refused { code: u64, text: String },
    /// No reply from the manager at `path` within `after`; `job_goes_on`
    /// when the manager had taken a job and only its end was not awaited.
    TimedOut {
        path: PathBuf,
        after: Duration,
        job_goes_on: bool,
    },
    /// The connection broke.
    Broken(String),
}

impl std::fmt::Display for ClientError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClientError::Unreachable(t) | ClientError::Broken(t) => f.write_str(t),
            ClientError::Refused { text, .. } => f.write_str(text),
            ClientError::TimedOut {
                path,
                after,
                job_goes_on,
            } => {
                write!(
                    f,
                    "no reply from the manager at {} within {} s",
                    path.display(),
                    after.as_secs_f64()
                )?;
                f.write_str(if *job_goes_on {
                    "; the job goes on (see svcctl status)"
                } else {
                    " (is it stuck? its log may say; --timeout 0 waits without a limit)"
                })
            }
        }
    }
}

/// The socket to talk to: --socket/SVC_SOCKET, else the user's or the
/// system's; `Err` says why a user's socket cannot be worked out.
pub fn socket_path(explicit: Option<&Path>, user: bool) -> Result<PathBuf, String> {
    if let Some(p) = explicit {
        return Ok(p.to_path_buf());
    }
    if !user {
        return Ok(PathBuf::from("/run/.svc-sock"));
    }
    // SAFETY: getuid cannot fail.
    let uid = unsafe { libc::getuid() };
    user_socket(
        std::env::var_os("XDG_RUNTIME_DIR").map(PathBuf::from),
        uid,
        user_name(uid).as_deref(),
        Path::new("/run/user"),
    )
}

/// `$XDG_RUNTIME_DIR/svc/sock`. Without the variable (a `su` or `ssh`
/// shell, or a host without a login manager, often lacks it) a login's
/// runtime directory stands in: `RUN_USER/UID` (what pam_systemd and
/// elogind make) or `RUN_USER/NAME` (what the shipped `user@.ini` gives
/// the manager the root manager runs for NAME); the first holding a
/// socket, else the first that exists. Else the error says what to set.
pub fn user_socket(
    xdg_runtime_dir: Option<PathBuf>,
    uid: u32,
    name: Option<&str>,
    run_user: &Path,
) -> Result<PathBuf, String> {
    // An empty or relative value counts as unset (XDG base directory spec).
    if let Some(dir) = xdg_runtime_dir.filter(|d| d.is_absolute()) {
        return Ok(dir.join("svc").join("sock"));
    }
    let mut dirs = vec![run_user.join(uid.to_string())];
    // A name that is all digits could be another user's uid.
    if let Some(n) =
        name.filter(|n| !n.is_empty() && !n.bytes().all(|b| b.is_ascii_digit()) && !n.contains('/'))
    {
        dirs.push(run_user.join(n));
    }
    let socket = |d: &PathBuf| d.join("svc").join("sock");
    if let Some(d) = dirs.iter().find(|d| socket(d).exists()) {
        return Ok(socket(d));
    }
    if let Some(d) = dirs.iter().find(|d| d.is_dir()) {
        return Ok(socket(d));
    }
    let missing = match &dirs[..] {
        [a, b] => format!("neither {} nor {} exists", a.display(), b.display()),
        _ => format!("{} does not exist", dirs[0].display()),
    };
    let mut e = format!(
        "--user: XDG_RUNTIME_DIR is not set and {missing}; set XDG_RUNTIME_DIR to the directory your svc-manager --user runs with, or give --socket PATH"
    );
    if uid == 0 {
        e.push_str(" (as root, leave out --user to reach the system manager)");
    }
    Err(e)
}

/// The login name of `uid` from the user database, if it has one.
fn user_name(uid: u32) -> Option<String> {
    nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid))
        .ok()
        .flatten()
        .map(|u| u.name)
}

pub struct Client {
    sock: UnixStream,
    path: PathBuf,
    next_id: u64,
}

/// A connection to `path`, waiting at most `timeout` for the manager to
/// take it (a manager that stops accepting leaves connections queued).
fn connect_within(path: &Path, timeout: Option<Duration>) -> std::io::Result<UnixStream> {
    use nix::sys::socket::{AddressFamily, SockFlag, SockType, UnixAddr, connect, socket};
    let addr = UnixAddr::new(path)?;
    let fd = socket(
        AddressFamily::Unix,
        SockType::Stream,
        SockFlag::SOCK_CLOEXEC,
        None,
    )?;
    let sock = UnixStream::from(fd);
    // SO_SNDTIMEO bounds a Unix socket's connect (a full backlog) and then
    // the request's write.
    sock.set_write_timeout(timeout)?;
    connect(sock.as_raw_fd(), &addr)?;
    Ok(sock)
}

impl Client {
    /// Connects; `timeout` bounds the wait for the manager to take the
    /// connection (None: no bound).
    pub fn connect(
        path: &Path,
        user: bool,
        timeout: Option<Duration>,
    ) -> Result<Client, ClientError> {
        match connect_within(path, timeout) {
            Ok(sock) => Ok(Client {
                sock,
                path: path.to_path_buf(),
                next_id: 1,
            }),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => Err(ClientError::TimedOut {
                path: path.to_path_buf(),
                after: timeout.unwrap_or_default(),
                job_goes_on: false,
            }),
            Err(e) => {
                let hint = match e.kind() {
                    std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused => {
                        if user && std::env::var_os("XDG_RUNTIME_DIR").is_none() {
                            "no user manager running? (XDG_RUNTIME_DIR is not set: start svc-manager --user with the same XDG_RUNTIME_DIR, or set it here)".to_string()
                        } else if user {
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
        proto::message(id, method, false)
    }

    pub fn send(&mut self, req: &NvList) -> Result<(), ClientError> {
        let Err(e) = req.send(&self.sock) else {
            return Ok(());
        };
        if let libnv::Error::Io { source, .. } = &e
            && source.kind() == std::io::ErrorKind::WouldBlock
        {
            // SO_SNDTIMEO ran out: the manager is not reading.
            let after = self.sock.write_timeout().ok().flatten();
            return Err(self.timed_out(after.unwrap_or_default(), false));
        }
        // A manager that refuses a connection (over its limits) says why
        // before it closes it: that reason beats "broken pipe".
        let _ = self.sock.set_read_timeout(Some(Duration::from_millis(100)));
        if let Ok(said) = NvList::recv(&self.sock, &UnpackOptions::default()) {
            Self::judge(said, 0)?;
        }
        Err(self.broken(e))
    }

    fn timed_out(&self, after: Duration, job_goes_on: bool) -> ClientError {
        ClientError::TimedOut {
            path: self.path.clone(),
            after,
            job_goes_on,
        }
    }

    /// The next message (a reply or an event), waiting up to `timeout`.
    pub fn receive(&mut self, timeout: Option<Duration>) -> Result<NvList, ClientError> {
        let deadline = timeout.map(|t| Instant::now() + t);
        self.receive_until(deadline)
            .map_err(|e| e.unwrap_or_else(|| self.timed_out(timeout.unwrap_or_default(), false)))
    }

    /// The next message, by `deadline`. Err(None): the deadline passed.
    fn receive_until(&mut self, deadline: Option<Instant>) -> Result<NvList, Option<ClientError>> {
        if let Some(deadline) = deadline {
            loop {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(None);
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
            // The rest of the message must come by the deadline too.
            let left = deadline.saturating_duration_since(Instant::now());
            let _ = self
                .sock
                .set_read_timeout(Some(left.max(Duration::from_millis(1))));
        } else {
            let _ = self.sock.set_read_timeout(None);
        }
        match NvList::recv(&self.sock, &UnpackOptions::default()) {
            Ok(m) => Ok(m),
            Err(libnv::Error::Io { source, .. })
                if matches!(
                    source.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                Err(None)
            }
            Err(e) => Err(Some(self.broken(e))),
        }
    }

    /// What a reply says: Ok(Some) the successful reply to `id`, Err its
    /// failure, Ok(None) a message for someone else. An error reply with
    /// id 0 answers whatever was sent (a refused connection says why so).
    fn judge(reply: NvList, id: u64) -> Result<Option<NvList>, ClientError> {
        let answer = Answer::from_nvlist(&reply);
        if !answer.reply {
            return Ok(None);
        }
        let rid = answer.id;
        if rid != Some(id) && !(rid == Some(0) && answer.error.is_some()) {
            return Ok(None);
        }
        if let Some(Failure { code, text }) = answer.error {
            return Err(ClientError::Refused { code, text });
        }
        Ok(Some(reply))
    }

    /// Sends `req` and returns its successful reply, waiting up to `timeout`.
    pub fn call(&mut self, req: NvList, timeout: Option<Duration>) -> Result<NvList, ClientError> {
        let id = req.get_number(key::ID).unwrap_or(0);
        self.send(&req)?;
        drop(req);
        let deadline = timeout.map(|t| Instant::now() + t);
        loop {
            let reply = self.receive_until(deadline).map_err(|e| {
                e.unwrap_or_else(|| self.timed_out(timeout.unwrap_or_default(), false))
            })?;
            if let Some(r) = Self::judge(reply, id)? {
                return Ok(r);
            }
        }
    }

    /// Sends a job request `req` that is answered when the job ends, and
    /// right behind it `probe`, a request answered at once. The probe's
    /// answer shows the manager has taken the job: it must come within
    /// `ack`; the job's own reply within `whole` (None: as long as the job
    /// takes, which its services' timeouts bound).
    pub fn call_job(
        &mut self,
        req: NvList,
        probe: NvList,
        ack: Option<Duration>,
        whole: Option<Duration>,
    ) -> Result<NvList, ClientError> {
        let id = req.get_number(key::ID).unwrap_or(0);
        let probe_id = probe.get_number(key::ID).unwrap_or(0);
        self.send(&req)?;
        self.send(&probe)?;
        drop((req, probe));
        let began = Instant::now();
        let whole_by = whole.map(|t| began + t);
        let ack_by = ack.map(|t| began + t);
        let mut acked = false;
        loop {
            let by = match (acked, ack_by, whole_by) {
                (false, Some(a), Some(w)) => Some(a.min(w)),
                (false, Some(a), None) => Some(a),
                (_, _, w) => w,
            };
            let reply = match self.receive_until(by) {
                Ok(r) => r,
                Err(Some(e)) => return Err(e),
                Err(None) => {
                    let whole_first = whole_by.is_some_and(|w| by == Some(w));
                    return Err(if whole_first {
                        self.timed_out(whole.unwrap_or_default(), acked)
                    } else {
                        self.timed_out(ack.unwrap_or_default(), false)
                    });
                }
            };
            let answer = Answer::from_nvlist(&reply);
            if answer.reply && answer.id == Some(probe_id) {
                acked = true;
                continue;
            }
            if let Some(r) = Self::judge(reply, id)? {
                return Ok(r);
            }
        }
    }

    fn broken(&self, e: libnv::Error) -> ClientError {
        ClientError::Broken(format!("{}: {e}", self.path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_socket_prefers_xdg_then_a_login_directory() {
        let run_user = std::env::temp_dir().join(format!("svcctl-run-user-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&run_user);
        std::fs::create_dir_all(run_user.join("1000")).unwrap();
        std::fs::create_dir_all(run_user.join("alice/svc")).unwrap();
        std::fs::create_dir_all(run_user.join("bob")).unwrap();
        std::fs::create_dir_all(run_user.join("1002")).unwrap();
        let found = |xdg: Option<&str>, uid, name| {
            user_socket(xdg.map(PathBuf::from), uid, name, &run_user)
        };
        assert_eq!(
            found(Some("/r/u"), 1000, Some("alice")).unwrap(),
            PathBuf::from("/r/u/svc/sock")
        );
        assert_eq!(
            found(None, 1000, Some("carol")).unwrap(),
            run_user.join("1000/svc/sock"),
            "the login's runtime directory by uid stands in"
        );
        assert_eq!(
            found(Some("relative"), 1000, None).unwrap(),
            run_user.join("1000/svc/sock"),
            "a relative value counts as unset"
        );
        assert_eq!(
            found(None, 1001, Some("bob")).unwrap(),
            run_user.join("bob/svc/sock"),
            "then the one by name"
        );
        std::fs::write(run_user.join("alice/svc/sock"), "").unwrap();
        assert_eq!(
            found(None, 1000, Some("alice")).unwrap(),
            run_user.join("alice/svc/sock"),
            "the one that holds a socket wins"
        );
        let e = found(None, 1003, Some("1002")).unwrap_err();
        assert!(e.contains("XDG_RUNTIME_DIR is not set"), "{e}");
        assert!(
            e.contains(&run_user.join("1003").display().to_string()),
            "{e}"
        );
        assert!(!e.contains("as root"), "{e}");
        let e = found(None, 1003, Some("../x")).unwrap_err();
        assert!(!e.contains("../x"), "{e}");
        let e = found(Some(""), 0, Some("root")).unwrap_err();
        assert!(e.contains("leave out --user"), "{e}");
        assert!(
            e.contains(&run_user.join("root").display().to_string()),
            "{e}"
        );
        std::fs::remove_dir_all(&run_user).unwrap();
    }

    #[test]
    fn user_name_comes_from_the_user_database() {
        assert_eq!(user_name(0).as_deref(), Some("root"));
    }
}
