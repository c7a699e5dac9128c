//! Two real processes exchange lists carrying 0, 1, 3 and 200 descriptors (pipes), in both
//! directions, and use the descriptors they received.
//!
//! `harness = false`: this binary is both the parent (run by `cargo test`) and, re-executed
//! with `LIBNV_TEST_CHILD_SOCKET` set, the child.

use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::net::{UnixListener, UnixStream};
use std::process::{Child, Command};
use std::time::Duration;

use libnv::{NvList, UnpackOptions};

const CHILD_ENV: &str = "LIBNV_TEST_CHILD_SOCKET";
const COUNTS: [usize; 4] = [0, 1, 3, 200];

fn pipes(n: usize) -> (Vec<OwnedFd>, Vec<OwnedFd>) {
    (0..n)
        .map(|_| {
            let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).unwrap();
            (r, w)
        })
        .unzip()
}

/// `first` = descriptor 0, `rest` = the others as an array (both kinds of pairs).
fn list_with(mut fds: Vec<OwnedFd>) -> NvList {
    let mut l = NvList::new();
    l.add_number("count", fds.len() as u64).unwrap();
    l.add_number("pid", std::process::id() as u64).unwrap();
    if !fds.is_empty() {
        let rest = fds.split_off(1);
        l.move_descriptor("first", fds.pop().unwrap()).unwrap();
        if !rest.is_empty() {
            l.move_descriptor_array("rest", rest).unwrap();
        }
    }
    l
}

fn take_all(mut l: NvList) -> Vec<OwnedFd> {
    let mut out = Vec::new();
    out.extend(l.take_descriptor("first"));
    out.extend(l.take_descriptor_array("rest").unwrap_or_default());
    out
}

fn read_all(fd: OwnedFd) -> String {
    let mut s = String::new();
    std::fs::File::from(fd).read_to_string(&mut s).unwrap();
    s
}

fn child(path: &str) {
    let sock = UnixStream::connect(path).unwrap();
    loop {
        let req = NvList::recv(&sock, &UnpackOptions::default()).unwrap();
        if req.get_bool("done") == Some(true) {
            return;
        }
        let n = req.get_number("count").unwrap() as usize;
        let received = take_all(req);
        assert_eq!(received.len(), n);
        for (i, fd) in received.into_iter().enumerate() {
            std::fs::File::from(fd)
                .write_all(format!("to-parent-{i}").as_bytes())
                .unwrap();
        }
        let (readers, writers) = pipes(n);
        for (i, w) in writers.into_iter().enumerate() {
            std::fs::File::from(w)
                .write_all(format!("from-child-{i}").as_bytes())
                .unwrap();
        }
        list_with(readers).send(&sock).unwrap();
    }
}

struct KillOnDrop(Child);
impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

struct TempDir(std::path::PathBuf);
impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn parent() -> usize {
    let dir = TempDir(std::env::temp_dir().join(format!(
        "libnv-processes-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    )));
    std::fs::create_dir_all(&dir.0).unwrap();
    let path = dir.0.join("sock");
    let listener = UnixListener::bind(&path).unwrap();
    let exe = std::env::current_exe().unwrap();
    let mut child = KillOnDrop(Command::new(exe).env(CHILD_ENV, &path).spawn().unwrap());
    let (sock, _) = listener.accept().unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let mut passed = 0;
    for n in COUNTS {
        let (readers, writers) = pipes(n);
        list_with(writers).send(&sock).unwrap();
        let reply = NvList::recv(&sock, &UnpackOptions::default()).unwrap();
        assert_eq!(reply.get_number("count"), Some(n as u64));
        let child_pid = reply.get_number("pid").unwrap();
        assert_ne!(child_pid, std::process::id() as u64, "a separate process");
        for (i, fd) in take_all(reply).into_iter().enumerate() {
            assert_eq!(read_all(fd), format!("from-child-{i}"));
        }
        for (i, fd) in readers.into_iter().enumerate() {
            assert_eq!(read_all(fd), format!("to-parent-{i}"));
        }
        println!("test exchange_with_{n}_descriptors ... ok");
        passed += 1;
    }
    let mut done = NvList::new();
    done.add_bool("done", true).unwrap();
    done.send(&sock).unwrap();
    let status = child.0.wait().unwrap();
    assert!(status.success(), "child failed: {status}");
    passed
}

fn main() {
    if let Ok(path) = std::env::var(CHILD_ENV) {
        child(&path);
        return;
    }
    // Behave enough like the libtest harness for `cargo test` filters and `--list`.
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--list") {
        println!("exchange_with_descriptors: test");
        return;
    }
    let filters: Vec<&String> = args.iter().filter(|a| !a.starts_with('-')).collect();
    if !filters.is_empty()
        && !filters
            .iter()
            .any(|f| "exchange_with_descriptors".contains(f.as_str()))
    {
        println!("\ntest result: ok. 0 passed; 0 failed; 0 ignored; 0 measured; 1 filtered out");
        return;
    }
    let passed = parent();
    println!("\ntest result: ok. {passed} passed; 0 failed; 0 ignored; 0 measured; 0 filtered out");
}
