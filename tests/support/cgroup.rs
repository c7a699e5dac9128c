//! A cgroup v2 directory of a test's own, for the crates' process tests
//! (included with `#[path]`): `svc-test-TAG-PID-N` directly under a
//! cgroup2 mount of this host (the hybrid layout's
//! /sys/fs/cgroup/unified here), created by the test and on drop emptied
//! (`cgroup.kill`, which reaches the cgroups below it too) and removed
//! bottom-up. Nothing outside that directory is touched. Without root or
//! without a cgroup2 mount the tests that need one are skipped with a
//! line (under `CI=true` a missing cgroup2 is still a skip: CI hosts may
//! be cgroup v1 only).

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

pub struct TestCgroup {
    /// Where the cgroup2 file system is mounted.
    pub mount: PathBuf,
    /// The test's cgroup directory.
    pub dir: PathBuf,
    /// Its path as /proc/PID/cgroup shows it (`/svc-test-…`).
    pub rel: String,
}

/// The first cgroup2 mount of the whole hierarchy (root `/`).
fn cgroup2_mount() -> Option<PathBuf> {
    let text = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    text.lines().find_map(|l| {
        let (pre, post) = l.split_once(" - ")?;
        let f: Vec<&str> = pre.split(' ').collect();
        let point = f.get(4)?;
        (post.starts_with("cgroup2 ") && f.get(3) == Some(&"/"))
            .then(|| PathBuf::from(point.replace("\\040", " ")))
    })
}

impl TestCgroup {
    /// None (and a line saying the test is skipped) without root or
    /// without cgroup2.
    pub fn new(test: &str) -> Option<TestCgroup> {
        if !nix::unistd::geteuid().is_root() {
            eprintln!("{test}: skipped: needs root (a cgroup of its own)");
            return None;
        }
        let Some(mount) = cgroup2_mount() else {
            eprintln!("{test}: skipped: no cgroup2 file system is mounted here");
            return None;
        };
        static N: AtomicUsize = AtomicUsize::new(0);
        let name = format!(
            "svc-test-{test}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        let dir = mount.join(&name);
        if let Err(e) = std::fs::create_dir(&dir) {
            eprintln!("{test}: skipped: cannot create {}: {e}", dir.display());
            return None;
        }
        Some(TestCgroup {
            mount,
            dir,
            rel: format!("/{name}"),
        })
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.join(rel)
    }

    /// Whether `dir`'s cgroup.events says populated 1.
    pub fn populated(dir: &Path) -> bool {
        std::fs::read_to_string(dir.join("cgroup.events"))
            .is_ok_and(|t| t.lines().any(|l| l == "populated 1"))
    }

    /// The pids in `dir`'s cgroup.procs.
    pub fn procs(dir: &Path) -> Vec<i32> {
        std::fs::read_to_string(dir.join("cgroup.procs"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .collect()
    }
}

/// Every directory below `dir`, deepest first.
fn below(dir: &Path, out: &mut Vec<PathBuf>) {
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                below(&e.path(), out);
                out.push(e.path());
            }
        }
    }
}

impl Drop for TestCgroup {
    fn drop(&mut self) {
        // Everything in the test's subtree, and only there.
        let _ = std::fs::write(self.dir.join("cgroup.kill"), "1");
        let deadline = Instant::now() + Duration::from_secs(10);
        while TestCgroup::populated(&self.dir) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        let mut dirs = Vec::new();
        below(&self.dir, &mut dirs);
        dirs.push(self.dir.clone());
        for d in dirs {
            let _ = std::fs::remove_dir(&d);
        }
    }
}
