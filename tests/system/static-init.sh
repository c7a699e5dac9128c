#!/usr/bin/env bash
# The static programs the other system tests boot (svc-init, svc-manager,
# svc-supervise, svcctl): built with crt-static (musl or glibc), they must be
# really static, and svc-init must run as PID 1. Checked here in a
# PID+mount namespace (milliseconds), so that a broken static build is
# reported as such and not only as failed boots.
#
# Checks:
#   static-build        all four build with crt-static and have no program
#                       interpreter
#   static-pid1-pidns   as PID 1 of a PID+mount namespace svc-init starts a
#                       manager (a three-line sh double, so that a crash
#                       here is svc-init's own; the real manager is booted
#                       by qemu-boot, nspawn and podman),
#                       and SIGUSR2 (poweroff) ends it through reboot(2),
#                       which the kernel turns into SIGINT for the namespace
#                       (unshare exits 130)
# On a crash the reason lists the libc functions the binary references only
# weakly: with a static glibc those resolve to address 0 unless something
# else pulls them in from libc.a (LTO merges a std `weak!` declaration with
# the libc crate's, e.g. statx).
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ALL_CHECKS=(static-build static-pid1-pidns)
missing=$(missing_cmds unshare readelf nm timeout)
[ -z "$missing" ] || fail_all "missing commands: $missing (run tests/system/install-deps.sh)"
[ "$(id -u)" -eq 0 ] || fail_all "PID namespaces with mounts need root here"
build_svc_programs || fail_all "the svc programs do not build (static, $RUST_TARGET): $BUILD_ERROR"
not_static=$(not_static_programs)
if [ -z "$not_static" ]; then
  pass static-build
else
  fail static-build "not static executables (a program interpreter, or missing): $not_static"
fi

# Functions libc.a defines that the binary references only weakly.
weak_libc_functions() {
  local libc_a
  libc_a=$(gcc -print-file-name=libc.a 2>/dev/null)
  [ -f "$libc_a" ] || libc_a=/usr/lib/x86_64-linux-gnu/libc.a
  [ -f "$libc_a" ] || return 0
  comm -12 \
    <(nm "$1" 2>/dev/null | awk '$1 == "w" { print $2 }' | sort -u) \
    <(nm "$libc_a" 2>/dev/null | awk '$2 == "T" || $2 == "W" || $2 == "i" { print $3 }' | sort -u) |
    grep -vx -e '__pthread_key_create' | tr '\n' ' '
}

make_tmp
cat >"$TMP/manager" <<'EOF'
#!/bin/sh
trap 'echo "test manager: stopping"; exit 0' TERM
echo "test manager ready"
while :; do sleep 1 & wait $!; done
EOF
chmod 755 "$TMP/manager"

LOG=$TMP/pidns.log
timeout -k 2 20 unshare --pid --fork --kill-child --mount --uts --ipc --net \
  --mount-proc "$SVC_INIT_BIN" --manager "$TMP/manager" --initctl "$TMP/initctl" \
  </dev/null >"$LOG" 2>&1 &
WRAP=$!
at_exit "kill_child_tree $WRAP"
if wait_for_text "$LOG" 'test manager ready' 10 "$WRAP"; then
  # timeout -> unshare -> svc-init (PID 1 inside)
  unshare_pid=$(cat /proc/"$WRAP"/task/*/children 2>/dev/null | awk '{ print $1 }')
  init_pid=$(cat /proc/"$unshare_pid"/task/*/children 2>/dev/null | awk '{ print $1 }')
  [ -n "$init_pid" ] && kill -USR2 "$init_pid"
fi
rc=0
wait "$WRAP" || rc=$?
if [ "$rc" -eq 130 ] && grep -q 'test manager: stopping' "$LOG"; then
  pass static-pid1-pidns
else
  reason="unshare exited $rc (want 130: poweroff through reboot(2) after the manager stopped)"
  [ "$rc" -eq 139 ] && reason="svc-init crashed with SIGSEGV as PID 1 (unshare exited 139)"
  weak=$(weak_libc_functions "$SVC_INIT_BIN")
  [ -n "$weak" ] && reason="$reason; libc functions the binary references only weakly (address 0 here; fatal for any the code calls directly, e.g. through the libc crate): $weak"
  fail static-pid1-pidns "$reason; output: $(tail -n 4 "$LOG" | tr '\n' '|')"
fi
summary
