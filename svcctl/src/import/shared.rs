//! What the OpenRC, LSB and runit importers share: the reading of a
//! `start-stop-daemon` call, retry schedules, `ulimit` flags, the runtime
//! directories a script creates, and companion files.

use super::draft::{Draft, Section};
use std::path::{Path, PathBuf};

/// A `start-stop-daemon` call (Debian's or OpenRC's options).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Ssd {
    pub start: bool,
    pub exec: Option<String>,
    pub startas: Option<String>,
    pub pidfile: Option<String>,
    pub make_pidfile: bool,
    pub background: bool,
    pub user: Option<String>,
    pub group: Option<String>,
    pub chdir: Option<String>,
    pub chroot: Option<String>,
    pub nice: Option<String>,
    pub umask: Option<String>,
    pub retry: Option<String>,
    pub signal: Option<String>,
    /// `--notify-await` (Debian): the daemon says READY=1 over sd_notify.
    pub notify: bool,
    pub notify_timeout: Option<String>,
    /// The daemon's own arguments (after `--`).
    pub args: Vec<String>,
    /// Options that only select or report (`--quiet`, `--name`, …).
    pub ignored: Vec<String>,
    /// Options with no svc meaning, for a note.
    pub unsupported: Vec<String>,
}

impl Ssd {
    /// Reads the expanded words of a `start-stop-daemon` call (the program
    /// name first). Err: a word it does not know.
    pub fn parse(words: &[String]) -> Result<Ssd, String> {
        Ssd::parse_as(words, false)
    }

    /// Debian's start-stop-daemon, whose `--user` only selects processes
    /// (`--chuid` changes the user).
    pub fn parse_debian(words: &[String]) -> Result<Ssd, String> {
        Ssd::parse_as(words, true)
    }

    fn parse_as(words: &[String], debian: bool) -> Result<Ssd, String> {
        let mut s = Ssd::default();
        let mut i = 1;
        while i < words.len() {
            let w = words[i].as_str();
            i += 1;
            if w == "--" {
                s.args = words[i..].to_vec();
                break;
            }
            let (opt, inline) = match w.split_once('=') {
                Some((o, v)) if o.starts_with("--") => (o, Some(v.to_string())),
                _ => (w, None),
            };
            let takes = |o: &str| {
                matches!(
                    o,
                    "-x" | "--exec"
                        | "-a"
                        | "--startas"
                        | "-n"
                        | "--name"
                        | "-p"
                        | "--pidfile"
                        | "-c"
                        | "--chuid"
                        | "-u"
                        | "--user"
                        | "-g"
                        | "--group"
                        | "-d"
                        | "--chdir"
                        | "-r"
                        | "--chroot"
                        | "-N"
                        | "--nicelevel"
                        | "-k"
                        | "--umask"
                        | "-R"
                        | "--retry"
                        | "-s"
                        | "--signal"
                        | "-I"
                        | "--iosched"
                        | "-P"
                        | "--procsched"
                        | "-e"
                        | "--env"
                        | "-1"
                        | "--stdout"
                        | "-2"
                        | "--stderr"
                        | "--output"
                        | "--ppid"
                        | "--remove-pidfile"
                        | "-w"
                        | "--wait"
                        | "--notify-timeout"
                        | "--ionice"
                        | "--capabilities"
                        | "--secbits"
                        | "--scheduler"
                        | "--scheduler-priority"
                )
            };
            let value = if takes(opt) {
                match inline {
                    Some(v) => Some(v),
                    None => {
                        let v = words.get(i).cloned();
                        i += 1;
                        Some(v.ok_or_else(|| format!("{opt} without a value"))?)
                    }
                }
            } else {
                None
            };
            let v = || value.clone().unwrap_or_default();
            match opt {
                "-S" | "--start" => s.start = true,
                "-K" | "--stop" => s.start = false,
                "-x" | "--exec" => s.exec = Some(v()),
                "-a" | "--startas" => s.startas = Some(v()),
                "-p" | "--pidfile" => s.pidfile = Some(v()),
                "-m" | "--make-pidfile" => s.make_pidfile = true,
                "-b" | "--background" => s.background = true,
                "-c" | "--chuid" => {
                    let v = v();
                    match v.split_once(':') {
                        Some((u, g)) => {
                            s.user = Some(u.to_string());
                            s.group = Some(g.to_string());
                        }
                        None => s.user = Some(v),
                    }
                }
                "--notify-await" => s.notify = true,
                "--notify-timeout" => s.notify_timeout = Some(v()),
                // OpenRC's -u changes the user; Debian's only matches by it.
                "-u" | "--user" if debian => s.ignored.push(format!("{opt} {}", v())),
                "-u" | "--user" => {
                    let v = v();
                    match v.split_once(':') {
                        Some((u, g)) => {
                            s.user = Some(u.to_string());
                            s.group = Some(g.to_string());
                        }
                        None => s.user = Some(v),
                    }
                }
                "-g" | "--group" => s.group = Some(v()),
                "-d" | "--chdir" => s.chdir = Some(v()),
                "-r" | "--chroot" => s.chroot = Some(v()),
                "-N" | "--nicelevel" => s.nice = Some(v()),
                "-k" | "--umask" => s.umask = Some(v()),
                "-R" | "--retry" => s.retry = Some(v()),
                "-s" | "--signal" => s.signal = Some(v()),
                "-n" | "--name" | "-q" | "--quiet" | "-o" | "--oknodo" | "-v" | "--verbose"
                | "-t" | "--test" | "--progress" | "-C" | "--no-close" | "--ppid" | "-w"
                | "--wait" => s.ignored.push(opt.to_string()),
                o if takes(o) => s.unsupported.push(format!("{o} {}", v())),
                o if o.starts_with('-') => return Err(format!("unknown option {o}")),
                _ => {
                    // Debian's start-stop-daemon takes no bare words; OpenRC's
                    // takes the command after the options.
                    s.args = words[i - 1..].to_vec();
                    if s.exec.is_none() && s.startas.is_none() {
                        s.exec = Some(s.args.remove(0));
                    }
                    break;
                }
            }
        }
        Ok(s)
    }

    /// The program it starts.
    pub fn program(&self) -> Option<&str> {
        self.startas.as_deref().or(self.exec.as_deref())
    }
}

/// A stop schedule (`TERM/30/KILL/5`, or seconds alone) as stop-signal and
/// stop-timeout. Err: why (part of) it cannot be carried over.
pub fn apply_retry(d: &mut Draft, schedule: &str, stopsig: Option<&str>) -> Result<(), String> {
    let parts: Vec<&str> = schedule.split('/').filter(|p| !p.is_empty()).collect();
    let sig = |s: &str| {
        let s = s.trim_start_matches("SIG");
        libsvc::signal::parse_signal(s)
            .map(|_| s.to_string())
            .map_err(|_| format!("unknown signal '{s}'"))
    };
    let secs = |s: &str| {
        s.parse::<u64>()
            .map(|n| format!("{n}s"))
            .map_err(|_| format!("'{s}' is not a number of seconds"))
    };
    match parts.as_slice() {
        [t] => {
            d.set(Section::Service, "stop-timeout", secs(t)?);
            if let Some(s) = stopsig {
                d.set(Section::Service, "stop-signal", sig(s)?);
            }
            Ok(())
        }
        [s, t, rest @ ..] => {
            let s1 = sig(s)?;
            d.set(Section::Service, "stop-signal", s1);
            d.set(Section::Service, "stop-timeout", secs(t)?);
            match rest {
                [] => Ok(()),
                [k, _] | [k] if sig(k).as_deref() == Ok("KILL") => Ok(()),
                _ => Err(format!(
                    "the steps after {s}/{t} ({}): svc sends one stop signal, then SIGKILL after stop-timeout",
                    rest.join("/")
                )),
            }
        }
        [] => Err("an empty schedule".into()),
    }
}

/// `ulimit` flags (`-n 4096 -c unlimited`) as `limit-*` keys. Err: what
/// was not carried over.
pub fn apply_ulimit(d: &mut Draft, words: &[String]) -> Result<(), String> {
    let mut left = Vec::new();
    let mut i = 0;
    let mut only = None;
    while i < words.len() {
        let w = words[i].as_str();
        i += 1;
        match w {
            "-H" | "-S" => {
                only = Some(w);
                continue;
            }
            _ => {}
        }
        let Some(flag) = w.strip_prefix('-').filter(|f| f.len() == 1) else {
            left.push(w.to_string());
            continue;
        };
        // Sizes: dash and busybox count -c and -f in 512-byte blocks, the
        // others in KiB.
        let (name, unit) = match flag {
            "c" => ("core", 512),
            "f" => ("fsize", 512),
            "d" => ("data", 1024),
            "l" => ("memlock", 1024),
            "m" => ("rss", 1024),
            "s" => ("stack", 1024),
            "v" => ("as", 1024),
            "q" => ("msgqueue", 1),
            "e" => ("nice", 0),
            "i" => ("sigpending", 0),
            "n" => ("nofile", 0),
            "r" => ("rtprio", 0),
            "t" => ("cpu", 0),
            "u" => ("nproc", 0),
            "x" => ("locks", 0),
            _ => {
                left.push(w.to_string());
                continue;
            }
        };
        let Some(v) = words.get(i) else {
            left.push(w.to_string());
            break;
        };
        i += 1;
        if let Some(o) = only {
            left.push(format!("{o} {w} {v} (svc sets soft and hard together)"));
            continue;
        }
        let value = if v == "unlimited" {
            "infinity".to_string()
        } else if let Ok(n) = v.parse::<u64>() {
            if unit > 1 {
                n.saturating_mul(unit).to_string()
            } else {
                n.to_string()
            }
        } else {
            left.push(format!("{w} {v}"));
            continue;
        };
        d.set(Section::Service, &format!("limit-{name}"), value);
    }
    if left.is_empty() {
        Ok(())
    } else {
        Err(format!("ulimit {} has no svc equivalent", left.join(" ")))
    }
}

/// A directory the script creates under `/run` (`mkdir /run/sshd`,
/// `checkpath -d /run/x`, `install -d /var/run/x`): svc's
/// `runtime-directory`, one level deep only.
pub fn runtime_dir(words: &[String]) -> Option<String> {
    let prog = words.first()?.rsplit('/').next()?;
    let is_dir_cmd = match prog {
        "mkdir" => true,
        "checkpath" | "install" => words
            .iter()
            .any(|w| w == "-d" || w == "--directory" || w == "-D"),
        _ => false,
    };
    if !is_dir_cmd {
        return None;
    }
    let mut found = None;
    for w in &words[1..] {
        let rest = w
            .strip_prefix("/run/")
            .or_else(|| w.strip_prefix("/var/run/"));
        if let Some(r) = rest {
            let r = r.trim_end_matches('/');
            if !r.is_empty() && !r.contains('/') && r != "." && r != ".." {
                found = Some(r.to_string());
            }
        }
    }
    found
}

/// `DIR/init.d/NAME` → `DIR/COMPANION/NAME` (conf.d, default).
pub fn companion(path: &Path, dir: &str) -> Option<PathBuf> {
    let name = path.file_name()?;
    let parent = path.parent()?;
    let up = parent.parent()?;
    Some(up.join(dir).join(name))
}

/// The daemons whose foreground flag is certain (their own manual says so),
/// so an LSB script that lets them daemonize can be run in the foreground.
pub fn foreground_flags(program: &str) -> Option<&'static [&'static str]> {
    let base = program.rsplit('/').next().unwrap_or(program);
    Some(match base {
        "sshd" => &["-D"],
        "cron" | "crond" | "atd" => &["-f"],
        "rsyslogd" => &["-n"],
        "nginx" => &["-g", "daemon off;"],
        "dbus-daemon" => &["--nofork"],
        _ => return None,
    })
}

/// A signal as a start-stop-daemon or kill option gives it (`1`, `SIGHUP`,
/// `HUP`) in svc's spelling; `None` when it is not a signal.
pub fn signal_name(s: &str) -> Option<String> {
    let s = s.trim_start_matches("SIG");
    libsvc::signal::parse_signal(s).ok()?;
    let named = match s {
        "1" => "HUP",
        "2" => "INT",
        "3" => "QUIT",
        "9" => "KILL",
        "10" => "USR1",
        "12" => "USR2",
        "14" => "ALRM",
        "15" => "TERM",
        other => other,
    };
    Some(named.to_string())
}

/// What libsvc says of `key = value` alone in an otherwise valid
/// declaration (a template's instance for a template), or None.
fn svc_rejects(template: bool, section: Section, key: &str, value: &str) -> Option<String> {
    let mut text = String::from("[service]\nexec = /bin/true\n");
    let line = format!("{key} = {value}\n");
    match section {
        Section::Service => {
            // The keys another key needs beside it.
            if key == "pidfile" {
                text.push_str("type = forking\n");
            }
            if key == "type" && value == "forking" {
                text.push_str("pidfile = /run/t.pid\n");
            }
            if key == "restart-delay" {
                text.push_str(&format!("restart-delay-max = {value}\n"));
            }
            if key == "exec" {
                text = String::from("[service]\n");
            }
            text.push_str(&line);
        }
        Section::Dependencies => text.push_str(&format!("[dependencies]\n{line}")),
        Section::Environment => text.push_str(&format!("[environment]\n{line}")),
        Section::Logging => text.push_str(&format!("[logging]\n{line}")),
    }
    let (name, instance) = if template {
        ("t@x", Some("x"))
    } else {
        ("t", None)
    };
    let (_, diags) = libsvc::decl::parse(name, Path::new("t.ini"), text.as_bytes(), instance);
    diags.into_iter().find(|d| d.is_error()).map(|d| d.message)
}

/// The keys whose value is a list of items (each checked on its own).
fn is_list(section: Section, key: &str) -> bool {
    section == Section::Dependencies
        || matches!(
            key,
            "runtime-directory" | "supplementary-groups" | "environment-file"
        )
}

/// Drops every value svc would reject (a script's `umask=abc`, a relative
/// `directory`), each with a note naming it: what is written always passes
/// `svcctl check`. List keys keep their valid items.
pub fn drop_invalid(d: &mut Draft) -> Result<(), super::draft::Note> {
    // Notes and remarks are written as one comment line each.
    let one_line = |s: &mut String| {
        if s.contains(['\n', '\r']) {
            *s = s.replace(['\n', '\r'], " ");
        }
    };
    d.notes.iter_mut().for_each(|n| one_line(&mut n.why));
    d.remarks.iter_mut().for_each(one_line);
    let template = d.name.ends_with('@');
    let source = d.sources[0].clone();
    let entries: Vec<(Section, String, String)> = d
        .entries()
        .map(|(s, k, v)| (s, k.to_string(), v.to_string()))
        .collect();
    for (section, key, value) in entries {
        let why = if value.contains('\u{FFFD}') {
            Some("bytes that are not UTF-8 in the source".to_string())
        } else {
            svc_rejects(template, section, &key, &value)
        };
        let Some(why) = why else {
            continue;
        };
        d.remove(section, &key);
        if is_list(section, &key) {
            for item in value.split_whitespace() {
                let why = if item.contains('\u{FFFD}') {
                    Some("bytes that are not UTF-8 in the source".to_string())
                } else {
                    svc_rejects(template, section, &key, item)
                };
                match why {
                    None => d.push(section, &key, item),
                    Some(why) => d.not_imported(
                        &source,
                        0,
                        format!("{key} = {item}: not valid in svc ({why})"),
                    ),
                }
            }
        } else if key == "exec" {
            return Err(super::draft::Note::new(
                &source,
                0,
                format!("exec = {value}: not valid in svc ({why}); nothing written"),
            ));
        } else {
            d.not_imported(
                &source,
                0,
                format!("{key} = {value}: not valid in svc ({why})"),
            );
        }
    }
    if d.get(Section::Service, "type") == Some("forking")
        && d.get(Section::Service, "pidfile").is_none()
    {
        d.remove(Section::Service, "type");
        d.not_imported(
            &source,
            0,
            "type = forking left out with its pid file: svc cannot follow a daemon that forks without one",
        );
    }
    Ok(())
}

/// `export NAME[=VALUE]` at a script's top level: the daemon inherits it,
/// so it goes to `[environment]` (a value only a run would know: a note).
pub fn exports(
    d: &mut Draft,
    env: &super::sh::Env,
    file: &Path,
    cmd: &super::sh::Cmd,
    skip: &[&str],
) {
    for name in &cmd.exports {
        if skip.contains(&name.as_str()) {
            continue;
        }
        match env.get(name) {
            Some(super::sh::Val::Known(v)) => d.set(Section::Environment, name, v.clone()),
            Some(super::sh::Val::Unknown(why)) => d.not_imported(
                file,
                cmd.line,
                format!("export {name}: its value depends on {why}"),
            ),
            None => {}
        }
    }
}

/// The words of a source line for a note, shortened.
pub fn show(words: &[String]) -> String {
    let s = words.join(" ");
    if s.chars().count() > 72 {
        let cut: String = s.chars().take(69).collect();
        format!("{cut}...")
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn debian_start_stop_daemon_is_read() {
        let s = Ssd::parse(&w(
            "start-stop-daemon --start --quiet --oknodo --chuid 0:0 --pidfile /run/sshd.pid --exec /usr/sbin/sshd -- -p 22",
        ))
        .unwrap();
        assert!(s.start);
        assert_eq!(s.program(), Some("/usr/sbin/sshd"));
        assert_eq!(s.pidfile.as_deref(), Some("/run/sshd.pid"));
        assert_eq!(s.user.as_deref(), Some("0"));
        assert_eq!(s.group.as_deref(), Some("0"));
        assert_eq!(s.args, ["-p", "22"]);
        let s = Ssd::parse(&w(
            "start-stop-daemon -S -b -m -p /run/x.pid --retry=TERM/5 -a /bin/x",
        ))
        .unwrap();
        assert!(s.background && s.make_pidfile);
        assert_eq!(s.retry.as_deref(), Some("TERM/5"));
        assert!(Ssd::parse(&w("start-stop-daemon --bogus")).is_err());
        assert!(Ssd::parse(&w("start-stop-daemon --exec")).is_err());
    }

    #[test]
    fn openrc_start_stop_daemon_takes_the_command_after_options() {
        let s = Ssd::parse(&w("start-stop-daemon --start -u nobody /usr/bin/x -f")).unwrap();
        assert_eq!(s.program(), Some("/usr/bin/x"));
        assert_eq!(s.args, ["-f"]);
        assert_eq!(s.user.as_deref(), Some("nobody"));
    }

    #[test]
    fn retry_schedules_become_stop_signal_and_timeout() {
        let p = Path::new("/x");
        let mut d = Draft::new("x", p);
        apply_retry(&mut d, "TERM/30/KILL/5", None).unwrap();
        assert_eq!(d.get(Section::Service, "stop-signal"), Some("TERM"));
        assert_eq!(d.get(Section::Service, "stop-timeout"), Some("30s"));
        let mut d = Draft::new("x", p);
        apply_retry(&mut d, "20", Some("SIGQUIT")).unwrap();
        assert_eq!(d.get(Section::Service, "stop-signal"), Some("QUIT"));
        assert_eq!(d.get(Section::Service, "stop-timeout"), Some("20s"));
        let mut d = Draft::new("x", p);
        let e = apply_retry(&mut d, "QUIT/5/TERM/5/KILL/5", None).unwrap_err();
        assert!(e.contains("TERM/5/KILL/5"), "{e}");
        assert_eq!(d.get(Section::Service, "stop-signal"), Some("QUIT"));
        assert!(apply_retry(&mut d, "BOGUS/5", None).is_err());
    }

    #[test]
    fn ulimit_flags_become_limits() {
        let mut d = Draft::new("x", Path::new("/x"));
        apply_ulimit(&mut d, &w("-n 4096 -c unlimited -s 8192 -f 2")).unwrap();
        assert_eq!(d.get(Section::Service, "limit-nofile"), Some("4096"));
        assert_eq!(d.get(Section::Service, "limit-core"), Some("infinity"));
        assert_eq!(d.get(Section::Service, "limit-stack"), Some("8388608"));
        assert_eq!(d.get(Section::Service, "limit-fsize"), Some("1024"));
        let e = apply_ulimit(&mut d, &w("-S -n 10 -z 1")).unwrap_err();
        assert!(e.contains("-S -n 10") && e.contains("-z"), "{e}");
    }

    #[test]
    fn runtime_directories_are_found() {
        assert_eq!(runtime_dir(&w("mkdir /run/sshd")), Some("sshd".into()));
        assert_eq!(
            runtime_dir(&w("checkpath -d -o x:y -m 0755 /var/run/x/")),
            Some("x".into())
        );
        assert_eq!(runtime_dir(&w("checkpath -f /run/x.pid")), None);
        assert_eq!(runtime_dir(&w("mkdir -p /run/a/b")), None);
        assert_eq!(runtime_dir(&w("mkdir /tmp/a")), None);
    }

    #[test]
    fn companions_sit_beside_init_d() {
        assert_eq!(
            companion(Path::new("/t/etc/init.d/nginx"), "default"),
            Some(PathBuf::from("/t/etc/default/nginx"))
        );
    }
}
