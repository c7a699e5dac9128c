//! Receivers and senders reused across connections: `reset`/`clear` keep
//! the buffers and forget the old stream, including a framing error.

use libnv::{Limits, NvList, NvReceiver, NvSender, UnpackOptions};

fn options(max: usize) -> UnpackOptions {
    UnpackOptions {
        limits: Limits {
            max_size: max,
            max_depth: 8,
            max_descriptors: 0,
        },
        ..UnpackOptions::default()
    }
}

fn message(n: u64) -> Vec<u8> {
    let mut l = NvList::new();
    l.add_number("n", n).unwrap();
    l.pack().unwrap()
}

#[test]
fn reset_forgets_a_broken_stream_and_a_partial_message() {
    let mut rx = NvReceiver::new(options(4096));
    rx.feed(b"this is no nvlist header", []).unwrap();
    assert!(rx.next_message().is_err());
    assert!(rx.is_broken());
    assert!(rx.feed(&message(1), []).is_err());

    rx.reset();
    assert!(!rx.is_broken());
    let m = message(2);
    rx.feed(&m[..5], []).unwrap();
    assert!(rx.has_partial());
    rx.reset();
    assert!(!rx.has_partial());
    rx.feed(&m, []).unwrap();
    let got = rx.next_message().unwrap().unwrap();
    assert_eq!(got.view().get_number("n"), Some(2));
}

#[test]
fn a_message_that_fails_validation_does_not_break_the_stream() {
    let mut rx = NvReceiver::new(options(4096));
    let mut bad = message(3);
    // The pair's type byte: no such type.
    bad[libnv::HEADER_SIZE] = 0xee;
    rx.feed(&bad, []).unwrap();
    assert!(rx.next_message().is_err());
    assert!(!rx.is_broken());
    rx.feed(&message(4), []).unwrap();
    assert_eq!(
        rx.next_message().unwrap().unwrap().view().get_number("n"),
        Some(4)
    );
}

#[test]
fn message_len_frames_as_the_receiver_does() {
    let limits = options(4096).limits;
    let m = message(5);
    assert_eq!(NvReceiver::message_len(&m, &limits), Ok(Some(m.len())));
    assert_eq!(
        NvReceiver::message_len(&m[..libnv::HEADER_SIZE - 1], &limits),
        Ok(None)
    );
    assert!(NvReceiver::message_len(b"not an nvlist header!", &limits).is_err());
    let small = options(m.len() - 1).limits;
    assert!(NvReceiver::message_len(&m, &small).is_err());
}

#[test]
fn clear_drops_what_a_sender_queued() {
    let mut tx = NvSender::new();
    tx.queue_packed(&message(6), Vec::new());
    assert!(tx.pending() > 0);
    tx.clear();
    assert!(tx.is_empty());
}

fn big(n: usize) -> Vec<u8> {
    let mut l = NvList::new();
    for i in 0..n {
        l.add_string(format!("k{i}"), "v".repeat(i % 50)).unwrap();
    }
    l.pack().unwrap()
}

/// A growing receiver takes messages of every size up to its limit, fed in
/// pieces of any size, as a preallocated one does.
#[test]
fn a_growing_receiver_frames_what_a_full_one_does() {
    let messages: Vec<Vec<u8>> = [0, 1, 10, 300, 5000].into_iter().map(big).collect();
    for piece in [1, 7, 512, 4096, 1 << 20] {
        let mut rx = NvReceiver::growing(options(1 << 20));
        let stream: Vec<u8> = messages.concat();
        let mut got = Vec::new();
        for chunk in stream.chunks(piece) {
            let mut rest = chunk;
            while !rest.is_empty() {
                let n = rx.feed(rest, []).unwrap();
                rest = &rest[n..];
                while let Some(m) = rx.next_message().unwrap() {
                    got.push(m.bytes().to_vec());
                }
            }
        }
        assert_eq!(got, messages, "pieces of {piece}");
        assert!(!rx.has_partial());
    }
}

/// Without a Scratch (small limits), duplicate names are still refused.
#[test]
fn a_growing_receiver_refuses_duplicate_names() {
    let mut l = NvList::with_flags(libnv::Flags::NO_UNIQUE);
    for _ in 0..2 {
        l.add_number("same", 1).unwrap();
    }
    let mut bytes = l.pack().unwrap();
    // The same bytes, with the flag that allowed the twins cleared.
    bytes[2] &= !0x02;
    let mut rx = NvReceiver::growing(options(4096));
    rx.feed(&bytes, []).unwrap();
    assert!(rx.next_message().is_err());
    assert!(!rx.is_broken());
    rx.feed(&message(7), []).unwrap();
    assert_eq!(
        rx.next_message().unwrap().unwrap().view().get_number("n"),
        Some(7)
    );
}

/// A growing receiver that takes no descriptors breaks the stream on one,
/// and closes it.
#[test]
fn a_growing_receiver_without_descriptors_refuses_one() {
    use std::os::fd::AsFd;
    use std::os::unix::net::UnixStream;
    let (a, b) = UnixStream::pair().unwrap();
    let (keep, _other) = UnixStream::pair().unwrap();
    let mut l = NvList::new();
    l.add_descriptor("fd", keep.as_fd()).unwrap();
    l.send(&a).unwrap();
    let mut rx = NvReceiver::growing(options(4096));
    let got = rx
        .recv_from(&b)
        .and_then(|_| rx.next_message().map(|m| m.is_some()));
    assert!(got.is_err(), "{got:?}");
    assert!(rx.is_broken());
}
