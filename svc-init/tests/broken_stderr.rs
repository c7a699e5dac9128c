//! No diagnostic write may end svc-init: with stderr (or stdout) on
//! /dev/full or on a pipe whose reader has gone, each line is lost and
//! nothing else — as an entrypoint, as PID 1 of a namespace, and for
//! `--help`, `--version` and usage errors.

mod common;

use std::os::fd::OwnedFd;
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, ExitStatus, Stdio};

use common::*;

/// Where the diagnostics go.
#[derive(Clone, Copy, Debug)]
enum Sink {
    Full,
    ReaderGone,
}

impl Sink {
    fn stdio(self) -> Stdio {
        match self {
            Sink::Full => Stdio::from(
                std::fs::File::options()
                    .write(true)
                    .open("/dev/full")
                    .unwrap(),
            ),
            Sink::ReaderGone => {
                let (read, write): (OwnedFd, OwnedFd) =
                    nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).unwrap();
                drop(read);
                Stdio::from(write)
            }
        }
    }

    /// The same for a shell's `exec` before svc-init: fd 2 on it.
    fn shell(self) -> &'static str {
        match self {
            Sink::Full => "exec 2>/dev/full",
            // fd 3 reads and writes the FIFO so that opening it for fd 2
            // does not block; closing fd 3 leaves no reader.
            Sink::ReaderGone => {
                "f=$(mktemp -u) && mkfifo \"$f\" && exec 3<>\"$f\" 2>\"$f\" 3<&- && rm \"$f\""
            }
        }
    }
}

fn bounded(mut child: std::process::Child) -> ExitStatus {
    let deadline = std::time::Instant::now() + BOUND;
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("svc-init did not end");
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

/// An entrypoint with declarations and a manager that cannot run: svc-init
/// logs about it (errors are printed even by a quiet entrypoint) while CMD
/// runs, and must still pass on CMD's status.
fn entrypoint_with_diagnostics(dir: &TempDir, stderr: Stdio) -> ExitStatus {
    let services = dir.path("services.d");
    std::fs::create_dir_all(&services).unwrap();
    let child = Command::new(svc_init())
        .arg("--services")
        .arg(&services)
        .args(["--manager", "/nonexistent/svc-manager", "--runtime-dir"])
        .arg(dir.path("run"))
        .args(["--", "sh", "-c", "sleep 0.2; exit 7"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .unwrap();
    bounded(child)
}

#[test]
fn an_entrypoint_whose_stderr_fails_still_runs_cmd_and_returns_its_status() {
    // The control: there are diagnostics to lose.
    let dir = TempDir::new("stderr-control");
    let log = dir.path("stderr");
    let status = entrypoint_with_diagnostics(&dir, std::fs::File::create(&log).unwrap().into());
    assert_eq!(status.code(), Some(7), "{status:?}");
    let said = std::fs::read_to_string(&log).unwrap();
    assert!(said.contains("svc-manager"), "no diagnostics: {said:?}");

    for sink in [Sink::Full, Sink::ReaderGone] {
        let dir = TempDir::new("stderr-entry");
        let status = entrypoint_with_diagnostics(&dir, sink.stdio());
        assert_eq!(status.code(), Some(7), "{sink:?}: {status:?}");
    }
}

#[test]
fn help_version_and_usage_errors_do_not_panic_on_a_broken_stream() {
    for sink in [Sink::Full, Sink::ReaderGone] {
        for (args, stdout_matters, want) in [
            (&["--help"][..], true, 1),
            (&["--version"], true, 1),
            (&["--bogus"], false, 2),
        ] {
            let mut cmd = Command::new(svc_init());
            cmd.args(args).stdin(Stdio::null());
            if stdout_matters {
                cmd.stdout(sink.stdio()).stderr(Stdio::null());
            } else {
                cmd.stdout(Stdio::null()).stderr(sink.stdio());
            }
            let status = bounded(cmd.spawn().unwrap());
            assert_eq!(
                (status.code(), status.signal()),
                (Some(want), None),
                "{args:?} with {sink:?}"
            );
        }
    }
}

#[test]
fn pid1_whose_stderr_fails_still_reaps_and_shuts_down() {
    for sink in [Sink::Full, Sink::ReaderGone] {
        let dir = TempDir::new("stderr-pid1");
        let ns = Namespace::start(
            &dir,
            NamespaceSpec {
                wrapper: &[],
                inner: &[],
                before: Some(sink.shell()),
                args: dir.init_args(),
                stdin: None,
            },
        );
        wait_for("the manager and its service", BOUND, || {
            dir.run("manager.ready").exists() && dir.run("service.pid").exists()
        });
        let init = ns.init();
        let fd2 = format!("/proc/{init}/fd/2");
        match sink {
            Sink::Full => assert_eq!(
                std::fs::read_link(&fd2).unwrap().to_str(),
                Some("/dev/full")
            ),
            Sink::ReaderGone => {
                use std::os::unix::fs::FileTypeExt;
                assert!(std::fs::metadata(&fd2).unwrap().file_type().is_fifo());
            }
        }
        // 200 orphans come to PID 1 (each a line-less reap), and every
        // signal below is a line svc-init tries to write.
        let manager = *children_of(init)
            .iter()
            .find(|&&p| cmdline_of(p).contains("stand-in-manager"))
            .expect("manager");
        send(manager, libc::SIGUSR1);
        wait_for("the storm", BOUND, || {
            dir.read("run/manager.log").contains("storm")
        });
        ns.signal(libc::SIGHUP);
        wait_for("the rescan", BOUND, || {
            dir.read("run/manager.log").contains("rescan")
        });
        wait_for("every orphan reaped", BOUND, || {
            let kids = children_of(init);
            kids.len() <= 3 && kids.iter().all(|&p| state_of(p) != Some('Z'))
        });
        ns.signal(libc::SIGUSR2);
        let status = ns.wait();
        assert_eq!(status.signal(), Some(libc::SIGINT), "{sink:?}: {status:?}");
        assert!(dir.run("service.stopped").exists(), "{sink:?}: not orderly");
    }
}
