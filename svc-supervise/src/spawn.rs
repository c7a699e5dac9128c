//! fork + exec of the service's commands.
//!
//! Everything the child needs (argv, envp, paths, ids, group list, limits)
//! is prepared before the fork, in [`Context`] and [`Command`]; between fork
//! and exec the child makes only async-signal-safe syscalls on that data and
//! reports a failure through a close-on-exec pipe as (step, errno).
//!
//! The fork and the child's steps are hand-written libc: nix's `execve`
//! builds its pointer arrays in Vecs, and malloc is not async-signal-safe;
//! nix's `fork` is `unsafe` as well.

use std::ffi::{CString, c_char};
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::path::Path;

use crate::creds::Creds;
use crate::spec::{Limit, Spec};
use crate::sys;

const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// One command line, ready for execve.
pub struct Command {
    path: CString,
    _argv: Vec<CString>,
    argv_ptrs: Vec<*const c_char>,
}

impl Command {
    /// `argv[0]` without a `/` is looked up in `search_path` (inside `root`
    /// when the service is chrooted) now, not in the child.
    pub fn new(argv: &[String], search_path: &str, root: Option<&Path>) -> Result<Command, String> {
        let Some(program) = argv.first() else {
            return Err("empty command".into());
        };
        let to_c = |s: &str| CString::new(s).map_err(|_| format!("NUL byte in command {s:?}"));
        let path = if program.contains('/') {
            program.clone()
        } else {
            search_path
                .split(':')
                .filter(|dir| !dir.is_empty())
                .map(|dir| format!("{dir}/{program}"))
                .find(|candidate| {
                    let on_host = match root {
                        Some(r) => r.join(candidate.trim_start_matches('/')),
                        None => candidate.into(),
                    };
                    is_executable(&on_host)
                })
                .unwrap_or_else(|| program.clone())
        };
        let argv_c = argv
            .iter()
            .map(|a| to_c(a))
            .collect::<Result<Vec<_>, _>>()?;
        let mut argv_ptrs: Vec<*const c_char> = argv_c.iter().map(|a| a.as_ptr()).collect();
        argv_ptrs.push(std::ptr::null());
        Ok(Command {
            path: to_c(&path)?,
            _argv: argv_c,
            argv_ptrs,
        })
    }
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// What every command of a service shares: identity, environment, limits.
pub struct Context {
    _env: Vec<CString>,
    envp: Vec<*const c_char>,
    /// `envp` plus `MAINPID=N`, for `exec-stop`.
    envp_with_main_pid: Vec<*const c_char>,
    /// `MAINPID=` and up to 10 digits, NUL-terminated; rewritten in place
    /// (its address is in `envp_with_main_pid`).
    main_pid_var: Box<std::cell::Cell<[u8; 24]>>,
    creds: Option<Creds>,
    umask: libc::mode_t,
    root: Option<CString>,
    workdir: Option<CString>,
    limits: Vec<Limit>,
    nice: Option<i32>,
    no_new_privileges: bool,
    devnull: OwnedFd,
    /// The service leaf's `cgroup.procs`, which the child writes "0" to
    /// before anything else when it was not forked into the leaf: every
    /// command of the service runs there.
    cgroup_procs: Option<OwnedFd>,
    /// The service leaf's directory, to fork into (`CLONE_INTO_CGROUP`)
    /// while `fork_into_cgroup` holds.
    cgroup_dir: Option<OwnedFd>,
    /// Whether children may be forked straight into the leaf: as the
    /// manager said (`cgroup_fork`), until the kernel refuses it, or, for
    /// `until-killed`, until this supervisor first kills the leaf.
    fork_into_cgroup: std::cell::Cell<bool>,
    /// The PATH commands are looked up in.
    pub search_path: String,
}

impl Context {
    /// The leaf was just killed (`cgroup.kill`): on a kernel that is only
    /// trusted until then, children are moved from now on.
    pub fn leaf_killed(&self, mode: Option<libsvc::proto::CgroupFork>) {
        if mode == Some(libsvc::proto::CgroupFork::UntilKilled) {
            self.fork_into_cgroup.set(false);
        }
    }

    /// Builds the environment (supervisor's or empty, then environment
    /// files, then `[environment]`, then what svc adds) and opens /dev/null.
    pub fn new(
        spec: &Spec,
        creds: Option<Creds>,
        notify_socket: Option<&str>,
    ) -> Result<Context, String> {
        let mut vars: Vec<(String, String)> = Vec::new();
        let set = |vars: &mut Vec<(String, String)>, k: &str, v: &str| {
            if let Some(slot) = vars.iter_mut().find(|(key, _)| key == k) {
                slot.1 = v.to_owned();
            } else {
                vars.push((k.to_owned(), v.to_owned()));
            }
        };
        if !spec.clear_environment {
            for (k, v) in std::env::vars_os() {
                if let (Some(k), Some(v)) = (k.to_str(), v.to_str()) {
                    set(&mut vars, k, v);
                }
            }
        }
        if let Some(c) = &creds {
            if let Some(name) = &c.user_name {
                set(&mut vars, "USER", name);
                set(&mut vars, "LOGNAME", name);
            }
            if let Some(home) = &c.home {
                set(&mut vars, "HOME", home);
            }
            if let Some(shell) = &c.shell {
                set(&mut vars, "SHELL", shell);
            }
        }
        for file in &spec.environment_file {
            let (optional, path) = match file.strip_prefix('-') {
                Some(p) => (true, p),
                None => (false, file.as_str()),
            };
            match std::fs::read_to_string(path) {
                Ok(text) => {
                    for (k, v) in parse_environment_file(path, &text)? {
                        set(&mut vars, &k, &v);
                    }
                }
                Err(e) if optional && e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(format!("environment file {path}: {e}")),
            }
        }
        for (k, v) in &spec.environment {
            set(&mut vars, k, v);
        }
        if !vars.iter().any(|(k, _)| k == "PATH") {
            set(&mut vars, "PATH", DEFAULT_PATH);
        }
        if let Some(sock) = notify_socket {
            set(&mut vars, "NOTIFY_SOCKET", sock);
        }
        let search_path = vars
            .iter()
            .find(|(k, _)| k == "PATH")
            .map_or(DEFAULT_PATH.to_owned(), |(_, v)| v.clone());
        let env = vars
            .iter()
            .map(|(k, v)| {
                CString::new(format!("{k}={v}"))
                    .map_err(|_| format!("NUL byte in environment variable {k}"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut envp: Vec<*const c_char> = env.iter().map(|e| e.as_ptr()).collect();
        let main_pid_var = Box::new(std::cell::Cell::new([0u8; 24]));
        let mut envp_with_main_pid = envp.clone();
        envp_with_main_pid.push(main_pid_var.as_ptr().cast());
        envp_with_main_pid.push(std::ptr::null());
        envp.push(std::ptr::null());
        let path_c = |p: &Path| {
            CString::new(p.as_os_str().as_encoded_bytes())
                .map_err(|_| format!("NUL byte in path {}", p.display()))
        };
        let devnull =
            OwnedFd::from(std::fs::File::open("/dev/null").map_err(|e| format!("/dev/null: {e}"))?);
        let leaf = spec
            .cgroup
            .as_deref()
            .map(libsvc::cgroup::Leaf::new)
            .transpose()
            .map_err(|e| format!("cgroup: {e}"))?;
        let (cgroup_procs, cgroup_dir) = match &leaf {
            Some(leaf) => (
                Some(leaf.open_procs().map_err(|e| format!("cgroup: {e}"))?),
                match spec.cgroup_fork {
                    Some(_) => Some(leaf.open_dir().map_err(|e| format!("cgroup: {e}"))?),
                    None => None,
                },
            ),
            None => (None, None),
        };
        Ok(Context {
            _env: env,
            envp,
            envp_with_main_pid,
            main_pid_var,
            creds,
            umask: spec.umask as libc::mode_t,
            root: spec.root_directory.as_deref().map(path_c).transpose()?,
            workdir: spec.working_directory.as_deref().map(path_c).transpose()?,
            limits: spec.limits.clone(),
            nice: spec.nice,
            no_new_privileges: spec.no_new_privileges,
            devnull,
            cgroup_procs,
            fork_into_cgroup: std::cell::Cell::new(cgroup_dir.is_some()),
            cgroup_dir,
            search_path,
        })
    }

    pub fn creds(&self) -> Option<&Creds> {
        self.creds.as_ref()
    }

    fn set_main_pid(&self, pid: i32) {
        let mut var = [0u8; 24];
        let mut w = crate::fmt::Writer::new(&mut var[..23]);
        w.str("MAINPID=").uint(pid.max(0) as u64);
        self.main_pid_var.set(var);
    }
}

/// `KEY=VALUE` lines; blank lines and `#` comments skipped; values literal.
pub fn parse_environment_file(path: &str, text: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim_start();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        let Some((k, v)) = line.split_once('=') else {
            return Err(format!("{path}:{}: expected KEY=VALUE", i + 1));
        };
        let k = k.trim();
        if k.is_empty() || k.contains(char::is_whitespace) || k.contains('\0') || v.contains('\0') {
            return Err(format!("{path}:{}: invalid variable name {k:?}", i + 1));
        }
        out.push((k.to_owned(), v.trim_end_matches('\r').to_owned()));
    }
    Ok(out)
}

/// Where the child's fds 1 and 2 come from, plus one extra fd to pass at a
/// chosen number (the readiness fd).
#[derive(Clone, Copy, Debug)]
pub struct Stdio {
    pub stdout: RawFd,
    pub stderr: RawFd,
    pub extra: Option<(RawFd, RawFd)>,
}

/// A failed start step in the child, or of the fork itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SpawnError {
    pub step: &'static str,
    pub errno: i32,
}

impl std::fmt::Display for SpawnError {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(
            f,
            "{}: {}",
            self.step,
            std::io::Error::from_raw_os_error(self.errno)
        )
    }
}

const STEPS: [&str; 15] = [
    "fork",
    "cgroup",
    "setsid",
    "dup2",
    "setrlimit",
    "setpriority",
    "umask",
    "chroot",
    "chdir",
    "setgroups",
    "setgid",
    "setuid",
    "setuid(0) succeeded after dropping privileges",
    "no-new-privileges",
    "execve",
];

fn step_index(name: &str) -> u32 {
    STEPS.iter().position(|s| *s == name).unwrap_or(0) as u32
}

/// Forks and execs `cmd` in a new session. Returns the child's pid once it
/// has exec'd, or the step that failed.
pub fn spawn(ctx: &Context, cmd: &Command, stdio: &Stdio) -> Result<i32, SpawnError> {
    spawn_with(ctx, cmd, stdio, false)
}

/// Like [`spawn`], with `MAINPID=main_pid` added to the environment (for
/// `exec-stop`).
pub fn spawn_with_main_pid(
    ctx: &Context,
    cmd: &Command,
    stdio: &Stdio,
    main_pid: i32,
) -> Result<i32, SpawnError> {
    ctx.set_main_pid(main_pid);
    spawn_with(ctx, cmd, stdio, true)
}

fn spawn_with(
    ctx: &Context,
    cmd: &Command,
    stdio: &Stdio,
    with_main_pid: bool,
) -> Result<i32, SpawnError> {
    let fork_error = |errno| SpawnError {
        step: "fork",
        errno,
    };
    let (report_r, report_w) =
        sys::pipe(0).map_err(|e| fork_error(e.raw_os_error().unwrap_or(libc::EIO)))?;
    let mut plan = ChildPlan {
        ctx,
        cmd,
        stdio,
        devnull: ctx.devnull.as_raw_fd(),
        cgroup_procs: ctx.cgroup_procs.as_ref().map_or(-1, |f| f.as_raw_fd()),
        report: report_w.as_raw_fd(),
        steps: StepCodes::new(),
        last_signal: libc::SIGRTMAX(),
        envp: if with_main_pid {
            ctx.envp_with_main_pid.as_ptr()
        } else {
            ctx.envp.as_ptr()
        },
    };
    // Born in the service's leaf where that is safe (no migration: see
    // libsvc::cgroup::fork_into); else forked here, and the child moves
    // itself.
    let mut pid = -1;
    if let Some(dir) = &ctx.cgroup_dir
        && ctx.fork_into_cgroup.get()
    {
        // SAFETY: this process is single-threaded; the child only runs
        // `child_after_fork`, which makes async-signal-safe syscalls and
        // ends in execve or _exit.
        match unsafe { libsvc::cgroup::fork_into(dir.as_fd()) } {
            Ok(0) => {
                plan.cgroup_procs = -1;
                child_after_fork(&plan);
            }
            Ok(child) => pid = child,
            Err(errno) if libsvc::cgroup::fork_into_unsupported(errno) => {
                ctx.fork_into_cgroup.set(false);
            }
            // Anything else meets the move by cgroup.procs below too, and
            // is reported there as the step "cgroup".
            Err(_) => {}
        }
    }
    if pid < 0 {
        // SAFETY: as above.
        pid = unsafe { libc::fork() };
        if pid < 0 {
            return Err(fork_error(
                sys::last_error().raw_os_error().unwrap_or(libc::EIO),
            ));
        }
        if pid == 0 {
            child_after_fork(&plan);
        }
    }
    drop(report_w);
    let mut report = [0u8; 8];
    let mut got = 0;
    while got < report.len() {
        match sys::read(report_r.as_raw_fd(), &mut report[got..]) {
            Ok(0) | Err(_) => break,
            Ok(n) => got += n,
        }
    }
    if got == report.len() {
        let step = u32::from_ne_bytes(report[..4].try_into().unwrap_or([0; 4]));
        let errno = i32::from_ne_bytes(report[4..].try_into().unwrap_or([0; 4]));
        // The child has _exit'ed; the main loop reaps it like any other.
        return Err(SpawnError {
            step: STEPS.get(step as usize).copied().unwrap_or("exec"),
            errno,
        });
    }
    Ok(pid)
}

struct StepCodes {
    cgroup: u32,
    setsid: u32,
    dup2: u32,
    setrlimit: u32,
    setpriority: u32,
    chroot: u32,
    chdir: u32,
    setgroups: u32,
    setgid: u32,
    setuid: u32,
    regain: u32,
    nnp: u32,
    execve: u32,
}

impl StepCodes {
    fn new() -> Self {
        StepCodes {
            cgroup: step_index("cgroup"),
            setsid: step_index("setsid"),
            dup2: step_index("dup2"),
            setrlimit: step_index("setrlimit"),
            setpriority: step_index("setpriority"),
            chroot: step_index("chroot"),
            chdir: step_index("chdir"),
            setgroups: step_index("setgroups"),
            setgid: step_index("setgid"),
            setuid: step_index("setuid"),
            regain: step_index("setuid(0) succeeded after dropping privileges"),
            nnp: step_index("no-new-privileges"),
            execve: step_index("execve"),
        }
    }
}

struct ChildPlan<'a> {
    ctx: &'a Context,
    cmd: &'a Command,
    stdio: &'a Stdio,
    devnull: RawFd,
    /// The leaf's `cgroup.procs`, or -1.
    cgroup_procs: RawFd,
    report: RawFd,
    steps: StepCodes,
    /// SIGRTMAX, read before the fork.
    last_signal: i32,
    envp: *const *const c_char,
}

/// The kernel's `struct sigaction` (x86_64, aarch64 and most others: with
/// `sa_restorer`, a 64-bit mask).
#[repr(C)]
struct KernelSigaction {
    handler: libc::sighandler_t,
    flags: libc::c_ulong,
    restorer: usize,
    mask: u64,
}

/// Reports the failed step to the parent and exits. Async-signal-safe.
fn child_fail(report: RawFd, step: u32, errno: i32) -> ! {
    let mut msg = [0u8; 8];
    msg[..4].copy_from_slice(&step.to_ne_bytes());
    msg[4..].copy_from_slice(&errno.to_ne_bytes());
    // SAFETY: write and _exit are async-signal-safe; msg is valid.
    unsafe {
        libc::write(report, msg.as_ptr().cast(), msg.len());
        libc::_exit(127)
    }
}

fn errno() -> i32 {
    // SAFETY: __errno_location returns this thread's errno slot.
    unsafe { *libc::__errno_location() }
}

/// `dup2(from, to)`, and when `from == to` clears close-on-exec instead
/// (dup2 would do nothing).
fn child_move_fd(from: RawFd, to: RawFd) -> bool {
    // SAFETY: fcntl/dup2 are async-signal-safe and take no pointers.
    unsafe {
        if from == to {
            libc::fcntl(to, libc::F_SETFD, 0) >= 0
        } else {
            libc::dup2(from, to) >= 0
        }
    }
}

/// The whole life of the child between fork and exec. Only async-signal-safe
/// syscalls on data prepared by the parent; never returns.
fn child_after_fork(p: &ChildPlan) -> ! {
    let s = &p.steps;
    let fail = |step: u32| child_fail(p.report, step, errno());
    // SAFETY (whole block): every call below is an async-signal-safe
    // syscall wrapper; all pointers come from the prepared Context and
    // Command, which stay valid in the child's copy of memory.
    unsafe {
        // Into the service's cgroup first: whatever it forks from here on
        // stays there ("0" is the writer itself).
        if p.cgroup_procs >= 0 && libc::write(p.cgroup_procs, b"0".as_ptr().cast(), 1) != 1 {
            fail(s.cgroup);
        }
        // Default dispositions for everything the supervisor (or whoever
        // started it) ignores or handles, then an empty mask. The raw
        // syscall, because glibc refuses to touch its internal signals
        // 32 and 33, which an ancestor may have left ignored.
        let dfl = KernelSigaction {
            handler: libc::SIG_DFL,
            flags: 0,
            restorer: 0,
            mask: 0,
        };
        for sig in 1..=p.last_signal {
            if sig != libc::SIGKILL && sig != libc::SIGSTOP {
                libc::syscall(
                    libc::SYS_rt_sigaction,
                    sig,
                    &dfl as *const KernelSigaction,
                    std::ptr::null_mut::<KernelSigaction>(),
                    std::mem::size_of::<u64>(),
                );
            }
        }
        let mut empty: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut empty);
        libc::sigprocmask(libc::SIG_SETMASK, &empty, std::ptr::null_mut());

        if libc::setsid() < 0 {
            fail(s.setsid);
        }

        // fds: 0 from /dev/null, 1 and 2 as given, the extra one at its number.
        // The extra's source is moved out of 0..2 first if needed; the
        // parent keeps 0..2 open, so sources are normally >= 3.
        let mut extra = p.stdio.extra;
        if let Some((from, to)) = extra
            && from <= 2
        {
            let moved = libc::fcntl(from, libc::F_DUPFD_CLOEXEC, 3);
            if moved < 0 {
                fail(s.dup2);
            }
            extra = Some((moved, to));
        }
        let (mut out, mut err) = (p.stdio.stdout, p.stdio.stderr);
        if out == 0 || out == 2 {
            out = libc::fcntl(out, libc::F_DUPFD_CLOEXEC, 3);
        }
        if err == 0 || err == 1 {
            err = libc::fcntl(err, libc::F_DUPFD_CLOEXEC, 3);
        }
        if out < 0 || err < 0 {
            fail(s.dup2);
        }
        if !child_move_fd(p.devnull, 0) || !child_move_fd(out, 1) || !child_move_fd(err, 2) {
            fail(s.dup2);
        }
        if let Some((from, to)) = extra
            && !child_move_fd(from, to)
        {
            fail(s.dup2);
        }
        // Anything else that is open must not reach the service.
        let keep = extra.map_or(-1, |(_, to)| to);
        if keep > 3 {
            libc::syscall(
                libc::SYS_close_range,
                3u32,
                (keep - 1) as u32,
                libc::CLOSE_RANGE_CLOEXEC,
            );
        }
        libc::syscall(
            libc::SYS_close_range,
            (keep.max(2) + 1) as u32,
            u32::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        );

        for limit in &p.ctx.limits {
            let rl = libc::rlimit {
                rlim_cur: limit.soft as libc::rlim_t,
                rlim_max: limit.hard as libc::rlim_t,
            };
            if libc::setrlimit(limit.resource as _, &rl) < 0 {
                fail(s.setrlimit);
            }
        }
        if let Some(nice) = p.ctx.nice
            && libc::setpriority(libc::PRIO_PROCESS, 0, nice) < 0
        {
            fail(s.setpriority);
        }
        libc::umask(p.ctx.umask);
        if let Some(root) = &p.ctx.root {
            if libc::chroot(root.as_ptr()) < 0 {
                fail(s.chroot);
            }
            if libc::chdir(c"/".as_ptr()) < 0 {
                fail(s.chdir);
            }
        }
        if let Some(c) = &p.ctx.creds {
            if libc::setgroups(c.groups.len(), c.groups.as_ptr()) < 0 {
                fail(s.setgroups);
            }
            if libc::setresgid(c.gid, c.gid, c.gid) < 0 {
                fail(s.setgid);
            }
            if libc::setresuid(c.uid, c.uid, c.uid) < 0 {
                fail(s.setuid);
            }
            // The drop must have taken: an unprivileged uid cannot go back.
            if c.uid != 0 && libc::setuid(0) == 0 {
                child_fail(p.report, s.regain, libc::EPERM);
            }
        }
        // After the switch, so the service's own permissions apply.
        if let Some(dir) = &p.ctx.workdir
            && libc::chdir(dir.as_ptr()) < 0
        {
            fail(s.chdir);
        }
        if p.ctx.no_new_privileges && libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 {
            fail(s.nnp);
        }
        libc::execve(p.cmd.path.as_ptr(), p.cmd.argv_ptrs.as_ptr(), p.envp);
        fail(s.execve)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_files() {
        let vars = parse_environment_file("f", "# c\n\nA=1\nB = two words \nC=\n").unwrap();
        assert_eq!(
            vars,
            [
                ("A".into(), "1".into()),
                ("B".into(), " two words ".into()),
                ("C".into(), "".into())
            ]
        );
        let e = parse_environment_file("f", "A=1\nnonsense\n").unwrap_err();
        assert_eq!(e, "f:2: expected KEY=VALUE");
    }

    #[test]
    fn commands_are_looked_up_before_the_fork() {
        let c = Command::new(&["sh".into(), "-c".into()], DEFAULT_PATH, None).unwrap();
        assert!(c.path.to_bytes().ends_with(b"/sh"));
        assert_eq!(c.argv_ptrs.len(), 3);
        assert!(c.argv_ptrs[2].is_null());
        let missing = Command::new(&["no-such-program-xyz".into()], DEFAULT_PATH, None).unwrap();
        assert_eq!(missing.path.to_bytes(), b"no-such-program-xyz");
        assert!(Command::new(&[], DEFAULT_PATH, None).is_err());
    }
}
