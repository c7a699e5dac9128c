//! The cgroup keys and usage with a real manager on a cgroup of the
//! test's own (tests/support/cgroup.rs), in a cgroup and mount namespace
//! whose /sys/fs/cgroup is cgroup2 (as cgroups.rs does). On a hybrid host
//! that cgroup2 has no controllers (cgroup v1 holds them): every key is
//! then skipped with one warning naming it and the service still starts;
//! `status` says cgroups are in use and reads what v2 always has (CPU
//! time); svcctl shows the MEM column.

mod common;

#[path = "../../tests/support/cgroup.rs"]
mod cgroup_support;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use cgroup_support::TestCgroup;
use common::*;

const BOUND: Duration = Duration::from_secs(20);

/// svc-manager over `tree` in a mount namespace with cgroup2 on
/// /sys/fs/cgroup, started in `cg`; SIGTERM then SIGKILL on drop.
struct CgManager {
    child: Option<Child>,
}

impl CgManager {
    fn start(tree: &Tree, cg: &TestCgroup) -> CgManager {
        let script = format!(
            "echo $$ > {}/cgroup.procs && exec unshare --cgroup --mount --propagation private \
             sh -c 'mount -t cgroup2 none /sys/fs/cgroup && exec \"$0\" \"$@\"' \"$@\"",
            cg.dir.display()
        );
        let stderr = std::fs::File::create(tree.path("manager.stderr")).unwrap();
        let child = Command::new("sh")
            .args(["-c", &script, "sh"])
            .arg(bin("svc-manager"))
            .args(tree.manager_args())
            .env_remove("NOTIFY_SOCKET")
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("unshare");
        let m = CgManager { child: Some(child) };
        wait_for(BOUND, "the manager's socket", || {
            std::os::unix::net::UnixStream::connect(tree.socket()).is_ok()
        });
        m
    }
}

impl Drop for CgManager {
    fn drop(&mut self) {
        if let Some(c) = self.child.take() {
            terminate(c, Duration::from_secs(20));
        }
    }
}

const KEYS: [(&str, &str, &str); 7] = [
    ("memory-max", "memory", "32M"),
    ("memory-high", "memory", "24M"),
    ("memory-swap-max", "memory", "0"),
    ("cpu-weight", "cpu", "50"),
    ("cpu-max", "cpu", "50%"),
    ("pids-max", "pids", "10"),
    ("io-weight", "io", "200"),
];

#[test]
fn keys_without_their_controller_warn_once_each_and_status_reads_the_leaf() {
    let Some(cg) = TestCgroup::new("mgr-limits") else {
        return;
    };
    let t = Tree::new("cgroups-none");
    let mut lim = String::from("[service]\nexec = /bin/sleep 1000\n");
    for (key, _, value) in KEYS {
        lim.push_str(&format!("{key} = {value}\n"));
    }
    t.write_service("lim", &lim);
    t.write_service("plain", "[service]\nexec = /bin/sleep 1000\n");
    t.write_service("default", "[target]\n[dependencies]\nwants = lim plain\n");
    let _m = CgManager::start(&t, &cg);
    let mut c = Client::connect(&t.socket());
    c.wait_state("lim", "ready");
    c.wait_state("plain", "ready");
    // The weights are written in svc/lim (their controllers enabled in
    // svc), the rest in its leaf (theirs in svc/lim: cpu only because
    // cpu-max asks for it, libsvc::cgroup::LEAF_CONTROLLERS).
    let enabled = |dir: &str| std::fs::read_to_string(cg.path(dir)).unwrap_or_default();
    let (for_services, for_leaves) = (
        enabled("svc/cgroup.subtree_control"),
        enabled("svc/lim/cgroup.subtree_control"),
    );
    let applies = |key: &str, controller: &str| {
        let enabled = if key.ends_with("-weight") {
            &for_services
        } else {
            &for_leaves
        };
        enabled.split_whitespace().any(|c| c == controller)
    };
    let log = std::fs::read_to_string(t.path("manager.stderr")).unwrap();
    assert!(log.contains("cgroups in use at"), "{log}");
    for (key, controller, _) in KEYS {
        let warned = format!("lim: '{key}' not applied: ");
        let n = log.matches(&warned).count();
        if applies(key, controller) {
            assert_eq!(n, 0, "{log}");
        } else {
            assert_eq!(n, 1, "one warning for {key}:\n{log}");
        }
    }
    assert!(
        !log.contains("plain: '"),
        "no warning for a service without keys:\n{log}"
    );

    let reply = c.simple("status", &["lim", "plain", "default"]);
    assert_eq!(reply.get_bool("cgroups"), Some(true), "{reply:?}");
    assert_eq!(reply.get_str("cgroups_note"), None, "{reply:?}");
    let items = reply.get_nvlist_array("services").unwrap();
    for item in &items[..2] {
        let usage = item
            .get_nvlist("usage")
            .unwrap_or_else(|| panic!("{item:?}"));
        assert!(usage.get_number("cpu_usec").is_some(), "{item:?}");
        if !applies("memory-max", "memory") {
            assert_eq!(usage.get_number("memory_current"), None, "{item:?}");
        }
    }
    assert!(
        items[2].get_nvlist("usage").is_none(),
        "a target has no usage"
    );

    let table = Command::new(bin("svcctl"))
        .arg("--socket")
        .arg(t.socket())
        .arg("status")
        .output()
        .unwrap();
    let table = String::from_utf8_lossy(&table.stdout);
    assert!(
        table.lines().next().unwrap_or("").contains(" MEM "),
        "{table}"
    );
    let detail = Command::new(bin("svcctl"))
        .arg("--socket")
        .arg(t.socket())
        .args(["status", "lim"])
        .output()
        .unwrap();
    let detail = String::from_utf8_lossy(&detail.stdout);
    assert!(detail.contains("\n  cpu:        "), "{detail}");
    assert!(!detail.contains("cgroups:"), "{detail}");

    // A rescan with one key changed writes that key alone (here: tries,
    // and warns again for it only), and restarts nothing.
    let pid = c.pid_of("lim");
    t.write_service("lim", &lim.replace("pids-max = 10", "pids-max = 20"));
    c.simple("rescan", &[]);
    if !applies("pids-max", "pids") {
        wait_for(BOUND, "the second pids-max warning", || {
            let log = std::fs::read_to_string(t.path("manager.stderr")).unwrap();
            log.matches("lim: 'pids-max' not applied: ").count() == 2
        });
        let log = std::fs::read_to_string(t.path("manager.stderr")).unwrap();
        for (key, controller, _) in KEYS {
            if key != "pids-max" && !applies(key, controller) {
                let n = log.matches(&format!("lim: '{key}' not applied: ")).count();
                assert_eq!(n, 1, "{key} written again though unchanged:\n{log}");
            }
        }
        assert!(!log.contains("lim: new cgroup limits written"), "{log}");
    }
    assert_eq!(c.pid_of("lim"), pid, "restarted by the rescan");
}
