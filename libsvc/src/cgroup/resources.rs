//! The `[service]` cgroup keys, written into a service's leaf cgroup
//! (`…/svc/NAME/service`): `memory.max`, `memory.high`, `memory.swap.max`,
//! `cpu.max`, `pids.max`; and the weights, `cpu.weight` and `io.weight`,
//! into the service's own cgroup (`…/svc/NAME`, the leaf's parent): a
//! weight divides among siblings, and a service's siblings are the other
//! services, not its supervisor's leaf.
//!
//! A leaf's file that is not there is first taken as its controller not
//! yet enabled for the leaves (`cpu.max`: cpu is enabled only for services
//! that declare it, see [`super::LEAF_CONTROLLERS`]): it is enabled in the
//! service's cgroup and the write tried again. A file still not there
//! means the controller is not available (or the kernel lacks the file, as
//! `memory.swap.max` without swap accounting): that key is skipped with a
//! warning and the service runs without it. Any other failure is an error
//! naming the file and value.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::model::{CgroupLimits, CpuMax, LimitValue};
use crate::units::{cgroup_value, cpu_max_value};

/// One cgroup file a key writes, with the value the kernel gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting {
    /// The declaration key (`memory-max`).
    pub key: &'static str,
    /// The file in the leaf (`memory.max`).
    pub file: &'static str,
    /// What is written (`33554432`, `max`, `150000 100000`).
    pub value: String,
    /// A weight: written in the leaf's parent, the service's cgroup.
    pub between_services: bool,
}

/// The controller that provides each file, for the warning.
fn controller(file: &str) -> &str {
    file.split('.').next().unwrap_or(file)
}

/// Every key `limits` sets, as the files and values to write, in a fixed
/// order. The values the kernel starts a cgroup with come from
/// `CgroupLimits::default()` through [`defaults_for`].
pub fn settings(limits: &CgroupLimits) -> Vec<Setting> {
    let mut out = Vec::new();
    let mut push = |key, file: &'static str, value: Option<String>| {
        if let Some(value) = value {
            let between_services = file.ends_with(".weight");
            out.push(Setting {
                key,
                file,
                value,
                between_services,
            });
        }
    };
    push(
        "memory-max",
        "memory.max",
        limits.memory_max.map(cgroup_value),
    );
    push(
        "memory-high",
        "memory.high",
        limits.memory_high.map(cgroup_value),
    );
    push(
        "memory-swap-max",
        "memory.swap.max",
        limits.memory_swap_max.map(cgroup_value),
    );
    push(
        "cpu-weight",
        "cpu.weight",
        limits.cpu_weight.map(|w| w.to_string()),
    );
    push("cpu-max", "cpu.max", limits.cpu_max.map(cpu_max_value));
    push("pids-max", "pids.max", limits.pids_max.map(cgroup_value));
    push(
        "io-weight",
        "io.weight",
        limits.io_weight.map(|w| format!("default {w}")),
    );
    out
}

/// What to write when a service's keys go from `old` to `new`: each key
/// whose value changed, and each key `old` set that `new` does not, put
/// back to the kernel's default (so that removing a key from a
/// declaration takes the limit back from a running service). Keys that
/// did not change are left out: they are written already.
pub fn changes(old: &CgroupLimits, new: &CgroupLimits) -> CgroupLimits {
    fn pick<T: Copy + PartialEq>(old: Option<T>, new: Option<T>, default: T) -> Option<T> {
        if old == new {
            None
        } else {
            Some(new.unwrap_or(default))
        }
    }
    let inf = LimitValue::Infinity;
    CgroupLimits {
        memory_max: pick(old.memory_max, new.memory_max, inf),
        memory_high: pick(old.memory_high, new.memory_high, inf),
        memory_swap_max: pick(old.memory_swap_max, new.memory_swap_max, inf),
        cpu_weight: pick(old.cpu_weight, new.cpu_weight, 100),
        cpu_max: pick(old.cpu_max, new.cpu_max, CpuMax::Infinity),
        pids_max: pick(old.pids_max, new.pids_max, inf),
        io_weight: pick(old.io_weight, new.io_weight, 100),
    }
}

/// What applying the limits did besides writing them.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Applied {
    /// How many keys were written.
    pub written: usize,
    /// One sentence per key not applied because its file is missing.
    pub skipped: Vec<String>,
    /// One sentence per file that could not be written.
    pub errors: Vec<String>,
}

impl Applied {
    pub fn is_clean(&self) -> bool {
        self.skipped.is_empty() && self.errors.is_empty()
    }
}

/// Writes every key `limits` sets into the leaf cgroup `leaf` (the
/// weights into its parent). Every key is tried, whatever happened to the
/// ones before.
pub fn apply(leaf: &Path, limits: &CgroupLimits) -> Applied {
    let mut done = Applied::default();
    for s in settings(limits) {
        let dir = match leaf.parent() {
            Some(service) if s.between_services => service,
            _ => leaf,
        };
        let path = dir.join(s.file);
        let mut result = write(&path, &s.value);
        if !s.between_services
            && result
                .as_ref()
                .is_err_and(|e| e.kind() == std::io::ErrorKind::NotFound)
            && let Some(service) = leaf.parent()
            && super::enable(service, controller(s.file)).is_ok()
        {
            result = write(&path, &s.value);
        }
        match result {
            Ok(()) => done.written += 1,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => done.skipped.push(format!(
                "'{}' not applied: {} is missing (the {} controller is not enabled for {})",
                s.key,
                path.display(),
                controller(s.file),
                leaf.display()
            )),
            Err(e) => done.errors.push(format!(
                "'{}': cannot write '{}' to {}: {}",
                s.key,
                s.value,
                path.display(),
                crate::decl::io_reason(&e)
            )),
        }
    }
    done
}

/// One write of the whole value, as cgroup files take it: without
/// creating the file, so that a missing controller shows as NotFound.
fn write(path: &PathBuf, value: &str) -> std::io::Result<()> {
    let mut f = std::fs::OpenOptions::new().write(true).open(path)?;
    f.write_all(value.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A service's cgroup with its leaf (`.0`), the weights' files in the
    /// service's cgroup and the others in the leaf, as the kernel has them.
    struct Dir(PathBuf);

    impl Dir {
        fn new(files: &[&str]) -> Dir {
            let d = std::env::temp_dir().join(format!(
                "svc-resources-{}-{}",
                std::process::id(),
                NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            ));
            let leaf = d.join("service");
            std::fs::create_dir_all(&leaf).unwrap();
            let d = Dir(leaf);
            for f in files {
                std::fs::write(d.file(f), "").unwrap();
            }
            d
        }
        fn file(&self, f: &str) -> PathBuf {
            if f.ends_with(".weight") {
                self.0.parent().unwrap().join(f)
            } else {
                self.0.join(f)
            }
        }
        fn read(&self, f: &str) -> String {
            std::fs::read_to_string(self.file(f)).unwrap()
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(self.0.parent().unwrap());
        }
    }

    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

    const ALL: [&str; 7] = [
        "memory.max",
        "memory.high",
        "memory.swap.max",
        "cpu.weight",
        "cpu.max",
        "pids.max",
        "io.weight",
    ];

    fn every_key() -> CgroupLimits {
        CgroupLimits {
            memory_max: Some(LimitValue::Value(32 << 20)),
            memory_high: Some(LimitValue::Infinity),
            memory_swap_max: Some(LimitValue::Value(0)),
            cpu_weight: Some(50),
            cpu_max: Some(CpuMax::Quota {
                quota_us: 150_000,
                period_us: 100_000,
            }),
            pids_max: Some(LimitValue::Value(10)),
            io_weight: Some(200),
        }
    }

    #[test]
    fn every_key_lands_in_its_file() {
        let d = Dir::new(&ALL);
        let done = apply(&d.0, &every_key());
        assert!(done.is_clean(), "{done:?}");
        assert_eq!(done.written, 7);
        assert_eq!(d.read("memory.max"), "33554432");
        assert_eq!(d.read("memory.high"), "max");
        assert_eq!(d.read("memory.swap.max"), "0");
        assert_eq!(d.read("cpu.weight"), "50");
        assert_eq!(d.read("cpu.max"), "150000 100000");
        assert_eq!(d.read("pids.max"), "10");
        assert_eq!(d.read("io.weight"), "default 200");
    }

    #[test]
    fn unset_keys_are_left_alone() {
        let d = Dir::new(&ALL);
        let limits = CgroupLimits {
            pids_max: Some(LimitValue::Value(10)),
            ..CgroupLimits::default()
        };
        assert!(apply(&d.0, &limits).is_clean());
        assert_eq!(d.read("pids.max"), "10");
        for f in ALL.iter().filter(|f| **f != "pids.max") {
            assert_eq!(d.read(f), "", "{f}");
        }
        assert!(apply(&d.0, &CgroupLimits::default()).is_clean());
    }

    #[test]
    fn a_missing_controller_skips_its_keys_only() {
        // No memory controller: the memory keys are skipped, one sentence
        // each naming the key; the others are written.
        let d = Dir::new(&["cpu.weight", "cpu.max", "pids.max", "io.weight"]);
        let done = apply(&d.0, &every_key());
        assert_eq!(done.written, 4);
        assert!(done.errors.is_empty(), "{done:?}");
        assert_eq!(done.skipped.len(), 3, "{done:?}");
        assert!(
            done.skipped[0].starts_with(&format!(
                "'memory-max' not applied: {}/memory.max is missing (the memory controller is not enabled for ",
                d.0.display()
            )),
            "{}",
            done.skipped[0]
        );
        assert!(done.skipped[2].starts_with("'memory-swap-max' not applied"));
        assert_eq!(d.read("pids.max"), "10");
        assert_eq!(d.read("cpu.max"), "150000 100000");
    }

    #[test]
    fn a_write_error_names_key_value_and_file() {
        let d = Dir::new(&ALL);
        // A directory where the file should be: the open fails with EISDIR.
        std::fs::remove_file(d.0.join("pids.max")).unwrap();
        std::fs::create_dir(d.0.join("pids.max")).unwrap();
        let done = apply(&d.0, &every_key());
        assert_eq!(
            done.errors,
            [format!(
                "'pids-max': cannot write '10' to {}/pids.max: is a directory",
                d.0.display()
            )]
        );
        assert_eq!(
            d.read("io.weight"),
            "default 200",
            "later keys still written"
        );
    }

    #[test]
    fn a_change_writes_what_changed_and_puts_removed_keys_back() {
        let old = every_key();
        let new = CgroupLimits {
            pids_max: Some(LimitValue::Value(20)),
            cpu_weight: Some(50),
            ..CgroupLimits::default()
        };
        let c = changes(&old, &new);
        let values: Vec<(&str, String)> = settings(&c)
            .into_iter()
            .map(|s| (s.file, s.value))
            .collect();
        assert_eq!(
            values,
            [
                ("memory.max", "max".to_string()),
                ("memory.high", "max".into()),
                ("memory.swap.max", "max".into()),
                ("cpu.max", "max".into()),
                ("pids.max", "20".into()),
                ("io.weight", "default 100".into()),
            ],
            "cpu.weight did not change"
        );
        assert_eq!(changes(&CgroupLimits::default(), &new), new);
        assert!(changes(&new, &new).is_empty());
    }
}
