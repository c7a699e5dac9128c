//! Pack / unpack throughput of a 20-pair request and a 1000-entry status list, owned and
//! borrowed/writer paths. Not a test: prints a markdown table.
//!
//! `cargo bench -p libnv --bench libnv` (set `LIBNV_BENCH_SECS` to change the time per row).

use std::hint::black_box;
use std::time::{Duration, Instant};

use libnv::{Flags, NvList, NvView, NvWriter, ValueRef};

const STATES: [&str; 4] = ["running", "ready", "down", "backoff"];

fn request() -> NvList {
    let mut l = NvList::new();
    l.add_number("ipc:version", 1).unwrap();
    l.add_number("ipc:id", 4242).unwrap();
    l.add_string("ipc:method", "restart").unwrap();
    l.add_bool("ipc:reply", false).unwrap();
    l.add_string_array("names", ["sshd", "cron", "getty@tty1", "nginx"])
        .unwrap();
    l.add_bool("wait", true).unwrap();
    l.add_number("timeout_ms", 30_000).unwrap();
    l.add_string("target", "multi-user").unwrap();
    for i in 0..11 {
        l.add_number(format!("arg{i}"), i * 1000).unwrap();
    }
    let mut opts = NvList::new();
    opts.add_string("signal", "TERM").unwrap();
    l.add_nvlist("options", opts).unwrap();
    assert_eq!(l.len(), 20);
    l
}

fn write_request(w: &mut NvWriter<'_>) -> libnv::Result<()> {
    w.add_number("ipc:version", 1)?;
    w.add_number("ipc:id", 4242)?;
    w.add_string("ipc:method", "restart")?;
    w.add_bool("ipc:reply", false)?;
    w.add_string_array("names", ["sshd", "cron", "getty@tty1", "nginx"])?;
    w.add_bool("wait", true)?;
    w.add_number("timeout_ms", 30_000)?;
    w.add_string("target", "multi-user")?;
    const ARGS: [&str; 11] = [
        "arg0", "arg1", "arg2", "arg3", "arg4", "arg5", "arg6", "arg7", "arg8", "arg9", "arg10",
    ];
    for (i, name) in ARGS.iter().enumerate() {
        w.add_number(name, i as u64 * 1000)?;
    }
    w.begin_nvlist("options", Flags::NONE)?;
    w.add_string("signal", "TERM")?;
    w.end_nvlist()
}

fn service_name(i: usize, out: &mut String) {
    use std::fmt::Write;
    out.clear();
    let _ = write!(out, "service-{i:04}");
}

fn status() -> NvList {
    let mut l = NvList::new();
    l.add_number("ipc:id", 1).unwrap();
    l.add_bool("ipc:reply", true).unwrap();
    let mut name = String::new();
    let services = (0..1000)
        .map(|i| {
            service_name(i, &mut name);
            let mut s = NvList::new();
            s.add_string("name", &name).unwrap();
            s.add_string("state", STATES[i % 4]).unwrap();
            s.add_number("pid", 1000 + i as u64).unwrap();
            s.add_number("since", 1_700_000_000 + i as u64).unwrap();
            s.add_number("restarts", (i % 7) as u64).unwrap();
            s.add_number("exit_status", 0).unwrap();
            s.add_number("signal", 0).unwrap();
            s.add_string("wanted", "up").unwrap();
            s
        })
        .collect();
    l.add_nvlist_array("services", services).unwrap();
    l
}

fn write_status(w: &mut NvWriter<'_>, name: &mut String) -> libnv::Result<()> {
    w.add_number("ipc:id", 1)?;
    w.add_bool("ipc:reply", true)?;
    w.begin_nvlist_array("services")?;
    for i in 0..1000 {
        service_name(i, name);
        w.begin_element(Flags::NONE)?;
        w.add_string("name", name.as_str())?;
        w.add_string("state", STATES[i % 4])?;
        w.add_number("pid", 1000 + i as u64)?;
        w.add_number("since", 1_700_000_000 + i as u64)?;
        w.add_number("restarts", (i % 7) as u64)?;
        w.add_number("exit_status", 0)?;
        w.add_number("signal", 0)?;
        w.add_string("wanted", "up")?;
        w.end_element()?;
    }
    w.end_nvlist_array()
}

/// Reads every value of a view (what a consumer would do), returning a checksum.
fn read_all(v: &NvView<'_>) -> u64 {
    let mut sum = 0u64;
    for p in v.iter() {
        sum += p.name.len() as u64;
        match p.value {
            ValueRef::Number(n) => sum = sum.wrapping_add(n),
            ValueRef::String(s) => sum += s.len() as u64,
            ValueRef::NvList(c) => sum += read_all(&c),
            ValueRef::NvListArray(a) => {
                for e in a.iter() {
                    sum += read_all(&e);
                }
            }
            ValueRef::StringArray(a) => sum += a.iter().count() as u64,
            _ => sum += 1,
        }
    }
    sum
}

fn measure(secs: f64, mut f: impl FnMut()) -> f64 {
    // Warm up, then run batches until the time is spent.
    for _ in 0..3 {
        f();
    }
    let budget = Duration::from_secs_f64(secs);
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < budget {
        for _ in 0..8 {
            f();
        }
        n += 8;
    }
    n as f64 / start.elapsed().as_secs_f64()
}

fn main() {
    let secs: f64 = std::env::var("LIBNV_BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0.5);
    let mut rows = Vec::new();
    for (case, list, writer) in [
        (
            "request (20 pairs)",
            request(),
            &(|w: &mut NvWriter<'_>, _: &mut String| write_request(w))
                as &dyn Fn(&mut NvWriter<'_>, &mut String) -> libnv::Result<()>,
        ),
        ("status (1000 services)", status(), &write_status),
    ] {
        let bytes = list.pack().unwrap();
        let size = bytes.len();
        let mut buf = Vec::with_capacity(size);
        let mut name = String::with_capacity(32);
        // The writer produces exactly the owned packing.
        writer(&mut NvWriter::new(&mut buf, Flags::NONE), &mut name).ok();
        buf.clear();
        {
            let mut w = NvWriter::new(&mut buf, Flags::NONE);
            writer(&mut w, &mut name).unwrap();
            w.finish().unwrap();
        }
        assert_eq!(buf, bytes, "{case}: writer and owned packing differ");

        let pack_owned = measure(secs, || {
            black_box(list.pack().unwrap());
        });
        let pack_into = measure(secs, || {
            buf.clear();
            black_box(list.pack_into(&mut buf).unwrap());
        });
        let pack_writer = measure(secs, || {
            buf.clear();
            let mut w = NvWriter::new(&mut buf, Flags::NONE);
            writer(&mut w, &mut name).unwrap();
            black_box(w.finish().unwrap());
        });
        let unpack_owned = measure(secs, || {
            black_box(NvList::unpack(&bytes, Flags::NONE).unwrap());
        });
        let view_validate = measure(secs, || {
            black_box(NvView::new(&bytes).unwrap());
        });
        let view_read = measure(secs, || {
            black_box(read_all(&NvView::new(black_box(&bytes)).unwrap()));
        });
        for (path, ops) in [
            ("pack, owned (`pack`, new Vec)", pack_owned),
            ("pack, owned (`pack_into`, reused Vec)", pack_into),
            ("pack, streaming `NvWriter`", pack_writer),
            ("unpack, owned (`unpack`)", unpack_owned),
            ("unpack, borrowed (`NvView::new`)", view_validate),
            ("unpack, borrowed + read every value", view_read),
        ] {
            rows.push((case, size, path, ops));
        }
    }
    println!("| message | bytes | path | ops/s | MB/s |");
    println!("|---|---:|---|---:|---:|");
    for (case, size, path, ops) in rows {
        println!(
            "| {case} | {size} | {path} | {ops:.0} | {:.0} |",
            ops * size as f64 / 1e6
        );
    }
}
