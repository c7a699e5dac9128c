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

/// How a mount point is mounted, as /proc/self/mountinfo says.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Mounted {
    No,
    ReadWrite,
    ReadOnly,
}

/// The topmost mount on `target` (the last line naming it) in the text of
/// /proc/self/mountinfo. Read-only when either its own options or its
/// superblock's say `ro`. Pure.
pub fn mounted_in(mountinfo: &str, target: &str) -> Mounted {
    let read_only = |opts: Option<&str>| opts.is_some_and(|o| o.split(',').any(|x| x == "ro"));
    mountinfo
        .lines()
        .rev()
        .find_map(|line| {
            let (head, tail) = line.split_once(" - ")?;
            let fields: Vec<&str> = head.split(' ').collect();
            let point = unescape_mount_field(fields.get(4)?);
            (point == target.as_bytes()).then(|| {
                if read_only(fields.get(5).copied()) || read_only(tail.split(' ').nth(2)) {
                    Mounted::ReadOnly
                } else {
                    Mounted::ReadWrite
                }
            })
        })
        .unwrap_or(Mounted::No)
}

/// What to do about one API filesystem.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Plan {
    Leave,
    Mount,
    /// Try; if refused, use what is there and say nothing.
    MountIfAllowed,
}

/// The decision for `target`, from how it is mounted and whether the
/// directory can be written. Pure. A writable mount is left as it is. A
/// read-only one is too, except `/run`, which is of no use read-only. In a
/// container, a `/run` that is no mount of its own but can be written (the
/// container's own root) gets a tmpfs where the engine allows one, and is
/// used as it is where not: an unprivileged container cannot mount, and
/// saying EPERM on every start helps nobody.
pub fn plan(target: &str, mounted: Mounted, writable: bool, in_container: bool) -> Plan {
    let run = target == "/run";
    match mounted {
        Mounted::ReadWrite => Plan::Leave,
        Mounted::ReadOnly if run => Plan::Mount,
        Mounted::ReadOnly => Plan::Leave,
        Mounted::No if run && in_container && writable => Plan::MountIfAllowed,
        Mounted::No => Plan::Mount,
    }
}

/// Mounts each API filesystem that is not mounted yet, creating its mount
/// point, and reports what it did. `only_proc` does the first step alone
/// (svc-init needs /proc to find out where it is, and to read the mount
/// table for the others).
pub fn mount_missing(only_proc: bool, in_container: bool) -> Vec<&'static str> {
    let mut mounted = Vec::new();
    let mut table: Option<Option<String>> = None;
    for m in API_MOUNTS
        .iter()
        .take(if only_proc { 1 } else { API_MOUNTS.len() })
    {
        let target = Path::new(m.target);
        let state = match &table {
            Some(Some(t)) => mounted_in(t, m.target),
            // No mount table (no /proc): only whether it is a mount point.
            _ => match is_mount_point(target) {
                Ok(true) => Mounted::ReadWrite,
                Ok(false) => Mounted::No,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Mounted::No,
                Err(e) => {
                    crate::log!("cannot look at {}: {e}", m.target);
                    continue;
                }
            },
        };
        if table.is_none() {
            // After /proc: every later step reads the table as it was then.
            table = Some(std::fs::read_to_string("/proc/self/mountinfo").ok());
        }
        if state == Mounted::No
            && std::fs::symlink_metadata(target).is_err()
            && let Err(e) = std::fs::create_dir_all(target)
        {
            crate::log!("cannot create mount point {}: {e}", m.target);
            continue;
        }
        let writable = nix::unistd::access(target, nix::unistd::AccessFlags::W_OK).is_ok();
        let quiet_refusal = match plan(m.target, state, writable, in_container) {
            Plan::Leave => continue,
            Plan::Mount => false,
            Plan::MountIfAllowed => true,
        };
        let data = (!m.data.is_empty()).then_some(m.data);
        match mount(Some(m.fstype), target, Some(m.fstype), m.flags, data) {
            Ok(()) => mounted.push(m.target),
            Err(nix::errno::Errno::EPERM | nix::errno::Errno::EACCES) if quiet_refusal => {}
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

    const MOUNTINFO: &str = "\
22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
23 22 0:21 / /proc rw,nosuid,nodev,noexec - proc proc rw
24 22 0:22 / /run rw,nosuid,nodev - tmpfs tmpfs rw,mode=755
25 22 0:23 / /sys ro,nosuid - sysfs sysfs rw
26 22 0:24 / /dev/shm rw - tmpfs shm ro
27 24 0:25 / /run ro,nosuid - tmpfs tmpfs rw
28 22 0:26 / /mnt/a\\040b rw - tmpfs tmpfs rw
";

    #[test]
    fn mountinfo_says_how_a_point_is_mounted() {
        // the last line for /run covers the first
        assert_eq!(mounted_in(MOUNTINFO, "/run"), Mounted::ReadOnly);
        // a malformed covering line is skipped: the one below it counts
        assert_eq!(
            mounted_in(&MOUNTINFO.replace("27 24 0:25 ", ""), "/run"),
            Mounted::ReadWrite
        );
        let without_27: String = MOUNTINFO
            .lines()
            .filter(|l| !l.starts_with("27 "))
            .map(|l| format!("{l}\n"))
            .collect();
        assert_eq!(mounted_in(&without_27, "/run"), Mounted::ReadWrite);
        assert_eq!(mounted_in(MOUNTINFO, "/proc"), Mounted::ReadWrite);
        assert_eq!(mounted_in(MOUNTINFO, "/sys"), Mounted::ReadOnly);
        assert_eq!(mounted_in(MOUNTINFO, "/dev/shm"), Mounted::ReadOnly);
        assert_eq!(mounted_in(MOUNTINFO, "/dev"), Mounted::No);
        assert_eq!(mounted_in(MOUNTINFO, "/mnt/a b"), Mounted::ReadWrite);
        assert_eq!(mounted_in("", "/run"), Mounted::No);
    }

    #[test]
    fn a_usable_run_is_left_alone() {
        use Mounted::*;
        // a writable mount: left, in a container or not
        for container in [false, true] {
            assert_eq!(plan("/run", ReadWrite, true, container), Plan::Leave);
            assert_eq!(plan("/dev/shm", ReadWrite, true, container), Plan::Leave);
        }
        // read-only: /run is no use so, /sys is as a container engine made it
        assert_eq!(plan("/run", ReadOnly, false, true), Plan::Mount);
        assert_eq!(plan("/sys", ReadOnly, false, true), Plan::Leave);
        // no mount of its own: a host always mounts; a container tries,
        // and uses a writable directory as it is when refused
        assert_eq!(plan("/run", No, true, false), Plan::Mount);
        assert_eq!(plan("/run", No, true, true), Plan::MountIfAllowed);
        assert_eq!(plan("/run", No, false, true), Plan::Mount);
        assert_eq!(plan("/dev/shm", No, true, true), Plan::Mount);
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
