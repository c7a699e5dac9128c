//! The control socket: accepting clients, permissions from SO_PEERCRED,
//! reading requests incrementally, answering every method of
//! docs/protocol.md, and streaming events to `watch` clients.

use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use libnv::{NvList, NvSender, NvView, RecvStatus};

use crate::jobs::Waiter;
use crate::link::receiver;
use crate::manager::{
    CLIENT_MESSAGE_MAX, Client, MAX_CLIENT_BACKLOG, MAX_CONNECTIONS, MAX_CONNECTIONS_PER_UID,
    MESSAGE_TIMEOUT, Manager, PAUSE_CLIENT_BACKLOG, REQUESTS_PER_TURN, client_token,
};
use crate::proto::{self, Failure, code};
use crate::sys;

/// Methods anyone who may connect can use.
const READ_ONLY: [&str; 3] = ["list", "status", "watch"];

/// Connections kept for root: other uids together hold at most
/// `MAX_CONNECTIONS - ROOT_RESERVE`, so no mix of users can lock root out.
pub const ROOT_RESERVE: usize = 64;
/// A connection with nothing to do for this long is closed: no request
/// in progress, no subscription, nothing half-sent, nothing unread. And a
/// connection whose unread output has not moved for this long is closed
/// whatever it waits for. `--client-idle-timeout` (hidden) shortens it
/// for tests.
pub const CLIENT_IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// Output queued for all clients together; past it the non-root client
/// with the most unread output is closed, until it fits again.
pub const MAX_CLIENT_OUTPUT: usize = 16 << 20;
/// A send buffer that grew beyond this is given back once drained, so that
/// a burst does not stay in the manager's memory.
const KEEP_OUTPUT_CAPACITY: usize = 64 << 10;

impl Client {
    /// Nothing to do: a candidate for the idle deadline (a request waiting
    /// on a job is checked apart).
    fn is_idle(&self) -> bool {
        !self.watching && self.tx.is_empty() && self.partial_since.is_none()
    }
}

impl Manager {
    pub fn accept(&mut self) {
        for _ in 0..64 {
            let sock = match self.listener.accept() {
                Ok((s, _)) => s,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return,
                Err(e) => match e.raw_os_error() {
                    Some(libc::EMFILE | libc::ENFILE) => {
                        if self.shed_connection() {
                            continue;
                        }
                        return;
                    }
                    // That connection is gone; the next may be fine.
                    Some(libc::ECONNABORTED | libc::EINTR | libc::EPROTO) => continue,
                    _ => {
                        // Anything else may well fail again at once: the
                        // level-triggered listener must not spin the loop.
                        self.fds
                            .log(&format!("accept: {e}; not accepting for a moment"));
                        self.fds.pause_accept();
                        return;
                    }
                },
            };
            self.admit(sock);
        }
    }

    /// Whether the listener is to be polled now: below the connection
    /// limit, and not resting after a failed `accept`.
    pub fn listening(&mut self) -> bool {
        self.fds.accepting() && self.clients.len() < MAX_CONNECTIONS
    }

    /// `accept` failed for want of a descriptor. Left queued, the
    /// connection would keep the level-triggered listener readable and the
    /// loop spinning, and its client waiting for nothing: the spare is
    /// closed to take it, it is told why and closed, and the spare opened
    /// again (the libev/nginx way). False: nothing more to take now.
    fn shed_connection(&mut self) -> bool {
        let why = format!(
            "the manager is out of file descriptors (limit {})",
            self.fds.limit
        );
        // A spare lost earlier may be had again now that others closed.
        if !self.fds.restore_spare() {
            self.fds.log(&format!(
                "{why}, and has no spare; not accepting for a moment"
            ));
            self.fds.pause_accept();
            return false;
        }
        self.fds.release_spare();
        let taken = self.listener.accept();
        let shed = match taken {
            Ok((sock, _)) => {
                let who = sys::peer_cred(&sock).map_or_else(
                    |_| String::new(),
                    |(pid, uid, _)| format!(" from uid {uid} (pid {pid})"),
                );
                refuse(&sock, &why);
                drop(sock);
                self.fds.log(&format!("refused a connection{who}: {why}"));
                true
            }
            Err(_) => false,
        };
        if !self.fds.restore_spare() {
            self.fds.log(&format!(
                "{why}, and cannot reopen its spare; not accepting for a moment"
            ));
            self.fds.pause_accept();
            return false;
        }
        shed
    }

    /// Why a connection from `uid` may not be taken now, if it may not.
    fn over_limit(&self, uid: u32) -> Option<String> {
        if self.clients.len() >= MAX_CONNECTIONS {
            return Some(format!("too many connections ({MAX_CONNECTIONS} open)"));
        }
        if uid == 0 {
            return None;
        }
        let (mut others, mut mine) = (0, 0);
        for c in self.clients.values() {
            others += usize::from(c.uid != 0);
            mine += usize::from(c.uid == uid);
        }
        if mine >= MAX_CONNECTIONS_PER_UID {
            return Some(format!(
                "too many connections from uid {uid} ({mine} open, at most {MAX_CONNECTIONS_PER_UID})"
            ));
        }
        if others >= MAX_CONNECTIONS - ROOT_RESERVE {
            return Some(format!(
                "too many connections from users other than root ({others} open)"
            ));
        }
        // The new connection is open already, not yet among the clients.
        let links = self.links.iter().flatten().count();
        let reserve = self.fds.reserve();
        if self.fds.free(self.clients.len() + 1, links) < reserve {
            return Some(format!(
                "too many connections: the manager keeps its last {reserve} file descriptors \
                 for root ({others} open from other users)"
            ));
        }
        None
    }

    fn admit(&mut self, sock: UnixStream) {
        let Ok((pid, uid, gid)) = sys::peer_cred(&sock) else {
            return;
        };
        let own = nix::unistd::getuid().as_raw();
        if self.cfg.user_mode && uid != own && uid != 0 {
            tracing::warn!("refused a connection from uid {uid} (pid {pid})");
            return;
        }
        if sock.set_nonblocking(true).is_err() {
            return;
        }
        if let Some(why) = self.over_limit(uid) {
            note_refusal(uid, pid, &why);
            refuse(&sock, &why);
            return;
        }
        let privileged = uid == 0
            || (self.cfg.user_mode && uid == own)
            || self
                .cfg
                .control_group
                .as_ref()
                .is_some_and(|g| sys::in_group(uid, gid, g));
        let key = self.next_client;
        self.next_client += 1;
        self.clients.insert(
            key,
            Client {
                sock,
                rx: receiver(CLIENT_MESSAGE_MAX),
                tx: NvSender::new(),
                uid,
                privileged,
                partial_since: None,
                last_heard: Instant::now(),
                stalled_since: None,
                peak_output: 0,
                more: false,
                watching: false,
                interest: None,
            },
        );
        // A client usually sends its request right after connecting: serve
        // it in this turn rather than after another poll over every
        // supervisor's socket (svcctl status NAME then costs one wake-up).
        if !self.read_client(key) {
            self.drop_client(key);
        }
    }

    /// Closes a client's connection, forgetting its queued output.
    fn drop_client(&mut self, key: u64) {
        if let Some(c) = self.clients.remove(&key) {
            self.client_output -= c.tx.pending();
        }
    }

    /// Sends what `key`'s socket takes now, keeping the output clock and
    /// the total. False: the connection is broken.
    fn flush_client(&mut self, key: u64) -> bool {
        let Some(c) = self.clients.get_mut(&key) else {
            return false;
        };
        let before = c.tx.pending();
        let ok = c.tx.flush(&c.sock).is_ok();
        let after = c.tx.pending();
        self.client_output = self.client_output + after - before;
        if after == 0 {
            c.stalled_since = None;
            if c.peak_output > KEEP_OUTPUT_CAPACITY {
                c.tx = NvSender::new();
                c.peak_output = 0;
            }
        } else if after < before || c.stalled_since.is_none() {
            c.stalled_since = Some(Instant::now());
        }
        ok
    }

    pub fn on_client(&mut self, key: u64, revents: i16) {
        let mut alive = true;
        if revents & libc::POLLOUT != 0 {
            alive = self.flush_client(key);
        }
        if alive && revents & (libc::POLLIN | libc::POLLHUP | libc::POLLERR) != 0 {
            alive = self.read_client(key);
        }
        if !alive {
            self.drop_client(key);
        }
    }

    /// Reads and answers up to REQUESTS_PER_TURN requests, and none while
    /// more than PAUSE_CLIENT_BACKLOG of its replies wait to be read.
    /// Stopped by either, it is marked to be served again in the next turn
    /// (its requests may all be buffered already: no readable event would
    /// come). False: close.
    fn read_client(&mut self, key: u64) -> bool {
        let mut handled = 0;
        loop {
            let Some(c) = self.clients.get_mut(&key) else {
                return false;
            };
            c.more = false;
            if handled >= REQUESTS_PER_TURN || c.tx.pending() >= PAUSE_CLIENT_BACKLOG {
                c.more = true;
                break;
            }
            // Take complete messages first; read more only when none is left.
            let msg = match c.rx.next_message() {
                Ok(Some(m)) => Some(m.bytes().to_vec()),
                Ok(None) => None,
                Err(e) => {
                    tracing::debug!("client {key}: {e}; closing");
                    return false;
                }
            };
            if let Some(bytes) = msg {
                handled += 1;
                self.handle_message(key, &bytes);
                continue;
            }
            match c.rx.recv_from(&c.sock) {
                Ok(RecvStatus::Data(_)) => {
                    c.last_heard = Instant::now();
                    continue;
                }
                Ok(RecvStatus::WouldBlock) => break,
                Ok(RecvStatus::Eof) => return false,
                Err(e) => {
                    tracing::debug!("client {key}: {e}; closing");
                    return false;
                }
            }
        }
        let Some(c) = self.clients.get_mut(&key) else {
            return false;
        };
        c.partial_since = if c.rx.has_partial() {
            c.partial_since.or(Some(Instant::now()))
        } else {
            None
        };
        true
    }

    /// May `key` be served again now (marked, and not paused)?
    fn servable(c: &Client) -> bool {
        c.more && c.tx.pending() < PAUSE_CLIENT_BACKLOG
    }

    /// Serves the clients that stopped early in an earlier turn.
    pub fn serve_buffered(&mut self) {
        let due: Vec<u64> = self
            .clients
            .iter()
            .filter(|(_, c)| Self::servable(c))
            .map(|(&k, _)| k)
            .collect();
        for k in due {
            if !self.read_client(k) {
                self.drop_client(k);
            }
        }
    }

    /// Registers each client's events as it wants them now; returns when
    /// the loop must wake up for a client (now, when one is to be served
    /// again).
    pub fn sync_clients(&mut self) -> Option<Instant> {
        const IN: u32 = libc::EPOLLIN as u32;
        const OUT: u32 = libc::EPOLLOUT as u32;
        let idle = self.cfg.client_idle_timeout;
        let mut deadline: Option<Instant> = None;
        let mut wake = |d: Instant| deadline = Some(deadline.map_or(d, |x: Instant| x.min(d)));
        if let Some(t) = self.fds.paused_until {
            wake(t);
        }
        for (&k, c) in &mut self.clients {
            let mut want = 0;
            if c.tx.pending() < PAUSE_CLIENT_BACKLOG {
                want |= IN;
            }
            if !c.tx.is_empty() {
                want |= OUT;
            }
            if Some(want) != c.interest {
                match self
                    .events
                    .set(c.sock.as_fd(), c.interest, want, client_token(k))
                {
                    Ok(()) => c.interest = Some(want),
                    Err(e) => tracing::warn!("client {k}: epoll: {e}"),
                }
            }
            if Self::servable(c) {
                wake(Instant::now());
            }
            if let Some(t) = c.partial_since {
                wake(t + MESSAGE_TIMEOUT);
            }
            if let Some(t) = c.stalled_since {
                wake(t + idle);
            }
            if c.is_idle() {
                wake(c.last_heard + idle);
            }
        }
        deadline
    }

    /// Is a reply to one of `key`'s requests still to come?
    fn awaits_reply(&self, key: u64) -> bool {
        self.jobs
            .iter()
            .any(|j| j.waiters.iter().any(|w| w.client == key))
    }

    /// Cuts off clients past a deadline: a message incomplete for 10 s,
    /// output that has not moved, or nothing to do, for the idle timeout.
    pub fn expire_clients(&mut self) {
        let now = Instant::now();
        let idle = self.cfg.client_idle_timeout;
        let mut late = Vec::new();
        for (&k, c) in &self.clients {
            if c.partial_since.is_some_and(|t| now >= t + MESSAGE_TIMEOUT) {
                late.push((k, "message incomplete after 10 s"));
            } else if c.stalled_since.is_some_and(|t| now >= t + idle) {
                late.push((k, "its replies have not been read"));
            } else if c.is_idle() && now >= c.last_heard + idle {
                late.push((k, "idle"));
            }
        }
        for (k, why) in late {
            if why == "idle" && self.awaits_reply(k) {
                // Waiting for a job is not idle: look again one period on.
                if let Some(c) = self.clients.get_mut(&k) {
                    c.last_heard = now;
                }
                continue;
            }
            tracing::debug!("client {k}: {why}; closing");
            self.drop_client(k);
        }
    }

    pub fn send_to_client(&mut self, key: u64, msg: &NvList) {
        let Some(c) = self.clients.get_mut(&key) else {
            return;
        };
        let before = c.tx.pending();
        let queued = c.tx.queue(msg);
        // Counted before anything else, so that closing it subtracts what
        // was added (a failed queue may leave part of a message).
        let pending = c.tx.pending();
        c.peak_output = c.peak_output.max(pending);
        self.client_output += pending - before;
        if queued.is_err() {
            tracing::debug!("client {key}: cannot queue a message; closing");
            self.drop_client(key);
            return;
        }
        let ok = self.flush_client(key);
        let backlog = self.clients.get(&key).map_or(0, |c| c.tx.pending());
        if !ok || backlog > MAX_CLIENT_BACKLOG {
            tracing::debug!("client {key}: not reading its replies; closing");
            self.drop_client(key);
        }
        self.enforce_output_budget();
    }

    /// Closes the non-root clients with the most unread output until the
    /// output of all clients fits MAX_CLIENT_OUTPUT again.
    fn enforce_output_budget(&mut self) {
        while self.client_output > MAX_CLIENT_OUTPUT {
            let worst = self
                .clients
                .iter()
                .filter(|(_, c)| c.uid != 0 && !c.tx.is_empty())
                .max_by_key(|(_, c)| c.tx.pending())
                .map(|(&k, c)| (k, c.uid));
            let Some((k, uid)) = worst else {
                return;
            };
            tracing::warn!(
                "client {k} (uid {uid}): the most unread output while the clients' output \
                 exceeds {} MiB; closing",
                MAX_CLIENT_OUTPUT >> 20
            );
            self.drop_client(k);
        }
    }

    fn handle_message(&mut self, key: u64, bytes: &[u8]) {
        let view = match NvView::new(bytes) {
            Ok(v) => v,
            Err(_) => return,
        };
        let req = match proto::parse_request(view) {
            Ok(r) => r,
            Err(e) => {
                self.send_to_client(key, &proto::error_reply(e.id, "", &e.failure()));
                return;
            }
        };
        let (id, method) = (req.id, req.method.to_owned());
        let privileged = self.clients.get(&key).is_some_and(|c| c.privileged);
        let uid = self.clients.get(&key).map_or(0, |c| c.uid);
        let reply = if !privileged && !READ_ONLY.contains(&method.as_str()) {
            Err(Failure::new(
                code::NOT_PERMITTED,
                format!(
                    "not permitted: uid {uid} may only read (list, status, watch); \
                     ask root, or a member of the manager's --control-group"
                ),
            ))
        } else {
            self.dispatch(key, id, &method, &req.args)
        };
        match reply {
            Ok(Some(r)) => self.send_to_client(key, &r),
            Ok(None) => {}
            Err(f) => self.send_to_client(key, &proto::error_reply(id, &method, &f)),
        }
    }

    /// Answers one request; `Ok(None)` when the answer comes later.
    fn dispatch(
        &mut self,
        key: u64,
        id: u64,
        method: &str,
        args: &NvView,
    ) -> Result<Option<NvList>, Failure> {
        let reply = || proto::message(id, method, true);
        match method {
            "list" => Ok(Some(self.list_reply(reply()))),
            "status" => {
                let names = self.resolve(&proto::names(args)?, true)?;
                let mut r = reply();
                let items: Vec<NvList> = names
                    .iter()
                    .map(|n| {
                        let mut item = self.status_item(n);
                        self.add_usage(n, &mut item);
                        item
                    })
                    .collect();
                self.add_cgroups_keys(&mut r);
                if !items.is_empty() {
                    let _ = r.add_nvlist_array(proto::key::SERVICES, items);
                }
                Ok(Some(r))
            }
            "start" | "stop" | "restart" => {
                let names = self.resolve(&proto::names(args)?, false)?;
                let job = match method {
                    "start" => self.start_job(&names)?,
                    "stop" => self.stop_job(&names),
                    _ => self.restart_job(&names),
                };
                self.run_job(key, id, method, args, job)
            }
            "target" => {
                let target = match proto::string(args, proto::key::TARGET)? {
                    Some(t) => t.to_owned(),
                    None => proto::names(args)?.into_iter().next().ok_or_else(|| {
                        Failure::new(code::INVALID_ARGUMENT, "target: which target?")
                    })?,
                };
                if !self.knows(&target, true) {
                    return Err(no_such(&target));
                }
                let job = self.switch_job(&target)?;
                self.run_job(key, id, method, args, job)
            }
            "reload" => {
                let names = self.resolve(&proto::names(args)?, false)?;
                for n in &names {
                    let running = self
                        .units
                        .get(n)
                        .is_some_and(|u| u.link.is_some() && u.status.has_process());
                    if !running {
                        return Err(Failure::new(code::FAILED, format!("{n} is not running")));
                    }
                }
                for n in &names {
                    if let Some(l) = self.link_mut(n) {
                        l.request("reload", None);
                    }
                }
                Ok(Some(reply()))
            }
            "enable" | "disable" => {
                let names = self.resolve(&proto::names(args)?, false)?;
                let target = proto::string(args, proto::key::TARGET)?.map(str::to_owned);
                let mut changed = Vec::new();
                for n in &names {
                    changed.extend(self.set_enabled(n, target.as_deref(), method == "enable")?);
                }
                let errors = self.load();
                let mut r = reply();
                if !changed.is_empty() {
                    let _ = r.add_string_array(proto::key::CHANGED, &changed);
                }
                if !errors.is_empty() {
                    let _ = r.add_string_array(proto::key::ERRORS, &errors);
                }
                Ok(Some(r))
            }
            "rescan" => {
                let before: Vec<String> = self.set.declarations.keys().cloned().collect();
                let errors = self.load();
                let mut r = reply();
                let added: Vec<&String> = self
                    .set
                    .declarations
                    .keys()
                    .filter(|n| before.binary_search(n).is_err())
                    .collect();
                if !added.is_empty() {
                    let _ = r.add_string_array(proto::key::ADDED, &added);
                }
                if !errors.is_empty() {
                    let _ = r.add_string_array(proto::key::ERRORS, &errors);
                }
                Ok(Some(r))
            }
            "shutdown" => {
                let waiter = (!proto::flag(args, proto::key::NO_WAIT)?).then(|| Waiter {
                    client: key,
                    id,
                    method: method.to_owned(),
                });
                let answer_now = waiter.is_none();
                self.begin_shutdown(waiter);
                Ok(answer_now.then(reply))
            }
            "watch" => {
                if let Some(c) = self.clients.get_mut(&key) {
                    c.watching = true;
                }
                Ok(Some(reply()))
            }
            _ => Err(Failure::new(
                code::UNKNOWN_METHOD,
                format!("unknown method '{method}'"),
            )),
        }
    }

    fn run_job(
        &mut self,
        key: u64,
        id: u64,
        method: &str,
        args: &NvView,
        mut job: crate::jobs::Job,
    ) -> Result<Option<NvList>, Failure> {
        let no_wait = proto::flag(args, proto::key::NO_WAIT)?;
        let job_id = job.id;
        if !no_wait {
            job.waiters.push(Waiter {
                client: key,
                id,
                method: method.to_owned(),
            });
        }
        self.submit(job);
        if no_wait {
            let mut r = proto::message(id, method, true);
            let _ = r.add_number(proto::key::JOB, job_id);
            return Ok(Some(r));
        }
        Ok(None)
    }

    /// The names asked for, each known; none means all (when `all_ok`).
    fn resolve(&mut self, names: &[String], all_ok: bool) -> Result<Vec<String>, Failure> {
        if names.is_empty() {
            if !all_ok {
                return Err(Failure::new(
                    code::INVALID_ARGUMENT,
                    "names: which services?",
                ));
            }
            let mut all: Vec<String> = self.set.declarations.keys().cloned().collect();
            for (n, u) in &self.units {
                if u.link.is_some() && !self.set.declarations.contains_key(n) {
                    all.push(n.clone());
                }
            }
            all.sort();
            return Ok(all);
        }
        for n in names {
            if !self.knows(n, !all_ok) {
                return Err(no_such(n));
            }
        }
        Ok(names.to_vec())
    }

    /// One service's or target's status, as `status` and events carry it.
    pub fn status_item(&self, name: &str) -> NvList {
        let mut item = NvList::new();
        let _ = item.add_string(proto::key::NAME, name);
        let decl = self.set.declarations.get(name);
        let is_target = decl.is_some_and(|d| d.is_target());
        let _ = item.add_string(
            proto::key::KIND,
            if is_target { "target" } else { "service" },
        );
        if let Some(d) = decl.and_then(|d| d.description.as_deref()) {
            let _ = item.add_string(proto::key::DESCRIPTION, d);
        }
        if is_target {
            let up = self.targets_up.contains(name);
            let status = proto::Status {
                state: if up { "ready" } else { "down" }.into(),
                wanted: if up { "up" } else { "down" }.into(),
                since: self.started_at,
                ..proto::Status::default()
            };
            let _ = status.write(&mut item);
            return item;
        }
        match self.units.get(name) {
            Some(u) => {
                let mut status = u.status.clone();
                status.reason = self.unit_reason(name);
                if u.link.is_none()
                    && let Some(b) = &u.trouble().blocked
                {
                    status.reason = Some(b.clone());
                }
                if decl.is_none() && u.link.is_some() && status.reason.is_none() {
                    status.reason = Some("its declaration is gone".into());
                }
                let _ = status.write(&mut item);
            }
            None => {
                let status = proto::Status {
                    since: self.started_at,
                    ..proto::Status::default()
                };
                let _ = status.write(&mut item);
            }
        }
        if let Some(pid) = self
            .units
            .get(name)
            .and_then(|u| u.link)
            .and_then(|i| self.links[i].as_ref())
            .and_then(|l| l.pid)
        {
            let _ = item.add_number(proto::key::SUPERVISOR_PID, u64::from(pid));
        }
        let _ = item.add_string(
            proto::key::LOG,
            self.log_path(name).as_os_str().as_encoded_bytes(),
        );
        item
    }

    fn list_reply(&self, mut r: NvList) -> NvList {
        let mut items = Vec::new();
        for (name, d) in &self.set.declarations {
            let mut item = self.status_item(name);
            let _ = item.add_string(proto::key::FILE, d.file.as_os_str().as_encoded_bytes());
            let enabled = self.set.enabled_in(name);
            if !enabled.is_empty() {
                let _ = item.add_string_array(proto::key::ENABLED, &enabled);
            }
            items.push(item);
        }
        for (name, u) in &self.units {
            if u.link.is_some() && !self.set.declarations.contains_key(name) {
                items.push(self.status_item(name));
            }
        }
        if !items.is_empty() {
            let _ = r.add_nvlist_array(proto::key::SERVICES, items);
        }
        let templates: Vec<&String> = self.set.templates.keys().collect();
        if !templates.is_empty() {
            let _ = r.add_string_array(proto::key::TEMPLATES, &templates);
        }
        r
    }

    /// Creates or removes `enabled/TARGET/NAME`; returns the paths changed.
    fn set_enabled(
        &mut self,
        name: &str,
        target: Option<&str>,
        enable: bool,
    ) -> Result<Vec<String>, Failure> {
        let Some(dir) = self.cfg.layout.enabled.clone() else {
            return Err(Failure::new(code::FAILED, "no enablement directory"));
        };
        let targets: Vec<String> = match target {
            Some(t) => vec![t.to_owned()],
            None if enable => {
                let wanted_by = self
                    .set
                    .declarations
                    .get(name)
                    .map(|d| d.deps.get(libsvc::DepKind::WantedBy).to_vec())
                    .unwrap_or_default();
                if wanted_by.is_empty() {
                    vec!["default".to_owned()]
                } else {
                    wanted_by
                }
            }
            None => self
                .set
                .enabled_in(name)
                .into_iter()
                .map(str::to_owned)
                .collect(),
        };
        let mut changed = Vec::new();
        for t in targets {
            if libsvc::names::check_reference(&t).is_err() {
                return Err(Failure::new(
                    code::INVALID_ARGUMENT,
                    format!("'{t}' is not a valid target name"),
                ));
            }
            let path = dir.join(&t).join(name);
            let fail =
                |e: std::io::Error| Failure::new(code::FAILED, format!("{}: {e}", path.display()));
            if enable {
                if path.symlink_metadata().is_ok() {
                    continue;
                }
                std::fs::create_dir_all(dir.join(&t)).map_err(fail)?;
                std::fs::File::create(&path).map_err(fail)?;
            } else {
                match std::fs::remove_file(&path) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                    Err(e) => return Err(fail(e)),
                }
            }
            changed.push(path.to_string_lossy().into_owned());
        }
        Ok(changed)
    }

    /// Sends `name`'s status to every `watch` client.
    pub fn broadcast_event(&mut self, name: &str) {
        if !self.clients.values().any(|c| c.watching) {
            return;
        }
        let mut msg = proto::message(0, "event", false);
        let item = self.status_item(name);
        for pair in item.into_pairs() {
            let (k, v) = pair.into_parts();
            let _ = msg.add(k, v);
        }
        let watchers: Vec<u64> = self
            .clients
            .iter()
            .filter(|(_, c)| c.watching)
            .map(|(&k, _)| k)
            .collect();
        for k in watchers {
            self.send_to_client(k, &msg);
        }
    }
}

/// Tells a connection that is not taken why, before it is closed, so
/// that svcctl can say it; a fresh socket's buffer always takes one small
/// message.
fn refuse(sock: &UnixStream, why: &str) {
    let f = Failure::new(code::FAILED, format!("{why}; try again later"));
    let mut tx = NvSender::new();
    if tx.queue(&proto::error_reply(0, "", &f)).is_ok() {
        let _ = tx.flush(sock);
    }
}

/// Refusals since the last one logged, and when that was (unix seconds).
static REFUSED: AtomicU64 = AtomicU64::new(0);
static REFUSAL_LOGGED: AtomicU64 = AtomicU64::new(0);

/// Logs a refused connection, at most one line per 10 s: a client that
/// retries in a loop must not flood the log.
fn note_refusal(uid: u32, pid: i32, why: &str) {
    let now = proto::now_unix();
    let earlier = REFUSED.fetch_add(1, Ordering::Relaxed);
    if now < REFUSAL_LOGGED.load(Ordering::Relaxed) + 10 {
        tracing::debug!("refused a connection from uid {uid} (pid {pid}): {why}");
        return;
    }
    REFUSAL_LOGGED.store(now, Ordering::Relaxed);
    REFUSED.store(0, Ordering::Relaxed);
    let more = if earlier > 0 {
        format!(" (and {earlier} more since the last such line)")
    } else {
        String::new()
    };
    tracing::warn!("refused a connection from uid {uid} (pid {pid}): {why}{more}");
}

fn no_such(name: &str) -> Failure {
    Failure::new(code::NO_SUCH_SERVICE, format!("no such service: {name}"))
}
