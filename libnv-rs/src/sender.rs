//! Resumable sender for non-blocking sockets: queue messages, call
//! [`NvSender::flush`] whenever the socket is writable.
//!
//! The outgoing stream is kept as one byte buffer with the descriptor carrier bytes inline,
//! plus the positions of those bytes and the (duplicated) descriptors they carry. Buffers are
//! reused, so a steady state allocates nothing.

use std::collections::VecDeque;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};

use crate::error::{Error, Result};
use crate::list::{NvList, dup_cloexec};
use crate::sys;
use crate::wire::*;
use crate::writer::NvWriter;

/// Queues packed messages and sends them as far as the socket allows.
#[derive(Default)]
pub struct NvSender {
    buf: Vec<u8>,
    sent: usize,
    /// (offset of a carrier byte in `buf`, number of descriptors it carries)
    carriers: VecDeque<(usize, usize)>,
    fds: VecDeque<OwnedFd>,
    raw: Vec<RawFd>,
}

impl NvSender {
    /// An empty sender.
    pub fn new() -> NvSender {
        NvSender::default()
    }

    /// An empty sender whose buffer starts with `bytes` of room.
    pub fn with_capacity(bytes: usize) -> NvSender {
        NvSender {
            buf: Vec::with_capacity(bytes),
            ..NvSender::default()
        }
    }

    /// Bytes still to send (carrier bytes included).
    pub fn pending(&self) -> usize {
        self.buf.len() - self.sent
    }

    /// Nothing left to send.
    pub fn is_empty(&self) -> bool {
        self.pending() == 0
    }

    /// Drops everything queued (queued descriptors are closed), keeping the buffer.
    pub fn clear(&mut self) {
        self.buf.clear();
        self.sent = 0;
        self.carriers.clear();
        self.fds.clear();
    }

    fn add_carriers(&mut self, mut fds: Vec<OwnedFd>) {
        let n = fds.len();
        for package in 0..n.div_ceil(FDS_PER_PACKAGE) {
            let k = (n - package * FDS_PER_PACKAGE).min(FDS_PER_PACKAGE);
            self.carriers.push_back((self.buf.len(), k));
            self.buf.push(0);
        }
        self.fds.extend(fds.drain(..));
    }

    /// Queues `list` (machine byte order), duplicating its descriptors so the list may be
    /// dropped before the message is sent.
    pub fn queue(&mut self, list: &NvList) -> Result<()> {
        let mut dups = Vec::with_capacity(list.descriptor_count());
        let mut failed = None;
        list.for_each_fd(&mut |fd| match dup_cloexec(fd) {
            Ok(d) => dups.push(d),
            Err(e) => failed = Some(e),
        });
        if let Some(e) = failed {
            return Err(Error::io("dup descriptor", e));
        }
        self.raw.clear();
        list.pack_with_fds(&mut self.buf, &mut self.raw, ByteOrder::native())?;
        self.add_carriers(dups);
        Ok(())
    }

    /// Queues a message written in place with an [`NvWriter`] (no descriptors): `write`
    /// gets a writer for a top-level list with `flags`. Nothing is queued if it fails.
    pub fn queue_with(
        &mut self,
        flags: Flags,
        write: impl FnOnce(&mut NvWriter<'_>) -> Result<()>,
    ) -> Result<()> {
        let mut w = NvWriter::new(&mut self.buf, flags);
        write(&mut w)?;
        w.finish()?;
        Ok(())
    }

    /// Queues an already packed message with its descriptors (index order; ownership
    /// taken, closed once sent).
    pub fn queue_packed(&mut self, bytes: &[u8], fds: Vec<OwnedFd>) {
        self.buf.extend_from_slice(bytes);
        self.add_carriers(fds);
    }

    /// Sends the carrier byte at `sent` with its `n` descriptors; false: would block. Kept
    /// out of `flush`, with `send_package`, so that their descriptor arrays and control
    /// buffer (over 7 KiB) are on the stack only when there are descriptors to send.
    #[inline(never)]
    fn send_carrier(&mut self, fd: BorrowedFd<'_>, n: usize) -> Result<bool> {
        let raw: [RawFd; FDS_PER_PACKAGE] = std::array::from_fn(|i| {
            self.fds
                .get(i)
                .filter(|_| i < n)
                .map_or(-1, |f| f.as_raw_fd())
        });
        if !sys::send_package(fd, &raw[..n]).map_err(|e| Error::io("sendmsg", e))? {
            return Ok(false);
        }
        self.carriers.pop_front();
        self.fds.drain(..n);
        self.sent += 1;
        Ok(true)
    }

    /// Sends as much as the socket takes. `Ok(true)`: everything queued is sent;
    /// `Ok(false)`: the socket would block (call again when writable).
    pub fn flush(&mut self, sock: impl AsFd) -> Result<bool> {
        let fd = sock.as_fd();
        while self.sent < self.buf.len() {
            let next_carrier = self.carriers.front().copied();
            match next_carrier {
                Some((at, n)) if at == self.sent => {
                    if !self.send_carrier(fd, n)? {
                        return Ok(false);
                    }
                }
                _ => {
                    let until = next_carrier.map_or(self.buf.len(), |(at, _)| at);
                    match sys::send_some(fd, &self.buf[self.sent..until]) {
                        Ok(0) => return Err(Error::Closed { mid_message: true }),
                        Ok(k) => self.sent += k,
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                            return Ok(false);
                        }
                        Err(e) => return Err(Error::io("send", e)),
                    }
                }
            }
        }
        self.buf.clear();
        self.sent = 0;
        Ok(true)
    }
}
