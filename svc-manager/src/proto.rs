//! The protocol.md envelope: building requests and replies, reading a
//! request's envelope and arguments, and the status keys every service
//! reply and event carries.

use libnv::{NvList, NvView, ValueRef};

pub use libsvc::ipc::{VERSION, code};

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

/// A message with its envelope filled in.
pub fn message(id: u64, method: &str, reply: bool) -> NvList {
    let mut l = NvList::new();
    // Adding fixed, distinct, valid names to an empty list cannot fail.
    let _ = l.add_number("ipc:version", VERSION);
    let _ = l.add_number("ipc:id", id);
    let _ = l.add_string("ipc:method", method);
    let _ = l.add_bool("ipc:reply", reply);
    l
}

/// A failed reply.
pub fn error_reply(id: u64, method: &str, failure: &Failure) -> NvList {
    let mut l = message(id, method, true);
    let _ = l.add_number("ipc:error_code", failure.code);
    let _ = l.add_string("ipc:error", failure.text.replace('\0', " "));
    l
}

/// A request's envelope, checked.
pub struct Request<'a> {
    pub id: u64,
    pub method: &'a str,
    pub args: NvView<'a>,
}

/// Reads the envelope of a received message. On error: the id to answer
/// with (0 when unknown) and the failure.
pub fn parse_request<'a>(view: NvView<'a>) -> Result<Request<'a>, (u64, Failure)> {
    let bad = |id, text: &str| (id, Failure::new(code::INVALID_ENVELOPE, text));
    let id = view
        .get_number("ipc:id")
        .ok_or_else(|| bad(0, "ipc:id missing or not a number"))?;
    match view.get_number("ipc:version") {
        Some(VERSION) => {}
        Some(v) => return Err(bad(id, &format!("unsupported ipc:version {v}"))),
        None => return Err(bad(id, "ipc:version missing or not a number")),
    }
    if view.get_bool("ipc:reply") == Some(true) {
        return Err((
            id,
            Failure::new(code::NOT_A_REQUEST, "a reply where a request was due"),
        ));
    }
    let method = view
        .get_str("ipc:method")
        .ok_or_else(|| bad(id, "ipc:method missing or not a string"))?;
    Ok(Request {
        id,
        method,
        args: view,
    })
}

/// `names`: a string array (or one string); absent means none given.
pub fn names(args: &NvView) -> Result<Vec<String>, Failure> {
    let bad = || Failure::new(code::INVALID_ARGUMENT, "names: expected a string array");
    match args.get("names") {
        None => Ok(Vec::new()),
        Some(ValueRef::StringArray(a)) => a
            .iter()
            .map(|s| std::str::from_utf8(s).map(str::to_owned).map_err(|_| bad()))
            .collect(),
        Some(ValueRef::String(s)) => std::str::from_utf8(s)
            .map(|s| vec![s.to_owned()])
            .map_err(|_| bad()),
        Some(_) => Err(bad()),
    }
}

/// An optional bool argument.
pub fn flag(args: &NvView, key: &str) -> Result<bool, Failure> {
    match args.get(key) {
        None => Ok(false),
        Some(ValueRef::Bool(b)) => Ok(b),
        Some(_) => Err(Failure::new(
            code::INVALID_ARGUMENT,
            format!("{key}: expected a bool"),
        )),
    }
}

/// An optional string argument.
pub fn string<'a>(args: &NvView<'a>, key: &str) -> Result<Option<&'a str>, Failure> {
    match args.get(key) {
        None => Ok(None),
        Some(ValueRef::String(s)) => std::str::from_utf8(s)
            .map(Some)
            .map_err(|_| Failure::new(code::INVALID_ARGUMENT, format!("{key}: expected UTF-8"))),
        Some(_) => Err(Failure::new(
            code::INVALID_ARGUMENT,
            format!("{key}: expected a string"),
        )),
    }
}

/// What a supervisor says about its service (status reply or event).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    pub state: String,
    pub pid: u64,
    pub since: u64,
    pub restarts: u64,
    pub last_exit_status: Option<u64>,
    pub last_exit_signal: Option<u64>,
    pub wanted: String,
    pub reason: Option<String>,
    pub status_text: Option<String>,
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
        let state = v.get_str("state")?.to_owned();
        Some(Status {
            state,
            pid: v.get_number("pid").unwrap_or(0),
            since: v.get_number("since").unwrap_or(0),
            restarts: v.get_number("restarts").unwrap_or(0),
            last_exit_status: v.get_number("last_exit_status"),
            last_exit_signal: v.get_number("last_exit_signal"),
            wanted: v.get_str("wanted").unwrap_or("down").to_owned(),
            reason: v.get_str("reason").map(str::to_owned),
            status_text: v.get_str("status_text").map(str::to_owned),
        })
    }

    /// A process of the service may exist.
    pub fn has_process(&self) -> bool {
        matches!(
            self.state.as_str(),
            "starting" | "running" | "ready" | "stopping"
        )
    }

    /// Up as far as dependents are concerned.
    pub fn is_up(&self) -> bool {
        matches!(self.state.as_str(), "ready" | "finished")
    }

    /// Writes the status keys (not `name`/`kind`).
    pub fn write(&self, l: &mut NvList) -> libnv::Result<()> {
        l.add_string("state", &self.state)?;
        l.add_number("pid", self.pid)?;
        l.add_number("since", self.since)?;
        l.add_number("restarts", self.restarts)?;
        if let Some(s) = self.last_exit_status {
            l.add_number("last_exit_status", s)?;
        }
        if let Some(s) = self.last_exit_signal {
            l.add_number("last_exit_signal", s)?;
        }
        l.add_string("wanted", &self.wanted)?;
        if let Some(r) = &self.reason {
            l.add_string("reason", r)?;
        }
        if let Some(t) = &self.status_text {
            l.add_string("status_text", t)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_round_trip() {
        let mut req = message(9, "status", false);
        req.add_string_array("names", ["a", "b"]).unwrap();
        let bytes = req.pack().unwrap();
        let view = NvView::new(&bytes).unwrap();
        let r = parse_request(view).unwrap();
        assert_eq!((r.id, r.method), (9, "status"));
        assert_eq!(names(&r.args).unwrap(), vec!["a", "b"]);

        let reply = message(9, "status", true).pack().unwrap();
        let e = parse_request(NvView::new(&reply).unwrap()).err().unwrap();
        assert_eq!(e.1.code, code::NOT_A_REQUEST);

        let mut bare = NvList::new();
        bare.add_number("ipc:id", 4).unwrap();
        let bytes = bare.pack().unwrap();
        let e = parse_request(NvView::new(&bytes).unwrap()).err().unwrap();
        assert_eq!((e.0, e.1.code), (4, code::INVALID_ENVELOPE));
    }
}
