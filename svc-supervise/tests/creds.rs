//! Credentials whose database entries are longer than 16 KiB: a group
//! with many members and a user with a long GECOS field. The supervisor
//! runs in a private mount namespace over a passwd and group file of the
//! test's making (bind mounts there only; the host's /etc is not touched).

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use common::{BIN, SOON, Scratch, need_root};

/// Ends the supervisor (by pid) and reaps it, also when the test fails.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let pid = self.0.id() as i32;
        // SAFETY: the supervisor we started, by pid; it stops its service.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        let deadline = std::time::Instant::now() + SOON;
        while std::time::Instant::now() < deadline {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn entries_longer_than_16_kib_are_resolved() {
    if !need_root("entries_longer_than_16_kib_are_resolved") {
        return;
    }
    let scratch = Scratch::new("creds-long");
    let members: Vec<String> = (0..3000).map(|i| format!("member{i:05}")).collect();
    let mut group = std::fs::read_to_string("/etc/group").unwrap();
    group.push_str(&format!("biggroup:x:4242:biguser,{}\n", members.join(",")));
    let mut passwd = std::fs::read_to_string("/etc/passwd").unwrap();
    passwd.push_str(&format!(
        "biguser:x:4243:4243:{}:/nonexistent:/bin/sh\n",
        "g".repeat(20_000)
    ));
    assert!(group.len() > 32 * 1024 && passwd.len() > 20_000);
    std::fs::write(scratch.path("group"), &group).unwrap();
    std::fs::write(scratch.path("passwd"), &passwd).unwrap();
    let control = scratch.path("control.sock");
    let child = Command::new("unshare")
        .args(["--mount", "--propagation", "private", "--", "/bin/sh", "-c"])
        .arg(
            "mount --bind \"$1\" /etc/passwd && mount --bind \"$2\" /etc/group && \
             shift 2 && exec \"$@\"",
        )
        .arg("sh")
        .arg(scratch.path("passwd"))
        .arg(scratch.path("group"))
        .arg(BIN)
        .args(["--name", "creds-long", "--control"])
        .arg(&control)
        .args([
            "--uid", "biguser", "--gid", "biggroup", "--", "/bin/sh", "-c",
        ])
        .arg("echo ids $(id -u) $(id -g) $(id -G); exec sleep 1000")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut child = Reaped(child);
    // Whatever comes first on either stream: the service's ids, or why
    // it could not start.
    let (tx, rx) = mpsc::channel();
    let out = child.0.stdout.take().unwrap();
    let err = child.0.stderr.take().unwrap();
    for stream in [
        Box::new(out) as Box<dyn std::io::Read + Send>,
        Box::new(err) as Box<dyn std::io::Read + Send>,
    ] {
        let tx = tx.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                if line.starts_with("ids ") || line.contains("failed") || line.contains("error") {
                    let _ = tx.send(line);
                }
            }
        });
    }
    let line = rx
        .recv_timeout(SOON)
        .expect("neither the service's ids nor a failure");
    // uid, gid, then the groups: the gid and the user's own (from passwd).
    assert_eq!(line, "ids 4243 4242 4242 4243", "biguser in biggroup");
}
