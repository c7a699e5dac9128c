//! Starting children. Everything a child needs is prepared before fork
//! (`Program` holds the C strings and the argv array), and between fork and
//! exec the child makes only async-signal-safe system calls, so spawning
//! allocates nothing and is safe whatever state the parent is in.
//!
//! Every child starts clean whatever svc-init inherited: default signal
//! dispositions, an empty signal mask, and only fds 0, 1 and 2.

use std::ffi::{CString, OsStr};
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use nix::errno::Errno;
use nix::unistd::Pid;

pub struct Program {
    path: CString,
    // `argv` owns the strings that `argv_ptrs` points into.
    _argv: Vec<CString>,
    argv_ptrs: Vec<*const libc::c_char>,
}

impl Program {
    /// `args` excludes argv[0], which is `path`.
    pub fn new<S: AsRef<OsStr>>(path: &Path, args: &[S]) -> Result<Program, String> {
        Program::with_argv0(path, path.as_os_str(), args)
    }

    /// Runs `path` with `argv0` as its name, as execvp does with a name
    /// found on PATH.
    pub fn with_argv0<S: AsRef<OsStr>>(
        path: &Path,
        argv0: &OsStr,
        args: &[S],
    ) -> Result<Program, String> {
        let c = |s: &OsStr| {
            CString::new(s.as_bytes())
                .map_err(|_| format!("{} contains a NUL byte", s.to_string_lossy()))
        };
        let path_c = c(path.as_os_str())?;
        let mut argv = vec![c(argv0)?];
        for a in args {
            argv.push(c(a.as_ref())?);
        }
        let mut argv_ptrs: Vec<*const libc::c_char> = argv.iter().map(|a| a.as_ptr()).collect();
        argv_ptrs.push(std::ptr::null());
        Ok(Program {
            path: path_c,
            _argv: argv,
            argv_ptrs,
        })
    }

    pub fn path(&self) -> &Path {
        Path::new(OsStr::from_bytes(self.path.as_bytes()))
    }
}

#[derive(Clone, Copy, Default)]
pub struct Setup {
    /// Put the child in a process group of its own …
    pub own_group: bool,
    /// … and make that group the terminal's foreground (when fd 0 is a tty).
    pub foreground: bool,
    /// A new session with fd 0 as controlling terminal (the emergency shell).
    pub new_session: bool,
}

/// Forks and execs `program`. Returns the child's pid once exec succeeded,
/// or the errno of the failed exec (the child is then already reaped).
pub fn spawn(program: &Program, setup: Setup) -> Result<Pid, Errno> {
    let (report_rd, report_wr) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
    // SAFETY: svc-init is single-threaded; the child runs only
    // async-signal-safe code (`exec_child`) and then exec or _exit.
    match unsafe { nix::unistd::fork() }? {
        nix::unistd::ForkResult::Child => {
            let errno = exec_child(program, setup, report_wr.as_raw_fd());
            let bytes = (errno as i32).to_ne_bytes();
            // SAFETY: write and _exit are async-signal-safe.
            unsafe {
                libc::write(report_wr.as_raw_fd(), bytes.as_ptr().cast(), bytes.len());
                libc::_exit(127);
            }
        }
        nix::unistd::ForkResult::Parent { child } => {
            drop(report_wr);
            if setup.own_group {
                // Also from this side, so the group exists whichever runs first.
                let _ = nix::unistd::setpgid(child, child);
            }
            let mut bytes = [0u8; 4];
            let n = loop {
                match nix::unistd::read(&report_rd, &mut bytes) {
                    Err(Errno::EINTR) => continue,
                    other => break other,
                }
            };
            match n {
                Ok(4) => {
                    let _ = nix::sys::wait::waitpid(child, None);
                    Err(Errno::from_raw(i32::from_ne_bytes(bytes)))
                }
                _ => Ok(child),
            }
        }
    }
}

/// Runs in the forked child: async-signal-safe calls only. Returns the
/// errno if exec fails.
fn exec_child(program: &Program, setup: Setup, report_fd: i32) -> Errno {
    // SAFETY: raw syscalls on values prepared before fork; none allocates.
    unsafe {
        let mut all: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        // Blocked while the terminal changes hands: tcsetpgrp from a
        // background group would otherwise stop us with SIGTTOU.
        libc::sigprocmask(libc::SIG_SETMASK, &all, std::ptr::null_mut());
        if setup.new_session {
            libc::setsid();
            libc::ioctl(0, libc::TIOCSCTTY, 0);
        }
        if setup.own_group {
            libc::setpgid(0, 0);
            if setup.foreground && libc::isatty(0) == 1 {
                libc::tcsetpgrp(0, libc::getpid());
            }
        }
        // The raw system call: glibc's sigaction refuses its reserved
        // signals 32 and 33, which an ignoring parent may still have set.
        // An all-zero kernel sigaction is SIG_DFL, no flags, empty mask, on
        // every architecture's layout.
        let dfl = [0u64; 4];
        for sig in 1..=64 {
            // SIGKILL and SIGSTOP fail: fine.
            libc::syscall(
                libc::SYS_rt_sigaction,
                sig,
                dfl.as_ptr(),
                std::ptr::null_mut::<u64>(),
                8usize,
            );
        }
        close_from_3_except(report_fd);
        let mut none: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut none);
        libc::sigprocmask(libc::SIG_SETMASK, &none, std::ptr::null_mut());
        libc::execv(program.path.as_ptr(), program.argv_ptrs.as_ptr());
        Errno::last()
    }
}

/// Closes every fd from 3 up except `keep` (close-on-exec itself).
fn close_from_3_except(keep: i32) {
    let keep = keep as libc::c_uint;
    // SAFETY: close_range and close are async-signal-safe syscalls.
    unsafe {
        let ok = (keep <= 3 || libc::syscall(libc::SYS_close_range, 3u32, keep - 1, 0u32) == 0)
            && libc::syscall(libc::SYS_close_range, keep + 1, u32::MAX, 0u32) == 0;
        if !ok {
            // kernels before 5.9
            for fd in 3..1024 {
                if fd != keep as i32 {
                    libc::close(fd);
                }
            }
        }
    }
}

/// `name` looked up on `$PATH` (or a default PATH), like execvp; a name
/// with a slash is taken as it is.
pub fn find_on_path(name: &OsStr) -> Option<std::path::PathBuf> {
    if name.as_bytes().contains(&b'/') {
        return Some(name.into());
    }
    let path = std::env::var_os("PATH").unwrap_or_else(|| DEFAULT_PATH.into());
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| is_executable(p))
}

pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

pub fn is_executable(path: &Path) -> bool {
    nix::unistd::access(path, nix::unistd::AccessFlags::X_OK).is_ok() && path.is_file()
}
