//! svc-init as PID 1 of a PID+mount namespace gives up on a manager that
//! keeps failing, or that says the boot's sysinit failed, and runs the
//! emergency shell (here a test program, through SVC_EMERGENCY_SHELL)
//! saying why on the console.

mod common;

use common::*;

/// A namespace whose manager is `manager_body` and whose emergency shell
/// is a script that records the manager's start count and exits.
fn run(dir: &TempDir, manager_body: &str) -> Namespace {
    let manager = dir.script("failing-manager", manager_body);
    let shell = dir.script(
        "test-shell",
        &format!(
            // A shell that ends within a second had no console (svc-init
            // then waits 30 s): this one stays a little longer.
            "cat {starts} > {marker}.tmp 2>/dev/null; mv {marker}.tmp {marker}; sleep 1.5",
            starts = dir.path("starts").display(),
            marker = dir.path("shell-ran").display()
        ),
    );
    let mut args = dir.init_args();
    args[1] = manager.into();
    let env = format!("SVC_EMERGENCY_SHELL={}", shell.display());
    Namespace::start(
        dir,
        NamespaceSpec {
            wrapper: &["env", &env],
            inner: &[],
            before: None,
            args,
            stdin: None,
        },
    )
}

#[test]
fn a_manager_failing_at_start_up_is_given_up_for_the_shell() {
    let dir = TempDir::new("fails-at-start");
    let ns = run(
        &dir,
        &format!(
            "echo start >> {}\necho 'svc-manager: /var/log/svc: Read-only file system (os error 30)' >&2\nexit 1",
            dir.path("starts").display()
        ),
    );
    wait_for("the emergency shell", BOUND, || {
        dir.path("shell-ran").exists()
    });
    // It ran when the fifth start-up failure was in, not before.
    assert_eq!(dir.read("shell-ran").lines().count(), 5);
    let err = ns.stderr();
    assert!(
        err.contains("failed at start-up 5 times in a row, the last time with exit status 1"),
        "{err}"
    );
    assert!(err.contains("/log/boot.log"), "{err}");
    assert!(err.contains("starting an emergency shell"), "{err}");
    // The shell has ended: the manager is tried again, five times more.
    wait_for("the manager tried again", BOUND, || {
        dir.read("starts").lines().count() > 5
    });
    ns.signal(libc::SIGUSR2);
    let _ = ns.wait();
}

#[test]
fn a_failed_sysinit_goes_to_the_shell_at_once() {
    let dir = TempDir::new("sysinit-failed");
    let ns = run(
        &dir,
        &format!(
            "echo start >> {}\necho ' * target sysinit failed: dependency fsck failed'\nexit 3",
            dir.path("starts").display()
        ),
    );
    wait_for("the emergency shell", BOUND, || {
        dir.path("shell-ran").exists()
    });
    assert_eq!(dir.read("shell-ran").lines().count(), 1);
    let err = ns.stderr();
    assert!(
        err.contains("the boot stopped: target sysinit failed"),
        "{err}"
    );
    ns.signal(libc::SIGUSR2);
    let _ = ns.wait();
}

/// The whole path with the real svc-manager: a required member of
/// `sysinit` fails (an fsck), the manager says so and exits 3, svc-init
/// opens the emergency shell at once; the "administrator" there repairs
/// the file system and leaves, and the next manager boots through.
#[test]
fn a_failing_fsck_reaches_the_shell_and_the_boot_goes_on_after_it() {
    let dir = TempDir::new("fsck-e2e");
    let manager = svc_init().with_file_name("svc-manager");
    assert!(
        manager.is_file(),
        "{} is missing: run `cargo build --workspace --bins` first",
        manager.display()
    );
    let services = dir.path("services");
    std::fs::create_dir_all(&services).unwrap();
    let broken = dir.path("fs-broken");
    std::fs::write(&broken, "").unwrap();
    for (name, text) in [
        (
            "sysinit",
            "[target]\n[dependencies]\nrequires = fsck\n".to_owned(),
        ),
        (
            "fsck",
            format!(
                "[service]\ntype = oneshot\nexec = /bin/sh -c 'if [ -e {} ]; then echo \"fsck: errors left\" >&2; exit 8; fi'\n",
                broken.display()
            ),
        ),
        (
            "default",
            "[target]\n[dependencies]\nrequires = sysinit\nwants = later\n".to_owned(),
        ),
        (
            "later",
            format!(
                "[service]\nexec = /bin/sh -c 'echo up > {}; exec sleep 1000'\n[dependencies]\nafter = sysinit\n",
                dir.path("later-ran").display()
            ),
        ),
    ] {
        std::fs::write(services.join(format!("{name}.ini")), text).unwrap();
    }
    let shell = dir.script(
        "repair-shell",
        &format!(
            "[ -e {later} ] && echo 'later ran before the shell' > {marker}.bad\nrm {broken}\necho repaired > {marker}\nsleep 1.5",
            later = dir.path("later-ran").display(),
            marker = dir.path("shell-ran").display(),
            broken = broken.display()
        ),
    );
    let mut args = dir.init_args();
    args[1] = manager.into();
    args.extend([
        "--services".into(),
        services.into(),
        "--socket".into(),
        dir.path("sock").into(),
    ]);
    let env_shell = format!("SVC_EMERGENCY_SHELL={}", shell.display());
    let env_enabled = format!("SVC_ENABLED={}", dir.path("enabled").display());
    let ns = Namespace::start(
        &dir,
        NamespaceSpec {
            wrapper: &["env", &env_shell, &env_enabled],
            inner: &[],
            before: None,
            args,
            stdin: None,
        },
    );
    wait_for("the emergency shell", BOUND, || {
        dir.path("shell-ran").exists()
    });
    assert!(
        !dir.path("shell-ran.bad").exists(),
        "later started on a broken fs"
    );
    let err = ns.stderr();
    assert!(
        err.contains("stopped the boot (target sysinit failed)"),
        "{err}"
    );
    wait_for("the boot after the repair", BOUND, || {
        dir.path("later-ran").exists()
    });
    ns.signal(libc::SIGUSR2);
    let _ = ns.wait();
}
