//! The command line, parsed by hand to keep PID 1 small. Pure: no I/O.

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

pub const USAGE: &str = "\
usage: svc-init [--manager PATH] [--services DIR]... [--target T] [--socket PATH]
                [--runtime-dir DIR] [--log-dir DIR] [--initctl PATH]
                [--forward-to child|group] [--remap-exit FROM:TO]... [-- CMD ARGS...]
       svc-init [--initctl PATH] RUNLEVEL    (not PID 1; also as `telinit RUNLEVEL`)

As PID 1 it mounts what is missing, reaps every process, starts the root
svc-manager (again if it dies) and shuts down on signals and /run/initctl
requests. With `-- CMD` it is a container entrypoint: CMD runs in the
foreground, signals go to it, and svc-init exits with its status. Not PID 1,
`svc-init RUNLEVEL` (0-6, S, Q, U) asks PID 1 for it through the initctl FIFO.

  --manager PATH       the svc-manager to run (default: next to svc-init, else PATH)
  --services DIR       declarations directory, handed to the manager (repeatable)
  --target T           target the manager starts (default: the manager's)
  --socket PATH        control socket, handed to the manager
  --runtime-dir DIR    runtime state directory, handed to the manager
  --log-dir DIR        log directory, handed to the manager
  --initctl PATH       the initctl FIFO (default /run/initctl)
  --forward-to WHO     forward signals to CMD (child, the default) or its group
  --remap-exit F:T     exit with T when CMD's status is F (repeatable)
  --help, --version

Each path flag has an environment twin: SVC_MANAGER, SVC_SERVICES, SVC_TARGET,
SVC_SOCKET, SVC_RUNTIME_DIR, SVC_LOG_DIR, SVC_INITCTL; the flag wins.
SVC_EMERGENCY_SHELL: the emergency shell (default /bin/sh).
";

/// Where forwarded signals go in entrypoint mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ForwardTo {
    #[default]
    Child,
    Group,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Options {
    pub manager: Option<PathBuf>,
    pub services: Vec<OsString>,
    pub target: Option<OsString>,
    pub socket: Option<OsString>,
    pub runtime_dir: Option<PathBuf>,
    pub log_dir: Option<OsString>,
    pub initctl: Option<PathBuf>,
    pub forward_to: ForwardTo,
    /// (from, to) pairs, first match wins.
    pub remap_exit: Vec<(u8, u8)>,
    /// Everything after `--`: the entrypoint command.
    pub command: Vec<OsString>,
    /// Words before `--` that are not options: the kernel passes the words
    /// after `--` on its command line to init this way.
    pub boot_words: Vec<OsString>,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Parsed {
    Run(Box<Options>),
    Help,
    Version,
}

#[derive(Debug, PartialEq, Eq)]
pub struct UsageError(pub String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Parses the arguments after the program name.
pub fn parse<I: IntoIterator<Item = OsString>>(args: I) -> Result<Parsed, UsageError> {
    let mut opts = Options::default();
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let bytes = arg.as_bytes();
        if bytes == b"--" {
            opts.command = args.by_ref().collect();
            if opts.command.is_empty() {
                return Err(UsageError("`--` must be followed by a command".into()));
            }
            break;
        }
        if !bytes.starts_with(b"--") {
            opts.boot_words.push(arg);
            continue;
        }
        // `--name=value` or `--name value`
        let (name, inline) = match bytes.iter().position(|&b| b == b'=') {
            Some(i) => (
                &bytes[..i],
                Some(OsStr::from_bytes(&bytes[i + 1..]).to_owned()),
            ),
            None => (bytes, None),
        };
        let name = String::from_utf8_lossy(name).into_owned();
        match name.as_str() {
            "--help" | "--version" if inline.is_none() => {
                return Ok(if name == "--help" {
                    Parsed::Help
                } else {
                    Parsed::Version
                });
            }
            "--manager" | "--services" | "--target" | "--socket" | "--runtime-dir"
            | "--log-dir" | "--initctl" | "--forward-to" | "--remap-exit" => {
                let value = match inline {
                    Some(v) => v,
                    None => args
                        .next()
                        .ok_or_else(|| UsageError(format!("{name} needs a value")))?,
                };
                if value.is_empty() {
                    return Err(UsageError(format!("{name} needs a non-empty value")));
                }
                match name.as_str() {
                    "--manager" => opts.manager = Some(value.into()),
                    "--services" => opts.services.push(value),
                    "--target" => opts.target = Some(value),
                    "--socket" => opts.socket = Some(value),
                    "--runtime-dir" => opts.runtime_dir = Some(value.into()),
                    "--log-dir" => opts.log_dir = Some(value),
                    "--initctl" => opts.initctl = Some(value.into()),
                    "--forward-to" => opts.forward_to = parse_forward_to(&value)?,
                    _ => opts.remap_exit.push(parse_remap(&value)?),
                }
            }
            _ => return Err(UsageError(format!("unknown option {name}"))),
        }
    }
    Ok(Parsed::Run(Box::new(opts)))
}

fn parse_forward_to(value: &OsStr) -> Result<ForwardTo, UsageError> {
    match value.as_bytes() {
        b"child" => Ok(ForwardTo::Child),
        b"group" => Ok(ForwardTo::Group),
        _ => Err(UsageError(format!(
            "--forward-to takes `child` or `group`, not `{}`",
            value.to_string_lossy()
        ))),
    }
}

/// `FROM:TO`, both exit statuses 0–255.
fn parse_remap(value: &OsStr) -> Result<(u8, u8), UsageError> {
    let text = value.to_string_lossy();
    let bad = || {
        UsageError(format!(
            "--remap-exit takes FROM:TO with statuses 0-255, not `{text}`"
        ))
    };
    let (from, to) = text.split_once(':').ok_or_else(bad)?;
    let from = from.parse::<u8>().map_err(|_| bad())?;
    let to = to.parse::<u8>().map_err(|_| bad())?;
    Ok((from, to))
}

/// Fills unset options from their environment twins (`SVC_*`); flags win.
pub fn apply_env(opts: &mut Options, getenv: impl Fn(&str) -> Option<OsString>) {
    let nonempty = |name: &str| getenv(name).filter(|v| !v.is_empty());
    if opts.manager.is_none() {
        opts.manager = nonempty("SVC_MANAGER").map(PathBuf::from);
    }
    if opts.services.is_empty() {
        opts.services.extend(nonempty("SVC_SERVICES"));
    }
    if opts.target.is_none() {
        opts.target = nonempty("SVC_TARGET");
    }
    if opts.socket.is_none() {
        opts.socket = nonempty("SVC_SOCKET");
    }
    if opts.runtime_dir.is_none() {
        opts.runtime_dir = nonempty("SVC_RUNTIME_DIR").map(PathBuf::from);
    }
    if opts.log_dir.is_none() {
        opts.log_dir = nonempty("SVC_LOG_DIR");
    }
    if opts.initctl.is_none() {
        opts.initctl = nonempty("SVC_INITCTL").map(PathBuf::from);
    }
}

/// The exit status svc-init passes on for CMD's status, after `--remap-exit`.
pub fn remap_exit(status: u8, remap: &[(u8, u8)]) -> u8 {
    remap
        .iter()
        .find(|(from, _)| *from == status)
        .map_or(status, |(_, to)| *to)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(words: &[&str]) -> Result<Parsed, UsageError> {
        parse(words.iter().map(OsString::from))
    }

    fn opts(words: &[&str]) -> Options {
        match run(words) {
            Ok(Parsed::Run(o)) => *o,
            other => panic!("{words:?} gave {other:?}"),
        }
    }

    #[test]
    fn empty_is_init_mode() {
        assert_eq!(opts(&[]), Options::default());
    }

    #[test]
    fn values_both_spellings() {
        let o = opts(&[
            "--manager",
            "/m",
            "--services=/a",
            "--services",
            "/b",
            "--target=rescue",
            "--socket",
            "/s",
            "--runtime-dir",
            "/r",
            "--log-dir=/l",
            "--initctl",
            "/i",
        ]);
        assert_eq!(o.manager, Some(PathBuf::from("/m")));
        assert_eq!(o.services, vec![OsString::from("/a"), OsString::from("/b")]);
        assert_eq!(o.target, Some(OsString::from("rescue")));
        assert_eq!(o.socket, Some(OsString::from("/s")));
        assert_eq!(o.runtime_dir, Some(PathBuf::from("/r")));
        assert_eq!(o.log_dir, Some(OsString::from("/l")));
        assert_eq!(o.initctl, Some(PathBuf::from("/i")));
    }

    #[test]
    fn command_after_double_dash_is_taken_verbatim() {
        let o = opts(&["--forward-to", "group", "--", "sh", "--help", "--", "x"]);
        assert_eq!(o.forward_to, ForwardTo::Group);
        assert_eq!(o.command, ["sh", "--help", "--", "x"].map(OsString::from));
    }

    #[test]
    fn help_and_version() {
        assert_eq!(run(&["--help"]), Ok(Parsed::Help));
        assert_eq!(run(&["--version"]), Ok(Parsed::Version));
        assert_eq!(run(&["--", "--help"]).map(|_| ()), Ok(()));
    }

    #[test]
    fn bad_usage() {
        for words in [
            &["--bogus"][..],
            &["--manager"],
            &["--manager="],
            &["--"],
            &["--forward-to", "parent"],
            &["--remap-exit", "143"],
            &["--remap-exit", "256:0"],
            &["--remap-exit", "1:-1"],
            &["--help=yes"],
        ] {
            assert!(run(words).is_err(), "{words:?} accepted");
        }
    }

    #[test]
    fn positional_words_are_boot_words() {
        let o = opts(&["single", "svc.target=x"]);
        assert_eq!(o.boot_words, ["single", "svc.target=x"].map(OsString::from));
        assert!(o.command.is_empty());
    }

    #[test]
    fn remap() {
        let o = opts(&["--remap-exit", "143:0", "--remap-exit=1:2", "--", "x"]);
        assert_eq!(o.remap_exit, vec![(143, 0), (1, 2)]);
        assert_eq!(remap_exit(143, &o.remap_exit), 0);
        assert_eq!(remap_exit(1, &o.remap_exit), 2);
        assert_eq!(remap_exit(7, &o.remap_exit), 7);
    }

    #[test]
    fn environment_twins_fill_only_unset() {
        let mut o = opts(&["--socket", "/flag"]);
        apply_env(&mut o, |name| match name {
            "SVC_SOCKET" => Some("/env".into()),
            "SVC_RUNTIME_DIR" => Some("/rt".into()),
            "SVC_LOG_DIR" => Some("".into()),
            _ => None,
        });
        assert_eq!(o.socket, Some(OsString::from("/flag")));
        assert_eq!(o.runtime_dir, Some(PathBuf::from("/rt")));
        assert_eq!(o.log_dir, None);
    }
}
