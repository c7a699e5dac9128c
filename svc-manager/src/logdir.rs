//! The log directory on a read-only root: booted with `ro`, /var/log
//! cannot be written until a sysinit oneshot remounts the root. The
//! manager then logs under RUNTIME/log (a tmpfs) and moves what was
//! written there into the real directory once it can be written
//! (docs/manager.md, "Logs before /var/log is writable").

use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// At most this many bytes are copied per sweep, so that a sweep cannot
/// hold up the loop for long (a tmpfs log seldom holds more).
pub const MOVE_BUDGET: u64 = 64 << 20;

/// The early directory under the runtime directory.
pub fn early_dir(runtime_dir: &Path) -> PathBuf {
    runtime_dir.join("log")
}

/// Creates `dir` (mode `mode`) if missing and tells whether files can be
/// created in it. `mkdir -p` of an existing directory succeeds on a
/// read-only file system; access(2) is what says EROFS.
pub fn usable(dir: &Path, mode: u32) -> Result<(), String> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(mode)
        .create(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?;
    nix::unistd::access(dir, nix::unistd::AccessFlags::W_OK)
        .map_err(|e| format!("{}: {}", dir.display(), std::io::Error::from(e)))
}

/// What one sweep did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Moved {
    /// Services whose early logs are now in the real directory.
    pub moved: Vec<String>,
    /// Services still logging early (their supervisor holds the file), or
    /// left for the next sweep (budget), or that failed (`errors`).
    pub left: usize,
    pub errors: Vec<String>,
}

/// Moves `early/NAME/*` into `wanted/NAME/` for every NAME that `busy`
/// does not claim, copying then removing (the two are different file
/// systems). An early `current` becomes an archive named after its last
/// write (`YYYYMMDDTHHMMSS.ffffffZ.log`, svc-supervise's rotation names),
/// so that it sorts before the `current` a later supervisor writes, and
/// rotation counts it like any other archive. Other files keep their
/// names; nothing in `wanted` is overwritten. `boot.log` is not a service
/// (output.rs moves it).
pub fn sweep(early: &Path, wanted: &Path, busy: &dyn Fn(&str) -> bool, mut budget: u64) -> Moved {
    let mut out = Moved::default();
    let Ok(entries) = std::fs::read_dir(early) else {
        return out;
    };
    let mut names: Vec<String> = entries
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    names.sort();
    for name in names {
        if busy(&name) || budget == 0 {
            out.left += 1;
            continue;
        }
        match move_one(&early.join(&name), &wanted.join(&name), &mut budget) {
            Ok(true) => out.moved.push(name),
            Ok(false) => out.left += 1,
            Err(e) => {
                out.left += 1;
                out.errors.push(format!("{name}: {e}"));
            }
        }
    }
    out
}

/// Ok(false): the budget ran out part-way (the rest waits for the next sweep).
fn move_one(from: &Path, to: &Path, budget: &mut u64) -> Result<bool, String> {
    let dir_meta = std::fs::metadata(from).map_err(|e| format!("{}: {e}", from.display()))?;
    if !to.is_dir() {
        std::fs::DirBuilder::new()
            .mode(dir_meta.mode() & 0o7777)
            .create(to)
            .map_err(|e| format!("{}: {e}", to.display()))?;
        same_owner(to, &dir_meta);
    }
    let mut files: Vec<(PathBuf, std::fs::Metadata)> = std::fs::read_dir(from)
        .map_err(|e| format!("{}: {e}", from.display()))?
        .flatten()
        .filter_map(|e| Some((e.path(), e.metadata().ok()?)))
        .filter(|(_, m)| m.is_file())
        .collect();
    files.sort_by(|a, b| a.0.cmp(&b.0));
    for (path, meta) in files {
        if meta.len() > *budget {
            *budget = 0;
            return Ok(false);
        }
        let file_name = path.file_name().unwrap_or_default().to_string_lossy();
        let base = if file_name == "current" {
            archive_name(meta.modified().unwrap_or(UNIX_EPOCH))
        } else {
            file_name.into_owned()
        };
        let dest = free_name(to, &base);
        // copy keeps the mode (0640); the owner and group (the log
        // group) are the supervisor's choice, kept too.
        std::fs::copy(&path, &dest).map_err(|e| format!("{}: {e}", dest.display()))?;
        same_owner(&dest, &meta);
        std::fs::remove_file(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        *budget -= meta.len();
    }
    std::fs::remove_dir(from).map_err(|e| format!("{}: {e}", from.display()))?;
    Ok(true)
}

fn same_owner(path: &Path, like: &std::fs::Metadata) {
    let _ = std::os::unix::fs::chown(path, Some(like.uid()), Some(like.gid()));
}

/// `dir/base`, or `dir/base.N` for the first N not taken.
fn free_name(dir: &Path, base: &str) -> PathBuf {
    let first = dir.join(base);
    if first.symlink_metadata().is_err() {
        return first;
    }
    (1..)
        .map(|n| dir.join(format!("{base}.{n}")))
        .find(|p| p.symlink_metadata().is_err())
        .unwrap_or(first)
}

/// svc-supervise's archive name for a time: `20261122T012852.123456Z.log`.
pub fn archive_name(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs() as i64;
    let (y, mo, day) = civil_from_days(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400);
    format!(
        "{y:04}{mo:02}{day:02}T{:02}{:02}{:02}.{:06}Z.log",
        s / 3600,
        (s / 60) % 60,
        s % 60,
        d.subsec_micros()
    )
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian
/// (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn scratch(tag: &str) -> PathBuf {
        let p = std::env::temp_dir().join(format!("svc-logdir-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        p
    }

    #[test]
    fn archive_names_are_supervise_rotation_names() {
        let t = UNIX_EPOCH + Duration::new(1_795_310_932, 123_456_000);
        assert_eq!(archive_name(t), "20261122T012852.123456Z.log");
        assert_eq!(archive_name(UNIX_EPOCH), "19700101T000000.000000Z.log");
    }

    #[test]
    fn sweep_moves_idle_services_and_leaves_busy_ones() {
        let root = scratch("sweep");
        let (early, wanted) = (root.join("early"), root.join("wanted"));
        for (name, files) in [
            ("a", &["current", "20260101T000000.000000Z.log"][..]),
            ("b", &["current"][..]),
        ] {
            std::fs::create_dir_all(early.join(name)).unwrap();
            for f in files {
                std::fs::write(early.join(name).join(f), format!("{name} {f}\n")).unwrap();
            }
        }
        std::fs::write(early.join("boot.log"), "not a service\n").unwrap();
        // a's new supervisor has already begun a `current` in the real place
        std::fs::create_dir_all(wanted.join("a")).unwrap();
        std::fs::write(wanted.join("a/current"), "new\n").unwrap();

        let r = sweep(&early, &wanted, &|n| n == "b", MOVE_BUDGET);
        assert_eq!(r.moved, vec!["a".to_owned()]);
        assert_eq!((r.left, r.errors.len()), (1, 0));
        assert!(!early.join("a").exists());
        assert_eq!(
            std::fs::read_to_string(wanted.join("a/current")).unwrap(),
            "new\n"
        );
        let archives: Vec<String> = std::fs::read_dir(wanted.join("a"))
            .unwrap()
            .flatten()
            .map(|e| e.file_name().into_string().unwrap())
            .filter(|n| n.ends_with("Z.log"))
            .collect();
        assert_eq!(archives.len(), 2, "{archives:?}");
        assert!(early.join("b/current").exists());
        assert!(early.join("boot.log").exists());

        // b's supervisor has gone: the next sweep takes it
        let r = sweep(&early, &wanted, &|_| false, MOVE_BUDGET);
        assert_eq!(r.moved, vec!["b".to_owned()]);
        assert_eq!(r.left, 0);
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn sweep_stops_at_the_budget() {
        let root = scratch("budget");
        let (early, wanted) = (root.join("early"), root.join("wanted"));
        std::fs::create_dir_all(early.join("big")).unwrap();
        std::fs::write(early.join("big/current"), vec![b'x'; 100]).unwrap();
        let r = sweep(&early, &wanted, &|_| false, 10);
        assert_eq!((r.moved.len(), r.left), (0, 1));
        assert!(early.join("big/current").exists());
        let _ = std::fs::remove_dir_all(&root);
    }
}
