//! Load and plan 1000 declarations of a realistic shape: a few targets,
//! layers of services that require and want the layer below, ordering
//! hints, virtual names, templates and enablement entries.
//!
//! `cargo bench -p libsvc --bench plan` prints the median of several runs
//! for each phase; the goal is under 20 ms for load + graph + plan.

use libsvc::graph::Graph;
use libsvc::load::{Layout, ServiceSet};
use nix::time::{ClockId, clock_gettime};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// CPU time of the process, all threads (loading reads and parses on
/// several): on a shared, loaded machine it says what the work costs,
/// where wall time also counts waiting for a core.
fn cpu_now() -> Duration {
    let t = clock_gettime(ClockId::CLOCK_PROCESS_CPUTIME_ID).expect("process CPU clock");
    Duration::new(t.tv_sec() as u64, t.tv_nsec() as u32)
}

const SERVICES: usize = 1000;
const RUNS: usize = 21;

struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// Layers: 40 base services (boot), 160 middle (each requires 2 base, one
/// of them through a virtual name), 780 applications (require 1-2 middle,
/// want 1 more, ordered after a neighbour), 20 getty-like instances.
fn generate(dir: &Path) -> Layout {
    let s = dir.join("services.d");
    let e = dir.join("enabled");
    write(&s.join("sysinit.ini"), "[target]\ndescription = sysinit\n");
    write(
        &s.join("boot.ini"),
        "[target]\n[dependencies]\nrequires = sysinit\n",
    );
    write(
        &s.join("network.ini"),
        "[target]\n[dependencies]\nrequires = boot\n",
    );
    write(
        &s.join("default.ini"),
        "[target]\n[dependencies]\nrequires = network\n",
    );
    write(
        &s.join("rescue.ini"),
        "[target]\n[dependencies]\nrequires = sysinit\n",
    );
    write(
        &s.join("tty@.ini"),
        "[service]\ndescription = tty %i\nexec = /sbin/getty 38400 /dev/%i\n[dependencies]\nafter = boot\n",
    );
    let mut count = 0;
    let base = 40;
    let middle = 160;
    let ttys = 20;
    let apps = SERVICES - base - middle - ttys;
    for i in 0..base {
        let provides = if i % 10 == 0 {
            format!("provides = virt{}\n", i / 10)
        } else {
            String::new()
        };
        write(
            &s.join(format!("base{i}.ini")),
            &format!(
                "[service]\ndescription = base {i}\nexec = /usr/sbin/base{i} --foreground\nstop-timeout = 5s\n\
                 [dependencies]\nafter = sysinit\nwanted-by = boot\n{provides}"
            ),
        );
        write(&e.join("boot").join(format!("base{i}")), "");
        count += 1;
    }
    for i in 0..middle {
        write(
            &s.join(format!("mid{i}.ini")),
            &format!(
                "[service]\nexec = /usr/bin/mid{i} -f\nready = notify-fd 3\nrestart = on-failure\n\
                 [dependencies]\nrequires = base{} virt{}\nafter = boot\n[logging]\nmax-size = 4M\n",
                i % base,
                i % 4
            ),
        );
        write(&e.join("network").join(format!("mid{i}")), "");
        count += 1;
    }
    for i in 0..apps {
        let after = if i > 0 {
            format!("after = app{}\n", i - 1)
        } else {
            String::new()
        };
        write(
            &s.join(format!("app{i}.ini")),
            &format!(
                "[service]\ndescription = application {i}\nexec = /usr/bin/app{i} --config /etc/app{i}.conf\n\
                 user = app\nready = check /usr/bin/probe app{i}\n[dependencies]\nrequires = mid{} mid{}\n\
                 wants = mid{}\n{after}wanted-by = default\n[environment]\nAPP = {i}\n",
                i % middle,
                (i * 7) % middle,
                (i * 13) % middle
            ),
        );
        write(&e.join("default").join(format!("app{i}")), "");
        count += 1;
    }
    for i in 0..ttys {
        write(&e.join("default").join(format!("tty@tty{i}")), "");
        count += 1;
    }
    assert_eq!(count, SERVICES);
    Layout {
        services: vec![s],
        enabled: Some(e),
    }
}

/// The floor for loading: list both directories and read every file.
fn read_everything(layout: &Layout) -> usize {
    let mut bytes = 0;
    let mut dirs: Vec<PathBuf> = layout.services.clone();
    dirs.extend(layout.enabled.clone());
    while let Some(d) = dirs.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let p = entry.unwrap().path();
            if p.is_dir() {
                dirs.push(p);
            } else {
                bytes += std::fs::read(&p).unwrap().len();
            }
        }
    }
    bytes
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let dir = TempDir(std::env::temp_dir().join(format!("libsvc-bench-{}", std::process::id())));
    let layout = generate(&dir.0);
    let (mut load, mut graph, mut plan, mut total) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut floor = Vec::new();
    let (mut cpu_floor, mut cpu_total) = (Vec::new(), Vec::new());
    let mut parse = Vec::new();
    let mut files: Vec<(String, PathBuf, Vec<u8>)> = Vec::new();
    for entry in std::fs::read_dir(&layout.services[0]).unwrap() {
        let p = entry.unwrap().path();
        let name = p.file_stem().unwrap().to_str().unwrap().to_string();
        let bytes = std::fs::read(&p).unwrap();
        files.push((name, p, bytes));
    }
    for _ in 0..RUNS {
        let c = cpu_now();
        let mut set = ServiceSet::default();
        for (name, path, bytes) in &files {
            set.add_bytes(name, path, bytes);
        }
        parse.push(cpu_now() - c);
        let (t, c) = (Instant::now(), cpu_now());
        assert!(read_everything(&layout) > 0);
        floor.push(t.elapsed());
        cpu_floor.push(cpu_now() - c);
        let c0 = cpu_now();
        let t0 = Instant::now();
        let set = ServiceSet::load(&layout);
        let t1 = Instant::now();
        let (g, diags) = Graph::build(&set);
        let t2 = Instant::now();
        let mut p = g.start_plan(&["default"]).expect("plan");
        // Drive the plan to the end, every service becoming ready.
        let mut pending = p.begin().start;
        let mut started = pending.len();
        while let Some(name) = pending.pop() {
            let step = p.ready(&name).expect("member");
            started += step.start.len();
            pending.extend(step.start);
        }
        let t3 = Instant::now();
        cpu_total.push(cpu_now() - c0);
        assert!(!set.has_errors() && diags.is_empty(), "{:?}", diags);
        assert!(p.is_done());
        assert_eq!(started, SERVICES);
        load.push(t1 - t0);
        graph.push(t2 - t1);
        plan.push(t3 - t2);
        total.push(t3 - t0);
    }
    println!("{SERVICES} declarations, median of {RUNS} runs:");
    println!("  floor (list dirs + read files):  {:>8.2?}", median(floor));
    println!("  load (read + parse + instances): {:>8.2?}", median(load));
    println!("  graph (edges + cycle check):     {:>8.2?}", median(graph));
    println!("  plan (build + drive to done):    {:>8.2?}", median(plan));
    println!("  total:                           {:>8.2?}", median(total));
    println!("CPU time of the process, all threads (what the work costs on a busy machine):");
    println!(
        "  floor (list dirs + read files):  {:>8.2?}",
        median(cpu_floor)
    );
    println!("  parse only (from memory):        {:>8.2?}", median(parse));
    println!(
        "  total (load + graph + plan):     {:>8.2?}",
        median(cpu_total)
    );
}
