//! The declaration a manager sends a supervisor in `declare` (schema in
//! docs/supervise.md). Durations travel as milliseconds, signals as numbers
//! (names are read too), commands as string arrays, rlimits as
//! `[soft, hard]` with `u64::MAX` for infinity, `nice` in two's complement.
//! Absent optional keys are `None` (or empty): the supervisor applies its
//! defaults.

use std::path::PathBuf;

use libnv::{NvList, NvView, ValueRef};

use super::signal_value;
use crate::{Account, Output, Resource, Restart, ServiceType};

/// The declaration's keys.
pub mod key {
    pub const NAME: &str = "name";
    pub const EXEC: &str = "exec";
    pub const TYPE: &str = "type";
    pub const PIDFILE: &str = "pidfile";
    pub const EXEC_PRE: &str = "exec_pre";
    pub const EXEC_STOP: &str = "exec_stop";
    pub const READY: &str = "ready";
    pub const READY_FD: &str = "ready_fd";
    pub const READY_CHECK: &str = "ready_check";
    pub const READY_TIMEOUT: &str = "ready_timeout";
    pub const READY_CHECK_INTERVAL: &str = "ready_check_interval";
    pub const RESTART: &str = "restart";
    pub const RESTART_DELAY: &str = "restart_delay";
    pub const RESTART_DELAY_MAX: &str = "restart_delay_max";
    pub const RESTART_RESET: &str = "restart_reset";
    pub const RESTART_LIMIT: &str = "restart_limit";
    pub const STOP_SIGNAL: &str = "stop_signal";
    pub const STOP_TIMEOUT: &str = "stop_timeout";
    pub const RELOAD_SIGNAL: &str = "reload_signal";
    pub const USER: &str = "user";
    pub const GROUP: &str = "group";
    pub const SUPPLEMENTARY_GROUPS: &str = "supplementary_groups";
    pub const WORKING_DIRECTORY: &str = "working_directory";
    pub const ROOT_DIRECTORY: &str = "root_directory";
    pub const UMASK: &str = "umask";
    pub const ENVIRONMENT_FILE: &str = "environment_file";
    pub const CLEAR_ENVIRONMENT: &str = "clear_environment";
    pub const ENVIRONMENT: &str = "environment";
    pub const RUNTIME_DIRECTORY: &str = "runtime_directory";
    pub const RUNTIME_ROOT: &str = "runtime_root";
    pub const NICE: &str = "nice";
    pub const NO_NEW_PRIVILEGES: &str = "no_new_privileges";
    pub const OUTPUT: &str = "output";
    pub const MAX_SIZE: &str = "max_size";
    pub const MAX_FILES: &str = "max_files";
    pub const TIMESTAMPS: &str = "timestamps";
    pub const LOG_DIR: &str = "log_dir";
    pub const LOG_GROUP: &str = "log_group";
    pub const SYSLOG_PATH: &str = "syslog_path";
    pub const CGROUP: &str = "cgroup";
    pub const CGROUP_FORK: &str = "cgroup_fork";
}

/// `limit_NAME` of a resource (declarations write `limit-NAME`).
pub fn limit_key(r: Resource) -> String {
    r.key().replace('-', "_")
}

/// How readiness is told, with the key that goes with each kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadyWire {
    Started,
    SdNotify,
    NotifyFd(i32),
    Check(Vec<String>),
}

/// One rlimit; `u64::MAX` is infinity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    pub resource: Resource,
    pub soft: u64,
    pub hard: u64,
}

/// The `service` nvlist of a `declare` request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Declaration {
    pub name: String,
    pub exec: Vec<String>,
    pub service_type: Option<ServiceType>,
    pub pidfile: Option<PathBuf>,
    pub exec_pre: Vec<Vec<String>>,
    pub exec_stop: Option<Vec<String>>,
    pub ready: Option<ReadyWire>,
    pub ready_timeout_ms: Option<u64>,
    pub restart: Option<Restart>,
    pub restart_delay_ms: Option<u64>,
    pub restart_delay_max_ms: Option<u64>,
    pub restart_reset_ms: Option<u64>,
    pub restart_limit: Option<u32>,
    pub stop_signal: Option<i32>,
    pub stop_timeout_ms: Option<u64>,
    pub reload_signal: Option<i32>,
    /// Names or numbers, as text.
    pub user: Option<String>,
    pub group: Option<String>,
    pub supplementary_groups: Vec<String>,
    pub working_directory: Option<PathBuf>,
    pub root_directory: Option<PathBuf>,
    pub umask: Option<u32>,
    /// Paths; a leading `-` marks an optional file.
    pub environment_file: Vec<String>,
    pub clear_environment: Option<bool>,
    /// In declaration order; names may repeat (the last one wins).
    pub environment: Vec<(String, String)>,
    pub runtime_directory: Vec<String>,
    pub runtime_root: Option<PathBuf>,
    /// In resource order, each resource at most once.
    pub limits: Vec<Limit>,
    pub nice: Option<i32>,
    pub no_new_privileges: Option<bool>,
    pub output: Option<Output>,
    pub max_size: Option<u64>,
    pub max_files: Option<u32>,
    pub timestamps: Option<bool>,
    pub log_dir: Option<PathBuf>,
    /// The manager sends a gid; a name is read too.
    pub log_group: Option<Account>,
    /// Not sent by the manager; the supervisor's defaults apply.
    pub ready_check_interval_ms: Option<u64>,
    pub syslog_path: Option<PathBuf>,
    /// The service's leaf cgroup (a directory under the cgroup2 mount);
    /// absent when cgroups are not in use.
    pub cgroup: Option<PathBuf>,
    /// Whether the service may be forked straight into `cgroup`
    /// (libsvc::cgroup::fork_into); absent: never, it is moved.
    pub cgroup_fork: Option<CgroupFork>,
}

/// When a supervisor may fork its service straight into its leaf.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CgroupFork {
    /// The kernel does it soundly.
    Always,
    /// The leaf is new; on this kernel only until `cgroup.kill` is first
    /// written to it (libsvc::cgroup::fork_into_is_sound says why).
    UntilKilled,
}

impl CgroupFork {
    pub fn as_str(self) -> &'static str {
        match self {
            CgroupFork::Always => "always",
            CgroupFork::UntilKilled => "until-killed",
        }
    }
}

impl Declaration {
    /// A declaration of `name` running `exec`, every optional key absent.
    pub fn new(name: &str, exec: Vec<String>) -> Declaration {
        Declaration {
            name: name.to_owned(),
            exec,
            service_type: None,
            pidfile: None,
            exec_pre: Vec::new(),
            exec_stop: None,
            ready: None,
            ready_timeout_ms: None,
            restart: None,
            restart_delay_ms: None,
            restart_delay_max_ms: None,
            restart_reset_ms: None,
            restart_limit: None,
            stop_signal: None,
            stop_timeout_ms: None,
            reload_signal: None,
            user: None,
            group: None,
            supplementary_groups: Vec::new(),
            working_directory: None,
            root_directory: None,
            umask: None,
            environment_file: Vec::new(),
            clear_environment: None,
            environment: Vec::new(),
            runtime_directory: Vec::new(),
            runtime_root: None,
            limits: Vec::new(),
            nice: None,
            no_new_privileges: None,
            output: None,
            max_size: None,
            max_files: None,
            timestamps: None,
            log_dir: None,
            log_group: None,
            ready_check_interval_ms: None,
            syslog_path: None,
            cgroup: None,
            cgroup_fork: None,
        }
    }

    /// The nvlist (key order is part of what adoption across upgrades
    /// compares byte for byte in tests; add new keys at the end).
    pub fn to_nvlist(&self) -> libnv::Result<NvList> {
        fn path(p: &std::path::Path) -> &[u8] {
            p.as_os_str().as_encoded_bytes()
        }
        let mut l = NvList::new();
        l.add_string(key::NAME, &self.name)?;
        l.add_string_array(key::EXEC, &self.exec)?;
        if let Some(t) = self.service_type {
            l.add_string(key::TYPE, type_name(t))?;
        }
        if let Some(p) = &self.pidfile {
            l.add_string(key::PIDFILE, path(p))?;
        }
        if !self.exec_pre.is_empty() {
            let mut items = Vec::with_capacity(self.exec_pre.len());
            for c in &self.exec_pre {
                let mut item = NvList::new();
                item.add_string_array(key::EXEC, c)?;
                items.push(item);
            }
            l.add_nvlist_array(key::EXEC_PRE, items)?;
        }
        if let Some(c) = &self.exec_stop {
            l.add_string_array(key::EXEC_STOP, c)?;
        }
        match &self.ready {
            None => {}
            Some(ReadyWire::Started) => l.add_string(key::READY, "started")?,
            Some(ReadyWire::SdNotify) => l.add_string(key::READY, "sd-notify")?,
            Some(ReadyWire::NotifyFd(fd)) => {
                l.add_string(key::READY, "notify-fd")?;
                l.add_number(key::READY_FD, u64::try_from(*fd).unwrap_or(0))?;
            }
            Some(ReadyWire::Check(c)) => {
                l.add_string(key::READY, "check")?;
                l.add_string_array(key::READY_CHECK, c)?;
            }
        }
        let number = |l: &mut NvList, k: &str, v: Option<u64>| match v {
            Some(n) => l.add_number(k, n),
            None => Ok(()),
        };
        number(&mut l, key::READY_TIMEOUT, self.ready_timeout_ms)?;
        if let Some(r) = self.restart {
            l.add_string(key::RESTART, restart_name(r))?;
        }
        number(&mut l, key::RESTART_DELAY, self.restart_delay_ms)?;
        number(&mut l, key::RESTART_DELAY_MAX, self.restart_delay_max_ms)?;
        number(&mut l, key::RESTART_RESET, self.restart_reset_ms)?;
        number(
            &mut l,
            key::RESTART_LIMIT,
            self.restart_limit.map(u64::from),
        )?;
        let signal = |s: i32| u64::try_from(s).unwrap_or(0);
        number(&mut l, key::STOP_SIGNAL, self.stop_signal.map(signal))?;
        number(&mut l, key::STOP_TIMEOUT, self.stop_timeout_ms)?;
        number(&mut l, key::RELOAD_SIGNAL, self.reload_signal.map(signal))?;
        if let Some(u) = &self.user {
            l.add_string(key::USER, u)?;
        }
        if let Some(g) = &self.group {
            l.add_string(key::GROUP, g)?;
        }
        if !self.supplementary_groups.is_empty() {
            l.add_string_array(key::SUPPLEMENTARY_GROUPS, &self.supplementary_groups)?;
        }
        if let Some(p) = &self.working_directory {
            l.add_string(key::WORKING_DIRECTORY, path(p))?;
        }
        if let Some(p) = &self.root_directory {
            l.add_string(key::ROOT_DIRECTORY, path(p))?;
        }
        number(&mut l, key::UMASK, self.umask.map(u64::from))?;
        if !self.environment_file.is_empty() {
            l.add_string_array(key::ENVIRONMENT_FILE, &self.environment_file)?;
        }
        if let Some(b) = self.clear_environment {
            l.add_bool(key::CLEAR_ENVIRONMENT, b)?;
        }
        if !self.environment.is_empty() {
            let mut env = NvList::with_flags(libnv::Flags::NO_UNIQUE);
            for (k, v) in &self.environment {
                env.add_string(k, v)?;
            }
            l.add_nvlist(key::ENVIRONMENT, env)?;
        }
        if !self.runtime_directory.is_empty() {
            l.add_string_array(key::RUNTIME_DIRECTORY, &self.runtime_directory)?;
        }
        if let Some(p) = &self.runtime_root {
            l.add_string(key::RUNTIME_ROOT, path(p))?;
        }
        for limit in &self.limits {
            l.add_number_array(limit_key(limit.resource), &[limit.soft, limit.hard])?;
        }
        // Two's complement, as `from_view` reads it back.
        number(&mut l, key::NICE, self.nice.map(|n| i64::from(n) as u64))?;
        if let Some(b) = self.no_new_privileges {
            l.add_bool(key::NO_NEW_PRIVILEGES, b)?;
        }
        if let Some(o) = self.output {
            l.add_string(key::OUTPUT, output_name(o))?;
        }
        number(&mut l, key::MAX_SIZE, self.max_size)?;
        number(&mut l, key::MAX_FILES, self.max_files.map(u64::from))?;
        if let Some(b) = self.timestamps {
            l.add_bool(key::TIMESTAMPS, b)?;
        }
        if let Some(p) = &self.log_dir {
            l.add_string(key::LOG_DIR, path(p))?;
        }
        match &self.log_group {
            None => {}
            Some(Account::Id(gid)) => l.add_number(key::LOG_GROUP, u64::from(*gid))?,
            Some(Account::Name(n)) => l.add_string(key::LOG_GROUP, n)?,
        }
        number(
            &mut l,
            key::READY_CHECK_INTERVAL,
            self.ready_check_interval_ms,
        )?;
        if let Some(p) = &self.syslog_path {
            l.add_string(key::SYSLOG_PATH, path(p))?;
        }
        if let Some(p) = &self.cgroup {
            l.add_string(key::CGROUP, path(p))?;
        }
        if let Some(f) = self.cgroup_fork {
            l.add_string(key::CGROUP_FORK, f.as_str())?;
        }
        Ok(l)
    }

    /// Reads a declaration; the error names the key at fault. Checks the
    /// form of each value, not what the supervisor makes of them.
    pub fn from_view(v: &NvView) -> Result<Declaration, String> {
        let r = Reader(v);
        let name = r.string(key::NAME)?.ok_or("declaration has no 'name'")?;
        let exec = r.command(key::EXEC)?.ok_or("declaration has no 'exec'")?;
        let mut d = Declaration::new(&name, exec);
        d.service_type = r.choice(key::TYPE, "simple, oneshot or forking", |t| match t {
            "simple" => Some(ServiceType::Simple),
            "oneshot" => Some(ServiceType::Oneshot),
            "forking" => Some(ServiceType::Forking),
            _ => None,
        })?;
        d.pidfile = r.string(key::PIDFILE)?.map(PathBuf::from);
        match v.get(key::EXEC_PRE) {
            None => {}
            Some(ValueRef::NvListArray(items)) => {
                for item in items.iter() {
                    let cmd = Reader(&item)
                        .command(key::EXEC)?
                        .ok_or_else(|| err(key::EXEC_PRE, "elements with 'exec'"))?;
                    d.exec_pre.push(cmd);
                }
            }
            Some(_) => return Err(err(key::EXEC_PRE, "an nvlist array")),
        }
        d.exec_stop = r.command(key::EXEC_STOP)?;
        if let Some(ready) = r.string(key::READY)? {
            d.ready = Some(match ready.as_str() {
                "started" => ReadyWire::Started,
                "sd-notify" | "sd_notify" => ReadyWire::SdNotify,
                "notify-fd" | "notify_fd" => {
                    let fd = r
                        .number(key::READY_FD)?
                        .ok_or_else(|| err(key::READY_FD, "a number"))?;
                    ReadyWire::NotifyFd(i32::try_from(fd).map_err(|_| err(key::READY_FD, "an fd"))?)
                }
                "check" => ReadyWire::Check(
                    r.command(key::READY_CHECK)?
                        .ok_or_else(|| err(key::READY_CHECK, "a command"))?,
                ),
                _ => {
                    return Err(err(key::READY, "started, notify-fd, sd-notify or check"));
                }
            });
        }
        d.ready_timeout_ms = r.number(key::READY_TIMEOUT)?;
        d.ready_check_interval_ms = r.number(key::READY_CHECK_INTERVAL)?;
        d.restart = r.choice(key::RESTART, "always, on-failure or never", |t| match t {
            "always" => Some(Restart::Always),
            "on-failure" | "on_failure" => Some(Restart::OnFailure),
            "never" => Some(Restart::Never),
            _ => None,
        })?;
        d.restart_delay_ms = r.number(key::RESTART_DELAY)?;
        d.restart_delay_max_ms = r.number(key::RESTART_DELAY_MAX)?;
        d.restart_reset_ms = r.number(key::RESTART_RESET)?;
        d.restart_limit = r.count(key::RESTART_LIMIT)?;
        d.stop_signal = r.signal(key::STOP_SIGNAL)?;
        d.stop_timeout_ms = r.number(key::STOP_TIMEOUT)?;
        d.reload_signal = r.signal(key::RELOAD_SIGNAL)?;
        d.user = r.string(key::USER)?;
        d.group = r.string(key::GROUP)?;
        d.supplementary_groups = r.strings(key::SUPPLEMENTARY_GROUPS)?.unwrap_or_default();
        d.working_directory = r.string(key::WORKING_DIRECTORY)?.map(PathBuf::from);
        d.root_directory = r.string(key::ROOT_DIRECTORY)?.map(PathBuf::from);
        if let Some(m) = r.number(key::UMASK)? {
            d.umask = Some(
                u32::try_from(m)
                    .ok()
                    .filter(|m| *m <= 0o777)
                    .ok_or_else(|| err(key::UMASK, "a mode up to 0777"))?,
            );
        }
        d.environment_file = r.strings(key::ENVIRONMENT_FILE)?.unwrap_or_default();
        d.clear_environment = r.boolean(key::CLEAR_ENVIRONMENT)?;
        match v.get(key::ENVIRONMENT) {
            None => {}
            Some(ValueRef::NvList(env)) => {
                for pair in env.iter() {
                    let name = pair
                        .name_str()
                        .ok_or_else(|| err(key::ENVIRONMENT, "UTF-8 names"))?;
                    let ValueRef::String(value) = pair.value else {
                        return Err(err(key::ENVIRONMENT, "string values"));
                    };
                    let value = std::str::from_utf8(value)
                        .map_err(|_| err(key::ENVIRONMENT, "UTF-8 values"))?;
                    d.environment.push((name.to_owned(), value.to_owned()));
                }
            }
            Some(_) => return Err(err(key::ENVIRONMENT, "an nvlist")),
        }
        d.runtime_directory = r.strings(key::RUNTIME_DIRECTORY)?.unwrap_or_default();
        d.runtime_root = r.string(key::RUNTIME_ROOT)?.map(PathBuf::from);
        for resource in Resource::ALL {
            let name = limit_key(resource);
            match v.get(&name) {
                None => {}
                Some(ValueRef::NumberArray(a)) if a.len() == 2 => {
                    let (soft, hard) = (a.get(0).unwrap_or(0), a.get(1).unwrap_or(0));
                    if soft > hard {
                        return Err(err(&name, "soft <= hard"));
                    }
                    d.limits.push(Limit {
                        resource,
                        soft,
                        hard,
                    });
                }
                Some(_) => return Err(err(&name, "a number array [soft, hard]")),
            }
        }
        if let Some(n) = r.number(key::NICE)? {
            let n = n as i64;
            if !(-20..=19).contains(&n) {
                return Err(err(key::NICE, "-20 to 19 (two's complement)"));
            }
            d.nice = Some(n as i32);
        }
        d.no_new_privileges = r.boolean(key::NO_NEW_PRIVILEGES)?;
        d.output = r.choice(
            key::OUTPUT,
            "file, syslog, console, inherit or null",
            |t| match t {
                "file" => Some(Output::File),
                "syslog" => Some(Output::Syslog),
                "console" => Some(Output::Console),
                "inherit" => Some(Output::Inherit),
                "null" => Some(Output::Null),
                _ => None,
            },
        )?;
        d.max_size = r.number(key::MAX_SIZE)?;
        d.max_files = r.count(key::MAX_FILES)?;
        d.timestamps = r.boolean(key::TIMESTAMPS)?;
        d.log_dir = r.string(key::LOG_DIR)?.map(PathBuf::from);
        d.log_group = match v.get(key::LOG_GROUP) {
            None => None,
            Some(ValueRef::Number(n)) => Some(Account::Id(
                u32::try_from(n).map_err(|_| err(key::LOG_GROUP, "a gid"))?,
            )),
            Some(_) => r
                .string(key::LOG_GROUP)
                .map_err(|_| err(key::LOG_GROUP, "a group name or number"))?
                .map(Account::Name),
        };
        d.syslog_path = r.string(key::SYSLOG_PATH)?.map(PathBuf::from);
        d.cgroup = r.string(key::CGROUP)?.map(PathBuf::from);
        if d.cgroup.as_ref().is_some_and(|p| !p.is_absolute()) {
            return Err(err(key::CGROUP, "an absolute path"));
        }
        d.cgroup_fork = match r.string(key::CGROUP_FORK)?.as_deref() {
            None => None,
            Some("always") => Some(CgroupFork::Always),
            Some("until-killed") => Some(CgroupFork::UntilKilled),
            Some(_) => return Err(err(key::CGROUP_FORK, "\"always\" or \"until-killed\"")),
        };
        Ok(d)
    }
}

fn type_name(t: ServiceType) -> &'static str {
    match t {
        ServiceType::Simple => "simple",
        ServiceType::Oneshot => "oneshot",
        ServiceType::Forking => "forking",
    }
}

fn restart_name(r: Restart) -> &'static str {
    match r {
        Restart::Always => "always",
        Restart::OnFailure => "on-failure",
        Restart::Never => "never",
    }
}

fn output_name(o: Output) -> &'static str {
    match o {
        Output::File => "file",
        Output::Syslog => "syslog",
        Output::Console => "console",
        Output::Inherit => "inherit",
        Output::Null => "null",
    }
}

fn err(name: &str, expected: &str) -> String {
    format!("declaration key '{name}': expected {expected}")
}

/// Typed reads of one list, each error naming the key.
struct Reader<'v, 'a>(&'v NvView<'a>);

impl Reader<'_, '_> {
    fn string(&self, name: &str) -> Result<Option<String>, String> {
        match self.0.get(name) {
            None => Ok(None),
            Some(ValueRef::String(s)) => std::str::from_utf8(s)
                .map(|s| Some(s.to_owned()))
                .map_err(|_| err(name, "UTF-8 text")),
            Some(_) => Err(err(name, "a string")),
        }
    }

    fn number(&self, name: &str) -> Result<Option<u64>, String> {
        match self.0.get(name) {
            None => Ok(None),
            Some(ValueRef::Number(n)) => Ok(Some(n)),
            Some(_) => Err(err(name, "a number")),
        }
    }

    fn count(&self, name: &str) -> Result<Option<u32>, String> {
        self.number(name)?
            .map(|n| u32::try_from(n).map_err(|_| err(name, "a count")))
            .transpose()
    }

    fn boolean(&self, name: &str) -> Result<Option<bool>, String> {
        match self.0.get(name) {
            None => Ok(None),
            Some(ValueRef::Bool(b)) => Ok(Some(b)),
            Some(_) => Err(err(name, "a bool")),
        }
    }

    fn choice<T>(
        &self,
        name: &str,
        expected: &str,
        pick: impl Fn(&str) -> Option<T>,
    ) -> Result<Option<T>, String> {
        self.string(name)?
            .map(|t| pick(&t).ok_or_else(|| err(name, expected)))
            .transpose()
    }

    fn strings(&self, name: &str) -> Result<Option<Vec<String>>, String> {
        match self.0.get(name) {
            None => Ok(None),
            Some(ValueRef::StringArray(a)) => a
                .iter()
                .map(|s| {
                    std::str::from_utf8(s)
                        .map(str::to_owned)
                        .map_err(|_| err(name, "UTF-8 strings"))
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            // A one-item list may come as a plain string.
            Some(ValueRef::String(s)) => std::str::from_utf8(s)
                .map(|s| Some(vec![s.to_owned()]))
                .map_err(|_| err(name, "UTF-8 text")),
            Some(_) => Err(err(name, "a string array")),
        }
    }

    fn command(&self, name: &str) -> Result<Option<Vec<String>>, String> {
        match self.strings(name)? {
            Some(c) if c.is_empty() || c[0].is_empty() => Err(err(name, "a non-empty command")),
            other => Ok(other),
        }
    }

    fn signal(&self, name: &str) -> Result<Option<i32>, String> {
        match self.0.get(name) {
            None => Ok(None),
            Some(v @ ValueRef::String(_)) => signal_value(v)
                .map(Some)
                .ok_or_else(|| err(name, "a signal")),
            Some(v) => signal_value(v)
                .map(Some)
                .ok_or_else(|| err(name, "a signal number 1-64 or name")),
        }
    }
}
