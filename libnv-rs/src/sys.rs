//! The few system calls the stream code needs: send/recv with SCM_RIGHTS, poll.
//!
//! `sendmsg`/`recvmsg` go through libc directly because control messages must be built and
//! parsed without allocating (nix's cmsg API collects descriptors into `Vec`s).

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

/// Space for one SCM_RIGHTS cmsg per descriptor: `CMSG_SPACE(sizeof(int))` = 24 on Linux.
const CMSG_PER_FD: usize = 24;
/// Control buffer in u64 words (8-byte aligned as cmsghdr needs): room for 255 separate
/// one-descriptor cmsgs, more than Linux's SCM_MAX_FD (253) per `sendmsg`.
pub(crate) const CMSG_WORDS: usize = 255 * CMSG_PER_FD / 8;

/// Waits until `fd` is ready for `events` (used when a blocking call meets `EAGAIN`).
pub(crate) fn wait(fd: BorrowedFd<'_>, events: PollFlags) -> io::Result<()> {
    let mut fds = [PollFd::new(fd, events)];
    loop {
        match poll(&mut fds, PollTimeout::NONE) {
            Ok(_) => return Ok(()),
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

/// One `send(2)` with `MSG_NOSIGNAL`; `EINTR` retried.
pub(crate) fn send_some(fd: BorrowedFd<'_>, bytes: &[u8]) -> io::Result<usize> {
    loop {
        // SAFETY: `bytes` is a valid readable buffer of `bytes.len()` bytes for the call.
        let n = unsafe {
            libc::send(
                fd.as_raw_fd(),
                bytes.as_ptr().cast(),
                bytes.len(),
                libc::MSG_NOSIGNAL,
            )
        };
        if n >= 0 {
            return Ok(n as usize);
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// Sends one descriptor package the way `nvlist_send` does: one `0x00` byte whose control
/// part holds one SCM_RIGHTS cmsg per descriptor. Returns false on `EAGAIN`.
#[inline(never)]
pub(crate) fn send_package(fd: BorrowedFd<'_>, fds: &[RawFd]) -> io::Result<bool> {
    assert!(fds.len() <= crate::wire::FDS_PER_PACKAGE);
    let mut control = [0u64; CMSG_WORDS];
    let control_len = fds.len() * CMSG_PER_FD;
    let mut byte = [0u8; 1];
    let mut iov = libc::iovec {
        iov_base: byte.as_mut_ptr().cast(),
        iov_len: 1,
    };
    // SAFETY: an all-zero msghdr is a valid empty header.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = control_len as _;
    // SAFETY: the control buffer is 8-byte aligned and `control_len` bytes long, which is room
    // for `fds.len()` cmsgs of CMSG_SPACE(sizeof(int)); CMSG_FIRSTHDR/NXTHDR stay inside it.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
        for &raw in fds {
            debug_assert!(!cmsg.is_null());
            (*cmsg).cmsg_level = libc::SOL_SOCKET;
            (*cmsg).cmsg_type = libc::SCM_RIGHTS;
            (*cmsg).cmsg_len = libc::CMSG_LEN(size_of::<RawFd>() as u32) as _;
            std::ptr::write_unaligned(libc::CMSG_DATA(cmsg).cast::<RawFd>(), raw);
            cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
        }
    }
    loop {
        // SAFETY: msg points at live buffers set up above.
        let n = unsafe { libc::sendmsg(fd.as_raw_fd(), &msg, libc::MSG_NOSIGNAL) };
        if n >= 0 {
            return Ok(n == 1);
        }
        let e = io::Error::last_os_error();
        match e.kind() {
            io::ErrorKind::Interrupted => continue,
            io::ErrorKind::WouldBlock => return Ok(false),
            _ => return Err(e),
        }
    }
}

/// Result of one `recvmsg`.
pub(crate) struct Received {
    /// Bytes read (0 = end of stream).
    pub bytes: usize,
    /// The kernel had to drop descriptors for lack of control space.
    pub truncated: bool,
}

/// One `recvmsg(MSG_CMSG_CLOEXEC)` into `buf`; every descriptor received (in any number of
/// SCM_RIGHTS cmsgs) is handed to `on_fd` as an `OwnedFd`, so none can leak. `EINTR` retried.
/// Never inlined: its 6 KiB control buffer stays in its own frame.
#[inline(never)]
pub(crate) fn recv_with_fds(
    fd: BorrowedFd<'_>,
    buf: &mut [u8],
    on_fd: impl FnMut(OwnedFd),
) -> io::Result<Received> {
    recv_with_control(fd, buf, &mut [0u64; CMSG_WORDS], on_fd)
}

/// [`recv_with_fds`] with the caller's control buffer: descriptors beyond its room are
/// dropped by the kernel and reported as `truncated`.
pub(crate) fn recv_with_control(
    fd: BorrowedFd<'_>,
    buf: &mut [u8],
    control: &mut [u64],
    mut on_fd: impl FnMut(OwnedFd),
) -> io::Result<Received> {
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // SAFETY: an all-zero msghdr is a valid empty header.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = size_of_val(control) as _;
    let n = loop {
        // SAFETY: msg points at `buf` and `control`, both live and writable for the call.
        let n = unsafe { libc::recvmsg(fd.as_raw_fd(), &mut msg, libc::MSG_CMSG_CLOEXEC) };
        if n >= 0 {
            break n as usize;
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    };
    // SAFETY: the kernel filled `msg_controllen` bytes of `control` with well-formed cmsgs;
    // CMSG_FIRSTHDR/NXTHDR only yield headers inside that range. Each SCM_RIGHTS payload is an
    // array of descriptors that now belong to this process, each wrapped exactly once.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
        while !cmsg.is_null() {
            if (*cmsg).cmsg_level == libc::SOL_SOCKET && (*cmsg).cmsg_type == libc::SCM_RIGHTS {
                let data = libc::CMSG_DATA(cmsg);
                let payload = (*cmsg).cmsg_len as usize - (data as usize - cmsg as usize);
                for i in 0..payload / size_of::<RawFd>() {
                    let raw = std::ptr::read_unaligned(data.cast::<RawFd>().add(i));
                    on_fd(OwnedFd::from_raw_fd(raw));
                }
            }
            cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
        }
    }
    Ok(Received {
        bytes: n,
        truncated: msg.msg_flags & libc::MSG_CTRUNC != 0,
    })
}

/// `recv(2)` without control space; `EINTR` retried.
pub(crate) fn recv_plain(fd: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        // SAFETY: `buf` is valid writable memory of `buf.len()` bytes.
        let n = unsafe { libc::recv(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
        if n >= 0 {
            return Ok(n as usize);
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}
