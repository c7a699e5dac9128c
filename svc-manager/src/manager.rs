//! The manager's state and its one epoll loop: a signalfd, the control
//! socket, one connection per supervisor, one per client. Nothing blocks:
//! every socket is non-blocking, every message is received incrementally.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ffi::OsString;
use std::num::NonZeroI32;
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use libnv::{NvList, NvReceiver, NvSender};
use libsvc::graph::Graph;
use libsvc::load::{Layout, ServiceSet};
use nix::sys::signalfd::SignalFd;

use crate::console::{Console, Verdict};
use crate::jobs::Jobs;
use crate::link::{Incoming, Link};
use crate::proto::{self, Status};
use crate::spec::{self, Places};
use crate::sys;

mod early;
mod host;

/// Everything fixed at start-up.
pub struct Config {
    pub user_mode: bool,
    pub layout: Layout,
    pub socket: PathBuf,
    pub runtime_dir: PathBuf,
    /// Where new supervisors log: `wanted_log_dir`, or RUNTIME/log while
    /// that cannot be written (manager/early.rs).
    pub log_dir: PathBuf,
    /// The log directory asked for (--log-dir).
    pub wanted_log_dir: PathBuf,
    pub runtime_base: PathBuf,
    /// `--log-group` resolved: the gid every declaration gives the log.
    pub log_group: Option<u32>,
    pub target: String,
    pub control_group: Option<nix::unistd::Group>,
    pub supervise: PathBuf,
    pub notify_fd: Option<RawFd>,
    pub notify_socket: Option<OsString>,
    /// How long a client connection may sit idle (control.rs).
    pub client_idle_timeout: Duration,
    /// The cgroups of the services (cgroups.rs); None: not in use, and
    /// `cgroups_not_in_use` says why.
    pub cgroups: Option<libsvc::cgroup::Cgroups>,
    pub cgroups_not_in_use: Option<String>,
    /// Supervisors and services are forked straight into their leaves
    /// (`clone3`'s `CLONE_INTO_CGROUP`) always, not only while these are
    /// new: tried at start (libsvc::cgroup::fork_into_is_sound).
    pub fork_into_cgroup: bool,
}

/// A partial message must complete within this long of its first byte.
pub const MESSAGE_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest request a client may send.
pub const CLIENT_MESSAGE_MAX: usize = 64 * 1024;
/// Connections one non-root uid may hold open at once.
pub const MAX_CONNECTIONS_PER_UID: usize = 32;
/// Connections in all.
pub const MAX_CONNECTIONS: usize = 512;
/// Replies and events a client has not read yet, before it is cut off.
pub const MAX_CLIENT_BACKLOG: usize = 4 << 20;
/// Above this backlog a client's further requests wait until it reads.
pub const PAUSE_CLIENT_BACKLOG: usize = 256 << 10;
/// Requests taken from one client per loop turn, so that one busy client
/// cannot starve the others.
pub const REQUESTS_PER_TURN: usize = 64;

/// What the manager knows of one service beyond its declaration.
#[derive(Default)]
pub struct Unit {
    /// Index into `Manager::links`.
    pub link: Option<usize>,
    pub status: Status,
    /// The supervisor's `restarts` when it was last told to start.
    pub restarts_base: u64,
    /// Start it again once its current supervisor has gone (its
    /// declaration changed, or it died) and nothing of it is left.
    pub respawn: bool,
    /// The pid of its supervisor (ours or adopted).
    pub supervisor_pid: Option<NonZeroI32>,
    /// A handle on its main process while the supervisor reports one.
    pub main: Option<crate::orphans::MainProc>,
    /// What only a unit something went wrong with has ([`Unit::trouble`]).
    trouble: Option<Box<Trouble>>,
    /// Its cgroup limits and OOM kills (resources.rs).
    pub cgroup: crate::resources::CgroupState,
}

/// What only a unit something went wrong with has: boxed, and absent
/// until then, since every one of a thousand units would carry its size.
#[derive(Default)]
pub struct Trouble {
    /// Why a plan did not start it (`dependency X failed`).
    pub blocked: Option<String>,
    /// What a dead supervisor left running, being stopped.
    pub orphan: Option<crate::orphans::Orphan>,
    /// When the manager last replaced a supervisor that died.
    pub supervisor_respawned_at: Option<Instant>,
    /// Its last exit was the OOM killer's: the reason to show
    /// (resources.rs).
    pub oom: Option<String>,
}

/// What a unit without trouble reads.
static NO_TROUBLE: Trouble = Trouble {
    blocked: None,
    orphan: None,
    supervisor_respawned_at: None,
    oom: None,
};

impl Unit {
    pub fn trouble(&self) -> &Trouble {
        self.trouble.as_deref().unwrap_or(&NO_TROUBLE)
    }
    /// Its trouble, to record some.
    pub fn trouble_mut(&mut self) -> &mut Trouble {
        self.trouble.get_or_insert_with(Box::default)
    }
    /// Its trouble, to clear some: None when it has none (nothing is
    /// made to be cleared).
    pub fn trouble_to_clear(&mut self) -> Option<&mut Trouble> {
        self.trouble.as_deref_mut()
    }
    /// A dead supervisor of it left something that is being stopped.
    pub fn has_orphan(&self) -> bool {
        self.trouble().orphan.is_some()
    }
}

pub struct Client {
    pub sock: UnixStream,
    pub rx: NvReceiver,
    pub tx: NvSender,
    pub uid: u32,
    pub privileged: bool,
    pub partial_since: Option<Instant>,
    /// When it last sent a byte (or connected).
    pub last_heard: Instant,
    /// Since when its queued output has not moved.
    pub stalled_since: Option<Instant>,
    /// The most output it has had queued since its buffer was last renewed.
    pub peak_output: usize,
    /// Stopped early (requests per turn, or too much unread): serve it
    /// again without waiting for new bytes.
    pub more: bool,
    pub watching: bool,
    /// The events registered for `sock` with the manager's epoll (None:
    /// not registered yet).
    pub interest: Option<u32>,
}

pub struct Manager {
    pub(crate) cfg: Config,
    pub(crate) set: ServiceSet,
    pub(crate) graph: Graph,
    /// Boxed units: the table has room for up to twice as many entries as
    /// it holds, and a unit is a few hundred bytes.
    pub(crate) units: HashMap<String, Box<Unit>>,
    pub(crate) links: Vec<Option<Link>>,
    pub(crate) targets_up: BTreeSet<String>,
    pub(crate) clients: BTreeMap<u64, Client>,
    pub(crate) next_client: u64,
    /// Output queued for all clients together.
    pub(crate) client_output: usize,
    /// The job engine (jobs.rs); the manager is its `Host` (manager/host.rs).
    pub(crate) jobs: Jobs,
    console: Console,
    pub(crate) listener: UnixListener,
    signals: SignalFd,
    pub(crate) events: sys::Events,
    /// The events registered for the listener.
    listener_interest: Option<u32>,
    /// The descriptor limit, the spare, the estimate of what is free.
    pub fds: crate::fds::Descriptors,
    /// Set when a shutdown has finished: leave the loop.
    pub(crate) exit: bool,
    /// The status the loop ends with.
    pub(crate) exit_status: i32,
    pub(crate) started_at: u64,
    pub(crate) notified: bool,
    /// Units whose dead supervisor left something running (`Unit::orphan`).
    pub(crate) orphaned: BTreeSet<String>,
    /// Services whose cgroup was still busy when they stopped (cgroups.rs).
    pub(crate) cgroups_busy: BTreeSet<String>,
}

enum Who {
    Signals,
    Listener,
    Link(usize),
    Client(u64),
}

impl Who {
    /// The epoll token: the kind in the low two bits, the index or key
    /// above them.
    fn token(&self) -> u64 {
        match self {
            Who::Signals => 0,
            Who::Listener => 1,
            Who::Link(i) => ((*i as u64) << 2) | 2,
            Who::Client(k) => (k << 2) | 3,
        }
    }

    fn from_token(t: u64) -> Who {
        match t & 3 {
            0 => Who::Signals,
            1 => Who::Listener,
            2 => Who::Link((t >> 2) as usize),
            _ => Who::Client(t >> 2),
        }
    }
}

/// The epoll token of client `key`.
pub fn client_token(key: u64) -> u64 {
    Who::Client(key).token()
}

impl Manager {
    pub fn new(
        cfg: Config,
        listener: UnixListener,
        signals: SignalFd,
        events: sys::Events,
    ) -> Manager {
        let mut m = Manager {
            cfg,
            set: ServiceSet::default(),
            graph: Graph::default(),
            units: HashMap::new(),
            links: Vec::new(),
            targets_up: BTreeSet::new(),
            clients: BTreeMap::new(),
            next_client: 1,
            client_output: 0,
            jobs: Jobs::default(),
            console: Console::new(),
            listener,
            signals,
            events,
            listener_interest: None,
            fds: crate::fds::Descriptors::new(),
            exit: false,
            exit_status: 0,
            started_at: proto::now_unix(),
            notified: false,
            orphaned: BTreeSet::new(),
            cgroups_busy: BTreeSet::new(),
        };
        m.load();
        m
    }

    // ----- declarations -----

    /// Loads the declarations; a file with errors keeps its last good
    /// version. Returns the diagnostics as text.
    pub fn load(&mut self) -> Vec<String> {
        let mut set = ServiceSet::load(&self.cfg.layout);
        for (name, _) in set.broken.clone() {
            if let Some(old) = self.set.declarations.get(&name) {
                tracing::warn!("{name}: keeping the last good declaration");
                set.declarations.insert(name.clone(), old.clone());
            }
        }
        let (graph, graph_diags) = Graph::build(&set);
        let mut out = Vec::new();
        for d in set.diagnostics.iter().chain(&graph_diags) {
            if d.is_error() {
                tracing::error!("{d}");
            } else {
                tracing::warn!("{d}");
            }
            out.push(d.to_string());
        }
        self.set = set;
        self.graph = graph;
        self.check_log_dir();
        self.reapply_limits();
        out
    }

    pub fn is_target(&self, name: &str) -> bool {
        self.set
            .declarations
            .get(name)
            .is_some_and(|d| d.is_target())
    }

    /// A name the manager can talk about: declared, or running without a
    /// declaration (adopted, or its file removed). An instance of a template
    /// is made when `create` (a privileged request names it); a read-only
    /// request only learns that it could be, so reading cannot grow the set.
    pub fn knows(&mut self, name: &str, create: bool) -> bool {
        if self.set.declarations.contains_key(name) {
            return true;
        }
        if self.units.get(name).is_some_and(|u| u.link.is_some()) {
            return true;
        }
        if !create {
            return match libsvc::names::classify(name) {
                Ok(libsvc::names::NameKind::Instance { template, .. }) => {
                    self.set.templates.get(template).is_some_and(|t| !t.broken)
                }
                _ => false,
            };
        }
        if self.set.instantiate(name) {
            let (graph, _) = Graph::build(&self.set);
            self.graph = graph;
            return true;
        }
        false
    }

    pub fn link_mut(&mut self, name: &str) -> Option<&mut Link> {
        let i = self.units.get(name)?.link?;
        self.links[i].as_mut()
    }

    /// Running, as plans count it: a service whose supervisor says it is up,
    /// a target that was reached.
    pub fn is_up(&self, name: &str) -> bool {
        if self.targets_up.contains(name) {
            return true;
        }
        self.units
            .get(name)
            .is_some_and(|u| u.link.is_some() && u.status.is_up())
    }

    /// Has a supervisor (or is a reached target): what a stop must stop.
    /// A service whose dead supervisor left something running counts too.
    pub fn is_active(&self, name: &str) -> bool {
        self.targets_up.contains(name)
            || self
                .units
                .get(name)
                .is_some_and(|u| u.link.is_some() || u.has_orphan())
    }

    pub fn active_names(&self) -> BTreeSet<String> {
        let mut s: BTreeSet<String> = self.targets_up.iter().cloned().collect();
        s.extend(
            self.units
                .iter()
                .filter(|(_, u)| u.link.is_some() || u.has_orphan())
                .map(|(n, _)| n.clone()),
        );
        s
    }

    pub fn control_path(&self, name: &str) -> PathBuf {
        libsvc::limits::supervisor_socket(&self.cfg.runtime_dir, name)
    }

    pub fn log_path(&self, name: &str) -> PathBuf {
        let path = self.cfg.log_dir.join(name).join("current");
        // Started while the log directory could not be written, it may
        // still log under RUNTIME/log (manager/early.rs).
        let early = crate::logdir::early_dir(&self.cfg.runtime_dir)
            .join(name)
            .join("current");
        if !path.exists() && early.exists() {
            return early;
        }
        path
    }

    // ----- supervisors -----

    fn add_link(&mut self, link: Link) -> usize {
        let name = link.name.clone();
        let i = match self.links.iter().position(Option::is_none) {
            Some(i) => {
                self.links[i] = Some(link);
                i
            }
            None => {
                self.links.push(Some(link));
                self.links.len() - 1
            }
        };
        self.units.entry(name).or_default().link = Some(i);
        i
    }

    /// Tells the service's supervisor to start it, starting a supervisor
    /// first when there is none. Err: it cannot be started at all.
    pub fn start_unit(&mut self, name: &str) -> Result<(), String> {
        let service = match self.set.declarations.get(name) {
            Some(d) => match d.service() {
                Some(s) => s.clone(),
                None => return Err("a target has no process".into()),
            },
            None => return Err("no declaration".into()),
        };
        let unit = self.units.entry(name.to_owned()).or_default();
        if let Some(t) = unit.trouble_to_clear() {
            t.blocked = None;
        }
        if unit.has_orphan() {
            // Never two copies: this start waits until what the dead
            // supervisor left has stopped.
            unit.respawn = true;
            return Ok(());
        }
        if let Some(i) = unit.link {
            let restarts = unit.status.restarts;
            let has_process = unit.status.has_process();
            let Some(link) = self.links[i].as_mut() else {
                return Err("supervisor lost".into());
            };
            if link.exiting {
                return Err("it is being stopped".into());
            }
            let stale = link.runs_other_than(&service);
            if stale && !has_process {
                // The declaration changed: a fresh supervisor takes it.
                link.exiting = true;
                link.request("exit", None);
                if let Some(u) = self.units.get_mut(name) {
                    u.respawn = true;
                }
                return Ok(());
            }
            if link.declared {
                link.awaiting_start = Some(link.request("start", None));
            } else {
                link.start_when_declared = true;
            }
            if let Some(u) = self.units.get_mut(name) {
                u.restarts_base = restarts;
            }
            return Ok(());
        }
        self.spawn_unit(name, service)
    }

    fn spawn_unit(&mut self, name: &str, service: libsvc::Service) -> Result<(), String> {
        let control = self.control_path(name);
        let places = Places {
            log_dir: &self.cfg.log_dir,
            runtime_base: &self.cfg.runtime_base,
            log_group: self.cfg.log_group,
        };
        // Both limits are checked here, where the error can name them:
        // past this point a supervisor that cannot bind its socket, or a
        // declaration it refuses unread, only says that it went away.
        libsvc::limits::check_supervisor_socket(&self.cfg.runtime_dir, name)?;
        let mut decl = spec::declaration(name, &service, &places);
        let cgroup = self.prepare_cgroup(name);
        decl.cgroup = cgroup.as_ref().map(|c| c.cgroup.service().to_path_buf());
        decl.cgroup_fork = cgroup.as_ref().and_then(|c| c.fork);
        let decl = decl
            .to_nvlist()
            .map_err(|e| format!("cannot encode the declaration: {e}"))?;
        let mut args = NvList::new();
        let _ = args.add_nvlist(proto::key::SERVICE, decl);
        // The supervisor starts the service as soon as it has taken the
        // declaration: no round trip per service before anything runs, so
        // services start while the manager is still spawning the others.
        let _ = args.add_bool(proto::key::START, true);
        let size = spec::request_size("declare", &args);
        if size > libsvc::limits::DECLARATION_MAX {
            return Err(format!(
                "declaration is {size} bytes packed, over the {}-byte message limit of svc-supervise",
                libsvc::limits::DECLARATION_MAX
            ));
        }
        // The supervisor is born in its leaf whenever its service may be.
        let fork_into = cgroup.as_ref().and_then(|c| c.fork_supervisor_into());
        let spawned =
            sys::spawn_supervisor(&self.cfg.supervise, &control, fork_into).map_err(|e| {
                format!(
                    "cannot run the supervisor {}: {e}",
                    self.cfg.supervise.display()
                )
            })?;
        let sys::Spawned { pid, sock, placed } = spawned;
        tracing::debug!("{name}: supervisor pid {pid}");
        if !placed
            && let Some(c) = &cgroup
            && let Err(e) = crate::cgroups::place_supervisor(&c.cgroup, pid as i32)
        {
            // Its service still goes into its own leaf (the supervisor
            // moves it there); only the supervisor stays where it is.
            tracing::warn!("{name}: {e}");
        }
        // The limits go on only now that the supervisor has exec'd: the
        // manager waits for that (vfork), and a child born under `cpu-weight
        // = 1`, a CPU quota or an I/O limit could keep it waiting long
        // (190 ms for hotplug's in a boot under emulation). Its service
        // starts only once the declaration below reaches it.
        if let Some(c) = &cgroup
            && let Err(e) = self.apply_limits(name, c.cgroup.service(), &service.cgroup_limits())
        {
            // Our own child, not yet reaped: the pid is still its.
            sys::kill(pid as i32, libc::SIGKILL);
            drop(sock);
            self.remove_cgroup(name);
            return Err(e);
        }
        let mut link = Link::new(name, sock, Some(pid), Some(&service));
        link.awaiting_start = Some(link.request("declare", Some(args)));
        let i = self.add_link(link);
        let unit = self.units.entry(name.to_owned()).or_default();
        unit.supervisor_pid = i32::try_from(pid).ok().and_then(NonZeroI32::new);
        unit.restarts_base = 0;
        unit.status = Status {
            state: "starting".into(),
            wanted: "up".into(),
            ..Status::default()
        };
        let _ = i;
        Ok(())
    }

    /// Tells the service's supervisor to stop it and exit. True: nothing
    /// runs (done now); false: wait for the supervisor to go.
    pub fn stop_unit(&mut self, name: &str) -> bool {
        if self.targets_up.contains(name) {
            return true;
        }
        if let Some(u) = self.units.get_mut(name)
            && u.has_orphan()
        {
            // Stopped once what its dead supervisor left has gone.
            u.respawn = false;
            return false;
        }
        let Some(link) = self.link_mut(name) else {
            return true;
        };
        if !link.exiting {
            link.exiting = true;
            if link.declared {
                link.request("exit", None);
            } else {
                link.exit_when_declared = true;
            }
        }
        false
    }

    fn on_link(&mut self, i: usize, revents: i16) {
        let mut incoming = Vec::new();
        let (alive, name) = {
            let Some(link) = self.links[i].as_mut() else {
                return;
            };
            let mut alive = true;
            if revents & libc::POLLOUT != 0 && link.flush().is_err() {
                alive = false;
            }
            if alive && revents & (libc::POLLIN | libc::POLLHUP | libc::POLLERR) != 0 {
                match link.read(&mut incoming) {
                    Ok(open) => alive = open,
                    Err(e) => {
                        tracing::warn!("{}: supervisor connection: {e}", link.name);
                        alive = false;
                    }
                }
            }
            (alive, link.name.clone())
        };
        for msg in incoming {
            self.on_supervisor_message(i, &name, msg);
        }
        if !alive {
            self.link_gone(i);
        }
    }

    fn on_supervisor_message(&mut self, i: usize, name: &str, msg: Incoming) {
        match msg {
            Incoming::Error { method, text } => {
                tracing::warn!("{name}: supervisor refused {method}: {text}");
                if let Some(link) = self.links[i].as_mut()
                    && (method == "start" || method == "declare")
                {
                    link.awaiting_start = None;
                }
                self.unit_changed(name);
            }
            Incoming::Status { status, reply_to } => {
                let Some(link) = self.links[i].as_mut() else {
                    return;
                };
                if let Some((id, method)) = &reply_to {
                    if method == "declare" && !link.declared {
                        link.declared = true;
                        if link.exit_when_declared {
                            link.request("exit", None);
                        } else if link.start_when_declared {
                            link.start_when_declared = false;
                            link.awaiting_start = Some(link.request("start", None));
                        }
                    }
                    if link.awaiting_start == Some(*id) {
                        link.awaiting_start = None;
                    }
                }
                let unit = self.units.entry(name.to_owned()).or_default();
                let changed = unit.status != status;
                if changed {
                    tracing::debug!("{name}: {}", status.state);
                }
                let new_pid = unit.status.pid != status.pid;
                let exited = new_pid && unit.status.pid != 0;
                unit.status = status;
                let supervisor = unit.supervisor_pid.map(NonZeroI32::get);
                if exited {
                    self.note_exit(name);
                }
                if new_pid {
                    self.note_main_pid(name, supervisor);
                }
                if changed && reply_to.is_none() {
                    self.broadcast_event(name);
                }
                self.unit_changed(name);
            }
        }
    }

    /// The supervisor of link `i` has gone (exited, or its socket closed).
    fn link_gone(&mut self, i: usize) {
        let Some(link) = self.links[i].take() else {
            return;
        };
        let name = link.name.clone();
        let unit = self.units.entry(name.clone()).or_default();
        unit.link = None;
        unit.supervisor_pid = None;
        let wanted_up = unit.status.wanted == "up";
        if !link.exiting {
            tracing::warn!("{name}: its supervisor went away");
            unit.status.reason = Some(if link.declared {
                "the supervisor exited".into()
            } else {
                "the supervisor did not take the declaration (see the manager's log)".into()
            });
            unit.status.state = "failed".into();
        } else if unit.status.state != "failed" && unit.status.state != "finished" {
            unit.status.state = "down".into();
        }
        unit.status.pid = 0;
        unit.status.wanted = "down".into();
        unit.status.since = proto::now_unix();
        // A `start` the dead supervisor never answered still stands.
        let asked = link.awaiting_start.is_some();
        if !link.exiting
            && link.declared
            && (wanted_up || asked)
            && self.respawn_after_supervisor_death(&name, asked)
        {
            tracing::info!("{name}: starting it again under a new supervisor");
            if let Some(u) = self.units.get_mut(&name) {
                u.respawn = true;
            }
        }
        if self.orphan_left(&name, link.exiting) {
            // Stopped (and started again) once nothing of it is left.
            self.broadcast_event(&name);
            self.unit_changed(&name);
            return;
        }
        let Some(unit) = self.units.get_mut(&name) else {
            return;
        };
        let respawn = std::mem::take(&mut unit.respawn);
        self.broadcast_event(&name);
        if !respawn {
            self.remove_cgroup(&name);
        }
        if respawn {
            if let Err(e) = self.start_unit(&name) {
                tracing::warn!("{name}: {e}");
            }
        }
        self.unit_changed(&name);
        self.unit_stopped(&name);
    }

    // ----- adoption -----

    /// Finds the supervisors a previous manager left running (their
    /// control sockets under RUNTIME/supervise) and takes them over.
    pub fn adopt(&mut self) {
        let dir = self.cfg.runtime_dir.join("supervise");
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return;
        };
        let mut paths: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
        paths.sort();
        for path in paths {
            let Some(name) = path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_suffix(".sock"))
                .map(str::to_owned)
            else {
                continue;
            };
            match adopt_one(&path) {
                Ok((sock, status, rest)) => {
                    tracing::info!(
                        "{name}: adopted its supervisor ({} pid {})",
                        status.state,
                        status.pid
                    );
                    let supervisor = sys::peer_cred(&sock).ok().map(|(pid, _, _)| pid);
                    let mut link = Link::new(&name, sock, None, None);
                    link.preload(&rest);
                    self.add_link(link);
                    let unit = self.units.entry(name.clone()).or_default();
                    unit.status = status;
                    unit.restarts_base = unit.status.restarts;
                    unit.supervisor_pid = supervisor.filter(|&p| p > 0).and_then(NonZeroI32::new);
                    self.note_main_pid(&name, supervisor);
                    self.adopt_limits(&name);
                }
                Err(e) => {
                    tracing::info!("{}: not adopted ({e}); removing it", path.display());
                    let _ = std::fs::remove_file(&path);
                }
            }
        }
    }

    // ----- the loop -----

    /// The loop: epoll rather than poll, so that a wake-up costs the same
    /// with a thousand supervisor connections as with ten (poll would scan
    /// every descriptor in the kernel at each of the thousands of wake-ups
    /// of a bring-up). Level-triggered, so the handlers behave as under
    /// poll. A socket leaves the epoll set by itself when it is closed
    /// (none is ever duplicated).
    pub fn run(&mut self) -> i32 {
        let mut ready = vec![sys::Ready::empty(); 256];
        if let Err(e) = self.register_fixed() {
            tracing::error!("epoll: {e}");
            return 1;
        }
        while !self.exit {
            let deadline = earliest(self.sync_interest(), self.timers_due());
            let timeout = deadline.map_or(-1, |d| {
                let left = d.saturating_duration_since(Instant::now());
                // Due now (a client with requests already buffered): 0.
                if left.is_zero() {
                    0
                } else {
                    left.as_millis().min(i32::MAX as u128 - 1) as i32 + 1
                }
            });
            let n = match self.events.wait(&mut ready, timeout) {
                Ok(n) => n,
                Err(e) => {
                    tracing::error!("epoll_wait: {e}");
                    return 1;
                }
            };
            for ev in &ready[..n] {
                let revents = ev.events().bits() as i16;
                match Who::from_token(ev.data()) {
                    Who::Signals => self.on_signals(),
                    Who::Listener => self.accept(),
                    Who::Link(i) => self.on_link(i, revents),
                    Who::Client(k) => self.on_client(k, revents),
                }
            }
            self.serve_buffered();
            self.expire_clients();
            self.run_timers();
        }
        let _ = std::fs::remove_file(&self.cfg.socket);
        self.exit_status
    }

    fn register_fixed(&mut self) -> std::io::Result<()> {
        let signals = self.signals.as_fd();
        self.events
            .set(signals, None, libc::EPOLLIN as u32, Who::Signals.token())
    }

    /// Brings every connection's registered events in line with what it
    /// wants now; returns when the loop must wake up for the clients.
    fn sync_interest(&mut self) -> Option<Instant> {
        const IN: u32 = libc::EPOLLIN as u32;
        const OUT: u32 = libc::EPOLLOUT as u32;
        // Registered with no events, the listener stays in the set while
        // the connection limit is reached or accepting rests (control.rs).
        let want = if self.listening() { IN } else { 0 };
        if Some(want) != self.listener_interest {
            match self.events.set(
                self.listener.as_fd(),
                self.listener_interest,
                want,
                Who::Listener.token(),
            ) {
                Ok(()) => self.listener_interest = Some(want),
                Err(e) => tracing::warn!("control socket: epoll: {e}"),
            }
        }
        for (i, l) in self.links.iter_mut().enumerate() {
            let Some(l) = l else { continue };
            let want = if l.wants_write() { IN | OUT } else { IN };
            if Some(want) != l.interest {
                match self
                    .events
                    .set(l.sock.as_fd(), l.interest, want, Who::Link(i).token())
                {
                    Ok(()) => l.interest = Some(want),
                    Err(e) => tracing::warn!("{}: epoll: {e}", l.name),
                }
            }
        }
        self.sync_clients()
    }

    fn on_signals(&mut self) {
        for sig in sys::read_signals(&self.signals) {
            match sig {
                libc::SIGCHLD => {
                    sys::reap_children();
                    self.retry_busy_cgroups();
                }
                libc::SIGHUP => {
                    tracing::info!("SIGHUP: re-reading declarations");
                    self.load();
                }
                libc::SIGTERM | libc::SIGINT => {
                    tracing::info!("signal {sig}: stopping everything");
                    self.begin_shutdown(None);
                }
                _ => {}
            }
        }
    }

    /// Tells the parent once that the manager is up.
    pub fn notify_parent(&mut self) {
        if self.notified {
            return;
        }
        self.notified = true;
        sys::notify_ready(self.cfg.notify_fd, self.cfg.notify_socket.as_deref());
    }

    pub fn print_outcome(&self, verb: &str, name: &str, ok: bool, reason: Option<&str>) {
        let verdict = if ok { Verdict::Ok } else { Verdict::Failed };
        self.console.line(verb, name, verdict, reason);
    }
}

fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

impl Manager {
    /// The earliest of the manager's own deadlines (beyond clients').
    fn timers_due(&self) -> Option<Instant> {
        earliest(self.jobs.shutdown_deadline(), self.orphans_due())
    }

    /// Acts on the deadlines that have passed.
    fn run_timers(&mut self) {
        let now = Instant::now();
        if self.orphans_due().is_some_and(|d| d <= now) {
            self.tick_orphans();
        }
        if self.jobs.shutdown_deadline().is_some_and(|d| d <= now) {
            self.shutdown_overdue();
        }
    }
}

/// Connects to a supervisor's control socket and asks it to send events.
/// Returns the status in the reply and any bytes that followed it.
fn adopt_one(path: &Path) -> Result<(UnixStream, Status, Vec<u8>), String> {
    use std::io::Read;
    let sock = UnixStream::connect(path).map_err(|e| e.to_string())?;
    sock.set_nonblocking(true).map_err(|e| e.to_string())?;
    let req = proto::message(1, "attach", false);
    req.send(&sock).map_err(|e| e.to_string())?;
    let mut buf = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if let Some(len) = crate::link::frame_len(&buf, 64 * 1024)? {
            let view = libnv::NvView::new(&buf[..len]).map_err(|e| e.to_string())?;
            if let Some(e) = view.get_str(proto::key::ERROR) {
                return Err(format!("attach refused: {e}"));
            }
            let status = Status::from_view(&view).ok_or("attach reply without a state")?;
            buf.drain(..len);
            return Ok((sock, status, buf));
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err("no answer to attach".into());
        }
        let mut pfd = [libc::pollfd {
            fd: sock.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        }];
        sys::poll(&mut pfd, left.as_millis() as i32 + 1).map_err(|e| e.to_string())?;
        let mut chunk = [0u8; 4096];
        match (&sock).read(&mut chunk) {
            Ok(0) => return Err("closed before answering".into()),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e.to_string()),
        }
    }
}

impl Manager {
    /// Starts the target given on the command line; the parent hears of
    /// it once the plan has settled.
    pub fn boot(&mut self, target: &str) {
        if !self.knows(target, true) {
            if self.cfg.user_mode && target == "default" {
                // A user who has declared nothing yet: normal, not an error.
                tracing::info!("no default target declared; starting nothing");
            } else {
                tracing::error!("target {target}: no such declaration; starting nothing");
            }
            self.notify_parent();
            return;
        }
        // What the previous manager left under supervision was already
        // settled by it: failed services are not retried by a re-attach.
        let adopted = self.units.values().any(|u| u.link.is_some());
        if let Err(e) = self.boot_job(target, adopted) {
            tracing::error!("target {target}: {}", e.text);
            self.notify_parent();
        }
    }
}
