//! Shared harness of the scenario tests: a temporary tree, the real
//! binaries, a manager in a Drop guard, a libnv client.
//!
//! The binaries come from the same target directory as the test binary
//! (`target/<profile>/`): run `cargo build --workspace --bins` first (the
//! Makefile's `unit` target does). `bin()` hands out copies staged under
//! /tmp, which every test user can reach.

#![allow(dead_code)]

use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use libnv::{NvList, UnpackOptions};

#[path = "../../../tests/support/harness.rs"]
mod harness;
#[allow(unused_imports)]
pub use harness::needs_root;

/// The built program `name`, staged under /tmp where every test user can
/// reach it (tests/support/harness.rs).
pub fn bin(name: &str) -> PathBuf {
    harness::staged(name)
}

pub fn scenario_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/scenarios")
        .join(name)
}

/// A temporary tree: services/, enabled/, run/, log/, and the socket.
pub struct Tree {
    pub root: PathBuf,
}

impl Tree {
    /// A fresh tree with the declarations of `scenario` copied in, `@TMP@`
    /// replaced by the tree's root and `@BIN@` by the binaries' directory.
    pub fn new(scenario: &str) -> Tree {
        let root = std::env::temp_dir().join(format!(
            "svc-{scenario}-{}-{:x}",
            std::process::id(),
            Instant::now().elapsed().as_nanos() ^ rand_bits()
        ));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root).unwrap();
        std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o755)).unwrap();
        let t = Tree { root };
        for d in ["services", "enabled", "run", "log"] {
            std::fs::create_dir_all(t.root.join(d)).unwrap();
        }
        let src = scenario_dir(scenario);
        copy_tree(&src.join("services"), &t.services(), &t);
        if src.join("enabled").is_dir() {
            copy_tree(&src.join("enabled"), &t.root.join("enabled"), &t);
        }
        t
    }

    pub fn services(&self) -> PathBuf {
        self.root.join("services")
    }
    pub fn socket(&self) -> PathBuf {
        self.root.join("sock")
    }
    pub fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }

    pub fn substitute(&self, text: &str) -> String {
        let bin_dir = bin("svc-supervise").parent().unwrap().to_path_buf();
        text.replace("@TMP@", &self.root.to_string_lossy())
            .replace("@BIN@", &bin_dir.to_string_lossy())
    }

    /// Writes a declaration (with substitutions).
    pub fn write_service(&self, name: &str, text: &str) {
        std::fs::write(
            self.services().join(format!("{name}.ini")),
            self.substitute(text),
        )
        .unwrap();
    }

    /// The lines of a file the services write to (empty if missing).
    pub fn lines(&self, rel: &str) -> Vec<String> {
        std::fs::read_to_string(self.path(rel))
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// The arguments that point a manager at this tree.
    pub fn manager_args(&self) -> Vec<String> {
        vec![
            "--socket".into(),
            self.socket().to_string_lossy().into(),
            "--services".into(),
            self.services().to_string_lossy().into(),
            "--enabled".into(),
            self.root.join("enabled").to_string_lossy().into(),
            "--runtime-dir".into(),
            self.root.join("run").to_string_lossy().into(),
            "--log-dir".into(),
            self.root.join("log").to_string_lossy().into(),
            "--runtime-base".into(),
            self.root.join("run").to_string_lossy().into(),
            "--supervise".into(),
            bin("svc-supervise").to_string_lossy().into(),
        ]
    }
}

fn rand_bits() -> u128 {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    t.as_nanos()
}

fn copy_tree(from: &Path, to: &Path, t: &Tree) {
    let Ok(entries) = std::fs::read_dir(from) else {
        return;
    };
    std::fs::create_dir_all(to).unwrap();
    for e in entries.flatten() {
        let p = e.path();
        let dest = to.join(e.file_name());
        if p.is_dir() {
            copy_tree(&p, &dest, t);
        } else {
            let text = std::fs::read_to_string(&p).unwrap_or_default();
            std::fs::write(&dest, t.substitute(&text)).unwrap();
        }
    }
}

impl Drop for Tree {
    fn drop(&mut self) {
        kill_leftovers(&self.root);
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// Stops supervisors still running under `root` (a manager killed on
/// purpose leaves them): `exit` on each control socket, then SIGKILL to
/// any process whose command line names the tree.
pub fn kill_leftovers(root: &Path) {
    if let Ok(entries) = std::fs::read_dir(root.join("run/supervise")) {
        for e in entries.flatten() {
            if let Ok(s) = UnixStream::connect(e.path()) {
                let _ = request_on(&s, "exit", &[], 1);
            }
        }
    }
    let needle = root.to_string_lossy().into_owned();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let pids = pids_mentioning(&needle);
        if pids.is_empty() || Instant::now() > deadline {
            for p in pids {
                // SAFETY: kill(2) on a process whose command line names our
                // private temporary tree: one we started.
                unsafe { libc::kill(p, libc::SIGKILL) };
            }
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Every pid in /proc (empty when /proc cannot be read).
pub fn proc_pids() -> Vec<i32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()))
        .collect()
}

/// Processes whose command line contains `needle`.
pub fn pids_mentioning(needle: &str) -> Vec<i32> {
    let me = std::process::id() as i32;
    let mut out = Vec::new();
    for pid in proc_pids() {
        if pid == me {
            continue;
        }
        if let Ok(cmd) = std::fs::read(format!("/proc/{pid}/cmdline")) {
            let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
            if cmd.contains(needle) {
                out.push(pid);
            }
        }
    }
    out
}

/// A running svc-manager, stopped (SIGTERM, then SIGKILL) when dropped.
pub struct Manager {
    pub child: Option<Child>,
    pub socket: PathBuf,
}

impl Manager {
    pub fn start(tree: &Tree, extra: &[&str]) -> Manager {
        Manager::start_with(tree, extra, |_| {})
    }

    pub fn start_with(tree: &Tree, extra: &[&str], setup: impl FnOnce(&mut Command)) -> Manager {
        let mut cmd = Command::new(bin("svc-manager"));
        cmd.args(tree.manager_args())
            .args(extra)
            .env_remove("NOTIFY_SOCKET")
            .stdin(Stdio::null())
            .stdout(Stdio::null());
        setup(&mut cmd);
        let child = cmd.spawn().expect("spawn svc-manager");
        let m = Manager {
            child: Some(child),
            socket: tree.socket(),
        };
        wait_for(Duration::from_secs(20), "the manager's socket", || {
            UnixStream::connect(&m.socket).is_ok()
        });
        m
    }

    pub fn pid(&self) -> i32 {
        self.child.as_ref().map_or(0, |c| c.id() as i32)
    }

    pub fn client(&self) -> Client {
        Client::connect(&self.socket)
    }

    /// SIGKILL, on purpose (adoption tests).
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM and wait for the exit status.
    pub fn terminate(&mut self) -> Option<i32> {
        terminate(self.child.take()?, Duration::from_secs(30))
    }
}

/// SIGTERM to our own child, then its exit status; SIGKILL (and None)
/// when it has not exited within `patience`.
pub fn terminate(mut c: std::process::Child, patience: Duration) -> Option<i32> {
    // SAFETY: kill(2) on our own child.
    unsafe { libc::kill(c.id() as i32, libc::SIGTERM) };
    let deadline = Instant::now() + patience;
    loop {
        if let Ok(Some(st)) = c.try_wait() {
            return st.code();
        }
        if Instant::now() > deadline {
            let _ = c.kill();
            let _ = c.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

impl Drop for Manager {
    fn drop(&mut self) {
        self.terminate();
    }
}

/// A blocking libnv client of the control socket.
pub struct Client {
    pub sock: UnixStream,
    next_id: u64,
}

impl Client {
    pub fn connect(path: &Path) -> Client {
        let sock = UnixStream::connect(path).expect("connect to the manager");
        sock.set_read_timeout(Some(Duration::from_secs(60)))
            .unwrap();
        Client { sock, next_id: 1 }
    }

    /// Sends a request with `names` and extra keys; returns the reply.
    pub fn call(&mut self, method: &str, names: &[&str], extra: NvList) -> NvList {
        let id = self.next_id;
        self.next_id += 1;
        let mut req = request(method, names, id);
        for p in extra.into_pairs() {
            let (k, v) = p.into_parts();
            req.add(k, v).unwrap();
        }
        req.send(&self.sock).unwrap();
        loop {
            let reply = NvList::recv(&self.sock, &UnpackOptions::default()).expect("reply");
            if reply.get_bool("ipc:reply") == Some(true) && reply.get_number("ipc:id") == Some(id) {
                return reply;
            }
        }
    }

    pub fn simple(&mut self, method: &str, names: &[&str]) -> NvList {
        self.call(method, names, NvList::new())
    }

    /// Status items by name.
    pub fn status(&mut self, names: &[&str]) -> Vec<NvList> {
        let mut r = self.simple("status", names);
        assert_eq!(r.get_number("ipc:error_code"), None, "{r:?}");
        r.take_nvlist_array("services").unwrap_or_default()
    }

    pub fn state(&mut self, name: &str) -> String {
        self.status(&[name])[0].get_str("state").unwrap().to_owned()
    }

    pub fn pid_of(&mut self, name: &str) -> u64 {
        self.status(&[name])[0].get_number("pid").unwrap_or(0)
    }

    /// Polls until `name` is in `state`.
    pub fn wait_state(&mut self, name: &str, state: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let now = self.state(name);
            if now == state {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{name} stayed {now}, expected {state}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

pub fn request(method: &str, names: &[&str], id: u64) -> NvList {
    let mut req = NvList::new();
    req.add_number("ipc:version", 1).unwrap();
    req.add_number("ipc:id", id).unwrap();
    req.add_string("ipc:method", method).unwrap();
    req.add_bool("ipc:reply", false).unwrap();
    if !names.is_empty() {
        req.add_string_array("names", names).unwrap();
    }
    req
}

/// One request and its reply on an existing stream (best effort).
pub fn request_on(sock: &UnixStream, method: &str, names: &[&str], id: u64) -> Option<NvList> {
    sock.set_read_timeout(Some(Duration::from_secs(15))).ok()?;
    request(method, names, id).send(sock).ok()?;
    NvList::recv(sock, &UnpackOptions::default()).ok()
}

pub fn wait_for(timeout: Duration, what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Results of a job reply by name.
pub fn results(reply: &NvList) -> Vec<(String, String)> {
    reply
        .get_nvlist_array("services")
        .unwrap_or(&[])
        .iter()
        .map(|s| {
            (
                s.get_str("name").unwrap_or("").to_owned(),
                s.get_str("result").unwrap_or("").to_owned(),
            )
        })
        .collect()
}

pub fn result_of(reply: &NvList, name: &str) -> String {
    results(reply)
        .into_iter()
        .find(|(n, _)| n == name)
        .map(|(_, r)| r)
        .unwrap_or_default()
}

pub fn position(lines: &[String], item: &str) -> usize {
    lines
        .iter()
        .position(|l| l == item)
        .unwrap_or_else(|| panic!("{item} not in {lines:?}"))
}

/// A connection to `path` made with effective uid and gid `id`, which
/// SO_PEERCRED then reports to the manager. Credentials belong to the
/// thread in the kernel: the raw system calls (unlike libc's wrappers,
/// which change every thread) change only this thread's, and the saved
/// uid 0 lets it change back.
pub fn connect_as(path: &Path, id: u32) -> std::io::Result<UnixStream> {
    fn set_ids(id: u32) -> std::io::Result<()> {
        let keep = -1 as libc::c_long;
        let id = libc::c_long::from(id);
        // SAFETY: setresgid/setresuid on this thread only; "-1" keeps the
        // real and saved ids (0), so the thread can change back.
        let r = unsafe {
            if id == 0 {
                // Back to root: the uid first, then the gid may change.
                let r = libc::syscall(libc::SYS_setresuid, keep, id, keep);
                if r == 0 {
                    libc::syscall(libc::SYS_setresgid, keep, id, keep)
                } else {
                    r
                }
            } else {
                let r = libc::syscall(libc::SYS_setresgid, keep, id, keep);
                if r == 0 {
                    libc::syscall(libc::SYS_setresuid, keep, id, keep)
                } else {
                    r
                }
            }
        };
        if r == 0 {
            Ok(())
        } else {
            Err(std::io::Error::last_os_error())
        }
    }
    set_ids(id)?;
    let sock = UnixStream::connect(path);
    set_ids(0).expect("back to root");
    sock
}

/// The peer has closed `sock` (POLLHUP), waiting up to `timeout`.
pub fn hung_up(sock: &UnixStream, timeout: Duration) -> bool {
    use std::os::fd::AsRawFd;
    let mut pfd = libc::pollfd {
        fd: sock.as_raw_fd(),
        events: 0,
        revents: 0,
    };
    let ms = timeout.as_millis().min(i32::MAX as u128) as i32;
    // SAFETY: one valid pollfd.
    let n = unsafe { libc::poll(&mut pfd, 1, ms) };
    n > 0 && pfd.revents & (libc::POLLHUP | libc::POLLERR) != 0
}

/// A field of /proc/PID/status in kB (VmRSS, VmHWM), 0 when unreadable.
pub fn proc_status_kb(pid: i32, field: &str) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Runs `cmd` to its end, or kills it after `bound` (then None).
pub fn output_within(cmd: &mut Command, bound: Duration) -> Option<std::process::Output> {
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let pid = child.id() as i32;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(bound) {
        Ok(out) => out.ok(),
        Err(_) => {
            // SAFETY: kill(2) on our own child, still unreaped (its waiter
            // thread has not returned).
            unsafe { libc::kill(pid, libc::SIGKILL) };
            let _ = rx.recv();
            None
        }
    }
}
