//! Incremental receiver for non-blocking sockets in a poll loop.
//!
//! All memory is allocated once, in [`NvReceiver::new`]: the byte buffer (the message size
//! limit plus read-ahead room), the descriptor queue and the per-message descriptor slots.
//! After that, receiving, framing and validating messages allocates nothing.
//! [`NvReceiver::growing`] instead grows the byte buffer as messages need, up to the same
//! bound, for a process that must stay small while its messages are: it allocates only
//! when a message is larger than every one before.

use std::collections::VecDeque;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use crate::error::{DecodeErrorKind, Error, Result, derr};
use crate::list::NvList;
use crate::stream::frame_header;
use crate::sys;
use crate::validate::Scratch;
use crate::view::NvView;
use crate::wire::*;

/// Extra buffer room beyond one maximal message, so that reads can run ahead into the next
/// message without ever leaving a maximal message without room.
const READ_AHEAD: usize = 16 * 1024;

/// Messages up to this size have fewer pairs (each at least 20 bytes) than the stack table
/// of [`NvView::parse`] holds (6144), so they validate in linear time without a
/// [`Scratch`].
const STACK_TABLE_MESSAGE: usize = 6144 * (HEADER_SIZE + 1);

/// Room for the descriptors of a message plus what one read may bring besides.
fn fd_room(limits: &Limits) -> usize {
    limits.descriptors() + 2 * sys::CMSG_WORDS
}

/// The first size of a growing buffer.
const GROWING_START: usize = 512;

/// What one [`NvReceiver::recv_from`] call did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecvStatus {
    /// This many bytes arrived (with any descriptors).
    Data(usize),
    /// Nothing to read now (`EAGAIN`).
    WouldBlock,
    /// The peer closed the connection between two messages.
    Eof,
}

/// Collects partial reads (bytes and descriptors) and yields complete messages.
///
/// ```no_run
/// # use std::os::unix::net::UnixStream;
/// # fn f(sock: UnixStream) -> libnv::Result<()> {
/// use libnv::{NvReceiver, RecvStatus, UnpackOptions};
/// let mut rx = NvReceiver::new(UnpackOptions::default());
/// // when poll says the socket is readable:
/// while let RecvStatus::Data(_) = rx.recv_from(&sock)? {
///     while let Some(msg) = rx.next_message()? {
///         let method = msg.view().get_str("ipc:method");
///         // ... msg.take_fd(i) for descriptors ...
///     }
/// }
/// # Ok(()) }
/// ```
///
/// A framing error (bad header, message over the size limit, descriptors that do not match
/// the framing) leaves the stream unusable: every later call returns an error and the
/// connection should be closed. A message that frames correctly but fails validation is
/// reported once (its descriptors closed) and reception goes on with the next message.
pub struct NvReceiver {
    buf: Vec<u8>,
    /// What `buf` may grow to (its length from the start, unless growing).
    full: usize,
    /// Valid bytes are `buf[start..end]`.
    start: usize,
    end: usize,
    /// Stream offset of `buf[start]`.
    offset: u64,
    /// Descriptors received, with the stream offset at which their read started.
    queue: VecDeque<(u64, OwnedFd)>,
    /// Descriptor slots of the message last returned.
    slots: Vec<Option<OwnedFd>>,
    /// Bytes of the message last returned, consumed at the next call.
    consumed: usize,
    options: UnpackOptions,
    /// None when every message within the limits fits the stack table.
    scratch: Option<Scratch>,
    /// Set by a framing error: the stream cannot be resynchronised.
    broken: Option<String>,
}

impl NvReceiver {
    /// A receiver bounded by `options.limits` (buffer of `max_size` plus read-ahead and
    /// descriptor room allocated now) checking top-level flags as `options.flags` says.
    pub fn new(options: UnpackOptions) -> NvReceiver {
        let mut rx = NvReceiver::growing(options);
        rx.buf.resize(rx.full, 0);
        rx.scratch = Some(Scratch::new(&options.limits));
        rx.queue.reserve_exact(fd_room(&options.limits));
        rx
    }

    /// Like [`NvReceiver::new`], but the byte buffer starts small and grows (to the same
    /// bound) when a message does not fit, and no [`Scratch`] is allocated when the size
    /// limit is small enough for the stack table. Memory follows the largest message seen.
    /// One that takes no descriptors keeps no queue for them: any that arrive break the
    /// stream (and are closed) at once.
    pub fn growing(options: UnpackOptions) -> NvReceiver {
        let limits = options.limits;
        let carriers = limits.descriptors().div_ceil(FDS_PER_PACKAGE);
        let size = limits.max_size.max(HEADER_SIZE) + carriers + READ_AHEAD;
        let queue = match limits.descriptors() {
            0 => 0,
            _ => fd_room(&limits),
        };
        NvReceiver {
            buf: Vec::new(),
            full: size,
            start: 0,
            end: 0,
            offset: 0,
            queue: VecDeque::with_capacity(queue),
            slots: Vec::with_capacity(limits.descriptors()),
            consumed: 0,
            options,
            scratch: (limits.max_size > STACK_TABLE_MESSAGE).then(|| Scratch::new(&limits)),
            broken: None,
        }
    }

    /// Forgets what was received and any framing error, keeping the buffers (queued
    /// descriptors are closed): the receiver can serve a new connection without allocating.
    pub fn reset(&mut self) {
        self.start = 0;
        self.end = 0;
        self.offset = 0;
        self.consumed = 0;
        self.queue.clear();
        self.slots.clear();
        self.broken = None;
    }

    /// Whether a framing error has left the stream unusable (a message that framed but
    /// failed validation does not: reception goes on with the next one).
    pub fn is_broken(&self) -> bool {
        self.broken.is_some()
    }

    /// The total length (descriptor carrier bytes included) of the message whose header
    /// starts `buf`, once the header is there; the header is checked against `limits`
    /// as [`NvReceiver::next_message`] checks it. For code that buffers bytes itself.
    pub fn message_len(
        buf: &[u8],
        limits: &Limits,
    ) -> std::result::Result<Option<usize>, crate::DecodeError> {
        let Some(header) = buf.get(..HEADER_SIZE) else {
            return Ok(None);
        };
        let (size, count) = frame_header(header, limits)?;
        Ok(Some(size + count.div_ceil(FDS_PER_PACKAGE)))
    }

    /// Whether a message has begun but not completed.
    pub fn has_partial(&self) -> bool {
        self.end - self.start > self.consumed || !self.queue.is_empty()
    }

    fn release_previous(&mut self) {
        if self.consumed > 0 {
            self.start += self.consumed;
            self.offset += self.consumed as u64;
            self.consumed = 0;
        }
        self.slots.clear();
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
    }

    fn compact(&mut self) {
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
    }

    /// Makes room for at least `want` more bytes after `end` if the bound allows: compacts,
    /// then grows a growing buffer. Returns the room there is.
    fn make_room(&mut self, want: usize) -> usize {
        if self.buf.len() - self.end < want {
            self.compact();
        }
        let room = self.buf.len() - self.end;
        if room < want && self.buf.len() < self.full {
            let len = (self.end + want)
                .max(self.buf.len() * 2)
                .max(GROWING_START)
                .min(self.full);
            self.buf.resize(len, 0);
        }
        self.buf.len() - self.end
    }

    fn check_broken(&self) -> Result<()> {
        match &self.broken {
            Some(e) => Err(Error::StreamBroken(e.clone())),
            None => Ok(()),
        }
    }

    /// Records a framing error: drops (closes) every queued descriptor; later calls fail.
    fn fail(&mut self, e: Error) -> Error {
        self.queue.clear();
        self.slots.clear();
        self.broken = Some(e.to_string());
        e
    }

    /// Reads once from `sock` (`recvmsg` with `MSG_CMSG_CLOEXEC`), storing bytes and
    /// descriptors. A clean end of stream between messages is [`RecvStatus::Eof`]; in the
    /// middle of a message it is [`Error::Closed`].
    pub fn recv_from(&mut self, sock: impl AsFd) -> Result<RecvStatus> {
        self.check_broken()?;
        self.release_previous();
        if self.make_room(1) == 0 {
            // A complete message is waiting; let the caller take it first.
            return Ok(RecvStatus::Data(0));
        }
        let fd: BorrowedFd<'_> = sock.as_fd();
        let queued_before = self.queue.len();
        let mut overflow = false;
        let queue = &mut self.queue;
        let takes_none = queue.capacity() == 0;
        let on_fd = |f| {
            if queue.len() < queue.capacity() {
                queue.push_back((0, f));
            } else {
                overflow = true;
                drop(f);
            }
        };
        let room = &mut self.buf[self.end..];
        let got = if takes_none {
            // Takes no descriptors: room for one cmsg is enough to see that one came (the
            // kernel closes any beyond it), and keeps the 6 KiB buffer off the stack.
            sys::recv_with_control(fd, room, &mut [0u64; 3], on_fd)
        } else {
            sys::recv_with_fds(fd, room, on_fd)
        };
        let got = match got {
            Ok(g) => g,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                return Ok(RecvStatus::WouldBlock);
            }
            Err(e) => return Err(Error::io("recvmsg", e)),
        };
        if overflow {
            return Err(self.fail(Error::io(
                "recvmsg",
                std::io::Error::other("too many descriptors queued"),
            )));
        }
        if got.truncated {
            return Err(self.fail(Error::io(
                "recvmsg",
                std::io::Error::other("descriptors were truncated (MSG_CTRUNC)"),
            )));
        }
        if got.bytes == 0 {
            if self.end > self.start || !self.queue.is_empty() {
                let e = Error::Closed { mid_message: true };
                return Err(self.fail(e));
            }
            return Ok(RecvStatus::Eof);
        }
        // Linux ends a read right after the byte that carried descriptors, so they belong
        // to the message holding the read's last byte.
        let carrier = self.offset + (self.end - self.start + got.bytes - 1) as u64;
        for entry in self.queue.iter_mut().skip(queued_before) {
            entry.0 = carrier;
        }
        self.end += got.bytes;
        Ok(RecvStatus::Data(got.bytes))
    }

    /// Feeds bytes and descriptors obtained elsewhere (tests, fuzzing, another transport).
    /// Descriptors are taken as arriving with the last of these bytes. Returns how many
    /// bytes were taken (fewer than given when the buffer is full: take messages out first).
    pub fn feed(&mut self, bytes: &[u8], fds: impl IntoIterator<Item = OwnedFd>) -> Result<usize> {
        self.check_broken()?;
        self.release_previous();
        let n = bytes.len().min(self.make_room(bytes.len()));
        let carrier = self.offset + (self.end - self.start + n.max(1) - 1) as u64;
        for f in fds {
            if self.queue.len() == self.queue.capacity() {
                return Err(self.fail(Error::io(
                    "feed",
                    std::io::Error::other("too many descriptors queued"),
                )));
            }
            self.queue.push_back((carrier, f));
        }
        self.buf[self.end..self.end + n].copy_from_slice(&bytes[..n]);
        self.end += n;
        Ok(n)
    }

    /// The next complete message, if one has fully arrived. The returned message borrows
    /// the receiver; it is released (unused descriptors closed) at the next call.
    pub fn next_message(&mut self) -> Result<Option<Message<'_>>> {
        self.check_broken()?;
        self.release_previous();
        let have = self.end - self.start;
        if have < HEADER_SIZE {
            return Ok(None);
        }
        let header = &self.buf[self.start..self.start + HEADER_SIZE];
        let (size, count) = match frame_header(header, &self.options.limits) {
            Ok(v) => v,
            Err(e) => return Err(self.fail(e.into())),
        };
        let carriers = count.div_ceil(FDS_PER_PACKAGE);
        let total = size + carriers;
        if have < total {
            return Ok(None);
        }
        let end_offset = self.offset + total as u64;
        // Descriptors whose carrier byte lies inside this message belong to it.
        let mine = self
            .queue
            .iter()
            .take_while(|(at, _)| *at < end_offset)
            .count();
        if mine != count {
            let e = derr(
                0,
                DecodeErrorKind::DescriptorCountMismatch {
                    declared: count as u64,
                    used: mine as u64,
                },
            );
            return Err(self.fail(e.into()));
        }
        self.slots.clear();
        self.slots
            .extend(self.queue.drain(..count).map(|(_, f)| Some(f)));
        self.consumed = total;
        let bytes = &self.buf[self.start..self.start + size];
        let parsed = match &mut self.scratch {
            Some(scratch) => NvView::parse_with(bytes, count, &self.options, scratch),
            None => NvView::parse(bytes, count, &self.options),
        };
        match parsed {
            Ok(view) => Ok(Some(Message {
                view,
                fds: &mut self.slots,
            })),
            Err(e) => {
                self.slots.clear();
                Err(e.into())
            }
        }
    }
}

/// A complete, validated message held by an [`NvReceiver`].
pub struct Message<'r> {
    view: NvView<'r>,
    fds: &'r mut Vec<Option<OwnedFd>>,
}

impl<'r> Message<'r> {
    /// The validated content.
    pub fn view(&self) -> NvView<'r> {
        self.view
    }
    /// The packed bytes.
    pub fn bytes(&self) -> &'r [u8] {
        self.view.message()
    }
    /// Number of descriptors that came with the message.
    pub fn fd_count(&self) -> usize {
        self.fds.len()
    }
    /// Descriptor `index` (as found in a DESCRIPTOR value), unless already taken.
    pub fn fd(&self, index: usize) -> Option<BorrowedFd<'_>> {
        self.fds.get(index)?.as_ref().map(|f| f.as_fd())
    }
    /// Takes descriptor `index` out of the message.
    pub fn take_fd(&mut self, index: usize) -> Option<OwnedFd> {
        self.fds.get_mut(index)?.take()
    }
    /// Converts the message into an owned list, moving its descriptors in (allocates).
    pub fn to_nvlist(self) -> Result<NvList> {
        Ok(self.view.to_owned_with_fds(self.fds)?)
    }
}
