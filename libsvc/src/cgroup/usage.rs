//! What a service uses, read from its leaf cgroup on demand: memory now
//! and at its peak, CPU time, tasks, OOM kills. Nothing is kept between
//! reads; a file that is missing (its controller not enabled, or
//! `memory.peak` before Linux 5.19) leaves its number out.

use std::io::Read;
use std::path::Path;

/// One reading of a leaf cgroup.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    /// `memory.current`, bytes.
    pub memory_current: Option<u64>,
    /// `memory.peak`, bytes.
    pub memory_peak: Option<u64>,
    /// `cpu.stat` `usage_usec`: user and system CPU time, microseconds.
    pub cpu_usec: Option<u64>,
    /// `pids.current`: processes and threads.
    pub tasks: Option<u64>,
    /// `memory.events` `oom_kill`: processes the OOM killer ended.
    pub oom_kills: Option<u64>,
}

/// The largest cgroup file read: `cpu.stat` and `memory.events` are a few
/// hundred bytes; anything bigger is not what it should be.
const FILE_MAX: u64 = 4096;

/// A small file of the leaf, or None when it cannot be read.
fn read_small(leaf: &Path, file: &str) -> Option<String> {
    let f = std::fs::File::open(leaf.join(file)).ok()?;
    let mut s = String::new();
    f.take(FILE_MAX).read_to_string(&mut s).ok()?;
    Some(s)
}

/// A file holding one number (`memory.current`).
fn number(leaf: &Path, file: &str) -> Option<u64> {
    read_small(leaf, file)?.trim().parse().ok()
}

/// The value of `key` in a flat-keyed file (`usage_usec 1234` lines).
fn keyed(leaf: &Path, file: &str, key: &str) -> Option<u64> {
    super::keyed_value(&read_small(leaf, file)?, key)
}

/// `memory.events` `oom_kill` of the leaf.
pub fn oom_kills(leaf: &Path) -> Option<u64> {
    keyed(leaf, "memory.events", "oom_kill")
}

/// Reads the leaf; None when the leaf itself is not there (the service
/// has no cgroup, or it was removed).
pub fn read(leaf: &Path) -> Option<Usage> {
    if !leaf.is_dir() {
        return None;
    }
    Some(Usage {
        memory_current: number(leaf, "memory.current"),
        memory_peak: number(leaf, "memory.peak"),
        cpu_usec: keyed(leaf, "cpu.stat", "usage_usec"),
        tasks: number(leaf, "pids.current"),
        oom_kills: oom_kills(leaf),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    struct Dir(PathBuf);

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

    fn leaf(files: &[(&str, &str)]) -> Dir {
        let d = std::env::temp_dir().join(format!(
            "svc-usage-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&d).unwrap();
        for (f, text) in files {
            std::fs::write(d.join(f), text).unwrap();
        }
        Dir(d)
    }

    #[test]
    fn reads_what_the_kernel_writes() {
        // As a 6.1 kernel writes these files.
        let d = leaf(&[
            ("memory.current", "2420736\n"),
            ("memory.peak", "104857600\n"),
            (
                "cpu.stat",
                "usage_usec 1523\nuser_usec 1021\nsystem_usec 502\nnr_periods 0\nnr_throttled 0\nthrottled_usec 0\n",
            ),
            ("pids.current", "3\n"),
            (
                "memory.events",
                "low 0\nhigh 0\nmax 12\noom 1\noom_kill 1\noom_group_kill 0\n",
            ),
        ]);
        assert_eq!(
            read(&d.0),
            Some(Usage {
                memory_current: Some(2_420_736),
                memory_peak: Some(104_857_600),
                cpu_usec: Some(1523),
                tasks: Some(3),
                oom_kills: Some(1),
            })
        );
    }

    #[test]
    fn missing_files_leave_their_numbers_out() {
        // No controllers enabled: only cpu.stat (always there in v2).
        let d = leaf(&[("cpu.stat", "usage_usec 7\nuser_usec 7\nsystem_usec 0\n")]);
        assert_eq!(
            read(&d.0),
            Some(Usage {
                cpu_usec: Some(7),
                ..Usage::default()
            })
        );
        assert_eq!(read(&d.0.join("gone")), None);
    }

    #[test]
    fn garbage_is_no_number() {
        let d = leaf(&[
            ("memory.current", "lots\n"),
            ("cpu.stat", "usage_usec_total 5\nusage_usec\n"),
            ("memory.events", "oom_kill x\n"),
            ("pids.current", &"9".repeat(10_000)),
        ]);
        assert_eq!(read(&d.0), Some(Usage::default()));
    }
}
