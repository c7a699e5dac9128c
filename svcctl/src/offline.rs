//! Commands that read declaration files directly, without a manager:
//! `check`, `graph`, `list --offline`.

use crate::cli::Global;
use crate::{Status, complain};
use libsvc::Diagnostic;
use libsvc::graph::{EdgeKind, Graph};
use libsvc::host::host_warnings;
use libsvc::limits::{env_name_diagnostics, size_diagnostic, socket_diagnostic};
use libsvc::load::{Layout, ServiceSet};
use libsvc::paths::Paths;
use serde_json::json;
use std::path::{Path, PathBuf};

/// The directories to read, from the mode and the override flags.
pub(crate) fn layout(global: &Global) -> Result<Layout, Status> {
    let mut layout = if global.user {
        Layout::user_from_env().map_err(|e| {
            complain(e);
            Status::Failure
        })?
    } else {
        Layout::from(&Paths::system())
    };
    if !global.services.is_empty() {
        for dir in &global.services {
            if !dir.is_dir() {
                complain(format!("{}: not a directory", dir.display()));
                return Err(Status::Failure);
            }
        }
        layout.services = global.services.clone();
        // Explicit declaration directories come without the host's
        // enablement unless that is asked for too.
        layout.enabled = None;
    }
    if let Some(enabled) = &global.enabled {
        layout.enabled = Some(enabled.clone());
    }
    Ok(layout)
}

/// Loads the set and its graph; diagnostics of both together, sorted.
fn load(global: &Global) -> Result<(ServiceSet, Graph, Vec<Diagnostic>), Status> {
    let layout = layout(global)?;
    let set = ServiceSet::load(&layout);
    let (graph, graph_diags) = Graph::build(&set);
    let mut diags = set.diagnostics.clone();
    diags.extend(graph_diags);
    sort(&mut diags);
    Ok((set, graph, diags))
}

pub(crate) fn sort(diags: &mut [Diagnostic]) {
    diags.sort_by(|a, b| (&a.file, a.line, a.severity).cmp(&(&b.file, b.line, b.severity)));
}

pub(crate) fn diagnostic_json(d: &Diagnostic) -> serde_json::Value {
    json!({
        "severity": if d.is_error() { "error" } else { "warning" },
        "file": d.file.display().to_string(),
        "line": d.line,
        "message": d.message,
    })
}

/// The runtime directory a manager would use: the one given, else the
/// mode's default. None: user mode without XDG_RUNTIME_DIR.
pub(crate) fn runtime_dir(global: &Global, given: Option<&Path>) -> Option<PathBuf> {
    if let Some(dir) = given {
        return Some(dir.to_path_buf());
    }
    Paths::for_mode(global.user).ok().map(|p| p.runtime_dir)
}

/// What `check` reports beyond parsing: what depends on the host, and the
/// limits met at start (docs/declarations.md). `import` checks what it
/// writes with this too.
pub(crate) fn start_limit_diagnostics(set: &ServiceSet, runtime: Option<&Path>) -> Vec<Diagnostic> {
    let search_path = std::env::var_os("PATH");
    let mut diags = Vec::new();
    for d in set.declarations.values() {
        diags.extend(host_warnings(d, search_path.as_deref()));
        diags.extend(size_diagnostic(d));
        diags.extend(env_name_diagnostics(d));
        if let Some(dir) = runtime {
            diags.extend(socket_diagnostic(d, dir));
        }
    }
    diags
}

pub fn check(global: &Global, files: &[PathBuf], runtime: Option<&Path>) -> Status {
    let (set, mut diags) = if files.is_empty() {
        match load(global) {
            Ok((set, _, diags)) => (set, diags),
            Err(status) => return status,
        }
    } else {
        let set = ServiceSet::load_files(files);
        let diags = set.diagnostics.clone();
        (set, diags)
    };
    let runtime = runtime_dir(global, runtime);
    if runtime.is_none() && !set.declarations.is_empty() {
        complain(
            "warning: XDG_RUNTIME_DIR is not set: supervisor socket paths are not checked (give --runtime-dir)",
        );
    }
    diags.extend(start_limit_diagnostics(&set, runtime.as_deref()));
    sort(&mut diags);
    let errors = diags.iter().filter(|d| d.is_error()).count();
    let warnings = diags.len() - errors;
    if global.json {
        let doc = json!({
            "ok": errors == 0,
            "declarations": set.declarations.len(),
            "templates": set.templates.len(),
            "errors": errors,
            "warnings": warnings,
            "diagnostics": diags.iter().map(diagnostic_json).collect::<Vec<_>>(),
        });
        println!("{doc}");
    } else {
        for d in &diags {
            complain(d);
        }
        let plural = |n: usize| if n == 1 { "" } else { "s" };
        let summary = format!(
            "{} declaration{}, {} template{}: {errors} error{}, {warnings} warning{}",
            set.declarations.len(),
            plural(set.declarations.len()),
            set.templates.len(),
            plural(set.templates.len()),
            plural(errors),
            plural(warnings),
        );
        if errors > 0 {
            complain(summary);
        } else {
            println!("{summary}");
        }
    }
    if errors > 0 {
        Status::Failure
    } else {
        Status::Success
    }
}

/// Errors found while loading, for the commands whose output is something
/// else: printed, and they make the exit status 1.
fn report_errors(diags: &[Diagnostic]) -> Status {
    let mut status = Status::Success;
    for d in diags.iter().filter(|d| d.is_error()) {
        complain(d);
        status = Status::Failure;
    }
    status
}

fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

pub fn graph(global: &Global, target: Option<&str>) -> Status {
    let (set, graph, diags) = match load(global) {
        Ok(x) => x,
        Err(status) => return status,
    };
    let status = report_errors(&diags);
    let members: Option<std::collections::BTreeSet<String>> = match target {
        None => None,
        Some(t) => match graph.closure_names(&[t]) {
            Ok(names) => Some(names.into_iter().collect()),
            Err(e) => {
                complain(e);
                return Status::Failure;
            }
        },
    };
    let shown = |n: &str| members.as_ref().is_none_or(|m| m.contains(n));
    let mut out = String::from("digraph svc {\n");
    for name in graph.names() {
        if !shown(name) {
            continue;
        }
        let shape = if set.declarations[name].is_target() {
            "doubleoctagon"
        } else {
            "box"
        };
        out.push_str(&format!("  {} [shape={shape}];\n", quote(name)));
    }
    let mut virtuals = std::collections::BTreeSet::new();
    for (provider, v) in graph.provides() {
        if shown(&provider) {
            virtuals.insert(v.clone());
            out.push_str(&format!(
                "  {} -> {} [label=\"provides\", style=dashed];\n",
                quote(&provider),
                quote(&v)
            ));
        }
    }
    for v in &virtuals {
        out.push_str(&format!("  {} [shape=diamond, style=dashed];\n", quote(v)));
    }
    for (from, to, kind) in graph.edges() {
        if !shown(&from) || !(shown(&to) || virtuals.contains(&to)) {
            continue;
        }
        let style = match kind {
            EdgeKind::Requires => "",
            EdgeKind::Wants | EdgeKind::Enabled => ", style=dashed",
            EdgeKind::After | EdgeKind::Before => ", style=dotted",
            EdgeKind::Conflicts => ", color=red, dir=both",
        };
        out.push_str(&format!(
            "  {} -> {} [label=\"{kind}\"{style}];\n",
            quote(&from),
            quote(&to)
        ));
    }
    out.push_str("}\n");
    print!("{out}");
    status
}

pub fn list(global: &Global) -> Status {
    let (set, _, diags) = match load(global) {
        Ok(x) => x,
        Err(status) => return status,
    };
    let status = report_errors(&diags);
    struct Row {
        name: String,
        kind: &'static str,
        file: PathBuf,
        description: Option<String>,
        instance_of: Option<String>,
        provides: Vec<String>,
    }
    let mut rows: Vec<Row> = set
        .declarations
        .values()
        .map(|d| Row {
            name: d.name.clone(),
            kind: if d.is_target() { "target" } else { "service" },
            file: d.file.clone(),
            description: d.description.clone(),
            instance_of: d.template().map(str::to_owned),
            provides: d.deps.get(libsvc::DepKind::Provides).to_vec(),
        })
        .collect();
    rows.extend(set.templates.values().filter(|t| !t.broken).map(|t| Row {
        name: t.name.clone(),
        kind: "template",
        file: t.file.clone(),
        description: None,
        instance_of: None,
        provides: Vec::new(),
    }));
    rows.extend(
        set.broken
            .iter()
            .filter(|(name, _)| !set.templates.contains_key(*name) || set.templates[*name].broken)
            .map(|(name, file)| Row {
                name: name.clone(),
                kind: "invalid",
                file: file.clone(),
                description: None,
                instance_of: None,
                provides: Vec::new(),
            }),
    );
    rows.sort_by(|a, b| a.name.cmp(&b.name));
    if global.json {
        let items: Vec<_> = rows
            .iter()
            .map(|r| {
                json!({
                    "name": r.name,
                    "kind": r.kind,
                    "file": r.file.display().to_string(),
                    "description": r.description,
                    "enabled_in": set.enabled_in(&r.name),
                    "instance_of": r.instance_of,
                    "provides": r.provides,
                })
            })
            .collect();
        println!("{}", json!({ "declarations": items }));
    } else {
        let width = rows.iter().map(|r| r.name.len()).max().unwrap_or(4).max(4);
        println!(
            "{:width$}  {:8}  {:16}  DESCRIPTION",
            "NAME", "KIND", "ENABLED-IN"
        );
        for r in &rows {
            let enabled = set.enabled_in(&r.name).join(",");
            let enabled = if enabled.is_empty() {
                "-".to_string()
            } else {
                enabled
            };
            println!(
                "{:width$}  {:8}  {:16}  {}",
                r.name,
                r.kind,
                enabled,
                r.description.as_deref().unwrap_or("")
            );
        }
    }
    status
}
