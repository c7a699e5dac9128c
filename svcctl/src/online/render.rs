//! Human and JSON renderings of the manager's answers.

use std::io::{IsTerminal, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::Duration;

use libnv::NvList;
use libsvc::proto::key;
use serde_json::{Value, json};

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn str_or<'a>(s: &'a NvList, key: &str, default: &'a str) -> &'a str {
    s.get_str(key).unwrap_or(default)
}

/// `3d 4h`, `5m 2s`, `17s`.
pub fn age(secs: u64) -> String {
    let (d, h, m, s) = (secs / 86400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    if d > 0 {
        format!("{d}d {h}h")
    } else if h > 0 {
        format!("{h}h {m}m")
    } else if m > 0 {
        format!("{m}m {s}s")
    } else {
        format!("{s}s")
    }
}

fn last_exit(s: &NvList) -> String {
    match (
        s.get_number(key::LAST_EXIT_STATUS),
        s.get_number(key::LAST_EXIT_SIGNAL),
    ) {
        (Some(c), _) => format!("status {c}"),
        (None, Some(sig)) => format!("signal {sig}"),
        (None, None) => "-".into(),
    }
}

fn colour(state: &str, tty: bool) -> String {
    if !tty {
        return state.to_owned();
    }
    let c = match state {
        "ready" | "running" | "finished" => "32",
        "starting" | "stopping" | "backoff" => "33",
        "failed" => "31",
        _ => "2",
    };
    format!("\x1b[{c}m{state}\x1b[0m")
}

fn pad_coloured(text: String, plain_len: usize, width: usize) -> String {
    format!("{text}{}", " ".repeat(width.saturating_sub(plain_len)))
}

/// The width of the NAME column: the longest name, at least "NAME".
fn name_width(items: &[NvList]) -> usize {
    items
        .iter()
        .map(|s| str_or(s, key::NAME, "").len())
        .max()
        .unwrap_or(4)
        .max(4)
}

/// What the manager's `status` reply says of cgroups: in use, not in use
/// (and why), or nothing (a manager older than cgroups).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cgroups {
    InUse,
    NotInUse(Option<String>),
    Unknown,
}

impl Cgroups {
    pub fn of_reply(reply: &NvList) -> Cgroups {
        match reply.get_bool(key::CGROUPS) {
            Some(true) => Cgroups::InUse,
            Some(false) => Cgroups::NotInUse(reply.get_str(key::CGROUPS_NOTE).map(str::to_owned)),
            None => Cgroups::Unknown,
        }
    }

    /// `cgroups` of `status --json`: true, false, or null.
    pub fn json(&self) -> Value {
        match self {
            Cgroups::InUse => Value::Bool(true),
            Cgroups::NotInUse(_) => Value::Bool(false),
            Cgroups::Unknown => Value::Null,
        }
    }
}

/// Bytes as `512B`, `12.3M`, `1.5G` (powers of 1024, like sizes in
/// declarations).
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["K", "M", "G", "T", "P"];
    if n < 1024 {
        return format!("{n}B");
    }
    let mut v = n as f64 / 1024.0;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    if v < 10.0 {
        format!("{v:.1}{}", UNITS[unit])
    } else {
        format!("{v:.0}{}", UNITS[unit])
    }
}

/// CPU time: `0.153s`, `12.41s`, then as `age` (`5m 2s`).
pub fn cpu_time(usec: u64) -> String {
    if usec < 10_000_000 {
        format!("{:.3}s", usec as f64 / 1e6)
    } else if usec < 60_000_000 {
        format!("{:.2}s", usec as f64 / 1e6)
    } else {
        age(usec / 1_000_000)
    }
}

/// The MEM column: the memory the service's cgroup uses now.
fn mem_column(s: &NvList) -> String {
    libsvc::proto::usage_from_nvlist(s)
        .and_then(|u| u.memory_current)
        .map_or_else(|| "-".into(), bytes)
}

/// NAME STATE PID UPTIME RESTARTS LAST-EXIT, one line per service, with
/// MEM after PID where cgroups are in use.
pub fn table(items: &[NvList], cgroups: &Cgroups) {
    let tty = std::io::stdout().is_terminal();
    let w = name_width(items);
    let mem = *cgroups == Cgroups::InUse;
    let mut out = String::new();
    let mem_head = if mem {
        format!(" {:>7}", "MEM")
    } else {
        String::new()
    };
    out.push_str(&format!(
        "{:w$}  {:9} {:>7}{mem_head} {:>8} {:>8}  {}\n",
        "NAME", "STATE", "PID", "UPTIME", "RESTARTS", "LAST-EXIT"
    ));
    let now = now();
    for s in items {
        let state = str_or(s, key::STATE, "?");
        let pid = match s.get_number(key::PID) {
            Some(p) if p > 0 => p.to_string(),
            _ => "-".into(),
        };
        let up = if matches!(state, "ready" | "running") {
            age(now.saturating_sub(s.get_number(key::SINCE).unwrap_or(now)))
        } else {
            "-".into()
        };
        let mem_cell = if mem {
            format!(" {:>7}", mem_column(s))
        } else {
            String::new()
        };
        let mut line = format!(
            "{:w$}  {} {:>7}{mem_cell} {:>8} {:>8}  {}",
            str_or(s, key::NAME, "?"),
            pad_coloured(colour(state, tty), state.len(), 9),
            pid,
            up,
            s.get_number(key::RESTARTS).unwrap_or(0),
            last_exit(s),
        );
        if let Some(r) = s.get_str(key::REASON) {
            line.push_str(&format!("  ({r})"));
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    let _ = std::io::stdout().lock().write_all(out.as_bytes());
}

/// The usage lines of the detail view (none without a `usage`).
fn usage_lines(s: &NvList, out: &mut String) {
    let Some(u) = libsvc::proto::usage_from_nvlist(s) else {
        return;
    };
    if let Some(cur) = u.memory_current {
        match u.memory_peak {
            Some(peak) => out.push_str(&format!(
                "  memory:     {} (peak {})\n",
                bytes(cur),
                bytes(peak)
            )),
            None => out.push_str(&format!("  memory:     {}\n", bytes(cur))),
        }
    }
    if let Some(us) = u.cpu_usec {
        out.push_str(&format!("  cpu:        {}\n", cpu_time(us)));
    }
    if let Some(t) = u.tasks {
        out.push_str(&format!("  tasks:      {t}\n"));
    }
    if let Some(k) = u.oom_kills {
        out.push_str(&format!("  oom kills:  {k}\n"));
    }
}

/// One service in detail, with the last lines of its log.
pub fn detail(s: &NvList, cgroups: &Cgroups) {
    let tty = std::io::stdout().is_terminal();
    let name = str_or(s, key::NAME, "?");
    let state = str_or(s, key::STATE, "?");
    let since = s.get_number(key::SINCE).unwrap_or(0);
    let mut out = String::new();
    match s.get_str(key::DESCRIPTION) {
        Some(d) => out.push_str(&format!("{name} - {d}\n")),
        None => out.push_str(&format!("{name}\n")),
    }
    out.push_str(&format!(
        "  kind:       {}\n",
        str_or(s, key::KIND, "service")
    ));
    out.push_str(&format!(
        "  state:      {} for {}\n",
        colour(state, tty),
        age(now().saturating_sub(since))
    ));
    if let Some(p) = s.get_number(key::PID).filter(|&p| p > 0) {
        out.push_str(&format!("  pid:        {p}\n"));
    }
    out.push_str(&format!(
        "  wanted:     {}\n",
        str_or(s, key::WANTED, "down")
    ));
    out.push_str(&format!(
        "  restarts:   {}\n",
        s.get_number(key::RESTARTS).unwrap_or(0)
    ));
    out.push_str(&format!("  last exit:  {}\n", last_exit(s)));
    if let Some(r) = s.get_str(key::REASON) {
        out.push_str(&format!("  reason:     {r}\n"));
    }
    if let Some(t) = s.get_str(key::STATUS_TEXT) {
        out.push_str(&format!("  status:     {t}\n"));
    }
    usage_lines(s, &mut out);
    if let Cgroups::NotInUse(note) = cgroups {
        match note {
            Some(n) => out.push_str(&format!("  cgroups:    not in use ({n})\n")),
            None => out.push_str("  cgroups:    not in use\n"),
        }
    }
    if let Some(log) = s.get_str(key::LOG) {
        out.push_str(&format!("  log:        {log}\n"));
        if let Ok(lines) = last_lines(Path::new(log), 10)
            && !lines.is_empty()
        {
            out.push('\n');
            for l in lines {
                out.push_str(&format!("  {l}\n"));
            }
        }
    }
    let _ = std::io::stdout().lock().write_all(out.as_bytes());
}

/// `status --json` items, exactly as cli.md fixes them.
pub fn status_json(s: &NvList) -> Value {
    let last_exit = match (
        s.get_number(key::LAST_EXIT_STATUS),
        s.get_number(key::LAST_EXIT_SIGNAL),
    ) {
        (None, None) => Value::Null,
        (status, signal) => json!({ "status": status, "signal": signal }),
    };
    json!({
        "name": str_or(s, key::NAME, ""),
        "kind": str_or(s, key::KIND, "service"),
        "state": str_or(s, key::STATE, "down"),
        "pid": s.get_number(key::PID).filter(|&p| p > 0),
        "since": s.get_number(key::SINCE).unwrap_or(0),
        "restarts": s.get_number(key::RESTARTS).unwrap_or(0),
        "last_exit": last_exit,
        "wanted": str_or(s, key::WANTED, "down"),
        "reason": s.get_str(key::REASON),
        "usage": libsvc::proto::usage_from_nvlist(s).map(|u| json!({
            "memory_current": u.memory_current,
            "memory_peak": u.memory_peak,
            "cpu_usec": u.cpu_usec,
            "tasks": u.tasks,
            "oom_kills": u.oom_kills,
        })),
    })
}

/// `list --json` items.
pub fn list_json(s: &NvList) -> Value {
    let enabled: Vec<String> = s
        .get_string_array(key::ENABLED)
        .unwrap_or(&[])
        .iter()
        .map(|t| String::from_utf8_lossy(t).into_owned())
        .collect();
    json!({
        "name": str_or(s, key::NAME, ""),
        "kind": str_or(s, key::KIND, "service"),
        "state": str_or(s, key::STATE, "down"),
        "enabled": enabled,
        "description": s.get_str(key::DESCRIPTION),
        "file": s.get_str(key::FILE),
    })
}

/// Items of a start/stop/restart/target reply.
pub fn outcome_json(s: &NvList) -> Value {
    json!({
        "name": str_or(s, key::NAME, ""),
        "kind": str_or(s, key::KIND, "service"),
        "result": str_or(s, key::RESULT, ""),
        "state": str_or(s, key::STATE, "down"),
        "pid": s.get_number(key::PID).filter(|&p| p > 0),
        "reason": s.get_str(key::REASON),
    })
}

/// NAME KIND STATE ENABLED DESCRIPTION.
pub fn list_table(items: &[NvList]) {
    let w = name_width(items);
    let mut out = format!(
        "{:w$}  {:7} {:9} {:12} {}\n",
        "NAME", "KIND", "STATE", "ENABLED", "DESCRIPTION"
    );
    for s in items {
        let enabled: Vec<String> = s
            .get_string_array(key::ENABLED)
            .unwrap_or(&[])
            .iter()
            .map(|t| String::from_utf8_lossy(t).into_owned())
            .collect();
        let enabled = if enabled.is_empty() {
            "-".to_owned()
        } else {
            enabled.join(",")
        };
        let line = format!(
            "{:w$}  {:7} {:9} {:12} {}",
            str_or(s, key::NAME, "?"),
            str_or(s, key::KIND, "service"),
            str_or(s, key::STATE, "?"),
            enabled,
            str_or(s, key::DESCRIPTION, ""),
        );
        out.push_str(line.trim_end());
        out.push('\n');
    }
    let _ = std::io::stdout().lock().write_all(out.as_bytes());
}

/// `nginx ready pid 42` (with the reason of a failure) for `watch`.
pub fn event_line(s: &NvList) -> String {
    let mut line = format!(
        "{} {}",
        str_or(s, key::NAME, "?"),
        str_or(s, key::STATE, "?")
    );
    if let Some(p) = s.get_number(key::PID).filter(|&p| p > 0) {
        line.push_str(&format!(" pid {p}"));
    }
    if let Some(r) = s.get_str(key::REASON) {
        line.push_str(&format!(" ({r})"));
    }
    line
}

/// `nginx: started (ready, pid 42)` per service a job touched.
pub fn outcomes(items: &[NvList]) {
    let mut out = String::new();
    for s in items {
        let mut line = format!(
            "{}: {} ({}",
            str_or(s, key::NAME, "?"),
            str_or(s, key::RESULT, "?"),
            str_or(s, key::STATE, "?")
        );
        if let Some(p) = s.get_number(key::PID).filter(|&p| p > 0) {
            line.push_str(&format!(", pid {p}"));
        }
        line.push(')');
        if let Some(r) = s.get_str(key::REASON) {
            line.push_str(&format!(": {r}"));
        }
        out.push_str(&line);
        out.push('\n');
    }
    let _ = std::io::stdout().lock().write_all(out.as_bytes());
}

/// The last `n` lines of a file (reads at most the last 256 KiB).
pub fn last_lines(path: &Path, n: usize) -> std::io::Result<Vec<String>> {
    let mut f = std::fs::File::open(path)?;
    let len = f.metadata()?.len();
    let from = len.saturating_sub(256 * 1024);
    f.seek(SeekFrom::Start(from))?;
    let mut buf = Vec::new();
    f.read_to_end(&mut buf)?;
    let text = String::from_utf8_lossy(&buf);
    let mut lines: Vec<&str> = text.lines().collect();
    if from > 0 && !lines.is_empty() {
        lines.remove(0);
    }
    let start = lines.len().saturating_sub(n);
    Ok(lines[start..].iter().map(|l| (*l).to_owned()).collect())
}

/// Prints the last `n` lines, then with `follow` what is appended,
/// reopening the file when it is rotated.
pub fn tail(path: &Path, n: usize, follow: bool) -> std::io::Result<()> {
    let mut stdout = std::io::stdout();
    for l in last_lines(path, n)? {
        writeln!(stdout, "{l}")?;
    }
    stdout.flush()?;
    if !follow {
        return Ok(());
    }
    let mut f = std::fs::File::open(path)?;
    let mut pos = f.seek(SeekFrom::End(0))?;
    let mut ino = f.metadata()?.ino();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let k = f.read(&mut buf)?;
        if k > 0 {
            pos += k as u64;
            stdout.write_all(&buf[..k])?;
            stdout.flush()?;
            continue;
        }
        std::thread::sleep(Duration::from_millis(200));
        if let Ok(m) = std::fs::metadata(path)
            && (m.ino() != ino || m.len() < pos)
        {
            f = std::fs::File::open(path)?;
            ino = m.ino();
            pos = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_read_like_sizes() {
        assert_eq!(bytes(0), "0B");
        assert_eq!(bytes(1023), "1023B");
        assert_eq!(bytes(1024), "1.0K");
        assert_eq!(bytes(2_420_736), "2.3M");
        assert_eq!(bytes(32 << 20), "32M");
        assert_eq!(bytes(100 << 20), "100M");
        assert_eq!(bytes(3 << 29), "1.5G");
    }

    #[test]
    fn cpu_times() {
        assert_eq!(cpu_time(1523), "0.002s");
        assert_eq!(cpu_time(153_000), "0.153s");
        assert_eq!(cpu_time(12_410_000), "12.41s");
        assert_eq!(cpu_time(302_000_000), "5m 2s");
    }

    #[test]
    fn cgroups_of_a_reply() {
        let mut r = NvList::new();
        assert_eq!(Cgroups::of_reply(&r), Cgroups::Unknown);
        assert_eq!(Cgroups::of_reply(&r).json(), Value::Null);
        r.add_bool(key::CGROUPS, false).unwrap();
        r.add_string(
            key::CGROUPS_NOTE,
            "no cgroup2 file system on /sys/fs/cgroup",
        )
        .unwrap();
        assert_eq!(
            Cgroups::of_reply(&r),
            Cgroups::NotInUse(Some("no cgroup2 file system on /sys/fs/cgroup".into()))
        );
        assert_eq!(Cgroups::of_reply(&r).json(), Value::Bool(false));
    }

    #[test]
    fn usage_in_json_is_an_object_or_null() {
        let mut item = NvList::new();
        item.add_string(key::NAME, "x").unwrap();
        assert_eq!(status_json(&item)["usage"], Value::Null);
        let u = libsvc::cgroup::usage::Usage {
            memory_current: Some(4096),
            cpu_usec: Some(7),
            ..Default::default()
        };
        item.add_nvlist(key::USAGE, libsvc::proto::usage_to_nvlist(&u))
            .unwrap();
        assert_eq!(
            status_json(&item)["usage"],
            json!({"memory_current": 4096, "memory_peak": null, "cpu_usec": 7, "tasks": null, "oom_kills": null})
        );
    }
}
