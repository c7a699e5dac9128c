//! Files in a declaration directory that are not regular files: each is
//! reported with its path and what it is, promptly (a FIFO must not block
//! the open), and the rest of the directory still loads.

mod common;

use common::{TempDir, messages};
use libsvc::load::{Layout, ServiceSet};
use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

fn mkfifo(p: &Path) {
    let st = std::process::Command::new("mkfifo")
        .arg(p)
        .status()
        .unwrap();
    assert!(st.success(), "mkfifo {}", p.display());
}

/// Loads `layout` on a thread; a load still blocked after 10 s fails the
/// test. Before failing, the FIFOs are opened for writing so that the
/// blocked `open` returns and the thread can end.
fn load_promptly(layout: Layout, fifos: &[&Path]) -> ServiceSet {
    let (tx, rx) = mpsc::channel();
    let worker = std::thread::spawn(move || {
        let _ = tx.send(ServiceSet::load(&layout));
    });
    match rx.recv_timeout(Duration::from_secs(10)) {
        Ok(set) => {
            worker.join().unwrap();
            set
        }
        Err(_) => {
            for f in fifos {
                use std::os::unix::fs::OpenOptionsExt;
                let _ = std::fs::OpenOptions::new()
                    .write(true)
                    .custom_flags(nix::libc::O_NONBLOCK)
                    .open(f);
            }
            panic!("loading blocked on a FIFO for 10 s");
        }
    }
}

#[test]
fn fifos_sockets_directories_and_dangling_links_are_reported() {
    let t = TempDir::new("odd");
    let s = t.path().join("s");
    t.write("s/good.ini", "[service]\nexec = /bin/sleep 1000\n");
    let fifo = s.join("f.ini");
    mkfifo(&fifo);
    let hidden_fifo = t.path().join("elsewhere.fifo");
    mkfifo(&hidden_fifo);
    std::os::unix::fs::symlink(&hidden_fifo, s.join("x.ini")).unwrap();
    let _listener = std::os::unix::net::UnixListener::bind(s.join("sock.ini")).unwrap();
    std::fs::create_dir(s.join("dir.ini")).unwrap();
    std::os::unix::fs::symlink(t.path().join("nowhere"), s.join("dangling.ini")).unwrap();
    std::os::unix::fs::symlink("/dev/zero", s.join("zero.ini")).unwrap();
    // Enablement entries are never opened; a FIFO there is refused by type.
    t.write("en/default/good", "");
    mkfifo(&t.path().join("en/default/pipe"));

    let set = load_promptly(
        Layout {
            services: vec![s.clone()],
            enabled: Some(t.path().join("en")),
        },
        &[&fifo, &hidden_fifo],
    );
    let m = messages(&set.diagnostics);
    let has = |suffix: String| {
        assert!(m.contains(&suffix), "{suffix:?} not in {m:#?}");
    };
    let d = s.display();
    has(format!("{d}/f.ini: not a regular file (fifo)"));
    has(format!("{d}/x.ini: not a regular file (fifo)"));
    has(format!("{d}/sock.ini: not a regular file (socket)"));
    has(format!("{d}/dir.ini: not a regular file (directory)"));
    has(format!(
        "{d}/zero.ini: not a regular file (character device)"
    ));
    has(format!(
        "{d}/dangling.ini: dangling symlink (to {}/nowhere)",
        t.path().display()
    ));
    has(format!(
        "{}/en/default/pipe: expected an empty file or a symlink (enabled/TARGET/NAME)",
        t.path().display()
    ));
    assert_eq!(m.len(), 7, "{m:#?}");
    assert!(set.declarations.contains_key("good"));
    for name in ["f", "x", "sock", "dir", "dangling", "zero"] {
        assert!(set.broken.contains_key(name), "{name} is not marked broken");
    }
}

#[test]
fn files_given_one_by_one_are_checked_the_same_way() {
    let t = TempDir::new("odd-files");
    let fifo = t.path().join("f.ini");
    mkfifo(&fifo);
    let (tx, rx) = mpsc::channel();
    let f = fifo.clone();
    std::thread::spawn(move || {
        let _ = tx.send(messages(&ServiceSet::load_files(&[f]).diagnostics));
    });
    let m = rx
        .recv_timeout(Duration::from_secs(10))
        .unwrap_or_else(|_| {
            let _ = std::fs::OpenOptions::new().write(true).open(&fifo);
            panic!("load_files blocked on a FIFO");
        });
    assert_eq!(
        m,
        [format!("{}: not a regular file (fifo)", fifo.display())]
    );
}

#[test]
fn a_file_over_the_size_bound_is_refused_unread() {
    let t = TempDir::new("odd-big");
    let big = t.path().join("big.ini");
    // Sparse: 16 MiB + 1 byte of nothing, no disk or memory spent.
    std::fs::File::create(&big)
        .unwrap()
        .set_len(libsvc::decl::MAX_FILE + 1)
        .unwrap();
    let m = messages(&ServiceSet::load_files(std::slice::from_ref(&big)).diagnostics);
    assert_eq!(
        m,
        [format!(
            "{}: larger than {} bytes; not a declaration",
            big.display(),
            libsvc::decl::MAX_FILE
        )]
    );
}
