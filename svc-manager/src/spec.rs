//! A service's declaration as the `declare` request carries it to its
//! supervisor: libsvc's `proto::Declaration`, filled in from the parsed
//! declaration and where the manager puts things.

use std::path::Path;

use libnv::NvList;
use libsvc::proto::{Declaration, Limit, ReadyWire};
use libsvc::{Account, LimitValue, Ready, Service};

/// Where a service's supervisor puts what it creates, and who may read
/// its log.
pub struct Places<'a> {
    /// `LOGDIR`: the log of NAME is `LOGDIR/NAME/current`.
    pub log_dir: &'a Path,
    /// Base of `runtime-directory` entries (`/run`, `$XDG_RUNTIME_DIR`).
    pub runtime_base: &'a Path,
    /// The gid given to every service's log (`--log-group`); None: each
    /// supervisor picks its default.
    pub log_group: Option<u32>,
}

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

fn ms(d: std::time::Duration) -> Option<u64> {
    Some(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
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

/// The declaration of `name` for its supervisor.
pub fn declaration(name: &str, s: &Service, places: &Places) -> Declaration {
    let rare = s.rare();
    let path = |p: &Path| Some(p.to_path_buf());
    let mut d = Declaration::new(name, s.exec.to_vec());
    d.service_type = Some(s.service_type);
    d.pidfile.clone_from(&rare.pidfile);
    d.exec_pre = rare.exec_pre.iter().map(|c| c.to_vec()).collect();
    d.exec_stop = rare.exec_stop.as_ref().map(|c| c.to_vec());
    d.ready = Some(match &s.ready {
        Ready::Started => ReadyWire::Started,
        Ready::SdNotify => ReadyWire::SdNotify,
        Ready::NotifyFd(fd) => ReadyWire::NotifyFd(*fd),
        Ready::Check(c) => ReadyWire::Check(c.to_vec()),
    });
    d.ready_timeout_ms = ms(s.ready_timeout);
    d.restart = Some(s.restart);
    d.restart_delay_ms = ms(s.restart_delay);
    d.restart_delay_max_ms = ms(s.restart_delay_max);
    d.restart_reset_ms = ms(s.restart_reset);
    d.restart_limit = Some(s.restart_limit);
    d.stop_signal = Some(s.stop_signal);
    d.stop_timeout_ms = ms(s.stop_timeout);
    d.reload_signal = Some(s.reload_signal);
    d.user = rare.user.as_ref().map(Account::to_string);
    d.group = rare.group.as_ref().map(Account::to_string);
    d.supplementary_groups = rare
        .supplementary_groups
        .iter()
        .map(Account::to_string)
        .collect();
    d.working_directory = path(&rare.working_directory);
    // chroot("/") would fail for an unprivileged (user) manager's services.
    if rare.root_directory != Path::new("/") {
        d.root_directory = path(&rare.root_directory);
    }
    d.umask = Some(s.umask);
    d.environment_file = rare
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
    d.clear_environment = Some(s.clear_environment);
    // Names repeat only if the parser let them; the last one wins, as the
    // supervisor applies them in order.
    d.environment.clone_from(&rare.environment);
    d.runtime_directory = rare
        .runtime_directories
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    // Always: the supervisor also puts its sd_notify socket directory there.
    d.runtime_root = path(places.runtime_base);
    d.limits = rare
        .limits
        .iter()
        .map(|(resource, v)| Limit {
            resource,
            soft: limit(v.soft),
            hard: limit(v.hard),
        })
        .collect();
    d.nice = rare.nice;
    d.no_new_privileges = Some(rare.no_new_privileges);
    d.output = Some(s.logging.output);
    d.max_size = Some(s.logging.max_size);
    d.max_files = Some(s.logging.max_files);
    d.timestamps = Some(s.logging.timestamps);
    d.log_dir = path(places.log_dir);
    d.log_group = places.log_group.map(Account::Id);
    d
}

/// The `service` nvlist of a `declare` request for `name` (the manager
/// adds the cgroup leaf to `declaration` first).
#[cfg(test)]
pub fn service_nvlist(name: &str, s: &Service, places: &Places) -> libnv::Result<NvList> {
    declaration(name, s, places).to_nvlist()
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
        s.rare_mut().nice = Some(-5);
        s.rare_mut().environment = vec![("A".into(), "1".into())];
        s.rare_mut().runtime_directories = vec![PathBuf::from("x")];
        let l = service_nvlist(
            "svc",
            &s,
            &Places {
                log_dir: Path::new("/l"),
                runtime_base: Path::new("/r"),
                log_group: None,
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
        s.rare_mut().runtime_directories.clear();
        let l = service_nvlist(
            "svc",
            &s,
            &Places {
                log_dir: Path::new("/l"),
                runtime_base: Path::new("/r"),
                log_group: None,
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
        s.ready = Ready::Check(cmd('r'));
        let rare = s.rare_mut();
        rare.pidfile = Some(PathBuf::from(long('p')));
        rare.exec_pre = vec![cmd('a'), cmd('b'), cmd('c')];
        rare.exec_stop = Some(cmd('s'));
        rare.user = Some(Account::Name(long('u')));
        rare.group = Some(Account::Id(u32::MAX));
        rare.supplementary_groups = vec![Account::Name(long('g')), Account::Id(7)];
        rare.working_directory = PathBuf::from(long('w'));
        rare.root_directory = PathBuf::from(long('o'));
        rare.environment_files = vec![
            EnvFile {
                path: PathBuf::from(long('f')),
                optional: true,
            },
            EnvFile {
                path: PathBuf::from(long('h')),
                optional: false,
            },
        ];
        rare.runtime_directories = vec![PathBuf::from(long('d')), PathBuf::from("z")];
        for r in Resource::ALL {
            rare.limits.set(
                r,
                Rlimit {
                    soft: LimitValue::Value(1),
                    hard: LimitValue::Infinity,
                },
            );
        }
        rare.nice = Some(-20);
        // Variable names are nvpair names, which libnv bounds.
        let key = "K".repeat(n.min(200));
        rare.environment = vec![(key, long('v')), ("B".into(), String::new())];
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
            let mut d = declaration(
                &name,
                &s,
                &Places {
                    log_dir: Path::new(&path_max),
                    runtime_base: Path::new(&path_max),
                    log_group: Some(u32::MAX),
                },
            );
            // The cgroup leaf the manager adds (cgroups.rs).
            d.cgroup = Some(PathBuf::from(&path_max));
            let decl = d.to_nvlist().unwrap();
            let mut args = NvList::new();
            args.add_nvlist(crate::proto::key::SERVICE, decl).unwrap();
            args.add_bool(crate::proto::key::START, true).unwrap();
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
