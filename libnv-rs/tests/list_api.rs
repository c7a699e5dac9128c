//! The owned list API: C semantics where they matter, errors instead of aborts.

use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};

use libnv::{ByteOrder, Error, Flags, NvList, NvView, NvWriter, Type, Value};

#[test]
fn add_get_take_remove_in_insertion_order() {
    let mut l = NvList::new();
    l.add_null("n").unwrap();
    l.add_bool("b", true).unwrap();
    l.add_number("num", u64::MAX).unwrap();
    l.add_string("s", "hello").unwrap();
    l.add_string(b"raw".as_slice(), [0xffu8, 0xfe].as_slice())
        .unwrap();
    l.add_binary("bin", [1u8, 2, 3]).unwrap();
    l.add_bool_array("ba", &[true, false]).unwrap();
    l.add_number_array("na", &[1, 2]).unwrap();
    l.add_string_array("sa", ["x", "y"]).unwrap();
    let mut child = NvList::new();
    child.add_number("c", 1).unwrap();
    l.add_nvlist("child", child).unwrap();
    l.add_nvlist_array("arr", vec![NvList::new(), NvList::new()])
        .unwrap();

    let names: Vec<&[u8]> = l.iter().map(|(n, _)| n).collect();
    assert_eq!(names[0], b"n");
    assert_eq!(names.len(), 11);
    assert!(l.get_null("n"));
    assert_eq!(l.get_bool("b"), Some(true));
    assert_eq!(l.get_number("num"), Some(u64::MAX));
    assert_eq!(l.get_str("s"), Some("hello"));
    assert_eq!(l.get_str("raw"), None, "not UTF-8");
    assert_eq!(l.get_string("raw"), Some([0xffu8, 0xfe].as_slice()));
    assert_eq!(l.get_binary("bin"), Some([1u8, 2, 3].as_slice()));
    assert_eq!(l.get_bool_array("ba"), Some([true, false].as_slice()));
    assert_eq!(l.get_number_array("na"), Some([1u64, 2].as_slice()));
    assert_eq!(l.get_string_array("sa").unwrap()[1], b"y");
    assert_eq!(l.get_nvlist("child").unwrap().get_number("c"), Some(1));
    assert_eq!(l.get_nvlist_array("arr").unwrap().len(), 2);
    // Wrong type: None, and take leaves the pair alone.
    assert_eq!(l.get_number("s"), None);
    assert_eq!(l.take_number("s"), None);
    assert!(l.contains("s"));
    assert!(l.contains_type("s", Type::String));
    assert!(!l.contains_type("s", Type::Number));

    assert_eq!(l.take_string("s"), Some(b"hello".to_vec()));
    assert!(!l.contains("s"));
    assert!(l.remove("n"));
    assert!(!l.remove("n"));
    assert!(matches!(l.take("num"), Some(Value::Number(u64::MAX))));
    assert_eq!(l.len(), 8);
    let child = l.take_nvlist("child").unwrap();
    // A detached child packs as a root (C would abort packing it in place).
    let packed = child.pack().unwrap();
    assert_eq!(NvList::unpack(&packed, Flags::NONE).unwrap(), child);
}

#[test]
fn names_are_unique_unless_no_unique() {
    let mut l = NvList::new();
    l.add_number("a", 1).unwrap();
    let e = l.add_string("a", "x").unwrap_err();
    assert!(matches!(e, Error::Exists(_)));
    assert_eq!(e.errno(), Some(libc::EEXIST));
    assert_eq!(l.len(), 1, "a failed add leaves the list unchanged");
    l.add_number("A", 2).unwrap(); // case matters without IGNORE_CASE

    let mut m = NvList::with_flags(Flags::NO_UNIQUE);
    m.add_number("d", 1).unwrap();
    m.add_number("d", 2).unwrap();
    assert_eq!(m.get_number("d"), Some(1), "first match");
    assert_eq!(m.get_all(b"d").count(), 2);
    assert_eq!(m.take_number("d"), Some(1));
    assert_eq!(m.get_number("d"), Some(2), "after take, the second");
}

#[test]
fn ignore_case_folds_ascii_only() {
    let mut l = NvList::with_flags(Flags::IGNORE_CASE);
    l.add_number("Key", 1).unwrap();
    assert!(l.exists("KEY"));
    assert_eq!(l.get_number("kEy"), Some(1));
    assert!(matches!(l.add_number("KEY", 2), Err(Error::Exists(_))));
    // Non-ASCII letters are not folded (C locale strcasecmp).
    l.add_number("Ä", 1).unwrap();
    l.add_number("ä", 2).unwrap();
    let both = NvList::with_flags(Flags::IGNORE_CASE | Flags::NO_UNIQUE);
    assert!(both.flags().ignore_case() && both.flags().no_unique());
}

#[test]
fn bad_names_strings_and_empty_values_are_refused() {
    let mut l = NvList::new();
    let long = "x".repeat(2048);
    let e = l.add_null(&long).unwrap_err();
    assert!(matches!(e, Error::NameTooLong(2048)));
    assert_eq!(e.errno(), Some(libc::ENAMETOOLONG));
    l.add_null("x".repeat(2047)).unwrap();
    l.add_null("").unwrap(); // the empty name is legal
    assert!(matches!(
        l.add_null(b"a\0b".as_slice()),
        Err(Error::NameHasNul)
    ));
    assert!(matches!(
        l.add_string("s", "a\0b"),
        Err(Error::StringHasNul(_))
    ));
    assert!(matches!(
        l.add_string_array("sa", ["ok", "a\0"]),
        Err(Error::StringHasNul(_))
    ));
    for r in [
        l.add_binary("b", []),
        l.add_bool_array("ba", &[]),
        l.add_number_array("na", &[]),
        l.add_string_array("sa", Vec::<&str>::new()),
        l.add_nvlist_array("la", vec![]),
        l.add_descriptor_array("da", &[]),
        l.move_descriptor_array("da", vec![]),
    ] {
        assert!(matches!(r, Err(Error::Empty { .. })), "{r:?}");
    }
    l.add_string("empty", "").unwrap(); // empty strings are fine
    assert_eq!(l.len(), 3);
}

fn pipe() -> (OwnedFd, OwnedFd) {
    let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).unwrap();
    (r, w)
}

#[test]
fn descriptors_are_duplicated_and_cloned() {
    let (r, w) = pipe();
    let mut l = NvList::new();
    l.add_descriptor("w", w.as_fd()).unwrap();
    drop(w);
    let copy = l.try_clone().unwrap();
    assert_ne!(
        format!("{:?}", l.get_descriptor("w").unwrap()),
        format!("{:?}", copy.get_descriptor("w").unwrap()),
        "clone dups"
    );
    let flags = nix::fcntl::fcntl(copy.get_descriptor("w").unwrap(), nix::fcntl::F_GETFD).unwrap();
    assert_ne!(flags & libc::FD_CLOEXEC, 0);
    // pack refuses descriptors, like C (EOPNOTSUPP).
    let e = l.pack().unwrap_err();
    assert_eq!(e.errno(), Some(libc::EOPNOTSUPP));
    let mut writer = std::fs::File::from(copy.try_clone().unwrap().take_descriptor("w").unwrap());
    writer.write_all(b"hi").unwrap();
    drop(writer);
    drop(l);
    drop(copy);
    let mut s = String::new();
    std::fs::File::from(r).read_to_string(&mut s).unwrap();
    assert_eq!(s, "hi", "all write ends closed: EOF reached");
}

#[test]
fn packing_into_a_reused_vector_appends() {
    let mut l = NvList::with_flags(Flags::IGNORE_CASE);
    l.add_string("k", "v").unwrap();
    let mut buf = b"prefix".to_vec();
    let n = l.pack_into(&mut buf).unwrap();
    assert_eq!(&buf[..6], b"prefix");
    assert_eq!(n, buf.len() - 6);
    assert_eq!(NvList::unpack(&buf[6..], Flags::IGNORE_CASE).unwrap(), l);
    // C's EILSEQ rule, and the relaxed variant.
    let e = NvList::unpack(&buf[6..], Flags::NONE).unwrap_err();
    assert_eq!(e.errno(), Some(libc::EILSEQ));
    assert_eq!(
        NvList::unpack_any(&buf[6..]).unwrap().flags(),
        Flags::IGNORE_CASE
    );
    // Big endian packing carries 0x80 and decodes back.
    let be = l.pack_with_order(ByteOrder::Big).unwrap();
    assert_eq!(be[2], 0x81);
    assert_eq!(NvList::unpack_any(&be).unwrap(), l);
}

#[test]
fn writer_misuse_is_an_error_and_leaves_no_bytes() {
    let mut buf = vec![9u8];
    {
        let mut w = NvWriter::new(&mut buf, Flags::NONE);
        assert!(w.end_nvlist().is_err());
        assert!(w.end_element().is_err());
        assert!(w.begin_element(Flags::NONE).is_err());
        w.begin_nvlist_array("a").unwrap();
        assert!(w.add_number("x", 1).is_err(), "no pairs between elements");
        assert!(matches!(w.end_nvlist_array(), Err(Error::Empty { .. })));
        w.begin_nvlist("c", Flags::NONE).unwrap();
        assert!(w.end_element().is_err());
        assert!(w.add_descriptor("fd", 0).is_err(), "no fd sink");
        // dropped unfinished
    }
    assert_eq!(buf, vec![9u8]);
    let mut w = NvWriter::new(&mut buf, Flags::NONE);
    w.begin_nvlist("c", Flags::NONE).unwrap();
    assert!(w.add_null("x").is_ok());
    // finish with an open list fails (and the writer, consumed, truncates)
    assert!(w.finish().is_err());
    assert_eq!(buf, vec![9u8]);
}

#[test]
fn view_reads_without_copying() {
    let mut l = NvList::new();
    l.add_string("ipc:method", "status").unwrap();
    l.add_number("ipc:id", 3).unwrap();
    let mut svc = NvList::new();
    svc.add_string("name", "sshd").unwrap();
    svc.add_number_array("pids", &[1, 2, 3]).unwrap();
    l.add_nvlist_array("services", vec![svc.try_clone().unwrap(), svc])
        .unwrap();
    l.add_string_array("names", ["a", "", "c"]).unwrap();
    let bytes = l.pack().unwrap();
    let v = NvView::new(&bytes).unwrap();
    assert_eq!(v.get_str("ipc:method"), Some("status"));
    assert_eq!(v.get_number("ipc:id"), Some(3));
    assert_eq!(v.len(), 4);
    let arr = v.get_nvlist_array("services").unwrap();
    assert_eq!(arr.len(), 2);
    for e in arr.iter() {
        assert_eq!(e.get_str("name"), Some("sshd"));
        assert_eq!(e.get_number_array("pids").unwrap().iter().sum::<u64>(), 6);
    }
    let names: Vec<&[u8]> = v.get_string_array("names").unwrap().iter().collect();
    assert_eq!(names, vec![b"a".as_slice(), b"", b"c"]);
    assert_eq!(v.to_owned_list().unwrap(), l);
}
