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
RUST_TARGET=x86_64-unknown-linux-gnu

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

# Build svc-init statically (glibc, crt-static; the explicit --target keeps
# RUSTFLAGS off build scripts). Sets SVC_INIT_BIN. Symbols are kept (not the
# release profile's strip) so that a crash in a guest can be read and
# static-init.sh can list weakly referenced symbols; the code is the same.
# SVC_INIT_PREBUILT=PATH skips the build; SVC_BUILD_TRIES=N retries a minute
# apart (the crate may be mid-edit); SVC_INIT_EXTRA_RUSTFLAGS is appended to
# RUSTFLAGS (e.g. '-C link-arg=-Wl,-u,statx' to pull a libc function into the
# static link).
build_svc_init() {
  SVC_INIT_BIN=$CARGO_TARGET_DIR/$RUST_TARGET/release/svc-init
  if [ -n "${SVC_INIT_PREBUILT:-}" ]; then
    SVC_INIT_BIN=$SVC_INIT_PREBUILT
    return 0
  fi
  local tries=${SVC_BUILD_TRIES:-1} i err
  err=$(mktemp)
  for ((i = 1; i <= tries; i++)); do
    if (cd "$REPO_ROOT" &&
      CARGO_PROFILE_RELEASE_STRIP=false \
      RUSTFLAGS="-C target-feature=+crt-static -C relocation-model=static ${SVC_INIT_EXTRA_RUSTFLAGS:-}" \
        cargo build -q --release -p svc-init --target "$RUST_TARGET") 2>"$err"; then
      rm -f "$err"
      BUILD_ERROR=""
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

# is_static FILE: true if FILE is a statically linked ELF (no PT_INTERP).
is_static() {
  ! LC_ALL=C readelf -l "$1" 2>/dev/null | grep -q 'Requesting program interpreter' &&
    LC_ALL=C readelf -h "$1" >/dev/null 2>&1
}

# make_rootfs DIR: a minimal busybox tree with svc-init as /sbin/init and
# /sbin/svc-init, the stand-in manager next to it as svc-manager, /etc
# basics. The stand-in sits next to svc-init's executable, which is where
# svc-init looks for the manager first.
make_rootfs() {
  local root=$1 bb applet
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
  install -m 0755 "$SYSTEST_DIR/stand-in-manager.sh" "$root/sbin/svc-manager"
  cat >"$root/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/:/bin/false
nobody:x:65534:65534:nobody:/:/bin/false
EOF
  cat >"$root/etc/group" <<'EOF'
root:x:0:
daemon:x:1:
nogroup:x:65534:
EOF
  cat >"$root/etc/os-release" <<'EOF'
NAME="svc test rootfs"
ID=svc-test
PRETTY_NAME="svc test rootfs (busybox)"
EOF
  echo svc-test >"$root/etc/hostname"
  mkdir -p "$root/etc/stand-in"
  install -m 0755 "$SYSTEST_DIR/after-ready.sh" "$root/etc/stand-in/after-ready"
  install -m 0755 "$SYSTEST_DIR/main-cmd.sh" "$root/bin/main-cmd"
}
