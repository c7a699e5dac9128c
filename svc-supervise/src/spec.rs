//! What the supervisor runs: the service's declaration, as received from a
//! manager (one nvlist, schema in docs/supervise.md) or built from the
//! standalone command line.

use std::path::PathBuf;

use libsvc::Restart;
use libsvc::proto::Declaration;

use crate::table::{Policy, RestartPolicy};

pub use libsvc::Output;
pub use libsvc::ServiceType as Kind;
pub use libsvc::proto::ReadyWire as Ready;

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
    /// The service's leaf cgroup (docs/supervise.md, "Cgroups"); None:
    /// cgroups are not in use.
    pub cgroup: Option<PathBuf>,
    /// Whether the service may be forked straight into `cgroup`.
    pub cgroup_fork: Option<libsvc::proto::CgroupFork>,
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
            cgroup: None,
            cgroup_fork: None,
        }
    }

    pub fn policy(&self) -> Policy {
        Policy {
            restart: self.restart,
            oneshot: self.kind == Kind::Oneshot,
            stop_command_after_finish: self.kind == Kind::Oneshot && self.exec_stop.is_some(),
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
        if libsvc::names::classify(&self.name).is_err() {
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

impl Spec {
    /// The supervisor's view of a declaration: its defaults where a key is
    /// absent, then checked.
    pub fn from_declaration(d: Declaration) -> Result<Spec, String> {
        let mut s = Spec::new(&d.name, d.exec);
        if let Some(kind) = d.service_type {
            s.kind = kind;
        }
        if s.kind == Kind::Oneshot {
            s.restart = RestartPolicy::Never;
        }
        s.pidfile = d.pidfile;
        s.exec_pre = d.exec_pre;
        s.exec_stop = d.exec_stop;
        if let Some(ready) = d.ready {
            s.ready = ready;
        }
        let set = |slot: &mut u64, v: Option<u64>| {
            if let Some(v) = v {
                *slot = v;
            }
        };
        set(&mut s.ready_timeout_ms, d.ready_timeout_ms);
        set(&mut s.check_interval_ms, d.ready_check_interval_ms);
        set(&mut s.restart_delay_ms, d.restart_delay_ms);
        set(&mut s.restart_delay_max_ms, d.restart_delay_max_ms);
        set(&mut s.restart_reset_ms, d.restart_reset_ms);
        set(&mut s.stop_timeout_ms, d.stop_timeout_ms);
        s.check_interval_ms = s.check_interval_ms.max(10);
        if let Some(r) = d.restart {
            s.restart = match r {
                Restart::Always => RestartPolicy::Always,
                Restart::OnFailure => RestartPolicy::OnFailure,
                Restart::Never => RestartPolicy::Never,
            };
        }
        s.restart_limit = d.restart_limit.unwrap_or(s.restart_limit);
        s.stop_signal = d.stop_signal.unwrap_or(s.stop_signal);
        s.reload_signal = d.reload_signal.unwrap_or(s.reload_signal);
        s.user = d.user;
        s.group = d.group;
        s.supplementary_groups = d.supplementary_groups;
        s.working_directory = d.working_directory;
        s.root_directory = d.root_directory;
        s.umask = d.umask.unwrap_or(s.umask);
        s.environment_file = d.environment_file;
        s.clear_environment = d.clear_environment.unwrap_or(s.clear_environment);
        s.environment = d.environment;
        s.runtime_directory = d.runtime_directory;
        s.runtime_root = d.runtime_root;
        s.limits = d
            .limits
            .iter()
            .map(|l| Limit {
                resource: l.resource as i32,
                soft: l.soft,
                hard: l.hard,
            })
            .collect();
        s.nice = d.nice;
        s.no_new_privileges = d.no_new_privileges.unwrap_or(s.no_new_privileges);
        let log = &mut s.logging;
        log.output = d.output.unwrap_or(log.output);
        log.max_size = d.max_size.unwrap_or(log.max_size);
        log.max_files = d.max_files.unwrap_or(log.max_files);
        log.timestamps = d.timestamps.unwrap_or(log.timestamps);
        log.log_dir = d.log_dir;
        log.log_group = d.log_group.map(|g| g.to_string());
        if let Some(p) = d.syslog_path {
            log.syslog_path = p;
        }
        s.cgroup = d.cgroup;
        s.cgroup_fork = d.cgroup_fork;
        s.validate()?;
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Signal names as declarations write them, which the supervisor's own
    /// parser used to refuse.
    #[test]
    fn declarations_may_name_signals_as_declarations_do() {
        let mut l = libnv::NvList::new();
        l.add_string("name", "x").unwrap();
        l.add_string_array("exec", ["/bin/true"]).unwrap();
        l.add_string("output", "null").unwrap();
        l.add_string("stop_signal", "RTMIN+3").unwrap();
        l.add_string("reload_signal", "usr1").unwrap();
        let b = l.pack().unwrap();
        let d = Declaration::from_view(&libnv::NvView::new(&b).unwrap()).unwrap();
        let s = Spec::from_declaration(d).unwrap();
        assert_eq!((s.stop_signal, s.reload_signal), (37, 10));
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
