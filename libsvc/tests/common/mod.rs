//! Helpers shared by the integration tests.
#![allow(dead_code)]

use libsvc::Diagnostic;
use libsvc::graph::Graph;
use libsvc::load::ServiceSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// A directory under the system temp dir, removed on drop (also when the
/// test fails).
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        static N: AtomicUsize = AtomicUsize::new(0);
        let p = std::env::temp_dir().join(format!(
            "libsvc-test-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
    /// Writes `rel` (creating parent directories) and returns its path.
    pub fn write(&self, rel: &str, content: impl AsRef<[u8]>) -> PathBuf {
        let p = self.0.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, content).unwrap();
        p
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A set built in memory from `(name, text)` pairs.
pub fn set_of(files: &[(&str, &str)]) -> ServiceSet {
    let mut set = ServiceSet::default();
    for (name, text) in files {
        set.add_bytes(name, Path::new(&format!("{name}.ini")), text.as_bytes());
    }
    set.instantiate_referenced();
    set
}

/// The graph of a set that must load without errors.
pub fn graph_of(files: &[(&str, &str)]) -> Graph {
    let set = set_of(files);
    assert!(!set.has_errors(), "{:#?}", set.diagnostics);
    let (g, diags) = Graph::build(&set);
    assert!(!diags.iter().any(Diagnostic::is_error), "{diags:#?}");
    g
}

/// A service running `sleep`, with these `[dependencies]` lines.
pub fn svc(deps: &str) -> String {
    format!("[service]\nexec = /bin/sleep 1000\n[dependencies]\n{deps}\n")
}

/// A target with these `[dependencies]` lines.
pub fn target(deps: &str) -> String {
    format!("[target]\n[dependencies]\n{deps}\n")
}

pub fn messages(diags: &[Diagnostic]) -> Vec<String> {
    diags.iter().map(|d| d.to_string()).collect()
}
