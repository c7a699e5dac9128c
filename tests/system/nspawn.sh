#!/usr/bin/env bash
# svc-init as PID 1 of a systemd-nspawn machine: a minimal busybox tree with
# /usr, /etc/os-release, a static svc-init as /sbin/init and the stand-in
# manager. nspawn runs in a private mount namespace with a tmpfs on
# /run/systemd/nspawn (no systemd as the host's PID 1 here), with
# --register=no --keep-unit --private-network.
#
# Checks (nspawn's exit status: 0 after poweroff/halt, 133 after reboot):
#   nspawn-sigterm-b            -b: SIGTERM to nspawn gives PID 1 signal 37
#                               (halt): orderly stop, exit 0
#   nspawn-sigterm-kill-signal  --kill-signal=SIGRTMIN+4: SIGTERM to nspawn
#                               gives PID 1 signal 38 (poweroff): orderly, 0
#   nspawn-guest-poweroff       busybox `poweroff` in the guest: orderly, 0
#   nspawn-guest-reboot-signal  signal 39 (SIGRTMIN+5) to PID 1: orderly, 133
#   nspawn-initctl-reboot       a `telinit 6` record on /run/initctl: 133
#   nspawn-container-file       svc-init wrote $container ("systemd-nspawn")
#                               to /run/systemd/container
# "Orderly" means the stand-in's service wrote its on-SIGTERM marker and the
# manager exited 0 before the machine went down.
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

RUN_TIMEOUT=${SVC_NSPAWN_TIMEOUT:-30}
ALL_CHECKS=(nspawn-sigterm-b nspawn-sigterm-kill-signal nspawn-guest-poweroff
  nspawn-guest-reboot-signal nspawn-initctl-reboot nspawn-container-file)

fail_all() {
  local c
  for c in "${ALL_CHECKS[@]}"; do fail "$c" "$*"; done
  summary
  exit 1
}

missing=$(missing_cmds systemd-nspawn unshare busybox readelf)
[ -z "$missing" ] || fail_all "missing commands: $missing (run tests/system/install-deps.sh)"
[ "$(id -u)" -eq 0 ] || fail_all "systemd-nspawn needs root"
is_static "$(command -v busybox)" || fail_all "busybox is not static (install busybox-static)"
build_svc_init || fail_all "svc-init does not build (static, $RUST_TARGET): $BUILD_ERROR"

make_tmp
ROOT=$TMP/rootfs
make_rootfs "$ROOT"

NSPAWN_PID=""
# start_nspawn LOG ACTION NSPAWN-ARGS...: boots the tree in the background;
# ACTION goes to /etc/stand-in/action (empty: none).
start_nspawn() {
  local log=$1 action=$2
  shift 2
  rm -f "$ROOT/var/log/service-stopped" "$ROOT/etc/stand-in/action"
  [ -n "$action" ] && echo "$action" >"$ROOT/etc/stand-in/action"
  : >"$log"
  # setsid: nspawn must not share our process group (it would get our
  # terminal's signals); no systemd here, so nspawn's runtime directory is a
  # tmpfs of a private mount namespace.
  ROOTFS=$ROOT setsid unshare --mount --propagation private sh -c '
    mkdir -p /run/systemd/nspawn && mount -t tmpfs tmpfs /run/systemd/nspawn &&
    exec systemd-nspawn -q -D "$ROOTFS" --register=no --keep-unit --private-network "$@"' \
    nspawn "$@" </dev/null >"$log" 2>&1 &
  NSPAWN_PID=$!
  at_exit "kill_child_tree $NSPAWN_PID"
}

# finish_nspawn: wait (bounded) for nspawn to exit; sets RC (124: it did not).
finish_nspawn() {
  if wait_pid_gone "$NSPAWN_PID" "$RUN_TIMEOUT"; then
    RC=0
    wait "$NSPAWN_PID" || RC=$?
  else
    kill_tree "$NSPAWN_PID"
    wait "$NSPAWN_PID" 2>/dev/null
    RC=124
  fi
}

explain() {
  tail -n 6 "$1" | tr -d '\r' | tr '\n' '|' | cut -c1-500
}

# judge NAME LOG WANT-RC: the verdict of one boot.
judge() {
  local name=$1 log=$2 want=$3
  if [ "$RC" -eq 124 ]; then
    fail "$name" "nspawn still running after ${RUN_TIMEOUT}s: $(explain "$log")"
  elif [ "$RC" -ne "$want" ]; then
    fail "$name" "nspawn exited $RC, want $want: $(explain "$log")"
  elif [ ! -e "$ROOT/var/log/service-stopped" ]; then
    fail "$name" "exited $RC without the orderly stop of the manager's services: $(explain "$log")"
  elif ! grep -q 'stand-in manager: stopped, exiting 0' "$log"; then
    fail "$name" "exited $RC without the manager's orderly exit: $(explain "$log")"
  else
    pass "$name"
  fi
}

# host_signal NAME LOG SIGNAL NSPAWN-ARGS...: boot, wait for ready, signal
# nspawn from the host.
host_signal() {
  local name=$1 log=$2 sig=$3
  shift 3
  start_nspawn "$log" "" "$@"
  if ! wait_for_text "$log" 'stand-in manager ready' "$RUN_TIMEOUT" "$NSPAWN_PID"; then
    finish_nspawn
    fail "$name" "the manager never got ready (nspawn rc $RC): $(explain "$log")"
    return
  fi
  kill -s "$sig" "$NSPAWN_PID"
  finish_nspawn
  judge "$name" "$log" 0
}

# guest_action NAME LOG ACTION WANT-RC: boot; the guest asks for ACTION.
guest_action() {
  local name=$1 log=$2 action=$3 want=$4
  start_nspawn "$log" "$action" /sbin/init
  finish_nspawn
  if ! grep -q 'stand-in manager ready' "$log"; then
    fail "$name" "the manager never got ready (nspawn rc $RC): $(explain "$log")"
    return
  fi
  judge "$name" "$log" "$want"
}

host_signal nspawn-sigterm-b "$TMP/b.log" TERM -b
host_signal nspawn-sigterm-kill-signal "$TMP/ks.log" TERM --kill-signal=SIGRTMIN+4 /sbin/init
guest_action nspawn-guest-poweroff "$TMP/poweroff.log" poweroff 0
guest_action nspawn-guest-reboot-signal "$TMP/reboot.log" signal-39 133
guest_action nspawn-initctl-reboot "$TMP/initctl.log" initctl-6 133

if grep -q 'svctest: /run/systemd/container=systemd-nspawn' "$TMP/poweroff.log"; then
  pass nspawn-container-file
else
  fail nspawn-container-file "/run/systemd/container does not say systemd-nspawn: $(grep -a 'svctest: /run/systemd/container' "$TMP/poweroff.log" || echo 'file missing')"
fi

[ -n "${SVC_KEEP_LOGS:-}" ] && cp "$TMP"/*.log "$SVC_KEEP_LOGS"/ 2>/dev/null
summary
