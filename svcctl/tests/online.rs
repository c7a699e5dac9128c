//! svcctl's online commands against a real svc-manager (and its real
//! svc-supervise children) in a temporary tree. Build the binaries first:
//! `cargo build --workspace --bins` (they are looked up next to this test's
//! own target directory).

use std::os::unix::net::UnixStream;
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::bin;

/// A manager on a temporary tree; everything stopped and removed on drop.
struct Setup {
    root: PathBuf,
    manager: Option<Child>,
}

impl Setup {
    fn new(tag: &str, services: &[(&str, &str)]) -> Setup {
        let root = std::env::temp_dir().join(format!("svcctl-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("services")).unwrap();
        for (name, text) in services {
            let text = text.replace("@TMP@", &root.to_string_lossy());
            std::fs::write(root.join("services").join(format!("{name}.ini")), text).unwrap();
        }
        let manager = Command::new(bin("svc-manager"))
            .arg("--socket")
            .arg(root.join("sock"))
            .arg("--services")
            .arg(root.join("services"))
            .arg("--enabled")
            .arg(root.join("enabled"))
            .arg("--runtime-dir")
            .arg(root.join("run"))
            .arg("--log-dir")
            .arg(root.join("log"))
            .arg("--supervise")
            .arg(bin("svc-supervise"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let s = Setup {
            root,
            manager: Some(manager),
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while UnixStream::connect(s.sock()).is_err() {
            assert!(Instant::now() < deadline, "no manager socket");
            std::thread::sleep(Duration::from_millis(20));
        }
        s
    }

    fn sock(&self) -> PathBuf {
        self.root.join("sock")
    }

    fn ctl(&self, args: &[&str]) -> Output {
        Command::new(bin("svcctl"))
            .arg("--socket")
            .arg(self.sock())
            .args(args)
            .output()
            .unwrap()
    }

    fn wait_up(&self, name: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.ctl(&["status", name]).status.code() != Some(0) {
            assert!(Instant::now() < deadline, "{name} never came up");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Setup {
    fn drop(&mut self) {
        if let Some(mut m) = self.manager.take() {
            // SAFETY: kill(2) on our own child: it stops its services, exits.
            unsafe { libc::kill(m.id() as i32, libc::SIGTERM) };
            let deadline = Instant::now() + Duration::from_secs(30);
            while m.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = m.kill();
            let _ = m.wait();
        }
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

const SLEEPER: &str = "[service]\nexec = /bin/sh -c 'echo hello from @TMP@; exec sleep 1000'\n";
const TARGET: &str = "[target]\ndescription = test target\n[dependencies]\nrequires = up\n";

#[test]
fn status_exit_codes_table_and_json() {
    let s = Setup::new(
        "status",
        &[("default", TARGET), ("up", SLEEPER), ("idle", SLEEPER)],
    );
    s.wait_up("up");
    let out = s.ctl(&["status"]);
    assert_eq!(out.status.code(), Some(0));
    let table = text(&out.stdout);
    assert!(table.starts_with("NAME"), "{table}");
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("up") && l.contains("ready"))
    );
    assert_eq!(s.ctl(&["status", "idle"]).status.code(), Some(3));
    assert_eq!(s.ctl(&["status", "up", "idle"]).status.code(), Some(3));
    let out = s.ctl(&["status", "nope"]);
    assert_eq!(out.status.code(), Some(4));
    assert!(text(&out.stderr).contains("no such service: nope"));

    let out = s.ctl(&["--json", "status", "up"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let item = &v["services"][0];
    assert_eq!(item["name"], "up");
    assert_eq!(item["kind"], "service");
    assert_eq!(item["state"], "ready");
    assert!(item["pid"].as_u64().unwrap() > 0);
    assert!(item["since"].as_u64().unwrap() > 0);
    assert_eq!(item["restarts"], 0);
    assert!(item["last_exit"].is_null());
    assert_eq!(item["wanted"], "up");
    assert!(item["reason"].is_null());
    let keys: Vec<&String> = item.as_object().unwrap().keys().collect();
    assert_eq!(keys.len(), 10, "{keys:?}");
    assert!(item.get("usage").is_some(), "{keys:?}");

    // Detail of one service shows its log lines.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let detail = text(&s.ctl(&["status", "up"]).stdout);
        if detail.contains("hello from") {
            assert!(detail.contains("pid:"));
            break;
        }
        assert!(Instant::now() < deadline, "{detail}");
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = s.ctl(&["log", "up", "-n", "1"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out.stdout).contains("hello from"));

    let out = s.ctl(&["--json", "list"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let names: Vec<&str> = v["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["default", "idle", "up"]);
}

#[test]
fn start_stop_restart_enable_target() {
    let s = Setup::new(
        "jobs",
        &[
            ("default", TARGET),
            ("up", SLEEPER),
            ("idle", SLEEPER),
            (
                "bad",
                "[service]\nexec = /bin/sh -c 'exit 3'\nready = notify-fd 3\nrestart = never\n",
            ),
            ("other", "[target]\n[dependencies]\nrequires = idle\n"),
            (
                "slow",
                "[service]\nexec = /bin/sleep 1000\nready = check /bin/false\n",
            ),
        ],
    );
    s.wait_up("default");
    let out = s.ctl(&["start", "idle"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(text(&out.stdout).contains("idle: started (ready"));
    let out = s.ctl(&["start", "bad"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stdout).contains("bad: failed"));
    let out = s.ctl(&["--json", "stop", "idle"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["ok"], true);
    assert_eq!(v["services"][0]["result"], "stopped");
    let out = s.ctl(&["restart", "up"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let out = s.ctl(&["start", "--no-wait", "idle"]);
    assert_eq!(out.status.code(), Some(0));
    s.wait_up("idle");
    let out = s.ctl(&["reload", "up"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");

    let out = s.ctl(&["enable", "idle", "--target", "default"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(s.root.join("enabled/default/idle").exists());
    let out = s.ctl(&["disable", "--now", "idle"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(!s.root.join("enabled/default/idle").exists());
    assert_eq!(s.ctl(&["status", "idle"]).status.code(), Some(3));

    let out = s.ctl(&["target", "other"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(s.ctl(&["status", "idle"]).status.code(), Some(0));
    assert_eq!(s.ctl(&["status", "up"]).status.code(), Some(3));
    let out = s.ctl(&["rescan"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");

    // --timeout gives up waiting (exit 5); the job goes on.
    let out = s.ctl(&["start", "--timeout", "300ms", "slow"]);
    assert_eq!(out.status.code(), Some(5), "{out:?}");
    assert!(
        text(&out.stderr).contains("within 0.3 s; the job goes on"),
        "{out:?}"
    );
}

#[test]
fn unreachable_manager_says_what_to_do() {
    let out = Command::new(bin("svcctl"))
        .args(["--socket", "/nonexistent/svc-test-sock", "status"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("svcctl: cannot reach /nonexistent/svc-test-sock: no manager running?"),
        "{err}"
    );
}

#[test]
fn power_commands_signal_init() {
    for (cmd, signal) in [
        ("poweroff", libc::SIGUSR2),
        ("reboot", libc::SIGTERM),
        ("halt", libc::SIGUSR1),
    ] {
        let mut fake_init = Command::new("/bin/sleep").arg("60").spawn().unwrap();
        let pid = fake_init.id().to_string();
        let out = Command::new(bin("svcctl"))
            .args([cmd, "--init-pid", &pid])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{out:?}");
        let st = fake_init.wait().unwrap();
        assert_eq!(st.signal(), Some(signal), "{cmd}");
    }
}
