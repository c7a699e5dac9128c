//! Start-up overhead of svc-init as an entrypoint: `svc-init -- /bin/true`
//! against `/bin/true` alone and the peers users would otherwise pick
//! (tini, tini-static, catatonit, dumb-init, when installed), N runs each,
//! directly and as PID 1 of a PID+mount namespace. Median wall time per run and the
//! overhead over /bin/true. A benchmark, not a test: nothing is asserted.
//!
//!     cargo bench -p svc-init --bench startup            # 1000 runs
//!     SVC_BENCH_RUNS=200 cargo bench -p svc-init --bench startup
//!     SVC_BENCH_SVC_INIT=path/to/svc-init cargo bench …     # another build

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Wall time of one run, or None if it could not run or failed.
fn time_run(argv: &[&str]) -> Option<Duration> {
    let start = Instant::now();
    let status = Command::new(argv[0])
        .args(&argv[1..])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .ok()?;
    let took = start.elapsed();
    status.success().then_some(took)
}

/// Median per subject. Runs are interleaved (one of each, N times) so that
/// a change in the machine's load weighs on every subject alike.
fn medians(subjects: &[Vec<&str>], runs: usize) -> Vec<Option<Duration>> {
    let mut times: Vec<Option<Vec<Duration>>> = subjects
        .iter()
        .map(|_| Some(Vec::with_capacity(runs)))
        .collect();
    for _ in 0..runs {
        for (argv, t) in subjects.iter().zip(times.iter_mut()) {
            if let Some(list) = t {
                match time_run(argv) {
                    Some(d) => list.push(d),
                    None => {
                        eprintln!("{argv:?} failed");
                        *t = None;
                    }
                }
            }
        }
    }
    times
        .into_iter()
        .map(|t| {
            let mut t = t?;
            t.sort_unstable();
            Some(t[t.len() / 2])
        })
        .collect()
}

fn installed(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(program).is_file()))
}

fn main() {
    let runs: usize = std::env::var("SVC_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    // SVC_BENCH_SVC_INIT: another build to measure (e.g. a static one).
    let chosen = std::env::var("SVC_BENCH_SVC_INIT").ok();
    let svc_init = chosen.as_deref().unwrap_or(env!("CARGO_BIN_EXE_svc-init"));
    let mut subjects: Vec<(&str, Vec<&str>)> = vec![
        ("/bin/true", vec!["/bin/true"]),
        ("svc-init", vec![svc_init, "--", "/bin/true"]),
    ];
    // Each in its quiet, subreaper-when-not-PID-1 mode, like svc-init.
    if installed("tini") {
        subjects.push(("tini -s", vec!["tini", "-s", "--", "/bin/true"]));
    }
    // Debian's tini package also ships a static build: like catatonit and
    // the shipped svc-init, static glibc.
    if installed("tini-static") {
        subjects.push(("tini-static", vec!["tini-static", "-s", "--", "/bin/true"]));
    }
    if installed("catatonit") {
        subjects.push(("catatonit", vec!["catatonit", "--", "/bin/true"]));
    }
    if installed("dumb-init") {
        subjects.push(("dumb-init", vec!["dumb-init", "/bin/true"]));
    }
    // SAFETY: geteuid cannot fail.
    let root = unsafe { libc::geteuid() } == 0;
    // Always with --mount: a PID 1 without its own mount namespace would
    // mount what it finds missing on the host.
    let unshare = [
        "unshare",
        "--pid",
        "--fork",
        "--kill-child",
        "--mount",
        "--mount-proc",
    ];
    println!("{runs} runs each; median wall time per run (overhead over /bin/true)");
    for (mode, prefix) in [
        ("direct", &[][..]),
        ("PID 1 of a PID namespace", &unshare[..]),
    ] {
        if !prefix.is_empty() && !root {
            println!("\n{mode}: skipped (needs root)");
            continue;
        }
        println!("\n{mode}:");
        let full: Vec<Vec<&str>> = subjects
            .iter()
            .map(|(_, argv)| prefix.iter().chain(argv.iter()).copied().collect())
            .collect();
        let results = medians(&full, runs);
        let base = results[0];
        for ((name, _), median) in subjects.iter().zip(results) {
            let (Some(median), Some(base)) = (median, base) else {
                println!("  {name:<12} failed");
                continue;
            };
            let over = median.as_secs_f64() - base.as_secs_f64();
            println!(
                "  {name:<12} {:>8.3} ms  ({:+.3} ms)",
                median.as_secs_f64() * 1e3,
                over * 1e3
            );
        }
    }
}
