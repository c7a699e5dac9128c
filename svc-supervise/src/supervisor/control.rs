//! The control side of the supervisor: the manager's socket and the
//! control socket's clients, their requests (protocol.md, as libsvc's
//! `proto` defines them), the status replies and events, and the
//! manager's first message, the declaration.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;

use libnv::{NvView, RecvStatus};
use libsvc::proto::{
    self, Envelope, EnvelopeError, ErrorReply, Names, Report, StatusRef, code, method,
};

use super::{
    IDLE_TIMEOUT_MS, MAX_BACKLOG, MAX_CLIENTS, MAX_DECLARATION, MAX_REQUEST, MESSAGE_TIMEOUT_MS,
    Supervisor,
};
use crate::ipc::{self, Conn};
use crate::spec::Spec;
use crate::sys::{self, ExitStatus};
use crate::table::{Event, State, Want};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Peer {
    Manager,
    Client(usize),
}

/// Appends an error reply; one that does not fit is dropped.
fn refuse(out: &mut Vec<u8>, id: u64, method: &str, code: u64, text: &str) {
    let _ = ErrorReply {
        id,
        method,
        code,
        text,
    }
    .write(out);
}

impl Supervisor {
    /// When a client's partial message or idleness runs out (ms).
    pub(super) fn client_deadlines(&self) -> impl Iterator<Item = u64> + '_ {
        let idle = self
            .clients
            .iter()
            .filter(|c| c.is_open() && !c.attached)
            .map(|c| c.last_active + IDLE_TIMEOUT_MS);
        self.clients
            .iter()
            .chain(std::iter::once(&self.manager))
            .filter_map(|c| c.partial_since.map(|t| t + MESSAGE_TIMEOUT_MS))
            .chain(idle)
    }

    /// Closes the peers whose deadlines passed.
    pub(super) fn expire_clients(&mut self, now: u64) {
        for c in &mut self.clients {
            let stalled = c
                .partial_since
                .is_some_and(|t| t + MESSAGE_TIMEOUT_MS <= now);
            let idle = c.is_open() && !c.attached && c.last_active + IDLE_TIMEOUT_MS <= now;
            if stalled || idle {
                c.close();
            }
        }
        if self
            .manager
            .partial_since
            .is_some_and(|t| t + MESSAGE_TIMEOUT_MS <= now)
        {
            self.drop_manager();
        }
    }

    pub(super) fn accept_clients(&mut self) {
        let Some((listener, _)) = &self.listener else {
            return;
        };
        let lfd = listener.as_raw_fd();
        loop {
            // SAFETY: accept4 with null address pointers.
            let fd = unsafe {
                libc::accept4(
                    lfd,
                    std::ptr::null_mut(),
                    std::ptr::null_mut(),
                    libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK,
                )
            };
            if fd < 0 {
                return;
            }
            // SAFETY: a fresh fd nothing else owns.
            let fd = unsafe { OwnedFd::from_raw_fd(fd) };
            let now = sys::monotonic_ms();
            let slot = match self.clients.iter().position(|c| !c.is_open()) {
                Some(i) => Some(i),
                None if self.clients.len() < MAX_CLIENTS => {
                    self.clients.push(Conn::new(MAX_REQUEST));
                    Some(self.clients.len() - 1)
                }
                // Full: the oldest client that is not attached makes room,
                // so that idle connections cannot lock out a manager
                // coming to attach. Attached ones are never evicted.
                None => self
                    .clients
                    .iter()
                    .enumerate()
                    .filter(|(_, c)| !c.attached)
                    .min_by_key(|(_, c)| c.last_active)
                    .map(|(i, _)| i),
            };
            // No slot at all (every client attached): dropping `fd` closes it.
            if let Some(i) = slot {
                let conn = &mut self.clients[i];
                conn.close();
                conn.fd = Some(fd);
                conn.last_active = now;
            }
        }
    }

    pub(super) fn drop_manager(&mut self) {
        self.manager.close();
    }

    pub(super) fn on_manager(&mut self, revents: i16) {
        if !self.serve(Peer::Manager, revents) {
            // The service keeps running; a new manager may attach on the
            // control socket.
            self.drop_manager();
        }
    }

    pub(super) fn on_client(&mut self, i: usize, revents: i16) {
        if !self.serve(Peer::Client(i), revents) {
            self.clients[i].close();
        }
    }

    fn conn(&mut self, peer: Peer) -> &mut Conn {
        match peer {
            Peer::Manager => &mut self.manager,
            Peer::Client(i) => &mut self.clients[i],
        }
    }

    /// Reads, answers and writes for one connection. False: close it.
    fn serve(&mut self, peer: Peer, revents: i16) -> bool {
        if revents & libc::POLLOUT != 0 && !self.conn(peer).flush() {
            return false;
        }
        if revents & (libc::POLLIN | libc::POLLHUP | libc::POLLERR) == 0 {
            return true;
        }
        // The receiver is lent out while its messages are answered, so
        // that events caused by a request still reach this peer.
        let Some(mut rx) = self.conn(peer).rx.take() else {
            return false;
        };
        let mut keep = true;
        let mut open = true;
        while keep && open {
            // A request may have closed this peer (an event it could not take).
            let got = match &self.conn(peer).fd {
                Some(fd) => rx.recv_from(fd),
                None => break,
            };
            let more = match got {
                Ok(RecvStatus::Data(_)) => true,
                Ok(RecvStatus::WouldBlock) => false,
                Ok(RecvStatus::Eof) => {
                    open = false;
                    false
                }
                Err(_) => {
                    keep = false;
                    break;
                }
            };
            loop {
                let mut reply = std::mem::take(&mut self.reply_buf);
                reply.clear();
                // None: no complete message; Some(None): one that is not
                // an nvlist; Some(Some(attach)): answered.
                let got = match rx.next_message() {
                    Ok(Some(msg)) => Some(Some(self.answer(msg.view(), &mut reply))),
                    Ok(None) => None,
                    Err(_) => Some(None),
                };
                let attach = match got {
                    Some(Some(attach)) => attach,
                    Some(None) if !rx.is_broken() => {
                        // Framed, but not an nvlist: said, and the stream goes on.
                        refuse(
                            &mut reply,
                            0,
                            "",
                            code::INVALID_ENVELOPE,
                            "not a valid nvlist",
                        );
                        false
                    }
                    Some(None) => {
                        keep = false;
                        self.reply_buf = reply;
                        break;
                    }
                    None => {
                        self.reply_buf = reply;
                        break;
                    }
                };
                let conn = self.conn(peer);
                if conn.is_open() {
                    conn.queue(&reply);
                    conn.attached |= attach;
                    conn.last_active = sys::monotonic_ms();
                }
                self.reply_buf = reply;
            }
            if !more {
                break;
            }
        }
        let now = sys::monotonic_ms();
        let partial = rx.has_partial();
        let conn = self.conn(peer);
        conn.partial_since = if partial {
            conn.partial_since.or(Some(now))
        } else {
            None
        };
        conn.rx = Some(rx);
        if !conn.is_open() || !conn.flush() || conn.tx.pending() > MAX_BACKLOG {
            return false;
        }
        keep && open
    }

    /// Answers one request into `out`. True when the connection asked for events.
    fn answer(&mut self, msg: NvView, out: &mut Vec<u8>) -> bool {
        let req = match proto::parse_request(msg) {
            Ok(r) => r,
            Err(EnvelopeError { id, code, text }) => {
                refuse(out, id, "", code, text);
                return false;
            }
        };
        let (id, method) = (req.id, req.method);
        let refusal = match Names::from_view(&req.args) {
            Ok(names) if names.includes(&self.spec.name) => None,
            Ok(_) => Some((code::NO_SUCH_SERVICE, "no such service")),
            // As the manager answers it, so that svcctl sees one behaviour.
            Err(e) => Some((e.code, e.text)),
        };
        if let Some((c, text)) = refusal {
            refuse(out, id, method, c, text);
            return false;
        }
        let mut attach = false;
        let result: Result<(), (u64, &str)> = match method {
            method::STATUS => Ok(()),
            method::START => {
                self.feed(Event::WantUp);
                Ok(())
            }
            method::ONCE => {
                self.feed(Event::WantOnce);
                Ok(())
            }
            method::STOP => {
                self.feed(Event::WantDown);
                Ok(())
            }
            method::RESTART => {
                self.feed(Event::WantRestart);
                Ok(())
            }
            method::KILL => self.kill_request(&req.args),
            method::RELOAD => {
                if self.main_pid > 0 {
                    let _ = sys::kill(self.main_pid, self.spec.reload_signal);
                    Ok(())
                } else {
                    Err((code::FAILED, "the service is not running"))
                }
            }
            method::EXIT => {
                self.request_exit();
                Ok(())
            }
            method::ATTACH => {
                attach = true;
                Ok(())
            }
            method::DECLARE => Err((code::FAILED, "the service is already declared")),
            _ => Err((code::UNKNOWN_METHOD, "unknown method")),
        };
        match result {
            Ok(()) => {
                if self.write_status(out, Envelope::reply(id, method)).is_err() {
                    out.clear();
                    refuse(out, id, method, code::FAILED, "reply too large");
                }
            }
            Err((c, text)) => refuse(out, id, method, c, text),
        }
        attach
    }

    fn kill_request(&mut self, args: &NvView) -> Result<(), (u64, &'static str)> {
        let signal = proto::kill_signal(args).map_err(|e| (e.code, e.text))?;
        if !self.life.state.has_process() || (self.main_pid == 0 && self.pgid == 0) {
            return Err((code::FAILED, "the service is not running"));
        }
        // Marked wanted-down before the signal lands, so its death is
        // never answered with a respawn.
        self.feed(Event::Killed);
        self.signal_service(signal);
        Ok(())
    }

    /// The status of protocol.md, borrowed from the supervisor's state.
    fn status(&self) -> StatusRef<'_> {
        // `reason` says why a service is not up (cli.md): a crash that was
        // followed by a successful restart is history, kept in
        // `last_exit_*` and `restarts`.
        let not_up = matches!(
            self.life.state,
            State::Down | State::Backoff | State::Failed
        );
        StatusRef {
            state: self.life.state.name(),
            pid: self.main_pid.max(0) as u64,
            since: self.since_unix.max(0) as u64,
            restarts: self.life.restarts,
            last_exit_status: match self.last_exit {
                Some(ExitStatus::Code(c)) => Some(c as u64),
                _ => None,
            },
            last_exit_signal: match self.last_exit {
                Some(ExitStatus::Signal(s)) => Some(s as u64),
                _ => None,
            },
            wanted: if self.life.want == Want::Down {
                "down"
            } else {
                "up"
            },
            reason: if not_up {
                self.life.reason.text()
            } else {
                None
            },
            status_text: (self.status_len > 0).then(|| &self.status_text[..self.status_len]),
        }
    }

    fn write_status(&self, out: &mut Vec<u8>, envelope: Envelope) -> libnv::Result<()> {
        Report {
            envelope,
            name: &self.spec.name,
            status: self.status(),
            log_dropped: self.log.dropped,
        }
        .write(out)
    }

    /// Sends the new state to the manager and every attached client.
    pub(super) fn broadcast_event(&mut self) {
        let mut buf = std::mem::take(&mut self.event_buf);
        buf.clear();
        if self
            .write_status(&mut buf, Envelope::request(0, method::EVENT))
            .is_ok()
        {
            let deliver = |c: &mut Conn| {
                if c.is_open() && c.attached {
                    c.queue(&buf);
                    if !c.flush() || c.tx.pending() > MAX_BACKLOG {
                        c.close();
                    }
                }
            };
            deliver(&mut self.manager);
            for c in &mut self.clients {
                deliver(c);
            }
        }
        self.event_buf = buf;
    }

    /// Last chance for replies and events to leave before exit: wait
    /// briefly for slow readers, never long.
    pub(super) fn flush_on_exit(&mut self) {
        let deadline = sys::monotonic_ms() + 1000;
        for c in self
            .clients
            .iter_mut()
            .chain(std::iter::once(&mut self.manager))
        {
            while c.is_open() && c.tx.pending() > 0 && sys::monotonic_ms() < deadline {
                let mut pfd = [libc::pollfd {
                    fd: c.raw(),
                    events: libc::POLLOUT,
                    revents: 0,
                }];
                let _ = sys::poll(&mut pfd, 100);
                if !c.flush() {
                    break;
                }
            }
        }
    }

    /// Answers the manager's `declare` with the initial status.
    pub fn acknowledge_declaration(&mut self, id: u64) {
        let mut out = std::mem::take(&mut self.reply_buf);
        out.clear();
        if self
            .write_status(&mut out, Envelope::reply(id, method::DECLARE))
            .is_ok()
        {
            self.manager.queue(&out);
            if !self.manager.flush() {
                self.drop_manager();
            }
        }
        self.reply_buf = out;
    }
}

/// Binds the control socket, mode 0600. A stale socket is replaced; one
/// that answers belongs to a running supervisor and is left alone.
pub(super) fn listen(path: &Path) -> Result<OwnedFd, String> {
    use std::os::unix::net::{UnixListener, UnixStream};
    if path.exists() {
        if UnixStream::connect(path).is_ok() {
            return Err(format!(
                "{}: another supervisor is listening there",
                path.display()
            ));
        }
        std::fs::remove_file(path).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    // SAFETY: umask only changes this process's file creation mask.
    let old = unsafe { libc::umask(0o177) };
    let bound = UnixListener::bind(path);
    // SAFETY: as above.
    unsafe { libc::umask(old) };
    let listener = bound.map_err(|e| format!("{}: {e}", path.display()))?;
    listener
        .set_nonblocking(true)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(OwnedFd::from(listener))
}

/// What the manager's `declare` carried.
pub struct Declaration {
    pub id: u64,
    pub spec: Spec,
    /// `start = true`: start the service right after acknowledging, as if
    /// a `start` request had followed (saves the manager a round trip per
    /// service at bring-up).
    pub start: bool,
}

/// Reads the `declare` request's arguments.
fn declaration(req: &proto::Request) -> Result<Declaration, String> {
    let service = req
        .args
        .get_nvlist(proto::key::SERVICE)
        .ok_or("manager fd: 'declare' without a 'service' nvlist")?;
    let start = req.args.get_bool(proto::key::START).unwrap_or(false);
    let spec = proto::Declaration::from_view(&service).and_then(Spec::from_declaration)?;
    Ok(Declaration {
        id: req.id,
        spec,
        start,
    })
}

/// Reads the first message from a manager (blocking up to `timeout_ms`):
/// the declaration, as the `declare` request.
pub fn receive_declaration(fd: &OwnedFd, timeout_ms: u64) -> Result<Declaration, String> {
    let mut rx = ipc::receiver(MAX_DECLARATION);
    let deadline = sys::monotonic_ms() + timeout_ms;
    sys::set_nonblocking(fd.as_raw_fd()).map_err(|e| format!("manager fd: {e}"))?;
    loop {
        match rx.next_message() {
            Ok(Some(msg)) => {
                let req = proto::parse_request(msg.view())
                    .map_err(|e| format!("manager fd: {}", e.text))?;
                if req.method != method::DECLARE {
                    return Err(format!(
                        "manager fd: expected 'declare' first, got '{}'",
                        req.method
                    ));
                }
                return declaration(&req).inspect_err(|e| {
                    // Tell the manager why before going away.
                    let mut out = Vec::new();
                    refuse(&mut out, req.id, method::DECLARE, code::INVALID_ARGUMENT, e);
                    if !out.is_empty() {
                        let _ = sys::set_blocking(fd.as_raw_fd());
                        let _ = sys::write(fd.as_raw_fd(), &out);
                    }
                });
            }
            Ok(None) => {}
            Err(e) => return Err(format!("manager fd: bad message: {e}")),
        }
        let now = sys::monotonic_ms();
        if now >= deadline {
            return Err("manager fd: no declaration received in time".into());
        }
        let mut pfd = [libc::pollfd {
            fd: fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        }];
        sys::poll(&mut pfd, (deadline - now).min(1000) as i32)
            .map_err(|e| format!("manager fd: {e}"))?;
        if pfd[0].revents != 0 {
            match rx.recv_from(fd) {
                Ok(RecvStatus::Eof) => {
                    return Err("manager fd: closed before the declaration".into());
                }
                Ok(_) => {}
                Err(e) => return Err(format!("manager fd: {e}")),
            }
        }
    }
}
