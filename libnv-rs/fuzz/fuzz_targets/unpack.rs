//! Arbitrary bytes into the validator, the view and the owned unpacker. As many descriptors
//! as the header announces (at most 8) "come with" the message, so packed vectors are good
//! seeds as they are; odd-length inputs are checked with exact flags (0), even ones with any.
#![no_main]

use std::os::fd::OwnedFd;

use libfuzzer_sys::fuzz_target;
use libnv::{ByteOrder, Flags, FlagsCheck, NvList, NvView, UnpackOptions, ValueRef};

fn walk(v: &NvView<'_>, depth: usize) -> usize {
    let mut n = 0;
    for p in v.iter() {
        n += p.name.len();
        match p.value {
            ValueRef::NvList(c) => n += walk(&c, depth + 1),
            ValueRef::NvListArray(a) => {
                for e in a.iter() {
                    n += walk(&e, depth + 1);
                }
            }
            ValueRef::StringArray(a) => n += a.iter().count(),
            ValueRef::NumberArray(a) => n += a.iter().count(),
            ValueRef::BoolArray(a) => n += a.iter().filter(|b| *b).count(),
            ValueRef::DescriptorArray(a) => n += a.iter().count(),
            _ => {}
        }
        let _ = v.get(p.name);
    }
    n
}

fuzz_target!(|data: &[u8]| {
    let bytes = data;
    let nfds = if bytes.len() >= 19 {
        let announced = u64::from_le_bytes(bytes[3..11].try_into().unwrap());
        let announced_be = u64::from_be_bytes(bytes[3..11].try_into().unwrap());
        announced.min(announced_be).min(8) as usize
    } else {
        0
    };
    let flags = if bytes.len() % 2 == 1 {
        FlagsCheck::Exact(Flags::NONE)
    } else {
        FlagsCheck::Any
    };
    let opts = UnpackOptions {
        flags,
        ..UnpackOptions::default()
    };
    let view = NvView::parse(bytes, nfds, &opts);
    if let Ok(v) = &view {
        walk(v, 0);
    }
    let fds: Vec<OwnedFd> = (0..nfds)
        .map(|_| OwnedFd::from(std::fs::File::open("/dev/null").unwrap()))
        .collect();
    match NvList::unpack_with(bytes, fds, &opts) {
        Ok(list) => {
            assert!(view.is_ok(), "owned unpack accepted what the view refused");
            let mut packed = Vec::new();
            let mut raw = Vec::new();
            list.pack_with_fds(&mut packed, &mut raw, ByteOrder::native())
                .expect("an unpacked list packs");
            let again = NvView::parse(&packed, raw.len(), &UnpackOptions::default())
                .expect("our own packing validates");
            walk(&again, 0);
        }
        Err(_) => assert!(view.is_err(), "view accepted what the owned unpack refused"),
    }
});
