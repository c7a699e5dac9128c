//! Manager benchmarks (harness = false); figures only, nothing asserted.
//!
//!   cargo build --release --workspace --bins
//!   cargo bench -p svc-manager --bench manager [-- QUICK]
//!
//! SVC_BENCH_BIN_DIR=DIR measures the svc-manager, svc-supervise and svcctl
//! in DIR (tools/bench.sh passes the shipped static build); otherwise the
//! ones next to this bench's target directory.
//!
//! 1. bring-up of N = 100 and 1000 services, svc without and with a
//!    cgroup per service, s6-svscan and runsvdir (when installed) and the
//!    floor, interleaved. Every service runs the same
//!    program — this bench binary in its `announce` role, which writes one
//!    byte to a FIFO and then waits for a signal — so "all N running" is
//!    read the same way for everybody: N bytes on the FIFO. For svc the
//!    manager's own "target settled" (--notify-fd) is reported too. With
//!    all N running, the Private_Dirty of the manager (svc-manager,
//!    s6-svscan, runsvdir: the one process that holds the whole set) is
//!    read; the difference between N = 100 and 1000 gives the memory each
//!    service costs it. "With cgroups" runs svc-manager as a container
//!    engine would: in a cgroup of the bench's own under this host's
//!    cgroup2 mount, in a cgroup and mount namespace with that mounted on
//!    /sys/fs/cgroup (root and a cgroup2 mount needed, else not measured);
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

#[path = "../../tests/support/cgroup.rs"]
mod cgroup_support;
use cgroup_support::TestCgroup;

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
/// --notify-fd pipe. With `cgroup`, the manager runs in it, in a cgroup
/// and mount namespace whose /sys/fs/cgroup is that cgroup (what a
/// container engine gives its init): its services get cgroups below it.
/// The shells exec, so the child's pid is the manager's.
fn start_manager(bins: &Bins, dir: &Path, cgroup: Option<&TestCgroup>) -> (Manager, std::fs::File) {
    let mut fds = [0; 2];
    // SAFETY: pipe(2) into a two-int array.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    // SAFETY: both ends are ours alone from here on.
    let (r, w) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    let socket = dir.join("sock");
    let mut command = match cgroup {
        None => Command::new(&bins.manager),
        Some(cg) => {
            let mut c = Command::new("sh");
            c.arg("-c")
                .arg(format!(
                    "echo $$ > {}/cgroup.procs && exec unshare --cgroup --mount --propagation private \
                     sh -c 'mount -t cgroup2 none /sys/fs/cgroup && exec \"$0\" \"$@\"' \"$@\"",
                    cg.dir.display()
                ))
                .arg("sh")
                .arg(&bins.manager);
            c
        }
    };
    let child = command
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

/// What the runs of one variant at one N measured.
#[derive(Default)]
struct Figures {
    all: Vec<Duration>,
    settled: Vec<Duration>,
    /// Private_Dirty of the manager process with all running, in kB.
    memory: Vec<u64>,
}

impl Figures {
    fn add(&mut self, all: Duration, settled: Option<Duration>, memory: Option<u64>) {
        self.all.push(all);
        self.settled.extend(settled);
        self.memory.extend(memory);
    }
}

/// The Private_Dirty of `pid`, in kB: the memory it has written and
/// holds alone (its heap, stack and written data), which is what each
/// further service adds to.
fn private_dirty_kb(pid: u32) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("Private_Dirty:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Reads the manager's memory once it has had a moment to take in the
/// last events of the bring-up.
fn settled_memory(pid: u32) -> Option<u64> {
    std::thread::sleep(Duration::from_millis(300));
    private_dirty_kb(pid)
}

/// One svc bring-up, without or with cgroups. Err: with cgroups asked
/// for, the manager made no cgroup for its first service.
fn bring_up_svc(
    bins: &Bins,
    n: usize,
    cgroup: Option<&TestCgroup>,
    out: &mut Figures,
) -> Result<(), String> {
    let dir = Scratch::new(&format!("svc-{n}"));
    let mut fifo = Fifo::new(&dir.0);
    write_declarations(&dir.0, n, &fifo.path);
    let began = Instant::now();
    let (manager, mut notify) = start_manager(bins, &dir.0, cgroup);
    let Some(all) = fifo.wait_for(n, began) else {
        return Ok(());
    };
    let mut byte = [0u8; 1];
    let _ = notify.read(&mut byte);
    let settled = began.elapsed();
    let memory = settled_memory(manager.child.id());
    if let Some(cg) = cgroup
        && !cg.path("svc/s0000/service").is_dir()
    {
        return Err(format!(
            "svc-manager made no cgroup in {} (its log: {})",
            cg.dir.display(),
            dir.0.join("log").display()
        ));
    }
    drop(manager);
    out.add(all, Some(settled), memory);
    Ok(())
}

/// One s6-svscan bring-up of the same services: run scripts that exec the
/// announcer (execline when installed, as s6 users write them; else sh).
fn bring_up_s6(svscan: &Path, n: usize, out: &mut Figures) {
    let dir = Scratch::new(&format!("s6-{n}"));
    let mut fifo = Fifo::new(&dir.0);
    let scan = dir.0.join("scan");
    std::fs::create_dir(&scan).unwrap();
    let interpreter = match on_path("execlineb") {
        Some(p) => format!("#!{} -P\n", p.display()),
        None => "#!/bin/sh\nexec ".to_owned(),
    };
    write_run_scripts(&scan, n, &interpreter, &fifo.path);
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
    let memory = all.and_then(|_| settled_memory(child.id()));
    // s6-svscan's SIGTERM: tell every s6-supervise to stop its service and
    // exit, then exit itself.
    sigterm_and_wait(&mut child);
    if let Some(all) = all {
        out.add(all, None, memory);
    }
}

/// `n` service directories in `scan`, each with a `run` script that
/// starts with `interpreter` and execs the announcer on `fifo`.
fn write_run_scripts(scan: &Path, n: usize, interpreter: &str, fifo: &Path) {
    for i in 0..n {
        let d = scan.join(format!("s{i:04}"));
        std::fs::create_dir(&d).unwrap();
        let run = d.join("run");
        std::fs::write(
            &run,
            format!(
                "{interpreter}{} announce {}\n",
                self_exe().display(),
                fifo.display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&run, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
}

/// One runsvdir bring-up of the same services: a run script (sh) per
/// service, as runit users write them.
fn bring_up_runit(runsvdir: &Path, n: usize, out: &mut Figures) {
    let dir = Scratch::new(&format!("runit-{n}"));
    let mut fifo = Fifo::new(&dir.0);
    let scan = dir.0.join("scan");
    std::fs::create_dir(&scan).unwrap();
    write_run_scripts(&scan, n, "#!/bin/sh\nexec ", &fifo.path);
    let began = Instant::now();
    let mut child = Command::new(runsvdir)
        .arg(&scan)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let all = fifo.wait_for(n, began);
    let memory = all.and_then(|_| settled_memory(child.id()));
    // runsvdir's SIGHUP: TERM to every runsv (which stops its service and
    // exits), then exit. (Its SIGTERM would leave them running.)
    // SAFETY: kill(2) on our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGHUP) };
    let _ = child.wait();
    wait_for_announcers_to_end(&fifo.path);
    if let Some(all) = all {
        out.add(all, None, memory);
    }
}

/// Waits (bounded) until no process started for `fifo` is left, then
/// ends any that is, by its pid: only processes whose command line names
/// this run's own FIFO, which nothing but this bench started.
fn wait_for_announcers_to_end(fifo: &Path) {
    let mark = fifo.as_os_str().as_encoded_bytes().to_vec();
    let ours = || -> Vec<i32> {
        let Ok(dir) = std::fs::read_dir("/proc") else {
            return Vec::new();
        };
        dir.flatten()
            .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
            .filter(|pid| {
                std::fs::read(format!("/proc/{pid}/cmdline"))
                    .is_ok_and(|c| c.split(|b| *b == 0).any(|arg| arg == mark.as_slice()))
            })
            .collect()
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if ours().is_empty() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    for pid in ours() {
        // SAFETY: kill(2) on a process this bench started (it names our FIFO).
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
}

/// Spawning the same `n` announcers one after the other, straight from
/// here: the least any bring-up of them costs.
fn bring_up_floor(n: usize, out: &mut Figures) {
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
    if let Some(all) = all {
        out.add(all, None, None);
    }
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

fn median_kb(v: &[u64]) -> Option<u64> {
    let mut v = v.to_vec();
    v.sort();
    v.get(v.len() / 2).copied()
}

fn kb(v: Option<u64>) -> String {
    v.map_or("—".into(), |v| format!("{v} kB"))
}

/// kB per service between the medians at the smallest and largest N.
fn per_service(small: (usize, Option<u64>), large: (usize, Option<u64>)) -> Option<f64> {
    let (a, b) = (small.1?, large.1?);
    Some((b as f64 - a as f64) / (large.0 - small.0) as f64)
}

fn kb_per_service(v: Option<f64>) -> String {
    v.map_or("—".into(), |v| format!("{v:.2} kB"))
}

/// Every variant at one N.
#[derive(Default)]
struct Row {
    svc: Figures,
    cgroups: Figures,
    s6: Figures,
    runit: Figures,
    floor: Figures,
}

fn bring_up(bins: &Bins, runs: usize, sizes: &[usize]) {
    let svscan = on_path("s6-svscan");
    let runsvdir = on_path("runsvdir");
    let s6_run = if on_path("execlineb").is_some() {
        "execlineb"
    } else {
        "sh"
    };
    // Whether cgroups can be measured here at all (root, a cgroup2 mount).
    let mut cgroups_why_not = TestCgroup::new("bench-manager")
        .is_none()
        .then(|| "not measured: needs root and a cgroup2 mount".to_string());
    let mut rows: Vec<(usize, Row)> = Vec::new();
    for &n in sizes {
        let mut row = Row::default();
        for _ in 0..runs {
            let _ = bring_up_svc(bins, n, None, &mut row.svc);
            if cgroups_why_not.is_none()
                && let Some(cg) = TestCgroup::new("bench-manager")
                && let Err(e) = bring_up_svc(bins, n, Some(&cg), &mut row.cgroups)
            {
                eprintln!("with cgroups: {e}");
                cgroups_why_not = Some(format!("not measured: {e}"));
            }
            if let Some(p) = &svscan {
                bring_up_s6(p, n, &mut row.s6);
            }
            if let Some(p) = &runsvdir {
                bring_up_runit(p, n, &mut row.runit);
            }
            bring_up_floor(n, &mut row.floor);
        }
        rows.push((n, row));
    }

    println!(
        "Bring-up: median of {runs} runs (svc, svc with cgroups, s6, runit, floor interleaved); every service is the same announcer process; \"all running\" = N bytes on its FIFO. \"With cgroups\": a cgroup per service (and its supervisor's leaf) under the manager's, on this host's cgroup2 mount ({}).",
        if cgroups_why_not.is_some() {
            "not available in this run"
        } else {
            "no controllers enabled in it: the cost is making the cgroups and starting each process in one"
        }
    );
    println!();
    println!(
        "| N | svc: all running | svc: target settled (--notify-fd) | svc with cgroups: target settled | cgroups' cost | s6-svscan ({s6_run} run scripts): all running | runsvdir (sh run scripts): all running | svc ÷ s6 | svc ÷ runit | floor: N spawns, no supervision | svc ÷ floor |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let not_installed = |p: &Option<PathBuf>, d: Option<Duration>| {
        if p.is_some() {
            secs(d)
        } else {
            "not installed".into()
        }
    };
    let cost = |with: Option<Duration>, without: Option<Duration>| match (with, without) {
        (Some(a), Some(b)) => Some((a.as_secs_f64() / b.as_secs_f64() - 1.0) * 100.0),
        _ => None,
    };
    for (n, row) in &rows {
        let all = median(row.svc.all.clone());
        let settled = median(row.svc.settled.clone());
        let with = median(row.cgroups.settled.clone());
        let s6 = median(row.s6.all.clone());
        let runit = median(row.runit.all.clone());
        let floor = median(row.floor.all.clone());
        println!(
            "| {n} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            secs(all),
            secs(settled),
            cgroups_why_not
                .as_ref()
                .map_or_else(|| secs(with), |_| "—".into()),
            cost(with, settled).map_or("—".into(), |c| format!("{c:+.1} %")),
            not_installed(&svscan, s6),
            not_installed(&runsvdir, runit),
            ratio(settled, s6),
            ratio(settled, runit),
            secs(floor),
            ratio(settled, floor),
        );
    }
    if let Some((n, row)) = rows.last() {
        let settled = median(row.svc.settled.clone());
        let s6 = median(row.s6.all.clone());
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
        let with = median(row.cgroups.settled.clone());
        match (&cgroups_why_not, cost(with, settled)) {
            (None, Some(c)) => println!(
                "- cgroups at N={n}: svc with a cgroup per service {} vs {} without: {c:+.1} %. Goal < 10 %: **{}**.",
                secs(with),
                secs(settled),
                if c < 10.0 { "met" } else { "not met" }
            ),
            (why, _) => println!(
                "- cgroups at N={n}: {}.",
                why.as_deref().unwrap_or("not measured")
            ),
        }
    }
    println!();

    println!(
        "Memory: Private_Dirty of the one process that holds the whole set (svc-manager; s6-svscan; runsvdir) with all N running, median of the runs; per service = the growth from the smallest to the largest N, divided by the services added. The supervisors (svc-supervise, s6-supervise, runsv; one per service) are measured under \"Supervisor memory\"."
    );
    println!();
    println!("| N | svc-manager | svc-manager with cgroups | s6-svscan | runsvdir |");
    println!("|---:|---:|---:|---:|---:|");
    let medians = |f: fn(&Row) -> &Figures| -> Vec<(usize, Option<u64>)> {
        rows.iter()
            .map(|(n, r)| (*n, median_kb(&f(r).memory)))
            .collect()
    };
    let svc = medians(|r| &r.svc);
    let cg = medians(|r| &r.cgroups);
    let s6 = medians(|r| &r.s6);
    let runit = medians(|r| &r.runit);
    for i in 0..rows.len() {
        println!(
            "| {} | {} | {} | {} | {} |",
            rows[i].0,
            kb(svc[i].1),
            kb(cg[i].1),
            kb(s6[i].1),
            kb(runit[i].1)
        );
    }
    let slope = |v: &[(usize, Option<u64>)]| match (v.first(), v.last()) {
        (Some(a), Some(b)) if v.len() > 1 => per_service(*a, *b),
        _ => None,
    };
    let (svc_per, cg_per, s6_per, runit_per) = (slope(&svc), slope(&cg), slope(&s6), slope(&runit));
    println!(
        "| per service | {} | {} | {} | {} |",
        kb_per_service(svc_per),
        kb_per_service(cg_per),
        kb_per_service(s6_per),
        kb_per_service(runit_per)
    );
    println!();
    let worst = match (svc_per, cg_per) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    };
    println!(
        "- manager memory per service: svc-manager {} ({} with cgroups); s6-svscan {}, runsvdir {}. Goal < 2 kB per service: **{}**.",
        kb_per_service(svc_per),
        kb_per_service(cg_per),
        kb_per_service(s6_per),
        kb_per_service(runit_per),
        match worst {
            Some(w) if w < 2.0 => "met",
            Some(_) => "not met",
            None => "not measured",
        }
    );
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
    let (manager, mut notify) = start_manager(bins, &dir.0, None);
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
