//! The command line (cli.md), parsed by hand to keep the binary lean.

use std::path::PathBuf;

use libsvc::names;
use libsvc::units::parse_duration;

use crate::spec::{Output, Spec};

pub const USAGE: &str = "\
usage: svc-supervise [--name NAME] [--control PATH] [--respawn-delay D]
                     [--respawn-max N] [--chdir DIR] [--chroot DIR] [--stdout FILE]
                     [--stderr FILE] [--log-dir DIR] [--log-group G] [--uid U]
                     [--gid G] [--umask M]
                     [--env K=V]... [--once] -- PROGRAM [ARGS...]
       svc-supervise --manager-fd N [--control PATH]

Runs PROGRAM, restarts it when it dies (backoff 100ms doubling to 30s,
reset after 10s up), and answers status/start/stop/restart/kill/reload/
once/exit/attach requests on the control socket. SIGTERM stops the service,
then the supervisor.

  --name NAME         service name (default: PROGRAM's base name)
  --control PATH      control socket, mode 0600 (env SVC_CONTROL)
  --respawn-delay D   first backoff delay: 250ms, 2s, 1m (default 100ms)
  --respawn-max N     give up after N consecutive quick failures (0: never)
  --chdir DIR         working directory (env SVC_CHDIR)
  --chroot DIR        root directory (env SVC_CHROOT)
  --stdout FILE       append the service's stdout to FILE (env SVC_STDOUT)
  --stderr FILE       append the service's stderr to FILE (env SVC_STDERR)
  --log-dir DIR       rotating log in DIR/NAME/current (env SVC_LOG_DIR);
                      without it output goes to the supervisor's stdout/stderr
  --log-group G       group that may read the log: DIR/NAME 0750, files 0640
                      (env SVC_LOG_GROUP; default adm, else root, when run as
                      root; otherwise the log is private: 0700/0600)
  --uid U, --gid G    run as this user / group (names or numbers)
  --umask M           octal umask (default 022)
  --env K=V           set a variable (the environment is otherwise empty
                      but for PATH)
  --once              run once, never restart
  --manager-fd N      run under svc-manager: the declaration comes on fd N
  --help, --version
";

/// What the command line asks for.
#[derive(Debug, PartialEq, Eq)]
pub enum Invocation {
    Help,
    Version,
    Standalone {
        spec: Box<Spec>,
        control: Option<PathBuf>,
        once: bool,
    },
    Managed {
        fd: i32,
        control: Option<PathBuf>,
    },
}

/// `--flag VALUE` or `--flag=VALUE`; then the `SVC_FLAG` variable.
struct Args<I: Iterator<Item = String>> {
    rest: I,
}

impl<I: Iterator<Item = String>> Args<I> {
    fn value(&mut self, flag: &str, inline: Option<String>) -> Result<String, String> {
        inline
            .or_else(|| self.rest.next())
            .ok_or_else(|| format!("{flag} needs a value"))
    }
}

/// Parses `args` (without argv[0]). `env` looks up the SVC_* twins.
pub fn parse(
    args: impl IntoIterator<Item = String>,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Invocation, String> {
    let mut a = Args {
        rest: args.into_iter(),
    };
    let mut name = None;
    let mut control = None;
    let mut respawn_delay = None;
    let mut respawn_max = None;
    let mut chdir = None;
    let mut chroot = None;
    let mut stdout = None;
    let mut stderr = None;
    let mut log_dir = None;
    let mut log_group = None;
    let mut uid = None;
    let mut gid = None;
    let mut umask = None;
    let mut envs = Vec::new();
    let mut once = false;
    let mut manager_fd = None;
    let mut program = Vec::new();
    while let Some(arg) = a.rest.next() {
        if arg == "--" {
            program.extend(a.rest.by_ref());
            break;
        }
        if !arg.starts_with("--") {
            if arg.starts_with('-') && arg.len() > 1 {
                return Err(format!("unknown option '{arg}'"));
            }
            program.push(arg);
            program.extend(a.rest.by_ref());
            break;
        }
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) => (f.to_owned(), Some(v.to_owned())),
            None => (arg.clone(), None),
        };
        match flag.as_str() {
            "--help" => return Ok(Invocation::Help),
            "--version" => return Ok(Invocation::Version),
            "--once" => once = true,
            "--name" => name = Some(a.value(&flag, inline)?),
            "--control" => control = Some(a.value(&flag, inline)?),
            "--respawn-delay" => respawn_delay = Some(a.value(&flag, inline)?),
            "--respawn-max" => respawn_max = Some(a.value(&flag, inline)?),
            "--chdir" => chdir = Some(a.value(&flag, inline)?),
            "--chroot" => chroot = Some(a.value(&flag, inline)?),
            "--stdout" => stdout = Some(a.value(&flag, inline)?),
            "--stderr" => stderr = Some(a.value(&flag, inline)?),
            "--log-dir" => log_dir = Some(a.value(&flag, inline)?),
            "--log-group" => log_group = Some(a.value(&flag, inline)?),
            "--uid" => uid = Some(a.value(&flag, inline)?),
            "--gid" => gid = Some(a.value(&flag, inline)?),
            "--umask" => umask = Some(a.value(&flag, inline)?),
            "--env" => envs.push(a.value(&flag, inline)?),
            "--manager-fd" => manager_fd = Some(a.value(&flag, inline)?),
            _ => return Err(format!("unknown option '{flag}'")),
        }
    }
    let or_env = |v: Option<String>, var: &str| v.or_else(|| env(var)).filter(|s| !s.is_empty());
    let control = or_env(control, "SVC_CONTROL").map(PathBuf::from);
    if let Some(fd) = manager_fd {
        if !program.is_empty() {
            return Err("--manager-fd takes no PROGRAM: the declaration has it".into());
        }
        let fd: i32 = fd
            .parse()
            .ok()
            .filter(|fd| *fd >= 0)
            .ok_or_else(|| format!("--manager-fd: '{fd}' is not an fd number"))?;
        return Ok(Invocation::Managed { fd, control });
    }
    if program.is_empty() {
        return Err("no PROGRAM given".into());
    }
    let name = match name {
        Some(n) => n,
        None => program[0]
            .rsplit('/')
            .next()
            .unwrap_or("service")
            .to_owned(),
    };
    if let Err(e) = names::classify(&name) {
        return Err(format!("--name: {e}"));
    }
    let mut spec = Spec::new(&name, program);
    if let Some(d) = respawn_delay {
        let delay = parse_duration(&d).map_err(|e| format!("--respawn-delay: {e}"))?;
        spec.restart_delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
        spec.restart_delay_max_ms = spec.restart_delay_max_ms.max(spec.restart_delay_ms);
    }
    if let Some(n) = respawn_max {
        spec.restart_limit = n
            .parse()
            .map_err(|_| format!("--respawn-max: '{n}' is not a count"))?;
    }
    spec.working_directory = or_env(chdir, "SVC_CHDIR").map(PathBuf::from);
    spec.root_directory = or_env(chroot, "SVC_CHROOT").map(PathBuf::from);
    spec.logging.stdout_file = or_env(stdout, "SVC_STDOUT").map(PathBuf::from);
    spec.logging.stderr_file = or_env(stderr, "SVC_STDERR").map(PathBuf::from);
    spec.logging.log_dir = or_env(log_dir, "SVC_LOG_DIR").map(PathBuf::from);
    spec.logging.log_group = or_env(log_group, "SVC_LOG_GROUP");
    spec.logging.output = if spec.logging.log_dir.is_some() {
        Output::File
    } else {
        Output::Inherit
    };
    spec.user = uid;
    spec.group = gid;
    if let Some(m) = umask {
        spec.umask = u32::from_str_radix(&m, 8)
            .ok()
            .filter(|m| *m <= 0o777)
            .ok_or_else(|| format!("--umask: '{m}' is not an octal mode"))?;
    }
    for kv in envs {
        let Some((k, v)) = kv.split_once('=') else {
            return Err(format!("--env: '{kv}' is not K=V"));
        };
        spec.environment.push((k.to_owned(), v.to_owned()));
    }
    spec.validate()?;
    Ok(Invocation::Standalone {
        spec: Box::new(spec),
        control,
        once,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(args: &[&str]) -> Result<Invocation, String> {
        parse(args.iter().map(|s| s.to_string()), |_| None)
    }

    #[test]
    fn standalone() {
        let Invocation::Standalone {
            spec,
            control,
            once,
        } = p(&[
            "--name",
            "web",
            "--control=/tmp/c",
            "--respawn-delay",
            "2s",
            "--respawn-max",
            "3",
            "--uid",
            "nobody",
            "--umask",
            "027",
            "--env",
            "A=b=c",
            "--once",
            "--",
            "/bin/sleep",
            "--x",
        ])
        .unwrap()
        else {
            panic!()
        };
        assert_eq!(spec.name, "web");
        assert_eq!(control, Some(PathBuf::from("/tmp/c")));
        assert_eq!(spec.restart_delay_ms, 2000);
        assert_eq!(spec.restart_limit, 3);
        assert_eq!(spec.user.as_deref(), Some("nobody"));
        assert_eq!(spec.umask, 0o027);
        assert_eq!(spec.environment, [("A".to_string(), "b=c".to_string())]);
        assert!(once);
        assert_eq!(spec.exec, ["/bin/sleep", "--x"]);
        assert_eq!(spec.logging.output, Output::Inherit);
    }

    #[test]
    fn name_defaults_to_the_program() {
        let Invocation::Standalone { spec, .. } = p(&["/usr/bin/sleep", "1"]).unwrap() else {
            panic!()
        };
        assert_eq!(spec.name, "sleep");
    }

    #[test]
    fn environment_twins_lose_to_flags() {
        let env = |k: &str| (k == "SVC_CONTROL").then(|| "/from/env".to_string());
        let Invocation::Standalone { control, .. } = parse(["x".to_string()], env).unwrap() else {
            panic!()
        };
        assert_eq!(control, Some(PathBuf::from("/from/env")));
        let Invocation::Standalone { control, .. } =
            parse(["--control", "/flag", "x"].map(String::from), env).unwrap()
        else {
            panic!()
        };
        assert_eq!(control, Some(PathBuf::from("/flag")));
    }

    #[test]
    fn durations_and_names_read_as_declarations_read_them() {
        let Invocation::Standalone { spec, .. } = p(&["--respawn-delay", "1min", "x"]).unwrap()
        else {
            panic!()
        };
        assert_eq!(spec.restart_delay_ms, 60_000);
        assert!(p(&["--name", "@x", "x"]).unwrap_err().contains("--name"));
    }

    #[test]
    fn bad_usage() {
        assert!(p(&[]).unwrap_err().contains("PROGRAM"));
        assert!(p(&["--bogus", "x"]).unwrap_err().contains("--bogus"));
        assert!(p(&["--umask", "999", "x"]).unwrap_err().contains("umask"));
        assert!(
            p(&["--respawn-delay", "soon", "x"])
                .unwrap_err()
                .contains("duration")
        );
        assert!(p(&["--name"]).unwrap_err().contains("needs a value"));
        assert!(p(&["--env", "novalue", "x"]).unwrap_err().contains("K=V"));
        assert!(p(&["--manager-fd", "3", "x"]).is_err());
        assert_eq!(p(&["--help"]), Ok(Invocation::Help));
        assert_eq!(
            p(&["--manager-fd", "5"]),
            Ok(Invocation::Managed {
                fd: 5,
                control: None
            })
        );
    }
}
