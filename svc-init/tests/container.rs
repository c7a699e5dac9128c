//! svc-init as PID 1 of a container of a given kind: an nspawn machine's
//! reboot requests (SIGINT from `machinectl reboot`, SIGTERM from busybox
//! `reboot` and `svcctl reboot`) end in nspawn's reboot status, and a /run
//! that is already usable is left alone without a word.

mod common;

use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;

use common::*;

fn boot_as(dir: &TempDir, wrapper: &[&str], inner: &[&str], before: Option<&str>) -> Namespace {
    let ns = Namespace::start(
        dir,
        NamespaceSpec {
            wrapper,
            inner,
            before,
            args: dir.init_args(),
            stdin: None,
        },
    );
    wait_for("the manager and its service", BOUND, || {
        dir.run("manager.ready").exists() && dir.run("service.pid").exists()
    });
    ns
}

const NSPAWN: &[&str] = &["env", "container=systemd-nspawn"];
const NO_SYS_BOOT: &[&str] = &["setpriv", "--bounding-set", "-sys_boot"];

/// Ends `ns` with `how`, and returns the status and svc-init's stderr after
/// checking that the stop was an orderly reboot.
fn ends_in_reboot(dir: &TempDir, ns: Namespace, how: impl FnOnce(i32)) -> (ExitStatus, String) {
    how(ns.init());
    let stderr_path = ns.stderr_path.clone();
    let status = ns.wait();
    let stderr = std::fs::read_to_string(stderr_path).unwrap_or_default();
    assert!(
        stderr.lines().any(|l| l == "svc-init: reboot"),
        "{status:?}; no reboot in:\n{stderr}"
    );
    assert!(
        dir.run("service.stopped").exists(),
        "not orderly:\n{stderr}"
    );
    (status, stderr)
}

#[test]
fn nspawn_sigint_is_a_reboot_exit_133() {
    let dir = TempDir::new("nspawn-int");
    let ns = boot_as(&dir, NSPAWN, NO_SYS_BOOT, None);
    let (status, stderr) = ends_in_reboot(&dir, ns, |pid| send(pid, libc::SIGINT));
    assert_eq!(status.code(), Some(133), "{status:?}\n{stderr}");
}

#[test]
fn nspawn_sigint_with_cap_sys_boot_reboots_through_the_kernel() {
    let dir = TempDir::new("nspawn-int-cap");
    let ns = boot_as(&dir, NSPAWN, &[], None);
    let (status, stderr) = ends_in_reboot(&dir, ns, |pid| send(pid, libc::SIGINT));
    // reboot(2) in a PID namespace: SIGHUP, which nspawn reads as a reboot (133).
    assert_eq!(status.signal(), Some(libc::SIGHUP), "{status:?}\n{stderr}");
}

#[test]
fn nspawn_svcctl_reboot_exits_133() {
    let svcctl = svc_init().with_file_name("svcctl");
    assert!(
        svcctl.exists(),
        "{} missing: `cargo build --workspace --bins` first",
        svcctl.display()
    );
    let dir = TempDir::new("nspawn-svcctl");
    let ns = boot_as(&dir, NSPAWN, NO_SYS_BOOT, None);
    let (status, stderr) = ends_in_reboot(&dir, ns, |pid| {
        let out = std::process::Command::new(&svcctl)
            .args(["reboot", "--init-pid", &pid.to_string()])
            .output()
            .unwrap();
        assert!(out.status.success(), "svcctl reboot: {out:?}");
    });
    assert_eq!(status.code(), Some(133), "{status:?}\n{stderr}");
}

#[test]
fn nspawn_busybox_reboot_sigterm_exits_133() {
    let dir = TempDir::new("nspawn-term");
    let ns = boot_as(&dir, NSPAWN, NO_SYS_BOOT, None);
    let (status, stderr) = ends_in_reboot(&dir, ns, |pid| send(pid, libc::SIGTERM));
    assert_eq!(status.code(), Some(133), "{status:?}\n{stderr}");
}

#[test]
fn nspawn_poweroff_still_exits_0() {
    let dir = TempDir::new("nspawn-off");
    let ns = boot_as(&dir, NSPAWN, NO_SYS_BOOT, None);
    ns.signal(38);
    let status = ns.wait();
    assert_eq!(status.code(), Some(0), "{status:?}");
}

#[test]
fn other_containers_still_power_off_on_sigint() {
    let dir = TempDir::new("podman-int");
    let ns = boot_as(&dir, &["env", "container=podman"], NO_SYS_BOOT, None);
    ns.signal(libc::SIGINT);
    let stderr_path = ns.stderr_path.clone();
    let status = ns.wait();
    let stderr = std::fs::read_to_string(stderr_path).unwrap_or_default();
    assert_eq!(status.code(), Some(0), "{status:?}\n{stderr}");
    assert!(
        stderr.lines().any(|l| l == "svc-init: poweroff"),
        "{stderr}"
    );
}

/// /run as the manager saw it: its mountinfo line, if /run is a mount point.
fn run_line(dir: &TempDir) -> Option<String> {
    dir.read("run/mountinfo")
        .lines()
        .rfind(|l| l.split(' ').nth(4) == Some("/run"))
        .map(str::to_owned)
}

/// svc-init without CAP_SYS_ADMIN (as in an unprivileged container: every
/// mount is refused) with /run prepared by `before`; ends it and returns
/// its stderr and how /run was mounted.
fn run_without_mounting(tag: &str, before: &str) -> (String, Option<String>) {
    let dir = TempDir::new(tag);
    let ns = boot_as(
        &dir,
        &[],
        &["setpriv", "--bounding-set", "-sys_admin"],
        Some(before),
    );
    let stderr = ns.stderr();
    let line = run_line(&dir);
    ns.signal(libc::SIGUSR2);
    let status = ns.wait();
    assert_eq!(status.signal(), Some(libc::SIGINT), "{status:?}\n{stderr}");
    (stderr, line)
}

#[test]
fn a_writable_run_directory_is_used_without_an_eperm_line() {
    if !root_or_skip("unmounting /run in a private mount namespace") {
        return;
    }
    // /run a plain directory of a writable root, as in podman.
    let before = "while mountpoint -q /run; do umount -l /run || exit 1; done";
    let (stderr, line) = run_without_mounting("run-dir", before);
    assert!(!stderr.contains("/run"), "{stderr}");
    assert_eq!(line, None, "something was mounted on /run");
}

#[test]
fn a_run_tmpfs_is_left_alone_without_a_line() {
    if !root_or_skip("mounting a tmpfs on /run in a private mount namespace") {
        return;
    }
    let before = "mount -t tmpfs -o mode=755 svc-test-run /run || exit 1";
    let (stderr, line) = run_without_mounting("run-tmpfs", before);
    assert!(!stderr.contains("/run"), "{stderr}");
    let line = line.expect("/run not a mount point");
    assert!(line.contains(" - tmpfs svc-test-run "), "{line}");
}

#[test]
fn a_read_only_run_is_reported_when_it_cannot_be_replaced() {
    if !root_or_skip("mounting a read-only tmpfs on /run in a private mount namespace") {
        return;
    }
    let before = "mount -t tmpfs -o ro svc-test-run /run || exit 1";
    let (stderr, _) = run_without_mounting("run-ro", before);
    assert!(
        stderr.contains("cannot mount tmpfs on /run: EPERM"),
        "{stderr}"
    );
}
