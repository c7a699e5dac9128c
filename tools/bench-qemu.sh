#!/usr/bin/env bash
# Boot-to-ready under qemu, for make bench (tools/bench.sh) or alone:
#
#   tools/bench-qemu.sh [BOOTS]        # 3 boots by default; run as root
#
# Boots the system test image (tests/system/qemu-boot.sh in its
# SVC_QEMU_BENCH_ONLY mode: the static svc programs, busybox, the shipped
# declarations) BOOTS times under qemu-system-x86_64 (software emulation),
# each to the default target and powered off by `svcctl poweroff`, and
# prints a Markdown fragment: first a summary line
#   - boot-to-ready: median X s (min A s, max B s) over N boots
# (or "- boot-to-ready: not measured (REASON)"), then the boots one by one.
# Boot-to-ready is the guest's clock from the kernel's "Run /sbin/init" to
# the hook service's "target default ready" line (it polls `svcctl status
# default` every 0.1 s, so the figure is an upper bound by up to 0.1 s).
#
# Needs qemu and the cached kernel (tests/system/install-deps.sh): when
# either is missing and this runs as root, install-deps.sh is run once
# (BENCH_QEMU_INSTALL=0 to skip it); if they are still missing the summary
# says so and the exit status is 0 — a missing emulator is not a failure of
# the benchmark run.
#
# The four programs: SVC_INIT_PREBUILT, SVC_MANAGER_PREBUILT,
# SVC_SUPERVISE_PREBUILT and SVCCTL_PREBUILT when all are given (bench.sh
# passes its static release builds); otherwise qemu-boot.sh builds them
# (static, in CARGO_TARGET_DIR).
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BOOTS=${1:-3}
SVC_TEST_CACHE=${SVC_TEST_CACHE:-/var/cache/svc-tests}
KERNEL=${SVC_TEST_KERNEL:-$SVC_TEST_CACHE/kernel/vmlinuz}
WORK=$(mktemp -d /tmp/svc-bench-qemu.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

case $BOOTS in '' | *[!0-9]* | 0)
  echo "usage: tools/bench-qemu.sh [BOOTS]" >&2
  exit 2
  ;;
esac

not_measured() {
  echo "- boot-to-ready: not measured ($*)"
  exit 0
}

ready_to_boot() {
  command -v qemu-system-x86_64 >/dev/null 2>&1 && [ -r "$KERNEL" ] &&
    command -v busybox >/dev/null 2>&1 && command -v cpio >/dev/null 2>&1
}

[ "$(id -u)" -eq 0 ] || not_measured "needs root: the initramfs holds device nodes"
if ! ready_to_boot && [ "${BENCH_QEMU_INSTALL:-1}" = 1 ]; then
  echo "bench-qemu: qemu or the kernel is missing: running tests/system/install-deps.sh" >&2
  "$ROOT/tests/system/install-deps.sh" >"$WORK/install.log" 2>&1 ||
    tail -5 "$WORK/install.log" >&2
fi
ready_to_boot || not_measured "qemu-system-x86_64, busybox-static or the kernel at $KERNEL is missing; tests/system/install-deps.sh installs them"

SVC_QEMU_BENCH_ONLY=$BOOTS "$ROOT/tests/system/qemu-boot.sh" >"$WORK/boots.txt" 2>"$WORK/boots.err"
if ! grep -q '^# qemu-bench: boot ' "$WORK/boots.txt"; then
  reason=$(grep -m1 '^FAIL' "$WORK/boots.txt" | sed 's/^FAIL [^:]*: //' | cut -c1-200)
  not_measured "${reason:-qemu-boot.sh printed no boot: $(tail -1 "$WORK/boots.err" | cut -c1-200)}"
fi

# "# qemu-bench: boot N ready S wall W" -> "S W"
sed -n 's/^# qemu-bench: boot [0-9]* ready \([0-9.]*\) wall \([0-9.]*\)$/\1 \2/p' \
  "$WORK/boots.txt" >"$WORK/ready.txt"
ok=$(wc -l <"$WORK/ready.txt")
if [ "$ok" -eq 0 ]; then
  echo "- boot-to-ready: not measured (no boot reached the default target)"
else
  sort -n -k1,1 "$WORK/ready.txt" | awk -v n="$BOOTS" '
    { r[NR] = $1 }
    END {
      m = (NR % 2) ? r[(NR + 1) / 2] : (r[NR / 2] + r[NR / 2 + 1]) / 2
      printf "- boot-to-ready: median %.2f s (min %.2f s, max %.2f s) over %d boots", m, r[1], r[NR], NR
      if (NR < n) printf " (%d of %d boots failed)", n - NR, n
      printf "\n"
    }'
fi
echo
echo "| boot | boot-to-ready (guest clock) | qemu start to exit (wall) |"
echo "|---|---|---|"
awk '
  /^# qemu-bench: boot [0-9]+ ready / { printf "| %s | %s s | %s s |\n", $4, $6, $8 }
  /^# qemu-bench: boot [0-9]+ failed: / {
    reason = $0; sub(/^# qemu-bench: boot [0-9]+ failed: /, "", reason); gsub(/\|/, "/", reason)
    printf "| %s | failed: %s | |\n", $4, reason
  }' "$WORK/boots.txt"
