#!/usr/bin/env bash
# svc-init as PID 1 of a systemd-nspawn machine, with the real svc-manager,
# svc-supervise and svcctl: a minimal busybox tree with /usr,
# /etc/os-release, the static programs and the services directory of
# make_rootfs (lib.sh). nspawn runs in a private mount namespace with a
# tmpfs on /run/systemd/nspawn (no systemd as the host's PID 1 here), with
# --register=no --keep-unit --private-network.
#
# Checks (nspawn's exit status: 0 after poweroff/halt, 133 after reboot):
#   nspawn-boot-default         the manager reaches the default target:
#                               `svcctl status` in the guest shows syslogd,
#                               crond and svctest ready with a pid
#   nspawn-sigterm-b            -b: SIGTERM to nspawn gives PID 1 signal 37
#                               (halt): orderly stop, exit 0
#   nspawn-sigterm-kill-signal  --kill-signal=SIGRTMIN+4: SIGTERM to nspawn
#                               gives PID 1 signal 38 (poweroff): orderly, 0
#   nspawn-guest-poweroff       `svcctl poweroff` in the guest: orderly, 0
#   nspawn-guest-reboot-signal  signal 39 (SIGRTMIN+5) to PID 1: orderly, 133
#   nspawn-guest-reboot         `svcctl reboot` in the guest (SIGTERM, which
#                               under nspawn means reboot, as busybox's
#                               `reboot`): orderly, 133
#   nspawn-initctl-reboot       a `telinit 6` record on /run/initctl: 133
#   nspawn-container-file       svc-init wrote $container ("systemd-nspawn")
#                               to /run/systemd/container
#   nspawn-manager-restart-adopts
#                               SIGKILL to svc-manager in the guest: svc-init
#                               starts it again, the new one adopts the
#                               running supervisors (svctest keeps its pid)
#                               and `svcctl poweroff` is still orderly, 0
# "Orderly" means the svctest service, run by its svc-supervise, wrote its
# on-SIGTERM marker into the tree, the manager reported syslogd, crond and
# svctest stopped, and it exited 0 (svc-init's line) before the machine
# went down.
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

RUN_TIMEOUT=${SVC_NSPAWN_TIMEOUT:-30}
ALL_CHECKS=(nspawn-boot-default nspawn-sigterm-b nspawn-sigterm-kill-signal nspawn-guest-poweroff
  nspawn-guest-reboot-signal nspawn-guest-reboot nspawn-initctl-reboot nspawn-container-file
  nspawn-manager-restart-adopts)

missing=$(missing_cmds systemd-nspawn unshare busybox readelf)
[ -z "$missing" ] || fail_all "missing commands: $missing (run tests/system/install-deps.sh)"
[ "$(id -u)" -eq 0 ] || fail_all "systemd-nspawn needs root"
is_static "$(command -v busybox)" || fail_all "busybox is not static (install busybox-static)"
build_svc_programs || fail_all "the svc programs do not build (static, $RUST_TARGET): $BUILD_ERROR"
not_static=$(not_static_programs)
[ -z "$not_static" ] || fail_all "not static executables: $not_static"

make_tmp
ROOT=$TMP/rootfs
make_rootfs "$ROOT" || fail_all "could not make the tree"

NSPAWN_PID=""
# start_nspawn LOG ACTION NSPAWN-ARGS...: boots the tree in the background;
# ACTION goes to /etc/svctest/action for the hook (empty: none).
start_nspawn() {
  local log=$1 action=$2
  shift 2
  rm -f "$ROOT/var/log/service-stopped" "$ROOT/etc/svctest/action"
  [ -n "$action" ] && echo "$action" >"$ROOT/etc/svctest/action"
  nspawn_start "$ROOT" "$log" "$@"
}

finish_nspawn() { nspawn_finish "$RUN_TIMEOUT"; }

explain() {
  grep -a -v -E '^svctest status:' "$1" | tail -n 8 | tr -d '\r' | tr '\n' '|' | cut -c1-700
}

# judge NAME LOG WANT-RC: the verdict of one boot.
judge() {
  local name=$1 log=$2 want=$3
  if [ "$RC" -eq 124 ]; then
    fail "$name" "nspawn still running after ${RUN_TIMEOUT}s: $(explain "$log")"
  elif [ "$RC" -ne "$want" ]; then
    fail "$name" "nspawn exited $RC, want $want: $(explain "$log")"
  elif [ ! -e "$ROOT/var/log/service-stopped" ]; then
    fail "$name" "exited $RC without the orderly stop of the svctest service (no marker): $(explain "$log")"
  elif [ -n "$(services_not_stopped "$log" syslogd crond svctest)" ]; then
    fail "$name" "the manager did not report the stop of: $(services_not_stopped "$log" syslogd crond svctest): $(explain "$log")"
  elif ! grep -a -Eq "$MANAGER_ORDERLY_RE" "$log"; then
    fail "$name" "exited $RC without the manager's orderly exit: $(explain "$log")"
  else
    pass "$name"
  fi
}

# host_signal NAME LOG SIGNAL NSPAWN-ARGS...: boot, wait for the default
# target, signal nspawn from the host.
host_signal() {
  local name=$1 log=$2 sig=$3
  shift 3
  start_nspawn "$log" "" "$@"
  if ! wait_for_text "$log" "$HOOK_READY_RE" "$RUN_TIMEOUT" "$NSPAWN_PID"; then
    finish_nspawn
    fail "$name" "the default target was never reached (nspawn rc $RC): $(explain "$log")"
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
  if ! grep -a -Eq "$HOOK_READY_RE" "$log"; then
    fail "$name" "the default target was never reached (nspawn rc $RC): $(explain "$log")"
    return
  fi
  judge "$name" "$log" "$want"
}

host_signal nspawn-sigterm-b "$TMP/b.log" TERM -b
host_signal nspawn-sigterm-kill-signal "$TMP/ks.log" TERM --kill-signal=SIGRTMIN+4 /sbin/init
guest_action nspawn-guest-poweroff "$TMP/poweroff.log" poweroff 0
guest_action nspawn-guest-reboot-signal "$TMP/reboot.log" signal-39 133
guest_action nspawn-guest-reboot "$TMP/svcctl-reboot.log" reboot 133
guest_action nspawn-initctl-reboot "$TMP/initctl.log" initctl-6 133

not_running=$(services_not_running "$TMP/poweroff.log" syslogd crond svctest)
if ! grep -a -Eq "$HOOK_READY_RE" "$TMP/poweroff.log"; then
  fail nspawn-boot-default "the default target was never reached: $(explain "$TMP/poweroff.log")"
elif [ -n "$not_running" ]; then
  fail nspawn-boot-default "not ready with a pid in the guest's svcctl status: $not_running: $(grep -a '^svctest status:' "$TMP/poweroff.log" | tr -d '\r' | tr '\n' '|')"
else
  pass nspawn-boot-default
fi

if grep -a -q 'svctest: /run/systemd/container=systemd-nspawn' "$TMP/poweroff.log"; then
  pass nspawn-container-file
else
  fail nspawn-container-file "/run/systemd/container does not say systemd-nspawn: $(grep -a 'svctest: /run/systemd/container' "$TMP/poweroff.log" || echo 'file missing')"
fi

# The hook's line: "svctest: manager OLD killed, new manager NEW; svctest
# pid BEFORE before, AFTER after".
log=$TMP/adopt.log
start_nspawn "$log" kill-manager /sbin/init
finish_nspawn
adopt=$(grep -a -m1 'svctest: manager .* killed' "$log" | tr -d '\r')
if ! grep -a -Eq "$HOOK_READY_RE" "$log"; then
  fail nspawn-manager-restart-adopts "the default target was never reached (nspawn rc $RC): $(explain "$log")"
elif [ -z "$adopt" ]; then
  fail nspawn-manager-restart-adopts "no report from the hook after killing the manager (nspawn rc $RC): $(explain "$log")"
elif ! echo "$adopt" | awk '{ exit !($3 ~ /^[0-9]+$/ && $7 ~ /^[0-9]+;$/ && $3";" != $7 &&
    $10 ~ /^[0-9]+$/ && $10 == $12) }'; then
  fail nspawn-manager-restart-adopts "the manager was not restarted with svctest adopted as it was: $adopt"
else
  judge nspawn-manager-restart-adopts "$log" 0
fi

[ -n "${SVC_KEEP_LOGS:-}" ] && cp "$TMP"/*.log "$SVC_KEEP_LOGS"/ 2>/dev/null
summary
