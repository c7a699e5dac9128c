//! Real unix stream sockets: framing, descriptors, blocking and non-blocking paths.

use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;

use libnv::{
    ByteOrder, Flags, FlagsCheck, Limits, NvList, NvReceiver, NvSender, NvView, RecvStatus,
    UnpackOptions, recv_packed, send_packed,
};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::socket::{ControlMessage, MsgFlags, sendmsg};

/// (read end, write end) as files.
fn pipe() -> (std::fs::File, std::fs::File) {
    let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).unwrap();
    (std::fs::File::from(r), std::fs::File::from(w))
}

fn assert_cloexec(fd: impl AsFd) {
    let flags = nix::fcntl::fcntl(fd, nix::fcntl::F_GETFD).unwrap();
    assert_ne!(
        flags & libc::FD_CLOEXEC,
        0,
        "received descriptor is not close-on-exec"
    );
}

#[test]
fn blocking_send_recv_with_descriptors_that_work() {
    let (a, b) = UnixStream::pair().unwrap();
    let (r1, w1) = pipe();
    let (r2, w2) = pipe();
    let mut l = NvList::new();
    l.add_string("cmd", "hello").unwrap();
    l.add_descriptor("fd0", w1.as_fd()).unwrap();
    let mut child = NvList::new();
    child.add_descriptor_array("more", &[w2.as_fd()]).unwrap();
    l.add_nvlist("child", child).unwrap();
    drop((w1, w2));
    l.send(&a).unwrap();
    drop(l);
    let mut got = NvList::recv(&b, &UnpackOptions::exact(Flags::NONE)).unwrap();
    assert_eq!(got.get_str("cmd"), Some("hello"));
    let fd0 = got.take_descriptor("fd0").unwrap();
    assert_cloexec(&fd0);
    std::fs::File::from(fd0).write_all(b"one").unwrap();
    let more = got
        .get_nvlist_mut("child")
        .unwrap()
        .take_descriptor_array("more")
        .unwrap();
    std::fs::File::from(more.into_iter().next().unwrap())
        .write_all(b"two")
        .unwrap();
    drop(got);
    let mut s = String::new();
    let mut r1 = r1;
    r1.read_to_string(&mut s).unwrap();
    assert_eq!(s, "one");
    s.clear();
    let mut r2 = r2;
    r2.read_to_string(&mut s).unwrap();
    assert_eq!(s, "two");
}

#[test]
fn wire_bytes_match_the_c_framing() {
    // Content of the captured C exchange in libnv-format.md §10.
    let (a, b) = UnixStream::pair().unwrap();
    let (_r, w) = pipe();
    let mut l = NvList::new();
    l.add_string("cmd", "hello").unwrap();
    l.add_descriptor("fd0", w.as_fd()).unwrap();
    l.send(&a).unwrap();
    let mut raw = [0u8; 80];
    let mut buf = [0u8; 79];
    let n = (&b).read(&mut raw[..79]).unwrap();
    buf[..n].copy_from_slice(&raw[..n]);
    assert_eq!(
        n, 79,
        "body only: the carrier byte comes in its own sendmsg"
    );
    assert_eq!(
        &buf[..19],
        &[
            0x6c, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0x3c, 0, 0, 0, 0, 0, 0, 0
        ]
    );
    assert_eq!(&buf[38..48], b"cmd\0hello\0");
    // then one 0x00 carrier byte with the descriptor
    let mut rx = NvReceiver::new(UnpackOptions::default());
    rx.feed(&buf, []).unwrap();
    assert!(
        rx.next_message().unwrap().is_none(),
        "incomplete without carrier"
    );
    match rx.recv_from(&b).unwrap() {
        RecvStatus::Data(1) => {}
        other => panic!("{other:?}"),
    }
    let mut msg = rx.next_message().unwrap().unwrap();
    assert_eq!(msg.view().get_descriptor("fd0"), Some(0));
    assert!(msg.take_fd(0).is_some());
}

/// Sends `bytes` then the descriptors in ONE control message per package (how Linux
/// delivers them anyway, and what newer FreeBSD senders may do).
fn send_merged(sock: &UnixStream, bytes: &[u8], fds: &[RawFd], per_package: usize) {
    (&*sock).write_all(bytes).unwrap();
    for chunk in fds.chunks(per_package) {
        let iov = [std::io::IoSlice::new(&[0u8])];
        let cmsg = [ControlMessage::ScmRights(chunk)];
        sendmsg::<()>(sock.as_raw_fd(), &iov, &cmsg, MsgFlags::empty(), None).unwrap();
    }
}

#[test]
fn receives_several_descriptors_per_control_message() {
    let (a, b) = UnixStream::pair().unwrap();
    let pipes: Vec<_> = (0..5).map(|_| pipe()).collect();
    let mut l = NvList::new();
    let ws: Vec<_> = pipes.iter().map(|(_, w)| w.as_fd()).collect();
    l.add_descriptor_array("w", &ws).unwrap();
    let mut bytes = Vec::new();
    let mut raw = Vec::new();
    l.pack_with_fds(&mut bytes, &mut raw, ByteOrder::native())
        .unwrap();
    send_merged(&a, &bytes, &raw, 169);
    let got = NvList::recv(&b, &UnpackOptions::default()).unwrap();
    let fds = got.get_descriptor_array("w").unwrap();
    assert_eq!(fds.len(), 5);
    for (i, fd) in fds.iter().enumerate() {
        assert_cloexec(fd);
        nix::unistd::write(fd, &[b'a' + i as u8]).unwrap();
    }
    drop(got);
    drop(l);
    for (i, (mut r, w)) in pipes.into_iter().enumerate() {
        drop(w);
        let mut s = Vec::new();
        r.read_to_end(&mut s).unwrap();
        assert_eq!(s, vec![b'a' + i as u8]);
    }
}

#[test]
fn two_hundred_descriptors_go_in_two_packages() {
    let (a, b) = UnixStream::pair().unwrap();
    let files: Vec<OwnedFd> = (0..200)
        .map(|_| OwnedFd::from(std::fs::File::open("/dev/null").unwrap()))
        .collect();
    let mut l = NvList::new();
    l.move_descriptor_array("many", files).unwrap();
    l.add_number("after", 1).unwrap();
    let sender = std::thread::spawn(move || {
        l.send(&a).unwrap();
        a
    });
    let mut buf = Vec::new();
    let mut fds = Vec::new();
    recv_packed(&b, &Limits::default(), &mut buf, &mut fds).unwrap();
    let _a = sender.join().unwrap();
    assert_eq!(fds.len(), 200);
    let view = NvView::parse(&buf, fds.len(), &UnpackOptions::default()).unwrap();
    let idx: Vec<usize> = view.get_descriptor_array("many").unwrap().iter().collect();
    assert_eq!(idx, (0..200).collect::<Vec<_>>());
    // body and both carrier bytes were consumed: nothing left, peer still open
    b.set_nonblocking(true).unwrap();
    let e = (&b).read(&mut [0u8; 4]).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::WouldBlock);
}

#[test]
fn xfer_sends_then_receives_the_answer() {
    let (a, b) = UnixStream::pair().unwrap();
    let server = std::thread::spawn(move || {
        let req = NvList::recv(&b, &UnpackOptions::default()).unwrap();
        let mut reply = NvList::new();
        reply
            .add_number("ipc:id", req.get_number("ipc:id").unwrap())
            .unwrap();
        reply.add_bool("ipc:reply", true).unwrap();
        reply.send(&b).unwrap();
    });
    let mut req = NvList::new();
    req.add_number("ipc:id", 77).unwrap();
    let reply = req.xfer(&a, &UnpackOptions::default()).unwrap();
    assert_eq!(reply.get_number("ipc:id"), Some(77));
    assert_eq!(reply.get_bool("ipc:reply"), Some(true));
    server.join().unwrap();
}

#[test]
fn recv_reports_clean_and_unclean_close() {
    let (a, b) = UnixStream::pair().unwrap();
    drop(a);
    let e = NvList::recv(&b, &UnpackOptions::default()).unwrap_err();
    assert!(
        matches!(e, libnv::Error::Closed { mid_message: false }),
        "{e}"
    );
    let (a, b) = UnixStream::pair().unwrap();
    (&a).write_all(&[0x6c, 0, 0]).unwrap();
    drop(a);
    let e = NvList::recv(&b, &UnpackOptions::default()).unwrap_err();
    assert!(
        matches!(e, libnv::Error::Closed { mid_message: true }),
        "{e}"
    );
}

#[test]
fn recv_refuses_oversized_headers_before_allocating() {
    let (a, b) = UnixStream::pair().unwrap();
    let mut h = vec![0x6c, 0, 0];
    h.extend_from_slice(&0u64.to_le_bytes());
    h.extend_from_slice(&(u64::MAX - 5).to_le_bytes());
    (&a).write_all(&h).unwrap();
    let e = NvList::recv(&b, &UnpackOptions::default()).unwrap_err();
    assert!(e.to_string().contains("exceeds the limit"), "{e}");
    let mut rx = NvReceiver::new(UnpackOptions::default());
    rx.feed(&h, []).unwrap();
    assert!(rx.next_message().is_err());
    assert!(rx.next_message().is_err(), "stream stays unusable");
}

#[test]
fn foreign_endian_messages_are_received() {
    // C's nvlist_recv swaps the header twice and rejects these; we do not.
    let (a, b) = UnixStream::pair().unwrap();
    let mut l = NvList::with_flags(Flags::IGNORE_CASE);
    l.add_number_array("n", &[1, 2, 3]).unwrap();
    let be = l.pack_with_order(ByteOrder::Big).unwrap();
    send_packed(&a, &be, &[]).unwrap();
    let got = NvList::recv(&b, &UnpackOptions::exact(Flags::IGNORE_CASE)).unwrap();
    assert_eq!(got, l);
}

fn wait(fd: impl AsFd, events: PollFlags) {
    let mut p = [PollFd::new(fd.as_fd(), events)];
    poll(&mut p, PollTimeout::from(10_000u16)).unwrap();
}

#[test]
fn nonblocking_sender_and_receiver_resume_after_eagain() {
    let (a, b) = UnixStream::pair().unwrap();
    a.set_nonblocking(true).unwrap();
    b.set_nonblocking(true).unwrap();
    // Several messages, one far larger than the socket buffer, with descriptors.
    let (mut r, w) = pipe();
    let mut big = NvList::new();
    big.add_binary("blob", vec![7u8; 3 << 20]).unwrap();
    big.add_descriptor("w", w.as_fd()).unwrap();
    drop(w);
    let mut small = NvList::new();
    small.add_string("ipc:method", "status").unwrap();
    let mut tx = NvSender::new();
    tx.queue(&small).unwrap();
    tx.queue(&big).unwrap();
    drop(big);
    tx.queue_with(Flags::NONE, |w| w.add_number("last", 3))
        .unwrap();
    let mut rx = NvReceiver::new(UnpackOptions {
        limits: Limits {
            max_size: 4 << 20,
            ..Limits::default()
        },
        flags: FlagsCheck::Any,
    });
    let mut seen = Vec::new();
    let mut would_block = 0;
    while seen.len() < 3 {
        if !tx.is_empty() && !tx.flush(&a).unwrap() {
            would_block += 1;
        }
        match rx.recv_from(&b).unwrap() {
            RecvStatus::Data(_) => {}
            RecvStatus::WouldBlock => wait(&b, PollFlags::POLLIN),
            RecvStatus::Eof => panic!("eof"),
        }
        while let Some(mut m) = rx.next_message().unwrap() {
            let v = m.view();
            if let Some(i) = v.get_descriptor("w") {
                assert_eq!(v.get_binary("blob").unwrap().len(), 3 << 20);
                let fd = m.take_fd(i).unwrap();
                assert_cloexec(&fd);
                std::fs::File::from(fd).write_all(b"big").unwrap();
                seen.push("big".to_string());
            } else if let Some(s) = v.get_str("ipc:method") {
                seen.push(s.to_string());
            } else {
                seen.push(format!("last={}", v.get_number("last").unwrap()));
            }
        }
    }
    assert!(would_block > 0, "the big message must have hit EAGAIN");
    assert_eq!(seen, ["status", "big", "last=3"]);
    assert!(tx.is_empty());
    drop(tx);
    let mut s = String::new();
    r.read_to_string(&mut s).unwrap();
    assert_eq!(s, "big");
    drop(a);
    assert_eq!(rx.recv_from(&b).unwrap(), RecvStatus::Eof);
}

#[test]
fn receiver_gets_messages_read_ahead_in_one_read() {
    // Three messages, the middle one with descriptors, all waiting in the socket before the
    // first read.
    let (a, b) = UnixStream::pair().unwrap();
    let mut first = NvList::new();
    first.add_number("i", 1).unwrap();
    let mut second = NvList::new();
    second.add_number("i", 2).unwrap();
    second
        .move_descriptor_array(
            "d",
            (0..3)
                .map(|_| OwnedFd::from(std::fs::File::open("/dev/null").unwrap()))
                .collect(),
        )
        .unwrap();
    let mut third = NvList::new();
    third.add_number("i", 3).unwrap();
    for l in [&first, &second, &third] {
        l.send(&a).unwrap();
    }
    drop(a);
    let mut rx = NvReceiver::new(UnpackOptions::default());
    let mut got = Vec::new();
    loop {
        let status = rx.recv_from(&b).unwrap();
        while let Some(m) = rx.next_message().unwrap() {
            let n = m.fd_count();
            let l = m.to_nvlist().unwrap();
            got.push((l.get_number("i").unwrap(), n));
        }
        if status == RecvStatus::Eof {
            break;
        }
    }
    assert_eq!(got, [(1, 0), (2, 3), (3, 0)]);
}

#[test]
fn blocking_calls_wait_on_nonblocking_sockets() {
    let (a, b) = UnixStream::pair().unwrap();
    a.set_nonblocking(true).unwrap();
    b.set_nonblocking(true).unwrap();
    let sender = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(50));
        let mut l = NvList::new();
        // Bigger than the socket buffer: the sender meets EAGAIN too.
        l.add_binary("blob", vec![1u8; 1 << 20]).unwrap();
        l.add_descriptor("fd", std::io::stdin().as_fd()).unwrap();
        l.send(&a).unwrap();
        a
    });
    let got = NvList::recv(&b, &UnpackOptions::default()).unwrap();
    let _a = sender.join().unwrap();
    assert_eq!(got.get_binary("blob").unwrap().len(), 1 << 20);
    assert_cloexec(got.get_descriptor("fd").unwrap());
}

#[test]
fn a_carrier_byte_without_descriptors_is_refused() {
    let (a, b) = UnixStream::pair().unwrap();
    let (_r, w) = pipe();
    let mut l = NvList::new();
    l.add_descriptor("fd", w.as_fd()).unwrap();
    let mut bytes = Vec::new();
    l.pack_with_fds(&mut bytes, &mut Vec::new(), ByteOrder::native())
        .unwrap();
    bytes.push(0); // the carrier, but sent as plain data: no SCM_RIGHTS
    (&a).write_all(&bytes).unwrap();
    assert!(NvList::recv(&b, &UnpackOptions::default()).is_err());
    (&a).write_all(&bytes).unwrap();
    let mut rx = NvReceiver::new(UnpackOptions::default());
    b.set_nonblocking(true).unwrap();
    assert!(matches!(rx.recv_from(&b).unwrap(), RecvStatus::Data(_)));
    assert!(rx.next_message().is_err());
}
