//! The whole command line, defined once: help, completions and (later) the
//! man page come from this definition.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use std::time::Duration;

pub fn parse_duration(s: &str) -> Result<Duration, String> {
    libsvc::units::parse_duration(s).map_err(|e| e.to_string())
}

/// Arguments of start, stop and restart.
#[derive(Debug, Args)]
pub struct JobArgs {
    #[arg(required = true)]
    pub names: Vec<String>,
    /// Return at once instead of waiting until settled.
    #[arg(long)]
    pub no_wait: bool,
}

/// Arguments of enable and disable.
#[derive(Debug, Args)]
pub struct EnableArgs {
    #[arg(required = true)]
    pub names: Vec<String>,
    /// The target (default: the service's wanted-by, else `default`).
    #[arg(long, value_name = "T")]
    pub target: Option<String>,
    /// Also start (enable) or stop (disable) now.
    #[arg(long)]
    pub now: bool,
}

/// Arguments of poweroff, reboot and halt.
#[derive(Debug, Args)]
pub struct PowerArgs {
    /// The init to signal (tests point it elsewhere).
    #[arg(long, default_value_t = 1, value_name = "PID")]
    pub init_pid: i32,
}

#[derive(Debug, Parser)]
#[command(name = "svcctl", version, about = "Control and inspect svc services")]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command accepts, before or after the command name.
#[derive(Debug, Args)]
pub struct Global {
    /// Talk to (or read the declarations of) the calling user's manager.
    #[arg(long, global = true)]
    pub user: bool,
    /// The manager's control socket.
    #[arg(long, global = true, env = "SVC_SOCKET", value_name = "PATH")]
    pub socket: Option<PathBuf>,
    /// Print one JSON document instead of text.
    #[arg(long, global = true)]
    pub json: bool,
    /// Declaration directory for offline commands, earliest wins; replaces
    /// the default directories. Repeatable; SVC_SERVICES is ':'-separated.
    #[arg(
        long,
        global = true,
        env = "SVC_SERVICES",
        value_name = "DIR",
        value_delimiter = ':'
    )]
    pub services: Vec<PathBuf>,
    /// Enablement directory (enabled/TARGET/NAME) for offline commands.
    #[arg(long, global = true, env = "SVC_ENABLED", value_name = "DIR")]
    pub enabled: Option<PathBuf>,
    /// Give up when the manager has not answered within D (30, 250ms, 5m;
    /// a bare number is seconds; 0: no limit): exit 5. Default 30 s. start,
    /// stop, restart and target wait only this long for their job to end
    /// when given; without it, 30 s for the manager to take the job, then as
    /// long as the job takes (the job goes on either way).
    #[arg(long, global = true, value_parser = parse_duration, value_name = "D")]
    pub timeout: Option<Duration>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate declarations (all, or the files given) and report every error.
    ///
    /// Exit 1 if there is any error; what depends on the host (a missing
    /// user, program or path) is only a warning. With --json: {"ok",
    /// "declarations", "templates", "errors", "warnings", "diagnostics":
    /// [{"severity", "file", "line", "message"}]}.
    Check {
        /// Declaration files to check on their own instead of the directories.
        files: Vec<PathBuf>,
        /// The manager's runtime directory, for the length of supervisor
        /// socket paths (DIR/supervise/NAME.sock). Default: /run/svc, or
        /// $XDG_RUNTIME_DIR/svc with --user.
        #[arg(long, env = "SVC_RUNTIME_DIR", value_name = "DIR")]
        runtime_dir: Option<PathBuf>,
    },
    /// Print the dependency graph (of TARGET, or of everything) as Graphviz DOT.
    Graph {
        /// Only what this target or service pulls in.
        target: Option<String>,
    },
    /// List every declaration: its kind and the targets it is enabled in.
    ///
    /// With --json: {"declarations": [{"name", "kind" (service, target,
    /// template or invalid), "file", "description", "enabled_in": [targets],
    /// "instance_of" (template or null), "provides": [names]}]}.
    ///
    /// Without --offline, asks the manager: every known service and target
    /// with its state. With --json: {"services": [{"name", "kind", "state",
    /// "enabled": [targets], "description", "file"}], "templates": [names]}.
    List {
        /// Read the declaration files instead of asking the manager.
        #[arg(long)]
        offline: bool,
    },
    /// Show services: a table, or one service in detail with its last log
    /// lines.
    ///
    /// Exit 0 when every service named is up, 3 when one is not, 4 when a
    /// name is unknown. With --json: {"services": [{"name", "kind"
    /// (service|target), "state", "pid" (or null), "since" (unix seconds),
    /// "restarts", "last_exit": {"status", "signal"} (or null), "wanted"
    /// (up|down), "reason" (or null)}]}.
    Status {
        /// Services or targets (none: all).
        names: Vec<String>,
    },
    /// Start services and what they need; waits until settled and prints
    /// the outcome of each service touched.
    ///
    /// Exit 1 when one failed. With --json: {"ok", "job", "services":
    /// [{"name", "kind", "result", "state", "pid", "reason"}]}.
    Start(JobArgs),
    /// Stop services and what requires them, in reverse order.
    Stop(JobArgs),
    /// Stop services, then start them again with their current declaration.
    Restart(JobArgs),
    /// Send services their reload signal.
    Reload {
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// Add services to a target's enablement directory.
    Enable(EnableArgs),
    /// Remove services from a target's enablement directory.
    Disable(EnableArgs),
    /// Switch to target T: stop what it does not pull in, start what it does.
    Target {
        target: String,
        /// Return at once instead of waiting until settled.
        #[arg(long)]
        no_wait: bool,
    },
    /// Print a service's log.
    Log {
        name: String,
        /// Keep printing what is appended.
        #[arg(short = 'f', long)]
        follow: bool,
        /// How many lines from the end.
        #[arg(short = 'n', long, default_value_t = 20, value_name = "N")]
        lines: usize,
    },
    /// Print every state change as it happens (`NAME STATE [pid N]`; JSON
    /// lines of `status` items with --json) until interrupted.
    Watch,
    /// Re-read declarations (errors are printed and make the exit 1).
    Rescan,
    /// Ask init to power off (SIGUSR2, the busybox signal contract).
    Poweroff(PowerArgs),
    /// Ask init to reboot (SIGTERM).
    Reboot(PowerArgs),
    /// Ask init to halt (SIGUSR1).
    Halt(PowerArgs),
    /// Write a minimal declaration NAME.ini into the first services
    /// directory (with --user: ~/.config/svc/services.d), then ask the
    /// manager, if one is reachable, to rescan.
    ///
    /// The command is quoted so that the declaration splits back into
    /// exactly these words. With --json: {"ok", "file", "rescanned"}.
    Add {
        /// The service's name: letters, digits, '_', '.', '-', one '@'.
        name: String,
        /// One line for humans.
        #[arg(long, value_name = "TEXT")]
        description: Option<String>,
        /// When it counts as ready: started, notify-fd N, sd-notify, check CMD.
        #[arg(long, value_name = "SPEC")]
        ready: Option<String>,
        /// Replace an existing NAME.ini.
        #[arg(long)]
        force: bool,
        /// The command and its arguments, after `--`.
        #[arg(last = true, required = true, value_name = "CMD")]
        command: Vec<String>,
    },
    /// Write declarations from systemd units, OpenRC and LSB init scripts
    /// or runit service directories (docs/import.md).
    ///
    /// The format of each PATH is guessed unless --from is given. Each
    /// declaration is validated as `check` would read it, then written to
    /// DIR (default: the first services directory) and enabled where the
    /// source says. Every source line not carried over is printed as
    /// `FILE:LINE: not imported: WHY` on stderr. Exit 0 when everything
    /// was carried over, 1 when anything was left out or failed, 2 on bad
    /// usage. With --json: {"ok", "dry_run", "declarations": [{"name",
    /// "file", "sources", "written", "enabled", "text"}], "notes":
    /// [{"file", "line", "why"}], "errors", "warnings": [{"severity",
    /// "file", "line", "message"}]}.
    Import {
        /// The source format (default: guessed per PATH).
        #[arg(long, value_enum, value_name = "FORMAT")]
        from: Option<crate::import::Format>,
        /// Where to write the declarations (default: the first services
        /// directory: --services, else /etc/svc/services.d, or the user's
        /// with --user).
        #[arg(long, value_name = "DIR")]
        write: Option<PathBuf>,
        /// Print what would be written and the notes; write nothing.
        #[arg(long)]
        dry_run: bool,
        /// Replace existing declarations.
        #[arg(long)]
        force: bool,
        /// Unit files, init scripts or service directories.
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<PathBuf>,
    },
    /// Print a shell completion script.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Write svcctl's man page or shell completions into DIR (packaging).
    #[command(hide = true)]
    Generate {
        #[arg(value_enum)]
        what: crate::generate::Artifact,
        dir: PathBuf,
    },
}
