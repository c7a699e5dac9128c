//! Forking straight into a cgroup: `clone3(2)` with `CLONE_INTO_CGROUP`
//! (Linux 5.7). A child that writes "0" to `cgroup.procs` instead is a
//! migration, which takes the kernel's cgroup-wide threadgroup lock for
//! writing and waits for an RCU grace period: about 0.4 ms each on a
//! cgroup2 host without `favordynmods`, and serialised across the whole
//! machine. A child born in its cgroup is never migrated.

use std::os::fd::{AsRawFd, BorrowedFd};

/// `CLONE_INTO_CGROUP` from linux/sched.h.
const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

/// `struct clone_args` of linux/sched.h, up to `cgroup` (its size,
/// `CLONE_ARGS_SIZE_VER2`, tells the kernel the field is there).
#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

/// Whether an error of [`fork_into`] means this kernel cannot do it at all
/// (no `clone3` before 5.3, no `CLONE_INTO_CGROUP` before 5.7, or a
/// seccomp filter that refuses `clone3`, as container runtimes' do):
/// fork and move the child by `cgroup.procs` instead, from now on.
pub fn unsupported(errno: i32) -> bool {
    matches!(
        errno,
        libc::ENOSYS | libc::E2BIG | libc::EINVAL | libc::EPERM
    )
}

/// Forks, the child starting in the cgroup whose directory `dir` is open
/// on. `Ok(0)` in the child, `Ok(pid)` in the parent, `Err(errno)` when
/// nothing was forked.
///
/// # Safety
///
/// As `fork(2)`: the child is a copy of this process with one thread and
/// may only make async-signal-safe calls until it execs or `_exit`s; it
/// must not return into code that expects the C library's per-thread
/// state to be its own (its cached thread id is the parent's).
pub unsafe fn fork_into(dir: BorrowedFd<'_>) -> Result<i32, i32> {
    let args = CloneArgs {
        flags: CLONE_INTO_CGROUP,
        exit_signal: libc::SIGCHLD as u64,
        cgroup: dir.as_raw_fd() as u64,
        ..CloneArgs::default()
    };
    // SAFETY: clone3 with no stack of its own and no CLONE_VM is fork(2):
    // the child runs on a copy of this stack and returns from here; the
    // caller keeps to the contract above. `args` outlives the call.
    let r = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &args as *const CloneArgs,
            std::mem::size_of::<CloneArgs>(),
        )
    };
    if r < 0 {
        Err(std::io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or(libc::EIO))
    } else {
        Ok(r as i32)
    }
}

/// Like `vfork(2)`, into a cgroup: the child shares this process's memory
/// and runs `child(arg)` on `stack` while the calling thread waits, until
/// the child execs or exits; then `Ok(pid)`. No page table is copied, so
/// it costs what std's `posix_spawn` does, where [`fork_into`] copies the
/// caller's whole address space. `Err(errno)`: nothing was started.
///
/// # Safety
///
/// `child` runs in this process's memory on `stack`, with the caller
/// suspended: it may only make async-signal-safe calls on data the caller
/// prepared, must not unwind or return, and must end in `execve` or
/// `_exit`. `arg` must stay valid until this returns.
#[cfg(target_arch = "x86_64")]
pub unsafe fn vfork_into(
    dir: BorrowedFd<'_>,
    stack: &mut [u8],
    child: extern "C" fn(*mut libc::c_void) -> !,
    arg: *mut libc::c_void,
) -> Result<i32, i32> {
    // The kernel starts the child at stack + stack_size; a call needs it
    // 16-byte aligned.
    let base = stack.as_mut_ptr() as u64;
    let top = (base + stack.len() as u64) & !15;
    let args = CloneArgs {
        flags: CLONE_INTO_CGROUP | libc::CLONE_VM as u64 | libc::CLONE_VFORK as u64,
        exit_signal: libc::SIGCHLD as u64,
        stack: base,
        stack_size: top - base,
        cgroup: dir.as_raw_fd() as u64,
        ..CloneArgs::default()
    };
    let ret: i64;
    // SAFETY: clone3 returns twice. The parent (rax > 0 or an error) goes
    // on at 2: with every register but rax, rcx and r11 as it was. The
    // child (rax = 0) is on the new stack and never returns here: it calls
    // `child(arg)`, which execs or exits (ud2 should it return).
    unsafe {
        std::arch::asm!(
            "syscall",
            "test rax, rax",
            "jnz 2f",
            "mov rdi, r12",
            "call r13",
            "ud2",
            "2:",
            inlateout("rax") libc::SYS_clone3 => ret,
            in("rdi") &args as *const CloneArgs,
            in("rsi") std::mem::size_of::<CloneArgs>(),
            in("r12") arg,
            in("r13") child,
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack),
        );
    }
    if ret < 0 {
        Err(-ret as i32)
    } else {
        Ok(ret as i32)
    }
}

/// Elsewhere the caller starts the child the ordinary way and moves it.
#[cfg(not(target_arch = "x86_64"))]
pub unsafe fn vfork_into(
    _dir: BorrowedFd<'_>,
    _stack: &mut [u8],
    _child: extern "C" fn(*mut libc::c_void) -> !,
    _arg: *mut libc::c_void,
) -> Result<i32, i32> {
    Err(libc::ENOSYS)
}

/// Whether children forked into a cgroup live, tried on a cgroup made for
/// it at `probe` (removed again): one that `cgroup.kill` was written to,
/// as every service's leaf is sooner or later. Some kernels (6.18 here)
/// compare the kill count of the parent's cgroup with that of the child's
/// and SIGKILL a child born into a cgroup killed more often than its
/// parent's; on those, children are moved by `cgroup.procs` instead.
pub fn fork_into_is_sound(probe: &std::path::Path) -> bool {
    use std::os::fd::AsFd;
    if std::fs::create_dir(probe).is_err() {
        return false;
    }
    let sound = (|| {
        let dir = std::fs::File::open(probe).ok()?;
        // Absent before 5.14: then there is no kill count to get wrong.
        let _ = std::fs::write(probe.join("cgroup.kill"), "1");
        // SAFETY: the child _exits at once.
        let pid = match unsafe { fork_into(dir.as_fd()) } {
            Ok(0) => unsafe { libc::_exit(0) },
            Ok(pid) => pid,
            Err(_) => return Some(false),
        };
        let mut status = 0;
        // SAFETY: waitpid(2) on our own child, into a local int.
        while unsafe { libc::waitpid(pid, &mut status, 0) } < 0
            && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted
        {}
        Some(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0)
    })()
    .unwrap_or(false);
    let _ = std::fs::remove_dir(probe);
    sound
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clone_args_is_the_kernels_version_2() {
        assert_eq!(std::mem::size_of::<CloneArgs>(), 88);
    }

    #[test]
    fn a_directory_that_is_not_a_cgroup_is_refused_and_nothing_forks() {
        // "/" is no cgroup: the kernel refuses it (EBADF), or clone3
        // itself on old kernels; never a child.
        let dir = std::fs::File::open("/").unwrap();
        use std::os::fd::AsFd;
        // SAFETY: a child, should one exist, _exits at once.
        match unsafe { fork_into(dir.as_fd()) } {
            Ok(0) => unsafe { libc::_exit(0) },
            Ok(pid) => panic!("a child {pid} was forked into a directory that is not a cgroup"),
            Err(e) => assert_ne!(e, 0),
        }
    }
}
