//! svcctl: the command line users and scripts use to inspect and control
//! svc. Each command group lives in its own module; `cli` defines them all.

mod cli;
mod declfile;
#[path = "gen.rs"]
mod generate;
mod import;
mod offline;
mod online;

use clap::{CommandFactory, Parser};
use cli::{Cli, Command};
use std::process::ExitCode;

/// How a command ended, as cli.md numbers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Success = 0,
    Failure = 1,
    Usage = 2,
}

/// Prints `svcctl: message` to stderr.
pub fn complain(message: impl std::fmt::Display) {
    eprintln!("svcctl: {message}");
}

/// `svcctl [--user] [--json] [--socket PATH] status [NAME…]`, recognised
/// without building the whole clap definition: the command scripts and
/// monitors run most often stays close to the cost of a bare process.
/// Anything else (help, other flags, other commands) goes through clap.
fn fast_status() -> Option<u8> {
    let mut args = std::env::args_os().skip(1);
    let (mut user, mut json, mut socket, mut timeout) = (false, false, None, None);
    loop {
        let a = args.next()?;
        match a.to_str()? {
            "--user" => user = true,
            "--json" => json = true,
            "--socket" => socket = Some(std::path::PathBuf::from(args.next()?)),
            // A bad value is left to clap, which says what is wrong.
            "--timeout" => timeout = Some(cli::parse_duration(args.next()?.to_str()?).ok()?),
            "status" => break,
            _ => return None,
        }
    }
    let mut names = Vec::new();
    for a in args {
        let a = a.into_string().ok()?;
        if a.starts_with('-') || a.is_empty() {
            return None;
        }
        names.push(a);
    }
    let socket = socket.or_else(|| {
        std::env::var_os("SVC_SOCKET")
            .filter(|s| !s.is_empty())
            .map(Into::into)
    });
    let opts = online::Options::new(socket.as_deref(), user, json, timeout);
    Some(online::status(&opts, &names))
}

fn main() -> ExitCode {
    if let Some(code) = fast_status() {
        return ExitCode::from(code);
    }
    let cli = Cli::parse();
    let g = &cli.global;
    let opts = || online::Options::new(g.socket.as_deref(), g.user, g.json, g.timeout);
    let code = |c: u8| ExitCode::from(c);
    let status = match &cli.command {
        Command::Check { files, runtime_dir } => offline::check(g, files, runtime_dir.as_deref()),
        Command::Graph { target } => offline::graph(g, target.as_deref()),
        Command::List { offline: true } => offline::list(g),
        Command::List { offline: false } => return code(online::list(&opts())),
        Command::Status { names } => return code(online::status(&opts(), names)),
        Command::Start(a) => {
            return code(online::job(&opts(), "start", &a.names, a.no_wait));
        }
        Command::Stop(a) => {
            return code(online::job(&opts(), "stop", &a.names, a.no_wait));
        }
        Command::Restart(a) => {
            return code(online::job(&opts(), "restart", &a.names, a.no_wait));
        }
        Command::Target { target, no_wait } => {
            return code(online::job(
                &opts(),
                "target",
                std::slice::from_ref(target),
                *no_wait,
            ));
        }
        Command::Reload { names } => return code(online::reload(&opts(), names)),
        Command::Enable(a) => {
            return code(online::enable(
                &opts(),
                true,
                &a.names,
                a.target.as_deref(),
                a.now,
            ));
        }
        Command::Disable(a) => {
            return code(online::enable(
                &opts(),
                false,
                &a.names,
                a.target.as_deref(),
                a.now,
            ));
        }
        Command::Log {
            name,
            follow,
            lines,
        } => return code(online::log(&opts(), name, *follow, *lines)),
        Command::Rescan => return code(online::rescan(&opts())),
        Command::Watch => return code(online::watch(&opts())),
        Command::Poweroff(p) => return code(online::power("poweroff", p.init_pid)),
        Command::Reboot(p) => return code(online::power("reboot", p.init_pid)),
        Command::Halt(p) => return code(online::power("halt", p.init_pid)),
        Command::Completions { shell } => {
            clap_complete::generate(
                *shell,
                &mut Cli::command(),
                "svcctl",
                &mut std::io::stdout(),
            );
            Status::Success
        }
        Command::Add {
            name,
            description,
            ready,
            force,
            command,
        } => {
            let declaration = online::add::Declaration {
                name,
                description: description.as_deref(),
                ready: ready.as_deref(),
                command,
            };
            return code(online::add::add(&opts(), &g.services, &declaration, *force));
        }
        Command::Import {
            from,
            write,
            dry_run,
            force,
            paths,
        } => import::run(
            g,
            &import::Options {
                from: *from,
                write: write.as_deref(),
                dry_run: *dry_run,
                force: *force,
                paths,
            },
        ),
        Command::Generate { what, dir } => generate::run(*what, dir),
    };
    ExitCode::from(status as u8)
}
