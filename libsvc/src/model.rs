//! The typed declaration model: what a declaration file says, with every
//! default filled in. A `Service` is everything a supervisor needs to run
//! one service, so the manager can send it whole.

use crate::cmdline;
use std::fmt;
use std::path::PathBuf;
use std::sync::LazyLock;
use std::time::Duration;

/// A command line already split into words; never empty. Held as one
/// string, the words joined by NUL as `/proc/PID/cmdline` holds them (no
/// word can hold a NUL: exec takes C strings): one allocation, not one
/// per word and one for the list, for each of a manager's thousand
/// declarations.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Command {
    joined: Box<str>,
}

impl Command {
    /// `None` when `argv` is empty, or a word holds a NUL.
    pub fn new(argv: Vec<String>) -> Option<Self> {
        if argv.is_empty() || argv.iter().any(|w| w.contains('\0')) {
            return None;
        }
        Some(Self {
            joined: argv.join("\0").into_boxed_str(),
        })
    }
    /// The words, the program first.
    pub fn argv(&self) -> impl Iterator<Item = &str> + Clone {
        self.joined.split('\0')
    }
    /// The words as a list of their own.
    pub fn to_vec(&self) -> Vec<String> {
        self.argv().map(str::to_owned).collect()
    }
    pub fn program(&self) -> &str {
        self.joined
            .split_once('\0')
            .map_or(&self.joined, |(p, _)| p)
    }
    pub fn args(&self) -> impl Iterator<Item = &str> + Clone {
        self.argv().skip(1)
    }
}

impl fmt::Debug for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Command")
            .field("argv", &self.to_vec())
            .finish()
    }
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&cmdline::join(&self.to_vec()))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ServiceType {
    /// Runs until stopped.
    #[default]
    Simple,
    /// Runs to completion; up once it exits 0.
    Oneshot,
    /// Daemonizes; its pid is read from `pidfile`.
    Forking,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub enum Ready {
    /// Ready as soon as it has been executed.
    #[default]
    Started,
    /// s6 style: ready when a line is written on this descriptor.
    NotifyFd(i32),
    /// `READY=1` on `$NOTIFY_SOCKET`.
    SdNotify,
    /// Ready once this command exits 0 (run repeatedly until then).
    Check(Command),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Restart {
    Always,
    OnFailure,
    Never,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Output {
    /// Rotating log under the log directory.
    #[default]
    File,
    Syslog,
    Console,
    Inherit,
    Null,
}

/// A user or group, by name or by number.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Account {
    Name(String),
    Id(u32),
}

impl fmt::Display for Account {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Account::Name(n) => f.write_str(n),
            Account::Id(i) => write!(f, "{i}"),
        }
    }
}

/// A file of `KEY=VALUE` lines; an optional one may be missing.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EnvFile {
    pub path: PathBuf,
    pub optional: bool,
}

/// Resource limits by their Linux `RLIMIT_*` numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Resource {
    Cpu = 0,
    Fsize = 1,
    Data = 2,
    Stack = 3,
    Core = 4,
    Rss = 5,
    Nproc = 6,
    Nofile = 7,
    Memlock = 8,
    As = 9,
    Locks = 10,
    Sigpending = 11,
    Msgqueue = 12,
    Nice = 13,
    Rtprio = 14,
    Rttime = 15,
}

/// How a limit's numbers are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitUnit {
    Bytes,
    Seconds,
    Count,
}

impl Resource {
    pub const ALL: [Resource; 16] = [
        Resource::Cpu,
        Resource::Fsize,
        Resource::Data,
        Resource::Stack,
        Resource::Core,
        Resource::Rss,
        Resource::Nproc,
        Resource::Nofile,
        Resource::Memlock,
        Resource::As,
        Resource::Locks,
        Resource::Sigpending,
        Resource::Msgqueue,
        Resource::Nice,
        Resource::Rtprio,
        Resource::Rttime,
    ];

    /// The declaration key: `limit-nofile`.
    pub fn key(self) -> &'static str {
        match self {
            Resource::Cpu => "limit-cpu",
            Resource::Fsize => "limit-fsize",
            Resource::Data => "limit-data",
            Resource::Stack => "limit-stack",
            Resource::Core => "limit-core",
            Resource::Rss => "limit-rss",
            Resource::Nproc => "limit-nproc",
            Resource::Nofile => "limit-nofile",
            Resource::Memlock => "limit-memlock",
            Resource::As => "limit-as",
            Resource::Locks => "limit-locks",
            Resource::Sigpending => "limit-sigpending",
            Resource::Msgqueue => "limit-msgqueue",
            Resource::Nice => "limit-nice",
            Resource::Rtprio => "limit-rtprio",
            Resource::Rttime => "limit-rttime",
        }
    }

    pub fn from_key(key: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.key() == key)
    }

    pub fn unit(self) -> LimitUnit {
        match self {
            Resource::Fsize
            | Resource::Data
            | Resource::Stack
            | Resource::Core
            | Resource::Rss
            | Resource::Memlock
            | Resource::As
            | Resource::Msgqueue => LimitUnit::Bytes,
            Resource::Cpu => LimitUnit::Seconds,
            _ => LimitUnit::Count,
        }
    }

    /// The raw Linux resource number for `setrlimit(2)`.
    pub fn raw(self) -> i32 {
        self as i32
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LimitValue {
    Value(u64),
    Infinity,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Rlimit {
    pub soft: LimitValue,
    pub hard: LimitValue,
}

/// The limits a declaration sets; the others are inherited. Kept as a
/// short list in resource-number order rather than a slot per resource:
/// most declarations set none, and a manager holds a thousand of them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Rlimits {
    set: Vec<(Resource, Rlimit)>,
}

impl Rlimits {
    pub fn get(&self, r: Resource) -> Option<Rlimit> {
        self.set.iter().find(|(s, _)| *s == r).map(|(_, l)| *l)
    }
    pub fn set(&mut self, r: Resource, limit: Rlimit) {
        match self.set.binary_search_by_key(&r, |(s, _)| *s) {
            Ok(i) => self.set[i].1 = limit,
            Err(i) => self.set.insert(i, (r, limit)),
        }
    }
    /// The limits that are set, in resource-number order.
    pub fn iter(&self) -> impl Iterator<Item = (Resource, Rlimit)> + '_ {
        self.set.iter().copied()
    }
    pub fn is_empty(&self) -> bool {
        self.set.is_empty()
    }
}

/// `cpu-max`: how much CPU time the service gets per period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CpuMax {
    Infinity,
    /// At most `quota_us` of CPU time in every `period_us` (both in
    /// microseconds, as `cpu.max` takes them).
    Quota {
        quota_us: u64,
        period_us: u64,
    },
}

/// The cgroup v2 limits of `[service]` (`memory-max` … `io-weight`),
/// written into the service's cgroup where cgroups are in use; `None`
/// leaves the kernel's default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct CgroupLimits {
    pub memory_max: Option<LimitValue>,
    pub memory_high: Option<LimitValue>,
    pub memory_swap_max: Option<LimitValue>,
    pub cpu_weight: Option<u32>,
    pub cpu_max: Option<CpuMax>,
    pub pids_max: Option<LimitValue>,
    pub io_weight: Option<u32>,
}

impl CgroupLimits {
    pub fn is_empty(&self) -> bool {
        *self == CgroupLimits::default()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Logging {
    pub output: Output,
    pub max_size: u64,
    pub max_files: u32,
    pub timestamps: bool,
}

impl Default for Logging {
    fn default() -> Self {
        Self {
            output: Output::File,
            max_size: 1 << 20,
            max_files: 10,
            timestamps: true,
        }
    }
}

/// Everything needed to run one service: `[service]`, `[environment]` and
/// `[logging]` with defaults applied.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Service {
    pub exec: Command,
    pub service_type: ServiceType,
    pub ready: Ready,
    pub ready_timeout: Duration,
    pub restart: Restart,
    pub restart_delay: Duration,
    pub restart_delay_max: Duration,
    pub restart_reset: Duration,
    /// Consecutive failed starts before giving up; 0 = never.
    pub restart_limit: u32,
    pub stop_signal: i32,
    pub stop_timeout: Duration,
    pub reload_signal: i32,
    pub umask: u32,
    pub clear_environment: bool,
    /// The keys few declarations set ([`Service::rare`]).
    rare: OutOfLine,
    /// Applied by the manager to the service's cgroup, never sent to the
    /// supervisor. Boxed, and absent when no key is set (most services):
    /// a manager holds a thousand declarations. [`Service::cgroup_limits`].
    pub cgroup: Option<Box<CgroupLimits>>,
    pub logging: Logging,
}

/// The keys of `[service]` and `[environment]` that few declarations
/// set, kept out of line: a manager holds a thousand declarations, and
/// these would make each more than twice its size.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RareKeys {
    pub pidfile: Option<PathBuf>,
    pub exec_pre: Vec<Command>,
    pub exec_stop: Option<Command>,
    /// `None`: the manager's own credentials.
    pub user: Option<Account>,
    pub group: Option<Account>,
    pub supplementary_groups: Vec<Account>,
    pub working_directory: PathBuf,
    pub root_directory: PathBuf,
    pub environment_files: Vec<EnvFile>,
    /// Names relative to the runtime base (`/run` or `$XDG_RUNTIME_DIR`).
    pub runtime_directories: Vec<PathBuf>,
    pub limits: Rlimits,
    pub nice: Option<i32>,
    pub no_new_privileges: bool,
    /// `[environment]` in file order; applied after `environment_files`.
    pub environment: Vec<(String, String)>,
}

impl Default for RareKeys {
    fn default() -> Self {
        Self {
            pidfile: None,
            exec_pre: Vec::new(),
            exec_stop: None,
            user: None,
            group: None,
            supplementary_groups: Vec::new(),
            working_directory: PathBuf::from("/"),
            root_directory: PathBuf::from("/"),
            environment_files: Vec::new(),
            runtime_directories: Vec::new(),
            limits: Rlimits::default(),
            nice: None,
            no_new_privileges: false,
            environment: Vec::new(),
        }
    }
}

/// What a service without any of the rare keys reads.
static RARE_KEYS_UNSET: LazyLock<RareKeys> = LazyLock::new(RareKeys::default);

/// [`RareKeys`] in a box, absent while every one of them is unset.
/// Compared and hashed by what the keys say, so that an absent box
/// equals a box of defaults (a declaration's fingerprint must not depend
/// on how it was built).
#[derive(Debug, Clone, Default)]
struct OutOfLine(Option<Box<RareKeys>>);

impl OutOfLine {
    fn get(&self) -> &RareKeys {
        self.0.as_deref().unwrap_or(&RARE_KEYS_UNSET)
    }
}

impl PartialEq for OutOfLine {
    fn eq(&self, other: &Self) -> bool {
        self.get() == other.get()
    }
}

impl Eq for OutOfLine {}

impl std::hash::Hash for OutOfLine {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.get().hash(state);
    }
}

impl Service {
    /// The cgroup keys it sets (all unset when none is).
    pub fn cgroup_limits(&self) -> CgroupLimits {
        self.cgroup.as_deref().copied().unwrap_or_default()
    }
    /// The cgroup keys, to set one.
    pub fn cgroup_mut(&mut self) -> &mut CgroupLimits {
        self.cgroup.get_or_insert_with(Box::default)
    }
    /// The keys few declarations set, with their defaults when none is.
    pub fn rare(&self) -> &RareKeys {
        self.rare.get()
    }
    /// The keys few declarations set, to set one.
    pub fn rare_mut(&mut self) -> &mut RareKeys {
        self.rare.0.get_or_insert_with(Box::default)
    }
    /// Gives back the box of rare keys when all of them are at their
    /// defaults (set explicitly, or cleared again).
    pub fn shrink_to_fit(&mut self) {
        if self.rare.0.as_deref() == Some(&RARE_KEYS_UNSET) {
            self.rare.0 = None;
        }
    }
    /// A service running `exec` with every default.
    pub fn new(exec: Command) -> Self {
        Self {
            exec,
            service_type: ServiceType::Simple,
            ready: Ready::Started,
            ready_timeout: Duration::from_secs(60),
            restart: Restart::Always,
            restart_delay: Duration::from_millis(100),
            restart_delay_max: Duration::from_secs(30),
            restart_reset: Duration::from_secs(10),
            restart_limit: 0,
            stop_signal: 15,
            stop_timeout: Duration::from_secs(10),
            reload_signal: 1,
            umask: 0o022,
            clear_environment: true,
            rare: OutOfLine::default(),
            cgroup: None,
            logging: Logging::default(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DepKind {
    Requires,
    Wants,
    After,
    Before,
    Provides,
    Conflicts,
    WantedBy,
}

impl DepKind {
    pub const ALL: [DepKind; 7] = [
        DepKind::Requires,
        DepKind::Wants,
        DepKind::After,
        DepKind::Before,
        DepKind::Provides,
        DepKind::Conflicts,
        DepKind::WantedBy,
    ];

    pub fn key(self) -> &'static str {
        match self {
            DepKind::Requires => "requires",
            DepKind::Wants => "wants",
            DepKind::After => "after",
            DepKind::Before => "before",
            DepKind::Provides => "provides",
            DepKind::Conflicts => "conflicts",
            DepKind::WantedBy => "wanted-by",
        }
    }
}

/// `[dependencies]`: the lists a declaration has, in `DepKind` order.
/// One vector of the kinds present rather than a field per kind: most
/// declarations use two kinds or fewer, and a manager holds a thousand.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Dependencies {
    lists: Vec<(DepKind, Vec<String>)>,
}

impl Dependencies {
    /// The names of one kind, in file order (empty when none).
    pub fn get(&self, kind: DepKind) -> &[String] {
        self.lists
            .iter()
            .find(|(k, _)| *k == kind)
            .map_or(&[], |(_, names)| names.as_slice())
    }
    /// The list of one kind, made (empty) if it was not there.
    pub fn get_mut(&mut self, kind: DepKind) -> &mut Vec<String> {
        let i = match self.lists.binary_search_by_key(&kind, |(k, _)| *k) {
            Ok(i) => i,
            Err(i) => {
                self.lists.insert(i, (kind, Vec::new()));
                i
            }
        };
        &mut self.lists[i].1
    }
    /// Drops emptied lists and the room the vectors grew beyond what
    /// they hold.
    pub fn shrink_to_fit(&mut self) {
        self.lists.retain(|(_, names)| !names.is_empty());
        for (_, names) in &mut self.lists {
            names.shrink_to_fit();
        }
        self.lists.shrink_to_fit();
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    Service(Box<Service>),
    Target,
}

/// One loaded declaration: a service or a target (templates are only
/// declarations once instantiated).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Declaration {
    pub name: String,
    pub file: PathBuf,
    pub description: Option<String>,
    pub kind: Kind,
    pub deps: Dependencies,
    /// Made from a template ([`Declaration::template`]). A flag rather
    /// than the template's name, which is the start of its own.
    pub from_template: bool,
    /// Where each key and dependency item was written, for diagnostics.
    pub lines: SourceLines,
}

/// The sections whose keys are known, with their tables of key names:
/// a known key is recorded as two small numbers into these.
const KNOWN_SECTIONS: [(&str, &[&str]); 4] = [
    ("service", crate::decl::SERVICE_KEYS),
    ("target", crate::decl::TARGET_KEYS),
    ("dependencies", crate::decl::DEPENDENCY_KEYS),
    ("logging", crate::decl::LOGGING_KEYS),
];

/// `(section, key)` as indices into [`KNOWN_SECTIONS`].
fn known_key(section: &str, key: &str) -> Option<(u8, u8)> {
    let (s, (_, keys)) = KNOWN_SECTIONS
        .iter()
        .enumerate()
        .find(|(_, (name, _))| *name == section)?;
    let k = keys.iter().position(|k| *k == key)?;
    Some((u8::try_from(s).ok()?, u8::try_from(k).ok()?))
}

/// First line of each `(section, key)` and of each dependency item. Few per
/// file, so a vector beats a hash map. A known key is two indices into the
/// tables of known keys (8 bytes with its line); only the names of
/// `[environment]` are kept as text: a manager holds a thousand of these.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourceLines {
    keys: Vec<(u8, u8, u32)>,
    others: Vec<(&'static str, String, u32)>,
    deps: Vec<(DepKind, String, u32)>,
}

impl SourceLines {
    pub fn key(&self, section: &str, key: &str) -> Option<u32> {
        match known_key(section, key) {
            Some((s, k)) => self
                .keys
                .iter()
                .find(|(ks, kk, _)| (*ks, *kk) == (s, k))
                .map(|(_, _, l)| *l),
            None => self
                .others
                .iter()
                .find(|(s, k, _)| *s == section && k == key)
                .map(|(_, _, l)| *l),
        }
    }
    pub fn dep(&self, kind: DepKind, name: &str) -> Option<u32> {
        self.deps
            .iter()
            .find(|(k, n, _)| *k == kind && n == name)
            .map(|(_, _, l)| *l)
    }
    /// Records `key` at `line` unless already there.
    pub fn add_key(&mut self, section: &'static str, key: &str, line: u32) {
        if self.key(section, key).is_some() {
            return;
        }
        match known_key(section, key) {
            Some((s, k)) => self.keys.push((s, k, line)),
            None => self.others.push((section, key.to_string(), line)),
        }
    }
    /// Gives back the room the vectors grew beyond what they hold.
    pub fn shrink_to_fit(&mut self) {
        self.keys.shrink_to_fit();
        self.others.shrink_to_fit();
        self.deps.shrink_to_fit();
    }
    /// Records a dependency item at `line` unless already there.
    pub fn add_dep(&mut self, kind: DepKind, name: &str, line: u32) {
        if self.dep(kind, name).is_none() {
            self.deps.push((kind, name.to_string(), line));
        }
    }
}

impl Declaration {
    pub fn service(&self) -> Option<&Service> {
        match &self.kind {
            Kind::Service(s) => Some(s),
            Kind::Target => None,
        }
    }
    pub fn is_target(&self) -> bool {
        matches!(self.kind, Kind::Target)
    }
    /// For an instance made from a template, the template's name
    /// (`getty@`).
    pub fn template(&self) -> Option<&str> {
        if !self.from_template {
            return None;
        }
        match crate::names::classify(&self.name) {
            Ok(crate::names::NameKind::Instance { template, .. }) => Some(template),
            _ => None,
        }
    }
    pub fn key_line(&self, section: &str, key: &str) -> Option<u32> {
        self.lines.key(section, key)
    }
    pub fn dep_line(&self, kind: DepKind, name: &str) -> Option<u32> {
        self.lines.dep(kind, name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_command_gives_back_its_words() {
        let words = |w: &[&str]| w.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        for argv in [&["/bin/true"][..], &["a", "", "b c", ""], &[""]] {
            let c = Command::new(words(argv)).unwrap();
            assert_eq!(c.to_vec(), argv);
            assert_eq!(c.program(), argv[0]);
            assert_eq!(c.args().collect::<Vec<_>>(), &argv[1..]);
        }
        assert_eq!(Command::new(Vec::new()), None);
        assert_eq!(Command::new(words(&["a\0b"])), None);
        assert_ne!(
            Command::new(words(&["a", "b"])),
            Command::new(words(&["a b"]))
        );
    }
}
