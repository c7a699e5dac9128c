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
    /// Mounted only by the PID 1 of a host: a container's engine decides
    /// what it sees there (and whether it is delegated).
    host_only: bool,
}

const NOSUID_NODEV: MsFlags = MsFlags::MS_NOSUID.union(MsFlags::MS_NODEV);
const NOSUID_NODEV_NOEXEC: MsFlags = NOSUID_NODEV.union(MsFlags::MS_NOEXEC);

/// In order: each later one may live inside an earlier one.
const API_MOUNTS: [ApiMount; 7] = [
    ApiMount {
        target: "/proc",
        fstype: "proc",
        flags: NOSUID_NODEV_NOEXEC,
        data: "",
        host_only: false,
    },
    ApiMount {
        target: "/sys",
        fstype: "sysfs",
        flags: NOSUID_NODEV_NOEXEC,
        data: "",
        host_only: false,
    },
    ApiMount {
        target: "/dev",
        fstype: "devtmpfs",
        flags: MsFlags::MS_NOSUID,
        data: "mode=0755",
        host_only: false,
    },
    ApiMount {
        target: "/dev/pts",
        fstype: "devpts",
        flags: MsFlags::MS_NOSUID.union(MsFlags::MS_NOEXEC),
        data: "mode=0620,gid=5,ptmxmode=0666",
        host_only: false,
    },
    ApiMount {
        target: "/dev/shm",
        fstype: "tmpfs",
        flags: NOSUID_NODEV,
        data: "mode=1777",
        host_only: false,
    },
    ApiMount {
        target: "/run",
        fstype: "tmpfs",
        flags: NOSUID_NODEV,
        data: "mode=0755",
        host_only: false,
    },
    // The unified hierarchy, where svc-manager puts each service in a
    // cgroup of its own (docs/manager.md, "Cgroups"). Whatever is there
    // already (a v1 or hybrid layout an initramfs set up) is left alone.
    ApiMount {
        target: CGROUP,
        fstype: "cgroup2",
        flags: NOSUID_NODEV_NOEXEC,
        data: "nsdelegate",
        host_only: true,
    },
];

const CGROUP: &str = "/sys/fs/cgroup";

fn wanted(m: &ApiMount, in_container: bool) -> bool {
    !(m.host_only && in_container)
}

/// The API filesystems svc-init mounts where missing, as (target, fstype).
pub fn api_mounts(in_container: bool) -> Vec<(&'static str, &'static str)> {
    API_MOUNTS
        .iter()
        .filter(|m| wanted(m, in_container))
        .map(|m| (m.target, m.fstype))
        .collect()
}

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
        .filter(|m| wanted(m, in_container))
    {
        let target = Path::new(m.target);
        // sysfs has the directory when the kernel has cgroups; none is
        // made (sysfs refuses) and a kernel without is no error.
        if m.target == CGROUP && !target.is_dir() {
            continue;
        }
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

/// A mount point of /proc/self/mountinfo, as the final step sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Point {
    pub target: std::path::PathBuf,
    pub fstype: String,
}

/// The mount table, in mount order, from the text of /proc/self/mountinfo.
/// Pure.
pub fn points(mountinfo: &str) -> Vec<Point> {
    use std::ffi::OsStr;
    mountinfo
        .lines()
        .filter_map(|line| {
            let (head, tail) = line.split_once(" - ")?;
            let target = unescape_mount_field(head.split(' ').nth(4)?);
            Some(Point {
                target: Path::new(OsStr::from_bytes(&target)).to_owned(),
                fstype: tail.split(' ').next()?.to_owned(),
            })
        })
        .collect()
}

/// Kept mounted to the end: the root (remounted read-only instead) and
/// the API filesystems with whatever lies below /proc, /sys and /dev, all
/// virtual. Below /run a real disk may be mounted (/run/media): those go.
pub fn kept_to_the_end(target: &Path, root: &Path) -> bool {
    const API: [&str; 6] = ["/proc", "/sys", "/dev", "/dev/pts", "/dev/shm", "/run"];
    target == root
        || API.iter().any(|a| target == Path::new(a))
        || ["/proc", "/sys", "/dev"]
            .iter()
            .any(|a| target.starts_with(a))
}

/// What the final step does to mounts; `SysMounts` does it, the tests
/// record it.
pub trait MountOps {
    fn unmount(&mut self, target: &Path) -> nix::Result<()>;
    fn remount_read_only(&mut self, target: &Path) -> nix::Result<()>;
    /// Between two rounds: whatever still holds a file system busy is
    /// killed again (SIGKILL to everyone, reaped), and the disks synced.
    fn between_rounds(&mut self);
}

/// Rounds of unmounting (then of remounting read-only) before giving up.
pub const ROUNDS: usize = 3;

/// One mount that could not be taken down cleanly.
#[derive(Debug, PartialEq, Eq)]
pub enum Left {
    /// Not unmounted, but read-only now: its data is safe.
    ReadOnly(std::path::PathBuf, nix::errno::Errno),
    /// Neither unmounted nor read-only: it may be dirty.
    Writable(std::path::PathBuf, nix::errno::Errno),
}

/// Takes down every mount of `table` (mount order) but those kept to the
/// end: unmounted newest first, in up to ROUNDS rounds with
/// `between_rounds` between (a busy one is retried after everyone has been
/// killed again, never unmounted lazily: a lazy unmount leaves the file
/// system mounted, and dirty, where nobody can see it); what will not go
/// is remounted read-only, retried likewise; `root` last, read-only.
/// Every failure is said on the console, and returned.
pub fn take_down(table: &[Point], root: &Path, ops: &mut dyn MountOps) -> Vec<Left> {
    use nix::errno::Errno;
    let mut pending: Vec<(&Path, Errno)> = table
        .iter()
        .rev()
        .map(|p| p.target.as_path())
        .filter(|t| !kept_to_the_end(t, root))
        .map(|t| (t, Errno::UnknownErrno))
        .collect();
    // The same point mounted twice appears twice: each unmount takes one.
    for round in 0..ROUNDS {
        if round > 0 {
            ops.between_rounds();
        }
        pending.retain_mut(|(target, err)| match ops.unmount(target) {
            // EINVAL: not a mount point (any more: gone with its parent).
            Ok(()) | Err(Errno::EINVAL | Errno::ENOENT) => false,
            Err(e) => {
                *err = e;
                true
            }
        });
        if pending.is_empty() {
            break;
        }
    }
    let mut left = Vec::new();
    for (target, unmount_err) in pending {
        match read_only_rounds(target, ops) {
            Ok(()) => {
                crate::log!(
                    "cannot unmount {}: {}; it is read-only now",
                    target.display(),
                    unmount_err.desc()
                );
                left.push(Left::ReadOnly(target.to_owned(), unmount_err));
            }
            Err(e) => {
                crate::log!(
                    "cannot unmount {} ({}) nor remount it read-only ({}): it may be left dirty",
                    target.display(),
                    unmount_err.desc(),
                    e.desc()
                );
                left.push(Left::Writable(target.to_owned(), e));
            }
        }
    }
    if let Err(e) = read_only_rounds(root, ops) {
        crate::log!(
            "cannot remount {} read-only ({}): it may be left dirty",
            root.display(),
            e.desc()
        );
        left.push(Left::Writable(root.to_owned(), e));
    }
    left
}

/// Remounts `target` read-only, in up to ROUNDS rounds.
fn read_only_rounds(target: &Path, ops: &mut dyn MountOps) -> nix::Result<()> {
    let mut last = Ok(());
    for round in 0..ROUNDS {
        if round > 0 {
            ops.between_rounds();
        }
        last = ops.remount_read_only(target);
        if last.is_ok() {
            break;
        }
    }
    last
}

/// The real operations, for a host's PID 1 (and the namespace tests).
pub struct SysMounts<F: FnMut()> {
    pub between: F,
}

impl<F: FnMut()> MountOps for SysMounts<F> {
    fn unmount(&mut self, target: &Path) -> nix::Result<()> {
        umount2(target, MntFlags::empty())
    }

    fn remount_read_only(&mut self, target: &Path) -> nix::Result<()> {
        let flags = MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY;
        mount(None::<&str>, target, None::<&str>, flags, None::<&str>)
    }

    fn between_rounds(&mut self) {
        (self.between)();
    }
}

/// Host only, at the very end: every mount of /proc/self/mountinfo taken
/// down (`take_down`), `/` read-only last. `between_rounds` kills again.
pub fn unmount_all(between_rounds: impl FnMut()) -> Vec<Left> {
    let table = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut ops = SysMounts {
        between: between_rounds,
    };
    take_down(&points(&table), Path::new("/"), &mut ops)
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

    /// Records what was done; `busy` points refuse to unmount, and to
    /// remount read-only while `held` (a writer) until `freed_after`
    /// between-rounds calls.
    struct Fake {
        busy: Vec<&'static str>,
        held: Vec<&'static str>,
        freed_after: usize,
        rounds: usize,
        log: Vec<String>,
    }

    impl MountOps for Fake {
        fn unmount(&mut self, target: &Path) -> nix::Result<()> {
            self.log.push(format!("umount {}", target.display()));
            let t = target.to_str().unwrap();
            if self.busy.contains(&t) && self.rounds < self.freed_after {
                Err(nix::errno::Errno::EBUSY)
            } else {
                Ok(())
            }
        }
        fn remount_read_only(&mut self, target: &Path) -> nix::Result<()> {
            self.log.push(format!("ro {}", target.display()));
            if self.held.contains(&target.to_str().unwrap()) {
                Err(nix::errno::Errno::EBUSY)
            } else {
                Ok(())
            }
        }
        fn between_rounds(&mut self) {
            self.rounds += 1;
            self.log.push("kill".into());
        }
    }

    const HOST: &str = "\
22 1 8:1 / / rw - ext4 /dev/sda1 rw
23 22 0:21 / /proc rw - proc proc rw
24 23 0:30 / /proc/sys/fs/binfmt_misc rw - binfmt_misc binfmt_misc rw
25 22 0:22 / /sys rw - sysfs sysfs rw
26 25 0:31 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw
27 22 0:5 / /dev rw - devtmpfs devtmpfs rw
28 27 0:32 / /dev/pts rw - devpts devpts rw
29 22 0:33 / /run rw - tmpfs tmpfs rw
30 22 8:2 / /home rw - ext4 /dev/sda2 rw
31 30 8:3 / /home/big\\040disk rw - xfs /dev/sdb1 rw
32 29 8:17 / /run/media/usb rw - vfat /dev/sdc1 rw
";

    fn fake(busy: &[&'static str], held: &[&'static str], freed_after: usize) -> Fake {
        Fake {
            busy: busy.to_vec(),
            held: held.to_vec(),
            freed_after,
            rounds: 0,
            log: Vec::new(),
        }
    }

    #[test]
    fn mount_table_points() {
        let p = points(HOST);
        assert_eq!(p.len(), 11);
        assert_eq!(p[9].target, Path::new("/home/big disk"));
        assert_eq!(p[9].fstype, "xfs");
    }

    #[test]
    fn everything_but_root_and_api_goes_newest_first_then_root_read_only() {
        let mut ops = fake(&[], &[], 0);
        let left = take_down(&points(HOST), Path::new("/"), &mut ops);
        assert!(left.is_empty(), "{left:?}");
        assert_eq!(
            ops.log,
            [
                "umount /run/media/usb",
                "umount /home/big disk",
                "umount /home",
                "ro /"
            ]
        );
    }

    #[test]
    fn a_busy_mount_is_retried_after_killing_again() {
        let mut ops = fake(&["/home"], &[], 1);
        let left = take_down(&points(HOST), Path::new("/"), &mut ops);
        assert!(left.is_empty(), "{left:?}");
        assert_eq!(
            ops.log,
            [
                "umount /run/media/usb",
                "umount /home/big disk",
                "umount /home",
                "kill",
                "umount /home",
                "ro /"
            ]
        );
    }

    #[test]
    fn what_stays_busy_is_made_read_only_and_said() {
        use nix::errno::Errno::EBUSY;
        let mut ops = fake(&["/home"], &[], usize::MAX);
        let left = take_down(&points(HOST), Path::new("/"), &mut ops);
        assert_eq!(left, [Left::ReadOnly("/home".into(), EBUSY)]);
        let umounts = ops.log.iter().filter(|l| *l == "umount /home").count();
        assert_eq!(umounts, ROUNDS);
        assert_eq!(ops.log.last().map(String::as_str), Some("ro /"));
    }

    #[test]
    fn a_root_held_writable_is_retried_then_reported() {
        use nix::errno::Errno::EBUSY;
        let mut ops = fake(&["/home"], &["/home", "/"], usize::MAX);
        let left = take_down(&points(HOST), Path::new("/"), &mut ops);
        assert_eq!(
            left,
            [
                Left::Writable("/home".into(), EBUSY),
                Left::Writable("/".into(), EBUSY)
            ]
        );
        let ro_root = ops.log.iter().filter(|l| *l == "ro /").count();
        assert_eq!(ro_root, ROUNDS);
    }

    #[test]
    fn cgroup2_is_mounted_by_a_hosts_init_only() {
        let host = api_mounts(false);
        assert_eq!(host.last(), Some(&("/sys/fs/cgroup", "cgroup2")));
        assert!(!api_mounts(true).iter().any(|(t, _)| *t == "/sys/fs/cgroup"));
        // Once /sys is there: each mount point comes after its parent.
        let sys = host.iter().position(|(t, _)| *t == "/sys");
        assert!(sys < host.iter().position(|(t, _)| *t == "/sys/fs/cgroup"));
        // A hybrid host's tmpfs on /sys/fs/cgroup is left as it is.
        let hybrid = "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n";
        let m = mounted_in(hybrid, "/sys/fs/cgroup");
        assert_eq!(plan("/sys/fs/cgroup", m, true, false), Plan::Leave);
        assert_eq!(
            plan("/sys/fs/cgroup", Mounted::No, true, false),
            Plan::Mount
        );
    }

    #[test]
    fn kept_points() {
        let root = Path::new("/");
        for p in [
            "/",
            "/proc",
            "/sys/fs/cgroup",
            "/dev/pts",
            "/dev/mqueue",
            "/run",
        ] {
            assert!(kept_to_the_end(Path::new(p), root), "{p}");
        }
        for p in [
            "/home",
            "/run/media/usb",
            "/run/user/1000",
            "/procx",
            "/var",
        ] {
            assert!(!kept_to_the_end(Path::new(p), root), "{p}");
        }
    }
}
