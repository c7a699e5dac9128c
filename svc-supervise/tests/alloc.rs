//! No heap allocation in the steady state: after warm-up, restart cycles
//! (requested and after crashes), status requests and log lines allocate
//! nothing in the supervisor's thread.
//!
//! The supervisor runs in-process on the main thread; a client thread
//! drives it over the control socket and reads the allocation counter.

use std::alloc::{GlobalAlloc, Layout, System};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::atomic::{AtomicI32, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use libnv::{FlagsCheck, NvList, UnpackOptions};
use svc_supervise::spec::{Output, Spec};
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
    }
}

fn main() {
    let dir = std::env::temp_dir().join(format!("svc-supervise-alloc-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let control = dir.join("control.sock");
    let mut spec = Spec::new(
        "alloc",
        vec![
            "/bin/sh".into(),
            "-c".into(),
            "echo started $$; exec sleep 1000".into(),
        ],
    );
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
    let log: PathBuf = dir.join("logs/alloc/current");
    let client = std::thread::spawn(move || {
        let sock = UnixStream::connect(&control).unwrap();
        sock.set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        let mut c = Client {
            sock,
            id: 0,
            log: log.clone(),
        };
        c.round();
        c.round();
        let before = ALLOCATIONS.load(Ordering::Relaxed);
        c.round();
        c.round();
        let after = ALLOCATIONS.load(Ordering::Relaxed);
        let lines = std::fs::read_to_string(&log).unwrap().lines().count();
        c.call("exit");
        (before, after, lines)
    });
    let code = sup.run(&opts);
    let (before, after, lines) = client.join().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(code, 0);
    assert!(lines >= 28, "{lines} log lines: one per start at least");
    println!(
        "allocations after warm-up: {before}; after 2 more rounds: {after}; log lines {lines}"
    );
    assert_eq!(
        before,
        after,
        "the supervisor allocated in the steady state ({} allocations)",
        after - before
    );
    println!("test steady_state_allocates_nothing ... ok");
}
