//! Shared by the integration tests: temp dirs, the stand-in manager, and
//! svc-init as PID 1 of a PID+mount namespace, always bounded by `timeout`
//! and cleaned up by Drop guards.
#![allow(dead_code)]

use std::ffi::OsString;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

pub const BOUND: Duration = Duration::from_secs(30);

pub fn svc_init() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_svc-init"))
}

pub fn is_root() -> bool {
    // SAFETY: geteuid cannot fail.
    unsafe { libc::geteuid() == 0 }
}

#[path = "../../../tests/support/harness.rs"]
mod harness;

/// Whether a test that needs root can run (tests/support/harness.rs):
/// skipped with a line without root, failed under `CI=true`.
pub fn root_or_skip(what: &str) -> bool {
    harness::needs_root(what, "namespaces, mounts or other users")
}

/// A unique temporary directory, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static COUNT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = COUNT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("svc-init-test-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("run")).unwrap();
        TempDir(dir)
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    pub fn run(&self, name: &str) -> PathBuf {
        self.0.join("run").join(name)
    }

    /// The stand-in manager, copied here so its mode does not depend on
    /// how the tree was checked out.
    pub fn manager(&self) -> PathBuf {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/stand-in-manager");
        let dst = self.path("stand-in-manager");
        if !dst.exists() {
            std::fs::copy(&src, &dst).unwrap();
            std::fs::set_permissions(&dst, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        dst
    }

    /// Writes an executable shell script.
    pub fn script(&self, name: &str, body: &str) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    /// svc-init's options for a whole system inside this directory.
    pub fn init_args(&self) -> Vec<OsString> {
        vec![
            "--manager".into(),
            self.manager().into(),
            "--runtime-dir".into(),
            self.path("run").into(),
            "--initctl".into(),
            self.path("initctl").into(),
            "--log-dir".into(),
            self.path("log").into(),
        ]
    }

    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.0.join(rel)).unwrap_or_default()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Polls `cond` until it holds or the bound passes.
pub fn wait_for(what: &str, bound: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + bound;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

pub fn children_of(pid: i32) -> Vec<i32> {
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

pub fn state_of(pid: i32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat[stat.rfind(')')? + 2..].chars().next()
}

pub fn cmdline_of(pid: i32) -> String {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
        .unwrap_or_default()
}

pub fn send(pid: i32, signo: i32) {
    // SAFETY: kill(2) of a process this test started.
    assert_eq!(unsafe { libc::kill(pid, signo) }, 0, "kill({pid}, {signo})");
}

/// The host's root file system must still be writable after a test: PID 1
/// in a namespace must never have remounted it.
pub fn assert_host_root_writable() {
    let st = nix::sys::statvfs::statvfs("/").unwrap();
    assert!(
        !st.flags().contains(nix::sys::statvfs::FsFlags::ST_RDONLY),
        "the host's / became read-only"
    );
}

/// svc-init as PID 1 of a fresh PID+mount namespace.
pub struct Namespace {
    child: Option<Child>,
    init: i32,
    pub stderr_path: PathBuf,
}

pub struct NamespaceSpec<'a> {
    /// Before `unshare`, e.g. `setpriv --bounding-set -sys_boot`.
    pub wrapper: &'a [&'a str],
    /// Inside the namespace, exec'ing svc-init (stays PID 1), e.g. `setpriv`.
    pub inner: &'a [&'a str],
    /// Shell commands run inside the namespace before exec'ing svc-init.
    pub before: Option<&'a str>,
    pub args: Vec<OsString>,
    pub stdin: Option<PathBuf>,
}

impl Namespace {
    pub fn start(dir: &TempDir, spec: NamespaceSpec<'_>) -> Namespace {
        let mut cmd = Command::new("timeout");
        cmd.args(["-k", "1", "60"]);
        cmd.args(spec.wrapper);
        cmd.arg("unshare");
        if !is_root() {
            cmd.args(["--user", "--map-root-user"]);
        }
        cmd.args([
            "--pid",
            "--fork",
            "--kill-child",
            "--mount",
            "--uts",
            "--ipc",
            "--net",
            "--mount-proc",
        ]);
        if let Some(before) = spec.before {
            cmd.args(["sh", "-c", &format!("{before}\nexec \"$0\" \"$@\"")]);
        }
        cmd.args(spec.inner);
        cmd.arg(svc_init());
        cmd.args(&spec.args);
        let stderr_path = dir.path("init.stderr");
        cmd.stderr(std::fs::File::create(&stderr_path).unwrap());
        cmd.stdout(Stdio::null());
        match &spec.stdin {
            Some(p) => cmd.stdin(std::fs::File::open(p).unwrap()),
            None => cmd.stdin(Stdio::null()),
        };
        let child = cmd.spawn().expect("timeout/unshare");
        let timeout_pid = child.id() as i32;
        let mut ns = Namespace {
            child: Some(child),
            init: 0,
            stderr_path,
        };
        // timeout → [setpriv exec's] unshare → svc-init (PID 1 inside)
        let mut init = 0;
        let child = ns.child.as_mut().unwrap();
        wait_for("svc-init to start in its namespace", BOUND, || {
            let unshare = children_of(timeout_pid);
            init = unshare
                .first()
                .map_or(0, |&u| children_of(u).first().copied().unwrap_or(0));
            let found = init != 0
                && std::fs::read_link(format!("/proc/{init}/exe")).is_ok_and(|e| e == svc_init());
            // a short-lived run may be over before we look
            found || child.try_wait().unwrap().is_some()
        });
        ns.init = init;
        ns
    }

    /// svc-init's pid as seen from here.
    pub fn init(&self) -> i32 {
        assert_ne!(self.init, 0, "svc-init already ended: {}", self.stderr());
        self.init
    }

    pub fn signal(&self, signo: i32) {
        send(self.init(), signo);
    }

    /// Waits for the end and returns what the parent of the namespace saw.
    pub fn wait(mut self) -> ExitStatus {
        let mut child = self.child.take().unwrap();
        let deadline = Instant::now() + BOUND;
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                assert_host_root_writable();
                return status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("svc-init did not end: {}", self.stderr());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }
}

impl Drop for Namespace {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // Killing PID 1 ends the whole namespace.
            if self.init > 0 {
                // SAFETY: kill(2) of the init this test started.
                unsafe { libc::kill(self.init, libc::SIGKILL) };
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

pub fn killed_by(status: ExitStatus) -> Option<i32> {
    status.signal()
}
