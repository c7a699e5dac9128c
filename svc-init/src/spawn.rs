//! Starting children. Everything a child needs is prepared before it is
//! started (`Program` holds the C strings, the argv array and the child's
//! stack), and the child makes only async-signal-safe system calls before
//! exec, so spawning allocates nothing and is safe whatever state the
//! parent is in.
//!
//! The child is started the way posix_spawn does it, with
//! `clone(CLONE_VM | CLONE_VFORK)`: it borrows svc-init's memory until its
//! exec, so no page table is copied and no page is copied on write, and
//! svc-init resumes once the child has exec'd (or failed to, which it says
//! through a shared word: no pipe is needed).
//!
//! Every child starts clean whatever svc-init inherited: default signal
//! dispositions, an empty signal mask, and only fds 0, 1 and 2.

use std::cell::UnsafeCell;
use std::ffi::{CString, OsStr};
use std::mem::MaybeUninit;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::atomic::{AtomicI32, Ordering};

use nix::errno::Errno;
use nix::unistd::Pid;

/// The child's stack until exec: a few system calls deep. Only the pages it
/// touches are ever mapped in.
const CHILD_STACK: usize = 32 * 1024;

#[repr(C, align(16))]
struct ChildStack(UnsafeCell<[MaybeUninit<u8>; CHILD_STACK]>);

pub struct Program {
    path: CString,
    // `argv` owns the strings that `argv_ptrs` points into.
    _argv: Vec<CString>,
    argv_ptrs: Vec<*const libc::c_char>,
    stack: Box<ChildStack>,
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
            // SAFETY: an array of MaybeUninit needs no initialisation.
            stack: unsafe { Box::<ChildStack>::new_uninit().assume_init() },
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

/// What the child needs, passed through clone's argument.
struct Child<'a> {
    program: &'a Program,
    setup: Setup,
    /// The errno of a failed exec; 0 while none.
    exec_error: &'a AtomicI32,
}

/// Starts `program`. Returns the child's pid once exec succeeded, or the
/// errno of the failed exec (the child is then already reaped).
pub fn spawn(program: &Program, setup: Setup) -> Result<Pid, Errno> {
    let exec_error = AtomicI32::new(0);
    let child = Child {
        program,
        setup,
        exec_error: &exec_error,
    };
    let stack_top = program.stack.0.get().cast::<u8>().wrapping_add(CHILD_STACK);
    // Not nix's clone: it is unsafe as well, and takes the child's code
    // as a boxed closure.
    // SAFETY: the child runs `start_child` on its own stack (the Program's,
    // 16-byte aligned, which nothing else uses while it runs: CLONE_VFORK
    // suspends this thread until the child has exec'd or exited, and
    // `&Program` cannot cross threads), and `child` outlives it for the
    // same reason.
    let pid = unsafe {
        libc::clone(
            start_child,
            stack_top.cast(),
            libc::CLONE_VM | libc::CLONE_VFORK | libc::SIGCHLD,
            (&child as *const Child<'_>).cast_mut().cast(),
        )
    };
    if pid < 0 {
        return Err(Errno::last());
    }
    match exec_error.load(Ordering::SeqCst) {
        0 => Ok(Pid::from_raw(pid)),
        errno => {
            // Only to reap it: the child _exit(127)ed, so nix's status
            // (which has no real-time signals) loses nothing.
            while nix::sys::wait::waitpid(Pid::from_raw(pid), None) == Err(Errno::EINTR) {}
            Err(Errno::from_raw(errno))
        }
    }
}

/// The child's life until exec: async-signal-safe calls only, on memory
/// shared with the suspended parent, of which it writes only `exec_error`.
extern "C" fn start_child(arg: *mut libc::c_void) -> libc::c_int {
    // SAFETY: `arg` is the `Child` that `spawn` passed, alive until we exec
    // or exit (the parent is suspended until then).
    let child = unsafe { &*arg.cast::<Child<'_>>() };
    let errno = exec_child(child.program, child.setup);
    let code = match errno as i32 {
        0 => libc::EIO,
        e => e,
    };
    child.exec_error.store(code, Ordering::SeqCst);
    // SAFETY: _exit is async-signal-safe and runs no destructors.
    unsafe { libc::_exit(127) }
}

/// Runs in the child: async-signal-safe calls only. Returns the errno if
/// exec fails.
fn exec_child(program: &Program, setup: Setup) -> Errno {
    // Blocked while the terminal changes hands: tcsetpgrp from a
    // background group would otherwise stop us with SIGTTOU. (svc-init
    // itself blocks them all already; this is for any other caller.)
    let _ = crate::signals::set_mask(libc::SIG_SETMASK, crate::signals::BLOCKED);
    // nix's wrappers here are thin system calls: no allocation, so safe
    // in the vfork child. Failures are ignored as before: the child runs
    // all the same.
    use nix::unistd::{getpid, setpgid, setsid};
    if setup.new_session {
        let _ = setsid();
        // nix has no TIOCSCTTY wrapper (its ioctl macros make unsafe fns).
        // SAFETY: an integer ioctl on fd 0.
        unsafe { libc::ioctl(0, libc::TIOCSCTTY, 0) };
    }
    if setup.own_group {
        let _ = setpgid(Pid::from_raw(0), Pid::from_raw(0));
        // nix's isatty/tcsetpgrp take AsFd: fd 0 as a BorrowedFd is unsafe
        // all the same, and std::io::stdin() would allocate its buffer here.
        // SAFETY: integer calls on fd 0.
        if setup.foreground && unsafe { libc::isatty(0) } == 1 {
            // SAFETY: as above.
            unsafe { libc::tcsetpgrp(0, getpid().as_raw()) };
        }
    }
    // Handlers do not survive exec, ignored signals do: reset those that
    // svc-init inherited as ignored (it ignores none itself).
    let ignored = crate::signals::inherited_ignored();
    for sig in 1..=64 {
        if ignored & (1u64 << (sig - 1)) != 0 {
            crate::signals::set_default(sig);
        }
    }
    close_from_3();
    let _ = crate::signals::set_mask(libc::SIG_SETMASK, 0);
    // Not nix's execv: it builds the pointer array in a Vec, an allocation
    // in a child that shares svc-init's heap.
    // SAFETY: execv with the NUL-terminated strings and null-terminated
    // array prepared in `Program`.
    unsafe { libc::execv(program.path.as_ptr(), program.argv_ptrs.as_ptr()) };
    Errno::last()
}

/// Closes every fd from 3 up.
fn close_from_3() {
    // nix has no close_range; closing numbers nobody here owns.
    // SAFETY: close_range and close are async-signal-safe system calls.
    unsafe {
        if libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32) != 0 {
            // kernels before 5.9
            for fd in 3..1024 {
                libc::close(fd);
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
