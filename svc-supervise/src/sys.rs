//! The thin layer of syscalls the supervisor needs, each in a small safe
//! function. Nothing here allocates.
//!
//! nix is used where it wraps the call without allocating and without
//! losing information. Hand-written `unsafe` is left where it does not:
//! - nix lacks the call: `close_range`, `pidfd_open`, `getdents64` (nix's
//!   `Dir` is `opendir`, which allocates), `malloc_trim`;
//! - nix's types lose information: its `Signal` has no real-time signals,
//!   so `kill` with one is refused and `waitpid` of a child killed by one
//!   returns EINVAL after reaping it (the status is lost);
//! - the fd is a number with no owner to borrow from (nix's fd calls take
//!   `AsFd`: `BorrowedFd::borrow_raw` would be `unsafe` all the same):
//!   `read`/`write`/`send` and `fcntl` on the raw fds the callers keep, the
//!   poll set rebuilt every turn, fds 0-2 that may be closed;
//! - reading a `signalfd_siginfo` means writing into a plain C struct.
//!
//! Short paths are opened with std's `File` rather than nix's `open`: std
//! copies a path under 384 bytes to the stack, nix into a 1 KiB buffer,
//! which measurably dirtied one more stack page for the supervisor's life.

use std::ffi::CStr;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, IntoRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use nix::fcntl::{OFlag, openat};
use nix::sys::stat::Mode;
use nix::sys::time::TimeSpec;
use nix::time::{ClockId, clock_gettime};
use nix::unistd::{UnlinkatFlags, Whence, lseek, unlinkat};

/// errno of the last failed call, as an io::Error.
pub fn last_error() -> io::Error {
    io::Error::last_os_error()
}

fn check(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 { Err(last_error()) } else { Ok(ret) }
}

/// Milliseconds on the monotonic clock.
pub fn monotonic_ms() -> u64 {
    // CLOCK_MONOTONIC always exists.
    let ts = clock_gettime(ClockId::CLOCK_MONOTONIC).unwrap_or(TimeSpec::new(0, 0));
    ts.tv_sec() as u64 * 1000 + ts.tv_nsec() as u64 / 1_000_000
}

/// Wall-clock time as (seconds, microseconds) since the epoch.
pub fn realtime() -> (i64, u32) {
    let ts = clock_gettime(ClockId::CLOCK_REALTIME).unwrap_or(TimeSpec::new(0, 0));
    (ts.tv_sec(), (ts.tv_nsec() / 1000) as u32)
}

/// A close-on-exec pipe: (read end, write end).
pub fn pipe(flags: libc::c_int) -> io::Result<(OwnedFd, OwnedFd)> {
    Ok(nix::unistd::pipe2(
        OFlag::O_CLOEXEC | OFlag::from_bits_retain(flags),
    )?)
}

/// Opens a short path given as bytes (no NUL) for reading, close-on-exec.
/// std copies a path under 384 bytes to the stack (nix: 1 KiB), so
/// nothing is allocated and little stack is dirtied.
fn open_bytes(path: &[u8], flags: OFlag) -> Option<OwnedFd> {
    use std::os::unix::fs::OpenOptionsExt;
    let path = Path::new(std::ffi::OsStr::from_bytes(path));
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(flags.bits())
        .open(path)
        .ok()?;
    Some(file.into())
}

pub fn set_nonblocking(fd: RawFd) -> io::Result<()> {
    // SAFETY: fcntl on an fd we hold; bad fds give EBADF.
    let flags = check(unsafe { libc::fcntl(fd, libc::F_GETFL) })?;
    // SAFETY: as above.
    check(unsafe { libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) })?;
    Ok(())
}

pub fn set_blocking(fd: RawFd) -> io::Result<()> {
    // SAFETY: fcntl on an fd we hold; bad fds give EBADF.
    let flags = check(unsafe { libc::fcntl(fd, libc::F_GETFL) })?;
    // SAFETY: as above.
    check(unsafe { libc::fcntl(fd, libc::F_SETFL, flags & !libc::O_NONBLOCK) })?;
    Ok(())
}

pub fn set_cloexec(fd: RawFd) -> io::Result<()> {
    // SAFETY: fcntl on an fd; bad fds give EBADF.
    check(unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) })?;
    Ok(())
}

/// read(2), retried on EINTR.
pub fn read(fd: RawFd, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        // SAFETY: buf is valid for buf.len() bytes.
        let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
        if n >= 0 {
            return Ok(n as usize);
        }
        let e = last_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// write(2), retried on EINTR.
pub fn write(fd: RawFd, buf: &[u8]) -> io::Result<usize> {
    loop {
        // SAFETY: buf is valid for buf.len() bytes.
        let n = unsafe { libc::write(fd, buf.as_ptr().cast(), buf.len()) };
        if n >= 0 {
            return Ok(n as usize);
        }
        let e = last_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// send(2) with MSG_NOSIGNAL | MSG_DONTWAIT: never blocks, never SIGPIPE.
pub fn send_nonblocking(fd: RawFd, buf: &[u8]) -> io::Result<usize> {
    loop {
        // SAFETY: buf is valid for buf.len() bytes.
        let n = unsafe {
            libc::send(
                fd,
                buf.as_ptr().cast(),
                buf.len(),
                libc::MSG_NOSIGNAL | libc::MSG_DONTWAIT,
            )
        };
        if n >= 0 {
            return Ok(n as usize);
        }
        let e = last_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// kill(2); ESRCH (already gone) is not an error.
pub fn kill(pid: i32, signal: i32) -> io::Result<()> {
    // SAFETY: kill has no memory arguments.
    if unsafe { libc::kill(pid, signal) } < 0 {
        let e = last_error();
        if e.raw_os_error() != Some(libc::ESRCH) {
            return Err(e);
        }
    }
    Ok(())
}

/// How a child ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitStatus {
    Code(i32),
    Signal(i32),
}

impl ExitStatus {
    pub fn success(self) -> bool {
        self == ExitStatus::Code(0)
    }
}

impl std::fmt::Display for ExitStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        match self {
            ExitStatus::Code(c) => write!(f, "exit status {c}"),
            ExitStatus::Signal(s) => write!(f, "signal {s}"),
        }
    }
}

/// Reaps one child that has ended, if any.
pub fn reap_one() -> Option<(i32, ExitStatus)> {
    let mut status = 0;
    loop {
        // SAFETY: status is a valid out-pointer.
        let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
        if pid > 0 {
            let how = if libc::WIFEXITED(status) {
                ExitStatus::Code(libc::WEXITSTATUS(status))
            } else {
                ExitStatus::Signal(libc::WTERMSIG(status))
            };
            return Some((pid, how));
        }
        if pid == 0 || last_error().kind() != io::ErrorKind::Interrupted {
            return None;
        }
    }
}

/// Reaps `pid` if it is our child and has ended.
pub fn reap_pid(pid: i32) -> Option<ExitStatus> {
    let mut status = 0;
    // SAFETY: status is a valid out-pointer.
    let got = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
    if got != pid {
        return None;
    }
    Some(if libc::WIFEXITED(status) {
        ExitStatus::Code(libc::WEXITSTATUS(status))
    } else {
        ExitStatus::Signal(libc::WTERMSIG(status))
    })
}

/// A pidfd for `pid` (Linux 5.3+); None where unavailable.
pub fn pidfd_open(pid: i32) -> Option<OwnedFd> {
    // SAFETY: pidfd_open takes no pointers.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return None;
    }
    let fd = fd as RawFd;
    let _ = set_cloexec(fd);
    // SAFETY: a fresh fd nothing else owns.
    Some(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// The state letter and parent pid of `pid`, from /proc/PID/stat (read
/// into a stack buffer).
fn state_and_parent(pid: i32) -> Option<(u8, i32)> {
    let mut path = [0u8; 32];
    let mut w = crate::fmt::Writer::new(&mut path);
    w.str("/proc/").uint(pid as u64).str("/stat");
    let len = w.len();
    if w.overflowed() {
        return None;
    }
    let fd = open_bytes(&path[..len], OFlag::O_RDONLY)?;
    let mut buf = [0u8; 512];
    let n = read(fd.as_raw_fd(), &mut buf).unwrap_or(0);
    // "PID (NAME) S PPID …": the name may contain ')' and spaces.
    let stat = &buf[..n];
    let rest = &stat[stat.iter().rposition(|&b| b == b')')? + 1..];
    let mut fields = rest.split(|&b| b == b' ').filter(|f| !f.is_empty());
    let state = *fields.next()?.first()?;
    let ppid = fields.next()?.iter().try_fold(0i32, |acc, &d| {
        d.is_ascii_digit()
            .then(|| acc.checked_mul(10)?.checked_add(i32::from(d - b'0')))?
    })?;
    Some((state, ppid))
}

/// True unless `pid` is gone or a zombie (a zombie that is not our child
/// is reaped by its own parent; for us it has exited).
pub fn alive(pid: i32) -> bool {
    state_and_parent(pid).is_some_and(|(state, _)| !matches!(state, b'Z' | b'X'))
}

/// Parent links followed at most by [`is_descendant`].
const MAX_ANCESTRY: usize = 128;

/// True when `pid` is alive and a descendant of this process: its chain of
/// parents reaches us within [`MAX_ANCESTRY`] links. As a subreaper we are
/// the parent of every orphan of the service, so a daemon that double-forked
/// is still found. Nothing is allocated.
pub fn is_descendant(pid: i32) -> bool {
    let me = nix::unistd::getpid().as_raw();
    if pid <= 1 || pid == me || !alive(pid) {
        return false;
    }
    let mut current = pid;
    for _ in 0..MAX_ANCESTRY {
        match state_and_parent(current) {
            Some((_, parent)) if parent == me => return true,
            Some((_, parent)) if parent > 1 => current = parent,
            _ => return false,
        }
    }
    false
}

/// Blocks `signals` and returns a close-on-exec, non-blocking signalfd for them.
pub fn signalfd(signals: &[i32]) -> io::Result<OwnedFd> {
    use nix::sys::signal::{SigSet, SigmaskHow, Signal, sigprocmask};
    let mut set = SigSet::empty();
    for &s in signals {
        set.add(Signal::try_from(s)?);
    }
    sigprocmask(SigmaskHow::SIG_BLOCK, Some(&set), None)?;
    // nix's SignalFd owns its fd and has no way to hand it over as an
    // OwnedFd; the call itself is one line.
    // SAFETY: set is a valid sigset_t; -1 asks for a new fd.
    let fd =
        check(unsafe { libc::signalfd(-1, set.as_ref(), libc::SFD_CLOEXEC | libc::SFD_NONBLOCK) })?;
    // SAFETY: a fresh fd nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Reads one pending signal number from a signalfd.
pub fn read_signal(fd: &OwnedFd) -> Option<u32> {
    // SAFETY: signalfd_siginfo is plain data.
    let mut info: libc::signalfd_siginfo = unsafe { std::mem::zeroed() };
    let size = std::mem::size_of::<libc::signalfd_siginfo>();
    // SAFETY: info is valid for size bytes.
    let n = unsafe {
        libc::read(
            fd.as_raw_fd(),
            (&mut info as *mut libc::signalfd_siginfo).cast(),
            size,
        )
    };
    (n as usize == size).then_some(info.ssi_signo)
}

/// Marks every inherited fd from 3 up close-on-exec, so that nothing the
/// supervisor was started with leaks into the service.
pub fn cloexec_from(first: u32) {
    // SAFETY: close_range with CLOSE_RANGE_CLOEXEC only changes fd flags.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            first,
            u32::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        )
    };
    if ret < 0 {
        // Old kernel: walk the fds one by one.
        for fd in first..1024 {
            // SAFETY: fcntl on a possibly closed fd just fails with EBADF.
            unsafe { libc::fcntl(fd as i32, libc::F_SETFD, libc::FD_CLOEXEC) };
        }
    }
}

/// Makes sure fds 0, 1, 2 are open (on /dev/null if they were closed), so
/// that no later open() lands on them.
pub fn ensure_stdio_open() {
    for fd in 0..3 {
        // SAFETY: F_GETFD on a possibly closed fd (a number nobody owns).
        if unsafe { libc::fcntl(fd, libc::F_GETFD) } < 0 {
            // The lowest free fd is `fd`: kept open for good.
            let null = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open("/dev/null");
            if let Ok(null) = null {
                let _ = null.into_raw_fd();
            }
        }
    }
}

/// Becomes a child subreaper, so that daemons that double-fork stay our
/// descendants.
pub fn set_child_subreaper() -> io::Result<()> {
    Ok(nix::sys::prctl::set_child_subreaper(true)?)
}

/// Sets the kernel's name of this thread (15 bytes shown by ps -o comm).
pub fn set_thread_name(name: &[u8]) {
    let mut buf = [0u8; 16];
    let n = name.len().min(15);
    buf[..n].copy_from_slice(&name[..n]);
    if let Ok(name) = std::ffi::CStr::from_bytes_until_nul(&buf) {
        let _ = nix::sys::prctl::set_name(name);
    }
}

/// poll(2) on `fds` for at most `timeout_ms` (-1: forever); EINTR counts as
/// a wakeup with nothing ready.
pub fn poll(fds: &mut [libc::pollfd], timeout_ms: i32) -> io::Result<usize> {
    // SAFETY: fds is a valid slice of pollfd.
    let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout_ms) };
    if n < 0 {
        let e = last_error();
        if e.kind() == io::ErrorKind::Interrupted {
            return Ok(0);
        }
        return Err(e);
    }
    Ok(n as usize)
}

/// Calls `f` with each thread id of `pid` (entries of /proc/PID/task),
/// read with getdents64 into a stack buffer.
fn for_each_task(pid: i32, mut f: impl FnMut(i32)) {
    let mut path = [0u8; 32];
    let mut w = crate::fmt::Writer::new(&mut path);
    w.str("/proc/").uint(pid as u64).str("/task");
    let len = w.len();
    if w.overflowed() {
        return;
    }
    let Some(fd) = open_bytes(&path[..len], OFlag::O_RDONLY | OFlag::O_DIRECTORY) else {
        return;
    };
    let mut buf = [0u64; 64];
    loop {
        // SAFETY: buf is valid for its size in bytes.
        let n = unsafe {
            libc::syscall(
                libc::SYS_getdents64,
                fd.as_raw_fd(),
                buf.as_mut_ptr(),
                std::mem::size_of_val(&buf),
            )
        };
        if n <= 0 {
            return;
        }
        // SAFETY: the kernel filled n bytes of buf.
        let bytes = unsafe { std::slice::from_raw_parts(buf.as_ptr().cast::<u8>(), n as usize) };
        let mut off = 0;
        // linux_dirent64: d_ino u64, d_off i64, d_reclen u16, d_type u8, d_name.
        while off + 19 < bytes.len() {
            let reclen = u16::from_ne_bytes([bytes[off + 16], bytes[off + 17]]) as usize;
            if reclen == 0 || off + reclen > bytes.len() {
                return;
            }
            let name = &bytes[off + 19..off + reclen];
            let name = &name[..name.iter().position(|&b| b == 0).unwrap_or(name.len())];
            let mut tid: i64 = 0;
            if !name.is_empty() && name.iter().all(u8::is_ascii_digit) && name.len() < 10 {
                for &d in name {
                    tid = tid * 10 + i64::from(d - b'0');
                }
                f(tid as i32);
            }
            off += reclen;
        }
    }
}

/// The pids of the direct children of `pid`, forked by any of its threads
/// (as /proc/PID/task/TID/children lists them), passed to `f` one by one;
/// nothing is allocated.
pub fn for_each_child(pid: i32, mut f: impl FnMut(i32)) {
    for_each_task(pid, |tid| read_children(pid, tid, &mut f));
}

fn read_children(pid: i32, tid: i32, f: &mut impl FnMut(i32)) {
    let mut path = [0u8; 64];
    let mut w = crate::fmt::Writer::new(&mut path);
    w.str("/proc/")
        .uint(pid as u64)
        .str("/task/")
        .uint(tid as u64)
        .str("/children");
    let len = w.len();
    if w.overflowed() {
        return;
    }
    let Some(fd) = open_bytes(&path[..len], OFlag::O_RDONLY) else {
        return;
    };
    let mut buf = [0u8; 256];
    let mut current: i64 = -1;
    loop {
        let n = match read(fd.as_raw_fd(), &mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        for &b in &buf[..n] {
            if b.is_ascii_digit() {
                current = current.max(0) * 10 + i64::from(b - b'0');
            } else if current >= 0 {
                f(current as i32);
                current = -1;
            }
        }
    }
    if current >= 0 {
        f(current as i32);
    }
}

/// SIGKILLs every descendant of this process except those `keep` names
/// (e.g. nothing). As a subreaper, orphans of the service are our children,
/// so walking /proc from our pid finds them all. A fixed stack bounds the walk.
pub fn kill_descendants(keep: impl Fn(i32) -> bool) {
    let me = nix::unistd::getpid().as_raw();
    let mut stack = [0i32; 256];
    let mut depth = 0usize;
    stack[0] = me;
    depth += 1;
    let mut visited = 0;
    while depth > 0 && visited < 4096 {
        depth -= 1;
        let pid = stack[depth];
        visited += 1;
        if pid != me && !keep(pid) {
            // Freeze it first so it cannot fork while we walk.
            let _ = kill(pid, libc::SIGSTOP);
        }
        for_each_child(pid, |child| {
            if depth < stack.len() {
                stack[depth] = child;
                depth += 1;
            }
        });
        if pid != me && !keep(pid) {
            let _ = kill(pid, libc::SIGKILL);
        }
    }
}

/// Directory levels [`remove_tree`] descends at most.
const MAX_TREE_DEPTH: usize = 64;
/// Entries [`remove_tree`] removes at most, so that a process still
/// filling the tree cannot keep the loop busy for ever.
const MAX_TREE_ENTRIES: usize = 1 << 20;

/// Removes the tree at `path` (a symlink at any level is removed, never
/// followed) without allocating, unlike `std::fs::remove_dir_all`: names
/// go through one stack buffer per level (as `CStr`s, which nix passes on
/// without copying) and the directory entries through one shared
/// getdents64 buffer. Deeper than [`MAX_TREE_DEPTH`] levels is ELOOP, and
/// the rest is left.
pub fn remove_tree(path: &Path) -> io::Result<()> {
    let mut cpath = [0u8; libc::PATH_MAX as usize];
    let bytes = path.as_os_str().as_encoded_bytes();
    if bytes.len() >= cpath.len() || bytes.contains(&0) {
        return Err(io::Error::from_raw_os_error(libc::ENAMETOOLONG));
    }
    cpath[..bytes.len()].copy_from_slice(bytes);
    let name = CStr::from_bytes_until_nul(&cpath).map_err(|_| io::Error::other("path"))?;
    let mut buf = [0u64; 512];
    let mut budget = MAX_TREE_ENTRIES;
    remove_entry(nix::fcntl::AT_FDCWD, name, &mut buf, 0, &mut budget).map(|_| ())
}

/// Removes `name` in `parent`, a directory with its contents; Ok(true)
/// when it was a directory (and `buf` was used).
fn remove_entry(
    parent: BorrowedFd,
    name: &CStr,
    buf: &mut [u64; 512],
    depth: usize,
    budget: &mut usize,
) -> io::Result<bool> {
    *budget = budget
        .checked_sub(1)
        .ok_or_else(|| io::Error::from_raw_os_error(libc::EMLINK))?;
    match unlinkat(parent, name, UnlinkatFlags::NoRemoveDir) {
        Ok(()) | Err(nix::errno::Errno::ENOENT) => return Ok(false),
        Err(nix::errno::Errno::EISDIR) => {}
        Err(e) => return Err(e.into()),
    }
    if depth >= MAX_TREE_DEPTH {
        return Err(io::Error::from_raw_os_error(libc::ELOOP));
    }
    // O_NOFOLLOW: a symlink swapped in since the unlink is not followed.
    let dir = openat(
        parent,
        name,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )?;
    clear_dir(&dir, buf, depth, budget)?;
    drop(dir);
    match unlinkat(parent, name, UnlinkatFlags::RemoveDir) {
        Ok(()) | Err(nix::errno::Errno::ENOENT) => Ok(true),
        Err(e) => Err(e.into()),
    }
}

/// Empties the directory `dir`. A subdirectory is removed with the same
/// buffer, after which the scan starts again from the beginning.
fn clear_dir(
    dir: &OwnedFd,
    buf: &mut [u64; 512],
    depth: usize,
    budget: &mut usize,
) -> io::Result<()> {
    'pass: loop {
        lseek(dir, 0, Whence::SeekSet)?;
        loop {
            // nix has no getdents64 (its Dir is opendir, which allocates).
            // SAFETY: buf is valid for its size in bytes.
            let n = unsafe {
                libc::syscall(
                    libc::SYS_getdents64,
                    dir.as_raw_fd(),
                    buf.as_mut_ptr(),
                    std::mem::size_of_val(buf),
                )
            };
            if n < 0 {
                return Err(last_error());
            }
            if n == 0 {
                return Ok(());
            }
            let mut off = 0;
            while off + 19 < n as usize {
                // SAFETY: the kernel filled n bytes of buf.
                let bytes =
                    unsafe { std::slice::from_raw_parts(buf.as_ptr().cast::<u8>(), n as usize) };
                // linux_dirent64: d_ino u64, d_off i64, d_reclen u16, d_type u8, d_name.
                let reclen = u16::from_ne_bytes([bytes[off + 16], bytes[off + 17]]) as usize;
                if reclen == 0 || off + reclen > bytes.len() {
                    return Err(io::Error::from_raw_os_error(libc::EIO));
                }
                let raw = &bytes[off + 19..off + reclen];
                let len = raw.iter().position(|&b| b == 0).unwrap_or(raw.len());
                off += reclen;
                if len == 0 || &raw[..len] == b"." || &raw[..len] == b".." {
                    continue;
                }
                let mut name = [0u8; 256];
                if len >= name.len() {
                    return Err(io::Error::from_raw_os_error(libc::ENAMETOOLONG));
                }
                name[..len].copy_from_slice(&raw[..len]);
                let name =
                    CStr::from_bytes_until_nul(&name).map_err(|_| io::Error::other("name"))?;
                if remove_entry(dir.as_fd(), name, buf, depth + 1, budget)? {
                    // buf was reused below: what it held is gone.
                    continue 'pass;
                }
            }
        }
    }
}

/// Writes a diagnostic to our stderr, ignoring failure: a console that
/// returns EIO, `/dev/full` or a pipe whose reader left must never end the
/// supervisor (`eprintln!` panics on a failed write).
pub fn stderr_fmt(args: std::fmt::Arguments) {
    use std::io::Write;
    let _ = std::io::stderr().write_fmt(args);
}

/// As [`stderr_fmt`], for stdout (`--help`, `--version`).
pub fn stdout_fmt(args: std::fmt::Arguments) {
    use std::io::Write;
    let mut out = std::io::stdout();
    let _ = out.write_fmt(args).and_then(|()| out.flush());
}

/// Borrow-free view of a raw fd for APIs that want AsRawFd.
pub fn raw(fd: &Option<OwnedFd>) -> RawFd {
    fd.as_ref().map_or(-1, |f| f.as_raw_fd())
}

/// Gives freed heap memory back to the system (glibc), so that what
/// set-up used and freed does not stay dirty for the supervisor's life.
pub fn trim_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free memory.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remove_tree_removes_a_tree_and_follows_no_symlink() {
        let base = std::env::temp_dir().join(format!("svc-remove-tree-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        let outside = base.join("outside");
        let tree = base.join("tree");
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::write(outside.join("keep"), "x").unwrap();
        let mut deep = tree.clone();
        for i in 0..10 {
            deep = deep.join(format!("d{i}"));
            std::fs::create_dir_all(&deep).unwrap();
            for f in 0..50 {
                std::fs::write(deep.join(format!("file-{f}-with-a-longer-name")), "x").unwrap();
            }
            std::os::unix::fs::symlink(&outside, deep.join("link")).unwrap();
        }
        std::fs::create_dir_all(tree.join("wide")).unwrap();
        for d in 0..40 {
            std::fs::create_dir_all(tree.join(format!("wide/{d}/x"))).unwrap();
        }
        remove_tree(&tree).unwrap();
        assert!(!tree.exists());
        assert!(outside.join("keep").exists(), "a symlink was followed");
        // A symlink at the top is removed, not its target.
        std::os::unix::fs::symlink(&outside, &tree).unwrap();
        remove_tree(&tree).unwrap();
        assert!(std::fs::symlink_metadata(&tree).is_err());
        assert!(outside.join("keep").exists());
        // Too deep: an error, not a stack overflow.
        let mut deep = tree.clone();
        for _ in 0..MAX_TREE_DEPTH + 2 {
            deep = deep.join("d");
        }
        std::fs::create_dir_all(&deep).unwrap();
        let e = remove_tree(&tree).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ELOOP));
        std::fs::remove_dir_all(&base).unwrap();
    }

    #[test]
    fn children_of_any_thread_are_found() {
        // A child forked from a second thread is listed under that thread.
        let child = std::thread::spawn(|| {
            std::process::Command::new("/bin/sleep")
                .arg("5")
                .spawn()
                .unwrap()
        })
        .join()
        .unwrap();
        let mut found = false;
        // SAFETY: getpid has no arguments.
        for_each_child(unsafe { libc::getpid() }, |pid| {
            found |= pid == child.id() as i32
        });
        let mut child = child;
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(found);
    }
}
