//! svc-init as PID 1 of a PID+mount namespace, driven by signals and
//! initctl records; what the namespace's parent observes at the end.

mod common;

use std::io::Write;
use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;

use common::*;
use svc_init::initctl::{self, Request};

/// Starts a system in `dir`, waits until the stand-in manager runs its
/// service, and returns the namespace.
fn boot(dir: &TempDir, inner: &[&str]) -> Namespace {
    let ns = Namespace::start(
        dir,
        NamespaceSpec {
            wrapper: &[],
            inner,
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

const SIGINT_END: Option<i32> = Some(libc::SIGINT);
const SIGHUP_END: Option<i32> = Some(libc::SIGHUP);

fn check_end(status: ExitStatus, want: Option<i32>, stderr: &str) {
    assert_eq!(
        status.signal(),
        want,
        "status {status:?}; stderr:\n{stderr}"
    );
}

/// One signal of the table: the right end, and the right action logged.
fn signal_leads_to(signo: i32, action: &str, want: Option<i32>, orderly: bool) {
    let dir = TempDir::new(&format!("sig{signo}"));
    let ns = boot(&dir, &[]);
    ns.signal(signo);
    let stderr_path = ns.stderr_path.clone();
    let status = ns.wait();
    let stderr = std::fs::read_to_string(stderr_path).unwrap_or_default();
    check_end(status, want, &stderr);
    assert!(
        stderr
            .lines()
            .any(|l| l.starts_with(&format!("svc-init: {action}"))),
        "no `{action}` in:\n{stderr}"
    );
    // An orderly stop lets the service handle SIGTERM; an immediate one does not.
    assert_eq!(dir.run("service.stopped").exists(), orderly, "{stderr}");
    if orderly {
        assert!(dir.read("run/manager.log").contains("stopped"));
    }
}

// In a PID namespace svc-init is in a container: SIGTERM and SIGINT power off.
#[test]
fn sigterm_powers_off_a_container() {
    signal_leads_to(libc::SIGTERM, "poweroff", SIGINT_END, true);
}

#[test]
fn sigint_powers_off_a_container() {
    signal_leads_to(libc::SIGINT, "poweroff", SIGINT_END, true);
}

#[test]
fn sigusr1_halts() {
    signal_leads_to(libc::SIGUSR1, "halt", SIGINT_END, true);
}

#[test]
fn sigusr2_powers_off() {
    signal_leads_to(libc::SIGUSR2, "poweroff", SIGINT_END, true);
}

#[test]
fn sigpwr_powers_off() {
    signal_leads_to(libc::SIGPWR, "poweroff", SIGINT_END, true);
}

#[test]
fn signal_37_halts() {
    signal_leads_to(37, "halt", SIGINT_END, true);
}

#[test]
fn signal_38_powers_off() {
    signal_leads_to(38, "poweroff", SIGINT_END, true);
}

#[test]
fn signal_39_reboots() {
    signal_leads_to(39, "reboot", SIGHUP_END, true);
}

#[test]
fn signal_47_halts_immediately() {
    signal_leads_to(47, "halt, immediately", SIGINT_END, false);
}

#[test]
fn signal_48_powers_off_immediately() {
    signal_leads_to(48, "poweroff, immediately", SIGINT_END, false);
}

#[test]
fn signal_49_reboots_immediately() {
    signal_leads_to(49, "reboot, immediately", SIGHUP_END, false);
}

#[test]
fn without_cap_sys_boot_it_exits_0() {
    let dir = TempDir::new("nocap");
    // inside the namespace, so that it works in an unprivileged user namespace too
    let ns = boot(&dir, &["setpriv", "--bounding-set", "-sys_boot"]);
    let caps = std::fs::read_to_string(format!("/proc/{}/status", ns.init())).unwrap();
    let eff = svc_init::detect::cap_eff(&caps).unwrap();
    assert_eq!(
        eff & (1 << svc_init::detect::CAP_SYS_BOOT),
        0,
        "CAP_SYS_BOOT not dropped"
    );
    ns.signal(libc::SIGUSR2);
    let status = ns.wait();
    assert_eq!(status.code(), Some(0), "{status:?}");
    assert!(dir.run("service.stopped").exists());
}

#[test]
fn sighup_asks_the_manager_to_rescan() {
    let dir = TempDir::new("rescan");
    let ns = boot(&dir, &[]);
    ns.signal(libc::SIGHUP);
    wait_for("rescan", BOUND, || {
        dir.read("run/manager.log").contains("rescan")
    });
    ns.signal(libc::SIGUSR2);
    check_end(ns.wait(), SIGINT_END, "");
}

fn write_records(dir: &TempDir, bytes: &[u8]) {
    let mut fifo = std::fs::OpenOptions::new()
        .write(true)
        .open(dir.path("initctl"))
        .unwrap();
    fifo.write_all(bytes).unwrap();
}

fn record(cmd: i32, runlevel: char) -> [u8; initctl::RECORD_LEN] {
    Request::new(cmd, runlevel as i32).encode()
}

fn setenv(var: &str) -> [u8; initctl::RECORD_LEN] {
    Request::with_data(initctl::CMD_SETENV, &[var]).encode()
}

fn initctl_leads_to(records: &[[u8; initctl::RECORD_LEN]], action: &str, want: Option<i32>) {
    let dir = TempDir::new("initctl");
    let ns = boot(&dir, &[]);
    let mode = std::fs::metadata(dir.path("initctl")).unwrap();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&mode.permissions()) & 0o7777,
        0o600
    );
    for r in records {
        write_records(&dir, r);
    }
    let path = ns.stderr_path.clone();
    let status = ns.wait();
    let stderr = std::fs::read_to_string(path).unwrap_or_default();
    check_end(status, want, &stderr);
    assert!(
        stderr.lines().any(|l| l == format!("svc-init: {action}")),
        "no `{action}` in:\n{stderr}"
    );
    assert!(dir.run("service.stopped").exists());
}

#[test]
fn initctl_runlevel_0_powers_off() {
    initctl_leads_to(&[record(initctl::CMD_RUNLVL, '0')], "poweroff", SIGINT_END);
}

#[test]
fn initctl_init_halt_makes_runlevel_0_a_halt() {
    initctl_leads_to(
        &[setenv("INIT_HALT=HALT"), record(initctl::CMD_RUNLVL, '0')],
        "halt",
        SIGINT_END,
    );
}

#[test]
fn initctl_runlevel_6_reboots() {
    initctl_leads_to(&[record(initctl::CMD_RUNLVL, '6')], "reboot", SIGHUP_END);
}

#[test]
fn initctl_powerfailnow_powers_off() {
    initctl_leads_to(
        &[record(initctl::CMD_POWERFAILNOW, '0')],
        "poweroff",
        SIGINT_END,
    );
}

#[test]
fn initctl_powerok_cancels_a_power_failure() {
    // The cancelled poweroff must not happen: the end is the reboot asked after.
    initctl_leads_to(
        &[
            record(initctl::CMD_POWERFAIL, '0'),
            record(initctl::CMD_POWEROK, '0'),
            record(initctl::CMD_RUNLVL, '6'),
        ],
        "reboot",
        SIGHUP_END,
    );
}

#[test]
fn initctl_bad_records_are_dropped_and_logged_then_a_split_record_works() {
    let dir = TempDir::new("badrec");
    let ns = boot(&dir, &[]);
    let mut bad = record(initctl::CMD_RUNLVL, '0');
    bad[..4].copy_from_slice(&0xdead_beef_u32.to_ne_bytes());
    write_records(&dir, &bad);
    let mut long = record(initctl::CMD_RUNLVL, '2').to_vec();
    long.extend_from_slice(&[1; 10]);
    write_records(&dir, &long);
    // a short one: half a record, then nothing for longer than the timeout
    write_records(&dir, &record(initctl::CMD_RUNLVL, '0')[..100]);
    wait_for("the short record to be dropped", BOUND, || {
        ns.stderr().contains("short record")
    });
    let reboot = record(initctl::CMD_RUNLVL, '6');
    write_records(&dir, &reboot[..10]);
    write_records(&dir, &reboot[10..200]);
    write_records(&dir, &reboot[200..]);
    let path = ns.stderr_path.clone();
    let status = ns.wait();
    let stderr = std::fs::read_to_string(path).unwrap();
    check_end(status, SIGHUP_END, &stderr);
    for needle in [
        "without the init_request magic",
        "past the end of a record",
        "short record (100 of 384 bytes)",
    ] {
        assert!(stderr.contains(needle), "no `{needle}` in:\n{stderr}");
    }
}

#[test]
fn orphan_storm_is_reaped() {
    let dir = TempDir::new("storm");
    let ns = boot(&dir, &[]);
    let init = ns.init();
    let manager = *children_of(init)
        .iter()
        .find(|&&p| cmdline_of(p).contains("stand-in-manager"))
        .expect("manager");
    send(manager, libc::SIGUSR1);
    wait_for("the storm", BOUND, || {
        dir.read("run/manager.log").contains("storm")
    });
    // 200 orphans came to PID 1; once they end, none may stay a zombie.
    wait_for("every orphan reaped", BOUND, || {
        let kids = children_of(init);
        kids.len() <= 3 && kids.iter().all(|&p| state_of(p) != Some('Z'))
    });
    ns.signal(libc::SIGUSR2);
    check_end(ns.wait(), SIGINT_END, "");
}

#[test]
fn killed_manager_is_restarted_and_adopts_the_service() {
    let dir = TempDir::new("restart");
    let ns = boot(&dir, &[]);
    let find_manager = || {
        children_of(ns.init())
            .into_iter()
            .find(|&p| cmdline_of(p).contains("stand-in-manager"))
    };
    let first = find_manager().expect("manager");
    send(first, libc::SIGKILL);
    wait_for("a second manager", BOUND, || {
        dir.read("run/manager.log").matches("start ").count() == 2
            && dir.read("run/manager.log").contains("adopt")
    });
    let log = dir.read("run/manager.log");
    assert_eq!(
        log.matches("service-start").count(),
        1,
        "service restarted:\n{log}"
    );
    let second = find_manager().expect("restarted manager");
    assert_ne!(first, second);
    ns.signal(libc::SIGUSR2);
    check_end(ns.wait(), SIGINT_END, "");
    // the adopted service was stopped by the new manager, in order
    assert!(dir.run("service.stopped").exists());
    assert!(dir.read("run/manager.log").ends_with("stopped\n"));
}

#[test]
fn options_are_passed_to_the_manager() {
    let dir = TempDir::new("args");
    let mut args = dir.init_args();
    args.extend(
        [
            "--services",
            "/x/services.d",
            "--target",
            "rescue",
            "--socket",
            "/x/sock",
        ]
        .map(Into::into),
    );
    let ns = Namespace::start(
        &dir,
        NamespaceSpec {
            wrapper: &[],
            inner: &[],
            before: None,
            args,
            stdin: None,
        },
    );
    wait_for("manager", BOUND, || dir.run("manager.ready").exists());
    let got = dir.read("run/manager.args");
    let want = format!(
        "--services\n/x/services.d\n--target\nrescue\n--socket\n/x/sock\n--runtime-dir\n{}\n--log-dir\n{}\n",
        dir.path("run").display(),
        dir.path("log").display()
    );
    assert_eq!(got, want);
    ns.signal(libc::SIGUSR2);
    check_end(ns.wait(), SIGINT_END, "");
}

#[test]
fn missing_api_filesystems_are_mounted_in_the_namespace_only() {
    let dir = TempDir::new("mounts");
    // /dev/shm taken away inside the private mount namespace (possible as
    // root; an unprivileged user namespace cannot unmount inherited mounts).
    let removed = dir.path("shm-removed");
    let before = format!(
        "while mountpoint -q /dev/shm; do umount -l /dev/shm || break; done\n\
         mountpoint -q /dev/shm || touch {}",
        removed.display()
    );
    let ns = Namespace::start(
        &dir,
        NamespaceSpec {
            wrapper: &[],
            inner: &[],
            before: Some(&before),
            args: dir.init_args(),
            stdin: None,
        },
    );
    wait_for("manager", BOUND, || dir.run("manager.ready").exists());
    let mounts = dir.read("run/mountinfo");
    let line = |target: &str| {
        mounts
            .lines()
            .find(|l| l.split(' ').nth(4) == Some(target))
            .map(str::to_owned)
    };
    if !removed.exists() {
        // Only root can take an inherited mount away; without root the
        // check is skipped (and fails under CI=true).
        assert!(
            !is_root(),
            "/dev/shm could not be unmounted in the namespace"
        );
        root_or_skip("unmounting /dev/shm in a private mount namespace");
    } else {
        assert!(
            line("/dev/shm").is_some_and(|l| l.contains(" - tmpfs ")),
            "{mounts}"
        );
        let stderr = ns.stderr();
        let mounted = stderr.lines().find(|l| l.starts_with("svc-init: mounted"));
        assert!(mounted.is_some_and(|l| l.contains("/dev/shm")), "{stderr}");
    }
    // /run: already a mount point, or mounted by svc-init
    assert!(line("/run").is_some(), "{mounts}");
    ns.signal(libc::SIGUSR2);
    check_end(ns.wait(), SIGINT_END, "");
    // the host's /dev/shm was never touched
    assert!(svc_init::mounts::is_mount_point(std::path::Path::new("/dev/shm")).unwrap());
}

#[test]
fn emergency_shell_when_the_manager_cannot_run() {
    let dir = TempDir::new("emergency");
    let marker = dir.path("shell-ran");
    let input = dir.path("shell-input");
    std::fs::write(
        &input,
        format!(
            "echo from the emergency shell > {}\nexit\n",
            marker.display()
        ),
    )
    .unwrap();
    let mut args = dir.init_args();
    args[1] = "/nonexistent/svc-manager".into();
    let ns = Namespace::start(
        &dir,
        NamespaceSpec {
            wrapper: &[],
            inner: &[],
            before: None,
            args,
            stdin: Some(input),
        },
    );
    wait_for("the emergency shell", BOUND, || marker.exists());
    // tests/system/qemu-boot.sh looks for this wording
    assert!(
        ns.stderr()
            .contains("svc-manager cannot run: starting an emergency shell"),
        "{}",
        ns.stderr()
    );
    ns.signal(libc::SIGUSR2);
    check_end(ns.wait(), SIGINT_END, "");
}

#[test]
fn container_file_follows_the_runtime_dir() {
    let dir = TempDir::new("container");
    let ns = Namespace::start(
        &dir,
        NamespaceSpec {
            wrapper: &["env", "container=svc-test"],
            inner: &[],
            before: None,
            args: dir.init_args(),
            stdin: None,
        },
    );
    wait_for("manager", BOUND, || dir.run("manager.ready").exists());
    assert_eq!(dir.read("run/container"), "svc-test\n");
    ns.signal(libc::SIGTERM);
    check_end(ns.wait(), SIGINT_END, "");
}
