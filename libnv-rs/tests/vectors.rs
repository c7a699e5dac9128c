//! The C library's test vectors (copied from the shared set into tests/vectors/).

#[path = "../src/bin/nvdump/json.rs"]
#[allow(dead_code)]
mod json;

use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use libnv::{ByteOrder, Flags, FlagsCheck, NvList, NvView, UnpackOptions};

fn dir(sub: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/vectors")
        .join(sub)
}

fn files(sub: &str, ext: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir(sub))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .collect();
    v.sort();
    v
}

fn dev_null_fds(n: usize) -> Vec<OwnedFd> {
    (0..n)
        .map(|_| OwnedFd::from(std::fs::File::open("/dev/null").unwrap()))
        .collect()
}

fn meta(bin: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(bin.with_extension("json")).unwrap()).unwrap()
}

#[test]
fn valid_vectors_decode_to_their_json_and_reencode_to_the_same_bytes() {
    let bins = files("valid", "bin");
    assert_eq!(bins.len(), 31);
    for bin in bins {
        let name = bin.file_stem().unwrap().to_string_lossy().into_owned();
        let bytes = std::fs::read(&bin).unwrap();
        let m = meta(&bin);
        let flags = Flags::from_bits(m["unpack_flags"].as_u64().unwrap() as u8).unwrap();
        let nfds = m["descriptors"].as_u64().unwrap() as usize;
        let big = m["byte_order"] == "big";
        let order = if big {
            ByteOrder::Big
        } else {
            ByteOrder::Little
        };

        // Borrowed view, C-style exact flags.
        let opts = UnpackOptions::exact(flags);
        let view = NvView::parse(&bytes, nfds, &opts)
            .unwrap_or_else(|e| panic!("{name}: view rejected: {e}"));
        assert_eq!(view.byte_order(), order, "{name}");
        assert_eq!(
            json::view_to_json(&view).to_serde(),
            m["root"],
            "{name}: view content differs"
        );

        // Owned list, with real descriptors when the vector has some.
        let list = NvList::unpack_with(&bytes, dev_null_fds(nfds), &opts)
            .unwrap_or_else(|e| panic!("{name}: unpack rejected: {e}"));
        assert_eq!(list.descriptor_count(), nfds, "{name}");
        if nfds == 0 {
            assert_eq!(NvList::unpack(&bytes, flags).unwrap(), list, "{name}");
            assert_eq!(list.pack_with_order(order).unwrap(), bytes, "{name}: pack");
            assert_eq!(list.packed_size(), bytes.len(), "{name}: packed_size");
        } else {
            assert!(list.pack().is_err(), "{name}: pack must refuse descriptors");
        }
        let mut again = Vec::new();
        let mut raw = Vec::new();
        list.pack_with_fds(&mut again, &mut raw, order).unwrap();
        assert_eq!(again, bytes, "{name}: send-path packing differs");
        assert_eq!(raw.len(), nfds, "{name}");

        // The JSON rebuilt into a list packs to the same bytes.
        let mut slots: Vec<Option<OwnedFd>> = dev_null_fds(nfds).into_iter().map(Some).collect();
        let from_json =
            json::json_to_list(&m["root"], &mut slots, libnv::Limits::default().max_depth).unwrap();
        let mut bytes2 = Vec::new();
        from_json
            .pack_with_fds(&mut bytes2, &mut Vec::new(), order)
            .unwrap();
        assert_eq!(bytes2, bytes, "{name}: JSON → pack differs");

        // Foreign order round trip: repacking in the other order and back is stable.
        let other = if big {
            ByteOrder::Little
        } else {
            ByteOrder::Big
        };
        let mut swapped = Vec::new();
        list.pack_with_fds(&mut swapped, &mut Vec::new(), other)
            .unwrap();
        let back = NvList::unpack_with(&swapped, dev_null_fds(nfds), &opts).unwrap();
        let mut rebuilt = Vec::new();
        back.pack_with_fds(&mut rebuilt, &mut Vec::new(), order)
            .unwrap();
        assert_eq!(rebuilt, bytes, "{name}: other byte order round trip");
    }
}

#[test]
fn big_endian_vectors_match_their_little_endian_twins() {
    for bin in files("valid", "bin") {
        let name = bin.file_stem().unwrap().to_string_lossy().into_owned();
        let Some(twin) = name.strip_prefix("be_") else {
            continue;
        };
        let be = std::fs::read(&bin).unwrap();
        let le = std::fs::read(dir("valid").join(format!("{twin}.bin"))).unwrap();
        let nfds = meta(&bin)["descriptors"].as_u64().unwrap() as usize;
        let opts = UnpackOptions::default();
        let list = NvList::unpack_with(&be, dev_null_fds(nfds), &opts).unwrap();
        let mut out = Vec::new();
        list.pack_with_fds(&mut out, &mut Vec::new(), ByteOrder::Little)
            .unwrap();
        assert_eq!(out, le, "{name} → little endian differs from {twin}");
    }
}

#[test]
fn invalid_vectors_are_rejected() {
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir("invalid").join("manifest.json")).unwrap())
            .unwrap();
    let entries = manifest.as_array().unwrap();
    assert_eq!(entries.len(), 22);
    assert_eq!(files("invalid", "bin").len(), entries.len());
    for e in entries {
        let name = e["name"].as_str().unwrap();
        let bytes = std::fs::read(dir("invalid").join(e["file"].as_str().unwrap())).unwrap();
        let flags = Flags::from_bits(e["unpack_flags"].as_u64().unwrap() as u8).unwrap();
        let err = NvList::unpack(&bytes, flags)
            .err()
            .unwrap_or_else(|| panic!("{name}: accepted"));
        assert!(
            NvView::parse(&bytes, 0, &UnpackOptions::exact(flags)).is_err(),
            "{name}: view accepted"
        );
        // Where the C code set a meaningful errno, ours agrees.
        let c_errno = e["c_errno"].as_i64().unwrap() as i32;
        if c_errno != libc::ENOENT {
            assert_eq!(err.errno(), Some(c_errno), "{name}: {err}");
        }
    }
}

/// Lenient inputs (accepted by C): what this crate does with each is documented in lib.rs.
#[test]
fn lenient_vectors_follow_the_documented_decisions() {
    let accepted = [
        "version_byte_nonzero",
        "bool_array_item_2",
        "nested_datasize_arbitrary",
        "marker_with_name_and_datasize",
        "scalar_with_nitems",
    ];
    let rejected = [
        "missing_trailing_up",
        "array_next_closes_nested",
        "up_closes_array_element",
    ];
    assert_eq!(
        files("lenient", "bin").len(),
        accepted.len() + rejected.len()
    );
    for name in accepted {
        let bin = dir("lenient").join(format!("{name}.bin"));
        let bytes = std::fs::read(&bin).unwrap();
        let m = meta(&bin);
        let view = NvView::parse(&bytes, 0, &UnpackOptions::default())
            .unwrap_or_else(|e| panic!("{name}: rejected: {e}"));
        assert_eq!(
            json::view_to_json(&view).to_serde(),
            m["root_as_decoded_by_c"],
            "{name}"
        );
        let list = NvList::unpack_any(&bytes).unwrap();
        // Repacking gives the canonical form, which decodes to the same content.
        let canonical = list.pack().unwrap();
        assert_eq!(NvList::unpack_any(&canonical).unwrap(), list, "{name}");
    }
    for name in rejected {
        let bytes = std::fs::read(dir("lenient").join(format!("{name}.bin"))).unwrap();
        let opts = UnpackOptions {
            flags: FlagsCheck::Any,
            ..UnpackOptions::default()
        };
        assert!(NvView::parse(&bytes, 0, &opts).is_err(), "{name} accepted");
        assert!(NvList::unpack_any(&bytes).is_err(), "{name} accepted");
    }
}

#[test]
fn every_truncation_of_every_valid_vector_is_rejected_without_panic() {
    for bin in files("valid", "bin") {
        let bytes = std::fs::read(&bin).unwrap();
        let nfds = meta(&bin)["descriptors"].as_u64().unwrap() as usize;
        for cut in 0..bytes.len() {
            assert!(NvView::parse(&bytes[..cut], nfds, &UnpackOptions::default()).is_err());
        }
    }
}
