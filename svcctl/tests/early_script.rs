//! libexec/early's sysctl reader, run by the shells the early system meets
//! (dash as /bin/sh on Debian, busybox ash on Alpine) against a
//! /proc/sys of files in a temporary directory: what `sysctl -p` would
//! write, where, and what it names when a setting fails.

mod common;
use common::TempDir;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The shells to try: `sh`, and busybox's when it is installed.
fn shells() -> Vec<Vec<String>> {
    let mut v = vec![vec!["sh".to_string()]];
    if Command::new("busybox")
        .arg("true")
        .status()
        .is_ok_and(|s| s.success())
    {
        v.push(vec!["busybox".into(), "sh".into()]);
    }
    v
}

/// Runs `apply_sysctl CONF` from early.d/system under `shell`, with
/// /proc/sys at `proc_sys`; (exit status, output).
fn apply(shell: &[String], proc_sys: &Path, conf: &Path) -> (i32, String) {
    let script = format!(
        "say() {{ echo \"sysctl: $*\"; }}; . '{}'; apply_sysctl '{}'",
        repo().join("libexec/early.d/system").display(),
        conf.display()
    );
    let out = Command::new(&shell[0])
        .args(&shell[1..])
        .arg("-c")
        .arg(script)
        .env("SVC_EARLY_PROC_SYS", proc_sys)
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code().unwrap_or(-1), text)
}

#[test]
fn sysctl_files_are_applied_as_sysctl_p_would() {
    for shell in shells() {
        let dir = TempDir::new(&format!("sysctl-{}", shell.join("-")));
        let sys = dir.path("sys");
        for f in [
            "vm/swappiness",
            "kernel/pid_max",
            "kernel/core_pattern",
            "net/ipv4/conf/all/rp_filter",
            "net/ipv4/conf/eth0/rp_filter",
            "net/ipv4/ip_local_port_range",
        ] {
            dir.write(&format!("sys/{f}"), "");
        }
        // One the glob names first that refuses the write (a directory),
        // before two that take it.
        fs::create_dir_all(sys.join("net/ipv4/conf/a0/rp_filter")).unwrap();
        let conf = dir.write(
            "60-test.conf",
            "# a comment\n\
             ; another\n\
             \n  vm.swappiness = 13  \n\
             kernel/pid_max=54321\n\
             kernel.core_pattern = |/usr/bin/dump --to=/var/crash %p \\n\n\
             net.ipv4.conf.*.rp_filter = 2\n\
             net.ipv4.ip_local_port_range = 32768\t60999\n\
             -net.ipv4.no_such_key = 1\n\
             kernel.no_such_key = 3\n\
             not a setting",
        );
        let (status, out) = apply(&shell, &sys, &conf);
        let read = |f: &str| fs::read_to_string(sys.join(f)).unwrap();
        for (setting, want) in [
            ("vm/swappiness", "13\n"),
            ("kernel/pid_max", "54321\n"),
            // The value as written: '=' after the first and backslashes kept.
            (
                "kernel/core_pattern",
                "|/usr/bin/dump --to=/var/crash %p \\n\n",
            ),
            ("net/ipv4/conf/all/rp_filter", "2\n"),
            ("net/ipv4/conf/eth0/rp_filter", "2\n"),
            ("net/ipv4/ip_local_port_range", "32768\t60999\n"),
        ] {
            assert_eq!(read(setting), want, "{shell:?}: {setting}");
        }
        // The failures are named, the `-` key is not, and the status says
        // something failed.
        assert_eq!(status, 1, "{shell:?}: {out}");
        assert!(
            out.contains("cannot set kernel.no_such_key = 3"),
            "{shell:?}: {out}"
        );
        assert!(
            out.contains("not a setting: not a setting"),
            "{shell:?}: {out}"
        );
        // A glob that set some but not all is a failure too.
        assert!(
            out.contains("cannot set net.ipv4.conf.*.rp_filter = 2"),
            "{shell:?}: {out}"
        );
        assert!(!out.contains("no_such_key = 1"), "{shell:?}: {out}");
    }
}

#[test]
fn a_clean_sysctl_file_succeeds_quietly() {
    for shell in shells() {
        let dir = TempDir::new(&format!("sysctl-clean-{}", shell.join("-")));
        let sys = dir.path("sys");
        dir.write("sys/vm/swappiness", "");
        // No newline at the end of the last line.
        let conf = dir.write("ok.conf", "# only this\nvm.swappiness=7");
        let (status, out) = apply(&shell, &sys, &conf);
        assert_eq!((status, out.as_str()), (0, ""), "{shell:?}");
        assert_eq!(
            fs::read_to_string(sys.join("vm/swappiness")).unwrap(),
            "7\n"
        );
    }
}
