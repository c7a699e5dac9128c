//! Hostile input: random bytes, mutations and truncations of real packings, random chunking
//! into the incremental receiver. Nothing may panic; what is accepted must be consistent.

use std::os::fd::OwnedFd;
use std::path::Path;

use libnv::{DecodeErrorKind, Flags, Limits, NvList, NvReceiver, NvView, NvWriter, UnpackOptions};
use proptest::prelude::*;

fn valid_vectors() -> &'static [(Vec<u8>, usize)] {
    static VECTORS: std::sync::OnceLock<Vec<(Vec<u8>, usize)>> = std::sync::OnceLock::new();
    VECTORS.get_or_init(load_vectors)
}

fn load_vectors() -> Vec<(Vec<u8>, usize)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors/valid");
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "bin") {
            let m: serde_json::Value =
                serde_json::from_slice(&std::fs::read(p.with_extension("json")).unwrap()).unwrap();
            out.push((
                std::fs::read(&p).unwrap(),
                m["descriptors"].as_u64().unwrap() as usize,
            ));
        }
    }
    out.sort();
    out
}

fn null_fds(n: usize) -> Vec<OwnedFd> {
    (0..n)
        .map(|_| OwnedFd::from(std::fs::File::open("/dev/null").unwrap()))
        .collect()
}

/// Whatever is accepted must survive a repack and decode to the same thing.
fn consistent(bytes: &[u8], nfds: usize) {
    let opts = UnpackOptions::default();
    let view_ok = NvView::parse(bytes, nfds, &opts).is_ok();
    match NvList::unpack_with(bytes, null_fds(nfds), &opts) {
        Ok(list) => {
            assert!(view_ok);
            let mut packed = Vec::new();
            let mut raw = Vec::new();
            list.pack_with_fds(&mut packed, &mut raw, libnv::ByteOrder::native())
                .unwrap();
            let again = NvList::unpack_with(&packed, null_fds(raw.len()), &opts).unwrap();
            let mut packed2 = Vec::new();
            again
                .pack_with_fds(&mut packed2, &mut Vec::new(), libnv::ByteOrder::native())
                .unwrap();
            assert_eq!(packed, packed2);
        }
        Err(_) => assert!(!view_ok),
    }
}

fn with_header(body: &[u8], flags: u8, descriptors: u64) -> Vec<u8> {
    let mut m = vec![0x6c, 0, flags];
    m.extend_from_slice(&descriptors.to_le_bytes());
    m.extend_from_slice(&(body.len() as u64).to_le_bytes());
    m.extend_from_slice(body);
    m
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        consistent(&bytes, 0);
        for flags in [Flags::NONE, Flags::IGNORE_CASE] {
            let _ = NvList::unpack(&bytes, flags);
        }
    }

    #[test]
    fn random_bodies_behind_a_valid_header_never_panic(
        // Bytes biased towards type codes, markers, the magic and small values.
        body in prop::collection::vec(any::<u8>(), 0..300).prop_map(|v| {
            v.into_iter()
                .map(|b| match b % 8 {
                    0 | 1 => b % 3,
                    2 => 255,
                    3 => 254,
                    4 => 0x6c,
                    5 => b % 13,
                    _ => b,
                })
                .collect::<Vec<u8>>()
        }),
        flags in prop_oneof![Just(0u8), Just(3), Just(0x80)],
        nfds in 0usize..3,
    ) {
        consistent(&with_header(&body, flags, nfds as u64), nfds);
    }

    #[test]
    fn mutated_vectors_never_panic(
        which in any::<prop::sample::Index>(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..5),
        cut in any::<prop::sample::Index>(),
        truncate in any::<bool>(),
    ) {
        let vectors = valid_vectors();
        let (mut bytes, nfds) = vectors[which.index(vectors.len())].clone();
        for (at, v) in edits {
            let i = at.index(bytes.len());
            bytes[i] = v;
        }
        if truncate {
            bytes.truncate(cut.index(bytes.len() + 1));
        }
        consistent(&bytes, nfds);
    }

    #[test]
    fn receiver_survives_random_chunks(
        picks in prop::collection::vec(any::<prop::sample::Index>(), 1..4),
        garbage in prop::collection::vec(any::<u8>(), 0..64),
        chunks in prop::collection::vec(1usize..97, 1..40),
        garbage_first in any::<bool>(),
    ) {
        let vectors: Vec<_> = valid_vectors().iter().filter(|(_, n)| *n == 0).collect();
        let mut stream = Vec::new();
        let mut expected = 0;
        if garbage_first {
            stream.extend_from_slice(&garbage);
        }
        for p in &picks {
            stream.extend_from_slice(&vectors[p.index(vectors.len())].0);
            expected += 1;
        }
        if !garbage_first {
            stream.extend_from_slice(&garbage);
        }
        let mut rx = NvReceiver::new(UnpackOptions {
            limits: Limits { max_size: 1 << 20, ..Limits::default() },
            ..UnpackOptions::default()
        });
        let mut got = 0;
        let mut pos = 0;
        let mut failed = false;
        let mut chunk_sizes = chunks.iter().cycle();
        while pos < stream.len() && !failed {
            let n = (*chunk_sizes.next().unwrap()).min(stream.len() - pos);
            match rx.feed(&stream[pos..pos + n], []) {
                Ok(k) => pos += k,
                Err(_) => failed = true,
            }
            loop {
                match rx.next_message() {
                    Ok(Some(m)) => { let _ = m.view().iter().count(); got += 1; }
                    Ok(None) => break,
                    Err(_) => { failed = true; break; }
                }
            }
        }
        if !garbage_first {
            // All valid messages came before the garbage.
            prop_assert!(got >= expected);
        }
    }
}

#[test]
fn depth_is_bounded_and_configurable() {
    let mut buf = Vec::new();
    let mut w = NvWriter::new(&mut buf, Flags::NONE);
    for _ in 0..100 {
        w.begin_nvlist("d", Flags::NONE).unwrap();
    }
    for _ in 0..100 {
        w.end_nvlist().unwrap();
    }
    w.finish().unwrap();
    let e = NvView::new(&buf).unwrap_err();
    assert_eq!(e.kind, DecodeErrorKind::TooDeep { limit: 64 });
    let deep = UnpackOptions {
        limits: Limits {
            max_depth: 100,
            ..Limits::default()
        },
        ..UnpackOptions::default()
    };
    assert!(NvView::parse(&buf, 0, &deep).is_ok());
    let list = NvList::unpack_with(&buf, Vec::new(), &deep).unwrap();
    assert_eq!(list.pack().unwrap(), buf);
}

#[test]
fn huge_counts_are_refused_before_allocating() {
    // NVLIST_ARRAY claiming 2^60 elements, STRING_ARRAY claiming 2^63 items.
    let mut body = vec![11u8, 2, 0];
    body.extend_from_slice(&0u64.to_le_bytes());
    body.extend_from_slice(&(1u64 << 60).to_le_bytes());
    body.extend_from_slice(b"a\0");
    let e = NvList::unpack_any(&with_header(&body, 0, 0)).unwrap_err();
    assert_eq!(e.errno(), Some(libc::EINVAL));
    let mut body = vec![10u8, 2, 0];
    body.extend_from_slice(&2u64.to_le_bytes());
    body.extend_from_slice(&(1u64 << 63).to_le_bytes());
    body.extend_from_slice(b"a\0x\0");
    assert!(NvList::unpack_any(&with_header(&body, 0, 0)).is_err());
    // A header announcing 2^40 descriptors.
    let e = NvView::parse(&with_header(&[], 0, 1 << 40), 0, &UnpackOptions::default()).unwrap_err();
    assert!(matches!(
        e.kind,
        DecodeErrorKind::TooManyDescriptorsAnnounced { .. }
    ));
    // Too large a message.
    let small = UnpackOptions {
        limits: Limits {
            max_size: 64,
            ..Limits::default()
        },
        ..UnpackOptions::default()
    };
    let e = NvView::parse(&with_header(&[0; 100], 0, 0), 0, &small).unwrap_err();
    assert!(matches!(e.kind, DecodeErrorKind::MessageTooLarge { .. }));
}

#[test]
fn mixed_byte_orders_are_refused() {
    let mut l = NvList::new();
    l.add_nvlist("c", NvList::new()).unwrap();
    let mut bytes = l.pack_with_order(libnv::ByteOrder::Little).unwrap();
    // nested header gets the big-endian flag while the top stays little
    bytes[19 + 19 + 2 + 2] |= 0x80;
    let e = NvView::new(&bytes).unwrap_err();
    assert_eq!(e.kind, DecodeErrorKind::MixedByteOrder);
}

fn list_with_names(flags: Flags, names: &[String], nested_copy: bool) -> Vec<u8> {
    let mut buf = Vec::new();
    let mut w = NvWriter::new(&mut buf, flags);
    for (i, n) in names.iter().enumerate() {
        if nested_copy && i == 1 {
            // A nested list reusing the same names is no duplicate of its parent's.
            w.begin_nvlist_array("nested").unwrap();
            w.begin_element(flags).unwrap();
            for m in names.iter().take(names.len() - 1) {
                w.add_null(m).unwrap();
            }
            w.end_element().unwrap();
            w.end_nvlist_array().unwrap();
        }
        w.add_number(n, i as u64).unwrap();
    }
    w.finish().unwrap();
    buf
}

#[test]
fn duplicate_names_are_found_in_small_large_and_huge_lists() {
    for n in [5usize, 30, 200, 2500] {
        let distinct: Vec<String> = (0..n).map(|i| format!("Key{i}")).collect();
        for nested in [false, true] {
            let ok = list_with_names(Flags::NONE, &distinct, nested);
            let l = NvList::unpack_any(&ok).unwrap_or_else(|e| panic!("{n}: {e}"));
            assert_eq!(l.len(), n + nested as usize);
            for dup_of in [0, n / 2, n - 1] {
                let mut names = distinct.clone();
                names.push(distinct[dup_of].clone());
                let bytes = list_with_names(Flags::NONE, &names, nested);
                let e = NvView::new(&bytes).unwrap_err();
                assert_eq!(
                    e.kind,
                    DecodeErrorKind::DuplicateName,
                    "{n} {dup_of} {nested}"
                );
                assert!(NvList::unpack_any(&bytes).is_err());
                // Differing only in case: a duplicate only under IGNORE_CASE.
                let mut names = distinct.clone();
                names.push(distinct[dup_of].to_ascii_uppercase());
                let bytes = list_with_names(Flags::NONE, &names, nested);
                assert!(NvView::new(&bytes).is_ok());
                let bytes = list_with_names(Flags::IGNORE_CASE, &names, nested);
                let e = NvView::new(&bytes).unwrap_err();
                assert_eq!(
                    e.kind,
                    DecodeErrorKind::DuplicateName,
                    "{n} {dup_of} {nested}"
                );
                // NO_UNIQUE accepts it.
                let bytes = list_with_names(Flags::NO_UNIQUE, &names, nested);
                assert!(NvView::new(&bytes).is_ok());
            }
        }
    }
}

#[test]
fn scratch_validation_is_linear_for_huge_lists() {
    // 40 000 pairs in one list: beyond the stack table; with a Scratch (and in the owned
    // unpacker) duplicate checks stay hashed. Also a duplicate at the very end is found.
    let names: Vec<String> = (0..40_000).map(|i| format!("n{i}")).collect();
    let bytes = list_with_names(Flags::NONE, &names, false);
    let limits = Limits::default();
    let mut scratch = libnv::Scratch::new(&limits);
    let opts = UnpackOptions::default();
    for _ in 0..2 {
        // twice: the scratch is cleaned after use
        assert!(NvView::parse_with(&bytes, 0, &opts, &mut scratch).is_ok());
    }
    assert_eq!(NvList::unpack_any(&bytes).unwrap().len(), 40_000);
    let mut dup = names.clone();
    dup.push("n0".into());
    let bytes = list_with_names(Flags::NONE, &dup, false);
    let e = NvView::parse_with(&bytes, 0, &opts, &mut scratch).unwrap_err();
    assert_eq!(e.kind, DecodeErrorKind::DuplicateName);
    assert!(NvList::unpack_any(&bytes).is_err());
}

#[test]
fn duplicates_are_still_found_after_the_stack_table_fills_up() {
    // 6300 names: the 64 KiB stack table holds 6144, then rescans take over.
    let mut names: Vec<String> = (0..6300).map(|i| format!("k{i}")).collect();
    let bytes = list_with_names(Flags::NONE, &names, false);
    assert!(NvView::new(&bytes).is_ok());
    for dup_of in [10, 6200] {
        names.push(format!("k{dup_of}"));
        let bytes = list_with_names(Flags::NONE, &names, false);
        let e = NvView::new(&bytes).unwrap_err();
        assert_eq!(e.kind, DecodeErrorKind::DuplicateName, "{dup_of}");
        names.pop();
    }
}
