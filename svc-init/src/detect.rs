//! Where svc-init is running: PID 1 or not, container or host (and which
//! container), and whether it may call reboot(2).

use std::path::Path;

/// The initial PID namespace's inode (the kernel's PROC_PID_INIT_INO).
pub const INIT_PID_NS_INODE: u64 = 0xEFFF_FFFC;
/// Bit of CAP_SYS_BOOT in the capability sets.
pub const CAP_SYS_BOOT: u32 = 22;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Place {
    pub pid1: bool,
    /// None on a host; else what kind of container, as far as known.
    pub container: Option<String>,
    /// `$container`, as the engine set it (written to /run/systemd/container).
    pub container_env: Option<String>,
    pub cap_sys_boot: bool,
}

impl Place {
    pub fn in_container(&self) -> bool {
        self.container.is_some()
    }

    /// Only the init of the whole machine touches what the machine shares.
    pub fn host_pid1(&self) -> bool {
        self.pid1 && !self.in_container()
    }

    /// An nspawn machine follows systemd's conventions: SIGINT is a reboot
    /// request (`machinectl reboot`), and a PID 1 that exits 133 asks for
    /// a reboot.
    pub fn nspawn(&self) -> bool {
        self.container.as_deref() == Some(NSPAWN)
    }

    /// Whether SIGTERM and SIGINT mean poweroff rather than reboot: in a
    /// container whose engine stops it with them (docker, podman), but not
    /// in an nspawn machine, whose engine stops it with signal 37 or 38.
    pub fn term_powers_off(&self) -> bool {
        self.in_container() && !self.nspawn()
    }
}

/// `$container` of systemd-nspawn.
pub const NSPAWN: &str = "systemd-nspawn";
/// The exit status that asks systemd-nspawn for a reboot (its
/// `EXIT_FORCE_RESTART`, `RestartForceExitStatus=133` of
/// systemd-nspawn@.service).
pub const NSPAWN_REBOOT_STATUS: i32 = 133;

/// What the container probes found. Pure: the decision only.
#[derive(Default)]
pub struct Evidence<'a> {
    pub pid_ns_inode: Option<u64>,
    pub container_env: Option<&'a str>,
    pub containerenv_file: bool,
    pub dockerenv_file: bool,
    pub host_container_manager: Option<&'a str>,
}

pub fn container_kind(e: &Evidence<'_>) -> Option<String> {
    let named = if let Some(v) = e.container_env.filter(|v| !v.is_empty()) {
        Some(v.to_owned())
    } else if e.containerenv_file {
        Some("podman".to_owned())
    } else if e.dockerenv_file {
        Some("docker".to_owned())
    } else {
        e.host_container_manager
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    };
    match (named, e.pid_ns_inode) {
        (Some(kind), _) => Some(kind),
        // a child PID namespace is always a container, even unnamed
        (None, Some(ino)) if ino != INIT_PID_NS_INODE => Some("pid-namespace".to_owned()),
        (None, _) => None,
    }
}

/// The effective capability mask from the text of /proc/self/status.
pub fn cap_eff(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
}

/// Probes the running system: the container markers and CAP_SYS_BOOT.
pub fn probe(pid1: bool) -> Place {
    use std::os::unix::fs::MetadataExt;
    let env = std::env::var("container").ok();
    let manager = std::fs::read_to_string("/run/host/container-manager").ok();
    let evidence = Evidence {
        pid_ns_inode: std::fs::metadata("/proc/self/ns/pid").ok().map(|m| m.ino()),
        container_env: env.as_deref(),
        containerenv_file: Path::new("/run/.containerenv").exists(),
        dockerenv_file: Path::new("/.dockerenv").exists(),
        host_container_manager: manager.as_deref(),
    };
    let cap_sys_boot = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| cap_eff(&s))
        .is_some_and(|caps| caps & (1 << CAP_SYS_BOOT) != 0);
    Place {
        pid1,
        container: container_kind(&evidence),
        container_env: env.filter(|v| !v.is_empty()),
        cap_sys_boot,
    }
}

/// Where a plain entrypoint (`-- CMD`, no declarations) runs, without
/// probing: nothing it does depends on it (it mounts nothing, never calls
/// reboot(2), and forwards the signals whose meaning would), and the first
/// look at a fresh /proc costs it more than all its own system calls. The
/// kind is taken as "unknown container" so that nothing host-only happens;
/// `$container` is still recorded by PID 1.
pub fn unprobed(pid1: bool) -> Place {
    let env = std::env::var("container").ok().filter(|v| !v.is_empty());
    Place {
        pid1,
        container: Some(env.clone().unwrap_or_else(|| "unknown".to_owned())),
        container_env: env,
        cap_sys_boot: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_when_nothing_says_otherwise() {
        let e = Evidence {
            pid_ns_inode: Some(INIT_PID_NS_INODE),
            ..Evidence::default()
        };
        assert_eq!(container_kind(&e), None);
        assert_eq!(container_kind(&Evidence::default()), None);
    }

    #[test]
    fn child_pid_namespace_is_a_container() {
        let e = Evidence {
            pid_ns_inode: Some(4026532500),
            ..Evidence::default()
        };
        assert_eq!(container_kind(&e).as_deref(), Some("pid-namespace"));
    }

    #[test]
    fn names_in_order() {
        let all = Evidence {
            pid_ns_inode: Some(INIT_PID_NS_INODE),
            container_env: Some("systemd-nspawn"),
            containerenv_file: true,
            dockerenv_file: true,
            host_container_manager: Some("lxc\n"),
        };
        assert_eq!(container_kind(&all).as_deref(), Some("systemd-nspawn"));
        let e = Evidence {
            container_env: Some(""),
            ..all
        };
        assert_eq!(container_kind(&e).as_deref(), Some("podman"));
        let e = Evidence {
            containerenv_file: false,
            ..e
        };
        assert_eq!(container_kind(&e).as_deref(), Some("docker"));
        let e = Evidence {
            dockerenv_file: false,
            ..e
        };
        assert_eq!(container_kind(&e).as_deref(), Some("lxc"));
    }

    #[test]
    fn capabilities() {
        let status = "Name:\tx\nCapInh:\t0000000000000000\nCapEff:\t000001fffeffffff\n";
        let caps = cap_eff(status).unwrap();
        assert_ne!(caps & (1 << CAP_SYS_BOOT), 0);
        let caps = cap_eff("CapEff:\t000001fffebfffff\n").unwrap();
        assert_eq!(caps & (1 << CAP_SYS_BOOT), 0);
        assert_eq!(cap_eff("CapEff:\tzz\n"), None);
        assert_eq!(cap_eff(""), None);
    }

    #[test]
    fn only_nspawn_keeps_the_reboot_meaning_of_term_and_int() {
        let place = |container: Option<&str>| Place {
            pid1: true,
            container: container.map(str::to_owned),
            container_env: container.map(str::to_owned),
            cap_sys_boot: false,
        };
        assert!(!place(None).term_powers_off() && !place(None).nspawn());
        assert!(place(Some("podman")).term_powers_off());
        assert!(place(Some("pid-namespace")).term_powers_off());
        assert!(place(Some(NSPAWN)).nspawn() && !place(Some(NSPAWN)).term_powers_off());
    }

    #[test]
    fn an_unprobed_place_does_nothing_host_only() {
        for pid1 in [false, true] {
            let place = unprobed(pid1);
            assert!(place.in_container() && !place.host_pid1() && !place.cap_sys_boot);
            assert_eq!(place.pid1, pid1);
        }
    }
}
