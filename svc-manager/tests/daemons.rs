//! End-to-end tests with real Debian daemons (nginx, rsyslogd) under the
//! real svc-manager, svc-supervise and svcctl, each in a temporary tree on
//! a free loopback port. The daemons come from Debian packages that
//! `tools/ci-daemons.sh` installs without starting them; a missing one
//! fails its test with the package to install.
//! Build the binaries first: `cargo build --workspace --bins`.

mod common;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::*;

const NGINX: &str = "/usr/sbin/nginx";
const RSYSLOGD: &str = "/usr/sbin/rsyslogd";
const CURL: &str = "/usr/bin/curl";
const LOGGER: &str = "/usr/bin/logger";

/// Generous bound for anything a daemon or the manager has to do.
const BOUND: Duration = Duration::from_secs(30);

/// Fails the test, naming the Debian package, when `path` is missing.
fn need(path: &str, package: &str) {
    assert!(
        Path::new(path).is_file(),
        "{path} is missing: install the Debian package `{package}` \
         (tools/ci-daemons.sh installs every package these tests need)"
    );
}

/// A loopback port nobody listens on right now.
fn free_port() -> u16 {
    let l = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind 127.0.0.1:0");
    l.local_addr().unwrap().port()
}

/// A tree for `scenario` with `@PORT@` in its declarations replaced.
fn tree_with_port(scenario: &str, port: u16) -> Tree {
    let t = Tree::new(scenario);
    for e in std::fs::read_dir(t.services()).unwrap().flatten() {
        let text = std::fs::read_to_string(e.path()).unwrap();
        std::fs::write(e.path(), text.replace("@PORT@", &port.to_string())).unwrap();
    }
    t
}

/// nginx.conf for the tree: everything nginx writes stays in it, the error
/// log goes to stderr (the supervisor's log), one server on `port`.
fn write_nginx_conf(t: &Tree, port: u16, daemon: bool) {
    let root = t.root.to_string_lossy();
    for d in ["nginx", "nginx-tmp", "www"] {
        std::fs::create_dir_all(t.path(d)).unwrap();
    }
    std::fs::write(t.path("www/index.html"), "svc e2e nginx\n").unwrap();
    let daemon = if daemon { "on" } else { "off" };
    let conf = format!(
        "daemon {daemon};
master_process on;
worker_processes 2;
pid {root}/nginx.pid;
lock_file {root}/nginx.lock;
error_log stderr info;
events {{ worker_connections 64; }}
http {{
    access_log {root}/access.log;
    client_body_temp_path {root}/nginx-tmp/body;
    proxy_temp_path {root}/nginx-tmp/proxy;
    fastcgi_temp_path {root}/nginx-tmp/fastcgi;
    uwsgi_temp_path {root}/nginx-tmp/uwsgi;
    scgi_temp_path {root}/nginx-tmp/scgi;
    log_not_found on;
    server {{
        listen 127.0.0.1:{port};
        root {root}/www;
        location / {{ }}
    }}
}}
"
    );
    std::fs::write(t.path("nginx.conf"), conf).unwrap();
}

/// One HTTP/1.0 GET on loopback: the status code and the body, or None
/// when nothing answers.
fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut s =
        TcpStream::connect_timeout(&(Ipv4Addr::LOCALHOST, port).into(), Duration::from_secs(5))
            .ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    s.set_write_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut reply = String::new();
    s.read_to_string(&mut reply).ok()?;
    let code = reply.split_whitespace().nth(1)?.parse().ok()?;
    let body = reply
        .split_once("\r\n\r\n")
        .map_or(String::new(), |(_, b)| b.to_owned());
    Some((code, body))
}

/// Waits until `GET /` on `port` answers 200 with the test's page.
fn wait_serving(port: u16) {
    wait_for(
        BOUND,
        "nginx to serve GET / with 200",
        || matches!(http_get(port, "/"), Some((200, body)) if body == "svc e2e nginx\n"),
    );
}

/// Runs svcctl against the tree's manager; kills it if it hangs.
fn svcctl(t: &Tree, args: &[&str]) -> Output {
    let child = Command::new(bin("svcctl"))
        .arg("--socket")
        .arg(t.socket())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn svcctl");
    let pid = child.id() as i32;
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(Duration::from_secs(90)) {
        Ok(out) => out.expect("svcctl output"),
        Err(_) => {
            // SAFETY: kill(2) on the svcctl we spawned, which still runs.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            panic!("svcctl {args:?} did not finish within 90 s");
        }
    }
}

/// svcctl that must succeed; returns its stdout.
fn svcctl_ok(t: &Tree, args: &[&str]) -> String {
    let out = svcctl(t, args);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "svcctl {args:?}: {:?}\nstdout: {stdout}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// `svcctl --json status NAME`: (state, pid).
fn json_status(t: &Tree, name: &str) -> (String, Option<i32>) {
    let out = svcctl(t, &["--json", "status", name]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "svcctl --json status {name}: {e}: {}",
            String::from_utf8_lossy(&out.stdout)
        )
    });
    let s = &v["services"][0];
    let state = s["state"].as_str().unwrap_or("").to_owned();
    let pid = s["pid"].as_i64().map(|p| p as i32);
    (state, pid)
}

/// A process as seen once: pid and start time, so that a reused pid is
/// never mistaken for the process we saw.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Proc {
    pid: i32,
    start: u64,
}

/// Fields of /proc/PID/stat after the command name: state, ppid, …
fn stat_fields(pid: i32) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = stat.rsplit_once(')')?.1;
    Some(after.split_whitespace().map(str::to_owned).collect())
}

impl Proc {
    fn of(pid: i32) -> Option<Proc> {
        // Field 22 of stat (starttime) is the 20th after the name.
        let start = stat_fields(pid)?.get(19)?.parse().ok()?;
        Some(Proc { pid, start })
    }

    /// Still this process, and not a zombie.
    fn alive(&self) -> bool {
        match stat_fields(self.pid) {
            Some(f) => {
                f.first().map(String::as_str) != Some("Z")
                    && f.get(19).and_then(|s| s.parse().ok()) == Some(self.start)
            }
            None => false,
        }
    }

    fn cmdline(&self) -> String {
        std::fs::read(format!("/proc/{}/cmdline", self.pid))
            .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
            .unwrap_or_default()
    }

    /// Its direct children, from every process's ppid.
    fn children(&self) -> Vec<Proc> {
        let mut out = Vec::new();
        for e in std::fs::read_dir("/proc").unwrap().flatten() {
            let Some(pid) = e.file_name().to_str().and_then(|s| s.parse().ok()) else {
                continue;
            };
            let ppid = stat_fields(pid).and_then(|f| f.get(1)?.parse::<i32>().ok());
            if ppid == Some(self.pid) {
                out.extend(Proc::of(pid));
            }
        }
        out
    }
}

/// Every daemon process a test has seen; whatever is still alive when the
/// test ends (a failed assertion) is SIGKILLed, by pid, after the manager
/// and its supervisors had their chance.
#[derive(Default)]
struct Seen(BTreeSet<Proc>);

impl Seen {
    fn add(&mut self, p: Proc) -> Proc {
        self.0.insert(p);
        p
    }

    fn assert_all_gone(&self) {
        wait_for(BOUND, "every daemon process to be gone", || {
            self.0.iter().all(|p| !p.alive())
        });
    }
}

impl Drop for Seen {
    fn drop(&mut self) {
        for p in self.0.iter().filter(|p| p.alive()) {
            // SAFETY: kill(2) on a daemon process this test started (pid and
            // start time both match what the test recorded).
            unsafe { libc::kill(p.pid, libc::SIGKILL) };
        }
    }
}

/// The running nginx master of `name` (from the manager's status) and its
/// workers, recorded in `seen`.
fn nginx_master(t: &Tree, seen: &mut Seen) -> (Proc, Vec<Proc>) {
    let (state, pid) = json_status(t, "nginx");
    assert_eq!(state, "ready", "nginx status");
    let pid = pid.expect("nginx has a pid when ready");
    let master = seen.add(Proc::of(pid).expect("nginx's pid is alive"));
    let cmd = master.cmdline();
    assert!(
        cmd.starts_with("nginx: master process"),
        "pid {pid} should be the nginx master, is `{cmd}`"
    );
    let mut workers = Vec::new();
    wait_for(BOUND, "nginx's 2 worker processes", || {
        workers = master
            .children()
            .into_iter()
            .filter(|w| w.cmdline().starts_with("nginx: worker process"))
            .collect();
        workers.len() == 2
    });
    for w in &workers {
        seen.add(*w);
    }
    (master, workers)
}

fn assert_gone(procs: &[Proc], what: &str) {
    wait_for(BOUND, what, || procs.iter().all(|p| !p.alive()));
}

/// SIGKILL to the nginx master this test started; it must go, and the
/// supervisor must bring nginx back, ready, under another pid.
fn crash_master(t: &Tree, master: Proc) {
    // SAFETY: kill(2) on the nginx master this test started.
    unsafe { libc::kill(master.pid, libc::SIGKILL) };
    assert_gone(&[master], "the SIGKILLed master to be gone");
    wait_for(BOUND, "nginx to be ready again with a new pid", || {
        let (state, pid) = json_status(t, "nginx");
        state == "ready" && pid.is_some_and(|p| p != master.pid)
    });
}

/// Kills the child (a `svcctl log -f`) when dropped.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn nginx_simple_start_restart_crash_stop() {
    need(NGINX, "nginx-light");
    need(CURL, "curl");
    let port = free_port();
    let t = tree_with_port("daemon-nginx", port);
    write_nginx_conf(&t, port, false);
    let mut seen = Seen::default();
    let _m = Manager::start(&t, &[]);

    let out = svcctl_ok(&t, &["start", "nginx"]);
    assert!(out.contains("nginx: started"), "svcctl start: {out}");
    assert!(
        matches!(http_get(port, "/"), Some((200, ref b)) if b == "svc e2e nginx\n"),
        "nginx is ready (its check passed) so it serves at once"
    );
    let (first, first_workers) = nginx_master(&t, &mut seen);

    let out = svcctl_ok(&t, &["restart", "nginx"]);
    assert!(out.contains("nginx"), "svcctl restart: {out}");
    let (second, _) = nginx_master(&t, &mut seen);
    assert_ne!(first, second, "restart runs a new master");
    assert_gone(&[first], "the first master to be gone after restart");
    assert_gone(&first_workers, "the first workers to be gone after restart");
    wait_serving(port);

    // A crash: the supervisor restarts nginx at once (first failure), after
    // killing the orphaned workers that still hold the listening socket.
    let (_, second_workers) = nginx_master(&t, &mut seen);
    crash_master(&t, second);
    let (third, third_workers) = nginx_master(&t, &mut seen);
    assert_gone(&second_workers, "the crashed master's workers to be gone");
    wait_serving(port);
    let status = svcctl_ok(&t, &["status", "nginx"]);
    assert!(
        status.contains(&third.pid.to_string()),
        "svcctl status nginx shows the new pid {}: {status}",
        third.pid
    );

    let out = svcctl_ok(&t, &["stop", "nginx"]);
    assert!(out.contains("nginx: stopped"), "svcctl stop: {out}");
    assert_gone(&[third], "the nginx master to be gone after stop");
    assert_gone(&third_workers, "the nginx workers to be gone after stop");
    seen.assert_all_gone();
    assert_eq!(json_status(&t, "nginx"), ("down".to_owned(), None));
    assert!(
        http_get(port, "/").is_none(),
        "nothing listens on {port} after stop"
    );
}

#[test]
fn nginx_forking_follows_the_pid_file() {
    need(NGINX, "nginx-light");
    let port = free_port();
    let t = tree_with_port("daemon-nginx-forking", port);
    write_nginx_conf(&t, port, true);
    let mut seen = Seen::default();
    let _m = Manager::start(&t, &[]);

    let out = svcctl_ok(&t, &["start", "nginx"]);
    assert!(out.contains("nginx: started"), "svcctl start: {out}");
    wait_serving(port);
    let (master, workers) = nginx_master(&t, &mut seen);
    let from_file: i32 = std::fs::read_to_string(t.path("nginx.pid"))
        .expect("nginx's pid file")
        .trim()
        .parse()
        .expect("a pid in nginx.pid");
    assert_eq!(
        master.pid, from_file,
        "status shows the daemon's own pid, the one in its pid file"
    );
    let status = svcctl_ok(&t, &["status", "nginx"]);
    assert!(
        status.contains(&from_file.to_string()),
        "svcctl status nginx: {status}"
    );

    // The reload signal goes to the daemon itself: same master, new workers.
    svcctl_ok(&t, &["reload", "nginx"]);
    assert_gone(&workers, "the workers of before the reload to be gone");
    let (after_reload, _) = nginx_master(&t, &mut seen);
    assert_eq!(after_reload, master, "a reload keeps the master");
    wait_serving(port);

    // A crash leaves a stale pid file behind; the next run's pid is the
    // one that counts.
    let (_, workers) = nginx_master(&t, &mut seen);
    crash_master(&t, master);
    assert_gone(&workers, "the crashed master's workers to be gone");
    wait_serving(port);
    let (master, workers) = nginx_master(&t, &mut seen);
    wait_for(BOUND, "the new pid in nginx.pid", || {
        std::fs::read_to_string(t.path("nginx.pid"))
            .is_ok_and(|s| s.trim() == master.pid.to_string())
    });

    let out = svcctl_ok(&t, &["stop", "nginx"]);
    assert!(out.contains("nginx: stopped"), "svcctl stop: {out}");
    assert_gone(&[master], "the daemonized master to be gone after stop");
    assert_gone(&workers, "its workers to be gone after stop");
    let log = std::fs::read_to_string(t.path("log/nginx/current")).unwrap();
    assert!(
        log.contains(&format!(
            "{}#{}: signal 3 (SIGQUIT) received",
            master.pid, master.pid
        )),
        "exec-stop (`nginx -s quit`) stopped the master gracefully: {log}"
    );
    seen.assert_all_gone();
    assert_eq!(json_status(&t, "nginx"), ("down".to_owned(), None));
    assert!(
        http_get(port, "/").is_none(),
        "nothing listens on {port} after stop"
    );
}

#[test]
fn rsyslogd_is_ready_by_sd_notify_and_releases_its_requirer() {
    need(RSYSLOGD, "rsyslog");
    need(LOGGER, "bsdutils");
    let t = Tree::new("daemon-rsyslog");
    let root = t.root.to_string_lossy().into_owned();
    std::fs::create_dir_all(t.path("rsyslog-work")).unwrap();
    std::fs::write(
        t.path("rsyslog.conf"),
        format!(
            "global(workDirectory=\"{root}/rsyslog-work\")
module(load=\"imuxsock\" SysSock.Use=\"off\")
input(type=\"imuxsock\" Socket=\"{root}/log.sock\")
*.* action(type=\"omfile\" File=\"{root}/messages.log\")
"
        ),
    )
    .unwrap();
    let mut seen = Seen::default();
    let _m = Manager::start(&t, &[]);

    svcctl_ok(&t, &["start", "--no-wait", "log-client"]);
    // The shell waits for the gate: the service runs but has said nothing.
    wait_for(BOUND, "rsyslog to be running", || {
        json_status(&t, "rsyslog").0 == "running"
    });
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(json_status(&t, "rsyslog").0, "running", "no READY=1 yet");
    assert_eq!(
        json_status(&t, "log-client").0,
        "down",
        "the requirer waits for readiness"
    );

    std::fs::write(t.path("gate"), "").unwrap();
    wait_for(BOUND, "rsyslog to be ready (READY=1)", || {
        json_status(&t, "rsyslog").0 == "ready"
    });
    let (_, pid) = json_status(&t, "rsyslog");
    let daemon = seen.add(Proc::of(pid.expect("rsyslog's pid")).expect("rsyslogd alive"));
    let comm = std::fs::read_to_string(format!("/proc/{}/comm", daemon.pid)).unwrap();
    assert_eq!(comm.trim(), "rsyslogd", "the shell exec'd rsyslogd");
    // Readiness came over the supervisor's notify socket, the only channel
    // rsyslogd has to say it (Debian links it with libsystemd).
    let environ = std::fs::read(format!("/proc/{}/environ", daemon.pid)).unwrap();
    let environ = String::from_utf8_lossy(&environ);
    assert!(
        environ
            .split('\0')
            .any(|kv| kv.starts_with("NOTIFY_SOCKET=/")
                && kv.ends_with("/svc-notify/rsyslog/notify")),
        "rsyslogd got NOTIFY_SOCKET: {environ}"
    );
    wait_for(BOUND, "rsyslogd's pid file", || {
        std::fs::read_to_string(t.path("rsyslogd.pid"))
            .is_ok_and(|s| s.trim() == daemon.pid.to_string())
    });

    wait_for(BOUND, "log-client to be ready", || {
        json_status(&t, "log-client").0 == "ready"
    });
    let (_, client) = json_status(&t, "log-client");
    seen.add(Proc::of(client.expect("log-client's pid")).expect("log-client alive"));
    // The client logged through the socket rsyslogd had opened before
    // saying READY=1.
    wait_for(BOUND, "the client's line in rsyslogd's output", || {
        std::fs::read_to_string(t.path("messages.log"))
            .is_ok_and(|s| s.contains("svc-e2e") && s.contains("log-client started"))
    });

    // Stopping the provider stops its requirer too.
    let out = svcctl_ok(&t, &["stop", "rsyslog"]);
    assert!(out.contains("rsyslog: stopped"), "svcctl stop: {out}");
    assert!(out.contains("log-client: stopped"), "svcctl stop: {out}");
    seen.assert_all_gone();
}

#[test]
fn nginx_error_log_lines_reach_svcctl_log_follow() {
    need(NGINX, "nginx-light");
    need(CURL, "curl");
    let port = free_port();
    let t = tree_with_port("daemon-nginx", port);
    write_nginx_conf(&t, port, false);
    let mut seen = Seen::default();
    let mut m = Manager::start(&t, &[]);
    svcctl_ok(&t, &["start", "nginx"]);
    nginx_master(&t, &mut seen);

    let mut follow = KillOnDrop(
        Command::new(bin("svcctl"))
            .arg("--socket")
            .arg(t.socket())
            .args(["log", "nginx", "-f", "-n", "0"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn svcctl log -f"),
    );
    let stdout = follow.0.stdout.take().unwrap();
    let (tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let wait_line = |what: &str, matches: &dyn Fn(&str) -> bool, trigger: &dyn Fn()| {
        // The follower may not have opened the file yet when the first
        // trigger fires: trigger again until the line shows up.
        let deadline = Instant::now() + BOUND;
        let mut seen_lines = Vec::new();
        while Instant::now() < deadline {
            trigger();
            let until = Instant::now() + Duration::from_secs(2);
            while let Some(left) = until.checked_duration_since(Instant::now()) {
                match lines.recv_timeout(left) {
                    Ok(l) if matches(&l) => return l,
                    Ok(l) => seen_lines.push(l),
                    Err(_) => break,
                }
            }
        }
        panic!("svcctl log -f never showed {what}; it showed {seen_lines:?}");
    };

    // A missing file is logged at `error` level (log_not_found on).
    let line = wait_line(
        "the error for /missing-e2e-file",
        &|l| l.contains("missing-e2e-file") && l.contains("No such file"),
        &|| {
            assert_eq!(http_get(port, "/missing-e2e-file").map(|r| r.0), Some(404));
        },
    );
    assert!(line.contains("[error]"), "nginx's level is kept: {line}");

    // A reload (SIGHUP through svcctl) is logged at `notice` level.
    let line = wait_line(
        "nginx's reload notice",
        &|l| l.contains("reconfiguring"),
        &|| {
            svcctl_ok(&t, &["reload", "nginx"]);
        },
    );
    assert!(line.contains("[notice]"), "{line}");
    drop(follow);

    // The manager's SIGTERM stops nginx and then the manager, status 0.
    nginx_master(&t, &mut seen);
    assert_eq!(m.terminate(), Some(0), "svc-manager exits 0 on SIGTERM");
    seen.assert_all_gone();
}

#[test]
fn nginx_keeps_running_across_a_manager_crash() {
    need(NGINX, "nginx-light");
    need(CURL, "curl");
    let port = free_port();
    let t = tree_with_port("daemon-nginx", port);
    write_nginx_conf(&t, port, false);
    let mut seen = Seen::default();
    let mut m = Manager::start(&t, &[]);
    svcctl_ok(&t, &["start", "nginx"]);
    let (master, workers) = nginx_master(&t, &mut seen);

    m.kill();
    assert!(master.alive(), "nginx outlives a SIGKILLed manager");
    wait_serving(port);

    // The next manager adopts the supervisor: same master, same workers.
    let _m = Manager::start(&t, &[]);
    let (adopted, adopted_workers) = nginx_master(&t, &mut seen);
    assert_eq!(adopted, master, "adoption keeps the running nginx");
    assert_eq!(adopted_workers, workers, "and its workers");
    wait_serving(port);

    let out = svcctl_ok(&t, &["stop", "nginx"]);
    assert!(out.contains("nginx: stopped"), "svcctl stop: {out}");
    seen.assert_all_gone();
}
