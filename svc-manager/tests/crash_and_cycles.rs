//! A dependency cycle among running services, a supervisor killed under
//! its service, a manager killed after an administrator's stop: the
//! manager must neither hang, nor run two copies, nor bring back what was
//! stopped. Build the binaries first: `cargo build --workspace --bins`.

mod common;

use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use common::*;
use libnv::{NvList, UnpackOptions};

/// Generous bound for anything the manager has to do.
const BOUND: Duration = Duration::from_secs(20);

/// A tree with no scenario directory: the test writes its declarations.
fn tree(tag: &str, services: &[(&str, &str)]) -> Tree {
    let t = Tree::new(&format!("crash-{tag}"));
    for (name, text) in services {
        t.write_service(name, text);
    }
    t
}

fn sleeper(deps: &str) -> String {
    format!("[service]\nexec = /bin/sleep 1000\n[dependencies]\n{deps}\n")
}

/// One request on a fresh connection, its reply within `bound`: a job
/// that never answers fails the test instead of hanging it.
fn call_within(socket: &std::path::Path, method: &str, names: &[&str], bound: Duration) -> NvList {
    let sock = UnixStream::connect(socket).expect("connect to the manager");
    sock.set_read_timeout(Some(bound)).unwrap();
    request(method, names, 1).send(&sock).unwrap();
    loop {
        match NvList::recv(&sock, &UnpackOptions::default()) {
            Ok(r) if r.get_bool("ipc:reply") == Some(true) => return r,
            Ok(_) => {}
            Err(e) => panic!("{method} {names:?}: no reply within {bound:?}: {e}"),
        }
    }
}

/// The reason of `name` in a job reply, or the reply's error.
fn reason_in(reply: &NvList, name: &str) -> String {
    if let Some(e) = reply.get_str("ipc:error") {
        return e.to_owned();
    }
    reply
        .get_nvlist_array("services")
        .unwrap_or(&[])
        .iter()
        .find(|s| s.get_str("name") == Some(name))
        .and_then(|s| s.get_str("reason"))
        .unwrap_or("")
        .to_owned()
}

fn rescan_errors(c: &mut Client) -> Vec<String> {
    c.simple("rescan", &[])
        .get_string_array("errors")
        .unwrap_or(&[])
        .iter()
        .map(|e| String::from_utf8_lossy(e).into_owned())
        .collect()
}

/// Waits for a child to exit within `bound`; its exit code.
fn exits_within(m: &mut Manager, bound: Duration) -> Option<i32> {
    let child = m.child.as_mut().expect("manager running");
    let deadline = Instant::now() + bound;
    loop {
        if let Some(st) = child.try_wait().unwrap() {
            m.child = None;
            return Some(st.code().unwrap_or(-1));
        }
        if Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The reproduction of the issue: r1 and r2 run, then each requires the
/// other; restart and stop fail naming the cycle (and leave both running),
/// and once the files are fixed a restart works.
#[test]
fn a_cycle_among_running_services_fails_restart_and_stop_never_hangs() {
    let t = tree(
        "cycle",
        &[
            ("r1", &sleeper("")),
            ("r2", &sleeper("")),
            ("default", "[target]\n[dependencies]\nwants = r1 r2\n"),
        ],
    );
    let m = Manager::start(&t, &[]);
    let mut c = m.client();
    c.wait_state("r1", "ready");
    c.wait_state("r2", "ready");
    let (p1, p2) = (c.pid_of("r1"), c.pid_of("r2"));

    t.write_service("r1", &sleeper("requires = r2"));
    t.write_service("r2", &sleeper("requires = r1"));
    let errors = rescan_errors(&mut c);
    assert!(
        errors
            .iter()
            .any(|e| e.contains("dependency cycle: r1 -> r2 -> r1")),
        "{errors:?}"
    );

    let cycle = "dependency cycle: r1 -> r2 -> r1";
    let reply = call_within(&m.socket, "restart", &["r1"], BOUND);
    assert_eq!(reply.get_bool("ok"), Some(false), "{reply:?}");
    assert!(reason_in(&reply, "r1").contains(cycle), "{reply:?}");
    let reply = call_within(&m.socket, "stop", &["r2"], BOUND);
    assert_eq!(reply.get_bool("ok"), Some(false), "{reply:?}");
    assert!(reason_in(&reply, "r2").contains(cycle), "{reply:?}");
    // A refused plan disturbs nothing.
    assert_eq!((c.pid_of("r1"), c.pid_of("r2")), (p1, p2));

    t.write_service("r1", &sleeper("requires = r2"));
    t.write_service("r2", &sleeper(""));
    assert!(rescan_errors(&mut c).is_empty());
    let reply = call_within(&m.socket, "restart", &["r1"], BOUND);
    assert_eq!(reply.get_bool("ok"), Some(true), "{reply:?}");
    assert_eq!(result_of(&reply, "r1"), "started", "{reply:?}");
    c.wait_state("r1", "ready");
    assert_ne!(c.pid_of("r1"), p1, "r1 was restarted");
    let reply = call_within(&m.socket, "stop", &["r2"], BOUND);
    assert_eq!(reply.get_bool("ok"), Some(true), "{reply:?}");
    assert_eq!(result_of(&reply, "r1"), "stopped", "{reply:?}");
    assert_eq!(result_of(&reply, "r2"), "stopped", "{reply:?}");
}

/// SIGTERM wins over a cycle among running services: everything stops
/// (the cycle's members together) and the manager exits 0, bounded.
#[test]
fn sigterm_stops_a_cycle_and_exits() {
    let t = tree(
        "cycle-term",
        &[
            ("r1", &sleeper("")),
            ("r2", &sleeper("")),
            ("web", &sleeper("")),
            ("default", "[target]\n[dependencies]\nwants = r1 r2 web\n"),
        ],
    );
    let mut m = Manager::start(&t, &[]);
    let mut c = m.client();
    for n in ["r1", "r2", "web"] {
        c.wait_state(n, "ready");
    }
    t.write_service("r1", &sleeper("requires = r2"));
    t.write_service("r2", &sleeper("requires = r1"));
    t.write_service("web", &sleeper("requires = r1"));
    assert!(!rescan_errors(&mut c).is_empty());
    // A job refused for the cycle leaves nothing pending behind it.
    let reply = call_within(&m.socket, "stop", &["r1"], BOUND);
    assert_eq!(reply.get_bool("ok"), Some(false), "{reply:?}");
    // SAFETY: kill(2) on the manager this test started.
    unsafe { libc::kill(m.pid(), libc::SIGTERM) };
    assert_eq!(exits_within(&mut m, BOUND), Some(0), "SIGTERM must win");
    let supervise = t.root.join("run/supervise").to_string_lossy().into_owned();
    wait_for(BOUND, "every supervisor gone", || {
        pids_mentioning(&supervise).is_empty()
    });
}

/// SIGTERM while a job waits (a service that never becomes ready): the
/// shutdown begins at once, the waiting client gets its answer, the
/// manager exits 0.
#[test]
fn sigterm_wins_over_a_pending_job() {
    let t = tree(
        "pending-term",
        &[
            (
                "slow",
                "[service]\nexec = /bin/sleep 1000\nready = check /bin/false\nready-timeout = 600\n",
            ),
            ("after", &sleeper("requires = slow")),
        ],
    );
    let mut m = Manager::start(&t, &[]);
    let sock = UnixStream::connect(&m.socket).unwrap();
    sock.set_read_timeout(Some(BOUND)).unwrap();
    request("start", &["after"], 7).send(&sock).unwrap();
    let mut c = m.client();
    c.wait_state("slow", "running");
    assert_eq!(c.state("after"), "down");
    // SAFETY: kill(2) on the manager this test started.
    unsafe { libc::kill(m.pid(), libc::SIGTERM) };
    let reply = NvList::recv(&sock, &UnpackOptions::default()).expect("the job's answer");
    assert_eq!(reply.get_number("ipc:id"), Some(7), "{reply:?}");
    assert_eq!(reply.get_bool("ok"), Some(false), "{reply:?}");
    assert_eq!(exits_within(&mut m, BOUND), Some(0));
}

/// A manager whose boot job's end is written on a pipe (`--notify-fd`);
/// `settled` waits for it.
struct Notified {
    m: Manager,
    r: std::fs::File,
}

impl Notified {
    fn start(t: &Tree) -> Notified {
        use std::os::fd::FromRawFd;
        use std::os::unix::process::CommandExt;
        let mut fds = [0; 2];
        // SAFETY: pipe2(2) into a two-int array; both ends close-on-exec.
        assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
        // SAFETY: the read end is ours alone.
        let r = unsafe { std::fs::File::from_raw_fd(fds[0]) };
        let w = fds[1];
        let m = Manager::start_with(t, &["--notify-fd", &w.to_string()], |cmd| {
            // SAFETY: between fork and exec only fcntl(2): the write end
            // is inherited by the manager and no other child.
            unsafe {
                cmd.pre_exec(move || {
                    if libc::fcntl(w, libc::F_SETFD, 0) < 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
        });
        // SAFETY: the manager has its copy; close ours.
        unsafe { libc::close(w) };
        Notified { m, r }
    }

    /// Waits (bounded) until the boot job has settled.
    fn settled(&mut self) {
        use std::io::Read;
        use std::os::fd::AsRawFd;
        let mut pfd = [libc::pollfd {
            fd: self.r.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        }];
        // SAFETY: poll(2) over one valid pollfd.
        let n = unsafe { libc::poll(pfd.as_mut_ptr(), 1, BOUND.as_millis() as i32) };
        assert_eq!(n, 1, "the boot job did not settle within {BOUND:?}");
        let mut line = [0u8; 1];
        assert_eq!(self.r.read(&mut line).unwrap(), 1, "the manager ended");
    }
}

fn supervisor_of(t: &Tree, name: &str) -> Vec<i32> {
    let sock = t.root.join(format!("run/supervise/{name}.sock"));
    pids_mentioning(&sock.to_string_lossy())
}

/// Stop one service of a running target, SIGKILL the manager, start a new
/// one on the same tree: what was stopped (and its requirer, stopped with
/// it) stays down, the rest keeps its pids. Once started again, it is
/// adopted like the others by the next manager.
#[test]
fn what_the_administrator_stopped_stays_stopped_after_a_manager_crash() {
    let names = ["s01", "s02", "s03", "s06", "dep"];
    let t = tree(
        "stopped",
        &[
            ("s01", &sleeper("")),
            ("s02", &sleeper("")),
            ("s03", &sleeper("")),
            ("s06", &sleeper("")),
            ("dep", &sleeper("requires = s06")),
            (
                "default",
                "[target]\n[dependencies]\nwants = s01 s02 s03 s06 dep\n",
            ),
        ],
    );
    let mut first = Notified::start(&t);
    first.settled();
    let mut c = first.m.client();
    for n in names {
        assert_eq!(c.state(n), "ready", "{n}");
    }
    let reply = c.simple("stop", &["s06"]);
    assert_eq!(reply.get_bool("ok"), Some(true), "{reply:?}");
    assert_eq!(result_of(&reply, "dep"), "stopped", "{reply:?}");
    let kept: Vec<(&str, u64)> = ["s01", "s02", "s03"]
        .iter()
        .map(|&n| (n, c.pid_of(n)))
        .collect();
    first.m.kill();

    let mut second = Notified::start(&t);
    second.settled();
    let mut c = second.m.client();
    for (n, pid) in &kept {
        assert_eq!(c.pid_of(n), *pid, "{n} was adopted, not restarted");
    }
    for n in ["s06", "dep"] {
        assert_eq!(c.state(n), "down", "{n} was stopped and must stay down");
        assert!(supervisor_of(&t, n).is_empty(), "{n} has a supervisor");
    }
    assert_eq!(c.state("default"), "ready");

    // Started again on purpose: no longer recorded as stopped.
    let reply = c.simple("start", &["dep"]);
    assert_eq!(reply.get_bool("ok"), Some(true), "{reply:?}");
    let s06 = c.pid_of("s06");
    second.m.kill();
    let mut third = Notified::start(&t);
    third.settled();
    let mut c = third.m.client();
    assert_eq!(c.pid_of("s06"), s06, "s06 was adopted");
    assert_eq!(c.state("dep"), "ready");
}
