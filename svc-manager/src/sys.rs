//! Every system call the manager makes beyond std: signals, poll, peer
//! credentials, spawning supervisors, reaping, readiness to the parent.
//!
//! Through nix where it has the call. Hand-written `unsafe` is left where
//! it has not, or where its types would lose information:
//! - `signal(SIGPIPE, SIG_IGN)`: nix's `signal` is `unsafe` too;
//! - `poll`: nix's `PollFd` borrows each fd for the array's life, and the
//!   manager's set is built from fds of several owners;
//! - `waitpid`: nix's `WaitStatus` has no real-time signals, and returns
//!   EINVAL for a supervisor killed by one after reaping it (its pid lost);
//! - `kill`: nix's `Signal` has no real-time signals either;
//! - `fcntl` on inherited fd numbers that nobody owns (`fd_is_open`,
//!   `set_cloexec`), and taking over the readiness fd we were handed;
//! - `pidfd_open`, `pidfd_send_signal`: not in nix.

use std::ffi::OsStr;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::{Command, Stdio};

use nix::fcntl::{FcntlArg, FdFlag, fcntl};
use nix::sys::signal::{SigSet, SigmaskHow, Signal, sigprocmask};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::socket::{AddressFamily, SockFlag, SockType, getsockopt, socketpair, sockopt};

/// The signals the loop handles; blocked and read from a signalfd.
pub fn signals() -> std::io::Result<SignalFd> {
    let mut set = SigSet::empty();
    for s in [
        Signal::SIGTERM,
        Signal::SIGINT,
        Signal::SIGHUP,
        Signal::SIGCHLD,
    ] {
        set.add(s);
    }
    sigprocmask(SigmaskHow::SIG_BLOCK, Some(&set), None)?;
    // SAFETY: ignoring SIGPIPE only turns writes to gone peers into EPIPE.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
    Ok(SignalFd::with_flags(
        &set,
        SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK,
    )?)
}

/// Signals waiting on the signalfd.
pub fn read_signals(fd: &SignalFd) -> Vec<i32> {
    let mut out = Vec::new();
    while let Ok(Some(info)) = fd.read_signal() {
        out.push(info.ssi_signo as i32);
    }
    out
}

/// poll(2) over `fds`; EINTR counts as nothing ready.
pub fn poll(fds: &mut [libc::pollfd], timeout_ms: i32) -> std::io::Result<()> {
    // SAFETY: `fds` is a valid, exclusively borrowed array of pollfd.
    let r = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout_ms) };
    if r < 0 {
        let e = std::io::Error::last_os_error();
        if e.kind() != std::io::ErrorKind::Interrupted {
            return Err(e);
        }
        for f in fds.iter_mut() {
            f.revents = 0;
        }
    }
    Ok(())
}

/// Peer credentials of a connected unix socket: (pid, uid, gid).
pub fn peer_cred(sock: &UnixStream) -> std::io::Result<(i32, u32, u32)> {
    let c = getsockopt(sock, sockopt::PeerCredentials)?;
    Ok((c.pid(), c.uid(), c.gid()))
}

/// Whether user `uid` (primary group `gid`) belongs to group `group`.
pub fn in_group(uid: u32, gid: u32, group: &nix::unistd::Group) -> bool {
    if group.gid.as_raw() == gid {
        return true;
    }
    match nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid)) {
        Ok(Some(user)) => group.mem.contains(&user.name),
        _ => false,
    }
}

/// Reaps every exited child (the supervisors this manager started).
pub fn reap_children() -> Vec<i32> {
    let mut out = Vec::new();
    loop {
        let mut status = 0;
        // SAFETY: waitpid with a valid status pointer.
        let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
        if pid <= 0 {
            return out;
        }
        out.push(pid);
    }
}

/// Starts `program --manager-fd N --control CONTROL` in a process group
/// of its own (so that neither the manager's death nor its terminal's
/// signals reach it), with the soft RLIMIT_NOFILE the manager was started
/// with, and returns its pid and the manager's end of the socketpair.
///
/// No `pre_exec`: std then uses posix_spawn (a vfork-style clone), which
/// is what keeps bring-up of a thousand services fast. The child's end is
/// made inheritable just for the spawn; the manager is single-threaded, so
/// no other child can inherit it meanwhile.
/// With `cgroup`, the supervisor is forked straight into that directory's
/// cgroup; `placed` in the result says it was (else it is where the
/// manager is, and the caller moves it).
pub fn spawn_supervisor(
    program: &Path,
    control: &Path,
    cgroup: Option<&Path>,
) -> std::io::Result<Spawned> {
    use std::os::unix::process::CommandExt as _;
    let (mine, theirs) = socketpair(
        AddressFamily::Unix,
        SockType::Stream,
        None,
        SockFlag::SOCK_CLOEXEC,
    )?;
    let child_fd = theirs.as_raw_fd();
    fcntl(&theirs, FcntlArg::F_SETFD(FdFlag::empty()))?;
    if let Some(dir) = cgroup
        && let Some(pid) = fork_supervisor_into(program, control, child_fd, dir)?
    {
        drop(theirs);
        return finish_spawn(pid, mine, true);
    }
    let child = Command::new(program)
        .arg("--manager-fd")
        .arg(child_fd.to_string())
        .arg("--control")
        .arg(control)
        .stdin(Stdio::null())
        .process_group(0)
        .spawn();
    drop(theirs);
    let child = child?;
    finish_spawn(child.id(), mine, false)
}

/// A supervisor just spawned.
pub struct Spawned {
    pub pid: u32,
    pub sock: UnixStream,
    /// Born in its cgroup (nothing to move).
    pub placed: bool,
}

fn finish_spawn(pid: u32, mine: OwnedFd, placed: bool) -> std::io::Result<Spawned> {
    // The supervisor takes no service before its declaration, which is
    // sent after this returns: its service sees the limit the manager was
    // started with. Should that fail the service still runs, with more.
    if let Err(e) = crate::fds::restore_limit(pid) {
        tracing::warn!("supervisor pid {pid}: cannot lower its RLIMIT_NOFILE: {e}");
    }
    let sock = UnixStream::from(mine);
    sock.set_nonblocking(true)?;
    Ok(Spawned { pid, sock, placed })
}

/// What the supervisor's child needs between its birth and its exec, all
/// prepared by the parent.
struct SupervisorChild {
    program: *const libc::c_char,
    argv: *const *const libc::c_char,
    envp: *const *const libc::c_char,
    devnull: RawFd,
    report: RawFd,
}

/// The child of [`fork_supervisor_into`], on its own stack in the
/// manager's memory (the manager waits): as std's spawn sets a child up,
/// then exec; the errno of a failure goes to the parent.
extern "C" fn supervisor_child(arg: *mut libc::c_void) -> ! {
    // SAFETY: `arg` is the SupervisorChild the parent keeps alive while it
    // waits; every call is an async-signal-safe syscall wrapper.
    unsafe {
        let c = &*(arg as *const SupervisorChild);
        let empty: libc::sigset_t = std::mem::zeroed();
        libc::sigprocmask(libc::SIG_SETMASK, &empty, std::ptr::null_mut());
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        if libc::dup2(c.devnull, 0) >= 0 && libc::setpgid(0, 0) == 0 {
            libc::execve(c.program, c.argv, c.envp);
        }
        let b = (*libc::__errno_location()).to_ne_bytes();
        libc::write(c.report, b.as_ptr().cast(), b.len());
        libc::_exit(127)
    }
}

/// The stack the supervisor's child runs on until its exec (one page or
/// two of it are ever touched).
const CHILD_STACK: usize = 64 * 1024;

/// What every supervisor's start uses, made at the first: a thousand
/// starts would otherwise map and unmap a stack, copy the environment
/// and open /dev/null a thousand times, in the manager's loop. The
/// manager's environment does not change once it runs.
struct SpawnScratch {
    stack: Vec<u8>,
    _env: Vec<std::ffi::CString>,
    envp: Vec<*const libc::c_char>,
    devnull: std::fs::File,
}

thread_local! {
    static SPAWN_SCRATCH: std::cell::RefCell<Option<SpawnScratch>> =
        const { std::cell::RefCell::new(None) };
}

impl SpawnScratch {
    fn new() -> std::io::Result<SpawnScratch> {
        let env: Vec<std::ffi::CString> = std::env::vars_os()
            .filter_map(|(k, v)| {
                let mut kv = k.into_encoded_bytes();
                kv.push(b'=');
                kv.extend_from_slice(v.as_encoded_bytes());
                std::ffi::CString::new(kv).ok()
            })
            .collect();
        let mut envp: Vec<*const libc::c_char> = env.iter().map(|a| a.as_ptr()).collect();
        envp.push(std::ptr::null());
        Ok(SpawnScratch {
            stack: vec![0u8; CHILD_STACK],
            _env: env,
            envp,
            devnull: std::fs::File::open("/dev/null")?,
        })
    }
}

/// Starts the supervisor in the cgroup of `dir`, vfork-like (no copy of
/// the manager's memory, no move afterwards). Ok(None): this kernel or
/// architecture cannot; spawn it the ordinary way.
fn fork_supervisor_into(
    program: &Path,
    control: &Path,
    manager_fd: RawFd,
    dir: &Path,
) -> std::io::Result<Option<u32>> {
    use std::ffi::CString;
    use std::os::fd::AsFd;
    if program.components().count() < 2 {
        // A bare name is looked up in PATH by std's spawn.
        return Ok(None);
    }
    let c = |b: &[u8]| CString::new(b).map_err(|_| std::io::Error::from_raw_os_error(libc::EINVAL));
    let argv_owned = [
        c(program.as_os_str().as_encoded_bytes())?,
        c(b"--manager-fd")?,
        c(manager_fd.to_string().as_bytes())?,
        c(b"--control")?,
        c(control.as_os_str().as_encoded_bytes())?,
    ];
    let argv: [*const libc::c_char; 6] = [
        argv_owned[0].as_ptr(),
        argv_owned[1].as_ptr(),
        argv_owned[2].as_ptr(),
        argv_owned[3].as_ptr(),
        argv_owned[4].as_ptr(),
        std::ptr::null(),
    ];
    let cgroup = std::fs::File::open(dir)?;
    // Told the exec's failure through a close-on-exec pipe, as std does.
    let (report_r, report_w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
    let started = SPAWN_SCRATCH.with_borrow_mut(|scratch| {
        if scratch.is_none() {
            *scratch = Some(SpawnScratch::new()?);
        }
        let Some(s) = scratch.as_mut() else {
            return Err(std::io::Error::from_raw_os_error(libc::ENOMEM));
        };
        let mut data = SupervisorChild {
            program: argv[0],
            argv: argv.as_ptr(),
            envp: s.envp.as_ptr(),
            devnull: s.devnull.as_raw_fd(),
            report: report_w.as_raw_fd(),
        };
        // SAFETY: supervisor_child keeps to vfork_into's contract, and
        // `data` with everything it points to outlives the call.
        Ok(unsafe {
            libsvc::cgroup::vfork_into(
                cgroup.as_fd(),
                &mut s.stack,
                supervisor_child,
                (&mut data as *mut SupervisorChild).cast(),
            )
        })
    })?;
    let pid = match started {
        Ok(pid) => pid,
        Err(errno) if libsvc::cgroup::fork_into_unsupported(errno) => return Ok(None),
        Err(errno) => return Err(std::io::Error::from_raw_os_error(errno)),
    };
    // The child has exec'd or exited by now: its errno, or end of file.
    drop(report_w);
    let mut errno = [0u8; 4];
    if nix::unistd::read(&report_r, &mut errno).unwrap_or(0) == errno.len() {
        // SAFETY: reaping our own child, which has _exit'ed.
        unsafe { libc::waitpid(pid, std::ptr::null_mut(), 0) };
        return Err(std::io::Error::from_raw_os_error(i32::from_ne_bytes(errno)));
    }
    Ok(Some(pid as u32))
}

/// Tells the parent that the manager is ready: a line on `fd`, and/or
/// `READY=1` to `$NOTIFY_SOCKET`.
pub fn notify_ready(fd: Option<RawFd>, notify_socket: Option<&OsStr>) {
    if let Some(fd) = fd {
        // SAFETY: the descriptor number was handed to us for this purpose;
        // we take it over and close it after writing.
        let owned = unsafe { OwnedFd::from_raw_fd(fd) };
        let _ = nix::unistd::write(&owned, b"\n");
    }
    if let Some(path) = notify_socket {
        if let Err(e) = sd_notify(path, b"READY=1\n") {
            tracing::warn!("NOTIFY_SOCKET: {e}");
        }
    }
}

fn sd_notify(path: &OsStr, msg: &[u8]) -> std::io::Result<()> {
    use std::os::linux::net::SocketAddrExt;
    use std::os::unix::net::{SocketAddr, UnixDatagram};
    let bytes = path.as_encoded_bytes();
    let addr = match bytes.strip_prefix(b"@") {
        Some(name) => SocketAddr::from_abstract_name(name)?,
        None => SocketAddr::from_pathname(Path::new(path))?,
    };
    let sock = UnixDatagram::unbound()?;
    sock.send_to_addr(msg, &addr)?;
    Ok(())
}

/// Whether a descriptor number is open.
pub fn fd_is_open(fd: RawFd) -> bool {
    // SAFETY: F_GETFD on any number is harmless.
    unsafe { libc::fcntl(fd, libc::F_GETFD) >= 0 }
}

/// Marks an inherited descriptor close-on-exec.
pub fn set_cloexec(fd: RawFd) {
    // SAFETY: F_SETFD on a descriptor we were handed.
    unsafe {
        libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC);
    }
}

/// One readiness report of [`Events::wait`].
pub type Ready = nix::sys::epoll::EpollEvent;

/// The manager's epoll set (level-triggered).
pub struct Events(nix::sys::epoll::Epoll);

impl Events {
    pub fn new() -> std::io::Result<Events> {
        use nix::sys::epoll::{Epoll, EpollCreateFlags};
        Ok(Events(Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC)?))
    }

    /// Registers `fd` for `events` under `token`: added when `current` is
    /// None, else modified.
    pub fn set(
        &self,
        fd: BorrowedFd<'_>,
        current: Option<u32>,
        events: u32,
        token: u64,
    ) -> std::io::Result<()> {
        use nix::sys::epoll::{EpollEvent, EpollFlags};
        let mut ev = EpollEvent::new(EpollFlags::from_bits_retain(events as i32), token);
        match current {
            None => self.0.add(fd, ev)?,
            Some(_) => self.0.modify(fd, &mut ev)?,
        }
        Ok(())
    }

    /// Waits up to `timeout_ms` (-1: no limit); EINTR counts as nothing
    /// ready.
    pub fn wait(&self, ready: &mut [Ready], timeout_ms: i32) -> std::io::Result<usize> {
        use nix::sys::epoll::EpollTimeout;
        let timeout = EpollTimeout::try_from(timeout_ms).unwrap_or(EpollTimeout::NONE);
        match self.0.wait(ready, timeout) {
            Ok(n) => Ok(n),
            Err(nix::errno::Errno::EINTR) => Ok(0),
            Err(e) => Err(e.into()),
        }
    }
}

/// A pidfd for `pid` (Linux 5.3+; None where unsupported or gone).
pub fn pidfd_open(pid: i32) -> Option<OwnedFd> {
    // SAFETY: pidfd_open(2) takes a pid and flags; a pidfd is close-on-exec.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return None;
    }
    // SAFETY: the kernel just gave us this descriptor.
    Some(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// Sends `sig` (0: only checks) to the process a pidfd refers to; false
/// once it has gone.
pub fn pidfd_signal(fd: BorrowedFd<'_>, sig: i32) -> bool {
    // SAFETY: pidfd_send_signal(2) on a pidfd we hold, no siginfo.
    let r = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            fd.as_raw_fd(),
            sig,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
    r == 0
}

/// kill(2): `target` a pid, or minus a process group.
pub fn kill(target: i32, sig: i32) {
    // SAFETY: kill(2) has no memory effects; callers check whom it reaches.
    unsafe { libc::kill(target, sig) };
}
