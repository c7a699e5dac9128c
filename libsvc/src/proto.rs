//! The protocol.md messages, once for every svc program: the envelope, each
//! method's arguments, the status a supervisor reports (replies and events)
//! and the declaration a manager sends a supervisor.
//!
//! Every key name is a constant in [`key`]. Each message has an owned form
//! that converts to and from an [`NvList`] (the manager and svcctl), and
//! where svc-supervise handles it in its steady state, a borrowed form that
//! reads from an [`NvView`] and writes with an [`NvWriter`] without
//! allocating. `tests/proto_props.rs` round-trips every message and checks
//! that both forms write the same bytes.

mod declaration;

pub use declaration::{CgroupFork, Declaration, Limit, ReadyWire};

use libnv::{Flags, NvList, NvView, NvWriter, ValueRef};
use std::borrow::Cow;

/// `ipc:version` of every message.
pub const VERSION: u64 = 1;

/// `ipc:error_code` values.
pub mod code {
    pub const INVALID_ENVELOPE: u64 = 1;
    pub const NOT_A_REQUEST: u64 = 2;
    pub const UNKNOWN_METHOD: u64 = 3;
    pub const INVALID_ARGUMENT: u64 = 4;
    pub const NOT_PERMITTED: u64 = 5;
    pub const NO_SUCH_SERVICE: u64 = 6;
    pub const FAILED: u64 = 7;
}

/// Every key of every message.
pub mod key {
    // Envelope.
    pub const VERSION: &str = "ipc:version";
    pub const ID: &str = "ipc:id";
    pub const METHOD: &str = "ipc:method";
    pub const REPLY: &str = "ipc:reply";
    pub const ERROR_CODE: &str = "ipc:error_code";
    pub const ERROR: &str = "ipc:error";
    // Arguments.
    pub const NAMES: &str = "names";
    pub const SIGNAL: &str = "signal";
    pub const TARGET: &str = "target";
    pub const NO_WAIT: &str = "no_wait";
    pub const SERVICE: &str = "service";
    pub const START: &str = "start";
    // Status.
    pub const NAME: &str = "name";
    pub const STATE: &str = "state";
    pub const PID: &str = "pid";
    pub const SINCE: &str = "since";
    pub const RESTARTS: &str = "restarts";
    pub const LAST_EXIT_STATUS: &str = "last_exit_status";
    pub const LAST_EXIT_SIGNAL: &str = "last_exit_signal";
    pub const WANTED: &str = "wanted";
    pub const REASON: &str = "reason";
    pub const STATUS_TEXT: &str = "status_text";
    pub const LOG_DROPPED: &str = "log_dropped";
    // What the manager adds to a service's status, and its replies.
    pub const KIND: &str = "kind";
    pub const DESCRIPTION: &str = "description";
    pub const SUPERVISOR_PID: &str = "supervisor_pid";
    pub const LOG: &str = "log";
    pub const FILE: &str = "file";
    pub const ENABLED: &str = "enabled";
    pub const SERVICES: &str = "services";
    pub const TEMPLATES: &str = "templates";
    pub const JOB: &str = "job";
    pub const OK: &str = "ok";
    pub const RESULT: &str = "result";
    pub const ADDED: &str = "added";
    pub const CHANGED: &str = "changed";
    pub const ERRORS: &str = "errors";
    // Cgroups: in the `status` reply, and each service's usage in it.
    pub const CGROUPS: &str = "cgroups";
    pub const CGROUPS_NOTE: &str = "cgroups_note";
    pub const USAGE: &str = "usage";
    pub const MEMORY_CURRENT: &str = "memory_current";
    pub const MEMORY_PEAK: &str = "memory_peak";
    pub const CPU_USEC: &str = "cpu_usec";
    pub const TASKS: &str = "tasks";
    pub const OOM_KILLS: &str = "oom_kills";
}

/// Method names that more than one program sends or answers.
pub mod method {
    pub const STATUS: &str = "status";
    pub const START: &str = "start";
    pub const ONCE: &str = "once";
    pub const STOP: &str = "stop";
    pub const RESTART: &str = "restart";
    pub const KILL: &str = "kill";
    pub const RELOAD: &str = "reload";
    pub const EXIT: &str = "exit";
    pub const ATTACH: &str = "attach";
    pub const DECLARE: &str = "declare";
    pub const EVENT: &str = "event";
}

/// An error to answer with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub code: u64,
    pub text: String,
}

impl Failure {
    pub fn new(code: u64, text: impl Into<String>) -> Failure {
        Failure {
            code,
            text: text.into(),
        }
    }
}

/// Where a message's keys go: an owned [`NvList`] or an [`NvWriter`]. Each
/// message writes its keys once, through this, for both forms.
pub trait Sink {
    fn string(&mut self, name: &str, value: &[u8]) -> libnv::Result<()>;
    fn number(&mut self, name: &str, value: u64) -> libnv::Result<()>;
    fn boolean(&mut self, name: &str, value: bool) -> libnv::Result<()>;
}

/// Both have the same `add_*` methods; `Sink` only names them once.
macro_rules! sink {
    ($($t:ty),*) => {$(
        impl Sink for $t {
            fn string(&mut self, name: &str, value: &[u8]) -> libnv::Result<()> {
                self.add_string(name, value)
            }
            fn number(&mut self, name: &str, value: u64) -> libnv::Result<()> {
                self.add_number(name, value)
            }
            fn boolean(&mut self, name: &str, value: bool) -> libnv::Result<()> {
                self.add_bool(name, value)
            }
        }
    )*};
}

sink!(NvList, NvWriter<'_>);

// ----- envelope -----

/// The envelope of a message: who it answers and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Envelope<'a> {
    pub id: u64,
    pub method: &'a str,
    pub reply: bool,
}

impl<'a> Envelope<'a> {
    pub fn request(id: u64, method: &'a str) -> Envelope<'a> {
        Envelope {
            id,
            method,
            reply: false,
        }
    }

    pub fn reply(id: u64, method: &'a str) -> Envelope<'a> {
        Envelope {
            id,
            method,
            reply: true,
        }
    }

    /// Writes the envelope keys.
    pub fn write_to(&self, w: &mut impl Sink) -> libnv::Result<()> {
        w.number(key::VERSION, VERSION)?;
        w.number(key::ID, self.id)?;
        w.string(key::METHOD, self.method.as_bytes())?;
        w.boolean(key::REPLY, self.reply)
    }

    /// A list holding the envelope keys, for the caller to add to.
    pub fn to_nvlist(&self) -> NvList {
        let mut l = NvList::new();
        // Fixed, distinct, valid names added to an empty list cannot fail.
        let _ = self.write_to(&mut l);
        l
    }

    /// Starts a message in `buf`; the caller adds keys and finishes.
    pub fn begin<'b>(&self, buf: &'b mut Vec<u8>) -> libnv::Result<NvWriter<'b>> {
        let mut w = NvWriter::new(buf, Flags::NONE);
        self.write_to(&mut w)?;
        Ok(w)
    }
}

/// A message with its envelope filled in.
pub fn message(id: u64, method: &str, reply: bool) -> NvList {
    Envelope { id, method, reply }.to_nvlist()
}

/// A failed reply: the envelope, `ipc:error_code` and `ipc:error`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrorReply<'a> {
    pub id: u64,
    pub method: &'a str,
    pub code: u64,
    pub text: &'a str,
}

impl ErrorReply<'_> {
    fn write_to(&self, w: &mut impl Sink, text: &str) -> libnv::Result<()> {
        Envelope::reply(self.id, self.method).write_to(w)?;
        w.number(key::ERROR_CODE, self.code)?;
        w.string(key::ERROR, text.as_bytes())
    }

    /// Appends the complete message to `buf`.
    pub fn write(&self, buf: &mut Vec<u8>) -> libnv::Result<()> {
        let mut w = NvWriter::new(buf, Flags::NONE);
        self.write_to(&mut w, self.text)?;
        w.finish()?;
        Ok(())
    }

    pub fn to_nvlist(&self) -> NvList {
        let mut l = NvList::new();
        // A NUL would end the string on the wire.
        let _ = self.write_to(&mut l, &self.text.replace('\0', " "));
        l
    }
}

/// A failed reply as a list.
pub fn error_reply(id: u64, method: &str, failure: &Failure) -> NvList {
    ErrorReply {
        id,
        method,
        code: failure.code,
        text: &failure.text,
    }
    .to_nvlist()
}

/// A request's envelope, checked.
#[derive(Clone, Copy, Debug)]
pub struct Request<'a> {
    pub id: u64,
    pub method: &'a str,
    pub args: NvView<'a>,
}

/// A bad envelope: the id to answer with (0 when unknown), code and text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EnvelopeError {
    pub id: u64,
    pub code: u64,
    pub text: &'static str,
}

impl EnvelopeError {
    pub fn failure(&self) -> Failure {
        Failure::new(self.code, self.text)
    }
}

/// Checks the envelope of a received request (allocates nothing).
pub fn parse_request(view: NvView<'_>) -> Result<Request<'_>, EnvelopeError> {
    let bad = |id, text| EnvelopeError {
        id,
        code: code::INVALID_ENVELOPE,
        text,
    };
    let id = view
        .get_number(key::ID)
        .ok_or(bad(0, "ipc:id missing or not a number"))?;
    match view.get_number(key::VERSION) {
        Some(VERSION) => {}
        Some(_) => return Err(bad(id, "unsupported ipc:version")),
        None => return Err(bad(id, "ipc:version missing or not a number")),
    }
    if view.get_bool(key::REPLY) == Some(true) {
        return Err(EnvelopeError {
            id,
            code: code::NOT_A_REQUEST,
            text: "a reply where a request was due",
        });
    }
    let method = view
        .get_str(key::METHOD)
        .ok_or(bad(id, "ipc:method missing or not a string"))?;
    Ok(Request {
        id,
        method,
        args: view,
    })
}

/// What a received reply or event says in its envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub id: Option<u64>,
    pub method: String,
    pub reply: bool,
    /// `ipc:error_code` and `ipc:error` of a failed reply.
    pub error: Option<Failure>,
}

impl Answer {
    pub fn from_nvlist(l: &NvList) -> Answer {
        Answer {
            id: l.get_number(key::ID),
            method: l.get_str(key::METHOD).unwrap_or("").to_owned(),
            reply: l.get_bool(key::REPLY) == Some(true),
            error: l
                .get_number(key::ERROR_CODE)
                .map(|c| Failure::new(c, l.get_str(key::ERROR).unwrap_or("failed").to_owned())),
        }
    }

    pub fn from_view(v: &NvView) -> Answer {
        Answer {
            id: v.get_number(key::ID),
            method: v.get_str(key::METHOD).unwrap_or("").to_owned(),
            reply: v.get_bool(key::REPLY) == Some(true),
            error: v
                .get_str(key::ERROR)
                .map(|t| Failure::new(v.get_number(key::ERROR_CODE).unwrap_or(0), t)),
        }
    }
}

// ----- arguments -----

fn invalid(text: impl Into<String>) -> Failure {
    Failure::new(code::INVALID_ARGUMENT, text)
}

const NAMES_EXPECTED: &str = "names: expected a string array";

/// `names`: a string array, or one string; absent means every service the
/// receiver answers for.
#[derive(Clone, Copy, Debug)]
pub enum Names<'a> {
    All,
    One(&'a [u8]),
    Many(libnv::StringArrayRef<'a>),
}

impl<'a> Names<'a> {
    /// Reads `names` without allocating.
    pub fn from_view(args: &NvView<'a>) -> Result<Names<'a>, EnvelopeError> {
        match args.get(key::NAMES) {
            None => Ok(Names::All),
            Some(ValueRef::StringArray(a)) if a.is_empty() => Ok(Names::All),
            Some(ValueRef::StringArray(a)) => Ok(Names::Many(a)),
            Some(ValueRef::String(s)) => Ok(Names::One(s)),
            Some(_) => Err(EnvelopeError {
                id: 0,
                code: code::INVALID_ARGUMENT,
                text: NAMES_EXPECTED,
            }),
        }
    }

    /// Whether the request is for `name`.
    pub fn includes(&self, name: &str) -> bool {
        match self {
            Names::All => true,
            Names::One(n) => *n == name.as_bytes(),
            Names::Many(a) => a.iter().any(|n| n == name.as_bytes()),
        }
    }

    /// The names given (empty: none given).
    pub fn to_vec(&self) -> Result<Vec<String>, Failure> {
        let text = |s: &[u8]| {
            std::str::from_utf8(s)
                .map(str::to_owned)
                .map_err(|_| invalid(NAMES_EXPECTED))
        };
        match self {
            Names::All => Ok(Vec::new()),
            Names::One(s) => Ok(vec![text(s)?]),
            Names::Many(a) => a.iter().map(text).collect(),
        }
    }
}

/// `names` as owned strings (empty: none given).
pub fn names(args: &NvView) -> Result<Vec<String>, Failure> {
    Names::from_view(args).map_err(|e| e.failure())?.to_vec()
}

/// Adds `names` to a request.
pub fn add_names<S: AsRef<str>>(l: &mut NvList, names: &[S]) -> libnv::Result<()> {
    l.add_string_array(key::NAMES, names.iter().map(AsRef::as_ref))
}

/// An optional bool argument.
pub fn flag(args: &NvView, name: &str) -> Result<bool, Failure> {
    match args.get(name) {
        None => Ok(false),
        Some(ValueRef::Bool(b)) => Ok(b),
        Some(_) => Err(invalid(format!("{name}: expected a bool"))),
    }
}

/// An optional string argument.
pub fn string<'a>(args: &NvView<'a>, name: &str) -> Result<Option<&'a str>, Failure> {
    match args.get(name) {
        None => Ok(None),
        Some(ValueRef::String(s)) => std::str::from_utf8(s)
            .map(Some)
            .map_err(|_| invalid(format!("{name}: expected UTF-8"))),
        Some(_) => Err(invalid(format!("{name}: expected a string"))),
    }
}

/// A signal as the wire carries one: a number from 1 to 64, or a name as
/// declarations write it (`TERM`, `sigterm`, `RTMIN+3`).
pub fn signal_value(v: ValueRef) -> Option<i32> {
    match v {
        ValueRef::Number(n) if (1..=64).contains(&n) => Some(n as i32),
        ValueRef::String(s) => std::str::from_utf8(s)
            .ok()
            .and_then(|s| crate::signal::parse_signal(s).ok()),
        _ => None,
    }
}

/// `kill`'s `signal`: absent means SIGKILL.
pub fn kill_signal(args: &NvView) -> Result<i32, EnvelopeError> {
    match args.get(key::SIGNAL) {
        None => Ok(9),
        Some(v) => signal_value(v).ok_or(EnvelopeError {
            id: 0,
            code: code::INVALID_ARGUMENT,
            text: "signal: not a signal",
        }),
    }
}

// ----- status -----

/// What a supervisor says about its service (status reply or event), and
/// what the manager reports for each service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// A known state or wish borrows its name (a manager holds a status
    /// per service); another one, from a newer supervisor, is owned.
    pub state: Cow<'static, str>,
    pub pid: u64,
    pub since: u64,
    pub restarts: u64,
    pub last_exit_status: Option<u64>,
    pub last_exit_signal: Option<u64>,
    pub wanted: Cow<'static, str>,
    pub reason: Option<String>,
    pub status_text: Option<String>,
}

/// The states and wishes a supervisor reports (docs/supervise.md).
const KNOWN_WORDS: &[&str] = &[
    "down", "up", "starting", "running", "ready", "stopping", "backoff", "failed", "finished",
    "exited",
];

/// `word` borrowed from [`KNOWN_WORDS`] when it is one of them.
fn known_word(word: &str) -> Cow<'static, str> {
    match KNOWN_WORDS.iter().find(|w| **w == word) {
        Some(w) => Cow::Borrowed(w),
        None => Cow::Owned(word.to_owned()),
    }
}

/// [`Status`] borrowed, for writing without allocating.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatusRef<'a> {
    pub state: &'a str,
    pub pid: u64,
    pub since: u64,
    pub restarts: u64,
    pub last_exit_status: Option<u64>,
    pub last_exit_signal: Option<u64>,
    pub wanted: &'a str,
    pub reason: Option<&'a str>,
    /// sd_notify `STATUS=` bytes, as the service sent them.
    pub status_text: Option<&'a [u8]>,
}

impl Default for Status {
    fn default() -> Self {
        Status {
            state: "down".into(),
            pid: 0,
            since: now_unix(),
            restarts: 0,
            last_exit_status: None,
            last_exit_signal: None,
            wanted: "down".into(),
            reason: None,
            status_text: None,
        }
    }
}

pub fn now_unix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Status {
    /// Reads the status keys; `None` when `state` is missing.
    pub fn from_view(v: &NvView) -> Option<Status> {
        let state = known_word(v.get_str(key::STATE)?);
        Some(Status {
            state,
            pid: v.get_number(key::PID).unwrap_or(0),
            since: v.get_number(key::SINCE).unwrap_or(0),
            restarts: v.get_number(key::RESTARTS).unwrap_or(0),
            last_exit_status: v.get_number(key::LAST_EXIT_STATUS),
            last_exit_signal: v.get_number(key::LAST_EXIT_SIGNAL),
            wanted: known_word(v.get_str(key::WANTED).unwrap_or("down")),
            reason: v.get_str(key::REASON).map(str::to_owned),
            status_text: v.get_str(key::STATUS_TEXT).map(str::to_owned),
        })
    }

    /// Reads the status keys of a list; `None` when `state` is missing.
    pub fn from_nvlist(l: &NvList) -> Option<Status> {
        let bytes = l.pack().ok()?;
        Status::from_view(&NvView::new(&bytes).ok()?)
    }

    pub fn as_ref(&self) -> StatusRef<'_> {
        StatusRef {
            state: &self.state,
            pid: self.pid,
            since: self.since,
            restarts: self.restarts,
            last_exit_status: self.last_exit_status,
            last_exit_signal: self.last_exit_signal,
            wanted: &self.wanted,
            reason: self.reason.as_deref(),
            status_text: self.status_text.as_deref().map(str::as_bytes),
        }
    }

    /// A process of the service may exist.
    pub fn has_process(&self) -> bool {
        matches!(&*self.state, "starting" | "running" | "ready" | "stopping")
    }

    /// Up as far as dependents are concerned.
    pub fn is_up(&self) -> bool {
        matches!(&*self.state, "ready" | "finished")
    }

    /// Adds the status keys (not `name`/`kind`) to `l`.
    pub fn write(&self, l: &mut NvList) -> libnv::Result<()> {
        self.as_ref().write_to(l)
    }

    /// The status keys as a list of their own.
    pub fn to_nvlist(&self) -> libnv::Result<NvList> {
        let mut l = NvList::new();
        self.write(&mut l)?;
        Ok(l)
    }
}

impl StatusRef<'_> {
    /// Writes the status keys.
    pub fn write_to(&self, w: &mut impl Sink) -> libnv::Result<()> {
        w.string(key::STATE, self.state.as_bytes())?;
        w.number(key::PID, self.pid)?;
        w.number(key::SINCE, self.since)?;
        w.number(key::RESTARTS, self.restarts)?;
        if let Some(n) = self.last_exit_status {
            w.number(key::LAST_EXIT_STATUS, n)?;
        }
        if let Some(n) = self.last_exit_signal {
            w.number(key::LAST_EXIT_SIGNAL, n)?;
        }
        w.string(key::WANTED, self.wanted.as_bytes())?;
        if let Some(r) = self.reason {
            w.string(key::REASON, r.as_bytes())?;
        }
        if let Some(t) = self.status_text {
            w.string(key::STATUS_TEXT, t)?;
        }
        Ok(())
    }
}

/// A supervisor's status reply or event: the envelope, `name`, the status
/// keys and `log_dropped`.
#[derive(Debug, Clone, Copy)]
pub struct Report<'a> {
    pub envelope: Envelope<'a>,
    pub name: &'a str,
    pub status: StatusRef<'a>,
    pub log_dropped: u64,
}

impl Report<'_> {
    fn write_to(&self, w: &mut impl Sink) -> libnv::Result<()> {
        self.envelope.write_to(w)?;
        w.string(key::NAME, self.name.as_bytes())?;
        self.status.write_to(w)?;
        w.number(key::LOG_DROPPED, self.log_dropped)
    }

    /// Appends the complete message to `buf` (no allocation once `buf`
    /// has room).
    pub fn write(&self, buf: &mut Vec<u8>) -> libnv::Result<()> {
        let mut w = NvWriter::new(buf, Flags::NONE);
        self.write_to(&mut w)?;
        w.finish()?;
        Ok(())
    }

    pub fn to_nvlist(&self) -> libnv::Result<NvList> {
        let mut l = NvList::new();
        self.write_to(&mut l)?;
        Ok(l)
    }
}

// ----- usage -----

/// A service's `usage` as the manager's `status` carries it: each number
/// only when its cgroup file could be read.
pub fn usage_to_nvlist(u: &crate::cgroup::usage::Usage) -> NvList {
    let mut l = NvList::new();
    for (k, v) in [
        (key::MEMORY_CURRENT, u.memory_current),
        (key::MEMORY_PEAK, u.memory_peak),
        (key::CPU_USEC, u.cpu_usec),
        (key::TASKS, u.tasks),
        (key::OOM_KILLS, u.oom_kills),
    ] {
        if let Some(v) = v {
            // Fixed, distinct names on a fresh list cannot fail.
            let _ = l.add_number(k, v);
        }
    }
    l
}

/// The `usage` of a status item, if it has one.
pub fn usage_from_nvlist(item: &NvList) -> Option<crate::cgroup::usage::Usage> {
    let u = item.get_nvlist(key::USAGE)?;
    Some(crate::cgroup::usage::Usage {
        memory_current: u.get_number(key::MEMORY_CURRENT),
        memory_peak: u.get_number(key::MEMORY_PEAK),
        cpu_usec: u.get_number(key::CPU_USEC),
        tasks: u.get_number(key::TASKS),
        oom_kills: u.get_number(key::OOM_KILLS),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_round_trip() {
        use crate::cgroup::usage::Usage;
        let u = Usage {
            memory_current: Some(5 << 20),
            memory_peak: None,
            cpu_usec: Some(1523),
            tasks: Some(3),
            oom_kills: Some(0),
        };
        let mut item = NvList::new();
        item.add_nvlist(key::USAGE, usage_to_nvlist(&u)).unwrap();
        let bytes = item.pack().unwrap();
        let back = NvList::unpack(&bytes, libnv::Flags::NONE).unwrap();
        assert_eq!(usage_from_nvlist(&back), Some(u));
        assert_eq!(usage_from_nvlist(&NvList::new()), None);
    }

    #[test]
    fn envelope_round_trip() {
        let mut req = message(9, "status", false);
        add_names(&mut req, &["a", "b"]).unwrap();
        let bytes = req.pack().unwrap();
        let view = NvView::new(&bytes).unwrap();
        let r = parse_request(view).unwrap();
        assert_eq!((r.id, r.method), (9, "status"));
        assert_eq!(names(&r.args).unwrap(), vec!["a", "b"]);

        let reply = message(9, "status", true).pack().unwrap();
        let e = parse_request(NvView::new(&reply).unwrap()).unwrap_err();
        assert_eq!(e.code, code::NOT_A_REQUEST);

        let mut bare = NvList::new();
        bare.add_number(key::ID, 4).unwrap();
        let bytes = bare.pack().unwrap();
        let e = parse_request(NvView::new(&bytes).unwrap()).unwrap_err();
        assert_eq!(
            e,
            EnvelopeError {
                id: 4,
                code: code::INVALID_ENVELOPE,
                text: "ipc:version missing or not a number"
            }
        );
    }

    #[test]
    fn kill_signals_read_as_declarations_write_them() {
        for (given, want) in [("TERM", 15), ("sigterm", 15), ("RTMIN+3", 37), ("10", 10)] {
            let mut l = NvList::new();
            l.add_string(key::SIGNAL, given).unwrap();
            let bytes = l.pack().unwrap();
            assert_eq!(
                kill_signal(&NvView::new(&bytes).unwrap()),
                Ok(want),
                "{given}"
            );
        }
        let bytes = NvList::new().pack().unwrap();
        assert_eq!(kill_signal(&NvView::new(&bytes).unwrap()), Ok(9));
        let mut l = NvList::new();
        l.add_number(key::SIGNAL, 65).unwrap();
        let bytes = l.pack().unwrap();
        assert!(kill_signal(&NvView::new(&bytes).unwrap()).is_err());
    }
}
