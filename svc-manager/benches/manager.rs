//! Manager benchmarks (harness = false); figures only, nothing asserted.
//!
//!   cargo build --release --workspace --bins
//!   cargo bench -p svc-manager --bench manager [-- QUICK]
//!
//! 1. bring-up: N = 100 and 1000 `sleep` services until the target has
//!    settled (the manager's --notify-fd line), median of a few runs;
//! 2. `svcctl status NAME` as a whole process, 1000 times, interleaved with
//!    spawning /bin/true (the floor);
//! 3. status requests per second over one open connection;
//! 4. `svcctl status` of 1000 services, as a whole process.

use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use libnv::{NvList, UnpackOptions};

fn bin(name: &str) -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let dir = exe.parent()?;
    let dir = if dir.ends_with("deps") {
        dir.parent()?
    } else {
        dir
    };
    let p = dir.join(name);
    p.is_file().then_some(p)
}

struct Tree {
    root: PathBuf,
}

impl Tree {
    fn new(n: usize) -> Tree {
        let root = std::env::temp_dir().join(format!("svc-bench-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let services = root.join("services");
        std::fs::create_dir_all(&services).unwrap();
        let mut names = Vec::new();
        for i in 0..n {
            let name = format!("s{i:04}");
            std::fs::write(
                services.join(format!("{name}.ini")),
                "[service]\nexec = /bin/sleep 100000\n[logging]\noutput = null\n",
            )
            .unwrap();
            names.push(name);
        }
        std::fs::write(
            services.join("default.ini"),
            format!("[target]\n[dependencies]\nrequires = {}\n", names.join(" ")),
        )
        .unwrap();
        Tree { root }
    }
    fn socket(&self) -> PathBuf {
        self.root.join("sock")
    }
}

impl Drop for Tree {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

struct Running {
    child: Child,
}

impl Drop for Running {
    fn drop(&mut self) {
        // SAFETY: kill(2) on our own child: stop everything, then exit.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let _ = self.child.wait();
    }
}

/// Starts a manager on `tree`; returns it and the time until its target
/// settled.
fn start(tree: &Tree) -> (Running, Duration) {
    let mut fds = [0; 2];
    // SAFETY: pipe(2) into a two-int array.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    // SAFETY: both ends are ours alone from here on.
    let (r, w) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    let began = Instant::now();
    let child = Command::new(bin("svc-manager").expect("svc-manager built"))
        .arg("--socket")
        .arg(tree.socket())
        .arg("--services")
        .arg(tree.root.join("services"))
        .arg("--runtime-dir")
        .arg(tree.root.join("run"))
        .arg("--log-dir")
        .arg(tree.root.join("log"))
        .arg("--notify-fd")
        .arg(w.as_raw_fd().to_string())
        .env("SVC_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    drop(w);
    let mut f = std::fs::File::from(r);
    let mut byte = [0u8; 1];
    let _ = f.read(&mut byte);
    (Running { child }, began.elapsed())
}

/// Spawning `n` sleeps one after the other (each exec'd when spawn
/// returns): the least any bring-up of `n` services costs here.
fn spawn_floor(n: usize) -> Duration {
    use std::os::unix::process::CommandExt;
    let t = Instant::now();
    let children: Vec<Child> = (0..n)
        .map(|_| {
            Command::new("/bin/sleep")
                .arg("100000")
                .process_group(0)
                .spawn()
                .unwrap()
        })
        .collect();
    let took = t.elapsed();
    for mut c in children {
        let _ = c.kill();
        let _ = c.wait();
    }
    took
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn spawn_wait(program: &Path, args: &[&str]) -> Duration {
    let t = Instant::now();
    let st = Command::new(program)
        .args(args)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(st.success() || st.code() == Some(3));
    t.elapsed()
}

fn main() {
    let quick = std::env::args().any(|a| a == "QUICK");
    if bin("svc-manager").is_none() || bin("svc-supervise").is_none() {
        eprintln!("build the binaries first: cargo build --release --workspace --bins");
        return;
    }
    let runs = if quick { 1 } else { 3 };
    let sizes: &[usize] = if std::env::args().any(|a| a == "CONTROL") {
        &[]
    } else {
        &[100, 1000]
    };
    for &n in sizes {
        let (mut times, mut floors) = (Vec::new(), Vec::new());
        for _ in 0..runs {
            let tree = Tree::new(n);
            let (m, took) = start(&tree);
            times.push(took);
            drop(m);
            floors.push(spawn_floor(n));
        }
        let (t, f) = (median(times), median(floors));
        println!(
            "bring-up N={n}: median {:.3} s; floor (spawn {n} sleeps, no supervision) {:.3} s; ratio {:.2} ({runs} runs)",
            t.as_secs_f64(),
            f.as_secs_f64(),
            t.as_secs_f64() / f.as_secs_f64()
        );
    }

    let tree = Tree::new(1000);
    let (_m, _) = start(&tree);
    let sock = tree.socket();
    let sock_s = sock.to_string_lossy().into_owned();
    let rounds = if quick { 100 } else { 1000 };
    if let Some(svcctl) = bin("svcctl") {
        let (mut ctl, mut floor) = (Vec::new(), Vec::new());
        for _ in 0..rounds {
            ctl.push(spawn_wait(
                &svcctl,
                &["--socket", &sock_s, "status", "s0500"],
            ));
            floor.push(spawn_wait(Path::new("/bin/true"), &[]));
        }
        let (c, f) = (median(ctl), median(floor));
        println!(
            "svcctl status NAME: median {:.3} ms; /bin/true {:.3} ms; ratio {:.2}",
            c.as_secs_f64() * 1e3,
            f.as_secs_f64() * 1e3,
            c.as_secs_f64() / f.as_secs_f64()
        );
        let all: Vec<Duration> = (0..if quick { 3 } else { 20 })
            .map(|_| spawn_wait(&svcctl, &["--socket", &sock_s, "status"]))
            .collect();
        println!(
            "svcctl status (1000 services): median {:.1} ms",
            median(all).as_secs_f64() * 1e3
        );
    } else {
        println!("svcctl not built: skipping the whole-process figures");
    }

    let s = UnixStream::connect(&sock).unwrap();
    let total = if quick { 2000 } else { 20000 };
    let t = Instant::now();
    for id in 1..=total {
        let mut req = NvList::new();
        req.add_number("ipc:version", 1).unwrap();
        req.add_number("ipc:id", id).unwrap();
        req.add_string("ipc:method", "status").unwrap();
        req.add_bool("ipc:reply", false).unwrap();
        req.add_string_array("names", ["s0500"]).unwrap();
        req.send(&s).unwrap();
        let reply = NvList::recv(&s, &UnpackOptions::default()).unwrap();
        assert_eq!(reply.get_number("ipc:id"), Some(id));
    }
    let secs = t.elapsed().as_secs_f64();
    println!(
        "status requests over one connection: {:.0} per second",
        total as f64 / secs
    );
}
