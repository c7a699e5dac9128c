//! Regression tests of the hardening issue: who may name the main pid, who
//! may read the logs, who may reach the sd_notify socket, a supervisor whose
//! stderr fails, and a control socket crowded by idle clients.

mod common;

use std::io::Read;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::net::{UnixDatagram, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use libnv::NvList;

/// A process the test started, which is no descendant of any supervisor:
/// what a hostile service would like its supervisor to kill.
struct Foreign(Child);

impl Foreign {
    fn spawn() -> Foreign {
        Foreign(
            Command::new("/bin/sleep")
                .arg("1000")
                .stdin(Stdio::null())
                .spawn()
                .unwrap(),
        )
    }

    fn pid(&self) -> i32 {
        self.0.id() as i32
    }
}

impl Drop for Foreign {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A directory for runtime things, reachable by every user (as /run is).
fn runtime_root(t: &Scratch) -> PathBuf {
    let run = t.path("run");
    std::fs::create_dir_all(&run).unwrap();
    std::fs::set_permissions(&run, std::fs::Permissions::from_mode(0o755)).unwrap();
    run
}

fn add_str(s: &mut NvList, key: &str, value: &str) {
    s.add_string(key, value).unwrap();
}

fn parent_of(pid: i32) -> i32 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    stat.rsplit(')')
        .next()
        .unwrap()
        .split_whitespace()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap()
}

// ----- 1. the main pid -----

#[test]
fn mainpid_from_an_unprivileged_service_must_name_a_descendant() {
    if !need_root("mainpid_from_an_unprivileged_service_must_name_a_descendant") {
        return;
    }
    let t = Scratch::new("mpforeign");
    let run = runtime_root(&t);
    let foreign = Foreign::spawn();
    let script = format!(
        "exec {NOTIFY_BIN} MAINPID={} READY=1 -- sleep 1000",
        foreign.pid()
    );
    let mut s = svc("mpforeign", &script);
    add_str(&mut s, "ready", "sd-notify");
    add_str(&mut s, "user", "nobody");
    add_str(&mut s, "runtime_root", run.to_str().unwrap());
    let mut sup = Sup::managed(&t, s);
    sup.call("start", |_| {});
    let st = sup.wait_state("ready");
    assert_ne!(
        num(&st, "pid") as i32,
        foreign.pid(),
        "a service as nobody named a foreign main pid"
    );
    let reply = sup.call("stop", |_| {});
    assert_ne!(num(&reply, "pid") as i32, foreign.pid());
    sup.wait_state("down");
    assert!(alive(foreign.pid()), "stop killed a foreign process");
    let err = std::fs::read_to_string(&sup.err).unwrap();
    assert!(err.contains("MAINPID"), "no notice: {err}");
}

#[test]
fn mainpid_naming_a_descendant_or_sent_by_root_is_accepted() {
    if !need_root("mainpid_naming_a_descendant_or_sent_by_root_is_accepted") {
        return;
    }
    // As nobody, a grandchild of the supervisor: accepted.
    let t = Scratch::new("mpdescendant");
    let run = runtime_root(&t);
    let script = format!("sleep 1000 & exec {NOTIFY_BIN} MAINPID=$! READY=1 -- sleep 1000");
    let mut s = svc("mpdescendant", &script);
    add_str(&mut s, "ready", "sd-notify");
    add_str(&mut s, "user", "nobody");
    add_str(&mut s, "runtime_root", run.to_str().unwrap());
    let mut sup = Sup::managed(&t, s);
    sup.call("start", |_| {});
    let main = num(&sup.wait_state("ready"), "pid") as i32;
    assert_ne!(
        parent_of(main),
        sup.pid(),
        "MAINPID should name a grandchild"
    );
    assert_eq!(parent_of(parent_of(main)), sup.pid());
    drop(sup);

    // From root (systemd's rule): accepted even if foreign.
    let t = Scratch::new("mproot");
    let foreign = Foreign::spawn();
    let script = format!(
        "exec {NOTIFY_BIN} MAINPID={} READY=1 -- sleep 1000",
        foreign.pid()
    );
    let mut s = svc("mproot", &script);
    add_str(&mut s, "ready", "sd-notify");
    let mut sup = Sup::managed(&t, s);
    sup.call("start", |_| {});
    let st = sup.wait_state("ready");
    assert_eq!(num(&st, "pid") as i32, foreign.pid());
}

#[test]
fn forking_pidfile_in_a_user_owned_directory_must_name_a_descendant() {
    if !need_root("forking_pidfile_in_a_user_owned_directory_must_name_a_descendant") {
        return;
    }
    let t = Scratch::new("pidforeign");
    let run = runtime_root(&t);
    let foreign = Foreign::spawn();
    let pidfile = run.join("pidforeign/daemon.pid");
    let script = format!("echo {} > {}; exit 0", foreign.pid(), pidfile.display());
    let mut s = svc("pidforeign", &script);
    add_str(&mut s, "type", "forking");
    add_str(&mut s, "pidfile", pidfile.to_str().unwrap());
    add_str(&mut s, "user", "nobody");
    s.add_string_array("runtime_directory", ["pidforeign"])
        .unwrap();
    add_str(&mut s, "runtime_root", run.to_str().unwrap());
    s.add_number("ready_timeout", 1000).unwrap();
    s.add_number("stop_timeout", 1000).unwrap();
    add_str(&mut s, "restart", "never");
    let mut sup = Sup::managed(&t, s);
    sup.call("start", |_| {});
    let st = sup.wait_status("the start to fail", |st| {
        assert_ne!(
            num(st, "pid") as i32,
            foreign.pid(),
            "a pidfile in a user's directory named a foreign main pid"
        );
        state(st) == "failed"
    });
    assert_eq!(st.get_str("reason"), Some("not ready within ready-timeout"));
    sup.call("stop", |_| {});
    sup.wait_state("down");
    assert!(alive(foreign.pid()), "a foreign process was killed");
    let err = std::fs::read_to_string(&sup.err).unwrap();
    assert!(err.contains("not a descendant"), "no notice: {err}");

    // The same daemon writing its own pid there is accepted.
    let t = Scratch::new("pidown");
    let run = runtime_root(&t);
    let pidfile = run.join("pidown/daemon.pid");
    let script = format!(
        "setsid sh -c 'echo $$ > {}; exec sleep 1000' < /dev/null & exit 0",
        pidfile.display()
    );
    let mut s = svc("pidown", &script);
    add_str(&mut s, "type", "forking");
    add_str(&mut s, "pidfile", pidfile.to_str().unwrap());
    add_str(&mut s, "user", "nobody");
    s.add_string_array("runtime_directory", ["pidown"]).unwrap();
    add_str(&mut s, "runtime_root", run.to_str().unwrap());
    let mut sup = Sup::managed(&t, s);
    sup.call("start", |_| {});
    let st = sup.wait_state("ready");
    let daemon: i32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_eq!(num(&st, "pid") as i32, daemon);
}

// ----- 2. log modes -----

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().mode() & 0o7777
}

fn gid(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().gid()
}

fn group_id(name: &str) -> Option<u32> {
    let cname = std::ffi::CString::new(name).unwrap();
    // SAFETY: getgrnam with a NUL-terminated name; the result is read at once.
    let gr = unsafe { libc::getgrnam(cname.as_ptr()) };
    // SAFETY: non-null results point at a valid group entry.
    (!gr.is_null()).then(|| unsafe { (*gr).gr_gid })
}

/// Waits until `dir` has `current` with `last` in it; its archives.
fn rotated_log(dir: &Path, last: &str, rotated: bool) -> Vec<PathBuf> {
    wait_for("the last line", || {
        std::fs::read_to_string(dir.join("current"))
            .unwrap_or_default()
            .contains(last)
    });
    let archives: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap() != "current")
        .collect();
    assert!(!rotated || !archives.is_empty(), "no rotation happened");
    archives
}

const CHATTY: &str = "i=0; while [ $i -lt 40 ]; do echo \"line $i padding padding\"; i=$((i+1)); done; echo last-line; exec sleep 1000";

#[test]
fn logs_are_readable_by_root_and_the_log_group_only() {
    if !need_root("logs_are_readable_by_root_and_the_log_group_only") {
        return;
    }
    let t = Scratch::new("logmode");
    let logs = t.path("logs");
    let dir = logs.join("logmode");
    // What an older version left: world-readable; tightened on open.
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(dir.join("current"), "old line\n").unwrap();
    std::fs::set_permissions(dir.join("current"), std::fs::Permissions::from_mode(0o644)).unwrap();
    let old_archive = dir.join("20200101T000000.000000Z.log");
    std::fs::write(&old_archive, "older line\n").unwrap();
    std::fs::set_permissions(&old_archive, std::fs::Permissions::from_mode(0o644)).unwrap();

    let mut s = svc("logmode", CHATTY);
    s.remove("output");
    add_str(&mut s, "output", "file");
    add_str(&mut s, "log_dir", logs.to_str().unwrap());
    s.add_number("log_group", 4242).unwrap();
    s.add_number("max_size", 400).unwrap();
    s.add_number("max_files", 20).unwrap();
    let mut sup = Sup::managed(&t, s);
    sup.call("start", |_| {});
    sup.wait_state("ready");
    let archives = rotated_log(&dir, "last-line", true);
    assert_eq!((mode(&dir), gid(&dir)), (0o750, 4242), "log directory");
    let current = dir.join("current");
    assert_eq!((mode(&current), gid(&current)), (0o640, 4242), "current");
    assert!(archives.contains(&old_archive));
    for a in &archives {
        assert_eq!((mode(a), gid(a)), (0o640, 4242), "{}", a.display());
        assert_eq!(std::fs::metadata(a).unwrap().uid(), 0);
    }
    drop(sup);

    // No log_group from a root supervisor: `adm` if it exists, else root.
    let t = Scratch::new("logdefault");
    let logs = t.path("logs");
    let mut s = svc("logdefault", "echo hello; exec sleep 1000");
    s.remove("output");
    add_str(&mut s, "output", "file");
    add_str(&mut s, "log_dir", logs.to_str().unwrap());
    let mut sup = Sup::managed(&t, s);
    sup.call("start", |_| {});
    sup.wait_state("ready");
    let current = logs.join("logdefault/current");
    wait_for("the line", || {
        std::fs::read_to_string(&current)
            .unwrap_or_default()
            .contains("hello")
    });
    let group = group_id("adm").unwrap_or(0);
    assert_eq!((mode(&current), gid(&current)), (0o640, group));
    let dir = logs.join("logdefault");
    assert_eq!((mode(&dir), gid(&dir)), (0o750, group));
}

#[test]
fn an_unprivileged_supervisors_logs_are_private() {
    if !need_root("an_unprivileged_supervisors_logs_are_private") {
        return;
    }
    let t = Scratch::new("logprivate");
    let home = t.path("home");
    std::fs::create_dir(&home).unwrap();
    std::os::unix::fs::chown(&home, Some(65534), Some(65534)).unwrap();
    let logs = home.join("logs");
    let dir = logs.join("private");
    // An old world-readable archive, tightened on open.
    let archive = dir.join("20200101T000000.000000Z.log");
    std::fs::create_dir_all(&dir).unwrap();
    std::os::unix::fs::chown(logs.as_path(), Some(65534), Some(65534)).unwrap();
    std::os::unix::fs::chown(&dir, Some(65534), Some(65534)).unwrap();
    std::fs::write(&archive, "older line\n").unwrap();
    std::os::unix::fs::chown(&archive, Some(65534), Some(65534)).unwrap();
    std::fs::set_permissions(&archive, std::fs::Permissions::from_mode(0o644)).unwrap();
    let mut sup = Sup::standalone_with(
        &home,
        &[
            "--name",
            "private",
            "--log-dir",
            logs.to_str().unwrap(),
            "--",
            "/bin/sh",
            "-c",
            CHATTY,
        ],
        |c| {
            use std::os::unix::process::CommandExt;
            c.uid(65534).gid(65534);
        },
    );
    sup.wait_state("ready");
    let archives = rotated_log(&dir, "last-line", false);
    assert_eq!(archives, [archive]);
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(&dir.join("current")), 0o600);
    for a in &archives {
        assert_eq!(mode(a), 0o600, "{}", a.display());
    }
}

// ----- 3. the sd_notify socket -----

fn send_notify(socket: &str, msg: &[u8]) -> std::io::Result<usize> {
    let sock = UnixDatagram::unbound()?;
    sock.set_nonblocking(true)?;
    match socket.strip_prefix('@') {
        Some(name) => {
            use std::os::linux::net::SocketAddrExt;
            let addr = std::os::unix::net::SocketAddr::from_abstract_name(name)?;
            sock.send_to_addr(msg, &addr)
        }
        None => sock.send_to(msg, socket),
    }
}

#[test]
fn the_notify_socket_is_a_private_path_and_a_flood_is_bounded() {
    if !need_root("the_notify_socket_is_a_private_path_and_a_flood_is_bounded") {
        return;
    }
    let t = Scratch::new("notifypath");
    let run = runtime_root(&t);
    let seen = t.path("seen");
    std::fs::write(&seen, "").unwrap();
    std::fs::set_permissions(&seen, std::fs::Permissions::from_mode(0o666)).unwrap();
    let script = format!(
        "echo \"$NOTIFY_SOCKET\" > {}; exec {NOTIFY_BIN} READY=1 -- sleep 1000",
        seen.display()
    );
    let mut s = svc("notifypath", &script);
    add_str(&mut s, "ready", "sd-notify");
    add_str(&mut s, "user", "nobody");
    add_str(&mut s, "runtime_root", run.to_str().unwrap());
    let mut sup = Sup::managed(&t, s);
    sup.call("start", |_| {});
    sup.wait_state("ready");
    let socket = t.read("seen").trim().to_owned();
    assert!(socket.starts_with('/'), "not a path: {socket:?}");
    let path = PathBuf::from(&socket);
    assert!(
        path.starts_with(&run),
        "{socket} not under {}",
        run.display()
    );
    let dir = path.parent().unwrap().to_owned();
    let meta = std::fs::metadata(&dir).unwrap();
    assert_eq!(meta.mode() & 0o777, 0o700, "{}", dir.display());
    assert_eq!(meta.uid(), 65534, "owned by the service's user");

    // Another user cannot even reach it.
    let other = {
        use std::os::unix::process::CommandExt;
        Command::new(NOTIFY_BIN)
            .arg("STATUS=from-another-user")
            .env("NOTIFY_SOCKET", &socket)
            .uid(1)
            .gid(1)
            .stderr(Stdio::piped())
            .output()
            .unwrap()
    };
    assert_eq!(other.status.code(), Some(1), "{other:?}");
    assert!(
        String::from_utf8_lossy(&other.stderr).contains("Permission denied"),
        "{other:?}"
    );

    // A flood (here from root, who can reach it) does not starve the
    // control socket: every status request is answered promptly.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flooder = {
        let stop = stop.clone();
        let socket = socket.clone();
        std::thread::spawn(move || {
            let mut sent = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                if send_notify(&socket, b"READY=1\nSTATUS=flood").is_ok() {
                    sent += 1;
                }
            }
            sent
        })
    };
    let start = Instant::now();
    let mut slowest = Duration::ZERO;
    while start.elapsed() < Duration::from_secs(2) {
        let asked = Instant::now();
        assert_eq!(state(&sup.status()), "ready");
        slowest = slowest.max(asked.elapsed());
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let sent = flooder.join().unwrap();
    assert!(sent > 100, "the flood did not flow: {sent}");
    assert!(
        slowest < Duration::from_millis(1000),
        "a status request took {slowest:?} during the flood"
    );
    assert_eq!(sup.status().get_str("status_text"), None);

    // Gone with the supervisor.
    let reply = sup.call("exit", |_| {});
    assert_eq!(reply.get_number("ipc:error_code"), None);
    assert_eq!(sup.wait_exit(), Some(0));
    assert!(
        !path.exists() && !dir.exists(),
        "{} left behind",
        dir.display()
    );
}

// ----- 9. a failing stderr -----

fn survives_with_stderr(what: &str, stderr: Stdio) {
    let t = Scratch::new(what);
    let mut sup = Sup::standalone_with(
        &t.dir,
        &["--respawn-delay", "10ms", "--", "/bin/sh", "-c", "exit 3"],
        |c| {
            c.stderr(stderr);
        },
    );
    let st = sup.wait_status("a few restarts", |st| num(st, "restarts") >= 3);
    assert_eq!(num(&st, "last_exit_status"), 3);
    assert!(
        num(&st, "log_dropped") > 0,
        "notices that could not be written are counted: {st:?}"
    );
    assert!(sup.child.as_mut().unwrap().try_wait().unwrap().is_none());
}

#[test]
fn a_supervisor_whose_stderr_is_dev_full_keeps_supervising() {
    survives_with_stderr(
        "devfull",
        std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap()
            .into(),
    );
}

#[test]
fn a_supervisor_whose_stderr_reader_left_keeps_supervising() {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    survives_with_stderr("deadpipe", writer.into());
}

#[test]
fn diagnostics_on_a_failing_stderr_never_change_the_exit_status() {
    let full = || -> Stdio {
        std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap()
            .into()
    };
    // Bad usage: 2; a setup failure: 1; never a panic's 101.
    let out = Command::new(BIN)
        .arg("--bogus")
        .stderr(full())
        .status()
        .unwrap();
    assert_eq!(out.code(), Some(2));
    let out = Command::new(BIN)
        .args(["--manager-fd", "77"])
        .stderr(full())
        .status()
        .unwrap();
    assert_eq!(out.code(), Some(2));
    // A log directory that cannot be made: a setup failure, said on stderr.
    let t = Scratch::new("fullsetup");
    std::fs::write(t.path("not-a-dir"), "").unwrap();
    let out = Command::new(BIN)
        .arg("--log-dir")
        .arg(t.path("not-a-dir/x"))
        .args(["--", "/bin/true"])
        .stderr(full())
        .status()
        .unwrap();
    assert_eq!(out.code(), Some(1));
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = Command::new(BIN)
        .arg("--version")
        .stdout(writer)
        .status()
        .unwrap();
    assert_eq!(out.code(), Some(0));
}

// ----- 16. the control socket -----

/// Opens `n` connections that never send a byte.
fn idle_crowd(control: &Path, n: usize) -> Vec<UnixStream> {
    (0..n)
        .map(|_| UnixStream::connect(control).unwrap())
        .collect()
}

#[test]
fn idle_clients_do_not_lock_out_others_or_the_attached_manager() {
    let t = Scratch::new("crowd");
    let mut sup = Sup::standalone(&t, &["--", "/bin/sleep", "1000"]);
    sup.wait_state("ready");
    // An attached client (a manager that adopted this supervisor).
    let manager = connect(&sup.control);
    call_on(&manager, request(1, "attach"));
    let crowd = idle_crowd(&sup.control, 40);
    // A newcomer is answered: the oldest idle connection made room.
    let asked = Instant::now();
    let st = sup.status();
    assert_eq!(state(&st), "ready");
    assert!(asked.elapsed() < Duration::from_secs(5));
    // The attached client was never crowded out: it still gets events.
    sup.call("restart", |_| {});
    let mut seen = Vec::new();
    while seen.last().map(String::as_str) != Some("ready") {
        seen.push(state(&recv(&manager)));
    }
    assert!(seen.contains(&"stopping".to_string()), "{seen:?}");
    // The oldest idle ones were closed to make room.
    let mut first = &crowd[0];
    first
        .set_read_timeout(Some(Duration::from_secs(1)))
        .unwrap();
    let mut buf = [0u8; 1];
    assert_eq!(first.read(&mut buf).unwrap_or(1), 0, "not evicted");
}

#[test]
fn an_idle_client_is_closed_after_its_deadline() {
    let t = Scratch::new("idle");
    let mut sup = Sup::standalone(&t, &["--", "/bin/sleep", "1000"]);
    sup.wait_state("ready");
    let mut silent = UnixStream::connect(&sup.control).unwrap();
    silent.set_read_timeout(Some(SOON)).unwrap();
    let attached = connect(&sup.control);
    call_on(&attached, request(1, "attach"));
    let opened = Instant::now();
    let mut buf = [0u8; 1];
    // EOF (or a reset, which also says the supervisor closed it). A
    // signal meant for another test's thread may interrupt the read.
    let got = loop {
        match silent.read(&mut buf) {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            other => break other,
        }
    };
    assert!(
        matches!(&got, Ok(0))
            || got
                .as_ref()
                .is_err_and(|e| e.kind() == std::io::ErrorKind::ConnectionReset),
        "expected the connection closed: {got:?} after {:?}",
        opened.elapsed()
    );
    let waited = opened.elapsed();
    assert!(
        waited >= Duration::from_secs(9) && waited < Duration::from_secs(14),
        "closed after {waited:?}"
    );
    // The attached one is not idle: it is waiting for events.
    sup.call("restart", |_| {});
    assert_eq!(recv(&attached).get_str("ipc:method"), Some("event"));
}

#[test]
fn a_wrongly_typed_names_argument_is_error_4() {
    let t = Scratch::new("names");
    let mut sup = Sup::standalone(&t, &["--name", "nm", "--", "/bin/sleep", "1000"]);
    sup.wait_state("ready");
    type AddNames = fn(&mut NvList);
    let bad: [(&str, AddNames); 3] = [
        ("number", |r| r.add_number("names", 7).unwrap()),
        ("bool", |r| r.add_bool("names", true).unwrap()),
        ("number array", |r| {
            r.add_number_array("names", &[1, 2]).unwrap()
        }),
    ];
    for (what, add) in bad {
        let reply = sup.call("status", add);
        assert_eq!(reply.get_number("ipc:error_code"), Some(4), "{what}");
        assert_eq!(
            reply.get_str("ipc:error"),
            Some("names: expected a string array"),
            "{what}"
        );
        assert_eq!(reply.get_str("state"), None, "{what}");
    }
    // What is right stays right.
    let reply = sup.call("status", |r| r.add_string("names", "nm").unwrap());
    assert_eq!(reply.get_str("state"), Some("ready"));
    let reply = sup.call("status", |r| r.add_string_array("names", ["nm"]).unwrap());
    assert_eq!(reply.get_str("state"), Some("ready"));
}

#[test]
fn a_second_supervisor_of_a_running_service_leaves_its_notify_socket_alone() {
    let t = Scratch::new("twice");
    let run = runtime_root(&t);
    let declaration = || {
        let mut s = svc("twice", &format!("exec {NOTIFY_BIN} READY=1 -- sleep 1000"));
        add_str(&mut s, "ready", "sd-notify");
        add_str(&mut s, "runtime_root", run.to_str().unwrap());
        s
    };
    let mut sup = Sup::managed(&t, declaration());
    sup.call("start", |_| {});
    sup.wait_state("ready");
    let socket = run.join("svc-notify/twice/notify");
    assert!(socket.exists());

    // A second one, same service, same control socket: refused, and it
    // must not have replaced the first one's notify directory meanwhile.
    let (ours, theirs) = UnixStream::pair().unwrap();
    let mut declare = request(1, "declare");
    declare.add_nvlist("service", declaration()).unwrap();
    declare.send(&ours).unwrap();
    use std::os::fd::{AsRawFd, OwnedFd};
    use std::os::unix::process::CommandExt;
    let theirs: OwnedFd = theirs.into();
    let raw = theirs.as_raw_fd();
    let mut cmd = Command::new(BIN);
    cmd.args(["--manager-fd", "3", "--control"])
        .arg(&sup.control)
        .stderr(Stdio::piped());
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
    assert!(err.contains("another supervisor"), "{err}");
    assert!(socket.exists(), "the running supervisor lost its socket");
    // Readiness still reaches it.
    sup.call("restart", |_| {});
    sup.wait_status("ready again after a restart", |st| {
        num(st, "restarts") == 1 && state(st) == "ready"
    });
}
