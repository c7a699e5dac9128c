//! The one place that knows cgroup v2 files (docs/manager.md, "Cgroups").
//!
//! The manager finds the cgroup2 mount on `/sys/fs/cgroup` and its own
//! cgroup C, and, when C was given to it (mounted there, or delegated)
//! and is writable, runs every service in
//! `C/svc/NAME/service` with its supervisor in `C/svc/NAME/supervisor`
//! (the "no internal processes" rule forbids processes in `C/svc/NAME`
//! once controllers are enabled there). [`Cgroups`] is that layout;
//! [`Leaf`] is one leaf cgroup with the operations the supervisor needs in
//! its steady state: membership, the populated flag, signalling and killing
//! every member. Those read into stack buffers and allocate nothing.

mod fork;
pub mod resources;
pub mod usage;
pub use fork::{fork_into, fork_into_is_sound, unsupported as fork_into_unsupported, vfork_into};

use nix::errno::Errno;
use nix::fcntl::{OFlag, open};
use nix::sys::signal::{Signal, kill};
use nix::sys::stat::Mode;
use nix::unistd::{Pid, read, write};
use std::ffi::CString;
use std::fs;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// Where svc-init mounts cgroup2 and where the manager looks for it.
pub const MOUNT_POINT: &str = "/sys/fs/cgroup";

/// The controllers svc enables for its services (when available).
pub const CONTROLLERS: [&str; 4] = ["cpu", "memory", "pids", "io"];

/// The controllers a service's cgroup enables for its two leaves from the
/// start: what `svcctl status` reads (memory, tasks) and the OOM reports
/// need. cpu, for `cpu-max`, is enabled only for a service that declares
/// it, when its limit is written ([`resources::apply`]); no io key is
/// written into a leaf. Each controller enabled in `C/svc/NAME` costs a
/// kernel object per leaf, and cpu a level of group scheduling for every
/// task of the service and of its supervisor.
pub const LEAF_CONTROLLERS: [&str; 2] = ["memory", "pids"];

/// The leaf of C that holds C's own processes once C has children.
pub const INIT_LEAF: &str = "init";

/// The directory under C with one cgroup per service.
pub const BASE: &str = "svc";

/// The leaf of a service's cgroup that holds its supervisor.
pub const SUPERVISOR_LEAF: &str = "supervisor";

/// The leaf of a service's cgroup that holds the service's processes.
pub const SERVICE_LEAF: &str = "service";

/// A cgroup file that could not be read, written or parsed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
    #[error("{}: {what}", path.display())]
    Parse { path: PathBuf, what: String },
}

impl Error {
    fn io(path: &Path, source: io::Error) -> Error {
        Error::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    fn errno(path: &Path, e: Errno) -> Error {
        Error::io(path, io::Error::from_raw_os_error(e as i32))
    }

    /// The errno of an I/O error, if it has one.
    pub fn errno_value(&self) -> Option<i32> {
        match self {
            Error::Io { source, .. } => source.raw_os_error(),
            Error::Parse { .. } => None,
        }
    }
}

/// Why cgroups are not in use (one sentence, for the manager's INFO line
/// and `svcctl status`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotInUse(pub String);

impl std::fmt::Display for NotInUse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A mount of the cgroup2 file system, from `/proc/self/mountinfo`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cgroup2Mount {
    /// The cgroup shown at the mount point ("/" unless a subtree was
    /// bind-mounted or the mount was made in another cgroup namespace).
    pub root: String,
    pub mount_point: PathBuf,
}

/// mountinfo escapes space, tab, newline and backslash as `\ooo`.
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 3 < b.len() {
            let oct = &b[i + 1..i + 4];
            if oct.iter().all(|c| (b'0'..=b'7').contains(c)) {
                let v = (oct[0] - b'0') as u32 * 64
                    + (oct[1] - b'0') as u32 * 8
                    + (oct[2] - b'0') as u32;
                if let Ok(v) = u8::try_from(v) {
                    out.push(v);
                    i += 4;
                    continue;
                }
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Every mount in `mountinfo` as (root, mount point, fstype), in order.
fn mounts(mountinfo: &str) -> impl Iterator<Item = (String, PathBuf, &str)> {
    mountinfo.lines().filter_map(|line| {
        let (pre, post) = line.split_once(" - ")?;
        let mut f = pre.split(' ');
        let root = f.nth(3)?;
        let point = f.next()?;
        let fstype = post.split(' ').next()?;
        Some((unescape(root), PathBuf::from(unescape(point)), fstype))
    })
}

/// The cgroup2 mount on `mount_point` that is visible (the last one
/// mounted there wins: it hides the earlier ones), or why there is none.
pub fn find_mount(mountinfo: &str, mount_point: &Path) -> Result<Cgroup2Mount, NotInUse> {
    let mut top = None;
    let mut elsewhere = None;
    for (root, point, fstype) in mounts(mountinfo) {
        if point == mount_point {
            top = Some((root, fstype.to_string()));
        } else if fstype == "cgroup2" {
            elsewhere = Some(point);
        }
    }
    match top {
        Some((root, fstype)) if fstype == "cgroup2" => Ok(Cgroup2Mount {
            root,
            mount_point: mount_point.to_path_buf(),
        }),
        Some((_, fstype)) => Err(NotInUse(match elsewhere {
            Some(p) => format!(
                "{} is {fstype}, not cgroup2 (hybrid hierarchy: cgroup2 only on {}, the controllers belong to cgroup v1)",
                mount_point.display(),
                p.display()
            ),
            None => format!("{} is {fstype}, not cgroup2", mount_point.display()),
        })),
        None => Err(NotInUse(format!(
            "no cgroup2 file system on {}",
            mount_point.display()
        ))),
    }
}

/// The cgroup v2 path (`0::PATH`) of a `/proc/PID/cgroup` file.
pub fn parse_proc_cgroup(text: &str) -> Option<&str> {
    text.lines().find_map(|l| {
        let p = l.strip_prefix("0::")?;
        Some(p.strip_suffix(" (deleted)").unwrap_or(p))
    })
}

/// The controllers named in a `cgroup.controllers` file that svc uses.
pub fn parse_controllers(text: &str) -> Vec<String> {
    let have: Vec<&str> = text.split_whitespace().collect();
    CONTROLLERS
        .iter()
        .filter(|c| have.contains(c))
        .map(|c| c.to_string())
        .collect()
}

/// The value of `key` in a flat keyed file (`cgroup.events`,
/// `memory.events`, `cpu.stat`): lines of `key value`.
pub fn keyed_value(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|l| {
        let (k, v) = l.split_once(' ')?;
        if k == key {
            v.trim().parse().ok()
        } else {
            None
        }
    })
}

/// The directory of the cgroup `rel` (as in /proc/self/cgroup) under a
/// mount whose root is `mount.root`; None when `rel` is outside the mount.
pub fn cgroup_dir(mount: &Cgroup2Mount, rel: &str) -> Option<PathBuf> {
    let root = mount.root.trim_end_matches('/');
    let below = if root.is_empty() {
        rel
    } else {
        let rest = rel.strip_prefix(root)?;
        if !rest.is_empty() && !rest.starts_with('/') {
            return None;
        }
        rest
    };
    let below = below.trim_start_matches('/');
    if below.split('/').any(|c| c == "..") {
        return None;
    }
    Some(if below.is_empty() {
        mount.mount_point.clone()
    } else {
        mount.mount_point.join(below)
    })
}

/// The cgroups of a manager: C (its own cgroup, the place it was given)
/// and the base `C/svc` with one cgroup per service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cgroups {
    /// C's directory.
    own: PathBuf,
    /// C as /proc/PID/cgroup shows it to this manager and its children.
    own_rel: String,
    /// Whether C is the root of the whole hierarchy (no init leaf).
    root: bool,
    /// The controllers of [`CONTROLLERS`] available in C.
    controllers: Vec<String>,
}

impl Cgroups {
    /// Detect cgroup v2 for this process: cgroup2 on `/sys/fs/cgroup`, its
    /// own cgroup inside that mount, and writable.
    pub fn detect() -> Result<Cgroups, NotInUse> {
        let read =
            |p: &str| fs::read_to_string(p).map_err(|e| NotInUse(format!("cannot read {p}: {e}")));
        let mountinfo = read("/proc/self/mountinfo")?;
        let own = read("/proc/self/cgroup")?;
        Cgroups::detect_from(&mountinfo, &own, Path::new(MOUNT_POINT))
    }

    /// [`Cgroups::detect`] from the texts of `/proc/self/mountinfo` and
    /// `/proc/self/cgroup`, with cgroup2 expected on `mount_point`.
    pub fn detect_from(
        mountinfo: &str,
        proc_cgroup: &str,
        mount_point: &Path,
    ) -> Result<Cgroups, NotInUse> {
        let mount = find_mount(mountinfo, mount_point)?;
        let rel = parse_proc_cgroup(proc_cgroup)
            .ok_or_else(|| NotInUse("no cgroup v2 entry (0::) in /proc/self/cgroup".into()))?;
        let mut rel = rel.trim_end_matches('/').to_string();
        if rel.is_empty() {
            rel.push('/');
        }
        // A manager restarted by svc-init lives in C/init, where the first
        // manager moved C's processes; its C is the parent.
        if let Some(parent) = rel.strip_suffix(&format!("/{INIT_LEAF}")) {
            let parent = if parent.is_empty() { "/" } else { parent };
            if let Some(dir) = cgroup_dir(&mount, parent) {
                if dir.join(BASE).is_dir() {
                    rel = parent.to_string();
                }
            }
        }
        let own = cgroup_dir(&mount, &rel).ok_or_else(|| {
            NotInUse(format!(
                "own cgroup {rel} is outside the cgroup2 mount on {} (root {})",
                mount_point.display(),
                mount.root
            ))
        })?;
        // Only a cgroup given to us: the one mounted on /sys/fs/cgroup (the
        // host's root, a container's namespace or bind-mounted subtree),
        // or one systemd delegated (`Delegate=yes`). A manager started
        // inside some other service's cgroup must not take it over.
        if own != mount.mount_point && !delegated(&own) {
            return Err(NotInUse(format!(
                "own cgroup {} is neither what is mounted on {} nor delegated (no trusted.delegate or user.delegate attribute)",
                own.display(),
                mount_point.display()
            )));
        }
        // The hierarchy's root is the one cgroup without `cgroup.type`
        // (and exempt from the no-internal-processes rule); a container's
        // cgroup namespace shows its own cgroup as "/", which is not.
        let root = !own.join("cgroup.type").exists();
        for p in [own.clone(), own.join("cgroup.procs")] {
            if let Err(e) = nix::unistd::access(&p, nix::unistd::AccessFlags::W_OK) {
                return Err(NotInUse(format!(
                    "{} is not writable: {}",
                    p.display(),
                    e.desc()
                )));
            }
        }
        let controllers = fs::read_to_string(own.join("cgroup.controllers"))
            .map(|t| parse_controllers(&t))
            .unwrap_or_default();
        Ok(Cgroups {
            own,
            own_rel: rel,
            root,
            controllers,
        })
    }

    /// C's directory.
    pub fn own(&self) -> &Path {
        &self.own
    }

    /// `C/svc`.
    pub fn base(&self) -> PathBuf {
        self.own.join(BASE)
    }

    /// The controllers (of [`CONTROLLERS`]) available for services.
    pub fn controllers(&self) -> &[String] {
        &self.controllers
    }

    /// Make C usable: move C's processes into `C/init` when C is not the
    /// root, enable the controllers in C and `C/svc`, create `C/svc`.
    /// The controllers that could not be enabled are dropped from
    /// [`Cgroups::controllers`].
    pub fn setup(&mut self) -> Result<(), Error> {
        if !self.root {
            let init = Leaf::new(&self.own.join(INIT_LEAF))?;
            let _ = mkdir(init.dir())?;
            let own = Leaf::new(&self.own)?;
            // New processes may be forked while we move: a few rounds.
            for _ in 0..16 {
                let members = own.members()?;
                if members.is_empty() {
                    break;
                }
                for pid in members {
                    init.add(pid)?;
                }
            }
        }
        let mut enabled = Vec::new();
        for c in &self.controllers {
            if enable(&self.own, c).is_ok() {
                enabled.push(c.clone());
            }
        }
        let _ = mkdir(&self.base())?;
        self.controllers = enabled
            .into_iter()
            .filter(|c| enable(&self.base(), c).is_ok())
            .collect();
        Ok(())
    }

    /// The cgroups of service `name`.
    pub fn service(&self, name: &str) -> ServiceCgroup {
        let dir = self.base().join(name);
        ServiceCgroup {
            supervisor: dir.join(SUPERVISOR_LEAF),
            service: dir.join(SERVICE_LEAF),
            dir,
        }
    }

    /// The leaf that holds service `name`'s processes.
    pub fn service_leaf(&self, name: &str) -> PathBuf {
        self.service(name).service
    }

    /// The services that have a cgroup under `C/svc` (left by an earlier
    /// manager, or live).
    pub fn existing(&self) -> Vec<String> {
        let Ok(rd) = fs::read_dir(self.base()) else {
            return Vec::new();
        };
        rd.filter_map(|e| {
            let e = e.ok()?;
            if !e.file_type().ok()?.is_dir() {
                return None;
            }
            e.file_name().to_str().map(str::to_string)
        })
        .collect()
    }

    /// C as `/proc/PID/cgroup` shows it.
    pub fn own_rel(&self) -> &str {
        &self.own_rel
    }
}

/// Whether systemd delegated `dir` (the `trusted.delegate` attribute it
/// sets for `Delegate=yes`, `user.delegate` from a user manager, "1").
fn delegated(dir: &Path) -> bool {
    let Ok(path) = CString::new(dir.as_os_str().as_bytes()) else {
        return false;
    };
    ["trusted.delegate", "user.delegate"].iter().any(|name| {
        let Ok(name) = CString::new(*name) else {
            return false;
        };
        let mut value = [0u8; 8];
        // SAFETY: both names are NUL-terminated; the buffer and its length
        // match.
        let n = unsafe {
            libc::getxattr(
                path.as_ptr(),
                name.as_ptr(),
                value.as_mut_ptr().cast(),
                value.len(),
            )
        };
        n > 0 && value[..n as usize].starts_with(b"1")
    })
}

/// Write `+controller` to DIR/cgroup.subtree_control.
pub(crate) fn enable(dir: &Path, controller: &str) -> Result<(), Error> {
    enable_all(dir, &[controller])
}

/// Write `+c1 +c2 …` to DIR/cgroup.subtree_control: one write for all, as
/// the kernel enables all of them or none (one per controller cost a
/// service start three more writes).
fn enable_all(dir: &Path, controllers: &[impl AsRef<str>]) -> Result<(), Error> {
    if controllers.is_empty() {
        return Ok(());
    }
    let words: Vec<String> = controllers
        .iter()
        .map(|c| format!("+{}", c.as_ref()))
        .collect();
    let path = dir.join("cgroup.subtree_control");
    fs::write(&path, words.join(" ")).map_err(|e| Error::io(&path, e))
}

/// mkdir, an existing cgroup kept; Ok(true) when it was made now.
fn mkdir(dir: &Path) -> Result<bool, Error> {
    match fs::create_dir(dir) {
        Err(e) if e.kind() != io::ErrorKind::AlreadyExists => Err(Error::io(dir, e)),
        // A service named like an interface file (`cpu.max`) would meet
        // that file here.
        Err(_) if !dir.is_dir() => Err(Error::Parse {
            path: dir.to_path_buf(),
            what: "a cgroup interface file, not a cgroup".into(),
        }),
        Err(_) => Ok(false),
        Ok(()) => Ok(true),
    }
}

/// rmdir; Ok(false) when the cgroup still has processes or children.
fn rmdir(dir: &Path) -> Result<bool, Error> {
    match fs::remove_dir(dir) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(true),
        Err(e) if e.raw_os_error() == Some(Errno::EBUSY as i32) => Ok(false),
        Err(e) => Err(Error::io(dir, e)),
    }
}

/// The cgroups of one service: `C/svc/NAME` and its two leaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceCgroup {
    dir: PathBuf,
    supervisor: PathBuf,
    service: PathBuf,
}

impl ServiceCgroup {
    /// `C/svc/NAME`.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// `C/svc/NAME/supervisor`.
    pub fn supervisor(&self) -> &Path {
        &self.supervisor
    }

    /// `C/svc/NAME/service`.
    pub fn service(&self) -> &Path {
        &self.service
    }

    /// Create the cgroup and its leaves (existing ones are kept), with
    /// those of `controllers` that are [`LEAF_CONTROLLERS`] enabled in
    /// `C/svc/NAME` for the leaves. Ok(true) when both leaves were made
    /// now: new cgroups, which nothing has killed yet (see
    /// [`fork_into_is_sound`]).
    pub fn create(&self, controllers: &[String]) -> Result<bool, Error> {
        mkdir(&self.dir)?;
        let for_leaves: Vec<&String> = controllers
            .iter()
            .filter(|c| LEAF_CONTROLLERS.contains(&c.as_str()))
            .collect();
        enable_all(&self.dir, &for_leaves)?;
        let supervisor = mkdir(&self.supervisor)?;
        let service = mkdir(&self.service)?;
        Ok(supervisor && service)
    }

    /// Remove the leaves and the cgroup; Ok(false) when one still holds a
    /// process (nothing is killed here).
    pub fn remove(&self) -> Result<bool, Error> {
        if !self.dir.is_dir() {
            return Ok(true);
        }
        let a = rmdir(&self.service)?;
        let b = rmdir(&self.supervisor)?;
        Ok(a && b && rmdir(&self.dir)?)
    }
}

/// Read the whole of a small file into `buf`; the number of bytes read.
fn read_into(path: &CString, shown: &Path, buf: &mut [u8]) -> Result<usize, Error> {
    let fd = open(
        path.as_c_str(),
        OFlag::O_RDONLY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| Error::errno(shown, e))?;
    read_fd(&fd, shown, buf)
}

fn read_fd(fd: &OwnedFd, shown: &Path, buf: &mut [u8]) -> Result<usize, Error> {
    let mut n = 0;
    while n < buf.len() {
        match read(fd.as_fd(), &mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(Errno::EINTR) => {}
            Err(e) => return Err(Error::errno(shown, e)),
        }
    }
    Ok(n)
}

fn write_file(path: &CString, shown: &Path, data: &[u8]) -> Result<(), Error> {
    let fd = open(
        path.as_c_str(),
        OFlag::O_WRONLY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| Error::errno(shown, e))?;
    write_fd(&fd, shown, data)
}

/// [`write_file`] of `dir`'s file `name` (its path built only for an
/// error: the steady state allocates nothing).
fn write_in(path: &CString, dir: &Path, name: &str, data: &[u8]) -> Result<(), Error> {
    let fd = open(
        path.as_c_str(),
        OFlag::O_WRONLY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| Error::errno(&dir.join(name), e))?;
    write_fd(&fd, dir, data).map_err(|e| match e {
        Error::Io { source, .. } => Error::Io {
            path: dir.join(name),
            source,
        },
        e => e,
    })
}

fn write_fd(fd: &OwnedFd, shown: &Path, data: &[u8]) -> Result<(), Error> {
    loop {
        match write(fd, data) {
            Ok(_) => return Ok(()),
            Err(Errno::EINTR) => {}
            Err(e) => return Err(Error::errno(shown, e)),
        }
    }
}

fn cstring(p: &Path) -> Result<CString, Error> {
    CString::new(p.as_os_str().as_bytes()).map_err(|_| Error::Parse {
        path: p.to_path_buf(),
        what: "path contains a NUL byte".into(),
    })
}

/// Decimal digits of `n` into `buf`; the used tail.
fn decimal(mut n: u32, buf: &mut [u8; 12]) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return &buf[i..];
        }
    }
}

/// Whether a `flat keyed` buffer has `key 1`.
fn flag(buf: &[u8], key: &[u8]) -> Option<bool> {
    buf.split(|&b| b == b'\n').find_map(|line| {
        let rest = line.strip_prefix(key)?.strip_prefix(b" ")?;
        Some(rest.first() != Some(&b'0'))
    })
}

/// One leaf cgroup (a service's or a supervisor's): its files' paths are
/// built once, so its operations allocate nothing (except for errors and
/// [`Leaf::members`]).
#[derive(Debug)]
pub struct Leaf {
    dir: PathBuf,
    procs: CString,
    events: CString,
    kill: CString,
    freeze: CString,
    procs_path: PathBuf,
    events_path: PathBuf,
}

impl Leaf {
    pub fn new(dir: &Path) -> Result<Leaf, Error> {
        let procs_path = dir.join("cgroup.procs");
        let events_path = dir.join("cgroup.events");
        Ok(Leaf {
            procs: cstring(&procs_path)?,
            events: cstring(&events_path)?,
            kill: cstring(&dir.join("cgroup.kill"))?,
            freeze: cstring(&dir.join("cgroup.freeze"))?,
            dir: dir.to_path_buf(),
            procs_path,
            events_path,
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// `cgroup.procs` opened for writing, close-on-exec: a child writes
    /// "0" to it between fork and exec to move itself here.
    pub fn open_procs(&self) -> Result<OwnedFd, Error> {
        open(
            self.procs.as_c_str(),
            OFlag::O_WRONLY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| Error::errno(&self.procs_path, e))
    }

    /// The leaf's directory opened `O_PATH`, for `clone3`'s
    /// `CLONE_INTO_CGROUP`.
    pub fn open_dir(&self) -> Result<OwnedFd, Error> {
        open(
            self.dir.as_path(),
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| Error::errno(&self.dir, e))
    }

    /// `cgroup.events` opened for reading: poll it for `POLLPRI` to learn
    /// that `populated` changed, then [`Leaf::populated_fd`].
    pub fn open_events(&self) -> Result<OwnedFd, Error> {
        open(
            self.events.as_c_str(),
            OFlag::O_RDONLY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| Error::errno(&self.events_path, e))
    }

    /// Move process `pid` here.
    pub fn add(&self, pid: i32) -> Result<(), Error> {
        let mut b = [0u8; 12];
        match write_file(&self.procs, &self.procs_path, decimal(pid as u32, &mut b)) {
            // Gone meanwhile: nothing to move.
            Err(e) if e.errno_value() == Some(Errno::ESRCH as i32) => Ok(()),
            r => r,
        }
    }

    /// Whether a process is in the leaf or a cgroup below it.
    pub fn populated(&self) -> Result<bool, Error> {
        let mut buf = [0u8; 256];
        let n = read_into(&self.events, &self.events_path, &mut buf)?;
        self.parse_populated(&buf[..n])
    }

    /// [`Leaf::populated`] through an fd from [`Leaf::open_events`] (read
    /// from offset 0, which also re-arms its `POLLPRI`).
    pub fn populated_fd(&self, fd: &OwnedFd) -> Result<bool, Error> {
        let mut buf = [0u8; 256];
        nix::unistd::lseek(fd, 0, nix::unistd::Whence::SeekSet)
            .map_err(|e| Error::errno(&self.events_path, e))?;
        let n = read_fd(fd, &self.events_path, &mut buf)?;
        self.parse_populated(&buf[..n])
    }

    fn parse_populated(&self, buf: &[u8]) -> Result<bool, Error> {
        flag(buf, b"populated").ok_or_else(|| Error::Parse {
            path: self.events_path.clone(),
            what: "no 'populated' line".into(),
        })
    }

    /// Call `f` with every pid in `cgroup.procs` (pids of processes that
    /// are exiting may appear).
    pub fn for_each_member(&self, mut f: impl FnMut(i32)) -> Result<(), Error> {
        let fd = open(
            self.procs.as_c_str(),
            OFlag::O_RDONLY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| Error::errno(&self.procs_path, e))?;
        let mut buf = [0u8; 512];
        let mut cur: Option<u32> = None;
        loop {
            let n = match read(fd.as_fd(), &mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(Errno::EINTR) => continue,
                Err(e) => return Err(Error::errno(&self.procs_path, e)),
            };
            for &b in &buf[..n] {
                if b.is_ascii_digit() {
                    let d = (b - b'0') as u32;
                    cur = Some(cur.unwrap_or(0).saturating_mul(10).saturating_add(d));
                } else if let Some(p) = cur.take() {
                    if let Ok(p) = i32::try_from(p) {
                        f(p);
                    }
                }
            }
        }
        if let Some(p) = cur {
            if let Ok(p) = i32::try_from(p) {
                f(p);
            }
        }
        Ok(())
    }

    /// Every pid in `cgroup.procs`.
    pub fn members(&self) -> Result<Vec<i32>, Error> {
        let mut v = Vec::new();
        self.for_each_member(|p| v.push(p))?;
        Ok(v)
    }

    /// Whether `pid` is in this leaf (not below it).
    pub fn contains(&self, pid: i32) -> Result<bool, Error> {
        let mut found = false;
        self.for_each_member(|p| found |= p == pid)?;
        Ok(found)
    }

    /// Send `sig` to every member; the number signalled.
    pub fn signal_all(&self, sig: Signal) -> Result<usize, Error> {
        let mut n = 0;
        self.for_each_member(|p| {
            if p > 0 && kill(Pid::from_raw(p), sig).is_ok() {
                n += 1;
            }
        })?;
        Ok(n)
    }

    /// SIGKILL every process in the leaf: `cgroup.kill` (Linux 5.14+),
    /// else freeze, SIGKILL each member, thaw (a frozen process cannot
    /// fork away from the kill; SIGKILL reaches it while frozen).
    pub fn kill(&self) -> Result<(), Error> {
        match write_in(&self.kill, &self.dir, "cgroup.kill", b"1") {
            Err(e) if e.errno_value() == Some(Errno::ENOENT as i32) => self.kill_each(),
            r => r,
        }
    }

    /// [`Leaf::kill`] without `cgroup.kill`: freeze, SIGKILL each member,
    /// thaw.
    pub fn kill_each(&self) -> Result<(), Error> {
        let frozen = write_in(&self.freeze, &self.dir, "cgroup.freeze", b"1").is_ok();
        let r = self.signal_all(Signal::SIGKILL).map(|_| ());
        if frozen {
            write_in(&self.freeze, &self.dir, "cgroup.freeze", b"0")?;
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOST_V2: &str = "\
22 1 0:21 / /proc rw,nosuid,nodev,noexec,relatime shared:5 - proc proc rw
25 23 0:23 / /sys rw,nosuid,nodev,noexec,relatime shared:6 - sysfs sysfs rw
30 25 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
";

    const HYBRID: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";

    // A container without a cgroup namespace: its cgroup bind-mounted.
    const CONTAINER: &str = "\
500 400 0:26 /machine.slice/box /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw
";

    const OVERMOUNTED: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
90 23 0:38 / /sys/fs/cgroup rw,relatime - cgroup2 none rw
";

    #[test]
    fn finds_cgroup2_on_the_mount_point() {
        let m = find_mount(HOST_V2, Path::new(MOUNT_POINT)).unwrap();
        assert_eq!(m.root, "/");
        assert_eq!(m.mount_point, Path::new("/sys/fs/cgroup"));
        // The last mount on the point hides the earlier ones.
        let m = find_mount(OVERMOUNTED, Path::new(MOUNT_POINT)).unwrap();
        assert_eq!(m.root, "/");
    }

    #[test]
    fn hybrid_and_v1_hosts_are_not_in_use() {
        let e = find_mount(HYBRID, Path::new(MOUNT_POINT)).unwrap_err();
        assert!(e.0.contains("hybrid"), "{e}");
        assert!(e.0.contains("/sys/fs/cgroup/unified"), "{e}");
        let e = find_mount(HOST_V2, Path::new("/elsewhere")).unwrap_err();
        assert_eq!(e.0, "no cgroup2 file system on /elsewhere");
    }

    #[test]
    fn mount_points_are_unescaped() {
        let mi = "7 1 0:5 / /tmp/a\\040b rw - cgroup2 cgroup2 rw\n";
        let m = find_mount(mi, Path::new("/tmp/a b")).unwrap();
        assert_eq!(m.mount_point, Path::new("/tmp/a b"));
    }

    #[test]
    fn proc_cgroup_v2_line() {
        let text = "12:pids:/x\n1:name=systemd:/y\n0::/system.slice/svc.service\n";
        assert_eq!(parse_proc_cgroup(text), Some("/system.slice/svc.service"));
        assert_eq!(parse_proc_cgroup("0::/gone (deleted)\n"), Some("/gone"));
        assert_eq!(parse_proc_cgroup("4:memory:/a\n"), None);
    }

    #[test]
    fn cgroup_dir_under_a_bind_mounted_subtree() {
        let m = find_mount(CONTAINER, Path::new(MOUNT_POINT)).unwrap();
        assert_eq!(
            cgroup_dir(&m, "/machine.slice/box/init"),
            Some(PathBuf::from("/sys/fs/cgroup/init"))
        );
        assert_eq!(
            cgroup_dir(&m, "/machine.slice/box"),
            Some(PathBuf::from("/sys/fs/cgroup"))
        );
        assert_eq!(cgroup_dir(&m, "/machine.slice/boxer"), None);
        assert_eq!(cgroup_dir(&m, "/other"), None);
        let host = find_mount(HOST_V2, Path::new(MOUNT_POINT)).unwrap();
        assert_eq!(
            cgroup_dir(&host, "/"),
            Some(PathBuf::from("/sys/fs/cgroup"))
        );
        assert_eq!(cgroup_dir(&host, "/a/../.."), None);
    }

    #[test]
    fn controllers_keep_only_the_ones_svc_uses() {
        assert_eq!(
            parse_controllers("cpuset cpu io memory hugetlb pids rdma misc\n"),
            vec!["cpu", "memory", "pids", "io"]
        );
        assert!(parse_controllers("\n").is_empty());
    }

    #[test]
    fn keyed_files() {
        let ev = "populated 1\nfrozen 0\n";
        assert_eq!(keyed_value(ev, "populated"), Some(1));
        assert_eq!(keyed_value(ev, "frozen"), Some(0));
        assert_eq!(keyed_value(ev, "missing"), None);
        assert_eq!(flag(ev.as_bytes(), b"populated"), Some(true));
        assert_eq!(flag(b"populated 0\n", b"populated"), Some(false));
        assert_eq!(flag(b"populatedx 1\n", b"populated"), None);
    }

    #[test]
    fn detect_needs_the_v2_line_and_a_writable_cgroup() {
        let e = Cgroups::detect_from(HOST_V2, "1:cpu:/\n", Path::new(MOUNT_POINT)).unwrap_err();
        assert!(e.0.contains("0::"), "{e}");
        let e =
            Cgroups::detect_from(CONTAINER, "0::/elsewhere\n", Path::new(MOUNT_POINT)).unwrap_err();
        assert!(e.0.contains("outside"), "{e}");
    }

    #[test]
    fn decimal_digits() {
        let mut b = [0u8; 12];
        assert_eq!(decimal(0, &mut b), b"0");
        assert_eq!(decimal(4194304, &mut b), b"4194304");
    }

    #[test]
    fn service_layout() {
        let c = Cgroups {
            own: PathBuf::from("/sys/fs/cgroup"),
            own_rel: "/".into(),
            root: true,
            controllers: vec![],
        };
        let s = c.service("web");
        assert_eq!(s.dir(), Path::new("/sys/fs/cgroup/svc/web"));
        assert_eq!(
            s.supervisor(),
            Path::new("/sys/fs/cgroup/svc/web/supervisor")
        );
        assert_eq!(
            c.service_leaf("web"),
            PathBuf::from("/sys/fs/cgroup/svc/web/service")
        );
    }
}
