//! The supervisor: one thread, one poll loop over a signalfd (SIGCHLD,
//! SIGTERM, SIGINT), the log pipe, the readiness channel, the control
//! socket and its clients, and the manager's socket; timers are poll
//! timeouts. The lifecycle decisions live in `table`; this module carries
//! out their actions and turns what happens to processes into events.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};

use crate::creds;
use crate::ipc::Conn;
use crate::log::Log;
use crate::notify::{NotifyPipe, PipeNews, SdNotify, notify_dir, parse_notice};
use crate::spawn::{self, Command, Context, Stdio};
use crate::spec::{Kind, Ready, Spec};
use crate::sys::{self, ExitStatus};
use crate::table::{Actions, Ctx, Event, Lifecycle, Policy, State};

mod control;

use control::listen;
pub use control::{Declaration, receive_declaration};

/// Largest request accepted on a control connection.
const MAX_REQUEST: usize = 16 * 1024;
/// Largest declaration accepted from a manager: the limit that the
/// manager and `svcctl check` check declarations against.
pub const MAX_DECLARATION: usize = libsvc::limits::DECLARATION_MAX;
/// Control clients served at once (besides the manager).
const MAX_CLIENTS: usize = 16;
/// A message must be complete this long after its first byte.
const MESSAGE_TIMEOUT_MS: u64 = 10_000;
/// A control client that is not attached must complete a request this long
/// after it connected or completed its last one, or it is closed.
const IDLE_TIMEOUT_MS: u64 = 10_000;
/// A peer that lets this much output pile up is cut off.
const MAX_BACKLOG: usize = 256 * 1024;
/// The fixed places in the poll set; the control clients follow them.
#[derive(Clone, Copy)]
enum Slot {
    Signals,
    LogPipe,
    NotifyPipe,
    SdNotify,
    Listener,
    Manager,
    MainPidfd,
    CgroupEvents,
}
/// Index of the first control client in the poll set.
const FIRST_CLIENT: usize = Slot::CgroupEvents as usize + 1;
/// While the supervisor waits for its cgroup to empty, it looks again
/// (and kills again) this often, should a change notification be missed.
const CGROUP_RECHECK_MS: u64 = 250;
/// How often a forking service's pidfile is looked for.
const PIDFILE_RETRY_MS: u64 = 20;

/// How the supervisor is run.
#[derive(Debug, Default)]
pub struct Options {
    /// Control socket path.
    pub control: Option<PathBuf>,
    /// The manager's end of a socketpair, already holding the declaration.
    pub manager: Option<OwnedFd>,
    /// Start the service at once (standalone), rather than on request.
    pub start: bool,
    /// Standalone `--once`.
    pub once: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum AuxKind {
    Pre(usize),
    Check,
    Stop,
}

/// What the service's prepared commands are, built at the first start.
struct Prepared {
    ctx: Context,
    main: Command,
    pre: Vec<Command>,
    stop: Option<Command>,
    check: Option<Command>,
    runtime_dirs: Vec<PathBuf>,
}

pub struct Supervisor {
    spec: Spec,
    policy: Policy,
    life: Lifecycle,
    since_unix: i64,
    prepared: Option<Prepared>,
    /// `cgroup.kill` was ever written to the leaf by this supervisor: for
    /// good, unlike `leaf_killed`, which is about the run being reaped
    /// (see Context::leaf_killed for what it changes).
    leaf_ever_killed: std::cell::Cell<bool>,
    main_pid: i32,
    /// The process group of the service (its first process's pid).
    pgid: i32,
    /// The main pid is the first process of a forking service, whose
    /// daemon's pid is not known yet.
    forking_initial: bool,
    aux: Option<(i32, AuxKind)>,
    last_exit: Option<ExitStatus>,
    timer_at: Option<u64>,
    check_at: Option<u64>,
    pidfile_at: Option<u64>,
    log: Log,
    sd_notify: Option<SdNotify>,
    notify_pipe: Option<NotifyPipe>,
    /// A pidfd on a main process named by MAINPID= (which may not be our child).
    main_pidfd: Option<OwnedFd>,
    status_text: [u8; 128],
    status_len: usize,
    signals: OwnedFd,
    listener: Option<(OwnedFd, PathBuf)>,
    manager: Conn,
    clients: Vec<Conn>,
    /// Scratch for events, encoded once and copied to each peer.
    event_buf: Vec<u8>,
    /// Scratch for replies.
    reply_buf: Vec<u8>,
    /// sd_notify datagrams (allocated only for `ready = sd-notify`).
    notify_buf: Box<[u8]>,
    /// The pid file's path, NUL-terminated, for reads without allocating.
    pidfile_c: Option<std::ffi::CString>,
    /// Its directory, for the check of who can write there.
    pidfile_dir_c: Option<std::ffi::CString>,
    /// The pid file of this run named a pid we refused (said once a run).
    pidfile_refused: bool,
    /// The service's leaf cgroup, when the manager gave one.
    leaf: Option<libsvc::cgroup::Leaf>,
    /// Its `cgroup.events`, polled (POLLPRI) while waiting for it to empty.
    leaf_events: Option<OwnedFd>,
    /// Killed at exit, not yet empty: the supervisor exits once it is, or
    /// at this deadline (a leaf it cannot kill must not keep it forever).
    leaf_draining: bool,
    leaf_drain_until: u64,
    /// This supervisor killed the leaf since the last start: what a start
    /// finds there is dying, not a stranger's leftover.
    leaf_killed: bool,
    leaf_check_at: Option<u64>,
    exiting: bool,
    exit_code: i32,
}

fn unix_now() -> i64 {
    sys::realtime().0
}

impl Supervisor {
    /// Sets up everything that can fail before the loop: log, signals,
    /// subreaper, notify socket, control socket.
    pub fn new(spec: Spec, opts: &mut Options) -> Result<Supervisor, String> {
        spec.validate()?;
        sys::ensure_stdio_open();
        sys::cloexec_from(3);
        sys::set_child_subreaper().map_err(|e| format!("PR_SET_CHILD_SUBREAPER: {e}"))?;
        let mut log = Log::open(&spec.name, &spec.logging)?;
        let signals = sys::signalfd(&[libc::SIGCHLD, libc::SIGTERM, libc::SIGINT, libc::SIGHUP])
            .map_err(|e| format!("signalfd: {e}"))?;
        // SAFETY: ignoring SIGPIPE: writes to gone peers return EPIPE instead.
        unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
        // The control socket first: it refuses to start a second
        // supervisor of a running one, before that one's notify directory
        // (same name, same place) would be replaced.
        let listener = match &opts.control {
            Some(path) => Some((listen(path)?, path.clone())),
            None => None,
        };
        let sd_notify = if spec.ready == Ready::SdNotify {
            let bound = notify_dir(
                &spec.name,
                spec.runtime_root.as_deref(),
                opts.control.as_deref(),
            )
            .and_then(|(dir, temporary)| SdNotify::bind(dir, temporary));
            match bound {
                Ok(sd) => Some(sd),
                Err(e) => {
                    if let Some((_, path)) = &listener {
                        let _ = std::fs::remove_file(path);
                    }
                    return Err(e);
                }
            }
        } else {
            None
        };
        if let (Some(sd), Some(root)) = (&sd_notify, &spec.root_directory) {
            // Said once, so that a readiness that never comes is explained.
            log.notice_fmt(format_args!(
                "NOTIFY_SOCKET {} is outside root-directory {}: READY=1 cannot reach it",
                sd.address,
                root.display()
            ));
        }
        let mut manager = Conn::new(MAX_REQUEST);
        if let Some(fd) = opts.manager.take() {
            sys::set_nonblocking(fd.as_raw_fd()).map_err(|e| format!("manager fd: {e}"))?;
            manager.fd = Some(fd);
            manager.attached = true;
        }
        let notify_buf = if spec.ready == Ready::SdNotify {
            vec![0u8; 4096].into_boxed_slice()
        } else {
            Box::default()
        };
        let pidfile_c = spec
            .pidfile
            .as_ref()
            .map(|p| std::ffi::CString::new(p.as_os_str().as_encoded_bytes()))
            .transpose()
            .map_err(|_| "'pidfile' contains a NUL byte".to_string())?;
        let pidfile_dir_c = spec
            .pidfile
            .as_ref()
            .map(|p| {
                let dir = match p.parent() {
                    Some(d) if !d.as_os_str().is_empty() => d,
                    _ => Path::new("."),
                };
                std::ffi::CString::new(dir.as_os_str().as_encoded_bytes())
            })
            .transpose()
            .map_err(|_| "'pidfile' contains a NUL byte".to_string())?;
        let leaf = spec
            .cgroup
            .as_deref()
            .map(libsvc::cgroup::Leaf::new)
            .transpose()
            .map_err(|e| format!("cgroup: {e}"))?;
        let policy = spec.policy();
        // Slots are made on first use and then kept with their buffers.
        let clients = Vec::new();
        Ok(Supervisor {
            spec,
            policy,
            life: Lifecycle::default(),
            since_unix: unix_now(),
            prepared: None,
            leaf_ever_killed: std::cell::Cell::new(false),
            main_pid: 0,
            pgid: 0,
            forking_initial: false,
            aux: None,
            last_exit: None,
            timer_at: None,
            check_at: None,
            pidfile_at: None,
            log,
            sd_notify,
            notify_pipe: None,
            main_pidfd: None,
            status_text: [0; 128],
            status_len: 0,
            signals,
            listener,
            manager,
            clients,
            event_buf: Vec::new(),
            reply_buf: Vec::new(),
            notify_buf,
            pidfile_c,
            pidfile_dir_c,
            pidfile_refused: false,
            leaf,
            leaf_events: None,
            leaf_draining: false,
            leaf_drain_until: 0,
            leaf_killed: false,
            leaf_check_at: None,
            exiting: false,
            exit_code: 0,
        })
    }

    pub fn state(&self) -> State {
        self.life.state
    }

    /// Wants the service up (once: never restarted) and starts it.
    pub fn want_up(&mut self, once: bool) {
        self.feed(if once { Event::WantOnce } else { Event::WantUp });
    }

    /// Runs until asked to exit (SIGTERM, `exit`); returns the exit status.
    pub fn run(mut self, opts: &Options) -> i32 {
        if opts.start {
            self.want_up(opts.once);
        }
        sys::trim_heap();
        let mut fds = [libc::pollfd {
            fd: -1,
            events: 0,
            revents: 0,
        }; FIRST_CLIENT + MAX_CLIENTS];
        loop {
            if self.exiting
                && !self.life.state.has_process()
                && self.life.state != State::Backoff
                && self.cgroup_empty()
            {
                break;
            }
            let now = sys::monotonic_ms();
            let timeout = [
                self.timer_at,
                self.check_at,
                self.pidfile_at,
                self.leaf_check_at,
            ]
            .into_iter()
            .flatten()
            .chain(self.client_deadlines())
            .min()
            .map_or(-1, |at| at.saturating_sub(now).min(i32::MAX as u64) as i32);
            let n = self.fill_pollfds(&mut fds);
            if let Err(e) = sys::poll(&mut fds[..n], timeout) {
                self.log.notice_fmt(format_args!("poll: {e}"));
                self.exit_code = 1;
                break;
            }
            self.dispatch(&fds[..n]);
            self.run_timers();
        }
        self.flush_on_exit();
        if let Some((_, path)) = &self.listener {
            let _ = std::fs::remove_file(path);
        }
        self.exit_code
    }

    fn fill_pollfds(&self, fds: &mut [libc::pollfd]) -> usize {
        let conn_events = |c: &Conn| {
            if c.tx.pending() > 0 {
                libc::POLLIN | libc::POLLOUT
            } else {
                libc::POLLIN
            }
        };
        let slots = [
            (Slot::Signals, self.signals.as_raw_fd(), libc::POLLIN),
            (
                Slot::LogPipe,
                self.log.pipe_fd().unwrap_or(-1),
                libc::POLLIN,
            ),
            (
                Slot::NotifyPipe,
                self.notify_pipe.as_ref().map_or(-1, |p| p.read.as_raw_fd()),
                libc::POLLIN,
            ),
            (
                Slot::SdNotify,
                self.sd_notify.as_ref().map_or(-1, |s| s.fd()),
                libc::POLLIN,
            ),
            (
                Slot::Listener,
                self.listener.as_ref().map_or(-1, |(fd, _)| fd.as_raw_fd()),
                libc::POLLIN,
            ),
            (
                Slot::Manager,
                self.manager.raw(),
                conn_events(&self.manager),
            ),
            (Slot::MainPidfd, sys::raw(&self.main_pidfd), libc::POLLIN),
            (
                Slot::CgroupEvents,
                sys::raw(&self.leaf_events),
                libc::POLLPRI,
            ),
        ];
        let clients = self.clients.iter().map(|c| (c.raw(), conn_events(c)));
        let all = slots.into_iter().map(|(_, fd, ev)| (fd, ev)).chain(clients);
        let mut n = 0;
        for (slot, (fd, events)) in fds.iter_mut().zip(all) {
            *slot = libc::pollfd {
                fd,
                events,
                revents: 0,
            };
            n += 1;
        }
        debug_assert!(slots.iter().enumerate().all(|(i, s)| s.0 as usize == i));
        n
    }

    fn dispatch(&mut self, fds: &[libc::pollfd]) {
        let revents = |i: usize| if fds[i].fd >= 0 { fds[i].revents } else { 0 };
        let ready = |s: Slot| revents(s as usize) != 0;
        // Output first, so that a service's last lines precede its exit.
        if ready(Slot::LogPipe) {
            self.log.on_readable();
        }
        if ready(Slot::NotifyPipe) {
            self.on_notify_pipe();
        }
        if ready(Slot::SdNotify) {
            self.on_sd_notify();
        }
        if ready(Slot::Signals) {
            self.on_signals();
        }
        if ready(Slot::Manager) {
            self.on_manager(revents(Slot::Manager as usize));
        }
        if ready(Slot::MainPidfd) {
            self.on_main_pidfd();
        }
        if ready(Slot::CgroupEvents) {
            self.recheck_cgroup();
        }
        for i in 0..fds.len().saturating_sub(FIRST_CLIENT) {
            if revents(FIRST_CLIENT + i) != 0 {
                self.on_client(i, revents(FIRST_CLIENT + i));
            }
        }
        if ready(Slot::Listener) {
            self.accept_clients();
        }
    }

    // ----- events and actions -----

    /// Feeds an event, carries out the actions, and feeds what they cause.
    fn feed(&mut self, event: Event) {
        let mut next = Some(event);
        while let Some(event) = next {
            let before = self.life.state;
            let now = sys::monotonic_ms();
            let actions = self.life.step(
                event,
                &Ctx {
                    policy: &self.policy,
                    now_ms: now,
                },
            );
            if self.life.state != before {
                self.since_unix = unix_now();
            }
            next = self.carry_out(actions, now);
            if self.life.state != before {
                self.broadcast_event();
            }
        }
    }

    fn carry_out(&mut self, a: Actions, now: u64) -> Option<Event> {
        if a.disarm_timer {
            self.timer_at = None;
            self.check_at = None;
            self.pidfile_at = None;
        }
        if let Some(ms) = a.arm_timer {
            self.timer_at = Some(now.saturating_add(ms));
        }
        if a.count_restart {
            self.life.restarts += 1;
        }
        if a.reap_group {
            self.reap_group();
        }
        if a.cleanup {
            self.remove_runtime_dirs();
        }
        if a.kill_all {
            self.kill_all();
        }
        if a.signal_stop {
            self.check_at = None;
            self.pidfile_at = None;
            if let Some(e) = self.signal_stop() {
                return Some(e);
            }
        }
        if a.run_stop_command
            && let Some(e) = self.run_stop_command()
        {
            return Some(e);
        }
        if a.prepare {
            self.kill_leftovers();
        }
        if a.prepare
            && let Err(e) = self.prepare()
        {
            self.log.notice_fmt(format_args!("start failed: {e}"));
            return Some(Event::StartFailed);
        }
        if a.run_pre {
            return self.run_pre(0);
        }
        if a.spawn {
            return Some(self.spawn_main());
        }
        if a.watch_ready {
            self.watch_ready(now);
        }
        None
    }

    /// Never two copies: what an earlier run (or an earlier supervisor)
    /// left in the leaf is killed before a start.
    fn kill_leftovers(&mut self) {
        let Some(leaf) = &self.leaf else {
            return;
        };
        // What this supervisor killed itself is dying, not reaped yet: it
        // is killed once more, quietly.
        let ours = std::mem::take(&mut self.leaf_killed);
        if !leaf.populated().unwrap_or(false) {
            return;
        }
        if !ours {
            let mut n = 0usize;
            let _ = leaf.for_each_member(|_| n += 1);
            self.log.notice_fmt(format_args!(
                "killing {n} processes left in {} before starting",
                leaf.dir().display()
            ));
        }
        if let Err(e) = self.kill_leaf(leaf) {
            self.log_cgroup_error(&e);
        }
    }

    /// Builds the prepared commands (once) and the runtime directories.
    fn prepare(&mut self) -> Result<(), String> {
        if self.prepared.is_none() {
            let spec = &self.spec;
            let creds = creds::resolve(
                spec.user.as_deref(),
                spec.group.as_deref(),
                &spec.supplementary_groups,
            )?;
            let ctx = Context::new(
                spec,
                creds,
                self.sd_notify.as_ref().map(|s| s.address.as_str()),
            )?;
            let root = spec.root_directory.as_deref();
            let cmd = |argv: &[String]| Command::new(argv, &ctx.search_path, root);
            let main = cmd(&spec.exec)?;
            let pre = spec
                .exec_pre
                .iter()
                .map(|c| cmd(c))
                .collect::<Result<Vec<_>, _>>()?;
            let stop = spec.exec_stop.as_deref().map(cmd).transpose()?;
            let check = match &spec.ready {
                Ready::Check(c) => Some(cmd(c)?),
                _ => None,
            };
            let runtime_dirs = match &spec.runtime_root {
                Some(root) => spec
                    .runtime_directory
                    .iter()
                    .map(|d| root.join(d))
                    .collect(),
                None => Vec::new(),
            };
            if self.leaf_ever_killed.get() {
                ctx.leaf_killed(spec.cgroup_fork);
            }
            if let (Some(sd), Some(c)) = (&self.sd_notify, ctx.creds()) {
                sd.give_to(c.uid, c.gid)?;
            }
            self.prepared = Some(Prepared {
                ctx,
                main,
                pre,
                stop,
                check,
                runtime_dirs,
            });
            sys::trim_heap();
        }
        let Some(p) = &self.prepared else {
            return Ok(());
        };
        for dir in &p.runtime_dirs {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            if let Some(c) = p.ctx.creds() {
                std::os::unix::fs::chown(dir, Some(c.uid), Some(c.gid))
                    .map_err(|e| format!("{}: {e}", dir.display()))?;
            }
        }
        Ok(())
    }

    fn remove_runtime_dirs(&mut self) {
        if let Some(p) = &self.prepared {
            for dir in &p.runtime_dirs {
                if dir.exists()
                    && let Err(e) = sys::remove_tree(dir)
                {
                    self.log
                        .notice_fmt(format_args!("removing {}: {e}", dir.display()));
                }
            }
        }
    }

    fn stdio(&self, extra: Option<(RawFd, RawFd)>) -> Stdio {
        let (stdout, stderr) = self.log.service_fds();
        Stdio {
            stdout,
            stderr,
            extra,
        }
    }

    /// Runs `exec-pre` command `index`, or reports that all are done.
    /// Runs `exec-pre` command `index`; the event to feed, if any (none
    /// while the command runs).
    fn run_pre(&mut self, index: usize) -> Option<Event> {
        let Some(p) = &self.prepared else {
            return Some(Event::StartFailed);
        };
        let Some(cmd) = p.pre.get(index) else {
            return Some(Event::PreDone);
        };
        match spawn::spawn(&p.ctx, cmd, &self.stdio(None)) {
            Ok(pid) => {
                self.aux = Some((pid, AuxKind::Pre(index)));
                self.pgid = pid;
                None
            }
            Err(e) => {
                self.log.notice_fmt(format_args!("exec-pre failed: {e}"));
                Some(Event::StartFailed)
            }
        }
    }

    fn spawn_main(&mut self) -> Event {
        let Some(p) = &self.prepared else {
            return Event::StartFailed;
        };
        let mut notify_write = None;
        let extra = match self.spec.ready {
            Ready::NotifyFd(n) => match sys::pipe(0) {
                Ok((r, w)) => {
                    let _ = sys::set_nonblocking(r.as_raw_fd());
                    self.notify_pipe = Some(NotifyPipe { read: r });
                    let raw = w.as_raw_fd();
                    notify_write = Some(w);
                    Some((raw, n))
                }
                Err(e) => {
                    self.log.notice_fmt(format_args!("notify pipe: {e}"));
                    return Event::StartFailed;
                }
            },
            _ => None,
        };
        let result = spawn::spawn(&p.ctx, &p.main, &self.stdio(extra));
        drop(notify_write);
        match result {
            Ok(pid) => {
                self.main_pid = pid;
                self.pgid = pid;
                self.log.pid = pid;
                self.forking_initial = self.spec.kind == Kind::Forking;
                self.pidfile_refused = false;
                self.status_len = 0;
                Event::Spawned
            }
            Err(e) => {
                self.notify_pipe = None;
                self.log.notice_fmt(format_args!("start failed: {e}"));
                Event::StartFailed
            }
        }
    }

    fn watch_ready(&mut self, now: u64) {
        if matches!(self.spec.ready, Ready::Check(_)) && !self.forking_initial {
            self.check_at = Some(now);
        }
    }

    fn start_check(&mut self) {
        let Some(p) = &self.prepared else { return };
        let Some(cmd) = &p.check else { return };
        match spawn::spawn(&p.ctx, cmd, &self.stdio(None)) {
            Ok(pid) => self.aux = Some((pid, AuxKind::Check)),
            Err(e) => {
                self.log.notice_fmt(format_args!("ready check: {e}"));
                self.check_at = Some(sys::monotonic_ms() + self.spec.check_interval_ms);
            }
        }
    }

    /// `exec-stop`, or the stop signal to the group (and the daemon of a
    /// forking service). Returns an event when nothing is left to wait for.
    fn signal_stop(&mut self) -> Option<Event> {
        // A readiness check has nothing more to say.
        if let Some((pid, AuxKind::Check)) = self.aux {
            let _ = sys::kill(-pid, libc::SIGKILL);
            self.aux = None;
        }
        if self.main_pid == 0 {
            return match self.aux {
                // A pre command is running: stop it like a service.
                Some((pid, AuxKind::Pre(_))) => {
                    let _ = sys::kill(-pid, self.spec.stop_signal);
                    let _ = sys::kill(-pid, libc::SIGCONT);
                    None
                }
                _ => Some(Event::ExitFail),
            };
        }
        if let Some(p) = &self.prepared
            && let Some(cmd) = &p.stop
        {
            match spawn::spawn_with_main_pid(&p.ctx, cmd, &self.stdio(None), self.main_pid) {
                Ok(pid) => {
                    self.aux = Some((pid, AuxKind::Stop));
                    return None;
                }
                Err(e) => self.log.notice_fmt(format_args!("exec-stop: {e}")),
            }
        }
        self.signal_service(self.spec.stop_signal);
        None
    }

    /// `exec-stop` of a finished oneshot. Returns an event when it could
    /// not be run: the stop is then over.
    fn run_stop_command(&mut self) -> Option<Event> {
        let Some(p) = &self.prepared else {
            return Some(Event::ExitFail);
        };
        let Some(cmd) = &p.stop else {
            return Some(Event::ExitOk);
        };
        match spawn::spawn(&p.ctx, cmd, &self.stdio(None)) {
            Ok(pid) => {
                self.aux = Some((pid, AuxKind::Stop));
                None
            }
            Err(e) => {
                self.log.notice_fmt(format_args!("exec-stop: {e}"));
                Some(Event::ExitFail)
            }
        }
    }

    /// Sends `signal` to the service's process group and main process,
    /// once to each process: a main process still in the group is not
    /// signalled again (a shell's trap would run twice).
    fn signal_service(&self, signal: i32) {
        if let Some(leaf) = &self.leaf {
            // Every process of the service, escaped ones included, and
            // each once (systemd's control-group kill mode).
            self.signal_leaf(leaf, signal);
            return;
        }
        self.signal_group(signal);
    }

    /// Without a cgroup: the process group and the main process.
    fn signal_group(&self, signal: i32) {
        // SAFETY: getpgid has no memory arguments.
        let main_in_group = self.pgid != 0
            && self.main_pid > 0
            && unsafe { libc::getpgid(self.main_pid) } == self.pgid;
        let main = if main_in_group { 0 } else { self.main_pid };
        for target in [-self.pgid, main] {
            if target != 0 {
                let _ = sys::kill(target, signal);
                if signal != libc::SIGKILL && signal != libc::SIGCONT {
                    let _ = sys::kill(target, libc::SIGCONT);
                }
            }
        }
        // A forking service's daemon may lead a group of its own.
        if self.main_pid > 0 && self.main_pid != self.pgid {
            // SAFETY: getpgid has no memory arguments.
            if unsafe { libc::getpgid(self.main_pid) } == self.main_pid {
                let _ = sys::kill(-self.main_pid, signal);
            }
        }
    }

    /// `cgroup.kill` on the leaf; from then on its children are moved
    /// into it rather than forked there where the manager trusted the
    /// kernel only until then.
    fn kill_leaf(&self, leaf: &libsvc::cgroup::Leaf) -> Result<(), libsvc::cgroup::Error> {
        self.leaf_ever_killed.set(true);
        if let Some(p) = &self.prepared {
            p.ctx.leaf_killed(self.spec.cgroup_fork);
        }
        leaf.kill()
    }

    /// `signal` to every member of the leaf, then SIGCONT (a stopped
    /// process would not act on it); SIGKILL is `cgroup.kill`.
    fn signal_leaf(&self, leaf: &libsvc::cgroup::Leaf, signal: i32) {
        let r = if signal == libc::SIGKILL {
            self.kill_leaf(leaf)
        } else {
            match nix::sys::signal::Signal::try_from(signal) {
                Ok(sig) => leaf.signal_all(sig).map(|_| ()),
                // A real-time signal: nix has no name for it.
                Err(_) => leaf.for_each_member(|p| {
                    let _ = sys::kill(p, signal);
                }),
            }
        };
        if signal != libc::SIGKILL && signal != libc::SIGCONT {
            let _ = leaf.signal_all(nix::sys::signal::Signal::SIGCONT);
        }
        if let Err(e) = r {
            self.log_cgroup_error(&e);
        }
    }

    fn log_cgroup_error(&self, e: &libsvc::cgroup::Error) {
        sys::stderr_fmt(format_args!("svc-supervise: {}: {e}\n", self.spec.name));
    }

    /// Whether the leaf is empty, killing what is in it the first time it
    /// is not (the supervisor is about to exit: nothing of the service may
    /// outlive it). Without a leaf: always.
    fn cgroup_empty(&mut self) -> bool {
        let Some(leaf) = &self.leaf else {
            return true;
        };
        if self.leaf_draining {
            return false;
        }
        match leaf.populated() {
            Ok(false) => return true,
            // Gone or unreadable: nothing more can be done from here.
            Err(_) => return true,
            Ok(true) => {}
        }
        if let Err(e) = self.kill_leaf(leaf) {
            self.log_cgroup_error(&e);
        }
        self.leaf_events = leaf.open_events().ok();
        self.leaf_draining = true;
        self.leaf_drain_until = sys::monotonic_ms()
            .saturating_add(self.spec.stop_timeout_ms)
            .saturating_add(1000);
        self.recheck_cgroup();
        !self.leaf_draining
    }

    /// Looks whether the leaf being drained is empty now; kills again if
    /// not (a fork can race a kill), and looks again later.
    fn recheck_cgroup(&mut self) {
        let Some(leaf) = &self.leaf else {
            return;
        };
        let populated = match &self.leaf_events {
            Some(fd) => leaf.populated_fd(fd),
            None => leaf.populated(),
        };
        let now = sys::monotonic_ms();
        let give_up = now >= self.leaf_drain_until;
        if matches!(populated, Ok(false) | Err(_)) || give_up {
            if give_up && matches!(populated, Ok(true)) {
                sys::stderr_fmt(format_args!(
                    "svc-supervise: {}: {} still holds processes after SIGKILL; exiting anyway\n",
                    self.spec.name,
                    leaf.dir().display()
                ));
            }
            self.leaf_draining = false;
            self.leaf_events = None;
            self.leaf_check_at = None;
            // Said and done once: the exit goes on.
            self.leaf = None;
            return;
        }
        if self.leaf_check_at.is_some_and(|t| t <= now) {
            let _ = self.kill_leaf(leaf);
        }
        self.leaf_check_at = Some(now + CGROUP_RECHECK_MS);
    }

    /// SIGKILL to the group and to every descendant (those that escaped
    /// the group are our children or grandchildren, as we are a subreaper),
    /// and to the whole leaf.
    fn kill_all(&mut self) {
        self.signal_service(libc::SIGKILL);
        if self.leaf.is_some() {
            self.leaf_killed = true;
            self.signal_group(libc::SIGKILL);
        }
        if let Some((pid, _)) = self.aux {
            let _ = sys::kill(-pid, libc::SIGKILL);
        }
        sys::kill_descendants(|_| false);
    }

    /// The main process is gone: nothing of this run may survive it.
    fn reap_group(&mut self) {
        if self.pgid > 0 {
            let _ = sys::kill(-self.pgid, libc::SIGKILL);
        }
        if let Some(leaf) = &self.leaf {
            self.leaf_killed = true;
            if let Err(e) = self.kill_leaf(leaf) {
                self.log_cgroup_error(&e);
            }
        }
        if let Some((pid, _)) = self.aux.take() {
            let _ = sys::kill(-pid, libc::SIGKILL);
        }
        sys::kill_descendants(|_| false);
        self.pgid = 0;
        self.notify_pipe = None;
    }

    // ----- what the outside world does -----

    fn on_signals(&mut self) {
        while let Some(sig) = sys::read_signal(&self.signals) {
            match sig as i32 {
                libc::SIGCHLD => self.reap(),
                libc::SIGTERM | libc::SIGINT => self.request_exit(),
                _ => {}
            }
        }
    }

    fn request_exit(&mut self) {
        self.exiting = true;
        // Also in Stopping: a pending restart must not happen.
        self.feed(Event::WantDown);
    }

    fn reap(&mut self) {
        while let Some((pid, how)) = sys::reap_one() {
            if pid == self.main_pid {
                self.on_main_exit(how);
            } else if let Some((aux_pid, kind)) = self.aux
                && pid == aux_pid
            {
                self.aux = None;
                self.on_aux_exit(kind, how);
            }
        }
    }

    /// The main process named by MAINPID= exited. If it was our child the
    /// SIGCHLD path handles it; otherwise its status is unknown.
    fn on_main_pidfd(&mut self) {
        self.main_pidfd = None;
        let pid = self.main_pid;
        if pid <= 0 {
            return;
        }
        if let Some(how) = sys::reap_pid(pid) {
            self.on_main_exit(how);
            return;
        }
        if sys::kill(pid, 0).is_err() || !sys::alive(pid) {
            self.log
                .notice_fmt(format_args!("main process {pid} exited (status unknown)"));
            self.main_pid = 0;
            self.log.flush_partial();
            self.feed(Event::ExitFail);
        }
    }

    fn on_main_exit(&mut self, how: ExitStatus) {
        self.main_pidfd = None;
        if self.forking_initial && self.life.state == State::Running {
            self.main_pid = 0;
            if how.success() {
                self.pidfile_at = Some(sys::monotonic_ms());
                self.read_pidfile();
                return;
            }
        }
        self.main_pid = 0;
        self.forking_initial = false;
        self.pidfile_at = None;
        self.last_exit = Some(how);
        self.log.flush_partial();
        if self.life.state != State::Stopping {
            match how {
                ExitStatus::Code(c) if c != 0 => {
                    self.log.notice_fmt(format_args!("exited with status {c}"))
                }
                ExitStatus::Signal(s) => self.log.notice_fmt(format_args!("killed by signal {s}")),
                _ => {}
            }
        }
        self.feed(if how.success() {
            Event::ExitOk
        } else {
            Event::ExitFail
        });
    }

    fn read_pidfile(&mut self) {
        let Some(path) = &self.pidfile_c else {
            return;
        };
        let mut buf = [0u8; 32];
        let Some((text, file)) = read_small_file(path, &mut buf) else {
            self.pidfile_at = Some(sys::monotonic_ms() + PIDFILE_RETRY_MS);
            return;
        };
        let pid = std::str::from_utf8(text)
            .ok()
            .and_then(|t| t.trim().parse::<i32>().ok())
            .filter(|&p| p > 1 && sys::kill(p, 0).is_ok());
        let Some(pid) = pid else {
            self.pidfile_at = Some(sys::monotonic_ms() + PIDFILE_RETRY_MS);
            return;
        };
        // A pid file that a non-root user could have written may name any
        // process: believed only for a descendant of ours (systemd's rule).
        let untrusted = writable_by_others(&file)
            || self
                .pidfile_dir_c
                .as_deref()
                .and_then(stat_path)
                .is_none_or(|dir| writable_by_others(&dir));
        let refused = match &self.leaf {
            // With a cgroup the pid file may only name one of its members,
            // whoever wrote it.
            Some(leaf) => !leaf.contains(pid).unwrap_or(false),
            None => untrusted && !sys::is_descendant(pid),
        };
        if refused {
            if !self.pidfile_refused {
                self.pidfile_refused = true;
                let shown = self.spec.pidfile.as_deref().unwrap_or(Path::new(""));
                match &self.leaf {
                    Some(leaf) => self.log.notice_fmt(format_args!(
                        "{}: pid {pid} is not a process of the service's cgroup {}: ignored",
                        shown.display(),
                        leaf.dir().display()
                    )),
                    None => self.log.notice_fmt(format_args!(
                        "{}: pid {pid} is not a descendant of the supervisor, and a non-root user \
                         can write the file: ignored",
                        shown.display()
                    )),
                }
            }
            self.pidfile_at = Some(sys::monotonic_ms() + PIDFILE_RETRY_MS);
            return;
        }
        self.pidfile_at = None;
        self.forking_initial = false;
        self.main_pid = pid;
        self.log.pid = pid;
        // The daemon exited already? Then its exit was reaped as an unknown
        // pid; kill(pid, 0) above would have failed for a reaped process.
        match self.spec.ready {
            Ready::Started => self.feed(Event::Ready),
            Ready::Check(_) => self.check_at = Some(sys::monotonic_ms()),
            _ => {}
        }
    }

    fn on_aux_exit(&mut self, kind: AuxKind, how: ExitStatus) {
        match kind {
            AuxKind::Pre(i) => {
                self.log.flush_partial();
                if self.life.state == State::Stopping {
                    self.feed(Event::ExitFail);
                } else if how.success() {
                    if let Some(e) = self.run_pre(i + 1) {
                        self.feed(e);
                    }
                } else {
                    self.log
                        .notice_fmt(format_args!("exec-pre command {} failed: {how}", i + 1));
                    self.feed(Event::StartFailed);
                }
            }
            AuxKind::Check => {
                if how.success() {
                    self.feed(Event::Ready);
                } else if self.life.state == State::Running {
                    self.check_at = Some(sys::monotonic_ms() + self.spec.check_interval_ms);
                }
            }
            // A finished oneshot's stop command: its end is the stop's.
            AuxKind::Stop if self.main_pid == 0 && self.life.state == State::Stopping => {
                self.log.flush_partial();
                if !how.success() {
                    self.log.notice_fmt(format_args!("exec-stop failed: {how}"));
                }
                self.feed(if how.success() {
                    Event::ExitOk
                } else {
                    Event::ExitFail
                });
            }
            // The stop timer keeps running: SIGKILL if the service outlives it.
            AuxKind::Stop => {}
        }
    }

    fn on_notify_pipe(&mut self) {
        let Some(pipe) = &self.notify_pipe else {
            return;
        };
        match pipe.poll_ready() {
            PipeNews::Ready => {
                self.notify_pipe = None;
                self.feed(Event::Ready);
            }
            PipeNews::Nothing => {}
            PipeNews::Closed => self.notify_pipe = None,
        }
    }

    fn on_sd_notify(&mut self) {
        let mut buf = std::mem::take(&mut self.notify_buf);
        for _ in 0..16 {
            let Some(sock) = &self.sd_notify else { break };
            let Some((n, pid, uid)) = sock.recv(&mut buf) else {
                break;
            };
            if pid == 0 || pid != self.main_pid {
                continue;
            }
            let notice = parse_notice(&buf[..n]);
            if let Some((a, b)) = notice.status {
                let len = (b - a).min(self.status_text.len());
                self.status_text[..len].copy_from_slice(&buf[a..a + len]);
                self.status_len = len;
            }
            if let Some(pid) = notice.main_pid
                && pid != self.main_pid
            {
                // Stop signals go to the main pid and its group: a service
                // may only name one of its own processes: a member of its
                // cgroup; without one, a descendant of ours, or anything
                // when it is root (systemd's rule).
                if self.may_be_main(pid, uid == 0) {
                    self.main_pid = pid;
                    self.log.pid = pid;
                    // Not necessarily our child: a pidfd tells when it exits.
                    self.main_pidfd = sys::pidfd_open(pid);
                } else {
                    if let Some(leaf) = &self.leaf {
                        self.log.notice_fmt(format_args!(
                            "MAINPID={pid} ignored: not a process of the service's cgroup {}",
                            leaf.dir().display()
                        ));
                    } else {
                        self.log.notice_fmt(format_args!(
                            "MAINPID={pid} ignored: not a live descendant of the supervisor \
                             (sender uid {uid})"
                        ));
                    }
                }
            }
            if notice.ready {
                self.feed(Event::Ready);
            }
            if notice.stopping {
                self.feed(Event::Stopping);
            }
        }
        self.notify_buf = buf;
    }

    /// Whether a MAINPID= may name `pid`: a member of the leaf, else
    /// (no cgroup) a descendant, or any live process when root says so.
    fn may_be_main(&self, pid: i32, root: bool) -> bool {
        if pid <= 1 {
            return false;
        }
        match &self.leaf {
            Some(leaf) => leaf.contains(pid).unwrap_or(false),
            None => (root && sys::alive(pid)) || sys::is_descendant(pid),
        }
    }

    fn run_timers(&mut self) {
        let now = sys::monotonic_ms();
        if self.pidfile_at.is_some_and(|t| t <= now) {
            self.read_pidfile();
        }
        if self.check_at.is_some_and(|t| t <= now) {
            self.check_at = None;
            if self.life.state == State::Running && self.aux.is_none() {
                self.start_check();
            }
        }
        if self.timer_at.is_some_and(|t| t <= now) {
            self.timer_at = None;
            self.feed(Event::Timeout);
        }
        if self.leaf_check_at.is_some_and(|t| t <= now) {
            self.recheck_cgroup();
        }
        self.expire_clients(now);
    }
}

/// Reads a small file into `buf` without allocating; also its status.
fn read_small_file<'b>(path: &std::ffi::CStr, buf: &'b mut [u8]) -> Option<(&'b [u8], libc::stat)> {
    // SAFETY: path is NUL-terminated.
    let fd = unsafe { libc::open(path.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) };
    if fd < 0 {
        return None;
    }
    // SAFETY: a fresh fd nothing else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: stat is plain data.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: fd is open; st is a valid out-pointer.
    if unsafe { libc::fstat(fd.as_raw_fd(), &mut st) } != 0 {
        return None;
    }
    let n = sys::read(fd.as_raw_fd(), buf).ok()?;
    Some((&buf[..n], st))
}

fn stat_path(path: &std::ffi::CStr) -> Option<libc::stat> {
    // SAFETY: stat is plain data.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: path is NUL-terminated; st is a valid out-pointer.
    (unsafe { libc::stat(path.as_ptr(), &mut st) } == 0).then_some(st)
}

/// Owned by a non-root user, or writable by group or others.
fn writable_by_others(st: &libc::stat) -> bool {
    st.st_uid != 0 || st.st_mode & 0o022 != 0
}
