//! Scenario tests: one directory per behaviour under tests/scenarios/
//! (declarations), driven here with the real svc-manager and svc-supervise.
//! Build the binaries first: `cargo build --workspace --bins`.

mod common;

use std::os::unix::fs::MetadataExt;
use std::time::Duration;

use common::*;
use libnv::NvList;

/// Tests that switch users need root (setpriv, useradd, user = nobody).
const ROOT_FOR: &str = "setpriv, useradd, user = nobody";

fn no_wait() -> NvList {
    let mut l = NvList::new();
    l.add_bool("no_wait", true).unwrap();
    l
}

#[test]
fn ordering_and_parallelism() {
    let t = Tree::new("ordering");
    let m = Manager::start(&t, &[]);
    let mut c = m.client();
    // x and y do not wait for a, which waits for its gate.
    c.wait_state("x", "ready");
    c.wait_state("y", "ready");
    c.wait_state("a", "running");
    // a's readiness check has failed twice since a ran (the first check
    // may have been under way when b's fate was decided): b must not run.
    wait_for(Duration::from_secs(20), "a's third failed check", || {
        t.lines("checks").len() >= 3
    });
    assert_eq!(c.state("a"), "running");
    assert_eq!(c.state("b"), "down", "b must wait until a is ready");
    assert!(!t.lines("order").contains(&"b".to_string()));
    std::fs::write(t.path("gate"), "").unwrap();
    c.wait_state("c", "ready");
    // Ready at exec: the shell may not have written its line yet.
    wait_for(Duration::from_secs(20), "c in the order file", || {
        t.lines("order").contains(&"c".to_string())
    });
    let order = t.lines("order");
    assert!(position(&order, "a") < position(&order, "b"));
    assert!(position(&order, "b") < position(&order, "c"));
    c.wait_state("default", "ready");
}

#[test]
fn readiness_gates_dependents() {
    let t = Tree::new("readiness");
    let m = Manager::start(&t, &[]);
    let mut c = m.client();
    c.wait_state("default", "ready");
    wait_for(Duration::from_secs(20), "every dependent's line", || {
        let order = t.lines("order");
        ["st", "nfd", "sdn", "chk", "one"]
            .iter()
            .all(|k| order.contains(&format!("{k}-dep")))
    });
    let order = t.lines("order");
    for kind in ["st", "nfd", "sdn", "chk", "one"] {
        let ready = position(&order, &format!("{kind}-ready"));
        let dep = position(&order, &format!("{kind}-dep"));
        assert!(
            ready < dep,
            "{kind}: dependent started before ready: {order:?}"
        );
    }
    assert_eq!(c.state("one"), "finished");
    assert_eq!(c.state("sdn"), "ready");
}

#[test]
fn failure_propagates_to_requirers_not_wanters() {
    let t = Tree::new("failure");
    let m = Manager::start(&t, &[]);
    let mut c = m.client();
    c.wait_state("want", "ready");
    c.wait_state("bad", "failed");
    let req = &c.status(&["req"])[0];
    assert_eq!(req.get_str("state"), Some("down"));
    assert_eq!(req.get_str("reason"), Some("dependency bad failed"));
    let reply = c.simple("start", &["req"]);
    assert_eq!(reply.get_bool("ok"), Some(false));
    assert_eq!(result_of(&reply, "req"), "not-started");
    assert_eq!(result_of(&reply, "bad"), "failed");
    assert_eq!(c.state("want"), "ready");
}

#[test]
fn stop_in_reverse_order_and_sigterm_exits_zero() {
    let t = Tree::new("stop-order");
    let mut m = Manager::start(&t, &[]);
    let mut c = m.client();
    c.wait_state("default", "ready");
    // Ready at exec: wait until each shell has set its trap.
    wait_for(Duration::from_secs(20), "4 started", || {
        t.lines("started").len() == 4
    });
    let reply = c.simple("stop", &["a"]);
    assert_eq!(reply.get_bool("ok"), Some(true));
    for n in ["a", "b", "c", "d"] {
        assert_eq!(result_of(&reply, n), "stopped", "{reply:?}");
        assert_eq!(c.state(n), "down");
    }
    let stopped = t.lines("stopped");
    assert_eq!(stopped.len(), 4, "{stopped:?}");
    assert!(position(&stopped, "c") < position(&stopped, "b"));
    assert!(position(&stopped, "b") < position(&stopped, "a"));
    assert!(position(&stopped, "d") < position(&stopped, "a"));

    let reply = c.simple("start", &["default"]);
    assert_eq!(reply.get_bool("ok"), Some(true), "{reply:?}");
    std::fs::remove_file(t.path("stopped")).unwrap();
    wait_for(Duration::from_secs(20), "8 started", || {
        t.lines("started").len() == 8
    });
    drop(c);
    assert_eq!(m.terminate(), Some(0));
    let stopped = t.lines("stopped");
    assert_eq!(stopped.len(), 4, "{stopped:?}");
    assert!(position(&stopped, "c") < position(&stopped, "b"));
    assert!(position(&stopped, "b") < position(&stopped, "a"));
    assert!(pids_mentioning(&t.root.to_string_lossy()).is_empty());
}

/// `restart a` also restarts what requires a, which its stop stops:
/// c requires b requires a, d requires a (tests/scenarios/stop-order).
/// Requirers stop first and start again once a is back; a leaf's restart
/// touches nothing else.
#[test]
fn restart_brings_back_the_requirers_it_stopped() {
    let t = Tree::new("stop-order");
    let m = Manager::start(&t, &[]);
    let mut c = m.client();
    c.wait_state("default", "ready");
    wait_for(Duration::from_secs(20), "4 started", || {
        t.lines("started").len() == 4
    });
    let before: Vec<u64> = ["a", "b", "c", "d"].iter().map(|n| c.pid_of(n)).collect();

    let reply = c.simple("restart", &["a"]);
    assert_eq!(reply.get_bool("ok"), Some(true), "{reply:?}");
    for (n, old) in ["a", "b", "c", "d"].iter().zip(&before) {
        assert_eq!(result_of(&reply, n), "started", "{n}: {reply:?}");
        assert_eq!(c.state(n), "ready", "{n}");
        assert_ne!(c.pid_of(n), *old, "{n} runs a new process");
    }
    assert_eq!(c.state("default"), "ready");
    let stopped = t.lines("stopped");
    assert_eq!(stopped.len(), 4, "{stopped:?}");
    assert!(position(&stopped, "c") < position(&stopped, "b"));
    assert!(position(&stopped, "b") < position(&stopped, "a"));
    assert!(position(&stopped, "d") < position(&stopped, "a"));
    wait_for(Duration::from_secs(20), "8 started", || {
        t.lines("started").len() == 8
    });
    let started = t.lines("started")[4..].to_vec();
    assert!(position(&started, "a") < position(&started, "b"));
    assert!(position(&started, "b") < position(&started, "c"));
    assert!(position(&started, "a") < position(&started, "d"));

    let kept: Vec<u64> = ["a", "b", "d"].iter().map(|n| c.pid_of(n)).collect();
    let reply = c.simple("restart", &["c"]);
    assert_eq!(reply.get_bool("ok"), Some(true), "{reply:?}");
    assert_eq!(result_of(&reply, "c"), "started");
    for (n, pid) in ["a", "b", "d"].iter().zip(&kept) {
        assert_eq!(c.pid_of(n), *pid, "{n} does not require c: untouched");
    }
}

#[test]
fn conflicting_service_is_stopped_first() {
    let t = Tree::new("conflicts");
    let m = Manager::start(&t, &[]);
    let mut c = m.client();
    c.wait_state("a", "ready");
    let reply = c.simple("start", &["b"]);
    assert_eq!(reply.get_bool("ok"), Some(true), "{reply:?}");
    assert_eq!(result_of(&reply, "a"), "stopped");
    assert_eq!(c.state("a"), "down");
    assert_eq!(c.state("b"), "ready");
}

#[test]
fn target_switch_stops_and_starts_the_difference() {
    let t = Tree::new("target-switch");
    let m = Manager::start(&t, &["--target", "one"]);
    let mut c = m.client();
    c.wait_state("one", "ready");
    let b_pid = c.pid_of("b");
    let mut args = NvList::new();
    args.add_string("target", "two").unwrap();
    let reply = c.call("target", &[], args);
    assert_eq!(reply.get_bool("ok"), Some(true), "{reply:?}");
    assert_eq!(c.state("a"), "down");
    assert_eq!(c.state("c"), "ready");
    assert_eq!(c.state("two"), "ready");
    assert_eq!(c.state("one"), "down");
    assert_eq!(c.pid_of("b"), b_pid, "b is in both targets: untouched");
}

#[test]
fn rescan_keeps_last_good_and_changes_apply_at_next_start() {
    let t = Tree::new("rescan");
    let m = Manager::start(&t, &[]);
    let mut c = m.client();
    c.wait_state("default", "ready");
    wait_for(Duration::from_secs(20), "b v1", || {
        t.lines("b-version").len() == 1
    });
    let a_pid = c.pid_of("a");
    t.write_service("n", "[service]\nexec = /bin/sleep 1000\n");
    t.write_service("a", "[service]\nexce = /bin/true\n");
    t.write_service(
        "b",
        "[service]\nexec = /bin/sh -c 'echo v2 >> @TMP@/b-version; exec sleep 1000'\n",
    );
    let reply = c.simple("rescan", &[]);
    let errors: Vec<String> = reply
        .get_string_array("errors")
        .unwrap_or(&[])
        .iter()
        .map(|e| String::from_utf8_lossy(e).into_owned())
        .collect();
    assert!(
        errors
            .iter()
            .any(|e| e.contains("a.ini") && e.contains("exce")),
        "{errors:?}"
    );
    assert_eq!(c.state("n"), "down", "the new service is known");
    assert_eq!(c.pid_of("a"), a_pid, "nothing running is disturbed");
    assert_eq!(t.lines("b-version"), vec!["v1"]);
    // The broken file's last good version still starts.
    assert_eq!(c.simple("restart", &["a"]).get_bool("ok"), Some(true));
    assert_eq!(c.state("a"), "ready");
    // The changed one takes effect at its next start.
    assert_eq!(c.simple("restart", &["b"]).get_bool("ok"), Some(true));
    wait_for(Duration::from_secs(20), "b v2", || {
        t.lines("b-version").len() == 2
    });
    assert_eq!(t.lines("b-version"), vec!["v1", "v2"]);
    assert_eq!(c.simple("start", &["n"]).get_bool("ok"), Some(true));
    // SIGHUP rescans too.
    t.write_service("h", "[service]\nexec = /bin/sleep 1000\n");
    // SAFETY: kill(2) on the manager this test started.
    unsafe { libc::kill(m.pid(), libc::SIGHUP) };
    wait_for(Duration::from_secs(20), "h after SIGHUP", || {
        c.simple("status", &["h"])
            .get_number("ipc:error_code")
            .is_none()
    });
}

#[test]
fn adoption_after_sigkill() {
    let t = Tree::new("adoption");
    let mut m = Manager::start(&t, &[]);
    let mut c = m.client();
    c.wait_state("default", "ready");
    let before: Vec<(u64, u64)> = ["a", "b"]
        .iter()
        .map(|n| {
            let s = &c.status(&[n])[0];
            (
                s.get_number("pid").unwrap(),
                s.get_number("restarts").unwrap(),
            )
        })
        .collect();
    wait_for(Duration::from_secs(20), "a and b to have started", || {
        t.lines("started").len() == 2
    });
    drop(c);
    m.kill();
    for (pid, _) in &before {
        assert!(std::path::Path::new(&format!("/proc/{pid}")).exists());
    }
    let m2 = Manager::start(&t, &[]);
    let mut c = m2.client();
    c.wait_state("default", "ready");
    for (n, (pid, restarts)) in ["a", "b"].iter().zip(&before) {
        let s = &c.status(&[n])[0];
        assert_eq!(s.get_str("state"), Some("ready"));
        assert_eq!(s.get_number("pid"), Some(*pid), "{n} kept its pid");
        assert_eq!(s.get_number("restarts"), Some(*restarts));
    }
    assert_eq!(t.lines("started"), vec!["a", "b"], "nothing restarted");
    // The adopted supervisors still obey.
    let reply = c.simple("stop", &["a"]);
    assert_eq!(reply.get_bool("ok"), Some(true), "{reply:?}");
    assert_eq!(c.state("b"), "down");
}

#[test]
fn hostile_clients_do_not_stall_the_manager() {
    use std::io::{Read, Write};
    use std::os::unix::net::UnixStream;
    let t = Tree::new("hostile");
    let m = Manager::start(&t, &[]);
    let mut good = m.client();
    good.wait_state("a", "ready");

    let _silent = UnixStream::connect(&m.socket).unwrap();
    let mut half = UnixStream::connect(&m.socket).unwrap();
    let whole = request("status", &[], 1).pack().unwrap();
    half.write_all(&whole[..whole.len() / 2]).unwrap();
    let mut garbage = UnixStream::connect(&m.socket).unwrap();
    garbage.write_all(&[0xAB; 4096]).unwrap();
    let mut huge = UnixStream::connect(&m.socket).unwrap();
    let mut header = whole[..19].to_vec();
    header[11..19].copy_from_slice(&(1u64 << 40).to_le_bytes());
    huge.write_all(&header).unwrap();

    // A flood of requests whose replies are never read.
    let flood = UnixStream::connect(&m.socket).unwrap();
    let flood_writer = flood.try_clone().unwrap();
    let flooder = std::thread::spawn(move || {
        let mut w = flood_writer;
        let one = request("status", &["a"], 7).pack().unwrap();
        let mut batch = Vec::new();
        for _ in 0..1000 {
            batch.extend_from_slice(&one);
        }
        for _ in 0..1000 {
            if w.write_all(&batch).is_err() {
                return;
            }
        }
    });

    for _ in 0..50 {
        assert_eq!(good.state("a"), "ready");
    }
    // Garbage and an absurd size are cut off.
    for s in [&mut garbage, &mut huge] {
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let mut buf = [0u8; 64];
        let n = s.read(&mut buf).unwrap_or(0);
        assert_eq!(n, 0, "the manager must close a garbage connection");
    }
    // Half a message is given 10 s, then the connection ends.
    half.set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut buf = [0u8; 64];
    assert_eq!(half.read(&mut buf).unwrap_or(0), 0);
    assert_eq!(good.state("a"), "ready");
    let _ = flood.shutdown(std::net::Shutdown::Both);
    flooder.join().unwrap();
    assert_eq!(good.state("a"), "ready");
}

#[test]
fn protocol_errors_and_methods() {
    let t = Tree::new("permissions");
    let m = Manager::start(&t, &[]);
    let mut c = m.client();
    c.wait_state("a", "ready");
    let r = c.simple("frobnicate", &[]);
    assert_eq!(r.get_number("ipc:error_code"), Some(3));
    let r = c.simple("status", &["nope"]);
    assert_eq!(r.get_number("ipc:error_code"), Some(6));
    let r = c.simple("start", &[]);
    assert_eq!(r.get_number("ipc:error_code"), Some(4));
    let r = c.simple("reload", &["b"]);
    assert_eq!(r.get_number("ipc:error_code"), Some(7));
    let r = c.simple("reload", &["a"]);
    assert_eq!(r.get_number("ipc:error_code"), None);
    let r = c.simple("list", &[]);
    let names: Vec<&str> = r
        .get_nvlist_array("services")
        .unwrap()
        .iter()
        .filter_map(|s| s.get_str("name"))
        .collect();
    assert_eq!(names, vec!["a", "b", "default"]);
    // enable / disable edit the enablement directory.
    let r = c.simple("enable", &["b"]);
    assert_eq!(r.get_number("ipc:error_code"), None, "{r:?}");
    assert!(t.path("enabled/default/b").exists());
    let r = c.simple("disable", &["b"]);
    assert_eq!(r.get_number("ipc:error_code"), None, "{r:?}");
    assert!(!t.path("enabled/default/b").exists());
    // start without waiting answers at once with the job id.
    let r = c.call("start", &["b"], no_wait());
    assert!(r.get_number("job").is_some());
    c.wait_state("b", "ready");
    // watch streams events.
    let mut w = m.client();
    assert_eq!(w.simple("watch", &[]).get_number("ipc:error_code"), None);
    c.call("stop", &["b"], no_wait());
    let ev = NvList::recv(&w.sock, &libnv::UnpackOptions::default()).unwrap();
    assert_eq!(ev.get_str("ipc:method"), Some("event"));
    assert_eq!(ev.get_str("name"), Some("b"));
    // shutdown stops everything and exits.
    let r = c.simple("shutdown", &[]);
    assert_eq!(r.get_number("ipc:error_code"), None);
    assert!(result_of(&r, "a") == "stopped", "{r:?}");
}

/// Runs svcctl as uid/gid 65534 (nobody/nogroup) with `args`.
fn svcctl_as_nobody(sock: &std::path::Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(bin("svcctl"))
        .arg("--socket")
        .arg(sock)
        .args(args)
        .output()
        .expect("setpriv")
}

#[test]
fn unprivileged_users_may_read_but_not_change() {
    if !needs_root("unprivileged_users_may_read_but_not_change", ROOT_FOR) {
        return;
    }
    let t = Tree::new("permissions");
    let m = Manager::start(&t, &[]);
    let mut c = m.client();
    c.wait_state("a", "ready");
    let pid = c.pid_of("a");
    let out = svcctl_as_nobody(&m.socket, &["status", "a"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let out = svcctl_as_nobody(&m.socket, &["stop", "a"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("not permitted"));
    let out = svcctl_as_nobody(&m.socket, &["start", "b"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(c.pid_of("a"), pid, "nothing changed");
    assert_eq!(c.state("b"), "down");
    drop(c);
    drop(m);

    // --control-group widens it.
    let t = Tree::new("permissions");
    let m = Manager::start(&t, &["--control-group", "nogroup"]);
    let mut c = m.client();
    c.wait_state("a", "ready");
    let out = svcctl_as_nobody(&m.socket, &["start", "b"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(c.state("b"), "ready");
}

/// The test user: created if missing, removed at the end if we made it.
struct TestUser {
    name: &'static str,
    uid: u32,
    gid: u32,
    created: bool,
}

impl TestUser {
    fn get() -> TestUser {
        let name = "svctest";
        let mut created = false;
        if nix::unistd::User::from_name(name).ok().flatten().is_none() {
            let st = std::process::Command::new("useradd")
                .args([
                    "--system",
                    "--no-create-home",
                    "--shell",
                    "/usr/sbin/nologin",
                ])
                .arg(name)
                .status()
                .expect("useradd");
            assert!(st.success(), "useradd {name}");
            created = true;
        }
        let u = nix::unistd::User::from_name(name).unwrap().unwrap();
        TestUser {
            name,
            uid: u.uid.as_raw(),
            gid: u.gid.as_raw(),
            created,
        }
    }

    fn chown(&self, path: &std::path::Path) {
        std::os::unix::fs::chown(path, Some(self.uid), Some(self.gid)).unwrap();
    }
}

impl Drop for TestUser {
    fn drop(&mut self) {
        if self.created {
            let _ = std::process::Command::new("userdel")
                .arg(self.name)
                .status();
        }
    }
}

/// Prepares HOME and XDG_RUNTIME_DIR for the test user under the tree,
/// with the user-mode scenario's declarations in ~/.config/svc/services.d.
fn user_home(t: &Tree, u: &TestUser) {
    use std::os::unix::fs::PermissionsExt;
    let home = t.path("home");
    let decl = home.join(".config/svc/services.d");
    std::fs::create_dir_all(&decl).unwrap();
    for f in ["default.ini", "u1.ini"] {
        std::fs::copy(
            scenario_dir("user-mode").join("services").join(f),
            decl.join(f),
        )
        .unwrap();
    }
    let xdg = t.path("xdg");
    std::fs::create_dir_all(&xdg).unwrap();
    std::fs::set_permissions(&xdg, std::fs::Permissions::from_mode(0o700)).unwrap();
    for p in [
        home.clone(),
        home.join(".config"),
        home.join(".config/svc"),
        decl.clone(),
        decl.join("default.ini"),
        decl.join("u1.ini"),
        xdg,
    ] {
        u.chown(&p);
    }
}

fn uid_of(pid: u64) -> u32 {
    std::fs::metadata(format!("/proc/{pid}")).unwrap().uid()
}

#[test]
fn user_managers_alone_and_nested() {
    if !needs_root("user_managers_alone_and_nested", ROOT_FOR) {
        return;
    }
    let u = TestUser::get();

    // 1. A user manager on its own, as the unprivileged user.
    let t = Tree::new("user-mode");
    user_home(&t, &u);
    let sock = t.path("xdg/svc/sock");
    {
        let mut cmd = std::process::Command::new(bin("svc-manager"));
        cmd.arg("--user")
            .arg("--supervise")
            .arg(bin("svc-supervise"))
            .env_clear()
            .env("HOME", t.path("home"))
            .env("XDG_RUNTIME_DIR", t.path("xdg"))
            .env("PATH", "/usr/bin:/bin")
            .uid(u.uid)
            .gid(u.gid)
            .stdout(std::process::Stdio::null());
        use std::os::unix::process::CommandExt;
        let child = cmd.spawn().unwrap();
        let mut m = Manager {
            child: Some(child),
            socket: sock.clone(),
        };
        wait_for(Duration::from_secs(20), "the user socket", || {
            std::os::unix::net::UnixStream::connect(&sock).is_ok()
        });
        let dir_mode = std::fs::metadata(t.path("xdg/svc")).unwrap().mode() & 0o777;
        assert_eq!(dir_mode, 0o700);
        let mut c = m.client(); // root may connect
        c.wait_state("u1", "ready");
        assert_eq!(uid_of(c.pid_of("u1")), u.uid, "runs as the user");
        // Another user is turned away.
        let out = svcctl_as_nobody(&sock, &["status"]);
        assert_ne!(out.status.code(), Some(0));
        drop(c);
        assert_eq!(m.terminate(), Some(0));
    }
    drop(t);

    // 2. The same user manager as the root manager's user@svctest service.
    let t = Tree::new("nested-user");
    user_home(&t, &u);
    let m = Manager::start(&t, &[]);
    let mut c = m.client();
    c.wait_state("default", "ready");
    let s = &c.status(&["user@svctest"])[0];
    assert_eq!(s.get_str("state"), Some("ready"));
    assert_eq!(uid_of(s.get_number("pid").unwrap()), u.uid);
    // It reported ready only once its own target had settled.
    let mut uc = Client::connect(&t.path("xdg/svc/sock"));
    assert_eq!(uc.state("u1"), "ready");
    assert_eq!(uc.state("default"), "ready");
    drop(uc);
    drop(c);
    drop(m);
}

#[test]
fn tells_its_parent_once_the_target_settled() {
    use std::io::Read;
    use std::os::fd::FromRawFd;
    let t = Tree::new("readiness");
    let mut fds = [0; 2];
    // SAFETY: pipe(2) into a two-int array; the write end is inherited on
    // purpose (the manager's --notify-fd).
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    // SAFETY: the read end is ours alone.
    let mut r = unsafe { std::fs::File::from_raw_fd(fds[0]) };
    // SAFETY: fcntl on our own descriptor: keep the read end from children.
    unsafe { libc::fcntl(fds[0], libc::F_SETFD, libc::FD_CLOEXEC) };
    let w = fds[1].to_string();
    let m = Manager::start(&t, &["--notify-fd", &w]);
    // SAFETY: the manager has its copy; close ours.
    unsafe { libc::close(fds[1]) };
    let mut line = [0u8; 1];
    assert_eq!(r.read(&mut line).unwrap(), 1);
    assert_eq!(&line, b"\n");
    let mut c = m.client();
    assert_eq!(c.state("default"), "ready");
    assert_eq!(c.state("one"), "finished");
}

#[test]
fn requirer_starts_when_a_failed_dependency_recovers() {
    let t = Tree::new("late-recovery");
    let m = Manager::start(&t, &[]);
    let mut c = m.client();
    c.wait_state("flaky", "ready");
    c.wait_state("dep", "ready");
    assert!(c.status(&["flaky"])[0].get_number("restarts").unwrap() >= 1);
}

#[test]
fn declaration_keys_reach_the_service() {
    if !needs_root("declaration_keys_reach_the_service", ROOT_FOR) {
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    let t = Tree::new("declaration-keys");
    let out = t.path("out");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o777)).unwrap();
    std::fs::write(t.path("envfile"), "F=fromfile\n").unwrap();
    let m = Manager::start(&t, &[]);
    let mut c = m.client();
    c.wait_state("keys", "ready");
    wait_for(Duration::from_secs(20), "facts", || {
        t.lines("out/facts").len() == 1
    });
    let facts = t.lines("out/facts").remove(0);
    let root = t.root.to_string_lossy();
    assert_eq!(
        facts,
        format!("uid=65534 umask=0027 cwd={root}/out nofile=512 nice=5 A=1 B=two words F=fromfile")
    );
    assert_eq!(t.lines("out/pre"), vec!["pre"]);
    let rt = t.path("run/rtdir");
    assert_eq!(std::fs::metadata(&rt).unwrap().uid(), 65534);
    let r = c.simple("stop", &["keys"]);
    assert_eq!(r.get_bool("ok"), Some(true), "{r:?}");
    assert_eq!(t.lines("out/stop"), vec!["stop"]);
    assert!(!rt.exists(), "runtime directory removed after stop");
}

/// Reads what a child wrote so far without blocking.
fn read_available(out: &mut std::process::ChildStdout) -> String {
    use std::io::Read;
    use std::os::fd::AsRawFd;
    // SAFETY: fcntl on a pipe end this test owns.
    unsafe { libc::fcntl(out.as_raw_fd(), libc::F_SETFL, libc::O_NONBLOCK) };
    let mut buf = [0u8; 4096];
    let mut text = String::new();
    while let Ok(n) = out.read(&mut buf) {
        if n == 0 {
            break;
        }
        text.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    text
}

#[test]
fn connections_per_uid_are_bounded() {
    if !needs_root("connections_per_uid_are_bounded", ROOT_FOR) {
        return;
    }
    let t = Tree::new("permissions");
    let m = Manager::start(&t, &[]);
    let mut c = m.client();
    c.wait_state("a", "ready");
    let watch_as_nobody = || {
        std::process::Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(bin("svcctl"))
            .arg("--socket")
            .arg(&m.socket)
            .arg("watch")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    struct Children(Vec<std::process::Child>);
    impl Drop for Children {
        fn drop(&mut self) {
            for c in &mut self.0 {
                let _ = c.kill();
                let _ = c.wait();
            }
        }
    }
    let mut watchers = Children((0..32).map(|_| watch_as_nobody()).collect());
    // Every watcher is connected once each has seen an event.
    let mut seen = vec![String::new(); 32];
    let mut up = false;
    wait_for(Duration::from_secs(30), "32 watchers", || {
        c.call(if up { "stop" } else { "start" }, &["b"], no_wait());
        up = !up;
        std::thread::sleep(Duration::from_millis(100));
        for (w, s) in watchers.0.iter_mut().zip(&mut seen) {
            s.push_str(&read_available(w.stdout.as_mut().unwrap()));
        }
        seen.iter().all(|s| s.contains("b "))
    });
    // The 33rd connection of that uid is refused; root still gets in.
    let mut extra = watch_as_nobody();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(st) = extra.try_wait().unwrap() {
            break st;
        }
        assert!(std::time::Instant::now() < deadline, "33rd connection kept");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(1));
    assert_eq!(m.client().state("a"), "ready");
    // One watcher leaves: the user may connect again.
    let mut gone = watchers.0.pop().unwrap();
    gone.kill().unwrap();
    gone.wait().unwrap();
    wait_for(Duration::from_secs(20), "a free slot", || {
        svcctl_as_nobody(&m.socket, &["status", "a"]).status.code() == Some(0)
    });
}
