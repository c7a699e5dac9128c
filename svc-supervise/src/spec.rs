//! What the supervisor runs: the service's declaration, as received from a
//! manager (one nvlist, schema in docs/supervise.md) or built from the
//! standalone command line.

use std::path::PathBuf;

use crate::table::{Policy, RestartPolicy};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Simple,
    Oneshot,
    Forking,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ready {
    /// Ready once exec'd.
    Started,
    /// A line written on this fd (s6 style).
    NotifyFd(i32),
    /// `READY=1` on `$NOTIFY_SOCKET`.
    SdNotify,
    /// This command exits 0.
    Check(Vec<String>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Output {
    File,
    Syslog,
    Console,
    Inherit,
    Null,
}

/// One rlimit: resource number, soft and hard (`RLIM_INFINITY` for infinity).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limit {
    pub resource: i32,
    pub soft: u64,
    pub hard: u64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Logging {
    pub output: Output,
    pub max_size: u64,
    pub max_files: u32,
    pub timestamps: bool,
    /// `LOGDIR`: the log of service NAME is `LOGDIR/NAME/current`.
    pub log_dir: Option<PathBuf>,
    /// Group (name or number) that may read the log (`LOGDIR/NAME` 0750,
    /// files 0640). None: `adm` (else root) for a root supervisor; a
    /// non-root one keeps its logs private (0700/0600).
    pub log_group: Option<String>,
    /// Where syslog datagrams go.
    pub syslog_path: PathBuf,
    /// Standalone `--stdout` / `--stderr`: files handed to the service as is.
    pub stdout_file: Option<PathBuf>,
    pub stderr_file: Option<PathBuf>,
}

impl Default for Logging {
    fn default() -> Self {
        Logging {
            output: Output::File,
            max_size: 1 << 20,
            max_files: 10,
            timestamps: true,
            log_dir: None,
            log_group: None,
            syslog_path: PathBuf::from("/dev/log"),
            stdout_file: None,
            stderr_file: None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Spec {
    pub name: String,
    pub exec: Vec<String>,
    pub kind: Kind,
    pub pidfile: Option<PathBuf>,
    pub exec_pre: Vec<Vec<String>>,
    pub exec_stop: Option<Vec<String>>,
    pub ready: Ready,
    pub ready_timeout_ms: u64,
    /// How often a `check` command is retried.
    pub check_interval_ms: u64,
    pub restart: RestartPolicy,
    pub restart_delay_ms: u64,
    pub restart_delay_max_ms: u64,
    pub restart_reset_ms: u64,
    pub restart_limit: u32,
    pub stop_signal: i32,
    pub stop_timeout_ms: u64,
    pub reload_signal: i32,
    /// Name or number.
    pub user: Option<String>,
    pub group: Option<String>,
    pub supplementary_groups: Vec<String>,
    pub working_directory: Option<PathBuf>,
    pub root_directory: Option<PathBuf>,
    pub umask: u32,
    pub environment_file: Vec<String>,
    pub clear_environment: bool,
    /// `[environment]`, in declaration order.
    pub environment: Vec<(String, String)>,
    pub runtime_directory: Vec<String>,
    /// Where runtime directories are created (the manager's runtime dir).
    pub runtime_root: Option<PathBuf>,
    pub limits: Vec<Limit>,
    pub nice: Option<i32>,
    pub no_new_privileges: bool,
    pub logging: Logging,
}

impl Spec {
    /// A service with the declaration defaults.
    pub fn new(name: &str, exec: Vec<String>) -> Spec {
        Spec {
            name: name.to_owned(),
            exec,
            kind: Kind::Simple,
            pidfile: None,
            exec_pre: Vec::new(),
            exec_stop: None,
            ready: Ready::Started,
            ready_timeout_ms: 60_000,
            check_interval_ms: 250,
            restart: RestartPolicy::Always,
            restart_delay_ms: 100,
            restart_delay_max_ms: 30_000,
            restart_reset_ms: 10_000,
            restart_limit: 0,
            stop_signal: libc::SIGTERM,
            stop_timeout_ms: 10_000,
            reload_signal: libc::SIGHUP,
            user: None,
            group: None,
            supplementary_groups: Vec::new(),
            working_directory: None,
            root_directory: None,
            umask: 0o022,
            environment_file: Vec::new(),
            clear_environment: true,
            environment: Vec::new(),
            runtime_directory: Vec::new(),
            runtime_root: None,
            limits: Vec::new(),
            nice: None,
            no_new_privileges: false,
            logging: Logging::default(),
        }
    }

    pub fn policy(&self) -> Policy {
        Policy {
            restart: self.restart,
            oneshot: self.kind == Kind::Oneshot,
            ready_on_spawn: self.ready == Ready::Started && self.kind != Kind::Forking,
            ready_timeout_ms: self.ready_timeout_ms,
            stop_timeout_ms: self.stop_timeout_ms,
            restart_delay_ms: self.restart_delay_ms,
            restart_delay_max_ms: self.restart_delay_max_ms,
            restart_reset_ms: self.restart_reset_ms,
            restart_limit: self.restart_limit,
        }
    }

    /// Checks what the supervisor relies on; names the key at fault.
    pub fn validate(&self) -> Result<(), String> {
        if !valid_name(&self.name) {
            return Err(format!("invalid service name '{}'", self.name));
        }
        if self.exec.is_empty() || self.exec[0].is_empty() {
            return Err("'exec' is empty".into());
        }
        if self.kind == Kind::Forking && self.pidfile.is_none() {
            return Err("'type = forking' needs 'pidfile'".into());
        }
        if let Ready::NotifyFd(fd) = self.ready
            && !(3..=1023).contains(&fd)
        {
            return Err(format!(
                "'ready = notify-fd {fd}': the fd must be 3 to 1023"
            ));
        }
        if let Ready::Check(cmd) = &self.ready
            && cmd.is_empty()
        {
            return Err("'ready = check' needs a command".into());
        }
        if self.umask > 0o777 {
            return Err(format!("'umask' {:o} is not a mode", self.umask));
        }
        for (key, value) in &self.environment {
            if key.is_empty() || key.contains('=') || key.contains('\0') || value.contains('\0') {
                return Err(format!("invalid environment variable '{key}'"));
            }
        }
        for dir in &self.runtime_directory {
            if dir.is_empty() || dir.starts_with('/') || dir.split('/').any(|c| c == "..") {
                return Err(format!(
                    "'runtime-directory' {dir:?} must be a relative path without '..'"
                ));
            }
        }
        if !self.runtime_directory.is_empty() && self.runtime_root.is_none() {
            return Err("'runtime-directory' given but no runtime root".into());
        }
        if self.logging.output == Output::File
            && self.logging.log_dir.is_none()
            && self.logging.stdout_file.is_none()
        {
            return Err("'output = file' needs a log directory".into());
        }
        if self.logging.max_files > 10_000 {
            return Err("'max-files' is larger than 10000".into());
        }
        Ok(())
    }
}

/// `[A-Za-z0-9_.-]+` with at most one `@` (declarations.md).
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 200
        && name != "."
        && name != ".."
        && name.bytes().filter(|&b| b == b'@').count() <= 1
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.-@".contains(&b))
}

/// `250ms`, `10s`, `5m`, `1h` or a bare number of seconds, in ms.
pub fn parse_duration(text: &str) -> Option<u64> {
    let text = text.trim();
    let digits = text.bytes().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 {
        return None;
    }
    let value: u64 = text[..digits].parse().ok()?;
    let unit: u64 = match &text[digits..] {
        "ms" => 1,
        "" | "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        _ => return None,
    };
    value.checked_mul(unit)
}

/// `TERM`, `SIGTERM` or a number.
pub fn parse_signal(text: &str) -> Option<i32> {
    if let Ok(n) = text.parse::<i32>() {
        return (1..=64).contains(&n).then_some(n);
    }
    let name = text.strip_prefix("SIG").unwrap_or(text);
    SIGNALS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|&(_, number)| number)
}

const SIGNALS: [(&str, i32); 19] = [
    ("HUP", libc::SIGHUP),
    ("INT", libc::SIGINT),
    ("QUIT", libc::SIGQUIT),
    ("ILL", libc::SIGILL),
    ("ABRT", libc::SIGABRT),
    ("KILL", libc::SIGKILL),
    ("USR1", libc::SIGUSR1),
    ("USR2", libc::SIGUSR2),
    ("SEGV", libc::SIGSEGV),
    ("PIPE", libc::SIGPIPE),
    ("ALRM", libc::SIGALRM),
    ("TERM", libc::SIGTERM),
    ("CHLD", libc::SIGCHLD),
    ("CONT", libc::SIGCONT),
    ("STOP", libc::SIGSTOP),
    ("TSTP", libc::SIGTSTP),
    ("WINCH", libc::SIGWINCH),
    ("IO", libc::SIGIO),
    ("PWR", libc::SIGPWR),
];

/// The rlimit keys of declarations.md (`limit-NAME`) and their resources:
/// every RLIMIT_* Linux has, in resource-number order.
pub const LIMITS: [(&str, i32); 16] = [
    ("cpu", libc::RLIMIT_CPU as i32),
    ("fsize", libc::RLIMIT_FSIZE as i32),
    ("data", libc::RLIMIT_DATA as i32),
    ("stack", libc::RLIMIT_STACK as i32),
    ("core", libc::RLIMIT_CORE as i32),
    ("rss", libc::RLIMIT_RSS as i32),
    ("nproc", libc::RLIMIT_NPROC as i32),
    ("nofile", libc::RLIMIT_NOFILE as i32),
    ("memlock", libc::RLIMIT_MEMLOCK as i32),
    ("as", libc::RLIMIT_AS as i32),
    ("locks", libc::RLIMIT_LOCKS as i32),
    ("sigpending", libc::RLIMIT_SIGPENDING as i32),
    ("msgqueue", libc::RLIMIT_MSGQUEUE as i32),
    ("nice", libc::RLIMIT_NICE as i32),
    ("rtprio", libc::RLIMIT_RTPRIO as i32),
    ("rttime", libc::RLIMIT_RTTIME as i32),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("250ms"), Some(250));
        assert_eq!(parse_duration("10s"), Some(10_000));
        assert_eq!(parse_duration("5m"), Some(300_000));
        assert_eq!(parse_duration("1h"), Some(3_600_000));
        assert_eq!(parse_duration("3"), Some(3_000));
        assert_eq!(parse_duration("3x"), None);
        assert_eq!(parse_duration("ms"), None);
        assert_eq!(parse_duration("99999999999999999999"), None);
    }

    #[test]
    fn signals() {
        assert_eq!(parse_signal("TERM"), Some(libc::SIGTERM));
        assert_eq!(parse_signal("SIGKILL"), Some(libc::SIGKILL));
        assert_eq!(parse_signal("10"), Some(10));
        assert_eq!(parse_signal("0"), None);
        assert_eq!(parse_signal("BOGUS"), None);
    }

    #[test]
    fn names() {
        assert!(valid_name("nginx"));
        assert!(valid_name("getty@tty1"));
        assert!(!valid_name("a@b@c"));
        assert!(!valid_name("a/b"));
        assert!(!valid_name(".."));
        assert!(!valid_name(""));
    }

    #[test]
    fn validation_names_the_key() {
        let mut s = Spec::new("x", vec!["/bin/true".into()]);
        s.logging.output = Output::Null;
        assert!(s.validate().is_ok());
        s.kind = Kind::Forking;
        assert!(s.validate().unwrap_err().contains("pidfile"));
        s.kind = Kind::Simple;
        s.ready = Ready::NotifyFd(1);
        assert!(s.validate().unwrap_err().contains("notify-fd"));
        s.ready = Ready::Started;
        s.runtime_directory = vec!["../etc".into()];
        s.runtime_root = Some("/tmp".into());
        assert!(s.validate().unwrap_err().contains("runtime-directory"));
    }
}

/// The declaration as a manager sends it (schema in docs/supervise.md).
pub mod wire {
    use super::*;
    use libnv::{NvView, ValueRef};

    fn err(key: &str, expected: &str) -> String {
        format!("declaration key '{key}': expected {expected}")
    }

    fn string(v: &NvView, key: &str) -> Result<Option<String>, String> {
        match v.get(key) {
            None => Ok(None),
            Some(ValueRef::String(s)) => std::str::from_utf8(s)
                .map(|s| Some(s.to_owned()))
                .map_err(|_| err(key, "UTF-8 text")),
            Some(_) => Err(err(key, "a string")),
        }
    }

    fn number(v: &NvView, key: &str) -> Result<Option<u64>, String> {
        match v.get(key) {
            None => Ok(None),
            Some(ValueRef::Number(n)) => Ok(Some(n)),
            Some(_) => Err(err(key, "a number")),
        }
    }

    fn boolean(v: &NvView, key: &str) -> Result<Option<bool>, String> {
        match v.get(key) {
            None => Ok(None),
            Some(ValueRef::Bool(b)) => Ok(Some(b)),
            Some(_) => Err(err(key, "a bool")),
        }
    }

    fn strings(v: &NvView, key: &str) -> Result<Option<Vec<String>>, String> {
        match v.get(key) {
            None => Ok(None),
            Some(ValueRef::StringArray(a)) => a
                .iter()
                .map(|s| {
                    std::str::from_utf8(s)
                        .map(str::to_owned)
                        .map_err(|_| err(key, "UTF-8 strings"))
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            // A one-item list may come as a plain string.
            Some(ValueRef::String(s)) => std::str::from_utf8(s)
                .map(|s| Some(vec![s.to_owned()]))
                .map_err(|_| err(key, "UTF-8 text")),
            Some(_) => Err(err(key, "a string array")),
        }
    }

    fn command(v: &NvView, key: &str) -> Result<Option<Vec<String>>, String> {
        match strings(v, key)? {
            Some(c) if c.is_empty() || c[0].is_empty() => Err(err(key, "a non-empty command")),
            other => Ok(other),
        }
    }

    fn signal(v: &NvView, key: &str) -> Result<Option<i32>, String> {
        match v.get(key) {
            None => Ok(None),
            Some(ValueRef::Number(n)) if (1..=64).contains(&n) => Ok(Some(n as i32)),
            Some(ValueRef::String(s)) => std::str::from_utf8(s)
                .ok()
                .and_then(parse_signal)
                .map(Some)
                .ok_or_else(|| err(key, "a signal")),
            Some(_) => Err(err(key, "a signal number 1-64 or name")),
        }
    }

    /// Parses a declaration nvlist into a Spec with defaults filled in.
    pub fn parse(v: &NvView) -> Result<Spec, String> {
        let name = string(v, "name")?.ok_or("declaration has no 'name'")?;
        let exec = command(v, "exec")?.ok_or("declaration has no 'exec'")?;
        let mut s = Spec::new(&name, exec);
        if let Some(kind) = string(v, "type")? {
            s.kind = match kind.as_str() {
                "simple" => Kind::Simple,
                "oneshot" => Kind::Oneshot,
                "forking" => Kind::Forking,
                _ => return Err(err("type", "simple, oneshot or forking")),
            };
        }
        if s.kind == Kind::Oneshot {
            s.restart = RestartPolicy::Never;
        }
        s.pidfile = string(v, "pidfile")?.map(PathBuf::from);
        match v.get("exec_pre") {
            None => {}
            Some(ValueRef::NvListArray(items)) => {
                for item in items.iter() {
                    let cmd = command(&item, "exec")?
                        .ok_or_else(|| err("exec_pre", "elements with 'exec'"))?;
                    s.exec_pre.push(cmd);
                }
            }
            Some(_) => return Err(err("exec_pre", "an nvlist array")),
        }
        s.exec_stop = command(v, "exec_stop")?;
        if let Some(ready) = string(v, "ready")? {
            s.ready = match ready.as_str() {
                "started" => Ready::Started,
                "sd-notify" | "sd_notify" => Ready::SdNotify,
                "notify-fd" | "notify_fd" => {
                    let fd = number(v, "ready_fd")?.ok_or_else(|| err("ready_fd", "a number"))?;
                    Ready::NotifyFd(i32::try_from(fd).map_err(|_| err("ready_fd", "an fd"))?)
                }
                "check" => Ready::Check(
                    command(v, "ready_check")?.ok_or_else(|| err("ready_check", "a command"))?,
                ),
                _ => return Err(err("ready", "started, notify-fd, sd-notify or check")),
            };
        }
        let ms = |key: &str, slot: &mut u64| -> Result<(), String> {
            if let Some(n) = number(v, key)? {
                *slot = n;
            }
            Ok(())
        };
        ms("ready_timeout", &mut s.ready_timeout_ms)?;
        ms("ready_check_interval", &mut s.check_interval_ms)?;
        ms("restart_delay", &mut s.restart_delay_ms)?;
        ms("restart_delay_max", &mut s.restart_delay_max_ms)?;
        ms("restart_reset", &mut s.restart_reset_ms)?;
        ms("stop_timeout", &mut s.stop_timeout_ms)?;
        s.check_interval_ms = s.check_interval_ms.max(10);
        if let Some(r) = string(v, "restart")? {
            s.restart = match r.as_str() {
                "always" => RestartPolicy::Always,
                "on-failure" | "on_failure" => RestartPolicy::OnFailure,
                "never" => RestartPolicy::Never,
                _ => return Err(err("restart", "always, on-failure or never")),
            };
        }
        if let Some(n) = number(v, "restart_limit")? {
            s.restart_limit = u32::try_from(n).map_err(|_| err("restart_limit", "a count"))?;
        }
        if let Some(sig) = signal(v, "stop_signal")? {
            s.stop_signal = sig;
        }
        if let Some(sig) = signal(v, "reload_signal")? {
            s.reload_signal = sig;
        }
        s.user = string(v, "user")?;
        s.group = string(v, "group")?;
        s.supplementary_groups = strings(v, "supplementary_groups")?.unwrap_or_default();
        s.working_directory = string(v, "working_directory")?.map(PathBuf::from);
        s.root_directory = string(v, "root_directory")?.map(PathBuf::from);
        if let Some(m) = number(v, "umask")? {
            s.umask = u32::try_from(m)
                .ok()
                .filter(|m| *m <= 0o777)
                .ok_or_else(|| err("umask", "a mode up to 0777"))?;
        }
        s.environment_file = strings(v, "environment_file")?.unwrap_or_default();
        if let Some(b) = boolean(v, "clear_environment")? {
            s.clear_environment = b;
        }
        match v.get("environment") {
            None => {}
            Some(ValueRef::NvList(env)) => {
                for pair in env.iter() {
                    let key = pair
                        .name_str()
                        .ok_or_else(|| err("environment", "UTF-8 names"))?;
                    let ValueRef::String(value) = pair.value else {
                        return Err(err("environment", "string values"));
                    };
                    let value = std::str::from_utf8(value)
                        .map_err(|_| err("environment", "UTF-8 values"))?;
                    s.environment.push((key.to_owned(), value.to_owned()));
                }
            }
            Some(_) => return Err(err("environment", "an nvlist")),
        }
        s.runtime_directory = strings(v, "runtime_directory")?.unwrap_or_default();
        s.runtime_root = string(v, "runtime_root")?.map(PathBuf::from);
        for (name, resource) in LIMITS {
            let key = format!("limit_{name}");
            match v.get(&key) {
                None => {}
                Some(ValueRef::NumberArray(a)) if a.len() == 2 => {
                    let (soft, hard) = (a.get(0).unwrap_or(0), a.get(1).unwrap_or(0));
                    if soft > hard {
                        return Err(err(&key, "soft <= hard"));
                    }
                    s.limits.push(Limit {
                        resource,
                        soft,
                        hard,
                    });
                }
                Some(_) => return Err(err(&key, "a number array [soft, hard]")),
            }
        }
        if let Some(n) = number(v, "nice")? {
            let n = n as i64;
            if !(-20..=19).contains(&n) {
                return Err(err("nice", "-20 to 19 (two's complement)"));
            }
            s.nice = Some(n as i32);
        }
        if let Some(b) = boolean(v, "no_new_privileges")? {
            s.no_new_privileges = b;
        }
        if let Some(out) = string(v, "output")? {
            s.logging.output = match out.as_str() {
                "file" => Output::File,
                "syslog" => Output::Syslog,
                "console" => Output::Console,
                "inherit" => Output::Inherit,
                "null" => Output::Null,
                _ => return Err(err("output", "file, syslog, console, inherit or null")),
            };
        }
        ms("max_size", &mut s.logging.max_size)?;
        if let Some(n) = number(v, "max_files")? {
            s.logging.max_files = u32::try_from(n).map_err(|_| err("max_files", "a count"))?;
        }
        if let Some(b) = boolean(v, "timestamps")? {
            s.logging.timestamps = b;
        }
        s.logging.log_dir = string(v, "log_dir")?.map(PathBuf::from);
        s.logging.log_group = match v.get("log_group") {
            None => None,
            Some(ValueRef::Number(n)) => Some(
                libc::gid_t::try_from(n)
                    .map_err(|_| err("log_group", "a gid"))?
                    .to_string(),
            ),
            Some(_) => {
                string(v, "log_group").map_err(|_| err("log_group", "a group name or number"))?
            }
        };
        if let Some(p) = string(v, "syslog_path")? {
            s.logging.syslog_path = PathBuf::from(p);
        }
        s.validate()?;
        Ok(s)
    }
}
