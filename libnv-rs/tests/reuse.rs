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
