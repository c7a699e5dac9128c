//! The API filesystems: mounted at start when missing, and on a host the
//! final unmount / read-only remount. In a container nothing that was
//! already there is touched: a remount of `/` changes the superblock, which
//! the host shares even across mount namespaces.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use nix::mount::{MntFlags, MsFlags, mount, umount2};

struct ApiMount {
    target: &'static str,
    fstype: &'static str,
    flags: MsFlags,
    data: &'static str,
}

const NOSUID_NODEV: MsFlags = MsFlags::MS_NOSUID.union(MsFlags::MS_NODEV);
const NOSUID_NODEV_NOEXEC: MsFlags = NOSUID_NODEV.union(MsFlags::MS_NOEXEC);

/// In order: each later one may live inside an earlier one.
const API_MOUNTS: [ApiMount; 6] = [
    ApiMount {
        target: "/proc",
        fstype: "proc",
        flags: NOSUID_NODEV_NOEXEC,
        data: "",
    },
    ApiMount {
        target: "/sys",
        fstype: "sysfs",
        flags: NOSUID_NODEV_NOEXEC,
        data: "",
    },
    ApiMount {
        target: "/dev",
        fstype: "devtmpfs",
        flags: MsFlags::MS_NOSUID,
        data: "mode=0755",
    },
    ApiMount {
        target: "/dev/pts",
        fstype: "devpts",
        flags: MsFlags::MS_NOSUID.union(MsFlags::MS_NOEXEC),
        data: "mode=0620,gid=5,ptmxmode=0666",
    },
    ApiMount {
        target: "/dev/shm",
        fstype: "tmpfs",
        flags: NOSUID_NODEV,
        data: "mode=1777",
    },
    ApiMount {
        target: "/run",
        fstype: "tmpfs",
        flags: NOSUID_NODEV,
        data: "mode=0755",
    },
];

/// Whether `path` is the root of a mount: statx's STATX_ATTR_MOUNT_ROOT
/// (Linux 5.8+), else a device change from the parent directory.
pub fn is_mount_point(path: &Path) -> std::io::Result<bool> {
    let c = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| std::io::Error::from(std::io::ErrorKind::InvalidInput))?;
    // SAFETY: statx fills the zeroed struct; the path is a valid C string.
    // The raw system call: in a static glibc build with LTO the libc
    // wrapper can end up a weak, unresolved symbol (a call to address 0).
    let mut stx: libc::statx = unsafe { std::mem::zeroed() };
    let rc = unsafe {
        libc::syscall(
            libc::SYS_statx,
            libc::AT_FDCWD,
            c.as_ptr(),
            libc::AT_SYMLINK_NOFOLLOW,
            libc::STATX_BASIC_STATS,
            &mut stx as *mut libc::statx,
        )
    };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let mount_root = libc::STATX_ATTR_MOUNT_ROOT as u64;
    if stx.stx_attributes_mask & mount_root != 0 {
        return Ok(stx.stx_attributes & mount_root != 0);
    }
    use std::os::unix::fs::MetadataExt;
    let parent = path.parent().unwrap_or(Path::new("/"));
    let (me, up) = (std::fs::metadata(path)?, std::fs::metadata(parent)?);
    Ok(me.dev() != up.dev() || me.ino() == up.ino())
}

/// Mounts each API filesystem that is not mounted yet, creating its mount
/// point, and reports what it did. `only_proc` does the first step alone
/// (svc-init needs /proc to find out where it is).
pub fn mount_missing(only_proc: bool) -> Vec<&'static str> {
    let mut mounted = Vec::new();
    for m in API_MOUNTS
        .iter()
        .take(if only_proc { 1 } else { API_MOUNTS.len() })
    {
        let target = Path::new(m.target);
        match is_mount_point(target) {
            Ok(true) => continue,
            Ok(false) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if let Err(e) = std::fs::create_dir_all(target) {
                    crate::log!("cannot create mount point {}: {e}", m.target);
                    continue;
                }
            }
            Err(e) => {
                crate::log!("cannot look at {}: {e}", m.target);
                continue;
            }
        }
        let data = (!m.data.is_empty()).then_some(m.data);
        match mount(Some(m.fstype), target, Some(m.fstype), m.flags, data) {
            Ok(()) => mounted.push(m.target),
            Err(e) => crate::log!("cannot mount {} on {}: {e}", m.fstype, m.target),
        }
    }
    mounted
}

/// Decodes the octal escapes (`\040` for a space) of /proc/self/mounts.
pub fn unescape_mount_field(field: &str) -> Vec<u8> {
    let b = field.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 3 < b.len() {
            let digits = &b[i + 1..i + 4];
            if digits.iter().all(|d| (b'0'..=b'7').contains(d)) {
                let v = digits
                    .iter()
                    .fold(0u32, |acc, d| acc * 8 + u32::from(d - b'0'));
                if let Ok(byte) = u8::try_from(v) {
                    out.push(byte);
                    i += 4;
                    continue;
                }
            }
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

/// Host only, at the very end: unmount everything that can be unmounted
/// (newest first), remount the rest read-only, `/` last.
pub fn unmount_all() {
    use std::ffi::OsStr;
    const KEEP: [&str; 6] = ["/", "/proc", "/sys", "/dev", "/dev/pts", "/run"];
    let table = std::fs::read_to_string("/proc/self/mounts").unwrap_or_default();
    let targets: Vec<Vec<u8>> = table
        .lines()
        .filter_map(|l| l.split(' ').nth(1))
        .map(unescape_mount_field)
        .collect();
    for target in targets.iter().rev() {
        let path = Path::new(OsStr::from_bytes(target));
        if KEEP.iter().any(|k| Path::new(k) == path) {
            continue;
        }
        if umount2(path, MntFlags::empty()).is_err() {
            remount_read_only(path);
        }
    }
    remount_read_only(Path::new("/"));
}

fn remount_read_only(path: &Path) {
    let flags = MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY;
    if let Err(e) = mount(None::<&str>, path, None::<&str>, flags, None::<&str>) {
        crate::log!("cannot remount {} read-only: {e}", path.display());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_and_proc_are_mount_points_a_subdirectory_is_not() {
        assert!(is_mount_point(Path::new("/")).unwrap());
        if Path::new("/proc/self").exists() {
            assert!(is_mount_point(Path::new("/proc")).unwrap());
        }
        let dir = std::env::temp_dir().join(format!("svc-init-mp-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let answer = is_mount_point(&dir);
        std::fs::remove_dir(&dir).unwrap();
        assert!(!answer.unwrap());
        assert_eq!(
            is_mount_point(Path::new("/nonexistent-svc-init"))
                .unwrap_err()
                .kind(),
            std::io::ErrorKind::NotFound
        );
    }

    #[test]
    fn mount_fields_unescape() {
        assert_eq!(unescape_mount_field("/mnt/a\\040b"), b"/mnt/a b");
        assert_eq!(unescape_mount_field("/x\\134y"), b"/x\\y");
        assert_eq!(unescape_mount_field("/bad\\9"), b"/bad\\9");
        assert_eq!(unescape_mount_field("/end\\"), b"/end\\");
        assert_eq!(unescape_mount_field("/big\\777"), b"/big\\777");
    }
}
