//! The command line (cli.md); every path flag has its SVC_* twin.

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

#[derive(Debug, Parser)]
#[command(
    name = "svc-manager",
    version,
    about = "Start a target's services under svc-supervise and answer svcctl"
)]
pub struct Args {
    /// Run the calling user's services (socket in $XDG_RUNTIME_DIR/svc/sock).
    #[arg(long)]
    pub user: bool,
    /// Control socket.
    #[arg(long, env = "SVC_SOCKET", value_name = "PATH")]
    pub socket: Option<PathBuf>,
    /// Declaration directory, earliest wins; replaces the defaults.
    /// Repeatable; SVC_SERVICES is ':'-separated.
    #[arg(long, env = "SVC_SERVICES", value_name = "DIR", value_delimiter = ':')]
    pub services: Vec<PathBuf>,
    /// Enablement directory (enabled/TARGET/NAME).
    #[arg(long, env = "SVC_ENABLED", value_name = "DIR")]
    pub enabled: Option<PathBuf>,
    /// Runtime state: supervisor sockets live in DIR/supervise.
    #[arg(long, env = "SVC_RUNTIME_DIR", value_name = "DIR")]
    pub runtime_dir: Option<PathBuf>,
    /// Service logs: DIR/NAME/current.
    #[arg(long, env = "SVC_LOG_DIR", value_name = "DIR")]
    pub log_dir: Option<PathBuf>,
    /// Group that may read service logs (LOGDIR/NAME 0750, files 0640);
    /// default `adm` (else root) for the system manager; a user manager's
    /// logs stay private (0700/0600) unless a group is given.
    #[arg(long, env = "SVC_LOG_GROUP", value_name = "G")]
    pub log_group: Option<String>,
    /// Where `runtime-directory` entries are created (default /run, or
    /// $XDG_RUNTIME_DIR for --user).
    #[arg(long, env = "SVC_RUNTIME_BASE", value_name = "DIR")]
    pub runtime_base: Option<PathBuf>,
    /// Target to start.
    #[arg(long, env = "SVC_TARGET", default_value = "default", value_name = "T")]
    pub target: String,
    /// Members of this group may start and stop services too.
    #[arg(long, env = "SVC_CONTROL_GROUP", value_name = "G")]
    pub control_group: Option<String>,
    /// The svc-supervise program (default: next to svc-manager, else PATH).
    #[arg(long, env = "SVC_SUPERVISE", value_name = "PATH")]
    pub supervise: Option<PathBuf>,
    /// Diagnostics below warnings go to the boot log only, not to stderr
    /// (svc-init passes it for the kernel's `quiet`); the status lines
    /// stay.
    #[arg(long)]
    pub quiet: bool,
    /// Write a line on this descriptor once the target has settled.
    #[arg(long, value_name = "N")]
    pub notify_fd: Option<i32>,
    /// How long a client connection may idle before it is closed (default
    /// 30s; docs/manager.md). Hidden: tests shorten it.
    #[arg(long, env = "SVC_CLIENT_IDLE_TIMEOUT", value_name = "D", hide = true,
          value_parser = parse_duration)]
    pub client_idle_timeout: Option<Duration>,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    libsvc::units::parse_duration(s).map_err(|e| e.to_string())
}
