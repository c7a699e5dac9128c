//! Behaviour of svc-supervise with real processes, signals and sockets.
//! One section per area; each test runs in its own temp dir.

mod common;

use std::os::unix::fs::MetadataExt;
use std::os::unix::net::{UnixDatagram, UnixStream};
use std::time::Duration;

use common::*;
use libnv::NvList;

// ----- running a service -----

#[test]
fn service_sees_only_stdio_and_its_readiness_fd() {
    let t = Scratch::new("fds");
    // ls lists its own fds: besides 0, 1, 2 and the readiness fd, only the
    // directory handle ls itself opened on /proc/self/fd.
    let mut s = service("fds", &["/bin/ls", "-l", "/proc/self/fd/"]);
    s.add_string("ready", "notify-fd").unwrap();
    s.add_number("ready_fd", 5).unwrap();
    s.add_string("restart", "never").unwrap();
    let mut sup = Sup::managed(&t, s);
    sup.call("start", |_| {});
    sup.wait_state("down");
    let out = sup.stdout();
    let mut fds: Vec<u32> = out
        .lines()
        .filter(|l| l.contains(" -> ") && !l.contains("/fd"))
        .map(|l| {
            l.split(" -> ")
                .next()
                .unwrap()
                .rsplit(' ')
                .next()
                .unwrap()
                .parse()
                .unwrap()
        })
        .collect();
    fds.sort();
    assert_eq!(fds, [0, 1, 2, 5], "{out}");
    assert_eq!(
        out.lines().filter(|l| l.contains(" -> ")).count(),
        5,
        "{out}"
    );
}

#[test]
fn stdin_is_dev_null_and_output_inherits_without_stdout() {
    // Regression: the original sent stdio to stdin without --stdout.
    let t = Scratch::new("stdio");
    let mut sup = Sup::standalone(
        &t,
        &[
            "--once",
            "--",
            "/bin/sh",
            "-c",
            "readlink /proc/self/fd/0; echo to-stderr >&2; echo written >&0 || echo stdin-not-writable",
        ],
    );
    sup.wait_state("down");
    let out = sup.stdout();
    assert!(out.contains("/dev/null"), "{out}");
    assert!(out.contains("stdin-not-writable"), "{out}");
    let err = std::fs::read_to_string(&sup.err).unwrap();
    assert!(err.contains("to-stderr"), "{err}");
}

#[test]
fn environment_is_cleared_and_set_from_files_and_keys() {
    let t = Scratch::new("env");
    std::fs::write(
        t.path("env1"),
        "# comment\nFROM_FILE=one\nOVERRIDDEN=file\n",
    )
    .unwrap();
    let out = t.path("env.out");
    let mut s = svc(
        "env",
        &format!("env | sort > {}; exec sleep 1000", out.display()),
    );
    s.add_string_array(
        "environment_file",
        [
            t.path("env1").to_str().unwrap(),
            &format!("-{}", t.path("missing").display()),
        ],
    )
    .unwrap();
    let mut env = NvList::new();
    env.add_string("OVERRIDDEN", "key").unwrap();
    env.add_string("EXTRA", "x y").unwrap();
    s.add_nvlist("environment", env).unwrap();
    s.add_number("umask", 0o077).unwrap();
    s.add_string("working_directory", t.dir.to_str().unwrap())
        .unwrap();
    let mut sup = Sup::managed(&t, s);
    // SAFETY: setting a variable in the test process before nothing reads it concurrently
    // would be racy; instead check that HOME-like variables of the test do not leak.
    sup.call("start", |_| {});
    sup.wait_state("ready");
    wait_for("env output", || t.read("env.out").contains("EXTRA"));
    let env = t.read("env.out");
    assert!(env.contains("FROM_FILE=one\n"), "{env}");
    assert!(env.contains("OVERRIDDEN=key\n"), "{env}");
    assert!(env.contains("EXTRA=x y\n"), "{env}");
    assert!(
        !env.contains("CARGO"),
        "the supervisor's environment leaked: {env}"
    );
    assert_eq!(
        std::fs::metadata(&out).unwrap().mode() & 0o777,
        0o600,
        "umask"
    );
}

#[test]
fn a_missing_required_environment_file_is_a_start_failure() {
    let t = Scratch::new("envmissing");
    let mut s = svc("envmissing", "exec sleep 1000");
    s.add_string_array("environment_file", [t.path("nope").to_str().unwrap()])
        .unwrap();
    s.add_string("restart", "never").unwrap();
    let mut sup = Sup::managed(&t, s);
    sup.call("start", |_| {});
    let st = sup.wait_state("failed");
    assert_eq!(st.get_str("reason"), Some("start failed"));
}

#[test]
fn exec_pre_runs_first_and_its_failure_fails_the_start() {
    let t = Scratch::new("pre");
    let log = t.path("order");
    let mut s = svc(
        "pre",
        &format!("echo main >> {}; exec sleep 1000", log.display()),
    );
    let mut pre1 = NvList::new();
    pre1.add_string_array("exec", sh(&format!("echo pre1 >> {}", log.display())))
        .unwrap();
    let mut pre2 = NvList::new();
    pre2.add_string_array("exec", sh(&format!("echo pre2 >> {}", log.display())))
        .unwrap();
    s.add_nvlist_array("exec_pre", vec![pre1, pre2]).unwrap();
    let mut sup = Sup::managed(&t, s);
    sup.call("start", |_| {});
    sup.wait_state("ready");
    wait_for("main", || t.read("order").contains("main"));
    assert_eq!(t.read("order"), "pre1\npre2\nmain\n");
    drop(sup);

    let t = Scratch::new("prefail");
    let mut s = svc("prefail", "exec sleep 1000");
    let mut pre = NvList::new();
    pre.add_string_array("exec", ["/bin/false"]).unwrap();
    s.add_nvlist_array("exec_pre", vec![pre]).unwrap();
    s.add_string("restart", "never").unwrap();
    let mut sup = Sup::managed(&t, s);
    sup.call("start", |_| {});
    sup.wait_state("failed");
}

#[test]
fn exec_failure_is_a_start_failure_with_a_reason() {
    let t = Scratch::new("execfail");
    let mut s = service("execfail", &["/nonexistent/program"]);
    s.add_string("restart", "never").unwrap();
    let mut sup = Sup::managed(&t, s);
    sup.call("start", |_| {});
    let st = sup.wait_state("failed");
    assert_eq!(st.get_str("reason"), Some("start failed"));
    let err = std::fs::read_to_string(&sup.err).unwrap();
    assert!(err.contains("execve"), "{err}");
}

#[test]
fn runtime_directory_is_created_for_the_user_and_removed_after_stop() {
    let t = Scratch::new("rundir");
    let root = t.path("run");
    std::fs::create_dir(&root).unwrap();
    let mut s = svc("rundir", "exec sleep 1000");
    s.add_string_array("runtime_directory", ["rundir/sub"])
        .unwrap();
    s.add_string("runtime_root", root.to_str().unwrap())
        .unwrap();
    let as_nobody = is_root();
    if as_nobody {
        s.add_string("user", "nobody").unwrap();
    }
    let mut sup = Sup::managed(&t, s);
    sup.call("start", |_| {});
    sup.wait_state("ready");
    let dir = root.join("rundir/sub");
    let meta = std::fs::metadata(&dir).unwrap();
    if as_nobody {
        assert_eq!(meta.uid(), 65534);
    }
    sup.call("stop", |_| {});
    sup.wait_state("down");
    wait_for("runtime dir removal", || !dir.exists());
}

#[test]
fn credentials_user_groups_are_really_set() {
    if !need_root("credentials_user_groups_are_really_set") {
        return;
    }
    let t = Scratch::new("creds");
    // Output goes to the supervisor's stdout: nobody cannot write in the scratch dir.
    let mut s = svc(
        "creds",
        "grep -E '^(Uid|Gid|Groups|NoNewPrivs)' /proc/self/status; exec sleep 1000",
    );
    s.add_string("user", "nobody").unwrap();
    s.add_string_array("supplementary_groups", ["4242"])
        .unwrap();
    s.add_bool("no_new_privileges", true).unwrap();
    let mut sup = Sup::managed(&t, s);
    sup.call("start", |_| {});
    sup.wait_state("ready");
    wait_for("status output", || sup.stdout().contains("NoNewPrivs"));
    let st = sup.stdout();
    assert!(st.contains("Uid:\t65534\t65534\t65534\t65534"), "{st}");
    assert!(st.contains("Gid:\t65534\t65534\t65534\t65534"), "{st}");
    let groups: Vec<&str> = st
        .lines()
        .find(|l| l.starts_with("Groups:"))
        .unwrap()
        .split_whitespace()
        .skip(1)
        .collect();
    assert!(
        groups.contains(&"65534") && groups.contains(&"4242"),
        "{st}"
    );
    assert!(!groups.contains(&"0"), "{st}");
    assert!(st.contains("NoNewPrivs:\t1"), "{st}");
}

#[test]
fn standalone_uid_is_really_dropped() {
    // Regression: the original kept uid 0 after --uid.
    if !need_root("standalone_uid_is_really_dropped") {
        return;
    }
    let t = Scratch::new("uid");
    let mut sup = Sup::standalone(
        &t,
        &[
            "--uid",
            "nobody",
            "--once",
            "--",
            "/bin/sh",
            "-c",
            "id -u; id -g; id -G; cat /proc/self/status | grep ^Uid",
        ],
    );
    sup.wait_state("down");
    let out = sup.stdout();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(&lines[..3], ["65534", "65534", "65534"], "{out}");
    assert!(out.contains("Uid:\t65534\t65534\t65534\t65534"), "{out}");
}

// ----- types -----

#[test]
fn oneshot_success_is_finished() {
    let t = Scratch::new("oneshot");
    let mut s = svc("oneshot", "exit 0");
    s.add_string("type", "oneshot").unwrap();
    let mut sup = Sup::managed(&t, s);
    sup.call("start", |_| {});
    let st = sup.wait_state("finished");
    assert_eq!(num(&st, "last_exit_status"), 0);
    assert_eq!(num(&st, "restarts"), 0);
}

#[test]
fn forking_service_with_pidfile_is_watched_and_stopped() {
    let t = Scratch::new("forking");
    let pidfile = t.path("daemon.pid");
    // Double fork: the daemon leaves the session and its parent exits.
    let script = format!(
        "setsid sh -c 'echo $$ > {}; exec sleep 1000' < /dev/null & sleep 0.1; exit 0",
        pidfile.display()
    );
    let mut s = svc("forking", &script);
    s.add_string("type", "forking").unwrap();
    s.add_string("pidfile", pidfile.to_str().unwrap()).unwrap();
    let mut sup = Sup::managed(&t, s);
    sup.call("start", |_| {});
    let st = sup.wait_state("ready");
    let daemon: i32 = t.read("daemon.pid").trim().parse().unwrap();
    assert_eq!(num(&st, "pid") as i32, daemon);
    assert!(alive(daemon));
    // The daemon is our descendant: killing it is noticed and it is restarted.
    // SAFETY: a process our supervisor started.
    unsafe { libc::kill(daemon, libc::SIGKILL) };
    let st = sup.wait_status("a new daemon", |st| {
        state(st) == "ready" && num(st, "pid") as i32 != daemon
    });
    let second = num(&st, "pid") as i32;
    sup.call("stop", |_| {});
    sup.wait_state("down");
    wait_for("daemon gone", || !alive(second));
}

// ----- readiness -----

#[test]
fn notify_fd_readiness_waits_for_the_line() {
    let t = Scratch::new("notifyfd");
    let gate = t.path("gate");
    let waiting = t.path("waiting");
    // Bytes without a newline first: the supervisor has read them (the
    // service's next step only comes after the test saw `waiting`), yet
    // the service is not ready.
    let mut s = svc(
        "notifyfd",
        &format!(
            "printf not-yet >&4; : > {w}; while [ ! -e {g} ]; do sleep 0.02; done; \
             echo ready >&4; exec sleep 1000",
            w = waiting.display(),
            g = gate.display()
        ),
    );
    s.add_string("ready", "notify-fd").unwrap();
    s.add_number("ready_fd", 4).unwrap();
    let mut sup = Sup::managed(&t, s);
    sup.call("start", |_| {});
    sup.wait_state("running");
    wait_for("the service waiting at its gate", || waiting.exists());
    assert_eq!(state(&sup.status()), "running");
    std::fs::write(&gate, "").unwrap();
    sup.wait_state("ready");
}

#[test]
fn sd_notify_readiness_status_and_foreign_pids() {
    let t = Scratch::new("sdnotify");
    let gate = t.path("gate");
    // First a child of the service says READY=1: not the main pid, ignored.
    // Then the main process says STATUS=waiting: datagrams are read in
    // order, so once that shows, the impostor's was read too. Then the
    // main process itself (exec'd into svc-notify) says READY=1.
    let script = format!(
        "{n} READY=1 STATUS=impostor; exec {n} STATUS=waiting -- /bin/sh -c \
         'while [ ! -e {g} ]; do sleep 0.02; done; exec {n} STATUS=serving READY=1 -- sleep 1000'",
        n = NOTIFY_BIN,
        g = gate.display()
    );
    let mut s = svc("sdnotify", &script);
    s.add_string("ready", "sd-notify").unwrap();
    let mut sup = Sup::managed(&t, s);
    sup.call("start", |_| {});
    let st = sup.wait_status("STATUS=waiting from the main pid", |st| {
        st.get_str("status_text") == Some("waiting")
    });
    assert_eq!(state(&st), "running", "a foreign pid made it ready");
    std::fs::write(&gate, "").unwrap();
    let st = sup.wait_state("ready");
    assert_eq!(st.get_str("status_text"), Some("serving"));
}

#[test]
fn check_command_readiness_and_ready_timeout() {
    let t = Scratch::new("check");
    let flag = t.path("flag");
    let mut s = svc(
        "check",
        &format!("sleep 0.2; touch {}; exec sleep 1000", flag.display()),
    );
    s.add_string("ready", "check").unwrap();
    s.add_string_array("ready_check", ["/bin/test", "-e", flag.to_str().unwrap()])
        .unwrap();
    s.add_number("ready_check_interval", 20).unwrap();
    let mut sup = Sup::managed(&t, s);
    sup.call("start", |_| {});
    sup.wait_state("ready");
    drop(sup);

    let t = Scratch::new("checktimeout");
    let mut s = svc("checktimeout", "exec sleep 1000");
    s.add_string("ready", "check").unwrap();
    s.add_string_array("ready_check", ["/bin/false"]).unwrap();
    s.add_number("ready_timeout", 300).unwrap();
    s.add_number("stop_timeout", 300).unwrap();
    s.add_string("restart", "never").unwrap();
    let mut sup = Sup::managed(&t, s);
    sup.call("start", |_| {});
    let st = sup.wait_state("failed");
    assert_eq!(st.get_str("reason"), Some("not ready within ready-timeout"));
}

// ----- restart and stop -----

#[test]
fn crash_loop_backs_off_without_spinning() {
    let t = Scratch::new("backoff");
    let runs = t.path("runs");
    let mut sup = Sup::standalone(
        &t,
        &[
            "--respawn-delay",
            "50ms",
            "--",
            "/bin/sh",
            "-c",
            &format!("echo run >> {}; exit 1", runs.display()),
        ],
    );
    std::thread::sleep(Duration::from_millis(1500));
    let st = sup.status();
    let count = t.read("runs").lines().count();
    // Immediate retry, then 50, 100, 200, 400, 800 ms: a handful of runs,
    // nowhere near what a spinning loop would do.
    assert!(count >= 3, "only {count} runs");
    assert!(count <= 20, "{count} runs in 1.5 s: no backoff");
    assert!(num(&st, "restarts") >= 2);
    assert_eq!(num(&st, "last_exit_status"), 1);
}

#[test]
fn a_crash_followed_by_a_good_restart_leaves_no_reason() {
    let t = Scratch::new("healed");
    let marker = t.path("crashed-once");
    let mut sup = Sup::standalone(
        &t,
        &[
            "--",
            "/bin/sh",
            "-c",
            &format!(
                "if [ -e {m} ]; then exec sleep 1000; else : > {m}; exit 3; fi",
                m = marker.display()
            ),
        ],
    );
    let st = sup.wait_status("restarted and ready", |st| {
        num(st, "restarts") == 1 && state(st) == "ready"
    });
    assert_eq!(num(&st, "last_exit_status"), 3, "the crash stays visible");
    assert_eq!(
        st.get_str("reason"),
        None,
        "but is no reason of a ready service"
    );
}

#[test]
fn restart_limit_leaves_it_failed() {
    let t = Scratch::new("limit");
    let mut sup = Sup::standalone(
        &t,
        &[
            "--respawn-delay",
            "10ms",
            "--respawn-max",
            "3",
            "--",
            "/bin/false",
        ],
    );
    let st = sup.wait_state("failed");
    assert_eq!(st.get_str("reason"), Some("restart-limit reached"));
    assert_eq!(st.get_str("wanted"), Some("down"));
    assert_eq!(num(&st, "restarts"), 2);
}

#[test]
fn stop_escalates_to_sigkill_for_a_service_ignoring_term() {
    let t = Scratch::new("stubborn");
    let mut s = svc(
        "stubborn",
        "trap '' TERM; echo >&5; while :; do sleep 0.05; done",
    );
    // Ready only once the trap is set.
    s.add_string("ready", "notify-fd").unwrap();
    s.add_number("ready_fd", 5).unwrap();
    s.add_number("stop_timeout", 300).unwrap();
    let mut sup = Sup::managed(&t, s);
    sup.call("start", |_| {});
    let pid = num(&sup.wait_state("ready"), "pid") as i32;
    // Answered at once, while the stop goes on in the loop.
    let reply = sup.call("stop", |_| {});
    assert_eq!(state(&reply), "stopping");
    let st = sup.wait_state("down");
    assert_eq!(num(&st, "last_exit_signal"), libc::SIGKILL as u64);
    assert!(!alive(pid));
}

#[test]
fn descendants_that_escaped_the_group_are_killed() {
    let t = Scratch::new("escape");
    let escaped = t.path("escaped.pid");
    let mut s = svc(
        "escape",
        &format!(
            "setsid sh -c 'echo $$ > {}; exec sleep 1000' < /dev/null & exec sleep 1000",
            escaped.display()
        ),
    );
    s.add_number("stop_timeout", 2000).unwrap();
    let mut sup = Sup::managed(&t, s);
    sup.call("start", |_| {});
    sup.wait_state("ready");
    wait_for("escaped pid", || !t.read("escaped.pid").trim().is_empty());
    let pid: i32 = t.read("escaped.pid").trim().parse().unwrap();
    assert!(alive(pid));
    sup.call("stop", |_| {});
    sup.wait_state("down");
    wait_for("escaped process killed", || !alive(pid));
}

#[test]
fn exec_stop_is_used_instead_of_the_signal() {
    let t = Scratch::new("execstop");
    let marker = t.path("stopped-by");
    let pidfile = t.path("main.pid");
    // TERM is ignored: only exec-stop's USR1 ends it before the timeout.
    let mut s = svc(
        "execstop",
        &format!(
            "trap '' TERM; trap 'exit 0' USR1; echo $$ > {}; while :; do sleep 0.05; done",
            pidfile.display()
        ),
    );
    s.add_string_array(
        "exec_stop",
        sh(&format!(
            "echo exec-stop > {}; [ \"$MAINPID\" = \"$(cat {})\" ] && kill -USR1 $MAINPID",
            marker.display(),
            pidfile.display()
        )),
    )
    .unwrap();
    s.add_number("stop_timeout", 5000).unwrap();
    let mut sup = Sup::managed(&t, s);
    sup.call("start", |_| {});
    sup.wait_state("ready");
    wait_for("pidfile", || !t.read("main.pid").is_empty());
    sup.call("stop", |_| {});
    let st = sup.wait_state("down");
    assert_eq!(t.read("stopped-by"), "exec-stop\n");
    assert_eq!(num(&st, "last_exit_status"), 0, "{st:?}");
}

#[test]
fn a_kill_request_never_leads_to_a_respawn() {
    // Regression: the original respawned a service killed on request.
    let t = Scratch::new("kill");
    let mut sup = Sup::standalone(&t, &["--", "/bin/sleep", "1000"]);
    let pid = num(&sup.wait_state("ready"), "pid") as i32;
    // Every state change is an event on an attached connection, in order.
    let watcher = connect(&sup.control);
    call_on(&watcher, request(1, "attach"));
    let reply = sup.call("kill", |r| r.add_string("signal", "KILL").unwrap());
    assert_eq!(reply.get_number("ipc:error_code"), None, "{reply:?}");
    let mut seen = Vec::new();
    while seen.last().map(String::as_str) != Some("down") {
        let e = recv(&watcher);
        seen.push(state(&e));
    }
    // A respawn would go through `starting` (no delay after a first
    // failure) or `backoff` (a timer) instead of `down`; `down` has no
    // timer, so nothing starts it again unless asked.
    assert!(
        !seen.iter().any(|s| s == "starting" || s == "backoff"),
        "{seen:?}"
    );
    let (st, late) = call_on(&watcher, request(2, "status"));
    assert!(late.is_empty(), "events after down: {late:?}");
    assert_eq!(state(&st), "down");
    assert_eq!(st.get_str("wanted"), Some("down"));
    assert_eq!(num(&st, "last_exit_signal"), 9);
    assert_eq!(num(&st, "restarts"), 0);
    assert!(!alive(pid));
}

#[test]
fn sigterm_stops_the_service_then_the_supervisor() {
    // Regression: the original left the service running.
    let t = Scratch::new("sigterm");
    let mut sup = Sup::standalone(&t, &["--", "/bin/sleep", "1000"]);
    let pid = num(&sup.wait_state("ready"), "pid") as i32;
    // SAFETY: the supervisor we started.
    unsafe { libc::kill(sup.pid(), libc::SIGTERM) };
    assert_eq!(sup.wait_exit(), Some(0));
    assert!(!alive(pid), "service survived its supervisor");
    assert!(!sup.control.exists(), "control socket left behind");
}

#[test]
fn process_title_names_the_service() {
    let t = Scratch::new("title");
    let mut sup = Sup::standalone(&t, &["--name", "webby", "--", "/bin/sleep", "1000"]);
    sup.wait_state("ready");
    let comm = std::fs::read_to_string(format!("/proc/{}/comm", sup.pid())).unwrap();
    assert_eq!(comm.trim(), "svc:webby");
    let cmdline = std::fs::read(format!("/proc/{}/cmdline", sup.pid())).unwrap();
    assert!(cmdline.starts_with(b"svc-supervise webby"), "{cmdline:?}");
}

// ----- logging -----

fn log_service(t: &Scratch, name: &str, script: &str, extra: impl FnOnce(&mut NvList)) -> Sup {
    let mut s = svc(name, script);
    s.remove("output");
    s.add_string("output", "file").unwrap();
    s.add_string("log_dir", t.path("logs").to_str().unwrap())
        .unwrap();
    extra(&mut s);
    let mut sup = Sup::managed(t, s);
    sup.call("start", |_| {});
    sup
}

#[test]
fn log_file_has_timestamps_and_keeps_lines_across_restarts() {
    let t = Scratch::new("logfile");
    let runs = t.path("runs");
    let script = format!(
        "echo run >> {r}; n=$(wc -l < {r}); echo \"line $n\"; echo \"err $n\" >&2; \
         [ $n -ge 3 ] && exec sleep 1000; exit 1",
        r = runs.display()
    );
    let mut sup = log_service(&t, "logfile", &script, |s| {
        s.add_number("restart_delay", 10).unwrap();
    });
    sup.wait_state("ready");
    let current = t.path("logs/logfile/current");
    wait_for("log lines", || {
        std::fs::read_to_string(&current)
            .unwrap_or_default()
            .contains("err 3")
    });
    let text = std::fs::read_to_string(&current).unwrap();
    for n in 1..=3 {
        assert!(text.contains(&format!(" line {n}\n")), "{text}");
        assert!(text.contains(&format!(" err {n}\n")), "{text}");
    }
    for line in text.lines() {
        // 2026-11-22T01:28:52.123456Z
        let ts = line.split(' ').next().unwrap();
        assert_eq!(ts.len(), 27, "{line}");
        assert!(ts.ends_with('Z') && ts.as_bytes()[10] == b'T', "{line}");
    }
    assert!(
        text.contains("svc-supervise: exited with status 1"),
        "{text}"
    );
}

#[test]
fn log_rotates_at_max_size_and_keeps_max_files() {
    let t = Scratch::new("rotate");
    let mut sup = log_service(
        &t,
        "rotate",
        "i=0; while [ $i -lt 200 ]; do echo \"line $i padding padding padding\"; i=$((i+1)); done; exec sleep 1000",
        |s| {
            s.add_number("max_size", 1000).unwrap();
            s.add_number("max_files", 3).unwrap();
            s.add_bool("timestamps", false).unwrap();
        },
    );
    sup.wait_state("ready");
    let dir = t.path("logs/rotate");
    wait_for("last line", || {
        std::fs::read_to_string(dir.join("current"))
            .unwrap_or_default()
            .contains("line 199 ")
    });
    let mut archives: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n != "current")
        .collect();
    archives.sort();
    assert_eq!(archives.len(), 3, "{archives:?}");
    for a in &archives {
        assert!(a.ends_with("Z.log") && a.len() == 27, "{a}");
        let size = std::fs::metadata(dir.join(a)).unwrap().len();
        assert!(size <= 1000, "{a}: {size}");
    }
    // The newest archive ends right where current begins.
    let last = std::fs::read_to_string(dir.join(archives.last().unwrap())).unwrap();
    let current = std::fs::read_to_string(dir.join("current")).unwrap();
    let n_last: u32 = last
        .lines()
        .last()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let n_first: u32 = current
        .lines()
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(n_first, n_last + 1);
    assert!(!current.contains("line 0 "), "timestamps off, lines plain");
}

#[test]
fn a_full_disk_drops_lines_with_a_count_and_never_blocks() {
    let t = Scratch::new("full");
    let dir = t.path("logs/full");
    std::fs::create_dir_all(&dir).unwrap();
    std::os::unix::fs::symlink("/dev/full", dir.join("current")).unwrap();
    let mut sup = log_service(
        &t,
        "full",
        "i=0; while [ $i -lt 50 ]; do echo line $i; i=$((i+1)); done; exec sleep 1000",
        |_| {},
    );
    sup.wait_state("ready");
    let st = sup.wait_status("dropped lines", |st| num(st, "log_dropped") >= 50);
    assert_eq!(state(&st), "ready");
    // Supervision goes on: a restart still works.
    sup.call("restart", |_| {});
    sup.wait_status("restarted", |st| {
        num(st, "restarts") == 1 && state(st) == "ready"
    });
}

#[test]
fn console_output_goes_to_dev_console() {
    // A private mount namespace with a file bound over /dev/console: the
    // service writes to "the console" and the test reads the file. The
    // host's /dev/console is untouched (the bind mount dies with the
    // namespace).
    let t = Scratch::new("console");
    let console = t.path("console");
    std::fs::write(&console, "").unwrap();
    let mut s = svc(
        "con",
        "echo to the console; echo errors too >&2; exec sleep 1000",
    );
    s.remove("output");
    s.add_string("output", "console").unwrap();
    let script = format!(
        "mount --bind {} /dev/console && exec \"$0\" \"$@\"",
        console.display()
    );
    let mut sup = Sup::managed_under(
        &t,
        s,
        &[
            "unshare",
            "--mount",
            "--propagation",
            "private",
            "sh",
            "-c",
            &script,
        ],
    );
    sup.call("start", |_| {});
    sup.wait_state("ready");
    wait_for("both lines on the console", || {
        let text = t.read("console");
        text.contains("to the console\n") && text.contains("errors too\n")
    });
}

#[test]
fn syslog_output_sends_tagged_datagrams() {
    let t = Scratch::new("syslog");
    let path = t.path("log.sock");
    let sock = UnixDatagram::bind(&path).unwrap();
    sock.set_read_timeout(Some(SOON)).unwrap();
    let mut s = svc("sysl", "echo hello syslog; exec sleep 1000");
    s.remove("output");
    s.add_string("output", "syslog").unwrap();
    s.add_string("syslog_path", path.to_str().unwrap()).unwrap();
    let mut sup = Sup::managed(&t, s);
    sup.call("start", |_| {});
    let pid = num(&sup.wait_state("ready"), "pid");
    let mut buf = [0u8; 512];
    let n = sock.recv(&mut buf).unwrap();
    let msg = String::from_utf8_lossy(&buf[..n]).into_owned();
    assert!(msg.starts_with("<30>"), "{msg}");
    assert!(
        msg.ends_with(&format!(" sysl[{pid}]: hello syslog")),
        "{msg}"
    );
}

// ----- control -----

#[test]
fn control_socket_methods_and_envelope() {
    let t = Scratch::new("control");
    let mut sup = Sup::standalone(&t, &["--name", "ctl", "--", "/bin/sleep", "1000"]);
    let mode = std::fs::metadata(&sup.control).unwrap().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let st = sup.wait_state("ready");
    assert_eq!(st.get_number("ipc:version"), Some(1));
    assert_eq!(st.get_bool("ipc:reply"), Some(true));
    assert_eq!(st.get_str("ipc:method"), Some("status"));
    assert_eq!(st.get_str("name"), Some("ctl"));
    assert_eq!(st.get_str("wanted"), Some("up"));
    assert!(num(&st, "since") > 1_600_000_000);
    let first = num(&st, "pid");

    // The reply carries the request's id.
    let sock = connect(&sup.control);
    let (reply, _) = call_on(&sock, request(4242, "status"));
    assert_eq!(reply.get_number("ipc:id"), Some(4242));

    let reply = sup.call("restart", |_| {});
    assert_eq!(reply.get_number("ipc:error_code"), None);
    let st = sup.wait_status("restarted", |st| {
        state(st) == "ready" && num(st, "pid") != first
    });
    assert_eq!(num(&st, "restarts"), 1);

    let reply = sup.call("reload", |_| {});
    assert_eq!(reply.get_number("ipc:error_code"), None);
    // sleep dies of SIGHUP, and is restarted (reload is not a kill request).
    sup.wait_status("restart after HUP", |st| num(st, "restarts") == 2);

    let reply = sup.call("bogus", |_| {});
    assert_eq!(reply.get_number("ipc:error_code"), Some(3));
    assert!(reply.get_str("ipc:error").is_some());

    let reply = sup.call("kill", |r| r.add_string("signal", "NOPE").unwrap());
    assert_eq!(reply.get_number("ipc:error_code"), Some(4));

    let reply = sup.call("status", |r| {
        r.add_string_array("names", ["someone-else"]).unwrap()
    });
    assert_eq!(reply.get_number("ipc:error_code"), Some(6));

    // A reply where a request was due.
    let mut bad = request(9, "status");
    bad.remove("ipc:reply");
    bad.add_bool("ipc:reply", true).unwrap();
    let (reply, _) = call_on(&connect(&sup.control), bad);
    assert_eq!(reply.get_number("ipc:error_code"), Some(2));

    let reply = sup.call("stop", |_| {});
    assert_eq!(reply.get_str("wanted"), Some("down"));
    sup.wait_state("down");
    let reply = sup.call("once", |_| {});
    assert_eq!(reply.get_number("ipc:error_code"), None);
    let st = sup.wait_state("ready");
    assert_eq!(st.get_str("wanted"), Some("up"));
    sup.call("kill", |r| r.add_number("signal", 15).unwrap());
    sup.wait_state("down");
    sup.call("start", |_| {});
    let pid = num(&sup.wait_state("ready"), "pid") as i32;

    let reply = sup.call("exit", |_| {});
    assert_eq!(reply.get_number("ipc:error_code"), None);
    assert_eq!(sup.wait_exit(), Some(0));
    assert!(!alive(pid));
}

#[test]
fn hostile_clients_do_not_stall_the_loop() {
    let t = Scratch::new("hostile");
    let mut sup = Sup::standalone(&t, &["--", "/bin/sleep", "1000"]);
    sup.wait_state("ready");
    // Garbage: cut off.
    let mut garbage = connect(&sup.control);
    use std::io::{Read, Write};
    garbage.write_all(b"this is not an nvlist at all").unwrap();
    let mut buf = [0u8; 16];
    assert_eq!(
        garbage.read(&mut buf).unwrap_or(0),
        0,
        "garbage client not closed"
    );
    // Half a message, then silence; and a client that sends nothing.
    let half = connect(&sup.control);
    let req = request(1, "status");
    let bytes = req.pack().unwrap();
    (&half).write_all(&bytes[..bytes.len() / 2]).unwrap();
    let _silent = connect(&sup.control);
    // Others are served meanwhile.
    for _ in 0..20 {
        assert_eq!(state(&sup.status()), "ready");
    }
    // An oversized announced message is refused.
    let mut big = connect(&sup.control);
    let mut header = bytes[..19].to_vec();
    header[11..19].copy_from_slice(&(1u64 << 40).to_le_bytes());
    big.write_all(&header).unwrap();
    assert_eq!(big.read(&mut buf).unwrap_or(0), 0);
    // Many clients at once, more than the slots: still answers later ones.
    let crowd: Vec<UnixStream> = (0..40)
        .filter_map(|_| UnixStream::connect(&sup.control).ok())
        .collect();
    drop(crowd);
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(state(&sup.status()), "ready");
}

// ----- under a manager -----

#[test]
fn manager_fd_declaration_events_eof_and_reattach() {
    let t = Scratch::new("manager");
    let s = svc("managed", "exec sleep 1000");
    let mut sup = Sup::managed(&t, s);
    let manager = sup.manager.take().unwrap();
    // Not started until asked.
    assert_eq!(state(&sup.status()), "down");
    let (reply, mut events) = call_on(&manager, request(2, "start"));
    assert_eq!(reply.get_number("ipc:error_code"), None);
    while !events.iter().any(|e| e.get_str("state") == Some("ready")) {
        events.push(recv(&manager));
    }
    let states: Vec<&str> = events.iter().map(|e| e.get_str("state").unwrap()).collect();
    assert_eq!(states, ["starting", "running", "ready"]);
    for e in &events {
        assert_eq!(e.get_number("ipc:id"), Some(0));
        assert_eq!(e.get_bool("ipc:reply"), Some(false));
        assert_eq!(e.get_str("name"), Some("managed"));
        assert!(e.get_number("pid").is_some() && e.get_number("since").is_some());
    }
    let pid = events.last().unwrap().get_number("pid").unwrap() as i32;

    // The manager goes away: the service keeps running, supervised. The
    // supervisor has seen the EOF once it closed its end (fd 3); nothing
    // connects meanwhile, so no new descriptor can take that number.
    drop(manager);
    let fd3 = format!("/proc/{}/fd/3", sup.pid());
    wait_for("the supervisor to close the manager fd", || {
        std::fs::symlink_metadata(&fd3).is_err()
    });
    let st = sup.status();
    assert_eq!(state(&st), "ready");
    assert_eq!(num(&st, "pid") as i32, pid);
    // SAFETY: the service our supervisor started.
    unsafe { libc::kill(pid, libc::SIGKILL) };
    let st = sup.wait_status("respawn", |st| {
        state(st) == "ready" && num(st, "pid") as i32 != pid
    });
    assert_eq!(num(&st, "restarts"), 1);

    // A new manager attaches on the control socket and gets events.
    let newcomer = connect(&sup.control);
    let (reply, _) = call_on(&newcomer, request(3, "attach"));
    assert_eq!(reply.get_str("state"), Some("ready"));
    sup.call("stop", |_| {});
    let mut seen = Vec::new();
    while seen.last().map(String::as_str) != Some("down") {
        let e = recv(&newcomer);
        assert_eq!(e.get_str("ipc:method"), Some("event"));
        seen.push(e.get_str("state").unwrap().to_owned());
    }
    assert_eq!(seen, ["stopping", "down"]);
}

#[test]
fn a_bad_declaration_is_refused_with_a_clear_error() {
    let t = Scratch::new("baddecl");
    let (ours, theirs) = UnixStream::pair().unwrap();
    let mut decl = request(1, "declare");
    let mut s = NvList::new();
    s.add_string("name", "bad").unwrap();
    s.add_string_array("exec", ["/bin/true"]).unwrap();
    s.add_string("type", "sideways").unwrap();
    decl.add_nvlist("service", s).unwrap();
    decl.send(&ours).unwrap();
    use std::os::fd::{AsRawFd, OwnedFd};
    use std::os::unix::process::CommandExt;
    let theirs: OwnedFd = theirs.into();
    let raw = theirs.as_raw_fd();
    let mut cmd = std::process::Command::new(BIN);
    cmd.args(["--manager-fd", "3", "--control"])
        .arg(t.path("c.sock"))
        .stderr(std::process::Stdio::piped());
    // SAFETY: dup2 is async-signal-safe.
    unsafe {
        cmd.pre_exec(move || {
            libc::dup2(raw, 3);
            Ok(())
        });
    }
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("'type'"), "{err}");
    // The manager is told too, with the request's id.
    ours.set_read_timeout(Some(SOON)).unwrap();
    let reply = recv(&ours);
    assert_eq!(reply.get_number("ipc:id"), Some(1));
    assert_eq!(reply.get_number("ipc:error_code"), Some(4));
    assert!(reply.get_str("ipc:error").unwrap().contains("'type'"));
}

#[test]
fn usage_errors_exit_2_and_help_works() {
    let out = std::process::Command::new(BIN)
        .arg("--bogus")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--bogus"));
    let out = std::process::Command::new(BIN).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = std::process::Command::new(BIN)
        .arg("--help")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("--respawn-delay"));
    let out = std::process::Command::new(BIN)
        .arg("--version")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("svc-supervise "));
}

// ----- more of the declaration -----

#[test]
fn standalone_flags_chdir_env_umask_stdout_stderr() {
    let t = Scratch::new("flags");
    let work = t.path("work");
    std::fs::create_dir(&work).unwrap();
    let out = t.path("out.log");
    let err = t.path("err.log");
    let mut sup = Sup::standalone(
        &t,
        &[
            "--chdir",
            work.to_str().unwrap(),
            "--env",
            "GREETING=hi there",
            "--umask",
            "027",
            "--stdout",
            out.to_str().unwrap(),
            "--stderr",
            err.to_str().unwrap(),
            "--once",
            "--",
            "/bin/sh",
            "-c",
            "pwd; echo \"$GREETING\"; umask; echo oops >&2",
        ],
    );
    sup.wait_state("down");
    let text = std::fs::read_to_string(&out).unwrap();
    assert_eq!(
        text,
        format!("{}\nhi there\n0027\n", work.display()),
        "stdout file"
    );
    assert_eq!(std::fs::read_to_string(&err).unwrap(), "oops\n");
}

#[test]
fn standalone_log_dir_writes_the_rotating_log() {
    let t = Scratch::new("logdir");
    let logs = t.path("logs");
    let mut sup = Sup::standalone(
        &t,
        &[
            "--name",
            "lg",
            "--log-dir",
            logs.to_str().unwrap(),
            "--once",
            "--",
            "/bin/sh",
            "-c",
            "echo via the log",
        ],
    );
    sup.wait_state("down");
    let current = logs.join("lg/current");
    wait_for("log line", || {
        std::fs::read_to_string(&current)
            .unwrap_or_default()
            .contains(" via the log\n")
    });
    assert!(!sup.stdout().contains("via the log"));
}

#[test]
fn rlimits_and_nice_apply() {
    let t = Scratch::new("limits");
    let mut s = svc(
        "limits",
        "echo nofile $(ulimit -Sn) $(ulimit -Hn); echo nice $(cut -d' ' -f19 /proc/self/stat); exec sleep 1000",
    );
    s.add_number_array("limit_nofile", &[64, 128]).unwrap();
    s.add_number("nice", 7).unwrap();
    let mut sup = Sup::managed(&t, s);
    sup.call("start", |_| {});
    sup.wait_state("ready");
    wait_for("output", || sup.stdout().contains("nice "));
    let out = sup.stdout();
    assert!(out.contains("nofile 64 128\n"), "{out}");
    assert!(out.contains("nice 7\n"), "{out}");
}

/// Every rlimit a declaration can carry reaches the service, soft and
/// hard, and infinity stays infinity. Values never exceed the current hard
/// limit, so the test also holds for a user without CAP_SYS_RESOURCE.
#[test]
fn all_sixteen_rlimits_apply() {
    const NAMES: [&str; 16] = [
        "cpu",
        "fsize",
        "data",
        "stack",
        "core",
        "rss",
        "nproc",
        "nofile",
        "memlock",
        "as",
        "locks",
        "sigpending",
        "msgqueue",
        "nice",
        "rtprio",
        "rttime",
    ];
    const BYTES: [&str; 8] = [
        "fsize", "data", "stack", "core", "rss", "memlock", "as", "msgqueue",
    ];
    let t = Scratch::new("limits16");
    let mut s = svc(
        "limits16",
        "cat /proc/self/limits; echo limits-done; exec sleep 1000",
    );
    let mut expected = Vec::new();
    for (resource, name) in NAMES.iter().enumerate() {
        let mut current = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit into a valid struct.
        assert_eq!(
            unsafe { libc::getrlimit(resource as _, &mut current) },
            0,
            "{name}"
        );
        let wanted: u64 = match *name {
            "nice" => 10,
            "rtprio" => 5,
            "nproc" => 1 << 20,
            n if BYTES.contains(&n) => (1 << 30) + resource as u64 * 4096,
            _ => 1000 + resource as u64,
        };
        let cap = current.rlim_max;
        let (soft, hard) = if *name == "core" && cap == libc::RLIM_INFINITY {
            // One limit keeps an infinite hard value.
            (wanted, u64::MAX)
        } else {
            let hard = (wanted * 2).min(cap);
            (wanted.min(hard), hard)
        };
        s.add_number_array(format!("limit_{name}"), &[soft, hard])
            .unwrap();
        let shown = |v: u64| {
            if v == u64::MAX {
                "unlimited".to_owned()
            } else {
                v.to_string()
            }
        };
        expected.push((*name, shown(soft), shown(hard)));
    }
    let mut sup = Sup::managed(&t, s);
    sup.call("start", |_| {});
    sup.wait_state("ready");
    wait_for("output", || sup.stdout().contains("limits-done"));
    let out = sup.stdout();
    // /proc/PID/limits: a header, then one line per resource in number
    // order, columns `%-25s %-20s %-20s %-10s`.
    let rows: Vec<&str> = out
        .lines()
        .skip_while(|l| !l.starts_with("Limit "))
        .skip(1)
        .take(16)
        .collect();
    assert_eq!(rows.len(), 16, "{out}");
    for ((name, soft, hard), row) in expected.iter().zip(&rows) {
        let soft_col = row.get(26..46).unwrap_or("").trim();
        let hard_col = row.get(47..67).unwrap_or("").trim();
        assert_eq!(
            (soft_col, hard_col),
            (soft.as_str(), hard.as_str()),
            "{name}: {row}"
        );
    }
}

#[test]
fn chroot_runs_the_service_inside_its_root() {
    if !need_root("chroot_runs_the_service_inside_its_root") {
        return;
    }
    let t = Scratch::new("chroot");
    let root = t.path("root");
    // A minimal root: busybox if there is one, else dash and its libraries.
    let shell = ["/bin/busybox", "/usr/bin/busybox"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists());
    std::fs::create_dir_all(root.join("bin")).unwrap();
    let ldd_of = |bin: &str| -> Vec<String> {
        let out = std::process::Command::new("ldd").arg(bin).output().unwrap();
        String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .filter(|w| w.starts_with('/'))
            .map(str::to_owned)
            .collect()
    };
    let bin = shell.unwrap_or("/bin/dash");
    std::fs::copy(bin, root.join("bin/sh")).unwrap();
    for lib in ldd_of(bin) {
        let dest = root.join(lib.trim_start_matches('/'));
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        std::fs::copy(&lib, &dest).unwrap();
    }
    std::fs::write(root.join("inside-marker"), "").unwrap();
    let mut sup = Sup::standalone(
        &t,
        &[
            "--chroot",
            root.to_str().unwrap(),
            "--once",
            "--",
            "/bin/sh",
            "-c",
            "cd / && echo / *; echo pwd=$(pwd)",
        ],
    );
    sup.wait_state("down");
    let out = sup.stdout();
    assert!(out.contains("inside-marker"), "{out}");
    assert!(out.contains("pwd=/\n"), "{out}");
}

#[test]
fn service_gets_default_signal_dispositions_and_an_empty_mask() {
    let t = Scratch::new("sigmask");
    let mut sup = Sup::standalone(
        &t,
        &[
            "--once",
            "--",
            "/bin/grep",
            "-E",
            "^(SigBlk|SigIgn)",
            "/proc/self/status",
        ],
    );
    sup.wait_state("down");
    let out = sup.stdout();
    assert!(out.contains("SigBlk:\t0000000000000000\n"), "{out}");
    assert!(out.contains("SigIgn:\t0000000000000000\n"), "{out}");
}

#[test]
fn an_idle_supervisor_uses_no_cpu() {
    let t = Scratch::new("idle");
    let mut sup = Sup::standalone(&t, &["--", "/bin/sleep", "1000"]);
    sup.wait_state("ready");
    let ticks = |pid: i32| -> u64 {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
        let fields: Vec<&str> = stat
            .rsplit(')')
            .next()
            .unwrap()
            .split_whitespace()
            .collect();
        // utime and stime: fields 14 and 15, i.e. 11 and 12 after the name.
        fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
    };
    let before = ticks(sup.pid());
    std::thread::sleep(Duration::from_millis(1000));
    let after = ticks(sup.pid());
    // A poll loop with no timer armed sleeps; a spinning one burns ~100 ticks.
    assert!(after - before <= 5, "{} ticks while idle", after - before);
}

#[test]
fn sd_notify_mainpid_and_stopping_are_honoured() {
    // MAINPID names a grandchild (not ours): its exit is seen through a pidfd.
    let t = Scratch::new("mainpid");
    let script = format!("sleep 1000 & exec {NOTIFY_BIN} MAINPID=$! READY=1 -- sleep 1000");
    let mut s = svc("mainpid", &script);
    s.add_string("ready", "sd-notify").unwrap();
    let mut sup = Sup::managed(&t, s);
    sup.call("start", |_| {});
    let st = sup.wait_state("ready");
    let main = num(&st, "pid") as i32;
    let stat = std::fs::read_to_string(format!("/proc/{main}/stat")).unwrap();
    let parent: i32 = stat
        .rsplit(')')
        .next()
        .unwrap()
        .split_whitespace()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    assert_ne!(parent, sup.pid(), "MAINPID should name a grandchild");
    // SAFETY: a process our supervisor's service started.
    unsafe { libc::kill(main, libc::SIGKILL) };
    let st = sup.wait_status("restart after the named main pid died", |st| {
        num(st, "restarts") == 1 && state(st) == "ready"
    });
    assert_ne!(num(&st, "pid") as i32, main);
    drop(sup);

    // STOPPING=1: the service stops on its own; it is then judged by policy.
    let t = Scratch::new("stopping");
    let script = format!(
        "exec {n} READY=1 -- /bin/sh -c 'sleep 0.2; exec {n} STOPPING=1 -- sleep 1000'",
        n = NOTIFY_BIN
    );
    let mut s = svc("stopping", &script);
    s.add_string("ready", "sd-notify").unwrap();
    s.add_number("stop_timeout", 300).unwrap();
    s.add_string("restart", "never").unwrap();
    let mut sup = Sup::managed(&t, s);
    sup.call("start", |_| {});
    sup.wait_state("ready");
    sup.wait_state("stopping");
    // It does not exit: stop-timeout then SIGKILL, and restart = never.
    let st = sup.wait_state("failed");
    assert_eq!(num(&st, "last_exit_signal"), 9);
}

#[test]
fn a_finished_oneshot_runs_its_exec_stop_when_stopped_and_when_restarted() {
    // The early services' stop halves (unmount, save the seed) used to
    // need a process held for the whole uptime: a finished oneshot's
    // exec-stop never ran.
    let t = Scratch::new("undo");
    let log = t.path("log");
    let mut s = svc("undo", &format!("echo did >> {}", log.display()));
    s.add_string("type", "oneshot").unwrap();
    s.add_string_array("exec_stop", sh(&format!("echo undid >> {}", log.display())))
        .unwrap();
    let mut sup = Sup::managed(&t, s);
    sup.call("start", |_| {});
    sup.wait_state("finished");
    assert_eq!(t.read("log"), "did\n");
    sup.call("restart", |_| {});
    wait_for("the restart to undo and do again", || {
        t.read("log") == "did\nundid\ndid\n"
    });
    sup.wait_state("finished");
    sup.call("stop", |_| {});
    sup.wait_state("down");
    assert_eq!(t.read("log"), "did\nundid\ndid\nundid\n");
}

#[test]
fn a_finished_oneshots_exec_stop_that_hangs_is_killed_at_stop_timeout() {
    let t = Scratch::new("undohang");
    let mut s = svc("undohang", "exit 0");
    s.add_string("type", "oneshot").unwrap();
    s.add_string_array("exec_stop", sh("exec sleep 1000"))
        .unwrap();
    s.add_number("stop_timeout", 300).unwrap();
    let mut sup = Sup::managed(&t, s);
    sup.call("start", |_| {});
    sup.wait_state("finished");
    let asked = std::time::Instant::now();
    sup.call("stop", |_| {});
    sup.wait_state("down");
    let took = asked.elapsed();
    assert!(
        took < std::time::Duration::from_secs(5),
        "stop took {took:?}"
    );
}
