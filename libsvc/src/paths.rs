//! Where things live on a host (architecture.md), for the system manager and
//! for a user's manager. Every path is a plain field so that flags,
//! environment variables and tests can replace any of them.

use std::path::PathBuf;

/// Every place svc reads from or writes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paths {
    /// Declaration directories, earliest first: for the same name the
    /// earlier directory wins.
    pub services: Vec<PathBuf>,
    /// `enabled/TARGET/NAME` lives under this directory.
    pub enabled: PathBuf,
    pub socket: PathBuf,
    pub runtime_dir: PathBuf,
    pub log_dir: PathBuf,
    /// The initctl FIFO; only the system layout has one.
    pub initctl: Option<PathBuf>,
    /// Where `runtime-directory` entries are created.
    pub runtime_base: PathBuf,
}

/// Why the user layout cannot be worked out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathsError {
    #[error("neither {0} nor HOME is set (or they are not absolute paths)")]
    NoHome(&'static str),
    #[error("XDG_RUNTIME_DIR is not set (or not an absolute path); the user manager needs it")]
    NoRuntimeDir,
}

impl Paths {
    /// The root manager's layout.
    pub fn system() -> Self {
        Self {
            services: vec![
                PathBuf::from("/etc/svc/services.d"),
                PathBuf::from("/run/svc/services.d"),
                PathBuf::from("/usr/lib/svc/services.d"),
            ],
            enabled: PathBuf::from("/etc/svc/enabled"),
            socket: PathBuf::from("/run/.svc-sock"),
            runtime_dir: PathBuf::from("/run/svc"),
            log_dir: PathBuf::from("/var/log/svc"),
            initctl: Some(PathBuf::from("/run/initctl")),
            runtime_base: PathBuf::from("/run"),
        }
    }

    /// A user's layout from the process environment.
    pub fn user_from_env() -> Result<Self, PathsError> {
        Self::user(|k| std::env::var_os(k).map(PathBuf::from))
    }

    /// A user's layout, reading variables through `var` (so tests need not
    /// touch the process environment).
    pub fn user(var: impl Fn(&str) -> Option<PathBuf>) -> Result<Self, PathsError> {
        let config = user_config_dir(&var)?;
        let state = xdg_dir(&var, "XDG_STATE_HOME", ".local/state")?.join("svc");
        let runtime_base = absolute_var(&var, "XDG_RUNTIME_DIR").ok_or(PathsError::NoRuntimeDir)?;
        let runtime_dir = runtime_base.join("svc");
        Ok(Self {
            services: vec![config.join("services.d")],
            enabled: config.join("enabled"),
            socket: runtime_dir.join("sock"),
            runtime_dir,
            log_dir: state.join("log"),
            initctl: None,
            runtime_base,
        })
    }

    /// System or user layout.
    pub fn for_mode(user: bool) -> Result<Self, PathsError> {
        if user {
            Self::user_from_env()
        } else {
            Ok(Self::system())
        }
    }
}

/// Empty or relative values count as unset, as the XDG base directory
/// specification says.
fn absolute_var(var: &impl Fn(&str) -> Option<PathBuf>, k: &str) -> Option<PathBuf> {
    var(k).filter(|p| p.is_absolute())
}

fn xdg_dir(
    var: &impl Fn(&str) -> Option<PathBuf>,
    k: &'static str,
    under_home: &str,
) -> Result<PathBuf, PathsError> {
    absolute_var(var, k)
        .or_else(|| absolute_var(var, "HOME").map(|h| h.join(under_home)))
        .ok_or(PathsError::NoHome(k))
}

/// `$XDG_CONFIG_HOME/svc`, default `~/.config/svc`.
pub fn user_config_dir(var: &impl Fn(&str) -> Option<PathBuf>) -> Result<PathBuf, PathsError> {
    Ok(xdg_dir(var, "XDG_CONFIG_HOME", ".config")?.join("svc"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<PathBuf> + 'a {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| PathBuf::from(v))
        }
    }

    #[test]
    fn user_defaults_from_home() {
        let p = Paths::user(env(&[
            ("HOME", "/home/a"),
            ("XDG_RUNTIME_DIR", "/run/user/1000"),
        ]))
        .unwrap();
        assert_eq!(
            p.services,
            vec![PathBuf::from("/home/a/.config/svc/services.d")]
        );
        assert_eq!(p.enabled, PathBuf::from("/home/a/.config/svc/enabled"));
        assert_eq!(p.socket, PathBuf::from("/run/user/1000/svc/sock"));
        assert_eq!(p.log_dir, PathBuf::from("/home/a/.local/state/svc/log"));
        assert_eq!(p.initctl, None);
    }

    #[test]
    fn user_xdg_overrides_and_relative_ignored() {
        let p = Paths::user(env(&[
            ("HOME", "/home/a"),
            ("XDG_CONFIG_HOME", "/cfg"),
            ("XDG_STATE_HOME", "relative"),
            ("XDG_RUNTIME_DIR", "/r"),
        ]))
        .unwrap();
        assert_eq!(p.services, vec![PathBuf::from("/cfg/svc/services.d")]);
        assert_eq!(p.log_dir, PathBuf::from("/home/a/.local/state/svc/log"));
        assert_eq!(
            Paths::user(env(&[("HOME", "/h")])),
            Err(PathsError::NoRuntimeDir)
        );
        assert!(matches!(Paths::user(env(&[])), Err(PathsError::NoHome(_))));
    }

    #[test]
    fn system_layout() {
        let p = Paths::system();
        assert_eq!(p.services[0], PathBuf::from("/etc/svc/services.d"));
        assert_eq!(p.socket, PathBuf::from("/run/.svc-sock"));
    }
}
