//! No heap allocation in the steady state: after warm-up, every path the
//! claim covers allocates nothing in the supervisor's thread. Each phase
//! runs its own supervisor (standalone or under a manager) through two
//! warm-up rounds, then two measured rounds, and checks the counter did not
//! move. A round is three requested restarts, three restarts after SIGKILL,
//! a hundred status requests on the control socket, and what the phase adds:
//!
//! | phase | adds |
//! |---|---|
//! | `started` | nothing: `ready = started` |
//! | `sd-notify` | MAINPID checked (one refused, with a notice), a flood of datagrams |
//! | `notify-fd` | a readiness pipe per run |
//! | `check` | a check command that fails, then succeeds, every 10 ms |
//! | `pre-stop` | two `exec-pre` commands and an `exec-stop` (with `MAINPID`) |
//! | `forking` | `type = forking` with a pid file |
//! | `rotation` | `max-size` 400, `max-files` 3: several rotations per start |
//! | `manager` | events sent to an attached manager on every state change |
//! | `runtime-dir` | stop, then start: a runtime directory with a tree in it removed and made again |
//! | `cgroup` | the service in a cgroup leaf (root and cgroup2 only), with a process that escaped by setsid: every restart signals the leaf's members, every exit kills the leaf |
//!
//! The supervisor runs in-process on the main thread; a client thread
//! drives it over the control socket and reads the allocation counter.

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::Read;
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicI32, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

#[path = "../../tests/support/harness.rs"]
mod harness;

#[path = "../../tests/support/cgroup.rs"]
mod cgroup_support;

/// The `cgroup` phase's cgroup, removed when the phase is over.
static CGROUP: std::sync::Mutex<Option<cgroup_support::TestCgroup>> = std::sync::Mutex::new(None);

use libnv::{FlagsCheck, NvList, UnpackOptions};
use svc_supervise::spec::{Kind, Output, Ready, Spec};
use svc_supervise::supervisor::{Options, Supervisor};

struct Counting;

static SUPERVISOR_TID: AtomicI32 = AtomicI32::new(-1);
static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

fn count() {
    // SAFETY: gettid has no arguments and no side effects.
    if unsafe { libc::gettid() } == SUPERVISOR_TID.load(Ordering::Relaxed) {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
    }
}

// SAFETY: forwards to the system allocator; counting has no effect on memory.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: same contract as ours.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        // SAFETY: same contract as ours.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// One setup of the supervisor and what its rounds add.
struct Phase {
    name: &'static str,
    /// The service's shell script; `$D` is the phase's directory. It must
    /// log `started PID` (the main pid) once it is set up.
    script: &'static str,
    /// Changes to the spec, given the phase's directory.
    setup: fn(&mut Spec, &Path),
    /// Run under a manager: one end of a socketpair as the manager fd.
    manager: bool,
    /// Each round also stops the service and starts it again.
    stop_start: bool,
    /// Each round also floods the sd_notify socket.
    flood: bool,
}

struct Client {
    sock: UnixStream,
    id: u64,
    dir: PathBuf,
    log_dir: PathBuf,
    phase: &'static Phase,
}

impl Client {
    fn call(&mut self, method: &str) -> NvList {
        self.id += 1;
        let mut req = NvList::new();
        req.add_number("ipc:version", 1).unwrap();
        req.add_number("ipc:id", self.id).unwrap();
        req.add_string("ipc:method", method).unwrap();
        req.add_bool("ipc:reply", false).unwrap();
        req.send(&self.sock).unwrap();
        let opts = UnpackOptions {
            flags: FlagsCheck::Any,
            ..UnpackOptions::default()
        };
        let reply = NvList::recv(&self.sock, &opts).unwrap();
        assert_eq!(reply.get_number("ipc:id"), Some(self.id));
        reply
    }

    /// Every log file, archives (oldest first) then `current`.
    fn log_text(&self) -> String {
        log_text(&self.log_dir)
    }

    fn wait_state(&mut self, state: &str) -> NvList {
        let start = Instant::now();
        loop {
            let st = self.call("status");
            if st.get_str("state") == Some(state) {
                return st;
            }
            assert!(start.elapsed() < Duration::from_secs(20), "stuck: {st:?}");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Waits until the service is ready with a pid other than `old`, and
    /// its start line is in the log.
    fn wait_new_pid(&mut self, old: u64) -> u64 {
        let start = Instant::now();
        loop {
            let st = self.call("status");
            let pid = st.get_number("pid").unwrap_or(0);
            if st.get_str("state") == Some("ready")
                && pid != 0
                && pid != old
                && self.log_text().contains(&format!("started {pid}\n"))
            {
                return pid;
            }
            assert!(start.elapsed() < Duration::from_secs(20), "stuck: {st:?}");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// One round: requested restarts, crash restarts, status requests, and
    /// what the phase adds.
    fn round(&mut self) {
        let mut pid = self.wait_new_pid(0);
        for _ in 0..3 {
            self.call("restart");
            pid = self.wait_new_pid(pid);
        }
        for _ in 0..3 {
            // SAFETY: the service our supervisor started, by pid.
            unsafe { libc::kill(pid as i32, libc::SIGKILL) };
            pid = self.wait_new_pid(pid);
        }
        for _ in 0..100 {
            self.call("status");
        }
        if self.phase.stop_start {
            let rt = self.dir.join("run/rt");
            for _ in 0..3 {
                assert!(rt.join("sub/deeper/file").exists(), "the service's tree");
                self.call("stop");
                self.wait_state("down");
                assert!(!rt.exists(), "{} left after stop", rt.display());
                self.call("start");
                pid = self.wait_new_pid(pid);
            }
        }
        if self.phase.flood {
            // From our pid, not the main pid: read and ignored, at most a
            // bounded number per loop turn, between status requests.
            let path = self.dir.join(format!("{}.notify/notify", self.phase.name));
            let sock = std::os::unix::net::UnixDatagram::unbound().unwrap();
            sock.set_nonblocking(true).unwrap();
            for i in 0..2000 {
                let _ = sock.send_to(b"READY=1\nMAINPID=1\nSTATUS=flood", &path);
                if i % 200 == 0 {
                    self.call("status");
                }
            }
        }
    }
}

fn log_text(log_dir: &Path) -> String {
    let mut names: Vec<_> = std::fs::read_dir(log_dir)
        .map(|d| d.filter_map(|e| e.ok()?.file_name().into_string().ok()))
        .into_iter()
        .flatten()
        .filter(|n| n != "current")
        .collect();
    names.sort();
    names.push("current".into());
    names
        .iter()
        .map(|n| std::fs::read_to_string(log_dir.join(n)).unwrap_or_default())
        .collect()
}

/// Reads events from the manager's end until EOF; counts them.
fn drain_events(mut sock: UnixStream, events: Arc<AtomicUsize>) {
    let opts = UnpackOptions {
        flags: FlagsCheck::Any,
        ..UnpackOptions::default()
    };
    loop {
        let Ok(msg) = NvList::recv(&sock, &opts) else {
            // EOF when the supervisor exits; anything else is a failure.
            let mut rest = Vec::new();
            let _ = sock.read_to_end(&mut rest);
            assert!(rest.is_empty(), "manager socket: trailing bytes");
            return;
        };
        assert_eq!(msg.get_str("ipc:method"), Some("event"), "{msg:?}");
        events.fetch_add(1, Ordering::Relaxed);
    }
}

/// Runs a supervisor of the phase's script in this thread while a client
/// thread drives it; asserts the allocation count did not move after
/// warm-up.
fn run(phase: &'static Phase) {
    let name = phase.name;
    let dir = std::env::temp_dir().join(format!("svc-alloc-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let control = dir.join("control.sock");
    let script = format!("D={}; {}", dir.display(), phase.script);
    let mut spec = Spec::new(name, vec!["/bin/sh".into(), "-c".into(), script]);
    spec.logging.output = Output::File;
    spec.logging.log_dir = Some(dir.join("logs"));
    spec.restart_delay_ms = 5;
    spec.restart_delay_max_ms = 10;
    (phase.setup)(&mut spec, &dir);
    let (manager, manager_peer) = if phase.manager {
        let (a, b) = UnixStream::pair().unwrap();
        (Some(OwnedFd::from(a)), Some(b))
    } else {
        (None, None)
    };
    let mut opts = Options {
        control: Some(control.clone()),
        manager,
        start: true,
        once: false,
    };
    // Blocks SIGCHLD etc. in this thread before the client thread exists,
    // so that thread inherits the mask and the signalfd gets them all.
    let sup = Supervisor::new(spec, &mut opts).unwrap();
    // SAFETY: gettid has no arguments.
    SUPERVISOR_TID.store(unsafe { libc::gettid() }, Ordering::Relaxed);
    let log_dir = dir.join(format!("logs/{name}"));
    let events = Arc::new(AtomicUsize::new(0));
    let drain = manager_peer.map(|sock| {
        let events = events.clone();
        std::thread::spawn(move || drain_events(sock, events))
    });
    let client_dir = dir.clone();
    let client_events = events.clone();
    let client = std::thread::spawn(move || {
        let sock = UnixStream::connect(&control).unwrap();
        sock.set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        let mut c = Client {
            sock,
            id: 0,
            dir: client_dir,
            log_dir,
            phase,
        };
        c.round();
        c.round();
        let events_before = client_events.load(Ordering::Relaxed);
        let before = ALLOCATIONS.load(Ordering::Relaxed);
        c.round();
        c.round();
        let after = ALLOCATIONS.load(Ordering::Relaxed);
        let events = client_events.load(Ordering::Relaxed) - events_before;
        c.call("exit");
        (before, after, events)
    });
    let code = sup.run(&opts);
    let (before, after, events) = client.join().unwrap();
    drop(CGROUP.lock().unwrap().take());
    if let Some(drain) = drain {
        drain.join().unwrap();
    }
    let log_dir = dir.join(format!("logs/{name}"));
    let text = log_text(&log_dir);
    let archives = std::fs::read_dir(&log_dir).unwrap().count() - 1;
    let _ = std::fs::remove_dir_all(&dir);
    let starts = text.matches("started ").count();
    println!(
        "{name}: allocations after warm-up: {before}; after 2 more rounds: {after}; \
         starts logged {starts}; archives {archives}; manager events {events}"
    );
    assert_eq!(code, 0);
    if name == "rotation" {
        assert_eq!(archives, 3, "{name}: rotation keeps max-files archives");
    } else {
        // The first start, then three restarts and three crashes a round.
        assert!(starts >= 25, "{name}: {starts} starts logged, 25 at least");
    }
    if name == "check" {
        assert!(text.contains("check-failed"), "{name}: no check failed");
    }
    if name == "sd-notify" {
        assert!(
            text.contains("MAINPID=2 ignored"),
            "the refused MAINPID was not noticed: {text}"
        );
    }
    if phase.manager {
        // running/ready, stopping, starting... for each of 12 restarts.
        assert!(
            events >= 36,
            "{name}: {events} events in the measured rounds"
        );
    }
    assert_eq!(
        before,
        after,
        "{name}: the supervisor allocated in the steady state ({} allocations)",
        after - before
    );
}

fn root() -> bool {
    // SAFETY: geteuid has no arguments.
    unsafe { libc::geteuid() == 0 }
}

fn no_setup(_: &mut Spec, _: &Path) {}

static PHASES: [Phase; 10] = [
    Phase {
        name: "started",
        script: "echo started $$; exec sleep 1000",
        setup: no_setup,
        manager: false,
        stop_start: false,
        flood: false,
    },
    // MAINPID=2 (kthreadd, or nobody in a pid namespace) is refused; then
    // the main process names its child, a descendant: accepted. The
    // script's `svc-notify` is put in place by the setup.
    Phase {
        name: "sd-notify",
        script: "sleep 1000 & echo started $!; \
                 exec $N MAINPID=2 -- $N MAINPID=$! READY=1 -- sleep 1000",
        setup: |spec, dir| {
            spec.ready = Ready::SdNotify;
            // Staged where nobody can execute it, also from a clone in a
            // 0700 directory.
            let notify = harness::staged("svc-notify");
            let notify = notify.display();
            spec.exec[2] = format!("N={notify}; {}", spec.exec[2]);
            if root() {
                // A MAINPID from root is believed whatever it names
                // (systemd's rule); as nobody the refusal path is taken.
                spec.user = Some("nobody".into());
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
            }
        },
        manager: false,
        stop_start: false,
        flood: true,
    },
    Phase {
        name: "notify-fd",
        script: "echo started $$; echo >&5; exec 5>&-; exec sleep 1000",
        setup: |spec, _| spec.ready = Ready::NotifyFd(5),
        manager: false,
        stop_start: false,
        flood: false,
    },
    // The check fails until the service's helper made the flag: both the
    // retry and the success are taken every run.
    Phase {
        name: "check",
        script: "rm -f $D/flag; echo started $$; (sleep 0.03; : > $D/flag) & exec sleep 1000",
        setup: |spec, dir| {
            let flag = dir.join("flag");
            spec.ready = Ready::Check(vec![
                "/bin/sh".into(),
                "-c".into(),
                format!(
                    "test -e {} || {{ echo check-failed; exit 1; }}",
                    flag.display()
                ),
            ]);
            spec.check_interval_ms = 10;
        },
        manager: false,
        stop_start: false,
        flood: false,
    },
    Phase {
        name: "pre-stop",
        script: "echo started $$; exec sleep 1000",
        setup: |spec, _| {
            spec.exec_pre = vec![
                vec!["/bin/sh".into(), "-c".into(), "echo pre $$".into()],
                vec!["/bin/true".into()],
            ];
            spec.exec_stop = Some(vec!["/bin/sh".into(), "-c".into(), "kill $MAINPID".into()]);
        },
        manager: false,
        stop_start: false,
        flood: false,
    },
    Phase {
        name: "forking",
        script: "sleep 1000 & echo $! > $D/pid; echo started $!",
        setup: |spec, dir| {
            spec.kind = Kind::Forking;
            spec.pidfile = Some(dir.join("pid"));
        },
        manager: false,
        stop_start: false,
        flood: false,
    },
    Phase {
        name: "rotation",
        script: "for i in 1 2 3 4 5 6 7 8; do echo line $i of a run that fills the log; done; \
                 echo started $$; exec sleep 1000",
        setup: |spec, _| {
            spec.logging.max_size = 400;
            spec.logging.max_files = 3;
        },
        manager: false,
        stop_start: false,
        flood: false,
    },
    Phase {
        name: "manager",
        script: "echo started $$; exec sleep 1000",
        setup: no_setup,
        manager: true,
        stop_start: false,
        flood: false,
    },
    Phase {
        name: "runtime-dir",
        script: "mkdir -p $D/run/rt/sub/deeper && : > $D/run/rt/sub/deeper/file && \
                 : > $D/run/rt/top && echo started $$; exec sleep 1000",
        setup: |spec, dir| {
            spec.runtime_root = Some(dir.join("run"));
            spec.runtime_directory = vec!["rt".into()];
        },
        manager: false,
        stop_start: true,
        flood: false,
    },
    Phase {
        name: "cgroup",
        script: "setsid sh -c 'sleep 1000 &' </dev/null >/dev/null 2>&1; \
                 echo started $$; exec sleep 1000",
        setup: |spec, _| {
            let Some(cg) = cgroup_support::TestCgroup::new("alloc") else {
                return;
            };
            let leaf = cg.path("service");
            std::fs::create_dir(&leaf).unwrap();
            spec.cgroup = Some(leaf);
            *CGROUP.lock().unwrap() = Some(cg);
        },
        manager: false,
        stop_start: false,
        flood: false,
    },
];

/// Runs one phase in a fresh copy of this program: one supervisor per
/// process (a subreaper with its signal mask), and one failing phase does
/// not hide the others.
fn run_isolated(phase: &Phase) -> Result<(), String> {
    let status = std::process::Command::new(std::env::current_exe().unwrap())
        .env(PHASE_VAR, phase.name)
        .status()
        .map_err(|e| e.to_string())?;
    if status.success() {
        Ok(())
    } else {
        Err(status.to_string())
    }
}

const PHASE_VAR: &str = "SVC_ALLOC_PHASE";

fn main() {
    if let Ok(name) = std::env::var(PHASE_VAR) {
        let phase = PHASES.iter().find(|p| p.name == name).unwrap();
        run(phase);
        return;
    }
    // `cargo test --test alloc -- NAME…` runs the phases whose names
    // contain one of the NAMEs.
    let only: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let mut failed = Vec::new();
    for phase in &PHASES {
        if !only.is_empty() && !only.iter().any(|o| phase.name.contains(o.as_str())) {
            continue;
        }
        if let Err(e) = run_isolated(phase) {
            failed.push(format!("{}: {e}", phase.name));
        }
    }
    assert!(failed.is_empty(), "phases failed: {failed:?}");
    println!("test steady_state_allocates_nothing ... ok");
}
