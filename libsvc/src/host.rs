//! Checks that depend on the host rather than on the declaration: a user
//! or group that does not exist here, a program or path that is missing.
//! Always warnings, since packages are checked on build machines.

use crate::diag::Diagnostic;
use crate::model::{Account, Command, Declaration, Ready};
use std::ffi::OsStr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// Warnings about `decl` on this host. `search_path` is `$PATH` for
/// commands given without a directory.
pub fn host_warnings(decl: &Declaration, search_path: Option<&OsStr>) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let Some(s) = decl.service() else { return out };
    let rare = s.rare();
    let line = |key: &str| decl.key_line("service", key);
    let mut warn =
        |key: &str, msg: String| out.push(Diagnostic::warning(&decl.file, line(key), msg));
    // Inside a chroot, paths and programs are the chroot's, not this host's.
    let chrooted = rare.root_directory != Path::new("/");
    if let Some(Account::Name(u)) = &rare.user {
        if matches!(nix::unistd::User::from_name(u), Ok(None)) {
            warn("user", format!("user '{u}' does not exist on this host"));
        }
    }
    let groups = rare.group.iter().map(|g| ("group", g)).chain(
        rare.supplementary_groups
            .iter()
            .map(|g| ("supplementary-groups", g)),
    );
    for (key, g) in groups {
        if let Account::Name(g) = g {
            if matches!(nix::unistd::Group::from_name(g), Ok(None)) {
                warn(key, format!("group '{g}' does not exist on this host"));
            }
        }
    }
    if chrooted {
        if !rare.root_directory.is_dir() {
            warn(
                "root-directory",
                format!(
                    "'{}' is not a directory on this host",
                    rare.root_directory.display()
                ),
            );
        }
        return out;
    }
    let mut commands: Vec<(&str, &Command)> = vec![("exec", &s.exec)];
    commands.extend(rare.exec_pre.iter().map(|c| ("exec-pre", c)));
    commands.extend(rare.exec_stop.iter().map(|c| ("exec-stop", c)));
    if let Ready::Check(c) = &s.ready {
        commands.push(("ready", c));
    }
    for (key, c) in commands {
        if let Some(problem) = program_problem(c.program(), search_path) {
            warn(key, problem);
        }
    }
    if !rare.working_directory.is_dir() {
        warn(
            "working-directory",
            format!(
                "'{}' is not a directory on this host",
                rare.working_directory.display()
            ),
        );
    }
    for f in rare.environment_files.iter().filter(|f| !f.optional) {
        if !f.path.is_file() {
            warn(
                "environment-file",
                format!(
                    "'{}' does not exist on this host (prefix it with '-' if it is optional)",
                    f.path.display()
                ),
            );
        }
    }
    out
}

fn is_executable(p: &Path) -> bool {
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

fn program_problem(program: &str, search_path: Option<&OsStr>) -> Option<String> {
    if program.contains('/') {
        let p = PathBuf::from(program);
        if !p.exists() {
            Some(format!("'{program}' does not exist on this host"))
        } else if !is_executable(&p) {
            Some(format!("'{program}' is not an executable file"))
        } else {
            None
        }
    } else {
        let found = search_path
            .map(|sp| std::env::split_paths(sp).any(|d| is_executable(&d.join(program))))
            .unwrap_or(false);
        (!found).then(|| format!("'{program}' is not found on PATH on this host"))
    }
}
