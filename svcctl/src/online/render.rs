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

/// NAME STATE PID UPTIME RESTARTS LAST-EXIT, one line per service.
pub fn table(items: &[NvList]) {
    let tty = std::io::stdout().is_terminal();
    let w = name_width(items);
    let mut out = String::new();
    out.push_str(&format!(
        "{:w$}  {:9} {:>7} {:>8} {:>8}  {}\n",
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
        let mut line = format!(
            "{:w$}  {} {:>7} {:>8} {:>8}  {}",
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

/// One service in detail, with the last lines of its log.
pub fn detail(s: &NvList) {
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
