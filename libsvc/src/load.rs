//! Loading a set of declarations: directory layering, enablement
//! directories, instances of templates.

use crate::decl;
use crate::diag::Diagnostic;
use crate::ini::Document;
use crate::model::{Declaration, DepKind};
use crate::names::{self, NameKind};
use crate::paths::Paths;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Where to read declarations and enablement from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Layout {
    /// Earliest first: for the same name the earlier directory wins.
    pub services: Vec<PathBuf>,
    /// The directory holding `TARGET/NAME` entries, if any.
    pub enabled: Option<PathBuf>,
}

impl Layout {
    /// A user's declarations, from `XDG_CONFIG_HOME` or `HOME` only: reading
    /// files needs no runtime directory.
    pub fn user(var: impl Fn(&str) -> Option<PathBuf>) -> Result<Self, crate::paths::PathsError> {
        let config = crate::paths::user_config_dir(&var)?;
        Ok(Self {
            services: vec![config.join("services.d")],
            enabled: Some(config.join("enabled")),
        })
    }

    pub fn user_from_env() -> Result<Self, crate::paths::PathsError> {
        Self::user(|k| std::env::var_os(k).map(PathBuf::from))
    }
}

impl From<&Paths> for Layout {
    fn from(p: &Paths) -> Self {
        Self {
            services: p.services.clone(),
            enabled: Some(p.enabled.clone()),
        }
    }
}

/// A template file, kept as INI so instances can be made from it later.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    pub name: String,
    pub file: PathBuf,
    pub document: Document,
    /// The template has errors of its own; it makes no instances.
    pub broken: bool,
}

/// `enabled/TARGET/NAME`: `NAME` is a `wants` of `TARGET`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Enabled {
    pub target: String,
    pub name: String,
    pub path: PathBuf,
}

/// Everything loaded, with every problem found on the way.
#[derive(Debug, Clone, Default)]
pub struct ServiceSet {
    /// Boxed: a B-tree node has room for eleven, and a declaration is a
    /// few hundred bytes.
    pub declarations: BTreeMap<String, Box<Declaration>>,
    pub templates: BTreeMap<String, Template>,
    pub enabled: Vec<Enabled>,
    /// Names whose file exists but has errors: references to them are not
    /// reported again as unknown.
    pub broken: BTreeMap<String, PathBuf>,
    /// Files shadowed by an earlier directory: `(name, shadowed file, winning file)`.
    pub shadowed: Vec<(String, PathBuf, PathBuf)>,
    pub diagnostics: Vec<Diagnostic>,
}

/// One file, read and parsed, not yet added to a set.
enum Parsed {
    Unreadable(Diagnostic),
    Template(Document, Vec<Diagnostic>),
    Declaration(Option<Box<Declaration>>, Vec<Diagnostic>),
}

fn parse_bytes(name: &str, path: &Path, bytes: &[u8]) -> Parsed {
    if names::classify(name) == Ok(NameKind::Template) {
        let (document, diags) = decl::parse_template(name, path, bytes);
        return Parsed::Template(document, diags);
    }
    let (decl, diags) = decl::parse(name, path, bytes, None);
    Parsed::Declaration(decl.map(Box::new), diags)
}

fn read_and_parse(name: &str, path: &Path) -> Parsed {
    match decl::read_file(path) {
        Ok(bytes) => parse_bytes(name, path, &bytes),
        Err(d) => Parsed::Unreadable(d),
    }
}

/// Files per thread below which one thread does it all: starting a
/// thread costs about what reading and parsing a few dozen files does.
const FILES_PER_THREAD: usize = 128;

/// Reads and parses `files` on up to one thread per CPU (at most four),
/// results in the order given. A boot with a thousand declarations spends
/// most of its loading time in open/read system calls and in the parser,
/// both of which divide cleanly; the set itself is then built on this
/// thread, in order, so the outcome does not depend on the split.
fn read_and_parse_all(files: &[(&String, &PathBuf)]) -> Vec<Parsed> {
    // Asked only when there is enough to divide: the answer costs a walk
    // of this process's cgroup files.
    let threads = match files.len() / FILES_PER_THREAD {
        0 | 1 => 1,
        most => std::thread::available_parallelism().map_or(1, |n| n.get().min(4).min(most)),
    };
    if threads == 1 {
        return files.iter().map(|(n, p)| read_and_parse(n, p)).collect();
    }
    let chunk = files.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let workers: Vec<_> = files
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    part.iter()
                        .map(|(n, p)| read_and_parse(n, p))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| match w.join() {
                Ok(parsed) => parsed,
                // The parser does not panic on any input (fuzzed); should
                // it ever, the panic goes on as if it had happened here.
                Err(panic) => std::panic::resume_unwind(panic),
            })
            .collect()
    })
}

impl ServiceSet {
    /// Loads every directory of `layout` and the enablement directory, then
    /// makes the instances that anything names.
    pub fn load(layout: &Layout) -> Self {
        let mut set = Self::default();
        let mut files: BTreeMap<String, PathBuf> = BTreeMap::new();
        for dir in &layout.services {
            set.scan_dir(dir, &mut files);
        }
        let files: Vec<(&String, &PathBuf)> = files.iter().collect();
        for ((name, file), parsed) in files.iter().zip(read_and_parse_all(&files)) {
            set.add_parsed(name, file, parsed);
        }
        if let Some(dir) = &layout.enabled {
            set.scan_enabled(dir);
        }
        set.instantiate_referenced();
        set
    }

    /// Loads exactly the files given (for `svcctl check FILE…`); later
    /// files with the same name as earlier ones are reported.
    pub fn load_files(paths: &[PathBuf]) -> Self {
        let mut set = Self::default();
        let mut seen: BTreeMap<String, PathBuf> = BTreeMap::new();
        for path in paths {
            let name = match decl::name_from_path(path) {
                Ok(n) => n,
                Err(e) => {
                    set.diagnostics.push(Diagnostic::error(path, None, e));
                    continue;
                }
            };
            if let Some(first) = seen.get(&name) {
                set.diagnostics.push(Diagnostic::error(
                    path,
                    None,
                    format!("declares '{name}' again (also {})", first.display()),
                ));
                continue;
            }
            seen.insert(name.clone(), path.clone());
            set.add_file(&name, path);
        }
        set.instantiate_referenced();
        set
    }

    fn scan_dir(&mut self, dir: &Path, files: &mut BTreeMap<String, PathBuf>) {
        let entries = match std::fs::read_dir(dir) {
            Ok(e) => e,
            // A layer that does not exist is simply empty (most hosts lack /run/svc/services.d).
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return,
            Err(e) => {
                self.diagnostics.push(Diagnostic::error(
                    dir,
                    None,
                    format!("cannot read directory: {}", decl::io_reason(&e)),
                ));
                return;
            }
        };
        let mut paths: Vec<PathBuf> = Vec::new();
        for entry in entries {
            match entry {
                Ok(e) => paths.push(e.path()),
                Err(e) => self.diagnostics.push(Diagnostic::error(
                    dir,
                    None,
                    format!("cannot read directory: {}", decl::io_reason(&e)),
                )),
            }
        }
        // By file name: comparing whole paths component by component costs more.
        paths.sort_by(|a, b| a.file_name().cmp(&b.file_name()));
        for path in paths {
            let Some(file_name) = path.file_name() else {
                continue;
            };
            if !file_name.as_encoded_bytes().ends_with(b".ini") {
                continue;
            }
            let name = match decl::name_from_path(&path) {
                Ok(n) => n,
                Err(e) => {
                    self.diagnostics.push(Diagnostic::error(&path, None, e));
                    continue;
                }
            };
            match files.get(&name) {
                Some(winner) => self.shadowed.push((name, path, winner.clone())),
                None => {
                    files.insert(name, path);
                }
            }
        }
    }

    fn add_file(&mut self, name: &str, path: &Path) {
        self.add_parsed(name, path, read_and_parse(name, path));
    }

    /// Adds one declaration (or template) from bytes already read; `path`
    /// names it in diagnostics. Call `instantiate_referenced` once all are in.
    pub fn add_bytes(&mut self, name: &str, path: &Path, bytes: &[u8]) {
        self.add_parsed(name, path, parse_bytes(name, path, bytes));
    }

    fn add_parsed(&mut self, name: &str, path: &Path, parsed: Parsed) {
        match parsed {
            Parsed::Unreadable(d) => {
                self.diagnostics.push(d);
                self.broken.insert(name.to_string(), path.to_path_buf());
            }
            Parsed::Template(document, diags) => {
                let broken = crate::diag::has_errors(&diags);
                self.diagnostics.extend(diags);
                if broken {
                    self.broken.insert(name.to_string(), path.to_path_buf());
                }
                self.templates.insert(
                    name.to_string(),
                    Template {
                        name: name.to_string(),
                        file: path.to_path_buf(),
                        document,
                        broken,
                    },
                );
            }
            Parsed::Declaration(decl, diags) => {
                self.diagnostics.extend(diags);
                match decl {
                    Some(d) => {
                        self.declarations.insert(name.to_string(), d);
                    }
                    None => {
                        self.broken.insert(name.to_string(), path.to_path_buf());
                    }
                }
            }
        }
    }

    fn scan_enabled(&mut self, dir: &Path) {
        // The type comes with the directory entry: no stat for symlinks
        // and directories.
        let read = |d: &Path| -> Result<Vec<(PathBuf, std::fs::FileType)>, String> {
            let mut v = Vec::new();
            for e in std::fs::read_dir(d).map_err(|e| decl::io_reason(&e))? {
                let e = e.map_err(|e| decl::io_reason(&e))?;
                let kind = e.file_type().map_err(|e| decl::io_reason(&e))?;
                v.push((e.path(), kind));
            }
            v.sort_by(|a, b| a.0.file_name().cmp(&b.0.file_name()));
            Ok(v)
        };
        let targets = match read(dir) {
            Ok(t) => t,
            Err(_) if !dir.exists() => return,
            Err(e) => {
                self.diagnostics.push(Diagnostic::error(
                    dir,
                    None,
                    format!("cannot read enablement directory: {e}"),
                ));
                return;
            }
        };
        for (target_dir, kind) in targets {
            let target = target_dir
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("")
                .to_string();
            if let Err(e) = names::check_reference(&target) {
                self.diagnostics
                    .push(Diagnostic::error(&target_dir, None, e));
                continue;
            }
            if !(kind.is_dir() || kind.is_symlink() && target_dir.is_dir()) {
                self.diagnostics.push(Diagnostic::error(
                    &target_dir,
                    None,
                    "expected a directory named after a target (enabled/TARGET/NAME)",
                ));
                continue;
            }
            let entries = match read(&target_dir) {
                Ok(e) => e,
                Err(e) => {
                    self.diagnostics.push(Diagnostic::error(
                        &target_dir,
                        None,
                        format!("cannot read: {e}"),
                    ));
                    continue;
                }
            };
            for (path, kind) in entries {
                let name = path
                    .file_name()
                    .and_then(|n| n.to_str())
                    .unwrap_or("")
                    .to_string();
                if let Err(e) = names::check_reference(&name) {
                    self.diagnostics.push(Diagnostic::error(&path, None, e));
                    continue;
                }
                let meta = if kind.is_symlink() {
                    Ok(None)
                } else {
                    std::fs::symlink_metadata(&path).map(Some)
                };
                match meta {
                    Ok(None) => {}
                    Ok(Some(m)) if m.is_file() && m.len() == 0 => {}
                    Ok(Some(m)) if m.is_file() => self.diagnostics.push(Diagnostic::warning(
                        &path,
                        None,
                        "enablement entries are empty files or symlinks; the contents are ignored",
                    )),
                    Ok(_) => {
                        self.diagnostics.push(Diagnostic::error(
                            &path,
                            None,
                            "expected an empty file or a symlink (enabled/TARGET/NAME)",
                        ));
                        continue;
                    }
                    Err(e) => {
                        self.diagnostics
                            .push(Diagnostic::error(&path, None, decl::io_reason(&e)));
                        continue;
                    }
                }
                self.enabled.push(Enabled {
                    target: target.clone(),
                    name,
                    path,
                });
            }
        }
    }

    /// Makes an instance of a template (`getty@tty1` from `getty@.ini`) if
    /// it is not already declared. Returns whether the name is now declared.
    pub fn instantiate(&mut self, name: &str) -> bool {
        if self.declarations.contains_key(name) {
            return true;
        }
        let Ok(NameKind::Instance { template, instance }) = names::classify(name) else {
            return false;
        };
        let Some(t) = self.templates.get(template) else {
            return false;
        };
        if t.broken || self.broken.contains_key(name) {
            return false;
        }
        let mut diags = Vec::new();
        let decl = decl::from_document(name, &t.file, &t.document, Some(instance), &mut diags);
        for mut d in diags {
            d.message = format!("{} (in instance {name})", d.message);
            self.diagnostics.push(d);
        }
        match decl {
            Some(d) => {
                self.declarations.insert(name.to_string(), Box::new(d));
                true
            }
            None => {
                self.broken.insert(name.to_string(), t.file.clone());
                false
            }
        }
    }

    /// Instances come into being when something names them: a `requires`
    /// or `wants` entry, or an enablement entry.
    pub fn instantiate_referenced(&mut self) {
        let mut queue: Vec<String> = self.enabled.iter().map(|e| e.name.clone()).collect();
        queue.extend(self.enabled.iter().map(|e| e.target.clone()));
        for d in self.declarations.values() {
            queue.extend(d.deps.get(DepKind::Requires).iter().cloned());
            queue.extend(d.deps.get(DepKind::Wants).iter().cloned());
        }
        let mut tried = BTreeSet::new();
        while let Some(name) = queue.pop() {
            if self.declarations.contains_key(&name) || !tried.insert(name.clone()) {
                continue;
            }
            if self.instantiate(&name) {
                let d = &self.declarations[&name];
                for kind in [DepKind::Requires, DepKind::Wants] {
                    queue.extend(d.deps.get(kind).iter().cloned());
                }
            }
        }
    }

    /// Targets each declaration is enabled in.
    pub fn enabled_in(&self, name: &str) -> Vec<&str> {
        let mut v: Vec<&str> = self
            .enabled
            .iter()
            .filter(|e| e.name == name)
            .map(|e| e.target.as_str())
            .collect();
        v.dedup();
        v
    }

    pub fn has_errors(&self) -> bool {
        crate::diag::has_errors(&self.diagnostics)
    }
}
