//! The manager with cgroups, on a cgroup of the test's own
//! (tests/support/cgroup.rs): the manager runs in the test's cgroup, in a
//! cgroup and mount namespace whose /sys/fs/cgroup is cgroup2 (as in a
//! container), so that cgroup is its C; everything it makes is below it.

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
        // Into the test's cgroup, then a cgroup and a mount namespace with
        // cgroup2 on /sys/fs/cgroup: what a container engine gives its
        // init (the manager sees "0::/", its cgroup mounted there).
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

fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        !s.rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .starts_with('Z')
    })
}

/// The pids the copies' escaped children wrote, in order.
fn children(t: &Tree) -> Vec<i32> {
    t.lines("children")
        .iter()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}

/// A service whose child escapes with setsid and a double fork and
/// ignores SIGTERM; its supervisor is killed: the manager stops what the
/// service's cgroup holds (the escaped child too, which no process group
/// or session links to the main process any more) before it starts one
/// new copy. Then a stop leaves the cgroup empty, and it is removed.
#[test]
fn a_killed_supervisors_escaped_child_is_stopped_before_the_new_copy() {
    let Some(cg) = TestCgroup::new("mgr-killed") else {
        return;
    };
    let t = Tree::new("cgroups-none");
    let script = t.path("esc.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\n\
             setsid sh -c 'sh -c \"trap \\\"\\\" TERM; echo \\$\\$ >> {}; exec sleep 1000\" &' < /dev/null\n\
             exec sleep 1000\n",
            t.path("children").display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    t.write_service(
        "esc",
        "[service]\nexec = @TMP@/esc.sh\nrestart = always\nstop-timeout = 1\n",
    );
    t.write_service("default", "[target]\n[dependencies]\nwants = esc\n");
    let m = CgManager::start(&t, &cg);
    let mut c = Client::connect(&t.socket());
    c.wait_state("esc", "ready");
    let leaf = cg.path("svc/esc/service");
    let sup_leaf = cg.path("svc/esc/supervisor");
    wait_for(BOUND, "the escaped child", || children(&t).len() == 1);
    let old_child = children(&t)[0];
    let old_main = c.pid_of("esc") as i32;
    let members = TestCgroup::procs(&leaf);
    assert!(members.contains(&old_main), "{members:?}");
    assert!(members.contains(&old_child), "{members:?}");
    // The manager moved itself out of C (not the root) into C/init.
    assert_eq!(
        TestCgroup::procs(&cg.path("init")),
        vec![m.child.as_ref().unwrap().id() as i32]
    );
    let sup = TestCgroup::procs(&sup_leaf);
    assert_eq!(sup.len(), 1, "the supervisor in its leaf: {sup:?}");

    // SAFETY: kill(2) of the supervisor this test's manager started.
    assert_eq!(unsafe { libc::kill(sup[0], libc::SIGKILL) }, 0);
    wait_for(BOUND, "a new copy with its child", || {
        assert!(
            children(&t).iter().filter(|&&p| alive(p)).count() <= 1,
            "two copies: {:?} alive",
            children(&t)
        );
        children(&t).len() == 2 && alive(children(&t)[1]) && c.state("esc") == "ready"
    });
    assert!(
        !alive(old_child),
        "the old escaped child {old_child} survived"
    );
    assert!(!alive(old_main), "the old main {old_main} survived");
    let new_sup = TestCgroup::procs(&sup_leaf);
    assert_eq!(new_sup.len(), 1);
    assert_ne!(new_sup[0], sup[0]);

    let reply = c.simple("stop", &["esc"]);
    assert_eq!(reply.get_bool("ok"), Some(true), "{reply:?}");
    wait_for(BOUND, "the service's cgroup removed", || {
        !cg.path("svc/esc").exists()
    });
    assert!(children(&t).iter().all(|&p| !alive(p)));
    let log = std::fs::read_to_string(t.path("manager.stderr")).unwrap();
    assert!(log.contains("cgroups in use at"), "{log}");
}
