//! Property tests: random lists round-trip through pack/unpack in both byte orders, through
//! the borrowed view, through the streaming writer (same bytes), and through a socketpair
//! with real descriptors.

use std::io::Read;
use std::os::fd::{AsFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;

use libnv::{ByteOrder, Flags, NvList, NvView, NvWriter, UnpackOptions, Value, ValueRef};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum V {
    Null,
    Bool(bool),
    Num(u64),
    Str(Vec<u8>),
    List(L),
    Bin(Vec<u8>),
    BoolA(Vec<bool>),
    NumA(Vec<u64>),
    StrA(Vec<Vec<u8>>),
    ListA(Vec<L>),
    Fd,
    FdA(usize),
}

#[derive(Debug, Clone)]
struct L {
    flags: u8,
    pairs: Vec<(Vec<u8>, V)>,
}

fn bytes_no_nul(max: usize) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(1u8..=255, 0..max)
}

fn make_list(flags: u8, raw: Vec<(Vec<u8>, V)>) -> L {
    let f = Flags::from_bits(flags).unwrap();
    let mut seen: Vec<Vec<u8>> = Vec::new();
    let mut pairs = Vec::new();
    for (name, v) in raw {
        let key = if f.ignore_case() {
            name.to_ascii_lowercase()
        } else {
            name.clone()
        };
        if !f.no_unique() && seen.contains(&key) {
            continue;
        }
        seen.push(key);
        pairs.push((name, v));
    }
    L { flags, pairs }
}

fn list_strategy(with_fds: bool) -> impl Strategy<Value = L> {
    let leaf = prop_oneof![
        Just(V::Null),
        any::<bool>().prop_map(V::Bool),
        any::<u64>().prop_map(V::Num),
        bytes_no_nul(12).prop_map(V::Str),
        prop::collection::vec(any::<u8>(), 1..20).prop_map(V::Bin),
        prop::collection::vec(any::<bool>(), 1..5).prop_map(V::BoolA),
        prop::collection::vec(any::<u64>(), 1..5).prop_map(V::NumA),
        prop::collection::vec(bytes_no_nul(6), 1..4).prop_map(V::StrA),
        if with_fds {
            Just(V::Fd).boxed()
        } else {
            Just(V::Null).boxed()
        },
        if with_fds {
            (1usize..4).prop_map(V::FdA).boxed()
        } else {
            Just(V::Num(7)).boxed()
        },
    ];
    let value = leaf.prop_recursive(3, 48, 5, |inner| {
        let list = (
            0u8..4,
            prop::collection::vec((bytes_no_nul(5), inner), 0..5),
        )
            .prop_map(|(f, p)| make_list(f, p))
            .boxed();
        prop_oneof![
            list.clone().prop_map(V::List),
            prop::collection::vec(list, 1..3).prop_map(V::ListA),
        ]
    });
    (
        0u8..4,
        prop::collection::vec((bytes_no_nul(5), value), 0..8),
    )
        .prop_map(|(f, p)| make_list(f, p))
}

/// Builds the owned list; descriptors are pipe write ends, whose read ends are returned in
/// depth-first order.
fn build(spec: &L, readers: &mut Vec<OwnedFd>) -> NvList {
    let mut l = NvList::with_flags(Flags::from_bits(spec.flags).unwrap());
    let pipe = |readers: &mut Vec<OwnedFd>| {
        let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).unwrap();
        readers.push(r);
        w
    };
    for (name, v) in &spec.pairs {
        let value = match v {
            V::Null => Value::Null,
            V::Bool(b) => Value::Bool(*b),
            V::Num(n) => Value::Number(*n),
            V::Str(s) => Value::String(s.clone()),
            V::List(c) => Value::NvList(build(c, readers)),
            V::Bin(b) => Value::Binary(b.clone()),
            V::BoolA(a) => Value::BoolArray(a.clone()),
            V::NumA(a) => Value::NumberArray(a.clone()),
            V::StrA(a) => Value::StringArray(a.clone()),
            V::ListA(a) => Value::NvListArray(a.iter().map(|c| build(c, readers)).collect()),
            V::Fd => Value::Descriptor(pipe(readers)),
            V::FdA(n) => Value::DescriptorArray((0..*n).map(|_| pipe(readers)).collect()),
        };
        l.add(name, value).unwrap();
    }
    l
}

/// Writes the spec through the streaming writer (fake descriptor numbers: only indices
/// reach the bytes).
fn write(w: &mut NvWriter<'_>, spec: &L) {
    for (name, v) in &spec.pairs {
        match v {
            V::Null => w.add_null(name).unwrap(),
            V::Bool(b) => w.add_bool(name, *b).unwrap(),
            V::Num(n) => w.add_number(name, *n).unwrap(),
            V::Str(s) => w.add_string(name, s).unwrap(),
            V::List(c) => {
                w.begin_nvlist(name, Flags::from_bits(c.flags).unwrap())
                    .unwrap();
                write(w, c);
                w.end_nvlist().unwrap();
            }
            V::Bin(b) => w.add_binary(name, b).unwrap(),
            V::BoolA(a) => w.add_bool_array(name, a).unwrap(),
            V::NumA(a) => w.add_number_array(name, a).unwrap(),
            V::StrA(a) => w.add_string_array(name, a).unwrap(),
            V::ListA(a) => {
                w.begin_nvlist_array(name).unwrap();
                for c in a {
                    w.begin_element(Flags::from_bits(c.flags).unwrap()).unwrap();
                    write(w, c);
                    w.end_element().unwrap();
                }
                w.end_nvlist_array().unwrap();
            }
            V::Fd => w.add_descriptor(name, 1000).unwrap(),
            V::FdA(n) => w
                .add_descriptor_array(name, &vec![1000 as RawFd; *n])
                .unwrap(),
        }
    }
}

/// Checks a view against the spec; `next_fd` counts descriptor indices depth-first.
fn check_view(view: &NvView<'_>, spec: &L, next_fd: &mut usize) {
    assert_eq!(view.flags().bits(), spec.flags);
    let pairs: Vec<_> = view.iter().collect();
    assert_eq!(pairs.len(), spec.pairs.len());
    for (p, (name, v)) in pairs.iter().zip(&spec.pairs) {
        assert_eq!(p.name, name.as_slice());
        match (&p.value, v) {
            (ValueRef::Null, V::Null) => {}
            (ValueRef::Bool(a), V::Bool(b)) => assert_eq!(a, b),
            (ValueRef::Number(a), V::Num(b)) => assert_eq!(a, b),
            (ValueRef::String(a), V::Str(b)) => assert_eq!(*a, b.as_slice()),
            (ValueRef::NvList(a), V::List(b)) => check_view(a, b, next_fd),
            (ValueRef::Binary(a), V::Bin(b)) => assert_eq!(*a, b.as_slice()),
            (ValueRef::BoolArray(a), V::BoolA(b)) => {
                assert_eq!(a.iter().collect::<Vec<_>>(), *b)
            }
            (ValueRef::NumberArray(a), V::NumA(b)) => {
                assert_eq!(a.iter().collect::<Vec<_>>(), *b)
            }
            (ValueRef::StringArray(a), V::StrA(b)) => {
                assert_eq!(a.iter().collect::<Vec<_>>(), *b)
            }
            (ValueRef::NvListArray(a), V::ListA(b)) => {
                assert_eq!(a.len(), b.len());
                for (x, y) in a.iter().zip(b) {
                    check_view(&x, y, next_fd);
                }
            }
            (ValueRef::Descriptor(i), V::Fd) => {
                assert_eq!(*i, *next_fd);
                *next_fd += 1;
            }
            (ValueRef::DescriptorArray(a), V::FdA(n)) => {
                assert_eq!(a.len(), *n);
                for i in a.iter() {
                    assert_eq!(i, *next_fd);
                    *next_fd += 1;
                }
            }
            (got, want) => panic!("type mismatch: {got:?} vs {want:?}"),
        }
    }
}

fn fake_fds(n: usize) -> Vec<OwnedFd> {
    (0..n)
        .map(|_| OwnedFd::from(std::fs::File::open("/dev/null").unwrap()))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn pack_unpack_view_and_writer_agree(spec in list_strategy(true)) {
        let mut readers = Vec::new();
        let list = build(&spec, &mut readers);
        let nfds = readers.len();
        prop_assert_eq!(list.descriptor_count(), nfds);
        for order in [ByteOrder::Little, ByteOrder::Big] {
            let mut bytes = Vec::new();
            let mut raw = Vec::new();
            list.pack_with_fds(&mut bytes, &mut raw, order).unwrap();
            prop_assert_eq!(raw.len(), nfds);
            if nfds == 0 {
                prop_assert_eq!(list.pack_with_order(order).unwrap(), bytes.clone());
                prop_assert_eq!(list.packed_size(), bytes.len());
            }

            // Writer: same bytes.
            let mut wbuf = Vec::new();
            let mut wfds = Vec::new();
            let mut w = NvWriter::with_fds(&mut wbuf, &mut wfds, Flags::from_bits(spec.flags).unwrap(), order);
            write(&mut w, &spec);
            w.finish().unwrap();
            prop_assert_eq!(&wbuf, &bytes);

            // View.
            let view = NvView::parse(&bytes, nfds, &UnpackOptions::default()).unwrap();
            let mut next = 0;
            check_view(&view, &spec, &mut next);
            prop_assert_eq!(next, nfds);

            // Owned unpack and repack.
            let back = NvList::unpack_with(&bytes, fake_fds(nfds), &UnpackOptions::default()).unwrap();
            let mut again = Vec::new();
            back.pack_with_fds(&mut again, &mut Vec::new(), order).unwrap();
            prop_assert_eq!(&again, &bytes);
            if nfds == 0 {
                prop_assert_eq!(&back, &list);
                let exact = NvList::unpack(&bytes, Flags::from_bits(spec.flags).unwrap()).unwrap();
                prop_assert_eq!(&exact, &list);
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    #[test]
    fn socketpair_round_trip_with_working_descriptors(spec in list_strategy(true)) {
        let mut readers = Vec::new();
        let list = build(&spec, &mut readers);
        let (a, b) = UnixStream::pair().unwrap();
        let sender = std::thread::spawn(move || {
            list.send(&a).unwrap();
            a
        });
        let got = NvList::recv(&b, &UnpackOptions::default()).unwrap();
        let _a = sender.join().unwrap();
        // Same content: repacking the received list gives the same bytes as the spec.
        let mut expect = Vec::new();
        let mut sink = Vec::new();
        let mut w = NvWriter::with_fds(&mut expect, &mut sink, Flags::from_bits(spec.flags).unwrap(), ByteOrder::native());
        write(&mut w, &spec);
        w.finish().unwrap();
        let mut bytes = Vec::new();
        let mut raw = Vec::new();
        got.pack_with_fds(&mut bytes, &mut raw, ByteOrder::native()).unwrap();
        prop_assert_eq!(bytes, expect);
        prop_assert_eq!(raw.len(), readers.len());
        // Each received descriptor is the write end of the matching pipe.
        for (i, fd) in raw.iter().enumerate() {
            // SAFETY: `got` owns `fd` and is alive.
            let fd = unsafe { std::os::fd::BorrowedFd::borrow_raw(*fd) };
            nix::unistd::write(fd, &[i as u8]).unwrap();
        }
        drop(got);
        for (i, r) in readers.into_iter().enumerate() {
            let mut byte = Vec::new();
            std::fs::File::from(r).read_to_end(&mut byte).unwrap();
            prop_assert_eq!(byte, vec![i as u8]);
        }
        let _ = b.as_fd();
    }
}
