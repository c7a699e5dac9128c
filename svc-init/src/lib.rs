//! svc-init: PID 1 of svc, and a container entrypoint. See docs/init.md.
//!
//! Start-up (this file) reads top to bottom as the whole contract: block the
//! signals, find out where we are, mount what is missing, create the
//! initctl FIFO, start CMD and/or the manager, then enter the main loop
//! (`init.rs`), which ends only in the shutdown sequence (`init/shutdown.rs`).

pub mod args;
pub mod cmdline;
pub mod detect;
pub mod entrypoint;
pub mod init;
pub mod initctl;
pub mod log;
pub mod manager;
pub mod mounts;
pub mod net;
pub mod seedrng;
pub mod signals;
pub mod spawn;
pub mod telinit;

use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};

use args::{Options, Parsed};
use detect::Place;
use entrypoint::Cmd;
use init::{Init, Programs};
use manager::Manager;
use spawn::Program;

pub const DEFAULT_INITCTL: &str = "/run/initctl";
pub const DEV_INITCTL: &str = "/dev/initctl";
pub const CONTAINER_FILE: &str = "/run/systemd/container";

/// A wait status in words, for log lines.
pub struct StatusText(pub i32);

impl fmt::Display for StatusText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.0;
        if libc::WIFEXITED(s) {
            write!(f, "exit status {}", libc::WEXITSTATUS(s))
        } else if libc::WIFSIGNALED(s) {
            write!(f, "killed by signal {}", libc::WTERMSIG(s))
        } else {
            write!(f, "wait status {s:#x}")
        }
    }
}

/// svc-init's whole life; `program` is argv[0], `args` the rest.
pub fn run(program: Option<OsString>, args: Vec<OsString>) -> ! {
    // First of all, so that no signal is lost or kills us during start-up.
    if let Err(e) = signals::block() {
        log!("cannot block signals: {e}");
        std::process::exit(1);
    }

    signals::note_inherited_ignored();

    let pid1 = nix::unistd::getpid().as_raw() == 1;
    let mut opts = command_line(args::parse(args), pid1);
    args::apply_env(&mut opts, |name| std::env::var_os(name));
    log::set_quiet(!opts.command.is_empty());

    // `init 0` from sysvinit's shutdown, or `telinit q`: a request for PID 1
    // (which itself never exits here: that would panic the kernel).
    let as_telinit = telinit::invoked_as_telinit(program.as_deref());
    if !pid1 && opts.command.is_empty() && (as_telinit || !opts.boot_words.is_empty()) {
        telinit(&opts, as_telinit);
    }

    // `-- CMD` without declarations is a plain container init (tini's job):
    // reap and forward. It mounts nothing, makes no initctl FIFO and looks
    // at nothing to find out where it runs, which keeps its start-up cost
    // at the floor and an unprivileged container's log free of EPERM noise.
    let plain_entrypoint =
        !opts.command.is_empty() && !entrypoint::has_declarations(&opts.services);
    let probed = !plain_entrypoint || !opts.boot_words.is_empty();
    let place = if probed {
        probe(pid1)
    } else {
        detect::unprobed(pid1)
    };
    if !place.host_pid1() && !opts.boot_words.is_empty() {
        usage_error(&format!(
            "unexpected argument `{}` (a command goes after `--`)",
            opts.boot_words[0].to_string_lossy()
        ));
    }
    let boot = if place.host_pid1() {
        let line = std::fs::read_to_string("/proc/cmdline").unwrap_or_default();
        let mut words = cmdline::split_words(&line);
        words.extend(
            opts.boot_words
                .iter()
                .map(|w| w.to_string_lossy().into_owned()),
        );
        cmdline::parse_boot_words(words.iter().map(String::as_str))
    } else {
        cmdline::BootChoice::default()
    };

    let mut mounted = Vec::new();
    if pid1 && !plain_entrypoint {
        mounted = mounts::mount_missing(false, place.in_container());
        if !mounted.is_empty() {
            note!("mounted {}", mounted.join(" "));
        }
    } else if !pid1 {
        // Orphans of our descendants come to us, not to the real init.
        // SAFETY: prctl with integer arguments.
        unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    }
    // Before any fd of ours is opened, so that none becomes fd 0, 1 or 2.
    ensure_stdio();
    // A container's engine configures its network; a host has only us.
    if place.host_pid1() {
        match net::loopback_up() {
            Ok(net::Loopback::BroughtUp) => note!("brought up lo"),
            Ok(net::Loopback::AlreadyUp) => {}
            Err(e) => log!("cannot bring up lo: {e}"),
        }
    }
    let signals = match signals::SignalFd::open() {
        Ok(s) => s,
        Err(e) => {
            log!("cannot open a signalfd: {e}");
            std::process::exit(1);
        }
    };
    if std::env::var_os("PATH").is_none() {
        // SAFETY: single-threaded start-up; nothing reads the environment concurrently.
        unsafe { std::env::set_var("PATH", spawn::DEFAULT_PATH) };
    }
    if pid1 && let Some(kind) = &place.container_env {
        write_container_file(kind, opts.runtime_dir.as_deref());
    }
    // Ctrl-Alt-Del then reaches us as SIGINT instead of rebooting at once.
    // Unprobed, PID 1 tries it blind: in a container it fails (EINVAL in a
    // child PID namespace, EPERM without CAP_SYS_BOOT) and changes nothing.
    let cad_off = if probed {
        place.host_pid1() && place.cap_sys_boot
    } else {
        pid1
    };
    if cad_off {
        let _ = nix::sys::reboot::set_cad_enabled(false);
    }

    let initctl = if (pid1 && !plain_entrypoint) || opts.initctl.is_some() {
        // /dev/initctl is the old name, made only where /dev is ours: on a
        // host, or a /dev we mounted — never a /dev shared with the host.
        let dev_is_ours = place.host_pid1() || mounted.contains(&"/dev");
        setup_initctl(&opts, dev_is_ours)
    } else {
        None
    };

    // Only to find svc-manager and svcctl beside us, which a plain
    // entrypoint never looks for.
    let own_exe = if plain_entrypoint {
        None
    } else {
        std::fs::read_link("/proc/self/exe").ok()
    };
    let cmd = if opts.command.is_empty() {
        None
    } else {
        match Cmd::start(&opts.command, opts.forward_to, &opts.remap_exit) {
            Ok(cmd) => Some(cmd),
            Err(code) => std::process::exit(i32::from(code)),
        }
    };
    let want_manager = !plain_entrypoint;
    let manager = want_manager.then(|| {
        let explicit = opts
            .manager
            .clone()
            .or(boot.manager.as_ref().map(PathBuf::from));
        let found = manager::locate(explicit.as_deref(), own_exe.as_deref());
        if found.is_none() {
            log!("no svc-manager found (next to svc-init or on PATH)");
        }
        let path = found
            .clone()
            .unwrap_or_else(|| PathBuf::from("svc-manager"));
        let argv = manager::arguments(&opts, boot.target.as_deref(), boot.quiet);
        let program = Program::new(&path, &argv).unwrap_or_else(|e| usage_error(&e));
        let mut m = Manager::new(program, found.is_some());
        if boot.emergency {
            m.health = manager::Health::GaveUp(manager::Why::Asked);
        }
        m
    });

    // Only initctl runlevel records need it, and a plain entrypoint has none.
    let svcctl = if plain_entrypoint {
        None
    } else {
        manager::locate_program("svcctl", None, own_exe.as_deref())
    };
    let target_program = |t: &str| {
        let path = svcctl.as_ref()?;
        let mut argv: Vec<OsString> = Vec::new();
        if let Some(s) = &opts.socket {
            argv.extend([OsString::from("--socket"), s.clone()]);
        }
        argv.extend([OsString::from("target"), OsString::from(t)]);
        Program::new(path, &argv).ok()
    };
    // SVC_EMERGENCY_SHELL (also from the kernel command line, which hands
    // init its unknown `NAME=value` words as environment): sulogin, say.
    let shell = std::env::var_os("SVC_EMERGENCY_SHELL")
        .filter(|s| !s.is_empty())
        .map_or_else(|| PathBuf::from("/bin/sh"), PathBuf::from);
    let runtime_dir = opts
        .runtime_dir
        .clone()
        .unwrap_or_else(|| PathBuf::from("/run/svc"));
    let log_dir = opts
        .log_dir
        .as_ref()
        .map_or_else(|| PathBuf::from("/var/log/svc"), PathBuf::from);
    let programs = Programs {
        emergency_shell: (cmd.is_none() && spawn::is_executable(&shell))
            .then(|| Program::new(&shell, &[] as &[&str]).ok())
            .flatten(),
        boot_logs: [runtime_dir.join("log/boot.log"), log_dir.join("boot.log")],
        to_rescue: target_program("rescue"),
        to_default: target_program("default"),
    };
    Init::new(place, signals, initctl, manager, cmd, programs).run()
}

/// Passes a runlevel on to PID 1 and exits: 0 when it was passed on, 2 for
/// a bad runlevel, 1 when PID 1 could not be reached.
fn telinit(opts: &Options, as_telinit: bool) -> ! {
    let name = if as_telinit { "telinit" } else { "svc-init" };
    let level = match telinit::runlevel(&opts.boot_words) {
        Ok(level) => level,
        Err(e) => {
            log::write_raw(format_args!("{name}: {e}\n"));
            std::process::exit(2);
        }
    };
    match telinit::send(level, opts.initctl.as_deref()) {
        Ok(()) => std::process::exit(0),
        Err(e) => {
            log::write_raw(format_args!("{name}: {}\n", e.0));
            std::process::exit(1);
        }
    }
}

/// Where svc-init runs, looked at. PID 1 first mounts /proc if it is
/// missing: the probes read it.
fn probe(pid1: bool) -> Place {
    if pid1 {
        mounts::mount_missing(true, false);
    }
    detect::probe(pid1)
}

fn command_line(parsed: Result<Parsed, args::UsageError>, pid1: bool) -> Options {
    match parsed {
        Ok(Parsed::Run(opts)) => *opts,
        // Written with errors checked, never `print!`: a closed or full
        // stdout must not panic (abort) the program.
        Ok(Parsed::Help) => std::process::exit(stdout_or_fail(args::USAGE)),
        Ok(Parsed::Version) => std::process::exit(stdout_or_fail(concat!(
            "svc-init ",
            env!("CARGO_PKG_VERSION"),
            "\n"
        ))),
        Err(e) if pid1 && probe(true).host_pid1() => {
            // Exiting would panic the kernel: boot with the defaults instead.
            log!("{e}; ignoring the command line");
            Options::default()
        }
        Err(e) => usage_error(&e.0),
    }
}

fn usage_error(message: &str) -> ! {
    log::write_raw(format_args!("svc-init: {message}\ntry `svc-init --help`\n"));
    std::process::exit(2);
}

/// `text` to stdout; the exit status: 0, or 1 when it could not be written.
fn stdout_or_fail(text: &str) -> i32 {
    match log::write_all(libc::STDOUT_FILENO, text.as_bytes()) {
        Ok(()) => 0,
        Err(e) => {
            log!("cannot write to stdout: {e}");
            1
        }
    }
}

/// The kernel starts init with /dev/console as fds 0-2 — unless there is no
/// /dev/console. Then fill the gaps, so that no fd we open later becomes a
/// child's stdin or stdout by accident.
fn ensure_stdio() {
    use nix::fcntl::{FcntlArg, OFlag, fcntl, open};
    use std::os::fd::{BorrowedFd, IntoRawFd};
    for fd in 0..3 {
        // SAFETY: only asks whether the fd is open.
        let open_already = fcntl(unsafe { BorrowedFd::borrow_raw(fd) }, FcntlArg::F_GETFD).is_ok();
        if open_already {
            continue;
        }
        let flags = OFlag::O_RDWR | OFlag::O_NOCTTY;
        let mode = nix::sys::stat::Mode::empty();
        if let Ok(new) =
            open("/dev/console", flags, mode).or_else(|_| open("/dev/null", flags, mode))
        {
            let raw = new.into_raw_fd();
            if raw != fd {
                // SAFETY: dup2 onto a free fd number, then close the original.
                unsafe {
                    libc::dup2(raw, fd);
                    libc::close(raw);
                }
            }
        }
    }
}

/// `$container` for systemd-aware tools. Beside the runtime directory when
/// one is given (tests), else /run/systemd/container.
fn write_container_file(kind: &str, runtime_dir: Option<&Path>) {
    let path = match runtime_dir {
        Some(dir) => dir.join("container"),
        None => PathBuf::from(CONTAINER_FILE),
    };
    let result = path
        .parent()
        .map_or(Ok(()), std::fs::create_dir_all)
        .and_then(|()| std::fs::write(&path, format!("{kind}\n")));
    if let Err(e) = result {
        log!("cannot write {}: {e}", path.display());
    }
}

fn setup_initctl(opts: &Options, dev_is_ours: bool) -> Option<std::os::fd::OwnedFd> {
    let path = opts
        .initctl
        .clone()
        .unwrap_or_else(|| PathBuf::from(DEFAULT_INITCTL));
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let fd = match initctl::open_fifo(&path) {
        Ok(fd) => fd,
        Err(e) => {
            log!("cannot create the initctl FIFO {}: {e}", path.display());
            return None;
        }
    };
    if opts.initctl.is_none() && dev_is_ours {
        let dev = Path::new(DEV_INITCTL);
        let points_right = std::fs::read_link(dev).is_ok_and(|t| t == path);
        if !points_right {
            let _ = std::fs::remove_file(dev);
            if let Err(e) = std::os::unix::fs::symlink(&path, dev) {
                log!("cannot link {DEV_INITCTL} to {}: {e}", path.display());
            }
        }
    }
    Some(fd)
}
