//! No heap allocation in the steady state: after warm-up, restart cycles
//! (requested and after crashes), status requests and log lines allocate
//! nothing in the supervisor's thread. A second run does the same with
//! `ready = sd-notify`: MAINPID checked against the supervisor's
//! descendants (one refused, with a notice), and a flood of datagrams.
//!
//! The supervisor runs in-process on the main thread; a client thread
//! drives it over the control socket and reads the allocation counter.

use std::alloc::{GlobalAlloc, Layout, System};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::atomic::{AtomicI32, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use libnv::{FlagsCheck, NvList, UnpackOptions};
use svc_supervise::spec::{Output, Ready, Spec};
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

struct Client {
    sock: UnixStream,
    id: u64,
    log: PathBuf,
    /// The sd_notify socket to flood each round, if any.
    flood: Option<PathBuf>,
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
                && std::fs::read_to_string(&self.log)
                    .unwrap_or_default()
                    .contains(&format!("started {pid}\n"))
            {
                return pid;
            }
            assert!(start.elapsed() < Duration::from_secs(20), "stuck: {st:?}");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// One round: requested restarts, crash restarts, status requests.
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
        if let Some(path) = self.flood.clone() {
            // From our pid, not the main pid: read and ignored, at most a
            // bounded number per loop turn, between status requests.
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

/// Runs a supervisor of `script` in this thread while a client thread
/// drives it; asserts the allocation count did not move after warm-up.
fn run(name: &str, script: &str, ready: Ready) {
    let dir = std::env::temp_dir().join(format!("svc-supervise-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let control = dir.join("control.sock");
    let mut spec = Spec::new(name, vec!["/bin/sh".into(), "-c".into(), script.into()]);
    let flood = (ready == Ready::SdNotify).then(|| dir.join(format!("{name}.notify/notify")));
    let notifying = ready == Ready::SdNotify;
    // SAFETY: geteuid has no arguments.
    if notifying && unsafe { libc::geteuid() } == 0 {
        // A MAINPID from root is believed whatever it names (systemd's
        // rule); as nobody the refusal path is taken.
        spec.user = Some("nobody".into());
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    spec.ready = ready;
    spec.logging.output = Output::File;
    spec.logging.log_dir = Some(dir.join("logs"));
    spec.restart_delay_ms = 5;
    spec.restart_delay_max_ms = 10;
    let mut opts = Options {
        control: Some(control.clone()),
        manager: None,
        start: true,
        once: false,
    };
    // Blocks SIGCHLD etc. in this thread before the client thread exists,
    // so that thread inherits the mask and the signalfd gets them all.
    let sup = Supervisor::new(spec, &mut opts).unwrap();
    // SAFETY: gettid has no arguments.
    SUPERVISOR_TID.store(unsafe { libc::gettid() }, Ordering::Relaxed);
    let log: PathBuf = dir.join(format!("logs/{name}/current"));
    let client = std::thread::spawn(move || {
        let sock = UnixStream::connect(&control).unwrap();
        sock.set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        let mut c = Client {
            sock,
            id: 0,
            log: log.clone(),
            flood,
        };
        c.round();
        c.round();
        let before = ALLOCATIONS.load(Ordering::Relaxed);
        c.round();
        c.round();
        let after = ALLOCATIONS.load(Ordering::Relaxed);
        let text = std::fs::read_to_string(&log).unwrap();
        c.call("exit");
        (before, after, text)
    });
    let code = sup.run(&opts);
    let (before, after, text) = client.join().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(code, 0);
    let lines = text.lines().count();
    assert!(lines >= 28, "{lines} log lines: one per start at least");
    if notifying {
        assert!(
            text.contains("MAINPID=2 ignored"),
            "the refused MAINPID was not noticed: {text}"
        );
    }
    println!(
        "{name}: allocations after warm-up: {before}; after 2 more rounds: {after}; log lines {lines}"
    );
    assert_eq!(
        before,
        after,
        "{name}: the supervisor allocated in the steady state ({} allocations)",
        after - before
    );
}

fn main() {
    run("alloc", "echo started $$; exec sleep 1000", Ready::Started);
    // MAINPID=2 (kthreadd, or nobody in a pid namespace) is refused; then
    // the main process names its child, a descendant: accepted.
    let notify = env!("CARGO_BIN_EXE_svc-notify");
    run(
        "alloc-notify",
        &format!(
            "sleep 1000 & echo started $!; \
             exec {notify} MAINPID=2 -- {notify} MAINPID=$! READY=1 -- sleep 1000"
        ),
        Ready::SdNotify,
    );
    println!("test steady_state_allocates_nothing ... ok");
}
