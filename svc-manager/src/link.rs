//! The manager's connection to one supervisor: the socketpair of a
//! supervisor it started, or the control socket of one it adopted.
//! Messages in and out are non-blocking; what arrives is turned into
//! plain data (`Incoming`) for the manager to act on.

use std::os::unix::net::UnixStream;

use std::io::Read;

use libnv::{Limits, NvList, NvReceiver, NvSender, NvView, UnpackOptions};
use libsvc::Service;

use libsvc::proto::Answer;

use crate::proto::{self, Status};

/// Supervisor replies and events are small; this bounds what one may send.
const SUPERVISOR_MESSAGE_MAX: usize = 16 * 1024;

/// What one supervisor message said.
#[derive(Debug)]
pub enum Incoming {
    /// An `event`, or the status part of a reply.
    Status {
        status: Status,
        reply_to: Option<(u64, String)>,
    },
    /// A failed reply.
    Error { method: String, text: String },
}

pub struct Link {
    pub name: String,
    pub sock: UnixStream,
    /// Bytes of a message not complete yet. Supervisors send small
    /// messages without descriptors, so a plain growing buffer (sized by
    /// what arrives, not by the limit) keeps a thousand links cheap.
    inbox: Vec<u8>,
    /// What is queued for the supervisor; None when nothing is. Both
    /// buffers are given back whenever they are empty: a link talks a few
    /// times in its life and idles in between, and a thousand idle links
    /// would otherwise hold a few kilobytes each.
    tx: Option<Box<NvSender>>,
    next_id: u64,
    /// The supervisor took its declaration (always true once adopted).
    pub declared: bool,
    /// Send `start` as soon as the declaration is taken.
    pub start_when_declared: bool,
    /// Send `exit` as soon as the declaration is taken.
    pub exit_when_declared: bool,
    /// Id of a `start` (or of a `declare` carrying `start`) whose reply has
    /// not come: events before it describe the past, so the plan does not
    /// judge on them.
    pub awaiting_start: Option<u64>,
    /// `exit` was sent: the supervisor is going away.
    pub exiting: bool,
    /// Our child (None when adopted).
    pub pid: Option<u32>,
    /// A fingerprint of the declaration it runs (None when adopted:
    /// unknown), to tell whether the declaration changed since: a hash
    /// instead of a copy of the whole declaration, for each of a thousand
    /// links.
    pub given: Option<u64>,
    /// The events registered for `sock` with the manager's epoll (None:
    /// not registered yet).
    pub interest: Option<u32>,
}

pub fn receiver(max: usize) -> NvReceiver {
    NvReceiver::new(UnpackOptions {
        limits: Limits {
            max_size: max,
            max_depth: 8,
            max_descriptors: 0,
        },
        ..UnpackOptions::default()
    })
}

impl Link {
    pub fn new(name: &str, sock: UnixStream, pid: Option<u32>, given: Option<&Service>) -> Link {
        Link {
            name: name.to_owned(),
            sock,
            inbox: Vec::new(),
            tx: None,
            next_id: 1,
            declared: given.is_none(),
            start_when_declared: false,
            exit_when_declared: false,
            awaiting_start: None,
            exiting: false,
            pid,
            given: given.map(fingerprint),
            interest: None,
        }
    }

    /// Queues a request and tries to send it; returns its id.
    pub fn request(&mut self, method: &str, extra: Option<NvList>) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        let mut msg = proto::message(id, method, false);
        if let Some(extra) = extra {
            for pair in extra.into_pairs() {
                let (k, v) = pair.into_parts();
                let _ = msg.add(k, v);
            }
        }
        let tx = self.tx.get_or_insert_with(Box::default);
        if let Err(e) = tx.queue(&msg) {
            tracing::warn!("{}: cannot queue {method}: {e}", self.name);
        }
        let _ = self.flush();
        id
    }

    /// Sends what is queued; Err when the supervisor is gone.
    pub fn flush(&mut self) -> libnv::Result<bool> {
        if let Some(tx) = &mut self.tx {
            if !tx.flush(&self.sock)? {
                return Ok(false);
            }
            self.tx = None;
        }
        Ok(true)
    }

    /// Whether `service` differs from the declaration this supervisor was
    /// given (false when that is unknown: an adopted supervisor).
    pub fn runs_other_than(&self, service: &Service) -> bool {
        self.given.is_some_and(|g| g != fingerprint(service))
    }

    pub fn wants_write(&self) -> bool {
        self.tx.as_ref().is_some_and(|tx| !tx.is_empty())
    }

    /// Bytes already received (after adoption's first exchange).
    pub fn preload(&mut self, bytes: &[u8]) {
        self.inbox.extend_from_slice(bytes);
    }

    /// Reads everything available. `Ok(false)`: the supervisor closed.
    pub fn read(&mut self, out: &mut Vec<Incoming>) -> Result<bool, String> {
        let mut chunk = [0u8; 8192];
        let mut open = true;
        loop {
            match (&self.sock).read(&mut chunk) {
                Ok(0) => {
                    open = false;
                    break;
                }
                Ok(n) => self.inbox.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e.to_string()),
            }
        }
        let mut used = 0;
        while let Some(len) = frame_len(&self.inbox[used..], SUPERVISOR_MESSAGE_MAX)? {
            let view = NvView::new(&self.inbox[used..used + len]).map_err(|e| e.to_string())?;
            decode(&view, out);
            used += len;
        }
        self.inbox.drain(..used);
        if self.inbox.is_empty() {
            self.inbox = Vec::new();
        }
        if !open && !self.inbox.is_empty() {
            return Err("closed in the middle of a message".into());
        }
        Ok(open)
    }
}

/// A hash of everything in a declaration. `DefaultHasher::new()` has
/// fixed keys, so equal declarations give equal fingerprints in one run.
fn fingerprint(service: &Service) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::hash::DefaultHasher::new();
    service.hash(&mut h);
    h.finish()
}

/// The length of the message at the start of `buf`, once it is all there.
pub fn frame_len(buf: &[u8], max: usize) -> Result<Option<usize>, String> {
    let limits = Limits {
        max_size: max,
        max_depth: 8,
        max_descriptors: 0,
    };
    match NvReceiver::message_len(buf, &limits) {
        Ok(Some(len)) => Ok((buf.len() >= len).then_some(len)),
        Ok(None) => Ok(None),
        Err(e) => Err(e.to_string()),
    }
}

/// Turns one supervisor message into what the manager acts on.
fn decode(v: &NvView, out: &mut Vec<Incoming>) {
    let answer = Answer::from_view(v);
    if let Some(error) = answer.error {
        out.push(Incoming::Error {
            method: answer.method,
            text: error.text,
        });
        return;
    }
    if let Some(status) = Status::from_view(v) {
        let reply_to = answer
            .reply
            .then(|| (answer.id.unwrap_or(0), answer.method));
        out.push(Incoming::Status { status, reply_to });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn pair() -> (Link, UnixStream) {
        let (ours, theirs) = UnixStream::pair().unwrap();
        ours.set_nonblocking(true).unwrap();
        let service = Service::new(libsvc::model::Command::new(vec!["/bin/true".into()]).unwrap());
        (Link::new("a", ours, Some(1), Some(&service)), theirs)
    }

    #[test]
    fn an_idle_link_holds_no_buffers() {
        let (mut link, mut peer) = pair();
        link.request("status", None);
        assert!(
            link.tx.is_none(),
            "the send buffer is kept after it was sent"
        );
        assert!(!link.wants_write());

        let mut event = proto::message(0, "event", false);
        Status::default().write(&mut event).unwrap();
        let bytes = event.pack().unwrap();
        // Half a message: kept until the rest comes.
        peer.write_all(&bytes[..bytes.len() / 2]).unwrap();
        let mut out = Vec::new();
        assert!(link.read(&mut out).unwrap());
        assert!(out.is_empty());
        assert_eq!(link.inbox.len(), bytes.len() / 2);
        peer.write_all(&bytes[bytes.len() / 2..]).unwrap();
        assert!(link.read(&mut out).unwrap());
        assert_eq!(out.len(), 1);
        assert_eq!(
            link.inbox.capacity(),
            0,
            "the receive buffer is kept when empty"
        );
    }

    #[test]
    fn a_changed_declaration_is_told_from_the_one_given() {
        let (link, _peer) = pair();
        let same = Service::new(libsvc::model::Command::new(vec!["/bin/true".into()]).unwrap());
        assert!(!link.runs_other_than(&same));
        let mut other = same.clone();
        other.stop_timeout = std::time::Duration::from_secs(3);
        assert!(link.runs_other_than(&other));
        let (adopted, _) = UnixStream::pair().unwrap();
        assert!(!Link::new("b", adopted, None, None).runs_other_than(&other));
    }
}
