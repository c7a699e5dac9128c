//! What the administrator stopped, kept under RUNTIME/stopped/ so that a
//! manager started after a crash leaves it stopped. The supervisor of a
//! stopped service exits, so nothing else holds this; everything else a
//! new manager needs, the supervisors still hold.
//!
//! One empty file per service, made with a rename (a crash never leaves a
//! half-written marker). Written when an explicit stop (or a switch, or a
//! start that stops conflicts) is planned; removed when an explicit start,
//! restart or switch includes the service, and all at once after an
//! orderly shutdown (the next manager boots afresh).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn dir(runtime: &Path) -> PathBuf {
    runtime.join("stopped")
}

/// Service names only: no path can be made from anything else.
fn usable(name: &str) -> bool {
    !name.is_empty() && !name.starts_with('.') && !name.contains('/')
}

/// Records `names` as stopped by the administrator.
pub fn mark<'a>(runtime: &Path, names: impl IntoIterator<Item = &'a String>) {
    let dir = dir(runtime);
    for name in names.into_iter().filter(|n| usable(n)) {
        let path = dir.join(name);
        if path.exists() {
            continue;
        }
        let tmp = dir.join(format!(".{name}.new"));
        let made = std::fs::create_dir_all(&dir)
            .and_then(|()| std::fs::write(&tmp, b""))
            .and_then(|()| std::fs::rename(&tmp, &path));
        if let Err(e) = made {
            tracing::warn!("{}: cannot record the stop: {e}", path.display());
            let _ = std::fs::remove_file(&tmp);
        }
    }
}

/// Forgets that `names` were stopped.
pub fn unmark<'a>(runtime: &Path, names: impl IntoIterator<Item = &'a String>) {
    let dir = dir(runtime);
    for name in names.into_iter().filter(|n| usable(n)) {
        let path = dir.join(name);
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                tracing::warn!("{}: {e}", path.display());
            }
            _ => {}
        }
    }
}

/// The services recorded as stopped.
pub fn marked(runtime: &Path) -> BTreeSet<String> {
    let Ok(entries) = std::fs::read_dir(dir(runtime)) else {
        return BTreeSet::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| usable(n))
        .collect()
}

/// Forgets every stop (after an orderly shutdown).
pub fn clear(runtime: &Path) {
    let _ = std::fs::remove_dir_all(dir(runtime));
}
