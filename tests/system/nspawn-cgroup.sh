#!/usr/bin/env bash
# svc under cgroup v2 in a systemd-nspawn machine: svc-init as PID 1 of
# nspawn.sh's busybox tree, with SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1 so that
# nspawn gives the machine a cgroup2 /sys/fs/cgroup of its own (its cgroup
# namespace; on this cgroup v1 hybrid host without any controllers). The
# default target also starts cgtest-run (lib.sh's install_cgtest, as in
# cgroup-boot.sh), which runs the guest scenarios of tests/system/cgroup/
# that need no controller, then powers the machine off.
#
# Checks, read off the machine's console:
#   nspawn-cgroup-in-use    the manager's start line says cgroups are in use
#                           at /sys/fs/cgroup/svc
#   nspawn-cgroup-status    the guest's `svcctl status` (svctest-hook) shows
#                           syslogd, crond and svctest ready with a pid
#   nspawn-cgroup-NAME      one per scenario NAME.sh: "cgtest: PASS NAME"
#   nspawn-cgroup-poweroff  every scenario ran, then an orderly power-off:
#                           the manager exited 0 and so did nspawn
# When nspawn cannot give the machine cgroup2 the manager says "cgroups not
# in use", cgtest-run runs no scenario and says so, and the machine powers
# off: every check but nspawn-cgroup-status fails with that reason.
# SVC_NSPAWN_UNIFIED (default 1) is passed as SYSTEMD_NSPAWN_UNIFIED_HIERARCHY
# (0 shows that failure); SVC_NSPAWN_CGROUP_TIMEOUT bounds the boot (120 s).
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

RUN_TIMEOUT=${SVC_NSPAWN_CGROUP_TIMEOUT:-120}
# The scenarios that need no controller (the others set limits or read
# usage, which this host's cgroup2 cannot give a machine).
SCENARIOS=(escape killed-supervisor foreign-mainpid no-cgroup2 not-delegated)
ALL_CHECKS=(nspawn-cgroup-in-use nspawn-cgroup-status)
for n in "${SCENARIOS[@]}"; do ALL_CHECKS+=("nspawn-cgroup-$n"); done
ALL_CHECKS+=(nspawn-cgroup-poweroff)

missing=$(missing_cmds systemd-nspawn unshare busybox readelf)
[ -z "$missing" ] || fail_all "missing commands: $missing (run tests/system/install-deps.sh)"
[ "$(id -u)" -eq 0 ] || fail_all "systemd-nspawn needs root"
is_static "$(command -v busybox)" || fail_all "busybox is not static (install busybox-static)"
build_svc_programs || fail_all "the svc programs do not build (static, $RUST_TARGET): $BUILD_ERROR"
not_static=$(not_static_programs)
[ -z "$not_static" ] || fail_all "not static executables: $not_static"

make_tmp
ROOT=$TMP/rootfs
{ make_rootfs "$ROOT" && install_cgtest "$ROOT" "${SCENARIOS[@]}"; } || fail_all "could not make the tree"

LOG=$TMP/nspawn-cgroup.log
# Exported to nspawn alone: the variable is read by nspawn (systemd 252),
# which then mounts cgroup2 in the machine even on a hybrid host.
SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=${SVC_NSPAWN_UNIFIED:-1} nspawn_start "$ROOT" "$LOG" /sbin/init
nspawn_finish "$RUN_TIMEOUT"

CLEAN=$LOG.clean
tr -d '\r' <"$LOG" >"$CLEAN"
explain() { grep -a -v -E '^svctest status:' "$CLEAN" | tail -n 8 | tr '\n' '|' | cut -c1-700; }

line=$(grep -a -m1 -o -E 'cgroups (not )?in use.*' "$CLEAN" || true)
if grep -a -q -E 'cgroups in use at /sys/fs/cgroup/svc' "$CLEAN"; then
  pass nspawn-cgroup-in-use
  echo "# nspawn-cgroup: $line"
else
  fail nspawn-cgroup-in-use "no 'cgroups in use at /sys/fs/cgroup/svc' line from the manager (nspawn rc $RC): ${line:-$(explain)}"
fi

not_running=$(services_not_running "$CLEAN" syslogd crond svctest)
if ! grep -a -Eq "$HOOK_READY_RE" "$CLEAN"; then
  fail nspawn-cgroup-status "the default target was never reached (nspawn rc $RC): $(explain)"
elif [ -n "$not_running" ]; then
  fail nspawn-cgroup-status "not ready with a pid in the guest's svcctl status: $not_running: $(grep -a '^svctest status:' "$CLEAN" | tr '\n' '|')"
else
  pass nspawn-cgroup-status
fi

cgtest_verdicts nspawn-cgroup "$CLEAN" "nspawn rc $RC" "${SCENARIOS[@]}"

nocg=$(grep -a -m1 -o 'cgtest: no cgroup: .*' "$CLEAN" || true)
if [ "$RC" -eq 124 ]; then
  fail nspawn-cgroup-poweroff "nspawn still running after ${RUN_TIMEOUT}s, killed: $(explain)"
elif [ -n "$nocg" ]; then
  fail nspawn-cgroup-poweroff "no scenario ran: ${nocg#cgtest: }"
elif ! grep -a -q 'cgtest: done' "$CLEAN"; then
  fail nspawn-cgroup-poweroff "the scenarios did not finish (nspawn rc $RC): $(explain)"
elif [ "$RC" -ne 0 ] || ! grep -a -Eq "$MANAGER_ORDERLY_RE" "$CLEAN"; then
  fail nspawn-cgroup-poweroff "no orderly power-off (nspawn rc $RC): $(explain)"
else
  pass nspawn-cgroup-poweroff
fi
[ -n "${SVC_KEEP_LOGS:-}" ] && cp "$LOG" "$SVC_KEEP_LOGS"/nspawn-cgroup.log 2>/dev/null
summary
