//! A service's declaration as the nvlist svc-supervise expects in its
//! `declare` request (schema: svc-supervise/src/spec.rs, `wire::parse`).
//! Durations travel as milliseconds, signals as numbers, commands as
//! string arrays, rlimits as `[soft, hard]` with `u64::MAX` for infinity.

use std::path::Path;
use std::sync::OnceLock;

use libnv::NvList;
use libsvc::{Account, LimitValue, Output, Ready, Restart, Service, ServiceType};

/// Where a service's supervisor puts what it creates.
pub struct Places<'a> {
    /// `LOGDIR`: the log of NAME is `LOGDIR/NAME/current`.
    pub log_dir: &'a Path,
    /// Base of `runtime-directory` entries (`/run`, `$XDG_RUNTIME_DIR`).
    pub runtime_base: &'a Path,
}

/// The gid given to every service's log (`--log-group`), resolved once at
/// start-up; unset: each supervisor picks its default.
static LOG_GROUP: OnceLock<u32> = OnceLock::new();

/// `--log-group` (a name or number) as a gid, or the system manager's
/// default: `adm` when that group exists, else root. A user manager with
/// no `--log-group` leaves it to its supervisors, which keep logs private.
pub fn resolve_log_group(group: Option<&str>, user_mode: bool) -> Result<Option<u32>, String> {
    let by_name = |name: &str| {
        nix::unistd::Group::from_name(name)
            .map_err(|e| format!("--log-group {name}: {e}"))
            .map(|g| g.map(|g| g.gid.as_raw()))
    };
    match group {
        Some(g) => match g.parse::<u32>() {
            Ok(gid) => Ok(Some(gid)),
            Err(_) => by_name(g)?
                .map(Some)
                .ok_or_else(|| format!("--log-group {g}: no such group")),
        },
        None if user_mode => Ok(None),
        // A default must never stop the manager: an image with no
        // /etc/group (musl's lookup then fails with ENOENT) has no `adm`.
        None => Ok(Some(by_name("adm").ok().flatten().unwrap_or(0))),
    }
}

/// Sets the group every declaration carries as `log_group` (once).
pub fn set_log_group(gid: Option<u32>) {
    if let Some(gid) = gid {
        let _ = LOG_GROUP.set(gid);
    }
}

fn account(a: &Account) -> String {
    a.to_string()
}

fn ms(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn limit(v: LimitValue) -> u64 {
    match v {
        LimitValue::Value(n) => n,
        LimitValue::Infinity => u64::MAX,
    }
}

/// The packed size of the request `Link::request(method, args)` sends:
/// the envelope's pairs and `args`'s under one header.
pub fn request_size(method: &str, args: &NvList) -> usize {
    crate::proto::message(0, method, false).packed_size() + args.packed_size() - libnv::HEADER_SIZE
}

/// The `service` nvlist of a `declare` request for `name`.
pub fn service_nvlist(name: &str, s: &Service, places: &Places) -> libnv::Result<NvList> {
    let mut l = NvList::new();
    l.add_string("name", name)?;
    l.add_string_array("exec", s.exec.argv())?;
    l.add_string(
        "type",
        match s.service_type {
            ServiceType::Simple => "simple",
            ServiceType::Oneshot => "oneshot",
            ServiceType::Forking => "forking",
        },
    )?;
    if let Some(p) = &s.pidfile {
        l.add_string("pidfile", p.as_os_str().as_encoded_bytes())?;
    }
    if !s.exec_pre.is_empty() {
        let mut items = Vec::with_capacity(s.exec_pre.len());
        for c in &s.exec_pre {
            let mut item = NvList::new();
            item.add_string_array("exec", c.argv())?;
            items.push(item);
        }
        l.add_nvlist_array("exec_pre", items)?;
    }
    if let Some(c) = &s.exec_stop {
        l.add_string_array("exec_stop", c.argv())?;
    }
    match &s.ready {
        Ready::Started => l.add_string("ready", "started")?,
        Ready::SdNotify => l.add_string("ready", "sd-notify")?,
        Ready::NotifyFd(fd) => {
            l.add_string("ready", "notify-fd")?;
            l.add_number("ready_fd", u64::try_from(*fd).unwrap_or(0))?;
        }
        Ready::Check(c) => {
            l.add_string("ready", "check")?;
            l.add_string_array("ready_check", c.argv())?;
        }
    }
    l.add_number("ready_timeout", ms(s.ready_timeout))?;
    l.add_string(
        "restart",
        match s.restart {
            Restart::Always => "always",
            Restart::OnFailure => "on-failure",
            Restart::Never => "never",
        },
    )?;
    l.add_number("restart_delay", ms(s.restart_delay))?;
    l.add_number("restart_delay_max", ms(s.restart_delay_max))?;
    l.add_number("restart_reset", ms(s.restart_reset))?;
    l.add_number("restart_limit", u64::from(s.restart_limit))?;
    l.add_number("stop_signal", u64::try_from(s.stop_signal).unwrap_or(15))?;
    l.add_number("stop_timeout", ms(s.stop_timeout))?;
    l.add_number("reload_signal", u64::try_from(s.reload_signal).unwrap_or(1))?;
    if let Some(u) = &s.user {
        l.add_string("user", account(u))?;
    }
    if let Some(g) = &s.group {
        l.add_string("group", account(g))?;
    }
    if !s.supplementary_groups.is_empty() {
        let groups: Vec<String> = s.supplementary_groups.iter().map(account).collect();
        l.add_string_array("supplementary_groups", &groups)?;
    }
    l.add_string(
        "working_directory",
        s.working_directory.as_os_str().as_encoded_bytes(),
    )?;
    // chroot("/") would fail for an unprivileged (user) manager's services.
    if s.root_directory != Path::new("/") {
        l.add_string(
            "root_directory",
            s.root_directory.as_os_str().as_encoded_bytes(),
        )?;
    }
    l.add_number("umask", u64::from(s.umask))?;
    if !s.environment_files.is_empty() {
        let files: Vec<String> = s
            .environment_files
            .iter()
            .map(|f| {
                let p = f.path.to_string_lossy();
                if f.optional {
                    format!("-{p}")
                } else {
                    p.into_owned()
                }
            })
            .collect();
        l.add_string_array("environment_file", &files)?;
    }
    l.add_bool("clear_environment", s.clear_environment)?;
    if !s.environment.is_empty() {
        // Keys are variable names, which may repeat only if the parser let
        // them; the last one wins, as the supervisor applies them in order.
        let mut env = NvList::with_flags(libnv::Flags::NO_UNIQUE);
        for (k, v) in &s.environment {
            env.add_string(k, v)?;
        }
        l.add_nvlist("environment", env)?;
    }
    if !s.runtime_directories.is_empty() {
        let dirs: Vec<String> = s
            .runtime_directories
            .iter()
            .map(|d| d.to_string_lossy().into_owned())
            .collect();
        l.add_string_array("runtime_directory", &dirs)?;
    }
    // Always: the supervisor also puts its sd_notify socket directory there.
    l.add_string(
        "runtime_root",
        places.runtime_base.as_os_str().as_encoded_bytes(),
    )?;
    for (resource, value) in s.limits.iter() {
        let key = resource.key().replace('-', "_");
        l.add_number_array(&key, &[limit(value.soft), limit(value.hard)])?;
    }
    if let Some(n) = s.nice {
        // Two's complement, as the supervisor reads it back.
        l.add_number("nice", i64::from(n) as u64)?;
    }
    l.add_bool("no_new_privileges", s.no_new_privileges)?;
    l.add_string(
        "output",
        match s.logging.output {
            Output::File => "file",
            Output::Syslog => "syslog",
            Output::Console => "console",
            Output::Inherit => "inherit",
            Output::Null => "null",
        },
    )?;
    l.add_number("max_size", s.logging.max_size)?;
    l.add_number("max_files", u64::from(s.logging.max_files))?;
    l.add_bool("timestamps", s.logging.timestamps)?;
    l.add_string("log_dir", places.log_dir.as_os_str().as_encoded_bytes())?;
    if let Some(gid) = LOG_GROUP.get() {
        l.add_number("log_group", u64::from(*gid))?;
    }
    Ok(l)
}

#[cfg(test)]
mod tests {
    use super::*;
    use libsvc::Command;
    use std::path::PathBuf;
    use std::time::Duration;

    #[test]
    fn keys_and_units() {
        let mut s = Service::new(Command::new(vec!["/bin/sleep".into(), "9".into()]).unwrap());
        s.ready = Ready::NotifyFd(5);
        s.stop_timeout = Duration::from_millis(1500);
        s.nice = Some(-5);
        s.environment = vec![("A".into(), "1".into())];
        s.runtime_directories = vec![PathBuf::from("x")];
        let l = service_nvlist(
            "svc",
            &s,
            &Places {
                log_dir: Path::new("/l"),
                runtime_base: Path::new("/r"),
            },
        )
        .unwrap();
        assert_eq!(l.get_str("name"), Some("svc"));
        assert_eq!(l.get_str("ready"), Some("notify-fd"));
        assert_eq!(l.get_number("ready_fd"), Some(5));
        assert_eq!(l.get_number("stop_timeout"), Some(1500));
        assert_eq!(l.get_number("nice"), Some((-5i64) as u64));
        assert_eq!(l.get_str("runtime_root"), Some("/r"));
        assert_eq!(l.get_str("log_dir"), Some("/l"));
        assert!(l.pack().is_ok());
        // The runtime root travels also without runtime directories: the
        // supervisor puts its sd_notify socket directory there.
        s.runtime_directories.clear();
        let l = service_nvlist(
            "svc",
            &s,
            &Places {
                log_dir: Path::new("/l"),
                runtime_base: Path::new("/r"),
            },
        )
        .unwrap();
        assert_eq!(l.get_str("runtime_root"), Some("/r"));
    }

    #[test]
    fn log_group_resolution() {
        assert_eq!(resolve_log_group(Some("4242"), false), Ok(Some(4242)));
        assert_eq!(resolve_log_group(Some("root"), true), Ok(Some(0)));
        assert!(
            resolve_log_group(Some("no-such-group-here"), false)
                .unwrap_err()
                .contains("no such group")
        );
        assert_eq!(resolve_log_group(None, true), Ok(None));
        let adm = nix::unistd::Group::from_name("adm")
            .unwrap()
            .map_or(0, |g| g.gid.as_raw());
        assert_eq!(resolve_log_group(None, false), Ok(Some(adm)));
    }

    /// A service with every field that adds to the packed size set.
    fn everything(n: usize) -> Service {
        use libsvc::{Account, EnvFile, LimitValue, Resource, Rlimit};
        let long = |c: char| c.to_string().repeat(n);
        let cmd = |c: char| Command::new(vec![long(c), long(c), "x".into()]).unwrap();
        let mut s = Service::new(cmd('e'));
        s.pidfile = Some(PathBuf::from(long('p')));
        s.exec_pre = vec![cmd('a'), cmd('b'), cmd('c')];
        s.exec_stop = Some(cmd('s'));
        s.ready = Ready::Check(cmd('r'));
        s.user = Some(Account::Name(long('u')));
        s.group = Some(Account::Id(u32::MAX));
        s.supplementary_groups = vec![Account::Name(long('g')), Account::Id(7)];
        s.working_directory = PathBuf::from(long('w'));
        s.root_directory = PathBuf::from(long('o'));
        s.environment_files = vec![
            EnvFile {
                path: PathBuf::from(long('f')),
                optional: true,
            },
            EnvFile {
                path: PathBuf::from(long('h')),
                optional: false,
            },
        ];
        s.runtime_directories = vec![PathBuf::from(long('d')), PathBuf::from("z")];
        for r in Resource::ALL {
            s.limits.set(
                r,
                Rlimit {
                    soft: LimitValue::Value(1),
                    hard: LimitValue::Infinity,
                },
            );
        }
        s.nice = Some(-20);
        // Variable names are nvpair names, which libnv bounds.
        let key = "K".repeat(n.min(200));
        s.environment = vec![(key, long('v')), ("B".into(), String::new())];
        s
    }

    #[test]
    fn libsvcs_wire_limits_are_libnvs() {
        assert_eq!(libsvc::limits::WIRE_NAME_MAX, libnv::NAME_MAX);
    }

    #[test]
    fn libsvcs_bound_is_never_below_the_packed_request() {
        let path_max = "/".repeat(4095);
        for n in [0, 1, 100, 5000] {
            let s = everything(n);
            let name = "n".repeat(n.min(200) + 1);
            let decl = service_nvlist(
                &name,
                &s,
                &Places {
                    log_dir: Path::new(&path_max),
                    runtime_base: Path::new(&path_max),
                },
            )
            .unwrap();
            let mut args = NvList::new();
            args.add_nvlist("service", decl).unwrap();
            args.add_bool("start", true).unwrap();
            let size = request_size("declare", &args);
            // request_size is what Link::request puts on the wire.
            let mut msg = crate::proto::message(u64::MAX, "declare", false);
            for p in args.into_pairs() {
                let (k, v) = p.into_parts();
                msg.add(k, v).unwrap();
            }
            assert_eq!(msg.pack().unwrap().len(), size);
            let bound = libsvc::limits::declaration_bound(&name, &s).bytes;
            assert!(bound >= size, "n = {n}: bound {bound} < packed {size}");
            assert!(bound - size < 4096, "n = {n}: bound {bound}, packed {size}");
        }
    }
}
