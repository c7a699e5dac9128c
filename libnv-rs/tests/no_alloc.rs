//! The zero-allocation paths really allocate nothing: the writer, `pack_into`, view
//! validation and reading, the incremental receiver and the sender's writer path.
//! A counting global allocator, armed per thread, in a test binary of its own.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::io::Write;
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicUsize, Ordering};

use libnv::{
    ByteOrder, Flags, NvList, NvReceiver, NvSender, NvView, NvWriter, RecvStatus, UnpackOptions,
    ValueRef,
};

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);
thread_local! {
    static ARMED: Cell<bool> = const { Cell::new(false) };
}

fn note() {
    if ARMED.with(Cell::get) {
        ALLOCATIONS.fetch_add(1, Ordering::SeqCst);
    }
}

// SAFETY: forwards every call to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note();
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note();
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note();
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations_in<R>(f: impl FnOnce() -> R) -> (R, usize) {
    let before = ALLOCATIONS.load(Ordering::SeqCst);
    ARMED.with(|a| a.set(true));
    let r = f();
    ARMED.with(|a| a.set(false));
    (r, ALLOCATIONS.load(Ordering::SeqCst) - before)
}

fn write_request(w: &mut NvWriter<'_>, id: u64) -> libnv::Result<()> {
    w.add_number("ipc:version", 1)?;
    w.add_number("ipc:id", id)?;
    w.add_string("ipc:method", "status")?;
    w.add_bool("ipc:reply", false)?;
    w.add_string_array("names", ["sshd", "cron", "getty@tty1"])?;
    w.add_number_array("pids", &[1, 2, 3])?;
    w.add_binary("blob", [1u8, 2, 3])?;
    w.add_null("flag")?;
    w.begin_nvlist("args", Flags::IGNORE_CASE)?;
    w.add_string("Mode", "fast")?;
    w.end_nvlist()?;
    w.begin_nvlist_array("services")?;
    for i in 0..3 {
        w.begin_element(Flags::NONE)?;
        w.add_number("i", i)?;
        w.add_string("state", "running")?;
        w.end_element()?;
    }
    w.end_nvlist_array()
}

fn read_request(v: &NvView<'_>) -> u64 {
    let mut sum = v.get_number("ipc:id").unwrap();
    assert_eq!(v.get_str("ipc:method"), Some("status"));
    assert_eq!(v.get_bool("ipc:reply"), Some(false));
    assert_eq!(v.get_nvlist("args").unwrap().get_str("MODE"), Some("fast"));
    sum += v
        .get_string_array("names")
        .unwrap()
        .iter()
        .map(|s| s.len() as u64)
        .sum::<u64>();
    sum += v.get_number_array("pids").unwrap().iter().sum::<u64>();
    for e in v.get_nvlist_array("services").unwrap().iter() {
        sum += e.get_number("i").unwrap();
        assert_eq!(e.get_str("state"), Some("running"));
    }
    for p in v.iter() {
        if let ValueRef::Binary(b) = p.value {
            sum += b.len() as u64;
        }
    }
    sum
}

#[test]
fn hot_paths_do_not_allocate() {
    // The counter works.
    let (v, n) = allocations_in(|| Vec::<u8>::with_capacity(10));
    assert!(n >= 1 && v.capacity() >= 10);

    // Writer into a vector with room.
    let mut buf = Vec::with_capacity(4096);
    let (len, n) = allocations_in(|| {
        let mut w = NvWriter::new(&mut buf, Flags::NONE);
        write_request(&mut w, 9).unwrap();
        w.finish().unwrap()
    });
    assert_eq!(n, 0, "writer allocated");
    assert_eq!(len, buf.len());

    // The same through an owned list: pack_into reuses the vector.
    let owned = NvList::unpack_any(&buf).unwrap();
    let mut again = Vec::with_capacity(4096);
    let (_, n) = allocations_in(|| owned.pack_into(&mut again).unwrap());
    assert_eq!(n, 0, "pack_into allocated");
    assert_eq!(again, buf);
    let be = owned.pack_with_order(ByteOrder::Big).unwrap();

    // View: validation and reads, both byte orders.
    let (sums, n) = allocations_in(|| {
        let a = read_request(&NvView::new(&buf).unwrap());
        let b = read_request(&NvView::parse(&be, 0, &UnpackOptions::exact(Flags::NONE)).unwrap());
        (a, b)
    });
    assert_eq!(n, 0, "view allocated");
    assert_eq!(sums.0, sums.1);

    // Big lists use the duplicate-name hash table: on the stack, or in a Scratch.
    let mut big = NvList::new();
    for i in 0..300 {
        big.add_number(format!("key{i}"), i).unwrap();
    }
    let big = big.pack().unwrap();
    let mut scratch = libnv::Scratch::new(&libnv::Limits::default());
    let (count, n) = allocations_in(|| {
        let a = NvView::new(&big).unwrap().iter().count();
        let b = NvView::parse_with(&big, 0, &UnpackOptions::default(), &mut scratch)
            .unwrap()
            .iter()
            .count();
        a + b
    });
    assert_eq!(n, 0, "big-list validation allocated");
    assert_eq!(count, 600);

    // Incremental receiver over a real socket, with descriptors.
    let (a, b) = UnixStream::pair().unwrap();
    b.set_nonblocking(true).unwrap();
    let mut with_fds = NvList::new();
    with_fds.add_number("ipc:id", 1).unwrap();
    with_fds
        .add_descriptor("out", std::io::stdout().as_fd())
        .unwrap();
    with_fds
        .add_descriptor_array("more", &[std::io::stderr().as_fd()])
        .unwrap();
    let mut rx = NvReceiver::new(UnpackOptions::default());
    for round in 0..3 {
        with_fds.send(&a).unwrap();
        (&a).write_all(&buf).unwrap();
        (&a).write_all(&big).unwrap();
        let (count, n) = allocations_in(|| {
            let mut count = 0;
            while let RecvStatus::Data(_) = rx.recv_from(&b).unwrap() {
                while let Some(mut m) = rx.next_message().unwrap() {
                    if let Some(i) = m.view().get_descriptor("out") {
                        let fd = m.take_fd(i).unwrap();
                        assert!(fd.as_raw_fd() > 2);
                    } else if m.view().contains("key0") {
                        assert_eq!(m.view().get_number("key299"), Some(299));
                    } else {
                        read_request(&m.view());
                    }
                    count += 1;
                }
            }
            count
        });
        assert_eq!(n, 0, "receiver allocated in round {round}");
        assert_eq!(count, 3);
    }

    // Sender: writer path into its reused buffer.
    let mut tx = NvSender::with_capacity(8192);
    let (c, d) = UnixStream::pair().unwrap();
    for round in 0..3 {
        let (_, n) = allocations_in(|| {
            tx.queue_with(Flags::NONE, |w| write_request(w, round))
                .unwrap();
            assert!(tx.flush(&c).unwrap());
        });
        assert_eq!(n, 0, "sender allocated in round {round}");
        let got = NvList::recv(&d, &UnpackOptions::default()).unwrap();
        assert_eq!(got.get_number("ipc:id"), Some(round));
    }
}
