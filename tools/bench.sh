#!/usr/bin/env bash
# make bench: run the project's benchmarks and measure the peers installed
# beside svc in the same run (runit, s6, tini, catatonit, dumb-init), then
# rewrite docs/benchmarks.md. Figures are medians and ratios taken in this
# run, peers interleaved with svc (design/performance.md). Nothing here is a
# test: no figure is asserted.
#
# Run as root (installs missing peers with apt-get, runs PID namespaces).
# Environment:
#   CARGO_TARGET_DIR  build directory (default: target-bench)
#   BENCH_QUICK=1     fewer repetitions, for trying the harness out
#   BENCH_OUT=FILE    where to write (default: docs/benchmarks.md)
#   BENCH_BOOTS=N     qemu boots of the boot-to-ready section (default 3)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target-bench}
CARGO=${CARGO:-cargo}
OUT=${BENCH_OUT:-$ROOT/docs/benchmarks.md}
HOST=x86_64-unknown-linux-gnu
MUSL=x86_64-unknown-linux-musl
STATIC_FLAGS="-C target-feature=+crt-static -C relocation-model=static"
# What `make` ships: musl when its standard library is installed, else glibc.
SHIPPED=$("$ROOT/tools/static-target.sh")
if [ "$SHIPPED" = "$MUSL" ]; then SHIPPED_LIBC=musl; else SHIPPED_LIBC=glibc; fi
TOOLS=$CARGO_TARGET_DIR/bench-tools
WORK=$(mktemp -d /tmp/svc-bench-sh.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

if [ "${BENCH_QUICK:-0}" = 1 ]; then
    N_MEM=20 RESTART_REPS=12 RESTART_INSTANCES=4 CONTROL_RUNS=100 STARTUP_RUNS=100
    LIBNV_SECS=0.1 MANAGER_ARGS=QUICK
else
    N_MEM=100 RESTART_REPS=60 RESTART_INSTANCES=12 CONTROL_RUNS=1000 STARTUP_RUNS=1000
    LIBNV_SECS=0.5 MANAGER_ARGS=
fi

T0=$(date +%s)
step() { printf '\n== [%4ss, load %s] %s\n' "$(( $(date +%s) - T0 ))" "$(load1)" "$*" >&2; }
load1() { cut -d' ' -f1 /proc/loadavg; }
# The 1-minute load average as each section starts, for the report.
declare -A LOAD_AT
have() { command -v "$1" >/dev/null 2>&1; }

# ------------------------------------------------------------------ peers
# runit without its Recommends: runit-run would hook runsvdir into the
# machine's inittab. Nothing here starts runsvdir or s6-svscan: each
# benchmark starts its own supervisors and kills them by pid.
step "peers"
missing=()
have runsv || missing+=(runit)
have s6-supervise || missing+=(s6)
have tini || missing+=(tini)
have catatonit || missing+=(catatonit)
have dumb-init || missing+=(dumb-init)
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && have apt-get; then
        echo "installing ${missing[*]}" >&2
        export DEBIAN_FRONTEND=noninteractive
        apt-get install -y -q --no-install-recommends "${missing[@]}" >&2 ||
            { apt-get update -q >&2 && apt-get install -y -q --no-install-recommends "${missing[@]}" >&2; } ||
            echo "could not install ${missing[*]}: measuring without them" >&2
    else
        echo "not root: measuring without ${missing[*]}" >&2
    fi
fi
peer_version() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null || echo "not installed"; }

# ------------------------------------------------------------------ machine
DATE=$(date -u '+%Y-%m-%d %H:%M UTC')
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
NPROC=$(nproc)
KERNEL=$(uname -r)
CPU=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
OS=$(. /etc/os-release && echo "$PRETTY_NAME")
RUSTC=$(rustc --version)

# ------------------------------------------------------------------ builds
step "building the static programs ($HOST, crt-static, non-PIE)"
# libnv/nvdump: the nvdump tool packs the status request below.
STATIC_PKGS=(-p svc-supervise -p svc-init -p libnv -p svc-manager -p svcctl --features libnv/nvdump)
RUSTFLAGS="$STATIC_FLAGS" $CARGO build -q --release --target $HOST "${STATIC_PKGS[@]}" --bins
GLIBC_DIR=$CARGO_TARGET_DIR/$HOST/release

MANAGER_BENCH=no
if ls svc-manager/benches/*.rs >/dev/null 2>&1; then MANAGER_BENCH=yes; fi
step "building dynamic release binaries"
DYN_PKGS=(-p svc-supervise)
[ $MANAGER_BENCH = yes ] && DYN_PKGS+=(-p svc-manager -p svcctl)
if ! $CARGO build -q --release "${DYN_PKGS[@]}" --bins 2>"$WORK/dyn-build.log"; then
    cat "$WORK/dyn-build.log" >&2
    if [ $MANAGER_BENCH = yes ]; then
        MANAGER_BENCH="no (svc-manager or svcctl does not build now)"
        $CARGO build -q --release -p svc-supervise --bins
    else
        exit 1
    fi
fi
DYN_DIR=$CARGO_TARGET_DIR/release

MUSL_STATE="target not installed (\`rustup target add $MUSL\` to measure it and ship it)"
if [ "$SHIPPED" = "$MUSL" ]; then
    step "building the static programs ($MUSL, non-PIE)"
    if RUSTFLAGS="$STATIC_FLAGS" $CARGO build -q --release --target $MUSL \
        "${STATIC_PKGS[@]}" --bins 2>"$WORK/musl-build.log"; then
        MUSL_STATE="built and shipped"
    else
        cat "$WORK/musl-build.log" >&2
        echo "the musl build failed: measuring the glibc build as shipped" >&2
        MUSL_STATE="target installed, but the build failed"
        SHIPPED=$HOST SHIPPED_LIBC=glibc
    fi
fi
MUSL_DIR=$CARGO_TARGET_DIR/$MUSL/release
MUSL_BUILT=no
[ "$MUSL_STATE" = "built and shipped" ] && MUSL_BUILT=yes
# The shipped build, and the other static one (measured for the record).
STATIC_DIR=$CARGO_TARGET_DIR/$SHIPPED/release

step "building the bench tools (tools/bench/*.rs, plain rustc)"
mkdir -p "$TOOLS"
RUSTC_LEAN=(rustc --edition 2024 -C opt-level=3 -C panic=abort -C codegen-units=1 -C lto=fat -C strip=symbols)
rustc --edition 2024 -O tools/bench/driver.rs -o "$TOOLS/driver"
"${RUSTC_LEAN[@]}" tools/bench/ctl.rs -o "$TOOLS/ctl-dynamic"
"${RUSTC_LEAN[@]}" $STATIC_FLAGS --target $HOST tools/bench/ctl.rs -o "$TOOLS/ctl-glibc"
CTL_CLIENTS=(--client "ctl (dynamic)=$TOOLS/ctl-dynamic" --client "ctl (static glibc)=$TOOLS/ctl-glibc")
if [ "$MUSL_BUILT" = yes ] &&
    "${RUSTC_LEAN[@]}" $STATIC_FLAGS --target $MUSL tools/bench/ctl.rs -o "$TOOLS/ctl-musl" 2>/dev/null; then
    CTL_CLIENTS+=(--client "ctl (static musl)=$TOOLS/ctl-musl")
fi
"${RUSTC_LEAN[@]}" $STATIC_FLAGS --target $HOST tools/bench/forkwait.rs -o "$TOOLS/forkwait-static"
FORKWAIT_MUSL=
if [ "$MUSL_BUILT" = yes ] &&
    "${RUSTC_LEAN[@]}" $STATIC_FLAGS --target $MUSL tools/bench/forkwait.rs -o "$TOOLS/forkwait-musl" 2>/dev/null; then
    FORKWAIT_MUSL=$TOOLS/forkwait-musl
fi
# Freshly written binaries not yet written back show their text pages as
# Private_Dirty in every process that maps them.
sync

# The status request: the protocol envelope, packed by nvdump.
cat >"$WORK/status.json" <<'EOF'
{"flags":0,"pairs":[
 {"name":"ipc:version","type":"NUMBER","type_code":3,"value":1},
 {"name":"ipc:id","type":"NUMBER","type_code":3,"value":7},
 {"name":"ipc:method","type":"STRING","type_code":4,"value":"status"},
 {"name":"ipc:reply","type":"BOOL","type_code":2,"value":false}]}
EOF
"$STATIC_DIR/nvdump" --encode "$WORK/status.json" >"$WORK/status.nv"

SHIPPED_LABEL="svc-supervise (static $SHIPPED_LIBC, shipped)"
SVC_STATIC="$SHIPPED_LABEL=svc:$STATIC_DIR/svc-supervise"
SVC_GLIBC="svc-supervise (static glibc)=svc:$GLIBC_DIR/svc-supervise"
SVC_DYN="svc-supervise (dynamic glibc PIE)=svc:$DYN_DIR/svc-supervise"
PEERS=()
have runsv && PEERS+=("runsv=runsv:$(command -v runsv)")
have s6-supervise && PEERS+=("s6-supervise=s6:$(command -v s6-supervise)")
SVCS=("$SVC_STATIC")
[ "$SHIPPED_LIBC" = musl ] && SVCS+=("$SVC_GLIBC")

# ------------------------------------------------------------------ runs
LOAD_AT[memory]=$(load1)
step "supervisor memory: $N_MEM services per supervisor kind"
MEM_SUBJECTS=("${SVCS[@]}" "$SVC_DYN" "forkwait (static glibc)=forkwait:$TOOLS/forkwait-static")
[ -n "$FORKWAIT_MUSL" ] && MEM_SUBJECTS+=("forkwait (static musl)=forkwait:$FORKWAIT_MUSL")
"$TOOLS/driver" memory --n "$N_MEM" --req "$WORK/status.nv" --detail \
    "${MEM_SUBJECTS[@]}" "${PEERS[@]}" >"$WORK/memory.md" ||
    echo "memory benchmark failed" >"$WORK/memory.md"

LOAD_AT[restart]=$(load1)
step "restart latency: $RESTART_REPS kills each, interleaved"
"$TOOLS/driver" restart --reps "$RESTART_REPS" --instances "$RESTART_INSTANCES" \
    "${SVCS[@]}" "${PEERS[@]}" >"$WORK/restart.md" ||
    echo "restart benchmark failed" >"$WORK/restart.md"

LOAD_AT[control]=$(load1)
step "control round trip: $CONTROL_RUNS runs each, interleaved"
"$TOOLS/driver" control --runs "$CONTROL_RUNS" --req "$WORK/status.nv" \
    "${CTL_CLIENTS[@]}" \
    "$SVC_STATIC" "${PEERS[@]}" >"$WORK/control.md" ||
    echo "control benchmark failed" >"$WORK/control.md"

LOAD_AT[libnv]=$(load1)
step "libnv: cargo bench -p libnv --bench libnv"
LIBNV_BENCH_SECS=$LIBNV_SECS $CARGO bench -q -p libnv --bench libnv >"$WORK/libnv.md" ||
    echo "libnv benchmark failed" >"$WORK/libnv.md"

LOAD_AT[plan]=$(load1)
step "plan: cargo bench -p libsvc --bench plan"
$CARGO bench -q -p libsvc --bench plan >"$WORK/plan.txt" ||
    echo "plan benchmark failed" >"$WORK/plan.txt"

LOAD_AT[startup]=$(load1)
step "entrypoint: cargo bench -p svc-init --bench startup (dynamic build)"
SVC_BENCH_RUNS=$STARTUP_RUNS $CARGO bench -q -p svc-init --bench startup >"$WORK/startup-dyn.txt" ||
    echo "startup benchmark failed" >"$WORK/startup-dyn.txt"
step "entrypoint: the same with the shipped static svc-init ($SHIPPED_LIBC)"
SVC_BENCH_RUNS=$STARTUP_RUNS SVC_BENCH_SVC_INIT=$STATIC_DIR/svc-init \
    $CARGO bench -q -p svc-init --bench startup >"$WORK/startup-static.txt" ||
    echo "startup benchmark failed" >"$WORK/startup-static.txt"
# With musl shipped, the static glibc build too, for the record: glibc's
# cpuid probing at start (static or not) costs ~1 ms in a VM, where each
# cpuid traps to the hypervisor.
STARTUP_GLIBC=
if [ "$SHIPPED_LIBC" = musl ]; then
    step "entrypoint: the same with a static glibc svc-init"
    STARTUP_GLIBC=$WORK/startup-glibc.txt
    SVC_BENCH_RUNS=$STARTUP_RUNS SVC_BENCH_SVC_INIT=$GLIBC_DIR/svc-init \
        $CARGO bench -q -p svc-init --bench startup >"$STARTUP_GLIBC" ||
        echo "startup benchmark failed" >"$STARTUP_GLIBC"
fi

BOOTS=${BENCH_BOOTS:-3}
[ "${BENCH_QUICK:-0}" = 1 ] && BOOTS=1
LOAD_AT[boot]=$(load1)
step "boot to ready: $BOOTS qemu boots (tools/bench-qemu.sh)"
# The shipped static build of all four programs.
SVC_INIT_PREBUILT=$STATIC_DIR/svc-init SVC_SUPERVISE_PREBUILT=$STATIC_DIR/svc-supervise \
    SVC_MANAGER_PREBUILT=$STATIC_DIR/svc-manager SVCCTL_PREBUILT=$STATIC_DIR/svcctl \
    tools/bench-qemu.sh "$BOOTS" >"$WORK/boot.md" ||
    echo "- boot-to-ready: not measured (tools/bench-qemu.sh failed)" >"$WORK/boot.md"

if [ "$MANAGER_BENCH" = yes ]; then
    LOAD_AT[manager]=$(load1)
    step "manager: cargo bench -p svc-manager --bench manager, shipped static build (at most 600 s)"
    if SVC_BENCH_BIN_DIR=$STATIC_DIR timeout -k 5 600 $CARGO bench -q -p svc-manager --bench manager -- $MANAGER_ARGS \
        >"$WORK/manager.txt" 2>"$WORK/manager.err"; then
        :
    else
        rc=$?
        tail -5 "$WORK/manager.err" >&2
        if [ $rc = 124 ]; then
            MANAGER_BENCH="stopped after 300 s (what it printed by then is below)"
        else
            MANAGER_BENCH="failed (exit $rc; what it printed is below)"
        fi
    fi
    MANAGER_GLIBC=
    if [ "$SHIPPED_LIBC" = musl ]; then
        step "manager: the same with the static glibc build, for the record (at most 600 s)"
        MANAGER_GLIBC=$WORK/manager-glibc.txt
        SVC_BENCH_BIN_DIR=$GLIBC_DIR timeout -k 5 600 $CARGO bench -q -p svc-manager --bench manager -- $MANAGER_ARGS \
            >"$MANAGER_GLIBC" 2>>"$WORK/manager.err" || echo "(failed or stopped; what it printed is above)" >>"$MANAGER_GLIBC"
    fi
fi
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)
ELAPSED=$(( $(date +%s) - T0 ))

# ------------------------------------------------------------------ report
step "writing $OUT"

# "12.34ms" / "950.12µs" / "1.02s" (Rust's Duration {:?}) -> milliseconds.
to_ms() {
    awk -v v="$1" 'BEGIN {
        n = v; sub(/[^0-9.].*$/, "", n)
        if (v ~ /µs$/) n /= 1000; else if (v ~ /ns$/) n /= 1e6
        else if (v ~ /ms$/) n += 0; else if (v ~ /s$/) n *= 1000
        printf "%.2f", n }'
}
verdict_ms() { awk -v t="$(to_ms "$1")" 'BEGIN { print (t > 0 && t < 20 ? "met" : "not met") }'; }
plan_total=$(awk '/^  total:/ { print $2; exit }' "$WORK/plan.txt")
plan_cpu=$(awk '/^  total \(load/ { print $NF; exit }' "$WORK/plan.txt")

# Overhead over /bin/true per subject and mode, from the startup output.
overhead() { # FILE MODE-PREFIX SUBJECT
    awk -v mode="$2" -v who="$3" '
        /^[^ ].*:$/ { cur = $0 }
        index(cur, mode) == 1 && /ms  \(/ {
            name = substr($0, 3, 12); sub(/ +$/, "", name)
            if (name == who) { v = $0; sub(/.*\(/, "", v); sub(/ ms\).*/, "", v); print v; exit }
        }' "$1"
}
entry_goal() { # FILE MODE
    local svc cat
    svc=$(overhead "$1" "$2" svc-init)
    cat=$(overhead "$1" "$2" catatonit)
    if [ -z "$svc" ]; then echo "svc-init: not measured"; return; fi
    if [ -z "$cat" ]; then echo "svc-init ${svc} ms; catatonit not measured"; return; fi
    awk -v s="$svc" -v c="$cat" 'BEGIN {
        printf "svc-init %+.3f ms vs catatonit %+.3f ms: **%s**", s, c, (s <= c ? "met" : "not met") }'
}

{
cat <<EOF
# Benchmarks

Written by \`make bench\` (tools/bench.sh); do not edit by hand. What is
measured, against whom and how is fixed by design/performance.md: medians
and ratios taken in this one run, peers interleaved with svc (A B A B …),
never a lone absolute time. The machine is shared and noisy: read the
ratios, not the milliseconds.

- Date: $DATE; whole run ${ELAPSED} s
- Machine: $NPROC CPUs ($CPU), kernel $KERNEL, $OS
- Load average at start: $LOAD_START; at the end: $LOAD_END
- Toolchain: $RUSTC; svc release profile (LTO, panic=abort); "static" = \`$STATIC_FLAGS\` on $HOST or $MUSL
- Shipped static build (tools/static-target.sh): $SHIPPED
- Peers (Debian packages): runit $(peer_version runit), s6 $(peer_version s6), tini $(peer_version tini), catatonit $(peer_version catatonit), dumb-init $(peer_version dumb-init)
- musl: $MUSL_STATE

## Goals

| goal (design/performance.md) | result in this run |
|---|---|
| supervisor memory ≤ 64 kB Private_Dirty, as shipped | $(grep -m1 -F -- "- $SHIPPED_LABEL" "$WORK/memory.md" | sed 's/^- //' || echo "not measured") |
| restart latency within 1 ms of the floor | $(grep -m1 -F -- "- $SHIPPED_LABEL" "$WORK/restart.md" | sed 's/^- //' || echo "not measured") |
| control round trip ≤ 1.1 × floor (a whole process per request, to a supervisor) | $(grep -m1 -F -- "- ctl (static $SHIPPED_LIBC)" "$WORK/control.md" | sed 's/^- //' || echo "not measured") |
| manager bring-up of 1000 services ≤ 0.5 × s6-svscan | $(grep -m1 -F -- '- bring-up N=1000' "$WORK/manager.txt" | sed 's/^- //' || echo "not measured") |
| a cgroup per service costs < 10 % of the bring-up of 1000 | $(grep -m1 -F -- '- cgroups at N=1000' "$WORK/manager.txt" | sed 's/^- //' || echo "not measured") |
| svc-manager's own memory < 2 kB per service | $(grep -m1 -F -- '- manager memory per service' "$WORK/manager.txt" | sed 's/^- //' || echo "not measured") |
| \`svcctl status NAME\` ≤ 1.1 × spawning /bin/true | $(grep -m1 -F -- '- `svcctl status NAME`' "$WORK/manager.txt" | sed 's/^- //' || echo "not measured") |
| \`svcctl status\` of 1000 services ≤ 50 ms | $(grep -m1 -F -- '- `svcctl status` of 1000' "$WORK/manager.txt" | sed 's/^- //' || echo "not measured") |
| ≥ 10 000 requests/s over one connection (manager) | $(grep -m1 -F -- '- status requests over one connection' "$WORK/manager.txt" | sed 's/^- //' || echo "not measured") |
| ≥ 10 000 status requests/s over one connection (supervisor) | $(grep -m1 'one open connection' "$WORK/control.md" | sed 's/^- //' || echo "not measured") |
| plan 1000 declarations < 20 ms (load + graph + plan) | ${plan_total:-?} wall: **$(verdict_ms "${plan_total:-0}")**; ${plan_cpu:-?} process CPU time (all threads): **$(verdict_ms "${plan_cpu:-0}")** |
| entrypoint overhead ≤ catatonit's (shipped static svc-init, $SHIPPED_LIBC, direct) | $(entry_goal "$WORK/startup-static.txt" direct) |
| entrypoint overhead ≤ catatonit's (shipped static svc-init, $SHIPPED_LIBC, PID 1 of a namespace) | $(entry_goal "$WORK/startup-static.txt" "PID 1") |
| boot: record the qemu boot-to-ready time | $(head -1 "$WORK/boot.md" | sed 's/^- boot-to-ready: //') |
| libnv ≥ the C library | not measurable here: FreeBSD's C libnv is not packaged for Debian (Debian's libnvpair is ZFS's different format); figures below are svc's alone |

## Supervisor memory

$N_MEM services of \`sleep 1000\`, each under its own supervisor, one kind
at a time; Private_Dirty of each supervisor from
\`/proc/PID/smaps_rollup\`, median (min–max) over the $N_MEM, once idle
(0.5 s after every service runs) and again after one status request to
each (svc-supervise: a status nvlist on its \`--control\` socket; runsv:
\`sv status DIR\`; s6-supervise: \`s6-svstat DIR\`). runsv and s6-supervise
run a \`run\` script that execs sleep; svc-supervise and forkwait exec it
directly. forkwait (tools/bench/forkwait.rs) is the floor of a Rust
supervisor: fork, exec, wait, nothing else, built like svc-supervise.
Load average (1 min) as this section started: ${LOAD_AT[memory]:-?}.

$(cat "$WORK/memory.md")

## Restart latency

SIGKILL to the running service; latency = the timestamp its replacement
writes (\`date +%s%N\` in its run script, before \`exec sleep 1000\`)
minus the time of the kill. $RESTART_INSTANCES instances per supervisor,
killed in turn, so each kill comes after a run of more than 10.5 s (longer
than svc-supervise's restart-reset and the 1 s minimum run of runsv and
s6-supervise): every figure is a first restart, never a backoff. Subjects
interleaved per repetition. Floor: the driver itself fork+execs the same
run script and reads the same timestamp. Same minimal environment
(\`PATH\` only) for all. The goal is judged on the median of the
per-round differences (each kill's latency minus the floor measured in
the same round), which a load that comes and goes disturbs least.
Load average (1 min) as this section started: ${LOAD_AT[restart]:-?}.

$(cat "$WORK/restart.md")

s6-supervise waits about a second before every respawn here, even after a
long run: that is its design, not noise.

## Control round trip

$CONTROL_RUNS runs of each command, interleaved, each a whole process
(spawn, one status request, exit), median wall time. \`ctl\`
(tools/bench/ctl.rs, std only) is the smallest Rust client: connect, write
the packed status request, read the 19-byte nvlist header and the rest;
built dynamic (like svcctl) and static. Floor: spawning \`/bin/true\`.
Then 5 rounds of 2000 status requests over one open connection from the
driver, the median round's rate.
Load average (1 min) as this section started: ${LOAD_AT[control]:-?}.

$(cat "$WORK/control.md")

## Entrypoint overhead (svc-init)

\`cargo bench -p svc-init --bench startup\`: \`svc-init -- /bin/true\`
against \`/bin/true\` alone and tini, tini-static, catatonit, dumb-init,
$STARTUP_RUNS runs each, interleaved, median wall time per run and its overhead over
\`/bin/true\`; directly and as PID 1 of a PID+mount namespace
(\`unshare\`). Run for the shipped static build (SVC_BENCH_SVC_INIT), the
dynamic release build and, when musl is shipped, the static glibc build.
Debian's catatonit and tini-static are static glibc programs. In a VM every
glibc program, static or dynamic, starts with about a hundred \`cpuid\`
instructions (\`init_cpu_features\`, \`init_cacheinfo\`), each a trap to
the hypervisor: that cost (about 1 ms on the development VM) is in every
figure here except a musl build's, and it is why musl is shipped when it
is installed (docs/decisions.md).
Load average (1 min) as this section started: ${LOAD_AT[startup]:-?}.

Static svc-init ($SHIPPED_LIBC, as shipped): $(entry_goal "$WORK/startup-static.txt" direct) (direct); $(entry_goal "$WORK/startup-static.txt" "PID 1") (PID 1).

\`\`\`
$(cat "$WORK/startup-static.txt")
\`\`\`

Dynamic svc-init: $(entry_goal "$WORK/startup-dyn.txt" direct) (direct); $(entry_goal "$WORK/startup-dyn.txt" "PID 1") (PID 1).

\`\`\`
$(cat "$WORK/startup-dyn.txt")
\`\`\`
$(if [ -n "$STARTUP_GLIBC" ]; then
    printf '\nStatic glibc svc-init (not shipped here): %s (direct); %s (PID 1).\n\n```\n%s\n```\n' \
        "$(entry_goal "$STARTUP_GLIBC" direct)" "$(entry_goal "$STARTUP_GLIBC" "PID 1")" "$(cat "$STARTUP_GLIBC")"
fi)

## Boot to ready (qemu)

\`tools/bench-qemu.sh $BOOTS\`: $BOOTS boots under \`qemu-system-x86_64 -accel
tcg\` (software emulation: every figure is several times what hardware
gives) of the system test image (tests/system/qemu-boot.sh): a Debian cloud
kernel and an initramfs with busybox, the static svc-init as /sbin/init,
svc-manager, svc-supervise, svcctl and the shipped declarations (syslogd,
crond) plus the test's two services. Boot-to-ready is the guest clock from
the kernel's "Run /sbin/init" to the test hook's "target default ready"
line (the hook polls \`svcctl status default\` every 0.1 s: an upper bound);
each boot is then powered off with \`svcctl poweroff\`. No peer is
measured: the figure is recorded, as design/performance.md asks.
Load average (1 min) as this section started: ${LOAD_AT[boot]:-?}.

$(cat "$WORK/boot.md")

## Planning (libsvc)

\`cargo bench -p libsvc --bench plan\`: load, graph and plan 1000
generated declarations (targets, layered requires/wants, virtual names,
templates, enablement), median of 21 runs; the floor is listing the
directories and reading every file (on one thread; loading reads and
parses on up to one thread per CPU, at most four). Goal: under 20 ms for
load + graph + plan: ${plan_total:-?} wall (${plan_cpu:-?} CPU, all threads).
Load average (1 min) as this section started: ${LOAD_AT[plan]:-?}.

\`\`\`
$(cat "$WORK/plan.txt")
\`\`\`

## libnv

\`cargo bench -p libnv --bench libnv\`: pack and unpack of a 20-pair
request and of a 1000-service status list, owned, borrowed
(\`NvView\`, zero-copy) and streaming (\`NvWriter\`), operations per
second over ${LIBNV_SECS} s per row. The C libnv is not available here
(FreeBSD's library is not packaged for Debian), so the goal "≥ the C
library" is not measured.
Load average (1 min) as this section started: ${LOAD_AT[libnv]:-?}.

$(cat "$WORK/libnv.md")

## Manager

EOF
if [ "$MANAGER_BENCH" = no ]; then
    echo "manager benchmarks: not yet (svc-manager has no bench target)."
elif [ "$MANAGER_BENCH" != yes ] && [ ! -s "$WORK/manager.txt" ]; then
    echo "manager benchmarks: not yet ($MANAGER_BENCH)."
else
    [ "$MANAGER_BENCH" != yes ] && echo "manager benchmarks: $MANAGER_BENCH."
    cat <<EOF
\`SVC_BENCH_BIN_DIR=<shipped static build> cargo bench -p svc-manager --bench
manager\` (svc-manager/benches/manager.rs): bring-up of N services, svc
without and with a cgroup per service, s6-svscan (Debian's s6), runsvdir
(Debian's runit) and the floor, interleaved, every service the
same small announcer process (it writes a byte to a FIFO, then waits), so
"all running" is read the same way for all: N bytes on the FIFO. s6 runs
each through a \`run\` script (execline when installed, else sh) and runit
through a sh \`run\` script, as their users write them; svc through its
declaration. With cgroups, svc-manager runs in a cgroup of the bench's own
under the host's cgroup2 mount, in a cgroup and mount namespace with it on
/sys/fs/cgroup, as in a container. With all N running, the Private_Dirty
of the process that holds the whole set (svc-manager, s6-svscan,
runsvdir) is read; its growth from N=100 to 1000 is its memory per
service. The trees are on /dev/shm
(the manager's runtime directory and s6's scan directory live in /run, a
tmpfs, on a real system). Then \`svcctl status NAME\` as a whole process
against spawning /bin/true, \`svcctl status\` of 1000 services, and
requests per second over one connection, with 1000 services running.
Goals: bring-up ≤ half of s6-svscan's time at N=1000; \`svcctl status
NAME\` ≤ 1.1 × floor; status of 1000 services ≤ 50 ms; ≥ 10 000
requests/s. Load average (1 min) as this section started:
${LOAD_AT[manager]:-?}.

Shipped static build ($SHIPPED_LIBC):

$(cat "$WORK/manager.txt")
$(if [ -n "${MANAGER_GLIBC:-}" ]; then printf '\nStatic glibc build, for the record:\n\n%s\n' "$(cat "$MANAGER_GLIBC")"; fi)
EOF
fi
cat "$ROOT/tools/bench/path-to-24k.md"
} >"$WORK/benchmarks.md"
mv "$WORK/benchmarks.md" "$OUT"
step "done in $(( $(date +%s) - T0 )) s: $OUT"
