//! Clients that try to take the control socket away from root: idle
//! connections from many uids, pipelined requests, clients that never read
//! their replies, and a manager whose stdout and stderr fail. Real manager,
//! real supervisors, real sockets; the unprivileged clients connect with
//! another effective uid (`common::connect_as`).
//! Build the binaries first: `cargo build --workspace --bins`.

mod common;

use std::io::{ErrorKind, Write};
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use libnv::{NvList, UnpackOptions};

/// The idle deadline the tests give the manager (docs/manager.md).
const IDLE: &str = "2";

fn no_wait() -> NvList {
    let mut l = NvList::new();
    l.add_bool("no_wait", true).unwrap();
    l
}

/// A connection of uid `uid` subscribed to events.
fn watcher_as(m: &Manager, uid: u32) -> UnixStream {
    let w = connect_as(&m.socket, uid).expect("connect as another uid");
    let reply = request_on(&w, "watch", &[], 1).expect("watch reply");
    assert_eq!(reply.get_number("ipc:error_code"), None, "{reply:?}");
    w
}

/// The next event for `name` on a watch connection.
fn event_for(w: &UnixStream, name: &str) -> NvList {
    w.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    loop {
        let ev = NvList::recv(w, &UnpackOptions::default()).expect("an event");
        if ev.get_str("ipc:method") == Some("event") && ev.get_str("name") == Some(name) {
            return ev;
        }
    }
}

/// `svcctl status a` as root, with its own default timeout.
fn root_status(m: &Manager) -> (Duration, Option<std::process::Output>) {
    let began = Instant::now();
    let out = output_within(
        Command::new(bin("svcctl"))
            .arg("--socket")
            .arg(&m.socket)
            .args(["status", "a"]),
        Duration::from_secs(10),
    );
    (began.elapsed(), out)
}

#[test]
fn idle_connections_of_sixteen_uids_leave_root_in_control() {
    let t = Tree::new("hostile");
    let m = Manager::start_with(&t, &[], |c| {
        c.env("SVC_CLIENT_IDLE_TIMEOUT", IDLE);
    });
    m.client().wait_state("a", "ready");
    let watcher = watcher_as(&m, 60100);

    // 16 unprivileged uids, 32 connections each, that never send a byte.
    let mut idle = Vec::new();
    for uid in 60001..=60016 {
        for _ in 0..32 {
            idle.push(connect_as(&m.socket, uid).expect("connect as another uid"));
        }
    }
    let (took, out) = root_status(&m);
    let out = out.expect("root's svcctl status hung behind idle connections");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(took < Duration::from_secs(5), "root waited {took:?}");
    // Beyond the users' share, a connection is told why it is closed.
    let refused = idle.last().unwrap();
    refused
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let r = NvList::recv(refused, &UnpackOptions::default()).expect("a refusal");
    let why = r.get_str("ipc:error").unwrap_or_default();
    assert!(why.starts_with("too many connections"), "{r:?}");
    let out = output_within(
        Command::new("setpriv")
            .args(["--reuid=60016", "--regid=60016", "--clear-groups"])
            .arg(bin("svcctl"))
            .arg("--socket")
            .arg(&m.socket)
            .arg("status"),
        Duration::from_secs(10),
    )
    .expect("svcctl as uid 60016 hung");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("svcctl: too many connections"), "{err}");

    // Past the idle deadline every silent connection is closed...
    let deadline = Instant::now() + Duration::from_secs(30);
    for (i, s) in idle.iter().enumerate() {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(hung_up(s, left), "idle connection {i} still open");
    }
    // ... but not the subscribed one: it still hears of changes.
    let r = m.client().call("stop", &["a"], no_wait());
    assert_eq!(r.get_number("ipc:error_code"), None, "{r:?}");
    event_for(&watcher, "a");
    // And the uids whose connections were closed may connect again.
    let again = connect_as(&m.socket, 60001).unwrap();
    let r = request_on(&again, "status", &["a"], 1).expect("status after the purge");
    assert_eq!(r.get_number("ipc:error_code"), None, "{r:?}");
}

#[test]
fn pipelined_requests_are_answered_without_new_bytes() {
    let t = Tree::new("hostile");
    let m = Manager::start(&t, &[]);
    m.client().wait_state("a", "ready");
    for count in [65u64, 300] {
        let mut s = UnixStream::connect(&m.socket).unwrap();
        let mut batch = Vec::new();
        for id in 1..=count {
            batch.extend(request("status", &["a"], id).pack().unwrap());
        }
        s.write_all(&batch).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        for id in 1..=count {
            let r = NvList::recv(&s, &UnpackOptions::default())
                .unwrap_or_else(|e| panic!("reply {id} of {count}: {e}"));
            assert_eq!(r.get_number("ipc:id"), Some(id));
        }
    }
}

/// Writes `req` into `s` (non-blocking) until the socket takes no more.
fn flood(s: &mut UnixStream, batch: &[u8]) -> usize {
    let mut sent = 0;
    loop {
        match s.write(batch) {
            Ok(n) => sent += n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => return sent,
            Err(_) => return sent,
        }
    }
}

#[test]
fn clients_that_never_read_are_bounded_and_cut_off() {
    let t = Tree::new("hostile");
    let m = Manager::start_with(&t, &[], |c| {
        c.env("SVC_CLIENT_IDLE_TIMEOUT", IDLE);
    });
    m.client().wait_state("a", "ready");
    // 32 connections of one uid: each subscribes to events, then sends
    // requests as fast as the socket takes them and never reads a reply.
    let mut hogs: Vec<UnixStream> = (0..32).map(|_| watcher_as(&m, 60200)).collect();
    let mut batch = Vec::new();
    for id in 0..64 {
        batch.extend(request("list", &[], id).pack().unwrap());
        batch.extend(request("status", &[], id).pack().unwrap());
    }
    for h in &hogs {
        h.set_nonblocking(true).unwrap();
    }
    let mut root = m.client();
    let began = Instant::now();
    let mut restarts = 0;
    while began.elapsed() < Duration::from_secs(6) {
        for h in &mut hogs {
            flood(h, &batch);
        }
        // Events for every watcher, too.
        let r = root.call("restart", &["a"], NvList::new());
        assert_eq!(r.get_number("ipc:error_code"), None, "{r:?}");
        restarts += 1;
    }
    assert!(restarts > 3, "root was starved: {restarts} restarts in 6 s");
    let (took, out) = root_status(&m);
    let out = out.expect("root's svcctl status hung");
    assert_eq!(out.status.code(), Some(0));
    assert!(took < Duration::from_secs(5), "root waited {took:?}");

    let peak = proc_status_kb(m.pid(), "VmHWM");
    assert!(peak > 0, "no VmHWM for the manager");
    eprintln!("manager peak RSS {peak} kB, {restarts} restarts by root meanwhile");
    assert!(
        peak < 40 * 1024,
        "the manager's peak RSS grew to {} MiB",
        peak / 1024
    );
    // Their output has stopped moving: each is closed within the deadline.
    let deadline = Instant::now() + Duration::from_secs(30);
    for (i, h) in hogs.iter().enumerate() {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(hung_up(h, left), "never-reading connection {i} still open");
    }
    assert_eq!(m.client().state("a"), "ready");
}

/// A pipe whose reading end is already closed.
fn widowed_pipe() -> OwnedFd {
    let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).unwrap();
    drop(r);
    w
}

/// A terminal whose other side has gone: writes fail with EIO, as on the
/// console of a container whose nspawn died.
fn dead_terminal() -> OwnedFd {
    // SAFETY: posix_openpt and friends on a descriptor we own; the name
    // buffer is ours and NUL-terminated by ptsname_r.
    unsafe {
        let master = libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC);
        assert!(master >= 0, "posix_openpt");
        let master = OwnedFd::from_raw_fd(master);
        use std::os::fd::AsRawFd;
        assert_eq!(libc::grantpt(master.as_raw_fd()), 0);
        assert_eq!(libc::unlockpt(master.as_raw_fd()), 0);
        let mut name = [0 as libc::c_char; 128];
        assert_eq!(
            libc::ptsname_r(master.as_raw_fd(), name.as_mut_ptr(), name.len()),
            0
        );
        let slave = libc::open(
            name.as_ptr(),
            libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC,
        );
        assert!(slave >= 0, "open the terminal");
        let slave = OwnedFd::from_raw_fd(slave);
        drop(master);
        let probe = nix::unistd::write(&slave, b"x");
        assert!(probe.is_err(), "a terminal without its master must fail");
        slave
    }
}

#[test]
fn failing_stdout_and_stderr_do_not_end_the_manager() {
    type Sink = fn() -> OwnedFd;
    let sinks: [(&str, Sink); 3] = [
        ("/dev/full", || {
            OwnedFd::from(
                std::fs::OpenOptions::new()
                    .write(true)
                    .open("/dev/full")
                    .unwrap(),
            )
        }),
        ("a pipe without a reader", widowed_pipe),
        ("a terminal that answers EIO", dead_terminal),
    ];
    for (what, sink) in sinks {
        let t = Tree::new("hostile");
        let fd = sink();
        let mut m = Manager::start_with(&t, &[], |c| {
            c.env("SVC_LOG", "debug")
                .stdout(Stdio::from(fd.try_clone().unwrap()))
                .stderr(Stdio::from(fd.try_clone().unwrap()));
        });
        drop(fd);
        let mut c = m.client();
        c.wait_state("a", "ready");
        // Outcome lines (stdout) and diagnostics (stderr) on the way.
        t.write_service("broken", "[service]\nexec =\n");
        let r = c.simple("rescan", &[]);
        assert!(r.get_string_array("errors").is_some(), "{what}: {r:?}");
        let r = c.simple("restart", &["a"]);
        assert_eq!(r.get_bool("ok"), Some(true), "{what}: {r:?}");
        assert_eq!(c.state("a"), "ready", "{what}");
        let child = m.child.as_mut().unwrap();
        assert!(
            child.try_wait().unwrap().is_none(),
            "{what}: the manager exited"
        );
        assert_eq!(m.terminate(), Some(0), "{what}: exit status");
    }
}
