//! `svcctl check` on what would fail only later: files that are not
//! regular files (a FIFO must not hang the check), and limits that start
//! would hit (the supervisor's socket path, the declaration's packed size).

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        static N: AtomicUsize = AtomicUsize::new(0);
        let p = std::env::temp_dir().join(format!(
            "svcctl-limits-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    fn write(&self, rel: &str, content: &str) -> PathBuf {
        let p = self.0.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, content).unwrap();
        p
    }
    fn path(&self, rel: &str) -> PathBuf {
        self.0.join(rel)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Runs svcctl with `args` and `env`, killing it (and failing the test)
/// if it has not finished within 20 s.
fn svcctl(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_svcctl"));
    cmd.args(args)
        .env_remove("SVC_SERVICES")
        .env_remove("SVC_ENABLED")
        .env_remove("SVC_SOCKET")
        .env_remove("SVC_RUNTIME_DIR")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!("svcctl {args:?} hung; stderr so far: {}", text(&out.stderr));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

fn mkfifo(p: &Path) {
    let st = Command::new("mkfifo").arg(p).status().unwrap();
    assert!(st.success());
}

#[test]
fn check_reports_a_fifo_promptly() {
    let t = TempDir::new("fifo");
    t.write("s/good.ini", "[service]\nexec = /bin/sleep 1000\n");
    mkfifo(&t.path("s/f.ini"));
    mkfifo(&t.path("pipe"));
    std::os::unix::fs::symlink(t.path("pipe"), t.path("s/x.ini")).unwrap();
    let s = t.path("s").display().to_string();
    let out = svcctl(&["--services", &s, "check"], &[]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = text(&out.stderr);
    for expected in [
        format!("svcctl: {s}/f.ini: not a regular file (fifo)\n"),
        format!("svcctl: {s}/x.ini: not a regular file (fifo)\n"),
        "1 declaration, 0 templates: 2 errors, 0 warnings".to_string(),
    ] {
        assert!(err.contains(&expected), "missing {expected:?} in:\n{err}");
    }
    // Named on the command line, too.
    let f = t.path("s/f.ini").display().to_string();
    let out = svcctl(&["check", &f], &[]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(text(&out.stderr).contains(&format!("svcctl: {f}: not a regular file (fifo)\n")));
}
