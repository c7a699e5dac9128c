//! The supervisor with a cgroup leaf (`cgroup` in the declaration; a
//! cgroup of the test's own, tests/support/cgroup.rs): the service runs
//! in the leaf, a stop leaves it empty whatever escaped, leftovers are
//! killed before a start and when the supervisor exits, and MAINPID or a
//! pid file may only name a member.

mod common;

#[path = "../../tests/support/cgroup.rs"]
mod cgroup_support;

use std::process::{Child, Command, Stdio};

use cgroup_support::TestCgroup;
use common::*;
use libnv::NvList;

/// A process of the test's, outside the service's leaf unless moved.
struct Other(Child);

impl Other {
    fn spawn() -> Other {
        Other(
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

impl Drop for Other {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A leaf under the test's cgroup, and the declaration pointing at it.
fn leaf(cg: &TestCgroup, mut s: NvList) -> (std::path::PathBuf, NvList) {
    let dir = cg.path("service");
    std::fs::create_dir(&dir).unwrap();
    s.add_string("cgroup", dir.to_str().unwrap()).unwrap();
    (dir, s)
}

/// Whether `pid` exists and is not a zombie.
fn running(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        !s.rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .starts_with('Z')
    })
}

#[test]
fn an_escaped_process_is_in_the_leaf_and_the_stop_empties_it() {
    let Some(cg) = TestCgroup::new("sup-escape") else {
        return;
    };
    let t = Scratch::new("cgescape");
    let pidf = t.path("escaped.pid");
    // setsid + double fork, and deaf to SIGTERM: no process group, no
    // session, no parent links it to the main process any more.
    let script = format!(
        "setsid sh -c 'sh -c \"trap \\\"\\\" TERM; echo \\$\\$ > {}; exec sleep 1000\" &' ; exec sleep 1000",
        pidf.display()
    );
    let (dir, mut s) = leaf(&cg, svc("cgescape", &script));
    s.add_number("stop_timeout", 1000).unwrap();
    let mut sup = Sup::managed(&t, s);
    sup.call("start", |_| {});
    let main = num(&sup.wait_state("ready"), "pid") as i32;
    wait_for("the escaped pid", || {
        !t.read("escaped.pid").trim().is_empty()
    });
    let escaped: i32 = t.read("escaped.pid").trim().parse().unwrap();
    let members = TestCgroup::procs(&dir);
    assert!(members.contains(&main), "main {main} not in {members:?}");
    assert!(
        members.contains(&escaped),
        "escaped {escaped} not in {members:?}"
    );

    // A restart: the old run's escaped child is killed with it, and the
    // new run starts without taking it for a stranger's leftover.
    sup.call("restart", |_| {});
    let st = sup.wait_status("a new main pid", |st| {
        state(st) == "ready" && num(st, "pid") as i32 != main
    });
    let main = num(&st, "pid") as i32;
    wait_for("the old escaped child gone", || !running(escaped));
    wait_for("the new escaped pid", || {
        t.read("escaped.pid")
            .trim()
            .parse::<i32>()
            .is_ok_and(|p| p != escaped)
    });
    let escaped: i32 = t.read("escaped.pid").trim().parse().unwrap();
    assert!(TestCgroup::procs(&dir).contains(&main));
    let err = std::fs::read_to_string(&sup.err).unwrap();
    assert!(
        !err.contains("left in"),
        "a restart's own run taken for leftovers: {err}"
    );

    sup.call("stop", |_| {});
    sup.wait_state("down");
    wait_for("the leaf to empty", || !TestCgroup::populated(&dir));
    assert!(!running(escaped), "the escaped process outlived the stop");
}

#[test]
fn exit_waits_until_the_leaf_is_empty() {
    let Some(cg) = TestCgroup::new("sup-exit") else {
        return;
    };
    let t = Scratch::new("cgexit");
    // The service leaves a daemon behind on purpose (a oneshot), which a
    // supervisor without cgroups would leave running when it exits.
    let (dir, mut s) = leaf(
        &cg,
        svc(
            "cgexit",
            "setsid sleep 1000 < /dev/null > /dev/null 2>&1 & exit 0",
        ),
    );
    s.add_string("type", "oneshot").unwrap();
    let mut sup = Sup::managed(&t, s);
    sup.call("start", |_| {});
    sup.wait_state("finished");
    let left = TestCgroup::procs(&dir);
    assert_eq!(left.len(), 1, "{left:?}");
    sup.call("exit", |_| {});
    assert_eq!(sup.wait_exit(), Some(0));
    assert!(
        !TestCgroup::populated(&dir),
        "the supervisor exited leaving {:?}",
        TestCgroup::procs(&dir)
    );
    assert!(!running(left[0]));
}

#[test]
fn leftovers_in_the_leaf_are_killed_before_the_start() {
    let Some(cg) = TestCgroup::new("sup-left") else {
        return;
    };
    let t = Scratch::new("cgleft");
    let (dir, s) = leaf(&cg, svc("cgleft", "exec sleep 1000"));
    // What a dead supervisor's service left there.
    let mut old = Other::spawn();
    std::fs::write(dir.join("cgroup.procs"), old.pid().to_string()).unwrap();
    let mut sup = Sup::managed(&t, s);
    sup.call("start", |_| {});
    let main = num(&sup.wait_state("ready"), "pid") as i32;
    let mut st = None;
    wait_for("the leftover to be killed", || {
        st = old.0.try_wait().unwrap();
        st.is_some()
    });
    let st = st.unwrap();
    assert_eq!(std::os::unix::process::ExitStatusExt::signal(&st), Some(9));
    assert_eq!(TestCgroup::procs(&dir), vec![main]);
    let err = std::fs::read_to_string(&sup.err).unwrap();
    assert!(err.contains("left in"), "no notice: {err}");
}

#[test]
fn mainpid_must_be_a_member_of_the_leaf_even_from_root() {
    let Some(cg) = TestCgroup::new("sup-mainpid") else {
        return;
    };
    let t = Scratch::new("cgmainpid");
    let foreign = Other::spawn();
    let script = format!(
        "exec {NOTIFY_BIN} MAINPID={} READY=1 -- sleep 1000",
        foreign.pid()
    );
    let (_dir, mut s) = leaf(&cg, svc("cgmainpid", &script));
    s.add_string("ready", "sd-notify").unwrap();
    let mut sup = Sup::managed(&t, s);
    sup.call("start", |_| {});
    let st = sup.wait_state("ready");
    assert_ne!(
        num(&st, "pid") as i32,
        foreign.pid(),
        "root named a foreign MAINPID"
    );
    sup.call("stop", |_| {});
    sup.wait_state("down");
    assert!(running(foreign.pid()), "the stop killed a foreign process");
    let err = std::fs::read_to_string(&sup.err).unwrap();
    assert!(
        err.contains("not a process of the service's cgroup"),
        "{err}"
    );
    drop(sup);

    // A process of the service (a grandchild in the leaf): accepted.
    let Some(cg) = TestCgroup::new("sup-mainpid-ok") else {
        return;
    };
    let t = Scratch::new("cgmainpidok");
    let script = format!("sleep 1000 & exec {NOTIFY_BIN} MAINPID=$! READY=1 -- sleep 1000");
    let (dir, mut s) = leaf(&cg, svc("cgmainpidok", &script));
    s.add_string("ready", "sd-notify").unwrap();
    let mut sup = Sup::managed(&t, s);
    sup.call("start", |_| {});
    let main = num(&sup.wait_state("ready"), "pid") as i32;
    wait_for("the main pid from MAINPID", || {
        let st = sup.status();
        let pid = num(&st, "pid") as i32;
        pid != main || TestCgroup::procs(&dir).contains(&pid)
    });
    let pid = num(&sup.status(), "pid") as i32;
    assert!(TestCgroup::procs(&dir).contains(&pid));
}

#[test]
fn a_pidfile_must_name_a_member_of_the_leaf() {
    let Some(cg) = TestCgroup::new("sup-pidfile") else {
        return;
    };
    let t = Scratch::new("cgpidfile");
    let foreign = Other::spawn();
    // A root-owned file in a root-owned directory: trusted without a
    // cgroup; with one, the pid must still be the service's.
    let pidfile = t.path("daemon.pid");
    let script = format!("echo {} > {}; exit 0", foreign.pid(), pidfile.display());
    let (_dir, mut s) = leaf(&cg, svc("cgpidfile", &script));
    s.add_string("type", "forking").unwrap();
    s.add_string("pidfile", pidfile.to_str().unwrap()).unwrap();
    s.add_number("ready_timeout", 1000).unwrap();
    s.add_number("stop_timeout", 1000).unwrap();
    s.add_string("restart", "never").unwrap();
    let mut sup = Sup::managed(&t, s);
    sup.call("start", |_| {});
    sup.wait_status("the start to fail", |st| {
        assert_ne!(
            num(st, "pid") as i32,
            foreign.pid(),
            "a pidfile named a foreign pid"
        );
        state(st) == "failed"
    });
    assert!(running(foreign.pid()), "a foreign process was killed");
    let err = std::fs::read_to_string(&sup.err).unwrap();
    assert!(
        err.contains("not a process of the service's cgroup"),
        "{err}"
    );
}
