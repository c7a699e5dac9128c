//! libsvc::cgroup::{resources, usage} on a real cgroup v2 directory of the
//! test's own (tests/support/cgroup.rs). On this kind of host the cgroup2
//! mount has no controllers (cgroup v1 holds them), which is exactly the
//! "controller missing" case: every key is skipped with a sentence naming
//! it, nothing is an error, and usage has what v2 always has (`cpu.stat`).

#[path = "../../tests/support/cgroup.rs"]
mod cgroup_support;

use std::process::{Child, Command};
use std::time::{Duration, Instant};

use cgroup_support::TestCgroup;
use libsvc::cgroup::{resources, usage};
use libsvc::{CgroupLimits, CpuMax, LimitValue};

/// A child burning CPU, killed and reaped on drop.
struct Busy(Child);

impl Drop for Busy {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn every_key() -> CgroupLimits {
    CgroupLimits {
        memory_max: Some(LimitValue::Value(32 << 20)),
        memory_high: Some(LimitValue::Infinity),
        memory_swap_max: Some(LimitValue::Value(0)),
        cpu_weight: Some(50),
        cpu_max: Some(CpuMax::Quota {
            quota_us: 50_000,
            period_us: 100_000,
        }),
        pids_max: Some(LimitValue::Value(10)),
        io_weight: Some(200),
    }
}

fn controllers(cg: &TestCgroup) -> String {
    std::fs::read_to_string(cg.path("cgroup.controllers")).unwrap_or_default()
}

#[test]
fn keys_of_missing_controllers_are_skipped_with_their_names() {
    let Some(cg) = TestCgroup::new("resources") else {
        return;
    };
    let have = controllers(&cg);
    // As the manager lays it out: the test's cgroup is the service's, with
    // a leaf below (the weights go to the service's cgroup, never above).
    let leaf = cg.dir.join("service");
    std::fs::create_dir(&leaf).unwrap();
    let done = resources::apply(&leaf, &every_key());
    assert!(done.errors.is_empty(), "{done:?}");
    let skipped = |key: &str| {
        done.skipped
            .iter()
            .any(|s| s.starts_with(&format!("'{key}' not applied: ")))
    };
    for (key, controller) in [
        ("memory-max", "memory"),
        ("memory-high", "memory"),
        ("cpu-weight", "cpu"),
        ("cpu-max", "cpu"),
        ("pids-max", "pids"),
        ("io-weight", "io"),
    ] {
        // This cgroup is not the mount's root, so a controller shows only
        // when its parent enabled it (the test never enables any).
        if !have.split_whitespace().any(|c| c == controller) {
            assert!(skipped(key), "{key} not skipped: {done:?}");
        }
    }
}

#[test]
fn usage_reads_a_real_leaf_and_cpu_time_moves() {
    let Some(cg) = TestCgroup::new("usage") else {
        return;
    };
    let u0 = usage::read(&cg.dir).expect("the leaf is there");
    let c0 = u0
        .cpu_usec
        .expect("cpu.stat usage_usec is always there in v2");
    assert_eq!(c0, 0, "nothing ran in it yet: {u0:?}");
    let busy = Busy(
        Command::new("sh")
            .arg("-c")
            .arg("while :; do :; done")
            .spawn()
            .unwrap(),
    );
    std::fs::write(cg.path("cgroup.procs"), busy.0.id().to_string()).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let c = usage::read(&cg.dir).and_then(|u| u.cpu_usec).unwrap_or(0);
        if c > 10_000 {
            break;
        }
        assert!(Instant::now() < deadline, "cpu_usec stayed at {c}");
        std::thread::sleep(Duration::from_millis(20));
    }
    let u = usage::read(&cg.dir).unwrap();
    if !controllers(&cg).contains("memory") {
        assert_eq!(
            (u.memory_current, u.memory_peak, u.oom_kills),
            (None, None, None)
        );
    }
    if !controllers(&cg).contains("pids") {
        assert_eq!(u.tasks, None);
    }
    drop(busy);
    assert_eq!(usage::read(&cg.dir.join("no-such-leaf")), None);
}
