//! Test harness: temp dirs, a supervisor process (standalone or under a
//! test acting as its manager), and protocol requests over real sockets.
//! Everything is cleaned up on drop, also when a test fails.

#![allow(dead_code)]

use std::io::Read;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use libnv::{Flags, FlagsCheck, NvList, UnpackOptions};

/// svc-supervise, staged where a test running it as nobody can execute it.
pub const BIN: Staged = Staged("svc-supervise");
/// `svc-notify`, staged where services running as nobody can execute it
/// (tests/support/harness.rs).
pub const NOTIFY_BIN: Staged = Staged("svc-notify");

#[path = "../../../tests/support/harness.rs"]
pub mod harness;

/// A program of this crate staged by `harness::staged` (the build
/// directory may be out of reach of other users: a clone in a 0700
/// directory), usable in `format!` (as its path) and as a `Command`
/// program.
pub struct Staged(pub &'static str);

impl Staged {
    pub fn path(&self) -> &'static Path {
        static SUPERVISE: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
        static NOTIFY: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
        let cell = match self.0 {
            "svc-supervise" => &SUPERVISE,
            "svc-notify" => &NOTIFY,
            other => panic!("{other} is not a program of this crate"),
        };
        cell.get_or_init(|| harness::staged(self.0))
    }
}

impl std::fmt::Display for Staged {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.path().display())
    }
}

impl AsRef<std::ffi::OsStr> for Staged {
    fn as_ref(&self) -> &std::ffi::OsStr {
        self.path().as_os_str()
    }
}

/// Generous bound for anything that should happen "soon".
pub const SOON: Duration = Duration::from_secs(15);

/// A temporary directory removed on drop.
pub struct Scratch {
    pub dir: PathBuf,
}

impl Scratch {
    pub fn new(name: &str) -> Scratch {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "svc-supervise-{name}-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        // Services running as nobody must be able to reach files in here.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        Scratch { dir }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    pub fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.path(name)).unwrap_or_default()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < SOON, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

pub fn is_root() -> bool {
    // SAFETY: geteuid has no arguments.
    unsafe { libc::geteuid() == 0 }
}

/// Whether a test that needs root can run: true as root; otherwise false
/// with a skip line, or a panic when `CI=true` (CI never passes a test it
/// did not run).
pub fn need_root(test: &str) -> bool {
    harness::needs_root(test, "runs services as other users")
}

pub fn alive(pid: i32) -> bool {
    // A zombie is not alive: look at the state in /proc.
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            let state = stat.rsplit(')').next().unwrap_or("").trim_start();
            !state.starts_with('Z') && !state.starts_with('X')
        }
        Err(_) => false,
    }
}

/// A request with the protocol.md envelope.
pub fn request(id: u64, method: &str) -> NvList {
    let mut l = NvList::new();
    l.add_number("ipc:version", 1).unwrap();
    l.add_number("ipc:id", id).unwrap();
    l.add_string("ipc:method", method).unwrap();
    l.add_bool("ipc:reply", false).unwrap();
    l
}

pub fn recv(sock: &UnixStream) -> NvList {
    let opts = UnpackOptions {
        flags: FlagsCheck::Any,
        ..UnpackOptions::default()
    };
    NvList::recv(sock, &opts).expect("receiving a message")
}

/// Sends `req` and reads until its reply; events seen meanwhile are returned too.
pub fn call_on(sock: &UnixStream, req: NvList) -> (NvList, Vec<NvList>) {
    let id = req.get_number("ipc:id").unwrap();
    req.send(sock).expect("sending a request");
    let mut events = Vec::new();
    loop {
        let msg = recv(sock);
        if msg.get_bool("ipc:reply") == Some(true) && msg.get_number("ipc:id") == Some(id) {
            return (msg, events);
        }
        assert_eq!(
            msg.get_str("ipc:method"),
            Some("event"),
            "unexpected {msg:?}"
        );
        events.push(msg);
    }
}

pub fn connect(path: &Path) -> UnixStream {
    let s = UnixStream::connect(path).expect("connecting to the control socket");
    s.set_read_timeout(Some(SOON)).unwrap();
    s
}

/// One request on a fresh connection to the control socket.
pub fn call(path: &Path, method: &str, args: impl FnOnce(&mut NvList)) -> NvList {
    static ID: AtomicU32 = AtomicU32::new(1);
    let mut req = request(u64::from(ID.fetch_add(1, Ordering::Relaxed)), method);
    args(&mut req);
    let sock = connect(path);
    call_on(&sock, req).0
}

pub fn state(st: &NvList) -> String {
    st.get_str("state").unwrap_or("?").to_owned()
}

/// A running svc-supervise, stopped (and its service with it) on drop.
pub struct Sup {
    pub child: Option<Child>,
    pub control: PathBuf,
    pub out: PathBuf,
    pub err: PathBuf,
    /// The test's end of the manager socketpair, when managed.
    pub manager: Option<UnixStream>,
    service_pids: Vec<i32>,
}

impl Sup {
    /// `svc-supervise ARGS` with --control in `scratch`, output to files there.
    pub fn standalone(scratch: &Scratch, args: &[&str]) -> Sup {
        Sup::standalone_with(&scratch.dir, args, |_| {})
    }

    /// Like [`Sup::standalone`] with the control socket and output files in
    /// `dir`, and `setup` applied to the command (credentials, stderr…).
    pub fn standalone_with(dir: &Path, args: &[&str], setup: impl FnOnce(&mut Command)) -> Sup {
        let control = dir.join("control.sock");
        let out = dir.join("sup.out");
        let err = dir.join("sup.err");
        let mut cmd = Command::new(BIN);
        cmd.arg("--control")
            .arg(&control)
            .args(args)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&out).unwrap())
            .stderr(std::fs::File::create(&err).unwrap());
        setup(&mut cmd);
        let child = cmd.spawn().unwrap();
        let sup = Sup {
            child: Some(child),
            control,
            out,
            err,
            manager: None,
            service_pids: Vec::new(),
        };
        sup.wait_for_control();
        sup
    }

    /// `svc-supervise --manager-fd 3 --control …`, declared `service`.
    pub fn managed(scratch: &Scratch, service: NvList) -> Sup {
        Sup::managed_under(scratch, service, &[])
    }

    /// Like [`Sup::managed`], with the supervisor started by `wrapper`
    /// (a command that ends by exec'ing its arguments, e.g. `unshare … sh -c`).
    pub fn managed_under(scratch: &Scratch, service: NvList, wrapper: &[&str]) -> Sup {
        let control = scratch.path("control.sock");
        let out = scratch.path("sup.out");
        let err = scratch.path("sup.err");
        let (ours, theirs) = UnixStream::pair().unwrap();
        let theirs: OwnedFd = theirs.into();
        let raw = theirs.as_raw_fd();
        let mut cmd = match wrapper {
            [] => Command::new(BIN),
            [program, args @ ..] => {
                let mut c = Command::new(program);
                c.args(args).arg(BIN);
                c
            }
        };
        cmd.args(["--manager-fd", "3", "--control"])
            .arg(&control)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&out).unwrap())
            .stderr(std::fs::File::create(&err).unwrap());
        // SAFETY: dup2 is async-signal-safe; `raw` stays open until spawn returns.
        unsafe {
            cmd.pre_exec(move || {
                if libc::dup2(raw, 3) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd.spawn().unwrap();
        drop(theirs);
        ours.set_read_timeout(Some(SOON)).unwrap();
        let mut declare = request(1, "declare");
        declare.add_nvlist("service", service).unwrap();
        let (reply, _) = call_on(&ours, declare);
        assert_eq!(
            reply.get_number("ipc:error_code"),
            None,
            "declare: {reply:?}"
        );
        let sup = Sup {
            child: Some(child),
            control,
            out,
            err,
            manager: Some(ours),
            service_pids: Vec::new(),
        };
        sup.wait_for_control();
        sup
    }

    fn wait_for_control(&self) {
        wait_for("the control socket", || {
            UnixStream::connect(&self.control).is_ok()
        });
    }

    pub fn call(&mut self, method: &str, args: impl FnOnce(&mut NvList)) -> NvList {
        let reply = call(&self.control, method, args);
        if let Some(pid) = reply.get_number("pid").filter(|&p| p > 0) {
            self.service_pids.push(pid as i32);
        }
        reply
    }

    pub fn status(&mut self) -> NvList {
        self.call("status", |_| {})
    }

    /// Polls status until `cond` holds; returns that status.
    pub fn wait_status(&mut self, what: &str, mut cond: impl FnMut(&NvList) -> bool) -> NvList {
        let start = Instant::now();
        loop {
            let st = self.status();
            if cond(&st) {
                return st;
            }
            assert!(
                start.elapsed() < SOON,
                "timed out waiting for {what}; last status {st:?}\nstderr: {}",
                std::fs::read_to_string(&self.err).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    pub fn wait_state(&mut self, wanted: &str) -> NvList {
        self.wait_status(wanted, |st| state(st) == wanted)
    }

    pub fn pid(&self) -> i32 {
        self.child.as_ref().map_or(0, |c| c.id() as i32)
    }

    /// Waits for the supervisor to exit; its exit code.
    pub fn wait_exit(&mut self) -> Option<i32> {
        let mut child = self.child.take()?;
        let start = Instant::now();
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status.code();
            }
            if start.elapsed() > SOON {
                let _ = child.kill();
                let _ = child.wait();
                panic!("supervisor did not exit");
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    pub fn stdout(&self) -> String {
        let mut s = String::new();
        if let Ok(mut f) = std::fs::File::open(&self.out) {
            let _ = f.read_to_string(&mut s);
        }
        s
    }
}

impl Drop for Sup {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            if let Some(pid) = try_status_pid(&self.control) {
                self.service_pids.push(pid);
            }
            // SAFETY: signalling the child we started, by pid.
            unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
            let start = Instant::now();
            while child.try_wait().ok().flatten().is_none() && start.elapsed() < SOON {
                std::thread::sleep(Duration::from_millis(10));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        for &pid in &self.service_pids {
            // SAFETY: the service's group, started by our supervisor.
            unsafe {
                libc::kill(-pid, libc::SIGKILL);
                libc::kill(pid, libc::SIGKILL);
            }
        }
    }
}

/// The service pid from a status request, without panicking (for Drop).
fn try_status_pid(path: &Path) -> Option<i32> {
    let sock = UnixStream::connect(path).ok()?;
    sock.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    request(99, "status").send(&sock).ok()?;
    let opts = UnpackOptions {
        flags: FlagsCheck::Any,
        ..UnpackOptions::default()
    };
    let reply = NvList::recv(&sock, &opts).ok()?;
    reply.get_number("pid").filter(|&p| p > 0).map(|p| p as i32)
}

/// A declaration with the given name and command and sane test defaults.
/// A declaration running `script` with `/bin/sh -c`.
pub fn svc(name: &str, script: &str) -> NvList {
    service(name, &["/bin/sh", "-c", script])
}

/// The number `key` of a status, or a panic naming what was there.
pub fn num(st: &NvList, key: &str) -> u64 {
    st.get_number(key)
        .unwrap_or_else(|| panic!("no {key} in {st:?}"))
}

pub fn service(name: &str, exec: &[&str]) -> NvList {
    let mut l = NvList::new();
    l.add_string("name", name).unwrap();
    l.add_string_array("exec", exec.iter().copied()).unwrap();
    l.add_string("output", "inherit").unwrap();
    l
}

pub fn sh(script: &str) -> Vec<String> {
    vec!["/bin/sh".into(), "-c".into(), script.into()]
}

pub fn flags_none() -> Flags {
    Flags::NONE
}
