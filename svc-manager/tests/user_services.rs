//! User services end to end, as a user does them: an unprivileged account
//! writes `~/.config/svc/services.d/myserver.ini`, runs its own
//! `svc-manager --user` and drives it with `svcctl --user` — every command
//! run as that account, with nothing but HOME, XDG_RUNTIME_DIR and PATH in
//! its environment (tests/scenarios/user-services).
//! Build the binaries first: `cargo build --workspace --bins`.

mod common;

use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{Manager, Tree, bin, needs_root, scenario_dir, wait_for};
use serde_json::Value;

/// Marks the accounts this test makes (with the pid of the run that made
/// them), so that one left by a run that was killed outright is recognised
/// and removed by a later one.
const MARKER: &str = "svc test account (user_services.rs) of pid";

/// Removes the accounts of earlier runs that are no longer alive.
fn sweep_stale_accounts() {
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    for line in passwd.lines() {
        let fields: Vec<&str> = line.split(':').collect();
        let [name, _, uid, _, gecos, ..] = fields[..] else {
            continue;
        };
        let Some(pid) = gecos.strip_prefix(MARKER) else {
            continue;
        };
        let (Ok(pid), Ok(uid)) = (pid.trim().parse::<u32>(), uid.parse::<u32>()) else {
            continue;
        };
        if uid != 0 && !Path::new(&format!("/proc/{pid}")).exists() {
            remove_account(name, uid);
        }
    }
}

/// A private temporary directory, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Scratch {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let root = std::env::temp_dir().join(format!(
            "svc-user-services-{}-{nanos:x}",
            std::process::id()
        ));
        std::fs::create_dir_all(&root).unwrap();
        // Traversable, so that each account reaches its own home below.
        std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o755)).unwrap();
        Scratch(root)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A dedicated unprivileged account with its home and its runtime
/// directory in the scratch tree. Dropping it kills whatever still runs
/// as it and removes the account.
struct Account {
    name: String,
    uid: u32,
    gid: u32,
    home: PathBuf,
    runtime_dir: PathBuf,
}

impl Account {
    /// `svcu<our pid><tag>`: runs of this test in other target
    /// directories at the same time get accounts of their own.
    fn create(tag: &str, scratch: &Scratch) -> Account {
        let me = std::process::id();
        let name = format!("svcu{me}{tag}");
        let home = scratch.0.join(&name).join("home");
        let runtime_dir = scratch.0.join(&name).join("xdg");
        assert!(
            nix::unistd::User::from_name(&name).ok().flatten().is_none(),
            "an account named {name} exists already"
        );
        let st = Command::new("useradd")
            .args(["--system", "--no-create-home", "--user-group"])
            .args(["--shell", "/bin/sh", "--home-dir"])
            .arg(&home)
            .arg("--comment")
            .arg(format!("{MARKER} {me}"))
            .arg(&name)
            .status()
            .expect("useradd");
        assert!(st.success(), "useradd {name}");
        let u = nix::unistd::User::from_name(&name).unwrap().unwrap();
        let a = Account {
            name,
            uid: u.uid.as_raw(),
            gid: u.gid.as_raw(),
            home,
            runtime_dir,
        };
        assert_ne!(a.uid, 0);
        // What a login would have made: a home, and a fresh 0700 runtime
        // directory owned by the user.
        std::fs::create_dir_all(&a.home).unwrap();
        std::fs::create_dir_all(&a.runtime_dir).unwrap();
        std::fs::set_permissions(&a.runtime_dir, std::fs::Permissions::from_mode(0o700)).unwrap();
        for p in [&a.home, &a.runtime_dir] {
            std::os::unix::fs::chown(p, Some(a.uid), Some(a.gid)).unwrap();
        }
        a
    }

    /// A command run as this account with a login's bare environment:
    /// HOME, USER, LOGNAME, PATH (the built binaries first) and, unless
    /// `runtime_dir` is None, XDG_RUNTIME_DIR. No XDG_CONFIG_HOME or
    /// XDG_STATE_HOME, so the defaults under ~ apply.
    fn command(&self, program: &str, runtime_dir: Option<&Path>) -> Command {
        let bin_dir = bin("svcctl").parent().unwrap().to_path_buf();
        let mut cmd = Command::new(program);
        cmd.env_clear()
            .env("HOME", &self.home)
            .env("USER", &self.name)
            .env("LOGNAME", &self.name)
            .env("PATH", format!("{}:/usr/bin:/bin", bin_dir.display()))
            .current_dir(&self.home)
            .stdin(Stdio::null())
            // std drops the supplementary groups when root changes uid.
            .uid(self.uid)
            .gid(self.gid);
        if let Some(dir) = runtime_dir {
            cmd.env("XDG_RUNTIME_DIR", dir);
        }
        cmd
    }

    /// `svcctl ARGS…` as this account, with its own XDG_RUNTIME_DIR.
    fn svcctl(&self, args: &[&str]) -> Output {
        self.svcctl_with(Some(&self.runtime_dir), args)
    }

    fn svcctl_with(&self, runtime_dir: Option<&Path>, args: &[&str]) -> Output {
        self.command("svcctl", runtime_dir)
            .args(args)
            .output()
            .expect("run svcctl")
    }

    fn services_dir(&self) -> PathBuf {
        self.home.join(".config/svc/services.d")
    }

    fn socket(&self) -> PathBuf {
        self.runtime_dir.join("svc/sock")
    }
}

impl Drop for Account {
    fn drop(&mut self) {
        remove_account(&self.name, self.uid);
    }
}

/// Kills every process running as `uid` (an account this test made, so
/// they are ours), then deletes the account.
fn remove_account(name: &str, uid: u32) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let pids = pids_of_uid(uid);
        if pids.is_empty() {
            break;
        }
        for p in pids {
            // SAFETY: kill(2) on a process of our own test account.
            unsafe { libc::kill(p, libc::SIGKILL) };
        }
        if Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = Command::new("userdel").arg(name).status();
}

/// Live processes whose real or effective uid is `uid`.
fn pids_of_uid(uid: u32) -> Vec<i32> {
    let mut out = Vec::new();
    for pid in common::proc_pids() {
        let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
            continue;
        };
        let zombie = status
            .lines()
            .any(|l| l.starts_with("State:") && l.contains('Z'));
        let ids = status
            .lines()
            .find_map(|l| l.strip_prefix("Uid:"))
            .map(|l| {
                l.split_whitespace()
                    .take(2)
                    .filter_map(|n| n.parse::<u32>().ok())
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default();
        if !zombie && ids.contains(&uid) {
            out.push(pid);
        }
    }
    out
}

/// The user's `svc-manager --user`, stopped by SIGTERM to its pid when
/// dropped (SIGKILL if it does not exit).
struct UserManager {
    child: Option<Child>,
    stderr: PathBuf,
}

impl UserManager {
    fn start(user: &Account, scratch: &Scratch) -> UserManager {
        let stderr = scratch.0.join(format!("{}-manager.stderr", user.name));
        let child = user
            .command("svc-manager", Some(&user.runtime_dir))
            .arg("--user")
            .env("SVC_LOG", "debug")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .expect("spawn svc-manager --user");
        let m = UserManager {
            child: Some(child),
            stderr,
        };
        let sock = user.socket();
        wait_for(Duration::from_secs(20), "the user manager's socket", || {
            std::os::unix::net::UnixStream::connect(&sock).is_ok()
        });
        m
    }

    fn pid(&self) -> i32 {
        self.child.as_ref().map_or(0, |c| c.id() as i32)
    }

    /// SIGTERM and the exit status.
    fn terminate(&mut self) -> Option<i32> {
        common::terminate(self.child.take()?, Duration::from_secs(20))
    }

    fn diagnostics(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }
}

impl Drop for UserManager {
    fn drop(&mut self) {
        if self.terminate().is_none() && std::thread::panicking() {
            eprintln!("svc-manager --user said:\n{}", self.diagnostics());
        }
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Asserts the exit status and returns stdout.
fn expect(out: Output, code: i32, what: &str) -> String {
    assert_eq!(
        out.status.code(),
        Some(code),
        "{what}: stdout {:?}, stderr {:?}",
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

/// One service's `status --json` item, as the user sees it.
fn status_of(user: &Account, name: &str) -> Value {
    let out = user.svcctl(&["--user", "--json", "status", name]);
    let doc: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("status --json {name}: {e}: {out:?}"));
    doc["services"][0].clone()
}

fn pid_in(status: &Value) -> i32 {
    status["pid"]
        .as_i64()
        .unwrap_or_else(|| panic!("no pid: {status}")) as i32
}

fn uid_of(pid: i32) -> u32 {
    std::fs::metadata(format!("/proc/{pid}")).unwrap().uid()
}

fn gone(pid: i32) -> bool {
    !pids_of_any().contains(&pid)
}

/// Live (not zombie) pids.
fn pids_of_any() -> Vec<i32> {
    let mut out = Vec::new();
    for pid in common::proc_pids() {
        match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            // The state follows the parenthesised command name.
            Ok(stat)
                if !stat
                    .rsplit(')')
                    .next()
                    .unwrap_or("")
                    .trim_start()
                    .starts_with('Z') =>
            {
                out.push(pid)
            }
            _ => {}
        }
    }
    out
}

fn cmdline(pid: i32) -> String {
    text(&std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default()).replace('\0', " ")
}

/// The files in a directory, sorted.
fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// As the user, with ordinary file writes (a shell's `mkdir -p` and
/// `cat >`): `~/.config/svc/services.d/myserver.ini`.
fn write_myserver(user: &Account) -> PathBuf {
    let declaration =
        std::fs::read(scenario_dir("user-services").join("home/myserver.ini")).unwrap();
    let mut sh = user
        .command("/bin/sh", None)
        .args([
            "-c",
            "mkdir -p \"$HOME/.config/svc/services.d\" && cat > \"$HOME/.config/svc/services.d/myserver.ini\"",
        ])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    sh.stdin.take().unwrap().write_all(&declaration).unwrap();
    assert!(sh.wait().unwrap().success(), "writing myserver.ini");
    let file = user.services_dir().join("myserver.ini");
    assert_eq!(std::fs::metadata(&file).unwrap().uid(), user.uid);
    file
}

#[test]
fn a_user_runs_its_own_services_with_svcctl() {
    if !needs_root("a_user_runs_its_own_services_with_svcctl", "useradd") {
        return;
    }
    sweep_stale_accounts();
    let scratch = Scratch::new();
    let alice = Account::create("a", &scratch);
    let bob = Account::create("b", &scratch);

    // 1. The user writes the declaration with ordinary file writes.
    write_myserver(&alice);
    // svcctl finds it in ~/.config (XDG_CONFIG_HOME is not set).
    let out = expect(alice.svcctl(&["--user", "check"]), 0, "check");
    assert!(out.contains("1 declaration,"), "{out}");

    // 2. Its own manager, found by nothing but the environment.
    let mut manager = UserManager::start(&alice, &scratch);
    assert_eq!(uid_of(manager.pid()), alice.uid);
    let run = alice.runtime_dir.join("svc");
    let meta = std::fs::metadata(&run).unwrap();
    assert_eq!((meta.uid(), meta.mode() & 0o777), (alice.uid, 0o700));
    let meta = std::fs::metadata(alice.socket()).unwrap();
    assert_eq!((meta.uid(), meta.mode() & 0o777), (alice.uid, 0o600));

    // 3. start, status, restart, log, stop.
    let out = expect(
        alice.svcctl(&["--user", "start", "myserver"]),
        0,
        "start myserver",
    );
    assert!(out.contains("myserver: started"), "{out}");
    let s = status_of(&alice, "myserver");
    assert!(
        matches!(s["state"].as_str(), Some("ready" | "running")),
        "{s}"
    );
    let first = pid_in(&s);
    assert_eq!(uid_of(first), alice.uid, "the service runs as the user");
    assert!(
        cmdline(first).contains("myserver tick"),
        "{}",
        cmdline(first)
    );
    let detail = expect(
        alice.svcctl(&["--user", "status", "myserver"]),
        0,
        "status myserver",
    );
    assert!(detail.contains(&first.to_string()), "{detail}");
    assert!(
        detail.contains("ready") || detail.contains("running"),
        "{detail}"
    );

    let out = expect(
        alice.svcctl(&["--user", "restart", "myserver"]),
        0,
        "restart myserver",
    );
    assert!(out.contains("myserver: started"), "{out}");
    let second = pid_in(&status_of(&alice, "myserver"));
    assert_ne!(second, first, "restart gives a new process");
    assert_eq!(uid_of(second), alice.uid);
    wait_for(Duration::from_secs(10), "the first process to go", || {
        gone(first)
    });

    // The log is the user's own, under ~/.local/state/svc/log.
    wait_for(Duration::from_secs(10), "myserver's log lines", || {
        text(
            &alice
                .svcctl(&["--user", "log", "myserver", "-n", "5"])
                .stdout,
        )
        .contains("myserver tick")
    });
    let detail = text(&alice.svcctl(&["--user", "status", "myserver"]).stdout);
    let log = detail
        .lines()
        .find_map(|l| l.trim().strip_prefix("log:"))
        .map(|p| PathBuf::from(p.trim()))
        .unwrap_or_else(|| panic!("no log path in {detail}"));
    assert!(
        log.starts_with(alice.home.join(".local/state/svc/log/myserver")),
        "{}",
        log.display()
    );
    assert_eq!(std::fs::metadata(&log).unwrap().uid(), alice.uid);
    assert!(
        std::fs::read_to_string(&log)
            .unwrap()
            .contains("myserver tick")
    );

    let out = expect(
        alice.svcctl(&["--user", "stop", "myserver"]),
        0,
        "stop myserver",
    );
    assert!(out.contains("myserver: stopped"), "{out}");
    let s = status_of(&alice, "myserver");
    assert_eq!(s["state"], "down", "{s}");
    assert!(s["pid"].is_null(), "{s}");
    wait_for(Duration::from_secs(10), "myserver to be gone", || {
        gone(second)
            && pids_of_uid(alice.uid)
                .iter()
                .all(|&p| !cmdline(p).contains("myserver tick"))
    });

    // `add` writes a declaration the manager takes at once.
    let out = expect(
        alice.svcctl(&["--user", "add", "other", "--", "/bin/sleep", "1000"]),
        0,
        "add other",
    );
    assert!(out.contains("the manager knows it now"), "{out}");
    let other_ini = alice.services_dir().join("other.ini");
    assert_eq!(std::fs::metadata(&other_ini).unwrap().uid(), alice.uid);
    let written = std::fs::read_to_string(&other_ini).unwrap();
    assert!(written.contains("exec = /bin/sleep 1000\n"), "{written}");
    expect(
        alice.svcctl(&["--user", "check", other_ini.to_str().unwrap()]),
        0,
        "check other.ini",
    );
    expect(
        alice.svcctl(&["--user", "start", "other"]),
        0,
        "start other",
    );
    let other = pid_in(&status_of(&alice, "other"));
    assert_eq!(uid_of(other), alice.uid);
    assert_eq!(cmdline(other).trim(), "/bin/sleep 1000");

    // Bad adds say why and write nothing.
    let before = listing(&alice.services_dir());
    assert_eq!(before, ["myserver.ini", "other.ini"]);
    for (args, code, why) in [
        (&["bad name", "--", "/bin/true"][..], 1, "not a valid name"),
        (&["../evil", "--", "/bin/true"][..], 1, "not a valid name"),
        (&["getty@", "--", "/bin/true"][..], 1, "templates"),
        (&["third"][..], 2, "<CMD>"),
        (&["third", "--"][..], 2, "<CMD>"),
        (
            &["third", "--", "/nonexistent/myserverd"][..],
            1,
            "'/nonexistent/myserverd' does not exist",
        ),
        (
            &["third", "--", "no-such-myserverd"][..],
            1,
            "'no-such-myserverd' is not found on PATH",
        ),
        (&["other", "--", "/bin/true"][..], 1, "exists; use --force"),
    ] {
        let out = alice.svcctl(&[&["--user", "add"][..], args].concat());
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "add {args:?}: {err}");
        assert!(err.contains(why), "add {args:?}: {err}");
        assert!(out.stdout.is_empty(), "add {args:?}: {out:?}");
    }
    assert_eq!(listing(&alice.services_dir()), before);
    assert!(!alice.home.join(".config/svc/evil.ini").exists());
    assert_eq!(std::fs::read_to_string(&other_ini).unwrap(), written);

    // 4. Another user reaches only its own (absent) manager, and neither
    // the directory nor the socket of this one.
    let out = bob.svcctl(&["--user", "status"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        text(&out.stderr).contains("no user manager running"),
        "{out:?}"
    );
    let alice_socket = alice.socket();
    for out in [
        bob.svcctl_with(Some(&alice.runtime_dir), &["--user", "stop", "other"]),
        bob.svcctl(&["--socket", alice_socket.to_str().unwrap(), "stop", "other"]),
        bob.svcctl(&["--socket", alice_socket.to_str().unwrap(), "status"]),
    ] {
        assert_eq!(out.status.code(), Some(1), "{out:?}");
        assert!(text(&out.stderr).contains("permission denied"), "{out:?}");
    }
    assert_eq!(
        pid_in(&status_of(&alice, "other")),
        other,
        "nothing changed"
    );

    // Without XDG_RUNTIME_DIR: a clear error, for the user (no
    // /run/user/UID for this fresh account) and for root.
    let out = alice.svcctl_with(None, &["--user", "status"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = text(&out.stderr);
    assert!(
        err.starts_with("svcctl: ") && err.contains("XDG_RUNTIME_DIR"),
        "{err}"
    );
    let out = Command::new(bin("svcctl"))
        .env_clear()
        .env("HOME", "/root")
        .env("PATH", "/usr/bin:/bin")
        .args(["--user", "status"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = text(&out.stderr);
    assert!(
        err.starts_with("svcctl: ") && err.contains("XDG_RUNTIME_DIR"),
        "{err}"
    );

    // 5. SIGTERM stops everything and the manager exits 0.
    assert_eq!(manager.terminate(), Some(0), "{}", manager.diagnostics());
    wait_for(Duration::from_secs(10), "other to be gone", || gone(other));
    assert!(!alice.socket().exists(), "the socket is removed");
}

#[test]
fn the_root_manager_runs_a_users_manager_that_the_user_drives() {
    if !needs_root(
        "the_root_manager_runs_a_users_manager_that_the_user_drives",
        "useradd",
    ) {
        return;
    }
    sweep_stale_accounts();
    let scratch = Scratch::new();
    let carol = Account::create("n", &scratch);
    write_myserver(&carol);

    // The administrator starts user@carol on the root manager.
    let tree = Tree::new("user-services");
    let root_manager = Manager::start(&tree, &[]);
    let root_socket = tree.socket();
    let instance = format!("user@{}", carol.name);
    let as_root = |args: &[&str]| {
        Command::new(bin("svcctl"))
            .arg("--socket")
            .arg(&root_socket)
            .args(args)
            .output()
            .unwrap()
    };
    let out = expect(as_root(&["start", &instance]), 0, "start user@");
    assert!(out.contains(&format!("{instance}: started")), "{out}");
    let mut c = root_manager.client();
    let user_manager = c.pid_of(&instance) as i32;
    assert_eq!(uid_of(user_manager), carol.uid);

    // Its runtime directory, made by the root manager for the user, is
    // the one the user's svcctl is pointed at.
    let runtime_dir = tree.path(&format!("run/user/{}", carol.name));
    assert_eq!(std::fs::metadata(&runtime_dir).unwrap().uid(), carol.uid);
    let svcctl = |args: &[&str]| carol.svcctl_with(Some(&runtime_dir), args);
    let out = expect(
        svcctl(&["--user", "start", "myserver"]),
        0,
        "start myserver",
    );
    assert!(out.contains("myserver: started"), "{out}");
    let s = svcctl(&["--user", "--json", "status", "myserver"]);
    let doc: Value = serde_json::from_slice(&s.stdout).unwrap();
    let pid = pid_in(&doc["services"][0]);
    assert_eq!(uid_of(pid), carol.uid);
    wait_for(Duration::from_secs(10), "myserver's log lines", || {
        text(&svcctl(&["--user", "log", "myserver", "-n", "5"]).stdout).contains("myserver tick")
    });
    assert!(
        carol
            .home
            .join(".local/state/svc/log/myserver/current")
            .is_file()
    );

    // Stopping user@carol stops the user's services with it.
    let out = expect(as_root(&["stop", &instance]), 0, "stop user@");
    assert!(out.contains(&format!("{instance}: stopped")), "{out}");
    wait_for(
        Duration::from_secs(10),
        "the user's manager and service to go",
        || gone(user_manager) && gone(pid),
    );
    drop(c);
}
