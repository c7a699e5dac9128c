//! Framing of nvlist messages on a stream socket, and the protocol.md
//! envelope. Buffers are kept and reused, so a request and its reply cost
//! no allocation once a connection has warmed up.

use std::os::fd::{AsRawFd, OwnedFd, RawFd};

use libnv::{Flags, NvView, NvWriter};

use crate::sys;

/// Size of an nvlist header; its last 8 bytes give the size that follows.
pub const HEADER: usize = 19;
const MAGIC: u8 = 0x6c;
const FLAG_BIG_ENDIAN: u8 = 0x80;
const VALID_FLAGS: u8 = 0x01 | 0x02 | FLAG_BIG_ENDIAN;

pub use libsvc::proto::{VERSION, code};

/// Why a connection must be dropped.
#[derive(Debug, PartialEq, Eq)]
pub enum FrameError {
    /// Not an nvlist header.
    BadHeader,
    /// Announces more than we accept.
    TooLarge(u64),
}

/// The total length of the message whose header starts `buf`, once 19
/// bytes are there.
pub fn message_len(buf: &[u8], max: usize) -> Result<Option<usize>, FrameError> {
    if buf.len() < HEADER {
        if !buf.is_empty() && buf[0] != MAGIC {
            return Err(FrameError::BadHeader);
        }
        return Ok(None);
    }
    if buf[0] != MAGIC || buf[2] & !VALID_FLAGS != 0 {
        return Err(FrameError::BadHeader);
    }
    let mut size = [0u8; 8];
    size.copy_from_slice(&buf[11..19]);
    let size = if buf[2] & FLAG_BIG_ENDIAN != 0 {
        u64::from_be_bytes(size)
    } else {
        u64::from_le_bytes(size)
    };
    if size > max.saturating_sub(HEADER) as u64 {
        return Err(FrameError::TooLarge(size));
    }
    Ok(Some(HEADER + size as usize))
}

/// Bytes received on a stream, cut into messages.
pub struct Inbox {
    buf: Vec<u8>,
    max: usize,
}

impl Inbox {
    pub fn new(max: usize) -> Inbox {
        Inbox {
            buf: Vec::new(),
            max,
        }
    }

    pub fn clear(&mut self) {
        self.buf.clear();
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Reads what `fd` has (non-blocking). Ok(false) on EOF.
    pub fn fill(&mut self, fd: RawFd) -> std::io::Result<bool> {
        let mut chunk = [0u8; 512];
        loop {
            // Read no further than the current message's end would need,
            // so the buffer never exceeds `max`.
            let room = self.max.saturating_sub(self.buf.len()).min(chunk.len());
            if room == 0 {
                return Ok(true);
            }
            match sys::read(fd, &mut chunk[..room]) {
                Ok(0) => return Ok(false),
                Ok(n) => {
                    self.buf.extend_from_slice(&chunk[..n]);
                    if n < room {
                        return Ok(true);
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return Ok(true),
                Err(e) => return Err(e),
            }
        }
    }

    /// The first complete message, if any.
    pub fn message(&self) -> Result<Option<&[u8]>, FrameError> {
        Ok(message_len(&self.buf, self.max)?
            .filter(|&len| self.buf.len() >= len)
            .map(|len| &self.buf[..len]))
    }

    /// Drops the first `len` bytes (a handled message).
    pub fn consume(&mut self, len: usize) {
        let len = len.min(self.buf.len());
        self.buf.copy_within(len.., 0);
        self.buf.truncate(self.buf.len() - len);
    }
}

/// Bytes waiting to be written to a non-blocking stream.
pub struct Outbox {
    buf: Vec<u8>,
    sent: usize,
}

impl Outbox {
    pub fn new() -> Outbox {
        Outbox {
            buf: Vec::new(),
            sent: 0,
        }
    }

    pub fn pending(&self) -> usize {
        self.buf.len() - self.sent
    }

    pub fn clear(&mut self) {
        self.buf.clear();
        self.sent = 0;
    }

    /// The buffer to append a message to.
    pub fn buffer(&mut self) -> &mut Vec<u8> {
        if self.sent == self.buf.len() {
            self.buf.clear();
            self.sent = 0;
        }
        &mut self.buf
    }

    /// Sends what it can. Err when the peer is gone.
    pub fn flush(&mut self, fd: RawFd) -> std::io::Result<()> {
        while self.sent < self.buf.len() {
            match sys::send_nonblocking(fd, &self.buf[self.sent..]) {
                Ok(n) => self.sent += n,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) => return Err(e),
            }
        }
        self.buf.clear();
        self.sent = 0;
        Ok(())
    }
}

impl Default for Outbox {
    fn default() -> Self {
        Outbox::new()
    }
}

/// A request's envelope.
#[derive(Clone, Copy, Debug)]
pub struct Request<'a> {
    pub id: u64,
    pub method: &'a str,
    pub args: NvView<'a>,
}

/// A bad envelope: the id to answer with (0 when unknown), code and text.
pub type EnvelopeError = (u64, u64, &'static str);

/// Checks the envelope of a received message.
pub fn parse_request(msg: &[u8]) -> Result<Request<'_>, EnvelopeError> {
    let view = NvView::new(msg).map_err(|_| (0, code::INVALID_ENVELOPE, "not a valid nvlist"))?;
    let id = view.get_number("ipc:id").ok_or((
        0,
        code::INVALID_ENVELOPE,
        "ipc:id missing or not a number",
    ))?;
    match view.get_number("ipc:version") {
        Some(VERSION) => {}
        Some(_) => return Err((id, code::INVALID_ENVELOPE, "unsupported ipc:version")),
        None => {
            return Err((
                id,
                code::INVALID_ENVELOPE,
                "ipc:version missing or not a number",
            ));
        }
    }
    if view.get_bool("ipc:reply") == Some(true) {
        return Err((id, code::NOT_A_REQUEST, "a reply where a request was due"));
    }
    let method = view.get_str("ipc:method").ok_or((
        id,
        code::INVALID_ENVELOPE,
        "ipc:method missing or not a string",
    ))?;
    Ok(Request {
        id,
        method,
        args: view,
    })
}

/// Starts a message with its envelope; the caller adds keys and finishes.
pub fn begin<'b>(
    buf: &'b mut Vec<u8>,
    id: u64,
    method: &str,
    reply: bool,
) -> libnv::Result<NvWriter<'b>> {
    let mut w = NvWriter::new(buf, Flags::NONE);
    w.add_number("ipc:version", VERSION)?;
    w.add_number("ipc:id", id)?;
    w.add_string("ipc:method", method)?;
    w.add_bool("ipc:reply", reply)?;
    Ok(w)
}

/// Appends a complete error reply.
pub fn error_reply(
    buf: &mut Vec<u8>,
    id: u64,
    method: &str,
    code: u64,
    text: &str,
) -> libnv::Result<()> {
    let mut w = begin(buf, id, method, true)?;
    w.add_number("ipc:error_code", code)?;
    w.add_string("ipc:error", text)?;
    w.finish()?;
    Ok(())
}

/// One peer on a stream socket: the manager's socketpair or a control client.
pub struct Conn {
    pub fd: Option<OwnedFd>,
    pub inbox: Inbox,
    pub outbox: Outbox,
    /// Receives events.
    pub attached: bool,
    /// When the first byte of the message being received came (ms).
    pub partial_since: Option<u64>,
    /// When the connection was accepted or last completed a request (ms):
    /// an idle client is closed, and the oldest idle one makes room.
    pub last_active: u64,
}

impl Conn {
    pub fn new(max_message: usize) -> Conn {
        Conn {
            fd: None,
            inbox: Inbox::new(max_message),
            outbox: Outbox::new(),
            attached: false,
            partial_since: None,
            last_active: 0,
        }
    }

    pub fn raw(&self) -> RawFd {
        self.fd.as_ref().map_or(-1, |f| f.as_raw_fd())
    }

    pub fn is_open(&self) -> bool {
        self.fd.is_some()
    }

    /// Closes the connection; buffers are kept for the next one.
    pub fn close(&mut self) {
        self.fd = None;
        self.inbox.clear();
        self.outbox.clear();
        self.attached = false;
        self.partial_since = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(method: &str, id: u64) -> Vec<u8> {
        let mut buf = Vec::new();
        let w = begin(&mut buf, id, method, false).unwrap();
        w.finish().unwrap();
        buf
    }

    #[test]
    fn framing() {
        let msg = request("status", 7);
        assert_eq!(message_len(&msg, 4096), Ok(Some(msg.len())));
        assert_eq!(message_len(&msg[..5], 4096), Ok(None));
        assert_eq!(message_len(b"x", 4096), Err(FrameError::BadHeader));
        assert!(matches!(
            message_len(&msg, 20),
            Err(FrameError::TooLarge(_))
        ));
    }

    #[test]
    fn envelopes() {
        let msg = request("status", 7);
        let r = parse_request(&msg).unwrap();
        assert_eq!((r.id, r.method), (7, "status"));

        let mut reply = Vec::new();
        begin(&mut reply, 7, "status", true)
            .unwrap()
            .finish()
            .unwrap();
        assert_eq!(parse_request(&reply).unwrap_err().1, code::NOT_A_REQUEST);

        let mut bare = Vec::new();
        let mut w = NvWriter::new(&mut bare, Flags::NONE);
        w.add_number("ipc:id", 3).unwrap();
        w.finish().unwrap();
        assert_eq!(
            parse_request(&bare).unwrap_err(),
            (
                3,
                code::INVALID_ENVELOPE,
                "ipc:version missing or not a number"
            )
        );
        assert_eq!(
            parse_request(b"garbage").unwrap_err().1,
            code::INVALID_ENVELOPE
        );
    }
}
