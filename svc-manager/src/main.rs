//! svc-manager: loads the declarations, starts a target's services each
//! under its own svc-supervise, and answers svcctl on its control socket
//! (docs/manager.md).

mod args;
mod cgroups;
mod console;
mod control;
mod fds;
mod jobs;
mod link;
mod logdir;
mod manager;
mod orphans;
mod output;
mod proto;
mod resources;
mod spec;
mod stopped;
mod sys;

use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Parser;
use libsvc::Paths;
use libsvc::load::Layout;

use args::Args;
use manager::{Config, Manager};

fn fail(message: impl std::fmt::Display) -> ExitCode {
    let line = format!("svc-manager: {message}\n");
    output::write_lines(output::Stream::Stderr, line.as_bytes());
    ExitCode::from(1)
}

/// svc-supervise next to our own executable, else on PATH.
fn find_supervise() -> PathBuf {
    if let Ok(me) = std::env::current_exe()
        && let Some(dir) = me.parent()
    {
        let p = dir.join("svc-supervise");
        if p.is_file() {
            return p;
        }
    }
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            let p = dir.join("svc-supervise");
            if p.is_file() {
                return p;
            }
        }
    }
    PathBuf::from("svc-supervise")
}

fn make_dir(path: &Path, mode: u32) -> Result<(), String> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(mode)
        .create(path)
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// Binds the control socket; a live manager already there is an error, a
/// stale socket file is replaced.
fn bind(path: &Path, user_mode: bool) -> Result<UnixListener, String> {
    if let Some(dir) = path.parent() {
        if user_mode {
            make_dir(dir, 0o700)?;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
                .map_err(|e| format!("{}: {e}", dir.display()))?;
        } else {
            make_dir(dir, 0o755)?;
        }
    }
    if path.symlink_metadata().is_ok() {
        if UnixStream::connect(path).is_ok() {
            return Err(format!(
                "{}: another manager is answering there",
                path.display()
            ));
        }
        std::fs::remove_file(path).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    let listener = UnixListener::bind(path).map_err(|e| format!("{}: {e}", path.display()))?;
    // Anyone may connect to the system socket: permissions are checked per
    // request from the peer's credentials. A user's socket is private.
    let mode = if user_mode { 0o600 } else { 0o666 };
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .map_err(|e| format!("{}: {e}", path.display()))?;
    listener
        .set_nonblocking(true)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(listener)
}

fn config(args: Args) -> Result<Config, String> {
    let mut paths = Paths::for_mode(args.user).map_err(|e| e.to_string())?;
    if !args.services.is_empty() {
        paths.services = args.services;
    }
    if let Some(e) = args.enabled {
        paths.enabled = e;
    }
    if let Some(s) = args.socket {
        paths.socket = s;
    }
    if let Some(r) = args.runtime_dir {
        paths.runtime_dir = r;
    }
    if let Some(l) = args.log_dir {
        paths.log_dir = l;
    }
    if let Some(b) = args.runtime_base {
        paths.runtime_base = b;
    }
    let log_group = spec::resolve_log_group(args.log_group.as_deref(), args.user)?;
    let control_group = match &args.control_group {
        Some(g) => Some(
            nix::unistd::Group::from_name(g)
                .map_err(|e| format!("--control-group {g}: {e}"))?
                .ok_or_else(|| format!("--control-group {g}: no such group"))?,
        ),
        None => None,
    };
    if args.client_idle_timeout.is_some_and(|d| d.is_zero()) {
        return Err("--client-idle-timeout: must be above 0".into());
    }
    if let Some(fd) = args.notify_fd {
        if fd <= 2 || !sys::fd_is_open(fd) {
            return Err(format!("--notify-fd {fd}: not an open descriptor above 2"));
        }
        sys::set_cloexec(fd);
    }
    let notify_socket = std::env::var_os("NOTIFY_SOCKET");
    // SAFETY: single-threaded at this point; children must not inherit it.
    unsafe { std::env::remove_var("NOTIFY_SOCKET") };
    Ok(Config {
        user_mode: args.user,
        layout: Layout::from(&paths),
        socket: paths.socket,
        runtime_dir: paths.runtime_dir,
        wanted_log_dir: paths.log_dir.clone(),
        log_dir: paths.log_dir,
        runtime_base: paths.runtime_base,
        log_group,
        target: args.target,
        control_group,
        supervise: args.supervise.unwrap_or_else(find_supervise),
        notify_fd: args.notify_fd,
        notify_socket,
        client_idle_timeout: args
            .client_idle_timeout
            .unwrap_or(control::CLIENT_IDLE_TIMEOUT),
        cgroups: None,
        cgroups_not_in_use: None,
        fork_into_cgroup: false,
    })
}

fn main() -> ExitCode {
    let args = Args::parse();
    output::set_quiet(args.quiet);
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("SVC_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(output::Diagnostics)
        .log_internal_errors(false)
        .with_target(false)
        .init();
    // Before anything is opened; the supervisors get the original back.
    match fds::raise_limit() {
        Ok(Some((from, to))) => tracing::debug!("RLIMIT_NOFILE raised from {from} to {to}"),
        Ok(None) => {}
        Err(e) => tracing::warn!("{e}; keeping it"),
    }
    let mut cfg = match config(args) {
        Ok(c) => c,
        Err(e) => return fail(e),
    };
    let dir_mode = if cfg.user_mode { 0o700 } else { 0o755 };
    for (dir, mode) in [
        (cfg.runtime_dir.clone(), dir_mode),
        (cfg.runtime_dir.join("supervise"), 0o700),
    ] {
        if let Err(e) = make_dir(&dir, mode) {
            return fail(e);
        }
    }
    // Booted with `ro`, /var/log cannot be written until a sysinit
    // oneshot remounts the root: log under the runtime directory (a
    // tmpfs) meanwhile, and move there later (manager/early.rs).
    let unusable = logdir::usable(&cfg.log_dir, dir_mode).err();
    if unusable.is_some() {
        cfg.log_dir = logdir::early_dir(&cfg.runtime_dir);
        if let Err(e) = make_dir(&cfg.log_dir, dir_mode) {
            return fail(format!("{}; {e}", unusable.unwrap_or_default()));
        }
    }
    if !cfg.user_mode {
        // Nothing to adopt: a new boot, whose log starts afresh.
        let fresh = std::fs::read_dir(cfg.runtime_dir.join("supervise"))
            .is_ok_and(|mut d| d.next().is_none());
        if let Err(e) = output::open_boot_log(&cfg.log_dir.join("boot.log"), fresh) {
            tracing::warn!("boot log: {e}");
        }
    }
    if let Some(e) = unusable {
        tracing::warn!(
            "log directory {e}; logging under {} until it can be written",
            cfg.log_dir.display()
        );
    }
    let signals = match sys::signals() {
        Ok(s) => s,
        Err(e) => return fail(format!("signals: {e}")),
    };
    let listener = match bind(&cfg.socket, cfg.user_mode) {
        Ok(l) => l,
        Err(e) => return fail(e),
    };
    let events = match sys::Events::new() {
        Ok(e) => e,
        Err(e) => return fail(format!("epoll: {e}")),
    };
    let target = cfg.target.clone();
    tracing::info!(
        "svc-manager {} on {} (target {target})",
        env!("CARGO_PKG_VERSION"),
        cfg.socket.display()
    );
    (cfg.cgroups, cfg.cgroups_not_in_use) = cgroups::init();
    cfg.fork_into_cgroup = cfg.cgroups.as_ref().is_some_and(cgroups::probe_fork_into);
    let mut m = Manager::new(cfg, listener, signals, events);
    m.adopt();
    m.sweep_cgroups();
    m.boot(&target);
    ExitCode::from(m.run() as u8)
}
