//! `svc-init -- CMD ARGS…`: statuses, signals, hygiene, services beside CMD,
//! orphans — as a plain process (subreaper) and as PID 1 of a namespace.

mod common;

use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use common::*;

fn entry(args: &[&str]) -> Command {
    let mut cmd = Command::new(svc_init());
    cmd.args(args).stdin(Stdio::null());
    cmd
}

/// A child killed on drop, so a failing test leaves nothing behind.
struct Running(Child);

impl Running {
    fn pid(&self) -> i32 {
        self.0.id() as i32
    }

    fn wait(&mut self) -> ExitStatus {
        let deadline = Instant::now() + BOUND;
        loop {
            if let Some(s) = self.0.try_wait().unwrap() {
                return s;
            }
            assert!(Instant::now() < deadline, "svc-init did not end");
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if self.0.try_wait().ok().flatten().is_none() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

fn status_of(args: &[&str]) -> ExitStatus {
    let mut r = Running(entry(args).stderr(Stdio::null()).spawn().unwrap());
    r.wait()
}

#[test]
fn every_exit_code_passes_through() {
    for code in 0..=255 {
        let script = format!("exit {code}");
        let status = status_of(&["--", "sh", "-c", &script]);
        assert_eq!(status.code(), Some(code), "CMD exited {code}");
    }
}

#[test]
fn signal_deaths_become_128_plus_n() {
    assert_eq!(
        status_of(&["--", "sh", "-c", "kill -KILL $$"]).code(),
        Some(137)
    );
    assert_eq!(
        status_of(&["--", "sh", "-c", "kill -TERM $$"]).code(),
        Some(143)
    );
}

#[test]
fn remap_exit() {
    let args = ["--remap-exit", "143:0", "--remap-exit=3:4", "--"];
    let run = |script: &str| {
        let mut a = args.to_vec();
        a.extend(["sh", "-c", script]);
        status_of(&a).code()
    };
    assert_eq!(run("kill -TERM $$"), Some(0));
    assert_eq!(run("exit 3"), Some(4));
    assert_eq!(run("exit 5"), Some(5));
}

#[test]
fn command_not_found_is_127_and_bad_usage_is_2() {
    assert_eq!(
        status_of(&["--", "/nonexistent/svc-init-cmd"]).code(),
        Some(127)
    );
    assert_eq!(status_of(&["--bogus"]).code(), Some(2));
    assert_eq!(status_of(&["stray-word"]).code(), Some(2));
    assert_eq!(
        status_of(&["--remap-exit", "x", "--", "true"]).code(),
        Some(2)
    );
    let out = entry(&["--help"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("usage: svc-init"));
    let out = entry(&["--version"]).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("svc-init "));
}

#[test]
fn a_command_that_cannot_be_executed_is_126() {
    let dir = TempDir::new("noexec");
    let script = dir.script("noexec", "exit 0");
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    // root may read it but not execute it: no x bit at all
    assert_eq!(
        status_of(&["--", script.to_str().unwrap()]).code(),
        Some(126)
    );
    let not_a_program = dir.path("run");
    assert_eq!(
        status_of(&["--", not_a_program.to_str().unwrap()]).code(),
        Some(126)
    );
}

/// An inherited SIG_IGN for SIGCHLD would have the kernel reap CMD itself,
/// and its status would be lost.
#[test]
fn an_inherited_ignored_sigchld_loses_no_status() {
    let mut cmd = entry(&["--", "sh", "-c", "exit 7"]);
    cmd.stderr(Stdio::null());
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            libc::signal(libc::SIGCHLD, libc::SIG_IGN);
            Ok(())
        });
    }
    assert_eq!(Running(cmd.spawn().unwrap()).wait().code(), Some(7));
}

/// Not PID 1, a stray signal would kill svc-init at its default
/// disposition; every one is blocked and read, so it is dropped instead.
#[test]
fn stray_signals_do_not_end_a_plain_entrypoint() {
    let mut r = Running(entry(&["--", "sleep", "30"]).spawn().unwrap());
    wait_for("CMD to run", BOUND, || {
        children_of(r.pid())
            .first()
            .is_some_and(|&c| cmdline_of(c).starts_with("sleep"))
    });
    for signo in [
        libc::SIGALRM,
        libc::SIGPIPE,
        libc::SIGVTALRM,
        libc::SIGTTOU,
        40,
    ] {
        send(r.pid(), signo);
    }
    // Had one of them been fatal, svc-init would have died of it before
    // reading the SIGTERM sent after them.
    send(r.pid(), libc::SIGTERM);
    assert_eq!(r.wait().code(), Some(143));
}

const TRAPS: &str = r#"
out=$1
for s in HUP INT QUIT USR1 USR2 WINCH; do trap "echo $s >> $out" $s; done
trap "echo TERM >> $out; exit 0" TERM
echo ready >> $out.ready
while :; do sleep 1 & wait $!; done
"#;

const FORWARDED: [(i32, &str); 7] = [
    (libc::SIGHUP, "HUP"),
    (libc::SIGINT, "INT"),
    (libc::SIGQUIT, "QUIT"),
    (libc::SIGUSR1, "USR1"),
    (libc::SIGUSR2, "USR2"),
    (libc::SIGWINCH, "WINCH"),
    (libc::SIGTERM, "TERM"),
];

#[test]
fn every_forwarded_signal_reaches_cmd() {
    let dir = TempDir::new("fwd");
    let script = dir.script("traps", TRAPS);
    let out = dir.path("got");
    let mut r = Running(
        entry(&["--", script.to_str().unwrap(), out.to_str().unwrap()])
            .spawn()
            .unwrap(),
    );
    let ready = dir.path("got.ready");
    wait_for("CMD ready", BOUND, || ready.exists());
    for (i, (signo, name)) in FORWARDED.iter().enumerate() {
        send(r.pid(), *signo);
        wait_for(name, BOUND, || dir.read("got").lines().count() > i);
        assert_eq!(dir.read("got").lines().nth(i), Some(*name));
    }
    let status = r.wait();
    assert_eq!(status.code(), Some(0));
}

#[test]
fn forward_to_group_reaches_cmds_children() {
    let dir = TempDir::new("group");
    let script = dir.script(
        "group",
        r#"out=$1
trap "echo parent >> $out; wait; exit 0" USR1
sh -c 'trap "echo child >> $0; exit 0" USR1; echo ready >> $0.ready; while :; do sleep 1 & wait $!; done' "$out" &
while :; do sleep 1 & wait $!; done"#,
    );
    let out = dir.path("got");
    let mut r = Running(
        entry(&[
            "--forward-to",
            "group",
            "--",
            script.to_str().unwrap(),
            out.to_str().unwrap(),
        ])
        .spawn()
        .unwrap(),
    );
    wait_for("child ready", BOUND, || dir.path("got.ready").exists());
    send(r.pid(), libc::SIGUSR1);
    assert_eq!(r.wait().code(), Some(0));
    let got = dir.read("got");
    assert!(got.contains("parent") && got.contains("child"), "{got}");
}

#[test]
fn not_pid1_becomes_a_silent_subreaper() {
    let dir = TempDir::new("subreaper");
    let out = dir.path("ppid");
    let script = format!(
        "(sh -c 'sleep 0.3; grep PPid /proc/$$/status > {0}.tmp; mv {0}.tmp {0}' &); sleep 2",
        out.display()
    );
    let mut r = Running(
        entry(&["--", "sh", "-c", &script])
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    wait_for("the orphan's report", BOUND, || out.exists());
    let ppid: i32 = dir
        .read("ppid")
        .trim_start_matches("PPid:")
        .trim()
        .parse()
        .unwrap();
    assert_eq!(ppid, r.pid(), "the orphan was not reparented to svc-init");
    assert_eq!(r.wait().code(), Some(0));
    let mut stderr = String::new();
    std::io::Read::read_to_string(r.0.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    assert_eq!(stderr, "", "svc-init said something");
}

#[test]
fn cmd_starts_clean_whatever_svc_init_inherited() {
    // CMD is `sleep` itself (no shell, which opens fds of its own), looked
    // at from outside while it runs.
    let mut cmd = entry(&["--", "sleep", "5"]);
    let extra = std::fs::File::open("/dev/null").unwrap();
    let extra_fd = std::os::fd::AsRawFd::as_raw_fd(&extra);
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            for s in [
                libc::SIGTERM,
                libc::SIGINT,
                libc::SIGALRM,
                libc::SIGTTOU,
                32,
            ] {
                libc::syscall(
                    libc::SYS_rt_sigaction,
                    s,
                    [1u64, 0, 0, 0].as_ptr(),
                    0usize,
                    8usize,
                );
            }
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            for s in [libc::SIGTSTP, libc::SIGVTALRM, libc::SIGUSR1, libc::SIGCHLD] {
                libc::sigaddset(&mut set, s);
            }
            libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
            // an fd svc-init inherits without close-on-exec
            libc::dup2(extra_fd, 7);
            Ok(())
        });
    }
    let mut r = Running(cmd.spawn().unwrap());
    let mut child = 0;
    wait_for("CMD to run", BOUND, || {
        child = children_of(r.pid()).first().copied().unwrap_or(0);
        child != 0 && cmdline_of(child).starts_with("sleep")
    });
    let mask = |pid: i32, field: &str| {
        let text = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
        text.lines()
            .find_map(|l| l.strip_prefix(field))
            .map(|v| u64::from_str_radix(v.trim(), 16).unwrap())
            .unwrap()
    };
    // the wrapper worked: svc-init itself has SIGALRM and 32 ignored, SIGVTALRM blocked
    let bit = |sig: i32| 1u64 << (sig - 1);
    assert_ne!(mask(r.pid(), "SigIgn:") & bit(libc::SIGALRM), 0);
    assert_ne!(mask(r.pid(), "SigIgn:") & bit(32), 0);
    assert_ne!(mask(r.pid(), "SigBlk:") & bit(libc::SIGVTALRM), 0);
    // and CMD starts clean
    assert_eq!(mask(child, "SigBlk:"), 0, "CMD's blocked signals");
    assert_eq!(mask(child, "SigIgn:"), 0, "CMD's ignored signals");
    // The new cmdline is visible before execve has closed the close-on-exec
    // descriptors, so wait for the listing to settle; a real leak still
    // fails here, when the bound runs out.
    let fds_of = |pid: i32| {
        let mut fds: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
            .map(|dir| {
                dir.filter_map(Result::ok)
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        fds.sort();
        fds
    };
    let mut fds = Vec::new();
    wait_for("CMD's fds to be 0, 1, 2", BOUND, || {
        fds = fds_of(child);
        fds == ["0", "1", "2"]
    });
    assert_eq!(fds, ["0", "1", "2"], "CMD's fds");
    send(r.pid(), libc::SIGTERM);
    assert_eq!(r.wait().code(), Some(143));
}

/// Services beside CMD: the manager runs when declarations are given, and
/// is stopped (stopping its service) before svc-init exits with CMD's status.
#[test]
fn services_run_beside_cmd_and_stop_promptly() {
    let dir = TempDir::new("beside");
    let services = dir.path("services.d");
    std::fs::create_dir_all(&services).unwrap();
    let mut r = Running(
        entry(&[
            "--manager",
            dir.manager().to_str().unwrap(),
            "--services",
            services.to_str().unwrap(),
            "--runtime-dir",
            dir.path("run").to_str().unwrap(),
            "--",
            "sh",
            "-c",
            "trap 'exit 3' TERM; while :; do sleep 1 & wait $!; done",
        ])
        .spawn()
        .unwrap(),
    );
    wait_for("the service", BOUND, || dir.run("service.pid").exists());
    let started = Instant::now();
    send(r.pid(), libc::SIGTERM);
    let status = r.wait();
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "stop took {:?}",
        started.elapsed()
    );
    assert_eq!(status.code(), Some(3));
    assert!(dir.run("service.stopped").exists(), "service not stopped");
    assert!(dir.read("run/manager.log").ends_with("stopped\n"));
}

#[test]
fn no_declarations_no_manager() {
    let dir = TempDir::new("nodecl");
    let status = status_of(&[
        "--manager",
        dir.manager().to_str().unwrap(),
        "--runtime-dir",
        dir.path("run").to_str().unwrap(),
        "--",
        "sleep",
        "0.3",
    ]);
    assert_eq!(status.code(), Some(0));
    let has_default_dirs = svc_init::entrypoint::has_declarations(&[]);
    assert_eq!(dir.run("manager.log").exists(), has_default_dirs);
}

/// svc-init without CMD and not PID 1: an init for a subtree. It stops only
/// its own descendants and exits 0; a process it did not start survives.
#[test]
fn init_mode_not_pid1_stops_only_its_descendants() {
    let dir = TempDir::new("subtree");
    let mut bystander = Running(Command::new("sleep").arg("30").spawn().unwrap());
    let mut args = vec![
        "--manager".to_owned(),
        dir.manager().display().to_string(),
        "--runtime-dir".to_owned(),
        dir.path("run").display().to_string(),
    ];
    args.extend([
        "--initctl".to_owned(),
        dir.path("initctl").display().to_string(),
    ]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut r = Running(entry(&args).stderr(Stdio::null()).spawn().unwrap());
    wait_for("the service", BOUND, || dir.run("service.pid").exists());
    // an orphan of a service comes to svc-init and must go at the end too
    send(r.pid(), libc::SIGTERM);
    assert_eq!(r.wait().code(), Some(0));
    assert!(dir.run("service.stopped").exists());
    assert!(
        bystander.0.try_wait().unwrap().is_none(),
        "a bystander was killed"
    );
    let _ = bystander.0.kill();
    let _ = bystander.wait();
}

fn pid1_entry(dir: &TempDir, script: &str) -> Namespace {
    let args = ["--", "sh", "-c", script].map(Into::into).to_vec();
    Namespace::start(
        dir,
        NamespaceSpec {
            wrapper: &[],
            inner: &[],
            before: None,
            args,
            stdin: None,
        },
    )
}

#[test]
fn as_pid1_statuses_pass_through() {
    for (script, code) in [
        ("exit 7", 7),
        ("kill -TERM $$", 143),
        ("kill -KILL $$", 137),
    ] {
        let dir = TempDir::new("pid1status");
        let status = pid1_entry(&dir, script).wait();
        assert_eq!(status.code(), Some(code), "{script}: {status:?}");
    }
}

#[test]
fn as_pid1_orphans_are_reaped_and_sigterm_reaches_cmd() {
    let dir = TempDir::new("pid1storm");
    let ready = dir.path("ready");
    let script = format!(
        "(i=0; while [ $i -lt 200 ]; do sleep 0.2 & i=$((i+1)); done); touch {}; while :; do sleep 1; done",
        ready.display()
    );
    let ns = pid1_entry(&dir, &script);
    wait_for("storm", BOUND, || ready.exists());
    let init = ns.init();
    wait_for("every orphan reaped", BOUND, || {
        let kids = children_of(init);
        kids.len() == 1 && kids.iter().all(|&p| state_of(p) != Some('Z'))
    });
    ns.signal(libc::SIGTERM);
    let status = ns.wait();
    assert_eq!(status.code(), Some(143), "{status:?}");
    assert_eq!(status.signal(), None);
}
