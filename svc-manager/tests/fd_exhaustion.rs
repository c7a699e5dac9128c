//! A manager that runs out of file descriptors: it must neither spin nor
//! lock root out, a start that cannot get descriptors fails cleanly, and
//! the soft RLIMIT_NOFILE the manager raises for itself is not what its
//! services see. Real manager (under a low `RLIMIT_NOFILE` set in the
//! test's own spawn), real supervisors, real sockets.
//! Build the binaries first: `cargo build --workspace --bins`.

mod common;

use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;
use libnv::{NvList, UnpackOptions};

/// Runs the manager with RLIMIT_NOFILE `soft`/`hard` and its stderr in
/// the tree's `manager.log`.
fn limited(t: &Tree, soft: u64, hard: u64) -> Manager {
    let log = std::fs::File::create(t.path("manager.log")).unwrap();
    Manager::start_with(t, &[], move |c| {
        c.stderr(log);
        // SAFETY: only setrlimit(2) between fork and exec of our own child.
        unsafe {
            c.pre_exec(move || {
                let rl = libc::rlimit {
                    rlim_cur: soft,
                    rlim_max: hard,
                };
                if libc::setrlimit(libc::RLIMIT_NOFILE, &rl) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    })
}

/// utime + stime of `pid`, from /proc/PID/stat.
fn cpu_time(pid: i32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // The fields after the command name (which may hold spaces) start at
    // the state, field 3; utime and stime are fields 14 and 15.
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<u64> = rest
        .split_whitespace()
        .skip(11)
        .take(2)
        .map(|x| x.parse().unwrap())
        .collect();
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as u64;
    Duration::from_millis((f[0] + f[1]) * 1000 / hz)
}

/// The soft "Max open files" of /proc/PID/limits.
fn soft_nofile(pid: u64) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let line = text
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap();
    line["Max open files".len()..]
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

/// The next message on `s`, waiting up to 10 s.
fn next_message(s: &UnixStream) -> Option<NvList> {
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    NvList::recv(s, &UnpackOptions::default()).ok()
}

/// Root connections that send nothing, until the manager answers one with
/// a refusal (it is out of descriptors) or `most` are open.
fn fill_as_root(m: &Manager, most: usize) -> (Vec<UnixStream>, Option<NvList>) {
    let mut held = Vec::new();
    for _ in 0..most {
        held.push(UnixStream::connect(&m.socket).unwrap());
    }
    // The last ones cannot all have been taken: the first refused one says so.
    let refusal = next_message(held.last().unwrap());
    (held, refusal)
}

#[test]
fn out_of_descriptors_the_manager_does_not_spin_and_root_gets_back_in() {
    let t = Tree::new("hostile");
    let m = limited(&t, 64, 64);
    m.client().wait_state("a", "ready");

    // 80 idle root connections where at most about 56 fit: the rest wait
    // in the listen queue, readable for the level-triggered loop.
    let mut held: Vec<UnixStream> = (0..80)
        .map(|_| UnixStream::connect(&m.socket).unwrap())
        .collect();
    let window = Duration::from_secs(3);
    let before = cpu_time(m.pid());
    let began = Instant::now();
    // The bounded window over which the CPU time is measured.
    std::thread::sleep(window);
    let spent = cpu_time(m.pid()) - before;
    let elapsed = began.elapsed();
    eprintln!("manager CPU {spent:?} over {elapsed:?} while out of descriptors");
    assert!(
        spent < Duration::from_millis(300),
        "the manager spun: {spent:?} of CPU in {elapsed:?}"
    );

    // What did not fit was told why and closed, not left queued.
    let refusal = next_message(held.last().unwrap()).expect("a refusal for the last connection");
    let why = refusal.get_str("ipc:error").unwrap_or_default();
    assert!(why.contains("file descriptors"), "{refusal:?}");
    assert!(hung_up(held.last().unwrap(), Duration::from_secs(10)));

    // One idle connection goes: root's status is answered (the manager may
    // see the new connection before the closed one, hence a bounded retry).
    held.remove(0);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let s = UnixStream::connect(&m.socket).unwrap();
        let r = request_on(&s, "status", &["a"], 1).expect("an answer to status");
        if r.get_number("ipc:error_code").is_none() {
            assert_eq!(r.get_number("ipc:id"), Some(1), "{r:?}");
            break;
        }
        assert!(Instant::now() < deadline, "root still refused: {r:?}");
        std::thread::sleep(Duration::from_millis(50));
    }

    // The refusals were logged at most once (per 10 s), not per attempt.
    let log = std::fs::read_to_string(t.path("manager.log")).unwrap();
    let lines = log
        .lines()
        .filter(|l| l.contains("file descriptors") || l.contains("Too many open files"))
        .count();
    assert!(lines <= 1, "{lines} log lines about descriptors:\n{log}");
}

#[test]
fn non_root_clients_cannot_take_the_last_descriptors() {
    let t = Tree::new("hostile");
    let m = limited(&t, 64, 64);
    m.client().wait_state("a", "ready");

    // Two unprivileged uids open as many connections as the per-uid limit
    // allows: more than the descriptors the manager has.
    let mut idle = Vec::new();
    for uid in [60301, 60302] {
        for _ in 0..32 {
            idle.push(connect_as(&m.socket, uid).expect("connect as another uid"));
        }
    }
    let refusal = next_message(idle.last().unwrap()).expect("the last one is refused");
    let why = refusal.get_str("ipc:error").unwrap_or_default();
    assert!(why.starts_with("too many connections"), "{refusal:?}");

    // Root is answered at once, and may still start what it needs.
    let began = Instant::now();
    let out = output_within(
        Command::new(bin("svcctl"))
            .arg("--socket")
            .arg(&m.socket)
            .args(["--timeout", "5", "status", "a"]),
        Duration::from_secs(10),
    )
    .expect("root's svcctl status hung");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(began.elapsed() < Duration::from_secs(5));
    t.write_service("b", "[service]\nexec = /bin/sleep 1000\n");
    let mut c = m.client();
    let r = c.simple("rescan", &[]);
    assert_eq!(r.get_number("ipc:error_code"), None, "{r:?}");
    let r = c.simple("start", &["b"]);
    assert_eq!(result_of(&r, "b"), "started", "{r:?}");
}

#[test]
fn a_start_without_descriptors_fails_naming_the_service() {
    let t = Tree::new("hostile");
    t.write_service("b", "[service]\nexec = /bin/sleep 1000\n");
    let m = limited(&t, 64, 64);
    let mut root = m.client();
    root.wait_state("a", "ready");
    let (held, refusal) = fill_as_root(&m, 80);
    assert!(refusal.is_some(), "no connection was refused");

    let r = root.simple("start", &["b"]);
    assert_eq!(result_of(&r, "b"), "failed", "{r:?}");
    let reason = r
        .get_nvlist_array("services")
        .unwrap_or(&[])
        .iter()
        .find(|s| s.get_str("name") == Some("b"))
        .and_then(|s| s.get_str("reason"))
        .unwrap_or_default()
        .to_owned();
    assert!(
        reason.contains("cannot run the supervisor") && reason.contains("Too many open files"),
        "{reason}"
    );
    // Still answering, and a start works again once descriptors are free.
    drop(held);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r = root.simple("start", &["b"]);
        if result_of(&r, "b") == "started" {
            break;
        }
        assert!(Instant::now() < deadline, "b never started: {r:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn services_keep_the_soft_limit_the_manager_was_started_with() {
    let t = Tree::new("hostile");
    t.write_service(
        "lim",
        "[service]\nexec = /bin/sh -c 'ulimit -n > @TMP@/lim.nofile; exec sleep 1000'\n",
    );
    t.write_service(
        "own",
        "[service]\nexec = /bin/sh -c 'ulimit -n > @TMP@/own.nofile; exec sleep 1000'\n\
         limit-nofile = 512\n",
    );
    let m = limited(&t, 256, 2048);
    let mut c = m.client();
    c.wait_state("a", "ready");
    // The manager itself runs with its soft limit raised to the hard one...
    assert_eq!(soft_nofile(m.pid() as u64), 2048, "the manager's own limit");

    let r = c.simple("start", &["lim", "own"]);
    assert_eq!(result_of(&r, "lim"), "started", "{r:?}");
    assert_eq!(result_of(&r, "own"), "started", "{r:?}");
    wait_for(Duration::from_secs(10), "the services' limits", || {
        !t.lines("lim.nofile").is_empty() && !t.lines("own.nofile").is_empty()
    });
    // ... while services see what it was started with, unless they declare
    // their own.
    assert_eq!(t.lines("lim.nofile"), ["256"]);
    assert_eq!(t.lines("own.nofile"), ["512"]);
    let sup = c.status(&["lim"])[0]
        .get_number("supervisor_pid")
        .expect("a supervisor pid");
    assert_eq!(soft_nofile(sup), 256, "the supervisor's limit");
}
