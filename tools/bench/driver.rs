//! The measurements of tools/bench.sh that no crate's `cargo bench` makes:
//! supervisor memory, restart latency and the control round trip, for
//! svc-supervise and the peers installed beside it (runit's runsv,
//! s6-supervise), each against its floor. Prints markdown on stdout,
//! progress on stderr. Built with plain `rustc -O`; std only.
//!
//!     driver memory  [--n N] [--req FILE] [--detail] SUBJECT...
//!     driver restart [--reps R] [--instances I] SUBJECT...
//!     driver control [--runs R] [--req FILE] [--client LABEL=PATH]... SUBJECT...
//!
//! SUBJECT is LABEL=KIND:PATH, KIND one of `svc` (svc-supervise), `runsv`,
//! `s6` (s6-supervise), `forkwait` (tools/bench/forkwait.rs: the floor of
//! a Rust supervisor). Every process started is killed by pid at the end
//! (the driver is a child subreaper, so orphans come back to it).

use std::fmt::Write as _;
use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

mod sys {
    use std::os::raw::c_int;

    const SIGKILL: c_int = 9;
    const WNOHANG: c_int = 1;
    const PR_SET_PDEATHSIG: c_int = 1;
    const PR_SET_CHILD_SUBREAPER: c_int = 36;

    unsafe extern "C" {
        fn kill(pid: c_int, sig: c_int) -> c_int;
        fn prctl(option: c_int, ...) -> c_int;
        fn waitpid(pid: c_int, status: *mut c_int, options: c_int) -> c_int;
    }

    pub fn sigkill(pid: i32) -> bool {
        // SAFETY: kill(2) takes plain integers; pids come from our own children.
        unsafe { kill(pid, SIGKILL) == 0 }
    }

    pub fn become_subreaper() {
        // SAFETY: prctl with integer arguments only.
        unsafe { prctl(PR_SET_CHILD_SUBREAPER, 1 as std::os::raw::c_ulong) };
    }

    /// For a child between fork and exec: die with the driver.
    pub fn die_with_parent() -> std::io::Result<()> {
        // SAFETY: prctl is async-signal-safe and takes integers only.
        if unsafe { prctl(PR_SET_PDEATHSIG, SIGKILL as std::os::raw::c_ulong) } == 0 {
            Ok(())
        } else {
            Err(std::io::Error::last_os_error())
        }
    }

    /// Reaps one exited child of any kind; None when none is waiting.
    pub fn reap_any() -> Option<i32> {
        let mut status = 0;
        // SAFETY: status points to a live c_int.
        let pid = unsafe { waitpid(-1, &mut status, WNOHANG) };
        (pid > 0).then_some(pid)
    }
}

const CLEAN_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Svc,
    Runsv,
    S6,
    ForkWait,
}

#[derive(Clone)]
struct Subject {
    label: String,
    kind: Kind,
    path: PathBuf,
}

fn parse_subject(s: &str) -> Result<Subject, String> {
    let (label, rest) = s
        .split_once('=')
        .ok_or_else(|| format!("subject '{s}': want LABEL=KIND:PATH"))?;
    let (kind, path) = rest
        .split_once(':')
        .ok_or_else(|| format!("subject '{s}': want LABEL=KIND:PATH"))?;
    let kind = match kind {
        "svc" => Kind::Svc,
        "runsv" => Kind::Runsv,
        "s6" => Kind::S6,
        "forkwait" => Kind::ForkWait,
        _ => return Err(format!("subject '{s}': unknown kind '{kind}'")),
    };
    Ok(Subject {
        label: label.to_owned(),
        kind,
        path: PathBuf::from(path),
    })
}

/// The scratch directory and every supervisor started; Drop kills them all.
struct Lab {
    dir: PathBuf,
    supervisors: Vec<Child>,
}

impl Lab {
    fn new() -> Lab {
        sys::become_subreaper();
        let dir = std::env::temp_dir().join(format!("svc-bench-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("scratch directory");
        Lab {
            dir,
            supervisors: Vec::new(),
        }
    }

    /// A fresh instance directory holding a `run` script with `body`.
    fn instance_dir(&self, name: &str, body: &str) -> PathBuf {
        let d = self.dir.join(name);
        std::fs::create_dir_all(&d).expect("instance directory");
        let run = d.join("run");
        std::fs::write(&run, format!("#!/bin/sh\n{body}")).expect("run script");
        std::fs::set_permissions(&run, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        d
    }

    /// Starts one supervisor of `s` for the service in `dir` (its `run`
    /// script; or `argv` for supervisors that take a command line).
    fn start(&mut self, s: &Subject, dir: &Path, argv: &[String]) -> usize {
        let mut cmd = Command::new(&s.path);
        match s.kind {
            Kind::Svc => {
                cmd.arg("--name")
                    .arg(dir.file_name().expect("named"))
                    .arg("--control")
                    .arg(dir.join("control.sock"))
                    .arg("--")
                    .args(argv);
            }
            Kind::ForkWait => {
                cmd.args(argv);
            }
            Kind::Runsv | Kind::S6 => {
                cmd.arg(dir);
            }
        }
        // The same minimal environment for every supervisor and the floor
        // (svc-supervise clears its services' environment anyway): a locale
        // in the environment would slow down `date` for some of them only.
        cmd.env_clear()
            .env("PATH", CLEAN_PATH)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // SAFETY: the closure only calls prctl, async-signal-safe.
        unsafe { cmd.pre_exec(sys::die_with_parent) };
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("{}: {e}", s.path.display()));
        self.supervisors.push(child);
        self.supervisors.len() - 1
    }

    fn pid(&self, i: usize) -> i32 {
        self.supervisors[i].id() as i32
    }

    /// Kills every supervisor, then every process left to us (services
    /// whose supervisor died are re-parented to this subreaper), reaping all.
    fn shutdown(&mut self) {
        for c in &self.supervisors {
            sys::sigkill(c.id() as i32);
        }
        self.supervisors.clear();
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            while sys::reap_any().is_some() {}
            let orphans = children_of(std::process::id() as i32);
            if orphans.is_empty() || Instant::now() > deadline {
                break;
            }
            for pid in orphans {
                sys::sigkill(pid);
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        self.shutdown();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn children_of(pid: i32) -> Vec<i32> {
    let mut out = Vec::new();
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return out;
    };
    for t in tasks.flatten() {
        if let Ok(s) = std::fs::read_to_string(t.path().join("children")) {
            out.extend(s.split_whitespace().filter_map(|p| p.parse::<i32>().ok()));
        }
    }
    out
}

fn comm(pid: i32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .map(|s| s.trim().to_owned())
        .unwrap_or_default()
}

/// The supervisor's service once it has exec'd `sleep`.
fn sleeping_child(supervisor: i32) -> Option<i32> {
    children_of(supervisor)
        .into_iter()
        .find(|&p| comm(p) == "sleep")
}

fn wait_for<T>(timeout: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_micros(200));
    }
}

fn kib_field(text: &str, field: &str) -> Option<u64> {
    text.lines()
        .find(|l| l.starts_with(field))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

fn private_dirty(pid: i32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok()?;
    kib_field(&s, "Private_Dirty:")
}

fn median<T: Copy + Ord>(v: &[T]) -> T {
    let mut v = v.to_vec();
    v.sort_unstable();
    v[v.len() / 2]
}

fn fmt_ms(d: f64) -> String {
    format!("{:.3} ms", d * 1e3)
}

// ---------------------------------------------------------------- status

/// One status request over an open connection; the reply read to its end.
fn status_round_trip(stream: &mut UnixStream, request: &[u8], reply: &mut Vec<u8>) -> bool {
    if stream.write_all(request).is_err() {
        return false;
    }
    let mut header = [0u8; 19];
    if stream.read_exact(&mut header).is_err() || header[0] != 0x6c {
        return false;
    }
    let bytes: [u8; 8] = header[11..19].try_into().expect("8 bytes");
    let size = if header[2] & 0x80 != 0 {
        u64::from_be_bytes(bytes)
    } else {
        u64::from_le_bytes(bytes)
    };
    if size > 1 << 20 {
        return false;
    }
    reply.resize(size as usize, 0);
    stream.read_exact(reply).is_ok()
}

/// One status request to one supervisor, the way its own tools ask.
fn ask_status(s: &Subject, dir: &Path, request: &[u8]) -> bool {
    match s.kind {
        Kind::Svc => UnixStream::connect(dir.join("control.sock"))
            .map(|mut c| status_round_trip(&mut c, request, &mut Vec::new()))
            .unwrap_or(false),
        Kind::Runsv => quiet(Command::new("sv").arg("status").arg(dir)),
        Kind::S6 => quiet(Command::new("s6-svstat").arg(dir)),
        Kind::ForkWait => true,
    }
}

fn quiet(cmd: &mut Command) -> bool {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

// ---------------------------------------------------------------- memory

struct Smap {
    start: u64,
    perms: String,
    offset: u64,
    path: String,
    size: u64,
    dirty: u64,
}

fn smaps(pid: i32) -> Vec<Smap> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/smaps")).unwrap_or_default();
    let mut maps: Vec<Smap> = Vec::new();
    for line in text.lines() {
        let mut words = line.split_whitespace();
        let first = words.next().unwrap_or("");
        if let Some((a, _)) = first.split_once('-')
            && !first.ends_with(':')
            && let Ok(start) = u64::from_str_radix(a, 16)
        {
            let perms = words.next().unwrap_or("").to_owned();
            let offset = u64::from_str_radix(words.next().unwrap_or("0"), 16).unwrap_or(0);
            let path = words.nth(2).unwrap_or("").to_owned();
            maps.push(Smap {
                start,
                perms,
                offset,
                path,
                size: 0,
                dirty: 0,
            });
        } else if let Some(m) = maps.last_mut() {
            if first == "Size:" {
                m.size = kib_field(line, "Size:").unwrap_or(0);
            } else if first == "Private_Dirty:" {
                m.dirty = kib_field(line, "Private_Dirty:").unwrap_or(0);
            }
        }
    }
    maps.sort_by_key(|m| m.start);
    maps
}

/// What each dirty mapping of a process is, for the "path to 24 kB".
fn explain_smaps(pid: i32, exe: &Path) -> String {
    let exe = std::fs::canonicalize(exe).unwrap_or_else(|_| exe.to_owned());
    let exe = exe.to_string_lossy().into_owned();
    let maps = smaps(pid);
    let mut out = String::from("| mapping | perms | size | Private_Dirty |\n|---|---|---:|---:|\n");
    let mut seen_text = false;
    let mut total = 0;
    for (i, m) in maps.iter().enumerate() {
        let base = Path::new(&m.path)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let what = if m.path == exe {
            match m.perms.as_str() {
                "r-xp" => {
                    seen_text = true;
                    "binary: text".to_owned()
                }
                "r--p" if m.offset == 0 && !seen_text => "binary: ELF headers, early rodata".to_owned(),
                "r--p" if m.dirty > 0 => {
                    "binary: RELRO (.data.rel.ro, .got, .init_array: written at start-up, then read-only)".to_owned()
                }
                "r--p" => "binary: rodata".to_owned(),
                "rw-p" => "binary: .data".to_owned(),
                p => format!("binary {p}"),
            }
        } else if m.path.is_empty() {
            let after_exe = i > 0 && maps[i - 1].path == exe;
            if after_exe {
                ".bss (anonymous, right after the binary)".to_owned()
            } else {
                "anonymous mmap".to_owned()
            }
        } else if m.path.starts_with('[') {
            m.path.clone()
        } else {
            format!("{base} {}", m.perms)
        };
        total += m.dirty;
        if m.dirty > 0 {
            let _ = writeln!(
                out,
                "| {what} | {} | {} kB | {} kB |",
                m.perms, m.size, m.dirty
            );
        }
    }
    let _ = writeln!(out, "| **total** | | | **{total} kB** |");
    out
}

struct Opts {
    n: usize,
    reps: usize,
    instances: usize,
    runs: usize,
    request: Vec<u8>,
    detail: bool,
    clients: Vec<(String, PathBuf)>,
    subjects: Vec<Subject>,
}

fn memory(o: &Opts) -> Result<String, String> {
    let mut out = String::new();
    let mut lab = Lab::new();
    let mut rows = Vec::new();
    let mut details = String::new();
    for s in &o.subjects {
        eprintln!("memory: starting {} × {}", o.n, s.label);
        let first = lab.supervisors.len();
        let mut dirs = Vec::new();
        for i in 0..o.n {
            let dir = lab.instance_dir(
                &format!("m-{}-{i}", sanitize(&s.label)),
                "exec /bin/sleep 1000\n",
            );
            lab.start(s, &dir, &["/bin/sleep".into(), "1000".into()]);
            dirs.push(dir);
        }
        let pids: Vec<i32> = (first..lab.supervisors.len()).map(|i| lab.pid(i)).collect();
        for &p in &pids {
            wait_for(Duration::from_secs(20), || sleeping_child(p))
                .ok_or_else(|| format!("{}: pid {p} did not start its service", s.label))?;
        }
        // Let start-up finish (svc-supervise trims its heap after set-up).
        std::thread::sleep(Duration::from_millis(500));
        let idle: Vec<u64> = pids.iter().filter_map(|&p| private_dirty(p)).collect();
        if idle.len() != pids.len() {
            return Err(format!("{}: could not read smaps_rollup", s.label));
        }
        // The process whose idle figure is the median, mapping by mapping,
        // idle and again after its status request.
        let explain = o.detail && matches!(s.kind, Kind::Svc | Kind::ForkWait);
        let m = median(&idle);
        let at = idle.iter().position(|&v| v == m).expect("present");
        let idle_maps = explain.then(|| explain_smaps(pids[at], &s.path));
        let mut asked = 0;
        for d in &dirs {
            asked += ask_status(s, d, &o.request) as usize;
        }
        std::thread::sleep(Duration::from_millis(200));
        let after: Vec<u64> = pids.iter().filter_map(|&p| private_dirty(p)).collect();
        if after.len() != pids.len() {
            return Err(format!("{}: could not read smaps_rollup", s.label));
        }
        if let Some(idle_maps) = idle_maps {
            let what = if s.kind == Kind::Svc {
                "idle, then after its status request"
            } else {
                "idle, then 0.2 s later"
            };
            let _ = writeln!(
                details,
                "\n#### {}: the supervisor at the idle median ({m} kB), {what}\n\n{idle_maps}\n{}",
                s.label,
                explain_smaps(pids[at], &s.path)
            );
        }
        rows.push((s.clone(), idle, after, asked));
        lab.shutdown();
        eprintln!("memory: {} done", s.label);
    }
    out.push_str("| supervisor | idle: median (min–max) | after one status request: median (min–max) | status requests answered |\n|---|---:|---:|---:|\n");
    for (s, idle, after, asked) in &rows {
        let _ = writeln!(
            out,
            "| {} | **{} kB** ({}–{}) | **{} kB** ({}–{}) | {}/{} |",
            s.label,
            median(idle),
            idle.iter().min().unwrap(),
            idle.iter().max().unwrap(),
            median(after),
            after.iter().min().unwrap(),
            after.iter().max().unwrap(),
            if s.kind == Kind::ForkWait {
                "—".to_owned()
            } else {
                asked.to_string()
            },
            if s.kind == Kind::ForkWait {
                "—".to_owned()
            } else {
                o.n.to_string()
            },
        );
    }
    // Ratios of each svc build to each peer, after the status request.
    let peers: Vec<_> = rows
        .iter()
        .filter(|r| matches!(r.0.kind, Kind::Runsv | Kind::S6))
        .collect();
    let _ = writeln!(out);
    for (s, idle, after, _) in rows.iter().filter(|r| r.0.kind == Kind::Svc) {
        let (quiet, asked) = (median(idle), median(after));
        let mut line = format!(
            "- {}: idle {quiet} kB, after one status request {asked} kB",
            s.label
        );
        for (p, _, pa, _) in &peers {
            let _ = write!(
                line,
                "; {:.2} × {}",
                asked as f64 / median(pa) as f64,
                p.label
            );
        }
        let verdict = match (quiet <= 64, asked <= 64) {
            (true, true) => "met",
            (true, false) => "met idle, not met after a status request",
            (false, _) => "not met",
        };
        let _ = writeln!(out, "{line}. Goal ≤ 64 kB: **{verdict}**.");
    }
    out.push_str(&details);
    Ok(out)
}

fn sanitize(label: &str) -> String {
    label
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

// ---------------------------------------------------------------- restart

fn now_ns() -> i128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_nanos() as i128
}

/// Lines in the stamp file, and the last one.
fn stamps(file: &Path) -> (usize, Option<i128>) {
    let text = std::fs::read_to_string(file).unwrap_or_default();
    let complete = text.matches('\n').count();
    let last = text
        .lines()
        .take(complete)
        .last()
        .and_then(|l| l.trim().parse().ok());
    (complete, last)
}

/// Waits for a line beyond `before` and returns its timestamp.
fn next_stamp(file: &Path, before: usize, timeout: Duration) -> Option<i128> {
    wait_for(timeout, || {
        let (n, last) = stamps(file);
        if n > before { last } else { None }
    })
}

fn restart(o: &Opts) -> Result<String, String> {
    let mut lab = Lab::new();
    // Instances per subject: an instance is killed again only after it has
    // run 10.5 s, longer than svc-supervise's restart-reset (10 s) and the
    // 1 s minimum run of runsv and s6-supervise, so every kill measures a
    // first restart, never a backoff.
    const HEALTHY: Duration = Duration::from_millis(10_500);
    struct Inst {
        sup: Option<usize>,
        dir: PathBuf,
        started: Instant,
    }
    let mut subjects: Vec<(String, Option<Subject>, Vec<Inst>)> = Vec::new();
    let floor_dir = {
        let d = lab.dir.join("floor");
        std::fs::create_dir_all(&d).map_err(|e| e.to_string())?;
        d
    };
    let floor_run = lab.instance_dir(
        "floor",
        &format!(
            "date +%s%N >> {}\nexec sleep 1000\n",
            floor_dir.join("stamps").display()
        ),
    );
    subjects.push((
        "floor: fork+exec of the run script".into(),
        None,
        vec![Inst {
            sup: None,
            dir: floor_run,
            started: Instant::now(),
        }],
    ));
    for s in &o.subjects {
        let mut insts = Vec::new();
        for i in 0..o.instances {
            let name = format!("r-{}-{i}", sanitize(&s.label));
            let stamp = lab.dir.join(&name).join("stamps");
            let dir = lab.instance_dir(
                &name,
                &format!("date +%s%N >> {}\nexec sleep 1000\n", stamp.display()),
            );
            let run = dir.join("run").to_string_lossy().into_owned();
            let sup = lab.start(s, &dir, &[run]);
            insts.push(Inst {
                sup: Some(sup),
                dir,
                started: Instant::now(),
            });
        }
        subjects.push((s.label.clone(), Some(s.clone()), insts));
    }
    eprintln!("restart: waiting for every service to run {HEALTHY:?}");
    for (label, _, insts) in &subjects {
        for inst in insts.iter().filter(|i| i.sup.is_some()) {
            let p = lab.pid(inst.sup.unwrap());
            wait_for(Duration::from_secs(20), || sleeping_child(p))
                .ok_or_else(|| format!("{label}: supervisor {p} did not start its service"))?;
        }
    }
    let mut times: Vec<Vec<f64>> = vec![Vec::new(); subjects.len()];
    // Per repetition, to pair each subject with the floor of the same round.
    let mut by_rep: Vec<Vec<Option<f64>>> = vec![vec![None; o.reps]; subjects.len()];
    let mut failures = vec![0usize; subjects.len()];
    for rep in 0..o.reps {
        if rep % 10 == 0 {
            eprintln!("restart: repetition {rep}/{}", o.reps);
        }
        for (k, (_, _, insts)) in subjects.iter_mut().enumerate() {
            let i = rep % insts.len();
            let inst = &mut insts[i];
            let stamp = match inst.sup {
                None => floor_dir.join("stamps"),
                Some(_) => inst.dir.join("stamps"),
            };
            let latency = match inst.sup {
                None => {
                    let (before, _) = stamps(&stamp);
                    let t0 = now_ns();
                    let mut child = Command::new(inst.dir.join("run"))
                        .env_clear()
                        .env("PATH", CLEAN_PATH)
                        .stdin(Stdio::null())
                        .stdout(Stdio::null())
                        .stderr(Stdio::null())
                        .spawn()
                        .map_err(|e| format!("floor: {e}"))?;
                    let t = next_stamp(&stamp, before, Duration::from_secs(5));
                    let _ = child.kill();
                    let _ = child.wait();
                    t.map(|t| t - t0)
                }
                Some(sup) => {
                    let wait = HEALTHY.saturating_sub(inst.started.elapsed());
                    std::thread::sleep(wait);
                    let p = lab.pid(sup);
                    let service = wait_for(Duration::from_secs(5), || sleeping_child(p));
                    match service {
                        None => None,
                        Some(service) => {
                            let (before, _) = stamps(&stamp);
                            let t0 = now_ns();
                            sys::sigkill(service);
                            let t = next_stamp(&stamp, before, Duration::from_secs(5));
                            // The replacement must be running before the next round.
                            let _ = wait_for(Duration::from_secs(5), || {
                                sleeping_child(p).filter(|&n| n != service)
                            });
                            inst.started = Instant::now();
                            t.map(|t| t - t0)
                        }
                    }
                }
            };
            match latency {
                Some(ns) => {
                    times[k].push(ns as f64 / 1e9);
                    by_rep[k][rep] = Some(ns as f64 / 1e9);
                }
                None => failures[k] += 1,
            }
        }
    }
    let floor = if times[0].is_empty() {
        return Err("the floor could not be measured".into());
    } else {
        median_f(&times[0])
    };
    let mut out = String::from(
        "| subject | median | min | max | median − floor median | × floor | median of per-round differences to the floor | runs (timeouts) |\n|---|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    let mut goals = String::new();
    for (k, (label, s, _)) in subjects.iter().enumerate() {
        if times[k].is_empty() {
            let _ = writeln!(out, "| {label} | failed | | | | | | 0 ({}) |", failures[k]);
            continue;
        }
        let m = median_f(&times[k]);
        let diffs: Vec<f64> = by_rep[k]
            .iter()
            .zip(&by_rep[0])
            .filter_map(|(t, f)| Some((*t)? - (*f)?))
            .collect();
        let paired = if diffs.is_empty() {
            f64::NAN
        } else {
            median_f(&diffs)
        };
        let _ = writeln!(
            out,
            "| {label} | **{}** | {} | {} | {:+.3} ms | {:.2} | {:+.3} ms | {} ({}) |",
            fmt_ms(m),
            fmt_ms(times[k].iter().cloned().fold(f64::MAX, f64::min)),
            fmt_ms(times[k].iter().cloned().fold(0.0, f64::max)),
            (m - floor) * 1e3,
            m / floor,
            paired * 1e3,
            times[k].len(),
            failures[k]
        );
        if s.as_ref().is_some_and(|s| s.kind == Kind::Svc) {
            let _ = writeln!(
                goals,
                "- {label}: {:+.3} ms over the floor (median of the per-round differences; {:+.3} ms between the medians). Goal within 1 ms of the floor: **{}**.",
                paired * 1e3,
                (m - floor) * 1e3,
                if paired <= 1e-3 { "met" } else { "not met" }
            );
        }
    }
    out.push('\n');
    out.push_str(&goals);
    Ok(out)
}

fn median_f(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(|a, b| a.partial_cmp(b).expect("no NaN"));
    v[v.len() / 2]
}

// ---------------------------------------------------------------- control

fn time_run(argv: &[String]) -> Option<f64> {
    let start = Instant::now();
    let ok = Command::new(&argv[0])
        .args(&argv[1..])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .ok()?
        .success();
    let took = start.elapsed().as_secs_f64();
    ok.then_some(took)
}

fn control(o: &Opts) -> Result<String, String> {
    let mut lab = Lab::new();
    let request_file = lab.dir.join("status.nv");
    std::fs::write(&request_file, &o.request).map_err(|e| e.to_string())?;
    let req = request_file.to_string_lossy().into_owned();
    // (label, argv, is svc)
    let mut cmds: Vec<(String, Vec<String>, bool)> = vec![(
        "floor: spawn /bin/true".into(),
        vec!["/bin/true".into()],
        false,
    )];
    let mut svc_sockets = Vec::new();
    for s in &o.subjects {
        let dir = lab.instance_dir(
            &format!("c-{}", sanitize(&s.label)),
            "exec /bin/sleep 1000\n",
        );
        let sup = lab.start(s, &dir, &["/bin/sleep".into(), "1000".into()]);
        let p = lab.pid(sup);
        wait_for(Duration::from_secs(20), || sleeping_child(p))
            .ok_or_else(|| format!("{}: did not start its service", s.label))?;
        let d = dir.to_string_lossy().into_owned();
        match s.kind {
            Kind::Svc => {
                let sock = dir.join("control.sock");
                wait_for(Duration::from_secs(5), || sock.exists().then_some(()))
                    .ok_or_else(|| format!("{}: no control socket", s.label))?;
                for (cl, path) in &o.clients {
                    cmds.push((
                        format!("{cl} → {}", s.label),
                        vec![
                            path.to_string_lossy().into_owned(),
                            sock.to_string_lossy().into_owned(),
                            req.clone(),
                        ],
                        true,
                    ));
                }
                svc_sockets.push((s.label.clone(), sock));
            }
            Kind::Runsv => cmds.push((
                format!("`sv status` → {}", s.label),
                vec!["sv".into(), "status".into(), d],
                false,
            )),
            Kind::S6 => cmds.push((
                format!("`s6-svstat` → {}", s.label),
                vec!["s6-svstat".into(), d],
                false,
            )),
            Kind::ForkWait => {}
        }
    }
    // Warm up page cache and dentries, then interleave: A B C A B C …
    for (label, argv, _) in &cmds {
        if time_run(argv).is_none() {
            return Err(format!("{label}: {argv:?} failed"));
        }
    }
    eprintln!(
        "control: {} runs of {} commands, interleaved",
        o.runs,
        cmds.len()
    );
    let mut times = vec![Vec::with_capacity(o.runs); cmds.len()];
    for r in 0..o.runs {
        for (k, (label, argv, _)) in cmds.iter().enumerate() {
            let t = time_run(argv).ok_or_else(|| format!("{label}: run {r} failed"))?;
            times[k].push(t);
        }
    }
    let floor = median_f(&times[0]);
    let best_peer = cmds
        .iter()
        .enumerate()
        .filter(|(k, c)| *k > 0 && !c.2)
        .map(|(k, _)| median_f(&times[k]))
        .fold(f64::MAX, f64::min);
    let mut out = String::from(
        "| command (a whole process each) | median | × floor | × best peer |\n|---|---:|---:|---:|\n",
    );
    let mut goals = String::new();
    for (k, (label, _, is_svc)) in cmds.iter().enumerate() {
        let m = median_f(&times[k]);
        let vs_peer = if best_peer < f64::MAX {
            format!("{:.2}", m / best_peer)
        } else {
            "—".into()
        };
        let _ = writeln!(
            out,
            "| {label} | **{}** | {:.2} | {vs_peer} |",
            fmt_ms(m),
            m / floor
        );
        if *is_svc {
            let _ = writeln!(
                goals,
                "- {label}: {:.2} × floor. Goal ≤ 1.1 × floor: **{}**.",
                m / floor,
                if m / floor <= 1.1 { "met" } else { "not met" }
            );
        }
    }
    out.push('\n');
    out.push_str(&goals);
    // Over one open connection: requests per second, and the round trip.
    // Five rounds of 2000: the median round says more than one long run
    // on a machine whose load comes and goes.
    const ROUNDS: usize = 5;
    const PER_ROUND: usize = 2000;
    for (label, sock) in &svc_sockets {
        let mut c = UnixStream::connect(sock).map_err(|e| format!("{label}: {e}"))?;
        let mut reply = Vec::with_capacity(1024);
        let mut rtts = Vec::with_capacity(ROUNDS * PER_ROUND);
        let mut rates = Vec::with_capacity(ROUNDS);
        for _ in 0..ROUNDS {
            let start = Instant::now();
            for _ in 0..PER_ROUND {
                let t = Instant::now();
                if !status_round_trip(&mut c, &o.request, &mut reply) {
                    return Err(format!("{label}: status over one connection failed"));
                }
                rtts.push(t.elapsed().as_secs_f64());
            }
            rates.push(PER_ROUND as f64 / start.elapsed().as_secs_f64());
        }
        let rate = median_f(&rates);
        let _ = writeln!(
            out,
            "- {label}, one open connection, {ROUNDS} rounds of {PER_ROUND} sequential status requests: **{rate:.0} requests/s** (median round; median round trip {:.1} µs). Goal ≥ 10 000/s: **{}**.",
            median_f(&rtts) * 1e6,
            if rate >= 10_000.0 { "met" } else { "not met" }
        );
    }
    Ok(out)
}

// ---------------------------------------------------------------- main

fn parse(args: &[String]) -> Result<(String, Opts), String> {
    let mode = args
        .first()
        .cloned()
        .ok_or("usage: driver memory|restart|control …")?;
    let mut o = Opts {
        n: 100,
        reps: 50,
        instances: 12,
        runs: 1000,
        request: Vec::new(),
        detail: false,
        clients: Vec::new(),
        subjects: Vec::new(),
    };
    let mut it = args[1..].iter();
    while let Some(a) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match a.as_str() {
            "--n" => o.n = value("--n")?.parse().map_err(|e| format!("--n: {e}"))?,
            "--reps" => {
                o.reps = value("--reps")?
                    .parse()
                    .map_err(|e| format!("--reps: {e}"))?
            }
            "--instances" => {
                o.instances = value("--instances")?
                    .parse()
                    .map_err(|e| format!("--instances: {e}"))?
            }
            "--runs" => {
                o.runs = value("--runs")?
                    .parse()
                    .map_err(|e| format!("--runs: {e}"))?
            }
            "--req" => {
                let f = value("--req")?;
                o.request = std::fs::read(&f).map_err(|e| format!("{f}: {e}"))?;
            }
            "--detail" => o.detail = true,
            "--client" => {
                let v = value("--client")?;
                let (l, p) = v.split_once('=').ok_or("--client LABEL=PATH")?;
                o.clients.push((l.to_owned(), PathBuf::from(p)));
            }
            s => o.subjects.push(parse_subject(s)?),
        }
    }
    if o.n == 0 || o.reps == 0 || o.instances == 0 || o.runs == 0 {
        return Err("counts must be at least 1".into());
    }
    Ok((mode, o))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = parse(&args).and_then(|(mode, o)| match mode.as_str() {
        "memory" => memory(&o),
        "restart" => restart(&o),
        "control" => control(&o),
        m => Err(format!("unknown mode '{m}'")),
    });
    match result {
        Ok(md) => {
            print!("{md}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("driver: {e}");
            ExitCode::FAILURE
        }
    }
}
