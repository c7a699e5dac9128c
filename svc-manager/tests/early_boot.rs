//! The early boot on a real host: a log directory that cannot be written
//! yet (a root booted `ro`), and a `sysinit` target that fails (fsck).
//! Scenario: tests/scenarios/early-boot.
//!
//! The read-only log directory is a read-only bind mount of the tree's
//! own `log/` in a private mount namespace of the manager (`unshare -m`):
//! the host's mounts are never touched, and the mount goes with the
//! namespace when the manager exits.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{Manager, Tree, bin, needs_root, wait_for};

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// The names of the files in `dir` (empty when it is missing).
fn files(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .filter_map(|e| e.file_name().into_string().ok())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

fn run_ok(cmd: &mut Command) {
    let out = cmd.output().expect("run a helper command");
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn read_only_log_dir_falls_back_to_runtime_then_moves() {
    if !needs_root(
        "read_only_log_dir_falls_back_to_runtime_then_moves",
        "a bind mount in a private mount namespace",
    ) {
        return;
    }
    let t = Tree::new("early-boot");
    // As /var/log/svc on a root booted `ro`: not there, and its parent
    // cannot be written.
    let ro = t.path("log");
    let log = ro.join("svc");
    let early = t.path("run/log");
    let script = format!(
        "mount --bind '{l}' '{l}' && mount -o remount,bind,ro '{l}' && exec \"$0\" \"$@\"",
        l = ro.display()
    );
    let mut args = t.manager_args();
    let i = args.iter().position(|a| a == "--log-dir").unwrap();
    args[i + 1] = log.to_string_lossy().into_owned();
    let mut cmd = Command::new("unshare");
    cmd.args(["-m", "--propagation", "private", "sh", "-c", &script])
        .arg(bin("svc-manager"))
        .args(&args)
        .env_remove("NOTIFY_SOCKET")
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    let mut child = cmd.spawn().expect("spawn unshare");
    let socket = t.socket();
    wait_for(Duration::from_secs(20), "the manager's socket", || {
        if let Ok(Some(st)) = child.try_wait() {
            panic!("the manager exited ({st}) on a read-only log directory");
        }
        std::os::unix::net::UnixStream::connect(&socket).is_ok()
    });
    let m = Manager {
        child: Some(child),
        socket,
    };
    let mut c = m.client();
    c.wait_state("early", "ready");
    wait_for(Duration::from_secs(10), "early's log under run/log", || {
        read(&early.join("early/current")).contains("early-out")
    });
    assert!(!log.join("early").exists(), "written to the read-only dir?");
    wait_for(
        Duration::from_secs(10),
        "the boot log under run/log",
        || read(&early.join("boot.log")).contains("Starting early"),
    );

    // The root is remounted read-write (in the manager's namespace only).
    run_ok(Command::new("nsenter").args([
        "-t",
        &m.pid().to_string(),
        "-m",
        "mount",
        "-o",
        "remount,bind,rw",
        &ro.to_string_lossy(),
    ]));
    c.simple("rescan", &[]);
    // New services log in the real directory; the boot log moved there.
    c.simple("start", &["later"]);
    wait_for(Duration::from_secs(10), "later's log in log/", || {
        read(&log.join("later/current")).contains("later-out")
    });
    assert!(!early.join("later").exists());
    let boot = read(&log.join("boot.log"));
    assert!(boot.contains("Starting early"), "{boot}");
    assert!(boot.contains("Starting later"), "{boot}");
    assert!(!early.join("boot.log").exists());
    // early's supervisor still holds run/log/early/current: it stays
    // there until early's supervisor goes; a stop is enough.
    assert!(early.join("early/current").exists());
    // A manager started again (adopting) must not move it either: its
    // first check runs before adoption.
    let mut m = m;
    m.kill();
    let mut again = Command::new(bin("svc-manager"));
    again
        .args(&args)
        .env_remove("NOTIFY_SOCKET")
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    let m = Manager {
        child: Some(again.spawn().expect("spawn svc-manager")),
        socket: t.socket(),
    };
    wait_for(
        Duration::from_secs(20),
        "the second manager's socket",
        || std::os::unix::net::UnixStream::connect(&m.socket).is_ok(),
    );
    let mut c = m.client();
    c.wait_state("early", "ready");
    assert!(
        early.join("early/current").exists(),
        "moved while its supervisor writes it"
    );
    c.simple("stop", &["early"]);
    wait_for(Duration::from_secs(10), "early's log moved to log/", || {
        !early.join("early").exists()
    });
    let moved = files(&log.join("early"));
    assert_eq!(moved.len(), 1, "{moved:?}");
    assert!(moved[0].ends_with("Z.log"), "{moved:?}");
    assert!(read(&log.join("early").join(&moved[0])).contains("early-out"));
    // fsck, a finished oneshot, keeps its supervisor (it is up): its log
    // stays early, and `log` finds it there, until the orderly stop.
    assert!(early.join("fsck/current").exists());
    let mut m = m;
    assert_eq!(m.terminate(), Some(0));
    assert!(!early.exists(), "left: {:?}", files(&early));
    let fsck = files(&log.join("fsck"));
    assert_eq!(fsck.len(), 1, "{fsck:?}");
    assert!(read(&log.join("fsck").join(&fsck[0])).contains("fsck-ran"));
}

/// A required member of `sysinit` fails: the manager says what failed
/// on its stdout (the console) and exits 3, which svc-init turns into an
/// emergency shell (svc-init/tests/emergency.rs).
#[test]
fn failed_sysinit_member_ends_the_boot_with_status_3() {
    let t = Tree::new("early-boot");
    std::fs::write(t.path("fsck-fails"), "").unwrap();
    let out_path = t.path("console");
    let out = std::fs::File::create(&out_path).unwrap();
    let mut child = Command::new(bin("svc-manager"))
        .args(t.manager_args())
        .env_remove("NOTIFY_SOCKET")
        .stdin(Stdio::null())
        .stdout(out)
        .spawn()
        .expect("spawn svc-manager");
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the manager did not exit: {}", read(&out_path));
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let console = read(&out_path);
    assert_eq!(status.code(), Some(3), "{console}");
    assert!(
        console.contains("target sysinit failed"),
        "console: {console}"
    );
    assert!(console.contains("   fsck: "), "{console}");
    assert!(console.contains("its log: "), "{console}");
    // and the end of that log: what fsck said
    assert!(console.contains("fsck: errors left"), "{console}");
    // `early` is wanted by default, which requires sysinit: never started.
    assert!(!t.path("log/early/current").exists());

    // Fixed by hand in the shell; the next manager boots through.
    std::fs::remove_file(t.path("fsck-fails")).unwrap();
    let m2 = Manager::start(&t, &[]);
    m2.client().wait_state("early", "ready");
}

/// `--quiet` (svc-init passes it for the kernel's `quiet`): the console
/// keeps the status lines and the warnings, the boot log gets everything.
/// Each diagnostic line on a serial or emulated console costs the boot
/// real time.
#[test]
fn a_quiet_manager_keeps_its_info_lines_off_the_console() {
    let t = Tree::new("early-boot");
    std::fs::write(t.path("fsck-fails"), "").unwrap();
    let out_path = t.path("console");
    let err_path = t.path("stderr");
    let mut child = Command::new(bin("svc-manager"))
        .args(t.manager_args())
        .arg("--quiet")
        .env_remove("NOTIFY_SOCKET")
        .env_remove("SVC_LOG")
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .spawn()
        .expect("spawn svc-manager");
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the manager did not exit: {}", read(&err_path));
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(3));
    let console = read(&out_path);
    assert!(console.contains("Starting early"), "{console}");
    let stderr = read(&err_path);
    assert!(!stderr.contains(" INFO "), "info on the console: {stderr}");
    assert!(
        stderr.contains(" WARN ") || stderr.contains(" ERROR "),
        "the warnings stay on the console: {stderr}"
    );
    let boot = read(&t.path("log").join("boot.log"));
    assert!(boot.contains(" INFO "), "boot.log: {boot}");
    assert!(boot.contains("Starting early"), "boot.log: {boot}");
}
