//! The manager's side of cgroups (docs/manager.md, "Cgroups"): detection
//! and set-up at start, a cgroup per service created before its
//! supervisor is spawned, the supervisor moved into its leaf, and the
//! cgroup removed once the service is gone. libsvc::cgroup knows the files.

use libsvc::cgroup::{Cgroups, Leaf};

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

impl Manager {
    /// The leaf of `name`'s processes, created with its supervisor's
    /// leaf; None without cgroups, or (said once) when it cannot be made:
    /// the service then runs as it would without cgroups.
    pub fn prepare_cgroup(&self, name: &str) -> Option<std::path::PathBuf> {
        let cg = self.cfg.cgroups.as_ref()?;
        let sc = cg.service(name);
        match sc.create(cg.controllers()) {
            Ok(()) => Some(sc.service().to_path_buf()),
            Err(e) => {
                tracing::warn!("{name}: no cgroup of its own: {e}");
                None
            }
        }
    }

    /// Moves the freshly spawned supervisor `pid` of `name` into its leaf.
    /// It forks nothing before its declaration arrives, which is sent
    /// after this: the service and every command it runs start inside.
    pub fn place_supervisor(&self, name: &str, pid: i32) -> Result<(), String> {
        let Some(cg) = self.cfg.cgroups.as_ref() else {
            return Ok(());
        };
        let sc = cg.service(name);
        Leaf::new(sc.supervisor())
            .and_then(|l| l.add(pid))
            .map_err(|e| format!("cannot move its supervisor into its cgroup: {e}"))
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
                .is_some_and(|u| u.link.is_some() || u.orphan.is_some());
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
                .is_some_and(|u| u.link.is_some() || u.orphan.is_some());
            if !running {
                self.remove_cgroup(&name);
            }
        }
    }
}
