//! Packaging: `svcctl generate` (man page, completions), the hand-written
//! man pages, `make install` / `make uninstall` into a temporary DESTDIR,
//! and tools/run.sh (what `make run` runs) booted without a terminal and
//! powered off with `svcctl poweroff --init-pid`. They use the programs of
//! this build: run `cargo build --workspace --bins` first (`make unit`
//! does), as for online.rs.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const PROGRAMS: [&str; 6] = [
    "svc-init",
    "svc-manager",
    "svc-supervise",
    "svc-notify",
    "svcctl",
    "svc-seedrng",
];

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The directory holding this build's programs (next to the test's own
/// target directory), all of them checked to be there.
fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap();
    let dir = if dir.ends_with("deps") {
        dir.parent().unwrap()
    } else {
        dir
    };
    for p in PROGRAMS {
        assert!(
            dir.join(p).is_file(),
            "{} is missing: run `cargo build --workspace --bins` first",
            dir.join(p).display()
        );
    }
    dir.to_path_buf()
}

mod common;
use common::TempDir;

fn run(cmd: &mut Command) -> Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn have(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Every regular file and symlink under `root`, as paths relative to it.
fn files_under(root: &Path) -> BTreeSet<String> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeSet<String>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries {
            let e = e.unwrap();
            let path = e.path();
            if e.file_type().unwrap().is_dir() {
                walk(root, &path, out);
            } else {
                out.insert(path.strip_prefix(root).unwrap().display().to_string());
            }
        }
    }
    let mut out = BTreeSet::new();
    walk(root, root, &mut out);
    out
}

/// `groff -ww -man -z PAGE`: no output means no warning.
fn assert_renders_cleanly(page: &Path) {
    assert!(
        have("groff"),
        "groff is needed to check the man pages (Debian: apt-get install groff-base)"
    );
    let out = run(Command::new("groff").args(["-ww", "-man", "-z"]).arg(page));
    let warnings = String::from_utf8_lossy(&out.stderr);
    assert!(warnings.trim().is_empty(), "{}: {warnings}", page.display());
}

#[test]
fn generated_man_page_renders_without_warnings_and_covers_the_commands() {
    let tmp = TempDir::new("man");
    let out = run(Command::new(bin_dir().join("svcctl"))
        .args(["generate", "man"])
        .arg(&tmp.0));
    let page = tmp.0.join("svcctl.8");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        page.display().to_string()
    );
    assert_renders_cleanly(&page);
    let text = std::fs::read_to_string(&page).unwrap();
    for command in [
        "status",
        "start",
        "enable",
        "log",
        "poweroff",
        "completions",
    ] {
        assert!(
            text.contains(&format!("\\fBsvcctl {command}\\fR")),
            "no {command} in the page"
        );
    }
    assert!(text.contains(".SH EXIT STATUS"));
    assert!(
        !text.contains("generate"),
        "the hidden command is documented"
    );
}

#[test]
fn hand_written_man_pages_render_without_warnings() {
    let dir = repo().join("man");
    let pages = [
        "svc-init.8",
        "svc-manager.8",
        "svc-supervise.8",
        "svc.ini.5",
    ];
    for page in pages {
        assert_renders_cleanly(&dir.join(page));
    }
}

#[test]
fn completions_are_generated_for_bash_zsh_and_fish() {
    let tmp = TempDir::new("completions");
    run(Command::new(bin_dir().join("svcctl"))
        .args(["generate", "completions"])
        .arg(&tmp.0));
    for file in ["svcctl.bash", "_svcctl", "svcctl.fish"] {
        let text = std::fs::read_to_string(tmp.0.join(file)).unwrap();
        assert!(text.contains("poweroff"), "{file} lacks poweroff");
        assert!(text.contains("init-pid"), "{file} lacks --init-pid");
    }
    // The syntax of each, with the shells that are installed (bash is).
    run(Command::new("bash")
        .arg("-n")
        .arg(tmp.0.join("svcctl.bash")));
    if have("zsh") {
        run(Command::new("zsh").arg("-n").arg(tmp.0.join("_svcctl")));
    }
    if have("fish") {
        run(Command::new("fish")
            .arg("-n")
            .arg(tmp.0.join("svcctl.fish")));
    }
}

#[test]
fn make_install_then_uninstall_leaves_nothing() {
    let tmp = TempDir::new("install");
    let dest = tmp.0.join("dest");
    let vars = [
        format!("DESTDIR={}", dest.display()),
        "PREFIX=/usr".to_owned(),
        format!("BIN_DIR={}", bin_dir().display()),
        format!("GEN_DIR={}", tmp.0.join("gen").display()),
    ];
    run(Command::new("make")
        .arg("-s")
        .arg("-C")
        .arg(repo())
        .arg("install")
        .args(&vars));

    let mut want: BTreeSet<String> = [
        "usr/sbin/svc-init",
        "usr/sbin/svc-manager",
        "usr/sbin/svc-supervise",
        "usr/sbin/svc-notify",
        "usr/bin/svcctl",
        "usr/share/man/man8/svcctl.8",
        "usr/share/man/man8/svc-init.8",
        "usr/share/man/man8/svc-manager.8",
        "usr/share/man/man8/svc-supervise.8",
        "usr/share/man/man5/svc.ini.5",
        "usr/share/bash-completion/completions/svcctl",
        "usr/share/zsh/site-functions/_svcctl",
        "usr/share/fish/vendor_completions.d/svcctl.fish",
        "usr/lib/svc/libexec/early",
        "usr/lib/svc/libexec/svc-seedrng",
    ]
    .map(String::from)
    .into();
    for e in std::fs::read_dir(repo().join("libexec/early.d")).unwrap() {
        let name = e.unwrap().file_name().into_string().unwrap();
        want.insert(format!("usr/lib/svc/libexec/early.d/{name}"));
    }
    for e in std::fs::read_dir(repo().join("services.d")).unwrap() {
        let name = e.unwrap().file_name().into_string().unwrap();
        if name.ends_with(".ini") {
            want.insert(format!("usr/lib/svc/services.d/{name}"));
        }
    }
    assert_eq!(files_under(&dest), want);
    // The early services' script, and the log directory a read-only root
    // cannot get at boot.
    let early = std::fs::metadata(dest.join("usr/lib/svc/libexec/early")).unwrap();
    assert_eq!(early.permissions().mode() & 0o777, 0o755);
    assert!(dest.join("var/log/svc").is_dir(), "var/log/svc is missing");
    for p in PROGRAMS {
        let dir = match p {
            "svcctl" => "usr/bin",
            "svc-seedrng" => "usr/lib/svc/libexec",
            _ => "usr/sbin",
        };
        let mode = std::fs::metadata(dest.join(dir).join(p))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o755, "{p}");
    }
    // The installed svcctl is the real one.
    run(Command::new(dest.join("usr/bin/svcctl"))
        .arg("check")
        .arg("--services")
        .arg(dest.join("usr/lib/svc/services.d")));

    run(Command::new("make")
        .arg("-s")
        .arg("-C")
        .arg(repo())
        .arg("uninstall")
        .args(&vars));
    assert_eq!(files_under(&dest), BTreeSet::new());
    assert!(!dest.join("usr/lib/svc").exists(), "usr/lib/svc is left");
    assert!(!dest.join("var/log/svc").exists(), "var/log/svc is left");
}

/// With another PREFIX the declarations name the script where it went.
#[test]
fn make_install_points_the_declarations_at_the_installed_script() {
    let tmp = TempDir::new("install-prefix");
    let dest = tmp.0.join("dest");
    run(Command::new("make")
        .arg("-s")
        .arg("-C")
        .arg(repo())
        .arg("install")
        .arg(format!("DESTDIR={}", dest.display()))
        .arg("PREFIX=/opt/svc")
        .arg(format!("BIN_DIR={}", bin_dir().display()))
        .arg(format!("GEN_DIR={}", tmp.0.join("gen").display())));
    let root = std::fs::read_to_string(dest.join("opt/svc/lib/svc/services.d/root.ini")).unwrap();
    assert!(
        root.contains("exec-stop = /opt/svc/lib/svc/libexec/early --stop root"),
        "{root}"
    );
    assert!(!root.contains("/usr/lib/svc/libexec"), "{root}");
    assert!(dest.join("opt/svc/lib/svc/libexec/early").is_file());
    let seed = std::fs::read_to_string(dest.join("opt/svc/lib/svc/services.d/seed.ini")).unwrap();
    assert!(
        seed.contains("exec = /opt/svc/lib/svc/libexec/svc-seedrng"),
        "{seed}"
    );
    assert!(dest.join("opt/svc/lib/svc/libexec/svc-seedrng").is_file());
}

/// tools/run.sh running in the background; on drop (a failed test) its
/// init is killed, which ends the whole PID namespace, then run.sh itself.
struct Demo {
    child: Child,
    init_pid: Option<i32>,
}

impl Drop for Demo {
    fn drop(&mut self) {
        if let Some(pid) = self.init_pid {
            // SAFETY: kill(2) on the pid of a process this test started
            // (its descendant, still unreaped by its parent).
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Pids of processes whose command line mentions `needle`.
fn processes_mentioning(needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let name = e.file_name().into_string().unwrap_or_default();
        if !name.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        if let Ok(cmdline) = std::fs::read(e.path().join("cmdline")) {
            if String::from_utf8_lossy(&cmdline).contains(needle) {
                found.push(format!("{name}: {}", String::from_utf8_lossy(&cmdline)));
            }
        }
    }
    found
}

#[test]
fn run_sh_boots_answers_and_powers_off_in_order() {
    let bins = bin_dir();
    let tmp = TempDir::new("run");
    let run_dir = tmp.0.join("system");
    let mut child = Command::new(repo().join("tools/run.sh"))
        .env("SVC_BIN_DIR", &bins)
        .env("SVC_RUN_DIR", &run_dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut demo = Demo {
        child,
        init_pid: None,
    };
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut seen = Vec::new();
    let wait_for = |seen: &mut Vec<String>, what: &str| {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) => {
                    let hit = line.contains(what);
                    seen.push(line);
                    if hit {
                        return;
                    }
                }
                Err(_) => panic!("no line with {what:?}; got:\n{}", seen.join("\n")),
            }
        }
    };

    wait_for(&mut seen, "svc-run: ready:");
    wait_for(&mut seen, "poweroff --init-pid ");
    let init_pid: i32 = seen
        .last()
        .unwrap()
        .rsplit(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    demo.init_pid = Some(init_pid);

    let sock = run_dir.join("sock");
    let status = run(Command::new(bins.join("svcctl"))
        .arg("--socket")
        .arg(&sock)
        .args(["--json", "status"]));
    let status: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    let state = |name: &str| {
        status["services"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == name)
            .map(|s| s["state"].as_str().unwrap().to_owned())
    };
    assert_eq!(state("default").as_deref(), Some("ready"), "{status}");
    assert_eq!(state("heartbeat").as_deref(), Some("ready"), "{status}");
    assert_eq!(state("hello").as_deref(), Some("finished"), "{status}");

    run(Command::new(bins.join("svcctl"))
        .args(["poweroff", "--init-pid"])
        .arg(init_pid.to_string()));
    wait_for(&mut seen, "svc-run: powered off");
    let deadline = Instant::now() + Duration::from_secs(30);
    let exit = loop {
        if let Some(s) = demo.child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "run.sh did not return");
        std::thread::sleep(Duration::from_millis(50));
    };
    demo.init_pid = None;
    assert!(exit.success(), "run.sh: {exit}\n{}", seen.join("\n"));
    let log = seen.join("\n");
    for name in ["heartbeat", "hello"] {
        assert!(log.contains(&format!("{name}: stopped")), "{log}");
    }
    let left = processes_mentioning(&run_dir.display().to_string());
    assert!(left.is_empty(), "left running: {left:?}");
    // The heartbeat's log was written under the run directory (kept, since
    // SVC_RUN_DIR was given), not under /var/log.
    let heartbeat = std::fs::read_to_string(run_dir.join("log/heartbeat/current")).unwrap();
    assert!(heartbeat.contains("heartbeat 1"), "{heartbeat}");
}
