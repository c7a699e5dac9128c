//! svc-supervise: runs one service (see `svc_supervise` and docs/supervise.md).

use std::os::fd::{FromRawFd, OwnedFd};
use std::process::ExitCode;

use svc_supervise::cli::{self, Invocation};
use svc_supervise::supervisor::{self, Options, Supervisor};
use svc_supervise::{sys, title};

fn fail(code: u8, message: &str) -> ExitCode {
    sys::stderr_fmt(format_args!("svc-supervise: {message}\n"));
    ExitCode::from(code)
}

fn main() -> ExitCode {
    let invocation = match cli::parse(std::env::args().skip(1), |k| std::env::var(k).ok()) {
        Ok(i) => i,
        Err(e) => {
            sys::stderr_fmt(format_args!("svc-supervise: {e}\n{}", cli::USAGE));
            return ExitCode::from(2);
        }
    };
    let (spec, mut opts, declare_id) = match invocation {
        Invocation::Help => {
            sys::stdout_fmt(format_args!("{}", cli::USAGE));
            return ExitCode::SUCCESS;
        }
        Invocation::Version => {
            sys::stdout_fmt(format_args!(
                "svc-supervise {}\n",
                env!("CARGO_PKG_VERSION")
            ));
            return ExitCode::SUCCESS;
        }
        Invocation::Standalone {
            spec,
            control,
            once,
        } => (
            *spec,
            Options {
                control,
                manager: None,
                start: true,
                once,
            },
            None,
        ),
        Invocation::Managed { fd, control } => {
            // SAFETY: F_GETFD on a number given on the command line.
            if unsafe { libc::fcntl(fd, libc::F_GETFD) } < 0 || fd <= 2 {
                return fail(2, &format!("--manager-fd {fd}: not an open fd above 2"));
            }
            let _ = sys::set_cloexec(fd);
            // SAFETY: the manager handed this fd to us; nothing else owns it.
            let manager = unsafe { OwnedFd::from_raw_fd(fd) };
            let declaration = match supervisor::receive_declaration(&manager, 10_000) {
                Ok(d) => d,
                Err(e) => return fail(1, &e),
            };
            (
                declaration.spec,
                Options {
                    control,
                    manager: Some(manager),
                    start: false,
                    once: false,
                },
                Some((declaration.id, declaration.start)),
            )
        }
    };
    let name = spec.name.clone();
    let mut sup = match Supervisor::new(spec, &mut opts) {
        Ok(s) => s,
        Err(e) => return fail(1, &format!("{name}: {e}")),
    };
    title::set(&name);
    if let Some((id, start)) = declare_id {
        // Started before the reply, so that the reply already says
        // `starting` and every later event is news to the manager.
        if start {
            sup.want_up(false);
        }
        sup.acknowledge_declaration(id);
    }
    ExitCode::from(sup.run(&opts).clamp(0, 255) as u8)
}
