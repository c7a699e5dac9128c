//! `svcctl import`: declarations from systemd units, OpenRC scripts, LSB
//! init scripts and runit service directories (docs/import.md).
//!
//! The importers only fill drafts (draft.rs); this driver guesses each
//! source's format, validates every draft exactly as `svcctl check` would
//! read the file, writes it (never over an existing one without
//! `--force`), enables it, and reports every line left out.

pub mod draft;
pub mod lsb;
pub mod openrc;
pub mod runit;
mod sh;
mod shared;
pub mod systemd;

use crate::cli::Global;
use crate::offline;
use crate::{Status, complain};
use draft::{Draft, Note};
use libsvc::Diagnostic;
use libsvc::load::ServiceSet;
use serde_json::json;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The source formats. Each has a module with `looks_like` and `import`
/// (see draft.rs); `--from` names one, else the first whose `looks_like`
/// says yes, in this order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Systemd,
    Openrc,
    Lsb,
    Runit,
}

impl Format {
    /// The order formats are tried in when guessing.
    const ALL: &'static [Format] = &[Format::Systemd, Format::Openrc, Format::Lsb, Format::Runit];

    fn looks_like(self, path: &Path, head: &[u8]) -> bool {
        match self {
            Format::Systemd => systemd::looks_like(path, head),
            Format::Openrc => openrc::looks_like(path, head),
            Format::Lsb => lsb::looks_like(path, head),
            Format::Runit => runit::looks_like(path, head),
        }
    }

    fn import(self, path: &Path) -> Result<Vec<Draft>, Note> {
        match self {
            Format::Systemd => systemd::import(path),
            Format::Openrc => openrc::import(path),
            Format::Lsb => lsb::import(path),
            Format::Runit => runit::import(path),
        }
    }
}

/// How much of a file is read to guess its format.
const HEAD: u64 = 4096;

/// The format of `path`: the first that claims it.
fn guess(path: &Path) -> Result<Format, Note> {
    let meta =
        std::fs::metadata(path).map_err(|e| Note::new(path, 0, libsvc::decl::io_reason(&e)))?;
    let head = if meta.is_dir() {
        Vec::new()
    } else if !meta.is_file() {
        // Opening a FIFO would block: only regular files are read.
        return Err(Note::new(
            path,
            0,
            format!(
                "not a regular file ({})",
                libsvc::decl::file_kind(&meta.file_type())
            ),
        ));
    } else {
        use std::io::Read;
        let mut head = Vec::new();
        std::fs::File::open(path)
            .and_then(|f| f.take(HEAD).read_to_end(&mut head))
            .map_err(|e| Note::new(path, 0, libsvc::decl::io_reason(&e)))?;
        head
    };
    Format::ALL
        .iter()
        .copied()
        .find(|f| f.looks_like(path, &head))
        .ok_or_else(|| {
            Note::new(
                path,
                0,
                "format not recognised (not a systemd unit, OpenRC or LSB script, or runit directory); give --from",
            )
        })
}

/// The command's arguments.
pub struct Options<'a> {
    pub from: Option<Format>,
    pub write: Option<&'a Path>,
    pub dry_run: bool,
    pub force: bool,
    pub paths: &'a [PathBuf],
}

/// Where declarations and enablement entries go.
struct Dest {
    services: PathBuf,
    /// None: no enablement directory in effect (an explicit declaration
    /// directory without `--enabled`), so nothing is enabled.
    enabled: Option<PathBuf>,
}

/// `--write`, else the first declaration directory in effect (`--services`,
/// `SVC_SERVICES`, the user's or the system's), as the other commands
/// choose it; enablement as they do too.
fn destination(global: &Global, write: Option<&Path>) -> Result<Dest, Status> {
    let mode_layout = if global.user {
        libsvc::load::Layout::user_from_env().map_err(|e| {
            complain(e);
            Status::Failure
        })?
    } else {
        libsvc::load::Layout::from(&libsvc::Paths::system())
    };
    let explicit = write.is_some() || !global.services.is_empty();
    let services = match (write, global.services.first()) {
        (Some(w), _) => w.to_path_buf(),
        (None, Some(s)) => s.clone(),
        (None, None) => mode_layout.services[0].clone(),
    };
    let enabled = match (&global.enabled, explicit) {
        (Some(e), _) => Some(e.clone()),
        (None, true) => None,
        (None, false) => mode_layout.enabled,
    };
    Ok(Dest { services, enabled })
}

/// What happened to one draft.
struct Outcome {
    name: String,
    file: PathBuf,
    sources: Vec<PathBuf>,
    text: String,
    written: bool,
    enabled: Vec<PathBuf>,
}

/// Everything the run reports.
#[derive(Default)]
struct Report {
    outcomes: Vec<Outcome>,
    notes: Vec<Note>,
    errors: Vec<Diagnostic>,
    warnings: Vec<Diagnostic>,
}

pub fn run(global: &Global, opts: &Options) -> Status {
    let dest = match destination(global, opts.write) {
        Ok(d) => d,
        Err(s) => return s,
    };
    let runtime = offline::runtime_dir(global, None);
    let mut report = Report::default();
    let mut names = BTreeSet::new();
    for path in opts.paths {
        let format = match opts.from {
            Some(f) => Ok(f),
            None => guess(path),
        };
        let drafts = match format.and_then(|f| f.import(path)) {
            Ok(d) => d,
            Err(note) => {
                report.errors.push(Diagnostic::error(
                    &note.file,
                    u32::try_from(note.line).ok().filter(|l| *l > 0),
                    format!("not imported: {}", note.why),
                ));
                continue;
            }
        };
        for d in drafts {
            report.notes.extend(d.notes.iter().cloned());
            if !names.insert(d.name.clone()) {
                report.errors.push(Diagnostic::error(
                    path,
                    None,
                    format!("declares '{}' again in this import; not written", d.name),
                ));
                continue;
            }
            if let Some(o) = place(&d, &dest, opts, runtime.as_deref(), &mut report) {
                report.outcomes.push(o);
            }
        }
    }
    print(global, opts, &report);
    if report.notes.is_empty() && report.errors.is_empty() {
        Status::Success
    } else {
        Status::Failure
    }
}

/// Validates, writes and enables one draft.
fn place(
    d: &Draft,
    dest: &Dest,
    opts: &Options,
    runtime: Option<&Path>,
    report: &mut Report,
) -> Option<Outcome> {
    let file = dest.services.join(d.file_name());
    let text = d.render();
    let mut set = ServiceSet::default();
    set.add_bytes(&d.name, &file, text.as_bytes());
    set.instantiate_referenced();
    let mut diags = set.diagnostics.clone();
    diags.extend(offline::start_limit_diagnostics(&set, runtime));
    offline::sort(&mut diags);
    let (errors, warnings): (Vec<_>, Vec<_>) = diags.into_iter().partition(|x| x.is_error());
    report.warnings.extend(warnings);
    if !errors.is_empty() {
        report.errors.extend(errors);
        report.errors.push(Diagnostic::error(
            &file,
            None,
            format!(
                "not written: the declaration made from {} is not valid (above)",
                d.sources[0].display()
            ),
        ));
        return None;
    }
    let mut outcome = Outcome {
        name: d.name.clone(),
        file: file.clone(),
        sources: d.sources.clone(),
        text,
        written: false,
        enabled: Vec::new(),
    };
    let template = d.name.ends_with('@');
    let enable_dir = dest.enabled.as_ref().filter(|_| !template);
    if let Some(dir) = enable_dir {
        outcome.enabled = d
            .enable_in
            .iter()
            .map(|t| dir.join(t).join(&d.name))
            .collect();
    }
    if opts.dry_run {
        if file.symlink_metadata().is_ok() && !opts.force {
            report.errors.push(Diagnostic::error(
                &file,
                None,
                "exists; use --force to replace it",
            ));
        }
        return Some(outcome);
    }
    if let Err(e) = write_file(&file, &outcome.text, opts.force) {
        report.errors.push(Diagnostic::error(&file, None, e));
        return None;
    }
    outcome.written = true;
    let mut enabled = Vec::new();
    for entry in &outcome.enabled {
        match enable(entry) {
            Ok(()) => enabled.push(entry.clone()),
            Err(e) => report.errors.push(Diagnostic::error(
                entry,
                None,
                format!("cannot enable: {e}"),
            )),
        }
    }
    outcome.enabled = enabled;
    Some(outcome)
}

/// Writes `text` to `file` (crate::declfile), the error said the way the
/// import report says it.
fn write_file(file: &Path, text: &str, force: bool) -> Result<(), String> {
    crate::declfile::write(file, text, force).map_err(|e| match e {
        crate::declfile::WriteError::Exists => "exists; use --force to replace it".to_string(),
        crate::declfile::WriteError::Io(e) => libsvc::decl::io_reason(&e),
    })
}

/// `enabled/TARGET/NAME` as an empty file, as `svcctl enable` makes it;
/// an entry already there is kept.
fn enable(entry: &Path) -> Result<(), String> {
    if entry.symlink_metadata().is_ok() {
        return Ok(());
    }
    if let Some(dir) = entry.parent() {
        std::fs::create_dir_all(dir).map_err(|e| libsvc::decl::io_reason(&e))?;
    }
    std::fs::File::create(entry)
        .map(drop)
        .map_err(|e| libsvc::decl::io_reason(&e))
}

fn note_json(n: &Note) -> serde_json::Value {
    json!({
        "file": n.file.display().to_string(),
        "line": if n.line == 0 { None } else { Some(n.line) },
        "why": n.why,
    })
}

fn print(global: &Global, opts: &Options, r: &Report) {
    if global.json {
        let decls: Vec<_> = r
            .outcomes
            .iter()
            .map(|o| {
                json!({
                    "name": o.name,
                    "file": o.file.display().to_string(),
                    "sources": o.sources.iter().map(|s| s.display().to_string()).collect::<Vec<_>>(),
                    "written": o.written,
                    "enabled": o.enabled.iter().map(|s| s.display().to_string()).collect::<Vec<_>>(),
                    "text": o.text,
                })
            })
            .collect();
        let doc = json!({
            "ok": r.notes.is_empty() && r.errors.is_empty(),
            "dry_run": opts.dry_run,
            "declarations": decls,
            "notes": r.notes.iter().map(note_json).collect::<Vec<_>>(),
            "errors": r.errors.iter().map(offline::diagnostic_json).collect::<Vec<_>>(),
            "warnings": r.warnings.iter().map(offline::diagnostic_json).collect::<Vec<_>>(),
        });
        println!("{doc}");
        return;
    }
    for n in &r.notes {
        eprintln!("{n}");
    }
    for w in &r.warnings {
        complain(w);
    }
    for e in &r.errors {
        complain(e);
    }
    for o in &r.outcomes {
        if opts.dry_run {
            println!("# would write {}", o.file.display());
            for e in &o.enabled {
                println!("# would enable {}", e.display());
            }
            print!("{}", o.text);
            println!();
        } else {
            println!("wrote {}", o.file.display());
            for e in &o.enabled {
                println!("enabled {}", e.display());
            }
        }
    }
    if !r.notes.is_empty() || !r.errors.is_empty() {
        let plural = |n: usize| if n == 1 { "" } else { "s" };
        complain(format!(
            "partial import: {} line{} not imported, {} error{}",
            r.notes.len(),
            plural(r.notes.len()),
            r.errors.len(),
            plural(r.errors.len())
        ));
    }
}
