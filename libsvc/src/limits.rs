//! Limits that a declaration meets only when its service starts, checked
//! the same way by `svcctl check` (before) and the manager (at start):
//! the supervisor's control socket must fit a unix socket address, and
//! the `declare` request must fit the supervisor's message limit.

use crate::model::{Declaration, Ready, Service};
use std::path::{Path, PathBuf};

/// Largest message a supervisor takes from its manager (the `declare`
/// request, header included; docs/supervise.md, "Peers cannot stall the
/// loop"). svc-supervise reads its declaration with this limit.
pub const DECLARATION_MAX: usize = 1024 * 1024;

/// Longest socket path: `sun_path` holds 108 bytes with the final NUL.
pub const SOCKET_PATH_MAX: usize = 107;

/// Longest nvpair name (libnv's NAME_MAX): `[environment]` names travel
/// as names of pairs in the `declare` request.
pub const WIRE_NAME_MAX: usize = 2047;

/// Longest path the manager adds to a declaration (its log directory,
/// the runtime base, the cgroup leaf): PATH_MAX, so the bound holds for any manager.
const PATH_MAX: usize = 4096;

/// Everything in a packed `declare` request that does not grow with the
/// declaration: the nvlist headers, the envelope (`ipc:*`, `start`), and
/// every fixed-size pair with its name (about 40 pairs of at most 19 + 24
/// + 8 bytes). svc-manager's tests check the bound against real packing.
const FIXED: usize = 4096;

/// An nvpair's header (libnv: type, name size, data size, item count).
const PAIR: usize = 19;

/// `RUNTIME/supervise/NAME.sock`, where the supervisor of `name` listens.
pub fn supervisor_socket(runtime_dir: &Path, name: &str) -> PathBuf {
    runtime_dir.join("supervise").join(format!("{name}.sock"))
}

/// Err (a sentence) when the supervisor socket of `name` under
/// `runtime_dir` is too long to bind.
pub fn check_supervisor_socket(runtime_dir: &Path, name: &str) -> Result<(), String> {
    let path = supervisor_socket(runtime_dir, name);
    let len = path.as_os_str().len();
    if len > SOCKET_PATH_MAX {
        return Err(format!(
            "supervisor socket path {} is {len} bytes, over the {SOCKET_PATH_MAX}-byte limit of a unix socket address",
            path.display()
        ));
    }
    Ok(())
}

/// An upper bound of the packed `declare` request for a service, and the
/// key (section, key) that contributes most to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackedBound {
    pub bytes: usize,
    pub largest: (&'static str, String, usize),
}

fn strings<'a>(items: impl IntoIterator<Item = &'a str>) -> usize {
    items.into_iter().map(|s| s.len() + 1).sum()
}

fn argv(c: &crate::model::Command) -> usize {
    strings(c.argv())
}

fn path_len(p: &Path) -> usize {
    p.as_os_str().len() + 1
}

/// An upper bound of the size of the `declare` request that svc-manager
/// packs for service `name` (svc-manager/src/spec.rs): the sizes of the
/// values that grow with the declaration, exactly, plus `FIXED` for the
/// rest and PATH_MAX for each path the manager adds. Never below the real
/// size; above it by at most a few KiB.
pub fn declaration_bound(name: &str, s: &Service) -> PackedBound {
    let rare = s.rare();
    let mut parts: Vec<(&'static str, String, usize)> = vec![
        ("service", "exec".into(), argv(&s.exec)),
        (
            "service",
            "exec-pre".into(),
            // Each is a list of its own: header, its `exec` pair, end marker.
            rare.exec_pre
                .iter()
                .map(|c| 3 * PAIR + "exec".len() + 1 + argv(c))
                .sum(),
        ),
        (
            "service",
            "exec-stop".into(),
            rare.exec_stop.as_ref().map_or(0, argv),
        ),
        (
            "service",
            "ready".into(),
            match &s.ready {
                Ready::Check(c) => argv(c),
                _ => 0,
            },
        ),
        (
            "service",
            "pidfile".into(),
            rare.pidfile.as_deref().map_or(0, path_len),
        ),
        (
            "service",
            "user".into(),
            rare.user.as_ref().map_or(0, |a| a.to_string().len() + 1),
        ),
        (
            "service",
            "group".into(),
            rare.group.as_ref().map_or(0, |a| a.to_string().len() + 1),
        ),
        (
            "service",
            "supplementary-groups".into(),
            rare.supplementary_groups
                .iter()
                .map(|a| a.to_string().len() + 1)
                .sum(),
        ),
        (
            "service",
            "working-directory".into(),
            path_len(&rare.working_directory),
        ),
        (
            "service",
            "root-directory".into(),
            path_len(&rare.root_directory),
        ),
        (
            "service",
            "environment-file".into(),
            // An optional file travels with a '-' in front.
            rare.environment_files
                .iter()
                .map(|f| path_len(&f.path) + 1)
                .sum(),
        ),
        (
            "service",
            "runtime-directory".into(),
            rare.runtime_directories.iter().map(|d| path_len(d)).sum(),
        ),
    ];
    for (k, v) in &rare.environment {
        parts.push(("environment", k.clone(), PAIR + k.len() + 1 + v.len() + 1));
    }
    let variable: usize = parts.iter().map(|p| p.2).sum();
    // The log directory, the runtime base and the cgroup leaf.
    let bytes = FIXED + 3 * PATH_MAX + name.len() + 1 + variable;
    let largest = parts
        .into_iter()
        .max_by_key(|p| p.2)
        .unwrap_or(("service", "exec".into(), 0));
    PackedBound { bytes, largest }
}

/// The error of a service whose supervisor socket under `runtime_dir`
/// (the manager's runtime directory) would be too long to bind. A name
/// has no line: it is the file's name (or an instance of its template).
pub fn socket_diagnostic(decl: &Declaration, runtime_dir: &Path) -> Option<crate::Diagnostic> {
    decl.service()?;
    let e = check_supervisor_socket(runtime_dir, &decl.name).err()?;
    let e = match decl.template() {
        Some(_) => format!("{e} (in instance {})", decl.name),
        None => e,
    };
    Some(crate::Diagnostic::error(&decl.file, None, e))
}

/// The error of a service whose `declare` request may not fit the
/// supervisor's message limit, at the line of the key that weighs most.
pub fn size_diagnostic(decl: &Declaration) -> Option<crate::Diagnostic> {
    let s = decl.service()?;
    let bound = declaration_bound(&decl.name, s);
    if bound.bytes <= DECLARATION_MAX {
        return None;
    }
    let (section, key, size) = &bound.largest;
    let line = decl
        .key_line(section, key)
        .or_else(|| decl.key_line("service", "exec"));
    let what = if *section == "environment" {
        format!("[environment] {key}")
    } else {
        format!("'{key}'")
    };
    Some(crate::Diagnostic::error(
        &decl.file,
        line,
        format!(
            "declaration packs to up to {} bytes ({what}: {size}), over the {DECLARATION_MAX}-byte message limit of svc-supervise",
            bound.bytes
        ),
    ))
}

/// Errors for `[environment]` names too long to travel as nvpair names.
pub fn env_name_diagnostics(decl: &Declaration) -> Vec<crate::Diagnostic> {
    let Some(s) = decl.service() else {
        return Vec::new();
    };
    s.rare()
        .environment
        .iter()
        .filter(|(k, _)| k.len() > WIRE_NAME_MAX)
        .map(|(k, _)| {
            crate::Diagnostic::error(
                &decl.file,
                decl.key_line("environment", k),
                format!(
                    "environment variable name is {} bytes, over the {WIRE_NAME_MAX}-byte limit of a name in the declaration sent to svc-supervise",
                    k.len()
                ),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Command;

    #[test]
    fn socket_path_limit() {
        let dir = Path::new("/run/svc");
        // "/run/svc/supervise/" is 19 bytes, ".sock" 5: a name of 83 fits.
        assert!(check_supervisor_socket(dir, &"a".repeat(83)).is_ok());
        let e = check_supervisor_socket(dir, &"a".repeat(84)).unwrap_err();
        assert!(
            e.ends_with("is 108 bytes, over the 107-byte limit of a unix socket address"),
            "{e}"
        );
    }

    #[test]
    fn bound_grows_with_exec_and_names_the_largest_key() {
        let small = Service::new(Command::new(vec!["/bin/true".into()]).unwrap());
        let b = declaration_bound("x", &small);
        // The fixed part and three paths of PATH_MAX.
        assert!(b.bytes < 20 * 1024, "{b:?}");
        let mut big = small.clone();
        big.exec = Command::new(vec!["x".repeat(DECLARATION_MAX)]).unwrap();
        big.rare_mut().environment = vec![("A".into(), "1".into())];
        let b = declaration_bound("x", &big);
        assert!(b.bytes > DECLARATION_MAX);
        assert_eq!(b.largest, ("service", "exec".into(), DECLARATION_MAX + 1));
    }
}
