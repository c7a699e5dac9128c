# shellcheck shell=bash
# Shared helpers of the system tests (qemu, systemd-nspawn, podman).
# Sourced by the test scripts; never run on its own.
#
# Every test script reports each check as one line,
#   PASS name
#   FAIL name: reason
# and ends with "N passed, M failed" (exit 1 if M > 0).

SYSTEST_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SYSTEST_DIR/../.." && pwd)
# Downloads (kernel packages, apt sources) live outside the repository.
SVC_TEST_CACHE=${SVC_TEST_CACHE:-/var/cache/svc-tests}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$REPO_ROOT/target-system}
# The shipped static target: musl when installed, else glibc (tools/static-target.sh).
RUST_TARGET=$("$REPO_ROOT/tools/static-target.sh")

PASSED=0
FAILED=0

pass() {
  PASSED=$((PASSED + 1))
  echo "PASS $1"
}

# fail NAME REASON...
fail() {
  local name=$1
  shift
  FAILED=$((FAILED + 1))
  echo "FAIL $name: $*"
}

summary() {
  echo "$PASSED passed, $FAILED failed"
  [ "$FAILED" -eq 0 ]
}

# fail_all REASON: every check the suite names in ALL_CHECKS fails with
# REASON (the suite cannot run at all), then the summary, and exit 1.
fail_all() {
  local c
  for c in "${ALL_CHECKS[@]}"; do fail "$c" "$*"; done
  summary
  exit 1
}

# A fresh temporary directory removed by cleanup (and by the EXIT trap).
# Sets the global TMP.
CLEANUP_CMDS=()
make_tmp() {
  TMP=$(mktemp -d "${TMPDIR:-/tmp}/svc-systest.XXXXXX")
  at_exit "rm -rf '$TMP'"
}

# at_exit CMD: run CMD (a string, run by eval) on exit, last registered first.
at_exit() {
  CLEANUP_CMDS=("$1" "${CLEANUP_CMDS[@]}")
}

run_cleanup() {
  local c
  for c in "${CLEANUP_CMDS[@]}"; do
    eval "$c" >/dev/null 2>&1 || true
  done
  CLEANUP_CMDS=()
}
trap run_cleanup EXIT
trap 'exit 130' INT TERM

# kill_tree PID: SIGKILL PID and every descendant (walked through
# /proc/*/task/*/children), children first. Only processes we started
# are passed here, by pid.
kill_tree() {
  local pid=$1 child t
  for t in /proc/"$pid"/task/*/children; do
    [ -r "$t" ] || continue
    # shellcheck disable=SC2013 # the file is one line of pids
    for child in $(cat "$t" 2>/dev/null); do
      kill_tree "$child"
    done
  done
  kill -KILL "$pid" 2>/dev/null || true
}

# kill_child_tree PID: kill_tree PID if it is still a child of this shell
# (not yet reaped), so a pid reused by someone else's process is left alone.
# For EXIT-trap cleanup of background jobs.
kill_child_tree() {
  local stat ppid
  stat=$(cat /proc/"$1"/stat 2>/dev/null) || return 0
  ppid=$(echo "${stat##*) }" | cut -d' ' -f2)
  [ "$ppid" = "$BASHPID" ] && kill_tree "$1"
  return 0
}

# wait_for_text FILE REGEX SECONDS [PID]: poll until FILE has a line matching
# REGEX (extended); false when the time runs out or PID has exited.
wait_for_text() {
  local file=$1 re=$2 secs=$3 pid=${4:-} i
  for ((i = 0; i < secs * 10; i++)); do
    grep -Eq -- "$re" "$file" 2>/dev/null && return 0
    if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
      grep -Eq -- "$re" "$file" 2>/dev/null
      return
    fi
    sleep 0.1
  done
  return 1
}

# wait_pid_gone PID SECONDS: wait for a (non-child) process to disappear.
wait_pid_gone() {
  local pid=$1 secs=$2 i
  for ((i = 0; i < secs * 10; i++)); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  return 1
}

# missing_cmds NAME...: prints those of the NAMEs not on PATH.
missing_cmds() {
  local c absent=()
  for c in "$@"; do command -v "$c" >/dev/null 2>&1 || absent+=("$c"); done
  echo "${absent[*]}"
}

# The four programs under test, built statically in one cargo invocation
# (crt-static on RUST_TARGET; the explicit --target keeps RUSTFLAGS off
# build scripts). Sets SVC_INIT_BIN, SVC_MANAGER_BIN, SVC_SUPERVISE_BIN and
# SVCCTL_BIN. Symbols are kept (not the release profile's strip) so that a
# crash in a guest can be read and static-init.sh can list weakly
# referenced symbols; the code is the same.
# SVC_INIT_PREBUILT, SVC_MANAGER_PREBUILT, SVC_SUPERVISE_PREBUILT and
# SVCCTL_PREBUILT (each a PATH) use that binary instead of the built one;
# when all four are given nothing is built. SVC_BUILD_TRIES=N retries a
# minute apart (a crate may be mid-edit); SVC_INIT_EXTRA_RUSTFLAGS is
# appended to RUSTFLAGS (e.g. '-C link-arg=-Wl,-u,statx' to pull a libc
# function into the static link).
build_svc_programs() {
  local out=$CARGO_TARGET_DIR/$RUST_TARGET/release
  SVC_INIT_BIN=${SVC_INIT_PREBUILT:-$out/svc-init}
  SVC_MANAGER_BIN=${SVC_MANAGER_PREBUILT:-$out/svc-manager}
  SVC_SUPERVISE_BIN=${SVC_SUPERVISE_PREBUILT:-$out/svc-supervise}
  SVCCTL_BIN=${SVCCTL_PREBUILT:-$out/svcctl}
  # Built by cargo beside svc-init (a second program of its package).
  SVC_SEEDRNG_BIN=$(dirname "$SVC_INIT_BIN")/svc-seedrng
  BUILD_ERROR=""
  if [ -n "${SVC_INIT_PREBUILT:-}" ] && [ -n "${SVC_MANAGER_PREBUILT:-}" ] &&
    [ -n "${SVC_SUPERVISE_PREBUILT:-}" ] && [ -n "${SVCCTL_PREBUILT:-}" ]; then
    return 0
  fi
  local tries=${SVC_BUILD_TRIES:-1} i err
  err=$(mktemp)
  for ((i = 1; i <= tries; i++)); do
    if (cd "$REPO_ROOT" &&
      CARGO_PROFILE_RELEASE_STRIP=false \
      RUSTFLAGS="-C target-feature=+crt-static -C relocation-model=static ${SVC_INIT_EXTRA_RUSTFLAGS:-}" \
        cargo build -q --release -p svc-init -p svc-manager -p svc-supervise -p svcctl \
        --target "$RUST_TARGET") 2>"$err"; then
      rm -f "$err"
      return 0
    fi
    [ "$i" -lt "$tries" ] && sleep 60
  done
  cat "$err" >&2
  # shellcheck disable=SC2034 # read by the suites in their FAIL reasons
  BUILD_ERROR=$(grep -m1 -E '^error' "$err" | cut -c1-200)
  rm -f "$err"
  return 1
}

# bin_dir DIR: the programs `make install` takes, copied into DIR (its
# BIN_DIR): the four, svc-notify (built beside svc-supervise) and
# svc-seedrng. A missing one is named on stderr.
bin_dir() {
  local b
  mkdir -p "$1" || return 1
  for b in "$SVC_INIT_BIN" "$SVC_MANAGER_BIN" "$SVC_SUPERVISE_BIN" "$SVCCTL_BIN" \
    "$(dirname "$SVC_SUPERVISE_BIN")/svc-notify" "$SVC_SEEDRNG_BIN"; do
    cp "$b" "$1/" || return 1
  done
}

# export_prebuilt: after build_svc_programs, the suites run-all.sh starts
# use these binaries instead of building again.
export_prebuilt() {
  export SVC_INIT_PREBUILT=$SVC_INIT_BIN SVC_MANAGER_PREBUILT=$SVC_MANAGER_BIN \
    SVC_SUPERVISE_PREBUILT=$SVC_SUPERVISE_BIN SVCCTL_PREBUILT=$SVCCTL_BIN
}

# is_static FILE: true if FILE is a statically linked ELF (no PT_INTERP).
is_static() {
  ! LC_ALL=C readelf -l "$1" 2>/dev/null | grep -q 'Requesting program interpreter' &&
    LC_ALL=C readelf -h "$1" >/dev/null 2>&1
}

# not_static_programs: prints those of the four programs that are not
# statically linked executables (missing ones included).
not_static_programs() {
  local b bad=()
  for b in "$SVC_INIT_BIN" "$SVC_MANAGER_BIN" "$SVC_SUPERVISE_BIN" "$SVCCTL_BIN"; do
    is_static "$b" || bad+=("$b")
  done
  echo "${bad[*]}"
}

# make_rootfs DIR [SERVICES-DIR]: a minimal busybox tree with svc-init as
# /sbin/init and /sbin/svc-init, svc-manager and svc-supervise next to it
# (where svc-init and svc-manager look first), svcctl in /bin, /etc basics,
# and a services directory, by default /usr/lib/svc/services.d (one of the
# manager's default directories). It holds the shipped declarations the
# tests boot -- the targets sysinit, boot, default, rescue, the busybox
# services syslogd and crond, and the early services of a disk-based host
# with their programs (EARLY_DECLARATIONS, libexec/early, svc-seedrng; on these RAM and
# container systems they find nothing to do), unchanged -- plus the test images' own
# (tests/system/image/): svctest, a service that reports its stop, and
# svctest-hook, which reports readiness and performs a test's request.
# Both are enabled in the default and rescue targets (/etc/svc/enabled).
# getty@.ini is left out: these machines have no terminal for it (the
# default target's `wants = getty@tty1` is then only a warning).
EARLY_DECLARATIONS=(hotplug devices modules root fsck localmount swap hostname sysctl clock seed
  bootmisc bootlogs networking netmount local consoles)
SHIPPED_DECLARATIONS=(sysinit boot default rescue syslogd crond "${EARLY_DECLARATIONS[@]}")
make_rootfs() {
  local root=$1 services=${2:-/usr/lib/svc/services.d} bb applet d t
  # Never the host's own tree.
  case $root in "" | / | //*) echo "make_rootfs: refusing root '$root'" >&2; return 1 ;; esac
  bb=$(command -v busybox)
  mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc,proc,sys,dev,run,tmp,var/log,root}
  chmod 1777 "$root/tmp"
  cp "$bb" "$root/bin/busybox"
  for applet in $("$bb" --list-full); do
    [ -e "$root/$applet" ] || ln -s /bin/busybox "$root/$applet"
  done
  rm -f "$root/sbin/init" "$root/linuxrc"
  cp "$SVC_INIT_BIN" "$root/sbin/svc-init"
  ln -s svc-init "$root/sbin/init"
  cp "$SVC_MANAGER_BIN" "$root/sbin/svc-manager"
  cp "$SVC_SUPERVISE_BIN" "$root/sbin/svc-supervise"
  cp "$SVCCTL_BIN" "$root/bin/svcctl"
  mkdir -p "$root/$services"
  for d in "${SHIPPED_DECLARATIONS[@]}"; do
    cp "$REPO_ROOT/services.d/$d.ini" "$root/$services/"
  done
  install -D -m 0755 "$REPO_ROOT/libexec/early" "$root/usr/lib/svc/libexec/early"
  install -d "$root/usr/lib/svc/libexec/early.d"
  install -m 0644 "$REPO_ROOT"/libexec/early.d/* "$root/usr/lib/svc/libexec/early.d/"
  install -m 0755 "$SVC_SEEDRNG_BIN" "$root/usr/lib/svc/libexec/"
  cp "$SYSTEST_DIR/image/svctest.ini" "$SYSTEST_DIR/image/svctest-hook.ini" "$root/$services/"
  install -m 0755 "$SYSTEST_DIR/image/svctest-service" "$SYSTEST_DIR/image/svctest-hook" "$root/bin/"
  for t in default rescue; do
    mkdir -p "$root/etc/svc/enabled/$t"
    : >"$root/etc/svc/enabled/$t/svctest"
    : >"$root/etc/svc/enabled/$t/svctest-hook"
  done
  # busybox crond -f works in its spool directory; /etc/svctest holds a
  # test's request to svctest-hook.
  mkdir -p "$root/var/spool/cron/crontabs" "$root/etc/svctest"
  printf '%s\n' 'root:x:0:0:root:/root:/bin/sh' 'daemon:x:1:1:daemon:/:/bin/false' \
    'nobody:x:65534:65534:nobody:/:/bin/false' >"$root/etc/passwd"
  printf '%s\n' 'root:x:0:' 'daemon:x:1:' 'nogroup:x:65534:' >"$root/etc/group"
  printf '%s\n' 'NAME="svc test rootfs"' 'ID=svc-test' \
    'PRETTY_NAME="svc test rootfs (busybox)"' >"$root/etc/os-release"
  echo svc-test >"$root/etc/hostname"
  install -m 0755 "$SYSTEST_DIR/main-cmd.sh" "$root/bin/main-cmd"
}

# Lines of the test images' hook (image/svctest-hook), as they appear on a
# console or in a container's log.
# shellcheck disable=SC2034 # read by the suites
HOOK_READY_RE='svctest: target [^ ]+ ready uptime='
# svc-init's line when the manager exits 0 after stopping everything.
# shellcheck disable=SC2034 # read by the suites
MANAGER_ORDERLY_RE='svc-init: [^ ]+ stopped \(exit status 0\)'
# shellcheck disable=SC2034 # read by the suites
SERVICE_STOPPED_LINE='svctest service: stopped on SIGTERM'

# services_not_running LOG NAME...: prints those NAMEs that the hook's
# `svcctl status` table in LOG does not show as ready with a pid.
services_not_running() {
  local log=$1 name absent=()
  shift
  for name in "$@"; do
    tr -d '\r' <"$log" | awk -v n="$name" '
      $1 == "svctest" && $2 == "status:" && $3 == n && $4 == "ready" && $5 ~ /^[0-9]+$/ { ok = 1 }
      END { exit !ok }' || absent+=("$name")
  done
  echo "${absent[*]}"
}

# services_not_stopped LOG NAME...: prints those NAMEs without the
# manager's " * Stopping NAME ... [ ok ]" line in LOG (coloured on a
# console, plain in a container's log).
services_not_stopped() {
  local log=$1 name absent=()
  shift
  for name in "$@"; do
    grep -a -Eq "Stopping $name \.\.\. .*ok" "$log" || absent+=("$name")
  done
  echo "${absent[*]}"
}

# podman_private SECONDS: podman with its storage, run root and temporary
# files under $TMP (make_tmp first), never the host's; runc, cgroupfs and a
# file event log (no systemd here), and rlimits the host can grant. Sets
# PODMAN (the command line) for pm, which runs it bounded by SECONDS, and
# removes at exit whatever the suite made in that storage.
podman_private() {
  PODMAN_SECONDS=$1
  export CONTAINERS_CONF=$TMP/containers.conf
  cat >"$CONTAINERS_CONF" <<'EOF'
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
EOF
  PODMAN=(podman --root "$TMP/storage" --runroot "$TMP/runroot" --storage-driver vfs
    --tmpdir "$TMP/podman-tmp")
  mkdir -p "$TMP/podman-tmp"
  at_exit "timeout -k 5 60 ${PODMAN[*]} rm -a -f -t 0; timeout -k 5 60 ${PODMAN[*]} rmi -a -f"
}

pm() { timeout -k 5 "$PODMAN_SECONDS" "${PODMAN[@]}" "$@"; }

# --- cached disk-boot artefacts (disk-boot.sh, tools/bench-boot.sh) -------

# recipe_key WORDS...: a short hash of a recipe (the functions that build a
# thing, its inputs), naming its cache entry.
recipe_key() { printf '%s\n' "$@" | sha256sum | cut -c1-16; }

# cached_build CACHE NAME KEY BUILDER ARGS...: CACHE/NAME-KEY, built by
# BUILDER PATH ARGS... when missing (its output in CACHE/NAME.log), after
# older CACHE/NAME-* entries are removed, each through the caller's
# `guard` (which refuses anything outside its cache). Prints the path.
cached_build() {
  local cache=${1:?cached_build: no cache directory} name=$2 k=$3 builder=$4 path old
  shift 4
  path=$cache/$name-$k
  if [ ! -e "$path" ]; then
    for old in "$cache/$name"-*; do
      [ -e "$old" ] || continue
      guard "$old"
      rm -rf "$old"
    done
    echo "building $name-$k" >&2
    "$builder" "$path" "$@" >"$cache/$name.log" 2>&1 || return 1
  fi
  echo "$path"
}

# build_virtio_initramfs DEST TREE INIT: an initramfs of busybox-static
# ($BUSYBOX), the virtio block modules of TREE's kernel ($KVER) with their
# dependencies in load order, and INIT as /init; built in $TMP.
build_virtio_initramfs() {
  local dest=$1 tree=$2 init=$3 dir=${TMP:?}/initramfs m a
  rm -rf "$dir"
  mkdir -p "$dir"/{bin,modules,dev,proc,sys,newroot}
  cp "$BUSYBOX" "$dir/bin/busybox"
  for a in sh mount insmod switch_root mkdir sleep cat echo poweroff; do ln -s busybox "$dir/bin/$a"; done
  install -m 0755 "$init" "$dir/init"
  modprobe -d "$tree" -S "$KVER" --show-depends -a virtio_pci virtio_blk |
    awk '$1 == "insmod" { print $2 }' | while read -r m; do
      [ -e "$dir/modules/${m##*/}" ] && continue
      cp "$m" "$dir/modules/" || exit 1
      echo "${m##*/}" >>"$dir/modules/order"
    done || return 1
  [ -s "$dir/modules/order" ] || return 1
  mknod -m 600 "$dir/dev/console" c 5 1
  (cd "$dir" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) >"$dest.new" &&
    mv "$dest.new" "$dest"
}

# --- systemd-nspawn machines (nspawn.sh, nspawn-cgroup.sh) ---------------

# nspawn_start ROOT LOG NSPAWN-ARGS...: boots the tree ROOT in the
# background, its console into LOG; sets NSPAWN_PID (killed at exit).
# setsid: nspawn must not share our process group (it would get our
# terminal's signals); no systemd here, so nspawn's runtime directory is a
# tmpfs of a private mount namespace.
nspawn_start() {
  local root=$1 log=$2
  shift 2
  : >"$log"
  # shellcheck disable=SC2016 # expanded by the inner sh
  ROOTFS=$root setsid unshare --mount --propagation private sh -c '
    mkdir -p /run/systemd/nspawn && mount -t tmpfs tmpfs /run/systemd/nspawn &&
    exec systemd-nspawn -q -D "$ROOTFS" --register=no --keep-unit --private-network "$@"' \
    nspawn "$@" </dev/null >"$log" 2>&1 &
  NSPAWN_PID=$!
  at_exit "kill_child_tree $NSPAWN_PID"
}

# nspawn_finish SECONDS: wait (bounded) for nspawn to exit; sets RC (124:
# it did not, and it was killed).
nspawn_finish() {
  if wait_pid_gone "$NSPAWN_PID" "$1"; then
    RC=0
    wait "$NSPAWN_PID" || RC=$?
  else
    kill_tree "$NSPAWN_PID"
    wait "$NSPAWN_PID" 2>/dev/null
    RC=124
  fi
}

# --- the cgroup scenarios (cgroup-boot.sh, nspawn-cgroup.sh) -------------

# install_cgtest ROOT NAME...: the scenarios tests/system/cgroup/NAME.sh
# and their guest-lib in ROOT's /usr/lib/cgtest, and the service cgtest-run
# (enabled in the default target), which runs them one after the other
# once the default target is up, each bounded by 90 s, prints
#   cgtest: start NAME, cgtest: NAME: OUTPUT..., cgtest: PASS NAME |
#   cgtest: FAIL NAME: WHY, and at the end cgtest: results: NAME=PASS...,
#   cgtest: done
# and powers off. Run outside a svc cgroup of its own (the manager did
# not use cgroups) it runs none and says "cgtest: no cgroup: ...".
install_cgtest() {
  local root=$1 n
  shift
  mkdir -p "$root/usr/lib/cgtest"
  install -m 0644 "$SYSTEST_DIR/cgroup/guest-lib" "$root/usr/lib/cgtest/guest-lib" || return 1
  for n in "$@"; do
    install -m 0755 "$SYSTEST_DIR/cgroup/$n.sh" "$root/usr/lib/cgtest/$n.sh" || return 1
  done
  cat >"$root/usr/lib/svc/services.d/cgtest-run.ini" <<'EOF'
# Runs the cgroup scenarios of tests/system/cgroup-boot.sh and
# nspawn-cgroup.sh, then powers off.
[service]
description = cgroup scenario runner
exec = /bin/cgtest-run
restart = never

[dependencies]
after = boot

[logging]
output = inherit
EOF
  : >"$root/etc/svc/enabled/default/cgtest-run"
  cat >"$root/bin/cgtest-run" <<'EOF'
#!/bin/sh
i=0
until svcctl status default >/dev/null 2>&1; do
  i=$((i + 1))
  [ "$i" -lt 600 ] || { echo "cgtest: target default not up after 60 s"; break; }
  sleep 0.1
done
echo "cgtest: ready"
results=
# Without a cgroup of its own every scenario would fail on the same
# missing directory, one after the other: say why once instead.
if grep -q '^0::.*/svc/cgtest-run/service$' /proc/self/cgroup; then
  scenarios=/usr/lib/cgtest/*.sh
else
  echo "cgtest: no cgroup: cgtest-run's cgroup is $(grep '^0::' /proc/self/cgroup), not svc's cgtest-run/service"
  scenarios=
fi
for f in $scenarios; do
  [ -e "$f" ] || continue
  n=${f##*/}
  n=${n%.sh}
  echo "cgtest: start $n"
  timeout 90 sh "$f" >/tmp/cgtest-$n.out 2>&1
  rc=$?
  sed "s/^/cgtest: $n: /" /tmp/cgtest-$n.out
  if [ "$rc" -eq 0 ]; then
    echo "cgtest: PASS $n"
    results="$results $n=PASS"
  else
    echo "cgtest: FAIL $n: exit $rc: $(tail -n 4 /tmp/cgtest-$n.out | tr '\n' '|')"
    results="$results $n=FAIL"
  fi
done
# Again in one line: the console is shared with the manager and the
# kernel, and a line can come out garbled.
echo "cgtest: results:$results"
echo "cgtest: done"
exec svcctl poweroff
EOF
  chmod 0755 "$root/bin/cgtest-run"
}

# log_tail LOG REGEX N: the last N lines of LOG matching REGEX, on one line.
log_tail() {
  grep -a -E -- "$2" "$1" | tail -n "$3" | tr '\n' '|' | cut -c1-600
}

# cgtest_verdicts PREFIX LOG WHAT NAME...: one check PREFIX-NAME per
# scenario, read off LOG (the console without carriage returns); WHAT
# names the machine's end in a FAIL reason ("qemu rc 0").
cgtest_verdicts() {
  local prefix=$1 log=$2 what=$3 n r nocg
  shift 3
  nocg=$(grep -a -m1 -o 'cgtest: no cgroup: .*' "$log")
  for n in "$@"; do
    if grep -a -q -E "cgtest: PASS $n\$|^cgtest: results:.* $n=PASS( |\$)" "$log"; then
      pass "$prefix-$n"
    elif r=$(grep -a -m1 -o "cgtest: FAIL $n: .*" "$log"); then
      fail "$prefix-$n" "${r#cgtest: FAIL $n: } (guest: $(log_tail "$log" "^cgtest: $n: " 6))"
    elif grep -a -q -E "^cgtest: results:.* $n=FAIL( |\$)" "$log"; then
      fail "$prefix-$n" "failed (its line garbled on the console): $(log_tail "$log" "cgtest: $n: " 6)"
    elif grep -a -q -x "cgtest: start $n" "$log"; then
      fail "$prefix-$n" "no result ($what): $(log_tail "$log" . 8)"
    elif [ -n "$nocg" ]; then
      fail "$prefix-$n" "not run: ${nocg#cgtest: }"
    else
      r=$(log_tail "$log" 'cgtest|svc-init|svc-manager|Kernel panic' 6)
      fail "$prefix-$n" "never ran ($what): ${r:-$(log_tail "$log" . 4)}"
    fi
  done
}
