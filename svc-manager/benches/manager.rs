//! Manager benchmarks (harness = false); figures only, nothing asserted.
//!
//!   cargo build --release --workspace --bins
//!   cargo bench -p svc-manager --bench manager [-- QUICK]
//!
//! SVC_BENCH_BIN_DIR=DIR measures the svc-manager, svc-supervise and svcctl
//! in DIR (tools/bench.sh passes the shipped static build); otherwise the
//! ones next to this bench's target directory.
//!
//! 1. bring-up of N = 100 and 1000 services, svc against s6-svscan (when
//!    installed) and the floor, interleaved. Every service runs the same
//!    program — this bench binary in its `announce` role, which writes one
//!    byte to a FIFO and then waits for a signal — so "all N running" is
//!    read the same way for everybody: N bytes on the FIFO. For svc the
//!    manager's own "target settled" (--notify-fd) is reported too;
//! 2. `svcctl status NAME` as a whole process, 1000 times, interleaved with
//!    spawning /bin/true (the floor);
//! 3. status requests per second over one open connection;
//! 4. `svcctl status` of 1000 services, as a whole process.
//!
//! The trees go to /dev/shm when it is a writable directory: the manager's
//! runtime directory and s6's scan directory live in /run, a tmpfs, on a
//! real system, and a disk file system here would add inode allocation
//! for every control socket to both.

use std::ffi::CString;
use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use libnv::{NvList, UnpackOptions};

/// How long any one wait of the bench may take before it gives up.
const PATIENCE: Duration = Duration::from_secs(120);

struct Bins {
    manager: PathBuf,
    supervise: PathBuf,
    svcctl: Option<PathBuf>,
}

fn find_bins() -> Option<Bins> {
    let dir = match std::env::var_os("SVC_BENCH_BIN_DIR") {
        Some(d) => PathBuf::from(d),
        None => {
            let exe = std::env::current_exe().ok()?;
            let dir = exe.parent()?;
            if dir.ends_with("deps") {
                dir.parent()?.to_path_buf()
            } else {
                dir.to_path_buf()
            }
        }
    };
    let is_file = |n: &str| {
        let p = dir.join(n);
        p.is_file().then_some(p)
    };
    Some(Bins {
        manager: is_file("svc-manager")?,
        supervise: is_file("svc-supervise")?,
        svcctl: is_file("svcctl"),
    })
}

fn on_path(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|d| Path::new(d).join(name))
        .find(|p| p.is_file())
}

fn scratch_base() -> PathBuf {
    let shm = Path::new("/dev/shm");
    let probe = shm.join(format!(".svc-bench-probe-{}", std::process::id()));
    if std::fs::create_dir(&probe).is_ok() {
        let _ = std::fs::remove_dir(&probe);
        return shm.to_path_buf();
    }
    std::env::temp_dir()
}

/// A scratch directory, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(what: &str) -> Scratch {
        let p = scratch_base().join(format!("svc-bench-{}-{what}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        Scratch(p)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The FIFO every service announces itself on.
struct Fifo {
    path: PathBuf,
    read: std::fs::File,
    /// Held open so that the reader never sees end-of-file.
    _write: std::fs::File,
}

impl Fifo {
    fn new(dir: &Path) -> Fifo {
        let path = dir.join("announce");
        let c = CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: mkfifo(3) on a NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o666) }, 0);
        // Read end first, non-blocking (a blocking open would wait for a
        // writer), then our own write end.
        let read = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(&path)
            .unwrap();
        let write = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        Fifo {
            path,
            read,
            _write: write,
        }
    }

    /// Waits until `n` bytes have arrived; the time they took from `since`.
    fn wait_for(&mut self, n: usize, since: Instant) -> Option<Duration> {
        let mut got = 0;
        let mut buf = [0u8; 4096];
        while got < n {
            let left = PATIENCE.saturating_sub(since.elapsed());
            if left.is_zero() {
                eprintln!("only {got} of {n} services announced themselves");
                return None;
            }
            let mut pfd = libc::pollfd {
                fd: self.read.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: poll(2) on one valid pollfd.
            unsafe { libc::poll(&mut pfd, 1, left.as_millis() as i32 + 1) };
            match self.read.read(&mut buf) {
                Ok(k) => got += k,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) => panic!("reading the FIFO: {e}"),
            }
        }
        Some(since.elapsed())
    }
}

/// The `announce FIFO` role: one byte to the FIFO, then wait for a signal.
fn announce(fifo: &str) -> ! {
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(fifo)
    {
        use std::io::Write;
        let _ = f.write_all(b"x");
    }
    loop {
        // SAFETY: pause(2) only waits; SIGTERM's default action ends us.
        unsafe { libc::pause() };
    }
}

fn self_exe() -> PathBuf {
    std::env::current_exe().unwrap()
}

fn write_declarations(dir: &Path, n: usize, fifo: &Path) {
    let services = dir.join("services");
    std::fs::create_dir_all(&services).unwrap();
    let mut names = Vec::new();
    for i in 0..n {
        let name = format!("s{i:04}");
        std::fs::write(
            services.join(format!("{name}.ini")),
            format!(
                "[service]\nexec = {} announce {}\n[logging]\noutput = null\n",
                self_exe().display(),
                fifo.display()
            ),
        )
        .unwrap();
        names.push(name);
    }
    std::fs::write(
        services.join("default.ini"),
        format!("[target]\n[dependencies]\nrequires = {}\n", names.join(" ")),
    )
    .unwrap();
}

fn sigterm_and_wait(child: &mut Child) {
    // SAFETY: kill(2) on our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let _ = child.wait();
}

struct Manager {
    child: Child,
    socket: PathBuf,
}

impl Drop for Manager {
    fn drop(&mut self) {
        sigterm_and_wait(&mut self.child);
    }
}

/// Starts svc-manager on `dir`; `notify` is the read end of its
/// --notify-fd pipe.
fn start_manager(bins: &Bins, dir: &Path) -> (Manager, std::fs::File) {
    let mut fds = [0; 2];
    // SAFETY: pipe(2) into a two-int array.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    // SAFETY: both ends are ours alone from here on.
    let (r, w) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    let socket = dir.join("sock");
    let child = Command::new(&bins.manager)
        .arg("--socket")
        .arg(&socket)
        .arg("--services")
        .arg(dir.join("services"))
        .arg("--runtime-dir")
        .arg(dir.join("run"))
        .arg("--log-dir")
        .arg(dir.join("log"))
        .arg("--supervise")
        .arg(&bins.supervise)
        .arg("--notify-fd")
        .arg(w.as_raw_fd().to_string())
        .env("SVC_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    drop(w);
    (Manager { child, socket }, std::fs::File::from(r))
}

/// One svc bring-up: (all announced, target settled).
fn bring_up_svc(bins: &Bins, n: usize) -> Option<(Duration, Duration)> {
    let dir = Scratch::new(&format!("svc-{n}"));
    let mut fifo = Fifo::new(&dir.0);
    write_declarations(&dir.0, n, &fifo.path);
    let began = Instant::now();
    let (manager, mut notify) = start_manager(bins, &dir.0);
    let all = fifo.wait_for(n, began)?;
    let mut byte = [0u8; 1];
    let _ = notify.read(&mut byte);
    let settled = began.elapsed();
    drop(manager);
    Some((all, settled))
}

/// One s6-svscan bring-up of the same services: run scripts that exec the
/// announcer (execline when installed, as s6 users write them; else sh).
fn bring_up_s6(svscan: &Path, n: usize) -> Option<Duration> {
    let dir = Scratch::new(&format!("s6-{n}"));
    let mut fifo = Fifo::new(&dir.0);
    let scan = dir.0.join("scan");
    std::fs::create_dir(&scan).unwrap();
    let interpreter = match on_path("execlineb") {
        Some(p) => format!("#!{} -P\n", p.display()),
        None => "#!/bin/sh\nexec ".to_owned(),
    };
    for i in 0..n {
        let d = scan.join(format!("s{i:04}"));
        std::fs::create_dir(&d).unwrap();
        let run = d.join("run");
        std::fs::write(
            &run,
            format!(
                "{interpreter}{} announce {}\n",
                self_exe().display(),
                fifo.path.display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&run, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let began = Instant::now();
    let mut child = Command::new(svscan)
        .arg("-c")
        .arg((2 * n + 16).to_string())
        .arg(&scan)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let all = fifo.wait_for(n, began);
    // s6-svscan's SIGTERM: tell every s6-supervise to stop its service and
    // exit, then exit itself.
    sigterm_and_wait(&mut child);
    all
}

/// Spawning the same `n` announcers one after the other, straight from
/// here: the least any bring-up of them costs.
fn bring_up_floor(n: usize) -> Option<Duration> {
    let dir = Scratch::new(&format!("floor-{n}"));
    let mut fifo = Fifo::new(&dir.0);
    let began = Instant::now();
    let mut children: Vec<Child> = (0..n)
        .map(|_| {
            Command::new(self_exe())
                .arg("announce")
                .arg(&fifo.path)
                .process_group(0)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    let all = fifo.wait_for(n, began);
    for c in &mut children {
        sigterm_and_wait(c);
    }
    all
}

fn median(mut v: Vec<Duration>) -> Option<Duration> {
    v.sort();
    v.get(v.len() / 2).copied()
}

fn secs(d: Option<Duration>) -> String {
    d.map_or("—".into(), |d| format!("{:.3} s", d.as_secs_f64()))
}

fn ratio(a: Option<Duration>, b: Option<Duration>) -> String {
    match (a, b) {
        (Some(a), Some(b)) => format!("{:.2}", a.as_secs_f64() / b.as_secs_f64()),
        _ => "—".into(),
    }
}

fn bring_up(bins: &Bins, runs: usize, sizes: &[usize]) {
    let svscan = on_path("s6-svscan");
    let s6_run = if on_path("execlineb").is_some() {
        "execlineb"
    } else {
        "sh"
    };
    println!(
        "Bring-up: median of {runs} runs (svc, s6, floor interleaved); every service is the same announcer process; \"all running\" = N bytes on its FIFO."
    );
    println!();
    println!(
        "| N | svc: all running | svc: target settled (--notify-fd) | s6-svscan ({s6_run} run scripts): all running | svc ÷ s6 | floor: N spawns, no supervision | svc ÷ floor |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|");
    for &n in sizes {
        let (mut all, mut settled, mut s6, mut floor) = (vec![], vec![], vec![], vec![]);
        for _ in 0..runs {
            if let Some((a, s)) = bring_up_svc(bins, n) {
                all.push(a);
                settled.push(s);
            }
            if let Some(p) = &svscan
                && let Some(t) = bring_up_s6(p, n)
            {
                s6.push(t);
            }
            if let Some(t) = bring_up_floor(n) {
                floor.push(t);
            }
        }
        let (all, settled, s6, floor) = (median(all), median(settled), median(s6), median(floor));
        let s6_cell = if svscan.is_some() {
            secs(s6)
        } else {
            "not installed".into()
        };
        println!(
            "| {n} | {} | {} | {s6_cell} | {} | {} | {} |",
            secs(all),
            secs(settled),
            ratio(settled, s6),
            secs(floor),
            ratio(settled, floor),
        );
        if n == *sizes.last().unwrap() {
            let verdict = match (settled, s6) {
                (Some(a), Some(b)) if a.as_secs_f64() <= b.as_secs_f64() / 2.0 => "met",
                (Some(_), Some(_)) => "not met",
                _ => "not measured",
            };
            println!();
            println!(
                "- bring-up N={n}: svc (target settled) {} vs s6-svscan {}: {} × s6. Goal ≤ 0.5 × s6: **{verdict}**.",
                secs(settled),
                secs(s6),
                ratio(settled, s6)
            );
        }
    }
    println!();
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

fn control(bins: &Bins, quick: bool) {
    let dir = Scratch::new("control");
    let fifo = Fifo::new(&dir.0);
    write_declarations(&dir.0, 1000, &fifo.path);
    let (manager, mut notify) = start_manager(bins, &dir.0);
    let mut byte = [0u8; 1];
    let _ = notify.read(&mut byte);
    let sock = manager.socket.clone();
    let sock_s = sock.to_string_lossy().into_owned();
    let rounds = if quick { 100 } else { 1000 };
    if let Some(svcctl) = &bins.svcctl {
        let (mut ctl, mut floor) = (Vec::new(), Vec::new());
        for _ in 0..rounds {
            ctl.push(spawn_wait(
                svcctl,
                &["--socket", &sock_s, "status", "s0500"],
            ));
            floor.push(spawn_wait(Path::new("/bin/true"), &[]));
        }
        let (c, f) = (median(ctl).unwrap(), median(floor).unwrap());
        let r = c.as_secs_f64() / f.as_secs_f64();
        println!(
            "- `svcctl status NAME` ({rounds} runs, 1000 services): median {:.3} ms; /bin/true {:.3} ms; {r:.2} × floor. Goal ≤ 1.1 × floor: **{}**.",
            c.as_secs_f64() * 1e3,
            f.as_secs_f64() * 1e3,
            if r <= 1.1 { "met" } else { "not met" }
        );
        let all: Vec<Duration> = (0..if quick { 3 } else { 20 })
            .map(|_| spawn_wait(svcctl, &["--socket", &sock_s, "status"]))
            .collect();
        let m = median(all).unwrap().as_secs_f64() * 1e3;
        println!(
            "- `svcctl status` of 1000 services: median {m:.1} ms. Goal ≤ 50 ms: **{}**.",
            if m <= 50.0 { "met" } else { "not met" }
        );
    } else {
        println!("- svcctl not built: no whole-process figures");
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
    let rate = total as f64 / t.elapsed().as_secs_f64();
    println!(
        "- status requests over one connection: {rate:.0} per second. Goal ≥ 10 000/s: **{}**.",
        if rate >= 10_000.0 { "met" } else { "not met" }
    );
    drop(manager);
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("announce") {
        announce(args.get(2).map_or("", String::as_str));
    }
    let quick = args.iter().any(|a| a == "QUICK");
    let Some(bins) = find_bins() else {
        eprintln!("build the binaries first: cargo build --release --workspace --bins");
        return;
    };
    let runs = if quick { 1 } else { 3 };
    if !args.iter().any(|a| a == "CONTROL") {
        bring_up(&bins, runs, &[100, 1000]);
    }
    control(&bins, quick);
}
