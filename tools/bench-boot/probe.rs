//! bench-probe: the in-guest readiness probe of `make bench-boot`
//! (tools/bench-boot.sh).
//!
//! Started in the guest by each init system of the benchmark (a svc
//! service with no dependencies, an OpenRC script after everything, a runit
//! service, or the floor's `&`), it polls every
//! 20 ms, forking nothing, until all four daemons of the benchmark answer:
//!
//! - syslog: a unix datagram socket connects to /dev/log (rsyslog's imuxsock);
//! - cron:   a process whose /proc/PID/comm is `cron`;
//! - ssh:    127.0.0.1:22 accepts and sends a line starting `SSH-`;
//! - http:   `GET /` on 127.0.0.1:80 answers with status 200.
//!
//! Each check is latched the first time it passes. Times are taken on the
//! kernel's printk clock, from the "bench-boot: hand-over to INIT" line the
//! bench's initramfs writes to /dev/kmsg just before switch_root (else the
//! kernel's "Run /sbin/init as init process"): at each event the probe writes a marker line to /dev/kmsg, and at
//! the end it reads the kernel log back and subtracts the timestamps. No
//! clock conversion is involved, so the figure is exactly "kernel hand-over
//! to init" .. "the moment the probe saw the last answer".
//!
//! It then prints one result line on its output (the console) and asks for
//! an orderly poweroff by exec'ing /usr/lib/svc-bench/poweroff, which each
//! variant's image provides (`svcctl poweroff` for svc).
//!
//! Built std-only and static by bench-boot.sh:
//! `rustc --edition 2024 -C opt-level=2 -C target-feature=+crt-static -C relocation-model=static`.

use std::fs::{self, File, OpenOptions};
use std::io::{self, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::net::UnixDatagram;
use std::os::unix::process::CommandExt;
use std::process::Command;
use std::thread::sleep;
use std::time::{Duration, Instant};

/// Poll period: fine enough not to blur a figure of seconds, light enough
/// that the probe does not steal CPU from the boot it measures. A round
/// costs about 1.5 ms of the emulated CPU; at 10 ms the probe took a tenth
/// of the CPU, and only from the variants whose probe starts early (svc,
/// the floor), not from those that start it last (OpenRC, runit).
const TICK: Duration = Duration::from_millis(20);
/// Give up after this long (guest time), report what never answered and
/// power off; well inside the script's per-boot timeout (300 s of host time).
/// `svc-bench.give-up=SECONDS` on the kernel command line overrides it.
const GIVE_UP: Duration = Duration::from_secs(120);
/// Only with this word on the kernel command line does the probe power the
/// machine off: run by mistake on a real host, it must not shut it down.
const POWEROFF_WORD: &str = "svc-bench.poweroff=yes";
/// O_NONBLOCK on Linux (x86_64 and the other common ABIs); std has no name
/// for it and the probe uses no crate.
const O_NONBLOCK: i32 = 0o4000;
/// The line init's share is measured from: bench-boot's initramfs writes it
/// to /dev/kmsg just before it switch_roots to the variant's init.
const HAND_OVER: &str = "bench-boot: hand-over to ";
/// Without that initramfs, the kernel's own line (init/main.c, pr_info).
const RUN_INIT: &str = "Run /sbin/init as init process";
/// Prefix of this program's /dev/kmsg markers.
const MARK: &str = "bench-probe:";
/// Each variant's way to power off (bench-boot.sh writes it: `svcctl
/// poweroff`, sysvinit's or runit's `poweroff`, or the floor's own).
const POWEROFF: &str = "/usr/lib/svc-bench/poweroff";

/// A TCP check as a small state machine, so that one slow peer (sshd's
/// banner comes from a freshly started child) never blocks the others.
struct TcpCheck {
    addr: SocketAddr,
    request: &'static [u8],
    conn: Option<TcpStream>,
    got: Vec<u8>,
    verdict: fn(&[u8]) -> Option<bool>,
}

impl TcpCheck {
    /// One step: connect if need be, then read what has arrived without
    /// blocking. True once the answer is what the check wants.
    fn step(&mut self) -> bool {
        if self.conn.is_none() {
            // Loopback connects complete (or are refused) at once; the
            // timeout only guards against a wedged stack.
            let Ok(s) = TcpStream::connect_timeout(&self.addr, Duration::from_millis(200)) else {
                return false;
            };
            if s.set_nonblocking(true).is_err() {
                return false;
            }
            let mut s = s;
            if !self.request.is_empty() && s.write_all(self.request).is_err() {
                return false;
            }
            self.got.clear();
            self.conn = Some(s);
        }
        let Some(s) = self.conn.as_mut() else {
            return false;
        };
        let mut buf = [0u8; 512];
        loop {
            match s.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    self.got.extend_from_slice(&buf[..n]);
                    if self.got.len() > 4096 {
                        break;
                    }
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    return match (self.verdict)(&self.got) {
                        Some(ok) => {
                            self.conn = None;
                            ok
                        }
                        None => false,
                    };
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(_) => break,
            }
        }
        // End of stream, error or too much: decide on what came, and
        // start over with a new connection next time if it was no.
        let ok = (self.verdict)(&self.got).unwrap_or(false);
        self.conn = None;
        ok
    }
}

/// sshd's identification string: "SSH-2.0-…" on its first line.
fn ssh_banner(got: &[u8]) -> Option<bool> {
    if got.len() >= 4 {
        Some(got.starts_with(b"SSH-"))
    } else {
        None
    }
}

/// An HTTP status line "HTTP/1.x 200 …".
fn http_200(got: &[u8]) -> Option<bool> {
    let end = got.iter().position(|&b| b == b'\n')?;
    let line = String::from_utf8_lossy(&got[..end]);
    let mut words = line.split_whitespace();
    Some(words.next().is_some_and(|w| w.starts_with("HTTP/")) && words.next() == Some("200"))
}

fn syslog_answers() -> bool {
    UnixDatagram::unbound()
        .and_then(|s| s.connect("/dev/log"))
        .is_ok()
}

/// Debian's cron writes its pid here, in the foreground too.
const CRON_PIDFILE: &str = "/run/crond.pid";

/// cron runs: the process its pid file names is `cron`, or (no pid file)
/// any process named `cron`, looked for in every 10th round only: a walk
/// of /proc every round took a fifth of the emulated CPU from the boot
/// being measured.
fn cron_runs(round: u64) -> bool {
    if let Ok(pid) = fs::read_to_string(CRON_PIDFILE)
        && let Ok(pid) = pid.trim().parse::<u32>()
    {
        return fs::read_to_string(format!("/proc/{pid}/comm"))
            .is_ok_and(|c| c.trim_end() == "cron");
    }
    round % 10 == 0 && cron_in_proc()
}

/// Any process named `cron` (Debian's cron keeps that comm with -f).
fn cron_in_proc() -> bool {
    let Ok(dir) = fs::read_dir("/proc") else {
        return false;
    };
    let mut comm = String::new();
    for entry in dir.flatten() {
        let name = entry.file_name();
        if !name.as_encoded_bytes().iter().all(u8::is_ascii_digit) {
            continue;
        }
        comm.clear();
        let path = entry.path().join("comm");
        if File::open(&path)
            .and_then(|mut f| f.read_to_string(&mut comm))
            .is_ok()
            && comm.trim_end() == "cron"
        {
            return true;
        }
    }
    false
}

/// One marker line in the kernel log, timestamped by the printk clock.
fn mark(kmsg: &mut Option<File>, what: &str) {
    if let Some(k) = kmsg.as_mut() {
        // One write(2) is one record; a failure only loses that timestamp,
        // which the report then names.
        let _ = k.write_all(format!("{MARK} {what}\n").as_bytes());
    }
}

/// The kernel log read back: (timestamp in µs, text) for the hand-over
/// lines and every marker of this program.
fn kernel_log() -> io::Result<Vec<(u64, String)>> {
    let mut f = OpenOptions::new()
        .read(true)
        .custom_flags(O_NONBLOCK)
        .open("/dev/kmsg")?;
    let mut out = Vec::new();
    let mut buf = vec![0u8; 8192];
    loop {
        match f.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                // "PRIO,SEQ,TS_USEC,FLAGS[,…];TEXT\n[continuation lines]"
                let rec = String::from_utf8_lossy(&buf[..n]);
                let Some((head, text)) = rec.split_once(';') else {
                    continue;
                };
                let text = text.lines().next().unwrap_or("");
                if !(text.contains(RUN_INIT)
                    || text.starts_with(HAND_OVER)
                    || text.starts_with(MARK))
                {
                    continue;
                }
                if let Some(ts) = head.split(',').nth(2).and_then(|t| t.parse::<u64>().ok()) {
                    out.push((ts, text.to_string()));
                }
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => break,
            // EPIPE: records were overwritten under us; the read goes on
            // from the oldest one left.
            Err(e) if e.kind() == ErrorKind::BrokenPipe || e.kind() == ErrorKind::Interrupted => {
                continue;
            }
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

fn seconds(us: u64) -> String {
    format!("{:.3}", us as f64 / 1e6)
}

/// The kernel command line's words (empty when /proc is not there).
fn kernel_cmdline() -> Vec<String> {
    fs::read_to_string("/proc/cmdline")
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

/// On the kernel command line: print where the CPU went up to the result.
const CPU_WORD: &str = "svc-bench.cpu=yes";

/// Where the one CPU's time went until now: the whole machine's split
/// (/proc/stat, in clock ticks of 10 ms) and each live process's own time
/// and that of the children it reaped (a supervisor's finished oneshot,
/// fsck under its script…), largest first.
fn cpu_census() {
    if let Ok(stat) = std::fs::read_to_string("/proc/stat")
        && let Some(cpu) = stat.lines().next()
    {
        println!("bench-probe: cpu total (user nice system idle iowait irq softirq): {cpu}");
    }
    let mut rows = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let Some(close) = stat.rfind(')') else {
            continue;
        };
        let comm = stat[stat.find('(').map_or(0, |i| i + 1)..close].to_string();
        let f: Vec<u64> = stat[close + 2..]
            .split(' ')
            .map(|x| x.parse().unwrap_or(0))
            .collect();
        // Fields 14-17 of proc(5): utime stime cutime cstime (index 11-14 here).
        let (user, system, reaped) = (f[11], f[12], f[13] + f[14]);
        let own = user + system;
        let args = std::fs::read(format!("/proc/{pid}/cmdline"))
            .map(|a| {
                String::from_utf8_lossy(&a)
                    .replace('\0', " ")
                    .trim()
                    .to_string()
            })
            .unwrap_or_default();
        if own + reaped >= 2 {
            rows.push((own + reaped, user, system, reaped, pid, comm, args));
        }
    }
    rows.sort_by(|a, b| b.0.cmp(&a.0));
    // svc's boot log (timestamped), for the timeline of the early services.
    for log in ["/var/log/svc/boot.log", "/run/svc/log/boot.log"] {
        if let Ok(text) = std::fs::read_to_string(log) {
            for line in text.lines() {
                println!("bench-probe: boot.log {line}");
            }
            break;
        }
    }
    println!("bench-probe: cpu (own user+system, reaped children) ticks  pid comm [args]");
    for (_, user, system, reaped, pid, comm, args) in rows {
        println!("bench-probe: cpu {user:>4}+{system:<4} {reaped:>4} ticks  {pid:>5} {comm} [{args}]");
    }
}

/// On the kernel command line: after the census, time a few programs the
/// early services run (median of 5 runs each, guest time), to tell what
/// one exec costs on this machine.
const EXEC_COSTS_WORD: &str = "svc-bench.exec-costs=yes";

fn exec_costs() {
    let commands: &[&[&str]] = &[
        &["/bin/true"],
        &["/bin/busybox", "true"],
        &["/bin/sh", "-c", "true"],
        &["/bin/sh", "/usr/lib/svc/libexec/early", "clock"],
        &["/bin/sh", "/usr/lib/svc/libexec/early", "hostname"],
        &["/sbin/fsck.ext4", "-n", "/dev/vdb"],
        &["/sbin/e2fsck", "-n", "/dev/vdb"],
        &["/bin/mount", "-o", "remount,rw", "/"],
        &["/bin/busybox", "mount", "-o", "remount,rw", "/"],
        &["/sbin/swapon", "--show"],
        &["/sbin/sysctl", "-q", "-p", "/etc/sysctl.d/60-bench-boot.conf"],
        &["/bin/dmesg"],
        &["/bin/chgrp", "utmp", "/run/utmp"],
        &["/sbin/modprobe", "-q", "loop"],
        &["/bin/udevadm", "control", "--ping"],
        &["/usr/bin/svcctl", "--version"],
        &["/usr/sbin/svc-supervise", "--version"],
    ];
    for argv in commands {
        let mut ms: Vec<f64> = (0..5)
            .filter_map(|_| {
                let t = Instant::now();
                Command::new(argv[0])
                    .args(&argv[1..])
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::null())
                    .status()
                    .ok()
                    .map(|_| t.elapsed().as_secs_f64() * 1e3)
            })
            .collect();
        ms.sort_by(f64::total_cmp);
        let median = ms.get(ms.len() / 2).map_or("-".to_string(), |m| format!("{m:.1}"));
        println!("bench-probe: exec {median:>7} ms  {}", argv.join(" "));
    }
}

fn main() {
    let cmdline = kernel_cmdline();
    let give_up = cmdline
        .iter()
        .find_map(|w| w.strip_prefix("svc-bench.give-up="))
        .and_then(|s| s.parse::<u64>().ok())
        .map_or(GIVE_UP, Duration::from_secs);
    let mut kmsg = OpenOptions::new().write(true).open("/dev/kmsg").ok();
    mark(&mut kmsg, "started");

    let names = ["syslog", "cron", "ssh", "http"];
    let mut up = [false; 4];
    let mut ssh = TcpCheck {
        addr: SocketAddr::from(([127, 0, 0, 1], 22)),
        request: b"",
        conn: None,
        got: Vec::new(),
        verdict: ssh_banner,
    };
    let mut http = TcpCheck {
        addr: SocketAddr::from(([127, 0, 0, 1], 80)),
        request: b"GET / HTTP/1.0\r\nHost: 127.0.0.1\r\nUser-Agent: bench-probe\r\n\r\n",
        conn: None,
        got: Vec::new(),
        verdict: http_200,
    };
    let began = Instant::now();
    let mut polls: u64 = 0;
    while !up.iter().all(|&u| u) && began.elapsed() < give_up {
        polls += 1;
        let now = [
            up[0] || syslog_answers(),
            up[1] || cron_runs(polls),
            up[2] || ssh.step(),
            up[3] || http.step(),
        ];
        for (i, &n) in now.iter().enumerate() {
            if n && !up[i] {
                up[i] = true;
                mark(&mut kmsg, &format!("{} up", names[i]));
            }
        }
        if !up.iter().all(|&u| u) {
            sleep(TICK);
        }
    }
    let all = up.iter().all(|&u| u);
    mark(&mut kmsg, if all { "all up" } else { "gave up" });

    let log = kernel_log().unwrap_or_else(|e| {
        println!("bench-probe: cannot read /dev/kmsg: {e}");
        Vec::new()
    });
    let at = |text: &str| {
        log.iter()
            .find(|(_, t)| t.contains(text))
            .map(|(ts, _)| *ts)
    };
    let run = at(HAND_OVER).or_else(|| at(RUN_INIT));
    let since = |m: Option<u64>| match (run, m) {
        (Some(r), Some(m)) if m >= r => seconds(m - r),
        _ => "?".to_string(),
    };
    let per: Vec<String> = names
        .iter()
        .map(|n| format!("{n}={}", since(at(&format!("{MARK} {n} up")))))
        .collect();
    if all {
        println!(
            "bench-probe: RESULT init_to_ready={} s ({}; probe_start={} s, polls={polls})",
            since(at(&format!("{MARK} all up"))),
            per.join(" "),
            since(at(&format!("{MARK} started"))),
        );
    } else {
        let missing: Vec<&str> = names
            .iter()
            .zip(up)
            .filter(|(_, u)| !u)
            .map(|(n, _)| *n)
            .collect();
        println!(
            "bench-probe: FAILED after {} s: no answer from {} ({})",
            give_up.as_secs(),
            missing.join(" "),
            per.join(" ")
        );
    }
    if cmdline.iter().any(|w| w == CPU_WORD) {
        cpu_census();
    }
    if cmdline.iter().any(|w| w == EXEC_COSTS_WORD) {
        exec_costs();
    }
    let _ = io::stdout().flush();
    if !cmdline.iter().any(|w| w == POWEROFF_WORD) {
        return;
    }
    // Each init's orderly path (svcctl asks svc-init, which stops the
    // manager and its services before reboot(2)).
    let err = Command::new(POWEROFF).exec();
    println!("bench-probe: cannot exec {POWEROFF}: {err}");
}
