//! Small messages validate in a small stack frame (docs/decisions.md): a supervisor
//! validates one on every request, and every stack page it touches once stays resident.
//! The big frame (a 64 KiB name table) is only for messages over 2 KiB.

use libnv::{Limits, NvList, NvView, Scratch, UnpackOptions};

/// Far less than the big frame needs, plenty for the small one (also unoptimized).
const SMALL_STACK: usize = 32 * 1024;

fn request(extra: usize) -> Vec<u8> {
    let mut l = NvList::new();
    l.add_string("ipc:method", "restart").unwrap();
    l.add_number("ipc:id", 7).unwrap();
    let mut opts = NvList::new();
    opts.add_string("signal", "TERM").unwrap();
    l.add_nvlist("options", opts).unwrap();
    l.add_binary("pad", vec![7u8; extra]).unwrap();
    l.pack().unwrap()
}

#[test]
fn a_message_of_up_to_2_kib_validates_in_a_32_kib_stack() {
    let bytes = request(1);
    let pad = 2048 - bytes.len() + 1;
    let bytes = request(pad);
    assert_eq!(bytes.len(), 2048);
    // A stack overflow aborts the whole test binary with "has overflowed its stack".
    let n = std::thread::Builder::new()
        .stack_size(SMALL_STACK)
        .spawn(move || {
            let opts = UnpackOptions {
                limits: Limits {
                    max_size: 64 * 1024,
                    ..Limits::default()
                },
                ..UnpackOptions::default()
            };
            let mut scratch = Scratch::new(&opts.limits);
            let a = NvView::new(&bytes).unwrap().len();
            let b = NvView::parse_with(&bytes, 0, &opts, &mut scratch)
                .unwrap()
                .len();
            a + b
        })
        .unwrap()
        .join()
        .unwrap();
    assert_eq!(n, 8);
}
