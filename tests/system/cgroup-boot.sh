#!/usr/bin/env bash
# svc under cgroup v2, booted in qemu (the Debian cloud kernel of
# qemu-boot.sh has cgroup2, cgroup.kill and memory.peak): a RAM boot with
# svc-init as PID 1 (it mounts cgroup2 on /sys/fs/cgroup), whose default
# target also starts cgtest-run (lib.sh's install_cgtest), which runs every
# guest scenario tests/system/cgroup/*.sh in the guest, one after the
# other, and then powers the machine off. Each scenario is a shell script
# (sourcing tests/system/cgroup/guest-lib) that exits 0 on success and
# otherwise prints why; it may declare services of its own (guest-lib's
# declare_service writes /run/svc/services.d and rescans).
#
# Checks, read off the serial console:
#   cgroup-boot-in-use   the manager's start line says cgroups are in use
#                        at /sys/fs/cgroup (with the controllers it found)
#   cgroup-boot-fork-into the manager found the guest kernel sound for
#                        forking supervisors and services straight into
#                        their cgroups (Debian's 6.1 is; 6.18 is not)
#   cgroup-NAME          one per scenario NAME.sh: "cgtest: PASS NAME"
#   cgroup-boot-poweroff the machine powered off in order after the last
#                        scenario
# SVC_CGROUP_ONLY="a b" runs only those scenarios.
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

KERNEL=${SVC_TEST_KERNEL:-$SVC_TEST_CACHE/kernel/vmlinuz}
BOOT_TIMEOUT=${SVC_QEMU_TIMEOUT:-420}
APPEND="console=ttyS0 panic=-1 printk.time=1 loglevel=4 rdinit=/sbin/init"
SCEN_DIR=$SYSTEST_DIR/cgroup

SCENARIOS=()
for f in "$SCEN_DIR"/*.sh; do
  n=$(basename "$f" .sh)
  if [ -n "${SVC_CGROUP_ONLY:-}" ] && ! [[ " $SVC_CGROUP_ONLY " == *" $n "* ]]; then
    continue
  fi
  SCENARIOS+=("$n")
done
ALL_CHECKS=(cgroup-boot-in-use cgroup-boot-fork-into)
for n in "${SCENARIOS[@]}"; do ALL_CHECKS+=("cgroup-$n"); done
ALL_CHECKS+=(cgroup-boot-poweroff)

missing=$(missing_cmds qemu-system-x86_64 busybox cpio gzip readelf timeout)
[ -z "$missing" ] || fail_all "missing commands: $missing (run tests/system/install-deps.sh)"
[ "$(id -u)" -eq 0 ] || fail_all "needs root (mknod /dev/console for the initramfs)"
[ -r "$KERNEL" ] || fail_all "no kernel at $KERNEL (run tests/system/install-deps.sh)"
is_static "$(command -v busybox)" || fail_all "busybox is not static (install busybox-static)"
build_svc_programs || fail_all "the svc programs do not build (static, $RUST_TARGET): $BUILD_ERROR"
not_static=$(not_static_programs)
[ -z "$not_static" ] || fail_all "not statically linked: $not_static"

make_tmp

make_initramfs() {
  local out=$1 root n
  root=$(mktemp -d "$TMP/root.XXXXXX")
  make_rootfs "$root" || return 1
  mknod -m 600 "$root/dev/console" c 5 1
  mknod -m 666 "$root/dev/null" c 1 3
  install_cgtest "$root" "${SCENARIOS[@]}" || return 1
  # The hook has nothing to do here; cgtest-run powers off.
  rm -f "$root/etc/svc/enabled/default/svctest-hook"
  (cd "$root" && find . -print0 | cpio -o -0 -H newc -R 0:0 --quiet) | gzip -1 >"$out"
  rm -rf "$root"
}

INITRD=$TMP/initrd.gz
make_initramfs "$INITRD" || fail_all "could not make the initramfs"

LOG=$TMP/cgroup.log
: >"$LOG"
timeout -k 5 "$BOOT_TIMEOUT" qemu-system-x86_64 -accel tcg -m 512 -nic none -display none \
  -no-reboot -serial "file:$LOG" -monitor none -kernel "$KERNEL" -initrd "$INITRD" \
  -append "$APPEND" </dev/null >"$LOG.qemu" 2>&1 &
QEMU_PID=$!
at_exit "kill_child_tree $QEMU_PID"
rc=0
wait "$QEMU_PID" || rc=$?

# The log without its carriage returns, once: grep reads the file itself
# (`tr | grep -q` under pipefail failed when grep quit early and tr died of
# SIGPIPE, and a scenario that passed read as "no result").
CLEAN=$LOG.clean
tr -d '\r' <"$LOG" >"$CLEAN"
grep_log() { grep "$@" "$CLEAN"; }
tail_of() { grep_log -a -E "${1:-.}" | tail -n "${2:-8}" | tr '\n' '|' | cut -c1-600; }

line=$(grep_log -a -m1 -E 'INFO cgroups (not )?in use' || true)
if grep_log -a -q -E 'cgroups in use at /sys/fs/cgroup'; then
  pass cgroup-boot-in-use
  echo "# cgroup-boot: $line"
else
  fail cgroup-boot-in-use "no 'cgroups in use at /sys/fs/cgroup' line from the manager: ${line:-$(tail_of 'svc-init|svc-manager|cgroup' 6)}"
fi
line=$(grep_log -a -m1 -E 'INFO supervisors and services are forked' || true)
if grep_log -a -q -E 'INFO supervisors and services are forked straight into their cgroups *$'; then
  pass cgroup-boot-fork-into
else
  fail cgroup-boot-fork-into "the manager does not fork straight into cgroups without condition: ${line:-no line about it}"
fi
cgtest_verdicts cgroup "$CLEAN" "qemu rc $rc" "${SCENARIOS[@]}"
if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
  fail cgroup-boot-poweroff "qemu still running after ${BOOT_TIMEOUT}s: $(tail_of . 6)"
elif ! grep_log -a -q 'cgtest: done'; then
  fail cgroup-boot-poweroff "the scenarios did not finish (qemu rc $rc): $(tail_of . 6)"
elif ! grep_log -a -q 'reboot: Power down' || ! grep_log -a -Eq "$MANAGER_ORDERLY_RE"; then
  fail cgroup-boot-poweroff "no orderly power-off (qemu rc $rc): $(tail_of . 6)"
else
  pass cgroup-boot-poweroff
fi
[ -n "${SVC_KEEP_LOGS:-}" ] && cp "$LOG" "$SVC_KEEP_LOGS"/cgroup-boot.log 2>/dev/null
summary
