//! `svc-init RUNLEVEL` (not PID 1) and `telinit RUNLEVEL`: what sysvinit's
//! shutdown, halt, poweroff and reboot run (`/sbin/init 0`). The request
//! goes to a svc-init that is PID 1 of a PID+mount namespace, through its
//! private initctl FIFO.

mod common;

use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Output, Stdio};

use common::*;

fn boot(dir: &TempDir) -> Namespace {
    let ns = Namespace::start(
        dir,
        NamespaceSpec {
            wrapper: &[],
            inner: &[],
            before: None,
            args: dir.init_args(),
            stdin: None,
        },
    );
    wait_for("the manager and its service", BOUND, || {
        dir.run("manager.ready").exists() && dir.run("service.pid").exists()
    });
    ns
}

/// `program ARGS` as a plain process (not PID 1), bounded by `timeout`: a
/// request that hangs is a failure, not a stuck test.
fn request(program: &std::path::Path, args: &[&str], env: &[(&str, &std::path::Path)]) -> Output {
    let mut cmd = Command::new("timeout");
    cmd.args(["10"])
        .arg(program)
        .args(args)
        .stdin(Stdio::null());
    cmd.env_remove("SVC_INITCTL");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("timeout")
}

fn initctl_arg(dir: &TempDir) -> String {
    dir.path("initctl").to_string_lossy().into_owned()
}

#[test]
fn runlevel_0_powers_pid1_off_orderly_and_q_rescans() {
    let dir = TempDir::new("telinit0");
    let ns = boot(&dir);
    let fifo = initctl_arg(&dir);

    let q = request(&svc_init(), &["--initctl", &fifo, "q"], &[]);
    assert_eq!(q.status.code(), Some(0), "{q:?}");
    assert!(q.stderr.is_empty(), "{q:?}");
    wait_for("the rescan", BOUND, || {
        dir.read("run/manager.log").contains("rescan")
    });

    let off = request(&svc_init(), &["--initctl", &fifo, "0"], &[]);
    assert_eq!(off.status.code(), Some(0), "{off:?}");
    let stderr_path = ns.stderr_path.clone();
    let status = ns.wait();
    let stderr = std::fs::read_to_string(stderr_path).unwrap_or_default();
    // reboot(2) for poweroff in a PID namespace: the kernel ends PID 1 with SIGINT.
    assert_eq!(status.signal(), Some(libc::SIGINT), "{status:?}\n{stderr}");
    assert!(
        stderr.lines().any(|l| l == "svc-init: poweroff"),
        "{stderr}"
    );
    assert!(
        dir.run("service.stopped").exists(),
        "not orderly:\n{stderr}"
    );
}

#[test]
fn as_telinit_with_svc_initctl_reboots() {
    let dir = TempDir::new("telinit6");
    let ns = boot(&dir);
    let telinit = dir.path("telinit");
    std::os::unix::fs::symlink(svc_init(), &telinit).unwrap();
    let fifo = dir.path("initctl");

    let bad = request(&telinit, &["7"], &[("SVC_INITCTL", &fifo)]);
    assert_eq!(bad.status.code(), Some(2), "{bad:?}");
    let msg = String::from_utf8_lossy(&bad.stderr);
    assert!(msg.starts_with("telinit: `7` is not a runlevel"), "{msg}");
    let none = request(&telinit, &[], &[("SVC_INITCTL", &fifo)]);
    assert_eq!(none.status.code(), Some(2), "{none:?}");

    let six = request(&telinit, &["6"], &[("SVC_INITCTL", &fifo)]);
    assert_eq!(six.status.code(), Some(0), "{six:?}");
    let stderr_path = ns.stderr_path.clone();
    let status = ns.wait();
    let stderr = std::fs::read_to_string(stderr_path).unwrap_or_default();
    assert_eq!(status.signal(), Some(libc::SIGHUP), "{status:?}\n{stderr}");
    assert!(stderr.lines().any(|l| l == "svc-init: reboot"), "{stderr}");
    assert!(
        dir.run("service.stopped").exists(),
        "not orderly:\n{stderr}"
    );
    // The bad requests never reached PID 1.
    assert!(!stderr.contains("Unsupported"), "{stderr}");
}

#[test]
fn bad_runlevels_are_errors_and_reach_nobody() {
    let dir = TempDir::new("telinit-bad");
    let fifo = initctl_arg(&dir);
    for args in [
        &["7"][..],
        &["single"],
        &["0", "6"],
        &["--initctl", &fifo, "x"],
    ] {
        let out = request(&svc_init(), args, &[]);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {out:?}");
        let msg = String::from_utf8_lossy(&out.stderr);
        assert!(msg.starts_with("svc-init: "), "{args:?}: {msg}");
    }
}

#[test]
fn a_fifo_nobody_reads_is_an_error_naming_it() {
    let dir = TempDir::new("telinit-noreader");
    let fifo = dir.path("initctl");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).unwrap();
    let path = fifo.to_string_lossy().into_owned();
    let out = request(&svc_init(), &["--initctl", &path, "0"], &[]);
    // 124 would be `timeout`: a hang.
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let msg = String::from_utf8_lossy(&out.stderr);
    assert!(
        msg.contains(&path) && msg.contains("no init reads"),
        "{msg}"
    );
    let missing = dir.path("missing").to_string_lossy().into_owned();
    let out = request(&svc_init(), &["--initctl", &missing, "6"], &[]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains(&missing));
}
