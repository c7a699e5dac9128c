//! `libsvc::cgroup::fork_into` on a cgroup of the test's own: the child
//! is in that cgroup from its first instruction (its /proc/PID/cgroup says
//! so while it waits), without a write to `cgroup.procs`.

#[path = "../../tests/support/cgroup.rs"]
mod cgroup_support;

use std::os::fd::{AsFd, AsRawFd};

use cgroup_support::TestCgroup;

#[test]
fn a_child_forked_into_a_cgroup_starts_there() {
    let Some(cg) = TestCgroup::new("fork-into") else {
        return;
    };
    let leaf = libsvc::cgroup::Leaf::new(&cg.dir).unwrap();
    let dir = leaf.open_dir().unwrap();
    let (r, w) = nix::unistd::pipe().unwrap();
    // SAFETY: the child only closes its copy of the write end, waits for
    // the parent's to close and _exits.
    let pid = match unsafe { libsvc::cgroup::fork_into(dir.as_fd()) } {
        Ok(0) => unsafe {
            libc::close(w.as_raw_fd());
            let mut b = [0u8; 1];
            libc::read(r.as_raw_fd(), b.as_mut_ptr().cast(), 1);
            libc::_exit(0)
        },
        Ok(pid) => pid,
        Err(e) if libsvc::cgroup::fork_into_unsupported(e) => {
            eprintln!("skipped: this kernel cannot fork into a cgroup (errno {e})");
            return;
        }
        Err(e) => panic!("fork_into: errno {e}"),
    };
    drop(r);
    let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    let members = TestCgroup::procs(&cg.dir);
    drop(w);
    nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None).unwrap();
    assert!(
        text.lines().any(|l| l == format!("0::{}", cg.rel)),
        "the child's cgroup: {text}"
    );
    assert_eq!(members, [pid]);
}

/// What this kernel does with a child born into a cgroup that was killed
/// before: the probe says whether to trust it (printed, for the record),
/// and its cgroup is gone afterwards.
#[test]
fn the_probe_answers_and_leaves_nothing() {
    let Some(cg) = TestCgroup::new("fork-probe") else {
        return;
    };
    let probe = cg.path("probe");
    let sound = libsvc::cgroup::fork_into_is_sound(&probe);
    eprintln!(
        "forking into a killed cgroup on this kernel: {}",
        if sound {
            "sound"
        } else {
            "the child is killed"
        }
    );
    assert!(!probe.exists());
}
