//! From INI sections to a typed `Declaration`: every key checked, every
//! default applied, every problem reported with `file:line` at once.

use crate::cmdline;
use crate::diag::{Diagnostic, suggest};
use crate::ini::{self, Document, Entry};
use crate::model::*;
use crate::names::{self, NameKind};
use crate::signal::parse_signal;
use crate::units::{self, ValueError, parse_bool, parse_duration, parse_size};
use std::borrow::Cow;
use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};

pub const SECTIONS: [&str; 5] = [
    "service",
    "target",
    "dependencies",
    "environment",
    "logging",
];

pub const SERVICE_KEYS: &[&str] = &[
    "description",
    "exec",
    "type",
    "pidfile",
    "exec-pre",
    "exec-stop",
    "ready",
    "ready-timeout",
    "restart",
    "restart-delay",
    "restart-delay-max",
    "restart-reset",
    "restart-limit",
    "stop-signal",
    "stop-timeout",
    "reload-signal",
    "user",
    "group",
    "supplementary-groups",
    "working-directory",
    "root-directory",
    "umask",
    "environment-file",
    "clear-environment",
    "runtime-directory",
    "nice",
    "no-new-privileges",
    "limit-cpu",
    "limit-fsize",
    "limit-data",
    "limit-stack",
    "limit-core",
    "limit-rss",
    "limit-nproc",
    "limit-nofile",
    "limit-memlock",
    "limit-as",
    "limit-locks",
    "limit-sigpending",
    "limit-msgqueue",
    "limit-nice",
    "limit-rtprio",
    "limit-rttime",
    "memory-max",
    "memory-high",
    "memory-swap-max",
    "cpu-weight",
    "cpu-max",
    "pids-max",
    "io-weight",
];
const SERVICE_LIST_KEYS: &[&str] = &[
    "exec-pre",
    "supplementary-groups",
    "environment-file",
    "runtime-directory",
];
pub const TARGET_KEYS: &[&str] = &["description"];
pub const DEPENDENCY_KEYS: &[&str] = &[
    "requires",
    "wants",
    "after",
    "before",
    "provides",
    "conflicts",
    "wanted-by",
];
pub const LOGGING_KEYS: &[&str] = &["output", "max-size", "max-files", "timestamps"];

/// Largest declaration file read; anything bigger is surely not one.
pub const MAX_FILE: u64 = 16 << 20;

/// Reads a declaration file, turning every way that can fail into one
/// diagnostic naming the file. Only a regular file (after symlinks) is
/// read: the open is non-blocking, so a FIFO cannot hang the caller (the
/// manager's loop, `svcctl check`), and the type comes from fstat on the
/// opened descriptor, so nothing can be swapped in between.
pub fn read_file(path: &Path) -> Result<Vec<u8>, Diagnostic> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let fail = |what: String| Diagnostic::error(path, None, what);
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| fail(open_failure(path, &e)))?;
    let meta = file.metadata().map_err(|e| fail(io_reason(&e)))?;
    if !meta.is_file() {
        return Err(fail(format!(
            "not a regular file ({})",
            file_kind(&meta.file_type())
        )));
    }
    if meta.len() > MAX_FILE {
        return Err(fail(format!(
            "larger than {MAX_FILE} bytes; not a declaration"
        )));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize + 1);
    // The size can change after fstat (or lie, in /proc): the read itself
    // is bounded too.
    (&mut file)
        .take(MAX_FILE + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| fail(io_reason(&e)))?;
    if bytes.len() as u64 > MAX_FILE {
        return Err(fail(format!(
            "larger than {MAX_FILE} bytes; not a declaration"
        )));
    }
    Ok(bytes)
}

/// What a file is, in the words of `not a regular file (…)`.
pub fn file_kind(t: &std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if t.is_dir() {
        "directory"
    } else if t.is_fifo() {
        "fifo"
    } else if t.is_socket() {
        "socket"
    } else if t.is_char_device() {
        "character device"
    } else if t.is_block_device() {
        "block device"
    } else if t.is_symlink() {
        "symlink"
    } else if t.is_file() {
        "regular file"
    } else {
        "unknown type"
    }
}

/// Why `open` failed, said about what is there: a socket cannot be opened
/// at all (ENXIO), and a dangling symlink looks like a missing file.
fn open_failure(path: &Path, e: &std::io::Error) -> String {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() && e.kind() == std::io::ErrorKind::NotFound => {
            match std::fs::read_link(path) {
                Ok(to) => format!("dangling symlink (to {})", to.display()),
                Err(_) => "dangling symlink".to_string(),
            }
        }
        _ if e.raw_os_error() == Some(nix::libc::ENXIO) => match std::fs::metadata(path) {
            Ok(m) => format!("not a regular file ({})", file_kind(&m.file_type())),
            Err(_) => io_reason(e),
        },
        _ => io_reason(e),
    }
}

/// An I/O error in words, without the `(os error N)` tail.
pub fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".to_string(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        _ => {
            let s = e.to_string();
            match s.find(" (os error") {
                Some(i) => s[..i].to_string(),
                None => s,
            }
            .to_lowercase()
        }
    }
}

/// The name a declaration file declares: `nginx.ini` → `nginx`.
pub fn name_from_path(path: &Path) -> Result<String, String> {
    let file_name = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| "file name is not valid UTF-8".to_string())?;
    let name = file_name
        .strip_suffix(".ini")
        .ok_or_else(|| "file name does not end in '.ini'".to_string())?;
    names::classify(name).map_err(|e| format!("bad file name: {e}"))?;
    Ok(name.to_string())
}

/// Expands `%i` and `%%` in a template's value.
pub fn expand(value: &str, instance: &str) -> Result<String, String> {
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('i') => out.push_str(instance),
            Some('%') => out.push('%'),
            Some(other) => {
                return Err(format!(
                    "'%{other}' is not allowed in a template; only %i (the instance name) and %% (a literal %) are"
                ));
            }
            None => {
                return Err(
                    "'%' at the end of the value; write %% for a literal % in a template"
                        .to_string(),
                );
            }
        }
    }
    Ok(out)
}

/// The instance name used to check a template on its own.
pub const TEMPLATE_CHECK_INSTANCE: &str = "instance";

/// Parses one declaration file's bytes. `name` is the declaration's name;
/// for an instance, `instance` is its instance part and the file is the
/// template's. Returns the declaration when there is no error, and every
/// diagnostic in any case.
pub fn parse(
    name: &str,
    file: &Path,
    bytes: &[u8],
    instance: Option<&str>,
) -> (Option<Declaration>, Vec<Diagnostic>) {
    let mut diags = Vec::new();
    let doc = ini::parse(bytes, file, &mut diags);
    let decl = from_document(name, file, &doc, instance, &mut diags);
    let decl = if diags.iter().any(Diagnostic::is_error) {
        None
    } else {
        decl
    };
    (decl, diags)
}

/// Checks a template file on its own (instantiated with a placeholder name)
/// and returns its INI document for later instantiation.
pub fn parse_template(name: &str, file: &Path, bytes: &[u8]) -> (Document, Vec<Diagnostic>) {
    let mut diags = Vec::new();
    let doc = ini::parse(bytes, file, &mut diags);
    let instance_name = format!("{name}{TEMPLATE_CHECK_INSTANCE}");
    from_document(
        &instance_name,
        file,
        &doc,
        Some(TEMPLATE_CHECK_INSTANCE),
        &mut diags,
    );
    (doc, diags)
}

/// Builds a declaration from an already-lexed document. For an instance of
/// a template, every value has `%i` and `%%` expanded first.
pub fn from_document(
    name: &str,
    file: &Path,
    doc: &Document,
    instance: Option<&str>,
    diags: &mut Vec<Diagnostic>,
) -> Option<Declaration> {
    let errors_before = diags.iter().filter(|d| d.is_error()).count();
    let mut b = Builder {
        file,
        instance,
        diags,
        // Replaced by the real `exec` in `finish_service`.
        service: Service::new(Command::new(vec![String::new()])?),
        exec: None,
        restart_set: false,
        description: None,
        deps: Dependencies::default(),
        lines: SourceLines::default(),
    };
    let mut section_lines: HashMap<&str, u32> = HashMap::new();
    for section in &doc.sections {
        let sname = section.name.as_str();
        let Some(&known) = SECTIONS.iter().find(|s| **s == sname) else {
            let mut msg = format!("unknown section [{sname}]");
            if let Some(s) = suggest(sname, SECTIONS) {
                msg.push_str(&format!("; did you mean [{s}]?"));
            } else {
                msg.push_str(&format!("; expected one of [{}]", SECTIONS.join("], [")));
            }
            b.err(section.line, msg);
            continue;
        };
        if let Some(first) = section_lines.get(known) {
            b.err(
                section.line,
                format!("section [{known}] given twice (first at line {first})"),
            );
            continue;
        }
        section_lines.insert(known, section.line);
        for entry in &section.entries {
            b.entry(known, entry);
        }
    }
    let kind_line = |s: &str| section_lines.get(s).copied();
    let kind = match (kind_line("service"), kind_line("target")) {
        (Some(_), Some(t)) => {
            b.err(
                t,
                "a file has either [service] or [target], not both".to_string(),
            );
            None
        }
        (None, None) => {
            b.diags.push(Diagnostic::error(
                file,
                None,
                "no [service] or [target] section; a declaration needs exactly one",
            ));
            None
        }
        (Some(line), None) => b.finish_service(line).map(|s| Kind::Service(Box::new(s))),
        (None, Some(_)) => {
            for s in ["environment", "logging"] {
                if let Some(line) = kind_line(s) {
                    b.err(
                        line,
                        format!("section [{s}] is only allowed with [service], not in a target"),
                    );
                }
            }
            Some(Kind::Target)
        }
    };
    let errors_after = b.diags.iter().filter(|d| d.is_error()).count();
    let kind = kind?;
    if errors_after > errors_before {
        return None;
    }
    Some(Declaration {
        name: name.to_string(),
        file: file.to_path_buf(),
        description: b.description,
        kind,
        deps: {
            let mut deps = b.deps;
            deps.shrink_to_fit();
            deps
        },
        from_template: instance.is_some()
            && matches!(names::classify(name), Ok(NameKind::Instance { .. })),
        lines: {
            let mut lines = b.lines;
            lines.shrink_to_fit();
            lines
        },
    })
}

struct Builder<'a> {
    file: &'a Path,
    instance: Option<&'a str>,
    diags: &'a mut Vec<Diagnostic>,
    service: Service,
    exec: Option<Command>,
    restart_set: bool,
    description: Option<String>,
    deps: Dependencies,
    lines: SourceLines,
}

type KeyResult = Result<(), String>;

fn bad(key: &str, e: ValueError) -> String {
    format!("invalid value for '{key}': {e}")
}

impl Builder<'_> {
    fn err(&mut self, line: u32, msg: String) {
        self.diags
            .push(Diagnostic::error(self.file, Some(line), msg));
    }

    fn entry(&mut self, section: &'static str, e: &Entry) {
        let keys: &[&str] = match section {
            "service" => SERVICE_KEYS,
            "target" => TARGET_KEYS,
            "dependencies" => DEPENDENCY_KEYS,
            "logging" => LOGGING_KEYS,
            _ => &[],
        };
        let key = e.key.as_str();
        if section == "environment" {
            if !valid_env_name(key) {
                self.err(
                    e.line,
                    format!("'{key}' is not a valid environment variable name (letters, digits and '_', not starting with a digit)"),
                );
                return;
            }
        } else if !keys.contains(&key) {
            let msg = unknown_key_message(key, section, keys);
            self.err(e.line, msg);
            return;
        }
        let is_list =
            section == "dependencies" || (section == "service" && SERVICE_LIST_KEYS.contains(&key));
        match self.lines.key(section, key) {
            Some(first) if !is_list => {
                let msg = format!("'{key}' given twice in [{section}] (first at line {first})");
                self.err(e.line, msg);
                return;
            }
            Some(_) => {}
            None => self.lines.add_key(section, key, e.line),
        }
        let value = match self.instance {
            Some(instance) => match expand(&e.value, instance) {
                Ok(v) => Cow::Owned(v),
                Err(msg) => {
                    self.err(e.line, format!("in '{key}': {msg}"));
                    return;
                }
            },
            None => Cow::Borrowed(e.value.as_str()),
        };
        let result = match section {
            "service" => self.service_key(key, &value),
            "target" => {
                self.description = Some(value.into_owned());
                Ok(())
            }
            "dependencies" => self.dependency_key(key, &value, e.line),
            "environment" => {
                self.service
                    .rare_mut()
                    .environment
                    .push((key.to_string(), value.into_owned()));
                Ok(())
            }
            _ => self.logging_key(key, &value),
        };
        if let Err(msg) = result {
            self.err(e.line, msg);
        }
    }

    fn service_key(&mut self, key: &str, value: &str) -> KeyResult {
        let s = &mut self.service;
        if value.is_empty() && !SERVICE_LIST_KEYS.contains(&key) && key != "description" {
            return Err(format!(
                "empty value for '{key}'; expected {}",
                expected_for(key)
            ));
        }
        match key {
            "description" => self.description = Some(value.to_string()),
            "exec" => self.exec = Some(command(key, value)?),
            "type" => {
                s.service_type = match value {
                    "simple" => ServiceType::Simple,
                    "oneshot" => ServiceType::Oneshot,
                    "forking" => ServiceType::Forking,
                    _ => return Err(choice(key, value, &["simple", "oneshot", "forking"])),
                }
            }
            "pidfile" => s.rare_mut().pidfile = Some(absolute_path(key, value)?),
            "exec-pre" => {
                if value.is_empty() {
                    s.rare_mut().exec_pre.clear();
                } else {
                    s.rare_mut().exec_pre.push(command(key, value)?);
                }
            }
            "exec-stop" => s.rare_mut().exec_stop = Some(command(key, value)?),
            "ready" => s.ready = ready(value)?,
            "ready-timeout" => s.ready_timeout = parse_duration(value).map_err(|e| bad(key, e))?,
            "restart" => {
                s.restart = match value {
                    "always" => Restart::Always,
                    "on-failure" => Restart::OnFailure,
                    "never" => Restart::Never,
                    _ => return Err(choice(key, value, &["always", "on-failure", "never"])),
                };
                self.restart_set = true;
            }
            "restart-delay" => s.restart_delay = parse_duration(value).map_err(|e| bad(key, e))?,
            "restart-delay-max" => {
                s.restart_delay_max = parse_duration(value).map_err(|e| bad(key, e))?
            }
            "restart-reset" => s.restart_reset = parse_duration(value).map_err(|e| bad(key, e))?,
            "restart-limit" => {
                s.restart_limit = number(key, value, "a number of starts (0 = no limit)")?
            }
            "stop-signal" => s.stop_signal = parse_signal(value).map_err(|e| bad(key, e))?,
            "stop-timeout" => s.stop_timeout = parse_duration(value).map_err(|e| bad(key, e))?,
            "reload-signal" => s.reload_signal = parse_signal(value).map_err(|e| bad(key, e))?,
            "user" => s.rare_mut().user = Some(account(key, value)?),
            "group" => s.rare_mut().group = Some(account(key, value)?),
            "supplementary-groups" => {
                if value.is_empty() {
                    s.rare_mut().supplementary_groups.clear();
                }
                for word in list(key, value)? {
                    s.rare_mut().supplementary_groups.push(account(key, &word)?);
                }
            }
            "working-directory" => s.rare_mut().working_directory = absolute_path(key, value)?,
            "root-directory" => s.rare_mut().root_directory = absolute_path(key, value)?,
            "umask" => s.umask = umask(value)?,
            "environment-file" => {
                if value.is_empty() {
                    s.rare_mut().environment_files.clear();
                }
                for word in list(key, value)? {
                    let (optional, path) = match word.strip_prefix('-') {
                        Some(p) => (true, p),
                        None => (false, word.as_str()),
                    };
                    let path = absolute_path(key, path)?;
                    s.rare_mut()
                        .environment_files
                        .push(EnvFile { path, optional });
                }
            }
            "clear-environment" => {
                s.clear_environment = parse_bool(value).map_err(|e| bad(key, e))?
            }
            "runtime-directory" => {
                if value.is_empty() {
                    s.rare_mut().runtime_directories.clear();
                }
                for word in list(key, value)? {
                    s.rare_mut()
                        .runtime_directories
                        .push(relative_path(key, &word)?);
                }
            }
            "nice" => {
                let n: i32 = value
                    .parse()
                    .ok()
                    .filter(|n| (-20..=19).contains(n))
                    .ok_or_else(|| format!("invalid value for 'nice': expected a number from -20 to 19, found '{value}'"))?;
                s.rare_mut().nice = Some(n);
            }
            "no-new-privileges" => {
                s.rare_mut().no_new_privileges = parse_bool(value).map_err(|e| bad(key, e))?
            }
            "memory-max" => s.cgroup_mut().memory_max = Some(cgroup_size(key, value, 4096)?),
            "memory-high" => s.cgroup_mut().memory_high = Some(cgroup_size(key, value, 4096)?),
            "memory-swap-max" => s.cgroup_mut().memory_swap_max = Some(cgroup_size(key, value, 0)?),
            "cpu-weight" => s.cgroup_mut().cpu_weight = Some(weight(key, value)?),
            "io-weight" => s.cgroup_mut().io_weight = Some(weight(key, value)?),
            "cpu-max" => s.cgroup_mut().cpu_max = Some(cpu_max(value)?),
            "pids-max" => s.cgroup_mut().pids_max = Some(pids_max(value)?),
            _ => {
                // Only limit-* keys remain: SERVICE_KEYS was checked by the caller.
                let resource = Resource::from_key(key)
                    .ok_or_else(|| format!("unknown key '{key}' in [service]"))?;
                s.rare_mut().limits.set(resource, rlimit(resource, value)?);
            }
        }
        Ok(())
    }

    fn dependency_key(&mut self, key: &str, value: &str, line: u32) -> KeyResult {
        let kind = DepKind::ALL
            .into_iter()
            .find(|k| k.key() == key)
            .ok_or_else(|| format!("unknown key '{key}' in [dependencies]"))?;
        let items = list(key, value)?;
        if value.is_empty() {
            self.deps.get_mut(kind).clear();
        }
        for item in items {
            let check = if kind == DepKind::Provides {
                match names::classify(&item) {
                    Ok(NameKind::Plain) => Ok(()),
                    Ok(_) => Err(format!(
                        "'{item}' cannot be provided: a virtual name has no '@'"
                    )),
                    Err(e) => Err(e),
                }
            } else {
                names::check_reference(&item)
            };
            if let Err(e) = check {
                return Err(format!("in '{key}': {e}"));
            }
            self.lines.add_dep(kind, &item, line);
            let list = self.deps.get_mut(kind);
            if !list.contains(&item) {
                list.push(item);
            }
        }
        Ok(())
    }

    fn logging_key(&mut self, key: &str, value: &str) -> KeyResult {
        let l = &mut self.service.logging;
        match key {
            "output" => {
                l.output = match value {
                    "file" => Output::File,
                    "syslog" => Output::Syslog,
                    "console" => Output::Console,
                    "inherit" => Output::Inherit,
                    "null" => Output::Null,
                    _ => {
                        return Err(choice(
                            key,
                            value,
                            &["file", "syslog", "console", "inherit", "null"],
                        ));
                    }
                }
            }
            "max-size" => l.max_size = parse_size(value).map_err(|e| bad(key, e))?,
            "max-files" => l.max_files = number(key, value, "a number of archived files")?,
            "timestamps" => l.timestamps = parse_bool(value).map_err(|e| bad(key, e))?,
            _ => return Err(format!("unknown key '{key}' in [logging]")),
        }
        Ok(())
    }

    /// Cross-key rules, once every key of the file is known.
    fn finish_service(&mut self, section_line: u32) -> Option<Service> {
        let line_of = |b: &Self, key: &str| b.lines.key("service", key).unwrap_or(section_line);
        let Some(exec) = self.exec.take() else {
            // An `exec` that was given but invalid has been reported already.
            if self.lines.key("service", "exec").is_none() {
                self.err(
                    section_line,
                    "[service] needs 'exec', the command to run".to_string(),
                );
            }
            return None;
        };
        let placeholder = Service::new(exec.clone());
        let mut s = std::mem::replace(&mut self.service, placeholder);
        s.exec = exec;
        s.shrink_to_fit();
        if !self.restart_set && s.service_type == ServiceType::Oneshot {
            s.restart = Restart::Never;
        }
        let mut ok = true;
        match (s.service_type, &s.rare().pidfile) {
            (ServiceType::Forking, None) => {
                let line = line_of(self, "type");
                self.err(
                    line,
                    "'type = forking' needs 'pidfile', where the daemon writes its pid".to_string(),
                );
                ok = false;
            }
            (ServiceType::Simple | ServiceType::Oneshot, Some(_)) => {
                let line = line_of(self, "pidfile");
                self.err(
                    line,
                    "'pidfile' is only used with 'type = forking'".to_string(),
                );
                ok = false;
            }
            _ => {}
        }
        if s.restart_delay > s.restart_delay_max {
            let line = line_of(self, "restart-delay");
            self.err(
                line,
                format!(
                    "'restart-delay' ({}) is longer than 'restart-delay-max' ({})",
                    units::format_duration(s.restart_delay),
                    units::format_duration(s.restart_delay_max)
                ),
            );
            ok = false;
        }
        if let (Some(LimitValue::Value(high)), Some(LimitValue::Value(max))) =
            (s.cgroup_limits().memory_high, s.cgroup_limits().memory_max)
            && high >= max
        {
            let line = line_of(self, "memory-high");
            self.diags.push(Diagnostic::warning(
                self.file,
                Some(line),
                format!(
                    "'memory-high' ({}) is not below 'memory-max' ({}): the service is killed before it is ever throttled",
                    units::format_size(high),
                    units::format_size(max)
                ),
            ));
        }
        ok.then_some(s)
    }
}

fn unknown_key_message(key: &str, section: &str, keys: &[&str]) -> String {
    let mut msg = format!("unknown key '{key}' in [{section}]");
    if let Some(s) = suggest(key, keys.iter().copied()) {
        msg.push_str(&format!("; did you mean '{s}'?"));
        return msg;
    }
    for (other, other_keys) in [
        ("service", SERVICE_KEYS),
        ("dependencies", DEPENDENCY_KEYS),
        ("logging", LOGGING_KEYS),
    ] {
        if other != section && other_keys.contains(&key) {
            msg.push_str(&format!("; '{key}' belongs in [{other}]"));
            return msg;
        }
    }
    msg
}

fn expected_for(key: &str) -> &'static str {
    match key {
        "exec" | "exec-stop" => "a command",
        "ready-timeout" | "restart-delay" | "restart-delay-max" | "restart-reset"
        | "stop-timeout" => units::DURATION_EXPECTED,
        "stop-signal" | "reload-signal" => crate::signal::SIGNAL_EXPECTED,
        "clear-environment" | "no-new-privileges" => units::BOOL_EXPECTED,
        "user" | "group" => "a name or a number",
        "pidfile" | "working-directory" | "root-directory" => "an absolute path",
        "memory-max" | "memory-high" | "memory-swap-max" => units::CGROUP_SIZE_EXPECTED,
        "cpu-weight" | "io-weight" => units::WEIGHT_EXPECTED,
        "cpu-max" => units::CPU_MAX_EXPECTED,
        "pids-max" => units::PIDS_MAX_EXPECTED,
        _ => "a value",
    }
}

fn choice(key: &str, value: &str, options: &[&str]) -> String {
    let mut msg = format!(
        "invalid value for '{key}': expected one of {}, found '{value}'",
        options.join(", ")
    );
    if let Some(s) = suggest(value, options.iter().copied()) {
        msg.push_str(&format!("; did you mean '{s}'?"));
    }
    msg
}

fn command(key: &str, value: &str) -> Result<Command, String> {
    let words = cmdline::split(value).map_err(|e| format!("invalid command for '{key}': {e}"))?;
    Command::new(words).ok_or_else(|| format!("empty command for '{key}', or a word holding a NUL"))
}

fn list(key: &str, value: &str) -> Result<Vec<String>, String> {
    cmdline::split(value).map_err(|e| format!("invalid list for '{key}': {e}"))
}

fn number<T: std::str::FromStr>(key: &str, value: &str, what: &str) -> Result<T, String> {
    if !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "invalid value for '{key}': expected {what}, found '{value}'"
        ));
    }
    value.parse().map_err(|_| {
        format!("invalid value for '{key}': expected {what}, found '{value}' (too large)")
    })
}

fn absolute_path(key: &str, value: &str) -> Result<PathBuf, String> {
    let p = PathBuf::from(value);
    if p.is_absolute() {
        Ok(p)
    } else {
        Err(format!(
            "invalid value for '{key}': expected an absolute path, found '{value}'"
        ))
    }
}

fn relative_path(key: &str, value: &str) -> Result<PathBuf, String> {
    let p = PathBuf::from(value);
    if !value.is_empty() && p.components().all(|c| matches!(c, Component::Normal(_))) {
        Ok(p)
    } else {
        Err(format!(
            "invalid value for '{key}': expected a relative path without '..', found '{value}'"
        ))
    }
}

fn account(key: &str, value: &str) -> Result<Account, String> {
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        return value
            .parse()
            .map(Account::Id)
            .map_err(|_| format!("invalid value for '{key}': id '{value}' is too large"));
    }
    let valid = !value.is_empty()
        && !value.starts_with('-')
        && value
            .trim_end_matches('$')
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if valid {
        Ok(Account::Name(value.to_string()))
    } else {
        Err(format!(
            "invalid value for '{key}': expected a name or a number, found '{value}'"
        ))
    }
}

fn umask(value: &str) -> Result<u32, String> {
    let digits = value.strip_prefix("0o").unwrap_or(value);
    match u32::from_str_radix(digits, 8) {
        Ok(n) if n <= 0o777 && !digits.is_empty() && !digits.starts_with('+') => Ok(n),
        _ => Err(format!(
            "invalid value for 'umask': expected an octal mode such as 022, found '{value}'"
        )),
    }
}

fn ready(value: &str) -> Result<Ready, String> {
    let (word, rest) = match value.split_once(char::is_whitespace) {
        Some((w, r)) => (w, r.trim()),
        None => (value, ""),
    };
    let expected = "expected 'started', 'notify-fd N', 'sd-notify' or 'check COMMAND'";
    match (word, rest.is_empty()) {
        ("started", true) => Ok(Ready::Started),
        ("sd-notify", true) => Ok(Ready::SdNotify),
        ("notify-fd", false) => match rest.parse::<i32>() {
            Ok(n) if (3..=1023).contains(&n) => Ok(Ready::NotifyFd(n)),
            _ => Err(format!(
                "invalid value for 'ready': notify-fd needs a descriptor number from 3 to 1023 (0-2 are the standard streams), found '{rest}'"
            )),
        },
        ("check", false) => Ok(Ready::Check(command("ready", rest)?)),
        ("notify-fd" | "check", true) => Err(format!(
            "invalid value for 'ready': '{word}' needs an argument; {expected}"
        )),
        ("started" | "sd-notify", false) => Err(format!(
            "invalid value for 'ready': '{word}' takes no argument"
        )),
        _ => {
            let mut msg = format!("invalid value for 'ready': {expected}, found '{value}'");
            if let Some(s) = suggest(word, ["started", "notify-fd", "sd-notify", "check"]) {
                msg.push_str(&format!("; did you mean '{s}'?"));
            }
            Err(msg)
        }
    }
}

fn rlimit(resource: Resource, value: &str) -> Result<Rlimit, String> {
    let key = resource.key();
    let one = |part: &str| -> Result<LimitValue, String> {
        if part == "infinity" || part == "unlimited" {
            return Ok(LimitValue::Infinity);
        }
        let n = match resource.unit() {
            LimitUnit::Bytes => parse_size(part).ok(),
            LimitUnit::Seconds => parse_duration(part)
                .ok()
                .filter(|d| d.subsec_nanos() == 0)
                .map(|d| d.as_secs()),
            LimitUnit::Count => part
                .parse()
                .ok()
                .filter(|_| part.bytes().all(|b| b.is_ascii_digit())),
        };
        n.map(LimitValue::Value).ok_or_else(|| {
            let what = match resource.unit() {
                LimitUnit::Bytes => "a size (512K, 4M) or 'infinity'",
                LimitUnit::Seconds => "whole seconds or 'infinity'",
                LimitUnit::Count => "a number or 'infinity'",
            };
            format!("invalid value for '{key}': expected soft[:hard], each {what}, found '{value}'")
        })
    };
    let (soft, hard) = match value.split_once(':') {
        Some((s, h)) => (one(s.trim())?, one(h.trim())?),
        None => {
            let v = one(value)?;
            (v, v)
        }
    };
    if soft > hard {
        return Err(format!(
            "invalid value for '{key}': the soft limit is above the hard limit in '{value}'"
        ));
    }
    Ok(Rlimit { soft, hard })
}

fn cgroup_size(key: &str, value: &str, min: u64) -> Result<LimitValue, String> {
    let v = units::parse_cgroup_size(value).map_err(|e| bad(key, e))?;
    match v {
        LimitValue::Value(n) if n < min => Err(format!(
            "invalid value for '{key}': '{value}' is below one page and would leave the service no memory at all; write at least 4K, or 'infinity'"
        )),
        v => Ok(v),
    }
}

fn weight(key: &str, value: &str) -> Result<u32, String> {
    units::parse_weight(value).map_err(|e| bad(key, e))
}

fn cpu_max(value: &str) -> Result<CpuMax, String> {
    units::parse_cpu_max(value).map_err(|e| bad("cpu-max", e))
}

fn pids_max(value: &str) -> Result<LimitValue, String> {
    units::parse_pids_max(value).map_err(|e| bad("pids-max", e))
}

fn valid_env_name(key: &str) -> bool {
    let mut chars = key.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}
