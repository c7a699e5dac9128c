//! `svcctl status` and the cgroups: usage (memory, CPU, tasks, OOM kills)
//! where they are in use, "cgroups: not in use" once where they are not,
//! and never a warning per service about the cgroup keys. This host has
//! no usable cgroup v2 (docs/manager.md, "Cgroups"), so the second path is
//! what runs here; where a manager does use cgroups the test checks the
//! other shape instead. Build the binaries first: `cargo build
//! --workspace --bins`.

use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::{TempDir, bin};

/// A manager on a temporary tree, its log in `manager.log`; stopped on
/// drop (before the tree is removed).
struct Setup {
    manager: Option<Child>,
    dir: TempDir,
}

impl Setup {
    fn new(tag: &str, services: &[(&str, &str)]) -> Setup {
        let dir = TempDir::new(tag);
        for (name, text) in services {
            dir.write(&format!("services/{name}.ini"), text);
        }
        let log = std::fs::File::create(dir.path("manager.log")).unwrap();
        let manager = Command::new(bin("svc-manager"))
            .arg("--socket")
            .arg(dir.path("sock"))
            .arg("--services")
            .arg(dir.path("services"))
            .arg("--enabled")
            .arg(dir.path("enabled"))
            .arg("--runtime-dir")
            .arg(dir.path("run"))
            .arg("--log-dir")
            .arg(dir.path("log"))
            .arg("--supervise")
            .arg(bin("svc-supervise"))
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        let s = Setup {
            manager: Some(manager),
            dir,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while UnixStream::connect(s.sock()).is_err() {
            assert!(Instant::now() < deadline, "no manager socket");
            std::thread::sleep(Duration::from_millis(20));
        }
        s
    }

    fn sock(&self) -> PathBuf {
        self.dir.path("sock")
    }

    fn ctl(&self, args: &[&str]) -> Output {
        Command::new(bin("svcctl"))
            .arg("--socket")
            .arg(self.sock())
            .args(args)
            .output()
            .unwrap()
    }

    fn json(&self, args: &[&str]) -> serde_json::Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let out = self.ctl(&all);
        serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
    }

    fn start(&self, name: &str) {
        let out = self.ctl(&["start", name]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}{}",
            text(&out.stdout),
            text(&out.stderr)
        );
    }

    fn manager_log(&self) -> String {
        std::fs::read_to_string(self.dir.path("manager.log")).unwrap_or_default()
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
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

const LIMITED: &str = "[service]\nexec = /bin/sleep 1000\nmemory-max = 32M\nmemory-high = 24M\n\
memory-swap-max = 0\ncpu-weight = 50\ncpu-max = 50%\npids-max = 10\nio-weight = 200\n";
const PLAIN: &str = "[service]\nexec = /bin/sleep 1000\n";

#[test]
fn status_says_whether_cgroups_are_in_use_and_shows_usage() {
    let s = Setup::new("cgstatus", &[("limited", LIMITED), ("plain", PLAIN)]);
    s.start("limited");
    s.start("plain");

    let all = s.json(&["status"]);
    let in_use = match &all["cgroups"] {
        serde_json::Value::Bool(b) => *b,
        other => panic!("cgroups is {other}, not a bool: {all}"),
    };
    let items = all["services"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{all}");
    for item in items {
        assert_eq!(item["state"], "ready", "{item}");
        let keys = item.as_object().unwrap().len();
        assert_eq!(keys, 10, "{item}");
        if in_use {
            let u = &item["usage"];
            assert!(u["cpu_usec"].is_u64(), "{item}");
            assert!(u["memory_current"].is_u64() || u["memory_current"].is_null());
        } else {
            assert!(item["usage"].is_null(), "{item}");
        }
    }

    let detail = text(&s.ctl(&["status", "limited"]).stdout);
    let table = text(&s.ctl(&["status"]).stdout);
    let header = table.lines().next().unwrap_or("");
    if in_use {
        assert!(detail.contains("\n  cpu:        "), "{detail}");
        assert!(!detail.contains("cgroups:"), "{detail}");
        assert!(header.contains(" MEM "), "{header}");
    } else {
        assert_eq!(
            detail.matches("  cgroups:    not in use (").count(),
            1,
            "{detail}"
        );
        assert!(!detail.contains("memory:"), "{detail}");
        assert!(!header.contains("MEM"), "{header}");
        // The manager said why once, at start, and nothing per service.
        let log = s.manager_log();
        assert_eq!(log.matches("cgroups not in use").count(), 1, "{log}");
        for word in ["limited", "memory-max", "not applied"] {
            assert!(
                !log.lines().any(|l| l.contains(word) && l.contains("WARN")),
                "{log}"
            );
        }
    }
}

#[test]
fn check_reports_bad_cgroup_keys_with_file_and_line() {
    let t = TempDir::new("cgcheck");
    t.write(
        "s/good.ini",
        "[service]\nexec = /bin/true\nmemory-max = 32M\ncpu-max = 150%\npids-max = infinity\n",
    );
    t.write(
        "s/bad.ini",
        "[service]\nexec = /bin/true\nmemory-max = lots\ncpu-weight = 0\ncpu-max = 5s/10s\n",
    );
    t.write(
        "s/warn.ini",
        "[service]\nexec = /bin/true\nmemory-max = 32M\nmemory-high = 32M\n",
    );
    let out = Command::new(bin("svcctl"))
        .arg("--services")
        .arg(t.path("s"))
        .arg("check")
        .env_remove("SVC_SERVICES")
        .env_remove("SVC_ENABLED")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = text(&out.stderr);
    let bad = t.path("s/bad.ini").display().to_string();
    for expected in [
        format!(
            "{bad}:3: invalid value for 'memory-max': expected a size such as 512K, 32M, 1G, a number of bytes, or 'infinity', found 'lots'"
        ),
        format!(
            "{bad}:4: invalid value for 'cpu-weight': expected a weight from 1 to 10000 (the default is 100), found '0'"
        ),
        format!("{bad}:5: invalid value for 'cpu-max': expected QUOTA/PERIOD"),
        format!(
            "{}:4: warning: 'memory-high' (32M) is not below 'memory-max' (32M)",
            t.path("s/warn.ini").display()
        ),
    ] {
        assert!(err.contains(&expected), "missing {expected:?} in:\n{err}");
    }
    assert!(!err.contains("good.ini"), "{err}");
}
