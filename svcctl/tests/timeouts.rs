//! svcctl against managers that do not answer: every command gives up
//! after `--timeout` (default 30 s) with `no reply from the manager at PATH
//! within N s` and exit 5, while `watch` and jobs that take long still work.
//! The "managers" here are scripted libnv servers on a temporary socket.
//! Build the binaries first: `cargo build --workspace --bins`.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use libnv::{NvList, UnpackOptions};

mod common;
use common::bin;

/// A private directory, removed on drop.
struct Dir(PathBuf);

impl Dir {
    fn new(tag: &str) -> Dir {
        let d = std::env::temp_dir().join(format!("svcctl-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        Dir(d)
    }
    fn sock(&self) -> PathBuf {
        self.0.join("sock")
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// What the scripted manager does with a request.
#[derive(Clone, Copy)]
enum Answer {
    Never,
    Now,
    After(Duration),
}

fn reply(id: u64, method: &str) -> NvList {
    let mut l = NvList::new();
    l.add_number("ipc:version", 1).unwrap();
    l.add_number("ipc:id", id).unwrap();
    l.add_string("ipc:method", method).unwrap();
    l.add_bool("ipc:reply", true).unwrap();
    if method == "start" {
        l.add_bool("ok", true).unwrap();
    }
    l
}

/// Serves `path` from threads that live as long as the test process:
/// each request is answered as `policy` says; a `watch` subscriber gets
/// one event for `a` two seconds after its reply.
fn scripted_manager(path: &Path, policy: fn(&str) -> Answer) {
    let listener = UnixListener::bind(path).unwrap();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { return };
            std::thread::spawn(move || serve(conn, policy));
        }
    });
}

fn serve(conn: UnixStream, policy: fn(&str) -> Answer) {
    // Held until the client goes: a manager that never answers keeps it.
    let mut later = Vec::new();
    while let Ok(req) = NvList::recv(&conn, &UnpackOptions::default()) {
        let id = req.get_number("ipc:id").unwrap_or(0);
        let method = req.get_str("ipc:method").unwrap_or("").to_owned();
        let answer = policy(&method);
        let out = conn.try_clone().unwrap();
        let send = move |delay: Duration| {
            std::thread::sleep(delay);
            let _ = reply(id, &method).send(&out);
            if method == "watch" {
                std::thread::sleep(Duration::from_secs(2));
                let mut ev = NvList::new();
                ev.add_number("ipc:version", 1).unwrap();
                ev.add_number("ipc:id", 0).unwrap();
                ev.add_string("ipc:method", "event").unwrap();
                ev.add_bool("ipc:reply", false).unwrap();
                ev.add_string("name", "a").unwrap();
                ev.add_string("state", "ready").unwrap();
                ev.add_number("pid", 42).unwrap();
                let _ = ev.send(&out);
            }
        };
        match answer {
            Answer::Never => {}
            Answer::Now => send(Duration::ZERO),
            Answer::After(d) => later.push(std::thread::spawn(move || send(d))),
        }
    }
    for t in later {
        let _ = t.join();
    }
}

/// svcctl with `args` on `sock`, killed if it runs past `bound`.
fn svcctl_within(sock: &Path, args: &[&str], bound: Duration) -> (Duration, Output) {
    let began = Instant::now();
    let mut child = Command::new(bin("svcctl"))
        .arg("--socket")
        .arg(sock)
        .args(args)
        .env("SVC_SERVICES", sock.parent().unwrap().join("services"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    while child.try_wait().unwrap().is_none() {
        if began.elapsed() > bound {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "svcctl {args:?} still waiting after {bound:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    (began.elapsed(), child.wait_with_output().unwrap())
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn every_command_gives_up_on_a_silent_manager() {
    let d = Dir::new("silent");
    scripted_manager(&d.sock(), |_| Answer::Never);
    let want = format!(
        "svcctl: no reply from the manager at {} within 0.3 s",
        d.sock().display()
    );
    let commands: [&[&str]; 13] = [
        &["status"],
        &["status", "a"],
        &["list"],
        &["start", "a"],
        &["stop", "--no-wait", "a"],
        &["restart", "a"],
        &["target", "t"],
        &["reload", "a"],
        &["enable", "--now", "a"],
        &["disable", "a"],
        &["rescan"],
        &["log", "a"],
        &["watch"],
    ];
    for args in commands {
        let mut all = vec!["--timeout", "300ms"];
        all.extend_from_slice(args);
        let (took, out) = svcctl_within(&d.sock(), &all, Duration::from_secs(10));
        assert_eq!(out.status.code(), Some(5), "{args:?}: {}", stderr(&out));
        assert!(
            stderr(&out).starts_with(&want),
            "{args:?}: {}",
            stderr(&out)
        );
        assert!(took < Duration::from_secs(3), "{args:?} took {took:?}");
    }
    // add writes its file, then the rescan goes unanswered.
    let (_, out) = svcctl_within(
        &d.sock(),
        &["--timeout", "300ms", "add", "x", "--", "/bin/true"],
        Duration::from_secs(10),
    );
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    assert!(stderr(&out).contains("no reply from the manager"));
}

#[test]
fn the_default_timeout_is_thirty_seconds() {
    let d = Dir::new("default");
    scripted_manager(&d.sock(), |_| Answer::Never);
    let (took, out) = svcctl_within(&d.sock(), &["status"], Duration::from_secs(45));
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    assert!(stderr(&out).contains("within 30 s"), "{}", stderr(&out));
    assert!(took >= Duration::from_secs(29), "gave up after {took:?}");
}

#[test]
fn a_job_longer_than_the_default_timeout_is_waited_for() {
    let d = Dir::new("slowjob");
    scripted_manager(&d.sock(), |m| match m {
        "start" => Answer::After(Duration::from_secs(33)),
        _ => Answer::Now,
    });
    let (took, out) = svcctl_within(&d.sock(), &["start", "a"], Duration::from_secs(60));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(took >= Duration::from_secs(32), "answered after {took:?}");
    // Given explicitly, --timeout bounds the job's end: it goes on.
    let (_, out) = svcctl_within(
        &d.sock(),
        &["start", "--timeout", "500ms", "a"],
        Duration::from_secs(10),
    );
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("within 0.5 s; the job goes on"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn watch_outlives_its_timeout() {
    let d = Dir::new("watch");
    scripted_manager(&d.sock(), |_| Answer::Now);
    let mut child = Command::new(bin("svcctl"))
        .arg("--socket")
        .arg(d.sock())
        .args(["--timeout", "1", "watch"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The event comes two seconds after the subscription, past the timeout.
    use std::io::BufRead;
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let _ = child.kill();
    let out = child.wait_with_output().unwrap();
    assert_eq!(line.trim(), "a ready pid 42", "{}", stderr(&out));
}

#[test]
fn a_manager_that_stops_accepting_is_not_waited_for() {
    let d = Dir::new("backlog");
    let path = d.sock();
    // A listener with a backlog of 0 that never accepts: after the first
    // queued connection, connect(2) itself would block.
    let raw = format!("{}\0", path.display());
    // SAFETY: socket/bind/listen on a descriptor we own, with a zeroed
    // sockaddr_un whose path fits (checked).
    let listener = unsafe {
        let fd = libc::socket(libc::AF_UNIX, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        assert!(fd >= 0);
        let fd = OwnedFd::from_raw_fd(fd);
        let mut addr: libc::sockaddr_un = std::mem::zeroed();
        addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
        assert!(raw.len() <= addr.sun_path.len());
        for (i, b) in raw.bytes().enumerate() {
            addr.sun_path[i] = b as libc::c_char;
        }
        let len = std::mem::size_of::<libc::sockaddr_un>() as libc::socklen_t;
        assert_eq!(libc::bind(fd.as_raw_fd(), (&raw const addr).cast(), len), 0);
        assert_eq!(libc::listen(fd.as_raw_fd(), 0), 0);
        fd
    };
    let _queued = UnixStream::connect(&path).unwrap();
    let (took, out) = svcctl_within(
        &path,
        &["--timeout", "1", "status"],
        Duration::from_secs(10),
    );
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    assert!(stderr(&out).contains("no reply from the manager"));
    assert!(took < Duration::from_secs(5), "took {took:?}");
    drop(listener);
}

#[test]
fn a_refused_connection_says_why() {
    let d = Dir::new("refused");
    let listener = UnixListener::bind(d.sock()).unwrap();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { return };
            // What svc-manager says to a connection over its limits.
            let mut l = reply(0, "");
            l.add_number("ipc:error_code", 7).unwrap();
            l.add_string(
                "ipc:error",
                "too many connections from uid 1000 (32 open, at most 32); try again later",
            )
            .unwrap();
            let _ = l.send(&conn);
        }
    });
    let (_, out) = svcctl_within(&d.sock(), &["status"], Duration::from_secs(10));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("svcctl: too many connections from uid 1000"),
        "{}",
        stderr(&out)
    );
}
