//! Test support shared by the crates' process tests, included by each
//! crate's `tests/common/mod.rs` with `#[path]` (a test-only crate would
//! add a workspace member for three functions).
//!
//! - `staged(NAME)`: a built program of the workspace, hard-linked or
//!   copied into a 0755 directory under /tmp. Unprivileged accounts (nobody,
//!   the user-mode tests' users) run some of them, and cannot reach the
//!   build directory when the clone lives in a 0700 directory (`mktemp -d`,
//!   /root).
//! - `needs_root(TEST, WHY)`: a test that needs root is skipped with a line
//!   without it, except under `CI=true`, where a skip would pass unseen.

#![allow(dead_code)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// `target/<profile>/`, the directory above the test binary's `deps/`.
pub fn build_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let dir = exe.parent().expect("test binary directory");
    if dir.ends_with("deps") {
        dir.parent().expect("target dir").to_path_buf()
    } else {
        dir.to_path_buf()
    }
}

/// The programs tests run, some of them as other users.
const STAGED: &[&str] = &[
    "svc-manager",
    "svc-supervise",
    "svcctl",
    "svc-init",
    "svc-notify",
];

/// Prefix of the staging directories under /tmp; the rest is
/// `PID-NANOS`, so a later run can sweep those of runs that were killed.
const STAGE_PREFIX: &str = "svc-test-bin-";

static STAGE: OnceLock<PathBuf> = OnceLock::new();

/// The built program `name`, staged once per test process in a directory
/// every user can reach, removed when the process exits.
pub fn staged(name: &str) -> PathBuf {
    let p = STAGE.get_or_init(stage).join(name);
    assert!(
        p.is_file(),
        "{} is missing: run `cargo build --workspace --bins` first",
        build_dir().join(name).display()
    );
    p
}

fn stage() -> PathBuf {
    sweep_stale_stages();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_nanos();
    let dir = Path::new("/tmp").join(format!("{STAGE_PREFIX}{}-{nanos:x}", std::process::id()));
    std::fs::create_dir(&dir).expect("staging directory");
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755))
        .expect("staging directory mode");
    let from = build_dir();
    for name in STAGED {
        let src = from.join(name);
        if !src.is_file() {
            continue;
        }
        let dst = dir.join(name);
        if std::fs::hard_link(&src, &dst).is_err() {
            std::fs::copy(&src, &dst).expect("staging a binary");
        }
        std::fs::set_permissions(&dst, std::fs::Permissions::from_mode(0o755))
            .expect("staged binary mode");
    }
    extern "C" fn remove_stage() {
        if let Some(dir) = STAGE.get() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
    // SAFETY: registers a plain function with no arguments, run at exit.
    unsafe { libc::atexit(remove_stage) };
    dir
}

/// Removes staging directories whose test process is gone (a run killed
/// before its exit handlers ran).
fn sweep_stale_stages() {
    let Ok(entries) = std::fs::read_dir("/tmp") else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(rest) = name.to_str().and_then(|n| n.strip_prefix(STAGE_PREFIX)) else {
            continue;
        };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

/// True when this process is root. Otherwise a test that needs root says
/// it is skipped and the caller returns early, except under `CI=true`:
/// there a skip would pass unseen, so it fails instead.
pub fn needs_root(test: &str, why: &str) -> bool {
    // SAFETY: geteuid has no arguments and cannot fail.
    if unsafe { libc::geteuid() } == 0 {
        return true;
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{test}: needs root ({why}); CI=true, where it must run rather than be skipped"
    );
    eprintln!("{test}: skipped: needs root ({why})");
    false
}
