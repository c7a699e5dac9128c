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

/// A service whose shell carries a marker naming it and the tree, so the
/// host can count its copies (`copies`).
fn marked(name: &str, deps: &str) -> String {
    format!(
        "[service]\nexec = /bin/sh -c 'sleep 1000 & wait' svc-copy-{name}-@TMP@\n\
         [dependencies]\n{deps}\n"
    )
}

/// The service's main processes (its shell carries the marker and leads
/// its session; a child it has forked but not yet exec'd carries the
/// marker too, but does not lead), as the host sees them.
fn copies(t: &Tree, name: &str) -> Vec<i32> {
    pids_mentioning(&format!("svc-copy-{name}-{} ", t.root.display()))
        .into_iter()
        .filter(|&p| session_members(p).contains(&p))
        .collect()
}

/// The parents of the service's copies: its supervisors.
fn supervisor_of(t: &Tree, name: &str) -> Vec<i32> {
    copies(t, name)
        .into_iter()
        .filter_map(|p| {
            let stat = std::fs::read_to_string(format!("/proc/{p}/stat")).ok()?;
            let rest = &stat[stat.rfind(')')? + 2..];
            rest.split_whitespace().nth(1)?.parse().ok()
        })
        .collect()
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
            ("s01", &marked("s01", "")),
            ("s02", &marked("s02", "")),
            ("s03", &marked("s03", "")),
            ("s06", &marked("s06", "")),
            ("dep", &marked("dep", "requires = s06")),
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
        assert!(copies(&t, n).is_empty(), "{n} runs");
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

/// svc-init as PID 1 of a fresh PID and mount namespace, running the real
/// svc-manager over a tree: orphans are reparented to it, as on a system.
/// Dropping it SIGKILLs `unshare`, whose `--kill-child` ends the namespace.
struct InitSystem {
    unshare: Option<std::process::Child>,
    socket: std::path::PathBuf,
}

impl InitSystem {
    fn start(t: &Tree) -> InitSystem {
        let p = |rel: &str| t.root.join(rel);
        let stderr = std::fs::File::create(p("init.stderr")).unwrap();
        let child = std::process::Command::new("unshare")
            .args([
                "--pid",
                "--fork",
                "--kill-child",
                "--mount",
                "--uts",
                "--ipc",
                "--net",
                "--mount-proc",
            ])
            .arg(bin("svc-init"))
            .arg("--manager")
            .arg(bin("svc-manager"))
            .arg("--runtime-dir")
            .arg(p("run"))
            .arg("--initctl")
            .arg(p("initctl"))
            .arg("--log-dir")
            .arg(p("log"))
            .arg("--services")
            .arg(t.services())
            .arg("--socket")
            .arg(t.socket())
            .env("SVC_ENABLED", p("enabled"))
            .env("SVC_SUPERVISE", bin("svc-supervise"))
            .env("SVC_RUNTIME_BASE", p("run"))
            .env_remove("NOTIFY_SOCKET")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("unshare");
        let sys = InitSystem {
            unshare: Some(child),
            socket: t.socket(),
        };
        wait_for(BOUND, "the manager's socket under svc-init", || {
            UnixStream::connect(&sys.socket).is_ok()
        });
        sys
    }
}

impl Drop for InitSystem {
    fn drop(&mut self) {
        if let Some(mut c) = self.unshare.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Live (not zombie) processes of session `sid`, as the host sees them.
fn session_members(sid: i32) -> Vec<i32> {
    proc_pids()
        .into_iter()
        .filter(|&pid| {
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                return false;
            };
            let Some(rest) = stat.rfind(')').map(|i| &stat[i + 2..]) else {
                return false;
            };
            let f: Vec<&str> = rest.split_whitespace().collect();
            f.len() > 3 && f[0] != "Z" && f[3] == sid.to_string()
        })
        .collect()
}

fn kill_supervisor(t: &Tree, name: &str) {
    let sup = supervisor_of(t, name);
    assert_eq!(sup.len(), 1, "{name}'s supervisor: {sup:?}");
    // SAFETY: kill(2) of a supervisor this test's system started.
    assert_eq!(unsafe { libc::kill(sup[0], libc::SIGKILL) }, 0);
}

/// Under svc-init, SIGKILL a service's supervisor: the manager stops what
/// was left running (here a shell and its child that both ignore SIGTERM,
/// so SIGKILL after the stop-timeout), a `start` waits for that, and there
/// is never more than one copy. With `restart = always` the manager
/// starts the service again by itself, once.
#[test]
fn a_killed_supervisor_leaves_no_orphan_and_never_two_copies() {
    if !needs_root(
        "a_killed_supervisor_leaves_no_orphan_and_never_two_copies",
        "unshare --pid --mount",
    ) {
        return;
    }
    let service = |name: &str, restart: &str| {
        format!(
            "[service]\nexec = /bin/sh -c 'trap \"\" TERM; sleep 1000 & wait' svc-copy-{name}-@TMP@\n\
             restart = {restart}\nstop-timeout = 1\n"
        )
    };
    let t = tree(
        "orphan",
        &[
            ("keep", &service("keep", "never")),
            ("again", &service("again", "always")),
            ("default", "[target]\n[dependencies]\nwants = keep again\n"),
        ],
    );
    let sys = InitSystem::start(&t);
    let mut c = Client::connect(&sys.socket);
    c.wait_state("keep", "ready");
    c.wait_state("again", "ready");
    wait_for(BOUND, "one copy of each, with its child", || {
        ["keep", "again"].iter().all(|n| {
            let p = copies(&t, n);
            p.len() == 1 && session_members(p[0]).len() == 2
        })
    });

    // restart = never: stopped, then started on request, after the old
    // copy has gone.
    let old = copies(&t, "keep")[0];
    kill_supervisor(&t, "keep");
    // The manager has noticed (`stopping` while it stops what was left).
    wait_for(BOUND, "the manager to notice", || {
        c.state("keep") != "ready"
    });
    let reply = call_within(&sys.socket, "start", &["keep"], BOUND);
    assert!(
        session_members(old).is_empty(),
        "the old copy and its child are gone before the start: {:?}",
        session_members(old)
    );
    assert_eq!(reply.get_bool("ok"), Some(true), "{reply:?}");
    let now = copies(&t, "keep");
    assert_eq!(now.len(), 1, "exactly one copy: {now:?}");
    assert_ne!(now[0], old);

    // A start right after the kill. If the manager has noticed the death
    // (or the start reached the dead supervisor) it waits for the old
    // copy and starts one; if it has not, the service still counts as
    // up. Either way there is never a second copy.
    let old = now[0];
    kill_supervisor(&t, "keep");
    let reply = call_within(&sys.socket, "start", &["keep"], BOUND);
    assert_eq!(reply.get_bool("ok"), Some(true), "{reply:?}");
    if result_of(&reply, "keep") == "already-up" {
        wait_for(BOUND, "the old copy gone, never two", || {
            assert!(copies(&t, "keep").len() <= 1, "two copies");
            session_members(old).is_empty() && c.state("keep") == "failed"
        });
        let reply = call_within(&sys.socket, "start", &["keep"], BOUND);
        assert_eq!(result_of(&reply, "keep"), "started", "{reply:?}");
    } else {
        assert_eq!(result_of(&reply, "keep"), "started", "{reply:?}");
        assert!(session_members(old).is_empty(), "the old copy is gone");
    }
    c.wait_state("keep", "ready");
    let now = copies(&t, "keep");
    assert_eq!(now.len(), 1, "exactly one copy: {now:?}");
    assert_ne!(now[0], old);

    // restart = always: the manager starts it again by itself, once the
    // old copy has gone.
    let old = copies(&t, "again")[0];
    kill_supervisor(&t, "again");
    wait_for(BOUND, "the old copy gone and a new one running", || {
        let now = copies(&t, "again");
        session_members(old).is_empty() && now.len() == 1 && now[0] != old
    });
    c.wait_state("again", "ready");
    let reply = call_within(&sys.socket, "start", &["again"], BOUND);
    assert_eq!(result_of(&reply, "again"), "already-up", "{reply:?}");
    assert_eq!(copies(&t, "again").len(), 1);
    assert_eq!(supervisor_of(&t, "again").len(), 1);
}

/// A supervisor that does not exit (stopped with SIGSTOP) cannot hold up
/// a shutdown beyond its bound (the longest stop-timeout, 1 s, plus 5 s): the
/// manager gives up on it, answers, and exits.
#[test]
fn a_shutdown_is_bounded_even_if_a_supervisor_hangs() {
    let t = tree(
        "stuck",
        &[
            (
                "stuck",
                &marked("stuck", "").replace("[dependencies]", "stop-timeout = 1\n[dependencies]"),
            ),
            (
                "fine",
                &marked("fine", "").replace("[dependencies]", "stop-timeout = 1\n[dependencies]"),
            ),
            ("default", "[target]\n[dependencies]\nwants = stuck fine\n"),
        ],
    );
    let mut m = Manager::start(&t, &[]);
    let mut c = m.client();
    c.wait_state("stuck", "ready");
    c.wait_state("fine", "ready");
    wait_for(BOUND, "both copies", || {
        copies(&t, "stuck").len() == 1 && copies(&t, "fine").len() == 1
    });
    let sup = supervisor_of(&t, "stuck");
    let service = copies(&t, "stuck");
    assert_eq!((sup.len(), service.len()), (1, 1));
    // SAFETY: kill(2) of a supervisor this test's manager started.
    unsafe { libc::kill(sup[0], libc::SIGSTOP) };
    let started = Instant::now();
    // SAFETY: kill(2) on the manager this test started.
    unsafe { libc::kill(m.pid(), libc::SIGTERM) };
    let code = exits_within(&mut m, BOUND);
    // SAFETY: kill(2) of processes this test's manager started: the
    // supervisor, and the service's process group (its shell and child).
    unsafe {
        libc::kill(sup[0], libc::SIGKILL);
        libc::kill(-service[0], libc::SIGKILL);
    }
    assert_eq!(code, Some(0), "the shutdown must end");
    assert!(
        started.elapsed() >= Duration::from_secs(5),
        "not before its bound"
    );
    assert!(copies(&t, "fine").is_empty(), "the others were stopped");
}
