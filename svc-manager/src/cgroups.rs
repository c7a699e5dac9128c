//! The manager's side of cgroups (docs/manager.md, "Cgroups"): detection
//! and set-up at start, a cgroup per service created before its
//! supervisor is spawned, the supervisor moved into its leaf, and the
//! cgroup removed once the service is gone. libsvc::cgroup knows the files.

use libsvc::cgroup::{Cgroups, Leaf, ServiceCgroup};
use libsvc::proto::CgroupFork;

use crate::manager::Manager;

/// Detects and sets up cgroups; logs the one line that says whether they
/// are in use. None: not in use (and why was said).
pub fn init() -> (Option<Cgroups>, Option<String>) {
    let mut cg = match Cgroups::detect() {
        Ok(cg) => cg,
        Err(why) => {
            tracing::info!("cgroups not in use: {why}");
            return (None, Some(why.0));
        }
    };
    if let Err(e) = cg.setup() {
        let why = format!("cannot set up {}: {e}", cg.base().display());
        tracing::info!("cgroups not in use: {why}");
        return (None, Some(why));
    }
    let controllers = if cg.controllers().is_empty() {
        "none".to_string()
    } else {
        cg.controllers().join(" ")
    };
    tracing::info!(
        "cgroups in use at {} (controllers: {controllers})",
        cg.base().display()
    );
    (Some(cg), None)
}

/// Whether supervisors can be forked straight into their leaves: a
/// migration by `cgroup.procs` waits for the kernel's cgroup-wide lock,
/// about 0.4 ms, in the manager's loop, for every service started.
pub fn probe_fork_into(cg: &Cgroups) -> bool {
    let sound = libsvc::cgroup::fork_into_is_sound(&cg.base().join(".fork-probe"));
    if sound {
        tracing::info!("supervisors and services are forked straight into their cgroups");
    } else {
        tracing::info!(
            "supervisors and services are forked straight into their cgroups only while these are new: this kernel kills a child born in a cgroup that was killed before"
        );
    }
    sound
}

/// Moves the freshly spawned supervisor `pid` into its leaf. It forks
/// nothing before its declaration arrives, which is sent after this: the
/// service and every command it runs start inside.
pub fn place_supervisor(sc: &ServiceCgroup, pid: i32) -> Result<(), String> {
    Leaf::new(sc.supervisor())
        .and_then(|l| l.add(pid))
        .map_err(|e| format!("cannot move its supervisor into its cgroup: {e}"))
}

/// A service's cgroup, made for a start.
pub struct Prepared {
    pub cgroup: ServiceCgroup,
    /// When its supervisor and service may be forked straight into their
    /// leaves (None: they are moved there).
    pub fork: Option<CgroupFork>,
}

impl Prepared {
    /// The supervisor's leaf, when it is to be forked straight into it.
    pub fn fork_supervisor_into(&self) -> Option<&std::path::Path> {
        self.fork.map(|_| self.cgroup.supervisor())
    }
}

impl Manager {
    /// The cgroup of `name` with its two leaves; None without cgroups, or
    /// (said once) when it cannot be made: the service then runs as it
    /// would without cgroups. Children may be forked straight into the
    /// leaves always where the kernel does that soundly, else while the
    /// leaves are new (libsvc::cgroup::fork_into_is_sound says why).
    pub fn prepare_cgroup(&self, name: &str) -> Option<Prepared> {
        let cg = self.cfg.cgroups.as_ref()?;
        let sc = cg.service(name);
        match sc.create(cg.controllers()) {
            Ok(new) => {
                let fork = if self.cfg.fork_into_cgroup {
                    Some(CgroupFork::Always)
                } else {
                    new.then_some(CgroupFork::UntilKilled)
                };
                Some(Prepared { cgroup: sc, fork })
            }
            Err(e) => {
                tracing::warn!("{name}: no cgroup of its own: {e}");
                None
            }
        }
    }

    /// The service leaf of `name` when cgroups are in use.
    pub fn service_leaf(&self, name: &str) -> Option<Leaf> {
        let cg = self.cfg.cgroups.as_ref()?;
        Leaf::new(&cg.service_leaf(name)).ok()
    }

    /// Removes `name`'s cgroup once nothing of it runs (a busy one stays:
    /// its processes are stopped first, and it is tried again then).
    pub fn remove_cgroup(&mut self, name: &str) {
        let Some(cg) = self.cfg.cgroups.as_ref() else {
            return;
        };
        match cg.service(name).remove() {
            Ok(true) => {
                tracing::debug!("{name}: cgroup removed");
                self.cgroups_busy.remove(name);
            }
            Ok(false) => {
                // Its supervisor closed its socket but has not quite
                // exited: tried again when a child is reaped.
                tracing::debug!("{name}: cgroup still busy, kept");
                self.cgroups_busy.insert(name.to_owned());
            }
            Err(e) => tracing::warn!("{name}: {e}"),
        }
    }

    /// After children were reaped: the cgroups that were busy when their
    /// service stopped, removed if nothing of them runs now.
    pub fn retry_busy_cgroups(&mut self) {
        if self.cgroups_busy.is_empty() {
            return;
        }
        let names: Vec<String> = self.cgroups_busy.iter().cloned().collect();
        for name in names {
            let running = self
                .units
                .get(&name)
                .is_some_and(|u| u.link.is_some() || u.has_orphan());
            if running {
                self.cgroups_busy.remove(&name);
            } else {
                self.remove_cgroup(&name);
            }
        }
    }

    /// The cgroups left by services no longer running (an earlier
    /// manager's, or removed while busy): removed when empty.
    pub fn sweep_cgroups(&mut self) {
        let Some(cg) = self.cfg.cgroups.as_ref() else {
            return;
        };
        for name in cg.existing() {
            let running = self
                .units
                .get(&name)
                .is_some_and(|u| u.link.is_some() || u.has_orphan());
            if !running {
                self.remove_cgroup(&name);
            }
        }
    }
}
