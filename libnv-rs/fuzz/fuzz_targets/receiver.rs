//! Arbitrary chunks into the incremental receiver. The input is a sequence of
//! `[len, flags, bytes[len]]` records: `flags & 1` attaches a descriptor to the chunk.
#![no_main]

use std::os::fd::OwnedFd;

use libfuzzer_sys::fuzz_target;
use libnv::{Limits, NvReceiver, UnpackOptions};

fuzz_target!(|data: &[u8]| {
    let mut rx = NvReceiver::new(UnpackOptions {
        limits: Limits {
            max_size: 1 << 16,
            max_descriptors: 8,
            ..Limits::default()
        },
        ..UnpackOptions::default()
    });
    let mut rest = data;
    while let [len, flags, tail @ ..] = rest {
        let n = (*len as usize).min(tail.len());
        let (chunk, more) = tail.split_at(n);
        rest = more;
        let fds: Vec<OwnedFd> = if flags & 1 == 1 {
            vec![OwnedFd::from(std::fs::File::open("/dev/null").unwrap())]
        } else {
            Vec::new()
        };
        if rx.feed(chunk, fds).is_err() {
            return;
        }
        loop {
            match rx.next_message() {
                Ok(Some(mut m)) => {
                    let _ = m.view().iter().count();
                    if flags & 2 == 2 {
                        let _ = m.take_fd(0);
                        let _ = m.to_nvlist();
                    }
                }
                Ok(None) => break,
                Err(_) => {
                    if flags & 4 == 4 {
                        return;
                    }
                    break;
                }
            }
        }
    }
});
