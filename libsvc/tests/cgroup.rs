//! libsvc::cgroup on a real cgroup v2 directory of the test's own
//! (tests/support/cgroup.rs): the layout a manager sets up, membership,
//! the populated flag and its notification, signalling and killing.

#[path = "../../tests/support/cgroup.rs"]
mod cgroup_support;

use std::os::fd::AsRawFd;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use cgroup_support::TestCgroup;
use libsvc::cgroup::{Cgroups, Leaf};

fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A `sleep` child, reaped on drop.
struct Sleeper(Child);

impl Sleeper {
    fn new() -> Sleeper {
        Sleeper(Command::new("sleep").arg("1000").spawn().unwrap())
    }
    fn pid(&self) -> i32 {
        self.0.id() as i32
    }
}

impl Drop for Sleeper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Marks `dir` delegated as systemd does for `Delegate=yes`.
fn delegate(dir: &std::path::Path) {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(dir.as_os_str().as_bytes()).unwrap();
    // SAFETY: NUL-terminated name and path; the value and its length match.
    let rc = unsafe {
        libc::setxattr(
            path.as_ptr(),
            c"trusted.delegate".as_ptr(),
            b"1".as_ptr().cast(),
            1,
            0,
        )
    };
    assert_eq!(rc, 0, "setxattr: {}", std::io::Error::last_os_error());
}

/// The mountinfo line a cgroup2 on `mount` would have, for detect_from.
fn mountinfo(cg: &TestCgroup) -> String {
    format!(
        "30 25 0:26 / {} rw,nosuid - cgroup2 cgroup2 rw\n",
        cg.mount.display()
    )
}

#[test]
fn setup_moves_own_processes_to_init_and_makes_the_service_layout() {
    let Some(cg) = TestCgroup::new("layout") else {
        return;
    };
    // A process in C before the set-up: C is not the root, so it must
    // move to C/init before C can have children with controllers.
    let s = Sleeper::new();
    std::fs::write(cg.path("cgroup.procs"), s.pid().to_string()).unwrap();
    // Some cgroup below the mount: not ours to take.
    let e =
        Cgroups::detect_from(&mountinfo(&cg), &format!("0::{}\n", cg.rel), &cg.mount).unwrap_err();
    assert!(e.0.contains("nor delegated"), "{e}");
    // Delegated the way systemd does it (`Delegate=yes`): ours.
    delegate(&cg.dir);
    let mut c = Cgroups::detect_from(&mountinfo(&cg), &format!("0::{}\n", cg.rel), &cg.mount)
        .expect("detected");
    assert_eq!(c.own(), cg.dir);
    c.setup().unwrap();
    assert_eq!(TestCgroup::procs(&cg.path("init")), vec![s.pid()]);
    assert!(TestCgroup::procs(&cg.dir).is_empty());
    assert!(cg.path("svc").is_dir());

    let sc = c.service("web");
    sc.create(c.controllers()).unwrap();
    assert!(cg.path("svc/web/supervisor").is_dir());
    assert!(cg.path("svc/web/service").is_dir());
    assert_eq!(c.service_leaf("web"), cg.path("svc/web/service"));
    assert_eq!(c.existing(), vec!["web".to_string()]);

    // Busy: kept, and said so.
    let t = Sleeper::new();
    let leaf = Leaf::new(sc.service()).unwrap();
    leaf.add(t.pid()).unwrap();
    assert!(!sc.remove().unwrap());
    assert!(sc.service().is_dir());
    drop(t);
    wait_until("the leaf to empty", || !leaf.populated().unwrap());
    assert!(sc.remove().unwrap());
    assert!(!sc.dir().exists());
    // Removing what is gone is no error.
    assert!(sc.remove().unwrap());

    // A container's cgroup namespace shows C as "/", mounted with root
    // "/": still not the hierarchy's root, so its processes move too.
    let u = Sleeper::new();
    std::fs::write(cg.path("cgroup.procs"), u.pid().to_string()).unwrap();
    let ns_view = format!(
        "30 25 0:26 / {} rw,nosuid - cgroup2 cgroup2 rw\n",
        cg.dir.display()
    );
    let mut c = Cgroups::detect_from(&ns_view, "0::/\n", &cg.dir).expect("detected");
    assert_eq!(c.own(), cg.dir);
    c.setup().unwrap();
    assert!(TestCgroup::procs(&cg.path("init")).contains(&u.pid()));
    assert!(TestCgroup::procs(&cg.dir).is_empty());

    // A manager started again by init lives in C/init: its C is still C.
    let again =
        Cgroups::detect_from(&mountinfo(&cg), &format!("0::{}/init\n", cg.rel), &cg.mount).unwrap();
    assert_eq!(again.own(), cg.dir);
}

#[test]
fn members_signals_and_kill() {
    let Some(cg) = TestCgroup::new("leaf") else {
        return;
    };
    let leaf_dir = cg.path("leaf");
    std::fs::create_dir(&leaf_dir).unwrap();
    let leaf = Leaf::new(&leaf_dir).unwrap();
    assert!(!leaf.populated().unwrap());
    let events = leaf.open_events().unwrap();
    assert!(!leaf.populated_fd(&events).unwrap());

    let mut kids: Vec<Sleeper> = (0..3).map(|_| Sleeper::new()).collect();
    for k in &kids {
        leaf.add(k.pid()).unwrap();
    }
    let outsider = Sleeper::new();
    let mut members = leaf.members().unwrap();
    members.sort_unstable();
    let mut want: Vec<i32> = kids.iter().map(Sleeper::pid).collect();
    want.sort_unstable();
    assert_eq!(members, want);
    assert!(leaf.contains(kids[1].pid()).unwrap());
    assert!(!leaf.contains(outsider.pid()).unwrap());
    assert!(leaf.populated_fd(&events).unwrap());

    // One signal reaches every member and no one else.
    assert_eq!(
        leaf.signal_all(nix::sys::signal::Signal::SIGTERM).unwrap(),
        3
    );
    for k in &mut kids {
        let st = k.0.wait().unwrap();
        assert_eq!(std::os::unix::process::ExitStatusExt::signal(&st), Some(15));
    }
    let outsider_pid = nix::unistd::Pid::from_raw(outsider.pid());
    assert!(nix::sys::signal::kill(outsider_pid, None).is_ok());

    // cgroup.kill: everything, at once; the change is signalled (POLLPRI).
    let mut more: Vec<Sleeper> = (0..2).map(|_| Sleeper::new()).collect();
    for k in &more {
        leaf.add(k.pid()).unwrap();
    }
    assert!(leaf.populated_fd(&events).unwrap());
    leaf.kill().unwrap();
    for k in &mut more {
        let st = k.0.wait().unwrap();
        assert_eq!(std::os::unix::process::ExitStatusExt::signal(&st), Some(9));
    }
    let mut pfd = [nix::libc::pollfd {
        fd: events.as_raw_fd(),
        events: nix::libc::POLLPRI,
        revents: 0,
    }];
    // SAFETY: poll on one valid pollfd.
    let n = unsafe { nix::libc::poll(pfd.as_mut_ptr(), 1, 10_000) };
    assert_eq!(n, 1, "no POLLPRI on cgroup.events after the leaf emptied");
    assert!(!leaf.populated_fd(&events).unwrap());
}

#[test]
fn kill_each_is_the_fallback_without_cgroup_kill() {
    // What `kill` does on kernels before 5.14 (no cgroup.kill): freeze,
    // SIGKILL each member, thaw.
    let Some(cg) = TestCgroup::new("killeach") else {
        return;
    };
    let leaf_dir = cg.path("leaf");
    std::fs::create_dir(&leaf_dir).unwrap();
    let leaf = Leaf::new(&leaf_dir).unwrap();
    let mut kids: Vec<Sleeper> = (0..2).map(|_| Sleeper::new()).collect();
    for k in &kids {
        leaf.add(k.pid()).unwrap();
    }
    leaf.kill_each().unwrap();
    for k in &mut kids {
        let st = k.0.wait().unwrap();
        assert_eq!(std::os::unix::process::ExitStatusExt::signal(&st), Some(9));
    }
    wait_until("the leaf to empty", || !leaf.populated().unwrap());
    let frozen = std::fs::read_to_string(leaf_dir.join("cgroup.freeze")).unwrap();
    assert_eq!(frozen.trim(), "0", "left frozen");
}

#[test]
fn a_service_named_like_an_interface_file_gets_no_cgroup() {
    let Some(cg) = TestCgroup::new("ifname") else {
        return;
    };
    let ns_view = format!(
        "30 25 0:26 / {} rw,nosuid - cgroup2 cgroup2 rw\n",
        cg.dir.display()
    );
    let mut c = Cgroups::detect_from(&ns_view, "0::/\n", &cg.dir).expect("detected");
    c.setup().unwrap();
    let sc = c.service("cgroup.procs");
    let e = sc.create(c.controllers()).unwrap_err().to_string();
    assert!(
        e.contains("svc/cgroup.procs: a cgroup interface file"),
        "{e}"
    );
    assert!(sc.remove().unwrap());
}

#[test]
fn errors_name_the_file() {
    let Some(cg) = TestCgroup::new("errors") else {
        return;
    };
    let leaf = Leaf::new(&cg.path("missing")).unwrap();
    let e = leaf.populated().unwrap_err().to_string();
    assert!(e.contains("missing/cgroup.events"), "{e}");
    let e = leaf.add(1).unwrap_err().to_string();
    assert!(e.contains("missing/cgroup.procs"), "{e}");
}
