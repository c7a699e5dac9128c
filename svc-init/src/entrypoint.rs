//! Container entrypoint: `svc-init -- CMD ARGS…`. CMD runs in its own
//! process group (the terminal's foreground when there is one), gets the
//! user's signals, and its status becomes svc-init's.

use std::ffi::OsString;
use std::path::Path;

use nix::sys::signal::kill;
use nix::unistd::Pid;

use crate::args::{ForwardTo, remap_exit};
use crate::spawn::{self, Program, Setup};

/// Directories whose existence means "there are declarations": then the
/// manager runs beside CMD (architecture.md, where things live).
pub const DEFAULT_SERVICE_DIRS: [&str; 3] = [
    "/etc/svc/services.d",
    "/run/svc/services.d",
    "/usr/lib/svc/services.d",
];

pub fn has_declarations(services: &[OsString]) -> bool {
    !services.is_empty() || DEFAULT_SERVICE_DIRS.iter().any(|d| Path::new(d).is_dir())
}

pub struct Cmd {
    pub pid: Pid,
    /// Its wait status once reaped.
    pub status: Option<i32>,
    forward_to: ForwardTo,
    remap: Vec<(u8, u8)>,
}

/// Shell conventions for a command that cannot be started.
pub const EXIT_NOT_FOUND: u8 = 127;
pub const EXIT_CANNOT_EXEC: u8 = 126;

impl Cmd {
    /// Starts CMD, or returns the exit status to end with if it cannot be.
    pub fn start(
        command: &[OsString],
        forward_to: ForwardTo,
        remap: &[(u8, u8)],
    ) -> Result<Cmd, u8> {
        let name = &command[0];
        let Some(path) = spawn::find_on_path(name) else {
            crate::log!("{}: command not found", name.to_string_lossy());
            return Err(EXIT_NOT_FOUND);
        };
        let program = Program::with_argv0(&path, name, &command[1..]).map_err(|e| {
            crate::log!("{e}");
            EXIT_CANNOT_EXEC
        })?;
        let setup = Setup {
            own_group: true,
            foreground: true,
            new_session: false,
        };
        match spawn::spawn(&program, setup) {
            Ok(pid) => Ok(Cmd {
                pid,
                status: None,
                forward_to,
                remap: remap.to_vec(),
            }),
            Err(e) => {
                crate::log!("cannot run {}: {e}", path.display());
                Err(if e == nix::errno::Errno::ENOENT {
                    EXIT_NOT_FOUND
                } else {
                    EXIT_CANNOT_EXEC
                })
            }
        }
    }

    pub fn running(&self) -> bool {
        self.status.is_none()
    }

    /// Passes a signal on to CMD, or to its whole group.
    pub fn forward(&self, signo: i32) {
        if !self.running() {
            return;
        }
        let target = match self.forward_to {
            ForwardTo::Child => self.pid.as_raw(),
            ForwardTo::Group => -self.pid.as_raw(),
        };
        // SAFETY: kill(2) with a raw number, since real-time signals have no
        // nix::Signal variant; the target is CMD or its group only.
        if unsafe { libc::kill(target, signo) } != 0 {
            crate::log!(
                "cannot forward {} to {target}: {}",
                crate::signals::name(signo),
                nix::errno::Errno::last()
            );
        }
    }

    pub fn terminate(&self) {
        if self.running() {
            let _ = kill(self.pid, nix::sys::signal::Signal::SIGTERM);
        }
    }

    /// svc-init's exit status: CMD's, 128+N for a signal, then remapped.
    pub fn exit_code(&self) -> u8 {
        let code = self.status.map_or(128 + libc::SIGKILL as u8, status_code);
        remap_exit(code, &self.remap)
    }
}

/// A wait status as a shell reports it: the exit code, or 128+N.
pub fn status_code(status: i32) -> u8 {
    if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status) as u8
    } else if libc::WIFSIGNALED(status) {
        (128 + libc::WTERMSIG(status)) as u8
    } else {
        1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_codes() {
        assert_eq!(status_code(0), 0);
        assert_eq!(status_code(3 << 8), 3);
        assert_eq!(status_code(255 << 8), 255);
        assert_eq!(status_code(libc::SIGKILL), 137);
        assert_eq!(status_code(libc::SIGTERM), 143);
        assert_eq!(status_code(libc::SIGTERM | 0x80), 143); // core dumped
    }

    #[test]
    fn missing_command_is_127() {
        let cmd = [OsString::from("svc-init-test-no-such-command")];
        assert_eq!(Cmd::start(&cmd, ForwardTo::Child, &[]).err(), Some(127));
    }
}
