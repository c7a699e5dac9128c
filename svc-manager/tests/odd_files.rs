//! A FIFO (or a symlink to one) in the declaration directory: `rescan`
//! answers with the file's path and what it is, and the manager keeps
//! serving; before, it blocked in open() and every client hung.

mod common;

use std::path::Path;
use std::time::Duration;

use common::*;

fn mkfifo(p: &Path) {
    let st = std::process::Command::new("mkfifo")
        .arg(p)
        .status()
        .unwrap();
    assert!(st.success(), "mkfifo {}", p.display());
}

/// Opens the FIFOs for writing, so that a manager blocked opening one
/// for reading gets going again (and the test can end).
fn unblock(fifos: &[&Path]) {
    use std::os::unix::fs::OpenOptionsExt;
    for f in fifos {
        let _ = std::fs::OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(f);
    }
}

#[test]
fn rescan_reports_a_fifo_and_the_manager_keeps_serving() {
    let t = Tree::new("odd-files");
    t.write_service("default", "[target]\n[dependencies]\nwants = a\n");
    t.write_service("a", "[service]\nexec = /bin/sleep 1000\n");
    let m = Manager::start(&t, &[]);
    let mut c = m.client();
    c.wait_state("a", "ready");
    let pid = c.pid_of("a");

    let fifo = t.services().join("f.ini");
    mkfifo(&fifo);
    let elsewhere = t.path("pipe");
    mkfifo(&elsewhere);
    std::os::unix::fs::symlink(&elsewhere, t.services().join("x.ini")).unwrap();
    // The rescan runs on a thread of its own: should the manager block,
    // the FIFOs are opened for writing until it answers, so the failure
    // is a report and not a hung test.
    let (tx, rx) = std::sync::mpsc::channel();
    let mut rescanner = m.client();
    std::thread::spawn(move || {
        let _ = tx.send(rescanner.simple("rescan", &[]));
    });
    let reply = match rx.recv_timeout(Duration::from_secs(10)) {
        Ok(r) => r,
        Err(_) => {
            for _ in 0..100 {
                unblock(&[&fifo, &elsewhere]);
                if rx.recv_timeout(Duration::from_millis(100)).is_ok() {
                    break;
                }
            }
            panic!("no reply to rescan within 10 s: the manager blocked on a FIFO");
        }
    };
    let errors: Vec<String> = reply
        .get_string_array("errors")
        .unwrap_or(&[])
        .iter()
        .map(|e| String::from_utf8_lossy(e).into_owned())
        .collect();
    for expected in [
        format!("{}: not a regular file (fifo)", fifo.display()),
        format!(
            "{}: not a regular file (fifo)",
            t.services().join("x.ini").display()
        ),
    ] {
        assert!(errors.contains(&expected), "{expected:?} not in {errors:?}");
    }
    // Still serving, this client and a new one; nothing running disturbed.
    assert_eq!(c.pid_of("a"), pid);
    let mut other = m.client();
    assert_eq!(other.state("a"), "ready");
    let r = other.simple("status", &["f"]);
    assert!(r.get_number("ipc:error_code").is_some(), "{r:?}");
}
