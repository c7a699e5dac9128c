//! One peer on a stream socket: libnv's `NvReceiver` frames what arrives,
//! its `NvSender` queues what leaves. Both keep their buffers across
//! messages and connections, so a request and its reply cost no
//! allocation once a connection slot exists. The messages themselves are
//! libsvc's `proto`.

use std::os::fd::{AsRawFd, OwnedFd, RawFd};

use libnv::{Limits, NvReceiver, NvSender, UnpackOptions};

pub use libsvc::proto::{VERSION, code};

/// How deep a request may nest (a declaration's `exec_pre` and
/// `environment` are the deepest, at two).
const MAX_DEPTH: usize = 8;

/// A receiver for messages of at most `max` bytes, without descriptors,
/// whose buffer grows only as far as the messages need: requests are
/// small, and the supervisor's memory must stay so.
pub fn receiver(max: usize) -> NvReceiver {
    NvReceiver::growing(UnpackOptions {
        limits: Limits {
            max_size: max,
            max_depth: MAX_DEPTH,
            max_descriptors: 0,
        },
        ..UnpackOptions::default()
    })
}

/// One peer: the manager's socketpair or a control client.
pub struct Conn {
    pub fd: Option<OwnedFd>,
    /// Lent out (None) only while its messages are answered.
    pub rx: Option<NvReceiver>,
    pub tx: NvSender,
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
            rx: Some(receiver(max_message)),
            tx: NvSender::new(),
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

    /// Queues a packed message.
    pub fn queue(&mut self, bytes: &[u8]) {
        self.tx.queue_packed(bytes, Vec::new());
    }

    /// Sends what the socket takes. False: the peer is gone.
    pub fn flush(&mut self) -> bool {
        match &self.fd {
            Some(fd) => self.tx.flush(fd).is_ok(),
            None => true,
        }
    }

    /// Closes the connection; buffers are kept for the next one.
    pub fn close(&mut self) {
        self.fd = None;
        if let Some(rx) = &mut self.rx {
            rx.reset();
        }
        self.tx.clear();
        self.attached = false;
        self.partial_since = None;
    }
}
