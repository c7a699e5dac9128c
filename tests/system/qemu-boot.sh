#!/usr/bin/env bash
# Full-system boots of svc-init as PID 1 under qemu (software emulation):
# a Debian cloud kernel (see install-deps.sh) and an initramfs holding
# busybox-static, the static svc-init as /sbin/init, svc-manager and
# svc-supervise beside it, svcctl, and the services directory of
# make_rootfs (lib.sh): the shipped targets and busybox services plus the
# svctest service (says "svctest service: stopped on SIGTERM" on the
# console when its supervisor stops it) and the svctest-hook service
# (waits for the target, prints `svcctl status`, then does what
# `svctest.after-ready=ACTION` on the kernel command line asks).
#
# Checks, each read off the serial console log:
#   qemu-boot-default           svc-init starts svc-manager, which reaches the
#                               default target: `svcctl status` in the guest
#                               shows syslogd, crond and svctest ready; and
#                               svc-init brought the loopback interface up
#   qemu-poweroff               `svcctl poweroff` in the guest (SIGUSR2 to
#                               PID 1) once the target is reached: the
#                               manager stops the services (svctest's stop
#                               line) and exits 0, then "reboot: Power down"
#   qemu-ctrl-alt-del-reboot    `sendkey ctrl-alt-delete` on the qemu monitor:
#                               orderly stop, then "reboot: Restarting system"
#   qemu-missing-manager        no manager in the image: svc-init's emergency
#                               message on the console, no kernel panic, a
#                               shell that runs a typed command, and leaving
#                               it makes svc-init try the manager again
#   qemu-cmdline-manager-target the same image (its svc-manager moved to
#                               /opt/alt/manager, so it finds svc-supervise on
#                               PATH) booted with `svc.manager=/opt/alt/manager
#                               svc.target=rescue`: that manager reaches the
#                               rescue target (no crond), and poweroff is
#                               orderly
# and prints the boot-to-ready time: kernel "Run /sbin/init" to the hook's
# "target default ready" line (guest uptime; the hook polls `svcctl status
# default` every 0.1 s, so this is an upper bound). SVC_QEMU_BENCH_ONLY=N
# only boots N times and prints those times (for tools/bench-qemu.sh).
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

KERNEL=${SVC_TEST_KERNEL:-$SVC_TEST_CACHE/kernel/vmlinuz}
BOOT_TIMEOUT=${SVC_QEMU_TIMEOUT:-60}
# pr_info is needed for "Run /sbin/init as init process" and its timestamp.
APPEND_BASE="console=ttyS0 panic=-1 printk.time=1 loglevel=7 rdinit=/sbin/init"
# What svc-init prints when the manager cannot run (svc-init/src/init.rs,
# tend_manager): "svc-init: PATH cannot run: starting an emergency shell on
# the console; leave it to try again".
EMERGENCY_RE=${SVC_EMERGENCY_RE:-'svc-init: .* cannot run: starting an emergency shell'}

ALL_CHECKS=(qemu-boot-default qemu-poweroff qemu-ctrl-alt-del-reboot qemu-missing-manager
  qemu-cmdline-manager-target)

missing=$(missing_cmds qemu-system-x86_64 busybox cpio gzip socat readelf timeout)
[ -z "$missing" ] || fail_all "missing commands: $missing (run tests/system/install-deps.sh)"
[ "$(id -u)" -eq 0 ] || fail_all "needs root (mknod /dev/console for the initramfs)"
[ -r "$KERNEL" ] || fail_all "no kernel at $KERNEL (run tests/system/install-deps.sh)"
is_static "$(command -v busybox)" || fail_all "busybox is not static (install busybox-static)"
build_svc_programs || fail_all "the svc programs do not build (static, $RUST_TARGET): $BUILD_ERROR"
not_static=$(not_static_programs)
[ -z "$not_static" ] || fail_all "not statically linked: $not_static"

make_tmp

# make_initramfs OUT [no-manager]
make_initramfs() {
  local out=$1 variant=${2:-} root
  root=$(mktemp -d "$TMP/root.XXXXXX")
  make_rootfs "$root" || return 1
  # The kernel opens /dev/console for init's stdio before anything mounts
  # devtmpfs; without the node PID 1 has no console.
  mknod -m 600 "$root/dev/console" c 5 1
  mknod -m 666 "$root/dev/null" c 1 3
  if [ "$variant" = no-manager ]; then
    # Only where svc.manager= on the kernel command line points.
    mkdir -p "$root/opt/alt"
    mv "$root/sbin/svc-manager" "$root/opt/alt/manager"
  fi
  (cd "$root" && find . -print0 | cpio -o -0 -H newc -R 0:0 --quiet) | gzip -1 >"$out"
  rm -rf "$root"
}

QEMU_PID=""
# start_qemu SERIAL-ARGS LOG INITRD APPEND [extra qemu args...]: boots in the
# background; SERIAL-ARGS is "file" (serial console to LOG) or "socket:PATH"
# (a unix socket the test can type into, with the output also logged to LOG).
start_qemu() {
  local serial=$1 log=$2 initrd=$3 append=$4
  shift 4
  local serial_args=(-serial "file:$log")
  if [ "${serial#socket:}" != "$serial" ]; then
    serial_args=(-chardev "socket,id=con,path=${serial#socket:},server=on,wait=off,logfile=$log"
      -serial chardev:con)
  fi
  : >"$log"
  timeout -k 5 "$BOOT_TIMEOUT" qemu-system-x86_64 -accel tcg -m 256 -nic none \
    -display none -no-reboot "${serial_args[@]}" -kernel "$KERNEL" \
    -initrd "$initrd" -append "$append" "$@" </dev/null >"$log.qemu" 2>&1 &
  QEMU_PID=$!
  at_exit "kill_child_tree $QEMU_PID"
}

# wait_qemu: wait for the background qemu; returns its status (124: timeout).
wait_qemu() {
  local rc=0
  wait "$QEMU_PID" || rc=$?
  return "$rc"
}

# stop_qemu: end a qemu the test no longer needs (timeout passes SIGTERM on).
stop_qemu() {
  kill -TERM "$QEMU_PID" 2>/dev/null
  wait_pid_gone "$QEMU_PID" 10 || kill_tree "$QEMU_PID"
  wait_qemu
}

# explain LOG: what went wrong, on one line, for a FAIL reason: a crash of
# PID 1 if there was one, else svc-init's last lines, else the log's tail.
explain() {
  local crash
  crash=$(grep -E 'init\[1\]: segfault|svc-init\[[0-9]+\]: segfault|Kernel panic|Attempted to kill init' "$1" 2>/dev/null | head -n 3)
  if [ -n "$crash" ]; then
    echo "$crash"
  elif grep -q 'svc-init:' "$1" 2>/dev/null; then
    grep -a -E 'svc-init:|svc-manager|svctest|reached|Starting|Stopping|ERROR|WARN' "$1" |
      grep -v 'svctest status:' | tail -n 8
  else
    tail -n 6 "$1" 2>/dev/null
  fi | tr -d '\r' | tr '\n' '|' | cut -c1-500
}

boot_to_ready() {
  awk '
    /Run \/sbin\/init as init process/ {
      if (match($0, /\[ *[0-9]+\.[0-9]+\]/)) run = substr($0, RSTART + 1, RLENGTH - 2) + 0
    }
    /svctest: target default ready uptime=/ {
      for (i = 1; i <= NF; i++) if ($i ~ /^uptime=/) { sub(/uptime=/, "", $i); ready = $i + 0 }
    }
    END { if (run > 0 && ready > 0) printf "%.2f", ready - run }' "$1"
}

INITRD=$TMP/initrd.gz
INITRD_NOMGR=$TMP/initrd-no-manager.gz
make_initramfs "$INITRD" || fail_all "could not make the initramfs"

# SVC_QEMU_BENCH_ONLY=N (tools/bench-qemu.sh, make bench): no checks, only N
# boots of the image to the default target, each powered off by the hook,
# one line per boot: "# qemu-bench: boot N ready S wall W" (S as printed
# above; W: qemu start to exit, seconds), or "# qemu-bench: boot N failed:
# REASON".
if [ -n "${SVC_QEMU_BENCH_ONLY:-}" ]; then
  for ((i = 1; i <= SVC_QEMU_BENCH_ONLY; i++)); do
    log=$TMP/bench-$i.log
    start=$(date +%s.%N)
    start_qemu file "$log" "$INITRD" "$APPEND_BASE svctest.after-ready=poweroff" -monitor none
    wait_qemu
    rc=$?
    wall=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.2f", e - s }')
    t=$(boot_to_ready "$log")
    if [ -n "$t" ] && grep -q 'reboot: Power down' "$log"; then
      echo "# qemu-bench: boot $i ready $t wall $wall"
    else
      echo "# qemu-bench: boot $i failed: (qemu rc $rc) $(explain "$log")"
    fi
  done
  exit 0
fi
make_initramfs "$INITRD_NOMGR" no-manager || fail_all "could not make the initramfs"

# (a) boot to the default target, `svcctl poweroff` from the hook.
LOG_A=$TMP/poweroff.log
start=$(date +%s.%N)
start_qemu file "$LOG_A" "$INITRD" "$APPEND_BASE svctest.after-ready=poweroff" -monitor none
wait_qemu
rc_a=$?
wall=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')
not_running=$(services_not_running "$LOG_A" syslogd crond svctest)
if ! grep -a -q 'svctest: target default ready' "$LOG_A"; then
  fail qemu-boot-default "the default target was never reached (no hook line; qemu rc $rc_a): $(explain "$LOG_A")"
elif [ -n "$not_running" ]; then
  fail qemu-boot-default "not ready with a pid in the guest's svcctl status: $not_running: $(grep -a '^svctest status:' "$LOG_A" | tr -d '\r' | tr '\n' '|')"
elif ! lo_flags=$(grep -a -o 'svctest: lo flags=0x[0-9a-f]*' "$LOG_A" | head -1 | sed 's/.*=//') ||
  [ -z "$lo_flags" ] || [ $((lo_flags & 1)) -eq 0 ]; then
  fail qemu-boot-default "the loopback interface is not up in the guest (flags ${lo_flags:-not printed}): svc-init brings it up on a host"
else
  pass qemu-boot-default
  t=$(boot_to_ready "$LOG_A")
  echo "# qemu: boot-to-ready ${t:-?} s (kernel 'Run /sbin/init' to the default target reached, guest clock); whole boot+poweroff ${wall} s wall"
fi
if [ "$rc_a" -eq 124 ] || [ "$rc_a" -eq 137 ]; then
  fail qemu-poweroff "qemu still running after ${BOOT_TIMEOUT}s: $(explain "$LOG_A")"
elif ! grep -q 'reboot: Power down' "$LOG_A"; then
  fail qemu-poweroff "no 'reboot: Power down' (qemu rc $rc_a): $(explain "$LOG_A")"
elif ! grep -a -q "$SERVICE_STOPPED_LINE" "$LOG_A"; then
  fail qemu-poweroff "powered off without the orderly stop of the manager's services: $(explain "$LOG_A")"
elif [ -n "$(services_not_stopped "$LOG_A" syslogd crond svctest)" ]; then
  fail qemu-poweroff "the manager did not report the stop of: $(services_not_stopped "$LOG_A" syslogd crond svctest): $(explain "$LOG_A")"
elif ! grep -a -Eq "$MANAGER_ORDERLY_RE" "$LOG_A"; then
  fail qemu-poweroff "powered off without the manager's orderly exit: $(explain "$LOG_A")"
else
  pass qemu-poweroff
fi

# (b) Ctrl-Alt-Del through the qemu monitor reboots.
LOG_B=$TMP/cad.log
MON=$TMP/mon.sock
start_qemu file "$LOG_B" "$INITRD" "$APPEND_BASE" -monitor "unix:$MON,server=on,wait=off"
if wait_for_text "$LOG_B" "$HOOK_READY_RE" "$BOOT_TIMEOUT" "$QEMU_PID"; then
  # The target is reached (svctest's trap is set), so svc-init has long
  # disabled the kernel's own Ctrl-Alt-Del reboot.
  printf 'sendkey ctrl-alt-delete\n' | socat -t 2 - "UNIX-CONNECT:$MON" >/dev/null 2>&1
  wait_qemu
  rc_b=$?
  if [ "$rc_b" -eq 124 ] || [ "$rc_b" -eq 137 ]; then
    fail qemu-ctrl-alt-del-reboot "qemu still running after ${BOOT_TIMEOUT}s: $(explain "$LOG_B")"
  elif ! grep -q 'reboot: Restarting system' "$LOG_B"; then
    fail qemu-ctrl-alt-del-reboot "no 'reboot: Restarting system' (qemu rc $rc_b): $(explain "$LOG_B")"
  elif ! grep -a -q "$SERVICE_STOPPED_LINE" "$LOG_B"; then
    fail qemu-ctrl-alt-del-reboot "rebooted without the orderly stop (kernel Ctrl-Alt-Del not disabled?): $(explain "$LOG_B")"
  elif ! grep -a -Eq "$MANAGER_ORDERLY_RE" "$LOG_B"; then
    fail qemu-ctrl-alt-del-reboot "rebooted without the manager's orderly exit: $(explain "$LOG_B")"
  else
    pass qemu-ctrl-alt-del-reboot
  fi
else
  stop_qemu
  fail qemu-ctrl-alt-del-reboot "the default target was never reached: $(explain "$LOG_B")"
fi

# (c) Missing manager: the emergency message, no panic, and a shell that
# answers on the console; leaving it makes svc-init try the manager again.
LOG_C=$TMP/no-manager.log
CON=$TMP/console.sock
start_qemu "socket:$CON" "$LOG_C" "$INITRD_NOMGR" "$APPEND_BASE" -monitor none
if wait_for_text "$LOG_C" "$EMERGENCY_RE" "$BOOT_TIMEOUT" "$QEMU_PID"; then
  sleep 1
  # The typed line echoes as "shell-$((6*7))-works"; only a shell prints 42.
  # shellcheck disable=SC2016 # for the guest's shell to expand
  printf 'echo shell-$((6*7))-works\n' | socat -t 1 - "UNIX-CONNECT:$CON" >/dev/null 2>&1
  wait_for_text "$LOG_C" 'shell-42-works' 15 "$QEMU_PID"
  shell_ok=$?
  printf 'exit\n' | socat -t 1 - "UNIX-CONNECT:$CON" >/dev/null 2>&1
  wait_for_text "$LOG_C" 'emergency shell ended' 15 "$QEMU_PID"
  retry_ok=$?
  stop_qemu
  if grep -q 'Attempted to kill init' "$LOG_C"; then
    fail qemu-missing-manager "PID 1 died (kernel panic): $(explain "$LOG_C")"
  elif [ "$shell_ok" -ne 0 ]; then
    fail qemu-missing-manager "emergency message shown, but no shell answered on the console: $(explain "$LOG_C")"
  elif [ "$retry_ok" -ne 0 ]; then
    fail qemu-missing-manager "leaving the emergency shell did not make svc-init try the manager again: $(explain "$LOG_C")"
  else
    pass qemu-missing-manager
    echo "# qemu: emergency message: $(grep -E "$EMERGENCY_RE" "$LOG_C" | head -n1 | tr -d '\r')"
  fi
else
  stop_qemu
  fail qemu-missing-manager "no line matching /$EMERGENCY_RE/: $(explain "$LOG_C")"
fi

# (d) The kernel command line names the manager and the target.
LOG_D=$TMP/cmdline.log
start_qemu file "$LOG_D" "$INITRD_NOMGR" \
  "$APPEND_BASE svc.manager=/opt/alt/manager svc.target=rescue svctest.after-ready=poweroff" -monitor none
wait_qemu
rc_d=$?
if ! grep -a -q 'svc-init: started /opt/alt/manager' "$LOG_D"; then
  fail qemu-cmdline-manager-target "svc.manager=/opt/alt/manager did not start that manager (qemu rc $rc_d): $(explain "$LOG_D")"
elif ! grep -a -q 'svc-manager .*(target rescue)' "$LOG_D"; then
  fail qemu-cmdline-manager-target "svc.target=rescue did not reach the manager as --target rescue: $(grep -a 'svc-manager .* on ' "$LOG_D" | tr -d '\r')"
elif ! grep -a -q 'svctest: target rescue ready' "$LOG_D"; then
  fail qemu-cmdline-manager-target "the rescue target was never reached (qemu rc $rc_d): $(explain "$LOG_D")"
elif grep -a -q 'Starting crond' "$LOG_D"; then
  fail qemu-cmdline-manager-target "crond started although only the rescue target was asked for: $(explain "$LOG_D")"
elif ! grep -a -q 'reboot: Power down' "$LOG_D"; then
  fail qemu-cmdline-manager-target "no 'reboot: Power down' (qemu rc $rc_d): $(explain "$LOG_D")"
elif ! grep -a -q "$SERVICE_STOPPED_LINE" "$LOG_D" || ! grep -a -Eq "$MANAGER_ORDERLY_RE" "$LOG_D"; then
  fail qemu-cmdline-manager-target "powered off without the orderly stop: $(explain "$LOG_D")"
else
  pass qemu-cmdline-manager-target
fi

[ -n "${SVC_KEEP_LOGS:-}" ] && cp "$LOG_A" "$LOG_B" "$LOG_C" "$LOG_D" "$SVC_KEEP_LOGS"/ 2>/dev/null
summary
