//! systemd service units (`NAME.service`, drop-ins `NAME.service.d/*.conf`)
//! to svc declarations. Every key is either translated, or reported as a
//! note naming its file and line with the reason (docs/import.md has the
//! whole mapping).

use super::draft::{Draft, Note, Section, join_command};
use std::path::{Path, PathBuf};

#[path = "systemd/unit.rs"]
pub mod unit;

#[cfg(test)]
#[path = "systemd/tests.rs"]
mod tests;

use unit::split_words;

/// Stands for `%i` while a template's values are built: the text around
/// it is literal and gets its `%` doubled at the end (svc templates expand
/// `%i` and `%%` only). A private-use character no unit file has reason
/// to hold; one that does is refused.
const INSTANCE_MARK: char = '\u{E000}';

/// Largest unit file or drop-in read.
const MAX_UNIT: u64 = 1 << 20;

/// Unit types other than services, and why they are not imported.
const OTHER_UNIT_TYPES: &[(&str, &str)] = &[
    (".socket", "svc has no socket activation"),
    (".timer", "svc has no timers"),
    (
        ".target",
        "svc targets are written by hand (a target only groups services)",
    ),
    (
        ".mount",
        "svc has no mount units (localmount mounts /etc/fstab)",
    ),
    (".automount", "svc has no automount units"),
    (
        ".swap",
        "svc has no swap units (swap enables /etc/fstab swap)",
    ),
    (".path", "svc has no path units"),
    (".device", "svc has no device units"),
    (".slice", "svc does not use cgroup slices"),
    (".scope", "svc has no scope units"),
];

/// Keys that only confine a process (namespaces, capabilities, seccomp,
/// credentials directories): svc has none of these.
const SANDBOXING: &[&str] = &[
    "PrivateTmp",
    "PrivateDevices",
    "PrivateNetwork",
    "PrivateUsers",
    "PrivateIPC",
    "PrivateMounts",
    "ProtectSystem",
    "ProtectHome",
    "ProtectKernelTunables",
    "ProtectKernelModules",
    "ProtectKernelLogs",
    "ProtectControlGroups",
    "ProtectClock",
    "ProtectHostname",
    "ProtectProc",
    "ProcSubset",
    "ReadWritePaths",
    "ReadOnlyPaths",
    "InaccessiblePaths",
    "ExecPaths",
    "NoExecPaths",
    "TemporaryFileSystem",
    "BindPaths",
    "BindReadOnlyPaths",
    "CapabilityBoundingSet",
    "AmbientCapabilities",
    "SystemCallFilter",
    "SystemCallArchitectures",
    "SystemCallErrorNumber",
    "RestrictNamespaces",
    "RestrictRealtime",
    "RestrictSUIDSGID",
    "RestrictAddressFamilies",
    "RestrictFileSystems",
    "LockPersonality",
    "MemoryDenyWriteExecute",
    "RemoveIPC",
    "KeyringMode",
    "DevicePolicy",
    "DeviceAllow",
    "IPAddressAllow",
    "IPAddressDeny",
    "SecureBits",
    "Personality",
    "StateDirectory",
    "CacheDirectory",
    "LogsDirectory",
    "ConfigurationDirectory",
    "LoadCredential",
    "SetCredential",
    "NetworkNamespacePath",
    "SELinuxContext",
    "AppArmorProfile",
    "SmackProcessLabel",
];

/// Keys of resource control through cgroups.
const CGROUP: &[&str] = &[
    "Slice",
    "Delegate",
    "CPUAccounting",
    "CPUQuota",
    "CPUWeight",
    "CPUShares",
    "MemoryAccounting",
    "MemoryMax",
    "MemoryHigh",
    "MemoryLow",
    "MemoryMin",
    "MemoryLimit",
    "MemorySwapMax",
    "TasksAccounting",
    "TasksMax",
    "IOAccounting",
    "IOWeight",
    "BlockIOWeight",
    "IODeviceWeight",
    "AllowedCPUs",
    "AllowedMemoryNodes",
];

/// systemd's `Limit*` keys and svc's resources, with the unit of each.
#[derive(Clone, Copy, PartialEq, Eq)]
enum LimitKind {
    Bytes,
    Count,
    Seconds,
    Micros,
    Nice,
}

const LIMITS: &[(&str, &str, LimitKind)] = &[
    ("LimitCPU", "limit-cpu", LimitKind::Seconds),
    ("LimitFSIZE", "limit-fsize", LimitKind::Bytes),
    ("LimitDATA", "limit-data", LimitKind::Bytes),
    ("LimitSTACK", "limit-stack", LimitKind::Bytes),
    ("LimitCORE", "limit-core", LimitKind::Bytes),
    ("LimitRSS", "limit-rss", LimitKind::Bytes),
    ("LimitNOFILE", "limit-nofile", LimitKind::Count),
    ("LimitAS", "limit-as", LimitKind::Bytes),
    ("LimitNPROC", "limit-nproc", LimitKind::Count),
    ("LimitMEMLOCK", "limit-memlock", LimitKind::Bytes),
    ("LimitLOCKS", "limit-locks", LimitKind::Count),
    ("LimitSIGPENDING", "limit-sigpending", LimitKind::Count),
    ("LimitMSGQUEUE", "limit-msgqueue", LimitKind::Bytes),
    ("LimitNICE", "limit-nice", LimitKind::Nice),
    ("LimitRTPRIO", "limit-rtprio", LimitKind::Count),
    ("LimitRTTIME", "limit-rttime", LimitKind::Micros),
];

/// Whether these first bytes look like a systemd unit: a `.service` file
/// name, or a `[Unit]`/`[Service]` header among the first lines.
pub fn looks_like(path: &Path, head: &[u8]) -> bool {
    if path.is_dir() {
        return false;
    }
    if path.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
        // Other unit types too, so that they are refused with the reason.
        n.ends_with(".service") || OTHER_UNIT_TYPES.iter().any(|(s, _)| n.ends_with(s))
    }) {
        return true;
    }
    String::from_utf8_lossy(head)
        .lines()
        .map(str::trim)
        .any(|l| l == "[Unit]" || l == "[Service]")
}

/// Reads `path` and its drop-ins and translates them into one draft.
pub fn import(path: &Path) -> Result<Vec<Draft>, Note> {
    let mut files = vec![(path.to_path_buf(), read(path)?)];
    for dropin in dropins(path) {
        let bytes = read(&dropin)?;
        files.push((dropin, bytes));
    }
    translate(path, &files).map(|d| vec![d])
}

fn read(path: &Path) -> Result<Vec<u8>, Note> {
    if std::fs::read_link(path).is_ok_and(|to| to == Path::new("/dev/null")) {
        return Err(Note::new(path, 0, "masked (a symlink to /dev/null)"));
    }
    let meta =
        std::fs::metadata(path).map_err(|e| Note::new(path, 0, libsvc::decl::io_reason(&e)))?;
    if !meta.is_file() {
        return Err(Note::new(
            path,
            0,
            format!(
                "not a regular file ({})",
                libsvc::decl::file_kind(&meta.file_type())
            ),
        ));
    }
    if meta.len() > MAX_UNIT {
        return Err(Note::new(
            path,
            0,
            format!("larger than {MAX_UNIT} bytes; not a unit file"),
        ));
    }
    std::fs::read(path).map_err(|e| Note::new(path, 0, libsvc::decl::io_reason(&e)))
}

/// `NAME.service.d/*.conf` next to the unit (and, for an instance
/// `foo@bar.service`, the template's `foo@.service.d` too), applied as
/// systemd does: all together in lexical order of their file names, a
/// file of the instance's directory replacing the template's of the same
/// name.
fn dropins(path: &Path) -> Vec<PathBuf> {
    let Some(file_name) = path.file_name().and_then(|n| n.to_str()) else {
        return Vec::new();
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut dirs = Vec::new();
    if let Some((base, rest)) = file_name.split_once('@')
        && let Some(suffix) = rest.find('.').map(|i| &rest[i..])
        && rest.len() > suffix.len()
    {
        dirs.push(dir.join(format!("{base}@{suffix}.d")));
    }
    dirs.push(dir.join(format!("{file_name}.d")));
    let mut by_name: std::collections::BTreeMap<std::ffi::OsString, PathBuf> =
        std::collections::BTreeMap::new();
    for d in dirs {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for p in entries.filter_map(Result::ok).map(|e| e.path()) {
            if p.extension().is_some_and(|e| e == "conf")
                && let Some(n) = p.file_name()
            {
                by_name.insert(n.to_os_string(), p.clone());
            }
        }
    }
    by_name.into_values().collect()
}

/// The svc name a unit file declares: `nginx.service` → `nginx`,
/// `getty@.service` → `getty@`.
fn declared_name(path: &Path) -> Result<String, Note> {
    let file_name = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| Note::new(path, 0, "file name is not valid UTF-8"))?;
    let name = match file_name.strip_suffix(".service") {
        Some(n) => n,
        None => {
            if let Some((suffix, why)) = OTHER_UNIT_TYPES
                .iter()
                .find(|(s, _)| file_name.ends_with(s))
            {
                return Err(Note::new(
                    path,
                    0,
                    format!("a {} unit: only services are imported; {why}", &suffix[1..]),
                ));
            }
            file_name
        }
    };
    libsvc::names::classify(name).map_err(|e| Note::new(path, 0, e))?;
    Ok(name.to_string())
}

/// One value of a key after drop-ins, with where it was written.
#[derive(Debug, Clone)]
struct Val {
    value: String,
    file: usize,
    line: usize,
}

/// Every key of the unit and its drop-ins, in the order first written:
/// an empty assignment clears what came before (systemd's rule for
/// lists; for single values the last one counts anyway).
#[derive(Default)]
struct Resolved {
    keys: Vec<(String, String, Vec<Val>)>,
}

impl Resolved {
    fn add(&mut self, section: &str, key: &str, val: Val) {
        let slot = match self
            .keys
            .iter_mut()
            .find(|(s, k, _)| s == section && k == key)
        {
            Some(slot) => slot,
            None => {
                self.keys
                    .push((section.to_string(), key.to_string(), Vec::new()));
                self.keys.last_mut().expect("just pushed")
            }
        };
        if val.value.is_empty() {
            slot.2.clear();
        } else {
            slot.2.push(val);
        }
    }

    fn take(&mut self, section: &str, key: &str) -> Vec<Val> {
        match self
            .keys
            .iter_mut()
            .find(|(s, k, _)| s == section && k == key)
        {
            Some(slot) => std::mem::take(&mut slot.2),
            None => Vec::new(),
        }
    }

    fn last(&mut self, section: &str, key: &str) -> Option<Val> {
        self.take(section, key).pop()
    }
}

/// What a template or instance name gives the `%i` family of specifiers.
enum Instance {
    /// A plain unit: `%i` is empty.
    None,
    /// `foo@.service`: `%i` stays for svc to expand.
    Template,
    /// `foo@bar.service`: `%i` is `bar`.
    Literal(String),
}

struct Ctx {
    files: Vec<PathBuf>,
    /// `foo@.service`, `foo@bar.service`, `foo.service`.
    unit_name: String,
    prefix: String,
    instance: Instance,
    draft: Draft,
    /// User= or Group= is given.
    has_credentials: bool,
}

/// Translates a unit (`files[0]`) and its drop-ins (the rest, in order).
/// Pure: the files' bytes are given, so that tests and the fuzz target
/// need no file system.
pub fn translate(path: &Path, files: &[(PathBuf, Vec<u8>)]) -> Result<Draft, Note> {
    let name = declared_name(path)?;
    let (prefix, instance) = match name.split_once('@') {
        None => (name.clone(), Instance::None),
        Some((p, "")) => (p.to_string(), Instance::Template),
        Some((p, i)) => (p.to_string(), Instance::Literal(i.to_string())),
    };
    let unit_name = if path
        .file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.ends_with(".service"))
    {
        format!("{name}.service")
    } else {
        name.clone()
    };
    let mut draft = Draft::new(name, path);
    let mut resolved = Resolved::default();
    for (i, (file, bytes)) in files.iter().enumerate() {
        if i > 0 {
            draft.sources.push(file.clone());
        }
        let parsed = unit::parse(bytes);
        for (line, why) in &parsed.problems {
            draft.not_imported(file, *line, why.clone());
        }
        for (section, line) in &parsed.sections {
            if !matches!(section.as_str(), "Unit" | "Service" | "Install") {
                let why = if section.starts_with("X-") {
                    format!("[{section}]: an extension section, no meaning to svc")
                } else {
                    format!("[{section}]: not a section of a service unit")
                };
                draft.not_imported(file, *line, why);
            }
        }
        for e in parsed.entries {
            if !matches!(e.section.as_str(), "Unit" | "Service" | "Install") {
                continue;
            }
            resolved.add(
                &e.section,
                &e.key,
                Val {
                    value: e.value,
                    file: i,
                    line: e.line,
                },
            );
        }
    }
    let mut ctx = Ctx {
        files: files.iter().map(|(p, _)| p.clone()).collect(),
        unit_name,
        prefix,
        instance,
        draft,
        has_credentials: false,
    };
    ctx.translate(&mut resolved)?;
    // Whatever is left was not understood.
    for (section, key, vals) in std::mem::take(&mut resolved.keys) {
        for v in vals {
            let why = leftover_reason(&section, &key);
            ctx.note(&key, &v, why);
        }
    }
    // In the order of the sources: the unit, then its drop-ins.
    let order = |n: &Note| ctx.files.iter().position(|f| *f == n.file);
    let mut notes = std::mem::take(&mut ctx.draft.notes);
    notes.sort_by_key(|n| (order(n), n.line));
    ctx.draft.notes = notes;
    Ok(ctx.draft)
}

fn leftover_reason(section: &str, key: &str) -> String {
    if key.starts_with("X-") {
        return "an extension key, no meaning to svc".to_string();
    }
    if SANDBOXING.contains(&key) {
        return "sandboxing: svc has no equivalent".to_string();
    }
    if CGROUP.contains(&key) {
        return "resource control: svc has no such key (docs/declarations.md has the ones it has)"
            .to_string();
    }
    if key.starts_with("Condition") || key.starts_with("Assert") {
        return "svc checks no start conditions; the service is started regardless".to_string();
    }
    if key.starts_with("StartLimit") {
        return "svc limits restarts with restart-limit (consecutive failures), not a rate"
            .to_string();
    }
    format!("no equivalent in svc (in [{section}])")
}

/// Parses systemd's booleans.
fn parse_bool(s: &str) -> Option<bool> {
    match s.to_ascii_lowercase().as_str() {
        "1" | "yes" | "y" | "true" | "t" | "on" => Some(true),
        "0" | "no" | "n" | "false" | "f" | "off" => Some(false),
        _ => None,
    }
}

/// A systemd time span (`5min 20s`, `1.5h`, `300ms`, a bare number in
/// `default_unit` microseconds per unit) in microseconds; None for
/// `infinity` or something unreadable (the Err says which).
fn parse_timespan(s: &str, default_us: u128) -> Result<u128, &'static str> {
    let s = s.trim();
    if s == "infinity" {
        return Err("infinity");
    }
    let mut total: u128 = 0;
    let mut rest = s;
    let mut any = false;
    while !rest.is_empty() {
        rest = rest.trim_start();
        let end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (num, tail) = rest.split_at(end);
        if num.is_empty() {
            return Err("not a time span");
        }
        let tail = tail.trim_start();
        let uend = tail
            .find(|c: char| !c.is_alphabetic())
            .unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(uend);
        let per: u128 = match unit {
            "" => default_us,
            "us" | "usec" | "µs" | "μs" => 1,
            "ms" | "msec" => 1_000,
            "s" | "sec" | "second" | "seconds" => 1_000_000,
            "m" | "min" | "minute" | "minutes" => 60_000_000,
            "h" | "hr" | "hour" | "hours" => 3_600_000_000,
            "d" | "day" | "days" => 86_400_000_000,
            "w" | "week" | "weeks" => 604_800_000_000,
            "M" | "month" | "months" => 2_629_800_000_000,
            "y" | "year" | "years" => 31_557_600_000_000,
            _ => return Err("not a time span"),
        };
        let (int, frac) = num.split_once('.').unwrap_or((num, ""));
        let int: u128 = if int.is_empty() {
            0
        } else {
            int.parse().map_err(|_| "not a time span")?
        };
        let mut value = int.checked_mul(per).ok_or("too large")?;
        if !frac.is_empty() {
            let digits = frac.len().min(12) as u32;
            let f: u128 = frac[..digits as usize]
                .parse()
                .map_err(|_| "not a time span")?;
            value += f * per / 10u128.pow(digits);
        }
        total = total.checked_add(value).ok_or("too large")?;
        rest = tail;
        any = true;
    }
    if any {
        Ok(total)
    } else {
        Err("not a time span")
    }
}

/// A span as svc writes durations, when it is a whole number of
/// milliseconds.
fn svc_duration(us: u128) -> Option<String> {
    if us % 1000 != 0 {
        return None;
    }
    let ms = u64::try_from(us / 1000).ok()?;
    Some(libsvc::units::format_duration(
        std::time::Duration::from_millis(ms),
    ))
}

/// A size in bytes (systemd's base-1024 suffixes).
fn parse_bytes(s: &str) -> Option<u64> {
    let s = s.trim();
    let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(end);
    let n: u64 = num.parse().ok()?;
    let shift = match unit.trim() {
        "" | "B" => 0,
        "K" | "KB" | "k" => 10,
        "M" | "MB" => 20,
        "G" | "GB" => 30,
        "T" | "TB" => 40,
        "P" | "PB" => 50,
        "E" | "EB" => 60,
        _ => return None,
    };
    n.checked_mul(1u64.checked_shl(shift)?)
}

fn valid_env_name(s: &str) -> bool {
    let mut c = s.chars();
    matches!(c.next(), Some(f) if f.is_ascii_alphabetic() || f == '_')
        && c.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Characters a word may hold unquoted in a `/bin/sh -c` script.
fn sh_bare(c: char) -> bool {
    c.is_ascii_alphanumeric() || "_@%+=:,./-".contains(c)
}

/// One literal word for `/bin/sh`.
fn sh_quote(s: &str) -> String {
    if !s.is_empty() && s.chars().all(sh_bare) {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// A piece of a command word: literal text, or a `${NAME}` reference.
enum Piece {
    Text(String),
    Var(String),
}

/// A command word after systemd's variable rules: `$NAME` alone is split
/// at blanks into zero or more words, `${NAME}` anywhere is replaced by
/// the value as it is, `$$` is a `$`.
enum Word {
    Split(String),
    Pieces(Vec<Piece>),
}

fn analyse_word(w: &str) -> Word {
    if let Some(name) = w.strip_prefix('$')
        && valid_env_name(name)
    {
        return Word::Split(name.to_string());
    }
    let mut pieces = Vec::new();
    let mut text = String::new();
    let mut rest = w;
    while let Some(i) = rest.find('$') {
        text.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(a) = after.strip_prefix('$') {
            text.push('$');
            rest = a;
        } else if let Some(inner) = after.strip_prefix('{')
            && let Some(end) = inner.find('}')
            && valid_env_name(&inner[..end])
        {
            if !text.is_empty() {
                pieces.push(Piece::Text(std::mem::take(&mut text)));
            }
            pieces.push(Piece::Var(inner[..end].to_string()));
            rest = &inner[end + 1..];
        } else {
            text.push('$');
            rest = after;
        }
    }
    text.push_str(rest);
    if !text.is_empty() || pieces.is_empty() {
        pieces.push(Piece::Text(text));
    }
    Word::Pieces(pieces)
}

/// Where a command goes, which decides what its prefixes mean.
#[derive(Clone, Copy, PartialEq, Eq)]
enum CmdUse {
    Exec,
    Pre,
    Stop,
}

/// A value that cannot be written on one line of a declaration.
fn line_problem(s: &str) -> Option<&'static str> {
    if s.contains(['\n', '\r']) {
        Some("a line break cannot be written in a declaration")
    } else if s.contains('\0') {
        Some("a NUL byte cannot be written in a declaration")
    } else if s.ends_with('\\') {
        Some("a value ending in '\\' would continue the declaration's line")
    } else {
        None
    }
}

/// systemd's implicit ordering of a unit with DefaultDependencies=yes.
const DEFAULT_AFTER: &str = "sysinit";

impl Ctx {
    /// Records `Key=value` at its line as not carried over.
    fn note(&mut self, key: &str, v: &Val, why: impl AsRef<str>) {
        let mut shown: String = v.value.chars().take(80).collect();
        if shown.len() < v.value.len() {
            shown.push('…');
        }
        let file = self.files[v.file].clone();
        // A template's instance is shown as written.
        let text = format!("{key}={shown}: {}", why.as_ref()).replace(INSTANCE_MARK, "%i");
        self.draft.not_imported(&file, v.line, text);
    }

    fn is_template(&self) -> bool {
        matches!(self.instance, Instance::Template)
    }

    /// Expands systemd's specifiers (`%n`, `%i`, …) of `value`, or says
    /// which one has no meaning here.
    fn specifiers(&self, value: &str) -> Result<String, String> {
        if value.contains(INSTANCE_MARK) {
            return Err("holds the character U+E000, which the importer reserves".into());
        }
        let instance = match &self.instance {
            Instance::None => String::new(),
            Instance::Template => INSTANCE_MARK.to_string(),
            Instance::Literal(i) => i.clone(),
        };
        let name_no_suffix = match self.unit_name.strip_suffix(".service") {
            Some(n) => n.to_string(),
            None => self.unit_name.clone(),
        };
        let (name_full, name_bare) = match self.instance {
            Instance::Template => (
                format!("{}@{INSTANCE_MARK}.service", self.prefix),
                format!("{}@{INSTANCE_MARK}", self.prefix),
            ),
            _ => (self.unit_name.clone(), name_no_suffix),
        };
        let mut out = String::with_capacity(value.len());
        let mut chars = value.chars();
        while let Some(c) = chars.next() {
            if c != '%' {
                out.push(c);
                continue;
            }
            let Some(s) = chars.next() else {
                return Err("a '%' at the end is not a specifier".into());
            };
            match s {
                '%' => out.push('%'),
                'n' => out.push_str(&name_full),
                'N' => out.push_str(&name_bare),
                'p' | 'P' => out.push_str(&self.prefix),
                'i' => out.push_str(&instance),
                'I' => match &self.instance {
                    // Unescaping happens at run time in systemd; svc
                    // expands %i only.
                    Instance::Template => {
                        return Err(
                            "%I (the unescaped instance): svc templates have only %i".into()
                        );
                    }
                    _ => out.push_str(&unescape_name(&instance)),
                },
                'j' | 'J' => out.push_str(self.prefix.rsplit('-').next().unwrap_or(&self.prefix)),
                't' => out.push_str("/run"),
                'S' => out.push_str("/var/lib"),
                'C' => out.push_str("/var/cache"),
                'L' => out.push_str("/var/log"),
                'E' => out.push_str("/etc"),
                'T' => out.push_str("/tmp"),
                'V' => out.push_str("/var/tmp"),
                // The system manager's own user, whatever User= says.
                'h' => out.push_str("/root"),
                'u' | 'g' => out.push_str("root"),
                'U' | 'G' => out.push('0'),
                's' => out.push_str("/bin/sh"),
                'y' => out.push_str(&self.files[0].display().to_string()),
                'Y' => out.push_str(
                    &self.files[0]
                        .parent()
                        .unwrap_or(Path::new("/"))
                        .display()
                        .to_string(),
                ),
                other => {
                    return Err(format!(
                        "%{other}: a specifier whose value is only known on the running host (or unknown); svc does not expand it"
                    ));
                }
            }
        }
        Ok(out)
    }

    /// The final text of a value: in a template, `%` doubled and the mark
    /// turned back into `%i`.
    fn fin(&self, s: &str) -> String {
        if self.is_template() {
            s.replace('%', "%%").replace(INSTANCE_MARK, "%i")
        } else {
            s.to_string()
        }
    }

    /// A single value with specifiers expanded, or a note.
    fn value(&mut self, key: &str, v: &Val) -> Option<String> {
        match self.specifiers(&v.value) {
            Ok(s) => match line_problem(&s) {
                None => Some(s),
                Some(why) => {
                    self.note(key, v, why);
                    None
                }
            },
            Err(why) => {
                self.note(key, v, why);
                None
            }
        }
    }

    /// Sets `key` when svc accepts the value, else notes the source line.
    fn set(&mut self, section: Section, key: &str, value: &str, src: (&str, &Val)) {
        let value = self.fin(value);
        match self.svc_rejects(section, key, &value) {
            None => self.draft.set(section, key, value),
            Some(why) => self.note(src.0, src.1, format!("svc does not accept it: {why}")),
        }
    }

    /// Appends an item to a list key when svc accepts it.
    fn push(&mut self, section: Section, key: &str, item: &str, src: (&str, &Val)) {
        let item = self.fin(item);
        match self.svc_rejects(section, key, &item) {
            None => self.draft.push(section, key, &item),
            Some(why) => {
                let one = Val {
                    value: item.clone(),
                    ..src.1.clone()
                };
                self.note(src.0, &one, format!("svc does not accept it: {why}"));
            }
        }
    }

    /// What libsvc says of `key = value` on its own, in a declaration (or
    /// a template's instance) that is otherwise valid.
    fn svc_rejects(&self, section: Section, key: &str, value: &str) -> Option<String> {
        let mut text = String::from("[service]\nexec = /bin/true\n");
        let line = format!("{key} = {value}\n");
        match section {
            Section::Service => {
                // The keys another key needs beside it.
                if key == "pidfile" {
                    text.push_str("type = forking\n");
                }
                if key == "restart-delay" {
                    text.push_str(&format!("restart-delay-max = {value}\n"));
                }
                text.push_str(&line);
            }
            Section::Dependencies => text.push_str(&format!("[dependencies]\n{line}")),
            Section::Environment => text.push_str(&format!("[environment]\n{line}")),
            Section::Logging => text.push_str(&format!("[logging]\n{line}")),
        }
        let (name, instance) = if self.is_template() {
            ("t@x", Some("x"))
        } else {
            ("t", None)
        };
        let (_, diags) = libsvc::decl::parse(name, Path::new("t.ini"), text.as_bytes(), instance);
        diags.into_iter().find(|d| d.is_error()).map(|d| d.message)
    }

    /// A command line of `key` as svc writes it, or None (with a note).
    fn command(&mut self, key: &str, v: &Val, usage: CmdUse) -> Option<String> {
        let raw = v.value.as_str();
        let mut rest = raw;
        let (mut ignore, mut argv0, mut privileged, mut literal) = (false, false, false, false);
        loop {
            match rest.chars().next() {
                Some('-') => ignore = true,
                Some('@') => argv0 = true,
                Some('+') | Some('!') => privileged = true,
                Some(':') => literal = true,
                Some('|') => {
                    self.note(key, v, "'|' (run through the user's shell): not supported");
                    return None;
                }
                _ => break,
            }
            rest = &rest[1..];
        }
        let expanded = match self.specifiers(rest) {
            Ok(s) => s,
            Err(why) => {
                self.note(key, v, why);
                return None;
            }
        };
        let mut words = match split_words(&expanded) {
            Ok(w) => w,
            Err(why) => {
                self.note(key, v, format!("cannot split the command: {why}"));
                return None;
            }
        };
        if words.is_empty() {
            self.note(key, v, "no command");
            return None;
        }
        if words.iter().any(|w| w == ";") {
            self.note(key, v, "several commands on one line (';'): not supported");
            return None;
        }
        if let Some(why) = words.iter().find_map(|w| line_problem(w)) {
            self.note(key, v, why);
            return None;
        }
        if argv0 {
            if words.len() < 2 {
                self.note(key, v, "'@' needs the program and its argv[0]");
                return None;
            }
            let name = words.remove(1);
            self.note(
                key,
                v,
                format!("'@': svc runs the program with its path as argv[0], not '{name}'"),
            );
        }
        if privileged && self.has_credentials {
            self.note(
                key,
                v,
                "'+'/'!' (full privileges): under svc the command runs as the service's user",
            );
        }
        let ignore_here = match (ignore, usage) {
            (false, _) => false,
            // svc does not look at exec-stop's exit status anyway.
            (true, CmdUse::Stop) => false,
            (true, CmdUse::Pre) => true,
            (true, CmdUse::Exec) => {
                self.note(
                    key,
                    v,
                    "'-' (failure ignored): svc judges the exit status of 'exec'",
                );
                false
            }
        };
        let analysed: Vec<Word> = if literal {
            words
                .iter()
                .map(|w| Word::Pieces(vec![Piece::Text(w.clone())]))
                .collect()
        } else {
            words.iter().map(|w| analyse_word(w)).collect()
        };
        let uses_vars = analysed.iter().any(|w| match w {
            Word::Split(_) => true,
            Word::Pieces(p) => p.iter().any(|p| matches!(p, Piece::Var(_))),
        });
        if !uses_vars && !ignore_here {
            let plain: Vec<String> = analysed
                .into_iter()
                .map(|w| match w {
                    Word::Pieces(p) => p
                        .into_iter()
                        .map(|p| match p {
                            Piece::Text(t) => t,
                            Piece::Var(_) => String::new(),
                        })
                        .collect(),
                    Word::Split(_) => String::new(),
                })
                .collect();
            return Some(self.fin(&join_command(&plain)));
        }
        // Variables need a shell: `exec` keeps the daemon the shell's own
        // process, so it is still the supervisor's child and main pid.
        let mut script = String::from("set -f; ");
        if !ignore_here {
            script.push_str("exec ");
        }
        let sh_words: Vec<String> = analysed
            .iter()
            .map(|w| match w {
                Word::Split(name) => format!("${name}"),
                Word::Pieces(pieces) => {
                    if pieces.iter().all(|p| matches!(p, Piece::Text(_))) {
                        let t: String = pieces
                            .iter()
                            .map(|p| match p {
                                Piece::Text(t) => t.as_str(),
                                Piece::Var(_) => "",
                            })
                            .collect();
                        return sh_quote(&t);
                    }
                    let mut q = String::from("\"");
                    for p in pieces {
                        match p {
                            Piece::Text(t) => {
                                for c in t.chars() {
                                    if matches!(c, '"' | '\\' | '$' | '`') {
                                        q.push('\\');
                                    }
                                    q.push(c);
                                }
                            }
                            Piece::Var(n) => q.push_str(&format!("${{{n}}}")),
                        }
                    }
                    q.push('"');
                    q
                }
            })
            .collect();
        script.push_str(&sh_words.join(" "));
        if ignore_here {
            script.push_str(" || :");
        }
        Some(self.fin(&join_command(&["/bin/sh", "-c", &script])))
    }

    /// A systemd unit name as an svc name: Ok(None) when it needs no
    /// counterpart, Err(why) when it has none.
    fn dep_name(&self, raw: &str) -> Result<Option<String>, String> {
        let target = |t: &str| -> Result<Option<String>, String> {
            let mapped = match t {
                "multi-user" | "graphical" | "default" => "default",
                "network" | "network-online" => "networking",
                "local-fs" => "localmount",
                "remote-fs" => "netmount",
                "syslog" => "syslog",
                "sysinit" => "sysinit",
                "basic" => "boot",
                "rescue" => "rescue",
                "swap" => "swap",
                // svc stops every service on the way down without being told.
                "shutdown" | "final" | "umount" => return Ok(None),
                _ => return Err("no equivalent target in svc".to_string()),
            };
            Ok(Some(mapped.to_string()))
        };
        if let Some(t) = raw.strip_suffix(".target") {
            return target(t);
        }
        let name = if let Some(s) = raw.strip_suffix(".service") {
            if s == "syslog" {
                return Ok(Some("syslog".to_string()));
            }
            s
        } else if let Some((suffix, why)) = OTHER_UNIT_TYPES.iter().find(|(s, _)| raw.ends_with(s))
        {
            return Err(format!("a {} unit; {why}", &suffix[1..]));
        } else {
            // systemd takes a bare name as a service.
            raw
        };
        let check = name.replace(INSTANCE_MARK, "x");
        libsvc::names::check_reference(&check)?;
        Ok(Some(name.to_string()))
    }

    /// A list of unit names into a dependency key.
    fn deps(&mut self, key: &str, vals: Vec<Val>, svc_key: &str) -> Vec<String> {
        let mut out = Vec::new();
        for v in vals {
            let Some(value) = self.value(key, &v) else {
                continue;
            };
            let names = match split_words(&value) {
                Ok(n) => n,
                Err(why) => {
                    self.note(key, &v, why);
                    continue;
                }
            };
            for n in names {
                match self.dep_name(&n) {
                    Ok(Some(name)) => {
                        if name == self.draft.name {
                            continue;
                        }
                        self.push(Section::Dependencies, svc_key, &name, (key, &v));
                        out.push(name);
                    }
                    Ok(None) => {}
                    Err(why) => {
                        let one = Val {
                            value: n.clone(),
                            ..v.clone()
                        };
                        self.note(key, &one, why);
                    }
                }
            }
        }
        out
    }

    fn translate(&mut self, r: &mut Resolved) -> Result<(), Note> {
        let main_file = self.files[0].clone();
        // [Unit]
        if let Some(v) = r.last("Unit", "Description")
            && let Some(d) = self.value("Description", &v)
        {
            self.set(
                Section::Service,
                "description",
                d.trim(),
                ("Description", &v),
            );
        }
        for v in r.take("Unit", "Documentation") {
            self.draft.remarks.push(format!(
                "Documentation: {}",
                v.value.replace(['\n', '\r'], " ")
            ));
        }
        for (key, svc) in [
            ("Requires", "requires"),
            ("BindsTo", "requires"),
            ("Wants", "wants"),
            ("After", "after"),
            ("Before", "before"),
            ("Conflicts", "conflicts"),
        ] {
            let vals = r.take("Unit", key);
            self.deps(key, vals, svc);
        }
        let default_deps = match r.last("Unit", "DefaultDependencies") {
            None => true,
            Some(v) => match parse_bool(&v.value) {
                Some(b) => b,
                None => {
                    self.note("DefaultDependencies", &v, "not a boolean");
                    true
                }
            },
        };

        // [Service]: the kind of service first, since commands and
        // pidfile depend on it.
        let mut oneshot = false;
        if let Some(v) = r.last("Service", "Type") {
            match v.value.as_str() {
                "simple" | "exec" => {}
                "oneshot" => {
                    oneshot = true;
                    self.draft.set(Section::Service, "type", "oneshot");
                }
                "forking" => self.draft.set(Section::Service, "type", "forking"),
                "notify" | "notify-reload" => {
                    self.draft.set(Section::Service, "ready", "sd-notify");
                }
                "idle" => self.note(
                    "Type",
                    &v,
                    "svc does not delay a start until the others are done; run as simple",
                ),
                "dbus" => self.note(
                    "Type",
                    &v,
                    "svc cannot wait for a bus name; run as simple, ready when started",
                ),
                _ => self.note("Type", &v, "unknown service type; run as simple"),
            }
        }
        let forking = self.draft.get(Section::Service, "type") == Some("forking");
        // Credentials are written after the commands but known before:
        // '+' is judged against them.
        let credentials: Vec<(&str, &str, Val)> = [("User", "user"), ("Group", "group")]
            .into_iter()
            .filter_map(|(k, s)| r.last("Service", k).map(|v| (k, s, v)))
            .collect();
        self.has_credentials = !credentials.is_empty();
        if let Some(v) = r.last("Service", "DynamicUser")
            && parse_bool(&v.value) == Some(true)
        {
            self.note(
                "DynamicUser",
                &v,
                "svc allocates no users; give the service a real user",
            );
        }
        for v in r.take("Service", "SupplementaryGroups") {
            if let Some(s) = self.value("SupplementaryGroups", &v) {
                for g in s.split_whitespace() {
                    self.push(
                        Section::Service,
                        "supplementary-groups",
                        g,
                        ("SupplementaryGroups", &v),
                    );
                }
            }
        }

        // Commands.
        for v in r.take("Service", "ExecStartPre") {
            if let Some(c) = self.command("ExecStartPre", &v, CmdUse::Pre) {
                self.draft.push_line(Section::Service, "exec-pre", c);
            }
        }
        let starts = r.take("Service", "ExecStart");
        if starts.is_empty() {
            return Err(Note::new(
                &main_file,
                0,
                "no ExecStart=: nothing to run (a unit that only groups others is a target; write it by hand)",
            ));
        }
        let last = starts.len() - 1;
        if oneshot {
            // A oneshot runs them in turn and fails at the first failure:
            // exactly exec-pre, then exec.
            for (i, v) in starts.into_iter().enumerate() {
                let usage = if i == last { CmdUse::Exec } else { CmdUse::Pre };
                if let Some(c) = self.command("ExecStart", &v, usage) {
                    if i == last {
                        self.draft.set(Section::Service, "exec", c);
                    } else {
                        self.draft.push_line(Section::Service, "exec-pre", c);
                    }
                }
            }
        } else {
            for (i, v) in starts.into_iter().enumerate() {
                if i > 0 {
                    self.note(
                        "ExecStart",
                        &v,
                        "only Type=oneshot may have several ExecStart=; the first is used",
                    );
                    continue;
                }
                if let Some(c) = self.command("ExecStart", &v, CmdUse::Exec) {
                    self.draft.set(Section::Service, "exec", c);
                }
            }
        }
        if self.draft.get(Section::Service, "exec").is_none() {
            // The note that says why is the one about ExecStart.
            return Err(
                match self
                    .draft
                    .notes
                    .iter()
                    .rev()
                    .find(|n| n.why.starts_with("ExecStart="))
                {
                    Some(n) => n.clone(),
                    None => Note::new(&main_file, 0, "ExecStart= could not be translated"),
                },
            );
        }
        for (i, v) in r.take("Service", "ExecStop").into_iter().enumerate() {
            if i > 0 {
                self.note(
                    "ExecStop",
                    &v,
                    "svc runs one exec-stop command; only the first is used",
                );
                continue;
            }
            if let Some(c) = self.command("ExecStop", &v, CmdUse::Stop) {
                self.draft.set(Section::Service, "exec-stop", c);
            }
        }
        for v in r.take("Service", "ExecReload") {
            match reload_signal(&v.value) {
                Some(sig) => self.draft.set(Section::Service, "reload-signal", sig),
                None => self.note(
                    "ExecReload",
                    &v,
                    "svc reloads by a signal only (reload-signal); a reload command is not run",
                ),
            }
        }
        for key in ["ExecStartPost", "ExecStopPost", "ExecCondition"] {
            for v in r.take("Service", key) {
                self.note(key, &v, "svc has no such command");
            }
        }
        match r.last("Service", "PIDFile") {
            Some(v) if forking => {
                if let Some(p) = self.value("PIDFile", &v) {
                    // Relative paths are below /run in systemd.
                    let p = if p.starts_with('/') {
                        p
                    } else {
                        format!("/run/{p}")
                    };
                    self.set(Section::Service, "pidfile", &p, ("PIDFile", &v));
                }
            }
            Some(v) => self.note(
                "PIDFile",
                &v,
                "svc reads a pid file only for Type=forking; the main process is known",
            ),
            None => {}
        }
        if forking && self.draft.get(Section::Service, "pidfile").is_none() {
            return Err(Note::new(
                &main_file,
                0,
                "Type=forking without a usable PIDFile=: svc could not tell which process is the daemon",
            ));
        }

        for (key, svc, v) in credentials {
            if let Some(s) = self.value(key, &v) {
                if s.is_empty() || s.contains(char::is_whitespace) {
                    self.note(key, &v, "not a user or group name");
                } else {
                    self.set(Section::Service, svc, &s, (key, &v));
                }
            }
        }
        // Where and how it runs.
        if let Some(v) = r.last("Service", "WorkingDirectory")
            && let Some(s) = self.value("WorkingDirectory", &v)
        {
            let (optional, path) = match s.strip_prefix('-') {
                Some(p) => (true, p.to_string()),
                None => (false, s),
            };
            if path.starts_with('~') {
                self.note(
                    "WorkingDirectory",
                    &v,
                    "'~' (the user's home): give the directory itself",
                );
            } else if !path.starts_with('/') {
                self.note("WorkingDirectory", &v, "not an absolute path");
            } else {
                self.set(
                    Section::Service,
                    "working-directory",
                    &path,
                    ("WorkingDirectory", &v),
                );
                if optional {
                    self.note(
                        "WorkingDirectory",
                        &v,
                        "'-' (missing is fine): under svc a missing directory fails the start",
                    );
                }
            }
        }
        if let Some(v) = r.last("Service", "RootDirectory")
            && let Some(s) = self.value("RootDirectory", &v)
        {
            if s.starts_with('/') {
                self.set(
                    Section::Service,
                    "root-directory",
                    &s,
                    ("RootDirectory", &v),
                );
            } else {
                self.note("RootDirectory", &v, "not an absolute path");
            }
        }
        if let Some(v) = r.last("Service", "UMask") {
            let digits = v.value.trim();
            match u32::from_str_radix(digits, 8) {
                Ok(n) if n <= 0o777 && !digits.starts_with('+') => self.set(
                    Section::Service,
                    "umask",
                    &format!("{n:03o}"),
                    ("UMask", &v),
                ),
                _ => self.note("UMask", &v, "not an octal mode"),
            }
        }
        if let Some(v) = r.last("Service", "Nice") {
            match v.value.trim().parse::<i32>() {
                Ok(n) if (-20..=19).contains(&n) => {
                    self.set(Section::Service, "nice", &n.to_string(), ("Nice", &v))
                }
                _ => self.note("Nice", &v, "not a nice level from -20 to 19"),
            }
        }
        if let Some(v) = r.last("Service", "NoNewPrivileges") {
            match parse_bool(&v.value) {
                Some(b) => self.set(
                    Section::Service,
                    "no-new-privileges",
                    if b { "yes" } else { "no" },
                    ("NoNewPrivileges", &v),
                ),
                None => self.note("NoNewPrivileges", &v, "not a boolean"),
            }
        }
        for v in r.take("Service", "RuntimeDirectory") {
            if let Some(s) = self.value("RuntimeDirectory", &v) {
                for d in s.split_whitespace() {
                    let ok = std::path::Path::new(d)
                        .components()
                        .all(|c| matches!(c, std::path::Component::Normal(_)));
                    if ok {
                        self.push(
                            Section::Service,
                            "runtime-directory",
                            d,
                            ("RuntimeDirectory", &v),
                        );
                    } else {
                        let one = Val {
                            value: d.to_string(),
                            ..v.clone()
                        };
                        self.note("RuntimeDirectory", &one, "not a relative path without '..'");
                    }
                }
            }
        }
        if let Some(v) = r.last("Service", "RuntimeDirectoryMode")
            && u32::from_str_radix(v.value.trim(), 8) != Ok(0o755)
        {
            self.note(
                "RuntimeDirectoryMode",
                &v,
                "svc makes runtime directories 0755",
            );
        }
        self.environment(r);
        self.restart_and_stop(r, oneshot);
        self.limits(r);
        self.resources(r);
        self.output(r);
        if let Some(v) = r.last("Service", "IgnoreSIGPIPE")
            && parse_bool(&v.value) != Some(false)
        {
            self.note(
                "IgnoreSIGPIPE",
                &v,
                "svc starts every service with SIGPIPE at its default action",
            );
        }
        if let Some(v) = r.last("Service", "RemainAfterExit")
            && parse_bool(&v.value) == Some(true)
            && !oneshot
        {
            self.note(
                "RemainAfterExit",
                &v,
                "only a oneshot stays up after it exits under svc",
            );
        }
        if let Some(v) = r.last("Service", "NotifyAccess")
            && v.value != "main"
        {
            self.note(
                "NotifyAccess",
                &v,
                "svc takes notifications from the main process only",
            );
        }

        // [Install]
        let mut wanted_by = Vec::new();
        for key in ["WantedBy", "RequiredBy"] {
            let vals = r.take("Install", key);
            if key == "RequiredBy" {
                for v in &vals {
                    self.note(
                        key,
                        v,
                        "svc has no required-by; enabled as wanted-by instead",
                    );
                }
            }
            wanted_by.extend(self.deps(key, vals, "wanted-by"));
        }
        wanted_by.dedup();
        if !self.is_template() {
            for t in &wanted_by {
                if !self.draft.enable_in.contains(t) {
                    self.draft.enable_in.push(t.clone());
                }
            }
        }
        for v in r.take("Install", "Alias") {
            let Some(value) = self.value("Alias", &v) else {
                continue;
            };
            for a in value.split_whitespace() {
                let one = Val {
                    value: a.to_string(),
                    ..v.clone()
                };
                match a.strip_suffix(".service") {
                    Some(n) if libsvc::names::classify(n) == Ok(libsvc::names::NameKind::Plain) => {
                        self.push(Section::Dependencies, "provides", n, ("Alias", &v))
                    }
                    _ => self.note(
                        "Alias",
                        &one,
                        "svc provides plain names only (NAME.service without '@')",
                    ),
                }
            }
        }
        if let Some(v) = r.last("Install", "DefaultInstance") {
            let why = format!(
                "svc enables instances by name: svcctl enable {}@{}",
                self.prefix, v.value
            );
            self.note("DefaultInstance", &v, why);
        }
        for v in r.take("Install", "Also") {
            self.note("Also", &v, "import and enable those units on their own");
        }

        // systemd orders a unit with default dependencies after sysinit
        // and basic; svc only after sysinit (boot may want this service
        // through a provided name, which would make a cycle).
        let early = wanted_by.iter().any(|t| t == "sysinit")
            || self
                .draft
                .get(Section::Dependencies, "before")
                .is_some_and(|b| b.split_whitespace().any(|n| n == DEFAULT_AFTER));
        if default_deps && !early {
            self.draft
                .push(Section::Dependencies, "after", DEFAULT_AFTER);
        }
        Ok(())
    }

    fn environment(&mut self, r: &mut Resolved) {
        for v in r.take("Service", "Environment") {
            let Some(value) = self.value("Environment", &v) else {
                continue;
            };
            let words = match split_words(&value) {
                Ok(w) => w,
                Err(why) => {
                    self.note("Environment", &v, why);
                    continue;
                }
            };
            for w in words {
                let one = Val {
                    value: w.clone(),
                    ..v.clone()
                };
                let Some((name, val)) = w.split_once('=') else {
                    self.note("Environment", &one, "not NAME=VALUE");
                    continue;
                };
                if !valid_env_name(name) {
                    self.note("Environment", &one, "not a valid variable name");
                } else if val.trim() != val {
                    self.note(
                        "Environment",
                        &one,
                        "blanks around a value are trimmed by svc",
                    );
                } else if let Some(why) = line_problem(val) {
                    self.note("Environment", &one, why);
                } else {
                    self.set(Section::Environment, name, val, ("Environment", &one));
                }
            }
        }
        for v in r.take("Service", "EnvironmentFile") {
            let Some(value) = self.value("EnvironmentFile", &v) else {
                continue;
            };
            let (optional, path) = match value.strip_prefix('-') {
                Some(p) => (true, p),
                None => (false, value.as_str()),
            };
            if !path.starts_with('/') {
                self.note("EnvironmentFile", &v, "not an absolute path");
                continue;
            }
            let item =
                super::draft::quote_word(&format!("{}{path}", if optional { "-" } else { "" }));
            self.push(
                Section::Service,
                "environment-file",
                &item,
                ("EnvironmentFile", &v),
            );
        }
        for key in ["PassEnvironment", "UnsetEnvironment"] {
            for v in r.take("Service", key) {
                self.note(
                    key,
                    &v,
                    "svc starts services from an empty environment plus their own",
                );
            }
        }
    }

    fn duration(&mut self, key: &str, v: &Val) -> Option<String> {
        match parse_timespan(&v.value, 1_000_000) {
            Ok(us) => match svc_duration(us) {
                Some(d) => Some(d),
                None => {
                    self.note(key, v, "svc durations are whole milliseconds");
                    None
                }
            },
            Err("infinity") => {
                self.note(key, v, "svc has no unlimited wait here");
                None
            }
            Err(why) => {
                self.note(key, v, why);
                None
            }
        }
    }

    fn restart_and_stop(&mut self, r: &mut Resolved, oneshot: bool) {
        match r.last("Service", "Restart") {
            // systemd restarts nothing by default.
            None => {
                if !oneshot {
                    self.draft.set(Section::Service, "restart", "never");
                }
            }
            Some(v) => match v.value.as_str() {
                "no" => self.draft.set(Section::Service, "restart", "never"),
                "always" => self.draft.set(Section::Service, "restart", "always"),
                "on-failure" => self.draft.set(Section::Service, "restart", "on-failure"),
                "on-abnormal" | "on-abort" | "on-watchdog" => {
                    self.draft.set(Section::Service, "restart", "on-failure");
                    self.note(
                        "Restart",
                        &v,
                        "svc restarts on any failure, also a non-zero exit (restart = on-failure)",
                    );
                }
                "on-success" => {
                    self.draft.set(Section::Service, "restart", "never");
                    self.note(
                        "Restart",
                        &v,
                        "svc has no restart after a clean exit only (restart = never)",
                    );
                }
                _ => self.note("Restart", &v, "unknown restart policy"),
            },
        }
        if let Some(v) = r.last("Service", "RestartSec")
            && let Some(d) = self.duration("RestartSec", &v)
        {
            // systemd waits the same time before every restart: no
            // doubling.
            self.set(Section::Service, "restart-delay", &d, ("RestartSec", &v));
            self.set(
                Section::Service,
                "restart-delay-max",
                &d,
                ("RestartSec", &v),
            );
        }
        let both = r.last("Service", "TimeoutSec");
        for (key, svc) in [
            ("TimeoutStartSec", "ready-timeout"),
            ("TimeoutStopSec", "stop-timeout"),
        ] {
            let v = r.last("Service", key).or_else(|| both.clone());
            if let Some(v) = v {
                if let Some(d) = self.duration(key, &v) {
                    if d == "0s" {
                        self.note(key, &v, "0 (no limit): svc has no unlimited wait here");
                    } else {
                        self.set(Section::Service, svc, &d, (key, &v));
                    }
                }
            }
        }
        if let Some(v) = r.last("Service", "KillSignal") {
            match libsvc::signal::parse_signal(&v.value) {
                Ok(_) => {
                    let sig = v.value.trim_start_matches("SIG").to_string();
                    self.set(Section::Service, "stop-signal", &sig, ("KillSignal", &v))
                }
                Err(e) => self.note("KillSignal", &v, e.to_string()),
            }
        }
        if let Some(v) = r.last("Service", "KillMode") {
            match v.value.as_str() {
                "control-group" => {}
                "mixed" => self.note(
                    "KillMode",
                    &v,
                    "svc sends the stop signal to every process of the service (its cgroup where cgroups are in use, else the main process and its process group), not to the main process alone",
                ),
                "process" => self.note(
                    "KillMode",
                    &v,
                    "svc kills every process of the service once the main process has exited; none outlives it",
                ),
                _ => self.note(
                    "KillMode",
                    &v,
                    "svc always kills what is left of the service",
                ),
            }
        }
        for key in [
            "SendSIGKILL",
            "SendSIGHUP",
            "FinalKillSignal",
            "RestartKillSignal",
        ] {
            for v in r.take("Service", key) {
                self.note(key, &v, "svc stops with stop-signal, then SIGKILL");
            }
        }
    }

    fn limits(&mut self, r: &mut Resolved) {
        for (key, svc, kind) in LIMITS {
            let Some(v) = r.last("Service", key) else {
                continue;
            };
            let one = |part: &str| -> Option<String> {
                let part = part.trim();
                if part == "infinity" {
                    return Some("infinity".to_string());
                }
                match kind {
                    LimitKind::Bytes => parse_bytes(part).map(|n| n.to_string()),
                    LimitKind::Count => part
                        .bytes()
                        .all(|b| b.is_ascii_digit())
                        .then(|| part.parse::<u64>().ok().map(|n| n.to_string()))
                        .flatten(),
                    LimitKind::Seconds => parse_timespan(part, 1_000_000)
                        .ok()
                        .filter(|us| us % 1_000_000 == 0)
                        .and_then(|us| u64::try_from(us / 1_000_000).ok())
                        .map(|s| s.to_string()),
                    LimitKind::Micros => parse_timespan(part, 1)
                        .ok()
                        .and_then(|us| u64::try_from(us).ok())
                        .map(|s| s.to_string()),
                    LimitKind::Nice => {
                        if part.starts_with(['-', '+']) {
                            // A nice level: the rlimit is 20 - level.
                            part.parse::<i64>()
                                .ok()
                                .filter(|n| (-20..=19).contains(n))
                                .map(|n| (20 - n).to_string())
                        } else {
                            part.parse::<u64>()
                                .ok()
                                .filter(|n| *n <= 40)
                                .map(|n| n.to_string())
                        }
                    }
                }
            };
            let (soft, hard) = match v.value.split_once(':') {
                Some((s, h)) => (one(s), one(h)),
                None => {
                    let x = one(&v.value);
                    (x.clone(), x)
                }
            };
            match (soft, hard) {
                (Some(s), Some(h)) => {
                    let below = |a: &str, b: &str| match (a.parse::<u64>(), b.parse::<u64>()) {
                        (Ok(a), Ok(b)) => a <= b,
                        (_, Err(_)) => true,
                        (Err(_), Ok(_)) => false,
                    };
                    if !below(&s, &h) {
                        self.note(key, &v, "the soft limit is above the hard limit");
                    } else if s == h {
                        self.set(Section::Service, svc, &s, (key, &v));
                    } else {
                        self.set(Section::Service, svc, &format!("{s}:{h}"), (key, &v));
                    }
                }
                _ => self.note(key, &v, "not a limit svc can read"),
            }
        }
    }

    /// Resource control: the cgroup keys svc has (docs/declarations.md),
    /// applied where cgroup v2 is in use. systemd's sizes (K, M, G, T,
    /// powers of 1024) and `infinity` read the same in svc; a share of the
    /// machine's memory (`50%`) does not translate.
    fn resources(&mut self, r: &mut Resolved) {
        for (key, svc) in [
            ("MemoryLimit", "memory-max"),
            ("MemoryMax", "memory-max"),
            ("MemoryHigh", "memory-high"),
            ("MemorySwapMax", "memory-swap-max"),
            ("TasksMax", "pids-max"),
            ("CPUWeight", "cpu-weight"),
            ("IOWeight", "io-weight"),
        ] {
            let Some(v) = r.last("Service", key) else {
                continue;
            };
            let value = v.value.trim();
            if value.ends_with('%') {
                self.note(
                    key,
                    &v,
                    "a share of the machine's total: svc takes an amount",
                );
            } else if value.is_empty() {
                // An empty assignment resets to the default: nothing to write.
            } else {
                self.set(Section::Service, svc, value, (key, &v));
            }
        }
        if let Some(v) = r.last("Service", "CPUQuota") {
            let value = v.value.trim().to_string();
            match r.last("Service", "CPUQuotaPeriodSec") {
                // svc's percentage is of one CPU per 100 ms, as systemd's.
                None if value.ends_with('%') => {
                    self.set(Section::Service, "cpu-max", &value, ("CPUQuota", &v))
                }
                None if value.is_empty() => {}
                None => self.note("CPUQuota", &v, "not a percentage"),
                Some(p) => self.note(
                    "CPUQuota",
                    &v,
                    format!(
                        "with CPUQuotaPeriodSec={}: write cpu-max = QUOTA/PERIOD by hand",
                        p.value
                    ),
                ),
            }
        }
        for key in [
            "CPUAccounting",
            "MemoryAccounting",
            "TasksAccounting",
            "IOAccounting",
        ] {
            for v in r.take("Service", key) {
                // svc accounts every service where it uses cgroups.
                if parse_bool(&v.value) == Some(false) {
                    self.note(key, &v, "svc accounts every service it puts in a cgroup");
                }
            }
        }
    }

    /// StandardOutput/StandardError: svc sends both to one place.
    fn output(&mut self, r: &mut Resolved) {
        #[derive(PartialEq, Eq, Clone, Copy)]
        enum Out {
            Log,
            Null,
            Console,
            Same,
        }
        let class = |s: &str| -> Option<Out> {
            match s {
                "journal" | "journal+console" | "kmsg" | "kmsg+console" | "syslog"
                | "syslog+console" => Some(Out::Log),
                "null" => Some(Out::Null),
                "tty" | "console" => Some(Out::Console),
                "inherit" => Some(Out::Same),
                _ => None,
            }
        };
        let mut resolve = |key: &str, this: &mut Self| -> Option<(Out, Val)> {
            let v = r.last("Service", key)?;
            match class(&v.value) {
                Some(o) => Some((o, v)),
                None => {
                    this.note(
                        key,
                        &v,
                        "svc writes output to its own log, syslog, the console or nowhere",
                    );
                    None
                }
            }
        };
        let out = resolve("StandardOutput", self);
        let err = resolve("StandardError", self);
        // StandardOutput=inherit takes stdin's, which svc has as /dev/null.
        let stdout = match &out {
            None => Out::Log,
            Some((Out::Same, _)) => Out::Null,
            Some((o, _)) => *o,
        };
        let stderr = match &err {
            None | Some((Out::Same, _)) => stdout,
            Some((o, _)) => *o,
        };
        if stdout != stderr
            && let Some((_, v)) = &err
        {
            self.note(
                "StandardError",
                v,
                "svc sends stdout and stderr to the same place (StandardOutput's)",
            );
        }
        match stdout {
            Out::Null => self.draft.set(Section::Logging, "output", "null"),
            Out::Console => self.draft.set(Section::Logging, "output", "console"),
            Out::Log | Out::Same => {}
        }
        if let Some(v) = r.last("Service", "StandardInput")
            && v.value != "null"
        {
            self.note(
                "StandardInput",
                &v,
                "svc gives every service /dev/null as stdin",
            );
        }
    }
}

/// `kill -HUP $MAINPID` (or `/bin/kill -s HUP $MAINPID`, `-SIGHUP`,
/// `${MAINPID}`) → `HUP`: a reload that is only a signal to the main
/// process.
fn reload_signal(value: &str) -> Option<String> {
    let value = value.trim_start_matches(['-', '@', '+', '!', ':']);
    let words = split_words(value).ok()?;
    let (prog, rest) = words.split_first()?;
    if prog != "kill" && !prog.ends_with("/kill") {
        return None;
    }
    let (sig, pid) = match rest {
        [flag, sig, pid] if flag == "-s" => (sig.as_str(), pid),
        [sig, pid] => (sig.strip_prefix('-')?, pid),
        _ => return None,
    };
    if pid != "$MAINPID" && pid != "${MAINPID}" {
        return None;
    }
    let sig = sig.strip_prefix("SIG").unwrap_or(sig);
    libsvc::signal::parse_signal(sig).ok()?;
    Some(sig.to_string())
}

/// systemd's unit-name unescaping (`\x2d` → `-`, `-` → `/` is only for
/// paths and not done here).
fn unescape_name(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find("\\x") {
        out.push_str(&rest[..i]);
        let hex = rest.get(i + 2..i + 4);
        match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
            Some(b) if b.is_ascii() => {
                out.push(b as char);
                rest = &rest[i + 4..];
            }
            _ => {
                out.push_str("\\x");
                rest = &rest[i + 2..];
            }
        }
    }
    out.push_str(rest);
    out
}
