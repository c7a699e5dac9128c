//! `svcctl check` on what would fail only later: files that are not
//! regular files (a FIFO must not hang the check), and limits that start
//! would hit (the supervisor's socket path, the declaration's packed size).

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::TempDir;

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

/// A declaration whose `exec` (line 3) is over 1 MiB, built from lines
/// that each stay under the 64 KiB line limit.
fn huge_exec() -> String {
    let mut text = String::from("[service]\ndescription = big\nexec = /bin/echo \\\n");
    for _ in 0..20 {
        text.push_str(&"x".repeat(60_000));
        text.push_str(" \\\n");
    }
    text.push_str("end\n");
    text
}

#[test]
fn check_reports_a_declaration_over_the_supervisors_message_limit() {
    let t = TempDir::new("size");
    let f = t.write("s/web.ini", &huge_exec());
    t.write("s/ok.ini", "[service]\nexec = /bin/sleep 1000\n");
    let s = t.path("s").display().to_string();
    let out = svcctl(&["--services", &s, "check"], &[]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = text(&out.stderr);
    let want = format!("svcctl: {}:3: declaration packs to up to ", f.display());
    assert!(err.contains(&want), "missing {want:?} in:\n{err}");
    assert!(
        err.contains("('exec': 1200034), over the 1048576-byte message limit of svc-supervise"),
        "{err}"
    );
    assert!(
        err.contains("2 declarations, 0 templates: 1 error"),
        "{err}"
    );
}

#[test]
fn check_reports_a_name_too_long_for_the_supervisor_socket() {
    let t = TempDir::new("sock");
    // /run/svc/supervise/ (19) + 84 + .sock (5) = 108 bytes.
    let name = "n".repeat(84);
    let f = t.write(
        &format!("s/{name}.ini"),
        "[service]\nexec = /bin/sleep 1000\n",
    );
    t.write("s/t@.ini", "[service]\nexec = /bin/sleep %i\n");
    t.write(
        "s/default.ini",
        &format!("[target]\n[dependencies]\nwants = t@{}\n", "9".repeat(80)),
    );
    let s = t.path("s").display().to_string();
    let out = svcctl(&["--services", &s, "check"], &[]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = text(&out.stderr);
    let expected = format!(
        "svcctl: {}: supervisor socket path /run/svc/supervise/{name}.sock is 108 bytes, over the 107-byte limit of a unix socket address\n",
        f.display()
    );
    assert!(err.contains(&expected), "missing {expected:?} in:\n{err}");
    // The instance's path is 106 bytes: fine.
    assert!(err.contains("1 error"), "{err}");
    // The runtime directory in effect decides: a shorter one fits, a
    // longer one (SVC_RUNTIME_DIR, as the manager reads it) does not.
    let out = svcctl(&["--services", &s, "check", "--runtime-dir", "/r"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let out = svcctl(
        &["--services", &s, "check"],
        &[("SVC_RUNTIME_DIR", "/run/svc/x")],
    );
    let err = text(&out.stderr);
    assert!(
        err.contains(&format!(
            "{s}/t@.ini: supervisor socket path /run/svc/x/supervise/t@{}.sock is 108 bytes, over the 107-byte limit of a unix socket address (in instance t@{})",
            "9".repeat(80),
            "9".repeat(80)
        )),
        "{err}"
    );
}

#[test]
fn check_reports_an_environment_name_too_long_for_the_wire() {
    let t = TempDir::new("env");
    let long = "V".repeat(2048);
    let f = t.write(
        "s/e.ini",
        &format!("[service]\nexec = /bin/true\n[environment]\nOK = 1\n{long} = 2\n"),
    );
    let s = t.path("s").display().to_string();
    let out = svcctl(&["--services", &s, "check"], &[]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = text(&out.stderr);
    let want = format!(
        "svcctl: {}:5: environment variable name is 2048 bytes, over the 2047-byte limit of a name in the declaration sent to svc-supervise\n",
        f.display()
    );
    assert!(err.contains(&want), "missing {want:?} in:\n{err}");
}
