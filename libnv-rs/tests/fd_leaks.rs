//! No descriptor ever leaks: rejected messages, surplus descriptors, dropped receivers.
//! One test function so that no other test in this process opens descriptors meanwhile.

use std::io::Write;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;

use libnv::{ByteOrder, NvList, NvReceiver, UnpackOptions};
use nix::sys::socket::{ControlMessage, MsgFlags, sendmsg};

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

fn dev_null() -> OwnedFd {
    OwnedFd::from(std::fs::File::open("/dev/null").unwrap())
}

fn send_raw(sock: &UnixStream, bytes: &[u8], fds: &[RawFd]) {
    (&*sock).write_all(bytes).unwrap();
    if !fds.is_empty() {
        let iov = [std::io::IoSlice::new(&[0u8])];
        let cmsg = [ControlMessage::ScmRights(fds)];
        sendmsg::<()>(sock.as_raw_fd(), &iov, &cmsg, MsgFlags::empty(), None).unwrap();
    }
}

/// A packed list with one descriptor pair (index 0), header patched to announce `announce`.
fn one_fd_message(announce: u64, second_index: Option<u64>) -> Vec<u8> {
    let fd = dev_null();
    let mut l = NvList::new();
    l.add_descriptor("a", std::os::fd::AsFd::as_fd(&fd))
        .unwrap();
    if second_index.is_some() {
        l.add_descriptor("b", std::os::fd::AsFd::as_fd(&fd))
            .unwrap();
    }
    let mut bytes = Vec::new();
    l.pack_with_fds(&mut bytes, &mut Vec::new(), ByteOrder::Little)
        .unwrap();
    bytes[3..11].copy_from_slice(&announce.to_le_bytes());
    if let Some(i) = second_index {
        let at = bytes.len() - 8;
        bytes[at..].copy_from_slice(&i.to_le_bytes());
    }
    bytes
}

#[test]
fn no_descriptor_leaks_on_any_path() {
    let base = open_fds();
    let (a, b) = UnixStream::pair().unwrap();
    let sockets = open_fds();
    assert_eq!(sockets, base + 2);

    let nulls: Vec<OwnedFd> = (0..3).map(|_| dev_null()).collect();
    let raw: Vec<RawFd> = nulls.iter().map(|f| f.as_raw_fd()).collect();
    let with_nulls = open_fds();

    let cases: Vec<(&str, Vec<u8>, usize)> = vec![
        // header announces 2, the pairs use 1
        ("count mismatch", one_fd_message(2, None), 2),
        // two pairs name index 0
        ("duplicate index", one_fd_message(2, Some(0)), 2),
        // index out of range
        ("bad index", one_fd_message(2, Some(7)), 2),
        // valid framing, bad content after the descriptor pair
        (
            "bad content",
            {
                let mut m = one_fd_message(1, None);
                m[39] = b'b'; // the name "a" loses its NUL
                m
            },
            1,
        ),
    ];
    for (what, bytes, nfds) in &cases {
        // Blocking path.
        send_raw(&a, bytes, &raw[..*nfds]);
        assert!(
            NvList::recv(&b, &UnpackOptions::default()).is_err(),
            "{what}: accepted"
        );
        assert_eq!(
            open_fds(),
            with_nulls,
            "{what}: leaked on the blocking path"
        );
        // Incremental path.
        send_raw(&a, bytes, &raw[..*nfds]);
        let mut rx = NvReceiver::new(UnpackOptions::default());
        b.set_nonblocking(true).unwrap();
        let mut failed = false;
        for _ in 0..8 {
            match rx.recv_from(&b) {
                Ok(libnv::RecvStatus::WouldBlock) => break,
                Ok(_) => {}
                Err(_) => failed = true,
            }
            if rx.next_message().is_err() {
                failed = true;
            }
        }
        b.set_nonblocking(false).unwrap();
        assert!(failed, "{what}: receiver accepted");
        drop(rx);
        assert_eq!(
            open_fds(),
            with_nulls,
            "{what}: leaked on the receiver path"
        );
    }

    // More descriptors than announced in one package: refused, all closed.
    send_raw(&a, &one_fd_message(1, None), &raw);
    assert!(NvList::recv(&b, &UnpackOptions::default()).is_err());
    assert_eq!(open_fds(), with_nulls, "surplus descriptors leaked");

    // Surplus descriptors handed to unpack_with are closed; used ones live in the list.
    let msg = one_fd_message(1, None);
    let fds: Vec<OwnedFd> = (0..3).map(|_| dev_null()).collect();
    let l = NvList::unpack_with(&msg, fds, &UnpackOptions::default()).unwrap();
    assert_eq!(open_fds(), with_nulls + 1);
    drop(l);
    assert_eq!(open_fds(), with_nulls);

    // A receiver dropped with a partial message and queued descriptors closes them.
    let mut rx = NvReceiver::new(UnpackOptions::default());
    rx.feed(&msg[..10], (0..2).map(|_| dev_null())).unwrap();
    assert!(rx.next_message().unwrap().is_none());
    drop(rx);
    assert_eq!(open_fds(), with_nulls);

    // A received message whose descriptors are not taken closes them when released.
    let mut rx = NvReceiver::new(UnpackOptions::default());
    rx.feed(&msg, []).unwrap();
    rx.feed(&[0], [dev_null()]).unwrap();
    {
        let m = rx.next_message().unwrap().unwrap();
        assert_eq!(m.fd_count(), 1);
    }
    assert!(rx.next_message().unwrap().is_none());
    assert_eq!(open_fds(), with_nulls);

    drop(nulls);
    drop((a, b));
    assert_eq!(open_fds(), base);
}
