//! Blocking send / receive over `SOCK_STREAM` unix sockets, framed exactly like
//! `nvlist_send` / `nvlist_recv` (format §10): the packed list, then — if it has
//! descriptors — one `0x00` byte per package of at most 169 descriptors, each carrying its
//! package with SCM_RIGHTS.
//!
//! These calls also work on non-blocking sockets: on `EAGAIN` they wait with `poll` (as the
//! C library waits with `select`).

use std::os::fd::{AsFd, BorrowedFd, OwnedFd, RawFd};

use nix::poll::PollFlags;

use crate::error::{DecodeErrorKind, Error, Result, derr};
use crate::list::NvList;
use crate::sys;
use crate::wire::*;

fn blocking<T>(
    fd: BorrowedFd<'_>,
    events: PollFlags,
    op: &'static str,
    mut f: impl FnMut() -> std::io::Result<T>,
) -> Result<T> {
    loop {
        match f() {
            Ok(v) => return Ok(v),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                sys::wait(fd, events).map_err(|e| Error::io("poll", e))?;
            }
            Err(e) => return Err(Error::io(op, e)),
        }
    }
}

/// Sends an already packed message and its descriptors (index order), blocking until all
/// is written. `fds` must stay open until this returns.
pub fn send_packed(sock: impl AsFd, bytes: &[u8], fds: &[RawFd]) -> Result<()> {
    let fd = sock.as_fd();
    let mut sent = 0;
    while sent < bytes.len() {
        let n = blocking(fd, PollFlags::POLLOUT, "send", || {
            sys::send_some(fd, &bytes[sent..])
        })?;
        if n == 0 {
            return Err(Error::Closed { mid_message: true });
        }
        sent += n;
    }
    for package in fds.chunks(FDS_PER_PACKAGE) {
        loop {
            let done = sys::send_package(fd, package).map_err(|e| Error::io("sendmsg", e))?;
            if done {
                break;
            }
            sys::wait(fd, PollFlags::POLLOUT).map_err(|e| Error::io("poll", e))?;
        }
    }
    Ok(())
}

fn recv_exact(fd: BorrowedFd<'_>, buf: &mut [u8], started: bool) -> Result<()> {
    let mut got = 0;
    while got < buf.len() {
        let n = blocking(fd, PollFlags::POLLIN, "recv", || {
            sys::recv_plain(fd, &mut buf[got..])
        })?;
        if n == 0 {
            return Err(Error::Closed {
                mid_message: started || got > 0,
            });
        }
        got += n;
    }
    Ok(())
}

/// Checks a message header as far as framing needs (magic, flags, size and descriptor
/// limits) and returns (total message size, descriptor count).
pub(crate) fn frame_header(
    h: &[u8],
    limits: &Limits,
) -> Result<(usize, usize), crate::DecodeError> {
    let ListHeader {
        descriptors, size, ..
    } = list_header(h, 0)?;
    let limit = limits.max_size as u64;
    if size > limit.saturating_sub(HEADER_SIZE as u64) {
        return Err(derr(
            11,
            DecodeErrorKind::MessageTooLarge {
                size: size.saturating_add(HEADER_SIZE as u64),
                limit,
            },
        ));
    }
    if descriptors > limits.descriptors() as u64 {
        return Err(derr(
            3,
            DecodeErrorKind::TooManyDescriptors {
                count: descriptors,
                limit: limits.descriptors() as u64,
            },
        ));
    }
    Ok((size as usize + HEADER_SIZE, descriptors as usize))
}

/// Receives one message (blocking): its bytes into `buf` (cleared first) and its
/// descriptors into `fds` (cleared first, close-on-exec). The header is checked against
/// `limits` before anything is allocated; the content is not validated (use
/// [`crate::NvView::parse`]). On error every received descriptor is closed.
///
/// Descriptors may arrive one per control message or many per control message.
pub fn recv_packed(
    sock: impl AsFd,
    limits: &Limits,
    buf: &mut Vec<u8>,
    fds: &mut Vec<OwnedFd>,
) -> Result<()> {
    let fd = sock.as_fd();
    buf.clear();
    fds.clear();
    let mut header = [0u8; HEADER_SIZE];
    recv_exact(fd, &mut header, false)?;
    let (size, count) = frame_header(&header, limits)?;
    buf.reserve(size);
    buf.extend_from_slice(&header);
    buf.resize(size, 0);
    recv_exact(fd, &mut buf[HEADER_SIZE..], true)?;
    let result = recv_fds(fd, count, fds);
    if result.is_err() {
        fds.clear();
    }
    result
}

fn recv_fds(fd: BorrowedFd<'_>, count: usize, fds: &mut Vec<OwnedFd>) -> Result<()> {
    fds.reserve(count);
    while fds.len() < count {
        let mut byte = [0u8; 1];
        let before = fds.len();
        let got = blocking(fd, PollFlags::POLLIN, "recvmsg", || {
            sys::recv_with_fds(fd, &mut byte, |f| fds.push(f))
        })?;
        if got.bytes == 0 {
            return Err(Error::Closed { mid_message: true });
        }
        if fds.len() == before {
            // Like C's fd_recv: a carrier byte must carry descriptors.
            return Err(derr(
                3,
                DecodeErrorKind::DescriptorCountMismatch {
                    declared: count as u64,
                    used: before as u64,
                },
            )
            .into());
        }
        if got.truncated {
            return Err(Error::io(
                "recvmsg",
                std::io::Error::other("descriptors were truncated (MSG_CTRUNC)"),
            ));
        }
        if fds.len() > count {
            return Err(derr(
                3,
                DecodeErrorKind::DescriptorCountMismatch {
                    declared: count as u64,
                    used: fds.len() as u64,
                },
            )
            .into());
        }
    }
    Ok(())
}

impl NvList {
    /// Sends the list with its descriptors over a stream socket, framed like
    /// `nvlist_send` (blocking; waits on a non-blocking socket).
    pub fn send(&self, sock: impl AsFd) -> Result<()> {
        let mut buf = Vec::with_capacity(self.packed_size());
        let mut fds = Vec::new();
        self.pack_with_fds(&mut buf, &mut fds, ByteOrder::native())?;
        send_packed(sock, &buf, &fds)
    }

    /// Receives one list (blocking), like `nvlist_recv`; `options.flags` may demand exact
    /// top-level flags (C behaviour) or accept any. Received descriptors are close-on-exec;
    /// on any error all of them are closed.
    pub fn recv(sock: impl AsFd, options: &UnpackOptions) -> Result<NvList> {
        let mut buf = Vec::new();
        let mut fds = Vec::new();
        recv_packed(sock, &options.limits, &mut buf, &mut fds)?;
        NvList::unpack_with(&buf, fds, options)
    }

    /// Sends the list, then receives the answer (C's `nvlist_xfer`).
    pub fn xfer(self, sock: impl AsFd, options: &UnpackOptions) -> Result<NvList> {
        let fd = sock.as_fd();
        self.send(fd)?;
        drop(self);
        NvList::recv(fd, options)
    }
}
